// SPDX-License-Identifier: GPL-2.0

//! AES-256-GCM keys of peer hosts, through the kernel's AES-GCM library
//! (`include/crypto/aes-gcm.h`: AES-NI and PCLMULQDQ where the CPU has
//! them). A [`GcmKey`] is the prepared context only; the raw key is not
//! kept, and the context is wiped when the key is dropped.

use core::ffi::c_int;
use kernel::prelude::*;

extern "C" {
    fn nitro_net_gcm_key_size() -> usize;
    fn aes_gcm_preparekey(
        key: *mut u64,
        in_key: *const u8,
        key_len: usize,
        tag_len: usize,
    ) -> c_int;
    fn aes_gcm_encrypt(
        dst: *mut u8,
        src: *const u8,
        data_len: usize,
        authtag: *mut u8,
        ad: *const u8,
        ad_len: usize,
        nonce: *const u8,
        key: *const u64,
    );
    fn aes_gcm_decrypt(
        dst: *mut u8,
        src: *const u8,
        data_len: usize,
        authtag: *const u8,
        ad: *const u8,
        ad_len: usize,
        nonce: *const u8,
        key: *const u64,
    ) -> c_int;
}

/// Length of the GCM tag.
pub(crate) const TAG_LEN: usize = 16;
/// Length of the nonce.
pub(crate) const NONCE_LEN: usize = 12;

/// A prepared AES-256-GCM key.
pub(crate) struct GcmKey {
    /// Opaque `struct aes_gcm_key`, 8-byte aligned.
    ctx: KVec<u64>,
}

impl GcmKey {
    /// Prepares `raw` (32 bytes).
    pub(crate) fn new(raw: &[u8; 32]) -> Result<Self> {
        // SAFETY: Reads a constant.
        let words = unsafe { nitro_net_gcm_key_size() }.div_ceil(8);
        let mut ctx = KVec::with_capacity(words, GFP_KERNEL)?;
        ctx.resize(words, 0, GFP_KERNEL)?;
        // SAFETY: `ctx` has room for a `struct aes_gcm_key`; `raw` is 32
        // bytes.
        let r = unsafe { aes_gcm_preparekey(ctx.as_mut_ptr(), raw.as_ptr(), 32, TAG_LEN) };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        Ok(Self { ctx })
    }

    /// Encrypts `data` in place and writes the tag.
    pub(crate) fn seal(
        &self,
        data: &mut [u8],
        tag: &mut [u8; TAG_LEN],
        ad: &[u8],
        nonce: &[u8; NONCE_LEN],
    ) {
        // SAFETY: All pointers come from slices of the lengths passed; the
        // library allows in-place operation; the context was prepared.
        unsafe {
            aes_gcm_encrypt(
                data.as_mut_ptr(),
                data.as_ptr(),
                data.len(),
                tag.as_mut_ptr(),
                ad.as_ptr(),
                ad.len(),
                nonce.as_ptr(),
                self.ctx.as_ptr(),
            )
        };
    }

    /// Decrypts `src` into `dst` (of the same length) if `tag`
    /// authenticates it with `ad`; `false` otherwise (`dst` then holds
    /// nothing usable).
    pub(crate) fn open(
        &self,
        dst: &mut [u8],
        src: &[u8],
        tag: &[u8; TAG_LEN],
        ad: &[u8],
        nonce: &[u8; NONCE_LEN],
    ) -> bool {
        if dst.len() != src.len() {
            return false;
        }
        // SAFETY: As in `seal`; `dst` and `src` do not overlap (distinct
        // borrows).
        unsafe {
            aes_gcm_decrypt(
                dst.as_mut_ptr(),
                src.as_ptr(),
                src.len(),
                tag.as_ptr(),
                ad.as_ptr(),
                ad.len(),
                nonce.as_ptr(),
                self.ctx.as_ptr(),
            ) == 0
        }
    }
}

impl Drop for GcmKey {
    fn drop(&mut self) {
        // The round keys are the key: wipe them before the memory is freed.
        self.ctx.fill(0);
        core::hint::black_box(&mut self.ctx);
    }
}
