//! Turning controller answers into tables for people and JSON for scripts.

use crate::abi;
use serde::Serialize;

/// `nitroctl version` output.
#[derive(Debug, Serialize, PartialEq)]
pub struct Version {
    /// ABI version of the running controller.
    pub abi_version: u32,
    /// ABI version nitroctl was built against.
    pub nitroctl_abi_version: u32,
    /// Names of the feature bits the controller reports.
    pub features: Vec<&'static str>,
    /// Feature bits nitroctl does not know, if any.
    pub unknown_features: u64,
    /// Most cards the bus holds.
    pub max_cards: u32,
    /// Most volumes the host holds.
    pub max_volumes: u32,
    /// Most ENIs the host holds.
    pub max_enis: u32,
    /// Operations the audit log keeps.
    pub audit_entries: u32,
}

/// One card in `nitroctl status`.
#[derive(Debug, Serialize, PartialEq)]
pub struct Card {
    /// Card name, e.g. `nitro_nvme.ebs0`.
    pub name: String,
    /// Card kind (`security`, `ebs`, `instance-store`, `vpc`).
    pub kind: &'static str,
    /// Instance number among cards of its kind.
    pub index: u32,
    /// Objects the card holds.
    pub objects: u32,
    /// Requests the controller sent it.
    pub requests: u64,
    /// Requests it refused.
    pub failures: u64,
}

/// `nitroctl status` output.
#[derive(Debug, Serialize, PartialEq)]
pub struct Status {
    /// Boot gate state.
    pub gate: &'static str,
    /// Registered cards.
    pub cards: Vec<Card>,
    /// Card kinds with no card registered.
    pub missing: Vec<&'static str>,
}

const FEATURES: &[(u64, &str)] = &[
    (abi::NITRO_FEAT_STATUS as u64, "status"),
    (abi::NITRO_FEAT_VOLUMES as u64, "volumes"),
    (abi::NITRO_FEAT_ENIS as u64, "enis"),
    (abi::NITRO_FEAT_METRICS as u64, "metrics"),
    (abi::NITRO_FEAT_AUDIT as u64, "audit"),
    (abi::NITRO_FEAT_FIRMWARE as u64, "firmware"),
];

/// Name of a card kind.
pub fn kind_name(kind: u32) -> &'static str {
    match kind {
        abi::NITRO_CARD_SECURITY => "security",
        abi::NITRO_CARD_EBS => "ebs",
        abi::NITRO_CARD_INSTANCE_STORE => "instance-store",
        abi::NITRO_CARD_VPC => "vpc",
        _ => "unknown",
    }
}

/// Module that provides a card kind.
fn kind_module(kind: u32) -> &'static str {
    match kind {
        abi::NITRO_CARD_SECURITY => "nitro_sec",
        abi::NITRO_CARD_EBS | abi::NITRO_CARD_INSTANCE_STORE => "nitro_nvme",
        abi::NITRO_CARD_VPC => "nitro_net",
        _ => "?",
    }
}

/// Name of a gate state.
pub fn gate_name(gate: u32) -> &'static str {
    match gate {
        abi::NITRO_GATE_NO_CHIP => "no-chip",
        abi::NITRO_GATE_CLOSED => "closed",
        abi::NITRO_GATE_OPEN => "open",
        abi::NITRO_GATE_QUARANTINED => "quarantined",
        _ => "unknown",
    }
}

impl Version {
    /// Builds the report from the ioctl answer.
    pub fn from_abi(v: &abi::nitro_version) -> Self {
        let known: u64 = FEATURES.iter().map(|(b, _)| b).fold(0, |a, b| a | b);
        Version {
            abi_version: v.abi_version,
            nitroctl_abi_version: abi::NITRO_ABI_VERSION,
            features: FEATURES
                .iter()
                .filter(|(bit, _)| v.features & bit != 0)
                .map(|(_, n)| *n)
                .collect(),
            unknown_features: v.features & !known,
            max_cards: v.max_cards,
            max_volumes: v.max_volumes,
            max_enis: v.max_enis,
            audit_entries: v.audit_entries,
        }
    }

    /// Human-readable form.
    pub fn human(&self) -> String {
        let mut s = format!(
            "controller ABI {} (nitroctl built for ABI {})\nfeatures: {}\nlimits: {} cards, {} volumes, {} ENIs; audit log of {} operations\n",
            self.abi_version,
            self.nitroctl_abi_version,
            if self.features.is_empty() {
                "none".to_string()
            } else {
                self.features.join(", ")
            },
            self.max_cards,
            self.max_volumes,
            self.max_enis,
            self.audit_entries
        );
        if self.unknown_features != 0 {
            s.push_str(&format!(
                "unknown feature bits: {:#x}\n",
                self.unknown_features
            ));
        }
        s
    }
}

fn c_name(name: &[std::ffi::c_char]) -> String {
    let bytes: Vec<u8> = name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

impl Status {
    /// Builds the report from the ioctl answer.
    pub fn from_abi(s: &abi::nitro_status, cards: &[abi::nitro_card_info]) -> Self {
        Status {
            gate: gate_name(s.gate),
            cards: cards
                .iter()
                .map(|c| Card {
                    name: c_name(&c.name),
                    kind: kind_name(c.kind),
                    index: c.index,
                    objects: c.objects,
                    requests: c.requests,
                    failures: c.failures,
                })
                .collect(),
            missing: (1..32)
                .filter(|k| s.missing & (1 << k) != 0)
                .map(kind_name)
                .collect(),
        }
    }

    /// Human-readable form: a table of cards and what to do about gaps.
    pub fn human(&self) -> String {
        let mut out = format!("boot gate: {}\n", self.gate);
        let headers = ["CARD", "KIND", "INDEX", "OBJECTS", "REQUESTS", "FAILURES"];
        let rows: Vec<[String; 6]> = self
            .cards
            .iter()
            .map(|c| {
                [
                    c.name.clone(),
                    c.kind.to_string(),
                    c.index.to_string(),
                    c.objects.to_string(),
                    c.requests.to_string(),
                    c.failures.to_string(),
                ]
            })
            .collect();
        out.push_str(&table(&headers, &rows));
        if self.cards.is_empty() {
            out.push_str("(no cards registered)\n");
        }
        for m in &self.missing {
            let kind = (1..32).find(|&k| kind_name(k) == *m).unwrap_or(0);
            out.push_str(&format!(
                "missing: {} card (load {})\n",
                m,
                kind_module(kind)
            ));
        }
        out
    }
}

/// Rows of a table with `N` columns.
pub type Rows<const N: usize> = Vec<[String; N]>;

/// Renders rows under headers, columns padded to their widest cell.
pub fn table<const N: usize>(headers: &[&str; N], rows: &[[String; N]]) -> String {
    let mut width = [0usize; N];
    for (i, h) in headers.iter().enumerate() {
        width[i] = h.len();
    }
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == N {
                s.push_str(c);
            } else {
                s.push_str(&format!("{:<w$}  ", c, w = width[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(kind: u32, name: &str) -> abi::nitro_card_info {
        let mut c = abi::nitro_card_info {
            kind,
            ..Default::default()
        };
        for (d, s) in c.name.iter_mut().zip(name.bytes()) {
            *d = s as _;
        }
        c
    }

    #[test]
    fn status_table_and_missing() {
        let s = abi::nitro_status {
            gate: abi::NITRO_GATE_CLOSED,
            ncards: 2,
            missing: (1 << abi::NITRO_CARD_INSTANCE_STORE) | (1 << abi::NITRO_CARD_VPC),
            ..Default::default()
        };
        let cards = [
            card(abi::NITRO_CARD_SECURITY, "nitro_sec"),
            card(abi::NITRO_CARD_EBS, "nitro_nvme.ebs0"),
        ];
        let st = Status::from_abi(&s, &cards);
        assert_eq!(st.gate, "closed");
        assert_eq!(st.missing, vec!["instance-store", "vpc"]);
        let h = st.human();
        assert_eq!(
            h,
            "boot gate: closed\n\
             CARD             KIND      INDEX  OBJECTS  REQUESTS  FAILURES\n\
             nitro_sec        security  0      0        0         0\n\
             nitro_nvme.ebs0  ebs       0      0        0         0\n\
             missing: instance-store card (load nitro_nvme)\n\
             missing: vpc card (load nitro_net)\n"
        );
        let j = serde_json::to_value(&st).unwrap();
        assert_eq!(j["cards"][1]["name"], "nitro_nvme.ebs0");
        assert_eq!(j["cards"][1]["kind"], "ebs");
        assert_eq!(j["missing"][0], "instance-store");
    }

    #[test]
    fn empty_status() {
        let s = abi::nitro_status {
            missing: 0b11110,
            ..Default::default()
        };
        let st = Status::from_abi(&s, &[]);
        assert_eq!(st.gate, "no-chip");
        assert!(st.human().contains("(no cards registered)"));
        assert!(st
            .human()
            .contains("missing: security card (load nitro_sec)"));
    }

    #[test]
    fn version_report() {
        let v = abi::nitro_version {
            abi_version: 1,
            features: 1 | (1 << 40),
            max_cards: 16,
            ..Default::default()
        };
        let r = Version::from_abi(&v);
        assert_eq!(r.features, vec!["status"]);
        assert_eq!(r.unknown_features, 1 << 40);
        assert!(r
            .human()
            .starts_with("controller ABI 1 (nitroctl built for ABI 1)\nfeatures: status\n"));
        assert!(r.human().contains("unknown feature bits: 0x10000000000"));
    }
}
