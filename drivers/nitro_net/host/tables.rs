// SPDX-License-Identifier: GPL-2.0

//! A host's tables: its ports, its mapping table, its peers' keys and the
//! non-Nitro peers it takes plain Geneve from, and the lookups the data
//! path makes in them. Each is an [`RcuTable`]: the data path looks up
//! under RCU and takes no lock; the controller's requests change them
//! under each table's mutex (in the order ports, maps, plain, peers when
//! one request takes several) while traffic flows.
//!
//! Memory per entry on 64-bit (Documentation/vpc.rst): a mapping is a
//! 64-byte node (two chain links in each of two generations, the 20-byte
//! entry) and 16 to 32 bytes of bucket heads (two indexes, one or two heads
//! per entry): at most 96 bytes, 96 MiB for a million. A keyed peer is a
//! 64-byte node, 8 to 16 bytes of heads and its current and previous keys
//! (an AES-GCM transform and a 136-byte replay window each). A removed
//! entry waits for its grace period in a 16-byte record.

use super::{
    counters::PortCounter,
    tx::{Seal, Tx},
    Host, Port,
};
use crate::{
    gcm::GcmKey,
    rcu_table::{Entry, RcuTable, Writer},
    replay::Replay,
    wire::{self, Frame},
};
use kernel::{
    c_str, new_spinlock_irq,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        rcu, static_lock_class, Arc, SpinLockIrq,
    },
};
use nitro_ctrl::{bus::MapSpec, uapi};

/// Most mapping entries, and most keyed peers, per host.
const MAPS_MAX: usize = uapi::NITRO_MAPS_MAX as usize;
const PEERS_MAX: usize = uapi::NITRO_PEERS_MAX as usize;

/// The key of (VPC, IPv4 address): exact (24 + 32 bits).
fn ip_key(vpc: u32, ipv4: u32) -> u64 {
    (u64::from(vpc) << 32) | u64::from(ipv4)
}

/// The key of (VPC, MAC): 72 bits folded into 64 (values that share a key
/// share a chain; the lookups compare the fields).
fn mac_key(vpc: u32, mac: &[u8; 6]) -> u64 {
    let mut m = [0u8; 8];
    m[2..].copy_from_slice(mac);
    u64::from_be_bytes(m) ^ (u64::from(vpc) << 40) ^ (u64::from(vpc) >> 24)
}

/// Index of a port or mapping by (VPC, MAC), and by (VPC, address).
const BY_MAC: usize = 0;
const BY_IP: usize = 1;

/// One entry of the mapping table.
#[derive(Clone, Copy)]
struct MapEntry {
    vpc: u32,
    ipv4: u32,
    mac: [u8; 6],
    underlay: u32,
    nitro: bool,
}

impl MapEntry {
    /// The entry as the controller describes it, for host `host`.
    fn spec(&self, host: u32) -> MapSpec {
        MapSpec {
            host,
            vpc: self.vpc,
            ipv4: self.ipv4,
            mac: self.mac,
            underlay: self.underlay,
            nitro: self.nitro,
        }
    }
}

impl Entry<2> for MapEntry {
    fn key(&self, index: usize) -> u64 {
        if index == BY_MAC {
            mac_key(self.vpc, &self.mac)
        } else {
            ip_key(self.vpc, self.ipv4)
        }
    }
}

/// An attached ENI in the ports table.
#[derive(Clone)]
struct PortRef(Arc<Port>);

impl Entry<2> for PortRef {
    fn key(&self, index: usize) -> u64 {
        if index == BY_MAC {
            mac_key(self.0.vpc, &self.0.mac)
        } else {
            ip_key(self.0.vpc, self.0.ipv4)
        }
    }
}

/// One key of a peer, shared by the peer's entries while it rotates.
#[pin_data]
struct KeySlot {
    epoch: u32,
    key: Arc<GcmKey>,
    /// The counter the next sealed packet takes.
    next: Atomic<u64>,
    #[pin]
    window: SpinLockIrq<Replay>,
}

/// A peer host the host shares keys with.
#[derive(Clone)]
struct Peer {
    addr: u32,
    cur: Arc<KeySlot>,
    prev: Option<Arc<KeySlot>>,
}

impl Peer {
    fn slot(&self, epoch: u32) -> Option<&KeySlot> {
        if self.cur.epoch == epoch {
            return Some(&self.cur);
        }
        self.prev.as_deref().filter(|s| s.epoch == epoch)
    }
}

impl Entry<1> for Peer {
    fn key(&self, _index: usize) -> u64 {
        u64::from(self.addr)
    }
}

/// A non-Nitro peer: how many mapping entries name it.
struct Plain {
    addr: u32,
    maps: Atomic<u32>,
}

impl Clone for Plain {
    fn clone(&self) -> Self {
        Self {
            addr: self.addr,
            maps: Atomic::new(self.maps.load(Relaxed)),
        }
    }
}

impl Entry<1> for Plain {
    fn key(&self, _index: usize) -> u64 {
        u64::from(self.addr)
    }
}

/// A host's tables.
#[pin_data]
pub(super) struct Tables {
    #[pin]
    ports: RcuTable<PortRef, 2>,
    #[pin]
    maps: RcuTable<MapEntry, 2>,
    #[pin]
    plain: RcuTable<Plain, 1>,
    #[pin]
    peers: RcuTable<Peer, 1>,
}

impl Tables {
    /// Empty tables.
    pub(super) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            ports <- RcuTable::new(c_str!("nitro_net::ports"), static_lock_class!()),
            maps <- RcuTable::new(c_str!("nitro_net::maps"), static_lock_class!()),
            plain <- RcuTable::new(c_str!("nitro_net::plain"), static_lock_class!()),
            peers <- RcuTable::new(c_str!("nitro_net::peers"), static_lock_class!()),
        }? Error)
    }
}

/// One more mapping entry names non-Nitro peer `addr`.
fn plain_add(w: &mut Writer<'_, Plain, 1>, addr: u32) -> Result {
    if let Some(p) = w.find(0, u64::from(addr), |p| p.addr == addr) {
        p.maps.fetch_add(1, Relaxed);
        return Ok(());
    }
    w.insert(Plain {
        addr,
        maps: Atomic::new(1),
    })
}

/// One mapping entry fewer names non-Nitro peer `addr`.
fn plain_drop(w: &mut Writer<'_, Plain, 1>, addr: u32) {
    let key = u64::from(addr);
    let last = w
        .find(0, key, |p| p.addr == addr)
        .is_some_and(|p| p.maps.fetch_sub(1, Relaxed) == 1);
    if last {
        w.remove(0, key, |p| p.addr == addr);
    }
}

impl Host {
    /// How many mapping entries and keyed peers the host holds.
    pub(super) fn table_sizes(&self) -> (u32, u32) {
        let t = &self.tables;
        (t.maps.len() as u32, t.peers.len() as u32)
    }

    /// Starts switching for an attached ENI.
    pub(crate) fn add_port(&self, port: Arc<Port>) -> Result {
        self.tables.ports.write().insert(PortRef(port))
    }

    /// Stops switching for the ENI of `port` (before its device goes).
    /// Returns once no lookup can still be using the table's reference to
    /// it, and with that reference dropped (a port holds its host: a
    /// reference left in the table would keep the host alive).
    pub(crate) fn remove_port(&self, port: &Arc<Port>) {
        let mut ports = self.tables.ports.write();
        ports.remove(BY_MAC, mac_key(port.vpc, &port.mac), |p| {
            Arc::ptr_eq(&p.0, port)
        });
        ports.sync();
    }

    /// `NITRO_IOC_MAP_SET` and `NITRO_IOC_MAP_BATCH`: adds or replaces the
    /// entry for (VPC, address) of each of `maps` in turn, under one hold of
    /// the tables' mutexes, until one fails or `taken` (the card's check of
    /// its ENIs' addresses) says its address is an ENI's (`EEXIST`). Gives
    /// how many were made, and the error.
    pub(crate) fn set_maps(
        &self,
        maps: &[MapSpec],
        taken: impl Fn(&MapSpec) -> bool,
    ) -> (usize, Option<Error>) {
        let mut table = self.tables.maps.write();
        let mut plain = self.tables.plain.write();
        for (i, m) in maps.iter().enumerate() {
            let r = if taken(m) {
                Err(EEXIST)
            } else {
                self.set_map_in(&mut table, &mut plain, m)
            };
            if let Err(e) = r {
                return (i, Some(e));
            }
        }
        (maps.len(), None)
    }

    /// Adds or replaces the entry of `m`, writer of both tables.
    fn set_map_in(
        &self,
        maps: &mut Writer<'_, MapEntry, 2>,
        plain: &mut Writer<'_, Plain, 1>,
        m: &MapSpec,
    ) -> Result {
        if m.host != self.id || m.underlay == self.underlay {
            return Err(EINVAL);
        }
        let e = MapEntry {
            vpc: m.vpc,
            ipv4: m.ipv4,
            mac: m.mac,
            underlay: m.underlay,
            nitro: m.nitro,
        };
        let mac_taken = maps.find(BY_MAC, mac_key(e.vpc, &e.mac), |x| {
            x.vpc == e.vpc && x.mac == e.mac && x.ipv4 != e.ipv4
        });
        if mac_taken.is_some() {
            return Err(EEXIST);
        }
        let same = |x: &MapEntry| x.vpc == e.vpc && x.ipv4 == e.ipv4;
        let key = ip_key(e.vpc, e.ipv4);
        let old = maps.find(BY_IP, key, same).copied();
        if old.is_none() && maps.len() >= MAPS_MAX {
            return Err(ENOSPC);
        }
        if !e.nitro {
            plain_add(plain, e.underlay)?;
        }
        if let Err(err) = maps.upsert(BY_IP, key, same, e) {
            if !e.nitro {
                plain_drop(plain, e.underlay);
            }
            return Err(err);
        }
        if let Some(o) = old.filter(|o| !o.nitro) {
            plain_drop(plain, o.underlay);
        }
        Ok(())
    }

    /// `NITRO_IOC_MAP_DELETE` and `NITRO_IOC_MAP_BATCH` with
    /// `NITRO_MAP_BATCH_DELETE`: deletes the
    /// entry of each of `maps` in turn, under one hold of the tables'
    /// mutexes, until one fails. Gives how many were deleted, and the
    /// error.
    pub(crate) fn delete_maps(&self, maps: &[MapSpec]) -> (usize, Option<Error>) {
        let mut table = self.tables.maps.write();
        let mut plain = self.tables.plain.write();
        for (i, m) in maps.iter().enumerate() {
            let r = if m.host == self.id {
                Self::delete_map_in(&mut table, &mut plain, m.vpc, m.ipv4)
            } else {
                Err(EINVAL)
            };
            if let Err(e) = r {
                return (i, Some(e));
            }
        }
        (maps.len(), None)
    }

    /// Deletes the entry of (`vpc`, `ipv4`), writer of both tables.
    fn delete_map_in(
        maps: &mut Writer<'_, MapEntry, 2>,
        plain: &mut Writer<'_, Plain, 1>,
        vpc: u32,
        ipv4: u32,
    ) -> Result {
        let key = ip_key(vpc, ipv4);
        let same = |x: &MapEntry| x.vpc == vpc && x.ipv4 == ipv4;
        let old = maps.find(BY_IP, key, same).copied().ok_or(ENOENT)?;
        maps.remove(BY_IP, key, same);
        if !old.nitro {
            plain_drop(plain, old.underlay);
        }
        Ok(())
    }

    /// `NITRO_IOC_MAP_LIST`: up to `cap` entries from position `from` (0:
    /// the start), in the table's order. Gives them and the position of
    /// the next page, if entries remain.
    pub(crate) fn list_maps(&self, from: u64, cap: usize) -> Result<(KVVec<MapSpec>, Option<u64>)> {
        let mut out = KVVec::with_capacity(cap, GFP_KERNEL)?;
        let maps = self.tables.maps.write();
        let next = maps.page(BY_IP, from, |e| {
            // Room was reserved: the push does not allocate.
            out.len() < cap && out.push(e.spec(self.id), GFP_KERNEL).is_ok()
        });
        Ok((out, next))
    }

    /// `NITRO_IOC_PEER_KEY`: `key` seals to `peer` from now on; the key it
    /// replaces still opens.
    pub(crate) fn set_key(&self, peer: u32, epoch: u32, key: GcmKey) -> Result {
        if peer == self.underlay {
            return Err(EINVAL);
        }
        let slot = Arc::pin_init(
            pin_init!(KeySlot {
                epoch,
                key: Arc::new(key, GFP_KERNEL)?,
                next: Atomic::new(1),
                window <- new_spinlock_irq!(Replay::new(), "nitro_net::replay"),
            }? Error),
            GFP_KERNEL,
        )?;
        let mut peers = self.tables.peers.write();
        let k = u64::from(peer);
        let same = |p: &Peer| p.addr == peer;
        let prev = peers.find(0, k, same).map(|p| p.cur.clone());
        if let Some(p) = &prev {
            if epoch <= p.epoch {
                return Err(ESTALE);
            }
        } else if peers.len() >= PEERS_MAX {
            return Err(ENOSPC);
        }
        let entry = Peer {
            addr: peer,
            cur: slot,
            prev,
        };
        peers.upsert(0, k, same, entry)?;
        Ok(())
    }

    /// Whether the table holds (`vpc`, `ipv4`) or (`vpc`, `mac`).
    pub(crate) fn maps_address(&self, vpc: u32, ipv4: u32, mac: &[u8; 6]) -> bool {
        let g = rcu::read_lock();
        let maps = &self.tables.maps;
        maps.find(&g, BY_IP, ip_key(vpc, ipv4), |x| {
            x.vpc == vpc && x.ipv4 == ipv4
        })
        .is_some()
            || maps
                .find(&g, BY_MAC, mac_key(vpc, mac), |x| {
                    x.vpc == vpc && x.mac == *mac
                })
                .is_some()
    }

    /// The ENI here with address `ipv4` in `vpc`.
    fn port_by_ip<'a>(&'a self, g: &'a rcu::Guard, vpc: u32, ipv4: u32) -> Option<&'a Arc<Port>> {
        let p = self.tables.ports.find(g, BY_IP, ip_key(vpc, ipv4), |p| {
            p.0.vpc == vpc && p.0.ipv4 == ipv4
        });
        p.map(|p| &p.0)
    }

    /// The ENI here with MAC `mac` in `vpc`.
    fn port_by_mac<'a>(
        &'a self,
        g: &'a rcu::Guard,
        vpc: u32,
        mac: &[u8; 6],
    ) -> Option<&'a Arc<Port>> {
        let p = self.tables.ports.find(g, BY_MAC, mac_key(vpc, mac), |p| {
            p.0.vpc == vpc && p.0.mac == *mac
        });
        p.map(|p| &p.0)
    }

    /// The mapping entry of MAC `mac` in `vpc`.
    fn map_by_mac<'a>(
        &'a self,
        g: &'a rcu::Guard,
        vpc: u32,
        mac: &[u8; 6],
    ) -> Option<&'a MapEntry> {
        self.tables.maps.find(g, BY_MAC, mac_key(vpc, mac), |m| {
            m.vpc == vpc && m.mac == *mac
        })
    }

    /// The keyed peer at `addr`.
    fn peer<'a>(&'a self, g: &'a rcu::Guard, addr: u32) -> Option<&'a Peer> {
        self.tables
            .peers
            .find(g, 0, u64::from(addr), |p| p.addr == addr)
    }

    /// The MAC of `ipv4` in `vpc`: an ENI here, or a mapped one.
    pub(super) fn resolve(&self, vpc: u32, ipv4: u32) -> Option<[u8; 6]> {
        let g = rcu::read_lock();
        if let Some(p) = self.port_by_ip(&g, vpc, ipv4) {
            return Some(p.mac);
        }
        let m = self.tables.maps.find(&g, BY_IP, ip_key(vpc, ipv4), |m| {
            m.vpc == vpc && m.ipv4 == ipv4
        });
        m.map(|m| m.mac)
    }

    /// Where a unicast frame to `dst` in `vpc` goes (a Nitro peer only if
    /// the host has its key: the counters are taken by [`Host::seal`]).
    pub(super) fn lookup(&self, vpc: u32, dst: &[u8; 6]) -> Tx {
        let g = rcu::read_lock();
        if let Some(p) = self.port_by_mac(&g, vpc, dst) {
            return Tx::Local(p.clone());
        }
        let Some(m) = self.map_by_mac(&g, vpc, dst) else {
            return Tx::Drop(PortCounter::NoMapping);
        };
        if m.nitro && self.peer(&g, m.underlay).is_none() {
            return Tx::Drop(PortCounter::NoKey);
        }
        Tx::Remote(m.underlay, m.nitro)
    }

    /// What seals the next `n` datagrams to the Nitro peer `peer`: its
    /// current key and `n` counters of it, in order. `None` if the host
    /// has no key for it, or the key has fewer counters left (a nonce is
    /// never used twice: such a key seals no more).
    pub(super) fn seal(&self, peer: u32, n: u64) -> Option<Seal> {
        let g = rcu::read_lock();
        let s = &self.peer(&g, peer)?.cur;
        let mut next = s.next.load(Relaxed);
        loop {
            // Counters `next` to `end - 1`, none of them `u64::MAX`: `next`
            // reaching the maximum means the key is spent.
            let end = next.checked_add(n).filter(|_| n > 0)?;
            match s.next.cmpxchg(next, end, Relaxed) {
                Ok(_) => return Some(Seal::new(s.key.clone(), s.epoch, next, end)),
                Err(now) => next = now,
            }
        }
    }

    /// The key of `epoch` shared with `peer`.
    pub(super) fn key_for(&self, peer: u32, epoch: u32) -> Option<Arc<GcmKey>> {
        let g = rcu::read_lock();
        self.peer(&g, peer)?.slot(epoch).map(|s| s.key.clone())
    }

    /// Records `counter` of `epoch` from `peer`; false for a replay.
    pub(super) fn fresh(&self, peer: u32, epoch: u32, counter: u64) -> bool {
        let g = rcu::read_lock();
        let slot = self.peer(&g, peer).and_then(|p| p.slot(epoch));
        slot.is_some_and(|s| s.window.lock().accept(counter))
    }

    /// Whether `src` may send plain Geneve: a non-Nitro peer of the table.
    pub(super) fn plain_allowed(&self, src: u32) -> bool {
        let g = rcu::read_lock();
        let p = self
            .tables
            .plain
            .find(&g, 0, u64::from(src), |p| p.addr == src);
        p.is_some_and(|p| p.maps.load(Relaxed) > 0)
    }

    /// The ENI a frame from underlay `src` in `vpc` goes to, if the inner
    /// source is mapped to `src` and the destination is here.
    pub(super) fn rx_port(&self, vpc: u32, src: u32, f: &Frame) -> Option<Arc<Port>> {
        // The card carries IPv4 and ARP only, both ways.
        if f.proto != wire::ETH_P_IP && f.proto != wire::ETH_P_ARP {
            return None;
        }
        let g = rcu::read_lock();
        let m = self.map_by_mac(&g, vpc, &f.src)?;
        let src_ip = f.ip.map(|ip| ip.0).or(f.arp.map(|a| a.spa));
        if m.underlay != src || src_ip.is_some_and(|ip| ip != m.ipv4) {
            return None;
        }
        let port = if f.dst == wire::BROADCAST {
            let tpa = f.arp.filter(|a| a.op == 1)?.tpa;
            self.port_by_ip(&g, vpc, tpa)
        } else {
            self.port_by_mac(&g, vpc, &f.dst)
        };
        port.cloned()
    }
}
