//! The `seedbox` daemon (issue 5). Not built yet; see the library crate.
fn main() {
    eprintln!("seedbox: not implemented yet");
    std::process::exit(2);
}
