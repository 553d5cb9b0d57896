//! The nettop parser never panics, whatever it is fed, and reads back
//! exactly what a well-formed capture holds.

use nbi_core::source::nettop::parse::{
    parse_str, Block, NettopParser, ParseError, ParseOptions, ProcessRow,
};
use proptest::prelude::*;

const FIXTURES: &[&str] = &[
    include_str!("fixtures/nettop/p-d-time.csv"),
    include_str!("fixtures/nettop/p-d-no-time.csv"),
    include_str!("fixtures/nettop/interface-state.csv"),
    include_str!("fixtures/nettop/no-P-sockets.csv"),
    include_str!("fixtures/nettop/broken.csv"),
];

/// Whatever came out is a well-formed row.
fn check_rows<'a>(rows: impl IntoIterator<Item = &'a ProcessRow>) {
    for r in rows {
        assert!(!r.name.is_empty(), "{r:?}");
        assert_eq!(r.name, r.name.trim_end(), "{r:?}");
        // Commas are allowed: nettop does not quote names.
        assert!(!r.name.contains(['\n', '\r']), "{r:?}");
    }
}

fn feed_all(text: &str, opts: ParseOptions, finish_every: usize) {
    let mut p = NettopParser::new(opts);
    for (i, line) in text.split('\n').enumerate() {
        if let Ok(Some(b)) = p.feed_line(line) {
            check_rows(&b.rows);
        }
        if finish_every > 0 && i % finish_every == 0 {
            if let Some(b) = p.finish() {
                check_rows(&b.rows);
            }
        }
    }
    if let Some(b) = p.finish() {
        check_rows(&b.rows);
    }
}

/// What `parse_str` must give: every `\n`-separated line fed, then finish.
fn reference(text: &str, opts: ParseOptions) -> (Vec<Block>, Vec<ParseError>) {
    let mut p = NettopParser::new(opts);
    let mut blocks = Vec::new();
    let mut errors = Vec::new();
    for line in text.split('\n') {
        match p.feed_line(line) {
            Ok(b) => blocks.extend(b),
            Err(e) => errors.push(e),
        }
    }
    blocks.extend(p.finish());
    (blocks, errors)
}

#[derive(Debug, Clone)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    DuplicateLine { line: usize },
    SwapLines { a: usize, b: usize },
    Truncate { at: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    let noise = prop_oneof![
        "[,.\\n\\r 0-9a-z<>:*()-]{1,12}",
        any::<String>(),
        Just("time,,bytes_in,bytes_out,\n".to_string()),
        Just(",bytes_in,bytes_out,\n".to_string()),
        Just("99999999999999999999999".to_string()),
    ];
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), noise).prop_map(|(at, text)| Edit::Insert { at, text }),
        any::<usize>().prop_map(|line| Edit::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines { a, b }),
        any::<usize>().prop_map(|at| Edit::Truncate { at }),
    ]
}

fn floor_boundary(s: &str, at: usize) -> usize {
    let mut at = at % (s.len() + 1);
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(mut text: String, edits: &[Edit]) -> String {
    for e in edits {
        match e {
            Edit::Delete { at, len } => {
                let start = floor_boundary(&text, *at);
                let end = floor_boundary(&text, (start + len).min(text.len()));
                if end > start {
                    text.replace_range(start..end, "");
                }
            }
            Edit::Insert { at, text: t } => {
                let at = floor_boundary(&text, *at);
                text.insert_str(at, t);
            }
            Edit::DuplicateLine { line } => {
                let mut lines: Vec<&str> = text.split('\n').collect();
                let i = line % lines.len();
                lines.insert(i, lines[i]);
                text = lines.join("\n");
            }
            Edit::SwapLines { a, b } => {
                let mut lines: Vec<&str> = text.split('\n').collect();
                let n = lines.len();
                lines.swap(a % n, b % n);
                text = lines.join("\n");
            }
            Edit::Truncate { at } => {
                let at = floor_boundary(&text, *at);
                text.truncate(at);
            }
        }
    }
    text
}

/// A generated process for a well-formed capture.
fn process() -> impl Strategy<Value = (String, u32)> {
    (
        "[A-Za-z][A-Za-z0-9 ().-]{0,13}[A-Za-z0-9)]",
        1u32..=u32::MAX,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>(), drop in any::<bool>(), every in 0usize..5) {
        let opts = ParseOptions { drop_first_block: drop };
        let parsed = parse_str(&text, opts);
        check_rows(parsed.0.iter().flat_map(|b| &b.rows));
        prop_assert_eq!(&parsed, &reference(&text, opts));
        feed_all(&text, opts, every);
    }

    #[test]
    fn nettop_like_text_never_panics(
        text in "(time|,bytes_in|bytes_out|interface|[0-9]{1,25}|[a-z .()]{1,16}|\\.|,|\\n|\\r|<->|\\*)*",
        drop in any::<bool>(),
    ) {
        let (blocks, _) = parse_str(&text, ParseOptions { drop_first_block: drop });
        check_rows(blocks.iter().flat_map(|b| &b.rows));
    }

    #[test]
    fn mutated_captures_never_panic(
        which in 0..FIXTURES.len(),
        edits in prop::collection::vec(edit(), 1..8),
        drop in any::<bool>(),
        every in 0usize..7,
    ) {
        let text = apply(FIXTURES[which].to_string(), &edits);
        let opts = ParseOptions { drop_first_block: drop };
        let parsed = parse_str(&text, opts);
        check_rows(parsed.0.iter().flat_map(|b| &b.rows));
        prop_assert_eq!(&parsed, &reference(&text, opts));
        feed_all(&text, opts, every);
    }

    #[test]
    fn well_formed_captures_read_back_exactly(
        samples in prop::collection::vec(
            prop::collection::vec((process(), any::<u64>(), any::<u64>()), 1..12),
            1..6,
        ),
        with_time in any::<bool>(),
    ) {
        let header = if with_time { "time,,bytes_in,bytes_out,\n" } else { ",bytes_in,bytes_out,\n" };
        let mut text = String::new();
        for (s, rows) in samples.iter().enumerate() {
            text.push_str(header);
            for ((name, pid), i, o) in rows {
                if with_time {
                    text.push_str(&format!("12:00:{:02}.000001,", s % 60));
                }
                text.push_str(&format!("{name}.{pid},{i},{o},\n"));
            }
        }
        let (blocks, errors) = parse_str(&text, ParseOptions { drop_first_block: true });
        prop_assert_eq!(errors, vec![]);
        prop_assert_eq!(blocks.len(), samples.len() - 1);
        for (block, rows) in blocks.iter().zip(&samples[1..]) {
            let want: Vec<ProcessRow> = rows
                .iter()
                .map(|((name, pid), i, o)| ProcessRow {
                    name: name.trim_end().to_string(),
                    pid: *pid,
                    bytes_in: *i,
                    bytes_out: *o,
                    sockets: Vec::new(),
                })
                .collect();
            prop_assert_eq!(&block.rows, &want);
            prop_assert_eq!(block.time.is_some(), with_time);
        }
    }
}
