//! `nitroctl metrics`: per-card, per-volume and per-ENI counters, pulled
//! from the controller on demand (once, or every few seconds).

use crate::{
    abi,
    cli::{status::Status, GlobalOptions},
    device::{sized, Controller},
    error::Error,
    objects::ObjectKind,
    output::{table, Rows},
};
use clap::Args;
use serde::Serialize;
use std::time::Duration;

/// The arguments of `nitroctl metrics`.
#[derive(Args, Debug, PartialEq)]
pub struct MetricsArgs {
    /// Repeat every SECS seconds.
    #[arg(long, value_name = "SECS")]
    pub watch: Option<u64>,
    /// With --watch: stop after N rounds.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
}

/// `nitroctl metrics`: prints every round but the last, which it gives.
pub fn run(options: &GlobalOptions, args: &MetricsArgs) -> Result<String, Error> {
    let controller = options.open()?;
    let mut round = 0u64;
    loop {
        let (status, cards) = controller.status()?;
        let card_names: Vec<String> = Status::from_abi(&status, &cards)
            .cards
            .into_iter()
            .map(|card| card.name)
            .collect();
        let snapshot = snapshot(&controller, &card_names)?;
        let text = if options.json {
            serde_json::to_string(&snapshot).expect("metrics serialize") + "\n"
        } else {
            snapshot.human()
        };
        round += 1;
        let last = args.watch.is_none() || args.count.is_some_and(|count| round >= count);
        if last {
            return Ok(text);
        }
        print!("{text}");
        if !options.json {
            println!("--");
        }
        std::thread::sleep(Duration::from_secs(args.watch.unwrap_or(1).max(1)));
    }
}

/// Counters of one volume, ENI or card.
#[derive(Serialize, Debug, Default, PartialEq)]
pub struct Counters {
    /// Which object.
    pub what: String,
    /// reads
    pub read_ops: u64,
    /// bytes read
    pub read_bytes: u64,
    /// ns in reads
    pub read_ns: u64,
    /// writes
    pub write_ops: u64,
    /// bytes written
    pub write_bytes: u64,
    /// ns in writes
    pub write_ns: u64,
    /// packets in
    pub rx_packets: u64,
    /// bytes in
    pub rx_bytes: u64,
    /// packets out
    pub tx_packets: u64,
    /// bytes out
    pub tx_bytes: u64,
    /// drops
    pub drops: u64,
    /// bus requests (cards)
    pub requests: u64,
    /// refused requests (cards)
    pub failures: u64,
    /// objects (cards)
    pub objects: u32,
    /// requests being processed now (volumes)
    pub queue_depth: u64,
    /// reads by latency: bin 0 under 1 us, bin i [2^(i-1), 2^i) us
    pub read_hist: Vec<u64>,
    /// writes by latency, the same bins
    pub write_hist: Vec<u64>,
    /// packets to the ENI dropped over its bandwidth allowance in (ENIs;
    /// named as ENA's `ethtool -S` counters)
    pub bw_in_allowance_exceeded: u64,
    /// packets from the ENI dropped over its bandwidth allowance out (ENIs)
    pub bw_out_allowance_exceeded: u64,
    /// packets either way dropped over its packet-rate allowance (ENIs)
    pub pps_allowance_exceeded: u64,
    /// packets of new flows dropped because the ENI's connection table was
    /// full (ENIs, v4; ENA's name)
    pub conntrack_allowance_exceeded: u64,
    /// connections the ENI can still track (0 if it is not filtered)
    pub conntrack_allowance_available: u64,
    /// packets to the ENI its security groups denied
    pub sg_denied_in: u64,
    /// packets from the ENI its security groups denied
    pub sg_denied_out: u64,
}

/// The upper bound, in microseconds, of the histogram bin that holds the
/// `percent`th percentile ("-" with no samples, ">=2^26" in the open last
/// bin).
pub fn percentile_us(histogram: &[u64], percent: u64) -> String {
    let total: u64 = histogram.iter().sum();
    if total == 0 {
        return "-".into();
    }
    let want = (total * percent).div_ceil(100);
    let mut seen = 0;
    for (bin, samples) in histogram.iter().enumerate() {
        seen += samples;
        if seen >= want {
            return if bin + 1 == histogram.len() {
                format!(">={}", 1u64 << (bin - 1))
            } else {
                format!("<{}", 1u64 << bin)
            };
        }
    }
    "-".into()
}

impl Counters {
    /// From the ABI.
    pub fn from_abi(what: String, metrics: &abi::nitro_metrics) -> Self {
        Counters {
            what,
            read_ops: metrics.read_ops,
            read_bytes: metrics.read_bytes,
            read_ns: metrics.read_ns,
            write_ops: metrics.write_ops,
            write_bytes: metrics.write_bytes,
            write_ns: metrics.write_ns,
            rx_packets: metrics.rx_packets,
            rx_bytes: metrics.rx_bytes,
            tx_packets: metrics.tx_packets,
            tx_bytes: metrics.tx_bytes,
            drops: metrics.drops,
            requests: metrics.requests,
            failures: metrics.failures,
            objects: metrics.objects,
            queue_depth: metrics.queue_depth,
            read_hist: metrics.read_hist.to_vec(),
            write_hist: metrics.write_hist.to_vec(),
            bw_in_allowance_exceeded: metrics.bw_in_allowance_exceeded,
            bw_out_allowance_exceeded: metrics.bw_out_allowance_exceeded,
            pps_allowance_exceeded: metrics.pps_allowance_exceeded,
            conntrack_allowance_exceeded: metrics.conntrack_allowance_exceeded,
            conntrack_allowance_available: metrics.conntrack_allowance_available,
            sg_denied_in: metrics.sg_denied_in,
            sg_denied_out: metrics.sg_denied_out,
        }
    }
}

/// All metrics of the host at one moment.
#[derive(Serialize, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Per card.
    pub cards: Vec<Counters>,
    /// Per volume.
    pub volumes: Vec<Counters>,
    /// Per ENI.
    pub enis: Vec<Counters>,
}

impl Snapshot {
    /// Human form: three tables.
    pub fn human(&self) -> String {
        let cards: Rows<4> = self
            .cards
            .iter()
            .map(|card| {
                [
                    card.what.clone(),
                    card.requests.to_string(),
                    card.failures.to_string(),
                    card.objects.to_string(),
                ]
            })
            .collect();
        let ms = |ns: u64| format!("{}.{:03}", ns / 1_000_000, (ns / 1000) % 1000);
        let volumes: Rows<10> = self
            .volumes
            .iter()
            .map(|volume| {
                [
                    volume.what.clone(),
                    volume.read_ops.to_string(),
                    volume.read_bytes.to_string(),
                    ms(volume.read_ns),
                    volume.write_ops.to_string(),
                    volume.write_bytes.to_string(),
                    ms(volume.write_ns),
                    percentile_us(&volume.read_hist, 99),
                    percentile_us(&volume.write_hist, 99),
                    volume.queue_depth.to_string(),
                ]
            })
            .collect();
        let enis: Rows<13> = self
            .enis
            .iter()
            .map(|eni| {
                [
                    eni.what.clone(),
                    eni.rx_packets.to_string(),
                    eni.rx_bytes.to_string(),
                    eni.tx_packets.to_string(),
                    eni.tx_bytes.to_string(),
                    eni.drops.to_string(),
                    eni.bw_in_allowance_exceeded.to_string(),
                    eni.bw_out_allowance_exceeded.to_string(),
                    eni.pps_allowance_exceeded.to_string(),
                    eni.conntrack_allowance_exceeded.to_string(),
                    eni.conntrack_allowance_available.to_string(),
                    eni.sg_denied_in.to_string(),
                    eni.sg_denied_out.to_string(),
                ]
            })
            .collect();
        let mut out = table(&["CARD", "REQUESTS", "FAILURES", "OBJECTS"], &cards);
        out.push('\n');
        out.push_str(&table(
            &[
                "VOLUME",
                "READS",
                "READ_BYTES",
                "READ_MS",
                "WRITES",
                "WRITE_BYTES",
                "WRITE_MS",
                "READ_P99_US",
                "WRITE_P99_US",
                "QD",
            ],
            &volumes,
        ));
        out.push('\n');
        // The allowance counters after DROPS, under ENA's names (DROPS
        // counts them too), then the security groups'.
        out.push_str(&table(
            &[
                "ENI",
                "RX_PKTS",
                "RX_BYTES",
                "TX_PKTS",
                "TX_BYTES",
                "DROPS",
                "BW_IN_ALLOWANCE_EXCEEDED",
                "BW_OUT_ALLOWANCE_EXCEEDED",
                "PPS_ALLOWANCE_EXCEEDED",
                "CONNTRACK_ALLOWANCE_EXCEEDED",
                "CONNTRACK_ALLOWANCE_AVAILABLE",
                "SG_DENIED_IN",
                "SG_DENIED_OUT",
            ],
            &enis,
        ));
        out
    }
}

/// Pulls every counter from the controller (one ioctl per object).
pub fn snapshot(controller: &Controller, card_names: &[String]) -> Result<Snapshot, Error> {
    let metrics_of = |scope: u32, id: u64| -> Result<abi::nitro_metrics, Error> {
        let mut metrics: abi::nitro_metrics = sized();
        metrics.scope = scope;
        metrics.id = id;
        controller.ioctl("NITRO_IOC_METRICS", abi::NITRO_IOC_METRICS, &mut metrics)?;
        Ok(metrics)
    };
    let mut snapshot = Snapshot::default();
    for (index, name) in card_names.iter().enumerate() {
        // A card can leave the bus (its module unloaded) between the status
        // and the question, ENOENT: skip it, as an object that went.
        match metrics_of(abi::NITRO_METRICS_CARD, index as u64) {
            Ok(metrics) => snapshot
                .cards
                .push(Counters::from_abi(name.clone(), &metrics)),
            Err(Error::Kernel { ref error, .. }) if error.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
    let volumes: Vec<abi::nitro_volume_info> =
        controller.list_all("NITRO_IOC_VOLUME_LIST", abi::NITRO_IOC_VOLUME_LIST, 1024)?;
    for volume in volumes
        .iter()
        .filter(|volume| volume.state != abi::NITRO_STATE_CARD_LOST)
    {
        // An object can go between the list and the question: skip it.
        if let Ok(metrics) = metrics_of(abi::NITRO_METRICS_VOLUME, volume.id) {
            snapshot.volumes.push(Counters::from_abi(
                ObjectKind::Volume.format_id(volume.id),
                &metrics,
            ));
        }
    }
    let enis: Vec<abi::nitro_eni_info> =
        controller.list_all("NITRO_IOC_ENI_LIST", abi::NITRO_IOC_ENI_LIST, 1024)?;
    for eni in enis
        .iter()
        .filter(|eni| eni.state != abi::NITRO_STATE_CARD_LOST)
    {
        if let Ok(metrics) = metrics_of(abi::NITRO_METRICS_ENI, eni.id) {
            snapshot.enis.push(Counters::from_abi(
                ObjectKind::Eni.format_id(eni.id),
                &metrics,
            ));
        }
    }
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{parse, refused, Command};

    #[test]
    fn percentiles_from_histograms() {
        let mut histogram = vec![0u64; 28];
        assert_eq!(percentile_us(&histogram, 99), "-");
        histogram[3] = 98; // [4, 8) us
        histogram[10] = 2; // [512, 1024) us
        assert_eq!(percentile_us(&histogram, 50), "<8");
        assert_eq!(percentile_us(&histogram, 98), "<8");
        assert_eq!(percentile_us(&histogram, 99), "<1024");
        histogram[27] = 100;
        assert_eq!(percentile_us(&histogram, 99), ">=67108864");
    }

    #[test]
    fn eni_allowance_counters() {
        let metrics = abi::nitro_metrics {
            rx_packets: 10,
            drops: 6,
            bw_in_allowance_exceeded: 1,
            bw_out_allowance_exceeded: 2,
            pps_allowance_exceeded: 3,
            conntrack_allowance_exceeded: 4,
            conntrack_allowance_available: 4092,
            sg_denied_in: 5,
            sg_denied_out: 6,
            ..Default::default()
        };
        let eni = Counters::from_abi("eni-00000000000000001".into(), &metrics);
        let json = serde_json::to_value(&eni).unwrap();
        assert_eq!(json["bw_in_allowance_exceeded"], 1);
        assert_eq!(json["bw_out_allowance_exceeded"], 2);
        assert_eq!(json["pps_allowance_exceeded"], 3);
        assert_eq!(json["conntrack_allowance_exceeded"], 4);
        assert_eq!(json["conntrack_allowance_available"], 4092);
        assert_eq!(json["sg_denied_in"], 5);
        assert_eq!(json["sg_denied_out"], 6);
        let snapshot = Snapshot {
            enis: vec![eni],
            ..Default::default()
        };
        let human = snapshot.human();
        let eni_table = human.split("\n\n").nth(2).unwrap();
        assert_eq!(
            eni_table,
            "ENI                    RX_PKTS  RX_BYTES  TX_PKTS  TX_BYTES  DROPS  \
             BW_IN_ALLOWANCE_EXCEEDED  BW_OUT_ALLOWANCE_EXCEEDED  PPS_ALLOWANCE_EXCEEDED  \
             CONNTRACK_ALLOWANCE_EXCEEDED  CONNTRACK_ALLOWANCE_AVAILABLE  SG_DENIED_IN  \
             SG_DENIED_OUT\n\
             eni-00000000000000001  10       0         0        0         6      \
             1                         2                          3                       \
             4                             4092                           5             \
             6\n"
        );
    }

    #[test]
    fn parses_metrics() {
        let cli = parse(&["metrics", "--watch", "2", "--count", "3", "--json"]);
        assert!(cli.options.json);
        assert_eq!(
            cli.command,
            Command::Metrics(MetricsArgs {
                watch: Some(2),
                count: Some(3)
            })
        );
        assert_eq!(
            parse(&["metrics"]).command,
            Command::Metrics(MetricsArgs {
                watch: None,
                count: None
            })
        );
        assert!(refused(&["metrics", "--watch", "x"]).contains("<SECS>"));
    }
}
