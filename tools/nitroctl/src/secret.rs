//! Key material: key files (exactly the key's raw bytes, nothing else) and
//! the keys read from them, wiped when no longer needed and never printed.

use std::{fs::File, io::Read, path::Path};

/// Reads exactly `N` bytes from `path` (a key file: raw bytes, nothing
/// else).
pub fn read_key<const N: usize>(path: &Path, what: &str) -> Result<[u8; N], String> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut file| file.read_to_end(&mut data))
        .map_err(|error| format!("{}: {error}", path.display()))?;
    data.try_into().map_err(|data: Vec<u8>| {
        format!(
            "{}: a {what} is {N} raw bytes, this file has {}",
            path.display(),
            data.len()
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
        let file = File::open(path).map_err(|error| format!("{}: {error}", path.display()))?;
        read_exact_key(file, key, &path.display().to_string(), what)
    }
}

/// Fills `key` from `reader`, which must hold exactly `key.len()` bytes;
/// `from` names the source in messages. `key` is wiped on any error.
pub fn read_exact_key(
    mut reader: impl Read,
    key: &mut [u8],
    from: &str,
    what: &str,
) -> Result<(), String> {
    let mut have = 0;
    let mut extra = [0u8; 1];
    let result = loop {
        let buffer = if have < key.len() {
            &mut key[have..]
        } else {
            &mut extra[..]
        };
        match reader.read(buffer) {
            Ok(0) if have < key.len() => break Err(have.to_string()),
            Ok(0) => break Ok(()),
            Ok(_) if have == key.len() => break Err(format!("more than {have}")),
            Ok(count) => have += count,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => {
                wipe(key);
                return Err(format!("{from}: {error}"));
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
        let mut secret = Secret([0u8; N]);
        read_key_file(path, &mut secret.0, what)?;
        if secret.0.iter().all(|&byte| byte == 0) {
            return Err(format!(
                "{}: the {what} is all zeros; use a random one \
                 (`head -c {N} /dev/urandom > FILE`)",
                path.display()
            ));
        }
        Ok(secret)
    }
}

impl<const N: usize> Drop for Secret<N> {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Overwrites key material with zeros, in a way the compiler keeps.
pub fn wipe(key: &mut [u8]) {
    key.fill(0);
    std::hint::black_box(key);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out its bytes `chunk` at a time, as a pipe may.
    struct Trickle<'a> {
        data: &'a [u8],
        chunk: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
            let length = self.chunk.min(buffer.len()).min(self.data.len());
            buffer[..length].copy_from_slice(&self.data[..length]);
            self.data = &self.data[length..];
            Ok(length)
        }
    }

    #[test]
    fn key_files_hold_exactly_the_key() {
        let data: Vec<u8> = (1..=33).collect();
        let mut key = [0u8; 32];
        for chunk in [1, 5, 32, 64] {
            let reader = Trickle {
                data: &data[..32],
                chunk,
            };
            assert_eq!(read_exact_key(reader, &mut key, "f", "peer key"), Ok(()));
            assert_eq!(key[..], data[..32], "chunk {chunk}");
        }
        for (len, says) in [(0, "has 0 "), (31, "has 31 "), (33, "has more than 32 ")] {
            let mut key = [0xaau8; 32];
            let message = read_exact_key(&data[..len], &mut key, "f", "peer key").unwrap_err();
            assert!(
                message.starts_with("f: a peer key is exactly 32 raw bytes, this ")
                    && message.contains(says),
                "{len}: {message}"
            );
            assert_eq!(key, [0; 32], "wiped after a refusal");
        }
        // A text key (hex and a newline) is refused too.
        let hex = [b'a'; 65];
        let message = read_exact_key(&hex[..], &mut key, "f", "peer key").unwrap_err();
        assert!(message.contains("more than 32"), "{message}");
        assert!(
            !message.contains("aaaa"),
            "the key never appears in a message"
        );
    }

    #[test]
    fn secrets_refuse_zero_keys() {
        let dir = std::env::temp_dir().join(format!("nitroctl-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let zero = dir.join("zero");
        std::fs::write(&zero, [0u8; 32]).unwrap();
        let message = Secret::<32>::read(&zero, "peer key").err().unwrap();
        assert!(message.contains("all zeros"), "{message}");
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
        let mut key = [0u8; 32];
        assert_eq!(read_key_file(&good, &mut key, "peer key"), Ok(()));
        assert_eq!(key, [7; 32]);
        let message = read_key_file(&long, &mut key, "peer key").unwrap_err();
        assert!(
            message.contains("long: a peer key is exactly 32 raw bytes"),
            "{message}"
        );
        let message = read_key_file(&dir.join("none"), &mut key, "peer key").unwrap_err();
        assert!(message.contains("none: "), "{message}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
