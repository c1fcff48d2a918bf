//! `nitroctl firmware`: the security chip's measurements, the allowlist
//! that opens the boot gate, and (refused) firmware updates.

use crate::{
    abi,
    device::{sized, Ctrl, Error},
    report::{gate_name, table, Rows},
};
use serde::Serialize;

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

fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

fn c_str(f: &[std::ffi::c_char]) -> String {
    let b: Vec<u8> = f
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&b).into_owned()
}

/// Reads the status and the log.
pub fn read(ctrl: &Ctrl) -> Result<Firmware, Error> {
    let mut st: abi::nitro_firmware_status = sized();
    ctrl.ioctl(
        "NITRO_IOC_FIRMWARE_STATUS",
        abi::NITRO_IOC_FIRMWARE_STATUS,
        &mut st,
    )?;
    let log: Vec<abi::nitro_measurement> =
        ctrl.list_all("NITRO_IOC_FIRMWARE_LOG", abi::NITRO_IOC_FIRMWARE_LOG, 256)?;
    Ok(Firmware {
        gate: gate_name(st.gate),
        failed: c_str(&st.failed),
        allowlist: st.allowlist,
        write_attempts: st.write_attempts,
        registers: st.regs[..st.nregs.min(3) as usize]
            .iter()
            .map(|r| hex(&r[..abi::NITRO_SHA384_LEN as usize]))
            .collect(),
        log: log
            .iter()
            .map(|m| Component {
                index: m.index,
                component: c_str(&m.component),
                register: m.reg,
                size: m.size_bytes,
                sha384: hex(&m.digest[..(m.digest_len as usize).min(64)]),
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
        for (i, r) in self.registers.iter().enumerate() {
            out.push_str(&format!("register {i}: {r}\n"));
        }
        let rows: Rows<5> = self
            .log
            .iter()
            .map(|c| {
                [
                    c.index.to_string(),
                    c.component.clone(),
                    c.register.to_string(),
                    c.size.to_string(),
                    c.sha384.clone(),
                ]
            })
            .collect();
        out.push_str(&table(&["#", "COMPONENT", "REG", "BYTES", "SHA384"], &rows));
        out
    }

    /// The log as an allowlist file (`sha384sum` format).
    pub fn allowlist(&self) -> String {
        use std::fmt::Write;
        self.log.iter().fold(String::new(), |mut s, c| {
            let _ = writeln!(s, "{}  {}", c.sha384, c.component);
            s
        })
    }
}

/// Parses an allowlist file: one `[sha384:]HEX  COMPONENT` per line
/// (`sha384sum` output works), `#` comments and blank lines ignored.
pub fn parse_allowlist(text: &str) -> Result<Vec<abi::nitro_allow_entry>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (Some(digest), Some(component), None) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("line {}: expected 'DIGEST COMPONENT'", n + 1));
        };
        let digest = match digest.split_once(':') {
            Some(("sha384", d)) => d,
            Some((alg, _)) => {
                return Err(format!("line {}: unknown hash algorithm '{alg}'", n + 1))
            }
            None => digest,
        };
        if digest.len() % 2 != 0 || digest.len() > 2 * abi::NITRO_DIGEST_MAX as usize {
            return Err(format!("line {}: bad digest length", n + 1));
        }
        let mut e = abi::nitro_allow_entry {
            alg: abi::NITRO_HASH_SHA384,
            digest_len: (digest.len() / 2) as u32,
            ..Default::default()
        };
        for i in 0..digest.len() / 2 {
            e.digest[i] = u8::from_str_radix(&digest[2 * i..2 * i + 2], 16)
                .map_err(|_| format!("line {}: digest is not hex", n + 1))?;
        }
        crate::objects::put_str(&mut e.component, component, "component")
            .map_err(|m| format!("line {}: {m}", n + 1))?;
        out.push(e);
    }
    Ok(out)
}

/// Sets the allowlist; gives (gate, failed component).
pub fn allow(ctrl: &Ctrl, entries: &mut [abi::nitro_allow_entry]) -> Result<(u32, String), Error> {
    let mut a: abi::nitro_firmware_allow = sized();
    a.count = entries.len() as u32;
    a.entries = if entries.is_empty() {
        0
    } else {
        entries.as_mut_ptr() as u64
    };
    a.entry_size = std::mem::size_of::<abi::nitro_allow_entry>() as u32;
    ctrl.ioctl("NITRO_IOC_FIRMWARE_ALLOW", abi::NITRO_IOC_FIRMWARE_ALLOW, &mut a)
        .map_err(|e| {
            let msg = match e.errno() {
                Some(libc::EPERM) if ctrl.privileged() => {
                    "the host is quarantined; only reloading nitro_sec (a new measurement) clears that"
                }
                Some(libc::ENODEV) => "no security chip on the bus: load nitro_sec",
                Some(libc::EEXIST) => "the allowlist names a component twice",
                Some(libc::EINVAL) => {
                    "the allowlist has an entry the controller refuses (algorithm, digest length or name)"
                }
                _ => return e,
            };
            Error::Refused {
                msg: msg.into(),
                errno: e.errno().unwrap_or_default(),
            }
        })?;
    Ok((a.gate, c_str(&a.failed)))
}

/// Asks for a firmware update (always refused by the security chip).
pub fn update(ctrl: &Ctrl, component: &str, image: &mut [u8]) -> Result<(), Error> {
    let mut u: abi::nitro_firmware_update = sized();
    crate::objects::put_str(&mut u.component, component, "component").map_err(Error::Usage)?;
    u.data = image.as_mut_ptr() as u64;
    u.len = image.len() as u64;
    ctrl.ioctl("NITRO_IOC_FIRMWARE_UPDATE", abi::NITRO_IOC_FIRMWARE_UPDATE, &mut u)
        .map_err(|e| match e.errno() {
            Some(libc::EPERM) if ctrl.privileged() => Error::Refused {
                msg: "the security chip denies every firmware write (write-deny); the attempt was counted and audited".into(),
                errno: libc::EPERM,
            },
            _ => e,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_files() {
        let d = "ab".repeat(48);
        let text = format!("# known good\n\n{d}  bios-rom\nsha384:{d} acpi/DSDT\n");
        let l = parse_allowlist(&text).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].digest_len, 48);
        assert_eq!(l[0].digest[0], 0xab);
        assert_eq!(c_str(&l[1].component), "acpi/DSDT");
        assert!(parse_allowlist(&format!("md5:{d} x"))
            .unwrap_err()
            .contains("unknown hash algorithm"));
        assert!(parse_allowlist("abc x")
            .unwrap_err()
            .contains("bad digest length"));
        assert!(parse_allowlist("zz x").unwrap_err().contains("not hex"));
        assert!(parse_allowlist(&d).unwrap_err().contains("expected"));
        assert_eq!(parse_allowlist("").unwrap().len(), 0);
    }

    #[test]
    fn show_round_trips_into_allow() {
        let f = Firmware {
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
        let l = parse_allowlist(&f.allowlist()).unwrap();
        assert_eq!(c_str(&l[0].component), "bios-rom");
        assert_eq!(l[0].digest[47], 0xcd);
        assert!(f.human().contains("boot gate: closed\n"));
    }
}
