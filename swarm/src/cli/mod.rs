//! Subcommands of the `swarm` binary.

pub mod create;
pub mod get;
pub mod info;
pub mod ls;
pub mod share;
pub mod verify;

/// An error and its causes on one line: "reading x.torrent: bad bencode at byte 12".
pub fn one_line(e: &anyhow::Error) -> String {
    let mut s = String::new();
    for (i, c) in e.chain().enumerate() {
        if i > 0 {
            s.push_str(": ");
        }
        s.push_str(&c.to_string());
    }
    s
}
