//! nettop parser throughput (MB/s) over large synthetic captures shaped like
//! real `nettop -P -d -x -L 0 -J bytes_in,bytes_out` output, and like the
//! output without `-P` (each process followed by its socket rows, with the
//! interface column), whose destinations are summed per process.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use nbi_core::source::nettop::parse::{parse_str, NettopParser, ParseOptions};

const PROCESSES: usize = 200;
const BLOCKS: usize = 500;

/// Names like nettop's: cut to 15 characters, with spaces, dots and
/// parentheses.
fn names() -> Vec<String> {
    const STEMS: &[&str] = &[
        "Google Chrome H",
        "Microsoft Edge ",
        "Code Helper (Pl",
        "com.apple.WebKi",
        "io.tailscale.ip",
        "Slack Helper",
        "mDNSResponder",
        "Spotify",
        "kernel_task",
        "curl",
    ];
    (0..PROCESSES)
        .map(|i| STEMS[i % STEMS.len()].to_string())
        .collect()
}

fn capture(with_time: bool) -> String {
    let names = names();
    let mut text = String::new();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in 0..BLOCKS {
        text.push_str(if with_time {
            "time,,bytes_in,bytes_out,\n"
        } else {
            ",bytes_in,bytes_out,\n"
        });
        for (i, name) in names.iter().enumerate() {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Most processes are quiet in a sample; a few move megabytes.
            let (bytes_in, bytes_out) = match seed >> 60 {
                0..=9 => (0, 0),
                10..=14 => ((seed >> 40) & 0xFFFF, (seed >> 20) & 0xFFF),
                _ => ((seed >> 30) & 0xFF_FFFF, (seed >> 10) & 0xF_FFFF),
            };
            if with_time {
                text.push_str(&format!(
                    "{:02}:{:02}:{:02}.{:06},",
                    (b / 3600) % 24,
                    (b / 60) % 60,
                    b % 60,
                    i * 7
                ));
            }
            text.push_str(&format!(
                "{name}.{},{bytes_in},{bytes_out},\n",
                1000 + i * 37
            ));
        }
    }
    text
}

/// Without `-P`: each process row followed by three socket rows (IPv4,
/// IPv6, an unconnected UDP socket), as `-J time,interface,bytes_in,bytes_out`.
fn socket_capture() -> String {
    let names = names();
    let mut text = String::new();
    for b in 0..BLOCKS {
        text.push_str("time,,interface,bytes_in,bytes_out,\n");
        for (i, name) in names.iter().enumerate() {
            let t = format!(
                "{:02}:{:02}:{:02}.{:06}",
                (b / 3600) % 24,
                (b / 60) % 60,
                b % 60,
                i
            );
            let (a, c) = ((b * 31 + i * 7) % 250 + 1, (b + i) % 250 + 1);
            text.push_str(&format!(
                "{t},{name}.{},,{},{},\n",
                1000 + i * 37,
                3 * (a + c),
                a + c
            ));
            text.push_str(&format!(
                "{t},tcp4 192.168.1.20:{}<->17.57.{a}.{c}:443,en0,{a},{c},\n",
                50000 + i
            ));
            text.push_str(&format!(
                "{t},tcp6 2a01:e0a:1f3::5.{}<->2606:4700::{a:x}:{c:x}.443,en0,{c},{a},\n",
                51000 + i
            ));
            text.push_str(&format!("{t},udp4 *:5353<->*:*,en0,{a},{c},\n"));
        }
    }
    text
}

fn bench(c: &mut Criterion) {
    let opts = ParseOptions {
        drop_first_block: true,
    };
    let mut group = c.benchmark_group("nettop_parse");
    group.sample_size(20);
    for (label, with_time) in [("time_column", true), ("no_time_column", false)] {
        let text = capture(with_time);
        let (blocks, errors) = parse_str(&text, opts);
        assert!(errors.is_empty() && blocks.len() == BLOCKS - 1);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(format!("parse_str/{label}"), |b| {
            b.iter(|| parse_str(black_box(&text), opts))
        });
        // The source's path: line by line, blocks handed out as they close.
        group.bench_function(format!("feed_line/{label}"), |b| {
            b.iter(|| {
                let mut p = NettopParser::new(opts);
                let mut rows = 0usize;
                for line in black_box(&text).lines() {
                    if let Ok(Some(block)) = p.feed_line(line) {
                        rows += block.rows.len();
                    }
                }
                rows
            })
        });
    }
    // With socket rows, and each process's destinations summed as the
    // source does; the same run's `feed_line/time_column` is the reference.
    let text = socket_capture();
    let (blocks, errors) = parse_str(&text, opts);
    assert!(
        errors.is_empty() && blocks.len() == BLOCKS - 1,
        "{errors:?}"
    );
    assert_eq!(blocks[0].rows[0].destinations().len(), 2);
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("feed_line/socket_rows_with_destinations", |b| {
        b.iter(|| {
            let mut p = NettopParser::new(opts);
            let mut places = 0usize;
            for line in black_box(&text).lines() {
                if let Ok(Some(block)) = p.feed_line(line) {
                    places += block
                        .rows
                        .iter()
                        .map(|r| r.destinations().len())
                        .sum::<usize>();
                }
            }
            places
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
