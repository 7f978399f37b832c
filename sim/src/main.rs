//! The `kafka-sim` binary: see `kafka-sim --help`.

fn main() {
    std::process::exit(kafka_sim::cli::main());
}
