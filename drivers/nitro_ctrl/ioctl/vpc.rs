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
    user::InOut,
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

/// `NITRO_IOC_MAP_SET` and, with `delete`, `NITRO_IOC_MAP_DELETE` (input
/// only). Audited under the host even when refused.
pub(super) fn map_change(ctrl: &Controller, arg: usize, delete: bool) -> (u64, Result) {
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
        if delete {
            ensure(state::eni_addressing(v.vpc, &[0; 6], v.ipv4))?;
            ensure(all_zero(&m.val.as_bytes()[16..]))?;
            vpc_request(ctrl, &Request::DeleteMap(&spec))?;
        } else {
            ensure(v.pad == [0; 2] && v.flags & !uapi::NITRO_MAP_NITRO == 0)?;
            ensure(state::map_entry(v.vpc, &v.mac, v.ipv4, v.underlay_ipv4))?;
            vpc_request(ctrl, &Request::SetMap(&spec))?;
        }
        Ok(())
    })();
    (u64::from(m.val.host), r)
}

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
