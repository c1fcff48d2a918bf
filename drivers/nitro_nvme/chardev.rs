// SPDX-License-Identifier: GPL-2.0

//! The per-controller character device `/dev/nitro<N>`, beside the disk
//! `nitro<N>n1`, as the nvme driver has `/dev/nvme<N>` beside `nvme<N>n1`:
//! it takes the controller-level passthrough ioctls (`NVME_IOCTL_ADMIN_CMD`,
//! `NVME_IOCTL_ADMIN64_CMD`, and `NVME_IOCTL_IO_CMD`/`IO64_CMD` on the one
//! namespace), so `nvme id-ctrl /dev/nitro0` works. It has no read, write or
//! mmap. A descriptor kept open after detach still reaches the volume (it
//! holds a reference), and pins the module.

use crate::{ffi, nvme, volume::Volume};
use kernel::{
    container_of,
    fs::File,
    id_pool::IdPool,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// Most volumes attached at once, on both cards: the numbers `N` of their
/// devices (`nitro<N>n1`, `/dev/nitro<N>`) are below this.
pub(crate) const MAX_ATTACHED: usize = 1024;

/// Bytes of the longest controller device name, `nitro1023`, with its NUL.
const NAME_LEN: usize = 10;

/// The controller devices' names, `nitro0` to `nitro1023`, NUL-padded: a
/// misc device keeps a pointer to its name while it is registered, so the
/// names are in static storage, made when the module is compiled.
static NAMES: [[u8; NAME_LEN]; MAX_ATTACHED] = names();

/// [`NAMES`].
const fn names() -> [[u8; NAME_LEN]; MAX_ATTACHED] {
    const PREFIX: &[u8] = b"nitro";
    let mut t = [[0u8; NAME_LEN]; MAX_ATTACHED];
    let mut i = 0;
    while i < MAX_ATTACHED {
        let mut j = 0;
        while j < PREFIX.len() {
            t[i][j] = PREFIX[j];
            j += 1;
        }
        let (mut digits, mut k, mut n) = ([0u8; NAME_LEN], 0, i);
        loop {
            digits[k] = b'0' + (n % 10) as u8;
            k += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        while k > 0 {
            k -= 1;
            t[i][j] = digits[k];
            j += 1;
        }
        i += 1;
    }
    t
}

/// The numbers of the attached volumes' devices, shared by both cards so
/// that names never collide. A number is free again once the devices that
/// had it are gone, as the nvme driver reuses its instance numbers.
#[pin_data]
pub(crate) struct Numbers {
    #[pin]
    pool: Mutex<IdPool>,
}

impl Numbers {
    /// No number taken.
    pub(crate) fn new() -> Result<Arc<Self>> {
        let pool = IdPool::with_capacity(MAX_ATTACHED, GFP_KERNEL)?;
        Arc::pin_init(
            pin_init!(Self {
                pool <- new_mutex!(pool, "nitro_nvme::numbers"),
            }),
            GFP_KERNEL,
        )
    }

    /// The lowest free number; `ENOSPC` if [`MAX_ATTACHED`] are taken.
    pub(crate) fn take(self: &Arc<Self>) -> Result<Number> {
        let mut pool = self.pool.lock();
        let id = pool.find_unused_id(0).ok_or(ENOSPC)?;
        if id.as_usize() >= MAX_ATTACHED {
            return Err(ENOSPC);
        }
        Ok(Number {
            value: id.acquire(),
            numbers: self.clone(),
        })
    }
}

/// A number taken from [`Numbers`], given back when dropped (after the
/// devices named with it).
pub(crate) struct Number {
    value: usize,
    numbers: Arc<Numbers>,
}

impl Number {
    /// The number.
    pub(crate) fn get(&self) -> usize {
        self.value
    }

    /// `nitro<N>`, the controller device's name.
    fn name(&self) -> &'static CStr {
        // The number is below MAX_ATTACHED (`take`), and every name has its NUL.
        NAMES
            .get(self.value)
            .and_then(|b| CStr::from_bytes_until_nul(b).ok())
            .unwrap_or(c"nitro")
    }
}

impl Drop for Number {
    fn drop(&mut self) {
        self.numbers.pool.lock().release_id(self.value);
    }
}

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
}

impl CtrlDev {
    /// Registers `/dev/nitro<N>` for `vol`, attached as `device`, `N` being
    /// `number`.
    pub(crate) fn new(
        number: &Number,
        vol: &Arc<Volume>,
        device: nitro_ctrl::bus::DevName,
        model: &'static str,
    ) -> Result<Pin<KBox<Self>>> {
        KBox::try_pin_init(
            try_pin_init!(Self {
                reg <- MiscDeviceRegistration::register(MiscDeviceOptions {
                    name: number.name(),
                }),
                file: CtrlFile {
                    vol: vol.clone(),
                    device,
                    model,
                },
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
        if !unsafe { ffi::capable(ffi::CAP_SYS_ADMIN as i32) } {
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
