// SPDX-License-Identifier: GPL-2.0

//! The instance-storage medium: RAM pages, allocated on a block's first
//! write and freed when the volume is deprovisioned. It only ever holds
//! ciphertext; a block never written reads as absent (the card answers
//! zeros without decrypting).

use kernel::{
    new_spinlock,
    page::{Page, PAGE_SIZE},
    prelude::*,
    rbtree::RBTree,
    sync::SpinLock,
};

/// One page of the medium and which of its logical blocks hold data.
struct Chunk {
    page: Page,
    /// Bit `i`: block `i` of the page (of `block_size` bytes) was written.
    written: u8,
}

/// A sparse store of logical blocks (512 or 4096 bytes).
#[pin_data]
pub(crate) struct Store {
    block_size: usize,
    #[pin]
    pages: SpinLock<RBTree<u64, Chunk>>,
}

impl Store {
    /// An empty store of `block_size`-byte blocks.
    pub(crate) fn new(block_size: usize) -> impl PinInit<Self> {
        pin_init!(Self {
            block_size,
            pages <- new_spinlock!(RBTree::new(), "nitro_nvme::Store::pages"),
        })
    }

    /// Page index, offset in the page and bit of the block at byte `pos`.
    fn locate(&self, pos: u64) -> (u64, usize, u8) {
        let off = (pos % PAGE_SIZE as u64) as usize;
        let bit = 1u8 << (off / self.block_size);
        (pos / PAGE_SIZE as u64, off, bit)
    }

    /// Copies the stored block at byte `pos` into `out` (one block long).
    /// `false` if it was never written (`out` is then untouched).
    pub(crate) fn read(&self, pos: u64, out: &mut [u8]) -> Result<bool> {
        let (index, off, bit) = self.locate(pos);
        let pages = self.pages.lock();
        match pages.get(&index) {
            Some(c) if c.written & bit != 0 => {
                // A block never straddles pages: both sizes divide PAGE_SIZE.
                // SAFETY: `out` is writable for its length, within the page.
                unsafe { c.page.read_raw(out.as_mut_ptr(), off, out.len())? };
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Stores `data` (one block of ciphertext) at byte `pos`, allocating
    /// its page on first use. Called from `queue_rq`: nothing here sleeps.
    pub(crate) fn write(&self, pos: u64, data: &[u8]) -> Result {
        let (index, off, bit) = self.locate(pos);
        let mut pages = self.pages.lock();
        if pages.get(&index).is_none() {
            let page = Page::alloc_page(GFP_ATOMIC)?;
            pages.try_create_and_insert(index, Chunk { page, written: 0 }, GFP_ATOMIC)?;
        }
        let c = pages.get_mut(&index).ok_or(EIO)?;
        // SAFETY: `data` is valid for reads of its length, within the page
        // as in `read`.
        unsafe { c.page.write_raw(data.as_ptr(), off, data.len())? };
        c.written |= bit;
        Ok(())
    }

    /// Forgets the blocks in bytes `start..end` (block aligned): they read
    /// as never written again, and pages left with no block are freed. Only
    /// the pages that exist are visited, so a discard of a whole large
    /// volume costs what it holds, not what it spans.
    pub(crate) fn discard(&self, start: u64, end: u64) {
        let ps = PAGE_SIZE as u64;
        let bs = self.block_size as u64;
        let mut pages = self.pages.lock();
        let mut cursor = pages.cursor_lower_bound_mut(&(start / ps));
        while let Some(mut c) = cursor {
            let (index, chunk) = c.current_mut();
            let page_start = *index * ps;
            if page_start >= end {
                break;
            }
            let mut pos = start.max(page_start);
            while pos < end.min(page_start + ps) {
                chunk.written &= !self.locate(pos).2;
                pos += bs;
            }
            cursor = if chunk.written == 0 {
                // The node and its page are freed here (neither sleeps).
                c.remove_current().0
            } else {
                c.move_next()
            };
        }
    }

    /// Pages in use.
    pub(crate) fn pages(&self) -> usize {
        self.pages.lock().iter().count()
    }
}
