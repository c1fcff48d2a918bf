// SPDX-License-Identifier: GPL-2.0

//! An EBS volume's backing store, the "storage server": a regular file or a
//! block device that the caller opened and handed over by descriptor at
//! create time. The card keeps its own reference and reads and writes it at
//! explicit positions (never through the file position, which the caller's
//! descriptor shares). Only ciphertext is ever written to it. Every call
//! here may sleep: they run in process context (the create and passthrough
//! ioctls) or in the card's I/O work queue, never in `queue_rq`.

use core::ffi::c_void;
use kernel::{
    bindings,
    fs::{File, LocalFile},
    prelude::*,
    sync::aref::ARef,
};

// The glue of nitro_nvme_glue.c; the `struct file` pointer is passed as
// `void *` (its Rust type is not FFI-safe to name here).
extern "C" {
    fn nitro_nvme_file_size(file: *mut c_void) -> i64;
}

/// A backing file or device, open for reading and writing.
pub(crate) struct Backing {
    file: ARef<File>,
}

impl Backing {
    /// Takes a reference to descriptor `fd` of the calling process, which
    /// must be a regular file or a block device open read-write (else
    /// `EBADF`, as `LOOP_CONFIGURE` answers).
    pub(crate) fn from_fd(fd: i32) -> Result<Self> {
        let fd = u32::try_from(fd).map_err(|_| EBADF)?;
        let local = LocalFile::fget(fd)?;
        // Called from an ioctl of the controller, which never takes the file
        // position lock; the card reads and writes at explicit offsets only.
        // SAFETY: no `fdget_pos` of this file is active on this thread.
        let file = unsafe { LocalFile::assume_no_fdget_pos(local) };
        if file.flags() & bindings::O_ACCMODE != bindings::O_RDWR {
            return Err(EBADF);
        }
        // SAFETY: the file is live (we hold a reference); its mapping's host
        // inode lives as long as the file.
        let mode = u32::from(unsafe { (*(*(*file.as_ptr()).f_mapping).host).i_mode });
        let kind = mode & bindings::S_IFMT;
        if kind != bindings::S_IFREG && kind != bindings::S_IFBLK {
            return Err(EBADF);
        }
        Ok(Self { file })
    }

    /// Size in bytes (of the file, or of the block device).
    pub(crate) fn size(&self) -> u64 {
        // SAFETY: the file is live.
        let n = unsafe { nitro_nvme_file_size(self.file.as_ptr().cast()) };
        u64::try_from(n).unwrap_or(0)
    }

    /// Reads exactly `buf.len()` bytes at byte `pos`. Running into the end
    /// (the file shrank under the card) is an I/O error.
    pub(crate) fn read_at(&self, mut pos: u64, mut buf: &mut [u8]) -> Result {
        while !buf.is_empty() {
            let mut off = i64::try_from(pos).map_err(|_| EIO)?;
            // SAFETY: the file is live; `buf` is writable for its length;
            // `off` is a local the call updates.
            let n = unsafe {
                bindings::kernel_read(
                    self.file.as_ptr(),
                    buf.as_mut_ptr().cast::<c_void>(),
                    buf.len(),
                    &mut off,
                )
            };
            let n = usize::try_from(n).map_err(|_| Error::from_errno(n as i32))?;
            if n == 0 {
                return Err(EIO);
            }
            buf = &mut buf[n..];
            pos += n as u64;
        }
        Ok(())
    }

    /// Writes all of `buf` at byte `pos`.
    pub(crate) fn write_at(&self, mut pos: u64, mut buf: &[u8]) -> Result {
        while !buf.is_empty() {
            let mut off = i64::try_from(pos).map_err(|_| EIO)?;
            // SAFETY: as in `read_at`; `buf` is readable for its length.
            let n = unsafe {
                bindings::kernel_write(
                    self.file.as_ptr(),
                    buf.as_ptr().cast::<c_void>(),
                    buf.len(),
                    &mut off,
                )
            };
            let n = usize::try_from(n).map_err(|_| Error::from_errno(n as i32))?;
            if n == 0 {
                return Err(EIO);
            }
            buf = &buf[n..];
            pos += n as u64;
        }
        Ok(())
    }

    /// Makes what was written durable on the storage (a guest flush).
    pub(crate) fn sync(&self) -> Result {
        // SAFETY: the file is live.
        let r = unsafe { bindings::vfs_fsync(self.file.as_ptr(), 0) };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }
}
