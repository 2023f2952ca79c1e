//! The `podium` binary: parses the command line and hands over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    match podium::cli::Cli::try_parse() {
        Ok(cli) => podium::cli::run(cli),
        // --help and --version are not errors; usage mistakes get their own
        // status (64, EX_USAGE) so they are never mistaken for an invalid
        // schedule (2).
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                std::process::ExitCode::from(podium::cli::EXIT_USAGE)
            } else {
                std::process::ExitCode::SUCCESS
            }
        }
    }
}
