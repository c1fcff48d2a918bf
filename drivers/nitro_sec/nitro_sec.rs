// SPDX-License-Identifier: GPL-2.0

//! nitro_sec: the security chip.
//!
//! Registers the host's security chip on the controller's private bus. Its
//! firmware measurement, write-deny and boot gate are built on this
//! registration (see Documentation/security.rst); until the chip is on the
//! bus the controller reports the gate as `no-chip` and holds the cards back.

use kernel::{prelude::*, sync::Arc};
use nitro_ctrl::bus::{self, Card, CardKind, Registration};

module! {
    type: NitroSec,
    name: "nitro_sec",
    authors: ["nitro-rs developers"],
    description: "nitro-rs: the security chip (firmware measurement, boot gate)",
    license: "GPL",
}

/// The chip's state as the controller sees it.
struct SecurityChip;

impl Card for SecurityChip {
    fn objects(&self) -> u32 {
        0
    }
}

/// The module: the chip's registration on the bus.
struct NitroSec {
    _reg: Registration,
}

impl kernel::Module for NitroSec {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let chip: Arc<dyn Card> = Arc::new(SecurityChip, GFP_KERNEL)?;
        let reg = bus::register(CardKind::Security, "nitro_sec", chip)?;
        Ok(Self { _reg: reg })
    }
}
