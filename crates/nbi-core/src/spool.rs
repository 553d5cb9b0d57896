//! A durable, bounded, first-in first-out queue of records on disk.
//!
//! A watcher writes every tick here before it is sent to the broker, and
//! moves the read cursor only once the broker has confirmed it: a broker
//! outage, a crash or a `kill -9` loses nothing that was pushed, and ticks
//! are sent in the order they were taken.
//!
//! The spool is a directory of segment files (`00000000000000000001.seg`,
//! …) of framed records, `[len: u32 LE][crc32: u32 LE][payload]`, and a
//! `cursor` file naming the first record not yet confirmed. A record cut
//! short by a crash is truncated when the spool is opened; a record whose
//! checksum fails is skipped, counted and logged. When the spool would grow
//! past its limit, whole segments are dropped from the oldest end: each
//! dropped record is counted and logged, never silent.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const HEADER: u64 = 8;
const SEGMENT_EXT: &str = "seg";
const CURSOR_FILE: &str = "cursor";
/// Largest record accepted (a tick message is a few kB at most).
pub const MAX_RECORD: usize = 16 << 20;
/// Dirty data is flushed to the disk at least this often.
const SYNC_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("spool record of {0} bytes is larger than the {MAX_RECORD}-byte limit")]
    TooLarge(usize),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone)]
pub struct SpoolOptions {
    pub dir: PathBuf,
    /// Largest total size of the segments, in bytes.
    pub max_bytes: u64,
}

impl SpoolOptions {
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        SpoolOptions {
            dir: dir.into(),
            max_bytes,
        }
    }

    /// Eight segments per spool keeps a drop to an eighth of it, while
    /// a segment is never so small that files churn.
    fn segment_bytes(&self) -> u64 {
        (self.max_bytes / 8).clamp(64 << 10, 64 << 20)
    }
}

/// A place in the spool: a segment and a byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
    /// Records in the segment before `offset`.
    index: u64,
}

/// What the spool holds and what it lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Records pushed and not yet confirmed.
    pub pending: u64,
    /// Bytes of the segments on disk.
    pub bytes: u64,
    /// Records dropped because the spool was full (since it was opened).
    pub dropped_full: u64,
    /// Records skipped because they were damaged on disk (since opened).
    pub dropped_damaged: u64,
}

#[derive(Debug)]
struct Segment {
    id: u64,
    len: u64,
    /// Records in it (all of them, including those before the cursor).
    records: u64,
}

#[derive(Debug)]
pub struct Spool {
    options: SpoolOptions,
    segments: VecDeque<Segment>,
    writer: File,
    cursor: Position,
    stats: SpoolStats,
    last_sync: Instant,
    dirty: bool,
}

impl Spool {
    /// Opens (or creates) the spool in `options.dir`.
    pub fn open(options: SpoolOptions) -> Result<Spool, SpoolError> {
        let dir = options.dir.clone();
        crate::files::create_dir_private(&dir).map_err(io(&dir))?;
        crate::files::tighten(&dir);
        let mut ids = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io(&dir))? {
            let path = entry.map_err(io(&dir))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some(SEGMENT_EXT) {
                continue;
            }
            if let Some(id) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u64>().ok())
            {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        crate::files::tighten(&dir.join(CURSOR_FILE));
        let cursor = read_cursor(&dir);
        let mut segments = VecDeque::new();
        let mut damaged = 0;
        let last = ids.last().copied();
        for id in ids {
            if cursor.is_some_and(|c| id < c.segment) {
                // Fully confirmed before a crash cut its removal short.
                let _ = fs::remove_file(segment_path(&dir, id));
                continue;
            }
            crate::files::tighten(&segment_path(&dir, id));
            let (len, records, bad) = scan_segment(&dir, id, Some(id) == last)?;
            damaged += bad;
            segments.push_back(Segment { id, len, records });
        }
        if segments.is_empty() {
            let id = cursor.map_or(1, |c| c.segment.max(1));
            crate::files::open_append(&segment_path(&dir, id)).map_err(io(&dir))?;
            segments.push_back(Segment {
                id,
                len: 0,
                records: 0,
            });
        }
        let first = segments.front().map_or(1, |s| s.id);
        let cursor = match cursor {
            Some(c) if c.segment == first => Position {
                segment: first,
                offset: c.offset.min(segments[0].len),
                index: 0,
            },
            _ => Position {
                segment: first,
                offset: 0,
                index: 0,
            },
        };
        let consumed = count_records(&dir, first, cursor.offset)?;
        let cursor = Position {
            index: consumed,
            ..cursor
        };
        let last_id = segments.back().map_or(first, |s| s.id);
        let writer_path = segment_path(&dir, last_id);
        let writer = OpenOptions::new()
            .append(true)
            .open(&writer_path)
            .map_err(io(&writer_path))?;
        let mut spool = Spool {
            options,
            segments,
            writer,
            cursor,
            stats: SpoolStats::default(),
            last_sync: Instant::now(),
            dirty: false,
        };
        spool.stats.dropped_damaged = damaged;
        spool.refresh_stats();
        if damaged > 0 {
            tracing::warn!(
                dir = %dir.display(),
                records = damaged,
                "spool: damaged records will be skipped"
            );
        }
        Ok(spool)
    }

    pub fn stats(&self) -> SpoolStats {
        self.stats
    }

    pub fn is_empty(&self) -> bool {
        self.stats.pending == 0
    }

    /// Appends one record. When the spool is over its limit afterwards, the
    /// oldest segments are dropped (counted and logged).
    pub fn push(&mut self, payload: &[u8]) -> Result<(), SpoolError> {
        if payload.len() > MAX_RECORD {
            return Err(SpoolError::TooLarge(payload.len()));
        }
        let size = HEADER + payload.len() as u64;
        let tail_len = self.segments.back().map_or(0, |s| s.len);
        if tail_len > 0 && tail_len + size > self.options.segment_bytes() {
            self.roll()?;
        }
        let mut frame = Vec::with_capacity(size as usize);
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        frame.extend_from_slice(payload);
        let path = self.tail_path();
        // One write per record: a crash leaves at most one short record at
        // the end, which `open` truncates.
        self.writer.write_all(&frame).map_err(io(&path))?;
        if let Some(tail) = self.segments.back_mut() {
            tail.len += size;
            tail.records += 1;
        }
        self.dirty = true;
        self.stats.pending += 1;
        self.stats.bytes += size;
        self.enforce_limit()?;
        if self.last_sync.elapsed() >= SYNC_EVERY {
            self.sync()?;
        }
        Ok(())
    }

    /// Flushes written records to the disk.
    pub fn sync(&mut self) -> Result<(), SpoolError> {
        if self.dirty {
            let path = self.tail_path();
            self.writer.sync_data().map_err(io(&path))?;
            self.dirty = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Up to `max` records from the cursor on, each with the position just
    /// after it (what to pass to [`Spool::confirm`]).
    pub fn peek(&mut self, max: usize) -> Result<Vec<(Position, Vec<u8>)>, SpoolError> {
        let mut out = Vec::new();
        let dir = self.options.dir.clone();
        let mut pos = self.cursor;
        'segments: for seg in self.segments.iter() {
            if seg.id < pos.segment {
                continue;
            }
            let start = if seg.id == pos.segment { pos.offset } else { 0 };
            if start >= seg.len {
                continue;
            }
            let path = segment_path(&dir, seg.id);
            let mut file = File::open(&path).map_err(io(&path))?;
            file.seek(SeekFrom::Start(start)).map_err(io(&path))?;
            let mut reader = std::io::BufReader::new(file.take(seg.len - start));
            let mut offset = start;
            let mut index = if seg.id == pos.segment { pos.index } else { 0 };
            while offset < seg.len && out.len() < max {
                match read_record(&mut reader).map_err(io(&path))? {
                    Frame::Record(payload) => {
                        offset += HEADER + payload.len() as u64;
                        index += 1;
                        out.push((
                            Position {
                                segment: seg.id,
                                offset,
                                index,
                            },
                            payload,
                        ));
                    }
                    Frame::Damaged(len) => {
                        // Counted when the spool was opened; skipped here.
                        offset += HEADER + len;
                        index += 1;
                    }
                    Frame::End => break,
                }
            }
            pos = Position {
                segment: seg.id,
                offset,
                index,
            };
            if out.len() >= max {
                break 'segments;
            }
        }
        Ok(out)
    }

    /// Marks every record before `upto` as delivered; removes the segments
    /// that are entirely delivered and saves the cursor.
    pub fn confirm(&mut self, upto: Position) -> Result<(), SpoolError> {
        if upto <= self.cursor {
            return Ok(());
        }
        let dir = self.options.dir.clone();
        let mut confirmed = 0;
        // Whole segments before the new cursor's segment.
        while let Some(front) = self.segments.front() {
            if front.id >= upto.segment || self.segments.len() == 1 {
                break;
            }
            confirmed += front.records.saturating_sub(self.cursor.index);
            self.stats.bytes = self.stats.bytes.saturating_sub(front.len);
            let path = segment_path(&dir, front.id);
            fs::remove_file(&path).map_err(io(&path))?;
            self.segments.pop_front();
            self.cursor = Position {
                segment: self.segments.front().map_or(upto.segment, |s| s.id),
                offset: 0,
                index: 0,
            };
        }
        if self.cursor.segment == upto.segment && upto.offset > self.cursor.offset {
            confirmed += upto.index.saturating_sub(self.cursor.index);
            self.cursor = upto;
        }
        self.stats.pending = self.stats.pending.saturating_sub(confirmed);
        write_cursor(&dir, self.cursor)
    }

    fn tail_path(&self) -> PathBuf {
        segment_path(&self.options.dir, self.segments.back().map_or(1, |s| s.id))
    }

    fn roll(&mut self) -> Result<(), SpoolError> {
        self.sync()?;
        let id = self.segments.back().map_or(1, |s| s.id + 1);
        let path = segment_path(&self.options.dir, id);
        self.writer = crate::files::open_append(&path).map_err(io(&path))?;
        self.segments.push_back(Segment {
            id,
            len: 0,
            records: 0,
        });
        Ok(())
    }

    fn enforce_limit(&mut self) -> Result<(), SpoolError> {
        while self.stats.bytes > self.options.max_bytes && self.segments.len() > 1 {
            let Some(front) = self.segments.pop_front() else {
                break;
            };
            let lost = front.records.saturating_sub(self.cursor.index);
            let path = segment_path(&self.options.dir, front.id);
            fs::remove_file(&path).map_err(io(&path))?;
            self.stats.bytes = self.stats.bytes.saturating_sub(front.len);
            self.stats.pending = self.stats.pending.saturating_sub(lost);
            self.stats.dropped_full += lost;
            self.cursor = Position {
                segment: self.segments.front().map_or(front.id + 1, |s| s.id),
                offset: 0,
                index: 0,
            };
            write_cursor(&self.options.dir, self.cursor)?;
            tracing::warn!(
                dropped = lost,
                dropped_total = self.stats.dropped_full,
                limit_bytes = self.options.max_bytes,
                "spool full: dropped the oldest ticks"
            );
        }
        Ok(())
    }

    fn refresh_stats(&mut self) {
        self.stats.bytes = self.segments.iter().map(|s| s.len).sum();
        let all: u64 = self.segments.iter().map(|s| s.records).sum();
        self.stats.pending = all.saturating_sub(self.cursor.index);
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = self.sync();
    }
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.{SEGMENT_EXT}"))
}

enum Frame {
    Record(Vec<u8>),
    /// A whole frame whose checksum failed: its payload length.
    Damaged(u64),
    /// The end, or a frame cut short.
    End,
}

fn read_record(r: &mut impl Read) -> std::io::Result<Frame> {
    let mut header = [0u8; HEADER as usize];
    if !read_full(r, &mut header)? {
        return Ok(Frame::End);
    }
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len > MAX_RECORD {
        return Ok(Frame::End);
    }
    let mut payload = vec![0u8; len];
    if !read_full(r, &mut payload)? {
        return Ok(Frame::End);
    }
    if crc32fast::hash(&payload) != crc {
        return Ok(Frame::Damaged(len as u64));
    }
    Ok(Frame::Record(payload))
}

/// Fills `buf`; `false` when the input ends first.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => return Ok(false),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Length, record count and damaged records of a segment. The tail segment
/// is truncated after its last whole record (a write a crash cut short).
fn scan_segment(dir: &Path, id: u64, is_tail: bool) -> Result<(u64, u64, u64), SpoolError> {
    let path = segment_path(dir, id);
    let file = File::open(&path).map_err(io(&path))?;
    let file_len = file.metadata().map_err(io(&path))?.len();
    let mut reader = std::io::BufReader::new(file);
    let (mut len, mut records, mut damaged) = (0u64, 0u64, 0u64);
    loop {
        match read_record(&mut reader).map_err(io(&path))? {
            Frame::Record(p) => {
                len += HEADER + p.len() as u64;
                records += 1;
            }
            Frame::Damaged(n) => {
                len += HEADER + n;
                records += 1;
                damaged += 1;
            }
            Frame::End => break,
        }
    }
    if len < file_len {
        if is_tail {
            tracing::warn!(
                segment = %path.display(),
                bytes = file_len - len,
                "spool: truncating a record cut short"
            );
            let f = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(io(&path))?;
            f.set_len(len).map_err(io(&path))?;
        } else {
            tracing::warn!(
                segment = %path.display(),
                bytes = file_len - len,
                "spool: ignoring unreadable bytes at the end of a segment"
            );
        }
    }
    Ok((len, records, damaged))
}

/// Records that start before `offset` in a segment.
fn count_records(dir: &Path, id: u64, offset: u64) -> Result<u64, SpoolError> {
    if offset == 0 {
        return Ok(0);
    }
    let path = segment_path(dir, id);
    let file = File::open(&path).map_err(io(&path))?;
    let mut reader = std::io::BufReader::new(file.take(offset));
    let mut n = 0;
    let mut header = [0u8; HEADER as usize];
    let mut at = 0u64;
    while at < offset {
        if !read_full(&mut reader, &mut header).map_err(io(&path))? {
            break;
        }
        let len = u64::from(u32::from_le_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        std::io::copy(&mut (&mut reader).take(len), &mut std::io::sink()).map_err(io(&path))?;
        at += HEADER + len;
        n += 1;
    }
    Ok(n)
}

fn read_cursor(dir: &Path) -> Option<Position> {
    let text = fs::read_to_string(dir.join(CURSOR_FILE)).ok()?;
    let (segment, offset) = text.trim().split_once(' ')?;
    Some(Position {
        segment: segment.parse().ok()?,
        offset: offset.parse().ok()?,
        index: 0,
    })
}

/// Written to a temporary file and renamed: a crash leaves the old cursor or
/// the new one, and an old cursor only means a few ticks are sent again.
fn write_cursor(dir: &Path, cursor: Position) -> Result<(), SpoolError> {
    let path = dir.join(CURSOR_FILE);
    let text = format!("{} {}\n", cursor.segment, cursor.offset);
    crate::files::write_atomic(&path, text.as_bytes()).map_err(io(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spool(dir: &Path, max: u64) -> Spool {
        Spool::open(SpoolOptions::new(dir, max)).unwrap()
    }

    fn drain(s: &mut Spool) -> Vec<Vec<u8>> {
        let mut all = Vec::new();
        loop {
            let batch = s.peek(7).unwrap();
            let Some((last, _)) = batch.last() else { break };
            let last = *last;
            all.extend(batch.into_iter().map(|(_, p)| p));
            s.confirm(last).unwrap();
        }
        all
    }

    fn rec(i: usize) -> Vec<u8> {
        format!("record {i} {}", "x".repeat(i % 50)).into_bytes()
    }

    #[test]
    fn records_come_back_in_order_across_segments_and_reopens() {
        let d = tempfile::tempdir().unwrap();
        let mut s = spool(d.path(), 512 << 10);
        for i in 0..5000 {
            s.push(&rec(i)).unwrap();
        }
        assert!(s.segments.len() > 2, "small segments roll");
        assert_eq!(s.stats().pending, 5000);
        // Confirm part, reopen, read the rest.
        let first = s.peek(1234).unwrap();
        s.confirm(first.last().unwrap().0).unwrap();
        drop(s);
        let mut s = spool(d.path(), 512 << 10);
        assert_eq!(s.stats().pending, 5000 - 1234);
        let rest = drain(&mut s);
        let expected: Vec<_> = (1234..5000).map(rec).collect();
        assert_eq!(rest, expected);
        assert!(s.is_empty());
        assert_eq!(s.segments.len(), 1, "delivered segments are removed");
    }

    #[test]
    fn unconfirmed_records_are_read_again_after_reopen() {
        let d = tempfile::tempdir().unwrap();
        let mut s = spool(d.path(), 1 << 20);
        for i in 0..10 {
            s.push(&rec(i)).unwrap();
        }
        let seen = s.peek(4).unwrap();
        assert_eq!(seen.len(), 4);
        drop(s); // nothing confirmed: a crash before the broker answered
        let mut s = spool(d.path(), 1 << 20);
        assert_eq!(drain(&mut s), (0..10).map(rec).collect::<Vec<_>>());
    }

    #[test]
    fn a_record_cut_short_is_truncated_and_appending_goes_on() {
        let d = tempfile::tempdir().unwrap();
        let mut s = spool(d.path(), 1 << 20);
        for i in 0..3 {
            s.push(&rec(i)).unwrap();
        }
        let path = s.tail_path();
        drop(s);
        // A crash in the middle of the fourth write.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[40, 0, 0, 0, 1, 2, 3, 4, b'r', b'e']).unwrap();
        drop(f);
        let mut s = spool(d.path(), 1 << 20);
        assert_eq!(s.stats().pending, 3);
        s.push(&rec(3)).unwrap();
        assert_eq!(drain(&mut s), (0..4).map(rec).collect::<Vec<_>>());
    }

    #[test]
    fn a_damaged_record_is_skipped_and_counted() {
        let d = tempfile::tempdir().unwrap();
        let mut s = spool(d.path(), 1 << 20);
        for i in 0..3 {
            s.push(&rec(i)).unwrap();
        }
        let path = s.tail_path();
        drop(s);
        let mut bytes = fs::read(&path).unwrap();
        let second = (HEADER as usize) + rec(0).len() + HEADER as usize;
        bytes[second] ^= 0xff; // flip a payload byte of record 1
        fs::write(&path, bytes).unwrap();
        let mut s = spool(d.path(), 1 << 20);
        assert_eq!(s.stats().dropped_damaged, 1);
        assert_eq!(drain(&mut s), vec![rec(0), rec(2)]);
    }

    #[test]
    fn a_full_spool_drops_the_oldest_and_counts_them() {
        let d = tempfile::tempdir().unwrap();
        // 64 KiB segments (the minimum) and a 256 KiB limit.
        let mut s = spool(d.path(), 256 << 10);
        let n = 20_000;
        for i in 0..n {
            s.push(&rec(i)).unwrap();
        }
        let st = s.stats();
        assert!(st.bytes <= 256 << 10, "{st:?}");
        assert!(st.dropped_full > 0);
        assert_eq!(st.pending + st.dropped_full, n as u64, "{st:?}");
        let kept = drain(&mut s);
        assert_eq!(kept.len() as u64, st.pending);
        // What is left is the newest, in order.
        let expected: Vec<_> = (n - kept.len()..n).map(rec).collect();
        assert_eq!(kept, expected);
    }

    #[test]
    fn dropping_accounts_for_what_was_already_confirmed() {
        let d = tempfile::tempdir().unwrap();
        let mut s = spool(d.path(), 256 << 10);
        for i in 0..1000 {
            s.push(&rec(i)).unwrap();
        }
        let part = s.peek(100).unwrap();
        s.confirm(part.last().unwrap().0).unwrap();
        let before = s.stats();
        for i in 1000..20_000 {
            s.push(&rec(i)).unwrap();
        }
        let after = s.stats();
        assert_eq!(
            after.pending + after.dropped_full,
            before.pending + 19_000,
            "{before:?} {after:?}"
        );
    }

    #[test]
    fn a_garbage_cursor_file_starts_from_the_oldest_record() {
        let d = tempfile::tempdir().unwrap();
        let mut s = spool(d.path(), 1 << 20);
        for i in 0..5 {
            s.push(&rec(i)).unwrap();
        }
        drop(s);
        fs::write(d.path().join(CURSOR_FILE), "not a cursor").unwrap();
        let mut s = spool(d.path(), 1 << 20);
        assert_eq!(drain(&mut s).len(), 5);
    }

    #[test]
    fn too_large_a_record_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let mut s = spool(d.path(), 1 << 20);
        let big = vec![0u8; MAX_RECORD + 1];
        assert!(matches!(s.push(&big), Err(SpoolError::TooLarge(_))));
        assert!(s.is_empty());
    }
}
