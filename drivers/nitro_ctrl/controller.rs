// SPDX-License-Identifier: GPL-2.0

//! The controller: all of its state in one object, and the one global that
//! lets the card modules find it.
//!
//! [`Controller`] is built whole (pin-initialised, every lock with its own
//! lockdep class) before anything can reach it: the ioctl path gets it from
//! the open file, which gets it from the module; the cards get it through
//! [`current`], which the module sets once the controller exists and clears
//! when it goes. Nothing of the controller's state can be used before it is
//! initialised: there is nothing to use until a [`Controller`] exists.

use crate::{
    audit::Audit, bus::Bus, gate::Gate, groups::Groups, instances::Instances, registry::Registry,
};
use kernel::{
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

/// Everything the controller knows.
#[pin_data]
pub(crate) struct Controller {
    /// The private bus: the registered cards.
    #[pin]
    pub(crate) bus: Bus,
    /// Volumes and ENIs.
    #[pin]
    pub(crate) registry: Registry,
    /// The boot gate.
    #[pin]
    pub(crate) gate: Gate,
    /// The audit ring.
    #[pin]
    pub(crate) audit: Audit,
    /// Instances and their hypervisors.
    #[pin]
    pub(crate) instances: Instances,
    /// Security groups.
    #[pin]
    pub(crate) groups: Groups,
    /// The token of the next open file.
    next_token: Atomic<u64>,
}

impl Controller {
    /// A controller with room for `max_volumes` and `max_enis`.
    pub(crate) fn new(max_volumes: usize, max_enis: usize) -> Result<Arc<Self>> {
        Arc::pin_init(
            try_pin_init!(Self {
                bus <- Bus::new(),
                registry <- Registry::new(max_volumes, max_enis),
                gate <- Gate::new(),
                audit <- Audit::new()?,
                instances <- Instances::new()?,
                groups <- Groups::new(),
                next_token: Atomic::new(1),
            }),
            GFP_KERNEL,
        )
    }

    /// A token for a newly opened file, unique while the module is loaded.
    pub(crate) fn next_file_token(&self) -> u64 {
        self.next_token.fetch_add(1, Relaxed)
    }

    /// Card `card` left the bus (after its last call returned): its objects
    /// are marked lost.
    pub(crate) fn card_left(&self, card: u64) {
        self.registry.card_left(card);
    }
}

kernel::sync::global_lock! {
    // SAFETY: `publish` calls `init` first thing in the module initializer,
    // before anything of this crate can run: the misc device does not exist
    // yet, and no card module can call in before the module loader has
    // finished this one's initialisation (they link against its symbols).
    unsafe(uninit) static CURRENT: Mutex<Option<Arc<Controller>>> = None;
}

/// The running controller, for the card modules (`ENODEV` if there is
/// none: the module is going away).
pub(crate) fn current() -> Result<Arc<Controller>> {
    CURRENT.lock().clone().ok_or(ENODEV)
}

/// Whether `CURRENT` was initialised (by the one `Published`).
static PUBLISHED: Atomic<bool> = Atomic::new(false);

/// The controller published for the cards: [`current`] finds it until
/// this is dropped.
pub(crate) struct Published(());

impl Published {
    /// Makes `ctrl` the one [`current`] gives. The module initializer calls
    /// it before anything else touches `CURRENT`; a second call (there is
    /// none) would get `EBUSY`.
    pub(crate) fn new(ctrl: &Arc<Controller>) -> Result<Self> {
        if PUBLISHED.xchg(true, Relaxed) {
            return Err(EBUSY);
        }
        // SAFETY: The flag above lets this run once per load of the module,
        // from its initializer, before any other use of `CURRENT` (see the
        // static's SAFETY comment).
        unsafe { CURRENT.init() };
        *CURRENT.lock() = Some(ctrl.clone());
        Ok(Self(()))
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        *CURRENT.lock() = None;
    }
}

/// Takes every lock of the controller in turn and lets it go: the test card
/// calls it while holding a lock of its own (in its module init), and its
/// callbacks take that lock, so that lockdep sees a cycle, and reports it,
/// if the controller ever called a card with one of its locks held.
pub fn lockdep_probe() {
    drop(CURRENT.lock());
    if let Ok(ctrl) = current() {
        ctrl.bus.touch_locks();
        ctrl.registry.touch_locks();
        ctrl.gate.touch_locks();
        ctrl.audit.touch_locks();
        ctrl.instances.touch_locks();
    }
}
