//! Whose a socket is. A socket made while the programs are attached carries
//! its maker; one made before has none, and is looked up as the polling
//! source does: sock_diag gives its inode (sock_diag's cookie is the same
//! cookie), `/proc` the process holding it — in this network namespace,
//! then in the others (containers), which root may enter. A connection a
//! server accepted on such an old listening socket, closed before it was
//! looked up, is its listener's.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::programs::{nul_terminated, Creator, Traffic};
use crate::app::app_name_for_exe;
use crate::source::linux::netlink::DumpSocket;
use crate::source::linux::procfs::{Owner, ProcFs};
use crate::source::linux::sockdiag::SockRecord;

/// Lookups of a socket with no recorded maker before it is given up.
const MAX_TRIES: u8 = 3;

/// How often a port no listener is known on may trigger a new lookup.
const LISTENERS_EVERY: Duration = Duration::from_secs(1);

/// Whose a socket is.
#[derive(Debug, Clone)]
pub enum Whose {
    /// A process, and the user it ran as.
    Owned(Arc<Owner>, u32),
    /// Not found yet: `tries` lookups so far.
    Pending(u8),
    Unknown,
}

/// A socket to look up: its cookie, what it moved, and the lookups so far.
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    pub cookie: u64,
    pub traffic: Traffic,
    pub tries: u8,
}

/// The owners of listening TCP sockets, by port.
#[derive(Debug, Default)]
struct Listeners {
    by_port: HashMap<u16, (Arc<Owner>, u32)>,
    /// When they were last looked up: on a miss, at most once a second.
    looked_at: Option<Instant>,
}

/// Finds the processes of sockets.
#[derive(Debug)]
pub struct Owners {
    procfs: ProcFs,
    listeners: Listeners,
    /// Lookups through sock_diag and `/proc` so far.
    pub scans: u64,
}

impl Owners {
    pub fn new(procfs: ProcFs) -> Owners {
        Owners {
            procfs,
            listeners: Listeners::default(),
            scans: 0,
        }
    }

    /// The owner of a socket its maker was recorded for: the process as
    /// `/proc` shows it when it is still there, else as the programs
    /// recorded it (a process that lived 5 ms is gone by the time it is
    /// read); named by its program's file name either way.
    pub fn of_creator(&self, c: &Creator) -> Whose {
        let comm = nul_terminated(&c.comm);
        // A pid reused since by another program is not the maker.
        let live = self.procfs.owner(c.pid).filter(|o| o.raw_name == comm);
        let owner = live.unwrap_or_else(|| Owner {
            pid: c.pid,
            app: app_name_for_exe(std::path::Path::new(&nul_terminated(&c.exe)))
                .unwrap_or_else(|| comm.clone()),
            raw_name: comm,
            exe: None,
        });
        Whose::Owned(Arc::new(owner), c.uid)
    }

    /// Looks up sockets without a recorded maker; what each is now.
    pub fn find(&mut self, wanted: &[Wanted]) -> Vec<(u64, Whose)> {
        if wanted.is_empty() {
            return Vec::new();
        }
        self.scans += 1;
        let cookies: HashSet<u64> = wanted.iter().map(|w| w.cookie).collect();
        let mut inode_of = HashMap::new();
        if let Ok(mut dump) = DumpSocket::open() {
            inodes_in(&mut dump, &cookies, &mut inode_of);
        }
        if inode_of.len() < cookies.len() {
            for ns in self.procfs.other_net_namespaces() {
                if let Ok(mut dump) = DumpSocket::open_in(&ns) {
                    inodes_in(&mut dump, &cookies, &mut inode_of);
                }
                if inode_of.len() == cookies.len() {
                    break;
                }
            }
        }
        let inodes: HashSet<u64> = inode_of.values().map(|(i, _)| *i).collect();
        let scan = self.procfs.find_sockets(&inodes, &[]);
        wanted
            .iter()
            .map(|w| {
                let found = inode_of
                    .get(&w.cookie)
                    .and_then(|(inode, uid)| Some((*scan.found.get(inode)?, *uid)))
                    .and_then(|(pid, uid)| Some((self.procfs.owner(pid)?, uid)));
                let whose = match found {
                    Some((o, uid)) => Whose::Owned(Arc::new(o), uid),
                    // Closed, or not found in time: a server's connection is
                    // its listener's.
                    None if w.traffic.released != 0 || w.tries + 1 >= MAX_TRIES => {
                        self.accepted_by(&w.traffic)
                    }
                    None => Whose::Pending(w.tries + 1),
                };
                (w.cookie, whose)
            })
            .collect()
    }

    /// The owner of the listening socket a TCP connection was accepted on,
    /// if one listens on its local port.
    fn accepted_by(&mut self, t: &Traffic) -> Whose {
        let port = t.local_port;
        if t.protocol != libc::IPPROTO_TCP as u8 || port == 0 {
            return Whose::Unknown;
        }
        let stale = self
            .listeners
            .looked_at
            .is_none_or(|at| at.elapsed() >= LISTENERS_EVERY);
        if !self.listeners.by_port.contains_key(&port) && stale {
            self.find_listeners();
        }
        match self.listeners.by_port.get(&port) {
            Some((o, uid)) => Whose::Owned(o.clone(), *uid),
            None => Whose::Unknown,
        }
    }

    /// Looks up every listening TCP socket's process.
    fn find_listeners(&mut self) {
        self.listeners.looked_at = Some(Instant::now());
        self.scans += 1;
        let mut records: Vec<SockRecord> = Vec::new();
        if let Ok(mut dump) = DumpSocket::open() {
            for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
                let _ = dump.dump_tcp_listeners(family, &mut records);
            }
        }
        let wanted: HashSet<u64> = records
            .iter()
            .map(|r| r.inode)
            .filter(|i| *i != 0)
            .collect();
        let scan = self.procfs.find_sockets(&wanted, &[]);
        self.listeners.by_port = records
            .iter()
            .filter_map(|r| {
                let pid = *scan.found.get(&r.inode)?;
                Some((r.local_port, (Arc::new(self.procfs.owner(pid)?), r.uid)))
            })
            .collect();
    }
}

/// Adds the inode and uid of each of `cookies` that `dump`'s namespace has.
fn inodes_in(dump: &mut DumpSocket, cookies: &HashSet<u64>, out: &mut HashMap<u64, (u64, u32)>) {
    let mut records: Vec<SockRecord> = Vec::new();
    for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
        let _ = dump.dump_tcp(family, &mut records);
        let _ = dump.dump_udp(family, &mut records);
    }
    for r in records {
        if cookies.contains(&r.cookie) && r.inode != 0 {
            out.insert(r.cookie, (r.inode, r.uid));
        }
    }
}
