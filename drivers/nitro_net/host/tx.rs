// SPDX-License-Identifier: GPL-2.0

//! The transmit path: a frame an ENI's guest sent, checked (anti-spoofing),
//! answered (ARP), switched to a local port, or wrapped in Geneve (sealed
//! for a Nitro peer, by the host's transmit worker or at once) and sent on
//! the host's socket.

use super::{counters::PortCounter, Host, Port, RX_HEADROOM, TX};
use crate::{
    gcm::{GcmKey, Layout, NONCE_LEN, SPLIT_MAX, TAG_LEN},
    net::{Route, HEADROOM},
    sg::SG_FRAME,
    skb::Skb,
    wire::{self, Arp, ARP_FRAME_LEN, GENEVE_LEN, SEAL_LEN},
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
/// seal and send it: where it goes, as [`xmit`] found.
pub(super) struct TxJob {
    port: Arc<Port>,
    skb: Skb,
    to: u32,
    seal: Seal,
    sport: u16,
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
    /// To a peer host, sealed with (key, epoch, counter) or plain.
    Remote(u32, Option<(Arc<GcmKey>, u32, u64)>),
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

/// The transmit path: a frame the guest sent on `port`.
pub(crate) fn xmit(port: ArcBorrow<'_, Port>, skb: Skb) {
    let len = skb.len();
    let mut head = [0u8; ARP_FRAME_LEN];
    let n = len.min(head.len());
    let tx = match skb.copy_out(0, &mut head[..n]) {
        Ok(()) => route(&port, &head[..n]),
        Err(_) => Tx::Drop(PortCounter::Unsupported),
    };
    match tx {
        Tx::Local(to) => {
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
        Tx::Remote(to, Some(seal)) => {
            let sport = wire::flow_port(&head[..n]);
            seal_or_queue(port, skb, to, seal, sport);
        }
        Tx::Remote(to, None) => {
            let sport = wire::flow_port(&head[..n]);
            let sent = send_plain(&port, skb, to, sport);
            port.count_sent(len, PortCounter::Plain, sent);
        }
        Tx::Drop(why) => {
            port.bump(why, 1);
            if matches!(why, PortCounter::NoKey) {
                port.host.bump(HostCounter::TxNoKey);
            }
            port.dev.tx_dropped();
        }
        Tx::Absorb => skb.consume(),
    }
}

/// What seals one packet: the key, its epoch, and the counter taken.
pub(super) type Seal = (Arc<GcmKey>, u32, u64);

/// Seals a frame for the Nitro peer at `to` and sends it: at once if it is
/// small and nothing of the host waits, else through the host's transmit
/// worker, so that the card, not the sending application's CPU, does the
/// cipher's work. Either way the host's frames leave in the order they
/// came. The frame keeps its socket's send-buffer charge until it is
/// sealed, so a socket cannot fill the queue faster than the card drains.
fn seal_or_queue(port: ArcBorrow<'_, Port>, skb: Skb, to: u32, seal: Seal, sport: u16) {
    let host = &port.host;
    let len = skb.len();
    let mut q = host.txq.lock();
    if len <= TX_INLINE_MAX && q.claim() {
        drop(q);
        seal_and_count(&port, skb, to, seal, sport);
        if host.txq.lock().release(None) {
            kick_tx(host.as_arc_borrow());
        }
        return;
    }
    let job = TxJob {
        port: Arc::from(port),
        skb,
        to,
        seal,
        sport,
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
    seal_and_count(&job.port, job.skb, job.to, job.seal, job.sport);
}

/// Seals and sends a frame of `port`, and counts it as sent or dropped.
fn seal_and_count(port: &Port, skb: Skb, to: u32, seal: Seal, sport: u16) {
    let len = skb.len();
    let sent = send_sealed(port, skb, to, seal, sport);
    port.count_sent(len, PortCounter::Sealed, sent);
}

/// Queues `host`'s transmit worker; if it is already queued and has not
/// started, it takes what was added too.
fn kick_tx(host: ArcBorrow<'_, Host>) {
    let _ = host.wq.queue().enqueue::<_, TX>(Arc::from(host));
}

/// Sends `skb` to the Nitro peer at `to`, sealed whole: a TCP super-packet
/// and a checksum left partial travel as they are, described by the offload
/// option, and the receiving card hands them to its ENI the same way (as
/// veth does between namespaces).
fn send_sealed(port: &Port, mut skb: Skb, to: u32, seal: Seal, sport: u16) -> Result {
    let off = skb.offload();
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
    encap(port, &skb, to, Some(seal), opt.as_ref(), sport)?;
    skb.consume();
    Ok(())
}

/// Sends `skb` to the non-Nitro peer at `to` in plain Geneve, as finished
/// frames a stock Geneve stack takes: super-packets are cut, checksums done.
fn send_plain(port: &Port, mut skb: Skb, to: u32, sport: u16) -> Result {
    let off = skb.offload();
    if off.gso_size != 0 {
        for seg in skb.segment()? {
            encap(port, &seg, to, None, None, sport)?;
            seg.consume();
        }
        return Ok(());
    }
    if off.partial {
        skb.finish_checksum()?;
    }
    encap(port, &skb, to, None, None, sport)?;
    skb.consume();
    Ok(())
}

/// Wraps the frame in `skb` in Geneve (with `opt`), sealed if `seal` says
/// so, and sends it to the peer host at `to`.
fn encap(
    port: &Port,
    skb: &Skb,
    to: u32,
    seal: Option<Seal>,
    opt: Option<&wire::OffloadOpt>,
    sport: u16,
) -> Result {
    let host = &port.host;
    let len = skb.len();
    let body = GENEVE_LEN + if opt.is_some() { wire::OPT_LEN } else { 0 } + len;
    let total = if seal.is_some() {
        SEAL_LEN + body + TAG_LEN
    } else {
        body
    };
    // One IPv4 packet before fragmentation (its length is 16 bits, its
    // 20-byte IP and 8-byte UDP headers included).
    if total + 28 > usize::from(u16::MAX) {
        return Err(EMSGSIZE);
    }
    let rt = Route::lookup(&host.net, host.underlay, to)?;
    let out = if let Some((key, epoch, counter)) = &seal {
        // The headers, then the frame sealed straight from where it lies,
        // into pieces that IP sends as its fragments when the datagram is
        // larger than the route's MTU.
        let hdr = total - len - TAG_LEN;
        let layout = split_layout(rt.mtu(), hdr, total);
        let room = match layout {
            Layout::Split { first, .. } => first,
            Layout::Linear => total,
        };
        let mut out = Skb::alloc(HEADROOM, room)?;
        let buf = out.put(hdr)?;
        wire::seal_header(buf, *epoch, *counter);
        wire::geneve(&mut buf[SEAL_LEN..], port.vpc, opt);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&buf[4..SEAL_LEN]);
        key.seal_skb(out, SEAL_LEN, skb, &nonce, layout)?
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

/// How a sealed datagram of `total` bytes (its first `hdr` bytes the
/// headers) is laid out for a route of MTU `mtu`: in one linear buffer if
/// it fits in one packet (or would need more than [`SPLIT_MAX`] pieces),
/// else cut where IPv4 fragments it. Each fragment carries a multiple of 8
/// bytes behind a 20-byte IP header; the first also the 8-byte UDP header.
/// The cuts also fall on AES block boundaries of the ciphertext (which
/// starts [`SEAL_LEN`] bytes in, a multiple of 16): the cipher then never
/// has a block that straddles two pieces, which it would have to bounce
/// through a buffer of its own.
fn split_layout(mtu: usize, hdr: usize, total: usize) -> Layout {
    const IP_HLEN: usize = 20;
    const UDP_HLEN: usize = 8;
    const BLOCK: usize = 16;
    const _: () = assert!(SEAL_LEN % BLOCK == 0);
    let room = mtu.saturating_sub(IP_HLEN);
    // Multiples of 16, so of 8; the first fragment's 8 more bytes are the
    // UDP header.
    let piece = room & !(BLOCK - 1);
    let Some(first) = room
        .checked_sub(UDP_HLEN)
        .map(|f| f & !(BLOCK - 1))
        .filter(|f| *f > hdr)
    else {
        return Layout::Linear;
    };
    if total <= first || (total - first).div_ceil(piece) > SPLIT_MAX {
        return Layout::Linear;
    }
    Layout::Split {
        first,
        piece,
        headroom: HEADROOM,
    }
}
