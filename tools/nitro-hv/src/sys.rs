//! The system calls nitro-hv makes, behind small safe wrappers, and the
//! errors it reports: an errno with its message and its name
//! (`Device or resource busy (EBUSY)`), with what was being done.

use crate::errno;
use std::{
    ffi::{CStr, CString},
    fmt, io,
    os::{
        fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
        unix::ffi::OsStrExt,
    },
    path::Path,
    thread,
    time::{Duration, Instant},
};

/// An errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The errno the last failed call left (EIO if there is none).
    pub fn last() -> Self {
        Self::from_io(&io::Error::last_os_error())
    }

    /// The errno of an I/O error (EIO for one that has none).
    pub fn from_io(error: &io::Error) -> Self {
        Errno(error.raw_os_error().unwrap_or(libc::EIO))
    }

    /// The errno's name, such as `EBUSY` (`E?` for an unknown value).
    pub fn name(self) -> &'static str {
        errno::name(self.0).unwrap_or("E?")
    }

    /// The C library's message for the errno.
    pub fn message(self) -> String {
        let mut buf = [0u8; 128];
        // SAFETY: `buf` is writable for its length; the XSI strerror_r
        // (the one the libc crate binds) NUL-terminates what it writes.
        let rc = unsafe { libc::strerror_r(self.0, buf.as_mut_ptr().cast(), buf.len()) };
        if rc != 0 {
            return format!("error {}", self.0);
        }
        CStr::from_bytes_until_nul(&buf)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|_| format!("error {}", self.0))
    }

    /// The errno whose message is `message` exactly, if there is one.
    pub fn from_message(message: &str) -> Option<Self> {
        errno::from_description(message).map(Errno)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message(), self.name())
    }
}

/// Why something failed: what was being done, and the errno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What was being done, naming the object (`mount /usr read-only`).
    pub what: String,
    /// The errno it failed with; this is what the controller is told.
    pub errno: Errno,
}

impl Failure {
    /// A failure of `what` with `errno`.
    pub fn new(what: impl Into<String>, errno: i32) -> Self {
        Failure {
            what: what.into(),
            errno: Errno(errno),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.errno)
    }
}

/// The result of something that can fail with a [`Failure`].
pub type Result<T> = std::result::Result<T, Failure>;

/// Adds what was being done to an errno or an I/O error.
pub trait Context<T> {
    /// The failure, described by `what`.
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, Errno> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|errno| Failure {
            what: what().into(),
            errno,
        })
    }
}

impl<T> Context<T> for io::Result<T> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| Failure {
            what: what().into(),
            errno: Errno::from_io(&e),
        })
    }
}

/// The result of a C call that returns -1 and sets errno on failure.
pub fn cvt(rc: libc::c_int) -> std::result::Result<libc::c_int, Errno> {
    if rc == -1 {
        Err(Errno::last())
    } else {
        Ok(rc)
    }
}

/// The result of a raw `syscall(2)`, which returns -1 and sets errno on
/// failure.
pub fn cvt_long(rc: libc::c_long) -> std::result::Result<libc::c_long, Errno> {
    if rc == -1 {
        Err(Errno::last())
    } else {
        Ok(rc)
    }
}

/// Calls `f` again as long as it fails with EINTR (nitro-hv's signal
/// handlers are installed without `SA_RESTART`).
pub fn retry(mut f: impl FnMut() -> libc::c_int) -> std::result::Result<libc::c_int, Errno> {
    loop {
        match cvt(f()) {
            Err(Errno(libc::EINTR)) => continue,
            other => return other,
        }
    }
}

/// A path as a C string (EINVAL if it holds a NUL).
pub fn cpath(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        Failure::new(
            format!("{}: path holds a NUL", path.display()),
            libc::EINVAL,
        )
    })
}

/// A string as a C string (EINVAL if it holds a NUL).
pub fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Failure::new(format!("{s:?} holds a NUL"), libc::EINVAL))
}

/// Lowest descriptor number [`pipe`] gives, so that a child can move its
/// ends to 0..=4 in any order without overwriting one it still needs.
const PIPE_MIN_FD: RawFd = 10;

/// A pipe, both ends close-on-exec and numbered at least 10: (read, write).
pub fn pipe() -> std::result::Result<(OwnedFd, OwnedFd), Errno> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 succeeded: both are open descriptors nothing else owns.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((high(r)?, high(w)?))
}

/// `fd` moved to a number of at least [`PIPE_MIN_FD`], close-on-exec.
fn high(fd: OwnedFd) -> std::result::Result<OwnedFd, Errno> {
    if fd.as_raw_fd() >= PIPE_MIN_FD {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor we own makes a new one.
    let new = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, PIPE_MIN_FD) })?;
    // SAFETY: fcntl succeeded: `new` is an open descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Waits until `fd` has one of `events` (or an error or hangup), at most
/// `timeout` (`None`: without limit); EINTR only shortens the wait. Gives
/// the events that came, empty on timeout.
pub fn poll(
    fd: RawFd,
    events: libc::c_short,
    timeout: Option<Duration>,
) -> std::result::Result<libc::c_short, Errno> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Rounded up: a wait of 0.4 ms is not a poll that returns at once.
                i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
            }
        };
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd for the duration of the call.
        match cvt(unsafe { libc::poll(&mut pfd, 1, ms) }) {
            Ok(0) => return Ok(0),
            Ok(_) => return Ok(pfd.revents),
            Err(Errno(libc::EINTR)) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// A pidfd for process `pid` (a child of ours, not yet reaped).
pub fn pidfd_open(pid: libc::pid_t) -> std::result::Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let fd = cvt_long(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: it succeeded: `fd` is an open descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Sends `signal` to `pid` (ESRCH, a process already gone, is no error).
pub fn kill(pid: libc::pid_t, signal: libc::c_int) -> std::result::Result<(), Errno> {
    // SAFETY: kill takes plain integers.
    match cvt(unsafe { libc::kill(pid, signal) }) {
        Ok(_) | Err(Errno(libc::ESRCH)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// How a child ended, as `waitpid` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitStatus(pub libc::c_int);

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if libc::WIFEXITED(s) {
            write!(f, "exit status {}", libc::WEXITSTATUS(s))
        } else if libc::WIFSIGNALED(s) {
            let sig = libc::WTERMSIG(s);
            // SAFETY: strsignal returns a pointer to a static or
            // thread-local string, valid until the next call on this thread.
            let name = unsafe { CStr::from_ptr(libc::strsignal(sig)) };
            write!(f, "killed by signal {sig} ({})", name.to_string_lossy())
        } else {
            write!(f, "wait status {s:#x}")
        }
    }
}

/// Reaps child `pid` if it has exited (`None` if it still runs).
pub fn try_reap(pid: libc::pid_t) -> std::result::Result<Option<ExitStatus>, Errno> {
    let mut status = 0;
    // SAFETY: `status` is a valid place for waitpid to write.
    let rc = retry(|| unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) })?;
    Ok((rc == pid).then_some(ExitStatus(status)))
}

/// Spawns a thread with SIGCHLD, SIGTERM and SIGINT blocked in it, so that
/// they always reach the main thread and interrupt its wait for commands.
pub fn spawn_quiet<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> io::Result<thread::JoinHandle<T>> {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it.
    let mut block: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above: zeroed sigset_t values are valid to pass.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `block` and `old` are valid sigsets; the calls only change
    // this thread's mask, which the new thread inherits, and restore it.
    unsafe {
        libc::sigemptyset(&mut block);
        libc::sigaddset(&mut block, libc::SIGCHLD);
        libc::sigaddset(&mut block, libc::SIGTERM);
        libc::sigaddset(&mut block, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old);
    }
    let spawned = thread::Builder::new().name(name.into()).spawn(f);
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    spawned
}

/// Opens `path` with `flags` (and O_CLOEXEC).
pub fn open(path: &Path, flags: libc::c_int) -> Result<OwnedFd> {
    let c = cpath(path)?;
    // SAFETY: `c` is a NUL-terminated path; open returns a new descriptor.
    let fd = retry(|| unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, 0) })
        .ctx(|| format!("open {}", path.display()))?;
    // SAFETY: open succeeded: `fd` is an open descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens `name` below directory `dir` with `flags` (and O_CLOEXEC).
pub fn openat(
    dir: &OwnedFd,
    name: &str,
    flags: libc::c_int,
) -> std::result::Result<OwnedFd, Errno> {
    let c = CString::new(name).map_err(|_| Errno(libc::EINVAL))?;
    // SAFETY: `dir` is an open descriptor, `c` a NUL-terminated name.
    let fd =
        retry(|| unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags | libc::O_CLOEXEC, 0) })?;
    // SAFETY: openat succeeded: `fd` is an open descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names_and_messages() {
        assert_eq!(Errno(libc::EBUSY).name(), "EBUSY");
        assert_eq!(Errno(libc::EAGAIN).name(), "EAGAIN", "not EWOULDBLOCK");
        assert_eq!(Errno(libc::EOPNOTSUPP).name(), "EOPNOTSUPP", "not ENOTSUP");
        assert_eq!(Errno(9999).name(), "E?");
        assert_eq!(
            Errno(libc::ENOENT).to_string(),
            "No such file or directory (ENOENT)"
        );
        assert_eq!(
            Errno::from_message("File exists"),
            Some(Errno(libc::EEXIST))
        );
        let f = Failure::new("mount /usr", libc::EACCES);
        assert_eq!(f.to_string(), "mount /usr: Permission denied (EACCES)");
    }

    #[test]
    fn pipes_are_high_and_close_on_exec() {
        let (r, w) = pipe().unwrap();
        for fd in [&r, &w] {
            assert!(fd.as_raw_fd() >= PIPE_MIN_FD);
            // SAFETY: F_GETFD on an open descriptor.
            let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
            assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        }
        assert_eq!(
            poll(r.as_raw_fd(), libc::POLLIN, Some(Duration::ZERO)).unwrap(),
            0
        );
        drop(w);
        let ev = poll(r.as_raw_fd(), libc::POLLIN, Some(Duration::from_secs(1))).unwrap();
        assert_ne!(ev & libc::POLLHUP, 0, "the write end is gone");
    }

    #[test]
    fn exit_statuses_read_as_people_say_them() {
        assert_eq!(ExitStatus(3 << 8).to_string(), "exit status 3");
        assert!(ExitStatus(libc::SIGKILL)
            .to_string()
            .starts_with("killed by signal 9"));
    }
}
