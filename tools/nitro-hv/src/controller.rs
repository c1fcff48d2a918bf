//! The controller, `/dev/nitro_ctrl`, as its hypervisor uses it: register
//! for a host, take the next command (with the reports of instances whose
//! init exited), report a command's result, and describe an instance.

use crate::{
    abi,
    sys::{Errno, Failure, Result},
};
use std::{
    fs::{File, OpenOptions},
    io,
    mem::size_of,
    os::fd::AsRawFd,
    path::Path,
};

/// The default device node.
pub const DEFAULT_DEVICE: &str = "/dev/nitro_ctrl";

/// An open controller. Once registered, closing it (dropping this, or the
/// process ending in any way) is the hypervisor going away.
#[derive(Debug)]
pub struct Controller {
    file: File,
}

/// The size field of an ABI struct: the size this program was built with.
fn size<T>() -> u32 {
    size_of::<T>() as u32
}

/// What to tell a person who cannot open `path`.
fn open_failure(path: &Path, error: &io::Error) -> Failure {
    let p = path.display();
    let errno = Errno::from_io(error);
    let what = match error.kind() {
        io::ErrorKind::NotFound if !Path::new("/sys/module/nitro_ctrl").exists() => {
            format!("open {p}: the nitro_ctrl module is not loaded (modprobe nitro_ctrl)")
        }
        io::ErrorKind::PermissionDenied => {
            format!("open {p}: the controller is root-only (run nitro-hv as root)")
        }
        _ => format!("open {p}"),
    };
    Failure { what, errno }
}

impl Controller {
    /// Opens the controller at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        OpenOptions::new()
            .read(true)
            .open(path)
            .map(|file| Controller { file })
            .map_err(|e| open_failure(path, &e))
    }

    /// Issues ioctl `command` on `arg`.
    fn ioctl<T>(&self, command: u32, arg: &mut T) -> std::result::Result<(), Errno> {
        // SAFETY: `arg` is a valid, exclusive `#[repr(C)]` struct (bindgen's)
        // of the type `command` takes, alive for the whole call.
        let rc = unsafe { libc::ioctl(self.file.as_raw_fd(), command as _, arg as *mut T) };
        if rc < 0 {
            Err(Errno::last())
        } else {
            Ok(())
        }
    }

    /// `NITRO_IOC_HV_REGISTER`: this open file becomes the hypervisor of
    /// `host`.
    pub fn register(&self, host: u32) -> std::result::Result<(), Errno> {
        let mut r = abi::nitro_hv_register {
            size: size::<abi::nitro_hv_register>(),
            host,
            ..Default::default()
        };
        self.ioctl(abi::NITRO_IOC_HV_REGISTER, &mut r)
    }

    /// `NITRO_IOC_HV_NEXT`: reports `exited` (instances whose init exited),
    /// then waits at most `timeout_ms` for the next command. Its devices are
    /// written to `devices` (room for `NITRO_HV_DEVICES_MAX`), its launch
    /// command to `args` (room for `NITRO_COMMAND_MAX` bytes).
    ///
    /// The reports are taken before the wait: once the call returns, with a
    /// command, `ETIMEDOUT` or `EINTR`, they have been delivered.
    pub fn next(
        &self,
        exited: &[u64],
        timeout_ms: u32,
        devices: &mut [abi::nitro_hv_device],
        args: &mut [u8],
    ) -> std::result::Result<abi::nitro_hv_command, Errno> {
        assert!(devices.len() >= abi::NITRO_HV_DEVICES_MAX as usize);
        assert!(args.len() >= abi::NITRO_COMMAND_MAX as usize);
        let mut c = abi::nitro_hv_command {
            size: size::<abi::nitro_hv_command>(),
            timeout_ms,
            exited: if exited.is_empty() {
                0
            } else {
                exited.as_ptr() as u64
            },
            nexited: exited.len() as u32,
            devices: devices.as_mut_ptr() as u64,
            args: args.as_mut_ptr() as u64,
            ..Default::default()
        };
        self.ioctl(abi::NITRO_IOC_HV_NEXT, &mut c)?;
        Ok(c)
    }

    /// `NITRO_IOC_HV_DONE`: the result of command `seq`.
    pub fn done(&self, result: &mut abi::nitro_hv_result) -> std::result::Result<(), Errno> {
        result.size = size::<abi::nitro_hv_result>();
        loop {
            match self.ioctl(abi::NITRO_IOC_HV_DONE, result) {
                Err(Errno(libc::EINTR)) => continue,
                other => return other,
            }
        }
    }

    /// `NITRO_IOC_INSTANCE_DESCRIBE`.
    pub fn describe(&self, id: u64) -> std::result::Result<abi::nitro_instance_info, Errno> {
        let mut d = abi::nitro_instance_describe {
            size: size::<abi::nitro_instance_describe>(),
            id,
            ..Default::default()
        };
        self.ioctl(abi::NITRO_IOC_INSTANCE_DESCRIBE, &mut d)?;
        Ok(d.info)
    }
}

/// A result for command `seq` that says only `error` (0 or an errno): no
/// pid, no descriptors (-1: descriptor 0 would be taken for one), no output.
pub fn result(seq: u64, error: i32) -> abi::nitro_hv_result {
    abi::nitro_hv_result {
        size: size::<abi::nitro_hv_result>(),
        error,
        seq,
        cpu_stat_fd: -1,
        memory_fd: -1,
        memory_peak_fd: -1,
        ..Default::default()
    }
}

/// Why registering failed, for a person.
pub fn register_failure(host: u32, device: &Path, e: Errno) -> Failure {
    let what = match e.0 {
        libc::EBUSY => format!("host {host} already has a hypervisor"),
        libc::ENODEV => format!("there is no VPC card host {host} (nitroctl host create)"),
        libc::EPERM => "registering needs CAP_SYS_ADMIN (run nitro-hv as root)".to_string(),
        libc::ENOTTY => format!(
            "{}: the loaded nitro_ctrl has no hypervisor channel (older than nitro-hv?)",
            device.display()
        ),
        _ => format!("register as the hypervisor of host {host}"),
    };
    Failure { what, errno: e }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_results_carry_no_descriptor() {
        let r = result(7, libc::EIO);
        assert_eq!((r.seq, r.error), (7, libc::EIO));
        assert_eq!((r.cpu_stat_fd, r.memory_fd, r.memory_peak_fd), (-1, -1, -1));
        assert_eq!((r.buf, r.len, r.pid), (0, 0, 0));
        assert_eq!(r.size as usize, size_of::<abi::nitro_hv_result>());
    }

    #[test]
    fn register_failures_say_what_to_do() {
        let dev = Path::new(DEFAULT_DEVICE);
        let busy = register_failure(2, dev, Errno(libc::EBUSY));
        assert_eq!(
            busy.to_string(),
            "host 2 already has a hypervisor: Device or resource busy (EBUSY)"
        );
        let none = register_failure(9, dev, Errno(libc::ENODEV)).to_string();
        assert!(
            none.contains("no VPC card host 9") && none.ends_with("(ENODEV)"),
            "{none}"
        );
    }

    #[test]
    fn a_missing_node_is_a_clear_failure() {
        let f = Controller::open(Path::new("/nonexistent/nitro_ctrl")).unwrap_err();
        assert_eq!(f.errno, Errno(libc::ENOENT));
        assert!(f.to_string().contains("/nonexistent/nitro_ctrl"), "{f}");
    }
}
