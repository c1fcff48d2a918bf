// SPDX-License-Identifier: GPL-2.0

//! ioctl dispatch of `/dev/nitro_ctrl`.

use crate::{
    abi_rules::{fill_name, missing_kinds, IoctlCmd},
    bus::{self, CardKind},
    uapi,
    user::{write_element, Extensible, InOut},
};
use kernel::prelude::*;

impl Extensible for uapi::nitro_version {
    const MIN: usize = uapi::NITRO_VERSION_SIZE_VER0 as usize;
    fn set_size(&mut self, size: u32) {
        self.size = size;
    }
}

impl Extensible for uapi::nitro_status {
    const MIN: usize = uapi::NITRO_STATUS_SIZE_VER0 as usize;
    fn set_size(&mut self, size: u32) {
        self.size = size;
    }
}

/// Whether the caller holds `CAP_SYS_ADMIN` in the initial user namespace.
fn capable_sys_admin() -> bool {
    // SAFETY: `capable` only reads the current task's credentials; it may be
    // called from any process context, as an ioctl handler is.
    unsafe { kernel::bindings::capable(kernel::bindings::CAP_SYS_ADMIN as i32) }
}

/// Handles one ioctl. Privilege is checked before the command is even
/// decoded, so an unprivileged caller learns nothing (not even ENOTTY).
pub(crate) fn dispatch(cmd: u32, arg: usize) -> Result<isize> {
    if !capable_sys_admin() {
        return Err(EPERM);
    }
    let c = IoctlCmd::decode(cmd);
    if c.ty != uapi::NITRO_IOCTL_TYPE {
        return Err(ENOTTY);
    }
    if c.same_command(uapi::NITRO_IOC_VERSION) {
        version(arg)
    } else if c.same_command(uapi::NITRO_IOC_STATUS) {
        status(arg)
    } else {
        Err(ENOTTY)
    }
    .map(|()| 0)
}

/// `NITRO_IOC_VERSION`.
fn version(arg: usize) -> Result {
    let mut v = InOut::<uapi::nitro_version>::read(arg)?;
    if v.val.reserved != 0 {
        return Err(EINVAL);
    }
    v.val.abi_version = uapi::NITRO_ABI_VERSION;
    v.val.features = u64::from(uapi::NITRO_FEAT_STATUS);
    v.val.max_cards = bus::MAX_CARDS as u32;
    v.write_back()
}

/// `NITRO_IOC_STATUS`.
fn status(arg: usize) -> Result {
    let mut s = InOut::<uapi::nitro_status>::read(arg)?;
    // Output-only fields must come in as zero, like reserved ones: a caller
    // that sets them is confused about the ABI.
    if s.val.gate != 0 || s.val.ncards != 0 || s.val.missing != 0 {
        return Err(EINVAL);
    }
    if s.val.cards == 0 && s.val.cards_cap != 0 {
        return Err(EINVAL);
    }
    let cards = bus::snapshot()?;
    let min = uapi::NITRO_CARD_INFO_SIZE_VER0 as usize;
    for (i, c) in cards.iter().enumerate().take(s.val.cards_cap as usize) {
        let mut info = uapi::nitro_card_info {
            kind: c.kind as u32,
            index: c.index,
            requests: c.requests,
            failures: c.failures,
            objects: c.objects,
            ..Default::default()
        };
        let name = core::str::from_utf8(&c.name[..c.name_len]).unwrap_or("");
        // In the kernel `c_char` is `u8`: the field is a byte array.
        fill_name(&mut info.name, name);
        write_element(s.val.cards, i as u32, s.val.card_size, min, &info)?;
    }
    let has_chip = cards.iter().any(|c| c.kind == CardKind::Security);
    s.val.gate = if has_chip {
        uapi::NITRO_GATE_CLOSED
    } else {
        uapi::NITRO_GATE_NO_CHIP
    };
    s.val.ncards = cards.len() as u32;
    s.val.missing = missing_kinds(cards.iter().map(|c| c.kind as u32), uapi::NITRO_CARD_VPC);
    s.write_back()
}
