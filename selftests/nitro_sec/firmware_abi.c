// SPDX-License-Identifier: GPL-2.0
/*
 * firmware_abi: the firmware ioctls of /dev/nitro_ctrl at the ABI level:
 * status and log, malformed allowlists (lengths, algorithms, duplicates,
 * sizes, pointers) refused without changing the gate, and write-deny, through
 * the update ioctl and through the chip's firmware store /dev/nitro_fw.
 * The known-good digests come from userspace (recompute.py, next to this
 * program, hashes the firmware itself), never from the chip's own log.
 * Expects nitro_sec loaded and the gate closed (not yet verified).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/nitro.h>
#include "kselftest.h"

static int fd;

static int xioctl(unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static struct nitro_measurement log_[64];
static int nlog;

static int fw_status(struct nitro_firmware_status *s)
{
	memset(s, 0, sizeof(*s));
	s->size = sizeof(*s);
	return xioctl(NITRO_IOC_FIRMWARE_STATUS, s);
}

/* The known-good list: ngood entries, computed from userspace. */
static struct nitro_allow_entry good_[64];
static int ngood;

/*
 * Reads the known-good list from `recompute.py --allowlist` (sha384sum
 * lines), next to this program. Gives 0, or -1 if it did not run or printed
 * something else.
 */
static int known_good(void)
{
	char exe[4096], cmd[4200], line[512], hex[2 * NITRO_SHA384_LEN + 2], comp[NITRO_TAG_LEN];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	FILE *p;
	int bad = 0;

	if (n <= 0)
		return -1;
	exe[n] = 0;
	snprintf(cmd, sizeof(cmd), "python3 %s/recompute.py --allowlist", dirname(exe));
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		struct nitro_allow_entry *e = &good_[ngood];

		if (ngood == 64 || sscanf(line, "%97s %31s", hex, comp) != 2 ||
		    strlen(hex) != 2 * NITRO_SHA384_LEN) {
			bad = 1;
			break;
		}
		memset(e, 0, sizeof(*e));
		e->alg = NITRO_HASH_SHA384;
		e->digest_len = NITRO_SHA384_LEN;
		snprintf(e->component, sizeof(e->component), "%s", comp);
		for (int i = 0; i < NITRO_SHA384_LEN; i++)
			if (sscanf(hex + 2 * i, "%2hhx", &e->digest[i]) != 1)
				bad = 1;
		ngood++;
	}
	return pclose(p) == 0 && !bad && ngood > 0 ? 0 : -1;
}

/* An allowlist vouching for the known-good digests: ngood entries. */
static void good_list(struct nitro_allow_entry *e)
{
	memcpy(e, good_, ngood * sizeof(*e));
}

static int allow(struct nitro_allow_entry *e, __u32 count, __u32 esize)
{
	struct nitro_firmware_allow a = { .size = sizeof(a), .count = count, .entries = (uintptr_t)e, .entry_size = esize };

	return xioctl(NITRO_IOC_FIRMWARE_ALLOW, &a);
}

int main(void)
{
	struct nitro_firmware_status s;
	struct nitro_list l;
	static struct nitro_allow_entry e[NITRO_ALLOW_MAX + 2];
	static unsigned char wide[64 * 200];
	int rc, ok, bad = 0;

	ksft_print_header();
	ksft_set_plan(9);
	fd = open("/dev/" NITRO_CTRL_DEVICE, O_RDWR);
	if (fd < 0)
		ksft_exit_fail_perror("open");

	rc = fw_status(&s);
	ksft_test_result(rc == 0 && s.gate == NITRO_GATE_CLOSED && s.alg == NITRO_HASH_SHA384 &&
			 s.nregs == NITRO_FW_REGISTERS && s.measurements >= 3 && s.failed[0] == 0,
			 "firmware status: gate closed, %u measurements, SHA-384, 3 registers\n", s.measurements);

	memset(&l, 0, sizeof(l));
	l.size = sizeof(l);
	l.entries = (uintptr_t)log_;
	l.cap = 64;
	rc = xioctl(NITRO_IOC_FIRMWARE_LOG, &l);
	nlog = l.count;
	ok = rc == 0 && nlog == (int)s.measurements && l.more == 0;
	for (int i = 0; i < nlog; i++)
		if (log_[i].index != (__u32)i || log_[i].alg != NITRO_HASH_SHA384 ||
		    log_[i].digest_len != NITRO_SHA384_LEN || log_[i].reg >= NITRO_FW_REGISTERS ||
		    !log_[i].size_bytes || log_[i].digest[NITRO_SHA384_LEN] != 0)
			ok = 0;
	ksft_test_result(ok && !strcmp(log_[0].component, "bios-rom"),
			 "measurement log: %d entries, indexed, SHA-384, bios-rom first\n", nlog);
	if (known_good())
		ksft_exit_fail_msg("recompute.py --allowlist gave no known-good list\n");

	memset(&l, 0, sizeof(l));
	l.size = sizeof(l);
	l.entries = (uintptr_t)wide;
	l.cap = 1;
	l.cursor = 1;
	rc = xioctl(NITRO_IOC_FIRMWARE_LOG, &l);
	ksft_test_result(rc == 0 && l.count == 1 && l.cursor == 2 && l.more == (nlog > 2) &&
			 ((struct nitro_measurement *)wide)->index == 1,
			 "measurement log pages by index (cursor = index + 1)\n");

#define BAD(expr, err) do { int r_ = (expr); if (r_ != (err)) { bad++; ksft_print_msg("%s: %d, expected %d\n", #expr, r_, err); } } while (0)
	good_list(e);
	e[0].alg = 2;
	BAD(allow(e, ngood, 0), -EINVAL);
	good_list(e);
	e[1].digest_len = 32;
	BAD(allow(e, ngood, 0), -EINVAL);
	good_list(e);
	e[1].digest_len = 64;
	BAD(allow(e, ngood, 0), -EINVAL);
	good_list(e);
	e[0].digest[60] = 1;
	BAD(allow(e, ngood, 0), -EINVAL);
	good_list(e);
	memset(e[0].component, 0, sizeof(e[0].component));
	BAD(allow(e, ngood, 0), -EINVAL);
	good_list(e);
	memset(e[0].component, 'a', sizeof(e[0].component));
	BAD(allow(e, ngood, 0), -EINVAL);
	good_list(e);
	strcpy(e[1].component, "has space");
	BAD(allow(e, ngood, 0), -EINVAL);
	good_list(e);
	memcpy(&e[ngood], &e[0], sizeof(e[0]));
	BAD(allow(e, ngood + 1, 0), -EEXIST);
	BAD(allow(e, NITRO_ALLOW_MAX + 1, 0), -EINVAL);
	BAD(allow(NULL, 3, 0), -EINVAL);
	BAD(allow((void *)16, 3, 0), -EFAULT);
	BAD(allow(e, ngood, 8), -EINVAL);
	{
		/* entries bigger than the kernel's: bytes past it must be zero */
		memset(wide, 0, sizeof(wide));
		good_list(e);
		for (int i = 0; i < ngood && i < 64; i++)
			memcpy(wide + i * 200, &e[i], sizeof(e[i]));
		wide[150] = 1;
		BAD(allow((void *)wide, ngood, 200), -E2BIG);
	}
	{
		struct nitro_firmware_allow a = { .size = sizeof(a), .count = 0, .gate = 2 };

		BAD(xioctl(NITRO_IOC_FIRMWARE_ALLOW, &a), -EINVAL);
	}
	rc = fw_status(&s);
	ksft_test_result(bad == 0 && rc == 0 && s.gate == NITRO_GATE_CLOSED && s.allowlist == 0,
			 "malformed allowlists refused: unknown algorithm, bad digest lengths, junk past the digest, bad names EINVAL; duplicates EEXIST; too many, no array, small entries EINVAL; bad pointer EFAULT; unknown tail E2BIG; gate still closed\n");

	{
		/* larger entries that are well formed are accepted */
		memset(wide, 0, sizeof(wide));
		good_list(e);
		for (int i = 0; i < ngood && i < 64; i++)
			memcpy(wide + i * 200, &e[i], sizeof(e[i]));
		{
			struct nitro_firmware_allow a = { .size = sizeof(a), .count = ngood, .entries = (uintptr_t)wide, .entry_size = 200 };

			rc = xioctl(NITRO_IOC_FIRMWARE_ALLOW, &a);
			ksft_test_result(rc == 0 && a.gate == NITRO_GATE_OPEN && a.failed[0] == 0,
					 "the known-good list computed from userspace (in larger entries) opens the gate\n");
		}
	}

	{
		struct nitro_firmware_update u = { .size = sizeof(u), .component = "bios-rom", .len = 4096 };
		struct nitro_firmware_status before, after;
		int r1, r2, r3;

		fw_status(&before);
		r1 = xioctl(NITRO_IOC_FIRMWARE_UPDATE, &u);
		r2 = xioctl(NITRO_IOC_FIRMWARE_UPDATE, NULL);
		u.reserved = 7;
		r3 = xioctl(NITRO_IOC_FIRMWARE_UPDATE, &u);
		fw_status(&after);
		ksft_test_result(r1 == -EPERM && r2 == -EPERM && r3 == -EPERM &&
				 after.write_attempts == before.write_attempts + 3,
				 "firmware update: EPERM whatever the argument (even NULL), each counted (%llu -> %llu)\n",
				 (unsigned long long)before.write_attempts,
				 (unsigned long long)after.write_attempts);
		ksft_test_result(after.gate == NITRO_GATE_OPEN &&
				 !memcmp(before.regs, after.regs, sizeof(before.regs)),
				 "write attempts change nothing: registers identical, gate still open\n");
	}

	{
		/* The firmware store: read-only, writes refused and counted. */
		static unsigned char rom[65536 + 1];
		struct nitro_firmware_status before, after;
		struct iovec iov = { .iov_base = rom, .iov_len = 16 };
		int sfd = open("/dev/nitro_fw", O_RDWR);
		ssize_t n = 0, r;
		int w1, w2, m, i;

		fw_status(&before);
		while (sfd >= 0 && (r = read(sfd, rom + n, sizeof(rom) - n)) > 0)
			n += r;
		w1 = write(sfd, rom, 4096) < 0 ? -errno : 0;
		w2 = writev(sfd, &iov, 1) < 0 ? -errno : 0;
		m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0) == MAP_FAILED ? -errno : 0;
		i = ioctl(sfd, NITRO_IOC_VERSION, rom) < 0 ? -errno : 0;
		fw_status(&after);
		ksft_test_result(sfd >= 0 && n == 65536 && w1 == -EPERM && w2 == -EPERM && m == -ENODEV &&
				 i == -ENOTTY && after.write_attempts == before.write_attempts + 2,
				 "/dev/nitro_fw: reads the 64 KiB ROM; write and writev EPERM (counted), no mmap, no ioctl\n");
		if (sfd >= 0)
			close(sfd);
	}

	{
		struct nitro_firmware_status st = { .size = sizeof(st), .measurements = 1 };

		rc = xioctl(NITRO_IOC_FIRMWARE_STATUS, &st);
		ksft_test_result(rc == -EINVAL, "firmware status with an output field set: EINVAL\n");
	}
	close(fd);
	ksft_finished();
}
