// SPDX-License-Identifier: GPL-2.0

//! The replay window of one key: which counters have been seen.

/// Packets of reordering accepted below the highest counter seen.
pub(crate) const WINDOW: u64 = 1024;
const WORDS: usize = (WINDOW / 64) as usize;

/// The highest counter accepted, and a bitmap of the `WINDOW` counters
/// below and including it (bit `c % WINDOW` for counter `c`).
pub(crate) struct Replay {
    top: u64,
    bits: [u64; WORDS],
}

impl Replay {
    /// Nothing seen yet (counters start at 1).
    pub(crate) const fn new() -> Self {
        Self {
            top: 0,
            bits: [0; WORDS],
        }
    }

    /// Accepts `c` if it was not seen and is not too old, and records it.
    /// Call only for packets that authenticated.
    pub(crate) fn accept(&mut self, c: u64) -> bool {
        if c == 0 {
            return false;
        }
        if c > self.top {
            // Forget the counters that fall out of the window.
            let shift = c - self.top;
            if shift >= WINDOW {
                self.bits = [0; WORDS];
            } else {
                for k in self.top + 1..c {
                    self.clear(k);
                }
            }
            self.top = c;
            self.set(c);
            return true;
        }
        if self.top - c >= WINDOW || self.get(c) {
            return false;
        }
        self.set(c);
        true
    }

    fn slot(c: u64) -> (usize, u64) {
        let i = c % WINDOW;
        ((i / 64) as usize, 1 << (i % 64))
    }
    fn get(&self, c: u64) -> bool {
        let (w, b) = Self::slot(c);
        self.bits[w] & b != 0
    }
    fn set(&mut self, c: u64) {
        let (w, b) = Self::slot(c);
        self.bits[w] |= b;
    }
    fn clear(&mut self, c: u64) {
        let (w, b) = Self::slot(c);
        self.bits[w] &= !b;
    }
}
