/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C glue of nitro_net: a function for each static inline function or macro
 * of the kernel headers that the card needs and Rust cannot call (7.3 has
 * no Rust helper for them). Each is that one call, nothing more: every
 * decision, field and table is in Rust. These prototypes reach Rust through
 * the same bindgen run as the kernel's (ffi.h), so the two cannot disagree.
 */
#ifndef NITRO_NET_GLUE_H
#define NITRO_NET_GLUE_H

#include <linux/types.h>

struct aead_request;
struct crypto_aead;
struct iphdr;
struct net;
struct net_device;
struct rtable;
struct scatterlist;
struct sk_buff;
struct skb_shared_info;
struct sock;

/* netdev_priv(), eth_hw_addr_set(), dev_net_set(), the dev_dstats_*(). */
void *nitro_net_priv(const struct net_device *dev);
void nitro_net_hw_addr_set(struct net_device *dev, const u8 *addr);
void nitro_net_dev_net_set(struct net_device *dev, struct net *net);
void nitro_net_dstats_tx_add(struct net_device *dev, unsigned int len);
void nitro_net_dstats_tx_dropped(struct net_device *dev);
void nitro_net_dstats_rx_add(struct net_device *dev, unsigned int len);

/*
 * skb_shinfo(), skb_reserve(), skb_tailroom(), skb_linearize(),
 * skb_unclone() (GFP_ATOMIC), ip_hdr().
 */
struct skb_shared_info *nitro_net_skb_shinfo(const struct sk_buff *skb);
void nitro_net_skb_reserve(struct sk_buff *skb, int len);
unsigned int nitro_net_skb_tailroom(const struct sk_buff *skb);
int nitro_net_skb_linearize(struct sk_buff *skb);
int nitro_net_skb_unclone(struct sk_buff *skb);
struct iphdr *nitro_net_ip_hdr(const struct sk_buff *skb);

/* kfree_skb(), and consume_skb() (static inline without tracepoints). */
void nitro_net_kfree_skb(struct sk_buff *skb);
void nitro_net_consume_skb(struct sk_buff *skb);

/* sg_mark_end(). */
void nitro_net_sg_mark_end(struct scatterlist *sg);

/* get_net(), put_net(), sock_net(), rcu_dereference_sk_user_data(). */
struct net *nitro_net_get_net(struct net *net);
void nitro_net_put_net(struct net *net);
struct net *nitro_net_sock_net(const struct sock *sk);
void *nitro_net_sk_user_data(const struct sock *sk);

/* dst_mtu() of a route, dst_hold() of a route, ip_rt_put(). */
unsigned int nitro_net_rt_mtu(const struct rtable *rt);
void nitro_net_rt_hold(struct rtable *rt);
void nitro_net_rt_put(struct rtable *rt);

/* local_bh_disable(), local_bh_enable(). */
void nitro_net_bh_disable(void);
void nitro_net_bh_enable(void);

/* crypto_free_aead(), crypto_aead_reqsize(), the aead_request_set_*(). */
void nitro_net_aead_free(struct crypto_aead *tfm);
unsigned int nitro_net_aead_reqsize(struct crypto_aead *tfm);
void nitro_net_aead_req_tfm(struct aead_request *req, struct crypto_aead *tfm);
void nitro_net_aead_req_ad(struct aead_request *req, unsigned int assoclen);
void nitro_net_aead_req_crypt(struct aead_request *req, struct scatterlist *src,
			      struct scatterlist *dst, unsigned int cryptlen, u8 *iv);

#endif
