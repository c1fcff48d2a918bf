// SPDX-License-Identifier: GPL-2.0
/* C glue of nitro_net: see nitro_net_glue.h. */

#include "ffi.h"

void *nitro_net_priv(const struct net_device *dev)
{
	return netdev_priv(dev);
}

void nitro_net_hw_addr_set(struct net_device *dev, const u8 *addr)
{
	eth_hw_addr_set(dev, addr);
}

void nitro_net_dev_net_set(struct net_device *dev, struct net *net)
{
	dev_net_set(dev, net);
}

void nitro_net_dstats_tx_add(struct net_device *dev, unsigned int len)
{
	dev_dstats_tx_add(dev, len);
}

void nitro_net_dstats_tx_dropped(struct net_device *dev)
{
	dev_dstats_tx_dropped(dev);
}

void nitro_net_dstats_rx_add(struct net_device *dev, unsigned int len)
{
	dev_dstats_rx_add(dev, len);
}

struct skb_shared_info *nitro_net_skb_shinfo(const struct sk_buff *skb)
{
	return skb_shinfo(skb);
}

void nitro_net_skb_reserve(struct sk_buff *skb, int len)
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

int nitro_net_skb_unclone(struct sk_buff *skb)
{
	return skb_unclone(skb, GFP_ATOMIC);
}

struct iphdr *nitro_net_ip_hdr(const struct sk_buff *skb)
{
	return ip_hdr(skb);
}

void nitro_net_kfree_skb(struct sk_buff *skb)
{
	kfree_skb(skb);
}

void nitro_net_consume_skb(struct sk_buff *skb)
{
	consume_skb(skb);
}

void nitro_net_sg_mark_end(struct scatterlist *sg)
{
	sg_mark_end(sg);
}

struct net *nitro_net_get_net(struct net *net)
{
	return get_net(net);
}

void nitro_net_put_net(struct net *net)
{
	put_net(net);
}

struct net *nitro_net_sock_net(const struct sock *sk)
{
	return sock_net(sk);
}

void *nitro_net_sk_user_data(const struct sock *sk)
{
	return rcu_dereference_sk_user_data(sk);
}

unsigned int nitro_net_rt_mtu(const struct rtable *rt)
{
	return dst_mtu(&rt->dst);
}

void nitro_net_rt_hold(struct rtable *rt)
{
	dst_hold(&rt->dst);
}

void nitro_net_rt_put(struct rtable *rt)
{
	ip_rt_put(rt);
}

void nitro_net_bh_disable(void)
{
	local_bh_disable();
}

void nitro_net_bh_enable(void)
{
	local_bh_enable();
}

void nitro_net_aead_free(struct crypto_aead *tfm)
{
	crypto_free_aead(tfm);
}

unsigned int nitro_net_aead_reqsize(struct crypto_aead *tfm)
{
	return crypto_aead_reqsize(tfm);
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
