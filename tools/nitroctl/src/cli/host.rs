//! `nitroctl host`: the VPC card's hosts (emulated Nitro hosts,
//! Documentation/vpc.rst) and the keys they share with their peers.

use crate::{
    abi, address,
    cli::GlobalOptions,
    device::{sized, Controller},
    error::Error,
    output,
    secret::{self, Secret},
    vpc::{self, Operation},
};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::{
    fmt::Write,
    net::Ipv4Addr,
    os::fd::AsRawFd,
    path::{Path, PathBuf},
};

/// Host commands (the VPC card's instances, Documentation/vpc.rst).
#[derive(Subcommand, Debug, PartialEq)]
pub enum HostCommand {
    /// Create a host: binds UDP port 6081 on its underlay address; prints
    /// its number.
    Create {
        /// The host's underlay address, already configured in the namespace.
        #[arg(long, value_name = "IPV4", value_parser = address::parse_unicast_ipv4)]
        underlay: Ipv4Addr,
        /// The underlay's network namespace: NAME (/run/netns/NAME, as made
        /// by `ip netns add`) or a PATH (/proc/PID/ns/net); default:
        /// nitroctl's own.
        #[arg(long, value_name = "NAME|PATH", value_parser = vpc::netns_path)]
        netns: Option<PathBuf>,
    },
    /// Delete a host (it must have no ENIs left).
    Delete(HostArg),
    /// Show a host: its underlay address, table sizes and counters.
    Show(HostArg),
    /// Install the key a host shares with a peer host (install the same key
    /// and epoch on the peer). The key is never printed.
    Key {
        /// The host.
        #[arg(value_name = "N", value_parser = vpc::parse_host)]
        host: u32,
        /// The peer host's underlay address.
        #[arg(long, value_name = "IPV4", value_parser = address::parse_unicast_ipv4)]
        peer: Ipv4Addr,
        /// The key's epoch, above the pair's current one.
        #[arg(long, value_name = "E", value_parser = vpc::parse_epoch)]
        epoch: u32,
        /// The AES-256-GCM key: a file of exactly 32 raw bytes; '-' for
        /// standard input.
        #[arg(long, value_name = "FILE")]
        key_file: PathBuf,
    },
}

/// A host number argument.
#[derive(Args, Debug, PartialEq)]
pub struct HostArg {
    /// The host's number (as `nitroctl host create` printed it).
    #[arg(value_name = "N", value_parser = vpc::parse_host)]
    pub host: u32,
}

/// A peer key (`host key --key-file`).
type PeerKey = Secret<{ abi::NITRO_PEER_KEY_LEN as usize }>;

/// `nitroctl host ...`.
pub fn run(options: &GlobalOptions, command: &HostCommand) -> Result<String, Error> {
    match command {
        HostCommand::Create { underlay, netns } => create(options, *underlay, netns.as_deref()),
        HostCommand::Delete(arg) => delete(options, arg.host),
        HostCommand::Show(arg) => show(options, arg.host),
        HostCommand::Key {
            host,
            peer,
            epoch,
            key_file,
        } => install_key(options, *host, *peer, *epoch, key_file),
    }
}

/// `nitroctl host create`.
fn create(
    options: &GlobalOptions,
    underlay: Ipv4Addr,
    netns: Option<&Path>,
) -> Result<String, Error> {
    let controller = options.open()?;
    // Held open until the create returns: the host takes its own reference
    // on the namespace.
    let netns_file = match netns {
        Some(path) => Some(std::fs::File::open(path).map_err(|error| {
            Error::Usage(format!(
                "--netns {}: {error}{}",
                path.display(),
                if error.kind() == std::io::ErrorKind::NotFound
                    && path.parent() == Some(Path::new(vpc::NETNS_DIR))
                {
                    " (see `ip netns list`)"
                } else {
                    ""
                }
            ))
        })?),
        None => None,
    };
    let mut create: abi::nitro_host_create = sized();
    create.netns_fd = netns_file.as_ref().map_or(-1, AsRawFd::as_raw_fd);
    create.underlay_ipv4 = address::ipv4_to_abi(underlay);
    controller
        .ioctl(
            "NITRO_IOC_HOST_CREATE",
            abi::NITRO_IOC_HOST_CREATE,
            &mut create,
        )
        .map_err(|error| {
            vpc::explain(
                &controller,
                Operation::HostCreate { underlay, netns },
                error,
            )
        })?;
    Ok(if options.json {
        output::json(&serde_json::json!({ "host": create.host }))
    } else {
        format!("{}\n", create.host)
    })
}

/// `nitroctl host delete`.
fn delete(options: &GlobalOptions, host: u32) -> Result<String, Error> {
    let controller = options.open()?;
    host_request(&controller, abi::NITRO_IOC_HOST_DELETE, host)?;
    Ok(if options.json {
        output::json(&serde_json::json!({ "host": host, "result": "deleted" }))
    } else {
        format!("host {host} deleted\n")
    })
}

/// `nitroctl host show`.
fn show(options: &GlobalOptions, host: u32) -> Result<String, Error> {
    let controller = options.open()?;
    let info = host_request(&controller, abi::NITRO_IOC_HOST_DESCRIBE, host)?;
    Ok(options.render(&Host::from_abi(&info), Host::human))
}

/// `NITRO_IOC_HOST_DELETE` or `_DESCRIBE` (`command`) of host `host`.
fn host_request(
    controller: &Controller,
    command: u32,
    host: u32,
) -> Result<abi::nitro_host_info, Error> {
    let mut info: abi::nitro_host_info = sized();
    info.host = host;
    let (request, operation) = if command == abi::NITRO_IOC_HOST_DELETE {
        ("NITRO_IOC_HOST_DELETE", Operation::HostDelete(host))
    } else {
        ("NITRO_IOC_HOST_DESCRIBE", Operation::HostShow(host))
    };
    controller
        .ioctl(request, command, &mut info)
        .map_err(|error| vpc::explain(controller, operation, error))?;
    Ok(info)
}

/// `nitroctl host key`.
fn install_key(
    options: &GlobalOptions,
    host: u32,
    peer: Ipv4Addr,
    epoch: u32,
    key_file: &Path,
) -> Result<String, Error> {
    // A key file that can be wrong is checked before the controller is
    // opened.
    let key = PeerKey::read(key_file, "peer key").map_err(Error::Usage)?;
    let controller = options.open()?;
    let mut peer_key: abi::nitro_peer_key = sized();
    peer_key.key = key.0;
    peer_key.host = host;
    peer_key.peer_ipv4 = address::ipv4_to_abi(peer);
    peer_key.epoch = epoch;
    let result = controller.ioctl("NITRO_IOC_PEER_KEY", abi::NITRO_IOC_PEER_KEY, &mut peer_key);
    secret::wipe(&mut peer_key.key);
    result.map_err(|error| {
        vpc::explain(&controller, Operation::PeerKey { host, peer, epoch }, error)
    })?;
    Ok(if options.json {
        output::json(&serde_json::json!({
            "host": host,
            "peer": peer.to_string(),
            "epoch": epoch,
            "result": "installed",
        }))
    } else {
        format!("host {host}: key of epoch {epoch} installed for peer {peer}\n")
    })
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
    pub fn from_abi(info: &abi::nitro_host_info) -> Self {
        Host {
            host: info.host,
            underlay: address::ipv4_from_abi(info.underlay_ipv4).to_string(),
            enis: info.enis,
            maps: info.maps,
            peers: info.peers,
            tx_sealed: info.tx_sealed,
            rx_sealed: info.rx_sealed,
            tx_plain: info.tx_plain,
            rx_plain: info.rx_plain,
            rx_bad_auth: info.rx_bad_auth,
            rx_replay: info.rx_replay,
            rx_no_key: info.rx_no_key,
            rx_not_allowed: info.rx_not_allowed,
            rx_malformed: info.rx_malformed,
            tx_no_key: info.tx_no_key,
            tx_errors: info.tx_errors,
            rx_backlog: info.rx_backlog,
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
        let width = rows.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
        rows.iter().fold(String::new(), |mut out, (key, value)| {
            let _ = writeln!(out, "{key:<width$}  {value}");
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{parse, refused, Cli, Command};
    use clap::Parser;

    #[test]
    fn host_rendering() {
        let info = abi::nitro_host_info {
            host: 2,
            underlay_ipv4: address::ipv4_to_abi(Ipv4Addr::new(192, 0, 2, 1)),
            enis: 3,
            maps: 4,
            peers: 1,
            tx_sealed: 10,
            rx_not_allowed: 5,
            tx_errors: 7,
            rx_backlog: 8,
            ..Default::default()
        };
        let host = Host::from_abi(&info);
        assert_eq!(host.underlay, "192.0.2.1");
        let text = host.human();
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
        let json = serde_json::to_value(&host).unwrap();
        assert_eq!(json["host"], 2);
        assert_eq!(json["underlay"], "192.0.2.1");
        assert_eq!(json["tx_sealed"], 10);
        assert_eq!(json.as_object().unwrap().len(), 17);
        assert_eq!(json["rx_backlog"], 8);
    }
    #[test]
    fn parses_host_commands() {
        assert_eq!(
            parse(&["host", "create", "--underlay", "192.0.2.1"]).command,
            Command::Host(HostCommand::Create {
                underlay: Ipv4Addr::new(192, 0, 2, 1),
                netns: None
            })
        );
        assert_eq!(
            parse(&[
                "host",
                "create",
                "--underlay",
                "192.0.2.1",
                "--netns",
                "blue"
            ])
            .command,
            Command::Host(HostCommand::Create {
                underlay: Ipv4Addr::new(192, 0, 2, 1),
                netns: Some("/run/netns/blue".into())
            })
        );
        assert_eq!(
            parse(&[
                "host",
                "create",
                "--underlay",
                "192.0.2.1",
                "--netns",
                "/proc/1/ns/net"
            ])
            .command,
            Command::Host(HostCommand::Create {
                underlay: Ipv4Addr::new(192, 0, 2, 1),
                netns: Some("/proc/1/ns/net".into())
            })
        );
        assert_eq!(
            parse(&["host", "delete", "3"]).command,
            Command::Host(HostCommand::Delete(HostArg { host: 3 }))
        );
        let cli = parse(&["host", "show", "16", "--json"]);
        assert!(cli.options.json);
        assert_eq!(
            cli.command,
            Command::Host(HostCommand::Show(HostArg { host: 16 }))
        );
        assert_eq!(
            parse(&[
                "host",
                "key",
                "1",
                "--peer",
                "192.0.2.2",
                "--epoch",
                "7",
                "--key-file",
                "-"
            ])
            .command,
            Command::Host(HostCommand::Key {
                host: 1,
                peer: Ipv4Addr::new(192, 0, 2, 2),
                epoch: 7,
                key_file: "-".into()
            })
        );
        assert!(refused(&["host", "create"]).contains("--underlay"));
        assert!(refused(&["host", "create", "--underlay", "10.0.0"]).contains("not an IPv4"));
        assert!(refused(&["host", "create", "--underlay", "127.0.0.1"]).contains("loopback"));
        assert!(
            refused(&["host", "create", "--underlay", "10.0.0.1", "--netns", ""])
                .contains("namespace is empty")
        );
        assert!(refused(&["host", "delete", "0"]).contains("not a host number"));
        assert!(refused(&["host", "show", "17"]).contains("not a host number"));
        assert!(refused(&["host", "show"]).contains("<N>"));
        let key = ["host", "key", "1", "--peer", "192.0.2.2", "--key-file", "k"];
        assert!(refused(&key).contains("--epoch"));
        let mut zero = key.to_vec();
        zero.extend(["--epoch", "0"]);
        assert!(refused(&zero).contains("not an epoch"));
        assert!(refused(&[
            "host",
            "key",
            "1",
            "--peer",
            "224.0.0.1",
            "--epoch",
            "1",
            "--key-file",
            "k"
        ])
        .contains("multicast"));
    }

    #[test]
    fn key_files_are_checked_before_the_controller() {
        // With no controller at all, a bad key file is still the error
        // (usage, exit 2): nothing reached the device. A good one gets as
        // far as opening it (unavailable, exit 3).
        let dir = std::env::temp_dir().join(format!("nitroctl-host-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let run_with = |bytes: &[u8]| {
            let key_file = dir.join("k");
            std::fs::write(&key_file, bytes).unwrap();
            let cli = Cli::try_parse_from([
                "nitroctl".as_ref(),
                "--device".as_ref(),
                "/nonexistent/nitro_ctrl".as_ref(),
                "host".as_ref(),
                "key".as_ref(),
                "1".as_ref(),
                "--peer".as_ref(),
                "192.0.2.2".as_ref(),
                "--epoch".as_ref(),
                "1".as_ref(),
                "--key-file".as_ref(),
                key_file.as_os_str(),
            ])
            .unwrap();
            let Command::Host(command) = &cli.command else {
                panic!("{:?}", cli.command)
            };
            run(&cli.options, command).err().unwrap()
        };
        for (bytes, says) in [
            (&[1u8; 31][..], "exactly 32 raw bytes, this has 31"),
            (
                &[1u8; 33][..],
                "exactly 32 raw bytes, this has more than 32",
            ),
            (&[], "exactly 32 raw bytes, this has 0"),
            (&[0u8; 32][..], "all zeros"),
        ] {
            let error = run_with(bytes);
            assert_eq!(error.exit_code(), 2, "{error}");
            assert!(error.to_string().contains(says), "{error}");
        }
        let error = run_with(&[0x5a; 32]);
        assert_eq!(error.exit_code(), 3, "{error}");
        assert!(!error.to_string().contains("5a"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
