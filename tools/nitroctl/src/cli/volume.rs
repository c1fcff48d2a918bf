//! `nitroctl volume`: EBS and instance-storage volumes.

use crate::{
    abi,
    cli::{instance, GlobalOptions},
    device::{sized, Controller},
    error::Error,
    objects::{self, Change, IdArg, ObjectKind},
    output::{self, or_dash, table, Rows},
    secret, text_field,
};
use clap::{Subcommand, ValueEnum};
use serde::Serialize;
use std::{os::fd::AsRawFd, path::PathBuf};

/// Volume commands.
#[derive(Subcommand, Debug, PartialEq)]
pub enum VolumeCommand {
    /// Create a volume.
    Create {
        /// EBS or instance storage.
        #[arg(long, value_enum)]
        kind: VolumeKindArg,
        /// Capacity: bytes, or with K, M, G, T.
        #[arg(long, value_parser = parse_size)]
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
    /// Attach a volume: to the host under a device name (`attach VOL sdf`),
    /// or to an instance (`attach VOL --instance ID --device sdf`).
    Attach {
        /// vol-...
        id: String,
        /// Device name on the host (e.g. sdf).
        #[arg(
            value_name = "DEVICE",
            required_unless_present = "instance",
            conflicts_with = "instance"
        )]
        device_name: Option<String>,
        /// Attach it to this instance (i-...), an EBS volume only.
        #[arg(long, value_name = "ID", requires = "device")]
        instance: Option<String>,
        /// With --instance: its device name in the instance (e.g. sdf).
        #[arg(long, value_name = "DEVICE", requires = "instance")]
        device: Option<String>,
        /// With --instance: delete the volume when the instance terminates.
        #[arg(long, requires = "instance")]
        delete_on_termination: bool,
    },
    /// Detach a volume (from the host, or from its instance).
    Detach(IdArg),
    /// List volumes.
    List,
    /// Show one volume.
    #[command(visible_alias = "describe")]
    Show(IdArg),
}

/// Volume kinds.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum VolumeKindArg {
    /// EBS volume.
    Ebs,
    /// Instance-storage volume.
    Instance,
}

/// `nitroctl volume ...`.
pub fn run(options: &GlobalOptions, command: &VolumeCommand) -> Result<String, Error> {
    let controller = options.open()?;
    let kind = ObjectKind::Volume;
    Ok(match command {
        VolumeCommand::Create {
            kind: volume_kind,
            size,
            block_size,
            name,
            backing,
            wrapped_key,
        } => {
            let mut create: abi::nitro_volume_create = sized();
            // Held open until the create returns: the card takes its own
            // reference.
            let backing_file = match backing {
                Some(path) => Some(
                    std::fs::OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open(path)
                        .map_err(|error| Error::Usage(format!("{}: {error}", path.display())))?,
                ),
                None => None,
            };
            if let Some(file) = &backing_file {
                create.backing_fd = file.as_raw_fd();
            }
            if let Some(path) = wrapped_key {
                create.wrapped_key = secret::read_key(path, "wrapped key").map_err(Error::Usage)?;
            }
            create.kind = match volume_kind {
                VolumeKindArg::Ebs => abi::NITRO_VOLUME_EBS,
                VolumeKindArg::Instance => abi::NITRO_VOLUME_INSTANCE,
            };
            create.size_bytes = *size;
            create.block_size = *block_size;
            text_field::fill(&mut create.name, name, "name").map_err(Error::Usage)?;
            controller
                .ioctl("create", abi::NITRO_IOC_VOLUME_CREATE, &mut create)
                .map_err(|error| objects::explain(&controller, kind, "create", None, error))?;
            objects::outcome(options, kind, create.id, "created")
        }
        VolumeCommand::Delete(arg) => objects::change(
            options,
            &controller,
            kind,
            Change::Delete,
            abi::NITRO_IOC_VOLUME_DELETE,
            &arg.id,
        )?,
        VolumeCommand::Detach(arg) => objects::change(
            options,
            &controller,
            kind,
            Change::Detach,
            abi::NITRO_IOC_VOLUME_DETACH,
            &arg.id,
        )?,
        VolumeCommand::Attach {
            id,
            instance: Some(instance),
            device,
            delete_on_termination,
            ..
        } => {
            let id = kind.parse_id(id)?;
            let instance = instance::parse_id(instance)?;
            // clap makes --device come with --instance (and DEVICE without).
            let device = instance::Device::Volume {
                id,
                device: device.clone().unwrap_or_default(),
            };
            let flags = if *delete_on_termination {
                abi::NITRO_ATTACH_DELETE_ON_TERMINATION
            } else {
                0
            };
            let name = instance::attach(&controller, &device, instance, flags)?;
            objects::outcome(
                options,
                kind,
                id,
                &format!("attached to {} as {name}", instance::format_id(instance)),
            )
        }
        VolumeCommand::Attach {
            id,
            device_name,
            instance: None,
            ..
        } => {
            let device_name = device_name.as_deref().unwrap_or("");
            let mut attach: abi::nitro_attach = sized();
            attach.id = kind.parse_id(id)?;
            text_field::fill(&mut attach.device, device_name, "device name")
                .map_err(Error::Usage)?;
            controller
                .ioctl("attach", abi::NITRO_IOC_VOLUME_ATTACH, &mut attach)
                .map_err(|error| {
                    objects::explain(&controller, kind, "attach", Some(attach.id), error)
                })?;
            objects::outcome(
                options,
                kind,
                attach.id,
                &format!("attached as {device_name}"),
            )
        }
        VolumeCommand::List => {
            let volumes: Vec<abi::nitro_volume_info> =
                controller.list_all("NITRO_IOC_VOLUME_LIST", abi::NITRO_IOC_VOLUME_LIST, 1024)?;
            let volumes: Vec<_> = volumes.iter().map(Volume::from_abi).collect();
            options.render(&volumes, |volumes| volume_table(volumes))
        }
        VolumeCommand::Show(arg) => {
            let id = kind.parse_id(&arg.id)?;
            let info = describe(&controller, id)
                .map_err(|error| objects::explain(&controller, kind, "show", Some(id), error))?;
            options.render(&Volume::from_abi(&info), output::key_values)
        }
    })
}

/// `NITRO_IOC_VOLUME_DESCRIBE` of volume `id` (the error unexplained).
pub fn describe(controller: &Controller, id: u64) -> Result<abi::nitro_volume_info, Error> {
    let mut describe: abi::nitro_volume_describe = sized();
    describe.id = id;
    controller.ioctl(
        "NITRO_IOC_VOLUME_DESCRIBE",
        abi::NITRO_IOC_VOLUME_DESCRIBE,
        &mut describe,
    )?;
    Ok(describe.info)
}

/// Parses a size: bytes, or a number with K, M, G, T (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let (number, shift) = match trimmed.char_indices().last() {
        Some((at, suffix)) if suffix.is_ascii_alphabetic() => {
            let shift = match suffix.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => {
                    return Err(format!(
                        "unknown size suffix in '{text}' (use K, M, G or T)"
                    ))
                }
            };
            (&trimmed[..at], shift)
        }
        _ => (trimmed, 0),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size"))?;
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("'{text}' is too large"))
}

/// Human size: the largest binary unit that divides it exactly.
pub fn human_size(bytes: u64) -> String {
    for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format!("{bytes} B")
}

/// A volume, as reported.
#[derive(Serialize, Debug, PartialEq)]
pub struct Volume {
    /// vol-...
    pub id: String,
    /// ebs or instance
    pub kind: &'static str,
    /// state name
    pub state: &'static str,
    /// capacity
    pub size_bytes: u64,
    /// logical block size
    pub block_size: u32,
    /// attachment name
    pub device: String,
    /// name given at create
    pub name: String,
    /// card holding it
    pub card: String,
    /// the instance it is attached to (none: not attached, or to the host)
    pub instance: Option<String>,
    /// whether it is deleted when its instance terminates
    pub delete_on_termination: bool,
}

impl Volume {
    /// From the ABI.
    pub fn from_abi(info: &abi::nitro_volume_info) -> Self {
        Volume {
            id: ObjectKind::Volume.format_id(info.id),
            kind: if info.kind == abi::NITRO_VOLUME_EBS {
                "ebs"
            } else {
                "instance"
            },
            state: objects::state_name(info.state),
            size_bytes: info.size_bytes,
            block_size: info.block_size,
            device: text_field::read(&info.device),
            name: text_field::read(&info.name),
            card: text_field::read(&info.card),
            instance: (info.instance != 0).then(|| instance::format_id(info.instance)),
            delete_on_termination: info.flags & abi::NITRO_ATTACH_DELETE_ON_TERMINATION != 0,
        }
    }
}

/// Table of volumes (the instance, if any, is in `show` and `--json`).
pub fn volume_table(volumes: &[Volume]) -> String {
    let rows: Rows<8> = volumes
        .iter()
        .map(|volume| {
            [
                volume.id.clone(),
                volume.kind.into(),
                volume.state.into(),
                human_size(volume.size_bytes),
                volume.block_size.to_string(),
                or_dash(&volume.device),
                or_dash(&volume.name),
                volume.card.clone(),
            ]
        })
        .collect();
    table(
        &[
            "ID", "KIND", "STATE", "SIZE", "BLOCK", "DEVICE", "NAME", "CARD",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{parse, refused, Command};

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("10G"), Ok(10 << 30));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("1T"), Ok(1 << 40));
        assert!(parse_size("10X").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert_eq!(human_size(10 << 30), "10 GiB");
        assert_eq!(human_size(1536 << 20), "1536 MiB");
        assert_eq!(human_size(1000), "1000 B");
    }

    #[test]
    fn volume_rendering() {
        let mut info = abi::nitro_volume_info {
            id: 0x1234,
            kind: abi::NITRO_VOLUME_EBS,
            state: abi::NITRO_STATE_ATTACHED,
            size_bytes: 8 << 30,
            block_size: 4096,
            ..Default::default()
        };
        text_field::fill(&mut info.device, "sdf", "device").unwrap();
        text_field::fill(&mut info.card, "nitro_nvme.ebs0", "card").unwrap();
        let volume = Volume::from_abi(&info);
        assert_eq!(volume.instance, None);
        assert!(!volume.delete_on_termination);
        let json = serde_json::to_value(&volume).unwrap();
        assert_eq!(json["instance"], serde_json::Value::Null);
        assert_eq!(json["delete_on_termination"], false);
        assert!(output::key_values(&volume).contains("\ninstance    -\n"));
        assert_eq!(
            volume_table(&[volume]),
            "ID                     KIND  STATE     SIZE   BLOCK  DEVICE  NAME  CARD\n\
             vol-00000000000001234  ebs   attached  8 GiB  4096   sdf     -     nitro_nvme.ebs0\n"
        );
        info.instance = 0xabc;
        info.flags = abi::NITRO_ATTACH_DELETE_ON_TERMINATION;
        let volume = Volume::from_abi(&info);
        let json = serde_json::to_value(&volume).unwrap();
        assert_eq!(json["instance"], "i-00000000000000abc");
        assert_eq!(json["delete_on_termination"], true);
        let shown = output::key_values(&volume);
        assert!(
            shown.contains("\ninstance    i-00000000000000abc\n"),
            "{shown}"
        );
        assert!(shown.contains("delete_on_termination true\n"), "{shown}");
    }

    #[test]
    fn parses_volume_commands() {
        assert_eq!(
            parse(&[
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
            .command,
            Command::Volume(VolumeCommand::Create {
                kind: VolumeKindArg::Ebs,
                size: 10 << 30,
                block_size: 4096,
                name: "web".into(),
                backing: Some("/srv/web.img".into()),
                wrapped_key: Some("web.key".into()),
            })
        );
        assert!(matches!(
            parse(&["volume", "create", "--kind", "instance", "--size", "1G"]).command,
            Command::Volume(VolumeCommand::Create { backing: None, .. })
        ));
        assert_eq!(
            parse(&["volume", "attach", "vol-00000000000000001", "sdf"]).command,
            Command::Volume(VolumeCommand::Attach {
                id: "vol-00000000000000001".into(),
                device_name: Some("sdf".into()),
                instance: None,
                device: None,
                delete_on_termination: false,
            })
        );
        let to_instance = [
            "volume",
            "attach",
            "vol-00000000000000001",
            "--instance",
            "i-00000000000000002",
            "--device",
            "sdf",
        ];
        assert_eq!(
            parse(&to_instance).command,
            Command::Volume(VolumeCommand::Attach {
                id: "vol-00000000000000001".into(),
                device_name: None,
                instance: Some("i-00000000000000002".into()),
                device: Some("sdf".into()),
                delete_on_termination: false,
            })
        );
        let mut deleted = to_instance.to_vec();
        deleted.push("--delete-on-termination");
        assert!(matches!(
            parse(&deleted).command,
            Command::Volume(VolumeCommand::Attach {
                delete_on_termination: true,
                ..
            })
        ));
        // The controller's node is still given before the command.
        let cli = parse(&[
            "--device",
            "/tmp/ctrl",
            "volume",
            "attach",
            "vol-00000000000000001",
            "--instance",
            "i-00000000000000002",
            "--device",
            "sdg",
        ]);
        assert_eq!(cli.options.device.as_deref(), Some("/tmp/ctrl".as_ref()));
        assert!(matches!(
            cli.command,
            Command::Volume(VolumeCommand::Attach { device: Some(ref name), .. }) if name == "sdg"
        ));
        assert!(matches!(
            parse(&["volume", "describe", "vol-00000000000000001"]).command,
            Command::Volume(VolumeCommand::Show(_))
        ));
        // --instance needs --device (and the other way round); DEVICE is
        // for the host only; --delete-on-termination for instances only.
        refused(&["volume", "attach", "vol-1", "--instance", "i-1"]);
        refused(&["volume", "attach", "vol-1", "--device", "sdf"]);
        refused(&[
            "volume",
            "attach",
            "vol-1",
            "sdf",
            "--instance",
            "i-1",
            "--device",
            "sdf",
        ]);
        refused(&[
            "volume",
            "attach",
            "vol-1",
            "sdf",
            "--delete-on-termination",
        ]);
        refused(&["volume", "create", "--kind", "gp3", "--size", "1G"]);
        refused(&["volume", "create", "--kind", "ebs", "--size", "1Q"]);
        refused(&["volume", "create", "--kind", "ebs"]);
        assert!(refused(&["volume", "attach", "vol-1"]).contains("<DEVICE>"));
    }
}
