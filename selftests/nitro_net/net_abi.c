// SPDX-License-Identifier: GPL-2.0
/*
 * net_abi: the VPC card's host commands (Documentation/vpc.rst, "Controller
 * commands"), good and bad input, from the ABI header.
 *
 * Expects nitro_net loaded and the boot gate open (the tests before it leave
 * them so). Makes its own underlay: a network namespace "nabi" with
 * 192.0.2.1/24 (and a few more addresses of 192.0.2.0/24) on a veth. Every
 * refused command must leave the host as it was: its maps, peers and ENIs,
 * as NITRO_IOC_HOST_DESCRIBE counts them, are checked after each one. What it
 * made (ENIs, hosts, the namespace) is deleted at exit, also on failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <linux/nitro.h>
#include "kselftest.h"
#include "vpc_abi.h"

#define NS "nabi"
#define NS_PATH "/run/netns/" NS
#define TMPFILE "/tmp/net_abi.file"
/* Extra underlay addresses 192.0.2.FIRST_EXTRA.. for filling the card. */
#define FIRST_EXTRA 10
/* 192.0.2.5: its port 6081 is taken by a socket of this program. */
#define TAKEN "192.0.2.5"

/*
 * Loads veth the way selftests/lib.sh kmod() does (the test kernel's module
 * tree when tools/vm.sh shares it), then makes the namespace.
 */
static const char setup_sh[] =
	"mods=/tmp/nitro-kernel/.virtme_mods; "
	"if [ -d $mods/lib/modules ]; then "
	"modprobe -d $mods -S $(ls $mods/lib/modules | head -1) veth; "
	"else modprobe veth; fi; "
	"ip netns del " NS "; "
	"ip netns add " NS " && "
	"ip -n " NS " link add nabi0 type veth peer name nabi1 && "
	"ip -n " NS " addr add 192.0.2.1/24 dev nabi0 && "
	"ip -n " NS " addr add " TAKEN "/24 dev nabi0 && "
	"for i in $(seq 10 26); do ip -n " NS " addr add 192.0.2.$i/24 dev nabi0 || exit 1; done && "
	"ip -n " NS " link set nabi0 up && ip -n " NS " link set nabi1 up && "
	"ip -n " NS " link set lo up";

static int nsfd = -1;

/* What this program made and has not deleted yet: deleted at exit. */
static __u32 hosts[NITRO_HOSTS_MAX + 8];
static int nhosts;
static __u64 enis[8];
static int nenis;


/* The ioctl number re-encoded with another struct size. */
static unsigned long resized(unsigned long cmd, unsigned int size)
{
	return (cmd & ~((unsigned long)_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
	       ((unsigned long)size << _IOC_SIZESHIFT);
}



static void forget_host(__u32 h)
{
	for (int i = 0; i < nhosts; i++)
		if (hosts[i] == h) {
			hosts[i] = hosts[--nhosts];
			return;
		}
}

static int host_create_in(int netns, __u32 addr, __u32 *host)
{
	struct nitro_host_create c = {
		.size = sizeof(c), .netns_fd = netns, .underlay_ipv4 = addr,
	};
	int rc = xioctl(NITRO_IOC_HOST_CREATE, &c);

	if (rc == 0 && nhosts < (int)(sizeof(hosts) / sizeof(hosts[0])))
		hosts[nhosts++] = c.host;
	if (host)
		*host = rc ? 0 : c.host;
	return rc;
}

static int host_create(const char *addr, __u32 *host)
{
	return host_create_in(nsfd, ip(addr), host);
}

static int host_delete(__u32 h)
{
	struct nitro_host_info i = { .size = sizeof(i), .host = h };
	int rc = xioctl(NITRO_IOC_HOST_DELETE, &i);

	if (rc == 0)
		forget_host(h);
	return rc;
}

static int host_describe(__u32 h, struct nitro_host_info *out)
{
	struct nitro_host_info i = { .size = sizeof(i), .host = h };
	int rc = xioctl(NITRO_IOC_HOST_DESCRIBE, &i);

	if (out)
		*out = i;
	return rc;
}

/* 1 if host h exists and counts exactly these maps, peers and ENIs. */
static int counts_are(__u32 h, __u32 maps, __u32 peers, __u32 nenis_on)
{
	struct nitro_host_info i;

	if (host_describe(h, &i))
		return 0;
	if (i.maps != maps || i.peers != peers || i.enis != nenis_on)
		ksft_print_msg("host %u: maps %u peers %u enis %u, expected %u %u %u\n", h,
			       i.maps, i.peers, i.enis, maps, peers, nenis_on);
	return i.maps == maps && i.peers == peers && i.enis == nenis_on;
}

/* Hosts that exist now (any creator), by describing every number. */
static int hosts_existing(__u32 *lowest)
{
	int n = 0;

	if (lowest)
		*lowest = 0;
	for (__u32 h = 1; h <= NITRO_HOSTS_MAX; h++)
		if (host_describe(h, NULL) == 0) {
			if (lowest && !*lowest)
				*lowest = h;
			n++;
		}
	return n;
}

/* A mapping entry: VPC vpc, address addr, MAC 02:00:00:00:42:<mac_last>. */
static struct nitro_map map(__u32 host, __u32 vpc, const char *addr, __u8 mac_last,
			    const char *underlay, __u32 flags)
{
	struct nitro_map m = {
		.size = sizeof(m), .host = host, .vpc = vpc, .ipv4 = ip(addr),
		.mac = { 0x02, 0, 0, 0, 0x42, mac_last }, .underlay_ipv4 = ip(underlay),
		.flags = flags,
	};

	return m;
}

static int map_set(struct nitro_map m)
{
	return xioctl(NITRO_IOC_MAP_SET, &m);
}

static int map_delete(__u32 host, __u32 vpc, const char *addr)
{
	struct nitro_map m = { .size = sizeof(m), .host = host, .vpc = vpc, .ipv4 = ip(addr) };

	return xioctl(NITRO_IOC_MAP_DELETE, &m);
}

static struct nitro_peer_key peer_key(__u32 host, const char *peer, __u32 epoch, __u8 fill)
{
	struct nitro_peer_key k = { .size = sizeof(k), .host = host, .peer_ipv4 = ip(peer), .epoch = epoch };

	memset(k.key, fill, sizeof(k.key));
	return k;
}

static int key_set(struct nitro_peer_key k)
{
	return xioctl(NITRO_IOC_PEER_KEY, &k);
}


static int eni_create_sized(__u32 size, __u32 host, __u32 vpc, const char *addr, __u8 mac_last,
			    __u64 *id)
{
	struct nitro_eni_create c = {
		.size = size, .vpc = vpc, .ipv4 = ip(addr),
		.mac = { 0x02, 0, 0, 0, 0x99, mac_last }, .host = host,
	};
	int rc = xioctl(size == sizeof(c) ? NITRO_IOC_ENI_CREATE :
			resized(NITRO_IOC_ENI_CREATE, size), &c);

	if (rc == 0 && nenis < (int)(sizeof(enis) / sizeof(enis[0])))
		enis[nenis++] = c.id;
	if (id)
		*id = rc ? 0 : c.id;
	return rc;
}

static int eni_create(__u32 host, __u32 vpc, const char *addr, __u8 mac_last, __u64 *id)
{
	return eni_create_sized(sizeof(struct nitro_eni_create), host, vpc, addr, mac_last, id);
}

static int eni_delete(__u64 id)
{
	int rc = ref(NITRO_IOC_ENI_DELETE, id);

	for (int i = 0; rc == 0 && i < nenis; i++)
		if (enis[i] == id) {
			enis[i] = enis[--nenis];
			break;
		}
	return rc;
}

static int eni_host(__u64 id)
{
	struct nitro_eni_describe d = { .size = sizeof(d), .id = id };

	return xioctl(NITRO_IOC_ENI_DESCRIBE, &d) ? -1 : (int)d.info.host;
}

static int eni_count(void)
{
	struct nitro_eni_info buf[64];
	struct nitro_list l = { .size = sizeof(l), .entries = (uintptr_t)buf, .cap = 64 };

	if (xioctl(NITRO_IOC_ENI_LIST, &l))
		return -1;
	return l.more ? -1 : (int)l.count;
}

/* Highest audit sequence number now (0 if the log is empty). */
static __u64 audit_last(void)
{
	static struct nitro_audit_entry e[1024];
	struct nitro_list l = { .size = sizeof(l), .entries = (uintptr_t)e, .cap = 1024 };
	__u64 last = 0;

	do {
		l.count = 0;
		l.more = 0;
		if (xioctl(NITRO_IOC_AUDIT, &l))
			return 0;
		if (l.count)
			last = e[l.count - 1].seq;
	} while (l.more);
	return last;
}

/*
 * Audit entries after sequence number since with this op and, if exact,
 * this result and id.
 */
static int audit_scan(__u64 since, __u32 op, int exact, __s32 result, __u64 id)
{
	static struct nitro_audit_entry e[1024];
	struct nitro_list l = { .size = sizeof(l), .entries = (uintptr_t)e, .cap = 1024 };
	int n = 0;

	do {
		l.count = 0;
		l.more = 0;
		if (xioctl(NITRO_IOC_AUDIT, &l))
			return -1;
		for (__u32 j = 0; j < l.count; j++)
			if (e[j].seq > since && e[j].op == op &&
			    (!exact || (e[j].result == result && e[j].id == id)))
				n++;
	} while (l.more);
	return n;
}

static int audit_count(__u64 since, __u32 op, __s32 result, __u64 id)
{
	return audit_scan(since, op, 1, result, id);
}

/* Audit entries after since with this op, whatever their result and id. */
static int audit_count_op(__u64 since, __u32 op)
{
	return audit_scan(since, op, 0, 0, 0);
}

/* Binds a UDP socket to addr:6081 inside the namespace; returns it or -1. */
static int take_port(const char *addr)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET, .sin_port = htons(NITRO_GENEVE_PORT),
		.sin_addr.s_addr = ip(addr),
	};
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), s = -1;

	if (self < 0)
		return -1;
	if (setns(nsfd, CLONE_NEWNET) == 0) {
		s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa))) {
			close(s);
			s = -1;
		}
		if (setns(self, CLONE_NEWNET))
			ksft_exit_fail_perror("setns back to the test's namespace");
	}
	close(self);
	return s;
}

static void cleanup(void)
{
	while (nenis > 0) {
		__u64 id = enis[--nenis];

		ref(NITRO_IOC_ENI_DETACH, id);
		ref(NITRO_IOC_ENI_DELETE, id);
	}
	while (nhosts > 0) {
		struct nitro_host_info i = { .size = sizeof(i), .host = hosts[--nhosts] };

		xioctl(NITRO_IOC_HOST_DELETE, &i);
	}
	if (nsfd >= 0)
		close(nsfd);
	nsfd = -1;
	shell("ip netns del " NS);
	unlink(TMPFILE);
}

static void test_sizes(__u32 h)
{
	struct nitro_host_create c = { .size = NITRO_HOST_CREATE_SIZE_VER0 - 1, .netns_fd = nsfd,
				       .underlay_ipv4 = ip("192.0.2.1") };
	struct nitro_host_info i = { .size = NITRO_HOST_INFO_SIZE_VER0 - 1, .host = h };
	struct nitro_map m = map(h, 42, "10.8.0.1", 1, "192.0.2.2", NITRO_MAP_NITRO);
	struct nitro_peer_key k = peer_key(h, "192.0.2.2", 1, 0x11);
	int rc_c, rc_c0, rc_d, rc_del, rc_m, rc_md, rc_k;

	rc_c = xioctl(NITRO_IOC_HOST_CREATE, &c);
	c.size = 0;
	rc_c0 = xioctl(NITRO_IOC_HOST_CREATE, &c);
	rc_d = xioctl(NITRO_IOC_HOST_DESCRIBE, &i);
	rc_del = xioctl(NITRO_IOC_HOST_DELETE, &i);
	m.size = NITRO_MAP_SIZE_VER0 - 1;
	rc_m = xioctl(NITRO_IOC_MAP_SET, &m);
	rc_md = xioctl(NITRO_IOC_MAP_DELETE, &m);
	k.size = NITRO_PEER_KEY_SIZE_VER0 - 1;
	rc_k = xioctl(NITRO_IOC_PEER_KEY, &k);
	ksft_test_result(rc_c == -EINVAL && rc_c0 == -EINVAL && rc_d == -EINVAL &&
			 rc_del == -EINVAL && rc_m == -EINVAL && rc_md == -EINVAL &&
			 rc_k == -EINVAL && counts_are(h, 0, 0, 0),
			 "size below VER0: EINVAL for host create (and size 0), delete, describe, map set, map delete, peer key (%d %d %d %d %d %d %d)\n",
			 rc_c, rc_c0, rc_d, rc_del, rc_m, rc_md, rc_k);
}

static void test_describe(__u32 h)
{
	struct { struct nitro_host_info i; __u64 ext[2]; } big;
	struct nitro_host_info i;
	int rc, rc_big, rc_tail, rc_out;

	rc = host_describe(h, &i);
	ksft_test_result(rc == 0 && i.size == sizeof(i) && i.host == h &&
			 i.underlay_ipv4 == ip("192.0.2.1") && i.enis == 0 && i.maps == 0 &&
			 i.peers == 0 && i.tx_sealed == 0 && i.rx_sealed == 0 && i.tx_plain == 0 &&
			 i.rx_plain == 0 && i.rx_bad_auth == 0 && i.rx_replay == 0 &&
			 i.rx_no_key == 0 && i.rx_not_allowed == 0 && i.rx_malformed == 0 &&
			 i.tx_no_key == 0 && i.tx_errors == 0 && i.rx_backlog == 0,
			 "host describe: size %u, host %u, underlay %s, nothing mapped, keyed or counted yet (rc %d)\n",
			 i.size, i.host, inet_ntoa((struct in_addr){ .s_addr = i.underlay_ipv4 }), rc);

	memset(&big, 0, sizeof(big));
	big.i.size = sizeof(big);
	big.i.host = h;
	rc_big = xioctl(resized(NITRO_IOC_HOST_DESCRIBE, sizeof(big)), &big);
	if (rc_big == 0 && (big.i.size != sizeof(big.i) || big.i.underlay_ipv4 != ip("192.0.2.1") ||
			    big.ext[0] || big.ext[1]))
		rc_big = 1;
	memset(&big, 0, sizeof(big));
	big.i.size = sizeof(big);
	big.i.host = h;
	big.ext[1] = 1;
	rc_tail = xioctl(resized(NITRO_IOC_HOST_DESCRIBE, sizeof(big)), &big);
	memset(&i, 0, sizeof(i));
	i.size = sizeof(i);
	i.host = h;
	i.maps = 1; /* an output field */
	rc_out = xioctl(NITRO_IOC_HOST_DESCRIBE, &i);
	ksft_test_result(rc_big == 0 && rc_tail == -E2BIG && rc_out == -EINVAL,
			 "host describe: a larger struct with a zero tail is answered (size %zu, tail untouched), a non-zero tail E2BIG, an output field set EINVAL (%d %d %d)\n",
			 sizeof(big.i), rc_big, rc_tail, rc_out);

	/* A caller built before rx_backlog (v0, 112 bytes) gets its 112. */
	memset(&big, 0xa5, sizeof(big));
	memset(&big.i, 0, NITRO_HOST_INFO_SIZE_VER0);
	big.i.size = NITRO_HOST_INFO_SIZE_VER0;
	big.i.host = h;
	rc = xioctl(resized(NITRO_IOC_HOST_DESCRIBE, NITRO_HOST_INFO_SIZE_VER0), &big);
	ksft_test_result(rc == 0 && big.i.size == sizeof(big.i) &&
			 big.i.underlay_ipv4 == ip("192.0.2.1") &&
			 big.i.rx_backlog == 0xa5a5a5a5a5a5a5a5ULL,
			 "host describe v0 (%d bytes): answered, size says %u, nothing written past it (rc %d)\n",
			 NITRO_HOST_INFO_SIZE_VER0, big.i.size, rc);
}

static void test_create_bad(void)
{
	struct nitro_host_create c;
	int rc_flags, rc_res, rc_out, tmp, rc_file, rc_closed, rc_noaddr;
	int rc_addr[4];
	const char *bad[4] = { "0.0.0.0", "224.0.0.1", "255.255.255.255", "127.0.0.1" };
	int before = hosts_existing(NULL);

	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.netns_fd = nsfd;
	c.underlay_ipv4 = ip("192.0.2.1");
	c.flags = 1;
	rc_flags = xioctl(NITRO_IOC_HOST_CREATE, &c);
	c.flags = 0;
	c.reserved = 1;
	rc_res = xioctl(NITRO_IOC_HOST_CREATE, &c);
	c.reserved = 0;
	c.host = 3; /* an output field */
	rc_out = xioctl(NITRO_IOC_HOST_CREATE, &c);
	ksft_test_result(rc_flags == -EINVAL && rc_res == -EINVAL && rc_out == -EINVAL &&
			 hosts_existing(NULL) == before,
			 "host create with flags, reserved or the output field set: EINVAL (%d %d %d)\n",
			 rc_flags, rc_res, rc_out);

	for (int j = 0; j < 4; j++)
		rc_addr[j] = host_create(bad[j], NULL);
	ksft_test_result(rc_addr[0] == -EINVAL && rc_addr[1] == -EINVAL && rc_addr[2] == -EINVAL &&
			 rc_addr[3] == -EINVAL && hosts_existing(NULL) == before,
			 "host create with address 0, multicast, broadcast, loopback: EINVAL (%d %d %d %d)\n",
			 rc_addr[0], rc_addr[1], rc_addr[2], rc_addr[3]);

	tmp = open(TMPFILE, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	rc_file = host_create_in(tmp, ip("192.0.2.1"), NULL);
	if (tmp >= 0)
		close(tmp);
	rc_closed = host_create_in(1000, ip("192.0.2.1"), NULL);
	ksft_test_result(tmp >= 0 && rc_file == -EBADF && rc_closed == -EBADF &&
			 hosts_existing(NULL) == before,
			 "host create with netns_fd a regular file, or not open: EBADF (%d %d)\n",
			 rc_file, rc_closed);

	rc_noaddr = host_create("192.0.2.99", NULL);
	ksft_test_result(rc_noaddr == -EADDRNOTAVAIL && hosts_existing(NULL) == before,
			 "host create with an address not configured in the namespace: EADDRNOTAVAIL (%d)\n",
			 rc_noaddr);
}

/* What a child in a namespace of its own got from host create with -1. */
struct own_ns {
	int setup, rc_missing, rc_ok;
	__u32 host;
};

static void test_caller_ns(void)
{
	struct own_ns r = { .setup = -1 };
	struct nitro_host_info i = { 0 };
	int p[2], rc_desc = -1, rc_del = -1, status;
	pid_t pid;

	if (pipe(p))
		ksft_exit_fail_perror("pipe");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		/* Never runs the parent's atexit cleanup: _exit only. */
		r.setup = unshare(CLONE_NEWNET) ? -errno :
			  system("( ip link set lo up && ip addr add 192.0.2.1/32 dev lo ) >/dev/null 2>&1");
		if (r.setup == 0) {
			r.rc_missing = host_create_in(-1, ip("192.0.2.77"), NULL);
			r.rc_ok = host_create_in(-1, ip("192.0.2.1"), &r.host);
		}
		_exit(write(p[1], &r, sizeof(r)) == sizeof(r) ? 0 : 1);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &r, sizeof(r)) != sizeof(r))
		r.setup = -1;
	close(p[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	if (r.setup == 0 && r.rc_ok == 0) {
		/* The child's host outlives it (the host holds its namespace). */
		if (nhosts < (int)(sizeof(hosts) / sizeof(hosts[0])))
			hosts[nhosts++] = r.host;
		rc_desc = host_describe(r.host, &i);
		rc_del = host_delete(r.host);
	}
	ksft_test_result(r.setup == 0 && r.rc_missing == -EADDRNOTAVAIL && r.rc_ok == 0 &&
			 rc_desc == 0 && i.underlay_ipv4 == ip("192.0.2.1") && rc_del == 0,
			 "netns_fd -1 is the caller's namespace: 192.0.2.77 EADDRNOTAVAIL there, 192.0.2.1 a host of its own beside nabi's (setup %d, %d %d, describe %d, delete %d)\n",
			 r.setup, r.rc_missing, r.rc_ok, rc_desc, rc_del);
}

static void test_create_conflicts(__u32 h)
{
	int ns2 = open(NS_PATH, O_RDONLY | O_CLOEXEC);
	int rc_same, rc_other_fd, rc_port, s, before = hosts_existing(NULL);

	rc_same = host_create("192.0.2.1", NULL);
	rc_other_fd = ns2 >= 0 ? host_create_in(ns2, ip("192.0.2.1"), NULL) : -EBADF;
	if (ns2 >= 0)
		close(ns2);
	ksft_test_result(rc_same == -EEXIST && rc_other_fd == -EEXIST &&
			 hosts_existing(NULL) == before && counts_are(h, 0, 0, 0),
			 "host create for a namespace and address that have a host (same or another descriptor): EEXIST (%d %d)\n",
			 rc_same, rc_other_fd);

	s = take_port(TAKEN);
	rc_port = host_create(TAKEN, NULL);
	if (s >= 0)
		close(s);
	ksft_test_result(s >= 0 && rc_port == -EADDRINUSE && hosts_existing(NULL) == before,
			 "host create where a socket already has " TAKEN ":%d: EADDRINUSE (%d)\n",
			 NITRO_GENEVE_PORT, rc_port);
}

static void test_full(void)
{
	__u32 made[NITRO_HOSTS_MAX], extra;
	int existing = hosts_existing(NULL), n = 0, distinct = 1, in_range = 1, rc = 0, rc_full;
	int gone = 1;
	char addr[32];

	for (int j = existing; j < NITRO_HOSTS_MAX; j++) {
		snprintf(addr, sizeof(addr), "192.0.2.%d", FIRST_EXTRA + n);
		rc = host_create(addr, &made[n]);
		if (rc)
			break;
		n++;
	}
	snprintf(addr, sizeof(addr), "192.0.2.%d", FIRST_EXTRA + n);
	rc_full = host_create(addr, &extra);
	for (int j = 0; j < n; j++) {
		if (made[j] < 1 || made[j] > NITRO_HOSTS_MAX)
			in_range = 0;
		for (int k = 0; k < j; k++)
			if (made[k] == made[j])
				distinct = 0;
	}
	ksft_test_result(rc == 0 && existing + n == NITRO_HOSTS_MAX && rc_full == -ENOSPC &&
			 distinct && in_range,
			 "%d hosts: numbered 1 to %d, each once; one more: ENOSPC (%d)\n",
			 existing + n, NITRO_HOSTS_MAX, rc_full);
	for (int j = 0; j < n; j++)
		if (host_delete(made[j]) || host_describe(made[j], NULL) != -ENODEV)
			gone = 0;
	ksft_test_result(gone && hosts_existing(NULL) == existing,
			 "the %d extra hosts deleted: describe gives ENODEV for each\n", n);
}

static __u32 unused_host(void)
{
	for (__u32 h = NITRO_HOSTS_MAX; h >= 1; h--)
		if (host_describe(h, NULL) == -ENODEV)
			return h;
	return 0;
}

static void test_unknown_host(__u32 h)
{
	__u32 free = unused_host();
	struct nitro_map m = map(99, 42, "10.8.0.1", 1, "192.0.2.2", NITRO_MAP_NITRO);
	struct nitro_peer_key k = peer_key(99, "192.0.2.2", 1, 0x11);
	int rc_del = host_delete(99), rc_desc = host_describe(99, NULL);
	int rc_del_free = free ? host_delete(free) : -ENODEV;
	int rc_desc_free = free ? host_describe(free, NULL) : -ENODEV;
	int rc_m = map_set(m), rc_md = map_delete(99, 42, "10.8.0.1"), rc_k = key_set(k);
	int before = eni_count(), rc_eni = eni_create(99, 42, "10.8.0.1", 1, NULL);
	int rc_eni_free = free ? eni_create(free, 42, "10.8.0.1", 1, NULL) : -ENODEV;

	ksft_test_result(rc_del == -ENODEV && rc_desc == -ENODEV && rc_del_free == -ENODEV &&
			 rc_desc_free == -ENODEV,
			 "host delete and describe of host 99 and of unused host %u: ENODEV (%d %d %d %d)\n",
			 free, rc_del, rc_desc, rc_del_free, rc_desc_free);
	ksft_test_result(rc_m == -ENODEV && rc_md == -ENODEV && rc_k == -ENODEV &&
			 counts_are(h, 0, 0, 0),
			 "map set, map delete, peer key on host 99: ENODEV (%d %d %d)\n", rc_m, rc_md, rc_k);
	ksft_test_result(rc_eni == -EINVAL && rc_eni_free == -ENODEV && before >= 0 &&
			 eni_count() == before,
			 "ENI create on host 99 (above NITRO_HOSTS_MAX): EINVAL; on unused host %u: ENODEV; no ENI made (%d %d)\n",
			 free, rc_eni, rc_eni_free);
}

static void test_map_bad(__u32 h)
{
	struct nitro_map m;
	int rc[6];

	m = map(h, 0, "10.8.0.1", 1, "192.0.2.2", NITRO_MAP_NITRO);
	rc[0] = map_set(m);
	m.vpc = NITRO_VPC_MAX + 1;
	rc[1] = map_set(m);
	m.vpc = 0xffffffff;
	rc[2] = map_set(m);
	ksft_test_result(rc[0] == -EINVAL && rc[1] == -EINVAL && rc[2] == -EINVAL &&
			 counts_are(h, 0, 0, 0),
			 "map set with VPC 0, 0x1000000, 0xffffffff: EINVAL (%d %d %d)\n",
			 rc[0], rc[1], rc[2]);

	rc[0] = map_set(map(h, 42, "0.0.0.0", 1, "192.0.2.2", NITRO_MAP_NITRO));
	rc[1] = map_set(map(h, 42, "224.0.0.5", 1, "192.0.2.2", NITRO_MAP_NITRO));
	rc[2] = map_set(map(h, 42, "255.255.255.255", 1, "192.0.2.2", NITRO_MAP_NITRO));
	ksft_test_result(rc[0] == -EINVAL && rc[1] == -EINVAL && rc[2] == -EINVAL &&
			 counts_are(h, 0, 0, 0),
			 "map set with inner address 0, multicast, broadcast: EINVAL (%d %d %d)\n",
			 rc[0], rc[1], rc[2]);

	m = map(h, 42, "10.8.0.1", 1, "192.0.2.2", NITRO_MAP_NITRO);
	memset(m.mac, 0, sizeof(m.mac));
	rc[0] = map_set(m);
	m.mac[0] = 0x01; /* multicast bit */
	m.mac[5] = 1;
	rc[1] = map_set(m);
	memset(m.mac, 0xff, sizeof(m.mac));
	rc[2] = map_set(m);
	ksft_test_result(rc[0] == -EINVAL && rc[1] == -EINVAL && rc[2] == -EINVAL &&
			 counts_are(h, 0, 0, 0),
			 "map set with MAC zero, multicast, broadcast: EINVAL (%d %d %d)\n",
			 rc[0], rc[1], rc[2]);

	m = map(h, 42, "10.8.0.1", 1, "192.0.2.2", 2);
	rc[0] = map_set(m);
	m.flags = 0x80000000 | NITRO_MAP_NITRO;
	rc[1] = map_set(m);
	m.flags = NITRO_MAP_NITRO;
	m.pad[0] = 1;
	rc[2] = map_set(m);
	m.pad[0] = 0;
	m.pad[1] = 1;
	rc[3] = map_set(m);
	ksft_test_result(rc[0] == -EINVAL && rc[1] == -EINVAL && rc[2] == -EINVAL &&
			 rc[3] == -EINVAL && counts_are(h, 0, 0, 0),
			 "map set with unknown flags or pad set: EINVAL (%d %d %d %d)\n",
			 rc[0], rc[1], rc[2], rc[3]);

	rc[0] = map_set(map(h, 42, "10.8.0.1", 1, "0.0.0.0", NITRO_MAP_NITRO));
	rc[1] = map_set(map(h, 42, "10.8.0.1", 1, "239.1.1.1", NITRO_MAP_NITRO));
	rc[2] = map_set(map(h, 42, "10.8.0.1", 1, "192.0.2.1", NITRO_MAP_NITRO));
	rc[3] = map_set(map(h, 42, "10.8.0.1", 1, "192.0.2.1", 0));
	ksft_test_result(rc[0] == -EINVAL && rc[1] == -EINVAL && rc[2] == -EINVAL &&
			 rc[3] == -EINVAL && counts_are(h, 0, 0, 0),
			 "map set with underlay 0, multicast, or the host's own (Nitro or plain): EINVAL (%d %d %d %d)\n",
			 rc[0], rc[1], rc[2], rc[3]);
}

static void test_map_good(__u32 h)
{
	int rc1, rc2, rc3, rc_mac, rc_other_vpc, rc_plain;

	rc1 = map_set(map(h, 42, "10.8.0.1", 1, "192.0.2.2", NITRO_MAP_NITRO));
	rc2 = map_set(map(h, 42, "10.8.0.2", 2, "192.0.2.2", NITRO_MAP_NITRO));
	ksft_test_result(rc1 == 0 && rc2 == 0 && counts_are(h, 2, 0, 0),
			 "map set: two entries in VPC 42, the host counts 2 maps (%d %d)\n", rc1, rc2);

	/* The key is (VPC, address): setting it again replaces the entry. */
	rc3 = map_set(map(h, 42, "10.8.0.1", 1, "192.0.2.3", 0));
	ksft_test_result(rc3 == 0 && counts_are(h, 2, 0, 0),
			 "map set of an existing (VPC, address) replaces it: still 2 maps (%d)\n", rc3);

	rc_mac = map_set(map(h, 42, "10.8.0.3", 1, "192.0.2.2", NITRO_MAP_NITRO));
	ksft_test_result(rc_mac == -EEXIST && counts_are(h, 2, 0, 0),
			 "map set with the MAC of another address in the same VPC: EEXIST (%d)\n", rc_mac);

	rc_other_vpc = map_set(map(h, 43, "10.8.0.1", 1, "192.0.2.2", NITRO_MAP_NITRO));
	rc_plain = map_set(map(h, 43, "10.8.0.9", 9, "198.51.100.2", 0));
	ksft_test_result(rc_other_vpc == 0 && rc_plain == 0 && counts_are(h, 4, 0, 0),
			 "the same address and MAC in another VPC, and a plain peer: accepted, 4 maps (%d %d)\n",
			 rc_other_vpc, rc_plain);
}

static void test_map_delete(__u32 h)
{
	struct nitro_map m;
	int rc_missing, rc_missing_vpc, rc[4], rc_ok, rc_again;

	rc_missing = map_delete(h, 42, "10.8.0.77");
	rc_missing_vpc = map_delete(h, 44, "10.8.0.1");
	ksft_test_result(rc_missing == -ENOENT && rc_missing_vpc == -ENOENT && counts_are(h, 4, 0, 0),
			 "map delete of an entry that does not exist (address, or VPC): ENOENT (%d %d)\n",
			 rc_missing, rc_missing_vpc);

	/* One field besides host, VPC and address set at a time. */
	for (int j = 0; j < 4; j++) {
		memset(&m, 0, sizeof(m));
		m.size = sizeof(m);
		m.host = h;
		m.vpc = 42;
		m.ipv4 = ip("10.8.0.2");
		if (j == 0)
			m.mac[5] = 2;
		else if (j == 1)
			m.underlay_ipv4 = ip("192.0.2.2");
		else if (j == 2)
			m.flags = NITRO_MAP_NITRO;
		else
			m.pad[1] = 1;
		rc[j] = xioctl(NITRO_IOC_MAP_DELETE, &m);
	}
	ksft_test_result(rc[0] == -EINVAL && rc[1] == -EINVAL && rc[2] == -EINVAL &&
			 rc[3] == -EINVAL && counts_are(h, 4, 0, 0),
			 "map delete with MAC, underlay, flags or pad set: EINVAL, entry kept (%d %d %d %d)\n",
			 rc[0], rc[1], rc[2], rc[3]);

	rc_ok = map_delete(h, 42, "10.8.0.2");
	rc_again = map_delete(h, 42, "10.8.0.2");
	ksft_test_result(rc_ok == 0 && rc_again == -ENOENT && counts_are(h, 3, 0, 0),
			 "map delete: the entry goes (3 maps), deleting it again: ENOENT (%d %d)\n",
			 rc_ok, rc_again);
}

static void test_keys(__u32 h)
{
	struct nitro_peer_key k;
	int rc[5], rc_ok, rc_same, rc_lower, rc_first, rc_up, rc_other;

	rc[0] = key_set(peer_key(h, "192.0.2.2", 0, 0x11));
	rc[1] = key_set(peer_key(h, "192.0.2.2", 1, 0));
	rc[2] = key_set(peer_key(h, "192.0.2.1", 1, 0x11));
	rc[3] = key_set(peer_key(h, "0.0.0.0", 1, 0x11));
	rc[4] = key_set(peer_key(h, "224.0.0.9", 1, 0x11));
	ksft_test_result(rc[0] == -EINVAL && rc[1] == -EINVAL && rc[2] == -EINVAL &&
			 rc[3] == -EINVAL && rc[4] == -EINVAL && counts_are(h, 3, 0, 0),
			 "peer key with epoch 0, an all-zero key, the host's own address, peer 0 or multicast: EINVAL (%d %d %d %d %d)\n",
			 rc[0], rc[1], rc[2], rc[3], rc[4]);

	/* Only the last byte set: not all zero. */
	k = peer_key(h, "192.0.2.2", 5, 0);
	k.key[NITRO_PEER_KEY_LEN - 1] = 1;
	rc_ok = key_set(k);
	ksft_test_result(rc_ok == 0 && counts_are(h, 3, 1, 0),
			 "peer key epoch 5 (a key with one non-zero byte) installed: 1 peer (%d)\n", rc_ok);

	rc_same = key_set(peer_key(h, "192.0.2.2", 5, 0x22));
	rc_lower = key_set(peer_key(h, "192.0.2.2", 4, 0x22));
	rc_first = key_set(peer_key(h, "192.0.2.2", 1, 0x22));
	ksft_test_result(rc_same == -ESTALE && rc_lower == -ESTALE && rc_first == -ESTALE &&
			 counts_are(h, 3, 1, 0),
			 "peer key with the same epoch again, or a lower one: ESTALE (%d %d %d)\n",
			 rc_same, rc_lower, rc_first);

	rc_up = key_set(peer_key(h, "192.0.2.2", 6, 0x33));
	rc_other = key_set(peer_key(h, "192.0.2.3", 1, 0x44));
	ksft_test_result(rc_up == 0 && rc_other == 0 && counts_are(h, 3, 2, 0),
			 "peer key epoch 6 (rotation) keeps 1 peer; a key for another peer makes 2 (%d %d)\n",
			 rc_up, rc_other);
}

static void test_enis(__u32 h)
{
	__u32 lowest;
	__u64 id, id0 = 0, idv0 = 0;
	int rc, rc_addr, rc_mac, rc_busy, rc0, rcv0, on_h, on0, onv0;

	rc = eni_create(h, 42, "10.9.0.1", 1, &id);
	on_h = rc ? -1 : eni_host(id);
	ksft_test_result(rc == 0 && on_h == (int)h && counts_are(h, 3, 2, 1),
			 "ENI create on host %u: describe names the host (%d), the host counts 1 ENI (%d)\n",
			 h, on_h, rc);

	rc_addr = map_set(map(h, 42, "10.9.0.1", 0x31, "192.0.2.2", NITRO_MAP_NITRO));
	/* 02:00:00:00:99:01 is the ENI's MAC */
	{
		struct nitro_map m = map(h, 42, "10.9.0.2", 0, "192.0.2.2", NITRO_MAP_NITRO);

		m.mac[4] = 0x99;
		m.mac[5] = 1;
		rc_mac = map_set(m);
	}
	ksft_test_result(rc_addr == -EEXIST && rc_mac == -EEXIST && counts_are(h, 3, 2, 1),
			 "map set for the address or the MAC of an ENI of the host: EEXIST (%d %d)\n",
			 rc_addr, rc_mac);

	rc_busy = host_delete(h);
	ksft_test_result(rc_busy == -EBUSY && counts_are(h, 3, 2, 1),
			 "host delete of a host with an ENI: EBUSY, nothing changed (%d)\n", rc_busy);

	/* Host 0, and callers of the version-0 struct: the lowest-numbered host. */
	hosts_existing(&lowest);
	rc0 = eni_create(0, 42, "10.9.0.2", 2, &id0);
	rcv0 = eni_create_sized(NITRO_ENI_CREATE_SIZE_VER0, 0, 42, "10.9.0.3", 3, &idv0);
	on0 = rc0 ? -1 : eni_host(id0);
	onv0 = rcv0 ? -1 : eni_host(idv0);
	ksft_test_result(rc0 == 0 && rcv0 == 0 && lowest && on0 == (int)lowest &&
			 onv0 == (int)lowest,
			 "ENI create with host 0, and with the version-0 struct: on the lowest host %u (%d %d)\n",
			 lowest, on0, onv0);
	if (!rc0)
		eni_delete(id0);
	if (!rcv0)
		eni_delete(idv0);

	rc = eni_delete(id);
	ksft_test_result(rc == 0 && counts_are(h, 3, 2, 0),
			 "ENI deleted: the host counts 0 ENIs (%d)\n", rc);
}

static int allowance_set(__u64 id, __u64 in, __u64 out, __u64 pps, __u32 reserved)
{
	struct nitro_eni_allowance a = {
		.size = sizeof(a), .reserved = reserved, .id = id,
		.bw_in_bps = in, .bw_out_bps = out, .pps = pps,
	};

	return xioctl(NITRO_IOC_ENI_ALLOWANCE, &a);
}

/* The ENI's allowances as describe gives them: set[3], then enforced[3]. */
static int allowance_get(__u64 id, __u64 v[6])
{
	struct nitro_eni_describe d = { .size = sizeof(d), .id = id };
	int rc = xioctl(NITRO_IOC_ENI_DESCRIBE, &d);

	v[0] = d.info.bw_in_bps;
	v[1] = d.info.bw_out_bps;
	v[2] = d.info.pps;
	v[3] = d.info.eff_bw_in_bps;
	v[4] = d.info.eff_bw_out_bps;
	v[5] = d.info.eff_pps;
	return rc;
}

static int allowance_is(__u64 id, __u64 in, __u64 out, __u64 pps, __u64 ein, __u64 eout,
			__u64 epps)
{
	__u64 v[6];

	if (allowance_get(id, v))
		return 0;
	if (v[0] == in && v[1] == out && v[2] == pps && v[3] == ein && v[4] == eout && v[5] == epps)
		return 1;
	ksft_print_msg("allowance: %llu %llu %llu enforced %llu %llu %llu\n",
		       (unsigned long long)v[0], (unsigned long long)v[1], (unsigned long long)v[2],
		       (unsigned long long)v[3], (unsigned long long)v[4], (unsigned long long)v[5]);
	return 0;
}

static void test_allowance(__u32 h)
{
	const __u64 none = NITRO_ALLOWANCE_NONE;
	__u64 since = audit_last(), id = 0;
	int rc, rc_res, rc_lo, rc_hi, rc_pps0, rc_pps_hi, rc_noent, rc_set, rc_att, rc_chg, rc_det;
	struct nitro_attach at = { .size = sizeof(at) };

	rc = eni_create(h, 42, "10.9.0.40", 0x40, &id);
	rc_res = allowance_set(id, 100000000, 0, 0, 1);
	rc_lo = allowance_set(id, NITRO_ALLOWANCE_BPS_MIN - 1, 0, 0, 0);
	rc_hi = allowance_set(id, 0, NITRO_ALLOWANCE_BPS_MAX + 1, 0, 0);
	rc_pps0 = allowance_set(id, 0, 0, none - 1, 0);
	rc_pps_hi = allowance_set(id, 0, 0, NITRO_ALLOWANCE_PPS_MAX + 1, 0);
	rc_noent = allowance_set(id ^ 1, 100000000, 0, 0, 0);
	ksft_test_result(rc == 0 && rc_res == -EINVAL && rc_lo == -EINVAL && rc_hi == -EINVAL &&
			 rc_pps0 == -EINVAL && rc_pps_hi == -EINVAL && rc_noent == -ENOENT &&
			 allowance_is(id, 0, 0, 0, 0, 0, 0),
			 "allowance: reserved set, below or above the bounds: EINVAL; no such ENI: ENOENT; nothing set (%d %d %d %d %d %d)\n",
			 rc_res, rc_lo, rc_hi, rc_pps0, rc_pps_hi, rc_noent);

	rc_set = allowance_set(id, 100000000, none, 5000, 0);
	ksft_test_result(rc_set == 0 && allowance_is(id, 100000000, none, 5000, 0, 0, 0) &&
			 audit_count(since, 0x2c, 0, id) == 1 &&
			 audit_count(since, 0x2c, -EINVAL, id) == 5,
			 "allowance of an ENI not attached: recorded as set, nothing enforced; audited (%d)\n",
			 rc_set);

	at.id = id;
	rc_att = xioctl(NITRO_IOC_ENI_ATTACH, &at);
	rc = rc_att ? -1 : allowance_is(id, 100000000, none, 5000, 100000000, 0, 5000);
	rc_chg = allowance_set(id, 0, 200000000, none, 0);
	rc = rc == 1 && rc_chg == 0 && allowance_is(id, 0, 200000000, none, 0, 200000000, 0);
	rc_det = ref(NITRO_IOC_ENI_DETACH, id);
	ksft_test_result(rc_att == 0 && rc && rc_det == 0 &&
			 allowance_is(id, 0, 200000000, none, 0, 0, 0) && eni_delete(id) == 0,
			 "attached: the setting is enforced (no limit for NONE and, on the host, for 0), a change applies at once; detached: kept, not enforced (%d %d %d)\n",
			 rc_att, rc_chg, rc_det);
}

static void test_audit(void)
{
	__u64 since = audit_last();
	__u32 h = 0;
	int rc_c, rc_bad, rc_k, rc_d, rc_del, n_create, n_bad, n_key, n_desc, n_del;

	rc_c = host_create("192.0.2.26", &h);
	rc_bad = map_set(map(h, 0, "10.8.0.1", 1, "192.0.2.2", 0));
	rc_k = key_set(peer_key(h, "192.0.2.2", 1, 0x55));
	rc_d = host_describe(h, NULL);
	rc_del = host_delete(h);
	n_create = audit_count(since, 0x26, 0, h);
	n_bad = audit_count(since, 0x29, -EINVAL, h);
	n_key = audit_count(since, 0x2b, 0, h);
	n_del = audit_count(since, 0x27, 0, h);
	n_desc = audit_count_op(since, 0x28);
	ksft_test_result(rc_c == 0 && rc_bad == -EINVAL && rc_k == 0 && rc_d == 0 && rc_del == 0 &&
			 n_create == 1 && n_bad == 1 && n_key == 1 && n_del == 1 && n_desc == 0,
			 "audit: host create, the refused map set, the peer key and host delete are logged with the host number %u; describe is not (%d %d %d %d %d)\n",
			 h, n_create, n_bad, n_key, n_del, n_desc);
}

/* Seconds from a to b. */
static double secs(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) + (b->tv_nsec - a->tv_nsec) / 1e9;
}

/* Map entry n of a generated table: VPC vpc, 10.<n>, MAC 02:01:<n>. */
static struct nitro_map gen_map(__u32 host, __u32 vpc, __u32 n, __u32 flags)
{
	struct nitro_map m = {
		.size = sizeof(m), .host = host, .vpc = vpc,
		.ipv4 = htonl(0x0a000000u | (n + 1)),
		.mac = { 0x02, 0x01, n >> 24, n >> 16, n >> 8, n },
		.underlay_ipv4 = ip("192.0.2.2"), .flags = flags,
	};

	return m;
}

/* NITRO_IOC_MAP_BATCH of count entries at e; done gets the applied count. */
static int map_batch(__u32 host, struct nitro_map *e, __u32 count, __u32 flags, __u32 *done)
{
	struct nitro_map_batch b = {
		.size = sizeof(b), .host = host, .entries = (__u64)(uintptr_t)e,
		.count = count, .flags = flags,
	};
	int rc = xioctl(NITRO_IOC_MAP_BATCH, &b);

	if (done)
		*done = b.done;
	return rc;
}

/* Lists host h's whole table, cap entries a call, into out (room for max);
 * gives how many, or -errno. calls gets the number of calls made. */
static int map_list_all(__u32 h, struct nitro_map *out, int max, __u32 cap, int *calls)
{
	struct nitro_map_list l = { .size = sizeof(l), .host = h };
	int n = 0, rc;

	*calls = 0;
	do {
		if (n + (int)cap > max)
			return -ENOSPC;
		l.entries = (__u64)(uintptr_t)(out + n);
		l.cap = cap;
		l.count = 0;
		l.more = 0;
		rc = xioctl(NITRO_IOC_MAP_LIST, &l);
		(*calls)++;
		if (rc)
			return rc;
		n += l.count;
	} while (l.more);
	return n;
}

static int map_cmp(const void *a, const void *b)
{
	const struct nitro_map *x = a, *y = b;

	if (x->vpc != y->vpc)
		return x->vpc < y->vpc ? -1 : 1;
	return ntohl(x->ipv4) < ntohl(y->ipv4) ? -1 : ntohl(x->ipv4) > ntohl(y->ipv4);
}

/*
 * MAP_BATCH sets and deletes many entries in one call, stops at the first
 * that fails and says how many applied; MAP_LIST gives back exactly what
 * the table holds, page after page. Fails if a batch applies entries after
 * a bad one, miscounts done, takes bad input, audits per entry, or a list
 * loses, repeats or changes an entry.
 */
static void test_map_batch(void)
{
	enum { N = 3000 };
	static struct nitro_map e[N], got[N + 200];
	__u32 h = 0, done = 0, done_bad = 0, done_dup = 0, done_del = 0;
	int rc_c, rc, rc_bad, rc_dup, rc_flags, rc_count, rc_size, rc_host, rc_del, n, calls = 0;
	int same = 1, n_audit;
	__u64 since = audit_last();

	rc_c = host_create("192.0.2.26", &h);
	for (int i = 0; i < N; i++)
		e[i] = gen_map(h, 9, i, i % 3 ? NITRO_MAP_NITRO : 0);
	rc = rc_c ? rc_c : map_batch(h, e, N, 0, &done);
	n_audit = audit_count(since, 0x2d, 0, h);
	ksft_test_result(rc == 0 && done == N && counts_are(h, N, 0, 0) && n_audit == 1,
			 "map batch: %d entries in one call, done %u, the host counts them, one audit record (%d, %d records)\n",
			 N, done, rc, n_audit);

	/* Entry 5 of a new batch has a multicast MAC: 5 apply, then EINVAL. */
	for (int i = 0; i < 10; i++)
		e[i] = gen_map(h, 10, i, NITRO_MAP_NITRO);
	e[5].mac[0] = 0x03;
	rc_bad = map_batch(h, e, 10, 0, &done_bad);
	/* Entry 2 takes the MAC of entry 0 (another address): EEXIST after 2. */
	for (int i = 0; i < 4; i++)
		e[i] = gen_map(h, 11, i, NITRO_MAP_NITRO);
	memcpy(e[2].mac, e[0].mac, 6);
	rc_dup = map_batch(h, e, 4, 0, &done_dup);
	ksft_test_result(rc_bad == -EINVAL && done_bad == 5 && rc_dup == -EEXIST && done_dup == 2 &&
			 counts_are(h, N + 7, 0, 0),
			 "map batch stops at the first bad entry: EINVAL after 5, EEXIST after 2 (%d %u, %d %u)\n",
			 rc_bad, done_bad, rc_dup, done_dup);

	e[0] = gen_map(h, 12, 0, NITRO_MAP_NITRO);
	rc_flags = map_batch(h, e, 1, 2, NULL);
	rc_count = map_batch(h, e, 0, 0, NULL) == -EINVAL &&
		   map_batch(h, e, NITRO_MAP_BATCH_MAX + 1, 0, NULL) == -EINVAL;
	e[0].size = sizeof(e[0]) + 8;
	rc_size = map_batch(h, e, 1, 0, NULL);
	e[0] = gen_map(h + 1, 12, 0, NITRO_MAP_NITRO);
	rc_host = map_batch(h, e, 1, 0, NULL);
	ksft_test_result(rc_flags == -EINVAL && rc_count && rc_size == -EINVAL && rc_host == -EINVAL &&
			 map_batch(h, NULL, 1, 0, NULL) == -EFAULT && counts_are(h, N + 7, 0, 0),
			 "map batch: unknown flags, count 0 or above NITRO_MAP_BATCH_MAX, an entry of another size or host, a bad pointer: refused, nothing applied (%d %d %d %d)\n",
			 rc_flags, rc_count, rc_size, rc_host);

	/* The list gives each entry once, as set, in pages of 100. */
	n = map_list_all(h, got, N + 200, 100, &calls);
	for (int i = 0; i < N; i++)
		e[i] = gen_map(h, 9, i, i % 3 ? NITRO_MAP_NITRO : 0);
	if (n == N + 7) {
		qsort(got, n, sizeof(got[0]), map_cmp);
		/* VPC 9 sorts first: its N entries, then 7 of VPCs 10, 11. */
		for (int i = 0; i < N && same; i++)
			same = memcmp(&got[i], &e[i], sizeof(e[i])) == 0;
	}
	ksft_test_result(n == N + 7 && same && calls == (N + 7 + 99) / 100,
			 "map list: %d entries in %d pages of 100, each once and as set\n", n, calls);

	/* Delete the batch again (host, VPC, address only, as MAP_DELETE
	 * takes them); one of them twice: ENOENT there. */
	for (int i = 0; i < N; i++)
		e[i] = (struct nitro_map){ .size = sizeof(e[i]), .host = h, .vpc = 9,
					   .ipv4 = e[i].ipv4 };
	e[N - 1] = e[0];
	rc_del = map_batch(h, e, N, NITRO_MAP_BATCH_DELETE, &done_del);
	ksft_test_result(rc_del == -ENOENT && done_del == N - 1 && counts_are(h, 8, 0, 0),
			 "map batch delete: %u entries go, the one deleted twice: ENOENT (%d)\n",
			 done_del, rc_del);
	if (rc_c == 0)
		host_delete(h);
}

static void test_limits(void)
{
	static struct nitro_map e[NITRO_MAP_BATCH_MAX];
	__u32 h = 0, done = 0, total = 0;
	int rc_c, rc = 0, rc_full_map, rc_full_peer, p = 0, rc_del;
	char addr[32];

	struct timespec t0, t1, t2;

	rc_c = host_create("192.0.2.25", &h);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (__u32 base = 0; rc_c == 0 && rc == 0 && base < NITRO_MAPS_MAX;
	     base += NITRO_MAP_BATCH_MAX) {
		for (__u32 i = 0; i < NITRO_MAP_BATCH_MAX; i++)
			e[i] = gen_map(h, 7, base + i, NITRO_MAP_NITRO);
		rc = map_batch(h, e, NITRO_MAP_BATCH_MAX, 0, &done);
		total += done;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* An address the batches did not use (they hold 10.0.0.1 on). */
	rc_full_map = map_set(map(h, 7, "10.200.0.1", 1, "192.0.2.2", NITRO_MAP_NITRO));
	ksft_test_result(rc_c == 0 && rc == 0 && total == NITRO_MAPS_MAX && rc_full_map == -ENOSPC &&
			 counts_are(h, NITRO_MAPS_MAX, 0, 0),
			 "%u map entries on one host (in batches, %.1f s); one more: ENOSPC (%d)\n",
			 total, secs(&t0, &t1), rc_full_map);

	for (p = 0; rc_c == 0 && p < NITRO_PEERS_MAX; p++) {
		snprintf(addr, sizeof(addr), "198.%d.%d.%d", 18 + (p >> 14), (p >> 6) & 0xff,
			 (p & 0x3f) + 1);
		rc = key_set(peer_key(h, addr, 1, 0x66));
		if (rc)
			break;
	}
	clock_gettime(CLOCK_MONOTONIC, &t2);
	rc_full_peer = key_set(peer_key(h, "198.17.0.1", 1, 0x66));
	ksft_test_result(rc_c == 0 && rc == 0 && p == NITRO_PEERS_MAX &&
			 rc_full_peer == -ENOSPC && counts_are(h, NITRO_MAPS_MAX, NITRO_PEERS_MAX, 0),
			 "%d keyed peers on one host (%.1f s); one more: ENOSPC (%d)\n", p,
			 secs(&t1, &t2), rc_full_peer);

	rc_del = rc_c ? rc_c : host_delete(h);
	ksft_test_result(rc_del == 0 && host_describe(h, NULL) == -ENODEV,
			 "a host with full tables (maps and keys, no ENIs) is deleted (%d)\n", rc_del);
}

int main(void)
{
	__u32 h = 0;
	int rc;

	ksft_print_header();
	ksft_set_plan(51);
	atexit(cleanup);
	fd = open("/dev/" NITRO_CTRL_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		ksft_exit_fail_perror("open /dev/" NITRO_CTRL_DEVICE);
	if (shell(setup_sh))
		ksft_exit_fail_msg("setup: could not make namespace " NS " with 192.0.2.1/24 on a veth\n");
	nsfd = open(NS_PATH, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		ksft_exit_fail_perror("open " NS_PATH);

	rc = host_create("192.0.2.1", &h);
	ksft_test_result(rc == 0 && h >= 1 && h <= NITRO_HOSTS_MAX,
			 "host create in " NS " on 192.0.2.1: host %u (%d)\n", h, rc);
	if (rc)
		ksft_exit_fail_msg("no host: the rest cannot run\n");

	test_describe(h);          /* 2 */
	test_sizes(h);             /* 1 */
	test_create_bad();         /* 4 */
	test_caller_ns();           /* 1 */
	test_create_conflicts(h);  /* 2 */
	test_full();               /* 2 */
	test_unknown_host(h);      /* 3 */
	test_map_bad(h);           /* 5 */
	test_map_good(h);          /* 4 */
	test_map_delete(h);        /* 3 */
	test_keys(h);              /* 4 */
	test_enis(h);              /* 5 */
	test_allowance(h);         /* 3 */
	test_audit();              /* 1 */
	test_map_batch();          /* 5 */

	rc = host_delete(h);
	ksft_test_result(rc == 0 && host_describe(h, NULL) == -ENODEV && host_delete(h) == -ENODEV,
			 "host delete (with maps and keys left): describe and a second delete give ENODEV (%d)\n",
			 rc);

	test_limits();             /* 3 */

	cleanup();
	ksft_finished();
}
