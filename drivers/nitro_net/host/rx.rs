// SPDX-License-Identifier: GPL-2.0

//! The underlay receive path: a datagram that arrived on the host's socket,
//! opened (sealed) or taken (plain Geneve), checked against the tables and
//! delivered to its ENI, in softirq or by the host's receive worker.

use super::{Host, RX, RX_HEADROOM};
use crate::{
    gcm::{NONCE_LEN, TAG_LEN},
    sg::SG_FRAME,
    skb::{Offload, Skb},
    wire::{self, OffloadOpt, ARP_FRAME_LEN, ETH_LEN, GENEVE_LEN, SEAL_LEN},
};
use kernel::{
    prelude::*,
    sync::{rcu, Arc, ArcBorrow},
    workqueue::WorkItem,
};
use nitro_ctrl::bus::HostCounter;

/// Length of the UDP header in front of a datagram the socket hands over.
const UDP_LEN: usize = 8;
/// Most datagrams waiting for a host's receive worker; more are dropped
/// (as the kernel's own backlog does at `netdev_max_backlog`).
const RX_BACKLOG: usize = 1024;
/// Largest datagram opened at once in softirq when nothing is waiting (an
/// ACK, a request of a request/response exchange): a trip through the
/// worker costs such a packet more than opening it.
const RX_INLINE_MAX: usize = 512;

/// The receive worker: opens and delivers what the socket queued, on
/// whichever CPU the unbound work queue runs it (see [`receive`]).
impl WorkItem<RX> for Host {
    type Pointer = Arc<Host>;

    fn run(this: Arc<Host>) {
        this.drain_rx();
    }
}

impl Host {
    /// Opens and delivers the queued datagrams, in the order they came,
    /// until none is left. Another opening in progress (busy) queues the
    /// worker again when it ends.
    fn drain_rx(&self) {
        loop {
            // Not `while let`: its guard would live through the body.
            let Some(mut batch) = self.rxq.lock().take() else {
                return;
            };
            {
                // The data path runs in RCU read-side sections: detach
                // waits for them before an ENI's device goes.
                let _rcu = rcu::read_lock();
                for (skb, src) in batch.drain_all() {
                    open_and_deliver(self, skb, src);
                }
            }
            self.rxq.lock().release(Some(batch));
        }
    }
}

/// The underlay receive path: a datagram (UDP header first) that arrived on
/// `host`'s socket, in softirq context.
///
/// Large datagrams are queued for the host's worker, so that opening and
/// delivery run beside the sender's CPU, not after it on the same one (a
/// sending stack runs the whole receive path in its own softirq
/// otherwise). A small one is opened here if nothing of the host is
/// waiting or being opened. Either way the host's datagrams are opened one
/// at a time, in the order they came.
pub(crate) fn receive(host: ArcBorrow<'_, Host>, skb: Skb, src: u32) {
    let mut q = host.rxq.lock();
    if skb.len() <= RX_INLINE_MAX && q.claim() {
        drop(q);
        // Softirq: already an RCU read-side section.
        open_and_deliver(&host, skb, src);
        if host.rxq.lock().release(None) {
            kick_rx(host);
        }
        return;
    }
    let pushed = q.push((skb, src), RX_BACKLOG);
    drop(q);
    match pushed {
        Ok(()) => kick_rx(host),
        Err(skb) => {
            drop(skb);
            host.bump(HostCounter::RxBacklog);
        }
    }
}

/// Queues `host`'s receive worker; if it is already queued and has not
/// started, it takes what was added too.
fn kick_rx(host: ArcBorrow<'_, Host>) {
    let _ = host.wq.queue().enqueue::<_, RX>(Arc::from(host));
}

/// Opens a datagram the socket queued (from underlay address `src`) and
/// delivers its frame.
fn open_and_deliver(host: &Host, mut skb: Skb, src: u32) {
    let outer = skb.offload();
    // The UDP header, then the sealed header (or the start of Geneve).
    let mut head = [0u8; UDP_LEN + SEAL_LEN];
    let n = skb.len().min(head.len());
    let opened = match skb.copy_out(0, &mut head[..n]) {
        Ok(()) if n > UDP_LEN && head[UDP_LEN] == wire::SEAL_MARK => {
            open_sealed(host, src, &mut skb, &head[UDP_LEN..n])
                .map(|(vni, inner, opt)| (vni, inner, Some(opt)))
        }
        Ok(()) if n > UDP_LEN => match skb.linear() {
            Ok(data) => open_plain(host, src, &data[UDP_LEN..], &outer)
                .map(|(vni, inner)| (vni, inner, None)),
            Err(_) => Err(HostCounter::RxMalformed),
        },
        _ => Err(HostCounter::RxMalformed),
    };
    let result = opened.and_then(|(vni, inner, sealed)| deliver(host, src, vni, inner, sealed));
    match result {
        Ok(()) => skb.consume(),
        Err(why) => {
            host.bump(why);
            drop(skb);
        }
    }
}

/// Opens the sealed packet in datagram `skb` (UDP header first; `head`:
/// the start of its payload) from `src`: its VNI, frame and offload
/// option. The cipher reads the datagram where it lies, in as many pieces
/// as it arrived in.
fn open_sealed(
    host: &Host,
    src: u32,
    skb: &mut Skb,
    head: &[u8],
) -> Result<(u32, Skb, Option<OffloadOpt>), HostCounter> {
    let (epoch, counter) = wire::parse_seal(head).ok_or(HostCounter::RxMalformed)?;
    let len = skb.len() - UDP_LEN;
    if len < SEAL_LEN + GENEVE_LEN + ETH_LEN + TAG_LEN {
        return Err(HostCounter::RxMalformed);
    }
    let key = host.key_for(src, epoch).ok_or(HostCounter::RxNoKey)?;
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&head[4..SEAL_LEN]);
    skb.fit_sg(SG_FRAME).map_err(|_| HostCounter::RxMalformed)?;
    // Opened with its header in front (the AEAD layout), which then goes.
    let mut inner = Skb::alloc(RX_HEADROOM, len - TAG_LEN).map_err(|_| HostCounter::RxMalformed)?;
    if !key.open_skb(&mut inner, skb, UDP_LEN, len, SEAL_LEN, &nonce) {
        return Err(HostCounter::RxBadAuth);
    }
    inner.pull(SEAL_LEN).map_err(|_| HostCounter::RxMalformed)?;
    // Only a packet that authenticated moves the window.
    if !host.fresh(src, epoch, counter) {
        return Err(HostCounter::RxReplay);
    }
    let mut g = [0u8; GENEVE_LEN + wire::OPT_LEN];
    let n = inner.len().min(g.len());
    inner
        .copy_out(0, &mut g[..n])
        .map_err(|_| HostCounter::RxMalformed)?;
    let (vni, glen, opt) = wire::parse_geneve(&g[..n]).ok_or(HostCounter::RxMalformed)?;
    inner.pull(glen).map_err(|_| HostCounter::RxMalformed)?;
    Ok((vni, inner, opt))
}

/// Takes a plain Geneve packet `p` (UDP payload) from `src`. `outer` is
/// the datagram's offload state: a stock Geneve device in another namespace
/// of this kernel leaves the inner checksum partial (veth carries that
/// state, where a wire would carry a finished checksum), and it stays so.
fn open_plain(host: &Host, src: u32, p: &[u8], outer: &Offload) -> Result<(u32, Skb), HostCounter> {
    // An offload option is believed only sealed: ignored here.
    let (vni, glen, _) = wire::parse_geneve(p).ok_or(HostCounter::RxMalformed)?;
    if !host.plain_allowed(src) {
        return Err(HostCounter::RxNotAllowed);
    }
    let frame = &p[glen..];
    if frame.len() < ETH_LEN {
        return Err(HostCounter::RxMalformed);
    }
    let mut inner = Skb::alloc(RX_HEADROOM, frame.len()).map_err(|_| HostCounter::RxMalformed)?;
    inner
        .put(frame.len())
        .map_err(|_| HostCounter::RxMalformed)?
        .copy_from_slice(frame);
    // `csum_start` counts from the UDP header, 8 bytes before `p`.
    let at = 8 + glen;
    if outer.partial && usize::from(outer.csum_start) >= at {
        inner
            .set_csum_partial(outer.csum_start - at as u16, outer.csum_offset)
            .map_err(|_| HostCounter::RxMalformed)?;
    }
    Ok((vni, inner))
}

/// Delivers an inner frame of `vpc` from underlay `src` to its ENI;
/// `sealed` is the offload option of a sealed packet (`Some(None)`: none),
/// `None` for plain Geneve.
fn deliver(
    host: &Host,
    src: u32,
    vpc: u32,
    mut inner: Skb,
    sealed: Option<Option<OffloadOpt>>,
) -> Result<(), HostCounter> {
    let len = inner.len();
    let mut head = [0u8; ARP_FRAME_LEN];
    let n = len.min(head.len());
    inner
        .copy_out(0, &mut head[..n])
        .map_err(|_| HostCounter::RxMalformed)?;
    let f = wire::parse(&head[..n]).ok_or(HostCounter::RxMalformed)?;
    let port = host
        .rx_port(vpc, src, &f)
        .ok_or(HostCounter::RxNotAllowed)?;
    let gso_size = match sealed {
        Some(Some(o)) if o.tso4 => o.gso_size,
        _ => 0,
    };
    if !port.filter(&inner, true) {
        // Denied by the ENI's security groups: counted by `filter`.
        return Ok(());
    }
    if !port.admit(true, len, gso_size) {
        // Over the ENI's allowance in: dropped, counted by `admit`.
        return Ok(());
    }
    if let Some(Some(o)) = sealed {
        if o.partial {
            inner
                .set_csum_partial(o.csum_start, o.csum_offset)
                .map_err(|_| HostCounter::RxMalformed)?;
        }
        if o.tso4 {
            if !o.partial || o.gso_size == 0 || f.ip.is_none() {
                return Err(HostCounter::RxMalformed);
            }
            inner
                .set_tso4(o.gso_size)
                .map_err(|_| HostCounter::RxMalformed)?;
        }
    }
    port.received(len);
    port.dev.deliver(inner);
    host.bump(if sealed.is_some() {
        HostCounter::RxSealed
    } else {
        HostCounter::RxPlain
    });
    Ok(())
}
