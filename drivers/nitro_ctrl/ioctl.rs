// SPDX-License-Identifier: GPL-2.0

//! ioctl dispatch of `/dev/nitro_ctrl`: privilege, decoding of the command,
//! and the helpers the handlers share. The handlers live by area, as
//! nitroctl's command families do: `ioctl/info.rs` (version, status,
//! metrics, audit), `ioctl/volume.rs`, `ioctl/eni.rs`, `ioctl/vpc.rs`
//! (hosts, mappings, keys) and `ioctl/firmware.rs`. What exists and how it
//! changes is `registry.rs`; the handlers only turn ABI structs into
//! registry calls and back.

use crate::{
    abi_rules::{command_key, IoctlCmd},
    bus,
    controller::Controller,
    instances, kapi,
    lifecycle::InstanceOp,
    registry::{self, Obj},
    state::{self, Op},
    uapi,
    user::{write_element, Extensible, InOut},
};
use kernel::{prelude::*, transmute::AsBytes};

mod eni;
mod firmware;
mod info;
mod instance;
mod sg;
mod volume;
mod vpc;

macro_rules! extensible {
    ($($t:ident = $min:ident),* $(,)?) => {$(
        impl Extensible for uapi::$t {
            const MIN: usize = uapi::$min as usize;
            fn set_size(&mut self, size: u32) {
                self.size = size;
            }
        }
    )*};
}

extensible! {
    nitro_version = NITRO_VERSION_SIZE_VER0,
    nitro_status = NITRO_STATUS_SIZE_VER0,
    nitro_volume_create = NITRO_VOLUME_CREATE_SIZE_VER0,
    nitro_object_ref = NITRO_OBJECT_REF_SIZE_VER0,
    nitro_attach = NITRO_ATTACH_SIZE_VER0,
    nitro_volume_describe = NITRO_VOLUME_DESCRIBE_SIZE_VER0,
    nitro_eni_create = NITRO_ENI_CREATE_SIZE_VER0,
    nitro_eni_describe = NITRO_ENI_DESCRIBE_SIZE_VER0,
    nitro_list = NITRO_LIST_SIZE_VER0,
    nitro_metrics = NITRO_METRICS_SIZE_VER0,
    nitro_firmware_status = NITRO_FIRMWARE_STATUS_SIZE_VER0,
    nitro_firmware_allow = NITRO_FIRMWARE_ALLOW_SIZE_VER0,
    nitro_firmware_update = NITRO_FIRMWARE_UPDATE_SIZE_VER0,
    nitro_host_create = NITRO_HOST_CREATE_SIZE_VER0,
    nitro_host_info = NITRO_HOST_INFO_SIZE_VER0,
    nitro_map = NITRO_MAP_SIZE_VER0,
    nitro_peer_key = NITRO_PEER_KEY_SIZE_VER0,
    nitro_eni_allowance = NITRO_ENI_ALLOWANCE_SIZE_VER0,
    nitro_map_batch = NITRO_MAP_BATCH_SIZE_VER0,
    nitro_map_list = NITRO_MAP_LIST_SIZE_VER0,
    nitro_sg_create = NITRO_SG_CREATE_SIZE_VER0,
    nitro_sg_rules = NITRO_SG_RULES_SIZE_VER0,
    nitro_eni_groups = NITRO_ENI_GROUPS_SIZE_VER0,
    nitro_instance_create = NITRO_INSTANCE_CREATE_SIZE_VER0,
    nitro_instance_op = NITRO_INSTANCE_OP_SIZE_VER0,
    nitro_instance_wait = NITRO_INSTANCE_WAIT_SIZE_VER0,
    nitro_instance_describe = NITRO_INSTANCE_DESCRIBE_SIZE_VER0,
    nitro_instance_console = NITRO_INSTANCE_CONSOLE_SIZE_VER0,
    nitro_hv_register = NITRO_HV_REGISTER_SIZE_VER0,
    nitro_hv_command = NITRO_HV_COMMAND_SIZE_VER0,
    nitro_hv_result = NITRO_HV_RESULT_SIZE_VER0,
}

/// A `match` on the command (its number without the size field, so that
/// callers built with older or newer struct sizes reach the same handler):
/// one arm per `NITRO_IOC_*` of the ABI header, `ENOTTY` for the rest.
macro_rules! match_command {
    ($cmd:expr; $($name:ident => $handler:expr,)*) => {{
        #[allow(non_upper_case_globals)]
        mod key {
            $(pub(super) const $name: u32 =
                $crate::abi_rules::command_key($crate::uapi::$name);)*
        }
        match command_key($cmd) {
            $(key::$name => $handler,)*
            _ => Err(ENOTTY),
        }
    }};
}

/// Handles one ioctl. Privilege is checked before the command is even
/// decoded, so an unprivileged caller learns nothing (not even ENOTTY).
pub(crate) fn dispatch(ctrl: &Controller, file: u64, cmd: u32, arg: usize) -> Result<isize> {
    if !kapi::capable_sys_admin() {
        return Err(EPERM);
    }
    if IoctlCmd::decode(cmd).ty != uapi::NITRO_IOCTL_TYPE {
        return Err(ENOTTY);
    }
    // An audited handler gives the object concerned with its result, and the
    // result is recorded whatever it is.
    let audited = |(id, result): (u64, Result)| {
        ctrl.audit.record(IoctlCmd::decode(cmd).nr, id, &result);
        result
    };
    // A handler that both reads and changes says which a call did: only a
    // change (`Some` object) is recorded.
    let audited_if = |(id, result): (Option<u64>, Result)| match id {
        Some(id) => audited((id, result)),
        None => result,
    };
    match_command! { cmd;
        NITRO_IOC_VERSION => info::version(ctrl, arg),
        NITRO_IOC_STATUS => info::status(ctrl, arg),
        NITRO_IOC_VOLUME_CREATE => audited(volume::create(ctrl, arg)),
        NITRO_IOC_VOLUME_DELETE => audited(change::<bus::VolumeSpec>(ctrl, arg, Op::Delete)),
        NITRO_IOC_VOLUME_ATTACH => audited(attach::<bus::VolumeSpec>(ctrl, arg)),
        NITRO_IOC_VOLUME_DETACH => audited(change::<bus::VolumeSpec>(ctrl, arg, Op::Detach)),
        NITRO_IOC_VOLUME_DESCRIBE => volume::describe(ctrl, arg),
        NITRO_IOC_VOLUME_LIST => volume::list(ctrl, arg),
        NITRO_IOC_ENI_CREATE => audited(eni::create(ctrl, arg)),
        NITRO_IOC_ENI_DELETE => audited(change::<bus::EniSpec>(ctrl, arg, Op::Delete)),
        NITRO_IOC_ENI_ATTACH => audited(attach::<bus::EniSpec>(ctrl, arg)),
        NITRO_IOC_ENI_DETACH => audited(change::<bus::EniSpec>(ctrl, arg, Op::Detach)),
        NITRO_IOC_ENI_DESCRIBE => eni::describe(ctrl, arg),
        NITRO_IOC_ENI_LIST => eni::list(ctrl, arg),
        NITRO_IOC_HOST_CREATE => audited(vpc::host_create(ctrl, arg)),
        NITRO_IOC_HOST_DELETE => audited(vpc::host_delete(ctrl, arg)),
        NITRO_IOC_HOST_DESCRIBE => vpc::host_describe(ctrl, arg),
        NITRO_IOC_MAP_SET => audited(vpc::map_change(ctrl, arg, false)),
        NITRO_IOC_MAP_DELETE => audited(vpc::map_change(ctrl, arg, true)),
        NITRO_IOC_PEER_KEY => audited(vpc::peer_key(ctrl, arg)),
        NITRO_IOC_ENI_ALLOWANCE => audited(eni::allowance(ctrl, arg)),
        NITRO_IOC_MAP_BATCH => audited(vpc::map_batch(ctrl, arg)),
        NITRO_IOC_MAP_LIST => vpc::map_list(ctrl, arg),
        NITRO_IOC_ENI_GROUPS => audited_if(sg::eni_groups(ctrl, arg)),
        NITRO_IOC_METRICS => info::metrics(ctrl, arg),
        NITRO_IOC_AUDIT => info::audit(ctrl, arg),
        NITRO_IOC_FIRMWARE_STATUS => firmware::status(ctrl, arg),
        NITRO_IOC_FIRMWARE_LOG => firmware::log(ctrl, arg),
        NITRO_IOC_FIRMWARE_ALLOW => audited(firmware::allow(ctrl, arg)),
        NITRO_IOC_FIRMWARE_UPDATE => audited(firmware::update(ctrl, arg)),
        NITRO_IOC_INSTANCE_CREATE => audited(instance::create(ctrl, arg)),
        NITRO_IOC_INSTANCE_START => audited(instance::op(ctrl, arg, InstanceOp::Start)),
        NITRO_IOC_INSTANCE_STOP => audited(instance::op(ctrl, arg, InstanceOp::Stop)),
        NITRO_IOC_INSTANCE_TERMINATE => audited(instance::op(ctrl, arg, InstanceOp::Terminate)),
        NITRO_IOC_INSTANCE_DESCRIBE => instance::describe(ctrl, arg),
        NITRO_IOC_INSTANCE_LIST => instance::list(ctrl, arg),
        NITRO_IOC_INSTANCE_WAIT => instance::wait(ctrl, arg),
        NITRO_IOC_INSTANCE_TYPES => instance::types(arg),
        NITRO_IOC_INSTANCE_CONSOLE => instance::console(ctrl, arg),
        NITRO_IOC_HV_REGISTER => audited(instance::hv_register(ctrl, file, arg)),
        NITRO_IOC_HV_NEXT => instance::hv_next(ctrl, file, arg),
        NITRO_IOC_HV_DONE => instance::hv_done(ctrl, file, arg),
        NITRO_IOC_SG_CREATE => audited(sg::create(ctrl, arg)),
        NITRO_IOC_SG_DELETE => audited(sg::delete(ctrl, arg)),
        NITRO_IOC_SG_RULES => audited_if(sg::rules(ctrl, arg)),
        NITRO_IOC_SG_LIST => sg::list(ctrl, arg),
    }?;
    Ok(0)
}

/// Fails with `EINVAL` unless `cond`.
fn ensure(cond: bool) -> Result {
    if cond {
        Ok(())
    } else {
        Err(EINVAL)
    }
}

/// The string in a fixed ABI field, checked with `ok` (`EINVAL` if bad).
fn field<const N: usize>(raw: &[u8; N], ok: impl Fn(u8) -> bool) -> Result<bus::Fixed<N>> {
    let len = state::field_str_len(raw, ok).ok_or(EINVAL)?;
    bus::Fixed::new(&raw[..len]).ok_or(EINVAL)
}

/// After a create: if the answer cannot reach the caller, the caller cannot
/// know the id, so the object is deleted again rather than left orphaned.
fn finish_create<S: registry::Spec>(ctrl: &Controller, id: u64, written: Result) -> Result<u64> {
    match written {
        Ok(()) => Ok(id),
        Err(e) => {
            let _ = registry::change::<S>(ctrl, id, Op::Delete, registry::Attach::NONE);
            Err(e)
        }
    }
}

/// Splits a result carrying the object id into (id, result) for the audit.
fn split(r: Result<u64>) -> (u64, Result) {
    match r {
        Ok(id) => (id, Ok(())),
        Err(e) => (0, Err(e)),
    }
}

/// `NITRO_IOC_{VOLUME,ENI}_{DELETE,DETACH}`: input only, nothing written
/// back. A device of an instance is taken out of the instance first.
fn change<S: instances::Device>(ctrl: &Controller, arg: usize, op: Op) -> (u64, Result) {
    let r = match InOut::<uapi::nitro_object_ref>::read(arg) {
        Ok(r) => r,
        Err(e) => return (0, Err(e)),
    };
    let id = r.val.id;
    let result = ensure(r.val.reserved == 0).and_then(|()| {
        let o = registry::describe::<S>(&ctrl.registry, id)?;
        if op == Op::Detach && o.instance != 0 {
            return instances::detach(ctrl, id, &o);
        }
        registry::change::<S>(ctrl, id, op, registry::Attach::NONE).map(|_| ())
    });
    (id, result)
}

/// `NITRO_IOC_{VOLUME,ENI}_ATTACH`: to the host, or (v1) to an instance.
fn attach<S: instances::Device>(ctrl: &Controller, arg: usize) -> (u64, Result) {
    let mut a = match InOut::<uapi::nitro_attach>::read(arg) {
        Ok(a) => a,
        Err(e) => return (0, Err(e)),
    };
    let id = a.val.id;
    let result = (|| -> Result {
        ensure(a.val.reserved == 0)?;
        let device = if S::DEVICE_REQUIRED {
            field(&a.val.device, state::devname_byte)?
        } else {
            field(&a.val.device, state::ifname_byte)?
        };
        ensure(!S::DEVICE_REQUIRED || !device.is_empty())?;
        let (instance, index, flags) = (a.val.instance, a.val.index, a.val.flags);
        ensure(flags & !uapi::NITRO_ATTACH_DELETE_ON_TERMINATION == 0)?;
        if instance == 0 {
            ensure(index == 0 && flags == 0)?;
        } else {
            // An ENI's name in an instance is eth<index>; a volume has no index.
            ensure(if S::DEVICE_REQUIRED {
                index == 0
            } else {
                device.is_empty()
            })?;
        }
        a.probe_writable()?;
        let used = if instance == 0 {
            registry::change::<S>(ctrl, id, Op::Attach, registry::Attach::host(device))?
        } else {
            instances::attach::<S>(ctrl, id, instance, device, index, flags)?
        };
        a.val.device = *used.raw();
        a.write_back()
    })();
    (id, result)
}

/// The common part of an object's ABI info; gives its state. (The
/// instance fields are filled by the callers.)
fn common<S: Copy, const N: usize, const D: usize, const C: usize>(
    obj: &Obj<S>,
    name: &bus::Tag,
    out_name: &mut [u8; N],
    out_device: &mut [u8; D],
    out_card: &mut [u8; C],
) -> u32 {
    crate::abi_rules::fill_name(out_name, name.as_str());
    crate::abi_rules::fill_name(out_device, obj.device.as_str());
    crate::abi_rules::fill_name(out_card, obj.card_name.as_str());
    obj.state as u32
}

/// The list commands: reads the request, lets `fetch` produce up to `cap`
/// entries after the cursor (with their keys), writes them out.
fn list<T: AsBytes>(
    arg: usize,
    min: u32,
    fetch: impl FnOnce(u64, usize) -> Result<(KVVec<(u64, T)>, bool)>,
) -> Result {
    let mut l = InOut::<uapi::nitro_list>::read(arg)?;
    ensure(l.val.reserved == 0 && l.val.count == 0 && l.val.more == 0)?;
    ensure(l.val.cap <= uapi::NITRO_LIST_MAX)?;
    ensure(l.val.entries != 0 || l.val.cap == 0)?;
    let (entries, more) = fetch(l.val.cursor, l.val.cap as usize)?;
    for (i, (_, e)) in entries.iter().enumerate() {
        write_element(l.val.entries, i as u32, l.val.entry_size, min as usize, e)?;
    }
    if let Some((key, _)) = entries.last() {
        l.val.cursor = *key;
    }
    l.val.count = entries.len() as u32;
    l.val.more = u32::from(more);
    l.write_back()
}

/// Converts registry objects into keyed ABI entries.
fn keyed<S: Copy, T>(
    objs: KVVec<Obj<S>>,
    key: impl Fn(&Obj<S>) -> u64,
    conv: impl Fn(&Obj<S>) -> T,
) -> Result<KVVec<(u64, T)>> {
    let mut out = KVVec::with_capacity(objs.len(), GFP_KERNEL)?;
    for o in objs.iter() {
        out.push((key(o), conv(o)), GFP_KERNEL)?;
    }
    Ok(out)
}
