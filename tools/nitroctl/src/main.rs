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

/// An object id argument.
#[derive(Args, Debug, PartialEq)]
pub struct IdArg {
    /// vol-... or eni-...
    id: String,
}

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
        EniCmd::Create { vpc, ip, mac, name } => {
            let mut c: abi::nitro_eni_create = sized();
            c.vpc = *vpc;
            c.ipv4 = u32::from(*ip).to_be();
            c.mac = mac.unwrap_or_default();
            objects::put_str(&mut c.name, name, "name").map_err(usage)?;
            ctrl.ioctl("create", abi::NITRO_IOC_ENI_CREATE, &mut c)
                .map_err(|e| explain(ctrl, k, "create", None, e))?;
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
                name: String::new()
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
