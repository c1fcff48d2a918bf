//! An instance's network interfaces: its ENIs, moved from the VPC card
//! host's network namespace (where the card made them, as `eni3`) into the
//! instance's as `eth<index>`, and back out under their own name.
//!
//! The daemon may run in another namespace than the host's ENIs (a VPC card
//! host is created in a namespace of its own, `nitroctl host create
//! --netns`), so it finds that namespace by the interface's name and MAC:
//! its own first, then those of `/run/netns`, then those of every process.
//! The namespace found is kept (all ENIs of one host are in the same one)
//! and each moved ENI remembers it, so that it goes back exactly where it
//! came from. The daemon holds each instance's namespace open, so that its
//! ENIs can be taken out even after its processes are gone; only a daemon
//! that is killed cannot, and the kernel then hands them to the initial
//! namespace as `dev<ifindex>` (they have no rtnetlink ops): an ENI not
//! found under its name is looked for there by its MAC, and goes back to
//! the host's namespace when it leaves the instance.
//!
//! The changes are made by iproute2's `ip` in a child that first enters the
//! namespace (setns(2), no `nsenter`); the target namespace of a move is
//! passed as descriptor 3 (`netns /proc/self/fd/3`), and a move renames in
//! the same request, so that no name can clash on either side. Questions
//! (does this namespace have the interface, bring `lo` up) are ioctls from a
//! short-lived thread that entered the namespace: setns(2) of a network
//! namespace changes only the calling thread.

use crate::{
    abi::{self, lifecycle, state},
    sys::{self, Context, Errno, Failure, Result},
};
use std::{
    fmt::Write as _,
    fs,
    io::{self, Write},
    net::Ipv4Addr,
    os::{
        fd::{AsRawFd, OwnedFd, RawFd},
        unix::{fs::MetadataExt, process::CommandExt},
    },
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::Arc,
};

/// Where `ip` is looked for.
const IP_PATHS: [&str; 4] = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"];

/// The descriptor a move's target namespace is passed on to `ip` as.
const TARGET_FD: RawFd = 3;

/// A network namespace, held open (which keeps it alive).
#[derive(Debug)]
pub struct Netns {
    /// Its nsfs file.
    fd: OwnedFd,
    /// Its identity: the nsfs device and inode.
    id: (u64, u64),
}

impl Netns {
    /// The namespace of `path` (`/proc/<pid>/ns/net`, `/run/netns/<name>`).
    pub fn open(path: &Path) -> Result<Self> {
        let fd = sys::open(path, libc::O_RDONLY)?;
        let file = fs::File::from(fd);
        let m = file.metadata().ctx(|| format!("stat {}", path.display()))?;
        Ok(Netns {
            fd: file.into(),
            id: (m.dev(), m.ino()),
        })
    }

    /// The namespace of process `pid`.
    pub fn of_pid(pid: libc::pid_t) -> Result<Self> {
        Self::open(Path::new(&format!("/proc/{pid}/ns/net")))
    }

    /// Runs `f` in a thread that entered this namespace; gives its result.
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::result::Result<T, Errno> {
        // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor of our open one.
        let dup = sys::cvt(unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) })?;
        // SAFETY: `dup` is a new open descriptor nothing else owns.
        let fd: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(dup) };
        let thread = sys::spawn_quiet("netns", move || {
            // SAFETY: `fd` is an open network namespace; setns only changes
            // this thread, which ends with the call.
            sys::cvt(unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) })?;
            Ok(f())
        })
        .map_err(|e| Errno::from_io(&e))?;
        thread.join().map_err(|_| Errno(libc::EIO))?
    }
}

/// An ENI of an instance, as a command gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nic {
    /// Its device index: it is `eth<index>` in the instance.
    pub index: u32,
    /// Its name in the VPC card host's namespace (`eni3`).
    pub host_name: String,
    /// Its MAC address.
    pub mac: [u8; 6],
    /// Its primary private address.
    pub ipv4: Ipv4Addr,
}

impl Nic {
    /// The ENI a command's device names, checked.
    pub fn from_hv(d: &abi::nitro_hv_device) -> Result<Self> {
        if d.kind != abi::NITRO_HV_NIC {
            return Err(Failure::new(
                format!("device of kind {} is not a NIC", d.kind),
                libc::EINVAL,
            ));
        }
        let host_name = abi::field_text(abi::field_bytes(&d.device), state::ifname_byte)
            .filter(|n| !n.is_empty() && n.len() < libc::IFNAMSIZ)
            .ok_or_else(|| Failure::new("NIC without a valid interface name", libc::EINVAL))?;
        Ok(Nic {
            index: d.index,
            host_name: host_name.to_string(),
            mac: d.mac,
            ipv4: Ipv4Addr::from(u32::from_be(d.ipv4)),
        })
    }

    /// Its name in the instance: `eth<index>`.
    pub fn inside_name(&self) -> String {
        let mut buf = [0u8; 16];
        let n = lifecycle::nic_name(self.index, &mut buf);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// Its MAC as people write it.
    pub fn mac_text(&self) -> String {
        let m = self.mac;
        format!(
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// The `ip -batch` script run in the namespace that has `nic` (as `name`)
/// that moves it into the namespace passed as descriptor 3, renamed.
pub fn move_in_script(name: &str, nic: &Nic) -> String {
    format!(
        "link set dev {name} netns /proc/self/fd/{TARGET_FD} name {}\n",
        nic.inside_name()
    )
}

/// The `ip -batch` script run in the instance's namespace that configures
/// `nic` there: up, its address as a /32, and on `eth0` the default route
/// through the device (every destination is then resolved on the link,
/// where the VPC card answers ARP for the addresses of the VPC).
pub fn configure_script(nic: &Nic) -> String {
    let dev = nic.inside_name();
    let mut s = format!(
        "link set dev {dev} up\naddress add {}/32 dev {dev}\n",
        nic.ipv4
    );
    if nic.index == 0 {
        let _ = writeln!(s, "route add default dev {dev}");
    }
    s
}

/// The `ip -batch` script run in the instance's namespace that moves `nic`
/// back to the namespace passed as descriptor 3, as `name` (its host name,
/// or a pattern such as `eni%d` the kernel fills in; its address and routes
/// go with the move).
pub fn move_out_script(nic: &Nic, name: &str) -> String {
    format!(
        "link set dev {} netns /proc/self/fd/{TARGET_FD} name {name}\n",
        nic.inside_name()
    )
}

/// The errno an `ip` failure stands for, from what it printed: the kernel's
/// answer (`RTNETLINK answers: File exists`), a device it could not find, or
/// EIO when it does not say.
pub fn errno_from_ip(stderr: &str) -> Errno {
    for line in stderr.lines() {
        if let Some(answer) = line.split("RTNETLINK answers: ").nth(1) {
            if let Some(e) = Errno::from_message(answer.trim()) {
                return e;
            }
        }
        if line.contains("Cannot find device") {
            return Errno(libc::ENODEV);
        }
    }
    Errno(libc::EIO)
}

/// Whether this thread's namespace has interface `name` with `mac`.
fn has_interface(name: &str, mac: [u8; 6]) -> bool {
    let Ok(sock) = socket() else {
        return false;
    };
    // SAFETY: ifreq is plain data; all zero is a valid (empty) request.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= req.ifr_name.len() {
        return false;
    }
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    // SAFETY: `req` is a valid ifreq with a NUL-terminated name; the ioctl
    // fills in its hardware address.
    if unsafe {
        libc::ioctl(
            sock.as_raw_fd(),
            libc::SIOCGIFHWADDR,
            &mut req as *mut libc::ifreq,
        )
    } != 0
    {
        return false;
    }
    // SAFETY: SIOCGIFHWADDR succeeded: the union holds the address.
    let hw = unsafe { req.ifr_ifru.ifru_hwaddr };
    hw.sa_data[..6].iter().zip(mac).all(|(a, b)| *a as u8 == b)
}

/// The name of the interface of this thread's namespace that has `mac`, if
/// there is one. An ENI's MAC is its identity: its name is not (the card
/// names a new ENI `eni0` again while the first `eni0` is in an instance,
/// and a dying namespace hands its ENIs to the initial one under their
/// inside name, or as `dev<ifindex>` if that is taken there).
fn named_with(mac: [u8; 6]) -> Option<String> {
    // SAFETY: if_nameindex returns an array ended by a zero entry, or null.
    let list = unsafe { libc::if_nameindex() };
    if list.is_null() {
        return None;
    }
    let mut found = None;
    let mut i = 0;
    loop {
        // SAFETY: `i` does not pass the terminating entry (checked below).
        let entry = unsafe { &*list.add(i) };
        if entry.if_index == 0 || entry.if_name.is_null() {
            break;
        }
        // SAFETY: a non-null if_name is a NUL-terminated string of the list.
        let name = unsafe { std::ffi::CStr::from_ptr(entry.if_name) };
        let name = name.to_string_lossy().into_owned();
        if has_interface(&name, mac) {
            found = Some(name);
            break;
        }
        i += 1;
    }
    // SAFETY: `list` came from if_nameindex and is freed once.
    unsafe { libc::if_freenameindex(list) };
    found
}

fn loopback_up() -> std::result::Result<(), Errno> {
    let sock = socket()?;
    // SAFETY: ifreq is plain data; all zero is a valid (empty) request.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    req.ifr_name[0] = b'l' as libc::c_char;
    req.ifr_name[1] = b'o' as libc::c_char;
    // SAFETY: `req` is a valid ifreq naming "lo"; the ioctl fills in flags.
    sys::cvt(unsafe {
        libc::ioctl(
            sock.as_raw_fd(),
            libc::SIOCGIFFLAGS,
            &mut req as *mut libc::ifreq,
        )
    })?;
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    req.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    // SAFETY: as above, with the flags to set.
    sys::cvt(unsafe {
        libc::ioctl(
            sock.as_raw_fd(),
            libc::SIOCSIFFLAGS,
            &req as *const libc::ifreq,
        )
    })?;
    Ok(())
}

/// A socket of this thread's namespace, for interface ioctls.
fn socket() -> std::result::Result<OwnedFd, Errno> {
    let fd =
        // SAFETY: socket takes plain integers and returns a new descriptor.
        sys::cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` is a new open descriptor nothing else owns.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

/// The daemon's view of the host's network: where `ip` is, and the
/// namespace the host's ENIs were last found in.
#[derive(Debug)]
pub struct Net {
    ip: Option<PathBuf>,
    home: Option<Arc<Netns>>,
}

impl Net {
    /// Finds `ip`.
    pub fn new() -> Self {
        Net {
            ip: IP_PATHS.iter().map(PathBuf::from).find(|p| p.exists()),
            home: None,
        }
    }

    /// Where `ip` is (`None`: not installed, NIC commands fail ENOENT).
    pub fn ip_path(&self) -> Option<&Path> {
        self.ip.as_deref()
    }

    /// Brings `lo` of namespace `ns` up.
    pub fn loopback_up(&self, ns: &Netns) -> Result<()> {
        ns.run(loopback_up)
            .and_then(|r| r)
            .ctx(|| "bring lo up in the instance's network namespace")
    }

    /// Runs `ip -batch -` with `script` in namespace `ns`, `target` passed as
    /// descriptor 3.
    fn ip(&self, ns: &Netns, target: Option<&Netns>, script: &str) -> Result<()> {
        let ip = self.ip.as_deref().ok_or_else(|| {
            Failure::new(
                format!("ip (iproute2) not found in {}", IP_PATHS.join(", ")),
                libc::ENOENT,
            )
        })?;
        let ns_fd = ns.fd.as_raw_fd();
        let target_fd = target.map(|t| t.fd.as_raw_fd());
        let mut cmd = Command::new(ip);
        cmd.args(["-batch", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // SAFETY: the hook runs in the child between fork and exec, making
        // only async-signal-safe calls (setns, dup2, fcntl) on inherited fds.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(ns_fd, libc::CLONE_NEWNET) != 0 {
                    return Err(io::Error::last_os_error());
                }
                match target_fd {
                    // Already in place: only its close-on-exec flag goes.
                    Some(TARGET_FD) => {
                        if libc::fcntl(TARGET_FD, libc::F_SETFD, 0) < 0 {
                            return Err(io::Error::last_os_error());
                        }
                    }
                    Some(fd) => {
                        if libc::dup2(fd, TARGET_FD) < 0 {
                            return Err(io::Error::last_os_error());
                        }
                    }
                    None => {}
                }
                Ok(())
            });
        }
        let what = || format!("ip -batch: {}", script.trim_end().replace('\n', "; "));
        let mut child = cmd.spawn().ctx(what)?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(script.as_bytes()).ctx(what)?;
        }
        let out = child.wait_with_output().ctx(what)?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(Failure {
            what: format!("{} ({})", what(), stderr.trim().replace('\n', "; ")),
            errno: errno_from_ip(&stderr),
        })
    }

    /// Where `nic`'s interface is now, and its name there, found by its MAC:
    /// in the namespace it was found in last, the daemon's own, those of
    /// `/run/netns`, those of every process (the initial one among them:
    /// where a dying namespace hands its ENIs, when their hypervisor was
    /// killed and could not take them out).
    fn locate(&mut self, nic: &Nic) -> Result<(Arc<Netns>, String)> {
        let mut seen = Vec::new();
        let mut paths = vec![PathBuf::from("/proc/self/ns/net")];
        for dir in ["/run/netns", "/var/run/netns"] {
            if let Ok(entries) = fs::read_dir(dir) {
                paths.extend(entries.flatten().map(|e| e.path()));
            }
        }
        if let Ok(entries) = fs::read_dir("/proc") {
            let pids = entries.flatten().filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            });
            paths.extend(pids.map(|e| e.path().join("ns/net")));
        }
        let mac = nic.mac;
        let find = |ns: &Netns| ns.run(move || named_with(mac)).ok().flatten();
        if let Some(home) = self.home.clone() {
            seen.push(home.id);
            if let Some(name) = find(&home) {
                return Ok((home, name));
            }
        }
        for path in paths {
            // Identity first (a stat), so that each namespace is opened and
            // asked once however many processes share it.
            let Ok(m) = fs::metadata(&path) else { continue };
            let id = (m.dev(), m.ino());
            if seen.contains(&id) {
                continue;
            }
            seen.push(id);
            let Ok(ns) = Netns::open(&path) else { continue };
            if let Some(name) = find(&ns) {
                let found = Arc::new(ns);
                // The host's namespace is where its ENIs are under the
                // card's names; an ENI found under another name is one the
                // initial namespace took in, and goes home when it leaves.
                if name == nic.host_name {
                    self.home = Some(Arc::clone(&found));
                }
                return Ok((found, name));
            }
        }
        Err(Failure::new(
            format!(
                "interface {} ({}) is in no network namespace",
                nic.host_name,
                nic.mac_text()
            ),
            libc::ENODEV,
        ))
    }

    /// Moves `nic` from the host's namespace into `inside` (the instance's)
    /// and configures it; gives the namespace it goes back to: the one it
    /// came from (for an orphan, the host's namespace if known). On failure
    /// it is back where it was.
    pub fn move_in(&mut self, nic: &Nic, inside: &Netns) -> Result<Arc<Netns>> {
        let (from, name) = self.locate(nic)?;
        self.ip(&from, Some(inside), &move_in_script(&name, nic))?;
        if let Err(f) = self.ip(inside, None, &configure_script(nic)) {
            // Renamed by the move: out under its own name again.
            let _ = self.ip(inside, Some(&from), &move_out_script(nic, &name));
            return Err(f);
        }
        if name != nic.host_name {
            if let Some(home) = self.home.clone() {
                return Ok(home);
            }
        }
        Ok(from)
    }

    /// Moves `nic` out of `inside` back to `home` under its host name, or,
    /// when the card has given that name to another ENI meanwhile (it names
    /// each new one `eni<N>`, the lowest free), under the next free
    /// `eni<N>`: the ENI is found by its MAC, whatever its name.
    pub fn move_out(&self, nic: &Nic, inside: &Netns, home: &Netns) -> Result<()> {
        match self.ip(inside, Some(home), &move_out_script(nic, &nic.host_name)) {
            Err(f) if f.errno == Errno(libc::EEXIST) => {
                self.ip(inside, Some(home), &move_out_script(nic, "eni%d"))
            }
            r => r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ENI eni3 (02:00:00:00:00:2a, 10.1.0.5) as device index `index`.
    fn nic(index: u32) -> Nic {
        Nic {
            index,
            host_name: "eni3".into(),
            mac: [0x02, 0, 0, 0, 0, 0x2a],
            ipv4: Ipv4Addr::new(10, 1, 0, 5),
        }
    }

    #[test]
    fn nics_from_commands() {
        let mut d = abi::nitro_hv_device {
            kind: abi::NITRO_HV_NIC,
            index: 1,
            mac: [2, 0, 0, 0, 0, 0x2a],
            ipv4: u32::from(Ipv4Addr::new(10, 1, 0, 5)).to_be(),
            ..Default::default()
        };
        for (dst, src) in d.device.iter_mut().zip(b"eni3") {
            *dst = *src as libc::c_char;
        }
        let n = Nic::from_hv(&d).unwrap();
        assert_eq!(n.host_name, "eni3");
        assert_eq!(n.inside_name(), "eth1");
        assert_eq!(n.ipv4, Ipv4Addr::new(10, 1, 0, 5));
        assert_eq!(n.mac_text(), "02:00:00:00:00:2a");
        d.device = [0; 16];
        assert!(Nic::from_hv(&d).is_err(), "no name");
        d.kind = abi::NITRO_HV_DISK;
        assert!(Nic::from_hv(&d).is_err());
    }

    #[test]
    fn scripts() {
        assert_eq!(
            move_in_script("eni3", &nic(0)),
            "link set dev eni3 netns /proc/self/fd/3 name eth0\n"
        );
        assert_eq!(
            move_in_script("dev12", &nic(1)),
            "link set dev dev12 netns /proc/self/fd/3 name eth1\n"
        );
        assert_eq!(
            configure_script(&nic(0)),
            "link set dev eth0 up\naddress add 10.1.0.5/32 dev eth0\nroute add default dev eth0\n"
        );
        assert_eq!(
            configure_script(&nic(2)),
            "link set dev eth2 up\naddress add 10.1.0.5/32 dev eth2\n",
            "the default route is eth0's only"
        );
        assert_eq!(
            move_out_script(&nic(2), "eni3"),
            "link set dev eth2 netns /proc/self/fd/3 name eni3\n"
        );
    }

    #[test]
    fn ip_errors() {
        assert_eq!(
            errno_from_ip("RTNETLINK answers: File exists\nCommand failed -:1\n"),
            Errno(libc::EEXIST)
        );
        assert_eq!(
            errno_from_ip("Cannot find device \"eni3\"\nCommand failed -:1\n"),
            Errno(libc::ENODEV)
        );
        assert_eq!(
            errno_from_ip("Error: argument \"x\" is wrong\n"),
            Errno(libc::EIO)
        );
    }

    #[test]
    fn the_own_namespace_answers() {
        let own = Netns::open(Path::new("/proc/self/ns/net")).unwrap();
        assert_eq!(own.run(|| 42), Ok(42));
        // No interface of that name and MAC.
        assert_eq!(
            own.run(|| has_interface("nitrohv-none", [2, 0, 0, 0, 0, 1])),
            Ok(false)
        );
    }

    /// A throwaway network namespace, held by a sleeping process.
    struct Scratch(std::process::Child, Netns);

    impl Scratch {
        /// A new namespace, once `unshare` has made it.
        fn new() -> Self {
            let own = Netns::open(Path::new("/proc/self/ns/net")).unwrap();
            let mut child = Command::new("unshare")
                .args(["--net", "sleep", "60"])
                .spawn()
                .unwrap();
            // Until unshare has made its namespace, it has ours.
            for _ in 0..500 {
                if let Ok(ns) = Netns::of_pid(child.id() as libc::pid_t) {
                    if ns.id != own.id {
                        return Scratch(child, ns);
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
            panic!("unshare --net made no namespace");
        }

        /// What `ip -o ARGS` prints in this namespace.
        fn ip(&self, args: &str) -> String {
            let fd = self.1.fd.as_raw_fd();
            let mut cmd = Command::new(Net::new().ip.unwrap());
            cmd.arg("-o").args(args.split_whitespace());
            // SAFETY: setns only, between fork and exec.
            unsafe {
                cmd.pre_exec(move || match libc::setns(fd, libc::CLONE_NEWNET) {
                    0 => Ok(()),
                    _ => Err(io::Error::last_os_error()),
                });
            }
            String::from_utf8(cmd.output().unwrap().stdout).unwrap()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    #[ignore = "needs root, unshare and iproute2: cargo test -- --ignored"]
    fn enis_move_in_and_back_out() {
        let home = Scratch::new();
        let inside = Scratch::new();
        let mut net = Net::new();
        net.ip(
            &home.1,
            None,
            "link add eni7 address 02:00:00:00:00:77 type veth peer name peer7\n",
        )
        .unwrap();
        let nic = Nic {
            index: 0,
            host_name: "eni7".into(),
            mac: [2, 0, 0, 0, 0, 0x77],
            ipv4: Ipv4Addr::new(10, 1, 0, 5),
        };
        net.loopback_up(&inside.1).unwrap();
        let from = net.move_in(&nic, &inside.1).unwrap();
        assert_eq!(from.id, home.1.id, "found where it was");
        let links = inside.ip("link show");
        assert!(links.contains("lo: <LOOPBACK,UP,LOWER_UP>"), "{links}");
        assert!(links.contains("eth0@"), "{links}");
        assert!(links.contains("link/ether 02:00:00:00:00:77"), "{links}");
        assert!(!home.ip("link show").contains("eni7"));
        assert!(inside
            .ip("address show dev eth0")
            .contains("inet 10.1.0.5/32"));
        let routes = inside.ip("route show");
        assert!(routes.contains("default dev eth0 scope link"), "{routes}");
        // Not where it was any more: nothing to move.
        assert!(net.move_in(&nic, &inside.1).is_err());
        net.move_out(&nic, &inside.1, &from).unwrap();
        assert!(home.ip("link show").contains("eni7@"));
        assert!(!inside.ip("link show").contains("eth0"));
        // The namespace is remembered: found at once the next time.
        let again = net.move_in(&nic, &inside.1).unwrap();
        assert!(Arc::ptr_eq(&again, &from));
        net.move_out(&nic, &inside.1, &again).unwrap();
        let gone = Nic {
            host_name: "eni8".into(),
            ..nic
        };
        assert_eq!(
            net.move_in(&gone, &inside.1).unwrap_err().errno,
            Errno(libc::ENODEV)
        );
    }
}
