//! The address table: decoding the shipped table (what the first lookup
//! after start costs) and lookups per second over 10,000 random public
//! addresses, IPv4 and IPv6.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use nbi_core::destination::table::AddressTable;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ADDRESSES: usize = 10_000;

/// The shipped table's file, as compiled into the binary.
fn shipped_file() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/address-table.bin"
    ))
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("address_table");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    // Reading the 2.6 MB file from the page cache is well under a
    // millisecond; the rest is inflating and decoding the ranges.
    g.bench_function("decode_shipped", |b| {
        b.iter(|| AddressTable::from_path(black_box(shipped_file())).unwrap())
    });
    g.finish();
}

/// Random addresses: three quarters IPv4 anywhere, a quarter IPv6 in
/// 2000::/4 (where the global unicast ranges are).
fn addresses() -> Vec<IpAddr> {
    let mut rng = ChaCha8Rng::seed_from_u64(0x00AD_D7E5);
    (0..ADDRESSES)
        .map(|_| {
            if rng.random_ratio(3, 4) {
                IpAddr::V4(Ipv4Addr::from(rng.random::<u32>()))
            } else {
                let low: u128 = rng.random::<u128>() >> 4;
                IpAddr::V6(Ipv6Addr::from((0x2u128 << 124) | low))
            }
        })
        .collect()
}

fn lookup(c: &mut Criterion) {
    let table = AddressTable::shipped();
    let ips = addresses();
    let mut g = c.benchmark_group("address_table");
    g.throughput(Throughput::Elements(ips.len() as u64));
    g.bench_function("lookup_10k_random", |b| {
        b.iter(|| {
            for ip in &ips {
                black_box(table.lookup(black_box(*ip)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, decode, lookup);
criterion_main!(benches);
