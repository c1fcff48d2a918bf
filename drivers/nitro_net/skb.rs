// SPDX-License-Identifier: GPL-2.0

//! Socket buffers, as the card uses them: a safe owner of one `sk_buff`.
//!
//! `struct sk_buff` is opaque to Rust in kernel 7.3 and has no abstraction:
//! the few accessors the card needs are C glue (`nitro_net_glue.c`). The
//! card reads frames it is given with [`Skb::copy_out`] (which works on any
//! layout) and builds every packet it sends in a fresh, linear buffer
//! ([`Skb::alloc`], [`Skb::put`]).

use core::ffi::{c_int, c_uint, c_void};
use core::ptr::NonNull;
use kernel::{bindings, prelude::*};

extern "C" {
    fn nitro_net_skb_len(skb: *const bindings::sk_buff) -> c_uint;
    fn nitro_net_skb_data(skb: *const bindings::sk_buff) -> *mut u8;
    fn nitro_net_alloc_skb(size: c_uint) -> *mut bindings::sk_buff;
    fn nitro_net_skb_reserve(skb: *mut bindings::sk_buff, len: c_uint);
    fn nitro_net_skb_tailroom(skb: *const bindings::sk_buff) -> c_uint;
    fn nitro_net_skb_linearize(skb: *mut bindings::sk_buff) -> c_int;
    fn nitro_net_kfree_skb(skb: *mut bindings::sk_buff);
    fn nitro_net_skb_saddr(skb: *const bindings::sk_buff) -> u32;
    fn skb_put(skb: *mut bindings::sk_buff, len: c_uint) -> *mut c_void;
    fn skb_pull(skb: *mut bindings::sk_buff, len: c_uint) -> *mut c_void;
    fn skb_copy_bits(
        skb: *const bindings::sk_buff,
        offset: c_int,
        to: *mut c_void,
        len: c_int,
    ) -> c_int;
    fn nitro_net_consume_skb(skb: *mut bindings::sk_buff);
}

/// An `sk_buff` the card owns: dropping it frees it as a drop
/// (`kfree_skb`); [`Skb::consume`] frees it as delivered.
pub(crate) struct Skb(NonNull<bindings::sk_buff>);

// SAFETY: An `sk_buff` may be freed or handed on from any CPU; `Skb` is its
// only owner.
unsafe impl Send for Skb {}

impl Skb {
    /// Takes ownership of `skb`.
    ///
    /// # Safety
    ///
    /// `skb` must be a valid socket buffer whose ownership the caller gives
    /// away (as a transmit or encapsulation receive callback may).
    pub(crate) unsafe fn from_raw(skb: *mut bindings::sk_buff) -> Option<Self> {
        NonNull::new(skb).map(Self)
    }

    /// Gives up ownership (to a kernel function that consumes the buffer).
    pub(crate) fn into_raw(self) -> *mut bindings::sk_buff {
        let p = self.0.as_ptr();
        core::mem::forget(self);
        p
    }

    /// A new, empty, linear buffer with `headroom` bytes reserved in front
    /// and room for `len` bytes of data (atomic allocation).
    pub(crate) fn alloc(headroom: usize, len: usize) -> Result<Self> {
        let total = u32::try_from(headroom + len).map_err(|_| EMSGSIZE)?;
        // SAFETY: Plain allocation, any context.
        let skb = NonNull::new(unsafe { nitro_net_alloc_skb(total) }).ok_or(ENOMEM)?;
        // SAFETY: `skb` is new and empty, `headroom` is within its size.
        unsafe { nitro_net_skb_reserve(skb.as_ptr(), headroom as u32) };
        Ok(Self(skb))
    }

    /// Length of the data, in bytes.
    pub(crate) fn len(&self) -> usize {
        // SAFETY: `self.0` is a valid buffer we own.
        unsafe { nitro_net_skb_len(self.0.as_ptr()) as usize }
    }

    /// Appends `len` bytes (zeroed) and returns them; `EMSGSIZE` if the
    /// buffer has no room for them.
    pub(crate) fn put(&mut self, len: usize) -> Result<&mut [u8]> {
        // SAFETY: We own the buffer.
        if len > unsafe { nitro_net_skb_tailroom(self.0.as_ptr()) } as usize {
            return Err(EMSGSIZE);
        }
        // SAFETY: We own the buffer, which has room (checked above).
        let p = unsafe { skb_put(self.0.as_ptr(), len as u32) }.cast::<u8>();
        // SAFETY: `skb_put` returned `len` writable bytes inside the buffer,
        // borrowed for as long as `self` is.
        let s = unsafe { core::slice::from_raw_parts_mut(p, len) };
        s.fill(0);
        Ok(s)
    }

    /// Removes `len` bytes from the front (at most [`Skb::len`]).
    pub(crate) fn pull(&mut self, len: usize) {
        let len = len.min(self.len());
        // SAFETY: We own the buffer and pull no more than it holds.
        unsafe { skb_pull(self.0.as_ptr(), len as u32) };
    }

    /// Copies `out.len()` bytes from `offset` (any buffer layout). Fails
    /// with `EINVAL` if the buffer is shorter.
    pub(crate) fn copy_out(&self, offset: usize, out: &mut [u8]) -> Result {
        // SAFETY: We own the buffer; `skb_copy_bits` checks the range against
        // its length and writes at most `out.len()` bytes.
        let r = unsafe {
            skb_copy_bits(
                self.0.as_ptr(),
                offset as c_int,
                out.as_mut_ptr().cast(),
                out.len() as c_int,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }

    /// Makes the data one linear run and returns it.
    pub(crate) fn linear(&mut self) -> Result<&[u8]> {
        // SAFETY: We own the buffer.
        if unsafe { nitro_net_skb_linearize(self.0.as_ptr()) } != 0 {
            return Err(ENOMEM);
        }
        let len = self.len();
        // SAFETY: After a successful linearisation the `len` bytes at `data`
        // are the buffer's whole data, readable while `self` is borrowed.
        Ok(unsafe { core::slice::from_raw_parts(nitro_net_skb_data(self.0.as_ptr()), len) })
    }

    /// The IPv4 source address of a buffer received on a UDP socket.
    pub(crate) fn ipv4_source(&self) -> u32 {
        // SAFETY: Only called for buffers handed to the underlay socket's
        // receive callback, whose network header is an IPv4 header.
        unsafe { nitro_net_skb_saddr(self.0.as_ptr()) }
    }

    /// Frees the buffer as used, not dropped.
    pub(crate) fn consume(self) {
        // SAFETY: We own the buffer and give it up here.
        unsafe { nitro_net_consume_skb(self.into_raw()) };
    }
}

impl Drop for Skb {
    fn drop(&mut self) {
        // SAFETY: We own the buffer; dropping it unused counts as a drop.
        unsafe { nitro_net_kfree_skb(self.0.as_ptr()) };
    }
}
