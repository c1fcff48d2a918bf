// SPDX-License-Identifier: GPL-2.0

//! nitro_nvme: the EBS and instance-storage cards.
//!
//! Registers two cards on the controller's private bus, one for EBS volumes
//! and one for instance storage. Volumes themselves (NVMe block devices with
//! AES-256-XTS inside the card) are provisioned through these registrations.

use kernel::{prelude::*, sync::Arc};
use nitro_ctrl::bus::{self, Card, CardKind, Registration};

module! {
    type: NitroNvme,
    name: "nitro_nvme",
    authors: ["nitro-rs developers"],
    description: "nitro-rs: EBS and instance-storage cards (NVMe block devices)",
    license: "GPL",
}

/// One block card: EBS or instance storage.
struct BlockCard;

impl Card for BlockCard {
    fn objects(&self) -> u32 {
        0
    }
}

/// The module: both cards' registrations. Fields drop in declaration order,
/// so the cards leave the bus in the reverse of the order they joined.
struct NitroNvme {
    _instance: Registration,
    _ebs: Registration,
}

impl kernel::Module for NitroNvme {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let ebs: Arc<dyn Card> = Arc::new(BlockCard, GFP_KERNEL)?;
        let instance: Arc<dyn Card> = Arc::new(BlockCard, GFP_KERNEL)?;
        let ebs = bus::register(CardKind::Ebs, "nitro_nvme.ebs0", ebs)?;
        // On failure `ebs` drops here and leaves the bus again.
        let instance = bus::register(CardKind::InstanceStore, "nitro_nvme.instance0", instance)?;
        Ok(Self {
            _instance: instance,
            _ebs: ebs,
        })
    }
}
