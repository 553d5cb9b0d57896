//! The ids and names nbi gives networks it identifies by itself, the same on
//! every OS: `router:<mac>` for the router a default route goes through,
//! `if:<interface>` when there is nothing better than the interface.

use super::sighting::Sighting;
use crate::tick::NetworkId;

/// A network known only by its interface: `if:<interface>`, named after the
/// interface, metered unknown. What a point-to-point link, a veth to a
/// peer, or an OS that says nothing gets.
pub fn on_interface(interface: &str) -> Sighting {
    Sighting {
        id: NetworkId::from_parts("if", interface),
        name: interface.to_string(),
        metered: None,
    }
}

/// A network known by its router: `router:<mac>`, named
/// `"<interface> via router <mac>"`, metered unknown. `mac` is as
/// [`normalize_mac`] gives it.
pub fn via_router(interface: &str, mac: &str) -> Sighting {
    Sighting {
        id: NetworkId::from_parts("router", mac),
        name: format!("{interface} via router {mac}"),
        metered: None,
    }
}

/// What to call a network no OS and no owner named (one seen only in
/// ticks from a broker or a file): from its id, `Cellular (pdp_ip0)`,
/// `VPN (utun3)`, `router aa:bb:…`, or the name after the kind.
pub fn name_of_id(id: &NetworkId) -> String {
    let label = id.label();
    match id.kind() {
        "cell" => format!("Cellular ({label})"),
        "vpn" => format!("VPN ({label})"),
        "router" => format!("router {label}"),
        _ => label.to_string(),
    }
}

/// A hardware address as six lower-case two-digit octets joined by `:`
/// (`aa:bb:cc:0d:ee:ff`), from the forms the OS tools print: Linux's
/// `AA:BB:...` and macOS's `aa:bb:cc:d:ee:ff` (leading zeros dropped).
/// `None` for anything else, and for `00:00:00:00:00:00` (no address).
pub fn normalize_mac(text: &str) -> Option<String> {
    let mut octets = [0u8; 6];
    let mut parts = text.split(':');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *octet = u8::from_str_radix(part, 16).ok()?;
    }
    if parts.next().is_some() || octets == [0; 6] {
        return None;
    }
    let hex: Vec<String> = octets.iter().map(|o| format!("{o:02x}")).collect();
    Some(hex.join(":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_come_out_in_one_form() {
        assert_eq!(
            normalize_mac("AA:BB:CC:0D:EE:FF").as_deref(),
            Some("aa:bb:cc:0d:ee:ff")
        );
        assert_eq!(
            normalize_mac("b4:fb:e4:1:87:3f").as_deref(),
            Some("b4:fb:e4:01:87:3f")
        );
        for bad in [
            "",
            "00:00:00:00:00:00",
            "0:0:0:0:0:0",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "aa:bb:cc:dd:ee:fff",
            "aa:bb:cc:dd:ee:",
            "aa:bb:cc:dd:ee:+f",
            "(incomplete)",
        ] {
            assert_eq!(normalize_mac(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ids_and_names() {
        let s = via_router("wlan0", "aa:bb:cc:dd:ee:ff");
        assert_eq!(s.id.as_str(), "router:aa:bb:cc:dd:ee:ff");
        assert_eq!(s.name, "wlan0 via router aa:bb:cc:dd:ee:ff");
        assert_eq!(s.metered, None);
        let s = on_interface("veth3");
        assert_eq!((s.id.as_str(), s.name.as_str()), ("if:veth3", "veth3"));
    }
}
