// SPDX-License-Identifier: GPL-2.0
/* C glue of nitro_nvme: see nitro_nvme_glue.h. */

#include <crypto/aes-xts.h>
#include <linux/blk-mq.h>

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
 * @rq, in order, and stops at the first non-zero return, which it returns.
 */
int nitro_nvme_rq_segments(struct request *rq, nitro_nvme_seg_fn fn, void *ctx)
{
	struct req_iterator iter;
	struct bio_vec bv;
	int ret;

	rq_for_each_segment(bv, rq, iter) {
		ret = fn(ctx, bv.bv_page, bv.bv_offset, bv.bv_len);
		if (ret)
			return ret;
	}
	return 0;
}

/* struct aes_xts_key is opaque to Rust: its size, to allocate one. */
size_t nitro_nvme_xts_key_size(void)
{
	return sizeof(struct aes_xts_key);
}
