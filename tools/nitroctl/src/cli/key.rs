//! `nitroctl key`: the key service side of EBS encryption. `key wrap`
//! wraps a volume's data key under an EBS card's key in the format of
//! `struct nitro_wrapped_key`, so that the card (and only a card holding
//! that key) can open it at attach. This is an independent AES-256-GCM
//! implementation (RustCrypto's), not the kernel's, so a wrapped key that
//! opens in the card checks both. No controller is needed.

use crate::{abi, error::Error, secret};
use aes_gcm::{
    aead::{AeadInPlace, KeyInit},
    Aes256Gcm, Nonce,
};
use clap::Subcommand;
use std::{fs::File, io::Read, path::PathBuf};

/// Key service commands.
#[derive(Subcommand, Debug, PartialEq)]
pub enum KeyCommand {
    /// Wrap a data key under an EBS card's key; writes the 100-byte
    /// struct nitro_wrapped_key to OUT.
    Wrap {
        /// The card's key (32 raw bytes: the card's firmware file
        /// nitro-rs/ebs-card.key).
        #[arg(long, value_name = "FILE")]
        card_key: PathBuf,
        /// The volume's AES-256-XTS key (64 raw bytes); without it a fresh
        /// random key is wrapped, which nobody but the card ever sees.
        #[arg(long, value_name = "FILE")]
        data_key: Option<PathBuf>,
        /// Where to write the wrapped key.
        #[arg(long, short, value_name = "OUT")]
        out: PathBuf,
    },
}

/// `nitroctl key wrap`: prints nothing, writes the wrapped key.
pub fn run(command: &KeyCommand) -> Result<String, Error> {
    let KeyCommand::Wrap {
        card_key,
        data_key,
        out,
    } = command;
    let card_key = secret::read_key(card_key, "card key").map_err(Error::Usage)?;
    let data_key = match data_key {
        Some(path) => secret::read_key(path, "data key").map_err(Error::Usage)?,
        None => random().map_err(Error::Usage)?,
    };
    let wrapped = wrap(&card_key, &data_key, &random().map_err(Error::Usage)?);
    std::fs::write(out, wrapped)
        .map_err(|error| Error::Usage(format!("{}: {error}", out.display())))?;
    Ok(String::new())
}

/// Card key length.
pub const CARD_KEY_LEN: usize = abi::NITRO_CARD_KEY_LEN as usize;
/// Data key length (AES-256-XTS).
pub const DATA_KEY_LEN: usize = abi::NITRO_DATA_KEY_LEN as usize;
/// Wrapped key length.
pub const WRAPPED_LEN: usize = abi::NITRO_WRAPPED_KEY_LEN as usize;

/// `N` random bytes from the kernel.
pub fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut bytes = [0u8; N];
    File::open("/dev/urandom")
        .and_then(|mut file| file.read_exact(&mut bytes))
        .map_err(|error| format!("/dev/urandom: {error}"))?;
    Ok(bytes)
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
pub fn unwrap(
    card_key: &[u8; CARD_KEY_LEN],
    wrapped: &[u8; WRAPPED_LEN],
) -> Option<[u8; DATA_KEY_LEN]> {
    let cipher = Aes256Gcm::new(card_key.into());
    let mut key: [u8; DATA_KEY_LEN] = wrapped[20..84].try_into().ok()?;
    cipher
        .decrypt_in_place_detached(
            Nonce::from_slice(&wrapped[8..20]),
            &wrapped[..8],
            &mut key,
            wrapped[84..].into(),
        )
        .ok()?;
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{parse, refused, Command};

    #[test]
    fn parses_key_commands() {
        assert_eq!(
            parse(&["key", "wrap", "--card-key", "c", "-o", "w"]).command,
            Command::Key(KeyCommand::Wrap {
                card_key: "c".into(),
                data_key: None,
                out: "w".into()
            })
        );
        assert!(refused(&["key", "wrap", "-o", "w"]).contains("--card-key"));
    }

    #[test]
    fn wrap_writes_a_key_the_card_opens() {
        let dir = std::env::temp_dir().join(format!("nitroctl-wrap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let card_key = dir.join("card");
        std::fs::write(&card_key, [7u8; CARD_KEY_LEN]).unwrap();
        let data_key = dir.join("data");
        std::fs::write(&data_key, [9u8; DATA_KEY_LEN]).unwrap();
        let out = dir.join("wrapped");
        let command = KeyCommand::Wrap {
            card_key: card_key.clone(),
            data_key: Some(data_key.clone()),
            out: out.clone(),
        };
        assert_eq!(run(&command).unwrap(), "");
        let wrapped: [u8; WRAPPED_LEN] = std::fs::read(&out).unwrap().try_into().unwrap();
        assert_eq!(
            unwrap(&[7; CARD_KEY_LEN], &wrapped),
            Some([9; DATA_KEY_LEN])
        );
        std::fs::write(&data_key, [9u8; DATA_KEY_LEN - 1]).unwrap();
        let error = run(&command).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(
            error
                .to_string()
                .contains("is 64 raw bytes, this file has 63"),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn wraps_in_the_abi_layout() {
        let wrapped = wrap(&[7; 32], &[9; 64], &[1; 12]);
        assert_eq!(&wrapped[..4], b"NWK1");
        assert_eq!(&wrapped[4..8], &[1, 0, 0, 0]);
        assert_eq!(&wrapped[8..20], &[1; 12]);
        assert_ne!(&wrapped[20..84], &[9; 64][..]);
        assert_eq!(unwrap(&[7; 32], &wrapped), Some([9; 64]));
    }

    #[test]
    fn refuses_wrong_key_and_any_flipped_bit() {
        let wrapped = wrap(&[7; 32], &[9; 64], &[1; 12]);
        assert_eq!(unwrap(&[8; 32], &wrapped), None);
        for byte in 0..WRAPPED_LEN {
            let mut bad = wrapped;
            bad[byte] ^= 0x10;
            assert_eq!(unwrap(&[7; 32], &bad), None, "byte {byte}");
        }
    }

    #[test]
    fn gcm_known_answer() {
        // NIST GCM test vector (AES-256, 96-bit IV, no AAD: test case 14 of
        // the GCM spec): key 0, IV 0, plaintext 16 zero bytes.
        let cipher = Aes256Gcm::new(&[0u8; 32].into());
        let mut text = [0u8; 16];
        let tag = cipher
            .encrypt_in_place_detached(Nonce::from_slice(&[0; 12]), b"", &mut text)
            .unwrap();
        assert_eq!(
            text,
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
