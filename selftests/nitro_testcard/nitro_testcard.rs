// SPDX-License-Identifier: GPL-2.0

//! nitro_testcard: a test double of the cards, for the controller's
//! selftests (as netdevsim is for netdev). Never loaded outside them.
//!
//! It registers an EBS, an instance-storage and a VPC card that keep a record
//! of the objects the controller provisions and carry out every request
//! without touching any real device. What a real card would refuse, it
//! refuses too (unknown object, attach of an attached one, ...), and logs
//! "protocol violation" so a test sees any controller bug. Failures are
//! injected by name: a request on an object whose name starts with
//! `fail-create`, `fail-attach`, `fail-detach` or `fail-delete` is refused
//! with EIO at that step.
//!
//! Metrics are test values: an object's `read_ops` counts the requests the
//! card carried out for it; the card's totals count all of them.
//!
//! Every callback runs under a lock of the card's own (`probe`), which the
//! card also held once, when it was made, while it called
//! [`nitro_ctrl::lockdep_probe`] (which takes every lock of the
//! controller). If the controller ever called a card with one of its locks
//! held, lockdep would see both orders and report a circular dependency:
//! the selftests' kernel-log check fails on it.

use kernel::{new_mutex, prelude::*, rbtree::RBTree, sync::Arc, sync::Mutex};
use nitro_ctrl::bus::{
    self, Card, CardKind, DevName, Fixed, HostInfo, Metrics, Registration, Reply, Request, Tag,
};

module! {
    type: NitroTestCard,
    name: "nitro_testcard",
    authors: ["nitro-rs developers"],
    description: "nitro-rs selftests: a test double of the block and VPC cards",
    license: "GPL",
}

/// What the card knows of one object.
struct TestObj {
    attached: bool,
    device: DevName,
    requests: u64,
}

struct State {
    objs: RBTree<u64, TestObj>,
    requests: u64,
    next_if: u32,
}

/// One test card.
#[pin_data]
struct TestCard {
    kind: CardKind,
    /// Held by every callback (see the module documentation).
    #[pin]
    probe: Mutex<()>,
    #[pin]
    state: Mutex<State>,
}

/// Whether `name` asks for a failure at `step`.
fn inject(name: &Tag, step: &[u8]) -> bool {
    name.as_bytes()
        .strip_prefix(b"fail-")
        .is_some_and(|rest| rest.starts_with(step))
}

fn violation(what: &str, id: u64) -> Error {
    pr_err!("protocol violation: {} for {:#x}\n", what, id);
    EPROTO
}

impl TestCard {
    fn new(kind: CardKind) -> Result<Arc<Self>> {
        let card = Arc::pin_init(
            pin_init!(TestCard {
                kind,
                probe <- new_mutex!((), "nitro_testcard::probe"),
                state <- new_mutex!(State { objs: RBTree::new(), requests: 0, next_if: 0 }),
            }),
            GFP_KERNEL,
        )?;
        // Teaches lockdep "probe, then every controller lock".
        {
            let _probe = card.probe.lock();
            nitro_ctrl::lockdep_probe();
        }
        Ok(card)
    }
}

impl Card for TestCard {
    fn objects(&self) -> u32 {
        let _probe = self.probe.lock();
        self.state.lock().objs.iter().count() as u32
    }

    fn request(&self, req: &Request<'_>) -> Result<Reply> {
        let _probe = self.probe.lock();
        let (id, name, step): (u64, &Tag, &[u8]) = match req {
            Request::CreateVolume(v) => (v.id, &v.name, b"create"),
            Request::AttachVolume(v, _) => (v.id, &v.name, b"attach"),
            Request::DetachVolume(v) => (v.id, &v.name, b"detach"),
            Request::DeleteVolume(v) => (v.id, &v.name, b"delete"),
            Request::CreateEni(e) => (e.id, &e.name, b"create"),
            Request::AttachEni(e, _) => (e.id, &e.name, b"attach"),
            Request::DetachEni(e) => (e.id, &e.name, b"detach"),
            Request::DeleteEni(e) => (e.id, &e.name, b"delete"),
            // Hosts, mappings and keys are the VPC card's own business.
            _ => return Err(EOPNOTSUPP),
        };
        let is_volume = matches!(
            req,
            Request::CreateVolume(_)
                | Request::AttachVolume(..)
                | Request::DetachVolume(_)
                | Request::DeleteVolume(_)
        );
        if is_volume == (self.kind == CardKind::Vpc) {
            return Err(violation("request for another kind of card", id));
        }
        if (step == b"create" || step == b"attach") && !nitro_ctrl::gate::is_open() {
            return Err(violation(
                "provisioning forwarded with the boot gate closed",
                id,
            ));
        }
        if inject(name, step) {
            return Err(EIO);
        }
        let mut st = self.state.lock();
        st.requests += 1;
        let reply = match req {
            Request::CreateVolume(_) | Request::CreateEni(_) => {
                if st.objs.get(&id).is_some() {
                    return Err(violation("create of an existing object", id));
                }
                let obj = TestObj {
                    attached: false,
                    device: DevName::EMPTY,
                    requests: 1,
                };
                st.objs.try_create_and_insert(id, obj, GFP_KERNEL)?;
                Reply::Done
            }
            Request::AttachVolume(_, att) | Request::AttachEni(_, att) => {
                let dev = &att.device;
                let n = st.next_if;
                let o = st
                    .objs
                    .get_mut(&id)
                    .ok_or_else(|| violation("attach of unknown", id))?;
                if o.attached {
                    return Err(violation("attach of an attached object", id));
                }
                let chosen = if dev.is_empty() {
                    let mut buf = *b"nteth0000";
                    for (i, d) in buf[5..].iter_mut().rev().enumerate() {
                        *d = b'0' + ((n / 10u32.pow(i as u32)) % 10) as u8;
                    }
                    Fixed::new(&buf).unwrap_or(DevName::EMPTY)
                } else {
                    *dev
                };
                o.attached = true;
                o.device = chosen;
                o.requests += 1;
                if dev.is_empty() {
                    st.next_if = (n + 1) % 10000;
                    Reply::Attached(chosen)
                } else {
                    Reply::Done
                }
            }
            Request::DetachVolume(_) | Request::DetachEni(_) => {
                let o = st
                    .objs
                    .get_mut(&id)
                    .ok_or_else(|| violation("detach of unknown", id))?;
                if !o.attached {
                    return Err(violation("detach of a detached object", id));
                }
                o.attached = false;
                o.device = DevName::EMPTY;
                o.requests += 1;
                Reply::Done
            }
            Request::DeleteVolume(_) | Request::DeleteEni(_) => {
                match st.objs.get(&id) {
                    None => return Err(violation("delete of unknown", id)),
                    Some(o) if o.attached => {
                        return Err(violation("delete of an attached object", id))
                    }
                    Some(_) => {}
                }
                st.objs.remove(&id);
                Reply::Done
            }
            _ => return Err(EOPNOTSUPP),
        };
        Ok(reply)
    }

    fn metrics(&self, id: u64) -> Result<Metrics> {
        let _probe = self.probe.lock();
        let st = self.state.lock();
        let o = st.objs.get(&id).ok_or(ENOENT)?;
        Ok(Metrics {
            read_ops: o.requests,
            ..Default::default()
        })
    }

    fn host_info(&self, _host: u32) -> Result<HostInfo> {
        let _probe = self.probe.lock();
        // The test card's VPC card has no hosts.
        Err(ENODEV)
    }

    fn totals(&self) -> Metrics {
        let _probe = self.probe.lock();
        Metrics {
            read_ops: self.state.lock().requests,
            ..Default::default()
        }
    }
}

/// The module: its three cards' registrations (dropped last to first).
struct NitroTestCard {
    _vpc: Registration,
    _instance: Registration,
    _ebs: Registration,
}

impl kernel::Module for NitroTestCard {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let ebs = bus::register(
            CardKind::Ebs,
            "nitro_testcard.ebs0",
            TestCard::new(CardKind::Ebs)?,
        )?;
        let instance = bus::register(
            CardKind::InstanceStore,
            "nitro_testcard.instance0",
            TestCard::new(CardKind::InstanceStore)?,
        )?;
        let vpc = bus::register(
            CardKind::Vpc,
            "nitro_testcard.vpc0",
            TestCard::new(CardKind::Vpc)?,
        )?;
        Ok(Self {
            _vpc: vpc,
            _instance: instance,
            _ebs: ebs,
        })
    }
}
