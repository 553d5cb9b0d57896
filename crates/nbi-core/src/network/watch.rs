//! Which network each interface is on, asked of the OS at most once per
//! [`Watch::REFRESH`] per interface, and the networks seen so far.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::sighting::Sighting;
use crate::tick::NetworkId;

/// Asks the OS what network each of these interfaces is on; interfaces it
/// knows nothing about are left out (they become `if:<name>`).
pub type Identify = dyn Fn(&[&str]) -> BTreeMap<String, Sighting> + Send + Sync;

/// Interface → network, cached, shared by a source and the runtime that
/// records the networks it sees.
pub struct Watch {
    identify: Box<Identify>,
    refresh: Option<Duration>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Per interface: what it is on, and when that was asked.
    known: HashMap<String, (Sighting, Instant)>,
    /// Sightings not yet handed to [`Watch::take_sightings`].
    fresh: BTreeMap<NetworkId, Sighting>,
    /// The networks of the last interfaces that moved bytes, and when.
    in_use: BTreeMap<NetworkId, (Sighting, Instant)>,
}

impl Watch {
    /// How long an answer about an interface holds: a laptop that joins
    /// another Wi-Fi is seen on it within this.
    pub const REFRESH: Duration = Duration::from_secs(30);

    /// A watch that asks `identify`, at most once per `refresh` per
    /// interface (`None`: once for ever).
    pub fn new(
        identify: impl Fn(&[&str]) -> BTreeMap<String, Sighting> + Send + Sync + 'static,
        refresh: Option<Duration>,
    ) -> Watch {
        Watch {
            identify: Box::new(identify),
            refresh,
            state: Mutex::new(State::default()),
        }
    }

    /// Networks named by their interface alone ([`by_interface_name`]):
    /// for captures read back later, when what the interface was on then
    /// is no longer known, and for sources on a machine that is not the
    /// one the interfaces belong to.
    pub fn offline() -> Watch {
        Watch::new(|_| BTreeMap::new(), None)
    }

    /// The OS's answers on this machine ([`super::identify()`]).
    pub fn this_machine() -> Watch {
        Watch::new(super::identify::identify, Some(Watch::REFRESH))
    }

    /// The network of each interface; loopback has none. Interfaces whose
    /// answer is older than the refresh are asked again, together.
    pub fn resolve(&self, interfaces: &[&str]) -> HashMap<String, NetworkId> {
        let now = Instant::now();
        let Ok(mut state) = self.state.lock() else {
            // A panic elsewhere while holding the lock: name by interface.
            return interfaces
                .iter()
                .filter_map(|i| Some((i.to_string(), by_interface_name(i)?.id)))
                .collect();
        };
        let stale: Vec<&str> = interfaces
            .iter()
            .copied()
            .filter(|i| !is_loopback(i))
            .filter(|i| match state.known.get(*i) {
                None => true,
                Some((_, at)) => self.refresh.is_some_and(|r| now.duration_since(*at) >= r),
            })
            .collect();
        if !stale.is_empty() {
            let mut answers = (self.identify)(&stale);
            for i in stale {
                // The OS knowing no more than the name: the name's kind.
                let answer = answers.remove(i).filter(|s| s.id.kind() != "if");
                let Some(seen) = answer.or_else(|| by_interface_name(i)) else {
                    continue;
                };
                let changed = state.known.get(i).is_none_or(|(old, _)| *old != seen);
                if changed {
                    tracing::info!(interface = i, network = %seen.id, name = %seen.name, metered = ?seen.metered, "network");
                    state.fresh.insert(seen.id.clone(), seen.clone());
                }
                state.known.insert(i.to_string(), (seen, now));
            }
        }
        let mut out = HashMap::new();
        for i in interfaces {
            if let Some((seen, _)) = state.known.get(*i) {
                out.insert(i.to_string(), seen.id.clone());
                let seen = seen.clone();
                state.in_use.insert(seen.id.clone(), (seen, now));
            }
        }
        out
    }

    /// The network of one interface (see [`Watch::resolve`]).
    pub fn network_of(&self, interface: &str) -> Option<NetworkId> {
        self.resolve(&[interface]).remove(interface)
    }

    /// Networks seen (or seen to change) since the last call, for the
    /// networks table.
    pub fn take_sightings(&self) -> Vec<Sighting> {
        self.state
            .lock()
            .map(|mut s| std::mem::take(&mut s.fresh).into_values().collect())
            .unwrap_or_default()
    }

    /// The networks that carried bytes within `within` of now, most
    /// recent first: the network in use, as the glance shows it.
    pub fn in_use(&self, within: Duration) -> Vec<Sighting> {
        let now = Instant::now();
        let Ok(state) = self.state.lock() else {
            return Vec::new();
        };
        let mut recent: Vec<(&Sighting, Instant)> = state
            .in_use
            .values()
            .filter(|(_, at)| now.duration_since(*at) <= within)
            .map(|(s, at)| (s, *at))
            .collect();
        recent.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.id.cmp(&b.0.id)));
        recent.into_iter().map(|(s, _)| s.clone()).collect()
    }
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

/// Loopback is not a network: its bytes have none.
pub fn is_loopback(interface: &str) -> bool {
    interface == "lo" || interface == "lo0"
}

/// What an interface's name alone says: `pdp_ip*` is a carrier's cellular
/// link (metered), `utun*`, `ipsec*`, `ppp*`, `tun*`, `wg*` are tunnels,
/// anything else is `if:<name>` until the OS says more. `None` for
/// loopback and an empty name.
pub fn by_interface_name(interface: &str) -> Option<Sighting> {
    if interface.is_empty() || is_loopback(interface) {
        return None;
    }
    let starts = |p: &[&str]| p.iter().any(|p| interface.starts_with(p));
    let (kind, name, metered) = if starts(&["pdp_ip"]) {
        ("cell", format!("Cellular ({interface})"), Some(true))
    } else if starts(&["utun", "ipsec", "ppp", "tun", "wg"]) {
        ("vpn", format!("VPN ({interface})"), None)
    } else {
        ("if", interface.to_string(), None)
    };
    Some(Sighting {
        id: NetworkId::from_parts(kind, interface),
        name,
        metered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn home(i: &str) -> Sighting {
        Sighting {
            id: NetworkId::from_parts("wifi", "Home"),
            name: format!("Home on {i}"),
            metered: Some(false),
        }
    }

    #[test]
    fn interfaces_are_named_by_the_os_or_by_their_name_and_loopback_by_none() {
        let w = Watch::new(
            |is| {
                is.iter()
                    .filter(|i| **i == "en0")
                    .map(|i| (i.to_string(), home(i)))
                    .collect()
            },
            None,
        );
        let got = w.resolve(&["en0", "pdp_ip0", "utun3", "eth1", "lo0"]);
        let id = |i: &str| got.get(i).map(NetworkId::as_str);
        assert_eq!(id("en0"), Some("wifi:Home"));
        assert_eq!(id("pdp_ip0"), Some("cell:pdp_ip0"));
        assert_eq!(id("utun3"), Some("vpn:utun3"));
        assert_eq!(id("eth1"), Some("if:eth1"));
        assert_eq!(id("lo0"), None);
        let seen: Vec<String> = w
            .take_sightings()
            .into_iter()
            .map(|s| format!("{} {:?}", s.id, s.metered))
            .collect();
        assert_eq!(
            seen,
            vec![
                "cell:pdp_ip0 Some(true)",
                "if:eth1 None",
                "vpn:utun3 None",
                "wifi:Home Some(false)"
            ]
        );
        assert!(
            w.take_sightings().is_empty(),
            "each sighting is handed once"
        );
        assert_eq!(w.in_use(Duration::from_secs(60)).len(), 4);
    }

    #[test]
    fn the_os_is_asked_once_per_refresh_and_stale_interfaces_together() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let w = Watch::new(
            move |is| {
                c.fetch_add(1, Ordering::SeqCst);
                is.iter().map(|i| (i.to_string(), home(i))).collect()
            },
            Some(Duration::from_secs(3600)),
        );
        for _ in 0..100 {
            w.resolve(&["en0", "en1"]);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        w.resolve(&["en2"]);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        let always = Watch::new(
            {
                let c = calls.clone();
                move |_| {
                    c.fetch_add(1, Ordering::SeqCst);
                    BTreeMap::new()
                }
            },
            Some(Duration::ZERO),
        );
        always.resolve(&["en0"]);
        always.resolve(&["en0"]);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            4,
            "a zero refresh asks each time"
        );
    }

    #[test]
    fn offline_names_come_from_the_interface_alone() {
        let w = Watch::offline();
        assert_eq!(
            w.network_of("pdp_ip1").map(|n| n.to_string()),
            Some("cell:pdp_ip1".into())
        );
        assert_eq!(w.network_of("lo"), None);
        assert_eq!(by_interface_name(""), None);
    }
}
