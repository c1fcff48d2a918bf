//! `nitroctl instance`: instances (Documentation/instances.rst), isolated
//! execution domains on one VPC card host, each run by that host's
//! hypervisor (`nitro-hv --host N`), which only carries out the controller's
//! commands.
//!
//! Start, stop and terminate return at once (`pending`, `stopping`,
//! `shutting-down`); `--wait` and `instance wait` block in
//! `NITRO_IOC_INSTANCE_WAIT`. `instance run` is create (stopped), attach,
//! start and wait, all or nothing: on a failure it terminates what it made.
//! The states (names, EC2 codes, wait bits) and the launch command's rules
//! are the kernel's own `lifecycle.rs`; the instance types come from the
//! running controller (`NITRO_IOC_INSTANCE_TYPES`).

use crate::{
    abi::{
        self,
        lifecycle::{self, InstanceState},
        state,
    },
    address,
    cli::{
        audit::rfc3339,
        eni,
        volume::{self, human_size},
        GlobalOptions,
    },
    device::{sized, Controller},
    error::{self, Error},
    objects::{self, ObjectKind, GATE_CLOSED},
    output::{self, or_dash, table, Rows},
    text_field, vpc,
};
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::{json, Value};
use std::{
    ffi::OsString,
    io::{self, Write},
    net::Ipv4Addr,
    os::unix::ffi::OsStrExt,
};

/// What instance ids start with: `i-` and 17 hex digits, as on EC2 (the
/// header names no prefix for them; the kernel logs them so too).
pub const ID_PREFIX: &str = "i-";

/// How long `run` and `--wait` wait by default, ms.
pub const DEFAULT_TIMEOUT_MS: u32 = 30_000;

/// How long the controller waits for a hypervisor to carry out a device or
/// console command (`ETIMEDOUT` after), s.
const HYPERVISOR_TIMEOUT_S: u32 = 30;

/// Instance commands.
#[derive(Subcommand, Debug, PartialEq)]
pub enum InstanceCommand {
    /// List the instance types the controller offers.
    Types,
    /// Create an instance, stopped; prints its id.
    Create(LaunchArgs),
    /// Launch an instance: create it, attach its volumes and ENIs, start it
    /// and wait until it runs; prints its id. On a failure, terminates what
    /// it made.
    Run(RunArgs),
    /// Start a stopped instance.
    Start {
        /// i-...
        id: String,
        /// Wait until it is running.
        #[arg(long)]
        wait: bool,
        /// With --wait: at most SECS seconds (default 30; 0: no limit).
        #[arg(long = "timeout", value_name = "SECS", requires = "wait", value_parser = parse_timeout)]
        timeout_ms: Option<u32>,
    },
    /// Stop an instance: SIGTERM to its init, 5 s of grace, then every
    /// process of it is killed. Its EBS volumes and ENIs stay attached.
    Stop {
        /// i-...
        id: String,
        /// No grace period: kill its processes at once.
        #[arg(long)]
        force: bool,
        /// Wait until it is stopped.
        #[arg(long)]
        wait: bool,
        /// With --wait: at most SECS seconds (default 30; 0: no limit).
        #[arg(long = "timeout", value_name = "SECS", requires = "wait", value_parser = parse_timeout)]
        timeout_ms: Option<u32>,
    },
    /// Terminate an instance: its processes end, its devices are detached,
    /// those attached with delete-on-termination deleted.
    Terminate {
        /// i-...
        id: String,
        /// Wait until it is terminated.
        #[arg(long)]
        wait: bool,
        /// With --wait: at most SECS seconds (default 30; 0: no limit).
        #[arg(long = "timeout", value_name = "SECS", requires = "wait", value_parser = parse_timeout)]
        timeout_ms: Option<u32>,
    },
    /// Wait until an instance is in one of the states given (exit 1, with
    /// ETIMEDOUT, if it is not in time).
    Wait {
        /// i-...
        id: String,
        /// The states, comma-separated: pending, running, shutting-down,
        /// terminated, stopping, stopped.
        #[arg(value_name = "STATE[,STATE...]", value_parser = parse_states)]
        states: StateList,
        /// At most SECS seconds (0: no limit).
        #[arg(long = "timeout", value_name = "SECS", default_value = "30", value_parser = parse_timeout)]
        timeout_ms: u32,
    },
    /// Show one instance, its devices included.
    #[command(visible_alias = "show")]
    Describe(InstanceArg),
    /// List the instances (the live ones and the last terminated ones).
    List,
    /// Print an instance's output (its stdout and stderr, the last 64 KiB),
    /// raw.
    Console(InstanceArg),
}

/// An instance id argument.
#[derive(Args, Debug, PartialEq)]
pub struct InstanceArg {
    /// i-...
    pub id: String,
}

/// What `create` and `run` launch.
#[derive(Args, Debug, PartialEq)]
pub struct LaunchArgs {
    /// The instance type (see `nitroctl instance types`).
    #[arg(long = "type", value_name = "TYPE")]
    pub instance_type: String,
    /// The VPC card host it runs on (default: the lowest-numbered host).
    #[arg(long, value_name = "N", value_parser = vpc::parse_host)]
    pub host: Option<u32>,
    /// A name, unique among the live instances.
    #[arg(long, default_value = "")]
    pub name: String,
    /// The launch command (the instance's "image"): the program its first
    /// process runs, and its arguments.
    #[arg(
        last = true,
        required = true,
        value_name = "CMD",
        value_parser = clap::value_parser!(OsString)
    )]
    pub command: Vec<OsString>,
}

/// What `run` launches and attaches.
#[derive(Args, Debug, PartialEq)]
pub struct RunArgs {
    /// The instance.
    #[command(flatten)]
    pub launch: LaunchArgs,
    /// Attach EBS volume VOL as device DEV (e.g. vol-...:sdf); repeatable.
    #[arg(long = "volume", value_name = "VOL:DEV", value_parser = parse_volume_attachment)]
    pub volumes: Vec<VolumeAttachment>,
    /// Attach ENI ENI at device index INDEX, eth<INDEX> in the instance
    /// (default: the lowest free index); repeatable.
    #[arg(long = "eni", value_name = "ENI[:INDEX]", value_parser = parse_eni_attachment)]
    pub enis: Vec<EniAttachment>,
    /// Create an ENI on the instance's host, in VPC VPC with address IP,
    /// and attach it (lowest free index), deleted when the instance
    /// terminates; repeatable.
    #[arg(long = "new-eni", value_name = "VPC:IP", value_parser = parse_new_eni)]
    pub new_enis: Vec<NewEni>,
    /// Wait at most SECS seconds for it to run (0: no limit).
    #[arg(long = "timeout", value_name = "SECS", default_value = "30", value_parser = parse_timeout)]
    pub timeout_ms: u32,
}

/// `--volume VOL:DEV` of `run`.
#[derive(Clone, Debug, PartialEq)]
pub struct VolumeAttachment {
    /// The volume.
    pub volume: u64,
    /// Its device name in the instance.
    pub device: String,
}

/// `--eni ENI[:INDEX]` of `run`.
#[derive(Clone, Debug, PartialEq)]
pub struct EniAttachment {
    /// The ENI.
    pub eni: u64,
    /// Its device index in the instance, if given.
    pub index: Option<u32>,
}

/// `--new-eni VPC:IP` of `run`.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEni {
    /// The VPC.
    pub vpc: u32,
    /// The ENI's primary address.
    pub ip: Ipv4Addr,
}

/// Instance states, as `instance wait` takes them (each once, in the order
/// given).
#[derive(Clone, Debug, PartialEq)]
pub struct StateList(pub Vec<InstanceState>);

impl StateList {
    /// The states as a wait mask (`NITRO_STATE_BIT` of each).
    pub fn mask(&self) -> u32 {
        self.0.iter().fold(0, |mask, state| mask | state.bit())
    }

    /// The states' names, for messages: "running or stopped".
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.0.iter().map(|state| state.name()).collect();
        names.join(" or ")
    }
}

/// Formats an instance id as people see it.
pub fn format_id(id: u64) -> String {
    format!("{ID_PREFIX}0{id:016x}")
}

/// Parses an instance id given on the command line (a usage error if it is
/// none).
pub fn parse_id(text: &str) -> Result<u64, Error> {
    state::parse_id(ID_PREFIX, text).ok_or_else(|| {
        Error::Usage(format!(
            "'{text}' is not an instance id like {ID_PREFIX}0123456789abcdef0"
        ))
    })
}

/// The name of an instance state code (`enum nitro_instance_state`).
pub fn state_name(code: u32) -> &'static str {
    InstanceState::from_code(code).map_or("unknown", InstanceState::name)
}

/// The name of a reason (`enum nitro_instance_reason`), as
/// Documentation/instances.rst gives them.
pub fn reason_name(reason: u32) -> &'static str {
    match reason {
        abi::NITRO_REASON_USER => "user",
        abi::NITRO_REASON_LAUNCH_FAILED => "launch-failed",
        abi::NITRO_REASON_INSTANCE_SHUTDOWN => "instance-initiated-shutdown",
        abi::NITRO_REASON_HYPERVISOR_LOST => "hypervisor-lost",
        _ => "unknown",
    }
}

/// Parses a timeout in whole seconds into ms (0: no limit).
pub fn parse_timeout(text: &str) -> Result<u32, String> {
    let seconds: u32 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    seconds
        .checked_mul(1000)
        .ok_or_else(|| format!("{seconds} s is too long (at most {} s)", u32::MAX / 1000))
}

/// Parses `STATE[,STATE...]`.
pub fn parse_states(text: &str) -> Result<StateList, String> {
    let mut states = Vec::new();
    for name in text.split(',') {
        let state = InstanceState::ALL
            .into_iter()
            .find(|state| state.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = InstanceState::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "'{name}' is not an instance state (one of {})",
                    names.join(", ")
                )
            })?;
        if !states.contains(&state) {
            states.push(state);
        }
    }
    Ok(StateList(states))
}

/// Checks a volume's device name in an instance: lowercase letters and
/// digits (the kernel's rule), fitting the ABI's field.
fn check_device_name(name: &str) -> Result<(), String> {
    let max = abi::NITRO_DEVNAME_LEN as usize - 1;
    if name.is_empty() || name.len() > max || !name.bytes().all(state::devname_byte) {
        return Err(format!(
            "'{name}' is not a device name (1 to {max} lowercase letters and digits, like sdf)"
        ));
    }
    Ok(())
}

/// Parses `VOL:DEV`.
pub fn parse_volume_attachment(text: &str) -> Result<VolumeAttachment, String> {
    let (volume, device) = text
        .split_once(':')
        .ok_or_else(|| format!("'{text}' is not VOL:DEV (like vol-0123456789abcdef0:sdf)"))?;
    let volume = ObjectKind::Volume
        .parse_id(volume)
        .map_err(|error| error.to_string())?;
    check_device_name(device)?;
    Ok(VolumeAttachment {
        volume,
        device: device.to_string(),
    })
}

/// Parses `ENI[:INDEX]`.
pub fn parse_eni_attachment(text: &str) -> Result<EniAttachment, String> {
    let (eni, index) = match text.split_once(':') {
        Some((eni, index)) => (eni, Some(index)),
        None => (text, None),
    };
    let eni = ObjectKind::Eni
        .parse_id(eni)
        .map_err(|error| error.to_string())?;
    let index = index
        .map(|index| {
            index
                .parse::<u32>()
                .map_err(|_| format!("'{index}' is not a device index (0, 1, ...)"))
        })
        .transpose()?;
    Ok(EniAttachment { eni, index })
}

/// Parses `VPC:IP`.
pub fn parse_new_eni(text: &str) -> Result<NewEni, String> {
    let (vpc, ip) = text
        .split_once(':')
        .ok_or_else(|| format!("'{text}' is not VPC:IP (like 7:10.0.0.5)"))?;
    Ok(NewEni {
        vpc: vpc::parse_vpc(vpc)?,
        ip: address::parse_unicast_ipv4(ip)?,
    })
}

/// The launch command as the ABI carries it, each argument followed by a
/// NUL; what `lifecycle::check_command` (the kernel's rule) accepts, or why
/// not.
pub fn encode_command(args: &[OsString]) -> Result<Vec<u8>, String> {
    let max_args = abi::NITRO_COMMAND_ARGS_MAX as usize;
    if args.len() > max_args {
        return Err(format!(
            "the launch command has {} arguments, at most {max_args}",
            args.len()
        ));
    }
    let mut command = Vec::new();
    for arg in args {
        let bytes = arg.as_bytes();
        if bytes.is_empty() {
            return Err("the launch command has an empty argument".into());
        }
        if bytes.contains(&0) {
            return Err(format!(
                "argument {arg:?} of the launch command holds a NUL"
            ));
        }
        command.extend_from_slice(bytes);
        command.push(0);
    }
    let max = abi::NITRO_COMMAND_MAX as usize;
    if command.len() > max {
        return Err(format!(
            "the launch command is {} bytes with a NUL after each argument, at most {max}",
            command.len()
        ));
    }
    lifecycle::check_command(&command, max_args)
        .map(|_| command)
        .ok_or_else(|| "the launch command is empty".into())
}

/// Checks the type and name of a launch as the ABI's fields and the
/// kernel's name rule take them.
fn check_launch(args: &LaunchArgs) -> Result<(), Error> {
    let mut create: abi::nitro_instance_create = sized();
    text_field::fill(&mut create.type_, &args.instance_type, "instance type")
        .map_err(Error::Usage)?;
    text_field::fill(&mut create.name, &args.name, "name").map_err(Error::Usage)?;
    if !args.name.bytes().all(state::name_byte) {
        return Err(Error::Usage(format!(
            "name '{}' may hold only letters, digits, '.', '_', '-' and ':'",
            args.name
        )));
    }
    Ok(())
}

/// `nitroctl instance ...`.
pub fn run(options: &GlobalOptions, command: &InstanceCommand) -> Result<String, Error> {
    match command {
        InstanceCommand::Types => {
            let controller = options.open()?;
            let types: Vec<_> = types(&controller)?
                .iter()
                .map(InstanceType::from_abi)
                .collect();
            Ok(options.render(&types, |types| types_table(types)))
        }
        InstanceCommand::Create(args) => {
            let command = encode_command(&args.command).map_err(Error::Usage)?;
            check_launch(args)?;
            let controller = options.open()?;
            let host = resolve_host(&controller, args.host)?;
            let id = create(&controller, args, &command, host)?;
            Ok(launched(options, id, InstanceState::Stopped))
        }
        InstanceCommand::Run(args) => run_instance(options, args),
        InstanceCommand::Start {
            id,
            wait,
            timeout_ms,
        } => change(options, Request::Start, id, false, *wait, *timeout_ms),
        InstanceCommand::Stop {
            id,
            force,
            wait,
            timeout_ms,
        } => change(options, Request::Stop, id, *force, *wait, *timeout_ms),
        InstanceCommand::Terminate {
            id,
            wait,
            timeout_ms,
        } => change(options, Request::Terminate, id, false, *wait, *timeout_ms),
        InstanceCommand::Wait {
            id,
            states,
            timeout_ms,
        } => {
            let id = parse_id(id)?;
            let controller = options.open()?;
            let code = wait_for(&controller, id, states.mask(), *timeout_ms).map_err(|error| {
                wait_error(&controller, id, &states.names(), *timeout_ms, error)
            })?;
            Ok(state_line(options, id, state_name(code)))
        }
        InstanceCommand::Describe(arg) => {
            let id = parse_id(&arg.id)?;
            let controller = options.open()?;
            let info = describe(&controller, id)
                .map_err(|error| explain(&controller, Operation::Describe, id, error))?;
            let attachments = Attachments::list(&controller)?;
            Ok(options.render(&Instance::from_abi(&info, &attachments), Instance::human))
        }
        InstanceCommand::List => {
            let controller = options.open()?;
            let infos: Vec<abi::nitro_instance_info> = controller.list_all(
                "NITRO_IOC_INSTANCE_LIST",
                abi::NITRO_IOC_INSTANCE_LIST,
                abi::NITRO_INSTANCES_MAX,
            )?;
            let attachments = Attachments::list(&controller)?;
            let instances: Vec<_> = infos
                .iter()
                .map(|info| Instance::from_abi(info, &attachments))
                .collect();
            Ok(options.render(&instances, |instances| instance_table(instances)))
        }
        InstanceCommand::Console(arg) => console(options, &arg.id),
    }
}

/// What `create` and `run` print: the id (`--json`: with its state).
fn launched(options: &GlobalOptions, id: u64, state: InstanceState) -> String {
    if options.json {
        output::json(&json!({ "id": format_id(id), "state": state.name() }))
    } else {
        format!("{}\n", format_id(id))
    }
}

/// The line that says which state instance `id` is in: `i-... running`.
fn state_line(options: &GlobalOptions, id: u64, state: &str) -> String {
    if options.json {
        output::json(&json!({ "id": format_id(id), "state": state }))
    } else {
        format!("{} {state}\n", format_id(id))
    }
}

/// The host to run on: `host`, or the lowest-numbered one the VPC card has.
fn resolve_host(controller: &Controller, host: Option<u32>) -> Result<u32, Error> {
    if let Some(host) = host {
        return Ok(host);
    }
    for host in 1..=abi::NITRO_HOSTS_MAX {
        let mut info: abi::nitro_host_info = sized();
        info.host = host;
        match controller.ioctl(
            "NITRO_IOC_HOST_DESCRIBE",
            abi::NITRO_IOC_HOST_DESCRIBE,
            &mut info,
        ) {
            Ok(()) => return Ok(host),
            Err(error) if error.errno() == Some(libc::ENODEV) => continue,
            Err(error) => return Err(error),
        }
    }
    let vpc_card = controller
        .status()
        .ok()
        .map(|(_, cards)| cards.iter().any(|card| card.kind == abi::NITRO_CARD_VPC));
    let message = match vpc_card {
        Some(false) => "no host to run the instance on: the VPC card (nitro_net) is not loaded \
                        (see `nitroctl status`; `modprobe nitro_net`)"
            .to_string(),
        _ => "no host to run the instance on: the VPC card has none \
              (make one with `nitroctl host create`)"
            .to_string(),
    };
    Err(Error::Refused {
        message,
        errno: libc::ENODEV,
    })
}

/// `NITRO_IOC_INSTANCE_CREATE` without `NITRO_INSTANCE_START`: the instance
/// is made stopped, on `host`, with the encoded launch `command`; gives its
/// id.
fn create(
    controller: &Controller,
    args: &LaunchArgs,
    command: &[u8],
    host: u32,
) -> Result<u64, Error> {
    let mut create: abi::nitro_instance_create = sized();
    text_field::fill(&mut create.type_, &args.instance_type, "instance type")
        .map_err(Error::Usage)?;
    text_field::fill(&mut create.name, &args.name, "name").map_err(Error::Usage)?;
    create.host = host;
    create.command = command.as_ptr() as u64;
    create.command_len = command.len() as u32;
    controller
        .ioctl(
            "NITRO_IOC_INSTANCE_CREATE",
            abi::NITRO_IOC_INSTANCE_CREATE,
            &mut create,
        )
        .map_err(|error| explain_create(controller, args, host, error))?;
    Ok(create.id)
}

/// A request that changes an instance's state.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Request {
    /// `NITRO_IOC_INSTANCE_START`.
    Start,
    /// `NITRO_IOC_INSTANCE_STOP`.
    Stop,
    /// `NITRO_IOC_INSTANCE_TERMINATE`.
    Terminate,
}

impl Request {
    /// Its ioctl, and the ioctl's name.
    fn command(self) -> (u32, &'static str) {
        match self {
            Request::Start => (abi::NITRO_IOC_INSTANCE_START, "NITRO_IOC_INSTANCE_START"),
            Request::Stop => (abi::NITRO_IOC_INSTANCE_STOP, "NITRO_IOC_INSTANCE_STOP"),
            Request::Terminate => (
                abi::NITRO_IOC_INSTANCE_TERMINATE,
                "NITRO_IOC_INSTANCE_TERMINATE",
            ),
        }
    }

    /// The state `--wait` waits for.
    fn goal(self) -> InstanceState {
        match self {
            Request::Start => InstanceState::Running,
            Request::Stop => InstanceState::Stopped,
            Request::Terminate => InstanceState::Terminated,
        }
    }

    /// The operation, as refusals name it.
    fn operation(self) -> Operation {
        match self {
            Request::Start => Operation::Start,
            Request::Stop => Operation::Stop,
            Request::Terminate => Operation::Terminate,
        }
    }
}

/// Sends `request` for instance `id` (`force`: a stop without grace);
/// gives the state the controller left it in.
fn request(controller: &Controller, request: Request, id: u64, force: bool) -> Result<u32, Error> {
    let mut op: abi::nitro_instance_op = sized();
    op.id = id;
    if force {
        op.flags = abi::NITRO_STOP_FORCE;
    }
    let (command, name) = request.command();
    controller
        .ioctl(name, command, &mut op)
        .map_err(|error| explain(controller, request.operation(), id, error))?;
    Ok(op.state)
}

/// `start`, `stop`, `terminate`: the request, then with `wait` its outcome.
fn change(
    options: &GlobalOptions,
    what: Request,
    id: &str,
    force: bool,
    wait: bool,
    timeout_ms: Option<u32>,
) -> Result<String, Error> {
    let id = parse_id(id)?;
    let controller = options.open()?;
    let now = request(&controller, what, id, force)?;
    if !wait {
        return Ok(state_line(options, id, state_name(now)));
    }
    let state = settle(
        &controller,
        id,
        what.goal(),
        timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
    )?;
    Ok(state_line(options, id, state.name()))
}

/// `NITRO_IOC_INSTANCE_WAIT`: blocks until instance `id` is in one of the
/// states of `mask`, at most `timeout_ms` (0: no limit); gives the state's
/// code (the error unexplained).
fn wait_for(controller: &Controller, id: u64, mask: u32, timeout_ms: u32) -> Result<u32, Error> {
    let mut wait: abi::nitro_instance_wait = sized();
    wait.id = id;
    wait.states = mask;
    wait.timeout_ms = timeout_ms;
    controller.ioctl(
        "NITRO_IOC_INSTANCE_WAIT",
        abi::NITRO_IOC_INSTANCE_WAIT,
        &mut wait,
    )?;
    Ok(wait.state)
}

/// The states a wait for `goal` ends in: the goal, and those it cannot be
/// reached from any more (a launch that failed ends stopped, not running).
fn settle_mask(goal: InstanceState) -> u32 {
    match goal {
        InstanceState::Running => InstanceState::ALL
            .iter()
            .filter(|state| **state != InstanceState::Pending)
            .fold(0, |mask, state| mask | state.bit()),
        InstanceState::Stopped => InstanceState::Stopped.bit() | InstanceState::Terminated.bit(),
        other => other.bit(),
    }
}

/// Whether a wait for `goal` that ended in `state` reached it: the state,
/// or why not (the message and the errno to give). An instance that ran and
/// already shut itself down counts as started.
fn settled(
    id: u64,
    goal: InstanceState,
    state: u32,
    info: Option<&abi::nitro_instance_info>,
) -> Result<InstanceState, (String, i32)> {
    let who = format!("instance {}", format_id(id));
    let now = InstanceState::from_code(state);
    if now == Some(goal) {
        return Ok(goal);
    }
    let reason = info.map(|info| info.reason);
    match (now, reason) {
        (Some(now @ (InstanceState::Stopping | InstanceState::Stopped)), Some(reason))
            if goal == InstanceState::Running && reason == abi::NITRO_REASON_INSTANCE_SHUTDOWN =>
        {
            Ok(now)
        }
        (Some(InstanceState::ShuttingDown | InstanceState::Terminated), _) => Err((
            format!("{who} was terminated before it was {}", goal.name()),
            libc::ECANCELED,
        )),
        (_, Some(abi::NITRO_REASON_LAUNCH_FAILED)) => {
            let host = info.map_or(0, |info| info.host);
            let errno = info.map_or(0, |info| info.error);
            Err((
                format!(
                    "{who} did not start: launch-failed (the hypervisor of host {host} \
                     could not launch it; see its log)"
                ),
                if errno > 0 { errno } else { libc::EIO },
            ))
        }
        (_, Some(abi::NITRO_REASON_HYPERVISOR_LOST)) => Err((
            format!(
                "{who} is {}: hypervisor-lost (the hypervisor of host {} went away)",
                state_name(state),
                info.map_or(0, |info| info.host)
            ),
            libc::ECONNRESET,
        )),
        _ => Err((
            format!(
                "{who} is {} (reason {}), not {}",
                state_name(state),
                reason.map_or("unknown", reason_name),
                goal.name()
            ),
            libc::ECANCELED,
        )),
    }
}

/// Waits for instance `id` to reach `goal` (running, stopped, terminated),
/// at most `timeout_ms`; gives the state it reached, or why it did not.
fn settle(
    controller: &Controller,
    id: u64,
    goal: InstanceState,
    timeout_ms: u32,
) -> Result<InstanceState, Error> {
    let state = wait_for(controller, id, settle_mask(goal), timeout_ms)
        .map_err(|error| wait_error(controller, id, goal.name(), timeout_ms, error))?;
    if state == goal as u32 {
        return Ok(goal);
    }
    let info = describe(controller, id).ok();
    settled(id, goal, state, info.as_ref())
        .map_err(|(message, errno)| Error::Refused { message, errno })
}

/// Explains a failed wait of instance `id` for `wanted` (state names).
fn wait_error(
    controller: &Controller,
    id: u64,
    wanted: &str,
    timeout_ms: u32,
    error: Error,
) -> Error {
    if error.errno() != Some(libc::ETIMEDOUT) {
        return explain(controller, Operation::Wait, id, error);
    }
    let now = describe(controller, id).map_or("unknown", |info| state_name(info.state));
    Error::Refused {
        message: format!(
            "instance {} is not {wanted} after {} s (it is {now})",
            format_id(id),
            timeout_ms / 1000
        ),
        errno: libc::ETIMEDOUT,
    }
}

/// `NITRO_IOC_INSTANCE_DESCRIBE` of instance `id` (the error unexplained).
pub fn describe(controller: &Controller, id: u64) -> Result<abi::nitro_instance_info, Error> {
    let mut describe: abi::nitro_instance_describe = sized();
    describe.id = id;
    controller.ioctl(
        "NITRO_IOC_INSTANCE_DESCRIBE",
        abi::NITRO_IOC_INSTANCE_DESCRIBE,
        &mut describe,
    )?;
    Ok(describe.info)
}

/// `NITRO_IOC_INSTANCE_TYPES`: the controller's instance types.
fn types(controller: &Controller) -> Result<Vec<abi::nitro_instance_type>, Error> {
    controller.list_all(
        "NITRO_IOC_INSTANCE_TYPES",
        abi::NITRO_IOC_INSTANCE_TYPES,
        64,
    )
}

/// `nitroctl instance console`: the output raw on stdout (`--json`: as a
/// string, invalid UTF-8 replaced).
fn console(options: &GlobalOptions, id: &str) -> Result<String, Error> {
    let id = parse_id(id)?;
    let controller = options.open()?;
    let mut buffer = vec![0u8; abi::NITRO_CONSOLE_MAX as usize];
    let mut console: abi::nitro_instance_console = sized();
    console.id = id;
    console.buf = buffer.as_mut_ptr() as u64;
    console.cap = buffer.len() as u32;
    controller
        .ioctl(
            "NITRO_IOC_INSTANCE_CONSOLE",
            abi::NITRO_IOC_INSTANCE_CONSOLE,
            &mut console,
        )
        .map_err(|error| explain(&controller, Operation::Console, id, error))?;
    buffer.truncate((console.len as usize).min(buffer.len()));
    if options.json {
        return Ok(output::json(&json!({
            "id": format_id(id),
            "output": String::from_utf8_lossy(&buffer),
        })));
    }
    let mut stdout = io::stdout().lock();
    match stdout.write_all(&buffer).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(String::new()),
        // The reader went away (`| head`): as if SIGPIPE had ended us.
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(String::new()),
        Err(error) => Err(Error::Refused {
            message: "cannot write the console output to stdout".into(),
            errno: error.raw_os_error().unwrap_or(libc::EIO),
        }),
    }
}

/// A volume or ENI to attach to an instance.
#[derive(Clone, Debug, PartialEq)]
pub enum Device {
    /// An EBS volume, under a device name in the instance ("sdf").
    Volume {
        /// The volume.
        id: u64,
        /// Its device name in the instance.
        device: String,
    },
    /// An ENI, at a device index (eth<index> in the instance).
    Eni {
        /// The ENI.
        id: u64,
        /// Its device index.
        index: u32,
    },
}

impl Device {
    /// The kind of object.
    fn kind(&self) -> ObjectKind {
        match self {
            Device::Volume { .. } => ObjectKind::Volume,
            Device::Eni { .. } => ObjectKind::Eni,
        }
    }

    /// The object's id.
    fn id(&self) -> u64 {
        match self {
            Device::Volume { id, .. } | Device::Eni { id, .. } => *id,
        }
    }

    /// What it is, for messages: "volume vol-... as sdf".
    fn describe(&self) -> String {
        match self {
            Device::Volume { id, device } => {
                format!("volume {} as {device}", ObjectKind::Volume.format_id(*id))
            }
            Device::Eni { id, index } => format!(
                "ENI {} at index {index} (eth{index})",
                ObjectKind::Eni.format_id(*id)
            ),
        }
    }
}

/// Attaches `device` to instance `instance` (`flags`: `NITRO_ATTACH_*`);
/// gives the name it has there (`sdf`, `eth0`).
pub fn attach(
    controller: &Controller,
    device: &Device,
    instance: u64,
    flags: u32,
) -> Result<String, Error> {
    let mut attach: abi::nitro_attach = sized();
    attach.instance = instance;
    attach.flags = flags;
    let (command, name) = match device {
        Device::Volume { id, device } => {
            attach.id = *id;
            text_field::fill(&mut attach.device, device, "device name").map_err(Error::Usage)?;
            (abi::NITRO_IOC_VOLUME_ATTACH, "NITRO_IOC_VOLUME_ATTACH")
        }
        Device::Eni { id, index } => {
            attach.id = *id;
            attach.index = *index;
            (abi::NITRO_IOC_ENI_ATTACH, "NITRO_IOC_ENI_ATTACH")
        }
    };
    controller
        .ioctl(name, command, &mut attach)
        .map_err(|error| explain_attach(controller, device, instance, error))?;
    Ok(text_field::read(&attach.device))
}

/// The device index of an instance's interface name, `eth<index>` as
/// `lifecycle::nic_name` makes it.
pub fn eni_index(device: &str) -> Option<u32> {
    let index: u32 = device.strip_prefix("eth")?.parse().ok()?;
    let mut name = [0u8; 16];
    let len = lifecycle::nic_name(index, &mut name);
    (&name[..len] == device.as_bytes()).then_some(index)
}

/// The lowest device index not in `used`.
pub fn lowest_free(used: &[u32]) -> u32 {
    (0..=u32::MAX)
        .find(|index| !used.contains(index))
        .unwrap_or(u32::MAX)
}

/// The lowest device index no ENI of instance `instance` has.
pub fn next_free_index(controller: &Controller, instance: u64) -> Result<u32, Error> {
    let enis: Vec<abi::nitro_eni_info> =
        controller.list_all("NITRO_IOC_ENI_LIST", abi::NITRO_IOC_ENI_LIST, 1024)?;
    let used: Vec<u32> = enis
        .iter()
        .filter(|eni| eni.instance == instance)
        .filter_map(|eni| eni_index(&text_field::read(&eni.device)))
        .collect();
    Ok(lowest_free(&used))
}

/// A volume or ENI as the controller has it now, for explanations.
struct Now {
    /// Its state (`enum nitro_state`).
    state: u32,
    /// The instance it is attached to (0: none, or the host).
    instance: u64,
    /// Its attachment name.
    device: String,
    /// An ENI's host.
    host: u32,
    /// Whether it is an instance-storage volume.
    instance_storage: bool,
}

impl Now {
    /// `device`'s object, if the controller describes it.
    fn of(controller: &Controller, device: &Device) -> Option<Now> {
        match device {
            Device::Volume { id, .. } => volume::describe(controller, *id).ok().map(|info| Now {
                state: info.state,
                instance: info.instance,
                device: text_field::read(&info.device),
                host: 0,
                instance_storage: info.kind == abi::NITRO_VOLUME_INSTANCE,
            }),
            Device::Eni { id, .. } => eni::describe(controller, *id).ok().map(|info| Now {
                state: info.state,
                instance: info.instance,
                device: text_field::read(&info.device),
                host: info.host,
                instance_storage: false,
            }),
        }
    }
}

/// The most devices of `kind` an instance of type `type_name` may have.
fn type_limit(controller: &Controller, type_name: &str, kind: ObjectKind) -> Option<u32> {
    let types = types(controller).ok()?;
    let found = types
        .iter()
        .find(|candidate| text_field::read(&candidate.name) == type_name)?;
    Some(match kind {
        ObjectKind::Volume => found.max_volumes,
        ObjectKind::Eni => found.max_enis,
    })
}

/// Explains a refused attach of `device` to instance `instance`, asking the
/// controller about both where that tells which rule was broken.
fn explain_attach(controller: &Controller, device: &Device, instance: u64, error: Error) -> Error {
    let Some(errno) = error.errno() else {
        return error;
    };
    if error::errno_hint(errno).is_some() {
        return error;
    }
    let kind = device.kind();
    let id = device.id();
    let object = kind.format_id(id);
    let noun = match kind {
        ObjectKind::Volume => "volume",
        ObjectKind::Eni => "ENI",
    };
    let target = format!("instance {}", format_id(instance));
    let what = format!("attach {} to {target}", device.describe());
    let now = Now::of(controller, device);
    let info = describe(controller, instance).ok();
    let target_state = info.map(|info| state_name(info.state));
    let host = info.map_or_else(
        || "its host".to_string(),
        |info| format!("host {}", info.host),
    );
    let message = match errno {
        libc::ENOENT if now.is_none() => {
            return objects::explain(controller, kind, "attach", Some(id), error)
        }
        libc::ENOENT => format!("no {target} on this host (see `nitroctl instance list`)"),
        libc::EBUSY => match (&now, target_state) {
            (Some(now), _) if now.state == abi::NITRO_STATE_ATTACHED && now.instance != 0 => {
                format!(
                    "{noun} {object} is already attached to {} as {}",
                    format_id(now.instance),
                    now.device
                )
            }
            (Some(now), _) if now.state == abi::NITRO_STATE_ATTACHED => format!(
                "{noun} {object} is attached to the host as {}; detach it first",
                now.device
            ),
            (Some(now), _) if now.state != abi::NITRO_STATE_AVAILABLE => format!(
                "{noun} {object} is busy ({}); try again",
                objects::state_name(now.state)
            ),
            (_, Some(state @ ("pending" | "stopping"))) => format!(
                "{target} is {state}: devices are attached to a running or stopped instance \
                 (`nitroctl instance wait {} running,stopped`)",
                format_id(instance)
            ),
            _ => format!("a device of {target} is being attached or detached; try again"),
        },
        libc::EEXIST => match device {
            Device::Volume { device, .. } => {
                format!("{target} already has a device named {device}")
            }
            Device::Eni { index, .. } => {
                format!("{target} already has an ENI at index {index} (eth{index})")
            }
        },
        libc::ENOSPC => {
            let limit = info.and_then(|info| {
                let type_name = text_field::read(&info.type_);
                type_limit(controller, &type_name, kind)
                    .map(|max| format!(" ({max} for {type_name})"))
            });
            format!(
                "{target} already has the most {noun}s its type allows{}",
                limit.unwrap_or_default()
            )
        }
        libc::EINVAL => match (device, &now, info) {
            (_, _, Some(info))
                if matches!(
                    InstanceState::from_code(info.state),
                    Some(InstanceState::ShuttingDown | InstanceState::Terminated)
                ) =>
            {
                format!(
                    "{target} is {}: nothing is attached to it any more",
                    state_name(info.state)
                )
            }
            (Device::Volume { .. }, Some(now), _) if now.instance_storage => format!(
                "volume {object} is instance storage, which comes with an instance type: \
                 only EBS volumes are attached to instances"
            ),
            (Device::Eni { .. }, Some(now), Some(info)) if now.host != info.host => format!(
                "ENI {object} is on host {}, {target} on host {}: an ENI serves instances \
                 on its own host",
                now.host, info.host
            ),
            (Device::Eni { index, .. }, _, Some(info)) => {
                let type_name = text_field::read(&info.type_);
                match type_limit(controller, &type_name, kind) {
                    Some(max) if *index >= max => format!(
                        "index {index} is beyond the ENIs of a {type_name} (indices 0 to {})",
                        max.saturating_sub(1)
                    ),
                    _ => format!("the controller rejected the request to {what}"),
                }
            }
            _ => format!("the controller rejected the request to {what}"),
        },
        libc::ETIMEDOUT => format!(
            "the hypervisor of {host} did not {what} within {HYPERVISOR_TIMEOUT_S} s; \
             the attach was undone"
        ),
        libc::ECONNRESET => {
            format!("the hypervisor of {host} went away during the attach; the attach was undone")
        }
        libc::EACCES | libc::ENODEV | libc::EKEYREJECTED | libc::EOPNOTSUPP => {
            return objects::explain(controller, kind, "attach", Some(id), error)
        }
        _ => what,
    };
    Error::Refused { message, errno }
}

/// What a command on one instance was doing, to explain a refusal of it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Operation {
    /// `start`.
    Start,
    /// `stop`.
    Stop,
    /// `terminate`.
    Terminate,
    /// `wait`.
    Wait,
    /// `describe`.
    Describe,
    /// `console`.
    Console,
}

impl Operation {
    /// What it does, for messages: "start".
    fn verb(self) -> &'static str {
        match self {
            Operation::Start => "start",
            Operation::Stop => "stop",
            Operation::Terminate => "terminate",
            Operation::Wait => "wait for",
            Operation::Describe => "describe",
            Operation::Console => "read the console of",
        }
    }
}

/// Explains a refusal of `operation` on instance `id`, asking the
/// controller for its state and host where that helps. Errnos whose
/// generic hint says it all pass through unchanged.
fn explain(controller: &Controller, operation: Operation, id: u64, error: Error) -> Error {
    let Some(errno) = error.errno() else {
        return error;
    };
    if error::errno_hint(errno).is_some() {
        return error;
    }
    let who = format!("instance {}", format_id(id));
    let info = if errno == libc::ENOENT {
        None
    } else {
        describe(controller, id).ok()
    };
    let state = info.and_then(|info| InstanceState::from_code(info.state));
    let host = info.map_or_else(
        || "its host".to_string(),
        |info| format!("host {}", info.host),
    );
    let message = match (errno, operation) {
        (libc::ENOENT, _) => format!("no {who} on this host (see `nitroctl instance list`)"),
        (libc::EACCES, _) => GATE_CLOSED.to_string(),
        (libc::ENODEV, _) => match info {
            Some(info) => format!(
                "host {} has no hypervisor (start `nitro-hv --host {}`)",
                info.host, info.host
            ),
            None => "the instance's host has no hypervisor (start `nitro-hv --host N`)".into(),
        },
        (libc::EBUSY, Operation::Start) if state == Some(InstanceState::Stopping) => format!(
            "{who} is stopping: start it once it is stopped (`nitroctl instance wait {} stopped`)",
            format_id(id)
        ),
        (libc::EBUSY, _) => {
            format!("a device of {who} is being attached or detached; try again")
        }
        (libc::EINVAL, Operation::Start | Operation::Stop | Operation::Console) => match state {
            Some(state @ (InstanceState::ShuttingDown | InstanceState::Terminated)) => format!(
                "{who} is {}: it cannot {} any more",
                state.name(),
                match operation {
                    Operation::Start => "start",
                    Operation::Stop => "stop",
                    _ => "give its console",
                }
            ),
            _ => format!(
                "the controller rejected the request to {} {who}",
                operation.verb()
            ),
        },
        (libc::ECONNRESET, _) => {
            format!("the hypervisor of {host} went away before it answered")
        }
        (libc::ETIMEDOUT, Operation::Console) => format!(
            "the hypervisor of {host} did not give the console of {who} within \
             {HYPERVISOR_TIMEOUT_S} s"
        ),
        (_, Operation::Console) => {
            format!("the hypervisor of {host} could not give the console of {who}")
        }
        _ => format!("{} {who}", operation.verb()),
    };
    Error::Refused { message, errno }
}

/// Explains a refused create of `args` on host `host`.
fn explain_create(controller: &Controller, args: &LaunchArgs, host: u32, error: Error) -> Error {
    let Some(errno) = error.errno() else {
        return error;
    };
    if error::errno_hint(errno).is_some() {
        return error;
    }
    let type_name = &args.instance_type;
    let message = match errno {
        libc::ENODEV => {
            let mut info: abi::nitro_host_info = sized();
            info.host = host;
            let host_exists = controller
                .ioctl(
                    "NITRO_IOC_HOST_DESCRIBE",
                    abi::NITRO_IOC_HOST_DESCRIBE,
                    &mut info,
                )
                .is_ok();
            if !host_exists {
                return vpc::explain(controller, vpc::Operation::HostShow(host), error);
            }
            format!(
                "no instance-storage card is on the bus for the instance store of a \
                 {type_name} (see `nitroctl status`; load nitro_nvme)"
            )
        }
        libc::EACCES => GATE_CLOSED.to_string(),
        libc::EEXIST => format!("another live instance is named '{}'", args.name),
        libc::ENOSPC => format!(
            "the host already has its maximum of {} live instances (terminated ones do not count)",
            abi::NITRO_INSTANCES_MAX
        ),
        libc::EINVAL => match types(controller) {
            Ok(types)
                if !types
                    .iter()
                    .any(|known| text_field::read(&known.name) == *type_name) =>
            {
                let names: Vec<String> = types
                    .iter()
                    .map(|known| text_field::read(&known.name))
                    .collect();
                format!(
                    "no instance type '{type_name}' (the controller has {}: see \
                     `nitroctl instance types`)",
                    names.join(", ")
                )
            }
            _ => "the controller rejected the launch (its type, name or command)".into(),
        },
        _ => format!("create a {type_name} instance on host {host}"),
    };
    Error::Refused { message, errno }
}

/// What `run` attaches, checked before anything is made: the volumes and
/// the ENIs, each at its index, then the ENIs to create, each with its
/// index.
#[derive(Debug, PartialEq)]
pub struct Plan {
    /// The existing volumes and ENIs.
    pub devices: Vec<Device>,
    /// The ENIs to create.
    pub new_enis: Vec<(NewEni, u32)>,
}

/// Plans what `run` attaches: an ENI without an index, and every new ENI,
/// gets the lowest index free once the given ones are taken. Refuses a
/// volume, ENI, device name or index given twice.
pub fn plan(args: &RunArgs) -> Result<Plan, String> {
    let mut devices = Vec::new();
    for (at, volume) in args.volumes.iter().enumerate() {
        let earlier = &args.volumes[..at];
        if earlier.iter().any(|other| other.volume == volume.volume) {
            return Err(format!(
                "volume {} is given twice",
                ObjectKind::Volume.format_id(volume.volume)
            ));
        }
        if earlier.iter().any(|other| other.device == volume.device) {
            return Err(format!("device name {} is given twice", volume.device));
        }
        devices.push(Device::Volume {
            id: volume.volume,
            device: volume.device.clone(),
        });
    }
    let mut used: Vec<u32> = Vec::new();
    for (at, eni) in args.enis.iter().enumerate() {
        if args.enis[..at].iter().any(|other| other.eni == eni.eni) {
            return Err(format!(
                "ENI {} is given twice",
                ObjectKind::Eni.format_id(eni.eni)
            ));
        }
        if let Some(index) = eni.index {
            if used.contains(&index) {
                return Err(format!("ENI index {index} is given twice"));
            }
            used.push(index);
        }
    }
    for eni in &args.enis {
        let index = eni.index.unwrap_or_else(|| {
            let index = lowest_free(&used);
            used.push(index);
            index
        });
        devices.push(Device::Eni { id: eni.eni, index });
    }
    let new_enis = args
        .new_enis
        .iter()
        .map(|new| {
            let index = lowest_free(&used);
            used.push(index);
            (new.clone(), index)
        })
        .collect();
    Ok(Plan { devices, new_enis })
}

/// `nitroctl instance run`.
fn run_instance(options: &GlobalOptions, args: &RunArgs) -> Result<String, Error> {
    let command = encode_command(&args.launch.command).map_err(Error::Usage)?;
    check_launch(&args.launch)?;
    let plan = plan(args).map_err(Error::Usage)?;
    let controller = options.open()?;
    let host = resolve_host(&controller, args.launch.host)?;
    let id = create(&controller, &args.launch, &command, host)?;
    let mut made_enis = Vec::new();
    let outcome = (|| -> Result<InstanceState, Error> {
        for device in &plan.devices {
            attach(&controller, device, id, 0)?;
        }
        for (new, index) in &plan.new_enis {
            let eni = eni::create(&controller, new.vpc, new.ip, None, "", host)?;
            made_enis.push(eni);
            let device = Device::Eni {
                id: eni,
                index: *index,
            };
            attach(
                &controller,
                &device,
                id,
                abi::NITRO_ATTACH_DELETE_ON_TERMINATION,
            )?;
        }
        request(&controller, Request::Start, id, false)?;
        settle(&controller, id, InstanceState::Running, args.timeout_ms)
    })();
    match outcome {
        Ok(state) => Ok(launched(options, id, state)),
        Err(error) => {
            clean_up(&controller, id, &made_enis);
            Err(error)
        }
    }
}

/// After a failed run: terminates instance `id` and waits until it is
/// (which detaches its devices and deletes the ENIs attached to it with
/// delete-on-termination), then deletes what is left of the ENIs made for
/// it (`enis`: one whose attach failed). Says what it did on stderr, before
/// the error that made the run fail.
fn clean_up(controller: &Controller, id: u64, enis: &[u64]) {
    let mut done = Vec::new();
    let terminated = request(controller, Request::Terminate, id, false).and_then(|_| {
        settle(
            controller,
            id,
            InstanceState::Terminated,
            DEFAULT_TIMEOUT_MS,
        )
    });
    match terminated {
        Ok(_) => done.push(format!("terminated {}", format_id(id))),
        Err(error) => done.push(format!("could not terminate {}: {error}", format_id(id))),
    }
    for eni in enis {
        let mut object: abi::nitro_object_ref = sized();
        object.id = *eni;
        let eni = ObjectKind::Eni.format_id(*eni);
        match controller.ioctl(
            "NITRO_IOC_ENI_DELETE",
            abi::NITRO_IOC_ENI_DELETE,
            &mut object,
        ) {
            Ok(()) => done.push(format!("deleted {eni}")),
            // Deleted with the instance.
            Err(error) if error.errno() == Some(libc::ENOENT) => {}
            Err(error) => done.push(format!("could not delete {eni}: {error}")),
        }
    }
    eprintln!(
        "nitroctl: the run of {} failed (below): {}",
        format_id(id),
        done.join("; ")
    );
}

/// The volumes and ENIs attached to instances, from one list of each.
pub struct Attachments {
    /// Every volume.
    volumes: Vec<abi::nitro_volume_info>,
    /// Every ENI.
    enis: Vec<abi::nitro_eni_info>,
}

impl Attachments {
    /// Lists every volume and ENI.
    pub fn list(controller: &Controller) -> Result<Self, Error> {
        Ok(Attachments {
            volumes: controller.list_all(
                "NITRO_IOC_VOLUME_LIST",
                abi::NITRO_IOC_VOLUME_LIST,
                1024,
            )?,
            enis: controller.list_all("NITRO_IOC_ENI_LIST", abi::NITRO_IOC_ENI_LIST, 1024)?,
        })
    }

    /// The volumes of instance `id`, by device name, and its ENIs, by index.
    fn of(&self, id: u64) -> (Vec<InstanceVolume>, Vec<InstanceEni>) {
        let dot = |flags: u32| flags & abi::NITRO_ATTACH_DELETE_ON_TERMINATION != 0;
        let mut volumes: Vec<_> = self
            .volumes
            .iter()
            .filter(|volume| volume.instance == id)
            .map(|volume| InstanceVolume {
                device: text_field::read(&volume.device),
                id: ObjectKind::Volume.format_id(volume.id),
                kind: if volume.kind == abi::NITRO_VOLUME_EBS {
                    "ebs"
                } else {
                    "instance"
                },
                state: objects::state_name(volume.state),
                delete_on_termination: dot(volume.flags),
            })
            .collect();
        volumes.sort_by(|a, b| a.device.cmp(&b.device));
        let mut enis: Vec<_> = self
            .enis
            .iter()
            .filter(|eni| eni.instance == id)
            .map(|eni| {
                let device = text_field::read(&eni.device);
                InstanceEni {
                    index: eni_index(&device),
                    device,
                    id: ObjectKind::Eni.format_id(eni.id),
                    vpc: eni.vpc,
                    mac: address::format_mac(&eni.mac),
                    ipv4: address::ipv4_from_abi(eni.ipv4).to_string(),
                    state: objects::state_name(eni.state),
                    delete_on_termination: dot(eni.flags),
                }
            })
            .collect();
        enis.sort_by_key(|eni| eni.index);
        (volumes, enis)
    }
}

/// A volume of an instance, as reported.
#[derive(Serialize, Debug, PartialEq)]
pub struct InstanceVolume {
    /// its device name in the instance
    pub device: String,
    /// vol-...
    pub id: String,
    /// ebs or instance
    pub kind: &'static str,
    /// its state (attached, attaching, detaching)
    pub state: &'static str,
    /// whether it is deleted when the instance terminates
    pub delete_on_termination: bool,
}

/// An ENI of an instance, as reported.
#[derive(Serialize, Debug, PartialEq)]
pub struct InstanceEni {
    /// its device index (eth<index> in the instance)
    pub index: Option<u32>,
    /// its interface name in the instance
    pub device: String,
    /// eni-...
    pub id: String,
    /// its VPC
    pub vpc: u32,
    /// its MAC address
    pub mac: String,
    /// its IPv4 address
    pub ipv4: String,
    /// its state (attached, attaching, detaching)
    pub state: &'static str,
    /// whether it is deleted when the instance terminates
    pub delete_on_termination: bool,
}

/// An instance, as describe and list report it.
#[derive(Serialize, Debug, PartialEq)]
pub struct Instance {
    /// i-...
    pub id: String,
    /// name given at create
    pub name: String,
    /// its instance type
    #[serde(rename = "type")]
    pub instance_type: String,
    /// the VPC card host it runs on
    pub host: u32,
    /// its state (EC2's name)
    pub state: &'static str,
    /// its state (EC2's code)
    pub state_code: u32,
    /// why it is in that state
    pub reason: &'static str,
    /// the errno (name) of its hypervisor's last failed command, if any
    pub error: Option<String>,
    /// its init's pid (in the initial PID namespace), while it has one
    pub pid: Option<u32>,
    /// its type's vCPUs
    pub vcpus: u32,
    /// its type's memory, bytes
    pub memory_bytes: u64,
    /// when it last started (RFC 3339), if it ever did
    pub launched: Option<String>,
    /// when its state last changed (RFC 3339)
    pub state_changed: String,
    /// time since it reached running, ns (0 unless running)
    pub uptime_ns: u64,
    /// CPU time of its processes since it last started, µs
    pub cpu_usec: u64,
    /// memory its processes use now, bytes
    pub memory_current: u64,
    /// the most they used since it last started, bytes
    pub memory_peak: u64,
    /// its volumes, by device name
    pub volumes: Vec<InstanceVolume>,
    /// its ENIs, by device index
    pub enis: Vec<InstanceEni>,
}

impl Instance {
    /// From the ABI, its devices from `attachments`.
    pub fn from_abi(info: &abi::nitro_instance_info, attachments: &Attachments) -> Self {
        let (volumes, enis) = attachments.of(info.id);
        Instance {
            id: format_id(info.id),
            name: text_field::read(&info.name),
            instance_type: text_field::read(&info.type_),
            host: info.host,
            state: state_name(info.state),
            state_code: info.state,
            reason: reason_name(info.reason),
            error: (info.error != 0).then(|| {
                error::errno_name(info.error)
                    .map_or_else(|| format!("errno {}", info.error), str::to_string)
            }),
            pid: (info.pid != 0).then_some(info.pid),
            vcpus: info.vcpus,
            memory_bytes: info.memory_bytes,
            launched: (info.launch_time_ns != 0).then(|| rfc3339(info.launch_time_ns)),
            state_changed: rfc3339(info.state_time_ns),
            uptime_ns: info.uptime_ns,
            cpu_usec: info.cpu_usec,
            memory_current: info.memory_current,
            memory_peak: info.memory_peak,
            volumes,
            enis,
        }
    }

    /// Human form: a line per field, in the order of the JSON object, then
    /// a line per volume (`volume DEVICE ID KIND STATE`) and per ENI (`eni
    /// INDEX DEVICE ID IPV4 MAC STATE`), `delete-on-termination` at the end
    /// of those that have it.
    pub fn human(&self) -> String {
        let fields: [(&str, Value); 17] = [
            ("id", json!(self.id)),
            ("name", json!(self.name)),
            ("type", json!(self.instance_type)),
            ("host", json!(self.host)),
            ("state", json!(self.state)),
            ("state_code", json!(self.state_code)),
            ("reason", json!(self.reason)),
            ("error", json!(self.error)),
            ("pid", json!(self.pid)),
            ("vcpus", json!(self.vcpus)),
            ("memory_bytes", json!(self.memory_bytes)),
            ("launched", json!(self.launched)),
            ("state_changed", json!(self.state_changed)),
            ("uptime_ns", json!(self.uptime_ns)),
            ("cpu_usec", json!(self.cpu_usec)),
            ("memory_current", json!(self.memory_current)),
            ("memory_peak", json!(self.memory_peak)),
        ];
        let mut out: String = fields
            .iter()
            .map(|(key, value)| output::key_value(key, value))
            .collect();
        let dot = |delete: bool| if delete { " delete-on-termination" } else { "" };
        out.push_str(&output::key_value("volumes", &json!(self.volumes.len())));
        for volume in &self.volumes {
            let line = format!(
                "{} {} {} {}{}",
                volume.device,
                volume.id,
                volume.kind,
                volume.state,
                dot(volume.delete_on_termination)
            );
            out.push_str(&output::key_value("volume", &json!(line)));
        }
        out.push_str(&output::key_value("enis", &json!(self.enis.len())));
        for eni in &self.enis {
            let line = format!(
                "{} {} {} {} {} {}{}",
                eni.index
                    .map_or_else(|| "-".to_string(), |index| index.to_string()),
                eni.device,
                eni.id,
                eni.ipv4,
                eni.mac,
                eni.state,
                dot(eni.delete_on_termination)
            );
            out.push_str(&output::key_value("eni", &json!(line)));
        }
        out
    }
}

/// Table of instances.
pub fn instance_table(instances: &[Instance]) -> String {
    let rows: Rows<6> = instances
        .iter()
        .map(|instance| {
            [
                instance.id.clone(),
                or_dash(&instance.name),
                instance.instance_type.clone(),
                instance.host.to_string(),
                instance.state.into(),
                instance.reason.into(),
            ]
        })
        .collect();
    table(&["ID", "NAME", "TYPE", "HOST", "STATE", "REASON"], &rows)
}

/// An instance type, as reported.
#[derive(Serialize, Debug, PartialEq)]
pub struct InstanceType {
    /// its name
    #[serde(rename = "type")]
    pub name: String,
    /// vCPUs (cpu.max)
    pub vcpus: u32,
    /// memory, bytes (memory.max; no swap)
    pub memory_bytes: u64,
    /// most processes (pids.max)
    pub pids: u32,
    /// most volumes attached at once, instance store included
    pub max_volumes: u32,
    /// most ENIs attached at once
    pub max_enis: u32,
    /// size of the instance-store volume made with each instance (0: none)
    pub instance_store_bytes: u64,
    /// bandwidth allowance of its ENIs, each way, bits per second (0: none
    /// given, a controller without allowances)
    pub bw_bps: u64,
    /// packet-rate allowance of its ENIs, both ways together (0: the same)
    pub pps: u64,
}

impl InstanceType {
    /// From the ABI.
    pub fn from_abi(entry: &abi::nitro_instance_type) -> Self {
        InstanceType {
            name: text_field::read(&entry.name),
            vcpus: entry.vcpus,
            memory_bytes: entry.memory_bytes,
            pids: entry.pids,
            max_volumes: entry.max_volumes,
            max_enis: entry.max_enis,
            instance_store_bytes: entry.instance_store_bytes,
            bw_bps: entry.bw_bps,
            pps: entry.pps,
        }
    }

    /// The allowances of its ENIs: `250 Mbit/s, 25000 pps` (`-` if the
    /// controller gives none).
    pub fn network(&self) -> String {
        if self.bw_bps == 0 && self.pps == 0 {
            return "-".into();
        }
        let bandwidth = match self.bw_bps {
            0 => "no bandwidth limit".into(),
            bps => eni::format_rate(bps),
        };
        let packets = match self.pps {
            0 => "no pps limit".into(),
            pps => eni::format_pps(pps),
        };
        format!("{bandwidth}, {packets}")
    }
}

/// Table of instance types, as Documentation/instances.rst shows them (the
/// ENIs' allowances, NETWORK, last).
pub fn types_table(types: &[InstanceType]) -> String {
    let rows: Rows<8> = types
        .iter()
        .map(|entry| {
            [
                entry.name.clone(),
                entry.vcpus.to_string(),
                human_size(entry.memory_bytes),
                entry.pids.to_string(),
                entry.max_volumes.to_string(),
                entry.max_enis.to_string(),
                if entry.instance_store_bytes == 0 {
                    "-".into()
                } else {
                    format!("1 x {}", human_size(entry.instance_store_bytes))
                },
                entry.network(),
            ]
        })
        .collect();
    table(
        &[
            "TYPE", "VCPUS", "MEMORY", "PIDS", "VOLUMES", "ENIS", "STORE", "NETWORK",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{parse, refused, Command};
    use std::path::Path;

    const I: &str = "i-00000000000000abc";
    const VOL: &str = "vol-00000000000000001";
    const ENI: &str = "eni-00000000000000002";

    fn instance_command(args: &[&str]) -> InstanceCommand {
        let mut all = vec!["instance"];
        all.extend_from_slice(args);
        match parse(&all).command {
            Command::Instance(command) => command,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn launch(instance_type: &str, command: &[&str]) -> LaunchArgs {
        LaunchArgs {
            instance_type: instance_type.into(),
            host: None,
            name: String::new(),
            command: command.iter().map(OsString::from).collect(),
        }
    }

    #[test]
    fn ids_round_trip() {
        assert_eq!(format_id(0xabc), I);
        assert_eq!(parse_id(I).unwrap(), 0xabc);
        assert_eq!(format_id(u64::MAX), "i-0ffffffffffffffff");
        for bad in ["i-0", VOL, "i-00000000000000000", "abc"] {
            let error = parse_id(bad).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{bad}");
            assert!(
                error.to_string().contains("is not an instance id"),
                "{error}"
            );
        }
    }

    #[test]
    fn states_and_reasons_come_from_the_shared_rules() {
        for state in InstanceState::ALL {
            assert_eq!(state_name(state as u32), state.name());
        }
        assert_eq!(
            state_name(abi::NITRO_INSTANCE_SHUTTING_DOWN),
            "shutting-down"
        );
        assert_eq!(state_name(7), "unknown");
        assert_eq!(reason_name(abi::NITRO_REASON_USER), "user");
        assert_eq!(
            reason_name(abi::NITRO_REASON_LAUNCH_FAILED),
            "launch-failed"
        );
        assert_eq!(
            reason_name(abi::NITRO_REASON_INSTANCE_SHUTDOWN),
            "instance-initiated-shutdown"
        );
        assert_eq!(
            reason_name(abi::NITRO_REASON_HYPERVISOR_LOST),
            "hypervisor-lost"
        );
        assert_eq!(reason_name(99), "unknown");
    }

    #[test]
    fn wait_states() {
        let states = parse_states("running,stopped,running").unwrap();
        assert_eq!(
            states,
            StateList(vec![InstanceState::Running, InstanceState::Stopped])
        );
        assert_eq!(states.mask(), (1 << 1) | (1 << 5));
        assert_eq!(states.names(), "running or stopped");
        assert_eq!(parse_states("shutting-down").unwrap().mask(), 1 << 2);
        for bad in ["", "running,", "Running", "up"] {
            let error = parse_states(bad).unwrap_err();
            assert!(
                error.contains("is not an instance state (one of pending, running"),
                "{error}"
            );
        }
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("30"), Ok(30_000));
        assert_eq!(parse_timeout("0"), Ok(0));
        assert_eq!(parse_timeout("4294967"), Ok(4_294_967_000));
        assert!(parse_timeout("4294968").unwrap_err().contains("too long"));
        for bad in ["-1", "1.5", "", "x"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn attachments_parse() {
        assert_eq!(
            parse_volume_attachment(&format!("{VOL}:sdf")),
            Ok(VolumeAttachment {
                volume: 1,
                device: "sdf".into()
            })
        );
        for bad in [
            VOL.to_string(),
            format!("{VOL}:"),
            format!("{VOL}:SDF"),
            format!("{VOL}:sd/f"),
            format!("{ENI}:sdf"),
            format!("{VOL}:{}", "a".repeat(16)),
        ] {
            assert!(parse_volume_attachment(&bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_eni_attachment(ENI),
            Ok(EniAttachment {
                eni: 2,
                index: None
            })
        );
        assert_eq!(
            parse_eni_attachment(&format!("{ENI}:3")),
            Ok(EniAttachment {
                eni: 2,
                index: Some(3)
            })
        );
        assert!(parse_eni_attachment(&format!("{ENI}:x")).is_err());
        assert!(parse_eni_attachment(&format!("{ENI}:")).is_err());
        assert!(parse_eni_attachment(VOL).is_err());
        assert_eq!(
            parse_new_eni("7:10.0.0.5"),
            Ok(NewEni {
                vpc: 7,
                ip: Ipv4Addr::new(10, 0, 0, 5)
            })
        );
        for bad in [
            "7",
            "0:10.0.0.5",
            "16777216:10.0.0.5",
            "7:10.0.0",
            "7:224.0.0.1",
        ] {
            assert!(parse_new_eni(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn launch_commands() {
        let args = |args: &[&str]| -> Vec<OsString> { args.iter().map(OsString::from).collect() };
        assert_eq!(
            encode_command(&args(&["/bin/sh", "-c", "echo hi"])),
            Ok(b"/bin/sh\0-c\0echo hi\0".to_vec())
        );
        assert_eq!(encode_command(&args(&["x"])), Ok(b"x\0".to_vec()));
        assert!(encode_command(&[]).unwrap_err().contains("empty"));
        assert!(encode_command(&args(&["sh", ""]))
            .unwrap_err()
            .contains("empty argument"));
        assert!(encode_command(&args(&["a\0b"]))
            .unwrap_err()
            .contains("NUL"));
        let many = vec![OsString::from("a"); 65];
        assert!(encode_command(&many)
            .unwrap_err()
            .contains("65 arguments, at most 64"));
        assert!(encode_command(&many[..64]).is_ok());
        let long = vec![OsString::from("a".repeat(2047)); 2];
        assert_eq!(encode_command(&long).map(|c| c.len()), Ok(4096));
        let longer = vec![
            OsString::from("a".repeat(2048)),
            OsString::from("a".repeat(2047)),
        ];
        assert!(encode_command(&longer).unwrap_err().contains("4097 bytes"));
        // Not UTF-8: passed as it is.
        let raw = OsString::from(std::ffi::OsStr::from_bytes(b"\xff"));
        assert_eq!(encode_command(&[raw]), Ok(b"\xff\0".to_vec()));
    }

    #[test]
    fn launch_fields() {
        assert!(check_launch(&launch("nitro.small", &["true"])).is_ok());
        let mut named = launch("nitro.small", &["true"]);
        named.name = "web-1:a_b.c".into();
        assert!(check_launch(&named).is_ok());
        named.name = "web 1".into();
        let error = check_launch(&named).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(
            error.to_string().contains("may hold only letters"),
            "{error}"
        );
        named.name = "n".repeat(32);
        assert!(check_launch(&named)
            .unwrap_err()
            .to_string()
            .contains("too long"));
        let error = check_launch(&launch(&"t".repeat(32), &["true"])).unwrap_err();
        assert!(error.to_string().contains("instance type"), "{error}");
    }

    #[test]
    fn parses_create_and_run() {
        assert_eq!(
            instance_command(&[
                "create",
                "--type",
                "nitro.small",
                "--",
                "/bin/sh",
                "-c",
                "sleep 1"
            ]),
            InstanceCommand::Create(launch("nitro.small", &["/bin/sh", "-c", "sleep 1"]))
        );
        // Options after `--` belong to the command.
        assert_eq!(
            instance_command(&[
                "create",
                "--type",
                "nitro.micro",
                "--host",
                "2",
                "--name",
                "web",
                "--",
                "ls",
                "--json",
            ]),
            InstanceCommand::Create(LaunchArgs {
                instance_type: "nitro.micro".into(),
                host: Some(2),
                name: "web".into(),
                command: vec!["ls".into(), "--json".into()],
            })
        );
        let cli = parse(&[
            "instance",
            "create",
            "--type",
            "nitro.micro",
            "--json",
            "--",
            "true",
        ]);
        assert!(cli.options.json);
        assert_eq!(
            instance_command(&[
                "run",
                "--type",
                "nitro.large",
                "--volume",
                &format!("{VOL}:sdf"),
                "--eni",
                &format!("{ENI}:1"),
                "--new-eni",
                "7:10.0.0.5",
                "--new-eni",
                "7:10.0.0.6",
                "--timeout",
                "60",
                "--",
                "/usr/bin/sleep",
                "infinity",
            ]),
            InstanceCommand::Run(RunArgs {
                launch: launch("nitro.large", &["/usr/bin/sleep", "infinity"]),
                volumes: vec![VolumeAttachment {
                    volume: 1,
                    device: "sdf".into()
                }],
                enis: vec![EniAttachment {
                    eni: 2,
                    index: Some(1)
                }],
                new_enis: vec![
                    NewEni {
                        vpc: 7,
                        ip: Ipv4Addr::new(10, 0, 0, 5)
                    },
                    NewEni {
                        vpc: 7,
                        ip: Ipv4Addr::new(10, 0, 0, 6)
                    },
                ],
                timeout_ms: 60_000,
            })
        );
        assert_eq!(
            instance_command(&["run", "--type", "nitro.micro", "--", "true"]),
            InstanceCommand::Run(RunArgs {
                launch: launch("nitro.micro", &["true"]),
                volumes: vec![],
                enis: vec![],
                new_enis: vec![],
                timeout_ms: DEFAULT_TIMEOUT_MS,
            })
        );
    }

    #[test]
    fn parses_state_changes() {
        assert_eq!(
            instance_command(&["start", I]),
            InstanceCommand::Start {
                id: I.into(),
                wait: false,
                timeout_ms: None
            }
        );
        assert_eq!(
            instance_command(&["start", I, "--wait", "--timeout", "5"]),
            InstanceCommand::Start {
                id: I.into(),
                wait: true,
                timeout_ms: Some(5000)
            }
        );
        assert_eq!(
            instance_command(&["stop", I, "--force", "--wait"]),
            InstanceCommand::Stop {
                id: I.into(),
                force: true,
                wait: true,
                timeout_ms: None
            }
        );
        assert_eq!(
            instance_command(&["stop", I]),
            InstanceCommand::Stop {
                id: I.into(),
                force: false,
                wait: false,
                timeout_ms: None
            }
        );
        assert_eq!(
            instance_command(&["terminate", I, "--wait", "--timeout", "0"]),
            InstanceCommand::Terminate {
                id: I.into(),
                wait: true,
                timeout_ms: Some(0)
            }
        );
        assert_eq!(
            instance_command(&["wait", I, "running,stopped"]),
            InstanceCommand::Wait {
                id: I.into(),
                states: StateList(vec![InstanceState::Running, InstanceState::Stopped]),
                timeout_ms: DEFAULT_TIMEOUT_MS,
            }
        );
        assert_eq!(
            instance_command(&["wait", I, "terminated", "--timeout", "120"]),
            InstanceCommand::Wait {
                id: I.into(),
                states: StateList(vec![InstanceState::Terminated]),
                timeout_ms: 120_000,
            }
        );
    }

    #[test]
    fn parses_the_rest() {
        assert_eq!(instance_command(&["types"]), InstanceCommand::Types);
        assert_eq!(instance_command(&["list"]), InstanceCommand::List);
        assert_eq!(
            instance_command(&["describe", I]),
            InstanceCommand::Describe(InstanceArg { id: I.into() })
        );
        assert_eq!(
            instance_command(&["show", I]),
            InstanceCommand::Describe(InstanceArg { id: I.into() })
        );
        assert_eq!(
            instance_command(&["console", I]),
            InstanceCommand::Console(InstanceArg { id: I.into() })
        );
        let cli = parse(&["instance", "describe", I, "--json"]);
        assert!(cli.options.json);
    }

    #[test]
    fn usage_errors() {
        // The launch command comes after `--`, and there must be one.
        refused(&["instance", "create", "--type", "nitro.small"]);
        refused(&["instance", "create", "--type", "nitro.small", "--"]);
        refused(&["instance", "create", "--type", "nitro.small", "true"]);
        refused(&["instance", "create", "--", "true"]);
        refused(&[
            "instance",
            "create",
            "--type",
            "nitro.small",
            "--host",
            "0",
            "--",
            "true",
        ]);
        refused(&[
            "instance",
            "create",
            "--type",
            "nitro.small",
            "--host",
            "17",
            "--",
            "true",
        ]);
        for bad in [
            &["--volume", "vol-1:sdf"][..],
            &["--volume", VOL],
            &["--eni", "eni-1"],
            &["--eni", "eni-00000000000000002:-1"],
            &["--new-eni", "7"],
            &["--new-eni", "0:10.0.0.5"],
            &["--timeout", "soon"],
        ] {
            let mut args = vec!["instance", "run", "--type", "nitro.small"];
            args.extend_from_slice(bad);
            args.extend_from_slice(&["--", "true"]);
            refused(&args);
        }
        // --timeout belongs with --wait; --force to stop.
        refused(&["instance", "start", I, "--timeout", "5"]);
        refused(&["instance", "start", I, "--force"]);
        refused(&["instance", "terminate", I, "--force"]);
        refused(&["instance", "start"]);
        refused(&["instance", "wait", I]);
        assert!(refused(&["instance", "wait", I, "up"]).contains("is not an instance state"));
        refused(&["instance", "wait", I, "running", "--timeout", "-1"]);
        refused(&["instance", "describe"]);
        refused(&["instance", "console"]);
        refused(&["instance", "frobnicate"]);
        refused(&["instance"]);
    }

    fn run_args(volumes: &[&str], enis: &[&str], new_enis: &[&str]) -> RunArgs {
        RunArgs {
            launch: launch("nitro.large", &["true"]),
            volumes: volumes
                .iter()
                .map(|v| parse_volume_attachment(v).unwrap())
                .collect(),
            enis: enis
                .iter()
                .map(|e| parse_eni_attachment(e).unwrap())
                .collect(),
            new_enis: new_enis.iter().map(|n| parse_new_eni(n).unwrap()).collect(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }
    }

    #[test]
    fn run_plans_indices_and_refuses_doubles() {
        let eni3 = "eni-00000000000000003";
        let plan = plan(&run_args(
            &[&format!("{VOL}:sdf")],
            &[ENI, &format!("{eni3}:0")],
            &["7:10.0.0.5"],
        ))
        .unwrap();
        assert_eq!(
            plan.devices,
            vec![
                Device::Volume {
                    id: 1,
                    device: "sdf".into()
                },
                // The given index 0 is taken first; the others get the
                // lowest free ones, in order.
                Device::Eni { id: 2, index: 1 },
                Device::Eni { id: 3, index: 0 },
            ]
        );
        assert_eq!(
            plan.new_enis,
            vec![(
                NewEni {
                    vpc: 7,
                    ip: Ipv4Addr::new(10, 0, 0, 5)
                },
                2
            )]
        );
        let only_new = super::plan(&run_args(&[], &[], &["7:10.0.0.5", "8:10.0.0.6"])).unwrap();
        let indices: Vec<u32> = only_new.new_enis.iter().map(|(_, index)| *index).collect();
        assert_eq!(indices, [0, 1]);
        let twice = |volumes: &[&str], enis: &[&str]| {
            super::plan(&run_args(volumes, enis, &[])).unwrap_err()
        };
        assert!(twice(&[&format!("{VOL}:sdf"), &format!("{VOL}:sdg")], &[])
            .contains("volume vol-00000000000000001 is given twice"));
        assert!(
            twice(&[&format!("{VOL}:sdf"), "vol-00000000000000009:sdf"], &[])
                .contains("device name sdf is given twice")
        );
        assert!(twice(&[], &[ENI, ENI]).contains("is given twice"));
        assert!(twice(&[], &[&format!("{ENI}:1"), &format!("{eni3}:1")])
            .contains("index 1 is given twice"));
        assert_eq!(lowest_free(&[]), 0);
        assert_eq!(lowest_free(&[0, 2, 1, 4]), 3);
    }

    #[test]
    fn eni_indices() {
        assert_eq!(eni_index("eth0"), Some(0));
        assert_eq!(eni_index("eth12"), Some(12));
        for bad in ["eth", "eth01", "eth-1", "eni0", "", "eth1x"] {
            assert_eq!(eni_index(bad), None, "{bad}");
        }
    }

    /// An instance's info as the controller would give it.
    fn info() -> abi::nitro_instance_info {
        let mut info = abi::nitro_instance_info {
            id: 0xabc,
            state: abi::NITRO_INSTANCE_RUNNING,
            reason: abi::NITRO_REASON_USER,
            host: 1,
            vcpus: 1,
            volumes: 2,
            enis: 1,
            pid: 4242,
            memory_bytes: 256 << 20,
            launch_time_ns: 1_796_000_000_123_000_000,
            state_time_ns: 1_796_000_001_000_000_000,
            uptime_ns: 5_000_000_000,
            cpu_usec: 1234,
            memory_current: 1 << 20,
            memory_peak: 2 << 20,
            ..Default::default()
        };
        text_field::fill(&mut info.type_, "nitrod.large", "type").unwrap();
        text_field::fill(&mut info.name, "web", "name").unwrap();
        info
    }

    /// One volume and ENI of the instance of [`info`], one of another
    /// instance, one attached to the host.
    fn attachments() -> Attachments {
        let volume = |id: u64, kind: u32, device: &str, instance: u64, flags: u32| {
            let mut volume = abi::nitro_volume_info {
                id,
                kind,
                state: abi::NITRO_STATE_ATTACHED,
                instance,
                flags,
                ..Default::default()
            };
            text_field::fill(&mut volume.device, device, "device").unwrap();
            volume
        };
        let mut eni = abi::nitro_eni_info {
            id: 2,
            vpc: 7,
            state: abi::NITRO_STATE_ATTACHED,
            mac: [2, 0, 0, 0, 0, 1],
            ipv4: address::ipv4_to_abi(Ipv4Addr::new(10, 0, 0, 5)),
            host: 1,
            instance: 0xabc,
            flags: abi::NITRO_ATTACH_DELETE_ON_TERMINATION,
            ..Default::default()
        };
        text_field::fill(&mut eni.device, "eth0", "device").unwrap();
        Attachments {
            volumes: vec![
                volume(5, abi::NITRO_VOLUME_EBS, "sdf", 0xabc, 0),
                volume(
                    4,
                    abi::NITRO_VOLUME_INSTANCE,
                    "sdb",
                    0xabc,
                    abi::NITRO_ATTACH_DELETE_ON_TERMINATION,
                ),
                volume(6, abi::NITRO_VOLUME_EBS, "sdf", 0xdef, 0),
                volume(7, abi::NITRO_VOLUME_EBS, "sdg", 0, 0),
            ],
            enis: vec![eni],
        }
    }

    #[test]
    fn describe_rendering() {
        let instance = Instance::from_abi(&info(), &attachments());
        assert_eq!(
            instance.human(),
            "id          i-00000000000000abc\n\
             name        web\n\
             type        nitrod.large\n\
             host        1\n\
             state       running\n\
             state_code  16\n\
             reason      user\n\
             error       -\n\
             pid         4242\n\
             vcpus       1\n\
             memory_bytes 268435456\n\
             launched    2026-11-30T00:53:20.123Z\n\
             state_changed 2026-11-30T00:53:21.000Z\n\
             uptime_ns   5000000000\n\
             cpu_usec    1234\n\
             memory_current 1048576\n\
             memory_peak 2097152\n\
             volumes     2\n\
             volume      sdb vol-00000000000000004 instance attached delete-on-termination\n\
             volume      sdf vol-00000000000000005 ebs attached\n\
             enis        1\n\
             eni         0 eth0 eni-00000000000000002 10.0.0.5 02:00:00:00:00:01 attached delete-on-termination\n"
        );
        let json = serde_json::to_value(&instance).unwrap();
        assert_eq!(json["type"], "nitrod.large");
        assert_eq!(json["state_code"], 16);
        assert_eq!(json["error"], Value::Null);
        assert_eq!(json["pid"], 4242);
        assert_eq!(json["volumes"][0]["device"], "sdb");
        assert_eq!(json["volumes"][0]["delete_on_termination"], true);
        assert_eq!(json["volumes"][1]["id"], "vol-00000000000000005");
        assert_eq!(json["volumes"].as_array().unwrap().len(), 2);
        assert_eq!(json["enis"][0]["index"], 0);
        assert_eq!(json["enis"][0]["ipv4"], "10.0.0.5");
        assert_eq!(json["enis"][0]["vpc"], 7);
    }

    #[test]
    fn a_failed_launch_is_described() {
        let mut failed = info();
        failed.state = abi::NITRO_INSTANCE_STOPPED;
        failed.reason = abi::NITRO_REASON_LAUNCH_FAILED;
        failed.error = libc::ENOENT;
        failed.pid = 0;
        failed.launch_time_ns = 0;
        failed.uptime_ns = 0;
        let empty = Attachments {
            volumes: vec![],
            enis: vec![],
        };
        let instance = Instance::from_abi(&failed, &empty);
        let shown = instance.human();
        for line in [
            "state       stopped\n",
            "state_code  80\n",
            "reason      launch-failed\n",
            "error       ENOENT\n",
            "pid         -\n",
            "launched    -\n",
            "volumes     0\nenis        0\n",
        ] {
            assert!(shown.contains(line), "{line:?} in\n{shown}");
        }
        let json = serde_json::to_value(&instance).unwrap();
        assert_eq!(json["error"], "ENOENT");
        assert_eq!(json["pid"], Value::Null);
        assert_eq!(json["launched"], Value::Null);
        assert_eq!(json["volumes"], json!([]));
        let mut stopped = Instance::from_abi(&info(), &empty);
        stopped.state = "stopped";
        stopped.reason = "instance-initiated-shutdown";
        stopped.name = String::new();
        assert_eq!(
            instance_table(&[instance, stopped]),
            "ID                   NAME  TYPE          HOST  STATE    REASON\n\
             i-00000000000000abc  web   nitrod.large  1     stopped  launch-failed\n\
             i-00000000000000abc  -     nitrod.large  1     stopped  instance-initiated-shutdown\n"
        );
    }

    #[test]
    fn the_types_table_is_the_documented_one() {
        let types: Vec<InstanceType> = lifecycle::INSTANCE_TYPES
            .iter()
            .map(|known| {
                let mut entry = abi::nitro_instance_type {
                    vcpus: known.vcpus,
                    pids: known.pids,
                    memory_bytes: known.memory_bytes,
                    max_volumes: known.max_volumes,
                    max_enis: known.max_enis,
                    instance_store_bytes: known.instance_store_bytes,
                    bw_bps: known.bw_bps,
                    pps: known.pps,
                    ..Default::default()
                };
                text_field::fill(&mut entry.name, known.name, "type").unwrap();
                InstanceType::from_abi(&entry)
            })
            .collect();
        // Documentation/instances.rst, "Types".
        assert_eq!(
            types_table(&types),
            "TYPE          VCPUS  MEMORY   PIDS  VOLUMES  ENIS  STORE      NETWORK\n\
             nitro.micro   1      128 MiB  256   2        1     -          250 Mbit/s, 25000 pps\n\
             nitro.small   1      256 MiB  512   4        2     -          500 Mbit/s, 50000 pps\n\
             nitro.large   2      1 GiB    1024  8        4     -          1 Gbit/s, 100000 pps\n\
             nitrod.large  2      1 GiB    1024  8        4     1 x 1 GiB  1 Gbit/s, 100000 pps\n"
        );
        let json = serde_json::to_value(&types[3]).unwrap();
        assert_eq!(json["type"], "nitrod.large");
        assert_eq!(json["instance_store_bytes"], 1u64 << 30);
        assert_eq!(json["max_enis"], 4);
        assert_eq!(json["bw_bps"], 1_000_000_000u64);
        assert_eq!(json["pps"], 100_000);
        // A controller without allowances gives none.
        let old = InstanceType {
            bw_bps: 0,
            pps: 0,
            ..InstanceType::from_abi(&abi::nitro_instance_type::default())
        };
        assert_eq!(old.network(), "-");
    }

    #[test]
    fn waits_settle_as_ec2_does() {
        use InstanceState::*;
        assert_eq!(settle_mask(Running), 0b11_1110, "anything but pending");
        assert_eq!(settle_mask(Stopped), Stopped.bit() | Terminated.bit());
        assert_eq!(settle_mask(Terminated), Terminated.bit());
        let with = |state: u32, reason: u32, error: i32| abi::nitro_instance_info {
            state,
            reason,
            error,
            host: 3,
            ..Default::default()
        };
        assert_eq!(settled(1, Running, Running as u32, None), Ok(Running));
        // It ran and shut itself down before the wait saw it run.
        let shut = with(Stopped as u32, abi::NITRO_REASON_INSTANCE_SHUTDOWN, 0);
        assert_eq!(
            settled(1, Running, Stopped as u32, Some(&shut)),
            Ok(Stopped)
        );
        assert_eq!(
            settled(1, Running, Stopping as u32, Some(&shut)),
            Ok(Stopping)
        );
        let failed = with(
            Stopped as u32,
            abi::NITRO_REASON_LAUNCH_FAILED,
            libc::ENOMEM,
        );
        let (message, errno) = settled(1, Running, Stopped as u32, Some(&failed)).unwrap_err();
        assert_eq!(errno, libc::ENOMEM);
        assert!(
            message.contains("did not start: launch-failed"),
            "{message}"
        );
        assert!(message.contains("host 3"), "{message}");
        let lost = with(Stopped as u32, abi::NITRO_REASON_HYPERVISOR_LOST, 0);
        let (message, errno) = settled(1, Running, Stopped as u32, Some(&lost)).unwrap_err();
        assert_eq!(errno, libc::ECONNRESET);
        assert!(message.contains("hypervisor-lost"), "{message}");
        let (message, errno) = settled(1, Stopped, Terminated as u32, None).unwrap_err();
        assert_eq!(errno, libc::ECANCELED);
        assert!(
            message.contains("was terminated before it was stopped"),
            "{message}"
        );
        let stopped = with(Stopped as u32, abi::NITRO_REASON_USER, 0);
        let (message, _) = settled(1, Running, Stopped as u32, Some(&stopped)).unwrap_err();
        assert!(
            message.contains("is stopped (reason user), not running"),
            "{message}"
        );
    }

    #[test]
    fn refusals_are_explained() {
        // /dev/null answers every ioctl with ENOTTY: the controller says
        // nothing more about the instance.
        let controller = Controller::open(Path::new("/dev/null")).unwrap();
        let kernel = |errno: i32| Error::Kernel {
            request: "x",
            error: io::Error::from_raw_os_error(errno),
        };
        for (operation, errno, says) in [
            (Operation::Start, libc::ENOENT, "no instance i-00000000000000abc on this host (see `nitroctl instance list`): No such file or directory (ENOENT)"),
            (Operation::Start, libc::ENODEV, "the instance's host has no hypervisor (start `nitro-hv --host N`): No such device (ENODEV)"),
            (Operation::Stop, libc::EBUSY, "a device of instance i-00000000000000abc is being attached or detached; try again"),
            (Operation::Start, libc::EACCES, "boot gate is closed"),
            (Operation::Console, libc::ETIMEDOUT, "did not give the console of instance i-00000000000000abc within 30 s: Connection timed out (ETIMEDOUT)"),
            (Operation::Console, libc::ECONNRESET, "went away before it answered: Connection reset by peer (ECONNRESET)"),
            (Operation::Console, libc::EIO, "could not give the console"),
            (Operation::Terminate, libc::ENOMEM, "terminate instance i-00000000000000abc: Cannot allocate memory (ENOMEM)"),
        ] {
            let error = explain(&controller, operation, 0xabc, kernel(errno));
            assert_eq!(error.errno(), Some(errno));
            assert_eq!(error.exit_code(), 1);
            let message = error.to_string();
            assert!(message.contains(says), "{operation:?} {errno}: {message}");
        }
        // The generic hint says it all.
        let message = explain(&controller, Operation::Start, 1, kernel(libc::EPERM)).to_string();
        assert!(message.contains("CAP_SYS_ADMIN"), "{message}");
        let args = LaunchArgs {
            name: "web".into(),
            ..launch("nitro.small", &["true"])
        };
        for (errno, says) in [
            (libc::EEXIST, "another live instance is named 'web'"),
            (libc::ENOSPC, "maximum of 256 live instances"),
            (libc::EINVAL, "the controller rejected the launch"),
            (
                libc::ENODEV,
                "no such host 2, or the VPC card (nitro_net) is not loaded",
            ),
        ] {
            let message = explain_create(&controller, &args, 2, kernel(errno)).to_string();
            assert!(message.contains(says), "{errno}: {message}");
        }
        let volume = Device::Volume {
            id: 1,
            device: "sdf".into(),
        };
        let eni = Device::Eni { id: 2, index: 1 };
        for (device, errno, says) in [
            (&volume, libc::EEXIST, "instance i-00000000000000abc already has a device named sdf"),
            (&eni, libc::EEXIST, "already has an ENI at index 1 (eth1)"),
            (&eni, libc::ENOSPC, "already has the most ENIs its type allows"),
            (&volume, libc::ENOENT, "no volume vol-00000000000000001 on this host"),
            (&volume, libc::ETIMEDOUT, "did not attach volume vol-00000000000000001 as sdf to instance i-00000000000000abc within 30 s; the attach was undone"),
            (&eni, libc::ECONNRESET, "went away during the attach"),
            (&eni, libc::EIO, "attach ENI eni-00000000000000002 at index 1 (eth1) to instance i-00000000000000abc: Input/output error (EIO)"),
        ] {
            let message = explain_attach(&controller, device, 0xabc, kernel(errno)).to_string();
            assert!(message.contains(says), "{device:?} {errno}: {message}");
        }
        // Not a refusal at all: unchanged.
        let error = explain(&controller, Operation::Wait, 1, Error::Usage("u".into()));
        assert_eq!(error.to_string(), "u");
    }

    #[test]
    fn a_wait_that_times_out_says_so() {
        let controller = Controller::open(Path::new("/dev/null")).unwrap();
        let error = wait_error(
            &controller,
            0xabc,
            "running",
            30_000,
            Error::Kernel {
                request: "x",
                error: io::Error::from_raw_os_error(libc::ETIMEDOUT),
            },
        );
        assert_eq!(error.exit_code(), 1);
        assert_eq!(
            error.to_string(),
            "instance i-00000000000000abc is not running after 30 s (it is unknown): \
             Connection timed out (ETIMEDOUT)"
        );
    }
}
