// SPDX-License-Identifier: GPL-2.0
/* C glue of nitro_net: see nitro_net_glue.h. */

#include <crypto/aead.h>
#include <linux/bottom_half.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/netdevice.h>
#include <linux/scatterlist.h>
#include <linux/skbuff.h>
#include <linux/ip.h>
#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <net/gso.h>
#include <net/net_namespace.h>
#include <net/route.h>
#include <net/udp_tunnel.h>
#include <linux/nitro.h>

#include "nitro_net_glue.h"

static const struct net_device_ops nitro_net_ops = {
	.ndo_open = nitro_net_open,
	.ndo_stop = nitro_net_stop,
	.ndo_start_xmit = nitro_net_xmit,
	.ndo_set_mac_address = eth_mac_addr,
	.ndo_validate_addr = eth_validate_addr,
};

static const struct ethtool_ops nitro_net_ethtool_ops = {
	.get_drvinfo = nitro_net_get_drvinfo,
	.get_link = ethtool_op_get_link,
	.get_sset_count = nitro_net_get_sset_count,
	.get_strings = nitro_net_get_strings,
	.get_ethtool_stats = nitro_net_get_stats,
};

/*
 * The alloc_netdev_mqs() setup callback: an Ethernet device with our ops,
 * per-CPU packet counters kept by the core (ip -s link), lockless transmit
 * (the Rust side is safe on every queue at once), no qdisc (as veth), MTU up
 * to the VPC's 9001, and a MAC the guest may change while up (the card then
 * drops what it sends: anti-spoofing).
 */
void nitro_net_setup(struct net_device *dev)
{
	ether_setup(dev);
	dev->netdev_ops = &nitro_net_ops;
	dev->ethtool_ops = &nitro_net_ethtool_ops;
	dev->pcpu_stat_type = NETDEV_PCPU_STAT_DSTATS;
	dev->lltx = true;
	dev->priv_flags |= IFF_LIVE_ADDR_CHANGE | IFF_NO_QUEUE;
	dev->min_mtu = ETH_MIN_MTU;
	dev->max_mtu = NITRO_ENI_MTU_MAX;
	dev->hw_features = NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_TSO;
	dev->features |= dev->hw_features;
}

void **nitro_net_priv(struct net_device *dev)
{
	return netdev_priv(dev);
}

void nitro_net_set_mac(struct net_device *dev, const u8 *mac)
{
	eth_hw_addr_set(dev, mac);
}

void nitro_net_set_netns(struct net_device *dev, struct net *net)
{
	dev_net_set(dev, net);
}

const char *nitro_net_name(const struct net_device *dev)
{
	return dev->name;
}

void nitro_net_tx_add(struct net_device *dev, unsigned int len)
{
	dev_dstats_tx_add(dev, len);
}

void nitro_net_tx_dropped(struct net_device *dev)
{
	dev_dstats_tx_dropped(dev);
}

void nitro_net_rx_add(struct net_device *dev, unsigned int len)
{
	dev_dstats_rx_add(dev, len);
}

unsigned int nitro_net_skb_len(const struct sk_buff *skb)
{
	return skb->len;
}

u8 *nitro_net_skb_data(const struct sk_buff *skb)
{
	return skb->data;
}

void nitro_net_skb_offload(const struct sk_buff *skb, struct nitro_net_offload *o)
{
	o->partial = skb->ip_summed == CHECKSUM_PARTIAL;
	o->csum_start = skb_checksum_start_offset(skb);
	o->csum_offset = skb->csum_offset;
	o->gso_size = skb_shinfo(skb)->gso_size;
	o->gso_type = skb_shinfo(skb)->gso_type;
}

/*
 * The checksum at @start + @offset (from skb->data) is for the stack to
 * finish; false (and nothing set) if that is not inside the frame.
 */
bool nitro_net_skb_set_csum_partial(struct sk_buff *skb, u16 start, u16 offset)
{
	return skb_partial_csum_set(skb, start, offset);
}

/* A TCP/IPv4 super-packet of @gso_size segments, from another host (dodgy). */
void nitro_net_skb_set_tso4(struct sk_buff *skb, u16 gso_size)
{
	skb_shinfo(skb)->gso_size = gso_size;
	skb_shinfo(skb)->gso_type = SKB_GSO_TCPV4 | SKB_GSO_DODGY;
	skb_shinfo(skb)->gso_segs = 0;
}

/* Software segmentation with checksums (no features): a list, NULL, or an ERR_PTR. */
struct sk_buff *nitro_net_gso_segment(struct sk_buff *skb)
{
	return skb_gso_segment(skb, 0);
}

/* Takes @skb off the list it heads; returns the rest. */
struct sk_buff *nitro_net_skb_unlink_next(struct sk_buff *skb)
{
	struct sk_buff *next = skb->next;

	skb_mark_not_on_list(skb);
	return next;
}

/* Packets are built in softirq or transmit context: never sleep. */
struct sk_buff *nitro_net_alloc_skb(unsigned int size)
{
	return alloc_skb(size, GFP_ATOMIC);
}

void nitro_net_skb_reserve(struct sk_buff *skb, unsigned int len)
{
	skb_reserve(skb, len);
}

unsigned int nitro_net_skb_tailroom(const struct sk_buff *skb)
{
	return skb_tailroom(skb);
}

int nitro_net_skb_linearize(struct sk_buff *skb)
{
	return skb_linearize(skb);
}

void nitro_net_kfree_skb(struct sk_buff *skb)
{
	kfree_skb(skb);
}

/* consume_skb() is a static inline without tracepoints (the bench kernel). */
void nitro_net_consume_skb(struct sk_buff *skb)
{
	consume_skb(skb);
}

/* On the underlay socket's receive path the network header is IPv4. */
__be32 nitro_net_skb_saddr(const struct sk_buff *skb)
{
	return ip_hdr(skb)->saddr;
}

/* skb->protocol is a field Rust cannot reach (eth_type_trans() gives it). */
void nitro_net_skb_set_protocol(struct sk_buff *skb, __be16 proto)
{
	skb->protocol = proto;
}

/* The caller's network namespace, with a reference. */
struct net *nitro_net_current_netns(void)
{
	return get_net(current->nsproxy->net_ns);
}

void nitro_net_put_netns(struct net *net)
{
	put_net(net);
}

/* A kernel UDP socket in @net bound to @addr, port 6081. */
int nitro_net_udp_open(struct net *net, __be32 addr, struct socket **sock)
{
	struct udp_port_cfg cfg = {
		.family = AF_INET,
		.local_ip.s_addr = addr,
		.local_udp_port = htons(NITRO_GENEVE_PORT),
	};

	return udp_sock_create4(net, &cfg, sock);
}

/* Every datagram the socket receives goes to @rcv, with @user. */
void nitro_net_udp_encap(struct socket *sock, void *user, nitro_net_encap_rcv rcv)
{
	struct udp_tunnel_sock_cfg cfg = {
		.sk_user_data = user,
		.encap_type = 1,
		.encap_rcv = rcv,
	};

	setup_udp_tunnel_sock(sock_net(sock->sk), sock->sk, &cfg);
}

void *nitro_net_sk_user(struct sock *sk)
{
	return rcu_dereference_sk_user_data(sk);
}

struct sock *nitro_net_sock_sk(struct socket *sock)
{
	return sock->sk;
}

/* The IPv4 route from @src to @dst (an ERR_PTR if there is none). */
struct rtable *nitro_net_route(struct net *net, __be32 src, __be32 dst)
{
	struct flowi4 fl4 = {
		.saddr = src,
		.daddr = dst,
		.flowi4_proto = IPPROTO_UDP,
	};

	return ip_route_output_key(net, &fl4);
}

void nitro_net_aead_free(struct crypto_aead *tfm)
{
	crypto_free_aead(tfm);
}

/* A request's size: what aead_request_alloc() would allocate. */
size_t nitro_net_aead_req_size(struct crypto_aead *tfm)
{
	return sizeof(struct aead_request) + crypto_aead_reqsize(tfm);
}

void nitro_net_aead_req_tfm(struct aead_request *req, struct crypto_aead *tfm)
{
	aead_request_set_tfm(req, tfm);
}

void nitro_net_aead_req_ad(struct aead_request *req, unsigned int assoclen)
{
	aead_request_set_ad(req, assoclen);
}

void nitro_net_aead_req_crypt(struct aead_request *req, struct scatterlist *src,
			      struct scatterlist *dst, unsigned int cryptlen, u8 *iv)
{
	aead_request_set_crypt(req, src, dst, cryptlen, iv);
}

/* sg_mark_end() is a static inline. */
void nitro_net_sg_mark_end(struct scatterlist *sg)
{
	sg_mark_end(sg);
}

/* The skb_shared_info fields Rust counts scatterlist entries with. */
unsigned int nitro_net_skb_nr_frags(const struct sk_buff *skb)
{
	return skb_shinfo(skb)->nr_frags;
}

struct sk_buff *nitro_net_skb_frag_list(const struct sk_buff *skb)
{
	return skb_shinfo(skb)->frag_list;
}

struct sk_buff *nitro_net_skb_next(const struct sk_buff *skb)
{
	return skb->next;
}

/* The fields Rust links a datagram's pieces with (skb.rs). */
void nitro_net_skb_set_frag_list(struct sk_buff *skb, struct sk_buff *list)
{
	skb_shinfo(skb)->frag_list = list;
}

void nitro_net_skb_set_next(struct sk_buff *skb, struct sk_buff *next)
{
	skb->next = next;
}

/* skb_len_add() is a static inline. */
void nitro_net_skb_len_add(struct sk_buff *skb, unsigned int delta)
{
	skb_len_add(skb, delta);
}

unsigned int nitro_net_skb_truesize(const struct sk_buff *skb)
{
	return skb->truesize;
}

void nitro_net_skb_add_truesize(struct sk_buff *skb, unsigned int delta)
{
	skb->truesize += delta;
}

/* dst_mtu() is a static inline. */
unsigned int nitro_net_rt_mtu(struct rtable *rt)
{
	return dst_mtu(&rt->dst);
}

void nitro_net_bh_disable(void)
{
	local_bh_disable();
}

void nitro_net_bh_enable(void)
{
	local_bh_enable();
}

/* ip_rt_put() is a static inline. */
void nitro_net_rt_put(struct rtable *rt)
{
	ip_rt_put(rt);
}
