// SPDX-License-Identifier: GPL-2.0

//! AES-256-XTS as dm-crypt's `aes-xts-plain64`: each logical block is one
//! XTS message whose tweak is its position in 512-byte sectors, little
//! endian. The cipher is the crypto API's synchronous `xts(aes)` (AES-NI and
//! VAES on x86, the code dm-crypt runs), reached through the C glue, since
//! its request helpers are static inlines and a macro. (Kernel 7.3's
//! `aes_xts_*` library has no x86 code: it would pay an FPU section per
//! 16-byte block.)

use core::{ffi::c_void, ptr::NonNull};
use kernel::{bindings, error::from_err_ptr, prelude::*};

extern "C" {
    fn nitro_nvme_xts_new(key: *const u8, len: u32) -> *mut c_void;
    fn nitro_nvme_xts_free(tfm: *mut c_void);
    fn nitro_nvme_xts_crypt(
        tfm: *mut c_void,
        dst: *mut u8,
        src: *const u8,
        len: u32,
        iv: *mut u8,
        enc: bool,
    ) -> i32;
}

/// Raw key length: two AES-256 keys.
pub(crate) const KEY_LEN: usize = 64;

/// An AES-256-XTS key, held by the crypto API (which wipes it when freed).
/// It never leaves the card.
pub(crate) struct XtsKey {
    tfm: NonNull<c_void>,
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
        // SAFETY: `raw` is KEY_LEN readable bytes; the glue copies them.
        let tfm = from_err_ptr(unsafe { nitro_nvme_xts_new(raw.as_ptr(), KEY_LEN as u32) })?;
        Ok(Self {
            tfm: NonNull::new(tfm).ok_or(ENOMEM)?,
        })
    }

    /// A fresh random key, born in the card (the kernel's RNG).
    pub(crate) fn random() -> Result<Self> {
        let mut raw = [0u8; KEY_LEN];
        // SAFETY: `raw` is KEY_LEN writable bytes.
        unsafe { bindings::get_random_bytes(raw.as_mut_ptr().cast(), KEY_LEN) };
        let key = Self::new(&raw);
        wipe(&mut raw);
        key
    }

    /// Encrypts one logical block in place; `sector` is its position in
    /// 512-byte sectors. `block` must be in the kernel's linear map (kmalloc
    /// or a mapped page, not vmalloc).
    pub(crate) fn encrypt(&self, block: &mut [u8], sector: u64) -> Result {
        let p = block.as_mut_ptr();
        self.crypt(p, p, block.len(), sector, true)
    }

    /// Encrypts the block `src` into `dst` (of the same length; both in
    /// the linear map), leaving `src` as it was.
    pub(crate) fn encrypt_to(&self, dst: &mut [u8], src: &[u8], sector: u64) -> Result {
        if dst.len() != src.len() {
            return Err(EINVAL);
        }
        self.crypt(dst.as_mut_ptr(), src.as_ptr(), src.len(), sector, true)
    }

    /// Decrypts one logical block in place, as `encrypt` encrypted it.
    pub(crate) fn decrypt(&self, block: &mut [u8], sector: u64) -> Result {
        let p = block.as_mut_ptr();
        self.crypt(p, p, block.len(), sector, false)
    }

    /// Runs the cipher from `src` to `dst`, `len` bytes each, which the
    /// callers take from slices (the same one, or two of equal length).
    fn crypt(&self, dst: *mut u8, src: *const u8, len: usize, sector: u64, enc: bool) -> Result {
        let mut tweak = tweak(sector);
        let len = u32::try_from(len).map_err(|_| EINVAL)?;
        // The callers pass slices of `len` bytes, linearly mapped.
        // SAFETY: `dst`/`src` are valid for `len` bytes; `tweak` is 16.
        let r = unsafe {
            nitro_nvme_xts_crypt(self.tfm.as_ptr(), dst, src, len, tweak.as_mut_ptr(), enc)
        };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }
}

impl Drop for XtsKey {
    fn drop(&mut self) {
        // SAFETY: `tfm` came from `nitro_nvme_xts_new` and is freed once.
        unsafe { nitro_nvme_xts_free(self.tfm.as_ptr()) };
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
