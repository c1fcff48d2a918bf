// SPDX-License-Identifier: GPL-2.0
/*
 * ctrl_abi: the ioctl ABI of /dev/nitro_ctrl, good and bad input.
 *
 * Expects nitro_ctrl and all three card modules loaded (selftests/run.sh
 * loads them). Runs as root; drops privilege in children for EPERM cases.
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/nitro.h>
#include "kselftest.h"

#define DEV "/dev/" NITRO_CTRL_DEVICE

static int fd;

/* ioctl returning 0 or -errno. */
static int xioctl(int f, unsigned long cmd, void *arg)
{
	return ioctl(f, cmd, arg) < 0 ? -errno : 0;
}

/* NITRO_IOC_VERSION re-encoded with another struct size (a newer/older caller). */
static unsigned long resized(unsigned long cmd, unsigned int size)
{
	return (cmd & ~((unsigned long)_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
	       ((unsigned long)size << _IOC_SIZESHIFT);
}

static void test_node(void)
{
	struct stat st;

	ksft_test_result(stat(DEV, &st) == 0 && S_ISCHR(st.st_mode) &&
			 (st.st_mode & 07777) == 0600 && st.st_uid == 0 &&
			 major(st.st_rdev) == 10,
			 "device node is a misc char device, mode 0600, owned by root\n");
}

static void test_version(void)
{
	struct nitro_version v = { .size = sizeof(v) };
	int rc = xioctl(fd, NITRO_IOC_VERSION, &v);

	ksft_test_result(rc == 0 && v.size == sizeof(v) &&
			 v.abi_version == NITRO_ABI_VERSION &&
			 v.features == (NITRO_FEAT_STATUS | NITRO_FEAT_VOLUMES | NITRO_FEAT_ENIS |
					NITRO_FEAT_METRICS | NITRO_FEAT_AUDIT | NITRO_FEAT_FIRMWARE |
					NITRO_FEAT_INSTANCES | NITRO_FEAT_ALLOWANCES |
					NITRO_FEAT_MAP_TABLES | NITRO_FEAT_SECURITY_GROUPS) &&
			 v.max_cards >= 4 && v.max_volumes == 16384 && v.max_enis == 4096 &&
			 v.audit_entries == 1024,
			 "version: abi %u, features %#llx, max_cards %u, max_volumes %u, max_enis %u, audit %u\n",
			 v.abi_version, (unsigned long long)v.features, v.max_cards, v.max_volumes,
			 v.max_enis, v.audit_entries);
}

static void test_version_sizes(void)
{
	struct { struct nitro_version v; __u64 ext[2]; } big;
	struct nitro_version v;
	int rc0, rc23, rc_tail, rc_big, rc_huge, rc_res;

	memset(&v, 0, sizeof(v));
	rc0 = xioctl(fd, NITRO_IOC_VERSION, &v);
	v.size = NITRO_VERSION_SIZE_VER0 - 1;
	rc23 = xioctl(fd, NITRO_IOC_VERSION, &v);
	ksft_test_result(rc0 == -EINVAL && rc23 == -EINVAL,
			 "version: size 0 and size below VER0 give EINVAL (%d, %d)\n", rc0, rc23);

	memset(&big, 0, sizeof(big));
	big.v.size = sizeof(big);
	rc_big = xioctl(fd, resized(NITRO_IOC_VERSION, sizeof(big)), &big);
	ksft_test_result(rc_big == 0 && big.v.size == sizeof(struct nitro_version) &&
			 big.v.abi_version == NITRO_ABI_VERSION &&
			 big.ext[0] == 0 && big.ext[1] == 0,
			 "version: a newer caller's larger struct with a zero tail is accepted, size answered %u\n",
			 big.v.size);

	memset(&big, 0, sizeof(big));
	big.v.size = sizeof(big);
	big.ext[1] = 1;
	rc_tail = xioctl(fd, NITRO_IOC_VERSION, &big);
	ksft_test_result(rc_tail == -E2BIG, "version: non-zero unknown tail gives E2BIG (%d)\n", rc_tail);

	{
		char *page = calloc(1, 8192);

		((struct nitro_version *)page)->size = 8192;
		rc_huge = page ? xioctl(fd, NITRO_IOC_VERSION, page) : -ENOMEM;
		free(page);
	}
	ksft_test_result(rc_huge == -E2BIG, "version: size above one page gives E2BIG (%d)\n", rc_huge);

	memset(&v, 0, sizeof(v));
	v.size = sizeof(v);
	v.max_cards = 1;
	rc_res = xioctl(fd, NITRO_IOC_VERSION, &v);
	ksft_test_result(rc_res == -EINVAL, "version: an output field set on input gives EINVAL (%d)\n", rc_res);
}

static void test_bad_pointers(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct nitro_version *straddle;
	int rc_null, rc_none, rc_straddle, rc_ro;

	if (map == MAP_FAILED)
		ksft_exit_fail_perror("mmap");
	rc_null = xioctl(fd, NITRO_IOC_VERSION, NULL);
	mprotect(map + pg, pg, PROT_NONE);
	rc_none = xioctl(fd, NITRO_IOC_VERSION, map + pg);
	/* size readable, the rest of the struct in the unmapped page */
	straddle = (struct nitro_version *)(map + pg - 8);
	straddle->size = sizeof(*straddle);
	rc_straddle = xioctl(fd, NITRO_IOC_VERSION, straddle);
	ksft_test_result(rc_null == -EFAULT && rc_none == -EFAULT && rc_straddle == -EFAULT,
			 "version: NULL, unmapped and straddling pointers give EFAULT (%d, %d, %d)\n",
			 rc_null, rc_none, rc_straddle);

	/* readable but not writable: the answer cannot be written back */
	((struct nitro_version *)map)->size = sizeof(struct nitro_version);
	mprotect(map, pg, PROT_READ);
	rc_ro = xioctl(fd, NITRO_IOC_VERSION, map);
	ksft_test_result(rc_ro == -EFAULT, "version: read-only buffer gives EFAULT (%d)\n", rc_ro);
	munmap(map, 2 * pg);
}

static void test_unknown_and_io(void)
{
	struct nitro_version v = { .size = sizeof(v) };
	int rc_nr = xioctl(fd, _IOWR(NITRO_IOCTL_TYPE, 0x7f, struct nitro_version), &v);
	int rc_ty = xioctl(fd, _IOWR('x', 0x00, struct nitro_version), &v);
	int rc_dir = xioctl(fd, _IOR(NITRO_IOCTL_TYPE, 0x00, struct nitro_version), &v);
	int rc_tty = xioctl(fd, TCGETS, &v);
	char buf[8];
	ssize_t r = read(fd, buf, sizeof(buf));
	int rerr = errno;
	ssize_t w = write(fd, buf, sizeof(buf));
	int werr = errno;
	void *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);

	ksft_test_result(rc_nr == -ENOTTY && rc_ty == -ENOTTY && rc_dir == -ENOTTY &&
			 rc_tty == -ENOTTY,
			 "unknown number, type, direction and TCGETS give ENOTTY (%d %d %d %d)\n",
			 rc_nr, rc_ty, rc_dir, rc_tty);
	ksft_test_result(r < 0 && w < 0 && rerr == EINVAL && werr == EINVAL && m == MAP_FAILED,
			 "read, write and mmap are not offered (read errno %d, write errno %d)\n",
			 rerr, werr);
	if (m != MAP_FAILED)
		munmap(m, 4096);
}

static int find_card(struct nitro_card_info *c, int n, const char *name, __u32 kind)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(c[i].name, name) && c[i].kind == kind && c[i].name[NITRO_NAME_LEN - 1] == 0)
			return 1;
	return 0;
}

static void test_status(void)
{
	struct nitro_card_info cards[8];
	struct nitro_status s = {
		.size = sizeof(s), .cards = (uintptr_t)cards, .cards_cap = 8,
		.card_size = sizeof(cards[0]),
	};
	int rc;

	memset(cards, 0xaa, sizeof(cards));
	rc = xioctl(fd, NITRO_IOC_STATUS, &s);
	ksft_test_result(rc == 0 && s.ncards == 4 && s.missing == 0 &&
			 s.gate == NITRO_GATE_CLOSED &&
			 find_card(cards, 4, "nitro_sec", NITRO_CARD_SECURITY) &&
			 find_card(cards, 4, "nitro_nvme.ebs0", NITRO_CARD_EBS) &&
			 find_card(cards, 4, "nitro_nvme.instance0", NITRO_CARD_INSTANCE_STORE) &&
			 find_card(cards, 4, "nitro_net.vpc0", NITRO_CARD_VPC) &&
			 cards[4].kind == 0xaaaaaaaa,
			 "status: four cards, none missing, gate closed (rc %d, ncards %u, gate %u)\n",
			 rc, s.ncards, s.gate);
}

static void test_status_paging(void)
{
	struct nitro_card_info cards[2];
	struct nitro_status s = { .size = sizeof(s) };
	int rc0, rc1;

	rc0 = xioctl(fd, NITRO_IOC_STATUS, &s);
	ksft_test_result(rc0 == 0 && s.ncards == 4,
			 "status: no array asks only for the count (%u)\n", s.ncards);

	memset(cards, 0xaa, sizeof(cards));
	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.cards = (uintptr_t)cards;
	s.cards_cap = 1;
	rc1 = xioctl(fd, NITRO_IOC_STATUS, &s);
	ksft_test_result(rc1 == 0 && s.ncards == 4 && cards[0].kind != 0xaaaaaaaa &&
			 cards[1].kind == 0xaaaaaaaa,
			 "status: a short array gets only what fits, ncards tells the rest\n");
}

static void test_status_element_sizes(void)
{
	unsigned char buf[4 * 128];
	struct nitro_status s = { .size = sizeof(s), .cards = (uintptr_t)buf, .cards_cap = 4 };
	int rc_small, rc_big, ok = 1;

	s.card_size = 8;
	rc_small = xioctl(fd, NITRO_IOC_STATUS, &s);
	ksft_test_result(rc_small == -EINVAL, "status: card_size below VER0 gives EINVAL (%d)\n", rc_small);

	memset(buf, 0xaa, sizeof(buf));
	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.cards = (uintptr_t)buf;
	s.cards_cap = 4;
	s.card_size = 128;
	rc_big = xioctl(fd, NITRO_IOC_STATUS, &s);
	for (int i = 0; i < 4; i++) {
		struct nitro_card_info *c = (void *)(buf + i * 128);

		if (c->kind < NITRO_CARD_SECURITY || c->kind > NITRO_CARD_VPC)
			ok = 0;
		for (int j = sizeof(*c); j < 128; j++)
			if (buf[i * 128 + j] != 0)
				ok = 0;
	}
	ksft_test_result(rc_big == 0 && ok,
			 "status: larger elements are written at their stride, tails zeroed\n");
}

static void test_status_bad_input(void)
{
	struct nitro_status s;
	int rc_ptr, rc_cap, rc_out, rc_trunc;

	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.cards = 16; /* a user address nothing is mapped at */
	s.cards_cap = 4;
	rc_ptr = xioctl(fd, NITRO_IOC_STATUS, &s);

	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.cards_cap = 3;
	rc_cap = xioctl(fd, NITRO_IOC_STATUS, &s);

	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.gate = 1;
	rc_out = xioctl(fd, NITRO_IOC_STATUS, &s);

	memset(&s, 0, sizeof(s));
	s.size = 16;
	rc_trunc = xioctl(fd, NITRO_IOC_STATUS, &s);

	ksft_test_result(rc_ptr == -EFAULT && rc_cap == -EINVAL && rc_out == -EINVAL &&
			 rc_trunc == -EINVAL,
			 "status: bad array EFAULT, cap without array EINVAL, output fields set EINVAL, truncated EINVAL (%d %d %d %d)\n",
			 rc_ptr, rc_cap, rc_out, rc_trunc);
}

/* Runs fn in a child and returns its exit status. */
static int in_child(int (*fn)(void))
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn());
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* 0 if both a known and an unknown command give EPERM. */
static int eperm_both(void)
{
	struct nitro_version v = { .size = sizeof(v) };

	if (xioctl(fd, NITRO_IOC_VERSION, &v) != -EPERM)
		return 1;
	if (xioctl(fd, _IOWR(NITRO_IOCTL_TYPE, 0x7f, struct nitro_version), &v) != -EPERM)
		return 2;
	return 0;
}

static int as_nobody(void)
{
	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		return 10;
	/* the inherited descriptor must be useless; a fresh open is refused */
	if (open(DEV, O_RDONLY) >= 0 || errno != EACCES)
		return 11;
	return eperm_both();
}

static int as_userns_root(void)
{
	if (unshare(CLONE_NEWUSER))
		return 10;
	return eperm_both();
}

static void test_eperm(void)
{
	int nobody = in_child(as_nobody);
	int userns = in_child(as_userns_root);

	ksft_test_result(nobody == 0, "unprivileged caller with an inherited fd gets EPERM (child %d)\n", nobody);
	ksft_test_result(userns == 0,
			 "root of a child user namespace (no CAP_SYS_ADMIN in the initial one) gets EPERM (child %d)\n",
			 userns);
}

static void test_after_bad_input(void)
{
	struct nitro_status s = { .size = sizeof(s) };
	int rc = xioctl(fd, NITRO_IOC_STATUS, &s);

	ksft_test_result(rc == 0 && s.ncards == 4 && s.missing == 0,
			 "after all the bad input the controller still answers the same\n");
}

int main(void)
{
	ksft_print_header();
	ksft_set_plan(20);
	fd = open(DEV, O_RDWR);
	if (fd < 0)
		ksft_exit_fail_perror("open " DEV);

	test_node();
	test_version();
	test_version_sizes();
	test_bad_pointers();
	test_unknown_and_io();
	test_status();
	test_status_paging();
	test_status_element_sizes();
	test_status_bad_input();
	test_eperm();
	test_after_bad_input();
	close(fd);
	ksft_finished();
}
