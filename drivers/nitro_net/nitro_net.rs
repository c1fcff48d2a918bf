// SPDX-License-Identifier: GPL-2.0

//! nitro_net: the VPC card.
//!
//! Registers the VPC card on the controller's private bus. ENIs (netdevs)
//! and the encrypted underlay are provisioned through this registration.

use kernel::{prelude::*, sync::Arc};
use nitro_ctrl::bus::{self, Card, CardKind, Registration};

module! {
    type: NitroNet,
    name: "nitro_net",
    authors: ["nitro-rs developers"],
    description: "nitro-rs: the VPC card (ENIs as netdevs)",
    license: "GPL",
}

/// The VPC card.
struct VpcCard;

impl Card for VpcCard {
    fn objects(&self) -> u32 {
        0
    }
}

/// The module: the card's registration on the bus.
struct NitroNet {
    _reg: Registration,
}

impl kernel::Module for NitroNet {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let card: Arc<dyn Card> = Arc::new(VpcCard, GFP_KERNEL)?;
        let reg = bus::register(CardKind::Vpc, "nitro_net.vpc0", card)?;
        Ok(Self { _reg: reg })
    }
}
