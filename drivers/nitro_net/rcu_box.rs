// SPDX-License-Identifier: GPL-2.0

//! A value published under RCU: readers borrow it under an [`rcu::Guard`]
//! and take no lock; a writer puts another in its place and frees the old
//! one after a grace period (so it sleeps: process context only).

use core::ptr;
use kernel::{
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Full},
        rcu,
    },
};

/// An optional `T` readers find under RCU.
///
/// # Invariants
///
/// `ptr` is null or made by `KBox::into_raw`; what it pointed to before is
/// freed only after a grace period that began after it was replaced.
pub(crate) struct RcuBox<T: Send + Sync> {
    ptr: Atomic<*mut T>,
}

// SAFETY: Readers on any CPU get `&T` (`T: Sync`); writers on any CPU drop
// the old `T` (`T: Send`).
unsafe impl<T: Send + Sync> Send for RcuBox<T> {}
// SAFETY: As for `Send`: shared access is reads under RCU, and replacing,
// which is atomic.
unsafe impl<T: Send + Sync> Sync for RcuBox<T> {}

impl<T: Send + Sync> RcuBox<T> {
    /// Holding `val`.
    pub(crate) fn new(val: Option<KBox<T>>) -> Self {
        Self {
            ptr: Atomic::new(val.map_or(ptr::null_mut(), KBox::into_raw)),
        }
    }

    /// The value, valid while `_rcu` is held.
    pub(crate) fn get<'a>(&'a self, _rcu: &'a rcu::Guard) -> Option<&'a T> {
        let p = self.ptr.load(Acquire);
        // SAFETY: By the invariants, null or live until a grace period
        // after it is replaced, which `_rcu` holds off.
        unsafe { p.as_ref() }
    }

    /// Puts `val` in place of the value; returns once no reader can still
    /// see the old one, which it drops.
    pub(crate) fn replace(&self, val: Option<KBox<T>>) {
        let new = val.map_or(ptr::null_mut(), KBox::into_raw);
        let old = self.ptr.xchg(new, Full);
        if !old.is_null() {
            rcu::synchronize_rcu();
            // Only this call got `old` from the exchange.
            // SAFETY: Made by `KBox::into_raw`, replaced before the grace
            // period that has passed: no reader is left on it.
            drop(unsafe { KBox::from_raw(old) });
        }
    }
}

impl<T: Send + Sync> Drop for RcuBox<T> {
    fn drop(&mut self) {
        let p = *self.ptr.get_mut();
        if !p.is_null() {
            // SAFETY: Made by `KBox::into_raw`; no reader is left (`self` is
            // borrowed mutably, so no `get` borrow lives).
            drop(unsafe { KBox::from_raw(p) });
        }
    }
}
