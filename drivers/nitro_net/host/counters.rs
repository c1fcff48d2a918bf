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
    }
}

/// ENA's allowance counters, which `ethtool -S` shows after the ENI's own:
/// no allowance is enforced, so they stay 0.
const ALLOWANCE_COUNTERS: [&str; 3] = [
    "bw_in_allowance_exceeded",
    "bw_out_allowance_exceeded",
    "pps_allowance_exceeded",
];

/// How many counters `ethtool -S` shows.
pub(crate) const ETHTOOL_COUNT: usize = PortCounter::COUNT + ALLOWANCE_COUNTERS.len();

/// The names of the counters `ethtool -S` shows, in order.
pub(crate) fn ethtool_names() -> impl Iterator<Item = &'static str> {
    PortCounter::NAMES.into_iter().chain(ALLOWANCE_COUNTERS)
}
