//! Errno names and descriptions, from the C library's own tables (glibc
//! 2.32 and later): the one list nitroctl and nitro-hv use, so that no
//! crate keeps a copy of `<errno.h>` by hand.

extern "C" {
    /// The name of `errnum` ("ETIMEDOUT"), a static string, or NULL if it
    /// has none.
    fn strerrorname_np(errnum: libc::c_int) -> *const libc::c_char;
    /// The description of `errnum` ("Connection timed out"), a static
    /// string never translated, or NULL.
    fn strerrordesc_np(errnum: libc::c_int) -> *const libc::c_char;
}

/// Errno values are below this (Linux's highest is EHWPOISON, 133).
#[allow(dead_code, reason = "used by nitro-hv")]
const ERRNO_END: i32 = 256;

/// A static C string of the C library's, if there is one.
fn static_c_str(text: *const libc::c_char) -> Option<&'static str> {
    if text.is_null() {
        return None;
    }
    // SAFETY: the C library's errno name and description tables hold
    // NUL-terminated strings that live as long as the process.
    unsafe { std::ffi::CStr::from_ptr(text) }.to_str().ok()
}

/// The name of an errno, as in `<errno.h>` ("ENOENT"), if it has one.
pub fn name(errno: i32) -> Option<&'static str> {
    // SAFETY: strerrorname_np only reads its argument.
    static_c_str(unsafe { strerrorname_np(errno) })
}

/// The description of an errno ("No such file or directory"), if it has
/// one.
pub fn description(errno: i32) -> Option<&'static str> {
    // SAFETY: strerrordesc_np only reads its argument.
    static_c_str(unsafe { strerrordesc_np(errno) })
}

/// The errno whose description is `text` exactly, if there is one (the
/// lowest, for descriptions two names share).
#[allow(dead_code, reason = "used by nitro-hv")]
pub fn from_description(text: &str) -> Option<i32> {
    (1..ERRNO_END).find(|&e| description(e) == Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_descriptions_and_back() {
        assert_eq!(name(libc::ENOENT), Some("ENOENT"));
        assert_eq!(name(libc::EHWPOISON), Some("EHWPOISON"));
        assert_eq!(name(0x7fff_0000), None);
        assert_eq!(description(libc::EEXIST), Some("File exists"));
        assert_eq!(from_description("File exists"), Some(libc::EEXIST));
        assert_eq!(
            from_description("Resource temporarily unavailable"),
            Some(libc::EAGAIN)
        );
        assert_eq!(from_description("no such text"), None);
    }
}
