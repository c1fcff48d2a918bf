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
	/* NITRO_IOC_VOLUME_*. */
	NITRO_FEAT_VOLUMES = 1 << 1,
	/* NITRO_IOC_ENI_*. */
	NITRO_FEAT_ENIS = 1 << 2,
	/* NITRO_IOC_METRICS. */
	NITRO_FEAT_METRICS = 1 << 3,
	/* NITRO_IOC_AUDIT. */
	NITRO_FEAT_AUDIT = 1 << 4,
	/* NITRO_IOC_FIRMWARE_*: measured boot, allowlist, write-deny. */
	NITRO_FEAT_FIRMWARE = 1 << 5,
	/* NITRO_IOC_INSTANCE_* and NITRO_IOC_HV_*: instances, hypervisors. */
	NITRO_FEAT_INSTANCES = 1 << 6,
	/* NITRO_IOC_ENI_ALLOWANCE: traffic allowances enforced by the card. */
	NITRO_FEAT_ALLOWANCES = 1 << 7,
	/* NITRO_IOC_MAP_BATCH, NITRO_IOC_MAP_LIST: tables at cloud scale. */
	NITRO_FEAT_MAP_TABLES = 1 << 8,
	/* NITRO_IOC_SG_* and NITRO_IOC_ENI_GROUPS: security groups. */
	NITRO_FEAT_SECURITY_GROUPS = 1 << 9,
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
 * @max_volumes: out: how many volumes the host holds at most (ENOSPC past it)
 * @max_enis: out: how many ENIs the host holds at most (ENOSPC past it)
 * @audit_entries: out: how many operations the audit ring keeps
 */
struct nitro_version {
	__u32 size;
	__u32 abi_version;
	__u64 features;
	__u32 max_cards;
	__u32 max_volumes;
	__u32 max_enis;
	__u32 audit_entries;
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

/*
 * Objects. Volumes and ENIs are named by a 64-bit id, never 0, that the
 * controller picks at random when it creates them. People see it as
 * "vol-" or "eni-" followed by 17 hex digits ("vol-%017llx"), as on EC2.
 */
#define NITRO_VOLUME_ID_PREFIX "vol-"
#define NITRO_ENI_ID_PREFIX "eni-"

/* Longest caller-given object name (unique per host when not empty), with NUL. */
#define NITRO_TAG_LEN 32
/* Longest attachment name (block device "sdf", interface "eth1"), with NUL. */
#define NITRO_DEVNAME_LEN 16

enum nitro_volume_kind {
	NITRO_VOLUME_EBS = 1,
	NITRO_VOLUME_INSTANCE = 2,
};

/*
 * Object states. Transitional states (creating, attaching, detaching,
 * deleting) last while the owning card handles the request; any other
 * request for the object then gets EBUSY. A card that refuses a request
 * leaves the object in the state it had before (never half-attached).
 */
enum nitro_state {
	NITRO_STATE_CREATING = 1,
	NITRO_STATE_AVAILABLE = 2,
	NITRO_STATE_ATTACHING = 3,
	NITRO_STATE_ATTACHED = 4,
	NITRO_STATE_DETACHING = 5,
	NITRO_STATE_DELETING = 6,
	/* Its card left the bus (module unloaded): only delete is possible. */
	NITRO_STATE_CARD_LOST = 7,
};

/*
 * An EBS volume's data key, as the key service hands it out: the 64-byte
 * AES-256-XTS key sealed with AES-256-GCM under the EBS card's 32-byte key
 * (loaded by nitro_nvme at init as the firmware file NITRO_EBS_CARD_KEY).
 * The associated data is the first 8 bytes (magic and version), so a blob
 * of another format or version never opens.
 */
#define NITRO_WRAPPED_KEY_MAGIC "NWK1"
#define NITRO_WRAPPED_KEY_VERSION 1
#define NITRO_DATA_KEY_LEN 64
#define NITRO_CARD_KEY_LEN 32
#define NITRO_EBS_CARD_KEY "nitro-rs/ebs-card.key"

/**
 * struct nitro_wrapped_key - layout of nitro_volume_create.wrapped_key
 * @magic: NITRO_WRAPPED_KEY_MAGIC, not NUL-terminated
 * @version: NITRO_WRAPPED_KEY_VERSION, little endian
 * @nonce: the GCM nonce, random per wrapping
 * @sealed: the data key, encrypted
 * @tag: the GCM tag over @magic, @version (associated data) and @sealed
 */
struct nitro_wrapped_key {
	char magic[4];
	__u32 version;
	__u8 nonce[12];
	__u8 sealed[NITRO_DATA_KEY_LEN];
	__u8 tag[16];
};
#define NITRO_WRAPPED_KEY_LEN 100

/* Block sizes a volume may have; 0 at create means the default, 4096. */
#define NITRO_BLOCK_SIZE_DEFAULT 4096

/**
 * struct nitro_volume_create - argument of NITRO_IOC_VOLUME_CREATE
 * @size: see the conventions at the top
 * @kind: in: enum nitro_volume_kind
 * @size_bytes: in: capacity, a non-zero multiple of @block_size, at most 64 TiB
 * @block_size: in: logical block size, 512 or 4096 (0: 4096)
 * @flags: in: zero
 * @name: in: optional name, NUL-terminated, unique on the host (EEXIST)
 * @id: out: the new volume's id
 * @backing_fd: in: EBS: a file or block device open for reading and
 *	writing, at least @size_bytes long: the "storage server", which only
 *	ever holds ciphertext (the card keeps its own reference; the caller may
 *	close the descriptor afterwards). Instance storage: 0.
 * @reserved: zero
 * @pad: zero
 * @wrapped_key: in: EBS: the volume's data key wrapped under the EBS card's
 *	key (struct nitro_wrapped_key, byte for byte). It is checked when the
 *	volume is attached (EKEYREJECTED if it does not open) and never
 *	returned. Instance storage: zero (the card makes the key itself).
 *
 * Callers compiled before @backing_fd existed (size 64) can create
 * instance-storage volumes only: an EBS volume needs a wrapped key.
 */
struct nitro_volume_create {
	__u32 size;
	__u32 kind;
	__u64 size_bytes;
	__u32 block_size;
	__u32 flags;
	char name[NITRO_TAG_LEN];
	__u64 id;
	__s32 backing_fd;
	__u32 reserved;
	__u8 wrapped_key[NITRO_WRAPPED_KEY_LEN];
	__u8 pad[4];
};

/**
 * struct nitro_object_ref - argument of the delete and detach commands
 * @size: see the conventions at the top
 * @reserved: zero
 * @id: in: the object
 */
struct nitro_object_ref {
	__u32 size;
	__u32 reserved;
	__u64 id;
};

/**
 * struct nitro_attach - argument of NITRO_IOC_VOLUME_ATTACH and NITRO_IOC_ENI_ATTACH
 * @size: see the conventions at the top
 * @reserved: zero
 * @id: in: the object
 * @device: in: the attachment's name, NUL-terminated: required for a volume
 *	(the device name the guest asked for, e.g. "sdf", unique on the host,
 *	or in the instance); optional for an ENI attached to the host (empty:
 *	the card names the interface), empty for an ENI attached to an
 *	instance (it is eth<@index> there); out: the name used
 * @instance: in: (v1) the instance to attach to; 0: the host itself
 * @index: in: (v1) an ENI attached to an instance: its device index
 *	(eth<index>), below the type's ENI limit, unique in the instance
 * @flags: in: (v1) NITRO_ATTACH_DELETE_ON_TERMINATION or 0 (0 for the host)
 */
struct nitro_attach {
	__u32 size;
	__u32 reserved;
	__u64 id;
	char device[NITRO_DEVNAME_LEN];
	__u64 instance;
	__u32 index;
	__u32 flags;
};

/**
 * struct nitro_volume_info - a volume, as describe and list report it
 * @id: its id
 * @kind: enum nitro_volume_kind
 * @state: enum nitro_state
 * @size_bytes: capacity
 * @block_size: logical block size
 * @reserved: zero
 * @name: name given at create (may be empty)
 * @device: attachment name when attaching or attached, else empty
 * @card: name of the card that holds it
 * @instance: (v1) the instance it is attached to (0: the host, or none)
 * @flags: (v1) its attachment's NITRO_ATTACH_* flags
 * @reserved2: zero
 */
struct nitro_volume_info {
	__u64 id;
	__u32 kind;
	__u32 state;
	__u64 size_bytes;
	__u32 block_size;
	__u32 reserved;
	char name[NITRO_TAG_LEN];
	char device[NITRO_DEVNAME_LEN];
	char card[NITRO_NAME_LEN];
	__u64 instance;
	__u32 flags;
	__u32 reserved2;
};

/**
 * struct nitro_volume_describe - argument of NITRO_IOC_VOLUME_DESCRIBE
 * @size: see the conventions at the top
 * @reserved: zero
 * @id: in: the volume
 * @info: out: what it is
 */
struct nitro_volume_describe {
	__u32 size;
	__u32 reserved;
	__u64 id;
	struct nitro_volume_info info;
};

/**
 * struct nitro_eni_create - argument of NITRO_IOC_ENI_CREATE
 * @size: see the conventions at the top
 * @vpc: in: VPC id, 1 to 2^24 - 1 (it is the Geneve VNI on the underlay)
 * @mac: in: unicast MAC address, unique on the host; all zero: the
 *	controller picks a locally administered one; out: the MAC used
 * @pad: zero
 * @ipv4: in: primary private IPv4 address, network byte order, unique in
 *	its VPC; not 0, multicast, or broadcast
 * @flags: in: zero
 * @name: in: optional name, NUL-terminated, unique on the host (EEXIST)
 * @id: out: the new ENI's id
 * @host: in: the VPC card instance (struct nitro_host_create) the ENI is
 *	made on; 0: the lowest-numbered one. ENODEV if there is none.
 * @reserved: zero
 *
 * Callers compiled before @host existed (size 64) get host 0.
 */
struct nitro_eni_create {
	__u32 size;
	__u32 vpc;
	__u8 mac[6];
	__u8 pad[2];
	__u32 ipv4;
	__u32 flags;
	char name[NITRO_TAG_LEN];
	__u64 id;
	__u32 host;
	__u32 reserved;
};

/**
 * struct nitro_eni_info - an ENI, as describe and list report it
 * @id: its id
 * @vpc: VPC id
 * @state: enum nitro_state
 * @mac: MAC address
 * @pad: zero
 * @ipv4: IPv4 address, network byte order
 * @reserved: zero
 * @name: name given at create (may be empty)
 * @device: interface name when attaching or attached, else empty
 * @card: name of the card that holds it
 * @host: the VPC card instance it is on
 * @reserved2: zero
 * @instance: (v2) the instance it is attached to (0: the host, or none)
 * @flags: (v2) its attachment's NITRO_ATTACH_* flags
 * @reserved3: zero
 * @bw_in_bps: (v3) its allowance as set (struct nitro_eni_allowance: 0 is
 *	the instance type's, NITRO_ALLOWANCE_NONE none)
 * @bw_out_bps: (v3) the same
 * @pps: (v3) the same
 * @eff_bw_in_bps: (v3) what the card enforces now, as the card reports it,
 *	bits per second to the ENI (0: no limit; always 0 while not attached)
 * @eff_bw_out_bps: (v3) the same, from the ENI
 * @eff_pps: (v3) the same, packets per second both ways
 */
struct nitro_eni_info {
	__u64 id;
	__u32 vpc;
	__u32 state;
	__u8 mac[6];
	__u8 pad[2];
	__u32 ipv4;
	__u32 reserved;
	char name[NITRO_TAG_LEN];
	char device[NITRO_DEVNAME_LEN];
	char card[NITRO_NAME_LEN];
	__u32 host;
	__u32 reserved2;
	__u64 instance;
	__u32 flags;
	__u32 reserved3;
	__u64 bw_in_bps;
	__u64 bw_out_bps;
	__u64 pps;
	__u64 eff_bw_in_bps;
	__u64 eff_bw_out_bps;
	__u64 eff_pps;
};

/**
 * struct nitro_eni_describe - argument of NITRO_IOC_ENI_DESCRIBE
 * @size: see the conventions at the top
 * @reserved: zero
 * @id: in: the ENI
 * @info: out: what it is
 */
struct nitro_eni_describe {
	__u32 size;
	__u32 reserved;
	__u64 id;
	struct nitro_eni_info info;
};

/*
 * The VPC card's instances ("hosts"). Each is one emulated Nitro host: it
 * owns an underlay IPv4 address in a network namespace and the UDP socket
 * bound to it on port NITRO_GENEVE_PORT, the only socket in nitro-rs.
 * ENIs are made on a host; its mapping table says where their frames go,
 * and its peer keys seal what goes to other Nitro hosts.
 * Documentation/vpc.rst has the wire format.
 */
#define NITRO_GENEVE_PORT 6081
/* Most hosts one VPC card runs, numbered 1 to NITRO_HOSTS_MAX. */
#define NITRO_HOSTS_MAX 16
/* Largest VPC id: it is the 24-bit Geneve VNI. */
#define NITRO_VPC_MAX 0xffffff
/* Largest ENI MTU. */
#define NITRO_ENI_MTU_MAX 9001
/* Most mapping entries, and most keyed peers, per host. */
#define NITRO_MAPS_MAX 1048576
#define NITRO_PEERS_MAX 65536
/* Most entries one NITRO_IOC_MAP_BATCH call takes. */
#define NITRO_MAP_BATCH_MAX 65536

/**
 * struct nitro_host_create - argument of NITRO_IOC_HOST_CREATE
 * @size: see the conventions at the top
 * @netns_fd: in: a descriptor naming the underlay's network namespace
 *	(open("/run/netns/NAME") or "/proc/PID/ns/net"); -1: the caller's
 * @underlay_ipv4: in: the host's underlay address, network byte order,
 *	configured in that namespace (the socket binds to it)
 * @flags: in: zero
 * @host: out: the host's number, 1 to NITRO_HOSTS_MAX
 * @reserved: zero
 */
struct nitro_host_create {
	__u32 size;
	__s32 netns_fd;
	__u32 underlay_ipv4;
	__u32 flags;
	__u32 host;
	__u32 reserved;
};

/**
 * struct nitro_host_info - argument of NITRO_IOC_HOST_DESCRIBE (delete
 * reads only @size and @host)
 * @size: see the conventions at the top
 * @host: in: the host's number
 * @underlay_ipv4: out: its underlay address
 * @enis: out: ENIs made on it
 * @maps: out: entries in its mapping table
 * @peers: out: peer hosts it holds a key for
 * @tx_sealed: out: packets sealed to Nitro peers
 * @rx_sealed: out: sealed packets that opened and were delivered
 * @tx_plain: out: plain Geneve packets to non-Nitro peers
 * @rx_plain: out: plain Geneve packets from non-Nitro peers, delivered
 * @rx_bad_auth: out: sealed packets that did not authenticate (altered,
 *	or sealed under another key), dropped
 * @rx_replay: out: sealed packets already seen or too old, dropped
 * @rx_no_key: out: sealed packets from a peer or epoch with no key, dropped
 * @rx_not_allowed: out: packets from an underlay source the table does
 *	not allow in that form (plain from a Nitro or unknown host, or an
 *	inner source mapped elsewhere), dropped
 * @rx_malformed: out: packets not in either format, dropped
 * @tx_no_key: out: frames to a Nitro peer with no key, dropped
 * @tx_errors: out: frames that could not be sent (no route, no memory, or
 *	the host's transmit queue full: 1024 waiting to be sealed)
 * @rx_backlog: out: (v1) datagrams dropped because the host's receive
 *	queue was full (more than 1024 waiting to be opened)
 */
struct nitro_host_info {
	__u32 size;
	__u32 host;
	__u32 underlay_ipv4;
	__u32 enis;
	__u32 maps;
	__u32 peers;
	__u64 tx_sealed;
	__u64 rx_sealed;
	__u64 tx_plain;
	__u64 rx_plain;
	__u64 rx_bad_auth;
	__u64 rx_replay;
	__u64 rx_no_key;
	__u64 rx_not_allowed;
	__u64 rx_malformed;
	__u64 tx_no_key;
	__u64 tx_errors;
	__u64 rx_backlog;
};

/* nitro_map.flags: the peer host is a Nitro host: frames to it are sealed. */
#define NITRO_MAP_NITRO (1U << 0)

/**
 * struct nitro_map - argument of NITRO_IOC_MAP_SET and NITRO_IOC_MAP_DELETE:
 * one entry of a host's mapping table, (VPC, inner address) -> the host that
 * holds it. ENIs on the host itself need no entry.
 * @size: see the conventions at the top
 * @host: in: the host whose table is programmed
 * @vpc: in: VPC id, 1 to NITRO_VPC_MAX
 * @ipv4: in: inner IPv4 address, network byte order (the key: set replaces
 *	the entry with the same @vpc and @ipv4; delete reads only @host,
 *	@vpc and @ipv4, the rest must be zero)
 * @mac: in: inner MAC address, unicast, unique in the VPC's table
 * @pad: zero
 * @underlay_ipv4: in: the peer host's underlay address, not the host's own
 * @flags: in: NITRO_MAP_NITRO, or zero for a non-Nitro peer (plain Geneve)
 */
struct nitro_map {
	__u32 size;
	__u32 host;
	__u32 vpc;
	__u32 ipv4;
	__u8 mac[6];
	__u8 pad[2];
	__u32 underlay_ipv4;
	__u32 flags;
};

/* NITRO_IOC_MAP_BATCH deletes its entries instead of setting them. */
#define NITRO_MAP_BATCH_DELETE (1 << 0)

/**
 * struct nitro_map_batch - argument of NITRO_IOC_MAP_BATCH: sets (or, with
 * NITRO_MAP_BATCH_DELETE, deletes) many entries of one host's table in one
 * call, one audit record for all of them, as a control plane programs a
 * table. Entries apply in order, each as NITRO_IOC_MAP_SET (or _DELETE)
 * would; the first that fails stops the batch, its errno is the call's and
 * @done says how many applied before it.
 * @size: see the conventions at the top
 * @host: in: the host whose table is programmed
 * @entries: in: user pointer to @count struct nitro_map, each with @size
 *	NITRO_MAP_SIZE_VER0 and @host this @host
 * @count: in: how many, 1 to NITRO_MAP_BATCH_MAX
 * @flags: in: NITRO_MAP_BATCH_DELETE, or zero
 * @done: out: how many entries applied (all of them on success)
 * @reserved: zero
 */
struct nitro_map_batch {
	__u32 size;
	__u32 host;
	__u64 entries;
	__u32 count;
	__u32 flags;
	__u32 done;
	__u32 reserved;
};

/**
 * struct nitro_map_list - argument of NITRO_IOC_MAP_LIST: pages through one
 * host's mapping table, as struct nitro_list does through objects. The
 * order is the table's own (by a keyed hash of VPC and address, stable
 * while the table grows); the cursor is an opaque position in it.
 * @size: see the conventions at the top
 * @host: in: the host
 * @cursor: in: list from this position on (0: from the start); out: the
 *	position the next page starts at (with @more 1), to pass back
 * @entries: in: user pointer to room for @cap struct nitro_map
 * @cap: in: how many entries fit, at most NITRO_LIST_MAX per call
 * @count: out: how many were written
 * @more: out: 1 if entries remain after the last one written, else 0
 * @entry_size: in: sizeof(struct nitro_map) for the caller (0: the
 *	kernel's); entries are written at that stride
 */
struct nitro_map_list {
	__u32 size;
	__u32 host;
	__u64 cursor;
	__u64 entries;
	__u32 cap;
	__u32 count;
	__u32 more;
	__u32 entry_size;
};

#define NITRO_PEER_KEY_LEN 32

/**
 * struct nitro_peer_key - argument of NITRO_IOC_PEER_KEY: installs the
 * AES-256-GCM key one host shares with one peer host. Both hosts get the
 * same key and epoch. The newest key seals from then on; the one before it
 * still opens what was in flight (rotation drops nothing). No interface
 * ever returns a key.
 * @size: see the conventions at the top
 * @host: in: the host
 * @peer_ipv4: in: the peer host's underlay address
 * @epoch: in: the key's epoch, above the pair's current one (else ESTALE)
 * @key: in: the key, not all zero
 */
struct nitro_peer_key {
	__u32 size;
	__u32 host;
	__u32 peer_ipv4;
	__u32 epoch;
	__u8 key[NITRO_PEER_KEY_LEN];
};

/* An allowance of no limit (struct nitro_eni_allowance). */
#define NITRO_ALLOWANCE_NONE (~0ULL)
/* Bounds of a bandwidth allowance, bits per second (EINVAL outside). */
#define NITRO_ALLOWANCE_BPS_MIN 1000ULL
#define NITRO_ALLOWANCE_BPS_MAX 400000000000ULL
/* Bounds of a packet-rate allowance, packets per second. */
#define NITRO_ALLOWANCE_PPS_MIN 1ULL
#define NITRO_ALLOWANCE_PPS_MAX 1000000000ULL

/**
 * struct nitro_eni_allowance - argument of NITRO_IOC_ENI_ALLOWANCE (input
 * only): sets the traffic allowances the VPC card enforces on an ENI, as
 * token buckets; what goes over one is dropped and counted (ethtool -S and
 * NITRO_IOC_METRICS: bw_in_allowance_exceeded, bw_out_allowance_exceeded,
 * pps_allowance_exceeded). Each value is 0 (the instance type's while the
 * ENI is attached to an instance, else no limit), NITRO_ALLOWANCE_NONE (no
 * limit), or within the bounds above. Applies at once when the ENI is
 * attached, else from its next attach; EBUSY while it is being attached,
 * detached or deleted.
 * @size: see the conventions at the top
 * @reserved: zero
 * @id: in: the ENI
 * @bw_in_bps: in: bits per second delivered to the ENI (frames counted
 *	whole, Ethernet header included; a TCP super-packet counts its bytes)
 * @bw_out_bps: in: bits per second sent by the ENI, the same way
 * @pps: in: packets per second, both ways together (a TCP super-packet
 *	counts as the segments it carries)
 */
struct nitro_eni_allowance {
	__u32 size;
	__u32 reserved;
	__u64 id;
	__u64 bw_in_bps;
	__u64 bw_out_bps;
	__u64 pps;
};

/*
 * Security groups: stateful filters the VPC card applies to an ENI's
 * traffic, as EC2's do. A group belongs to one VPC and holds rules; an ENI
 * has up to NITRO_ENI_GROUPS_MAX groups of its VPC. An ENI with no group is
 * not filtered. One with groups passes a frame that a rule of one of its
 * groups allows (any rule of any group: rules only allow) or that belongs
 * to a tracked connection: a flow allowed either way is tracked (per ENI,
 * at most NITRO_CONNTRACK_MAX at once), so its return traffic passes too.
 * Everything else is dropped: inbound is denied unless a rule allows it,
 * and a new group allows all outbound (one egress rule, as EC2's default),
 * which its rules can replace. A change applies to new flows at once;
 * tracked ones go on until idle. ARP is never filtered.
 */

/* Most groups the controller holds, and most per ENI. */
#define NITRO_SGS_MAX 1024
#define NITRO_ENI_GROUPS_MAX 5
/* Most rules per group (both directions together). */
#define NITRO_SG_RULES_MAX 120
/*
 * Most peer addresses an ENI's rules may name once peer groups are
 * expanded (each ENI of a peer group is one address): ENOSPC past it.
 */
#define NITRO_SG_PEERS_MAX 1024
/* Tracked connections per filtered ENI. */
#define NITRO_CONNTRACK_MAX 4096

/* struct nitro_sg_rule.dir */
#define NITRO_SG_INGRESS 0
#define NITRO_SG_EGRESS 1
/* struct nitro_sg_rule.proto: every protocol; else IPPROTO_ICMP, _TCP or _UDP. */
#define NITRO_SG_PROTO_ALL 0

/**
 * struct nitro_sg_rule - one rule of a security group: what it allows
 * @dir: NITRO_SG_INGRESS (to the ENI) or NITRO_SG_EGRESS (from it)
 * @proto: NITRO_SG_PROTO_ALL, IPPROTO_ICMP (1), IPPROTO_TCP (6) or
 *	IPPROTO_UDP (17)
 * @prefix_len: the peer's prefix length with @cidr, 0 to 32; 0 with
 *	@peer_group
 * @pad: zero
 * @port_min: TCP and UDP: the lowest destination port allowed; ICMP: the
 *	lowest type; all protocols: 0
 * @port_max: the highest, at least @port_min (ICMP: at most 255; all
 *	protocols: 0)
 * @cidr: the peer network, network byte order, no bits set past
 *	@prefix_len (0.0.0.0 with @prefix_len 0: anywhere); 0 with @peer_group
 * @reserved: zero
 * @peer_group: a group of the same VPC: the peers are the addresses of the
 *	ENIs that have it (at the time the card applies the rules, kept up to
 *	date as ENIs join and leave it); 0: @cidr is the peer
 */
struct nitro_sg_rule {
	__u8 dir;
	__u8 proto;
	__u8 prefix_len;
	__u8 pad;
	__u16 port_min;
	__u16 port_max;
	__u32 cidr;
	__u32 reserved;
	__u64 peer_group;
};

/**
 * struct nitro_sg_create - argument of NITRO_IOC_SG_CREATE: a new group in
 * a VPC, with one rule: egress, all protocols, anywhere
 * @size: see the conventions at the top
 * @vpc: in: VPC id, 1 to NITRO_VPC_MAX
 * @id: out: the group's id (in: zero)
 * @flags: zero
 * @reserved: zero
 */
struct nitro_sg_create {
	__u32 size;
	__u32 vpc;
	__u64 id;
	__u32 flags;
	__u32 reserved;
};

/* nitro_sg_rules.flags: read the rules instead of setting them. */
#define NITRO_SG_RULES_GET (1U << 0)

/**
 * struct nitro_sg_rules - argument of NITRO_IOC_SG_RULES: sets all the
 * rules of a group at once (replacing them), or with NITRO_SG_RULES_GET
 * reads them. A set is checked whole before it applies (EINVAL for a bad
 * rule, ENOENT for a peer group that does not exist, EINVAL for one of
 * another VPC), and is pushed to the card of every attached ENI concerned
 * before the call returns (ENOSPC if an ENI would name more than
 * NITRO_SG_PEERS_MAX peers: nothing changes).
 * @size: see the conventions at the top
 * @flags: in: NITRO_SG_RULES_GET, or zero
 * @id: in: the group
 * @rules: in: user pointer to @count struct nitro_sg_rule (get: to room
 *	for @count)
 * @count: in: set: how many rules, 0 to NITRO_SG_RULES_MAX; get: how many
 *	fit. out (get): how many the group has (only those that fit are
 *	written)
 * @rule_size: in: sizeof(struct nitro_sg_rule) for the caller (0: the
 *	kernel's); rules are read and written at that stride
 * @vpc: out (get): the group's VPC
 * @enis: out (get): how many ENIs have the group
 */
struct nitro_sg_rules {
	__u32 size;
	__u32 flags;
	__u64 id;
	__u64 rules;
	__u32 count;
	__u32 rule_size;
	__u32 vpc;
	__u32 enis;
};

/**
 * struct nitro_sg_info - one group, in NITRO_IOC_SG_LIST (struct nitro_list,
 * in id order)
 * @id: the group
 * @vpc: its VPC
 * @rules: how many rules it has
 * @enis: how many ENIs have it
 * @reserved: zero
 */
struct nitro_sg_info {
	__u64 id;
	__u32 vpc;
	__u32 rules;
	__u32 enis;
	__u32 reserved;
};

/* nitro_eni_groups.flags: read the ENI's groups instead of setting them. */
#define NITRO_ENI_GROUPS_GET (1U << 0)

/**
 * struct nitro_eni_groups - argument of NITRO_IOC_ENI_GROUPS: sets (or with
 * NITRO_ENI_GROUPS_GET reads) the security groups of an ENI, all of its
 * VPC, no group twice. Applies at once when the ENI is attached (its card
 * has the new rules when the call returns), else from its next attach; an
 * ENI attached with groups passes nothing until its card has their rules.
 * EBUSY while the ENI is being attached, detached or deleted.
 * @size: see the conventions at the top
 * @flags: in: NITRO_ENI_GROUPS_GET, or zero
 * @id: in: the ENI
 * @count: in (set) or out (get): how many groups, 0 (not filtered) to
 *	NITRO_ENI_GROUPS_MAX
 * @reserved: zero
 * @groups: in (set) or out (get): the groups, @count of them, the rest zero
 */
struct nitro_eni_groups {
	__u32 size;
	__u32 flags;
	__u64 id;
	__u32 count;
	__u32 reserved;
	__u64 groups[NITRO_ENI_GROUPS_MAX];
};

/**
 * struct nitro_list - argument of the list commands (volumes, ENIs, audit)
 * @size: see the conventions at the top
 * @entry_size: in: sizeof() of one entry for the caller (0: the kernel's);
 *	entries are written at that stride, larger ones zero-padded
 * @cursor: in: list what comes after this key (0: from the start); out: the
 *	key of the last entry written, to pass back for the next page. Keys are
 *	ids for objects (listed in id order) and sequence numbers for the audit
 *	log.
 * @entries: in: user pointer to room for @cap entries (0 only with @cap 0)
 * @cap: in: how many entries fit, at most 4096 per call
 * @count: out: how many were written
 * @more: out: 1 if entries remain after the last one written, else 0
 * @reserved: zero
 */
struct nitro_list {
	__u32 size;
	__u32 entry_size;
	__u64 cursor;
	__u64 entries;
	__u32 cap;
	__u32 count;
	__u32 more;
	__u32 reserved;
};

/* Most entries one list call returns. */
#define NITRO_LIST_MAX 4096

/* Latency histogram bins of a volume's metrics. */
#define NITRO_HIST_BINS 28

enum nitro_metrics_scope {
	/* @id is a volume id. */
	NITRO_METRICS_VOLUME = 1,
	/* @id is an ENI id. */
	NITRO_METRICS_ENI = 2,
	/* @id is a card's position in NITRO_IOC_STATUS order, from 0. */
	NITRO_METRICS_CARD = 3,
	/* @id is an instance id (v2 fields). */
	NITRO_METRICS_INSTANCE = 4,
};

/**
 * struct nitro_metrics - argument of NITRO_IOC_METRICS (pull only: the
 * controller asks the card when called, and never otherwise)
 * @size: see the conventions at the top
 * @scope: in: enum nitro_metrics_scope
 * @id: in: what to report on
 * @read_ops: out: block reads completed
 * @read_bytes: out: bytes read
 * @read_ns: out: total time spent in reads, ns
 * @write_ops: out: block writes completed
 * @write_bytes: out: bytes written
 * @write_ns: out: total time spent in writes, ns
 * @rx_packets: out: packets received by the guest side
 * @rx_bytes: out: bytes received
 * @tx_packets: out: packets sent by the guest side
 * @tx_bytes: out: bytes sent
 * @drops: out: packets dropped (no mapping, spoofed, over allowance, ...)
 * @requests: out: card scope: bus requests sent to the card
 * @failures: out: card scope: of those, refused
 * @objects: out: card scope: objects the card holds
 * @reserved: zero
 * @queue_depth: out: volume: requests being processed now
 * @read_hist: out: volume: reads by latency, bin 0: under 1 us, bin i:
 *	[2^(i-1), 2^i) us, the last bin open-ended (the 0xD0 log page's bins)
 * @write_hist: out: volume: writes, the same way
 * @cpu_usec: out: (v2) instance: CPU time of its processes since it last
 *	started (its cgroup's cpu.stat usage_usec)
 * @memory_current: out: (v2) instance: memory they use now, bytes
 * @memory_peak: out: (v2) instance: the most they used since it started
 * @uptime_ns: out: (v2) instance: time since it reached running (0 unless
 *	running)
 * @state: out: (v2) instance: enum nitro_instance_state
 * @volumes: out: (v2) instance: volumes attached to it
 * @enis: out: (v2) instance: ENIs attached to it
 * @reserved2: zero
 * @bw_in_allowance_exceeded: out: (v3) ENI: packets to it dropped over its
 *	bandwidth allowance in (struct nitro_eni_allowance)
 * @bw_out_allowance_exceeded: out: (v3) ENI: packets from it, the same
 * @pps_allowance_exceeded: out: (v3) ENI: packets either way dropped over
 *	its packet-rate allowance
 * @conntrack_allowance_exceeded: out: (v4) ENI: packets of new flows
 *	dropped because its connection table was full (NITRO_CONNTRACK_MAX)
 * @conntrack_allowance_available: out: (v4) ENI: connections it can still
 *	track (NITRO_CONNTRACK_MAX less those tracked; 0 if not filtered)
 * @sg_denied_in: out: (v4) ENI: packets to it its security groups denied
 * @sg_denied_out: out: (v4) ENI: packets from it they denied
 */
struct nitro_metrics {
	__u32 size;
	__u32 scope;
	__u64 id;
	__u64 read_ops;
	__u64 read_bytes;
	__u64 read_ns;
	__u64 write_ops;
	__u64 write_bytes;
	__u64 write_ns;
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 tx_packets;
	__u64 tx_bytes;
	__u64 drops;
	__u64 requests;
	__u64 failures;
	__u32 objects;
	__u32 reserved;
	__u64 queue_depth;
	__u64 read_hist[NITRO_HIST_BINS];
	__u64 write_hist[NITRO_HIST_BINS];
	__u64 cpu_usec;
	__u64 memory_current;
	__u64 memory_peak;
	__u64 uptime_ns;
	__u32 state;
	__u32 volumes;
	__u32 enis;
	__u32 reserved2;
	__u64 bw_in_allowance_exceeded;
	__u64 bw_out_allowance_exceeded;
	__u64 pps_allowance_exceeded;
	__u64 conntrack_allowance_exceeded;
	__u64 conntrack_allowance_available;
	__u64 sg_denied_in;
	__u64 sg_denied_out;
};

/**
 * struct nitro_audit_entry - one control operation, in NITRO_IOC_AUDIT
 * @seq: sequence number, from 1, never reused while the module is loaded
 * @time_ns: CLOCK_REALTIME when it completed, ns
 * @uid: caller's uid (in the initial user namespace)
 * @op: the ioctl's command number (_IOC_NR), e.g. 0x10 for volume create
 * @result: 0, or the negative errno the caller got
 * @reserved: zero
 * @id: the object concerned (0 if none, e.g. a create that failed)
 */
struct nitro_audit_entry {
	__u64 seq;
	__u64 time_ns;
	__u32 uid;
	__u32 op;
	__s32 result;
	__u32 reserved;
	__u64 id;
};

/*
 * Firmware measurement (the security chip, nitro_sec). Each component of
 * the host's firmware is hashed into an append-only log and extended into
 * one of NITRO_FW_REGISTERS registers: new = H(old || digest), from zero.
 * Register 0: the BIOS ROM; 1: the ACPI tables; 2: the SMBIOS tables.
 */
#define NITRO_HASH_SHA384 1
#define NITRO_SHA384_LEN 48
#define NITRO_DIGEST_MAX 64
#define NITRO_FW_REGISTERS 3
/* Most entries an allowlist holds. */
#define NITRO_ALLOW_MAX 256

/**
 * struct nitro_measurement - one entry of the measurement log, as
 * NITRO_IOC_FIRMWARE_LOG lists them (list cursor: @index + 1)
 * @index: position in the log, from 0
 * @alg: NITRO_HASH_SHA384
 * @size_bytes: bytes measured
 * @component: what was measured: "bios-rom", "acpi/<table>" (named as in
 *	/sys/firmware/acpi/tables), "smbios/smbios_entry_point", "smbios/DMI"
 *	(as in /sys/firmware/dmi/tables)
 * @reg: the register it was extended into
 * @digest_len: 48
 * @digest: the digest, zero-padded
 */
struct nitro_measurement {
	__u32 index;
	__u32 alg;
	__u64 size_bytes;
	char component[NITRO_TAG_LEN];
	__u32 reg;
	__u32 digest_len;
	__u8 digest[NITRO_DIGEST_MAX];
};

/**
 * struct nitro_firmware_status - argument of NITRO_IOC_FIRMWARE_STATUS
 * @size: see the conventions at the top
 * @gate: out: enum nitro_gate_state
 * @measurements: out: entries in the measurement log (0 without a chip)
 * @allowlist: out: entries in the allowlist
 * @write_attempts: out: firmware writes refused since the chip registered
 *	(NITRO_IOC_FIRMWARE_UPDATE and writes to the firmware store /dev/nitro_fw)
 * @failed: out: when quarantined, the first component that did not match
 * @alg: out: NITRO_HASH_SHA384
 * @nregs: out: NITRO_FW_REGISTERS
 * @regs: out: the extend registers (48 bytes used each)
 */
struct nitro_firmware_status {
	__u32 size;
	__u32 gate;
	__u32 measurements;
	__u32 allowlist;
	__u64 write_attempts;
	char failed[NITRO_TAG_LEN];
	__u32 alg;
	__u32 nregs;
	__u8 regs[NITRO_FW_REGISTERS][NITRO_DIGEST_MAX];
};

/**
 * struct nitro_allow_entry - one known-good digest
 * @alg: NITRO_HASH_SHA384 (anything else: EINVAL)
 * @digest_len: 48 (anything else: EINVAL)
 * @component: the component it vouches for (unique in the list: EEXIST)
 * @digest: the digest, zero-padded
 */
struct nitro_allow_entry {
	__u32 alg;
	__u32 digest_len;
	char component[NITRO_TAG_LEN];
	__u8 digest[NITRO_DIGEST_MAX];
};

/**
 * struct nitro_firmware_allow - argument of NITRO_IOC_FIRMWARE_ALLOW: sets
 * the allowlist and verifies the current measurements against it
 * @size: see the conventions at the top
 * @count: in: entries, 0 to NITRO_ALLOW_MAX (0: an empty list)
 * @entries: in: user pointer to @count entries of @entry_size bytes
 * @entry_size: in: sizeof(struct nitro_allow_entry) of the caller (0: the
 *	kernel's); bytes past the kernel's must be zero
 * @gate: out: the gate after verification: open, or quarantined
 * @failed: out: when quarantined, the first component that did not match
 */
struct nitro_firmware_allow {
	__u32 size;
	__u32 count;
	__u64 entries;
	__u32 entry_size;
	__u32 gate;
	char failed[NITRO_TAG_LEN];
};

/**
 * struct nitro_firmware_update - argument of NITRO_IOC_FIRMWARE_UPDATE, a
 * request to write firmware. The security chip denies every one: EPERM,
 * counted and written to the audit log. Nothing is ever written.
 * @size: see the conventions at the top
 * @reserved: zero
 * @component: what the caller wanted to write
 * @data: user pointer to the image (never read)
 * @len: its length
 */
struct nitro_firmware_update {
	__u32 size;
	__u32 reserved;
	char component[NITRO_TAG_LEN];
	__u64 data;
	__u64 len;
};

/*
 * Instances (Documentation/instances.rst). An instance is an isolated
 * execution domain on one VPC card host, run by that host's hypervisor
 * (tools/nitro-hv), which only takes commands from the controller.
 */

/* Instance states: EC2's names and codes. */
enum nitro_instance_state {
	NITRO_INSTANCE_PENDING = 0,
	NITRO_INSTANCE_RUNNING = 16,
	NITRO_INSTANCE_SHUTTING_DOWN = 32,
	NITRO_INSTANCE_TERMINATED = 48,
	NITRO_INSTANCE_STOPPING = 64,
	NITRO_INSTANCE_STOPPED = 80,
};

/* Why an instance is in its state (nitro_instance_info.reason). */
enum nitro_instance_reason {
	/* Asked for by the user (or none yet). */
	NITRO_REASON_USER = 0,
	/* The hypervisor could not start it (@error says why). */
	NITRO_REASON_LAUNCH_FAILED = 1,
	/* Its init exited: it shut itself down (EC2: stop on shutdown). */
	NITRO_REASON_INSTANCE_SHUTDOWN = 2,
	/* Its hypervisor went away while it ran. */
	NITRO_REASON_HYPERVISOR_LOST = 3,
};

/* Longest launch command (argv, NUL-separated), and most arguments. */
#define NITRO_COMMAND_MAX 4096
#define NITRO_COMMAND_ARGS_MAX 64
/* Terminated instances the controller keeps listable (the oldest goes first). */
#define NITRO_TERMINATED_KEPT 64
/* Most instances on the host (ENOSPC past it), terminated ones not counted. */
#define NITRO_INSTANCES_MAX 256

/* nitro_instance_create.flags: start it at once (run = create + start). */
#define NITRO_INSTANCE_START (1U << 0)

/**
 * struct nitro_instance_create - argument of NITRO_IOC_INSTANCE_CREATE
 * @size: see the conventions at the top
 * @flags: in: NITRO_INSTANCE_START or 0 (created stopped)
 * @type: in: the instance type's name (NITRO_IOC_INSTANCE_TYPES)
 * @name: in: optional name, unique among live instances (EEXIST)
 * @host: in: the VPC card host it runs on (ENODEV if there is none)
 * @reserved: zero
 * @id: out: the new instance's id
 * @command: in: user pointer to the launch command: argv, each argument
 *	NUL-terminated, @command_len bytes in all (the last byte a NUL)
 * @command_len: in: 2 to NITRO_COMMAND_MAX
 * @pad: zero
 */
struct nitro_instance_create {
	__u32 size;
	__u32 flags;
	char type[NITRO_TAG_LEN];
	char name[NITRO_TAG_LEN];
	__u32 host;
	__u32 reserved;
	__u64 id;
	__u64 command;
	__u32 command_len;
	__u32 pad;
};

/* nitro_instance_op.flags of NITRO_IOC_INSTANCE_STOP: no grace period. */
#define NITRO_STOP_FORCE (1U << 0)

/**
 * struct nitro_instance_op - argument of NITRO_IOC_INSTANCE_START, _STOP and
 * _TERMINATE
 * @size: see the conventions at the top
 * @flags: in: stop: NITRO_STOP_FORCE or 0; others: 0
 * @id: in: the instance
 * @state: out: its state once the request is taken (pending, stopping,
 *	shutting-down; or the state it already was in, for a no-op)
 * @reserved: zero
 */
struct nitro_instance_op {
	__u32 size;
	__u32 flags;
	__u64 id;
	__u32 state;
	__u32 reserved;
};

/**
 * struct nitro_instance_wait - argument of NITRO_IOC_INSTANCE_WAIT: blocks
 * until the instance is in one of the states of @states (bit
 * NITRO_STATE_BIT(state)), @timeout_ms passes (ETIMEDOUT), or a signal
 * comes (EINTR)
 * @size: see the conventions at the top
 * @states: in: the states waited for, as bits
 * @id: in: the instance
 * @timeout_ms: in: at most this long (0: no limit)
 * @state: out: the state it is in
 */
#define NITRO_STATE_BIT(state) (1U << ((state) / 16))
struct nitro_instance_wait {
	__u32 size;
	__u32 states;
	__u64 id;
	__u32 timeout_ms;
	__u32 state;
};

/**
 * struct nitro_instance_info - an instance, as describe and list report it
 * @id: its id
 * @state: enum nitro_instance_state
 * @reason: enum nitro_instance_reason of the last transition
 * @type: its instance type
 * @name: name given at create
 * @host: the VPC card host it runs on
 * @error: errno of the hypervisor's last failed command for it (0: none)
 * @vcpus: the type's vCPUs
 * @volumes: volumes attached to it
 * @enis: ENIs attached to it
 * @pid: while running: its init's pid in the initial PID namespace
 * @memory_bytes: the type's memory
 * @launch_time_ns: CLOCK_REALTIME of the last start (0: never started)
 * @state_time_ns: CLOCK_REALTIME of the last transition
 * @uptime_ns: while running: time since it reached running
 * @cpu_usec: CPU time of its processes since the last start (its cgroup's
 *	cpu.stat usage_usec), read when asked
 * @memory_current: memory its processes use now (its cgroup's
 *	memory.current), bytes
 * @memory_peak: the most they used since the last start, bytes
 */
struct nitro_instance_info {
	__u64 id;
	__u32 state;
	__u32 reason;
	char type[NITRO_TAG_LEN];
	char name[NITRO_TAG_LEN];
	__u32 host;
	__s32 error;
	__u32 vcpus;
	__u32 volumes;
	__u32 enis;
	__u32 pid;
	__u64 memory_bytes;
	__u64 launch_time_ns;
	__u64 state_time_ns;
	__u64 uptime_ns;
	__u64 cpu_usec;
	__u64 memory_current;
	__u64 memory_peak;
};

/**
 * struct nitro_instance_describe - argument of NITRO_IOC_INSTANCE_DESCRIBE
 * @size: see the conventions at the top
 * @reserved: zero
 * @id: in: the instance
 * @info: out: what it is
 */
struct nitro_instance_describe {
	__u32 size;
	__u32 reserved;
	__u64 id;
	struct nitro_instance_info info;
};

/**
 * struct nitro_instance_type - one instance type, in NITRO_IOC_INSTANCE_TYPES
 * (a list: cursor = position + 1)
 * @name: e.g. "nitro.small"
 * @vcpus: vCPUs (cpu.max: @vcpus periods per period)
 * @pids: most processes (pids.max)
 * @memory_bytes: memory (memory.max; no swap)
 * @max_volumes: most volumes attached at once, instance store included
 * @max_enis: most ENIs attached at once
 * @instance_store_bytes: size of the instance-store volume made with each
 *	instance of the type (0: none), attached as "sdb"
 * @bw_bps: (v1) the bandwidth allowance of its ENIs, each way, bits per
 *	second (struct nitro_eni_allowance)
 * @pps: (v1) the packet-rate allowance of its ENIs
 */
struct nitro_instance_type {
	char name[NITRO_TAG_LEN];
	__u32 vcpus;
	__u32 pids;
	__u64 memory_bytes;
	__u32 max_volumes;
	__u32 max_enis;
	__u64 instance_store_bytes;
	__u64 bw_bps;
	__u64 pps;
};

/**
 * struct nitro_instance_console - argument of NITRO_IOC_INSTANCE_CONSOLE:
 * the instance's output (stdout and stderr of its processes), as its
 * hypervisor keeps it (the last 64 KiB)
 * @size: see the conventions at the top
 * @reserved: zero
 * @id: in: the instance (running or not: the hypervisor keeps the output of
 *	the last run until the instance starts again or terminates)
 * @buf: in: user pointer to @cap bytes
 * @cap: in: room in @buf
 * @len: out: bytes written (the end of the output if it is longer)
 */
struct nitro_instance_console {
	__u32 size;
	__u32 reserved;
	__u64 id;
	__u64 buf;
	__u32 cap;
	__u32 len;
};

/*
 * nitro_attach (v1) for devices of instances: @instance is the instance (0:
 * the host, as v0); for a volume @device is its name in the instance, unique
 * there; for an ENI @index is its device index (eth<index>). @flags:
 */
#define NITRO_ATTACH_DELETE_ON_TERMINATION (1U << 0)

/* The hypervisor's command channel. */

/**
 * struct nitro_hv_register - argument of NITRO_IOC_HV_REGISTER: makes the
 * calling open file the hypervisor of @host (EBUSY if it has one). Closing
 * the file ends it.
 * @size: see the conventions at the top
 * @host: in: the VPC card host
 * @flags: in: zero
 * @reserved: zero
 */
struct nitro_hv_register {
	__u32 size;
	__u32 host;
	__u32 flags;
	__u32 reserved;
};

enum nitro_hv_op {
	/* Start the instance: its type's limits, command line, devices. */
	NITRO_HV_START = 1,
	/* Stop it: SIGTERM to its init, @grace_ms, then kill all. */
	NITRO_HV_STOP = 2,
	/* Make /dev/@device (major:minor, by-id name) in the running instance. */
	NITRO_HV_ATTACH_DISK = 3,
	/* Remove /dev/@device from it. */
	NITRO_HV_DETACH_DISK = 4,
	/* Move host interface @device into it as eth@index, configured. */
	NITRO_HV_ATTACH_NIC = 5,
	/* Move eth@index out of it, back to the host's namespace. */
	NITRO_HV_DETACH_NIC = 6,
	/* Give its console output (into the result's buffer). */
	NITRO_HV_CONSOLE = 7,
};

/**
 * struct nitro_hv_device - a device of an instance, in a hypervisor command
 * @kind: 1 disk, 2 NIC
 * @major: disk: the block device's major number
 * @minor: disk: its minor number
 * @index: NIC: the device index (eth<index>)
 * @device: disk: the name in the instance ("sdf"); NIC: the interface's
 *	name on the host now ("eni3")
 * @by_id: disk: the /dev/disk/by-id link name
 *	("nvme-Amazon_Elastic_Block_Store_vol0123...")
 * @mac: NIC: its MAC
 * @pad: zero
 * @ipv4: NIC: its address, network byte order
 */
struct nitro_hv_device {
	__u32 kind;
	__u32 major;
	__u32 minor;
	__u32 index;
	char device[NITRO_DEVNAME_LEN];
	char by_id[80];
	__u8 mac[6];
	__u8 pad[2];
	__u32 ipv4;
};
#define NITRO_HV_DISK 1
#define NITRO_HV_NIC 2
/* Most devices one command carries. */
#define NITRO_HV_DEVICES_MAX 16

/**
 * struct nitro_hv_command - argument of NITRO_IOC_HV_NEXT: waits for the
 * next command for this hypervisor
 * @size: see the conventions at the top
 * @timeout_ms: in: give up after this long with ETIMEDOUT (0: no limit);
 *	a signal ends the wait with EINTR
 * @exited: in: user pointer to @nexited instance ids whose init exited
 *	since the last call (reports; 0 with @nexited 0)
 * @nexited: in: how many
 * @op: out: enum nitro_hv_op
 * @seq: out: the command's number, for NITRO_IOC_HV_DONE
 * @instance: out: the instance
 * @slot: out: the instance's slot on the host, 0 to NITRO_INSTANCES_MAX - 1
 *	(its uid is derived from it)
 * @vcpus: out: START: the type's vCPUs
 * @pids: out: START: the type's process limit
 * @memory_bytes: out: START: the type's memory
 * @grace_ms: out: STOP: how long the instance has to end by itself
 * @ndevices: out: how many of @devices are filled
 * @devices: in: user pointer to room for NITRO_HV_DEVICES_MAX devices
 *	(struct nitro_hv_device); out: START: its devices; ATTACH_* and
 *	DETACH_*: the one device
 * @args: in: user pointer to NITRO_COMMAND_MAX bytes; out: START: the
 *	launch command (argv, NUL-separated)
 * @args_len: out: START: its length
 * @reserved: zero
 */
struct nitro_hv_command {
	__u32 size;
	__u32 timeout_ms;
	__u64 exited;
	__u32 nexited;
	__u32 op;
	__u64 seq;
	__u64 instance;
	__u32 slot;
	__u32 vcpus;
	__u32 pids;
	__u32 grace_ms;
	__u64 memory_bytes;
	__u32 ndevices;
	__u32 args_len;
	__u64 devices;
	__u64 args;
	__u64 reserved;
};

/**
 * struct nitro_hv_result - argument of NITRO_IOC_HV_DONE: the result of a
 * command
 * @size: see the conventions at the top
 * @error: in: 0, or the positive errno it failed with
 * @seq: in: the command's number
 * @pid: in: START: the instance's init, in the hypervisor's PID namespace
 * @cpu_stat_fd: in: START: a descriptor of the instance cgroup's cpu.stat
 *	(the controller keeps a reference, read for metrics), or -1
 * @memory_fd: in: START: of its memory.current, or -1
 * @memory_peak_fd: in: START: of its memory.peak, or -1
 * @buf: in: CONSOLE: user pointer to the output
 * @len: in: CONSOLE: its length, at most 64 KiB
 * @reserved: zero
 */
struct nitro_hv_result {
	__u32 size;
	__s32 error;
	__u64 seq;
	__u32 pid;
	__s32 cpu_stat_fd;
	__s32 memory_fd;
	__s32 memory_peak_fd;
	__u64 buf;
	__u32 len;
	__u32 reserved;
};
#define NITRO_CONSOLE_MAX 65536

#define NITRO_IOC_VERSION _IOWR(NITRO_IOCTL_TYPE, 0x00, struct nitro_version)
#define NITRO_IOC_STATUS _IOWR(NITRO_IOCTL_TYPE, 0x01, struct nitro_status)
#define NITRO_IOC_VOLUME_CREATE _IOWR(NITRO_IOCTL_TYPE, 0x10, struct nitro_volume_create)
#define NITRO_IOC_VOLUME_DELETE _IOWR(NITRO_IOCTL_TYPE, 0x11, struct nitro_object_ref)
#define NITRO_IOC_VOLUME_ATTACH _IOWR(NITRO_IOCTL_TYPE, 0x12, struct nitro_attach)
#define NITRO_IOC_VOLUME_DETACH _IOWR(NITRO_IOCTL_TYPE, 0x13, struct nitro_object_ref)
#define NITRO_IOC_VOLUME_DESCRIBE _IOWR(NITRO_IOCTL_TYPE, 0x14, struct nitro_volume_describe)
#define NITRO_IOC_VOLUME_LIST _IOWR(NITRO_IOCTL_TYPE, 0x15, struct nitro_list)
#define NITRO_IOC_ENI_CREATE _IOWR(NITRO_IOCTL_TYPE, 0x20, struct nitro_eni_create)
#define NITRO_IOC_ENI_DELETE _IOWR(NITRO_IOCTL_TYPE, 0x21, struct nitro_object_ref)
#define NITRO_IOC_ENI_ATTACH _IOWR(NITRO_IOCTL_TYPE, 0x22, struct nitro_attach)
#define NITRO_IOC_ENI_DETACH _IOWR(NITRO_IOCTL_TYPE, 0x23, struct nitro_object_ref)
#define NITRO_IOC_ENI_DESCRIBE _IOWR(NITRO_IOCTL_TYPE, 0x24, struct nitro_eni_describe)
#define NITRO_IOC_ENI_LIST _IOWR(NITRO_IOCTL_TYPE, 0x25, struct nitro_list)
#define NITRO_IOC_HOST_CREATE _IOWR(NITRO_IOCTL_TYPE, 0x26, struct nitro_host_create)
#define NITRO_IOC_HOST_DELETE _IOWR(NITRO_IOCTL_TYPE, 0x27, struct nitro_host_info)
#define NITRO_IOC_HOST_DESCRIBE _IOWR(NITRO_IOCTL_TYPE, 0x28, struct nitro_host_info)
#define NITRO_IOC_MAP_SET _IOWR(NITRO_IOCTL_TYPE, 0x29, struct nitro_map)
#define NITRO_IOC_MAP_DELETE _IOWR(NITRO_IOCTL_TYPE, 0x2a, struct nitro_map)
#define NITRO_IOC_PEER_KEY _IOWR(NITRO_IOCTL_TYPE, 0x2b, struct nitro_peer_key)
#define NITRO_IOC_ENI_ALLOWANCE _IOWR(NITRO_IOCTL_TYPE, 0x2c, struct nitro_eni_allowance)
#define NITRO_IOC_MAP_BATCH _IOWR(NITRO_IOCTL_TYPE, 0x2d, struct nitro_map_batch)
#define NITRO_IOC_MAP_LIST _IOWR(NITRO_IOCTL_TYPE, 0x2e, struct nitro_map_list)
#define NITRO_IOC_ENI_GROUPS _IOWR(NITRO_IOCTL_TYPE, 0x2f, struct nitro_eni_groups)
#define NITRO_IOC_METRICS _IOWR(NITRO_IOCTL_TYPE, 0x30, struct nitro_metrics)
#define NITRO_IOC_AUDIT _IOWR(NITRO_IOCTL_TYPE, 0x31, struct nitro_list)
#define NITRO_IOC_FIRMWARE_STATUS _IOWR(NITRO_IOCTL_TYPE, 0x40, struct nitro_firmware_status)
#define NITRO_IOC_FIRMWARE_LOG _IOWR(NITRO_IOCTL_TYPE, 0x41, struct nitro_list)
#define NITRO_IOC_FIRMWARE_ALLOW _IOWR(NITRO_IOCTL_TYPE, 0x42, struct nitro_firmware_allow)
#define NITRO_IOC_FIRMWARE_UPDATE _IOWR(NITRO_IOCTL_TYPE, 0x43, struct nitro_firmware_update)
#define NITRO_IOC_INSTANCE_CREATE _IOWR(NITRO_IOCTL_TYPE, 0x50, struct nitro_instance_create)
#define NITRO_IOC_INSTANCE_START _IOWR(NITRO_IOCTL_TYPE, 0x51, struct nitro_instance_op)
#define NITRO_IOC_INSTANCE_STOP _IOWR(NITRO_IOCTL_TYPE, 0x52, struct nitro_instance_op)
#define NITRO_IOC_INSTANCE_TERMINATE _IOWR(NITRO_IOCTL_TYPE, 0x53, struct nitro_instance_op)
#define NITRO_IOC_INSTANCE_DESCRIBE _IOWR(NITRO_IOCTL_TYPE, 0x54, struct nitro_instance_describe)
#define NITRO_IOC_INSTANCE_LIST _IOWR(NITRO_IOCTL_TYPE, 0x55, struct nitro_list)
#define NITRO_IOC_INSTANCE_WAIT _IOWR(NITRO_IOCTL_TYPE, 0x56, struct nitro_instance_wait)
#define NITRO_IOC_INSTANCE_TYPES _IOWR(NITRO_IOCTL_TYPE, 0x57, struct nitro_list)
#define NITRO_IOC_INSTANCE_CONSOLE _IOWR(NITRO_IOCTL_TYPE, 0x58, struct nitro_instance_console)
#define NITRO_IOC_HV_REGISTER _IOWR(NITRO_IOCTL_TYPE, 0x60, struct nitro_hv_register)
#define NITRO_IOC_HV_NEXT _IOWR(NITRO_IOCTL_TYPE, 0x61, struct nitro_hv_command)
#define NITRO_IOC_HV_DONE _IOWR(NITRO_IOCTL_TYPE, 0x62, struct nitro_hv_result)
#define NITRO_IOC_SG_CREATE _IOWR(NITRO_IOCTL_TYPE, 0x70, struct nitro_sg_create)
#define NITRO_IOC_SG_DELETE _IOWR(NITRO_IOCTL_TYPE, 0x71, struct nitro_object_ref)
#define NITRO_IOC_SG_RULES _IOWR(NITRO_IOCTL_TYPE, 0x72, struct nitro_sg_rules)
#define NITRO_IOC_SG_LIST _IOWR(NITRO_IOCTL_TYPE, 0x73, struct nitro_list)

/* First published sizes, the smallest the kernel accepts. */
#define NITRO_VERSION_SIZE_VER0 32
#define NITRO_STATUS_SIZE_VER0 32
#define NITRO_CARD_INFO_SIZE_VER0 64
#define NITRO_VOLUME_CREATE_SIZE_VER0 64
#define NITRO_OBJECT_REF_SIZE_VER0 16
#define NITRO_ATTACH_SIZE_VER0 32
#define NITRO_VOLUME_INFO_SIZE_VER0 112
#define NITRO_VOLUME_DESCRIBE_SIZE_VER0 128
#define NITRO_ENI_CREATE_SIZE_VER0 64
#define NITRO_ENI_INFO_SIZE_VER0 112
#define NITRO_ENI_DESCRIBE_SIZE_VER0 128
#define NITRO_LIST_SIZE_VER0 40
#define NITRO_METRICS_SIZE_VER0 128
#define NITRO_AUDIT_ENTRY_SIZE_VER0 40
#define NITRO_MEASUREMENT_SIZE_VER0 120
#define NITRO_FIRMWARE_STATUS_SIZE_VER0 256
#define NITRO_ALLOW_ENTRY_SIZE_VER0 104
#define NITRO_FIRMWARE_ALLOW_SIZE_VER0 56
#define NITRO_FIRMWARE_UPDATE_SIZE_VER0 56
/* Second sizes (EBS backing and keys; latency histograms). */
#define NITRO_VOLUME_CREATE_SIZE_VER1 176
#define NITRO_METRICS_SIZE_VER1 584
/* Third sizes (VPC card instances). */
#define NITRO_ENI_CREATE_SIZE_VER1 72
#define NITRO_ENI_INFO_SIZE_VER1 120
#define NITRO_ENI_DESCRIBE_SIZE_VER1 136
#define NITRO_HOST_CREATE_SIZE_VER0 24
#define NITRO_HOST_INFO_SIZE_VER0 112
#define NITRO_MAP_SIZE_VER0 32
#define NITRO_PEER_KEY_SIZE_VER0 48
/* Fourth sizes (the VPC card's receive queue). */
#define NITRO_HOST_INFO_SIZE_VER1 120
/* Sizes of the instances' additions. */
#define NITRO_ATTACH_SIZE_VER1 48
#define NITRO_VOLUME_INFO_SIZE_VER1 128
#define NITRO_VOLUME_DESCRIBE_SIZE_VER1 144
#define NITRO_ENI_INFO_SIZE_VER2 136
#define NITRO_ENI_DESCRIBE_SIZE_VER2 152
#define NITRO_METRICS_SIZE_VER2 632
#define NITRO_INSTANCE_CREATE_SIZE_VER0 104
#define NITRO_INSTANCE_OP_SIZE_VER0 24
#define NITRO_INSTANCE_WAIT_SIZE_VER0 24
#define NITRO_INSTANCE_INFO_SIZE_VER0 160
#define NITRO_INSTANCE_DESCRIBE_SIZE_VER0 176
#define NITRO_INSTANCE_TYPE_SIZE_VER0 64
#define NITRO_INSTANCE_CONSOLE_SIZE_VER0 32
#define NITRO_HV_REGISTER_SIZE_VER0 16
#define NITRO_HV_DEVICE_SIZE_VER0 124
#define NITRO_HV_COMMAND_SIZE_VER0 96
#define NITRO_HV_RESULT_SIZE_VER0 48
/* Sizes of the allowances' additions. */
#define NITRO_ENI_ALLOWANCE_SIZE_VER0 40
#define NITRO_ENI_INFO_SIZE_VER3 184
#define NITRO_ENI_DESCRIBE_SIZE_VER3 200
#define NITRO_METRICS_SIZE_VER3 656
#define NITRO_INSTANCE_TYPE_SIZE_VER1 80
/* Sizes of the tables at scale. */
#define NITRO_MAP_BATCH_SIZE_VER0 32
#define NITRO_MAP_LIST_SIZE_VER0 40
/* Sizes of the security groups. */
#define NITRO_SG_RULE_SIZE_VER0 24
#define NITRO_SG_CREATE_SIZE_VER0 24
#define NITRO_SG_RULES_SIZE_VER0 40
#define NITRO_SG_INFO_SIZE_VER0 24
#define NITRO_ENI_GROUPS_SIZE_VER0 64
#define NITRO_METRICS_SIZE_VER4 688

#endif /* _UAPI_LINUX_NITRO_H */
