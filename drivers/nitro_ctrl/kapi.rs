// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers over the few C functions the controller calls that the
//! `kernel` crate of 7.3 does not wrap. Each is one call, with its safety
//! argument; driver logic uses these, never `bindings` directly.

use kernel::{
    bindings,
    fs::{File, LocalFile},
    prelude::*,
    sync::aref::ARef,
    task::Kuid,
};

/// Whether the current task has `CAP_SYS_ADMIN` in the initial user
/// namespace (`capable()` checks against `init_user_ns`).
pub(crate) fn capable_sys_admin() -> bool {
    // SAFETY: `capable` only reads the current task's credentials and may be
    // called from any process context, as an ioctl handler is.
    unsafe { bindings::capable(bindings::CAP_SYS_ADMIN as i32) }
}

/// 64 random bits from the kernel's CRNG.
pub(crate) fn random_u64() -> u64 {
    // SAFETY: `get_random_u64` has no preconditions and may sleep-free be
    // called from any context.
    unsafe { bindings::get_random_u64() }
}

/// CLOCK_REALTIME, in ns since the epoch.
pub(crate) fn realtime_ns() -> u64 {
    let mut ts = bindings::timespec64::default();
    // SAFETY: `ts` is a valid, writable `timespec64` for the whole call.
    unsafe { bindings::ktime_get_real_ts64(&mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// The caller's effective uid, as seen from its user namespace.
pub(crate) fn current_uid() -> u32 {
    Kuid::current_euid().into_uid_in_current_ns()
}

/// A reference to the file the caller's descriptor `fd` names.
pub(crate) fn file_from_fd(fd: i32) -> Result<ARef<File>> {
    let fd = u32::try_from(fd).map_err(|_| EBADF)?;
    let local = LocalFile::fget(fd)?;
    // SAFETY: Called from an ioctl of the controller, which never takes the
    // file position lock (`fdget_pos`); the file is only read at explicit
    // offsets (`read_file`).
    Ok(unsafe { LocalFile::assume_no_fdget_pos(local) })
}

/// Reads the start of `file` (from offset 0) into `buf`; gives the bytes
/// read.
pub(crate) fn read_file(file: &File, buf: &mut [u8]) -> Result<usize> {
    let mut pos: bindings::loff_t = 0;
    // SAFETY: `file` is a live file (we hold a reference); `buf` is writable
    // for its length; `pos` is a local.
    let n = unsafe {
        bindings::kernel_read(file.as_ptr(), buf.as_mut_ptr().cast(), buf.len(), &mut pos)
    };
    usize::try_from(n).map_err(|_| Error::from_errno(n as i32))
}
