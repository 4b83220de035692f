fn main() {
    eprintln!("swarm: no commands yet");
    std::process::exit(2);
}
