//! The jail's private root, built in its new mount namespace and then made
//! its `/` with pivot_root(2):
//!
//! ```text
//! /               tmpfs, root's, 0755
//! /usr            the base image's /usr, bound read-only, nosuid, nodev
//! /bin /sbin /lib /lib64 ...   -> usr/... (those the image has)
//! /etc            passwd, group (root and the instance user), hostname,
//!                 hosts, nsswitch.conf, resolv.conf (empty); the image's
//!                 alternatives links and ld.so.cache
//! /tmp            1777          /run  0755     /home/instance  the user's, 0700
//! /proc           proc of the instance's PID namespace
//! /sys/fs/cgroup  cgroup2, read-only: its cgroup namespace shows only its group
//! /dev            tmpfs: null zero full random urandom tty (the host's numbers),
//!                 pts (devpts, a new instance), ptmx, shm (tmpfs 1777),
//!                 fd stdin stdout stderr; its disks are added by the daemon
//! ```
//!
//! Everything is made below a staging mount point, `/tmp` of the jail's own
//! (private) mount namespace; the base image is reached through a
//! descriptor opened before anything is mounted, so a base below `/tmp` is
//! found all the same.

use crate::sys::{self, Context, Errno, Failure, Result};
use std::{
    ffi::CString,
    fs,
    os::{
        fd::{AsRawFd, OwnedFd},
        unix::fs::{DirBuilderExt, PermissionsExt},
    },
    path::{Path, PathBuf},
    ptr,
};

/// Where the new root is built before it becomes `/`.
const STAGE: &str = "/tmp";

/// The instance user's name and home.
pub const USER: &str = "instance";
/// Its home directory.
pub const HOME: &str = "/home/instance";

/// The character devices of every instance's `/dev`: name, mode, and the
/// (major, minor) the host's are (`Documentation/admin-guide/devices.txt`).
pub const CHAR_DEVICES: [(&str, u32, u32); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// The `/dev` links every instance has.
const DEV_LINKS: [(&str, &str); 5] = [
    ("ptmx", "pts/ptmx"),
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// The top-level directories of `/usr` that get a link at `/`.
const USR_LINKS: [&str; 6] = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Who the instance is and what it is called.
#[derive(Clone, Debug)]
pub struct Identity {
    /// Its id, which is its hostname (`i-...`).
    pub hostname: String,
    /// Its uid, also its gid.
    pub uid: u32,
    /// The size of its tmpfs mounts: its memory (what they hold is charged
    /// to its cgroup anyway).
    pub tmpfs_bytes: u64,
}

/// mount(2).
fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> Result<()> {
    let what = || {
        format!(
            "mount {} on {} ({})",
            source.map_or_else(|| "-".into(), |s| s.display().to_string()),
            target.display(),
            data.unwrap_or("-")
        )
    };
    let source = source.map(sys::cpath).transpose()?;
    let target_c = sys::cpath(target)?;
    let fstype = fstype.map(sys::cstr).transpose()?;
    let data = data.map(sys::cstr).transpose()?;
    let p = |c: &Option<CString>| c.as_ref().map_or(ptr::null(), |c| c.as_ptr());
    // SAFETY: every pointer is null or a NUL-terminated string alive for the
    // call; the data, when given, is a string as these file systems expect.
    sys::cvt(unsafe {
        libc::mount(
            p(&source),
            target_c.as_ptr(),
            p(&fstype),
            flags,
            p(&data).cast(),
        )
    })
    .map(|_| ())
    .ctx(what)
}

/// Makes directory `path` with exactly `mode`.
fn mkdir(path: &Path, mode: u32) -> Result<()> {
    fs::DirBuilder::new()
        .mode(mode)
        .create(path)
        .ctx(|| format!("mkdir {}", path.display()))?;
    // The sticky bit is not taken from mkdir's mode on every file system.
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .ctx(|| format!("chmod {mode:o} {}", path.display()))
}

/// Writes a root-owned file `path` (0644) holding `text`.
fn write_file(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).ctx(|| format!("write {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644))
        .ctx(|| format!("chmod 644 {}", path.display()))
}

/// Makes symlink `path` -> `target`.
fn symlink(target: &str, path: &Path) -> Result<()> {
    std::os::unix::fs::symlink(target, path)
        .ctx(|| format!("symlink {} -> {target}", path.display()))
}

/// The files of the instance's `/etc`: (name, contents).
pub fn etc_files(id: &Identity) -> [(&'static str, String); 6] {
    let uid = id.uid;
    let host = &id.hostname;
    [
        (
            "passwd",
            format!(
                "root:x:0:0:root:/root:/usr/sbin/nologin\n\
                 {USER}:x:{uid}:{uid}:{USER}:{HOME}:/bin/sh\n"
            ),
        ),
        ("group", format!("root:x:0:\n{USER}:x:{uid}:\n")),
        ("hostname", format!("{host}\n")),
        (
            "hosts",
            format!("127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\t{host}\n"),
        ),
        (
            "nsswitch.conf",
            "passwd: files\ngroup: files\nhosts: files dns\n".into(),
        ),
        ("resolv.conf", String::new()),
    ]
}

/// What the instance's `/etc` takes from the image's (`image_etc`): the
/// links of `alternatives` (Debian's `/usr/bin/awk` points through
/// `/etc/alternatives/awk`) and the dynamic linker's cache. Nothing else of
/// the host's configuration.
fn copy_from_image(image_etc: &Path, etc: &Path) -> Result<()> {
    if let Ok(entries) = fs::read_dir(image_etc.join("alternatives")) {
        let alternatives = etc.join("alternatives");
        mkdir(&alternatives, 0o755)?;
        for entry in entries.flatten() {
            if let Ok(target) = fs::read_link(entry.path()) {
                let link = alternatives.join(entry.file_name());
                std::os::unix::fs::symlink(&target, &link)
                    .ctx(|| format!("symlink {} -> {}", link.display(), target.display()))?;
            }
        }
    }
    let cache = image_etc.join("ld.so.cache");
    if cache.is_file() {
        let copy = etc.join("ld.so.cache");
        fs::copy(&cache, &copy).ctx(|| format!("copy the image's {}", copy.display()))?;
        fs::set_permissions(&copy, fs::Permissions::from_mode(0o644))
            .ctx(|| format!("chmod 644 {}", copy.display()))?;
    }
    Ok(())
}

/// Builds the root below [`STAGE`] from the image `base` (open as a
/// directory) and makes it `/`. Runs in the jail's fresh mount namespace,
/// as root, before anything else looks at the file system.
pub fn build(base: &OwnedFd, base_path: &Path, id: &Identity) -> Result<()> {
    let root = Path::new(STAGE);
    // Nothing done here may reach the host's mounts.
    mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )?;
    let size = format!("size={}", id.tmpfs_bytes);
    mount(
        Some(Path::new("tmpfs")),
        root,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(&format!("mode=0755,uid=0,gid=0,{size}")),
    )?;
    for (dir, mode) in [
        ("usr", 0o755),
        ("etc", 0o755),
        ("tmp", 0o1777),
        ("run", 0o755),
        ("root", 0o700),
        ("home", 0o755),
        ("proc", 0o555),
        ("sys", 0o555),
        ("dev", 0o755),
    ] {
        mkdir(&root.join(dir), mode)?;
    }
    mkdir(&root.join("sys/fs"), 0o755)?;
    mkdir(&root.join("sys/fs/cgroup"), 0o755)?;
    let home = root.join(HOME.trim_start_matches('/'));
    mkdir(&home, 0o700)?;
    std::os::unix::fs::chown(&home, Some(id.uid), Some(id.uid))
        .ctx(|| format!("chown {} {}", id.uid, home.display()))?;

    // The image's /usr, read-only. Through the descriptor: the base may be
    // hidden below the staging mount now.
    let usr = PathBuf::from(format!("/proc/self/fd/{}/usr", base.as_raw_fd()));
    if !usr.is_dir() {
        return Err(Failure::new(
            format!("base image {} has no usr directory", base_path.display()),
            libc::ENOENT,
        ));
    }
    let new_usr = root.join("usr");
    mount(Some(&usr), &new_usr, None, libc::MS_BIND, None)?;
    mount(
        None,
        &new_usr,
        None,
        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
        None,
    )?;
    for name in USR_LINKS {
        if new_usr.join(name).is_dir() {
            symlink(&format!("usr/{name}"), &root.join(name))?;
        }
    }
    for (name, text) in etc_files(id) {
        write_file(&root.join("etc").join(name), &text)?;
    }
    let image_etc = PathBuf::from(format!("/proc/self/fd/{}/etc", base.as_raw_fd()));
    copy_from_image(&image_etc, &root.join("etc"))?;

    mount(
        Some(Path::new("proc")),
        &root.join("proc"),
        Some("proc"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        None,
    )?;
    mount(
        Some(Path::new("cgroup2")),
        &root.join("sys/fs/cgroup"),
        Some("cgroup2"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY,
        None,
    )?;
    build_dev(&root.join("dev"), &size)?;
    pivot(root)
}

/// The instance's `/dev` at `dev`.
fn build_dev(dev: &Path, size: &str) -> Result<()> {
    mount(
        Some(Path::new("tmpfs")),
        dev,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        Some("mode=0755,uid=0,gid=0,size=1m"),
    )?;
    for (name, major, minor) in CHAR_DEVICES {
        let path = dev.join(name);
        let c = sys::cpath(&path)?;
        // SAFETY: `c` is a NUL-terminated path; mknod makes a node there.
        sys::cvt(unsafe {
            libc::mknod(
                c.as_ptr(),
                libc::S_IFCHR | 0o666,
                libc::makedev(major, minor),
            )
        })
        .ctx(|| format!("mknod {} c {major} {minor}", path.display()))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666))
            .ctx(|| format!("chmod 666 {}", path.display()))?;
    }
    mkdir(&dev.join("pts"), 0o755)?;
    mount(
        Some(Path::new("devpts")),
        &dev.join("pts"),
        Some("devpts"),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )?;
    mkdir(&dev.join("shm"), 0o1777)?;
    mount(
        Some(Path::new("tmpfs")),
        &dev.join("shm"),
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(&format!("mode=1777,uid=0,gid=0,{size}")),
    )?;
    for (name, target) in DEV_LINKS {
        symlink(target, &dev.join(name))?;
    }
    Ok(())
}

/// Makes `root` the root of this mount namespace and drops the old one.
///
/// pivot_root(2) cannot leave the initial ramfs (a host that runs from its
/// initramfs: `EINVAL`): there the new root is moved over `/` and chrooted
/// into instead, as switch_root does; the old root stays below it,
/// unreachable without the capabilities the instance does not have.
fn pivot(root: &Path) -> Result<()> {
    std::env::set_current_dir(root).ctx(|| format!("chdir {}", root.display()))?;
    let dot = sys::cstr(".")?;
    let pivoted =
        // SAFETY: pivot_root takes two NUL-terminated paths; "." twice
        // stacks the old root on the new one, to be detached just after.
        sys::cvt_long(unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) });
    match pivoted {
        Ok(_) => {
            // SAFETY: "." is the old root now, stacked on the new one.
            sys::cvt(unsafe { libc::umount2(dot.as_ptr(), libc::MNT_DETACH) })
                .ctx(|| "detach the old root")?;
        }
        Err(Errno(libc::EINVAL)) => {
            mount(
                Some(Path::new(".")),
                Path::new("/"),
                None,
                libc::MS_MOVE,
                None,
            )?;
            // SAFETY: "." is a NUL-terminated path: the new root, now at /.
            sys::cvt(unsafe { libc::chroot(dot.as_ptr()) }).ctx(|| "chroot into the new root")?;
        }
        Err(e) => return Err(e).ctx(|| format!("pivot_root to {}", root.display())),
    }
    std::env::set_current_dir("/").ctx(|| "chdir /")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etc_names_the_instance_user() {
        let id = Identity {
            hostname: "i-00123456789abcdef".into(),
            uid: 20003,
            tmpfs_bytes: 1 << 28,
        };
        let files = etc_files(&id);
        let get = |n: &str| files.iter().find(|(f, _)| *f == n).unwrap().1.clone();
        assert!(get("passwd").contains("instance:x:20003:20003:instance:/home/instance:/bin/sh\n"));
        assert!(get("passwd").starts_with("root:x:0:0:"));
        assert_eq!(get("group"), "root:x:0:\ninstance:x:20003:\n");
        assert_eq!(get("hostname"), "i-00123456789abcdef\n");
        assert!(get("hosts").contains("127.0.1.1\ti-00123456789abcdef\n"));
        assert_eq!(get("resolv.conf"), "");
    }

    #[test]
    fn standard_devices() {
        let names: Vec<_> = CHAR_DEVICES.iter().map(|d| d.0).collect();
        assert_eq!(names, ["null", "zero", "full", "random", "urandom", "tty"]);
        // The host's numbers, where it has the nodes.
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        for (name, major, minor) in CHAR_DEVICES {
            if let Ok(m) = fs::metadata(Path::new("/dev").join(name)) {
                if m.file_type().is_char_device() {
                    assert_eq!(m.rdev(), libc::makedev(major, minor), "/dev/{name}");
                }
            }
        }
    }
}
