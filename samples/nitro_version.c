// SPDX-License-Identifier: GPL-2.0
/*
 * nitro_version: the smallest user of the nitro-rs ABI. Opens
 * /dev/nitro_ctrl and prints the controller's ABI version and features,
 * using the ABI header (include/uapi/linux/nitro.h) directly.
 *
 *   cc -I include/uapi -o nitro_version samples/nitro_version.c
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/nitro.h>

int main(void)
{
	struct nitro_version v = { .size = sizeof(v) };
	int fd = open("/dev/" NITRO_CTRL_DEVICE, O_RDONLY);

	if (fd < 0) {
		fprintf(stderr, "open /dev/%s: %s\n", NITRO_CTRL_DEVICE, strerror(errno));
		return 1;
	}
	if (ioctl(fd, NITRO_IOC_VERSION, &v) < 0) {
		fprintf(stderr, "NITRO_IOC_VERSION: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	printf("nitro_ctrl ABI %u (header ABI %u), features %#llx, max cards %u\n",
	       v.abi_version, NITRO_ABI_VERSION, (unsigned long long)v.features, v.max_cards);
	close(fd);
	return 0;
}
