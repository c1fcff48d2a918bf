//! `nitroctl status`: the cards on the private bus, the card kinds missing
//! from it, and the boot gate.

use crate::{
    abi,
    cli::GlobalOptions,
    error::Error,
    output::{table, Rows},
    text_field,
};
use serde::Serialize;

/// `nitroctl status`.
pub fn run(options: &GlobalOptions) -> Result<String, Error> {
    let controller = options.open()?;
    let (status, cards) = controller.status()?;
    Ok(options.render(&Status::from_abi(&status, &cards), Status::human))
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

/// Name of a boot gate state.
pub fn gate_name(gate: u32) -> &'static str {
    match gate {
        abi::NITRO_GATE_NO_CHIP => "no-chip",
        abi::NITRO_GATE_CLOSED => "closed",
        abi::NITRO_GATE_OPEN => "open",
        abi::NITRO_GATE_QUARANTINED => "quarantined",
        _ => "unknown",
    }
}

impl Status {
    /// Builds the report from the ioctl answer.
    pub fn from_abi(status: &abi::nitro_status, cards: &[abi::nitro_card_info]) -> Self {
        Status {
            gate: gate_name(status.gate),
            cards: cards
                .iter()
                .map(|card| Card {
                    name: text_field::read(&card.name),
                    kind: kind_name(card.kind),
                    index: card.index,
                    objects: card.objects,
                    requests: card.requests,
                    failures: card.failures,
                })
                .collect(),
            missing: (1..32)
                .filter(|kind| status.missing & (1 << kind) != 0)
                .map(kind_name)
                .collect(),
        }
    }

    /// Human-readable form: a table of cards and what to do about gaps.
    pub fn human(&self) -> String {
        let mut out = format!("boot gate: {}\n", self.gate);
        let rows: Rows<6> = self
            .cards
            .iter()
            .map(|card| {
                [
                    card.name.clone(),
                    card.kind.to_string(),
                    card.index.to_string(),
                    card.objects.to_string(),
                    card.requests.to_string(),
                    card.failures.to_string(),
                ]
            })
            .collect();
        out.push_str(&table(
            &["CARD", "KIND", "INDEX", "OBJECTS", "REQUESTS", "FAILURES"],
            &rows,
        ));
        if self.cards.is_empty() {
            out.push_str("(no cards registered)\n");
        }
        for missing in &self.missing {
            let kind = (1..32)
                .find(|&kind| kind_name(kind) == *missing)
                .unwrap_or(0);
            out.push_str(&format!(
                "missing: {} card (load {})\n",
                missing,
                kind_module(kind)
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(kind: u32, name: &str) -> abi::nitro_card_info {
        let mut card = abi::nitro_card_info {
            kind,
            ..Default::default()
        };
        for (slot, byte) in card.name.iter_mut().zip(name.bytes()) {
            *slot = byte as _;
        }
        card
    }

    #[test]
    fn status_table_and_missing() {
        let status = abi::nitro_status {
            gate: abi::NITRO_GATE_CLOSED,
            ncards: 2,
            missing: (1 << abi::NITRO_CARD_INSTANCE_STORE) | (1 << abi::NITRO_CARD_VPC),
            ..Default::default()
        };
        let cards = [
            card(abi::NITRO_CARD_SECURITY, "nitro_sec"),
            card(abi::NITRO_CARD_EBS, "nitro_nvme.ebs0"),
        ];
        let report = Status::from_abi(&status, &cards);
        assert_eq!(report.gate, "closed");
        assert_eq!(report.missing, vec!["instance-store", "vpc"]);
        assert_eq!(
            report.human(),
            "boot gate: closed\n\
             CARD             KIND      INDEX  OBJECTS  REQUESTS  FAILURES\n\
             nitro_sec        security  0      0        0         0\n\
             nitro_nvme.ebs0  ebs       0      0        0         0\n\
             missing: instance-store card (load nitro_nvme)\n\
             missing: vpc card (load nitro_net)\n"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["cards"][1]["name"], "nitro_nvme.ebs0");
        assert_eq!(json["cards"][1]["kind"], "ebs");
        assert_eq!(json["missing"][0], "instance-store");
    }

    #[test]
    fn empty_status() {
        let status = abi::nitro_status {
            missing: 0b11110,
            ..Default::default()
        };
        let report = Status::from_abi(&status, &[]);
        assert_eq!(report.gate, "no-chip");
        assert!(report.human().contains("(no cards registered)"));
        assert!(report
            .human()
            .contains("missing: security card (load nitro_sec)"));
    }
}
