// SPDX-License-Identifier: GPL-2.0

//! AES-256-GCM keys of peer hosts, through the crypto API's synchronous
//! `gcm(aes)`: on x86 the AES-NI/AVX (or VAES) implementation that xfrm's
//! ESP also runs. (Kernel 7.3's `aes_gcm_*` library has no x86 GCM code: it
//! makes two passes, CTR then GHASH, at a fraction of the speed.)
//!
//! Packets are sealed in place as one contiguous buffer, associated data
//! first and tag last, which is also how the AEAD API lays them out; the
//! request lives on the stack, as `SYNC_SKCIPHER_REQUEST_ON_STACK` does for
//! ciphers. The key is held by the transform only, which the crypto API
//! wipes when it is freed.

use core::{
    ffi::{c_int, c_void},
    ptr::NonNull,
};
use kernel::{bindings, error::from_err_ptr, prelude::*};

// The crypto API (exported functions) and the glue (its static inlines).
extern "C" {
    fn crypto_alloc_aead(name: *const u8, type_: u32, mask: u32) -> *mut c_void;
    fn crypto_aead_setkey(tfm: *mut c_void, key: *const u8, len: u32) -> c_int;
    fn crypto_aead_setauthsize(tfm: *mut c_void, authsize: u32) -> c_int;
    fn crypto_aead_encrypt(req: *mut c_void) -> c_int;
    fn crypto_aead_decrypt(req: *mut c_void) -> c_int;
    fn nitro_net_aead_free(tfm: *mut c_void);
    fn nitro_net_aead_req_size(tfm: *mut c_void) -> usize;
    fn nitro_net_aead_req_tfm(req: *mut c_void, tfm: *mut c_void);
    fn nitro_net_aead_req_ad(req: *mut c_void, assoclen: u32);
    fn nitro_net_aead_req_crypt(
        req: *mut c_void,
        src: *mut bindings::scatterlist,
        dst: *mut bindings::scatterlist,
        cryptlen: u32,
        iv: *mut u8,
    );
}

/// Length of the GCM tag.
pub(crate) const TAG_LEN: usize = 16;
/// Length of the nonce.
pub(crate) const NONCE_LEN: usize = 12;
/// Length of a key.
pub(crate) const KEY_LEN: usize = 32;
/// `CRYPTO_ALG_ASYNC`: as a mask, asks for a synchronous implementation.
const CRYPTO_ALG_ASYNC: u32 = 0x80;
/// Room for a request on the stack (checked against the transform's size
/// when a key is made).
const REQ_BYTES: usize = 512;

/// A request's storage, aligned beyond `CRYPTO_MINALIGN`.
#[repr(C, align(64))]
struct ReqBuf([u8; REQ_BYTES]);

/// A prepared AES-256-GCM key with a 16-byte tag.
pub(crate) struct GcmKey {
    tfm: NonNull<c_void>,
}

// SAFETY: A synchronous AEAD transform may be used from any thread,
// concurrently (each call has its own request), and freed from any thread.
unsafe impl Send for GcmKey {}
// SAFETY: As above: sealing and opening only read the transform.
unsafe impl Sync for GcmKey {}

impl GcmKey {
    /// Sets up `raw`; the caller wipes it afterwards.
    pub(crate) fn new(raw: &[u8; KEY_LEN]) -> Result<Self> {
        // SAFETY: `name` is NUL-terminated.
        let tfm = from_err_ptr(unsafe {
            crypto_alloc_aead(c"gcm(aes)".as_char_ptr(), 0, CRYPTO_ALG_ASYNC)
        })?;
        let key = Self {
            tfm: NonNull::new(tfm).ok_or(ENOMEM)?,
        };
        // SAFETY: `tfm` is live until `key` drops; `raw` is KEY_LEN bytes,
        // copied by the transform.
        let r = unsafe {
            if nitro_net_aead_req_size(key.tfm.as_ptr()) > REQ_BYTES {
                -(bindings::ENOSPC as c_int)
            } else {
                match crypto_aead_setkey(key.tfm.as_ptr(), raw.as_ptr(), KEY_LEN as u32) {
                    0 => crypto_aead_setauthsize(key.tfm.as_ptr(), TAG_LEN as u32),
                    e => e,
                }
            }
        };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        Ok(key)
    }

    /// Seals `buf` in place: `buf` is `ad_len` bytes of associated data,
    /// the data, and [`TAG_LEN`] bytes the tag is written to. `buf` must be
    /// in the kernel's linear map (a socket buffer's data).
    pub(crate) fn seal(&self, buf: &mut [u8], ad_len: usize, nonce: &[u8; NONCE_LEN]) -> Result {
        let data = buf.len().checked_sub(ad_len + TAG_LEN).ok_or(EINVAL)?;
        let p = buf.as_mut_ptr();
        self.run(p, buf.len(), p, buf.len(), ad_len, data, nonce, true)
    }

    /// Opens `src` (associated data of `ad_len` bytes, ciphertext, tag) into
    /// `dst` (associated data, plaintext: [`TAG_LEN`] bytes shorter).
    /// `false` if it does not authenticate. Both in the linear map.
    pub(crate) fn open(
        &self,
        dst: &mut [u8],
        src: &[u8],
        ad_len: usize,
        nonce: &[u8; NONCE_LEN],
    ) -> bool {
        let Some(sealed) = src.len().checked_sub(ad_len) else {
            return false;
        };
        if sealed < TAG_LEN || dst.len() + TAG_LEN != src.len() {
            return false;
        }
        let (d, s) = (dst.as_mut_ptr(), src.as_ptr().cast_mut());
        self.run(s, src.len(), d, dst.len(), ad_len, sealed, nonce, false)
            .is_ok()
    }

    /// One AEAD call from `src` to `dst` (each with its length), which the
    /// callers take from slices (the same one, or a pair).
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        src: *mut u8,
        src_len: usize,
        dst: *mut u8,
        dst_len: usize,
        ad_len: usize,
        cryptlen: usize,
        nonce: &[u8; NONCE_LEN],
        enc: bool,
    ) -> Result {
        let mut iv = *nonce;
        let mut req = ReqBuf([0; REQ_BYTES]);
        let req = req.0.as_mut_ptr().cast::<c_void>();
        let mut sg_src = bindings::scatterlist::default();
        let mut sg_dst = bindings::scatterlist::default();
        // SAFETY: `src` and `dst` are valid for their lengths (the callers'
        // slices, in the linear map); the lists are ours.
        unsafe {
            bindings::sg_init_one(&mut sg_src, src.cast(), src_len as u32);
            bindings::sg_init_one(&mut sg_dst, dst.cast(), dst_len as u32);
        }
        // The request's storage is zeroed (no completion callback, no
        // flags: a synchronous call) and large enough (checked in `new`).
        // SAFETY: `req`, the lists, `iv` and the transform all live until
        // the call below has returned.
        let r = unsafe {
            nitro_net_aead_req_tfm(req, self.tfm.as_ptr());
            nitro_net_aead_req_ad(req, ad_len as u32);
            nitro_net_aead_req_crypt(
                req,
                &mut sg_src,
                &mut sg_dst,
                cryptlen as u32,
                iv.as_mut_ptr(),
            );
            if enc {
                crypto_aead_encrypt(req)
            } else {
                crypto_aead_decrypt(req)
            }
        };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }
}

impl Drop for GcmKey {
    fn drop(&mut self) {
        // SAFETY: Allocated in `new`, freed once; the crypto API wipes the
        // key schedule.
        unsafe { nitro_net_aead_free(self.tfm.as_ptr()) };
    }
}
