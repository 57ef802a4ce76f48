fn main() {
    std::process::exit(bvisor::cli::main());
}
