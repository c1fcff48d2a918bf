// SPDX-License-Identifier: GPL-2.0

//! An ENI's traffic allowances, as EC2's card enforces them: a bandwidth
//! allowance each way and a packet-rate allowance for both ways together,
//! each a token bucket. A frame over one is dropped (not queued: the card
//! holds no frame back, and TCP adapts to drops as it does on a policer)
//! and counted in the ENA-named counter of that allowance.
//!
//! Each bucket is one word, the generic cell rate algorithm's "theoretical
//! arrival time": the moment its debt is paid. A frame is let through if
//! the debt is at most [`BURST_NS`], and adds the time its size takes at
//! the allowed rate. No lock is taken: a compare-and-exchange per frame,
//! and nothing at all for an ENI without a limit.

use kernel::{
    sync::atomic::{Atomic, Relaxed},
    time::{Instant, Monotonic},
};
use nitro_ctrl::bus::Allowance;

/// How far traffic may run ahead of its rate: the bucket's depth, as time
/// at that rate (200 ms: 2.5 MB at 100 Mbit/s). A policer this deep keeps
/// TCP at the allowed rate on average: what a flow does not send while it
/// recovers from a loss (a retransmission timeout is at least 200 ms) is
/// kept for it. At 50 ms, iperf3 over a 100 Mbit/s allowance got 54 Mbit/s;
/// at 200 ms, 95-97 Mbit/s.
pub(super) const BURST_NS: u64 = 200_000_000;

const NSEC_PER_SEC: u64 = 1_000_000_000;

/// One token bucket.
struct Bucket {
    /// Units (bits or packets) per second; 0: no limit.
    rate: Atomic<u64>,
    /// When the debt is paid, ns on the port's clock.
    tat: Atomic<u64>,
}

impl Bucket {
    const fn new() -> Self {
        Self {
            rate: Atomic::new(0),
            tat: Atomic::new(0),
        }
    }

    /// Whether `units` may pass at `now`; if so, they are charged.
    fn admit(&self, units: u64, now: u64) -> bool {
        let rate = self.rate.load(Relaxed);
        if rate == 0 {
            return true;
        }
        let cost = units.saturating_mul(NSEC_PER_SEC) / rate;
        let mut tat = self.tat.load(Relaxed);
        loop {
            let base = tat.max(now);
            if base - now > BURST_NS {
                return false;
            }
            match self.tat.cmpxchg(tat, base.saturating_add(cost), Relaxed) {
                Ok(_) => return true,
                Err(seen) => tat = seen,
            }
        }
    }
}

/// Which allowance a frame went over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Exceeded {
    /// Bandwidth to the ENI.
    BwIn,
    /// Bandwidth from the ENI.
    BwOut,
    /// Packets per second.
    Pps,
}

/// The buckets of one ENI.
pub(super) struct Buckets {
    bw_in: Bucket,
    bw_out: Bucket,
    pps: Bucket,
    /// The `allowance_gen` of the setting applied.
    gen: Atomic<u64>,
    /// The clock's origin.
    origin: Instant<Monotonic>,
}

impl Buckets {
    /// Buckets enforcing `a` ([`Allowance::enforced`]), set `gen`.
    pub(super) fn new(a: &Allowance, gen: u64) -> Self {
        let b = Self {
            bw_in: Bucket::new(),
            bw_out: Bucket::new(),
            pps: Bucket::new(),
            gen: Atomic::new(gen),
            origin: Instant::now(),
        };
        b.store(a);
        b
    }

    fn store(&self, a: &Allowance) {
        self.bw_in.rate.store(a.bw_in_bps, Relaxed);
        self.bw_out.rate.store(a.bw_out_bps, Relaxed);
        self.pps.rate.store(a.pps, Relaxed);
    }

    /// Enforces `a` from now on, if `gen` is not older than the setting
    /// applied. Called with the card's lock held (changes are serial).
    pub(super) fn set(&self, a: &Allowance, gen: u64) {
        if gen >= self.gen.load(Relaxed) {
            self.gen.store(gen, Relaxed);
            self.store(a);
        }
    }

    /// What the buckets enforce now (0: no limit).
    pub(super) fn current(&self) -> Allowance {
        Allowance {
            bw_in_bps: self.bw_in.rate.load(Relaxed),
            bw_out_bps: self.bw_out.rate.load(Relaxed),
            pps: self.pps.rate.load(Relaxed),
        }
    }

    fn limited(&self, bw: &Bucket) -> bool {
        bw.rate.load(Relaxed) != 0 || self.pps.rate.load(Relaxed) != 0
    }

    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(0)
    }

    /// Charges a frame of `len` bytes carrying `packets` packets, to the
    /// ENI (`inbound`) or from it; gives the allowance it went over.
    pub(super) fn charge(&self, inbound: bool, len: usize, packets: u64) -> Option<Exceeded> {
        let (bw, over) = if inbound {
            (&self.bw_in, Exceeded::BwIn)
        } else {
            (&self.bw_out, Exceeded::BwOut)
        };
        if !self.limited(bw) {
            return None;
        }
        let now = self.now();
        if !self.pps.admit(packets, now) {
            return Some(Exceeded::Pps);
        }
        if !bw.admit((len as u64).saturating_mul(8), now) {
            return Some(over);
        }
        None
    }
}

/// Bytes of the Ethernet, IPv4 and TCP headers of a TCP segment without
/// options, to count the segments of a super-packet.
const SEGMENT_HEADERS: usize = 54;

/// How many packets a frame of `len` bytes stands for: one, or for a TCP
/// super-packet of segment size `gso_size`, the segments it carries.
pub(super) fn packets(len: usize, gso_size: u16) -> u64 {
    if gso_size == 0 {
        return 1;
    }
    len.saturating_sub(SEGMENT_HEADERS)
        .div_ceil(usize::from(gso_size))
        .max(1) as u64
}
