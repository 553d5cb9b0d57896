//! The sock_diag wire format (NETLINK_SOCK_DIAG, `inet_diag_req_v2` /
//! `inet_diag_msg`): building a TCP dump request and decoding the kernel's
//! answers and destroy notifications. Pure byte work, no sockets.
//!
//! Layouts are the kernel's uapi (`linux/netlink.h`, `linux/sock_diag.h`,
//! `linux/inet_diag.h`, `linux/tcp.h`), all fields in host byte order except
//! the ports and addresses (network order).

use std::mem::offset_of;

/// `SOCK_DIAG_BY_FAMILY`: the request and answer message type.
pub const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// Multicast groups carrying the final state of destroyed TCP sockets.
pub const SKNLGRP_INET_TCP_DESTROY: u32 = 1;
pub const SKNLGRP_INET6_TCP_DESTROY: u32 = 3;

const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
const NLMSG_DONE: u16 = libc::NLMSG_DONE as u16;
const NLM_F_REQUEST: u16 = libc::NLM_F_REQUEST as u16;
const NLM_F_DUMP: u16 = libc::NLM_F_DUMP as u16;

const NLMSG_HDRLEN: usize = 16;
/// `struct inet_diag_req_v2`: family, protocol, ext, pad, states, sockid.
const REQ_V2_LEN: usize = 8 + SOCKID_LEN;
/// `struct inet_diag_sockid`: ports, addresses, interface, cookie.
const SOCKID_LEN: usize = 48;
/// `struct inet_diag_msg`: family, state, timer, retrans, sockid, expires,
/// rqueue, wqueue, uid, inode.
const INET_DIAG_MSG_LEN: usize = 4 + SOCKID_LEN + 20;
/// Offsets of `idiag_sport`, `idiag_dport` (network order), `idiag_src`,
/// `idiag_dst` (16 bytes each, IPv4 in the first four) and `idiag_cookie`
/// inside `inet_diag_msg`.
const SPORT_AT: usize = 4;
const DPORT_AT: usize = 6;
const SRC_AT: usize = 4 + 4;
const DST_AT: usize = 4 + 20;
const COOKIE_AT: usize = 4 + 40;
const UID_AT: usize = 4 + SOCKID_LEN + 12;
const INODE_AT: usize = 4 + SOCKID_LEN + 16;

/// `INET_DIAG_INFO`: the attribute carrying `struct tcp_info`.
const INET_DIAG_INFO: u16 = 2;
/// Attribute type bits that are flags, not the type.
const NLA_TYPE_MASK: u16 = !((1 << 15) | (1 << 14));

const TCPI_BYTES_ACKED: usize = offset_of!(libc::tcp_info, tcpi_bytes_acked);
const TCPI_BYTES_RECEIVED: usize = offset_of!(libc::tcp_info, tcpi_bytes_received);

/// TCP states, as numbered by the kernel (`TCP_ESTABLISHED` = 1 …).
pub const TCP_LISTEN: u32 = 10;
const TCP_TIME_WAIT: u32 = 6;
const TCP_NEW_SYN_RECV: u32 = 12;

/// Every state except the three that can carry no byte counters: listening
/// sockets move no data, and TIME_WAIT / NEW_SYN_RECV entries are kernel
/// mini-sockets without a `tcp_info` (a busy server has thousands of them).
pub const STATES_WITH_COUNTERS: u32 =
    !((1 << TCP_LISTEN) | (1 << TCP_TIME_WAIT) | (1 << TCP_NEW_SYN_RECV));

/// The two byte counters of one TCP socket (`tcpi_bytes_received`,
/// `tcpi_bytes_acked`): payload bytes, since the socket was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpBytes {
    pub received: u64,
    pub acked: u64,
}

/// One socket from a dump or a destroy notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SockRecord {
    pub family: u8,
    pub state: u8,
    /// The kernel's socket cookie: unique for the life of the socket, and
    /// still there after the process closed it (unlike the inode).
    pub cookie: u64,
    /// Socket inode (`socket:[N]` in `/proc/PID/fd`); 0 once no file refers
    /// to the socket.
    pub inode: u64,
    pub uid: u32,
    /// Both ends are on this machine: loopback addresses (127/8, ::1, and
    /// 127/8 mapped into IPv6) or the same address at both ends.
    pub local: bool,
    /// The local port (a listening socket's: the port it serves).
    pub local_port: u16,
    /// The remote end; `None` when there is none (listening, unconnected).
    pub remote: Option<std::net::SocketAddr>,
    /// None when the kernel sent no `tcp_info`, or one too old to hold the
    /// byte counters (before Linux 4.1).
    pub bytes: Option<TcpBytes>,
}

/// Whether a connection between `src` and `dst` (`idiag_src`, `idiag_dst`
/// of a socket of `family`) never leaves this machine.
pub fn is_local(family: u8, src: [u8; 16], dst: [u8; 16]) -> bool {
    use std::net::{Ipv4Addr, Ipv6Addr};
    let loopback = |a: [u8; 16]| -> bool {
        if family == libc::AF_INET as u8 {
            return Ipv4Addr::new(a[0], a[1], a[2], a[3]).is_loopback();
        }
        let v6 = Ipv6Addr::from(a);
        v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
    };
    let width = if family == libc::AF_INET as u8 { 4 } else { 16 };
    let same = src[..width] == dst[..width] && src[..width].iter().any(|&b| b != 0);
    same || (loopback(src) && loopback(dst))
}

/// An address and port as sock_diag gives them; `None` for the unspecified
/// address or port 0 (no remote end).
pub fn end_of(family: u8, addr: [u8; 16], port: u16) -> Option<std::net::SocketAddr> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let ip = if family == libc::AF_INET as u8 {
        IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(addr))
    };
    (port != 0 && !ip.is_unspecified()).then_some(std::net::SocketAddr::new(ip, port))
}

/// One decoded netlink message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Sock(SockRecord),
    /// End of a dump.
    Done,
    /// The kernel refused the request (`errno`, positive); 0 is an ack.
    Error(i32),
    /// Any other type, ignored.
    Other(u16),
}

/// A decoded message with the header fields needed to match it to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub seq: u32,
    pub message: Message,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("netlink message header at byte {at} is cut short ({have} of {NLMSG_HDRLEN} bytes)")]
    ShortHeader { at: usize, have: usize },
    #[error("netlink message at byte {at} claims {len} bytes, but {have} remain")]
    BadLength { at: usize, len: usize, have: usize },
    #[error("{what} is cut short ({have} of {need} bytes)")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    #[error("attribute at byte {at} of an inet_diag message has a bad length {len}")]
    BadAttribute { at: usize, len: usize },
}

/// A dump request for every TCP socket of `family` (AF_INET or AF_INET6)
/// in [`STATES_WITH_COUNTERS`], asking for `tcp_info`.
pub fn tcp_dump_request(family: u8, seq: u32) -> Vec<u8> {
    dump_request(
        family,
        libc::IPPROTO_TCP as u8,
        STATES_WITH_COUNTERS,
        true,
        seq,
    )
}

/// A dump request for every listening TCP socket of `family`: their local
/// ports, cookies and inodes.
pub fn tcp_listeners_request(family: u8, seq: u32) -> Vec<u8> {
    dump_request(family, libc::IPPROTO_TCP as u8, 1 << TCP_LISTEN, false, seq)
}

/// A dump request for every UDP socket of `family`: their cookies and
/// inodes (UDP sockets carry no byte counters here).
pub fn udp_dump_request(family: u8, seq: u32) -> Vec<u8> {
    dump_request(family, libc::IPPROTO_UDP as u8, u32::MAX, false, seq)
}

fn dump_request(family: u8, protocol: u8, states: u32, tcp_info: bool, seq: u32) -> Vec<u8> {
    let len = NLMSG_HDRLEN + REQ_V2_LEN;
    let mut buf = Vec::with_capacity(len);
    buf.extend_from_slice(&(len as u32).to_ne_bytes());
    buf.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    buf.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.push(family);
    buf.push(protocol);
    // idiag_ext is a bit set of (attribute - 1).
    buf.push(if tcp_info {
        1 << (INET_DIAG_INFO - 1)
    } else {
        0
    });
    buf.push(0);
    buf.extend_from_slice(&states.to_ne_bytes());
    buf.resize(len, 0);
    buf
}

/// Decodes every netlink message in one received datagram.
pub fn decode(buf: &[u8]) -> Result<Vec<Envelope>, DecodeError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        let rest = &buf[at..];
        if rest.len() < NLMSG_HDRLEN {
            return Err(DecodeError::ShortHeader {
                at,
                have: rest.len(),
            });
        }
        let len = u32_at(rest, 0) as usize;
        let kind = u16_at(rest, 4);
        let seq = u32_at(rest, 8);
        if len < NLMSG_HDRLEN || len > rest.len() {
            return Err(DecodeError::BadLength {
                at,
                len,
                have: rest.len(),
            });
        }
        let payload = &rest[NLMSG_HDRLEN..len];
        let message = match kind {
            NLMSG_DONE => Message::Done,
            NLMSG_ERROR => {
                need(payload, 4, "netlink error message")?;
                Message::Error(i32::from_ne_bytes(array_at(payload, 0)).saturating_neg())
            }
            SOCK_DIAG_BY_FAMILY => Message::Sock(decode_inet_diag(payload)?),
            other => Message::Other(other),
        };
        out.push(Envelope { seq, message });
        // Messages are 4-byte aligned; the last one may end unpadded.
        at = at.saturating_add(align4(len)).min(buf.len());
    }
    Ok(out)
}

/// Decodes an `inet_diag_msg` and its attributes.
fn decode_inet_diag(payload: &[u8]) -> Result<SockRecord, DecodeError> {
    need(payload, INET_DIAG_MSG_LEN, "inet_diag message")?;
    let cookie =
        u64::from(u32_at(payload, COOKIE_AT)) | (u64::from(u32_at(payload, COOKIE_AT + 4)) << 32);
    let family = payload[0];
    let mut record = SockRecord {
        family,
        state: payload[1],
        cookie,
        inode: u64::from(u32_at(payload, INODE_AT)),
        uid: u32_at(payload, UID_AT),
        local: is_local(family, array_at(payload, SRC_AT), array_at(payload, DST_AT)),
        local_port: u16::from_be_bytes(array_at(payload, SPORT_AT)),
        remote: end_of(
            family,
            array_at(payload, DST_AT),
            u16::from_be_bytes(array_at(payload, DPORT_AT)),
        ),
        bytes: None,
    };
    let mut at = INET_DIAG_MSG_LEN;
    while at < payload.len() {
        let rest = &payload[at..];
        if rest.len() < 4 {
            return Err(DecodeError::BadAttribute {
                at,
                len: rest.len(),
            });
        }
        let len = usize::from(u16_at(rest, 0));
        if len < 4 || len > rest.len() {
            return Err(DecodeError::BadAttribute { at, len });
        }
        if u16_at(rest, 2) & NLA_TYPE_MASK == INET_DIAG_INFO {
            record.bytes = tcp_bytes(&rest[4..len]);
        }
        at = at.saturating_add(align4(len));
    }
    Ok(record)
}

/// The byte counters of a `struct tcp_info`, if it is recent enough to have
/// them (the kernel sends the size it knows; older ones are shorter).
fn tcp_bytes(info: &[u8]) -> Option<TcpBytes> {
    if info.len() < TCPI_BYTES_RECEIVED + 8 {
        return None;
    }
    Some(TcpBytes {
        received: u64::from_ne_bytes(array_at(info, TCPI_BYTES_RECEIVED)),
        acked: u64::from_ne_bytes(array_at(info, TCPI_BYTES_ACKED)),
    })
}

fn need(buf: &[u8], n: usize, what: &'static str) -> Result<(), DecodeError> {
    if buf.len() < n {
        Err(DecodeError::Truncated {
            what,
            need: n,
            have: buf.len(),
        })
    } else {
        Ok(())
    }
}

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// `N` bytes at `at`; callers have checked the length, and a short slice
/// yields zeros rather than a panic.
fn array_at<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    let mut a = [0u8; N];
    if let Some(s) = buf.get(at..at.saturating_add(N)) {
        a.copy_from_slice(s);
    }
    a
}

fn u16_at(buf: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes(array_at(buf, at))
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(array_at(buf, at))
}

/// Hand-built kernel messages, shared with the ledger and poller tests.
#[cfg(test)]
pub(crate) mod build {
    use super::*;

    /// A `SOCK_DIAG_BY_FAMILY` message as the kernel sends it, with a
    /// `tcp_info` of `info_len` bytes when `bytes` is given.
    pub fn sock_message(seq: u32, rec: &SockRecord, info_len: usize) -> Vec<u8> {
        let mut payload = vec![0u8; INET_DIAG_MSG_LEN];
        payload[0] = rec.family;
        payload[1] = rec.state;
        payload[COOKIE_AT..COOKIE_AT + 4].copy_from_slice(&(rec.cookie as u32).to_ne_bytes());
        payload[COOKIE_AT + 4..COOKIE_AT + 8]
            .copy_from_slice(&((rec.cookie >> 32) as u32).to_ne_bytes());
        payload[UID_AT..UID_AT + 4].copy_from_slice(&rec.uid.to_ne_bytes());
        // Local: 127.0.0.1 (or ::1) at both ends; else two benchmarking-range peers.
        let (src, dst): ([u8; 16], [u8; 16]) = match (rec.family == libc::AF_INET as u8, rec.local)
        {
            (true, true) => (v4([127, 0, 0, 1]), v4([127, 0, 0, 1])),
            (true, false) => (v4([198, 18, 0, 1]), v4([198, 18, 0, 2])),
            (false, true) => (
                std::net::Ipv6Addr::LOCALHOST.octets(),
                std::net::Ipv6Addr::LOCALHOST.octets(),
            ),
            (false, false) => (
                std::net::Ipv4Addr::new(198, 18, 0, 1)
                    .to_ipv6_mapped()
                    .octets(),
                std::net::Ipv4Addr::new(198, 18, 0, 2)
                    .to_ipv6_mapped()
                    .octets(),
            ),
        };
        payload[SPORT_AT..SPORT_AT + 2].copy_from_slice(&rec.local_port.to_be_bytes());
        let dport = rec.remote.map_or(0, |r| r.port());
        payload[DPORT_AT..DPORT_AT + 2].copy_from_slice(&dport.to_be_bytes());
        payload[SRC_AT..SRC_AT + 16].copy_from_slice(&src);
        payload[DST_AT..DST_AT + 16].copy_from_slice(&dst);
        payload[INODE_AT..INODE_AT + 4].copy_from_slice(&(rec.inode as u32).to_ne_bytes());
        // An unrelated attribute first (INET_DIAG_SHUTDOWN, 1 byte + padding).
        payload.extend_from_slice(&5u16.to_ne_bytes());
        payload.extend_from_slice(&8u16.to_ne_bytes());
        payload.extend_from_slice(&[0, 0, 0, 0]);
        if let Some(b) = rec.bytes {
            let mut info = vec![0xAAu8; info_len];
            if info_len >= TCPI_BYTES_RECEIVED + 8 {
                info[TCPI_BYTES_ACKED..TCPI_BYTES_ACKED + 8]
                    .copy_from_slice(&b.acked.to_ne_bytes());
                info[TCPI_BYTES_RECEIVED..TCPI_BYTES_RECEIVED + 8]
                    .copy_from_slice(&b.received.to_ne_bytes());
            }
            payload.extend_from_slice(&((4 + info_len) as u16).to_ne_bytes());
            payload.extend_from_slice(&INET_DIAG_INFO.to_ne_bytes());
            payload.extend_from_slice(&info);
            payload.resize(align4(payload.len()), 0);
        }
        message(SOCK_DIAG_BY_FAMILY, seq, &payload)
    }

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..4].copy_from_slice(&a);
        out
    }

    pub fn message(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let len = NLMSG_HDRLEN + payload.len();
        let mut buf = Vec::with_capacity(align4(len));
        buf.extend_from_slice(&(len as u32).to_ne_bytes());
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&2u16.to_ne_bytes()); // NLM_F_MULTI
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(payload);
        buf.resize(align4(len), 0);
        buf
    }

    pub fn done(seq: u32) -> Vec<u8> {
        message(NLMSG_DONE, seq, &0i32.to_ne_bytes())
    }

    pub fn error(seq: u32, errno: i32) -> Vec<u8> {
        let mut payload = (-errno).to_ne_bytes().to_vec();
        payload.extend_from_slice(&[0u8; NLMSG_HDRLEN]);
        message(NLMSG_ERROR, seq, &payload)
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;

    const TCP_INFO_6_X: usize = 248;

    fn rec(cookie: u64, inode: u64, bytes: Option<(u64, u64)>) -> SockRecord {
        SockRecord {
            family: libc::AF_INET6 as u8,
            state: 1,
            cookie,
            inode,
            uid: 1000,
            local: false,
            local_port: 0,
            remote: None,
            bytes: bytes.map(|(received, acked)| TcpBytes { received, acked }),
        }
    }

    #[test]
    fn offsets_match_the_kernel_layout() {
        // linux/tcp.h: the counters follow pacing_rate and max_pacing_rate.
        assert_eq!(TCPI_BYTES_ACKED, 120);
        assert_eq!(TCPI_BYTES_RECEIVED, 128);
        assert_eq!(COOKIE_AT, 44);
        assert_eq!(INODE_AT, 68);
        assert_eq!(INET_DIAG_MSG_LEN, 72);
    }

    #[test]
    fn request_is_a_v2_tcp_dump_asking_for_tcp_info() {
        let req = tcp_dump_request(libc::AF_INET as u8, 7);
        assert_eq!(req.len(), 72);
        assert_eq!(u32_at(&req, 0), 72);
        assert_eq!(u16_at(&req, 4), SOCK_DIAG_BY_FAMILY);
        assert_eq!(u16_at(&req, 6), 0x301);
        assert_eq!(u32_at(&req, 8), 7);
        assert_eq!(req[16], libc::AF_INET as u8);
        assert_eq!(req[17], 6);
        assert_eq!(req[18], 0b10);
        let states = u32_at(&req, 20);
        assert_eq!(states & (1 << 1), 1 << 1, "ESTABLISHED is asked for");
        assert_eq!(states & (1 << 6), 0, "TIME_WAIT has no counters");
        assert!(req[24..].iter().all(|b| *b == 0), "no socket filter");
    }

    #[test]
    fn decodes_a_dump_datagram() {
        let mut a = rec(0x1_0000_0002, 4711, Some((5_000_000, 1234)));
        // The ports are in network order; the remote end is v4-mapped.
        a.local_port = 51_000;
        a.remote = Some("[::ffff:198.18.0.2]:443".parse().unwrap());
        let b = rec(9, 0, None);
        let mut buf = sock_message(3, &a, TCP_INFO_6_X);
        buf.extend(sock_message(3, &b, 0));
        buf.extend(done(3));
        let got = decode(&buf).unwrap();
        assert_eq!(
            got,
            vec![
                Envelope {
                    seq: 3,
                    message: Message::Sock(a)
                },
                Envelope {
                    seq: 3,
                    message: Message::Sock(b)
                },
                Envelope {
                    seq: 3,
                    message: Message::Done
                },
            ]
        );
    }

    #[test]
    fn no_remote_end_is_none() {
        let any = [0u8; 16];
        assert_eq!(end_of(libc::AF_INET as u8, any, 443), None);
        let mut v4 = [0u8; 16];
        v4[..4].copy_from_slice(&[192, 0, 2, 7]);
        assert_eq!(end_of(libc::AF_INET as u8, v4, 0), None);
        assert_eq!(
            end_of(libc::AF_INET as u8, v4, 53),
            Some("192.0.2.7:53".parse().unwrap())
        );
    }

    #[test]
    fn old_kernel_tcp_info_has_no_counters() {
        let a = rec(1, 2, Some((10, 20)));
        let got = decode(&sock_message(1, &a, 104)).unwrap();
        let Message::Sock(s) = &got[0].message else {
            panic!("not a socket: {got:?}")
        };
        assert_eq!(s.bytes, None);
        assert_eq!(s.cookie, 1);
    }

    #[test]
    fn error_messages_carry_the_errno() {
        let got = decode(&error(4, libc::EPERM)).unwrap();
        assert_eq!(got[0].message, Message::Error(libc::EPERM));
        assert_eq!(got[0].seq, 4);
    }

    #[test]
    fn truncated_and_garbage_input_is_an_error_never_a_panic() {
        let good = sock_message(1, &rec(1, 2, Some((3, 4))), TCP_INFO_6_X);
        // Every prefix of a good message either decodes or is an error.
        for cut in 1..good.len() {
            let r = decode(&good[..cut]);
            assert!(r.is_err(), "a message cut at {cut} must not decode");
        }
        // A header claiming more than there is.
        let mut long = good.clone();
        long[0..4].copy_from_slice(&(u32::MAX).to_ne_bytes());
        assert!(matches!(decode(&long), Err(DecodeError::BadLength { .. })));
        // A header claiming less than a header.
        let mut tiny = good.clone();
        tiny[0..4].copy_from_slice(&3u32.to_ne_bytes());
        assert!(decode(&tiny).is_err());
        // An attribute with length 0 or past the end.
        let mut bad_attr = good.clone();
        let attr_at = NLMSG_HDRLEN + INET_DIAG_MSG_LEN;
        bad_attr[attr_at..attr_at + 2].copy_from_slice(&0u16.to_ne_bytes());
        assert!(matches!(
            decode(&bad_attr),
            Err(DecodeError::BadAttribute { .. })
        ));
        bad_attr[attr_at..attr_at + 2].copy_from_slice(&u16::MAX.to_ne_bytes());
        assert!(decode(&bad_attr).is_err());
        // A short inet_diag payload.
        assert!(matches!(
            decode(&message(SOCK_DIAG_BY_FAMILY, 1, &[0u8; 40])),
            Err(DecodeError::Truncated { .. })
        ));
        // Pseudo-random garbage of many lengths: no panic.
        let mut x: u32 = 0x9E37_79B9;
        for len in 0..600 {
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = decode(&junk);
        }
        assert_eq!(decode(&[]).unwrap(), vec![]);
    }

    #[test]
    fn unknown_message_types_are_passed_over() {
        let mut buf = message(0x42, 1, &[1, 2, 3]);
        buf.extend(done(1));
        let got = decode(&buf).unwrap();
        assert_eq!(got[0].message, Message::Other(0x42));
        assert_eq!(got[1].message, Message::Done);
    }
}
