// SPDX-License-Identifier: GPL-2.0

//! The EBS card's key and the opening of wrapped data keys.
//!
//! The card key (32 bytes, AES-256-GCM) is loaded once, when the module is
//! loaded, as the firmware file `NITRO_EBS_CARD_KEY` through the kernel's
//! firmware loader; it never leaves the card. A volume's data key arrives
//! sealed under it (`struct nitro_wrapped_key`) and is opened only when the
//! volume is attached: a blob that does not authenticate (another card's
//! key, a flipped bit) is refused, never turned into a wrong key.

use crate::{
    ffi,
    xts::{self, KEY_LEN},
};
use kernel::{
    device::{Bound, Device},
    faux,
    firmware::Firmware,
    prelude::*,
};
use nitro_ctrl::bus::WRAPPED_KEY_LEN;

/// Length of the card key.
pub(crate) const CARD_KEY_LEN: usize = 32;
/// The firmware file that holds the card key.
pub(crate) const CARD_KEY_FILE: &CStr = c"nitro-rs/ebs-card.key";

/// Layout of `struct nitro_wrapped_key`.
const MAGIC: &[u8; 4] = b"NWK1";
const VERSION: u32 = 1;
const AD_LEN: usize = 8;
const NONCE: core::ops::Range<usize> = 8..20;
const SEALED: core::ops::Range<usize> = 20..20 + KEY_LEN;
const TAG: core::ops::Range<usize> = 20 + KEY_LEN..WRAPPED_KEY_LEN;
const TAG_LEN: usize = 16;

/// Why a wrapped key was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Not a `struct nitro_wrapped_key` of a version this card knows.
    Format,
    /// It did not authenticate under the card key: wrapped for another
    /// card, or altered.
    Authentication,
}

/// Checks the header of a wrapped key (its magic and version), as create
/// does before keeping it.
pub(crate) fn check_format(wrapped: &[u8; WRAPPED_KEY_LEN]) -> Result<(), Refused> {
    let version = u32::from_le_bytes([wrapped[4], wrapped[5], wrapped[6], wrapped[7]]);
    if &wrapped[..4] != MAGIC || version != VERSION {
        return Err(Refused::Format);
    }
    Ok(())
}

/// The card key, prepared for AES-256-GCM, wiped when dropped.
pub(crate) struct CardKey {
    prepared: KBox<ffi::aes_gcm_key>,
}

impl CardKey {
    /// Loads the card key from the firmware file. `Ok(None)` if there is no
    /// such file: the card then refuses EBS volumes.
    pub(crate) fn load() -> Result<Option<Self>> {
        // The firmware loader wants a device to ask for; a faux device
        // stands in for the card for the duration of the load.
        let dev = faux::Registration::new(c"nitro_ebs_card", None)?;
        let d: &Device = AsRef::<faux::Device<Bound>>::as_ref(&dev).as_ref();
        let fw = match Firmware::request_nowarn(CARD_KEY_FILE, d) {
            Ok(fw) => fw,
            Err(e) if e == ENOENT => return Ok(None),
            Err(e) => return Err(e),
        };
        let data = fw.data();
        if data.len() != CARD_KEY_LEN {
            pr_err!(
                "card key {} is {} bytes, not {}: EBS volumes refused\n",
                CARD_KEY_FILE.to_str()?,
                data.len(),
                CARD_KEY_LEN
            );
            return Ok(None);
        }
        let mut raw = [0u8; CARD_KEY_LEN];
        raw.copy_from_slice(data);
        let key = Self::new(&raw);
        xts::wipe(&mut raw);
        key.map(Some)
    }

    /// Prepares `raw` for AES-256-GCM with 16-byte tags.
    fn new(raw: &[u8; CARD_KEY_LEN]) -> Result<Self> {
        let mut prepared = KBox::new(pin_init::zeroed::<ffi::aes_gcm_key>(), GFP_KERNEL)?;
        // SAFETY: `prepared` is a `struct aes_gcm_key`; `raw` is
        // CARD_KEY_LEN readable bytes.
        let r =
            unsafe { ffi::aes_gcm_preparekey(&mut *prepared, raw.as_ptr(), CARD_KEY_LEN, TAG_LEN) };
        let key = Self { prepared };
        if r != 0 {
            // `key` drops here and wipes what was prepared.
            return Err(Error::from_errno(r));
        }
        Ok(key)
    }

    /// Opens a wrapped data key. The caller wipes the result after use.
    pub(crate) fn open_data_key(
        &self,
        wrapped: &[u8; WRAPPED_KEY_LEN],
    ) -> Result<[u8; KEY_LEN], Refused> {
        check_format(wrapped)?;
        let mut out = [0u8; KEY_LEN];
        let src = &wrapped[SEALED];
        // `out` and `src` are KEY_LEN bytes, the tag TAG_LEN, the associated
        // data AD_LEN and the nonce 12 (the ranges above).
        // SAFETY: all buffers are as long as said; the key was prepared.
        let r = unsafe {
            ffi::aes_gcm_decrypt(
                out.as_mut_ptr(),
                src.as_ptr(),
                KEY_LEN,
                wrapped[TAG].as_ptr(),
                wrapped.as_ptr(),
                AD_LEN,
                wrapped[NONCE].as_ptr(),
                &*self.prepared,
            )
        };
        if r != 0 {
            xts::wipe(&mut out);
            return Err(Refused::Authentication);
        }
        Ok(out)
    }
}

impl Drop for CardKey {
    fn drop(&mut self) {
        let key: *mut ffi::aes_gcm_key = &mut *self.prepared;
        // SAFETY: The opaque `struct aes_gcm_key` is plain bytes for its
        // whole size, borrowed mutably here.
        let bytes = unsafe {
            core::slice::from_raw_parts_mut(
                key.cast::<u8>(),
                core::mem::size_of::<ffi::aes_gcm_key>(),
            )
        };
        xts::wipe(bytes);
    }
}
