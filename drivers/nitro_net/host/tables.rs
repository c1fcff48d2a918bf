// SPDX-License-Identifier: GPL-2.0

//! What a host's lock protects: its ports, its mapping table and its
//! peers' keys, and the lookups the data path makes in them.

use super::{
    counters::PortCounter,
    tx::{Seal, Tx},
    Host, Port,
};
use crate::{
    gcm::GcmKey,
    replay::Replay,
    wire::{self, Frame},
};
use kernel::{prelude::*, sync::Arc};
use nitro_ctrl::{bus::MapSpec, uapi};

/// Most mapping entries, and most keyed peers, per host.
const MAPS_MAX: usize = uapi::NITRO_MAPS_MAX as usize;
const PEERS_MAX: usize = uapi::NITRO_PEERS_MAX as usize;

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
pub(super) struct Tables {
    ports: KVec<Arc<Port>>,
    maps: KVec<MapEntry>,
    peers: KVec<Peer>,
}

impl Tables {
    /// Empty tables.
    pub(super) fn new() -> Self {
        Self {
            ports: KVec::new(),
            maps: KVec::new(),
            peers: KVec::new(),
        }
    }
}

impl Host {
    /// How many mapping entries and keyed peers the host holds.
    pub(super) fn table_sizes(&self) -> (u32, u32) {
        let tables = self.tables.lock();
        (tables.maps.len() as u32, tables.peers.len() as u32)
    }

    /// Starts switching for an attached ENI.
    pub(crate) fn add_port(&self, port: Arc<Port>) -> Result {
        self.tables.lock().ports.push(port, GFP_ATOMIC)?;
        Ok(())
    }

    /// Stops switching for ENI `eni` (before its device goes).
    pub(crate) fn remove_port(&self, eni: u64) {
        let mut tables = self.tables.lock();
        tables.ports.retain(|p| p.eni != eni);
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
        let mut tables = self.tables.lock();
        if tables
            .maps
            .iter()
            .any(|x| x.vpc == e.vpc && x.mac == e.mac && x.ipv4 != e.ipv4)
        {
            return Err(EEXIST);
        }
        if let Some(x) = tables
            .maps
            .iter_mut()
            .find(|x| x.vpc == e.vpc && x.ipv4 == e.ipv4)
        {
            *x = e;
            return Ok(());
        }
        if tables.maps.len() >= MAPS_MAX {
            return Err(ENOSPC);
        }
        tables.maps.push(e, GFP_ATOMIC)?;
        Ok(())
    }

    /// `NITRO_IOC_MAP_DELETE`.
    pub(crate) fn delete_map(&self, vpc: u32, ipv4: u32) -> Result {
        let mut tables = self.tables.lock();
        let i = tables
            .maps
            .iter()
            .position(|x| x.vpc == vpc && x.ipv4 == ipv4)
            .ok_or(ENOENT)?;
        tables.maps.remove(i)?;
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
        let mut tables = self.tables.lock();
        if let Some(p) = tables.peers.iter_mut().find(|p| p.addr == peer) {
            if epoch <= p.cur.epoch {
                return Err(ESTALE);
            }
            let old = core::mem::replace(&mut p.cur, slot);
            p.prev = Some(old);
            return Ok(());
        }
        if tables.peers.len() >= PEERS_MAX {
            return Err(ENOSPC);
        }
        tables.peers.push(
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
        let tables = self.tables.lock();
        tables
            .maps
            .iter()
            .any(|x| x.vpc == vpc && (x.ipv4 == ipv4 || x.mac == *mac))
    }

    /// The MAC of `ipv4` in `vpc`: an ENI here, or a mapped one.
    pub(super) fn resolve(&self, vpc: u32, ipv4: u32) -> Option<[u8; 6]> {
        let tables = self.tables.lock();
        let local = tables.ports.iter().find(|p| p.vpc == vpc && p.ipv4 == ipv4);
        local.map(|p| p.mac).or_else(|| {
            tables
                .maps
                .iter()
                .find(|m| m.vpc == vpc && m.ipv4 == ipv4)
                .map(|m| m.mac)
        })
    }

    /// Where a unicast frame to `dst` in `vpc` goes (a Nitro peer only if
    /// the host has its key: the counters are taken by [`Host::seal`]).
    pub(super) fn lookup(&self, vpc: u32, dst: &[u8; 6]) -> Tx {
        let tables = self.tables.lock();
        if let Some(p) = tables.ports.iter().find(|p| p.vpc == vpc && p.mac == *dst) {
            return Tx::Local(p.clone());
        }
        let Some(m) = tables
            .maps
            .iter()
            .find(|m| m.vpc == vpc && m.mac == *dst)
            .copied()
        else {
            return Tx::Drop(PortCounter::NoMapping);
        };
        if m.nitro && !tables.peers.iter().any(|p| p.addr == m.underlay) {
            return Tx::Drop(PortCounter::NoKey);
        }
        Tx::Remote(m.underlay, m.nitro)
    }

    /// What seals the next `n` datagrams to the Nitro peer `peer`: its
    /// current key and `n` counters of it, in order. `None` if the host
    /// has no key for it, or the key has fewer counters left (a nonce is
    /// never used twice: such a key seals no more).
    pub(super) fn seal(&self, peer: u32, n: u64) -> Option<Seal> {
        let mut tables = self.tables.lock();
        let s = &mut tables.peers.iter_mut().find(|p| p.addr == peer)?.cur;
        // Counters `next` to `end - 1`, none of them `u64::MAX`: `next`
        // reaching the maximum means the key is spent.
        let end = s.next.checked_add(n).filter(|_| n > 0)?;
        let seal = Seal::new(s.key.clone(), s.epoch, s.next, end);
        s.next = end;
        Some(seal)
    }

    /// The key of `epoch` shared with `peer`.
    pub(super) fn key_for(&self, peer: u32, epoch: u32) -> Option<Arc<GcmKey>> {
        let mut tables = self.tables.lock();
        let p = tables.peers.iter_mut().find(|p| p.addr == peer)?;
        p.slot(epoch).map(|s| s.key.clone())
    }

    /// Records `counter` of `epoch` from `peer`; false for a replay.
    pub(super) fn fresh(&self, peer: u32, epoch: u32, counter: u64) -> bool {
        let mut tables = self.tables.lock();
        let slot = tables
            .peers
            .iter_mut()
            .find(|p| p.addr == peer)
            .and_then(|p| p.slot(epoch));
        slot.is_some_and(|s| s.window.accept(counter))
    }

    /// Whether `src` may send plain Geneve: a non-Nitro peer of the table.
    pub(super) fn plain_allowed(&self, src: u32) -> bool {
        let tables = self.tables.lock();
        tables.maps.iter().any(|m| m.underlay == src && !m.nitro)
    }

    /// The ENI a frame from underlay `src` in `vpc` goes to, if the inner
    /// source is mapped to `src` and the destination is here.
    pub(super) fn rx_port(&self, vpc: u32, src: u32, f: &Frame) -> Option<Arc<Port>> {
        let tables = self.tables.lock();
        // The card carries IPv4 and ARP only, both ways.
        if f.proto != wire::ETH_P_IP && f.proto != wire::ETH_P_ARP {
            return None;
        }
        let m = tables
            .maps
            .iter()
            .find(|m| m.vpc == vpc && m.mac == f.src)?;
        let src_ip = f.ip.map(|ip| ip.0).or(f.arp.map(|a| a.spa));
        if m.underlay != src || src_ip.is_some_and(|ip| ip != m.ipv4) {
            return None;
        }
        let port = if f.dst == wire::BROADCAST {
            let tpa = f.arp.filter(|a| a.op == 1)?.tpa;
            tables.ports.iter().find(|p| p.vpc == vpc && p.ipv4 == tpa)
        } else {
            tables.ports.iter().find(|p| p.vpc == vpc && p.mac == f.dst)
        };
        port.cloned()
    }
}
