//! `nitroctl firmware`: the security chip's measurements, the allowlist
//! that opens the boot gate, and (refused) firmware updates.

use crate::{
    abi,
    cli::{status::gate_name, GlobalOptions},
    device::{sized, Controller},
    error::Error,
    output::{table, Rows},
    text_field,
};
use clap::Subcommand;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Firmware commands.
#[derive(Subcommand, Debug, PartialEq)]
pub enum FirmwareCommand {
    /// Show the measurement log, the registers and the boot gate.
    Show {
        /// Print the log as an allowlist file instead (sha384sum format).
        #[arg(long)]
        allowlist: bool,
    },
    /// Set the allowlist of known-good digests from FILE and verify.
    Allow {
        /// Lines of '[sha384:]HEX COMPONENT'; '-' for standard input.
        file: PathBuf,
    },
    /// Ask to write firmware (the security chip always refuses).
    Update {
        /// Component to write.
        #[arg(long, default_value = "bios-rom")]
        component: String,
        /// The image.
        file: PathBuf,
    },
}

/// `nitroctl firmware ...`.
pub fn run(options: &GlobalOptions, command: &FirmwareCommand) -> Result<String, Error> {
    let controller = options.open()?;
    match command {
        FirmwareCommand::Show { allowlist } => {
            let firmware = read(&controller)?;
            Ok(if *allowlist {
                firmware.allowlist()
            } else {
                options.render(&firmware, Firmware::human)
            })
        }
        FirmwareCommand::Allow { file } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(file)
            }
            .map_err(|error| cannot_read(file, error))?;
            let mut entries = parse_allowlist(&text).map_err(Error::Usage)?;
            let (gate, failed) = allow(&controller, &mut entries)?;
            if gate == abi::NITRO_GATE_OPEN {
                Ok(format!(
                    "boot gate: open ({} allowlist entries)\n",
                    entries.len()
                ))
            } else {
                Err(Error::Refused {
                    message: format!(
                        "host quarantined: firmware component {failed} does not match the allowlist; \
                         the cards stay held back until nitro_sec is reloaded"
                    ),
                    errno: libc::EACCES,
                })
            }
        }
        FirmwareCommand::Update { component, file } => {
            let mut image = std::fs::read(file).map_err(|error| cannot_read(file, error))?;
            update(&controller, component, &mut image)?;
            Ok("firmware updated\n".into())
        }
    }
}

/// The usage error of a file that cannot be read.
fn cannot_read(path: &Path, error: std::io::Error) -> Error {
    Error::Usage(format!("cannot read {}: {error}", path.display()))
}

/// One measured component.
#[derive(Serialize, Debug, PartialEq, Clone)]
pub struct Component {
    /// Position in the log.
    pub index: u32,
    /// What was measured.
    pub component: String,
    /// Extend register.
    pub register: u32,
    /// Bytes measured.
    pub size: u64,
    /// SHA-384, hex.
    pub sha384: String,
}

/// `nitroctl firmware show`.
#[derive(Serialize, Debug, PartialEq)]
pub struct Firmware {
    /// Gate state.
    pub gate: &'static str,
    /// First component that failed verification, if quarantined.
    pub failed: String,
    /// Allowlist entries.
    pub allowlist: u32,
    /// Refused firmware writes.
    pub write_attempts: u64,
    /// The extend registers, hex.
    pub registers: Vec<String>,
    /// The measurement log.
    pub log: Vec<Component>,
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

/// Reads the status and the log.
pub fn read(controller: &Controller) -> Result<Firmware, Error> {
    let mut status: abi::nitro_firmware_status = sized();
    controller.ioctl(
        "NITRO_IOC_FIRMWARE_STATUS",
        abi::NITRO_IOC_FIRMWARE_STATUS,
        &mut status,
    )?;
    let log: Vec<abi::nitro_measurement> =
        controller.list_all("NITRO_IOC_FIRMWARE_LOG", abi::NITRO_IOC_FIRMWARE_LOG, 256)?;
    Ok(Firmware {
        gate: gate_name(status.gate),
        failed: text_field::read(&status.failed),
        allowlist: status.allowlist,
        write_attempts: status.write_attempts,
        registers: status.regs[..status.nregs.min(3) as usize]
            .iter()
            .map(|register| hex(&register[..abi::NITRO_SHA384_LEN as usize]))
            .collect(),
        log: log
            .iter()
            .map(|measurement| Component {
                index: measurement.index,
                component: text_field::read(&measurement.component),
                register: measurement.reg,
                size: measurement.size_bytes,
                sha384: hex(&measurement.digest[..(measurement.digest_len as usize).min(64)]),
            })
            .collect(),
    })
}

impl Firmware {
    /// Human form.
    pub fn human(&self) -> String {
        let mut out = format!("boot gate: {}", self.gate);
        if !self.failed.is_empty() {
            out.push_str(&format!(" (component {} did not match)", self.failed));
        }
        out.push_str(&format!(
            "\nallowlist: {} entries; refused firmware writes: {}\n",
            self.allowlist, self.write_attempts
        ));
        for (index, register) in self.registers.iter().enumerate() {
            out.push_str(&format!("register {index}: {register}\n"));
        }
        let rows: Rows<5> = self
            .log
            .iter()
            .map(|component| {
                [
                    component.index.to_string(),
                    component.component.clone(),
                    component.register.to_string(),
                    component.size.to_string(),
                    component.sha384.clone(),
                ]
            })
            .collect();
        out.push_str(&table(&["#", "COMPONENT", "REG", "BYTES", "SHA384"], &rows));
        out
    }

    /// The log as an allowlist file (`sha384sum` format).
    pub fn allowlist(&self) -> String {
        use std::fmt::Write;
        self.log.iter().fold(String::new(), |mut text, component| {
            let _ = writeln!(text, "{}  {}", component.sha384, component.component);
            text
        })
    }
}

/// Parses an allowlist file: one `[sha384:]HEX  COMPONENT` per line
/// (`sha384sum` output works), `#` comments and blank lines ignored.
pub fn parse_allowlist(text: &str) -> Result<Vec<abi::nitro_allow_entry>, String> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(digest), Some(component), None) = (words.next(), words.next(), words.next())
        else {
            return Err(format!("line {number}: expected 'DIGEST COMPONENT'"));
        };
        let digest = match digest.split_once(':') {
            Some(("sha384", digest)) => digest,
            Some((algorithm, _)) => {
                return Err(format!(
                    "line {number}: unknown hash algorithm '{algorithm}'"
                ))
            }
            None => digest,
        };
        if digest.len() % 2 != 0 || digest.len() > 2 * abi::NITRO_DIGEST_MAX as usize {
            return Err(format!("line {number}: bad digest length"));
        }
        let mut entry = abi::nitro_allow_entry {
            alg: abi::NITRO_HASH_SHA384,
            digest_len: (digest.len() / 2) as u32,
            ..Default::default()
        };
        for byte in 0..digest.len() / 2 {
            entry.digest[byte] = u8::from_str_radix(&digest[2 * byte..2 * byte + 2], 16)
                .map_err(|_| format!("line {number}: digest is not hex"))?;
        }
        text_field::fill(&mut entry.component, component, "component")
            .map_err(|message| format!("line {number}: {message}"))?;
        entries.push(entry);
    }
    Ok(entries)
}

/// Sets the allowlist; gives (gate, failed component).
pub fn allow(
    controller: &Controller,
    entries: &mut [abi::nitro_allow_entry],
) -> Result<(u32, String), Error> {
    let mut allow: abi::nitro_firmware_allow = sized();
    allow.count = entries.len() as u32;
    allow.entries = if entries.is_empty() {
        0
    } else {
        entries.as_mut_ptr() as u64
    };
    allow.entry_size = std::mem::size_of::<abi::nitro_allow_entry>() as u32;
    controller
        .ioctl(
            "NITRO_IOC_FIRMWARE_ALLOW",
            abi::NITRO_IOC_FIRMWARE_ALLOW,
            &mut allow,
        )
        .map_err(|error| {
            let message = match error.errno() {
                Some(libc::EPERM) if controller.privileged() => {
                    "the host is quarantined; only reloading nitro_sec (a new measurement) clears that"
                }
                Some(libc::ENODEV) => "no security chip on the bus: load nitro_sec",
                Some(libc::EEXIST) => "the allowlist names a component twice",
                Some(libc::EINVAL) => {
                    "the allowlist has an entry the controller refuses (algorithm, digest length or name)"
                }
                _ => return error,
            };
            Error::Refused {
                message: message.into(),
                errno: error.errno().unwrap_or_default(),
            }
        })?;
    Ok((allow.gate, text_field::read(&allow.failed)))
}

/// Asks for a firmware update (always refused by the security chip).
pub fn update(controller: &Controller, component: &str, image: &mut [u8]) -> Result<(), Error> {
    let mut update: abi::nitro_firmware_update = sized();
    text_field::fill(&mut update.component, component, "component").map_err(Error::Usage)?;
    update.data = image.as_mut_ptr() as u64;
    update.len = image.len() as u64;
    controller
        .ioctl(
            "NITRO_IOC_FIRMWARE_UPDATE",
            abi::NITRO_IOC_FIRMWARE_UPDATE,
            &mut update,
        )
        .map_err(|error| match error.errno() {
            Some(libc::EPERM) if controller.privileged() => Error::Refused {
                message: "the security chip denies every firmware write (write-deny); the attempt was counted and audited".into(),
                errno: libc::EPERM,
            },
            _ => error,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{parse, refused, Command};

    #[test]
    fn allowlist_files() {
        let digest = "ab".repeat(48);
        let text = format!("# known good\n\n{digest}  bios-rom\nsha384:{digest} acpi/DSDT\n");
        let entries = parse_allowlist(&text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].digest_len, 48);
        assert_eq!(entries[0].digest[0], 0xab);
        assert_eq!(text_field::read(&entries[1].component), "acpi/DSDT");
        assert!(parse_allowlist(&format!("md5:{digest} x"))
            .unwrap_err()
            .contains("unknown hash algorithm"));
        assert!(parse_allowlist("abc x")
            .unwrap_err()
            .contains("bad digest length"));
        assert!(parse_allowlist("zz x").unwrap_err().contains("not hex"));
        assert!(parse_allowlist(&digest).unwrap_err().contains("expected"));
        assert_eq!(parse_allowlist("").unwrap().len(), 0);
        assert!(parse_allowlist(&format!("\n{digest} a b"))
            .unwrap_err()
            .starts_with("line 2: "));
    }

    #[test]
    fn show_round_trips_into_allow() {
        let firmware = Firmware {
            gate: "closed",
            failed: String::new(),
            allowlist: 0,
            write_attempts: 0,
            registers: vec![],
            log: vec![Component {
                index: 0,
                component: "bios-rom".into(),
                register: 0,
                size: 65536,
                sha384: "cd".repeat(48),
            }],
        };
        let entries = parse_allowlist(&firmware.allowlist()).unwrap();
        assert_eq!(text_field::read(&entries[0].component), "bios-rom");
        assert_eq!(entries[0].digest[47], 0xcd);
        assert!(firmware.human().contains("boot gate: closed\n"));
    }

    #[test]
    fn parses_firmware_commands() {
        assert_eq!(
            parse(&["firmware", "show", "--allowlist"]).command,
            Command::Firmware(FirmwareCommand::Show { allowlist: true })
        );
        assert_eq!(
            parse(&["firmware", "allow", "-"]).command,
            Command::Firmware(FirmwareCommand::Allow { file: "-".into() })
        );
        assert_eq!(
            parse(&["firmware", "update", "rom.bin"]).command,
            Command::Firmware(FirmwareCommand::Update {
                component: "bios-rom".into(),
                file: "rom.bin".into()
            })
        );
        assert!(refused(&["firmware", "update"]).contains("<FILE>"));
    }
}
