// SPDX-License-Identifier: GPL-2.0

//! The per-controller character device `/dev/nitro<N>`, beside the disk
//! `nitro<N>n1`, as the nvme driver has `/dev/nvme<N>` beside `nvme<N>n1`:
//! it takes the controller-level passthrough ioctls (`NVME_IOCTL_ADMIN_CMD`,
//! `NVME_IOCTL_ADMIN64_CMD`, and `NVME_IOCTL_IO_CMD`/`IO64_CMD` on the one
//! namespace), so `nvme id-ctrl /dev/nitro0` works. It has no read, write or
//! mmap. A descriptor kept open after detach still reaches the volume (it
//! holds a reference), and pins the module.

use crate::{nvme, volume::Volume};
use kernel::{
    bindings, container_of,
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
    str::CString,
    sync::Arc,
};

/// What an open descriptor of the device reaches.
#[derive(Clone)]
pub(crate) struct CtrlFile {
    vol: Arc<Volume>,
    /// The attachment's device name (`sdf`).
    device: nitro_ctrl::bus::DevName,
    model: &'static str,
}

/// A registered `/dev/nitro<N>`; dropping it removes the device node (open
/// descriptors keep working).
#[pin_data]
pub(crate) struct CtrlDev {
    #[pin]
    reg: MiscDeviceRegistration<CtrlFile>,
    file: CtrlFile,
    /// The name the registration points to: dropped after it.
    _name: CString,
}

impl CtrlDev {
    /// Registers `/dev/<name>` for `vol`, attached as `device`.
    pub(crate) fn new(
        name: CString,
        vol: &Arc<Volume>,
        device: nitro_ctrl::bus::DevName,
        model: &'static str,
    ) -> Result<Pin<KBox<Self>>> {
        // The name's bytes live in the `CString`'s own allocation, which
        // moves into the struct and is freed only after the registration
        // (declared before it) is dropped, which deregisters the device.
        // SAFETY: the name outlives every use of it (see above).
        let sname: &'static CStr = unsafe { &*core::ptr::from_ref::<CStr>(&name) };
        KBox::try_pin_init(
            try_pin_init!(Self {
                reg <- MiscDeviceRegistration::register(MiscDeviceOptions { name: sname }),
                file: CtrlFile {
                    vol: vol.clone(),
                    device,
                    model,
                },
                _name: name,
            }),
            GFP_KERNEL,
        )
    }
}

#[vtable]
impl MiscDevice for CtrlFile {
    type Ptr = KBox<CtrlFile>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<KBox<CtrlFile>> {
        // Every registration of `CtrlFile` is the `reg` field of a `CtrlDev`,
        // and misc_deregister waits for opens in progress.
        // SAFETY: `misc` is inside a live `CtrlDev` for this call.
        let dev = unsafe { &*container_of!(core::ptr::from_ref(misc), CtrlDev, reg) };
        Ok(KBox::new(dev.file.clone(), GFP_KERNEL)?)
    }

    fn ioctl(me: &CtrlFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        // As the nvme driver: passthrough is for CAP_SYS_ADMIN only.
        // SAFETY: `capable` may be called from any process context.
        if !unsafe { bindings::capable(bindings::CAP_SYS_ADMIN as i32) } {
            return Err(EACCES);
        }
        let ctrl = nvme::Controller {
            vol: &me.vol,
            device: me.device.as_str(),
            model: me.model,
        };
        nvme::ctrl_ioctl(&ctrl, cmd, arg).map(|v| v as isize)
    }
}
