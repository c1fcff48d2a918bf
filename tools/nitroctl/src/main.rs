//! nitroctl: the command-line client of the nitro-rs Nitro Controller.
//!
//! Every command is one or a few ioctls on `/dev/nitro_ctrl`. Exit codes: 0
//! success, 1 the controller refused (errno shown), 2 usage error, 3 the
//! controller is unavailable (module not loaded, no device node, not root).

mod abi;
mod device;
mod report;

use clap::{Parser, Subcommand};
use std::{path::PathBuf, process::ExitCode};

/// Manage a nitro-rs host through its Nitro Controller.
#[derive(Parser, Debug)]
#[command(name = "nitroctl", version, about)]
pub struct Cli {
    /// Controller device node.
    #[arg(long, global = true, value_name = "PATH")]
    device: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// Commands.
#[derive(Subcommand, Debug, PartialEq)]
pub enum Command {
    /// Show the controller's ABI version and features.
    Version,
    /// Show the cards on the private bus and the boot gate.
    Status,
}

fn run(cli: &Cli) -> Result<String, device::Error> {
    let ctrl = device::Ctrl::open(&device::device_path(cli.device.clone()))?;
    Ok(match cli.command {
        Command::Version => {
            let v = report::Version::from_abi(&ctrl.version()?);
            if cli.json {
                json(&v)
            } else {
                v.human()
            }
        }
        Command::Status => {
            let (s, cards) = ctrl.status()?;
            let st = report::Status::from_abi(&s, &cards);
            if cli.json {
                json(&st)
            } else {
                st.human()
            }
        }
    })
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).expect("report types serialize") + "\n"
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("nitroctl: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn parses_commands_and_globals() {
        let c = Cli::try_parse_from(["nitroctl", "status", "--json"]).unwrap();
        assert_eq!(c.command, Command::Status);
        assert!(c.json);
        let c = Cli::try_parse_from(["nitroctl", "--device", "/tmp/x", "version"]).unwrap();
        assert_eq!(c.command, Command::Version);
        assert_eq!(c.device.as_deref(), Some(Path::new("/tmp/x")));
        assert!(!c.json);
    }

    #[test]
    fn rejects_bad_usage() {
        for args in [
            &["nitroctl"][..],
            &["nitroctl", "frobnicate"],
            &["nitroctl", "status", "--bogus"],
        ] {
            let e = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn unavailable_messages_say_what_to_do() {
        let nf = std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = device::open_error(Path::new("/dev/nitro_ctrl"), &nf, false);
        assert_eq!(e.exit_code(), 3);
        assert!(e.to_string().contains("modprobe nitro_ctrl"), "{e}");
        let e = device::open_error(Path::new("/dev/nitro_ctrl"), &nf, true);
        assert!(e.to_string().contains("devtmpfs"), "{e}");
        let pd = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let e = device::open_error(Path::new("/dev/nitro_ctrl"), &pd, true);
        assert!(e.to_string().contains("run nitroctl as root"), "{e}");
    }

    #[test]
    fn kernel_errors_carry_hints() {
        let e = device::Error::Kernel {
            what: "NITRO_IOC_STATUS",
            err: std::io::Error::from_raw_os_error(libc::EPERM),
        };
        assert_eq!(e.exit_code(), 1);
        assert!(e.to_string().contains("CAP_SYS_ADMIN"), "{e}");
    }

    #[test]
    fn opening_a_missing_node_is_unavailable() {
        let e = device::Ctrl::open(Path::new("/nonexistent/nitro_ctrl"))
            .err()
            .unwrap();
        assert_eq!(e.exit_code(), 3);
    }
}
