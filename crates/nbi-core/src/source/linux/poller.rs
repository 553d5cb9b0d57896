//! One poll of the kernel's TCP table: read destroy notifications, dump the
//! live sockets, find the processes of new ones, add what each moved to its
//! app. Blocking: runs off the async executor.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::ledger::{Delta, Ledger};
use super::mode::CaptureMode;
use super::netlink::{DestroyListener, DumpSocket, NetlinkError};
use super::procfs::{counted_app, ProcFs, TcpCounters, TcpSegments};
use super::sockdiag::SockRecord;
use crate::counting::CountingPolicy;
use crate::tick::{AppFlows, Flow, NetworkId, Tally};

/// How long a socket missing from the dumps is remembered.
const KEEP_GONE: Duration = Duration::from_secs(5);

/// Running counts, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollStats {
    pub polls: u64,
    /// Polls that found TCP silent and skipped the dump.
    pub quiet: u64,
    pub scans: u64,
    pub destroy_events: u64,
    pub overflows: u64,
    pub unattributed_in: u64,
    pub unattributed_out: u64,
    /// Socket records of loopback connections left out.
    pub local: u64,
    /// TCP sockets followed now.
    pub sockets: usize,
}

pub struct Poller {
    procfs: ProcFs,
    counting: Arc<CountingPolicy>,
    unattributed_app: Option<String>,
    dump: Option<DumpSocket>,
    events: Option<DestroyListener>,
    ledger: Ledger,
    totals: Tally,
    /// Which network each interface is on; `None`: networks not kept.
    networks: Option<Arc<crate::network::Watch>>,
    stats: PollStats,
    records: Vec<SockRecord>,
    counters: TcpCounters,
    gate: QuietGate,
    /// Payload counted since the last `take_counted`, whoever's it was.
    counted: (u64, u64),
}

/// A poll that [`Poller::begin`] found must dump the table; only it makes
/// one, so a dump always follows a fresh look at the counters.
#[derive(Debug)]
#[must_use]
pub struct DumpDue(());

/// Lets a poll skip the dump while TCP is silent. A socket's byte counters
/// only change when a segment arrives, so while this network namespace's
/// segment counters stand still the last dump is still exact. A dump walks
/// the kernel's whole established-connection hash table (a quarter million
/// buckets on an ordinary desktop) however few sockets it holds, so this is
/// what makes a source on a quiet machine nearly free.
#[derive(Debug, Default)]
struct QuietGate {
    /// The counters read just before the last complete dump.
    last: Option<TcpSegments>,
}

impl QuietGate {
    /// Whether the table must be dumped, given the counters read now (None:
    /// unreadable, so always). The counters are read before the dump: a
    /// segment that arrives during it moves them past what is remembered.
    fn must_dump(&mut self, now: Option<TcpSegments>) -> bool {
        let quiet = now.is_some() && now == self.last;
        self.last = now;
        !quiet
    }

    /// The dump failed: the next poll dumps whatever the counters say.
    fn forget(&mut self) {
        self.last = None;
    }
}

impl Poller {
    /// Subscribes to destroy notifications when `destroy_events` is asked
    /// for and allowed; the dump socket is opened by the first poll.
    /// `shortest_poll` is the least time between two polls.
    pub fn new(
        shortest_poll: Duration,
        destroy_events: bool,
        counting: Arc<CountingPolicy>,
        unattributed_app: Option<String>,
    ) -> Poller {
        let events = if destroy_events {
            match DestroyListener::subscribe() {
                Ok(l) => Some(l),
                Err(e) => {
                    tracing::info!(error = %e, "TCP destroy notifications unavailable (they need CAP_NET_ADMIN)");
                    None
                }
            }
        } else {
            None
        };
        let keep = KEEP_GONE.as_millis() / shortest_poll.as_millis().max(1);
        let procfs = ProcFs::new("/proc");
        Poller {
            counters: procfs.tcp_counters(),
            procfs,
            counting,
            unattributed_app,
            dump: None,
            events,
            ledger: Ledger::new(u64::try_from(keep).unwrap_or(u64::MAX).max(2)),
            totals: Tally::default(),
            networks: None,
            stats: PollStats::default(),
            records: Vec::new(),
            gate: QuietGate::default(),
            counted: (0, 0),
        }
    }

    /// Keeps each socket's bytes per network too: the network of the
    /// interface the main routing table sends its remote end over (a
    /// sock_diag dump names no interface).
    pub fn with_networks(mut self, networks: Arc<crate::network::Watch>) -> Poller {
        self.networks = Some(networks);
        self
    }

    pub fn mode(&self) -> CaptureMode {
        if self.events.is_some() {
            CaptureMode::PollingWithDestroyEvents
        } else {
            CaptureMode::Polling
        }
    }

    pub fn stats(&self) -> PollStats {
        PollStats {
            sockets: self.ledger.len(),
            ..self.stats
        }
    }

    /// One poll; returns the bytes all sockets moved since the previous one.
    pub fn poll(&mut self) -> Result<u64, NetlinkError> {
        match self.begin() {
            Some(due) => self.dump(due),
            None => Ok(0),
        }
    }

    /// The cheap first part of a poll, and all of it while TCP is silent:
    /// reads the segment counters and, when they stand still, applies any
    /// destroy notifications. None: the poll is complete and nothing moved;
    /// otherwise [`Poller::dump`] must follow. Never blocks.
    pub fn begin(&mut self) -> Option<DumpDue> {
        let segments = self.counters.read();
        if self.gate.must_dump(segments) || !self.ledger.has_baseline() {
            return Some(DumpDue(()));
        }
        if self.drain_events() > 0 {
            return Some(DumpDue(()));
        }
        self.stats.polls += 1;
        self.stats.quiet += 1;
        None
    }

    /// The rest of a poll that [`Poller::begin`] found due: dumps the table
    /// and counts what each socket moved; returns the bytes they add up to.
    pub fn dump(&mut self, _due: DumpDue) -> Result<u64, NetlinkError> {
        // Notifications first: one that arrives after the dump below is
        // matched through the ledger's memory of vanished sockets.
        self.drain_events();
        let baseline = !self.ledger.has_baseline();
        self.records.clear();
        if let Err(e) = self.dump_all() {
            // A fresh socket next time: this one may hold half a dump.
            self.dump = None;
            self.gate.forget();
            return Err(e);
        }
        self.leave_out_local();
        self.ledger.dumped(&self.records);
        if baseline {
            // What was destroyed before or during the baseline dump cannot
            // be told from what was created after it: the ledger drops the
            // unknown ones of this drain, so do it now, not a poll later.
            self.drain_events();
        }
        self.resolve_new_sockets();
        let deltas = self.ledger.settle();
        let moved = self.add(deltas);
        self.stats.polls += 1;
        Ok(moved)
    }

    /// Applies the destroy notifications that arrived; returns how many.
    fn drain_events(&mut self) -> usize {
        let Some(events) = self.events.as_mut() else {
            return 0;
        };
        self.records.clear();
        match events.drain(&mut self.records) {
            Ok(d) => {
                if d.overflowed {
                    self.stats.overflows += 1;
                    tracing::warn!("missed TCP destroy notifications (receive buffer full); the last moments of some closed connections are not counted");
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading TCP destroy notifications"),
        }
        let drained = self.records.len();
        self.stats.destroy_events += drained as u64;
        self.leave_out_local();
        self.ledger.destroyed(&self.records);
        drained
    }

    /// Drops sockets whose both ends are on this machine, unless loopback
    /// counts: they are never followed, so they cost nothing later.
    fn leave_out_local(&mut self) {
        if !self.counting.counts_loopback() {
            let before = self.records.len();
            self.records.retain(|r| !r.local);
            self.stats.local += (before - self.records.len()) as u64;
        }
    }

    /// What was counted since the last call, per app.
    pub fn take_totals(&mut self) -> Vec<AppFlows> {
        self.totals.take()
    }

    /// The payload counted since the last call, attributed or not.
    pub fn take_counted(&mut self) -> (u64, u64) {
        std::mem::take(&mut self.counted)
    }

    fn dump_all(&mut self) -> Result<(), NetlinkError> {
        let dump = match self.dump.take() {
            Some(d) => d,
            None => DumpSocket::open()?,
        };
        let dump = self.dump.insert(dump);
        dump.dump_tcp(libc::AF_INET as u8, &mut self.records)?;
        dump.dump_tcp(libc::AF_INET6 as u8, &mut self.records)
    }

    /// Scans the fd tables only when a socket appeared that no scan has
    /// looked for yet; sockets not found earlier ride along.
    fn resolve_new_sockets(&mut self) {
        let (wanted, any_new) = self.ledger.unresolved();
        if !any_new {
            return;
        }
        self.stats.scans += 1;
        let scan = self.procfs.find_sockets(&wanted, &self.ledger.owner_pids());
        let mut by_pid = HashMap::new();
        let owners: HashMap<_, _> = scan
            .found
            .into_iter()
            .filter_map(|(inode, pid)| {
                let owner = by_pid
                    .entry(pid)
                    .or_insert_with(|| self.procfs.owner(pid).map(Arc::new))
                    .clone()?;
                Some((inode, owner))
            })
            .collect();
        tracing::trace!(
            wanted = wanted.len(),
            found = owners.len(),
            processes = scan.processes,
            unreadable = scan.unreadable,
            "scanned fd tables"
        );
        self.ledger.attribute(&owners);
    }

    /// Adds deltas to their apps' totals; returns the bytes they add up to,
    /// whether or not the filter keeps them.
    fn add(&mut self, deltas: Vec<Delta>) -> u64 {
        let mut moved = 0u64;
        // The routes of this round, read once and only when a socket needs
        // them (most polls move nothing); the network of each remote asked
        // once.
        let mut routes: Option<Option<crate::network::Routes>> = None;
        let mut network_of: HashMap<IpAddr, Option<NetworkId>> = HashMap::new();
        for d in deltas {
            moved = moved.saturating_add(d.bytes_in).saturating_add(d.bytes_out);
            self.counted.0 = self.counted.0.saturating_add(d.bytes_in);
            self.counted.1 = self.counted.1.saturating_add(d.bytes_out);
            if d.owner.is_none() {
                self.stats.unattributed_in += d.bytes_in;
                self.stats.unattributed_out += d.bytes_out;
            }
            let Some(app) = counted_app(
                &self.counting,
                d.owner.as_deref(),
                d.uid,
                self.unattributed_app.as_deref(),
            ) else {
                continue;
            };
            let network = match (&self.networks, d.remote) {
                (Some(watch), Some(remote)) => network_of
                    .entry(remote)
                    .or_insert_with(|| {
                        let routes = routes
                            .get_or_insert_with(|| crate::network::Routes::read().ok())
                            .as_ref()?;
                        watch.network_of(routes.interface_for(remote)?)
                    })
                    .clone(),
                _ => None,
            };
            self.totals.add_on(
                app,
                Flow::new(d.bytes_in, d.bytes_out),
                d.remote,
                network.as_ref(),
            );
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(received: u64, sent: u64) -> Option<TcpSegments> {
        Some(TcpSegments { received, sent })
    }

    #[test]
    fn the_gate_skips_only_while_the_counters_stand_still() {
        let mut gate = QuietGate::default();
        assert!(gate.must_dump(seg(10, 10)), "nothing dumped yet");
        assert!(!gate.must_dump(seg(10, 10)));
        assert!(!gate.must_dump(seg(10, 10)));
        assert!(gate.must_dump(seg(11, 10)), "a segment arrived");
        assert!(gate.must_dump(seg(11, 12)), "a segment left");
        assert!(!gate.must_dump(seg(11, 12)));
        gate.forget();
        assert!(gate.must_dump(seg(11, 12)), "the last dump failed");
        assert!(gate.must_dump(None), "unreadable counters: always dump");
        assert!(gate.must_dump(None));
        assert!(gate.must_dump(seg(11, 12)));
    }

    #[test]
    fn traffic_between_polls_always_opens_the_gate() {
        let mut p = Poller::new(
            Duration::from_millis(250),
            false,
            Arc::new(CountingPolicy::count_everything()),
            None,
        );
        p.poll().expect("sock_diag works here");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        p.poll().unwrap();
        use std::io::{Read, Write};
        client.write_all(&[7u8; 100_000]).unwrap();
        let mut got = vec![0u8; 100_000];
        server.read_exact(&mut got).unwrap();
        // Our own segments moved the counters before each poll, whatever
        // else the machine does, so every poll dumped and counted.
        let moved = p.poll().unwrap();
        assert!(moved >= 100_000, "the loopback transfer: {moved}");
        assert_eq!(p.stats().polls, 3);
        assert_eq!(p.stats().quiet, 0);
    }

    /// The app this test process is counted under.
    fn this_app() -> String {
        std::env::current_exe()
            .ok()
            .and_then(|e| crate::app::app_name_for_exe(&e))
            .unwrap_or_default()
    }

    fn loopback_transfer(p: &mut Poller, bytes: usize) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        p.poll().unwrap();
        client.write_all(&vec![7u8; bytes]).unwrap();
        let mut got = vec![0u8; bytes];
        server.read_exact(&mut got).unwrap();
        p.poll().unwrap();
    }

    #[test]
    fn loopback_is_left_out_unless_it_counts() {
        let mut p = Poller::new(
            Duration::from_millis(250),
            false,
            Arc::new(CountingPolicy::default()),
            None,
        );
        p.poll().expect("sock_diag works here");
        loopback_transfer(&mut p, 200_000);
        let totals: HashMap<String, (u64, u64)> = p
            .take_totals()
            .into_iter()
            .map(|a| (a.app, (a.flow.bytes_in, a.flow.bytes_out)))
            .collect();
        assert_eq!(totals.get(&this_app()), None, "{totals:?}");
        assert!(
            p.stats().local > 0,
            "the two local ends were seen and dropped"
        );

        let mut counted = Poller::new(
            Duration::from_millis(250),
            false,
            Arc::new(CountingPolicy::count_everything()),
            None,
        );
        counted.poll().unwrap();
        loopback_transfer(&mut counted, 200_000);
        let totals: HashMap<String, (u64, u64)> = counted
            .take_totals()
            .into_iter()
            .map(|a| (a.app, (a.flow.bytes_in, a.flow.bytes_out)))
            .collect();
        let (i, o) = totals.get(&this_app()).copied().unwrap_or_default();
        // Both ends are this process: each direction counted once per end.
        assert!(i >= 200_000 && o >= 200_000, "{totals:?}");
    }
}
