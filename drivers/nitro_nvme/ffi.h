/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What bindgen reads for nitro_nvme's FFI (ffi.rs): the kernel headers the
 * cards call into and the glue's prototypes. ffi.list says which of their
 * functions, types and constants are generated; Kbuild runs bindgen with the
 * kernel's own C flags, as for kernel::bindings. The glue includes this file
 * too, so C and Rust see one set of declarations.
 */
#ifndef NITRO_NVME_FFI_H
#define NITRO_NVME_FFI_H

#include <crypto/aes-gcm.h>
#include <crypto/skcipher.h>
#include <linux/bio.h>
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/fs.h>

#include "nitro_nvme_glue.h"

#ifdef __BINDGEN__
/*
 * Constants bindgen cannot evaluate as macros (they have casts), as
 * rust/bindings/bindings_helper.h gives them: Kbuild strips the prefix.
 */
const blk_opf_t RUST_CONST_HELPER_REQ_OP_MASK = REQ_OP_MASK;
const blk_features_t RUST_CONST_HELPER_BLK_FEAT_WRITE_CACHE = BLK_FEAT_WRITE_CACHE;
#endif

#endif
