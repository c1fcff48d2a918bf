//! The key service side of EBS encryption: wraps a volume's data key under
//! an EBS card's key in the format of `struct nitro_wrapped_key`, so that
//! the card (and only a card holding that key) can open it at attach. This
//! is an independent AES-256-GCM implementation (RustCrypto's), not the
//! kernel's, so a wrapped key that opens in the card checks both.

use crate::abi;
use aes_gcm::{
    aead::{AeadInPlace, KeyInit},
    Aes256Gcm, Nonce,
};
use std::{fs::File, io::Read, path::Path};

/// Card key length.
pub const CARD_KEY_LEN: usize = abi::NITRO_CARD_KEY_LEN as usize;
/// Data key length (AES-256-XTS).
pub const DATA_KEY_LEN: usize = abi::NITRO_DATA_KEY_LEN as usize;
/// Wrapped key length.
pub const WRAPPED_LEN: usize = abi::NITRO_WRAPPED_KEY_LEN as usize;

/// Reads exactly `N` bytes from `path` (a key file: raw bytes, nothing
/// else).
pub fn read_key<const N: usize>(path: &Path, what: &str) -> Result<[u8; N], String> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    data.try_into().map_err(|d: Vec<u8>| {
        format!(
            "{}: a {what} is {N} raw bytes, this file has {}",
            path.display(),
            d.len()
        )
    })
}

/// `N` random bytes from the kernel.
pub fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut b = [0u8; N];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    Ok(b)
}

/// Seals `data_key` under `card_key` with `nonce`.
pub fn wrap(
    card_key: &[u8; CARD_KEY_LEN],
    data_key: &[u8; DATA_KEY_LEN],
    nonce: &[u8; 12],
) -> [u8; WRAPPED_LEN] {
    let mut out = [0u8; WRAPPED_LEN];
    out[..4].copy_from_slice(&abi::NITRO_WRAPPED_KEY_MAGIC[..4]);
    out[4..8].copy_from_slice(&abi::NITRO_WRAPPED_KEY_VERSION.to_le_bytes());
    out[8..20].copy_from_slice(nonce);
    let (head, rest) = out.split_at_mut(20);
    let (sealed, tag_out) = rest.split_at_mut(DATA_KEY_LEN);
    sealed.copy_from_slice(data_key);
    let cipher = Aes256Gcm::new(card_key.into());
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(nonce), &head[..8], sealed)
        .expect("64 bytes are within AES-GCM's limits");
    tag_out.copy_from_slice(&tag);
    out
}

/// Opens a wrapped key (what the card does), for tests.
#[cfg(test)]
pub fn unwrap(card_key: &[u8; CARD_KEY_LEN], w: &[u8; WRAPPED_LEN]) -> Option<[u8; DATA_KEY_LEN]> {
    let cipher = Aes256Gcm::new(card_key.into());
    let mut key: [u8; DATA_KEY_LEN] = w[20..84].try_into().ok()?;
    cipher
        .decrypt_in_place_detached(
            Nonce::from_slice(&w[8..20]),
            &w[..8],
            &mut key,
            w[84..].into(),
        )
        .ok()?;
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_in_the_abi_layout() {
        let w = wrap(&[7; 32], &[9; 64], &[1; 12]);
        assert_eq!(&w[..4], b"NWK1");
        assert_eq!(&w[4..8], &[1, 0, 0, 0]);
        assert_eq!(&w[8..20], &[1; 12]);
        assert_ne!(&w[20..84], &[9; 64][..]);
        assert_eq!(unwrap(&[7; 32], &w), Some([9; 64]));
    }

    #[test]
    fn refuses_wrong_key_and_any_flipped_bit() {
        let w = wrap(&[7; 32], &[9; 64], &[1; 12]);
        assert_eq!(unwrap(&[8; 32], &w), None);
        for i in 0..WRAPPED_LEN {
            let mut bad = w;
            bad[i] ^= 0x10;
            assert_eq!(unwrap(&[7; 32], &bad), None, "byte {i}");
        }
    }

    #[test]
    fn gcm_known_answer() {
        // NIST GCM test vector (AES-256, 96-bit IV, no AAD: test case 14 of
        // the GCM spec): key 0, IV 0, plaintext 16 zero bytes.
        let cipher = Aes256Gcm::new(&[0u8; 32].into());
        let mut p = [0u8; 16];
        let tag = cipher
            .encrypt_in_place_detached(Nonce::from_slice(&[0; 12]), b"", &mut p)
            .unwrap();
        assert_eq!(
            p,
            [
                0xce, 0xa7, 0x40, 0x3d, 0x4d, 0x60, 0x6b, 0x6e, 0x07, 0x4e, 0xc5, 0xd3, 0xba, 0xf3,
                0x9d, 0x18
            ]
        );
        assert_eq!(
            tag[..],
            [
                0xd0, 0xd1, 0xc8, 0xa7, 0x99, 0x99, 0x6b, 0xf0, 0x26, 0x5b, 0x98, 0xb5, 0xd4, 0x8a,
                0xb9, 0x19
            ]
        );
    }
}
