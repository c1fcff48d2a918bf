/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C glue of nitro_nvme: a function for each static inline function or macro
 * of the kernel headers that the cards need and Rust cannot call (7.3 has no
 * Rust helper for them). Each is that one call, nothing more: every loop,
 * decision, field and table is in Rust. These prototypes reach Rust through
 * the same bindgen run as the kernel's (ffi.h), so the two cannot disagree.
 */
#ifndef NITRO_NVME_GLUE_H
#define NITRO_NVME_GLUE_H

#include <linux/types.h>
#include <linux/bvec.h>

struct bio;
struct crypto_sync_skcipher;
struct inode;
struct scatterlist;
struct skcipher_request;

/* bio_iter_iovec() (a macro) and bio_advance_iter_single(): one step each
 * of rq_for_each_segment(). */
struct bio_vec nitro_nvme_bio_iter_iovec(const struct bio *bio, struct bvec_iter iter);
void nitro_nvme_bio_advance_iter_single(const struct bio *bio, struct bvec_iter *iter,
					unsigned int bytes);

/* crypto_sync_skcipher_setkey(), crypto_sync_skcipher_set_flags(),
 * crypto_free_sync_skcipher(), skcipher_request_set_sync_tfm(),
 * skcipher_request_set_crypt(). */
int nitro_nvme_xts_setkey(struct crypto_sync_skcipher *tfm, const u8 *key, unsigned int len);
void nitro_nvme_xts_set_flags(struct crypto_sync_skcipher *tfm, u32 flags);
void nitro_nvme_xts_free(struct crypto_sync_skcipher *tfm);
void nitro_nvme_xts_req_tfm(struct skcipher_request *req, struct crypto_sync_skcipher *tfm);
void nitro_nvme_xts_req_crypt(struct skcipher_request *req, struct scatterlist *src,
			      struct scatterlist *dst, unsigned int len, u8 *iv);

/* i_size_read(). */
loff_t nitro_nvme_i_size_read(const struct inode *inode);

/* virt_addr_valid() (a macro): whether @addr is in the linear map. */
bool nitro_nvme_virt_addr_valid(const void *addr);

#endif
