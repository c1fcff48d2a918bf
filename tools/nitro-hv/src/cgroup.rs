//! Instances' cgroups (v2): `/sys/fs/cgroup/nitro/<id>`, limited by the
//! instance type.
//!
//! The daemon prepares the parent once (the unified hierarchy mounted, the
//! `cpu`, `memory` and `pids` controllers enabled down to `nitro`), the jail
//! makes its own group with the limits and moves into it, and the daemon
//! ends it: `cgroup.kill`, wait for `populated 0` in `cgroup.events`,
//! `rmdir`.

use crate::sys::{self, Context, Failure, Result};
use std::{
    fs,
    io::{self, Read, Seek},
    os::{
        fd::{AsRawFd, OwnedFd},
        unix::fs::{DirBuilderExt, PermissionsExt},
    },
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

/// Where the unified hierarchy is mounted.
pub const ROOT: &str = "/sys/fs/cgroup";
/// The parent of every instance's group.
pub const PARENT: &str = "/sys/fs/cgroup/nitro";
/// The controllers an instance's limits need.
pub const CONTROLLERS: [&str; 3] = ["cpu", "memory", "pids"];
/// The `cpu.max` period, µs: an instance gets `vcpus` periods per period.
pub const CPU_PERIOD_US: u64 = 100_000;

/// An instance type's limits, as the START command gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// vCPUs.
    pub vcpus: u32,
    /// Memory, bytes.
    pub memory_bytes: u64,
    /// Most processes.
    pub pids: u32,
}

impl Limits {
    /// The cgroup files that carry the limits and what goes in each, in the
    /// order they are written.
    pub fn files(&self) -> [(&'static str, String); 4] {
        [
            (
                "cpu.max",
                format!("{} {CPU_PERIOD_US}", u64::from(self.vcpus) * CPU_PERIOD_US),
            ),
            ("memory.max", self.memory_bytes.to_string()),
            ("memory.swap.max", "0".into()),
            ("pids.max", self.pids.to_string()),
        ]
    }
}

/// The group of the instance named `name` (`i-...`).
pub fn instance_path(name: &str) -> PathBuf {
    Path::new(PARENT).join(name)
}

/// Whether the text of a `cgroup.events` file says the group has
/// processes (`None` if it has no `populated` line).
pub fn populated(events: &str) -> Option<bool> {
    events.lines().find_map(|line| {
        let value = line.strip_prefix("populated ")?;
        match value.trim() {
            "0" => Some(false),
            "1" => Some(true),
            _ => None,
        }
    })
}

/// Makes group `dir`, mode 0755 whatever the umask: only root may make
/// groups below it.
fn mkdir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new().mode(0o755).create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
}

/// How many processes of group `dir` the OOM killer killed (its
/// `memory.events`), if it can be read.
pub fn oom_kills(dir: &Path) -> Option<u64> {
    let text = fs::read_to_string(dir.join("memory.events")).ok()?;
    event_count(&text, "oom_kill")
}

/// The count of `event` in the text of a cgroup events file
/// (`<event> <count>` lines).
pub fn event_count(text: &str, event: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(' ')?;
        (key == event).then(|| value.trim().parse().ok())?
    })
}

/// Writes `value` to the cgroup file `file` of group `dir`.
fn write(dir: &Path, file: &str, value: &str) -> io::Result<()> {
    fs::write(dir.join(file), value)
}

/// Makes sure the unified hierarchy is mounted at [`ROOT`]: mounts it if
/// nothing is (sysfs's own directory is there), refuses anything else (a
/// cgroup v1 or hybrid layout is the host's and stays as it is).
fn ensure_mounted() -> Result<()> {
    let root = sys::cpath(Path::new(ROOT))?;
    // SAFETY: statfs is plain data, filled in by the call.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `root` is NUL-terminated and `st` writable.
    sys::cvt(unsafe { libc::statfs(root.as_ptr(), &mut st) })
        .ctx(|| format!("{ROOT}: is sysfs mounted on /sys?"))?;
    match st.f_type {
        libc::CGROUP2_SUPER_MAGIC => Ok(()),
        libc::SYSFS_MAGIC => {
            let fstype = sys::cstr("cgroup2")?;
            // SAFETY: all strings are NUL-terminated; no data argument.
            sys::cvt(unsafe {
                libc::mount(
                    fstype.as_ptr(),
                    root.as_ptr(),
                    fstype.as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    std::ptr::null(),
                )
            })
            .map(|_| ())
            .ctx(|| format!("mount cgroup2 on {ROOT}"))
        }
        other => Err(Failure::new(
            format!(
                "{ROOT} is not the unified cgroup hierarchy (file system type {other:#x}): \
                 nitro-hv needs cgroup v2 there (boot with systemd.unified_cgroup_hierarchy=1)"
            ),
            libc::EOPNOTSUPP,
        )),
    }
}

/// Enables [`CONTROLLERS`] for the children of group `dir`.
fn enable_controllers(dir: &Path) -> Result<()> {
    let available = fs::read_to_string(dir.join("cgroup.controllers"))
        .ctx(|| format!("read {}/cgroup.controllers", dir.display()))?;
    for c in CONTROLLERS {
        if !available.split_whitespace().any(|a| a == c) {
            return Err(Failure::new(
                format!(
                    "cgroup controller {c} is not available in {} (it has: {})",
                    dir.display(),
                    available.trim()
                ),
                libc::EOPNOTSUPP,
            ));
        }
        write(dir, "cgroup.subtree_control", &format!("+{c}"))
            .ctx(|| format!("enable +{c} in {}/cgroup.subtree_control", dir.display()))?;
    }
    Ok(())
}

/// The daemon's preparation: the hierarchy mounted, [`PARENT`] made, the
/// controllers enabled in the root's and its `cgroup.subtree_control`.
pub fn prepare_parent() -> Result<()> {
    ensure_mounted()?;
    enable_controllers(Path::new(ROOT))?;
    match mkdir(Path::new(PARENT)) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).ctx(|| format!("mkdir {PARENT}")),
    }
    enable_controllers(Path::new(PARENT))
}

/// The jail's part: makes group `dir` with `limits` and moves the calling
/// process into it (so that everything it becomes and starts is counted
/// and limited there).
pub fn create_and_join(dir: &Path, limits: &Limits) -> Result<()> {
    mkdir(dir).ctx(|| format!("mkdir {}", dir.display()))?;
    for (file, value) in limits.files() {
        match write(dir, file, &value) {
            Ok(()) => {}
            // Without swap accounting (no CONFIG_SWAP) there is no swap to
            // limit, and no file for it.
            Err(e) if file == "memory.swap.max" && e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).ctx(|| format!("write {value:?} to {}/{file}", dir.display())),
        }
    }
    write(dir, "cgroup.procs", "0").ctx(|| format!("join {}", dir.display()))
}

/// Reads `cgroup.events` from the start.
fn read_events(file: &mut fs::File) -> io::Result<String> {
    let mut text = String::new();
    file.rewind()?;
    file.read_to_string(&mut text)?;
    Ok(text)
}

/// Waits until group `dir` has no process, at most `timeout`.
pub fn wait_empty(dir: &Path, timeout: Duration) -> Result<()> {
    let path = dir.join("cgroup.events");
    let mut events = fs::File::open(&path).ctx(|| format!("open {}", path.display()))?;
    let deadline = Instant::now() + timeout;
    loop {
        let text = read_events(&mut events).ctx(|| format!("read {}", path.display()))?;
        if populated(&text) == Some(false) {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::new(
                format!("{} still has processes", dir.display()),
                libc::ETIMEDOUT,
            ));
        }
        // A change of the file wakes poll with POLLPRI; the short bound only
        // guards against a change between the read and the poll.
        sys::poll(
            events.as_raw_fd(),
            libc::POLLPRI,
            Some(left.min(Duration::from_millis(100))),
        )
        .ctx(|| format!("poll {}", path.display()))?;
    }
}

/// Ends group `dir`: kills every process in it, waits (at most `timeout`)
/// until none is left, removes it. A group that does not exist is no
/// error.
pub fn destroy(dir: &Path, timeout: Duration) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    write(dir, "cgroup.kill", "1").ctx(|| format!("write 1 to {}/cgroup.kill", dir.display()))?;
    wait_empty(dir, timeout)?;
    let deadline = Instant::now() + timeout;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            // Emptied a moment ago: the last task may still be leaving it.
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e).ctx(|| format!("rmdir {}", dir.display())),
        }
    }
}

/// The group's statistics files the controller reads for metrics:
/// `cpu.stat`, `memory.current` and `memory.peak`, open for reading.
pub fn stat_files(dir: &Path) -> Result<[OwnedFd; 3]> {
    let open = |name: &str| sys::open(&dir.join(name), libc::O_RDONLY);
    Ok([
        open("cpu.stat")?,
        open("memory.current")?,
        open("memory.peak")?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::lifecycle::INSTANCE_TYPES;

    /// The limits of the instance type `name`, from the controller's table.
    fn limits_of(name: &str) -> Limits {
        let t = INSTANCE_TYPES.iter().find(|t| t.name == name).unwrap();
        Limits {
            vcpus: t.vcpus,
            memory_bytes: t.memory_bytes,
            pids: t.pids,
        }
    }

    #[test]
    fn limits_of_the_types() {
        let small = limits_of("nitro.small").files();
        assert_eq!(small[0], ("cpu.max", "100000 100000".to_string()));
        assert_eq!(small[1], ("memory.max", "268435456".to_string()));
        assert_eq!(small[2], ("memory.swap.max", "0".to_string()));
        assert_eq!(small[3], ("pids.max", "512".to_string()));
        let large = limits_of("nitrod.large").files();
        assert_eq!(large[0].1, "200000 100000");
        assert_eq!(large[1].1, (1u64 << 30).to_string());
        assert_eq!(large[3].1, "1024");
        let micro = limits_of("nitro.micro").files();
        assert_eq!(micro[1].1, (128u64 << 20).to_string());
        assert_eq!(micro[3].1, "256");
    }

    #[test]
    fn events_files() {
        assert_eq!(populated("populated 1\nfrozen 0\n"), Some(true));
        assert_eq!(populated("populated 0\nfrozen 0\n"), Some(false));
        assert_eq!(populated("frozen 0\n"), None);
        assert_eq!(populated("populated x\n"), None);
    }

    #[test]
    fn memory_events() {
        let text = "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(event_count(text, "oom_kill"), Some(1));
        assert_eq!(event_count(text, "max"), Some(12));
        assert_eq!(event_count(text, "oom_group"), None);
        assert_eq!(event_count("oom_kill x\n", "oom_kill"), None);
    }

    #[test]
    fn paths() {
        assert_eq!(
            instance_path("i-00123456789abcdef"),
            Path::new("/sys/fs/cgroup/nitro/i-00123456789abcdef")
        );
    }
}
