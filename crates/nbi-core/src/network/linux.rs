//! Which network each interface is on, as Linux knows it.
//!
//! First NetworkManager, over D-Bus: the device's active connection gives
//! the name the owner already chose ("Home", "Office LAN") and its type,
//! the device's `Metered` property whether it costs money. Where
//! NetworkManager is absent, unreachable, slow, or does not manage the
//! interface: the router, by the hardware address of the default route's
//! gateway (`router:<mac>`), and failing that the interface itself
//! (`if:<interface>`). [`identify`] never fails: it always answers.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use zbus::{OwnedObjectPath, OwnedVariant};

use super::ids;
use super::route::{router_mac, Routes};
use super::sighting::Sighting;
use crate::tick::NetworkId;

/// How long [`identify`] may wait on D-Bus in all (connecting,
/// authenticating, every call), so a hung bus never stalls a source.
pub const DBUS_BUDGET: Duration = Duration::from_secs(1);

const NM_SERVICE: &str = "org.freedesktop.NetworkManager";
const NM_PATH: &str = "/org/freedesktop/NetworkManager";
const NM_DEVICE: &str = "org.freedesktop.NetworkManager.Device";
const NM_ACTIVE: &str = "org.freedesktop.NetworkManager.Connection.Active";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

/// Which D-Bus bus to ask NetworkManager on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bus {
    /// The system bus (`DBUS_SYSTEM_BUS_ADDRESS`, else
    /// `/var/run/dbus/system_bus_socket`), where NetworkManager lives.
    System,
    /// A D-Bus address such as `unix:path=/tmp/x/bus` (tests).
    Address(String),
}

/// What each of `interfaces` is on, keyed by interface name: one
/// [`Sighting`] for each, whatever happens. Blocks for up to
/// [`DBUS_BUDGET`] on D-Bus plus two small /proc reads: call it from a
/// blocking context (a source's thread, `spawn_blocking`), never from
/// inside an async task.
pub fn identify(interfaces: &[&str], bus: Bus) -> BTreeMap<String, Sighting> {
    if interfaces.is_empty() {
        return BTreeMap::new();
    }
    let mut managed = match network_manager(&bus, interfaces) {
        Ok(found) => found,
        Err(e) => {
            report(&e);
            BTreeMap::new()
        }
    };
    let (routes, arp) = if interfaces.iter().all(|i| managed.contains_key(*i)) {
        (Routes::default(), String::new())
    } else {
        kernel_tables()
    };
    interfaces
        .iter()
        .map(|&i| {
            let s = managed
                .remove(i)
                .unwrap_or_else(|| fallback(i, &routes, &arp));
            (i.to_string(), s)
        })
        .collect()
}

/// What an interface NetworkManager says nothing about is on: its router
/// (`router:<mac>`, from the default route's gateway on that interface and
/// that gateway's entry in `arp`, the text of /proc/net/arp), else the
/// interface itself (`if:<interface>`: no default route through it, as on a
/// point-to-point link or a veth to a peer, or no neighbour entry for the
/// gateway yet). Metered is unknown either way.
pub fn fallback(interface: &str, routes: &Routes, arp: &str) -> Sighting {
    routes
        .gateway_of(interface)
        .and_then(|gateway| router_mac(arp, gateway, interface))
        .map(|mac| ids::via_router(interface, &mac))
        .unwrap_or_else(|| ids::on_interface(interface))
}

/// The routing tables and the neighbour table; empty where unreadable
/// (then every fallback is `if:`).
fn kernel_tables() -> (Routes, String) {
    let routes = Routes::read().unwrap_or_else(|e| {
        tracing::debug!("network: no routing table: {e}");
        Routes::default()
    });
    let arp = std::fs::read_to_string("/proc/net/arp").unwrap_or_else(|e| {
        tracing::debug!("network: no neighbour table: {e}");
        String::new()
    });
    (routes, arp)
}

/// Why NetworkManager gave no answer.
#[derive(Debug, thiserror::Error)]
enum NmError {
    #[error("no D-Bus bus to ask: {0}")]
    NoBus(zbus::Error),
    #[error("NetworkManager did not answer: {0}")]
    NoAnswer(zbus::Error),
    #[error("D-Bus took longer than {0:?}")]
    TimedOut(Duration),
    #[error("NetworkManager answered something unexpected: {0}")]
    Garbage(String),
}

/// Says why NetworkManager was not used: quietly when it is simply not
/// there (the usual case on a server or in a container), once per process
/// at warn when it is there but answers nonsense.
fn report(e: &NmError) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    match e {
        NmError::Garbage(_) if !WARNED.swap(true, Ordering::Relaxed) => {
            tracing::warn!("network: {e}; naming networks by their routers instead")
        }
        _ => tracing::debug!("network: {e}; naming networks by their routers instead"),
    }
}

/// The sightings NetworkManager gives for those of `wanted` it manages and
/// has an active connection on, within [`DBUS_BUDGET`].
fn network_manager(bus: &Bus, wanted: &[&str]) -> Result<BTreeMap<String, Sighting>, NmError> {
    let deadline = Instant::now() + DBUS_BUDGET;
    zbus::block_on(async {
        let runtime =
            zruntime::SharedRuntime::current().map_err(|e| NmError::NoBus(zbus::Error::from(e)))?;
        runtime
            .timeout_at(deadline, ask(bus, wanted))
            .await
            .unwrap_or(Err(NmError::TimedOut(DBUS_BUDGET)))
    })
}

/// One device as far as [`identify`] cares.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Device {
    /// `Interface` and, when it differs (a modem's control port versus its
    /// data interface), `IpInterface`.
    interfaces: Vec<String>,
    /// `None` when the device has no active connection (`/`).
    active: Option<OwnedObjectPath>,
    metered: Option<bool>,
}

/// Connects to `bus`, lists NetworkManager's devices and, for each on one
/// of `wanted` with an active connection, makes its sighting.
async fn ask(bus: &Bus, wanted: &[&str]) -> Result<BTreeMap<String, Sighting>, NmError> {
    let builder = match bus {
        Bus::System => zbus::conn::Builder::system(),
        Bus::Address(a) => zbus::conn::Builder::address(a.as_str()),
    };
    let conn = builder
        .method_timeout(DBUS_BUDGET)
        .build()
        .await
        .map_err(NmError::NoBus)?;
    let reply = conn
        .call_method(
            Some(NM_SERVICE),
            NM_PATH,
            Some(NM_SERVICE),
            "GetDevices",
            &(),
        )
        .await
        .map_err(NmError::NoAnswer)?;
    let paths: Vec<OwnedObjectPath> = reply
        .body()
        .deserialize()
        .map_err(|e| NmError::Garbage(format!("GetDevices: {e}")))?;
    let mut found = BTreeMap::new();
    for path in paths {
        let Some(device) = device(&conn, &path).await? else {
            continue;
        };
        let names: Vec<&String> = device
            .interfaces
            .iter()
            .filter(|i| wanted.contains(&i.as_str()) && !found.contains_key(*i))
            .collect();
        if names.is_empty() {
            continue;
        }
        let Some(active) = &device.active else {
            continue;
        };
        let Some(sighting) = connection(&conn, active, device.metered).await? else {
            continue;
        };
        for name in names {
            found.insert(name.clone(), sighting.clone());
        }
    }
    Ok(found)
}

/// A device's properties; `None` when it went away meanwhile.
async fn device(
    conn: &zbus::Connection,
    path: &OwnedObjectPath,
) -> Result<Option<Device>, NmError> {
    let Some(mut props) = all_properties(conn, path, NM_DEVICE).await? else {
        return Ok(None);
    };
    let what = |p: &str| format!("{path} {p}");
    let interface: String = take(&mut props, "Interface", what)?.unwrap_or_default();
    let ip_interface: String = take(&mut props, "IpInterface", what)?.unwrap_or_default();
    let active: Option<OwnedObjectPath> = take(&mut props, "ActiveConnection", what)?;
    // Older NetworkManagers have no Metered property: unknown.
    let metered: Option<u32> = take(&mut props, "Metered", what)?;
    let mut interfaces = vec![interface];
    if !ip_interface.is_empty() && ip_interface != interfaces[0] {
        interfaces.push(ip_interface);
    }
    Ok(Some(Device {
        interfaces,
        active: active.filter(|p| p.as_str() != "/"),
        metered: metered.and_then(metered_from_nm),
    }))
}

/// The sighting of an active connection; `None` when it went away
/// meanwhile or has no name.
async fn connection(
    conn: &zbus::Connection,
    path: &OwnedObjectPath,
    metered: Option<bool>,
) -> Result<Option<Sighting>, NmError> {
    let Some(mut props) = all_properties(conn, path, NM_ACTIVE).await? else {
        return Ok(None);
    };
    let what = |p: &str| format!("{path} {p}");
    let id: String = take(&mut props, "Id", what)?.unwrap_or_default();
    let kind: String = take(&mut props, "Type", what)?.unwrap_or_default();
    if id.is_empty() {
        tracing::debug!("network: active connection {path} has no name");
        return Ok(None);
    }
    Ok(Some(Sighting {
        id: NetworkId::from_parts(kind_from_nm(&kind), &id),
        name: id,
        metered,
    }))
}

/// `org.freedesktop.DBus.Properties.GetAll(interface)` on `path`; `None`
/// when the object or interface is not (or no longer) there.
async fn all_properties(
    conn: &zbus::Connection,
    path: &OwnedObjectPath,
    interface: &str,
) -> Result<Option<HashMap<String, OwnedVariant>>, NmError> {
    let reply = conn
        .call_method(
            Some(NM_SERVICE),
            path,
            Some(PROPERTIES),
            "GetAll",
            &(interface,),
        )
        .await;
    let reply = match reply {
        Ok(r) => r,
        Err(zbus::Error::FDO(e)) if gone(&e) => {
            tracing::debug!("network: {path} is gone: {e}");
            return Ok(None);
        }
        Err(e) => return Err(NmError::NoAnswer(e)),
    };
    reply
        .body()
        .deserialize()
        .map(Some)
        .map_err(|e| NmError::Garbage(format!("{path} GetAll({interface}): {e}")))
}

/// Errors that mean the object went away between two calls.
fn gone(e: &zbus::fdo::Error) -> bool {
    matches!(
        e,
        zbus::fdo::Error::UnknownObject(_)
            | zbus::fdo::Error::UnknownInterface(_)
            | zbus::fdo::Error::UnknownMethod(_)
    )
}

/// Property `name` out of `props` as a `T`: `None` when absent, garbage when
/// of another type (`what` names it for the message).
fn take<T>(
    props: &mut HashMap<String, OwnedVariant>,
    name: &str,
    what: impl Fn(&str) -> String,
) -> Result<Option<T>, NmError>
where
    T: TryFrom<OwnedVariant>,
    T::Error: std::fmt::Display,
{
    props
        .remove(name)
        .map(T::try_from)
        .transpose()
        .map_err(|e| NmError::Garbage(format!("{}: {e}", what(name))))
}

/// NetworkManager's connection type (its `connection.type` setting) as
/// the kind part of a [`NetworkId`].
fn kind_from_nm(nm_type: &str) -> &'static str {
    match nm_type {
        "802-11-wireless" => "wifi",
        "802-3-ethernet" => "ethernet",
        "gsm" | "cdma" => "cell",
        "vpn" | "wireguard" | "tun" => "vpn",
        "bluetooth" => "bluetooth",
        _ => "net",
    }
}

/// `NMMetered`: 1 yes and 3 guess-yes are metered, 2 no and 4 guess-no
/// are not, 0 (unknown) and anything else say nothing.
fn metered_from_nm(value: u32) -> Option<bool> {
    match value {
        1 | 3 => Some(true),
        2 | 4 => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4: &str = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
wlan0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0
eth1\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
tun0\t00000000\t00000000\t0001\t0\t0\t50\t00000080\t0\t0\t0
veth7\t000012C6\t00000000\t0001\t0\t0\t0\tFCFFFFFF\t0\t0\t0
";
    const ARP: &str = "\
IP address       HW type     Flags       HW address            Mask     Device
192.168.1.1      0x1         0x2         a4:2b:b0:c1:d2:e3     *        wlan0
";

    #[test]
    fn fallback_names_the_router_or_the_interface() {
        let routes = Routes::parse(V4, "");
        let s = fallback("wlan0", &routes, ARP);
        assert_eq!(s.id.as_str(), "router:a4:2b:b0:c1:d2:e3");
        assert_eq!(s.name, "wlan0 via router a4:2b:b0:c1:d2:e3");
        assert_eq!(s.metered, None);
        // A gateway not yet in the neighbour table, a tunnel, a veth.
        for i in ["eth1", "tun0", "veth7", "nope0"] {
            let s = fallback(i, &routes, ARP);
            assert_eq!((s.id.as_str(), s.name.as_str()), (&*format!("if:{i}"), i));
        }
        assert_eq!(
            fallback("wlan0", &Routes::default(), "").id.as_str(),
            "if:wlan0"
        );
    }

    #[test]
    fn connection_types_and_metered_values() {
        for (t, k) in [
            ("802-11-wireless", "wifi"),
            ("802-3-ethernet", "ethernet"),
            ("gsm", "cell"),
            ("cdma", "cell"),
            ("vpn", "vpn"),
            ("wireguard", "vpn"),
            ("tun", "vpn"),
            ("bluetooth", "bluetooth"),
            ("bridge", "net"),
            ("", "net"),
        ] {
            assert_eq!(kind_from_nm(t), k, "{t}");
        }
        let m: Vec<Option<bool>> = (0..6).map(metered_from_nm).collect();
        assert_eq!(
            m,
            [None, Some(true), Some(false), Some(true), Some(false), None]
        );
    }

    #[test]
    fn no_bus_means_fallbacks_quickly() {
        let dir = tempfile::tempdir().unwrap();
        let addr = format!("unix:path={}", dir.path().join("none").display());
        let started = Instant::now();
        let got = identify(&["nbi-test0"], Bus::Address(addr));
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(got["nbi-test0"].id.as_str(), "if:nbi-test0");
        assert!(identify(&[], Bus::Address("garbage".into())).is_empty());
    }
}
