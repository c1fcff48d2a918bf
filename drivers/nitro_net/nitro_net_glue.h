/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C glue of nitro_net, for what kernel 7.3's Rust support has no way into:
 * struct net_device and struct sk_buff are opaque to Rust (so are their
 * static inline accessors), the netdev and ethtool operation tables must be
 * C structs, and the UDP tunnel configuration structs are not in the Rust
 * bindings. One call (or one field) each, no logic: netdev.rs, skb.rs,
 * net.rs and gcm.rs are the only users.
 */
#ifndef NITRO_NET_GLUE_H
#define NITRO_NET_GLUE_H

#include <linux/types.h>

struct net;
struct net_device;
struct sk_buff;
struct sock;
struct socket;
struct rtable;

/* The netdev: ops tables point at the Rust functions below. */
void nitro_net_setup(struct net_device *dev);
void **nitro_net_priv(struct net_device *dev);
void nitro_net_set_mac(struct net_device *dev, const u8 *mac);
void nitro_net_set_netns(struct net_device *dev, struct net *net);
const char *nitro_net_name(const struct net_device *dev);
void nitro_net_tx_add(struct net_device *dev, unsigned int len);
void nitro_net_tx_dropped(struct net_device *dev);
void nitro_net_rx_add(struct net_device *dev, unsigned int len);

/* In Rust (netdev.rs). */
int nitro_net_open(struct net_device *dev);
int nitro_net_stop(struct net_device *dev);
int nitro_net_xmit(struct sk_buff *skb, struct net_device *dev);
struct ethtool_drvinfo;
struct ethtool_stats;
void nitro_net_get_drvinfo(struct net_device *dev, struct ethtool_drvinfo *info);
int nitro_net_get_sset_count(struct net_device *dev, int sset);
void nitro_net_get_strings(struct net_device *dev, u32 sset, u8 *data);
void nitro_net_get_stats(struct net_device *dev, struct ethtool_stats *stats, u64 *data);

/* Socket buffers. */
unsigned int nitro_net_skb_len(const struct sk_buff *skb);
u8 *nitro_net_skb_data(const struct sk_buff *skb);
struct sk_buff *nitro_net_alloc_skb(unsigned int size);
void nitro_net_skb_reserve(struct sk_buff *skb, unsigned int len);
unsigned int nitro_net_skb_tailroom(const struct sk_buff *skb);
int nitro_net_skb_linearize(struct sk_buff *skb);
void nitro_net_kfree_skb(struct sk_buff *skb);
void nitro_net_consume_skb(struct sk_buff *skb);
__be32 nitro_net_skb_saddr(const struct sk_buff *skb);
void nitro_net_skb_set_protocol(struct sk_buff *skb, __be16 proto);

/* Offloads: a frame's checksum and segmentation state, as the stack left it. */
struct nitro_net_offload {
	u16 csum_start;		/* from the frame's first byte */
	u16 csum_offset;	/* from csum_start */
	u16 gso_size;		/* 0: not a GSO frame */
	u8 partial;		/* ip_summed == CHECKSUM_PARTIAL */
	u8 pad;
	u32 gso_type;		/* SKB_GSO_* */
};
void nitro_net_skb_offload(const struct sk_buff *skb, struct nitro_net_offload *o);
bool nitro_net_skb_set_csum_partial(struct sk_buff *skb, u16 start, u16 offset);
void nitro_net_skb_set_tso4(struct sk_buff *skb, u16 gso_size);
struct sk_buff *nitro_net_gso_segment(struct sk_buff *skb);
struct sk_buff *nitro_net_skb_unlink_next(struct sk_buff *skb);

/* The underlay socket. */
typedef int (*nitro_net_encap_rcv)(struct sock *sk, struct sk_buff *skb);
struct net *nitro_net_current_netns(void);
void nitro_net_put_netns(struct net *net);
int nitro_net_udp_open(struct net *net, __be32 addr, struct socket **sock);
void nitro_net_udp_encap(struct socket *sock, void *user, nitro_net_encap_rcv rcv);
void *nitro_net_sk_user(struct sock *sk);
struct sock *nitro_net_sock_sk(struct socket *sock);
struct rtable *nitro_net_route(struct net *net, __be32 src, __be32 dst);

/* AES-GCM through the AEAD API: its request helpers are static inlines. */
struct crypto_aead;
struct aead_request;
struct scatterlist;
void nitro_net_aead_free(struct crypto_aead *tfm);
size_t nitro_net_aead_req_size(struct crypto_aead *tfm);
void nitro_net_aead_req_tfm(struct aead_request *req, struct crypto_aead *tfm);
void nitro_net_aead_req_ad(struct aead_request *req, unsigned int assoclen);
void nitro_net_aead_req_crypt(struct aead_request *req, struct scatterlist *src,
			      struct scatterlist *dst, unsigned int cryptlen, u8 *iv);

/* Scatterlists over socket buffers (sg.rs, skb.rs). */
struct scatterlist;
void nitro_net_sg_mark_end(struct scatterlist *sg);
unsigned int nitro_net_skb_nr_frags(const struct sk_buff *skb);
struct sk_buff *nitro_net_skb_frag_list(const struct sk_buff *skb);
struct sk_buff *nitro_net_skb_next(const struct sk_buff *skb);

/* A datagram built in pieces on its fragment list (skb.rs). */
void nitro_net_skb_set_frag_list(struct sk_buff *skb, struct sk_buff *list);
void nitro_net_skb_set_next(struct sk_buff *skb, struct sk_buff *next);
void nitro_net_skb_len_add(struct sk_buff *skb, unsigned int delta);
unsigned int nitro_net_skb_truesize(const struct sk_buff *skb);
void nitro_net_skb_add_truesize(struct sk_buff *skb, unsigned int delta);

/* An underlay route's MTU and release: static inlines (net.rs). */
unsigned int nitro_net_rt_mtu(struct rtable *rt);
void nitro_net_rt_put(struct rtable *rt);

/* Bottom halves off and on around a send: static inlines (net.rs). */
void nitro_net_bh_disable(void);
void nitro_net_bh_enable(void);

#endif
