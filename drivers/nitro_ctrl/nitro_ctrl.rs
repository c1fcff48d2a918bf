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
pub mod gate;
mod ioctl;
mod kapi;
mod registry;
pub mod state;
pub mod uapi;
mod user;
pub mod wq;

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

/// The module: the controller's state (statics, set up by [`Setup`]) and
/// the registered misc device, which comes last so that no ioctl can arrive
/// before the state exists.
#[pin_data(PinnedDrop)]
struct NitroCtrl {
    _setup: Setup,
    #[pin]
    _misc: MiscDeviceRegistration<CtrlFile>,
}

/// Proof that the bus, the registry and the audit ring are initialised.
struct Setup;

impl Setup {
    fn new() -> Result<Self> {
        let max_volumes = limit(module_parameters::max_volumes.value(), "max_volumes")?;
        let max_enis = limit(module_parameters::max_enis.value(), "max_enis")?;
        bus::init();
        gate::init();
        registry::init(max_volumes, max_enis);
        audit::init()?;
        pr_info!(
            "controller up: /dev/{} (ABI {}), at most {} volumes and {} ENIs\n",
            "nitro_ctrl",
            uapi::NITRO_ABI_VERSION,
            max_volumes,
            max_enis
        );
        bus::report();
        Ok(Setup)
    }
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

impl kernel::InPlaceModule for NitroCtrl {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _setup: Setup::new()?,
            _misc <- MiscDeviceRegistration::register(MiscDeviceOptions {
                name: c"nitro_ctrl",
            }),
        })
    }
}

#[pinned_drop]
impl PinnedDrop for NitroCtrl {
    fn drop(self: Pin<&mut Self>) {
        // The statics outlive the module: free what they hold.
        registry::clear();
        audit::clear();
        gate::clear();
        bus::clear();
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
