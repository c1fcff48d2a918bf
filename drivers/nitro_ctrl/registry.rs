// SPDX-License-Identifier: GPL-2.0

//! The registry of what exists on the host: volumes and ENIs, their states
//! and the card each lives on.
//!
//! Both kinds of object share one implementation, [`Table`], generic over
//! the per-kind part ([`Spec`]). Each kind has its own lock; a card is never
//! called with a registry lock held: a request first moves the object into a
//! transitional state under the lock (so concurrent requests for it get
//! `EBUSY`), then calls the card unlocked, then records the card's answer
//! under the lock again (see `state.rs` for the transitions).

use crate::{
    bus::{
        self, Allowance, Attachment, CardHandle, CardKind, CardName, DevName, EniSpec, GroupSet,
        Request, Tag, VolumeSpec,
    },
    controller::Controller,
    kapi,
    state::{self, Op, Refusal, State},
};
use kernel::{
    new_mutex,
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    sync::Mutex,
};

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Error {
        match r {
            Refusal::Busy => EBUSY,
            Refusal::NotAttached => EINVAL,
            Refusal::CardLost => ENODEV,
        }
    }
}

/// One object in a table.
#[derive(Clone, Copy)]
pub(crate) struct Obj<S: Copy> {
    /// What the card was asked to provision.
    pub(crate) spec: S,
    /// Where it is in its life.
    pub(crate) state: State,
    /// Attachment name while attaching or attached: a volume's device name,
    /// an ENI's interface name (on the host, or `eth<index>` in an
    /// instance).
    pub(crate) device: DevName,
    /// The instance it is attached to (0: the host, or not attached).
    pub(crate) instance: u64,
    /// `NITRO_ATTACH_*` flags of the attachment.
    pub(crate) flags: u32,
    /// A volume attached: its disk's (major, minor), as the card said.
    pub(crate) disk: (u32, u32),
    /// An ENI attached to an instance: its interface's name on the host,
    /// where the card made it (the hypervisor moves it in and out).
    pub(crate) host_name: DevName,
    /// Registration id of its card.
    pub(crate) card: u64,
    /// Name of its card.
    pub(crate) card_name: CardName,
    /// An ENI attached to an instance: the allowances of the instance's
    /// type, which apply where its own are unset.
    pub(crate) type_allowance: Allowance,
}

impl<S: Copy> Obj<S> {
    /// Forgets its attachment (a detach done, or an attach that failed).
    fn release(&mut self) {
        self.device = DevName::EMPTY;
        self.instance = 0;
        self.flags = 0;
        self.disk = (0, 0);
        self.host_name = DevName::EMPTY;
        self.type_allowance = Allowance::UNSET;
    }
}

impl Obj<EniSpec> {
    /// The allowances the card is asked to enforce on the ENI.
    pub(crate) fn allowance_enforced(&self) -> Allowance {
        if self.state != State::Attached {
            return Allowance::UNSET;
        }
        self.spec.allowance.or(self.type_allowance).enforced()
    }
}

/// The per-kind part of the registry.
pub(crate) trait Spec: Copy + Send + Unpin + 'static {
    /// Extra uniqueness constraints of the kind (MAC, VPC address).
    type Index: Send + Unpin;
    /// The card kind that holds objects of this kind.
    fn card_kind(&self) -> CardKind;
    /// The object's id.
    fn id(&self) -> u64;
    /// Sets the id.
    fn set_id(&mut self, id: u64);
    /// The object's name.
    fn name(&self) -> &Tag;
    /// Claims the kind's unique keys for `self` (`EEXIST` if taken).
    fn claim(&self, index: &mut Self::Index) -> Result;
    /// Releases them.
    fn release(&self, index: &mut Self::Index);
    /// Whether the attachment name must be unique (and non-empty).
    const DEVICE_REQUIRED: bool;
    /// Whether the card names the object's device on the host when it is
    /// attached to an instance (an ENI's interface, moved in later).
    const CARD_NAMES_IN_INSTANCE: bool;
    /// The bus request for `op` (create when `op` is `None`).
    fn request<'a>(&'a self, op: Option<Op>, att: &'a Attachment) -> Request<'a>;
    /// This kind's table.
    fn table(registry: &Registry) -> &Mutex<Table<Self>>;
    /// Runs `f` with this kind's table locked.
    fn with_table<R>(
        registry: &Registry,
        f: impl FnOnce(&mut Table<Self>) -> Result<R>,
    ) -> Result<R> {
        f(&mut Self::table(registry).lock())
    }
    /// An ENI's allowances as set (volumes have none).
    fn allowance(&self) -> Allowance {
        Allowance::UNSET
    }
    /// Records what the card said it did when it created the object.
    fn placed(&mut self, reply: &bus::Reply) {
        let _ = reply;
    }
    /// What follows a change `op` the card made (as `spec` was before it).
    fn changed(ctrl: &Controller, spec: &Self, op: Op) {
        let _ = (ctrl, spec, op);
    }
}

/// All objects of one kind and their unique keys.
pub(crate) struct Table<S: Spec> {
    objs: RBTree<u64, Obj<S>>,
    names: RBTree<Tag, u64>,
    /// Attachment names, unique per instance (0: the host).
    devices: RBTree<(u64, DevName), u64>,
    index: S::Index,
    max: usize,
    len: usize,
}

impl<S: Spec> Table<S> {
    fn new(index: S::Index, max: usize) -> Self {
        Self {
            objs: RBTree::new(),
            names: RBTree::new(),
            devices: RBTree::new(),
            index,
            max,
            len: 0,
        }
    }

    fn get_mut(&mut self, id: u64) -> Result<&mut Obj<S>> {
        self.objs.get_mut(&id).ok_or(ENOENT)
    }

    /// Forgets an object and its unique keys.
    fn forget(&mut self, id: u64) {
        if let Some(o) = self.objs.remove(&id) {
            self.len -= 1;
            if !o.spec.name().is_empty() {
                self.names.remove(o.spec.name());
            }
            if !o.device.is_empty() {
                self.devices.remove(&(o.instance, o.device));
            }
            o.spec.release(&mut self.index);
        }
    }
}

/// Index of the ENIs' unique keys.
pub(crate) struct EniIndex {
    macs: RBTree<[u8; 6], u64>,
    addrs: RBTree<(u32, u32), u64>,
}

/// Volumes and ENIs: one table per kind, each under its own lock.
#[pin_data]
pub(crate) struct Registry {
    #[pin]
    volumes: Mutex<Table<VolumeSpec>>,
    #[pin]
    enis: Mutex<Table<EniSpec>>,
}

impl Registry {
    /// Empty tables with room for `max_volumes` and `max_enis`.
    pub(crate) fn new(max_volumes: usize, max_enis: usize) -> impl PinInit<Self> {
        pin_init!(Self {
            volumes <- new_mutex!(Table::new((), max_volumes), "nitro_ctrl::volumes"),
            enis <- new_mutex!(
                Table::new(
                    EniIndex {
                        macs: RBTree::new(),
                        addrs: RBTree::new(),
                    },
                    max_enis,
                ),
                "nitro_ctrl::enis"
            ),
        })
    }

    /// Takes each lock of the registry and lets it go (see
    /// [`crate::controller::lockdep_probe`]).
    pub(crate) fn touch_locks(&self) {
        drop(self.volumes.lock());
        drop(self.enis.lock());
    }

    /// How many objects of the kind exist, and the most there may be.
    pub(crate) fn count<S: Spec>(&self) -> (usize, usize) {
        let t = S::table(self).lock();
        (t.len, t.max)
    }

    /// Marks every object of card `card` lost: it left the bus. Called after
    /// the card's last call returned, with no lock held.
    pub(crate) fn card_left(&self, card: u64) {
        fn mark<S: Spec>(registry: &Registry, card: u64) -> usize {
            let mut t = S::table(registry).lock();
            let mut n = 0;
            for (_, o) in t.objs.iter_mut() {
                if o.card == card && o.state != State::CardLost {
                    o.state = State::CardLost;
                    n += 1;
                }
            }
            n
        }
        let n = mark::<VolumeSpec>(self, card) + mark::<EniSpec>(self, card);
        if n > 0 {
            pr_warn!(
                "{} objects lost their card; only delete works on them now\n",
                n
            );
        }
    }
}

impl Spec for VolumeSpec {
    type Index = ();
    const DEVICE_REQUIRED: bool = true;
    const CARD_NAMES_IN_INSTANCE: bool = false;
    fn card_kind(&self) -> CardKind {
        match self.kind {
            bus::VolumeKind::Ebs => CardKind::Ebs,
            bus::VolumeKind::Instance => CardKind::InstanceStore,
        }
    }
    fn id(&self) -> u64 {
        self.id
    }
    fn set_id(&mut self, id: u64) {
        self.id = id;
    }
    fn name(&self) -> &Tag {
        &self.name
    }
    fn claim(&self, _index: &mut ()) -> Result {
        Ok(())
    }
    fn release(&self, _index: &mut ()) {}
    fn request<'a>(&'a self, op: Option<Op>, att: &'a Attachment) -> Request<'a> {
        match op {
            None => Request::CreateVolume(self),
            Some(Op::Attach) => Request::AttachVolume(self, att),
            Some(Op::Detach) => Request::DetachVolume(self),
            Some(Op::Delete) => Request::DeleteVolume(self),
        }
    }
    fn table(registry: &Registry) -> &Mutex<Table<Self>> {
        &registry.volumes
    }
}

impl Spec for EniSpec {
    type Index = EniIndex;
    const DEVICE_REQUIRED: bool = false;
    const CARD_NAMES_IN_INSTANCE: bool = true;
    fn card_kind(&self) -> CardKind {
        CardKind::Vpc
    }
    fn id(&self) -> u64 {
        self.id
    }
    fn set_id(&mut self, id: u64) {
        self.id = id;
    }
    fn name(&self) -> &Tag {
        &self.name
    }
    fn claim(&self, index: &mut EniIndex) -> Result {
        if index.macs.get(&self.mac).is_some() || index.addrs.get(&(self.vpc, self.ipv4)).is_some()
        {
            return Err(EEXIST);
        }
        index
            .macs
            .try_create_and_insert(self.mac, self.id, GFP_KERNEL)?;
        if let Err(e) =
            index
                .addrs
                .try_create_and_insert((self.vpc, self.ipv4), self.id, GFP_KERNEL)
        {
            index.macs.remove(&self.mac);
            return Err(e);
        }
        Ok(())
    }
    fn release(&self, index: &mut EniIndex) {
        index.macs.remove(&self.mac);
        index.addrs.remove(&(self.vpc, self.ipv4));
    }
    fn request<'a>(&'a self, op: Option<Op>, att: &'a Attachment) -> Request<'a> {
        match op {
            None => Request::CreateEni(self),
            Some(Op::Attach) => Request::AttachEni(self, att),
            Some(Op::Detach) => Request::DetachEni(self),
            Some(Op::Delete) => Request::DeleteEni(self),
        }
    }
    fn table(registry: &Registry) -> &Mutex<Table<Self>> {
        &registry.enis
    }
    fn allowance(&self) -> Allowance {
        self.allowance
    }
    fn changed(ctrl: &Controller, spec: &Self, op: Op) {
        crate::groups::changed(ctrl, spec, op);
    }
    fn placed(&mut self, reply: &bus::Reply) {
        // Host 0 asked the card to choose: remember the host it chose.
        if let bus::Reply::Host(host) = reply {
            self.host = *host;
        }
    }
}

/// Creates an object: records it as creating, asks its card, records the
/// answer. Gives the new id.
pub(crate) fn create<S: Spec>(ctrl: &Controller, mut spec: S) -> Result<u64> {
    ctrl.gate.check("a create")?;
    let card = ctrl.bus.card_for(spec.card_kind())?;
    let registry = &ctrl.registry;
    S::with_table(registry, |t| -> Result {
        if t.len >= t.max {
            return Err(ENOSPC);
        }
        if !spec.name().is_empty() && t.names.get(spec.name()).is_some() {
            return Err(EEXIST);
        }
        let id = loop {
            let id = kapi::random_u64();
            if id != 0 && t.objs.get(&id).is_none() {
                break id;
            }
        };
        spec.set_id(id);
        spec.claim(&mut t.index)?;
        let obj = Obj {
            spec,
            state: State::Creating,
            device: DevName::EMPTY,
            instance: 0,
            flags: 0,
            disk: (0, 0),
            host_name: DevName::EMPTY,
            card: card.id(),
            card_name: *card.name(),
            type_allowance: Allowance::UNSET,
        };
        if let Err(e) = t.objs.try_create_and_insert(id, obj, GFP_KERNEL) {
            spec.release(&mut t.index);
            return Err(e);
        }
        t.len += 1;
        if !spec.name().is_empty() {
            if let Err(e) = t.names.try_create_and_insert(*spec.name(), id, GFP_KERNEL) {
                t.forget(id);
                return Err(e);
            }
        }
        Ok(())
    })?;
    let id = spec.id();
    let none = Attachment {
        device: DevName::EMPTY,
        instance: 0,
        allowance: Allowance::UNSET,
    };
    let result = card.request(&spec.request(None, &none));
    // Record the answer before letting go of the card: if it leaves the bus
    // now, it finds the object in its final state and marks it lost.
    S::with_table(registry, |t| {
        match (&result, t.objs.get_mut(&id)) {
            (Ok(reply), Some(o)) => {
                if o.state == State::Creating {
                    o.state = State::Available;
                }
                o.spec.placed(reply);
            }
            _ => t.forget(id),
        }
        Ok(())
    })?;
    drop(card);
    result.map(|_| id)
}

/// How an object is to be attached.
#[derive(Clone, Copy)]
pub(crate) struct Attach {
    /// The attachment's name, unique where it is attached: a volume's
    /// device name; an ENI's interface name on the host (empty: the card
    /// chooses) or `eth<index>` in an instance.
    pub(crate) device: DevName,
    /// The instance (0: the host).
    pub(crate) instance: u64,
    /// `NITRO_ATTACH_*` flags.
    pub(crate) flags: u32,
    /// An ENI's allowances where its own are unset: its instance type's.
    pub(crate) allowance: Allowance,
}

impl Attach {
    /// No attachment (detach and delete).
    pub(crate) const NONE: Self = Self {
        device: DevName::EMPTY,
        instance: 0,
        flags: 0,
        allowance: Allowance::UNSET,
    };

    /// An attachment to the host itself under `device`.
    pub(crate) fn host(device: DevName) -> Self {
        Self {
            device,
            instance: 0,
            flags: 0,
            allowance: Allowance::UNSET,
        }
    }
}

/// Attaches, detaches or deletes object `id` (`att`: where to attach, for
/// attach). Gives the attachment name used, for attach.
pub(crate) fn change<S: Spec>(ctrl: &Controller, id: u64, op: Op, att: Attach) -> Result<DevName> {
    if op == Op::Attach {
        ctrl.gate.check("an attach")?;
    }
    let registry = &ctrl.registry;
    // An ENI attached to an instance gets its interface name on the host
    // from the card; the name recorded is its name inside, `eth<index>`.
    let card_names = op == Op::Attach
        && (att.device.is_empty() || S::CARD_NAMES_IN_INSTANCE && att.instance != 0);
    let key = (att.instance, att.device);
    // A name the card chooses on the host is recorded with its answer: the
    // node for it is allocated now, so that recording cannot fail once the
    // card has acted.
    let name_node = if card_names && att.instance == 0 {
        Some(RBTreeNodeReservation::new(GFP_KERNEL)?)
    } else {
        None
    };
    let (spec, begin, card_id) = S::with_table(registry, |t| -> Result<_> {
        let obj = *t.get_mut(id)?;
        let begin = state::begin(obj.state, op)?;
        if op == Op::Attach && !att.device.is_empty() {
            if t.devices.get(&key).is_some() {
                return Err(EEXIST);
            }
            t.devices.try_create_and_insert(key, id, GFP_KERNEL)?;
        }
        let o = t.get_mut(id)?;
        o.state = begin.during;
        if op == Op::Attach {
            o.device = att.device;
            o.instance = att.instance;
            o.flags = att.flags;
            o.type_allowance = att.allowance;
        }
        Ok((obj.spec, begin, obj.card))
    })?;
    let asked = Attachment {
        device: if card_names {
            DevName::EMPTY
        } else {
            att.device
        },
        instance: att.instance,
        allowance: spec.allowance().or(att.allowance).enforced(),
    };
    let (result, card) = if begin.ask_card {
        match ctrl.bus.card(card_id) {
            Ok(card) => (card.request(&spec.request(Some(op), &asked)), Some(card)),
            Err(e) => (Err(e), None),
        }
    } else {
        (Ok(bus::Reply::Done), None)
    };
    let ok = result.is_ok();
    let named = match &result {
        Ok(bus::Reply::Attached(name)) if card_names => Some(*name),
        _ => None,
    };
    let disk = match &result {
        Ok(bus::Reply::Disk(major, minor)) => (*major, *minor),
        _ => (0, 0),
    };
    let used = S::with_table(registry, |t| -> Result<DevName> {
        let Ok(o) = t.get_mut(id) else {
            return Ok(DevName::EMPTY);
        };
        // The card left meanwhile: the object stays lost, whatever it said.
        let lost = o.state == State::CardLost;
        let old_key = (o.instance, o.device);
        match state::finish(op, ok) {
            None => {
                t.forget(id);
                Ok(DevName::EMPTY)
            }
            Some(next) => {
                let release = (op == Op::Attach && !ok) || (op == Op::Detach && ok);
                if op == Op::Attach && ok {
                    o.disk = disk;
                    match named {
                        // Named by the card in an instance: its host name.
                        Some(name) if att.instance != 0 => o.host_name = name,
                        Some(name) => o.device = name,
                        None => {}
                    }
                }
                if release {
                    o.release();
                }
                if !lost {
                    o.state = next;
                }
                let used = o.device;
                if release && !old_key.1.is_empty() {
                    t.devices.remove(&old_key);
                }
                if let (Some(name), Some(node)) = (named.filter(|_| att.instance == 0), name_node) {
                    // A card-chosen name is unique on the card; record it so
                    // that callers cannot take it.
                    t.devices.insert(node.into_node((0, name), id));
                }
                Ok(used)
            }
        }
    })?;
    drop(card);
    if result.is_ok() {
        S::changed(ctrl, &spec, op);
    }
    result.map(|_| used)
}

/// A copy of object `id`.
pub(crate) fn describe<S: Spec>(registry: &Registry, id: u64) -> Result<Obj<S>> {
    S::with_table(registry, |t| t.get_mut(id).map(|o| *o))
}

/// Up to `cap` objects with ids above `after`, in id order, and whether
/// more follow.
pub(crate) fn list<S: Spec>(
    registry: &Registry,
    after: u64,
    cap: usize,
) -> Result<(KVVec<Obj<S>>, bool)> {
    let mut out = KVVec::with_capacity(cap, GFP_KERNEL)?;
    let more = S::with_table(registry, |t| -> Result<bool> {
        let Some(start) = after.checked_add(1) else {
            return Ok(false);
        };
        let mut cursor = t.objs.cursor_lower_bound_mut(&start);
        while let Some(c) = cursor {
            if out.len() == cap {
                return Ok(true);
            }
            out.push(*c.current().1, GFP_KERNEL)?;
            cursor = c.move_next();
        }
        Ok(false)
    })?;
    Ok((out, more))
}

/// The card that holds object `id`, for a metrics request.
pub(crate) fn card_of<'a, S: Spec>(ctrl: &'a Controller, id: u64) -> Result<CardHandle<'a>> {
    let card = S::with_table(&ctrl.registry, |t| t.get_mut(id).map(|o| (o.card, o.state)))?;
    match card {
        (_, State::CardLost) => Err(ENODEV),
        (card, _) => ctrl.bus.card(card),
    }
}

/// The objects attached (or being attached or detached) to `instance`.
pub(crate) fn attached_to<S: Spec>(registry: &Registry, instance: u64) -> Result<KVec<Obj<S>>> {
    let t = S::table(registry).lock();
    let mut out = KVec::new();
    for (_, o) in t.objs.iter() {
        if instance != 0 && o.instance == instance && crate::instances::attached(o.state) {
            out.push(*o, GFP_KERNEL)?;
        }
    }
    Ok(out)
}

/// The first object attached (or being attached or detached) to
/// `instance` whose id is above `after`: a walk over them that allocates
/// nothing (terminate, which must not fail half-way).
pub(crate) fn next_attached_to<S: Spec>(
    registry: &Registry,
    instance: u64,
    after: u64,
) -> Option<Obj<S>> {
    let mut t = S::table(registry).lock();
    let mut cursor = t.objs.cursor_lower_bound_mut(&after.checked_add(1)?);
    while let Some(c) = cursor {
        let o = c.current().1;
        if instance != 0 && o.instance == instance && crate::instances::attached(o.state) {
            return Some(*o);
        }
        cursor = c.move_next();
    }
    None
}

/// Wipes instance-storage volume `id` in place (`Request::WipeVolume`):
/// its card destroys the data and keeps the volume, attached as it was.
/// If the card could not make its disk again (it answers `Done` for an
/// attached volume), the volume is recorded detached, as it is.
pub(crate) fn wipe(ctrl: &Controller, id: u64) -> Result {
    let (spec, card_id) = VolumeSpec::with_table(&ctrl.registry, |t| {
        let o = t.get_mut(id)?;
        if o.state != State::Attached && o.state != State::Available {
            return Err(EBUSY);
        }
        Ok((o.spec, o.card))
    })?;
    let reply = ctrl
        .bus
        .card(card_id)?
        .request(&Request::WipeVolume(&spec))?;
    VolumeSpec::with_table(&ctrl.registry, |t| {
        let o = t.get_mut(id)?;
        match reply {
            bus::Reply::Disk(major, minor) => o.disk = (major, minor),
            _ if o.state == State::Attached => {
                let key = (o.instance, o.device);
                o.release();
                o.state = State::Available;
                t.devices.remove(&key);
            }
            _ => {}
        }
        Ok(())
    })
}

/// Sets ENI `id`'s allowances to `a` (`NITRO_IOC_ENI_ALLOWANCE`) and, if it
/// is attached, has its card enforce them at once. Refused with `EBUSY`
/// while the ENI changes state. If the card refuses, the old setting is
/// put back (unless a newer one came meanwhile).
pub(crate) fn set_allowance(ctrl: &Controller, id: u64, a: Allowance) -> Result {
    let (old, spec, enforce, card_id) = EniSpec::with_table(&ctrl.registry, |t| {
        let o = t.get_mut(id)?;
        let attached = match o.state {
            State::Available => false,
            State::Attached => true,
            State::CardLost => return Err(ENODEV),
            _ => return Err(EBUSY),
        };
        let old = o.spec.allowance;
        o.spec.allowance = a;
        o.spec.allowance_gen += 1;
        Ok((
            old,
            o.spec,
            attached.then(|| o.allowance_enforced()),
            o.card,
        ))
    })?;
    let Some(enforce) = enforce else {
        return Ok(());
    };
    let r = ctrl
        .bus
        .card(card_id)
        .and_then(|card| card.request(&Request::SetAllowance(&spec, &enforce)));
    if let Err(e) = r {
        EniSpec::with_table(&ctrl.registry, |t| {
            if let Ok(o) = t.get_mut(id) {
                if o.spec.allowance_gen == spec.allowance_gen {
                    o.spec.allowance = old;
                }
            }
            Ok(())
        })?;
        return Err(e);
    }
    Ok(())
}

/// Calls `f` with every ENI, under the ENI table's lock (`f` must not call
/// into the registry or a card).
pub(crate) fn for_each_eni(
    registry: &Registry,
    mut f: impl FnMut(&Obj<EniSpec>) -> Result,
) -> Result {
    let t = registry.enis.lock();
    for (_, o) in t.objs.iter() {
        f(o)?;
    }
    Ok(())
}

/// Sets ENI `id`'s security groups to `groups` (`NITRO_IOC_ENI_GROUPS`),
/// `EBUSY` while it changes state. Gives it as it was before (to put back
/// if the rules cannot be applied).
pub(crate) fn set_groups(registry: &Registry, id: u64, groups: GroupSet) -> Result<Obj<EniSpec>> {
    EniSpec::with_table(registry, |t| {
        let o = t.get_mut(id)?;
        match o.state {
            State::Available | State::Attached => {}
            State::CardLost => return Err(ENODEV),
            _ => return Err(EBUSY),
        }
        let old = *o;
        o.spec.groups = groups;
        Ok(old)
    })
}

/// Puts back ENI `id`'s groups `old` if they are still `new`.
pub(crate) fn restore_groups(registry: &Registry, id: u64, new: GroupSet, old: GroupSet) {
    let _ = EniSpec::with_table(registry, |t| {
        let o = t.get_mut(id)?;
        if o.spec.groups == new {
            o.spec.groups = old;
        }
        Ok(())
    });
}
