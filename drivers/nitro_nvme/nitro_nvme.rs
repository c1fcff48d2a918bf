// SPDX-License-Identifier: GPL-2.0

//! nitro_nvme: the EBS and instance-storage cards.
//!
//! Registers two cards on the controller's private bus, one for EBS volumes
//! and one for instance storage. An instance-storage volume is RAM inside
//! the card, encrypted with AES-256-XTS under a key born in the card when
//! the volume is provisioned and destroyed when it is deprovisioned (a
//! cryptographic wipe); attaching it creates a blk-mq disk `nitro<N>n1`,
//! one hardware queue per CPU, that also speaks NVMe through the
//! passthrough ioctls (nvme-cli works on it). EBS volumes are not provisioned yet
//! (`EOPNOTSUPP`).

mod blk;
mod disk;
mod nvme;
mod store;
mod volume;
mod xts;

use disk::NvmeDisk;
use kernel::{
    new_mutex,
    prelude::*,
    rbtree::RBTree,
    str::CString,
    sync::{Arc, Mutex},
};
use nitro_ctrl::bus::{self, Card, CardKind, Metrics, Registration, Reply, Request};
use volume::Volume;

module! {
    type: NitroNvme,
    name: "nitro_nvme",
    authors: ["nitro-rs developers"],
    description: "nitro-rs: EBS and instance-storage cards (encrypted block devices)",
    license: "GPL",
}

/// A volume on the card and, while attached, its disk. The disk is dropped
/// (removed) before the volume.
struct Slot {
    disk: Option<NvmeDisk>,
    vol: Arc<Volume>,
}

/// The card's volumes and the next disk number.
struct Volumes {
    slots: RBTree<u64, Slot>,
    next_disk: u32,
}

/// The instance-storage card.
#[pin_data]
struct InstanceCard {
    #[pin]
    vols: Mutex<Volumes>,
}

impl InstanceCard {
    fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                vols <- new_mutex!(Volumes { slots: RBTree::new(), next_disk: 0 }, "nitro_nvme::vols"),
            }),
            GFP_KERNEL,
        )
    }
}

impl Card for InstanceCard {
    fn objects(&self) -> u32 {
        self.vols.lock().slots.iter().count() as u32
    }

    fn request(&self, req: &Request<'_>) -> Result<Reply> {
        let mut v = self.vols.lock();
        match req {
            Request::CreateVolume(spec) => {
                if v.slots.get(&spec.id).is_some() {
                    return Err(EEXIST);
                }
                let vol = Volume::new(spec.id, spec.size_bytes, spec.block_size)?;
                v.slots
                    .try_create_and_insert(spec.id, Slot { disk: None, vol }, GFP_KERNEL)?;
            }
            Request::AttachVolume(spec, dev) => {
                let n = v.next_disk;
                let slot = v.slots.get_mut(&spec.id).ok_or(ENOENT)?;
                if slot.disk.is_some() {
                    return Err(EBUSY);
                }
                let name = CString::try_from_fmt(fmt!("nitro{}n1", n))?;
                slot.disk = Some(NvmeDisk::new(
                    &slot.vol,
                    &name,
                    dev.as_str(),
                    nvme::MODEL_INSTANCE,
                )?);
                pr_info!(
                    "vol-{:017x} attached as {} ({})\n",
                    spec.id,
                    name.to_str()?,
                    dev.as_str()
                );
                v.next_disk = n.wrapping_add(1);
            }
            Request::DetachVolume(spec) => {
                let slot = v.slots.get_mut(&spec.id).ok_or(ENOENT)?;
                // Removing the disk drains it: requests in flight complete.
                slot.disk.take().ok_or(EINVAL)?;
                pr_info!("vol-{:017x} detached\n", spec.id);
            }
            Request::DeleteVolume(spec) => {
                // The controller never deletes an attached volume.
                if v.slots.get(&spec.id).ok_or(ENOENT)?.disk.is_some() {
                    return Err(EBUSY);
                }
                let slot = v.slots.remove(&spec.id).ok_or(ENOENT)?;
                let pages = slot.vol.pages();
                // The key is wiped and the pages freed with the last
                // reference: nothing written can ever be read again.
                drop(slot);
                pr_info!(
                    "vol-{:017x} deprovisioned: key destroyed, {} pages freed\n",
                    spec.id,
                    pages
                );
            }
            _ => return Err(EOPNOTSUPP),
        }
        Ok(Reply::Done)
    }

    fn metrics(&self, id: u64) -> Result<Metrics> {
        let v = self.vols.lock();
        Ok(v.slots.get(&id).ok_or(ENOENT)?.vol.metrics())
    }

    fn totals(&self) -> Metrics {
        let v = self.vols.lock();
        let mut t = Metrics::default();
        for s in v.slots.values() {
            let m = s.vol.metrics();
            t.read_ops += m.read_ops;
            t.read_bytes += m.read_bytes;
            t.read_ns += m.read_ns;
            t.write_ops += m.write_ops;
            t.write_bytes += m.write_bytes;
            t.write_ns += m.write_ns;
        }
        t
    }
}

/// The EBS card: registered, provisions nothing yet.
struct EbsCard;

impl Card for EbsCard {
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
    fn init(module: &'static ThisModule) -> Result<Self> {
        disk::init_fops(module);
        let ebs: Arc<dyn Card> = Arc::new(EbsCard, GFP_KERNEL)?;
        let instance: Arc<dyn Card> = InstanceCard::new()?;
        let ebs = bus::register(CardKind::Ebs, "nitro_nvme.ebs0", ebs)?;
        // On failure `ebs` drops here and leaves the bus again.
        let instance = bus::register(CardKind::InstanceStore, "nitro_nvme.instance0", instance)?;
        Ok(Self {
            _instance: instance,
            _ebs: ebs,
        })
    }
}
