//! The ioctl ABI: Rust types generated at build time by bindgen from
//! `include/uapi/linux/nitro.h`, the one definition the kernel uses too.

#![allow(non_camel_case_types, non_upper_case_globals, dead_code, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/uapi_generated.rs"));

/// The size rules shared with the kernel, compiled from the kernel's file.
#[path = "../../../drivers/nitro_ctrl/abi_rules.rs"]
pub mod rules;

/// The state machine and validation shared with the kernel.
#[path = "../../../drivers/nitro_ctrl/state.rs"]
pub mod state;

/// Instances: their states (names, codes, wait bits), the instance types and
/// the launch command's rules, shared with the kernel.
#[path = "../../../drivers/nitro_ctrl/lifecycle.rs"]
pub mod lifecycle;

/// Security group rules: what a `struct nitro_sg_rule` may hold, checked as
/// the controller checks it (its tests run here too).
#[path = "../../../drivers/nitro_ctrl/sg_rules.rs"]
pub mod sg_rules;

impl From<sg_rules::RawRule> for nitro_sg_rule {
    fn from(raw: sg_rules::RawRule) -> Self {
        nitro_sg_rule {
            dir: raw.dir,
            proto: raw.proto,
            prefix_len: raw.prefix_len,
            pad: raw.pad,
            port_min: raw.port_min,
            port_max: raw.port_max,
            cidr: raw.cidr,
            reserved: raw.reserved,
            peer_group: raw.peer_group,
        }
    }
}

impl From<nitro_sg_rule> for sg_rules::RawRule {
    fn from(rule: nitro_sg_rule) -> Self {
        sg_rules::RawRule {
            dir: rule.dir,
            proto: rule.proto,
            prefix_len: rule.prefix_len,
            pad: rule.pad,
            port_min: rule.port_min,
            port_max: rule.port_max,
            cidr: rule.cidr,
            reserved: rule.reserved,
            peer_group: rule.peer_group,
        }
    }
}

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
        assert_eq!(offset_of!(nitro_version, max_volumes), 20);
        assert_eq!(offset_of!(nitro_version, max_enis), 24);
        assert_eq!(offset_of!(nitro_version, audit_entries), 28);
    }

    #[test]
    fn object_layouts() {
        let sizes = [
            (
                size_of::<nitro_volume_create>(),
                NITRO_VOLUME_CREATE_SIZE_VER1,
            ),
            (size_of::<nitro_object_ref>(), NITRO_OBJECT_REF_SIZE_VER0),
            (size_of::<nitro_attach>(), NITRO_ATTACH_SIZE_VER1),
            (size_of::<nitro_volume_info>(), NITRO_VOLUME_INFO_SIZE_VER1),
            (
                size_of::<nitro_volume_describe>(),
                NITRO_VOLUME_DESCRIBE_SIZE_VER1,
            ),
            (size_of::<nitro_eni_create>(), NITRO_ENI_CREATE_SIZE_VER1),
            (size_of::<nitro_eni_info>(), NITRO_ENI_INFO_SIZE_VER3),
            (
                size_of::<nitro_eni_describe>(),
                NITRO_ENI_DESCRIBE_SIZE_VER3,
            ),
            (size_of::<nitro_list>(), NITRO_LIST_SIZE_VER0),
            (size_of::<nitro_metrics>(), NITRO_METRICS_SIZE_VER4),
            (size_of::<nitro_audit_entry>(), NITRO_AUDIT_ENTRY_SIZE_VER0),
            (
                size_of::<nitro_instance_create>(),
                NITRO_INSTANCE_CREATE_SIZE_VER0,
            ),
            (size_of::<nitro_instance_op>(), NITRO_INSTANCE_OP_SIZE_VER0),
            (
                size_of::<nitro_instance_wait>(),
                NITRO_INSTANCE_WAIT_SIZE_VER0,
            ),
            (
                size_of::<nitro_instance_info>(),
                NITRO_INSTANCE_INFO_SIZE_VER0,
            ),
            (
                size_of::<nitro_instance_describe>(),
                NITRO_INSTANCE_DESCRIBE_SIZE_VER0,
            ),
            (
                size_of::<nitro_instance_type>(),
                NITRO_INSTANCE_TYPE_SIZE_VER1,
            ),
            (
                size_of::<nitro_instance_console>(),
                NITRO_INSTANCE_CONSOLE_SIZE_VER0,
            ),
            (size_of::<nitro_hv_register>(), NITRO_HV_REGISTER_SIZE_VER0),
            (size_of::<nitro_hv_device>(), NITRO_HV_DEVICE_SIZE_VER0),
            (size_of::<nitro_hv_command>(), NITRO_HV_COMMAND_SIZE_VER0),
            (size_of::<nitro_hv_result>(), NITRO_HV_RESULT_SIZE_VER0),
        ];
        for (index, (have, want)) in sizes.iter().enumerate() {
            assert_eq!(*have, *want as usize, "struct #{index}");
        }
        assert_eq!(offset_of!(nitro_volume_create, name), 24);
        assert_eq!(offset_of!(nitro_volume_create, id), 56);
        // Version 1 grew at the end; version 0 callers stop at 64.
        assert_eq!(offset_of!(nitro_volume_create, backing_fd), 64);
        assert_eq!(offset_of!(nitro_volume_create, wrapped_key), 72);
        assert_eq!(
            size_of::<nitro_wrapped_key>(),
            NITRO_WRAPPED_KEY_LEN as usize
        );
        assert_eq!(offset_of!(nitro_attach, device), 16);
        assert_eq!(offset_of!(nitro_volume_info, name), 32);
        assert_eq!(offset_of!(nitro_volume_info, device), 64);
        assert_eq!(offset_of!(nitro_volume_info, card), 80);
        assert_eq!(offset_of!(nitro_eni_create, mac), 8);
        assert_eq!(offset_of!(nitro_eni_create, ipv4), 16);
        assert_eq!(offset_of!(nitro_eni_info, ipv4), 24);
        // Version 1 grew at the end (the VPC card's host); version 0
        // callers stop before it.
        assert_eq!(
            offset_of!(nitro_eni_create, host),
            NITRO_ENI_CREATE_SIZE_VER0 as usize
        );
        assert_eq!(offset_of!(nitro_eni_create, host), 64);
        assert_eq!(offset_of!(nitro_eni_create, reserved), 68);
        assert_eq!(
            offset_of!(nitro_eni_info, host),
            NITRO_ENI_INFO_SIZE_VER0 as usize
        );
        assert_eq!(offset_of!(nitro_eni_info, host), 112);
        assert_eq!(offset_of!(nitro_eni_info, reserved2), 116);
        assert_eq!(offset_of!(nitro_eni_describe, info), 16);
        assert_eq!(offset_of!(nitro_list, cursor), 8);
        assert_eq!(offset_of!(nitro_list, more), 32);
        assert_eq!(offset_of!(nitro_metrics, read_ops), 16);
        assert_eq!(offset_of!(nitro_metrics, objects), 120);
        assert_eq!(offset_of!(nitro_metrics, queue_depth), 128);
        assert_eq!(
            offset_of!(nitro_metrics, write_hist),
            136 + 8 * NITRO_HIST_BINS as usize
        );
        assert_eq!(offset_of!(nitro_audit_entry, result), 24);
        assert_eq!(offset_of!(nitro_audit_entry, id), 32);
    }

    #[test]
    fn vpc_layouts() {
        let sizes = [
            (size_of::<nitro_host_create>(), NITRO_HOST_CREATE_SIZE_VER0),
            (size_of::<nitro_host_info>(), NITRO_HOST_INFO_SIZE_VER1),
            (size_of::<nitro_map>(), NITRO_MAP_SIZE_VER0),
            (size_of::<nitro_peer_key>(), NITRO_PEER_KEY_SIZE_VER0),
            (
                size_of::<nitro_eni_allowance>(),
                NITRO_ENI_ALLOWANCE_SIZE_VER0,
            ),
        ];
        for (index, (have, want)) in sizes.iter().enumerate() {
            assert_eq!(*have, *want as usize, "struct #{index}");
        }
        assert_eq!(offset_of!(nitro_host_create, netns_fd), 4);
        assert_eq!(offset_of!(nitro_host_create, underlay_ipv4), 8);
        assert_eq!(offset_of!(nitro_host_create, flags), 12);
        assert_eq!(offset_of!(nitro_host_create, host), 16);
        assert_eq!(offset_of!(nitro_host_create, reserved), 20);
        assert_eq!(offset_of!(nitro_host_info, host), 4);
        assert_eq!(offset_of!(nitro_host_info, underlay_ipv4), 8);
        assert_eq!(offset_of!(nitro_host_info, peers), 20);
        assert_eq!(offset_of!(nitro_host_info, tx_sealed), 24);
        assert_eq!(offset_of!(nitro_host_info, rx_not_allowed), 80);
        assert_eq!(offset_of!(nitro_host_info, tx_errors), 104);
        assert_eq!(offset_of!(nitro_host_info, rx_backlog), 112);
        assert_eq!(offset_of!(nitro_map, host), 4);
        assert_eq!(offset_of!(nitro_map, vpc), 8);
        assert_eq!(offset_of!(nitro_map, ipv4), 12);
        assert_eq!(offset_of!(nitro_map, mac), 16);
        assert_eq!(offset_of!(nitro_map, pad), 22);
        assert_eq!(offset_of!(nitro_map, underlay_ipv4), 24);
        assert_eq!(offset_of!(nitro_map, flags), 28);
        assert_eq!(offset_of!(nitro_peer_key, host), 4);
        assert_eq!(offset_of!(nitro_peer_key, peer_ipv4), 8);
        assert_eq!(offset_of!(nitro_peer_key, epoch), 12);
        assert_eq!(offset_of!(nitro_peer_key, key), 16);
        assert_eq!(
            size_of::<[u8; NITRO_PEER_KEY_LEN as usize]>(),
            size_of::<nitro_peer_key>() - 16
        );
        // netns_fd is signed: -1 is "the caller's namespace".
        let create = nitro_host_create {
            netns_fd: -1,
            ..Default::default()
        };
        assert_eq!(create.netns_fd, -1i32);
        assert_eq!(NITRO_MAP_NITRO, 1);
    }

    #[test]
    fn map_table_layouts() {
        assert_eq!(size_of::<nitro_map_batch>(), 32);
        assert_eq!(
            size_of::<nitro_map_batch>(),
            NITRO_MAP_BATCH_SIZE_VER0 as usize
        );
        assert_eq!(offset_of!(nitro_map_batch, size), 0);
        assert_eq!(offset_of!(nitro_map_batch, host), 4);
        assert_eq!(offset_of!(nitro_map_batch, entries), 8);
        assert_eq!(offset_of!(nitro_map_batch, count), 16);
        assert_eq!(offset_of!(nitro_map_batch, flags), 20);
        assert_eq!(offset_of!(nitro_map_batch, done), 24);
        assert_eq!(offset_of!(nitro_map_batch, reserved), 28);
        assert_eq!(size_of::<nitro_map_list>(), 40);
        assert_eq!(
            size_of::<nitro_map_list>(),
            NITRO_MAP_LIST_SIZE_VER0 as usize
        );
        assert_eq!(offset_of!(nitro_map_list, size), 0);
        assert_eq!(offset_of!(nitro_map_list, host), 4);
        assert_eq!(offset_of!(nitro_map_list, cursor), 8);
        assert_eq!(offset_of!(nitro_map_list, entries), 16);
        assert_eq!(offset_of!(nitro_map_list, cap), 24);
        assert_eq!(offset_of!(nitro_map_list, count), 28);
        assert_eq!(offset_of!(nitro_map_list, more), 32);
        assert_eq!(offset_of!(nitro_map_list, entry_size), 36);
        // The entries they carry are struct nitro_map, version 0.
        assert_eq!(size_of::<nitro_map>(), 32);
        assert_eq!(NITRO_MAP_BATCH_DELETE, 1);
        assert_eq!(NITRO_FEAT_MAP_TABLES, 1 << 8);
        assert_eq!(NITRO_MAP_BATCH_MAX, 65536);
        assert_eq!(NITRO_MAPS_MAX, 1048576);
        assert_eq!(NITRO_PEERS_MAX, 65536);
        assert_eq!(NITRO_LIST_MAX, 4096);
    }

    #[test]
    fn vpc_ioctl_numbers() {
        // _IOWR(0xBB, nr, struct): the size in the number is the struct's.
        let iowr = |nr: u32, size: usize| (3 << 30) | ((size as u32) << 16) | (0xBB << 8) | nr;
        assert_eq!(
            NITRO_IOC_HOST_CREATE,
            iowr(0x26, size_of::<nitro_host_create>())
        );
        assert_eq!(
            NITRO_IOC_HOST_DELETE,
            iowr(0x27, size_of::<nitro_host_info>())
        );
        assert_eq!(
            NITRO_IOC_HOST_DESCRIBE,
            iowr(0x28, size_of::<nitro_host_info>())
        );
        assert_eq!(NITRO_IOC_MAP_SET, iowr(0x29, size_of::<nitro_map>()));
        assert_eq!(NITRO_IOC_MAP_DELETE, iowr(0x2a, size_of::<nitro_map>()));
        assert_eq!(NITRO_IOC_PEER_KEY, iowr(0x2b, size_of::<nitro_peer_key>()));
        assert_eq!(
            NITRO_IOC_ENI_ALLOWANCE,
            iowr(0x2c, size_of::<nitro_eni_allowance>())
        );
        assert_eq!(
            NITRO_IOC_MAP_BATCH,
            iowr(0x2d, size_of::<nitro_map_batch>())
        );
        assert_eq!(NITRO_IOC_MAP_BATCH, iowr(0x2d, 32));
        assert_eq!(NITRO_IOC_MAP_LIST, iowr(0x2e, size_of::<nitro_map_list>()));
        assert_eq!(NITRO_IOC_MAP_LIST, iowr(0x2e, 40));
        assert_eq!(
            NITRO_IOC_ENI_CREATE,
            iowr(0x20, size_of::<nitro_eni_create>())
        );
    }

    #[test]
    fn transitions() {
        use state::{begin, finish, finish_create, Op, Refusal, State::*};
        assert_eq!(begin(Available, Op::Attach).unwrap().during, Attaching);
        assert_eq!(begin(Attached, Op::Attach), Err(Refusal::Busy));
        assert_eq!(begin(Attached, Op::Delete), Err(Refusal::Busy));
        assert_eq!(begin(Attached, Op::Detach).unwrap().during, Detaching);
        assert_eq!(begin(Available, Op::Detach), Err(Refusal::NotAttached));
        for state in [Creating, Attaching, Detaching, Deleting] {
            for op in [Op::Attach, Op::Detach, Op::Delete] {
                assert_eq!(begin(state, op), Err(Refusal::Busy), "{state:?} {op:?}");
            }
        }
        assert_eq!(begin(CardLost, Op::Attach), Err(Refusal::CardLost));
        assert_eq!(begin(CardLost, Op::Detach), Err(Refusal::CardLost));
        let delete = begin(CardLost, Op::Delete).unwrap();
        assert!(!delete.ask_card);
        assert!(begin(Available, Op::Delete).unwrap().ask_card);
        assert_eq!(finish(Op::Attach, false), Some(Available));
        assert_eq!(finish(Op::Attach, true), Some(Attached));
        assert_eq!(finish(Op::Detach, false), Some(Attached));
        assert_eq!(finish(Op::Detach, true), Some(Available));
        assert_eq!(finish(Op::Delete, true), None);
        assert_eq!(finish(Op::Delete, false), Some(Available));
        assert_eq!(finish_create(true), Some(Available));
        assert_eq!(finish_create(false), None);
    }

    #[test]
    fn validation() {
        use state::*;
        assert_eq!(volume_geometry(1 << 30, 0), Some(4096));
        assert_eq!(volume_geometry(1 << 30, 512), Some(512));
        assert_eq!(volume_geometry(1 << 30, 1024), None);
        assert_eq!(volume_geometry(0, 4096), None);
        assert_eq!(volume_geometry(4097, 4096), None);
        assert_eq!(volume_geometry(512, 512), Some(512));
        assert_eq!(volume_geometry(MAX_VOLUME_BYTES, 4096), Some(4096));
        assert_eq!(volume_geometry(MAX_VOLUME_BYTES + 4096, 4096), None);
        let mut field = [0u8; 8];
        assert_eq!(field_str_len(&field, name_byte), Some(0));
        field[..3].copy_from_slice(b"sdf");
        assert_eq!(field_str_len(&field, devname_byte), Some(3));
        field[5] = b'x';
        assert_eq!(
            field_str_len(&field, devname_byte),
            None,
            "junk after the NUL"
        );
        assert_eq!(field_str_len(b"abcdefgh", name_byte), None, "no NUL");
        assert_eq!(field_str_len(b"a b\0\0\0\0\0", name_byte), None);
        assert_eq!(field_str_len(b"SDF\0\0\0\0\0", devname_byte), None);
        let ip = |a: u8, b: u8, c: u8, d: u8| u32::from_be_bytes([a, b, c, d]).to_be();
        let unicast = [0x02, 0, 0, 0, 0, 1];
        assert!(eni_addressing(1, &unicast, ip(10, 0, 0, 5)));
        assert!(eni_addressing(MAX_VPC, &[0; 6], ip(10, 0, 0, 5)));
        assert!(!eni_addressing(0, &unicast, ip(10, 0, 0, 5)));
        assert!(!eni_addressing(MAX_VPC + 1, &unicast, ip(10, 0, 0, 5)));
        assert!(!eni_addressing(1, &[0x01, 0, 0, 0, 0, 1], ip(10, 0, 0, 5)));
        assert!(!eni_addressing(1, &unicast, 0));
        assert!(!eni_addressing(1, &unicast, ip(255, 255, 255, 255)));
        assert!(!eni_addressing(1, &unicast, ip(224, 0, 0, 1)));
        assert!(!eni_addressing(1, &unicast, ip(127, 0, 0, 1)));
        let mac = local_mac(0xffff_ffff_ffff_ffff);
        assert_eq!(mac[0] & 0x03, 0x02, "locally administered unicast");
    }

    #[test]
    fn ids() {
        use state::{format_id, parse_id};
        let mut out = [0u8; 21];
        format_id(b"vol-", 0x0123_4567_89ab_cdef, &mut out);
        assert_eq!(&out, b"vol-00123456789abcdef");
        assert_eq!(
            parse_id("vol-", "vol-00123456789abcdef"),
            Some(0x0123_4567_89ab_cdef)
        );
        format_id(b"eni-", u64::MAX, &mut out);
        assert_eq!(&out, b"eni-0ffffffffffffffff");
        assert_eq!(parse_id("eni-", "eni-0ffffffffffffffff"), Some(u64::MAX));
        assert_eq!(
            parse_id("vol-", "vol-10123456789abcdef"),
            None,
            "over 64 bits"
        );
        assert_eq!(parse_id("vol-", "vol-0123"), None);
        assert_eq!(parse_id("vol-", "eni-00123456789abcdef"), None);
        assert_eq!(
            parse_id("vol-", "vol-00000000000000000"),
            None,
            "0 is never an id"
        );
        assert_eq!(parse_id("vol-", "vol-0012345678gabcdef"), None);
    }

    #[test]
    fn allowance_layouts() {
        assert_eq!(offset_of!(nitro_eni_allowance, id), 8);
        assert_eq!(offset_of!(nitro_eni_allowance, bw_in_bps), 16);
        assert_eq!(offset_of!(nitro_eni_allowance, bw_out_bps), 24);
        assert_eq!(offset_of!(nitro_eni_allowance, pps), 32);
        // Version 3 of the ENI info, 2 of the metrics' and 1 of the
        // instance type grew at the end.
        assert_eq!(
            offset_of!(nitro_eni_info, bw_in_bps),
            NITRO_ENI_INFO_SIZE_VER2 as usize
        );
        assert_eq!(offset_of!(nitro_eni_info, pps), 152);
        assert_eq!(offset_of!(nitro_eni_info, eff_bw_in_bps), 160);
        assert_eq!(offset_of!(nitro_eni_info, eff_pps), 176);
        assert_eq!(
            offset_of!(nitro_metrics, bw_in_allowance_exceeded),
            NITRO_METRICS_SIZE_VER2 as usize
        );
        assert_eq!(offset_of!(nitro_metrics, pps_allowance_exceeded), 648);
        assert_eq!(
            offset_of!(nitro_instance_type, bw_bps),
            NITRO_INSTANCE_TYPE_SIZE_VER0 as usize
        );
        assert_eq!(offset_of!(nitro_instance_type, pps), 72);
        // ~0ULL, whatever type bindgen gives the macro.
        assert_eq!(NITRO_ALLOWANCE_NONE as u64, u64::MAX);
    }

    #[test]
    fn security_group_layouts() {
        let sizes = [
            (size_of::<nitro_sg_rule>(), NITRO_SG_RULE_SIZE_VER0),
            (size_of::<nitro_sg_create>(), NITRO_SG_CREATE_SIZE_VER0),
            (size_of::<nitro_sg_rules>(), NITRO_SG_RULES_SIZE_VER0),
            (size_of::<nitro_sg_info>(), NITRO_SG_INFO_SIZE_VER0),
            (size_of::<nitro_eni_groups>(), NITRO_ENI_GROUPS_SIZE_VER0),
        ];
        for (index, (have, want)) in sizes.iter().enumerate() {
            assert_eq!(*have, *want as usize, "struct #{index}");
        }
        assert_eq!(offset_of!(nitro_sg_rule, dir), 0);
        assert_eq!(offset_of!(nitro_sg_rule, proto), 1);
        assert_eq!(offset_of!(nitro_sg_rule, prefix_len), 2);
        assert_eq!(offset_of!(nitro_sg_rule, pad), 3);
        assert_eq!(offset_of!(nitro_sg_rule, port_min), 4);
        assert_eq!(offset_of!(nitro_sg_rule, port_max), 6);
        assert_eq!(offset_of!(nitro_sg_rule, cidr), 8);
        assert_eq!(offset_of!(nitro_sg_rule, reserved), 12);
        assert_eq!(offset_of!(nitro_sg_rule, peer_group), 16);
        assert_eq!(offset_of!(nitro_sg_create, vpc), 4);
        assert_eq!(offset_of!(nitro_sg_create, id), 8);
        assert_eq!(offset_of!(nitro_sg_create, flags), 16);
        assert_eq!(offset_of!(nitro_sg_rules, flags), 4);
        assert_eq!(offset_of!(nitro_sg_rules, id), 8);
        assert_eq!(offset_of!(nitro_sg_rules, rules), 16);
        assert_eq!(offset_of!(nitro_sg_rules, count), 24);
        assert_eq!(offset_of!(nitro_sg_rules, rule_size), 28);
        assert_eq!(offset_of!(nitro_sg_rules, vpc), 32);
        assert_eq!(offset_of!(nitro_sg_rules, enis), 36);
        assert_eq!(offset_of!(nitro_sg_info, vpc), 8);
        assert_eq!(offset_of!(nitro_sg_info, rules), 12);
        assert_eq!(offset_of!(nitro_sg_info, enis), 16);
        assert_eq!(offset_of!(nitro_eni_groups, flags), 4);
        assert_eq!(offset_of!(nitro_eni_groups, id), 8);
        assert_eq!(offset_of!(nitro_eni_groups, count), 16);
        assert_eq!(offset_of!(nitro_eni_groups, groups), 24);
        assert_eq!(NITRO_ENI_GROUPS_MAX, 5);
        assert_eq!(NITRO_SG_RULES_MAX, 120);
        assert_eq!(NITRO_SGS_MAX, 1024);
        assert_eq!(NITRO_FEAT_SECURITY_GROUPS, 1 << 9);
        // The shared file's constants are the header's.
        assert_eq!(u32::from(sg_rules::PROTO_ALL), NITRO_SG_PROTO_ALL);
        assert_eq!(
            u32::from(sg_rules::Rule::EGRESS_ALL.raw().dir),
            NITRO_SG_EGRESS
        );
        // Metrics version 4 grew at the end.
        assert_eq!(
            offset_of!(nitro_metrics, conntrack_allowance_exceeded),
            NITRO_METRICS_SIZE_VER3 as usize
        );
        assert_eq!(
            offset_of!(nitro_metrics, conntrack_allowance_available),
            664
        );
        assert_eq!(offset_of!(nitro_metrics, sg_denied_in), 672);
        assert_eq!(offset_of!(nitro_metrics, sg_denied_out), 680);
        // _IOWR(0xBB, nr, struct).
        let iowr = |nr: u32, size: usize| (3 << 30) | ((size as u32) << 16) | (0xBB << 8) | nr;
        assert_eq!(NITRO_IOC_ENI_GROUPS, iowr(0x2f, 64));
        assert_eq!(NITRO_IOC_SG_CREATE, iowr(0x70, 24));
        assert_eq!(
            NITRO_IOC_SG_DELETE,
            iowr(0x71, size_of::<nitro_object_ref>())
        );
        assert_eq!(NITRO_IOC_SG_RULES, iowr(0x72, 40));
        assert_eq!(NITRO_IOC_SG_LIST, iowr(0x73, size_of::<nitro_list>()));
        // The two views of a rule convert field for field.
        let raw = sg_rules::RawRule {
            dir: 1,
            proto: 6,
            prefix_len: 24,
            pad: 2,
            port_min: 80,
            port_max: 8080,
            cidr: 0x0102_0304,
            reserved: 5,
            peer_group: 7,
        };
        let abi = nitro_sg_rule::from(raw);
        assert_eq!((abi.pad, abi.reserved, abi.peer_group), (2, 5, 7));
        assert_eq!(sg_rules::RawRule::from(abi), raw);
    }

    #[test]
    fn instance_layouts() {
        assert_eq!(offset_of!(nitro_instance_create, type_), 8);
        assert_eq!(offset_of!(nitro_instance_create, name), 40);
        assert_eq!(offset_of!(nitro_instance_create, host), 72);
        assert_eq!(offset_of!(nitro_instance_create, id), 80);
        assert_eq!(offset_of!(nitro_instance_create, command), 88);
        assert_eq!(offset_of!(nitro_instance_create, command_len), 96);
        assert_eq!(offset_of!(nitro_instance_op, id), 8);
        assert_eq!(offset_of!(nitro_instance_op, state), 16);
        assert_eq!(offset_of!(nitro_instance_wait, states), 4);
        assert_eq!(offset_of!(nitro_instance_wait, id), 8);
        assert_eq!(offset_of!(nitro_instance_wait, timeout_ms), 16);
        assert_eq!(offset_of!(nitro_instance_wait, state), 20);
        assert_eq!(offset_of!(nitro_instance_info, type_), 16);
        assert_eq!(offset_of!(nitro_instance_info, host), 80);
        assert_eq!(offset_of!(nitro_instance_info, error), 84);
        assert_eq!(offset_of!(nitro_instance_info, memory_bytes), 104);
        assert_eq!(offset_of!(nitro_instance_info, memory_peak), 152);
        assert_eq!(offset_of!(nitro_instance_describe, info), 16);
        assert_eq!(offset_of!(nitro_instance_type, vcpus), 32);
        assert_eq!(offset_of!(nitro_instance_type, instance_store_bytes), 56);
        assert_eq!(offset_of!(nitro_instance_console, buf), 16);
        assert_eq!(offset_of!(nitro_instance_console, cap), 24);
        assert_eq!(offset_of!(nitro_instance_console, len), 28);
        assert_eq!(offset_of!(nitro_attach, instance), 32);
        assert_eq!(offset_of!(nitro_attach, index), 40);
        assert_eq!(offset_of!(nitro_attach, flags), 44);
        assert_eq!(
            offset_of!(nitro_volume_info, instance),
            NITRO_VOLUME_INFO_SIZE_VER0 as usize
        );
        assert_eq!(
            offset_of!(nitro_eni_info, instance),
            NITRO_ENI_INFO_SIZE_VER1 as usize
        );
    }

    #[test]
    fn instance_states_are_the_headers() {
        use lifecycle::InstanceState;
        let codes = [
            (InstanceState::Pending, NITRO_INSTANCE_PENDING),
            (InstanceState::Running, NITRO_INSTANCE_RUNNING),
            (InstanceState::ShuttingDown, NITRO_INSTANCE_SHUTTING_DOWN),
            (InstanceState::Terminated, NITRO_INSTANCE_TERMINATED),
            (InstanceState::Stopping, NITRO_INSTANCE_STOPPING),
            (InstanceState::Stopped, NITRO_INSTANCE_STOPPED),
        ];
        let mut bits = 0;
        for (state, code) in codes {
            assert_eq!(state as u32, code, "{state:?}");
            assert_eq!(InstanceState::from_code(code), Some(state));
            // NITRO_STATE_BIT(state): 1 << (state / 16), one bit each.
            assert_eq!(state.bit(), 1 << (code / 16), "{state:?}");
            assert_eq!(bits & state.bit(), 0, "{state:?}");
            bits |= state.bit();
        }
        assert_eq!(InstanceState::ALL.len(), codes.len());
        assert_eq!(InstanceState::from_code(1), None);
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
        assert_eq!(NITRO_IOC_VERSION, (3 << 30) | (32 << 16) | (0xBB << 8));
        assert_eq!(NITRO_IOC_STATUS, (3 << 30) | (32 << 16) | (0xBB << 8) | 1);
        let status = rules::IoctlCmd::decode(NITRO_IOC_STATUS);
        assert_eq!(
            (status.dir, status.ty, status.nr, status.size),
            (3, 0xBB, 1, 32)
        );
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
        let mut field = [0xffu8; 8];
        fill_name(&mut field, "nitro_nvme.ebs0");
        assert_eq!(&field, b"nitro_n\0");
        fill_name(&mut field, "ab");
        assert_eq!(&field, b"ab\0\0\0\0\0\0");
        let mut short = [0u8; 4];
        fill_name(&mut short, "abé"); // 'é' is 2 bytes and does not fit: cut before it
        assert_eq!(&short, b"ab\0\0");
    }
}
