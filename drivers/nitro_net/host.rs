// SPDX-License-Identifier: GPL-2.0

//! A host (one VPC card instance) and its data path: switching, the
//! mapping table, Geneve and sealing. Documentation/vpc.rst is the
//! specification; this file has no `unsafe`.
//!
//! Locking: each host has one IRQ-safe spinlock over its tables (ports,
//! mapping entries, peer keys), taken by the transmit path, the underlay
//! receive path (softirq, or the host's receive worker) and the
//! controller's requests. It is held only for lookups and counter updates:
//! copies, encryption and delivery run outside it, on references (`Arc`)
//! taken under it. Two more guard the transmit queue (taken by the
//! transmit path, its worker and `ndo_stop`) and the receive queue (the
//! socket callback and its worker), never with another held.

use crate::{
    fifo::Fifo,
    gcm::{GcmKey, Layout, NONCE_LEN, SPLIT_MAX, TAG_LEN},
    net::{NetNs, Route, UdpSock, HEADROOM},
    netdev::Dev,
    replay::Replay,
    sg::SG_FRAME,
    skb::{Offload, Skb},
    wire::{self, Arp, Frame, OffloadOpt, ARP_FRAME_LEN, ETH_LEN, GENEVE_LEN, SEAL_LEN},
};
use kernel::{
    impl_has_work, new_spinlock_irq, new_work,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        rcu, Arc, ArcBorrow, SpinLockIrq,
    },
    workqueue::{Work, WorkItem},
};
use nitro_ctrl::{
    bus::{EniSpec, HostInfo, MapSpec, Metrics, HOST_COUNTERS},
    uapi,
    wq::{self, OwnedQueue},
};

/// Room in front of a frame the card hands to an ENI (`NET_IP_ALIGN`: the
/// IPv4 header after the 14-byte Ethernet header lands aligned).
const RX_HEADROOM: usize = 2;
/// Length of the UDP header in front of a datagram the socket hands over.
const UDP_LEN: usize = 8;
/// Most mapping entries, and most keyed peers, per host.
const MAPS_MAX: usize = uapi::NITRO_MAPS_MAX as usize;
const PEERS_MAX: usize = uapi::NITRO_PEERS_MAX as usize;
/// Most datagrams waiting for a host's receive worker; more are dropped
/// (as the kernel's own backlog does at `netdev_max_backlog`).
const RX_BACKLOG: usize = 1024;
/// Most sealed frames waiting for a host's transmit worker; more are
/// dropped (the sockets they come from wait on their send buffers first).
const TX_BACKLOG: usize = 1024;
/// Largest frame sealed at once by the sender when nothing is waiting (an
/// ACK, a request of a request/response exchange): a trip through the
/// worker costs such a frame more than sealing it.
const TX_INLINE_MAX: usize = 512;

/// Counters of an ENI, in `ethtool -S` order.
#[derive(Clone, Copy)]
enum C {
    TxPackets,
    TxBytes,
    RxPackets,
    RxBytes,
    Spoofed,
    NoMapping,
    Unsupported,
    NoKey,
    Sealed,
    Plain,
    Local,
}

/// Names of the ENI counters (`ethtool -S`). The last three are ENA's
/// allowance counters: no allowance is enforced, so they stay 0.
pub(crate) const ETHTOOL_COUNTERS: [&str; 14] = [
    "tx_packets",
    "tx_bytes",
    "rx_packets",
    "rx_bytes",
    "tx_spoofed",
    "tx_no_mapping",
    "tx_unsupported",
    "tx_no_key",
    "tx_sealed",
    "tx_plain",
    "tx_local",
    "bw_in_allowance_exceeded",
    "bw_out_allowance_exceeded",
    "pps_allowance_exceeded",
];
const PORT_COUNTERS: usize = C::Local as usize + 1;

/// Counters of a host, in `struct nitro_host_info` order.
#[derive(Clone, Copy)]
enum H {
    TxSealed,
    RxSealed,
    TxPlain,
    RxPlain,
    RxBadAuth,
    RxReplay,
    RxNoKey,
    RxNotAllowed,
    RxMalformed,
    TxNoKey,
    TxErrors,
    RxBacklog,
}

/// An attached ENI, as the data path sees it.
pub(crate) struct Port {
    eni: u64,
    vpc: u32,
    mac: [u8; 6],
    ipv4: u32,
    dev: Dev,
    host: Arc<Host>,
    counts: [Atomic<u64>; PORT_COUNTERS],
}

impl Port {
    /// The port of ENI `spec` on `host`, sending and receiving on `dev`.
    pub(crate) fn new(spec: &EniSpec, dev: Dev, host: Arc<Host>) -> Result<Arc<Self>> {
        Ok(Arc::new(
            Self {
                eni: spec.id,
                vpc: spec.vpc,
                mac: spec.mac,
                ipv4: spec.ipv4,
                dev,
                host,
                counts: [const { Atomic::new(0) }; PORT_COUNTERS],
            },
            GFP_KERNEL,
        )?)
    }

    /// The ENI's id.
    pub(crate) fn eni_id(&self) -> u64 {
        self.eni
    }

    fn bump(&self, c: C, n: u64) {
        self.counts[c as usize].fetch_add(n, Relaxed);
    }

    fn get(&self, c: C) -> u64 {
        self.counts[c as usize].load(Relaxed)
    }

    /// The `ethtool -S` values, in [`ETHTOOL_COUNTERS`] order.
    pub(crate) fn counters(&self, out: &mut [u64]) {
        for (i, v) in out.iter_mut().enumerate() {
            *v = self.counts.get(i).map_or(0, |c| c.load(Relaxed));
        }
    }

    /// The counters the controller reports for the ENI.
    pub(crate) fn metrics(&self) -> Metrics {
        Metrics {
            tx_packets: self.get(C::TxPackets),
            tx_bytes: self.get(C::TxBytes),
            rx_packets: self.get(C::RxPackets),
            rx_bytes: self.get(C::RxBytes),
            drops: self.get(C::Spoofed)
                + self.get(C::NoMapping)
                + self.get(C::Unsupported)
                + self.get(C::NoKey),
            ..Metrics::default()
        }
    }

    /// Counts a frame the guest sent that the card carried.
    fn sent(&self, len: usize, how: C) {
        self.dev.tx(len);
        self.bump(C::TxPackets, 1);
        self.bump(C::TxBytes, len as u64);
        self.bump(how, 1);
    }

    /// Counts a frame the guest sent that the card carried (`sent` is
    /// `Ok`) or dropped.
    fn count_sent(&self, len: usize, how: C, sent: Result) {
        match sent {
            Ok(()) => self.sent(len, how),
            Err(_) => {
                self.host.bump(H::TxErrors);
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
    fn received(&self, len: usize) {
        self.dev.rx(len);
        self.bump(C::RxPackets, 1);
        self.bump(C::RxBytes, len as u64);
    }
}

/// One entry of the mapping table.
#[derive(Clone, Copy)]
struct MapEntry {
    vpc: u32,
    ipv4: u32,
    mac: [u8; 6],
    underlay: u32,
    nitro: bool,
}

/// One key of a peer.
struct KeySlot {
    epoch: u32,
    key: Arc<GcmKey>,
    /// The counter the next sealed packet takes.
    next: u64,
    window: Replay,
}

/// A peer host the host shares keys with.
struct Peer {
    addr: u32,
    cur: KeySlot,
    prev: Option<KeySlot>,
}

impl Peer {
    fn slot(&mut self, epoch: u32) -> Option<&mut KeySlot> {
        if self.cur.epoch == epoch {
            return Some(&mut self.cur);
        }
        self.prev.as_mut().filter(|s| s.epoch == epoch)
    }
}

/// What a host's lock protects.
struct Tables {
    ports: KVec<Arc<Port>>,
    maps: KVec<MapEntry>,
    peers: KVec<Peer>,
}

/// Largest datagram opened at once in softirq when nothing is waiting (an
/// ACK, a request of a request/response exchange): a trip through the
/// worker costs such a packet more than opening it.
const RX_INLINE_MAX: usize = 512;

/// A frame for a Nitro peer, waiting for the host's transmit worker to
/// seal and send it: where it goes, as [`xmit`] found.
struct TxJob {
    port: Arc<Port>,
    skb: Skb,
    to: u32,
    seal: Seal,
    sport: u16,
}

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
    t: SpinLockIrq<Tables>,
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

/// The receive worker: opens and delivers what the socket queued, on
/// whichever CPU the unbound work queue runs it (see [`receive`]).
impl WorkItem<RX> for Host {
    type Pointer = Arc<Host>;

    fn run(this: Arc<Host>) {
        this.drain_rx();
    }
}

/// The transmit worker: seals and sends what the ENIs queued (see
/// [`xmit`]), one batch per run, then queues itself again if more came:
/// flushing it (when an ENI stops) waits for one batch, not for traffic of
/// other ENIs to pause.
impl WorkItem<TX> for Host {
    type Pointer = Arc<Host>;

    fn run(this: Arc<Host>) {
        let Some(mut batch) = this.txq.lock().take() else {
            return;
        };
        for job in batch.drain_all() {
            send_job(job);
        }
        if this.txq.lock().release(Some(batch)) {
            kick_tx(this.as_arc_borrow());
        }
    }
}

/// Where a frame from the guest goes.
enum Tx {
    /// To an ENI on the same host.
    Local(Arc<Port>),
    /// To a peer host, sealed with (key, epoch, counter) or plain.
    Remote(u32, Option<(Arc<GcmKey>, u32, u64)>),
    /// An ARP request the card answers with this MAC.
    ArpReply([u8; 6], Arp),
    /// Nowhere: dropped and counted.
    Drop(C),
    /// Nowhere, silently (the guest's own gratuitous ARP).
    Absorb,
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
            pin_init!(Self {
                id,
                underlay,
                sock,
                net,
                t <- new_spinlock_irq!(
                    Tables {
                        ports: KVec::new(),
                        maps: KVec::new(),
                        peers: KVec::new(),
                    },
                    "nitro_net::host"
                ),
                counts: [const { Atomic::new(0) }; HOST_COUNTERS],
                rxq <- new_spinlock_irq!(Fifo::new(), "nitro_net::rxq"),
                rx_work <- new_work!("nitro_net::rx"),
                txq <- new_spinlock_irq!(Fifo::new(), "nitro_net::txq"),
                tx_work <- new_work!("nitro_net::tx"),
                wq,
            }),
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

    /// Waits until the transmit worker has sent every frame of ENI `eni`
    /// it holds. Called when the ENI's device stops, after the core has
    /// waited for the device's transmissions in progress (so none is
    /// queued any more): the frames it took are sent, not lost, and the
    /// worker uses its device no more.
    pub(crate) fn stop_tx(&self, eni: u64) {
        loop {
            let waiting = self.txq.lock().any(|job| job.port.eni == eni);
            // Waits for the run in progress (which may hold frames of the
            // ENI taken before the look), and for a queued one.
            wq::flush_work(&self.tx_work);
            if !waiting {
                return;
            }
        }
    }

    /// Opens and delivers the queued datagrams, in the order they came,
    /// until none is left. Another opening in progress (busy) queues the
    /// worker again when it ends.
    fn drain_rx(&self) {
        loop {
            // Not `while let`: its guard would live through the body.
            let Some(mut batch) = self.rxq.lock().take() else {
                return;
            };
            {
                // The data path runs in RCU read-side sections: detach
                // waits for them before an ENI's device goes.
                let _rcu = rcu::read_lock();
                for (skb, src) in batch.drain_all() {
                    open_and_deliver(self, skb, src);
                }
            }
            self.rxq.lock().release(Some(batch));
        }
    }

    /// Whether the host's underlay is `addr` in namespace `net`.
    pub(crate) fn is_at(&self, net: &NetNs, addr: u32) -> bool {
        self.underlay == addr && core::ptr::eq(self.net.as_ptr(), net.as_ptr())
    }

    /// The namespace of the underlay (where its ENIs are created).
    pub(crate) fn netns(&self) -> &NetNs {
        &self.net
    }

    fn bump(&self, c: H) {
        self.counts[c as usize].fetch_add(1, Relaxed);
    }

    /// Sizes and counters, for `NITRO_IOC_HOST_DESCRIBE`.
    pub(crate) fn info(&self, enis: u32) -> HostInfo {
        let (maps, peers) = {
            let t = self.t.lock();
            (t.maps.len() as u32, t.peers.len() as u32)
        };
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

    /// Starts switching for an attached ENI.
    pub(crate) fn add_port(&self, port: Arc<Port>) -> Result {
        self.t.lock().ports.push(port, GFP_ATOMIC)?;
        Ok(())
    }

    /// Stops switching for ENI `eni` (before its device goes).
    pub(crate) fn remove_port(&self, eni: u64) {
        let mut t = self.t.lock();
        t.ports.retain(|p| p.eni != eni);
    }

    /// `NITRO_IOC_MAP_SET`: adds or replaces the entry for (VPC, address).
    pub(crate) fn set_map(&self, m: &MapSpec) -> Result {
        if m.underlay == self.underlay {
            return Err(EINVAL);
        }
        let e = MapEntry {
            vpc: m.vpc,
            ipv4: m.ipv4,
            mac: m.mac,
            underlay: m.underlay,
            nitro: m.nitro,
        };
        let mut t = self.t.lock();
        if t.maps
            .iter()
            .any(|x| x.vpc == e.vpc && x.mac == e.mac && x.ipv4 != e.ipv4)
        {
            return Err(EEXIST);
        }
        if let Some(x) = t
            .maps
            .iter_mut()
            .find(|x| x.vpc == e.vpc && x.ipv4 == e.ipv4)
        {
            *x = e;
            return Ok(());
        }
        if t.maps.len() >= MAPS_MAX {
            return Err(ENOSPC);
        }
        t.maps.push(e, GFP_ATOMIC)?;
        Ok(())
    }

    /// `NITRO_IOC_MAP_DELETE`.
    pub(crate) fn delete_map(&self, vpc: u32, ipv4: u32) -> Result {
        let mut t = self.t.lock();
        let i = t
            .maps
            .iter()
            .position(|x| x.vpc == vpc && x.ipv4 == ipv4)
            .ok_or(ENOENT)?;
        t.maps.remove(i)?;
        Ok(())
    }

    /// `NITRO_IOC_PEER_KEY`: `key` seals to `peer` from now on; the key it
    /// replaces still opens.
    pub(crate) fn set_key(&self, peer: u32, epoch: u32, key: GcmKey) -> Result {
        if peer == self.underlay {
            return Err(EINVAL);
        }
        let key = Arc::new(key, GFP_KERNEL)?;
        let slot = KeySlot {
            epoch,
            key,
            next: 1,
            window: Replay::new(),
        };
        let mut t = self.t.lock();
        if let Some(p) = t.peers.iter_mut().find(|p| p.addr == peer) {
            if epoch <= p.cur.epoch {
                return Err(ESTALE);
            }
            let old = core::mem::replace(&mut p.cur, slot);
            p.prev = Some(old);
            return Ok(());
        }
        if t.peers.len() >= PEERS_MAX {
            return Err(ENOSPC);
        }
        t.peers.push(
            Peer {
                addr: peer,
                cur: slot,
                prev: None,
            },
            GFP_ATOMIC,
        )?;
        Ok(())
    }

    /// Whether the table holds (`vpc`, `ipv4`) or (`vpc`, `mac`).
    pub(crate) fn maps_address(&self, vpc: u32, ipv4: u32, mac: &[u8; 6]) -> bool {
        let t = self.t.lock();
        t.maps
            .iter()
            .any(|x| x.vpc == vpc && (x.ipv4 == ipv4 || x.mac == *mac))
    }

    /// The MAC of `ipv4` in `vpc`: an ENI here, or a mapped one.
    fn resolve(&self, vpc: u32, ipv4: u32) -> Option<[u8; 6]> {
        let t = self.t.lock();
        let local = t.ports.iter().find(|p| p.vpc == vpc && p.ipv4 == ipv4);
        local.map(|p| p.mac).or_else(|| {
            t.maps
                .iter()
                .find(|m| m.vpc == vpc && m.ipv4 == ipv4)
                .map(|m| m.mac)
        })
    }

    /// Where a unicast frame to `dst` in `vpc` goes; for a Nitro peer, takes
    /// the next counter of the current key.
    fn lookup(&self, vpc: u32, dst: &[u8; 6]) -> Tx {
        let mut t = self.t.lock();
        if let Some(p) = t.ports.iter().find(|p| p.vpc == vpc && p.mac == *dst) {
            return Tx::Local(p.clone());
        }
        let Some(m) = t
            .maps
            .iter()
            .find(|m| m.vpc == vpc && m.mac == *dst)
            .copied()
        else {
            return Tx::Drop(C::NoMapping);
        };
        if !m.nitro {
            return Tx::Remote(m.underlay, None);
        }
        let Some(peer) = t.peers.iter_mut().find(|p| p.addr == m.underlay) else {
            return Tx::Drop(C::NoKey);
        };
        let s = &mut peer.cur;
        if s.next == u64::MAX {
            // Never reuse a nonce: this key seals no more.
            return Tx::Drop(C::NoKey);
        }
        let counter = s.next;
        s.next += 1;
        Tx::Remote(m.underlay, Some((s.key.clone(), s.epoch, counter)))
    }

    /// The key of `epoch` shared with `peer`.
    fn key_for(&self, peer: u32, epoch: u32) -> Option<Arc<GcmKey>> {
        let mut t = self.t.lock();
        let p = t.peers.iter_mut().find(|p| p.addr == peer)?;
        p.slot(epoch).map(|s| s.key.clone())
    }

    /// Records `counter` of `epoch` from `peer`; false for a replay.
    fn fresh(&self, peer: u32, epoch: u32, counter: u64) -> bool {
        let mut t = self.t.lock();
        let slot = t
            .peers
            .iter_mut()
            .find(|p| p.addr == peer)
            .and_then(|p| p.slot(epoch));
        slot.is_some_and(|s| s.window.accept(counter))
    }

    /// Whether `src` may send plain Geneve: a non-Nitro peer of the table.
    fn plain_allowed(&self, src: u32) -> bool {
        let t = self.t.lock();
        t.maps.iter().any(|m| m.underlay == src && !m.nitro)
    }

    /// The ENI a frame from underlay `src` in `vpc` goes to, if the inner
    /// source is mapped to `src` and the destination is here.
    fn rx_port(&self, vpc: u32, src: u32, f: &Frame) -> Option<Arc<Port>> {
        let t = self.t.lock();
        // The card carries IPv4 and ARP only, both ways.
        if f.proto != wire::ETH_P_IP && f.proto != wire::ETH_P_ARP {
            return None;
        }
        let m = t.maps.iter().find(|m| m.vpc == vpc && m.mac == f.src)?;
        let src_ip = f.ip.map(|ip| ip.0).or(f.arp.map(|a| a.spa));
        if m.underlay != src || src_ip.is_some_and(|ip| ip != m.ipv4) {
            return None;
        }
        let port = if f.dst == wire::BROADCAST {
            let tpa = f.arp.filter(|a| a.op == 1)?.tpa;
            t.ports.iter().find(|p| p.vpc == vpc && p.ipv4 == tpa)
        } else {
            t.ports.iter().find(|p| p.vpc == vpc && p.mac == f.dst)
        };
        port.cloned()
    }
}

/// Where a frame the guest sent on `port` goes (`head`: its first bytes).
fn route(port: &Port, head: &[u8]) -> Tx {
    let Some(f) = wire::parse(head) else {
        return Tx::Drop(C::Unsupported);
    };
    if f.src != port.mac {
        return Tx::Drop(C::Spoofed);
    }
    match (f.proto, f.ip, f.arp) {
        (wire::ETH_P_IP, Some((src, _)), _) if src != port.ipv4 => return Tx::Drop(C::Spoofed),
        (wire::ETH_P_IP, Some(_), _) => {}
        (wire::ETH_P_ARP, _, Some(a)) => {
            if a.sha != port.mac || a.spa != port.ipv4 {
                return Tx::Drop(C::Spoofed);
            }
            if a.op == 1 {
                if a.tpa == port.ipv4 {
                    return Tx::Absorb;
                }
                return match port.host.resolve(port.vpc, a.tpa) {
                    Some(mac) => Tx::ArpReply(mac, a),
                    None => Tx::Drop(C::NoMapping),
                };
            }
        }
        _ => return Tx::Drop(C::Unsupported),
    }
    if wire::is_group(&f.dst) {
        return Tx::Drop(C::Unsupported);
    }
    port.host.lookup(port.vpc, &f.dst)
}

/// The transmit path: a frame the guest sent on `port`.
pub(crate) fn xmit(port: ArcBorrow<'_, Port>, skb: Skb) {
    let len = skb.len();
    let mut head = [0u8; ARP_FRAME_LEN];
    let n = len.min(head.len());
    let tx = match skb.copy_out(0, &mut head[..n]) {
        Ok(()) => route(&port, &head[..n]),
        Err(_) => Tx::Drop(C::Unsupported),
    };
    match tx {
        Tx::Local(to) => {
            if to.dev.forward(skb) {
                port.sent(len, C::Local);
                to.received(len);
            } else {
                port.dev.tx_dropped();
            }
        }
        Tx::ArpReply(mac, req) => {
            skb.consume();
            port.sent(len, C::Local);
            if let Ok(mut reply) = Skb::alloc(RX_HEADROOM, ARP_FRAME_LEN) {
                if let Ok(buf) = reply.put(ARP_FRAME_LEN) {
                    wire::arp_reply(buf, &req, &mac);
                    port.received(ARP_FRAME_LEN);
                    port.dev.deliver(reply);
                }
            }
        }
        Tx::Remote(to, Some(seal)) => {
            let sport = wire::flow_port(&head[..n]);
            seal_or_queue(port, skb, to, seal, sport);
        }
        Tx::Remote(to, None) => {
            let sport = wire::flow_port(&head[..n]);
            let sent = send_plain(&port, skb, to, sport);
            port.count_sent(len, C::Plain, sent);
        }
        Tx::Drop(why) => {
            port.bump(why, 1);
            if matches!(why, C::NoKey) {
                port.host.bump(H::TxNoKey);
            }
            port.dev.tx_dropped();
        }
        Tx::Absorb => skb.consume(),
    }
}

/// What seals one packet: the key, its epoch, and the counter taken.
type Seal = (Arc<GcmKey>, u32, u64);

/// Seals a frame for the Nitro peer at `to` and sends it: at once if it is
/// small and nothing of the host waits, else through the host's transmit
/// worker, so that the card, not the sending application's CPU, does the
/// cipher's work. Either way the host's frames leave in the order they
/// came. The frame keeps its socket's send-buffer charge until it is
/// sealed, so a socket cannot fill the queue faster than the card drains.
fn seal_or_queue(port: ArcBorrow<'_, Port>, skb: Skb, to: u32, seal: Seal, sport: u16) {
    let host = &port.host;
    let len = skb.len();
    let mut q = host.txq.lock();
    if len <= TX_INLINE_MAX && q.claim() {
        drop(q);
        seal_and_count(&port, skb, to, seal, sport);
        if host.txq.lock().release(None) {
            kick_tx(host.as_arc_borrow());
        }
        return;
    }
    let job = TxJob {
        port: Arc::from(port),
        skb,
        to,
        seal,
        sport,
    };
    let pushed = q.push(job, TX_BACKLOG);
    drop(q);
    match pushed {
        Ok(()) => kick_tx(host.as_arc_borrow()),
        Err(job) => {
            drop(job);
            port.count_sent(len, C::Sealed, Err(ENOBUFS));
        }
    }
}

/// The transmit worker's part: seals and sends one queued frame.
fn send_job(job: TxJob) {
    seal_and_count(&job.port, job.skb, job.to, job.seal, job.sport);
}

/// Seals and sends a frame of `port`, and counts it as sent or dropped.
fn seal_and_count(port: &Port, skb: Skb, to: u32, seal: Seal, sport: u16) {
    let len = skb.len();
    let sent = send_sealed(port, skb, to, seal, sport);
    port.count_sent(len, C::Sealed, sent);
}

/// Queues `host`'s transmit worker; if it is already queued and has not
/// started, it takes what was added too.
fn kick_tx(host: ArcBorrow<'_, Host>) {
    let _ = host.wq.queue().enqueue::<_, TX>(Arc::from(host));
}

/// Sends `skb` to the Nitro peer at `to`, sealed whole: a TCP super-packet
/// and a checksum left partial travel as they are, described by the offload
/// option, and the receiving card hands them to its ENI the same way (as
/// veth does between namespaces).
fn send_sealed(port: &Port, mut skb: Skb, to: u32, seal: Seal, sport: u16) -> Result {
    let off = skb.offload();
    let opt = if off.partial || off.gso_size != 0 {
        // The ENI offers TSO for TCP/IPv4 only: the stack cuts the rest.
        if off.gso_size != 0 && (!off.is_tso4() || !off.partial) {
            return Err(EINVAL);
        }
        Some(wire::OffloadOpt {
            csum_start: off.csum_start,
            csum_offset: off.csum_offset,
            gso_size: off.gso_size,
            partial: off.partial,
            tso4: off.gso_size != 0,
        })
    } else {
        None
    };
    // The cipher reads the frame where it lies, behind one header entry.
    skb.fit_sg(SG_FRAME - 1)?;
    encap(port, &skb, to, Some(seal), opt.as_ref(), sport)?;
    skb.consume();
    Ok(())
}

/// Sends `skb` to the non-Nitro peer at `to` in plain Geneve, as finished
/// frames a stock Geneve stack takes: super-packets are cut, checksums done.
fn send_plain(port: &Port, mut skb: Skb, to: u32, sport: u16) -> Result {
    let off = skb.offload();
    if off.gso_size != 0 {
        for seg in skb.segment()? {
            encap(port, &seg, to, None, None, sport)?;
            seg.consume();
        }
        return Ok(());
    }
    if off.partial {
        skb.finish_checksum()?;
    }
    encap(port, &skb, to, None, None, sport)?;
    skb.consume();
    Ok(())
}

/// Wraps the frame in `skb` in Geneve (with `opt`), sealed if `seal` says
/// so, and sends it to the peer host at `to`.
fn encap(
    port: &Port,
    skb: &Skb,
    to: u32,
    seal: Option<Seal>,
    opt: Option<&wire::OffloadOpt>,
    sport: u16,
) -> Result {
    let host = &port.host;
    let len = skb.len();
    let body = GENEVE_LEN + if opt.is_some() { wire::OPT_LEN } else { 0 } + len;
    let total = if seal.is_some() {
        SEAL_LEN + body + TAG_LEN
    } else {
        body
    };
    // One IPv4 packet before fragmentation (its length is 16 bits, its
    // 20-byte IP and 8-byte UDP headers included).
    if total + 28 > usize::from(u16::MAX) {
        return Err(EMSGSIZE);
    }
    let rt = Route::lookup(&host.net, host.underlay, to)?;
    let out = if let Some((key, epoch, counter)) = &seal {
        // The headers, then the frame sealed straight from where it lies,
        // into pieces that IP sends as its fragments when the datagram is
        // larger than the route's MTU.
        let hdr = total - len - TAG_LEN;
        let layout = split_layout(rt.mtu(), hdr, total);
        let room = match layout {
            Layout::Split { first, .. } => first,
            Layout::Linear => total,
        };
        let mut out = Skb::alloc(HEADROOM, room)?;
        let buf = out.put(hdr)?;
        wire::seal_header(buf, *epoch, *counter);
        wire::geneve(&mut buf[SEAL_LEN..], port.vpc, opt);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&buf[4..SEAL_LEN]);
        key.seal_skb(out, SEAL_LEN, skb, &nonce, layout)?
    } else {
        let mut out = Skb::alloc(HEADROOM, total)?;
        let buf = out.put(total)?;
        let glen = wire::geneve(buf, port.vpc, opt);
        skb.copy_out(0, &mut buf[glen..])?;
        out
    };
    host.sock.send(rt, out, host.underlay, to, sport);
    host.bump(if seal.is_some() {
        H::TxSealed
    } else {
        H::TxPlain
    });
    Ok(())
}

/// How a sealed datagram of `total` bytes (its first `hdr` bytes the
/// headers) is laid out for a route of MTU `mtu`: in one linear buffer if
/// it fits in one packet (or would need more than [`SPLIT_MAX`] pieces),
/// else cut where IPv4 fragments it. Each fragment carries a multiple of 8
/// bytes behind a 20-byte IP header; the first also the 8-byte UDP header.
/// The cuts also fall on AES block boundaries of the ciphertext (which
/// starts [`SEAL_LEN`] bytes in, a multiple of 16): the cipher then never
/// has a block that straddles two pieces, which it would have to bounce
/// through a buffer of its own.
fn split_layout(mtu: usize, hdr: usize, total: usize) -> Layout {
    const IP_HLEN: usize = 20;
    const UDP_HLEN: usize = 8;
    const BLOCK: usize = 16;
    const _: () = assert!(SEAL_LEN % BLOCK == 0);
    let room = mtu.saturating_sub(IP_HLEN);
    // Multiples of 16, so of 8; the first fragment's 8 more bytes are the
    // UDP header.
    let piece = room & !(BLOCK - 1);
    let Some(first) = room
        .checked_sub(UDP_HLEN)
        .map(|f| f & !(BLOCK - 1))
        .filter(|f| *f > hdr)
    else {
        return Layout::Linear;
    };
    if total <= first || (total - first).div_ceil(piece) > SPLIT_MAX {
        return Layout::Linear;
    }
    Layout::Split {
        first,
        piece,
        headroom: HEADROOM,
    }
}

/// The underlay receive path: a datagram (UDP header first) that arrived on
/// `host`'s socket, in softirq context.
///
/// Large datagrams are queued for the host's worker, so that opening and
/// delivery run beside the sender's CPU, not after it on the same one (a
/// sending stack runs the whole receive path in its own softirq
/// otherwise). A small one is opened here if nothing of the host is
/// waiting or being opened. Either way the host's datagrams are opened one
/// at a time, in the order they came.
pub(crate) fn receive(host: ArcBorrow<'_, Host>, skb: Skb, src: u32) {
    let mut q = host.rxq.lock();
    if skb.len() <= RX_INLINE_MAX && q.claim() {
        drop(q);
        // Softirq: already an RCU read-side section.
        open_and_deliver(&host, skb, src);
        if host.rxq.lock().release(None) {
            kick_rx(host);
        }
        return;
    }
    let pushed = q.push((skb, src), RX_BACKLOG);
    drop(q);
    match pushed {
        Ok(()) => kick_rx(host),
        Err(skb) => {
            drop(skb);
            host.bump(H::RxBacklog);
        }
    }
}

/// Queues `host`'s receive worker; if it is already queued and has not
/// started, it takes what was added too.
fn kick_rx(host: ArcBorrow<'_, Host>) {
    let _ = host.wq.queue().enqueue::<_, RX>(Arc::from(host));
}

/// Opens a datagram the socket queued (from underlay address `src`) and
/// delivers its frame.
fn open_and_deliver(host: &Host, mut skb: Skb, src: u32) {
    let outer = skb.offload();
    // The UDP header, then the sealed header (or the start of Geneve).
    let mut head = [0u8; UDP_LEN + SEAL_LEN];
    let n = skb.len().min(head.len());
    let opened = match skb.copy_out(0, &mut head[..n]) {
        Ok(()) if n > UDP_LEN && head[UDP_LEN] == wire::SEAL_MARK => {
            open_sealed(host, src, &mut skb, &head[UDP_LEN..n])
                .map(|(vni, inner, opt)| (vni, inner, Some(opt)))
        }
        Ok(()) if n > UDP_LEN => match skb.linear() {
            Ok(data) => open_plain(host, src, &data[UDP_LEN..], &outer)
                .map(|(vni, inner)| (vni, inner, None)),
            Err(_) => Err(H::RxMalformed),
        },
        _ => Err(H::RxMalformed),
    };
    let result = opened.and_then(|(vni, inner, sealed)| deliver(host, src, vni, inner, sealed));
    match result {
        Ok(()) => skb.consume(),
        Err(why) => {
            host.bump(why);
            drop(skb);
        }
    }
}

/// Opens the sealed packet in datagram `skb` (UDP header first; `head`:
/// the start of its payload) from `src`: its VNI, frame and offload
/// option. The cipher reads the datagram where it lies, in as many pieces
/// as it arrived in.
fn open_sealed(
    host: &Host,
    src: u32,
    skb: &mut Skb,
    head: &[u8],
) -> Result<(u32, Skb, Option<OffloadOpt>), H> {
    let (epoch, counter) = wire::parse_seal(head).ok_or(H::RxMalformed)?;
    let len = skb.len() - UDP_LEN;
    if len < SEAL_LEN + GENEVE_LEN + ETH_LEN + TAG_LEN {
        return Err(H::RxMalformed);
    }
    let key = host.key_for(src, epoch).ok_or(H::RxNoKey)?;
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&head[4..SEAL_LEN]);
    skb.fit_sg(SG_FRAME).map_err(|_| H::RxMalformed)?;
    // Opened with its header in front (the AEAD layout), which then goes.
    let mut inner = Skb::alloc(RX_HEADROOM, len - TAG_LEN).map_err(|_| H::RxMalformed)?;
    if !key.open_skb(&mut inner, skb, UDP_LEN, len, SEAL_LEN, &nonce) {
        return Err(H::RxBadAuth);
    }
    inner.pull(SEAL_LEN).map_err(|_| H::RxMalformed)?;
    // Only a packet that authenticated moves the window.
    if !host.fresh(src, epoch, counter) {
        return Err(H::RxReplay);
    }
    let mut g = [0u8; GENEVE_LEN + wire::OPT_LEN];
    let n = inner.len().min(g.len());
    inner.copy_out(0, &mut g[..n]).map_err(|_| H::RxMalformed)?;
    let (vni, glen, opt) = wire::parse_geneve(&g[..n]).ok_or(H::RxMalformed)?;
    inner.pull(glen).map_err(|_| H::RxMalformed)?;
    Ok((vni, inner, opt))
}

/// Takes a plain Geneve packet `p` (UDP payload) from `src`. `outer` is
/// the datagram's offload state: a stock Geneve device in another namespace
/// of this kernel leaves the inner checksum partial (veth carries that
/// state, where a wire would carry a finished checksum), and it stays so.
fn open_plain(host: &Host, src: u32, p: &[u8], outer: &Offload) -> Result<(u32, Skb), H> {
    // An offload option is believed only sealed: ignored here.
    let (vni, glen, _) = wire::parse_geneve(p).ok_or(H::RxMalformed)?;
    if !host.plain_allowed(src) {
        return Err(H::RxNotAllowed);
    }
    let frame = &p[glen..];
    if frame.len() < ETH_LEN {
        return Err(H::RxMalformed);
    }
    let mut inner = Skb::alloc(RX_HEADROOM, frame.len()).map_err(|_| H::RxMalformed)?;
    inner
        .put(frame.len())
        .map_err(|_| H::RxMalformed)?
        .copy_from_slice(frame);
    // `csum_start` counts from the UDP header, 8 bytes before `p`.
    let at = 8 + glen;
    if outer.partial && usize::from(outer.csum_start) >= at {
        inner
            .set_csum_partial(outer.csum_start - at as u16, outer.csum_offset)
            .map_err(|_| H::RxMalformed)?;
    }
    Ok((vni, inner))
}

/// Delivers an inner frame of `vpc` from underlay `src` to its ENI;
/// `sealed` is the offload option of a sealed packet (`Some(None)`: none),
/// `None` for plain Geneve.
fn deliver(
    host: &Host,
    src: u32,
    vpc: u32,
    mut inner: Skb,
    sealed: Option<Option<OffloadOpt>>,
) -> Result<(), H> {
    let len = inner.len();
    let mut head = [0u8; ARP_FRAME_LEN];
    let n = len.min(head.len());
    inner
        .copy_out(0, &mut head[..n])
        .map_err(|_| H::RxMalformed)?;
    let f = wire::parse(&head[..n]).ok_or(H::RxMalformed)?;
    let port = host.rx_port(vpc, src, &f).ok_or(H::RxNotAllowed)?;
    if let Some(Some(o)) = sealed {
        if o.partial {
            inner
                .set_csum_partial(o.csum_start, o.csum_offset)
                .map_err(|_| H::RxMalformed)?;
        }
        if o.tso4 {
            if !o.partial || o.gso_size == 0 || f.ip.is_none() {
                return Err(H::RxMalformed);
            }
            inner.set_tso4(o.gso_size).map_err(|_| H::RxMalformed)?;
        }
    }
    port.received(len);
    port.dev.deliver(inner);
    host.bump(if sealed.is_some() {
        H::RxSealed
    } else {
        H::RxPlain
    });
    Ok(())
}
