// SPDX-License-Identifier: GPL-2.0

//! nitro_ctrl: the Nitro Controller.
//!
//! The only control surface of a nitro-rs host: the misc device
//! `/dev/nitro_ctrl` (mode 0600) with an ioctl-only interface. It owns the
//! private bus ([`bus`]) on which the cards register, and it is passive: it
//! acts only inside an ioctl and never initiates anything.
//!
//! This crate is also what the card modules link against (`--extern
//! nitro_ctrl`): the bus API and the ABI types are public.

#[path = "abi_rules.rs"]
pub mod abi_rules;
pub mod bus;
mod ioctl;
pub mod uapi;
mod user;

use kernel::{
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
};

module! {
    type: NitroCtrl,
    name: "nitro_ctrl",
    authors: ["nitro-rs developers"],
    description: "nitro-rs: the Nitro Controller (ioctl-only control plane, private bus)",
    license: "GPL",
}

/// The module: the registered misc device.
#[pin_data]
struct NitroCtrl {
    #[pin]
    _misc: MiscDeviceRegistration<CtrlFile>,
}

impl kernel::InPlaceModule for NitroCtrl {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        bus::init();
        pr_info!(
            "controller up: /dev/{} (ABI {})\n",
            "nitro_ctrl",
            uapi::NITRO_ABI_VERSION
        );
        bus::report();
        try_pin_init!(Self {
            _misc <- MiscDeviceRegistration::register(MiscDeviceOptions {
                name: c"nitro_ctrl",
            }),
        })
    }
}

/// One open file of `/dev/nitro_ctrl`. It holds no state: every ioctl is
/// self-contained, and privilege is checked on each call, not at open, so a
/// descriptor handed to an unprivileged process is useless to it.
struct CtrlFile;

#[vtable]
impl MiscDevice for CtrlFile {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        Ok(KBox::new(CtrlFile, GFP_KERNEL)?)
    }

    fn ioctl(_me: &CtrlFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        ioctl::dispatch(cmd, arg)
    }
}
