// SPDX-License-Identifier: GPL-2.0

//! AES-256-GCM keys of peer hosts, through the crypto API's synchronous
//! `gcm(aes)`: on x86 the AES-NI/AVX (or VAES) implementation that xfrm's
//! ESP also runs. (Kernel 7.3's `aes_gcm_*` library has no x86 GCM code: it
//! makes two passes, CTR then GHASH, at a fraction of the speed.)
//!
//! The cipher reads a frame where it lies and writes straight into the
//! buffer that is sent or delivered (scatterlists, `sg.rs`), associated
//! data first and tag last, as the AEAD API lays packets out; the request
//! lives on the stack, as `SYNC_SKCIPHER_REQUEST_ON_STACK` does for
//! ciphers. The key is held by the transform only, which the crypto API
//! wipes when it is freed.

use crate::{
    ffi,
    sg::{SgList, SG_FRAME},
    skb::Skb,
};
use core::ptr::NonNull;
use kernel::{error::from_err_ptr, prelude::*};

/// Length of the GCM tag.
pub(crate) const TAG_LEN: usize = 16;
/// Length of the nonce.
pub(crate) const NONCE_LEN: usize = 12;
/// Length of a key.
pub(crate) const KEY_LEN: usize = 32;
/// Entries of a list over one linear buffer (one; one spare).
const SG_LINEAR: usize = 2;

/// Room for a request on the stack (checked against the transform's size
/// when a key is made).
const REQ_BYTES: usize = 512;

/// A request's storage, aligned beyond `CRYPTO_MINALIGN`.
#[repr(C, align(64))]
struct ReqBuf([u8; REQ_BYTES]);

const _: () =
    assert!(core::mem::align_of::<ffi::aead_request>() <= core::mem::align_of::<ReqBuf>());

/// A prepared AES-256-GCM key with a 16-byte tag.
pub(crate) struct GcmKey {
    tfm: NonNull<ffi::crypto_aead>,
}

// SAFETY: A synchronous AEAD transform may be used from any thread,
// concurrently (each call has its own request), and freed from any thread.
unsafe impl Send for GcmKey {}
// SAFETY: As above: sealing and opening only read the transform.
unsafe impl Sync for GcmKey {}

impl GcmKey {
    /// Sets up `raw`; the caller wipes it afterwards.
    pub(crate) fn new(raw: &[u8; KEY_LEN]) -> Result<Self> {
        // `CRYPTO_ALG_ASYNC` as a mask asks for a synchronous implementation.
        // SAFETY: `name` is NUL-terminated.
        let tfm = from_err_ptr(unsafe {
            ffi::crypto_alloc_aead(c"gcm(aes)".as_char_ptr(), 0, ffi::CRYPTO_ALG_ASYNC)
        })?;
        let key = Self {
            tfm: NonNull::new(tfm).ok_or(ENOMEM)?,
        };
        // What `aead_request_alloc` would allocate.
        // SAFETY: `tfm` is live until `key` drops.
        let reqsize = unsafe { ffi::nitro_net_aead_reqsize(key.tfm.as_ptr()) } as usize;
        if core::mem::size_of::<ffi::aead_request>() + reqsize > REQ_BYTES {
            return Err(ENOSPC);
        }
        // SAFETY: `tfm` is live until `key` drops; `raw` is KEY_LEN bytes,
        // copied by the transform.
        let r = unsafe {
            match ffi::crypto_aead_setkey(key.tfm.as_ptr(), raw.as_ptr(), KEY_LEN as u32) {
                0 => ffi::crypto_aead_setauthsize(key.tfm.as_ptr(), TAG_LEN as u32),
                e => e,
            }
        };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        Ok(key)
    }

    /// Seals into `out`, which holds a header: `ad_len` bytes of
    /// associated data, then the start of the plaintext. The whole of
    /// `body` is the rest of the plaintext. Its ciphertext and the tag are
    /// appended to `out` (linear: every datagram fits one packet), and `out`
    /// is returned;
    /// the cipher reads `body` where it lies (head and page fragments), so
    /// nothing is copied. On failure `out` is dropped.
    pub(crate) fn seal_skb(
        &self,
        mut out: Skb,
        ad_len: usize,
        body: &Skb,
        nonce: &[u8; NONCE_LEN],
    ) -> Result<Skb> {
        let hdr = out.len();
        let plain = hdr.checked_sub(ad_len).ok_or(EINVAL)? + body.len();
        let len = body.len() + TAG_LEN;
        // SAFETY: The cipher below writes every appended byte (the
        // ciphertext of `plain` bytes, then the tag); if anything fails
        // first, `out` is dropped on the way out, unread.
        unsafe { out.put_unfilled(len)? }
        let mut src = SgList::<SG_FRAME>::new();
        src.push(&out, 0, hdr)?;
        src.push(body, 0, body.len())?;
        let mut dst = SgList::<SG_LINEAR>::new();
        dst.push(&out, 0, out.len())?;
        // The header is in both lists, at the same address: the cipher turns
        // its plaintext part into ciphertext in place, as ESP's own lists do
        // with its header.
        self.run(&mut src, &mut dst, ad_len, plain, nonce, true)?;
        Ok(out)
    }

    /// Opens `len` bytes of `src` from `offset` (associated data of
    /// `ad_len` bytes, ciphertext, tag; in any layout, a reassembled
    /// datagram's too) into `out`, appended: the associated data, then the
    /// plaintext. `false` if it does not authenticate or cannot be opened;
    /// `out` is then as it was.
    pub(crate) fn open_skb(
        &self,
        out: &mut Skb,
        src: &Skb,
        offset: usize,
        len: usize,
        ad_len: usize,
        nonce: &[u8; NONCE_LEN],
    ) -> bool {
        let before = out.len();
        let Some(sealed) = len.checked_sub(ad_len).filter(|n| *n >= TAG_LEN) else {
            return false;
        };
        let opened = (|| {
            // The associated data is copied (the cipher only reads it),
            // then the plaintext is written behind it.
            src.copy_out(offset, out.put(ad_len)?)?;
            // SAFETY: The cipher writes each of these bytes, or they are
            // trimmed off below.
            unsafe { out.put_unfilled(sealed - TAG_LEN)? };
            let mut s = SgList::<SG_FRAME>::new();
            s.push(src, offset, len)?;
            let mut d = SgList::<SG_LINEAR>::new();
            d.push(out, before, len - TAG_LEN)?;
            self.run(&mut s, &mut d, ad_len, sealed, nonce, false)
        })();
        if opened.is_err() {
            out.trim(before);
        }
        opened.is_ok()
    }

    /// One AEAD call from `src` to `dst`, lists made by the callers.
    fn run<const A: usize, const B: usize>(
        &self,
        src: &mut SgList<'_, A>,
        dst: &mut SgList<'_, B>,
        ad_len: usize,
        cryptlen: usize,
        nonce: &[u8; NONCE_LEN],
        enc: bool,
    ) -> Result {
        let (src, dst) = (src.finish()?, dst.finish()?);
        let (ad_len, cryptlen) = (u32::try_from(ad_len)?, u32::try_from(cryptlen)?);
        let mut iv = *nonce;
        let mut req = ReqBuf([0; REQ_BYTES]);
        let req = req.0.as_mut_ptr().cast::<ffi::aead_request>();
        // The request's storage is zeroed (no completion callback, no
        // flags: a synchronous call), aligned and large enough (checked
        // above and in `new`). The lists cover what their buffers hold.
        // SAFETY: `req`, the lists (and the buffers they borrow), `iv` and
        // the transform all live until the call below has returned.
        let r = unsafe {
            ffi::nitro_net_aead_req_tfm(req, self.tfm.as_ptr());
            ffi::nitro_net_aead_req_ad(req, ad_len);
            ffi::nitro_net_aead_req_crypt(req, src, dst, cryptlen, iv.as_mut_ptr());
            if enc {
                ffi::crypto_aead_encrypt(req)
            } else {
                ffi::crypto_aead_decrypt(req)
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
        unsafe { ffi::nitro_net_aead_free(self.tfm.as_ptr()) };
    }
}
