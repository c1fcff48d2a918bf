// SPDX-License-Identifier: GPL-2.0

//! ioctl dispatch of `/dev/nitro_ctrl`: decoding, validation, and the
//! answer. What exists and how it changes is `registry.rs`; this file only
//! turns ABI structs into registry calls and back.

use crate::{
    abi_rules::{all_zero, fill_name, missing_kinds, IoctlCmd},
    audit,
    bus::{
        self, CardKind, DevName, EniSpec, HostSpec, MapSpec, PeerKeySpec, Reply, Request, Tag,
        VolumeKind, VolumeSpec, SHA384_LEN,
    },
    gate, kapi,
    registry::{self, Obj},
    state::{self, Op},
    uapi,
    user::{write_element, Extensible, InOut},
};
use kernel::{prelude::*, transmute::AsBytes};

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
}

/// A command handler. Audited handlers also give the object concerned.
enum Handler {
    Plain(fn(usize) -> Result),
    Audited(fn(usize) -> (u64, Result)),
}

const COMMANDS: &[(u32, Handler)] = &[
    (uapi::NITRO_IOC_VERSION, Handler::Plain(version)),
    (uapi::NITRO_IOC_STATUS, Handler::Plain(status)),
    (
        uapi::NITRO_IOC_VOLUME_CREATE,
        Handler::Audited(volume_create),
    ),
    (
        uapi::NITRO_IOC_VOLUME_DELETE,
        Handler::Audited(change::<VolumeSpec, DELETE>),
    ),
    (
        uapi::NITRO_IOC_VOLUME_ATTACH,
        Handler::Audited(attach::<VolumeSpec>),
    ),
    (
        uapi::NITRO_IOC_VOLUME_DETACH,
        Handler::Audited(change::<VolumeSpec, DETACH>),
    ),
    (
        uapi::NITRO_IOC_VOLUME_DESCRIBE,
        Handler::Plain(volume_describe),
    ),
    (uapi::NITRO_IOC_VOLUME_LIST, Handler::Plain(volume_list)),
    (uapi::NITRO_IOC_ENI_CREATE, Handler::Audited(eni_create)),
    (
        uapi::NITRO_IOC_ENI_DELETE,
        Handler::Audited(change::<EniSpec, DELETE>),
    ),
    (
        uapi::NITRO_IOC_ENI_ATTACH,
        Handler::Audited(attach::<EniSpec>),
    ),
    (
        uapi::NITRO_IOC_ENI_DETACH,
        Handler::Audited(change::<EniSpec, DETACH>),
    ),
    (uapi::NITRO_IOC_ENI_DESCRIBE, Handler::Plain(eni_describe)),
    (uapi::NITRO_IOC_ENI_LIST, Handler::Plain(eni_list)),
    (uapi::NITRO_IOC_HOST_CREATE, Handler::Audited(host_create)),
    (uapi::NITRO_IOC_HOST_DELETE, Handler::Audited(host_delete)),
    (uapi::NITRO_IOC_HOST_DESCRIBE, Handler::Plain(host_describe)),
    (
        uapi::NITRO_IOC_MAP_SET,
        Handler::Audited(map_change::<false>),
    ),
    (
        uapi::NITRO_IOC_MAP_DELETE,
        Handler::Audited(map_change::<true>),
    ),
    (uapi::NITRO_IOC_PEER_KEY, Handler::Audited(peer_key)),
    (uapi::NITRO_IOC_METRICS, Handler::Plain(metrics)),
    (uapi::NITRO_IOC_AUDIT, Handler::Plain(audit_list)),
    (
        uapi::NITRO_IOC_FIRMWARE_STATUS,
        Handler::Plain(firmware_status),
    ),
    (uapi::NITRO_IOC_FIRMWARE_LOG, Handler::Plain(firmware_log)),
    (
        uapi::NITRO_IOC_FIRMWARE_ALLOW,
        Handler::Audited(firmware_allow),
    ),
    (
        uapi::NITRO_IOC_FIRMWARE_UPDATE,
        Handler::Audited(firmware_update),
    ),
];

/// Handles one ioctl. Privilege is checked before the command is even
/// decoded, so an unprivileged caller learns nothing (not even ENOTTY).
pub(crate) fn dispatch(cmd: u32, arg: usize) -> Result<isize> {
    if !kapi::capable_sys_admin() {
        return Err(EPERM);
    }
    let c = IoctlCmd::decode(cmd);
    if c.ty != uapi::NITRO_IOCTL_TYPE {
        return Err(ENOTTY);
    }
    let (_, handler) = COMMANDS
        .iter()
        .find(|(known, _)| c.same_command(*known))
        .ok_or(ENOTTY)?;
    match handler {
        Handler::Plain(f) => f(arg)?,
        Handler::Audited(f) => {
            let (id, result) = f(arg);
            audit::record(c.nr, id, &result);
            result?
        }
    }
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

/// `NITRO_IOC_VERSION`.
fn version(arg: usize) -> Result {
    let mut v = InOut::<uapi::nitro_version>::read(arg)?;
    ensure(all_zero(&v.val.as_bytes()[4..]))?;
    let (_, max_volumes) = registry::count::<VolumeSpec>();
    let (_, max_enis) = registry::count::<EniSpec>();
    v.val.abi_version = uapi::NITRO_ABI_VERSION;
    v.val.features = u64::from(
        uapi::NITRO_FEAT_STATUS
            | uapi::NITRO_FEAT_VOLUMES
            | uapi::NITRO_FEAT_ENIS
            | uapi::NITRO_FEAT_METRICS
            | uapi::NITRO_FEAT_AUDIT
            | uapi::NITRO_FEAT_FIRMWARE,
    );
    v.val.max_cards = bus::MAX_CARDS as u32;
    v.val.max_volumes = max_volumes as u32;
    v.val.max_enis = max_enis as u32;
    v.val.audit_entries = audit::ENTRIES as u32;
    v.write_back()
}

/// `NITRO_IOC_STATUS`.
fn status(arg: usize) -> Result {
    let mut s = InOut::<uapi::nitro_status>::read(arg)?;
    // Output-only fields must come in as zero, like reserved ones: a caller
    // that sets them is confused about the ABI.
    ensure(s.val.gate == 0 && s.val.ncards == 0 && s.val.missing == 0)?;
    ensure(s.val.cards != 0 || s.val.cards_cap == 0)?;
    let cards = bus::snapshot()?;
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
        let name = core::str::from_utf8(&c.name[..c.name_len]).unwrap_or("");
        fill_name(&mut info.name, name);
        write_element(s.val.cards, i as u32, s.val.card_size, min, &info)?;
    }
    s.val.gate = gate::state();
    s.val.ncards = cards.len() as u32;
    s.val.missing = missing_kinds(cards.iter().map(|c| c.kind as u32), uapi::NITRO_CARD_VPC);
    s.write_back()
}

/// `NITRO_IOC_VOLUME_CREATE`.
fn volume_create(arg: usize) -> (u64, Result) {
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
        let id = registry::create(spec)?;
        c.val.id = id;
        c.val.block_size = block_size;
        finish_create::<VolumeSpec>(id, c.write_back())
    })();
    split(r)
}

/// `NITRO_IOC_ENI_CREATE`.
fn eni_create(arg: usize) -> (u64, Result) {
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
        };
        ensure(c.val.reserved == 0 && c.val.host as usize <= uapi::NITRO_HOSTS_MAX as usize)?;
        c.probe_writable()?;
        let id = registry::create(spec)?;
        c.val.id = id;
        c.val.mac = mac;
        finish_create::<EniSpec>(id, c.write_back())
    })();
    split(r)
}

/// Sends a request to the VPC card (hosts, mappings, keys: the card keeps
/// them, the controller only checks their form and audits).
fn vpc_request(req: &Request<'_>) -> Result<Reply> {
    gate::check("a VPC change")?;
    bus::card_for(CardKind::Vpc)?.request(req)
}

/// `NITRO_IOC_HOST_CREATE`.
fn host_create(arg: usize) -> (u64, Result) {
    let r = (|| -> Result<u64> {
        let mut c = InOut::<uapi::nitro_host_create>::read(arg)?;
        ensure(c.val.flags == 0 && c.val.host == 0 && c.val.reserved == 0)?;
        ensure(state::unicast_ipv4(c.val.underlay_ipv4))?;
        c.probe_writable()?;
        let spec = HostSpec {
            netns_fd: c.val.netns_fd,
            underlay: c.val.underlay_ipv4,
        };
        let Reply::Host(host) = vpc_request(&Request::CreateHost(&spec))? else {
            return Err(EIO);
        };
        c.val.host = host;
        if let Err(e) = c.write_back() {
            // The caller cannot learn the number: do not leave the host.
            let _ = vpc_request(&Request::DeleteHost(host));
            return Err(e);
        }
        Ok(u64::from(host))
    })();
    split(r)
}

/// `NITRO_IOC_HOST_DELETE`: reads only the host number.
fn host_delete(arg: usize) -> (u64, Result) {
    let h = match InOut::<uapi::nitro_host_info>::read(arg) {
        Ok(h) => h,
        Err(e) => return (0, Err(e)),
    };
    let r = ensure(all_zero(&h.val.as_bytes()[8..]))
        .and_then(|()| vpc_request(&Request::DeleteHost(h.val.host)).map(|_| ()));
    (u64::from(h.val.host), r)
}

/// `NITRO_IOC_HOST_DESCRIBE`.
fn host_describe(arg: usize) -> Result {
    let mut h = InOut::<uapi::nitro_host_info>::read(arg)?;
    ensure(all_zero(&h.val.as_bytes()[8..]))?;
    let info = bus::card_for(CardKind::Vpc)?.host_info(h.val.host)?;
    let v = &mut h.val;
    v.underlay_ipv4 = info.underlay;
    v.enis = info.enis;
    v.maps = info.maps;
    v.peers = info.peers;
    let [a, b, c, d, e, f, g, i, j, k, l, m] = info.counters;
    (v.tx_sealed, v.rx_sealed, v.tx_plain, v.rx_plain) = (a, b, c, d);
    (v.rx_bad_auth, v.rx_replay, v.rx_no_key, v.rx_not_allowed) = (e, f, g, i);
    (v.rx_malformed, v.tx_no_key, v.tx_errors, v.rx_backlog) = (j, k, l, m);
    h.write_back()
}

/// `NITRO_IOC_MAP_SET` and `NITRO_IOC_MAP_DELETE` (input only).
fn map_change<const DELETE_IT: bool>(arg: usize) -> (u64, Result) {
    let m = match InOut::<uapi::nitro_map>::read(arg) {
        Ok(m) => m,
        Err(e) => return (0, Err(e)),
    };
    let r = (|| -> Result {
        let v = &m.val;
        let spec = MapSpec {
            host: v.host,
            vpc: v.vpc,
            ipv4: v.ipv4,
            mac: v.mac,
            underlay: v.underlay_ipv4,
            nitro: v.flags & uapi::NITRO_MAP_NITRO != 0,
        };
        if DELETE_IT {
            ensure(state::eni_addressing(v.vpc, &[0; 6], v.ipv4))?;
            ensure(all_zero(&m.val.as_bytes()[16..]))?;
            vpc_request(&Request::DeleteMap(&spec))?;
        } else {
            ensure(v.pad == [0; 2] && v.flags & !uapi::NITRO_MAP_NITRO == 0)?;
            ensure(state::map_entry(v.vpc, &v.mac, v.ipv4, v.underlay_ipv4))?;
            vpc_request(&Request::SetMap(&spec))?;
        }
        Ok(())
    })();
    // Audited under the host even when refused.
    (u64::from(m.val.host), r)
}

/// `NITRO_IOC_PEER_KEY` (input only; the key is wiped after use).
fn peer_key(arg: usize) -> (u64, Result) {
    let mut k = match InOut::<uapi::nitro_peer_key>::read(arg) {
        Ok(k) => k,
        Err(e) => return (0, Err(e)),
    };
    let host = k.val.host;
    let r = (|| -> Result {
        let spec = PeerKeySpec {
            host: k.val.host,
            peer: k.val.peer_ipv4,
            epoch: k.val.epoch,
            key: k.val.key,
        };
        k.val.key.fill(0);
        core::hint::black_box(&mut k.val.key);
        ensure(spec.epoch != 0 && !all_zero(&spec.key) && state::unicast_ipv4(spec.peer))?;
        vpc_request(&Request::SetPeerKey(&spec))?;
        Ok(())
    })();
    (u64::from(host), r)
}

/// After a create: if the answer cannot reach the caller, the caller cannot
/// know the id, so the object is deleted again rather than left orphaned.
fn finish_create<S: registry::Spec>(id: u64, written: Result) -> Result<u64> {
    match written {
        Ok(()) => Ok(id),
        Err(e) => {
            let _ = registry::change::<S>(id, Op::Delete, DevName::EMPTY);
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

const DELETE: u8 = 0;
const DETACH: u8 = 1;

/// `NITRO_IOC_{VOLUME,ENI}_{DELETE,DETACH}`: input only, nothing written back.
fn change<S: registry::Spec, const OP: u8>(arg: usize) -> (u64, Result) {
    let r = match InOut::<uapi::nitro_object_ref>::read(arg) {
        Ok(r) => r,
        Err(e) => return (0, Err(e)),
    };
    let id = r.val.id;
    let op = if OP == DELETE { Op::Delete } else { Op::Detach };
    let result = ensure(r.val.reserved == 0)
        .and_then(|()| registry::change::<S>(id, op, DevName::EMPTY).map(|_| ()));
    (id, result)
}

/// `NITRO_IOC_{VOLUME,ENI}_ATTACH`.
fn attach<S: registry::Spec>(arg: usize) -> (u64, Result) {
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
        a.probe_writable()?;
        let used = registry::change::<S>(id, Op::Attach, device)?;
        a.val.device = *used.raw();
        a.write_back()
    })();
    (id, result)
}

/// The common part of an object's ABI info.
fn common<S: Copy, const N: usize, const D: usize, const C: usize>(
    o: &Obj<S>,
    name: &Tag,
    out_name: &mut [u8; N],
    out_device: &mut [u8; D],
    out_card: &mut [u8; C],
) -> u32 {
    fill_name(out_name, name.as_str());
    fill_name(out_device, o.device.as_str());
    fill_name(out_card, o.card_name.as_str());
    o.state as u32
}

fn volume_info(o: &Obj<VolumeSpec>) -> uapi::nitro_volume_info {
    let mut i = uapi::nitro_volume_info {
        id: o.spec.id,
        kind: match o.spec.kind {
            VolumeKind::Ebs => uapi::NITRO_VOLUME_EBS,
            VolumeKind::Instance => uapi::NITRO_VOLUME_INSTANCE,
        },
        size_bytes: o.spec.size_bytes,
        block_size: o.spec.block_size,
        ..Default::default()
    };
    i.state = common(o, &o.spec.name, &mut i.name, &mut i.device, &mut i.card);
    i
}

fn eni_info(o: &Obj<EniSpec>) -> uapi::nitro_eni_info {
    let mut i = uapi::nitro_eni_info {
        id: o.spec.id,
        vpc: o.spec.vpc,
        mac: o.spec.mac,
        ipv4: o.spec.ipv4,
        host: o.spec.host,
        ..Default::default()
    };
    i.state = common(o, &o.spec.name, &mut i.name, &mut i.device, &mut i.card);
    i
}

/// `NITRO_IOC_VOLUME_DESCRIBE`.
fn volume_describe(arg: usize) -> Result {
    let mut d = InOut::<uapi::nitro_volume_describe>::read(arg)?;
    ensure(d.val.reserved == 0 && all_zero(d.val.info.as_bytes()))?;
    d.val.info = volume_info(&registry::describe::<VolumeSpec>(d.val.id)?);
    d.write_back()
}

/// `NITRO_IOC_ENI_DESCRIBE`.
fn eni_describe(arg: usize) -> Result {
    let mut d = InOut::<uapi::nitro_eni_describe>::read(arg)?;
    ensure(d.val.reserved == 0 && all_zero(d.val.info.as_bytes()))?;
    d.val.info = eni_info(&registry::describe::<EniSpec>(d.val.id)?);
    d.write_back()
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

/// `NITRO_IOC_VOLUME_LIST`.
fn volume_list(arg: usize) -> Result {
    list(arg, uapi::NITRO_VOLUME_INFO_SIZE_VER0, |after, cap| {
        let (objs, more) = registry::list::<VolumeSpec>(after, cap)?;
        Ok((keyed(objs, |o| o.spec.id, volume_info)?, more))
    })
}

/// `NITRO_IOC_ENI_LIST`.
fn eni_list(arg: usize) -> Result {
    list(arg, uapi::NITRO_ENI_INFO_SIZE_VER0, |after, cap| {
        let (objs, more) = registry::list::<EniSpec>(after, cap)?;
        Ok((keyed(objs, |o| o.spec.id, eni_info)?, more))
    })
}

/// `NITRO_IOC_AUDIT`.
fn audit_list(arg: usize) -> Result {
    list(arg, uapi::NITRO_AUDIT_ENTRY_SIZE_VER0, |after, cap| {
        let (entries, more) = audit::list(after, cap)?;
        let mut out = KVVec::with_capacity(entries.len(), GFP_KERNEL)?;
        for e in entries.iter() {
            out.push((e.seq, *e), GFP_KERNEL)?;
        }
        Ok((out, more))
    })
}

/// `NITRO_IOC_METRICS`: asks the card now; nothing is collected otherwise.
fn metrics(arg: usize) -> Result {
    let mut m = InOut::<uapi::nitro_metrics>::read(arg)?;
    // Everything after scope and id is output.
    ensure(all_zero(&m.val.as_bytes()[16..]))?;
    let (counters, requests, failures, objects) = match m.val.scope {
        uapi::NITRO_METRICS_VOLUME => (
            registry::card_of::<VolumeSpec>(m.val.id)?.metrics(m.val.id)?,
            0,
            0,
            0,
        ),
        uapi::NITRO_METRICS_ENI => (
            registry::card_of::<EniSpec>(m.val.id)?.metrics(m.val.id)?,
            0,
            0,
            0,
        ),
        uapi::NITRO_METRICS_CARD => {
            let (card, requests, failures) = bus::card_at(m.val.id)?;
            (card.totals(), requests, failures, card.objects())
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
    v.read_hist = counters.read_hist;
    v.write_hist = counters.write_hist;
    m.write_back()
}

/// `NITRO_IOC_FIRMWARE_STATUS`.
fn firmware_status(arg: usize) -> Result {
    let mut f = InOut::<uapi::nitro_firmware_status>::read(arg)?;
    ensure(all_zero(&f.val.as_bytes()[4..]))?;
    let (state, allowlist, writes, failed) = gate::status();
    let v = &mut f.val;
    v.gate = state;
    v.allowlist = allowlist as u32;
    v.write_attempts = writes;
    v.failed = *failed.raw();
    v.alg = uapi::NITRO_HASH_SHA384;
    v.nregs = uapi::NITRO_FW_REGISTERS;
    if let Ok(chip) = bus::card_for(CardKind::Security) {
        v.measurements = chip.measurements()?.len() as u32;
        for (dst, src) in v.regs.iter_mut().zip(chip.registers().iter()) {
            dst[..SHA384_LEN].copy_from_slice(src);
        }
    }
    f.write_back()
}

/// `NITRO_IOC_FIRMWARE_LOG`.
fn firmware_log(arg: usize) -> Result {
    list(arg, uapi::NITRO_MEASUREMENT_SIZE_VER0, |after, cap| {
        let log = match bus::card_for(CardKind::Security) {
            Ok(chip) => chip.measurements()?,
            Err(_) => KVec::new(),
        };
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        let mut out = KVVec::with_capacity(cap.min(log.len()), GFP_KERNEL)?;
        for (i, m) in log.iter().enumerate().skip(start).take(cap) {
            let mut e = uapi::nitro_measurement {
                index: i as u32,
                alg: uapi::NITRO_HASH_SHA384,
                size_bytes: m.size,
                component: *m.component.raw(),
                reg: m.reg,
                digest_len: SHA384_LEN as u32,
                ..Default::default()
            };
            e.digest[..SHA384_LEN].copy_from_slice(&m.digest);
            out.push((i as u64 + 1, e), GFP_KERNEL)?;
        }
        let more = start.saturating_add(cap) < log.len();
        Ok((out, more))
    })
}

/// Bytes allowed in a firmware component name: a name byte or `/`.
fn component_byte(b: u8) -> bool {
    state::name_byte(b) || b == b'/'
}

/// `NITRO_IOC_FIRMWARE_ALLOW`: audited with object id 0.
fn firmware_allow(arg: usize) -> (u64, Result) {
    let r = (|| -> Result {
        let mut a = InOut::<uapi::nitro_firmware_allow>::read(arg)?;
        ensure(a.val.gate == 0 && all_zero(&a.val.failed))?;
        ensure(a.val.count <= uapi::NITRO_ALLOW_MAX)?;
        ensure(a.val.entries != 0 || a.val.count == 0)?;
        let list = read_allowlist(a.val.entries, a.val.count, a.val.entry_size)?;
        a.probe_writable()?;
        let (state, failed) = gate::allow(list)?;
        a.val.gate = state;
        a.val.failed = *failed.raw();
        a.write_back()
    })();
    (0, r)
}

/// Reads and checks an allowlist from userspace.
fn read_allowlist(base: u64, count: u32, esize: u32) -> Result<KVec<gate::Allowed>> {
    let mut list = KVec::with_capacity(count as usize, GFP_KERNEL)?;
    for i in 0..count {
        let e: uapi::nitro_allow_entry =
            crate::user::read_element(base, i, esize, uapi::NITRO_ALLOW_ENTRY_SIZE_VER0 as usize)?;
        ensure(e.alg == uapi::NITRO_HASH_SHA384)?;
        ensure(e.digest_len == uapi::NITRO_SHA384_LEN)?;
        ensure(all_zero(&e.digest[SHA384_LEN..]))?;
        let component = field(&e.component, component_byte)?;
        ensure(!component.is_empty())?;
        if list
            .iter()
            .any(|a: &gate::Allowed| a.component == component)
        {
            return Err(EEXIST);
        }
        let mut digest = [0u8; SHA384_LEN];
        digest.copy_from_slice(&e.digest[..SHA384_LEN]);
        list.push(gate::Allowed { component, digest }, GFP_KERNEL)?;
    }
    Ok(list)
}

/// `NITRO_IOC_FIRMWARE_UPDATE`: the security chip denies every firmware
/// write. There is no code path that writes firmware: the request is
/// counted, logged and refused, whatever it contains.
fn firmware_update(_arg: usize) -> (u64, Result) {
    (0, Err(gate::write_refused("the update ioctl")))
}
