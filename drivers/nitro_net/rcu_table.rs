// SPDX-License-Identifier: GPL-2.0

//! A hash table read under RCU: the data path's lookups take no lock, and
//! the controller changes the table while traffic flows.
//!
//! Each entry is one node in `N` chains at once, one per index (a mapping
//! is found by (VPC, address) and by (VPC, MAC)). Readers walk the chains
//! under an [`rcu::Guard`]. Writers are serialised by the table's mutex:
//! they publish a node with a release store of its chain's head, unlink it
//! with a release store of its predecessor's link, and free it only after a
//! grace period. A removed node goes on a list with the RCU state of its
//! removal (`get_state_synchronize_rcu`), and a later write frees it once
//! that grace period has passed (`poll_state_synchronize_rcu`), or the
//! table does when it goes. Nothing is freed from an RCU callback, so a
//! value is always dropped in process context (a peer's value holds a
//! crypto transform) and no callback can outlive the module.
//!
//! The table grows by doubling when it holds more entries than buckets (it
//! never shrinks). A node has two sets of links, one per generation of
//! buckets: the writer links every node into the bigger buckets through the
//! set the current buckets do not use (no reader follows it: the last
//! growth waited for the readers of the buckets that did), publishes them,
//! waits for a grace period and frees the old heads. Readers see the old
//! chains or the new ones, each whole. No node is copied: growth allocates
//! only the heads, and cannot fail half-way.
//!
//! A node's bucket in index `i` is the top bits of a keyed hash of its key
//! there (the 64-bit finaliser of MurmurHash3 over `key ^ seed`, a
//! bijection), so bucket order is hash order at every size: [`Writer::page`]
//! lists an index in that order, its cursor a hash, stable while the table
//! grows.

use crate::ffi;
use core::ptr;
use kernel::{
    alloc::KVVec,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        rcu, LockClassKey, Mutex, MutexGuard,
    },
};

/// A value the table can hold: its key in each of the `N` indexes.
pub(crate) trait Entry<const N: usize>: Send + Sync {
    /// The value's key in index `index` (below `N`). Values may share a
    /// key: lookups take a predicate that tells them apart.
    fn key(&self, index: usize) -> u64;
}

/// Bucket bits of a new table (64 buckets per index).
const BITS_MIN: u32 = 6;
/// Bucket bits past which a table no longer grows (2^21 buckets per index:
/// 16 MiB of heads per index on 64-bit).
const BITS_MAX: u32 = 21;

/// A removed node and the RCU state at its removal.
struct Retired<T: Entry<N>, const N: usize> {
    node: *mut Node<T, N>,
    state: kernel::ffi::c_ulong,
}

struct Node<T: Entry<N>, const N: usize> {
    /// The next node of each index's chain, for each generation of buckets.
    next: [[Atomic<*mut Node<T, N>>; N]; 2],
    val: T,
}

impl<T: Entry<N>, const N: usize> Node<T, N> {
    /// The link to the next node of index `index` in the chains of `b`.
    /// `index` is below `N`.
    fn next(&self, b: &Buckets<T, N>, index: usize) -> &Atomic<*mut Node<T, N>> {
        &self.next[b.gen][index]
    }
}

/// The bucket heads of all indexes: index `i`'s bucket `b` is at
/// `(i << bits) + b`. Their chains run through the nodes' links of
/// generation `gen` (0 or 1).
struct Buckets<T: Entry<N>, const N: usize> {
    bits: u32,
    gen: usize,
    heads: KVVec<Atomic<*mut Node<T, N>>>,
}

impl<T: Entry<N>, const N: usize> Buckets<T, N> {
    fn new(bits: u32, gen: usize) -> Result<KBox<Self>> {
        let n = N << bits;
        let mut heads = KVVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            heads.push(Atomic::new(ptr::null_mut()), GFP_KERNEL)?;
        }
        Ok(KBox::new(Self { bits, gen, heads }, GFP_KERNEL)?)
    }

    /// The head of the chain of `hash` in `index`, if the index exists.
    fn head(&self, index: usize, hash: u64) -> Option<&Atomic<*mut Node<T, N>>> {
        if index >= N {
            return None;
        }
        // `bits` is at least BITS_MIN: the shift is below 64.
        let b = (hash >> (64 - self.bits)) as usize;
        self.heads.get((index << self.bits) + b)
    }

    fn count(&self) -> usize {
        1 << self.bits
    }
}

/// The writer's state, behind the table's mutex: the removed nodes not yet
/// freed, oldest first.
struct Removed<T: Entry<N>, const N: usize>(KVVec<Retired<T, N>>);

// SAFETY: The nodes are reached only by the writer holding the mutex, and
// their values are `Send`.
unsafe impl<T: Entry<N>, const N: usize> Send for Removed<T, N> {}

/// A hash table of `T` with `N` indexes, read under RCU.
///
/// # Invariants
///
/// `buckets` points to a live `Buckets` made by `KBox::into_raw`, replaced
/// only by a writer, which frees the old one after a grace period. Every
/// node reachable from it was made by `KBox::into_raw` and is freed only
/// by a writer (or the drop), after a grace period that began after it was
/// unlinked from every chain. Every node of index 0's chains is in one
/// chain of each index, the one of its key's hash there, linked through
/// the links of the buckets' generation; no reader follows the links of
/// the other generation. `len` counts the nodes.
#[pin_data(PinnedDrop)]
pub(crate) struct RcuTable<T: Entry<N>, const N: usize> {
    seed: u64,
    buckets: Atomic<*mut Buckets<T, N>>,
    len: Atomic<usize>,
    #[pin]
    writer: Mutex<Removed<T, N>>,
}

// SAFETY: Readers on any CPU get `&T` (`T: Sync`); writers on any CPU make
// and drop `T` (`T: Send`). The raw pointers are the table's own nodes.
unsafe impl<T: Entry<N>, const N: usize> Send for RcuTable<T, N> {}
// SAFETY: As for `Send`: shared access is reads under RCU or writes under
// the mutex.
unsafe impl<T: Entry<N>, const N: usize> Sync for RcuTable<T, N> {}

/// MurmurHash3's 64-bit finaliser: a bijection that mixes every bit.
pub(crate) fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// Whether the grace period of RCU state `state` has passed.
fn grace_passed(state: kernel::ffi::c_ulong) -> bool {
    // SAFETY: An FFI call with no requirement.
    unsafe { ffi::poll_state_synchronize_rcu(state) }
}

/// A random 64-bit seed for a keyed hash.
pub(crate) fn random_seed() -> u64 {
    // SAFETY: An FFI call with no requirement.
    unsafe { ffi::get_random_u64() }
}

impl<T: Entry<N>, const N: usize> RcuTable<T, N> {
    /// An empty table, its writers' mutex named `name` in lock class `key`
    /// (one class per kind of table: a writer may take another table's
    /// mutex while it holds this one's). A random seed keys its hash: the
    /// controller's inputs cannot be chosen to share a bucket.
    pub(crate) fn new(
        name: &'static CStr,
        key: Pin<&'static LockClassKey>,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            seed: random_seed(),
            buckets: Atomic::new(KBox::into_raw(Buckets::new(BITS_MIN, 0)?)),
            len: Atomic::new(0),
            writer <- Mutex::new(Removed(KVVec::new()), name, key),
        }? Error)
    }

    fn hash(&self, key: u64) -> u64 {
        fmix64(key ^ self.seed)
    }

    /// How many entries the table holds.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Relaxed)
    }

    /// The first value of index `index` with key `key` that `pred` takes,
    /// valid while `_rcu` is held.
    pub(crate) fn find<'a>(
        &'a self,
        _rcu: &'a rcu::Guard,
        index: usize,
        key: u64,
        pred: impl Fn(&T) -> bool,
    ) -> Option<&'a T> {
        // SAFETY: By the invariants, `buckets` is live until a grace period
        // after it is replaced, and `_rcu` holds one off.
        let b = unsafe { &*self.buckets.load(Acquire) };
        let mut p = b.head(index, self.hash(key))?.load(Acquire);
        while !p.is_null() {
            // SAFETY: By the invariants, a node reachable from a chain is
            // freed only after a grace period, which `_rcu` holds off.
            let n = unsafe { &*p };
            if pred(&n.val) {
                return Some(&n.val);
            }
            p = n.next(b, index).load(Acquire);
        }
        None
    }

    /// Takes the writer's side (sleeps on the mutex).
    pub(crate) fn write(&self) -> Writer<'_, T, N> {
        Writer {
            t: self,
            removed: self.writer.lock(),
        }
    }
}

#[pinned_drop]
impl<T: Entry<N>, const N: usize> PinnedDrop for RcuTable<T, N> {
    fn drop(self: Pin<&mut Self>) {
        // No reader or writer is left (the table is being dropped): every
        // node, removed or not, is freed now.
        let mut removed = self.writer.lock();
        for r in removed.0.drain_all() {
            // SAFETY: A removed node, made by `KBox::into_raw`, unlinked;
            // nothing else refers to it.
            drop(unsafe { KBox::from_raw(r.node) });
        }
        drop(removed);
        // SAFETY: By the invariants, made by `KBox::into_raw`; no reader is
        // left to see it.
        let b = unsafe { KBox::from_raw(self.buckets.load(Relaxed)) };
        // SAFETY: `b` is unpublished and readerless.
        unsafe { free_chains(&b) };
    }
}

/// Frees every node of `b` (each is in one chain of index 0).
///
/// # Safety
///
/// No reader or writer can reach `b`'s nodes any more.
unsafe fn free_chains<T: Entry<N>, const N: usize>(b: &Buckets<T, N>) {
    for head in b.heads.iter().take(b.count()) {
        let mut p = head.load(Relaxed);
        while !p.is_null() {
            // SAFETY: Made by `KBox::into_raw`; by the caller's promise no
            // one else reaches the node.
            let n = unsafe { KBox::from_raw(p) };
            p = n.next(b, 0).load(Relaxed);
        }
    }
}

/// The writer's side of a table: holds its mutex.
pub(crate) struct Writer<'a, T: Entry<N>, const N: usize> {
    t: &'a RcuTable<T, N>,
    removed: MutexGuard<'a, Removed<T, N>>,
}

impl<T: Entry<N>, const N: usize> Writer<'_, T, N> {
    fn buckets(&self) -> &Buckets<T, N> {
        // SAFETY: By the invariants, `buckets` is live; only a writer
        // replaces it, and this writer holds the mutex.
        unsafe { &*self.t.buckets.load(Relaxed) }
    }

    /// How many entries the table holds.
    pub(crate) fn len(&self) -> usize {
        self.t.len()
    }

    /// The node of index `index` with key `key` that `pred` takes.
    fn find_node(&self, index: usize, key: u64, pred: impl Fn(&T) -> bool) -> *mut Node<T, N> {
        let b = self.buckets();
        let Some(head) = b.head(index, self.t.hash(key)) else {
            return ptr::null_mut();
        };
        let mut p = head.load(Relaxed);
        while !p.is_null() {
            // SAFETY: Reachable from a chain: live while the writer, who
            // alone frees nodes, holds the mutex.
            let n = unsafe { &*p };
            if pred(&n.val) {
                break;
            }
            p = n.next(b, index).load(Relaxed);
        }
        p
    }

    /// As [`RcuTable::find`], for the writer (no grace period needed: only
    /// the writer removes, and it cannot while this borrow lives).
    pub(crate) fn find(&self, index: usize, key: u64, pred: impl Fn(&T) -> bool) -> Option<&T> {
        let p = self.find_node(index, key, pred);
        // SAFETY: Null or live, as `find_node` says, while `self` is
        // borrowed.
        unsafe { p.as_ref() }.map(|n| &n.val)
    }

    /// Frees the removed nodes whose grace period has passed (states grow
    /// with time: the list is in the order they pass).
    fn reap(&mut self) {
        let list = &mut self.removed.0;
        let passed = list.iter().take_while(|r| grace_passed(r.state)).count();
        if passed == 0 {
            return;
        }
        for r in list.iter().take(passed) {
            // It leaves the list below.
            // SAFETY: Made by `KBox::into_raw`, unlinked before the grace
            // period that has passed: no reader can still reach it.
            drop(unsafe { KBox::from_raw(r.node) });
        }
        if passed == list.len() {
            list.clear();
        } else {
            let mut i = 0;
            list.retain(|_| {
                i += 1;
                i > passed
            });
        }
    }

    /// Links the node `p` into each index's chain of `b`.
    ///
    /// # Safety
    ///
    /// `p` is a node made by `KBox::into_raw`, in no chain of `b`, and `b`
    /// is the writer's (the published buckets, or new ones not yet
    /// published).
    unsafe fn link(&self, b: &Buckets<T, N>, p: *mut Node<T, N>) {
        // SAFETY: `p` is live (the caller's).
        let n = unsafe { &*p };
        for i in 0..N {
            let Some(head) = b.head(i, self.t.hash(n.val.key(i))) else {
                continue;
            };
            n.next(b, i).store(head.load(Relaxed), Relaxed);
            // Publishes the node: a reader that sees it sees its contents.
            head.store(p, Release);
        }
    }

    /// Unlinks the node `p` from each index's chain and puts it on the
    /// removed list (or, if the list cannot grow, waits for a grace period
    /// and frees it).
    ///
    /// # Safety
    ///
    /// `p` is a node of the published buckets' chains.
    unsafe fn unlink(&mut self, p: *mut Node<T, N>) {
        let b = self.buckets();
        // SAFETY: `p` is live (the caller's).
        let n = unsafe { &*p };
        for i in 0..N {
            let Some(mut link) = b.head(i, self.t.hash(n.val.key(i))) else {
                continue;
            };
            loop {
                let q = link.load(Relaxed);
                if q.is_null() {
                    break;
                }
                if q == p {
                    // Readers on `p` still follow its link; new ones skip it.
                    link.store(n.next(b, i).load(Relaxed), Release);
                    break;
                }
                // SAFETY: Reachable from a chain, live under the mutex.
                link = unsafe { (*q).next(b, i) };
            }
        }
        self.t.len.fetch_sub(1, Relaxed);
        // SAFETY: An FFI call with no requirement.
        let state = unsafe { ffi::get_state_synchronize_rcu() };
        let list = &mut self.removed.0;
        if list.reserve(1, GFP_KERNEL).is_err() {
            rcu::synchronize_rcu();
            // SAFETY: Made by `KBox::into_raw`, unlinked before the grace
            // period just waited for: no reader can reach it.
            drop(unsafe { KBox::from_raw(p) });
            return;
        }
        // Room was reserved: the push does not fail.
        let _ = list.push_within_capacity(Retired { node: p, state });
    }

    /// Doubles the buckets: links every node into new ones through the
    /// links of the other generation, publishes them, waits for the readers
    /// of the old ones and frees their heads.
    fn grow(&mut self) -> Result {
        let old = self.buckets();
        let new = KBox::into_raw(Buckets::new(old.bits + 1, 1 - old.gen)?);
        // SAFETY: Just made, not yet published: the writer's.
        let nb = unsafe { &*new };
        for head in old.heads.iter().take(old.count()) {
            let mut p = head.load(Relaxed);
            while !p.is_null() {
                // SAFETY: Reachable from a chain, live under the mutex.
                let next = unsafe { (*p).next(old, 0) }.load(Relaxed);
                // SAFETY: `p` is in no chain of `nb`, which is the writer's;
                // by the invariants no reader follows the links it writes.
                unsafe { self.link(nb, p) };
                p = next;
            }
        }
        let old = self.t.buckets.xchg(new, Release);
        // After this, no reader follows the old generation's links: the
        // next growth may reuse them.
        rcu::synchronize_rcu();
        // Its nodes live on in the new buckets.
        // SAFETY: Made by `KBox::into_raw`, unpublished, and a grace period
        // has passed: no reader is left on it.
        drop(unsafe { KBox::from_raw(old) });
        Ok(())
    }

    /// Frees what can be freed and grows the buckets if the table is
    /// fuller than they are (a table that cannot grow keeps longer chains:
    /// adding never fails for lack of buckets).
    fn prepare(&mut self) {
        self.reap();
        let b = self.buckets();
        if self.len() >= b.count() && b.bits < BITS_MAX {
            let _ = self.grow();
        }
    }

    /// Links a new node of `val` into the published buckets.
    fn push(&mut self, val: T) -> Result {
        let p = new_node(val)?;
        // SAFETY: A new node, in no chain, linked into the published
        // buckets by their writer.
        unsafe { self.link(self.buckets(), p) };
        self.t.len.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Adds `val`.
    pub(crate) fn insert(&mut self, val: T) -> Result {
        self.prepare();
        self.push(val)
    }

    /// Adds `val` in place of the first value of index `index` with key
    /// `key` that `pred` takes, if there is one (readers see the one or the
    /// other, or for a moment both). Gives whether it replaced one.
    pub(crate) fn upsert(
        &mut self,
        index: usize,
        key: u64,
        pred: impl Fn(&T) -> bool,
        val: T,
    ) -> Result<bool> {
        // Grow first: the node found below stays where it is.
        self.prepare();
        let old = self.find_node(index, key, pred);
        self.push(val)?;
        if old.is_null() {
            return Ok(false);
        }
        // SAFETY: Found in the published chains, which `push` only added to.
        unsafe { self.unlink(old) };
        Ok(true)
    }

    /// Removes the first value of index `index` with key `key` that `pred`
    /// takes; gives whether there was one.
    pub(crate) fn remove(&mut self, index: usize, key: u64, pred: impl Fn(&T) -> bool) -> bool {
        self.reap();
        let p = self.find_node(index, key, pred);
        if p.is_null() {
            return false;
        }
        // SAFETY: Found in the published chains.
        unsafe { self.unlink(p) };
        true
    }

    /// Waits for a grace period and frees every removed node: their values
    /// are dropped before this returns (a value that refers back to the
    /// table's owner must not wait for a later write).
    pub(crate) fn sync(&mut self) {
        rcu::synchronize_rcu();
        self.reap();
    }

    /// Calls `out` with the values of index `index` whose hash is at least
    /// `from`, in hash order, with the hash, until it returns false. Gives
    /// the hash to continue from, or `None` if it listed everything.
    pub(crate) fn page(
        &self,
        index: usize,
        from: u64,
        mut out: impl FnMut(&T) -> bool,
    ) -> Option<u64> {
        let b = self.buckets();
        if index >= N {
            return None;
        }
        let mut lower = from;
        let first = (from >> (64 - b.bits)) as usize;
        for bucket in first..b.count() {
            let head = b.heads.get((index << b.bits) + bucket)?;
            // The bucket's values in hash order: the smallest hash at or
            // above `lower`, again and again (chains hold one or two).
            loop {
                let mut best: Option<(u64, &T)> = None;
                let mut p = head.load(Relaxed);
                while !p.is_null() {
                    // SAFETY: Reachable from a chain, live under the mutex.
                    let n = unsafe { &*p };
                    let h = self.t.hash(n.val.key(index));
                    if h >= lower && best.is_none_or(|(bh, _)| h < bh) {
                        best = Some((h, &n.val));
                    }
                    p = n.next(b, index).load(Relaxed);
                }
                let Some((h, v)) = best else { break };
                if !out(v) {
                    return Some(h);
                }
                lower = h.checked_add(1)?;
            }
        }
        None
    }
}

/// A new node holding `val`, linked nowhere.
fn new_node<T: Entry<N>, const N: usize>(val: T) -> Result<*mut Node<T, N>> {
    let n = KBox::new(
        Node {
            next: core::array::from_fn(|_| core::array::from_fn(|_| Atomic::new(ptr::null_mut()))),
            val,
        },
        GFP_KERNEL,
    )?;
    Ok(KBox::into_raw(n))
}
