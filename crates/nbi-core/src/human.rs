//! Numbers for people: bytes written short, and sizes read from what people write.

use serde::{Deserialize, Serialize};

/// Bytes in SI units, three significant digits: 999 B, 1.2 kB, 84 MB, 2.1 GB.
pub fn bytes(n: u64) -> String {
    scaled(n, ["B", "kB", "MB", "GB", "TB", "PB"], " ")
}

/// Bytes as short as a menu bar needs: 26B, 29K, 84M, 1.2G.
pub fn compact(n: u64) -> String {
    scaled(n, ["B", "K", "M", "G", "T", "P"], "")
}

/// `text` cut to at most `max` characters, with "…" where it was cut: what
/// a log line or a notification quotes of something it did not write (a
/// 5 MB field of a bad message is not echoed whole).
pub fn cut(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => text.into(),
        Some((at, _)) => format!("{}…", &text[..at]).into(),
    }
}

/// A span of time as people say it: "3 d 4 h", "2 h 5 min", "40 s".
pub fn duration(d: chrono::Duration) -> String {
    let s = d.num_seconds().unsigned_abs();
    let (days, hours, minutes) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// `n` in steps of 1000 with one decimal below 10 of a unit, `sep` before it.
fn scaled(n: u64, units: [&str; 6], sep: &str) -> String {
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 999.5 && unit < units.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n}{sep}{}", units[0])
    } else if v < 9.95 {
        format!("{v:.1}{sep}{}", units[unit])
    } else {
        format!("{v:.0}{sep}{}", units[unit])
    }
}

/// A number of bytes, read from a number or from a size with units ("50
/// GB": 50 × 10⁹; "20 GiB": 20 × 2³⁰), written as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SizeInput", into = "u64")]
pub struct DataSize(pub u64);

#[derive(Deserialize)]
#[serde(untagged)]
enum SizeInput {
    Bytes(u64),
    Text(String),
}

impl TryFrom<SizeInput> for DataSize {
    type Error = String;
    fn try_from(v: SizeInput) -> Result<DataSize, String> {
        match v {
            SizeInput::Bytes(n) => Ok(DataSize(n)),
            SizeInput::Text(t) => t
                .trim()
                .parse::<bytesize::ByteSize>()
                .map(|b| DataSize(b.as_u64()))
                .map_err(|e| {
                    format!("expected a size such as \"50 GB\" or \"20 GiB\", found {t:?} ({e})")
                }),
        }
    }
}

impl From<DataSize> for u64 {
    fn from(d: DataSize) -> u64 {
        d.0
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn spans_of_time_read_as_people_say_them() {
        let d = chrono::Duration::seconds;
        assert_eq!(super::duration(d(40)), "40 s");
        assert_eq!(super::duration(d(125 * 60)), "2 h 5 min");
        assert_eq!(super::duration(d(120 * 86_400 + 3 * 3600)), "120 d 3 h");
    }

    #[test]
    fn long_text_is_cut_on_a_character() {
        assert_eq!(super::cut("abc", 3), "abc");
        assert_eq!(super::cut("abcd", 3), "abc…");
        assert_eq!(super::cut("ééé", 2), "éé…");
    }

    #[test]
    fn human_bytes() {
        assert_eq!(super::bytes(0), "0 B");
        assert_eq!(super::bytes(999), "999 B");
        assert_eq!(super::bytes(1_200), "1.2 kB");
        assert_eq!(super::bytes(84_000_000), "84 MB");
        assert_eq!(super::bytes(2_100_000_000), "2.1 GB");
        assert_eq!(super::bytes(u64::MAX), "18447 PB");
    }

    #[test]
    fn compact_bytes() {
        assert_eq!(super::compact(0), "0B");
        assert_eq!(super::compact(999), "999B");
        assert_eq!(super::compact(999_600), "1.0M");
        assert_eq!(super::compact(84_000_000), "84M");
        assert_eq!(super::compact(1_200_000_000), "1.2G");
        assert_eq!(super::compact(u64::MAX), "18447P");
    }
}
