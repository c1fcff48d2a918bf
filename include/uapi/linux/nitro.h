/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * nitro-rs: the ioctl ABI of /dev/nitro_ctrl, the Nitro Controller.
 *
 * This header is the single definition of the ABI. The kernel modules and
 * nitroctl get their Rust view of it from bindgen at build time (ioctl
 * numbers included); the selftests and samples include it directly.
 *
 * Conventions (Documentation/abi.rst has the full contract):
 *  - every argument struct starts with __u32 size, set by the caller to the
 *    sizeof() it was compiled with. The kernel accepts smaller (older) and
 *    larger (newer) sizes the way openat2(2) does: missing trailing fields
 *    read as zero; unknown trailing bytes must be zero, else E2BIG.
 *    Sizes below the first published version of the struct give EINVAL.
 *  - the kernel writes back min(caller size, kernel size) bytes and sets
 *    size to the kernel's size, so a caller can tell it was given less.
 *  - commands are matched on type and number only, not on the size encoded
 *    in the number, so a struct can grow without changing its command.
 *  - fields named reserved/pad must be zero on input (EINVAL otherwise).
 *  - fixed-width types only, explicit padding, user pointers as __u64.
 */
#ifndef _UAPI_LINUX_NITRO_H
#define _UAPI_LINUX_NITRO_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Version of this ABI; bumped on incompatible change (never so far). */
#define NITRO_ABI_VERSION 1

/* Name of the misc device: /dev/nitro_ctrl. */
#define NITRO_CTRL_DEVICE "nitro_ctrl"

/* ioctl type byte (unused in Documentation/userspace-api/ioctl/ioctl-number.rst). */
#define NITRO_IOCTL_TYPE 0xBB

/* Feature bits reported by NITRO_IOC_VERSION. */
enum nitro_feature {
	/* NITRO_IOC_VERSION and NITRO_IOC_STATUS. */
	NITRO_FEAT_STATUS = 1 << 0,
};

/* What kind of card a bus member is. */
enum nitro_card_kind {
	/* The security chip: firmware measurement, write-deny, boot gate. */
	NITRO_CARD_SECURITY = 1,
	/* EBS volumes as NVMe block devices. */
	NITRO_CARD_EBS = 2,
	/* Instance-storage volumes as NVMe block devices. */
	NITRO_CARD_INSTANCE_STORE = 3,
	/* VPC card: ENIs as netdevs. */
	NITRO_CARD_VPC = 4,
};

/* Bits of nitro_status.missing: card kinds the host expects but lacks. */
#define NITRO_CARD_BIT(kind) (1U << (kind))

/* State of the boot gate that holds the cards back. */
enum nitro_gate_state {
	/* No security chip registered: nothing measured, cards held back. */
	NITRO_GATE_NO_CHIP = 0,
	/* Firmware measured but not yet verified: cards held back. */
	NITRO_GATE_CLOSED = 1,
	/* Measurements matched the allowlist: cards may provision. */
	NITRO_GATE_OPEN = 2,
	/* A measurement did not match: host quarantined, cards held back. */
	NITRO_GATE_QUARANTINED = 3,
};

/* Longest card name, including the terminating NUL. */
#define NITRO_NAME_LEN 32

/**
 * struct nitro_version - argument of NITRO_IOC_VERSION
 * @size: in: sizeof(struct nitro_version) of the caller; out: the kernel's
 * @abi_version: out: NITRO_ABI_VERSION of the running controller
 * @features: out: enum nitro_feature bits the controller supports
 * @max_cards: out: how many cards the private bus holds at most
 * @reserved: must be zero
 */
struct nitro_version {
	__u32 size;
	__u32 abi_version;
	__u64 features;
	__u32 max_cards;
	__u32 reserved;
};

/**
 * struct nitro_card_info - one card on the private bus
 * @kind: enum nitro_card_kind
 * @index: instance number among cards of the same kind, from 0
 * @name: NUL-terminated name, e.g. "nitro_nvme.ebs0"
 * @requests: bus requests the controller sent this card
 * @failures: of those, how many the card refused
 * @objects: objects (volumes, ENIs, measurements) the card holds now
 * @reserved: zero
 */
struct nitro_card_info {
	__u32 kind;
	__u32 index;
	char name[NITRO_NAME_LEN];
	__u64 requests;
	__u64 failures;
	__u32 objects;
	__u32 reserved;
};

/**
 * struct nitro_status - argument of NITRO_IOC_STATUS
 * @size: as in struct nitro_version
 * @gate: out: enum nitro_gate_state
 * @cards: in: user pointer to an array of @cards_cap entries of
 *	@card_size bytes each, or 0 to ask only for @ncards
 * @cards_cap: in: entries the array has room for
 * @card_size: in: sizeof(struct nitro_card_info) of the caller (0 means the
 *	kernel's); entries are written with the same size rules as structs
 * @ncards: out: cards registered now (may exceed @cards_cap: then only the
 *	first @cards_cap are written)
 * @missing: out: NITRO_CARD_BIT() of every card kind with no card registered
 */
struct nitro_status {
	__u32 size;
	__u32 gate;
	__u64 cards;
	__u32 cards_cap;
	__u32 card_size;
	__u32 ncards;
	__u32 missing;
};

#define NITRO_IOC_VERSION _IOWR(NITRO_IOCTL_TYPE, 0x00, struct nitro_version)
#define NITRO_IOC_STATUS _IOWR(NITRO_IOCTL_TYPE, 0x01, struct nitro_status)

/* First published sizes, the smallest the kernel accepts. */
#define NITRO_VERSION_SIZE_VER0 24
#define NITRO_STATUS_SIZE_VER0 32
#define NITRO_CARD_INFO_SIZE_VER0 64

#endif /* _UAPI_LINUX_NITRO_H */
