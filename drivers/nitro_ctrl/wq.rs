// SPDX-License-Identifier: GPL-2.0

//! A work queue of the cards' own, for what 7.3's `kernel::workqueue` does
//! not cover: allocating a queue with flags (it only hands out the system
//! queues), destroying it, and flushing a queue or one work item. The block
//! card's EBS I/O queue and the VPC card's queue (its hosts' transmit and
//! receive workers) are both this type.

use core::{ops::BitOr, ptr::NonNull};
use kernel::{
    bindings,
    prelude::*,
    workqueue::{Queue, Work},
};

/// Flags of a new queue (`WQ_*` of `include/linux/workqueue.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(u32);

impl Flags {
    /// Workers not bound to the queueing CPU (`WQ_UNBOUND`).
    pub const UNBOUND: Self = Self(bindings::wq_flags_WQ_UNBOUND);
    /// Workers run at high priority (`WQ_HIGHPRI`).
    pub const HIGHPRI: Self = Self(bindings::wq_flags_WQ_HIGHPRI);
    /// A rescuer thread guarantees progress under memory pressure
    /// (`WQ_MEM_RECLAIM`).
    pub const MEM_RECLAIM: Self = Self(bindings::wq_flags_WQ_MEM_RECLAIM);
}

impl BitOr for Flags {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// An allocated work queue, drained and destroyed when dropped.
pub struct OwnedQueue(NonNull<bindings::workqueue_struct>);

// SAFETY: A work queue may be used and destroyed from any thread.
unsafe impl Send for OwnedQueue {}
// SAFETY: Queueing and flushing are thread-safe.
unsafe impl Sync for OwnedQueue {}

impl OwnedQueue {
    /// Allocates the queue `name` with `flags` and the default limit of
    /// active work items.
    pub fn new(name: &CStr, flags: Flags) -> Result<Self> {
        // The name is a printf format: one without conversions only.
        if name.to_bytes().contains(&b'%') {
            return Err(EINVAL);
        }
        // SAFETY: `name` is a NUL-terminated format without conversions
        // (checked above); the flags are `WQ_*` values.
        let wq = unsafe { bindings::alloc_workqueue_noprof(name.as_char_ptr(), flags.0, 0) };
        Ok(Self(NonNull::new(wq).ok_or(ENOMEM)?))
    }

    /// The queue, to enqueue on.
    pub fn queue(&self) -> &Queue {
        // SAFETY: The queue lives until `self` is dropped, and the returned
        // borrow cannot outlive `self`.
        unsafe { Queue::from_raw(self.0.as_ptr()) }
    }

    /// Waits until every work item queued so far has finished running.
    pub fn flush(&self) {
        // SAFETY: The queue is live.
        unsafe { bindings::__flush_workqueue(self.0.as_ptr()) };
    }
}

impl Drop for OwnedQueue {
    fn drop(&mut self) {
        // SAFETY: The queue is live and dropped once; destroying it drains
        // it first.
        unsafe { bindings::destroy_workqueue(self.0.as_ptr()) };
    }
}

/// Waits until the last queueing of `work` has finished running.
pub fn flush_work<T: ?Sized, const ID: u64>(work: &Work<T, ID>) {
    // SAFETY: `work` is an initialised work item, borrowed (so live) for the
    // whole call.
    unsafe { bindings::flush_work(Work::raw_get(work)) };
}
