// SPDX-License-Identifier: GPL-2.0
/*
 * ebs_abi: what bad input to an EBS volume gets, from the ABI header.
 *
 * Expects nitro_nvme loaded with an EBS card key (ebs.sh, run before this,
 * leaves it so) and the boot gate open. Every refused create must leave
 * nothing behind; a wrapped key that does not authenticate is refused at
 * attach and the volume stays available; describe and list never give back
 * any part of a volume's wrapped key.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>

#include <linux/nitro.h>
#include "kselftest.h"

#define MIB (1ULL << 20)
#define BACKING "/tmp/ebs_abi.img"

static int fd;

static int xioctl(unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

/* A well-formed wrapped key (magic and version right, contents garbage). */
static void fake_key(__u8 *k)
{
	struct nitro_wrapped_key w;

	memset(&w, 0x5a, sizeof(w));
	memcpy(w.magic, NITRO_WRAPPED_KEY_MAGIC, 4);
	w.version = NITRO_WRAPPED_KEY_VERSION;
	memcpy(k, &w, sizeof(w));
}

static int ebs_create(int backing, const __u8 *key, __u64 size, __u64 *id)
{
	struct nitro_volume_create c = {
		.size = sizeof(c), .kind = NITRO_VOLUME_EBS, .size_bytes = size,
		.backing_fd = backing,
	};
	int rc;

	if (key)
		memcpy(c.wrapped_key, key, sizeof(c.wrapped_key));
	rc = xioctl(NITRO_IOC_VOLUME_CREATE, &c);
	if (id)
		*id = c.id;
	return rc;
}

static int vol_count(void)
{
	struct nitro_volume_info buf[64];
	struct nitro_list l = { .size = sizeof(l), .entries = (uintptr_t)buf, .cap = 64 };

	if (xioctl(NITRO_IOC_VOLUME_LIST, &l))
		return -1;
	return l.more ? -1 : (int)l.count;
}

/*
 * Whether 4 consecutive bytes of the wrapped key, past its magic and
 * version, are anywhere in buf: a leak of the nonce, the sealed key or the
 * tag (a random 4-byte match in a describe answer: about 1 in 10^7).
 */
static int leaks(const void *buf, size_t len, const __u8 *key)
{
	const __u8 *b = buf;

	for (size_t k = 8; k + 4 <= NITRO_WRAPPED_KEY_LEN; k++)
		for (size_t i = 0; i + 4 <= len; i++)
			if (!memcmp(b + i, key + k, 4))
				return 1;
	return 0;
}

static int ref(unsigned long cmd, __u64 id)
{
	struct nitro_object_ref r = { .size = sizeof(r), .id = id };

	return xioctl(cmd, &r);
}

int main(void)
{
	struct nitro_volume_create c;
	struct nitro_volume_describe d = { .size = sizeof(d) };
	struct nitro_attach a = { .size = sizeof(a) };
	__u8 key[NITRO_WRAPPED_KEY_LEN];
	int backing, ro, pipefd[2], before, rc;
	__u64 id;

	ksft_print_header();
	ksft_set_plan(11);
	fd = open("/dev/" NITRO_CTRL_DEVICE, O_RDWR);
	backing = open(BACKING, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ro = open(BACKING, O_RDONLY);
	if (fd < 0 || backing < 0 || ro < 0 || pipe(pipefd) || ftruncate(backing, 16 * MIB))
		ksft_exit_fail_perror("setup");
	fake_key(key);
	before = vol_count();

	ksft_test_result(ebs_create(-1, key, 16 * MIB, NULL) == -EBADF &&
			 ebs_create(1000, key, 16 * MIB, NULL) == -EBADF,
			 "EBS create: a descriptor that is not open: EBADF\n");
	ksft_test_result(ebs_create(ro, key, 16 * MIB, NULL) == -EBADF,
			 "EBS create: a backing file open read-only: EBADF\n");
	ksft_test_result(ebs_create(pipefd[0], key, 16 * MIB, NULL) == -EBADF &&
			 ebs_create(fd, key, 16 * MIB, NULL) == -EBADF,
			 "EBS create: a pipe or a char device as backing: EBADF\n");
	ksft_test_result(ebs_create(backing, key, 32 * MIB, NULL) == -EINVAL,
			 "EBS create: backing smaller than the volume: EINVAL\n");

	memset(key, 0, sizeof(key));
	rc = ebs_create(backing, key, 16 * MIB, NULL);
	fake_key(key);
	key[4] = 2; /* version 2 */
	ksft_test_result(rc == -EINVAL && ebs_create(backing, key, 16 * MIB, NULL) == -EINVAL,
			 "EBS create: no wrapped key, or an unknown format version: EINVAL\n");

	/* A caller of the first ABI version (64 bytes) has no key to give. */
	memset(&c, 0, sizeof(c));
	c.size = NITRO_VOLUME_CREATE_SIZE_VER0;
	c.kind = NITRO_VOLUME_EBS;
	c.size_bytes = 16 * MIB;
	ksft_test_result(xioctl(NITRO_IOC_VOLUME_CREATE, &c) == -EINVAL,
			 "EBS create with the version-0 struct (no key): EINVAL\n");

	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.kind = NITRO_VOLUME_INSTANCE;
	c.size_bytes = 16 * MIB;
	c.backing_fd = backing;
	rc = xioctl(NITRO_IOC_VOLUME_CREATE, &c);
	c.backing_fd = 0;
	fake_key(c.wrapped_key);
	ksft_test_result(rc == -EINVAL && xioctl(NITRO_IOC_VOLUME_CREATE, &c) == -EINVAL,
			 "instance create with a backing or a wrapped key: EINVAL\n");

	fake_key(key);
	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.kind = NITRO_VOLUME_EBS;
	c.size_bytes = 16 * MIB;
	c.backing_fd = backing;
	memcpy(c.wrapped_key, key, sizeof(key));
	c.pad[3] = 1;
	rc = xioctl(NITRO_IOC_VOLUME_CREATE, &c);
	c.pad[3] = 0;
	c.reserved = 1;
	ksft_test_result(rc == -EINVAL && xioctl(NITRO_IOC_VOLUME_CREATE, &c) == -EINVAL,
			 "EBS create with pad or reserved set: EINVAL\n");

	ksft_test_result(before >= 0 && vol_count() == before,
			 "no refused create left a volume behind (%d before, %d after)\n", before,
			 vol_count());

	/* Well formed, but not sealed under this card's key. */
	rc = ebs_create(backing, key, 16 * MIB, &id);
	a.id = id;
	strcpy(a.device, "sdz");
	{
		int att = xioctl(NITRO_IOC_VOLUME_ATTACH, &a);

		d.id = id;
		ksft_test_result(rc == 0 && att == -EKEYREJECTED &&
				 xioctl(NITRO_IOC_VOLUME_DESCRIBE, &d) == 0 &&
				 d.info.state == NITRO_STATE_AVAILABLE && d.info.device[0] == 0 &&
				 ref(NITRO_IOC_VOLUME_DELETE, id) == 0,
				 "a wrapped key that does not authenticate: attach EKEYREJECTED, volume stays available (create %d, attach %d)\n",
				 rc, att);
	}

	{
		/* A well-formed key with random contents: nothing of it comes back. */
		struct nitro_volume_info list[64];
		struct nitro_list l = { .size = sizeof(l), .entries = (uintptr_t)list, .cap = 64 };
		int rl, rd, found = 0, leaked = 0;

		fake_key(key);
		rc = getrandom(key + 8, sizeof(key) - 8, 0) == (ssize_t)(sizeof(key) - 8) ?
			     ebs_create(backing, key, 16 * MIB, &id) : -1;
		memset(&d, 0, sizeof(d));
		d.size = sizeof(d);
		d.id = id;
		rd = xioctl(NITRO_IOC_VOLUME_DESCRIBE, &d);
		rl = xioctl(NITRO_IOC_VOLUME_LIST, &l);
		leaked = leaks(&d, sizeof(d), key) || leaks(list, l.count * sizeof(list[0]), key);
		for (unsigned int j = 0; rl == 0 && j < l.count; j++)
			found += list[j].id == id;
		ksft_test_result(rc == 0 && rd == 0 && d.info.id == id && rl == 0 && found == 1 &&
				 !leaked && ref(NITRO_IOC_VOLUME_DELETE, id) == 0,
				 "describe and list of an EBS volume give back no 4 bytes of its wrapped key (create %d, describe %d, list %d, leaked %d)\n",
				 rc, rd, rl, leaked);
	}

	unlink(BACKING);
	ksft_finished();
}
