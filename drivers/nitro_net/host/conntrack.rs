// SPDX-License-Identifier: GPL-2.0

//! An ENI's connection table: the flows its security groups allowed, so
//! that their packets, and the replies, pass without the rules
//! (Documentation/vpc.rst, Security groups).
//!
//! A fixed open-addressed table of [`SLOTS`] slots, at most [`MAX`] of them
//! live: a flow's slot is one of [`PROBES`] after its keyed hash. An entry
//! lives until idle for its timeout (EC2's defaults); an expired one is
//! reused when a new flow needs its place. The table takes no memory after
//! it is made, so a full table refuses a flow (counted as
//! `conntrack_allowance_exceeded`) rather than growing.

use crate::rcu_table::{fmix64, random_seed};
use kernel::{alloc::KVVec, prelude::*};

/// Most flows tracked at once (`NITRO_CONNTRACK_MAX`).
pub(crate) const MAX: usize = nitro_ctrl::uapi::NITRO_CONNTRACK_MAX as usize;
/// Slots: twice as many, so that chains of probes stay short.
const SLOTS: usize = 2 * MAX;
/// Slots a flow may take, from its hash on.
const PROBES: usize = 16;

const SEC: u64 = 1_000_000_000;
/// EC2's idle timeouts: a TCP connection once established, 5 days.
const TCP_ESTABLISHED: u64 = 432_000 * SEC;
/// TCP before it is established, and once it closes.
const TCP_OTHER: u64 = 60 * SEC;
/// UDP seen one way (or one request and its response).
const UDP_ONE_WAY: u64 = 30 * SEC;
/// UDP seen both ways: a stream.
const UDP_STREAM: u64 = 180 * SEC;
/// ICMP and other protocols.
const OTHER: u64 = 30 * SEC;

/// A flow, as seen from the ENI: whichever way a packet goes, its flow has
/// the same key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Key {
    /// IPv4 protocol.
    pub(crate) proto: u8,
    /// The peer's address.
    pub(crate) remote: u32,
    /// The ENI's port (ICMP echo: the identifier).
    pub(crate) local_port: u16,
    /// The peer's port (ICMP echo: the identifier).
    pub(crate) remote_port: u16,
}

/// Which ways a flow was seen, and how it goes.
const SEEN_OUT: u8 = 1;
const SEEN_IN: u8 = 2;
const CLOSING: u8 = 4;

#[derive(Clone, Copy, Default)]
struct Slot {
    key: Key,
    used: bool,
    seen: u8,
    /// When it expires, ns on the card's clock.
    expires: u64,
}

impl Slot {
    fn live(&self, now: u64) -> bool {
        self.used && self.expires > now
    }

    /// Records a packet of the flow, `inbound` or not, with TCP flags
    /// `flags`, at `now`.
    fn touch(&mut self, inbound: bool, flags: u8, now: u64) {
        self.seen |= if inbound { SEEN_IN } else { SEEN_OUT };
        let both = self.seen & (SEEN_IN | SEEN_OUT) == SEEN_IN | SEEN_OUT;
        let timeout = match self.key.proto {
            crate::wire::IPPROTO_TCP => {
                if flags & crate::wire::TCP_RST != 0 {
                    0
                } else {
                    if flags & crate::wire::TCP_FIN != 0 {
                        self.seen |= CLOSING;
                    }
                    if both && self.seen & CLOSING == 0 {
                        TCP_ESTABLISHED
                    } else {
                        TCP_OTHER
                    }
                }
            }
            crate::wire::IPPROTO_UDP if both => UDP_STREAM,
            crate::wire::IPPROTO_UDP => UDP_ONE_WAY,
            _ => OTHER,
        };
        self.expires = now.saturating_add(timeout);
    }
}

/// What [`Table::admit`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tracked {
    /// The flow was tracked: the packet passes.
    Known,
    /// It is tracked now.
    Added,
    /// The table is full: the flow is refused.
    Full,
}

/// The connection table of one ENI.
pub(crate) struct Table {
    slots: KVVec<Slot>,
    /// Slots used, live or expired (expired ones are reused in place).
    used: usize,
    seed: u64,
}

impl Table {
    /// An empty table (about 24 bytes per slot, [`SLOTS`] slots).
    pub(crate) fn new() -> Result<Self> {
        let mut slots = KVVec::with_capacity(SLOTS, GFP_KERNEL)?;
        for _ in 0..SLOTS {
            slots.push(Slot::default(), GFP_KERNEL)?;
        }
        Ok(Self {
            slots,
            used: 0,
            seed: random_seed(),
        })
    }

    /// The first slot of `key`'s probes.
    fn start(&self, key: &Key) -> usize {
        let k = (u64::from(key.remote) << 32)
            | (u64::from(key.local_port) << 16)
            | u64::from(key.remote_port);
        let h = fmix64(k ^ self.seed ^ (u64::from(key.proto) << 56));
        (h as usize) % SLOTS
    }

    /// The slot holding live flow `key`, if any.
    fn find(&self, key: &Key, now: u64) -> Option<usize> {
        let s = self.start(key);
        (0..PROBES)
            .map(|i| (s + i) % SLOTS)
            .find(|&i| self.slots[i].live(now) && self.slots[i].key == *key)
    }

    /// Whether flow `key` is tracked (nothing recorded: an ICMP error
    /// about it passes, and leaves it as it was).
    pub(crate) fn knows(&self, key: &Key, now: u64) -> bool {
        self.find(key, now).is_some()
    }

    /// A packet of flow `key` (`inbound` to the ENI or not, TCP flags
    /// `flags`) at `now`: records it if the flow is tracked, else tracks
    /// it if `add` (the rules allow it) and there is room.
    pub(crate) fn admit(
        &mut self,
        key: &Key,
        inbound: bool,
        flags: u8,
        now: u64,
        add: bool,
    ) -> Option<Tracked> {
        if let Some(i) = self.find(key, now) {
            self.slots[i].touch(inbound, flags, now);
            return Some(Tracked::Known);
        }
        if !add {
            return None;
        }
        let s = self.start(key);
        let free = (0..PROBES)
            .map(|i| (s + i) % SLOTS)
            .find(|&i| !self.slots[i].used || (self.slots[i].expires <= now));
        let Some(i) = free else {
            return Some(Tracked::Full);
        };
        if !self.slots[i].used {
            if self.used >= MAX {
                // Expired flows elsewhere may hold the room: free them.
                self.reclaim(now);
                if self.used >= MAX {
                    return Some(Tracked::Full);
                }
            }
            self.used += 1;
        }
        self.slots[i] = Slot {
            key: *key,
            used: true,
            seen: 0,
            expires: 0,
        };
        self.slots[i].touch(inbound, flags, now);
        Some(Tracked::Added)
    }

    /// Frees the slots of expired flows (a scan of the table: only when
    /// it is at its limit).
    fn reclaim(&mut self, now: u64) {
        for s in self.slots.iter_mut().filter(|s| s.used && s.expires <= now) {
            s.used = false;
        }
        self.used = self.slots.iter().filter(|s| s.used).count();
    }

    /// How many more flows it can track now (expired ones count as room).
    pub(crate) fn available(&self, now: u64) -> usize {
        let live = self.slots.iter().filter(|s| s.live(now)).count();
        MAX.saturating_sub(live)
    }
}
