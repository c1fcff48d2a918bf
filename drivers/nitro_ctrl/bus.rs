// SPDX-License-Identifier: GPL-2.0

//! The private bus between the controller and the cards.
//!
//! Each card module (`nitro_sec`, `nitro_nvme`, `nitro_net`) imports this
//! crate and calls [`register`] for every card it provides when it loads; the
//! returned [`Registration`] takes the card off the bus when dropped, which
//! the card module does when it unloads. The controller never calls out on
//! its own: it reaches a card only while handling an ioctl.
//!
//! A card module cannot unload while the controller is inside one of its
//! methods: every call into a card happens with the bus lock held, and
//! unregistering takes the same lock.

use crate::uapi;
use kernel::{prelude::*, sync::Arc};

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

/// Most cards the bus holds at once.
pub const MAX_CARDS: usize = 16;

/// Longest card name (without the NUL of the ABI field).
pub const MAX_NAME: usize = uapi::NITRO_NAME_LEN as usize - 1;

/// What a card does for the controller. Implemented by each card module.
pub trait Card: Send + Sync {
    /// How many objects (volumes, ENIs, measurements) the card holds now.
    fn objects(&self) -> u32;
}

struct Entry {
    id: u64,
    kind: CardKind,
    index: u32,
    name: [u8; MAX_NAME],
    name_len: usize,
    card: Arc<dyn Card>,
    requests: u64,
    failures: u64,
}

/// The bus: registered cards and the id of the next registration.
pub(crate) struct Bus {
    entries: KVec<Entry>,
    next_id: u64,
}

kernel::sync::global_lock! {
    // SAFETY: `init` is called in the module initializer, before the misc
    // device exists and before any card module (which depends on this crate)
    // can call `register`.
    unsafe(uninit) static BUS: Mutex<Bus> = Bus {
        entries: KVec::new(),
        next_id: 1,
    };
}

/// Initialises the bus. Called once, first thing in module init.
pub(crate) fn init() {
    // SAFETY: Called exactly once, from the module initializer.
    unsafe { BUS.init() };
}

/// A card's place on the bus; dropping it takes the card off.
pub struct Registration {
    id: u64,
}

/// Puts `card` on the bus as a card of `kind` named `name`.
///
/// Errors: `EINVAL` for an empty or over-long name, `EEXIST` if a card of
/// that name is registered already, `ENOSPC` if the bus is full.
pub fn register(kind: CardKind, name: &str, card: Arc<dyn Card>) -> Result<Registration> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(EINVAL);
    }
    let mut bus = BUS.lock();
    if bus
        .entries
        .iter()
        .any(|e| &e.name[..e.name_len] == name.as_bytes())
    {
        return Err(EEXIST);
    }
    if bus.entries.len() >= MAX_CARDS {
        return Err(ENOSPC);
    }
    let index = bus.entries.iter().filter(|e| e.kind == kind).count() as u32;
    let id = bus.next_id;
    let mut fixed = [0u8; MAX_NAME];
    fixed[..name.len()].copy_from_slice(name.as_bytes());
    bus.entries.push(
        Entry {
            id,
            kind,
            index,
            name: fixed,
            name_len: name.len(),
            card,
            requests: 0,
            failures: 0,
        },
        GFP_KERNEL,
    )?;
    bus.next_id += 1;
    let (what, _) = kind.describe();
    pr_info!("card {} ({}) registered\n", name, what);
    report_missing(&bus);
    Ok(Registration { id })
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut bus = BUS.lock();
        if let Some(pos) = bus.entries.iter().position(|e| e.id == self.id) {
            let entry = bus.entries.remove(pos);
            if let Ok(entry) = entry {
                let name = core::str::from_utf8(&entry.name[..entry.name_len]).unwrap_or("?");
                pr_info!("card {} left the bus\n", name);
            }
            report_missing(&bus);
        }
    }
}

/// Logs which card kinds are missing, or that all are present.
fn report_missing(bus: &Bus) {
    let mut any = false;
    for kind in ALL_KINDS {
        if !bus.entries.iter().any(|e| e.kind == kind) {
            let (what, module) = kind.describe();
            pr_info!("no {} on the bus (load {})\n", what, module);
            any = true;
        }
    }
    if !any {
        pr_info!("all cards present\n");
    }
}

/// Logs the state of the bus; called when the controller comes up.
pub(crate) fn report() {
    report_missing(&BUS.lock());
}

/// A card as the status ioctl reports it.
pub(crate) struct CardSnapshot {
    pub(crate) kind: CardKind,
    pub(crate) index: u32,
    pub(crate) name: [u8; MAX_NAME],
    pub(crate) name_len: usize,
    pub(crate) requests: u64,
    pub(crate) failures: u64,
    pub(crate) objects: u32,
}

/// Copies the bus state out (so that no user copy happens under the lock).
pub(crate) fn snapshot() -> Result<KVec<CardSnapshot>> {
    let bus = BUS.lock();
    let mut out = KVec::with_capacity(bus.entries.len(), GFP_KERNEL)?;
    for e in bus.entries.iter() {
        out.push(
            CardSnapshot {
                kind: e.kind,
                index: e.index,
                name: e.name,
                name_len: e.name_len,
                requests: e.requests,
                failures: e.failures,
                objects: e.card.objects(),
            },
            GFP_KERNEL,
        )?;
    }
    Ok(out)
}
