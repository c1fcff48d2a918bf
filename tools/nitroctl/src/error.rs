//! Why a command failed, sorted by what the user should do about it; the
//! process exit code follows from that.

use std::{fmt, io};

/// Why a command failed.
#[derive(Debug)]
pub enum Error {
    /// The device cannot be used here (module or node missing, no privilege).
    Unavailable(String),
    /// The controller refused the request with an errno.
    Kernel {
        /// The request, as people know it (`NITRO_IOC_STATUS`, `create`).
        request: &'static str,
        /// The errno.
        error: io::Error,
    },
    /// The controller refused, explained in context.
    Refused {
        /// The explanation.
        message: String,
        /// The errno.
        errno: i32,
    },
    /// The arguments are wrong (found after parsing: a malformed id).
    Usage(String),
    /// Another error, with where it happened (the line of a file).
    Context {
        /// Where: "maps.txt line 7".
        context: String,
        /// The error there.
        error: Box<Error>,
    },
}

impl Error {
    /// The errno of a kernel refusal, if this is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { error, .. } => error.raw_os_error(),
            Error::Refused { errno, .. } => Some(*errno),
            Error::Unavailable(_) | Error::Usage(_) => None,
            Error::Context { error, .. } => error.errno(),
        }
    }

    /// Process exit code: 1 for a kernel error, 2 for a usage error (as
    /// clap's), 3 when the device is unavailable.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Kernel { .. } | Error::Refused { .. } => 1,
            Error::Usage(_) => 2,
            Error::Unavailable(_) => 3,
            Error::Context { error, .. } => error.exit_code(),
        }
    }
}

/// A refusal reads `<what>: <description> (<ERRNO name>)`, as in
/// "no volume vol-... on this host (...): No such file or directory
/// (ENOENT)"; a kernel error not explained further adds the generic hint
/// after a `;`. An error in context reads `<where>: <the error>`.
impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unavailable(message) | Error::Usage(message) => formatter.write_str(message),
            Error::Context { context, error } => write!(formatter, "{context}: {error}"),
            Error::Refused { message, errno } => {
                write!(formatter, "{message}: {}", describe_errno(*errno))
            }
            Error::Kernel { request, error } => match error.raw_os_error() {
                Some(errno) => {
                    write!(formatter, "{request} failed: {}", describe_errno(errno))?;
                    if let Some(hint) = errno_hint(errno) {
                        write!(formatter, "; {hint}")?;
                    }
                    Ok(())
                }
                None => write!(formatter, "{request} failed: {error}"),
            },
        }
    }
}

/// The name of an errno, as in `<errno.h>` ("ENOENT"), if it has one.
pub fn errno_name(errno: i32) -> Option<&'static str> {
    crate::errno::name(errno)
}

/// An errno as errors show it: "No such file or directory (ENOENT)".
pub fn describe_errno(errno: i32) -> String {
    match (crate::errno::description(errno), errno_name(errno)) {
        (Some(text), Some(name)) => format!("{text} ({name})"),
        _ => format!("unknown error (errno {errno})"),
    }
}

/// What to do about an errno from the controller.
pub fn errno_hint(errno: i32) -> Option<&'static str> {
    match errno {
        libc::EPERM => Some("the controller requires CAP_SYS_ADMIN: run nitroctl as root"),
        libc::ENOTTY => {
            Some("the loaded nitro_ctrl does not know this request: is it older than nitroctl?")
        }
        libc::E2BIG => {
            Some("nitroctl is newer than the loaded nitro_ctrl and sent fields it does not know")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_errors_carry_hints() {
        let error = Error::Kernel {
            request: "NITRO_IOC_STATUS",
            error: io::Error::from_raw_os_error(libc::EPERM),
        };
        assert_eq!(error.exit_code(), 1);
        assert_eq!(
            error.to_string(),
            "NITRO_IOC_STATUS failed: Operation not permitted (EPERM); \
             the controller requires CAP_SYS_ADMIN: run nitroctl as root"
        );
    }

    #[test]
    fn refusals_name_the_errno() {
        let error = Error::Refused {
            message: "instance i-00000000000000001 did not reach running within 30 s".into(),
            errno: libc::ETIMEDOUT,
        };
        assert_eq!(error.exit_code(), 1);
        assert_eq!(
            error.to_string(),
            "instance i-00000000000000001 did not reach running within 30 s: \
             Connection timed out (ETIMEDOUT)"
        );
        let error = Error::Context {
            context: "maps.txt line 7".into(),
            error: Box::new(error),
        };
        assert_eq!(error.exit_code(), 1);
        assert_eq!(error.errno(), Some(libc::ETIMEDOUT));
        assert!(
            error
                .to_string()
                .starts_with("maps.txt line 7: instance i-00000000000000001 did not"),
            "{error}"
        );
        assert_eq!(errno_name(libc::ECONNRESET), Some("ECONNRESET"));
        assert_eq!(errno_name(0x7fff_0000), None);
        assert_eq!(
            describe_errno(0x7fff_0000),
            "unknown error (errno 2147418112)"
        );
    }
}
