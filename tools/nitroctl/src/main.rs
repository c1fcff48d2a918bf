//! nitroctl: the command-line client of the nitro-rs Nitro Controller.
//!
//! Every command is one or a few ioctls on `/dev/nitro_ctrl`. Exit codes: 0
//! success, 1 the controller refused (errno shown), 2 usage error, 3 the
//! controller is unavailable (module not loaded, no device node, not root).
//!
//! [`cli`] defines the command line, a module per command family under
//! `cli/` (its subcommands, how they run, what they print); the modules here
//! are what several families share. A new family is a new file under `cli/`,
//! its variant in [`cli::Command`] and its line in [`run`].

mod abi;
mod address;
mod cli;
mod device;
mod errno;
mod error;
mod objects;
mod output;
mod secret;
mod text_field;
mod vpc;

use clap::Parser;
use cli::{Cli, Command};
use error::Error;
use std::process::ExitCode;

/// Runs the command: what to print, or why it failed.
fn run(cli: &Cli) -> Result<String, Error> {
    let options = &cli.options;
    match &cli.command {
        Command::Version => cli::version::run(options),
        Command::Status => cli::status::run(options),
        Command::Volume(command) => cli::volume::run(options, command),
        Command::Eni(command) => cli::eni::run(options, command),
        Command::Instance(command) => cli::instance::run(options, command),
        Command::Host(command) => cli::host::run(options, command),
        Command::Map(command) => cli::map::run(options, command),
        Command::Sg(command) => cli::sg::run(options, command),
        Command::Metrics(args) => cli::metrics::run(options, args),
        Command::Audit => cli::audit::run(options),
        Command::Firmware(command) => cli::firmware::run(options, command),
        Command::Key(command) => cli::key::run(command),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(output) => {
            print!("{output}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("nitroctl: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
