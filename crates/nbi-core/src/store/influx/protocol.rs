//! InfluxQL and line protocol: quoting names and values, and the time and
//! host condition every query has.

use serde_json::Value;

use super::super::{DayBounds, HostFilter};

/// A count in a query's answer: an integer field, or a float where the
/// server summed (InfluxQL's sums come back as floats); 0 for anything else.
pub(super) fn count(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_f64().map(|f| f as u64))
        .unwrap_or(0)
}

/// A quoted InfluxQL identifier.
pub(super) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A quoted InfluxQL string literal.
pub(super) fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

pub(super) fn where_clause(host: &HostFilter, b: DayBounds) -> String {
    let mut w = format!(
        "time >= {}s AND time < {}s",
        b.start.timestamp(),
        b.end.timestamp()
    );
    if let HostFilter::One(h) = host {
        w.push_str(&format!(" AND \"host\" = {}", literal(h)));
    }
    w
}

/// The host condition with `bounds`, or with the one second `at` when
/// given (the points of one stored tick).
pub(super) fn where_at(host: &HostFilter, b: DayBounds, at: Option<i64>) -> String {
    match at {
        None => where_clause(host, b),
        Some(ts) => {
            let mut w = format!("time = {ts}s");
            if let HostFilter::One(h) = host {
                w.push_str(&format!(" AND \"host\" = {}", literal(h)));
            }
            w
        }
    }
}

/// A tag value or key in line protocol: commas, spaces and equals signs are
/// escaped; a line break cannot be written at all.
pub(super) fn tag(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            ',' | ' ' | '=' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    if out.is_empty() || out.ends_with('\\') {
        out.push('_');
    }
    out
}

/// A string field value in line protocol: quoted, with `"` and `\` escaped.
pub(super) fn field_string(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
