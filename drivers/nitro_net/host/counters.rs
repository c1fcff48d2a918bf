// SPDX-License-Identifier: GPL-2.0

//! The counters of an ENI, as `ethtool -S` shows them. A host's own are
//! [`HostCounter`](nitro_ctrl::bus::HostCounter), declared on the bus with
//! `struct nitro_host_info`.

nitro_ctrl::counters! {
    /// The counters of an ENI, in `ethtool -S` order.
    pub(crate) enum PortCounter {
        TxPackets => "tx_packets",
        TxBytes => "tx_bytes",
        RxPackets => "rx_packets",
        RxBytes => "rx_bytes",
        Spoofed => "tx_spoofed",
        NoMapping => "tx_no_mapping",
        Unsupported => "tx_unsupported",
        NoKey => "tx_no_key",
        Sealed => "tx_sealed",
        Plain => "tx_plain",
        Local => "tx_local",
        /// Frames to the ENI dropped over its bandwidth allowance in.
        BwInExceeded => "bw_in_allowance_exceeded",
        /// Frames from the ENI dropped over its bandwidth allowance out.
        BwOutExceeded => "bw_out_allowance_exceeded",
        /// Frames either way dropped over its packet-rate allowance.
        PpsExceeded => "pps_allowance_exceeded",
        /// Frames to the ENI its security groups denied.
        SgDeniedIn => "sg_denied_in",
        /// Frames from the ENI its security groups denied.
        SgDeniedOut => "sg_denied_out",
        /// Frames of new flows dropped on a full connection table.
        ConntrackExceeded => "conntrack_allowance_exceeded",
        /// How many more flows it can track (a gauge, not a count).
        ConntrackAvailable => "conntrack_allowance_available",
    }
}

/// How many counters `ethtool -S` shows.
pub(crate) const ETHTOOL_COUNT: usize = PortCounter::COUNT;

/// The names of the counters `ethtool -S` shows, in order (the ENI's own,
/// then ENA's allowance counters, named as ENA names them, the security
/// groups' denials, and ENA's connection-tracking ones).
pub(crate) fn ethtool_names() -> impl Iterator<Item = &'static str> {
    PortCounter::NAMES.into_iter()
}
