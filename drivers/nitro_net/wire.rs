// SPDX-License-Identifier: GPL-2.0

//! Frame and packet formats: Ethernet, ARP, IPv4 (the few fields the card
//! reads), Geneve (RFC 8926) and the sealed header (Documentation/vpc.rst,
//! "Wire format"). Plain byte work, no kernel calls.

/// Ethernet header length.
pub(crate) const ETH_LEN: usize = 14;
/// Ethertypes the card carries.
pub(crate) const ETH_P_IP: u16 = 0x0800;
/// ARP.
pub(crate) const ETH_P_ARP: u16 = 0x0806;
/// Transparent Ethernet bridging: the Geneve protocol of an Ethernet frame.
const ETH_P_TEB: u16 = 0x6558;
/// An ARP packet for IPv4 over Ethernet, with its Ethernet header.
pub(crate) const ARP_FRAME_LEN: usize = ETH_LEN + 28;
/// Geneve header without options.
pub(crate) const GENEVE_LEN: usize = 8;
/// The sealed header.
pub(crate) const SEAL_LEN: usize = 16;
/// First byte of a sealed packet: Geneve version 3 (never valid Geneve),
/// format version 1.
pub(crate) const SEAL_MARK: u8 = 0xc1;
/// The broadcast MAC.
pub(crate) const BROADCAST: [u8; 6] = [0xff; 6];

/// What the card needs of a frame's first bytes.
pub(crate) struct Frame {
    /// Destination MAC.
    pub(crate) dst: [u8; 6],
    /// Source MAC.
    pub(crate) src: [u8; 6],
    /// Ethertype.
    pub(crate) proto: u16,
    /// IPv4: source and destination address (network byte order).
    pub(crate) ip: Option<(u32, u32)>,
    /// ARP (IPv4 over Ethernet): the packet.
    pub(crate) arp: Option<Arp>,
}

/// An ARP packet for IPv4 over Ethernet.
#[derive(Clone, Copy)]
pub(crate) struct Arp {
    /// 1: request, 2: reply.
    pub(crate) op: u16,
    /// Sender MAC and address.
    pub(crate) sha: [u8; 6],
    /// Sender address (network byte order).
    pub(crate) spa: u32,
    /// Target address (network byte order).
    pub(crate) tpa: u32,
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// Reads a network-order address as the ABI keeps it (the bytes as they
/// are in memory).
fn addr(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

fn mac(b: &[u8]) -> [u8; 6] {
    [b[0], b[1], b[2], b[3], b[4], b[5]]
}

/// Whether a MAC is multicast or broadcast.
pub(crate) fn is_group(mac: &[u8; 6]) -> bool {
    mac[0] & 1 != 0
}

/// Parses the head of a frame (`head` holds its first bytes, at most
/// [`ARP_FRAME_LEN`]; `None` if shorter than an Ethernet header).
pub(crate) fn parse(head: &[u8]) -> Option<Frame> {
    if head.len() < ETH_LEN {
        return None;
    }
    let proto = be16(&head[12..]);
    let l3 = &head[ETH_LEN..];
    let ip = (proto == ETH_P_IP && l3.len() >= 20 && l3[0] >> 4 == 4)
        .then(|| (addr(&l3[12..]), addr(&l3[16..])));
    let arp = (proto == ETH_P_ARP
        && l3.len() >= 28
        && be16(l3) == 1
        && be16(&l3[2..]) == ETH_P_IP
        && l3[4] == 6
        && l3[5] == 4)
        .then(|| Arp {
            op: be16(&l3[6..]),
            sha: mac(&l3[8..]),
            spa: addr(&l3[14..]),
            tpa: addr(&l3[24..]),
        });
    Some(Frame {
        dst: mac(head),
        src: mac(&head[6..]),
        proto,
        ip,
        arp,
    })
}

/// IPv4 protocol numbers the security groups tell apart.
pub(crate) const IPPROTO_ICMP: u8 = 1;
/// TCP.
pub(crate) const IPPROTO_TCP: u8 = 6;
/// UDP.
pub(crate) const IPPROTO_UDP: u8 = 17;
/// TCP flags.
pub(crate) const TCP_FIN: u8 = 0x01;
/// TCP reset.
pub(crate) const TCP_RST: u8 = 0x04;

/// How many first bytes of a frame [`flow`] reads at most: Ethernet, an
/// IPv4 header with options, ICMP, and the IPv4 header (with options) and
/// first 8 bytes of the packet an ICMP error quotes.
pub(crate) const FLOW_HEAD_LEN: usize = ETH_LEN + 60 + 8 + 60 + 8;

/// The ports of a packet for connection tracking: TCP and UDP source and
/// destination; an ICMP echo's identifier, twice (request and reply have
/// the same); zeros for other ICMP.
fn l4_ports(proto: u8, l4: &[u8]) -> Option<(u16, u16)> {
    match proto {
        IPPROTO_TCP | IPPROTO_UDP if l4.len() >= 4 => Some((be16(l4), be16(&l4[2..]))),
        IPPROTO_ICMP if l4.len() >= 8 => Some(match l4[0] {
            ICMP_ECHO_REPLY | ICMP_ECHO => (be16(&l4[4..]), be16(&l4[4..])),
            _ => (0, 0),
        }),
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_ICMP => None,
        _ => Some((0, 0)),
    }
}

const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_ECHO: u8 = 8;

/// A packet as the security groups see it (addresses in host byte order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Packet {
    /// IPv4 protocol.
    pub(crate) proto: u8,
    /// Source address.
    pub(crate) src: u32,
    /// Destination address.
    pub(crate) dst: u32,
    /// Source and destination ports ([`l4_ports`]); `None` for a fragment
    /// after the first, or a first one too short to hold them.
    pub(crate) ports: Option<(u16, u16)>,
}

/// An IPv4 frame as the security groups see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Flow {
    /// The packet.
    pub(crate) pkt: Packet,
    /// ICMP: its type; 0 otherwise.
    pub(crate) icmp_type: u8,
    /// TCP: its flags; 0 otherwise.
    pub(crate) tcp_flags: u8,
    /// An ICMP error (destination unreachable, time exceeded, parameter
    /// problem): the packet it quotes.
    pub(crate) quoted: Option<Packet>,
}

/// The IPv4 packet at the start of `ip` and the bytes after its header.
fn ipv4(ip: &[u8]) -> Option<(Packet, &[u8])> {
    if ip.len() < IP_LEN || ip[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0xf) * 4;
    if ihl < IP_LEN {
        return None;
    }
    let proto = ip[9];
    let later_fragment = be16(&ip[6..]) & 0x1fff != 0;
    let l4 = ip.get(ihl..).unwrap_or(&[]);
    let pkt = Packet {
        proto,
        src: u32::from_be_bytes([ip[12], ip[13], ip[14], ip[15]]),
        dst: u32::from_be_bytes([ip[16], ip[17], ip[18], ip[19]]),
        ports: if later_fragment {
            None
        } else {
            l4_ports(proto, l4)
        },
    };
    Some((pkt, if later_fragment { &[] } else { l4 }))
}

/// Parses an IPv4 frame for the security groups (`head`: its first bytes,
/// up to [`FLOW_HEAD_LEN`]); `None` if it is not IPv4.
pub(crate) fn flow(head: &[u8]) -> Option<Flow> {
    if head.len() < ETH_LEN || be16(&head[12..]) != ETH_P_IP {
        return None;
    }
    let (pkt, l4) = ipv4(&head[ETH_LEN..])?;
    let mut f = Flow {
        pkt,
        icmp_type: 0,
        tcp_flags: 0,
        quoted: None,
    };
    match pkt.proto {
        IPPROTO_TCP if l4.len() >= 14 => f.tcp_flags = l4[13],
        IPPROTO_ICMP if l4.len() >= 8 => {
            f.icmp_type = l4[0];
            if matches!(l4[0], 3 | 11 | 12) {
                f.quoted = ipv4(&l4[8..]).map(|(q, _)| q);
            }
        }
        _ => {}
    }
    Some(f)
}

/// Writes the ARP reply to `req` saying `tpa` is at `answer`, with its
/// Ethernet header, into `out` ([`ARP_FRAME_LEN`] bytes).
pub(crate) fn arp_reply(out: &mut [u8], req: &Arp, answer: &[u8; 6]) {
    out[..6].copy_from_slice(&req.sha);
    out[6..12].copy_from_slice(answer);
    out[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    let a = &mut out[ETH_LEN..ARP_FRAME_LEN];
    a[..2].copy_from_slice(&1u16.to_be_bytes());
    a[2..4].copy_from_slice(&ETH_P_IP.to_be_bytes());
    a[4] = 6;
    a[5] = 4;
    a[6..8].copy_from_slice(&2u16.to_be_bytes());
    a[8..14].copy_from_slice(answer);
    a[14..18].copy_from_slice(&req.tpa.to_ne_bytes());
    a[18..24].copy_from_slice(&req.sha);
    a[24..28].copy_from_slice(&req.spa.to_ne_bytes());
}

/// An IPv4 header without options; an ICMP header.
const IP_LEN: usize = 20;
const ICMP_LEN: usize = 8;
/// The IPv4 "don't fragment" flag, in the flags and offset field.
const IP_DF: u16 = 0x4000;

/// The bytes of an IPv4 packet an ICMP error quotes (RFC 792): its header
/// and the first 8 bytes of its payload, for a frame of `frame_len` bytes
/// whose IPv4 header begins `head` (at least 20 bytes, the frame's from
/// [`ETH_LEN`] on); `None` if it is not IPv4 with DF set, or is shorter.
pub(crate) fn df_quote_len(head: &[u8], frame_len: usize) -> Option<usize> {
    if head.len() < IP_LEN || head[0] >> 4 != 4 || be16(&head[6..]) & IP_DF == 0 {
        return None;
    }
    let quote = usize::from(head[0] & 0x0f) * 4 + 8;
    (quote >= IP_LEN + 8 && ETH_LEN + quote <= frame_len).then_some(quote)
}

/// Length of the frame [`frag_needed`] writes for a quote of `quote` bytes.
pub(crate) const fn frag_needed_len(quote: usize) -> usize {
    ETH_LEN + IP_LEN + ICMP_LEN + quote
}

/// Writes into `out` ([`frag_needed_len`] of `frame.len() - ETH_LEN`
/// bytes) the ICMP "fragmentation needed" (RFC 1191) that answers `frame`
/// (its Ethernet header, then the quote, see [`df_quote_len`]) with a
/// next-hop MTU of `mtu`: from the frame's destination, to its sender, as a
/// tunnel endpoint answers a packet its tunnel cannot carry
/// (`iptunnel_pmtud_build_icmp`).
pub(crate) fn frag_needed(out: &mut [u8], frame: &[u8], mtu: u16) {
    let quote = &frame[ETH_LEN..];
    out[..6].copy_from_slice(&frame[6..12]);
    out[6..12].copy_from_slice(&frame[..6]);
    out[12..14].copy_from_slice(&ETH_P_IP.to_be_bytes());
    let ip = &mut out[ETH_LEN..];
    let total = (IP_LEN + ICMP_LEN + quote.len()) as u16;
    ip[0] = 0x45;
    ip[1] = 0xc0;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[8] = 64;
    ip[9] = 1;
    ip[12..16].copy_from_slice(&quote[16..20]);
    ip[16..20].copy_from_slice(&quote[12..16]);
    let sum = checksum(&ip[..IP_LEN]);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let icmp = &mut ip[IP_LEN..];
    icmp[0] = 3;
    icmp[1] = 4;
    icmp[6..8].copy_from_slice(&mtu.to_be_bytes());
    icmp[ICMP_LEN..ICMP_LEN + quote.len()].copy_from_slice(quote);
    let sum = checksum(&icmp[..ICMP_LEN + quote.len()]);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
}

/// The Internet checksum (RFC 1071) of `b`, whose checksum field is 0.
fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The card's Geneve option, sent only inside sealed packets: the frame's
/// checksum and segmentation offload state (Documentation/vpc.rst). Class
/// 0xFFF0 is in RFC 8926's experimental range; the type has the critical
/// bit, so a receiver that does not know it drops the packet.
const OPT_CLASS: u16 = 0xfff0;
const OPT_TYPE: u8 = 0x81;
/// The option's length, its 4-byte header included.
pub(crate) const OPT_LEN: usize = 12;
const OPT_PARTIAL: u8 = 1;
const OPT_TSO4: u8 = 2;

/// What the offload option carries.
#[derive(Clone, Copy, Default)]
pub(crate) struct OffloadOpt {
    /// Checksum coverage start, from the frame's first byte.
    pub(crate) csum_start: u16,
    /// Checksum position, from `csum_start`.
    pub(crate) csum_offset: u16,
    /// Segment size of a TCP/IPv4 super-packet.
    pub(crate) gso_size: u16,
    /// The checksum is left for the receiver's stack to finish.
    pub(crate) partial: bool,
    /// The frame is a TCP/IPv4 super-packet.
    pub(crate) tso4: bool,
}

/// Writes a Geneve header for `vni` (Ethernet payload), with the offload
/// option if given; returns its length.
pub(crate) fn geneve(out: &mut [u8], vni: u32, opt: Option<&OffloadOpt>) -> usize {
    out[..GENEVE_LEN].fill(0);
    out[2..4].copy_from_slice(&ETH_P_TEB.to_be_bytes());
    out[4..7].copy_from_slice(&vni.to_be_bytes()[1..]);
    let Some(o) = opt else {
        return GENEVE_LEN;
    };
    out[0] = (OPT_LEN / 4) as u8;
    let b = &mut out[GENEVE_LEN..GENEVE_LEN + OPT_LEN];
    b[..2].copy_from_slice(&OPT_CLASS.to_be_bytes());
    b[2] = OPT_TYPE;
    b[3] = ((OPT_LEN - 4) / 4) as u8;
    b[4..6].copy_from_slice(&o.csum_start.to_be_bytes());
    b[6..8].copy_from_slice(&o.csum_offset.to_be_bytes());
    b[8..10].copy_from_slice(&o.gso_size.to_be_bytes());
    b[10] = if o.partial { OPT_PARTIAL } else { 0 } | if o.tso4 { OPT_TSO4 } else { 0 };
    b[11] = 0;
    GENEVE_LEN + OPT_LEN
}

/// Parses a Geneve header: the VNI, the header's length with options, and
/// the offload option if present. `None` for another version, a control
/// packet, another payload, or a critical option the card does not know.
pub(crate) fn parse_geneve(p: &[u8]) -> Option<(u32, usize, Option<OffloadOpt>)> {
    if p.len() < GENEVE_LEN || p[0] >> 6 != 0 || p[1] & 0x80 != 0 || be16(&p[2..]) != ETH_P_TEB {
        return None;
    }
    let len = GENEVE_LEN + usize::from(p[0] & 0x3f) * 4;
    let vni = u32::from_be_bytes([0, p[4], p[5], p[6]]);
    let opts = p.get(GENEVE_LEN..len)?;
    let mut found = None;
    let mut i = 0;
    while i < opts.len() {
        let o = opts.get(i..i + 4)?;
        let data = usize::from(o[3] & 0x1f) * 4;
        let body = opts.get(i + 4..i + 4 + data)?;
        if be16(o) == OPT_CLASS && o[2] == OPT_TYPE && data == OPT_LEN - 4 {
            found = Some(OffloadOpt {
                csum_start: be16(body),
                csum_offset: be16(&body[2..]),
                gso_size: be16(&body[4..]),
                partial: body[6] & OPT_PARTIAL != 0,
                tso4: body[6] & OPT_TSO4 != 0,
            });
        } else if o[2] & 0x80 != 0 {
            return None;
        }
        i += 4 + data;
    }
    Some((vni, len, found))
}

/// Writes the sealed header for `epoch` and `counter`.
pub(crate) fn seal_header(out: &mut [u8], epoch: u32, counter: u64) {
    out[..SEAL_LEN].fill(0);
    out[0] = SEAL_MARK;
    out[4..8].copy_from_slice(&epoch.to_be_bytes());
    out[8..16].copy_from_slice(&counter.to_be_bytes());
}

/// Parses a sealed header: epoch and counter.
pub(crate) fn parse_seal(p: &[u8]) -> Option<(u32, u64)> {
    if p.len() < SEAL_LEN || p[0] != SEAL_MARK || p[1..4] != [0; 3] {
        return None;
    }
    let epoch = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
    let mut c = [0u8; 8];
    c.copy_from_slice(&p[8..16]);
    Some((epoch, u64::from_be_bytes(c)))
}

/// The UDP source port of a tunnelled frame: a hash of its addresses (so
/// that the underlay can spread flows), in the dynamic range.
pub(crate) fn flow_port(head: &[u8]) -> u16 {
    let mut h: u32 = 0x811c_9dc5;
    let n = head.len().min(ETH_LEN + 20);
    for (i, &b) in head[..n].iter().enumerate() {
        // Ethernet addresses, then the IPv4 addresses (bytes 26..34).
        if !(12..26).contains(&i) {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
    }
    49152 + (h % 16384) as u16
}
