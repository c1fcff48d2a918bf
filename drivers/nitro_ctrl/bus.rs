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
//! methods: a call goes through a [`CardHandle`], which counts as in flight
//! on the card's entry, and dropping the [`Registration`] first takes the
//! entry off the bus (no new calls) and then waits until none is in flight.
//! Only then are the card's objects marked lost in the registry.

use crate::{gate, registry, uapi};
use kernel::{
    prelude::*,
    sync::Arc,
    time::{delay::fsleep, Delta},
};

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

/// A short string kept in a fixed buffer (names travel without allocation).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fixed<const N: usize> {
    buf: [u8; N],
}

impl<const N: usize> Fixed<N> {
    /// The empty string.
    pub const EMPTY: Self = Self { buf: [0; N] };

    /// Copies `s`, which must be shorter than `N` bytes and hold no NUL.
    pub fn new(s: &[u8]) -> Option<Self> {
        if s.len() >= N || s.contains(&0) {
            return None;
        }
        let mut buf = [0; N];
        buf[..s.len()].copy_from_slice(s);
        Some(Self { buf })
    }

    /// The bytes, without the padding.
    pub fn as_bytes(&self) -> &[u8] {
        let len = self.buf.iter().position(|&b| b == 0).unwrap_or(N);
        &self.buf[..len]
    }

    /// The string (our names are ASCII; anything else shows as `?`).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("?")
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.buf[0] == 0
    }

    /// The whole buffer, NUL-padded, as the ABI carries it.
    pub fn raw(&self) -> &[u8; N] {
        &self.buf
    }
}

/// An object name (`NITRO_TAG_LEN`).
pub type Tag = Fixed<{ uapi::NITRO_TAG_LEN as usize }>;
/// An attachment name (`NITRO_DEVNAME_LEN`).
pub type DevName = Fixed<{ uapi::NITRO_DEVNAME_LEN as usize }>;

/// Volume kinds, as in `enum nitro_volume_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeKind {
    /// EBS: network storage, survives detach and reload.
    Ebs,
    /// Instance storage: local, wiped on delete.
    Instance,
}

/// A volume as the card is asked to provision it.
#[derive(Clone, Copy)]
pub struct VolumeSpec {
    /// Its id.
    pub id: u64,
    /// EBS or instance storage.
    pub kind: VolumeKind,
    /// Capacity in bytes, a multiple of `block_size`.
    pub size_bytes: u64,
    /// Logical block size: 512 or 4096.
    pub block_size: u32,
    /// Name given at create (may be empty).
    pub name: Tag,
    /// EBS: the caller's descriptor of the backing file or device, valid
    /// only while the create request runs (in the caller's context).
    pub backing_fd: i32,
    /// EBS: the data key, wrapped under the card's key (opaque here).
    pub wrapped_key: [u8; WRAPPED_KEY_LEN],
}

/// Length of a wrapped data key (`struct nitro_wrapped_key`).
pub const WRAPPED_KEY_LEN: usize = uapi::NITRO_WRAPPED_KEY_LEN as usize;

/// Bins of a latency histogram (`NITRO_HIST_BINS`).
pub const HIST_BINS: usize = uapi::NITRO_HIST_BINS as usize;

/// An ENI as the card is asked to provision it.
#[derive(Clone, Copy)]
pub struct EniSpec {
    /// Its id.
    pub id: u64,
    /// VPC id (the Geneve VNI).
    pub vpc: u32,
    /// MAC address.
    pub mac: [u8; 6],
    /// IPv4 address, network byte order.
    pub ipv4: u32,
    /// Name given at create (may be empty).
    pub name: Tag,
    /// The VPC card instance (host) it is on; 0: the lowest-numbered.
    pub host: u32,
}

/// A VPC card instance (an emulated host) as the card is asked to make it.
#[derive(Clone, Copy)]
pub struct HostSpec {
    /// The caller's descriptor of the underlay namespace, or -1 for the
    /// caller's own; valid only while the request runs (caller's context).
    pub netns_fd: i32,
    /// Underlay IPv4 address, network byte order.
    pub underlay: u32,
}

/// One entry of a host's mapping table.
#[derive(Clone, Copy)]
pub struct MapSpec {
    /// The host whose table it is.
    pub host: u32,
    /// VPC id.
    pub vpc: u32,
    /// Inner IPv4 address, network byte order.
    pub ipv4: u32,
    /// Inner MAC address.
    pub mac: [u8; 6],
    /// The peer host's underlay address, network byte order.
    pub underlay: u32,
    /// Whether the peer is a Nitro host (frames to it are sealed).
    pub nitro: bool,
}

/// Length of a peer key.
pub const PEER_KEY_LEN: usize = uapi::NITRO_PEER_KEY_LEN as usize;

/// A key a host shares with a peer host.
pub struct PeerKeySpec {
    /// The host.
    pub host: u32,
    /// The peer's underlay address, network byte order.
    pub peer: u32,
    /// The key's epoch.
    pub epoch: u32,
    /// The key.
    pub key: [u8; PEER_KEY_LEN],
}

impl Drop for PeerKeySpec {
    fn drop(&mut self) {
        // The controller does not keep keys: wipe the copy it passed on.
        self.key.fill(0);
        core::hint::black_box(&mut self.key);
    }
}

/// Counters and sizes of a host, as `struct nitro_host_info` reports them.
#[derive(Clone, Copy, Default)]
pub struct HostInfo {
    /// Underlay address, network byte order.
    pub underlay: u32,
    /// ENIs made on it.
    pub enis: u32,
    /// Mapping entries.
    pub maps: u32,
    /// Keyed peers.
    pub peers: u32,
    /// Counters, in `struct nitro_host_info` order from `tx_sealed`.
    pub counters: [u64; HOST_COUNTERS],
}

/// Number of counters in `struct nitro_host_info`.
pub const HOST_COUNTERS: usize = 12;

/// A request from the controller to a card.
pub enum Request<'a> {
    /// Provision a volume.
    CreateVolume(&'a VolumeSpec),
    /// Attach it under the given device name.
    AttachVolume(&'a VolumeSpec, &'a DevName),
    /// Detach it.
    DetachVolume(&'a VolumeSpec),
    /// Deprovision it.
    DeleteVolume(&'a VolumeSpec),
    /// Provision an ENI.
    CreateEni(&'a EniSpec),
    /// Attach it; the name is empty when the card is to choose one.
    AttachEni(&'a EniSpec, &'a DevName),
    /// Detach it.
    DetachEni(&'a EniSpec),
    /// Deprovision it.
    DeleteEni(&'a EniSpec),
    /// Make a VPC card instance (a host).
    CreateHost(&'a HostSpec),
    /// Remove a host (it must have no ENIs).
    DeleteHost(u32),
    /// Add or replace a mapping entry.
    SetMap(&'a MapSpec),
    /// Remove a mapping entry (only host, VPC and address are meaningful).
    DeleteMap(&'a MapSpec),
    /// Install a peer key.
    SetPeerKey(&'a PeerKeySpec),
}

/// A card's answer to a request it carried out.
pub enum Reply {
    /// Done.
    Done,
    /// Attached under this name (an ENI's interface name).
    Attached(DevName),
    /// Made this host; or, for an ENI, placed it on this host.
    Host(u32),
}

/// Counters a card reports for one object, or for itself.
#[derive(Clone, Copy, Default)]
pub struct Metrics {
    /// Block reads completed.
    pub read_ops: u64,
    /// Bytes read.
    pub read_bytes: u64,
    /// Time in reads, ns.
    pub read_ns: u64,
    /// Block writes completed.
    pub write_ops: u64,
    /// Bytes written.
    pub write_bytes: u64,
    /// Time in writes, ns.
    pub write_ns: u64,
    /// Packets received by the guest side.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets sent by the guest side.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets dropped.
    pub drops: u64,
    /// Requests being processed now (volumes).
    pub queue_depth: u64,
    /// Reads by latency (volumes): bin 0 under 1 us, bin i [2^(i-1), 2^i) us.
    pub read_hist: [u64; HIST_BINS],
    /// Writes by latency, the same way.
    pub write_hist: [u64; HIST_BINS],
}

/// Length of a SHA-384 digest.
pub const SHA384_LEN: usize = uapi::NITRO_SHA384_LEN as usize;

/// Number of extend registers of the security chip.
pub const FW_REGISTERS: usize = uapi::NITRO_FW_REGISTERS as usize;

/// One entry of the security chip's measurement log.
#[derive(Clone, Copy)]
pub struct Measurement {
    /// What was measured ("bios-rom", "acpi/DSDT", "smbios/DMI", ...).
    pub component: Tag,
    /// Bytes measured.
    pub size: u64,
    /// The register it was extended into.
    pub reg: u32,
    /// SHA-384 of the bytes.
    pub digest: [u8; SHA384_LEN],
}

/// What a card does for the controller. Implemented by each card module.
pub trait Card: Send + Sync {
    /// How many objects (volumes, ENIs, measurements) the card holds now.
    fn objects(&self) -> u32;

    /// Carries out a request. An error leaves the object as it was: the
    /// card must undo any partial work before returning it.
    fn request(&self, req: &Request<'_>) -> Result<Reply> {
        let _ = req;
        Err(EOPNOTSUPP)
    }

    /// Counters of one of the card's objects.
    fn metrics(&self, id: u64) -> Result<Metrics> {
        let _ = id;
        Err(ENOENT)
    }

    /// A host's counters (the VPC card; others have no hosts).
    fn host_info(&self, host: u32) -> Result<HostInfo> {
        let _ = host;
        Err(ENODEV)
    }

    /// Counters of the whole card.
    fn totals(&self) -> Metrics {
        Metrics::default()
    }

    /// The security chip's measurement log (other cards have none).
    fn measurements(&self) -> Result<KVec<Measurement>> {
        Ok(KVec::new())
    }

    /// The security chip's extend registers.
    fn registers(&self) -> [[u8; SHA384_LEN]; FW_REGISTERS] {
        [[0; SHA384_LEN]; FW_REGISTERS]
    }
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
    // SAFETY: As above.
    unsafe { DRAINING.init() };
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
    drop(bus);
    if kind == CardKind::Security {
        gate::chip_arrived(id);
    }
    Ok(Registration { id })
}

impl Drop for Registration {
    fn drop(&mut self) {
        let entry = {
            let mut bus = BUS.lock();
            let Some(pos) = bus.entries.iter().position(|e| e.id == self.id) else {
                return;
            };
            // Off the bus: no new call can reach the card from here on.
            let entry = bus.entries.remove(pos);
            report_missing(&bus);
            entry
        };
        let Ok(entry) = entry else { return };
        pr_info!("card {} left the bus\n", entry.name());
        if entry.kind == CardKind::Security {
            gate::chip_left(self.id);
        }
        // Wait for calls already in flight: the card module's code must stay
        // until they return. Unloading is rare, calls are short: poll.
        while DRAINING
            .lock()
            .iter()
            .any(|&(id, n)| id == self.id && n > 0)
        {
            fsleep(Delta::from_millis(1));
        }
        DRAINING.lock().retain(|slot| slot.0 != self.id);
        registry::card_left(self.id);
        // `entry` (and its reference to the card) drops here, while the card
        // module is still loaded.
    }
}

kernel::sync::global_lock! {
    // SAFETY: `init` is called in the module initializer, with `BUS`.
    unsafe(uninit) static DRAINING: Mutex<KVec<(u64, u32)>> = KVec::new();
}

impl Entry {
    fn name(&self) -> &str {
        core::str::from_utf8(&self.name[..self.name_len]).unwrap_or("?")
    }
}

/// A card being called: holds it in flight until dropped.
pub(crate) struct CardHandle {
    id: u64,
    card: Arc<dyn Card>,
    name: Fixed<{ uapi::NITRO_NAME_LEN as usize }>,
}

impl CardHandle {
    /// The card's registration id (what objects remember).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The card's name.
    pub(crate) fn name(&self) -> &Fixed<{ uapi::NITRO_NAME_LEN as usize }> {
        &self.name
    }

    /// Sends a request and counts it (and its refusal) on the card.
    pub(crate) fn request(&self, req: &Request<'_>) -> Result<Reply> {
        let r = self.card.request(req);
        let mut bus = BUS.lock();
        if let Some(e) = bus.entries.iter_mut().find(|e| e.id == self.id) {
            e.requests += 1;
            if r.is_err() {
                e.failures += 1;
            }
        }
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

impl Drop for CardHandle {
    fn drop(&mut self) {
        let mut draining = DRAINING.lock();
        if let Some(slot) = draining.iter_mut().find(|(id, _)| *id == self.id) {
            slot.1 -= 1;
        }
    }
}

/// Takes a handle on the card chosen by `pick` among the registered ones.
fn handle(pick: impl Fn(&Entry) -> bool) -> Result<CardHandle> {
    let bus = BUS.lock();
    let e = bus.entries.iter().find(|e| pick(e)).ok_or(ENODEV)?;
    let mut draining = DRAINING.lock();
    match draining.iter_mut().find(|(id, _)| *id == e.id) {
        Some(slot) => slot.1 += 1,
        None => draining.push((e.id, 1), GFP_KERNEL)?,
    }
    Ok(CardHandle {
        id: e.id,
        card: e.card.clone(),
        name: Fixed::new(e.name().as_bytes()).unwrap_or(Fixed::EMPTY),
    })
}

/// The first registered card of `kind` (`ENODEV` if there is none).
pub(crate) fn card_for(kind: CardKind) -> Result<CardHandle> {
    handle(|e| e.kind == kind)
}

/// The card registered as `id` (`ENODEV` if it left).
pub(crate) fn card(id: u64) -> Result<CardHandle> {
    handle(|e| e.id == id)
}

/// The card at position `pos` in status order (`ENOENT` if none).
pub(crate) fn card_at(pos: u64) -> Result<(CardHandle, u64, u64)> {
    let (id, requests, failures) = {
        let bus = BUS.lock();
        let e = usize::try_from(pos)
            .ok()
            .and_then(|p| bus.entries.get(p))
            .ok_or(ENOENT)?;
        (e.id, e.requests, e.failures)
    };
    Ok((card(id).map_err(|_| ENOENT)?, requests, failures))
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

/// Frees the bus's memory at module exit (no card can be left: each holds
/// a reference on this module).
pub(crate) fn clear() {
    BUS.lock().entries = KVec::new();
    DRAINING.lock().clear();
    *DRAINING.lock() = KVec::new();
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
