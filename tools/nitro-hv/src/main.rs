//! nitro-hv: the hypervisor of a nitro-rs VPC card host.
//!
//! `nitro-hv --host N` registers with the Nitro Controller as the
//! hypervisor of host N and runs its instances on the controller's command
//! channel (`Documentation/instances.rst`, "The hypervisor's command
//! channel"). An instance is a jail, built the way Firecracker's jailer
//! builds one (`nitro-hv jail`, a fresh process per instance): a cgroup v2
//! group with its type's limits; new mount, UTS, IPC, network, PID and
//! cgroup namespaces; a private root with the image's `/usr` read-only and
//! only its own disks in `/dev`; its ENIs as `eth<index>`; its own uid, no
//! capabilities, `no_new_privs`; its launch command as PID 1.
//!
//! Modules: [`daemon`] is the command loop and the instances it runs;
//! [`launch`] and [`jail`] the two sides of starting one; [`rootfs`] its
//! file system, [`cgroup`] its group, [`disk`] and [`nic`] its devices,
//! [`console`] its output; [`controller`] is `/dev/nitro_ctrl`, [`abi`] the
//! ABI from bindgen, [`sys`] the system calls and their errors, [`cli`] the
//! command line.
//!
//! Exit codes: 0 after SIGTERM or SIGINT (every instance stopped first), 1
//! when it cannot start (no controller, the host has a hypervisor already,
//! no such host, no cgroup v2) or loses the channel, 2 for a usage error.

mod abi;
mod cgroup;
mod cli;
mod console;
mod controller;
mod daemon;
mod disk;
/// Errno names and descriptions: nitroctl's module, the one list.
#[path = "../../nitroctl/src/errno.rs"]
mod errno;
mod jail;
mod launch;
mod nic;
mod rootfs;
mod sys;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

/// Runs the daemon, or a jail.
fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Jail(args)) => jail::run(args),
        None => {
            let host = cli.host.expect("clap requires --host without a subcommand");
            daemon::run(host, &cli.jail_base, &cli.device)
        }
    }
}
