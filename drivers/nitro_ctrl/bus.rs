// SPDX-License-Identifier: GPL-2.0

//! The private bus between the controller and the cards.
//!
//! Each card module (`nitro_sec`, `nitro_nvme`, `nitro_net`) imports this
//! crate and calls [`register`] for every card it provides when it loads; the
//! returned [`Registration`] takes the card off the bus when dropped, which
//! the card module does when it unloads. The controller never calls out on
//! its own: it reaches a card only while handling an ioctl.
//!
//! A card is called through a [`CardHandle`], which holds a read-side
//! section of the bus's SRCU for as long as it lives. Dropping a
//! [`Registration`] takes the card off the bus (no new handle can reach it)
//! and then waits for an SRCU grace period, so every call already in flight
//! has returned before the card module's code can go. Only then are the
//! card's objects marked lost in the registry.
//!
//! Locks: no lock of the controller is held while a card is called (the
//! entries' lock is held only to find a card and to count its requests).
//! A card may call back into this crate's card-facing functions from any of
//! its methods.
//!
//! - `bus/spec.rs`: what a card is asked to provision (volumes, ENIs, hosts,
//!   mappings, keys) and the fixed-size names they carry;
//! - `bus/card.rs`: the [`Card`] trait, requests, replies, counters.

use crate::{
    controller::{self, Controller},
    uapi,
};
use kernel::{
    new_mutex, new_srcu,
    prelude::*,
    sync::{srcu, Arc, Mutex, Srcu},
};

mod card;
mod spec;

pub use card::*;
pub use spec::*;

/// The kinds of card, as in `enum nitro_card_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum CardKind {
    /// The security chip.
    Security = uapi::NITRO_CARD_SECURITY,
    /// EBS volumes.
    Ebs = uapi::NITRO_CARD_EBS,
    /// Instance-storage volumes.
    InstanceStore = uapi::NITRO_CARD_INSTANCE_STORE,
    /// The VPC card.
    Vpc = uapi::NITRO_CARD_VPC,
}

/// Every card kind, in `enum nitro_card_kind` order.
pub const ALL_KINDS: [CardKind; 4] = [
    CardKind::Security,
    CardKind::Ebs,
    CardKind::InstanceStore,
    CardKind::Vpc,
];

impl CardKind {
    /// What a person calls this card, and the module that provides it.
    pub fn describe(self) -> (&'static str, &'static str) {
        match self {
            CardKind::Security => ("security chip", "nitro_sec"),
            CardKind::Ebs => ("EBS card", "nitro_nvme"),
            CardKind::InstanceStore => ("instance-storage card", "nitro_nvme"),
            CardKind::Vpc => ("VPC card", "nitro_net"),
        }
    }
}

/// The name of a card on the bus.
pub type CardName = Fixed<{ uapi::NITRO_NAME_LEN as usize }>;

/// A registered card.
struct Entry {
    /// Registration id: what objects remember of their card.
    id: u64,
    kind: CardKind,
    /// Position among the cards of its kind, when it registered.
    index: u32,
    name: CardName,
    card: Arc<dyn Card>,
    requests: u64,
    failures: u64,
}

/// What the bus's lock protects.
struct Entries {
    list: KVec<Entry>,
    next_id: u64,
}

/// The bus: the registered cards, and the SRCU that calls to them run in.
#[pin_data]
pub(crate) struct Bus {
    #[pin]
    entries: Mutex<Entries>,
    /// Every call into a card is a read-side section; a card leaving waits
    /// for a grace period.
    #[pin]
    calls: Srcu,
}

impl Bus {
    /// An empty bus.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            entries <- new_mutex!(
                Entries {
                    list: KVec::new(),
                    next_id: 1,
                },
                "nitro_ctrl::bus"
            ),
            calls <- new_srcu!("nitro_ctrl::bus::calls"),
        })
    }

    /// A handle on the first card chosen by `pick`, valid while the handle
    /// lives (it holds the SRCU read side).
    fn handle(&self, pick: impl Fn(&Entry) -> bool) -> Result<CardHandle<'_>> {
        // The read side first: an entry found below cannot complete its
        // leaving (its grace period) until the handle is dropped.
        let call = self.calls.read_lock();
        let entries = self.entries.lock();
        let e = entries.list.iter().find(|e| pick(e)).ok_or(ENODEV)?;
        Ok(CardHandle {
            bus: self,
            _call: call,
            id: e.id,
            name: e.name,
            card: e.card.clone(),
        })
    }

    /// The first registered card of `kind` (`ENODEV` if there is none).
    pub(crate) fn card_for(&self, kind: CardKind) -> Result<CardHandle<'_>> {
        self.handle(|e| e.kind == kind)
    }

    /// The card registered as `id` (`ENODEV` if it left).
    pub(crate) fn card(&self, id: u64) -> Result<CardHandle<'_>> {
        self.handle(|e| e.id == id)
    }

    /// The card at position `pos` in status order, with its request and
    /// failure counts (`ENOENT` if none).
    pub(crate) fn card_at(&self, pos: u64) -> Result<(CardHandle<'_>, u64, u64)> {
        let (id, requests, failures) = {
            let entries = self.entries.lock();
            let e = usize::try_from(pos)
                .ok()
                .and_then(|p| entries.list.get(p))
                .ok_or(ENOENT)?;
            (e.id, e.requests, e.failures)
        };
        Ok((self.card(id).map_err(|_| ENOENT)?, requests, failures))
    }

    /// The bus state, for the status ioctl. The cards are asked for their
    /// object counts after the lock is released.
    pub(crate) fn snapshot(&self) -> Result<KVec<CardSnapshot>> {
        let _call = self.calls.read_lock();
        let mut out = KVec::new();
        let mut cards = KVec::new();
        {
            let entries = self.entries.lock();
            out.reserve(entries.list.len(), GFP_KERNEL)?;
            cards.reserve(entries.list.len(), GFP_KERNEL)?;
            for e in entries.list.iter() {
                out.push(
                    CardSnapshot {
                        kind: e.kind,
                        index: e.index,
                        name: e.name,
                        requests: e.requests,
                        failures: e.failures,
                        objects: 0,
                    },
                    GFP_KERNEL,
                )?;
                cards.push(e.card.clone(), GFP_KERNEL)?;
            }
        }
        for (s, card) in out.iter_mut().zip(cards.iter()) {
            s.objects = card.objects();
        }
        Ok(out)
    }

    /// Logs which card kinds are missing, or that all are present.
    pub(crate) fn report(&self) {
        report_missing(&self.entries.lock().list);
    }

    /// Takes a lock of the bus and lets it go (see
    /// [`crate::controller::lockdep_probe`]).
    pub(crate) fn touch_locks(&self) {
        drop(self.entries.lock());
    }

    /// Counts a request to card `id` and whether it failed.
    fn count(&self, id: u64, failed: bool) {
        let mut entries = self.entries.lock();
        if let Some(e) = entries.list.iter_mut().find(|e| e.id == id) {
            e.requests += 1;
            e.failures += u64::from(failed);
        }
    }
}

/// A card's place on the bus; dropping it takes the card off, once every
/// call to it has returned.
pub struct Registration {
    ctrl: Arc<Controller>,
    id: u64,
    kind: CardKind,
}

/// Puts `card` on the bus as a card of `kind` named `name`.
///
/// Errors: `ENODEV` if the controller is not running, `EINVAL` for an empty
/// or over-long name, `EEXIST` if a card of that name is registered
/// already, `ENOSPC` if the bus is full.
pub fn register(kind: CardKind, name: &str, card: Arc<dyn Card>) -> Result<Registration> {
    let ctrl = controller::current()?;
    if name.len() > MAX_NAME {
        return Err(EINVAL);
    }
    let name = CardName::new(name.as_bytes()).ok_or(EINVAL)?;
    if name.is_empty() {
        return Err(EINVAL);
    }
    let id = {
        let mut entries = ctrl.bus.entries.lock();
        if entries.list.iter().any(|e| e.name == name) {
            return Err(EEXIST);
        }
        if entries.list.len() >= MAX_CARDS {
            return Err(ENOSPC);
        }
        let index = entries.list.iter().filter(|e| e.kind == kind).count() as u32;
        let id = entries.next_id;
        entries.list.push(
            Entry {
                id,
                kind,
                index,
                name,
                card,
                requests: 0,
                failures: 0,
            },
            GFP_KERNEL,
        )?;
        entries.next_id += 1;
        let (what, _) = kind.describe();
        pr_info!("card {} ({}) registered\n", name.as_str(), what);
        report_missing(&entries.list);
        id
    };
    if kind == CardKind::Security {
        ctrl.gate.chip_arrived(id);
    }
    Ok(Registration { ctrl, id, kind })
}

impl Drop for Registration {
    fn drop(&mut self) {
        let bus = &self.ctrl.bus;
        let entry = {
            let mut entries = bus.entries.lock();
            let Some(pos) = entries.list.iter().position(|e| e.id == self.id) else {
                return;
            };
            // Off the bus: no new handle can reach the card from here on.
            let entry = entries.list.remove(pos);
            report_missing(&entries.list);
            entry
        };
        let Ok(entry) = entry else { return };
        pr_info!("card {} left the bus\n", entry.name.as_str());
        if self.kind == CardKind::Security {
            self.ctrl.gate.chip_left(self.id);
        }
        // Every handle taken before the removal is an SRCU reader: once the
        // grace period ends, no call into the card module is in progress.
        bus.calls.synchronize();
        self.ctrl.card_left(self.id);
        // `entry` (and its reference to the card) drops here, while the card
        // module is still loaded.
        drop(entry);
    }
}

/// A card being called: while it lives, the card cannot leave the bus.
pub(crate) struct CardHandle<'a> {
    bus: &'a Bus,
    _call: srcu::Guard<'a>,
    id: u64,
    name: CardName,
    card: Arc<dyn Card>,
}

impl CardHandle<'_> {
    /// The card's registration id (what objects remember).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The card's name.
    pub(crate) fn name(&self) -> &CardName {
        &self.name
    }

    /// Sends a request and counts it (and its refusal) on the card.
    pub(crate) fn request(&self, req: &Request<'_>) -> Result<Reply> {
        let r = self.card.request(req);
        self.bus.count(self.id, r.is_err());
        r
    }

    /// Asks for an object's counters.
    pub(crate) fn metrics(&self, id: u64) -> Result<Metrics> {
        self.card.metrics(id)
    }

    /// Asks for a host's counters.
    pub(crate) fn host_info(&self, host: u32) -> Result<HostInfo> {
        self.card.host_info(host)
    }

    /// Asks for the card's totals.
    pub(crate) fn totals(&self) -> Metrics {
        self.card.totals()
    }

    /// Asks how many objects the card holds.
    pub(crate) fn objects(&self) -> u32 {
        self.card.objects()
    }

    /// Asks for the measurement log (security chip).
    pub(crate) fn measurements(&self) -> Result<KVec<Measurement>> {
        self.card.measurements()
    }

    /// Asks for the extend registers (security chip).
    pub(crate) fn registers(&self) -> [[u8; SHA384_LEN]; FW_REGISTERS] {
        self.card.registers()
    }
}

/// Logs which card kinds are missing, or that all are present.
fn report_missing(list: &[Entry]) {
    let mut any = false;
    for kind in ALL_KINDS {
        if !list.iter().any(|e| e.kind == kind) {
            let (what, module) = kind.describe();
            pr_info!("no {} on the bus (load {})\n", what, module);
            any = true;
        }
    }
    if !any {
        pr_info!("all cards present\n");
    }
}

/// A card as the status ioctl reports it.
pub(crate) struct CardSnapshot {
    pub(crate) kind: CardKind,
    pub(crate) index: u32,
    pub(crate) name: CardName,
    pub(crate) requests: u64,
    pub(crate) failures: u64,
    pub(crate) objects: u32,
}
