//! The `podium` binary: parses the command line and hands over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    podium::cli::run(podium::cli::Cli::parse())
}
