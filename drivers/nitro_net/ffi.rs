// SPDX-License-Identifier: GPL-2.0

//! Every C function, type and constant nitro_net reaches: the kernel's
//! [`kernel::bindings`], and what bindgen generates from `ffi.h` (the kernel
//! headers the card calls into and the glue's `nitro_net_glue.h`) as
//! `ffi.list` says. The generated items shadow the glob import, so a type
//! that `kernel::bindings` has (`sk_buff`, `net`, `scatterlist`, ...) is its
//! type, and one it lacks or has only opaque (`net_device`) is generated
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
use pin_init::{MaybeZeroable, Zeroable};

include!("ffi_generated.rs");

// SAFETY: As in `kernel::bindings`: a newtype around its storage, zero is
// a valid value of each of its bitfields.
unsafe impl<Storage: Zeroable> Zeroable for __BindgenBitfieldUnit<Storage> {}

// SAFETY: A member of a union bindgen cannot make a Rust union: it has no
// bytes of its own (its union's are zeroed with the union).
unsafe impl<T> Zeroable for __BindgenUnionField<T> {}
