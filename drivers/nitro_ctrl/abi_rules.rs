// SPDX-License-Identifier: GPL-2.0

//! The rules of the ioctl ABI that do not touch kernel state: size
//! negotiation of extensible structs, command matching, card bookkeeping.
//!
//! This file depends on `core` only. It is compiled into `nitro_ctrl` and,
//! unchanged, into the host test crate of `tools/nitroctl` (`cargo test`), so
//! the same code is unit-tested on the host and run in the kernel.

/// Why a struct size given by userspace is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeError {
    /// Smaller than the first published version of the struct: `EINVAL`.
    TooSmall,
    /// Larger than any struct could reasonably be (or trailing bytes the
    /// kernel does not know are not zero): `E2BIG`.
    TooBig,
}

/// Largest struct size accepted from userspace, as `copy_struct_from_user`
/// callers such as `openat2` bound it (one page).
pub const MAX_STRUCT_SIZE: u32 = 4096;

/// How to copy an extensible struct between userspace and the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizePlan {
    /// Bytes to copy in each direction: `min(user size, kernel size)`.
    pub copy: usize,
    /// Bytes past the kernel's struct that userspace sent and that must all
    /// be zero (`user size - kernel size`, or 0).
    pub tail: usize,
}

/// Plans the copy of an extensible struct whose caller says it is
/// `user_size` bytes, for a kernel struct of `ksize` bytes first published as `min`
/// bytes (`copy_struct_from_user` semantics).
pub fn plan_struct(user_size: u32, min: usize, ksize: usize) -> Result<SizePlan, SizeError> {
    if user_size > MAX_STRUCT_SIZE {
        return Err(SizeError::TooBig);
    }
    let user_size = user_size as usize;
    if user_size < min {
        return Err(SizeError::TooSmall);
    }
    Ok(SizePlan {
        copy: user_size.min(ksize),
        tail: user_size.saturating_sub(ksize),
    })
}

/// Plans the copy of one element of an output array whose caller says its
/// elements are `esize` bytes (0 means the kernel's size).
pub fn plan_element(esize: u32, min: usize, ksize: usize) -> Result<SizePlan, SizeError> {
    let esize = if esize == 0 { ksize as u32 } else { esize };
    let plan = plan_struct(esize, min, ksize)?;
    // An output element larger than ours is padded with zeroes by the kernel,
    // so nothing needs to be checked in it.
    Ok(SizePlan {
        copy: plan.copy,
        tail: 0,
    })
}

/// Byte offset of element `index` of an array of `esize`-byte elements that
/// starts at user address `base`, or `None` on overflow.
pub fn element_addr(base: u64, index: u32, esize: u32) -> Option<u64> {
    u64::from(index)
        .checked_mul(u64::from(esize))
        .and_then(|off| base.checked_add(off))
}

/// Decoded ioctl command number (see `include/uapi/asm-generic/ioctl.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoctlCmd {
    /// Direction bits (`_IOC_READ`, `_IOC_WRITE`).
    pub dir: u32,
    /// Type byte.
    pub ty: u32,
    /// Command number.
    pub nr: u32,
    /// Size encoded in the command (ignored for matching: structs grow).
    pub size: u32,
}

impl IoctlCmd {
    /// Splits a command number into its fields.
    pub const fn decode(cmd: u32) -> Self {
        Self {
            nr: cmd & 0xff,
            ty: (cmd >> 8) & 0xff,
            size: (cmd >> 16) & 0x3fff,
            dir: cmd >> 30,
        }
    }

    /// Whether `self` names the same command as `other`: same type, number
    /// and direction, whatever struct size each was compiled with.
    pub const fn same_command(&self, other: u32) -> bool {
        command_key(Self::encode(self)) == command_key(other)
    }

    /// Puts the fields back together.
    pub const fn encode(&self) -> u32 {
        (self.dir << 30) | (self.size << 16) | (self.ty << 8) | self.nr
    }
}

/// A command number without its size field: two builds of a caller with
/// different struct sizes send the same command.
pub const fn command_key(cmd: u32) -> u32 {
    cmd & !(0x3fff << 16)
}

/// Bitmask of card kinds (`1 << kind`) for the kinds `1..=max_kind` that are
/// absent from `present`.
pub fn missing_kinds(present: impl Iterator<Item = u32>, max_kind: u32) -> u32 {
    let mut want: u32 = 0;
    for kind in 1..=max_kind.min(31) {
        want |= 1 << kind;
    }
    for kind in present {
        if kind < 32 {
            want &= !(1u32 << kind);
        }
    }
    want
}

/// Copies `name` into a fixed, NUL-terminated C name field, truncating at a
/// character boundary if needed so that the field always ends in NUL.
pub fn fill_name(field: &mut [u8], name: &str) {
    for b in field.iter_mut() {
        *b = 0;
    }
    if field.is_empty() {
        return;
    }
    let max = field.len() - 1;
    let mut end = name.len().min(max);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    field[..end].copy_from_slice(&name.as_bytes()[..end]);
}

/// Returns whether every byte of `bytes` is zero.
pub fn all_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}
