//! The command line: `nitro-hv --host N [--jail-base DIR] [--device PATH]`
//! runs the daemon; `nitro-hv jail ...` is one instance's jail, which the
//! daemon starts.

use crate::{abi, controller::DEFAULT_DEVICE};
use clap::{Args, Parser, Subcommand};
use std::{ffi::OsString, path::PathBuf};

/// The hypervisor of one VPC card host.
#[derive(Debug, Parser)]
#[command(
    name = "nitro-hv",
    version,
    about = "The nitro-rs hypervisor: runs the instances of one VPC card host",
    long_about = "The nitro-rs hypervisor: registers with the Nitro Controller \
        (/dev/nitro_ctrl) as the hypervisor of one VPC card host and runs that \
        host's instances as jails (cgroup v2, namespaces, a private root, no \
        privileges), on the controller's commands. Runs in the foreground and \
        logs to stderr; SIGTERM or SIGINT stops every instance and ends it \
        (exit 0). Exit 1: it could not start or lost the controller.",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// The VPC card host (`nitroctl host create`) whose instances to run.
    #[arg(long, value_name = "N", required = true,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(abi::NITRO_HOSTS_MAX)))]
    pub host: Option<u32>,

    /// The image the instances' /usr is bound from (read-only).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub jail_base: PathBuf,

    /// The controller's device node.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_DEVICE)]
    pub device: PathBuf,

    /// Internal subcommands.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Internal: one instance's jail, started by the daemon as PID 1 of a
    /// new PID namespace; becomes the instance's launch command.
    Jail(JailArgs),
}

/// What a jail is told.
#[derive(Debug, Args)]
pub struct JailArgs {
    /// The instance (`i-` and 17 hex digits): its hostname, its cgroup.
    #[arg(long, value_name = "ID", value_parser = parse_id)]
    pub id: u64,

    /// Its slot on the host: its uid and gid are 20000 + slot.
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..i64::from(abi::NITRO_INSTANCES_MAX)))]
    pub slot: u32,

    /// vCPUs: cpu.max is this many periods per period.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub vcpus: u32,

    /// Memory, bytes: memory.max (and no swap).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub memory: u64,

    /// Most processes: pids.max.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub pids: u32,

    /// Its cgroup (below /sys/fs/cgroup), made by the jail.
    #[arg(long, value_name = "DIR")]
    pub cgroup: PathBuf,

    /// Descriptors 3 and 4 are the daemon's status and control pipes (the
    /// daemon starts every jail so).
    #[arg(long)]
    pub handshake: bool,

    /// The image its /usr comes from.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub base: PathBuf,

    /// The launch command, after `--`.
    #[arg(value_name = "CMD", required = true, num_args = 1.., last = true)]
    pub command: Vec<OsString>,
}

/// Parses an instance id.
fn parse_id(s: &str) -> Result<u64, String> {
    abi::parse_instance(s)
        .ok_or_else(|| format!("{s:?} is not an instance id (i- and 17 hex digits)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    /// Parses `nitro-hv ARGS...`.
    fn parse<S: AsRef<str>>(args: &[S]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("nitro-hv").chain(args.iter().map(AsRef::as_ref)))
    }

    #[test]
    fn the_daemon() {
        let c = parse(&["--host", "3"]).unwrap();
        assert_eq!(c.host, Some(3));
        assert_eq!(c.jail_base, PathBuf::from("/"));
        assert_eq!(c.device, PathBuf::from("/dev/nitro_ctrl"));
        assert!(c.command.is_none());
        let c = parse(&[
            "--host",
            "16",
            "--jail-base",
            "/srv/image",
            "--device",
            "/dev/x",
        ])
        .unwrap();
        assert_eq!(c.host, Some(16));
        assert_eq!(c.jail_base, PathBuf::from("/srv/image"));
        assert_eq!(c.device, PathBuf::from("/dev/x"));
    }

    #[test]
    fn daemon_usage_errors() {
        let bad: [&[&str]; 5] = [
            &[],
            &["--host", "0"],
            &["--host", "17"],
            &["--host", "x"],
            &["--hots", "1"],
        ];
        for bad in bad {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}");
        }
        let none: [&str; 0] = [];
        assert_eq!(
            parse(&none).unwrap_err().kind(),
            ErrorKind::MissingRequiredArgument
        );
    }

    /// The jail's arguments as the daemon gives them, then `extra`.
    fn jail_args(extra: &[&str]) -> Vec<String> {
        let mut a = [
            "jail",
            "--id",
            "i-00123456789abcdef",
            "--slot",
            "3",
            "--vcpus",
            "1",
            "--memory",
            "268435456",
            "--pids",
            "512",
            "--cgroup",
            "/sys/fs/cgroup/nitro/i-00123456789abcdef",
        ]
        .map(String::from)
        .to_vec();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    }

    #[test]
    fn the_jail() {
        let c = parse(&jail_args(&["--", "sh", "-c", "echo --host"])).unwrap();
        let Some(Command::Jail(j)) = c.command else {
            panic!("not the jail")
        };
        assert_eq!(j.id, 0x0123_4567_89ab_cdef);
        assert_eq!((j.slot, j.vcpus, j.memory, j.pids), (3, 1, 256 << 20, 512));
        assert_eq!(j.base, PathBuf::from("/"));
        assert!(!j.handshake);
        assert_eq!(j.command, ["sh", "-c", "echo --host"].map(OsString::from));
    }

    #[test]
    fn jail_usage_errors() {
        // The command only after `--`, so that its options stay its own.
        assert!(parse(&jail_args(&["sh"])).is_err());
        assert!(parse(&jail_args(&["--"])).is_err(), "no command");
        let mut bad_id = jail_args(&["--", "sh"]);
        bad_id[2] = "i-123".into();
        assert!(parse(&bad_id).is_err());
        let mut bad_slot = jail_args(&["--", "sh"]);
        bad_slot[4] = "256".into();
        assert!(parse(&bad_slot).is_err());
        let mut no_cpu = jail_args(&["--", "sh"]);
        no_cpu[6] = "0".into();
        assert!(parse(&no_cpu).is_err());
        // Daemon options do not mix with the jail.
        let mut mixed = vec!["--host".to_string(), "1".into()];
        mixed.extend(jail_args(&["--", "sh"]));
        assert!(parse(&mixed).is_err());
    }
}
