// SPDX-License-Identifier: GPL-2.0

//! The audit log: a ring of the last control operations (who, what, on
//! which object, with what result), read through `NITRO_IOC_AUDIT`.

use crate::{kapi, uapi};
use kernel::prelude::*;

/// How many operations the ring keeps.
pub(crate) const ENTRIES: usize = 1024;

struct Ring {
    entries: KVec<uapi::nitro_audit_entry>,
    /// Sequence number of the next entry, from 1.
    next_seq: u64,
}

kernel::sync::global_lock! {
    // SAFETY: `init` is called in the module initializer before the misc
    // device is registered.
    unsafe(uninit) static AUDIT: Mutex<Ring> = Ring {
        entries: KVec::new(),
        next_seq: 1,
    };
}

/// Initialises the ring (allocating it whole, so recording never fails).
pub(crate) fn init() -> Result {
    // SAFETY: Called exactly once, from the module initializer.
    unsafe { AUDIT.init() };
    let entries = KVec::with_capacity(ENTRIES, GFP_KERNEL)?;
    AUDIT.lock().entries = entries;
    Ok(())
}

/// Records one operation: its command number, the object, the result.
pub(crate) fn record(op: u32, id: u64, result: &Result) {
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
    let mut ring = AUDIT.lock();
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

/// Up to `cap` entries with sequence numbers above `after`, oldest first,
/// and whether more follow.
pub(crate) fn list(after: u64, cap: usize) -> Result<(KVVec<uapi::nitro_audit_entry>, bool)> {
    let mut out = KVVec::with_capacity(cap, GFP_KERNEL)?;
    let ring = AUDIT.lock();
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

/// Frees the ring at module exit.
pub(crate) fn clear() {
    AUDIT.lock().entries = KVec::new();
}
