// SPDX-License-Identifier: GPL-2.0

//! The card's receive work queue: unbound (its workers run on whichever CPU
//! is free, beside the sender's), high priority (a woken worker does not
//! wait behind the applications it delivers to).

use core::ptr::NonNull;
use kernel::{
    bindings,
    prelude::*,
    workqueue::{Queue, Work},
};

/// An allocated work queue, destroyed (after draining) when dropped.
pub(crate) struct RxQueue(NonNull<bindings::workqueue_struct>);

// SAFETY: A workqueue may be used and destroyed from any thread.
unsafe impl Send for RxQueue {}
// SAFETY: Queueing work is thread-safe.
unsafe impl Sync for RxQueue {}

impl RxQueue {
    /// Allocates the queue.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: The name is a NUL-terminated format without conversions.
        let wq = unsafe {
            bindings::alloc_workqueue_noprof(
                c"nitro_net_rx".as_char_ptr(),
                bindings::wq_flags_WQ_UNBOUND | bindings::wq_flags_WQ_HIGHPRI,
                0,
            )
        };
        Ok(Self(NonNull::new(wq).ok_or(ENOMEM)?))
    }

    /// The queue, to enqueue on.
    pub(crate) fn queue(&self) -> &Queue {
        // SAFETY: The queue lives until `self` is dropped.
        unsafe { Queue::from_raw(self.0.as_ptr()) }
    }
}

impl Drop for RxQueue {
    fn drop(&mut self) {
        // SAFETY: The queue is live and dropped once; destroying it drains
        // it first.
        unsafe { bindings::destroy_workqueue(self.0.as_ptr()) };
    }
}

/// Waits until the last queueing of `work` has finished running.
pub(crate) fn flush<T: ?Sized, const ID: u64>(work: &Work<T, ID>) {
    // SAFETY: `work` is an initialised work item, borrowed (so live) for
    // the whole call.
    unsafe { bindings::flush_work(Work::raw_get(work)) };
}
