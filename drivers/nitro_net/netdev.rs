// SPDX-License-Identifier: GPL-2.0

//! ENI netdevs: a safe owner of one registered `net_device`, and the
//! callbacks the kernel makes on it.
//!
//! Kernel 7.3 has no Rust netdev abstraction and `struct net_device` is
//! opaque to Rust, so the device is set up by the C glue's `setup` callback
//! (ops tables, per-CPU counters, MTU range) and reached through one-line
//! accessors. Each device's private area holds one `Arc<Port>` reference
//! (taken at [`Unregistered::register`], given back after
//! `unregister_netdev`), so every callback finds its port for as long as
//! the device can be called.

use crate::host::{self, Port, ETHTOOL_COUNTERS};
use crate::net::NetNs;
use crate::skb::Skb;
use core::ffi::{c_int, c_uchar, c_uint, c_void};
use core::ptr::NonNull;
use kernel::ffi::c_char;
use kernel::{
    bindings,
    prelude::*,
    sync::{Arc, ArcBorrow},
};
use nitro_ctrl::bus::DevName;

extern "C" {
    fn nitro_net_setup(dev: *mut bindings::net_device);
    fn nitro_net_priv(dev: *mut bindings::net_device) -> *mut *const c_void;
    fn nitro_net_set_mac(dev: *mut bindings::net_device, mac: *const u8);
    fn nitro_net_set_netns(dev: *mut bindings::net_device, net: *mut c_void);
    fn nitro_net_name(dev: *const bindings::net_device) -> *const c_char;
    fn nitro_net_tx_add(dev: *mut bindings::net_device, len: c_uint);
    fn nitro_net_tx_dropped(dev: *mut bindings::net_device);
    fn nitro_net_rx_add(dev: *mut bindings::net_device, len: c_uint);
    fn nitro_net_skb_set_protocol(skb: *mut bindings::sk_buff, proto: u16);
    fn eth_type_trans(skb: *mut bindings::sk_buff, dev: *mut bindings::net_device) -> u16;
    fn netif_rx(skb: *mut bindings::sk_buff) -> c_int;
    fn netif_set_tso_max_size(dev: *mut bindings::net_device, size: c_uint);
    fn alloc_netdev_mqs(
        sizeof_priv: c_int,
        name: *const c_char,
        name_assign_type: c_uchar,
        setup: unsafe extern "C" fn(*mut bindings::net_device),
        txqs: c_uint,
        rxqs: c_uint,
    ) -> *mut bindings::net_device;
    fn register_netdev(dev: *mut bindings::net_device) -> c_int;
    fn unregister_netdev(dev: *mut bindings::net_device);
    fn free_netdev(dev: *mut bindings::net_device);
    fn netif_carrier_on(dev: *mut bindings::net_device);
    fn netif_carrier_off(dev: *mut bindings::net_device);
    fn dev_forward_skb(dev: *mut bindings::net_device, skb: *mut bindings::sk_buff) -> c_int;
}

/// `NET_NAME_ENUM` and `NET_NAME_USER`: the name came from a `%d` pattern,
/// or from the user.
const NET_NAME_ENUM: c_uchar = 1;
const NET_NAME_USER: c_uchar = 3;
/// `NETDEV_TX_OK`.
const NETDEV_TX_OK: c_int = 0;
/// `ETH_SS_STATS`, the string set of `ethtool -S`.
const ETH_SS_STATS: u32 = 1;
/// `ETH_GSTRING_LEN`.
const GSTRING_LEN: usize = bindings::ETH_GSTRING_LEN as usize;
/// Largest TCP super-packet an ENI takes: sealed whole, it must fit one
/// UDP datagram.
const TSO_MAX: u32 = 60000;
/// Most queues of each direction.
const MAX_QUEUES: u32 = 16;

/// A device of ours the data path may use: valid while it is registered.
/// A [`Port`] holds one, and ports are reachable by the data path only
/// while their device is registered (the host drops them from its tables
/// before unregistering, and `unregister_netdev` waits for the RCU
/// read-side sections the data path runs in).
#[derive(Clone, Copy)]
pub(crate) struct Dev(NonNull<bindings::net_device>);

// SAFETY: A `net_device` is used from any CPU; `Dev` only calls functions
// that are safe to call concurrently (per-CPU counters, netif_rx).
unsafe impl Send for Dev {}
// SAFETY: As above.
unsafe impl Sync for Dev {}

impl Dev {
    /// Hands `skb`, a frame sent by another ENI, to this device's receive
    /// path (scrubbed, as veth does). Gives whether it was taken.
    pub(crate) fn forward(self, skb: Skb) -> bool {
        // SAFETY: The device is registered (type invariant); the buffer's
        // ownership passes to `dev_forward_skb`, which frees it on failure.
        unsafe { dev_forward_skb(self.0.as_ptr(), skb.into_raw()) == 0 }
    }

    /// Hands `skb`, a frame the card built (Ethernet header first), to this
    /// device's receive path.
    pub(crate) fn deliver(self, skb: Skb) {
        let skb = skb.into_raw();
        // `eth_type_trans` reads the Ethernet header and sets `skb->dev`.
        // SAFETY: As in `forward`; `netif_rx` takes the buffer in any case.
        unsafe {
            let proto = eth_type_trans(skb, self.0.as_ptr());
            nitro_net_skb_set_protocol(skb, proto);
            netif_rx(skb);
        }
    }

    /// Counts a frame sent (`ip -s link`).
    pub(crate) fn tx(self, len: usize) {
        // SAFETY: Registered device; per-CPU counters, any context.
        unsafe { nitro_net_tx_add(self.0.as_ptr(), len as u32) };
    }

    /// Counts a frame the device could not send.
    pub(crate) fn tx_dropped(self) {
        // SAFETY: As in `tx`.
        unsafe { nitro_net_tx_dropped(self.0.as_ptr()) };
    }

    /// Counts a frame received.
    pub(crate) fn rx(self, len: usize) {
        // SAFETY: As in `tx`.
        unsafe { nitro_net_rx_add(self.0.as_ptr(), len as u32) };
    }

    /// The interface name, as it is now.
    fn name(self) -> DevName {
        // SAFETY: `dev->name` is a NUL-terminated array of IFNAMSIZ bytes
        // inside the device, which lives while `self` is valid.
        let name = unsafe { CStr::from_char_ptr(nitro_net_name(self.0.as_ptr())) };
        DevName::new(name.to_bytes()).unwrap_or(DevName::EMPTY)
    }
}

/// A device allocated and set up, not yet registered.
pub(crate) struct Unregistered(Dev);

impl Unregistered {
    /// Allocates an ENI device named `name` (empty: `eni%d`) with `mac`, in
    /// the namespace `net`.
    pub(crate) fn new(name: &DevName, mac: &[u8; 6], net: &NetNs) -> Result<Self> {
        let mut buf = [0u8; 16];
        let (src, assign): (&[u8], _) = if name.is_empty() {
            (b"eni%d", NET_NAME_ENUM)
        } else {
            (name.as_bytes(), NET_NAME_USER)
        };
        buf[..src.len()].copy_from_slice(src);
        // SAFETY: Reading a kernel global that is set at boot.
        let cpus = unsafe { bindings::nr_cpu_ids };
        let queues = cpus.clamp(1, MAX_QUEUES);
        // SAFETY: `buf` is NUL-terminated; the setup callback is the glue's,
        // which only initialises fields of the new device.
        let dev = unsafe {
            alloc_netdev_mqs(
                core::mem::size_of::<*const c_void>() as c_int,
                buf.as_ptr().cast(),
                assign,
                nitro_net_setup,
                queues,
                queues,
            )
        };
        let dev = Dev(NonNull::new(dev).ok_or(ENOMEM)?);
        // SAFETY: The device is ours and not registered: nothing else sees
        // it; `mac` is 6 bytes and `net` holds a namespace reference.
        unsafe {
            nitro_net_set_mac(dev.0.as_ptr(), mac.as_ptr());
            nitro_net_set_netns(dev.0.as_ptr(), net.as_ptr());
            netif_set_tso_max_size(dev.0.as_ptr(), TSO_MAX);
            netif_carrier_off(dev.0.as_ptr());
        }
        Ok(Self(dev))
    }

    /// The device, for the port that will own it.
    pub(crate) fn dev(&self) -> Dev {
        self.0
    }

    /// Registers the device, its callbacks now reaching `port`. On failure
    /// (a name taken: `EEXIST`) the device is freed.
    pub(crate) fn register(self, port: Arc<Port>) -> Result<NetDev> {
        let dev = self.0 .0.as_ptr();
        core::mem::forget(self);
        let raw = Arc::into_raw(port);
        // SAFETY: The private area is one pointer (see `new`); the device
        // is not registered, so no callback reads it yet.
        unsafe { *nitro_net_priv(dev) = raw.cast() };
        // SAFETY: A fully set up device of ours.
        let r = unsafe { register_netdev(dev) };
        if r != 0 {
            // SAFETY: Registration failed: no callback ran or will run; the
            // reference taken above comes back, then the device is freed.
            unsafe {
                drop(Arc::from_raw(raw));
                free_netdev(dev);
            }
            return Err(Error::from_errno(r));
        }
        Ok(NetDev(Dev(NonNull::new(dev).ok_or(EINVAL)?)))
    }
}

impl Drop for Unregistered {
    fn drop(&mut self) {
        // SAFETY: Never registered: ours alone to free.
        unsafe { free_netdev(self.0 .0.as_ptr()) };
    }
}

/// A registered ENI device; dropping it unregisters and frees it.
pub(crate) struct NetDev(Dev);

impl NetDev {
    /// Its interface name now.
    pub(crate) fn name(&self) -> DevName {
        self.0.name()
    }
}

impl Drop for NetDev {
    fn drop(&mut self) {
        let dev = self.0 .0.as_ptr();
        // SAFETY: Registered by `register`. `unregister_netdev` closes the
        // device and waits until no callback or RCU reader uses it.
        unsafe { unregister_netdev(dev) };
        // SAFETY: No callback can run any more: give back the reference the
        // private area held, then free the device.
        unsafe {
            drop(Arc::from_raw((*nitro_net_priv(dev)).cast::<Port>()));
            free_netdev(dev);
        }
    }
}

/// The port of one of our devices.
///
/// # Safety
///
/// `dev` must be a registered device of this driver (the glue installs
/// these callbacks on ours only), which keeps the port alive.
unsafe fn port_of<'a>(dev: *mut bindings::net_device) -> ArcBorrow<'a, Port> {
    // SAFETY: Per the contract, the private area holds an `Arc::into_raw`
    // pointer, given back only after the device is unregistered.
    unsafe { ArcBorrow::from_raw((*nitro_net_priv(dev)).cast::<Port>()) }
}

/// `ndo_start_xmit`: the guest sends a frame.
#[no_mangle]
extern "C" fn nitro_net_xmit(skb: *mut bindings::sk_buff, dev: *mut bindings::net_device) -> c_int {
    // SAFETY: Called by the core on one of our registered devices.
    let port = unsafe { port_of(dev) };
    // SAFETY: `ndo_start_xmit` gives us the buffer.
    if let Some(skb) = unsafe { Skb::from_raw(skb) } {
        host::xmit(port, skb);
    }
    NETDEV_TX_OK
}

/// `ndo_open`: carrier on.
#[no_mangle]
extern "C" fn nitro_net_open(dev: *mut bindings::net_device) -> c_int {
    // SAFETY: One of our registered devices, under RTNL.
    unsafe { netif_carrier_on(dev) };
    0
}

/// `ndo_stop`: carrier off, and the frames still waiting to be sealed go.
/// The core calls it after it has waited for the device's transmissions in
/// progress, and before `unregister_netdev` returns: the transmit worker
/// never sends for a device that is gone.
#[no_mangle]
extern "C" fn nitro_net_stop(dev: *mut bindings::net_device) -> c_int {
    // SAFETY: As in `nitro_net_open`.
    unsafe { netif_carrier_off(dev) };
    // SAFETY: One of our registered devices.
    unsafe { port_of(dev) }.stop_tx();
    0
}

/// Copies `s` into a C string field, NUL-terminated.
fn fill(field: &mut [c_char], s: &[u8]) {
    let n = s.len().min(field.len().saturating_sub(1));
    for (d, &b) in field.iter_mut().zip(&s[..n]) {
        *d = b as c_char;
    }
    if let Some(end) = field.get_mut(n) {
        *end = 0;
    }
}

/// `ethtool -i`: the driver, and the ENI id as the bus address.
#[no_mangle]
extern "C" fn nitro_net_get_drvinfo(
    dev: *mut bindings::net_device,
    info: *mut bindings::ethtool_drvinfo,
) {
    // SAFETY: One of our registered devices.
    let port = unsafe { port_of(dev) };
    // SAFETY: The core passes a valid, zeroed drvinfo to fill.
    let info = unsafe { &mut *info };
    fill(&mut info.driver, b"nitro_net");
    fill(&mut info.version, b"1");
    let mut id = [0u8; 21];
    nitro_ctrl::state::format_id(b"eni-", port.eni_id(), &mut id);
    fill(&mut info.bus_info, &id);
}

/// `ethtool -S`: how many counters.
#[no_mangle]
extern "C" fn nitro_net_get_sset_count(_dev: *mut bindings::net_device, sset: c_int) -> c_int {
    if sset as u32 == ETH_SS_STATS {
        ETHTOOL_COUNTERS.len() as c_int
    } else {
        -(bindings::EOPNOTSUPP as c_int)
    }
}

/// `ethtool -S`: the counters' names.
#[no_mangle]
extern "C" fn nitro_net_get_strings(_dev: *mut bindings::net_device, sset: u32, data: *mut u8) {
    if sset != ETH_SS_STATS {
        return;
    }
    let len = ETHTOOL_COUNTERS.len() * GSTRING_LEN;
    // SAFETY: The core passes room for `get_sset_count` strings of
    // ETH_GSTRING_LEN bytes each.
    let out = unsafe { core::slice::from_raw_parts_mut(data, len) };
    for (chunk, name) in out.chunks_mut(GSTRING_LEN).zip(ETHTOOL_COUNTERS) {
        chunk.fill(0);
        chunk[..name.len()].copy_from_slice(name.as_bytes());
    }
}

/// `ethtool -S`: the counters' values.
#[no_mangle]
extern "C" fn nitro_net_get_stats(
    dev: *mut bindings::net_device,
    _stats: *mut bindings::ethtool_stats,
    data: *mut u64,
) {
    // SAFETY: One of our registered devices.
    let port = unsafe { port_of(dev) };
    // SAFETY: The core passes room for `get_sset_count` values.
    let out = unsafe { core::slice::from_raw_parts_mut(data, ETHTOOL_COUNTERS.len()) };
    port.counters(out);
}
