// SPDX-License-Identifier: GPL-2.0

//! The emulated NVMe controller of a volume: the passthrough ioctls of
//! `include/uapi/linux/nvme_ioctl.h` on its disk, the admin commands that
//! nvme-cli and amazon-ec2-utils use (Identify, Get Log Page) and the I/O
//! command set (Read, Write, Flush, Write Zeroes, Dataset Management), with
//! NVMe status codes. Identify looks like EC2's: vendor 0x1d0f, the model
//! of the kind of volume ("Amazon Elastic Block Store" or "Amazon EC2 NVMe
//! Instance Storage"), serial `vol` + the id, the attachment's device
//! name in the vendor-specific areas.

use crate::volume::{Volume, HIST_BINS};
use kernel::{
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

#[allow(
    dead_code,
    non_camel_case_types,
    non_upper_case_globals,
    clippy::all,
    clippy::pedantic,
    clippy::undocumented_unsafe_blocks,
    missing_docs,
    unreachable_pub
)]
mod uapi {
    use kernel::ffi;
    include!("nvme_uapi_generated.rs");
}

/// Amazon's PCI vendor id, as on EC2.
const VENDOR_AMAZON: u16 = 0x1d0f;
/// Model of an instance-storage volume.
pub(crate) const MODEL_INSTANCE: &str = "Amazon EC2 NVMe Instance Storage";
/// Model of an EBS volume.
pub(crate) const MODEL_EBS: &str = "Amazon Elastic Block Store";
/// Firmware revision reported.
const FIRMWARE: &str = "1.0";
/// Largest transfer of one command: 2^MDTS pages (1 MiB).
const MDTS: u8 = 8;
const MAX_TRANSFER: usize = 4096 << MDTS;
/// The one namespace.
const NSID: u32 = 1;
/// `NVME_IOCTL_ID`, which needs no privilege.
pub(crate) const ID_IOCTL: u32 = uapi::NVME_IOCTL_ID;

/// NVMe status codes (status code type in bits 10:8, code in 7:0).
mod status {
    pub(super) const SUCCESS: i32 = 0x0;
    pub(super) const INVALID_OPCODE: i32 = 0x1;
    pub(super) const INVALID_FIELD: i32 = 0x2;
    pub(super) const INVALID_NS: i32 = 0xb;
    pub(super) const LBA_RANGE: i32 = 0x80;
    pub(super) const INVALID_LOG_PAGE: i32 = 0x109;
}

/// Admin opcodes.
const ADMIN_GET_LOG_PAGE: u8 = 0x02;
const ADMIN_IDENTIFY: u8 = 0x06;
/// I/O opcodes.
const IO_FLUSH: u8 = 0x00;
const IO_WRITE: u8 = 0x01;
const IO_READ: u8 = 0x02;
const IO_WRITE_ZEROES: u8 = 0x08;
const IO_DSM: u8 = 0x09;

/// What a controller knows besides its volume.
pub(crate) struct Controller<'a> {
    pub(crate) vol: &'a Volume,
    /// The device name given at attach (`sdf`).
    pub(crate) device: &'a str,
    pub(crate) model: &'static str,
}

/// One command, from either passthrough struct.
#[derive(Clone, Copy)]
struct Command {
    opcode: u8,
    nsid: u32,
    addr: u64,
    data_len: u32,
    cdw10: u32,
    cdw11: u32,
    cdw12: u32,
}

/// Handles an ioctl of the controller's character device: the admin and
/// I/O passthrough commands, not the namespace-only ones (`NVME_IOCTL_ID`,
/// `NVME_IOCTL_SUBMIT_IO`: `ENOTTY`, as the nvme driver answers).
pub(crate) fn ctrl_ioctl(ctrl: &Controller<'_>, cmd: u32, arg: usize) -> Result<i32> {
    match cmd {
        uapi::NVME_IOCTL_ID | uapi::NVME_IOCTL_SUBMIT_IO => Err(ENOTTY),
        _ => ioctl(ctrl, cmd, arg),
    }
}

/// Handles an ioctl of the disk: `Ok(n)` is the ioctl's return value (0,
/// the namespace id, or a positive NVMe status), errors are errnos.
pub(crate) fn ioctl(ctrl: &Controller<'_>, cmd: u32, arg: usize) -> Result<i32> {
    match cmd {
        uapi::NVME_IOCTL_ID => Ok(NSID as i32),
        uapi::NVME_IOCTL_ADMIN_CMD | uapi::NVME_IOCTL_IO_CMD => {
            let c: uapi::nvme_passthru_cmd = read_user(arg)?;
            let command = Command {
                opcode: c.opcode,
                nsid: c.nsid,
                addr: c.addr,
                data_len: c.data_len,
                cdw10: c.cdw10,
                cdw11: c.cdw11,
                cdw12: c.cdw12,
            };
            let st = run(ctrl, cmd == uapi::NVME_IOCTL_ADMIN_CMD, &command)?;
            // Completion dword 0 is 0 for every command here.
            write_result(
                arg,
                core::mem::offset_of!(uapi::nvme_passthru_cmd, result),
                4,
            )?;
            Ok(st)
        }
        uapi::NVME_IOCTL_ADMIN64_CMD | uapi::NVME_IOCTL_IO64_CMD => {
            let c: uapi::nvme_passthru_cmd64 = read_user(arg)?;
            // SAFETY: both fields of the union are a `__u32`.
            let data_len = unsafe { c.__bindgen_anon_1.data_len };
            let command = Command {
                opcode: c.opcode,
                nsid: c.nsid,
                addr: c.addr,
                data_len,
                cdw10: c.cdw10,
                cdw11: c.cdw11,
                cdw12: c.cdw12,
            };
            let st = run(ctrl, cmd == uapi::NVME_IOCTL_ADMIN64_CMD, &command)?;
            write_result(
                arg,
                core::mem::offset_of!(uapi::nvme_passthru_cmd64, result),
                8,
            )?;
            Ok(st)
        }
        uapi::NVME_IOCTL_SUBMIT_IO => {
            let io: uapi::nvme_user_io = read_user(arg)?;
            let bs = ctrl.vol.block_size;
            let nlb = u32::from(io.nblocks) + 1;
            let command = Command {
                opcode: io.opcode,
                nsid: NSID,
                addr: io.addr,
                data_len: nlb.saturating_mul(bs),
                cdw10: io.slba as u32,
                cdw11: (io.slba >> 32) as u32,
                cdw12: u32::from(io.nblocks),
            };
            run(ctrl, false, &command)
        }
        _ => Err(ENOTTY),
    }
}

/// Reads a passthrough struct from userspace.
fn read_user<T: kernel::transmute::FromBytes>(arg: usize) -> Result<T> {
    UserSlice::new(UserPtr::from_addr(arg), core::mem::size_of::<T>())
        .reader()
        .read()
}

/// Writes a zero completion result of `len` bytes at `offset` of the
/// caller's struct.
fn write_result(arg: usize, offset: usize, len: usize) -> Result {
    let zeros = [0u8; 8];
    let at = arg.checked_add(offset).ok_or(EFAULT)?;
    UserSlice::new(UserPtr::from_addr(at), len)
        .writer()
        .write_slice(&zeros[..len])
}

/// Runs one command; gives its NVMe status.
fn run(ctrl: &Controller<'_>, admin: bool, c: &Command) -> Result<i32> {
    if admin {
        match c.opcode {
            ADMIN_IDENTIFY => identify(ctrl, c),
            ADMIN_GET_LOG_PAGE => log_page(ctrl, c),
            _ => Ok(status::INVALID_OPCODE),
        }
    } else {
        if c.nsid != NSID {
            return Ok(status::INVALID_NS);
        }
        match c.opcode {
            IO_FLUSH => {
                ctrl.vol.flush()?;
                Ok(status::SUCCESS)
            }
            IO_READ | IO_WRITE => read_write(ctrl.vol, c),
            IO_WRITE_ZEROES => {
                let (lba, nlb) = range(c);
                if !ctrl.vol.in_range(lba, nlb) {
                    return Ok(status::LBA_RANGE);
                }
                ctrl.vol.zero(lba, nlb)?;
                Ok(status::SUCCESS)
            }
            IO_DSM => dsm(ctrl.vol, c),
            _ => Ok(status::INVALID_OPCODE),
        }
    }
}

/// Starting LBA (dwords 10-11) and block count (dword 12, 0's based).
fn range(c: &Command) -> (u64, u64) {
    (
        u64::from(c.cdw10) | (u64::from(c.cdw11) << 32),
        u64::from(c.cdw12 & 0xffff) + 1,
    )
}

/// Read and Write.
fn read_write(vol: &Volume, c: &Command) -> Result<i32> {
    let (lba, nlb) = range(c);
    let len = nlb * u64::from(vol.block_size);
    if len > MAX_TRANSFER as u64 || u64::from(c.data_len) < len {
        return Ok(status::INVALID_FIELD);
    }
    if !vol.in_range(lba, nlb) {
        return Ok(status::LBA_RANGE);
    }
    let len = len as usize;
    let mut buf = KVVec::with_capacity(len, GFP_KERNEL)?;
    buf.resize(len, 0u8, GFP_KERNEL)?;
    let user = UserSlice::new(UserPtr::from_addr(c.addr as usize), len);
    if c.opcode == IO_WRITE {
        user.reader().read_slice(&mut buf)?;
        vol.write_blocks(lba, &buf)?;
    } else {
        vol.read_blocks(lba, &mut buf)?;
        user.writer().write_slice(&buf)?;
    }
    Ok(status::SUCCESS)
}

/// Dataset Management: deallocate the listed ranges.
fn dsm(vol: &Volume, c: &Command) -> Result<i32> {
    const DEALLOCATE: u32 = 1 << 2;
    let nr = (c.cdw10 & 0xff) as usize + 1;
    if c.data_len < (nr * 16) as u32 {
        return Ok(status::INVALID_FIELD);
    }
    let mut ranges = [0u8; 256 * 16];
    UserSlice::new(UserPtr::from_addr(c.addr as usize), nr * 16)
        .reader()
        .read_slice(&mut ranges[..nr * 16])?;
    let parsed = ranges[..nr * 16].chunks_exact(16).map(|r| {
        let nlb = u32::from_le_bytes([r[4], r[5], r[6], r[7]]);
        let slba = u64::from_le_bytes([r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]]);
        (slba, u64::from(nlb))
    });
    // Check every range before acting on any.
    if parsed.clone().any(|(slba, nlb)| !vol.in_range(slba, nlb)) {
        return Ok(status::LBA_RANGE);
    }
    if c.cdw11 & DEALLOCATE != 0 {
        for (slba, nlb) in parsed {
            vol.zero(slba, nlb)?;
        }
    }
    Ok(status::SUCCESS)
}

/// Identify: controller (CNS 1), namespace (CNS 0), active namespaces (CNS 2).
fn identify(ctrl: &Controller<'_>, c: &Command) -> Result<i32> {
    let mut page = KVec::with_capacity(4096, GFP_KERNEL)?;
    page.resize(4096, 0u8, GFP_KERNEL)?;
    match c.cdw10 & 0xff {
        0x01 => identify_controller(ctrl, &mut page),
        0x00 if c.nsid == NSID => identify_namespace(ctrl, &mut page),
        0x00 => return Ok(status::INVALID_NS),
        0x02 => page[..4].copy_from_slice(&NSID.to_le_bytes()),
        _ => return Ok(status::INVALID_FIELD),
    }
    copy_out(c, &page)
}

/// Copies `data` to the command's buffer (at most its `data_len`).
fn copy_out(c: &Command, data: &[u8]) -> Result<i32> {
    let n = (c.data_len as usize).min(data.len());
    UserSlice::new(UserPtr::from_addr(c.addr as usize), n)
        .writer()
        .write_slice(&data[..n])?;
    Ok(status::SUCCESS)
}

/// Puts `s` at `at`, space-padded to `len` (NVMe ASCII fields).
fn put_ascii(page: &mut [u8], at: usize, len: usize, s: &str) {
    let field = &mut page[at..at + len];
    field.fill(b' ');
    let n = s.len().min(len);
    field[..n].copy_from_slice(&s.as_bytes()[..n]);
}

/// Puts `s` at `at`, NUL-padded to `len` (the vendor-specific device name).
fn put_name(page: &mut [u8], at: usize, len: usize, s: &str) {
    let n = s.len().min(len);
    page[at..at + n].copy_from_slice(&s.as_bytes()[..n]);
}

/// The serial number: `vol` and the id's 17 hex digits, as EBS gives it.
pub(crate) fn serial(id: u64) -> [u8; 20] {
    let mut s = *b"vol00000000000000000";
    for (i, b) in s[3..].iter_mut().rev().enumerate() {
        // 17 digits of a 64-bit id: the top one is always 0.
        let d = (id.checked_shr(4 * i as u32).unwrap_or(0) & 0xf) as u8;
        *b = if d < 10 { b'0' + d } else { b'a' + d - 10 };
    }
    s
}

/// Identify Controller.
fn identify_controller(ctrl: &Controller<'_>, p: &mut [u8]) {
    p[0..2].copy_from_slice(&VENDOR_AMAZON.to_le_bytes());
    p[2..4].copy_from_slice(&VENDOR_AMAZON.to_le_bytes());
    p[4..24].copy_from_slice(&serial(ctrl.vol.id));
    put_ascii(p, 24, 40, ctrl.model);
    put_ascii(p, 64, 8, FIRMWARE);
    p[72] = 32; // RAB
    p[73..76].copy_from_slice(&[0xdc, 0x02, 0xa0]); // IEEE OUI, as EC2's
    p[77] = MDTS;
    p[80..84].copy_from_slice(&0x0001_0400u32.to_le_bytes()); // NVMe 1.4
    p[258] = 3; // ACL
    p[259] = 3; // AERL
    p[512] = 0x66; // SQES
    p[513] = 0x44; // CQES
    p[516..520].copy_from_slice(&1u32.to_le_bytes()); // NN
    p[520..522].copy_from_slice(&0x000cu16.to_le_bytes()); // ONCS: DSM, Write Zeroes

    // VWC: EBS writes complete in the backing's page cache, a volatile
    // write cache that Flush syncs (as the disk's BLK_FEAT_WRITE_CACHE
    // says); instance storage has none.
    p[525] = u8::from(ctrl.vol.is_ebs());
    put_name(p, 3072, 32, ctrl.device);
}

/// Identify Namespace.
fn identify_namespace(ctrl: &Controller<'_>, p: &mut [u8]) {
    let blocks = ctrl.vol.blocks();
    let used = (ctrl.vol.pages() as u64 * 4096 / u64::from(ctrl.vol.block_size)).min(blocks);
    p[0..8].copy_from_slice(&blocks.to_le_bytes()); // NSZE
    p[8..16].copy_from_slice(&blocks.to_le_bytes()); // NCAP
    p[16..24].copy_from_slice(&used.to_le_bytes()); // NUSE
    p[24] = 1; // NSFEAT: thin provisioned
    p[25] = 0; // NLBAF: one format
    p[26] = 0; // FLBAS: format 0
    p[33] = 1 << 3; // DLFEAT: deallocated blocks read as zeros
    p[120..128].copy_from_slice(&ctrl.vol.id.to_be_bytes()); // EUI64
    p[130] = ctrl.vol.block_size.trailing_zeros() as u8; // LBAF0.LBADS
    put_name(p, 384, 32, ctrl.device);
}

/// The EBS statistics log page (as EC2's, also for instance storage).
const LOG_STATS: u32 = 0xd0;
/// Its magic number.
const STATS_MAGIC: u32 = 0x3c23_b510;

/// Fills the statistics log page: counters (times in microseconds), queue
/// length and the read and write latency histograms.
fn stats_page(vol: &Volume, p: &mut [u8]) {
    let m = vol.metrics();
    p[0..4].copy_from_slice(&STATS_MAGIC.to_le_bytes());
    let fields = [
        m.read_ops,
        m.write_ops,
        m.read_bytes,
        m.write_bytes,
        m.read_ns / 1000,
        m.write_ns / 1000,
        // Never throttled: the card enforces no IOPS or throughput limit.
        0,
        0,
        0,
        0,
        m.queue_depth,
    ];
    for (i, v) in fields.iter().enumerate() {
        p[8 + 8 * i..16 + 8 * i].copy_from_slice(&v.to_le_bytes());
    }
    for (base, hist) in [(512, &m.read_hist), (2056, &m.write_hist)] {
        p[base..base + 8].copy_from_slice(&(HIST_BINS as u64).to_le_bytes());
        for (i, count) in hist.iter().enumerate() {
            let bin = base + 8 + 24 * i;
            let lower = if i == 0 { 0 } else { 1u64 << (i - 1) };
            let upper = if i == HIST_BINS - 1 {
                u64::MAX
            } else {
                1u64 << i
            };
            p[bin..bin + 8].copy_from_slice(&lower.to_le_bytes());
            p[bin + 8..bin + 16].copy_from_slice(&upper.to_le_bytes());
            let count = u32::try_from(*count).unwrap_or(u32::MAX);
            p[bin + 16..bin + 20].copy_from_slice(&count.to_le_bytes());
        }
    }
}

/// Get Log Page: SMART / health (0x02), statistics (0xd0).
fn log_page(ctrl: &Controller<'_>, c: &Command) -> Result<i32> {
    let lid = c.cdw10 & 0xff;
    let dwords = ((c.cdw10 >> 16) & 0xffff) as usize + 1;
    if lid == LOG_STATS {
        let mut page = KVec::with_capacity(4096, GFP_KERNEL)?;
        page.resize(4096, 0u8, GFP_KERNEL)?;
        stats_page(ctrl.vol, &mut page);
        let c = Command {
            data_len: c.data_len.min((dwords * 4).min(4096) as u32),
            ..*c
        };
        return copy_out(&c, &page);
    }
    let mut page = [0u8; 512];
    match lid {
        0x02 => {
            let m = ctrl.vol.metrics();
            page[1..3].copy_from_slice(&(273u16 + 35).to_le_bytes()); // 35 C
            page[3] = 100; // available spare
            page[4] = 10; // threshold
                          // Data units: thousands of 512-byte units, rounded up.
            let units = |bytes: u64| bytes.div_ceil(512 * 1000);
            page[32..40].copy_from_slice(&units(m.read_bytes).to_le_bytes());
            page[48..56].copy_from_slice(&units(m.write_bytes).to_le_bytes());
            page[64..72].copy_from_slice(&m.read_ops.to_le_bytes());
            page[80..88].copy_from_slice(&m.write_ops.to_le_bytes());
            page[112..120].copy_from_slice(&1u64.to_le_bytes()); // power cycles
        }
        _ => return Ok(status::INVALID_LOG_PAGE),
    }
    let n = (dwords * 4).min(page.len());
    let c = Command {
        data_len: c.data_len.min(n as u32),
        ..*c
    };
    copy_out(&c, &page)
}

// SAFETY: plain `repr(C)` structs of integers (and a union of two `__u32`):
// every bit pattern is a valid value.
unsafe impl kernel::transmute::FromBytes for uapi::nvme_passthru_cmd {}
// SAFETY: as above.
unsafe impl kernel::transmute::FromBytes for uapi::nvme_passthru_cmd64 {}
// SAFETY: as above.
unsafe impl kernel::transmute::FromBytes for uapi::nvme_user_io {}
