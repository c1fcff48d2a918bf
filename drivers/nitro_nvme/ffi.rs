// SPDX-License-Identifier: GPL-2.0

//! Every C function, type and constant nitro_nvme reaches: the kernel's
//! [`kernel::bindings`], and what bindgen generates from `ffi.h` (the kernel
//! headers the cards call into and the glue's `nitro_nvme_glue.h`) as
//! `ffi.list` says. The generated items shadow the glob import, so a type
//! that `kernel::bindings` has (`request`, `bio`, `scatterlist`, ...) is its
//! type, and one it lacks (`skcipher_request`, `aes_gcm_key`) is generated
//! here. Nothing is typed by hand; the layout of each generated type is
//! checked against C's when the module is compiled.

#![allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    missing_docs,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    improper_ctypes,
    clippy::all,
    clippy::pedantic,
    clippy::undocumented_unsafe_blocks
)]

pub(crate) use kernel::bindings::*;
use kernel::ffi;
use pin_init::MaybeZeroable;

include!("ffi_generated.rs");
