//! Talking to `/dev/nitro_ctrl`: opening it with errors a person can act on,
//! and the ioctls.

use crate::abi;
use std::{
    fmt,
    fs::{File, OpenOptions},
    io,
    os::fd::AsRawFd,
    path::{Path, PathBuf},
};

/// The default device node.
pub const DEFAULT_DEVICE: &str = "/dev/nitro_ctrl";

/// Why a command failed, sorted by what the user should do about it.
#[derive(Debug)]
pub enum Error {
    /// The device cannot be used here (module or node missing, no privilege).
    Unavailable(String),
    /// The controller refused the request with an errno.
    Kernel { what: &'static str, err: io::Error },
    /// The controller refused, explained in context.
    Refused { msg: String, errno: i32 },
    /// The arguments are wrong (found after parsing: a malformed id).
    Usage(String),
}

impl Error {
    /// The errno of a kernel refusal, if this is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { err, .. } => err.raw_os_error(),
            Error::Refused { errno, .. } => Some(*errno),
            Error::Unavailable(_) | Error::Usage(_) => None,
        }
    }

    /// Process exit code: 1 for a kernel error, 3 when the device is
    /// unavailable (2 is clap's usage error).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Kernel { .. } | Error::Refused { .. } => 1,
            Error::Usage(_) => 2,
            Error::Unavailable(_) => 3,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unavailable(msg) | Error::Usage(msg) => f.write_str(msg),
            Error::Refused { msg, errno } => {
                write!(f, "{msg} ({})", io::Error::from_raw_os_error(*errno))
            }
            Error::Kernel { what, err } => {
                write!(f, "{what} failed: {err}")?;
                if let Some(hint) = errno_hint(err.raw_os_error().unwrap_or(0)) {
                    write!(f, " ({hint})")?;
                }
                Ok(())
            }
        }
    }
}

/// What to do about an errno from the controller.
pub fn errno_hint(errno: i32) -> Option<&'static str> {
    match errno {
        libc::EPERM => Some("the controller requires CAP_SYS_ADMIN: run nitroctl as root"),
        libc::ENOTTY => {
            Some("the loaded nitro_ctrl does not know this request: is it older than nitroctl?")
        }
        libc::E2BIG => {
            Some("nitroctl is newer than the loaded nitro_ctrl and sent fields it does not know")
        }
        _ => None,
    }
}

/// An open controller.
pub struct Ctrl {
    file: File,
}

/// Explains why `path` could not be opened.
pub fn open_error(path: &Path, err: &io::Error, module_loaded: bool) -> Error {
    let p = path.display();
    let msg = match err.kind() {
        io::ErrorKind::NotFound if !module_loaded => format!(
            "{p} does not exist: the nitro_ctrl module is not loaded \
             (run `modprobe nitro_ctrl`, or `insmod drivers/nitro_ctrl/nitro-ctrl.ko` from a build)"
        ),
        io::ErrorKind::NotFound => format!(
            "{p} does not exist although nitro_ctrl is loaded: \
             is devtmpfs mounted on /dev (or did udev rename the node)?"
        ),
        io::ErrorKind::PermissionDenied => {
            format!("cannot open {p}: permission denied (the controller is root-only: run nitroctl as root)")
        }
        _ => format!("cannot open {p}: {err}"),
    };
    Error::Unavailable(msg)
}

impl Ctrl {
    /// Opens the controller at `path`.
    pub fn open(path: &Path) -> Result<Self, Error> {
        OpenOptions::new()
            .read(true)
            .open(path)
            .map(|file| Ctrl { file })
            .map_err(|e| open_error(path, &e, Path::new("/sys/module/nitro_ctrl").exists()))
    }

    /// Issues `cmd` on `arg`; public for the commands that build their own
    /// argument structs.
    pub fn ioctl<T>(&self, what: &'static str, cmd: u32, arg: &mut T) -> Result<(), Error> {
        // SAFETY: `arg` is a valid, exclusively borrowed `#[repr(C)]` struct of
        // the size the ABI gives for `cmd`, alive for the whole call.
        let rc = unsafe { libc::ioctl(self.file.as_raw_fd(), cmd as _, arg as *mut T) };
        if rc < 0 {
            Err(Error::Kernel {
                what,
                err: io::Error::last_os_error(),
            })
        } else {
            Ok(())
        }
    }

    /// Whether the caller may use the controller at all: tells an `EPERM`
    /// that refuses a request apart from the `EPERM` of a missing
    /// CAP_SYS_ADMIN (which every ioctl gets, `VERSION` included).
    pub fn privileged(&self) -> bool {
        self.version().is_ok()
    }

    /// `NITRO_IOC_VERSION`.
    pub fn version(&self) -> Result<abi::nitro_version, Error> {
        let mut v = abi::nitro_version {
            size: std::mem::size_of::<abi::nitro_version>() as u32,
            ..Default::default()
        };
        self.ioctl("NITRO_IOC_VERSION", abi::NITRO_IOC_VERSION, &mut v)?;
        Ok(v)
    }

    /// `NITRO_IOC_STATUS`, with every registered card.
    pub fn status(&self) -> Result<(abi::nitro_status, Vec<abi::nitro_card_info>), Error> {
        let mut cap = 8usize;
        loop {
            let mut cards = vec![abi::nitro_card_info::default(); cap];
            let mut s = abi::nitro_status {
                size: std::mem::size_of::<abi::nitro_status>() as u32,
                cards: cards.as_mut_ptr() as u64,
                cards_cap: cap as u32,
                card_size: std::mem::size_of::<abi::nitro_card_info>() as u32,
                ..Default::default()
            };
            self.ioctl("NITRO_IOC_STATUS", abi::NITRO_IOC_STATUS, &mut s)?;
            if s.ncards as usize <= cap {
                cards.truncate(s.ncards as usize);
                return Ok((s, cards));
            }
            // More cards than room (they can register meanwhile): ask again.
            cap = s.ncards as usize;
        }
    }
}

/// A struct of the ABI with its `size` set and everything else zero.
pub fn sized<T: Default + Sized>() -> T {
    let mut v = T::default();
    let size = std::mem::size_of::<T>() as u32;
    // SAFETY: every ABI struct starts with `__u32 size` (the header's rule),
    // and `v` is at least 4 bytes long and properly aligned for a u32.
    unsafe { (&mut v as *mut T as *mut u32).write(size) };
    v
}

impl Ctrl {
    /// Runs a list command to the end, `page` entries per call.
    pub fn list_all<T: Default + Clone>(
        &self,
        what: &'static str,
        cmd: u32,
        page: u32,
    ) -> Result<Vec<T>, Error> {
        let mut all = Vec::new();
        let mut cursor = 0;
        loop {
            let (batch, next, more) = self.list_page::<T>(what, cmd, cursor, page)?;
            all.extend(batch);
            if !more {
                return Ok(all);
            }
            cursor = next;
        }
    }

    /// One page of a list command: the entries after `cursor`, the cursor
    /// for the next page, and whether there is one.
    pub fn list_page<T: Default + Clone>(
        &self,
        what: &'static str,
        cmd: u32,
        cursor: u64,
        cap: u32,
    ) -> Result<(Vec<T>, u64, bool), Error> {
        let mut buf = vec![T::default(); cap as usize];
        let mut l: abi::nitro_list = sized();
        l.entry_size = std::mem::size_of::<T>() as u32;
        l.cursor = cursor;
        l.entries = buf.as_mut_ptr() as u64;
        l.cap = cap;
        self.ioctl(what, cmd, &mut l)?;
        buf.truncate(l.count as usize);
        Ok((buf, l.cursor, l.more != 0))
    }
}

/// The path of the device, from `--device` or the default.
pub fn device_path(arg: Option<PathBuf>) -> PathBuf {
    arg.unwrap_or_else(|| PathBuf::from(DEFAULT_DEVICE))
}
