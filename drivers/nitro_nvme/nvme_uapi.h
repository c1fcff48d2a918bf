/* SPDX-License-Identifier: GPL-2.0 */
/* What bindgen reads for the NVMe passthrough ABI: nvme_ioctl.h uses _IO*
 * without including their definitions. */
#include <linux/ioctl.h>
#include <linux/nvme_ioctl.h>
