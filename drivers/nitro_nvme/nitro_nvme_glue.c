// SPDX-License-Identifier: GPL-2.0
/* C glue of nitro_nvme: see nitro_nvme_glue.h. */

#include "ffi.h"

struct bio_vec nitro_nvme_bio_iter_iovec(const struct bio *bio, struct bvec_iter iter)
{
	return bio_iter_iovec(bio, iter);
}

void nitro_nvme_bio_advance_iter_single(const struct bio *bio, struct bvec_iter *iter,
					unsigned int bytes)
{
	bio_advance_iter_single(bio, iter, bytes);
}

int nitro_nvme_xts_setkey(struct crypto_sync_skcipher *tfm, const u8 *key, unsigned int len)
{
	return crypto_sync_skcipher_setkey(tfm, key, len);
}

void nitro_nvme_xts_set_flags(struct crypto_sync_skcipher *tfm, u32 flags)
{
	crypto_sync_skcipher_set_flags(tfm, flags);
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

loff_t nitro_nvme_i_size_read(const struct inode *inode)
{
	return i_size_read(inode);
}

bool nitro_nvme_virt_addr_valid(const void *addr)
{
	return virt_addr_valid(addr);
}
