// SPDX-License-Identifier: GPL-2.0

//! nitro_sec: the security chip.
//!
//! At load it measures the firmware of the machine it runs on (the legacy
//! BIOS ROM, every ACPI table, the SMBIOS tables), each with SHA-384, into an
//! append-only log and three extend registers, and registers on the
//! controller's private bus. The controller holds the cards back (the boot
//! gate) until it has verified these measurements against its allowlist.
//! Reloading the module measures again and closes the gate again.
//!
//! The chip guards the firmware store, `/dev/nitro_fw`: it serves the
//! measured ROM image read-only, and refuses every write with `EPERM`,
//! counted and audited by the controller like the update ioctl. Nothing in
//! this module, or in nitro-rs, writes firmware (write-deny).

mod hw;
mod measure;

use kernel::{
    fs::{File, Kiocb},
    iov::{IovIterDest, IovIterSource},
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
    sync::Arc,
};
use nitro_ctrl::{
    bus::{self, Card, CardKind, Measurement, Registration, FW_REGISTERS, SHA384_LEN},
    gate,
};

module! {
    type: NitroSec,
    name: "nitro_sec",
    authors: ["nitro-rs developers"],
    description: "nitro-rs: the security chip (firmware measurement, boot gate, write-deny)",
    license: "GPL",
}

/// The chip: its measurements, fixed from load to unload.
struct SecurityChip {
    entries: KVec<Measurement>,
    regs: [[u8; SHA384_LEN]; FW_REGISTERS],
}

impl Card for SecurityChip {
    fn objects(&self) -> u32 {
        self.entries.len() as u32
    }

    fn measurements(&self) -> Result<KVec<Measurement>> {
        let mut out = KVec::with_capacity(self.entries.len(), GFP_KERNEL)?;
        for m in self.entries.iter() {
            out.push(*m, GFP_KERNEL)?;
        }
        Ok(out)
    }

    fn registers(&self) -> [[u8; SHA384_LEN]; FW_REGISTERS] {
        self.regs
    }
}

/// The measured ROM image, as the firmware store serves it.
struct RomImage(KVec<u8>);

kernel::sync::global_lock! {
    // SAFETY: `init` is called in the module initializer before the misc
    // device is registered.
    unsafe(uninit) static IMAGE: Mutex<Option<Arc<RomImage>>> = None;
}

/// The module: the chip's registration on the bus, then its firmware store.
#[pin_data(PinnedDrop)]
struct NitroSec {
    _reg: Registration,
    #[pin]
    _store: MiscDeviceRegistration<FirmwareStore>,
}

impl kernel::InPlaceModule for NitroSec {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _reg: measure_and_register()?,
            _store <- MiscDeviceRegistration::register(MiscDeviceOptions {
                name: c"nitro_fw",
            }),
        })
    }
}

/// Measures the firmware, keeps the ROM image for the store and registers
/// the chip on the bus (which closes the boot gate).
fn measure_and_register() -> Result<Registration> {
    let log = measure::measure()?;
    pr_info!(
        "measured {} firmware components ({} bytes of BIOS ROM)\n",
        log.entries.len(),
        log.rom.len()
    );
    // SAFETY: Called once, from the module initializer, before the store
    // device that reads `IMAGE` is registered.
    unsafe { IMAGE.init() };
    *IMAGE.lock() = Some(Arc::new(RomImage(log.rom), GFP_KERNEL)?);
    let chip: Arc<dyn Card> = Arc::new(
        SecurityChip {
            entries: log.entries,
            regs: log.regs,
        },
        GFP_KERNEL,
    )?;
    bus::register(CardKind::Security, "nitro_sec", chip)
}

#[pinned_drop]
impl PinnedDrop for NitroSec {
    fn drop(self: Pin<&mut Self>) {
        // The static outlives the module; open files hold their own reference.
        *IMAGE.lock() = None;
    }
}

/// An open file of the firmware store: the image it reads.
struct FirmwareStore;

#[vtable]
impl MiscDevice for FirmwareStore {
    type Ptr = Arc<RomImage>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Arc<RomImage>> {
        IMAGE.lock().clone().ok_or(ENODEV)
    }

    fn read_iter(mut kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let image = kiocb.file();
        iov.simple_read_from_buffer(kiocb.ki_pos_mut(), &image.0)
    }

    /// Every write is refused: the store is write-protected by the chip.
    fn write_iter(_kiocb: Kiocb<'_, Self::Ptr>, _iov: &mut IovIterSource<'_>) -> Result<usize> {
        Err(gate::refuse_store_write("/dev/nitro_fw"))
    }
}
