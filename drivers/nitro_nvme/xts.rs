// SPDX-License-Identifier: GPL-2.0

//! AES-256-XTS as dm-crypt's `aes-xts-plain64`: each logical block is one
//! XTS message whose tweak is its position in 512-byte sectors, little
//! endian. The cipher is the crypto API's synchronous `xts(aes)` (AES-NI and
//! VAES on x86, the code dm-crypt runs); its request helpers are static
//! inlines, called through the C glue, and the request lives on the stack as
//! `SYNC_SKCIPHER_REQUEST_ON_STACK` (a macro) puts it. (Kernel 7.3's
//! `aes_xts_*` library has no x86 code: it would pay an FPU section per
//! 16-byte block.)

use crate::ffi;
use core::ptr::NonNull;
use kernel::{error::from_err_ptr, prelude::*};

/// Raw key length: two AES-256 keys.
pub(crate) const KEY_LEN: usize = 64;

/// Room for a synchronous skcipher request on the stack: what
/// `SYNC_SKCIPHER_REQUEST_ON_STACK` reserves.
const REQ_BYTES: usize =
    core::mem::size_of::<ffi::skcipher_request>() + ffi::MAX_SYNC_SKCIPHER_REQSIZE as usize;

/// A request's storage, aligned beyond `CRYPTO_MINALIGN`.
#[repr(C, align(64))]
struct ReqBuf([u8; REQ_BYTES]);

const _: () =
    assert!(core::mem::align_of::<ffi::skcipher_request>() <= core::mem::align_of::<ReqBuf>());

/// An AES-256-XTS key, held by the crypto API (which wipes it when freed).
/// It never leaves the card.
pub(crate) struct XtsKey {
    tfm: NonNull<ffi::crypto_sync_skcipher>,
}

// SAFETY: a synchronous skcipher transform may be used from any thread,
// concurrently (each call has its own request), and freed from any thread.
unsafe impl Send for XtsKey {}
// SAFETY: as above: `crypt` only reads the transform.
unsafe impl Sync for XtsKey {}

impl XtsKey {
    /// Sets up `raw` (weak keys, with equal halves, are refused). The
    /// caller wipes `raw` afterwards.
    pub(crate) fn new(raw: &[u8; KEY_LEN]) -> Result<Self> {
        let name = c"xts(aes)".as_char_ptr();
        // SAFETY: `name` is a NUL-terminated string.
        let tfm = from_err_ptr(unsafe { ffi::crypto_alloc_sync_skcipher(name, 0, 0) })?;
        let key = Self {
            tfm: NonNull::new(tfm).ok_or(ENOMEM)?,
        };
        // SAFETY: `tfm` is live (freed only by `key`'s drop).
        unsafe {
            ffi::nitro_nvme_xts_set_flags(key.tfm.as_ptr(), ffi::CRYPTO_TFM_REQ_FORBID_WEAK_KEYS)
        };
        // SAFETY: as above; `raw` is KEY_LEN readable bytes, copied.
        let r =
            unsafe { ffi::nitro_nvme_xts_setkey(key.tfm.as_ptr(), raw.as_ptr(), KEY_LEN as u32) };
        if r != 0 {
            // `key` drops here and frees the transform.
            return Err(Error::from_errno(r));
        }
        Ok(key)
    }

    /// A fresh random key, born in the card (the kernel's RNG).
    pub(crate) fn random() -> Result<Self> {
        let mut raw = [0u8; KEY_LEN];
        // SAFETY: `raw` is KEY_LEN writable bytes.
        unsafe { ffi::get_random_bytes(raw.as_mut_ptr().cast(), KEY_LEN) };
        let key = Self::new(&raw);
        wipe(&mut raw);
        key
    }

    /// Encrypts one logical block in place; `sector` is its position in
    /// 512-byte sectors. `block` must be in the kernel's linear map (kmalloc
    /// or a mapped page, not vmalloc or the stack): `EINVAL` otherwise.
    pub(crate) fn encrypt(&self, block: &mut [u8], sector: u64) -> Result {
        let p = block.as_mut_ptr();
        // SAFETY: `p` is `block`, valid for reads and writes of its length.
        unsafe { self.crypt(p, p, block.len(), sector, true) }
    }

    /// Encrypts the block `src` into `dst` (of the same length; both in
    /// the linear map), leaving `src` as it was.
    pub(crate) fn encrypt_to(&self, dst: &mut [u8], src: &[u8], sector: u64) -> Result {
        if dst.len() != src.len() {
            return Err(EINVAL);
        }
        // SAFETY: `src` and `dst` are slices of that length, and distinct
        // (one is borrowed mutably).
        unsafe { self.crypt(dst.as_mut_ptr(), src.as_ptr(), src.len(), sector, true) }
    }

    /// Decrypts one logical block in place, as `encrypt` encrypted it.
    pub(crate) fn decrypt(&self, block: &mut [u8], sector: u64) -> Result {
        let p = block.as_mut_ptr();
        // SAFETY: As in `encrypt`.
        unsafe { self.crypt(p, p, block.len(), sector, false) }
    }

    /// Runs the cipher from `src` to `dst`, `len` bytes each; `EINVAL` if
    /// either is not in the linear map, which a scatterlist entry needs.
    ///
    /// # Safety
    ///
    /// `src` must be valid for reads and `dst` for writes of `len` bytes
    /// for the call; they are the same, or do not overlap.
    unsafe fn crypt(
        &self,
        dst: *mut u8,
        src: *const u8,
        len: usize,
        sector: u64,
        enc: bool,
    ) -> Result {
        if !in_linear_map(src, len) || (!core::ptr::eq(dst, src) && !in_linear_map(dst, len)) {
            return Err(EINVAL);
        }
        let mut tweak = tweak(sector);
        let len = u32::try_from(len).map_err(|_| EINVAL)?;
        let mut req = ReqBuf([0; REQ_BYTES]);
        let req = req.0.as_mut_ptr().cast::<ffi::skcipher_request>();
        let mut sg_src = ffi::scatterlist::default();
        let mut sg_dst = ffi::scatterlist::default();
        // SAFETY: `src`/`dst` are valid for `len` bytes (the contract), in
        // the linear map (checked above); the lists are ours.
        unsafe {
            ffi::sg_init_one(&mut sg_src, src.cast(), len);
            ffi::sg_init_one(&mut sg_dst, dst.cast(), len);
        }
        // The request's storage is zeroed (no completion callback, no
        // flags: a synchronous call), aligned and large enough (above).
        // SAFETY: `req`, the lists, `tweak` (16 bytes) and `tfm` all live
        // until the cipher call below has returned.
        let r = unsafe {
            ffi::nitro_nvme_xts_req_tfm(req, self.tfm.as_ptr());
            ffi::nitro_nvme_xts_req_crypt(req, &mut sg_src, &mut sg_dst, len, tweak.as_mut_ptr());
            if enc {
                ffi::crypto_skcipher_encrypt(req)
            } else {
                ffi::crypto_skcipher_decrypt(req)
            }
        };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }
}

impl Drop for XtsKey {
    fn drop(&mut self) {
        // SAFETY: `tfm` came from `crypto_alloc_sync_skcipher` in `new` and
        // is freed once.
        unsafe { ffi::nitro_nvme_xts_free(self.tfm.as_ptr()) };
    }
}

/// Whether the `len` bytes at `p` are in the kernel's linear map (where
/// `virt_to_page` and so `sg_init_one` work): their first and last byte are,
/// and the linear map is contiguous.
fn in_linear_map(p: *const u8, len: usize) -> bool {
    let Some(last) = len.checked_sub(1) else {
        return false;
    };
    let last = p.wrapping_add(last);
    // SAFETY: Only the addresses are looked at.
    unsafe {
        ffi::nitro_nvme_virt_addr_valid(p.cast()) && ffi::nitro_nvme_virt_addr_valid(last.cast())
    }
}

/// The `plain64` tweak: the sector number, little endian, zero-padded.
fn tweak(sector: u64) -> [u8; 16] {
    let mut t = [0u8; 16];
    t[..8].copy_from_slice(&sector.to_le_bytes());
    t
}

/// Wipes key bytes so that they do not linger on the stack.
pub(crate) fn wipe(buf: &mut [u8]) {
    for b in buf.iter_mut() {
        // SAFETY: `b` is a valid, exclusively borrowed byte.
        unsafe { core::ptr::write_volatile(b, 0) };
    }
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}
