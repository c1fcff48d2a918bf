// SPDX-License-Identifier: GPL-2.0

//! `NITRO_IOC_VERSION`, `NITRO_IOC_STATUS`, `NITRO_IOC_METRICS` and
//! `NITRO_IOC_AUDIT`: what the controller says about itself and its cards.

use super::{ensure, list};
use crate::{
    abi_rules::{all_zero, fill_name, missing_kinds},
    audit,
    bus::{self, EniSpec, VolumeSpec},
    controller::Controller,
    instances, registry, uapi,
    user::{write_element, InOut},
};
use kernel::{prelude::*, transmute::AsBytes};

/// `NITRO_IOC_VERSION`.
pub(super) fn version(ctrl: &Controller, arg: usize) -> Result {
    let mut v = InOut::<uapi::nitro_version>::read(arg)?;
    ensure(all_zero(&v.val.as_bytes()[4..]))?;
    let (_, max_volumes) = ctrl.registry.count::<VolumeSpec>();
    let (_, max_enis) = ctrl.registry.count::<EniSpec>();
    v.val.abi_version = uapi::NITRO_ABI_VERSION;
    v.val.features = u64::from(
        uapi::NITRO_FEAT_STATUS
            | uapi::NITRO_FEAT_VOLUMES
            | uapi::NITRO_FEAT_ENIS
            | uapi::NITRO_FEAT_METRICS
            | uapi::NITRO_FEAT_AUDIT
            | uapi::NITRO_FEAT_FIRMWARE
            | uapi::NITRO_FEAT_INSTANCES
            | uapi::NITRO_FEAT_ALLOWANCES
            | uapi::NITRO_FEAT_MAP_TABLES
            | uapi::NITRO_FEAT_SECURITY_GROUPS,
    );
    v.val.max_cards = bus::MAX_CARDS as u32;
    v.val.max_volumes = max_volumes as u32;
    v.val.max_enis = max_enis as u32;
    v.val.audit_entries = audit::ENTRIES as u32;
    v.write_back()
}

/// `NITRO_IOC_STATUS`.
pub(super) fn status(ctrl: &Controller, arg: usize) -> Result {
    let mut s = InOut::<uapi::nitro_status>::read(arg)?;
    // Output-only fields must come in as zero, like reserved ones: a caller
    // that sets them is confused about the ABI.
    ensure(s.val.gate == 0 && s.val.ncards == 0 && s.val.missing == 0)?;
    ensure(s.val.cards != 0 || s.val.cards_cap == 0)?;
    let cards = ctrl.bus.snapshot()?;
    let min = uapi::NITRO_CARD_INFO_SIZE_VER0 as usize;
    for (i, c) in cards.iter().enumerate().take(s.val.cards_cap as usize) {
        let mut info = uapi::nitro_card_info {
            kind: c.kind as u32,
            index: c.index,
            requests: c.requests,
            failures: c.failures,
            objects: c.objects,
            ..Default::default()
        };
        fill_name(&mut info.name, c.name.as_str());
        write_element(s.val.cards, i as u32, s.val.card_size, min, &info)?;
    }
    s.val.gate = ctrl.gate.state();
    s.val.ncards = cards.len() as u32;
    s.val.missing = missing_kinds(cards.iter().map(|c| c.kind as u32), uapi::NITRO_CARD_VPC);
    s.write_back()
}

/// `NITRO_IOC_METRICS`: asks the card now; nothing is collected otherwise.
pub(super) fn metrics(ctrl: &Controller, arg: usize) -> Result {
    let mut m = InOut::<uapi::nitro_metrics>::read(arg)?;
    // Everything after scope and id is output.
    ensure(all_zero(&m.val.as_bytes()[16..]))?;
    let (counters, requests, failures, objects) = match m.val.scope {
        uapi::NITRO_METRICS_VOLUME => (
            registry::card_of::<VolumeSpec>(ctrl, m.val.id)?.metrics(m.val.id)?,
            0,
            0,
            0,
        ),
        uapi::NITRO_METRICS_ENI => (
            registry::card_of::<EniSpec>(ctrl, m.val.id)?.metrics(m.val.id)?,
            0,
            0,
            0,
        ),
        uapi::NITRO_METRICS_CARD => {
            let (card, requests, failures) = ctrl.bus.card_at(m.val.id)?;
            (card.totals(), requests, failures, card.objects())
        }
        uapi::NITRO_METRICS_INSTANCE => {
            let i = instances::describe(ctrl, m.val.id)?;
            let v = &mut m.val;
            v.cpu_usec = i.cpu_usec;
            v.memory_current = i.memory_current;
            v.memory_peak = i.memory_peak;
            v.uptime_ns = i.uptime_ns;
            v.state = i.state;
            v.volumes = i.volumes;
            v.enis = i.enis;
            return m.write_back();
        }
        _ => return Err(EINVAL),
    };
    let v = &mut m.val;
    v.read_ops = counters.read_ops;
    v.read_bytes = counters.read_bytes;
    v.read_ns = counters.read_ns;
    v.write_ops = counters.write_ops;
    v.write_bytes = counters.write_bytes;
    v.write_ns = counters.write_ns;
    v.rx_packets = counters.rx_packets;
    v.rx_bytes = counters.rx_bytes;
    v.tx_packets = counters.tx_packets;
    v.tx_bytes = counters.tx_bytes;
    v.drops = counters.drops;
    v.requests = requests;
    v.failures = failures;
    v.objects = objects;
    v.queue_depth = counters.queue_depth;
    v.bw_in_allowance_exceeded = counters.bw_in_allowance_exceeded;
    v.bw_out_allowance_exceeded = counters.bw_out_allowance_exceeded;
    v.pps_allowance_exceeded = counters.pps_allowance_exceeded;
    v.conntrack_allowance_exceeded = counters.conntrack_allowance_exceeded;
    v.conntrack_allowance_available = counters.conntrack_allowance_available;
    v.sg_denied_in = counters.sg_denied_in;
    v.sg_denied_out = counters.sg_denied_out;
    v.read_hist = counters.read_hist;
    v.write_hist = counters.write_hist;
    m.write_back()
}

/// `NITRO_IOC_AUDIT`.
pub(super) fn audit(ctrl: &Controller, arg: usize) -> Result {
    list(arg, uapi::NITRO_AUDIT_ENTRY_SIZE_VER0, |after, cap| {
        let (entries, more) = ctrl.audit.list(after, cap)?;
        let mut out = KVVec::with_capacity(entries.len(), GFP_KERNEL)?;
        for e in entries.iter() {
            out.push((e.seq, *e), GFP_KERNEL)?;
        }
        Ok((out, more))
    })
}
