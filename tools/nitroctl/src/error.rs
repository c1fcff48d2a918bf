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
}

impl Error {
    /// The errno of a kernel refusal, if this is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { error, .. } => error.raw_os_error(),
            Error::Refused { errno, .. } => Some(*errno),
            Error::Unavailable(_) | Error::Usage(_) => None,
        }
    }

    /// Process exit code: 1 for a kernel error, 2 for a usage error (as
    /// clap's), 3 when the device is unavailable.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Kernel { .. } | Error::Refused { .. } => 1,
            Error::Usage(_) => 2,
            Error::Unavailable(_) => 3,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unavailable(message) | Error::Usage(message) => formatter.write_str(message),
            Error::Refused { message, errno } => {
                write!(
                    formatter,
                    "{message} ({})",
                    io::Error::from_raw_os_error(*errno)
                )
            }
            Error::Kernel { request, error } => {
                write!(formatter, "{request} failed: {error}")?;
                if let Some(hint) = errno_hint(error.raw_os_error().unwrap_or(0)) {
                    write!(formatter, " ({hint})")?;
                }
                Ok(())
            }
        }
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
        assert!(error.to_string().contains("CAP_SYS_ADMIN"), "{error}");
    }
}
