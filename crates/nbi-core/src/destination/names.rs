//! Reverse DNS names of destinations, looked up beside a run (never on a
//! source's path) and kept in a small file beside the database, which the
//! commands and the window read. `[destinations] reverse_dns = false`
//! turns the lookups off; the file is then neither read nor written.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A name is looked up again after this long (names of CDN addresses move).
pub const NAME_TTL_S: i64 = 7 * 86_400;
/// The most names kept; the oldest go first.
pub const MAX_NAMES: usize = 20_000;
/// The most lookups one round starts, and how long it may take: a round
/// never holds the upkeep that runs it for long.
pub const LOOKUPS_PER_ROUND: usize = 64;
pub const ROUND_BUDGET: Duration = Duration::from_secs(20);

/// What was found for one address, and when (seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    /// `None`: the address has no name (looked up, none found).
    name: Option<String>,
    at: i64,
}

/// The names found so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameCache {
    names: BTreeMap<IpAddr, Entry>,
}

impl NameCache {
    /// The cache at `path`; empty when there is none yet, or it does not
    /// read (it is rebuilt: it holds nothing that cannot be looked up
    /// again), with a warning in that case.
    pub fn load(path: &Path) -> NameCache {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "the reverse DNS cache does not read; starting it afresh");
                NameCache::default()
            }),
            Err(_) => NameCache::default(),
        }
    }

    /// Writes the cache whole (0600) to `path`.
    ///
    /// # Errors
    /// The file system's.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        crate::files::write_atomic(path, &bytes)
    }

    /// The name of `addr`, when one was found.
    pub fn name(&self, addr: IpAddr) -> Option<&str> {
        self.names.get(&addr).and_then(|e| e.name.as_deref())
    }

    /// Whether `addr` needs a lookup at `now`: never looked up, or longer
    /// ago than [`NAME_TTL_S`].
    pub fn wants(&self, addr: IpAddr, now: i64) -> bool {
        self.names
            .get(&addr)
            .is_none_or(|e| now.saturating_sub(e.at) >= NAME_TTL_S)
    }

    /// Records what a lookup found, keeping at most [`MAX_NAMES`].
    pub fn put(&mut self, addr: IpAddr, name: Option<String>, now: i64) {
        self.names.insert(addr, Entry { name, at: now });
        while self.names.len() > MAX_NAMES {
            let oldest = self.names.iter().min_by_key(|(_, e)| e.at).map(|(a, _)| *a);
            match oldest {
                Some(a) => self.names.remove(&a),
                None => break,
            };
        }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// One round: looks up the addresses of `wanted` the cache wants (public
/// ones only: the local network's names say nothing), at most
/// [`LOOKUPS_PER_ROUND`] and for at most [`ROUND_BUDGET`], with `lookup`.
/// Returns how many were looked up.
pub fn refresh(
    cache: &mut NameCache,
    wanted: impl IntoIterator<Item = IpAddr>,
    now: i64,
    lookup: impl Fn(IpAddr) -> Option<String>,
) -> usize {
    let began = Instant::now();
    let mut done = 0;
    for addr in wanted {
        if done == LOOKUPS_PER_ROUND || began.elapsed() >= ROUND_BUDGET {
            break;
        }
        if super::table::is_local(addr) || !cache.wants(addr, now) {
            continue;
        }
        let name = lookup(addr);
        cache.put(addr, name, now);
        done += 1;
    }
    done
}

/// The reverse DNS name of `addr` through the system's resolver
/// (`getnameinfo` with `NI_NAMEREQD`); `None` when it has none or the
/// lookup fails. Blocks for as long as the resolver takes.
pub fn lookup(addr: IpAddr) -> Option<String> {
    let (storage, len) = sockaddr_of(addr);
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: `storage` holds a valid sockaddr of `len` bytes; `host` is a
    // writable buffer of the length passed; no service is asked for.
    let rc = unsafe {
        libc::getnameinfo(
            std::ptr::addr_of!(storage).cast::<libc::sockaddr>(),
            len,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: on success getnameinfo wrote a NUL-terminated string.
    let name = unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) };
    let name = name.to_string_lossy().trim_end_matches('.').to_string();
    (!name.is_empty() && name.len() <= 253).then_some(name)
}

fn sockaddr_of(addr: IpAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        IpAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.octets()),
                },
                sin_zero: [0; 8],
                #[cfg(target_os = "macos")]
                sin_len: std::mem::size_of::<libc::sockaddr_in>() as u8,
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in and aligned for it.
            unsafe { std::ptr::write(std::ptr::addr_of_mut!(storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        IpAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.octets(),
                },
                sin6_scope_id: 0,
                #[cfg(target_os = "macos")]
                sin6_len: std::mem::size_of::<libc::sockaddr_in6>() as u8,
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { std::ptr::write(std::ptr::addr_of_mut!(storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_the_name_the_hosts_file_gives_it() {
        // /etc/hosts names 127.0.0.1 on every Debian and macOS machine:
        // the system's resolver answers without the network.
        let name = lookup("127.0.0.1".parse().unwrap());
        assert_eq!(name.as_deref(), Some("localhost"), "{name:?}");
    }

    #[test]
    fn a_round_looks_up_only_what_it_wants_and_stays_bounded() {
        let mut cache = NameCache::default();
        let calls = std::cell::Cell::new(0);
        let fake = |a: IpAddr| {
            calls.set(calls.get() + 1);
            (a.to_string() == "192.0.2.1").then(|| "one.example".to_string())
        };
        let wanted: Vec<IpAddr> = ["192.0.2.1", "192.0.2.2", "10.0.0.1", "192.0.2.1"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(
            refresh(&mut cache, wanted.clone(), 1_000, fake),
            2,
            "the local one is never looked up"
        );
        assert_eq!(calls.get(), 2);
        assert_eq!(
            cache.name("192.0.2.1".parse().unwrap()),
            Some("one.example")
        );
        assert_eq!(cache.name("192.0.2.2".parse().unwrap()), None);
        assert_eq!(
            refresh(&mut cache, wanted.clone(), 2_000, fake),
            0,
            "fresh answers are kept"
        );
        assert_eq!(
            refresh(&mut cache, wanted, 1_000 + NAME_TTL_S, fake),
            2,
            "stale ones looked up again"
        );
        let many = (0..200u32).map(|i| IpAddr::from([198, 51, (i / 250) as u8, (i % 250) as u8]));
        assert_eq!(
            refresh(&mut cache, many, 5_000, |_| None),
            LOOKUPS_PER_ROUND
        );
    }

    #[test]
    fn the_cache_survives_a_restart_and_a_damaged_file_is_started_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nbi.sqlite.names.json");
        let mut cache = NameCache::default();
        cache.put(
            "192.0.2.9".parse().unwrap(),
            Some("nine.example".into()),
            10,
        );
        cache.save(&path).unwrap();
        assert_eq!(NameCache::load(&path), cache);
        std::fs::write(&path, b"{not json").unwrap();
        assert!(NameCache::load(&path).is_empty());
        assert!(NameCache::load(&dir.path().join("none.json")).is_empty());
    }

    #[test]
    fn the_oldest_names_go_first_beyond_the_bound() {
        let mut cache = NameCache::default();
        for i in 0..(MAX_NAMES + 2) {
            let a = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i as u32));
            cache.put(a, None, i as i64);
        }
        assert_eq!(cache.len(), MAX_NAMES);
        assert!(cache.wants(IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000)), 3));
    }
}
