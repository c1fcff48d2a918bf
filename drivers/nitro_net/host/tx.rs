// SPDX-License-Identifier: GPL-2.0

//! The transmit path: a frame an ENI's guest sent, checked (anti-spoofing),
//! answered (ARP), switched to a local port, or wrapped in Geneve (sealed
//! for a Nitro peer, by the host's transmit worker or at once) and sent on
//! the host's socket.

use super::{counters::PortCounter, Host, Port, RX_HEADROOM, TX};
use crate::{
    gcm::{GcmKey, NONCE_LEN, TAG_LEN},
    net::{Route, HEADROOM},
    sg::SG_FRAME,
    skb::Skb,
    wire::{self, Arp, ARP_FRAME_LEN, ETH_LEN, GENEVE_LEN, OPT_LEN, SEAL_LEN},
};
use kernel::{
    prelude::*,
    sync::{Arc, ArcBorrow},
    workqueue::WorkItem,
};
use nitro_ctrl::{bus::HostCounter, wq};

/// Most sealed frames waiting for a host's transmit worker; more are
/// dropped (the sockets they come from wait on their send buffers first).
const TX_BACKLOG: usize = 1024;
/// Largest frame sealed at once by the sender when nothing is waiting (an
/// ACK, a request of a request/response exchange): a trip through the
/// worker costs such a frame more than sealing it.
const TX_INLINE_MAX: usize = 512;

/// A frame for a Nitro peer, waiting for the host's transmit worker to
/// seal and send it: where it goes and how, as [`xmit`] found.
pub(super) struct TxJob {
    port: Arc<Port>,
    skb: Skb,
    out: Out,
    seal: Seal,
}

/// The transmit worker: seals and sends what the ENIs queued (see
/// [`xmit`]), one batch per run, then queues itself again if more came:
/// flushing it (when an ENI stops) waits for one batch, not for traffic of
/// other ENIs to pause.
impl WorkItem<TX> for Host {
    type Pointer = Arc<Host>;

    fn run(this: Arc<Host>) {
        let Some(mut batch) = this.txq.lock().take() else {
            return;
        };
        for job in batch.drain_all() {
            send_job(job);
        }
        if this.txq.lock().release(Some(batch)) {
            kick_tx(this.as_arc_borrow());
        }
    }
}

/// Where a frame from the guest goes.
pub(super) enum Tx {
    /// To an ENI on the same host.
    Local(Arc<Port>),
    /// To a peer host (network byte order): sealed if it is a Nitro host
    /// (`true`: the host has its key), else plain.
    Remote(u32, bool),
    /// An ARP request the card answers with this MAC.
    ArpReply([u8; 6], Arp),
    /// Nowhere: dropped and counted.
    Drop(PortCounter),
    /// Nowhere, silently (the guest's own gratuitous ARP).
    Absorb,
}

impl Host {
    /// Waits until the transmit worker has sent every frame of ENI `eni`
    /// it holds. Called when the ENI's device stops, after the core has
    /// waited for the device's transmissions in progress (so none is
    /// queued any more): the frames it took are sent, not lost, and the
    /// worker uses its device no more.
    pub(crate) fn stop_tx(&self, eni: u64) {
        loop {
            let waiting = self.txq.lock().any(|job| job.port.eni == eni);
            // Waits for the run in progress (which may hold frames of the
            // ENI taken before the look), and for a queued one.
            wq::flush_work(&self.tx_work);
            if !waiting {
                return;
            }
        }
    }
}

/// Where a frame the guest sent on `port` goes (`head`: its first bytes).
fn route(port: &Port, head: &[u8]) -> Tx {
    let Some(f) = wire::parse(head) else {
        return Tx::Drop(PortCounter::Unsupported);
    };
    if f.src != port.mac {
        return Tx::Drop(PortCounter::Spoofed);
    }
    match (f.proto, f.ip, f.arp) {
        (wire::ETH_P_IP, Some((src, _)), _) if src != port.ipv4 => {
            return Tx::Drop(PortCounter::Spoofed)
        }
        (wire::ETH_P_IP, Some(_), _) => {}
        (wire::ETH_P_ARP, _, Some(a)) => {
            if a.sha != port.mac || a.spa != port.ipv4 {
                return Tx::Drop(PortCounter::Spoofed);
            }
            if a.op == 1 {
                if a.tpa == port.ipv4 {
                    return Tx::Absorb;
                }
                return match port.host.resolve(port.vpc, a.tpa) {
                    Some(mac) => Tx::ArpReply(mac, a),
                    None => Tx::Drop(PortCounter::NoMapping),
                };
            }
        }
        _ => return Tx::Drop(PortCounter::Unsupported),
    }
    if wire::is_group(&f.dst) {
        return Tx::Drop(PortCounter::Unsupported);
    }
    port.host.lookup(port.vpc, &f.dst)
}

/// Bytes of the IPv4 and UDP headers in front of every datagram.
const IP_UDP_LEN: usize = 28;

/// What seals a frame's datagrams: a key of the peer, its epoch, and the
/// counters taken for them (`next` to `end - 1`, in order).
pub(super) struct Seal {
    key: Arc<GcmKey>,
    epoch: u32,
    next: u64,
    end: u64,
}

impl Seal {
    /// Counters `next` to `end - 1` of `key`, which has epoch `epoch`.
    pub(super) fn new(key: Arc<GcmKey>, epoch: u32, next: u64, end: u64) -> Self {
        Self {
            key,
            epoch,
            next,
            end,
        }
    }

    /// The counter of the next datagram; `EMSGSIZE` when all are used
    /// (never: they were counted for the plan the datagrams follow).
    fn take(&mut self) -> Result<u64> {
        if self.next >= self.end {
            return Err(EMSGSIZE);
        }
        self.next += 1;
        Ok(self.next - 1)
    }
}

/// How a frame leaves: on which route, to whom, cut how.
pub(super) struct Out {
    rt: Route,
    to: u32,
    sport: u16,
    plan: Plan,
}

/// How a frame is cut so that every datagram fits its route's MTU with
/// DF set: no datagram of the card is ever fragmented (RFC 8085, RFC 8900).
#[derive(Clone, Copy)]
struct Plan {
    /// `None`: the frame goes whole, in one datagram. Else a TCP
    /// super-packet cut into segments of this many payload bytes (the last
    /// shorter), one datagram each: a multiple of its segment size when
    /// the datagram takes several (each sealed as a smaller super-packet),
    /// less than it when not even one segment fits (TCP takes segments of
    /// any size, so the connection goes on over a smaller path MTU).
    cut: Option<u16>,
    /// Bytes of the Ethernet, IPv4 and TCP headers of a cut frame.
    hdrs: usize,
    /// How many datagrams.
    datagrams: u64,
}

impl Plan {
    /// The plan for `skb` over a route of MTU `mtu`, sealed or plain;
    /// `EMSGSIZE` if the frame does not fit and cannot be cut (not TCP).
    fn new(skb: &Skb, mtu: usize, sealed: bool) -> Result<Self> {
        let off = skb.offload();
        let len = skb.len();
        let opt = sealed && (off.partial || off.gso_size != 0);
        let room = mtu.saturating_sub(overhead(sealed, opt));
        let whole = Self {
            cut: None,
            hdrs: 0,
            datagrams: 1,
        };
        if off.gso_size == 0 || (sealed && len <= room) {
            return if len <= room {
                Ok(whole)
            } else {
                Err(EMSGSIZE)
            };
        }
        // A plain peer takes finished frames: a super-packet is always cut,
        // into its segments or smaller ones.
        if !off.is_tso4() {
            return Err(EINVAL);
        }
        let hdrs = tcp_headers(skb, usize::from(off.csum_start))?;
        let payload = len.checked_sub(hdrs).ok_or(EINVAL)?;
        let mss = usize::from(off.gso_size);
        let fit = room.checked_sub(hdrs).filter(|f| *f > 0).ok_or(EMSGSIZE)?;
        let cut = if sealed && fit >= mss {
            fit / mss * mss
        } else {
            fit.min(mss)
        };
        if cut >= payload {
            return Ok(whole);
        }
        // Not 0 (`fit` and `mss` are not): saying so spares a check.
        let cut = core::num::NonZeroUsize::new(cut).ok_or(EMSGSIZE)?;
        Ok(Self {
            cut: Some(u16::try_from(cut.get()).map_err(|_| EMSGSIZE)?),
            hdrs,
            datagrams: payload.div_ceil(cut.get()) as u64,
        })
    }
}

/// Bytes a datagram adds to the frame it carries: IPv4, UDP, Geneve, and
/// for a sealed one the sealed header, the tag and (`opt`) the offload
/// option.
const fn overhead(sealed: bool, opt: bool) -> usize {
    let seal = if sealed { SEAL_LEN + TAG_LEN } else { 0 };
    IP_UDP_LEN + GENEVE_LEN + seal + if opt { OPT_LEN } else { 0 }
}

/// Bytes of the headers of a TCP frame whose TCP header starts at `start`.
fn tcp_headers(skb: &Skb, start: usize) -> Result<usize> {
    let mut doff = [0u8; 1];
    skb.copy_out(start + 12, &mut doff)?;
    Ok(start + usize::from(doff[0] >> 4) * 4)
}

/// The transmit path: a frame the guest sent on `port`.
pub(crate) fn xmit(port: ArcBorrow<'_, Port>, skb: Skb) {
    let len = skb.len();
    let gso_size = skb.offload().gso_size;
    if !port.admit(false, len, gso_size) {
        // Over the ENI's allowance out: dropped, counted by `admit`.
        port.dev.tx_dropped();
        return;
    }
    let mut head = [0u8; ARP_FRAME_LEN];
    let n = len.min(head.len());
    let tx = match skb.copy_out(0, &mut head[..n]) {
        Ok(()) => route(&port, &head[..n]),
        Err(_) => Tx::Drop(PortCounter::Unsupported),
    };
    let filtered = match &tx {
        Tx::Local(_) | Tx::Remote(..) => !port.filter(&skb, false),
        _ => false,
    };
    if filtered {
        // Denied by the ENI's security groups: counted by `filter`.
        port.dev.tx_dropped();
        return;
    }
    match tx {
        Tx::Local(to) => {
            if !to.filter(&skb, true) {
                // Left this ENI, denied by the other's security groups.
                port.sent(len, PortCounter::Local);
                return;
            }
            if !to.admit(true, len, gso_size) {
                // Left this ENI, over the other's allowance in.
                port.sent(len, PortCounter::Local);
                return;
            }
            if to.dev.forward(skb) {
                port.sent(len, PortCounter::Local);
                to.received(len);
            } else {
                port.dev.tx_dropped();
            }
        }
        Tx::ArpReply(mac, req) => {
            skb.consume();
            port.sent(len, PortCounter::Local);
            if let Ok(mut reply) = Skb::alloc(RX_HEADROOM, ARP_FRAME_LEN) {
                if let Ok(buf) = reply.put(ARP_FRAME_LEN) {
                    wire::arp_reply(buf, &req, &mac);
                    port.received(ARP_FRAME_LEN);
                    port.dev.deliver(reply);
                }
            }
        }
        Tx::Remote(to, sealed) => {
            let how = if sealed {
                PortCounter::Sealed
            } else {
                PortCounter::Plain
            };
            let host = &port.host;
            let rt = match Route::lookup(&host.net, host.underlay, to) {
                Ok(rt) => rt,
                Err(e) => return port.count_sent(len, how, Err(e)),
            };
            let plan = match Plan::new(&skb, rt.mtu(), sealed) {
                Ok(plan) => plan,
                Err(e) => {
                    too_big(&port, &skb, rt.mtu(), sealed);
                    return port.count_sent(len, how, Err(e));
                }
            };
            let out = Out {
                rt,
                to,
                sport: wire::flow_port(&head[..n]),
                plan,
            };
            if !sealed {
                let sent = send_plain(&port, skb, out);
                return port.count_sent(len, how, sent);
            }
            match host.seal(to, plan.datagrams) {
                Some(seal) => seal_or_queue(port, skb, out, seal),
                None => drop_frame(&port, PortCounter::NoKey),
            }
        }
        Tx::Drop(why) => drop_frame(&port, why),
        Tx::Absorb => skb.consume(),
    }
}

/// Drops a frame of `port` for `why`, and counts it.
fn drop_frame(port: &Port, why: PortCounter) {
    port.bump(why, 1);
    if matches!(why, PortCounter::NoKey) {
        port.host.bump(HostCounter::TxNoKey);
    }
    port.dev.tx_dropped();
}

/// A frame `skb` of `port` that no datagram to a route of MTU `mtu` can
/// carry, and that cannot be cut: if it is IPv4 with DF set, the guest is
/// told the MTU that fits, by an ICMP "fragmentation needed" (its stack
/// lowers its path MTU, as behind a tunnel). Other frames are dropped
/// without a word (the card fragments nothing, inner packets neither).
fn too_big(port: &Port, skb: &Skb, mtu: usize, sealed: bool) {
    const QUOTE_MAX: usize = 60 + 8;
    let mut frame = [0u8; ETH_LEN + QUOTE_MAX];
    let n = skb.len().min(frame.len());
    if skb.copy_out(0, &mut frame[..n]).is_err() {
        return;
    }
    let Some(quote) = wire::df_quote_len(&frame[ETH_LEN..n], skb.len()) else {
        return;
    };
    // The inner packet's largest size: the route's MTU less what the card
    // adds, less the Ethernet header (IPv4's minimum MTU at least).
    let inner = mtu
        .saturating_sub(overhead(sealed, sealed) + ETH_LEN)
        .max(68);
    let len = wire::frag_needed_len(quote);
    let Ok(mut reply) = Skb::alloc(RX_HEADROOM, len) else {
        return;
    };
    let Ok(buf) = reply.put(len) else {
        return;
    };
    wire::frag_needed(buf, &frame[..ETH_LEN + quote], inner as u16);
    port.received(len);
    port.dev.deliver(reply);
}

/// Seals a frame for a Nitro peer and sends it: at once if it is small and
/// nothing of the host waits, else through the host's transmit worker, so
/// that the card, not the sending application's CPU, does the cipher's
/// work. Either way the host's frames leave in the order they came. The
/// frame keeps its socket's send-buffer charge until it is sealed, so a
/// socket cannot fill the queue faster than the card drains.
fn seal_or_queue(port: ArcBorrow<'_, Port>, skb: Skb, out: Out, seal: Seal) {
    let host = &port.host;
    let len = skb.len();
    let mut q = host.txq.lock();
    if len <= TX_INLINE_MAX && q.claim() {
        drop(q);
        seal_and_count(&port, skb, out, seal);
        if host.txq.lock().release(None) {
            kick_tx(host.as_arc_borrow());
        }
        return;
    }
    let job = TxJob {
        port: Arc::from(port),
        skb,
        out,
        seal,
    };
    let pushed = q.push(job, TX_BACKLOG);
    drop(q);
    match pushed {
        Ok(()) => kick_tx(host.as_arc_borrow()),
        Err(job) => {
            drop(job);
            port.count_sent(len, PortCounter::Sealed, Err(ENOBUFS));
        }
    }
}

/// The transmit worker's part: seals and sends one queued frame.
fn send_job(job: TxJob) {
    seal_and_count(&job.port, job.skb, job.out, job.seal);
}

/// Seals and sends a frame of `port`, and counts it as sent or dropped.
fn seal_and_count(port: &Port, skb: Skb, out: Out, seal: Seal) {
    let len = skb.len();
    let sent = send_sealed(port, skb, out, seal);
    port.count_sent(len, PortCounter::Sealed, sent);
}

/// Queues `host`'s transmit worker; if it is already queued and has not
/// started, it takes what was added too.
fn kick_tx(host: ArcBorrow<'_, Host>) {
    let _ = host.wq.queue().enqueue::<_, TX>(Arc::from(host));
}

/// Sends `skb` to a Nitro peer, sealed, as `out` says: whole, or cut into
/// smaller super-packets. A TCP super-packet and a checksum left partial
/// travel as they are, described by the offload option, and the receiving
/// card hands them to its ENI the same way (as veth does between
/// namespaces).
fn send_sealed(port: &Port, mut skb: Skb, out: Out, mut seal: Seal) -> Result {
    let off = skb.offload();
    let Some(cut) = out.plan.cut else {
        let opt = if off.partial || off.gso_size != 0 {
            // The ENI offers TSO for TCP/IPv4 only: the stack cuts the rest.
            if off.gso_size != 0 && (!off.is_tso4() || !off.partial) {
                return Err(EINVAL);
            }
            Some(wire::OffloadOpt {
                csum_start: off.csum_start,
                csum_offset: off.csum_offset,
                gso_size: off.gso_size,
                partial: off.partial,
                tso4: off.gso_size != 0,
            })
        } else {
            None
        };
        // The cipher reads the frame where it lies, behind one header entry.
        skb.fit_sg(SG_FRAME - 1)?;
        let counter = seal.take()?;
        encap(
            port,
            &skb,
            out.rt,
            out.to,
            Some((&seal, counter)),
            opt.as_ref(),
            out.sport,
        )?;
        skb.consume();
        return Ok(());
    };
    if !off.partial {
        return Err(EINVAL);
    }
    let mss = usize::from(off.gso_size);
    for mut seg in skb.segment_at(cut, true)? {
        let o = seg.offload();
        // A piece of one segment or less goes as a single frame.
        let tso = seg.len().saturating_sub(out.plan.hdrs) > mss;
        let opt = wire::OffloadOpt {
            csum_start: o.csum_start,
            csum_offset: o.csum_offset,
            gso_size: if tso { off.gso_size } else { 0 },
            partial: o.partial,
            tso4: tso,
        };
        seg.fit_sg(SG_FRAME - 1)?;
        let counter = seal.take()?;
        let rt = out.rt.hold();
        encap(
            port,
            &seg,
            rt,
            out.to,
            Some((&seal, counter)),
            Some(&opt),
            out.sport,
        )?;
        seg.consume();
    }
    Ok(())
}

/// Sends `skb` to a non-Nitro peer in plain Geneve, as finished frames a
/// stock Geneve stack takes: super-packets are cut (to fit the route, as
/// `out` says), checksums done.
fn send_plain(port: &Port, mut skb: Skb, out: Out) -> Result {
    if let Some(cut) = out.plan.cut {
        for seg in skb.segment_at(cut, false)? {
            encap(port, &seg, out.rt.hold(), out.to, None, None, out.sport)?;
            seg.consume();
        }
        return Ok(());
    }
    if skb.offload().partial {
        skb.finish_checksum()?;
    }
    encap(port, &skb, out.rt, out.to, None, None, out.sport)?;
    skb.consume();
    Ok(())
}

/// Wraps the frame in `skb` in Geneve (with `opt`), sealed with counter
/// `counter` of `seal` if there is one, and sends it on `rt` to the peer
/// host at `to`. The caller made sure it fits the route.
fn encap(
    port: &Port,
    skb: &Skb,
    rt: Route,
    to: u32,
    seal: Option<(&Seal, u64)>,
    opt: Option<&wire::OffloadOpt>,
    sport: u16,
) -> Result {
    let host = &port.host;
    let len = skb.len();
    let body = GENEVE_LEN + if opt.is_some() { OPT_LEN } else { 0 } + len;
    let total = if seal.is_some() {
        SEAL_LEN + body + TAG_LEN
    } else {
        body
    };
    if total + IP_UDP_LEN > rt.mtu() {
        return Err(EMSGSIZE);
    }
    let out = if let Some((seal, counter)) = seal {
        // The headers, then the frame sealed straight from where it lies.
        let hdr = total - len - TAG_LEN;
        let mut out = Skb::alloc(HEADROOM, total)?;
        let buf = out.put(hdr)?;
        wire::seal_header(buf, seal.epoch, counter);
        wire::geneve(&mut buf[SEAL_LEN..], port.vpc, opt);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&buf[4..SEAL_LEN]);
        seal.key.seal_skb(out, SEAL_LEN, skb, &nonce)?
    } else {
        let mut out = Skb::alloc(HEADROOM, total)?;
        let buf = out.put(total)?;
        let glen = wire::geneve(buf, port.vpc, opt);
        skb.copy_out(0, &mut buf[glen..])?;
        out
    };
    host.sock.send(rt, out, host.underlay, to, sport);
    host.bump(if seal.is_some() {
        HostCounter::TxSealed
    } else {
        HostCounter::TxPlain
    });
    Ok(())
}
