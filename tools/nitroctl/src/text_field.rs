//! The ABI's fixed-size text fields (`char name[NITRO_NAME_LEN]` and the
//! like): filling them from arguments and reading them back.

use std::ffi::c_char;

/// Copies `text` into `field` (zeroed before), refusing text that does not
/// fit with its terminating NUL or that holds a NUL; `what` names the field
/// in the message.
pub fn fill<const N: usize>(field: &mut [c_char; N], text: &str, what: &str) -> Result<(), String> {
    if text.len() >= N || text.contains('\0') {
        return Err(format!(
            "{what} '{text}' is too long (at most {} bytes)",
            N - 1
        ));
    }
    for (slot, byte) in field.iter_mut().zip(text.bytes()) {
        *slot = byte as c_char;
    }
    Ok(())
}

/// The text of a field, up to its first NUL (bytes that are not UTF-8
/// become U+FFFD).
pub fn read(field: &[c_char]) -> String {
    let bytes: Vec<u8> = field
        .iter()
        .take_while(|&&byte| byte != 0)
        .map(|&byte| byte as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_refuse_what_does_not_fit() {
        let mut field = [0 as c_char; 4];
        assert_eq!(fill(&mut field, "sdf", "device"), Ok(()));
        assert_eq!(read(&field), "sdf");
        assert_eq!(
            fill(&mut field, "abcd", "name"),
            Err("name 'abcd' is too long (at most 3 bytes)".into())
        );
        assert!(fill(&mut field, "a\0", "name").is_err());
        let field = [b'a' as c_char, 0, b'b' as c_char, 0];
        assert_eq!(read(&field), "a", "stops at the first NUL");
        let field = [b'a' as c_char; 3];
        assert_eq!(read(&field), "aaa", "a full field has no NUL");
    }
}
