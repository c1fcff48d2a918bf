// SPDX-License-Identifier: GPL-2.0

//! Security group rules: what `struct nitro_sg_rule` may hold, and what a
//! rule allows. The controller checks rules with [`Rule::check`], the VPC
//! card matches frames with [`Rule::allows`], and nitroctl's host tests run
//! the same file.
//!
//! Depends on `core` only, like `state.rs`.

/// `NITRO_SG_PROTO_ALL`: every protocol.
pub const PROTO_ALL: u8 = 0;
/// IPPROTO_ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IPPROTO_TCP.
pub const PROTO_TCP: u8 = 6;
/// IPPROTO_UDP.
pub const PROTO_UDP: u8 = 17;

/// Whether a protocol has ports (TCP, UDP).
pub const fn has_ports(proto: u8) -> bool {
    matches!(proto, PROTO_TCP | PROTO_UDP)
}

/// The fields of a `struct nitro_sg_rule`, as the caller gave them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawRule {
    /// `NITRO_SG_INGRESS` (0) or `NITRO_SG_EGRESS` (1).
    pub dir: u8,
    /// `NITRO_SG_PROTO_ALL`, ICMP, TCP or UDP.
    pub proto: u8,
    /// Prefix length of `cidr`.
    pub prefix_len: u8,
    /// Must be zero.
    pub pad: u8,
    /// Lowest port (ICMP: type).
    pub port_min: u16,
    /// Highest port (ICMP: type).
    pub port_max: u16,
    /// Peer network, network byte order.
    pub cidr: u32,
    /// Must be zero.
    pub reserved: u32,
    /// Peer group (0: `cidr`).
    pub peer_group: u64,
}

/// Who a rule's peer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// A network: address (host byte order) and prefix length.
    Net(u32, u8),
    /// The ENIs of a group.
    Group(u64),
}

/// A checked rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// To the ENI (else from it).
    pub ingress: bool,
    /// [`PROTO_ALL`], [`PROTO_ICMP`], [`PROTO_TCP`] or [`PROTO_UDP`].
    pub proto: u8,
    /// Destination ports (ICMP: types) allowed, inclusive; (0, 0) for all
    /// protocols.
    pub ports: (u16, u16),
    /// The peer.
    pub peer: Peer,
}

/// The mask of a prefix of `len` bits (at most 32).
const fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len as u32)
    }
}

impl Rule {
    /// `raw` checked: `None` if it is not a valid rule (`EINVAL`).
    pub fn check(raw: &RawRule) -> Option<Self> {
        if raw.dir > 1 || raw.pad != 0 || raw.reserved != 0 || raw.port_min > raw.port_max {
            return None;
        }
        let ports_ok = match raw.proto {
            PROTO_ALL => raw.port_min == 0 && raw.port_max == 0,
            PROTO_ICMP => raw.port_max <= 255,
            PROTO_TCP | PROTO_UDP => true,
            _ => false,
        };
        if !ports_ok {
            return None;
        }
        let peer = if raw.peer_group != 0 {
            if raw.cidr != 0 || raw.prefix_len != 0 {
                return None;
            }
            Peer::Group(raw.peer_group)
        } else {
            let net = u32::from_be(raw.cidr);
            if raw.prefix_len > 32 || net & !mask(raw.prefix_len) != 0 {
                return None;
            }
            Peer::Net(net, raw.prefix_len)
        };
        Some(Self {
            ingress: raw.dir == 0,
            proto: raw.proto,
            ports: (raw.port_min, raw.port_max),
            peer,
        })
    }

    /// The rule in ABI form.
    pub fn raw(&self) -> RawRule {
        let (cidr, prefix_len, peer_group) = match self.peer {
            Peer::Net(net, len) => (net.to_be(), len, 0),
            Peer::Group(g) => (0, 0, g),
        };
        RawRule {
            dir: u8::from(!self.ingress),
            proto: self.proto,
            prefix_len,
            port_min: self.ports.0,
            port_max: self.ports.1,
            cidr,
            peer_group,
            ..RawRule::default()
        }
    }

    /// The rule with its peer group replaced by one member's address
    /// (host byte order).
    pub fn for_member(&self, addr: u32) -> Self {
        Self {
            peer: Peer::Net(addr, 32),
            ..*self
        }
    }

    /// Whether the rule allows a first packet of a flow: to the ENI
    /// (`ingress`) or from it, of protocol `proto`, with the peer at
    /// `remote` (host byte order) and destination port `port` (ICMP: its
    /// type; ignored for other protocols). A rule naming a peer group
    /// allows nothing: the controller gives the card each member's address
    /// instead.
    pub fn allows(&self, ingress: bool, proto: u8, remote: u32, port: u16) -> bool {
        if self.ingress != ingress || (self.proto != PROTO_ALL && self.proto != proto) {
            return false;
        }
        let Peer::Net(net, len) = self.peer else {
            return false;
        };
        if remote & mask(len) != net {
            return false;
        }
        if self.proto == PROTO_ALL || !(has_ports(proto) || proto == PROTO_ICMP) {
            return true;
        }
        (self.ports.0..=self.ports.1).contains(&port)
    }

    /// The rule every new group starts with: egress, all protocols,
    /// anywhere (EC2's default).
    pub const EGRESS_ALL: Self = Self {
        ingress: false,
        proto: PROTO_ALL,
        ports: (0, 0),
        peer: Peer::Net(0, 0),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(dir: u8, proto: u8, ports: (u16, u16), cidr: [u8; 4], len: u8) -> RawRule {
        RawRule {
            dir,
            proto,
            prefix_len: len,
            port_min: ports.0,
            port_max: ports.1,
            cidr: u32::from_be_bytes(cidr).to_be(),
            ..RawRule::default()
        }
    }

    #[test]
    fn bad_rules_refused() {
        let ok = raw(0, PROTO_TCP, (22, 22), [10, 0, 0, 0], 8);
        assert!(Rule::check(&ok).is_some());
        for bad in [
            RawRule { dir: 2, ..ok },
            RawRule { pad: 1, ..ok },
            RawRule { reserved: 1, ..ok },
            RawRule { proto: 99, ..ok },
            RawRule {
                port_min: 23,
                port_max: 22,
                ..ok
            },
            RawRule {
                prefix_len: 33,
                ..ok
            },
            raw(0, PROTO_TCP, (22, 22), [10, 0, 0, 1], 8),
            raw(0, PROTO_ALL, (0, 1), [0, 0, 0, 0], 0),
            raw(0, PROTO_ICMP, (0, 256), [0, 0, 0, 0], 0),
            RawRule {
                peer_group: 7,
                ..ok
            },
        ] {
            assert_eq!(Rule::check(&bad), None, "{bad:?}");
        }
        let g = RawRule {
            cidr: 0,
            prefix_len: 0,
            peer_group: 7,
            ..ok
        };
        assert_eq!(Rule::check(&g).map(|r| r.peer), Some(Peer::Group(7)));
    }

    #[test]
    fn raw_round_trip() {
        for r in [
            raw(1, PROTO_UDP, (53, 53), [192, 168, 1, 0], 24),
            raw(0, PROTO_ICMP, (8, 8), [10, 1, 2, 3], 32),
            raw(1, PROTO_ALL, (0, 0), [0, 0, 0, 0], 0),
        ] {
            assert_eq!(Rule::check(&r).map(|c| c.raw()), Some(r));
        }
    }

    #[test]
    fn matching() {
        let ssh = Rule::check(&raw(0, PROTO_TCP, (22, 22), [10, 0, 0, 0], 8)).unwrap();
        let a = u32::from_be_bytes([10, 1, 2, 3]);
        let b = u32::from_be_bytes([11, 1, 2, 3]);
        assert!(ssh.allows(true, PROTO_TCP, a, 22));
        assert!(!ssh.allows(false, PROTO_TCP, a, 22));
        assert!(!ssh.allows(true, PROTO_UDP, a, 22));
        assert!(!ssh.allows(true, PROTO_TCP, a, 23));
        assert!(!ssh.allows(true, PROTO_TCP, b, 22));
        assert!(Rule::EGRESS_ALL.allows(false, PROTO_UDP, b, 9));
        assert!(!Rule::EGRESS_ALL.allows(true, PROTO_UDP, b, 9));
        let echo = Rule::check(&raw(0, PROTO_ICMP, (8, 8), [0, 0, 0, 0], 0)).unwrap();
        assert!(echo.allows(true, PROTO_ICMP, b, 8));
        assert!(!echo.allows(true, PROTO_ICMP, b, 0));
        let group = Rule::check(&RawRule {
            peer_group: 5,
            ..raw(0, PROTO_ALL, (0, 0), [0, 0, 0, 0], 0)
        })
        .unwrap();
        assert!(!group.allows(true, PROTO_TCP, a, 1));
        assert!(group.for_member(a).allows(true, PROTO_TCP, a, 1));
        assert!(!group.for_member(a).allows(true, PROTO_TCP, b, 1));
    }
}
