// SPDX-License-Identifier: GPL-2.0
/*
 * sg_abi: the security group commands (NITRO_IOC_SG_CREATE, _DELETE,
 * _RULES, _LIST and NITRO_IOC_ENI_GROUPS; Documentation/vpc.rst), good and
 * bad input, from the ABI header.
 *
 * Expects nitro_net loaded and the boot gate open (the tests before it leave
 * them so). Makes its own underlay (a network namespace "sgabi" with
 * 192.0.2.1/24 on a veth) and a host there for its ENIs. Every refused
 * command must leave the groups as they were: their rules (read back
 * whole), their ENI counts and the list of groups are checked after each.
 * What it made (ENIs, groups, the host, the namespace) is deleted at exit,
 * also on failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <linux/nitro.h>
#include "kselftest.h"
#include "vpc_abi.h"

#define NS "sgabi"
#define NS_PATH "/run/netns/" NS
#define VPC 61
#define OTHER_VPC 62

static const char setup_sh[] =
	"mods=/tmp/nitro-kernel/.virtme_mods; "
	"if [ -d $mods/lib/modules ]; then "
	"modprobe -d $mods -S $(ls $mods/lib/modules | head -1) veth; "
	"else modprobe veth; fi; "
	"ip netns del " NS "; "
	"ip netns add " NS " && "
	"ip -n " NS " link add sgabi0 type veth peer name sgabi1 && "
	"ip -n " NS " addr add 192.0.2.1/24 dev sgabi0 && "
	"ip -n " NS " link set sgabi0 up && ip -n " NS " link set sgabi1 up && "
	"ip -n " NS " link set lo up";

static int nsfd = -1;
static __u32 host;

/* What this program made and has not deleted yet: deleted at exit. */
static __u64 enis[8];
static int nenis;
static __u64 sgs[NITRO_SGS_MAX + 8];
static int nsgs;





/* --- groups --- */

static int sg_create_vpc(__u32 vpc, __u64 *id)
{
	struct nitro_sg_create c = { .size = sizeof(c), .vpc = vpc };
	int rc = xioctl(NITRO_IOC_SG_CREATE, &c);

	if (rc == 0 && nsgs < (int)(sizeof(sgs) / sizeof(sgs[0])))
		sgs[nsgs++] = c.id;
	if (id)
		*id = rc ? 0 : c.id;
	return rc;
}

static void forget_sg(__u64 id)
{
	for (int i = 0; i < nsgs; i++)
		if (sgs[i] == id) {
			sgs[i] = sgs[--nsgs];
			return;
		}
}

static int sg_delete(__u64 id)
{
	int rc = ref(NITRO_IOC_SG_DELETE, id);

	if (rc == 0)
		forget_sg(id);
	return rc;
}

static int rules_set(__u64 id, const struct nitro_sg_rule *r, __u32 count)
{
	struct nitro_sg_rules s = {
		.size = sizeof(s), .id = id, .rules = (__u64)(uintptr_t)r, .count = count,
	};

	return xioctl(NITRO_IOC_SG_RULES, &s);
}

/* Reads up to cap rules into r; *out gets the answer (count: how many the group has). */
static int rules_get(__u64 id, struct nitro_sg_rule *r, __u32 cap, struct nitro_sg_rules *out)
{
	struct nitro_sg_rules s = {
		.size = sizeof(s), .flags = NITRO_SG_RULES_GET, .id = id,
		.rules = (__u64)(uintptr_t)r, .count = cap,
	};
	int rc = xioctl(NITRO_IOC_SG_RULES, &s);

	if (out)
		*out = s;
	return rc;
}

static const struct nitro_sg_rule egress_all = { .dir = NITRO_SG_EGRESS, .proto = NITRO_SG_PROTO_ALL };

static struct nitro_sg_rule rule(__u8 dir, __u8 proto, __u16 lo, __u16 hi, const char *cidr, __u8 len)
{
	struct nitro_sg_rule r = {
		.dir = dir, .proto = proto, .prefix_len = len, .port_min = lo, .port_max = hi,
		.cidr = ip(cidr),
	};

	return r;
}

/* 1 if group id has exactly these n rules, in this order, and these ENIs. */
static int rules_are(__u64 id, const struct nitro_sg_rule *want, __u32 n, __u32 enis_want)
{
	static struct nitro_sg_rule got[NITRO_SG_RULES_MAX + 1];
	struct nitro_sg_rules s;
	int rc = rules_get(id, got, NITRO_SG_RULES_MAX + 1, &s);

	if (rc || s.count != n || s.vpc == 0 || s.enis != enis_want ||
	    (n && memcmp(got, want, n * sizeof(*want)))) {
		ksft_print_msg("group %#llx: rc %d, %u rules, vpc %u, %u ENIs; expected %u rules, %u ENIs\n",
			       (unsigned long long)id, rc, s.count, s.vpc, s.enis, n, enis_want);
		return 0;
	}
	return 1;
}

/* An id that is none of the groups this program made (ids are random). */
static __u64 unused_sg(__u64 seed)
{
	__u64 id = seed;

	for (int i = 0; i < nsgs; i++)
		if (id == sgs[i] || !id) {
			id++;
			i = -1;
		}
	return id;
}

/* The groups that exist (any creator): how many; -1 on error. */
static int sg_count(void)
{
	static struct nitro_sg_info e[NITRO_LIST_MAX];
	struct nitro_list l = { .size = sizeof(l), .entries = (uintptr_t)e, .cap = NITRO_LIST_MAX };

	if (xioctl(NITRO_IOC_SG_LIST, &l))
		return -1;
	return l.more ? -1 : (int)l.count;
}

/* The list's entry for group id (1 if found). */
static int sg_find(__u64 id, struct nitro_sg_info *out)
{
	static struct nitro_sg_info e[NITRO_LIST_MAX];
	struct nitro_list l = { .size = sizeof(l), .entries = (uintptr_t)e, .cap = NITRO_LIST_MAX };

	if (xioctl(NITRO_IOC_SG_LIST, &l))
		return 0;
	for (__u32 i = 0; i < l.count; i++)
		if (e[i].id == id) {
			*out = e[i];
			return 1;
		}
	return 0;
}

/* --- ENIs --- */

static int eni_create(__u32 vpc, const char *addr, __u8 mac_last, __u64 *id)
{
	struct nitro_eni_create c = {
		.size = sizeof(c), .vpc = vpc, .ipv4 = ip(addr),
		.mac = { 0x02, 0, 0, 0, 0x61, mac_last }, .host = host,
	};
	int rc = xioctl(NITRO_IOC_ENI_CREATE, &c);

	if (rc == 0 && nenis < (int)(sizeof(enis) / sizeof(enis[0])))
		enis[nenis++] = c.id;
	if (id)
		*id = rc ? 0 : c.id;
	return rc;
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

static int groups_set(__u64 eni, const __u64 *g, __u32 count)
{
	struct nitro_eni_groups s = { .size = sizeof(s), .id = eni, .count = count };

	for (__u32 i = 0; i < count && i < NITRO_ENI_GROUPS_MAX; i++)
		s.groups[i] = g[i];
	return xioctl(NITRO_IOC_ENI_GROUPS, &s);
}

static int groups_get(__u64 eni, struct nitro_eni_groups *out)
{
	struct nitro_eni_groups s = { .size = sizeof(s), .flags = NITRO_ENI_GROUPS_GET, .id = eni };
	int rc = xioctl(NITRO_IOC_ENI_GROUPS, &s);

	*out = s;
	return rc;
}

/* 1 if the ENI has exactly these groups (in any order), the rest zero. */
static int groups_are(__u64 eni, const __u64 *want, __u32 n)
{
	struct nitro_eni_groups s;
	int rc = groups_get(eni, &s), found;

	if (rc || s.count != n)
		goto bad;
	for (__u32 i = n; i < NITRO_ENI_GROUPS_MAX; i++)
		if (s.groups[i])
			goto bad;
	for (__u32 i = 0; i < n; i++) {
		found = 0;
		for (__u32 j = 0; j < n; j++)
			found += s.groups[j] == want[i];
		if (found != 1)
			goto bad;
	}
	return 1;
bad:
	ksft_print_msg("ENI %#llx: rc %d, %u groups, expected %u\n", (unsigned long long)eni, rc,
		       s.count, n);
	return 0;
}

static int metrics(__u64 eni, struct nitro_metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->size = sizeof(*m);
	m->scope = NITRO_METRICS_ENI;
	m->id = eni;
	return xioctl(NITRO_IOC_METRICS, m);
}

static void cleanup(void)
{
	while (nenis > 0) {
		__u64 id = enis[--nenis];

		ref(NITRO_IOC_ENI_DETACH, id);
		groups_set(id, NULL, 0);
		ref(NITRO_IOC_ENI_DELETE, id);
	}
	/* Rules first: a group another's rules name cannot go. */
	for (int i = 0; i < nsgs; i++)
		rules_set(sgs[i], NULL, 0);
	while (nsgs > 0)
		ref(NITRO_IOC_SG_DELETE, sgs[--nsgs]);
	if (host) {
		struct nitro_host_info i = { .size = sizeof(i), .host = host };

		xioctl(NITRO_IOC_HOST_DELETE, &i);
		host = 0;
	}
	if (nsfd >= 0)
		close(nsfd);
	nsfd = -1;
	shell("ip netns del " NS);
}

/* --- the tests --- */

static void test_feature(void)
{
	struct nitro_version v = { .size = sizeof(v) };
	int rc = xioctl(NITRO_IOC_VERSION, &v);

	ksft_test_result(rc == 0 && (v.features & NITRO_FEAT_SECURITY_GROUPS),
			 "version: features %#llx include NITRO_FEAT_SECURITY_GROUPS (rc %d)\n",
			 (unsigned long long)v.features, rc);
}

static void test_create_bad(void)
{
	struct nitro_sg_create c;
	int before = sg_count(), rc[7];
	const __u32 vpcs[3] = { 0, NITRO_VPC_MAX + 1, 0xffffffff };

	for (int i = 0; i < 3; i++)
		rc[i] = sg_create_vpc(vpcs[i], NULL);
	ksft_test_result(rc[0] == -EINVAL && rc[1] == -EINVAL && rc[2] == -EINVAL &&
			 before >= 0 && sg_count() == before,
			 "sg create in VPC 0, NITRO_VPC_MAX + 1, 0xffffffff: EINVAL, no group made (%d %d %d)\n",
			 rc[0], rc[1], rc[2]);

	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.vpc = VPC;
	c.flags = 1;
	rc[3] = xioctl(NITRO_IOC_SG_CREATE, &c);
	c.flags = 0;
	c.reserved = 1;
	rc[4] = xioctl(NITRO_IOC_SG_CREATE, &c);
	c.reserved = 0;
	c.id = 5;	/* an output field */
	rc[5] = xioctl(NITRO_IOC_SG_CREATE, &c);
	c.id = 0;
	c.size = NITRO_SG_CREATE_SIZE_VER0 - 1;
	rc[6] = xioctl(NITRO_IOC_SG_CREATE, &c);
	ksft_test_result(rc[3] == -EINVAL && rc[4] == -EINVAL && rc[5] == -EINVAL &&
			 rc[6] == -EINVAL && sg_count() == before,
			 "sg create with flags, reserved or the id set, or a size below VER0: EINVAL (%d %d %d %d)\n",
			 rc[3], rc[4], rc[5], rc[6]);
}

/* Made by test_create, used by the rest. */
static __u64 g1, g2, g_other;

static void test_create(void)
{
	struct nitro_sg_info i1 = { 0 };
	int rc1, rc2, rc3, found;

	rc1 = sg_create_vpc(VPC, &g1);
	rc2 = sg_create_vpc(VPC, &g2);
	rc3 = sg_create_vpc(OTHER_VPC, &g_other);
	ksft_test_result(rc1 == 0 && rc2 == 0 && rc3 == 0 && g1 && g2 && g_other && g1 != g2 &&
			 g2 != g_other && g1 != g_other,
			 "sg create: three groups (VPCs %d, %d, %d), distinct non-zero ids (%d %d %d)\n",
			 VPC, VPC, OTHER_VPC, rc1, rc2, rc3);

	found = sg_find(g1, &i1);
	ksft_test_result(rules_are(g1, &egress_all, 1, 0) && rules_are(g_other, &egress_all, 1, 0) &&
			 found && i1.vpc == VPC && i1.rules == 1 && i1.enis == 0 && i1.reserved == 0,
			 "a new group has one rule, egress all to 0.0.0.0/0 (read back whole); listed with VPC %u, %u rule, %u ENIs\n",
			 i1.vpc, i1.rules, i1.enis);
}

static void test_rules_bad(void)
{
	const struct nitro_sg_rule ok = rule(NITRO_SG_INGRESS, IPPROTO_TCP, 22, 22, "10.0.0.0", 8);
	struct nitro_sg_rule bad[12], set[2];
	const char *what[12] = {
		"prefix 33", "host bits past the prefix", "port_min > port_max", "protocol 99",
		"protocol 2", "ports with protocol all", "ICMP type 256", "pad set",
		"reserved set", "direction 2", "a peer group and a network", "a peer group and a prefix",
	};
	int rc[12], all = 1;
	char msg[256] = "";

	for (int i = 0; i < 12; i++)
		bad[i] = ok;
	bad[0].prefix_len = 33;
	bad[1].cidr = ip("10.0.0.1");
	bad[2].port_min = 23;
	bad[3].proto = 99;
	bad[4].proto = 2;
	bad[5] = rule(NITRO_SG_INGRESS, NITRO_SG_PROTO_ALL, 0, 1, "0.0.0.0", 0);
	bad[6] = rule(NITRO_SG_INGRESS, IPPROTO_ICMP, 0, 256, "0.0.0.0", 0);
	bad[7].pad = 1;
	bad[8].reserved = 1;
	bad[9].dir = 2;
	bad[10].peer_group = g2;
	bad[11] = rule(NITRO_SG_INGRESS, IPPROTO_TCP, 22, 22, "0.0.0.0", 8);
	bad[11].cidr = 0;
	bad[11].prefix_len = 8;
	bad[11].peer_group = g2;
	/* Each after a good rule: the set is checked whole. */
	for (int i = 0; i < 12; i++) {
		set[0] = ok;
		set[1] = bad[i];
		rc[i] = rules_set(g1, set, 2);
		if (rc[i] != -EINVAL) {
			all = 0;
			snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " %s: %d;", what[i], rc[i]);
		}
	}
	ksft_test_result(all && rules_are(g1, &egress_all, 1, 0),
			 "rules set with a bad rule after a good one (prefix 33, host bits, ports reversed, protocols 99 and 2, ports with all, ICMP 256, pad, reserved, direction 2, peer group with a network): EINVAL each, the group unchanged%s\n",
			 msg);
}

static void test_rules_count(void)
{
	static struct nitro_sg_rule r[NITRO_SG_RULES_MAX + 1], got[NITRO_SG_RULES_MAX + 8];
	struct nitro_sg_rules s;
	int rc_over, rc_max, rc_get, rc_part, rc_zero, same, untouched = 1;

	for (int i = 0; i <= NITRO_SG_RULES_MAX; i++) {
		char net[32];

		snprintf(net, sizeof(net), "10.%d.%d.0", i / 256, i % 256);
		r[i] = rule(i % 2 ? NITRO_SG_EGRESS : NITRO_SG_INGRESS,
			    (__u8[]){ IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, NITRO_SG_PROTO_ALL }[i % 4],
			    0, 0, net, 24);
		if (r[i].proto == IPPROTO_TCP || r[i].proto == IPPROTO_UDP)
			r[i].port_min = 1000 + i, r[i].port_max = 1000 + 2 * i;
		else if (r[i].proto == IPPROTO_ICMP)
			r[i].port_min = i % 256, r[i].port_max = 255;
	}
	rc_over = rules_set(g1, r, NITRO_SG_RULES_MAX + 1);
	ksft_test_result(rc_over == -EINVAL && rules_are(g1, &egress_all, 1, 0),
			 "rules set of %d rules (one over NITRO_SG_RULES_MAX): EINVAL, the group unchanged (%d)\n",
			 NITRO_SG_RULES_MAX + 1, rc_over);

	rc_max = rules_set(g1, r, NITRO_SG_RULES_MAX);
	memset(got, 0xa5, sizeof(got));
	rc_get = rules_get(g1, got, NITRO_SG_RULES_MAX + 8, &s);
	same = rc_get == 0 && s.count == NITRO_SG_RULES_MAX &&
	       !memcmp(got, r, NITRO_SG_RULES_MAX * sizeof(r[0]));
	for (size_t i = NITRO_SG_RULES_MAX * sizeof(r[0]); i < sizeof(got); i++)
		untouched &= ((unsigned char *)got)[i] == 0xa5;
	ksft_test_result(rc_max == 0 && same && untouched && s.vpc == VPC && s.enis == 0,
			 "rules set of %d rules (TCP, UDP, ICMP, all; both ways): read back the same, in order, nothing written past them; VPC %u (%d %d)\n",
			 NITRO_SG_RULES_MAX, s.vpc, rc_max, rc_get);

	memset(got, 0xa5, sizeof(got));
	rc_part = rules_get(g1, got, 10, &s);
	untouched = 1;
	for (size_t i = 10 * sizeof(r[0]); i < sizeof(got); i++)
		untouched &= ((unsigned char *)got)[i] == 0xa5;
	ksft_test_result(rc_part == 0 && s.count == NITRO_SG_RULES_MAX &&
			 !memcmp(got, r, 10 * sizeof(r[0])) && untouched,
			 "rules get with room for 10: count says %u, the first 10 written, nothing after (%d)\n",
			 s.count, rc_part);

	rc_zero = rules_set(g1, NULL, 0);
	ksft_test_result(rc_zero == 0 && rules_are(g1, NULL, 0, 0),
			 "rules set of 0 rules: the group has none (%d)\n", rc_zero);
}

static void test_rules_peer(void)
{
	struct nitro_sg_rule r = rule(NITRO_SG_INGRESS, IPPROTO_TCP, 5201, 5201, "0.0.0.0", 0);
	struct nitro_sg_rule keep = rule(NITRO_SG_INGRESS, IPPROTO_UDP, 53, 53, "192.168.0.0", 16);
	int rc_keep, rc_none, rc_other, rc_self, rc_ok;

	rc_keep = rules_set(g1, &keep, 1);
	r.peer_group = unused_sg(g2 ^ 0x5a5a5a5a);
	rc_none = rules_set(g1, &r, 1);
	r.peer_group = g_other;
	rc_other = rules_set(g1, &r, 1);
	ksft_test_result(rc_keep == 0 && rc_none == -ENOENT && rc_other == -EINVAL &&
			 rules_are(g1, &keep, 1, 0),
			 "a rule naming a peer group that does not exist: ENOENT; one of another VPC: EINVAL; the rules stay (%d %d)\n",
			 rc_none, rc_other);

	r.peer_group = g1;
	rc_self = rules_set(g1, &r, 1);
	r.peer_group = g2;
	rc_ok = rules_set(g1, &r, 1);
	ksft_test_result(rc_self == 0 && rc_ok == 0 && rules_are(g1, &r, 1, 0),
			 "a rule naming a group of the VPC (itself, then another): set, read back with peer_group and no network (%d %d)\n",
			 rc_self, rc_ok);
}

static void test_unknown(void)
{
	struct nitro_sg_rules s;
	__u64 none = unused_sg(g1 ^ g2 ^ g_other ^ 0x1234);
	int rc_set, rc_get, rc_del, rc_groups;
	struct nitro_eni_groups eg;

	rc_set = rules_set(none, &egress_all, 1);
	rc_get = rules_get(none, NULL, 0, &s);
	rc_del = ref(NITRO_IOC_SG_DELETE, none);
	rc_groups = groups_get(none, &eg);
	ksft_test_result(rc_set == -ENOENT && rc_get == -ENOENT && rc_del == -ENOENT &&
			 rc_groups == -ENOENT,
			 "rules set, rules get, delete of a group that does not exist, eni groups of an ENI that does not exist: ENOENT (%d %d %d %d)\n",
			 rc_set, rc_get, rc_del, rc_groups);
}

/* The ENIs: e1 and e2 in VPC, e3 in the other VPC. */
static __u64 e1, e2;

static void test_groups(void)
{
	__u64 five[NITRO_ENI_GROUPS_MAX + 1], extra[NITRO_ENI_GROUPS_MAX + 1];
	struct nitro_eni_groups s;
	int rc_c1, rc_c2, rc_made = 0, rc_six, rc_twice, rc_other, rc_none, rc_tail, rc_res, rc_five;
	int rc_empty;
	struct nitro_sg_rules r;

	rc_c1 = eni_create(VPC, "10.61.0.1", 1, &e1);
	rc_c2 = eni_create(VPC, "10.61.0.2", 2, &e2);
	five[0] = g1;
	five[1] = g2;
	for (int i = 2; i <= NITRO_ENI_GROUPS_MAX && !rc_made; i++)
		rc_made = sg_create_vpc(VPC, &five[i]);
	ksft_test_result(rc_c1 == 0 && rc_c2 == 0 && rc_made == 0 && groups_are(e1, NULL, 0),
			 "ENIs created in VPC %d and 4 more groups: a new ENI has no group (%d %d %d)\n",
			 VPC, rc_c1, rc_c2, rc_made);

	rc_six = groups_set(e1, five, NITRO_ENI_GROUPS_MAX + 1);
	memcpy(extra, five, sizeof(extra));
	extra[1] = extra[0];
	rc_twice = groups_set(e1, extra, 2);
	extra[1] = g_other;
	rc_other = groups_set(e1, extra, 2);
	extra[1] = unused_sg(g1 ^ g2 ^ 0x4321);
	rc_none = groups_set(e1, extra, 2);
	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.id = e1;
	s.count = 1;
	s.groups[0] = g1;
	s.groups[1] = g2;	/* past count */
	rc_tail = xioctl(NITRO_IOC_ENI_GROUPS, &s);
	s.groups[1] = 0;
	s.reserved = 1;
	rc_res = xioctl(NITRO_IOC_ENI_GROUPS, &s);
	ksft_test_result(rc_six == -EINVAL && rc_twice == -EINVAL && rc_other == -EINVAL &&
			 rc_none == -ENOENT && rc_tail == -EINVAL && rc_res == -EINVAL &&
			 groups_are(e1, NULL, 0) && rules_are(g_other, &egress_all, 1, 0),
			 "eni groups: 6 groups, one twice, one of another VPC, reserved set, a group past count: EINVAL; one that does not exist: ENOENT; nothing set (%d %d %d %d %d %d)\n",
			 rc_six, rc_twice, rc_other, rc_none, rc_tail, rc_res);

	rc_five = groups_set(e1, five, NITRO_ENI_GROUPS_MAX);
	rc_empty = rules_get(five[4], NULL, 0, &r);
	ksft_test_result(rc_five == 0 && groups_are(e1, five, NITRO_ENI_GROUPS_MAX) && rc_empty == 0 &&
			 r.enis == 1 && groups_are(e2, NULL, 0),
			 "eni groups with 5 groups: read back, each group counts 1 ENI (%d, %u), the other ENI has none\n",
			 rc_five, r.enis);
}

static void test_delete(void)
{
	struct nitro_sg_rule peer = rule(NITRO_SG_INGRESS, IPPROTO_TCP, 22, 22, "0.0.0.0", 0);
	struct nitro_eni_groups s;
	__u64 extra = 0;
	struct nitro_sg_info info;
	int rc_has, rc_named, rc_ok, rc_again, rc_set, rc_mk, listed;

	/* e1 has g1 ... (test_groups); g1's rule names g2 (test_rules_peer). */
	groups_get(e1, &s);
	rc_has = ref(NITRO_IOC_SG_DELETE, s.groups[4]);
	ksft_test_result(rc_has == -EBUSY && groups_are(e1, s.groups, NITRO_ENI_GROUPS_MAX),
			 "delete of a group an ENI has: EBUSY, the ENI keeps it (%d)\n", rc_has);

	rc_mk = sg_create_vpc(VPC, &extra);
	peer.peer_group = extra;
	rc_set = rules_set(g2, &peer, 1);
	rc_named = ref(NITRO_IOC_SG_DELETE, extra);
	ksft_test_result(rc_mk == 0 && rc_set == 0 && rc_named == -EBUSY && sg_find(extra, &info),
			 "delete of a group another's rule names (no ENI has it): EBUSY, it stays listed (%d)\n",
			 rc_named);

	rc_set = rules_set(g2, &egress_all, 1);
	rc_ok = sg_delete(extra);
	rc_again = ref(NITRO_IOC_SG_DELETE, extra);
	listed = sg_find(extra, &info);
	ksft_test_result(rc_set == 0 && rc_ok == 0 && rc_again == -ENOENT && !listed &&
			 rules_are(g2, &egress_all, 1, 1),
			 "once no rule names it: deleted, not listed; a second delete: ENOENT (%d %d)\n",
			 rc_ok, rc_again);
}

static void test_list(void)
{
	static struct nitro_sg_info all[NITRO_LIST_MAX];
	struct nitro_sg_info page[1];
	struct nitro_list l = { .size = sizeof(l), .entries = (uintptr_t)all, .cap = NITRO_LIST_MAX };
	int rc = xioctl(NITRO_IOC_SG_LIST, &l), ordered = 1, ours = 0, pages = 0, same = 1;
	__u64 cursor = 0;

	for (__u32 i = 1; rc == 0 && i < l.count; i++)
		ordered &= all[i - 1].id < all[i].id;
	for (__u32 i = 0; rc == 0 && i < l.count; i++)
		for (int j = 0; j < nsgs; j++)
			if (all[i].id == sgs[j]) {
				ours++;
				if (all[i].vpc != (sgs[j] == g_other ? OTHER_VPC : VPC) ||
				    all[i].reserved)
					ours = -1000;
			}
	ksft_test_result(rc == 0 && ordered && ours == nsgs && l.more == 0,
			 "sg list: %u groups in id order, ours (%d) each once with its VPC\n", l.count,
			 nsgs);

	/* One a page: the same, by the cursor. */
	for (__u32 n = 0; rc == 0 && same; n++) {
		struct nitro_list p = { .size = sizeof(p), .entries = (uintptr_t)page, .cap = 1,
					.cursor = cursor };

		if (xioctl(NITRO_IOC_SG_LIST, &p) || p.count > 1) {
			same = 0;
			break;
		}
		if (!p.count)
			break;
		pages++;
		same = n < l.count && !memcmp(&page[0], &all[n], sizeof(page[0]));
		cursor = p.cursor;
		if (!p.more)
			break;
	}
	ksft_test_result(same && pages == (int)l.count,
			 "sg list one entry a call, by the cursor: the same %d entries\n", pages);
}

static void test_metrics(void)
{
	struct nitro_attach at = { .size = sizeof(at) };
	struct nitro_metrics m1, m2, m3;
	int rc_a1, rc_a2, rc1, rc2, rc3;

	rc3 = metrics(e1, &m3);
	at.id = e1;
	rc_a1 = xioctl(NITRO_IOC_ENI_ATTACH, &at);
	/* Attach wrote back the name it gave e1's netdev: none asked for e2. */
	memset(&at, 0, sizeof(at));
	at.size = sizeof(at);
	at.id = e2;
	rc_a2 = xioctl(NITRO_IOC_ENI_ATTACH, &at);
	rc1 = metrics(e1, &m1);
	rc2 = metrics(e2, &m2);
	ksft_test_result(rc_a1 == 0 && rc_a2 == 0 && rc1 == 0 && rc2 == 0 && rc3 == 0 &&
			 m1.size >= NITRO_METRICS_SIZE_VER4 &&
			 m1.conntrack_allowance_available == NITRO_CONNTRACK_MAX &&
			 m1.conntrack_allowance_exceeded == 0 && m1.sg_denied_in == 0 &&
			 m1.sg_denied_out == 0 && m2.conntrack_allowance_available == 0 &&
			 m3.conntrack_allowance_available == 0,
			 "metrics v4: attached with groups, conntrack_allowance_available %llu (NITRO_CONNTRACK_MAX), nothing denied (%llu %llu %llu); without groups %llu; detached %llu (attach %d %d, metrics %d %d %d, size %u)\n",
			 (unsigned long long)m1.conntrack_allowance_available,
			 (unsigned long long)m1.conntrack_allowance_exceeded,
			 (unsigned long long)m1.sg_denied_in, (unsigned long long)m1.sg_denied_out,
			 (unsigned long long)m2.conntrack_allowance_available,
			 (unsigned long long)m3.conntrack_allowance_available, rc_a1, rc_a2, rc1, rc2,
			 rc3, m1.size);
}

static void test_eni_delete(void)
{
	struct nitro_eni_groups s;
	struct nitro_sg_rules r;
	int rc_d1, rc_d2, rc_g, rc_del, n = 0;

	groups_get(e1, &s);
	rc_d1 = ref(NITRO_IOC_ENI_DETACH, e1);
	rc_g = groups_are(e1, s.groups, NITRO_ENI_GROUPS_MAX);
	rc_d2 = ref(NITRO_IOC_ENI_DETACH, e2);
	rc_del = eni_delete(e1);
	for (int i = 0; i < NITRO_ENI_GROUPS_MAX; i++)
		if (rules_get(s.groups[i], NULL, 0, &r) == 0 && r.enis == 0)
			n++;
	ksft_test_result(rc_d1 == 0 && rc_g && rc_d2 == 0 && rc_del == 0 && n == NITRO_ENI_GROUPS_MAX,
			 "a detached ENI keeps its groups; deleted, its 5 groups count 0 ENIs (%d; detach %d %d, groups kept %d, delete %d)\n",
			 n, rc_d1, rc_d2, rc_g, rc_del);
}

static void test_sizes(void)
{
	struct nitro_object_ref o = { .size = NITRO_OBJECT_REF_SIZE_VER0 - 1, .id = g2 };
	struct nitro_sg_rules r = { .size = NITRO_SG_RULES_SIZE_VER0 - 1, .flags = NITRO_SG_RULES_GET,
				    .id = g2 };
	struct nitro_list l = { .size = NITRO_LIST_SIZE_VER0 - 1 };
	struct nitro_eni_groups g = { .size = NITRO_ENI_GROUPS_SIZE_VER0 - 1,
				      .flags = NITRO_ENI_GROUPS_GET, .id = e2 };
	int rc_o = xioctl(NITRO_IOC_SG_DELETE, &o), rc_r = xioctl(NITRO_IOC_SG_RULES, &r);
	int rc_l = xioctl(NITRO_IOC_SG_LIST, &l), rc_g = xioctl(NITRO_IOC_ENI_GROUPS, &g);
	struct nitro_sg_info info;

	ksft_test_result(rc_o == -EINVAL && rc_r == -EINVAL && rc_l == -EINVAL && rc_g == -EINVAL &&
			 sg_find(g2, &info),
			 "size below VER0: EINVAL for sg delete, sg rules, sg list, eni groups (%d %d %d %d)\n",
			 rc_o, rc_r, rc_l, rc_g);
}

static void test_full(void)
{
	int existing = sg_count(), n = 0, rc = 0, rc_full, gone = 1;
	__u64 id, first = nsgs;

	while (existing >= 0 && existing + n < NITRO_SGS_MAX) {
		rc = sg_create_vpc(VPC, &id);
		if (rc)
			break;
		n++;
	}
	rc_full = sg_create_vpc(VPC, NULL);
	ksft_test_result(existing >= 0 && rc == 0 && existing + n == NITRO_SGS_MAX && rc_full == -ENOSPC,
			 "%d groups (NITRO_SGS_MAX); one more: ENOSPC (%d)\n", existing + n, rc_full);
	while (nsgs > (int)first)
		if (ref(NITRO_IOC_SG_DELETE, sgs[--nsgs]))
			gone = 0;
	ksft_test_result(gone && sg_count() == existing,
			 "the %d extra groups deleted: the list is back to %d\n", n, existing);
}

int main(void)
{
	struct nitro_host_create c = { .size = sizeof(c) };
	int rc;

	ksft_print_header();
	ksft_set_plan(27);
	atexit(cleanup);
	fd = open("/dev/" NITRO_CTRL_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		ksft_exit_fail_perror("open /dev/" NITRO_CTRL_DEVICE);
	if (shell(setup_sh))
		ksft_exit_fail_msg("setup: could not make namespace " NS " with 192.0.2.1/24 on a veth\n");
	nsfd = open(NS_PATH, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		ksft_exit_fail_perror("open " NS_PATH);
	c.netns_fd = nsfd;
	c.underlay_ipv4 = ip("192.0.2.1");
	rc = xioctl(NITRO_IOC_HOST_CREATE, &c);
	host = rc ? 0 : c.host;
	ksft_test_result(rc == 0 && host >= 1 && host <= NITRO_HOSTS_MAX,
			 "host create in " NS " on 192.0.2.1, for the ENIs: host %u (%d)\n", host, rc);
	if (rc)
		ksft_exit_fail_msg("no host: the rest cannot run\n");

	test_feature();		/* 1 */
	test_create_bad();	/* 2 */
	test_create();		/* 2 */
	test_rules_bad();	/* 1 */
	test_rules_count();	/* 4 */
	test_rules_peer();	/* 2 */
	test_unknown();		/* 1 */
	test_groups();		/* 3 */
	test_delete();		/* 3 */
	test_list();		/* 2 */
	test_metrics();		/* 1 */
	test_eni_delete();	/* 1 */
	test_sizes();		/* 1 */
	test_full();		/* 2 */

	cleanup();
	ksft_finished();
}
