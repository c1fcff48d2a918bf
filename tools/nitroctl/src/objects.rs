//! Volumes, ENIs, metrics and the audit log: building requests, explaining
//! refusals, and rendering answers.

use crate::{
    abi::{self, state},
    device::{sized, Ctrl, Error},
    report::{table, Rows},
};
use serde::Serialize;
use std::net::Ipv4Addr;

/// Formats a volume or ENI id as people see it.
pub fn fmt_id(prefix: &str, id: u64) -> String {
    format!("{prefix}0{id:016x}")
}

/// Parses an id given on the command line.
pub fn parse_id(prefix: &'static str, s: &str) -> Result<u64, String> {
    state::parse_id(prefix, s)
        .ok_or_else(|| format!("'{s}' is not an id like {prefix}0123456789abcdef0"))
}

/// Parses a size: bytes, or a number with K, M, G, T (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("unknown size suffix in '{s}' (use K, M, G or T)")),
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n: u64 = num.parse().map_err(|_| format!("'{s}' is not a size"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// Parses a MAC address `aa:bb:cc:dd:ee:ff`: six groups of one or two hex
/// digits.
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let bad = || format!("'{s}' is not a MAC address (like 02:00:00:00:00:01)");
    let parts: Vec<&str> = s.split(':').collect();
    let mut mac = [0u8; 6];
    if parts.len() != 6 {
        return Err(bad());
    }
    for (m, p) in mac.iter_mut().zip(parts) {
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        *m = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    Ok(mac)
}

/// Formats a MAC address as `aa:bb:cc:dd:ee:ff`.
pub fn fmt_mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Copies `s` into a fixed C field, refusing what does not fit.
pub fn put_str<const N: usize>(
    field: &mut [std::ffi::c_char; N],
    s: &str,
    what: &str,
) -> Result<(), String> {
    if s.len() >= N || s.contains('\0') {
        return Err(format!(
            "{what} '{s}' is too long (at most {} bytes)",
            N - 1
        ));
    }
    for (d, b) in field.iter_mut().zip(s.bytes()) {
        *d = b as std::ffi::c_char;
    }
    Ok(())
}

fn get_str(field: &[std::ffi::c_char]) -> String {
    let bytes: Vec<u8> = field
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Name of a state.
pub fn state_name(s: u32) -> &'static str {
    match s {
        abi::NITRO_STATE_CREATING => "creating",
        abi::NITRO_STATE_AVAILABLE => "available",
        abi::NITRO_STATE_ATTACHING => "attaching",
        abi::NITRO_STATE_ATTACHED => "attached",
        abi::NITRO_STATE_DETACHING => "detaching",
        abi::NITRO_STATE_DELETING => "deleting",
        abi::NITRO_STATE_CARD_LOST => "card-lost",
        _ => "unknown",
    }
}

/// Which kind of object a command is about.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Kind {
    /// Volumes.
    Volume,
    /// ENIs.
    Eni,
}

impl Kind {
    /// The id prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Volume => abi_prefix(abi::NITRO_VOLUME_ID_PREFIX),
            Kind::Eni => abi_prefix(abi::NITRO_ENI_ID_PREFIX),
        }
    }
    fn noun(self) -> &'static str {
        match self {
            Kind::Volume => "volume",
            Kind::Eni => "ENI",
        }
    }
}

fn abi_prefix(p: &'static [u8; 5]) -> &'static str {
    std::str::from_utf8(&p[..4]).unwrap_or("?")
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
}

impl Volume {
    /// From the ABI.
    pub fn from_abi(i: &abi::nitro_volume_info) -> Self {
        Volume {
            id: fmt_id("vol-", i.id),
            kind: if i.kind == abi::NITRO_VOLUME_EBS {
                "ebs"
            } else {
                "instance"
            },
            state: state_name(i.state),
            size_bytes: i.size_bytes,
            block_size: i.block_size,
            device: get_str(&i.device),
            name: get_str(&i.name),
            card: get_str(&i.card),
        }
    }
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
}

impl Eni {
    /// From the ABI.
    pub fn from_abi(i: &abi::nitro_eni_info) -> Self {
        Eni {
            id: fmt_id("eni-", i.id),
            vpc: i.vpc,
            state: state_name(i.state),
            mac: fmt_mac(&i.mac),
            ipv4: Ipv4Addr::from(u32::from_be(i.ipv4)).to_string(),
            device: get_str(&i.device),
            name: get_str(&i.name),
            card: get_str(&i.card),
            host: i.host,
        }
    }
}

/// Human size: the largest binary unit that divides it exactly.
pub fn human_size(b: u64) -> String {
    for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if b >= 1 << shift && b % (1 << shift) == 0 {
            return format!("{} {unit}", b >> shift);
        }
    }
    format!("{b} B")
}

/// Table of volumes.
pub fn volume_table(v: &[Volume]) -> String {
    let rows: Rows<8> = v
        .iter()
        .map(|v| {
            [
                v.id.clone(),
                v.kind.into(),
                v.state.into(),
                human_size(v.size_bytes),
                v.block_size.to_string(),
                dash(&v.device),
                dash(&v.name),
                v.card.clone(),
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

/// Table of ENIs (HOST last, so the columns before it keep their places).
pub fn eni_table(v: &[Eni]) -> String {
    let rows: Rows<9> = v
        .iter()
        .map(|e| {
            [
                e.id.clone(),
                e.vpc.to_string(),
                e.state.into(),
                e.mac.clone(),
                e.ipv4.clone(),
                dash(&e.device),
                dash(&e.name),
                e.card.clone(),
                e.host.to_string(),
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

fn dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.into()
    }
}

/// Key-value view of one object.
pub fn show<T: Serialize>(v: &T) -> String {
    let j = serde_json::to_value(v).unwrap_or_default();
    let mut out = String::new();
    if let Some(map) = j.as_object() {
        for (k, v) in map {
            let v = match v {
                serde_json::Value::String(s) if s.is_empty() => "-".to_string(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push_str(&format!("{k:<11} {v}\n"));
        }
    }
    out
}

/// Why creates and attaches are refused while the boot gate is closed.
pub const GATE_CLOSED: &str = "the boot gate is closed: the firmware has not been verified \
     (see `nitroctl firmware show`, then `nitroctl firmware allow`)";

/// Explains a refusal of `op` on object `id` of `kind`, asking the
/// controller for context where that helps (what it is attached as).
pub fn explain(ctrl: &Ctrl, kind: Kind, op: &str, id: Option<u64>, err: Error) -> Error {
    let Some(errno) = err.errno() else { return err };
    let noun = kind.noun();
    let who = id
        .map(|i| format!("{noun} {}", fmt_id(kind.prefix(), i)))
        .unwrap_or_else(|| noun.to_string());
    let msg = match (errno, op) {
        (libc::ENOENT, _) => format!(
            "no {who} on this host (see `nitroctl {} list`)",
            noun.to_lowercase()
        ),
        (libc::EBUSY, _) => {
            let now = id.and_then(|i| describe_state(ctrl, kind, i));
            match now {
                Some((st, dev)) if st == abi::NITRO_STATE_ATTACHED && op != "attach" => {
                    format!("{who} is attached as {dev}; detach it first")
                }
                Some((st, dev)) if st == abi::NITRO_STATE_ATTACHED => {
                    format!("{who} is already attached as {dev}")
                }
                Some((st, _)) => format!("{who} is busy ({}); try again", state_name(st)),
                None => format!("{who} is busy; try again"),
            }
        }
        (libc::EINVAL, "detach") => format!("{who} is not attached"),
        (libc::ENOKEY, "create") => "the EBS card has no card key (the firmware file \
             nitro-rs/ebs-card.key was not found when nitro_nvme loaded; see dmesg)"
            .into(),
        (libc::EBADF, "create") => {
            "the backing must be a regular file or a block device, open for reading and writing"
                .into()
        }
        (libc::EKEYREJECTED, "attach") => format!(
            "the wrapped key of {who} does not open under this card's key \
             (wrapped for another card, or damaged); {who} stays available"
        ),
        (libc::EEXIST, "create") => format!("another {noun} already has that name or address"),
        (libc::EEXIST, "attach") => "that device name is already in use on this host".into(),
        (libc::ENOSPC, _) => {
            let max = ctrl.version().ok().map(|v| match kind {
                Kind::Volume => v.max_volumes,
                Kind::Eni => v.max_enis,
            });
            format!(
                "the host already holds its maximum of {} {noun}s (nitro_ctrl module parameter max_{}s)",
                max.map(|m| m.to_string()).unwrap_or_else(|| "?".into()),
                noun.to_lowercase()
            )
        }
        (libc::ENODEV, "create") => format!(
            "no card for this kind of {noun} is on the bus (see `nitroctl status`; load {})",
            if kind == Kind::Volume {
                "nitro_nvme"
            } else {
                "nitro_net"
            }
        ),
        (libc::ENODEV, _) => format!("the card of {who} left the bus; only delete works on it now"),
        (libc::EOPNOTSUPP, _) => format!("the card does not implement {noun}s yet"),
        (libc::EACCES, _) => GATE_CLOSED.to_string(),
        (libc::EIO, _) => format!("the card refused to {op} {who}"),
        (libc::EINVAL, _) => format!("the controller rejected the arguments to {op} {who}"),
        _ => return err,
    };
    Error::Refused { msg, errno }
}

fn describe_state(ctrl: &Ctrl, kind: Kind, id: u64) -> Option<(u32, String)> {
    match kind {
        Kind::Volume => {
            let mut d: abi::nitro_volume_describe = sized();
            d.id = id;
            ctrl.ioctl(
                "NITRO_IOC_VOLUME_DESCRIBE",
                abi::NITRO_IOC_VOLUME_DESCRIBE,
                &mut d,
            )
            .ok()?;
            Some((d.info.state, get_str(&d.info.device)))
        }
        Kind::Eni => {
            let mut d: abi::nitro_eni_describe = sized();
            d.id = id;
            ctrl.ioctl(
                "NITRO_IOC_ENI_DESCRIBE",
                abi::NITRO_IOC_ENI_DESCRIBE,
                &mut d,
            )
            .ok()?;
            Some((d.info.state, get_str(&d.info.device)))
        }
    }
}

/// Counters of one volume, ENI or card.
#[derive(Serialize, Debug, Default, PartialEq)]
pub struct Counters {
    /// Which object.
    pub what: String,
    /// reads
    pub read_ops: u64,
    /// bytes read
    pub read_bytes: u64,
    /// ns in reads
    pub read_ns: u64,
    /// writes
    pub write_ops: u64,
    /// bytes written
    pub write_bytes: u64,
    /// ns in writes
    pub write_ns: u64,
    /// packets in
    pub rx_packets: u64,
    /// bytes in
    pub rx_bytes: u64,
    /// packets out
    pub tx_packets: u64,
    /// bytes out
    pub tx_bytes: u64,
    /// drops
    pub drops: u64,
    /// bus requests (cards)
    pub requests: u64,
    /// refused requests (cards)
    pub failures: u64,
    /// objects (cards)
    pub objects: u32,
    /// requests being processed now (volumes)
    pub queue_depth: u64,
    /// reads by latency: bin 0 under 1 us, bin i [2^(i-1), 2^i) us
    pub read_hist: Vec<u64>,
    /// writes by latency, the same bins
    pub write_hist: Vec<u64>,
}

/// The upper bound, in microseconds, of the histogram bin that holds the
/// `pct`th percentile ("-" with no samples, ">=2^26" in the open last bin).
pub fn percentile_us(hist: &[u64], pct: u64) -> String {
    let total: u64 = hist.iter().sum();
    if total == 0 {
        return "-".into();
    }
    let want = (total * pct).div_ceil(100);
    let mut seen = 0;
    for (i, n) in hist.iter().enumerate() {
        seen += n;
        if seen >= want {
            return if i + 1 == hist.len() {
                format!(">={}", 1u64 << (i - 1))
            } else {
                format!("<{}", 1u64 << i)
            };
        }
    }
    "-".into()
}

impl Counters {
    /// From the ABI.
    pub fn from_abi(what: String, m: &abi::nitro_metrics) -> Self {
        Counters {
            what,
            read_ops: m.read_ops,
            read_bytes: m.read_bytes,
            read_ns: m.read_ns,
            write_ops: m.write_ops,
            write_bytes: m.write_bytes,
            write_ns: m.write_ns,
            rx_packets: m.rx_packets,
            rx_bytes: m.rx_bytes,
            tx_packets: m.tx_packets,
            tx_bytes: m.tx_bytes,
            drops: m.drops,
            requests: m.requests,
            failures: m.failures,
            objects: m.objects,
            queue_depth: m.queue_depth,
            read_hist: m.read_hist.to_vec(),
            write_hist: m.write_hist.to_vec(),
        }
    }
}

/// All metrics of the host at one moment.
#[derive(Serialize, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Per card.
    pub cards: Vec<Counters>,
    /// Per volume.
    pub volumes: Vec<Counters>,
    /// Per ENI.
    pub enis: Vec<Counters>,
}

impl Snapshot {
    /// Human form: three tables.
    pub fn human(&self) -> String {
        let cards: Rows<4> = self
            .cards
            .iter()
            .map(|c| {
                [
                    c.what.clone(),
                    c.requests.to_string(),
                    c.failures.to_string(),
                    c.objects.to_string(),
                ]
            })
            .collect();
        let ms = |ns: u64| format!("{}.{:03}", ns / 1_000_000, (ns / 1000) % 1000);
        let vols: Rows<10> = self
            .volumes
            .iter()
            .map(|c| {
                [
                    c.what.clone(),
                    c.read_ops.to_string(),
                    c.read_bytes.to_string(),
                    ms(c.read_ns),
                    c.write_ops.to_string(),
                    c.write_bytes.to_string(),
                    ms(c.write_ns),
                    percentile_us(&c.read_hist, 99),
                    percentile_us(&c.write_hist, 99),
                    c.queue_depth.to_string(),
                ]
            })
            .collect();
        let enis: Rows<6> = self
            .enis
            .iter()
            .map(|c| {
                [
                    c.what.clone(),
                    c.rx_packets.to_string(),
                    c.rx_bytes.to_string(),
                    c.tx_packets.to_string(),
                    c.tx_bytes.to_string(),
                    c.drops.to_string(),
                ]
            })
            .collect();
        let mut out = table(&["CARD", "REQUESTS", "FAILURES", "OBJECTS"], &cards);
        out.push('\n');
        out.push_str(&table(
            &[
                "VOLUME",
                "READS",
                "READ_BYTES",
                "READ_MS",
                "WRITES",
                "WRITE_BYTES",
                "WRITE_MS",
                "READ_P99_US",
                "WRITE_P99_US",
                "QD",
            ],
            &vols,
        ));
        out.push('\n');
        out.push_str(&table(
            &["ENI", "RX_PKTS", "RX_BYTES", "TX_PKTS", "TX_BYTES", "DROPS"],
            &enis,
        ));
        out
    }
}

/// Pulls every counter from the controller (one ioctl per object).
pub fn snapshot(ctrl: &Ctrl, card_names: &[String]) -> Result<Snapshot, Error> {
    let one = |scope: u32, id: u64| -> Result<abi::nitro_metrics, Error> {
        let mut m: abi::nitro_metrics = sized();
        m.scope = scope;
        m.id = id;
        ctrl.ioctl("NITRO_IOC_METRICS", abi::NITRO_IOC_METRICS, &mut m)?;
        Ok(m)
    };
    let mut snap = Snapshot::default();
    for (i, name) in card_names.iter().enumerate() {
        snap.cards.push(Counters::from_abi(
            name.clone(),
            &one(abi::NITRO_METRICS_CARD, i as u64)?,
        ));
    }
    let vols: Vec<abi::nitro_volume_info> =
        ctrl.list_all("NITRO_IOC_VOLUME_LIST", abi::NITRO_IOC_VOLUME_LIST, 1024)?;
    for v in vols
        .iter()
        .filter(|v| v.state != abi::NITRO_STATE_CARD_LOST)
    {
        // An object can go between the list and the question: skip it.
        if let Ok(m) = one(abi::NITRO_METRICS_VOLUME, v.id) {
            snap.volumes
                .push(Counters::from_abi(fmt_id("vol-", v.id), &m));
        }
    }
    let enis: Vec<abi::nitro_eni_info> =
        ctrl.list_all("NITRO_IOC_ENI_LIST", abi::NITRO_IOC_ENI_LIST, 1024)?;
    for e in enis
        .iter()
        .filter(|e| e.state != abi::NITRO_STATE_CARD_LOST)
    {
        if let Ok(m) = one(abi::NITRO_METRICS_ENI, e.id) {
            snap.enis.push(Counters::from_abi(fmt_id("eni-", e.id), &m));
        }
    }
    Ok(snap)
}

/// One audit entry, as reported.
#[derive(Serialize, Debug, PartialEq)]
pub struct AuditEntry {
    /// sequence number
    pub seq: u64,
    /// UTC time, RFC 3339
    pub time: String,
    /// caller uid
    pub uid: u32,
    /// operation
    pub op: &'static str,
    /// object id, if any (`host-N` for the VPC card's host commands)
    pub id: String,
    /// "ok" or the errno name
    pub result: String,
}

/// Name of an audited operation from its command number.
pub fn op_name(nr: u32) -> &'static str {
    match nr {
        0x10 => "volume-create",
        0x11 => "volume-delete",
        0x12 => "volume-attach",
        0x13 => "volume-detach",
        0x20 => "eni-create",
        0x21 => "eni-delete",
        0x22 => "eni-attach",
        0x23 => "eni-detach",
        0x26 => "host-create",
        0x27 => "host-delete",
        0x29 => "map-set",
        0x2a => "map-delete",
        0x2b => "peer-key",
        0x42 => "firmware-allow",
        0x43 => "firmware-update",
        _ => "unknown",
    }
}

/// Name of an errno.
pub fn errno_name(e: i32) -> String {
    let name = match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EIO => "EIO",
        libc::E2BIG => "E2BIG",
        libc::ENOMEM => "ENOMEM",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EPROTO => "EPROTO",
        libc::EACCES => "EACCES",
        libc::EBADF => "EBADF",
        libc::ESTALE => "ESTALE",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENOKEY => "ENOKEY",
        libc::EKEYREJECTED => "EKEYREJECTED",
        _ => return format!("errno {e}"),
    };
    name.to_string()
}

/// RFC 3339 UTC time of ns since the epoch (no time zone database needed).
pub fn rfc3339(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        (ns / 1_000_000) % 1000
    )
}

impl AuditEntry {
    /// From the ABI.
    pub fn from_abi(e: &abi::nitro_audit_entry) -> Self {
        let id = match e.op {
            _ if e.id == 0 => String::new(),
            // Host, mapping and key commands: the object is the host number.
            0x26..=0x2b => format!("host-{}", e.id),
            0x20..0x30 => fmt_id("eni-", e.id),
            _ => fmt_id("vol-", e.id),
        };
        AuditEntry {
            seq: e.seq,
            time: rfc3339(e.time_ns),
            uid: e.uid,
            op: op_name(e.op),
            id,
            result: if e.result == 0 {
                "ok".into()
            } else {
                errno_name(-e.result)
            },
        }
    }
}

/// Table of audit entries.
pub fn audit_table(v: &[AuditEntry]) -> String {
    let rows: Rows<6> = v
        .iter()
        .map(|a| {
            [
                a.seq.to_string(),
                a.time.clone(),
                a.uid.to_string(),
                a.op.into(),
                dash(&a.id),
                a.result.clone(),
            ]
        })
        .collect();
    table(&["SEQ", "TIME", "UID", "OP", "ID", "RESULT"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_from_histograms() {
        let mut h = vec![0u64; 28];
        assert_eq!(percentile_us(&h, 99), "-");
        h[3] = 98; // [4, 8) us
        h[10] = 2; // [512, 1024) us
        assert_eq!(percentile_us(&h, 50), "<8");
        assert_eq!(percentile_us(&h, 98), "<8");
        assert_eq!(percentile_us(&h, 99), "<1024");
        h[27] = 100;
        assert_eq!(percentile_us(&h, 99), ">=67108864");
    }

    #[test]
    fn sizes_and_macs() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("10G"), Ok(10 << 30));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("1T"), Ok(1 << 40));
        assert!(parse_size("10X").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert_eq!(parse_mac("02:00:00:00:00:0a"), Ok([2, 0, 0, 0, 0, 10]));
        assert!(parse_mac("02:00:00:00:00").is_err());
        assert!(parse_mac("zz:00:00:00:00:00").is_err());
        assert_eq!(parse_mac("2:0:0:0:0:A"), Ok([2, 0, 0, 0, 0, 10]));
        assert_eq!(
            parse_mac("FF:ff:Ff:00:01:fe"),
            Ok([0xff, 0xff, 0xff, 0, 1, 0xfe])
        );
        for bad in [
            "",
            "02:00:00:00:00:00:00",
            "02:00:00:00:00:",
            "02::00:00:00:00",
            "002:00:00:00:00:00",
            "+2:00:00:00:00:00",
            "02-00-00-00-00-00",
            " 02:00:00:00:00:00",
            "0x2:00:00:00:00:00",
        ] {
            assert!(
                parse_mac(bad).unwrap_err().contains("is not a MAC address"),
                "{bad:?}"
            );
        }
        assert_eq!(fmt_mac(&[2, 0, 0, 0xab, 0, 1]), "02:00:00:ab:00:01");
        assert_eq!(human_size(10 << 30), "10 GiB");
        assert_eq!(human_size(1536 << 20), "1536 MiB");
        assert_eq!(human_size(1000), "1000 B");
    }

    #[test]
    fn ids_round_trip() {
        let s = fmt_id("vol-", 0xabc);
        assert_eq!(s, "vol-00000000000000abc");
        assert_eq!(parse_id("vol-", &s), Ok(0xabc));
        assert!(parse_id("vol-", "sdf")
            .unwrap_err()
            .contains("is not an id"));
    }

    #[test]
    fn volume_rendering() {
        let mut i = abi::nitro_volume_info {
            id: 0x1234,
            kind: abi::NITRO_VOLUME_EBS,
            state: abi::NITRO_STATE_ATTACHED,
            size_bytes: 8 << 30,
            block_size: 4096,
            ..Default::default()
        };
        put_str(&mut i.device, "sdf", "device").unwrap();
        put_str(&mut i.card, "nitro_nvme.ebs0", "card").unwrap();
        let v = Volume::from_abi(&i);
        assert_eq!(
            volume_table(&[v]),
            "ID                     KIND  STATE     SIZE   BLOCK  DEVICE  NAME  CARD\n\
             vol-00000000000001234  ebs   attached  8 GiB  4096   sdf     -     nitro_nvme.ebs0\n"
        );
        let mut f = [0 as std::ffi::c_char; 4];
        assert!(put_str(&mut f, "abcd", "name").is_err());
    }

    #[test]
    fn eni_rendering() {
        let mut i = abi::nitro_eni_info {
            id: 1,
            vpc: 7,
            state: abi::NITRO_STATE_AVAILABLE,
            mac: [2, 0, 0, 0, 0, 1],
            ipv4: u32::from(Ipv4Addr::new(10, 0, 0, 5)).to_be(),
            host: 3,
            ..Default::default()
        };
        put_str(&mut i.card, "nitro_net", "card").unwrap();
        let e = Eni::from_abi(&i);
        assert_eq!(e.ipv4, "10.0.0.5");
        assert_eq!(e.mac, "02:00:00:00:00:01");
        assert_eq!(e.host, 3);
        assert!(show(&e).contains("\nhost        3\n"), "{}", show(&e));
        assert_eq!(serde_json::to_value(&e).unwrap()["host"], 3);
        assert_eq!(
            eni_table(&[e]),
            "ID                     VPC  STATE      MAC                IPV4      DEVICE  NAME  CARD       HOST\n\
             eni-00000000000000001  7    available  02:00:00:00:00:01  10.0.0.5  -       -     nitro_net  3\n"
        );
    }

    #[test]
    fn audit_rendering() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(1_796_000_000_123_000_000),
            "2026-11-30T00:53:20.123Z"
        );
        assert_eq!(rfc3339(951_782_400_000_000_000), "2000-02-29T00:00:00.000Z");
        let e = abi::nitro_audit_entry {
            seq: 3,
            op: 0x11,
            result: -libc::EBUSY,
            id: 5,
            ..Default::default()
        };
        let a = AuditEntry::from_abi(&e);
        assert_eq!(
            (a.op, a.result.as_str(), a.id.as_str()),
            ("volume-delete", "EBUSY", "vol-00000000000000005")
        );
        let e = abi::nitro_audit_entry {
            seq: 4,
            op: 0x20,
            ..Default::default()
        };
        assert_eq!(AuditEntry::from_abi(&e).id, "");
        let e = abi::nitro_audit_entry {
            seq: 5,
            op: 0x2b,
            result: -libc::ESTALE,
            id: 2,
            ..Default::default()
        };
        let a = AuditEntry::from_abi(&e);
        assert_eq!(
            (a.op, a.result.as_str(), a.id.as_str()),
            ("peer-key", "ESTALE", "host-2")
        );
        let e = abi::nitro_audit_entry {
            op: 0x26,
            result: -libc::EADDRNOTAVAIL,
            ..Default::default()
        };
        let a = AuditEntry::from_abi(&e);
        assert_eq!((a.op, a.id.as_str()), ("host-create", ""));
        assert_eq!(a.result, "EADDRNOTAVAIL");
        let e = abi::nitro_audit_entry {
            op: 0x21,
            id: 9,
            ..Default::default()
        };
        assert_eq!(AuditEntry::from_abi(&e).id, "eni-00000000000000009");
    }
}
