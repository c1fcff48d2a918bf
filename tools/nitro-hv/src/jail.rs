//! `nitro-hv jail`: one instance's jail, the Firecracker jailer model. A
//! fresh process per instance, that becomes the instance's first process.
//!
//! The daemon clones it with `CLONE_NEWPID` (so it is PID 1 of a new PID
//! namespace from its first instruction, and the daemon has its host pid
//! from clone) and execs this subcommand; the jail then, in order:
//!
//! 1. makes its cgroup `/sys/fs/cgroup/nitro/<id>` with the type's limits
//!    and moves into it (everything it becomes is counted there);
//! 2. unshares the mount, UTS, IPC, network and cgroup namespaces (the
//!    cgroup namespace after the move, so that its root is the instance's
//!    group), and names itself after the instance;
//! 3. builds its private root and pivots into it ([`crate::rootfs`]);
//! 4. says `ready` on its status pipe and waits for `go` on its control
//!    pipe: meanwhile the daemon makes its disks in its `/dev` and moves
//!    its ENIs into its network namespace;
//! 5. drops every privilege: the bounding and ambient capability sets,
//!    supplementary groups, then gid and uid `20000 + slot`, every
//!    remaining capability, `no_new_privs`; checks in `/proc/self/status`
//!    that nothing is left;
//! 6. execs the launch command (PATH `/usr/bin:/bin`, HOME, USER), stdin
//!    `/dev/null`, stdout and stderr the console pipe: the command is PID 1
//!    of the instance, as EC2 runs an image's init. When it exits the PID
//!    namespace ends.
//!
//! Protocol (descriptors set up by the daemon): 0 `/dev/null`, 1 and 2 the
//! console pipe, [`STATUS_FD`] the status pipe (jail to daemon), and
//! [`CONTROL_FD`] the control pipe (daemon to jail). The jail writes lines:
//! `ready`, or `error <errno> <what failed>` and exits. Both protocol
//! descriptors are close-on-exec, so a successful exec reads as end of file
//! on the status pipe. The parent-death signal is SIGKILL (set again after
//! the uid changes, which clears it), and after setting it the jail checks
//! that the daemon still holds the control pipe: an instance never outlives
//! its hypervisor.
//!
//! The daemon passes `--handshake` to say that those descriptors are set
//! up. Without it (run by hand, e.g. under `unshare --pid --fork`) the jail
//! skips step 4's wait and reports on stderr only.

use crate::{
    abi,
    cgroup::{self, Limits},
    cli::JailArgs,
    rootfs::{self, Identity},
    sys::{self, Context, Errno, Failure, Result},
};
use std::{
    convert::Infallible,
    fs::File,
    io::{Read, Write},
    os::{
        fd::{AsRawFd, FromRawFd, RawFd},
        unix::process::CommandExt,
    },
    path::{Component, Path},
    process::{Command, ExitCode, Stdio},
};

/// The jail's end of its status pipe.
pub const STATUS_FD: RawFd = 3;
/// The jail's end of its control pipe.
pub const CONTROL_FD: RawFd = 4;
/// The first instance uid (and gid): an instance's is this plus its slot.
pub const UID_BASE: u32 = 20_000;
/// The PATH of the launch command.
pub const PATH: &str = "/usr/bin:/bin";

/// The status line that says the jail is built.
pub const READY: &str = "ready";
/// The control line that lets it exec.
pub const GO: &str = "go";

/// The uid (and gid) of the instance in `slot`.
pub fn uid_of(slot: u32) -> u32 {
    UID_BASE + slot
}

/// A line of the status pipe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Built; waiting for `go`.
    Ready,
    /// It failed (and exits): the errno and what failed.
    Failed(Failure),
}

/// The status line for `status`.
pub fn status_line(status: &Status) -> String {
    match status {
        Status::Ready => format!("{READY}\n"),
        Status::Failed(f) => format!("error {} {}\n", f.errno.0, f.what.replace('\n', " ")),
    }
}

/// The status a line (without its newline) says, if it is one.
pub fn parse_status(line: &str) -> Option<Status> {
    if line == READY {
        return Some(Status::Ready);
    }
    let rest = line.strip_prefix("error ")?;
    let (errno, what) = rest.split_once(' ').unwrap_or((rest, ""));
    let errno: i32 = errno.parse().ok()?;
    (errno > 0).then(|| Status::Failed(Failure::new(what, errno)))
}

/// The arguments of `nitro-hv jail` for an instance: what the daemon execs.
pub fn args(
    name: &str,
    slot: u32,
    limits: &Limits,
    cgroup: &Path,
    base: &Path,
    command: &[std::ffi::OsString],
) -> Vec<std::ffi::OsString> {
    let mut a: Vec<std::ffi::OsString> = [
        "jail".to_string(),
        "--handshake".into(),
        "--id".into(),
        name.into(),
        "--slot".into(),
        slot.to_string(),
        "--vcpus".into(),
        limits.vcpus.to_string(),
        "--memory".into(),
        limits.memory_bytes.to_string(),
        "--pids".into(),
        limits.pids.to_string(),
    ]
    .into_iter()
    .map(Into::into)
    .collect();
    a.push("--cgroup".into());
    a.push(cgroup.into());
    a.push("--base".into());
    a.push(base.into());
    a.push("--".into());
    a.extend(command.iter().cloned());
    a
}

/// The jail's pipes to the daemon.
struct Channel {
    status: File,
    control: File,
}

impl Channel {
    /// The protocol descriptors the daemon set up (`--handshake`).
    fn inherited() -> Result<Channel> {
        for fd in [STATUS_FD, CONTROL_FD] {
            // SAFETY: F_GETFD only asks whether `fd` is open.
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
            if flags < 0 {
                return Err(Failure::new(
                    format!("--handshake without descriptor {fd}"),
                    libc::EBADF,
                ));
            }
            // SAFETY: `fd` is open; this only marks it close-on-exec.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        let (status, control) =
            // SAFETY: the daemon set up 3 and 4 for this process alone;
            // nothing else in it owns them.
            unsafe { (File::from_raw_fd(STATUS_FD), File::from_raw_fd(CONTROL_FD)) };
        Ok(Channel { status, control })
    }

    /// Sends a status line.
    fn send(&mut self, status: &Status) -> Result<()> {
        self.status
            .write_all(status_line(status).as_bytes())
            .ctx(|| "write to the daemon's status pipe")
    }

    /// Waits for `go`; the daemon going away instead ends the jail.
    fn wait_go(&mut self) -> Result<()> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            match self.control.read(&mut byte) {
                Ok(0) => {
                    return Err(Failure::new(
                        "the daemon went away before the launch",
                        libc::ECONNRESET,
                    ))
                }
                Ok(_) if byte[0] == b'\n' => break,
                Ok(_) => line.push(byte[0]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e).ctx(|| "read the daemon's control pipe"),
            }
        }
        if line == GO.as_bytes() {
            Ok(())
        } else {
            Err(Failure::new(
                format!(
                    "unexpected control line {:?}",
                    String::from_utf8_lossy(&line)
                ),
                libc::EPROTO,
            ))
        }
    }

    /// Whether the daemon still holds the control pipe.
    fn daemon_alive(&self) -> bool {
        match sys::poll(
            self.control.as_raw_fd(),
            libc::POLLIN,
            Some(std::time::Duration::ZERO),
        ) {
            Ok(ev) => ev & (libc::POLLHUP | libc::POLLERR) == 0,
            Err(_) => false,
        }
    }
}

/// Runs the jail; returns only if it failed.
pub fn run(args: &JailArgs) -> ExitCode {
    let name = abi::instance_name(args.id);
    let mut channel = if args.handshake {
        match Channel::inherited() {
            Ok(c) => Some(c),
            Err(f) => {
                eprintln!("nitro-hv jail: {name}: {f}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let Err(failure) = jail(args, &name, &mut channel);
    if let Some(ch) = channel.as_mut() {
        let _ = ch.send(&Status::Failed(failure.clone()));
    }
    eprintln!("nitro-hv jail: {name}: {failure}");
    ExitCode::FAILURE
}

/// prctl(2) with one argument.
fn prctl(option: libc::c_int, arg: libc::c_ulong) -> std::result::Result<(), Errno> {
    // SAFETY: the options used here take one integer argument and ignore
    // the others, passed as 0.
    sys::cvt(unsafe {
        libc::prctl(
            option,
            arg,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })
    .map(|_| ())
}

/// Everything the jail does; on success it becomes the launch command.
fn jail(args: &JailArgs, name: &str, channel: &mut Option<Channel>) -> Result<Infallible> {
    // Modes are given in full everywhere.
    // SAFETY: umask has no preconditions.
    unsafe { libc::umask(0) };
    // SAFETY: getpid has no preconditions.
    if unsafe { libc::getpid() } != 1 {
        return Err(Failure::new(
            "the jail must be PID 1 of a new PID namespace (nitro-hv clones it so)",
            libc::EINVAL,
        ));
    }
    // Nothing inherited but stdio and the protocol descriptors.
    let first = if channel.is_some() {
        CONTROL_FD + 1
    } else {
        STATUS_FD
    };
    // SAFETY: closes descriptors this process does not use.
    sys::cvt(unsafe { libc::close_range(first as libc::c_uint, libc::c_uint::MAX, 0) })
        .ctx(|| "close inherited descriptors")?;
    prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)
        .ctx(|| "set the parent-death signal")?;
    if let Some(ch) = channel.as_ref() {
        if !ch.daemon_alive() {
            return Err(Failure::new("the daemon went away", libc::ECONNRESET));
        }
    }

    let limits = Limits {
        vcpus: args.vcpus,
        memory_bytes: args.memory,
        pids: args.pids,
    };
    let plain = args
        .cgroup
        .components()
        .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if !plain || !args.cgroup.starts_with(cgroup::ROOT) || args.cgroup == Path::new(cgroup::ROOT) {
        return Err(Failure::new(
            format!(
                "cgroup {} is not below {}",
                args.cgroup.display(),
                cgroup::ROOT
            ),
            libc::EINVAL,
        ));
    }
    cgroup::create_and_join(&args.cgroup, &limits)?;

    // SAFETY: unshare takes flags; this process is single-threaded.
    sys::cvt(unsafe {
        libc::unshare(
            libc::CLONE_NEWNS
                | libc::CLONE_NEWUTS
                | libc::CLONE_NEWIPC
                | libc::CLONE_NEWNET
                | libc::CLONE_NEWCGROUP,
        )
    })
    .ctx(|| "unshare the mount, UTS, IPC, network and cgroup namespaces")?;
    // The base image, reachable whatever is mounted over it later. Opened
    // in the new mount namespace: a bind mount's source must be one of its
    // mounts, not the host's.
    let base = sys::open(&args.base, libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|f| Failure::new(format!("base image: {}", f.what), f.errno.0))?;
    // SAFETY: the name is valid for its length.
    sys::cvt(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) })
        .ctx(|| format!("sethostname {name}"))?;
    let uid = uid_of(args.slot);
    let identity = Identity {
        hostname: name.to_string(),
        uid,
        tmpfs_bytes: args.memory,
    };
    rootfs::build(&base, &args.base, &identity)?;
    drop(base);

    if let Some(ch) = channel.as_mut() {
        ch.send(&Status::Ready)?;
        ch.wait_go()?;
    }

    drop_privileges(uid)?;
    prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)
        .ctx(|| "set the parent-death signal again")?;
    check_unprivileged(uid)?;
    if let Some(ch) = channel.as_ref() {
        if !ch.daemon_alive() {
            return Err(Failure::new("the daemon went away", libc::ECONNRESET));
        }
    }

    // The usual umask for the instance (the jail's own was 0).
    // SAFETY: umask has no preconditions.
    unsafe { libc::umask(0o022) };
    let program = &args.command[0];
    let error = Command::new(program)
        .args(&args.command[1..])
        .env_clear()
        .env("PATH", PATH)
        .env("HOME", rootfs::HOME)
        .env("USER", rootfs::USER)
        .env("LOGNAME", rootfs::USER)
        .current_dir(rootfs::HOME)
        .stdin(Stdio::null())
        .exec();
    Err(Failure {
        what: format!("exec {}", program.to_string_lossy()),
        errno: Errno::from_io(&error),
    })
}

/// `struct __user_cap_header_struct` of `linux/capability.h` (the libc
/// crate has no capset(2)).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct` of `linux/capability.h`.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets, two `CapData` words.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Gives up root for good: empties the bounding and ambient sets (which
/// needs the capabilities still held), drops the supplementary groups,
/// takes gid and uid `uid`, clears whatever capability is left (the
/// inheritable set survives a uid change), and sets `no_new_privs`.
fn drop_privileges(uid: u32) -> Result<()> {
    let mut cap = 0;
    loop {
        match prctl(libc::PR_CAPBSET_DROP, cap) {
            Ok(()) => cap += 1,
            // Past the last capability the kernel knows.
            Err(Errno(libc::EINVAL)) if cap > 0 => break,
            Err(e) => return Err(e).ctx(|| format!("drop capability {cap} from the bounding set")),
        }
    }
    // SAFETY: the ambient clear takes no further arguments (passed as 0).
    sys::cvt(unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })
    .ctx(|| "clear the ambient capabilities")?;
    // SAFETY: an empty list: the pointer is not read.
    sys::cvt(unsafe { libc::setgroups(0, std::ptr::null()) })
        .ctx(|| "drop the supplementary groups")?;
    // SAFETY: plain integers.
    sys::cvt(unsafe { libc::setresgid(uid, uid, uid) }).ctx(|| format!("setresgid {uid}"))?;
    // SAFETY: plain integers.
    sys::cvt(unsafe { libc::setresuid(uid, uid, uid) }).ctx(|| format!("setresuid {uid}"))?;
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData::default(); 2];
    // SAFETY: the header and two data words of version 3, as capset reads.
    sys::cvt_long(unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    })
    .ctx(|| "clear every capability")?;
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1).ctx(|| "set no_new_privs")?;
    Ok(())
}

/// What `/proc/self/status` says of the process's privileges: every
/// capability set (as hex masks), `NoNewPrivs`, and the uids and gids.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Privileges {
    /// CapInh, CapPrm, CapEff, CapBnd, CapAmb.
    pub caps: [u64; 5],
    /// NoNewPrivs.
    pub no_new_privs: bool,
    /// Real, effective, saved and filesystem uid.
    pub uids: Vec<u32>,
    /// The same gids.
    pub gids: Vec<u32>,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

impl Privileges {
    /// Reads them from the text of a `/proc/<pid>/status` file.
    pub fn parse(status: &str) -> Self {
        let mut p = Privileges::default();
        let ids = |v: &str| {
            v.split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect()
        };
        for line in status.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            let cap = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
                .iter()
                .position(|k| *k == key);
            match (key, cap) {
                (_, Some(i)) => p.caps[i] = u64::from_str_radix(value, 16).unwrap_or(u64::MAX),
                ("NoNewPrivs", _) => p.no_new_privs = value == "1",
                ("Uid", _) => p.uids = ids(value),
                ("Gid", _) => p.gids = ids(value),
                ("Groups", _) => p.groups = ids(value),
                _ => {}
            }
        }
        p
    }

    /// What is wrong with them for an instance with `uid`, if anything.
    pub fn problem(&self, uid: u32) -> Option<String> {
        if self.caps != [0; 5] {
            return Some(format!("capabilities left: {:x?}", self.caps));
        }
        if !self.no_new_privs {
            return Some("no_new_privs is not set".into());
        }
        if self.uids != [uid; 4] || self.gids != [uid; 4] || !self.groups.is_empty() {
            return Some(format!(
                "ids are uid {:?} gid {:?} groups {:?}",
                self.uids, self.gids, self.groups
            ));
        }
        None
    }
}

/// Checks, from the kernel's view, that the process holds no privilege.
fn check_unprivileged(uid: u32) -> Result<()> {
    let text = std::fs::read_to_string("/proc/self/status").ctx(|| "read /proc/self/status")?;
    match Privileges::parse(&text).problem(uid) {
        None => Ok(()),
        Some(p) => Err(Failure::new(format!("still privileged: {p}"), libc::EPERM)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_round_trip() {
        assert_eq!(status_line(&Status::Ready), "ready\n");
        assert_eq!(parse_status("ready"), Some(Status::Ready));
        let f = Failure::new("exec sh", libc::ENOENT);
        let line = status_line(&Status::Failed(f.clone()));
        assert_eq!(line, "error 2 exec sh\n");
        assert_eq!(parse_status(line.trim_end()), Some(Status::Failed(f)));
        assert_eq!(
            parse_status("error 12"),
            Some(Status::Failed(Failure::new("", libc::ENOMEM)))
        );
        assert_eq!(parse_status("error x y"), None);
        assert_eq!(parse_status("error 0 y"), None);
        assert_eq!(parse_status("hello"), None);
        let multi = status_line(&Status::Failed(Failure::new("a\nb", 5)));
        assert_eq!(multi, "error 5 a b\n", "one line whatever the message");
    }

    #[test]
    fn uids_from_slots() {
        assert_eq!(uid_of(0), 20_000);
        assert_eq!(uid_of(255), 20_255);
    }

    #[test]
    fn jail_arguments() {
        let limits = Limits {
            vcpus: 1,
            memory_bytes: 256 << 20,
            pids: 512,
        };
        let a = args(
            "i-00123456789abcdef",
            3,
            &limits,
            Path::new("/sys/fs/cgroup/nitro/i-00123456789abcdef"),
            Path::new("/"),
            &["sh".into(), "-c".into(), "--help".into()],
        );
        let a: Vec<_> = a.iter().map(|s| s.to_str().unwrap()).collect();
        assert_eq!(
            a,
            [
                "jail",
                "--handshake",
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
                "--base",
                "/",
                "--",
                "sh",
                "-c",
                "--help"
            ]
        );
    }

    #[test]
    fn privileges_from_status() {
        let dropped = "Name:\tsh\nUid:\t20003\t20003\t20003\t20003\nGid:\t20003\t20003\t20003\t20003\n\
                       Groups:\t\nNoNewPrivs:\t1\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\n\
                       CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\n";
        let p = Privileges::parse(dropped);
        assert_eq!(p.problem(20003), None);
        assert!(p.problem(20004).is_some(), "another uid");
        let root = dropped
            .replace("CapBnd:\t0000000000000000", "CapBnd:\t000001ffffffffff")
            .replace("NoNewPrivs:\t1", "NoNewPrivs:\t0");
        let p = Privileges::parse(&root);
        assert_eq!(p.caps[3], 0x1ff_ffff_ffff);
        assert!(p.problem(20003).unwrap().contains("capabilities"));
        let nnp = dropped.replace("NoNewPrivs:\t1", "NoNewPrivs:\t0");
        assert!(Privileges::parse(&nnp)
            .problem(20003)
            .unwrap()
            .contains("no_new_privs"));
        let grouped = dropped.replace("Groups:\t", "Groups:\t0 ");
        assert!(Privileges::parse(&grouped).problem(20003).is_some());
    }
}
