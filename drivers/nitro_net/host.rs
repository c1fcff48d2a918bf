// SPDX-License-Identifier: GPL-2.0

//! A host (one VPC card instance) and its data path: switching, the
//! mapping table, Geneve and sealing. Documentation/vpc.rst is the
//! specification. This file holds the host and its lifecycle, with one
//! `unsafe` (installing the socket's receiver); the rest is by concept:
//!
//! - `host/counters.rs`: the ENI's counters (`ethtool -S`);
//! - `host/port.rs`: an attached ENI as the data path sees it;
//! - `host/allowance.rs`: its allowances (token buckets);
//! - `host/conntrack.rs`: its connection table (security groups);
//! - `host/tables.rs`: ports, mapping entries and peer keys, and their
//!   lookups (hash tables read under RCU: `rcu_table.rs`);
//! - `host/tx.rs`: the transmit path and the host's transmit worker;
//! - `host/rx.rs`: the underlay receive path and the receive worker.
//!
//! Locking: the data path looks up the tables (ports, mapping entries, peer
//! keys) under RCU and takes no lock for it; the controller's requests
//! change them under each table's mutex, while traffic flows. What a
//! lookup finds it uses under the RCU read lock, or through a reference
//! (`Arc`) taken under it: copies, encryption and delivery run outside it.
//! A key's counters are atomic; its replay window has its own IRQ-safe
//! spinlock, held only to check and record one counter. Two more guard the
//! transmit queue (taken by the transmit path, its worker and `ndo_stop`)
//! and the receive queue (the socket callback and its worker), never with
//! another held.

use crate::{
    fifo::Fifo,
    net::{NetNs, UdpSock},
    skb::Skb,
};
use kernel::{
    impl_has_work, new_spinlock_irq, new_work,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, SpinLockIrq,
    },
    workqueue::Work,
};
use nitro_ctrl::{
    bus::{HostCounter, HostInfo, HOST_COUNTERS},
    wq::{self, OwnedQueue},
};
use tables::Tables;
use tx::TxJob;

mod allowance;
mod conntrack;
mod counters;
mod port;
mod rx;
mod tables;
mod tx;

pub(crate) use counters::{ethtool_names, ETHTOOL_COUNT};
pub(crate) use port::Port;
pub(crate) use rx::receive;
pub(crate) use tx::xmit;

/// Room in front of a frame the card hands to an ENI (`NET_IP_ALIGN`: the
/// IPv4 header after the 14-byte Ethernet header lands aligned).
const RX_HEADROOM: usize = 2;

/// A VPC card instance: one emulated Nitro host.
#[pin_data]
pub(crate) struct Host {
    /// Its number, 1 to `NITRO_HOSTS_MAX`.
    pub(crate) id: u32,
    /// Its underlay address (network byte order).
    pub(crate) underlay: u32,
    sock: UdpSock,
    net: NetNs,
    #[pin]
    tables: Tables,
    counts: [Atomic<u64>; HOST_COUNTERS],
    /// Datagrams the socket took, waiting for the receive worker.
    #[pin]
    rxq: SpinLockIrq<Fifo<(Skb, u32)>>,
    #[pin]
    rx_work: Work<Host, RX>,
    /// Frames for Nitro peers, waiting for the transmit worker.
    #[pin]
    txq: SpinLockIrq<Fifo<TxJob>>,
    #[pin]
    tx_work: Work<Host, TX>,
    /// The card's work queue, where both workers run.
    wq: Arc<OwnedQueue>,
}

/// Ids of a host's two work items.
const RX: u64 = 0;
const TX: u64 = 1;

impl_has_work! {
    impl HasWork<Self, RX> for Host { self.rx_work }
    impl HasWork<Self, TX> for Host { self.tx_work }
}

impl Host {
    /// Makes host `id` at `underlay` in `net`, its socket opened there, and
    /// starts receiving.
    pub(crate) fn new(
        id: u32,
        underlay: u32,
        net: NetNs,
        wq: Arc<OwnedQueue>,
    ) -> Result<Arc<Self>> {
        let sock = UdpSock::open(&net, underlay)?;
        let host = Arc::pin_init(
            try_pin_init!(Self {
                id,
                underlay,
                sock,
                net,
                tables <- Tables::new(),
                counts: [const { Atomic::new(0) }; HOST_COUNTERS],
                rxq <- new_spinlock_irq!(Fifo::new(), "nitro_net::rxq"),
                rx_work <- new_work!("nitro_net::rx"),
                txq <- new_spinlock_irq!(Fifo::new(), "nitro_net::txq"),
                tx_work <- new_work!("nitro_net::tx"),
                wq,
            }? Error),
            GFP_KERNEL,
        )?;
        // The pointer is the `Arc`'s, which the callback borrows.
        let ptr = Arc::as_ptr(&host);
        // SAFETY: The card closes the socket (`close`) before it drops its
        // reference to the host, so the host outlives every callback.
        unsafe { host.sock.set_receiver(ptr.cast(), crate::net::receive) };
        Ok(host)
    }

    /// Stops the host's socket; it receives nothing after this returns.
    /// Called once the host has no ENIs left, before it is dropped.
    pub(crate) fn close(&self) {
        self.sock.close();
        // Nothing queues the workers any more: wait for their last runs.
        wq::flush_work(&self.rx_work);
        wq::flush_work(&self.tx_work);
    }

    /// Whether the host's underlay is `addr` in namespace `net`.
    pub(crate) fn is_at(&self, net: &NetNs, addr: u32) -> bool {
        self.underlay == addr && core::ptr::eq(self.net.as_ptr(), net.as_ptr())
    }

    /// The namespace of the underlay (where its ENIs are created).
    pub(crate) fn netns(&self) -> &NetNs {
        &self.net
    }

    fn bump(&self, c: HostCounter) {
        self.counts[c as usize].fetch_add(1, Relaxed);
    }

    /// Sizes and counters, for `NITRO_IOC_HOST_DESCRIBE`.
    pub(crate) fn info(&self, enis: u32) -> HostInfo {
        let (maps, peers) = self.table_sizes();
        let mut counters = [0; HOST_COUNTERS];
        for (v, c) in counters.iter_mut().zip(&self.counts) {
            *v = c.load(Relaxed);
        }
        HostInfo {
            underlay: self.underlay,
            enis,
            maps,
            peers,
            counters,
        }
    }
}
