//! How nbi tells macOS networks apart, from what three stock commands print:
//! `ipconfig getsummary <if>` (the Wi-Fi name), `route -n get -ifscope <if>
//! default` (the router), `arp -n <router>` (its hardware address). Pure:
//! the commands are run by whoever calls [`sighting_for`] (the macOS module
//! with time limits, tests with fixtures), so this is tested on Linux too.
//!
//! Only Network.framework knows whether macOS thinks a network is expensive
//! (its "Low Data Mode" and cellular flags); these commands do not say. One
//! case is recognisable anyway: an iPhone's Personal Hotspot always hands
//! out 172.20.10.0/28 with itself as the router at 172.20.10.1, so a router
//! at that address is taken as a phone's cellular data (metered). A home
//! router configured on that address would be mistaken for one.

use std::net::{IpAddr, Ipv4Addr};

use super::ids::{self, normalize_mac};
use super::sighting::Sighting;
use crate::tick::NetworkId;

/// The router address of Apple's Personal Hotspot (Wi-Fi, USB and
/// Bluetooth alike).
pub const PERSONAL_HOTSPOT_ROUTER: Ipv4Addr = Ipv4Addr::new(172, 20, 10, 1);

/// The commands [`sighting_for`] asks to run, as program and arguments.
pub const IPCONFIG: &str = "/usr/sbin/ipconfig";
pub const ROUTE: &str = "/sbin/route";
pub const ARP: &str = "/usr/sbin/arp";

/// What an interface is by its name (macOS's naming is stable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `pdp_ip*`: the cellular modem.
    Cell,
    /// `utun*`, `ipsec*`, `ppp*`: a tunnel.
    Vpn,
    /// `en*`, `bridge*`: Wi-Fi, Ethernet, USB and Bluetooth tethering.
    Lan,
    /// Anything else (`lo0`, `awdl0`, `llw0`, `gif0`...).
    Other,
}

impl Family {
    pub fn of(interface: &str) -> Family {
        let starts = |p: &[&str]| p.iter().any(|p| interface.starts_with(p));
        if starts(&["pdp_ip"]) {
            Family::Cell
        } else if starts(&["utun", "ipsec", "ppp"]) {
            Family::Vpn
        } else if starts(&["en", "bridge"]) {
            Family::Lan
        } else {
            Family::Other
        }
    }
}

/// What `interface` is on. `run` runs a command (program, arguments) and
/// gives its standard output, `None` when it failed or took too long; it
/// is called only for LAN interfaces: `ipconfig`, then `route`, then `arp`
/// when there is a router.
pub fn sighting_for(
    interface: &str,
    run: &mut dyn FnMut(&str, &[&str]) -> Option<String>,
) -> Sighting {
    match Family::of(interface) {
        Family::Cell => Sighting {
            id: NetworkId::from_parts("cell", interface),
            name: "Cellular".to_string(),
            metered: Some(true),
        },
        Family::Vpn => Sighting {
            id: NetworkId::from_parts("vpn", interface),
            name: interface.to_string(),
            metered: None,
        },
        Family::Lan => lan(interface, run),
        Family::Other => ids::on_interface(interface),
    }
}

/// A LAN interface: its Wi-Fi name, else its router, else itself.
fn lan(interface: &str, run: &mut dyn FnMut(&str, &[&str]) -> Option<String>) -> Sighting {
    let ssid = run(IPCONFIG, &["getsummary", interface]).and_then(|t| summary_ssid(&t));
    let route = run(ROUTE, &["-n", "get", "-ifscope", interface, "default"]);
    let gateway = route.and_then(|t| default_gateway(&t, interface));
    let hotspot = gateway == Some(IpAddr::V4(PERSONAL_HOTSPOT_ROUTER));
    let metered = hotspot.then_some(true);
    if let Some(ssid) = ssid {
        return Sighting {
            id: NetworkId::from_parts("wifi", &ssid),
            name: ssid,
            metered,
        };
    }
    let mac = gateway.and_then(|g| {
        let text = run(ARP, &["-n", &g.to_string()])?;
        arp_mac(&text, g, interface)
    });
    match mac {
        Some(mac) if hotspot => Sighting {
            name: "Personal Hotspot".to_string(),
            metered,
            ..ids::via_router(interface, &mac)
        },
        Some(mac) => ids::via_router(interface, &mac),
        None => ids::on_interface(interface),
    }
}

/// The Wi-Fi name in `ipconfig getsummary <if>` output: the top-level
/// ` SSID : <name>` line of its `<dictionary> { ... }`. `None` when the
/// interface is not Wi-Fi, its link is down (`LinkStatusActive : FALSE`),
/// or the name is `<redacted>` (macOS 14 and later without the Location
/// permission).
pub fn summary_ssid(text: &str) -> Option<String> {
    let mut depth = 0usize;
    let mut ssid = None;
    let mut link_down = false;
    for line in text.lines() {
        let line = line.trim();
        if line == "}" {
            depth = depth.saturating_sub(1);
            continue;
        }
        // Only the outer dictionary's own keys: nested ones (IPv4, IPv6,
        // ...) hold other things.
        if depth == 1 {
            match line.split_once(" : ") {
                Some(("SSID", name)) => ssid = Some(name.to_string()),
                Some(("LinkStatusActive", "FALSE")) => link_down = true,
                _ => {}
            }
        }
        // Containers open with `<dictionary> {` or `<array> {`.
        if line.ends_with("> {") {
            depth += 1;
        }
    }
    ssid.filter(|s| !link_down && !s.is_empty() && s != "<redacted>")
}

/// The gateway in `route -n get [-ifscope <if>] default` output (lines
/// `    gateway: 192.168.1.1` and `  interface: en0`), when the route found
/// leaves by `interface` and has a gateway address (an interface route
/// has none).
pub fn default_gateway(text: &str, interface: &str) -> Option<IpAddr> {
    let field = |key: &str| {
        text.lines()
            .filter_map(|l| l.trim().split_once(':'))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim())
    };
    if field("interface")? != interface {
        return None;
    }
    field("gateway")?.parse().ok()
}

/// The hardware address of `gateway` in `arp -n <gateway>` output (lines
/// such as `? (192.168.1.1) at b4:fb:e4:1:87:3f on en0 ifscope
/// [ethernet]`), on `interface` when the line names one, as
/// `aa:bb:cc:dd:ee:ff`. `None` for `(incomplete)` and `-- no entry`.
pub fn arp_mac(text: &str, gateway: IpAddr, interface: &str) -> Option<String> {
    let wanted = format!("({gateway})");
    text.lines().find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words.iter().position(|w| *w == "at")?;
        let on = words.iter().position(|w| *w == "on");
        let here = on
            .and_then(|i| words.get(i + 1))
            .is_none_or(|i| *i == interface);
        (words.get(1) == Some(&wanted.as_str()) && here)
            .then(|| normalize_mac(words.get(at + 1)?))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// What `ipconfig getsummary en0` prints on Wi-Fi, with the nested
    /// dictionaries it has (fixture written for these tests).
    fn summary(ssid: &str, link: &str) -> String {
        format!(
            "<dictionary> {{
  BSSID : 3c:22:fb:10:20:30
  ConnectionID : 12
  IPv4 : <array> {{
    0 : <dictionary> {{
      Addresses : <array> {{
        0 : 192.168.1.23
      }}
      ConfigMethod : DHCP
      SSID : NotThisOne
    }}
  }}
  InterfaceType : WiFi
  LinkStatusActive : {link}
  NetworkID : 5A0B3C4D-0000-1111-2222-333344445555
  SSID : {ssid}
  Security : WPA2_PSK
}}
"
        )
    }

    const WIRED: &str = "<dictionary> {
  InterfaceType : Ethernet
  LinkStatusActive : TRUE
}
";

    fn route(gateway: &str, interface: &str) -> String {
        format!(
            "   route to: default
destination: default
       mask: default
    gateway: {gateway}
  interface: {interface}
      flags: <UP,GATEWAY,DONE,STATIC,PRCLONING,IFSCOPE,GLOBAL>
 recvpipe  sendpipe  ssthresh  rtt,msec    rttvar  hopcount      mtu     expire
       0         0         0         0         0         0      1500         0
"
        )
    }

    fn arp(ip: &str, mac: &str, interface: &str) -> String {
        format!("? ({ip}) at {mac} on {interface} ifscope [ethernet]\n")
    }

    /// A fake machine: command line → output.
    fn machine(outputs: &[(&str, String)]) -> impl FnMut(&str, &[&str]) -> Option<String> {
        let outputs: HashMap<String, String> = outputs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        move |program, args| {
            outputs
                .get(&format!("{program} {}", args.join(" ")))
                .cloned()
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ssid_only_when_named_and_up() {
        assert_eq!(
            summary_ssid(&summary("Home", "TRUE")).as_deref(),
            Some("Home")
        );
        assert_eq!(
            summary_ssid(&summary("Café Wi-Fi : 2", "TRUE")).as_deref(),
            Some("Café Wi-Fi : 2")
        );
        assert_eq!(summary_ssid(&summary("<redacted>", "TRUE")), None);
        assert_eq!(summary_ssid(&summary("Home", "FALSE")), None);
        assert_eq!(summary_ssid(WIRED), None);
        assert_eq!(summary_ssid(""), None);
    }

    #[test]
    fn gateway_of_the_scoped_default_route() {
        let r = route("192.168.1.1", "en0");
        assert_eq!(default_gateway(&r, "en0"), Some(ip("192.168.1.1")));
        assert_eq!(default_gateway(&r, "en5"), None);
        // A default route through a tunnel names no gateway address.
        let tunnel = "   route to: default\ndestination: default\n  interface: utun3\n";
        assert_eq!(default_gateway(tunnel, "utun3"), None);
        assert_eq!(
            default_gateway("route: writing to routing socket: not in table\n", "en0"),
            None
        );
    }

    #[test]
    fn router_macs_from_arp() {
        let gw = ip("192.168.1.1");
        let line = arp("192.168.1.1", "b4:fb:e4:1:87:3f", "en0");
        assert_eq!(
            arp_mac(&line, gw, "en0").as_deref(),
            Some("b4:fb:e4:01:87:3f")
        );
        assert_eq!(arp_mac(&line, gw, "en5"), None);
        assert_eq!(arp_mac(&line, ip("192.168.1.10"), "en0"), None);
        let incomplete = "? (192.168.1.1) at (incomplete) on en0 ifscope [ethernet]\n";
        assert_eq!(arp_mac(incomplete, gw, "en0"), None);
        assert_eq!(
            arp_mac("192.168.1.1 (192.168.1.1) -- no entry\n", gw, "en0"),
            None
        );
    }

    #[test]
    fn interfaces_by_family() {
        let mut nothing =
            |_: &str, _: &[&str]| -> Option<String> { panic!("no command for these") };
        let s = sighting_for("pdp_ip0", &mut nothing);
        assert_eq!(
            (s.id.as_str(), s.name.as_str(), s.metered),
            ("cell:pdp_ip0", "Cellular", Some(true))
        );
        for i in ["utun4", "ipsec0", "ppp0"] {
            let s = sighting_for(i, &mut nothing);
            assert_eq!(
                (s.id.as_str(), s.name.as_str(), s.metered),
                (&*format!("vpn:{i}"), i, None)
            );
        }
        for i in ["lo0", "awdl0", "llw0"] {
            assert_eq!(sighting_for(i, &mut nothing).id.as_str(), format!("if:{i}"));
        }
    }

    #[test]
    fn wifi_by_name_else_by_router() {
        let mut named = machine(&[
            ("/usr/sbin/ipconfig getsummary en0", summary("Home", "TRUE")),
            (
                "/sbin/route -n get -ifscope en0 default",
                route("192.168.1.1", "en0"),
            ),
        ]);
        let s = sighting_for("en0", &mut named);
        assert_eq!(
            (s.id.as_str(), s.name.as_str(), s.metered),
            ("wifi:Home", "Home", None)
        );

        let mut redacted = machine(&[
            (
                "/usr/sbin/ipconfig getsummary en0",
                summary("<redacted>", "TRUE"),
            ),
            (
                "/sbin/route -n get -ifscope en0 default",
                route("192.168.1.1", "en0"),
            ),
            (
                "/usr/sbin/arp -n 192.168.1.1",
                arp("192.168.1.1", "a4:2b:b0:c1:d2:e3", "en0"),
            ),
        ]);
        let s = sighting_for("en0", &mut redacted);
        assert_eq!(s.id.as_str(), "router:a4:2b:b0:c1:d2:e3");
        assert_eq!(s.name, "en0 via router a4:2b:b0:c1:d2:e3");
        assert_eq!(s.metered, None);

        // Ethernet with its router not yet resolved, and one without any.
        let mut wired = machine(&[
            ("/usr/sbin/ipconfig getsummary en5", WIRED.to_string()),
            (
                "/sbin/route -n get -ifscope en5 default",
                route("10.0.0.1", "en5"),
            ),
        ]);
        assert_eq!(sighting_for("en5", &mut wired).id.as_str(), "if:en5");
        assert_eq!(
            sighting_for("bridge0", &mut machine(&[])).id.as_str(),
            "if:bridge0"
        );
    }

    #[test]
    fn personal_hotspot_is_metered() {
        let mut usb = machine(&[
            (
                "/sbin/route -n get -ifscope en7 default",
                route("172.20.10.1", "en7"),
            ),
            (
                "/usr/sbin/arp -n 172.20.10.1",
                arp("172.20.10.1", "f2:1:2:3:4:5", "en7"),
            ),
        ]);
        let s = sighting_for("en7", &mut usb);
        assert_eq!(
            (s.id.as_str(), s.name.as_str(), s.metered),
            ("router:f2:01:02:03:04:05", "Personal Hotspot", Some(true))
        );
        let mut wifi = machine(&[
            (
                "/usr/sbin/ipconfig getsummary en0",
                summary("Anna's iPhone", "TRUE"),
            ),
            (
                "/sbin/route -n get -ifscope en0 default",
                route("172.20.10.1", "en0"),
            ),
        ]);
        let s = sighting_for("en0", &mut wifi);
        assert_eq!(
            (s.id.as_str(), s.name.as_str(), s.metered),
            ("wifi:Anna's iPhone", "Anna's iPhone", Some(true))
        );
    }

    proptest! {
        #[test]
        fn parsers_take_any_text(text in any::<String>(), probe in any::<u32>()) {
            let _ = summary_ssid(&text);
            let _ = default_gateway(&text, "en0");
            let _ = arp_mac(&text, IpAddr::V4(Ipv4Addr::from(probe)), "en0");
            let mut run = |_: &str, _: &[&str]| Some(text.clone());
            let _ = sighting_for("en0", &mut run);
        }

        #[test]
        fn summaries_of_any_shape(text in "([ ]{0,4}(SSID|LinkStatusActive|[A-Za-z]{1,5}|\\}|<dictionary> \\{)( : )?[a-zA-Z<>{} ]{0,8}\n){0,12}") {
            let _ = summary_ssid(&text);
        }
    }
}
