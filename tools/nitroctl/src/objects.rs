//! What volumes and ENIs share: their ids (as arguments, parsed and
//! formatted), their states, deleting and detaching them, the line that
//! reports a change, and the explanation of a refusal.

use crate::{
    abi::{self, state},
    cli::{instance, GlobalOptions},
    device::{sized, Controller},
    error::Error,
    output, text_field,
};
use clap::Args;

/// An object id argument.
#[derive(Args, Debug, PartialEq)]
pub struct IdArg {
    /// vol-... or eni-...
    pub id: String,
}

/// Which kind of object a command is about.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum ObjectKind {
    /// Volumes.
    Volume,
    /// ENIs.
    Eni,
}

impl ObjectKind {
    /// The id prefix.
    pub fn prefix(self) -> &'static str {
        let prefix = match self {
            ObjectKind::Volume => abi::NITRO_VOLUME_ID_PREFIX,
            ObjectKind::Eni => abi::NITRO_ENI_ID_PREFIX,
        };
        std::str::from_utf8(&prefix[..4]).unwrap_or("?")
    }

    /// What people call it.
    fn noun(self) -> &'static str {
        match self {
            ObjectKind::Volume => "volume",
            ObjectKind::Eni => "ENI",
        }
    }

    /// Formats an id as people see it.
    pub fn format_id(self, id: u64) -> String {
        format!("{}0{id:016x}", self.prefix())
    }

    /// Parses an id given on the command line (a usage error if it is none).
    pub fn parse_id(self, text: &str) -> Result<u64, Error> {
        let prefix = self.prefix();
        state::parse_id(prefix, text).ok_or_else(|| {
            Error::Usage(format!(
                "'{text}' is not an id like {prefix}0123456789abcdef0"
            ))
        })
    }
}

/// Name of a state.
pub fn state_name(state: u32) -> &'static str {
    match state {
        abi::NITRO_STATE_CREATING => "creating",
        abi::NITRO_STATE_AVAILABLE => "available",
        abi::NITRO_STATE_ATTACHING => "attaching",
        abi::NITRO_STATE_ATTACHED => "attached",
        abi::NITRO_STATE_DETACHING => "detaching",
        abi::NITRO_STATE_DELETING => "deleting",
        abi::NITRO_STATE_CARD_LOST => "card-lost",
        _ => "unknown",
    }
}

/// A change to an object that needs nothing but its id.
#[derive(Clone, Copy, Debug)]
pub enum Change {
    /// `delete`.
    Delete,
    /// `detach`.
    Detach,
}

impl Change {
    /// The operation, as refusals name it.
    fn operation(self) -> &'static str {
        match self {
            Change::Delete => "delete",
            Change::Detach => "detach",
        }
    }

    /// What the outcome line says it did.
    fn result(self) -> &'static str {
        match self {
            Change::Delete => "deleted",
            Change::Detach => "detached",
        }
    }
}

/// Applies `change` to object `id` of `kind` (`command`: the ioctl of that
/// change for that kind); gives the line that says so.
pub fn change(
    options: &GlobalOptions,
    controller: &Controller,
    kind: ObjectKind,
    change: Change,
    command: u32,
    id: &str,
) -> Result<String, Error> {
    let id = kind.parse_id(id)?;
    let mut object: abi::nitro_object_ref = sized();
    object.id = id;
    controller
        .ioctl(change.operation(), command, &mut object)
        .map_err(|error| explain(controller, kind, change.operation(), Some(id), error))?;
    Ok(outcome(options, kind, id, change.result()))
}

/// What a change did to object `id`: `vol-... deleted`, or as JSON.
pub fn outcome(options: &GlobalOptions, kind: ObjectKind, id: u64, result: &str) -> String {
    let id = kind.format_id(id);
    if options.json {
        output::json(&serde_json::json!({ "id": id, "result": result }))
    } else {
        format!("{id} {result}\n")
    }
}

/// Why creates and attaches are refused while the boot gate is closed.
pub const GATE_CLOSED: &str = "the boot gate is closed: the firmware has not been verified \
     (see `nitroctl firmware show`, then `nitroctl firmware allow`)";

/// How long the controller waits for a hypervisor to take a device out of
/// its instance (`ETIMEDOUT` after), s.
const HYPERVISOR_TIMEOUT_S: u32 = 30;

/// Explains a refusal of `operation` on object `id` of `kind`, asking the
/// controller for context where that helps (what it is attached as, and
/// to which instance).
pub fn explain(
    controller: &Controller,
    kind: ObjectKind,
    operation: &str,
    id: Option<u64>,
    error: Error,
) -> Error {
    let Some(errno) = error.errno() else {
        return error;
    };
    let noun = kind.noun();
    let who = id
        .map(|id| format!("{noun} {}", kind.format_id(id)))
        .unwrap_or_else(|| noun.to_string());
    let message = match (errno, operation) {
        (libc::ENOENT, _) => format!(
            "no {who} on this host (see `nitroctl {} list`)",
            noun.to_lowercase()
        ),
        (libc::EBUSY, _) => {
            let now = id.and_then(|id| describe_state(controller, kind, id));
            match now {
                Some(now) if now.state == abi::NITRO_STATE_ATTACHED && now.instance != 0 => {
                    let instance = instance::format_id(now.instance);
                    match operation {
                        "detach" => format!(
                            "{who} is attached to {instance}, which is busy (starting, \
                             stopping, or changing another device); try again"
                        ),
                        "attach" => {
                            format!("{who} is already attached to {instance} as {}", now.device)
                        }
                        _ => format!(
                            "{who} is attached to {instance} as {}; detach it first",
                            now.device
                        ),
                    }
                }
                Some(now) if now.state == abi::NITRO_STATE_ATTACHED && operation != "attach" => {
                    format!("{who} is attached as {}; detach it first", now.device)
                }
                Some(now) if now.state == abi::NITRO_STATE_ATTACHED => {
                    format!("{who} is already attached as {}", now.device)
                }
                Some(now) => format!("{who} is busy ({}); try again", state_name(now.state)),
                None => format!("{who} is busy; try again"),
            }
        }
        (libc::EINVAL, "detach") => match id.and_then(|id| describe_state(controller, kind, id)) {
            Some(now) if now.instance_storage && now.instance != 0 => format!(
                "{who} is the instance store of {}: it goes with the instance \
                 (deleted when it terminates), never detached",
                instance::format_id(now.instance)
            ),
            _ => format!("{who} is not attached"),
        },
        (libc::ETIMEDOUT, "detach") => format!(
            "the hypervisor did not take {who} out of its instance within \
             {HYPERVISOR_TIMEOUT_S} s; it stays attached"
        ),
        (libc::ECONNRESET, "detach") => format!(
            "the hypervisor went away while taking {who} out of its instance; \
             it stays attached"
        ),
        (libc::ENOKEY, "create") => "the EBS card has no card key (the firmware file \
             nitro-rs/ebs-card.key was not found when nitro_nvme loaded; see dmesg)"
            .into(),
        (libc::EBADF, "create") => {
            "the backing must be a regular file or a block device, open for reading and writing"
                .into()
        }
        (libc::EKEYREJECTED, "attach") => format!(
            "the wrapped key of {who} does not open under this card's key \
             (wrapped for another card, or damaged); {who} stays available"
        ),
        (libc::EEXIST, "create") => format!("another {noun} already has that name or address"),
        (libc::EEXIST, "attach") => "that device name is already in use on this host".into(),
        (libc::ENOSPC, _) => {
            let max = controller.version().ok().map(|version| match kind {
                ObjectKind::Volume => version.max_volumes,
                ObjectKind::Eni => version.max_enis,
            });
            format!(
                "the host already holds its maximum of {} {noun}s (nitro_ctrl module parameter max_{}s)",
                max.map(|max| max.to_string()).unwrap_or_else(|| "?".into()),
                noun.to_lowercase()
            )
        }
        (libc::ENODEV, "create") => format!(
            "no card for this kind of {noun} is on the bus (see `nitroctl status`; load {})",
            if kind == ObjectKind::Volume {
                "nitro_nvme"
            } else {
                "nitro_net"
            }
        ),
        (libc::ENODEV, _) => format!("the card of {who} left the bus; only delete works on it now"),
        (libc::EOPNOTSUPP, _) => format!("the card does not implement {noun}s yet"),
        (libc::EACCES, _) => GATE_CLOSED.to_string(),
        (libc::EIO, _) => format!("the card refused to {operation} {who}"),
        (libc::EINVAL, _) => format!("the controller rejected the arguments to {operation} {who}"),
        _ => return error,
    };
    Error::Refused { message, errno }
}

/// What an object is attached as, and to what, as the controller says.
struct Attachment {
    /// Its state.
    state: u32,
    /// Its attachment name.
    device: String,
    /// The instance it is attached to (0: the host, or none).
    instance: u64,
    /// Whether it is an instance-storage volume.
    instance_storage: bool,
}

/// The state of object `id` and what it is attached as, if the controller
/// says.
fn describe_state(controller: &Controller, kind: ObjectKind, id: u64) -> Option<Attachment> {
    match kind {
        ObjectKind::Volume => {
            let mut describe: abi::nitro_volume_describe = sized();
            describe.id = id;
            controller
                .ioctl(
                    "NITRO_IOC_VOLUME_DESCRIBE",
                    abi::NITRO_IOC_VOLUME_DESCRIBE,
                    &mut describe,
                )
                .ok()?;
            let info = &describe.info;
            Some(Attachment {
                state: info.state,
                device: text_field::read(&info.device),
                instance: info.instance,
                instance_storage: info.kind == abi::NITRO_VOLUME_INSTANCE,
            })
        }
        ObjectKind::Eni => {
            let mut describe: abi::nitro_eni_describe = sized();
            describe.id = id;
            controller
                .ioctl(
                    "NITRO_IOC_ENI_DESCRIBE",
                    abi::NITRO_IOC_ENI_DESCRIBE,
                    &mut describe,
                )
                .ok()?;
            let info = &describe.info;
            Some(Attachment {
                state: info.state,
                device: text_field::read(&info.device),
                instance: info.instance,
                instance_storage: false,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let id = ObjectKind::Volume.format_id(0xabc);
        assert_eq!(id, "vol-00000000000000abc");
        assert_eq!(ObjectKind::Volume.parse_id(&id).unwrap(), 0xabc);
        assert_eq!(ObjectKind::Eni.format_id(u64::MAX), "eni-0ffffffffffffffff");
        let error = ObjectKind::Volume.parse_id("sdf").unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(error.to_string().contains("is not an id"), "{error}");
        assert!(ObjectKind::Eni.parse_id(&id).is_err(), "a volume's id");
    }

    #[test]
    fn detach_refusals_are_explained() {
        // /dev/null answers every ioctl with ENOTTY: nothing more is known
        // of the object.
        let controller = Controller::open(std::path::Path::new("/dev/null")).unwrap();
        for (errno, says) in [
            (libc::EINVAL, "volume vol-00000000000000001 is not attached"),
            (
                libc::ETIMEDOUT,
                "did not take volume vol-00000000000000001 out of its instance within 30 s",
            ),
            (libc::ECONNRESET, "the hypervisor went away"),
            (
                libc::EBUSY,
                "volume vol-00000000000000001 is busy; try again",
            ),
        ] {
            let error = Error::Kernel {
                request: "detach",
                error: std::io::Error::from_raw_os_error(errno),
            };
            let message =
                explain(&controller, ObjectKind::Volume, "detach", Some(1), error).to_string();
            assert!(message.contains(says), "{errno}: {message}");
        }
    }
}
