// SPDX-License-Identifier: GPL-2.0

//! The ordered hand-off between a fast path (softirq, `ndo_start_xmit`)
//! and one of the card's workers, used by each host's receive and transmit
//! engines. A fast path either handles an item at once, in place, or
//! queues it for the worker; the `busy` flag makes sure that one item of a
//! queue is handled at a time, so items leave in the order they came.

use kernel::prelude::*;

/// Items waiting for a worker, oldest first, under the owner's lock.
/// `spare` keeps the worker's emptied batch, so that the storage is reused.
pub(crate) struct Fifo<T> {
    pending: KVec<T>,
    spare: KVec<T>,
    busy: bool,
}

impl<T> Fifo<T> {
    /// An empty queue, not busy.
    pub(crate) const fn new() -> Self {
        Self {
            pending: KVec::new(),
            spare: KVec::new(),
            busy: false,
        }
    }

    /// Claims the right to handle one item at once, in place. Given only
    /// when nothing waits and nothing is being handled: the caller then
    /// calls [`Fifo::release`] when done.
    pub(crate) fn claim(&mut self) -> bool {
        if self.busy || !self.pending.is_empty() {
            return false;
        }
        self.busy = true;
        true
    }

    /// Queues `item` unless `max` items wait already. On failure (full, or
    /// no memory) the item comes back, for the caller to drop once it has
    /// let go of the lock (a buffer's destructor may not run under it).
    pub(crate) fn push(&mut self, item: T, max: usize) -> Result<(), T> {
        if self.pending.len() >= max || self.pending.reserve(1, GFP_ATOMIC).is_err() {
            return Err(item);
        }
        self.pending.push_within_capacity(item).map_err(|e| e.0)
    }

    /// Takes every waiting item, for the worker to handle in order; `None`
    /// if there is none, or if someone else is handling items (who then
    /// queues the worker again, see [`Fifo::release`]).
    pub(crate) fn take(&mut self) -> Option<KVec<T>> {
        if self.busy || self.pending.is_empty() {
            return None;
        }
        self.busy = true;
        let spare = core::mem::take(&mut self.spare);
        Some(core::mem::replace(&mut self.pending, spare))
    }

    /// Ends the handling of an item (claimed) or of a batch (taken, and
    /// now empty: its storage is kept for the next one). Gives whether
    /// items wait, for which the worker must be queued.
    pub(crate) fn release(&mut self, batch: Option<KVec<T>>) -> bool {
        self.busy = false;
        if let Some(batch) = batch {
            if self.spare.capacity() < batch.capacity() {
                self.spare = batch;
            }
        }
        !self.pending.is_empty()
    }

    /// Whether an item `f` selects is waiting.
    pub(crate) fn any(&self, f: impl FnMut(&T) -> bool) -> bool {
        self.pending.iter().any(f)
    }
}
