// SPDX-License-Identifier: GPL-2.0

//! A safe view of a blk-mq request's data, which kernel 7.3's Rust blk-mq
//! abstraction does not give: its operation, its position and its segments,
//! each mapped for the duration of one closure call.

use core::{
    ffi::{c_uint, c_void},
    marker::PhantomData,
};
use kernel::{bindings, block::mq, prelude::*, sync::aref::ARef};

// The glue of nitro_nvme_glue.c; `struct request` and `struct page`
// pointers are passed as `void *` (their Rust types are not FFI-safe to
// name here).
extern "C" {
    fn nitro_nvme_rq_pos(rq: *mut c_void) -> u64;
    fn nitro_nvme_rq_bytes(rq: *mut c_void) -> c_uint;
    fn nitro_nvme_rq_op(rq: *mut c_void) -> c_uint;
    fn nitro_nvme_rq_segments(
        rq: *mut c_void,
        f: unsafe extern "C" fn(*mut c_void, *mut c_void, c_uint, c_uint),
        ctx: *mut c_void,
    );
}

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

/// A request the driver owns (between `queue_rq` and its end).
pub(crate) struct RqData<'a> {
    raw: *mut c_void,
    _rq: PhantomData<&'a ()>,
}

impl<'a> RqData<'a> {
    /// Views `rq`, which the driver owns while `queue_rq` runs.
    pub(crate) fn new<T: mq::Operations>(rq: &'a mq::Request<T>) -> Self {
        // `mq::Request<T>` is `repr(transparent)` over the C `struct
        // request`: a pointer to one is a pointer to the other.
        let raw = core::ptr::from_ref(rq).cast_mut().cast();
        Self {
            raw,
            _rq: PhantomData,
        }
    }

    /// The operation.
    pub(crate) fn op(&self) -> Op {
        // SAFETY: `raw` is a live request owned by the driver (type invariant
        // of `mq::Request` while the reference in `new` lives).
        let op = unsafe { nitro_nvme_rq_op(self.raw) };
        match op {
            bindings::req_op_REQ_OP_READ => Op::Read,
            bindings::req_op_REQ_OP_WRITE => Op::Write,
            bindings::req_op_REQ_OP_FLUSH => Op::Flush,
            bindings::req_op_REQ_OP_DISCARD => Op::Discard,
            bindings::req_op_REQ_OP_WRITE_ZEROES => Op::WriteZeroes,
            _ => Op::Other,
        }
    }

    /// Byte offset on the disk of the request's first byte.
    pub(crate) fn pos_bytes(&self) -> u64 {
        // SAFETY: as in `op`.
        let sector = unsafe { nitro_nvme_rq_pos(self.raw) };
        sector << 9
    }

    /// Bytes the request covers (for discard and write zeroes, which
    /// carry no data).
    pub(crate) fn bytes(&self) -> u64 {
        // SAFETY: as in `op`.
        u64::from(unsafe { nitro_nvme_rq_bytes(self.raw) })
    }

    /// Calls `f` on each segment of the request's data, in order, mapped
    /// for the call (at most one page each). After an error the remaining
    /// segments are skipped and the error is returned.
    pub(crate) fn for_each_segment<F: FnMut(&mut [u8]) -> Result>(&self, mut f: F) -> Result {
        let mut state = Walk {
            f: &mut f,
            err: None,
        };
        // SAFETY: `raw` is live (as in `op`); `trampoline::<F>` runs only
        // within this call, with `ctx` = `&mut state`, which outlives it.
        unsafe {
            nitro_nvme_rq_segments(
                self.raw,
                trampoline::<F>,
                core::ptr::from_mut(&mut state).cast(),
            )
        };
        state.err.map_or(Ok(()), Err)
    }
}

/// The closure of a walk and the error it stopped at.
struct Walk<'f, F: FnMut(&mut [u8]) -> Result> {
    f: &'f mut F,
    err: Option<Error>,
}

/// Called by `nitro_nvme_rq_segments` for each segment; after an error it
/// does nothing.
///
/// # Safety
///
/// `ctx` points to a live `Walk<F>`; `page` is a page of the request and
/// `offset + len` is at most the page size.
unsafe extern "C" fn trampoline<F: FnMut(&mut [u8]) -> Result>(
    ctx: *mut c_void,
    page: *mut c_void,
    offset: c_uint,
    len: c_uint,
) {
    // SAFETY: the caller passes the `Walk<F>` set up by `for_each_segment`.
    let walk = unsafe { &mut *ctx.cast::<Walk<'_, F>>() };
    if walk.err.is_some() {
        return;
    }
    // SAFETY: `page` is a live page of the request; mapping it locally is
    // allowed in any context.
    let base = unsafe { bindings::kmap_local_page(page.cast()) };
    // SAFETY: the mapping covers the page, and the segment lies within it;
    // no one else touches the request's pages while the driver owns it.
    let seg = unsafe {
        core::slice::from_raw_parts_mut(base.cast::<u8>().add(offset as usize), len as usize)
    };
    let r = (walk.f)(seg);
    // SAFETY: unmaps the mapping made above, once.
    unsafe { bindings::kunmap_local(base) };
    walk.err = r.err();
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
    let status = unsafe { bindings::errno_to_blk_status(err.to_errno()) };
    let ptr = ARef::into_raw(rq);
    // The request is in flight and owned by the driver through the only
    // `ARef`, consumed above.
    // SAFETY: it is handed back to the block layer exactly once, here.
    unsafe { bindings::blk_mq_end_request(ptr.as_ptr().cast(), status) };
}
