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
mod audit;
pub mod bus;
mod controller;
pub mod gate;
mod groups;
mod instances;
mod ioctl;
mod kapi;
pub mod lifecycle;
mod registry;
pub mod sg_rules;
pub mod state;
pub mod uapi;
mod user;
pub mod wq;

pub use controller::lockdep_probe;

use controller::{Controller, Published};
use kernel::{
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
    sync::Arc,
};

module! {
    type: NitroCtrl,
    name: "nitro_ctrl",
    authors: ["nitro-rs developers"],
    description: "nitro-rs: the Nitro Controller (ioctl-only control plane, private bus)",
    license: "GPL",
    params: {
        max_volumes: u32 {
            default: 16384,
            description: "Most volumes the host holds (1 to 1048576)",
        },
        max_enis: u32 {
            default: 4096,
            description: "Most ENIs the host holds (1 to 1048576)",
        },
    },
}

/// The module: the controller, published for the cards, and the misc
/// device, registered last (so that no ioctl arrives before the controller
/// exists) and removed first (fields drop in declaration order).
#[pin_data]
struct NitroCtrl {
    #[pin]
    _misc: MiscDeviceRegistration<CtrlFile>,
    _published: Published,
}

/// A limit from a module parameter, checked.
fn limit(value: u32, what: &str) -> Result<usize> {
    if (1..=1 << 20).contains(&value) {
        Ok(value as usize)
    } else {
        pr_err!("{} must be between 1 and 1048576, not {}\n", what, value);
        Err(EINVAL)
    }
}

/// Makes the controller and publishes it for the cards.
fn start() -> Result<Published> {
    let max_volumes = limit(module_parameters::max_volumes.value(), "max_volumes")?;
    let max_enis = limit(module_parameters::max_enis.value(), "max_enis")?;
    let ctrl = Controller::new(max_volumes, max_enis)?;
    let published = Published::new(&ctrl)?;
    pr_info!(
        "controller up: /dev/{} (ABI {}), at most {} volumes and {} ENIs\n",
        "nitro_ctrl",
        uapi::NITRO_ABI_VERSION,
        max_volumes,
        max_enis
    );
    ctrl.bus.report();
    Ok(published)
}

impl kernel::InPlaceModule for NitroCtrl {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _published: start()?,
            _misc <- MiscDeviceRegistration::register(MiscDeviceOptions {
                name: c"nitro_ctrl",
            }),
        })
    }
}

/// One open file of `/dev/nitro_ctrl`: a reference to the controller and a
/// token naming the file (a hypervisor is the file it registered with).
/// Every ioctl is self-contained, and privilege is checked on each call,
/// not at open, so a descriptor handed to an unprivileged process is
/// useless to it.
struct CtrlFile {
    ctrl: Arc<Controller>,
    token: u64,
}

impl Drop for CtrlFile {
    fn drop(&mut self) {
        // The file is closed: if it was a hypervisor's, that one is gone.
        instances::hv_gone(&self.ctrl, self.token);
    }
}

#[vtable]
impl MiscDevice for CtrlFile {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        let ctrl = controller::current()?;
        let token = ctrl.next_file_token();
        Ok(KBox::new(CtrlFile { ctrl, token }, GFP_KERNEL)?)
    }

    fn ioctl(me: &CtrlFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        ioctl::dispatch(&me.ctrl, me.token, cmd, arg)
    }
}
