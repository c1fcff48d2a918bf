// SPDX-License-Identifier: GPL-2.0

//! The card side of the bus: the [`Card`] trait every card implements, and
//! the typed requests, replies and counters that cross the bus.

use super::spec::{
    Allowance, Attachment, DevName, EniSpec, HostSpec, MapSpec, PeerKeySpec, Tag, VolumeSpec,
};
pub use crate::sg_rules::{Peer as SgPeer, Rule as SgRule};
use crate::uapi;
use kernel::prelude::*;

/// Bins of a latency histogram (`NITRO_HIST_BINS`).
pub const HIST_BINS: usize = uapi::NITRO_HIST_BINS as usize;

/// Counters and sizes of a host, as `struct nitro_host_info` reports them.
#[derive(Clone, Copy, Default)]
pub struct HostInfo {
    /// Underlay address, network byte order.
    pub underlay: u32,
    /// ENIs made on it.
    pub enis: u32,
    /// Mapping entries.
    pub maps: u32,
    /// Keyed peers.
    pub peers: u32,
    /// Counters, indexed by [`HostCounter`].
    pub counters: [u64; HOST_COUNTERS],
}

impl HostInfo {
    /// The value of counter `c`.
    pub fn counter(&self, c: HostCounter) -> u64 {
        self.counters[c as usize]
    }
}

/// Declares a list of counters once: a fieldless enum whose variants index
/// an array of counts, its `COUNT`, and its `NAMES` (as userspace reads
/// them), all in the order given.
#[macro_export]
macro_rules! counters {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// How many there are.
            $vis const COUNT: usize = [$(stringify!($variant)),+].len();
            /// Their names, in order.
            $vis const NAMES: [&'static str; Self::COUNT] = [$($text),+];
        }
    };
}

crate::counters! {
    /// The counters of a host, in `struct nitro_host_info` order from
    /// `tx_sealed` (each named after its field there, which documents it).
    pub enum HostCounter {
        /// Packets sealed to Nitro peers.
        TxSealed => "tx_sealed",
        /// Sealed packets opened and delivered.
        RxSealed => "rx_sealed",
        /// Plain Geneve packets to non-Nitro peers.
        TxPlain => "tx_plain",
        /// Plain Geneve packets from non-Nitro peers, delivered.
        RxPlain => "rx_plain",
        /// Sealed packets that did not authenticate.
        RxBadAuth => "rx_bad_auth",
        /// Sealed packets already seen or too old.
        RxReplay => "rx_replay",
        /// Sealed packets from a peer or epoch with no key.
        RxNoKey => "rx_no_key",
        /// Packets from an underlay source the table does not allow.
        RxNotAllowed => "rx_not_allowed",
        /// Packets in neither format.
        RxMalformed => "rx_malformed",
        /// Frames to a Nitro peer with no key.
        TxNoKey => "tx_no_key",
        /// Frames that could not be sent.
        TxErrors => "tx_errors",
        /// Datagrams dropped on a full receive queue.
        RxBacklog => "rx_backlog",
    }
}

/// Number of counters in `struct nitro_host_info`.
pub const HOST_COUNTERS: usize = HostCounter::COUNT;

/// A request from the controller to a card.
pub enum Request<'a> {
    /// Provision a volume.
    CreateVolume(&'a VolumeSpec),
    /// Attach it under the given device name (to the host, or to an
    /// instance).
    AttachVolume(&'a VolumeSpec, &'a Attachment),
    /// Detach it.
    DetachVolume(&'a VolumeSpec),
    /// Deprovision it.
    DeleteVolume(&'a VolumeSpec),
    /// Instance storage: destroy its data, as deprovision does, and keep
    /// the volume (a new key; its edges zeroed). Its disk, if attached, is
    /// made anew (the reply gives its numbers; `Done` if it was attached
    /// and the new disk could not be made: it is detached).
    WipeVolume(&'a VolumeSpec),
    /// Provision an ENI.
    CreateEni(&'a EniSpec),
    /// Attach it; the name is empty when the card is to choose one.
    AttachEni(&'a EniSpec, &'a Attachment),
    /// Detach it.
    DetachEni(&'a EniSpec),
    /// Deprovision it.
    DeleteEni(&'a EniSpec),
    /// Make a VPC card instance (a host).
    CreateHost(&'a HostSpec),
    /// Remove a host (it must have no ENIs).
    DeleteHost(u32),
    /// Add or replace a mapping entry.
    SetMap(&'a MapSpec),
    /// Remove a mapping entry (only host, VPC and address are meaningful).
    DeleteMap(&'a MapSpec),
    /// Add or replace (or, with `delete`, remove) these mapping entries of
    /// one host, in order, until one fails ([`Reply::Batch`]).
    MapBatch {
        /// The entries, all of the same host.
        maps: &'a [MapSpec],
        /// Remove them rather than set them.
        delete: bool,
    },
    /// List up to `cap` mapping entries of `host` from position `from`
    /// (0: the start), in the table's order ([`Reply::Maps`]).
    ListMaps {
        /// The host.
        host: u32,
        /// Where to start.
        from: u64,
        /// The most entries to give.
        cap: usize,
    },
    /// Install a peer key.
    SetPeerKey(&'a PeerKeySpec),
    /// Enforce these allowances ([`Allowance::enforced`]) on an attached
    /// ENI from now on, unless the card has applied a newer setting
    /// (`allowance_gen` of the spec).
    SetAllowance(&'a EniSpec, &'a Allowance),
    /// Filter an attached ENI's traffic with these security group rules
    /// from now on (`None`: no groups, not filtered; every peer an address
    /// or a network, [`SgPeer::Net`]), unless the card has applied a newer
    /// setting than `gen`.
    SetFilter {
        /// The ENI.
        eni: &'a EniSpec,
        /// The rules of all its groups.
        rules: Option<&'a [SgRule]>,
        /// Rises with each setting the controller makes.
        gen: u64,
    },
}

/// A card's answer to a request it carried out.
pub enum Reply {
    /// Done.
    Done,
    /// Attached under this name (an ENI's interface name).
    Attached(DevName),
    /// Made this host; or, for an ENI, placed it on this host.
    Host(u32),
    /// Attached a volume as this block device (major, minor).
    Disk(u32, u32),
    /// Applied the first `done` entries of a batch; the error of the one
    /// after them, if that one failed.
    Batch {
        /// How many applied.
        done: usize,
        /// Why the next did not.
        err: Option<Error>,
    },
    /// Mapping entries, and the position of the next page if entries
    /// remain.
    Maps(KVVec<MapSpec>, Option<u64>),
}

/// Counters a card reports for one object, or for itself.
#[derive(Clone, Copy, Default)]
pub struct Metrics {
    /// Block reads completed.
    pub read_ops: u64,
    /// Bytes read.
    pub read_bytes: u64,
    /// Time in reads, ns.
    pub read_ns: u64,
    /// Block writes completed.
    pub write_ops: u64,
    /// Bytes written.
    pub write_bytes: u64,
    /// Time in writes, ns.
    pub write_ns: u64,
    /// Packets received by the guest side.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets sent by the guest side.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets dropped.
    pub drops: u64,
    /// Requests being processed now (volumes).
    pub queue_depth: u64,
    /// Reads by latency (volumes): bin 0 under 1 us, bin i [2^(i-1), 2^i) us.
    pub read_hist: [u64; HIST_BINS],
    /// Writes by latency, the same way.
    pub write_hist: [u64; HIST_BINS],
    /// ENIs: packets to it dropped over its bandwidth allowance.
    pub bw_in_allowance_exceeded: u64,
    /// ENIs: packets from it dropped over its bandwidth allowance.
    pub bw_out_allowance_exceeded: u64,
    /// ENIs: packets dropped over its packet-rate allowance.
    pub pps_allowance_exceeded: u64,
    /// ENIs: the allowances the card enforces now, as
    /// [`Allowance::enforced`] gives them (0: no limit).
    pub allowance: Allowance,
    /// ENIs: packets of new flows dropped on a full connection table.
    pub conntrack_allowance_exceeded: u64,
    /// ENIs: connections it can still track.
    pub conntrack_allowance_available: u64,
    /// ENIs: packets to it its security groups denied.
    pub sg_denied_in: u64,
    /// ENIs: packets from it they denied.
    pub sg_denied_out: u64,
}

/// Length of a SHA-384 digest.
pub const SHA384_LEN: usize = uapi::NITRO_SHA384_LEN as usize;

/// Number of extend registers of the security chip.
pub const FW_REGISTERS: usize = uapi::NITRO_FW_REGISTERS as usize;

/// One entry of the security chip's measurement log.
#[derive(Clone, Copy)]
pub struct Measurement {
    /// What was measured ("bios-rom", "acpi/DSDT", "smbios/DMI", ...).
    pub component: Tag,
    /// Bytes measured.
    pub size: u64,
    /// The register it was extended into.
    pub reg: u32,
    /// SHA-384 of the bytes.
    pub digest: [u8; SHA384_LEN],
}

/// What a card does for the controller. Implemented by each card module.
pub trait Card: Send + Sync {
    /// How many objects (volumes, ENIs, measurements) the card holds now.
    fn objects(&self) -> u32;

    /// Carries out a request. An error leaves the object as it was: the
    /// card must undo any partial work before returning it.
    fn request(&self, req: &Request<'_>) -> Result<Reply> {
        let _ = req;
        Err(EOPNOTSUPP)
    }

    /// Counters of one of the card's objects.
    fn metrics(&self, id: u64) -> Result<Metrics> {
        let _ = id;
        Err(ENOENT)
    }

    /// A host's counters (the VPC card; others have no hosts).
    fn host_info(&self, host: u32) -> Result<HostInfo> {
        let _ = host;
        Err(ENODEV)
    }

    /// Counters of the whole card.
    fn totals(&self) -> Metrics {
        Metrics::default()
    }

    /// The security chip's measurement log (other cards have none).
    fn measurements(&self) -> Result<KVec<Measurement>> {
        Ok(KVec::new())
    }

    /// The security chip's extend registers.
    fn registers(&self) -> [[u8; SHA384_LEN]; FW_REGISTERS] {
        [[0; SHA384_LEN]; FW_REGISTERS]
    }
}
