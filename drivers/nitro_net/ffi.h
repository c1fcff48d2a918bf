/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What bindgen reads for nitro_net's FFI (ffi.rs): the kernel headers the
 * card calls into and the glue's prototypes. ffi.list says which of their
 * functions, types and constants are generated; Kbuild runs bindgen with the
 * kernel's own C flags, as for kernel::bindings. The glue includes this file
 * too, so C and Rust see one set of declarations.
 */
#ifndef NITRO_NET_FFI_H
#define NITRO_NET_FFI_H

#include <crypto/aead.h>
#include <linux/bottom_half.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/ip.h>
#include <linux/netdevice.h>
#include <linux/nsproxy.h>
#include <linux/scatterlist.h>
#include <linux/skbuff.h>
#include <net/gso.h>
#include <net/ip.h>
#include <net/net_namespace.h>
#include <net/route.h>
#include <net/udp_tunnel.h>

#include "nitro_net_glue.h"

#ifdef __BINDGEN__
/*
 * Constants bindgen cannot evaluate as macros (they have casts), as
 * rust/bindings/bindings_helper.h gives them: Kbuild strips the prefix.
 */
const netdev_features_t RUST_CONST_HELPER_NETIF_F_SG = NETIF_F_SG;
const netdev_features_t RUST_CONST_HELPER_NETIF_F_HW_CSUM = NETIF_F_HW_CSUM;
const netdev_features_t RUST_CONST_HELPER_NETIF_F_TSO = NETIF_F_TSO;
#endif

#endif
