// SPDX-License-Identifier: GPL-2.0

//! The audit log: a ring of the last control operations (who, what, on
//! which object, with what result), read through `NITRO_IOC_AUDIT`.

use crate::{kapi, uapi};
use kernel::{new_mutex, prelude::*, sync::Mutex};

/// How many operations the ring keeps.
pub(crate) const ENTRIES: usize = 1024;

/// What the audit's lock protects.
struct Ring {
    entries: KVec<uapi::nitro_audit_entry>,
    /// Sequence number of the next entry, from 1.
    next_seq: u64,
}

/// The audit ring.
#[pin_data]
pub(crate) struct Audit {
    #[pin]
    ring: Mutex<Ring>,
}

impl Audit {
    /// An empty ring, allocated whole (so that recording never fails).
    pub(crate) fn new() -> Result<impl PinInit<Self>> {
        let entries = KVec::with_capacity(ENTRIES, GFP_KERNEL)?;
        Ok(pin_init!(Self {
            ring <- new_mutex!(Ring { entries, next_seq: 1 }, "nitro_ctrl::audit"),
        }))
    }

    /// Takes the ring's lock and lets it go (see
    /// [`crate::controller::lockdep_probe`]).
    pub(crate) fn touch_locks(&self) {
        drop(self.ring.lock());
    }

    /// Records one operation: its command number, the object, the result.
    pub(crate) fn record(&self, op: u32, id: u64, result: &Result) {
        let mut e = uapi::nitro_audit_entry {
            time_ns: kapi::realtime_ns(),
            uid: kapi::current_uid(),
            op,
            result: match result {
                Ok(()) => 0,
                Err(e) => e.to_errno(),
            },
            id,
            ..Default::default()
        };
        let mut ring = self.ring.lock();
        e.seq = ring.next_seq;
        ring.next_seq += 1;
        let slot = (e.seq as usize - 1) % ENTRIES;
        if ring.entries.len() < ENTRIES {
            // Capacity was reserved at init: this push does not allocate.
            let _ = ring.entries.push(e, GFP_ATOMIC);
        } else if let Some(s) = ring.entries.get_mut(slot) {
            *s = e;
        }
    }

    /// Up to `cap` entries with sequence numbers above `after`, oldest
    /// first, and whether more follow.
    pub(crate) fn list(
        &self,
        after: u64,
        cap: usize,
    ) -> Result<(KVVec<uapi::nitro_audit_entry>, bool)> {
        let mut out = KVVec::with_capacity(cap, GFP_KERNEL)?;
        let ring = self.ring.lock();
        let newest = ring.next_seq - 1;
        let oldest = newest.saturating_sub(ring.entries.len() as u64) + 1;
        let mut seq = after.saturating_add(1).max(oldest);
        while seq <= newest && out.len() < cap {
            if let Some(e) = ring.entries.get((seq as usize - 1) % ENTRIES) {
                out.push(*e, GFP_KERNEL)?;
            }
            seq += 1;
        }
        Ok((out, seq <= newest))
    }
}
