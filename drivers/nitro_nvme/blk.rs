// SPDX-License-Identifier: GPL-2.0

//! A safe view of a blk-mq request's data, which kernel 7.3's Rust blk-mq
//! abstraction does not give: its operation, its position and its segments,
//! each mapped for the duration of one closure call. `struct request` and
//! `struct bio` have their fields in `kernel::bindings`: they are read
//! here; the two steps of `rq_for_each_segment` (macros and static
//! inlines) are the glue's.

use crate::ffi;
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{block::mq, prelude::*, sync::aref::ARef};

/// What a request asks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Op {
    /// Read into the request's pages.
    Read,
    /// Write from the request's pages.
    Write,
    /// Make earlier writes durable.
    Flush,
    /// The range's data is no longer needed.
    Discard,
    /// Zero the range.
    WriteZeroes,
    /// Anything else (the disk advertises nothing else).
    Other,
}

/// A request the driver owns (between `queue_rq` and its end), and is the
/// only one to look at: its data pages are the driver's to read or fill.
///
/// # Invariants
///
/// `raw` is a request in flight, owned by the driver for `'a`, and no other
/// `RqData` of it exists meanwhile.
pub(crate) struct RqData<'a> {
    raw: NonNull<ffi::request>,
    _rq: PhantomData<&'a mut ffi::request>,
}

impl<'a> RqData<'a> {
    /// Views `rq`, for as long as it is borrowed.
    ///
    /// # Safety
    ///
    /// `rq` must be in flight and owned by the driver (received by
    /// `queue_rq` and not ended) for `'a`, and no other `RqData` of it may
    /// exist while this one does: [`RqData::for_each_segment`] hands out its
    /// pages' bytes as `&mut [u8]`.
    pub(crate) unsafe fn new<T: mq::Operations>(rq: &'a mq::Request<T>) -> Self {
        // `mq::Request<T>` is `repr(transparent)` over the C `struct
        // request`: a pointer to one is a pointer to the other.
        // INVARIANT: Per the contract.
        Self {
            raw: NonNull::from(rq).cast(),
            _rq: PhantomData,
        }
    }

    /// The request.
    fn rq(&self) -> *mut ffi::request {
        self.raw.as_ptr()
    }

    /// The operation (`req_op`).
    pub(crate) fn op(&self) -> Op {
        // SAFETY: Per the type invariant the request is live and ours: the
        // block layer does not change its operation, position, size or bios
        // while it is in flight.
        let flags = unsafe { (*self.rq()).cmd_flags };
        match flags & ffi::REQ_OP_MASK {
            ffi::req_op_REQ_OP_READ => Op::Read,
            ffi::req_op_REQ_OP_WRITE => Op::Write,
            ffi::req_op_REQ_OP_FLUSH => Op::Flush,
            ffi::req_op_REQ_OP_DISCARD => Op::Discard,
            ffi::req_op_REQ_OP_WRITE_ZEROES => Op::WriteZeroes,
            _ => Op::Other,
        }
    }

    /// Byte offset on the disk of the request's first byte (`blk_rq_pos`,
    /// in 512-byte sectors).
    pub(crate) fn pos_bytes(&self) -> u64 {
        // SAFETY: As in `op`.
        unsafe { (*self.rq()).__sector << 9 }
    }

    /// Bytes the request covers (`blk_rq_bytes`; for discard and write
    /// zeroes, which carry no data).
    pub(crate) fn bytes(&self) -> u64 {
        // SAFETY: As in `op`.
        u64::from(unsafe { (*self.rq()).__data_len })
    }

    /// Calls `f` on each segment of the request's data, in order, mapped
    /// for the call (at most one page each): `rq_for_each_segment`, each
    /// bio of the request and each single-page segment of the bio. After an
    /// error the remaining segments are skipped and the error is returned.
    pub(crate) fn for_each_segment<F: FnMut(&mut [u8]) -> Result>(&mut self, mut f: F) -> Result {
        // SAFETY: As in `op`.
        let mut bio = unsafe { (*self.rq()).bio };
        while let Some(b) = NonNull::new(bio) {
            let b = b.as_ptr();
            // SAFETY: The bios of a request in flight (type invariant) live
            // until it ends; the iterator is a copy.
            let mut iter = unsafe { (*b).bi_iter };
            while iter.bi_size != 0 {
                // SAFETY: As above; `iter` is within the bio.
                let bv = unsafe { ffi::nitro_nvme_bio_iter_iovec(b, iter) };
                map_segment(&bv, &mut f)?;
                // SAFETY: As above; `bv_len` is what the step gave.
                unsafe { ffi::nitro_nvme_bio_advance_iter_single(b, &mut iter, bv.bv_len) };
            }
            // SAFETY: As above.
            bio = unsafe { (*b).bi_next };
        }
        Ok(())
    }
}

/// Calls `f` on the bytes of one segment, its page mapped for the call.
///
/// A segment of a request of ours: its page is one of the request's, and
/// the driver alone reads and writes it while the request is in flight.
fn map_segment<F: FnMut(&mut [u8]) -> Result>(bv: &ffi::bio_vec, f: &mut F) -> Result {
    // SAFETY: `bv_page` is a live page of the request (see above); mapping
    // it locally is allowed in any context.
    let base = unsafe { ffi::kmap_local_page(bv.bv_page) };
    // SAFETY: The mapping covers the page, and a single-page segment lies
    // within it; no one else touches it (see above), and the slice does not
    // outlive the mapping.
    let seg = unsafe {
        core::slice::from_raw_parts_mut(
            base.cast::<u8>().add(bv.bv_offset as usize),
            bv.bv_len as usize,
        )
    };
    let r = f(seg);
    // SAFETY: Unmaps the mapping made above, once.
    unsafe { ffi::kunmap_local(base) };
    r
}

/// Ends a request that the driver took out of `queue_rq` (an EBS request,
/// ended from the I/O work queue): success, or the block status of the
/// error.
///
/// Kernel 7.3's `mq::Request` can end a request only with success; an
/// error is ended here directly. The driver never clones a request's
/// `ARef`, so `rq` is the only one: the block layer gets the request back
/// and the abstraction's reference count is set afresh by the next
/// `queue_rq` that receives it.
pub(crate) fn end<T: mq::Operations>(rq: ARef<mq::Request<T>>, r: Result) {
    let (rq, err) = match r {
        Ok(()) => match mq::Request::end_ok(rq) {
            Ok(()) => return,
            Err(rq) => (rq, EIO),
        },
        Err(e) => (rq, e),
    };
    // SAFETY: no preconditions: maps an errno to a block status.
    let status = unsafe { ffi::errno_to_blk_status(err.to_errno()) };
    let ptr = ARef::into_raw(rq);
    // The request is in flight and owned by the driver through the only
    // `ARef`, consumed above.
    // SAFETY: it is handed back to the block layer exactly once, here.
    unsafe { ffi::blk_mq_end_request(ptr.as_ptr().cast(), status) };
}
