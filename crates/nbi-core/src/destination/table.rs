//! The address table: IP ranges to autonomous system, organisation and country.
//!
//! A remote address is named by the network that announces it (its
//! autonomous system, "AS15169"), that network's organisation ("Google
//! LLC") and the country its addresses are registered in ("US"). The table
//! works offline: one is shipped inside the binary
//! ([`AddressTable::shipped`], built by `scripts/update-address-table` from
//! the ip-location-db packages; `crates/nbi-core/data/ADDRESS-TABLE.md`
//! says which version, from when, and under which licences), and a user can
//! point nbi at a newer file ([`AddressTable::from_path`]).
//!
//! Lookups are a binary search over sorted, non-overlapping ranges:
//! O(log n), and no allocation (the organisation's name is a shared
//! [`Arc`]). Addresses of the local network ([`is_local`]) are answered before
//! the table is consulted.
//!
//! # File formats read by [`AddressTable::from_path`]
//!
//! * **CSV** (UTF-8 text, one range per line, RFC 4180 quoting), as in the
//!   upstream `asn-ipv4.csv` / `asn-ipv6.csv` files:
//!   `start,end,AS number,organisation` or, with a country,
//!   `start,end,AS number,organisation,country`. `start` and `end` are IP
//!   addresses of one family, inclusive (IPv4 and IPv6 rows may share a
//!   file); the AS number is decimal, optionally prefixed `AS`; an empty
//!   organisation, or one that only repeats the number (`AS64512`), means
//!   none is known; the country is ISO 3166-1 alpha-2 or empty. Blank lines,
//!   lines starting with `#` and a header line starting `ip_range_start` are
//!   skipped, and so is a UTF-8 byte order mark. The numeric `-num.csv`
//!   files are not read. A CSV carries no
//!   date: [`AddressTable::date`] is `None`.
//! * **Compact** (what the script writes, and what is shipped): the 8 bytes
//!   `NBIADDR1`, then a zlib stream (RFC 1950) of the body below. Numbers
//!   are unsigned LEB128 varints ("v"); strings are a v length then UTF-8.
//!   ```text
//!   string date (YYYY-MM-DD, or empty)   string source (free text)
//!   v orgs, v bytes, the names joined by '\n' (sorted)
//!   v entries, then entries × v AS number, then entries × v org (index + 1, 0 = none)
//!   v countries, then countries × 2 ASCII bytes
//!   IPv4 ranges, then IPv6 ranges, each: v n, then six columns of n values:
//!     gap shift (byte), gap mantissa (v), span shift (byte), span mantissa (v),
//!     entry index (v), country (byte: index + 1, 0 = none)
//!   ```
//!   A range's start is the previous range's end + 1 (0 for the first)
//!   plus `gap`, its end is `start + span - 1`, and each of `gap` and `span`
//!   is `mantissa << shift` (range sizes are mostly powers of two, so
//!   these stay a byte or two even for IPv6). Ranges are therefore sorted
//!   and disjoint by construction.
//!
//! Where CSV ranges overlap, the one that starts later wins for the
//! addresses it covers (between ranges with the same start, the later line)
//! and the earlier one resumes after it; adjacent ranges with the same AS,
//! organisation and country are merged.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use chrono::NaiveDate;

/// The shipped table, in the compact format (see the module's docs).
const SHIPPED: &[u8] = include_bytes!("../../data/address-table.bin");

/// The first bytes of a compact table file; the last byte is the version.
const MAGIC: &[u8; 8] = b"NBIADDR1";

/// Largest decompressed body accepted from a compact file (bytes). The
/// shipped body is about 6 MB; this only stops a hostile file from
/// inflating without bound.
const MAX_BODY: usize = 512 << 20;

/// The credit the shipped table's licences (CC BY 4.0) ask of anything that
/// shows its results, for an about page or the docs.
pub const ATTRIBUTION: &str =
    "IP address data: ip-location-db (github.com/sapics/ip-location-db), \
built from Route Views (routeviews.org), the Number Resource Organization (nro.net) and \
DB-IP (db-ip.com, IP to ASN Lite), licensed under CC BY 4.0 \
(creativecommons.org/licenses/by/4.0/); converted and merged by nbi.";

/// A country: an ISO 3166-1 alpha-2 code, two upper-case ASCII letters.
/// Displays as the code ("US").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

impl Country {
    /// The country with code `code`: two ASCII letters, either case
    /// ("us" is US). `None` for anything else. Whether the code is assigned
    /// is not checked (user-assigned codes such as "ZZ" are accepted).
    pub fn new(code: &str) -> Option<Country> {
        match code.as_bytes() {
            &[a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Country([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }

    /// The code, two upper-case letters.
    pub fn as_str(&self) -> &str {
        // Always ASCII letters (checked by `new`).
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Country({:?})", self.as_str())
    }
}

/// Where an address is, as far as the table knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The local network, this machine or multicast ([`is_local`]): never
    /// looked up.
    Local,
    /// In a range of the table.
    Known {
        /// The autonomous system announcing the range ("AS15169" is 15169).
        asn: u32,
        /// Its organisation's name as the data gives it ("Google LLC");
        /// `None` when the data names none.
        org: Option<Arc<str>>,
        /// The country the range is registered in; `None` when the data
        /// has no country for it.
        country: Option<Country>,
    },
    /// A public address in no range of the table.
    Unknown,
}

/// Why a table file could not be read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The file does not exist.
    #[error("address table {} does not exist", path.display())]
    Missing { path: PathBuf },
    /// The file exists but could not be read (permissions, a directory, I/O).
    #[error("cannot read address table {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A line of a CSV file is not a range (`line` counts from 1).
    #[error("{}:{line}: {reason}", path.display())]
    Line {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// A compact file is damaged, truncated or of an unknown version, or
    /// the file is in no format the table reads.
    #[error("{}: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// The file holds no ranges (empty, or only comments).
    #[error("address table {} holds no address ranges", path.display())]
    Empty { path: PathBuf },
}

/// An AS number and its organisation, shared by the ranges it announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Entry {
    asn: u32,
    /// Index into `AddressTable::orgs` plus one; 0 when no name is known.
    org: u32,
}

/// No country, in the per-range country column.
const NO_COUNTRY: [u8; 2] = [0, 0];

/// Sorted, disjoint inclusive ranges of one address family (addresses as
/// integers, `u32` for IPv4, `u128` for IPv6), with parallel columns.
#[derive(Debug, Clone, Default)]
struct Ranges<T> {
    starts: Vec<T>,
    ends: Vec<T>,
    /// Index into `AddressTable::entries`.
    entries: Vec<u32>,
    /// ISO code bytes, or [`NO_COUNTRY`].
    countries: Vec<[u8; 2]>,
}

impl<T: Copy + Ord> Ranges<T> {
    /// The index of the range holding `x`.
    fn find(&self, x: T) -> Option<usize> {
        let i = self.starts.partition_point(|&s| s <= x);
        (i > 0 && x <= self.ends[i - 1]).then(|| i - 1)
    }

    fn len(&self) -> usize {
        self.starts.len()
    }
}

/// IP ranges to AS number, organisation and country, for IPv4 and IPv6.
/// Cheap to query from many threads (`&self` only); about 15 MB in memory
/// for the shipped data.
#[derive(Clone)]
pub struct AddressTable {
    v4: Ranges<u32>,
    v6: Ranges<u128>,
    entries: Vec<Entry>,
    /// Interned organisation names.
    orgs: Vec<Arc<str>>,
    date: Option<NaiveDate>,
    source: Option<String>,
}

impl fmt::Debug for AddressTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddressTable")
            .field("ipv4_ranges", &self.v4.len())
            .field("ipv6_ranges", &self.v6.len())
            .field("entries", &self.entries.len())
            .field("orgs", &self.orgs.len())
            .field("date", &self.date)
            .field("source", &self.source)
            .finish()
    }
}

impl AddressTable {
    /// The table shipped in the binary, decoded on the first call (tens of
    /// milliseconds in a release build) and shared afterwards.
    ///
    /// # Panics
    ///
    /// If the shipped file does not decode, which the tests rule out.
    pub fn shipped() -> &'static AddressTable {
        static TABLE: OnceLock<AddressTable> = OnceLock::new();
        TABLE.get_or_init(|| match decode_compact(SHIPPED) {
            Ok(table) => table,
            Err(reason) => panic!("the shipped address table does not decode: {reason}"),
        })
    }

    /// Reads a table from `path`: a CSV or a compact file (see the module's
    /// docs), told apart by the compact file's first bytes.
    ///
    /// # Errors
    ///
    /// [`TableError::Missing`] when there is no such file,
    /// [`TableError::Read`] when it cannot be read, [`TableError::Line`]
    /// naming the first line of a CSV that is not a range,
    /// [`TableError::Corrupt`] for a damaged compact file (or a gzip one),
    /// and [`TableError::Empty`] when the file holds no range.
    pub fn from_path(path: &Path) -> Result<AddressTable, TableError> {
        let bytes = std::fs::read(path).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                TableError::Missing {
                    path: path.to_path_buf(),
                }
            } else {
                TableError::Read {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        let corrupt = |reason: String| TableError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let table = if bytes.starts_with(&MAGIC[..7]) {
            decode_compact(&bytes).map_err(corrupt)?
        } else if bytes.starts_with(&[0x1f, 0x8b]) {
            return Err(corrupt(
                "gzip-compressed: decompress it first (gunzip)".to_string(),
            ));
        } else {
            parse_csv(&bytes).map_err(|(line, reason)| TableError::Line {
                path: path.to_path_buf(),
                line,
                reason,
            })?
        };
        if table.is_empty() {
            return Err(TableError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(table)
    }

    /// Where `ip` is: [`Place::Local`] for [`is_local`] addresses (the
    /// table is not consulted), else the range holding it, else
    /// [`Place::Unknown`]. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`)
    /// is looked up as the IPv4 address. O(log n).
    pub fn lookup(&self, ip: IpAddr) -> Place {
        if is_local(ip) {
            return Place::Local;
        }
        let hit = match canonical(ip) {
            IpAddr::V4(a) => self
                .v4
                .find(u32::from(a))
                .map(|i| (self.v4.entries[i], self.v4.countries[i])),
            IpAddr::V6(a) => self
                .v6
                .find(u128::from(a))
                .map(|i| (self.v6.entries[i], self.v6.countries[i])),
        };
        match hit {
            Some((entry, country)) => {
                let entry = self.entries[entry as usize];
                Place::Known {
                    asn: entry.asn,
                    org: entry
                        .org
                        .checked_sub(1)
                        .map(|o| Arc::clone(&self.orgs[o as usize])),
                    country: (country != NO_COUNTRY).then_some(Country(country)),
                }
            }
            None => Place::Unknown,
        }
    }

    /// When the data was made (the upstream release's date), if the file
    /// says: always for compact files, never for CSV.
    pub fn date(&self) -> Option<NaiveDate> {
        self.date
    }

    /// Where the data came from, as the compact file states it (the
    /// upstream packages and versions); `None` for CSV.
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// The number of ranges, IPv4 and IPv6 together (after merging).
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Whether the table has no range at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `ip`, with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// Whether `ip` belongs to the local network or this machine rather than
/// to someone on the internet: IPv4 private (10/8, 172.16/12,
/// 192.168/16), shared CGNAT (100.64/10), link-local (169.254/16),
/// loopback (127/8), "this network" (0/8), multicast (224/4) and the
/// broadcast address; IPv6 unique-local (fc00::/7), link-local (fe80::/10),
/// loopback (::1), unspecified (::) and multicast (ff00::/8); and the
/// IPv4-mapped forms (`::ffff:10.0.0.1`) of the IPv4 ones.
pub fn is_local(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(a) => is_local_v4(a),
        IpAddr::V6(a) => is_local_v6(a),
    }
}

fn is_local_v4(a: Ipv4Addr) -> bool {
    let [o0, o1, ..] = a.octets();
    o0 == 10
        || o0 == 127
        || o0 == 0
        || (o0 == 172 && (16..32).contains(&o1))
        || (o0 == 192 && o1 == 168)
        || (o0 == 100 && (64..128).contains(&o1))
        || (o0 == 169 && o1 == 254)
        || (224..240).contains(&o0)
        || a == Ipv4Addr::BROADCAST
}

fn is_local_v6(a: Ipv6Addr) -> bool {
    let first = a.segments()[0];
    a.is_loopback()
        || a.is_unspecified()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xff00) == 0xff00
}

// ---------------------------------------------------------------------------
// Building from rows (CSV, tests): interning, overlaps, merging.

/// One row, before overlaps are resolved. Addresses as integers of the
/// row's family.
#[derive(Debug, Clone, Copy)]
struct Row {
    start: u128,
    end: u128,
    entry: u32,
    country: [u8; 2],
}

/// Collects rows, interning organisations and (AS, organisation) entries.
#[derive(Default)]
struct Builder {
    orgs: Vec<Arc<str>>,
    org_ids: HashMap<Arc<str>, u32>,
    entries: Vec<Entry>,
    entry_ids: HashMap<Entry, u32>,
    v4: Vec<Row>,
    v6: Vec<Row>,
}

impl Builder {
    /// Adds the inclusive range `start..=end` (same family, `start <= end`).
    fn push(
        &mut self,
        start: IpAddr,
        end: IpAddr,
        asn: u32,
        org: Option<&str>,
        country: Option<Country>,
    ) {
        let org = match org {
            Some(name) => match self.org_ids.get(name) {
                Some(&id) => id + 1,
                None => {
                    let id = self.orgs.len() as u32;
                    let name: Arc<str> = Arc::from(name);
                    self.orgs.push(Arc::clone(&name));
                    self.org_ids.insert(name, id);
                    id + 1
                }
            },
            None => 0,
        };
        let key = Entry { asn, org };
        let next = self.entries.len() as u32;
        let entry = *self.entry_ids.entry(key).or_insert(next);
        if entry == next {
            self.entries.push(key);
        }
        let country = country.map_or(NO_COUNTRY, |c| c.0);
        match (start, end) {
            (IpAddr::V4(s), IpAddr::V4(e)) => self.v4.push(Row {
                start: u32::from(s).into(),
                end: u32::from(e).into(),
                entry,
                country,
            }),
            (IpAddr::V6(s), IpAddr::V6(e)) => self.v6.push(Row {
                start: s.into(),
                end: e.into(),
                entry,
                country,
            }),
            _ => unreachable!("the caller checks that both ends are of one family"),
        }
    }

    fn finish(self) -> AddressTable {
        let v4 = resolve(self.v4);
        let v6 = resolve(self.v6);
        AddressTable {
            v4: Ranges {
                starts: v4.iter().map(|r| r.start as u32).collect(),
                ends: v4.iter().map(|r| r.end as u32).collect(),
                entries: v4.iter().map(|r| r.entry).collect(),
                countries: v4.iter().map(|r| r.country).collect(),
            },
            v6: Ranges {
                starts: v6.iter().map(|r| r.start).collect(),
                ends: v6.iter().map(|r| r.end).collect(),
                entries: v6.iter().map(|r| r.entry).collect(),
                countries: v6.iter().map(|r| r.country).collect(),
            },
            entries: self.entries,
            orgs: self.orgs,
            date: None,
            source: None,
        }
    }
}

/// Sorted, disjoint, merged ranges from rows that may overlap: where rows
/// overlap the one starting later wins (on equal starts, the later row),
/// and the earlier resumes after it. Adjacent results with the same entry
/// and country are merged.
fn resolve(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by_key(|r| r.start); // stable: equal starts keep row order
    let mut out: Vec<Row> = Vec::with_capacity(rows.len());
    // Open rows, each nested in (or overlapping) the one below; `start` is
    // where the row resumes, `None` once nothing of it is left.
    let mut stack: Vec<(Option<u128>, Row)> = Vec::new();
    let emit = |out: &mut Vec<Row>, from: u128, to: u128, row: &Row| {
        if from > to {
            return;
        }
        if let Some(last) = out.last_mut() {
            if last.end.checked_add(1) == Some(from)
                && last.entry == row.entry
                && last.country == row.country
            {
                last.end = to;
                return;
            }
        }
        out.push(Row {
            start: from,
            end: to,
            ..*row
        });
    };
    let pop = |stack: &mut Vec<(Option<u128>, Row)>, out: &mut Vec<Row>| {
        let Some((resume, row)) = stack.pop() else {
            return;
        };
        if let Some(from) = resume {
            emit(out, from, row.end, &row);
        }
        // The parent resumes after everything this row and the rows above
        // it covered (which may reach past this row's own end).
        let covered = resume.and_then(|r| Some(r.max(row.end.checked_add(1)?)));
        if let Some((parent, _)) = stack.last_mut() {
            *parent = match (covered, *parent) {
                (Some(after), Some(p)) => Some(p.max(after)),
                _ => None,
            };
        }
    };
    for row in rows {
        while stack.last().is_some_and(|(_, top)| top.end < row.start) {
            pop(&mut stack, &mut out);
        }
        if let Some((resume, top)) = stack.last_mut() {
            if let Some(from) = *resume {
                if from < row.start {
                    emit(&mut out, from, row.start - 1, top);
                    *resume = Some(row.start);
                }
            }
        }
        stack.push((Some(row.start), row));
    }
    while !stack.is_empty() {
        pop(&mut stack, &mut out);
    }
    debug_assert!(out.windows(2).all(|w| w[0].end < w[1].start));
    out
}

/// Parses a CSV table (see the module's docs). Errors are (line, reason),
/// lines counted from 1.
fn parse_csv(bytes: &[u8]) -> Result<AddressTable, (usize, String)> {
    let mut builder = Builder::default();
    let mut fields: Vec<String> = Vec::with_capacity(5);
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = std::str::from_utf8(raw).map_err(|_| {
            (
                line_no,
                "not UTF-8 text (is this an address table?)".to_string(),
            )
        })?;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("ip_range_start") {
            continue;
        }
        split_csv_line(line, &mut fields).map_err(|reason| (line_no, reason))?;
        parse_row(&fields, &mut builder).map_err(|reason| (line_no, reason))?;
    }
    Ok(builder.finish())
}

/// One CSV row's fields into `fields` (RFC 4180: fields in double quotes may
/// hold commas and `""` for a quote).
fn split_csv_line(line: &str, fields: &mut Vec<String>) -> Result<(), String> {
    fields.clear();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("a quoted field is not closed".to_string()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(());
                }
                Some(',') => fields.push(field),
                Some(c) => return Err(format!("`{c}` after a closing quote")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(());
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

/// Parses one CSV row's fields into `builder`.
fn parse_row(fields: &[String], builder: &mut Builder) -> Result<(), String> {
    if !(4..=5).contains(&fields.len()) {
        return Err(format!(
            "{} field(s); expected start,end,AS number,organisation[,country]",
            fields.len()
        ));
    }
    let address = |text: &str| -> Result<IpAddr, String> {
        let text = text.trim();
        text.parse::<IpAddr>().map_err(|_| {
            if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
                format!(
                    "`{text}` is not an IP address \
                     (numeric -num.csv files are not read: use the file with addresses)"
                )
            } else {
                format!("`{text}` is not an IP address")
            }
        })
    };
    let start = address(&fields[0])?;
    let end = address(&fields[1])?;
    let in_order = match (start, end) {
        (IpAddr::V4(s), IpAddr::V4(e)) => s <= e,
        (IpAddr::V6(s), IpAddr::V6(e)) => s <= e,
        _ => {
            return Err(format!(
                "`{start}` and `{end}` are of different IP versions"
            ))
        }
    };
    if !in_order {
        return Err(format!("the range ends ({end}) before it starts ({start})"));
    }
    let asn_text = fields[2].trim();
    let asn: u32 = asn_text
        .strip_prefix("AS")
        .unwrap_or(asn_text)
        .parse()
        .map_err(|_| format!("`{asn_text}` is not an AS number (0 to 4294967295)"))?;
    let org = fields[3].trim();
    let org = (!org.is_empty() && org != format!("AS{asn}")).then_some(org);
    let country = match fields.get(4).map(|c| c.trim()) {
        None | Some("") => None,
        Some(code) => Some(
            Country::new(code)
                .ok_or_else(|| format!("`{code}` is not a two-letter country code"))?,
        ),
    };
    builder.push(start, end, asn, org, country);
    Ok(())
}

// ---------------------------------------------------------------------------
// The compact format.

/// Reads the body of a compact file.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn truncated() -> String {
        "the data ends early (truncated?)".to_string()
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).ok_or_else(Self::truncated)?;
        let slice = self.buf.get(self.pos..end).ok_or_else(Self::truncated)?;
        self.pos = end;
        Ok(slice)
    }

    fn varint(&mut self) -> Result<u128, String> {
        let mut value: u128 = 0;
        let mut shift = 0u32;
        loop {
            let byte = *self.buf.get(self.pos).ok_or_else(Self::truncated)?;
            self.pos += 1;
            let bits = u128::from(byte & 0x7f);
            if shift >= 128 || (shift > 0 && bits >> (128 - shift) != 0) {
                return Err("a number is too large".to_string());
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
        }
    }

    fn small(&mut self, what: &str) -> Result<usize, String> {
        let v = self.varint()?;
        usize::try_from(v)
            .ok()
            .filter(|&n| n <= self.buf.len())
            .ok_or_else(|| format!("{what}: {v} is more than the data could hold"))
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let v = self.varint()?;
        u32::try_from(v).map_err(|_| format!("{what}: {v} is out of range"))
    }

    fn string(&mut self) -> Result<&'a str, String> {
        let n = self.small("string length")?;
        std::str::from_utf8(self.bytes(n)?).map_err(|_| "a string is not UTF-8".to_string())
    }
}

/// `mantissa << shift`, or `None` if that does not fit in 128 bits.
fn scaled(shift: u8, mantissa: u128) -> Option<u128> {
    if mantissa == 0 {
        Some(0)
    } else if u32::from(shift) >= 128 || mantissa.leading_zeros() < u32::from(shift) {
        None
    } else {
        Some(mantissa << shift)
    }
}

/// Decodes one family's ranges: `T` is its address integer (`u32` for
/// IPv4, `u128` for IPv6), which every end must fit.
fn decode_ranges<T: Copy + TryFrom<u128>>(
    r: &mut Reader<'_>,
    entries: usize,
    countries: &[[u8; 2]],
) -> Result<Ranges<T>, String> {
    let n = r.small("range count")?;
    let gap_shifts = r.bytes(n)?;
    let gaps = (0..n)
        .map(|i| scaled(gap_shifts[i], r.varint()?).ok_or_else(|| "a gap is too large".to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let span_shifts = r.bytes(n)?;
    let mut starts = Vec::with_capacity(n);
    let mut ends = Vec::with_capacity(n);
    let mut next: Option<u128> = Some(0);
    let overflow = || "a range lies beyond the address space".to_string();
    for i in 0..n {
        let span = scaled(span_shifts[i], r.varint()?).ok_or_else(overflow)?;
        let start = next
            .and_then(|s| s.checked_add(gaps[i]))
            .ok_or_else(overflow)?;
        let end = span
            .checked_sub(1)
            .ok_or_else(|| "an empty range".to_string())
            .and_then(|s| start.checked_add(s).ok_or_else(overflow))?;
        // The start is no larger than the end, so fits if the end does.
        let (Ok(s), Ok(e)) = (T::try_from(start), T::try_from(end)) else {
            return Err(overflow());
        };
        starts.push(s);
        ends.push(e);
        next = end.checked_add(1);
    }
    let entry_ids = (0..n)
        .map(|_| {
            r.u32("entry index").and_then(|e| {
                ((e as usize) < entries)
                    .then_some(e)
                    .ok_or_else(|| format!("entry {e} does not exist"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let country_ids = r.bytes(n)?;
    let range_countries = country_ids
        .iter()
        .map(|&c| match c {
            0 => Ok(NO_COUNTRY),
            c => countries
                .get(usize::from(c) - 1)
                .copied()
                .ok_or_else(|| format!("country {c} does not exist")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Ranges {
        starts,
        ends,
        entries: entry_ids,
        countries: range_countries,
    })
}

/// Decodes a compact file (magic included). Errors are reasons.
fn decode_compact(bytes: &[u8]) -> Result<AddressTable, String> {
    let Some(rest) = bytes.strip_prefix(MAGIC) else {
        return Err(match bytes.get(7) {
            Some(v) if bytes.starts_with(&MAGIC[..7]) => {
                format!(
                    "compact format version {} is not supported (this nbi reads version 1)",
                    char::from(*v)
                )
            }
            _ => "not a compact address table".to_string(),
        });
    };
    let body = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(rest, MAX_BODY)
        .map_err(|e| format!("the compressed data is damaged ({:?})", e.status))?;
    let mut r = Reader { buf: &body, pos: 0 };
    let date = match r.string()? {
        "" => None,
        text => Some(
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD)"))?,
        ),
    };
    let source = Some(r.string()?.to_string()).filter(|s| !s.is_empty());

    let org_count = r.small("organisation count")?;
    let joined_len = r.small("organisation bytes")?;
    let joined = std::str::from_utf8(r.bytes(joined_len)?)
        .map_err(|_| "organisation names are not UTF-8".to_string())?;
    let orgs: Vec<Arc<str>> = if org_count == 0 {
        Vec::new()
    } else {
        joined.split('\n').map(Arc::from).collect()
    };
    if orgs.len() != org_count {
        return Err(format!(
            "{} organisation names, the header says {org_count}",
            orgs.len()
        ));
    }

    let entry_count = r.small("entry count")?;
    let asns = (0..entry_count)
        .map(|_| r.u32("AS number"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut entries = Vec::with_capacity(entry_count);
    for asn in asns {
        let org = r.u32("organisation index")?;
        if org as usize > orgs.len() {
            return Err(format!("organisation {org} does not exist"));
        }
        entries.push(Entry { asn, org });
    }

    let country_count = r.small("country count")?;
    let countries = r
        .bytes(country_count.checked_mul(2).ok_or_else(Reader::truncated)?)?
        .chunks_exact(2)
        .map(|c| {
            std::str::from_utf8(c)
                .ok()
                .and_then(Country::new)
                .map(|c| c.0)
                .ok_or_else(|| format!("`{}` is not a country code", String::from_utf8_lossy(c)))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let v4 = decode_ranges::<u32>(&mut r, entries.len(), &countries)?;
    let v6 = decode_ranges::<u128>(&mut r, entries.len(), &countries)?;
    if r.pos != body.len() {
        return Err(format!(
            "{} unexpected bytes after the ranges",
            body.len() - r.pos
        ));
    }
    Ok(AddressTable {
        v4,
        v6,
        entries,
        orgs,
        date,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn known(asn: u32, org: Option<&str>, country: Option<&str>) -> Place {
        Place::Known {
            asn,
            org: org.map(Arc::from),
            country: country.map(|c| Country::new(c).unwrap()),
        }
    }

    fn asn_of(place: &Place) -> Option<u32> {
        match place {
            Place::Known { asn, .. } => Some(*asn),
            _ => None,
        }
    }

    fn shipped_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/address-table.bin")
    }

    #[test]
    fn shipped_names_well_known_ipv4_addresses() {
        let t = AddressTable::shipped();
        assert_eq!(
            t.lookup(ip("8.8.8.8")),
            known(15169, Some("Google LLC"), Some("US"))
        );
        // APNIC's research prefix, operated by Cloudflare, registered in AU.
        assert_eq!(
            t.lookup(ip("1.1.1.1")),
            known(13335, Some("Cloudflare, Inc."), Some("AU"))
        );
        assert_eq!(
            t.lookup(ip("17.57.144.84")),
            known(714, Some("Apple Inc."), Some("US"))
        );
        assert_eq!(
            t.lookup(ip("162.125.1.1")),
            known(19679, Some("Dropbox, Inc."), Some("US"))
        );
        assert_eq!(
            t.lookup(ip("9.9.9.9")),
            known(19281, Some("Quad9"), Some("US"))
        );
        // A placeholder name ("AS4294967294") is no name.
        assert_eq!(
            t.lookup(ip("103.138.210.1")),
            known(4294967294, None, Some("AU"))
        );
    }

    #[test]
    fn shipped_names_well_known_ipv6_addresses() {
        let t = AddressTable::shipped();
        assert_eq!(
            t.lookup(ip("2001:4860:4860::8888")),
            known(15169, Some("Google LLC"), Some("US"))
        );
        assert_eq!(
            t.lookup(ip("2606:4700:4700::1111")),
            known(13335, Some("Cloudflare, Inc."), Some("US"))
        );
        assert_eq!(
            t.lookup(ip("2620:fe::fe")),
            known(19281, Some("Quad9"), Some("US"))
        );
    }

    #[test]
    fn shipped_looks_up_ipv4_mapped_ipv6_as_ipv4() {
        let t = AddressTable::shipped();
        assert_eq!(t.lookup(ip("::ffff:8.8.8.8")), t.lookup(ip("8.8.8.8")));
        assert_eq!(
            t.lookup(ip("::ffff:17.57.144.84")),
            t.lookup(ip("17.57.144.84"))
        );
        assert_eq!(t.lookup(ip("::ffff:192.168.1.1")), Place::Local);
    }

    #[test]
    fn shipped_resolves_the_overlap_in_the_upstream_data() {
        // Upstream lists 214.95.0.0-215.0.255.255 (AS749) and
        // 215.0.0.0-215.1.3.255 (AS721): the later start wins.
        let t = AddressTable::shipped();
        assert_eq!(asn_of(&t.lookup(ip("214.95.0.1"))), Some(749));
        assert_eq!(asn_of(&t.lookup(ip("214.255.255.255"))), Some(749));
        assert_eq!(asn_of(&t.lookup(ip("215.0.0.1"))), Some(721));
        assert_eq!(asn_of(&t.lookup(ip("215.1.3.255"))), Some(721));
    }

    #[test]
    fn shipped_has_date_source_and_size() {
        let t = AddressTable::shipped();
        assert_eq!(t.date(), NaiveDate::from_ymd_opt(2026, 6, 17));
        let source = t.source().unwrap();
        assert!(
            source.contains("@ip-location-db/asn 2.3.2026061719"),
            "{source}"
        );
        assert!(
            source.contains("@ip-location-db/asn-country 2.3.2026061719"),
            "{source}"
        );
        assert!(t.len() > 500_000, "{}", t.len());
        assert!(t.v4.len() > 400_000 && t.v6.len() > 100_000, "{t:?}");
    }

    #[test]
    fn shipped_file_reads_back_through_from_path() {
        let t = AddressTable::from_path(&shipped_path()).unwrap();
        let s = AddressTable::shipped();
        assert_eq!(t.len(), s.len());
        assert_eq!(t.date(), s.date());
        for a in [
            "8.8.8.8",
            "1.1.1.1",
            "2001:4860:4860::8888",
            "240.0.0.1",
            "10.0.0.1",
        ] {
            assert_eq!(t.lookup(ip(a)), s.lookup(ip(a)), "{a}");
        }
    }

    #[test]
    fn shipped_ranges_are_sorted_and_disjoint() {
        let t = AddressTable::shipped();
        assert!(t.v4.starts.iter().zip(&t.v4.ends).all(|(s, e)| s <= e));
        assert!(t.v4.ends.iter().zip(&t.v4.starts[1..]).all(|(e, s)| e < s));
        assert!(t.v6.starts.iter().zip(&t.v6.ends).all(|(s, e)| s <= e));
        assert!(t.v6.ends.iter().zip(&t.v6.starts[1..]).all(|(e, s)| e < s));
    }

    #[test]
    fn local_addresses_are_local_and_never_looked_up() {
        let t = AddressTable::shipped();
        for a in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.169.254",
            "127.0.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.251",
            "239.255.255.250",
            "255.255.255.255",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "::1",
            "::",
            "ff02::fb",
            "::ffff:10.0.0.1",
            "::ffff:100.64.1.1",
            "::ffff:169.254.1.1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_local(ip(a)), "{a}");
            assert_eq!(t.lookup(ip(a)), Place::Local, "{a}");
        }
        for a in [
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "169.253.0.1",
            "11.0.0.1",
            "223.255.255.255",
            "240.0.0.1",
            "8.8.8.8",
            "fec0::1",
            "fbff::1",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "::2",
        ] {
            assert!(!is_local(ip(a)), "{a}");
        }
    }

    #[test]
    fn addresses_in_no_range_are_unknown() {
        let t = AddressTable::shipped();
        // Reserved (240/4) and documentation (2001:db8::/32, 3fff::/20).
        assert_eq!(t.lookup(ip("240.0.0.1")), Place::Unknown);
        assert_eq!(t.lookup(ip("2001:db8::1")), Place::Unknown);
        assert_eq!(t.lookup(ip("3fff::1")), Place::Unknown);
    }

    #[test]
    fn country_codes() {
        assert_eq!(Country::new("us").unwrap().to_string(), "US");
        assert_eq!(Country::new("GB").unwrap().as_str(), "GB");
        assert_eq!(
            format!("{:?}", Country::new("de").unwrap()),
            "Country(\"DE\")"
        );
        for bad in ["", "U", "USA", "1A", "ü1", "U "] {
            assert_eq!(Country::new(bad), None, "{bad:?}");
        }
    }

    const FIXTURE: &str = "\
ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization\r
# a comment\r
1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\r
\r
1.0.1.0,1.0.1.255,13335,\"Cloudflare, Inc.\"\r
5.0.0.0,5.0.255.255,AS64500,\"JSC \"\"Quoted\"\"\",ru
5.1.0.0,5.1.0.255,64501,AS64501
5.2.0.0,5.2.0.255,64502,,
2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,64496,Example v6,NL
10.0.0.0,10.255.255.255,64499,Private
";

    fn write(dir: &tempfile::TempDir, name: &str, contents: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn from_path_reads_a_csv() {
        let dir = tempfile::tempdir().unwrap();
        let mut contents = b"\xEF\xBB\xBF".to_vec(); // a byte order mark
        contents.extend_from_slice(FIXTURE.as_bytes());
        let t = AddressTable::from_path(&write(&dir, "asn.csv", &contents)).unwrap();
        // The two Cloudflare rows are adjacent and alike: one range.
        assert_eq!(t.len(), 6);
        assert_eq!(t.date(), None);
        assert_eq!(t.source(), None);
        let cf = known(13335, Some("Cloudflare, Inc."), None);
        assert_eq!(t.lookup(ip("1.0.0.0")), cf);
        assert_eq!(t.lookup(ip("1.0.1.255")), cf);
        assert_eq!(t.lookup(ip("::ffff:1.0.0.7")), cf);
        assert_eq!(t.lookup(ip("1.0.2.0")), Place::Unknown);
        assert_eq!(t.lookup(ip("0.255.255.255")), Place::Local);
        assert_eq!(
            t.lookup(ip("5.0.128.1")),
            known(64500, Some("JSC \"Quoted\""), Some("RU"))
        );
        assert_eq!(t.lookup(ip("5.1.0.1")), known(64501, None, None));
        assert_eq!(t.lookup(ip("5.2.0.1")), known(64502, None, None));
        assert_eq!(t.lookup(ip("5.3.0.1")), Place::Unknown);
        assert_eq!(
            t.lookup(ip("2001:db8:1::1")),
            known(64496, Some("Example v6"), Some("NL"))
        );
        assert_eq!(t.lookup(ip("2001:db9::1")), Place::Unknown);
        // In the table, but local first.
        assert_eq!(t.lookup(ip("10.1.1.1")), Place::Local);
    }

    #[test]
    fn from_path_names_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.csv");
        let err = AddressTable::from_path(&path).unwrap_err();
        assert!(
            matches!(&err, TableError::Missing { path: p } if *p == path),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn from_path_names_the_file_and_line_of_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let cases: &[(&[u8], usize, &str)] = &[
            (
                b"1.0.0.0,1.0.0.255,13335,Cloudflare\n\ngarbage\n",
                3,
                "field(s)",
            ),
            (
                b"1.0.0.0,1.0.0.255,13335,Cloudflare\n1.0.1.0,1.0.x.255,1,A\n",
                2,
                "`1.0.x.255` is not an IP address",
            ),
            (b"16777216,16777471,13335,Cloudflare\n", 1, "-num.csv"),
            (
                b"1.0.1.0,1.0.0.255,1,A\n",
                1,
                "ends (1.0.0.255) before it starts",
            ),
            (b"1.0.0.0,::1,1,A\n", 1, "different IP versions"),
            (b"1.0.0.0,1.0.0.1,4294967296,A\n", 1, "not an AS number"),
            (
                b"1.0.0.0,1.0.0.1,1,A,USA\n",
                1,
                "not a two-letter country code",
            ),
            (b"1.0.0.0,1.0.0.1,1,\"A\n", 1, "not closed"),
            (b"1.0.0.0,1.0.0.1,1,\"A\"B\n", 1, "after a closing quote"),
            (b"# ok\n\xff\xfe\x00garbage\n", 2, "not UTF-8"),
        ];
        for (i, (contents, line, reason)) in cases.iter().enumerate() {
            let path = write(&dir, &format!("bad{i}.csv"), contents);
            let err = AddressTable::from_path(&path).unwrap_err();
            match &err {
                TableError::Line {
                    path: p,
                    line: l,
                    reason: r,
                } => {
                    assert_eq!(p, &path);
                    assert_eq!(l, line, "{err}");
                    assert!(r.contains(reason), "{err}");
                }
                other => panic!("case {i}: {other:?}"),
            }
            let shown = err.to_string();
            assert!(
                shown.starts_with(&format!("{}:{line}: ", path.display())),
                "{shown}"
            );
        }
    }

    #[test]
    fn from_path_rejects_a_damaged_compact_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "short.bin", &SHIPPED[..SHIPPED.len() / 2]);
        let err = AddressTable::from_path(&path).unwrap_err();
        assert!(matches!(err, TableError::Corrupt { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );

        let mut flipped = SHIPPED.to_vec();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x55;
        let path = write(&dir, "flipped.bin", &flipped);
        assert!(matches!(
            AddressTable::from_path(&path),
            Err(TableError::Corrupt { .. })
        ));

        let path = write(&dir, "v9.bin", b"NBIADDR9rest");
        let err = AddressTable::from_path(&path).unwrap_err();
        assert!(err.to_string().contains("version 9"), "{err}");

        let path = write(&dir, "table.csv.gz", &[0x1f, 0x8b, 8, 0, 0, 0]);
        let err = AddressTable::from_path(&path).unwrap_err();
        assert!(err.to_string().contains("gunzip"), "{err}");
    }

    #[test]
    fn from_path_rejects_an_empty_file() {
        let dir = tempfile::tempdir().unwrap();
        for (name, contents) in [("empty.csv", &b""[..]), ("comments.csv", b"# nothing\n\n")] {
            let path = write(&dir, name, contents);
            let err = AddressTable::from_path(&path).unwrap_err();
            assert!(
                matches!(&err, TableError::Empty { path: p } if *p == path),
                "{err:?}"
            );
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
        }
    }

    #[test]
    fn overlapping_rows_resolve_to_the_later_start() {
        let mut b = Builder::default();
        let r = |b: &mut Builder, s: &str, e: &str, asn: u32| b.push(ip(s), ip(e), asn, None, None);
        r(&mut b, "20.0.0.0", "20.0.0.255", 1); // outer
        r(&mut b, "20.0.0.16", "20.0.0.31", 2); // nested
        r(&mut b, "20.0.0.24", "20.0.0.40", 3); // overlaps the nested one's end
        r(&mut b, "20.0.1.0", "20.0.1.9", 4);
        r(&mut b, "20.0.1.0", "20.0.1.4", 5); // same start: the later row wins
        let t = b.finish();
        let at = |a: &str| asn_of(&t.lookup(ip(a)));
        assert_eq!(at("20.0.0.15"), Some(1));
        assert_eq!(at("20.0.0.16"), Some(2));
        assert_eq!(at("20.0.0.23"), Some(2));
        assert_eq!(at("20.0.0.24"), Some(3));
        assert_eq!(at("20.0.0.40"), Some(3));
        assert_eq!(at("20.0.0.41"), Some(1));
        assert_eq!(at("20.0.0.255"), Some(1));
        assert_eq!(at("20.0.1.4"), Some(5));
        assert_eq!(at("20.0.1.5"), Some(4));
        assert_eq!(at("20.0.1.10"), None);
    }

    /// Rows of a small random table: (start, length - 1, AS, country),
    /// starts within a small space so that rows overlap and touch.
    fn rows() -> impl Strategy<Value = Vec<(u32, u32, u32, Option<u8>)>> {
        prop::collection::vec(
            (0u32..400, 0u32..40, 1u32..5, prop::option::of(0u8..3)),
            0..40,
        )
    }

    /// The answer by definition: of the rows holding `x`, the one with the
    /// greatest start, the later row on equal starts.
    fn scan(rows: &[(u128, u128, u32, Option<u8>)], x: u128) -> Option<(u32, Option<u8>)> {
        let mut best: Option<&(u128, u128, u32, Option<u8>)> = None;
        for row in rows.iter().filter(|r| r.0 <= x && x <= r.1) {
            if best.is_none_or(|b| row.0 >= b.0) {
                best = Some(row);
            }
        }
        best.map(|r| (r.2, r.3))
    }

    const CODES: [&str; 3] = ["AA", "BB", "CC"];

    fn place_of(hit: Option<(u32, Option<u8>)>) -> Place {
        match hit {
            None => Place::Unknown,
            Some((asn, c)) => Place::Known {
                asn,
                org: Some(Arc::from(format!("Org {asn}"))),
                country: c.map(|c| Country::new(CODES[c as usize]).unwrap()),
            },
        }
    }

    proptest! {
        #[test]
        fn lookup_agrees_with_a_linear_scan(rows in rows(), base6 in any::<u64>()) {
            // IPv4 rows at 20.0.0.0 + x; IPv6 rows at 2001:<base6 bits>::x.
            let v4_base = u32::from(Ipv4Addr::new(20, 0, 0, 0));
            let v6_base = (0x2001u128 << 112) | (u128::from(base6) << 48);
            let mut b = Builder::default();
            let mut want4 = Vec::new();
            let mut want6 = Vec::new();
            for &(start, extra, asn, c) in &rows {
                let org = format!("Org {asn}");
                let country = c.map(|c| Country::new(CODES[c as usize]).unwrap());
                let (s4, e4) = (v4_base + start, v4_base + start + extra);
                let (s, e) = (Ipv4Addr::from(s4).into(), Ipv4Addr::from(e4).into());
                b.push(s, e, asn, Some(&org), country);
                want4.push((u128::from(s4), u128::from(e4), asn, c));
                let (s6, e6) = (v6_base + u128::from(start), v6_base + u128::from(start + extra));
                let (s, e) = (Ipv6Addr::from(s6).into(), Ipv6Addr::from(e6).into());
                b.push(s, e, asn, Some(&org), country);
                want6.push((s6, e6, asn, c));
            }
            let t = b.finish();
            // A nested row splits the one around it: at most 2n - 1 pieces per family.
            prop_assert!(t.len() <= 4 * rows.len());
            for x in 0u32..460 {
                let a4 = v4_base + x;
                let want = place_of(scan(&want4, a4.into()));
                prop_assert_eq!(t.lookup(Ipv4Addr::from(a4).into()), want, "20.0.0.0 + {}", x);
                let a6 = v6_base + u128::from(x);
                let want = place_of(scan(&want6, a6));
                prop_assert_eq!(t.lookup(Ipv6Addr::from(a6).into()), want, "v6 + {}", x);
            }
        }
    }
}
