// SPDX-License-Identifier: GPL-2.0

//! ENI netdevs: a safe owner of one registered `net_device`, its set-up,
//! and the callbacks the kernel makes on it.
//!
//! Kernel 7.3 has no Rust netdev abstraction. `struct net_device`, its
//! operation tables and their functions come from bindgen (`ffi.rs`); the
//! tables are Rust statics here, so the compiler checks each callback's
//! type, and C never names a Rust function. Each device's private area
//! holds one `Arc<Port>` reference (taken at [`Unregistered::register`],
//! given back after `unregister_netdev`), so every callback finds its port
//! for as long as the device can be called.

use crate::ffi;
use crate::host::{self, ethtool_names, Port, ETHTOOL_COUNT};
use crate::net::NetNs;
use crate::skb::Skb;
use core::ffi::c_int;
use core::ptr::NonNull;
use kernel::ffi::{c_char, c_ulong};
use kernel::{
    prelude::*,
    sync::{Arc, ArcBorrow},
};
use nitro_ctrl::bus::DevName;

/// `ETH_GSTRING_LEN`.
const GSTRING_LEN: usize = ffi::ETH_GSTRING_LEN as usize;
/// Largest TCP super-packet an ENI takes: sealed whole, it must fit one
/// UDP datagram.
const TSO_MAX: u32 = 60000;
/// Most queues of each direction.
const MAX_QUEUES: u32 = 16;
/// Largest MTU of an ENI: the VPC's.
const MTU_MAX: u32 = nitro_ctrl::uapi::NITRO_ENI_MTU_MAX;

/// The operations of every ENI.
static NETDEV_OPS: ffi::net_device_ops = ffi::net_device_ops {
    ndo_open: Some(open),
    ndo_stop: Some(stop),
    ndo_start_xmit: Some(xmit),
    ndo_set_mac_address: Some(ffi::eth_mac_addr),
    ndo_validate_addr: Some(ffi::eth_validate_addr),
    ..pin_init::zeroed()
};

/// The ethtool operations of every ENI.
static ETHTOOL_OPS: ffi::ethtool_ops = ffi::ethtool_ops {
    get_drvinfo: Some(get_drvinfo),
    get_link: Some(ffi::ethtool_op_get_link),
    get_sset_count: Some(get_sset_count),
    get_strings: Some(get_strings),
    get_ethtool_stats: Some(get_stats),
    ..pin_init::zeroed()
};

/// A device of ours the data path may use: valid while it is registered.
/// A [`Port`] holds one, and ports are reachable by the data path only
/// while their device is registered (the host drops them from its tables
/// before unregistering, and `unregister_netdev` waits for the RCU
/// read-side sections the data path runs in).
#[derive(Clone, Copy)]
pub(crate) struct Dev(NonNull<ffi::net_device>);

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
        unsafe { ffi::dev_forward_skb(self.0.as_ptr(), skb.into_raw()) == 0 }
    }

    /// Hands `skb`, a frame the card built (Ethernet header first), to this
    /// device's receive path.
    pub(crate) fn deliver(self, mut skb: Skb) {
        // `eth_type_trans` reads the Ethernet header and sets `skb->dev`.
        // SAFETY: As in `forward`; the buffer is ours.
        let proto = unsafe { ffi::eth_type_trans(skb.as_raw(), self.0.as_ptr()) };
        skb.set_protocol(proto);
        // SAFETY: `netif_rx` takes the buffer in any case.
        unsafe { ffi::netif_rx(skb.into_raw()) };
    }

    /// Counts a frame sent (`ip -s link`).
    pub(crate) fn tx(self, len: usize) {
        // SAFETY: Registered device; per-CPU counters, any context.
        unsafe { ffi::nitro_net_dstats_tx_add(self.0.as_ptr(), len as u32) };
    }

    /// Counts a frame the device could not send.
    pub(crate) fn tx_dropped(self) {
        // SAFETY: As in `tx`.
        unsafe { ffi::nitro_net_dstats_tx_dropped(self.0.as_ptr()) };
    }

    /// Counts a frame received.
    pub(crate) fn rx(self, len: usize) {
        // SAFETY: As in `tx`.
        unsafe { ffi::nitro_net_dstats_rx_add(self.0.as_ptr(), len as u32) };
    }

    /// The interface name, as it is now.
    fn name(self) -> DevName {
        // SAFETY: `dev->name` is an array of IFNAMSIZ bytes inside the
        // device, which lives while `self` is valid; it is copied out.
        let name: [u8; ffi::IFNAMSIZ as usize] =
            unsafe { core::ptr::read((&raw const (*self.0.as_ptr()).name).cast()) };
        let len = name.iter().position(|&c| c == 0).unwrap_or(name.len());
        DevName::new(&name[..len]).unwrap_or(DevName::EMPTY)
    }
}

/// A device allocated and set up, not yet registered.
pub(crate) struct Unregistered(Dev);

impl Unregistered {
    /// Allocates an ENI device named `name` (empty: `eni%d`) with `mac`, in
    /// the namespace `net`.
    pub(crate) fn new(name: &DevName, mac: &[u8; 6], net: &NetNs) -> Result<Self> {
        let mut buf = [0u8; ffi::IFNAMSIZ as usize];
        let (src, assign): (&[u8], _) = if name.is_empty() {
            (b"eni%d", ffi::NET_NAME_ENUM)
        } else {
            (name.as_bytes(), ffi::NET_NAME_USER)
        };
        buf.get_mut(..src.len()).ok_or(EINVAL)?.copy_from_slice(src);
        if buf[buf.len() - 1] != 0 {
            return Err(EINVAL);
        }
        let queues = kernel::cpu::nr_cpu_ids().clamp(1, MAX_QUEUES);
        // SAFETY: `buf` is NUL-terminated; `setup` only initialises fields
        // of the new device.
        let dev = unsafe {
            ffi::alloc_netdev_mqs(
                core::mem::size_of::<*const Port>() as c_int,
                buf.as_ptr().cast(),
                assign as u8,
                Some(setup),
                queues,
                queues,
            )
        };
        let dev = Dev(NonNull::new(dev).ok_or(ENOMEM)?);
        // SAFETY: The device is ours and not registered: nothing else sees
        // it; `mac` is 6 bytes and `net` holds a namespace reference, which
        // the device does not take (the host's outlives its devices).
        unsafe {
            ffi::nitro_net_hw_addr_set(dev.0.as_ptr(), mac.as_ptr());
            ffi::nitro_net_dev_net_set(dev.0.as_ptr(), net.as_ptr());
            ffi::netif_set_tso_max_size(dev.0.as_ptr(), TSO_MAX);
            ffi::netif_carrier_off(dev.0.as_ptr());
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
        let dev = self.0;
        core::mem::forget(self);
        let raw = Arc::into_raw(port);
        // SAFETY: The device is not registered, so no callback reads the
        // slot yet.
        unsafe { *port_slot(dev.0.as_ptr()) = raw };
        // SAFETY: A fully set up device of ours.
        let r = unsafe { ffi::register_netdev(dev.0.as_ptr()) };
        if r != 0 {
            // SAFETY: Registration failed: no callback ran or will run; the
            // reference taken above comes back, then the device is freed.
            unsafe {
                drop(Arc::from_raw(raw));
                ffi::free_netdev(dev.0.as_ptr());
            }
            return Err(Error::from_errno(r));
        }
        Ok(NetDev(dev))
    }
}

impl Drop for Unregistered {
    fn drop(&mut self) {
        // SAFETY: Never registered: ours alone to free.
        unsafe { ffi::free_netdev(self.0 .0.as_ptr()) };
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
        let dev = self.0;
        // SAFETY: Registered by `register`. `unregister_netdev` closes the
        // device and waits until no callback or RCU reader uses it.
        unsafe { ffi::unregister_netdev(dev.0.as_ptr()) };
        // SAFETY: No callback can run any more: give back the reference the
        // private area held, then free the device.
        unsafe {
            drop(Arc::from_raw(*port_slot(dev.0.as_ptr())));
            ffi::free_netdev(dev.0.as_ptr());
        }
    }
}

/// The `alloc_netdev_mqs` set-up of an ENI: an Ethernet device with our
/// operations, per-CPU packet counters kept by the core (`ip -s link`),
/// lockless transmit (the data path is safe on every queue at once), no
/// qdisc (as veth), MTU up to the VPC's, and a MAC the guest may change
/// while up (the card then drops what it sends: anti-spoofing). Scatter-
/// gather, checksum and TCP segmentation offloads: see "Offloads" in
/// `vpc.rst`.
///
/// # Safety
///
/// `dev` is a device `alloc_netdev_mqs` is allocating, which no one else
/// sees yet.
unsafe extern "C" fn setup(dev: *mut ffi::net_device) {
    // SAFETY: Per the contract.
    unsafe { ffi::ether_setup(dev) };
    // SAFETY: Per the contract, the device is ours alone.
    let d = unsafe { &mut *dev };
    d.netdev_ops = &NETDEV_OPS;
    d.ethtool_ops = &ETHTOOL_OPS;
    d.set_pcpu_stat_type(ffi::netdev_stat_type_NETDEV_PCPU_STAT_DSTATS);
    // SAFETY: The union is `priv_flags_fast`, a struct group: its two
    // members are the same fields.
    let fast = unsafe { &mut d.__bindgen_anon_1.__bindgen_anon_1 };
    fast.set_lltx(1);
    fast.set_priv_flags(
        fast.priv_flags()
            | ffi::netdev_priv_flags_IFF_LIVE_ADDR_CHANGE as c_ulong
            | ffi::netdev_priv_flags_IFF_NO_QUEUE as c_ulong,
    );
    d.min_mtu = ffi::ETH_MIN_MTU;
    d.max_mtu = MTU_MAX;
    d.hw_features = ffi::NETIF_F_SG | ffi::NETIF_F_HW_CSUM | ffi::NETIF_F_TSO;
    d.features |= d.hw_features;
}

/// Where device `dev` keeps its port: its private area, one pointer.
///
/// # Safety
///
/// `dev` must be a live device allocated by [`Unregistered::new`].
unsafe fn port_slot(dev: *mut ffi::net_device) -> *mut *const Port {
    // SAFETY: Per the contract; the area was asked for at allocation.
    unsafe { ffi::nitro_net_priv(dev) }.cast()
}

/// The port of one of our devices.
///
/// # Safety
///
/// `dev` must be a registered device of this driver (only ours have these
/// callbacks), which keeps the port alive for `'a`.
unsafe fn port_of<'a>(dev: *mut ffi::net_device) -> ArcBorrow<'a, Port> {
    // SAFETY: Per the contract, the private area holds an `Arc::into_raw`
    // pointer, given back only after the device is unregistered.
    unsafe { ArcBorrow::from_raw(*port_slot(dev)) }
}

/// `ndo_start_xmit`: the guest sends a frame.
///
/// # Safety
///
/// Called by the core on one of our registered devices, with a buffer it
/// gives us.
unsafe extern "C" fn xmit(skb: *mut ffi::sk_buff, dev: *mut ffi::net_device) -> ffi::netdev_tx_t {
    // SAFETY: Per the contract.
    let port = unsafe { port_of(dev) };
    // SAFETY: `ndo_start_xmit` gives us the buffer.
    if let Some(skb) = unsafe { Skb::from_raw(skb) } {
        host::xmit(port, skb);
    }
    ffi::netdev_tx_NETDEV_TX_OK
}

/// `ndo_open`: carrier on.
///
/// # Safety
///
/// Called by the core, under RTNL, on one of our registered devices.
unsafe extern "C" fn open(dev: *mut ffi::net_device) -> c_int {
    // SAFETY: Per the contract.
    unsafe { ffi::netif_carrier_on(dev) };
    0
}

/// `ndo_stop`: carrier off, and the frames still waiting to be sealed go.
/// The core calls it after it has waited for the device's transmissions in
/// progress, and before `unregister_netdev` returns: the transmit worker
/// never sends for a device that is gone.
///
/// # Safety
///
/// As for [`open`].
unsafe extern "C" fn stop(dev: *mut ffi::net_device) -> c_int {
    // SAFETY: Per the contract.
    unsafe { ffi::netif_carrier_off(dev) };
    // SAFETY: Per the contract.
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
///
/// # Safety
///
/// Called by the core on one of our registered devices, with a drvinfo to
/// fill.
unsafe extern "C" fn get_drvinfo(dev: *mut ffi::net_device, info: *mut ffi::ethtool_drvinfo) {
    // SAFETY: Per the contract.
    let port = unsafe { port_of(dev) };
    // SAFETY: Per the contract, `info` is valid and ours for the call.
    let info = unsafe { &mut *info };
    fill(&mut info.driver, b"nitro_net");
    fill(&mut info.version, b"1");
    let mut id = [0u8; 21];
    nitro_ctrl::state::format_id(b"eni-", port.eni_id(), &mut id);
    fill(&mut info.bus_info, &id);
}

/// `ethtool -S`: how many counters.
///
/// # Safety
///
/// Called by the core on one of our devices.
unsafe extern "C" fn get_sset_count(_dev: *mut ffi::net_device, sset: c_int) -> c_int {
    if u32::try_from(sset) == Ok(ffi::ethtool_stringset_ETH_SS_STATS) {
        ETHTOOL_COUNT as c_int
    } else {
        EOPNOTSUPP.to_errno()
    }
}

/// `ethtool -S`: the counters' names.
///
/// # Safety
///
/// Called by the core on one of our devices, with room at `data` for as
/// many strings of `ETH_GSTRING_LEN` bytes as [`get_sset_count`] gave for
/// `sset`.
unsafe extern "C" fn get_strings(_dev: *mut ffi::net_device, sset: u32, data: *mut u8) {
    if sset != ffi::ethtool_stringset_ETH_SS_STATS {
        return;
    }
    let len = ETHTOOL_COUNT * GSTRING_LEN;
    // SAFETY: Per the contract.
    let out = unsafe { core::slice::from_raw_parts_mut(data, len) };
    for (chunk, name) in out.chunks_mut(GSTRING_LEN).zip(ethtool_names()) {
        chunk.fill(0);
        let n = name.len().min(GSTRING_LEN - 1);
        chunk[..n].copy_from_slice(&name.as_bytes()[..n]);
    }
}

/// `ethtool -S`: the counters' values.
///
/// # Safety
///
/// Called by the core on one of our registered devices, with room at
/// `data` for as many values as [`get_sset_count`] gave for the counters.
unsafe extern "C" fn get_stats(
    dev: *mut ffi::net_device,
    _stats: *mut ffi::ethtool_stats,
    data: *mut u64,
) {
    // SAFETY: Per the contract.
    let port = unsafe { port_of(dev) };
    // SAFETY: Per the contract.
    let out = unsafe { core::slice::from_raw_parts_mut(data, ETHTOOL_COUNT) };
    port.counters(out);
}
