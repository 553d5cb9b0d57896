//! App identity: turning a process into the application a person recognises,
//! and deciding which processes are left out.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// VPN and tunnel processes carry other apps' traffic a second time.
pub const DEFAULT_EXCLUDED: &[&str] = &[
    "MacPacketTunnel",
    "io.tailscale.ip",
    "io.tailscale.ipn.macsys",
    "tailscaled",
    "zerotier-one",
    "openvpn",
    "wireguard-go",
    "WireGuardNetworkExtension",
];

/// Below this pid a process is a system daemon, left out by default.
pub const DEFAULT_MIN_PID: u32 = 1000;

/// Which processes count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppFilter {
    /// Names (raw process names or resolved app names) that never count.
    pub exclude: BTreeSet<String>,
    /// Processes with a lower pid are left out; 0 keeps everything.
    pub min_pid: u32,
}

impl Default for AppFilter {
    fn default() -> Self {
        AppFilter {
            exclude: DEFAULT_EXCLUDED.iter().map(|s| s.to_string()).collect(),
            min_pid: DEFAULT_MIN_PID,
        }
    }
}

impl AppFilter {
    /// Keeps everything: for replays and tests.
    pub fn keep_all() -> AppFilter {
        AppFilter {
            exclude: BTreeSet::new(),
            min_pid: 0,
        }
    }

    /// Whether a process with this raw name and pid counts.
    pub fn admits_process(&self, raw_name: &str, pid: u32) -> bool {
        pid >= self.min_pid && !self.exclude.contains(raw_name.trim_end())
    }

    /// Whether a resolved application name counts.
    pub fn admits_app(&self, app: &str) -> bool {
        !self.exclude.contains(app)
    }
}

/// The outermost `.app` bundle an executable lives in, without `.app`:
/// `/Applications/Google Chrome.app/…/Google Chrome Helper (Renderer).app/Contents/MacOS/…`
/// is "Google Chrome".
pub fn bundle_name(exe: &Path) -> Option<String> {
    exe.components().find_map(|c| {
        let part = c.as_os_str().to_str()?;
        let name = part.strip_suffix(".app")?;
        (!name.is_empty()).then(|| name.to_string())
    })
}

/// What a person calls the program at `exe`: its bundle on macOS, its file
/// name elsewhere.
pub fn app_name_for_exe(exe: &Path) -> Option<String> {
    bundle_name(exe).or_else(|| {
        exe.file_name()
            .and_then(|n| n.to_str())
            .map(|n| n.trim_end_matches(" (deleted)").to_string())
            .filter(|n| !n.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_count_as_their_outer_bundle() {
        let exe = Path::new("/Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Framework.framework/Versions/120.0/Helpers/Google Chrome Helper (Renderer).app/Contents/MacOS/Google Chrome Helper (Renderer)");
        assert_eq!(bundle_name(exe).as_deref(), Some("Google Chrome"));
        assert_eq!(
            app_name_for_exe(Path::new("/usr/bin/curl")).as_deref(),
            Some("curl")
        );
        assert_eq!(
            app_name_for_exe(Path::new("/usr/lib/firefox/firefox (deleted)")).as_deref(),
            Some("firefox")
        );
        assert_eq!(bundle_name(Path::new("/usr/sbin/.app/x")), None);
    }

    #[test]
    fn default_filter_leaves_out_tunnels_and_daemons() {
        let f = AppFilter::default();
        assert!(!f.admits_process("MacPacketTunnel", 18262));
        assert!(!f.admits_process("io.tailscale.ip", 79391));
        assert!(!f.admits_process("mDNSResponder", 205));
        assert!(f.admits_process("Spotify", 1579));
        assert!(AppFilter::keep_all().admits_process("launchd", 1));
    }
}
