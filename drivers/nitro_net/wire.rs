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

/// Writes a Geneve header (no options, Ethernet payload) for `vni`.
pub(crate) fn geneve(out: &mut [u8], vni: u32) {
    out[..GENEVE_LEN].fill(0);
    out[2..4].copy_from_slice(&ETH_P_TEB.to_be_bytes());
    out[4..7].copy_from_slice(&vni.to_be_bytes()[1..]);
}

/// Parses a Geneve header: the VNI and the header's length with options.
/// `None` for another version, a control packet or another payload.
pub(crate) fn parse_geneve(p: &[u8]) -> Option<(u32, usize)> {
    if p.len() < GENEVE_LEN || p[0] >> 6 != 0 || p[1] & 0x80 != 0 || be16(&p[2..]) != ETH_P_TEB {
        return None;
    }
    let len = GENEVE_LEN + usize::from(p[0] & 0x3f) * 4;
    let vni = u32::from_be_bytes([0, p[4], p[5], p[6]]);
    (p.len() >= len).then_some((vni, len))
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
