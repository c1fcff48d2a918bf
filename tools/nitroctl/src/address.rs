//! Addresses on the command line and in the ABI: MAC and IPv4 addresses,
//! parsed (and checked to name one host where a command needs that),
//! formatted, and converted to and from the ABI's byte order.

use std::net::Ipv4Addr;

/// Parses a MAC address `aa:bb:cc:dd:ee:ff`: six groups of one or two hex
/// digits.
pub fn parse_mac(text: &str) -> Result<[u8; 6], String> {
    let bad = || format!("'{text}' is not a MAC address (like 02:00:00:00:00:01)");
    let groups: Vec<&str> = text.split(':').collect();
    let mut mac = [0u8; 6];
    if groups.len() != 6 {
        return Err(bad());
    }
    for (byte, group) in mac.iter_mut().zip(groups) {
        if group.is_empty()
            || group.len() > 2
            || !group.bytes().all(|digit| digit.is_ascii_hexdigit())
        {
            return Err(bad());
        }
        *byte = u8::from_str_radix(group, 16).map_err(|_| bad())?;
    }
    Ok(mac)
}

/// Formats a MAC address as `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses the MAC address of one interface: unicast and not all zero.
pub fn parse_unicast_mac(text: &str) -> Result<[u8; 6], String> {
    let mac = parse_mac(text)?;
    if mac[0] & 1 != 0 {
        Err(format!(
            "{text} is a multicast or broadcast MAC address: a mapping needs a unicast one"
        ))
    } else if mac == [0; 6] {
        Err(format!("{text} is not the MAC address of an interface"))
    } else {
        Ok(mac)
    }
}

/// Parses an IPv4 address that can name one host, the rule the controller
/// applies: not 0.0.0.0, loopback, multicast, broadcast or reserved
/// (240.0.0.0/4).
pub fn parse_unicast_ipv4(text: &str) -> Result<Ipv4Addr, String> {
    let ip: Ipv4Addr = text
        .parse()
        .map_err(|_| format!("'{text}' is not an IPv4 address (like 192.0.2.1)"))?;
    let why = if ip.is_unspecified() {
        "the unspecified address"
    } else if ip.is_loopback() {
        "a loopback address"
    } else if ip.is_multicast() {
        "a multicast address"
    } else if ip.is_broadcast() {
        "the broadcast address"
    } else if ip.octets()[0] >= 240 {
        "a reserved address (240.0.0.0/4)"
    } else {
        return Ok(ip);
    };
    Err(format!("{ip} is {why}, not the address of one host"))
}

/// An IPv4 address the ABI holds in network byte order.
pub fn ipv4_from_abi(network_order: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from_be(network_order))
}

/// An IPv4 address in network byte order, as the ABI wants it.
pub fn ipv4_to_abi(ip: Ipv4Addr) -> u32 {
    u32::from(ip).to_be()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs() {
        assert_eq!(parse_mac("02:00:00:00:00:0a"), Ok([2, 0, 0, 0, 0, 10]));
        assert!(parse_mac("02:00:00:00:00").is_err());
        assert!(parse_mac("zz:00:00:00:00:00").is_err());
        assert_eq!(parse_mac("2:0:0:0:0:A"), Ok([2, 0, 0, 0, 0, 10]));
        assert_eq!(
            parse_mac("FF:ff:Ff:00:01:fe"),
            Ok([0xff, 0xff, 0xff, 0, 1, 0xfe])
        );
        for bad in [
            "",
            "02:00:00:00:00:00:00",
            "02:00:00:00:00:",
            "02::00:00:00:00",
            "002:00:00:00:00:00",
            "+2:00:00:00:00:00",
            "02-00-00-00-00-00",
            " 02:00:00:00:00:00",
            "0x2:00:00:00:00:00",
        ] {
            assert!(
                parse_mac(bad).unwrap_err().contains("is not a MAC address"),
                "{bad:?}"
            );
        }
        assert_eq!(format_mac(&[2, 0, 0, 0xab, 0, 1]), "02:00:00:ab:00:01");
    }

    #[test]
    fn unicast_macs() {
        assert_eq!(
            parse_unicast_mac("02:00:00:00:00:0a"),
            Ok([2, 0, 0, 0, 0, 10])
        );
        assert_eq!(
            parse_unicast_mac("AA:BB:CC:DD:EE:FE"),
            Ok([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xfe])
        );
        assert!(parse_unicast_mac("01:00:5e:00:00:01")
            .unwrap_err()
            .contains("multicast"));
        assert!(parse_unicast_mac("ff:ff:ff:ff:ff:ff")
            .unwrap_err()
            .contains("broadcast"));
        assert!(parse_unicast_mac("00:00:00:00:00:00").is_err());
        assert!(parse_unicast_mac("02:00:00:00:00").is_err());
    }

    #[test]
    fn ipv4_addresses() {
        assert_eq!(
            parse_unicast_ipv4("192.0.2.1"),
            Ok(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert_eq!(
            parse_unicast_ipv4("10.255.255.255"),
            Ok(Ipv4Addr::new(10, 255, 255, 255))
        );
        for bad in [
            "10.0.0",
            "10.0.0.256",
            "10.0.0.1/24",
            " 10.0.0.1",
            "010.0.0.1",
            "::1",
            "",
        ] {
            assert!(
                parse_unicast_ipv4(bad)
                    .unwrap_err()
                    .contains("is not an IPv4 address"),
                "{bad:?}"
            );
        }
        for (bad, why) in [
            ("0.0.0.0", "unspecified"),
            ("127.0.0.1", "loopback"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.255", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
        ] {
            assert!(parse_unicast_ipv4(bad).unwrap_err().contains(why), "{bad}");
        }
        // The same rule as the controller's.
        for text in ["10.0.0.1", "0.0.0.0", "127.1.2.3", "224.0.0.1", "240.0.0.1"] {
            let ip: Ipv4Addr = text.parse().unwrap();
            assert_eq!(
                parse_unicast_ipv4(text).is_ok(),
                crate::abi::state::eni_addressing(1, &[0; 6], ipv4_to_abi(ip)),
                "{text}"
            );
        }
        assert_eq!(
            ipv4_from_abi(ipv4_to_abi(Ipv4Addr::new(192, 0, 2, 7))).to_string(),
            "192.0.2.7"
        );
        assert_eq!(
            ipv4_to_abi(Ipv4Addr::new(1, 2, 3, 4)).to_ne_bytes(),
            [1, 2, 3, 4]
        );
    }
}
