// SPDX-License-Identifier: GPL-2.0

//! A volume's data path: its disk's blk-mq operations, which encrypt each
//! logical block with the volume's key (AES-256-XTS, tweak = sector) on the
//! way to the medium and decrypt it on the way back. The medium is RAM
//! (instance storage, served in `queue_rq`) or a backing file or device
//! (EBS, served from the card's I/O work queue, since file I/O sleeps).

use crate::{
    backing::Backing,
    blk::{Op, RqData},
    store::Store,
    wq::IoQueue,
    xts::XtsKey,
};
use kernel::{
    block::mq::{self, Operations},
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Arc,
    },
    time::{Instant, Monotonic},
};
use nitro_ctrl::bus::Metrics;

/// Latency histogram bins, in microseconds: [0, 1), [1, 2), [2, 4), ...
/// [2^25, 2^26), [2^26, inf): EC2's bins for the EBS statistics log page,
/// and the controller's (`NITRO_HIST_BINS`).
pub(crate) const HIST_BINS: usize = nitro_ctrl::bus::HIST_BINS;

/// The bin of a latency of `us` microseconds.
pub(crate) fn hist_bin(us: u64) -> usize {
    ((u64::BITS - us.leading_zeros()) as usize).min(HIST_BINS - 1)
}

/// I/O counters of a volume.
struct Counters {
    read_hist: [Atomic<u64>; HIST_BINS],
    write_hist: [Atomic<u64>; HIST_BINS],
    inflight: Atomic<u64>,
    read_ops: Atomic<u64>,
    read_bytes: Atomic<u64>,
    read_ns: Atomic<u64>,
    write_ops: Atomic<u64>,
    write_bytes: Atomic<u64>,
    write_ns: Atomic<u64>,
}

impl Counters {
    const fn new() -> Self {
        Self {
            read_hist: [const { Atomic::new(0) }; HIST_BINS],
            write_hist: [const { Atomic::new(0) }; HIST_BINS],
            inflight: Atomic::new(0),
            read_ops: Atomic::new(0),
            read_bytes: Atomic::new(0),
            read_ns: Atomic::new(0),
            write_ops: Atomic::new(0),
            write_bytes: Atomic::new(0),
            write_ns: Atomic::new(0),
        }
    }
}

/// Where an EBS volume's blocks live, and the queue its I/O runs on.
pub(crate) struct EbsIo {
    pub(crate) backing: Arc<Backing>,
    pub(crate) queue: Arc<IoQueue>,
}

/// A volume as its disk sees it: its key and its medium. An instance
/// volume's lives as long as the volume; an EBS volume's only while it is
/// attached (its key is opened at attach and wiped at detach).
#[pin_data]
pub(crate) struct Volume {
    pub(crate) id: u64,
    pub(crate) size_bytes: u64,
    pub(crate) block_size: u32,
    key: XtsKey,
    /// Instance storage: the blocks (empty for EBS).
    #[pin]
    store: Store,
    /// EBS: the backing store.
    ebs: Option<EbsIo>,
    counters: Counters,
}

impl Volume {
    /// A volume of `key` over RAM (`ebs` is `None`) or a backing store.
    pub(crate) fn new(
        id: u64,
        size_bytes: u64,
        block_size: u32,
        key: XtsKey,
        ebs: Option<EbsIo>,
    ) -> Result<Arc<Self>> {
        let bs = block_size as usize;
        Arc::pin_init(
            pin_init!(Self {
                id,
                size_bytes,
                block_size,
                key,
                store <- Store::new(bs),
                ebs,
                counters: Counters::new(),
            }),
            GFP_KERNEL,
        )
    }

    /// The volume's counters, histograms and queue depth, for the
    /// controller's metrics and the statistics log page.
    pub(crate) fn metrics(&self) -> Metrics {
        let c = &self.counters;
        Metrics {
            read_ops: c.read_ops.load(Relaxed),
            read_bytes: c.read_bytes.load(Relaxed),
            read_ns: c.read_ns.load(Relaxed),
            write_ops: c.write_ops.load(Relaxed),
            write_bytes: c.write_bytes.load(Relaxed),
            write_ns: c.write_ns.load(Relaxed),
            queue_depth: c.inflight.load(Relaxed),
            read_hist: core::array::from_fn(|i| c.read_hist[i].load(Relaxed)),
            write_hist: core::array::from_fn(|i| c.write_hist[i].load(Relaxed)),
            ..Metrics::default()
        }
    }

    /// Counts one completed read or write of `bytes` that took `ns`.
    fn record(&self, read: bool, bytes: u64, ns: u64) {
        let c = &self.counters;
        let (ops, total, time, hist) = if read {
            (&c.read_ops, &c.read_bytes, &c.read_ns, &c.read_hist)
        } else {
            (&c.write_ops, &c.write_bytes, &c.write_ns, &c.write_hist)
        };
        ops.add(1, Relaxed);
        total.add(bytes, Relaxed);
        time.add(ns, Relaxed);
        hist[hist_bin(ns / 1000)].add(1, Relaxed);
    }

    /// Pages of the medium in use.
    pub(crate) fn pages(&self) -> usize {
        self.store.pages()
    }

    /// Carries out one request synchronously.
    pub(crate) fn process(&self, rq: &mut RqData<'_>) -> Result {
        self.counters.inflight.add(1, Relaxed);
        let r = self.process_counted(rq);
        self.counters.inflight.fetch_sub(1, Relaxed);
        r
    }

    /// `process`, while counted in the queue length.
    fn process_counted(&self, rq: &mut RqData<'_>) -> Result {
        let start = Instant::<Monotonic>::now();
        let op = rq.op();
        let bytes = match op {
            Op::Read => self.transfer(rq, false)?,
            Op::Write => self.transfer(rq, true)?,
            // RAM holds what was written as soon as the write completes.
            Op::Flush => return self.flush(),
            Op::Discard | Op::WriteZeroes => {
                let bs = u64::from(self.block_size);
                return self.zero(rq.pos_bytes() / bs, rq.bytes() / bs);
            }
            Op::Other => return Err(EOPNOTSUPP),
        };
        self.record(op == Op::Read, bytes, elapsed_ns(start));
        Ok(())
    }

    /// Moves a request's data block by block: blocks are encrypted whole,
    /// and segments need not be block-aligned. A whole block in one
    /// segment is decrypted in place (reads) or encrypted from the page
    /// into the bounce buffer (writes: the page must not change); blocks
    /// split across segments are gathered in the bounce buffer.
    /// Gives the bytes moved.
    fn transfer(&self, rq: &mut RqData<'_>, write: bool) -> Result<u64> {
        let bs = self.block_size as usize;
        // Allocated (and zeroed) only when a block needs it: for a read of
        // whole blocks in whole segments, never (measured: the allocation
        // and memset of 4 KiB per request cost a third of the 4k rate).
        let mut bounce = KVec::new();
        if write {
            bounce.resize(bs, 0u8, GFP_ATOMIC)?;
        }
        let mut pos = rq.pos_bytes();
        let mut fill = 0usize;
        let mut moved = 0u64;
        rq.for_each_segment(|mut seg| {
            while !seg.is_empty() {
                if pos + bs as u64 > self.size_bytes {
                    return Err(EIO);
                }
                if !write && fill == 0 && seg.len() >= bs {
                    // A whole block in this segment: decrypt straight into
                    // it, no bounce copy.
                    let (now, rest) = core::mem::take(&mut seg).split_at_mut(bs);
                    self.load(pos, now)?;
                    seg = rest;
                    pos += bs as u64;
                    moved += bs as u64;
                    continue;
                }
                if write && fill == 0 && seg.len() >= bs {
                    // A whole block in this segment: encrypt it straight
                    // into the bounce buffer (the page stays as it was).
                    let (now, rest) = core::mem::take(&mut seg).split_at_mut(bs);
                    self.key.encrypt_to(&mut bounce, now, pos >> 9)?;
                    self.put(pos, &bounce)?;
                    seg = rest;
                    pos += bs as u64;
                    moved += bs as u64;
                    continue;
                }
                if !write && fill == 0 {
                    bounce.resize(bs, 0u8, GFP_ATOMIC)?;
                    self.load(pos, &mut bounce)?;
                }
                let n = (bs - fill).min(seg.len());
                let (now, rest) = core::mem::take(&mut seg).split_at_mut(n);
                if write {
                    bounce[fill..fill + n].copy_from_slice(now);
                } else {
                    now.copy_from_slice(&bounce[fill..fill + n]);
                }
                seg = rest;
                fill += n;
                if fill == bs {
                    if write {
                        self.store_block(pos, &mut bounce)?;
                    }
                    pos += bs as u64;
                    moved += bs as u64;
                    fill = 0;
                }
            }
            Ok(())
        })?;
        // The block layer sends whole logical blocks only.
        if fill != 0 {
            return Err(EIO);
        }
        Ok(moved)
    }

    /// Encrypts `block` (plaintext, clobbered) and stores it at byte `pos`.
    fn store_block(&self, pos: u64, block: &mut [u8]) -> Result {
        self.key.encrypt(block, pos >> 9)?;
        self.put(pos, block)
    }

    /// Stores the encrypted block `cipher` at byte `pos` of the medium.
    fn put(&self, pos: u64, cipher: &[u8]) -> Result {
        match &self.ebs {
            Some(e) => e.backing.write_at(pos, cipher),
            None => self.store.write(pos, cipher),
        }
    }

    /// Blocks on the volume.
    pub(crate) fn blocks(&self) -> u64 {
        self.size_bytes / u64::from(self.block_size)
    }

    /// Whether `count` blocks from `lba` lie on the volume.
    pub(crate) fn in_range(&self, lba: u64, count: u64) -> bool {
        lba.checked_add(count)
            .is_some_and(|end| end <= self.blocks())
    }

    /// Reads `buf.len() / block_size` blocks from `lba` (in range, checked
    /// by the caller) into `buf` (which may be vmalloc'ed: blocks are
    /// decrypted in a bounce buffer), decrypted.
    pub(crate) fn read_blocks(&self, lba: u64, buf: &mut [u8]) -> Result {
        let start = Instant::<Monotonic>::now();
        let bs = self.block_size as usize;
        let mut bounce = KVec::with_capacity(bs, GFP_KERNEL)?;
        bounce.resize(bs, 0u8, GFP_KERNEL)?;
        for (i, block) in buf.chunks_exact_mut(bs).enumerate() {
            self.load((lba + i as u64) * bs as u64, &mut bounce)?;
            block.copy_from_slice(&bounce);
        }
        self.record(true, buf.len() as u64, elapsed_ns(start));
        Ok(())
    }

    /// Writes `buf` (whole blocks; may be vmalloc'ed) at `lba`, encrypted.
    pub(crate) fn write_blocks(&self, lba: u64, buf: &[u8]) -> Result {
        let start = Instant::<Monotonic>::now();
        let bs = self.block_size as usize;
        let mut bounce = KVec::with_capacity(bs, GFP_KERNEL)?;
        bounce.resize(bs, 0u8, GFP_KERNEL)?;
        for (i, block) in buf.chunks_exact(bs).enumerate() {
            bounce.copy_from_slice(block);
            self.store_block((lba + i as u64) * bs as u64, &mut bounce)?;
        }
        self.record(false, buf.len() as u64, elapsed_ns(start));
        Ok(())
    }

    /// Zeroes (deallocates) `count` blocks from `lba`: they read as zeros.
    /// In RAM their pages are freed once empty; on a backing store the
    /// blocks are written as encrypted zeros (it never holds plaintext, not
    /// even zeros, and a hole would not decrypt to zeros).
    pub(crate) fn zero(&self, lba: u64, count: u64) -> Result {
        if !self.in_range(lba, count) {
            return Err(EIO);
        }
        let bs = u64::from(self.block_size);
        let Some(e) = &self.ebs else {
            self.store.discard(lba * bs, (lba + count) * bs);
            return Ok(());
        };
        // Block by block; the buffer is allocated as `transfer`'s is (no
        // reclaim into the I/O path).
        let mut block = KVec::with_capacity(bs as usize, GFP_ATOMIC)?;
        for i in lba..lba + count {
            block.clear();
            block.resize(bs as usize, 0u8, GFP_ATOMIC)?;
            self.key.encrypt(&mut block, (i * bs) >> 9)?;
            e.backing.write_at(i * bs, &block)?;
        }
        Ok(())
    }

    /// Reads and decrypts the block at `pos` into `out`; zeros if it was
    /// never written (RAM).
    fn load(&self, pos: u64, out: &mut [u8]) -> Result {
        if let Some(e) = &self.ebs {
            e.backing.read_at(pos, out)?;
            self.key.decrypt(out, pos >> 9)?;
        } else if self.store.read(pos, out)? {
            self.key.decrypt(out, pos >> 9)?;
        } else {
            out.fill(0);
        }
        Ok(())
    }

    /// Makes every completed write durable: RAM already is; a backing
    /// store is synced.
    pub(crate) fn flush(&self) -> Result {
        self.ebs.as_ref().map_or(Ok(()), |e| e.backing.sync())
    }

    /// Whether the volume is on a backing store (EBS).
    pub(crate) fn is_ebs(&self) -> bool {
        self.ebs.is_some()
    }
}

/// Nanoseconds since `start`.
fn elapsed_ns(start: Instant<Monotonic>) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(0)
}

/// The blk-mq operations of a volume's disk.
pub(crate) struct Disk;

#[vtable]
impl Operations for Disk {
    type QueueData = Arc<Volume>;

    fn queue_rq(vol: ArcBorrowVolume<'_>, rq: ARef<mq::Request<Self>>, _is_last: bool) -> Result {
        if let Some(e) = &vol.ebs {
            // File I/O sleeps: the card's work queue ends the request.
            return e.queue.submit(vol.into(), rq);
        }
        // SAFETY: `queue_rq` gives the driver the request, not ended until
        // below; this is its only view.
        vol.process(&mut unsafe { RqData::new(&rq) })?;
        // The driver holds the only reference while the request is in
        // `queue_rq`, so ending it cannot fail.
        mq::Request::end_ok(rq).map_err(|_| EIO)
    }

    fn commit_rqs(_vol: ArcBorrowVolume<'_>) {}

    fn complete(rq: ARef<mq::Request<Self>>) {
        let _ = mq::Request::end_ok(rq);
    }
}

/// How `queue_rq` sees the volume.
type ArcBorrowVolume<'a> = kernel::sync::ArcBorrow<'a, Volume>;
