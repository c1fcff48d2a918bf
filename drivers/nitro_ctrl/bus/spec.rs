// SPDX-License-Identifier: GPL-2.0

//! What the controller asks the cards to provision: the specification of
//! each kind of object, and the fixed-size names they carry.

use crate::uapi;

/// Most cards the bus holds at once.
pub const MAX_CARDS: usize = 16;

/// Longest card name (without the NUL of the ABI field).
pub const MAX_NAME: usize = uapi::NITRO_NAME_LEN as usize - 1;

/// A short string kept in a fixed buffer (names travel without allocation).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fixed<const N: usize> {
    buf: [u8; N],
}

impl<const N: usize> Fixed<N> {
    /// The empty string.
    pub const EMPTY: Self = Self { buf: [0; N] };

    /// Copies `s`, which must be shorter than `N` bytes and hold no NUL.
    pub fn new(s: &[u8]) -> Option<Self> {
        if s.len() >= N || s.contains(&0) {
            return None;
        }
        let mut buf = [0; N];
        buf[..s.len()].copy_from_slice(s);
        Some(Self { buf })
    }

    /// The bytes, without the padding.
    pub fn as_bytes(&self) -> &[u8] {
        let len = self.buf.iter().position(|&b| b == 0).unwrap_or(N);
        &self.buf[..len]
    }

    /// The string (our names are ASCII; anything else shows as `?`).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("?")
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.buf[0] == 0
    }

    /// The whole buffer, NUL-padded, as the ABI carries it.
    pub fn raw(&self) -> &[u8; N] {
        &self.buf
    }
}

/// An object name (`NITRO_TAG_LEN`).
pub type Tag = Fixed<{ uapi::NITRO_TAG_LEN as usize }>;
/// An attachment name (`NITRO_DEVNAME_LEN`).
pub type DevName = Fixed<{ uapi::NITRO_DEVNAME_LEN as usize }>;

/// Volume kinds, as in `enum nitro_volume_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeKind {
    /// EBS: network storage, survives detach and reload.
    Ebs,
    /// Instance storage: local, wiped on delete.
    Instance,
}

/// A volume as the card is asked to provision it.
#[derive(Clone, Copy)]
pub struct VolumeSpec {
    /// Its id.
    pub id: u64,
    /// EBS or instance storage.
    pub kind: VolumeKind,
    /// Capacity in bytes, a multiple of `block_size`.
    pub size_bytes: u64,
    /// Logical block size: 512 or 4096.
    pub block_size: u32,
    /// Name given at create (may be empty).
    pub name: Tag,
    /// EBS: the caller's descriptor of the backing file or device, valid
    /// only while the create request runs (in the caller's context).
    pub backing_fd: i32,
    /// EBS: the data key, wrapped under the card's key (opaque here).
    pub wrapped_key: [u8; WRAPPED_KEY_LEN],
}

/// Length of a wrapped data key (`struct nitro_wrapped_key`).
pub const WRAPPED_KEY_LEN: usize = uapi::NITRO_WRAPPED_KEY_LEN as usize;

/// An ENI as the card is asked to provision it.
#[derive(Clone, Copy)]
pub struct EniSpec {
    /// Its id.
    pub id: u64,
    /// VPC id (the Geneve VNI).
    pub vpc: u32,
    /// MAC address.
    pub mac: [u8; 6],
    /// IPv4 address, network byte order.
    pub ipv4: u32,
    /// Name given at create (may be empty).
    pub name: Tag,
    /// The VPC card instance (host) it is on; 0: the lowest-numbered.
    pub host: u32,
    /// Its traffic allowances as set (`NITRO_IOC_ENI_ALLOWANCE`).
    pub allowance: Allowance,
    /// How many times they were set: a card applies a
    /// [`SetAllowance`](super::Request::SetAllowance) only if newer than
    /// what it has (two changes may reach it out of order).
    pub allowance_gen: u64,
    /// Its security groups (`NITRO_IOC_ENI_GROUPS`). An ENI attached with
    /// groups passes nothing until its card has their rules
    /// ([`SetFilter`](super::Request::SetFilter)).
    pub groups: GroupSet,
}

/// Most security groups of an ENI (`NITRO_ENI_GROUPS_MAX`).
pub const ENI_GROUPS_MAX: usize = uapi::NITRO_ENI_GROUPS_MAX as usize;

/// An ENI's security groups: distinct ids, none zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupSet {
    ids: [u64; ENI_GROUPS_MAX],
    len: usize,
}

impl GroupSet {
    /// The set of `ids`, if they are at most [`ENI_GROUPS_MAX`], none zero
    /// and none twice.
    pub fn new(ids: &[u64]) -> Option<Self> {
        let mut set = Self::default();
        for (i, &id) in ids.iter().enumerate() {
            if id == 0 || ids[..i].contains(&id) || i >= ENI_GROUPS_MAX {
                return None;
            }
            set.ids[i] = id;
            set.len = i + 1;
        }
        Some(set)
    }

    /// The groups, in the order given.
    pub fn ids(&self) -> &[u64] {
        &self.ids[..self.len]
    }

    /// Whether there are none (the ENI is not filtered).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `id` is one of them.
    pub fn contains(&self, id: u64) -> bool {
        self.ids().contains(&id)
    }
}

/// An ENI's traffic allowances (`struct nitro_eni_allowance`): bits per
/// second each way, packets per second both ways. As set, 0 means "the
/// instance type's" and [`Allowance::NO_LIMIT`] none; as a card enforces
/// it ([`Allowance::enforced`]), 0 means no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Allowance {
    /// Bits per second delivered to the ENI.
    pub bw_in_bps: u64,
    /// Bits per second sent by the ENI.
    pub bw_out_bps: u64,
    /// Packets per second, both ways together.
    pub pps: u64,
}

const _: () = assert!(Allowance::NO_LIMIT == u64::MAX);

impl Allowance {
    /// Nothing set.
    pub const UNSET: Self = Self {
        bw_in_bps: 0,
        bw_out_bps: 0,
        pps: 0,
    };
    /// The value that sets no limit (`NITRO_ALLOWANCE_NONE`, all ones:
    /// bindgen types `~0ULL` as the `i32` -1, which sign-extends back).
    pub const NO_LIMIT: u64 = uapi::NITRO_ALLOWANCE_NONE as u64;

    /// Whether each value is unset, no limit, or within the ABI's bounds.
    pub fn is_valid(&self) -> bool {
        let ok =
            |v: u64, min: u64, max: u64| v == 0 || v == Self::NO_LIMIT || (min..=max).contains(&v);
        let (bmin, bmax) = (
            u64::from(uapi::NITRO_ALLOWANCE_BPS_MIN),
            uapi::NITRO_ALLOWANCE_BPS_MAX,
        );
        let (pmin, pmax) = (
            u64::from(uapi::NITRO_ALLOWANCE_PPS_MIN),
            u64::from(uapi::NITRO_ALLOWANCE_PPS_MAX),
        );
        ok(self.bw_in_bps, bmin, bmax)
            && ok(self.bw_out_bps, bmin, bmax)
            && ok(self.pps, pmin, pmax)
    }

    /// Each value, or `base`'s where this one is unset.
    pub fn or(self, base: Self) -> Self {
        let pick = |v: u64, b: u64| if v == 0 { b } else { v };
        Self {
            bw_in_bps: pick(self.bw_in_bps, base.bw_in_bps),
            bw_out_bps: pick(self.bw_out_bps, base.bw_out_bps),
            pps: pick(self.pps, base.pps),
        }
    }

    /// What a card enforces for this setting: 0 (no limit) where it is
    /// unset or no limit, the value elsewhere.
    pub fn enforced(self) -> Self {
        let limit = |v: u64| if v == Self::NO_LIMIT { 0 } else { v };
        Self {
            bw_in_bps: limit(self.bw_in_bps),
            bw_out_bps: limit(self.bw_out_bps),
            pps: limit(self.pps),
        }
    }
}

/// A VPC card instance (an emulated host) as the card is asked to make it.
#[derive(Clone, Copy)]
pub struct HostSpec {
    /// The caller's descriptor of the underlay namespace, or -1 for the
    /// caller's own; valid only while the request runs (caller's context).
    pub netns_fd: i32,
    /// Underlay IPv4 address, network byte order.
    pub underlay: u32,
}

/// One entry of a host's mapping table.
#[derive(Clone, Copy)]
pub struct MapSpec {
    /// The host whose table it is.
    pub host: u32,
    /// VPC id.
    pub vpc: u32,
    /// Inner IPv4 address, network byte order.
    pub ipv4: u32,
    /// Inner MAC address.
    pub mac: [u8; 6],
    /// The peer host's underlay address, network byte order.
    pub underlay: u32,
    /// Whether the peer is a Nitro host (frames to it are sealed).
    pub nitro: bool,
}

/// Length of a peer key.
pub const PEER_KEY_LEN: usize = uapi::NITRO_PEER_KEY_LEN as usize;

/// A key a host shares with a peer host.
pub struct PeerKeySpec {
    /// The host.
    pub host: u32,
    /// The peer's underlay address, network byte order.
    pub peer: u32,
    /// The key's epoch.
    pub epoch: u32,
    /// The key.
    pub key: [u8; PEER_KEY_LEN],
}

impl Drop for PeerKeySpec {
    fn drop(&mut self) {
        // The controller does not keep keys: wipe the copy it passed on.
        self.key.fill(0);
        core::hint::black_box(&mut self.key);
    }
}

/// Where a card attaches a volume or an ENI.
#[derive(Clone, Copy)]
pub struct Attachment {
    /// The device name: a volume's ("sdf"); an ENI's interface name on the
    /// host (empty: the card chooses one).
    pub device: DevName,
    /// The instance it is attached to (0: the host itself).
    pub instance: u64,
    /// An ENI's allowances, as the card is to enforce them
    /// ([`Allowance::enforced`]); unused for volumes.
    pub allowance: Allowance,
}
