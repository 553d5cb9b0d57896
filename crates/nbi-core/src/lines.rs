//! Lines of bounded length, from files, pipes and stdin: a line longer than
//! the limit is thrown away (and said so) without ever being held whole,
//! and a line that is not UTF-8 is reported by its number rather than
//! ending the read, so one bad line never costs the lines after it.

use std::io::{self, BufRead};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// What [`LineReader::next`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadEvent {
    /// A line is in [`LineReader::line`].
    Line,
    /// A line longer than the limit was read and thrown away.
    TooLong,
    Eof,
}

/// Reads lines of bounded length from a pipe. `next` is cancel-safe: a
/// partly read line is kept for the next call.
pub struct LineReader<R> {
    inner: BufReader<R>,
    buf: Vec<u8>,
    max: usize,
    ready: bool,
    discarding: bool,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner: BufReader::new(inner),
            buf: Vec::new(),
            max,
            ready: false,
            discarding: false,
        }
    }

    /// The last line read, without its newline.
    pub fn line(&self) -> &[u8] {
        &self.buf
    }

    pub async fn next(&mut self) -> io::Result<ReadEvent> {
        if self.ready {
            self.buf.clear();
            self.ready = false;
        }
        loop {
            let chunk = self.inner.fill_buf().await?;
            if chunk.is_empty() {
                if self.discarding {
                    self.discarding = false;
                    return Ok(ReadEvent::TooLong);
                }
                if self.buf.is_empty() {
                    return Ok(ReadEvent::Eof);
                }
                self.ready = true;
                return Ok(ReadEvent::Line);
            }
            let (take, newline) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if !self.discarding {
                if self.buf.len() + take > self.max {
                    self.discarding = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(&chunk[..take]);
                }
            }
            self.inner.consume(take + usize::from(newline));
            if newline {
                if self.discarding {
                    self.discarding = false;
                    return Ok(ReadEvent::TooLong);
                }
                self.ready = true;
                return Ok(ReadEvent::Line);
            }
        }
    }
}

/// Why a line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("a line longer than {0} bytes")]
    TooLong(usize),
    #[error("a line that is not UTF-8 text")]
    NotUtf8,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Lines of at most `max` bytes from a blocking reader (a file), without
/// their `\n` or `\r\n`. After a [`LineError::TooLong`] or
/// [`LineError::NotUtf8`] the next line follows; an I/O error ends it.
pub struct BoundedLines<R> {
    inner: R,
    max: usize,
    buf: Vec<u8>,
    done: bool,
}

impl<R: BufRead> BoundedLines<R> {
    pub fn new(inner: R, max: usize) -> Self {
        BoundedLines {
            inner,
            max,
            buf: Vec::new(),
            done: false,
        }
    }

    fn read(&mut self) -> Result<Option<String>, LineError> {
        self.buf.clear();
        let mut too_long = false;
        let mut read_any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if chunk.is_empty() {
                if !read_any {
                    return Ok(None);
                }
                break;
            }
            read_any = true;
            let (take, newline) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if !too_long {
                if self.buf.len() + take > self.max {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(&chunk[..take]);
                }
            }
            self.inner.consume(take + usize::from(newline));
            if newline {
                break;
            }
        }
        if too_long {
            return Err(LineError::TooLong(self.max));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        String::from_utf8(std::mem::take(&mut self.buf))
            .map(Some)
            .map_err(|_| LineError::NotUtf8)
    }
}

impl<R: BufRead> Iterator for BoundedLines<R> {
    type Item = Result<String, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read() {
            Ok(None) => {
                self.done = true;
                None
            }
            Ok(Some(l)) => Some(Ok(l)),
            Err(e @ LineError::Io(_)) => {
                self.done = true;
                Some(Err(e))
            }
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_bounded_and_the_last_needs_no_newline() {
        let input: &[u8] = b"a,b\n\nxxxxxxxxxxxxxxxxxxxx\nlast";
        let mut r = LineReader::new(input, 8);
        assert_eq!(r.next().await.unwrap(), ReadEvent::Line);
        assert_eq!(r.line(), b"a,b");
        assert_eq!(r.next().await.unwrap(), ReadEvent::Line);
        assert_eq!(r.line(), b"");
        assert_eq!(r.next().await.unwrap(), ReadEvent::TooLong);
        assert_eq!(r.next().await.unwrap(), ReadEvent::Line);
        assert_eq!(r.line(), b"last");
        assert_eq!(r.next().await.unwrap(), ReadEvent::Eof);
    }

    #[test]
    fn a_bad_line_is_reported_and_the_next_one_read() {
        let input: &[u8] = b"one\r\n\xff\xfe\ntoo long a line\nthree\nlast";
        let got: Vec<String> = BoundedLines::new(input, 8)
            .map(|l| match l {
                Ok(s) => s,
                Err(e) => format!("<{e}>"),
            })
            .collect();
        assert_eq!(
            got,
            [
                "one",
                "<a line that is not UTF-8 text>",
                "<a line longer than 8 bytes>",
                "three",
                "last"
            ]
        );
        let empty: &[u8] = b"";
        assert_eq!(BoundedLines::new(empty, 8).count(), 0);
        let blank: &[u8] = b"\n\n";
        assert_eq!(
            BoundedLines::new(blank, 8).filter_map(Result::ok).count(),
            2
        );
    }
}
