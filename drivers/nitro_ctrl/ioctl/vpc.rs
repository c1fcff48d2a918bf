// SPDX-License-Identifier: GPL-2.0

//! `NITRO_IOC_HOST_*`, `NITRO_IOC_MAP_*` and `NITRO_IOC_PEER_KEY`: the VPC
//! card's hosts, mapping tables and keys. The card keeps all of it; the
//! controller only checks the form of each request and audits it.

use super::{ensure, split};
use crate::{
    abi_rules::all_zero,
    bus::{CardKind, HostCounter, HostSpec, MapSpec, PeerKeySpec, Reply, Request},
    controller::Controller,
    state, uapi,
    user::{read_element, write_element, InOut},
};
use kernel::{prelude::*, transmute::AsBytes};

/// Sends a request to the VPC card, once the boot gate allows changes.
fn vpc_request(ctrl: &Controller, req: &Request<'_>) -> Result<Reply> {
    ctrl.gate.check("a VPC change")?;
    ctrl.bus.card_for(CardKind::Vpc)?.request(req)
}

/// `NITRO_IOC_HOST_CREATE`.
pub(super) fn host_create(ctrl: &Controller, arg: usize) -> (u64, Result) {
    let r = (|| -> Result<u64> {
        let mut c = InOut::<uapi::nitro_host_create>::read(arg)?;
        ensure(c.val.flags == 0 && c.val.host == 0 && c.val.reserved == 0)?;
        ensure(state::unicast_ipv4(c.val.underlay_ipv4))?;
        c.probe_writable()?;
        let spec = HostSpec {
            netns_fd: c.val.netns_fd,
            underlay: c.val.underlay_ipv4,
        };
        let Reply::Host(host) = vpc_request(ctrl, &Request::CreateHost(&spec))? else {
            return Err(EIO);
        };
        c.val.host = host;
        if let Err(e) = c.write_back() {
            // The caller cannot learn the number: do not leave the host.
            let _ = vpc_request(ctrl, &Request::DeleteHost(host));
            return Err(e);
        }
        Ok(u64::from(host))
    })();
    split(r)
}

/// `NITRO_IOC_HOST_DELETE`: reads only the host number.
pub(super) fn host_delete(ctrl: &Controller, arg: usize) -> (u64, Result) {
    let h = match InOut::<uapi::nitro_host_info>::read(arg) {
        Ok(h) => h,
        Err(e) => return (0, Err(e)),
    };
    let r = ensure(all_zero(&h.val.as_bytes()[8..]))
        .and_then(|()| vpc_request(ctrl, &Request::DeleteHost(h.val.host)).map(|_| ()));
    (u64::from(h.val.host), r)
}

/// `NITRO_IOC_HOST_DESCRIBE`.
pub(super) fn host_describe(ctrl: &Controller, arg: usize) -> Result {
    let mut h = InOut::<uapi::nitro_host_info>::read(arg)?;
    ensure(all_zero(&h.val.as_bytes()[8..]))?;
    let info = ctrl.bus.card_for(CardKind::Vpc)?.host_info(h.val.host)?;
    let v = &mut h.val;
    v.underlay_ipv4 = info.underlay;
    v.enis = info.enis;
    v.maps = info.maps;
    v.peers = info.peers;
    use HostCounter::*;
    v.tx_sealed = info.counter(TxSealed);
    v.rx_sealed = info.counter(RxSealed);
    v.tx_plain = info.counter(TxPlain);
    v.rx_plain = info.counter(RxPlain);
    v.rx_bad_auth = info.counter(RxBadAuth);
    v.rx_replay = info.counter(RxReplay);
    v.rx_no_key = info.counter(RxNoKey);
    v.rx_not_allowed = info.counter(RxNotAllowed);
    v.rx_malformed = info.counter(RxMalformed);
    v.tx_no_key = info.counter(TxNoKey);
    v.tx_errors = info.counter(TxErrors);
    v.rx_backlog = info.counter(RxBacklog);
    h.write_back()
}

/// The mapping entry `v` asks for, if its form is right: to set it, or
/// with `delete` to remove it (only host, VPC and address then).
fn map_spec(v: &uapi::nitro_map, delete: bool) -> Result<MapSpec> {
    let spec = MapSpec {
        host: v.host,
        vpc: v.vpc,
        ipv4: v.ipv4,
        mac: v.mac,
        underlay: v.underlay_ipv4,
        nitro: v.flags & uapi::NITRO_MAP_NITRO != 0,
    };
    if delete {
        ensure(state::eni_addressing(v.vpc, &[0; 6], v.ipv4))?;
        ensure(all_zero(&v.as_bytes()[16..]))?;
    } else {
        ensure(v.pad == [0; 2] && v.flags & !uapi::NITRO_MAP_NITRO == 0)?;
        ensure(state::map_entry(v.vpc, &v.mac, v.ipv4, v.underlay_ipv4))?;
    }
    Ok(spec)
}

/// `NITRO_IOC_MAP_SET` and, with `delete`, `NITRO_IOC_MAP_DELETE` (input
/// only). Audited under the host even when refused.
pub(super) fn map_change(ctrl: &Controller, arg: usize, delete: bool) -> (u64, Result) {
    let m = match InOut::<uapi::nitro_map>::read(arg) {
        Ok(m) => m,
        Err(e) => return (0, Err(e)),
    };
    let r = map_spec(&m.val, delete).and_then(|spec| {
        let req = if delete {
            Request::DeleteMap(&spec)
        } else {
            Request::SetMap(&spec)
        };
        vpc_request(ctrl, &req).map(|_| ())
    });
    (u64::from(m.val.host), r)
}

/// Entries of a batch the controller reads from the caller and sends to
/// the card at a time.
const BATCH_CHUNK: usize = 1024;

/// `NITRO_IOC_MAP_BATCH`: one audit record for the whole batch, under the
/// host.
pub(super) fn map_batch(ctrl: &Controller, arg: usize) -> (u64, Result) {
    let mut b = match InOut::<uapi::nitro_map_batch>::read(arg) {
        Ok(b) => b,
        Err(e) => return (0, Err(e)),
    };
    let host = b.val.host;
    let r = (|| -> Result {
        let v = &b.val;
        ensure(v.done == 0 && v.reserved == 0 && v.flags & !uapi::NITRO_MAP_BATCH_DELETE == 0)?;
        ensure((1..=uapi::NITRO_MAP_BATCH_MAX).contains(&v.count))?;
        b.probe_writable()?;
        let delete = v.flags & uapi::NITRO_MAP_BATCH_DELETE != 0;
        let (base, count) = (v.entries, v.count as usize);
        let mut chunk = KVVec::with_capacity(BATCH_CHUNK.min(count), GFP_KERNEL)?;
        let mut done = 0;
        let mut failed = None;
        while done < count && failed.is_none() {
            chunk.clear();
            // An entry of bad form ends the chunk: the ones before it are
            // applied, and its error is the batch's.
            for i in done..count.min(done + BATCH_CHUNK) {
                let e =
                    read_element::<uapi::nitro_map>(base, i as u32, 0, MAP_SIZE).and_then(|m| {
                        ensure(m.size as usize == MAP_SIZE && m.host == host)?;
                        map_spec(&m, delete)
                    });
                match e {
                    Ok(spec) => chunk.push(spec, GFP_KERNEL)?,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            if chunk.is_empty() {
                break;
            }
            let req = Request::MapBatch {
                maps: &chunk,
                delete,
            };
            match vpc_request(ctrl, &req)? {
                Reply::Batch { done: n, err } => {
                    done += n.min(chunk.len());
                    if err.is_some() {
                        failed = err;
                    }
                }
                _ => return Err(EIO),
            }
        }
        b.val.done = done as u32;
        failed.map_or(Ok(()), Err)
    })();
    // `done` is written back also when an entry failed: it says which.
    let w = b.write_back();
    (u64::from(host), r.and(w))
}

/// `NITRO_IOC_MAP_LIST`.
pub(super) fn map_list(ctrl: &Controller, arg: usize) -> Result {
    let mut l = InOut::<uapi::nitro_map_list>::read(arg)?;
    let v = &l.val;
    ensure(v.count == 0 && v.more == 0 && v.cap <= uapi::NITRO_LIST_MAX)?;
    ensure(v.entries != 0 || v.cap == 0)?;
    let req = Request::ListMaps {
        host: v.host,
        from: v.cursor,
        cap: v.cap as usize,
    };
    let Reply::Maps(maps, next) = ctrl.bus.card_for(CardKind::Vpc)?.request(&req)? else {
        return Err(EIO);
    };
    for (i, m) in maps.iter().enumerate() {
        let e = uapi::nitro_map {
            size: MAP_SIZE as u32,
            host: m.host,
            vpc: m.vpc,
            ipv4: m.ipv4,
            mac: m.mac,
            underlay_ipv4: m.underlay,
            flags: if m.nitro { uapi::NITRO_MAP_NITRO } else { 0 },
            ..Default::default()
        };
        write_element(l.val.entries, i as u32, l.val.entry_size, MAP_SIZE, &e)?;
    }
    l.val.count = maps.len() as u32;
    l.val.more = u32::from(next.is_some());
    l.val.cursor = next.unwrap_or(0);
    l.write_back()
}

/// Size of `struct nitro_map`, the entries of batches and lists.
const MAP_SIZE: usize = uapi::NITRO_MAP_SIZE_VER0 as usize;

/// `NITRO_IOC_PEER_KEY` (input only; the key is wiped after use).
pub(super) fn peer_key(ctrl: &Controller, arg: usize) -> (u64, Result) {
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
        vpc_request(ctrl, &Request::SetPeerKey(&spec))?;
        Ok(())
    })();
    (u64::from(host), r)
}
