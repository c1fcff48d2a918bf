//! `nitroctl version`: the controller's ABI version, features and limits.

use crate::{abi, cli::GlobalOptions, error::Error};
use serde::Serialize;

/// `nitroctl version`.
pub fn run(options: &GlobalOptions) -> Result<String, Error> {
    let controller = options.open()?;
    let version = Version::from_abi(&controller.version()?);
    Ok(options.render(&version, Version::human))
}

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

/// The feature bits nitroctl knows, and their names.
const FEATURES: &[(u64, &str)] = &[
    (abi::NITRO_FEAT_STATUS as u64, "status"),
    (abi::NITRO_FEAT_VOLUMES as u64, "volumes"),
    (abi::NITRO_FEAT_ENIS as u64, "enis"),
    (abi::NITRO_FEAT_METRICS as u64, "metrics"),
    (abi::NITRO_FEAT_AUDIT as u64, "audit"),
    (abi::NITRO_FEAT_FIRMWARE as u64, "firmware"),
    (abi::NITRO_FEAT_INSTANCES as u64, "instances"),
    (abi::NITRO_FEAT_ALLOWANCES as u64, "allowances"),
    (abi::NITRO_FEAT_MAP_TABLES as u64, "map-tables"),
    (abi::NITRO_FEAT_SECURITY_GROUPS as u64, "security-groups"),
];

/// The name `nitroctl version` gives feature `bit` (one of `NITRO_FEAT_*`).
pub fn feature_name(bit: u32) -> &'static str {
    FEATURES
        .iter()
        .find(|(known, _)| *known == u64::from(bit))
        .map_or("unknown", |(_, name)| name)
}

impl Version {
    /// Builds the report from the ioctl answer.
    pub fn from_abi(version: &abi::nitro_version) -> Self {
        let known: u64 = FEATURES.iter().fold(0, |known, (bit, _)| known | bit);
        Version {
            abi_version: version.abi_version,
            nitroctl_abi_version: abi::NITRO_ABI_VERSION,
            features: FEATURES
                .iter()
                .filter(|(bit, _)| version.features & bit != 0)
                .map(|(_, name)| *name)
                .collect(),
            unknown_features: version.features & !known,
            max_cards: version.max_cards,
            max_volumes: version.max_volumes,
            max_enis: version.max_enis,
            audit_entries: version.audit_entries,
        }
    }

    /// Human-readable form.
    pub fn human(&self) -> String {
        let mut out = format!(
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
            out.push_str(&format!(
                "unknown feature bits: {:#x}\n",
                self.unknown_features
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_report() {
        let version = abi::nitro_version {
            abi_version: 1,
            features: 1 | (1 << 40),
            max_cards: 16,
            ..Default::default()
        };
        let report = Version::from_abi(&version);
        assert_eq!(report.features, vec!["status"]);
        assert_eq!(report.unknown_features, 1 << 40);
        assert!(report
            .human()
            .starts_with("controller ABI 1 (nitroctl built for ABI 1)\nfeatures: status\n"));
        assert!(report
            .human()
            .contains("unknown feature bits: 0x10000000000"));
        let version = abi::nitro_version {
            features: (abi::NITRO_FEAT_INSTANCES | abi::NITRO_FEAT_ALLOWANCES) as u64,
            ..Default::default()
        };
        let report = Version::from_abi(&version);
        assert_eq!(report.features, vec!["instances", "allowances"]);
        assert_eq!(report.unknown_features, 0);
        let version = abi::nitro_version {
            features: (abi::NITRO_FEAT_ALLOWANCES | abi::NITRO_FEAT_MAP_TABLES) as u64,
            ..Default::default()
        };
        let report = Version::from_abi(&version);
        assert_eq!(report.features, vec!["allowances", "map-tables"]);
        assert_eq!(report.unknown_features, 0);
        assert_eq!(feature_name(abi::NITRO_FEAT_MAP_TABLES), "map-tables");
        assert_eq!(feature_name(1 << 31), "unknown");
        let version = abi::nitro_version {
            features: (abi::NITRO_FEAT_MAP_TABLES | abi::NITRO_FEAT_SECURITY_GROUPS) as u64,
            ..Default::default()
        };
        let report = Version::from_abi(&version);
        assert_eq!(report.features, vec!["map-tables", "security-groups"]);
        assert_eq!(report.unknown_features, 0);
        assert_eq!(feature_name(1 << 9), "security-groups");
    }
}
