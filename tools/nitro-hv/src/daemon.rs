//! The daemon, `nitro-hv --host N`: the hypervisor of one VPC card host.
//!
//! One thread serves the controller's command channel: it reaps instances
//! whose init exited, calls `NITRO_IOC_HV_NEXT` with their ids as reports,
//! carries out the command it gets and answers it with `NITRO_IOC_HV_DONE`.
//! Its SIGCHLD handler is installed without `SA_RESTART`, so an init's exit
//! interrupts the wait (`EINTR`) and is reported at once; the wait is also
//! bounded (one second) for an exit that comes just before it starts.
//! SIGTERM and SIGINT interrupt it the same way: every instance is then
//! killed and the daemon ends, which closes the controller's file (the
//! controller marks what the hypervisor ran `stopped`, reason
//! `hypervisor-lost`). The only other threads read the instances' console
//! pipes ([`crate::console`]) or ask a network namespace something
//! ([`crate::nic`]); they have those signals blocked.
//!
//! An instance that runs here has its init's pid (the jail, then its
//! command: see [`crate::jail`]), a pidfd of it, its network namespace held
//! open (so that its ENIs can be taken back out even after all its
//! processes are gone) and its ENIs with the namespace each came from. An
//! instance keeps its console after it stops, until it starts again or the
//! controller no longer has it (it terminated).

use crate::{
    abi::{self, lifecycle},
    cgroup::{self, Limits},
    console::Console,
    controller::{self, Controller},
    disk::{self, Disk},
    jail, launch,
    nic::{Net, Netns, Nic},
    sys::{self, Context, Errno, ExitStatus, Failure, Result},
};
use std::{
    collections::BTreeMap,
    ffi::OsString,
    fmt,
    os::{
        fd::{AsRawFd, OwnedFd},
        unix::ffi::OsStringExt,
    },
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::Duration,
};

/// How long one wait for a command lasts (ms) before the daemon looks at
/// its instances and the signals again.
const NEXT_TIMEOUT_MS: u32 = 1000;
/// How long a jail has to build an instance.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long it has to exec the launch command once let go.
const EXEC_TIMEOUT: Duration = Duration::from_secs(30);
/// How long killed processes have to be gone.
const END_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the console's reader has to see the end of the output of an
/// instance whose processes are all gone.
const CONSOLE_DRAIN: Duration = Duration::from_secs(2);

/// SIGCHLD, SIGTERM and SIGINT.
mod signals {
    use crate::sys::{self, Context, Result};
    use std::sync::atomic::{AtomicI32, Ordering};

    /// The terminating signal that came (0: none).
    static TERMINATE: AtomicI32 = AtomicI32::new(0);

    /// The handler: a SIGCHLD only interrupts the wait for a command; a
    /// SIGTERM or SIGINT also asks the daemon to end.
    ///
    /// # Safety
    ///
    /// Called by the kernel as a signal handler: it only stores an atomic,
    /// which is async-signal-safe.
    unsafe extern "C" fn on_signal(signal: libc::c_int) {
        if signal != libc::SIGCHLD {
            TERMINATE.store(signal, Ordering::SeqCst);
        }
    }

    /// Installs the handler, without `SA_RESTART`: a blocking
    /// `NITRO_IOC_HV_NEXT` returns `EINTR` when one of them comes.
    pub fn install() -> Result<()> {
        for signal in [libc::SIGCHLD, libc::SIGTERM, libc::SIGINT] {
            // SAFETY: sigaction is plain data; zero is "no flags, empty mask".
            let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            action.sa_flags = if signal == libc::SIGCHLD {
                libc::SA_NOCLDSTOP
            } else {
                0
            };
            // SAFETY: `action` is initialised and its mask emptied;
            // `on_signal` is async-signal-safe.
            sys::cvt(unsafe {
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, std::ptr::null_mut())
            })
            .ctx(|| format!("install the handler of signal {signal}"))?;
        }
        Ok(())
    }

    /// The terminating signal that came, if one did.
    pub fn terminating() -> Option<i32> {
        match TERMINATE.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }
}

/// The processes of an instance that runs here.
#[derive(Debug)]
struct Run {
    /// Its init's host pid.
    pid: libc::pid_t,
    /// A pidfd of its init.
    pidfd: OwnedFd,
    /// Its network namespace, once it has one.
    netns: Option<Netns>,
    /// Its cgroup.
    cgroup: PathBuf,
    /// Its ENIs moved in, with the namespace each came from.
    nics: Vec<(Nic, Arc<Netns>)>,
}

/// An instance the daemon has run.
#[derive(Debug)]
struct Instance {
    /// Its slot: its uid is 20000 + slot.
    slot: u32,
    /// The output of its last run.
    console: Arc<Console>,
    /// Its processes, while it has any.
    run: Option<Run>,
}

/// How an instance's processes come to an end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// A stop: SIGTERM to its init, this grace period, then the rest.
    Stop(Duration),
    /// Its init exited (and was reaped) by itself.
    Exited,
    /// Killed at once (a launch that failed, the daemon ending).
    Kill,
}

/// What a command gives back besides its errno.
enum Reply {
    /// Nothing.
    Done,
    /// START: the init's pid and its cgroup's statistics files.
    Started {
        pid: libc::pid_t,
        stats: Option<[OwnedFd; 3]>,
    },
    /// CONSOLE: the output.
    Console(Vec<u8>),
}

/// The name of a command, for the log.
fn op_name(op: u32) -> &'static str {
    match op {
        abi::NITRO_HV_START => "start",
        abi::NITRO_HV_STOP => "stop",
        abi::NITRO_HV_ATTACH_DISK => "attach disk",
        abi::NITRO_HV_DETACH_DISK => "detach disk",
        abi::NITRO_HV_ATTACH_NIC => "attach NIC",
        abi::NITRO_HV_DETACH_NIC => "detach NIC",
        abi::NITRO_HV_CONSOLE => "console",
        _ => "unknown command",
    }
}

/// The launch command of a START: argv from its NUL-separated bytes.
pub fn launch_command(args: &[u8]) -> Result<Vec<OsString>> {
    lifecycle::check_command(args, abi::NITRO_COMMAND_ARGS_MAX as usize).ok_or_else(|| {
        Failure::new(
            format!("malformed launch command ({} bytes)", args.len()),
            libc::EINVAL,
        )
    })?;
    Ok(args[..args.len() - 1]
        .split(|&b| b == 0)
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect())
}

/// A launch command as a person reads it.
fn command_text(argv: &[OsString]) -> String {
    argv.iter()
        .map(|a| {
            let s = a.to_string_lossy();
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && b != b'\'') {
                s.into_owned()
            } else {
                format!("'{}'", s.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The one device of a device command.
fn one_device(devices: &[abi::nitro_hv_device]) -> Result<&abi::nitro_hv_device> {
    match devices {
        [d] => Ok(d),
        _ => Err(Failure::new(
            format!("a device command with {} devices", devices.len()),
            libc::EINVAL,
        )),
    }
}

/// The hypervisor of one host.
pub struct Daemon {
    host: u32,
    base: PathBuf,
    ctl: Controller,
    net: Net,
    devnull: OwnedFd,
    instances: BTreeMap<u64, Instance>,
    /// Instances whose init exited, to report with the next NEXT.
    exited: Vec<u64>,
    /// Inits that did not end when killed: reaped when they do.
    zombies: Vec<libc::pid_t>,
}

/// Runs the daemon for `host` until SIGTERM or SIGINT (exit 0) or a
/// failure (exit 1).
pub fn run(host: u32, base: &Path, device: &Path) -> ExitCode {
    let mut daemon = match Daemon::start(host, base, device) {
        Ok(d) => d,
        Err(f) => {
            eprintln!("nitro-hv[host {host}]: {f}");
            return ExitCode::FAILURE;
        }
    };
    let served = daemon.serve();
    daemon.shutdown();
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            daemon.log(None, format_args!("{f}"));
            ExitCode::FAILURE
        }
    }
}

impl Daemon {
    /// Registers as the hypervisor of `host` on `device` and prepares the
    /// instances' cgroup parent.
    fn start(host: u32, base: &Path, device: &Path) -> Result<Self> {
        signals::install()?;
        let base =
            &std::fs::canonicalize(base).ctx(|| format!("--jail-base {}", base.display()))?;
        if !base.join("usr").is_dir() {
            return Err(Failure::new(
                format!(
                    "--jail-base {}: the image has no usr directory",
                    base.display()
                ),
                libc::ENOENT,
            ));
        }
        let ctl = Controller::open(device)?;
        ctl.register(host)
            .map_err(|e| controller::register_failure(host, device, e))?;
        cgroup::prepare_parent()?;
        let devnull = sys::open(Path::new("/dev/null"), libc::O_RDONLY)?;
        let daemon = Daemon {
            host,
            base: base.to_path_buf(),
            ctl,
            net: Net::new(),
            devnull,
            instances: BTreeMap::new(),
            exited: Vec::new(),
            zombies: Vec::new(),
        };
        daemon.log(
            None,
            format_args!(
                "the hypervisor of host {host} ({}), image {}, cgroups in {}",
                device.display(),
                base.display(),
                cgroup::PARENT
            ),
        );
        daemon.sweep_stale_cgroups();
        if daemon.net.ip_path().is_none() {
            daemon.log(
                None,
                format_args!("no ip (iproute2): attaching an ENI will fail with ENOENT"),
            );
        }
        Ok(daemon)
    }

    /// Removes the cgroups a hypervisor that died left behind (its
    /// instances died with it): those of this host's instances, which have
    /// no processes now that this daemon is their hypervisor, and those of
    /// instances the controller no longer has. Another host's are left
    /// alone.
    fn sweep_stale_cgroups(&self) {
        let Ok(entries) = std::fs::read_dir(cgroup::PARENT) else {
            return;
        };
        for entry in entries.flatten() {
            let Some(id) = entry.file_name().to_str().and_then(abi::parse_instance) else {
                continue;
            };
            let stale = match self.ctl.describe(id) {
                Ok(info) => info.host == self.host || info.state == abi::NITRO_INSTANCE_TERMINATED,
                Err(e) => e.0 == libc::ENOENT,
            };
            if stale {
                match cgroup::destroy(&entry.path(), END_TIMEOUT) {
                    Ok(()) => self.log(Some(id), format_args!("stale cgroup removed")),
                    Err(f) => self.log(Some(id), format_args!("stale cgroup: {f}")),
                }
            }
        }
    }

    /// Logs a line: `nitro-hv[host N]: <instance id>: <what>`.
    fn log(&self, id: Option<u64>, what: fmt::Arguments<'_>) {
        match id {
            Some(id) => eprintln!(
                "nitro-hv[host {}]: {}: {what}",
                self.host,
                abi::instance_name(id)
            ),
            None => eprintln!("nitro-hv[host {}]: {what}", self.host),
        }
    }

    /// Serves commands until a terminating signal (`Ok`) or a failure of
    /// the channel.
    fn serve(&mut self) -> Result<()> {
        let mut devices = vec![abi::nitro_hv_device::default(); abi::NITRO_HV_DEVICES_MAX as usize];
        let mut args = vec![0u8; abi::NITRO_COMMAND_MAX as usize];
        loop {
            if let Some(signal) = signals::terminating() {
                self.log(
                    None,
                    format_args!("signal {signal}: stopping every instance"),
                );
                return Ok(());
            }
            self.reap();
            match self
                .ctl
                .next(&self.exited, NEXT_TIMEOUT_MS, &mut devices, &mut args)
            {
                Ok(cmd) => {
                    self.exited.clear();
                    let n = (cmd.ndevices as usize).min(devices.len());
                    let len = (cmd.args_len as usize).min(args.len());
                    self.handle(&cmd, &devices[..n], &args[..len]);
                }
                // The reports went in before the wait.
                Err(Errno(libc::EINTR | libc::ETIMEDOUT)) => self.exited.clear(),
                // Refused before it took the reports: they go again.
                Err(e @ Errno(libc::ENOMEM | libc::EAGAIN)) => {
                    self.log(None, format_args!("NITRO_IOC_HV_NEXT: {e}; again"));
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e).ctx(|| "NITRO_IOC_HV_NEXT"),
            }
        }
    }

    /// Carries out a command and reports its result.
    fn handle(
        &mut self,
        cmd: &abi::nitro_hv_command,
        devices: &[abi::nitro_hv_device],
        args: &[u8],
    ) {
        let id = cmd.instance;
        // An init that exited since the wait began is dealt with first: a
        // device command then finds the instance without processes.
        self.reap();
        let outcome = match cmd.op {
            abi::NITRO_HV_START => self.start_instance(cmd, devices, args),
            abi::NITRO_HV_STOP => self
                .stop(id, Duration::from_millis(u64::from(cmd.grace_ms)))
                .map(|()| Reply::Done),
            abi::NITRO_HV_ATTACH_DISK => one_device(devices)
                .and_then(Disk::from_hv)
                .and_then(|d| self.disk(id, &d, true))
                .map(|()| Reply::Done),
            abi::NITRO_HV_DETACH_DISK => one_device(devices)
                .and_then(Disk::from_hv)
                .and_then(|d| self.disk(id, &d, false))
                .map(|()| Reply::Done),
            abi::NITRO_HV_ATTACH_NIC => one_device(devices)
                .and_then(Nic::from_hv)
                .and_then(|n| self.attach_nic(id, n))
                .map(|()| Reply::Done),
            abi::NITRO_HV_DETACH_NIC => one_device(devices)
                .and_then(Nic::from_hv)
                .and_then(|n| self.detach_nic(id, &n))
                .map(|()| Reply::Done),
            abi::NITRO_HV_CONSOLE => Ok(Reply::Console(
                self.instances
                    .get(&id)
                    .map(|i| i.console.snapshot())
                    .unwrap_or_default(),
            )),
            op => Err(Failure::new(format!("command {op}"), libc::EOPNOTSUPP)),
        };
        let mut result = controller::result(cmd.seq, 0);
        match &outcome {
            Ok(Reply::Done) => {}
            Ok(Reply::Started { pid, stats }) => {
                result.pid = *pid as u32;
                if let Some([cpu, memory, peak]) = stats {
                    result.cpu_stat_fd = cpu.as_raw_fd();
                    result.memory_fd = memory.as_raw_fd();
                    result.memory_peak_fd = peak.as_raw_fd();
                }
            }
            Ok(Reply::Console(out)) => {
                let n = out.len().min(crate::console::CAPACITY);
                result.buf = out[out.len() - n..].as_ptr() as u64;
                result.len = n as u32;
            }
            Err(f) => {
                result.error = f.errno.0;
                self.log(Some(id), format_args!("{} failed: {f}", op_name(cmd.op)));
            }
        }
        if let Err(e) = self.ctl.done(&mut result) {
            self.log(
                Some(id),
                format_args!(
                    "NITRO_IOC_HV_DONE of {} (#{}): {e}",
                    op_name(cmd.op),
                    cmd.seq
                ),
            );
            if matches!(outcome, Ok(Reply::Started { .. })) {
                // The controller does not take it as running: nothing of it
                // may stay.
                if let Err(f) = self.end(id, End::Kill) {
                    self.log(Some(id), format_args!("killing it: {f}"));
                }
            }
        }
        // The descriptors of a START are the controller's now (it took its
        // own references in DONE).
        drop(outcome);
        if cmd.op == abi::NITRO_HV_STOP {
            self.forget_if_terminated(id);
        }
    }

    /// START: builds the instance in a new jail with its disks and ENIs and
    /// starts its launch command. On failure nothing of it is left (its
    /// console keeps what the jail said).
    fn start_instance(
        &mut self,
        cmd: &abi::nitro_hv_command,
        devices: &[abi::nitro_hv_device],
        args: &[u8],
    ) -> Result<Reply> {
        let id = cmd.instance;
        let name = abi::instance_name(id);
        if self.instances.get(&id).is_some_and(|i| i.run.is_some()) {
            return Err(Failure::new(format!("{name} runs already"), libc::EBUSY));
        }
        let argv = launch_command(args)?;
        let mut disks = Vec::new();
        let mut nics = Vec::new();
        for d in devices {
            match d.kind {
                abi::NITRO_HV_DISK => disks.push(Disk::from_hv(d)?),
                abi::NITRO_HV_NIC => nics.push(Nic::from_hv(d)?),
                k => {
                    return Err(Failure::new(
                        format!("device of unknown kind {k}"),
                        libc::EINVAL,
                    ))
                }
            }
        }
        if cmd.slot >= abi::NITRO_INSTANCES_MAX || cmd.vcpus == 0 || cmd.pids == 0 {
            return Err(Failure::new(
                format!(
                    "START with slot {}, {} vCPUs, {} pids",
                    cmd.slot, cmd.vcpus, cmd.pids
                ),
                libc::EINVAL,
            ));
        }
        let limits = Limits {
            vcpus: cmd.vcpus,
            memory_bytes: cmd.memory_bytes,
            pids: cmd.pids,
        };
        let uid = jail::uid_of(cmd.slot);
        self.forget_terminated();
        // Left by a hypervisor that died (its processes died with it).
        let cg = cgroup::instance_path(&name);
        cgroup::destroy(&cg, END_TIMEOUT)
            .map_err(|f| Failure::new(format!("stale cgroup: {f}"), f.errno.0))?;

        let console = Console::new();
        self.instances.insert(
            id,
            Instance {
                slot: cmd.slot,
                console: Arc::clone(&console),
                run: None,
            },
        );
        let jail_args = jail::args(&name, cmd.slot, &limits, &cg, &self.base, &argv);
        let (mut jail, output) = launch::spawn(&jail_args, &self.devnull)?;
        let mut run = Run {
            pid: jail.pid,
            pidfd: jail.pidfd.try_clone().ctx(|| "dup the pidfd")?,
            netns: None,
            cgroup: cg,
            nics: Vec::new(),
        };
        let built = console
            .feed(output, &name)
            .ctx(|| "start the console reader")
            .and_then(|_| self.build(&mut jail, &mut run, &disks, &nics, uid));
        match built {
            Ok(stats) => {
                let pid = run.pid;
                self.log(
                    Some(id),
                    format_args!(
                        "running: pid {pid}, uid {uid}, {} vCPU, {} MiB, {} pids, {} disks, {} NICs: {}",
                        limits.vcpus,
                        limits.memory_bytes >> 20,
                        limits.pids,
                        disks.len(),
                        nics.len(),
                        command_text(&argv)
                    ),
                );
                if let Some(inst) = self.instances.get_mut(&id) {
                    inst.run = Some(run);
                }
                Ok(Reply::Started { pid, stats })
            }
            Err(f) => {
                // A jail that ran out of memory ends without a word.
                let f = match cgroup::oom_kills(&run.cgroup) {
                    Some(n) if n > 0 => Failure::new(
                        format!(
                            "{}: {n} processes killed for lack of memory (memory.max {})",
                            f.what, limits.memory_bytes
                        ),
                        libc::ENOMEM,
                    ),
                    _ => f,
                };
                // Closing the control pipe ends a jail that waits for `go`.
                drop(jail);
                if let Err(e) = self.teardown(id, run, End::Kill) {
                    self.log(Some(id), format_args!("cleaning up the failed launch: {e}"));
                }
                console.wait_closed(CONSOLE_DRAIN);
                Err(f)
            }
        }
    }

    /// The part of a START between the jail being ready and its exec: the
    /// instance's `lo`, disks and ENIs, and its cgroup's statistics files.
    fn build(
        &mut self,
        jail: &mut launch::Jail,
        run: &mut Run,
        disks: &[Disk],
        nics: &[Nic],
        uid: u32,
    ) -> Result<Option<[OwnedFd; 3]>> {
        jail.wait_ready(READY_TIMEOUT)?;
        let ns = Netns::of_pid(run.pid)?;
        self.net.loopback_up(&ns)?;
        run.netns = Some(ns);
        let dev = disk::dev_dir(run.pid);
        for d in disks {
            disk::make(&dev, d, uid, uid)?;
        }
        for n in nics {
            let inside = run.netns.as_ref().expect("set above");
            let home = self.net.move_in(n, inside)?;
            run.nics.push((n.clone(), home));
        }
        let stats = match cgroup::stat_files(&run.cgroup) {
            Ok(fds) => Some(fds),
            Err(f) => {
                eprintln!(
                    "nitro-hv[host {}]: {}: no metrics: {f}",
                    self.host,
                    run.cgroup.display()
                );
                None
            }
        };
        jail.go(EXEC_TIMEOUT)?;
        Ok(stats)
    }

    /// Ends the processes of a run: its ENIs out first (back to the
    /// namespace each came from), then, for a stop, SIGTERM to its init and
    /// the grace period; then every process of its cgroup is killed, the
    /// group emptied and removed, and the init reaped. Returns once every
    /// process is gone (or `END_TIMEOUT` has passed: then an error).
    fn teardown(&mut self, id: u64, run: Run, end: End) -> Result<()> {
        let mut first: Option<Failure> = None;
        if let Some(inside) = &run.netns {
            for (nic, home) in &run.nics {
                match self.net.move_out(nic, inside, home) {
                    Ok(()) => self.log(
                        Some(id),
                        format_args!("{} back out as {}", nic.inside_name(), nic.host_name),
                    ),
                    Err(f) => {
                        self.log(Some(id), format_args!("ENI {}: {f}", nic.host_name));
                        first.get_or_insert(f);
                    }
                }
            }
        }
        if let End::Stop(grace) = end {
            if let Err(e) = sys::kill(run.pid, libc::SIGTERM) {
                first.get_or_insert(Failure {
                    what: format!("SIGTERM to {}", run.pid),
                    errno: e,
                });
            } else if !grace.is_zero() {
                let _ = sys::poll(run.pidfd.as_raw_fd(), libc::POLLIN, Some(grace));
            }
        }
        if end != End::Exited {
            // PID 1 of its namespace: from here SIGKILL always reaches it,
            // also before it joined its cgroup.
            let _ = sys::kill(run.pid, libc::SIGKILL);
        }
        if let Err(f) = cgroup::destroy(&run.cgroup, END_TIMEOUT) {
            self.log(Some(id), format_args!("{f}"));
            first.get_or_insert(f);
        }
        if end != End::Exited {
            let _ = sys::poll(run.pidfd.as_raw_fd(), libc::POLLIN, Some(END_TIMEOUT));
            match sys::try_reap(run.pid) {
                Ok(Some(status)) => self.log(Some(id), format_args!("init ended: {status}")),
                Ok(None) => {
                    let f = Failure::new(format!("init {} did not end", run.pid), libc::ETIMEDOUT);
                    self.log(Some(id), format_args!("{f}"));
                    self.zombies.push(run.pid);
                    first.get_or_insert(f);
                }
                Err(e) => self.log(Some(id), format_args!("waitpid {}: {e}", run.pid)),
            }
        }
        // Its network namespace goes once nothing holds it.
        drop(run);
        first.map_or(Ok(()), Err)
    }

    /// Ends the run of instance `id`, if it has one, and waits for the end
    /// of its output.
    fn end(&mut self, id: u64, end: End) -> Result<()> {
        let Some(inst) = self.instances.get_mut(&id) else {
            return Ok(());
        };
        let Some(run) = inst.run.take() else {
            return Ok(());
        };
        let console = Arc::clone(&inst.console);
        let r = self.teardown(id, run, end);
        console.wait_closed(CONSOLE_DRAIN);
        r
    }

    /// STOP: ends the instance's processes (grace period `grace`).
    fn stop(&mut self, id: u64, grace: Duration) -> Result<()> {
        if self.instances.get(&id).is_none_or(|i| i.run.is_none()) {
            self.log(Some(id), format_args!("stop: no processes here"));
            return Ok(());
        }
        let r = self.end(id, End::Stop(grace));
        if r.is_ok() {
            self.log(Some(id), format_args!("stopped"));
        }
        r
    }

    /// Reaps the instances whose init exited by itself, cleans up after
    /// them and queues their reports.
    fn reap(&mut self) {
        let mut ended = Vec::new();
        for (id, inst) in &self.instances {
            if let Some(run) = &inst.run {
                match sys::try_reap(run.pid) {
                    Ok(Some(status)) => ended.push((*id, Some(status))),
                    Ok(None) => {}
                    // Not a child any more (it cannot be): gone all the same.
                    Err(_) => ended.push((*id, None)),
                }
            }
        }
        for (id, status) in ended {
            let status = status.map_or_else(
                || "unknown status".to_string(),
                |s: ExitStatus| s.to_string(),
            );
            self.log(
                Some(id),
                format_args!("init exited ({status}): the instance shut itself down"),
            );
            if let Err(f) = self.end(id, End::Exited) {
                self.log(Some(id), format_args!("cleaning up: {f}"));
            }
            self.exited.push(id);
        }
        self.zombies
            .retain(|pid| matches!(sys::try_reap(*pid), Ok(None)));
    }

    /// Forgets instance `id` if the controller no longer has it or it
    /// terminated (its console goes with it).
    fn forget_if_terminated(&mut self, id: u64) {
        let gone = match self.ctl.describe(id) {
            Ok(info) => info.state == abi::NITRO_INSTANCE_TERMINATED,
            Err(e) => e.0 == libc::ENOENT,
        };
        if gone && self.instances.get(&id).is_some_and(|i| i.run.is_none()) {
            self.instances.remove(&id);
        }
    }

    /// Forgets every stopped instance that terminated meanwhile (terminate
    /// of a stopped instance sends no command).
    fn forget_terminated(&mut self) {
        let stopped: Vec<u64> = self
            .instances
            .iter()
            .filter(|(_, i)| i.run.is_none())
            .map(|(id, _)| *id)
            .collect();
        for id in stopped {
            self.forget_if_terminated(id);
        }
    }

    /// The uid of instance `id` and its run, if it runs here.
    fn running(&mut self, id: u64) -> Option<(u32, &mut Run)> {
        let inst = self.instances.get_mut(&id)?;
        let uid = jail::uid_of(inst.slot);
        inst.run.as_mut().map(|r| (uid, r))
    }

    /// ATTACH_DISK (`attach`) or DETACH_DISK: the disk's node and by-id
    /// link made in, or removed from, the running instance's `/dev`.
    fn disk(&mut self, id: u64, d: &Disk, attach: bool) -> Result<()> {
        let Some((uid, run)) = self.running(id) else {
            // Its processes are gone (the report is on its way): its next
            // START carries every disk.
            self.log(
                Some(id),
                format_args!("{}: not running, nothing to do", d.name),
            );
            return Ok(());
        };
        let dev = disk::dev_dir(run.pid);
        if attach {
            disk::make(&dev, d, uid, uid)?;
            self.log(
                Some(id),
                format_args!(
                    "/dev/{} ({}:{}) and /dev/disk/by-id/{}",
                    d.name, d.major, d.minor, d.by_id
                ),
            );
        } else {
            disk::remove(&dev, d)?;
            self.log(Some(id), format_args!("/dev/{} removed", d.name));
        }
        Ok(())
    }

    /// ATTACH_NIC: the ENI moved into the running instance as
    /// `eth<index>` and configured.
    fn attach_nic(&mut self, id: u64, nic: Nic) -> Result<()> {
        let Some(run) = self.instances.get_mut(&id).and_then(|i| i.run.as_mut()) else {
            self.log(
                Some(id),
                format_args!("{}: not running, nothing to do", nic.host_name),
            );
            return Ok(());
        };
        if run.nics.iter().any(|(n, _)| n.index == nic.index) {
            return Err(Failure::new(
                format!("{} is there already", nic.inside_name()),
                libc::EEXIST,
            ));
        }
        let inside = run
            .netns
            .as_ref()
            .ok_or_else(|| Failure::new("no network namespace", libc::ESRCH))?;
        let home = self.net.move_in(&nic, inside)?;
        run.nics.push((nic.clone(), home));
        self.log(
            Some(id),
            format_args!(
                "{} in as {} ({}, {}/32)",
                nic.host_name,
                nic.inside_name(),
                nic.mac_text(),
                nic.ipv4
            ),
        );
        Ok(())
    }

    /// DETACH_NIC: the ENI moved out of the running instance, back to where
    /// it came from under its own name.
    fn detach_nic(&mut self, id: u64, nic: &Nic) -> Result<()> {
        let Some(run) = self.instances.get_mut(&id).and_then(|i| i.run.as_mut()) else {
            self.log(
                Some(id),
                format_args!("{}: not running, nothing to do", nic.host_name),
            );
            return Ok(());
        };
        let pos = run
            .nics
            .iter()
            .position(|(n, _)| n.index == nic.index)
            .ok_or_else(|| {
                Failure::new(
                    format!("{} was not moved in here", nic.inside_name()),
                    libc::ENODEV,
                )
            })?;
        let inside = run
            .netns
            .as_ref()
            .ok_or_else(|| Failure::new("no network namespace", libc::ESRCH))?;
        let (moved, home) = &run.nics[pos];
        self.net.move_out(moved, inside, home)?;
        let (moved, _) = run.nics.remove(pos);
        self.log(
            Some(id),
            format_args!("{} back out as {}", moved.inside_name(), moved.host_name),
        );
        Ok(())
    }

    /// Kills every instance (the daemon ends).
    fn shutdown(&mut self) {
        let running: Vec<u64> = self
            .instances
            .iter()
            .filter(|(_, i)| i.run.is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in running {
            match self.end(id, End::Kill) {
                Ok(()) => self.log(Some(id), format_args!("killed")),
                Err(f) => self.log(Some(id), format_args!("killing it: {f}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_commands() {
        let argv = launch_command(b"sh\0-c\0echo hi\0").unwrap();
        assert_eq!(argv, ["sh", "-c", "echo hi"].map(OsString::from));
        assert_eq!(command_text(&argv), "sh -c 'echo hi'");
        assert_eq!(
            launch_command(b"/bin/true\0").unwrap(),
            ["/bin/true"].map(OsString::from)
        );
        for bad in [&b""[..], b"sh", b"sh\0\0", b"\0"] {
            let e = launch_command(bad).unwrap_err();
            assert_eq!(e.errno, Errno(libc::EINVAL), "{bad:?}");
        }
        let many: Vec<u8> = std::iter::repeat_n(&b"a\0"[..], 65)
            .flatten()
            .copied()
            .collect();
        assert!(
            launch_command(&many).is_err(),
            "more than NITRO_COMMAND_ARGS_MAX"
        );
        assert_eq!(
            command_text(&["echo".into(), "it's".into(), "".into()]),
            "echo 'it'\\''s' ''"
        );
    }

    #[test]
    fn device_commands_carry_one_device() {
        let d = abi::nitro_hv_device::default();
        assert!(one_device(&[]).is_err());
        assert!(one_device(&[d, d]).is_err());
        assert!(one_device(&[d]).is_ok());
    }

    #[test]
    fn op_names() {
        assert_eq!(op_name(abi::NITRO_HV_START), "start");
        assert_eq!(op_name(abi::NITRO_HV_CONSOLE), "console");
        assert_eq!(op_name(99), "unknown command");
    }
}
