//! Networks: which network each byte went over, as its owner knows it.
//!
//! A source sees the interface of each socket (nettop's socket rows on
//! macOS, the kernel-side counters' ifindex or the route on Linux). What
//! network an interface is on right now is asked of the OS: NetworkManager's
//! active connection on Linux, the Wi-Fi name or the router on macOS. The
//! answer is a [`NetworkId`] carried in each tick's `net` map, and a
//! [`Sighting`] (name, whether the OS says it is metered) recorded in the
//! store's networks table beside the owner's own names and flags.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub mod ids;
#[cfg(target_os = "linux")]
pub mod linux;
#[cfg(target_os = "macos")]
pub mod macos;
#[cfg(any(test, target_os = "macos"))]
pub mod macos_text;
pub mod report;
pub mod route;
mod watch;

pub use route::Routes;
pub use watch::{by_interface_name, is_loopback, Identify, Watch};

pub use crate::tick::NetworkId;

/// What the OS says about the network an interface is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sighting {
    pub id: NetworkId,
    /// What to call it until its owner names it: a Wi-Fi name, a
    /// connection's name, "Ethernet (eth0)".
    pub name: String,
    /// `Some(true)` when the OS says it is metered (NetworkManager metered
    /// "yes" or "guess-yes", macOS expensive or constrained), `Some(false)`
    /// when it says it is not, `None` when it does not say.
    pub metered: Option<bool>,
}

/// What each of `interfaces` (OS interface names: `wlan0`, `en0`) is on
/// now, keyed by interface name, one [`Sighting`] for each: never fails.
/// Linux asks NetworkManager on the system bus, else names the router;
/// macOS reads the Wi-Fi name or the router from its stock commands; other
/// systems give `if:<interface>`. Blocks for up to a few seconds at worst
/// (Linux: `linux::DBUS_BUDGET` on D-Bus; macOS: `macos::BUDGET`): call it
/// off the async executor.
pub fn identify(interfaces: &[&str]) -> BTreeMap<String, Sighting> {
    #[cfg(target_os = "linux")]
    {
        linux::identify(interfaces, linux::Bus::System)
    }
    #[cfg(target_os = "macos")]
    {
        macos::identify(interfaces)
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    {
        interfaces
            .iter()
            .map(|&i| (i.to_string(), ids::on_interface(i)))
            .collect()
    }
}
