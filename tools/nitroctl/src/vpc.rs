//! What the VPC card's commands (`host`, `map`, `eni create --host`;
//! Documentation/vpc.rst) share: parsing their host numbers, VPC ids, key
//! epochs and namespaces, and explaining the card's refusals.

use crate::{
    abi,
    device::Controller,
    error::Error,
    objects::{self, ObjectKind, GATE_CLOSED},
};
use std::{
    net::Ipv4Addr,
    path::{Path, PathBuf},
};

/// Where `ip netns add NAME` puts a namespace.
pub const NETNS_DIR: &str = "/run/netns";

/// Parses a host number: 1 to `NITRO_HOSTS_MAX`.
pub fn parse_host(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(host) if (1..=abi::NITRO_HOSTS_MAX).contains(&host) => Ok(host),
        _ => Err(format!(
            "'{text}' is not a host number (1 to {}, as `nitroctl host create` printed)",
            abi::NITRO_HOSTS_MAX
        )),
    }
}

/// Parses the host an ENI is made on: a host number, or 0 for the
/// lowest-numbered host.
pub fn parse_eni_host(text: &str) -> Result<u32, String> {
    if text == "0" {
        return Ok(0);
    }
    parse_host(text).map_err(|message| message + "; 0: the lowest-numbered host")
}

/// Parses a VPC id: 1 to `NITRO_VPC_MAX` (the 24-bit Geneve VNI).
pub fn parse_vpc(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(vpc) if (1..=abi::NITRO_VPC_MAX).contains(&vpc) => Ok(vpc),
        _ => Err(format!(
            "'{text}' is not a VPC id (1 to {})",
            abi::NITRO_VPC_MAX
        )),
    }
}

/// Parses a key epoch: 1 or more.
pub fn parse_epoch(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(epoch) if epoch >= 1 => Ok(epoch),
        _ => Err(format!("'{text}' is not an epoch (1 to {})", u32::MAX)),
    }
}

/// The path of `--netns`: a NAME (no '/') is `/run/netns/NAME`, as `ip
/// netns` makes them; anything else is a path (`/proc/PID/ns/net`).
pub fn netns_path(text: &str) -> Result<PathBuf, String> {
    if text.is_empty() {
        Err("the namespace is empty: give a NAME (from `ip netns list`) or a PATH".into())
    } else if text.contains('/') {
        Ok(PathBuf::from(text))
    } else {
        Ok(Path::new(NETNS_DIR).join(text))
    }
}

/// What a VPC command was doing, to explain a refusal of it.
#[derive(Clone, Copy, Debug)]
pub enum Operation<'a> {
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

impl Operation<'_> {
    /// The host the command is about (0: none or "the lowest").
    fn host(self) -> u32 {
        match self {
            Operation::HostCreate { .. } => 0,
            Operation::HostDelete(host) | Operation::HostShow(host) => host,
            Operation::MapSet { host, .. }
            | Operation::MapDelete { host, .. }
            | Operation::PeerKey { host, .. }
            | Operation::EniCreate { host } => host,
        }
    }
}

/// Whether a VPC card is on the bus; `None` if the controller cannot say.
fn vpc_card_loaded(controller: &Controller) -> Option<bool> {
    let (_, cards) = controller.status().ok()?;
    Some(cards.iter().any(|card| card.kind == abi::NITRO_CARD_VPC))
}

/// The ENIs made on `host`, as ids, if the controller lists them.
fn enis_on(controller: &Controller, host: u32) -> Option<Vec<String>> {
    let enis: Vec<abi::nitro_eni_info> = controller
        .list_all("NITRO_IOC_ENI_LIST", abi::NITRO_IOC_ENI_LIST, 1024)
        .ok()?;
    Some(
        enis.iter()
            .filter(|eni| eni.host == host)
            .map(|eni| ObjectKind::Eni.format_id(eni.id))
            .collect(),
    )
}

/// Explains `ENODEV` for a command on host `host` (0: any host), asking
/// the controller whether the VPC card is there at all.
fn no_host(controller: &Controller, host: u32) -> String {
    let which = if host == 0 {
        "no host to make the ENI on".to_string()
    } else {
        format!("no such host {host}")
    };
    match vpc_card_loaded(controller) {
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
pub fn explain(controller: &Controller, operation: Operation<'_>, error: Error) -> Error {
    let Some(errno) = error.errno() else {
        return error;
    };
    if let Operation::EniCreate { .. } = operation {
        if errno != libc::ENODEV {
            return objects::explain(controller, ObjectKind::Eni, "create", None, error);
        }
    }
    let host = operation.host();
    let message = match (errno, operation) {
        (libc::ENODEV, Operation::HostCreate { .. }) => "the VPC card (nitro_net) is not loaded \
             (see `nitroctl status`; `modprobe nitro_net`)"
            .into(),
        (libc::ENODEV, _) => no_host(controller, host),
        (libc::EACCES, _) => GATE_CLOSED.into(),
        (libc::EBADF, Operation::HostCreate { netns, .. }) => format!(
            "{} is not a network namespace (give NAME for {NETNS_DIR}/NAME, or /proc/PID/ns/net)",
            netns.map_or_else(|| "the namespace".into(), |path| path.display().to_string())
        ),
        (libc::EADDRNOTAVAIL, Operation::HostCreate { underlay, netns }) => format!(
            "the underlay address {underlay} is not configured in that namespace ({}): \
             add it first (`ip addr add {underlay}/24 dev ...`)",
            netns.map_or_else(
                || "nitroctl's own".into(),
                |path| path.display().to_string()
            )
        ),
        (libc::EADDRINUSE, Operation::HostCreate { underlay, .. }) => format!(
            "UDP port {} on {underlay} is already in use in that namespace \
             (another program, or a geneve device)",
            abi::NITRO_GENEVE_PORT
        ),
        (libc::EEXIST, Operation::HostCreate { underlay, .. }) => {
            format!("a host with that namespace and underlay address {underlay} already exists")
        }
        (libc::ENOSPC, Operation::HostCreate { .. }) => format!(
            "the VPC card already runs its maximum of {} hosts",
            abi::NITRO_HOSTS_MAX
        ),
        (libc::EINVAL, Operation::HostCreate { underlay, .. }) => format!(
            "the controller rejected the underlay address {underlay} \
             (not 0, multicast, broadcast or loopback)"
        ),
        (libc::EBUSY, Operation::HostDelete(host)) => {
            let list = enis_on(controller, host)
                .filter(|enis| !enis.is_empty())
                .map(|enis| format!(" ({})", enis.join(", ")))
                .unwrap_or_default();
            format!("host {host} still has ENIs: delete them first{list}")
        }
        (libc::EEXIST, Operation::MapSet { host, vpc, ip }) => format!(
            "in VPC {vpc}, that MAC address is already another address's, or an ENI of \
             host {host} holds {ip} or that MAC (ENIs on the host need no mapping)"
        ),
        (libc::ENOSPC, Operation::MapSet { host, .. }) => format!(
            "the mapping table of host {host} is full ({} entries)",
            abi::NITRO_MAPS_MAX
        ),
        (libc::EINVAL, Operation::MapSet { host, .. }) => format!(
            "the controller rejected the mapping (VPC 1 to {}, unicast address and MAC, \
             the underlay a unicast address other than host {host}'s own)",
            abi::NITRO_VPC_MAX
        ),
        (libc::ENOENT, Operation::MapDelete { host, vpc, ip }) => {
            format!("host {host} has no mapping for {ip} in VPC {vpc}")
        }
        (libc::ESTALE, Operation::PeerKey { host, peer, epoch }) => format!(
            "epoch {epoch} must be above the pair's current epoch \
             (host {host}, peer {peer}): epochs only increase"
        ),
        (libc::ENOSPC, Operation::PeerKey { host, .. }) => format!(
            "host {host} already holds keys for its maximum of {} peers",
            abi::NITRO_PEERS_MAX
        ),
        (libc::EINVAL, Operation::PeerKey { host, peer, .. }) => format!(
            "the controller rejected the key (epoch 0, a key of all zeros, or peer {peer} \
             is not a unicast address or is host {host}'s own)"
        ),
        (libc::EOPNOTSUPP, _) => "the VPC card does not implement this yet".into(),
        (libc::EIO, _) => "the VPC card refused the request (see dmesg)".into(),
        _ => return error,
    };
    Error::Refused { message, errno }
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
        let controller = Controller::open(Path::new("/dev/null")).unwrap();
        let explained = |operation: Operation<'_>, errno: i32| {
            let error = explain(
                &controller,
                operation,
                Error::Kernel {
                    request: "x",
                    error: std::io::Error::from_raw_os_error(errno),
                },
            );
            assert_eq!(error.errno(), Some(errno));
            assert_eq!(error.exit_code(), 1);
            error.to_string()
        };
        let underlay = Ipv4Addr::new(192, 0, 2, 1);
        let netns = PathBuf::from("/run/netns/blue");
        let create = Operation::HostCreate {
            underlay,
            netns: Some(&netns),
        };
        let map = Operation::MapSet {
            host: 2,
            vpc: 7,
            ip: Ipv4Addr::new(10, 0, 0, 5),
        };
        let key = Operation::PeerKey {
            host: 2,
            peer: Ipv4Addr::new(192, 0, 2, 2),
            epoch: 3,
        };
        for (operation, errno, says) in [
            (
                create,
                libc::ENODEV,
                "the VPC card (nitro_net) is not loaded",
            ),
            (
                Operation::HostShow(4),
                libc::ENODEV,
                "no such host 4, or the VPC card (nitro_net) is not loaded",
            ),
            (
                map,
                libc::ENODEV,
                "no such host 2, or the VPC card (nitro_net) is not loaded",
            ),
            (
                Operation::EniCreate { host: 0 },
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
                Operation::HostDelete(2),
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
                "mapping table of host 2 is full (1048576 entries)",
            ),
            (
                Operation::MapDelete {
                    host: 2,
                    vpc: 7,
                    ip: Ipv4Addr::new(10, 0, 0, 5),
                },
                libc::ENOENT,
                "host 2 has no mapping for 10.0.0.5 in VPC 7",
            ),
            (key, libc::ENOSPC, "maximum of 65536 peers"),
            (key, libc::EACCES, "boot gate is closed"),
            (
                Operation::EniCreate { host: 1 },
                libc::EEXIST,
                "another ENI already has that name or address",
            ),
        ] {
            let message = explained(operation, errno);
            assert!(message.contains(says), "{operation:?} {errno}: {message}");
        }
        // No better explanation than the generic hint: passed through.
        let message = explained(Operation::HostShow(1), libc::EPERM);
        assert!(message.contains("CAP_SYS_ADMIN"), "{message}");
        let message = explained(create, libc::ENOTTY);
        assert!(message.contains("older than nitroctl"), "{message}");
        // Not a refusal at all: unchanged.
        let error = explain(&controller, create, Error::Usage("u".into()));
        assert_eq!(error.to_string(), "u");
    }
}
