//! /proc: which process holds a socket inode, and what it is called.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::app::app_name_for_exe;
use crate::counting::{CountingPolicy, Process};
use crate::source::context::Unattributed;

/// The process a socket belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    pub pid: u32,
    /// The kernel's process name (`/proc/PID/comm`), what the filter's
    /// exclude list matches.
    pub raw_name: String,
    /// The executable's name, or `raw_name` when the executable is unknown.
    pub app: String,
    /// The executable (`/proc/PID/exe`), when readable.
    pub exe: Option<PathBuf>,
}

impl Owner {
    /// Whether `counting` counts this process's bytes (as user `uid`).
    pub fn counts_under(&self, counting: &CountingPolicy, uid: Option<u32>) -> bool {
        let process = Process {
            name: &self.raw_name,
            app: &self.app,
            exe: self.exe.as_deref(),
            uid,
        };
        counting.judge_process(&process).is_ok()
    }
}

/// The app a socket's bytes count for: its owner's, when `counting` counts
/// that process; for a socket no process was found for, `unattributed_app`
/// when one is set and counted; else none.
pub fn counted_app(
    counting: &CountingPolicy,
    owner: Option<&Owner>,
    uid: Option<u32>,
    unattributed_app: Option<&str>,
) -> Option<String> {
    match owner {
        Some(o) => o.counts_under(counting, uid).then(|| o.app.clone()),
        None => unattributed_app
            .filter(|name| counting.judge_name(name).is_ok())
            .map(str::to_string),
    }
}

/// The inode of a `/proc/PID/fd/N` link target `socket:[N]`.
pub fn socket_inode(target: &OsStr) -> Option<u64> {
    let digits = target
        .as_bytes()
        .strip_prefix(b"socket:[")?
        .strip_suffix(b"]")?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// What one scan of the fd tables found.
#[derive(Debug, Default)]
pub struct FdScan {
    /// Socket inode → pid, for the wanted inodes that were found.
    pub found: HashMap<u64, u32>,
    /// Processes whose fd table was read.
    pub processes: usize,
    /// Processes whose fd table could not be read (another user's, without
    /// root; or gone meanwhile).
    pub unreadable: usize,
}

/// The bytes every interface but loopback moved (`/proc/net/dev`), to
/// tell how much of the machine's traffic no app was given.
pub struct Interfaces {
    path: PathBuf,
    last: Option<(u64, u64)>,
}

impl Interfaces {
    /// What the interfaces moved since the last call, less `counted` (the
    /// payload the source gave to sockets meanwhile): `None` the first time
    /// or when `/proc/net/dev` cannot be read. Interface counters include
    /// every header, so this is never quite zero.
    pub fn unattributed(&mut self, counted: (u64, u64)) -> Option<Unattributed> {
        let now = std::fs::read_to_string(&self.path)
            .ok()
            .map(|t| parse_net_dev(&t));
        let last = std::mem::replace(&mut self.last, now);
        let (now, last) = (now?, last?);
        Some(Unattributed {
            bytes_in: now.0.saturating_sub(last.0).saturating_sub(counted.0),
            bytes_out: now.1.saturating_sub(last.1).saturating_sub(counted.1),
        })
    }
}

/// Bytes received and sent by every interface but `lo`, from `/proc/net/dev`.
pub fn parse_net_dev(text: &str) -> (u64, u64) {
    text.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            if name.trim() == "lo" {
                return None;
            }
            let f: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            Some((*f.first()?, *f.get(8)?))
        })
        .fold((0, 0), |(i, o), (a, b)| {
            (i.saturating_add(a), o.saturating_add(b))
        })
}

/// TCP's segment counters of this network namespace (`/proc/net/snmp`),
/// IPv4 and IPv6 together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSegments {
    pub received: u64,
    pub sent: u64,
}

/// Reads `InSegs` and `OutSegs` from the text of `/proc/net/snmp`, whose
/// `Tcp:` lines are a header of names and a line of values.
pub fn parse_tcp_segments(snmp: &str) -> Option<TcpSegments> {
    let mut tcp = snmp.lines().filter_map(|l| l.strip_prefix("Tcp:"));
    let (names, values) = (tcp.next()?, tcp.next()?);
    let (mut received, mut sent) = (None, None);
    for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
        match name {
            "InSegs" => received = value.parse().ok(),
            "OutSegs" => sent = value.parse().ok(),
            _ => {}
        }
    }
    Some(TcpSegments {
        received: received?,
        sent: sent?,
    })
}

/// Reads `/proc/net/snmp` again and again through one open file: it is read
/// several times a second, and opening it costs more than reading it.
#[derive(Debug)]
pub struct TcpCounters {
    path: PathBuf,
    file: Option<std::fs::File>,
    buf: Vec<u8>,
}

impl TcpCounters {
    /// The counters now, or None when they cannot be read.
    pub fn read(&mut self) -> Option<TcpSegments> {
        let read = self.read_text();
        if read.is_err() {
            // Reopened next time, in case the file itself went bad.
            self.file = None;
        }
        parse_tcp_segments(std::str::from_utf8(&self.buf[..read.ok()?]).ok()?)
    }

    /// Reads the whole file into `buf` from offset 0 (procfs restarts the
    /// text there); returns its length.
    fn read_text(&mut self) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let file = match &self.file {
            Some(f) => f,
            None => self.file.insert(std::fs::File::open(&self.path)?),
        };
        if self.buf.is_empty() {
            self.buf.resize(4096, 0);
        }
        let mut len = 0;
        loop {
            if len == self.buf.len() {
                self.buf.resize(len * 2, 0);
            }
            match file.read_at(&mut self.buf[len..], len as u64)? {
                0 => return Ok(len),
                n => len += n,
            }
        }
    }
}

/// A procfs mount (normally `/proc`).
#[derive(Debug, Clone)]
pub struct ProcFs {
    root: PathBuf,
}

impl ProcFs {
    pub fn new(root: impl Into<PathBuf>) -> ProcFs {
        ProcFs { root: root.into() }
    }

    /// Every process id present now.
    pub fn pids(&self) -> Vec<u32> {
        let Ok(dir) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect()
    }

    /// Finds which processes hold the `wanted` socket inodes, reading the
    /// fd tables of `first` before the others (then newest pid first, where
    /// short-lived clients are), and stopping as soon as all are found.
    pub fn find_sockets(&self, wanted: &HashSet<u64>, first: &[u32]) -> FdScan {
        let mut scan = FdScan::default();
        if wanted.is_empty() {
            return scan;
        }
        let mut rest = self.pids();
        let first_set: HashSet<u32> = first.iter().copied().collect();
        rest.retain(|p| !first_set.contains(p));
        rest.sort_unstable_by(|a, b| b.cmp(a));
        for pid in first.iter().copied().chain(rest) {
            let Ok(fds) = std::fs::read_dir(self.pid_path(pid).join("fd")) else {
                scan.unreadable += 1;
                continue;
            };
            scan.processes += 1;
            for entry in fds.flatten() {
                let Ok(target) = std::fs::read_link(entry.path()) else {
                    continue;
                };
                if let Some(inode) = socket_inode(target.as_os_str()) {
                    if wanted.contains(&inode) {
                        scan.found.entry(inode).or_insert(pid);
                    }
                }
            }
            if scan.found.len() == wanted.len() {
                break;
            }
        }
        scan
    }

    /// One `/proc/PID/ns/net` for each network namespace other than this
    /// process's that a process here is in (containers, `ip netns`).
    pub fn other_net_namespaces(&self) -> Vec<PathBuf> {
        let ours = std::fs::read_link(self.root.join("self/ns/net")).ok();
        let mut seen = HashSet::new();
        self.pids()
            .into_iter()
            .filter_map(|pid| {
                let path = self.pid_path(pid).join("ns/net");
                let ns = std::fs::read_link(&path).ok()?;
                (Some(&ns) != ours.as_ref() && seen.insert(ns)).then_some(path)
            })
            .collect()
    }

    /// A reader of TCP's segment counters.
    pub fn tcp_counters(&self) -> TcpCounters {
        TcpCounters {
            path: self.root.join("net/snmp"),
            file: None,
            buf: Vec::new(),
        }
    }

    /// The byte counters of this network namespace's interfaces.
    pub fn interfaces(&self) -> Interfaces {
        Interfaces {
            path: self.root.join("net/dev"),
            last: None,
        }
    }

    /// The names of process `pid`, or None when it is gone.
    pub fn owner(&self, pid: u32) -> Option<Owner> {
        let base = self.pid_path(pid);
        let comm = std::fs::read(base.join("comm")).ok().map(|b| {
            String::from_utf8_lossy(&b)
                .trim_end_matches('\n')
                .to_string()
        });
        let exe = std::fs::read_link(base.join("exe")).ok();
        let exe_app = exe.as_deref().and_then(app_name_for_exe);
        let raw_name = comm.clone().or_else(|| exe_app.clone())?;
        let app = exe_app.or(comm).unwrap_or_else(|| raw_name.clone());
        Some(Owner {
            pid,
            raw_name,
            app,
            exe,
        })
    }

    fn pid_path(&self, pid: u32) -> PathBuf {
        self.root.join(pid.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn interface_bytes_leave_loopback_out() {
        let dev = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo: 5000 10 0 0 0 0 0 0 5000 10 0 0 0 0 0 0\n  eth0: 1200 3 0 0 0 0 0 0 340 2 0 0 0 0 0 0\nnbi-h1: 100 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n";
        assert_eq!(parse_net_dev(dev), (1300, 350));
    }

    #[test]
    fn parses_socket_links_only() {
        assert_eq!(socket_inode(OsStr::new("socket:[123456]")), Some(123456));
        assert_eq!(socket_inode(OsStr::new("socket:[]")), None);
        assert_eq!(socket_inode(OsStr::new("socket:[12a]")), None);
        assert_eq!(socket_inode(OsStr::new("socket:[-1]")), None);
        assert_eq!(socket_inode(OsStr::new("pipe:[123]")), None);
        assert_eq!(socket_inode(OsStr::new("/dev/null")), None);
        assert_eq!(
            socket_inode(OsStr::new("socket:[99999999999999999999999]")),
            None
        );
    }

    /// A fake /proc with processes holding the given fd link targets.
    fn fake_proc(procs: &[(u32, &str, Option<&str>, &[&str])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (pid, comm, exe, fds) in procs {
            let p = dir.path().join(pid.to_string());
            std::fs::create_dir_all(p.join("fd")).unwrap();
            std::fs::write(p.join("comm"), format!("{comm}\n")).unwrap();
            if let Some(exe) = exe {
                symlink(exe, p.join("exe")).unwrap();
            }
            for (n, target) in fds.iter().enumerate() {
                symlink(target, p.join("fd").join(n.to_string())).unwrap();
            }
        }
        std::fs::create_dir_all(dir.path().join("self")).unwrap();
        std::fs::write(dir.path().join("uptime"), "1 1\n").unwrap();
        dir
    }

    #[test]
    fn finds_the_processes_of_wanted_inodes() {
        let dir = fake_proc(&[
            (
                10,
                "firefox",
                Some("/usr/lib/firefox/firefox"),
                &["/dev/null", "socket:[100]", "pipe:[5]"],
            ),
            (
                20,
                "curl",
                Some("/usr/bin/curl"),
                &["socket:[200]", "socket:[201]"],
            ),
            (30, "sshd", None, &["socket:[300]"]),
        ]);
        let fs = ProcFs::new(dir.path());
        let mut pids = fs.pids();
        pids.sort();
        assert_eq!(
            pids,
            vec![10, 20, 30],
            "non-numeric entries are not processes"
        );
        let wanted: HashSet<u64> = [100, 201, 999].into();
        let scan = fs.find_sockets(&wanted, &[]);
        assert_eq!(scan.found, HashMap::from([(100, 10), (201, 20)]));
        assert_eq!(
            scan.processes, 3,
            "999 is never found, so every process is read"
        );
        // All found: the scan stops early, reading the preferred pid first.
        let scan = fs.find_sockets(&[300].into(), &[30]);
        assert_eq!(scan.found, HashMap::from([(300, 30)]));
        assert_eq!(scan.processes, 1);
        assert!(fs.find_sockets(&HashSet::new(), &[]).found.is_empty());
    }

    #[test]
    fn unreadable_and_vanished_processes_are_counted_not_fatal() {
        let dir = fake_proc(&[(10, "a", None, &["socket:[1]"])]);
        // A process whose fd table is missing (gone, or not ours to read).
        std::fs::create_dir_all(dir.path().join("11")).unwrap();
        let fs = ProcFs::new(dir.path());
        let scan = fs.find_sockets(&[1, 2].into(), &[12345]);
        assert_eq!(scan.found, HashMap::from([(1, 10)]));
        assert_eq!(scan.unreadable, 2);
        assert_eq!(fs.owner(12345), None);
        let missing = ProcFs::new(dir.path().join("nope"));
        assert!(missing.pids().is_empty());
    }

    #[test]
    fn owner_names_come_from_the_executable_then_comm() {
        let dir = fake_proc(&[
            (10, "Web Content", Some("/usr/lib/firefox/firefox"), &[]),
            (11, "sshd", None, &[]),
            (12, "python3", Some("/usr/bin/python3.11 (deleted)"), &[]),
        ]);
        let fs = ProcFs::new(dir.path());
        let o = fs.owner(10).unwrap();
        assert_eq!(
            (o.raw_name.as_str(), o.app.as_str()),
            ("Web Content", "firefox")
        );
        let o = fs.owner(11).unwrap();
        assert_eq!((o.raw_name.as_str(), o.app.as_str()), ("sshd", "sshd"));
        assert_eq!(fs.owner(12).unwrap().app, "python3.11");
        assert_eq!(fs.owner(10).unwrap().pid, 10);
    }

    #[test]
    fn reads_the_tcp_segment_counters() {
        let snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\n\
            Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens InSegs OutSegs RetransSegs\n\
            Tcp: 1 200 120000 -1 38767 993178 940014 184\n\
            Udp: InDatagrams\nUdp: 5\n";
        assert_eq!(
            parse_tcp_segments(snmp),
            Some(TcpSegments {
                received: 993178,
                sent: 940014
            })
        );
        // Missing, cut short, or not numbers: unknown, never a guess.
        assert_eq!(parse_tcp_segments(""), None);
        assert_eq!(parse_tcp_segments("Tcp: InSegs OutSegs\n"), None);
        assert_eq!(parse_tcp_segments("Tcp: InSegs OutSegs\nTcp: 12\n"), None);
        assert_eq!(parse_tcp_segments("Tcp: InSegs OutSegs\nTcp: x 1\n"), None);
        assert_eq!(parse_tcp_segments("Tcp: InSegs\nTcp: 1\n"), None);

        let dir = fake_proc(&[]);
        let mut counters = ProcFs::new(dir.path()).tcp_counters();
        assert_eq!(counters.read(), None, "no file yet");
        std::fs::create_dir_all(dir.path().join("net")).unwrap();
        // Longer than the first buffer, to read it in several pieces.
        let long = format!("{}{snmp}", "Padding: 0\n".repeat(1000));
        std::fs::write(dir.path().join("net/snmp"), &long).unwrap();
        assert_eq!(counters.read().unwrap().sent, 940014);
        std::fs::write(
            dir.path().join("net/snmp"),
            snmp.replace("940014", "940015"),
        )
        .unwrap();
        assert_eq!(
            counters.read().unwrap().sent,
            940015,
            "read again from the start"
        );
    }

    #[test]
    fn the_real_tcp_counters_move_with_traffic() {
        let mut counters = ProcFs::new("/proc").tcp_counters();
        let before = counters.read().expect("/proc/net/snmp has Tcp counters");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let after = counters.read().unwrap();
        assert!(after.received > before.received && after.sent > before.sent);
    }

    #[test]
    fn reads_the_real_proc_for_this_process() {
        let fs = ProcFs::new("/proc");
        let me = std::process::id();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        use std::os::fd::AsRawFd;
        let link = std::fs::read_link(format!("/proc/self/fd/{}", listener.as_raw_fd())).unwrap();
        let inode = socket_inode(link.as_os_str()).unwrap();
        let scan = fs.find_sockets(&[inode].into(), &[me]);
        assert_eq!(scan.found.get(&inode), Some(&me));
        let exe = std::env::current_exe().unwrap();
        assert_eq!(fs.owner(me).unwrap().app, app_name_for_exe(&exe).unwrap());
    }
}
