// SPDX-License-Identifier: GPL-2.0

//! The underlay: a network namespace reference, and the host's UDP socket.
//!
//! Kernel 7.3 has no Rust abstraction for namespaces or sockets. These two
//! owners are the card's only way to them: [`NetNs`] holds a reference (so
//! the namespace outlives the host that uses it, whatever `ip netns del`
//! does), and [`UdpSock`] is the one socket of nitro-rs, opened by the
//! kernel's UDP tunnel helpers and released with them.

use crate::{host::Host, skb::Skb};
use core::ffi::{c_int, c_uint, c_void};
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{
    bindings,
    error::from_err_ptr,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        ArcBorrow,
    },
};

extern "C" {
    fn nitro_net_current_netns() -> *mut c_void;
    fn nitro_net_put_netns(net: *mut c_void);
    fn nitro_net_udp_open(net: *mut c_void, addr: u32, sock: *mut *mut c_void) -> c_int;
    fn nitro_net_udp_encap(
        sock: *mut c_void,
        user: *mut c_void,
        rcv: unsafe extern "C" fn(*mut c_void, *mut bindings::sk_buff) -> c_int,
    );
    fn nitro_net_sk_user(sk: *mut c_void) -> *mut c_void;
    fn nitro_net_sock_sk(sock: *mut c_void) -> *mut c_void;
    fn nitro_net_route(net: *mut c_void, src: u32, dst: u32) -> *mut c_void;
    fn nitro_net_rt_mtu(rt: *mut c_void) -> c_uint;
    fn nitro_net_rt_put(rt: *mut c_void);
    fn nitro_net_bh_disable();
    fn nitro_net_bh_enable();
    fn udp_tunnel_xmit_skb(
        rt: *mut c_void,
        sk: *mut c_void,
        skb: *mut bindings::sk_buff,
        src: u32,
        dst: u32,
        tos: u8,
        ttl: u8,
        df: u16,
        src_port: u16,
        dst_port: u16,
        xnet: bool,
        nocheck: bool,
        ipcb_flags: u16,
    );
    fn udp_tunnel_sock_release(sk: *mut c_void);
    fn synchronize_net();
}

/// Room left in front of every packet the card sends, for the UDP, IPv4 and
/// link headers the stack adds.
pub(crate) const HEADROOM: usize = 160;

/// A reference on a network namespace.
pub(crate) struct NetNs(NonNull<c_void>);

// SAFETY: A namespace reference may be used and dropped from any thread.
unsafe impl Send for NetNs {}
// SAFETY: `NetNs` only hands out the pointer.
unsafe impl Sync for NetNs {}

impl NetNs {
    /// The namespace named by the caller's descriptor `fd`, or the caller's
    /// own for -1. `EBADF` if `fd` names no namespace.
    pub(crate) fn from_fd(fd: i32) -> Result<Self> {
        let net = if fd == -1 {
            // SAFETY: In the caller's (ioctl) context; returns a reference.
            unsafe { nitro_net_current_netns() }
        } else if fd < 0 {
            return Err(EBADF);
        } else {
            // SAFETY: Looks `fd` up in the calling task's table; returns a
            // reference or an error pointer.
            from_err_ptr(unsafe { bindings::get_net_ns_by_fd(fd) }.cast::<c_void>()).map_err(
                |e| {
                    if e == EINVAL {
                        EBADF
                    } else {
                        e
                    }
                },
            )?
        };
        Ok(Self(NonNull::new(net).ok_or(EBADF)?))
    }

    /// The namespace, for a kernel function that takes one.
    pub(crate) fn as_ptr(&self) -> *mut c_void {
        self.0.as_ptr()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // SAFETY: We hold one reference, given back here.
        unsafe { nitro_net_put_netns(self.0.as_ptr()) };
    }
}

/// The receive callback's signature.
pub(crate) type EncapRcv = unsafe extern "C" fn(*mut c_void, *mut bindings::sk_buff) -> c_int;

/// A kernel UDP socket bound to the host's underlay address, port 6081.
/// [`UdpSock::close`] (or dropping it) closes it and waits until no receive
/// callback runs.
pub(crate) struct UdpSock {
    sock: NonNull<c_void>,
    sk: NonNull<c_void>,
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
        let mut sock = core::ptr::null_mut();
        // SAFETY: `net` holds a namespace reference; `sock` is written on
        // success only.
        let r = unsafe { nitro_net_udp_open(net.as_ptr(), addr, &mut sock) };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        let sock = NonNull::new(sock).ok_or(ENOMEM)?;
        // SAFETY: A socket just created has its `sock`.
        let sk = NonNull::new(unsafe { nitro_net_sock_sk(sock.as_ptr()) }).ok_or(ENOMEM)?;
        Ok(Self {
            sock,
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
        // SAFETY: Our socket; the caller keeps `user` valid.
        unsafe { nitro_net_udp_encap(self.sock.as_ptr(), user.cast_mut(), rcv) };
    }

    /// In a receive callback: the `user` pointer given to `set_receiver`.
    ///
    /// # Safety
    ///
    /// `sk` must be the socket the callback was called for.
    pub(crate) unsafe fn user(sk: *mut c_void) -> *const c_void {
        // SAFETY: Receive callbacks run under RCU, as the accessor requires.
        unsafe { nitro_net_sk_user(sk) }
    }

    /// Sends `payload` (a buffer with [`HEADROOM`], its pieces too) on
    /// route `rt` from `src` to `dst` (network byte order), UDP source port
    /// `sport`, destination 6081. The route and the buffer are gone either
    /// way. Callable in any context: it runs with bottom halves off, as
    /// the IP output path requires (its per-CPU recursion counters), and the
    /// softirqs it raises (an underlay veth's receive) run as it returns.
    pub(crate) fn send(&self, rt: Route, payload: Skb, src: u32, dst: u32, sport: u16) {
        let _bh = BhOff::new();
        let rt = rt.into_raw();
        // SAFETY: `rt` is a route we own (the call consumes it, and the
        // buffer); our socket is open while `self` lives.
        unsafe {
            udp_tunnel_xmit_skb(
                rt,
                self.sk.as_ptr(),
                payload.into_raw(),
                src,
                dst,
                0,
                64,
                0,
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
pub(crate) struct Route(NonNull<c_void>);

impl Route {
    /// The route from `src` to `dst` (network byte order) in `net`;
    /// `ENETUNREACH`-style errors mean there is none.
    pub(crate) fn lookup(net: &NetNs, src: u32, dst: u32) -> Result<Self> {
        // SAFETY: `net` holds a reference; returns a route or error pointer.
        let rt = from_err_ptr(unsafe { nitro_net_route(net.as_ptr(), src, dst) })?;
        Ok(Self(NonNull::new(rt).ok_or(EINVAL)?))
    }

    /// The route's MTU: the largest IPv4 packet that leaves unfragmented.
    pub(crate) fn mtu(&self) -> usize {
        // SAFETY: We hold the route.
        unsafe { nitro_net_rt_mtu(self.0.as_ptr()) as usize }
    }

    /// Gives up the route (to a function that consumes it).
    fn into_raw(self) -> *mut c_void {
        let p = self.0.as_ptr();
        core::mem::forget(self);
        p
    }
}

impl Drop for Route {
    fn drop(&mut self) {
        // SAFETY: We hold the route's reference, given back here once.
        unsafe { nitro_net_rt_put(self.0.as_ptr()) };
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
        // Detaches the callback's user pointer, shuts the socket down and
        // releases it; then waits for callbacks already running (they run
        // under RCU) before the caller frees what `user` points to.
        // SAFETY: Our socket, released once (the flag).
        unsafe {
            udp_tunnel_sock_release(self.sk.as_ptr());
            synchronize_net();
        }
    }
}

impl Drop for UdpSock {
    fn drop(&mut self) {
        self.close();
    }
}

/// The underlay socket's receive callback: hands each datagram to its host.
///
/// # Safety
///
/// Called by the UDP stack for a socket set up by
/// [`UdpSock::set_receiver`] with a pointer to a live [`Host`].
pub(crate) unsafe extern "C" fn receive(sk: *mut c_void, skb: *mut bindings::sk_buff) -> c_int {
    // SAFETY: The stack gives the callback the buffer.
    let Some(skb) = (unsafe { Skb::from_raw(skb) }) else {
        return 0;
    };
    // SAFETY: `sk` is the socket the callback is for.
    let host = unsafe { UdpSock::user(sk) }.cast::<Host>();
    if host.is_null() {
        // Closing: the datagram goes.
        return 0;
    }
    // `host` is the data pointer of the card's `Arc`, held until the socket
    // is closed (`close` waits for running callbacks before the host goes).
    // SAFETY: So it may be borrowed as an `Arc` for this call.
    crate::host::receive(unsafe { ArcBorrow::from_raw(host) }, skb);
    0
}

/// Bottom halves off on this CPU for as long as it lives
/// (`local_bh_disable`); on again, running the softirqs raised meanwhile,
/// when it drops. Not `Send`: it is dropped on the CPU and in the task that
/// made it.
struct BhOff(PhantomData<*mut ()>);

impl BhOff {
    fn new() -> Self {
        // SAFETY: Allowed in any context but hard IRQ, which no caller of
        // the card's send path is in; undone by `drop`.
        unsafe { nitro_net_bh_disable() };
        Self(PhantomData)
    }
}

impl Drop for BhOff {
    fn drop(&mut self) {
        // SAFETY: Bottom halves were disabled by `new`, on this CPU and in
        // this task (the type is not `Send`).
        unsafe { nitro_net_bh_enable() };
    }
}
