// SPDX-License-Identifier: GPL-2.0

//! Instances: what the controller knows of each, EC2's lifecycle, and the
//! command channel to the hypervisors that run them.
//!
//! Everything happens inside ioctls: the user's (create, start, stop,
//! terminate, attach, wait, console), the hypervisor's (`NEXT` waits for a
//! command, `DONE` reports its result and completes the transition), or the
//! release of a hypervisor's file (it went away). There is no thread,
//! timer or work item. `Documentation/instances.rst` is the specification;
//! the transitions themselves are `lifecycle.rs`.
//!
//! Locks: the table's mutex is never held while a card is called or while
//! user memory is touched; it may be held while a registry lock is taken
//! (to list an instance's devices), never the reverse.

use crate::{
    bus::{Allowance, CardKind, DevName, EniSpec, Tag, VolumeKind, VolumeSpec},
    controller::Controller,
    kapi,
    lifecycle::{self, InstanceOp, InstanceState, InstanceType, Step, INSTANCE_TYPES},
    registry::{self, Attach, Obj},
    state::{Op, State},
    uapi,
};
use kernel::{
    fs::File,
    new_condvar, new_mutex,
    prelude::*,
    rbtree::RBTree,
    sync::{aref::ARef, CondVar, CondVarTimeoutResult, Mutex},
    time::{msecs_to_jiffies, Instant, Monotonic},
};

/// Most instances, terminated ones not counted.
pub(crate) const MAX: usize = uapi::NITRO_INSTANCES_MAX as usize;
/// Terminated instances kept listable.
const KEPT: usize = uapi::NITRO_TERMINATED_KEPT as usize;
/// How long a stopping instance has to end by itself, by default.
pub(crate) const GRACE_MS: u32 = 5000;
/// How long a caller waits for the hypervisor to carry out a device or
/// console command.
const COMMAND_TIMEOUT_MS: u32 = 30_000;

/// Why an instance is in its state (`enum nitro_instance_reason`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub(crate) enum Reason {
    User = uapi::NITRO_REASON_USER,
    LaunchFailed = uapi::NITRO_REASON_LAUNCH_FAILED,
    InstanceShutdown = uapi::NITRO_REASON_INSTANCE_SHUTDOWN,
    HypervisorLost = uapi::NITRO_REASON_HYPERVISOR_LOST,
}

/// The cgroup files an instance's metrics are read from, handed over by its
/// hypervisor when it started.
#[derive(Clone)]
pub(crate) struct Stats {
    pub(crate) cpu: ARef<File>,
    pub(crate) memory: ARef<File>,
    pub(crate) peak: ARef<File>,
}

/// One instance.
struct Instance {
    id: u64,
    name: Tag,
    /// Index of its type in [`INSTANCE_TYPES`].
    kind: usize,
    host: u32,
    /// Its place among the live instances (its uid derives from it).
    slot: u32,
    state: InstanceState,
    reason: Reason,
    /// The errno of its hypervisor's last failed command (0: none).
    error: i32,
    /// The launch command: argv, NUL-separated.
    command: KVVec<u8>,
    launch_ns: u64,
    state_ns: u64,
    running_since: Option<Instant<Monotonic>>,
    pid: u32,
    stats: Option<Stats>,
    /// A device is being attached or detached: other changes wait.
    busy: bool,
}

impl Instance {
    fn ty(&self) -> &'static InstanceType {
        &INSTANCE_TYPES[self.kind]
    }

    fn set_state(&mut self, state: InstanceState, reason: Reason) {
        self.state = state;
        self.reason = reason;
        self.state_ns = kapi::realtime_ns();
    }
}

/// A command for a hypervisor.
pub(crate) struct Command {
    pub(crate) seq: u64,
    pub(crate) op: u32,
    pub(crate) instance: u64,
    pub(crate) slot: u32,
    pub(crate) vcpus: u32,
    pub(crate) pids: u32,
    pub(crate) memory_bytes: u64,
    pub(crate) grace_ms: u32,
    pub(crate) devices: KVec<uapi::nitro_hv_device>,
    pub(crate) args: KVec<u8>,
    /// A caller waits for its outcome (device and console commands).
    waited: bool,
}

/// A hypervisor: the open file that registered for a host, and its
/// commands.
struct Hypervisor {
    host: u32,
    /// The open file's token (see `nitro_ctrl.rs`).
    file: u64,
    queue: KVec<Command>,
    /// Given out by `NEXT`, not yet `DONE`.
    inflight: KVec<(u64, u32, u64, bool)>,
}

/// The result of a command someone waits for.
struct Outcome {
    seq: u64,
    error: i32,
    data: KVVec<u8>,
}

/// What the instances' lock protects.
struct Table {
    live: RBTree<u64, Instance>,
    names: RBTree<Tag, u64>,
    /// The last terminated instances, oldest first once full.
    terminated: KVec<uapi::nitro_instance_info>,
    /// Where the next terminated instance goes once the ring is full.
    terminated_next: usize,
    /// Slots in use, one bit each.
    slots: [u64; MAX / 64],
    hypervisors: KVec<Hypervisor>,
    outcomes: KVec<Outcome>,
    next_seq: u64,
}

impl Table {
    /// A live instance. A terminated one still kept in the ring is
    /// `EINVAL` (no request changes it: abi.rst), an unknown one `ENOENT`.
    fn get(&mut self, id: u64) -> Result<&mut Instance> {
        if self.live.get(&id).is_none() {
            return Err(if self.terminated_info(id).is_some() {
                EINVAL
            } else {
                ENOENT
            });
        }
        self.live.get_mut(&id).ok_or(ENOENT)
    }

    fn hypervisor(&mut self, host: u32) -> Option<&mut Hypervisor> {
        self.hypervisors.iter_mut().find(|h| h.host == host)
    }

    fn hypervisor_of(&mut self, file: u64) -> Result<&mut Hypervisor> {
        self.hypervisors
            .iter_mut()
            .find(|h| h.file == file)
            .ok_or(EINVAL)
    }

    fn alloc_slot(&mut self) -> Result<u32> {
        for (w, word) in self.slots.iter_mut().enumerate() {
            if *word != u64::MAX {
                let bit = (!*word).trailing_zeros();
                *word |= 1 << bit;
                return Ok(w as u32 * 64 + bit);
            }
        }
        Err(ENOSPC)
    }

    fn free_slot(&mut self, slot: u32) {
        if let Some(word) = self.slots.get_mut(slot as usize / 64) {
            *word &= !(1u64 << (slot % 64));
        }
    }

    /// Queues `cmd` for the hypervisor of `host`; gives its number.
    fn queue(&mut self, host: u32, mut cmd: Command) -> Result<u64> {
        let seq = self.next_seq;
        cmd.seq = seq;
        let hv = self.hypervisor(host).ok_or(ENODEV)?;
        hv.queue.push(cmd, GFP_KERNEL)?;
        self.next_seq += 1;
        Ok(seq)
    }

    fn terminated_info(&self, id: u64) -> Option<&uapi::nitro_instance_info> {
        self.terminated.iter().find(|i| i.id == id)
    }

    /// Records a terminated instance in the ring.
    fn remember(&mut self, info: uapi::nitro_instance_info) {
        if self.terminated.len() < KEPT {
            // Room was reserved at creation: this does not allocate.
            let _ = self.terminated.push(info, GFP_ATOMIC);
        } else if let Some(slot) = self.terminated.get_mut(self.terminated_next) {
            *slot = info;
            self.terminated_next = (self.terminated_next + 1) % KEPT;
        }
    }
}

/// The instances of the host.
#[pin_data]
pub(crate) struct Instances {
    #[pin]
    table: Mutex<Table>,
    /// Notified on every change of an instance's state, every command
    /// queued and every outcome recorded.
    #[pin]
    changed: CondVar,
}

/// What the user asks to launch.
pub(crate) struct NewInstance {
    pub(crate) type_name: Tag,
    pub(crate) name: Tag,
    pub(crate) host: u32,
    pub(crate) command: KVVec<u8>,
    pub(crate) start: bool,
}

/// An instance as describe and list report it.
pub(crate) type Info = uapi::nitro_instance_info;

impl Instances {
    /// No instances, no hypervisor.
    pub(crate) fn new() -> Result<impl PinInit<Self>> {
        let terminated = KVec::with_capacity(KEPT, GFP_KERNEL)?;
        Ok(pin_init!(Self {
            table <- new_mutex!(
                Table {
                    live: RBTree::new(),
                    names: RBTree::new(),
                    terminated,
                    terminated_next: 0,
                    slots: [0; MAX / 64],
                    hypervisors: KVec::new(),
                    outcomes: KVec::new(),
                    next_seq: 1,
                },
                "nitro_ctrl::instances"
            ),
            changed <- new_condvar!("nitro_ctrl::instances::changed"),
        }))
    }

    /// Takes the lock and lets it go (see `controller::lockdep_probe`).
    pub(crate) fn touch_locks(&self) {
        drop(self.table.lock());
    }
}

/// The devices attached to instance `id`, as the hypervisor is told of
/// them (from the registry).
fn devices_of(ctrl: &Controller, id: u64) -> Result<KVec<uapi::nitro_hv_device>> {
    let mut out = KVec::new();
    for o in registry::attached_to::<VolumeSpec>(&ctrl.registry, id)?.iter() {
        out.push(disk_device(o), GFP_KERNEL)?;
    }
    for o in registry::attached_to::<EniSpec>(&ctrl.registry, id)?.iter() {
        out.push(nic_device(o), GFP_KERNEL)?;
    }
    Ok(out)
}

/// A volume attached to an instance, for its hypervisor.
fn disk_device(o: &Obj<VolumeSpec>) -> uapi::nitro_hv_device {
    let mut d = uapi::nitro_hv_device {
        kind: uapi::NITRO_HV_DISK,
        major: o.disk.0,
        minor: o.disk.1,
        device: *o.device.raw(),
        ..Default::default()
    };
    let model: &[u8] = match o.spec.kind {
        VolumeKind::Ebs => b"nvme-Amazon_Elastic_Block_Store_vol",
        VolumeKind::Instance => b"nvme-Amazon_EC2_NVMe_Instance_Storage_vol",
    };
    let mut id = [0u8; 21];
    crate::state::format_id(b"vol-", o.spec.id, &mut id);
    let n = model.len();
    d.by_id[..n].copy_from_slice(model);
    d.by_id[n..n + 17].copy_from_slice(&id[4..]);
    d
}

/// An ENI attached to an instance, for its hypervisor.
fn nic_device(o: &Obj<EniSpec>) -> uapi::nitro_hv_device {
    uapi::nitro_hv_device {
        kind: uapi::NITRO_HV_NIC,
        index: nic_index(&o.device).unwrap_or(0),
        device: *o.host_name.raw(),
        mac: o.spec.mac,
        ipv4: o.spec.ipv4,
        ..Default::default()
    }
}

/// The index of an instance's interface name `eth<index>`.
fn nic_index(name: &DevName) -> Option<u32> {
    let digits = name.as_bytes().strip_prefix(b"eth")?;
    let s = core::str::from_utf8(digits).ok()?;
    s.parse().ok()
}

/// A START command for instance `inst`, with `devices`.
fn start_command(inst: &Instance, devices: KVec<uapi::nitro_hv_device>) -> Result<Command> {
    let mut args = KVec::with_capacity(inst.command.len(), GFP_KERNEL)?;
    args.extend_from_slice(&inst.command, GFP_KERNEL)?;
    let ty = inst.ty();
    Ok(Command {
        seq: 0,
        op: uapi::NITRO_HV_START,
        instance: inst.id,
        slot: inst.slot,
        vcpus: ty.vcpus,
        pids: ty.pids,
        memory_bytes: ty.memory_bytes,
        grace_ms: 0,
        devices,
        args,
        waited: false,
    })
}

/// A command for instance `inst` without arguments.
fn simple_command(inst: &Instance, op: u32, grace_ms: u32, waited: bool) -> Command {
    Command {
        seq: 0,
        op,
        instance: inst.id,
        slot: inst.slot,
        vcpus: 0,
        pids: 0,
        memory_bytes: 0,
        grace_ms,
        devices: KVec::new(),
        args: KVec::new(),
        waited,
    }
}

/// Creates an instance (stopped), and starts it if asked. Gives its id.
pub(crate) fn create(ctrl: &Controller, new: NewInstance) -> Result<u64> {
    ctrl.gate.check("an instance launch")?;
    let (kind, ty) = lifecycle::instance_type(new.type_name.as_bytes()).ok_or(EINVAL)?;
    // The host must exist on the VPC card.
    ctrl.bus.card_for(CardKind::Vpc)?.host_info(new.host)?;
    let id = {
        let mut t = ctrl.instances.table.lock();
        if !new.name.is_empty() && t.names.get(&new.name).is_some() {
            return Err(EEXIST);
        }
        if t.live.iter().count() >= MAX {
            return Err(ENOSPC);
        }
        let id = loop {
            let id = kapi::random_u64();
            if id != 0 && t.live.get(&id).is_none() && t.terminated_info(id).is_none() {
                break id;
            }
        };
        let slot = t.alloc_slot()?;
        let now = kapi::realtime_ns();
        let inst = Instance {
            id,
            name: new.name,
            kind,
            host: new.host,
            slot,
            state: InstanceState::Stopped,
            reason: Reason::User,
            error: 0,
            command: new.command,
            launch_ns: 0,
            state_ns: now,
            running_since: None,
            pid: 0,
            stats: None,
            // Until the instance store is attached.
            busy: true,
        };
        if let Err(e) = t.live.try_create_and_insert(id, inst, GFP_KERNEL) {
            t.free_slot(slot);
            return Err(e);
        }
        if !new.name.is_empty() {
            if let Err(e) = t.names.try_create_and_insert(new.name, id, GFP_KERNEL) {
                drop(t);
                forget(ctrl, id);
                return Err(e);
            }
        }
        id
    };
    let made = (|| -> Result {
        if ty.instance_store_bytes > 0 {
            let vol = registry::create(
                ctrl,
                VolumeSpec {
                    id: 0,
                    kind: VolumeKind::Instance,
                    size_bytes: ty.instance_store_bytes,
                    block_size: 4096,
                    name: Tag::EMPTY,
                    backing_fd: 0,
                    wrapped_key: [0; crate::bus::WRAPPED_KEY_LEN],
                },
            )?;
            let att = Attach {
                device: DevName::new(lifecycle::INSTANCE_STORE_DEVICE.as_bytes()).ok_or(EINVAL)?,
                instance: id,
                flags: uapi::NITRO_ATTACH_DELETE_ON_TERMINATION,
                allowance: Allowance::UNSET,
            };
            if let Err(e) = registry::change::<VolumeSpec>(ctrl, vol, Op::Attach, att) {
                let _ = registry::change::<VolumeSpec>(ctrl, vol, Op::Delete, Attach::NONE);
                return Err(e);
            }
        }
        Ok(())
    })();
    {
        let mut t = ctrl.instances.table.lock();
        if let Ok(i) = t.get(id) {
            i.busy = false;
        }
    }
    if let Err(e) = made {
        let _ = finish_terminate(ctrl, id);
        return Err(e);
    }
    pr_info!("i-{:017x} created ({}, host {})\n", id, ty.name, new.host);
    if new.start {
        if let Err(e) = start(ctrl, id) {
            // Run is all or nothing: nothing is left of a launch that failed.
            let _ = finish_terminate(ctrl, id);
            return Err(e);
        }
    }
    Ok(id)
}

/// Takes a just-made instance out of the table again.
fn forget(ctrl: &Controller, id: u64) {
    let mut t = ctrl.instances.table.lock();
    if let Some(inst) = t.live.remove(&id) {
        if !inst.name.is_empty() {
            t.names.remove(&inst.name);
        }
        t.free_slot(inst.slot);
    }
}

/// Maps a refused transition to its errno.
fn refusal(r: lifecycle::Refused) -> Error {
    match r {
        lifecycle::Refused::Busy => EBUSY,
        lifecycle::Refused::Invalid => EINVAL,
    }
}

/// `start`: stopped -> pending, the hypervisor asked to start it. Gives the
/// state the request leaves the instance in.
pub(crate) fn start(ctrl: &Controller, id: u64) -> Result<InstanceState> {
    ctrl.gate.check("an instance start")?;
    let mut t = ctrl.instances.table.lock();
    let inst = t.get(id)?;
    match lifecycle::step(inst.state, InstanceOp::Start).map_err(refusal)? {
        Step::Start(next) => {
            if inst.busy {
                return Err(EBUSY);
            }
            let host = inst.host;
            // The registry's locks nest inside this one (never the reverse).
            let devices = devices_of(ctrl, id)?;
            let inst = t.get(id)?;
            let cmd = start_command(inst, devices)?;
            if t.hypervisor(host).is_none() {
                pr_warn!("i-{:017x}: no hypervisor for host {}\n", id, host);
                return Err(ENODEV);
            }
            t.queue(host, cmd)?;
            let inst = t.get(id)?;
            inst.set_state(next, Reason::User);
            inst.error = 0;
            ctrl.instances.changed.notify_all();
            Ok(next)
        }
        _ => Ok(inst.state),
    }
}

/// `stop`: pending or running -> stopping, the hypervisor asked to end its
/// processes (at once with `force`).
pub(crate) fn stop(ctrl: &Controller, id: u64, force: bool) -> Result<InstanceState> {
    let mut t = ctrl.instances.table.lock();
    let inst = t.get(id)?;
    match lifecycle::step(inst.state, InstanceOp::Stop).map_err(refusal)? {
        Step::Stop(next) => {
            if inst.busy {
                return Err(EBUSY);
            }
            let grace = if force { 0 } else { GRACE_MS };
            let cmd = simple_command(inst, uapi::NITRO_HV_STOP, grace, false);
            let host = inst.host;
            t.queue(host, cmd)?;
            t.get(id)?.set_state(next, Reason::User);
            ctrl.instances.changed.notify_all();
            Ok(next)
        }
        _ => Ok(inst.state),
    }
}

/// `terminate`: the instance's processes end (if it has any), then its
/// devices are detached, those flagged delete-on-termination deleted.
pub(crate) fn terminate(ctrl: &Controller, id: u64) -> Result<InstanceState> {
    let now = {
        let mut t = ctrl.instances.table.lock();
        if t.live.get(&id).is_none() && t.terminated_info(id).is_some() {
            // Terminate of a terminated instance: no change, success.
            return Ok(InstanceState::Terminated);
        }
        let inst = t.get(id)?;
        if inst.busy {
            return Err(EBUSY);
        }
        match lifecycle::step(inst.state, InstanceOp::Terminate).map_err(refusal)? {
            Step::Stop(next) => {
                let cmd = simple_command(inst, uapi::NITRO_HV_STOP, GRACE_MS, false);
                let host = inst.host;
                t.queue(host, cmd)?;
                t.get(id)?.set_state(next, Reason::User);
                ctrl.instances.changed.notify_all();
                return Ok(next);
            }
            Step::Redirect(next) => {
                // Its STOP is on its way; when it is done, it terminates.
                inst.set_state(next, Reason::User);
                ctrl.instances.changed.notify_all();
                return Ok(next);
            }
            Step::TerminateNow => {
                inst.set_state(InstanceState::ShuttingDown, Reason::User);
                inst.busy = true;
                true
            }
            _ => return Ok(inst.state),
        }
    };
    if now {
        finish_terminate(ctrl, id)?;
    }
    Ok(InstanceState::Terminated)
}

/// The last of terminate, once the instance has no processes: its devices
/// go (detached; deleted if so flagged) and it moves to the ring.
///
/// It allocates nothing before the instance is gone: it walks the devices
/// one at a time (no list of them is made), so that a terminate cannot
/// fail half-way and leave the instance shutting down, busy, for ever.
fn finish_terminate(ctrl: &Controller, id: u64) -> Result {
    let mut after = 0;
    while let Some(o) = registry::next_attached_to::<VolumeSpec>(&ctrl.registry, id, after) {
        let vol = o.spec.id;
        after = vol;
        if registry::change::<VolumeSpec>(ctrl, vol, Op::Detach, Attach::NONE).is_ok()
            && o.flags & uapi::NITRO_ATTACH_DELETE_ON_TERMINATION != 0
        {
            let _ = registry::change::<VolumeSpec>(ctrl, vol, Op::Delete, Attach::NONE);
        }
    }
    let mut after = 0;
    while let Some(o) = registry::next_attached_to::<EniSpec>(&ctrl.registry, id, after) {
        let eni = o.spec.id;
        after = eni;
        if registry::change::<EniSpec>(ctrl, eni, Op::Detach, Attach::NONE).is_ok()
            && o.flags & uapi::NITRO_ATTACH_DELETE_ON_TERMINATION != 0
        {
            let _ = registry::change::<EniSpec>(ctrl, eni, Op::Delete, Attach::NONE);
        }
    }
    let mut t = ctrl.instances.table.lock();
    let Some(mut inst) = t.live.remove(&id) else {
        return Ok(());
    };
    if !inst.name.is_empty() {
        t.names.remove(&inst.name);
    }
    t.free_slot(inst.slot);
    inst.set_state(InstanceState::Terminated, inst.reason);
    inst.stats = None;
    inst.running_since = None;
    inst.pid = 0;
    let info = info_of(&inst, 0, 0);
    t.remember(info);
    ctrl.instances.changed.notify_all();
    drop(t);
    pr_info!("i-{:017x} terminated\n", id);
    Ok(())
}

/// The instance's processes are gone (its STOP done, its init exited, or
/// its hypervisor gone): it stops, its instance store is wiped; or it
/// terminates, if that was asked.
///
/// A stopping instance stays `stopping` until its instance store is
/// wiped: only then is it seen stopped (and can it be started or given
/// devices). A terminate that comes meanwhile is carried out after the
/// wipe. The walk over its volumes allocates nothing, so no allocation
/// failure can skip a wipe.
fn ended(ctrl: &Controller, id: u64, reason: Reason) {
    {
        let mut t = ctrl.instances.table.lock();
        let Ok(inst) = t.get(id) else { return };
        inst.stats = None;
        inst.running_since = None;
        inst.pid = 0;
        if lifecycle::ended(inst.state) == InstanceState::Terminated {
            inst.busy = true;
            drop(t);
            let _ = finish_terminate(ctrl, id);
            return;
        }
        if inst.state != InstanceState::Stopping {
            inst.set_state(InstanceState::Stopping, reason);
            ctrl.instances.changed.notify_all();
        }
    }
    // EC2: instance storage does not survive a stop. The card gives the
    // volume a new key (and zeroes its edges): nothing of the old data can
    // be read again.
    let mut after = 0;
    while let Some(o) = registry::next_attached_to::<VolumeSpec>(&ctrl.registry, id, after) {
        after = o.spec.id;
        if o.spec.kind != VolumeKind::Instance {
            continue;
        }
        if let Err(e) = registry::wipe(ctrl, o.spec.id) {
            pr_err!(
                "i-{:017x}: instance store vol-{:017x} not wiped ({:?})\n",
                id,
                o.spec.id,
                e
            );
        }
    }
    let mut t = ctrl.instances.table.lock();
    let Ok(inst) = t.get(id) else { return };
    match inst.state {
        InstanceState::Stopping => {
            inst.set_state(InstanceState::Stopped, reason);
            ctrl.instances.changed.notify_all();
            drop(t);
            pr_info!("i-{:017x} stopped\n", id);
        }
        InstanceState::ShuttingDown => {
            // Terminated while its store was wiped (`terminate`'s
            // redirect): its processes are gone already.
            inst.busy = true;
            drop(t);
            let _ = finish_terminate(ctrl, id);
        }
        _ => {}
    }
}

/// Waits (interruptibly, at most `timeout_ms`, 0 for ever) until instance
/// `id` is in one of `states` (bits); gives the state it is in.
pub(crate) fn wait(ctrl: &Controller, id: u64, states: u32, timeout_ms: u32) -> Result<u32> {
    let mut left = if timeout_ms == 0 {
        None
    } else {
        Some(msecs_to_jiffies(timeout_ms))
    };
    let mut t = ctrl.instances.table.lock();
    loop {
        let state = match t.live.get(&id) {
            Some(i) => i.state,
            None => match t.terminated_info(id) {
                Some(_) => InstanceState::Terminated,
                None => return Err(ENOENT),
            },
        };
        if states & state.bit() != 0 {
            return Ok(state as u32);
        }
        match left {
            None => {
                if ctrl.instances.changed.wait_interruptible(&mut t) {
                    return Err(ERESTARTSYS);
                }
            }
            Some(j) => match ctrl.instances.changed.wait_interruptible_timeout(&mut t, j) {
                CondVarTimeoutResult::Timeout => return Err(ETIMEDOUT),
                CondVarTimeoutResult::Signal { .. } => return Err(ERESTARTSYS),
                CondVarTimeoutResult::Woken { jiffies } => left = Some(jiffies),
            },
        }
    }
}

/// Sends instance `id`'s hypervisor a command made by `make` (given the
/// instance, under the lock) and waits for its outcome: the errno it
/// reported (0) and the data it gave.
fn command_and_wait(
    ctrl: &Controller,
    id: u64,
    make: impl FnOnce(&Instance) -> Result<Command>,
) -> Result<KVVec<u8>> {
    let mut t = ctrl.instances.table.lock();
    let inst = t.get(id)?;
    let host = inst.host;
    let cmd = make(inst)?;
    let seq = t.queue(host, cmd)?;
    ctrl.instances.changed.notify_all();
    let mut left = msecs_to_jiffies(COMMAND_TIMEOUT_MS);
    loop {
        if let Some(pos) = t.outcomes.iter().position(|o| o.seq == seq) {
            let o = t.outcomes.remove(pos)?;
            return match o.error {
                0 => Ok(o.data),
                e => Err(Error::from_errno(-e.abs())),
            };
        }
        match ctrl
            .instances
            .changed
            .wait_interruptible_timeout(&mut t, left)
        {
            CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
            // A command given up is not taken back: if the hypervisor
            // carries it out later, its outcome is dropped (see `done`).
            CondVarTimeoutResult::Timeout => return Err(ETIMEDOUT),
            CondVarTimeoutResult::Signal { .. } => return Err(EINTR),
        }
    }
}

/// Marks instance `id` busy with a device while it is running or stopped;
/// gives whether it is running, the host, and its type.
fn begin_device(ctrl: &Controller, id: u64) -> Result<(bool, u32, &'static InstanceType)> {
    let mut t = ctrl.instances.table.lock();
    let inst = t.get(id)?;
    if inst.busy {
        return Err(EBUSY);
    }
    let running = match inst.state {
        InstanceState::Running => true,
        InstanceState::Stopped => false,
        InstanceState::ShuttingDown | InstanceState::Terminated => return Err(EINVAL),
        _ => return Err(EBUSY),
    };
    inst.busy = true;
    Ok((running, inst.host, inst.ty()))
}

/// Ends a device change on instance `id`.
fn end_device(ctrl: &Controller, id: u64) {
    let mut t = ctrl.instances.table.lock();
    if let Ok(inst) = t.get(id) {
        inst.busy = false;
    }
    ctrl.instances.changed.notify_all();
}

/// Attaches volume or ENI `id` to `instance`: the card attaches it, then,
/// if the instance runs, its hypervisor makes the device inside (a disk
/// named `device`; a NIC moved in as `eth<index>`). Gives the name used.
pub(crate) fn attach<S: Device>(
    ctrl: &Controller,
    id: u64,
    instance: u64,
    device: DevName,
    index: u32,
    flags: u32,
) -> Result<DevName> {
    let o = registry::describe::<S>(&ctrl.registry, id)?;
    let (running, host, ty) = begin_device(ctrl, instance)?;
    let r = (|| -> Result<DevName> {
        S::check_attach(&o, host, ty, index)?;
        let attached = registry::attached_to::<S>(&ctrl.registry, instance)?;
        if attached.len() >= S::max_per_instance(ty) {
            return Err(ENOSPC);
        }
        let att = Attach {
            device: S::name_in_instance(device, index)?,
            instance,
            flags,
            // An ENI's allowances default to its instance type's.
            allowance: Allowance {
                bw_in_bps: ty.bw_bps,
                bw_out_bps: ty.bw_bps,
                pps: ty.pps,
            },
        };
        let used = registry::change::<S>(ctrl, id, Op::Attach, att)?;
        if running {
            let o = registry::describe::<S>(&ctrl.registry, id)?;
            let d = S::hv_device(&o);
            let sent =
                command_and_wait(ctrl, instance, |inst| device_command(inst, S::HV_ATTACH, d));
            if let Err(e) = sent {
                let _ = registry::change::<S>(ctrl, id, Op::Detach, Attach::NONE);
                return Err(e);
            }
        }
        Ok(used)
    })();
    end_device(ctrl, instance);
    r
}

/// What an instance needs of the kinds of object it can have.
pub(crate) trait Device: registry::Spec {
    /// The hypervisor commands that make the device in an instance and
    /// take it out.
    const HV_ATTACH: u32;
    const HV_DETACH: u32;
    /// The object as the hypervisor is told of it.
    fn hv_device(o: &Obj<Self>) -> uapi::nitro_hv_device;
    /// Whether `o` may be attached to an instance on `host` of type `ty`
    /// (as device index `index`, for an ENI).
    fn check_attach(o: &Obj<Self>, host: u32, ty: &InstanceType, index: u32) -> Result;
    /// How many of this kind an instance of type `ty` may have.
    fn max_per_instance(ty: &InstanceType) -> usize;
    /// The device's name in the instance: `device` for a volume,
    /// `eth<index>` for an ENI.
    fn name_in_instance(device: DevName, index: u32) -> Result<DevName>;
    /// Whether it may be detached from its instance (instance storage
    /// goes with the instance only).
    fn detachable(o: &Obj<Self>) -> bool;
}

impl Device for VolumeSpec {
    const HV_ATTACH: u32 = uapi::NITRO_HV_ATTACH_DISK;
    const HV_DETACH: u32 = uapi::NITRO_HV_DETACH_DISK;
    fn hv_device(o: &Obj<Self>) -> uapi::nitro_hv_device {
        disk_device(o)
    }
    fn check_attach(o: &Obj<Self>, _host: u32, _ty: &InstanceType, _index: u32) -> Result {
        // Instance storage comes with the instance type.
        if o.spec.kind != VolumeKind::Ebs {
            return Err(EINVAL);
        }
        Ok(())
    }
    fn max_per_instance(ty: &InstanceType) -> usize {
        ty.max_volumes as usize
    }
    fn name_in_instance(device: DevName, _index: u32) -> Result<DevName> {
        Ok(device)
    }
    fn detachable(o: &Obj<Self>) -> bool {
        o.spec.kind == VolumeKind::Ebs
    }
}

impl Device for EniSpec {
    const HV_ATTACH: u32 = uapi::NITRO_HV_ATTACH_NIC;
    const HV_DETACH: u32 = uapi::NITRO_HV_DETACH_NIC;
    fn hv_device(o: &Obj<Self>) -> uapi::nitro_hv_device {
        nic_device(o)
    }
    fn check_attach(o: &Obj<Self>, host: u32, ty: &InstanceType, index: u32) -> Result {
        // An ENI serves instances on its own host, at an index the type has.
        if o.spec.host != host || index >= ty.max_enis {
            return Err(EINVAL);
        }
        Ok(())
    }
    fn max_per_instance(ty: &InstanceType) -> usize {
        ty.max_enis as usize
    }
    fn name_in_instance(_device: DevName, index: u32) -> Result<DevName> {
        let mut name = [0u8; 16];
        let n = lifecycle::nic_name(index, &mut name);
        DevName::new(&name[..n]).ok_or(EINVAL)
    }
    fn detachable(_o: &Obj<Self>) -> bool {
        true
    }
}

/// Detaches volume or ENI `o` (id `id`) from its instance: if the instance
/// runs, its hypervisor takes the device out first; then the card detaches
/// it.
pub(crate) fn detach<S: Device>(ctrl: &Controller, id: u64, o: &Obj<S>) -> Result {
    if o.state != State::Attached {
        return Err(EBUSY);
    }
    if !S::detachable(o) {
        return Err(EINVAL);
    }
    let instance = o.instance;
    let device = S::hv_device(o);
    let (running, _, _) = begin_device(ctrl, instance)?;
    let r = (|| -> Result {
        if running {
            command_and_wait(ctrl, instance, |inst| {
                device_command(inst, S::HV_DETACH, device)
            })?;
        }
        registry::change::<S>(ctrl, id, Op::Detach, Attach::NONE)?;
        Ok(())
    })();
    end_device(ctrl, instance);
    r
}

/// A device command for `inst`.
fn device_command(inst: &Instance, op: u32, d: uapi::nitro_hv_device) -> Result<Command> {
    let mut cmd = simple_command(inst, op, 0, true);
    cmd.devices.push(d, GFP_KERNEL)?;
    Ok(cmd)
}

/// `console`: the instance's output, as its hypervisor keeps it.
pub(crate) fn console(ctrl: &Controller, id: u64) -> Result<KVVec<u8>> {
    command_and_wait(ctrl, id, |inst| {
        Ok(simple_command(inst, uapi::NITRO_HV_CONSOLE, 0, true))
    })
}

/// Reads the first number after `key` in the text of `file` (a cgroup
/// file: "usage_usec 1234" lines, or a bare number).
fn read_stat(file: &File, key: Option<&[u8]>) -> u64 {
    let mut buf = [0u8; 512];
    let Ok(n) = kapi::read_file(file, &mut buf) else {
        return 0;
    };
    let text = &buf[..n];
    let rest = match key {
        None => text,
        Some(k) => {
            let Some(at) = text.windows(k.len()).position(|w| w == k) else {
                return 0;
            };
            &text[at + k.len()..]
        }
    };
    let digits = rest
        .iter()
        .skip_while(|b| !b.is_ascii_digit())
        .take_while(|b| b.is_ascii_digit());
    digits.fold(0u64, |v, d| {
        v.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    })
}

/// An instance's info, its device counts given.
fn info_of(inst: &Instance, volumes: u32, enis: u32) -> Info {
    let ty = inst.ty();
    let mut i = Info {
        id: inst.id,
        state: inst.state as u32,
        reason: inst.reason as u32,
        host: inst.host,
        error: inst.error,
        vcpus: ty.vcpus,
        volumes,
        enis,
        pid: inst.pid,
        memory_bytes: ty.memory_bytes,
        launch_time_ns: inst.launch_ns,
        state_time_ns: inst.state_ns,
        uptime_ns: inst
            .running_since
            .map_or(0, |s| u64::try_from(s.elapsed().as_nanos()).unwrap_or(0)),
        ..Default::default()
    };
    crate::abi_rules::fill_name(&mut i.type_, ty.name);
    crate::abi_rules::fill_name(&mut i.name, inst.name.as_str());
    i
}

/// Instance `id` as describe reports it (its cgroup read now, with no lock
/// held).
pub(crate) fn describe(ctrl: &Controller, id: u64) -> Result<Info> {
    let volumes = registry::attached_to::<VolumeSpec>(&ctrl.registry, id)?.len() as u32;
    let enis = registry::attached_to::<EniSpec>(&ctrl.registry, id)?.len() as u32;
    let (mut info, stats) = {
        let t = ctrl.instances.table.lock();
        match t.live.get(&id) {
            Some(inst) => (info_of(inst, volumes, enis), inst.stats.clone()),
            None => (*t.terminated_info(id).ok_or(ENOENT)?, None),
        }
    };
    if let Some(s) = stats {
        info.cpu_usec = read_stat(&s.cpu, Some(b"usage_usec"));
        info.memory_current = read_stat(&s.memory, None);
        info.memory_peak = read_stat(&s.peak, None);
    }
    Ok(info)
}

/// Up to `cap` instance ids above `after` (live and terminated), in id
/// order, and whether more follow.
pub(crate) fn list_ids(ctrl: &Controller, after: u64, cap: usize) -> Result<(KVVec<u64>, bool)> {
    let mut ids = KVVec::new();
    {
        let t = ctrl.instances.table.lock();
        ids.reserve(t.live.iter().count() + t.terminated.len(), GFP_KERNEL)?;
        for (id, _) in t.live.iter() {
            ids.push(*id, GFP_KERNEL)?;
        }
        for i in t.terminated.iter() {
            ids.push(i.id, GFP_KERNEL)?;
        }
    }
    ids.sort_unstable();
    let start = ids.partition_point(|id| *id <= after);
    let mut out = KVVec::with_capacity(cap.min(ids.len() - start), GFP_KERNEL)?;
    for id in ids.iter().skip(start).take(cap) {
        out.push(*id, GFP_KERNEL)?;
    }
    let more = start + out.len() < ids.len();
    Ok((out, more))
}

/// `HV_REGISTER`: the open file `file` becomes the hypervisor of `host`.
pub(crate) fn hv_register(ctrl: &Controller, file: u64, host: u32) -> Result {
    ctrl.bus.card_for(CardKind::Vpc)?.host_info(host)?;
    let mut t = ctrl.instances.table.lock();
    if t.hypervisors
        .iter()
        .any(|h| h.host == host || h.file == file)
    {
        return Err(EBUSY);
    }
    t.hypervisors.push(
        Hypervisor {
            host,
            file,
            queue: KVec::new(),
            inflight: KVec::new(),
        },
        GFP_KERNEL,
    )?;
    drop(t);
    pr_info!("hypervisor of host {} registered\n", host);
    Ok(())
}

/// `HV_NEXT`: takes the reports (instances whose init exited), then waits
/// for the next command of hypervisor `file` and gives it.
pub(crate) fn hv_next(
    ctrl: &Controller,
    file: u64,
    exited: &[u64],
    timeout_ms: u32,
) -> Result<Command> {
    let mut gone = KVec::new();
    {
        let mut t = ctrl.instances.table.lock();
        let host = t.hypervisor_of(file)?.host;
        for id in exited {
            if let Ok(inst) = t.get(*id) {
                if inst.host == host && inst.state == InstanceState::Running {
                    // It shut itself down: nothing left for the hypervisor.
                    inst.set_state(InstanceState::Stopping, Reason::InstanceShutdown);
                    gone.push(*id, GFP_KERNEL)?;
                }
            }
        }
    }
    for id in gone.iter() {
        ended(ctrl, *id, Reason::InstanceShutdown);
    }
    let mut left = if timeout_ms == 0 {
        None
    } else {
        Some(msecs_to_jiffies(timeout_ms))
    };
    let mut t = ctrl.instances.table.lock();
    loop {
        let hv = t.hypervisor_of(file)?;
        if !hv.queue.is_empty() {
            let cmd = hv.queue.remove(0)?;
            hv.inflight
                .push((cmd.seq, cmd.op, cmd.instance, cmd.waited), GFP_KERNEL)?;
            return Ok(cmd);
        }
        match left {
            None => {
                if ctrl.instances.changed.wait_interruptible(&mut t) {
                    return Err(ERESTARTSYS);
                }
            }
            Some(j) => match ctrl.instances.changed.wait_interruptible_timeout(&mut t, j) {
                CondVarTimeoutResult::Timeout => return Err(ETIMEDOUT),
                CondVarTimeoutResult::Signal { .. } => return Err(ERESTARTSYS),
                CondVarTimeoutResult::Woken { jiffies } => left = Some(jiffies),
            },
        }
    }
}

/// What a hypervisor reports in `HV_DONE`.
pub(crate) struct Done {
    pub(crate) seq: u64,
    /// 0 or a positive errno.
    pub(crate) error: i32,
    pub(crate) pid: u32,
    pub(crate) stats: Option<Stats>,
    pub(crate) data: KVVec<u8>,
}

/// `HV_DONE`: the result of command `seq` of hypervisor `file`; the
/// transition it was for is completed here.
pub(crate) fn hv_done(ctrl: &Controller, file: u64, done: Done) -> Result {
    let (op, instance) = {
        let mut t = ctrl.instances.table.lock();
        let hv = t.hypervisor_of(file)?;
        let pos = hv
            .inflight
            .iter()
            .position(|c| c.0 == done.seq)
            .ok_or(EINVAL)?;
        let (seq, op, instance, waited) = hv.inflight.remove(pos)?;
        if waited {
            t.outcomes.push(
                Outcome {
                    seq,
                    error: done.error,
                    data: done.data,
                },
                GFP_KERNEL,
            )?;
        }
        if op == uapi::NITRO_HV_START {
            if let Ok(inst) = t.get(instance) {
                let ok = done.error == 0;
                let next = lifecycle::started(inst.state, ok);
                if ok {
                    inst.pid = done.pid;
                    inst.stats = done.stats;
                    inst.launch_ns = kapi::realtime_ns();
                    inst.running_since = Some(Instant::now());
                } else {
                    inst.error = done.error;
                }
                if next != inst.state {
                    let reason = if ok {
                        Reason::User
                    } else {
                        Reason::LaunchFailed
                    };
                    inst.set_state(next, reason);
                }
            }
        }
        ctrl.instances.changed.notify_all();
        (op, instance)
    };
    if op == uapi::NITRO_HV_STOP {
        ended(ctrl, instance, Reason::User);
    }
    Ok(())
}

/// The hypervisor file `file` was closed: its instances lose their
/// processes, whoever waits for one of its commands gets `ECONNRESET`.
pub(crate) fn hv_gone(ctrl: &Controller, file: u64) {
    let mut lost = KVec::new();
    {
        let mut t = ctrl.instances.table.lock();
        let Some(pos) = t.hypervisors.iter().position(|h| h.file == file) else {
            return;
        };
        let Ok(hv) = t.hypervisors.remove(pos) else {
            return;
        };
        let queued = hv.queue.iter().filter(|c| c.waited).map(|c| c.seq);
        let given = hv.inflight.iter().filter(|c| c.3).map(|c| c.0);
        let mut outcomes = KVec::new();
        for seq in queued {
            let _ = outcomes.push(seq, GFP_KERNEL);
        }
        for seq in given {
            let _ = outcomes.push(seq, GFP_KERNEL);
        }
        for seq in outcomes.iter() {
            let _ = t.outcomes.push(
                Outcome {
                    seq: *seq,
                    error: -(ECONNRESET.to_errno()),
                    data: KVVec::new(),
                },
                GFP_KERNEL,
            );
        }
        for (id, inst) in t.live.iter_mut() {
            if inst.host == hv.host && inst.state.has_processes() {
                let _ = lost.push(*id, GFP_KERNEL);
            }
        }
        ctrl.instances.changed.notify_all();
        pr_warn!(
            "hypervisor of host {} gone: {} instances lost their processes\n",
            hv.host,
            lost.len()
        );
    }
    for id in lost.iter() {
        ended(ctrl, *id, Reason::HypervisorLost);
    }
}

/// Whether registry object state `s` counts as attached to an instance.
pub(crate) fn attached(s: State) -> bool {
    matches!(s, State::Attached | State::Attaching | State::Detaching)
}
