// SPDX-License-Identifier: GPL-2.0

//! Socket buffers, as the card uses them: a safe owner of one `sk_buff`.
//!
//! `struct sk_buff` is opaque to Rust in kernel 7.3 and has no abstraction:
//! the few accessors the card needs are C glue (`nitro_net_glue.c`). The
//! card reads frames it is given with [`Skb::copy_out`] (which works on any
//! layout) and builds every packet it sends in a fresh buffer
//! ([`Skb::alloc`], [`Skb::put`]): linear, or, for a sealed datagram larger
//! than the underlay's MTU, in pieces cut where IP will fragment it
//! ([`Skb::put_unfilled_split`]).

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
    fn nitro_net_skb_offload(skb: *const bindings::sk_buff, o: *mut Offload);
    fn nitro_net_skb_set_csum_partial(skb: *mut bindings::sk_buff, start: u16, offset: u16)
        -> bool;
    fn nitro_net_skb_set_tso4(skb: *mut bindings::sk_buff, gso_size: u16);
    fn nitro_net_gso_segment(skb: *mut bindings::sk_buff) -> *mut bindings::sk_buff;
    fn nitro_net_skb_unlink_next(skb: *mut bindings::sk_buff) -> *mut bindings::sk_buff;
    fn skb_checksum_help(skb: *mut bindings::sk_buff) -> c_int;
    fn skb_put(skb: *mut bindings::sk_buff, len: c_uint) -> *mut c_void;
    fn skb_pull(skb: *mut bindings::sk_buff, len: c_uint) -> *mut c_void;
    fn skb_copy_bits(
        skb: *const bindings::sk_buff,
        offset: c_int,
        to: *mut c_void,
        len: c_int,
    ) -> c_int;
    fn nitro_net_consume_skb(skb: *mut bindings::sk_buff);
    fn nitro_net_skb_nr_frags(skb: *const bindings::sk_buff) -> c_uint;
    fn nitro_net_skb_frag_list(skb: *const bindings::sk_buff) -> *mut bindings::sk_buff;
    fn nitro_net_skb_next(skb: *const bindings::sk_buff) -> *mut bindings::sk_buff;
    fn skb_trim(skb: *mut bindings::sk_buff, len: c_uint);
    fn nitro_net_skb_set_frag_list(skb: *mut bindings::sk_buff, list: *mut bindings::sk_buff);
    fn nitro_net_skb_set_next(skb: *mut bindings::sk_buff, next: *mut bindings::sk_buff);
    fn nitro_net_skb_len_add(skb: *mut bindings::sk_buff, delta: c_uint);
    fn nitro_net_skb_truesize(skb: *const bindings::sk_buff) -> c_uint;
    fn nitro_net_skb_add_truesize(skb: *mut bindings::sk_buff, delta: c_uint);
}

/// A frame's offload state (`struct nitro_net_offload` of the glue).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Offload {
    /// Where the checksum's coverage starts, from the frame's first byte.
    pub(crate) csum_start: u16,
    /// Where the checksum goes, from `csum_start`.
    pub(crate) csum_offset: u16,
    /// Segment size of a GSO frame; 0 for a single frame.
    pub(crate) gso_size: u16,
    /// Whether the checksum is left to finish (`CHECKSUM_PARTIAL`).
    pub(crate) partial: u8,
    pad: u8,
    /// `SKB_GSO_*` bits.
    pub(crate) gso_type: u32,
}

impl Offload {
    /// Whether this is a TCP/IPv4 super-packet and nothing else.
    pub(crate) fn is_tso4(&self) -> bool {
        let tcp4 = bindings::SKB_GSO_TCPV4 as u32;
        let dodgy = bindings::SKB_GSO_DODGY as u32;
        self.gso_size != 0 && self.gso_type & tcp4 != 0 && self.gso_type & !(tcp4 | dodgy) == 0
    }
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
    /// buffer has no room for them (a buffer with pieces has none).
    pub(crate) fn put(&mut self, len: usize) -> Result<&mut [u8]> {
        if len == 0 {
            return Ok(&mut []);
        }
        // SAFETY: We own the buffer.
        if len > unsafe { nitro_net_skb_tailroom(self.0.as_ptr()) } as usize {
            return Err(EMSGSIZE);
        }
        // SAFETY: We own the buffer, which has room (checked above), so it
        // is linear (`skb_tailroom` is 0 for any other): `skb_put` allows it.
        let p = unsafe { skb_put(self.0.as_ptr(), len as u32) }.cast::<u8>();
        // SAFETY: `skb_put` returned `len` writable bytes inside the buffer,
        // borrowed for as long as `self` is.
        let s = unsafe { core::slice::from_raw_parts_mut(p, len) };
        s.fill(0);
        Ok(s)
    }

    /// Appends `len` bytes without writing them, for a kernel function to
    /// fill through a scatterlist (the cipher, in `gcm.rs`): nothing is
    /// cleared that is about to be overwritten. `EMSGSIZE` if the buffer has
    /// no room for them.
    ///
    /// # Safety
    ///
    /// The caller must have every one of these bytes written, or take them
    /// off again with [`Skb::trim`], before the buffer is read, sent or
    /// delivered.
    pub(crate) unsafe fn put_unfilled(&mut self, len: usize) -> Result {
        if len == 0 {
            return Ok(());
        }
        // SAFETY: We own the buffer.
        if len > unsafe { nitro_net_skb_tailroom(self.0.as_ptr()) } as usize {
            return Err(EMSGSIZE);
        }
        // SAFETY: As in `put`: room (checked above) means linear.
        unsafe { skb_put(self.0.as_ptr(), len as u32) };
        Ok(())
    }

    /// Appends `len` bytes without writing them, as [`Skb::put_unfilled`],
    /// laid out for IP fragmentation: the head takes bytes up to `first` in
    /// all, the rest go in new buffers of `piece` bytes (the last one
    /// shorter), each with `headroom` in front, on the fragment list. That
    /// is the geometry `ip_do_fragment` sends as it is, each piece as one
    /// fragment, where a linear datagram would be copied into new
    /// fragments; and no allocation is larger than one piece. The buffer
    /// must be linear and its fragment list empty (`EINVAL`).
    ///
    /// # Safety
    ///
    /// The caller must have every one of these bytes written before the
    /// buffer is read or sent, or else drop it ([`Skb::trim`] does not take
    /// pieces off). On an error, bytes may have been appended: the same
    /// holds.
    pub(crate) unsafe fn put_unfilled_split(
        &mut self,
        len: usize,
        first: usize,
        piece: usize,
        headroom: usize,
    ) -> Result {
        if piece == 0 || self.sg_entries() != Some(1) {
            return Err(EINVAL);
        }
        let head = first.saturating_sub(self.len()).min(len);
        // SAFETY: The caller's contract is ours.
        unsafe { self.put_unfilled(head)? };
        let mut left = len - head;
        let mut last: *mut bindings::sk_buff = core::ptr::null_mut();
        while left > 0 {
            let n = left.min(piece);
            let mut p = Skb::alloc(headroom, n)?;
            // SAFETY: The caller's contract covers these bytes too (they
            // become part of `self` below).
            unsafe { p.put_unfilled(n)? };
            // SAFETY: `p` is a fresh buffer of ours with nothing else
            // holding it.
            let truesize = unsafe { nitro_net_skb_truesize(p.as_raw()) };
            let extra = truesize.saturating_sub(n as c_uint);
            let p = p.into_raw();
            // SAFETY: We own `self`, linear when we started, and `last` is
            // the last buffer on its list (or there is none yet): `p`, whose
            // ownership passes to `self`, goes at the end of the list, and
            // `self` counts its bytes as non-linear data and its memory as
            // its own, as `skb_gro_receive_list` does.
            unsafe {
                if last.is_null() {
                    nitro_net_skb_set_frag_list(self.0.as_ptr(), p);
                } else {
                    nitro_net_skb_set_next(last, p);
                }
                nitro_net_skb_len_add(self.0.as_ptr(), n as c_uint);
                nitro_net_skb_add_truesize(self.0.as_ptr(), extra);
            }
            last = p;
            left -= n;
        }
        Ok(())
    }

    /// Cuts the data to its first `len` bytes (no more than it has). Only
    /// a linear buffer is cut: one with pieces is left as it is.
    pub(crate) fn trim(&mut self, len: usize) {
        if self.sg_entries() != Some(1) {
            return;
        }
        // SAFETY: We own the buffer, which is linear (checked above);
        // `skb_trim` only ever shortens.
        unsafe { skb_trim(self.0.as_ptr(), len.min(self.len()) as u32) };
    }

    /// The buffer, for a kernel function that reads it (a scatterlist is
    /// made of it in `sg.rs`).
    pub(crate) fn as_raw(&self) -> *mut bindings::sk_buff {
        self.0.as_ptr()
    }

    /// At most how many scatterlist entries `skb_to_sgvec` makes of the
    /// buffer: its head, each page fragment, and the same for each buffer
    /// on its fragment list. `None` for a list nested deeper than that.
    pub(crate) fn sg_entries(&self) -> Option<usize> {
        /// Entries of `skb`, a buffer at nesting `depth` of one we own.
        fn count(skb: *const bindings::sk_buff, depth: u32) -> Option<usize> {
            if depth > 1 {
                return None;
            }
            // SAFETY: `skb` is our buffer or on its fragment list, which
            // is ours with it.
            let (frags, mut next) = unsafe {
                (
                    nitro_net_skb_nr_frags(skb) as usize,
                    nitro_net_skb_frag_list(skb),
                )
            };
            let mut n = 1 + frags;
            while !next.is_null() {
                n += count(next, depth + 1)?;
                // SAFETY: As above: a member of the fragment list.
                next = unsafe { nitro_net_skb_next(next) };
            }
            Some(n)
        }
        count(self.0.as_ptr(), 0)
    }

    /// Makes the buffer linear if a scatterlist of it could need more than
    /// `max` entries (a frame with a long fragment list).
    pub(crate) fn fit_sg(&mut self, max: usize) -> Result {
        if self.sg_entries().is_none_or(|n| n > max) {
            self.linear()?;
        }
        Ok(())
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

    /// The frame's checksum and segmentation state.
    pub(crate) fn offload(&self) -> Offload {
        let mut o = Offload::default();
        // SAFETY: We own the buffer; `o` is the glue's struct.
        unsafe { nitro_net_skb_offload(self.0.as_ptr(), &mut o) };
        o
    }

    /// Leaves the checksum at `start` + `offset` (from the frame's first
    /// byte) for the stack to finish; `EINVAL` if it is not in the frame.
    pub(crate) fn set_csum_partial(&mut self, start: u16, offset: u16) -> Result {
        // SAFETY: We own the buffer; the kernel checks the range.
        if unsafe { nitro_net_skb_set_csum_partial(self.0.as_ptr(), start, offset) } {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }

    /// Marks the frame a TCP/IPv4 super-packet of `gso_size`-byte segments,
    /// from an untrusted source (the stack checks its headers).
    pub(crate) fn set_tso4(&mut self, gso_size: u16) {
        // SAFETY: We own the buffer and it is not shared.
        unsafe { nitro_net_skb_set_tso4(self.0.as_ptr(), gso_size) };
    }

    /// Finishes a checksum left partial.
    pub(crate) fn finish_checksum(&mut self) -> Result {
        // SAFETY: We own the buffer.
        match unsafe { skb_checksum_help(self.0.as_ptr()) } {
            0 => Ok(()),
            e => Err(Error::from_errno(e)),
        }
    }

    /// Cuts a GSO frame into finished frames (checksums done).
    pub(crate) fn segment(self) -> Result<Segments> {
        // SAFETY: We own the buffer; the call leaves it to us, and gives a
        // new list, NULL or an error pointer.
        let segs = unsafe { nitro_net_gso_segment(self.0.as_ptr()) };
        let segs = kernel::error::from_err_ptr(segs)?;
        if segs.is_null() {
            return Err(EINVAL);
        }
        self.consume();
        Ok(Segments(segs))
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

/// The frames of a segmented GSO frame, each owned in turn; those not taken
/// are freed with the list.
pub(crate) struct Segments(*mut bindings::sk_buff);

impl Iterator for Segments {
    type Item = Skb;

    fn next(&mut self) -> Option<Skb> {
        let head = NonNull::new(self.0)?;
        // SAFETY: We own the list; its head leaves it here.
        self.0 = unsafe { nitro_net_skb_unlink_next(head.as_ptr()) };
        Some(Skb(head))
    }
}

impl Drop for Segments {
    fn drop(&mut self) {
        for skb in self.by_ref() {
            drop(skb);
        }
    }
}
