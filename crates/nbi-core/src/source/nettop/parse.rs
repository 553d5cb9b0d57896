//! nettop's CSV log output (`nettop -L …`), parsed one line at a time.
//!
//! nettop prints a header line before every sample, then one row per process
//! (`name.pid`) and, without `-P`, one row per socket. Every line ends with a
//! comma. Column positions are taken from each header, so `-J`/`-k` choices
//! and nettop versions that move `bytes_in`/`bytes_out` around still parse.
//!
//! nettop does not quote: a process name may hold commas (and dots, digits,
//! spaces, a trailing space). A row with more fields than its header has
//! them in its name, so the columns after the name are read from the right
//! and the pid is what follows the name's last dot.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::NaiveTime;

use crate::tick::{Destinations, Flow, NetworkFlows, NetworkId};

/// How to read a stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// In `-d` mode nettop's first sample holds totals since each process
    /// started, not a delta: drop it.
    pub drop_first_block: bool,
}

/// One process in one sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRow {
    /// nettop's name (cut to 15 characters by nettop), pid removed, trailing
    /// spaces trimmed.
    pub name: String,
    pub pid: u32,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// The socket rows nettop printed under this process (none with `-P`).
    pub sockets: Vec<SocketRow>,
}

impl ProcessRow {
    /// Bytes per remote address over this process's sockets; sockets
    /// with no remote end (`*:*`) are left out, so this sums to at most
    /// what the sockets moved.
    pub fn destinations(&self) -> Destinations {
        let mut to = Destinations::new();
        for s in &self.sockets {
            if let Some(addr) = s.remote {
                to.entry(addr)
                    .or_default()
                    .add(Flow::new(s.bytes_in, s.bytes_out));
            }
        }
        to.retain(|_, f| !f.is_zero());
        to
    }

    /// Bytes per network over this process's sockets, each socket's
    /// network being `network_of` its interface; sockets on loopback or an
    /// interface of no known network are left out.
    pub fn networks(&self, mut network_of: impl FnMut(&str) -> Option<NetworkId>) -> NetworkFlows {
        let mut net = NetworkFlows::new();
        for s in &self.sockets {
            if let Some(id) = network_of(&s.interface) {
                net.entry(id)
                    .or_default()
                    .add(Flow::new(s.bytes_in, s.bytes_out));
            }
        }
        net.retain(|_, f| !f.is_zero());
        net
    }
}

/// One socket row (`tcp4 10.0.0.5:51234<->17.57.144.84:443`), printed by
/// nettop without `-P` under its process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketRow {
    /// The remote address; `None` for an unconnected socket (`*:*`, `*.*`)
    /// or a remote nettop printed in a form not understood.
    pub remote: Option<IpAddr>,
    /// The interface column (`en0`, `pdp_ip0`, `utun3`).
    pub interface: String,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// One sample: the process rows between two header lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Block {
    /// The time column of the block's first row, when the output has one
    /// and it reads as a time of day.
    pub time: Option<NaiveTime>,
    pub rows: Vec<ProcessRow>,
}

impl Block {
    /// Bytes in and out per name, summed over pids.
    pub fn totals(&self) -> BTreeMap<&str, (u64, u64)> {
        let mut out: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for r in &self.rows {
            let e = out.entry(r.name.as_str()).or_default();
            e.0 = e.0.saturating_add(r.bytes_in);
            e.1 = e.1.saturating_add(r.bytes_out);
        }
        out
    }
}

/// Why a line was rejected. The parser stays usable after any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("a data row came before any usable header line: {line:?}")]
    RowBeforeHeader { line: String },
    #[error("the header line has no {column} column: {line:?}")]
    HeaderMissingColumn { column: &'static str, line: String },
    #[error("the row has {found} fields but the header needs at least {needed}: {line:?}")]
    TooFewFields {
        needed: usize,
        found: usize,
        line: String,
    },
    #[error("the process field {field:?} does not end in \".pid\": {line:?}")]
    MissingPid { field: String, line: String },
    #[error("the process field {field:?} has no name before its pid: {line:?}")]
    EmptyName { field: String, line: String },
    #[error("the {column} value {value:?} is not a whole number of bytes: {line:?}")]
    BadNumber {
        column: &'static str,
        value: String,
        line: String,
    },
    #[error("the line holds a carriage return, which nettop never prints: {line:?}")]
    CarriageReturn { line: String },
    #[error("a socket row came before any process row of its sample: {line:?}")]
    SocketBeforeProcess { line: String },
}

/// Where the columns of interest sit, from the last header.
#[derive(Debug, Clone, Copy)]
struct Layout {
    time: Option<usize>,
    name: usize,
    bytes_in: usize,
    bytes_out: usize,
    interface: Option<usize>,
    /// Highest index above; a row needs at least `last + 1` fields.
    last: usize,
    /// Fields of the header, its trailing empty one included: a row with
    /// more has commas in its name.
    fields: usize,
}

impl Layout {
    fn from_header(line: &str) -> Result<Layout, ParseError> {
        let mut time = None;
        let mut name = None;
        let mut bytes_in = None;
        let mut bytes_out = None;
        let mut interface = None;
        let fields = line.split(',');
        // The trailing comma yields one empty field that is not a column.
        let count = fields.clone().count();
        for (i, f) in fields.enumerate() {
            match f.trim() {
                "time" => time = time.or(Some(i)),
                "bytes_in" => bytes_in = bytes_in.or(Some(i)),
                "bytes_out" => bytes_out = bytes_out.or(Some(i)),
                "interface" => interface = interface.or(Some(i)),
                // The process column is the one nettop leaves unnamed.
                "" if i + 1 < count => name = name.or(Some(i)),
                _ => {}
            }
        }
        let missing = |column| ParseError::HeaderMissingColumn {
            column,
            line: excerpt(line),
        };
        let name = name.ok_or_else(|| missing("process name (empty-named)"))?;
        let bytes_in = bytes_in.ok_or_else(|| missing("bytes_in"))?;
        let bytes_out = bytes_out.ok_or_else(|| missing("bytes_out"))?;
        let last = [Some(name), Some(bytes_in), Some(bytes_out), time, interface]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(0);
        Ok(Layout {
            time,
            name,
            bytes_in,
            bytes_out,
            interface,
            last,
            fields: count,
        })
    }
}

/// A streaming parser: feed it lines as they arrive.
#[derive(Debug)]
pub struct NettopParser {
    opts: ParseOptions,
    layout: Option<Layout>,
    /// Headers seen so far: the block in progress is number `block_no`.
    block_no: u64,
    current: Block,
}

impl NettopParser {
    pub fn new(opts: ParseOptions) -> Self {
        NettopParser {
            opts,
            layout: None,
            block_no: 0,
            current: Block::default(),
        }
    }

    /// Feeds one line (without its newline). Returns the previous block when
    /// this line is a header that closes it. Empty lines and socket rows are
    /// skipped; anything else that is not nettop output is an error. A bad
    /// row leaves the parser as it was; a header it cannot read makes it
    /// reject rows until the next good header.
    pub fn feed_line(&mut self, line: &str) -> Result<Option<Block>, ParseError> {
        // A CRLF file is still readable; a bare CR is not nettop's.
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.as_bytes().contains(&b'\r') {
            return Err(ParseError::CarriageReturn {
                line: excerpt(line),
            });
        }
        let bytes = line.as_bytes();
        match bytes.first() {
            None => return Ok(None),
            Some(b) if b.is_ascii_whitespace() && line.trim().is_empty() => return Ok(None),
            _ => {}
        }
        // With `time` in the output the header starts with it; without, the
        // header starts with the unnamed process column.
        let time_first = bytes.starts_with(b"time") && matches!(bytes.get(4), None | Some(b','));
        if time_first || (bytes[0] == b',' && line.contains("bytes_")) {
            return self.header(line);
        }
        let Some(layout) = self.layout else {
            return Err(ParseError::RowBeforeHeader {
                line: excerpt(line),
            });
        };
        match parse_row(&layout, line)? {
            Row::Process(row, time) => {
                if self.current.rows.is_empty() {
                    self.current.time = time.and_then(parse_time);
                }
                self.current.rows.push(row);
            }
            Row::Socket(socket) => match self.current.rows.last_mut() {
                Some(process) => process.sockets.push(socket),
                None => {
                    return Err(ParseError::SocketBeforeProcess {
                        line: excerpt(line),
                    })
                }
            },
        }
        Ok(None)
    }

    /// Which sample the rows being read belong to: the headers seen so far.
    pub fn sample_no(&self) -> u64 {
        self.block_no
    }

    /// End of input or an idle gap: returns the block in progress if it has
    /// rows (and is not the dropped first block). Rows that arrive later
    /// without a new header still belong to that sample (a dropped first
    /// sample stays dropped) and come out as another block.
    pub fn finish(&mut self) -> Option<Block> {
        self.close()
    }

    fn header(&mut self, line: &str) -> Result<Option<Block>, ParseError> {
        match Layout::from_header(line) {
            Ok(layout) => {
                let closed = self.close();
                self.block_no += 1;
                self.layout = Some(layout);
                Ok(closed)
            }
            Err(e) => {
                // Rows after a header we cannot read would be misread with
                // the old layout, so reject them until a good header.
                self.layout = None;
                Err(e)
            }
        }
    }

    fn close(&mut self) -> Option<Block> {
        let capacity = self.current.rows.len();
        let block = std::mem::replace(
            &mut self.current,
            Block {
                time: None,
                rows: Vec::with_capacity(capacity),
            },
        );
        if block.rows.is_empty() || (self.opts.drop_first_block && self.block_no <= 1) {
            return None;
        }
        Some(block)
    }
}

/// Parses a whole text: every block, and every line that was rejected.
pub fn parse_str(text: &str, opts: ParseOptions) -> (Vec<Block>, Vec<ParseError>) {
    let mut parser = NettopParser::new(opts);
    let mut blocks = Vec::new();
    let mut errors = Vec::new();
    for line in lines(text) {
        match parser.feed_line(line) {
            Ok(Some(b)) => blocks.push(b),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    blocks.extend(parser.finish());
    (blocks, errors)
}

/// The lines of `text` without their `\n`, like `split('\n')` but quicker
/// on short lines.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let t = rest?;
        match t.as_bytes().iter().position(|&b| b == b'\n') {
            // '\n' is ASCII, so both sides are char boundaries.
            Some(i) => {
                rest = Some(&t[i + 1..]);
                Some(&t[..i])
            }
            None => {
                rest = None;
                Some(t)
            }
        }
    })
}

/// A data row: a process with its time field, or a socket.
enum Row<'a> {
    Process(ProcessRow, Option<&'a str>),
    Socket(SocketRow),
}

fn parse_row<'a>(layout: &Layout, line: &'a str) -> Result<Row<'a>, ParseError> {
    let mut name = None;
    let mut bytes_in = None;
    let mut bytes_out = None;
    let mut interface = None;
    let mut time = None;
    let bytes = line.as_bytes();
    // Fields beyond the header's are commas inside the process name.
    let commas = bytes.iter().filter(|&&b| b == b',').count();
    let extra = (commas + 1).saturating_sub(layout.fields);
    let mut found = 0;
    let mut column = 0;
    let mut start = 0;
    // A plain byte scan: fields are short, so this beats a searcher per
    // field, and it stops at the last column of interest.
    while column <= layout.last && start <= bytes.len() {
        let mut end = bytes[start..]
            .iter()
            .position(|&b| b == b',')
            .map_or(bytes.len(), |p| start + p);
        if column == layout.name {
            for _ in 0..extra {
                end = bytes[end + 1..]
                    .iter()
                    .position(|&b| b == b',')
                    .map_or(bytes.len(), |p| end + 1 + p);
            }
        }
        // Commas are ASCII, so both ends are char boundaries.
        let f = &line[start..end];
        found = column + 1;
        if column == layout.name {
            name = Some(f);
        }
        if column == layout.bytes_in {
            bytes_in = Some(f);
        }
        if column == layout.bytes_out {
            bytes_out = Some(f);
        }
        if Some(column) == layout.interface {
            interface = Some(f);
        }
        if Some(column) == layout.time {
            time = Some(f);
        }
        column += 1;
        start = end + 1;
    }
    let (Some(field), Some(bytes_in), Some(bytes_out)) = (name, bytes_in, bytes_out) else {
        return Err(ParseError::TooFewFields {
            needed: layout.last + 1,
            found,
            line: excerpt(line),
        });
    };
    let number = |column, value: &str| {
        parse_digits(value).ok_or_else(|| ParseError::BadNumber {
            column,
            value: value.chars().take(40).collect(),
            line: excerpt(line),
        })
    };
    // Without -P nettop lists each socket under its process, with the
    // interface filled in and "proto local<->remote" as the name: its
    // bytes are already in the process row, which they break down.
    if interface.is_some_and(|s| !s.is_empty()) || is_socket(field) {
        return Ok(Row::Socket(SocketRow {
            remote: remote_of(field),
            interface: interface.unwrap_or("").trim().to_string(),
            bytes_in: number("bytes_in", bytes_in)?,
            bytes_out: number("bytes_out", bytes_out)?,
        }));
    }
    let dot = field.as_bytes().iter().rposition(|&b| b == b'.');
    // The dot is ASCII, so both sides are char boundaries.
    let Some((name, pid)) = dot.map(|d| (&field[..d], &field[d + 1..])) else {
        return Err(ParseError::MissingPid {
            field: field.to_string(),
            line: excerpt(line),
        });
    };
    let Some(pid) = parse_digits(pid).and_then(|p| u32::try_from(p).ok()) else {
        return Err(ParseError::MissingPid {
            field: field.to_string(),
            line: excerpt(line),
        });
    };
    let name = name.trim_end();
    if name.is_empty() {
        return Err(ParseError::EmptyName {
            field: field.to_string(),
            line: excerpt(line),
        });
    }
    let bytes_in = number("bytes_in", bytes_in)?;
    let bytes_out = number("bytes_out", bytes_out)?;
    Ok(Row::Process(
        ProcessRow {
            name: name.to_string(),
            pid,
            bytes_in,
            bytes_out,
            sockets: Vec::new(),
        },
        time,
    ))
}

/// The remote address of a socket row's name, `proto local<->remote`:
/// `a.b.c.d:port` for IPv4 (`tcp4`, `udp4`), `addr.port` for IPv6, where
/// a link-local address may carry its scope (`fe80::1%en0.443`). `None`
/// for an unconnected socket (`*:*`, `*.*`) or a form not understood.
pub fn remote_of(field: &str) -> Option<IpAddr> {
    let (_, remote) = field.split_once("<->")?;
    let remote = remote.trim();
    let host = match remote.rsplit_once([':', '.']) {
        // An IPv4 socket's port follows a colon, an IPv6 one's a dot; an
        // IPv6 address without a port would lose its last group here, so
        // try the whole text first.
        _ if remote.parse::<IpAddr>().is_ok() => remote,
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => return None,
    };
    let host = host.split_once('%').map_or(host, |(h, _scope)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    // An IPv4 peer of a dual-stack socket is that IPv4 address.
    let addr = host.parse::<IpAddr>().ok()?.to_canonical();
    // nettop prints an unconnected end as `*`; an all-zero one is no
    // destination either.
    (!addr.is_unspecified()).then_some(addr)
}

fn is_socket(field: &str) -> bool {
    let b = field.as_bytes();
    b.contains(&b'<') && field.contains("<->")
}

/// Decimal digits only (no sign, no spaces, no units), without overflow.
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s.as_bytes() {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(n)
}

fn parse_time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M:%S%.f").ok()
}

/// The start of a line, for error messages (garbage can be long).
fn excerpt(line: &str) -> String {
    const MAX: usize = 160;
    if line.len() <= MAX {
        return line.to_string();
    }
    let mut end = MAX;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

#[cfg(test)]
mod tests;
