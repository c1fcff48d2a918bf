// SPDX-License-Identifier: GPL-2.0

//! An attached ENI as the data path sees it: its addresses, its device,
//! its allowances, its security groups' rules and connection table, and
//! its counters.

use super::{
    allowance::{self, Buckets, Exceeded},
    conntrack::{self, Key, Tracked},
    counters::PortCounter,
    Host,
};
use crate::{
    netdev::Dev,
    rcu_box::RcuBox,
    skb::Skb,
    wire::{self, Packet},
};
use kernel::{
    alloc::KVVec,
    new_spinlock_irq,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        rcu, Arc, SpinLockIrq,
    },
    time::{Instant, Monotonic},
};
use nitro_ctrl::{
    bus::{Allowance, EniSpec, HostCounter, Metrics, SgRule},
    sg_rules::PROTO_ALL,
};

/// The flow of `pkt` as the ENI sees it, the packet going to it
/// (`inbound`) or from it; `None` without ports (a later fragment).
fn key_of(pkt: &Packet, inbound: bool) -> Option<Key> {
    let (sport, dport) = pkt.ports?;
    Some(if inbound {
        Key {
            proto: pkt.proto,
            remote: pkt.src,
            local_port: dport,
            remote_port: sport,
        }
    } else {
        Key {
            proto: pkt.proto,
            remote: pkt.dst,
            local_port: sport,
            remote_port: dport,
        }
    })
}

/// An attached ENI, as the data path sees it.
#[pin_data]
pub(crate) struct Port {
    pub(super) eni: u64,
    pub(super) vpc: u32,
    pub(super) mac: [u8; 6],
    pub(super) ipv4: u32,
    pub(super) dev: Dev,
    pub(super) host: Arc<Host>,
    allow: Buckets,
    counts: [Atomic<u64>; PortCounter::COUNT],
    /// The rules of its security groups; `None`: not filtered.
    rules: RcuBox<KVVec<SgRule>>,
    /// The controller's number of the rules (changed under the card's
    /// lock).
    rules_gen: Atomic<u64>,
    /// Its connection table, made when it is first filtered.
    #[pin]
    conns: SpinLockIrq<Option<conntrack::Table>>,
    /// The connection table's clock.
    origin: Instant<Monotonic>,
}

impl Port {
    /// The port of ENI `spec` on `host`, sending and receiving on `dev`,
    /// enforcing `allowance` ([`Allowance::enforced`]). An ENI with
    /// security groups passes nothing until it is given their rules
    /// ([`Port::set_rules`]).
    pub(crate) fn new(
        spec: &EniSpec,
        allowance: &Allowance,
        dev: Dev,
        host: Arc<Host>,
    ) -> Result<Arc<Self>> {
        let filtered = !spec.groups.is_empty();
        let table = if filtered {
            Some(conntrack::Table::new()?)
        } else {
            None
        };
        let rules = if filtered {
            Some(KBox::new(KVVec::new(), GFP_KERNEL)?)
        } else {
            None
        };
        Arc::pin_init(
            try_pin_init!(Self {
                eni: spec.id,
                vpc: spec.vpc,
                mac: spec.mac,
                ipv4: spec.ipv4,
                dev,
                host,
                allow: Buckets::new(allowance, spec.allowance_gen),
                counts: [const { Atomic::new(0) }; PortCounter::COUNT],
                rules: RcuBox::new(rules),
                rules_gen: Atomic::new(0),
                conns <- new_spinlock_irq!(table, "nitro_net::conntrack"),
                origin: Instant::now(),
            }? Error),
            GFP_KERNEL,
        )
    }

    /// Filters with `rules` from now on (`None`: not at all), unless a
    /// newer setting than `gen` was applied. Called with the card's lock
    /// held (settings are serial); sleeps for a grace period.
    pub(crate) fn set_rules(&self, rules: Option<&[SgRule]>, gen: u64) -> Result {
        if gen <= self.rules_gen.load(Relaxed) {
            return Ok(());
        }
        let new = match rules {
            None => None,
            Some(r) => {
                let mut v = KVVec::with_capacity(r.len(), GFP_KERNEL)?;
                v.extend_from_slice(r, GFP_KERNEL)?;
                Some(KBox::new(v, GFP_KERNEL)?)
            }
        };
        if new.is_none() {
            self.rules_gen.store(gen, Relaxed);
            // Rules first: no reader looks for the table after this.
            self.rules.replace(None);
            // Dropped outside the lock (freeing may sleep).
            let table = self.conns.lock().take();
            drop(table);
            return Ok(());
        }
        // The table first: every reader of the rules finds it.
        let missing = self.conns.lock().is_none();
        if missing {
            let mut table = Some(conntrack::Table::new()?);
            let mut conns = self.conns.lock();
            if conns.is_none() {
                *conns = table.take();
            }
            drop(conns);
            drop(table);
        }
        self.rules_gen.store(gen, Relaxed);
        self.rules.replace(new);
        Ok(())
    }

    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Whether the ENI's security groups let `skb` pass, to the ENI
    /// (`inbound`) or from it: a frame of a tracked flow passes, as does
    /// an ICMP error about one; a new flow passes if a rule allows it and
    /// the connection table has room for it. Counts what they refuse.
    pub(super) fn filter(&self, skb: &Skb, inbound: bool) -> bool {
        let rcu = rcu::read_lock();
        let Some(rules) = self.rules.get(&rcu) else {
            return true;
        };
        let mut head = [0u8; wire::FLOW_HEAD_LEN];
        let n = skb.len().min(head.len());
        let flow = match skb.copy_out(0, &mut head[..n]) {
            Ok(()) => wire::flow(&head[..n]),
            Err(_) => return self.denied(inbound),
        };
        // Not IPv4: ARP, which is never filtered.
        let Some(f) = flow else {
            return true;
        };
        let now = self.now();
        let key = key_of(&f.pkt, inbound);
        let quoted = f.quoted.and_then(|q| key_of(&q, !inbound));
        {
            let mut conns = self.conns.lock();
            let Some(t) = Option::as_mut(&mut *conns) else {
                return self.denied(inbound);
            };
            if let Some(k) = &key {
                if t.admit(k, inbound, f.tcp_flags, now, false) == Some(Tracked::Known) {
                    return true;
                }
            }
            if quoted.is_some_and(|q| t.knows(&q, now)) {
                return true;
            }
        }
        let (proto, p) = (f.pkt.proto, &f.pkt);
        let remote = if inbound { p.src } else { p.dst };
        let allowed = match p.ports {
            // A later fragment: only a rule of every protocol takes it.
            None => rules
                .iter()
                .any(|r| r.proto == PROTO_ALL && r.allows(inbound, proto, remote, 0)),
            Some((_, dport)) => {
                let port = if proto == wire::IPPROTO_ICMP {
                    u16::from(f.icmp_type)
                } else {
                    dport
                };
                rules.iter().any(|r| r.allows(inbound, proto, remote, port))
            }
        };
        if !allowed {
            return self.denied(inbound);
        }
        // A later fragment is not tracked: it has no flow.
        let Some(k) = key else {
            return true;
        };
        let mut conns = self.conns.lock();
        let Some(t) = Option::as_mut(&mut *conns) else {
            return self.denied(inbound);
        };
        if t.admit(&k, inbound, f.tcp_flags, now, true) == Some(Tracked::Full) {
            drop(conns);
            self.bump(PortCounter::ConntrackExceeded, 1);
            return false;
        }
        true
    }

    /// Counts a frame the security groups denied; gives false.
    fn denied(&self, inbound: bool) -> bool {
        self.bump(
            if inbound {
                PortCounter::SgDeniedIn
            } else {
                PortCounter::SgDeniedOut
            },
            1,
        );
        false
    }

    /// How many more flows the connection table can track (0 if the ENI
    /// is not filtered).
    fn conntrack_available(&self) -> u64 {
        let now = self.now();
        self.conns
            .lock()
            .as_ref()
            .map_or(0, |t| t.available(now) as u64)
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
        // A gauge, not a count.
        if let Some(v) = out.get_mut(PortCounter::ConntrackAvailable as usize) {
            *v = self.conntrack_available();
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
                + self.get(PortCounter::PpsExceeded)
                + self.get(PortCounter::SgDeniedIn)
                + self.get(PortCounter::SgDeniedOut)
                + self.get(PortCounter::ConntrackExceeded),
            bw_in_allowance_exceeded: self.get(PortCounter::BwInExceeded),
            bw_out_allowance_exceeded: self.get(PortCounter::BwOutExceeded),
            pps_allowance_exceeded: self.get(PortCounter::PpsExceeded),
            allowance: self.allow.current(),
            conntrack_allowance_exceeded: self.get(PortCounter::ConntrackExceeded),
            conntrack_allowance_available: self.conntrack_available(),
            sg_denied_in: self.get(PortCounter::SgDeniedIn),
            sg_denied_out: self.get(PortCounter::SgDeniedOut),
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
