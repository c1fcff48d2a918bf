//! The ioctl ABI: Rust types generated at build time by bindgen from
//! `include/uapi/linux/nitro.h`, the one definition the kernel uses too.

#![allow(non_camel_case_types, non_upper_case_globals, dead_code, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/uapi_generated.rs"));

/// The size rules shared with the kernel, compiled from the kernel's file.
#[path = "../../../drivers/nitro_ctrl/abi_rules.rs"]
pub mod rules;

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn version_layout() {
        assert_eq!(size_of::<nitro_version>(), NITRO_VERSION_SIZE_VER0 as usize);
        assert_eq!(offset_of!(nitro_version, size), 0);
        assert_eq!(offset_of!(nitro_version, abi_version), 4);
        assert_eq!(offset_of!(nitro_version, features), 8);
        assert_eq!(offset_of!(nitro_version, max_cards), 16);
        assert_eq!(offset_of!(nitro_version, reserved), 20);
    }

    #[test]
    fn status_layout() {
        assert_eq!(size_of::<nitro_status>(), NITRO_STATUS_SIZE_VER0 as usize);
        assert_eq!(offset_of!(nitro_status, size), 0);
        assert_eq!(offset_of!(nitro_status, gate), 4);
        assert_eq!(offset_of!(nitro_status, cards), 8);
        assert_eq!(offset_of!(nitro_status, cards_cap), 16);
        assert_eq!(offset_of!(nitro_status, card_size), 20);
        assert_eq!(offset_of!(nitro_status, ncards), 24);
        assert_eq!(offset_of!(nitro_status, missing), 28);
    }

    #[test]
    fn card_info_layout() {
        assert_eq!(
            size_of::<nitro_card_info>(),
            NITRO_CARD_INFO_SIZE_VER0 as usize
        );
        assert_eq!(offset_of!(nitro_card_info, kind), 0);
        assert_eq!(offset_of!(nitro_card_info, index), 4);
        assert_eq!(offset_of!(nitro_card_info, name), 8);
        assert_eq!(offset_of!(nitro_card_info, requests), 40);
        assert_eq!(offset_of!(nitro_card_info, failures), 48);
        assert_eq!(offset_of!(nitro_card_info, objects), 56);
        assert_eq!(offset_of!(nitro_card_info, reserved), 60);
    }

    #[test]
    fn ioctl_numbers() {
        // _IOWR(0xBB, nr, struct): dir 3, size in bits 16..30.
        assert_eq!(NITRO_IOC_VERSION, (3 << 30) | (24 << 16) | (0xBB << 8));
        assert_eq!(NITRO_IOC_STATUS, (3 << 30) | (32 << 16) | (0xBB << 8) | 1);
        let c = rules::IoctlCmd::decode(NITRO_IOC_STATUS);
        assert_eq!((c.dir, c.ty, c.nr, c.size), (3, 0xBB, 1, 32));
    }

    #[test]
    fn same_command_ignores_size() {
        let grown = (NITRO_IOC_VERSION & !(0x3fff << 16)) | (40 << 16);
        assert!(rules::IoctlCmd::decode(grown).same_command(NITRO_IOC_VERSION));
        assert!(!rules::IoctlCmd::decode(NITRO_IOC_STATUS).same_command(NITRO_IOC_VERSION));
        let read_only = NITRO_IOC_VERSION & !(1 << 30);
        assert!(!rules::IoctlCmd::decode(read_only).same_command(NITRO_IOC_VERSION));
    }

    #[test]
    fn size_plans() {
        use rules::{plan_struct, SizeError, SizePlan};
        assert_eq!(plan_struct(0, 24, 24), Err(SizeError::TooSmall));
        assert_eq!(plan_struct(23, 24, 24), Err(SizeError::TooSmall));
        assert_eq!(plan_struct(24, 24, 24), Ok(SizePlan { copy: 24, tail: 0 }));
        assert_eq!(plan_struct(32, 24, 24), Ok(SizePlan { copy: 24, tail: 8 }));
        assert_eq!(plan_struct(24, 24, 32), Ok(SizePlan { copy: 24, tail: 0 }));
        assert_eq!(
            plan_struct(4096, 24, 24),
            Ok(SizePlan {
                copy: 24,
                tail: 4072
            })
        );
        assert_eq!(plan_struct(4097, 24, 24), Err(SizeError::TooBig));
        assert_eq!(plan_struct(u32::MAX, 24, 24), Err(SizeError::TooBig));
    }

    #[test]
    fn element_plans() {
        use rules::{element_addr, plan_element, SizePlan};
        assert_eq!(plan_element(0, 64, 64), Ok(SizePlan { copy: 64, tail: 0 }));
        assert_eq!(
            plan_element(128, 64, 64),
            Ok(SizePlan { copy: 64, tail: 0 })
        );
        assert!(plan_element(8, 64, 64).is_err());
        assert_eq!(element_addr(0x1000, 2, 64), Some(0x1080));
        assert_eq!(element_addr(u64::MAX, 1, 64), None);
    }

    #[test]
    fn missing_and_names() {
        use rules::{fill_name, missing_kinds};
        assert_eq!(missing_kinds([].into_iter(), 4), 0b11110);
        assert_eq!(missing_kinds([1, 2, 3, 4].into_iter(), 4), 0);
        assert_eq!(missing_kinds([2, 99].into_iter(), 4), 0b11010);
        let mut f = [0xffu8; 8];
        fill_name(&mut f, "nitro_nvme.ebs0");
        assert_eq!(&f, b"nitro_n\0");
        fill_name(&mut f, "ab");
        assert_eq!(&f, b"ab\0\0\0\0\0\0");
        let mut g = [0u8; 4];
        fill_name(&mut g, "abé"); // 'é' is 2 bytes and does not fit: cut before it
        assert_eq!(&g, b"ab\0\0");
    }
}
