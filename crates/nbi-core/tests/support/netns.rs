//! A peer host for traffic tests: a network namespace of the test's own,
//! joined to this one by a veth pair, with a paced HTTP server inside.
//! Traffic to it leaves through a real interface, as traffic to another
//! machine does, and is not loopback.
//!
//! Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN). Without it a test says so
//! and returns, unless `NBI_TEST_REQUIRE_SERVICES=1` (the test command sets
//! it, and CI runs as root): then it fails, so a run that could not test
//! real traffic is never green. Addresses come from the benchmarking
//! ranges, 198.18.0.0/15 (one /30 per peer) and 2001:2::/48 (one /64); the
//! namespace, its veth pair and what runs inside are removed when the peer
//! is dropped.
#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Whether this process may make network namespaces. `Err` says why not;
/// under the test command that is a failure, not a skip.
pub fn available() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let why = "needs root to make a network namespace (CI runs as root)".to_string();
        if std::env::var("NBI_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!("cannot run: {why}");
        }
        return Err(why);
    }
    if Command::new("ip").arg("-V").output().is_err() {
        let why = "`ip` (iproute2) is not installed".to_string();
        if std::env::var("NBI_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!("cannot run: {why}");
        }
        return Err(why);
    }
    Ok(())
}

/// A peer host in a namespace of its own.
pub struct Peer {
    name: String,
    /// This host's address on the link.
    pub host_addr: Ipv4Addr,
    /// The peer's address.
    pub addr: Ipv4Addr,
    /// The peer's IPv6 address (and this host's on the link).
    pub addr6: Ipv6Addr,
    pub host_addr6: Ipv6Addr,
    /// This host's end of the link: the interface its bytes go over.
    pub host_if: String,
    /// The peer's end of the link.
    peer_if: String,
    /// Programs started inside, killed with the peer.
    children: std::sync::Mutex<Vec<Child>>,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Peer {
    /// Makes the namespace, the link and the addresses.
    pub fn new() -> Peer {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let name = format!("nbi-t{pid}-{n}");
        // A /30 of 198.18.0.0/15 per (process, peer): 32,768 of them.
        let slot = (pid.wrapping_mul(16).wrapping_add(n)) % 32_768;
        let base = u32::from(Ipv4Addr::new(198, 18, 0, 0)) + slot * 4;
        let (host_addr, addr) = (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2));
        let net6 = |last: u16| Ipv6Addr::new(0x2001, 2, 0, slot as u16, 0, 0, 0, last);
        let (host_addr6, addr6) = (net6(1), net6(2));
        // Interface names are at most 15 bytes.
        let tag = format!("{:x}", (pid << 8) ^ n);
        let (host_if, peer_if) = (format!("nbh{tag}"), format!("nbp{tag}"));
        ip(&["netns", "add", &name]);
        let peer = Peer {
            name: name.clone(),
            host_addr,
            addr,
            addr6,
            host_addr6,
            host_if: host_if.clone(),
            peer_if: peer_if.clone(),
            children: std::sync::Mutex::new(Vec::new()),
        };
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &peer_if,
        ]);
        ip(&["link", "set", &peer_if, "netns", &name]);
        ip(&["addr", "add", &format!("{host_addr}/30"), "dev", &host_if]);
        // `nodad`: usable at once, not after duplicate address detection.
        ip(&[
            "addr",
            "add",
            &format!("{host_addr6}/64"),
            "dev",
            &host_if,
            "nodad",
        ]);
        ip(&["link", "set", &host_if, "up"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &name, "ip"];
            all.extend_from_slice(args);
            ip(&all);
        };
        inside(&["addr", "add", &format!("{addr}/30"), "dev", &peer_if]);
        inside(&[
            "addr",
            "add",
            &format!("{addr6}/64"),
            "dev",
            &peer_if,
            "nodad",
        ]);
        inside(&["link", "set", &peer_if, "up"]);
        inside(&["link", "set", "lo", "up"]);
        peer
    }

    /// Serves `size` bytes to every connection, HTTP/1.0 style, at about
    /// `rate` bytes a second, from inside the namespace; returns the port.
    pub fn serve(&self, size: usize, rate: usize) -> u16 {
        let path = format!("/var/run/netns/{}", self.name);
        let (tx, rx) = std::sync::mpsc::channel();
        let addr = self.addr;
        std::thread::spawn(move || {
            // A thread can join another network namespace by itself; the
            // sockets it makes then belong there.
            let ns = std::fs::File::open(&path).expect("open the namespace");
            // SAFETY: setns on an open namespace file affects this thread only.
            let r = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
            let listener = TcpListener::bind((addr, 0)).expect("bind in the namespace");
            tx.send(listener.local_addr().expect("addr").port())
                .expect("report the port");
            serve_paced(listener, size, rate);
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the peer's server started")
    }
}

impl Peer {
    /// The namespace's name, for `ip netns exec`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Holds what the peer sends to `mbit` Mbit/s, as a real link does (a
    /// burst at veth speed overflows a receiver's socket buffer and is
    /// sent again).
    pub fn limit_rate(&self, mbit: u32) {
        ip(&[
            "netns",
            "exec",
            &self.name,
            "tc",
            "qdisc",
            "add",
            "dev",
            &self.peer_if,
            "root",
            "tbf",
            "rate",
            &format!("{mbit}mbit"),
            "burst",
            "64kb",
            "latency",
            "200ms",
        ]);
    }

    /// Starts `program` inside the namespace (stdout piped, for a program
    /// that says when it is ready); it is killed when the peer is dropped.
    /// Returns its stdout.
    pub fn spawn(&self, program: &str, args: &[&str]) -> std::process::ChildStdout {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {program} in the peer: {e}"));
        let out = child.stdout.take().expect("piped stdout");
        self.children.lock().expect("children").push(child);
        out
    }

    /// A UDP echo server inside the namespace, a separate process (the
    /// app `python3`) bound to `addr`; returns its port.
    pub fn udp_echo(&self, addr: IpAddr) -> u16 {
        let family = if addr.is_ipv6() {
            "AF_INET6"
        } else {
            "AF_INET"
        };
        let script = format!(
            "import socket,sys\n\
             s=socket.socket(socket.{family},socket.SOCK_DGRAM)\n\
             s.bind(('{addr}',0))\n\
             print(s.getsockname()[1],flush=True)\n\
             while True:\n\
             \x20d,a=s.recvfrom(65535)\n\
             \x20s.sendto(d,a)\n"
        );
        let out = self.spawn("python3", &["-c", &script]);
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line)
            .expect("read the echo server's port");
        line.trim()
            .parse()
            .unwrap_or_else(|_| panic!("the echo server did not start: {line:?}"))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Ok(children) = self.children.get_mut() {
            for c in children.iter_mut() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        // Removing the namespace removes its end of the veth pair, and so the pair.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Serves `size` bytes to every connection on `listener` at about `rate`
/// bytes a second (curl's own `--limit-rate` does not slow a short transfer
/// reliably). Runs until the process ends.
pub fn serve_paced(listener: TcpListener, size: usize, rate: usize) {
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        std::thread::spawn(move || {
            let mut req = [0u8; 4096];
            let _ = conn.read(&mut req);
            let head = format!(
                "HTTP/1.0 200 OK\r\nContent-Length: {size}\r\nContent-Type: application/octet-stream\r\n\r\n"
            );
            if conn.write_all(head.as_bytes()).is_err() {
                return;
            }
            let chunk = vec![0x5au8; 64 * 1024];
            let start = std::time::Instant::now();
            let mut sent = 0;
            while sent < size {
                let n = (size - sent).min(chunk.len());
                if conn.write_all(&chunk[..n]).is_err() {
                    return;
                }
                sent += n;
                let due = Duration::from_secs_f64(sent as f64 / rate as f64);
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        });
    }
}
