//! The kernel-side counters: every socket's payload, TCP and UDP, counted
//! by eBPF programs where the kernel moves it ([`programs`]), read here once
//! an interval.
//!
//! The programs are attached to the cgroup v2 root: every socket of every
//! process, in every network namespace, short-lived ones included (their
//! maker is recorded when they are made). A closed socket stays in the
//! kernel's table until a read finds it quiet, so what TCP still sends
//! after close() counts, and is then deleted. Whose a socket is: [`owners`].
//!
//! Loading needs root, or `cap_bpf,cap_net_admin,cap_perfmon`.

mod owners;
mod programs;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use self::owners::{Owners, Wanted, Whose};
pub use self::programs::KernelError;
use self::programs::{remote_of, Programs, Traffic};
use super::procfs::{counted_app, Owner, ProcFs};
use crate::counting::CountingPolicy;
use crate::network::Watch;
use crate::tick::{AppFlows, Flow, NetworkId, Tally};

/// Bytes of one socket since it was last read, and whose they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketDelta {
    pub cookie: u64,
    pub owner: Option<Arc<Owner>>,
    pub uid: Option<u32>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Where its bytes went: its interface, and its remote end (`None` for
    /// an unconnected socket that talked to many).
    pub ifindex: u32,
    pub remote: Option<std::net::SocketAddr>,
}

/// What is known of one socket.
#[derive(Debug)]
struct Known {
    /// Its counters at the last read.
    last: (u64, u64),
    owner: Whose,
}

/// Running counts, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KernelStats {
    pub reads: u64,
    /// Sockets in the kernel's table at the last read.
    pub sockets: usize,
    /// Closed sockets deleted from it once quiet.
    pub retired: u64,
    /// Payload bytes the programs found no room for (a full table).
    pub lost: u64,
    /// Lookups of sockets' processes through sock_diag and `/proc`.
    pub scans: u64,
    pub unattributed_in: u64,
    pub unattributed_out: u64,
}

/// The name of interface `ifindex` in this network namespace, if it exists.
fn interface_name(ifindex: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` holds IF_NAMESIZE bytes, as if_indextoname requires;
    // it writes a NUL-terminated name there or returns null.
    let p = unsafe { libc::if_indextoname(ifindex, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null means `buf` now holds a NUL-terminated string.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    name.to_str().ok().map(str::to_string)
}

/// The attached programs and what has been read of them.
pub struct KernelCounters {
    programs: Programs,
    known: HashMap<u64, Known>,
    owners: Owners,
    counting: Arc<CountingPolicy>,
    unattributed_app: Option<String>,
    totals: Tally,
    sockets: Vec<SocketDelta>,
    stats: KernelStats,
    /// Which network each interface is on; `None`: networks not kept.
    networks: Option<Arc<Watch>>,
    /// This read's interface index → network, asked once per read.
    network_of: HashMap<u32, Option<NetworkId>>,
}

impl KernelCounters {
    /// Loads the programs and attaches them to the cgroup v2 root.
    ///
    /// # Errors
    /// Not allowed (no root or capabilities), no cgroup v2, a kernel
    /// without these program types.
    pub fn start(
        counting: Arc<CountingPolicy>,
        unattributed_app: Option<String>,
    ) -> Result<KernelCounters, KernelError> {
        let programs = Programs::attach(counting.counts_loopback())?;
        Ok(KernelCounters {
            programs,
            known: HashMap::new(),
            owners: Owners::new(ProcFs::new("/proc")),
            counting,
            unattributed_app,
            totals: Tally::default(),
            sockets: Vec::new(),
            stats: KernelStats::default(),
            networks: None,
            network_of: HashMap::new(),
        })
    }

    /// Keeps each socket's bytes per network too, `networks` saying which
    /// network the interface it last used is on.
    pub fn with_networks(mut self, networks: Arc<Watch>) -> KernelCounters {
        self.networks = Some(networks);
        self
    }

    /// The network of interface `ifindex` (0: none known), once per read.
    fn network(&mut self, ifindex: u32) -> Option<NetworkId> {
        let watch = self.networks.as_ref()?;
        if ifindex == 0 {
            return None;
        }
        self.network_of
            .entry(ifindex)
            .or_insert_with(|| watch.network_of(&interface_name(ifindex)?))
            .clone()
    }

    pub fn stats(&self) -> KernelStats {
        KernelStats {
            scans: self.owners.scans,
            ..self.stats
        }
    }

    /// Reads every socket's counters: what each moved since it was last
    /// read goes to its app (and is kept per socket for the breakdowns).
    /// Closed sockets that moved nothing since the last read are deleted.
    pub fn read(&mut self) {
        self.stats.reads += 1;
        // Interfaces come and go (a VPN, a hotspot): asked afresh each read.
        self.network_of.clear();
        let now: Vec<(u64, Traffic)> = self
            .programs
            .traffic
            .iter()
            .filter_map(Result::ok)
            .collect();
        self.meet(&now);
        let mut quiet = Vec::new();
        for (cookie, t) in &now {
            if !self.account(*cookie, t) && t.released != 0 {
                quiet.push(*cookie);
            }
        }
        for cookie in &quiet {
            // A packet that lands between the read above and this delete
            // is lost with it: a closed socket's last ACK, at most.
            let _ = self.programs.traffic.remove(cookie);
            let _ = self.programs.owners.remove(cookie);
        }
        self.stats.retired += quiet.len() as u64;
        let quiet: HashSet<u64> = quiet.into_iter().collect();
        let live: HashSet<u64> = now
            .iter()
            .map(|(c, _)| *c)
            .filter(|c| !quiet.contains(c))
            .collect();
        self.known.retain(|c, _| live.contains(c));
        self.stats.sockets = self.known.len();
        if let Ok(lost) = self.programs.lost.get(&0, 0) {
            if lost > self.stats.lost {
                tracing::warn!(
                    bytes = lost - self.stats.lost,
                    sockets = self.stats.sockets,
                    "the kernel's table of sockets was full: bytes counted for no socket"
                );
            }
            self.stats.lost = lost;
        }
    }

    /// Finds whose the sockets not seen before are, and looks up again
    /// the ones still pending.
    fn meet(&mut self, now: &[(u64, Traffic)]) {
        let mut wanted = Vec::new();
        for (cookie, t) in now {
            let tries = match self.known.get(cookie).map(|k| &k.owner) {
                Some(Whose::Pending(tries)) => *tries,
                Some(_) => continue,
                None => match self.programs.owners.get(cookie, 0) {
                    Ok(c) => {
                        let owner = self.owners.of_creator(&c);
                        self.known.insert(
                            *cookie,
                            Known {
                                last: (0, 0),
                                owner,
                            },
                        );
                        continue;
                    }
                    Err(_) => 0,
                },
            };
            wanted.push(Wanted {
                cookie: *cookie,
                traffic: *t,
                tries,
            });
        }
        for (cookie, owner) in self.owners.find(&wanted) {
            let last = self.known.get(&cookie).map_or((0, 0), |k| k.last);
            self.known.insert(cookie, Known { last, owner });
        }
    }

    /// Adds what `cookie` moved since it was last read; whether it moved.
    fn account(&mut self, cookie: u64, t: &Traffic) -> bool {
        let Some(k) = self.known.get_mut(&cookie) else {
            return false;
        };
        let bytes_in = t.bytes_in.saturating_sub(k.last.0);
        let bytes_out = t.bytes_out.saturating_sub(k.last.1);
        k.last = (t.bytes_in.max(k.last.0), t.bytes_out.max(k.last.1));
        if bytes_in == 0 && bytes_out == 0 {
            return false;
        }
        let (owner, uid) = match &k.owner {
            Whose::Owned(o, uid) => (Some(o.clone()), Some(*uid)),
            _ => (None, None),
        };
        let delta = SocketDelta {
            cookie,
            owner,
            uid,
            bytes_in,
            bytes_out,
            ifindex: t.ifindex,
            remote: remote_of(t),
        };
        self.add(&delta);
        self.sockets.push(delta);
        true
    }

    fn add(&mut self, d: &SocketDelta) {
        if d.owner.is_none() {
            self.stats.unattributed_in = self.stats.unattributed_in.saturating_add(d.bytes_in);
            self.stats.unattributed_out = self.stats.unattributed_out.saturating_add(d.bytes_out);
        }
        let Some(app) = counted_app(
            &self.counting,
            d.owner.as_deref(),
            d.uid,
            self.unattributed_app.as_deref(),
        ) else {
            return;
        };
        let flow = Flow::new(d.bytes_in, d.bytes_out);
        let network = self.network(d.ifindex);
        self.totals
            .add_on(app, flow, d.remote.map(|r| r.ip()), network.as_ref());
    }

    /// What was counted since the last call, per app, with destinations.
    pub fn take_totals(&mut self) -> Vec<AppFlows> {
        self.totals.take()
    }

    /// What was counted since the last call, per socket.
    pub fn take_sockets(&mut self) -> Vec<SocketDelta> {
        std::mem::take(&mut self.sockets)
    }
}
