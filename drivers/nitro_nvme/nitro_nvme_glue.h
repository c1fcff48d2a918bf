/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C glue for what kernel 7.3's Rust support has no way into: static inline
 * request accessors, the rq_for_each_segment() macro, the crypto API's
 * skcipher helpers (static inlines) and its request's size, the size of
 * struct aes_gcm_key (not in the Rust bindings), and i_size_read(). One
 * call each, no logic:
 * drivers/nitro_nvme/blk.rs, xts.rs, keys.rs and backing.rs are their
 * only users.
 */
#ifndef NITRO_NVME_GLUE_H
#define NITRO_NVME_GLUE_H

#include <linux/types.h>

struct page;
struct request;

typedef void (*nitro_nvme_seg_fn)(void *ctx, struct page *page, unsigned int offset,
				  unsigned int len);

u64 nitro_nvme_rq_pos(struct request *rq);
unsigned int nitro_nvme_rq_bytes(struct request *rq);
unsigned int nitro_nvme_rq_op(struct request *rq);
void nitro_nvme_rq_segments(struct request *rq, nitro_nvme_seg_fn fn, void *ctx);
struct crypto_sync_skcipher;
struct skcipher_request;
struct scatterlist;
size_t nitro_nvme_xts_req_size(void);
int nitro_nvme_xts_setkey(struct crypto_sync_skcipher *tfm, const u8 *key, unsigned int len);
void nitro_nvme_xts_forbid_weak_keys(struct crypto_sync_skcipher *tfm);
void nitro_nvme_xts_free(struct crypto_sync_skcipher *tfm);
void nitro_nvme_xts_req_tfm(struct skcipher_request *req, struct crypto_sync_skcipher *tfm);
void nitro_nvme_xts_req_crypt(struct skcipher_request *req, struct scatterlist *src,
			      struct scatterlist *dst, unsigned int len, u8 *iv);
size_t nitro_nvme_gcm_key_size(void);

struct file;
loff_t nitro_nvme_file_size(struct file *file);

/* The disk's sysfs attributes (directory "nitro"), for udev. */
enum nitro_nvme_attr {
	NITRO_NVME_ATTR_SERIAL,
	NITRO_NVME_ATTR_MODEL,
	NITRO_NVME_ATTR_DEVICE,
	NITRO_NVME_ATTR_VOLUME,
};

struct gendisk;
struct attribute_group;

/* In Rust (disk.rs): writes attribute @which of @disk into @buf. */
ssize_t nitro_nvme_disk_attr(struct gendisk *disk, int which, char *buf);
extern const struct attribute_group *nitro_nvme_disk_groups[];

#endif
