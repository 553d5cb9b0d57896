//! The kernel's routing and neighbour tables as Linux shows them in /proc:
//! which interface a destination leaves by, which router an interface's
//! default route goes through, and that router's hardware address.
//!
//! The parsers are pure and total: a line they cannot read is skipped,
//! whatever the text, never a panic. Only [`Routes::read`] touches /proc.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ids::normalize_mac;

/// `RTF_UP` (linux/route.h): the route is usable.
const RTF_UP: u32 = 0x0001;
/// `RTF_REJECT`: an unreachable or prohibit route, which sends nothing.
const RTF_REJECT: u32 = 0x0200;
/// `ATF_COM` (linux/if_arp.h): the neighbour entry is complete.
const ATF_COM: u32 = 0x02;

/// One route of either family.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    dest: IpAddr,
    /// Prefix length in bits: 0 to 32 (IPv4), 0 to 128 (IPv6).
    prefix: u8,
    /// The next hop; `None` for an on-link route.
    gateway: Option<IpAddr>,
    /// Lower wins among routes of one prefix length.
    metric: u32,
    interface: String,
}

impl Route {
    /// Whether `addr` (same family) falls inside this route's prefix.
    fn contains(&self, addr: IpAddr) -> bool {
        match (self.dest, addr) {
            (IpAddr::V4(d), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(d) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(d), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(d) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// The main routing tables (IPv4 and IPv6) at one moment: the usable
/// routes only, unreachable and prohibit ones left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes {
    routes: Vec<Route>,
}

impl Routes {
    /// Reads `/proc/net/route` and `/proc/net/ipv6_route` (the latter
    /// absent when IPv6 is disabled: then IPv4 only).
    ///
    /// # Errors
    /// `/proc/net/route` unreadable, or the IPv6 table unreadable for a
    /// reason other than its absence.
    #[cfg(target_os = "linux")]
    pub fn read() -> std::io::Result<Routes> {
        let v4 = std::fs::read_to_string("/proc/net/route")?;
        let v6 = match std::fs::read_to_string("/proc/net/ipv6_route") {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        Ok(Routes::parse(&v4, &v6))
    }

    /// The tables from the text of `/proc/net/route` (`v4`: a header, then
    /// `Iface Destination Gateway Flags RefCnt Use Metric Mask ...`, the
    /// addresses as 8 hex digits of the host-order word) and
    /// `/proc/net/ipv6_route` (`v6`: `dest plen src plen next-hop metric
    /// refcnt use flags iface`, addresses as 32 hex digits in network
    /// order, lengths, metric and flags in hex). Unreadable lines are
    /// skipped.
    pub fn parse(v4: &str, v6: &str) -> Routes {
        let routes = v4
            .lines()
            .filter_map(parse_v4_line)
            .chain(v6.lines().filter_map(parse_v6_line))
            .collect();
        Routes { routes }
    }

    /// The interface traffic to `addr` leaves by: the longest matching
    /// prefix, the lowest metric among those. `None` for loopback and
    /// unspecified addresses, and when no route matches. An IPv4-mapped
    /// IPv6 address is looked up as IPv4.
    pub fn interface_for(&self, addr: IpAddr) -> Option<&str> {
        let addr = addr.to_canonical();
        if addr.is_loopback() || addr.is_unspecified() {
            return None;
        }
        self.routes
            .iter()
            .filter(|r| r.contains(addr))
            .max_by(|a, b| a.prefix.cmp(&b.prefix).then(b.metric.cmp(&a.metric)))
            .map(|r| r.interface.as_str())
    }

    /// The gateway of the default route (prefix length 0) on `interface`:
    /// IPv4 before IPv6 (the neighbour table in /proc is IPv4's), then the
    /// lowest metric. `None` without such a route, as on a point-to-point
    /// link or a veth to a peer.
    pub fn gateway_of(&self, interface: &str) -> Option<IpAddr> {
        self.routes
            .iter()
            .filter(|r| r.prefix == 0 && r.interface == interface)
            .filter_map(|r| r.gateway.map(|g| (g, r.metric)))
            .min_by_key(|&(g, metric)| (g.is_ipv6(), metric))
            .map(|(g, _)| g)
    }
}

/// One line of `/proc/net/route`; `None` for the header and for anything
/// unusable.
fn parse_v4_line(line: &str) -> Option<Route> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let [interface, dest, gateway, flags, _refcnt, _use, metric, mask, ..] = f[..] else {
        return None;
    };
    let flags = hex_u32(flags)?;
    if flags & RTF_UP == 0 || flags & RTF_REJECT != 0 {
        return None;
    }
    let mask = u32::from(v4_from_proc(mask)?);
    if mask.leading_ones() != mask.count_ones() {
        return None;
    }
    let gateway = v4_from_proc(gateway)?;
    Some(Route {
        dest: IpAddr::V4(v4_from_proc(dest)?),
        prefix: u8::try_from(mask.count_ones()).ok()?,
        gateway: (!gateway.is_unspecified()).then_some(IpAddr::V4(gateway)),
        metric: metric.parse().ok()?,
        interface: interface.to_string(),
    })
}

/// One line of `/proc/net/ipv6_route`; `None` for anything unusable.
fn parse_v6_line(line: &str) -> Option<Route> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let [dest, prefix, _src, _src_prefix, next_hop, metric, _refcnt, _use, flags, interface] =
        f[..]
    else {
        return None;
    };
    let flags = hex_u32(flags)?;
    if flags & RTF_UP == 0 || flags & RTF_REJECT != 0 {
        return None;
    }
    let prefix = u8::try_from(hex_u32(prefix)?).ok().filter(|&p| p <= 128)?;
    let next_hop = v6_from_proc(next_hop)?;
    Some(Route {
        dest: IpAddr::V6(v6_from_proc(dest)?),
        prefix,
        gateway: (!next_hop.is_unspecified()).then_some(IpAddr::V6(next_hop)),
        metric: hex_u32(metric)?,
        interface: interface.to_string(),
    })
}

/// An IPv4 address as /proc/net/route prints it: the 32-bit word holding
/// the address in network byte order, printed as a host-order number (so
/// `0101A8C0` is 192.168.1.1 on a little-endian machine).
fn v4_from_proc(text: &str) -> Option<Ipv4Addr> {
    (text.len() == 8)
        .then(|| hex_u32(text))
        .flatten()
        .map(|word| Ipv4Addr::from(word.to_ne_bytes()))
}

/// An IPv6 address as /proc/net/ipv6_route prints it: 32 hex digits in
/// network order.
fn v6_from_proc(text: &str) -> Option<Ipv6Addr> {
    if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(text, 16).ok().map(Ipv6Addr::from)
}

/// Hex digits only (`from_str_radix` alone would take a leading `+`).
fn hex_u32(text: &str) -> Option<u32> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

/// The hardware address of `gateway` on `interface`, from the text of
/// `/proc/net/arp` (a header, then `IP-address HW-type Flags HW-address
/// Mask Device`), as `aa:bb:cc:dd:ee:ff`. `None` when the entry is missing
/// or incomplete (flags without `ATF_COM`, or an all-zero address), and for
/// an IPv6 gateway (that table is IPv4 only).
pub fn router_mac(arp: &str, gateway: IpAddr, interface: &str) -> Option<String> {
    let IpAddr::V4(gateway) = gateway.to_canonical() else {
        return None;
    };
    arp.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [ip, _hw_type, flags, mac, _mask, device] = f[..] else {
            return None;
        };
        let complete = hex_u32(flags).is_some_and(|flags| flags & ATF_COM != 0);
        let matches = device == interface && ip.parse::<Ipv4Addr>().ok() == Some(gateway);
        (matches && complete).then(|| normalize_mac(mac)).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A docked laptop: Wi-Fi and Ethernet on one LAN (Ethernet preferred
    /// by metric), Docker's bridge, and a VPN on tun0 that takes all IPv4
    /// with two /1 routes (leaving its own server's /32 to the LAN) and
    /// 2000::/3 of IPv6.
    const V4: &str = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
tun0\t00000000\t0100080A\t0003\t0\t0\t0\t00000080\t0\t0\t0
tun0\t00000080\t0100080A\t0003\t0\t0\t0\t00000080\t0\t0\t0
tun0\t0000080A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
wlan0\t077100CB\t0101A8C0\t0007\t0\t0\t600\tFFFFFFFF\t0\t0\t0
eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
wlan0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
*\t0000000A\t00000000\t0201\t0\t0\t0\t000000FF\t0\t0\t0
";

    const V6: &str = "\
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000258 00000001 00000000 00000003    wlan0
20010db8000100000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000258 00000001 00000000 00000001    wlan0
20000000000000000000000000000000 03 00000000000000000000000000000000 00 00000000000000000000000000000000 00000032 00000001 00000000 00000001     tun0
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000400 00000001 00000000 00000001    wlan0
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001  docker0
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000004 00000000 80200001       lo
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
";

    const ARP: &str = "\
IP address       HW type     Flags       HW address            Mask     Device
192.168.1.1      0x1         0x2         A4:2B:B0:C1:D2:E3     *        wlan0
192.168.1.1      0x1         0x2         a4:2b:b0:c1:d2:e4     *        eth0
192.168.1.30     0x1         0x0         00:00:00:00:00:00     *        wlan0
192.168.1.31     0x1         0x0         a4:2b:b0:c1:d2:99     *        wlan0
172.17.0.2       0x1         0x2         02:42:ac:11:00:02     *        docker0
";

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn longest_prefix_then_lowest_metric() {
        let r = Routes::parse(V4, V6);
        for (addr, want) in [
            ("8.8.8.8", Some("tun0")),              // 0.0.0.0/1 beats the defaults
            ("200.1.1.1", Some("tun0")),            // 128.0.0.0/1
            ("10.8.0.1", Some("tun0")),             // the tunnel's own /24
            ("10.1.2.3", Some("tun0")),             // the unreachable 10/8 is left out
            ("203.0.113.7", Some("wlan0")),         // the VPN server's /32
            ("192.168.1.20", Some("eth0")),         // one /24 twice: metric 100 < 600
            ("172.17.0.2", Some("docker0")),        // the bridge's /16
            ("::ffff:172.17.0.2", Some("docker0")), // IPv4-mapped
            ("2606:4700::1111", Some("tun0")),      // 2000::/3 beats ::/0
            ("2001:db8:1::5", Some("wlan0")),       // a /64 beats 2000::/3
            ("fe80::5", Some("docker0")),           // one /64 twice: metric 256 < 1024
            ("fc00::1", Some("wlan0")),             // only the default
            ("127.0.0.1", None),
            ("0.0.0.0", None),
            ("::1", None),
            ("::", None),
        ] {
            assert_eq!(r.interface_for(ip(addr)), want, "{addr}");
        }
    }

    #[test]
    fn default_gateways_per_interface() {
        let r = Routes::parse(V4, V6);
        assert_eq!(r.gateway_of("wlan0"), Some(ip("192.168.1.1")));
        assert_eq!(r.gateway_of("eth0"), Some(ip("192.168.1.1")));
        // The /1 pair is not a default route: the tunnel has no router.
        assert_eq!(r.gateway_of("tun0"), None);
        assert_eq!(r.gateway_of("docker0"), None);
        assert_eq!(r.gateway_of("lo"), None);
        // IPv6 only: its default route's gateway.
        let r = Routes::parse("", V6);
        assert_eq!(r.gateway_of("wlan0"), Some(ip("fe80::1")));
        assert_eq!(r.interface_for(ip("8.8.8.8")), None);
    }

    #[test]
    fn router_macs_from_the_neighbour_table() {
        let gw = ip("192.168.1.1");
        assert_eq!(
            router_mac(ARP, gw, "wlan0").as_deref(),
            Some("a4:2b:b0:c1:d2:e3")
        );
        assert_eq!(
            router_mac(ARP, gw, "eth0").as_deref(),
            Some("a4:2b:b0:c1:d2:e4")
        );
        assert_eq!(router_mac(ARP, gw, "docker0"), None);
        assert_eq!(router_mac(ARP, ip("192.168.1.30"), "wlan0"), None);
        assert_eq!(router_mac(ARP, ip("192.168.1.31"), "wlan0"), None);
        assert_eq!(router_mac(ARP, ip("fe80::1"), "wlan0"), None);
        assert_eq!(
            router_mac(ARP, ip("::ffff:192.168.1.1"), "wlan0").as_deref(),
            Some("a4:2b:b0:c1:d2:e3")
        );
        assert_eq!(router_mac("", gw, "wlan0"), None);
    }

    #[test]
    fn odd_lines_are_skipped() {
        let v4 = "eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00FF00FF\t0\t0\t0\n\
                  eth0\t00000000\t+101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                  eth0\t0000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                  eth0\t00000000\t0101A8C0\t0002\t0\t0\t0\t00000000\t0\t0\t0\n\
                  eth0\t00000000\t0101A8C0\t0003\t0\t0\t-1\t00000000\t0\t0\t0\n";
        let v6 = "00000000000000000000000000000000 81 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000258 00000001 00000000 00000003 wlan0\n";
        assert_eq!(Routes::parse(v4, v6), Routes::default());
    }

    proptest! {
        #[test]
        fn parsers_take_any_text(v4 in any::<String>(), v6 in any::<String>(), arp in any::<String>(), probe in any::<u128>()) {
            let r = Routes::parse(&v4, &v6);
            let _ = r.interface_for(IpAddr::V6(Ipv6Addr::from(probe)));
            let _ = r.interface_for(IpAddr::V4(Ipv4Addr::from(probe as u32)));
            let _ = r.gateway_of("eth0");
            let _ = router_mac(&arp, IpAddr::V4(Ipv4Addr::from(probe as u32)), "eth0");
        }

        #[test]
        fn parsers_take_table_shaped_garbage(
            v4 in "([0-9A-Fa-fx*+-]{0,9}[ \t]{1,2}){0,12}(\n([0-9A-Fa-fx*+-]{0,9}[ \t]{1,2}){0,12}){0,6}",
            v6 in "([0-9a-f]{0,33}[ ]{1,2}){0,11}(\n([0-9a-f]{0,33}[ ]{1,2}){0,11}){0,6}",
            probe in any::<u32>(),
        ) {
            let r = Routes::parse(&v4, &v6);
            let _ = r.interface_for(IpAddr::V4(Ipv4Addr::from(probe)));
            let _ = r.gateway_of("eth0");
            let _ = router_mac(&v4, IpAddr::V4(Ipv4Addr::from(probe)), "eth0");
        }
    }
}
