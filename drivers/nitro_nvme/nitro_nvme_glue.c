// SPDX-License-Identifier: GPL-2.0
/* C glue of nitro_nvme: see nitro_nvme_glue.h. */

#include <crypto/aes-gcm.h>
#include <crypto/skcipher.h>
#include <linux/scatterlist.h>
#include <linux/fs.h>
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/device.h>

#include "nitro_nvme_glue.h"

/* blk_rq_pos() is static inline: the request's first sector (512 bytes). */
u64 nitro_nvme_rq_pos(struct request *rq)
{
	return blk_rq_pos(rq);
}

/* blk_rq_bytes() is static inline: the bytes the request covers. */
unsigned int nitro_nvme_rq_bytes(struct request *rq)
{
	return blk_rq_bytes(rq);
}

/* req_op() is static inline. */
unsigned int nitro_nvme_rq_op(struct request *rq)
{
	return req_op(rq);
}

/*
 * rq_for_each_segment() is a macro: calls @fn on each single-page segment of
 * @rq, in order (the Rust side remembers an error and ignores the rest).
 */
void nitro_nvme_rq_segments(struct request *rq, nitro_nvme_seg_fn fn, void *ctx)
{
	struct req_iterator iter;
	struct bio_vec bv;

	rq_for_each_segment(bv, rq, iter)
		fn(ctx, bv.bv_page, bv.bv_offset, bv.bv_len);
}

/*
 * AES-256-XTS through the crypto API's synchronous "xts(aes)" (xts.rs); its
 * helpers below are static inlines. The request lives on the Rust stack
 * (SYNC_SKCIPHER_REQUEST_ON_STACK is a macro): its size comes from here.
 */
size_t nitro_nvme_xts_req_size(void)
{
	return sizeof(struct skcipher_request) + MAX_SYNC_SKCIPHER_REQSIZE;
}

int nitro_nvme_xts_setkey(struct crypto_sync_skcipher *tfm, const u8 *key, unsigned int len)
{
	return crypto_sync_skcipher_setkey(tfm, key, len);
}

void nitro_nvme_xts_forbid_weak_keys(struct crypto_sync_skcipher *tfm)
{
	crypto_sync_skcipher_set_flags(tfm, CRYPTO_TFM_REQ_FORBID_WEAK_KEYS);
}

void nitro_nvme_xts_free(struct crypto_sync_skcipher *tfm)
{
	crypto_free_sync_skcipher(tfm);
}

void nitro_nvme_xts_req_tfm(struct skcipher_request *req, struct crypto_sync_skcipher *tfm)
{
	skcipher_request_set_sync_tfm(req, tfm);
}

void nitro_nvme_xts_req_crypt(struct skcipher_request *req, struct scatterlist *src,
			      struct scatterlist *dst, unsigned int len, u8 *iv)
{
	skcipher_request_set_crypt(req, src, dst, len, iv);
}

/* struct aes_gcm_key is opaque to Rust: its size, to allocate one. */
size_t nitro_nvme_gcm_key_size(void)
{
	return sizeof(struct aes_gcm_key);
}

/*
 * i_size_read() is static inline: the size of a backing file or block
 * device (f_mapping->host is the bdev's inode for a device node).
 */
loff_t nitro_nvme_file_size(struct file *file)
{
	return i_size_read(file->f_mapping->host);
}

/*
 * sysfs attribute callbacks must be C: each one calls into Rust once
 * (dev_to_disk() is a macro).
 */
#define NITRO_NVME_ATTR(_name, _which)						\
	static ssize_t _name##_show(struct device *dev,				\
				    struct device_attribute *attr, char *buf)	\
	{									\
		return nitro_nvme_disk_attr(dev_to_disk(dev), _which, buf);	\
	}									\
	static DEVICE_ATTR_RO(_name)

NITRO_NVME_ATTR(serial, NITRO_NVME_ATTR_SERIAL);
NITRO_NVME_ATTR(model, NITRO_NVME_ATTR_MODEL);
NITRO_NVME_ATTR(device, NITRO_NVME_ATTR_DEVICE);
NITRO_NVME_ATTR(volume, NITRO_NVME_ATTR_VOLUME);

static struct attribute *nitro_nvme_attrs[] = {
	&dev_attr_serial.attr,
	&dev_attr_model.attr,
	&dev_attr_device.attr,
	&dev_attr_volume.attr,
	NULL,
};

static const struct attribute_group nitro_nvme_group = {
	.name = "nitro",
	.attrs = nitro_nvme_attrs,
};

const struct attribute_group *nitro_nvme_disk_groups[] = {
	&nitro_nvme_group,
	NULL,
};
