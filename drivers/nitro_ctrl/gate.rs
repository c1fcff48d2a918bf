// SPDX-License-Identifier: GPL-2.0

//! The boot gate: the cards are held back (no provision, no attach) until
//! the firmware measurements of the security chip have been verified
//! against an allowlist of known-good digests.
//!
//! States: `no-chip` (no security chip on the bus), `closed` (measured, not
//! verified), `open` (every measured component matched), `quarantined` (one
//! did not: the gate stays closed until the chip re-registers, that is until
//! `nitro_sec` is reloaded and measures again).

use crate::{
    bus::{CardKind, Tag, SHA384_LEN},
    controller::{self, Controller},
    uapi,
};
use kernel::{new_mutex, prelude::*, sync::Mutex};

/// One known-good digest.
#[derive(Clone, Copy)]
pub(crate) struct Allowed {
    pub(crate) component: Tag,
    pub(crate) digest: [u8; SHA384_LEN],
}

/// What the gate's lock protects.
struct GateState {
    state: u32,
    /// Registration id of the chip the state is about.
    chip: u64,
    allow: KVec<Allowed>,
    failed: Tag,
    write_attempts: u64,
}

/// The boot gate.
#[pin_data]
pub(crate) struct Gate {
    #[pin]
    inner: Mutex<GateState>,
}

impl Gate {
    /// A gate with no chip.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            inner <- new_mutex!(
                GateState {
                    state: uapi::NITRO_GATE_NO_CHIP,
                    chip: 0,
                    allow: KVec::new(),
                    failed: Tag::EMPTY,
                    write_attempts: 0,
                },
                "nitro_ctrl::gate"
            ),
        })
    }

    /// Takes the gate's lock and lets it go (see
    /// [`crate::controller::lockdep_probe`]).
    pub(crate) fn touch_locks(&self) {
        drop(self.inner.lock());
    }

    /// A security chip registered: its measurements are new, the gate closes.
    pub(crate) fn chip_arrived(&self, chip: u64) {
        let mut g = self.inner.lock();
        g.state = uapi::NITRO_GATE_CLOSED;
        g.chip = chip;
        g.failed = Tag::EMPTY;
        g.write_attempts = 0;
        pr_info!("boot gate closed: firmware measured, waiting for verification\n");
    }

    /// The security chip left: nothing is measured any more.
    pub(crate) fn chip_left(&self, chip: u64) {
        let mut g = self.inner.lock();
        if g.chip == chip {
            g.state = uapi::NITRO_GATE_NO_CHIP;
            g.chip = 0;
            g.failed = Tag::EMPTY;
            pr_info!("boot gate closed: no security chip\n");
        }
    }

    /// The gate state, as in `enum nitro_gate_state`.
    pub(crate) fn state(&self) -> u32 {
        self.inner.lock().state
    }

    /// Fails with `EACCES` (and says why in the log) unless the gate is
    /// open. `what` names the refused request.
    pub(crate) fn check(&self, what: &str) -> Result {
        let state = self.state();
        if state == uapi::NITRO_GATE_OPEN {
            return Ok(());
        }
        let why = match state {
            uapi::NITRO_GATE_NO_CHIP => "no security chip (load nitro_sec)",
            uapi::NITRO_GATE_QUARANTINED => {
                "host quarantined: firmware did not match the allowlist"
            }
            _ => "firmware not verified yet (set the allowlist)",
        };
        pr_warn!("boot gate closed, refusing {}: {}\n", what, why);
        Err(EACCES)
    }

    /// Status: (state, allowlist length, write attempts, failed component).
    pub(crate) fn status(&self) -> (u32, usize, u64, Tag) {
        let g = self.inner.lock();
        (g.state, g.allow.len(), g.write_attempts, g.failed)
    }

    /// Counts, logs and gives `EPERM` for a refused firmware write; `via`
    /// names the interface it came through. The caller audits it (the ioctl
    /// dispatcher does, [`refuse_store_write`] does for the firmware store).
    pub(crate) fn write_refused(&self, via: &str) -> Error {
        let n = {
            let mut g = self.inner.lock();
            g.write_attempts += 1;
            g.write_attempts
        };
        pr_warn!(
            "firmware write refused (write-deny) via {}, attempt {} by uid {}\n",
            via,
            n,
            crate::kapi::current_uid()
        );
        EPERM
    }
}

/// The security chip's firmware store refused a write: counted, logged and
/// audited as a firmware update, like the update ioctl. Gives `EPERM`.
pub fn refuse_store_write(via: &str) -> Error {
    let Ok(ctrl) = controller::current() else {
        return EPERM;
    };
    let e = ctrl.gate.write_refused(via);
    let op = crate::abi_rules::IoctlCmd::decode(uapi::NITRO_IOC_FIRMWARE_UPDATE).nr;
    ctrl.audit.record(op, 0, &Err(e));
    e
}

/// Sets the allowlist and verifies the chip's measurements against it.
/// Gives the new state and, if quarantined, the component that failed.
///
/// Errors: `ENODEV` without a chip, `EPERM` when already quarantined (only
/// a new measurement, by reloading nitro_sec, can clear that).
pub(crate) fn allow(ctrl: &Controller, list: KVec<Allowed>) -> Result<(u32, Tag)> {
    // The chip is asked first, with no lock of the controller held.
    let (chip, log) = {
        let chip = ctrl.bus.card_for(CardKind::Security)?;
        (chip.id(), chip.measurements()?)
    };
    let mut g = ctrl.gate.inner.lock();
    if g.state == uapi::NITRO_GATE_QUARANTINED {
        return Err(EPERM);
    }
    if g.chip != chip {
        return Err(ENODEV);
    }
    let mismatch = log.iter().find(|m| {
        !list
            .iter()
            .any(|a| a.component == m.component && a.digest == m.digest)
    });
    g.allow = list;
    match mismatch {
        None if !log.is_empty() => {
            g.state = uapi::NITRO_GATE_OPEN;
            g.failed = Tag::EMPTY;
            pr_info!(
                "boot gate open: {} firmware components verified\n",
                log.len()
            );
        }
        None => {
            // Nothing was measured: nothing can be vouched for.
            g.state = uapi::NITRO_GATE_QUARANTINED;
            g.failed = Tag::new(b"(no measurements)").unwrap_or(Tag::EMPTY);
            pr_err!("host quarantined: the security chip measured nothing\n");
        }
        Some(m) => {
            g.state = uapi::NITRO_GATE_QUARANTINED;
            g.failed = m.component;
            pr_err!(
                "host quarantined: firmware component {} does not match the allowlist\n",
                m.component.as_str()
            );
        }
    }
    Ok((g.state, g.failed))
}

/// Whether the gate is open. Cards may check it as well, as a second line
/// behind the controller's own check.
pub fn is_open() -> bool {
    controller::current().is_ok_and(|c| c.gate.state() == uapi::NITRO_GATE_OPEN)
}
