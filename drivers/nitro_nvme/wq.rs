// SPDX-License-Identifier: GPL-2.0

//! The EBS card's I/O work queue. `queue_rq` may not sleep, and reading or
//! writing the backing file does, so each EBS request is handed to a work
//! item and ended from there, as the loop driver does. The queue is the
//! card's own, with a rescuer (`WQ_MEM_RECLAIM`): writeback to an EBS disk
//! under memory pressure always makes progress.

use crate::{blk, volume::Volume};
use kernel::{
    block::mq,
    impl_has_work, new_work,
    prelude::*,
    sync::{aref::ARef, Arc},
    workqueue::{Work, WorkItem},
};
use nitro_ctrl::wq::{Flags, OwnedQueue};

/// The EBS card's queue: unbound, with a rescuer.
pub(crate) struct IoQueue(OwnedQueue);

impl IoQueue {
    /// Allocates the queue `name`.
    pub(crate) fn new(name: &CStr) -> Result<Self> {
        Ok(Self(OwnedQueue::new(
            name,
            Flags::MEM_RECLAIM | Flags::UNBOUND,
        )?))
    }

    /// Waits until every work item queued so far has finished running.
    pub(crate) fn flush(&self) {
        self.0.flush();
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
        self.0.queue().enqueue(work);
        Ok(())
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
            // SAFETY: `queue_rq` handed the request to this work item,
            // which alone holds it until `end` below; this is its only
            // view.
            let r = p.vol.process(&mut unsafe { blk::RqData::new(&rq) });
            blk::end(rq, r);
        }
    }
}
