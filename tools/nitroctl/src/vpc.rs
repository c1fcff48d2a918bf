//! `nitroctl host` and `nitroctl map`: the VPC card's hosts (emulated Nitro
//! hosts), their mapping tables and peer keys (Documentation/vpc.rst).
//! Parsing their arguments, explaining refusals, rendering a host.

use crate::{
    abi,
    device::{Ctrl, Error},
    objects::{self, fmt_id, Kind, GATE_CLOSED},
};
use serde::Serialize;
use std::{
    fmt::Write,
    net::Ipv4Addr,
    path::{Path, PathBuf},
};

/// Where `ip netns add NAME` puts a namespace.
pub const NETNS_DIR: &str = "/run/netns";

/// Parses a host number: 1 to `NITRO_HOSTS_MAX`.
pub fn parse_host(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if (1..=abi::NITRO_HOSTS_MAX).contains(&n) => Ok(n),
        _ => Err(format!(
            "'{s}' is not a host number (1 to {}, as `nitroctl host create` printed)",
            abi::NITRO_HOSTS_MAX
        )),
    }
}

/// Parses the host an ENI is made on: a host number, or 0 for the
/// lowest-numbered host.
pub fn parse_eni_host(s: &str) -> Result<u32, String> {
    if s == "0" {
        return Ok(0);
    }
    parse_host(s).map_err(|e| e + "; 0: the lowest-numbered host")
}

/// Parses a VPC id: 1 to `NITRO_VPC_MAX` (the 24-bit Geneve VNI).
pub fn parse_vpc(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if (1..=abi::NITRO_VPC_MAX).contains(&n) => Ok(n),
        _ => Err(format!(
            "'{s}' is not a VPC id (1 to {})",
            abi::NITRO_VPC_MAX
        )),
    }
}

/// Parses a key epoch: 1 or more.
pub fn parse_epoch(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("'{s}' is not an epoch (1 to {})", u32::MAX)),
    }
}

/// Parses an IPv4 address that can name one host, the rule the controller
/// applies: not 0.0.0.0, loopback, multicast, broadcast or reserved
/// (240.0.0.0/4).
pub fn parse_unicast_ipv4(s: &str) -> Result<Ipv4Addr, String> {
    let ip: Ipv4Addr = s
        .parse()
        .map_err(|_| format!("'{s}' is not an IPv4 address (like 192.0.2.1)"))?;
    let why = if ip.is_unspecified() {
        "the unspecified address"
    } else if ip.is_loopback() {
        "a loopback address"
    } else if ip.is_multicast() {
        "a multicast address"
    } else if ip.is_broadcast() {
        "the broadcast address"
    } else if ip.octets()[0] >= 240 {
        "a reserved address (240.0.0.0/4)"
    } else {
        return Ok(ip);
    };
    Err(format!("{ip} is {why}, not the address of one host"))
}

/// Parses the MAC of a mapping entry: unicast and not all zero.
pub fn parse_unicast_mac(s: &str) -> Result<[u8; 6], String> {
    let mac = objects::parse_mac(s)?;
    if mac[0] & 1 != 0 {
        Err(format!(
            "{s} is a multicast or broadcast MAC address: a mapping needs a unicast one"
        ))
    } else if mac == [0; 6] {
        Err(format!("{s} is not the MAC address of an interface"))
    } else {
        Ok(mac)
    }
}

/// The path of `--netns`: a NAME (no '/') is `/run/netns/NAME`, as `ip
/// netns` makes them; anything else is a path (`/proc/PID/ns/net`).
pub fn netns_path(s: &str) -> Result<PathBuf, String> {
    if s.is_empty() {
        Err("the namespace is empty: give a NAME (from `ip netns list`) or a PATH".into())
    } else if s.contains('/') {
        Ok(PathBuf::from(s))
    } else {
        Ok(Path::new(NETNS_DIR).join(s))
    }
}

/// Formats an IPv4 address the ABI holds in network byte order.
pub fn ipv4(be: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from_be(be))
}

/// An IPv4 address in network byte order, as the ABI wants it.
pub fn be(ip: Ipv4Addr) -> u32 {
    u32::from(ip).to_be()
}

/// A host, as `nitroctl host show` reports it: every field of `struct
/// nitro_host_info`.
#[derive(Serialize, Debug, PartialEq)]
pub struct Host {
    /// The host's number.
    pub host: u32,
    /// Its underlay address.
    pub underlay: String,
    /// ENIs made on it.
    pub enis: u32,
    /// Entries in its mapping table.
    pub maps: u32,
    /// Peer hosts it holds a key for.
    pub peers: u32,
    /// Packets sealed to Nitro peers.
    pub tx_sealed: u64,
    /// Sealed packets that opened and were delivered.
    pub rx_sealed: u64,
    /// Plain Geneve packets to non-Nitro peers.
    pub tx_plain: u64,
    /// Plain Geneve packets from non-Nitro peers, delivered.
    pub rx_plain: u64,
    /// Sealed packets that did not authenticate, dropped.
    pub rx_bad_auth: u64,
    /// Sealed packets already seen or too old, dropped.
    pub rx_replay: u64,
    /// Sealed packets from a peer or epoch with no key, dropped.
    pub rx_no_key: u64,
    /// Packets from an underlay source the table does not allow, dropped.
    pub rx_not_allowed: u64,
    /// Packets in neither format, dropped.
    pub rx_malformed: u64,
    /// Frames to a Nitro peer with no key, dropped.
    pub tx_no_key: u64,
    /// Frames that could not be sent.
    pub tx_errors: u64,
    /// Datagrams dropped because the receive queue was full.
    pub rx_backlog: u64,
}

impl Host {
    /// From the ABI.
    pub fn from_abi(h: &abi::nitro_host_info) -> Self {
        Host {
            host: h.host,
            underlay: ipv4(h.underlay_ipv4).to_string(),
            enis: h.enis,
            maps: h.maps,
            peers: h.peers,
            tx_sealed: h.tx_sealed,
            rx_sealed: h.rx_sealed,
            tx_plain: h.tx_plain,
            rx_plain: h.rx_plain,
            rx_bad_auth: h.rx_bad_auth,
            rx_replay: h.rx_replay,
            rx_no_key: h.rx_no_key,
            rx_not_allowed: h.rx_not_allowed,
            rx_malformed: h.rx_malformed,
            tx_no_key: h.tx_no_key,
            tx_errors: h.tx_errors,
            rx_backlog: h.rx_backlog,
        }
    }

    /// Human form: one field a line, in the ABI's order (the host, its
    /// tables, then the counters).
    pub fn human(&self) -> String {
        let rows: [(&str, String); 17] = [
            ("host", self.host.to_string()),
            ("underlay", self.underlay.clone()),
            ("enis", self.enis.to_string()),
            ("maps", self.maps.to_string()),
            ("peers", self.peers.to_string()),
            ("tx_sealed", self.tx_sealed.to_string()),
            ("rx_sealed", self.rx_sealed.to_string()),
            ("tx_plain", self.tx_plain.to_string()),
            ("rx_plain", self.rx_plain.to_string()),
            ("rx_bad_auth", self.rx_bad_auth.to_string()),
            ("rx_replay", self.rx_replay.to_string()),
            ("rx_no_key", self.rx_no_key.to_string()),
            ("rx_not_allowed", self.rx_not_allowed.to_string()),
            ("rx_malformed", self.rx_malformed.to_string()),
            ("tx_no_key", self.tx_no_key.to_string()),
            ("tx_errors", self.tx_errors.to_string()),
            ("rx_backlog", self.rx_backlog.to_string()),
        ];
        let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        rows.iter().fold(String::new(), |mut out, (k, v)| {
            let _ = writeln!(out, "{k:<w$}  {v}");
            out
        })
    }
}

/// What a VPC command was doing, to explain a refusal of it.
#[derive(Clone, Copy, Debug)]
pub enum Op<'a> {
    /// `host create`.
    HostCreate {
        /// The underlay address asked for.
        underlay: Ipv4Addr,
        /// The namespace given, if any.
        netns: Option<&'a Path>,
    },
    /// `host delete`.
    HostDelete(u32),
    /// `host show`.
    HostShow(u32),
    /// `map set`.
    MapSet {
        /// The host.
        host: u32,
        /// The VPC.
        vpc: u32,
        /// The inner address.
        ip: Ipv4Addr,
    },
    /// `map delete`.
    MapDelete {
        /// The host.
        host: u32,
        /// The VPC.
        vpc: u32,
        /// The inner address.
        ip: Ipv4Addr,
    },
    /// `host key`.
    PeerKey {
        /// The host.
        host: u32,
        /// The peer's underlay address.
        peer: Ipv4Addr,
        /// The epoch asked for.
        epoch: u32,
    },
    /// `eni create --host`.
    EniCreate {
        /// The host (0: the lowest-numbered).
        host: u32,
    },
}

impl Op<'_> {
    /// The host the command is about (0: none or "the lowest").
    fn host(self) -> u32 {
        match self {
            Op::HostCreate { .. } => 0,
            Op::HostDelete(h) | Op::HostShow(h) => h,
            Op::MapSet { host, .. }
            | Op::MapDelete { host, .. }
            | Op::PeerKey { host, .. }
            | Op::EniCreate { host } => host,
        }
    }
}

/// Whether a VPC card is on the bus; `None` if the controller cannot say.
fn vpc_card_loaded(ctrl: &Ctrl) -> Option<bool> {
    let (_, cards) = ctrl.status().ok()?;
    Some(cards.iter().any(|c| c.kind == abi::NITRO_CARD_VPC))
}

/// The ENIs made on `host`, as ids, if the controller lists them.
fn enis_on(ctrl: &Ctrl, host: u32) -> Option<Vec<String>> {
    let v: Vec<abi::nitro_eni_info> = ctrl
        .list_all("NITRO_IOC_ENI_LIST", abi::NITRO_IOC_ENI_LIST, 1024)
        .ok()?;
    Some(
        v.iter()
            .filter(|e| e.host == host)
            .map(|e| fmt_id(Kind::Eni.prefix(), e.id))
            .collect(),
    )
}

/// Explains `ENODEV` for a command on host `host` (0: any host), asking
/// the controller whether the VPC card is there at all.
fn no_host(ctrl: &Ctrl, host: u32) -> String {
    let which = if host == 0 {
        "no host to make the ENI on".to_string()
    } else {
        format!("no such host {host}")
    };
    match vpc_card_loaded(ctrl) {
        Some(false) => "the VPC card (nitro_net) is not loaded \
                        (see `nitroctl status`; `modprobe nitro_net`)"
            .into(),
        Some(true) => {
            format!("{which} on the VPC card (hosts are made with `nitroctl host create`)")
        }
        None => format!("{which}, or the VPC card (nitro_net) is not loaded"),
    }
}

/// Explains a refusal of a VPC command, with what the user can do about it.
/// Errors that are not refusals, and errnos with no better explanation than
/// the generic hint, pass through unchanged.
pub fn explain(ctrl: &Ctrl, op: Op<'_>, err: Error) -> Error {
    let Some(errno) = err.errno() else { return err };
    if let Op::EniCreate { .. } = op {
        if errno != libc::ENODEV {
            return objects::explain(ctrl, Kind::Eni, "create", None, err);
        }
    }
    let host = op.host();
    let msg = match (errno, op) {
        (libc::ENODEV, Op::HostCreate { .. }) => "the VPC card (nitro_net) is not loaded \
             (see `nitroctl status`; `modprobe nitro_net`)"
            .into(),
        (libc::ENODEV, _) => no_host(ctrl, host),
        (libc::EACCES, _) => GATE_CLOSED.into(),
        (libc::EBADF, Op::HostCreate { netns, .. }) => format!(
            "{} is not a network namespace (give NAME for {NETNS_DIR}/NAME, or /proc/PID/ns/net)",
            netns.map_or_else(|| "the namespace".into(), |p| p.display().to_string())
        ),
        (libc::EADDRNOTAVAIL, Op::HostCreate { underlay, netns }) => format!(
            "the underlay address {underlay} is not configured in that namespace ({}): \
             add it first (`ip addr add {underlay}/24 dev ...`)",
            netns.map_or_else(|| "nitroctl's own".into(), |p| p.display().to_string())
        ),
        (libc::EADDRINUSE, Op::HostCreate { underlay, .. }) => format!(
            "UDP port {} on {underlay} is already in use in that namespace \
             (another program, or a geneve device)",
            abi::NITRO_GENEVE_PORT
        ),
        (libc::EEXIST, Op::HostCreate { underlay, .. }) => {
            format!("a host with that namespace and underlay address {underlay} already exists")
        }
        (libc::ENOSPC, Op::HostCreate { .. }) => format!(
            "the VPC card already runs its maximum of {} hosts",
            abi::NITRO_HOSTS_MAX
        ),
        (libc::EINVAL, Op::HostCreate { underlay, .. }) => format!(
            "the controller rejected the underlay address {underlay} \
             (not 0, multicast, broadcast or loopback)"
        ),
        (libc::EBUSY, Op::HostDelete(h)) => {
            let list = enis_on(ctrl, h)
                .filter(|v| !v.is_empty())
                .map(|v| format!(" ({})", v.join(", ")))
                .unwrap_or_default();
            format!("host {h} still has ENIs: delete them first{list}")
        }
        (libc::EEXIST, Op::MapSet { host, vpc, ip }) => format!(
            "in VPC {vpc}, that MAC address is already another address's, or an ENI of \
             host {host} holds {ip} or that MAC (ENIs on the host need no mapping)"
        ),
        (libc::ENOSPC, Op::MapSet { host, .. }) => format!(
            "the mapping table of host {host} is full ({} entries)",
            abi::NITRO_MAPS_MAX
        ),
        (libc::EINVAL, Op::MapSet { host, .. }) => format!(
            "the controller rejected the mapping (VPC 1 to {}, unicast address and MAC, \
             the underlay a unicast address other than host {host}'s own)",
            abi::NITRO_VPC_MAX
        ),
        (libc::ENOENT, Op::MapDelete { host, vpc, ip }) => {
            format!("host {host} has no mapping for {ip} in VPC {vpc}")
        }
        (libc::ESTALE, Op::PeerKey { host, peer, epoch }) => format!(
            "epoch {epoch} must be above the pair's current epoch \
             (host {host}, peer {peer}): epochs only increase"
        ),
        (libc::ENOSPC, Op::PeerKey { host, .. }) => format!(
            "host {host} already holds keys for its maximum of {} peers",
            abi::NITRO_PEERS_MAX
        ),
        (libc::EINVAL, Op::PeerKey { host, peer, .. }) => format!(
            "the controller rejected the key (epoch 0, a key of all zeros, or peer {peer} \
             is not a unicast address or is host {host}'s own)"
        ),
        (libc::EOPNOTSUPP, _) => "the VPC card does not implement this yet".into(),
        (libc::EIO, _) => "the VPC card refused the request (see dmesg)".into(),
        _ => return err,
    };
    Error::Refused { msg, errno }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_numbers() {
        assert_eq!(parse_host("1"), Ok(1));
        assert_eq!(parse_host("16"), Ok(abi::NITRO_HOSTS_MAX));
        for bad in ["0", "17", "-1", "", "one", "1.0", "4294967296"] {
            assert!(parse_host(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_eni_host("0"), Ok(0));
        assert_eq!(parse_eni_host("3"), Ok(3));
        assert!(parse_eni_host("17")
            .unwrap_err()
            .contains("lowest-numbered"));
    }

    #[test]
    fn vpcs_and_epochs() {
        assert_eq!(parse_vpc("1"), Ok(1));
        assert_eq!(parse_vpc("16777215"), Ok(abi::NITRO_VPC_MAX));
        assert!(parse_vpc("0").is_err());
        assert!(parse_vpc("16777216").is_err());
        assert_eq!(parse_epoch("1"), Ok(1));
        assert_eq!(parse_epoch("4294967295"), Ok(u32::MAX));
        assert!(parse_epoch("0").is_err());
        assert!(parse_epoch("4294967296").is_err());
        assert!(parse_epoch("-2").is_err());
    }

    #[test]
    fn ipv4_addresses() {
        assert_eq!(
            parse_unicast_ipv4("192.0.2.1"),
            Ok(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert_eq!(
            parse_unicast_ipv4("10.255.255.255"),
            Ok(Ipv4Addr::new(10, 255, 255, 255))
        );
        for bad in [
            "10.0.0",
            "10.0.0.256",
            "10.0.0.1/24",
            " 10.0.0.1",
            "010.0.0.1",
            "::1",
            "",
        ] {
            assert!(
                parse_unicast_ipv4(bad)
                    .unwrap_err()
                    .contains("is not an IPv4 address"),
                "{bad:?}"
            );
        }
        for (bad, why) in [
            ("0.0.0.0", "unspecified"),
            ("127.0.0.1", "loopback"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.255", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
        ] {
            assert!(parse_unicast_ipv4(bad).unwrap_err().contains(why), "{bad}");
        }
        // The same rule as the controller's.
        for s in ["10.0.0.1", "0.0.0.0", "127.1.2.3", "224.0.0.1", "240.0.0.1"] {
            let ip: Ipv4Addr = s.parse().unwrap();
            assert_eq!(
                parse_unicast_ipv4(s).is_ok(),
                abi::state::eni_addressing(1, &[0; 6], be(ip)),
                "{s}"
            );
        }
        assert_eq!(
            ipv4(be(Ipv4Addr::new(192, 0, 2, 7))).to_string(),
            "192.0.2.7"
        );
        assert_eq!(be(Ipv4Addr::new(1, 2, 3, 4)).to_ne_bytes(), [1, 2, 3, 4]);
    }

    #[test]
    fn mapping_macs() {
        assert_eq!(
            parse_unicast_mac("02:00:00:00:00:0a"),
            Ok([2, 0, 0, 0, 0, 10])
        );
        assert_eq!(
            parse_unicast_mac("AA:BB:CC:DD:EE:FE"),
            Ok([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xfe])
        );
        assert!(parse_unicast_mac("01:00:5e:00:00:01")
            .unwrap_err()
            .contains("multicast"));
        assert!(parse_unicast_mac("ff:ff:ff:ff:ff:ff")
            .unwrap_err()
            .contains("broadcast"));
        assert!(parse_unicast_mac("00:00:00:00:00:00").is_err());
        assert!(parse_unicast_mac("02:00:00:00:00").is_err());
    }

    #[test]
    fn namespaces() {
        assert_eq!(netns_path("blue"), Ok(PathBuf::from("/run/netns/blue")));
        assert_eq!(
            netns_path("/proc/1/ns/net"),
            Ok(PathBuf::from("/proc/1/ns/net"))
        );
        assert_eq!(netns_path("./ns"), Ok(PathBuf::from("./ns")));
        assert!(netns_path("").is_err());
    }

    #[test]
    fn refusals_are_explained() {
        // /dev/null answers every ioctl with ENOTTY: the controller cannot
        // say whether the VPC card is there.
        let ctrl = Ctrl::open(Path::new("/dev/null")).unwrap();
        let ex = |op: Op<'_>, errno: i32| {
            let e = explain(
                &ctrl,
                op,
                Error::Kernel {
                    what: "x",
                    err: std::io::Error::from_raw_os_error(errno),
                },
            );
            assert_eq!(e.errno(), Some(errno));
            assert_eq!(e.exit_code(), 1);
            e.to_string()
        };
        let ip = Ipv4Addr::new(192, 0, 2, 1);
        let ns = PathBuf::from("/run/netns/blue");
        let create = Op::HostCreate {
            underlay: ip,
            netns: Some(&ns),
        };
        let map = Op::MapSet {
            host: 2,
            vpc: 7,
            ip: Ipv4Addr::new(10, 0, 0, 5),
        };
        let key = Op::PeerKey {
            host: 2,
            peer: Ipv4Addr::new(192, 0, 2, 2),
            epoch: 3,
        };
        for (op, errno, says) in [
            (
                create,
                libc::ENODEV,
                "the VPC card (nitro_net) is not loaded",
            ),
            (
                Op::HostShow(4),
                libc::ENODEV,
                "no such host 4, or the VPC card (nitro_net) is not loaded",
            ),
            (
                map,
                libc::ENODEV,
                "no such host 2, or the VPC card (nitro_net) is not loaded",
            ),
            (
                Op::EniCreate { host: 0 },
                libc::ENODEV,
                "no host to make the ENI on, or the VPC card (nitro_net) is not loaded",
            ),
            (
                key,
                libc::ESTALE,
                "epoch 3 must be above the pair's current epoch",
            ),
            (
                create,
                libc::EADDRNOTAVAIL,
                "192.0.2.1 is not configured in that namespace (/run/netns/blue)",
            ),
            (
                create,
                libc::EADDRINUSE,
                "UDP port 6081 on 192.0.2.1 is already in use",
            ),
            (
                create,
                libc::EBADF,
                "/run/netns/blue is not a network namespace",
            ),
            (create, libc::EEXIST, "already exists"),
            (create, libc::ENOSPC, "maximum of 16 hosts"),
            (
                Op::HostDelete(2),
                libc::EBUSY,
                "host 2 still has ENIs: delete them first",
            ),
            (
                map,
                libc::EEXIST,
                "in VPC 7, that MAC address is already another address's",
            ),
            (
                map,
                libc::ENOSPC,
                "mapping table of host 2 is full (4096 entries)",
            ),
            (
                Op::MapDelete {
                    host: 2,
                    vpc: 7,
                    ip: Ipv4Addr::new(10, 0, 0, 5),
                },
                libc::ENOENT,
                "host 2 has no mapping for 10.0.0.5 in VPC 7",
            ),
            (key, libc::ENOSPC, "maximum of 256 peers"),
            (key, libc::EACCES, "boot gate is closed"),
            (
                Op::EniCreate { host: 1 },
                libc::EEXIST,
                "another ENI already has that name or address",
            ),
        ] {
            let msg = ex(op, errno);
            assert!(msg.contains(says), "{op:?} {errno}: {msg}");
        }
        // No better explanation than the generic hint: passed through.
        let msg = ex(Op::HostShow(1), libc::EPERM);
        assert!(msg.contains("CAP_SYS_ADMIN"), "{msg}");
        let msg = ex(create, libc::ENOTTY);
        assert!(msg.contains("older than nitroctl"), "{msg}");
        // Not a refusal at all: unchanged.
        let e = explain(&ctrl, create, Error::Usage("u".into()));
        assert_eq!(e.to_string(), "u");
    }

    #[test]
    fn host_rendering() {
        let i = abi::nitro_host_info {
            host: 2,
            underlay_ipv4: be(Ipv4Addr::new(192, 0, 2, 1)),
            enis: 3,
            maps: 4,
            peers: 1,
            tx_sealed: 10,
            rx_not_allowed: 5,
            tx_errors: 7,
            rx_backlog: 8,
            ..Default::default()
        };
        let h = Host::from_abi(&i);
        assert_eq!(h.underlay, "192.0.2.1");
        let text = h.human();
        assert!(
            text.starts_with("host            2\nunderlay        192.0.2.1\nenis            3\n")
        );
        assert!(text.contains("\nrx_not_allowed  5\n"), "{text}");
        assert!(text.contains("\ntx_errors       7\n"), "{text}");
        assert!(text.ends_with("rx_backlog      8\n"), "{text}");
        assert_eq!(
            text.lines().count(),
            17,
            "every field of nitro_host_info but size"
        );
        let j = serde_json::to_value(&h).unwrap();
        assert_eq!(j["host"], 2);
        assert_eq!(j["underlay"], "192.0.2.1");
        assert_eq!(j["tx_sealed"], 10);
        assert_eq!(j.as_object().unwrap().len(), 17);
        assert_eq!(j["rx_backlog"], 8);
    }
}
