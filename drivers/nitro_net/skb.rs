// SPDX-License-Identifier: GPL-2.0

//! Socket buffers, as the card uses them: a safe owner of one `sk_buff`.
//!
//! `struct sk_buff` and `struct skb_shared_info` have their fields in
//! `kernel::bindings`: they are read and written here directly; the static
//! inline accessors of `skbuff.h` the card needs are the glue's
//! (`nitro_net_glue.c`). The card reads frames it is given with
//! [`Skb::copy_out`] (which works on any layout) and builds every packet it
//! sends in a fresh linear buffer ([`Skb::alloc`], [`Skb::put`]), one that
//! fits the underlay route's MTU (a super-packet is cut first,
//! [`Skb::segment_at`]). What writes a buffer's
//! data or its shared info refuses a clone, whose data and shared info are
//! another buffer's too.

use crate::ffi;
use core::ffi::{c_int, c_uint};
use core::ptr::NonNull;
use kernel::prelude::*;

/// A frame's offload state, as the stack left it.
#[derive(Clone, Copy, Default)]
pub(crate) struct Offload {
    /// Where the checksum's coverage starts, from the frame's first byte.
    pub(crate) csum_start: u16,
    /// Where the checksum goes, from `csum_start`.
    pub(crate) csum_offset: u16,
    /// Segment size of a GSO frame; 0 for a single frame.
    pub(crate) gso_size: u16,
    /// Whether the checksum is left to finish (`CHECKSUM_PARTIAL`).
    pub(crate) partial: bool,
    /// `SKB_GSO_*` bits.
    pub(crate) gso_type: u32,
}

impl Offload {
    /// Whether this is a TCP/IPv4 super-packet and nothing else.
    pub(crate) fn is_tso4(&self) -> bool {
        let tcp4 = ffi::SKB_GSO_TCPV4 as u32;
        let dodgy = ffi::SKB_GSO_DODGY as u32;
        self.gso_size != 0 && self.gso_type & tcp4 != 0 && self.gso_type & !(tcp4 | dodgy) == 0
    }
}

/// The `headers` group of a buffer: protocol, checksum state, header
/// offsets.
type Headers = ffi::sk_buff__bindgen_ty_4__bindgen_ty_1;

/// An `sk_buff` the card owns: dropping it frees it as a drop
/// (`kfree_skb`); [`Skb::consume`] frees it as delivered.
pub(crate) struct Skb(NonNull<ffi::sk_buff>);

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
    pub(crate) unsafe fn from_raw(skb: *mut ffi::sk_buff) -> Option<Self> {
        NonNull::new(skb).map(Self)
    }

    /// Gives up ownership (to a kernel function that consumes the buffer).
    pub(crate) fn into_raw(self) -> *mut ffi::sk_buff {
        let p = self.0.as_ptr();
        core::mem::forget(self);
        p
    }

    /// The buffer, for a kernel function that reads it (a scatterlist is
    /// made of it in `sg.rs`).
    pub(crate) fn as_raw(&self) -> *mut ffi::sk_buff {
        self.0.as_ptr()
    }

    /// The buffer's `headers` group (protocol, checksum state, header
    /// offsets): the first member of the union it heads.
    fn headers(&self) -> *mut Headers {
        // SAFETY: `self.0` is a valid buffer we own: the place is inside it.
        unsafe { (&raw mut (*self.as_raw()).__bindgen_anon_4).cast() }
    }

    /// The buffer's shared info (`skb_shinfo`), at the end of its data.
    fn shinfo(&self) -> *mut ffi::skb_shared_info {
        // SAFETY: We own the buffer.
        unsafe { ffi::nitro_net_skb_shinfo(self.as_raw()) }
    }

    /// Whether the buffer is a clone, sharing its data with another.
    fn is_clone(&self) -> bool {
        // SAFETY: We own the buffer; the bit is set when it is cloned.
        unsafe { ffi::sk_buff::cloned_raw(self.as_raw()) != 0 }
    }

    /// The next buffer on the list this one is on (a fragment list, or
    /// the segments of a GSO frame).
    fn next(&self) -> *mut ffi::sk_buff {
        // SAFETY: We own the buffer; `next` is the member of the list union
        // that the buffers of these lists use.
        unsafe { (*self.as_raw()).__bindgen_anon_1.__bindgen_anon_1.next }
    }

    /// Links `next` after this buffer on its list (null: the end).
    fn set_next(&mut self, next: *mut ffi::sk_buff) {
        // SAFETY: As in `next`.
        unsafe { (*self.as_raw()).__bindgen_anon_1.__bindgen_anon_1.next = next };
    }

    /// Sets the frame's protocol (what `eth_type_trans` found).
    pub(crate) fn set_protocol(&mut self, proto: u16) {
        // SAFETY: We own the buffer; the field is its own.
        unsafe { (*self.headers()).protocol = proto };
    }

    /// A new, empty, linear buffer with `headroom` bytes reserved in front
    /// and room for `len` bytes of data. Packets are built in softirq or
    /// transmit context: the allocation never sleeps.
    pub(crate) fn alloc(headroom: usize, len: usize) -> Result<Self> {
        let total = headroom.checked_add(len).ok_or(EMSGSIZE)?;
        let total = c_uint::try_from(total).map_err(|_| EMSGSIZE)?;
        let reserve = c_int::try_from(headroom).map_err(|_| EMSGSIZE)?;
        // SAFETY: Plain allocation, any context.
        let skb = unsafe { ffi::__alloc_skb(total, ffi::GFP_ATOMIC, 0, ffi::NUMA_NO_NODE) };
        let skb = Self(NonNull::new(skb).ok_or(ENOMEM)?);
        // SAFETY: `skb` is new and empty, `headroom` is within its size.
        unsafe { ffi::nitro_net_skb_reserve(skb.as_raw(), reserve) };
        Ok(skb)
    }

    /// Length of the data, in bytes.
    pub(crate) fn len(&self) -> usize {
        // SAFETY: We own the buffer.
        unsafe { (*self.as_raw()).len as usize }
    }

    /// Length of the data in the head (the rest is in pieces).
    fn headlen(&self) -> usize {
        // SAFETY: We own the buffer.
        let (len, data_len) = unsafe { ((*self.as_raw()).len, (*self.as_raw()).data_len) };
        len.saturating_sub(data_len) as usize
    }

    /// Bytes free after the data of a linear buffer that is not a clone;
    /// 0 for any other.
    fn tailroom(&self) -> usize {
        if self.is_clone() {
            return 0;
        }
        // SAFETY: We own the buffer.
        unsafe { ffi::nitro_net_skb_tailroom(self.as_raw()) as usize }
    }

    /// Appends `len` bytes (zeroed) and returns them; `EMSGSIZE` if the
    /// buffer has no room for them (a buffer with pieces, or a clone, has
    /// none).
    pub(crate) fn put(&mut self, len: usize) -> Result<&mut [u8]> {
        if len == 0 {
            return Ok(&mut []);
        }
        if len > self.tailroom() {
            return Err(EMSGSIZE);
        }
        // SAFETY: We own the buffer, which has room (checked above), so it
        // is linear and not a clone: `skb_put` allows it, and the bytes are
        // this buffer's alone.
        let p = unsafe { ffi::skb_put(self.as_raw(), len as c_uint) }.cast::<u8>();
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
        if len > self.tailroom() {
            return Err(EMSGSIZE);
        }
        // SAFETY: As in `put`: room (checked above) means linear, no clone.
        unsafe { ffi::skb_put(self.as_raw(), len as c_uint) };
        Ok(())
    }

    /// Cuts the data to its first `len` bytes (no more than it has). Only
    /// a linear buffer is cut: one with pieces is left as it is.
    pub(crate) fn trim(&mut self, len: usize) {
        if self.headlen() != self.len() {
            return;
        }
        // SAFETY: We own the buffer, which is linear (checked above), as
        // `skb_trim` requires; it only ever shortens.
        unsafe { ffi::skb_trim(self.as_raw(), len.min(self.len()) as c_uint) };
    }

    /// At most how many scatterlist entries `skb_to_sgvec` makes of the
    /// buffer: its head, each page fragment, and the same for each buffer
    /// on its fragment list. `None` for a list nested deeper than that.
    pub(crate) fn sg_entries(&self) -> Option<usize> {
        /// Entries of `skb`, a buffer at nesting `depth` of one we own.
        fn count(skb: &Skb, depth: u32) -> Option<usize> {
            if depth > 1 {
                return None;
            }
            // SAFETY: `skb` is our buffer or on its fragment list, which
            // is ours with it; its shared info lives as long.
            let (frags, mut next) = unsafe {
                let s = skb.shinfo();
                (usize::from((*s).nr_frags), (*s).frag_list)
            };
            let mut n = 1 + frags;
            while let Some(p) = NonNull::new(next) {
                // The list's buffers are borrowed, not owned: never dropped.
                let piece = core::mem::ManuallyDrop::new(Skb(p));
                n += count(&piece, depth + 1)?;
                next = piece.next();
            }
            Some(n)
        }
        count(self, 0)
    }

    /// Makes the buffer linear if a scatterlist of it could need more than
    /// `max` entries (a frame with a long fragment list).
    pub(crate) fn fit_sg(&mut self, max: usize) -> Result {
        if self.sg_entries().is_none_or(|n| n > max) {
            self.linear()?;
        }
        Ok(())
    }

    /// Removes `len` bytes from the front; `EINVAL` (and nothing removed)
    /// if they are not all in the buffer's head.
    pub(crate) fn pull(&mut self, len: usize) -> Result {
        if len > self.headlen() {
            return Err(EINVAL);
        }
        // SAFETY: We own the buffer and pull no more than its head holds,
        // as `__skb_pull` requires (beyond, it would `BUG()`).
        unsafe { ffi::skb_pull(self.as_raw(), len as c_uint) };
        Ok(())
    }

    /// Copies `out.len()` bytes from `offset` (any buffer layout). Fails
    /// with `EINVAL` if the buffer is shorter.
    pub(crate) fn copy_out(&self, offset: usize, out: &mut [u8]) -> Result {
        let end = offset.checked_add(out.len()).ok_or(EINVAL)?;
        if end > self.len() {
            return Err(EINVAL);
        }
        let (off, len) = (c_int::try_from(offset)?, c_int::try_from(out.len())?);
        // SAFETY: We own the buffer; the range is inside it (checked above,
        // as `skb_copy_bits` also does), and at most `out.len()` bytes are
        // written to `out`.
        let r = unsafe { ffi::skb_copy_bits(self.as_raw(), off, out.as_mut_ptr().cast(), len) };
        if r == 0 {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }

    /// Makes the data one linear run and returns it.
    pub(crate) fn linear(&mut self) -> Result<&[u8]> {
        // SAFETY: We own the buffer; a clone gets a private copy of its data.
        if unsafe { ffi::nitro_net_skb_linearize(self.as_raw()) } != 0 {
            return Err(ENOMEM);
        }
        let len = self.len();
        // SAFETY: After a successful linearisation the `len` bytes at `data`
        // are the buffer's whole data, readable while `self` is borrowed.
        Ok(unsafe { core::slice::from_raw_parts((*self.as_raw()).data, len) })
    }

    /// The IPv4 source address of a buffer received on a UDP socket.
    ///
    /// # Safety
    ///
    /// The buffer's network header must be an IPv4 header: it was handed
    /// to the receive callback of a UDP socket.
    pub(crate) unsafe fn ipv4_source(&self) -> u32 {
        // SAFETY: Per the contract, `ip_hdr` points to an IPv4 header
        // inside the buffer; its addresses are a struct group, the union's
        // members the same bytes.
        unsafe {
            (*ffi::nitro_net_ip_hdr(self.as_raw()))
                .__bindgen_anon_1
                .__bindgen_anon_1
                .as_ref()
                .saddr
        }
    }

    /// The frame's checksum and segmentation state.
    pub(crate) fn offload(&self) -> Offload {
        let (skb, h, s) = (self.as_raw(), self.headers(), self.shinfo());
        // SAFETY: We own the buffer, and its shared info lives as long. The
        // checksum's start and offset are the member of their union that a
        // partial checksum uses; read as plain numbers either way.
        let (headroom, csum, summed, gso_size, gso_type) = unsafe {
            (
                ((*skb).data as usize).wrapping_sub((*skb).head as usize),
                (*h).__bindgen_anon_1.__bindgen_anon_1,
                Headers::ip_summed_raw(h),
                (*s).gso_size,
                (*s).gso_type,
            )
        };
        Offload {
            // `skb_checksum_start_offset`: `csum_start` counts from the head.
            csum_start: csum.csum_start.wrapping_sub(headroom as u16),
            csum_offset: csum.csum_offset,
            gso_size,
            partial: u32::from(summed) == ffi::CHECKSUM_PARTIAL,
            gso_type,
        }
    }

    /// Leaves the checksum at `start` + `offset` (from the frame's first
    /// byte) for the stack to finish; `EINVAL` if it is not in the frame.
    pub(crate) fn set_csum_partial(&mut self, start: u16, offset: u16) -> Result {
        // SAFETY: We own the buffer; the kernel checks the range.
        if unsafe { ffi::skb_partial_csum_set(self.as_raw(), start, offset) } {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }

    /// Marks the frame a TCP/IPv4 super-packet of `gso_size`-byte segments,
    /// from an untrusted source (the stack checks its headers). `EINVAL`
    /// for a clone, whose shared info is another buffer's too.
    pub(crate) fn set_tso4(&mut self, gso_size: u16) -> Result {
        if self.is_clone() {
            return Err(EINVAL);
        }
        let s = self.shinfo();
        // SAFETY: We own the buffer and it is not a clone (checked above):
        // its shared info is ours.
        unsafe {
            (*s).gso_size = gso_size;
            (*s).gso_type = (ffi::SKB_GSO_TCPV4 | ffi::SKB_GSO_DODGY) as u32;
            (*s).gso_segs = 0;
        }
        Ok(())
    }

    /// Finishes a checksum left partial.
    pub(crate) fn finish_checksum(&mut self) -> Result {
        // SAFETY: We own the buffer.
        match unsafe { ffi::skb_checksum_help(self.as_raw()) } {
            0 => Ok(()),
            e => Err(Error::from_errno(e)),
        }
    }

    /// Cuts a TCP/IPv4 super-packet into smaller ones of `size` payload
    /// bytes each (the last one shorter): any size, a multiple of its
    /// segment size or less than it (TCP takes segments of any size). With
    /// `partial`, the checksums stay partial and the pieces share the
    /// frame's pages; without, they are finished. `EINVAL` if the frame is
    /// not such a super-packet, or `size` is 0 or not less than its payload.
    pub(crate) fn segment_at(self, size: u16, partial: bool) -> Result<Segments> {
        let off = self.offload();
        if size == 0 || !off.is_tso4() {
            return Err(EINVAL);
        }
        let features = if partial {
            ffi::NETIF_F_SG | ffi::NETIF_F_HW_CSUM
        } else {
            0
        };
        if size == off.gso_size {
            return self.gso_segment(features);
        }
        // The size is the shared info's, which a clone shares with the
        // buffer it was cloned from (TCP's own copy, kept for
        // retransmission): it gets shared info of its own first.
        // SAFETY: We own the buffer; a clone's head is copied.
        if unsafe { ffi::nitro_net_skb_unclone(self.as_raw()) } != 0 {
            return Err(ENOMEM);
        }
        let s = self.shinfo();
        // SAFETY: We own the buffer, not a clone any more (above): its
        // shared info is ours alone.
        unsafe { (*s).gso_size = size };
        self.gso_segment(features)
    }

    /// `skb_gso_segment` with `features`: the frame's segments (the frame
    /// is gone either way).
    fn gso_segment(self, features: ffi::netdev_features_t) -> Result<Segments> {
        // SAFETY: We own the buffer; the call leaves it to us, and gives a
        // new list, NULL or an error pointer.
        let segs = unsafe { ffi::__skb_gso_segment(self.as_raw(), features, true) };
        let segs = kernel::error::from_err_ptr(segs)?;
        let segs = NonNull::new(segs).ok_or(EINVAL)?;
        self.consume();
        Ok(Segments(Some(Skb(segs))))
    }

    /// Frees the buffer as used, not dropped.
    pub(crate) fn consume(self) {
        // SAFETY: We own the buffer and give it up here.
        unsafe { ffi::nitro_net_consume_skb(self.into_raw()) };
    }
}

impl Drop for Skb {
    fn drop(&mut self) {
        // SAFETY: We own the buffer; dropping it unused counts as a drop.
        unsafe { ffi::nitro_net_kfree_skb(self.as_raw()) };
    }
}

/// The frames of a segmented GSO frame, each owned in turn; those not taken
/// are freed with the list.
pub(crate) struct Segments(Option<Skb>);

impl Iterator for Segments {
    type Item = Skb;

    fn next(&mut self) -> Option<Skb> {
        let mut head = self.0.take()?;
        // We own the list: its head leaves it here (`skb_mark_not_on_list`),
        // and the rest is ours, headed by the next one.
        let next = head.next();
        head.set_next(core::ptr::null_mut());
        self.0 = NonNull::new(next).map(Skb);
        Some(head)
    }
}

impl Drop for Segments {
    fn drop(&mut self) {
        for skb in self.by_ref() {
            drop(skb);
        }
    }
}
