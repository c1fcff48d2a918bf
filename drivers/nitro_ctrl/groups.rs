// SPDX-License-Identifier: GPL-2.0

//! Security groups: the controller's table of groups and their rules, and
//! what it asks the VPC card to enforce on each ENI (Documentation/vpc.rst,
//! Security groups).
//!
//! A group's rules may name another group as the peer; the card knows
//! nothing of groups, so the controller gives it, for each attached ENI
//! with groups, the rules of all its groups with every peer group replaced
//! by the addresses of its members ([`Request::SetFilter`]). Whatever
//! changes what an ENI is given (a group's rules, an ENI's groups, an ENI
//! deleted) is followed by a push to the attached ENIs of that VPC, before
//! the ioctl returns.
//!
//! Locks: the table's mutex is taken before the registry's ENI table (never
//! the other way round), and no card is called with either held. Each push
//! carries a number that rises with each computation, taken under the
//! table's mutex, so a card that gets two out of order keeps the newer.

use crate::{
    bus::{EniSpec, GroupSet, Request, SgPeer, SgRule},
    controller::Controller,
    kapi,
    registry::{self, Obj},
    state::{Op, State, MAX_VPC},
    uapi,
};
use kernel::{new_mutex, prelude::*, rbtree::RBTree, sync::Mutex};

/// Most groups (`NITRO_SGS_MAX`).
const SGS_MAX: usize = uapi::NITRO_SGS_MAX as usize;
/// Most rules per group (`NITRO_SG_RULES_MAX`).
pub(crate) const RULES_MAX: usize = uapi::NITRO_SG_RULES_MAX as usize;
/// Most peer addresses of one ENI's rules once peer groups are expanded
/// (`NITRO_SG_PEERS_MAX`).
const PEERS_MAX: usize = uapi::NITRO_SG_PEERS_MAX as usize;

/// One security group.
struct Group {
    vpc: u32,
    rules: KVec<SgRule>,
}

/// The groups, and the number of the last computation pushed.
struct Table {
    groups: RBTree<u64, Group>,
    gen: u64,
}

/// A group as `NITRO_IOC_SG_RULES` (get) and `NITRO_IOC_SG_LIST` show it.
pub(crate) struct GroupInfo {
    /// Its VPC.
    pub(crate) vpc: u32,
    /// Its rules.
    pub(crate) rules: KVec<SgRule>,
    /// How many ENIs have it.
    pub(crate) enis: u32,
}

/// The security groups of the controller.
#[pin_data]
pub(crate) struct Groups {
    #[pin]
    table: Mutex<Table>,
}

/// What one attached ENI is to be given.
struct Push {
    eni: EniSpec,
    card: u64,
    rules: Option<KVVec<SgRule>>,
    gen: u64,
}

impl Groups {
    /// No groups.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            table <- new_mutex!(
                Table {
                    groups: RBTree::new(),
                    gen: 0,
                },
                "nitro_ctrl::groups"
            ),
        })
    }
}

/// The ENIs of `vpc`, a copy.
fn enis_of(ctrl: &Controller, vpc: u32) -> Result<KVec<Obj<EniSpec>>> {
    let mut out = KVec::new();
    registry::for_each_eni(&ctrl.registry, |o| {
        if o.spec.vpc == vpc {
            out.push(*o, GFP_KERNEL)?;
        }
        Ok(())
    })?;
    Ok(out)
}

/// The rules ENI `eni` is to be given: those of its groups, each peer
/// group replaced by its members among `enis` (`ENOSPC` past
/// [`PEERS_MAX`] of them).
fn rules_of(t: &Table, eni: &EniSpec, enis: &[Obj<EniSpec>]) -> Result<KVVec<SgRule>> {
    let mut out = KVVec::new();
    let mut peers = 0;
    for g in eni.groups.ids() {
        let Some(group) = t.groups.get(g) else {
            continue;
        };
        for r in group.rules.iter() {
            match r.peer {
                SgPeer::Net(..) => out.push(*r, GFP_KERNEL)?,
                SgPeer::Group(pg) => {
                    for m in enis.iter().filter(|m| m.spec.groups.contains(pg)) {
                        peers += 1;
                        if peers > PEERS_MAX {
                            return Err(ENOSPC);
                        }
                        out.push(r.for_member(u32::from_be(m.spec.ipv4)), GFP_KERNEL)?;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// What the attached ENIs of `vpc` with groups are to be given now; with
/// `only`, that ENI alone, with groups or not (one whose groups were just
/// removed must be told).
fn plan(t: &mut Table, ctrl: &Controller, vpc: u32, only: Option<u64>) -> Result<KVec<Push>> {
    let enis = enis_of(ctrl, vpc)?;
    let mut out = KVec::new();
    for e in enis.iter() {
        if e.state != State::Attached || only.is_some_and(|id| id != e.spec.id) {
            continue;
        }
        let rules = if e.spec.groups.is_empty() {
            if only.is_none() {
                continue;
            }
            None
        } else {
            Some(rules_of(t, &e.spec, &enis)?)
        };
        t.gen += 1;
        out.push(
            Push {
                eni: e.spec,
                card: e.card,
                rules,
                gen: t.gen,
            },
            GFP_KERNEL,
        )?;
    }
    Ok(out)
}

/// Gives each ENI of `pushes` its rules: the first error, after trying
/// all.
fn push(ctrl: &Controller, pushes: &[Push]) -> Result {
    let mut result = Ok(());
    for p in pushes {
        let req = Request::SetFilter {
            eni: &p.eni,
            rules: p.rules.as_deref(),
            gen: p.gen,
        };
        let r = ctrl.bus.card(p.card).and_then(|card| card.request(&req));
        if let Err(e) = r {
            pr_warn!(
                "eni-{:017x}: its card did not take its security group rules ({:?}): it passes nothing\n",
                p.eni.id,
                e
            );
            result = result.and(Err(e));
        }
    }
    result
}

/// Whether an ENI has group `id`, or a rule of another group names it (a
/// group may name itself: "the other members of this group").
fn in_use(t: &Table, ctrl: &Controller, id: u64) -> Result<bool> {
    let named = t.groups.iter().any(|(gid, g)| {
        *gid != id
            && g.rules
                .iter()
                .any(|r| matches!(r.peer, SgPeer::Group(pg) if pg == id))
    });
    let mut had = false;
    registry::for_each_eni(&ctrl.registry, |o| {
        had |= o.spec.groups.contains(id);
        Ok(())
    })?;
    Ok(named || had)
}

/// `NITRO_IOC_SG_CREATE`: a group in `vpc` that allows all egress.
pub(crate) fn create(ctrl: &Controller, vpc: u32) -> Result<u64> {
    ctrl.gate.check("a security group change")?;
    if !(1..=MAX_VPC).contains(&vpc) {
        return Err(EINVAL);
    }
    let mut t = ctrl.groups.table.lock();
    if t.groups.iter().count() >= SGS_MAX {
        return Err(ENOSPC);
    }
    let id = loop {
        let id = kapi::random_u64();
        if id != 0 && t.groups.get(&id).is_none() {
            break id;
        }
    };
    let mut rules = KVec::new();
    rules.push(SgRule::EGRESS_ALL, GFP_KERNEL)?;
    t.groups
        .try_create_and_insert(id, Group { vpc, rules }, GFP_KERNEL)?;
    Ok(id)
}

/// `NITRO_IOC_SG_DELETE`: `EBUSY` while an ENI has the group or a rule
/// names it.
pub(crate) fn delete(ctrl: &Controller, id: u64) -> Result {
    ctrl.gate.check("a security group change")?;
    let mut t = ctrl.groups.table.lock();
    if t.groups.get(&id).is_none() {
        return Err(ENOENT);
    }
    if in_use(&t, ctrl, id)? {
        return Err(EBUSY);
    }
    t.groups.remove(&id);
    Ok(())
}

/// `NITRO_IOC_SG_RULES` (set): replaces group `id`'s rules, checked whole
/// first, and gives the attached ENIs of its VPC their new rules.
pub(crate) fn set_rules(ctrl: &Controller, id: u64, rules: KVec<SgRule>) -> Result {
    ctrl.gate.check("a security group change")?;
    if rules.len() > RULES_MAX {
        return Err(EINVAL);
    }
    let pushes = {
        let mut t = ctrl.groups.table.lock();
        let vpc = t.groups.get(&id).ok_or(ENOENT)?.vpc;
        for r in rules.iter() {
            if let SgPeer::Group(pg) = r.peer {
                if t.groups.get(&pg).ok_or(ENOENT)?.vpc != vpc {
                    return Err(EINVAL);
                }
            }
        }
        let group = t.groups.get_mut(&id).ok_or(ENOENT)?;
        let old = core::mem::replace(&mut group.rules, rules);
        match plan(&mut t, ctrl, vpc, None) {
            Ok(p) => p,
            Err(e) => {
                if let Some(g) = t.groups.get_mut(&id) {
                    g.rules = old;
                }
                return Err(e);
            }
        }
    };
    push(ctrl, &pushes)
}

/// How many ENIs have each group of `ids` (sorted).
fn members(ctrl: &Controller, ids: &[u64]) -> Result<KVec<u32>> {
    let mut counts = KVec::new();
    for _ in ids {
        counts.push(0u32, GFP_KERNEL)?;
    }
    registry::for_each_eni(&ctrl.registry, |o| {
        for g in o.spec.groups.ids() {
            if let Ok(i) = ids.binary_search(g) {
                counts[i] += 1;
            }
        }
        Ok(())
    })?;
    Ok(counts)
}

/// `NITRO_IOC_SG_RULES` (get).
pub(crate) fn describe(ctrl: &Controller, id: u64) -> Result<GroupInfo> {
    let t = ctrl.groups.table.lock();
    let g = t.groups.get(&id).ok_or(ENOENT)?;
    let mut rules = KVec::with_capacity(g.rules.len(), GFP_KERNEL)?;
    for r in g.rules.iter() {
        rules.push(*r, GFP_KERNEL)?;
    }
    let enis = members(ctrl, &[id])?[0];
    Ok(GroupInfo {
        vpc: g.vpc,
        rules,
        enis,
    })
}

/// `NITRO_IOC_SG_LIST`: up to `cap` groups with ids above `after`, in id
/// order, as (id, VPC, rules, ENIs), and whether more follow.
pub(crate) fn list(
    ctrl: &Controller,
    after: u64,
    cap: usize,
) -> Result<(KVVec<(u64, uapi::nitro_sg_info)>, bool)> {
    let t = ctrl.groups.table.lock();
    let mut out = KVVec::with_capacity(cap.min(SGS_MAX), GFP_KERNEL)?;
    let mut more = false;
    for (id, g) in t.groups.iter().filter(|(id, _)| **id > after) {
        if out.len() == cap {
            more = true;
            break;
        }
        let info = uapi::nitro_sg_info {
            id: *id,
            vpc: g.vpc,
            rules: g.rules.len() as u32,
            ..Default::default()
        };
        out.push((*id, info), GFP_KERNEL)?;
    }
    let mut ids = KVec::with_capacity(out.len(), GFP_KERNEL)?;
    for (id, _) in out.iter() {
        ids.push(*id, GFP_KERNEL)?;
    }
    let counts = members(ctrl, &ids)?;
    for ((_, info), n) in out.iter_mut().zip(counts.iter()) {
        info.enis = *n;
    }
    Ok((out, more))
}

/// `NITRO_IOC_ENI_GROUPS` (set): ENI `id`'s groups become `groups`, all of
/// its VPC; its rules and those of its VPC's ENIs (whose peer groups it
/// may join or leave) are pushed.
pub(crate) fn set_eni_groups(ctrl: &Controller, id: u64, groups: GroupSet) -> Result {
    ctrl.gate.check("a security group change")?;
    let (pushes, own) = {
        let mut t = ctrl.groups.table.lock();
        let vpc = registry::describe::<EniSpec>(&ctrl.registry, id)?.spec.vpc;
        for g in groups.ids() {
            if t.groups.get(g).ok_or(ENOENT)?.vpc != vpc {
                return Err(EINVAL);
            }
        }
        let old = registry::set_groups(&ctrl.registry, id, groups)?;
        let planned = plan(&mut t, ctrl, vpc, None).and_then(|all| {
            // The ENI itself, also when it has no groups left.
            let own = if groups.is_empty() {
                plan(&mut t, ctrl, vpc, Some(id))?
            } else {
                KVec::new()
            };
            Ok((all, own))
        });
        match planned {
            Ok(p) => p,
            Err(e) => {
                registry::restore_groups(&ctrl.registry, id, groups, old.spec.groups);
                return Err(e);
            }
        }
    };
    push(ctrl, &pushes).and(push(ctrl, &own))
}

/// `NITRO_IOC_ENI_GROUPS` (get).
pub(crate) fn eni_groups(ctrl: &Controller, id: u64) -> Result<GroupSet> {
    Ok(registry::describe::<EniSpec>(&ctrl.registry, id)?
        .spec
        .groups)
}

/// After ENI `spec` was attached or deleted: an attached ENI with groups
/// gets its rules (until then its card passes nothing of it); a deleted
/// one leaves its groups, so the rules naming them change. A failure is
/// logged and the ENI passes nothing until its rules are set again.
pub(crate) fn changed(ctrl: &Controller, spec: &EniSpec, op: Op) {
    if spec.groups.is_empty() || op == Op::Detach {
        return;
    }
    let only = (op == Op::Attach).then_some(spec.id);
    let pushes = {
        let mut t = ctrl.groups.table.lock();
        plan(&mut t, ctrl, spec.vpc, only)
    };
    let _ = pushes.and_then(|p| push(ctrl, &p));
}
