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
}
