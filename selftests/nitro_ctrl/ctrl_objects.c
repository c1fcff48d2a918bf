// SPDX-License-Identifier: GPL-2.0
/*
 * ctrl_objects: volumes, ENIs, lists, metrics, the audit log and concurrent
 * use of /dev/nitro_ctrl, good and bad input, against the test double card
 * (nitro_testcard). objects.sh loads it in place of the real cards.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <linux/nitro.h>
#include "kselftest.h"

static int fd;

static int xioctl(unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

/* Creates a volume; returns 0 or -errno, the id in *id. */
static int vol_create(__u32 kind, __u64 size, __u32 bs, const char *name, __u64 *id)
{
	struct nitro_volume_create c = { .size = sizeof(c), .kind = kind, .size_bytes = size, .block_size = bs };
	int rc;

	if (name)
		memcpy(c.name, name, strnlen(name, sizeof(c.name) - 1));
	rc = xioctl(NITRO_IOC_VOLUME_CREATE, &c);
	if (id)
		*id = rc ? 0 : c.id;
	return rc;
}

static int ref(unsigned long cmd, __u64 id)
{
	struct nitro_object_ref r = { .size = sizeof(r), .id = id };

	return xioctl(cmd, &r);
}

static int attach(unsigned long cmd, __u64 id, const char *dev, char *used)
{
	struct nitro_attach a = { .size = sizeof(a), .id = id };
	int rc;

	if (dev)
		memcpy(a.device, dev, strnlen(dev, sizeof(a.device) - 1));
	rc = xioctl(cmd, &a);
	if (used)
		snprintf(used, NITRO_DEVNAME_LEN, "%s", rc ? "" : a.device);
	return rc;
}

static int vol_describe(__u64 id, struct nitro_volume_info *info)
{
	struct nitro_volume_describe d = { .size = sizeof(d), .id = id };
	int rc = xioctl(NITRO_IOC_VOLUME_DESCRIBE, &d);

	if (info)
		*info = d.info;
	return rc;
}

static int eni_create(__u32 vpc, const char *ip, const __u8 *mac, const char *name, struct nitro_eni_create *out)
{
	struct nitro_eni_create c = { .size = sizeof(c), .vpc = vpc };
	int rc;

	inet_pton(AF_INET, ip, &c.ipv4);
	if (mac)
		memcpy(c.mac, mac, 6);
	if (name)
		memcpy(c.name, name, strnlen(name, sizeof(c.name) - 1));
	rc = xioctl(NITRO_IOC_ENI_CREATE, &c);
	if (out)
		*out = c;
	return rc;
}

static int eni_describe(__u64 id, struct nitro_eni_info *info)
{
	struct nitro_eni_describe d = { .size = sizeof(d), .id = id };
	int rc = xioctl(NITRO_IOC_ENI_DESCRIBE, &d);

	if (info)
		*info = d.info;
	return rc;
}

/* Lists all volumes with pages of @cap; returns how many, -errno on error. */
static int vol_count(void)
{
	struct nitro_volume_info buf[64];
	struct nitro_list l;
	int n = 0;
	__u64 cursor = 0;

	do {
		memset(&l, 0, sizeof(l));
		l.size = sizeof(l);
		l.entries = (uintptr_t)buf;
		l.cap = 64;
		l.cursor = cursor;
		if (xioctl(NITRO_IOC_VOLUME_LIST, &l))
			return -errno;
		n += l.count;
		cursor = l.cursor;
	} while (l.more);
	return n;
}

#define GIB (1ULL << 30)

static void test_volume_lifecycle(void)
{
	struct nitro_volume_info i;
	__u64 a, b;
	char used[NITRO_DEVNAME_LEN];
	int rc;

	rc = vol_create(NITRO_VOLUME_EBS, GIB, 0, "data1", &a);
	ksft_test_result(rc == 0 && a != 0 && vol_describe(a, &i) == 0 && i.id == a &&
			 i.kind == NITRO_VOLUME_EBS && i.state == NITRO_STATE_AVAILABLE &&
			 i.size_bytes == GIB && i.block_size == 4096 && !strcmp(i.name, "data1") &&
			 !strcmp(i.card, "nitro_testcard.ebs0") && i.device[0] == 0,
			 "volume create: available, 4096-byte blocks by default, on the EBS card (vol-0%016llx)\n",
			 (unsigned long long)a);

	rc = vol_create(NITRO_VOLUME_INSTANCE, 64 << 20, 512, NULL, &b);
	ksft_test_result(rc == 0 && vol_describe(b, &i) == 0 && i.block_size == 512 &&
			 i.kind == NITRO_VOLUME_INSTANCE && !strcmp(i.card, "nitro_testcard.instance0") &&
			 i.name[0] == 0,
			 "instance-storage volume with 512-byte blocks, no name, on the instance card\n");

	rc = attach(NITRO_IOC_VOLUME_ATTACH, a, "sdf", used);
	ksft_test_result(rc == 0 && !strcmp(used, "sdf") && vol_describe(a, &i) == 0 &&
			 i.state == NITRO_STATE_ATTACHED && !strcmp(i.device, "sdf"),
			 "attach as sdf: attached, device recorded\n");

	ksft_test_result(attach(NITRO_IOC_VOLUME_ATTACH, a, "sdg", NULL) == -EBUSY &&
			 attach(NITRO_IOC_VOLUME_ATTACH, b, "sdf", NULL) == -EEXIST &&
			 attach(NITRO_IOC_VOLUME_ATTACH, b, "", NULL) == -EINVAL &&
			 attach(NITRO_IOC_VOLUME_ATTACH, b, "SDF", NULL) == -EINVAL &&
			 attach(NITRO_IOC_VOLUME_ATTACH, b, "sd/f", NULL) == -EINVAL &&
			 attach(NITRO_IOC_VOLUME_ATTACH, 12345, "sdh", NULL) == -ENOENT,
			 "attach: attached EBUSY, device taken EEXIST, empty/bad device EINVAL, unknown ENOENT\n");

	rc = ref(NITRO_IOC_VOLUME_DELETE, a);
	ksft_test_result(rc == -EBUSY && vol_describe(a, &i) == 0 && i.state == NITRO_STATE_ATTACHED,
			 "delete of an attached volume: EBUSY, still attached (%d)\n", rc);

	rc = ref(NITRO_IOC_VOLUME_DETACH, a);
	ksft_test_result(rc == 0 && vol_describe(a, &i) == 0 && i.state == NITRO_STATE_AVAILABLE &&
			 i.device[0] == 0 && ref(NITRO_IOC_VOLUME_DETACH, a) == -EINVAL &&
			 attach(NITRO_IOC_VOLUME_ATTACH, b, "sdf", NULL) == 0 &&
			 ref(NITRO_IOC_VOLUME_DETACH, b) == 0,
			 "detach: available, device freed for others; detaching again EINVAL\n");

	ksft_test_result(ref(NITRO_IOC_VOLUME_DELETE, a) == 0 && vol_describe(a, NULL) == -ENOENT &&
			 ref(NITRO_IOC_VOLUME_DELETE, a) == -ENOENT &&
			 ref(NITRO_IOC_VOLUME_DETACH, a) == -ENOENT &&
			 ref(NITRO_IOC_VOLUME_DELETE, b) == 0,
			 "delete: gone (describe, delete and detach give ENOENT)\n");
}

static void test_volume_bad_input(void)
{
	struct nitro_volume_create c;
	struct nitro_object_ref r = { .size = sizeof(r), .reserved = 1 };
	struct nitro_attach at = { .size = sizeof(at), .reserved = 1, .device = "sdx" };
	int before = vol_count(), bad = 0, n;
	__u64 id;

#define BAD(expr, err) do { if ((expr) != (err)) { bad++; ksft_print_msg("%s: expected %d\n", #expr, err); } } while (0)
	BAD(vol_create(9, GIB, 0, NULL, NULL), -EINVAL);
	BAD(vol_create(0, GIB, 0, NULL, NULL), -EINVAL);
	BAD(vol_create(NITRO_VOLUME_EBS, 0, 0, NULL, NULL), -EINVAL);
	BAD(vol_create(NITRO_VOLUME_EBS, GIB + 512, 0, NULL, NULL), -EINVAL);
	BAD(vol_create(NITRO_VOLUME_EBS, GIB, 1024, NULL, NULL), -EINVAL);
	BAD(vol_create(NITRO_VOLUME_EBS, (64ULL << 40) + 4096, 0, NULL, NULL), -EINVAL);
	BAD(vol_create(NITRO_VOLUME_EBS, GIB, 0, "has space", NULL), -EINVAL);
	memset(&c, 0, sizeof(c));
	c.size = sizeof(c); c.kind = NITRO_VOLUME_EBS; c.size_bytes = GIB; c.flags = 1;
	BAD(xioctl(NITRO_IOC_VOLUME_CREATE, &c), -EINVAL);
	c.flags = 0; c.id = 5;
	BAD(xioctl(NITRO_IOC_VOLUME_CREATE, &c), -EINVAL);
	c.id = 0; memset(c.name, 'a', sizeof(c.name));
	BAD(xioctl(NITRO_IOC_VOLUME_CREATE, &c), -EINVAL);
	memset(c.name, 0, sizeof(c.name)); strcpy(c.name, "ok"); c.name[10] = 'x';
	BAD(xioctl(NITRO_IOC_VOLUME_CREATE, &c), -EINVAL);
	c.size = 40;
	BAD(xioctl(NITRO_IOC_VOLUME_CREATE, &c), -EINVAL);
	BAD(vol_create(NITRO_VOLUME_EBS, GIB, 0, "dup", &id), 0);
	BAD(vol_create(NITRO_VOLUME_INSTANCE, GIB, 0, "dup", NULL), -EEXIST);
	r.id = id;
	BAD(xioctl(NITRO_IOC_VOLUME_DELETE, &r), -EINVAL);
	at.id = id;
	BAD(xioctl(NITRO_IOC_VOLUME_ATTACH, &at), -EINVAL);
	BAD(vol_describe(0, NULL), -ENOENT);
	BAD(ref(NITRO_IOC_VOLUME_DELETE, id), 0);
	n = vol_count();
	ksft_test_result(bad == 0 && n == before,
			 "volume bad input: EINVAL for kind, size, block size, flags, id, name, truncated struct and reserved; EEXIST for a taken name; nothing created (%d -> %d)\n",
			 before, n);
}

static void test_volume_efault(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct nitro_volume_create *c = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int before = vol_count(), rc, rc2;

	c->size = sizeof(*c);
	c->kind = NITRO_VOLUME_EBS;
	c->size_bytes = GIB;
	mprotect(c, pg, PROT_READ);
	rc = xioctl(NITRO_IOC_VOLUME_CREATE, c);
	rc2 = xioctl(NITRO_IOC_VOLUME_CREATE, (void *)16);
	ksft_test_result(rc == -EFAULT && rc2 == -EFAULT && vol_count() == before,
			 "create into a read-only or bad buffer: EFAULT and no volume left behind\n");
	munmap(c, pg);
}

static void test_injected_failures(void)
{
	struct nitro_volume_info i;
	__u64 a = 0, d = 0, x = 0;
	int before = vol_count(), ok = 1;

	/* the card refuses to provision: nothing is recorded */
	if (vol_create(NITRO_VOLUME_EBS, GIB, 0, "fail-create-1", NULL) != -EIO || vol_count() != before)
		ok = 0;
	ksft_test_result(ok, "card refuses create: EIO, nothing recorded\n");

	ok = vol_create(NITRO_VOLUME_EBS, GIB, 0, "fail-attach-1", &a) == 0 &&
	     attach(NITRO_IOC_VOLUME_ATTACH, a, "xvdq", NULL) == -EIO &&
	     vol_describe(a, &i) == 0 && i.state == NITRO_STATE_AVAILABLE && i.device[0] == 0 &&
	     vol_create(NITRO_VOLUME_EBS, GIB, 0, NULL, &x) == 0 &&
	     attach(NITRO_IOC_VOLUME_ATTACH, x, "xvdq", NULL) == 0;
	ksft_test_result(ok, "card refuses attach: EIO, volume available, device name still free\n");

	ok = vol_create(NITRO_VOLUME_EBS, GIB, 0, "fail-detach-1", &d) == 0 &&
	     attach(NITRO_IOC_VOLUME_ATTACH, d, "xvdr", NULL) == 0 &&
	     ref(NITRO_IOC_VOLUME_DETACH, d) == -EIO &&
	     vol_describe(d, &i) == 0 && i.state == NITRO_STATE_ATTACHED && !strcmp(i.device, "xvdr") &&
	     attach(NITRO_IOC_VOLUME_ATTACH, x, "xvdr", NULL) == -EBUSY;
	ksft_test_result(ok, "card refuses detach: EIO, volume still attached with its device\n");

	ok = vol_create(NITRO_VOLUME_EBS, GIB, 0, "fail-delete-1", &d) == 0 &&
	     ref(NITRO_IOC_VOLUME_DELETE, d) == -EIO &&
	     vol_describe(d, &i) == 0 && i.state == NITRO_STATE_AVAILABLE;
	ksft_test_result(ok, "card refuses delete: EIO, volume still available\n");
}

static void test_enis(void)
{
	struct nitro_eni_create e1, e2;
	struct nitro_eni_info i;
	char used[NITRO_DEVNAME_LEN], used2[NITRO_DEVNAME_LEN];
	const __u8 mac[6] = { 0x02, 0xaa, 0, 0, 0, 1 }, mcast[6] = { 0x03, 0, 0, 0, 0, 1 };
	int rc, bad = 0;

	rc = eni_create(7, "10.0.0.5", NULL, "web", &e1);
	ksft_test_result(rc == 0 && e1.id && (e1.mac[0] & 3) == 2 && eni_describe(e1.id, &i) == 0 &&
			 i.vpc == 7 && i.ipv4 == e1.ipv4 && !memcmp(i.mac, e1.mac, 6) &&
			 i.state == NITRO_STATE_AVAILABLE && !strcmp(i.card, "nitro_testcard.vpc0") &&
			 !strcmp(i.name, "web"),
			 "ENI create: generated MAC is locally administered unicast, VPC and address recorded\n");

	BAD(eni_create(7, "10.0.0.5", NULL, NULL, NULL), -EEXIST);
	BAD(eni_create(8, "10.0.0.5", mac, NULL, &e2), 0);
	BAD(eni_create(9, "10.0.0.6", mac, NULL, NULL), -EEXIST);
	BAD(eni_create(0, "10.0.0.7", NULL, NULL, NULL), -EINVAL);
	BAD(eni_create(1 << 24, "10.0.0.7", NULL, NULL, NULL), -EINVAL);
	BAD(eni_create(7, "10.0.0.7", mcast, NULL, NULL), -EINVAL);
	BAD(eni_create(7, "0.0.0.0", NULL, NULL, NULL), -EINVAL);
	BAD(eni_create(7, "255.255.255.255", NULL, NULL, NULL), -EINVAL);
	BAD(eni_create(7, "224.0.0.1", NULL, NULL, NULL), -EINVAL);
	BAD(eni_create(7, "10.0.0.8", NULL, "web", NULL), -EEXIST);
	{
		struct nitro_eni_create c = { .size = sizeof(c), .vpc = 7, .pad = { 1 } };

		inet_pton(AF_INET, "10.0.0.9", &c.ipv4);
		BAD(xioctl(NITRO_IOC_ENI_CREATE, &c), -EINVAL);
	}
	ksft_test_result(bad == 0,
			 "ENI bad input: same address in a VPC or same MAC EEXIST (same address in another VPC is fine), bad VPC/MAC/IPv4/pad EINVAL\n");

	rc = attach(NITRO_IOC_ENI_ATTACH, e1.id, NULL, used);
	ksft_test_result(rc == 0 && used[0] && eni_describe(e1.id, &i) == 0 &&
			 i.state == NITRO_STATE_ATTACHED && !strcmp(i.device, used),
			 "ENI attach without a name: the card names the interface (%s)\n", used);

	rc = attach(NITRO_IOC_ENI_ATTACH, e2.id, "guest0", used2);
	ksft_test_result(rc == 0 && !strcmp(used2, "guest0") &&
			 attach(NITRO_IOC_ENI_ATTACH, e2.id, NULL, NULL) == -EBUSY &&
			 ref(NITRO_IOC_ENI_DELETE, e2.id) == -EBUSY,
			 "ENI attach with a name; attached ENI: attach and delete EBUSY\n");

	ksft_test_result(attach(NITRO_IOC_ENI_ATTACH, 99, NULL, NULL) == -ENOENT &&
			 ref(NITRO_IOC_ENI_DETACH, e1.id) == 0 && ref(NITRO_IOC_ENI_DETACH, e1.id) == -EINVAL &&
			 attach(NITRO_IOC_ENI_ATTACH, e1.id, "a/b", NULL) == -EINVAL &&
			 ref(NITRO_IOC_ENI_DETACH, e2.id) == 0 &&
			 ref(NITRO_IOC_ENI_DELETE, e1.id) == 0 && ref(NITRO_IOC_ENI_DELETE, e2.id) == 0 &&
			 eni_describe(e1.id, NULL) == -ENOENT,
			 "ENI detach, delete; unknown ENOENT, bad interface name EINVAL\n");
}

/* Lists volumes in pages of @cap, checking order; returns the count or -1. */
static int walk(int cap, __u64 *seen, int max)
{
	struct nitro_volume_info *buf = calloc(cap ? cap : 1, sizeof(*buf));
	struct nitro_list l;
	__u64 cursor = 0, last = 0;
	int n = 0;

	do {
		memset(&l, 0, sizeof(l));
		l.size = sizeof(l);
		l.entries = (uintptr_t)buf;
		l.cap = cap;
		l.cursor = cursor;
		if (xioctl(NITRO_IOC_VOLUME_LIST, &l) || l.count > (unsigned)cap) {
			n = -1;
			break;
		}
		for (unsigned int j = 0; j < l.count; j++) {
			if (buf[j].id <= last || n >= max) {
				n = -1;
				goto out;
			}
			last = buf[j].id;
			seen[n++] = last;
		}
		if (l.count && l.cursor != last) {
			n = -1;
			break;
		}
		cursor = l.cursor;
	} while (l.more);
out:
	free(buf);
	return n;
}

static void test_pagination(void)
{
	enum { N = 10000 };
	static __u64 ids[N], seen[N + 1];
	struct nitro_volume_info buf[4];
	unsigned char wide[3 * 256];
	struct nitro_list l;
	int created = 0, n, rc, zero_ok = 1;

	n = vol_count();
	ksft_test_result(n == 0, "list: empty to start with (%d)\n", n);

	for (int j = 0; j < N; j++)
		if (vol_create(NITRO_VOLUME_INSTANCE, 1 << 20, 0, NULL, &ids[j]) == 0)
			created++;

	memset(&l, 0, sizeof(l));
	l.size = sizeof(l);
	rc = xioctl(NITRO_IOC_VOLUME_LIST, &l);
	ksft_test_result(created == N && rc == 0 && l.count == 0 && l.more == 1,
			 "list with cap 0: nothing written, more=1 (%d created)\n", created);

	memset(buf, 0xaa, sizeof(buf));
	memset(&l, 0, sizeof(l));
	l.size = sizeof(l);
	l.entries = (uintptr_t)buf;
	l.cap = 1;
	rc = xioctl(NITRO_IOC_VOLUME_LIST, &l);
	ksft_test_result(rc == 0 && l.count == 1 && l.more == 1 && l.cursor == buf[0].id &&
			 buf[1].id == 0xaaaaaaaaaaaaaaaaULL,
			 "list with cap 1: one entry, cursor at it, the next slot untouched\n");

	n = walk(4096, seen, N + 1);
	ksft_test_result(n == N, "ten thousand volumes listed in pages of 4096: %d, ascending, no repeats\n", n);
	n = walk(7, seen, N + 1);
	ksft_test_result(n == N, "and in pages of 7: %d\n", n);

	/* exactly a page: the last volumes fit exactly, more must be 0 */
	memset(&l, 0, sizeof(l));
	l.size = sizeof(l);
	l.entries = (uintptr_t)buf;
	l.cap = 4;
	l.cursor = seen[N - 5];
	rc = xioctl(NITRO_IOC_VOLUME_LIST, &l);
	ksft_test_result(rc == 0 && l.count == 4 && l.more == 0 && l.cursor == seen[N - 1],
			 "a page that ends exactly at the last volume says more=0\n");

	memset(wide, 0xaa, sizeof(wide));
	memset(&l, 0, sizeof(l));
	l.size = sizeof(l);
	l.entries = (uintptr_t)wide;
	l.cap = 3;
	l.entry_size = 256;
	rc = xioctl(NITRO_IOC_VOLUME_LIST, &l);
	for (int j = 0; j < 3; j++)
		for (int k = sizeof(struct nitro_volume_info); k < 256; k++)
			if (wide[j * 256 + k])
				zero_ok = 0;
	ksft_test_result(rc == 0 && l.count == 3 && zero_ok &&
			 ((struct nitro_volume_info *)(wide + 256))->id == seen[1],
			 "entries larger than the kernel's: written at their stride, tails zeroed\n");

	{
		int e1, e2, e3, e4, e5;

		memset(&l, 0, sizeof(l)); l.size = sizeof(l); l.entries = (uintptr_t)buf; l.cap = 2; l.entry_size = 16;
		e1 = xioctl(NITRO_IOC_VOLUME_LIST, &l);
		memset(&l, 0, sizeof(l)); l.size = sizeof(l); l.entries = (uintptr_t)buf; l.cap = NITRO_LIST_MAX + 1;
		e2 = xioctl(NITRO_IOC_VOLUME_LIST, &l);
		memset(&l, 0, sizeof(l)); l.size = sizeof(l); l.cap = 2;
		e3 = xioctl(NITRO_IOC_VOLUME_LIST, &l);
		memset(&l, 0, sizeof(l)); l.size = sizeof(l); l.entries = 16; l.cap = 2;
		e4 = xioctl(NITRO_IOC_VOLUME_LIST, &l);
		memset(&l, 0, sizeof(l)); l.size = sizeof(l); l.entries = (uintptr_t)buf; l.cap = 2; l.cursor = ~0ULL;
		e5 = xioctl(NITRO_IOC_VOLUME_LIST, &l);
		ksft_test_result(e1 == -EINVAL && e2 == -EINVAL && e3 == -EINVAL && e4 == -EFAULT &&
				 e5 == 0 && l.count == 0 && l.more == 0,
				 "list: small entries, cap over 4096, cap without array EINVAL; bad array EFAULT; cursor at the end: empty\n");
	}

	n = 0;
	for (int j = 0; j < N; j++)
		if (ref(NITRO_IOC_VOLUME_DELETE, ids[j]) == 0)
			n++;
	ksft_test_result(n == N && vol_count() == 0, "all ten thousand deleted, list empty again\n");
}

static int metrics(__u32 scope, __u64 id, struct nitro_metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->size = sizeof(*m);
	m->scope = scope;
	m->id = id;
	return xioctl(NITRO_IOC_METRICS, m);
}

static void test_metrics(void)
{
	struct nitro_metrics m;
	__u64 id;
	int ok, e1, e2, e3, e4;

	ok = vol_create(NITRO_VOLUME_EBS, GIB, 0, NULL, &id) == 0 &&
	     attach(NITRO_IOC_VOLUME_ATTACH, id, "sdm", NULL) == 0 &&
	     metrics(NITRO_METRICS_VOLUME, id, &m) == 0 && m.read_ops == 2;
	ksft_test_result(ok, "volume metrics come from its card (test card: 2 requests so far, got %llu)\n",
			 (unsigned long long)m.read_ops);

	/* cards in status order: nitro_ctrl's test setup has sec, then the test card's three */
	ok = metrics(NITRO_METRICS_CARD, 1, &m) == 0 && m.requests >= 2 && m.objects >= 1;
	ksft_test_result(ok, "card metrics: requests %llu, failures %llu, objects %u\n",
			 (unsigned long long)m.requests, (unsigned long long)m.failures, m.objects);

	e1 = metrics(NITRO_METRICS_VOLUME, 77, &m);
	e2 = metrics(9, id, &m);
	e3 = metrics(NITRO_METRICS_CARD, 99, &m);
	memset(&m, 0, sizeof(m));
	m.size = sizeof(m); m.scope = NITRO_METRICS_VOLUME; m.id = id; m.drops = 1;
	e4 = xioctl(NITRO_IOC_METRICS, &m);
	ksft_test_result(e1 == -ENOENT && e2 == -EINVAL && e3 == -ENOENT && e4 == -EINVAL,
			 "metrics: unknown volume or card ENOENT, bad scope or output field set EINVAL\n");
	ref(NITRO_IOC_VOLUME_DETACH, id);
	ref(NITRO_IOC_VOLUME_DELETE, id);
}

static void test_audit(void)
{
	struct nitro_audit_entry e[1024];
	struct nitro_list l = { .size = sizeof(l), .entries = (uintptr_t)e, .cap = 1024 };
	__u64 id, last = 0;
	int found_busy = 0, found_create = 0, found_fail = 0, rc, ordered = 1;

	vol_create(NITRO_VOLUME_EBS, GIB, 0, "audited", &id);
	attach(NITRO_IOC_VOLUME_ATTACH, id, "sdz", NULL);
	ref(NITRO_IOC_VOLUME_DELETE, id);           /* EBUSY */
	vol_create(NITRO_VOLUME_EBS, 3, 0, NULL, NULL); /* EINVAL, no id */
	ref(NITRO_IOC_VOLUME_DETACH, id);
	ref(NITRO_IOC_VOLUME_DELETE, id);

	/* read the tail: walk from the start to the end */
	do {
		l.count = 0;
		l.more = 0;
		rc = xioctl(NITRO_IOC_AUDIT, &l);
		if (rc)
			break;
		for (unsigned int j = 0; j < l.count; j++) {
			if (e[j].seq <= last)
				ordered = 0;
			last = e[j].seq;
			if (e[j].id == id && e[j].op == 0x10 && e[j].result == 0 && e[j].uid == 0 && e[j].time_ns)
				found_create = 1;
			if (e[j].id == id && e[j].op == 0x11 && e[j].result == -EBUSY)
				found_busy = 1;
			if (e[j].id == 0 && e[j].op == 0x10 && e[j].result == -EINVAL)
				found_fail = 1;
		}
	} while (l.more);
	ksft_test_result(rc == 0 && ordered && found_create && found_busy && found_fail,
			 "audit log: the create (uid 0, time), the refused delete (EBUSY) and the failed create (EINVAL, no id), in sequence order\n");
}

/*
 * One stress worker: random operations on the shared pool of volumes, none
 * of which is ever deleted while the workers run: ENOENT is never right.
 * Counts in *busy the attaches and detaches that found the volume busy (in
 * another worker's hands).
 */
static int stress_worker(int w, __u64 *pool, int npool, int iters, int *busy)
{
	unsigned int seed = 1234 + w;
	int unexpected = 0;

	for (int k = 0; k < iters; k++) {
		__u64 id = pool[rand_r(&seed) % npool];
		char dev[16];
		int rc, op = rand_r(&seed) % 5;

		snprintf(dev, sizeof(dev), "s%dx%d", w, rand_r(&seed) % 4);
		switch (op) {
		case 0:
		case 1:
			rc = attach(NITRO_IOC_VOLUME_ATTACH, id, dev, NULL);
			if (rc && rc != -EBUSY && rc != -EEXIST)
				unexpected++;
			*busy += rc == -EBUSY;
			break;
		case 2:
		case 3:
			rc = ref(NITRO_IOC_VOLUME_DETACH, id);
			if (rc && rc != -EBUSY && rc != -EINVAL)
				unexpected++;
			*busy += rc == -EBUSY;
			break;
		default: {
			/* create and delete a private volume, and read a shared one */
			__u64 mine;

			rc = vol_create(NITRO_VOLUME_INSTANCE, 1 << 20, 0, NULL, &mine);
			if (rc || ref(NITRO_IOC_VOLUME_DELETE, mine))
				unexpected++;
			rc = vol_describe(id, NULL);
			if (rc)
				unexpected++;
		}
		}
	}
	return unexpected > 255 ? 255 : unexpected;
}

static void test_stress(void)
{
	enum { POOL = 16, WORKERS = 4, ITERS = 400 };
	__u64 pool[POOL];
	struct nitro_volume_info i;
	struct nitro_status s = { .size = sizeof(s) };
	struct nitro_card_info cards[8];
	pid_t pids[WORKERS];
	int bad_children = 0, inconsistent = 0, attached = 0, made = 0, busy = 0;
	int *busy_of = mmap(NULL, WORKERS * sizeof(int), PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char devs[POOL][NITRO_DEVNAME_LEN];
	__u32 card_objects = 0;

	if (busy_of == MAP_FAILED)
		ksft_exit_fail_perror("mmap");
	for (int j = 0; j < POOL; j++)
		made += vol_create(NITRO_VOLUME_EBS, GIB, 0, NULL, &pool[j]) == 0;
	for (int w = 0; w < WORKERS; w++) {
		busy_of[w] = 0;
		pids[w] = fork();
		if (pids[w] == 0)
			_exit(stress_worker(w, pool, POOL, ITERS, &busy_of[w]));
	}
	for (int w = 0; w < WORKERS; w++) {
		int st;

		if (waitpid(pids[w], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			bad_children++;
	}
	/* consistent: every volume settled, device iff attached, devices unique */
	for (int j = 0; j < POOL; j++) {
		devs[j][0] = 0;
		if (vol_describe(pool[j], &i)) {
			inconsistent++;
			continue;
		}
		if (i.state == NITRO_STATE_ATTACHED && i.device[0]) {
			attached++;
			strcpy(devs[j], i.device);
			for (int k = 0; k < j; k++)
				if (!strcmp(devs[k], devs[j]))
					inconsistent++;
		} else if (i.state != NITRO_STATE_AVAILABLE || i.device[0]) {
			inconsistent++;
		}
	}
	/* the card holds exactly what the registry holds */
	s.cards = (uintptr_t)cards;
	s.cards_cap = 8;
	if (xioctl(NITRO_IOC_STATUS, &s) == 0)
		for (unsigned int j = 0; j < s.ncards && j < 8; j++)
			if (cards[j].kind == NITRO_CARD_EBS || cards[j].kind == NITRO_CARD_INSTANCE_STORE)
				card_objects += cards[j].objects;
	for (int w = 0; w < WORKERS; w++)
		busy += busy_of[w];
	munmap(busy_of, WORKERS * sizeof(int));
	ksft_test_result(made == POOL && bad_children == 0 && inconsistent == 0 &&
			 card_objects == (unsigned)vol_count(),
			 "stress: %d processes x %d random attach/detach/create/delete on %d volumes: only expected errnos (EBUSY %d times, never ENOENT), registry consistent (%d attached), card holds the same %u volumes\n",
			 WORKERS, ITERS, made, busy, attached, card_objects);
	for (int j = 0; j < POOL; j++) {
		ref(NITRO_IOC_VOLUME_DETACH, pool[j]);
		ref(NITRO_IOC_VOLUME_DELETE, pool[j]);
	}
}

static void test_unprivileged_create(void)
{
	int before = vol_count(), status = -1;
	pid_t pid = fork();

	if (pid == 0) {
		if (setresuid(65534, 65534, 65534))
			_exit(10);
		_exit(vol_create(NITRO_VOLUME_EBS, GIB, 0, NULL, NULL) == -EPERM ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	ksft_test_result(WIFEXITED(status) && WEXITSTATUS(status) == 0 && vol_count() == before,
			 "unprivileged create: EPERM, nothing created\n");
}

int main(void)
{
	ksft_print_header();
	ksft_set_plan(33);
	fd = open("/dev/" NITRO_CTRL_DEVICE, O_RDWR);
	if (fd < 0)
		ksft_exit_fail_perror("open /dev/" NITRO_CTRL_DEVICE);

	test_pagination();
	test_volume_lifecycle();
	test_volume_bad_input();
	test_volume_efault();
	test_injected_failures();
	test_enis();
	test_metrics();
	test_audit();
	test_stress();
	test_unprivileged_create();
	close(fd);
	ksft_finished();
}
