//! The ioctl ABI: Rust types and ioctl numbers generated at build time by
//! bindgen from `include/uapi/linux/nitro.h`, the one definition the kernel
//! uses too (the build script is nitroctl's, shared), and the kernel's pure
//! rule files nitro-hv relies on, compiled from the kernel's own sources.

#![allow(non_camel_case_types, non_upper_case_globals, dead_code, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/uapi_generated.rs"));

/// Instance types, launch commands and ENI names (`eth<index>`), as the
/// controller defines them.
#[path = "../../../drivers/nitro_ctrl/lifecycle.rs"]
pub mod lifecycle;

/// Name rules and the id format (`vol-`/`eni-`/`i-` + 17 hex digits).
#[path = "../../../drivers/nitro_ctrl/state.rs"]
pub mod state;

/// The id prefix of instances, as people see them (`i-` + 17 hex digits).
pub const INSTANCE_ID_PREFIX: &str = "i-";

/// Instance `id` as people see it: `i-` and 17 hex digits, as the controller
/// logs and nitroctl prints it.
pub fn instance_name(id: u64) -> String {
    format!("{INSTANCE_ID_PREFIX}{id:017x}")
}

/// The instance id `name` (`i-` and 17 hex digits) stands for.
pub fn parse_instance(name: &str) -> Option<u64> {
    state::parse_id(INSTANCE_ID_PREFIX, name)
}

/// The text of a fixed NUL-padded field of a struct, if it is well formed
/// (terminated, zero after the terminator) and every byte is allowed by
/// `ok`.
pub fn field_text(field: &[u8], ok: impl Fn(u8) -> bool) -> Option<&str> {
    let len = state::field_str_len(field, ok)?;
    std::str::from_utf8(&field[..len]).ok()
}

/// A C `char` array field as bytes.
pub fn field_bytes(field: &[libc::c_char]) -> &[u8] {
    // SAFETY: c_char and u8 have the same size and alignment, and every bit
    // pattern is valid for both; the slice borrows `field` for its lifetime.
    unsafe { std::slice::from_raw_parts(field.as_ptr().cast(), field.len()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn hypervisor_layouts() {
        assert_eq!(
            size_of::<nitro_hv_register>(),
            NITRO_HV_REGISTER_SIZE_VER0 as usize
        );
        assert_eq!(
            size_of::<nitro_hv_device>(),
            NITRO_HV_DEVICE_SIZE_VER0 as usize
        );
        assert_eq!(
            size_of::<nitro_hv_command>(),
            NITRO_HV_COMMAND_SIZE_VER0 as usize
        );
        assert_eq!(
            size_of::<nitro_hv_result>(),
            NITRO_HV_RESULT_SIZE_VER0 as usize
        );
        assert_eq!(
            size_of::<nitro_instance_describe>(),
            NITRO_INSTANCE_DESCRIBE_SIZE_VER0 as usize
        );
        assert_eq!(offset_of!(nitro_hv_command, exited), 8);
        assert_eq!(offset_of!(nitro_hv_command, devices), 72);
        assert_eq!(offset_of!(nitro_hv_result, pid), 16);
        assert_eq!(offset_of!(nitro_hv_device, by_id), 32);
    }

    #[test]
    fn hypervisor_ioctl_numbers() {
        // _IOWR(0xBB, nr, struct): dir 3, the struct's size in bits 16..30.
        let iowr = |nr: u32, size: usize| (3 << 30) | ((size as u32) << 16) | (0xBB << 8) | nr;
        assert_eq!(
            NITRO_IOC_HV_REGISTER,
            iowr(0x60, size_of::<nitro_hv_register>())
        );
        assert_eq!(NITRO_IOC_HV_NEXT, iowr(0x61, size_of::<nitro_hv_command>()));
        assert_eq!(NITRO_IOC_HV_DONE, iowr(0x62, size_of::<nitro_hv_result>()));
    }

    #[test]
    fn instance_ids() {
        assert_eq!(instance_name(0x0123_4567_89ab_cdef), "i-00123456789abcdef");
        assert_eq!(
            parse_instance("i-00123456789abcdef"),
            Some(0x0123_4567_89ab_cdef)
        );
        assert_eq!(parse_instance("i-0123"), None);
        assert_eq!(parse_instance("vol-00123456789abcdef"), None);
        assert_eq!(parse_instance("i-00000000000000000"), None);
    }

    #[test]
    fn fields() {
        assert_eq!(field_text(b"sdf\0\0\0", state::devname_byte), Some("sdf"));
        assert_eq!(field_text(b"sdf\0x\0", state::devname_byte), None);
        assert_eq!(field_text(b"s/f\0\0\0", state::devname_byte), None);
        assert_eq!(field_text(b"\0\0", state::devname_byte), Some(""));
        let name: [libc::c_char; 4] = [b'e' as _, b't' as _, b'h' as _, 0];
        assert_eq!(field_bytes(&name), b"eth\0");
    }
}
