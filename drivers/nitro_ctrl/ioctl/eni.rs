// SPDX-License-Identifier: GPL-2.0

//! `NITRO_IOC_ENI_*`: create, describe, list and allowances (attach, detach
//! and delete are shared with volumes, in `ioctl.rs`).

use super::{common, ensure, field, finish_create, keyed, split};
use crate::{
    abi_rules::all_zero,
    bus::{Allowance, EniSpec, GroupSet},
    controller::Controller,
    kapi,
    registry::{self, Obj},
    state::{self, State},
    uapi,
    user::InOut,
};
use kernel::{prelude::*, transmute::AsBytes};

/// `NITRO_IOC_ENI_CREATE`.
pub(super) fn create(ctrl: &Controller, arg: usize) -> (u64, Result) {
    let r = (|| -> Result<u64> {
        let mut c = InOut::<uapi::nitro_eni_create>::read(arg)?;
        ensure(c.val.flags == 0 && c.val.id == 0 && c.val.pad == [0; 2])?;
        ensure(state::eni_addressing(c.val.vpc, &c.val.mac, c.val.ipv4))?;
        let mac = if c.val.mac == [0; 6] {
            state::local_mac(kapi::random_u64())
        } else {
            c.val.mac
        };
        let spec = EniSpec {
            id: 0,
            vpc: c.val.vpc,
            mac,
            ipv4: c.val.ipv4,
            name: field(&c.val.name, state::name_byte)?,
            host: c.val.host,
            allowance: Allowance::UNSET,
            allowance_gen: 0,
            groups: GroupSet::default(),
        };
        ensure(c.val.reserved == 0 && c.val.host as usize <= uapi::NITRO_HOSTS_MAX as usize)?;
        c.probe_writable()?;
        let id = registry::create(ctrl, spec)?;
        c.val.id = id;
        c.val.mac = mac;
        finish_create::<EniSpec>(ctrl, id, c.write_back())
    })();
    split(r)
}

/// The allowances ENI `o`'s card enforces on it now, as the card reports
/// them: none unless attached. The registry's view
/// ([`Obj::allowance_enforced`]) is what was asked of the card; this is
/// what it does.
fn enforced(ctrl: &Controller, o: &Obj<EniSpec>) -> Allowance {
    if o.state != State::Attached {
        return Allowance::UNSET;
    }
    ctrl.bus
        .card(o.card)
        .and_then(|card| card.metrics(o.spec.id))
        .map_or(Allowance::UNSET, |m| m.allowance)
}

/// An ENI as `struct nitro_eni_info` describes it.
fn info(ctrl: &Controller, o: &Obj<EniSpec>) -> uapi::nitro_eni_info {
    let mut i = uapi::nitro_eni_info {
        id: o.spec.id,
        vpc: o.spec.vpc,
        mac: o.spec.mac,
        ipv4: o.spec.ipv4,
        host: o.spec.host,
        instance: o.instance,
        flags: o.flags,
        ..Default::default()
    };
    let (set, now) = (o.spec.allowance, enforced(ctrl, o));
    i.bw_in_bps = set.bw_in_bps;
    i.bw_out_bps = set.bw_out_bps;
    i.pps = set.pps;
    i.eff_bw_in_bps = now.bw_in_bps;
    i.eff_bw_out_bps = now.bw_out_bps;
    i.eff_pps = now.pps;
    i.state = common(o, &o.spec.name, &mut i.name, &mut i.device, &mut i.card);
    i
}

/// `NITRO_IOC_ENI_DESCRIBE`.
pub(super) fn describe(ctrl: &Controller, arg: usize) -> Result {
    let mut d = InOut::<uapi::nitro_eni_describe>::read(arg)?;
    ensure(d.val.reserved == 0 && all_zero(d.val.info.as_bytes()))?;
    d.val.info = info(
        ctrl,
        &registry::describe::<EniSpec>(&ctrl.registry, d.val.id)?,
    );
    d.write_back()
}

/// `NITRO_IOC_ENI_LIST`.
pub(super) fn list(ctrl: &Controller, arg: usize) -> Result {
    super::list(arg, uapi::NITRO_ENI_INFO_SIZE_VER0, |after, cap| {
        let (objs, more) = registry::list::<EniSpec>(&ctrl.registry, after, cap)?;
        Ok((keyed(objs, |o| o.spec.id, |o| info(ctrl, o))?, more))
    })
}

/// `NITRO_IOC_ENI_ALLOWANCE` (input only), audited under the ENI.
pub(super) fn allowance(ctrl: &Controller, arg: usize) -> (u64, Result) {
    let a = match InOut::<uapi::nitro_eni_allowance>::read(arg) {
        Ok(a) => a,
        Err(e) => return (0, Err(e)),
    };
    let v = &a.val;
    let set = Allowance {
        bw_in_bps: v.bw_in_bps,
        bw_out_bps: v.bw_out_bps,
        pps: v.pps,
    };
    let r = ctrl
        .gate
        .check("an allowance change")
        .and_then(|()| ensure(v.reserved == 0 && set.is_valid()))
        .and_then(|()| registry::set_allowance(ctrl, v.id, set));
    (v.id, r)
}
