/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the VPC card's ABI tests (net_abi, sg_abi) share: the controller's
 * descriptor and the calls on it, addresses, and a shell for the setup.
 * Included once by each test program.
 */
#ifndef NITRO_VPC_ABI_H
#define NITRO_VPC_ABI_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <linux/nitro.h>
#include "kselftest.h"

/* /dev/nitro_ctrl, open for the whole test. */
static int fd = -1;

/* One ioctl on the controller: 0 or -errno. */
static int xioctl(unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

/* An IPv4 address in network byte order. */
static __u32 ip(const char *s)
{
	struct in_addr a = { 0 };

	if (inet_pton(AF_INET, s, &a) != 1)
		ksft_exit_fail_msg("bad address in the test: %s\n", s);
	return a.s_addr;
}

/* Runs a shell command quietly; its exit status. */
static int shell(const char *cmd)
{
	char line[4096];

	fflush(stdout);
	snprintf(line, sizeof(line), "( %s ) >/dev/null 2>&1", cmd);
	return system(line);
}

/* A command that takes a struct nitro_object_ref. */
static int ref(unsigned long cmd, __u64 id)
{
	struct nitro_object_ref r = { .size = sizeof(r), .id = id };

	return xioctl(cmd, &r);
}

#endif
