//! `nitroctl map`: a host's mapping table, which says the peer host (and
//! whether it is a Nitro host) that holds an address of a VPC.

use crate::{
    abi, address,
    cli::GlobalOptions,
    device::sized,
    error::Error,
    output,
    vpc::{self, Operation},
};
use clap::{Args, Subcommand};
use std::net::Ipv4Addr;

/// Mapping table commands.
#[derive(Subcommand, Debug, PartialEq)]
pub enum MapCommand {
    /// Map an address of a VPC to the peer host that holds it (replaces the
    /// entry for the same VPC and address).
    Set {
        #[command(flatten)]
        key: MapKey,
        /// The inner MAC address (unicast).
        #[arg(long, value_parser = address::parse_unicast_mac)]
        mac: [u8; 6],
        /// The peer host's underlay address.
        #[arg(long, value_name = "IPV4", value_parser = address::parse_unicast_ipv4)]
        underlay: Ipv4Addr,
        /// The peer is a Nitro host: frames to it are sealed (else plain
        /// Geneve).
        #[arg(long)]
        nitro: bool,
    },
    /// Delete a mapping entry.
    Delete(MapKey),
}

/// What names a mapping entry: host, VPC and inner address.
#[derive(Args, Debug, PartialEq)]
pub struct MapKey {
    /// The host whose table is programmed.
    #[arg(long, value_name = "N", value_parser = vpc::parse_host)]
    pub host: u32,
    /// VPC id (1 to 16777215).
    #[arg(long, value_name = "V", value_parser = vpc::parse_vpc)]
    pub vpc: u32,
    /// The inner IPv4 address.
    #[arg(long, value_name = "IPV4", value_parser = address::parse_unicast_ipv4)]
    pub ip: Ipv4Addr,
}

/// Where `map set` maps an address to.
struct Target<'a> {
    mac: &'a [u8; 6],
    underlay: Ipv4Addr,
    nitro: bool,
}

/// `nitroctl map set|delete`.
pub fn run(options: &GlobalOptions, command: &MapCommand) -> Result<String, Error> {
    let controller = options.open()?;
    let (key, target) = match command {
        MapCommand::Set {
            key,
            mac,
            underlay,
            nitro,
        } => (
            key,
            Some(Target {
                mac,
                underlay: *underlay,
                nitro: *nitro,
            }),
        ),
        MapCommand::Delete(key) => (key, None),
    };
    let MapKey { host, vpc, ip } = *key;
    let mut map: abi::nitro_map = sized();
    map.host = host;
    map.vpc = vpc;
    map.ipv4 = address::ipv4_to_abi(ip);
    let (request, command, operation) = match &target {
        Some(target) => {
            map.mac = *target.mac;
            map.underlay_ipv4 = address::ipv4_to_abi(target.underlay);
            map.flags = if target.nitro {
                abi::NITRO_MAP_NITRO
            } else {
                0
            };
            (
                "NITRO_IOC_MAP_SET",
                abi::NITRO_IOC_MAP_SET,
                Operation::MapSet { host, vpc, ip },
            )
        }
        None => (
            "NITRO_IOC_MAP_DELETE",
            abi::NITRO_IOC_MAP_DELETE,
            Operation::MapDelete { host, vpc, ip },
        ),
    };
    controller
        .ioctl(request, command, &mut map)
        .map_err(|error| vpc::explain(&controller, operation, error))?;
    Ok(match target {
        Some(Target {
            mac,
            underlay,
            nitro,
        }) if options.json => output::json(&serde_json::json!({
            "host": host,
            "vpc": vpc,
            "ip": ip.to_string(),
            "mac": address::format_mac(mac),
            "underlay": underlay.to_string(),
            "nitro": nitro,
            "result": "set",
        })),
        Some(Target {
            mac,
            underlay,
            nitro,
        }) => format!(
            "host {host}: VPC {vpc} {ip} is {} at {underlay} ({})\n",
            address::format_mac(mac),
            if nitro {
                "Nitro peer, sealed"
            } else {
                "non-Nitro peer, plain Geneve"
            }
        ),
        None if options.json => output::json(&serde_json::json!({
            "host": host,
            "vpc": vpc,
            "ip": ip.to_string(),
            "result": "deleted",
        })),
        None => format!("host {host}: VPC {vpc} {ip} unmapped\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{parse, refused, Command};

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
            ])
            .command,
            Command::Map(MapCommand::Set {
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
            plain.command,
            Command::Map(MapCommand::Set { nitro: false, .. })
        ));
        assert_eq!(
            parse(&["map", "delete", "--host", "2", "--vpc", "42", "--ip", "10.1.0.9"]).command,
            Command::Map(MapCommand::Delete(key))
        );
        let base = [
            "map", "set", "--host", "2", "--vpc", "42", "--ip", "10.1.0.9",
        ];
        let with = |extra: &[&'static str]| {
            let mut args = base.to_vec();
            args.extend_from_slice(extra);
            refused(&args)
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
}
