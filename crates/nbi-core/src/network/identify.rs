//! Asking the OS which network each interface is on.

use std::collections::BTreeMap;

use super::sighting::Sighting;

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
        super::linux::identify(interfaces, super::linux::Bus::System)
    }
    #[cfg(target_os = "macos")]
    {
        super::macos::identify(interfaces)
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    {
        interfaces
            .iter()
            .map(|&i| (i.to_string(), super::ids::on_interface(i)))
            .collect()
    }
}
