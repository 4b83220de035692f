//! The `seedbox` daemon (issue 5). Not built yet.
fn main() {
    eprintln!("seedbox: not implemented yet");
    std::process::exit(2);
}
