//! The counting policy: which traffic counts, decided the same way wherever
//! ticks enter — the live sources (nettop, Linux), replays, imports and
//! collectors (stdin, Kafka).
//!
//! Left out by default, and why:
//! - **loopback** (a dev server, a database, a local model server): it never
//!   leaves the machine, and both ends of it would be counted. The live
//!   sources leave it out where they see it (nettop's interface filter, the
//!   Linux source's socket addresses); `source.include_loopback` counts it.
//! - **tunnel carriers** (VPN and overlay clients, [`carriers`]): they carry
//!   other apps' bytes a second time.
//! - names the owner lists in `source.exclude`.
//!
//! System processes (macOS's own daemons, Linux's system users) are counted
//! under their own names by default: a 12 GB `softwareupdated` download at
//! 03:00 is something an owner wants explained. `source.system_processes =
//! "leave_out"` leaves them out. Either way they are told by what they are
//! (their executable's path, their user), never by their pid: on macOS pids
//! are handed out in order from boot, so login items have low pids.
//!
//! Ticks that arrive already counted (replay, import, collect) carry app
//! names only, so the name rules (carriers, `source.exclude`) apply to them;
//! the rules about processes and sockets were applied where they were seen.

pub mod carriers;

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::tick::Tick;

/// nettop cuts process names to this many bytes.
pub const NETTOP_NAME_BYTES: usize = 15;

/// Below this uid a Linux user is a system user (`SYS_UID_MAX` + 1 in
/// Debian's and Fedora's `login.defs`).
const FIRST_LINUX_USER_UID: u32 = 1000;

/// What to do with system processes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemProcesses {
    /// Counted under their own names.
    #[default]
    Count,
    /// Left out.
    LeaveOut,
}

/// Why traffic was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LeftOut {
    /// Both ends on this machine.
    Loopback,
    /// A VPN or overlay client carrying other apps' bytes.
    Carrier,
    /// The owner's `source.exclude`.
    Excluded,
    /// A system process, with `system_processes = "leave_out"`.
    System,
}

impl LeftOut {
    pub fn as_str(self) -> &'static str {
        match self {
            LeftOut::Loopback => "loopback",
            LeftOut::Carrier => "tunnel carrier",
            LeftOut::Excluded => "excluded by name",
            LeftOut::System => "system process",
        }
    }
}

/// What a live source knows about the process behind some traffic.
#[derive(Debug, Clone, Copy)]
pub struct Process<'a> {
    /// The process's own name (nettop's, cut to 15 bytes; `/proc/PID/comm`).
    pub name: &'a str,
    /// The application it belongs to (its `.app` bundle, its executable).
    pub app: &'a str,
    /// Its executable, when known.
    pub exe: Option<&'a Path>,
    /// The user it runs as, when known.
    pub uid: Option<u32>,
}

/// A set of names, each matched as given and in nettop's cut form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameSet {
    full: BTreeSet<String>,
    /// The 15-byte cut forms of names longer than that.
    cut: BTreeSet<String>,
}

impl NameSet {
    pub fn new<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> NameSet {
        let mut set = NameSet::default();
        for n in names {
            let n = n.as_ref().trim();
            if n.is_empty() {
                continue;
            }
            if n.len() > NETTOP_NAME_BYTES {
                set.cut.insert(nettop_cut(n).to_string());
            }
            set.full.insert(n.to_string());
        }
        set
    }

    /// Whether `name` is one of the names, or nettop's cut form of one.
    pub fn matches(&self, name: &str) -> bool {
        let name = name.trim();
        self.full.contains(name) || (name.len() <= NETTOP_NAME_BYTES && self.cut.contains(name))
    }

    /// The names as given, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.full.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.full.len()
    }

    pub fn is_empty(&self) -> bool {
        self.full.is_empty()
    }
}

/// `name` as nettop prints it: at most 15 bytes (never splitting a
/// character), trailing spaces dropped (as the parser drops them).
pub fn nettop_cut(name: &str) -> &str {
    let mut end = name.len().min(NETTOP_NAME_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].trim_end()
}

/// The counting policy. Cheap to share: build it once from the
/// configuration ([`crate::config::Config::counting`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountingPolicy {
    include_loopback: bool,
    system: SystemProcesses,
    carriers: NameSet,
    exclude: NameSet,
    /// Whether ticks keep where each app's bytes went (`source.destinations`).
    destinations: bool,
}

impl Default for CountingPolicy {
    /// The defaults: loopback, carriers left out; system processes counted.
    fn default() -> Self {
        CountingPolicy::new(
            false,
            SystemProcesses::Count,
            carriers::built_in_names(),
            std::iter::empty::<&str>(),
        )
    }
}

impl CountingPolicy {
    pub fn new<C: AsRef<str>, E: AsRef<str>>(
        include_loopback: bool,
        system: SystemProcesses,
        carriers: impl IntoIterator<Item = C>,
        exclude: impl IntoIterator<Item = E>,
    ) -> CountingPolicy {
        CountingPolicy {
            include_loopback,
            system,
            carriers: NameSet::new(carriers),
            exclude: NameSet::new(exclude),
            destinations: true,
        }
    }

    /// The same policy, keeping destinations or not (`source.destinations`).
    pub fn with_destinations(mut self, keep: bool) -> CountingPolicy {
        self.destinations = keep;
        self
    }

    /// Whether ticks keep where each app's bytes went.
    pub fn keeps_destinations(&self) -> bool {
        self.destinations
    }

    /// Counts everything: for tests that want raw numbers.
    pub fn count_everything() -> CountingPolicy {
        CountingPolicy::new(
            true,
            SystemProcesses::Count,
            std::iter::empty::<&str>(),
            std::iter::empty::<&str>(),
        )
    }

    /// Whether traffic between two ends on this machine counts.
    pub fn counts_loopback(&self) -> bool {
        self.include_loopback
    }

    pub fn system_processes(&self) -> SystemProcesses {
        self.system
    }

    pub fn carriers(&self) -> &NameSet {
        &self.carriers
    }

    pub fn excluded(&self) -> &NameSet {
        &self.exclude
    }

    /// Whether an app, known by name only, counts; why not otherwise.
    pub fn judge_name(&self, app: &str) -> Result<(), LeftOut> {
        if self.carriers.matches(app) {
            Err(LeftOut::Carrier)
        } else if self.exclude.matches(app) {
            Err(LeftOut::Excluded)
        } else {
            Ok(())
        }
    }

    /// Whether a process's traffic counts; why not otherwise. Its own name,
    /// its app and its executable's name are all matched against the names.
    pub fn judge_process(&self, p: &Process<'_>) -> Result<(), LeftOut> {
        let exe_name = p
            .exe
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .unwrap_or("");
        for name in [p.name, p.app, exe_name] {
            if !name.is_empty() {
                self.judge_name(name)?;
            }
        }
        if self.system == SystemProcesses::LeaveOut && is_system_process(p.exe, p.uid) {
            return Err(LeftOut::System);
        }
        Ok(())
    }

    /// `tick` with its app names normalised (surrounding spaces dropped,
    /// apps of the same name summed), the apps the name rules leave out
    /// removed, and destinations dropped when they are not kept (networks
    /// always are: they name no one else's address); the second
    /// value is how many apps were removed.
    pub fn apply(&self, tick: Tick) -> (Tick, usize) {
        let before = tick.apps.len();
        let kept: Vec<_> = tick
            .apps
            .into_iter()
            .filter_map(|a| {
                let name = a.app.trim();
                (!name.is_empty() && self.judge_name(name).is_ok()).then(|| {
                    let flow = crate::tick::Flow::new(a.bytes_in, a.bytes_out);
                    let to = if self.destinations {
                        a.to
                    } else {
                        Default::default()
                    };
                    crate::tick::AppFlows {
                        app: name.to_string(),
                        flow,
                        to,
                        net: a.net,
                    }
                })
            })
            .collect();
        let removed = before - kept.len();
        (
            Tick::from_flows(tick.host, tick.at, tick.interval_s, kept),
            removed,
        )
    }

    /// The policy in words, one rule per line, for `nbi config`.
    pub fn describe(&self) -> String {
        let list = |set: &NameSet| {
            if set.is_empty() {
                "none".to_string()
            } else {
                set.names().collect::<Vec<_>>().join(", ")
            }
        };
        format!(
            "loopback: {}\nsystem processes: {}\ntunnel carriers ({}): {}\nexcluded by name: {}\n",
            if self.include_loopback {
                "counted (source.include_loopback = true)"
            } else {
                "left out (source.include_loopback = false)"
            },
            match self.system {
                SystemProcesses::Count =>
                    "counted under their own names (source.system_processes = \"count\")",
                SystemProcesses::LeaveOut =>
                    "left out, told by executable path and user (source.system_processes = \"leave_out\")",
            },
            self.carriers.len(),
            list(&self.carriers),
            list(&self.exclude),
        )
    }
}

/// Whether a process is part of the operating system, by what it is:
/// - a Linux system user (uid below 1000: root, daemons' own users);
/// - an executable of macOS's sealed system (`/System/`, `/usr/libexec/`,
///   `/usr/sbin/`, `/sbin/`, `/Library/Apple/`) or of Linux's
///   administration programs (`/usr/sbin/`, `/sbin/`, `/usr/libexec/`).
///
/// Apple's own apps under `/System/Applications/` (and Safari in its
/// cryptex) are a person's apps; so are WebKit's helpers
/// (`com.apple.WebKit.*`), which move every Safari tab's bytes. Programs in
/// `/usr/bin/` (curl, ssh, git) are what a person runs. A process whose
/// executable and user are unknown is not a system process.
pub fn is_system_process(exe: Option<&Path>, uid: Option<u32>) -> bool {
    if uid.is_some_and(|u| u < FIRST_LINUX_USER_UID) {
        return true;
    }
    let Some(path) = exe.and_then(Path::to_str) else {
        return false;
    };
    const PERSON_FACING: &[&str] = &[
        "/System/Applications/",
        "/System/Cryptexes/App/System/Applications/",
        "/System/Volumes/Preboot/Cryptexes/App/System/Applications/",
    ];
    const SYSTEM: &[&str] = &[
        "/System/",
        "/usr/libexec/",
        "/usr/sbin/",
        "/sbin/",
        "/Library/Apple/",
    ];
    let file = Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    if file.starts_with("com.apple.WebKit.") || PERSON_FACING.iter().any(|p| path.starts_with(p)) {
        return false;
    }
    SYSTEM.iter().any(|p| path.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process<'a>(name: &'a str, app: &'a str, exe: Option<&'a str>) -> Process<'a> {
        Process {
            name,
            app,
            exe: exe.map(Path::new),
            uid: None,
        }
    }

    #[test]
    fn carriers_match_in_full_and_in_nettop_cut_form() {
        let p = CountingPolicy::default();
        for raw in [
            "WireGuardNetwor",
            "vpnagentd",
            "io.tailscale.ip",
            "com.paloaltonet",
            "openconnect",
            "MacPacketTunnel",
            "mullvad-daemon",
            "expressvpnd",
        ] {
            assert_eq!(p.judge_name(raw), Err(LeftOut::Carrier), "{raw}");
        }
        // The resolved app of a tunnel extension inside an app bundle.
        assert_eq!(p.judge_name("WireGuard"), Err(LeftOut::Carrier));
        assert_eq!(p.judge_name("Cloudflare WARP"), Err(LeftOut::Carrier));
        // A cut form only matches names nettop could have cut.
        assert_eq!(p.judge_name("io.tailscale.ipn.macsys"), Ok(()));
        assert_eq!(p.judge_name("Slack"), Ok(()));
        assert_eq!(p.judge_name("Google Chrome H"), Ok(()));
    }

    #[test]
    fn nettop_cuts_at_fifteen_bytes_on_a_character_boundary() {
        assert_eq!(nettop_cut("WireGuardNetworkExtension"), "WireGuardNetwor");
        assert_eq!(nettop_cut("Microsoft Edge Helper"), "Microsoft Edge");
        assert_eq!(nettop_cut("short"), "short");
        // "é" is two bytes: the cut never splits it.
        assert_eq!(nettop_cut("ééééééééé"), "ééééééé");
    }

    #[test]
    fn names_the_owner_excludes_or_adds_are_left_out_in_both_forms() {
        let p = CountingPolicy::new(
            false,
            SystemProcesses::Count,
            ["CorpTunnelDaemonService"],
            ["Dropbox"],
        );
        assert_eq!(p.judge_name("CorpTunnelDaemo"), Err(LeftOut::Carrier));
        assert_eq!(p.judge_name("Dropbox"), Err(LeftOut::Excluded));
        assert_eq!(p.judge_name("vpnagentd"), Ok(()), "a list without it");
    }

    #[test]
    fn login_items_count_whatever_their_pid_and_system_daemons_by_path() {
        let count = CountingPolicy::default();
        let leave = CountingPolicy::new(
            false,
            SystemProcesses::LeaveOut,
            carriers::built_in_names(),
            std::iter::empty::<&str>(),
        );
        let wechat = process(
            "WeChat",
            "WeChat",
            Some("/Applications/WeChat.app/Contents/MacOS/WeChat"),
        );
        let update = process(
            "softwareupdated",
            "softwareupdated",
            Some("/System/Library/PrivateFrameworks/SoftwareUpdateCore.framework/Support/softwareupdated"),
        );
        let safari = process(
            "com.apple.WebKi",
            "com.apple.WebKit.Networking",
            Some("/System/Library/Frameworks/WebKit.framework/Versions/A/XPCServices/com.apple.WebKit.Networking.xpc/Contents/MacOS/com.apple.WebKit.Networking"),
        );
        let music = process(
            "Music",
            "Music",
            Some("/System/Applications/Music.app/Contents/MacOS/Music"),
        );
        let mdns = process(
            "mDNSResponder",
            "mDNSResponder",
            Some("/usr/sbin/mDNSResponder"),
        );
        let curl = process("curl", "curl", Some("/usr/bin/curl"));
        let unknown = process("Spark", "Spark", None);
        for p in [&wechat, &update, &safari, &music, &mdns, &curl, &unknown] {
            assert_eq!(count.judge_process(p), Ok(()), "{p:?}");
        }
        assert_eq!(leave.judge_process(&update), Err(LeftOut::System));
        assert_eq!(leave.judge_process(&mdns), Err(LeftOut::System));
        for p in [&wechat, &safari, &music, &curl, &unknown] {
            assert_eq!(leave.judge_process(p), Ok(()), "{p:?}");
        }
        // Linux: by user.
        let apt = Process {
            uid: Some(42),
            ..process("http", "http", Some("/usr/lib/apt/methods/http"))
        };
        let firefox = Process {
            uid: Some(1000),
            ..process("firefox", "firefox", Some("/usr/lib/firefox/firefox"))
        };
        assert_eq!(leave.judge_process(&apt), Err(LeftOut::System));
        assert_eq!(leave.judge_process(&firefox), Ok(()));
    }

    #[test]
    fn a_carrier_is_recognised_by_process_app_or_executable() {
        let p = CountingPolicy::default();
        let ext = process(
            "WireGuardNetwor",
            "WireGuardNetwor",
            Some("/Applications/WireGuard.app/Contents/PlugIns/WireGuardNetworkExtension.appex/Contents/MacOS/WireGuardNetworkExtension"),
        );
        assert_eq!(p.judge_process(&ext), Err(LeftOut::Carrier));
        let tunnelblick = process(
            "openvpn",
            "Tunnelblick",
            Some("/Applications/Tunnelblick.app/Contents/Resources/openvpn/openvpn-2.6/openvpn"),
        );
        assert_eq!(p.judge_process(&tunnelblick), Err(LeftOut::Carrier));
        let sysext = process(
            "com.fortinet.fo",
            "com.fortinet.forticlient.macos.vpn.nwextension",
            None,
        );
        assert_eq!(p.judge_process(&sysext), Err(LeftOut::Carrier));
    }

    #[test]
    fn ticks_lose_left_out_apps_and_get_normalised_names() {
        let at = chrono::DateTime::from_timestamp(1_783_728_000, 0).unwrap();
        let tick = Tick {
            host: "h".into(),
            at,
            interval_s: 60,
            apps: vec![
                crate::tick::AppUsage::new("Slack ", 10, 1),
                crate::tick::AppUsage::new("Slack", 5, 1),
                crate::tick::AppUsage::new("vpnagentd", 1000, 1000),
                crate::tick::AppUsage::new("  ", 7, 7),
            ],
        };
        let (kept, removed) = CountingPolicy::default().apply(tick);
        assert_eq!(removed, 2, "the carrier and the nameless app");
        assert_eq!(kept.apps.len(), 1);
        assert_eq!(
            (
                kept.apps[0].app.as_str(),
                kept.apps[0].bytes_in,
                kept.apps[0].bytes_out
            ),
            ("Slack", 15, 2)
        );
    }

    #[test]
    fn the_description_names_every_rule() {
        let text = CountingPolicy::default().describe();
        assert!(text.contains("loopback: left out"), "{text}");
        assert!(text.contains("system processes: counted"), "{text}");
        assert!(text.contains("vpnagentd"), "{text}");
        assert!(text.contains("excluded by name: none"), "{text}");
    }
}
