// SPDX-License-Identifier: GPL-2.0

//! An attached ENI as the data path sees it: its addresses, its device,
//! its allowances and its counters.

use super::{
    allowance::{self, Buckets, Exceeded},
    counters::PortCounter,
    Host,
};
use crate::netdev::Dev;
use kernel::{
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};
use nitro_ctrl::bus::{Allowance, EniSpec, HostCounter, Metrics};

/// An attached ENI, as the data path sees it.
pub(crate) struct Port {
    pub(super) eni: u64,
    pub(super) vpc: u32,
    pub(super) mac: [u8; 6],
    pub(super) ipv4: u32,
    pub(super) dev: Dev,
    pub(super) host: Arc<Host>,
    allow: Buckets,
    counts: [Atomic<u64>; PortCounter::COUNT],
}

impl Port {
    /// The port of ENI `spec` on `host`, sending and receiving on `dev`,
    /// enforcing `allowance` ([`Allowance::enforced`]).
    pub(crate) fn new(
        spec: &EniSpec,
        allowance: &Allowance,
        dev: Dev,
        host: Arc<Host>,
    ) -> Result<Arc<Self>> {
        Ok(Arc::new(
            Self {
                eni: spec.id,
                vpc: spec.vpc,
                mac: spec.mac,
                ipv4: spec.ipv4,
                dev,
                host,
                allow: Buckets::new(allowance, spec.allowance_gen),
                counts: [const { Atomic::new(0) }; PortCounter::COUNT],
            },
            GFP_KERNEL,
        )?)
    }

    /// The ENI's id.
    pub(crate) fn eni_id(&self) -> u64 {
        self.eni
    }

    /// Enforces `a` from now on, unless a newer setting than `gen` was
    /// applied (see [`Buckets::set`]).
    pub(crate) fn set_allowance(&self, a: &Allowance, gen: u64) {
        self.allow.set(a, gen);
    }

    /// Charges a frame of `len` bytes (a TCP super-packet of segment size
    /// `gso_size`, or 0) to the ENI's allowances, to it (`inbound`) or from
    /// it. Gives whether it may pass; if not, counts it as over the
    /// allowance it went over.
    pub(super) fn admit(&self, inbound: bool, len: usize, gso_size: u16) -> bool {
        let Some(over) = self
            .allow
            .charge(inbound, len, allowance::packets(len, gso_size))
        else {
            return true;
        };
        self.bump(
            match over {
                Exceeded::BwIn => PortCounter::BwInExceeded,
                Exceeded::BwOut => PortCounter::BwOutExceeded,
                Exceeded::Pps => PortCounter::PpsExceeded,
            },
            1,
        );
        false
    }

    pub(super) fn bump(&self, c: PortCounter, n: u64) {
        self.counts[c as usize].fetch_add(n, Relaxed);
    }

    fn get(&self, c: PortCounter) -> u64 {
        self.counts[c as usize].load(Relaxed)
    }

    /// The `ethtool -S` values, in [`ethtool_names`](super::ethtool_names)
    /// order.
    pub(crate) fn counters(&self, out: &mut [u64]) {
        for (i, v) in out.iter_mut().enumerate() {
            *v = self.counts.get(i).map_or(0, |c| c.load(Relaxed));
        }
    }

    /// The counters the controller reports for the ENI.
    pub(crate) fn metrics(&self) -> Metrics {
        Metrics {
            tx_packets: self.get(PortCounter::TxPackets),
            tx_bytes: self.get(PortCounter::TxBytes),
            rx_packets: self.get(PortCounter::RxPackets),
            rx_bytes: self.get(PortCounter::RxBytes),
            drops: self.get(PortCounter::Spoofed)
                + self.get(PortCounter::NoMapping)
                + self.get(PortCounter::Unsupported)
                + self.get(PortCounter::NoKey)
                + self.get(PortCounter::BwInExceeded)
                + self.get(PortCounter::BwOutExceeded)
                + self.get(PortCounter::PpsExceeded),
            bw_in_allowance_exceeded: self.get(PortCounter::BwInExceeded),
            bw_out_allowance_exceeded: self.get(PortCounter::BwOutExceeded),
            pps_allowance_exceeded: self.get(PortCounter::PpsExceeded),
            allowance: self.allow.current(),
            ..Metrics::default()
        }
    }

    /// Counts a frame the guest sent that the card carried.
    pub(super) fn sent(&self, len: usize, how: PortCounter) {
        self.dev.tx(len);
        self.bump(PortCounter::TxPackets, 1);
        self.bump(PortCounter::TxBytes, len as u64);
        self.bump(how, 1);
    }

    /// Counts a frame the guest sent that the card carried (`sent` is
    /// `Ok`) or dropped.
    pub(super) fn count_sent(&self, len: usize, how: PortCounter, sent: Result) {
        match sent {
            Ok(()) => self.sent(len, how),
            Err(_) => {
                self.host.bump(HostCounter::TxErrors);
                self.dev.tx_dropped();
            }
        }
    }

    /// Stops sending: waits until the frames of this ENI that wait to be
    /// sealed are sent (see [`Host::stop_tx`]).
    pub(crate) fn stop_tx(&self) {
        self.host.stop_tx(self.eni);
    }

    /// Counts a frame delivered to the guest.
    pub(super) fn received(&self, len: usize) {
        self.dev.rx(len);
        self.bump(PortCounter::RxPackets, 1);
        self.bump(PortCounter::RxBytes, len as u64);
    }
}
