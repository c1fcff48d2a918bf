// SPDX-License-Identifier: GPL-2.0

//! The object state machine and input validation of the controller.
//!
//! Depends on `core` only, like `abi_rules.rs`: the kernel runs it and the
//! host tests of `tools/nitroctl` test the same file.

/// Object states, as in `enum nitro_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum State {
    /// The card is provisioning it.
    Creating = 1,
    /// Provisioned, not attached.
    Available = 2,
    /// The card is attaching it.
    Attaching = 3,
    /// Attached.
    Attached = 4,
    /// The card is detaching it.
    Detaching = 5,
    /// The card is deprovisioning it.
    Deleting = 6,
    /// Its card left the bus.
    CardLost = 7,
}

/// A request that changes an existing object's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Attach.
    Attach,
    /// Detach.
    Detach,
    /// Delete (deprovision).
    Delete,
}

/// Why a request is refused in the current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// In use or in transition: `EBUSY`.
    Busy,
    /// Detach of an object that is not attached: `EINVAL`.
    NotAttached,
    /// Its card is gone: `ENODEV`.
    CardLost,
}

/// What to do for a request that is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Begin {
    /// The state to hold while the card works.
    pub during: State,
    /// Whether the card must be asked (a delete of a card-lost object is
    /// bookkeeping only).
    pub ask_card: bool,
}

/// Checks `op` against `state` and gives the transitional state.
pub fn begin(state: State, op: Op) -> Result<Begin, Refusal> {
    use State::*;
    let ask = |during| {
        Ok(Begin {
            during,
            ask_card: true,
        })
    };
    match (op, state) {
        (Op::Attach, Available) => ask(Attaching),
        (Op::Detach, Attached) => ask(Detaching),
        (Op::Detach, Available) => Err(Refusal::NotAttached),
        (Op::Delete, Available) => ask(Deleting),
        (Op::Delete, CardLost) => Ok(Begin {
            during: Deleting,
            ask_card: false,
        }),
        (_, CardLost) => Err(Refusal::CardLost),
        _ => Err(Refusal::Busy),
    }
}

/// The state after the card answered `op`: `None` means the object is gone.
/// A refused request restores the state the object had before it.
pub fn finish(op: Op, ok: bool) -> Option<State> {
    match (op, ok) {
        (Op::Attach, true) => Some(State::Attached),
        (Op::Attach, false) => Some(State::Available),
        (Op::Detach, true) => Some(State::Available),
        (Op::Detach, false) => Some(State::Attached),
        (Op::Delete, true) => None,
        (Op::Delete, false) => Some(State::Available),
    }
}

/// The state after the card answered a create: `None` means never created.
pub fn finish_create(ok: bool) -> Option<State> {
    ok.then_some(State::Available)
}

/// Largest volume: 64 TiB, as EBS io2 Block Express.
pub const MAX_VOLUME_BYTES: u64 = 64 << 40;

/// Checks a volume's geometry; gives the block size to use (0 means 4096).
pub fn volume_geometry(size_bytes: u64, block_size: u32) -> Option<u32> {
    let bs = if block_size == 0 { 4096 } else { block_size };
    if bs != 512 && bs != 4096 {
        return None;
    }
    if size_bytes == 0 || size_bytes > MAX_VOLUME_BYTES || size_bytes % u64::from(bs) != 0 {
        return None;
    }
    Some(bs)
}

/// Length of the NUL-terminated string in a fixed field, if the field is
/// well formed: terminated, with only zero bytes after the terminator, and
/// every byte before it allowed by `ok`.
pub fn field_str_len(field: &[u8], ok: impl Fn(u8) -> bool) -> Option<usize> {
    let len = field.iter().position(|&b| b == 0)?;
    if !field[len..].iter().all(|&b| b == 0) {
        return None;
    }
    field[..len].iter().all(|&b| ok(b)).then_some(len)
}

/// Bytes allowed in an object name: letters, digits, `.`, `_`, `-`, `:`.
pub fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':')
}

/// Bytes allowed in a volume's device name ("sdf", "xvdf"): lowercase
/// letters and digits.
pub fn devname_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Bytes allowed in an interface name: what `dev_valid_name` accepts,
/// restricted to printable ASCII without `/`, `:` and spaces.
pub fn ifname_byte(b: u8) -> bool {
    b.is_ascii_graphic() && b != b'/' && b != b':'
}

/// Largest VPC id: the 24-bit Geneve VNI.
pub const MAX_VPC: u32 = (1 << 24) - 1;

/// Checks an ENI's addressing: VPC id in range, MAC unicast (or all zero:
/// to be generated), IPv4 (network byte order) a unicast host address.
pub fn eni_addressing(vpc: u32, mac: &[u8; 6], ipv4_be: u32) -> bool {
    let mac_ok = mac[0] & 1 == 0;
    (1..=MAX_VPC).contains(&vpc) && mac_ok && unicast_ipv4(ipv4_be)
}

/// Whether an IPv4 address (network byte order) can name one host: not 0,
/// broadcast, multicast, reserved (240/4) or loopback.
pub fn unicast_ipv4(ipv4_be: u32) -> bool {
    let ip = u32::from_be(ipv4_be);
    ip != 0 && (ip >> 28) < 0xe && (ip >> 24) != 127
}

/// Whether a mapping entry is well formed: VPC in range, inner and underlay
/// addresses unicast, inner MAC unicast and not zero.
pub fn map_entry(vpc: u32, mac: &[u8; 6], ipv4_be: u32, underlay_be: u32) -> bool {
    *mac != [0; 6] && eni_addressing(vpc, mac, ipv4_be) && unicast_ipv4(underlay_be)
}

/// A locally administered unicast MAC from 48 random bits.
pub fn local_mac(random: u64) -> [u8; 6] {
    let b = random.to_le_bytes();
    [(b[0] & 0xfc) | 0x02, b[1], b[2], b[3], b[4], b[5]]
}

/// Formats an id as people see it: `prefix` and 17 lowercase hex digits.
pub fn format_id(prefix: &[u8; 4], id: u64, out: &mut [u8; 21]) {
    out[..4].copy_from_slice(prefix);
    let digits = b"0123456789abcdef";
    // 17 digits: a leading 0 then the 16 digits of the u64, as EC2 ids look.
    out[4] = b'0';
    for i in 0..16 {
        let nibble = (id >> (60 - 4 * i)) & 0xf;
        out[5 + i] = digits[nibble as usize];
    }
}

/// Parses `vol-` / `eni-` + 17 hex digits (leading digit 0) into an id.
pub fn parse_id(prefix: &str, s: &str) -> Option<u64> {
    let hex = s.strip_prefix(prefix)?;
    if hex.len() != 17 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let hex = hex.strip_prefix('0')?;
    let id = u64::from_str_radix(hex, 16).ok()?;
    (id != 0).then_some(id)
}
