//! `nitroctl eni`: elastic network interfaces, made on one of the VPC
//! card's hosts.

use crate::{
    abi, address,
    cli::{
        instance,
        sg::{self, GroupList},
        GlobalOptions,
    },
    device::{sized, Controller},
    error::Error,
    objects::{self, Change, IdArg, ObjectKind},
    output::{self, or_dash, table, Rows},
    text_field, vpc,
};
use clap::{Args, Subcommand};
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
    /// Set an ENI's traffic allowances: bandwidth in and out, packet rate.
    ///
    /// The VPC card enforces them at once if the ENI is attached, else from
    /// its next attach; what goes over is dropped and counted (`nitroctl
    /// metrics`). Options left out keep their current setting.
    Allowance {
        /// eni-...
        id: String,
        #[command(flatten)]
        limits: AllowanceArgs,
    },
    /// Show an ENI's security groups, or set them.
    ///
    /// With a list, the ENI's groups become those (all of its VPC, at most
    /// 5): at once if it is attached, else from its next attach; `none`
    /// removes them all (an ENI with no group is not filtered). Without,
    /// prints them as the list takes them.
    Groups {
        /// eni-...
        id: String,
        /// The groups: sg-...,sg-... or none.
        #[arg(value_name = "SG,SG,...|none", value_parser = sg::parse_group_list)]
        groups: Option<GroupList>,
    },
}

/// The allowances `eni allowance` sets: at least one.
#[derive(Args, Debug, PartialEq)]
#[group(required = true, multiple = true)]
pub struct AllowanceArgs {
    /// Bandwidth delivered to the ENI: bits per second, with k, M or G
    /// (powers of 1000: 64000, 100M, 2.5G; 1k to 400G); `none` (no limit);
    /// `default` (the instance type's while attached to an instance, else
    /// no limit).
    #[arg(long, value_name = "RATE", value_parser = parse_bandwidth)]
    pub bw_in: Option<u64>,
    /// Bandwidth sent by the ENI, the same way.
    #[arg(long, value_name = "RATE", value_parser = parse_bandwidth)]
    pub bw_out: Option<u64>,
    /// Packets per second, both ways together, with k or M (25000, 25k;
    /// 1 to 1000M); `none`; `default`.
    #[arg(long, value_name = "N", value_parser = parse_packet_rate)]
    pub pps: Option<u64>,
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
            let known = has_allowances(&controller);
            let enis: Vec<_> = enis
                .iter()
                .map(|info| Eni::from_abi(info).known(known))
                .collect();
            options.render(&enis, |enis| eni_table(enis))
        }
        EniCommand::Show(arg) => {
            let id = kind.parse_id(&arg.id)?;
            let info = describe(&controller, id)
                .map_err(|error| objects::explain(&controller, kind, "show", Some(id), error))?;
            let mut eni = Eni::from_abi(&info).known(has_allowances(&controller));
            // A separate request, which an older controller does not know.
            if sg::has_security_groups(&controller) {
                let groups = sg::get_eni_groups(&controller, id).map_err(|error| {
                    sg::explain(&controller, sg::Operation::EniGroupsGet(id), error)
                })?;
                eni.groups = Some(groups.iter().map(|&group| sg::format_id(group)).collect());
            }
            options.render(&eni, Eni::human)
        }
        EniCommand::Groups { id, groups: None } => {
            let id = kind.parse_id(id)?;
            let groups = sg::get_eni_groups(&controller, id).map_err(|error| {
                sg::explain(&controller, sg::Operation::EniGroupsGet(id), error)
            })?;
            let report = EniGroups {
                id: kind.format_id(id),
                groups: groups.iter().map(|&group| sg::format_id(group)).collect(),
            };
            options.render(&report, |_| format!("{}\n", sg::format_group_list(&groups)))
        }
        EniCommand::Groups {
            id,
            groups: Some(GroupList(groups)),
        } => {
            let id = kind.parse_id(id)?;
            sg::set_eni_groups(&controller, id, groups)?;
            let result = match groups.len() {
                0 => "groups: none (not filtered)".to_string(),
                _ => format!("groups: {}", sg::format_group_list(groups)),
            };
            objects::outcome(options, kind, id, &result)
        }
        EniCommand::Allowance { id, limits } => {
            let id = kind.parse_id(id)?;
            set_allowance(&controller, id, limits)?;
            // What applies now, as `show` says it (just "set" with --json,
            // or if the controller does not say).
            let now = (!options.json)
                .then(|| describe(&controller, id).ok())
                .flatten();
            let result = now.map_or_else(
                || "allowance set".into(),
                |info| format!("allowance: {}", allowance_line(&info)),
            );
            objects::outcome(options, kind, id, &result)
        }
    })
}

/// An ENI's security groups, as `eni groups` reports them.
#[derive(Serialize, Debug, PartialEq)]
pub struct EniGroups {
    /// eni-...
    pub id: String,
    /// its groups, sg-... (none: not filtered)
    pub groups: Vec<String>,
}

/// Whether the controller has per-ENI allowances (`NITRO_FEAT_ALLOWANCES`):
/// an older one leaves the fields zero, which would read as "no limit".
fn has_allowances(controller: &Controller) -> bool {
    controller.version().map_or(true, |version| {
        version.features & abi::NITRO_FEAT_ALLOWANCES as u64 != 0
    })
}

/// `NITRO_IOC_ENI_ALLOWANCE` of ENI `id`: the values given in `limits`, the
/// ENI's current setting for those left out (read just before: the ioctl
/// sets all three).
pub fn set_allowance(
    controller: &Controller,
    id: u64,
    limits: &AllowanceArgs,
) -> Result<(), Error> {
    let mut allowance: abi::nitro_eni_allowance = sized();
    allowance.id = id;
    let current = match (limits.bw_in, limits.bw_out, limits.pps) {
        (Some(_), Some(_), Some(_)) => None,
        _ => Some(
            describe(controller, id).map_err(|error| explain_allowance(controller, id, error))?,
        ),
    };
    let keep = |given: Option<u64>, now: fn(&abi::nitro_eni_info) -> u64| {
        given.unwrap_or_else(|| current.as_ref().map_or(0, now))
    };
    allowance.bw_in_bps = keep(limits.bw_in, |info| info.bw_in_bps);
    allowance.bw_out_bps = keep(limits.bw_out, |info| info.bw_out_bps);
    allowance.pps = keep(limits.pps, |info| info.pps);
    controller
        .ioctl(
            "NITRO_IOC_ENI_ALLOWANCE",
            abi::NITRO_IOC_ENI_ALLOWANCE,
            &mut allowance,
        )
        .map_err(|error| explain_allowance(controller, id, error))
}

/// Explains a refusal to set (or read, first) the allowances of ENI `id`.
fn explain_allowance(controller: &Controller, id: u64, error: Error) -> Error {
    let Some(errno) = error.errno() else {
        return error;
    };
    let kind = ObjectKind::Eni;
    let who = format!("ENI {}", kind.format_id(id));
    let message = match errno {
        libc::EBUSY => {
            let state = describe(controller, id)
                .map(|info| format!(" (now {})", objects::state_name(info.state)))
                .unwrap_or_default();
            format!("{who} is being attached, detached or deleted{state}; try again")
        }
        libc::EINVAL => format!(
            "the controller rejected the allowances of {who} (bandwidth {} to {}, \
             packet rate {} to {}, none, or default)",
            format_rate(Measure::Bandwidth.bounds().0),
            format_rate(Measure::Bandwidth.bounds().1),
            format_pps(Measure::PacketRate.bounds().0),
            format_pps(Measure::PacketRate.bounds().1),
        ),
        libc::EOPNOTSUPP => "the VPC card does not enforce allowances".into(),
        _ => return objects::explain(controller, kind, "set the allowances of", Some(id), error),
    };
    Error::Refused { message, errno }
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
    /// its traffic allowances (absent from a controller without them)
    #[serde(flatten)]
    pub allowance: Option<Allowances>,
    /// its security groups, sg-... (absent from a controller without
    /// them, and from `list`; empty: not filtered)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

/// An ENI's traffic allowances, as reported: what the card enforces now
/// and what is set. Their JSON names are EC2's style (`...Set` for the
/// values as set; the selftests look for that suffix), unlike the ENI's
/// other fields.
#[derive(Serialize, Debug, PartialEq)]
pub struct Allowances {
    /// bits per second to the ENI the card enforces now (0: no limit;
    /// always 0 while it is not attached)
    #[serde(rename = "BandwidthInAllowanceBps")]
    pub bandwidth_in_bps: u64,
    /// bits per second from the ENI, the same way
    #[serde(rename = "BandwidthOutAllowanceBps")]
    pub bandwidth_out_bps: u64,
    /// packets per second both ways, the same way
    #[serde(rename = "PpsAllowance")]
    pub pps: u64,
    /// as set: bits per second, "none" or "default" (as `eni allowance`
    /// takes it)
    #[serde(rename = "BandwidthInAllowanceBpsSet")]
    pub bandwidth_in_set: Setting,
    /// the same, from the ENI
    #[serde(rename = "BandwidthOutAllowanceBpsSet")]
    pub bandwidth_out_set: Setting,
    /// the same, packets per second
    #[serde(rename = "PpsAllowanceSet")]
    pub pps_set: Setting,
    /// The line `show` gives.
    #[serde(skip)]
    pub line: String,
    /// The cell `list` gives.
    #[serde(skip)]
    pub cell: String,
}

/// The JSON keys of [`Allowances`], which `show` gives as one line.
const ALLOWANCE_KEYS: [&str; 6] = [
    "BandwidthInAllowanceBps",
    "BandwidthOutAllowanceBps",
    "PpsAllowance",
    "BandwidthInAllowanceBpsSet",
    "BandwidthOutAllowanceBpsSet",
    "PpsAllowanceSet",
];

/// One allowance as set, in JSON the way `eni allowance` takes it.
#[derive(Serialize, Debug, PartialEq, Clone, Copy)]
#[serde(untagged)]
pub enum Setting {
    /// A limit, bits or packets per second.
    Limit(u64),
    /// `none` (`NITRO_ALLOWANCE_NONE`) or `default` (0).
    Keyword(&'static str),
}

impl Setting {
    /// From the ABI's value.
    pub fn from_abi(value: u64) -> Self {
        match value {
            0 => Setting::Keyword("default"),
            NO_LIMIT => Setting::Keyword("none"),
            limit => Setting::Limit(limit),
        }
    }
}

/// An allowance of no limit (`NITRO_ALLOWANCE_NONE`).
pub const NO_LIMIT: u64 = abi::NITRO_ALLOWANCE_NONE as u64;

/// What an allowance is measured in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Measure {
    /// Bits per second.
    Bandwidth,
    /// Packets per second.
    PacketRate,
}

impl Measure {
    /// The ABI's bounds of a limit (`NITRO_ALLOWANCE_*_MIN`, `_MAX`).
    pub fn bounds(self) -> (u64, u64) {
        match self {
            Measure::Bandwidth => (
                abi::NITRO_ALLOWANCE_BPS_MIN as u64,
                abi::NITRO_ALLOWANCE_BPS_MAX,
            ),
            Measure::PacketRate => (
                abi::NITRO_ALLOWANCE_PPS_MIN as u64,
                abi::NITRO_ALLOWANCE_PPS_MAX as u64,
            ),
        }
    }

    /// The suffixes it takes, with their powers of 1000.
    fn suffixes(self) -> &'static [(char, u32)] {
        match self {
            Measure::Bandwidth => &[('k', 1), ('M', 2), ('G', 3)],
            Measure::PacketRate => &[('k', 1), ('M', 2)],
        }
    }

    /// A limit, as people read it.
    pub fn format(self, value: u64) -> String {
        match self {
            Measure::Bandwidth => format_rate(value),
            Measure::PacketRate => format_pps(value),
        }
    }

    /// What it is, in refusals.
    fn noun(self) -> &'static str {
        match self {
            Measure::Bandwidth => "bits per second",
            Measure::PacketRate => "packets per second",
        }
    }
}

/// Parses an allowance given on the command line: a limit within the
/// ABI's bounds with an optional SI suffix (powers of 1000, decimals where
/// the result is whole: 2.5G), `none` (`NITRO_ALLOWANCE_NONE`) or `default`
/// (0, the instance type's); gives the ABI's value.
pub fn parse_allowance(text: &str, measure: Measure) -> Result<u64, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") {
        return Ok(NO_LIMIT);
    }
    if text.eq_ignore_ascii_case("default") {
        return Ok(0);
    }
    let (min, max) = measure.bounds();
    let out_of_bounds = || {
        format!(
            "'{text}' is out of bounds: an allowance is {} to {} \
             (or none for no limit, default for the instance type's)",
            measure.format(min),
            measure.format(max)
        )
    };
    match parse_scaled(text, measure.suffixes()) {
        Ok(value) if (min..=max).contains(&value) => Ok(value),
        Ok(_) | Err(Scaled::TooLarge) => Err(out_of_bounds()),
        Err(Scaled::NotWhole) => Err(format!(
            "'{text}' is not a whole number of {}",
            measure.noun()
        )),
        Err(Scaled::NotANumber) => Err(match measure {
            Measure::Bandwidth => format!(
                "'{text}' is not a rate: bits per second, optionally with k, M or G \
                 (powers of 1000: 64000, 100M, 2.5G), or none, or default"
            ),
            Measure::PacketRate => format!(
                "'{text}' is not a packet rate: packets per second, optionally with k or M \
                 (powers of 1000: 25000, 25k, 1.5M), or none, or default"
            ),
        }),
    }
}

/// `--bw-in` and `--bw-out`.
pub fn parse_bandwidth(text: &str) -> Result<u64, String> {
    parse_allowance(text, Measure::Bandwidth)
}

/// `--pps`.
pub fn parse_packet_rate(text: &str) -> Result<u64, String> {
    parse_allowance(text, Measure::PacketRate)
}

/// Why a number with a suffix is not one.
#[derive(Debug, PartialEq)]
enum Scaled {
    /// Not digits (with one decimal point) and a known suffix.
    NotANumber,
    /// Decimals that the suffix does not make whole.
    NotWhole,
    /// Beyond 64 bits.
    TooLarge,
}

/// Parses digits, maybe with decimals, and an optional suffix (either
/// case) of `suffixes` that multiplies them by a power of 1000.
fn parse_scaled(text: &str, suffixes: &[(char, u32)]) -> Result<u64, Scaled> {
    let (number, power) = match text.chars().last() {
        Some(last) if last.is_ascii_alphabetic() => {
            let &(_, power) = suffixes
                .iter()
                .find(|(suffix, _)| suffix.eq_ignore_ascii_case(&last))
                .ok_or(Scaled::NotANumber)?;
            (&text[..text.len() - 1], power)
        }
        _ => (text, 0),
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) if !fraction.is_empty() => (whole, fraction),
        Some(_) => return Err(Scaled::NotANumber),
        None => (number, ""),
    };
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return Err(Scaled::NotANumber);
    }
    let fraction = fraction.trim_end_matches('0');
    let places = 3 * power as usize;
    if fraction.len() > places {
        return Err(Scaled::NotWhole);
    }
    let whole: u128 = whole.parse().map_err(|_| Scaled::TooLarge)?;
    let fraction: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse::<u128>().map_err(|_| Scaled::TooLarge)?
            * 10u128.pow((places - fraction.len()) as u32)
    };
    whole
        .checked_mul(10u128.pow(places as u32))
        .and_then(|value| value.checked_add(fraction))
        .and_then(|value| u64::try_from(value).ok())
        .ok_or(Scaled::TooLarge)
}

/// `value` in the largest of `units` (scale, name) that gives at most three
/// decimals, exactly; else as is, with `plain` after it.
fn scaled(value: u64, units: &[(u64, &str)], separator: &str, plain: &str) -> String {
    for &(scale, unit) in units {
        if value >= scale && (u128::from(value) * 1000) % u128::from(scale) == 0 {
            let (whole, rest) = (value / scale, value % scale);
            if rest == 0 {
                return format!("{whole}{separator}{unit}");
            }
            let width = scale.ilog10() as usize;
            let decimals = format!("{rest:0width$}");
            return format!(
                "{whole}.{}{separator}{unit}",
                decimals.trim_end_matches('0')
            );
        }
    }
    format!("{value}{plain}")
}

/// A bandwidth, bits per second: `100 Mbit/s`, `2.5 Gbit/s`, exact.
pub fn format_rate(bps: u64) -> String {
    let units = [
        (1_000_000_000, "Gbit/s"),
        (1_000_000, "Mbit/s"),
        (1000, "kbit/s"),
    ];
    scaled(bps, &units, " ", " bit/s")
}

/// A packet rate: `25000 pps`.
pub fn format_pps(pps: u64) -> String {
    format!("{pps} pps")
}

/// A limit, short, as the `list` table gives it: `100M`, `2.5G`, `25k`.
fn short(value: u64) -> String {
    let units = [(1_000_000_000, "G"), (1_000_000, "M"), (1000, "k")];
    scaled(value, &units, "", "")
}

/// Where an allowance that applies comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Source {
    /// Set on the ENI (a limit, or none).
    Set,
    /// Unset: its instance type's (attached to an instance).
    InstanceType,
    /// Unset, and not attached to an instance: no limit.
    Unset,
}

/// One allowance of an ENI: the limit that applies (`None`: no limit), and
/// where it comes from. While the ENI is attached that is what its card
/// enforces; else what it has set (nothing is enforced on it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Applied {
    /// The limit (`None`: no limit).
    pub limit: Option<u64>,
    /// Where it comes from.
    pub source: Source,
}

impl Applied {
    /// From the value as set and as enforced, and where the ENI is.
    pub fn new(set: u64, enforced: u64, attached: bool, on_instance: bool) -> Self {
        let limit = |value: u64| (value != 0).then_some(value);
        let (limit, source) = match set {
            NO_LIMIT => (None, Source::Set),
            0 if attached && on_instance => (limit(enforced), Source::InstanceType),
            0 if attached => (limit(enforced), Source::Unset),
            0 => (None, Source::Unset),
            _ if attached => (limit(enforced), Source::Set),
            set => (Some(set), Source::Set),
        };
        Applied { limit, source }
    }

    /// As `show` gives it: `in 100 Mbit/s (set)`, `25000 pps (instance
    /// type)`, `no pps limit`; `direction` (`in`, `out`) heads a bandwidth.
    pub fn describe(self, measure: Measure, direction: &str) -> String {
        let value = match (self.limit, measure) {
            (Some(limit), Measure::Bandwidth) => format!("{direction} {}", format_rate(limit)),
            (Some(limit), Measure::PacketRate) => format_pps(limit),
            (None, Measure::Bandwidth) => format!("{direction} no limit"),
            (None, Measure::PacketRate) => "no pps limit".into(),
        };
        match self.source {
            Source::Set => format!("{value} (set)"),
            Source::InstanceType => format!("{value} (instance type)"),
            Source::Unset => value,
        }
    }
}

/// The three allowances of an ENI that apply: bandwidth in, out, packet
/// rate.
pub fn applied(info: &abi::nitro_eni_info) -> [Applied; 3] {
    let attached = info.state == abi::NITRO_STATE_ATTACHED;
    let on_instance = info.instance != 0;
    [
        (info.bw_in_bps, info.eff_bw_in_bps),
        (info.bw_out_bps, info.eff_bw_out_bps),
        (info.pps, info.eff_pps),
    ]
    .map(|(set, enforced)| Applied::new(set, enforced, attached, on_instance))
}

/// The allowance line of `show`: `in 100 Mbit/s (set), out 250 Mbit/s
/// (instance type), 25000 pps (instance type)`.
pub fn allowance_line(info: &abi::nitro_eni_info) -> String {
    let [bw_in, bw_out, pps] = applied(info);
    format!(
        "{}, {}, {}",
        bw_in.describe(Measure::Bandwidth, "in"),
        bw_out.describe(Measure::Bandwidth, "out"),
        pps.describe(Measure::PacketRate, "")
    )
}

/// The allowance cell of `list`: in/out/pps, `-` for no limit
/// (`100M/250M/25k`).
pub fn allowance_cell(info: &abi::nitro_eni_info) -> String {
    applied(info)
        .map(|applied| applied.limit.map_or_else(|| "-".into(), short))
        .join("/")
}

impl Allowances {
    /// From the ABI.
    pub fn from_abi(info: &abi::nitro_eni_info) -> Self {
        Allowances {
            bandwidth_in_bps: info.eff_bw_in_bps,
            bandwidth_out_bps: info.eff_bw_out_bps,
            pps: info.eff_pps,
            bandwidth_in_set: Setting::from_abi(info.bw_in_bps),
            bandwidth_out_set: Setting::from_abi(info.bw_out_bps),
            pps_set: Setting::from_abi(info.pps),
            line: allowance_line(info),
            cell: allowance_cell(info),
        }
    }
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
            allowance: Some(Allowances::from_abi(info)),
            groups: None,
        }
    }

    /// Without its allowances unless `known` (the controller has them).
    pub fn known(self, known: bool) -> Self {
        Eni {
            allowance: self.allowance.filter(|_| known),
            ..self
        }
    }

    /// Human form (`show`): a line per field, in name order, the
    /// allowances in one (`allowance   in 100 Mbit/s (set), ...`).
    pub fn human(&self) -> String {
        let mut fields = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = fields.as_object_mut() {
            for key in ALLOWANCE_KEYS {
                map.remove(key);
            }
            let line = self
                .allowance
                .as_ref()
                .map(|allowance| allowance.line.clone());
            map.insert("allowance".into(), serde_json::json!(line));
            if let Some(groups) = &self.groups {
                let line = match groups.len() {
                    0 => "none (not filtered)".to_string(),
                    _ => groups.join(","),
                };
                map.insert("groups".into(), serde_json::json!(line));
            }
        }
        output::key_values(&fields)
    }
}

/// Table of ENIs (HOST, then ALLOWANCE, last, so the columns before them
/// keep their places; the instance, if any, is in `show` and `--json`).
/// ALLOWANCE is what applies, in/out/pps (`100M/250M/25k`, `-` for no
/// limit); `show` says where each comes from.
pub fn eni_table(enis: &[Eni]) -> String {
    let rows: Rows<10> = enis
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
                eni.allowance
                    .as_ref()
                    .map_or_else(|| "-".into(), |allowance| allowance.cell.clone()),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "VPC",
            "STATE",
            "MAC",
            "IPV4",
            "DEVICE",
            "NAME",
            "CARD",
            "HOST",
            "ALLOWANCE",
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
        let shown = eni.human();
        assert!(shown.contains("\nhost        3\n"), "{shown}");
        assert!(
            shown.starts_with("allowance   in no limit, out no limit, no pps limit\ncard "),
            "{shown}"
        );
        assert!(!shown.contains("pps_allowance"), "one line: {shown}");
        assert_eq!(serde_json::to_value(&eni).unwrap()["host"], 3);
        assert_eq!(
            serde_json::to_value(&eni).unwrap()["instance"],
            serde_json::Value::Null
        );
        assert!(shown.contains("\ninstance    -\n"), "{shown}");
        assert_eq!(
            eni_table(&[eni]),
            "ID                     VPC  STATE      MAC                IPV4      DEVICE  NAME  CARD       HOST  ALLOWANCE\n\
             eni-00000000000000001  7    available  02:00:00:00:00:01  10.0.0.5  -       -     nitro_net  3     -/-/-\n"
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
    fn rates_parse() {
        let bw = parse_bandwidth;
        for (text, bps) in [
            ("64000", 64_000),
            ("100M", 100_000_000),
            ("100m", 100_000_000),
            ("2.5G", 2_500_000_000),
            ("1.25k", 1250),
            ("1k", 1000),
            ("1.000k", 1000),
            ("400G", 400_000_000_000),
            ("400000000000", 400_000_000_000),
            (" 10M ", 10_000_000),
            ("0.5G", 500_000_000),
        ] {
            assert_eq!(bw(text), Ok(bps), "{text:?}");
        }
        assert_eq!(bw("none"), Ok(u64::MAX), "NITRO_ALLOWANCE_NONE");
        assert_eq!(bw("None"), Ok(NO_LIMIT));
        assert_eq!(bw("default"), Ok(0));
        for bad in [
            "", "M", "fast", "10X", "10 M", "1,5M", "-5M", "+5M", "1.M", ".5M", "1.2.3M", "10MB",
            "10Mbit", "1e6", "0x10",
        ] {
            let error = bw(bad).unwrap_err();
            assert!(error.contains("is not a rate"), "{bad:?}: {error}");
            assert!(error.contains("2.5G"), "{bad:?}: {error}");
        }
        assert_eq!(
            bw("1.0005k").unwrap_err(),
            "'1.0005k' is not a whole number of bits per second"
        );
        assert!(bw("100.5").unwrap_err().contains("not a whole number"));
        // The header's bounds, and nothing wraps around.
        for out in [
            "0",
            "999",
            "0.999k",
            "400000000001",
            "401G",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999999999999999999999999G",
        ] {
            assert_eq!(
                bw(out).unwrap_err(),
                format!(
                    "'{out}' is out of bounds: an allowance is 1 kbit/s to 400 Gbit/s \
                     (or none for no limit, default for the instance type's)"
                ),
                "{out:?}"
            );
        }
        assert_eq!(
            Measure::Bandwidth.bounds(),
            (
                abi::NITRO_ALLOWANCE_BPS_MIN as u64,
                abi::NITRO_ALLOWANCE_BPS_MAX
            )
        );
    }

    #[test]
    fn packet_rates_parse() {
        let pps = parse_packet_rate;
        assert_eq!(pps("25000"), Ok(25_000));
        assert_eq!(pps("25k"), Ok(25_000));
        assert_eq!(pps("1.5M"), Ok(1_500_000));
        assert_eq!(pps("1"), Ok(1));
        assert_eq!(pps("1000M"), Ok(1_000_000_000));
        assert_eq!(pps("none"), Ok(NO_LIMIT));
        assert_eq!(pps("default"), Ok(0));
        // k and M only; G is for bandwidth.
        assert!(pps("1G").unwrap_err().contains("is not a packet rate"));
        assert!(pps("abc").unwrap_err().contains("25k"));
        assert_eq!(
            pps("0.5").unwrap_err(),
            "'0.5' is not a whole number of packets per second"
        );
        for out in ["0", "1000000001", "1001M"] {
            assert_eq!(
                pps(out).unwrap_err(),
                format!(
                    "'{out}' is out of bounds: an allowance is 1 pps to 1000000000 pps \
                     (or none for no limit, default for the instance type's)"
                )
            );
        }
    }

    #[test]
    fn rates_format_exactly() {
        for (bps, text) in [
            (1000, "1 kbit/s"),
            (1500, "1.5 kbit/s"),
            (64_000, "64 kbit/s"),
            (100_000_000, "100 Mbit/s"),
            (250_000_000, "250 Mbit/s"),
            (1_000_000_000, "1 Gbit/s"),
            (2_500_000_000, "2.5 Gbit/s"),
            (400_000_000_000, "400 Gbit/s"),
            (123_456_789, "123456.789 kbit/s"),
            (1_000_000_001, "1000000.001 kbit/s"),
            (999, "999 bit/s"),
        ] {
            assert_eq!(format_rate(bps), text, "{bps}");
            // What is shown parses back to the same value.
            let short = text
                .replace(" bit/s", "")
                .replace("bit/s", "")
                .replace(' ', "");
            if bps >= 1000 {
                assert_eq!(parse_bandwidth(&short), Ok(bps), "{short}");
            }
        }
        assert_eq!(format_pps(25_000), "25000 pps");
        assert_eq!(short(25_000), "25k");
        assert_eq!(short(2_500_000_000), "2.5G");
        assert_eq!(short(999), "999");
    }

    /// An ENI with allowances `set` and `enforced` (in, out, pps), in
    /// `state`, attached to instance `instance` (0: none, or the host).
    fn with_allowances(
        state: u32,
        instance: u64,
        set: [u64; 3],
        enforced: [u64; 3],
    ) -> abi::nitro_eni_info {
        abi::nitro_eni_info {
            id: 1,
            state,
            instance,
            bw_in_bps: set[0],
            bw_out_bps: set[1],
            pps: set[2],
            eff_bw_in_bps: enforced[0],
            eff_bw_out_bps: enforced[1],
            eff_pps: enforced[2],
            ..Default::default()
        }
    }

    #[test]
    fn allowance_lines() {
        let attached = abi::NITRO_STATE_ATTACHED;
        let available = abi::NITRO_STATE_AVAILABLE;
        let m = 1_000_000;
        for (info, line, cell) in [
            // The brief's own example: one set, two from nitro.micro.
            (
                with_allowances(attached, 0x42, [100 * m, 0, 0], [100 * m, 250 * m, 25_000]),
                "in 100 Mbit/s (set), out 250 Mbit/s (instance type), 25000 pps (instance type)",
                "100M/250M/25k",
            ),
            // Set to no limit on an instance: the type's does not apply.
            (
                with_allowances(attached, 0x42, [NO_LIMIT, 0, NO_LIMIT], [0, 250 * m, 0]),
                "in no limit (set), out 250 Mbit/s (instance type), no pps limit (set)",
                "-/250M/-",
            ),
            // Attached to the host: unset is no limit.
            (
                with_allowances(attached, 0, [0, 2_500 * m, 0], [0, 2_500 * m, 0]),
                "in no limit, out 2.5 Gbit/s (set), no pps limit",
                "-/2.5G/-",
            ),
            // Not attached: nothing is enforced; what is set shows.
            (
                with_allowances(available, 0, [64_000, NO_LIMIT, 1500], [0, 0, 0]),
                "in 64 kbit/s (set), out no limit (set), 1500 pps (set)",
                "64k/-/1.5k",
            ),
            (
                with_allowances(available, 0, [0, 0, 0], [0, 0, 0]),
                "in no limit, out no limit, no pps limit",
                "-/-/-",
            ),
            // Attaching to an instance: the type's is not known yet.
            (
                with_allowances(abi::NITRO_STATE_ATTACHING, 0x42, [0, 0, 25_000], [0, 0, 0]),
                "in no limit, out no limit, 25000 pps (set)",
                "-/-/25k",
            ),
        ] {
            assert_eq!(allowance_line(&info), line);
            assert_eq!(allowance_cell(&info), cell, "{line}");
            let eni = Eni::from_abi(&info);
            assert!(
                eni.human().starts_with(&format!("allowance   {line}\n")),
                "{}",
                eni.human()
            );
        }
    }

    #[test]
    fn allowance_json() {
        let info = with_allowances(
            abi::NITRO_STATE_ATTACHED,
            0x42,
            [100_000_000, 0, NO_LIMIT],
            [100_000_000, 250_000_000, 0],
        );
        let eni = Eni::from_abi(&info);
        let json = serde_json::to_value(&eni).unwrap();
        assert_eq!(json["BandwidthInAllowanceBps"], 100_000_000);
        assert_eq!(json["BandwidthOutAllowanceBps"], 250_000_000);
        assert_eq!(json["PpsAllowance"], 0, "no limit");
        assert_eq!(json["BandwidthInAllowanceBpsSet"], 100_000_000);
        assert_eq!(json["BandwidthOutAllowanceBpsSet"], "default");
        assert_eq!(json["PpsAllowanceSet"], "none");
        for key in ALLOWANCE_KEYS {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert!(json.get("line").is_none() && json.get("cell").is_none());
        // What selftests/nitro_net/net.sh relies on: the effective values
        // are the keys with "llowance" in them not ending in "Set".
        let effective: Vec<_> = json
            .as_object()
            .unwrap()
            .keys()
            .filter(|key| key.contains("llowance") && !key.ends_with("Set"))
            .collect();
        assert_eq!(effective.len(), 3, "{effective:?}");
        // A set value is what `eni allowance` takes back.
        for key in ["BandwidthInAllowanceBpsSet", "BandwidthOutAllowanceBpsSet"] {
            let text = match &json[key] {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            assert!(parse_bandwidth(&text).is_ok(), "{text}");
        }
        // From a controller without allowances: none of it, `-` in show
        // and list.
        let old = Eni::from_abi(&info).known(false);
        let json = serde_json::to_value(&old).unwrap();
        for key in ALLOWANCE_KEYS {
            assert!(json.get(key).is_none(), "{key}");
        }
        assert!(old.human().starts_with("allowance   -\n"));
        assert!(eni_table(&[old]).ends_with("  -\n"));
    }

    #[test]
    fn eni_groups_in_show() {
        let info = abi::nitro_eni_info {
            id: 1,
            state: abi::NITRO_STATE_AVAILABLE,
            ..Default::default()
        };
        // From a controller without security groups: no groups at all.
        let eni = Eni::from_abi(&info);
        assert!(serde_json::to_value(&eni).unwrap().get("groups").is_none());
        assert!(!eni.human().contains("groups"), "{}", eni.human());
        let groups = vec![sg::format_id(1), sg::format_id(0xabcd)];
        let eni = Eni {
            groups: Some(groups.clone()),
            ..Eni::from_abi(&info)
        };
        let json = serde_json::to_value(&eni).unwrap();
        assert_eq!(json["groups"], serde_json::json!(groups));
        assert!(
            eni.human()
                .contains("\ngroups      sg-00000000000000001,sg-0000000000000abcd\nhost "),
            "{}",
            eni.human()
        );
        let eni = Eni {
            groups: Some(vec![]),
            ..Eni::from_abi(&info)
        };
        assert_eq!(
            serde_json::to_value(&eni).unwrap()["groups"],
            serde_json::json!([])
        );
        assert!(eni.human().contains("\ngroups      none (not filtered)\n"));
        // `eni list` has no column for them.
        assert!(!eni_table(&[eni]).contains("GROUPS"));
        let report = EniGroups {
            id: "eni-00000000000000001".into(),
            groups,
        };
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            serde_json::json!({
                "id": "eni-00000000000000001",
                "groups": ["sg-00000000000000001", "sg-0000000000000abcd"],
            })
        );
    }

    #[test]
    fn parses_eni_allowance() {
        const ID: &str = "eni-00000000000000001";
        let allowance = |args: &[&'static str]| {
            let mut all = vec!["eni", "allowance", ID];
            all.extend_from_slice(args);
            match parse(&all).command {
                Command::Eni(EniCommand::Allowance { id, limits }) => {
                    assert_eq!(id, ID);
                    (limits.bw_in, limits.bw_out, limits.pps)
                }
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            allowance(&["--bw-in", "100M", "--bw-out", "none", "--pps", "25k"]),
            (Some(100_000_000), Some(NO_LIMIT), Some(25_000))
        );
        assert_eq!(
            allowance(&["--bw-out", "default"]),
            (None, Some(0), None),
            "the others kept"
        );
        assert_eq!(allowance(&["--pps", "1"]), (None, None, Some(1)));
        // At least one, each valid.
        let error = refused(&["eni", "allowance", ID]);
        assert!(
            error.contains("--bw-in") && error.contains("--pps"),
            "{error}"
        );
        refused(&["eni", "allowance", "--pps", "1"]);
        assert!(refused(&["eni", "allowance", ID, "--bw-in", "500"]).contains("out of bounds"));
        assert!(refused(&["eni", "allowance", ID, "--pps", "fast"]).contains("not a packet rate"));
        assert!(refused(&["eni", "allowance", ID, "--bw-out", "1.5"]).contains("whole number"));
    }

    #[test]
    fn allowance_refusals_are_explained() {
        // /dev/null answers every ioctl with ENOTTY: nothing more is known
        // of the ENI.
        let controller = Controller::open(std::path::Path::new("/dev/null")).unwrap();
        let explained = |errno: i32| {
            let error = explain_allowance(
                &controller,
                1,
                Error::Kernel {
                    request: "NITRO_IOC_ENI_ALLOWANCE",
                    error: std::io::Error::from_raw_os_error(errno),
                },
            );
            assert_eq!(error.errno(), Some(errno));
            error.to_string()
        };
        for (errno, says) in [
            (
                libc::EBUSY,
                "ENI eni-00000000000000001 is being attached, detached or deleted; try again: \
                 Device or resource busy (EBUSY)",
            ),
            (
                libc::EINVAL,
                "the controller rejected the allowances of ENI eni-00000000000000001 \
                 (bandwidth 1 kbit/s to 400 Gbit/s, packet rate 1 pps to 1000000000 pps",
            ),
            (
                libc::ENOENT,
                "no ENI eni-00000000000000001 on this host (see `nitroctl eni list`)",
            ),
            (libc::ENODEV, "left the bus"),
            (libc::EACCES, "boot gate is closed"),
            (libc::ENOTTY, "older than nitroctl"),
        ] {
            let message = explained(errno);
            assert!(message.contains(says), "{errno}: {message}");
        }
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
