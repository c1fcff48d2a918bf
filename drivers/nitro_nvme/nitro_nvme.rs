// SPDX-License-Identifier: GPL-2.0

//! nitro_nvme: the EBS and instance-storage cards.
//!
//! Registers two cards on the controller's private bus, one for EBS volumes
//! and one for instance storage. Attaching a volume creates a blk-mq disk
//! `nitro<N>n1`, one hardware queue per CPU, which also speaks NVMe through
//! the passthrough ioctls (nvme-cli works on it), and the controller's
//! character device `/dev/nitro<N>`. Every block is encrypted with
//! AES-256-XTS inside the card.
//!
//! - An instance-storage volume is RAM in the card, under a key born in the
//!   card when the volume is provisioned and destroyed when it is
//!   deprovisioned (a cryptographic wipe).
//! - An EBS volume lives on a backing file or device (the storage server,
//!   which only ever sees ciphertext), under a data key that arrives wrapped
//!   under the card's key (loaded at module init, `keys.rs`) and is opened
//!   only while the volume is attached.

mod backing;
mod blk;
mod chardev;
mod disk;
mod keys;
mod nvme;
mod store;
mod volume;
mod wq;
mod xts;

use backing::Backing;
use chardev::CtrlDev;
use disk::NvmeDisk;
use kernel::{
    new_mutex,
    prelude::*,
    rbtree::RBTree,
    str::CString,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
};
use keys::CardKey;
use nitro_ctrl::bus::{
    self, Card, CardKind, DevName, Metrics, Registration, Reply, Request, VolumeSpec,
    WRAPPED_KEY_LEN,
};
use volume::{EbsIo, Volume};
use wq::IoQueue;
use xts::XtsKey;

module! {
    type: NitroNvme,
    name: "nitro_nvme",
    authors: ["nitro-rs developers"],
    description: "nitro-rs: EBS and instance-storage cards (encrypted block devices)",
    license: "GPL",
}

/// Disk numbers, shared by both cards so that names never collide.
static NEXT_DISK: Atomic<u32> = Atomic::new(0);

/// An attached volume: its disk, its controller device and the volume they
/// serve. The devices are removed before the volume goes.
struct Attached {
    _chardev: Pin<KBox<CtrlDev>>,
    _disk: NvmeDisk,
    vol: Arc<Volume>,
    /// The device name it is attached as.
    device: DevName,
}

/// Where an EBS volume's data and key come from.
struct EbsSource {
    backing: Arc<Backing>,
    wrapped_key: [u8; WRAPPED_KEY_LEN],
}

/// A volume on a card.
struct Slot {
    spec: VolumeSpec,
    /// Instance storage: the volume, for its whole life.
    instance: Option<Arc<Volume>>,
    /// EBS: its backing store and wrapped key.
    ebs: Option<EbsSource>,
    attached: Option<Attached>,
    /// Counters of earlier attachments (EBS: each attachment is a new
    /// `Volume`, so that its key lives only while attached).
    past: Metrics,
}

impl Slot {
    /// The counters of the volume over its whole life.
    fn metrics(&self) -> Metrics {
        let now = match (&self.attached, &self.instance) {
            (Some(a), _) => a.vol.metrics(),
            (None, Some(v)) => v.metrics(),
            (None, None) => Metrics::default(),
        };
        add(&self.past, &now)
    }
}

/// `a + b`, counter by counter.
fn add(a: &Metrics, b: &Metrics) -> Metrics {
    let mut m = *b;
    m.queue_depth += a.queue_depth;
    m.read_ops += a.read_ops;
    m.read_bytes += a.read_bytes;
    m.read_ns += a.read_ns;
    m.write_ops += a.write_ops;
    m.write_bytes += a.write_bytes;
    m.write_ns += a.write_ns;
    for (t, x) in m.read_hist.iter_mut().zip(a.read_hist.iter()) {
        *t += x;
    }
    for (t, x) in m.write_hist.iter_mut().zip(a.write_hist.iter()) {
        *t += x;
    }
    m
}

/// What only the EBS card has.
struct EbsCard {
    /// `None` when no card key was found at load: EBS volumes are refused.
    key: Option<CardKey>,
    queue: Arc<IoQueue>,
}

/// A block card: EBS (with `ebs`) or instance storage.
#[pin_data]
struct BlockCard {
    #[pin]
    vols: Mutex<RBTree<u64, Slot>>,
    ebs: Option<EbsCard>,
}

impl BlockCard {
    fn new(ebs: Option<EbsCard>) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                vols <- new_mutex!(RBTree::new(), "nitro_nvme::vols"),
                ebs,
            }),
            GFP_KERNEL,
        )
    }

    /// Provisions `spec`: an instance volume gets its key and medium now;
    /// an EBS volume's backing and wrapped key are checked and kept.
    fn provision(&self, spec: &VolumeSpec) -> Result<Slot> {
        let mut slot = Slot {
            spec: *spec,
            instance: None,
            ebs: None,
            attached: None,
            past: Metrics::default(),
        };
        let Some(card) = &self.ebs else {
            let key = XtsKey::random()?;
            slot.instance = Some(Volume::new(
                spec.id,
                spec.size_bytes,
                spec.block_size,
                key,
                None,
            )?);
            return Ok(slot);
        };
        if card.key.is_none() {
            pr_err!(
                "no card key (firmware file {}): EBS volumes refused\n",
                keys::CARD_KEY_FILE.to_str()?
            );
            return Err(ENOKEY);
        }
        if keys::check_format(&spec.wrapped_key).is_err() {
            pr_err!("EBS volume: the wrapped key is not a struct nitro_wrapped_key v1\n");
            return Err(EINVAL);
        }
        let backing = Backing::from_fd(spec.backing_fd).inspect_err(|_| {
            pr_err!("EBS volume: backing_fd is not a file or block device open read-write\n");
        })?;
        if backing.size() < spec.size_bytes {
            pr_err!(
                "EBS volume: backing store is {} bytes, the volume needs {}\n",
                backing.size(),
                spec.size_bytes
            );
            return Err(EINVAL);
        }
        slot.ebs = Some(EbsSource {
            backing: Arc::new(backing, GFP_KERNEL)?,
            wrapped_key: spec.wrapped_key,
        });
        Ok(slot)
    }

    /// The volume to attach: the instance volume, or a new EBS volume over
    /// its backing with its data key opened now.
    fn volume_for(&self, slot: &Slot) -> Result<(Arc<Volume>, &'static str)> {
        if let Some(v) = &slot.instance {
            return Ok((v.clone(), nvme::MODEL_INSTANCE));
        }
        let (Some(card), Some(src)) = (&self.ebs, &slot.ebs) else {
            return Err(EINVAL);
        };
        let card_key = card.key.as_ref().ok_or(ENOKEY)?;
        let mut raw = card_key.unwrap(&src.wrapped_key).map_err(|why| {
            pr_err!(
                "vol-{:017x}: wrapped key refused ({}): not attached\n",
                slot.spec.id,
                match why {
                    keys::Refused::Format => "unknown format",
                    keys::Refused::Authentication => "does not authenticate under this card's key",
                }
            );
            EKEYREJECTED
        })?;
        let key = XtsKey::new(&raw);
        xts::wipe(&mut raw);
        let io = EbsIo {
            backing: src.backing.clone(),
            queue: card.queue.clone(),
        };
        let s = &slot.spec;
        Ok((
            Volume::new(s.id, s.size_bytes, s.block_size, key?, Some(io))?,
            nvme::MODEL_EBS,
        ))
    }

    /// Destroys an instance volume's data in place: its key and medium go
    /// (as on deprovision) and the volume gets new ones; attached, its disk
    /// is removed and made anew under the same device name.
    fn wipe(&self, slot: &mut Slot) -> Result<Reply> {
        let Some(old) = &slot.instance else {
            // EBS data belongs to its owner: never wiped by the card.
            return Err(EINVAL);
        };
        let fresh = Volume::new(
            slot.spec.id,
            slot.spec.size_bytes,
            slot.spec.block_size,
            XtsKey::random()?,
            None,
        )?;
        let pages = old.pages();
        let device = slot.attached.as_ref().map(|a| a.device);
        // The disk goes first (it drains), then the old volume with its
        // last reference: its key is wiped, its pages freed.
        slot.attached = None;
        slot.instance = Some(fresh);
        pr_info!(
            "vol-{:017x} wiped: key destroyed, {} pages freed\n",
            slot.spec.id,
            pages
        );
        match device {
            Some(dev) => {
                let (major, minor) = self.attach(slot, &dev)?;
                Ok(Reply::Disk(major, minor))
            }
            None => Ok(Reply::Done),
        }
    }

    /// Attaches the volume of `slot` as `dev`; gives its disk's numbers.
    fn attach(&self, slot: &mut Slot, dev: &DevName) -> Result<(u32, u32)> {
        if slot.attached.is_some() {
            return Err(EBUSY);
        }
        let (vol, model) = self.volume_for(slot)?;
        let n = NEXT_DISK.fetch_add(1, Relaxed);
        let name = CString::try_from_fmt(fmt!("nitro{}n1", n))?;
        let disk = NvmeDisk::new(&vol, &name, dev.as_str(), model)?;
        let cname = CString::try_from_fmt(fmt!("nitro{}", n))?;
        let chardev = CtrlDev::new(cname, &vol, *dev, model)?;
        pr_info!(
            "vol-{:017x} attached as {} and /dev/nitro{} ({})\n",
            slot.spec.id,
            name.to_str()?,
            n,
            dev.as_str()
        );
        let numbers = disk.dev();
        slot.attached = Some(Attached {
            _chardev: chardev,
            _disk: disk,
            vol,
            device: *dev,
        });
        Ok(numbers)
    }
}

impl Card for BlockCard {
    fn objects(&self) -> u32 {
        self.vols.lock().iter().count() as u32
    }

    fn request(&self, req: &Request<'_>) -> Result<Reply> {
        let mut v = self.vols.lock();
        match req {
            Request::CreateVolume(spec) => {
                if v.get(&spec.id).is_some() {
                    return Err(EEXIST);
                }
                let slot = self.provision(spec)?;
                v.try_create_and_insert(spec.id, slot, GFP_KERNEL)?;
            }
            Request::AttachVolume(spec, att) => {
                let slot = v.get_mut(&spec.id).ok_or(ENOENT)?;
                let (major, minor) = self.attach(slot, &att.device)?;
                return Ok(Reply::Disk(major, minor));
            }
            Request::DetachVolume(spec) => {
                let slot = v.get_mut(&spec.id).ok_or(ENOENT)?;
                // Removing the disk drains it: requests in flight complete.
                let a = slot.attached.take().ok_or(EINVAL)?;
                let Attached {
                    _chardev,
                    _disk,
                    vol,
                    device: _,
                } = a;
                drop(_chardev);
                drop(_disk);
                if slot.instance.is_none() {
                    // EBS: this attachment's counters outlive it; its key
                    // goes with the last reference to `vol`.
                    slot.past = add(&slot.past, &vol.metrics());
                    slot.past.queue_depth = 0;
                }
                pr_info!("vol-{:017x} detached\n", spec.id);
            }
            Request::WipeVolume(spec) => {
                let slot = v.get_mut(&spec.id).ok_or(ENOENT)?;
                return self.wipe(slot);
            }
            Request::DeleteVolume(spec) => {
                // The controller never deletes an attached volume.
                if v.get(&spec.id).ok_or(ENOENT)?.attached.is_some() {
                    return Err(EBUSY);
                }
                let slot = v.remove(&spec.id).ok_or(ENOENT)?;
                match &slot.instance {
                    Some(vol) => {
                        let pages = vol.pages();
                        // The key is wiped and the pages freed with the last
                        // reference: nothing written can ever be read again.
                        drop(slot);
                        pr_info!(
                            "vol-{:017x} deprovisioned: key destroyed, {} pages freed\n",
                            spec.id,
                            pages
                        );
                    }
                    None => {
                        // The data stays on the storage server, under the
                        // wrapped key its owner keeps.
                        drop(slot);
                        pr_info!("vol-{:017x} released (EBS data kept)\n", spec.id);
                    }
                }
            }
            _ => return Err(EOPNOTSUPP),
        }
        Ok(Reply::Done)
    }

    fn metrics(&self, id: u64) -> Result<Metrics> {
        Ok(self.vols.lock().get(&id).ok_or(ENOENT)?.metrics())
    }

    fn totals(&self) -> Metrics {
        let v = self.vols.lock();
        let mut t = Metrics::default();
        for s in v.values() {
            t = add(&s.metrics(), &t);
        }
        t
    }
}

/// Drains the EBS work queue when the module goes, after both cards (and
/// so every disk) are gone: no work item is left running our code.
struct QueueGuard(Arc<IoQueue>);

impl Drop for QueueGuard {
    fn drop(&mut self) {
        self.0.flush();
    }
}

/// The module: both cards' registrations, then the EBS queue. Fields drop
/// in declaration order, so the cards leave the bus in the reverse of the
/// order they joined, and the queue drains last.
struct NitroNvme {
    _instance: Registration,
    _ebs: Registration,
    _queue: QueueGuard,
}

impl kernel::Module for NitroNvme {
    fn init(module: &'static ThisModule) -> Result<Self> {
        disk::init_fops(module);
        let key = CardKey::load()?;
        if key.is_none() {
            pr_info!(
                "no EBS card key (firmware {}): EBS volumes will be refused\n",
                keys::CARD_KEY_FILE.to_str()?
            );
        }
        let queue = Arc::new(IoQueue::new(c"nitro_ebs")?, GFP_KERNEL)?;
        let guard = QueueGuard(queue.clone());
        let ebs: Arc<dyn Card> = BlockCard::new(Some(EbsCard { key, queue }))?;
        let instance: Arc<dyn Card> = BlockCard::new(None)?;
        let ebs = bus::register(CardKind::Ebs, "nitro_nvme.ebs0", ebs)?;
        // On failure `ebs` drops here and leaves the bus again.
        let instance = bus::register(CardKind::InstanceStore, "nitro_nvme.instance0", instance)?;
        Ok(Self {
            _instance: instance,
            _ebs: ebs,
            _queue: guard,
        })
    }
}
