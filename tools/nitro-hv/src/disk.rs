//! An instance's disks: block device nodes in its own `/dev`, named as the
//! volume was attached (`/dev/sdf`), with the `/dev/disk/by-id` link EC2's
//! udev rules give an NVMe disk.
//!
//! The daemon reaches the instance's `/dev` (a tmpfs of its own) from the
//! host through `/proc/<init pid>/root/dev`. The instance cannot write
//! there (root's, mode 0755), so nothing in it can be swapped for a link
//! under the daemon's feet; the node is the instance user's, mode 0660.
//!
//! The by-id name comes with the command (the controller builds it from
//! the volume); it is what `udev/70-nitro-nvme.rules` makes on the host from
//! the model and serial the card shows in sysfs, `nvme-<model>_<serial>`
//! with every byte udev does not keep made `_`: for EBS
//! `nvme-Amazon_Elastic_Block_Store_vol<17 hex digits>`, for instance
//! storage `nvme-Amazon_EC2_NVMe_Instance_Storage_vol<17 hex digits>`.
//! Should a command come without it, the same name is made here from
//! sysfs.

use crate::{
    abi::{self, state},
    sys::{self, Context, Errno, Failure, Result},
};
use std::{
    ffi::CString,
    fs,
    os::fd::{AsRawFd, OwnedFd},
    path::{Path, PathBuf},
};

/// Mode of a disk node: read and write for the instance user and group.
pub const NODE_MODE: libc::mode_t = 0o660;

/// A disk of an instance, as a command gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disk {
    /// Its name in the instance's `/dev` (`sdf`).
    pub name: String,
    /// The block device's major number.
    pub major: u32,
    /// Its minor number.
    pub minor: u32,
    /// Its `/dev/disk/by-id` link name.
    pub by_id: String,
}

impl Disk {
    /// The disk a command's device names, checked: a device name of
    /// lowercase letters and digits, a by-id name that is one safe path
    /// component (made from sysfs if the command has none).
    pub fn from_hv(d: &abi::nitro_hv_device) -> Result<Self> {
        if d.kind != abi::NITRO_HV_DISK {
            return Err(Failure::new(
                format!("device of kind {} is not a disk", d.kind),
                libc::EINVAL,
            ));
        }
        let name = abi::field_text(abi::field_bytes(&d.device), state::devname_byte)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| Failure::new("disk without a valid device name", libc::EINVAL))?;
        let by_id =
            abi::field_text(abi::field_bytes(&d.by_id), state::name_byte).ok_or_else(|| {
                Failure::new(format!("disk {name}: malformed by-id name"), libc::EINVAL)
            })?;
        let by_id = if by_id.is_empty() {
            by_id_from_sysfs(d.major, d.minor)?
        } else {
            by_id.to_string()
        };
        if !link_name_ok(&by_id) {
            return Err(Failure::new(
                format!("disk {name}: by-id name {by_id:?} is not one path component"),
                libc::EINVAL,
            ));
        }
        Ok(Disk {
            name: name.to_string(),
            major: d.major,
            minor: d.minor,
            by_id,
        })
    }
}

/// Whether `name` can be a link's name in `/dev/disk/by-id`: not empty,
/// not `.` or `..`, no `/`.
pub fn link_name_ok(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('\0')
}

/// The by-id name udev gives a disk with `model` and `serial` (the rule
/// `nvme-$attr{nitro/model}_$attr{nitro/serial}` with
/// `string_escape=replace`): trailing whitespace dropped from each value
/// (as udev reads sysfs attributes), and every byte but ASCII letters,
/// digits and `#+-.:=@_` replaced by `_`.
pub fn by_id_name(model: &str, serial: &str) -> String {
    let keep = |c: char| c.is_ascii_alphanumeric() || "#+-.:=@_".contains(c);
    let escape = |s: &str| -> String {
        s.trim_end()
            .chars()
            .map(|c| if keep(c) { c } else { '_' })
            .collect()
    };
    format!("nvme-{}_{}", escape(model), escape(serial))
}

/// The by-id name of block device `major:minor` from the model and serial
/// its card shows in sysfs.
fn by_id_from_sysfs(major: u32, minor: u32) -> Result<String> {
    let dir = PathBuf::from(format!("/sys/dev/block/{major}:{minor}/nitro"));
    let read = |attr: &str| {
        let path = dir.join(attr);
        fs::read_to_string(&path).ctx(|| format!("read {}", path.display()))
    };
    Ok(by_id_name(&read("model")?, &read("serial")?))
}

/// `/dev` of the instance whose init is `pid`, from the host.
pub fn dev_dir(pid: libc::pid_t) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/root/dev"))
}

/// `name` as a C string.
fn c(name: &str) -> std::result::Result<CString, Errno> {
    CString::new(name).map_err(|_| Errno(libc::EINVAL))
}

/// Removes `name` from directory `dir` (a name already gone is no error).
fn unlink(dir: &OwnedFd, name: &str) -> std::result::Result<(), Errno> {
    let n = c(name)?;
    // SAFETY: `dir` is an open directory and `n` a NUL-terminated name.
    match sys::cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), n.as_ptr(), 0) }) {
        Ok(_) | Err(Errno(libc::ENOENT)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Opens directory `name` below `dir`, making it (root's, 0755) if it is
/// not there; never follows a link.
fn subdir(dir: &OwnedFd, name: &str) -> std::result::Result<OwnedFd, Errno> {
    let n = c(name)?;
    // SAFETY: `dir` is an open directory and `n` a NUL-terminated name.
    match sys::cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), n.as_ptr(), 0o755) }) {
        Ok(_) | Err(Errno(libc::EEXIST)) => {}
        Err(e) => return Err(e),
    }
    sys::openat(
        dir,
        name,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
    )
}

/// Makes `disk` in the instance's `/dev` (`dev`): the node, owned by
/// `uid`:`gid`, mode 0660, and its by-id link `disk/by-id/<by_id>` ->
/// `../../<name>`. A name already in `dev` is refused (EEXIST); a by-id
/// link of that name already there (a volume's id is its own) is replaced.
pub fn make(dev: &Path, disk: &Disk, uid: u32, gid: u32) -> Result<()> {
    let node = format!("{}/{}", dev.display(), disk.name);
    let dir = sys::open(dev, libc::O_RDONLY | libc::O_DIRECTORY)?;
    // Never over a name the instance has (`null`, `pts`, another disk):
    // mknod fails with EEXIST and the controller undoes the attach.
    let n = c(&disk.name).ctx(|| node.clone())?;
    let rdev = libc::makedev(disk.major, disk.minor);
    // SAFETY: `dir` is an open directory and `n` a NUL-terminated name.
    sys::cvt(unsafe {
        libc::mknodat(dir.as_raw_fd(), n.as_ptr(), libc::S_IFBLK | NODE_MODE, rdev)
    })
    .ctx(|| format!("mknod {node} b {} {}", disk.major, disk.minor))?;
    // SAFETY: as above; the name was just made as a node, never a link.
    sys::cvt(unsafe {
        libc::fchownat(
            dir.as_raw_fd(),
            n.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .ctx(|| format!("chown {uid}:{gid} {node}"))?;
    // SAFETY: as above (the umask may have narrowed the mode mknod gave).
    sys::cvt(unsafe { libc::fchmodat(dir.as_raw_fd(), n.as_ptr(), NODE_MODE, 0) })
        .ctx(|| format!("chmod 0660 {node}"))?;
    let by_id = subdir(&dir, "disk")
        .and_then(|d| subdir(&d, "by-id"))
        .ctx(|| format!("mkdir {}/disk/by-id", dev.display()))?;
    let link = format!("{}/disk/by-id/{}", dev.display(), disk.by_id);
    unlink(&by_id, &disk.by_id).ctx(|| format!("remove the old {link}"))?;
    let target = c(&format!("../../{}", disk.name)).ctx(|| link.clone())?;
    let l = c(&disk.by_id).ctx(|| link.clone())?;
    // SAFETY: both names are NUL-terminated; `by_id` is an open directory.
    sys::cvt(unsafe { libc::symlinkat(target.as_ptr(), by_id.as_raw_fd(), l.as_ptr()) })
        .ctx(|| format!("symlink {link} -> ../../{}", disk.name))?;
    Ok(())
}

/// Removes `disk` from the instance's `/dev` (`dev`): its by-id link and its
/// node. What is already gone is no error.
pub fn remove(dev: &Path, disk: &Disk) -> Result<()> {
    let dir = sys::open(dev, libc::O_RDONLY | libc::O_DIRECTORY)?;
    match sys::openat(
        &dir,
        "disk/by-id",
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
    ) {
        Ok(by_id) => unlink(&by_id, &disk.by_id)
            .ctx(|| format!("remove {}/disk/by-id/{}", dev.display(), disk.by_id))?,
        Err(Errno(libc::ENOENT)) => {}
        Err(e) => return Err(e).ctx(|| format!("open {}/disk/by-id", dev.display())),
    }
    unlink(&dir, &disk.name).ctx(|| format!("remove {}/{}", dev.display(), disk.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A disk as a command gives it: `name`, 259:3, `by_id`.
    fn hv_disk(name: &str, by_id: &str) -> abi::nitro_hv_device {
        let mut d = abi::nitro_hv_device {
            kind: abi::NITRO_HV_DISK,
            major: 259,
            minor: 3,
            ..Default::default()
        };
        for (dst, src) in d.device.iter_mut().zip(name.bytes()) {
            *dst = src as libc::c_char;
        }
        for (dst, src) in d.by_id.iter_mut().zip(by_id.bytes()) {
            *dst = src as libc::c_char;
        }
        d
    }

    #[test]
    fn by_id_names_as_udev_makes_them() {
        // The models and the serial format of drivers/nitro_nvme (nvme.rs).
        assert_eq!(
            by_id_name("Amazon Elastic Block Store", "vol00123456789abcdef"),
            "nvme-Amazon_Elastic_Block_Store_vol00123456789abcdef"
        );
        assert_eq!(
            by_id_name(
                "Amazon EC2 NVMe Instance Storage\n",
                "vol0fedcba9876543210\n"
            ),
            "nvme-Amazon_EC2_NVMe_Instance_Storage_vol0fedcba9876543210"
        );
        assert_eq!(by_id_name("a/b c", "x\u{e9}"), "nvme-a_b_c_x_");
    }

    #[test]
    fn the_controllers_names_are_the_udev_names() {
        // The controller's by-id names (instances.rs, disk_device) for a
        // volume vol-00123456789abcdef, and udev's from the card's sysfs.
        let ebs = hv_disk(
            "sdf",
            "nvme-Amazon_Elastic_Block_Store_vol00123456789abcdef",
        );
        let disk = Disk::from_hv(&ebs).unwrap();
        assert_eq!(
            disk.by_id,
            by_id_name("Amazon Elastic Block Store", "vol00123456789abcdef")
        );
        assert_eq!(disk.name, "sdf");
        assert_eq!((disk.major, disk.minor), (259, 3));
        let store = hv_disk(
            "sdb",
            "nvme-Amazon_EC2_NVMe_Instance_Storage_vol00123456789abcdef",
        );
        assert_eq!(
            Disk::from_hv(&store).unwrap().by_id,
            by_id_name("Amazon EC2 NVMe Instance Storage", "vol00123456789abcdef")
        );
    }

    #[test]
    fn bad_disks_are_refused() {
        let e = Disk::from_hv(&hv_disk("", "x")).unwrap_err();
        assert_eq!(e.errno, Errno(libc::EINVAL));
        assert!(Disk::from_hv(&hv_disk("../sda", "x")).is_err());
        assert!(Disk::from_hv(&hv_disk("SDF", "x")).is_err());
        assert!(Disk::from_hv(&hv_disk("sdf", "..")).is_err());
        assert!(Disk::from_hv(&hv_disk("sdf", "a/b")).is_err());
        let mut nic = hv_disk("sdf", "x");
        nic.kind = abi::NITRO_HV_NIC;
        assert!(Disk::from_hv(&nic).is_err());
        assert!(link_name_ok("nvme-Amazon_Elastic_Block_Store_vol0"));
        assert!(!link_name_ok("."));
    }

    #[test]
    fn nodes_and_links_in_a_dev_directory() {
        if !running_as_root() {
            eprintln!("skipped: mknod of a block node needs root");
            return;
        }
        let dev = std::env::temp_dir().join(format!("nitro-hv-test-dev-{}", std::process::id()));
        fs::create_dir_all(&dev).unwrap();
        let disk = Disk {
            name: "sdf".into(),
            major: 7,
            minor: 200,
            by_id: "nvme-Amazon_Elastic_Block_Store_vol00123456789abcdef".into(),
        };
        make(&dev, &disk, 20003, 20003).unwrap();
        // A name the instance has already is refused, never replaced.
        let again = make(&dev, &disk, 20003, 20003).unwrap_err();
        assert_eq!(again.errno, Errno(libc::EEXIST), "{again}");
        use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
        let m = fs::symlink_metadata(dev.join("sdf")).unwrap();
        assert!(m.file_type().is_block_device());
        assert_eq!((m.uid(), m.gid()), (20003, 20003));
        assert_eq!(m.permissions().mode() & 0o7777, 0o660);
        assert_eq!(m.rdev(), libc::makedev(7, 200));
        let link = dev.join("disk/by-id").join(&disk.by_id);
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("../../sdf"));
        remove(&dev, &disk).unwrap();
        assert!(fs::symlink_metadata(dev.join("sdf")).is_err());
        assert!(fs::symlink_metadata(&link).is_err());
        remove(&dev, &disk).unwrap(); // gone already: no error
        fs::remove_dir_all(&dev).unwrap();
    }

    /// Whether the tests run as root (they may make device nodes).
    fn running_as_root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }
}
