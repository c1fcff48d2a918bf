// SPDX-License-Identifier: GPL-2.0

//! nitro_net: the VPC card.
//!
//! Runs up to 16 hosts (emulated Nitro hosts, each with its underlay socket,
//! mapping table and peer keys) and makes their ENIs netdevs. Everything is
//! provisioned by the controller through the card's registration on the
//! private bus; Documentation/vpc.rst is the specification.
//!
//! Files: `host.rs` the data path and the host's tables; `wire.rs` the
//! formats; `replay.rs` the replay window; the safe wrappers over kernel C
//! APIs are `netdev.rs` (net_device), `skb.rs` (sk_buff), `net.rs`
//! (namespaces and the UDP socket) and `gcm.rs` (AES-GCM).

use kernel::{new_mutex, prelude::*, sync::Arc, sync::Mutex};
use nitro_ctrl::bus::{
    self, Card, CardKind, DevName, EniSpec, HostInfo, HostSpec, MapSpec, Metrics, PeerKeySpec,
    Registration, Reply, Request,
};
use nitro_ctrl::wq::{Flags, OwnedQueue};

mod fifo;
mod gcm;
mod host;
mod net;
mod netdev;
mod replay;
mod sg;
mod skb;
mod wire;

use gcm::GcmKey;
use host::{Host, Port};
use net::NetNs;
use netdev::{NetDev, Unregistered};

module! {
    type: NitroNet,
    name: "nitro_net",
    authors: ["nitro-rs developers"],
    description: "nitro-rs: the VPC card (ENIs as netdevs, Geneve, AES-GCM between hosts)",
    license: "GPL",
}

/// Most hosts.
const HOSTS_MAX: u32 = nitro_ctrl::uapi::NITRO_HOSTS_MAX;

/// An ENI the card holds.
struct Eni {
    spec: EniSpec,
    host: Arc<Host>,
    /// Its netdev and port, while attached.
    attached: Option<(NetDev, Arc<Port>)>,
}

/// What the card's lock protects.
struct State {
    hosts: KVec<Arc<Host>>,
    enis: KVec<Eni>,
}

impl State {
    fn host(&self, id: u32) -> Result<&Arc<Host>> {
        self.hosts.iter().find(|h| h.id == id).ok_or(ENODEV)
    }

    fn enis_on(&self, host: u32) -> u32 {
        self.enis.iter().filter(|e| e.host.id == host).count() as u32
    }

    fn eni(&mut self, id: u64) -> Result<&mut Eni> {
        self.enis.iter_mut().find(|e| e.spec.id == id).ok_or(ENOENT)
    }
}

/// The VPC card.
#[pin_data(PinnedDrop)]
struct VpcCard {
    #[pin]
    st: Mutex<State>,
    /// Where the hosts' transmit and receive workers run.
    wq: Arc<OwnedQueue>,
}

impl VpcCard {
    fn create_host(st: &mut State, spec: &HostSpec, wq: &Arc<OwnedQueue>) -> Result<u32> {
        let net = NetNs::from_fd(spec.netns_fd)?;
        if st.hosts.iter().any(|h| h.is_at(&net, spec.underlay)) {
            return Err(EEXIST);
        }
        let id = (1..=HOSTS_MAX)
            .find(|n| st.hosts.iter().all(|h| h.id != *n))
            .ok_or(ENOSPC)?;
        st.hosts.reserve(1, GFP_KERNEL)?;
        let host = Host::new(id, spec.underlay, net, wq.clone())?;
        st.hosts.push(host, GFP_KERNEL)?;
        pr_info!("host {} up: underlay {:?}\n", id, Ipv4(spec.underlay));
        Ok(id)
    }

    fn delete_host(st: &mut State, id: u32) -> Result {
        st.host(id)?;
        if st.enis_on(id) > 0 {
            return Err(EBUSY);
        }
        let i = st.hosts.iter().position(|h| h.id == id).ok_or(ENODEV)?;
        let host = st.hosts.remove(i)?;
        host.close();
        pr_info!("host {} down\n", id);
        Ok(())
    }

    fn create_eni(st: &mut State, spec: &EniSpec) -> Result<u32> {
        let host = if spec.host == 0 {
            st.hosts.iter().min_by_key(|h| h.id).ok_or(ENODEV)?
        } else {
            st.host(spec.host)?
        };
        // The table may not claim an address or MAC that an ENI here owns.
        if host.maps_address(spec.vpc, spec.ipv4, &spec.mac) {
            return Err(EEXIST);
        }
        let mut spec = *spec;
        spec.host = host.id;
        let host = host.clone();
        st.enis.push(
            Eni {
                spec,
                host,
                attached: None,
            },
            GFP_KERNEL,
        )?;
        Ok(spec.host)
    }

    fn attach(eni: &mut Eni, name: &DevName) -> Result<DevName> {
        if eni.attached.is_some() {
            return Err(EBUSY);
        }
        let dev = Unregistered::new(name, &eni.spec.mac, eni.host.netns())?;
        let port = Port::new(&eni.spec, dev.dev(), eni.host.clone())?;
        let netdev = dev.register(port.clone())?;
        if let Err(e) = eni.host.add_port(port.clone()) {
            drop(netdev);
            return Err(e);
        }
        let used = netdev.name();
        pr_info!(
            "eni-{:017x} attached as {} on host {}\n",
            eni.spec.id,
            used.as_str(),
            eni.host.id
        );
        eni.attached = Some((netdev, port));
        Ok(used)
    }

    fn detach(eni: &mut Eni) -> Result {
        let (netdev, _port) = eni.attached.take().ok_or(EINVAL)?;
        // Out of the tables first: no frame is switched to it any more; the
        // unregistration then waits for the ones in progress.
        eni.host.remove_port(eni.spec.id);
        drop(netdev);
        pr_info!("eni-{:017x} detached\n", eni.spec.id);
        Ok(())
    }

    fn set_map(st: &State, m: &MapSpec) -> Result {
        let host = st.host(m.host)?;
        let taken = st.enis.iter().any(|e| {
            e.host.id == m.host
                && e.spec.vpc == m.vpc
                && (e.spec.ipv4 == m.ipv4 || e.spec.mac == m.mac)
        });
        if taken {
            return Err(EEXIST);
        }
        host.set_map(m)
    }

    fn set_key(st: &State, k: &PeerKeySpec) -> Result {
        let host = st.host(k.host)?;
        host.set_key(k.peer, k.epoch, GcmKey::new(&k.key)?)
    }
}

impl Card for VpcCard {
    fn objects(&self) -> u32 {
        let st = self.st.lock();
        (st.hosts.len() + st.enis.len()) as u32
    }

    fn request(&self, req: &Request<'_>) -> Result<Reply> {
        let mut st = self.st.lock();
        match req {
            Request::CreateHost(spec) => {
                return Ok(Reply::Host(Self::create_host(&mut st, spec, &self.wq)?))
            }
            Request::DeleteHost(id) => Self::delete_host(&mut st, *id)?,
            Request::SetMap(m) => Self::set_map(&st, m)?,
            Request::DeleteMap(m) => st.host(m.host)?.delete_map(m.vpc, m.ipv4)?,
            Request::SetPeerKey(k) => Self::set_key(&st, k)?,
            Request::CreateEni(spec) => return Ok(Reply::Host(Self::create_eni(&mut st, spec)?)),
            Request::AttachEni(spec, att) => {
                return Ok(Reply::Attached(Self::attach(st.eni(spec.id)?, &att.device)?))
            }
            Request::DetachEni(spec) => Self::detach(st.eni(spec.id)?)?,
            Request::DeleteEni(spec) => {
                if st.eni(spec.id)?.attached.is_some() {
                    return Err(EBUSY);
                }
                st.enis.retain(|e| e.spec.id != spec.id);
            }
            _ => return Err(EOPNOTSUPP),
        }
        Ok(Reply::Done)
    }

    fn metrics(&self, id: u64) -> Result<Metrics> {
        let mut st = self.st.lock();
        let eni = st.eni(id)?;
        Ok(eni
            .attached
            .as_ref()
            .map_or_else(Metrics::default, |(_, port)| port.metrics()))
    }

    fn host_info(&self, id: u32) -> Result<HostInfo> {
        let st = self.st.lock();
        Ok(st.host(id)?.info(st.enis_on(id)))
    }
}

#[pinned_drop]
impl PinnedDrop for VpcCard {
    fn drop(self: Pin<&mut Self>) {
        // Module unload: every netdev goes, then every socket.
        let mut st = self.st.lock();
        for eni in st.enis.iter_mut() {
            let _ = Self::detach(eni);
        }
        st.enis.clear();
        for host in st.hosts.iter() {
            host.close();
        }
        st.hosts.clear();
    }
}

/// Formats an IPv4 address kept in network byte order.
struct Ipv4(u32);

impl core::fmt::Debug for Ipv4 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let b = self.0.to_ne_bytes();
        write!(f, "{}.{}.{}.{}", b[0], b[1], b[2], b[3])
    }
}

/// The module: the card's registration on the bus.
struct NitroNet {
    _reg: Registration,
}

impl kernel::Module for NitroNet {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // The card's work queue, where each host's transmit and receive
        // workers run: unbound (they run on whichever CPU is free, beside
        // the applications'), high priority (a woken worker does not wait
        // behind the applications it serves).
        let wq = Arc::new(
            OwnedQueue::new(c"nitro_net", Flags::UNBOUND | Flags::HIGHPRI)?,
            GFP_KERNEL,
        )?;
        let card: Arc<VpcCard> = Arc::pin_init(
            pin_init!(VpcCard {
                st <- new_mutex!(
                    State {
                        hosts: KVec::new(),
                        enis: KVec::new(),
                    },
                    "nitro_net::card"
                ),
                wq,
            }),
            GFP_KERNEL,
        )?;
        let reg = bus::register(CardKind::Vpc, "nitro_net.vpc0", card)?;
        Ok(Self { _reg: reg })
    }
}
