use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    dataflow::cli::run(dataflow::cli::Cli::parse())
}
