// SPDX-License-Identifier: GPL-2.0
/*
 * ctrl_bench: control-plane throughput and latency of /dev/nitro_ctrl
 * (with nitro_testcard answering the bus). Pinned to one CPU. Reports
 * absolute figures and, because the VM runs under emulation here, each
 * figure as a multiple of a trivial ioctl measured side by side.
 *
 *   ctrl_bench             the measurements, as a table
 *   ctrl_bench fill N      create N instance volumes (for the list timing)
 *   ctrl_bench list        time one full listing by ioctl, in ms
 *   ctrl_bench clean       delete every volume
 *   ctrl_bench peers H N   give VPC card host H keys for N peers
 *                          (198.18.0.1 on, random keys, epoch 1), for the
 *                          VPC card's scale benchmark (net.sh); prints
 *                          the keys installed per second
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/nitro.h>

static int fd;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "ctrl_bench: %s: %s\n", what, strerror(errno));
		exit(1);
	}
}

static __u64 create(void)
{
	struct nitro_volume_create c = { .size = sizeof(c), .kind = NITRO_VOLUME_INSTANCE, .size_bytes = 1 << 20 };

	must(ioctl(fd, NITRO_IOC_VOLUME_CREATE, &c) == 0, "create");
	return c.id;
}

static void ref(unsigned long cmd, __u64 id)
{
	struct nitro_object_ref r = { .size = sizeof(r), .id = id };

	must(ioctl(fd, cmd, &r) == 0, "delete/detach");
}

static void attach(__u64 id)
{
	struct nitro_attach a = { .size = sizeof(a), .id = id, .device = "sdb" };

	must(ioctl(fd, NITRO_IOC_VOLUME_ATTACH, &a) == 0, "attach");
}

static void version(void)
{
	struct nitro_version v = { .size = sizeof(v) };

	must(ioctl(fd, NITRO_IOC_VERSION, &v) == 0, "version");
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct result {
	const char *name;
	double per_sec, p50_us, p99_us;
};

/* Runs op n times, timing each; fills r. */
static void measure(struct result *r, const char *name, int n, void (*op)(void))
{
	uint64_t *lat = calloc(n, sizeof(*lat)), start = now_ns();

	for (int i = 0; i < n; i++) {
		uint64_t t = now_ns();

		op();
		lat[i] = now_ns() - t;
	}
	r->per_sec = n / ((now_ns() - start) / 1e9);
	qsort(lat, n, sizeof(*lat), cmp);
	r->name = name;
	r->p50_us = lat[n / 2] / 1e3;
	r->p99_us = lat[n * 99 / 100] / 1e3;
	free(lat);
}

static void op_getppid(void) { syscall(SYS_getppid); }
static void op_version(void) { version(); }
static void op_create_delete(void) { ref(NITRO_IOC_VOLUME_DELETE, create()); }
static void op_full_cycle(void)
{
	__u64 id = create();

	attach(id);
	ref(NITRO_IOC_VOLUME_DETACH, id);
	ref(NITRO_IOC_VOLUME_DELETE, id);
}

/* Lists every volume in pages of 4096; returns how many. */
static int list_all(void)
{
	static struct nitro_volume_info buf[NITRO_LIST_MAX];
	struct nitro_list l;
	__u64 cursor = 0;
	int n = 0;

	do {
		memset(&l, 0, sizeof(l));
		l.size = sizeof(l);
		l.entries = (uintptr_t)buf;
		l.cap = NITRO_LIST_MAX;
		l.cursor = cursor;
		must(ioctl(fd, NITRO_IOC_VOLUME_LIST, &l) == 0, "list");
		n += l.count;
		cursor = l.cursor;
	} while (l.more);
	return n;
}

static void clean(void)
{
	static struct nitro_volume_info buf[NITRO_LIST_MAX];
	struct nitro_list l;

	do {
		memset(&l, 0, sizeof(l));
		l.size = sizeof(l);
		l.entries = (uintptr_t)buf;
		l.cap = NITRO_LIST_MAX;
		must(ioctl(fd, NITRO_IOC_VOLUME_LIST, &l) == 0, "list");
		for (unsigned int i = 0; i < l.count; i++) {
			struct nitro_object_ref r = { .size = sizeof(r), .id = buf[i].id };

			ioctl(fd, NITRO_IOC_VOLUME_DETACH, &r);
			ioctl(fd, NITRO_IOC_VOLUME_DELETE, &r);
		}
	} while (l.count);
}

int main(int argc, char **argv)
{
	cpu_set_t one;
	struct result r[4];

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	must(sched_setaffinity(0, sizeof(one), &one) == 0, "pin to CPU 0");
	fd = open("/dev/" NITRO_CTRL_DEVICE, O_RDWR);
	must(fd >= 0, "open /dev/nitro_ctrl");

	if (argc == 3 && !strcmp(argv[1], "fill")) {
		for (int i = atoi(argv[2]); i > 0; i--)
			create();
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "list")) {
		uint64_t t = now_ns();
		int n = list_all();

		printf("%d %.2f\n", n, (now_ns() - t) / 1e6);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "peers")) {
		int n = atoi(argv[3]), rnd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		uint64_t t0 = now_ns();

		must(rnd >= 0, "open /dev/urandom");
		for (int i = 0; i < n; i++) {
			struct nitro_peer_key k = {
				.size = sizeof(k), .host = atoi(argv[2]), .epoch = 1,
				/* 198.18.0.0/15 on, past .0 of each /24 */
				.peer_ipv4 = htonl(0xc6120000u + (i / 255) * 256 + i % 255 + 1),
			};

			must(read(rnd, k.key, sizeof(k.key)) == sizeof(k.key), "read a key");
			must(ioctl(fd, NITRO_IOC_PEER_KEY, &k) == 0, "NITRO_IOC_PEER_KEY");
		}
		printf("%.0f\n", n / ((now_ns() - t0) / 1e9));
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "clean")) {
		clean();
		return 0;
	}

	/* warm up the allocator and the caches */
	for (int i = 0; i < 2000; i++)
		op_create_delete();
	measure(&r[0], "getppid() syscall", 200000, op_getppid);
	measure(&r[1], "NITRO_IOC_VERSION", 100000, op_version);
	measure(&r[2], "create+delete", 50000, op_create_delete);
	measure(&r[3], "create+attach+detach+delete", 20000, op_full_cycle);

	printf("%-30s %12s %10s %10s %12s\n", "operation (one CPU)", "per second", "p50 us", "p99 us",
	       "x VERSION");
	for (int i = 0; i < 4; i++)
		printf("%-30s %12.0f %10.2f %10.2f %12.2f\n", r[i].name, r[i].per_sec, r[i].p50_us,
		       r[i].p99_us, r[1].per_sec / r[i].per_sec);
	return 0;
}
