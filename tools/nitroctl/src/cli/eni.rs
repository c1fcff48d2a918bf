//! `nitroctl eni`: elastic network interfaces, made on one of the VPC
//! card's hosts.

use crate::{
    abi, address,
    cli::{instance, GlobalOptions},
    device::{sized, Controller},
    error::Error,
    objects::{self, Change, IdArg, ObjectKind},
    output::{self, or_dash, table, Rows},
    text_field, vpc,
};
use clap::Subcommand;
use serde::Serialize;
use std::net::Ipv4Addr;

/// ENI commands.
#[derive(Subcommand, Debug, PartialEq)]
pub enum EniCommand {
    /// Create an ENI.
    Create {
        /// VPC id (1 to 16777215).
        #[arg(long)]
        vpc: u32,
        /// Primary private IPv4 address.
        #[arg(long)]
        ip: Ipv4Addr,
        /// MAC address (default: a locally administered one).
        #[arg(long, value_parser = address::parse_mac)]
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
    /// Attach an ENI: to the host (the card names the interface unless
    /// IFNAME is given), or to an instance (`attach ENI --instance ID`), as
    /// eth<INDEX> there.
    Attach {
        /// eni-...
        id: String,
        /// Interface name on the host.
        #[arg(conflicts_with = "instance")]
        ifname: Option<String>,
        /// Attach it to this instance (i-...), on the ENI's own host.
        #[arg(long, value_name = "ID")]
        instance: Option<String>,
        /// With --instance: its device index, eth<N> in the instance
        /// (default: the lowest free one).
        #[arg(long, value_name = "N", requires = "instance")]
        index: Option<u32>,
        /// With --instance: delete the ENI when the instance terminates.
        #[arg(long, requires = "instance")]
        delete_on_termination: bool,
    },
    /// Detach an ENI (from the host, or from its instance).
    Detach(IdArg),
    /// List ENIs.
    List,
    /// Show one ENI.
    #[command(visible_alias = "describe")]
    Show(IdArg),
}

/// `nitroctl eni ...`.
pub fn run(options: &GlobalOptions, command: &EniCommand) -> Result<String, Error> {
    let controller = options.open()?;
    let kind = ObjectKind::Eni;
    Ok(match command {
        EniCommand::Create {
            vpc,
            ip,
            mac,
            name,
            host,
        } => {
            let id = create(&controller, *vpc, *ip, *mac, name, *host)?;
            objects::outcome(options, kind, id, "created")
        }
        EniCommand::Delete(arg) => objects::change(
            options,
            &controller,
            kind,
            Change::Delete,
            abi::NITRO_IOC_ENI_DELETE,
            &arg.id,
        )?,
        EniCommand::Detach(arg) => objects::change(
            options,
            &controller,
            kind,
            Change::Detach,
            abi::NITRO_IOC_ENI_DETACH,
            &arg.id,
        )?,
        EniCommand::Attach {
            id,
            instance: Some(instance),
            index,
            delete_on_termination,
            ..
        } => {
            let id = kind.parse_id(id)?;
            let instance = instance::parse_id(instance)?;
            let index = match index {
                Some(index) => *index,
                None => instance::next_free_index(&controller, instance)?,
            };
            let flags = if *delete_on_termination {
                abi::NITRO_ATTACH_DELETE_ON_TERMINATION
            } else {
                0
            };
            let device = instance::Device::Eni { id, index };
            let name = instance::attach(&controller, &device, instance, flags)?;
            objects::outcome(
                options,
                kind,
                id,
                &format!("attached to {} as {name}", instance::format_id(instance)),
            )
        }
        EniCommand::Attach {
            id,
            ifname,
            instance: None,
            ..
        } => {
            let mut attach: abi::nitro_attach = sized();
            attach.id = kind.parse_id(id)?;
            text_field::fill(
                &mut attach.device,
                ifname.as_deref().unwrap_or(""),
                "interface name",
            )
            .map_err(Error::Usage)?;
            controller
                .ioctl("attach", abi::NITRO_IOC_ENI_ATTACH, &mut attach)
                .map_err(|error| {
                    objects::explain(&controller, kind, "attach", Some(attach.id), error)
                })?;
            // The interface name, one character per byte (unlike
            // text_field::read, which decodes UTF-8).
            let ifname: String = attach
                .device
                .iter()
                .take_while(|&&byte| byte != 0)
                .map(|&byte| byte as u8 as char)
                .collect();
            objects::outcome(options, kind, attach.id, &format!("attached as {ifname}"))
        }
        EniCommand::List => {
            let enis: Vec<abi::nitro_eni_info> =
                controller.list_all("NITRO_IOC_ENI_LIST", abi::NITRO_IOC_ENI_LIST, 1024)?;
            let enis: Vec<_> = enis.iter().map(Eni::from_abi).collect();
            options.render(&enis, |enis| eni_table(enis))
        }
        EniCommand::Show(arg) => {
            let id = kind.parse_id(&arg.id)?;
            let info = describe(&controller, id)
                .map_err(|error| objects::explain(&controller, kind, "show", Some(id), error))?;
            options.render(&Eni::from_abi(&info), output::key_values)
        }
    })
}

/// `NITRO_IOC_ENI_CREATE`: an ENI in VPC `vpc` with address `ip` (and
/// `mac`, or one the controller picks), named `name`, on host `host` (0:
/// the lowest-numbered); gives its id.
pub fn create(
    controller: &Controller,
    vpc: u32,
    ip: Ipv4Addr,
    mac: Option<[u8; 6]>,
    name: &str,
    host: u32,
) -> Result<u64, Error> {
    let mut create: abi::nitro_eni_create = sized();
    create.vpc = vpc;
    create.ipv4 = address::ipv4_to_abi(ip);
    create.mac = mac.unwrap_or_default();
    create.host = host;
    text_field::fill(&mut create.name, name, "name").map_err(Error::Usage)?;
    controller
        .ioctl("create", abi::NITRO_IOC_ENI_CREATE, &mut create)
        .map_err(|error| vpc::explain(controller, vpc::Operation::EniCreate { host }, error))?;
    Ok(create.id)
}

/// `NITRO_IOC_ENI_DESCRIBE` of ENI `id` (the error unexplained).
pub fn describe(controller: &Controller, id: u64) -> Result<abi::nitro_eni_info, Error> {
    let mut describe: abi::nitro_eni_describe = sized();
    describe.id = id;
    controller.ioctl(
        "NITRO_IOC_ENI_DESCRIBE",
        abi::NITRO_IOC_ENI_DESCRIBE,
        &mut describe,
    )?;
    Ok(describe.info)
}

/// An ENI, as reported.
#[derive(Serialize, Debug, PartialEq)]
pub struct Eni {
    /// eni-...
    pub id: String,
    /// VPC id
    pub vpc: u32,
    /// state name
    pub state: &'static str,
    /// MAC address
    pub mac: String,
    /// IPv4 address
    pub ipv4: String,
    /// interface name
    pub device: String,
    /// name given at create
    pub name: String,
    /// card holding it
    pub card: String,
    /// the VPC card's host it is on (0 from a controller that predates hosts)
    pub host: u32,
    /// the instance it is attached to (none: not attached, or to the host)
    pub instance: Option<String>,
    /// whether it is deleted when its instance terminates
    pub delete_on_termination: bool,
}

impl Eni {
    /// From the ABI.
    pub fn from_abi(info: &abi::nitro_eni_info) -> Self {
        Eni {
            id: ObjectKind::Eni.format_id(info.id),
            vpc: info.vpc,
            state: objects::state_name(info.state),
            mac: address::format_mac(&info.mac),
            ipv4: address::ipv4_from_abi(info.ipv4).to_string(),
            device: text_field::read(&info.device),
            name: text_field::read(&info.name),
            card: text_field::read(&info.card),
            host: info.host,
            instance: (info.instance != 0).then(|| instance::format_id(info.instance)),
            delete_on_termination: info.flags & abi::NITRO_ATTACH_DELETE_ON_TERMINATION != 0,
        }
    }
}

/// Table of ENIs (HOST last, so the columns before it keep their places;
/// the instance, if any, is in `show` and `--json`).
pub fn eni_table(enis: &[Eni]) -> String {
    let rows: Rows<9> = enis
        .iter()
        .map(|eni| {
            [
                eni.id.clone(),
                eni.vpc.to_string(),
                eni.state.into(),
                eni.mac.clone(),
                eni.ipv4.clone(),
                or_dash(&eni.device),
                or_dash(&eni.name),
                eni.card.clone(),
                eni.host.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "ID", "VPC", "STATE", "MAC", "IPV4", "DEVICE", "NAME", "CARD", "HOST",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{parse, refused, Command};

    #[test]
    fn eni_rendering() {
        let mut info = abi::nitro_eni_info {
            id: 1,
            vpc: 7,
            state: abi::NITRO_STATE_AVAILABLE,
            mac: [2, 0, 0, 0, 0, 1],
            ipv4: address::ipv4_to_abi(Ipv4Addr::new(10, 0, 0, 5)),
            host: 3,
            ..Default::default()
        };
        text_field::fill(&mut info.card, "nitro_net", "card").unwrap();
        let eni = Eni::from_abi(&info);
        assert_eq!(eni.ipv4, "10.0.0.5");
        assert_eq!(eni.mac, "02:00:00:00:00:01");
        assert_eq!(eni.host, 3);
        let shown = output::key_values(&eni);
        assert!(shown.contains("\nhost        3\n"), "{shown}");
        assert_eq!(serde_json::to_value(&eni).unwrap()["host"], 3);
        assert_eq!(
            serde_json::to_value(&eni).unwrap()["instance"],
            serde_json::Value::Null
        );
        assert!(shown.contains("\ninstance    -\n"), "{shown}");
        assert_eq!(
            eni_table(&[eni]),
            "ID                     VPC  STATE      MAC                IPV4      DEVICE  NAME  CARD       HOST\n\
             eni-00000000000000001  7    available  02:00:00:00:00:01  10.0.0.5  -       -     nitro_net  3\n"
        );
        info.instance = 0x42;
        info.flags = abi::NITRO_ATTACH_DELETE_ON_TERMINATION;
        text_field::fill(&mut info.device, "eth1", "device").unwrap();
        let json = serde_json::to_value(Eni::from_abi(&info)).unwrap();
        assert_eq!(json["instance"], "i-00000000000000042");
        assert_eq!(json["delete_on_termination"], true);
        assert_eq!(json["device"], "eth1");
    }

    #[test]
    fn parses_eni_commands() {
        assert_eq!(
            parse(&[
                "eni",
                "create",
                "--vpc",
                "7",
                "--ip",
                "10.0.0.5",
                "--mac",
                "02:00:00:00:00:01",
            ])
            .command,
            Command::Eni(EniCommand::Create {
                vpc: 7,
                ip: Ipv4Addr::new(10, 0, 0, 5),
                mac: Some([2, 0, 0, 0, 0, 1]),
                name: String::new(),
                host: 0,
            })
        );
        assert_eq!(
            parse(&["eni", "attach", "eni-00000000000000001"]).command,
            Command::Eni(EniCommand::Attach {
                id: "eni-00000000000000001".into(),
                ifname: None,
                instance: None,
                index: None,
                delete_on_termination: false,
            })
        );
        assert_eq!(
            parse(&[
                "eni",
                "attach",
                "eni-00000000000000001",
                "--instance",
                "i-00000000000000002",
                "--index",
                "1",
                "--delete-on-termination",
            ])
            .command,
            Command::Eni(EniCommand::Attach {
                id: "eni-00000000000000001".into(),
                ifname: None,
                instance: Some("i-00000000000000002".into()),
                index: Some(1),
                delete_on_termination: true,
            })
        );
        assert!(matches!(
            parse(&[
                "eni",
                "attach",
                "eni-00000000000000001",
                "--instance",
                "i-00000000000000002"
            ])
            .command,
            Command::Eni(EniCommand::Attach {
                index: None,
                delete_on_termination: false,
                ..
            })
        ));
        assert!(matches!(
            parse(&["eni", "describe", "eni-00000000000000001"]).command,
            Command::Eni(EniCommand::Show(_))
        ));
        // --index and --delete-on-termination are for instances; IFNAME for
        // the host.
        refused(&["eni", "attach", "eni-1", "--index", "1"]);
        refused(&["eni", "attach", "eni-1", "--delete-on-termination"]);
        refused(&["eni", "attach", "eni-1", "eth5", "--instance", "i-1"]);
        refused(&[
            "eni",
            "attach",
            "eni-1",
            "--instance",
            "i-1",
            "--index",
            "x",
        ]);
        refused(&["eni", "create", "--vpc", "7", "--ip", "10.0.0"]);
        refused(&[
            "eni", "create", "--vpc", "7", "--ip", "10.0.0.1", "--mac", "xx",
        ]);
    }

    #[test]
    fn eni_create_takes_a_host() {
        let create = ["eni", "create", "--vpc", "7", "--ip", "10.0.0.5", "--host"];
        let with_host = |host: &'static str| {
            let mut args = create.to_vec();
            args.push(host);
            args
        };
        assert!(matches!(
            parse(&with_host("2")).command,
            Command::Eni(EniCommand::Create {
                host: 2,
                mac: None,
                ..
            })
        ));
        assert!(matches!(
            parse(&with_host("0")).command,
            Command::Eni(EniCommand::Create { host: 0, .. })
        ));
        assert!(refused(&with_host("17")).contains("not a host number"));
    }
}
