//! Per-socket accounting: what each TCP socket moved since it was last seen,
//! and whose it is.
//!
//! Sockets are keyed by cookie, which the kernel keeps for the life of a
//! socket, including after the process closed it (when its inode is already
//! 0): a destroy notification can be matched to the socket seen earlier.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use super::procfs::Owner;
use super::sockdiag::{SockRecord, TcpBytes};

/// Scans that may fail to find a socket's process before it is given up.
const MAX_TRIES: u8 = 3;

/// Bytes one socket moved, and its process when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    pub owner: Option<Arc<Owner>>,
    /// The socket's user; None for the final counters of sockets never seen.
    pub uid: Option<u32>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// The socket's remote end; `None` when unconnected or never seen.
    pub remote: Option<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Attribution {
    /// Not found in any fd table yet; `tries` scans have looked.
    Pending {
        tries: u8,
    },
    Owned(Arc<Owner>),
    /// No process holds it (orphaned socket, another user's process, a
    /// process that exited before a scan found it).
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    /// In the dump of this generation.
    Live(u64),
    /// Missing from dumps since this generation; kept a while so that a late
    /// destroy notification (or a dump that missed it) continues from the
    /// last counters instead of from zero.
    Gone(u64),
    /// Its destroy notification arrived: nothing more will come.
    Destroyed,
}

#[derive(Debug)]
struct Entry {
    last: TcpBytes,
    inode: u64,
    uid: u32,
    remote: Option<IpAddr>,
    attribution: Attribution,
    /// Counted but not yet handed out by `settle`.
    unsettled: TcpBytes,
    life: Life,
}

/// The accounting state of every TCP socket seen.
#[derive(Debug)]
pub struct Ledger {
    entries: HashMap<u64, Entry>,
    generation: u64,
    baseline_taken: bool,
    drains_since_baseline: u32,
    keep_gone_for: u64,
    /// Final counters of sockets never seen in a dump.
    orphans: TcpBytes,
}

impl Ledger {
    /// `keep_gone_for`: how many dumps a vanished socket is remembered.
    pub fn new(keep_gone_for: u64) -> Ledger {
        Ledger {
            entries: HashMap::new(),
            generation: 0,
            baseline_taken: false,
            drains_since_baseline: 0,
            keep_gone_for: keep_gone_for.max(1),
            orphans: TcpBytes::default(),
        }
    }

    /// Whether the first dump has been applied.
    pub fn has_baseline(&self) -> bool {
        self.baseline_taken
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Applies destroy notifications: the final counters of closed sockets.
    pub fn destroyed(&mut self, records: &[SockRecord]) {
        // A socket destroyed before the first dump, or during it, may predate
        // this ledger, and its bytes would be counted from zero: unknown
        // cookies are trusted from the second drain after the baseline on
        // (the poller drains right after the baseline dump).
        let trust_unknown = self.baseline_taken && self.drains_since_baseline > 0;
        if self.baseline_taken {
            self.drains_since_baseline = self.drains_since_baseline.saturating_add(1);
        }
        for rec in records {
            match (self.entries.get_mut(&rec.cookie), rec.bytes) {
                (Some(e), Some(now)) => {
                    e.count(now);
                    e.life = Life::Destroyed;
                }
                (Some(e), None) => e.life = Life::Destroyed,
                (None, Some(now)) if trust_unknown => {
                    self.orphans.received = self.orphans.received.saturating_add(now.received);
                    self.orphans.acked = self.orphans.acked.saturating_add(now.acked);
                }
                (None, _) => {}
            }
        }
    }

    /// Applies one complete dump of the socket table. The first dump is the
    /// baseline: what its sockets moved before it is not counted; a socket
    /// first seen in a later dump is new, and counts from zero.
    pub fn dumped(&mut self, records: &[SockRecord]) {
        self.generation += 1;
        let generation = self.generation;
        for rec in records {
            let Some(now) = rec.bytes else { continue };
            match self.entries.get_mut(&rec.cookie) {
                Some(e) => {
                    e.count(now);
                    if e.life != Life::Destroyed {
                        e.life = Life::Live(generation);
                    }
                    if rec.inode == 0 {
                        if let Attribution::Pending { .. } = e.attribution {
                            e.attribution = Attribution::Unknown;
                        }
                    }
                }
                None => {
                    let counted = if self.baseline_taken {
                        now
                    } else {
                        TcpBytes::default()
                    };
                    self.entries.insert(
                        rec.cookie,
                        Entry {
                            last: now,
                            inode: rec.inode,
                            uid: rec.uid,
                            remote: rec.remote.map(|r| r.ip()),
                            attribution: if rec.inode == 0 {
                                Attribution::Unknown
                            } else {
                                Attribution::Pending { tries: 0 }
                            },
                            unsettled: counted,
                            life: Life::Live(generation),
                        },
                    );
                }
            }
        }
        for e in self.entries.values_mut() {
            if matches!(e.life, Life::Live(g) if g != generation) {
                e.life = Life::Gone(generation);
            }
        }
        self.baseline_taken = true;
    }

    /// Inodes whose process is still to be found, and whether any of them
    /// has never been looked for (only those are worth a scan of their own).
    pub fn unresolved(&self) -> (HashSet<u64>, bool) {
        let mut any_new = false;
        let inodes = self
            .entries
            .values()
            .filter_map(|e| match e.attribution {
                Attribution::Pending { tries } if e.inode != 0 => {
                    any_new |= tries == 0;
                    Some(e.inode)
                }
                _ => None,
            })
            .collect();
        (inodes, any_new)
    }

    /// Records the result of one scan of the fd tables.
    pub fn attribute(&mut self, owners: &HashMap<u64, Arc<Owner>>) {
        for e in self.entries.values_mut() {
            if let Attribution::Pending { tries } = e.attribution {
                e.attribution = match owners.get(&e.inode) {
                    Some(o) => Attribution::Owned(Arc::clone(o)),
                    None if tries + 1 >= MAX_TRIES => Attribution::Unknown,
                    None => Attribution::Pending { tries: tries + 1 },
                };
            }
        }
    }

    /// Pids that own live sockets: where new sockets are likeliest.
    pub fn owner_pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self
            .entries
            .values()
            .filter_map(|e| match &e.attribution {
                Attribution::Owned(o) if matches!(e.life, Life::Live(_)) => Some(o.pid),
                _ => None,
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Hands out what was counted since the last call, and forgets sockets
    /// that are destroyed or long gone.
    pub fn settle(&mut self) -> Vec<Delta> {
        let mut out = Vec::new();
        for e in self.entries.values_mut() {
            if e.unsettled != TcpBytes::default() {
                out.push(Delta {
                    owner: match &e.attribution {
                        Attribution::Owned(o) => Some(Arc::clone(o)),
                        _ => None,
                    },
                    uid: Some(e.uid),
                    bytes_in: e.unsettled.received,
                    bytes_out: e.unsettled.acked,
                    remote: e.remote,
                });
                e.unsettled = TcpBytes::default();
            }
        }
        if self.orphans != TcpBytes::default() {
            out.push(Delta {
                owner: None,
                uid: None,
                bytes_in: self.orphans.received,
                bytes_out: self.orphans.acked,
                remote: None,
            });
            self.orphans = TcpBytes::default();
        }
        let (generation, keep) = (self.generation, self.keep_gone_for);
        self.entries.retain(|_, e| match e.life {
            Life::Live(_) => true,
            // Missing from `generation - since + 1` dumps so far.
            Life::Gone(since) => generation.saturating_sub(since) + 1 < keep,
            Life::Destroyed => false,
        });
        out
    }
}

impl Entry {
    /// Adds what the counters moved since last seen. A counter below its
    /// last value cannot come from the same socket's life: count it from
    /// zero rather than lose it or wrap.
    fn count(&mut self, now: TcpBytes) {
        let step = |last: u64, now: u64| if now >= last { now - last } else { now };
        self.unsettled.received = self
            .unsettled
            .received
            .saturating_add(step(self.last.received, now.received));
        self.unsettled.acked = self
            .unsettled
            .acked
            .saturating_add(step(self.last.acked, now.acked));
        self.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(cookie: u64, inode: u64, received: u64, acked: u64) -> SockRecord {
        SockRecord {
            family: libc::AF_INET as u8,
            state: 1,
            cookie,
            inode,
            uid: 1000,
            local: false,
            local_port: 0,
            remote: None,
            bytes: Some(TcpBytes { received, acked }),
        }
    }

    fn owner(pid: u32, app: &str) -> Arc<Owner> {
        Arc::new(Owner {
            pid,
            raw_name: app.to_string(),
            app: app.to_string(),
            exe: None,
        })
    }

    /// (app or "?", in, out), sorted.
    fn summary(deltas: Vec<Delta>) -> Vec<(String, u64, u64)> {
        let mut v: Vec<_> = deltas
            .into_iter()
            .map(|d| {
                (
                    d.owner.map_or("?".to_string(), |o| o.app.clone()),
                    d.bytes_in,
                    d.bytes_out,
                )
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn baseline_sockets_count_from_first_sight_new_ones_from_zero() {
        let mut l = Ledger::new(4);
        l.dumped(&[rec(1, 11, 1_000_000, 500)]);
        l.attribute(&HashMap::from([(11, owner(5, "old"))]));
        assert!(l.settle().is_empty(), "the baseline counts nothing");
        l.dumped(&[rec(1, 11, 1_000_100, 600), rec(2, 22, 300, 40)]);
        let (wanted, any_new) = l.unresolved();
        assert_eq!(wanted, HashSet::from([22]));
        assert!(any_new);
        l.attribute(&HashMap::from([(22, owner(6, "new"))]));
        assert_eq!(
            summary(l.settle()),
            vec![("new".into(), 300, 40), ("old".into(), 100, 100)]
        );
        assert_eq!(l.owner_pids(), vec![5, 6]);
    }

    #[test]
    fn destroy_notification_completes_a_socket_seen_earlier() {
        let mut l = Ledger::new(4);
        l.dumped(&[]);
        l.destroyed(&[]);
        l.dumped(&[rec(7, 70, 1000, 10)]);
        l.attribute(&HashMap::from([(70, owner(9, "curl"))]));
        assert_eq!(summary(l.settle()), vec![("curl".into(), 1000, 10)]);
        // It closes between two dumps: the notification has inode 0 and the
        // final counters; the cookie still finds curl.
        l.destroyed(&[rec(7, 0, 5000, 20)]);
        l.dumped(&[]);
        assert_eq!(summary(l.settle()), vec![("curl".into(), 4000, 10)]);
        assert_eq!(l.len(), 0, "a destroyed socket is forgotten");
        // A duplicate notification counts nothing more (the cookie is gone,
        // and an unknown cookie's bytes are unattributed, not curl's).
        l.destroyed(&[rec(7, 0, 5000, 20)]);
        assert_eq!(summary(l.settle()), vec![("?".into(), 5000, 20)]);
    }

    #[test]
    fn late_notification_after_the_dump_lost_the_socket_still_counts_once() {
        let mut l = Ledger::new(4);
        l.dumped(&[]);
        l.destroyed(&[]);
        l.dumped(&[rec(7, 70, 1000, 0)]);
        l.attribute(&HashMap::from([(70, owner(9, "curl"))]));
        l.settle();
        // The socket is gone from the next dump before its notification is
        // read: remembered, not counted again from zero later.
        l.dumped(&[]);
        assert!(l.settle().is_empty());
        assert_eq!(l.len(), 1);
        l.destroyed(&[rec(7, 0, 3000, 0)]);
        assert_eq!(summary(l.settle()), vec![("curl".into(), 2000, 0)]);
        assert_eq!(l.len(), 0);
    }

    #[test]
    fn vanished_sockets_are_forgotten_after_a_while() {
        let mut l = Ledger::new(2);
        l.dumped(&[rec(1, 11, 10, 10)]);
        l.dumped(&[]);
        l.settle();
        assert_eq!(l.len(), 1);
        l.dumped(&[]);
        l.settle();
        assert_eq!(l.len(), 0);
        // Seen again later (cannot happen for a real cookie): new, so from 0.
        l.dumped(&[rec(1, 11, 15, 10)]);
        assert_eq!(summary(l.settle()), vec![("?".into(), 15, 10)]);
    }

    #[test]
    fn a_socket_missed_by_one_dump_continues_from_its_last_counters() {
        let mut l = Ledger::new(4);
        l.dumped(&[]);
        l.dumped(&[rec(1, 11, 100, 0)]);
        l.attribute(&HashMap::from([(11, owner(1, "a"))]));
        l.settle();
        l.dumped(&[]);
        l.settle();
        l.dumped(&[rec(1, 11, 250, 0)]);
        assert_eq!(summary(l.settle()), vec![("a".into(), 150, 0)]);
    }

    #[test]
    fn counter_reset_counts_from_zero_instead_of_wrapping() {
        let mut l = Ledger::new(4);
        l.dumped(&[rec(1, 11, 1000, 1000)]);
        l.attribute(&HashMap::from([(11, owner(1, "a"))]));
        l.settle();
        l.dumped(&[rec(1, 11, 40, 1500)]);
        assert_eq!(summary(l.settle()), vec![("a".into(), 40, 500)]);
    }

    #[test]
    fn unknown_destroys_right_after_start_are_not_counted() {
        let mut l = Ledger::new(4);
        l.destroyed(&[rec(1, 0, 99, 99)]); // before the baseline
        l.dumped(&[]);
        l.destroyed(&[rec(2, 0, 99, 99)]); // first drain after it
        assert!(l.settle().is_empty());
        l.dumped(&[]);
        l.destroyed(&[rec(3, 0, 5, 6)]);
        assert_eq!(summary(l.settle()), vec![("?".into(), 5, 6)]);
    }

    #[test]
    fn unresolvable_sockets_are_given_up_and_unattributed() {
        let mut l = Ledger::new(4);
        l.dumped(&[]);
        l.dumped(&[rec(1, 11, 10, 0), rec(2, 0, 20, 0)]);
        let (wanted, any_new) = l.unresolved();
        assert_eq!(wanted, HashSet::from([11]), "inode 0 cannot be looked up");
        assert!(any_new);
        for _ in 0..MAX_TRIES {
            l.attribute(&HashMap::new());
        }
        let (wanted, any_new) = l.unresolved();
        assert!(wanted.is_empty() && !any_new);
        assert_eq!(
            summary(l.settle()),
            vec![("?".into(), 10, 0), ("?".into(), 20, 0)]
        );
        // A retry that finds it later attributes later bytes.
        let mut l = Ledger::new(4);
        l.dumped(&[]);
        l.dumped(&[rec(1, 11, 10, 0)]);
        l.attribute(&HashMap::new());
        assert_eq!(l.unresolved(), (HashSet::from([11]), false));
        l.settle();
        l.dumped(&[rec(1, 11, 30, 0)]);
        l.attribute(&HashMap::from([(11, owner(3, "late"))]));
        assert_eq!(summary(l.settle()), vec![("late".into(), 20, 0)]);
    }

    #[test]
    fn records_without_counters_are_ignored() {
        let mut l = Ledger::new(4);
        l.dumped(&[]);
        let mut r = rec(1, 11, 0, 0);
        r.bytes = None;
        l.dumped(&[r.clone()]);
        l.destroyed(&[]);
        l.destroyed(&[r]);
        assert!(l.settle().is_empty());
        assert_eq!(l.len(), 0);
    }
}
