// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz: random ioctls on /dev/nitro_ctrl and on the NVMe devices of the
 * block cards (controller /dev/nitroN, namespace /dev/nitroNn1).
 *
 *   fuzz [-s SEED] [-n CALLS] [-u] [-d DEV]... [-N NETNS] [-A IPV4] [-b FILE]
 *   fuzz -l    (the hosts and security groups that exist, one "host N" or
 *              "group ID" a line: for fuzz.sh)
 *   fuzz -G ID (deletes security group ID, its rules first: for fuzz.sh)
 *
 * -s: the seed (default: from the clock; printed either way, so that a
 * failing run can be replayed: the same seed makes the same choices, though
 * the kernel's answers, e.g. the random ids it gives, may differ). -n: calls
 * as root (default 20000); a tenth of that again as an unprivileged user with
 * -u. -d: an NVMe device to fuzz (default: every nitro disk in /sys/block
 * and its controller). -N, -A, -b: a network namespace, an underlay address
 * configured in it and a file, used as the values a valid host create or
 * EBS create needs, so that random calls get past validation and make
 * objects.
 *
 * What is called: every command of the ABI header (the table below), with
 * the size encoded in the number kept or changed (the controller ignores it),
 * and unknown numbers (a free number of the type, a known one with another
 * direction, other types, random); arguments are random bytes, or structs
 * generated field by field ("mostly valid": the size a struct version has,
 * values from pools of what is valid, ids the fuzzer made, off-by-one
 * values), sometimes with a few bytes changed after; pointers are good,
 * NULL, unmapped, kernel, non-canonical, read-only, or a struct that runs
 * into a PROT_NONE page. The same for the NVMe passthrough ioctls (random
 * opcodes, namespaces, lengths, data buffers).
 *
 * What must hold: every errno is one the ABI documents for the command
 * (Documentation/abi.rst), an unknown command gets ENOTTY, a bad pointer
 * EFAULT, a success returns 0 and the size the kernel answers is its own;
 * NVMe commands return an NVMe status the card defines or a documented
 * errno; nothing is written past the caller's struct or data length; no
 * call blocks for long (a timer interrupts interruptible waits every call;
 * a watchdog process reports a call still running after HANG_S); the
 * worker process is not killed by a signal. Unprivileged (uid 65534 after
 * the descriptors were opened, then also in a new user namespace): opens
 * are refused, and every ioctl gets EPERM (controller) or EACCES (NVMe:
 * everything but NVME_IOCTL_ID on the disk).
 *
 * What is left out, on purpose, so that the run leaves the test suite a
 * working host: an allowlist that could open or quarantine the boot gate
 * (NITRO_IOC_FIRMWARE_ALLOW gets malformed lists only: its entries always
 * come from a buffer without a valid algorithm, and count 0, an empty list
 * that would quarantine the host, is never sent); our own /dev/nitro_ctrl
 * or NVMe descriptors given to HV_DONE as cgroup files (the controller
 * would hold the file it is called through, a cycle no close undoes); the
 * VFS's and the block layer's own ioctl types (0x00, 0x03, 0x12, 'S', 'T',
 * 'X', 'f', 'p', 0x15, 0x94), which are not the drivers' and some of which
 * change the disk under the test. Objects are bounded (at most OBJ_CAP
 * live of each kind): past that, creates are sent with a bad flag. At the
 * end the fuzzer deletes what it made (instances terminated, volumes and
 * ENIs detached and deleted, security groups emptied of rules and deleted,
 * hosts deleted) and checks that none is left;
 * fuzz.sh then compares what nitroctl lists with what was there before.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/nitro.h>
#include <linux/nvme_ioctl.h>
#include "kselftest.h"

#define DEV "/dev/" NITRO_CTRL_DEVICE
/* A call still running after this long is reported as hung. */
#define HANG_S 20
/* Every call is interrupted by a signal after this long (interruptible waits). */
#define ALARM_MS 300
/* Most live objects of one kind the fuzzer makes. */
#define OBJ_CAP 24
#define MAX_DEVS 8
#define MAX_BAD 24
#define MSG_LEN 480

static long pg;

/* --- random numbers: xorshift64*, one stream per phase --- */

static uint64_t rs;

static uint64_t rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 0x2545f4914f6cdd1dULL;
}

static uint32_t rn(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

static int chance(int pct)
{
	return (int)rn(100) < pct;
}

static void rnd_bytes(void *p, size_t n)
{
	unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)rnd();
}

/* --- the commands --- */

struct nitro_cmd;
typedef void (*gen_fn)(const struct nitro_cmd *c, unsigned char *b);

struct nitro_cmd {
	const char *name;
	unsigned long nr;
	/* Size of the struct's first published version. */
	unsigned int ver0;
	gen_fn gen;
};

/* What the fuzzer made (ids), to use in later calls and to delete at the end. */
enum { K_VOL, K_ENI, K_INST, K_HOST, K_SG, K_NR };
static const char *const kind_name[K_NR] = { "volumes", "ENIs", "instances", "hosts",
					     "security groups" };

struct pool {
	uint64_t id[4096];
	unsigned int n;   /* ever made (kept for the cleanup) */
	unsigned int live;
};
static struct pool pools[K_NR];

static void pool_add(int k, uint64_t id)
{
	struct pool *p = &pools[k];

	for (unsigned int i = 0; i < p->n; i++)
		if (p->id[i] == id)
			return;
	if (p->n < sizeof(p->id) / sizeof(p->id[0]))
		p->id[p->n++] = id;
	p->live++;
}

static void pool_gone(int k, uint64_t id)
{
	for (unsigned int i = 0; i < pools[k].n; i++)
		if (pools[k].id[i] == id && pools[k].live)
			pools[k].live--;
}

/* --- memory: the struct's page pair and guard, data, poison, read-only --- */

static unsigned char *arena;   /* 2 pages RW, then a PROT_NONE page */
static unsigned char *data;    /* DATA_LEN RW, then a PROT_NONE page */
#define DATA_LEN (256 * 1024)
static unsigned char *poison;  /* allowlist entries: no byte below 2 */
#define POISON_LEN (1024 * 1024)
static unsigned char *rdonly;  /* one read-only page */
static uint64_t unmapped;      /* a page mapped once and unmapped */
static int aliased;            /* this call's struct points at itself */

/* Bad user addresses: none of them may be read or written. */
static uint64_t bad_addr(void)
{
	static const uint64_t kernel[] = {
		0xffffffff81000000ULL,	/* kernel text */
		0xffff888000000000ULL,	/* the direct map */
		0xffffffffff600000ULL,	/* vsyscall page */
		0xfffffffffffff000ULL,	/* the last page */
		0xdead000000000000ULL,	/* not canonical */
		0x0000800000000000ULL,	/* just past user space */
		0x00007ffffffff000ULL,	/* top of user space, unmapped */
	};

	switch (rn(4)) {
	case 0:
		return 0;
	case 1:
		return unmapped + rn(pg);
	case 2:
		return rn(4096);	/* the zero page area */
	default:
		return kernel[rn(sizeof(kernel) / sizeof(kernel[0]))];
	}
}

static int is_bad_addr(uint64_t a)
{
	return a < 4096 || (a >= unmapped && a < unmapped + pg) || a >= 0x00007ffffffff000ULL;
}

/* A user pointer put in a struct: mostly to room for len bytes in data. */
static uint64_t uptr(size_t len)
{
	size_t room = len < DATA_LEN ? DATA_LEN - len : 0;

	switch (rn(10)) {
	case 0:
		return bad_addr();
	case 1:	/* runs into the guard page */
		return (uintptr_t)data + DATA_LEN - rn(len + 1);
	case 2:
		return (uintptr_t)rdonly + rn(64);
	case 3:	/* the struct itself: the kernel's writes overlap */
		aliased = 1;
		return (uintptr_t)arena + pg;
	default:
		return (uintptr_t)data + (chance(50) ? 0 : rn(room + 1) & ~7u);
	}
}

/* --- value pools --- */

static int ctrl_fd = -1;
static int netns_fd = -1, backing_fd = -1, null_fd = -1;
static uint32_t underlay;	/* network order */
static char types[8][NITRO_TAG_LEN];
static unsigned int ntypes;
static int own_fds[MAX_DEVS + 2], n_own;

static uint64_t pick_id(int k)
{
	struct pool *p = &pools[k];

	if (p->n && chance(70)) {
		uint64_t id = p->id[rn(p->n)];

		return chance(90) ? id : id ^ (1ULL << rn(64));
	}
	switch (rn(4)) {
	case 0:
		return 0;
	case 1:
		return 1 + rn(20);
	default:
		return rnd();
	}
}

static uint32_t pick_host(void)
{
	if (pools[K_HOST].n && chance(60))
		return (uint32_t)pools[K_HOST].id[rn(pools[K_HOST].n)];
	if (chance(80))
		return rn(NITRO_HOSTS_MAX + 2);
	return (uint32_t)rnd();
}

static uint32_t pick_ipv4(void)
{
	switch (rn(10)) {
	case 0:
		return 0;
	case 1:
		return htonl(0x7f000001);	/* loopback */
	case 2:
		return htonl(0xe0000001);	/* multicast */
	case 3:
		return 0xffffffff;
	case 4:
		return (uint32_t)rnd();
	case 5:
	case 6:
		if (underlay)
			return underlay;
		/* fall through */
	default:	/* few addresses, so that they collide (EEXIST) */
		return htonl(0x0a4d0000 | rn(8));
	}
}

static void pick_mac(__u8 *m)
{
	switch (rn(5)) {
	case 0:
		memset(m, 0, 6);
		break;
	case 1:
		memset(m, 0xff, 6);
		break;
	case 2:
		rnd_bytes(m, 6);
		break;
	default:
		memcpy(m, "\x02\x00\x00\x4d\x00", 5);
		m[5] = (__u8)rn(8);
		if (chance(10))
			m[0] = 0x01;	/* multicast */
	}
}

static uint32_t pick_vpc(void)
{
	static const uint32_t v[] = { 0, NITRO_VPC_MAX, NITRO_VPC_MAX + 1 };

	if (chance(80))
		return 1 + rn(3);
	return chance(70) ? v[rn(3)] : (uint32_t)rnd();
}

static void pick_name(char *n, size_t len)
{
	memset(n, 0, len);
	switch (rn(8)) {
	case 0:
	case 1:
		break;	/* none */
	case 2:
		memset(n, 'a', len);	/* no NUL */
		break;
	case 3:
		memset(n, 'b', len - 1);	/* the longest */
		break;
	case 4:
		strcpy(n, "bad name!");
		break;
	case 5:
		rnd_bytes(n, len);
		break;
	default:
		snprintf(n, len, "fz%u", rn(4));
	}
	if (chance(5))
		n[len - 1 - rn(4)] = 'x';	/* a byte after the NUL */
}

/* An attachment name: a volume's (lowercase, digits), an interface's. */
static void pick_dev(char *d, int eni)
{
	static const char *const names[] = { "sdf", "sdg", "sdh", "xvdk", "eth1", "fz%d", "", "Sdf",
					     "a/b", "lo", "%s%s" };

	memset(d, 0, NITRO_DEVNAME_LEN);
	if (chance(eni ? 50 : 10))
		return;
	if (chance(10))
		rnd_bytes(d, NITRO_DEVNAME_LEN);
	else if (chance(5))
		memset(d, 'q', NITRO_DEVNAME_LEN);
	else
		snprintf(d, NITRO_DEVNAME_LEN, "%s", names[rn(sizeof(names) / sizeof(names[0]))]);
}

static int pick_fd(void)
{
	switch (rn(9)) {
	case 0:
		return -1;
	case 1:
		return 0;
	case 2:
		return netns_fd;
	case 3:
	case 4:
		return backing_fd;
	case 5:
		return null_fd;
	case 6:
		return 1000;	/* not open */
	case 7:
		return n_own ? own_fds[rn(n_own)] : -1;
	default:
		return (int)rnd();
	}
}

/* A struct's size field: its own, its first version's, or a wrong one. */
static uint32_t pick_size(const struct nitro_cmd *c)
{
	uint32_t ks = _IOC_SIZE(c->nr);

	switch (rn(12)) {
	case 0:
		return 0;
	case 1:
		return c->ver0 - 1;
	case 2:
		return c->ver0;
	case 3:
		return ks + 8;	/* a newer caller (tail zero, or not) */
	case 4:
		return 4096;
	case 5:
		return 4097;
	case 6:
		return rn(ks + 16);
	case 7:
		return (uint32_t)rnd();
	default:
		return ks;
	}
}

/* A field that should be zero: mostly is. */
static uint32_t mostly0(void)
{
	return chance(90) ? 0 : (chance(50) ? 1 : (uint32_t)rnd());
}

/* --- the generators, one per argument struct --- */

#define S(type) type *s = (type *)b
#define HDR(type) S(type); s->size = pick_size(c)

static void gen_version(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_version);
	if (chance(10))
		s->max_enis = mostly0();
}

static void gen_status(const struct nitro_cmd *c, unsigned char *b)
{
	static const uint32_t es[] = { 0, 8, NITRO_CARD_INFO_SIZE_VER0 - 1, NITRO_CARD_INFO_SIZE_VER0,
				       sizeof(struct nitro_card_info) + 8, 4096, 4097 };
	HDR(struct nitro_status);
	s->cards_cap = chance(80) ? rn(8) : (uint32_t)rnd();
	s->card_size = chance(80) ? es[rn(sizeof(es) / sizeof(es[0]))] : (uint32_t)rnd();
	s->cards = chance(15) ? 0 : uptr(8 * 128);
	s->gate = mostly0();
}

static int capped(int k)
{
	return pools[k].live >= OBJ_CAP;
}

static void gen_volume_create(const struct nitro_cmd *c, unsigned char *b)
{
	static const uint64_t sizes[] = { 4096, 1 << 20, 16 << 20, 100, 0, 64ULL << 40,
					  (64ULL << 40) + 4096, 513 };
	HDR(struct nitro_volume_create);
	s->kind = chance(85) ? 1 + rn(2) : rn(5);
	s->size_bytes = chance(70) ? (uint64_t)(1 + rn(4096)) * 4096 : sizes[rn(sizeof(sizes) / 8)];
	s->block_size = chance(80) ? (uint32_t[]){ 0, 512, 4096 }[rn(3)] : rn(8193);
	s->flags = capped(K_VOL) ? 0x80000000 : mostly0();
	pick_name(s->name, sizeof(s->name));
	s->id = mostly0();
	if (s->kind == NITRO_VOLUME_EBS || chance(10)) {
		struct nitro_wrapped_key w;

		s->backing_fd = pick_fd();
		rnd_bytes(&w, sizeof(w));
		if (chance(80)) {
			memcpy(w.magic, NITRO_WRAPPED_KEY_MAGIC, 4);
			w.version = NITRO_WRAPPED_KEY_VERSION;
		}
		memcpy(s->wrapped_key, &w, sizeof(w));
		s->size_bytes = chance(80) ? (uint64_t)(1 + rn(16)) << 20 : s->size_bytes;
	}
	s->reserved = mostly0();
	s->pad[0] = (__u8)mostly0();
}

static int cmd_kind(const struct nitro_cmd *c)
{
	return strstr(c->name, "ENI") ? K_ENI : strstr(c->name, "INSTANCE") ? K_INST :
	       strstr(c->name, "_SG_") ? K_SG : K_VOL;
}

static void gen_object_ref(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_object_ref);
	s->reserved = mostly0();
	s->id = pick_id(cmd_kind(c));
}

static void gen_attach(const struct nitro_cmd *c, unsigned char *b)
{
	int eni = cmd_kind(c) == K_ENI;
	HDR(struct nitro_attach);
	s->reserved = mostly0();
	s->id = pick_id(cmd_kind(c));
	pick_dev(s->device, eni);
	if (chance(30)) {
		s->instance = pick_id(K_INST);
		s->index = chance(80) ? rn(4) : (uint32_t)rnd();
		s->flags = chance(50) ? NITRO_ATTACH_DELETE_ON_TERMINATION : mostly0();
		if (eni && chance(70))
			memset(s->device, 0, sizeof(s->device));
	}
}

static void gen_describe(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_volume_describe);	/* the others start the same way */
	s->reserved = mostly0();
	s->id = pick_id(cmd_kind(c));
	if (chance(5))
		b[16 + rn(_IOC_SIZE(c->nr) - 16)] = 1;	/* info set on input */
}

static void gen_list(const struct nitro_cmd *c, unsigned char *b)
{
	static const uint32_t es[] = { 0, 0, 8, 24, 40, 64, 112, 120, 128, 136, 160, 184, 200, 4096,
				       4097 };
	HDR(struct nitro_list);
	s->entry_size = chance(85) ? es[rn(sizeof(es) / sizeof(es[0]))] : (uint32_t)rnd();
	s->cursor = chance(60) ? 0 : chance(50) ? rn(8) : pick_id(cmd_kind(c));
	s->cap = chance(80) ? rn(16) : (uint32_t[]){ 4096, 4097, (uint32_t)rnd() }[rn(3)];
	s->entries = chance(10) ? 0 : uptr(16 * 256);
	s->count = mostly0();
	s->more = mostly0();
	s->reserved = mostly0();
}

static void gen_eni_create(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_eni_create);
	s->vpc = pick_vpc();
	pick_mac(s->mac);
	s->ipv4 = pick_ipv4();
	s->flags = capped(K_ENI) ? 0x80000000 : mostly0();
	pick_name(s->name, sizeof(s->name));
	s->id = mostly0();
	s->host = pick_host();
	s->reserved = mostly0();
}

static void gen_host_create(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_host_create);
	s->netns_fd = chance(50) ? netns_fd : chance(50) ? -1 : pick_fd();
	s->underlay_ipv4 = chance(50) && underlay ? underlay : pick_ipv4();
	s->flags = capped(K_HOST) ? 0x80000000 : mostly0();
	s->host = mostly0();
	s->reserved = mostly0();
}

static void gen_host_info(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_host_info);
	s->host = pick_host();
	if (chance(5))
		s->tx_errors = 1;
}

static void gen_map(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_map);
	s->host = pick_host();
	s->vpc = pick_vpc();
	s->ipv4 = pick_ipv4();
	if (!strstr(c->name, "DELETE") || chance(10)) {
		pick_mac(s->mac);
		s->underlay_ipv4 = pick_ipv4();
		s->flags = chance(80) ? rn(2) : (uint32_t)rnd();
	}
}

/* Entries of a map batch or list: 64 at most are generated. */
#define MAP_ENTRIES 64

static void gen_map_batch(const struct nitro_cmd *c, unsigned char *b)
{
	static const struct nitro_cmd set = { "NITRO_IOC_MAP_SET", NITRO_IOC_MAP_SET,
					      NITRO_MAP_SIZE_VER0, gen_map };
	static const uint32_t odd[] = { 0, NITRO_MAP_BATCH_MAX, NITRO_MAP_BATCH_MAX + 1, 0xffffffff };
	uint32_t n = chance(85) ? 1 + rn(MAP_ENTRIES) : odd[rn(4)];
	size_t room = (n < MAP_ENTRIES ? n : MAP_ENTRIES) * sizeof(struct nitro_map);
	HDR(struct nitro_map_batch);

	s->host = pick_host();
	s->count = n;
	s->flags = chance(85) ? (chance(50) ? NITRO_MAP_BATCH_DELETE : 0) : (uint32_t)rnd();
	s->done = mostly0();
	s->reserved = mostly0();
	s->entries = chance(5) ? 0 : uptr(room);
	/* Where the pointer is into the data area: mostly valid entries of
	 * this host (those past MAP_ENTRIES are what the area holds). */
	if (s->entries >= (uintptr_t)data && s->entries + room <= (uintptr_t)data + DATA_LEN &&
	    chance(80)) {
		unsigned char *e = (unsigned char *)(uintptr_t)s->entries;

		for (size_t i = 0; i < room / sizeof(struct nitro_map); i++) {
			struct nitro_map *m = (struct nitro_map *)(e + i * sizeof(*m));

			gen_map(&set, (unsigned char *)m);
			if (chance(90))
				m->size = sizeof(*m), m->host = s->host;
			if (s->flags == NITRO_MAP_BATCH_DELETE && chance(90))
				memset(m->mac, 0, sizeof(*m) - offsetof(struct nitro_map, mac));
		}
	}
}

static void gen_map_list(const struct nitro_cmd *c, unsigned char *b)
{
	static const uint32_t es[] = { 0, 0, 8, 31, 32, 33, 40, 4096, 4097 };
	HDR(struct nitro_map_list);

	s->host = pick_host();
	s->entry_size = chance(85) ? es[rn(sizeof(es) / sizeof(es[0]))] : (uint32_t)rnd();
	s->cursor = chance(60) ? 0 : rnd();
	s->cap = chance(80) ? rn(16) : (uint32_t[]){ 4096, 4097, (uint32_t)rnd() }[rn(3)];
	s->entries = chance(10) ? 0 : uptr(MAP_ENTRIES * sizeof(struct nitro_map));
	s->count = mostly0();
	s->more = mostly0();
}

static void gen_peer_key(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_peer_key);
	s->host = pick_host();
	s->peer_ipv4 = pick_ipv4();
	s->epoch = chance(80) ? rn(5) : (uint32_t)rnd();
	if (chance(90))
		rnd_bytes(s->key, sizeof(s->key));
}

static uint64_t pick_allowance(int pps)
{
	uint64_t lo = pps ? NITRO_ALLOWANCE_PPS_MIN : NITRO_ALLOWANCE_BPS_MIN;
	uint64_t hi = pps ? NITRO_ALLOWANCE_PPS_MAX : NITRO_ALLOWANCE_BPS_MAX;

	switch (rn(7)) {
	case 0:
		return 0;
	case 1:
		return NITRO_ALLOWANCE_NONE;
	case 2:
		return lo - 1;
	case 3:
		return hi + 1;
	case 4:
		return rnd();
	default:
		return lo + rnd() % (hi - lo + 1);
	}
}

static void gen_allowance(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_eni_allowance);
	s->reserved = mostly0();
	s->id = pick_id(K_ENI);
	s->bw_in_bps = pick_allowance(0);
	s->bw_out_bps = pick_allowance(0);
	s->pps = pick_allowance(1);
}

static void gen_metrics(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_metrics);
	s->scope = chance(90) ? 1 + rn(4) : rn(8);
	switch (s->scope) {
	case NITRO_METRICS_VOLUME:
		s->id = pick_id(K_VOL);
		break;
	case NITRO_METRICS_ENI:
		s->id = pick_id(K_ENI);
		break;
	case NITRO_METRICS_INSTANCE:
		s->id = pick_id(K_INST);
		break;
	default:
		s->id = chance(80) ? rn(6) : rnd();
	}
	if (chance(5))
		s->drops = 1;	/* an output field on input */
}

static void gen_fw_status(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_firmware_status);
	if (chance(5))
		s->regs[rn(NITRO_FW_REGISTERS)][rn(NITRO_DIGEST_MAX)] = 1;
}

static void gen_fw_allow(const struct nitro_cmd *c, unsigned char *b)
{
	static const uint32_t es[] = { 0, NITRO_ALLOW_ENTRY_SIZE_VER0, NITRO_ALLOW_ENTRY_SIZE_VER0 - 1,
				       8, 4096, 4097 };
	HDR(struct nitro_firmware_allow);
	s->count = chance(80) ? rn(NITRO_ALLOW_MAX + 2) : (uint32_t)rnd();
	s->entry_size = chance(90) ? es[rn(sizeof(es) / sizeof(es[0]))] : (uint32_t)rnd();
	s->entries = chance(80) ? (uintptr_t)poison + rn(256) : bad_addr();
	s->gate = mostly0();
}

static void gen_fw_update(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_firmware_update);
	pick_name(s->component, sizeof(s->component));
	s->data = uptr(4096);
	s->len = rnd();
}

static void gen_sg_create(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_sg_create);
	s->vpc = pick_vpc();
	s->id = mostly0();
	s->flags = capped(K_SG) ? 0x80000000 : mostly0();
	s->reserved = mostly0();
}

/* A rule: mostly valid (a known protocol, its ports, a network with no host bits or a group). */
static void gen_rule(struct nitro_sg_rule *r)
{
	static const __u8 protos[] = { NITRO_SG_PROTO_ALL, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP };

	memset(r, 0, sizeof(*r));
	r->dir = chance(95) ? (__u8)rn(2) : (__u8)rnd();
	r->proto = chance(90) ? protos[rn(4)] : (__u8)rnd();
	r->prefix_len = chance(95) ? (__u8)rn(33) : (__u8)(33 + rn(223));
	r->cidr = pick_ipv4();
	if (r->prefix_len <= 32 && chance(90))
		r->cidr &= htonl(r->prefix_len ? ~0u << (32 - r->prefix_len) : 0);
	if (r->proto == IPPROTO_TCP || r->proto == IPPROTO_UDP || chance(10)) {
		r->port_min = chance(50) ? (uint16_t)rn(1024) : (uint16_t)rnd();
		r->port_max = chance(90) ? r->port_min + rn(100) : (uint16_t)rnd();
	} else if (r->proto == IPPROTO_ICMP) {
		r->port_min = (uint16_t)rn(256);
		r->port_max = chance(90) ? 255 : 256;
	}
	if (chance(20)) {
		r->peer_group = pick_id(K_SG);
		if (chance(90))
			r->cidr = 0, r->prefix_len = 0;
	}
	r->pad = (__u8)mostly0();
	r->reserved = mostly0();
}

#define SG_RULES 16

static void gen_sg_rules(const struct nitro_cmd *c, unsigned char *b)
{
	static const uint32_t odd[] = { 0, NITRO_SG_RULES_MAX, NITRO_SG_RULES_MAX + 1, 0xffffffff };
	static const uint32_t strides[] = { 0, 0, sizeof(struct nitro_sg_rule), NITRO_SG_RULE_SIZE_VER0 - 1,
					32, 4096, 4097 };
	HDR(struct nitro_sg_rules);

	s->flags = chance(85) ? (chance(40) ? NITRO_SG_RULES_GET : 0) : (uint32_t)rnd();
	s->id = pick_id(K_SG);
	s->count = chance(85) ? rn(SG_RULES + 1) : odd[rn(4)];
	s->rule_size = chance(85) ? strides[rn(sizeof(strides) / sizeof(strides[0]))] : (uint32_t)rnd();
	s->rules = chance(5) ? 0 : uptr(SG_RULES * 32);
	if (chance(10))
		s->vpc = mostly0();
	if (chance(10))
		s->enis = mostly0();
	/* Rules in the data area, at the stride asked for, mostly valid. */
	if (s->rules >= (uintptr_t)data && chance(80)) {
		uint32_t stride = s->rule_size ? s->rule_size : sizeof(struct nitro_sg_rule);
		uint32_t n = s->count < SG_RULES ? s->count : SG_RULES;

		for (uint32_t i = 0; stride >= sizeof(struct nitro_sg_rule) && stride <= 64 && i < n; i++) {
			uint64_t at = s->rules + (uint64_t)i * stride;

			if (at + stride > (uintptr_t)data + DATA_LEN)
				break;
			gen_rule((struct nitro_sg_rule *)(uintptr_t)at);
			if (stride > sizeof(struct nitro_sg_rule))
				memset((unsigned char *)(uintptr_t)at + sizeof(struct nitro_sg_rule),
				       chance(90) ? 0 : 1, stride - sizeof(struct nitro_sg_rule));
		}
	}
}

static void gen_eni_groups(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_eni_groups);

	s->flags = chance(85) ? (chance(30) ? NITRO_ENI_GROUPS_GET : 0) : (uint32_t)rnd();
	s->id = pick_id(K_ENI);
	s->count = chance(85) ? rn(NITRO_ENI_GROUPS_MAX + 1) : chance(50) ? NITRO_ENI_GROUPS_MAX + 1 :
		   (uint32_t)rnd();
	s->reserved = mostly0();
	for (uint32_t i = 0; i < s->count && i < NITRO_ENI_GROUPS_MAX; i++)
		s->groups[i] = chance(10) && i ? s->groups[i - 1] : pick_id(K_SG);
	if (chance(5))
		s->groups[rn(NITRO_ENI_GROUPS_MAX)] = pick_id(K_SG);	/* past count, maybe */
}

#define ARGV(s) { s, sizeof(s) }
/* Launch commands: argv, each NUL-terminated (the literal's own NUL ends the last); broken ones. */
static uint64_t pick_command(uint32_t *len)
{
	static const struct {
		const char *s;
		size_t len;
	} cmds[] = { ARGV("/bin/true"), ARGV("/bin/sleep\0" "1000"), ARGV("sh\0-c\0exit 0"), ARGV(""),
		     ARGV("a\0\0b") };
	unsigned char *at = data + DATA_LEN - NITRO_COMMAND_MAX - 64;
	unsigned int i = rn(sizeof(cmds) / sizeof(cmds[0]));
	size_t n = cmds[i].len;

	memcpy(at, cmds[i].s, n);
	*len = chance(80) ? (uint32_t)n : (chance(50) ? (uint32_t)n - 1 : rn(NITRO_COMMAND_MAX + 2));
	if (chance(10)) {
		rnd_bytes(at, NITRO_COMMAND_MAX);
		*len = rn(NITRO_COMMAND_MAX + 2);
	}
	return chance(90) ? (uintptr_t)at : uptr(*len);
}

static void gen_inst_create(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_instance_create);
	s->flags = capped(K_INST) ? 0x80000000 : chance(80) ? rn(2) : (uint32_t)rnd();
	if (ntypes && chance(85))
		memcpy(s->type, types[rn(ntypes)], sizeof(s->type));
	else
		pick_name(s->type, sizeof(s->type));
	pick_name(s->name, sizeof(s->name));
	s->host = pick_host();
	s->reserved = mostly0();
	s->id = mostly0();
	s->command = pick_command(&s->command_len);
	s->pad = mostly0();
}

static void gen_inst_op(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_instance_op);
	s->flags = chance(70) ? 0 : chance(70) ? NITRO_STOP_FORCE : (uint32_t)rnd();
	s->id = pick_id(K_INST);
	s->state = mostly0();
	s->reserved = mostly0();
}

/* A wait's timeout: short; rarely none or huge, which the call's timer ends (EINTR). */
static uint32_t pick_timeout(void)
{
	return chance(97) ? 1 + rn(20) : chance(50) ? 0 : (uint32_t)rnd();
}

static void gen_inst_wait(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_instance_wait);
	s->states = chance(80) ? 1 + rn(63) : (uint32_t)rnd();
	s->id = pick_id(K_INST);
	s->timeout_ms = pick_timeout();
	s->state = mostly0();
}

static void gen_inst_console(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_instance_console);
	s->reserved = mostly0();
	s->id = pick_id(K_INST);
	s->cap = chance(70) ? rn(4097) : (uint32_t[]){ 0, NITRO_CONSOLE_MAX, (uint32_t)rnd() }[rn(3)];
	s->buf = chance(10) ? 0 : uptr(s->cap);
	s->len = mostly0();
}

static void gen_hv_register(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_hv_register);
	s->host = pick_host();
	s->flags = mostly0();
	s->reserved = mostly0();
}

static uint64_t last_seq;

static void gen_hv_next(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_hv_command);
	s->timeout_ms = pick_timeout();
	s->nexited = chance(70) ? 0 : chance(80) ? rn(4) : (uint32_t)rnd();
	if (s->nexited) {
		uint64_t *ids = (uint64_t *)(data + 8192);

		for (int i = 0; i < 4; i++)
			ids[i] = pick_id(K_INST);
		s->exited = chance(90) ? (uintptr_t)ids : uptr(8 * s->nexited);
	}
	s->devices = chance(90) ? (uintptr_t)data + 16384 : uptr(NITRO_HV_DEVICES_MAX * 124);
	s->args = chance(90) ? (uintptr_t)data + 65536 : uptr(NITRO_COMMAND_MAX);
	if (chance(5))
		s->seq = 1;	/* an output field on input */
}

/* Our own nitro descriptors never go to the controller as cgroup files. */
static int own_fd(int fd)
{
	for (int i = 0; i < n_own; i++)
		if (own_fds[i] == fd)
			return 1;
	return fd == ctrl_fd;
}

static void gen_hv_done(const struct nitro_cmd *c, unsigned char *b)
{
	HDR(struct nitro_hv_result);
	s->error = chance(60) ? 0 : chance(70) ? (int)rn(140) : (int)rnd();
	s->seq = last_seq && chance(70) ? last_seq : rn(8);
	s->pid = rn(2000);
	s->cpu_stat_fd = chance(50) ? -1 : pick_fd();
	s->memory_fd = chance(50) ? -1 : pick_fd();
	s->memory_peak_fd = chance(50) ? -1 : pick_fd();
	s->len = chance(70) ? 0 : chance(80) ? rn(4097) : (uint32_t)rnd();
	s->buf = s->len || chance(10) ? uptr(s->len) : 0;
	s->reserved = mostly0();
}

#define CMD(c, v, g) { #c, c, v, g }
/* Every command the controller accepts: the ABI header's NITRO_IOC_* macros. */
static const struct nitro_cmd cmds[] = {
	CMD(NITRO_IOC_VERSION, NITRO_VERSION_SIZE_VER0, gen_version),
	CMD(NITRO_IOC_STATUS, NITRO_STATUS_SIZE_VER0, gen_status),
	CMD(NITRO_IOC_VOLUME_CREATE, NITRO_VOLUME_CREATE_SIZE_VER0, gen_volume_create),
	CMD(NITRO_IOC_VOLUME_DELETE, NITRO_OBJECT_REF_SIZE_VER0, gen_object_ref),
	CMD(NITRO_IOC_VOLUME_ATTACH, NITRO_ATTACH_SIZE_VER0, gen_attach),
	CMD(NITRO_IOC_VOLUME_DETACH, NITRO_OBJECT_REF_SIZE_VER0, gen_object_ref),
	CMD(NITRO_IOC_VOLUME_DESCRIBE, NITRO_VOLUME_DESCRIBE_SIZE_VER0, gen_describe),
	CMD(NITRO_IOC_VOLUME_LIST, NITRO_LIST_SIZE_VER0, gen_list),
	CMD(NITRO_IOC_ENI_CREATE, NITRO_ENI_CREATE_SIZE_VER0, gen_eni_create),
	CMD(NITRO_IOC_ENI_DELETE, NITRO_OBJECT_REF_SIZE_VER0, gen_object_ref),
	CMD(NITRO_IOC_ENI_ATTACH, NITRO_ATTACH_SIZE_VER0, gen_attach),
	CMD(NITRO_IOC_ENI_DETACH, NITRO_OBJECT_REF_SIZE_VER0, gen_object_ref),
	CMD(NITRO_IOC_ENI_DESCRIBE, NITRO_ENI_DESCRIBE_SIZE_VER0, gen_describe),
	CMD(NITRO_IOC_ENI_LIST, NITRO_LIST_SIZE_VER0, gen_list),
	CMD(NITRO_IOC_HOST_CREATE, NITRO_HOST_CREATE_SIZE_VER0, gen_host_create),
	CMD(NITRO_IOC_HOST_DELETE, NITRO_HOST_INFO_SIZE_VER0, gen_host_info),
	CMD(NITRO_IOC_HOST_DESCRIBE, NITRO_HOST_INFO_SIZE_VER0, gen_host_info),
	CMD(NITRO_IOC_MAP_SET, NITRO_MAP_SIZE_VER0, gen_map),
	CMD(NITRO_IOC_MAP_DELETE, NITRO_MAP_SIZE_VER0, gen_map),
	CMD(NITRO_IOC_PEER_KEY, NITRO_PEER_KEY_SIZE_VER0, gen_peer_key),
	CMD(NITRO_IOC_ENI_ALLOWANCE, NITRO_ENI_ALLOWANCE_SIZE_VER0, gen_allowance),
	CMD(NITRO_IOC_MAP_BATCH, NITRO_MAP_BATCH_SIZE_VER0, gen_map_batch),
	CMD(NITRO_IOC_MAP_LIST, NITRO_MAP_LIST_SIZE_VER0, gen_map_list),
	CMD(NITRO_IOC_ENI_GROUPS, NITRO_ENI_GROUPS_SIZE_VER0, gen_eni_groups),
	CMD(NITRO_IOC_METRICS, NITRO_METRICS_SIZE_VER0, gen_metrics),
	CMD(NITRO_IOC_AUDIT, NITRO_LIST_SIZE_VER0, gen_list),
	CMD(NITRO_IOC_FIRMWARE_STATUS, NITRO_FIRMWARE_STATUS_SIZE_VER0, gen_fw_status),
	CMD(NITRO_IOC_FIRMWARE_LOG, NITRO_LIST_SIZE_VER0, gen_list),
	CMD(NITRO_IOC_FIRMWARE_ALLOW, NITRO_FIRMWARE_ALLOW_SIZE_VER0, gen_fw_allow),
	CMD(NITRO_IOC_FIRMWARE_UPDATE, NITRO_FIRMWARE_UPDATE_SIZE_VER0, gen_fw_update),
	CMD(NITRO_IOC_INSTANCE_CREATE, NITRO_INSTANCE_CREATE_SIZE_VER0, gen_inst_create),
	CMD(NITRO_IOC_INSTANCE_START, NITRO_INSTANCE_OP_SIZE_VER0, gen_inst_op),
	CMD(NITRO_IOC_INSTANCE_STOP, NITRO_INSTANCE_OP_SIZE_VER0, gen_inst_op),
	CMD(NITRO_IOC_INSTANCE_TERMINATE, NITRO_INSTANCE_OP_SIZE_VER0, gen_inst_op),
	CMD(NITRO_IOC_INSTANCE_DESCRIBE, NITRO_INSTANCE_DESCRIBE_SIZE_VER0, gen_describe),
	CMD(NITRO_IOC_INSTANCE_LIST, NITRO_LIST_SIZE_VER0, gen_list),
	CMD(NITRO_IOC_INSTANCE_WAIT, NITRO_INSTANCE_WAIT_SIZE_VER0, gen_inst_wait),
	CMD(NITRO_IOC_INSTANCE_TYPES, NITRO_LIST_SIZE_VER0, gen_list),
	CMD(NITRO_IOC_INSTANCE_CONSOLE, NITRO_INSTANCE_CONSOLE_SIZE_VER0, gen_inst_console),
	CMD(NITRO_IOC_HV_REGISTER, NITRO_HV_REGISTER_SIZE_VER0, gen_hv_register),
	CMD(NITRO_IOC_HV_NEXT, NITRO_HV_COMMAND_SIZE_VER0, gen_hv_next),
	CMD(NITRO_IOC_HV_DONE, NITRO_HV_RESULT_SIZE_VER0, gen_hv_done),
	CMD(NITRO_IOC_SG_CREATE, NITRO_SG_CREATE_SIZE_VER0, gen_sg_create),
	CMD(NITRO_IOC_SG_DELETE, NITRO_OBJECT_REF_SIZE_VER0, gen_object_ref),
	CMD(NITRO_IOC_SG_RULES, NITRO_SG_RULES_SIZE_VER0, gen_sg_rules),
	CMD(NITRO_IOC_SG_LIST, NITRO_LIST_SIZE_VER0, gen_list),
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

/* The command a number reaches: matched on direction, type and number (not size). */
static int cmd_index(unsigned long nr)
{
	unsigned long key = nr & ~((unsigned long)_IOC_SIZEMASK << _IOC_SIZESHIFT);

	for (unsigned int i = 0; i < NCMDS; i++)
		if ((cmds[i].nr & ~((unsigned long)_IOC_SIZEMASK << _IOC_SIZESHIFT)) == key)
			return (int)i;
	return -1;
}

static unsigned long resized(unsigned long nr, unsigned int size)
{
	return (nr & ~((unsigned long)_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
	       ((unsigned long)(size & _IOC_SIZEMASK) << _IOC_SIZESHIFT);
}

/*
 * ioctl types that the VFS or the block layer answer before the driver
 * (FIONBIO, FIFREEZE, BLKDISCARD, BLKPG, HDIO_GETGEO, IOC_PR_*, ...): not
 * the drivers' ABI, and some change the file or the disk under the test.
 */
static int foreign_type(unsigned int t)
{
	return t == 0x00 || t == 0x03 || t == 0x12 || t == 0x15 || t == 'S' || t == 'T' ||
	       t == 'X' || t == 'f' || t == 'p' || t == 0x94;
}

/* A command number the controller must not know, or does not know. */
static unsigned long unknown_cmd(void)
{
	unsigned long nr;

	do {
		switch (rn(4)) {
		case 0:	/* a known one with another direction */
			nr = cmds[rn(NCMDS)].nr & ~((unsigned long)_IOC_DIRMASK << _IOC_DIRSHIFT);
			nr |= (unsigned long)rn(3) << _IOC_DIRSHIFT;
			break;
		case 1:	/* a free number of the type */
			nr = _IOC(rn(4), NITRO_IOCTL_TYPE, rn(256), rn(_IOC_SIZEMASK + 1));
			break;
		case 2:	/* another type */
			nr = _IOC(rn(4), rn(256), rn(256), rn(1024));
			break;
		default:
			nr = (uint32_t)rnd();
		}
	} while (foreign_type(_IOC_TYPE(nr)));
	return nr;
}

/* --- shared state with the watchdog (the parent) --- */

struct shared {
	volatile int64_t call_start_ns;	/* 0: not in a call */
	volatile uint64_t calls;
	char current[MSG_LEN];		/* the call in progress */
	unsigned int nbad;
	char bad[MAX_BAD][MSG_LEN];
	uint64_t issued[NCMDS], succeeded[NCMDS], unknown;
	uint64_t nvme_calls, nvme_ok, nvme_status;
	uint64_t err[256];
	unsigned int made[K_NR], left[K_NR];
	int cleaned;
	uint64_t unpriv_calls;
	int userns;			/* unprivileged calls made in a user namespace too */
	int open_refused, open_tried;
	char open_msg[MSG_LEN];
};
static struct shared *sh;

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static volatile sig_atomic_t alarm_fired;

static void on_alarm(int sig)
{
	(void)sig;
	alarm_fired = 1;
}

static void hex(char *out, size_t cap, const unsigned char *b, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 3 < cap; i++)
		o += snprintf(out + o, cap - o, "%02x", b[i]);
}

static uint64_t call_no;

/* Records an outcome that breaks the contract, with the call that made it. */
static void bad(const char *what)
{
	/* (a message cut short is fine: the return value says so, and is not needed) */
	if (sh->nbad < MAX_BAD &&
	    snprintf(sh->bad[sh->nbad], MSG_LEN, "call %llu: %s; %s", (unsigned long long)call_no,
		     what, sh->current) >= MSG_LEN)
		sh->bad[sh->nbad][MSG_LEN - 2] = '~';
	sh->nbad++;
}

/* Runs one ioctl under the call timer; gives the return value, errno in *err. */
static long timed_ioctl(int fd, unsigned long nr, void *arg, int *err)
{
	struct itimerval on = { .it_value = { 0, ALARM_MS * 1000 } }, off = { 0 };
	long r;

	alarm_fired = 0;
	sh->call_start_ns = now_ns();
	setitimer(ITIMER_REAL, &on, NULL);
	r = ioctl(fd, nr, arg);
	*err = r < 0 ? errno : 0;
	setitimer(ITIMER_REAL, &off, NULL);
	sh->call_start_ns = 0;
	sh->calls++;
	call_no++;
	if (*err > 0 && *err < 256)
		sh->err[*err]++;
	return r;
}

/* --- pointers to the argument --- */

enum ptr_mode { P_GOOD, P_NULL, P_BAD, P_STRADDLE, P_RDONLY };
static const char *const ptr_name[] = { "good", "NULL", "bad", "straddle", "read-only" };

static enum ptr_mode pick_ptr_mode(void)
{
	if (chance(80))
		return P_GOOD;
	return (enum ptr_mode)(1 + rn(4));
}

#define CANARY 0xa5
#define CANARY_LEN 64

/*
 * Places len bytes of b where mode says; gives the pointer. A good one has
 * CANARY_LEN canary bytes after len (checked after the call).
 */
static void *place(enum ptr_mode mode, const unsigned char *b, size_t len, uint64_t *badp)
{
	unsigned char *p;

	switch (mode) {
	case P_NULL:
		return NULL;
	case P_BAD:
		*badp = bad_addr();
		if (!*badp)
			*badp = unmapped;
		return (void *)(uintptr_t)*badp;
	case P_STRADDLE: {
		size_t k = 1 + rn(len > 1 ? len - 1 : 1);	/* bytes before the guard */

		p = arena + 2 * pg - k;
		memcpy(p, b, k);
		return p;
	}
	case P_RDONLY:
		mprotect(rdonly, pg, PROT_READ | PROT_WRITE);
		memcpy(rdonly, b, len < (size_t)pg ? len : (size_t)pg);
		mprotect(rdonly, pg, PROT_READ);
		return rdonly;
	default:
		p = arena + pg;
		if (len + CANARY_LEN > (size_t)pg)
			p = arena;
		memcpy(p, b, len);
		memset(p + len, CANARY, CANARY_LEN);
		return p;
	}
}

static int canary_ok(const unsigned char *p)
{
	for (int i = 0; i < CANARY_LEN; i++)
		if (p[i] != CANARY)
			return 0;
	return 1;
}

/* --- the controller --- */

/* errnos the ABI documents for the controller's commands (abi.rst, instances.rst) */
static int ctrl_errno_ok(int e)
{
	switch (e) {
	case EPERM: case EACCES: case ENOTTY: case EINVAL: case E2BIG: case EFAULT:
	case ENOENT: case EEXIST: case EBUSY: case ENOSPC: case ENODEV: case EOPNOTSUPP:
	case EBADF: case EADDRNOTAVAIL: case EADDRINUSE: case ESTALE: case ENOKEY:
	case EKEYREJECTED: case EIO: case ENOMEM: case ETIMEDOUT: case ECONNRESET:
		return 1;
	}
	return 0;
}

/* errnos this fuzzer reported as a hypervisor (HV_DONE): a device command may pass them on */
static unsigned char hv_reported[4096];

/* Makes the guards of the header comment hold on the bytes about to be sent. */
static void guard(int ci, unsigned char *b)
{
	const char *n = ci >= 0 ? cmds[ci].name : "";

	if (!strcmp(n, "NITRO_IOC_FIRMWARE_ALLOW")) {
		struct nitro_firmware_allow *a = (void *)b;

		if (a->count == 0)
			a->count = 1 + rn(2 * NITRO_ALLOW_MAX);
		if (!is_bad_addr(a->entries) &&
		    (a->entries < (uintptr_t)poison || a->entries >= (uintptr_t)poison + POISON_LEN))
			a->entries = (uintptr_t)poison + rn(256);
	} else if (!strcmp(n, "NITRO_IOC_HV_DONE")) {
		struct nitro_hv_result *r = (void *)b;

		if (own_fd(r->cpu_stat_fd))
			r->cpu_stat_fd = -1;
		if (own_fd(r->memory_fd))
			r->memory_fd = -1;
		if (own_fd(r->memory_peak_fd))
			r->memory_peak_fd = -1;
	}
}

/* What a successful call gave back, for later calls and the cleanup. */
static void harvest(int ci, const unsigned char *p)
{
	const char *n = cmds[ci].name;

	if (!strcmp(n, "NITRO_IOC_VOLUME_CREATE"))
		pool_add(K_VOL, ((const struct nitro_volume_create *)p)->id);
	else if (!strcmp(n, "NITRO_IOC_ENI_CREATE"))
		pool_add(K_ENI, ((const struct nitro_eni_create *)p)->id);
	else if (!strcmp(n, "NITRO_IOC_INSTANCE_CREATE"))
		pool_add(K_INST, ((const struct nitro_instance_create *)p)->id);
	else if (!strcmp(n, "NITRO_IOC_HOST_CREATE"))
		pool_add(K_HOST, ((const struct nitro_host_create *)p)->host);
	else if (!strcmp(n, "NITRO_IOC_SG_CREATE"))
		pool_add(K_SG, ((const struct nitro_sg_create *)p)->id);
	else if (!strcmp(n, "NITRO_IOC_SG_DELETE"))
		pool_gone(K_SG, ((const struct nitro_object_ref *)p)->id);
	else if (!strcmp(n, "NITRO_IOC_VOLUME_DELETE"))
		pool_gone(K_VOL, ((const struct nitro_object_ref *)p)->id);
	else if (!strcmp(n, "NITRO_IOC_ENI_DELETE"))
		pool_gone(K_ENI, ((const struct nitro_object_ref *)p)->id);
	else if (!strcmp(n, "NITRO_IOC_HOST_DELETE"))
		pool_gone(K_HOST, ((const struct nitro_host_info *)p)->host);
	else if (!strcmp(n, "NITRO_IOC_HV_NEXT"))
		last_seq = ((const struct nitro_hv_command *)p)->seq;
	else if (!strcmp(n, "NITRO_IOC_HV_DONE")) {
		int e = ((const struct nitro_hv_result *)p)->error;

		if (e > 0 && e < 4096)
			hv_reported[e] = 1;
	}
}

static void describe_call(const char *target, const char *name, unsigned long nr,
			  enum ptr_mode mode, const unsigned char *b, size_t len)
{
	char h[2 * 96 + 1] = "";

	hex(h, sizeof(h), b, len < 96 ? len : 96);
	snprintf(sh->current, MSG_LEN, "%s %s (0x%08lx, size field %u), %s pointer, arg %s",
		 target, name, nr, len >= 4 ? *(const uint32_t *)b : 0, ptr_name[mode], h);
}

static unsigned char argbuf[8192];

/* One random call on the controller. unpriv: as a user without CAP_SYS_ADMIN. */
static void ctrl_call(int fd, int unpriv)
{
	int ci, known, e;
	unsigned long nr;
	size_t len, ks;
	enum ptr_mode mode = pick_ptr_mode();
	uint64_t badp = 0;
	unsigned char *p;
	char what[160], name[32];
	long r;

	if (chance(85)) {
		ci = (int)rn(NCMDS);
		nr = cmds[ci].nr;
		if (chance(20))	/* the size in the number is not matched on */
			nr = resized(nr, chance(50) ? rn(4097) : (uint32_t)rnd());
	} else {
		nr = unknown_cmd();
	}
	ci = cmd_index(nr);
	known = ci >= 0;
	if (known)
		sh->issued[ci]++;
	else
		sh->unknown++;

	ks = known ? _IOC_SIZE(cmds[ci].nr) : 64;
	aliased = 0;
	memset(argbuf, 0, sizeof(argbuf));
	if (!known || chance(20)) {
		rnd_bytes(argbuf, ks + 16);
		if (known && chance(70))
			*(uint32_t *)argbuf = pick_size(&cmds[ci]);
	} else {
		cmds[ci].gen(&cmds[ci], argbuf);
		if (chance(25)) {	/* a few bytes changed after */
			unsigned int n = 1 + rn(4);

			while (n--)
				argbuf[rn(ks)] ^= (unsigned char)(1 + rn(255));
		}
	}
	guard(ci, argbuf);
	/* the kernel reads up to the size field (at most a page), and the tail past its struct */
	len = *(uint32_t *)argbuf;
	len = len < ks ? ks : len > 4096 ? ks : len;
	p = place(mode, argbuf, len, &badp);
	snprintf(name, sizeof(name), "%s", known ? cmds[ci].name + strlen("NITRO_IOC_") : "unknown");
	describe_call("ctrl", name, nr, mode, argbuf, len);

	r = timed_ioctl(fd, nr, p, &e);
	if (mode == P_RDONLY)
		mprotect(rdonly, pg, PROT_READ | PROT_WRITE);

	what[0] = 0;
	if (r > 0)
		snprintf(what, sizeof(what), "returned %ld, not 0", r);
	else if (unpriv && r != -1)
		snprintf(what, sizeof(what), "succeeded without CAP_SYS_ADMIN");
	else if (unpriv && e != EPERM)
		snprintf(what, sizeof(what), "errno %d (%s) without CAP_SYS_ADMIN, not EPERM", e, strerror(e));
	else if (unpriv)
		;
	else if (e == EINTR && !alarm_fired)
		snprintf(what, sizeof(what), "EINTR with no signal");
	else if (e == EINTR)
		;
	else if (!known && e != ENOTTY)
		snprintf(what, sizeof(what), "unknown command: %s%s (%d), not ENOTTY",
			 r ? "errno " : "succeeded", r ? strerror(e) : "", e);
	else if (known && e == ENOTTY)
		snprintf(what, sizeof(what), "ENOTTY for a known command");
	else if (known && e && !ctrl_errno_ok(e) && !(e < 4096 && hv_reported[e]))
		snprintf(what, sizeof(what), "undocumented errno %d (%s)", e, strerror(e));
	else if (known && (mode == P_NULL || mode == P_BAD) && e != EFAULT &&
		 strcmp(cmds[ci].name, "NITRO_IOC_FIRMWARE_UPDATE"))
		snprintf(what, sizeof(what), "bad pointer 0x%llx gave %s (%d), not EFAULT",
			 (unsigned long long)badp, r ? strerror(e) : "success", e);
	else if (known && !strcmp(cmds[ci].name, "NITRO_IOC_FIRMWARE_UPDATE") && e != EPERM)
		snprintf(what, sizeof(what), "firmware update not refused with EPERM (%d)", e);
	if (what[0])
		bad(what);

	if (mode != P_GOOD)
		return;
	/* (a struct whose array points at itself is overwritten by the kernel, rightly) */
	if (!aliased && !canary_ok(p + len))
		bad("bytes written past the caller's struct");
	if (known && r == 0 && !unpriv) {
		uint32_t size = *(uint32_t *)p;

		sh->succeeded[ci]++;
		if (!aliased && size != _IOC_SIZE(cmds[ci].nr) && size != *(uint32_t *)argbuf)
			bad("size answered is neither the kernel's nor the caller's");
		harvest(ci, p);
	}
}

/* The instance types, for valid creates. */
static void read_types(int fd)
{
	struct nitro_instance_type t[8];
	struct nitro_list l = { .size = sizeof(l), .entry_size = sizeof(t[0]), .entries = (uintptr_t)t,
				.cap = 8 };

	if (ioctl(fd, NITRO_IOC_INSTANCE_TYPES, &l) < 0)
		return;
	for (ntypes = 0; ntypes < l.count && ntypes < 8; ntypes++)
		memcpy(types[ntypes], t[ntypes].name, NITRO_TAG_LEN);
}

/* --- NVMe --- */

struct nvme_dev {
	char path[300];
	int blk;	/* the namespace's block device (else the controller's char device) */
	int fd;
};
static struct nvme_dev devs[MAX_DEVS];
static int ndevs;
/* The disk's blocks, if 4096 bytes (the wrapper's), else a bound the fuzz goes past too. */
static uint64_t disk_blocks = 16384;

#define NCMD(c) { #c, c }
static const struct {
	const char *name;
	unsigned long nr;
} nvme_cmds[] = {
	NCMD(NVME_IOCTL_ID),
	NCMD(NVME_IOCTL_ADMIN_CMD),
	NCMD(NVME_IOCTL_SUBMIT_IO),
	NCMD(NVME_IOCTL_IO_CMD),
	NCMD(NVME_IOCTL_RESET),
	NCMD(NVME_IOCTL_SUBSYS_RESET),
	NCMD(NVME_IOCTL_RESCAN),
	NCMD(NVME_IOCTL_ADMIN64_CMD),
	NCMD(NVME_IOCTL_IO64_CMD),
	NCMD(NVME_IOCTL_IO64_CMD_VEC),
	NCMD(NVME_URING_CMD_IO),
	NCMD(NVME_URING_CMD_ADMIN),
};
#define NNVME (sizeof(nvme_cmds) / sizeof(nvme_cmds[0]))

/* NVMe status codes the card gives (drivers/nitro_nvme/nvme.rs). */
static int nvme_status_ok(long st)
{
	return st == 0 || st == 0x1 || st == 0x2 || st == 0xb || st == 0x80 || st == 0x109;
}

static uint32_t nvme_len(void)
{
	switch (rn(8)) {
	case 0:
		return 0;
	case 1:
		return 4096 << 8;	/* MDTS */
	case 2:
		return (4096 << 8) + 4096;
	case 3:
		return (uint32_t)rnd();
	case 4:
		return 512;
	default:
		return 4096 * (1 + rn(8));
	}
}

static void gen_passthru(unsigned char *b, int is64, int admin, uint64_t blocks)
{
	struct nvme_passthru_cmd64 *c = (void *)b;
	static const __u8 admin_ops[] = { 0x02, 0x06 };
	static const __u8 io_ops[] = { 0x00, 0x01, 0x02, 0x08, 0x09 };

	if (chance(80))
		c->opcode = admin ? admin_ops[rn(2)] : io_ops[rn(5)];
	else
		c->opcode = (__u8)rnd();
	c->flags = (__u8)mostly0();
	c->nsid = chance(80) ? 1 : (uint32_t[]){ 0, 2, 0xffffffff, (uint32_t)rnd() }[rn(4)];
	c->data_len = nvme_len();
	c->addr = chance(85) ? (uintptr_t)data + (chance(50) ? 0 : rn(DATA_LEN) & ~511u)
			     : uptr(c->data_len);
	if (admin && c->opcode == 0x06)
		c->cdw10 = chance(80) ? rn(4) : (uint32_t)rnd();
	else if (admin && c->opcode == 0x02)
		c->cdw10 = (chance(50) ? 0x02 : chance(60) ? 0xd0 : rn(256)) |
			   ((chance(70) ? 127 : rn(65536)) << 16);
	else {
		uint64_t slba = chance(60) ? rn(blocks + 1) : chance(50) ? blocks - rn(4) : rnd();

		c->cdw10 = (uint32_t)slba;
		c->cdw11 = (uint32_t)(slba >> 32);
		if (c->opcode == 0x09)	/* DSM: ranges, deallocate */
			c->cdw11 = chance(70) ? 1 << 2 : (uint32_t)rnd();
		c->cdw12 = chance(80) ? rn(16) : (uint32_t)rnd();
		if (c->opcode == 0x09 && c->addr == (uintptr_t)data) {
			for (int i = 0; i < 256; i++) {	/* DSM range: nlb at 4, slba at 8 */
				*(uint32_t *)(data + 16 * i + 4) = rn(64);
				*(uint64_t *)(data + 16 * i + 8) = chance(90) ? rn(blocks) : rnd();
			}
		}
	}
	c->timeout_ms = mostly0();
	if (is64 && chance(5))
		c->rsvd2 = 1;
	if (chance(10))
		rnd_bytes(b + 40, 24);
}

static void gen_user_io(unsigned char *b, uint64_t blocks)
{
	struct nvme_user_io *io = (void *)b;

	io->opcode = chance(80) ? (__u8[]){ 0x00, 0x01, 0x02, 0x08 }[rn(4)] : (__u8)rnd();
	io->nblocks = chance(80) ? rn(16) : (__u16)rnd();
	io->slba = chance(80) ? rn(blocks + 1) : rnd();
	io->addr = chance(85) ? (uintptr_t)data : uptr((io->nblocks + 1) * 4096);
}

/* One random call on an NVMe device. */
static void nvme_call(struct nvme_dev *d, int unpriv)
{
	int i = -1, e, admin, is64, passthru;
	unsigned long nr;
	size_t len;
	enum ptr_mode mode = pick_ptr_mode();
	uint64_t badp = 0, daddr = 0;
	uint32_t dlen = 0;
	unsigned char *p;
	char what[160];
	long r;

	if (chance(85)) {
		i = (int)rn(NNVME);
		nr = nvme_cmds[i].nr;
		if (chance(5))	/* the nvme ioctls are matched with their size */
			nr = resized(nr, rn(256)), i = -1;
	} else {
		do {
			nr = chance(50) ? _IOC(rn(4), 'N', rn(256), rn(256)) : unknown_cmd();
		} while (foreign_type(_IOC_TYPE(nr)));
	}
	for (unsigned int j = 0; j < NNVME && i < 0; j++)
		if (nvme_cmds[j].nr == nr)
			i = (int)j;
	sh->nvme_calls++;

	memset(argbuf, 0, 128);
	aliased = 0;
	admin = nr == NVME_IOCTL_ADMIN_CMD || nr == NVME_IOCTL_ADMIN64_CMD;
	is64 = nr == NVME_IOCTL_ADMIN64_CMD || nr == NVME_IOCTL_IO64_CMD;
	passthru = admin || is64 || nr == NVME_IOCTL_IO_CMD;
	if (passthru && chance(85)) {
		gen_passthru(argbuf, is64, admin, disk_blocks);
		daddr = ((struct nvme_passthru_cmd *)argbuf)->addr;
		dlen = ((struct nvme_passthru_cmd *)argbuf)->data_len;
	} else if (nr == NVME_IOCTL_SUBMIT_IO && chance(85)) {
		gen_user_io(argbuf, disk_blocks);
	} else {
		rnd_bytes(argbuf, 96);
	}
	len = nr == NVME_IOCTL_SUBMIT_IO ? sizeof(struct nvme_user_io) :
	      is64 ? sizeof(struct nvme_passthru_cmd64) : sizeof(struct nvme_passthru_cmd);
	/* the data buffer's canary: nothing may be written past data_len */
	if (passthru && daddr >= (uintptr_t)data && daddr < (uintptr_t)data + DATA_LEN &&
	    dlen + CANARY_LEN <= (uintptr_t)data + DATA_LEN - daddr)
		memset((void *)(uintptr_t)(daddr + dlen), CANARY, CANARY_LEN);
	else
		dlen = 0, daddr = 0;
	p = place(mode, argbuf, len, &badp);
	describe_call(d->path, i >= 0 ? nvme_cmds[i].name : "unknown", nr, mode, argbuf, len);

	r = timed_ioctl(d->fd, nr, p, &e);
	if (mode == P_RDONLY)
		mprotect(rdonly, pg, PROT_READ | PROT_WRITE);

	what[0] = 0;
	if (unpriv) {
		if (d->blk && nr == NVME_IOCTL_ID) {
			if (r != 1)
				snprintf(what, sizeof(what), "NVME_IOCTL_ID gave %ld (errno %d), not 1", r, e);
		} else if (r != -1 || e != EACCES) {
			snprintf(what, sizeof(what), "gave %ld (errno %d) without CAP_SYS_ADMIN, not EACCES",
				 r, e);
		}
	} else if (e == EINTR) {
		if (!alarm_fired)
			snprintf(what, sizeof(what), "EINTR with no signal");
	} else if (nr == NVME_IOCTL_ID) {
		if (d->blk ? r != 1 : (r != -1 || e != ENOTTY))
			snprintf(what, sizeof(what), "NVME_IOCTL_ID gave %ld (errno %d)", r, e);
	} else if (passthru || (d->blk && nr == NVME_IOCTL_SUBMIT_IO)) {
		if ((mode == P_NULL || mode == P_BAD) && (r != -1 || e != EFAULT))
			snprintf(what, sizeof(what), "bad pointer 0x%llx gave %ld (errno %d), not EFAULT",
				 (unsigned long long)badp, r, e);
		else if (r >= 0 && !nvme_status_ok(r))
			snprintf(what, sizeof(what), "NVMe status 0x%lx the card does not define", r);
		else if (r < 0 && e != EFAULT && e != ENOMEM && e != EIO)
			snprintf(what, sizeof(what), "errno %d (%s)", e, strerror(e));
		if (r == 0)
			sh->nvme_ok++;
		else if (r > 0)
			sh->nvme_status++;
	} else if (r != -1 || e != ENOTTY) {
		snprintf(what, sizeof(what), "a command the card does not handle gave %ld (errno %d), not ENOTTY",
			 r, e);
	}
	if (what[0])
		bad(what);
	if (mode == P_GOOD && !aliased && !canary_ok(p + len))
		bad("bytes written past the passthrough struct");
	if (dlen && mode == P_GOOD && !canary_ok((unsigned char *)(uintptr_t)(daddr + dlen)))
		bad("data written past data_len");
}

/* Every nitro disk (a /sys/block entry with a nitro directory) and its controller. */
static void find_devs(void)
{
	DIR *dir = opendir("/sys/block");
	struct dirent *de;

	while (dir && (de = readdir(dir)) && ndevs + 2 <= MAX_DEVS) {
		char attr[300 + 16], *n;
		struct stat st;

		snprintf(attr, sizeof(attr), "/sys/block/%s/nitro", de->d_name);
		if (de->d_name[0] == '.' || stat(attr, &st))
			continue;
		snprintf(devs[ndevs].path, sizeof(devs[0].path), "/dev/%s", de->d_name);
		devs[ndevs++].blk = 1;
		snprintf(devs[ndevs].path, sizeof(devs[0].path), "/dev/%s", de->d_name);
		n = strrchr(devs[ndevs].path, 'n');	/* nitro0n1 -> nitro0 */
		if (n && n > devs[ndevs].path + 5)
			*n = 0;
		devs[ndevs++].blk = 0;
	}
	if (dir)
		closedir(dir);
}

static void open_devs(void)
{
	for (int i = 0; i < ndevs; i++) {
		struct stat st;

		devs[i].fd = open(devs[i].path, O_RDWR);
		if (devs[i].fd < 0)
			ksft_exit_fail_msg("open %s: %s\n", devs[i].path, strerror(errno));
		fstat(devs[i].fd, &st);
		devs[i].blk = S_ISBLK(st.st_mode);
		own_fds[n_own++] = devs[i].fd;
		if (devs[i].blk) {	/* its size, in 512-byte sectors, for LBAs near the end */
			char sz[300 + 32];
			unsigned long long sectors;
			FILE *f;

			snprintf(sz, sizeof(sz), "/sys/class/block/%s/size", strrchr(devs[i].path, '/') + 1);
			f = fopen(sz, "r");
			if (f && fscanf(f, "%llu", &sectors) == 1 && sectors >= 8)
				disk_blocks = sectors / 8;
			if (f)
				fclose(f);
		}
	}
}

/* --- cleanup of what the fuzzer made --- */

static int obj_ioctl(int fd, unsigned long nr, uint64_t id)
{
	struct nitro_object_ref r = { .size = sizeof(r), .id = id };

	return ioctl(fd, nr, &r) ? errno : 0;
}

/* Empties a group's rules (a rule may name another group, which then cannot go). */
static int sg_clear(int fd, uint64_t id)
{
	struct nitro_sg_rules r = { .size = sizeof(r), .id = id };

	return ioctl(fd, NITRO_IOC_SG_RULES, &r) ? errno : 0;
}

/* Whether a group exists (its rules can be read). */
static int sg_exists(int fd, uint64_t id)
{
	struct nitro_sg_rules r = { .size = sizeof(r), .flags = NITRO_SG_RULES_GET, .id = id };

	return ioctl(fd, NITRO_IOC_SG_RULES, &r) == 0 || errno != ENOENT;
}

static void cleanup(void)
{
	int fd = open(DEV, O_RDWR);

	if (fd < 0) {
		bad("cleanup: cannot open " DEV);
		return;
	}
	for (unsigned int i = 0; i < pools[K_INST].n; i++) {
		struct nitro_instance_op o = { .size = sizeof(o), .id = pools[K_INST].id[i] };
		struct nitro_instance_wait w = {
			.size = sizeof(w), .id = o.id, .timeout_ms = 5000,
			.states = NITRO_STATE_BIT(NITRO_INSTANCE_TERMINATED),
		};

		ioctl(fd, NITRO_IOC_INSTANCE_TERMINATE, &o);
		ioctl(fd, NITRO_IOC_INSTANCE_WAIT, &w);
	}
	for (unsigned int i = 0; i < pools[K_VOL].n; i++) {
		obj_ioctl(fd, NITRO_IOC_VOLUME_DETACH, pools[K_VOL].id[i]);
		obj_ioctl(fd, NITRO_IOC_VOLUME_DELETE, pools[K_VOL].id[i]);
	}
	for (unsigned int i = 0; i < pools[K_ENI].n; i++) {
		obj_ioctl(fd, NITRO_IOC_ENI_DETACH, pools[K_ENI].id[i]);
		obj_ioctl(fd, NITRO_IOC_ENI_DELETE, pools[K_ENI].id[i]);
	}
	/* the ENIs that had them are gone: the groups' rules, then the groups */
	for (unsigned int i = 0; i < pools[K_SG].n; i++)
		sg_clear(fd, pools[K_SG].id[i]);
	for (unsigned int i = 0; i < pools[K_SG].n; i++)
		obj_ioctl(fd, NITRO_IOC_SG_DELETE, pools[K_SG].id[i]);
	for (unsigned int i = 0; i < pools[K_HOST].n; i++) {
		struct nitro_host_info h = { .size = sizeof(h), .host = (uint32_t)pools[K_HOST].id[i] };

		ioctl(fd, NITRO_IOC_HOST_DELETE, &h);
	}
	/* and what is left */
	for (int k = 0; k < K_NR; k++) {
		sh->made[k] = pools[k].n;
		for (unsigned int i = 0; i < pools[k].n; i++) {
			uint64_t id = pools[k].id[i];
			int left;

			if (k == K_VOL) {
				struct nitro_volume_describe d = { .size = sizeof(d), .id = id };

				left = ioctl(fd, NITRO_IOC_VOLUME_DESCRIBE, &d) == 0 || errno != ENOENT;
			} else if (k == K_ENI) {
				struct nitro_eni_describe d = { .size = sizeof(d), .id = id };

				left = ioctl(fd, NITRO_IOC_ENI_DESCRIBE, &d) == 0 || errno != ENOENT;
			} else if (k == K_INST) {
				struct nitro_instance_describe d = { .size = sizeof(d), .id = id };

				/* terminated ones stay listable for a while (instances.rst) */
				left = ioctl(fd, NITRO_IOC_INSTANCE_DESCRIBE, &d) == 0 ?
				       d.info.state != NITRO_INSTANCE_TERMINATED : errno != ENOENT;
			} else if (k == K_SG) {
				left = sg_exists(fd, id);
			} else {
				struct nitro_host_info h = { .size = sizeof(h), .host = (uint32_t)id };

				left = ioctl(fd, NITRO_IOC_HOST_DESCRIBE, &h) == 0 || errno != ENODEV;
			}
			if (left) {
				char m[96];

				snprintf(m, sizeof(m), "cleanup: %s %#llx is still there",
					 kind_name[k], (unsigned long long)id);
				snprintf(sh->current, MSG_LEN, "cleanup");
				bad(m);
				sh->left[k]++;
			}
		}
	}
	close(fd);
	sh->cleaned = 1;
}

/* --- the phases --- */

static uint64_t seed, ncalls = 20000;
static int unpriv_phase;

static void setup_alarm(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };

	/* no SA_RESTART: the timer must end interruptible waits */
	sigaction(SIGALRM, &sa, NULL);
}

static void root_worker(void)
{
	rs = seed ^ 0x9e3779b97f4a7c15ULL;
	setup_alarm();
	/* opened here, so that closing it at the end ends what it registered (a hypervisor) */
	ctrl_fd = open(DEV, O_RDWR);
	if (ctrl_fd < 0)
		ksft_exit_fail_perror("open " DEV);
	for (uint64_t i = 0; i < ncalls; i++) {
		if (ndevs && chance(30))
			nvme_call(&devs[rn(ndevs)], 0);
		else
			ctrl_call(ctrl_fd, 0);
		if (chance(1))
			rnd_bytes(data, 4096);	/* what entries and buffers hold */
	}
	/* ends the hypervisor registrations and the calls' hold on the cards */
	close(ctrl_fd);
	cleanup();
}

/* An open as the unprivileged user must be refused (EACCES, or EPERM). */
static void try_open(const char *path)
{
	int fd = open(path, O_RDWR);

	sh->open_tried++;
	if (fd >= 0) {
		snprintf(sh->open_msg, sizeof(sh->open_msg), "%s opened read-write by uid %u", path,
			 getuid());
		close(fd);
	} else if (errno != EACCES && errno != EPERM) {
		snprintf(sh->open_msg, sizeof(sh->open_msg), "open %s by uid %u: errno %d, not EACCES",
			 path, getuid(), errno);
	} else {
		sh->open_refused++;
	}
}

static void unpriv_worker(void)
{
	uint64_t n = ncalls / 10 < 200 ? 200 : ncalls / 10;

	rs = seed ^ 0xc2b2ae3d27d4eb4fULL;
	setup_alarm();
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		ksft_exit_fail_perror("setresuid 65534");
	try_open(DEV);
	for (int i = 0; i < ndevs; i++)
		try_open(devs[i].path);
	for (uint64_t i = 0; i < n; i++) {
		/* the second half as root of a new user namespace: still no CAP_SYS_ADMIN here */
		if (i == n / 2 && unshare(CLONE_NEWUSER) == 0)
			sh->userns = 1;
		if (ndevs && chance(30))
			nvme_call(&devs[rn(ndevs)], 1);
		else
			ctrl_call(ctrl_fd, 1);
		sh->unpriv_calls++;
	}
}

/*
 * Runs fn in a child, watched: a call in progress for HANG_S is reported
 * and the child killed. Gives a message for the result, or "" if it ended
 * normally.
 */
static void watched(void (*fn)(void), char *res, size_t cap)
{
	pid_t pid;
	int status;

	memset(sh, 0, sizeof(*sh));
	res[0] = 0;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_perror("fork");
	if (pid == 0) {
		fn();
		_exit(0);
	}
	for (;;) {
		struct timespec t = { 0, 50 * 1000 * 1000 };
		int64_t start = sh->call_start_ns;

		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		if (start && now_ns() - start > (int64_t)HANG_S * 1000000000) {
			snprintf(res, cap, "call %llu hung (over %d s): %s",
				 (unsigned long long)sh->calls, HANG_S, sh->current);
			kill(pid, SIGKILL);
			for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) != pid; i++)
				nanosleep(&t, NULL);
			return;
		}
		nanosleep(&t, NULL);
	}
	if (WIFSIGNALED(status))
		snprintf(res, cap, "killed by signal %d (%s) in call %llu: %s", WTERMSIG(status),
			 strsignal(WTERMSIG(status)), (unsigned long long)sh->calls, sh->current);
	else if (WEXITSTATUS(status))
		snprintf(res, cap, "exited %d", WEXITSTATUS(status));
}

static void print_bad(void)
{
	for (unsigned int i = 0; i < sh->nbad && i < MAX_BAD; i++)
		ksft_print_msg("%s\n", sh->bad[i]);
	if (sh->nbad > MAX_BAD)
		ksft_print_msg("... and %u more\n", sh->nbad - MAX_BAD);
}

static void print_errnos(void)
{
	char line[512];
	size_t o = 0;

	for (int e = 1; e < 256; e++)
		if (sh->err[e])
			o += snprintf(line + o, sizeof(line) - o, " %s %llu", strerrorname_np(e) ?: "?",
				      (unsigned long long)sh->err[e]);
	ksft_print_msg("errnos:%s\n", o ? line : " none");
}

/*
 * -l: the VPC card's hosts that exist now, one "host N" a line, then the
 * security groups, one "group ID" a line, for fuzz.sh's account of the
 * state (nitroctl has no host list: one call per number would cost seconds
 * each under TCG).
 */
static int list_hosts(void)
{
	static struct nitro_sg_info g[NITRO_LIST_MAX];
	struct nitro_list l = { .size = sizeof(l), .entries = (uintptr_t)g, .cap = NITRO_LIST_MAX };
	int fd = open(DEV, O_RDWR);

	if (fd < 0) {
		perror("open " DEV);
		return 1;
	}
	for (uint32_t h = 1; h <= NITRO_HOSTS_MAX; h++) {
		struct nitro_host_info i = { .size = sizeof(i), .host = h };

		if (ioctl(fd, NITRO_IOC_HOST_DESCRIBE, &i) == 0) {
			printf("host %u\n", h);
		} else if (errno != ENODEV) {	/* ENODEV: no such host (or no VPC card) */
			fprintf(stderr, "host describe %u: %s\n", h, strerror(errno));
			return 1;
		}
	}
	do {
		l.count = 0;
		l.more = 0;
		if (ioctl(fd, NITRO_IOC_SG_LIST, &l)) {
			fprintf(stderr, "sg list: %s\n", strerror(errno));
			return 1;
		}
		for (uint32_t i = 0; i < l.count; i++)
			printf("group %#llx\n", (unsigned long long)g[i].id);
	} while (l.more);
	close(fd);
	return 0;
}

/* -G ID: deletes a security group, its rules first (what fuzz.sh found left). */
static int delete_group(const char *arg)
{
	uint64_t id = strtoull(arg, NULL, 0);
	int fd = open(DEV, O_RDWR), e;

	if (fd < 0) {
		perror("open " DEV);
		return 1;
	}
	sg_clear(fd, id);
	e = obj_ioctl(fd, NITRO_IOC_SG_DELETE, id);
	if (e)
		fprintf(stderr, "sg delete %#llx: %s\n", (unsigned long long)id, strerror(e));
	close(fd);
	return e ? 1 : 0;
}

static void usage(const char *me)
{
	fprintf(stderr, "usage: %s [-s SEED] [-n CALLS] [-u] [-d DEV]... [-N NETNS] [-A IPV4] [-b FILE]\n"
		"       %s -l    (list the hosts and security groups that exist)\n"
		"       %s -G ID (delete security group ID)\n", me, me, me);
	exit(2);
}

int main(int argc, char **argv)
{
	char res[MSG_LEN + 128], args[256] = "";
	struct in_addr a;
	unsigned int ok_cmds = 0, all_issued = 1;
	int opt, seeded = 0;
	time_t t0;

	while ((opt = getopt(argc, argv, "s:n:ud:N:A:b:lG:")) != -1) {
		switch (opt) {
		case 'l':
			return list_hosts();
		case 'G':
			return delete_group(optarg);
		case 's':
			seed = strtoull(optarg, NULL, 0);
			seeded = 1;
			break;
		case 'n':
			ncalls = strtoull(optarg, NULL, 0);
			break;
		case 'u':
			unpriv_phase = 1;
			break;
		case 'd':
			if (ndevs == MAX_DEVS)
				usage(argv[0]);
			snprintf(devs[ndevs++].path, sizeof(devs[0].path), "%s", optarg);
			break;
		case 'N':
			netns_fd = open(optarg, O_RDONLY);
			if (netns_fd < 0)
				ksft_exit_fail_perror(optarg);
			break;
		case 'A':
			if (!inet_aton(optarg, &a))
				usage(argv[0]);
			underlay = a.s_addr;
			break;
		case 'b':
			backing_fd = open(optarg, O_RDWR);
			if (backing_fd < 0)
				ksft_exit_fail_perror(optarg);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (!seeded)
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if (!seed)
		seed = 1;	/* xorshift's one bad state */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-s") && (i == 1 || strcmp(argv[i - 1], "-s")))
			snprintf(args + strlen(args), sizeof(args) - strlen(args), " %s", argv[i]);

	ksft_print_header();
	ksft_set_plan(8);
	ksft_print_msg("seed %llu (replay: fuzz -s %llu%s)\n", (unsigned long long)seed,
		       (unsigned long long)seed, args);

	pg = sysconf(_SC_PAGESIZE);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	arena = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	data = mmap(NULL, DATA_LEN + pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	poison = mmap(NULL, POISON_LEN + pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	rdonly = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unmapped = (uintptr_t)mmap(NULL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || arena == MAP_FAILED || data == MAP_FAILED || poison == MAP_FAILED ||
	    rdonly == MAP_FAILED || unmapped == (uintptr_t)MAP_FAILED)
		ksft_exit_fail_perror("mmap");
	munmap((void *)(uintptr_t)unmapped, pg);
	mprotect(arena + 2 * pg, pg, PROT_NONE);
	mprotect(data + DATA_LEN, pg, PROT_NONE);
	mprotect(poison + POISON_LEN, pg, PROT_NONE);
	/* no byte below 2: no entry can have alg 1 or digest_len 48 (a valid allowlist) */
	rs = seed;
	for (size_t i = 0; i < POISON_LEN; i++)
		poison[i] = (unsigned char)(2 + rn(254));
	rnd_bytes(data, DATA_LEN);
	null_fd = open("/dev/null", O_RDWR);

	ctrl_fd = open(DEV, O_RDWR);
	if (ctrl_fd < 0)
		ksft_exit_fail_perror("open " DEV);
	read_types(ctrl_fd);
	close(ctrl_fd);
	ctrl_fd = -1;
	if (!ndevs)
		find_devs();
	open_devs();
	for (int i = 0; i < ndevs; i++)
		ksft_print_msg("NVMe device %s (%s)\n", devs[i].path,
			       devs[i].blk ? "namespace" : "controller");

	/* As root. */
	t0 = time(NULL);
	watched(root_worker, res, sizeof(res));
	ksft_print_msg("%llu calls as root in %ld s (%llu NVMe), %llu to unknown command numbers\n",
		       (unsigned long long)sh->calls, (long)(time(NULL) - t0),
		       (unsigned long long)sh->nvme_calls, (unsigned long long)sh->unknown);
	print_errnos();
	print_bad();
	for (unsigned int i = 0; i < NCMDS; i++) {
		ok_cmds += sh->succeeded[i] > 0;
		all_issued &= sh->issued[i] > 0;
		if (!sh->issued[i])
			ksft_print_msg("%s never issued\n", cmds[i].name);
	}
	ksft_test_result(sh->nbad == 0 && !res[0],
			 "ctrl and NVMe as root: every answer documented (%u not)\n", sh->nbad);
	ksft_test_result(all_issued && sh->unknown > 0 && sh->succeeded[0] && sh->succeeded[1],
			 "ctrl: every command of the ABI header issued, %u of %zu succeeded at least once\n",
			 ok_cmds, NCMDS);
	if (ndevs)
		ksft_test_result(sh->nvme_ok > 0 && sh->nvme_status > 0,
				 "NVMe: %llu calls on %d devices, %llu succeeded, %llu got an NVMe error status\n",
				 (unsigned long long)sh->nvme_calls, ndevs,
				 (unsigned long long)sh->nvme_ok, (unsigned long long)sh->nvme_status);
	else
		ksft_test_result_skip("NVMe: no nitro disk\n");
	if (res[0])
		ksft_print_msg("%s\n", res);
	ksft_test_result(!res[0], "as root: no call hung, not killed by a signal\n");
	ksft_test_result(sh->cleaned && !sh->left[0] && !sh->left[1] && !sh->left[2] && !sh->left[3] &&
			 !sh->left[4],
			 "what the fuzzer made is gone: %u volumes, %u ENIs, %u instances, %u hosts, %u security groups made\n",
			 sh->made[K_VOL], sh->made[K_ENI], sh->made[K_INST], sh->made[K_HOST],
			 sh->made[K_SG]);

	/* Unprivileged, with the descriptors opened as root (and a fresh one for the table). */
	if (unpriv_phase) {
		ctrl_fd = open(DEV, O_RDWR);
		if (ctrl_fd < 0)
			ksft_exit_fail_perror("open " DEV);
		watched(unpriv_worker, res, sizeof(res));
		print_bad();
		if (sh->open_msg[0])
			ksft_print_msg("%s\n", sh->open_msg);
		ksft_test_result(sh->open_tried && sh->open_refused == sh->open_tried,
				 "uid 65534: %d of %d opens refused\n", sh->open_refused, sh->open_tried);
		ksft_test_result(sh->nbad == 0 && sh->unpriv_calls > 0 && !res[0],
				 "uid 65534%s: %llu calls on inherited descriptors, all refused (EPERM, EACCES)\n",
				 sh->userns ? " and root of a new user namespace" : "",
				 (unsigned long long)sh->unpriv_calls);
		if (res[0])
			ksft_print_msg("%s\n", res);
		ksft_test_result(!res[0], "unprivileged: no call hung, not killed by a signal\n");
		close(ctrl_fd);
	} else {
		ksft_test_result_skip("uid 65534: opens (no -u)\n");
		ksft_test_result_skip("uid 65534: calls (no -u)\n");
		ksft_test_result_skip("unprivileged: hangs and signals (no -u)\n");
	}
	ksft_finished();
}
