// SPDX-License-Identifier: GPL-2.0

//! The EBS card's I/O work queue. `queue_rq` may not sleep, and reading or
//! writing the backing file does, so each EBS request is handed to a work
//! item and ended from there, as the loop driver does. The queue is the
//! card's own, with a rescuer (`WQ_MEM_RECLAIM`): writeback to an EBS disk
//! under memory pressure always makes progress.

use crate::{blk, volume::Volume};
use core::ptr::NonNull;
use kernel::{
    bindings,
    block::mq,
    impl_has_work, new_work,
    prelude::*,
    sync::{aref::ARef, Arc},
    workqueue::{Queue, Work, WorkItem},
};

/// An allocated work queue, destroyed (after draining) when dropped.
pub(crate) struct IoQueue(NonNull<bindings::workqueue_struct>);

// SAFETY: a workqueue may be used and destroyed from any thread.
unsafe impl Send for IoQueue {}
// SAFETY: queueing work is thread-safe.
unsafe impl Sync for IoQueue {}

impl IoQueue {
    /// Allocates the queue `name`: unbound, with a rescuer.
    pub(crate) fn new(name: &CStr) -> Result<Self> {
        // SAFETY: `name` is a NUL-terminated format without conversions.
        let wq = unsafe {
            bindings::alloc_workqueue_noprof(
                name.as_char_ptr(),
                bindings::wq_flags_WQ_MEM_RECLAIM | bindings::wq_flags_WQ_UNBOUND,
                0,
            )
        };
        Ok(Self(NonNull::new(wq).ok_or(ENOMEM)?))
    }

    /// The queue, to enqueue on.
    fn queue(&self) -> &Queue {
        // SAFETY: the queue lives until `self` is dropped.
        unsafe { Queue::from_raw(self.0.as_ptr()) }
    }

    /// Waits until every work item queued so far has finished running.
    pub(crate) fn flush(&self) {
        // SAFETY: the queue is live.
        unsafe { bindings::__flush_workqueue(self.0.as_ptr()) };
    }

    /// Hands request `rq` of `vol` to a work item. On failure the request
    /// is given back, for the caller to fail.
    pub(crate) fn submit(
        &self,
        vol: Arc<Volume>,
        rq: ARef<mq::Request<crate::volume::Disk>>,
    ) -> Result {
        let work = KBox::pin_init(
            pin_init!(IoWork {
                work <- new_work!("nitro_nvme::IoWork"),
                rq: Some(rq),
                vol,
            }),
            GFP_ATOMIC,
        )?;
        self.queue().enqueue(work);
        Ok(())
    }
}

impl Drop for IoQueue {
    fn drop(&mut self) {
        // SAFETY: the queue is live and dropped once; destroying it drains
        // it first.
        unsafe { bindings::destroy_workqueue(self.0.as_ptr()) };
    }
}

/// One request of an EBS disk, on its way to the backing store.
#[pin_data]
struct IoWork {
    #[pin]
    work: Work<IoWork>,
    rq: Option<ARef<mq::Request<crate::volume::Disk>>>,
    vol: Arc<Volume>,
}

impl_has_work! {
    impl HasWork<Self> for IoWork { self.work }
}

impl WorkItem for IoWork {
    type Pointer = Pin<KBox<IoWork>>;

    fn run(mut this: Pin<KBox<IoWork>>) {
        let p = this.as_mut().project();
        if let Some(rq) = p.rq.take() {
            let r = p.vol.process(&blk::RqData::new(&rq));
            blk::end(rq, r);
        }
    }
}
