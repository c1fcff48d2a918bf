// SPDX-License-Identifier: GPL-2.0

//! `NITRO_IOC_VOLUME_*`: create, describe and list (attach, detach and
//! delete are shared with ENIs, in `ioctl.rs`).

use super::{common, ensure, field, finish_create, keyed, split};
use crate::{
    abi_rules::all_zero,
    bus::{VolumeKind, VolumeSpec},
    controller::Controller,
    registry::{self, Obj},
    state, uapi,
    user::InOut,
};
use kernel::{prelude::*, transmute::AsBytes};

/// `NITRO_IOC_VOLUME_CREATE`.
pub(super) fn create(ctrl: &Controller, arg: usize) -> (u64, Result) {
    let r = (|| -> Result<u64> {
        let mut c = InOut::<uapi::nitro_volume_create>::read(arg)?;
        ensure(c.val.flags == 0 && c.val.id == 0)?;
        let kind = match c.val.kind {
            uapi::NITRO_VOLUME_EBS => VolumeKind::Ebs,
            uapi::NITRO_VOLUME_INSTANCE => VolumeKind::Instance,
            _ => return Err(EINVAL),
        };
        let block_size =
            state::volume_geometry(c.val.size_bytes, c.val.block_size).ok_or(EINVAL)?;
        let spec = VolumeSpec {
            id: 0,
            kind,
            size_bytes: c.val.size_bytes,
            block_size,
            name: field(&c.val.name, state::name_byte)?,
            backing_fd: c.val.backing_fd,
            wrapped_key: c.val.wrapped_key,
        };
        ensure(c.val.reserved == 0 && c.val.pad == [0; 4])?;
        // Instance storage has no backing and makes its own key; whether an
        // EBS backing and key are usable is for the card to say.
        ensure(kind == VolumeKind::Ebs || (spec.backing_fd == 0 && all_zero(&spec.wrapped_key)))?;
        c.probe_writable()?;
        let id = registry::create(ctrl, spec)?;
        c.val.id = id;
        c.val.block_size = block_size;
        finish_create::<VolumeSpec>(ctrl, id, c.write_back())
    })();
    split(r)
}

/// A volume as `struct nitro_volume_info` describes it.
fn info(o: &Obj<VolumeSpec>) -> uapi::nitro_volume_info {
    let mut i = uapi::nitro_volume_info {
        id: o.spec.id,
        kind: match o.spec.kind {
            VolumeKind::Ebs => uapi::NITRO_VOLUME_EBS,
            VolumeKind::Instance => uapi::NITRO_VOLUME_INSTANCE,
        },
        size_bytes: o.spec.size_bytes,
        block_size: o.spec.block_size,
        instance: o.instance,
        flags: o.flags,
        ..Default::default()
    };
    i.state = common(o, &o.spec.name, &mut i.name, &mut i.device, &mut i.card);
    i
}

/// `NITRO_IOC_VOLUME_DESCRIBE`.
pub(super) fn describe(ctrl: &Controller, arg: usize) -> Result {
    let mut d = InOut::<uapi::nitro_volume_describe>::read(arg)?;
    ensure(d.val.reserved == 0 && all_zero(d.val.info.as_bytes()))?;
    d.val.info = info(&registry::describe::<VolumeSpec>(&ctrl.registry, d.val.id)?);
    d.write_back()
}

/// `NITRO_IOC_VOLUME_LIST`.
pub(super) fn list(ctrl: &Controller, arg: usize) -> Result {
    super::list(arg, uapi::NITRO_VOLUME_INFO_SIZE_VER0, |after, cap| {
        let (objs, more) = registry::list::<VolumeSpec>(&ctrl.registry, after, cap)?;
        Ok((keyed(objs, |o| o.spec.id, info)?, more))
    })
}
