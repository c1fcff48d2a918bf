// SPDX-License-Identifier: GPL-2.0

//! `NITRO_IOC_FIRMWARE_*`: the security chip's measurements, the allowlist
//! that opens the boot gate, and the refused updates.

use super::{ensure, field};
use crate::{
    abi_rules::all_zero,
    bus::{CardKind, SHA384_LEN},
    controller::Controller,
    gate, state, uapi,
    user::{read_element, InOut},
};
use kernel::{prelude::*, transmute::AsBytes};

/// `NITRO_IOC_FIRMWARE_STATUS`.
pub(super) fn status(ctrl: &Controller, arg: usize) -> Result {
    let mut f = InOut::<uapi::nitro_firmware_status>::read(arg)?;
    ensure(all_zero(&f.val.as_bytes()[4..]))?;
    let (state, allowlist, writes, failed) = ctrl.gate.status();
    let v = &mut f.val;
    v.gate = state;
    v.allowlist = allowlist as u32;
    v.write_attempts = writes;
    v.failed = *failed.raw();
    v.alg = uapi::NITRO_HASH_SHA384;
    v.nregs = uapi::NITRO_FW_REGISTERS;
    if let Ok(chip) = ctrl.bus.card_for(CardKind::Security) {
        v.measurements = chip.measurements()?.len() as u32;
        for (dst, src) in v.regs.iter_mut().zip(chip.registers().iter()) {
            dst[..SHA384_LEN].copy_from_slice(src);
        }
    }
    f.write_back()
}

/// `NITRO_IOC_FIRMWARE_LOG`.
pub(super) fn log(ctrl: &Controller, arg: usize) -> Result {
    super::list(arg, uapi::NITRO_MEASUREMENT_SIZE_VER0, |after, cap| {
        let log = match ctrl.bus.card_for(CardKind::Security) {
            Ok(chip) => chip.measurements()?,
            Err(_) => KVec::new(),
        };
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        let mut out = KVVec::with_capacity(cap.min(log.len()), GFP_KERNEL)?;
        for (i, m) in log.iter().enumerate().skip(start).take(cap) {
            let mut e = uapi::nitro_measurement {
                index: i as u32,
                alg: uapi::NITRO_HASH_SHA384,
                size_bytes: m.size,
                component: *m.component.raw(),
                reg: m.reg,
                digest_len: SHA384_LEN as u32,
                ..Default::default()
            };
            e.digest[..SHA384_LEN].copy_from_slice(&m.digest);
            out.push((i as u64 + 1, e), GFP_KERNEL)?;
        }
        let more = start.saturating_add(cap) < log.len();
        Ok((out, more))
    })
}

/// Bytes allowed in a firmware component name: a name byte or `/`.
fn component_byte(b: u8) -> bool {
    state::name_byte(b) || b == b'/'
}

/// `NITRO_IOC_FIRMWARE_ALLOW`: audited with object id 0.
pub(super) fn allow(ctrl: &Controller, arg: usize) -> (u64, Result) {
    let r = (|| -> Result {
        let mut a = InOut::<uapi::nitro_firmware_allow>::read(arg)?;
        ensure(a.val.gate == 0 && all_zero(&a.val.failed))?;
        ensure(a.val.count <= uapi::NITRO_ALLOW_MAX)?;
        ensure(a.val.entries != 0 || a.val.count == 0)?;
        let list = read_allowlist(a.val.entries, a.val.count, a.val.entry_size)?;
        a.probe_writable()?;
        let (state, failed) = gate::allow(ctrl, list)?;
        a.val.gate = state;
        a.val.failed = *failed.raw();
        a.write_back()
    })();
    (0, r)
}

/// Reads and checks an allowlist from userspace.
fn read_allowlist(base: u64, count: u32, esize: u32) -> Result<KVec<gate::Allowed>> {
    let mut list = KVec::with_capacity(count as usize, GFP_KERNEL)?;
    for i in 0..count {
        let e: uapi::nitro_allow_entry =
            read_element(base, i, esize, uapi::NITRO_ALLOW_ENTRY_SIZE_VER0 as usize)?;
        ensure(e.alg == uapi::NITRO_HASH_SHA384)?;
        ensure(e.digest_len == uapi::NITRO_SHA384_LEN)?;
        ensure(all_zero(&e.digest[SHA384_LEN..]))?;
        let component = field(&e.component, component_byte)?;
        ensure(!component.is_empty())?;
        if list
            .iter()
            .any(|a: &gate::Allowed| a.component == component)
        {
            return Err(EEXIST);
        }
        let mut digest = [0u8; SHA384_LEN];
        digest.copy_from_slice(&e.digest[..SHA384_LEN]);
        list.push(gate::Allowed { component, digest }, GFP_KERNEL)?;
    }
    Ok(list)
}

/// `NITRO_IOC_FIRMWARE_UPDATE`: the security chip denies every firmware
/// write. There is no code path that writes firmware: the request is
/// counted, logged and refused, whatever it contains.
pub(super) fn update(ctrl: &Controller, _arg: usize) -> (u64, Result) {
    (0, Err(ctrl.gate.write_refused("the update ioctl")))
}
