//! `nitroctl sg`: security groups, the stateful filters the VPC card applies
//! to the traffic of the ENIs that have them (Documentation/vpc.rst). A
//! group belongs to one VPC and holds rules; `nitroctl eni groups` gives an
//! ENI its groups.
//!
//! A rule reads `DIR PROTO PORTS PEER` everywhere (`sg show`, `sg rule
//! add`'s refusals, the files of `sg rules set`): `ingress tcp 22
//! 10.0.0.0/8`, `ingress udp 53 sg-0123456789abcdef0`, `ingress icmp 8
//! 10.1.0.1/32`, `egress all - 0.0.0.0/0`. What a rule may hold is checked
//! by the controller's own [`Rule::check`] (`drivers/nitro_ctrl/sg_rules.rs`),
//! before anything is sent.

use crate::{
    abi::{
        self,
        sg_rules::{self, Peer, RawRule, Rule},
        state,
    },
    cli::{eni, version, GlobalOptions},
    device::{sized, Controller},
    error::Error,
    objects::{ObjectKind, GATE_CLOSED},
    output::{self, table, Rows},
    vpc,
};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::{
    net::Ipv4Addr,
    path::{Path, PathBuf},
};

/// Security group commands.
#[derive(Subcommand, Debug, PartialEq)]
pub enum SgCommand {
    /// Create a security group in a VPC; prints its id.
    ///
    /// A new group has one rule, 'egress all - 0.0.0.0/0' (all outbound, as
    /// EC2's default) and none inbound: an ENI that has only it receives
    /// nothing but the replies to what it sent.
    Create {
        /// VPC id (1 to 16777215); the group's ENIs and peer groups are of
        /// that VPC.
        #[arg(long, value_name = "V", value_parser = vpc::parse_vpc)]
        vpc: u32,
    },
    /// Delete a security group (refused while an ENI has it or a rule of
    /// another group names it as its peer).
    Delete(SgArg),
    /// List security groups: id, VPC, how many rules, how many ENIs have it.
    List,
    /// Show a security group: its VPC and ENIs (as '#' comments), then its
    /// rules, one per line, as `sg rules set` takes them back.
    #[command(visible_alias = "describe")]
    Show(SgArg),
    /// Add or remove one rule of a group.
    #[command(subcommand)]
    Rule(RuleCommand),
    /// Set all the rules of a group at once.
    #[command(subcommand)]
    Rules(RulesCommand),
}

/// A group argument.
#[derive(Args, Debug, PartialEq)]
pub struct SgArg {
    /// sg-...
    #[arg(value_name = "SG", value_parser = parse_id)]
    pub id: u64,
}

/// `sg rule ...`.
#[derive(Subcommand, Debug, PartialEq)]
pub enum RuleCommand {
    /// Add a rule to a group (refused if the group has it already).
    ///
    /// Reads the group's rules, adds this one and sets them all: a change
    /// another writer makes to the group in between is lost (use `sg rules
    /// set` to give all the rules at once).
    Add(RuleArgs),
    /// Remove a rule from a group (given as it was added; an error if the
    /// group has no such rule).
    ///
    /// Reads the group's rules, removes this one and sets the rest: a
    /// change another writer makes to the group in between is lost.
    Remove(RuleArgs),
}

/// `sg rules ...`.
#[derive(Subcommand, Debug, PartialEq)]
pub enum RulesCommand {
    /// Replace all the rules of a group with those of a file.
    ///
    /// One rule per line, 'DIR PROTO PORTS PEER' (as `sg show` prints
    /// them): 'ingress tcp 22 10.0.0.0/8', 'ingress tcp 8000-8080
    /// 0.0.0.0/0', 'ingress udp 53 sg-0123456789abcdef0', 'ingress icmp 8
    /// 10.1.0.1/32', 'egress all - 0.0.0.0/0'. Blank lines and '#' comments
    /// are skipped; an empty file removes every rule (the group then allows
    /// nothing). The whole file is checked before anything is sent, and the
    /// rules apply together.
    Set {
        /// sg-...
        #[arg(value_name = "SG", value_parser = parse_id)]
        id: u64,
        /// The file of rules; '-' for standard input.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// One rule, as options (`sg rule add`, `sg rule remove`).
#[derive(Args, Debug, PartialEq)]
pub struct RuleArgs {
    /// sg-...
    #[arg(value_name = "SG", value_parser = parse_id)]
    pub id: u64,
    #[command(flatten)]
    pub direction: DirectionArgs,
    /// The protocol: tcp, udp, icmp, or all (every protocol).
    #[arg(long, value_name = "PROTO", value_parser = parse_proto)]
    pub proto: u8,
    /// TCP, UDP: the destination port or range, P or P-Q (or all); ICMP:
    /// the type or range of types (or all: 0-255). Not with --proto all.
    #[arg(long, value_name = "P|P-Q")]
    pub port: Option<String>,
    #[command(flatten)]
    pub peer: PeerArgs,
}

/// Which way a rule allows: one of the two.
#[derive(Args, Debug, PartialEq)]
#[group(required = true, multiple = false)]
pub struct DirectionArgs {
    /// To the ENI.
    #[arg(long)]
    pub ingress: bool,
    /// From the ENI.
    #[arg(long)]
    pub egress: bool,
}

/// Who the peer of a rule is: one of the two.
#[derive(Args, Debug, PartialEq)]
#[group(required = true, multiple = false)]
pub struct PeerArgs {
    /// A network, A.B.C.D/N (a bare address is /32; 0.0.0.0/0: anywhere).
    #[arg(long, value_name = "A.B.C.D/N", value_parser = parse_net)]
    pub cidr: Option<(Ipv4Addr, u8)>,
    /// A group of the same VPC: the addresses of the ENIs that have it.
    #[arg(long, value_name = "SG", value_parser = parse_id)]
    pub group: Option<u64>,
}

impl RuleArgs {
    /// The rule the options give, checked.
    pub fn rule(&self) -> Result<Rule, String> {
        let dir = match self.direction.egress {
            true => abi::NITRO_SG_EGRESS as u8,
            false => abi::NITRO_SG_INGRESS as u8,
        };
        let ports = match &self.port {
            Some(text) => parse_ports(self.proto, text),
            None if self.proto == sg_rules::PROTO_ALL => Ok((0, 0)),
            None => Err(format!(
                "--proto {} needs --port: {}",
                proto_name(self.proto),
                ports_syntax(self.proto)
            )),
        }?;
        let peer = match (self.peer.cidr, self.peer.group) {
            (_, Some(group)) => Peer::Group(group),
            (Some((ip, len)), None) => Peer::Net(u32::from(ip), len),
            (None, None) => return Err("give the peer: --cidr or --group".into()),
        };
        build(dir, self.proto, ports, peer)
    }
}

/// The prefix of a group's id.
pub const ID_PREFIX: &str = "sg-";

/// Formats a group id as people see it: `sg-` and 17 hex digits.
pub fn format_id(id: u64) -> String {
    format!("{ID_PREFIX}0{id:016x}")
}

/// Parses a group id given on the command line (the forms an ENI id takes,
/// with `sg-`).
pub fn parse_id(text: &str) -> Result<u64, String> {
    state::parse_id(ID_PREFIX, text).ok_or_else(|| {
        format!("'{text}' is not a security group id like {ID_PREFIX}0123456789abcdef0")
    })
}

/// The examples refusals of a rule line give.
const RULE_EXAMPLES: &str =
    "like 'ingress tcp 22 10.0.0.0/8', 'ingress udp 53 sg-0123456789abcdef0', \
     'ingress icmp 8 10.1.0.1/32' or 'egress all - 0.0.0.0/0'";

/// The words of the directions.
const INGRESS: &str = "ingress";
/// See [`INGRESS`].
const EGRESS: &str = "egress";

/// Parses a direction word: `ingress` or `egress`; gives the ABI's `dir`.
pub fn parse_dir(text: &str) -> Result<u8, String> {
    match text {
        INGRESS => Ok(abi::NITRO_SG_INGRESS as u8),
        EGRESS => Ok(abi::NITRO_SG_EGRESS as u8),
        _ => Err(format!(
            "'{text}' is not a direction: {INGRESS} (to the ENI) or {EGRESS} (from it)"
        )),
    }
}

/// The protocols by name.
const PROTOCOLS: [(&str, u8); 4] = [
    ("tcp", sg_rules::PROTO_TCP),
    ("udp", sg_rules::PROTO_UDP),
    ("icmp", sg_rules::PROTO_ICMP),
    ("all", sg_rules::PROTO_ALL),
];

/// Parses a protocol: `tcp`, `udp`, `icmp` or `all`.
pub fn parse_proto(text: &str) -> Result<u8, String> {
    PROTOCOLS
        .iter()
        .find(|(name, _)| *name == text)
        .map(|&(_, proto)| proto)
        .ok_or_else(|| format!("'{text}' is not a protocol: tcp, udp, icmp or all"))
}

/// The name of a protocol (`tcp`).
pub fn proto_name(proto: u8) -> String {
    PROTOCOLS
        .iter()
        .find(|(_, known)| *known == proto)
        .map_or_else(|| format!("protocol {proto}"), |(name, _)| (*name).into())
}

/// The highest ICMP type (a byte): what `icmp all` reaches.
const ICMP_TYPE_MAX: u16 = u8::MAX as u16;

/// The ports (ICMP: types) `all` stands for with `proto`.
fn all_ports(proto: u8) -> (u16, u16) {
    if proto == sg_rules::PROTO_ICMP {
        (0, ICMP_TYPE_MAX)
    } else {
        (0, u16::MAX)
    }
}

/// What the PORTS of a rule of `proto` are.
fn ports_syntax(proto: u8) -> &'static str {
    match proto {
        sg_rules::PROTO_ALL => "'-': all protocols have no ports",
        sg_rules::PROTO_ICMP => "an ICMP type, a range of types T-U, or all (0-255)",
        _ => "a port, a range of ports P-Q, or all (0-65535)",
    }
}

/// Why `text` is not the PORTS of a rule of `proto`.
fn bad_ports(proto: u8, text: &str) -> String {
    if proto == sg_rules::PROTO_ALL {
        format!("'{text}': all protocols have no ports: give '-' (no --port)")
    } else {
        format!(
            "'{text}' is not what {} takes: {}",
            proto_name(proto),
            ports_syntax(proto)
        )
    }
}

/// Parses the PORTS of a rule of `proto`: `-` for all protocols; else a
/// number, a range `P-Q` or `all`. Only the syntax: the values are
/// [`Rule::check`]'s to judge.
pub fn parse_ports(proto: u8, text: &str) -> Result<(u16, u16), String> {
    let name = proto_name(proto);
    let bad = || bad_ports(proto, text);
    if proto == sg_rules::PROTO_ALL {
        return if text == "-" { Ok((0, 0)) } else { Err(bad()) };
    }
    let number = |part: &str| -> Result<u16, String> {
        if part.is_empty() || !part.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse().map_err(|_| bad())
    };
    match text {
        "all" => Ok(all_ports(proto)),
        "-" => Err(format!(
            "{name} takes {}, not '-' (that is for all protocols)",
            ports_syntax(proto)
        )),
        _ => match text.split_once('-') {
            Some((low, high)) => Ok((number(low)?, number(high)?)),
            None => number(text).map(|port| (port, port)),
        },
    }
}

/// Parses a network `A.B.C.D/N`, or a bare address (`/32`). Only the
/// syntax: whether it is a network is [`Rule::check`]'s to judge.
pub fn parse_net(text: &str) -> Result<(Ipv4Addr, u8), String> {
    let bad = || format!("'{text}' is not a network: A.B.C.D/N, N 0 to 32 (a bare address is /32)");
    let (ip, len) = match text.split_once('/') {
        Some((ip, len)) => {
            if len.is_empty() || len.len() > 2 || !len.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(bad());
            }
            let len: u8 = len.parse().map_err(|_| bad())?;
            if len > 32 {
                return Err(bad());
            }
            (ip, len)
        }
        None => (text, 32),
    };
    Ok((ip.parse().map_err(|_| bad())?, len))
}

/// Parses a rule's PEER: a network (as [`parse_net`]) or a group `sg-...`.
pub fn parse_peer(text: &str) -> Result<Peer, String> {
    if text.starts_with(ID_PREFIX) {
        return parse_id(text).map(Peer::Group);
    }
    let (ip, len) = parse_net(text).map_err(|_| {
        format!(
            "'{text}' is not a peer: a network A.B.C.D/N, N 0 to 32 (a bare address \
             is /32), or a group {ID_PREFIX}..."
        )
    })?;
    Ok(Peer::Net(u32::from(ip), len))
}

/// The rule of these fields, checked by [`Rule::check`] (the controller's
/// own check); if it refuses, why, found by asking it again with each
/// field made harmless in turn.
pub fn build(dir: u8, proto: u8, ports: (u16, u16), peer: Peer) -> Result<Rule, String> {
    let (cidr, prefix_len, peer_group) = match peer {
        Peer::Net(net, len) => (net.to_be(), len, 0),
        Peer::Group(group) => (0, 0, group),
    };
    let raw = RawRule {
        dir,
        proto,
        prefix_len,
        port_min: ports.0,
        port_max: ports.1,
        cidr,
        peer_group,
        ..RawRule::default()
    };
    Rule::check(&raw).ok_or_else(|| why_invalid(&raw))
}

/// Why [`Rule::check`] refuses `raw`: each field it refuses, found by
/// asking it again with the others made harmless.
fn why_invalid(raw: &RawRule) -> String {
    let valid = |fixed: RawRule| Rule::check(&fixed).is_some();
    let anywhere = RawRule {
        cidr: 0,
        prefix_len: 0,
        peer_group: 0,
        ..*raw
    };
    let no_ports = RawRule {
        port_min: 0,
        port_max: 0,
        ..*raw
    };
    let harmless = RawRule {
        port_min: 0,
        port_max: 0,
        ..anywhere
    };
    if !valid(harmless) {
        return format!("not a rule the controller takes ({raw:?})");
    }
    let mut why = Vec::new();
    let (low, high) = (raw.port_min, raw.port_max);
    if !valid(anywhere) {
        let swapped = RawRule {
            port_min: high,
            port_max: low,
            ..anywhere
        };
        why.push(if low > high && valid(swapped) {
            format!("'{low}-{high}' is backwards: the lowest first ({high}-{low})")
        } else {
            let ports = if low == high {
                low.to_string()
            } else {
                format!("{low}-{high}")
            };
            bad_ports(raw.proto, &ports)
        });
    }
    if !valid(no_ports) {
        let ip = Ipv4Addr::from(u32::from_be(raw.cidr));
        let len = u32::from(raw.prefix_len);
        why.push(match 32u32.checked_sub(len) {
            Some(host_bits) => {
                let net = u32::from(ip) & u32::MAX.checked_shl(host_bits).unwrap_or(0);
                format!(
                    "{ip}/{len} is not a network: it has bits set past its prefix \
                     (the network is {}/{len}; or {ip}/32 for the one address)",
                    Ipv4Addr::from(net)
                )
            }
            None => format!("{ip}/{len}: a prefix length is at most 32"),
        });
    }
    if why.is_empty() {
        why.push(format!("not a rule the controller takes ({raw:?})"));
    }
    why.join("; ")
}

/// Parses a rule, `DIR PROTO PORTS PEER`.
pub fn parse_rule(text: &str) -> Result<Rule, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let [dir, proto, ports, peer] = words.as_slice() else {
        return Err(format!(
            "'{}' is not a rule: expected 'DIR PROTO PORTS PEER', {RULE_EXAMPLES}",
            text.trim()
        ));
    };
    let dir = parse_dir(dir)?;
    let proto = parse_proto(proto)?;
    let ports = parse_ports(proto, ports)?;
    let peer = parse_peer(peer)?;
    build(dir, proto, ports, peer)
}

/// The PORTS word of a rule: `-`, `22`, `8000-8080`, `all`.
fn ports_word(rule: &Rule) -> String {
    let (low, high) = rule.ports;
    if rule.proto == sg_rules::PROTO_ALL {
        "-".into()
    } else if (low, high) == all_ports(rule.proto) {
        "all".into()
    } else if low == high {
        low.to_string()
    } else {
        format!("{low}-{high}")
    }
}

/// The PEER word of a rule: `10.0.0.0/8`, `sg-...`.
fn peer_word(peer: Peer) -> String {
    match peer {
        Peer::Net(net, len) => format!("{}/{len}", Ipv4Addr::from(net)),
        Peer::Group(group) => format_id(group),
    }
}

/// A rule as text, `DIR PROTO PORTS PEER`, as [`parse_rule`] takes it
/// back.
pub fn format_rule(rule: &Rule) -> String {
    format!(
        "{} {} {} {}",
        if rule.ingress { INGRESS } else { EGRESS },
        proto_name(rule.proto),
        ports_word(rule),
        peer_word(rule.peer)
    )
}

/// Parses a file of rules (`name` says which, in errors): a rule per line,
/// blank lines and `#` comments skipped; the first bad line, a line that
/// repeats another, or more rules than a group holds, is the error.
pub fn parse_rules(name: &str, text: &str) -> Result<Vec<Rule>, String> {
    let mut rules: Vec<Rule> = Vec::new();
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.split('#').next().unwrap_or_default();
        if line.trim().is_empty() {
            continue;
        }
        let rule =
            parse_rule(line).map_err(|message| format!("{name} line {number}: {message}"))?;
        if let Some(first) = rules.iter().position(|known| *known == rule) {
            return Err(format!(
                "{name} line {number}: '{}' repeats line {}",
                format_rule(&rule),
                lines[first]
            ));
        }
        rules.push(rule);
        lines.push(number);
    }
    check_count(rules.len()).map_err(|message| format!("{name}: {message}"))?;
    Ok(rules)
}

/// Refuses more rules than a group holds (`NITRO_SG_RULES_MAX`).
fn check_count(count: usize) -> Result<(), String> {
    let max = abi::NITRO_SG_RULES_MAX as usize;
    if count > max {
        Err(format!(
            "{count} rules: a group holds at most {max} (both directions together)"
        ))
    } else {
        Ok(())
    }
}

/// `rules` with `rule` added: refused (`EEXIST`) if it is there already,
/// or if the group would hold too many.
pub fn with_rule(group: u64, rules: &[Rule], rule: Rule) -> Result<Vec<Rule>, Error> {
    if rules.contains(&rule) {
        return Err(Error::Refused {
            message: format!(
                "{} already has the rule '{}'",
                format_id(group),
                format_rule(&rule)
            ),
            errno: libc::EEXIST,
        });
    }
    check_count(rules.len() + 1).map_err(|message| Error::Refused {
        message: format!("{}: {message}", format_id(group)),
        errno: libc::ENOSPC,
    })?;
    let mut all = rules.to_vec();
    all.push(rule);
    Ok(all)
}

/// `rules` without `rule`: refused (`ENOENT`) if it is not there.
pub fn without_rule(group: u64, rules: &[Rule], rule: Rule) -> Result<Vec<Rule>, Error> {
    let Some(index) = rules.iter().position(|known| *known == rule) else {
        return Err(Error::Refused {
            message: format!(
                "{} has no rule '{}' (see `nitroctl sg show {}`)",
                format_id(group),
                format_rule(&rule),
                format_id(group)
            ),
            errno: libc::ENOENT,
        });
    };
    let mut rest = rules.to_vec();
    rest.remove(index);
    Ok(rest)
}

/// A group's ENI list argument of `eni groups`: `SG,SG,...` or `none`.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupList(pub Vec<u64>);

/// Parses the groups of `eni groups`: `none` (no group: not filtered), or
/// up to `NITRO_ENI_GROUPS_MAX` ids separated by commas, none twice.
pub fn parse_group_list(text: &str) -> Result<GroupList, String> {
    if text == "none" {
        return Ok(GroupList(Vec::new()));
    }
    let mut groups = Vec::new();
    for word in text.split(',') {
        let group = parse_id(word.trim())
            .map_err(|message| format!("{message} (give SG,SG,... or none for no groups)"))?;
        if groups.contains(&group) {
            return Err(format!("{} is given twice", format_id(group)));
        }
        groups.push(group);
    }
    let max = abi::NITRO_ENI_GROUPS_MAX as usize;
    if groups.len() > max {
        return Err(format!("{} groups: an ENI has at most {max}", groups.len()));
    }
    Ok(GroupList(groups))
}

/// Groups as `eni groups` takes them: `sg-...,sg-...`, or `none`.
pub fn format_group_list(groups: &[u64]) -> String {
    if groups.is_empty() {
        "none".into()
    } else {
        groups
            .iter()
            .map(|&group| format_id(group))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A group, as `sg list` reports it.
#[derive(Serialize, Debug, PartialEq)]
pub struct GroupInfo {
    /// sg-...
    pub id: String,
    /// its VPC
    pub vpc: u32,
    /// how many rules it has
    pub rules: u32,
    /// how many ENIs have it
    pub enis: u32,
}

impl GroupInfo {
    /// From the ABI.
    pub fn from_abi(info: &abi::nitro_sg_info) -> Self {
        GroupInfo {
            id: format_id(info.id),
            vpc: info.vpc,
            rules: info.rules,
            enis: info.enis,
        }
    }
}

/// Table of groups.
pub fn group_table(groups: &[GroupInfo]) -> String {
    let rows: Rows<4> = groups
        .iter()
        .map(|group| {
            [
                group.id.clone(),
                group.vpc.to_string(),
                group.rules.to_string(),
                group.enis.to_string(),
            ]
        })
        .collect();
    table(&["ID", "VPC", "RULES", "ENIS"], &rows)
}

/// A rule, as `sg show --json` reports it.
#[derive(Serialize, Debug, PartialEq)]
pub struct RuleReport {
    /// the rule as text, as `sg rules set` takes it
    pub text: String,
    /// ingress or egress
    pub direction: &'static str,
    /// tcp, udp, icmp or all
    pub protocol: String,
    /// lowest port (ICMP: type); 0 for all protocols
    pub port_min: u16,
    /// highest port (ICMP: type); 0 for all protocols
    pub port_max: u16,
    /// the peer network (none: a peer group)
    pub cidr: Option<String>,
    /// the peer group (none: a network)
    pub group: Option<String>,
}

impl RuleReport {
    /// From a checked rule.
    pub fn new(rule: &Rule) -> Self {
        RuleReport {
            text: format_rule(rule),
            direction: if rule.ingress { INGRESS } else { EGRESS },
            protocol: proto_name(rule.proto),
            port_min: rule.ports.0,
            port_max: rule.ports.1,
            cidr: match rule.peer {
                Peer::Net(..) => Some(peer_word(rule.peer)),
                Peer::Group(_) => None,
            },
            group: match rule.peer {
                Peer::Group(group) => Some(format_id(group)),
                Peer::Net(..) => None,
            },
        }
    }
}

/// A group and its rules, as the controller gives them.
#[derive(Debug, Default, PartialEq)]
pub struct Group {
    /// Its VPC.
    pub vpc: u32,
    /// How many ENIs have it.
    pub enis: u32,
    /// Its rules.
    pub rules: Vec<Rule>,
}

/// A group, as `sg show` reports it.
#[derive(Serialize, Debug, PartialEq)]
pub struct GroupReport {
    /// sg-...
    pub id: String,
    /// its VPC
    pub vpc: u32,
    /// how many ENIs have it
    pub enis: u32,
    /// its rules
    pub rules: Vec<RuleReport>,
}

impl GroupReport {
    /// Of group `id`.
    pub fn new(id: u64, group: &Group) -> Self {
        GroupReport {
            id: format_id(id),
            vpc: group.vpc,
            enis: group.enis,
            rules: group.rules.iter().map(RuleReport::new).collect(),
        }
    }

    /// Human form: the group as `#` comments, then its rules, a file `sg
    /// rules set` takes.
    pub fn human(&self) -> String {
        let mut out = String::new();
        for (key, value) in [
            ("id", serde_json::json!(self.id)),
            ("vpc", serde_json::json!(self.vpc)),
            ("enis", serde_json::json!(self.enis)),
        ] {
            out.push_str("# ");
            out.push_str(&output::key_value(key, &value));
        }
        if self.rules.is_empty() {
            out.push_str("# no rules: the group allows nothing\n");
        }
        for rule in &self.rules {
            out.push_str(&rule.text);
            out.push('\n');
        }
        out
    }
}

/// Reads all the rules of a group with `get` (given room for some rules,
/// gives the answer): asks again with more room while the group has more
/// than there was room for (they can be added meanwhile).
pub fn read_all<F>(mut get: F) -> Result<(abi::nitro_sg_rules, Vec<abi::nitro_sg_rule>), Error>
where
    F: FnMut(&mut [abi::nitro_sg_rule]) -> Result<abi::nitro_sg_rules, Error>,
{
    let mut room = abi::NITRO_SG_RULES_MAX as usize;
    loop {
        let mut rules = vec![abi::nitro_sg_rule::default(); room];
        let answer = get(&mut rules)?;
        let count = answer.count as usize;
        if count <= room {
            rules.truncate(count);
            return Ok((answer, rules));
        }
        room = count;
    }
}

/// The rules the controller gave for group `id`, checked.
fn checked(id: u64, rules: &[abi::nitro_sg_rule]) -> Result<Vec<Rule>, Error> {
    rules
        .iter()
        .enumerate()
        .map(|(index, &rule)| {
            Rule::check(&RawRule::from(rule)).ok_or_else(|| Error::Refused {
                message: format!(
                    "rule {} of {} as the controller gives it is not one nitroctl reads ({rule:?})",
                    index + 1,
                    format_id(id)
                ),
                errno: libc::EPROTO,
            })
        })
        .collect()
}

/// `NITRO_IOC_SG_RULES` (get) of group `id` (the error unexplained).
pub fn get_group(controller: &Controller, id: u64) -> Result<Group, Error> {
    let (answer, rules) = read_all(|room| {
        let mut get: abi::nitro_sg_rules = sized();
        get.flags = abi::NITRO_SG_RULES_GET;
        get.id = id;
        get.rules = room.as_mut_ptr() as u64;
        get.count = room.len() as u32;
        get.rule_size = std::mem::size_of::<abi::nitro_sg_rule>() as u32;
        controller.ioctl("NITRO_IOC_SG_RULES", abi::NITRO_IOC_SG_RULES, &mut get)?;
        Ok(get)
    })?;
    Ok(Group {
        vpc: answer.vpc,
        enis: answer.enis,
        rules: checked(id, &rules)?,
    })
}

/// `NITRO_IOC_SG_RULES` (set): group `id`'s rules become `rules` (the
/// error unexplained).
pub fn set_rules(controller: &Controller, id: u64, rules: &[Rule]) -> Result<(), Error> {
    let mut abi_rules: Vec<abi::nitro_sg_rule> =
        rules.iter().map(|rule| rule.raw().into()).collect();
    let mut set: abi::nitro_sg_rules = sized();
    set.id = id;
    set.rules = abi_rules.as_mut_ptr() as u64;
    set.count = abi_rules.len() as u32;
    set.rule_size = std::mem::size_of::<abi::nitro_sg_rule>() as u32;
    controller.ioctl("NITRO_IOC_SG_RULES", abi::NITRO_IOC_SG_RULES, &mut set)
}

/// `NITRO_IOC_SG_LIST`, to the end.
pub fn list_groups(controller: &Controller) -> Result<Vec<abi::nitro_sg_info>, Error> {
    controller.list_all("NITRO_IOC_SG_LIST", abi::NITRO_IOC_SG_LIST, 1024)
}

/// `NITRO_IOC_ENI_GROUPS` (get): ENI `eni`'s groups (the error
/// unexplained).
pub fn get_eni_groups(controller: &Controller, eni: u64) -> Result<Vec<u64>, Error> {
    let mut groups: abi::nitro_eni_groups = sized();
    groups.flags = abi::NITRO_ENI_GROUPS_GET;
    groups.id = eni;
    controller.ioctl(
        "NITRO_IOC_ENI_GROUPS",
        abi::NITRO_IOC_ENI_GROUPS,
        &mut groups,
    )?;
    let count = (groups.count as usize).min(groups.groups.len());
    Ok(groups.groups[..count].to_vec())
}

/// `NITRO_IOC_ENI_GROUPS` (set): ENI `eni`'s groups become `list`
/// (explained).
pub fn set_eni_groups(controller: &Controller, eni: u64, list: &[u64]) -> Result<(), Error> {
    let mut groups: abi::nitro_eni_groups = sized();
    groups.id = eni;
    groups.count = list.len() as u32;
    for (slot, &group) in groups.groups.iter_mut().zip(list) {
        *slot = group;
    }
    controller
        .ioctl(
            "NITRO_IOC_ENI_GROUPS",
            abi::NITRO_IOC_ENI_GROUPS,
            &mut groups,
        )
        .map_err(|error| {
            explain(
                controller,
                Operation::EniGroups { eni, groups: list },
                error,
            )
        })
}

/// Whether the controller has security groups (`NITRO_FEAT_SECURITY_GROUPS`).
pub fn has_security_groups(controller: &Controller) -> bool {
    controller
        .version()
        .is_ok_and(|version| version.features & abi::NITRO_FEAT_SECURITY_GROUPS as u64 != 0)
}

/// What a security group command was doing, to explain a refusal of it.
#[derive(Clone, Copy, Debug)]
pub enum Operation<'a> {
    /// `sg create`.
    Create {
        /// The VPC.
        vpc: u32,
    },
    /// `sg delete`.
    Delete(u64),
    /// `sg show` (and the read of `sg rule add`, `remove`).
    Show(u64),
    /// `sg list`.
    List,
    /// Setting a group's rules.
    SetRules {
        /// The group.
        id: u64,
        /// The rules.
        rules: &'a [Rule],
    },
    /// `eni groups ENI` (reading them).
    EniGroupsGet(u64),
    /// `eni groups ENI SG,...`.
    EniGroups {
        /// The ENI.
        eni: u64,
        /// Its groups.
        groups: &'a [u64],
    },
}

/// What the controller says besides a refusal, to explain it (each
/// `None` if it could not be asked, or was not).
#[derive(Debug, Default)]
pub struct Context {
    /// Its feature bits.
    pub features: Option<u64>,
    /// The groups there are.
    pub groups: Option<Vec<abi::nitro_sg_info>>,
    /// The VPC of the ENI concerned, if it exists.
    pub eni_vpc: Option<u32>,
}

/// Explains a refusal of `operation`, asking the controller what helps.
pub fn explain(controller: &Controller, operation: Operation<'_>, error: Error) -> Error {
    let Some(errno) = error.errno() else {
        return error;
    };
    let mut context = Context {
        features: controller.version().ok().map(|version| version.features),
        ..Context::default()
    };
    if matches!(errno, libc::ENOENT | libc::EINVAL | libc::EBUSY) {
        context.groups = list_groups(controller).ok();
    }
    if let Operation::EniGroups { eni, .. } | Operation::EniGroupsGet(eni) = operation {
        context.eni_vpc = eni::describe(controller, eni).ok().map(|info| info.vpc);
    }
    match refusal(operation, errno, &context) {
        Some(message) => Error::Refused { message, errno },
        None => match operation {
            Operation::EniGroups { eni, .. } | Operation::EniGroupsGet(eni) => {
                crate::objects::explain(
                    controller,
                    ObjectKind::Eni,
                    "set the groups of",
                    Some(eni),
                    error,
                )
            }
            _ => error,
        },
    }
}

/// Why the controller answered `errno` to `operation`, in the light of
/// `context`; `None` if there is nothing better to say than the errno.
pub fn refusal(operation: Operation<'_>, errno: i32, context: &Context) -> Option<String> {
    let feature = version::feature_name(abi::NITRO_FEAT_SECURITY_GROUPS);
    let has_feature = context
        .features
        .map(|features| features & abi::NITRO_FEAT_SECURITY_GROUPS as u64 != 0);
    let group_vpc = |id: u64| {
        context.groups.as_ref().map(|groups| {
            groups
                .iter()
                .find(|info| info.id == id)
                .map(|info| info.vpc)
        })
    };
    let no_group = |id: u64| {
        format!(
            "no security group {} on this host (see `nitroctl sg list`)",
            format_id(id)
        )
    };
    let peers = |rules: &[Rule]| -> Vec<u64> {
        let mut peers: Vec<u64> = rules
            .iter()
            .filter_map(|rule| match rule.peer {
                Peer::Group(group) => Some(group),
                Peer::Net(..) => None,
            })
            .collect();
        peers.sort_unstable();
        peers.dedup();
        peers
    };
    let names = |ids: &[u64]| {
        ids.iter()
            .map(|&id| format_id(id))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let peers_max = abi::NITRO_SG_PEERS_MAX;
    Some(match (errno, operation) {
        (libc::ENOTTY | libc::EOPNOTSUPP, _) if has_feature == Some(false) => format!(
            "the loaded nitro_ctrl has no security groups (no feature {feature} in \
             `nitroctl version`): it is older than nitroctl"
        ),
        (libc::EOPNOTSUPP, _) if has_feature == Some(true) => {
            "the VPC card (nitro_net) does not filter with security groups: \
             is it older than nitro_ctrl?"
                .into()
        }
        (libc::EACCES, _) => GATE_CLOSED.into(),
        (libc::ENOSPC, Operation::Create { .. }) => format!(
            "the host already holds its maximum of {} security groups",
            abi::NITRO_SGS_MAX
        ),
        (libc::EINVAL, Operation::Create { vpc }) => {
            format!(
                "the controller rejected VPC {vpc} (1 to {})",
                abi::NITRO_VPC_MAX
            )
        }
        (libc::ENOSPC, Operation::SetRules { id, .. }) => format!(
            "an ENI that has {} would name more than {peers_max} peer addresses once its \
             rules' peer groups are expanded (NITRO_SG_PEERS_MAX); nothing changed",
            format_id(id)
        ),
        (libc::ENOSPC, Operation::EniGroups { eni, .. }) => format!(
            "ENI {} would name more than {peers_max} peer addresses once its groups' \
             peer groups are expanded (NITRO_SG_PEERS_MAX); nothing changed",
            ObjectKind::Eni.format_id(eni)
        ),
        (libc::ENOENT, Operation::Delete(id) | Operation::Show(id)) => no_group(id),
        (libc::ENOENT, Operation::SetRules { id, rules }) => match group_vpc(id) {
            Some(None) => no_group(id),
            Some(Some(_)) => {
                let missing: Vec<u64> = peers(rules)
                    .into_iter()
                    .filter(|&peer| group_vpc(peer) == Some(None))
                    .collect();
                if missing.is_empty() {
                    return None;
                }
                format!(
                    "the rules name a peer group that does not exist: {} \
                     (see `nitroctl sg list`)",
                    names(&missing)
                )
            }
            None => format!(
                "no security group {}, or no peer group its rules name, on this host \
                 (see `nitroctl sg list`)",
                format_id(id)
            ),
        },
        (libc::EINVAL, Operation::SetRules { id, rules }) => {
            let Some(Some(vpc)) = group_vpc(id) else {
                return Some(format!(
                    "the controller rejected the rules of {}: a peer group of another VPC?",
                    format_id(id)
                ));
            };
            let others: Vec<String> = peers(rules)
                .into_iter()
                .filter_map(|peer| match group_vpc(peer) {
                    Some(Some(other)) if other != vpc => {
                        Some(format!("{} (VPC {other})", format_id(peer)))
                    }
                    _ => None,
                })
                .collect();
            if others.is_empty() {
                return None;
            }
            format!(
                "{} is in VPC {vpc}: its rules may only name groups of that VPC, not {}",
                format_id(id),
                others.join(", ")
            )
        }
        (libc::EBUSY, Operation::Delete(id)) => {
            let enis = context
                .groups
                .as_ref()
                .and_then(|groups| groups.iter().find(|info| info.id == id))
                .map(|info| info.enis);
            let has = match enis {
                Some(0) => {
                    "no ENI has it, so a rule of another group names it as its peer".to_string()
                }
                Some(1) => "1 ENI has it (`nitroctl eni groups`)".into(),
                Some(n) => format!("{n} ENIs have it (`nitroctl eni groups`)"),
                None => "an ENI has it, or a rule of another group names it".into(),
            };
            format!("{} is in use: {has}; take it off them first", format_id(id))
        }
        (libc::EBUSY, Operation::EniGroups { eni, .. }) => format!(
            "ENI {} is being attached, detached or deleted; try again",
            ObjectKind::Eni.format_id(eni)
        ),
        (libc::ENOENT, Operation::EniGroups { eni, groups }) => {
            let eni_name = ObjectKind::Eni.format_id(eni);
            context.eni_vpc?;
            let missing: Vec<u64> = groups
                .iter()
                .copied()
                .filter(|&group| group_vpc(group) == Some(None))
                .collect();
            if missing.is_empty() {
                return Some(format!(
                    "a group given to {eni_name} does not exist (see `nitroctl sg list`)"
                ));
            }
            format!(
                "no security group {} on this host (see `nitroctl sg list`)",
                names(&missing)
            )
        }
        (libc::EINVAL, Operation::EniGroups { eni, groups }) => {
            let eni_name = ObjectKind::Eni.format_id(eni);
            let vpc = context.eni_vpc?;
            let others: Vec<String> = groups
                .iter()
                .filter_map(|&group| match group_vpc(group) {
                    Some(Some(other)) if other != vpc => {
                        Some(format!("{} (VPC {other})", format_id(group)))
                    }
                    _ => None,
                })
                .collect();
            if others.is_empty() {
                format!(
                    "the controller rejected the groups of {eni_name}: they must be of its \
                     VPC ({vpc}), each given once, at most {}",
                    abi::NITRO_ENI_GROUPS_MAX
                )
            } else {
                format!(
                    "{eni_name} is in VPC {vpc}: its groups must be of that VPC, not {}",
                    others.join(", ")
                )
            }
        }
        _ => return None,
    })
}

/// What a change did to group `id`: `sg-... deleted`, or as JSON.
fn outcome(options: &GlobalOptions, id: u64, result: &str) -> String {
    let id = format_id(id);
    if options.json {
        output::json(&serde_json::json!({ "id": id, "result": result }))
    } else {
        format!("{id} {result}\n")
    }
}

/// Reads a file of rules (`-`: standard input) and parses it.
fn read_rules(file: &Path) -> Result<Vec<Rule>, Error> {
    let (name, text) = if file.as_os_str() == "-" {
        (
            "standard input".to_string(),
            std::io::read_to_string(std::io::stdin()),
        )
    } else {
        (file.display().to_string(), std::fs::read_to_string(file))
    };
    let text = text.map_err(|error| Error::Usage(format!("cannot read {name}: {error}")))?;
    parse_rules(&name, &text).map_err(Error::Usage)
}

/// "1 rule", "3 rules".
fn rules_count(count: usize) -> String {
    if count == 1 {
        "1 rule".into()
    } else {
        format!("{count} rules")
    }
}

/// `nitroctl sg ...`: every argument checked before the controller is
/// opened.
pub fn run(options: &GlobalOptions, command: &SgCommand) -> Result<String, Error> {
    match command {
        SgCommand::Create { vpc } => {
            let controller = options.open()?;
            let mut create: abi::nitro_sg_create = sized();
            create.vpc = *vpc;
            controller
                .ioctl("NITRO_IOC_SG_CREATE", abi::NITRO_IOC_SG_CREATE, &mut create)
                .map_err(|error| explain(&controller, Operation::Create { vpc: *vpc }, error))?;
            let id = format_id(create.id);
            Ok(if options.json {
                output::json(&serde_json::json!({ "id": id, "vpc": vpc }))
            } else {
                format!("{id}\n")
            })
        }
        SgCommand::Delete(SgArg { id }) => {
            let controller = options.open()?;
            let mut object: abi::nitro_object_ref = sized();
            object.id = *id;
            controller
                .ioctl("NITRO_IOC_SG_DELETE", abi::NITRO_IOC_SG_DELETE, &mut object)
                .map_err(|error| explain(&controller, Operation::Delete(*id), error))?;
            Ok(outcome(options, *id, "deleted"))
        }
        SgCommand::List => {
            let controller = options.open()?;
            let groups = list_groups(&controller)
                .map_err(|error| explain(&controller, Operation::List, error))?;
            let groups: Vec<_> = groups.iter().map(GroupInfo::from_abi).collect();
            Ok(options.render(&groups, |groups| group_table(groups)))
        }
        SgCommand::Show(SgArg { id }) => {
            let controller = options.open()?;
            let group = get_group(&controller, *id)
                .map_err(|error| explain(&controller, Operation::Show(*id), error))?;
            Ok(options.render(&GroupReport::new(*id, &group), GroupReport::human))
        }
        SgCommand::Rule(command) => {
            let (args, add) = match command {
                RuleCommand::Add(args) => (args, true),
                RuleCommand::Remove(args) => (args, false),
            };
            let rule = args.rule().map_err(Error::Usage)?;
            let id = args.id;
            let controller = options.open()?;
            let group = get_group(&controller, id)
                .map_err(|error| explain(&controller, Operation::Show(id), error))?;
            let rules = if add {
                with_rule(id, &group.rules, rule)?
            } else {
                without_rule(id, &group.rules, rule)?
            };
            set_rules(&controller, id, &rules).map_err(|error| {
                explain(
                    &controller,
                    Operation::SetRules { id, rules: &rules },
                    error,
                )
            })?;
            let done = if add { "added" } else { "removed" };
            Ok(outcome(
                options,
                id,
                &format!(
                    "rule {done}: {} ({} now)",
                    format_rule(&rule),
                    rules_count(rules.len())
                ),
            ))
        }
        SgCommand::Rules(RulesCommand::Set { id, file }) => {
            let rules = read_rules(file)?;
            let controller = options.open()?;
            set_rules(&controller, *id, &rules).map_err(|error| {
                explain(
                    &controller,
                    Operation::SetRules {
                        id: *id,
                        rules: &rules,
                    },
                    error,
                )
            })?;
            Ok(outcome(
                options,
                *id,
                &format!("rules set: {}", rules_count(rules.len())),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{eni::EniCommand, parse, refused, Command};

    const SG: &str = "sg-00000000000000001";
    const SG2: &str = "sg-0000000000000abcd";

    fn rule(text: &str) -> Rule {
        parse_rule(text).unwrap_or_else(|error| panic!("{text:?}: {error}"))
    }

    fn refusal_of(text: &str) -> String {
        parse_rule(text).expect_err(text)
    }

    #[test]
    fn ids_take_the_forms_of_eni_ids() {
        assert_eq!(format_id(1), SG);
        assert_eq!(format_id(u64::MAX), "sg-0ffffffffffffffff");
        assert_eq!(parse_id(SG), Ok(1));
        assert_eq!(parse_id("sg-0FFFFFFFFFFFFFFFF"), Ok(u64::MAX));
        assert_eq!(
            parse_id(&format_id(0x0123_4567_89ab_cdef)),
            Ok(0x0123_4567_89ab_cdef)
        );
        for bad in [
            "sg-1",
            "sg-00000000000000000",
            "sg-10000000000000000",
            "sg-000000000000000001",
            "eni-00000000000000001",
            "SG-00000000000000001",
            "00000000000000001",
            "",
        ] {
            assert!(
                parse_id(bad)
                    .unwrap_err()
                    .contains("is not a security group id"),
                "{bad:?}"
            );
        }
        // The same rule as the ENIs'.
        let eni = ObjectKind::Eni.format_id(77);
        assert_eq!(ObjectKind::Eni.parse_id(&eni).unwrap(), 77);
        assert_eq!(parse_id(&eni.replace("eni-", ID_PREFIX)), Ok(77));
    }

    #[test]
    fn rules_round_trip() {
        for text in [
            "ingress tcp 22 10.0.0.0/8",
            "ingress tcp 8000-8080 0.0.0.0/0",
            "ingress udp 53 sg-0123456789abcdef0",
            "ingress icmp 8 10.1.0.1/32",
            "ingress icmp 0-8 192.168.0.0/16",
            "ingress icmp all 0.0.0.0/0",
            "egress all - 0.0.0.0/0",
            "egress tcp all 172.16.0.0/12",
            "egress udp 0 10.0.0.0/8",
            "egress udp 65535 10.0.0.0/8",
            "ingress all - sg-00000000000000001",
        ] {
            let parsed = rule(text);
            assert_eq!(format_rule(&parsed), text);
            // Through the ABI and back.
            let raw = RawRule::from(abi::nitro_sg_rule::from(parsed.raw()));
            assert_eq!(Rule::check(&raw), Some(parsed), "{text}");
            assert_eq!(rule(&format_rule(&parsed)), parsed, "{text}");
        }
        // Other ways of saying the same: formatted one way.
        for (text, canonical) in [
            ("ingress tcp 22 10.0.0.5", "ingress tcp 22 10.0.0.5/32"),
            (
                "ingress tcp 22-22 10.0.0.5/32",
                "ingress tcp 22 10.0.0.5/32",
            ),
            ("ingress tcp 0-65535 0.0.0.0/0", "ingress tcp all 0.0.0.0/0"),
            ("ingress icmp 0-255 0.0.0.0/0", "ingress icmp all 0.0.0.0/0"),
            ("ingress icmp 255 0.0.0.0/0", "ingress icmp 255 0.0.0.0/0"),
            ("  egress\tall  -   0.0.0.0/0 ", "egress all - 0.0.0.0/0"),
            (
                "ingress udp 53 sg-0000000000000ABCD",
                "ingress udp 53 sg-0000000000000abcd",
            ),
        ] {
            assert_eq!(format_rule(&rule(text)), canonical, "{text}");
        }
        assert_eq!(format_rule(&Rule::EGRESS_ALL), "egress all - 0.0.0.0/0");
        assert_eq!(rule("egress all - 0.0.0.0/0"), Rule::EGRESS_ALL);
    }

    #[test]
    fn rules_in_the_abi() {
        let ssh = rule("ingress tcp 22 10.0.0.0/8").raw();
        assert_eq!(
            RawRule::from(abi::nitro_sg_rule::from(ssh)),
            RawRule {
                dir: abi::NITRO_SG_INGRESS as u8,
                proto: 6,
                prefix_len: 8,
                port_min: 22,
                port_max: 22,
                cidr: u32::from_ne_bytes([10, 0, 0, 0]),
                ..Default::default()
            }
        );
        let dns = rule("egress udp 53-54 sg-0000000000000abcd").raw();
        assert_eq!(
            (dns.dir, dns.proto, dns.port_min, dns.port_max),
            (abi::NITRO_SG_EGRESS as u8, 17, 53, 54)
        );
        assert_eq!((dns.cidr, dns.prefix_len, dns.peer_group), (0, 0, 0xabcd));
        let echo = rule("ingress icmp all 10.1.0.1").raw();
        assert_eq!((echo.proto, echo.port_min, echo.port_max), (1, 0, 255));
        assert_eq!(echo.prefix_len, 32);
        let all = rule("egress all - 0.0.0.0/0").raw();
        assert_eq!(all, Rule::EGRESS_ALL.raw());
    }

    #[test]
    fn bad_rules_are_explained() {
        for (text, says) in [
            ("", "is not a rule: expected 'DIR PROTO PORTS PEER'"),
            (
                "ingress tcp 22",
                "is not a rule: expected 'DIR PROTO PORTS PEER'",
            ),
            (
                "ingress tcp 22 10.0.0.0/8 extra",
                "'ingress tcp 22 10.0.0.0/8 extra' is not a rule",
            ),
            ("--ingress tcp 22 10.0.0.0/8", "is not a direction"),
            (
                "inbound tcp 22 10.0.0.0/8",
                "'inbound' is not a direction: ingress",
            ),
            ("Ingress tcp 22 10.0.0.0/8", "is not a direction"),
            (
                "ingress sctp 22 10.0.0.0/8",
                "'sctp' is not a protocol: tcp, udp, icmp or all",
            ),
            ("ingress 6 22 10.0.0.0/8", "is not a protocol"),
            (
                "ingress tcp - 10.0.0.0/8",
                "tcp takes a port, a range of ports P-Q, or all",
            ),
            ("ingress icmp - 10.0.0.0/8", "icmp takes an ICMP type"),
            (
                "ingress tcp 65536 10.0.0.0/8",
                "'65536' is not what tcp takes",
            ),
            (
                "ingress udp 1-65536 10.0.0.0/8",
                "'1-65536' is not what udp takes",
            ),
            ("ingress tcp 22- 10.0.0.0/8", "'22-' is not what tcp takes"),
            ("ingress tcp -22 10.0.0.0/8", "'-22' is not what tcp takes"),
            (
                "ingress tcp 1-2-3 10.0.0.0/8",
                "'1-2-3' is not what tcp takes",
            ),
            ("ingress tcp +22 10.0.0.0/8", "'+22' is not what tcp takes"),
            (
                "ingress tcp 0x16 10.0.0.0/8",
                "'0x16' is not what tcp takes",
            ),
            ("ingress tcp ssh 10.0.0.0/8", "'ssh' is not what tcp takes"),
            (
                "ingress tcp 8080-8000 10.0.0.0/8",
                "'8080-8000' is backwards: the lowest first (8000-8080)",
            ),
            ("ingress icmp 5-3 10.0.0.0/8", "'5-3' is backwards"),
            (
                "ingress icmp 256 10.0.0.0/8",
                "'256' is not what icmp takes: an ICMP type, a range of types T-U, or all (0-255)",
            ),
            (
                "ingress icmp 8-300 10.0.0.0/8",
                "'8-300' is not what icmp takes",
            ),
            (
                "egress all 0 0.0.0.0/0",
                "'0': all protocols have no ports: give '-'",
            ),
            ("egress all 1-2 0.0.0.0/0", "all protocols have no ports"),
            ("egress all all 0.0.0.0/0", "all protocols have no ports"),
            (
                "ingress tcp 22 10.0.0.1/8",
                "10.0.0.1/8 is not a network: it has bits set past its prefix \
                 (the network is 10.0.0.0/8; or 10.0.0.1/32 for the one address)",
            ),
            ("ingress tcp 22 0.0.0.1/0", "the network is 0.0.0.0/0"),
            (
                "ingress tcp 22 10.0.0.0/33",
                "'10.0.0.0/33' is not a peer: a network A.B.C.D/N, N 0 to 32",
            ),
            ("ingress tcp 22 10.0.0.0/", "is not a peer"),
            ("ingress tcp 22 10.0.0.0/-1", "is not a peer"),
            ("ingress tcp 22 10.0.0.0/8/8", "is not a peer"),
            ("ingress tcp 22 10.0.0/8", "is not a peer"),
            ("ingress tcp 22 10.0.0.256", "is not a peer"),
            ("ingress tcp 22 anywhere", "'anywhere' is not a peer"),
            ("ingress tcp 22 ::/0", "is not a peer"),
            ("ingress tcp 22 sg-1", "'sg-1' is not a security group id"),
            (
                "ingress tcp 22 sg-00000000000000000",
                "is not a security group id",
            ),
        ] {
            let error = refusal_of(text);
            assert!(error.contains(says), "{text:?}: {error}");
        }
        // Two things wrong: both said.
        let error = refusal_of("ingress icmp 300 10.0.0.1/8");
        assert!(
            error.contains("'300' is not what icmp takes") && error.contains("bits set past"),
            "{error}"
        );
        // Every refusal is the shared check's, not a second copy of it:
        // what it refuses through build() is what Rule::check refuses.
        for (proto, ports, peer) in [
            (sg_rules::PROTO_ICMP, (0, 256), Peer::Net(0, 0)),
            (sg_rules::PROTO_TCP, (2, 1), Peer::Net(0, 0)),
            (sg_rules::PROTO_ALL, (0, 1), Peer::Net(0, 0)),
            (sg_rules::PROTO_UDP, (1, 1), Peer::Net(1, 31)),
            (sg_rules::PROTO_UDP, (1, 1), Peer::Net(0, 33)),
            (99, (0, 0), Peer::Net(0, 0)),
        ] {
            assert!(
                build(0, proto, ports, peer).is_err(),
                "{proto} {ports:?} {peer:?}"
            );
        }
        assert!(build(0, sg_rules::PROTO_UDP, (1, 1), Peer::Net(0, 33))
            .unwrap_err()
            .contains("a prefix length is at most 32"));
        assert!(build(2, sg_rules::PROTO_UDP, (1, 1), Peer::Net(0, 0))
            .unwrap_err()
            .contains("not a rule the controller takes"));
    }

    #[test]
    fn rule_files() {
        let text = "# web servers\n\
                    ingress tcp 80 0.0.0.0/0\n\
                    \n\
                    ingress tcp 443 0.0.0.0/0   # TLS\n\
                    \tingress icmp 8 10.0.0.0/8\n\
                    egress all - 0.0.0.0/0\n";
        let rules = parse_rules("web.rules", text).unwrap();
        assert_eq!(
            rules.iter().map(format_rule).collect::<Vec<_>>(),
            [
                "ingress tcp 80 0.0.0.0/0",
                "ingress tcp 443 0.0.0.0/0",
                "ingress icmp 8 10.0.0.0/8",
                "egress all - 0.0.0.0/0",
            ]
        );
        // Empty: no rules (the group then allows nothing).
        assert_eq!(parse_rules("-", ""), Ok(vec![]));
        assert_eq!(parse_rules("-", "# nothing\n\n   \n"), Ok(vec![]));
        // The first bad line, with its number.
        assert_eq!(
            parse_rules(
                "web.rules",
                "ingress tcp 80 0.0.0.0/0\n# x\ningress tcp 80-8 0.0.0.0/0\nbad"
            )
            .unwrap_err(),
            "web.rules line 3: '80-8' is backwards: the lowest first (8-80)"
        );
        // A line that says again what another said, in any form.
        assert_eq!(
            parse_rules(
                "web.rules",
                "ingress tcp 22 10.0.0.5/32\negress all - 0.0.0.0/0\ningress tcp 22-22 10.0.0.5\n"
            )
            .unwrap_err(),
            "web.rules line 3: 'ingress tcp 22 10.0.0.5/32' repeats line 1"
        );
        // Not duplicates: direction, protocol, ports or peer differ.
        let distinct = "ingress tcp 22 10.0.0.5\negress tcp 22 10.0.0.5\n\
                        ingress udp 22 10.0.0.5\ningress tcp 23 10.0.0.5\n\
                        ingress tcp 22 10.0.0.4\ningress tcp 22 10.0.0.4/31\n\
                        ingress tcp 22 sg-00000000000000001\n";
        assert_eq!(parse_rules("f", distinct).unwrap().len(), 7);
        // At most NITRO_SG_RULES_MAX.
        let max = abi::NITRO_SG_RULES_MAX as usize;
        let many = |count: usize| -> String {
            (1..=count).fold(String::new(), |mut text, port| {
                text.push_str(&format!("ingress tcp {port} 0.0.0.0/0\n"));
                text
            })
        };
        assert_eq!(parse_rules("f", &many(max)).unwrap().len(), max);
        assert_eq!(
            parse_rules("f", &many(max + 1)).unwrap_err(),
            "f: 121 rules: a group holds at most 120 (both directions together)"
        );
        // What `sg show` prints is a file of the same rules.
        let group = Group {
            vpc: 42,
            enis: 2,
            rules: rules.clone(),
        };
        let shown = GroupReport::new(1, &group).human();
        assert_eq!(parse_rules("show", &shown).unwrap(), rules);
    }

    #[test]
    fn adding_and_removing_rules() {
        let ssh = rule("ingress tcp 22 10.0.0.0/8");
        let web = rule("ingress tcp 80 0.0.0.0/0");
        let rules = vec![Rule::EGRESS_ALL, ssh];
        assert_eq!(
            with_rule(1, &rules, web).unwrap(),
            [Rule::EGRESS_ALL, ssh, web]
        );
        let error = with_rule(1, &rules, rule("ingress tcp 22-22 10.0.0.0/8")).unwrap_err();
        assert_eq!(error.errno(), Some(libc::EEXIST));
        assert_eq!(error.exit_code(), 1);
        assert!(
            error.to_string().starts_with(
                "sg-00000000000000001 already has the rule 'ingress tcp 22 10.0.0.0/8': "
            ),
            "{error}"
        );
        let full: Vec<Rule> = (1..=abi::NITRO_SG_RULES_MAX as u16)
            .map(|port| build(0, sg_rules::PROTO_TCP, (port, port), Peer::Net(0, 0)).unwrap())
            .collect();
        let error = with_rule(1, &full, web.for_member(1)).unwrap_err();
        assert!(
            error.to_string().contains("a group holds at most 120"),
            "{error}"
        );
        assert_eq!(without_rule(1, &rules, Rule::EGRESS_ALL).unwrap(), [ssh]);
        assert_eq!(without_rule(1, &rules, ssh).unwrap(), [Rule::EGRESS_ALL]);
        let error = without_rule(1, &rules, web).unwrap_err();
        assert_eq!(error.errno(), Some(libc::ENOENT));
        assert!(
            error.to_string().starts_with(
                "sg-00000000000000001 has no rule 'ingress tcp 80 0.0.0.0/0' \
                 (see `nitroctl sg show sg-00000000000000001`)"
            ),
            "{error}"
        );
    }

    /// The rule `sg rule add ARGS` gives.
    fn rule_of(args: &[&str]) -> Result<Rule, String> {
        let mut all = vec!["sg", "rule", "add", SG];
        all.extend_from_slice(args);
        match parse(&all).command {
            Command::Sg(SgCommand::Rule(RuleCommand::Add(args))) => {
                assert_eq!(args.id, 1);
                args.rule()
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rule_options() {
        for (args, text) in [
            (
                &[
                    "--ingress",
                    "--proto",
                    "tcp",
                    "--port",
                    "22",
                    "--cidr",
                    "10.0.0.0/8",
                ][..],
                "ingress tcp 22 10.0.0.0/8",
            ),
            (
                &[
                    "--proto",
                    "tcp",
                    "--port",
                    "8000-8080",
                    "--ingress",
                    "--cidr",
                    "0.0.0.0/0",
                ],
                "ingress tcp 8000-8080 0.0.0.0/0",
            ),
            (
                &[
                    "--ingress",
                    "--proto",
                    "udp",
                    "--port",
                    "53",
                    "--group",
                    SG2,
                ],
                "ingress udp 53 sg-0000000000000abcd",
            ),
            (
                &[
                    "--ingress",
                    "--proto",
                    "icmp",
                    "--port",
                    "8",
                    "--cidr",
                    "10.1.0.1",
                ],
                "ingress icmp 8 10.1.0.1/32",
            ),
            (
                &[
                    "--ingress",
                    "--proto",
                    "icmp",
                    "--port",
                    "all",
                    "--cidr",
                    "10.1.0.1",
                ],
                "ingress icmp all 10.1.0.1/32",
            ),
            (
                &["--egress", "--proto", "all", "--cidr", "0.0.0.0/0"],
                "egress all - 0.0.0.0/0",
            ),
            (
                &[
                    "--egress",
                    "--proto",
                    "all",
                    "--port",
                    "-",
                    "--cidr",
                    "0.0.0.0/0",
                ],
                "egress all - 0.0.0.0/0",
            ),
        ] {
            assert_eq!(
                rule_of(args).map(|rule| format_rule(&rule)),
                Ok(text.into()),
                "{args:?}"
            );
        }
        for (args, says) in [
            (
                &["--ingress", "--proto", "tcp", "--cidr", "10.0.0.0/8"][..],
                "--proto tcp needs --port: a port, a range of ports P-Q, or all",
            ),
            (
                &[
                    "--egress",
                    "--proto",
                    "all",
                    "--port",
                    "22",
                    "--cidr",
                    "0.0.0.0/0",
                ],
                "all protocols have no ports",
            ),
            (
                &[
                    "--ingress",
                    "--proto",
                    "tcp",
                    "--port",
                    "9-1",
                    "--cidr",
                    "10.0.0.0/8",
                ],
                "is backwards",
            ),
            (
                &[
                    "--ingress",
                    "--proto",
                    "icmp",
                    "--port",
                    "300",
                    "--cidr",
                    "10.0.0.0/8",
                ],
                "is not what icmp takes",
            ),
            (
                &[
                    "--ingress",
                    "--proto",
                    "tcp",
                    "--port",
                    "22",
                    "--cidr",
                    "10.0.0.1/8",
                ],
                "bits set past its prefix",
            ),
        ] {
            let error = rule_of(args).unwrap_err();
            assert!(error.contains(says), "{args:?}: {error}");
        }
        // What clap refuses (exit 2) before nitroctl looks further.
        let add = |args: &[&'static str]| {
            let mut all = vec!["sg", "rule", "add", SG];
            all.extend_from_slice(args);
            refused(&all)
        };
        add(&["--proto", "tcp", "--port", "22", "--cidr", "10.0.0.0/8"]);
        add(&[
            "--ingress",
            "--egress",
            "--proto",
            "tcp",
            "--port",
            "22",
            "--cidr",
            "10.0.0.0/8",
        ]);
        add(&["--ingress", "--proto", "tcp", "--port", "22"]);
        add(&[
            "--ingress",
            "--proto",
            "tcp",
            "--port",
            "22",
            "--cidr",
            "10.0.0.0/8",
            "--group",
            SG,
        ]);
        add(&["--ingress", "--port", "22", "--cidr", "10.0.0.0/8"]);
        assert!(add(&[
            "--ingress",
            "--proto",
            "sctp",
            "--port",
            "1",
            "--cidr",
            "10.0.0.0/8"
        ])
        .contains("is not a protocol"));
        assert!(add(&[
            "--ingress",
            "--proto",
            "tcp",
            "--port",
            "1",
            "--cidr",
            "10.0.0.0/40"
        ])
        .contains("is not a network"));
        assert!(
            add(&["--ingress", "--proto", "tcp", "--port", "1", "--cidr", SG])
                .contains("is not a network")
        );
        assert!(add(&[
            "--ingress",
            "--proto",
            "tcp",
            "--port",
            "1",
            "--group",
            "10.0.0.0/8"
        ])
        .contains("is not a security group id"));
        assert!(refused(&[
            "sg",
            "rule",
            "add",
            "sg-1",
            "--ingress",
            "--proto",
            "all",
            "--cidr",
            "0.0.0.0/0"
        ])
        .contains("is not a security group id"));
        // Remove takes the same.
        assert!(matches!(
            parse(&[
                "sg",
                "rule",
                "remove",
                SG,
                "--egress",
                "--proto",
                "all",
                "--cidr",
                "0.0.0.0/0"
            ])
            .command,
            Command::Sg(SgCommand::Rule(RuleCommand::Remove(RuleArgs { id: 1, .. })))
        ));
    }

    #[test]
    fn parses_sg_commands() {
        assert_eq!(
            parse(&["sg", "create", "--vpc", "42"]).command,
            Command::Sg(SgCommand::Create { vpc: 42 })
        );
        assert!(refused(&["sg", "create", "--vpc", "0"]).contains("is not a VPC id"));
        assert!(refused(&["sg", "create", "--vpc", "16777216"]).contains("is not a VPC id"));
        refused(&["sg", "create"]);
        assert_eq!(
            parse(&["sg", "delete", SG2]).command,
            Command::Sg(SgCommand::Delete(SgArg { id: 0xabcd }))
        );
        assert!(refused(&["sg", "delete", "eni-00000000000000001"]).contains("security group id"));
        let cli = parse(&["sg", "list", "--json"]);
        assert_eq!(cli.command, Command::Sg(SgCommand::List));
        assert!(cli.options.json);
        let cli = parse(&["sg", "show", SG, "--json"]);
        assert_eq!(cli.command, Command::Sg(SgCommand::Show(SgArg { id: 1 })));
        assert!(cli.options.json);
        assert!(matches!(
            parse(&["sg", "describe", SG]).command,
            Command::Sg(SgCommand::Show(_))
        ));
        assert_eq!(
            parse(&["sg", "rules", "set", SG, "-"]).command,
            Command::Sg(SgCommand::Rules(RulesCommand::Set {
                id: 1,
                file: PathBuf::from("-")
            }))
        );
        refused(&["sg", "rules", "set", SG]);
        refused(&["sg", "rules", "set", "sg-x", "f"]);
    }

    #[test]
    fn eni_group_lists() {
        assert_eq!(parse_group_list("none"), Ok(GroupList(vec![])));
        assert_eq!(parse_group_list(SG), Ok(GroupList(vec![1])));
        assert_eq!(
            parse_group_list(&format!("{SG},{SG2}")),
            Ok(GroupList(vec![1, 0xabcd]))
        );
        assert_eq!(format_group_list(&[1, 0xabcd]), format!("{SG},{SG2}"));
        assert_eq!(format_group_list(&[]), "none");
        // What is printed is taken back.
        for groups in [vec![], vec![1], vec![1, 2, 3, 4, 5]] {
            assert_eq!(
                parse_group_list(&format_group_list(&groups)),
                Ok(GroupList(groups))
            );
        }
        let five: Vec<String> = (1..=6).map(format_id).collect();
        assert_eq!(
            parse_group_list(&five.join(",")).unwrap_err(),
            "6 groups: an ENI has at most 5"
        );
        assert_eq!(
            parse_group_list(&format!("{SG},{SG2},{SG}")).unwrap_err(),
            format!("{SG} is given twice")
        );
        for bad in [
            "",
            ",",
            &format!("{SG},"),
            "sg-1",
            "None",
            "eni-00000000000000001",
        ] {
            assert!(
                parse_group_list(bad)
                    .unwrap_err()
                    .contains("or none for no groups"),
                "{bad:?}"
            );
        }
        let eni = "eni-00000000000000009";
        assert_eq!(
            parse(&["eni", "groups", eni]).command,
            Command::Eni(EniCommand::Groups {
                id: eni.into(),
                groups: None
            })
        );
        assert_eq!(
            parse(&["eni", "groups", eni, "none"]).command,
            Command::Eni(EniCommand::Groups {
                id: eni.into(),
                groups: Some(GroupList(vec![]))
            })
        );
        assert_eq!(
            parse(&["eni", "groups", eni, &format!("{SG2},{SG}")]).command,
            Command::Eni(EniCommand::Groups {
                id: eni.into(),
                groups: Some(GroupList(vec![0xabcd, 1]))
            })
        );
        assert!(refused(&["eni", "groups", eni, "sg-1"]).contains("is not a security group id"));
        refused(&["eni", "groups", eni, SG, SG2]);
    }

    #[test]
    fn reading_rules_asks_again_with_more_room() {
        let have: Vec<abi::nitro_sg_rule> = (0..130u16)
            .map(|port| rule(&format!("ingress tcp {port} 0.0.0.0/0")).raw().into())
            .collect();
        let mut rooms = Vec::new();
        let (answer, rules) = read_all(|room| {
            rooms.push(room.len());
            for (slot, rule) in room.iter_mut().zip(&have) {
                *slot = *rule;
            }
            Ok(abi::nitro_sg_rules {
                count: have.len() as u32,
                vpc: 42,
                ..Default::default()
            })
        })
        .unwrap();
        assert_eq!(rooms, [120, 130]);
        assert_eq!(answer.vpc, 42);
        let raw = |rules: &[abi::nitro_sg_rule]| -> Vec<RawRule> {
            rules.iter().map(|&rule| RawRule::from(rule)).collect()
        };
        assert_eq!(raw(&rules), raw(&have));
        // Fewer than the room: cut to the count, asked once.
        let mut calls = 0;
        let (_, rules) = read_all(|room| {
            calls += 1;
            room[0] = Rule::EGRESS_ALL.raw().into();
            Ok(abi::nitro_sg_rules {
                count: 1,
                ..Default::default()
            })
        })
        .unwrap();
        assert_eq!((calls, rules.len()), (1, 1));
        // What the controller gives is checked too.
        let bad = abi::nitro_sg_rule {
            proto: 99,
            ..Default::default()
        };
        let error = checked(1, &[Rule::EGRESS_ALL.raw().into(), bad]).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("rule 2 of sg-00000000000000001"),
            "{error}"
        );
    }

    #[test]
    fn group_reports() {
        let group = Group {
            vpc: 42,
            enis: 3,
            rules: vec![
                rule("ingress tcp 22 10.0.0.0/8"),
                rule("ingress udp 53 sg-0000000000000abcd"),
            ],
        };
        let report = GroupReport::new(1, &group);
        assert_eq!(
            report.human(),
            "# id          sg-00000000000000001\n\
             # vpc         42\n\
             # enis        3\n\
             ingress tcp 22 10.0.0.0/8\n\
             ingress udp 53 sg-0000000000000abcd\n"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["id"], SG);
        assert_eq!(json["vpc"], 42);
        assert_eq!(json["enis"], 3);
        assert_eq!(
            json["rules"][0],
            serde_json::json!({
                "text": "ingress tcp 22 10.0.0.0/8",
                "direction": "ingress",
                "protocol": "tcp",
                "port_min": 22,
                "port_max": 22,
                "cidr": "10.0.0.0/8",
                "group": null,
            })
        );
        assert_eq!(json["rules"][1]["group"], SG2);
        assert_eq!(json["rules"][1]["cidr"], serde_json::Value::Null);
        let empty = GroupReport::new(1, &Group::default()).human();
        assert!(
            empty.ends_with("# no rules: the group allows nothing\n"),
            "{empty}"
        );
        assert_eq!(parse_rules("-", &empty), Ok(vec![]));
        let groups = [
            GroupInfo::from_abi(&abi::nitro_sg_info {
                id: 1,
                vpc: 42,
                rules: 1,
                enis: 0,
                ..Default::default()
            }),
            GroupInfo::from_abi(&abi::nitro_sg_info {
                id: 0xabcd,
                vpc: 7,
                rules: 12,
                enis: 3,
                ..Default::default()
            }),
        ];
        assert_eq!(
            group_table(&groups),
            "ID                    VPC  RULES  ENIS\n\
             sg-00000000000000001  42   1      0\n\
             sg-0000000000000abcd  7    12     3\n"
        );
        assert_eq!(
            serde_json::to_value(&groups[1]).unwrap(),
            serde_json::json!({"id": SG2, "vpc": 7, "rules": 12, "enis": 3})
        );
    }

    #[test]
    fn refusals_are_explained() {
        let info = |id: u64, vpc: u32, enis: u32| abi::nitro_sg_info {
            id,
            vpc,
            enis,
            ..Default::default()
        };
        let context = Context {
            features: Some(abi::NITRO_FEAT_SECURITY_GROUPS as u64),
            groups: Some(vec![info(1, 42, 0), info(2, 7, 0), info(3, 42, 2)]),
            eni_vpc: Some(42),
        };
        let peer_of = |group: u64| rule(&format!("ingress all - {}", format_id(group)));
        let to_missing = [peer_of(9), peer_of(3)];
        let to_other = [peer_of(2), peer_of(3)];
        for (operation, errno, says) in [
            (Operation::Create { vpc: 42 }, libc::ENOSPC, "maximum of 1024 security groups"),
            (Operation::Create { vpc: 42 }, libc::EACCES, "boot gate is closed"),
            (Operation::Delete(5), libc::ENOENT, "no security group sg-00000000000000005 on this host"),
            (Operation::Show(5), libc::ENOENT, "(see `nitroctl sg list`)"),
            (
                Operation::Delete(1),
                libc::EBUSY,
                "sg-00000000000000001 is in use: no ENI has it, so a rule of another group names it",
            ),
            (Operation::Delete(3), libc::EBUSY, "in use: 2 ENIs have it"),
            (
                Operation::SetRules { id: 1, rules: &to_missing },
                libc::ENOENT,
                "the rules name a peer group that does not exist: sg-00000000000000009",
            ),
            (
                Operation::SetRules { id: 5, rules: &to_missing },
                libc::ENOENT,
                "no security group sg-00000000000000005 on this host",
            ),
            (
                Operation::SetRules { id: 1, rules: &to_other },
                libc::EINVAL,
                "sg-00000000000000001 is in VPC 42: its rules may only name groups of that VPC, \
                 not sg-00000000000000002 (VPC 7)",
            ),
            (
                Operation::SetRules { id: 1, rules: &to_other },
                libc::ENOSPC,
                "would name more than 1024 peer addresses",
            ),
            (
                Operation::EniGroups { eni: 4, groups: &[1, 2] },
                libc::EINVAL,
                "eni-00000000000000004 is in VPC 42: its groups must be of that VPC, \
                 not sg-00000000000000002 (VPC 7)",
            ),
            (
                Operation::EniGroups { eni: 4, groups: &[1, 8] },
                libc::ENOENT,
                "no security group sg-00000000000000008 on this host",
            ),
            (
                Operation::EniGroups { eni: 4, groups: &[1] },
                libc::EBUSY,
                "ENI eni-00000000000000004 is being attached, detached or deleted; try again",
            ),
            (Operation::EniGroups { eni: 4, groups: &[1] }, libc::ENOSPC, "NITRO_SG_PEERS_MAX"),
            (Operation::List, libc::EOPNOTSUPP, "the VPC card (nitro_net) does not filter"),
        ] {
            let message = refusal(operation, errno, &context)
                .unwrap_or_else(|| panic!("{operation:?} {errno}: nothing said"));
            assert!(message.contains(says), "{operation:?} {errno}: {message}");
        }
        // An older controller: named by the feature.
        let old = Context {
            features: Some(abi::NITRO_FEAT_MAP_TABLES as u64),
            ..Context::default()
        };
        for errno in [libc::ENOTTY, libc::EOPNOTSUPP] {
            assert!(refusal(Operation::List, errno, &old)
                .unwrap()
                .contains("no feature security-groups in `nitroctl version`"));
        }
        // Nothing better to say: the errno and its generic hint.
        assert_eq!(refusal(Operation::List, libc::ENOTTY, &context), None);
        assert_eq!(refusal(Operation::Show(1), libc::EPERM, &context), None);
        // The ENI itself missing: said as for any ENI command.
        let no_eni = Context {
            eni_vpc: None,
            ..context
        };
        assert_eq!(
            refusal(
                Operation::EniGroups {
                    eni: 4,
                    groups: &[1]
                },
                libc::ENOENT,
                &no_eni
            ),
            None
        );
        // /dev/null answers ENOTTY to everything: nothing more is known.
        let controller = Controller::open(Path::new("/dev/null")).unwrap();
        let error = explain(
            &controller,
            Operation::EniGroupsGet(4),
            Error::Kernel {
                request: "NITRO_IOC_ENI_GROUPS",
                error: std::io::Error::from_raw_os_error(libc::ENOENT),
            },
        );
        assert_eq!(error.exit_code(), 1);
        assert!(
            error
                .to_string()
                .contains("no ENI eni-00000000000000004 on this host"),
            "{error}"
        );
    }
}
