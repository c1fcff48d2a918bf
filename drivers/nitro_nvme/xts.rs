// SPDX-License-Identifier: GPL-2.0

//! AES-256-XTS as dm-crypt's `aes-xts-plain64`: each logical block is one
//! XTS message whose tweak is its position in 512-byte sectors, little
//! endian. The cipher is the crypto API's synchronous `xts(aes)` (AES-NI and
//! VAES on x86, the code dm-crypt runs), reached through the C glue, since
//! its request helpers are static inlines and a macro. (Kernel 7.3's
//! `aes_xts_*` library has no x86 code: it would pay an FPU section per
//! 16-byte block.)

use core::{
    ffi::{c_int, c_void},
    ptr::NonNull,
};
use kernel::{bindings, error::from_err_ptr, prelude::*};

// The crypto API (exported functions) and the glue of nitro_nvme_glue.c
// (its static inlines); transforms and requests are opaque here.
extern "C" {
    fn crypto_alloc_sync_skcipher(name: *const u8, type_: u32, mask: u32) -> *mut c_void;
    fn crypto_skcipher_encrypt(req: *mut c_void) -> c_int;
    fn crypto_skcipher_decrypt(req: *mut c_void) -> c_int;
    fn nitro_nvme_xts_req_size() -> usize;
    fn nitro_nvme_xts_setkey(tfm: *mut c_void, key: *const u8, len: u32) -> c_int;
    fn nitro_nvme_xts_forbid_weak_keys(tfm: *mut c_void);
    fn nitro_nvme_xts_free(tfm: *mut c_void);
    fn nitro_nvme_xts_req_tfm(req: *mut c_void, tfm: *mut c_void);
    fn nitro_nvme_xts_req_crypt(
        req: *mut c_void,
        src: *mut bindings::scatterlist,
        dst: *mut bindings::scatterlist,
        len: u32,
        iv: *mut u8,
    );
}

/// Raw key length: two AES-256 keys.
pub(crate) const KEY_LEN: usize = 64;

/// Room for a synchronous skcipher request on the stack (what
/// `SYNC_SKCIPHER_REQUEST_ON_STACK` reserves; checked against the glue's
/// size when a key is made).
const REQ_BYTES: usize = 512;

/// A request's storage, aligned beyond `CRYPTO_MINALIGN`.
#[repr(C, align(64))]
struct ReqBuf([u8; REQ_BYTES]);

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
        // SAFETY: no preconditions.
        if unsafe { nitro_nvme_xts_req_size() } > REQ_BYTES {
            return Err(ENOSPC);
        }
        let name = c"xts(aes)".as_char_ptr();
        // SAFETY: `name` is a NUL-terminated string.
        let tfm = from_err_ptr(unsafe { crypto_alloc_sync_skcipher(name, 0, 0) })?;
        let key = Self {
            tfm: NonNull::new(tfm).ok_or(ENOMEM)?,
        };
        // SAFETY: `tfm` is live (freed only by `key`'s drop).
        unsafe { nitro_nvme_xts_forbid_weak_keys(key.tfm.as_ptr()) };
        // SAFETY: as above; `raw` is KEY_LEN readable bytes, copied.
        let r = unsafe { nitro_nvme_xts_setkey(key.tfm.as_ptr(), raw.as_ptr(), KEY_LEN as u32) };
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
        let mut req = ReqBuf([0; REQ_BYTES]);
        let req = req.0.as_mut_ptr().cast::<c_void>();
        let mut sg_src = bindings::scatterlist::default();
        let mut sg_dst = bindings::scatterlist::default();
        // The callers pass slices of `len` bytes in the linear map.
        // SAFETY: `src`/`dst` are valid for `len` bytes; the lists are ours.
        unsafe {
            bindings::sg_init_one(&mut sg_src, src.cast(), len);
            bindings::sg_init_one(&mut sg_dst, dst.cast(), len);
        }
        // The request's storage is zeroed (no completion callback, no
        // flags: a synchronous call) and large enough (checked in `new`).
        // SAFETY: `req`, the lists, `tweak` (16 bytes) and `tfm` all live
        // until the cipher call below has returned.
        let r = unsafe {
            nitro_nvme_xts_req_tfm(req, self.tfm.as_ptr());
            nitro_nvme_xts_req_crypt(req, &mut sg_src, &mut sg_dst, len, tweak.as_mut_ptr());
            if enc {
                crypto_skcipher_encrypt(req)
            } else {
                crypto_skcipher_decrypt(req)
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
