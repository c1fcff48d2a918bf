// SPDX-License-Identifier: GPL-2.0

//! Instances: their types and EC2's lifecycle, as pure rules.
//!
//! Depends on `core` only, like `state.rs`: the kernel runs it and the host
//! tests of `tools/nitroctl` test the same file. `Documentation/instances.rst`
//! has the table of types and the transitions.

/// Instance states, with EC2's codes (`enum nitro_instance_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum InstanceState {
    /// Starting: its hypervisor is building it.
    Pending = 0,
    /// Its processes run.
    Running = 16,
    /// Terminating: its processes are being ended.
    ShuttingDown = 32,
    /// Gone; listed for a while.
    Terminated = 48,
    /// Stopping: its processes are being ended.
    Stopping = 64,
    /// Stopped: no processes, devices kept.
    Stopped = 80,
}

impl InstanceState {
    /// Every state, in code order.
    pub const ALL: [InstanceState; 6] = [
        InstanceState::Pending,
        InstanceState::Running,
        InstanceState::ShuttingDown,
        InstanceState::Terminated,
        InstanceState::Stopping,
        InstanceState::Stopped,
    ];

    /// The state of an ABI code.
    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|s| *s as u32 == code)
    }

    /// EC2's name of the state.
    pub fn name(self) -> &'static str {
        match self {
            InstanceState::Pending => "pending",
            InstanceState::Running => "running",
            InstanceState::ShuttingDown => "shutting-down",
            InstanceState::Terminated => "terminated",
            InstanceState::Stopping => "stopping",
            InstanceState::Stopped => "stopped",
        }
    }

    /// Its bit in a wait mask (`NITRO_STATE_BIT`).
    pub fn bit(self) -> u32 {
        1 << (self as u32 / 16)
    }

    /// Whether the instance has (or is getting, or losing) processes.
    pub fn has_processes(self) -> bool {
        matches!(
            self,
            InstanceState::Pending
                | InstanceState::Running
                | InstanceState::Stopping
                | InstanceState::ShuttingDown
        )
    }
}

/// A user's request on an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceOp {
    /// Start it.
    Start,
    /// Stop it.
    Stop,
    /// Terminate it.
    Terminate,
}

/// What the controller does for a request, given the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing: the instance already is (or is on its way to) what was
    /// asked; the request succeeds (EC2 answers these with success).
    Nothing,
    /// Move to `.0` and send the hypervisor a START.
    Start(InstanceState),
    /// Move to `.0` and send the hypervisor a STOP.
    Stop(InstanceState),
    /// Move to `.0`; a STOP is already on its way: when it is done, the
    /// instance terminates instead of stopping.
    Redirect(InstanceState),
    /// Terminate now: it has no processes.
    TerminateNow,
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// In transition the other way: `EBUSY`.
    Busy,
    /// Makes no sense in this state: `EINVAL`.
    Invalid,
}

/// The transitions EC2 allows.
pub fn step(state: InstanceState, op: InstanceOp) -> Result<Step, Refused> {
    use InstanceOp::*;
    use InstanceState::*;
    match (op, state) {
        (Start, Stopped) => Ok(Step::Start(Pending)),
        (Start, Pending | Running) => Ok(Step::Nothing),
        (Start, Stopping) => Err(Refused::Busy),
        (Start, ShuttingDown | Terminated) => Err(Refused::Invalid),
        (Stop, Pending | Running) => Ok(Step::Stop(Stopping)),
        (Stop, Stopping | Stopped) => Ok(Step::Nothing),
        (Stop, ShuttingDown | Terminated) => Err(Refused::Invalid),
        (Terminate, Pending | Running) => Ok(Step::Stop(ShuttingDown)),
        (Terminate, Stopping) => Ok(Step::Redirect(ShuttingDown)),
        (Terminate, Stopped) => Ok(Step::TerminateNow),
        (Terminate, ShuttingDown | Terminated) => Ok(Step::Nothing),
    }
}

/// The state after the hypervisor's START was done (`ok`) or failed, from
/// `state` (a stop or terminate may have come meanwhile: it stays).
pub fn started(state: InstanceState, ok: bool) -> InstanceState {
    match (state, ok) {
        (InstanceState::Pending, true) => InstanceState::Running,
        (InstanceState::Pending, false) => InstanceState::Stopped,
        (other, _) => other,
    }
}

/// The state once the instance's processes are gone (its STOP done, or its
/// init exited, or its hypervisor gone): `Terminated` means terminate now.
pub fn ended(state: InstanceState) -> InstanceState {
    match state {
        InstanceState::ShuttingDown | InstanceState::Terminated => InstanceState::Terminated,
        _ => InstanceState::Stopped,
    }
}

/// An instance type (`struct nitro_instance_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceType {
    /// Its name.
    pub name: &'static str,
    /// vCPUs: `cpu.max` is this many periods per period.
    pub vcpus: u32,
    /// Most processes (`pids.max`).
    pub pids: u32,
    /// Memory, bytes (`memory.max`; no swap).
    pub memory_bytes: u64,
    /// Most volumes attached at once, instance store included.
    pub max_volumes: u32,
    /// Most ENIs attached at once.
    pub max_enis: u32,
    /// Instance-store volume made with each instance (0: none).
    pub instance_store_bytes: u64,
    /// Bandwidth allowance of its ENIs, each way, bits per second.
    pub bw_bps: u64,
    /// Packet-rate allowance of its ENIs, both ways together.
    pub pps: u64,
}

const MIB: u64 = 1 << 20;
const MBIT: u64 = 1_000_000;

/// The instance types, the one table of them.
pub const INSTANCE_TYPES: [InstanceType; 4] = [
    InstanceType {
        name: "nitro.micro",
        vcpus: 1,
        pids: 256,
        memory_bytes: 128 * MIB,
        max_volumes: 2,
        max_enis: 1,
        instance_store_bytes: 0,
        bw_bps: 250 * MBIT,
        pps: 25_000,
    },
    InstanceType {
        name: "nitro.small",
        vcpus: 1,
        pids: 512,
        memory_bytes: 256 * MIB,
        max_volumes: 4,
        max_enis: 2,
        instance_store_bytes: 0,
        bw_bps: 500 * MBIT,
        pps: 50_000,
    },
    InstanceType {
        name: "nitro.large",
        vcpus: 2,
        pids: 1024,
        memory_bytes: 1024 * MIB,
        max_volumes: 8,
        max_enis: 4,
        instance_store_bytes: 0,
        bw_bps: 1000 * MBIT,
        pps: 100_000,
    },
    InstanceType {
        name: "nitrod.large",
        vcpus: 2,
        pids: 1024,
        memory_bytes: 1024 * MIB,
        max_volumes: 8,
        max_enis: 4,
        instance_store_bytes: 1024 * MIB,
        bw_bps: 1000 * MBIT,
        pps: 100_000,
    },
];

/// The type named `name`.
pub fn instance_type(name: &[u8]) -> Option<(usize, &'static InstanceType)> {
    INSTANCE_TYPES
        .iter()
        .enumerate()
        .find(|(_, t)| t.name.as_bytes() == name)
}

/// The device name an instance type's instance store is attached as.
pub const INSTANCE_STORE_DEVICE: &str = "sdb";

/// Whether `cmd` is a launch command: `argc` arguments, each ended by a
/// NUL, none empty, at most `max_args`. Gives the argument count.
pub fn check_command(cmd: &[u8], max_args: usize) -> Option<usize> {
    if cmd.last() != Some(&0) {
        return None;
    }
    let args = cmd[..cmd.len() - 1].split(|&b| b == 0);
    let mut n = 0;
    for a in args {
        if a.is_empty() {
            return None;
        }
        n += 1;
    }
    (1..=max_args).contains(&n).then_some(n)
}

/// Whether an attachment device name of an instance's ENI is the form
/// `eth<index>` for `index` (what the hypervisor names it inside).
pub fn nic_name(index: u32, out: &mut [u8; 16]) -> usize {
    out.fill(0);
    out[..3].copy_from_slice(b"eth");
    let mut digits = [0u8; 10];
    let mut n = 0;
    let mut v = index;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in 0..n {
        out[3 + i] = digits[n - 1 - i];
    }
    3 + n
}
