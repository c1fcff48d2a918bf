// SPDX-License-Identifier: GPL-2.0

//! `NITRO_IOC_SG_*` and `NITRO_IOC_ENI_GROUPS`: security groups and the
//! groups of an ENI. What a group is and what the card is given is
//! `groups.rs`; these turn ABI structs into its calls and back.

use super::ensure;
use crate::{
    bus::{GroupSet, SgRule, ENI_GROUPS_MAX},
    controller::Controller,
    groups,
    sg_rules::RawRule,
    uapi,
    user::{read_element, write_element, InOut},
};
use kernel::prelude::*;

/// A rule in ABI form.
fn to_abi(r: &SgRule) -> uapi::nitro_sg_rule {
    let raw = r.raw();
    uapi::nitro_sg_rule {
        dir: raw.dir,
        proto: raw.proto,
        prefix_len: raw.prefix_len,
        pad: raw.pad,
        port_min: raw.port_min,
        port_max: raw.port_max,
        cidr: raw.cidr,
        reserved: raw.reserved,
        peer_group: raw.peer_group,
    }
}

/// A rule from ABI form, checked (`EINVAL` if bad).
fn from_abi(r: &uapi::nitro_sg_rule) -> Result<SgRule> {
    SgRule::check(&RawRule {
        dir: r.dir,
        proto: r.proto,
        prefix_len: r.prefix_len,
        pad: r.pad,
        port_min: r.port_min,
        port_max: r.port_max,
        cidr: r.cidr,
        reserved: r.reserved,
        peer_group: r.peer_group,
    })
    .ok_or(EINVAL)
}

/// `NITRO_IOC_SG_CREATE`, audited under the new group.
pub(super) fn create(ctrl: &Controller, arg: usize) -> (u64, Result) {
    let r = (|| -> Result<u64> {
        let mut c = InOut::<uapi::nitro_sg_create>::read(arg)?;
        ensure(c.val.id == 0 && c.val.flags == 0 && c.val.reserved == 0)?;
        c.probe_writable()?;
        let id = groups::create(ctrl, c.val.vpc)?;
        c.val.id = id;
        if let Err(e) = c.write_back() {
            // The caller cannot learn the id: do not leave the group.
            let _ = groups::delete(ctrl, id);
            return Err(e);
        }
        Ok(id)
    })();
    super::split(r)
}

/// `NITRO_IOC_SG_DELETE`, audited.
pub(super) fn delete(ctrl: &Controller, arg: usize) -> (u64, Result) {
    let r = match InOut::<uapi::nitro_object_ref>::read(arg) {
        Ok(r) => r,
        Err(e) => return (0, Err(e)),
    };
    let id = r.val.id;
    (
        id,
        ensure(r.val.reserved == 0).and_then(|()| groups::delete(ctrl, id)),
    )
}

/// `NITRO_IOC_SG_RULES`: a set is audited under the group (`Some`), a get
/// is not (`None`).
pub(super) fn rules(ctrl: &Controller, arg: usize) -> (Option<u64>, Result) {
    let mut s = match InOut::<uapi::nitro_sg_rules>::read(arg) {
        Ok(s) => s,
        Err(e) => return (None, Err(e)),
    };
    let (id, get) = (s.val.id, s.val.flags == uapi::NITRO_SG_RULES_GET);
    let min = uapi::NITRO_SG_RULE_SIZE_VER0 as usize;
    if get {
        let r = (|| -> Result {
            ensure(s.val.vpc == 0 && s.val.enis == 0)?;
            let g = groups::describe(ctrl, id)?;
            let room = s.val.count as usize;
            for (i, r) in g.rules.iter().take(room).enumerate() {
                write_element(s.val.rules, i as u32, s.val.rule_size, min, &to_abi(r))?;
            }
            s.val.count = g.rules.len() as u32;
            s.val.vpc = g.vpc;
            s.val.enis = g.enis;
            s.write_back()
        })();
        return (None, r);
    }
    let r = (|| -> Result {
        ensure(s.val.flags == 0 && s.val.vpc == 0 && s.val.enis == 0)?;
        let count = s.val.count as usize;
        ensure(count <= groups::RULES_MAX)?;
        let mut rules = KVec::with_capacity(count, GFP_KERNEL)?;
        for i in 0..count {
            let raw: uapi::nitro_sg_rule =
                read_element(s.val.rules, i as u32, s.val.rule_size, min)?;
            rules.push(from_abi(&raw)?, GFP_KERNEL)?;
        }
        groups::set_rules(ctrl, id, rules)
    })();
    (Some(id), r)
}

/// `NITRO_IOC_SG_LIST`.
pub(super) fn list(ctrl: &Controller, arg: usize) -> Result {
    super::list(arg, uapi::NITRO_SG_INFO_SIZE_VER0, |after, cap| {
        groups::list(ctrl, after, cap)
    })
}

/// `NITRO_IOC_ENI_GROUPS`: a set is audited under the ENI (`Some`), a get
/// is not (`None`).
pub(super) fn eni_groups(ctrl: &Controller, arg: usize) -> (Option<u64>, Result) {
    let mut g = match InOut::<uapi::nitro_eni_groups>::read(arg) {
        Ok(g) => g,
        Err(e) => return (None, Err(e)),
    };
    let id = g.val.id;
    if g.val.flags == uapi::NITRO_ENI_GROUPS_GET {
        let r = (|| -> Result {
            ensure(g.val.count == 0 && g.val.reserved == 0 && g.val.groups == [0; ENI_GROUPS_MAX])?;
            let set = groups::eni_groups(ctrl, id)?;
            g.val.count = set.ids().len() as u32;
            g.val.groups[..set.ids().len()].copy_from_slice(set.ids());
            g.write_back()
        })();
        return (None, r);
    }
    let r = (|| -> Result {
        ensure(g.val.flags == 0 && g.val.reserved == 0)?;
        let n = g.val.count as usize;
        ensure(n <= ENI_GROUPS_MAX && g.val.groups[n..].iter().all(|&x| x == 0))?;
        let set = GroupSet::new(&g.val.groups[..n]).ok_or(EINVAL)?;
        groups::set_eni_groups(ctrl, id, set)
    })();
    (Some(id), r)
}
