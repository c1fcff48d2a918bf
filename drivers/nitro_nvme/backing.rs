// SPDX-License-Identifier: GPL-2.0

//! An EBS volume's backing store, the "storage server": a regular file or a
//! block device that the caller opened and handed over by descriptor at
//! create time. The card keeps its own reference and reads and writes it at
//! explicit positions (never through the file position, which the caller's
//! descriptor shares). Only ciphertext is ever written to it. Every call
//! here may sleep: they run in process context (the create and passthrough
//! ioctls) or in the card's I/O work queue, never in `queue_rq`.

use crate::ffi;
use core::ffi::c_void;
use kernel::{
    fs::{File, LocalFile},
    prelude::*,
    sync::aref::ARef,
};

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
        if file.flags() & ffi::O_ACCMODE != ffi::O_RDWR {
            return Err(EBADF);
        }
        let host = Self::host(&file);
        // SAFETY: the inode lives as long as the file; its type never
        // changes.
        let mode = u32::from(unsafe { (*host).i_mode });
        let kind = mode & ffi::S_IFMT;
        if kind != ffi::S_IFREG && kind != ffi::S_IFBLK {
            return Err(EBADF);
        }
        Ok(Self { file })
    }

    /// The inode of `file`'s data: the file's own, or the block device's
    /// for a device node (`f_mapping->host`).
    fn host(file: &File) -> *mut ffi::inode {
        // SAFETY: the file is live (borrowed); its mapping and the mapping's
        // host inode live as long as it does.
        unsafe { (*(*file.as_ptr()).f_mapping).host }
    }

    /// Size in bytes (of the file, or of the block device).
    pub(crate) fn size(&self) -> u64 {
        // SAFETY: the inode lives as long as the file, which we hold.
        let n = unsafe { ffi::nitro_nvme_i_size_read(Self::host(&self.file)) };
        u64::try_from(n).unwrap_or(0)
    }

    /// Reads exactly `buf.len()` bytes at byte `pos`. Running into the end
    /// (the file shrank under the card) is an I/O error.
    pub(crate) fn read_at(&self, pos: u64, buf: &mut [u8]) -> Result {
        let (file, base, len) = (self.file.as_ptr(), buf.as_mut_ptr(), buf.len());
        each_chunk(pos, len, |done, off| {
            // SAFETY: the file is live; `base + done` is writable for
            // `len - done` bytes (within `buf`); `off` is a local.
            unsafe { ffi::kernel_read(file, base.add(done).cast::<c_void>(), len - done, off) }
        })
    }

    /// Writes all of `buf` at byte `pos`.
    pub(crate) fn write_at(&self, pos: u64, buf: &[u8]) -> Result {
        let (file, base, len) = (self.file.as_ptr(), buf.as_ptr(), buf.len());
        each_chunk(pos, len, |done, off| {
            // SAFETY: as in `read_at`; `base + done` is readable for
            // `len - done` bytes.
            unsafe { ffi::kernel_write(file, base.add(done).cast::<c_void>(), len - done, off) }
        })
    }

    /// Makes what was written durable on the storage (a guest flush).
    pub(crate) fn sync(&self) -> Result {
        // SAFETY: the file is live.
        let r = unsafe { ffi::vfs_fsync(self.file.as_ptr(), 0) };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }
}

/// Calls `io(done, offset)` until `len` bytes are done, `done` counting
/// what earlier calls moved and `offset` the file position to use; `io`
/// gives the bytes moved or a negative errno. Moving nothing is an error.
fn each_chunk(pos: u64, len: usize, mut io: impl FnMut(usize, &mut i64) -> isize) -> Result {
    let mut done = 0;
    while done < len {
        let mut off = i64::try_from(pos + done as u64).map_err(|_| EIO)?;
        let n = io(done, &mut off);
        let n = usize::try_from(n).map_err(|_| Error::from_errno(n as i32))?;
        if n == 0 {
            return Err(EIO);
        }
        done += n;
    }
    Ok(())
}
