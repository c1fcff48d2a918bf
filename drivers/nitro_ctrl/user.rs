// SPDX-License-Identifier: GPL-2.0

//! Copying extensible ABI structs to and from userspace, with the size rules
//! of `abi_rules` (the `copy_struct_from_user` contract of `openat2`).

use crate::abi_rules::{all_zero, element_addr, plan_element, plan_struct, SizeError};
use kernel::{
    prelude::*,
    transmute::{AsBytes, FromBytes},
    uaccess::{UserPtr, UserSlice},
};

impl From<SizeError> for Error {
    fn from(e: SizeError) -> Error {
        match e {
            SizeError::TooSmall => EINVAL,
            SizeError::TooBig => E2BIG,
        }
    }
}

/// An extensible struct read from userspace, to be written back with the
/// size the caller used.
pub(crate) struct InOut<T> {
    /// The struct, with fields the caller did not send zeroed.
    pub(crate) val: T,
    addr: usize,
    /// The size the caller gave (the struct's `size` field as read).
    user_size: u32,
}

/// A struct whose first field is its `size`.
pub(crate) trait Extensible: FromBytes + AsBytes + Default {
    /// Size of the first published version: smaller sizes are `EINVAL`.
    const MIN: usize;
    /// Sets the `size` field.
    fn set_size(&mut self, size: u32);
}

impl<T: Extensible> InOut<T> {
    /// Reads the struct at user address `addr`.
    ///
    /// Errors: `EFAULT` for a bad pointer, `EINVAL` for a size below
    /// `T::MIN`, `E2BIG` for a size above one page or for non-zero bytes past
    /// the kernel's struct.
    pub(crate) fn read(addr: usize) -> Result<Self> {
        let user_size: u32 = UserSlice::new(UserPtr::from_addr(addr), 4)
            .reader()
            .read()?;
        let ksize = core::mem::size_of::<T>();
        let plan = plan_struct(user_size, T::MIN, ksize)?;
        let val = read_prefix(addr, plan.copy, plan.tail)?;
        Ok(Self {
            val,
            addr,
            user_size,
        })
    }

    /// Checks that the answer can be written, before acting on a request
    /// whose effect the caller must learn (a new id): writes back the bytes
    /// exactly as they were read.
    pub(crate) fn probe_writable(&self) -> Result {
        let n = (self.user_size as usize).min(core::mem::size_of::<T>());
        UserSlice::new(UserPtr::from_addr(self.addr), n)
            .writer()
            .write_slice(&self.val.as_bytes()[..n])
    }

    /// Writes the struct back: `min(caller size, kernel size)` bytes, with
    /// `size` set to the kernel's size.
    pub(crate) fn write_back(mut self) -> Result {
        let ksize = core::mem::size_of::<T>();
        self.val.set_size(ksize as u32);
        let n = (self.user_size as usize).min(ksize);
        UserSlice::new(UserPtr::from_addr(self.addr), n)
            .writer()
            .write_slice(&self.val.as_bytes()[..n])
    }
}

/// Writes element `index` of a user array of `esize`-byte elements at `base`.
/// Elements larger than the kernel's are zero-padded.
pub(crate) fn write_element<T: AsBytes>(
    base: u64,
    index: u32,
    esize: u32,
    min: usize,
    val: &T,
) -> Result {
    let ksize = core::mem::size_of::<T>();
    let plan = plan_element(esize, min, ksize)?;
    let esize = if esize == 0 { ksize as u32 } else { esize };
    let addr = element_addr(base, index, esize).ok_or(EFAULT)?;
    let addr = usize::try_from(addr).map_err(|_| EFAULT)?;
    let mut w = UserSlice::new(UserPtr::from_addr(addr), esize as usize).writer();
    w.write_slice(&val.as_bytes()[..plan.copy])?;
    let zeros = [0u8; 64];
    let mut left = esize as usize - plan.copy;
    while left > 0 {
        let n = left.min(zeros.len());
        w.write_slice(&zeros[..n])?;
        left -= n;
    }
    Ok(())
}

/// Reads element `index` of a user array of `esize`-byte elements at `base`
/// (0 means the kernel's size). Bytes past the kernel's element must be
/// zero (`E2BIG`); elements smaller than `min` are `EINVAL`.
pub(crate) fn read_element<T: FromBytes + AsBytes + Default>(
    base: u64,
    index: u32,
    esize: u32,
    min: usize,
) -> Result<T> {
    let ksize = core::mem::size_of::<T>();
    let esize = if esize == 0 { ksize as u32 } else { esize };
    let plan = plan_struct(esize, min, ksize)?;
    let addr = element_addr(base, index, esize).ok_or(EFAULT)?;
    let addr = usize::try_from(addr).map_err(|_| EFAULT)?;
    read_prefix(addr, plan.copy, plan.tail)
}

/// Reads `copy` bytes of a `T` from user address `addr`, then checks that
/// the `tail` bytes after them (what the caller's version has and the
/// kernel's does not) are zero: `E2BIG` if not.
fn read_prefix<T: FromBytes + AsBytes + Default>(
    addr: usize,
    copy: usize,
    tail: usize,
) -> Result<T> {
    let mut reader = UserSlice::new(UserPtr::from_addr(addr), copy + tail).reader();
    let mut val = T::default();
    reader.read_slice(&mut val.as_bytes_mut()[..copy])?;
    let mut left = tail;
    let mut chunk = [0u8; 64];
    while left > 0 {
        let n = left.min(chunk.len());
        reader.read_slice(&mut chunk[..n])?;
        if !all_zero(&chunk[..n]) {
            return Err(E2BIG);
        }
        left -= n;
    }
    Ok(val)
}

/// Reads `len` bytes from user address `addr`.
pub(crate) fn read_bytes(addr: u64, len: usize) -> Result<KVVec<u8>> {
    let addr = usize::try_from(addr).map_err(|_| EFAULT)?;
    let mut out = KVVec::new();
    UserSlice::new(UserPtr::from_addr(addr), len)
        .reader()
        .read_all(&mut out, GFP_KERNEL)?;
    Ok(out)
}

/// Writes `data` to user address `addr`.
pub(crate) fn write_bytes(addr: u64, data: &[u8]) -> Result {
    let addr = usize::try_from(addr).map_err(|_| EFAULT)?;
    UserSlice::new(UserPtr::from_addr(addr), data.len())
        .writer()
        .write_slice(data)
}
