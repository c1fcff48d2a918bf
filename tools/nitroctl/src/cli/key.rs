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

/// Fills `key` from a key file: exactly `key.len()` raw bytes, nothing
/// else; `-` is standard input. At most one byte past the key is read, and
/// `key` is wiped on any error. `what` names the key in messages; the key
/// itself never appears in one.
pub fn read_key_file(path: &Path, key: &mut [u8], what: &str) -> Result<(), String> {
    if path.as_os_str() == "-" {
        read_exact_key(std::io::stdin().lock(), key, "standard input", what)
    } else {
        let f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        read_exact_key(f, key, &path.display().to_string(), what)
    }
}

/// Fills `key` from `r`, which must hold exactly `key.len()` bytes; `from`
/// names the source in messages. `key` is wiped on any error.
pub fn read_exact_key(
    mut r: impl Read,
    key: &mut [u8],
    from: &str,
    what: &str,
) -> Result<(), String> {
    let mut have = 0;
    let mut extra = [0u8; 1];
    let result = loop {
        let buf = if have < key.len() {
            &mut key[have..]
        } else {
            &mut extra[..]
        };
        match r.read(buf) {
            Ok(0) if have < key.len() => break Err(have.to_string()),
            Ok(0) => break Ok(()),
            Ok(_) if have == key.len() => break Err(format!("more than {have}")),
            Ok(n) => have += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                wipe(key);
                return Err(format!("{from}: {e}"));
            }
        }
    };
    result.map_err(|len| {
        wipe(key);
        format!(
            "{from}: a {what} is exactly {} raw bytes, this has {len} \
             (make one with `head -c {} /dev/urandom > FILE`)",
            key.len(),
            key.len()
        )
    })
}

/// Key material: wiped when dropped, and with no `Debug` or `Display`, so
/// it cannot end up in a message.
pub struct Secret<const N: usize>(pub [u8; N]);

impl<const N: usize> Secret<N> {
    /// Reads a key file of exactly `N` raw bytes (`-`: standard input) that
    /// is not all zeros.
    pub fn read(path: &Path, what: &str) -> Result<Self, String> {
        let mut s = Secret([0u8; N]);
        read_key_file(path, &mut s.0, what)?;
        if s.0.iter().all(|&b| b == 0) {
            return Err(format!(
                "{}: the {what} is all zeros; use a random one \
                 (`head -c {N} /dev/urandom > FILE`)",
                path.display()
            ));
        }
        Ok(s)
    }
}

impl<const N: usize> Drop for Secret<N> {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Overwrites key material with zeros, in a way the compiler keeps.
pub fn wipe(b: &mut [u8]) {
    b.fill(0);
    std::hint::black_box(b);
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

    /// A reader that hands out its bytes `chunk` at a time, as a pipe may.
    struct Trickle<'a> {
        data: &'a [u8],
        chunk: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.chunk.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn key_files_hold_exactly_the_key() {
        let data: Vec<u8> = (1..=33).collect();
        let mut k = [0u8; 32];
        for chunk in [1, 5, 32, 64] {
            let r = Trickle {
                data: &data[..32],
                chunk,
            };
            assert_eq!(read_exact_key(r, &mut k, "f", "peer key"), Ok(()));
            assert_eq!(k[..], data[..32], "chunk {chunk}");
        }
        for (len, says) in [(0, "has 0 "), (31, "has 31 "), (33, "has more than 32 ")] {
            let mut k = [0xaau8; 32];
            let e = read_exact_key(&data[..len], &mut k, "f", "peer key").unwrap_err();
            assert!(
                e.starts_with("f: a peer key is exactly 32 raw bytes, this ") && e.contains(says),
                "{len}: {e}"
            );
            assert_eq!(k, [0; 32], "wiped after a refusal");
        }
        // A text key (hex and a newline) is refused too.
        let hex = [b'a'; 65];
        let e = read_exact_key(&hex[..], &mut k, "f", "peer key").unwrap_err();
        assert!(e.contains("more than 32"), "{e}");
        assert!(!e.contains("aaaa"), "the key never appears in a message");
    }

    #[test]
    fn secrets_refuse_zero_keys() {
        let dir = std::env::temp_dir().join(format!("nitroctl-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let zero = dir.join("zero");
        std::fs::write(&zero, [0u8; 32]).unwrap();
        let e = Secret::<32>::read(&zero, "peer key").err().unwrap();
        assert!(e.contains("all zeros"), "{e}");
        let one = dir.join("one");
        std::fs::write(&one, [1u8; 32]).unwrap();
        assert_eq!(Secret::<32>::read(&one, "peer key").unwrap().0, [1; 32]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn key_files_on_disk() {
        let dir = std::env::temp_dir().join(format!("nitroctl-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good");
        std::fs::write(&good, [7u8; 32]).unwrap();
        let long = dir.join("long");
        std::fs::write(&long, [7u8; 33]).unwrap();
        let mut k = [0u8; 32];
        assert_eq!(read_key_file(&good, &mut k, "peer key"), Ok(()));
        assert_eq!(k, [7; 32]);
        let e = read_key_file(&long, &mut k, "peer key").unwrap_err();
        assert!(
            e.contains("long: a peer key is exactly 32 raw bytes"),
            "{e}"
        );
        let e = read_key_file(&dir.join("none"), &mut k, "peer key").unwrap_err();
        assert!(e.contains("none: "), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
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
