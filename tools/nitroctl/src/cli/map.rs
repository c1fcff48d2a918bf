//! `nitroctl map`: a host's mapping table, which says the peer host (and
//! whether it is a Nitro host) that holds an address of a VPC. `set` and
//! `delete` program one entry; `import` programs a whole file of them in
//! batches (`NITRO_IOC_MAP_BATCH`) and `list` pages through the table
//! (`NITRO_IOC_MAP_LIST`), in lines `import` takes back.

use crate::{
    abi, address,
    cli::{version, GlobalOptions},
    device::{sized, Controller},
    error::Error,
    output,
    vpc::{self, Operation},
};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::{
    net::Ipv4Addr,
    path::{Path, PathBuf},
    time::Instant,
};

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
    /// Set (or, with --delete, delete) the entries listed in a file, in
    /// batches.
    ///
    /// One entry per line, the words of `map set` in its order: 'VPC IP MAC
    /// UNDERLAY [nitro|plain]' (plain, a non-Nitro peer, if left out), as
    /// `map list` prints them. With --delete, 'VPC IP' is enough (whole
    /// lines are taken too). Blank lines and '#' comments are skipped. The
    /// whole file is checked before anything is sent; entries apply in
    /// order, and the first the controller refuses stops the import (the
    /// entries before it stay applied).
    Import {
        /// The host whose table is programmed.
        #[arg(long, value_name = "N", value_parser = vpc::parse_host)]
        host: u32,
        /// Delete the entries listed instead of setting them.
        #[arg(long)]
        delete: bool,
        /// The file of entries; '-' for standard input.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// List a host's mapping table: a line 'VPC IP MAC UNDERLAY nitro|plain'
    /// per entry, as `map import` takes them (in the table's own order).
    List {
        /// The host whose table is listed.
        #[arg(long, value_name = "N", value_parser = vpc::parse_host)]
        host: u32,
    },
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

/// Where an entry maps an address to (what `map set` takes besides the key).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Peer {
    /// The inner MAC address.
    pub mac: [u8; 6],
    /// The peer host's underlay address.
    pub underlay: Ipv4Addr,
    /// Whether the peer is a Nitro host (frames sealed).
    pub nitro: bool,
}

/// One entry of a host's table, as `import` reads it and `list` prints it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mapping {
    /// The VPC.
    pub vpc: u32,
    /// The inner address.
    pub ip: Ipv4Addr,
    /// Where it maps to (none: a line of `import --delete` that gives only
    /// the key).
    pub peer: Option<Peer>,
}

/// The word of a Nitro peer in a line (`map set --nitro`).
const NITRO_WORD: &str = "nitro";
/// The word of a non-Nitro peer (plain Geneve).
const PLAIN_WORD: &str = "plain";

impl Mapping {
    /// The entry as the ABI has it, for host `host`: the key only when
    /// `delete` (the ABI wants the rest zero).
    pub fn to_abi(self, host: u32, delete: bool) -> abi::nitro_map {
        let mut map: abi::nitro_map = sized();
        map.host = host;
        map.vpc = self.vpc;
        map.ipv4 = address::ipv4_to_abi(self.ip);
        if let (Some(peer), false) = (self.peer, delete) {
            map.mac = peer.mac;
            map.underlay_ipv4 = address::ipv4_to_abi(peer.underlay);
            map.flags = if peer.nitro { abi::NITRO_MAP_NITRO } else { 0 };
        }
        map
    }

    /// An entry of the ABI (from `NITRO_IOC_MAP_LIST`).
    pub fn from_abi(map: &abi::nitro_map) -> Self {
        Mapping {
            vpc: map.vpc,
            ip: address::ipv4_from_abi(map.ipv4),
            peer: Some(Peer {
                mac: map.mac,
                underlay: address::ipv4_from_abi(map.underlay_ipv4),
                nitro: map.flags & abi::NITRO_MAP_NITRO != 0,
            }),
        }
    }

    /// The entry as a line of `map list`, which `map import` reads back.
    pub fn line(&self) -> String {
        match self.peer {
            Some(peer) => format!(
                "{} {} {} {} {}\n",
                self.vpc,
                self.ip,
                address::format_mac(&peer.mac),
                peer.underlay,
                if peer.nitro { NITRO_WORD } else { PLAIN_WORD }
            ),
            None => format!("{} {}\n", self.vpc, self.ip),
        }
    }
}

/// An entry of `map list --json` (the keys of `map set --json`).
#[derive(Serialize, Debug, PartialEq)]
pub struct Entry {
    /// The host whose table it is in.
    pub host: u32,
    /// The VPC.
    pub vpc: u32,
    /// The inner address.
    pub ip: String,
    /// The inner MAC address.
    pub mac: String,
    /// The peer host's underlay address.
    pub underlay: String,
    /// Whether the peer is a Nitro host.
    pub nitro: bool,
}

impl Entry {
    /// From the ABI.
    pub fn from_abi(host: u32, map: &abi::nitro_map) -> Self {
        Entry {
            host,
            vpc: map.vpc,
            ip: address::ipv4_from_abi(map.ipv4).to_string(),
            mac: address::format_mac(&map.mac),
            underlay: address::ipv4_from_abi(map.underlay_ipv4).to_string(),
            nitro: map.flags & abi::NITRO_MAP_NITRO != 0,
        }
    }
}

/// What a line of `map import` holds when `delete` (key only, or a whole
/// line) or not (a whole line).
fn line_syntax(delete: bool) -> &'static str {
    if delete {
        "expected 'VPC IP' (or a whole line 'VPC IP MAC UNDERLAY [nitro|plain]')"
    } else {
        "expected 'VPC IP MAC UNDERLAY [nitro|plain]'"
    }
}

/// Parses one line of a `map import` file with the parsers of `map set`'s
/// options; `None` for a blank line or a comment (`#` to the end of the
/// line). With `delete`, the line may stop after the key.
pub fn parse_line(text: &str, delete: bool) -> Result<Option<Mapping>, String> {
    let text = text.split('#').next().unwrap_or_default();
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.iter().any(|word| word.starts_with("--")) {
        return Err(format!(
            "{}: the values alone, without option names, as `nitroctl map list` prints them",
            line_syntax(delete)
        ));
    }
    let (vpc, ip, rest) = match words.as_slice() {
        [] => return Ok(None),
        [vpc, ip, rest @ ..]
            if (rest.is_empty() && delete) || rest.len() == 2 || rest.len() == 3 =>
        {
            (vpc, ip, rest)
        }
        _ => return Err(line_syntax(delete).into()),
    };
    let vpc = vpc::parse_vpc(vpc)?;
    let ip = address::parse_unicast_ipv4(ip)?;
    let peer = match rest {
        [] => None,
        [mac, underlay, kind @ ..] => Some(Peer {
            mac: address::parse_unicast_mac(mac)?,
            underlay: address::parse_unicast_ipv4(underlay)?,
            nitro: match kind {
                [] | [PLAIN_WORD] => false,
                [NITRO_WORD] => true,
                [other, ..] => {
                    return Err(format!(
                        "'{other}' is not a kind of peer: {NITRO_WORD} (a Nitro host, \
                         sealed) or {PLAIN_WORD} (plain Geneve)"
                    ))
                }
            },
        }),
        _ => return Err(line_syntax(delete).into()),
    };
    Ok(Some(Mapping { vpc, ip, peer }))
}

/// A `map import` file, parsed: its entries for host `host`, in order, and
/// the line each came from.
#[derive(Debug, Default)]
pub struct Import {
    /// The entries, as the ABI has them.
    pub entries: Vec<abi::nitro_map>,
    /// The line number (from 1) of each entry.
    pub lines: Vec<usize>,
}

/// Parses a whole `map import` file (`name` says which, in errors): every
/// line is checked before anything is sent, the first bad one is the
/// error.
pub fn parse_import(name: &str, text: &str, host: u32, delete: bool) -> Result<Import, String> {
    let mut import = Import::default();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let mapping = parse_line(line, delete)
            .map_err(|message| format!("{name} line {number}: {message}"))?;
        if let Some(mapping) = mapping {
            import.entries.push(mapping.to_abi(host, delete));
            import.lines.push(number);
        }
    }
    Ok(import)
}

/// Sends `entries` in order, in batches of at most `batch` with `send`
/// (which gives, on failure, how many of its batch applied and why): how
/// many applied, or how many applied before the entry that stopped them
/// (its index in `entries`) and why.
pub fn in_batches<F>(
    entries: &[abi::nitro_map],
    batch: usize,
    mut send: F,
) -> Result<usize, (usize, Error)>
where
    F: FnMut(&[abi::nitro_map]) -> Result<(), (usize, Error)>,
{
    let mut applied = 0;
    for chunk in entries.chunks(batch.max(1)) {
        send(chunk).map_err(|(done, error)| (applied + done.min(chunk.len()), error))?;
        applied += chunk.len();
    }
    Ok(applied)
}

/// `NITRO_IOC_MAP_BATCH` of `entries` (at most `NITRO_MAP_BATCH_MAX`) on
/// host `host`; on failure, how many applied (the controller's `done`).
fn send_batch(
    controller: &Controller,
    host: u32,
    entries: &[abi::nitro_map],
    delete: bool,
) -> Result<(), (usize, Error)> {
    let mut batch: abi::nitro_map_batch = sized();
    batch.host = host;
    batch.entries = entries.as_ptr() as u64;
    batch.count = entries.len() as u32;
    batch.flags = if delete {
        abi::NITRO_MAP_BATCH_DELETE
    } else {
        0
    };
    controller
        .ioctl("NITRO_IOC_MAP_BATCH", abi::NITRO_IOC_MAP_BATCH, &mut batch)
        .map_err(|error| (batch.done as usize, error))
}

/// Explains an `ENOTTY` or `EOPNOTSUPP` of `NITRO_IOC_MAP_BATCH` or
/// `_LIST` (`what` the command did) by the controller's features; `None`
/// for another errno, or if the controller does not say.
fn missing_feature(controller: &Controller, what: &str, error: &Error) -> Option<Error> {
    let errno = error.errno()?;
    let features = controller.version().ok()?.features;
    let message = feature_refusal(features, errno, what)?;
    Some(Error::Refused { message, errno })
}

/// Why a controller with feature bits `features` answered `errno`
/// (`ENOTTY` or `EOPNOTSUPP`) to a request for `what` of the map tables.
fn feature_refusal(features: u64, errno: i32, what: &str) -> Option<String> {
    let has = features & abi::NITRO_FEAT_MAP_TABLES as u64 != 0;
    let feature = version::feature_name(abi::NITRO_FEAT_MAP_TABLES);
    match errno {
        libc::ENOTTY | libc::EOPNOTSUPP if !has => Some(format!(
            "the loaded nitro_ctrl cannot {what} (no feature {feature} in `nitroctl version`): \
             it is older than nitroctl; `nitroctl map set` and `map delete` program one entry \
             at a time"
        )),
        libc::EOPNOTSUPP => Some(format!(
            "the VPC card (nitro_net) cannot {what} yet: is it older than nitro_ctrl?"
        )),
        _ => None,
    }
}

/// Explains why an import stopped at entry `index` of `import` (from the
/// file `name`) after `index` entries applied: the entry's line, and the
/// refusal as `map set` (or `delete`) explains it.
fn explain_import(
    controller: &Controller,
    name: &str,
    import: &Import,
    host: u32,
    delete: bool,
    (index, error): (usize, Error),
) -> Error {
    let what = if delete {
        "delete mappings in batches"
    } else {
        "set mappings in batches"
    };
    // The request itself unknown or unsupported: no entry's fault.
    if index == 0 && matches!(error.errno(), Some(libc::ENOTTY | libc::EOPNOTSUPP)) {
        return missing_feature(controller, what, &error).unwrap_or(error);
    }
    let applied = match index {
        0 => "none applied".to_string(),
        1 => "the 1 entry before it applied".to_string(),
        n => format!("the {n} entries before it applied"),
    };
    let (Some(entry), Some(line)) = (import.entries.get(index), import.lines.get(index)) else {
        return Error::Context {
            context: format!("{name}: {applied}"),
            error: Box::new(error),
        };
    };
    let (vpc, ip) = (entry.vpc, address::ipv4_from_abi(entry.ipv4));
    let operation = if delete {
        Operation::MapDelete { host, vpc, ip }
    } else {
        Operation::MapSet { host, vpc, ip }
    };
    Error::Context {
        context: format!("{name} line {line} (VPC {vpc} {ip}; {applied})"),
        error: Box::new(vpc::explain(controller, operation, error)),
    }
}

/// What `map import` reports.
#[derive(Serialize, Debug, PartialEq)]
pub struct Imported {
    /// Entries applied (all of the file's).
    pub applied: usize,
    /// Time spent in the controller, seconds.
    pub seconds: f64,
    /// Entries applied per second.
    pub per_second: u64,
}

impl Imported {
    /// From the count and the time taken.
    pub fn new(applied: usize, seconds: f64) -> Self {
        Imported {
            applied,
            seconds: (seconds * 1e6).round() / 1e6,
            per_second: if seconds > 0.0 {
                (applied as f64 / seconds).round() as u64
            } else {
                0
            },
        }
    }
}

/// `nitroctl map import`.
fn import(options: &GlobalOptions, host: u32, delete: bool, file: &Path) -> Result<String, Error> {
    let (name, text) = super::read_input(file)?;
    let import = parse_import(&name, &text, host, delete).map_err(Error::Usage)?;
    drop(text);
    let controller = options.open()?;
    let start = Instant::now();
    let applied = in_batches(
        &import.entries,
        abi::NITRO_MAP_BATCH_MAX as usize,
        |batch| send_batch(&controller, host, batch, delete),
    )
    .map_err(|failed| explain_import(&controller, &name, &import, host, delete, failed))?;
    let seconds = if applied == 0 {
        0.0
    } else {
        start.elapsed().as_secs_f64()
    };
    let report = Imported::new(applied, seconds);
    Ok(options.render(&report, |report| {
        format!(
            "host {host}: {} {} {} in {} s ({} per second)\n",
            report.applied,
            if report.applied == 1 {
                "entry"
            } else {
                "entries"
            },
            if delete { "deleted" } else { "set" },
            report.seconds,
            report.per_second
        )
    }))
}

/// One page of a listing: the entries after a cursor, the cursor for the
/// next page, and whether there is one.
type Page = (Vec<abi::nitro_map>, u64, bool);

/// Pages through a listing with `page` (called with the cursor, 0 first)
/// to its end.
pub fn page_through<F>(mut page: F) -> Result<Vec<abi::nitro_map>, Error>
where
    F: FnMut(u64) -> Result<Page, Error>,
{
    let mut all = Vec::new();
    let mut cursor = 0;
    loop {
        let (entries, next, more) = page(cursor)?;
        if more && entries.is_empty() {
            return Err(Error::Refused {
                message: "the controller gave an empty page of the mapping table with more to \
                          come"
                    .into(),
                errno: libc::EIO,
            });
        }
        all.extend(entries);
        if !more {
            return Ok(all);
        }
        cursor = next;
    }
}

/// `NITRO_IOC_MAP_LIST` of host `host`: the page after `cursor`, at most
/// `NITRO_LIST_MAX` entries.
fn list_page(controller: &Controller, host: u32, cursor: u64) -> Result<Page, Error> {
    let cap = abi::NITRO_LIST_MAX;
    let mut entries = vec![abi::nitro_map::default(); cap as usize];
    let mut list: abi::nitro_map_list = sized();
    list.host = host;
    list.cursor = cursor;
    list.entries = entries.as_mut_ptr() as u64;
    list.cap = cap;
    list.entry_size = std::mem::size_of::<abi::nitro_map>() as u32;
    controller.ioctl("NITRO_IOC_MAP_LIST", abi::NITRO_IOC_MAP_LIST, &mut list)?;
    entries.truncate(list.count.min(cap) as usize);
    Ok((entries, list.cursor, list.more != 0))
}

/// `nitroctl map list`.
fn list(options: &GlobalOptions, host: u32) -> Result<String, Error> {
    let controller = options.open()?;
    let entries = page_through(|cursor| list_page(&controller, host, cursor)).map_err(|error| {
        missing_feature(&controller, "list mapping tables", &error).unwrap_or_else(|| {
            // The host is the only thing a listing can be refused for.
            vpc::explain(&controller, Operation::HostShow(host), error)
        })
    })?;
    Ok(if options.json {
        let entries: Vec<Entry> = entries
            .iter()
            .map(|map| Entry::from_abi(host, map))
            .collect();
        output::json(&entries)
    } else {
        entries
            .iter()
            .map(|map| Mapping::from_abi(map).line())
            .collect()
    })
}

/// `nitroctl map ...`.
pub fn run(options: &GlobalOptions, command: &MapCommand) -> Result<String, Error> {
    match command {
        MapCommand::Import { host, delete, file } => import(options, *host, *delete, file),
        MapCommand::List { host } => list(options, *host),
        MapCommand::Set {
            key,
            mac,
            underlay,
            nitro,
        } => set_or_delete(
            options,
            key,
            Some(Peer {
                mac: *mac,
                underlay: *underlay,
                nitro: *nitro,
            }),
        ),
        MapCommand::Delete(key) => set_or_delete(options, key, None),
    }
}

/// `nitroctl map set` (`peer` given) or `delete`.
fn set_or_delete(
    options: &GlobalOptions,
    key: &MapKey,
    peer: Option<Peer>,
) -> Result<String, Error> {
    let controller = options.open()?;
    let MapKey { host, vpc, ip } = *key;
    let mut map = Mapping { vpc, ip, peer }.to_abi(host, peer.is_none());
    let (request, command, operation) = match peer {
        Some(_) => (
            "NITRO_IOC_MAP_SET",
            abi::NITRO_IOC_MAP_SET,
            Operation::MapSet { host, vpc, ip },
        ),
        None => (
            "NITRO_IOC_MAP_DELETE",
            abi::NITRO_IOC_MAP_DELETE,
            Operation::MapDelete { host, vpc, ip },
        ),
    };
    controller
        .ioctl(request, command, &mut map)
        .map_err(|error| vpc::explain(&controller, operation, error))?;
    Ok(match peer {
        Some(Peer {
            mac,
            underlay,
            nitro,
        }) if options.json => output::json(&serde_json::json!({
            "host": host,
            "vpc": vpc,
            "ip": ip.to_string(),
            "mac": address::format_mac(&mac),
            "underlay": underlay.to_string(),
            "nitro": nitro,
            "result": "set",
        })),
        Some(Peer {
            mac,
            underlay,
            nitro,
        }) => format!(
            "host {host}: VPC {vpc} {ip} is {} at {underlay} ({})\n",
            address::format_mac(&mac),
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

    #[test]
    fn parses_import_and_list_commands() {
        assert_eq!(
            parse(&["map", "import", "--host", "3", "maps.txt"]).command,
            Command::Map(MapCommand::Import {
                host: 3,
                delete: false,
                file: "maps.txt".into()
            })
        );
        assert_eq!(
            parse(&["map", "import", "--delete", "--host", "3", "-"]).command,
            Command::Map(MapCommand::Import {
                host: 3,
                delete: true,
                file: "-".into()
            })
        );
        assert_eq!(
            parse(&["map", "list", "--host", "16", "--json"]).command,
            Command::Map(MapCommand::List { host: 16 })
        );
        assert!(refused(&["map", "import", "maps.txt"]).contains("--host"));
        assert!(refused(&["map", "import", "--host", "3"]).contains("FILE"));
        assert!(refused(&["map", "import", "--host", "17", "x"]).contains("not a host number"));
        assert!(refused(&["map", "list"]).contains("--host"));
    }

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 9];

    fn mapping(nitro: bool) -> Mapping {
        Mapping {
            vpc: 42,
            ip: Ipv4Addr::new(10, 1, 0, 9),
            peer: Some(Peer {
                mac: MAC,
                underlay: Ipv4Addr::new(192, 0, 2, 2),
                nitro,
            }),
        }
    }

    #[test]
    fn import_lines() {
        let set = |line: &str| parse_line(line, false);
        let delete = |line: &str| parse_line(line, true);
        assert_eq!(
            set("42 10.1.0.9 02:00:00:00:00:09 192.0.2.2 nitro"),
            Ok(Some(mapping(true)))
        );
        assert_eq!(
            set("42 10.1.0.9 02:00:00:00:00:09 192.0.2.2 plain"),
            Ok(Some(mapping(false)))
        );
        assert_eq!(
            set("42 10.1.0.9 02:00:00:00:00:09 192.0.2.2"),
            Ok(Some(mapping(false))),
            "plain if left out, as map set without --nitro"
        );
        assert_eq!(
            set("  42\t10.1.0.9   2:0:0:0:0:9 192.0.2.2 nitro   # web  "),
            Ok(Some(mapping(true))),
            "any blanks, a comment after the entry"
        );
        for blank in [
            "",
            "   ",
            "\t",
            "# a comment",
            "   # indented comment",
            "#42 10.1.0.9",
        ] {
            assert_eq!(set(blank), Ok(None), "{blank:?}");
            assert_eq!(delete(blank), Ok(None), "{blank:?}");
        }
        // With --delete the key is enough; whole lines (map list's) too.
        let key = Mapping {
            peer: None,
            ..mapping(false)
        };
        assert_eq!(delete("42 10.1.0.9"), Ok(Some(key)));
        assert_eq!(
            delete("42 10.1.0.9 02:00:00:00:00:09 192.0.2.2 nitro"),
            Ok(Some(mapping(true)))
        );
        // Wrong shapes.
        for bad in [
            "42",
            "42 10.1.0.9",
            "42 10.1.0.9 02:00:00:00:00:09",
            "42 10.1.0.9 02:00:00:00:00:09 192.0.2.2 nitro extra",
        ] {
            let error = set(bad).unwrap_err();
            assert!(
                error.contains("expected 'VPC IP MAC UNDERLAY [nitro|plain]'"),
                "{bad:?}: {error}"
            );
        }
        for options in [
            "--vpc 42 --ip 10.1.0.9 --mac 02:00:00:00:00:09 --underlay 192.0.2.2",
            "42 10.1.0.9 02:00:00:00:00:09 192.0.2.2 --nitro",
        ] {
            let error = set(options).unwrap_err();
            assert!(
                error.contains("without option names"),
                "{options:?}: {error}"
            );
        }
        assert!(delete("--vpc 42 --ip 10.1.0.9")
            .unwrap_err()
            .starts_with("expected 'VPC IP'"));
        for bad in ["42", "42 10.1.0.9 02:00:00:00:00:09", "1 2 3 4 5 6"] {
            let error = delete(bad).unwrap_err();
            assert!(error.contains("expected 'VPC IP'"), "{bad:?}: {error}");
        }
        // Each word checked as map set checks its option.
        for (bad, says) in [
            (
                "0 10.1.0.9 02:00:00:00:00:09 192.0.2.2",
                "'0' is not a VPC id (1 to 16777215)",
            ),
            (
                "16777216 10.1.0.9 02:00:00:00:00:09 192.0.2.2",
                "not a VPC id",
            ),
            (
                "42 10.1.0.256 02:00:00:00:00:09 192.0.2.2",
                "'10.1.0.256' is not an IPv4 address",
            ),
            ("42 224.0.0.1 02:00:00:00:00:09 192.0.2.2", "multicast"),
            ("42 10.1.0.9 02:00:00:00:09 192.0.2.2", "not a MAC address"),
            ("42 10.1.0.9 01:00:5e:00:00:01 192.0.2.2", "multicast"),
            (
                "42 10.1.0.9 00:00:00:00:00:00 192.0.2.2",
                "not the MAC address of an interface",
            ),
            ("42 10.1.0.9 02:00:00:00:00:09 0.0.0.0", "unspecified"),
            (
                "42 10.1.0.9 02:00:00:00:00:09 192.0.2.2 sealed",
                "'sealed' is not a kind of peer",
            ),
            (
                "42 10.1.0.9 02:00:00:00:00:09 192.0.2.2 nitro-ish",
                "nitro (a Nitro host",
            ),
        ] {
            let error = set(bad).unwrap_err();
            assert!(error.contains(says), "{bad:?}: {error}");
        }
        assert!(delete("42 0.0.0.0").unwrap_err().contains("unspecified"));
        assert!(delete("x 10.1.0.9").unwrap_err().contains("not a VPC id"));
    }

    #[test]
    fn import_files() {
        let text = "# host 2's table\n\
                    42 10.1.0.9 02:00:00:00:00:09 192.0.2.2 nitro\n\
                    \n\
                    7 10.0.0.5 02:00:00:00:00:05 192.0.2.3 plain  # peer 3\n";
        let import = parse_import("maps.txt", text, 2, false).unwrap();
        assert_eq!(import.lines, vec![2, 4]);
        let first = &import.entries[0];
        assert_eq!(first.size, abi::NITRO_MAP_SIZE_VER0);
        assert_eq!(first.host, 2);
        assert_eq!(first.vpc, 42);
        assert_eq!(first.ipv4, address::ipv4_to_abi(Ipv4Addr::new(10, 1, 0, 9)));
        assert_eq!(first.mac, MAC);
        assert_eq!(
            first.underlay_ipv4,
            address::ipv4_to_abi(Ipv4Addr::new(192, 0, 2, 2))
        );
        assert_eq!(first.flags, abi::NITRO_MAP_NITRO);
        assert_eq!(import.entries[1].flags, 0);
        assert_eq!(import.entries[1].vpc, 7);
        // Deleting sends the key only, the rest zero as the ABI wants.
        let import = parse_import("maps.txt", text, 2, true).unwrap();
        assert_eq!(import.lines, vec![2, 4]);
        let key = &import.entries[0];
        assert_eq!((key.host, key.vpc), (2, 42));
        assert_eq!((key.mac, key.underlay_ipv4, key.flags), ([0; 6], 0, 0));
        // The first bad line is the error, with its number.
        let bad =
            "42 10.1.0.9 02:00:00:00:00:09 192.0.2.2\n\n# x\n42 10.1.0.10 02:00:00:00:00:0a\n1 bad";
        assert_eq!(
            parse_import("maps.txt", bad, 2, false).unwrap_err(),
            "maps.txt line 4: expected 'VPC IP MAC UNDERLAY [nitro|plain]'"
        );
        let empty = parse_import("-", "# nothing\n\n", 2, false).unwrap();
        assert!(empty.entries.is_empty() && empty.lines.is_empty());
    }

    #[test]
    fn list_lines_import_back() {
        for nitro in [true, false] {
            let map = mapping(nitro).to_abi(5, false);
            let line = Mapping::from_abi(&map).line();
            assert_eq!(
                line,
                format!(
                    "42 10.1.0.9 02:00:00:00:00:09 192.0.2.2 {}\n",
                    if nitro { "nitro" } else { "plain" }
                )
            );
            let import = parse_import("list", &line, 5, false).unwrap();
            assert_eq!(fields(&import.entries), fields(&[map]));
        }
        let entry = Entry::from_abi(5, &mapping(true).to_abi(5, false));
        assert_eq!(
            serde_json::to_value(&entry).unwrap(),
            serde_json::json!({
                "host": 5,
                "vpc": 42,
                "ip": "10.1.0.9",
                "mac": "02:00:00:00:00:09",
                "underlay": "192.0.2.2",
                "nitro": true,
            }),
            "the keys of map set --json"
        );
    }

    /// Every field of an entry.
    type Fields = (u32, u32, u32, u32, [u8; 6], u32, u32);

    /// Every field of `entries` (the ABI's structs do not compare).
    fn fields(entries: &[abi::nitro_map]) -> Vec<Fields> {
        entries
            .iter()
            .map(|map| {
                (
                    map.size,
                    map.host,
                    map.vpc,
                    map.ipv4,
                    map.mac,
                    map.underlay_ipv4,
                    map.flags,
                )
            })
            .collect()
    }

    /// `count` distinct entries, the index in the VPC id.
    fn entries(count: usize) -> Vec<abi::nitro_map> {
        (0..count)
            .map(|index| {
                Mapping {
                    vpc: index as u32 + 1,
                    ..mapping(true)
                }
                .to_abi(1, false)
            })
            .collect()
    }

    fn refusal(errno: i32) -> Error {
        Error::Kernel {
            request: "NITRO_IOC_MAP_BATCH",
            error: std::io::Error::from_raw_os_error(errno),
        }
    }

    #[test]
    fn batches() {
        let max = abi::NITRO_MAP_BATCH_MAX as usize;
        for (count, sizes) in [
            (0, vec![]),
            (1, vec![1]),
            (max, vec![max]),
            (max + 1, vec![max, 1]),
            (2 * max + 3, vec![max, max, 3]),
        ] {
            let all = entries(count);
            let mut sent = Vec::new();
            let mut next = 0;
            let applied = in_batches(&all, max, |batch| {
                // In order, each entry once.
                assert_eq!(batch[0].vpc as usize, next + 1);
                next += batch.len();
                sent.push(batch.len());
                Ok(())
            });
            assert_eq!(applied.unwrap(), count);
            assert_eq!(sent, sizes, "{count}");
        }
        // A batch that stops: where, counted over the whole file, and no
        // batch after it.
        let all = entries(10);
        let mut calls = 0;
        let (index, error) = in_batches(&all, 4, |batch| {
            calls += 1;
            if batch[0].vpc == 5 {
                Err((2, refusal(libc::ENOSPC)))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!((index, calls), (6, 2));
        assert_eq!(error.errno(), Some(libc::ENOSPC));
        // A `done` past the batch is taken as the whole batch.
        let (index, _) = in_batches(&all, 4, |_| Err((99, refusal(libc::EIO)))).unwrap_err();
        assert_eq!(index, 4);
    }

    #[test]
    fn listing_pages() {
        let table = entries(10);
        let mut cursors = Vec::new();
        let all = page_through(|cursor| {
            cursors.push(cursor);
            let start = cursor as usize;
            let end = (start + 4).min(table.len());
            Ok((table[start..end].to_vec(), end as u64, end < table.len()))
        })
        .unwrap();
        assert_eq!(fields(&all), fields(&table));
        assert_eq!(cursors, vec![0, 4, 8]);
        assert!(page_through(|_| Ok((vec![], 0, false))).unwrap().is_empty());
        // An empty page with more to come would never end.
        let error = page_through(|_| Ok((vec![], 7, true))).unwrap_err();
        assert_eq!(error.errno(), Some(libc::EIO));
        let error = page_through(|_| Err(refusal(libc::ENODEV))).unwrap_err();
        assert_eq!(error.errno(), Some(libc::ENODEV));
    }

    #[test]
    fn import_refusals_name_the_line() {
        // /dev/null answers every ioctl with ENOTTY: the controller cannot
        // say more.
        let controller = Controller::open(std::path::Path::new("/dev/null")).unwrap();
        let text = "# two entries\n42 10.1.0.9 02:00:00:00:00:09 192.0.2.2 nitro\n\n\
                    7 10.0.0.5 02:00:00:00:00:05 192.0.2.3\n";
        let import = parse_import("maps.txt", text, 2, false).unwrap();
        let explained = |index: usize, errno: i32, delete: bool| {
            let error = explain_import(
                &controller,
                "maps.txt",
                &import,
                2,
                delete,
                (index, refusal(errno)),
            );
            assert_eq!(error.errno(), Some(errno));
            assert_eq!(error.exit_code(), 1);
            error.to_string()
        };
        assert_eq!(
            explained(1, libc::ENOSPC, false),
            "maps.txt line 4 (VPC 7 10.0.0.5; the 1 entry before it applied): \
             the mapping table of host 2 is full (1048576 entries): \
             No space left on device (ENOSPC)"
        );
        assert!(explained(0, libc::EEXIST, false).starts_with(
            "maps.txt line 2 (VPC 42 10.1.0.9; none applied): in VPC 42, that MAC address \
             is already another address's"
        ));
        assert!(explained(1, libc::ENOENT, true)
            .contains("line 4 (VPC 7 10.0.0.5; the 1 entry before it applied): host 2 has no mapping for 10.0.0.5 in VPC 7"));
        assert!(explained(0, libc::EACCES, false).contains("boot gate is closed"));
        // The request unknown (here the controller cannot say whether it
        // has the feature): the generic hint, no line (no entry's fault).
        assert_eq!(
            explained(0, libc::ENOTTY, false),
            "NITRO_IOC_MAP_BATCH failed: Inappropriate ioctl for device (ENOTTY); \
             the loaded nitro_ctrl does not know this request: is it older than nitroctl?"
        );
        // Not explained further: the generic hint, with the line.
        let message = explained(0, libc::E2BIG, false);
        assert!(message.starts_with("maps.txt line 2"), "{message}");
        assert!(
            message.contains("newer than the loaded nitro_ctrl"),
            "{message}"
        );
        // Past the last entry: no line to name.
        assert!(explained(2, libc::EIO, false)
            .starts_with("maps.txt: the 2 entries before it applied: "));
    }

    #[test]
    fn missing_features_are_explained() {
        let with = abi::NITRO_FEAT_ENIS as u64 | abi::NITRO_FEAT_MAP_TABLES as u64;
        let without = abi::NITRO_FEAT_ENIS as u64;
        let what = "set mappings in batches";
        for errno in [libc::ENOTTY, libc::EOPNOTSUPP] {
            let message = feature_refusal(without, errno, what).unwrap();
            assert!(
                message.starts_with(
                    "the loaded nitro_ctrl cannot set mappings in batches \
                     (no feature map-tables in `nitroctl version`): it is older than nitroctl"
                ),
                "{message}"
            );
        }
        assert!(feature_refusal(with, libc::EOPNOTSUPP, what)
            .unwrap()
            .starts_with("the VPC card (nitro_net) cannot set mappings in batches yet"));
        // The feature there and the request unknown: nothing better than
        // the generic hint.
        assert_eq!(feature_refusal(with, libc::ENOTTY, what), None);
        assert_eq!(feature_refusal(without, libc::ENOSPC, what), None);
    }

    #[test]
    fn import_reports() {
        let report = Imported::new(1000, 0.25);
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            serde_json::json!({"applied": 1000, "seconds": 0.25, "per_second": 4000})
        );
        assert_eq!(Imported::new(0, 0.0).per_second, 0);
        assert_eq!(Imported::new(3, 0.000_001_4).seconds, 0.000_001);
    }
}
