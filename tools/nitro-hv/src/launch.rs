//! Starting a jail: the daemon's side of `nitro-hv jail`'s protocol
//! ([`crate::jail`] describes it).
//!
//! The daemon clones itself with `CLONE_NEWPID` (a fork into a new PID
//! namespace: the child is its PID 1) and the child execs
//! `/proc/self/exe jail ...` at once, so the jail is a fresh process image,
//! single-threaded, and the daemon knows its host pid from clone. Between
//! clone and exec the child of this multi-threaded process only makes
//! async-signal-safe calls on memory prepared before the clone.

use crate::{
    jail::{self, Status, CONTROL_FD, STATUS_FD},
    sys::{self, Context, Failure, Result},
};
use std::{
    ffi::{CString, OsString},
    fs::File,
    io::{Read, Write},
    os::{
        fd::{AsRawFd, OwnedFd, RawFd},
        unix::ffi::OsStrExt,
    },
    time::{Duration, Instant},
};

// clone(2)'s arguments after the flags (stack, parent tid, child tid, tls,
// in an order that differs between architectures) are all 0 here, which is
// a fork; only the flags' place must be first.
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64",
    target_arch = "x86"
)))]
compile_error!("check clone(2)'s argument order for this architecture (flags first?)");

/// The program the jail is: this one.
const SELF_EXE: &std::ffi::CStr = c"/proc/self/exe";

/// A jail that was started: its init, its protocol pipes.
#[derive(Debug)]
pub struct Jail {
    /// Its host pid (PID 1 of its own namespace).
    pub pid: libc::pid_t,
    /// A pidfd of it: readable once it has exited.
    pub pidfd: OwnedFd,
    status: File,
    /// Status bytes read but not yet a whole line.
    pending: Vec<u8>,
    control: Option<File>,
}

/// The descriptors the jail's child puts in place, by number.
struct ChildFds {
    devnull: RawFd,
    console: RawFd,
    status: RawFd,
    control: RawFd,
}

/// The clone's child: puts the descriptors in place and execs the jail.
///
/// # Safety
///
/// Must only run in the child of a fork-like clone: it makes only
/// async-signal-safe calls; `argv` is a null-terminated array of
/// NUL-terminated strings alive in the child's copy of memory.
unsafe fn exec_jail(fds: &ChildFds, argv: &[*const libc::c_char]) -> ! {
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    // SAFETY: the caller guarantees a fork-like child; each call below is
    // async-signal-safe and takes valid pointers or plain integers.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        // The Rust runtime ignores SIGPIPE; exec keeps ignored signals.
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        // The jail dies with the daemon, even before it sets this itself.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
        // Its own session: no terminal's signals reach the instance.
        libc::setsid();
        // The sources are all numbered 10 and up (sys::pipe): no order of
        // these overwrites one still needed.
        if libc::dup2(fds.devnull, 0) < 0
            || libc::dup2(fds.console, 1) < 0
            || libc::dup2(fds.console, 2) < 0
            || libc::dup2(fds.status, STATUS_FD) < 0
            || libc::dup2(fds.control, CONTROL_FD) < 0
        {
            libc::_exit(127);
        }
        libc::execve(SELF_EXE.as_ptr(), argv.as_ptr(), envp.as_ptr());
        libc::_exit(127)
    }
}

/// Starts `nitro-hv jail` with `args` (the subcommand and its arguments),
/// stdin `devnull`; gives the jail and the read end of its console pipe.
pub fn spawn(args: &[OsString], devnull: &OwnedFd) -> Result<(Jail, OwnedFd)> {
    let (console_r, console_w) = sys::pipe().ctx(|| "pipe for the console")?;
    let (status_r, status_w) = sys::pipe().ctx(|| "pipe for the jail's status")?;
    let (control_r, control_w) = sys::pipe().ctx(|| "pipe for the jail's control")?;
    let strings = std::iter::once(OsString::from("nitro-hv"))
        .chain(args.iter().cloned())
        .map(|a| CString::new(a.as_bytes()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| Failure::new("jail argument holds a NUL", libc::EINVAL))?;
    let mut argv: Vec<*const libc::c_char> = strings.iter().map(|s| s.as_ptr()).collect();
    argv.push(std::ptr::null());
    let fds = ChildFds {
        devnull: devnull.as_raw_fd(),
        console: console_w.as_raw_fd(),
        status: status_w.as_raw_fd(),
        control: control_r.as_raw_fd(),
    };
    // SAFETY: a fork-like clone (no new stack, no shared memory): the child
    // runs `exec_jail` only, on memory prepared above.
    let pid = sys::cvt_long(unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_NEWPID | libc::SIGCHLD) as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })
    .ctx(|| "clone a jail into a new PID namespace")?;
    if pid == 0 {
        // SAFETY: this is the clone's child.
        unsafe { exec_jail(&fds, &argv) };
    }
    let pid = pid as libc::pid_t;
    // The child's ends: the console must end when the instance's last
    // process does, not when the daemon does.
    drop((console_w, status_w, control_r));
    let pidfd = match sys::pidfd_open(pid) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = sys::kill(pid, libc::SIGKILL);
            let mut status = 0;
            // SAFETY: `status` is a valid place for waitpid to write.
            let _ = sys::retry(|| unsafe { libc::waitpid(pid, &mut status, 0) });
            return Err(e).ctx(|| format!("pidfd_open {pid}"));
        }
    };
    let jail = Jail {
        pid,
        pidfd,
        status: File::from(status_r),
        pending: Vec::new(),
        control: Some(File::from(control_w)),
    };
    Ok((jail, console_r))
}

impl Jail {
    /// The next status line, at most `timeout` from now (`None`: the pipe
    /// ended: the jail exec'd the command, or died).
    fn next_status(&mut self, timeout: Duration) -> Result<Option<Status>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                let text = String::from_utf8_lossy(&line[..end]).into_owned();
                return jail::parse_status(&text)
                    .map(Some)
                    .ok_or_else(|| Failure::new(format!("the jail said {text:?}"), libc::EPROTO));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let ready = sys::poll(self.status.as_raw_fd(), libc::POLLIN, Some(left))
                .ctx(|| "wait for the jail")?;
            if ready == 0 {
                return Err(Failure::new(
                    format!("the jail did not answer in {} s", timeout.as_secs()),
                    libc::ETIMEDOUT,
                ));
            }
            let mut buf = [0u8; 512];
            match self.status.read(&mut buf) {
                Ok(0) if self.pending.is_empty() => return Ok(None),
                // A last line without its newline.
                Ok(0) => self.pending.push(b'\n'),
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e).ctx(|| "read the jail's status"),
            }
        }
    }

    /// Waits until the jail has built the instance (at most `timeout`).
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        match self.next_status(timeout)? {
            Some(Status::Ready) => Ok(()),
            Some(Status::Failed(f)) => Err(f),
            None => Err(Failure::new(
                "the jail ended before it was ready (its console may say why)",
                libc::EIO,
            )),
        }
    }

    /// Lets the jail drop its privileges and exec the launch command; waits
    /// (at most `timeout`) until it has.
    pub fn go(&mut self, timeout: Duration) -> Result<()> {
        let mut control = self
            .control
            .take()
            .ok_or_else(|| Failure::new("the jail was let go already", libc::EINVAL))?;
        control
            .write_all(format!("{}\n", jail::GO).as_bytes())
            .ctx(|| "write to the jail's control pipe")?;
        // The jail checks that this end is still open after its last
        // privileged step: it stays open until the exec is seen.
        let outcome = match self.next_status(timeout)? {
            None => Ok(()),
            Some(Status::Failed(f)) => Err(f),
            Some(Status::Ready) => Err(Failure::new("the jail was ready twice", libc::EPROTO)),
        };
        drop(control);
        outcome
    }
}
