// SPDX-License-Identifier: GPL-2.0

//! The underlay: a network namespace reference, and the host's UDP socket.
//!
//! Kernel 7.3 has no Rust abstraction for namespaces or sockets. These two
//! owners are the card's only way to them: [`NetNs`] holds a reference (so
//! the namespace outlives the host that uses it, whatever `ip netns del`
//! does), and [`UdpSock`] is the one socket of nitro-rs, opened by the
//! kernel's UDP tunnel helpers and released with them.

use crate::{ffi, host::Host, skb::Skb};
use core::ffi::{c_int, c_void};
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{
    error::from_err_ptr,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        ArcBorrow,
    },
    task::Task,
};

/// Room left in front of every packet the card sends, for the UDP, IPv4 and
/// link headers the stack adds.
pub(crate) const HEADROOM: usize = 160;

/// A reference on a network namespace.
pub(crate) struct NetNs(NonNull<ffi::net>);

// SAFETY: A namespace reference may be used and dropped from any thread.
unsafe impl Send for NetNs {}
// SAFETY: `NetNs` only hands out the pointer.
unsafe impl Sync for NetNs {}

impl NetNs {
    /// The namespace named by the caller's descriptor `fd`, or the caller's
    /// own for -1. `EBADF` if `fd` names no namespace.
    pub(crate) fn from_fd(fd: i32) -> Result<Self> {
        let net = if fd == -1 {
            let task = Task::current_raw();
            // `current->nsproxy->net_ns`: only the task itself changes its
            // namespaces, and it is in this call.
            // SAFETY: `task` is the current task, alive and with its
            // namespaces (it is not exiting: it is in an ioctl); the
            // reference taken is ours.
            unsafe { ffi::nitro_net_get_net((*(*task).nsproxy).net_ns) }
        } else if fd < 0 {
            return Err(EBADF);
        } else {
            // SAFETY: Looks `fd` up in the calling task's table; returns a
            // reference or an error pointer.
            from_err_ptr(unsafe { ffi::get_net_ns_by_fd(fd) }).map_err(|e| {
                if e == EINVAL {
                    EBADF
                } else {
                    e
                }
            })?
        };
        Ok(Self(NonNull::new(net).ok_or(EBADF)?))
    }

    /// The namespace, for a kernel function that takes one.
    pub(crate) fn as_ptr(&self) -> *mut ffi::net {
        self.0.as_ptr()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // SAFETY: We hold one reference, given back here.
        unsafe { ffi::nitro_net_put_net(self.0.as_ptr()) };
    }
}

/// The receive callback's signature.
pub(crate) type EncapRcv = unsafe extern "C" fn(*mut ffi::sock, *mut ffi::sk_buff) -> c_int;

// `receive` is the kernel's kind of encapsulation callback.
const _: ffi::udp_tunnel_encap_rcv_t = Some(receive as EncapRcv);

/// A kernel UDP socket bound to the host's underlay address, port 6081.
/// [`UdpSock::close`] (or dropping it) closes it and waits until no receive
/// callback runs.
pub(crate) struct UdpSock {
    sk: NonNull<ffi::sock>,
    closed: Atomic<bool>,
}

// SAFETY: Kernel sockets may be used from any context the functions below
// allow, on any CPU.
unsafe impl Send for UdpSock {}
// SAFETY: Sending is safe concurrently (the UDP tunnel transmit path takes
// no socket lock); the other methods take `&mut self` or run at drop.
unsafe impl Sync for UdpSock {}

impl UdpSock {
    /// Opens the socket in `net`, bound to `addr` (network byte order).
    /// Errors are the bind's: `EADDRNOTAVAIL` (not an address there),
    /// `EADDRINUSE` (port taken).
    pub(crate) fn open(net: &NetNs, addr: u32) -> Result<Self> {
        let mut cfg = ffi::udp_port_cfg {
            family: ffi::AF_INET as u8,
            local_udp_port: uapi_port().to_be(),
            ..pin_init::zeroed()
        };
        // SAFETY: `local_ip` is the IPv4 member of its union, which is
        // zeroed: writing it is writing the union's first bytes.
        unsafe { cfg.__bindgen_anon_1.local_ip.as_mut() }.s_addr = addr;
        let mut sock = core::ptr::null_mut();
        // SAFETY: `net` holds a namespace reference; `cfg` is set up;
        // `sock` is written on success only.
        let r = unsafe { ffi::udp_sock_create4(net.as_ptr(), &mut cfg, &mut sock) };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        let sock = NonNull::new(sock).ok_or(ENOMEM)?;
        // SAFETY: A socket just created has its `sock`.
        let sk = NonNull::new(unsafe { (*sock.as_ptr()).sk }).ok_or(ENOMEM)?;
        Ok(Self {
            sk,
            closed: Atomic::new(false),
        })
    }

    /// From now on every datagram goes to `rcv`, which finds `user` with
    /// [`UdpSock::user`].
    ///
    /// # Safety
    ///
    /// `user` must stay valid until this socket is dropped (the drop waits
    /// for callbacks in progress).
    pub(crate) unsafe fn set_receiver(&self, user: *const c_void, rcv: EncapRcv) {
        // Any non-zero type turns encapsulation on (geneve.c and vxlan.c set
        // 1 too); the type only matters to the ESP-in-UDP code.
        // The error lookup claims the ICMP errors about the datagrams the
        // socket sent: so the stack takes a "fragmentation needed" as the
        // route's new path MTU (`ipv4_sk_update_pmtu`), which the next
        // datagrams fit ([`Route::mtu`]).
        let mut cfg = ffi::udp_tunnel_sock_cfg {
            sk_user_data: user.cast_mut(),
            encap_type: 1,
            encap_rcv: Some(rcv),
            encap_err_lookup: Some(err_lookup),
            ..pin_init::zeroed()
        };
        let sk = self.sk.as_ptr();
        // SAFETY: Our socket, in its namespace; the caller keeps `user`
        // valid; `cfg` is copied.
        unsafe { ffi::setup_udp_tunnel_sock(ffi::nitro_net_sock_net(sk), sk, &mut cfg) };
    }

    /// In a receive callback: the `user` pointer given to `set_receiver`.
    ///
    /// # Safety
    ///
    /// `sk` must be the socket the callback was called for.
    pub(crate) unsafe fn user(sk: *mut ffi::sock) -> *const c_void {
        // SAFETY: Receive callbacks run under RCU, as the accessor requires.
        unsafe { ffi::nitro_net_sk_user_data(sk) }
    }

    /// Sends `payload` (a linear buffer with [`HEADROOM`]) on route `rt`
    /// from `src` to `dst` (network byte order), UDP source port `sport`,
    /// destination 6081, with DF set: a datagram larger than the route's
    /// MTU is not fragmented but dropped (the card cuts what it sends to
    /// fit, RFC 8085). The route and the buffer are gone either way. Callable in any context: it runs with bottom halves off, as
    /// the IP output path requires (its per-CPU recursion counters), and the
    /// softirqs it raises (an underlay veth's receive) run as it returns.
    /// After [`UdpSock::close`] nothing is sent (the host sends only for
    /// its ENIs, and is closed only once it has none).
    pub(crate) fn send(&self, rt: Route, payload: Skb, src: u32, dst: u32, sport: u16) {
        // With bottom halves off this is an RCU read-side section, which
        // `close` waits for once it has set the flag.
        let _bh = BhOff::new();
        if self.closed.load(Relaxed) {
            return;
        }
        let rt = rt.into_raw();
        // SAFETY: `rt` is a route we own (the call consumes it, and the
        // buffer); the socket is open (not closed above, and `close` waits
        // for this section before it releases the socket).
        unsafe {
            ffi::udp_tunnel_xmit_skb(
                rt,
                self.sk.as_ptr(),
                payload.into_raw(),
                src,
                dst,
                0,
                64,
                (ffi::IP_DF as u16).to_be(),
                sport.to_be(),
                (uapi_port()).to_be(),
                false,
                true,
                0,
            )
        };
    }
}

/// An IPv4 route of a host's namespace, held until it is sent on
/// ([`UdpSock::send`]) or dropped.
pub(crate) struct Route(NonNull<ffi::rtable>);

// SAFETY: A route reference may be used and given back on any CPU, in any
// context (`ip_rt_put` frees through RCU).
unsafe impl Send for Route {}

impl Route {
    /// The route from `src` to `dst` (network byte order) in `net`;
    /// `ENETUNREACH`-style errors mean there is none.
    pub(crate) fn lookup(net: &NetNs, src: u32, dst: u32) -> Result<Self> {
        let mut fl4: ffi::flowi4 = pin_init::zeroed();
        fl4.saddr = src;
        fl4.daddr = dst;
        fl4.__fl_common.flowic_proto = ffi::IPPROTO_UDP as u8;
        // `ip_route_output_key` (a static inline): no socket.
        // SAFETY: `net` holds a reference; `fl4` is set up. Returns a route
        // or an error pointer.
        let rt = unsafe { ffi::ip_route_output_flow(net.as_ptr(), &mut fl4, core::ptr::null()) };
        Ok(Self(NonNull::new(from_err_ptr(rt)?).ok_or(EINVAL)?))
    }

    /// The route's MTU: the largest IPv4 packet that leaves unfragmented.
    pub(crate) fn mtu(&self) -> usize {
        // SAFETY: We hold the route.
        unsafe { ffi::nitro_net_rt_mtu(self.0.as_ptr()) as usize }
    }

    /// Another reference on the same route, for one more datagram.
    pub(crate) fn hold(&self) -> Self {
        // SAFETY: We hold the route, so it is alive; the new reference is
        // the returned value's, given back when it drops or is sent.
        unsafe { ffi::nitro_net_rt_hold(self.0.as_ptr()) };
        Self(self.0)
    }

    /// Gives up the route (to a function that consumes it).
    fn into_raw(self) -> *mut ffi::rtable {
        let p = self.0.as_ptr();
        core::mem::forget(self);
        p
    }
}

impl Drop for Route {
    fn drop(&mut self) {
        // SAFETY: We hold the route's reference, given back here once.
        unsafe { ffi::nitro_net_rt_put(self.0.as_ptr()) };
    }
}

/// The Geneve port, from the ABI.
const fn uapi_port() -> u16 {
    nitro_ctrl::uapi::NITRO_GENEVE_PORT as u16
}

impl UdpSock {
    /// Closes the socket: no receive callback runs after this returns.
    /// Nothing may be sent afterwards (the host sends only for its ENIs,
    /// and is closed only once it has none). Closing twice does nothing.
    pub(crate) fn close(&self) {
        if self.closed.xchg(true, Relaxed) {
            return;
        }
        // Waits for sends in progress (RCU read-side sections, see `send`);
        // then detaches the callback's user pointer, shuts the socket down
        // and releases it; then waits for callbacks already running (they
        // run under RCU) before the caller frees what `user` points to.
        // SAFETY: Our socket, released once (the flag), with no send in
        // progress or to come.
        unsafe {
            ffi::synchronize_net();
            ffi::udp_tunnel_sock_release(self.sk.as_ptr());
            ffi::synchronize_net();
        }
    }
}

impl Drop for UdpSock {
    fn drop(&mut self) {
        self.close();
    }
}

/// The underlay socket's receive callback: hands each datagram, with its
/// IPv4 source, to its host.
///
/// # Safety
///
/// Called by the UDP stack, with a datagram it gives away, for a socket
/// set up by [`UdpSock::set_receiver`] with a pointer to a live [`Host`].
pub(crate) unsafe extern "C" fn receive(sk: *mut ffi::sock, skb: *mut ffi::sk_buff) -> c_int {
    // SAFETY: The stack gives the callback the buffer.
    let Some(skb) = (unsafe { Skb::from_raw(skb) }) else {
        return 0;
    };
    // SAFETY: A datagram of an IPv4 UDP socket: its network header is IPv4.
    let src = unsafe { skb.ipv4_source() };
    // SAFETY: `sk` is the socket the callback is for.
    let host = unsafe { UdpSock::user(sk) }.cast::<Host>();
    if host.is_null() {
        // Closing: the datagram goes.
        return 0;
    }
    // `host` is the data pointer of the card's `Arc`, held until the socket
    // is closed (`close` waits for running callbacks before the host goes).
    // SAFETY: So it may be borrowed as an `Arc` for this call.
    crate::host::receive(unsafe { ArcBorrow::from_raw(host) }, skb, src);
    0
}

/// The underlay socket's error lookup: every ICMP error about a datagram
/// of the socket's address and port is the card's (no other socket sends
/// from them), while the socket has its host.
///
/// # Safety
///
/// Called by the UDP stack, under RCU, for a socket set up by
/// [`UdpSock::set_receiver`].
unsafe extern "C" fn err_lookup(sk: *mut ffi::sock, _skb: *mut ffi::sk_buff) -> c_int {
    // SAFETY: `sk` is the socket the lookup is for.
    if unsafe { UdpSock::user(sk) }.is_null() {
        return ENOENT.to_errno();
    }
    0
}

// `err_lookup` is the kernel's kind of error lookup.
const _: ffi::udp_tunnel_encap_err_lookup_t = Some(err_lookup);

/// Bottom halves off on this CPU for as long as it lives
/// (`local_bh_disable`); on again, running the softirqs raised meanwhile,
/// when it drops. Not `Send`: it is dropped on the CPU and in the task that
/// made it.
struct BhOff(PhantomData<*mut ()>);

impl BhOff {
    fn new() -> Self {
        // SAFETY: Allowed in any context but hard IRQ, which no caller of
        // the card's send path is in; undone by `drop`.
        unsafe { ffi::nitro_net_bh_disable() };
        Self(PhantomData)
    }
}

impl Drop for BhOff {
    fn drop(&mut self) {
        // SAFETY: Bottom halves were disabled by `new`, on this CPU and in
        // this task (the type is not `Send`).
        unsafe { ffi::nitro_net_bh_enable() };
    }
}
