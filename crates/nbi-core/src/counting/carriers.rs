//! Tunnel carriers: the processes of VPN and overlay-network clients. Their
//! sockets carry every tunnelled app's bytes a second time (encrypted), so
//! counting them would count that traffic twice.
//!
//! Names are what nbi sees for them: the executable or process name (`ps`,
//! `/proc/PID/comm`, nettop before its 15-character cut), the app a helper
//! resolves to (its outermost `.app` bundle: a tunnel extension inside
//! `WireGuard.app` is "WireGuard"), and, for macOS system extensions, which
//! live outside any `.app`, their bundle identifier. Each name also matches
//! nettop's cut form of it (`WireGuardNetworkExtension` → `WireGuardNetwor`).
//!
//! Gathered from vendors' documentation, install scripts and launchd
//! labels, and from public `nettop`/`ps` captures. A carrier that is not a
//! process (Linux kernel WireGuard, IPsec in the kernel) needs no entry: its
//! bytes never reach a process's socket.

/// The built-in tunnel carriers, by product.
pub const BUILT_IN: &[(&str, &[&str])] = &[
    (
        "Cisco Secure Client / AnyConnect",
        &["vpnagentd", "com.cisco.anyconnect.macos.acsockext"],
    ),
    ("openconnect", &["openconnect"]),
    (
        "Palo Alto GlobalProtect",
        &[
            "GlobalProtect",
            "PanGPS",
            "com.paloaltonetworks.GlobalProtect.client.extension",
        ],
    ),
    (
        "Cloudflare WARP",
        &["Cloudflare WARP", "CloudflareWARP", "warp-svc"],
    ),
    (
        "NordVPN",
        &[
            "NordVPN",
            "nordvpnd",
            "com.nordvpn.macos.Shield",
            "com.nordvpn.macos.NordLynx",
            "com.nordvpn.macos.NetworkTunnelExtension",
        ],
    ),
    (
        "Proton VPN",
        &[
            "ProtonVPN",
            "Proton VPN",
            "ch.protonvpn.mac.WireGuard-Extension",
            "ch.protonvpn.mac.OpenVPN-Extension",
            "ch.protonvpn.mac.Transparent-Proxy",
        ],
    ),
    ("Mullvad", &["Mullvad VPN", "mullvad-daemon"]),
    ("ExpressVPN", &["ExpressVPN", "expressvpnd"]),
    // Tunnelblick's openvpn lives inside Tunnelblick.app.
    ("Tunnelblick", &["Tunnelblick"]),
    ("OpenVPN", &["openvpn", "OpenVPN Connect", "ovpnagent"]),
    (
        "Tailscale",
        &[
            "Tailscale",
            "tailscaled",
            "IPNExtension",
            "io.tailscale.ipn.macsys.network-extension",
        ],
    ),
    (
        "WireGuard",
        &[
            "WireGuard",
            "WireGuardNetworkExtension",
            "wireguard-go",
            "boringtun",
        ],
    ),
    ("ZeroTier", &["ZeroTier One", "zerotier-one"]),
    (
        "FortiClient",
        &[
            "com.fortinet.forticlient.macos.vpn.nwextension",
            "openfortivpn",
        ],
    ),
    (
        "Ivanti Secure Access / Pulse Secure",
        &["Pulse Secure", "Ivanti Secure Access", "dsAccessService"],
    ),
    (
        "Check Point Endpoint Security VPN",
        &["Endpoint Security VPN", "Endpoint_Security_VPN"],
    ),
    ("Zscaler", &["Zscaler", "ZscalerTunnel"]),
    ("Surfshark", &["Surfshark"]),
    (
        "Private Internet Access",
        &[
            "Private Internet Access",
            "pia-daemon",
            "pia-openvpn",
            "pia-wireguard-go",
            "pia-ss-local",
        ],
    ),
    (
        "Windscribe",
        &[
            "Windscribe",
            "windscribeopenvpn",
            "windscribewireguard",
            "windscribewstunnel",
        ],
    ),
    // Outline's app name is left out: a note-taking app shares it.
    ("Outline (shadowsocks)", &["ss-local"]),
    ("Nebula", &["nebula"]),
    ("NetBird", &["NetBird", "netbird"]),
    (
        "Twingate",
        &["Twingate", "twingated", "com.twingate.macos.tunnelprovider"],
    ),
    ("Viscosity", &["Viscosity"]),
    // A proxy-VPN's packet tunnel (Shadowrocket and others).
    ("Shadowrocket", &["Shadowrocket", "MacPacketTunnel"]),
];

/// Every built-in carrier name.
pub fn built_in_names() -> impl Iterator<Item = &'static str> {
    BUILT_IN.iter().flat_map(|(_, names)| names.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_trimmed() {
        let mut seen = std::collections::BTreeSet::new();
        for name in built_in_names() {
            assert_eq!(name, name.trim(), "{name:?}");
            assert!(!name.is_empty());
            assert!(seen.insert(name), "{name} twice");
        }
    }
}
