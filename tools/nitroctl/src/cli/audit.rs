//! `nitroctl audit`: the controller's log of control operations (who did
//! what to which object, when, and how it ended).

use crate::{
    abi,
    cli::{sg, GlobalOptions},
    error::Error,
    objects::ObjectKind,
    output::{or_dash, table, Rows},
};
use serde::Serialize;

/// `nitroctl audit`.
pub fn run(options: &GlobalOptions) -> Result<String, Error> {
    let controller = options.open()?;
    let entries: Vec<abi::nitro_audit_entry> =
        controller.list_all("NITRO_IOC_AUDIT", abi::NITRO_IOC_AUDIT, 1024)?;
    let entries: Vec<_> = entries.iter().map(AuditEntry::from_abi).collect();
    Ok(options.render(&entries, |entries| audit_table(entries)))
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
pub fn op_name(number: u32) -> &'static str {
    match number {
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
        0x2c => "eni-allowance",
        0x2f => "eni-groups",
        0x42 => "firmware-allow",
        0x43 => "firmware-update",
        0x70 => "sg-create",
        0x71 => "sg-delete",
        0x72 => "sg-rules",
        0x73 => "sg-list",
        _ => "unknown",
    }
}

/// Name of an errno ("errno N" for a value without one).
pub fn errno_name(errno: i32) -> String {
    crate::errno::name(errno).map_or_else(|| format!("errno {errno}"), str::to_string)
}

/// RFC 3339 UTC time of ns since the epoch (no time zone database needed).
pub fn rfc3339(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm; the
    // short names are his).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        (ns / 1_000_000) % 1000
    )
}

impl AuditEntry {
    /// From the ABI.
    pub fn from_abi(entry: &abi::nitro_audit_entry) -> Self {
        let id = match entry.op {
            _ if entry.id == 0 => String::new(),
            // Host, mapping and key commands: the object is the host number.
            0x26..=0x2b => format!("host-{}", entry.id),
            0x20..0x30 => ObjectKind::Eni.format_id(entry.id),
            // Security group commands: the group.
            0x70..0x80 => sg::format_id(entry.id),
            _ => ObjectKind::Volume.format_id(entry.id),
        };
        AuditEntry {
            seq: entry.seq,
            time: rfc3339(entry.time_ns),
            uid: entry.uid,
            op: op_name(entry.op),
            id,
            result: if entry.result == 0 {
                "ok".into()
            } else {
                errno_name(-entry.result)
            },
        }
    }
}

/// Table of audit entries.
pub fn audit_table(entries: &[AuditEntry]) -> String {
    let rows: Rows<6> = entries
        .iter()
        .map(|entry| {
            [
                entry.seq.to_string(),
                entry.time.clone(),
                entry.uid.to_string(),
                entry.op.into(),
                or_dash(&entry.id),
                entry.result.clone(),
            ]
        })
        .collect();
    table(&["SEQ", "TIME", "UID", "OP", "ID", "RESULT"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_rendering() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(1_796_000_000_123_000_000),
            "2026-11-30T00:53:20.123Z"
        );
        assert_eq!(rfc3339(951_782_400_000_000_000), "2000-02-29T00:00:00.000Z");
        let entry = abi::nitro_audit_entry {
            seq: 3,
            op: 0x11,
            result: -libc::EBUSY,
            id: 5,
            ..Default::default()
        };
        let reported = AuditEntry::from_abi(&entry);
        assert_eq!(
            (reported.op, reported.result.as_str(), reported.id.as_str()),
            ("volume-delete", "EBUSY", "vol-00000000000000005")
        );
        let entry = abi::nitro_audit_entry {
            seq: 4,
            op: 0x20,
            ..Default::default()
        };
        assert_eq!(AuditEntry::from_abi(&entry).id, "");
        let entry = abi::nitro_audit_entry {
            seq: 5,
            op: 0x2b,
            result: -libc::ESTALE,
            id: 2,
            ..Default::default()
        };
        let reported = AuditEntry::from_abi(&entry);
        assert_eq!(
            (reported.op, reported.result.as_str(), reported.id.as_str()),
            ("peer-key", "ESTALE", "host-2")
        );
        let entry = abi::nitro_audit_entry {
            op: 0x26,
            result: -libc::EADDRNOTAVAIL,
            ..Default::default()
        };
        let reported = AuditEntry::from_abi(&entry);
        assert_eq!((reported.op, reported.id.as_str()), ("host-create", ""));
        assert_eq!(reported.result, "EADDRNOTAVAIL");
        let entry = abi::nitro_audit_entry {
            op: 0x21,
            id: 9,
            ..Default::default()
        };
        assert_eq!(AuditEntry::from_abi(&entry).id, "eni-00000000000000009");
        // Allowances are audited under the ENI, not a host.
        let entry = abi::nitro_audit_entry {
            op: abi::NITRO_IOC_ENI_ALLOWANCE & 0xff,
            result: -libc::EBUSY,
            id: 9,
            ..Default::default()
        };
        let reported = AuditEntry::from_abi(&entry);
        assert_eq!(
            (reported.op, reported.id.as_str(), reported.result.as_str()),
            ("eni-allowance", "eni-00000000000000009", "EBUSY")
        );
        // An ENI's groups are audited under the ENI; a group's commands
        // under the group.
        for (command, op, id) in [
            (
                abi::NITRO_IOC_ENI_GROUPS,
                "eni-groups",
                "eni-0000000000000000a",
            ),
            (
                abi::NITRO_IOC_SG_CREATE,
                "sg-create",
                "sg-0000000000000000a",
            ),
            (
                abi::NITRO_IOC_SG_DELETE,
                "sg-delete",
                "sg-0000000000000000a",
            ),
            (abi::NITRO_IOC_SG_RULES, "sg-rules", "sg-0000000000000000a"),
            (abi::NITRO_IOC_SG_LIST, "sg-list", "sg-0000000000000000a"),
        ] {
            let entry = abi::nitro_audit_entry {
                op: command & 0xff,
                id: 10,
                ..Default::default()
            };
            let reported = AuditEntry::from_abi(&entry);
            assert_eq!((reported.op, reported.id.as_str()), (op, id));
        }
    }
}
