//! Talking to `/dev/nitro_ctrl`: opening it with errors a person can act on,
//! and the ioctls.

use crate::{abi, error::Error};
use std::{
    fs::{File, OpenOptions},
    io,
    os::fd::AsRawFd,
    path::{Path, PathBuf},
};

/// The default device node.
pub const DEFAULT_DEVICE: &str = "/dev/nitro_ctrl";

/// An open controller.
pub struct Controller {
    file: File,
}

/// Explains why `path` could not be opened.
pub fn open_error(path: &Path, error: &io::Error, module_loaded: bool) -> Error {
    let path = path.display();
    let message = match error.kind() {
        io::ErrorKind::NotFound if !module_loaded => format!(
            "{path} does not exist: the nitro_ctrl module is not loaded \
             (run `modprobe nitro_ctrl`, or `insmod drivers/nitro_ctrl/nitro-ctrl.ko` from a build)"
        ),
        io::ErrorKind::NotFound => format!(
            "{path} does not exist although nitro_ctrl is loaded: \
             is devtmpfs mounted on /dev (or did udev rename the node)?"
        ),
        io::ErrorKind::PermissionDenied => {
            format!("cannot open {path}: permission denied (the controller is root-only: run nitroctl as root)")
        }
        _ => format!("cannot open {path}: {error}"),
    };
    Error::Unavailable(message)
}

impl Controller {
    /// Opens the controller at `path`.
    pub fn open(path: &Path) -> Result<Self, Error> {
        OpenOptions::new()
            .read(true)
            .open(path)
            .map(|file| Controller { file })
            .map_err(|error| open_error(path, &error, Path::new("/sys/module/nitro_ctrl").exists()))
    }

    /// Issues `command` on `argument`; `request` names it in the error.
    pub fn ioctl<T>(
        &self,
        request: &'static str,
        command: u32,
        argument: &mut T,
    ) -> Result<(), Error> {
        // SAFETY: `argument` is a valid, exclusively borrowed `#[repr(C)]`
        // struct of the size the ABI gives for `command`, alive for the whole
        // call.
        let rc = unsafe { libc::ioctl(self.file.as_raw_fd(), command as _, argument as *mut T) };
        if rc < 0 {
            Err(Error::Kernel {
                request,
                error: io::Error::last_os_error(),
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
        let mut version = abi::nitro_version {
            size: std::mem::size_of::<abi::nitro_version>() as u32,
            ..Default::default()
        };
        self.ioctl("NITRO_IOC_VERSION", abi::NITRO_IOC_VERSION, &mut version)?;
        Ok(version)
    }

    /// `NITRO_IOC_STATUS`, with every registered card.
    pub fn status(&self) -> Result<(abi::nitro_status, Vec<abi::nitro_card_info>), Error> {
        let mut capacity = 8usize;
        loop {
            let mut cards = vec![abi::nitro_card_info::default(); capacity];
            let mut status = abi::nitro_status {
                size: std::mem::size_of::<abi::nitro_status>() as u32,
                cards: cards.as_mut_ptr() as u64,
                cards_cap: capacity as u32,
                card_size: std::mem::size_of::<abi::nitro_card_info>() as u32,
                ..Default::default()
            };
            self.ioctl("NITRO_IOC_STATUS", abi::NITRO_IOC_STATUS, &mut status)?;
            if status.ncards as usize <= capacity {
                cards.truncate(status.ncards as usize);
                return Ok((status, cards));
            }
            // More cards than room (they can register meanwhile): ask again.
            capacity = status.ncards as usize;
        }
    }

    /// Runs a list command to the end, `page` entries per call.
    pub fn list_all<T: Default + Clone>(
        &self,
        request: &'static str,
        command: u32,
        page: u32,
    ) -> Result<Vec<T>, Error> {
        let mut all = Vec::new();
        let mut cursor = 0;
        loop {
            let (batch, next, more) = self.list_page::<T>(request, command, cursor, page)?;
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
        request: &'static str,
        command: u32,
        cursor: u64,
        capacity: u32,
    ) -> Result<(Vec<T>, u64, bool), Error> {
        let mut entries = vec![T::default(); capacity as usize];
        let mut list: abi::nitro_list = sized();
        list.entry_size = std::mem::size_of::<T>() as u32;
        list.cursor = cursor;
        list.entries = entries.as_mut_ptr() as u64;
        list.cap = capacity;
        self.ioctl(request, command, &mut list)?;
        entries.truncate(list.count as usize);
        Ok((entries, list.cursor, list.more != 0))
    }
}

/// A struct of the ABI with its `size` set and everything else zero.
pub fn sized<T: Default + Sized>() -> T {
    let mut value = T::default();
    let size = std::mem::size_of::<T>() as u32;
    // SAFETY: every ABI struct starts with `__u32 size` (the header's rule),
    // and `value` is at least 4 bytes long and properly aligned for a u32.
    unsafe { (&mut value as *mut T as *mut u32).write(size) };
    value
}

/// The path of the device, from `--device` or the default.
pub fn device_path(argument: Option<&Path>) -> PathBuf {
    argument.map_or_else(|| PathBuf::from(DEFAULT_DEVICE), Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_messages_say_what_to_do() {
        let not_found = io::Error::from(io::ErrorKind::NotFound);
        let error = open_error(Path::new("/dev/nitro_ctrl"), &not_found, false);
        assert_eq!(error.exit_code(), 3);
        assert!(error.to_string().contains("modprobe nitro_ctrl"), "{error}");
        let error = open_error(Path::new("/dev/nitro_ctrl"), &not_found, true);
        assert!(error.to_string().contains("devtmpfs"), "{error}");
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        let error = open_error(Path::new("/dev/nitro_ctrl"), &denied, true);
        assert!(
            error.to_string().contains("run nitroctl as root"),
            "{error}"
        );
    }

    #[test]
    fn opening_a_missing_node_is_unavailable() {
        let error = Controller::open(Path::new("/nonexistent/nitro_ctrl"))
            .err()
            .unwrap();
        assert_eq!(error.exit_code(), 3);
    }
}
