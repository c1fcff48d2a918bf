// SPDX-License-Identifier: GPL-2.0

//! Scatterlists over socket buffers, for the AEAD calls: the cipher reads a
//! frame where the stack left it (head and page fragments, or the pieces of
//! a reassembled datagram) and writes into the buffer the card sends or
//! delivers, so that no byte is copied or cleared beforehand.
//!
//! An [`SgList`] borrows the buffers it describes for as long as it lives.

use crate::{ffi, skb::Skb};
use core::{ffi::c_int, marker::PhantomData};
use kernel::prelude::*;

/// Entries of a list that takes any frame an ENI sends (its head and up to
/// `MAX_SKB_FRAGS` page fragments) behind a header, or a datagram
/// reassembled from a few fragments.
pub(crate) const SG_FRAME: usize = ffi::MAX_SKB_FRAGS as usize + 8;

/// A scatterlist of up to `N` entries over buffers borrowed for `'a`.
pub(crate) struct SgList<'a, const N: usize> {
    sg: [ffi::scatterlist; N],
    used: usize,
    _bufs: PhantomData<&'a Skb>,
}

impl<'a, const N: usize> SgList<'a, N> {
    /// An empty list.
    pub(crate) fn new() -> Self {
        Self {
            sg: core::array::from_fn(|_| ffi::scatterlist::default()),
            used: 0,
            _bufs: PhantomData,
        }
    }

    /// Appends the entries for `len` bytes of `skb` from `offset`.
    /// `EMSGSIZE` if they might not fit (the buffer has too many pieces),
    /// `EINVAL` if the range is not in the buffer.
    pub(crate) fn push(&mut self, skb: &'a Skb, offset: usize, len: usize) -> Result {
        let room = N - self.used;
        if skb.sg_entries().is_none_or(|n| n > room) {
            return Err(EMSGSIZE);
        }
        let end = offset.checked_add(len).ok_or(EINVAL)?;
        if len == 0 || end > skb.len() {
            return Err(EINVAL);
        }
        let (off, n) = (c_int::try_from(offset)?, c_int::try_from(len)?);
        // We own `room` entries from `used`, checked against the buffer's
        // bound above, which `skb_to_sgvec_nomark` cannot exceed.
        // SAFETY: The range is in the buffer, borrowed for `'a`; see above.
        let n = unsafe {
            ffi::skb_to_sgvec_nomark(skb.as_raw(), self.sg.as_mut_ptr().add(self.used), off, n)
        };
        if n <= 0 {
            return Err(EINVAL);
        }
        self.used += n as usize;
        Ok(())
    }

    /// Ends the list and gives it to a function that walks it; the list
    /// and the buffers it covers stay borrowed while the result is used.
    pub(crate) fn finish(&mut self) -> Result<*mut ffi::scatterlist> {
        let last = self.used.checked_sub(1).ok_or(EINVAL)?;
        // SAFETY: `last` is an entry we filled.
        unsafe { ffi::nitro_net_sg_mark_end(&mut self.sg[last]) };
        Ok(self.sg.as_mut_ptr())
    }
}
