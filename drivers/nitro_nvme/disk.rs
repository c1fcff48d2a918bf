// SPDX-License-Identifier: GPL-2.0

//! A volume's disk: blk-mq on the kernel's `TagSet`, with a gendisk of our
//! own, because kernel 7.3's `GenDiskBuilder` offers no ioctl, no module
//! owner, no discard limits and no `free_disk`. The NVMe passthrough ioctls
//! reach [`crate::nvme`]; an open disk pins the module; what the disk needs
//! (the volume, the tag set) is freed only when its last reference goes
//! (`free_disk`), so an ioctl on a descriptor kept open after detach is
//! still safe. The disk's operations and its "nitro" sysfs attribute group
//! (for udev) are statics of the kernel's types, built here: C names no Rust
//! function.

use crate::{
    ffi, nvme,
    volume::{Disk, Volume},
};
use core::ffi::c_void;
use kernel::{
    block::mq::TagSet,
    container_of,
    error::from_err_ptr,
    ffi::{c_char, c_int, c_uint, c_ulong},
    prelude::*,
    static_lock_class,
    str::as_char_ptr_in_const_context,
    sync::Arc,
    types::ForeignOwnable,
};

/// A table the kernel reads (operations, sysfs attributes): a static that
/// nothing writes.
#[repr(transparent)]
struct Table<T>(T);

// SAFETY: Every `Table` is a static that nothing writes; the pointers in
// it lead to other such statics and to functions.
unsafe impl<T> Sync for Table<T> {}

/// The block device operations of every volume disk, with the module as
/// owner (an open disk pins it).
static FOPS: Table<ffi::block_device_operations> = Table(ffi::block_device_operations {
    ioctl: Some(ioctl_callback),
    free_disk: Some(free_disk_callback),
    owner: kernel::module::this_module::<crate::LocalModule>().as_ptr(),
    ..pin_init::zeroed()
});

/// The attributes of a disk's "nitro" sysfs directory, for udev: which is
/// which to [`show`].
const ATTR_SERIAL: u8 = 0;
const ATTR_MODEL: u8 = 1;
const ATTR_DEVICE: u8 = 2;
const ATTR_VOLUME: u8 = 3;

/// A read-only (0444) attribute `name`, shown by `show::<A>`.
const fn attr<const A: u8>(name: &'static CStr) -> Table<ffi::device_attribute> {
    Table(ffi::device_attribute {
        attr: ffi::attribute {
            name: as_char_ptr_in_const_context(name),
            mode: ffi::S_IRUGO as ffi::umode_t,
            ..pin_init::zeroed()
        },
        __bindgen_anon_1: ffi::device_attribute__bindgen_ty_1 {
            show_const: Some(show::<A>),
        },
        ..pin_init::zeroed()
    })
}

static SERIAL: Table<ffi::device_attribute> = attr::<ATTR_SERIAL>(c"serial");
static MODEL: Table<ffi::device_attribute> = attr::<ATTR_MODEL>(c"model");
static DEVICE: Table<ffi::device_attribute> = attr::<ATTR_DEVICE>(c"device");
static VOLUME: Table<ffi::device_attribute> = attr::<ATTR_VOLUME>(c"volume");

/// The attributes, NULL-terminated.
static ATTRS: Table<[*const ffi::attribute; 5]> = Table([
    &SERIAL.0.attr,
    &MODEL.0.attr,
    &DEVICE.0.attr,
    &VOLUME.0.attr,
    core::ptr::null(),
]);

/// The "nitro" directory.
static GROUP: Table<ffi::attribute_group> = Table(ffi::attribute_group {
    name: as_char_ptr_in_const_context(c"nitro"),
    __bindgen_anon_2: ffi::attribute_group__bindgen_ty_2 {
        attrs_const: ATTRS.0.as_ptr(),
    },
    ..pin_init::zeroed()
});

/// The disk's attribute groups, NULL-terminated.
static GROUPS: Table<[*const ffi::attribute_group; 2]> = Table([&GROUP.0, core::ptr::null()]);

/// Requests in flight per hardware queue.
const QUEUE_DEPTH: u32 = 64;
/// Largest discard or write-zeroes request, in sectors: 2 GiB in RAM
/// (pages are only forgotten), 8 MiB on a backing store (each block is
/// written, encrypted, within the request's time).
const MAX_ZERO_SECTORS: u32 = 1 << 22;
const EBS_MAX_ZERO_SECTORS: u32 = 1 << 14;

/// What a disk holds until it is freed (`gendisk.private_data`).
struct DiskData {
    /// The volume as `queuedata` (an `Arc<Volume>` made foreign).
    queuedata: *mut c_void,
    /// The tag set, freed after the queue (in `free_disk`).
    _tagset: Arc<TagSet<Disk>>,
    /// The attachment's device name (`sdf`), NUL-padded.
    device: [u8; 32],
    model: &'static str,
}

/// An attached volume's disk; dropping it removes the disk.
pub(crate) struct NvmeDisk {
    gendisk: *mut ffi::gendisk,
}

// SAFETY: the card only creates and drops the disk, from process context;
// `del_gendisk` and `put_disk` may run on any thread.
unsafe impl Send for NvmeDisk {}
// SAFETY: `NvmeDisk` has no method taking `&self`.
unsafe impl Sync for NvmeDisk {}

impl NvmeDisk {
    /// Creates and adds the disk `name` of `vol`, attached as `device`.
    pub(crate) fn new(
        vol: &Arc<Volume>,
        name: &CStr,
        device: &str,
        model: &'static str,
    ) -> Result<Self> {
        let tagset = Arc::pin_init(
            TagSet::new(kernel::cpu::nr_cpu_ids(), QUEUE_DEPTH, 1),
            GFP_KERNEL,
        )?;
        let mut lim: ffi::queue_limits = pin_init::zeroed();
        lim.logical_block_size = vol.block_size;
        lim.physical_block_size = vol.block_size;
        let zero_max = if vol.is_ebs() {
            // A write completes once it is in the backing's page cache, so
            // the disk has a volatile write cache: declared, the block layer
            // sends flushes (fsync, O_DSYNC and FUA writes), which sync the
            // backing (`Volume::flush`) and fail if its writeback failed.
            // Undeclared, it drops them and reports success for data that
            // may never reach the medium.
            lim.features = ffi::BLK_FEAT_WRITE_CACHE;
            EBS_MAX_ZERO_SECTORS
        } else {
            MAX_ZERO_SECTORS
        };
        lim.max_hw_discard_sectors = zero_max;
        lim.discard_granularity = vol.block_size;
        lim.max_write_zeroes_sectors = zero_max;

        let mut dev = [0u8; 32];
        let n = device.len().min(31);
        dev[..n].copy_from_slice(&device.as_bytes()[..n]);
        let queuedata = vol.clone().into_foreign();
        let data = KBox::new(
            DiskData {
                queuedata,
                _tagset: tagset.clone(),
                device: dev,
                model,
            },
            GFP_KERNEL,
        );
        let data = match data {
            Ok(d) => d,
            Err(e) => {
                // SAFETY: `queuedata` came from `into_foreign` just above.
                drop(unsafe { Arc::<Volume>::from_foreign(queuedata) });
                return Err(e.into());
            }
        };
        let data = KBox::into_raw(data);
        // Frees what `free_disk` would, for a disk that was never added.
        let undo = |data: *mut DiskData| {
            // SAFETY: `data` came from `KBox::into_raw` above and is freed
            // once, here, only on paths where `free_disk` will not run.
            let d = unsafe { KBox::from_raw(data) };
            // SAFETY: as above, for the foreign `Arc<Volume>`.
            drop(unsafe { Arc::<Volume>::from_foreign(d.queuedata) });
        };

        // `TagSet` is `repr(transparent)` over `struct blk_mq_tag_set`, and
        // `Disk`'s `QueueData` is `Arc<Volume>`, which `queuedata` is.
        // SAFETY: the tag set is live (`data` holds it), `lim` is set up and
        // `queuedata` is what the tag set's operations expect (see above).
        let gendisk = match from_err_ptr(unsafe {
            ffi::__blk_mq_alloc_disk(
                core::ptr::from_ref(&*tagset).cast_mut().cast(),
                &mut lim,
                queuedata,
                static_lock_class!().as_ptr(),
            )
        }) {
            Ok(g) => g,
            Err(e) => {
                undo(data);
                return Err(e);
            }
        };
        // SAFETY: `gendisk` is valid and not yet visible to anyone.
        unsafe {
            (*gendisk).fops = &FOPS.0;
            (*gendisk).private_data = data.cast();
            let name = name.to_bytes_with_nul();
            let dst = &mut (*gendisk).disk_name;
            let n = name.len().min(dst.len());
            for (d, s) in dst[..n].iter_mut().zip(name) {
                *d = *s;
            }
            dst[dst.len() - 1] = 0;
            ffi::set_capacity(gendisk, vol.size_bytes >> 9);
        }
        // SAFETY: `gendisk` is valid, set up, and not added yet; the groups
        // array is a NULL-terminated static, which the kernel only reads.
        let r = unsafe {
            ffi::device_add_disk(core::ptr::null_mut(), gendisk, GROUPS.0.as_ptr().cast_mut())
        };
        if r != 0 {
            // SAFETY: never added: `put_disk` releases it without calling
            // `free_disk`, so `undo` frees what it would have.
            unsafe { ffi::put_disk(gendisk) };
            undo(data);
            return Err(Error::from_errno(r));
        }
        Ok(Self { gendisk })
    }
}

impl NvmeDisk {
    /// The disk's device number (major, minor), as `/sys/block/*/dev`.
    pub(crate) fn dev(&self) -> (u32, u32) {
        // SAFETY: The disk was added in `new` (which set its numbers) and is
        // removed only when `self` drops.
        unsafe {
            (
                (*self.gendisk).major as u32,
                (*self.gendisk).first_minor as u32,
            )
        }
    }
}

impl Drop for NvmeDisk {
    fn drop(&mut self) {
        // `put_disk` drops our reference; the last one calls `free_disk`.
        // SAFETY: `gendisk` was added in `new` and is removed once, here.
        unsafe {
            ffi::del_gendisk(self.gendisk);
            ffi::put_disk(self.gendisk);
        }
    }
}

/// `block_device_operations.free_disk`: the disk's last reference is gone.
///
/// # Safety
///
/// Called by the block layer once per added disk, after its queue is torn
/// down; `private_data` is the `DiskData` set in `NvmeDisk::new`.
unsafe extern "C" fn free_disk_callback(disk: *mut ffi::gendisk) {
    // SAFETY: per the function's safety section.
    let d = unsafe { KBox::from_raw((*disk).private_data.cast::<DiskData>()) };
    // SAFETY: `queuedata` is the foreign `Arc<Volume>`; the queue is gone,
    // so nothing borrows it any more.
    drop(unsafe { Arc::<Volume>::from_foreign(d.queuedata) });
}

/// `block_device_operations.ioctl`: the NVMe passthrough ioctls.
///
/// # Safety
///
/// Called by the block layer for an open `bdev` of one of our disks.
unsafe extern "C" fn ioctl_callback(
    bdev: *mut ffi::block_device,
    _mode: ffi::blk_mode_t,
    cmd: c_uint,
    arg: c_ulong,
) -> c_int {
    // SAFETY: `bdev` is open, so its disk and its `DiskData` (freed only
    // with the disk) are alive for the call.
    let d = unsafe { &*(*(*bdev).bd_disk).private_data.cast::<DiskData>() };
    // SAFETY: `queuedata` is the foreign `Arc<Volume>`, alive as long as
    // `d` is.
    let vol = unsafe { Arc::<Volume>::borrow(d.queuedata) };
    // As the nvme driver: passthrough is for CAP_SYS_ADMIN only.
    // SAFETY: `capable` may be called from any process context.
    if cmd != nvme::ID_IOCTL && !unsafe { ffi::capable(ffi::CAP_SYS_ADMIN as c_int) } {
        return EACCES.to_errno();
    }
    let len = d
        .device
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(d.device.len());
    let device = core::str::from_utf8(&d.device[..len]).unwrap_or("");
    let ctrl = nvme::Controller {
        vol: &vol,
        device,
        model: d.model,
    };
    match nvme::ioctl(&ctrl, cmd, arg) {
        Ok(v) => v,
        Err(e) => e.to_errno(),
    }
}

/// `show` of attribute `A` of a disk: writes it, with a newline, into `buf`
/// and gives its length.
///
/// # Safety
///
/// Called by sysfs for one of our disks' attributes: `dev` is the disk's
/// device, alive for the call (sysfs holds it), and `buf` the page sysfs
/// gives a `show` callback.
unsafe extern "C" fn show<const A: u8>(
    dev: *mut ffi::device,
    _attr: *const ffi::device_attribute,
    buf: *mut c_char,
) -> isize {
    // `dev_to_disk` (a macro): the disk's device is its whole-disk block
    // device's.
    // SAFETY: Per the contract, `dev` is the `bd_device` of a live block
    // device, whose `bd_disk` is one of our disks, alive with it.
    let disk = unsafe { (*container_of!(dev, ffi::block_device, bd_device)).bd_disk };
    // SAFETY: Per the contract, `private_data` is our `DiskData`.
    let d = unsafe { &*(*disk).private_data.cast::<DiskData>() };
    // SAFETY: as in `ioctl_callback`.
    let vol = unsafe { Arc::<Volume>::borrow(d.queuedata) };
    let mut text = [0u8; 64];
    let len = match A {
        ATTR_SERIAL => put(&mut text, &nvme::serial(vol.id)),
        ATTR_MODEL => put(&mut text, d.model.as_bytes()),
        ATTR_DEVICE => {
            let n = d
                .device
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(d.device.len());
            put(&mut text, &d.device[..n])
        }
        ATTR_VOLUME => {
            let n = put(&mut text, b"vol-");
            n + put(&mut text[n..], &nvme::serial(vol.id)[3..])
        }
        _ => return EINVAL.to_errno() as isize,
    };
    let len = len.min(text.len() - 1);
    text[len] = b'\n';
    // SAFETY: `buf` is a page; at most 64 bytes are written.
    unsafe { core::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), len + 1) };
    (len + 1) as isize
}

/// Copies what fits of `src` to the start of `dst`; gives its length.
fn put(dst: &mut [u8], src: &[u8]) -> usize {
    let n = src.len().min(dst.len());
    dst[..n].copy_from_slice(&src[..n]);
    n
}
