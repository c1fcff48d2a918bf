//! nitroctl: the command-line client of the nitro-rs Nitro Controller.
//!
//! Every command is one or a few ioctls on `/dev/nitro_ctrl`. Exit codes: 0
//! success, 1 the controller refused (errno shown), 2 usage error, 3 the
//! controller is unavailable (module not loaded, no device node, not root).

mod abi;
mod device;
mod firmware;
mod key;
mod objects;
mod report;
mod vpc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use device::{sized, Ctrl, Error};
use objects::{explain, Kind};
use std::{net::Ipv4Addr, path::PathBuf, process::ExitCode, time::Duration};

/// Manage a nitro-rs host through its Nitro Controller.
#[derive(Parser, Debug)]
#[command(name = "nitroctl", version, about)]
pub struct Cli {
    /// Controller device node.
    #[arg(long, global = true, value_name = "PATH")]
    device: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// Commands.
#[derive(Subcommand, Debug, PartialEq)]
pub enum Command {
    /// Show the controller's ABI version and features.
    Version,
    /// Show the cards on the private bus and the boot gate.
    Status,
    /// Manage volumes (EBS and instance storage).
    #[command(subcommand)]
    Volume(VolumeCmd),
    /// Manage elastic network interfaces.
    #[command(subcommand)]
    Eni(EniCmd),
    /// Manage the VPC card's hosts (emulated Nitro hosts) and their peer keys.
    #[command(subcommand)]
    Host(HostCmd),
    /// Program a host's mapping table: which peer host holds an address.
    #[command(subcommand)]
    Map(MapCmd),
    /// Show per-card, per-volume and per-ENI counters (pulled on demand).
    Metrics {
        /// Repeat every SECS seconds.
        #[arg(long, value_name = "SECS")]
        watch: Option<u64>,
        /// With --watch: stop after N rounds.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
    /// Show the audit log of control operations.
    Audit,
    /// The security chip: measurements, allowlist, boot gate.
    #[command(subcommand)]
    Firmware(FirmwareCmd),
    /// The key service: wrap EBS data keys for a card (no controller needed).
    #[command(subcommand)]
    Key(KeyCmd),
}

/// Key service commands.
#[derive(Subcommand, Debug, PartialEq)]
pub enum KeyCmd {
    /// Wrap a data key under an EBS card's key; writes the 100-byte
    /// struct nitro_wrapped_key to OUT.
    Wrap {
        /// The card's key (32 raw bytes: the card's firmware file
        /// nitro-rs/ebs-card.key).
        #[arg(long, value_name = "FILE")]
        card_key: PathBuf,
        /// The volume's AES-256-XTS key (64 raw bytes); without it a fresh
        /// random key is wrapped, which nobody but the card ever sees.
        #[arg(long, value_name = "FILE")]
        data_key: Option<PathBuf>,
        /// Where to write the wrapped key.
        #[arg(long, short, value_name = "OUT")]
        out: PathBuf,
    },
}

/// Firmware commands.
#[derive(Subcommand, Debug, PartialEq)]
pub enum FirmwareCmd {
    /// Show the measurement log, the registers and the boot gate.
    Show {
        /// Print the log as an allowlist file instead (sha384sum format).
        #[arg(long)]
        allowlist: bool,
    },
    /// Set the allowlist of known-good digests from FILE and verify.
    Allow {
        /// Lines of '[sha384:]HEX COMPONENT'; '-' for standard input.
        file: PathBuf,
    },
    /// Ask to write firmware (the security chip always refuses).
    Update {
        /// Component to write.
        #[arg(long, default_value = "bios-rom")]
        component: String,
        /// The image.
        file: PathBuf,
    },
}

/// Volume kinds.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum VolumeKindArg {
    /// EBS volume.
    Ebs,
    /// Instance-storage volume.
    Instance,
}

/// Volume commands.
#[derive(Subcommand, Debug, PartialEq)]
pub enum VolumeCmd {
    /// Create a volume.
    Create {
        /// EBS or instance storage.
        #[arg(long, value_enum)]
        kind: VolumeKindArg,
        /// Capacity: bytes, or with K, M, G, T.
        #[arg(long, value_parser = objects::parse_size)]
        size: u64,
        /// Logical block size, 512 or 4096.
        #[arg(long, default_value_t = 4096)]
        block_size: u32,
        /// A name, unique on the host.
        #[arg(long, default_value = "")]
        name: String,
        /// EBS: the backing file or block device (opened read-write). The
        /// EBS card needs it (a test card does not: the card decides).
        #[arg(long, value_name = "PATH")]
        backing: Option<PathBuf>,
        /// EBS: the wrapped data key (from `nitroctl key wrap`).
        #[arg(long, value_name = "FILE")]
        wrapped_key: Option<PathBuf>,
    },
    /// Delete a volume.
    Delete(IdArg),
    /// Attach a volume under a device name (e.g. sdf).
    Attach {
        /// vol-...
        id: String,
        /// Device name.
        #[arg(value_name = "DEVICE")]
        dev: String,
    },
    /// Detach a volume.
    Detach(IdArg),
    /// List volumes.
    List,
    /// Show one volume.
    Show(IdArg),
}

/// ENI commands.
#[derive(Subcommand, Debug, PartialEq)]
pub enum EniCmd {
    /// Create an ENI.
    Create {
        /// VPC id (1 to 16777215).
        #[arg(long)]
        vpc: u32,
        /// Primary private IPv4 address.
        #[arg(long)]
        ip: Ipv4Addr,
        /// MAC address (default: a locally administered one).
        #[arg(long, value_parser = objects::parse_mac)]
        mac: Option<[u8; 6]>,
        /// A name, unique on the host.
        #[arg(long, default_value = "")]
        name: String,
        /// The VPC card's host to make it on (0: the lowest-numbered).
        #[arg(long, value_name = "N", default_value_t = 0, value_parser = vpc::parse_eni_host)]
        host: u32,
    },
    /// Delete an ENI.
    Delete(IdArg),
    /// Attach an ENI (the card names the interface unless IFNAME is given).
    Attach {
        /// eni-...
        id: String,
        /// Interface name.
        ifname: Option<String>,
    },
    /// Detach an ENI.
    Detach(IdArg),
    /// List ENIs.
    List,
    /// Show one ENI.
    Show(IdArg),
}

/// Host commands (the VPC card's instances, Documentation/vpc.rst).
#[derive(Subcommand, Debug, PartialEq)]
pub enum HostCmd {
    /// Create a host: binds UDP port 6081 on its underlay address; prints
    /// its number.
    Create {
        /// The host's underlay address, already configured in the namespace.
        #[arg(long, value_name = "IPV4", value_parser = vpc::parse_unicast_ipv4)]
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
        #[arg(long, value_name = "IPV4", value_parser = vpc::parse_unicast_ipv4)]
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
    host: u32,
}

/// What names a mapping entry: host, VPC and inner address.
#[derive(Args, Debug, PartialEq)]
pub struct MapKey {
    /// The host whose table is programmed.
    #[arg(long, value_name = "N", value_parser = vpc::parse_host)]
    host: u32,
    /// VPC id (1 to 16777215).
    #[arg(long, value_name = "V", value_parser = vpc::parse_vpc)]
    vpc: u32,
    /// The inner IPv4 address.
    #[arg(long, value_name = "IPV4", value_parser = vpc::parse_unicast_ipv4)]
    ip: Ipv4Addr,
}

/// Mapping table commands.
#[derive(Subcommand, Debug, PartialEq)]
pub enum MapCmd {
    /// Map an address of a VPC to the peer host that holds it (replaces the
    /// entry for the same VPC and address).
    Set {
        #[command(flatten)]
        key: MapKey,
        /// The inner MAC address (unicast).
        #[arg(long, value_parser = vpc::parse_unicast_mac)]
        mac: [u8; 6],
        /// The peer host's underlay address.
        #[arg(long, value_name = "IPV4", value_parser = vpc::parse_unicast_ipv4)]
        underlay: Ipv4Addr,
        /// The peer is a Nitro host: frames to it are sealed (else plain
        /// Geneve).
        #[arg(long)]
        nitro: bool,
    },
    /// Delete a mapping entry.
    Delete(MapKey),
}

/// An object id argument.
#[derive(Args, Debug, PartialEq)]
pub struct IdArg {
    /// vol-... or eni-...
    id: String,
}

/// A peer key (`host key --key-file`).
type PeerKey = key::Secret<{ abi::NITRO_PEER_KEY_LEN as usize }>;

/// A usage error found after parsing (exit code 2, like clap's).
fn usage(msg: String) -> Error {
    Error::Usage(msg)
}

fn id_of(kind: Kind, s: &str) -> Result<u64, Error> {
    objects::parse_id(kind.prefix(), s).map_err(usage)
}

fn out<T: serde::Serialize>(cli: &Cli, v: &T, human: impl FnOnce(&T) -> String) -> String {
    if cli.json {
        json(v)
    } else {
        human(v)
    }
}

/// Delete or detach (`cmd`) of object `id`.
fn change(ctrl: &Ctrl, kind: Kind, op: &str, cmd: u32, id: &str) -> Result<u64, Error> {
    let id = id_of(kind, id)?;
    let mut r: abi::nitro_object_ref = sized();
    r.id = id;
    ctrl.ioctl("change", cmd, &mut r)
        .map_err(|e| explain(ctrl, kind, op, Some(id), e))?;
    Ok(id)
}

fn done(cli: &Cli, kind: Kind, id: u64, what: &str) -> String {
    let id = objects::fmt_id(kind.prefix(), id);
    if cli.json {
        json(&serde_json::json!({ "id": id, "result": what }))
    } else {
        format!("{id} {what}\n")
    }
}

fn volume(cli: &Cli, ctrl: &Ctrl, cmd: &VolumeCmd) -> Result<String, Error> {
    let k = Kind::Volume;
    Ok(match cmd {
        VolumeCmd::Create {
            kind,
            size,
            block_size,
            name,
            backing,
            wrapped_key,
        } => {
            let mut c: abi::nitro_volume_create = sized();
            // Held open until the create returns: the card takes its own
            // reference.
            let file = match backing {
                Some(p) => Some(
                    std::fs::OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open(p)
                        .map_err(|e| usage(format!("{}: {e}", p.display())))?,
                ),
                None => None,
            };
            if let Some(f) = &file {
                c.backing_fd = std::os::fd::AsRawFd::as_raw_fd(f);
            }
            if let Some(w) = wrapped_key {
                c.wrapped_key = key::read_key(w, "wrapped key").map_err(usage)?;
            }
            c.kind = match kind {
                VolumeKindArg::Ebs => abi::NITRO_VOLUME_EBS,
                VolumeKindArg::Instance => abi::NITRO_VOLUME_INSTANCE,
            };
            c.size_bytes = *size;
            c.block_size = *block_size;
            objects::put_str(&mut c.name, name, "name").map_err(usage)?;
            ctrl.ioctl("create", abi::NITRO_IOC_VOLUME_CREATE, &mut c)
                .map_err(|e| explain(ctrl, k, "create", None, e))?;
            done(cli, k, c.id, "created")
        }
        VolumeCmd::Delete(a) => done(
            cli,
            k,
            change(ctrl, k, "delete", abi::NITRO_IOC_VOLUME_DELETE, &a.id)?,
            "deleted",
        ),
        VolumeCmd::Detach(a) => done(
            cli,
            k,
            change(ctrl, k, "detach", abi::NITRO_IOC_VOLUME_DETACH, &a.id)?,
            "detached",
        ),
        VolumeCmd::Attach { id, dev: device } => {
            let mut a: abi::nitro_attach = sized();
            a.id = id_of(k, id)?;
            objects::put_str(&mut a.device, device, "device name").map_err(usage)?;
            ctrl.ioctl("attach", abi::NITRO_IOC_VOLUME_ATTACH, &mut a)
                .map_err(|e| explain(ctrl, k, "attach", Some(a.id), e))?;
            done(cli, k, a.id, &format!("attached as {device}"))
        }
        VolumeCmd::List => {
            let v: Vec<abi::nitro_volume_info> =
                ctrl.list_all("NITRO_IOC_VOLUME_LIST", abi::NITRO_IOC_VOLUME_LIST, 1024)?;
            let v: Vec<_> = v.iter().map(objects::Volume::from_abi).collect();
            out(cli, &v, |v| objects::volume_table(v))
        }
        VolumeCmd::Show(a) => {
            let mut d: abi::nitro_volume_describe = sized();
            d.id = id_of(k, &a.id)?;
            ctrl.ioctl("show", abi::NITRO_IOC_VOLUME_DESCRIBE, &mut d)
                .map_err(|e| explain(ctrl, k, "show", Some(d.id), e))?;
            out(cli, &objects::Volume::from_abi(&d.info), objects::show)
        }
    })
}

fn eni(cli: &Cli, ctrl: &Ctrl, cmd: &EniCmd) -> Result<String, Error> {
    let k = Kind::Eni;
    Ok(match cmd {
        EniCmd::Create {
            vpc,
            ip,
            mac,
            name,
            host,
        } => {
            let mut c: abi::nitro_eni_create = sized();
            c.vpc = *vpc;
            c.ipv4 = u32::from(*ip).to_be();
            c.mac = mac.unwrap_or_default();
            c.host = *host;
            objects::put_str(&mut c.name, name, "name").map_err(usage)?;
            ctrl.ioctl("create", abi::NITRO_IOC_ENI_CREATE, &mut c)
                .map_err(|e| vpc::explain(ctrl, vpc::Op::EniCreate { host: *host }, e))?;
            done(cli, k, c.id, "created")
        }
        EniCmd::Delete(a) => done(
            cli,
            k,
            change(ctrl, k, "delete", abi::NITRO_IOC_ENI_DELETE, &a.id)?,
            "deleted",
        ),
        EniCmd::Detach(a) => done(
            cli,
            k,
            change(ctrl, k, "detach", abi::NITRO_IOC_ENI_DETACH, &a.id)?,
            "detached",
        ),
        EniCmd::Attach { id, ifname } => {
            let mut a: abi::nitro_attach = sized();
            a.id = id_of(k, id)?;
            objects::put_str(
                &mut a.device,
                ifname.as_deref().unwrap_or(""),
                "interface name",
            )
            .map_err(usage)?;
            ctrl.ioctl("attach", abi::NITRO_IOC_ENI_ATTACH, &mut a)
                .map_err(|e| explain(ctrl, k, "attach", Some(a.id), e))?;
            let name: String = a
                .device
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8 as char)
                .collect();
            done(cli, k, a.id, &format!("attached as {name}"))
        }
        EniCmd::List => {
            let v: Vec<abi::nitro_eni_info> =
                ctrl.list_all("NITRO_IOC_ENI_LIST", abi::NITRO_IOC_ENI_LIST, 1024)?;
            let v: Vec<_> = v.iter().map(objects::Eni::from_abi).collect();
            out(cli, &v, |v| objects::eni_table(v))
        }
        EniCmd::Show(a) => {
            let mut d: abi::nitro_eni_describe = sized();
            d.id = id_of(k, &a.id)?;
            ctrl.ioctl("show", abi::NITRO_IOC_ENI_DESCRIBE, &mut d)
                .map_err(|e| explain(ctrl, k, "show", Some(d.id), e))?;
            out(cli, &objects::Eni::from_abi(&d.info), objects::show)
        }
    })
}

/// `NITRO_IOC_HOST_DELETE` or `_DESCRIBE` of host `host`.
fn host_info(ctrl: &Ctrl, cmd: u32, host: u32) -> Result<abi::nitro_host_info, Error> {
    let mut h: abi::nitro_host_info = sized();
    h.host = host;
    let (what, op) = if cmd == abi::NITRO_IOC_HOST_DELETE {
        ("NITRO_IOC_HOST_DELETE", vpc::Op::HostDelete(host))
    } else {
        ("NITRO_IOC_HOST_DESCRIBE", vpc::Op::HostShow(host))
    };
    ctrl.ioctl(what, cmd, &mut h)
        .map_err(|e| vpc::explain(ctrl, op, e))?;
    Ok(h)
}

/// `nitroctl host ...`. `peer_key` is the key of `host key`, read (and
/// checked) before the controller was opened.
fn host(
    cli: &Cli,
    ctrl: &Ctrl,
    cmd: &HostCmd,
    peer_key: Option<&PeerKey>,
) -> Result<String, Error> {
    Ok(match cmd {
        HostCmd::Create { underlay, netns } => {
            // Held open until the create returns: the host takes its own
            // reference on the namespace.
            let ns = match netns {
                Some(p) => Some(std::fs::File::open(p).map_err(|e| {
                    usage(format!(
                        "--netns {}: {e}{}",
                        p.display(),
                        if e.kind() == std::io::ErrorKind::NotFound
                            && p.parent() == Some(std::path::Path::new(vpc::NETNS_DIR))
                        {
                            " (see `ip netns list`)"
                        } else {
                            ""
                        }
                    ))
                })?),
                None => None,
            };
            let mut c: abi::nitro_host_create = sized();
            c.netns_fd = ns.as_ref().map_or(-1, std::os::fd::AsRawFd::as_raw_fd);
            c.underlay_ipv4 = vpc::be(*underlay);
            ctrl.ioctl("NITRO_IOC_HOST_CREATE", abi::NITRO_IOC_HOST_CREATE, &mut c)
                .map_err(|e| {
                    let op = vpc::Op::HostCreate {
                        underlay: *underlay,
                        netns: netns.as_deref(),
                    };
                    vpc::explain(ctrl, op, e)
                })?;
            if cli.json {
                json(&serde_json::json!({ "host": c.host }))
            } else {
                format!("{}\n", c.host)
            }
        }
        HostCmd::Delete(a) => {
            host_info(ctrl, abi::NITRO_IOC_HOST_DELETE, a.host)?;
            if cli.json {
                json(&serde_json::json!({ "host": a.host, "result": "deleted" }))
            } else {
                format!("host {} deleted\n", a.host)
            }
        }
        HostCmd::Show(a) => {
            let h = host_info(ctrl, abi::NITRO_IOC_HOST_DESCRIBE, a.host)?;
            out(cli, &vpc::Host::from_abi(&h), vpc::Host::human)
        }
        HostCmd::Key {
            host,
            peer,
            epoch,
            key_file,
        } => {
            let mut k: abi::nitro_peer_key = sized();
            match peer_key {
                Some(secret) => k.key = secret.0,
                None => k.key = PeerKey::read(key_file, "peer key").map_err(usage)?.0,
            }
            k.host = *host;
            k.peer_ipv4 = vpc::be(*peer);
            k.epoch = *epoch;
            let r = ctrl.ioctl("NITRO_IOC_PEER_KEY", abi::NITRO_IOC_PEER_KEY, &mut k);
            key::wipe(&mut k.key);
            r.map_err(|e| {
                let op = vpc::Op::PeerKey {
                    host: *host,
                    peer: *peer,
                    epoch: *epoch,
                };
                vpc::explain(ctrl, op, e)
            })?;
            if cli.json {
                json(&serde_json::json!({
                    "host": host,
                    "peer": peer.to_string(),
                    "epoch": epoch,
                    "result": "installed",
                }))
            } else {
                format!("host {host}: key of epoch {epoch} installed for peer {peer}\n")
            }
        }
    })
}

/// `nitroctl map set|delete`.
fn map(cli: &Cli, ctrl: &Ctrl, cmd: &MapCmd) -> Result<String, Error> {
    let (key, set) = match cmd {
        MapCmd::Set {
            key,
            mac,
            underlay,
            nitro,
        } => (key, Some((mac, underlay, *nitro))),
        MapCmd::Delete(key) => (key, None),
    };
    let mut m: abi::nitro_map = sized();
    m.host = key.host;
    m.vpc = key.vpc;
    m.ipv4 = vpc::be(key.ip);
    let (what, cmd, op) = match set {
        Some((mac, underlay, nitro)) => {
            m.mac = *mac;
            m.underlay_ipv4 = vpc::be(*underlay);
            m.flags = if nitro { abi::NITRO_MAP_NITRO } else { 0 };
            let op = vpc::Op::MapSet {
                host: key.host,
                vpc: key.vpc,
                ip: key.ip,
            };
            ("NITRO_IOC_MAP_SET", abi::NITRO_IOC_MAP_SET, op)
        }
        None => {
            let op = vpc::Op::MapDelete {
                host: key.host,
                vpc: key.vpc,
                ip: key.ip,
            };
            ("NITRO_IOC_MAP_DELETE", abi::NITRO_IOC_MAP_DELETE, op)
        }
    };
    ctrl.ioctl(what, cmd, &mut m)
        .map_err(|e| vpc::explain(ctrl, op, e))?;
    let MapKey { host, vpc, ip } = key;
    Ok(match set {
        Some((mac, underlay, nitro)) if cli.json => json(&serde_json::json!({
            "host": host,
            "vpc": vpc,
            "ip": ip.to_string(),
            "mac": objects::fmt_mac(mac),
            "underlay": underlay.to_string(),
            "nitro": nitro,
            "result": "set",
        })),
        Some((mac, underlay, nitro)) => format!(
            "host {host}: VPC {vpc} {ip} is {} at {underlay} ({})\n",
            objects::fmt_mac(mac),
            if nitro {
                "Nitro peer, sealed"
            } else {
                "non-Nitro peer, plain Geneve"
            }
        ),
        None if cli.json => json(&serde_json::json!({
            "host": host,
            "vpc": vpc,
            "ip": ip.to_string(),
            "result": "deleted",
        })),
        None => format!("host {host}: VPC {vpc} {ip} unmapped\n"),
    })
}

fn firmware_cmd(cli: &Cli, ctrl: &Ctrl, cmd: &FirmwareCmd) -> Result<String, Error> {
    Ok(match cmd {
        FirmwareCmd::Show { allowlist } => {
            let f = firmware::read(ctrl)?;
            if *allowlist {
                f.allowlist()
            } else {
                out(cli, &f, firmware::Firmware::human)
            }
        }
        FirmwareCmd::Allow { file } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(file)
            }
            .map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
            let mut entries = firmware::parse_allowlist(&text).map_err(usage)?;
            let (gate, failed) = firmware::allow(ctrl, &mut entries)?;
            if gate == abi::NITRO_GATE_OPEN {
                format!("boot gate: open ({} allowlist entries)\n", entries.len())
            } else {
                return Err(Error::Refused {
                    msg: format!(
                        "host quarantined: firmware component {failed} does not match the allowlist; \
                         the cards stay held back until nitro_sec is reloaded"
                    ),
                    errno: libc::EACCES,
                });
            }
        }
        FirmwareCmd::Update { component, file } => {
            let mut image = std::fs::read(file)
                .map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
            firmware::update(ctrl, component, &mut image)?;
            "firmware updated\n".into()
        }
    })
}

fn run(cli: &Cli) -> Result<String, Error> {
    if let Command::Key(KeyCmd::Wrap {
        card_key,
        data_key,
        out,
    }) = &cli.command
    {
        let card = key::read_key(card_key, "card key").map_err(usage)?;
        let data = match data_key {
            Some(p) => key::read_key(p, "data key").map_err(usage)?,
            None => key::random().map_err(usage)?,
        };
        let w = key::wrap(&card, &data, &key::random().map_err(usage)?);
        std::fs::write(out, w).map_err(|e| usage(format!("{}: {e}", out.display())))?;
        return Ok(String::new());
    }
    // Inputs that can be wrong are checked before the controller is opened.
    let peer_key = match &cli.command {
        Command::Host(HostCmd::Key { key_file, .. }) => {
            Some(PeerKey::read(key_file, "peer key").map_err(usage)?)
        }
        _ => None,
    };
    let ctrl = Ctrl::open(&device::device_path(cli.device.clone()))?;
    Ok(match &cli.command {
        Command::Version => {
            let v = report::Version::from_abi(&ctrl.version()?);
            out(cli, &v, report::Version::human)
        }
        Command::Status => {
            let (s, cards) = ctrl.status()?;
            out(
                cli,
                &report::Status::from_abi(&s, &cards),
                report::Status::human,
            )
        }
        Command::Volume(cmd) => volume(cli, &ctrl, cmd)?,
        Command::Eni(cmd) => eni(cli, &ctrl, cmd)?,
        Command::Host(cmd) => host(cli, &ctrl, cmd, peer_key.as_ref())?,
        Command::Map(cmd) => map(cli, &ctrl, cmd)?,
        Command::Metrics { watch, count } => {
            let mut round = 0u64;
            loop {
                let (s, cards) = ctrl.status()?;
                let names: Vec<String> = report::Status::from_abi(&s, &cards)
                    .cards
                    .into_iter()
                    .map(|c| c.name)
                    .collect();
                let snap = objects::snapshot(&ctrl, &names)?;
                let text = if cli.json {
                    serde_json::to_string(&snap).expect("metrics serialize") + "\n"
                } else {
                    snap.human()
                };
                round += 1;
                let last = watch.is_none() || count.is_some_and(|c| round >= c);
                if last {
                    break text;
                }
                print!("{text}");
                if !cli.json {
                    println!("--");
                }
                std::thread::sleep(Duration::from_secs(watch.unwrap_or(1).max(1)));
            }
        }
        Command::Firmware(cmd) => firmware_cmd(cli, &ctrl, cmd)?,
        Command::Key(_) => unreachable!("handled before opening the controller"),
        Command::Audit => {
            let v: Vec<abi::nitro_audit_entry> =
                ctrl.list_all("NITRO_IOC_AUDIT", abi::NITRO_IOC_AUDIT, 1024)?;
            let v: Vec<_> = v.iter().map(objects::AuditEntry::from_abi).collect();
            out(cli, &v, |v| objects::audit_table(v))
        }
    })
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).expect("report types serialize") + "\n"
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("nitroctl: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn parses_commands_and_globals() {
        let c = Cli::try_parse_from(["nitroctl", "status", "--json"]).unwrap();
        assert_eq!(c.command, Command::Status);
        assert!(c.json);
        let c = Cli::try_parse_from(["nitroctl", "--device", "/tmp/x", "version"]).unwrap();
        assert_eq!(c.command, Command::Version);
        assert_eq!(c.device.as_deref(), Some(Path::new("/tmp/x")));
        assert!(!c.json);
    }

    #[test]
    fn parses_object_commands() {
        let c = Cli::try_parse_from([
            "nitroctl",
            "volume",
            "create",
            "--kind",
            "ebs",
            "--size",
            "10G",
            "--name",
            "web",
            "--backing",
            "/srv/web.img",
            "--wrapped-key",
            "web.key",
        ])
        .unwrap();
        assert_eq!(
            c.command,
            Command::Volume(VolumeCmd::Create {
                kind: VolumeKindArg::Ebs,
                size: 10 << 30,
                block_size: 4096,
                name: "web".into(),
                backing: Some("/srv/web.img".into()),
                wrapped_key: Some("web.key".into()),
            })
        );
        let c = Cli::try_parse_from([
            "nitroctl", "volume", "create", "--kind", "instance", "--size", "1G",
        ])
        .unwrap();
        assert!(matches!(
            c.command,
            Command::Volume(VolumeCmd::Create { backing: None, .. })
        ));
        let c =
            Cli::try_parse_from(["nitroctl", "key", "wrap", "--card-key", "c", "-o", "w"]).unwrap();
        assert_eq!(
            c.command,
            Command::Key(KeyCmd::Wrap {
                card_key: "c".into(),
                data_key: None,
                out: "w".into()
            })
        );
        let c = Cli::try_parse_from([
            "nitroctl",
            "volume",
            "attach",
            "vol-00000000000000001",
            "sdf",
        ])
        .unwrap();
        assert_eq!(
            c.command,
            Command::Volume(VolumeCmd::Attach {
                id: "vol-00000000000000001".into(),
                dev: "sdf".into()
            })
        );
        let c = Cli::try_parse_from([
            "nitroctl",
            "eni",
            "create",
            "--vpc",
            "7",
            "--ip",
            "10.0.0.5",
            "--mac",
            "02:00:00:00:00:01",
        ])
        .unwrap();
        assert_eq!(
            c.command,
            Command::Eni(EniCmd::Create {
                vpc: 7,
                ip: Ipv4Addr::new(10, 0, 0, 5),
                mac: Some([2, 0, 0, 0, 0, 1]),
                name: String::new(),
                host: 0,
            })
        );
        let c =
            Cli::try_parse_from(["nitroctl", "eni", "attach", "eni-00000000000000001"]).unwrap();
        assert_eq!(
            c.command,
            Command::Eni(EniCmd::Attach {
                id: "eni-00000000000000001".into(),
                ifname: None
            })
        );
        let c = Cli::try_parse_from([
            "nitroctl", "metrics", "--watch", "2", "--count", "3", "--json",
        ])
        .unwrap();
        assert_eq!(
            c.command,
            Command::Metrics {
                watch: Some(2),
                count: Some(3)
            }
        );
        for bad in [
            &[
                "nitroctl", "volume", "create", "--kind", "gp3", "--size", "1G",
            ][..],
            &[
                "nitroctl", "volume", "create", "--kind", "ebs", "--size", "1Q",
            ],
            &["nitroctl", "volume", "create", "--kind", "ebs"],
            &["nitroctl", "eni", "create", "--vpc", "7", "--ip", "10.0.0"],
            &[
                "nitroctl", "eni", "create", "--vpc", "7", "--ip", "10.0.0.1", "--mac", "xx",
            ],
            &["nitroctl", "volume", "attach", "vol-1"],
        ] {
            assert_eq!(
                Cli::try_parse_from(bad).unwrap_err().exit_code(),
                2,
                "{bad:?}"
            );
        }
    }

    fn parse(args: &[&str]) -> Command {
        let mut all = vec!["nitroctl"];
        all.extend_from_slice(args);
        Cli::try_parse_from(&all)
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
            .command
    }

    fn refused(args: &[&str]) -> String {
        let mut all = vec!["nitroctl"];
        all.extend_from_slice(args);
        let e = Cli::try_parse_from(&all).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{args:?}");
        e.to_string()
    }

    #[test]
    fn parses_host_commands() {
        assert_eq!(
            parse(&["host", "create", "--underlay", "192.0.2.1"]),
            Command::Host(HostCmd::Create {
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
            ]),
            Command::Host(HostCmd::Create {
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
            ]),
            Command::Host(HostCmd::Create {
                underlay: Ipv4Addr::new(192, 0, 2, 1),
                netns: Some("/proc/1/ns/net".into())
            })
        );
        assert_eq!(
            parse(&["host", "delete", "3"]),
            Command::Host(HostCmd::Delete(HostArg { host: 3 }))
        );
        let c = Cli::try_parse_from(["nitroctl", "host", "show", "16", "--json"]).unwrap();
        assert!(c.json);
        assert_eq!(
            c.command,
            Command::Host(HostCmd::Show(HostArg { host: 16 }))
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
            ]),
            Command::Host(HostCmd::Key {
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
    fn parses_map_commands() {
        let key = MapKey {
            host: 2,
            vpc: 42,
            ip: Ipv4Addr::new(10, 1, 0, 9),
        };
        assert_eq!(
            parse(&[
                "map",
                "set",
                "--host",
                "2",
                "--vpc",
                "42",
                "--ip",
                "10.1.0.9",
                "--mac",
                "02:00:00:00:00:09",
                "--underlay",
                "192.0.2.2",
                "--nitro"
            ]),
            Command::Map(MapCmd::Set {
                key: MapKey { ..key },
                mac: [2, 0, 0, 0, 0, 9],
                underlay: Ipv4Addr::new(192, 0, 2, 2),
                nitro: true
            })
        );
        let plain = parse(&[
            "map",
            "set",
            "--host",
            "2",
            "--vpc",
            "42",
            "--ip",
            "10.1.0.9",
            "--mac",
            "02:00:00:00:00:09",
            "--underlay",
            "192.0.2.2",
        ]);
        assert!(matches!(
            plain,
            Command::Map(MapCmd::Set { nitro: false, .. })
        ));
        assert_eq!(
            parse(&["map", "delete", "--host", "2", "--vpc", "42", "--ip", "10.1.0.9"]),
            Command::Map(MapCmd::Delete(key))
        );
        let base = [
            "map", "set", "--host", "2", "--vpc", "42", "--ip", "10.1.0.9",
        ];
        let with = |extra: &[&'static str]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            refused(&v)
        };
        assert!(with(&["--underlay", "192.0.2.2"]).contains("--mac"));
        assert!(with(&["--mac", "02:00:00:00:00:09"]).contains("--underlay"));
        for (mac, says) in [
            ("02:00:00:00:09", "not a MAC address"),
            ("02:00:00:00:00:0g", "not a MAC address"),
            ("01:00:5e:00:00:01", "multicast"),
            ("ff:ff:ff:ff:ff:ff", "broadcast"),
            ("00:00:00:00:00:00", "not the MAC address of an interface"),
        ] {
            assert!(
                with(&["--mac", mac, "--underlay", "192.0.2.2"]).contains(says),
                "{mac}"
            );
        }
        assert!(
            with(&["--mac", "02:00:00:00:00:09", "--underlay", "0.0.0.0"]).contains("unspecified")
        );
        assert!(
            refused(&["map", "delete", "--host", "2", "--vpc", "0", "--ip", "10.1.0.9"])
                .contains("not a VPC id")
        );
        assert!(refused(&[
            "map", "delete", "--host", "2", "--vpc", "16777216", "--ip", "10.1.0.9"
        ])
        .contains("not a VPC id"));
        assert!(refused(&[
            "map",
            "delete",
            "--host",
            "2",
            "--vpc",
            "1",
            "--ip",
            "10.1.0.255.1"
        ])
        .contains("not an IPv4"));
        assert!(refused(&["map", "delete", "--vpc", "1", "--ip", "10.1.0.1"]).contains("--host"));
    }

    #[test]
    fn eni_create_takes_a_host() {
        let c = parse(&[
            "eni", "create", "--vpc", "7", "--ip", "10.0.0.5", "--host", "2",
        ]);
        assert!(matches!(
            c,
            Command::Eni(EniCmd::Create {
                host: 2,
                mac: None,
                ..
            })
        ));
        assert!(matches!(
            parse(&["eni", "create", "--vpc", "7", "--ip", "10.0.0.5", "--host", "0"]),
            Command::Eni(EniCmd::Create { host: 0, .. })
        ));
        assert!(
            refused(&["eni", "create", "--vpc", "7", "--ip", "10.0.0.5", "--host", "17"])
                .contains("not a host number")
        );
    }

    #[test]
    fn key_files_are_checked_before_the_controller() {
        // With no controller at all, a bad key file is still the error
        // (usage, exit 2): nothing reached the device. A good one gets as
        // far as opening it (unavailable, exit 3).
        let dir = std::env::temp_dir().join(format!("nitroctl-main-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let run_with = |bytes: &[u8]| {
            let f = dir.join("k");
            std::fs::write(&f, bytes).unwrap();
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
                f.as_os_str(),
            ])
            .unwrap();
            run(&cli).err().unwrap()
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
            let e = run_with(bytes);
            assert_eq!(e.exit_code(), 2, "{e}");
            assert!(e.to_string().contains(says), "{e}");
        }
        let e = run_with(&[0x5a; 32]);
        assert_eq!(e.exit_code(), 3, "{e}");
        assert!(!e.to_string().contains("5a"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rejects_bad_usage() {
        for args in [
            &["nitroctl"][..],
            &["nitroctl", "frobnicate"],
            &["nitroctl", "status", "--bogus"],
        ] {
            let e = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn unavailable_messages_say_what_to_do() {
        let nf = std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = device::open_error(Path::new("/dev/nitro_ctrl"), &nf, false);
        assert_eq!(e.exit_code(), 3);
        assert!(e.to_string().contains("modprobe nitro_ctrl"), "{e}");
        let e = device::open_error(Path::new("/dev/nitro_ctrl"), &nf, true);
        assert!(e.to_string().contains("devtmpfs"), "{e}");
        let pd = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let e = device::open_error(Path::new("/dev/nitro_ctrl"), &pd, true);
        assert!(e.to_string().contains("run nitroctl as root"), "{e}");
    }

    #[test]
    fn kernel_errors_carry_hints() {
        let e = device::Error::Kernel {
            what: "NITRO_IOC_STATUS",
            err: std::io::Error::from_raw_os_error(libc::EPERM),
        };
        assert_eq!(e.exit_code(), 1);
        assert!(e.to_string().contains("CAP_SYS_ADMIN"), "{e}");
    }

    #[test]
    fn opening_a_missing_node_is_unavailable() {
        let e = device::Ctrl::open(Path::new("/nonexistent/nitro_ctrl"))
            .err()
            .unwrap();
        assert_eq!(e.exit_code(), 3);
    }
}
