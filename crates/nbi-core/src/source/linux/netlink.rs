//! NETLINK_SOCK_DIAG sockets: one for dump requests, one subscribed to the
//! kernel's TCP destroy notifications.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::sockdiag::{self, Message, SockRecord};

/// Large enough for any datagram the kernel sends on this protocol (dumps
/// are sent in chunks of at most 32 KiB).
const RECV_BUF: usize = 64 * 1024;
/// Room for a burst of destroy notifications between two polls.
const EVENTS_RCVBUF: libc::c_int = 8 * 1024 * 1024;
/// Most datagrams one drain reads, so that a flood of closing connections
/// cannot keep a poll from finishing; the rest wait for the next poll.
const MAX_DRAIN: usize = 1 << 16;
/// A dump that does not finish in this time is abandoned.
const DUMP_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("netlink {op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("sock_diag dump refused by the kernel: {0}")]
    Refused(io::Error),
    #[error("sock_diag: {0}")]
    Decode(#[from] sockdiag::DecodeError),
    #[error("sock_diag: a {0}-byte datagram did not fit the receive buffer")]
    Truncated(usize),
}

fn io_err(op: &'static str) -> NetlinkError {
    NetlinkError::Io {
        op,
        source: io::Error::last_os_error(),
    }
}

struct NlSocket {
    fd: OwnedFd,
}

impl NlSocket {
    fn open(flags: libc::c_int) -> Result<NlSocket, NetlinkError> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | flags,
                libc::NETLINK_SOCK_DIAG,
            )
        };
        if raw < 0 {
            return Err(io_err("socket"));
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_nl is plain data; all-zero is a valid value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: `addr` is a valid sockaddr_nl of the length passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io_err("bind"));
        }
        Ok(NlSocket { fd })
    }

    fn set_opt<T>(&self, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
        // SAFETY: `value` points to a live T of the size passed.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                (value as *const T).cast(),
                std::mem::size_of::<T>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    fn send_to_kernel(&self, buf: &[u8]) -> Result<(), NetlinkError> {
        // SAFETY: as in `open`.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: `buf` and `addr` are valid for the lengths passed.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                0,
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io_err("send"));
        }
        Ok(())
    }

    /// Receives one datagram from the kernel. `Ok(None)` when a non-blocking
    /// socket has nothing; datagrams from anything but the kernel are
    /// dropped.
    fn recv(&self, buf: &mut [u8]) -> Result<Option<usize>, NetlinkError> {
        loop {
            // SAFETY: as in `open`.
            let mut from: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
            let mut from_len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            // SAFETY: `buf`, `from` and `from_len` are valid for writes of
            // the lengths passed.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_TRUNC,
                    (&mut from as *mut libc::sockaddr_nl).cast(),
                    &mut from_len,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EAGAIN) => Ok(None),
                    _ => Err(NetlinkError::Io {
                        op: "recv",
                        source: e,
                    }),
                };
            }
            let n = n as usize;
            if n > buf.len() {
                return Err(NetlinkError::Truncated(n));
            }
            if from.nl_pid != 0 {
                continue;
            }
            return Ok(Some(n));
        }
    }
}

/// Dumps the kernel's TCP socket table.
pub struct DumpSocket {
    sock: NlSocket,
    seq: u32,
    buf: Vec<u8>,
}

impl DumpSocket {
    pub fn open() -> Result<DumpSocket, NetlinkError> {
        let sock = NlSocket::open(0)?;
        let timeout = libc::timeval {
            tv_sec: DUMP_TIMEOUT.as_secs() as libc::time_t,
            tv_usec: 0,
        };
        sock.set_opt(libc::SOL_SOCKET, libc::SO_RCVTIMEO, &timeout)
            .map_err(|source| NetlinkError::Io {
                op: "setsockopt(SO_RCVTIMEO)",
                source,
            })?;
        Ok(DumpSocket {
            sock,
            seq: 0,
            buf: vec![0; RECV_BUF],
        })
    }

    /// A dump socket in the network namespace `ns` (a `/proc/PID/ns/net`):
    /// made by a thread that enters the namespace and ends, so this one
    /// stays where it is. Needs CAP_SYS_ADMIN.
    pub fn open_in(ns: &std::path::Path) -> Result<DumpSocket, NetlinkError> {
        let ns = ns.to_path_buf();
        let entered = std::thread::spawn(move || -> Result<DumpSocket, NetlinkError> {
            let file = std::fs::File::open(&ns).map_err(|source| NetlinkError::Io {
                op: "open the network namespace",
                source,
            })?;
            // SAFETY: setns on an open namespace file; it affects this
            // thread only, which ends after making the socket.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(io_err("setns"));
            }
            DumpSocket::open()
        });
        entered.join().unwrap_or_else(|_| {
            Err(NetlinkError::Io {
                op: "enter the network namespace",
                source: io::Error::other("the thread panicked"),
            })
        })
    }

    /// Appends every TCP socket of `family` that can carry counters.
    pub fn dump_tcp(&mut self, family: u8, out: &mut Vec<SockRecord>) -> Result<(), NetlinkError> {
        self.seq = self.seq.wrapping_add(1);
        let request = sockdiag::tcp_dump_request(family, self.seq);
        self.dump(&request, out)
    }

    /// Appends every listening TCP socket of `family` to `out`.
    pub fn dump_tcp_listeners(
        &mut self,
        family: u8,
        out: &mut Vec<SockRecord>,
    ) -> Result<(), NetlinkError> {
        self.seq = self.seq.wrapping_add(1);
        let request = sockdiag::tcp_listeners_request(family, self.seq);
        self.dump(&request, out)
    }

    /// Appends every UDP socket of `family` (`AF_INET` or `AF_INET6`) to
    /// `out`: their cookies and inodes, no counters.
    pub fn dump_udp(&mut self, family: u8, out: &mut Vec<SockRecord>) -> Result<(), NetlinkError> {
        self.seq = self.seq.wrapping_add(1);
        let request = sockdiag::udp_dump_request(family, self.seq);
        self.dump(&request, out)
    }

    fn dump(&mut self, request: &[u8], out: &mut Vec<SockRecord>) -> Result<(), NetlinkError> {
        let seq = self.seq;
        self.sock.send_to_kernel(request)?;
        loop {
            let n = match self.sock.recv(&mut self.buf)? {
                Some(n) => n,
                // SO_RCVTIMEO expired: the kernel never finished.
                None => {
                    return Err(NetlinkError::Io {
                        op: "recv",
                        source: io::Error::from(io::ErrorKind::TimedOut),
                    })
                }
            };
            for env in sockdiag::decode(&self.buf[..n])? {
                if env.seq != seq {
                    continue; // left over from an abandoned dump
                }
                match env.message {
                    Message::Sock(rec) => out.push(rec),
                    Message::Done => return Ok(()),
                    Message::Error(0) | Message::Other(_) => {}
                    Message::Error(errno) => {
                        return Err(NetlinkError::Refused(io::Error::from_raw_os_error(errno)))
                    }
                }
            }
        }
    }
}

/// Receives the final state of every TCP socket the kernel destroys
/// (IPv4 and IPv6). Needs CAP_NET_ADMIN.
pub struct DestroyListener {
    sock: NlSocket,
    buf: Vec<u8>,
}

/// What one drain of the destroy notifications found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// The kernel dropped notifications because we read too slowly.
    pub overflowed: bool,
}

impl DestroyListener {
    pub fn subscribe() -> Result<DestroyListener, NetlinkError> {
        let sock = NlSocket::open(libc::SOCK_NONBLOCK)?;
        // SO_RCVBUFFORCE passes rmem_max (we have CAP_NET_ADMIN if the
        // subscription below works); plain SO_RCVBUF is the fallback.
        if sock
            .set_opt(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &EVENTS_RCVBUF)
            .is_err()
        {
            let _ = sock.set_opt(libc::SOL_SOCKET, libc::SO_RCVBUF, &EVENTS_RCVBUF);
        }
        for group in [
            sockdiag::SKNLGRP_INET_TCP_DESTROY,
            sockdiag::SKNLGRP_INET6_TCP_DESTROY,
        ] {
            sock.set_opt(libc::SOL_NETLINK, libc::NETLINK_ADD_MEMBERSHIP, &group)
                .map_err(|source| NetlinkError::Io {
                    op: "join the TCP destroy group",
                    source,
                })?;
        }
        Ok(DestroyListener {
            sock,
            buf: vec![0; RECV_BUF],
        })
    }

    /// Appends the notifications waiting in the socket (up to MAX_DRAIN
    /// datagrams), without blocking.
    pub fn drain(&mut self, out: &mut Vec<SockRecord>) -> Result<Drained, NetlinkError> {
        let mut drained = Drained::default();
        for _ in 0..MAX_DRAIN {
            match self.sock.recv(&mut self.buf) {
                Ok(Some(n)) => match sockdiag::decode(&self.buf[..n]) {
                    Ok(envs) => out.extend(envs.into_iter().filter_map(|env| match env.message {
                        Message::Sock(rec) => Some(rec),
                        _ => None,
                    })),
                    // One bad datagram is dropped; the others still count.
                    Err(e) => tracing::warn!(error = %e, "skipping a destroy notification"),
                },
                Ok(None) => return Ok(drained),
                Err(NetlinkError::Io { source, .. })
                    if source.raw_os_error() == Some(libc::ENOBUFS) =>
                {
                    drained.overflowed = true;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(drained)
    }
}
