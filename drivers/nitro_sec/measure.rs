// SPDX-License-Identifier: GPL-2.0

//! Measuring the host's firmware: the legacy BIOS ROM, every ACPI table and
//! the SMBIOS tables, each hashed with SHA-384 into the log and extended into
//! its register (new = SHA-384(old || digest)).

use crate::hw::{self, SHA384_LEN};
use kernel::prelude::*;
use nitro_ctrl::bus::{Measurement, Tag, FW_REGISTERS};

/// The legacy system BIOS region (the F segment).
pub(crate) const ROM_BASE: u64 = 0xf_0000;
/// Its length.
pub(crate) const ROM_LEN: usize = 0x1_0000;

/// Register of each class of component.
const REG_ROM: u32 = 0;
const REG_ACPI: u32 = 1;
const REG_SMBIOS: u32 = 2;

/// The measurement log and the registers.
pub(crate) struct Log {
    pub(crate) entries: KVec<Measurement>,
    pub(crate) regs: [[u8; SHA384_LEN]; FW_REGISTERS],
    /// The BIOS ROM bytes that were measured (empty if it was not), which
    /// the firmware store serves read-only.
    pub(crate) rom: KVec<u8>,
}

impl Log {
    fn add(&mut self, name: &[u8], reg: u32, bytes: &[u8]) -> Result {
        let digest = hw::sha384(bytes);
        let r = &mut self.regs[reg as usize];
        let mut cat = [0u8; 2 * SHA384_LEN];
        cat[..SHA384_LEN].copy_from_slice(r);
        cat[SHA384_LEN..].copy_from_slice(&digest);
        *r = hw::sha384(&cat);
        self.entries.push(
            Measurement {
                component: Tag::new(name).ok_or(EINVAL)?,
                size: bytes.len() as u64,
                reg,
                digest,
            },
            GFP_KERNEL,
        )?;
        Ok(())
    }
}

/// Appends `n` in decimal to `buf` at `len`; gives the new length.
fn push_decimal(buf: &mut [u8], mut len: usize, n: u32) -> usize {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        if len < buf.len() {
            buf[len] = d;
            len += 1;
        }
    }
    len
}

/// Measures everything. Components that cannot be read are left out of
/// the log, with a line in the kernel log saying so.
pub(crate) fn measure() -> Result<Log> {
    let mut log = Log {
        entries: KVec::new(),
        regs: [[0; SHA384_LEN]; FW_REGISTERS],
        rom: KVec::new(),
    };

    // Copy the ROM once, then measure the copy: what is served is exactly
    // what was measured.
    let mut rom = KVec::with_capacity(ROM_LEN, GFP_KERNEL)?;
    match hw::with_phys(ROM_BASE, ROM_LEN, |bytes| {
        rom.extend_from_slice(bytes, GFP_KERNEL)
    }) {
        Some(r) => {
            r?;
            log.add(b"bios-rom", REG_ROM, &rom)?;
            log.rom = rom;
        }
        None => pr_warn!(
            "BIOS ROM at {:#x} cannot be mapped: not measured\n",
            ROM_BASE
        ),
    }

    // ACPI tables, named as /sys/firmware/acpi/tables names them: the
    // signature, with an instance number when a signature occurs twice.
    let mut sigs: KVec<[u8; 4]> = KVec::new();
    let mut index = 0;
    while let Some(sig) = hw::with_acpi_table(index, |sig, _| sig) {
        sigs.push(sig, GFP_KERNEL)?;
        index += 1;
    }
    for (i, sig) in sigs.iter().enumerate() {
        let total = sigs.iter().filter(|s| *s == sig).count();
        let nth = sigs[..=i].iter().filter(|s| *s == sig).count() as u32;
        let mut name = [0u8; 24];
        name[..5].copy_from_slice(b"acpi/");
        name[5..9].copy_from_slice(sig);
        let mut len = 9;
        if total > 1 {
            len = push_decimal(&mut name, len, nth);
        }
        if let Some(r) =
            hw::with_acpi_table(i as u32, |_, bytes| log.add(&name[..len], REG_ACPI, bytes))
        {
            r?;
        }
    }

    for (path, name) in [
        (
            c"/sys/firmware/dmi/tables/smbios_entry_point",
            &b"smbios/smbios_entry_point"[..],
        ),
        (c"/sys/firmware/dmi/tables/DMI", &b"smbios/DMI"[..]),
    ] {
        match hw::with_file(path, 1 << 20, |bytes| log.add(name, REG_SMBIOS, bytes)) {
            Ok(r) => r?,
            Err(e) => pr_warn!("{:?} unreadable ({:?}): not measured\n", path, e),
        }
    }
    Ok(log)
}
