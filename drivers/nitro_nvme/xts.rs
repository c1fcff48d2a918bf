// SPDX-License-Identifier: GPL-2.0

//! AES-256-XTS from the kernel's crypto library (AES-NI where present), as
//! dm-crypt's `aes-xts-plain64`: each logical block is one XTS message
//! whose tweak is its position in 512-byte sectors, little endian.

use core::ffi::{c_int, c_void};
use kernel::{bindings, prelude::*};

extern "C" {
    fn nitro_nvme_xts_key_size() -> usize;
    fn aes_xts_preparekey(
        key: *mut c_void,
        in_key: *const u8,
        key_len: usize,
        flags: c_int,
    ) -> c_int;
    fn aes_xts_encrypt(
        dst: *mut u8,
        src: *const u8,
        len: usize,
        tweak: *mut u8,
        key: *const c_void,
        cont: bool,
    );
    fn aes_xts_decrypt(
        dst: *mut u8,
        src: *const u8,
        len: usize,
        tweak: *mut u8,
        key: *const c_void,
        cont: bool,
    );
}

/// Raw key length: two AES-256 keys.
pub(crate) const KEY_LEN: usize = 64;
/// `XTS_FORBID_WEAK_KEYS`: refuse keys whose halves are equal.
const FORBID_WEAK_KEYS: c_int = 1;

/// A prepared AES-256-XTS key. It never leaves the card and is wiped when
/// dropped.
pub(crate) struct XtsKey {
    /// Opaque `struct aes_xts_key` (u64 words: aligned enough for its u32s).
    prepared: KVec<u64>,
}

impl XtsKey {
    /// Prepares `raw`. The caller wipes `raw` afterwards.
    pub(crate) fn new(raw: &[u8; KEY_LEN]) -> Result<Self> {
        // SAFETY: no preconditions.
        let size = unsafe { nitro_nvme_xts_key_size() };
        let mut prepared = KVec::with_capacity(size.div_ceil(8), GFP_KERNEL)?;
        prepared.resize(size.div_ceil(8), 0, GFP_KERNEL)?;
        // SAFETY: `prepared` holds at least `size` writable bytes; `raw` is
        // KEY_LEN readable bytes.
        let r = unsafe {
            aes_xts_preparekey(
                prepared.as_mut_ptr().cast(),
                raw.as_ptr(),
                KEY_LEN,
                FORBID_WEAK_KEYS,
            )
        };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        Ok(Self { prepared })
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
    /// 512-byte sectors.
    pub(crate) fn encrypt(&self, block: &mut [u8], sector: u64) {
        self.crypt(aes_xts_encrypt, block, sector);
    }

    /// Decrypts one logical block in place, as `encrypt` encrypted it.
    pub(crate) fn decrypt(&self, block: &mut [u8], sector: u64) {
        self.crypt(aes_xts_decrypt, block, sector);
    }

    /// Runs `aes_xts_encrypt` or `aes_xts_decrypt` over `block`, in place,
    /// as one message.
    fn crypt(&self, f: XtsFn, block: &mut [u8], sector: u64) {
        let mut tweak = tweak(sector);
        let p = block.as_mut_ptr();
        // SAFETY: in place over `block` (512 or 4096 bytes, whole AES blocks);
        // `tweak` is 16 bytes; the key was prepared in `new`.
        unsafe {
            f(
                p,
                p,
                block.len(),
                tweak.as_mut_ptr(),
                self.prepared.as_ptr().cast(),
                false,
            )
        };
    }
}

/// The signature of `aes_xts_encrypt` and `aes_xts_decrypt`.
type XtsFn = unsafe extern "C" fn(*mut u8, *const u8, usize, *mut u8, *const c_void, bool);

impl Drop for XtsKey {
    fn drop(&mut self) {
        for w in self.prepared.iter_mut() {
            // SAFETY: `w` is a valid, exclusively borrowed u64; a volatile
            // write is not optimised away.
            unsafe { core::ptr::write_volatile(w, 0) };
        }
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
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
