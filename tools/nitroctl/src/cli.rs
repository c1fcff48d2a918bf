//! The command line: the options every command takes and the command
//! families, one module each under `cli/` that holds the family's
//! subcommands, runs them and renders what they print.

pub mod audit;
pub mod eni;
pub mod firmware;
pub mod host;
pub mod instance;
pub mod key;
pub mod map;
pub mod metrics;
pub mod sg;
pub mod status;
pub mod version;
pub mod volume;

use crate::{
    device::{self, Controller},
    error::Error,
    output,
};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use std::path::PathBuf;

/// Manage a nitro-rs host through its Nitro Controller.
#[derive(Parser, Debug)]
#[command(name = "nitroctl", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub options: GlobalOptions,
    #[command(subcommand)]
    pub command: Command,
}

/// The options every command takes.
#[derive(Args, Debug)]
pub struct GlobalOptions {
    /// Controller device node (given before the command: `volume attach
    /// --device` is the device name in an instance).
    #[arg(long, value_name = "PATH")]
    pub device: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

impl GlobalOptions {
    /// Opens the controller (`--device`, or the default node).
    pub fn open(&self) -> Result<Controller, Error> {
        Controller::open(&device::device_path(self.device.as_deref()))
    }

    /// `value` as JSON with `--json`, else as `human` renders it.
    pub fn render<T: Serialize>(&self, value: &T, human: impl FnOnce(&T) -> String) -> String {
        if self.json {
            output::json(value)
        } else {
            human(value)
        }
    }
}

/// Commands.
#[derive(Subcommand, Debug, PartialEq)]
pub enum Command {
    /// Show the controller's ABI version and features.
    Version,
    /// Show the cards on the private bus and the boot gate.
    Status,
    /// Manage volumes (EBS and instance storage).
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
    /// Manage elastic network interfaces.
    #[command(subcommand)]
    Eni(eni::EniCommand),
    /// Manage instances: launch, stop and terminate them, see what runs.
    #[command(subcommand)]
    Instance(instance::InstanceCommand),
    /// Manage the VPC card's hosts (emulated Nitro hosts) and their peer keys.
    #[command(subcommand)]
    Host(host::HostCommand),
    /// Program and list a host's mapping table: which peer host holds an
    /// address (one entry, or a file of them in batches).
    #[command(subcommand)]
    Map(map::MapCommand),
    /// Manage security groups: stateful filters of ENIs' traffic, their
    /// rules (`nitroctl eni groups` gives an ENI its groups).
    #[command(subcommand)]
    Sg(sg::SgCommand),
    /// Show per-card, per-volume and per-ENI counters (pulled on demand).
    Metrics(metrics::MetricsArgs),
    /// Show the audit log of control operations.
    Audit,
    /// The security chip: measurements, allowlist, boot gate.
    #[command(subcommand)]
    Firmware(firmware::FirmwareCommand),
    /// The key service: wrap EBS data keys for a card (no controller needed).
    #[command(subcommand)]
    Key(key::KeyCommand),
}

/// Parses `nitroctl ARGS...`, for the tests of every family.
#[cfg(test)]
pub fn parse(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("nitroctl").chain(args.iter().copied()))
        .unwrap_or_else(|error| panic!("{args:?}: {error}"))
}

/// Parses `nitroctl ARGS...`, which must be a usage error (exit code 2):
/// gives clap's message.
#[cfg(test)]
pub fn refused(args: &[&str]) -> String {
    let error =
        Cli::try_parse_from(std::iter::once("nitroctl").chain(args.iter().copied())).unwrap_err();
    assert_eq!(error.exit_code(), 2, "{args:?}");
    error.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn parses_commands_and_globals() {
        let cli = parse(&["status", "--json"]);
        assert_eq!(cli.command, Command::Status);
        assert!(cli.options.json);
        let cli = parse(&["--device", "/tmp/x", "version"]);
        assert_eq!(cli.command, Command::Version);
        assert_eq!(cli.options.device.as_deref(), Some(Path::new("/tmp/x")));
        assert!(!cli.options.json);
    }

    #[test]
    fn rejects_bad_usage() {
        for args in [&[][..], &["frobnicate"], &["status", "--bogus"]] {
            refused(args);
        }
        // The controller's node is an option of nitroctl, before the command.
        assert!(refused(&["status", "--device", "/tmp/x"]).contains("--device"));
    }
}
