//! Training the autoencoder on N = 7, 30 and 60 baseline days: one network
//! of the original design (120 inputs) and one of the default (144), 100
//! epochs at batch size 1, as each nightly run does.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use nbi_core::intel::autoencoder::{Autoencoder, TrainOptions};

fn days(n: usize, inputs: usize) -> Vec<Vec<f32>> {
    (0..n)
        .map(|i| {
            (0..inputs)
                .map(|c| ((c * 7 + i * 3) % 17) as f32 / 17.0)
                .collect()
        })
        .collect()
}

fn training(c: &mut Criterion) {
    nbi_core::intel::use_one_math_thread();
    let mut g = c.benchmark_group("autoencoder_train_100_epochs");
    g.sample_size(10);
    for inputs in [120usize, 144] {
        for n in [7usize, 30, 60] {
            let rows = days(n, inputs);
            g.bench_with_input(
                BenchmarkId::new(format!("{inputs}_inputs"), n),
                &rows,
                |b, rows| {
                    b.iter(|| {
                        let mut net = Autoencoder::new(inputs, 1).expect("model");
                        net.train(rows, TrainOptions::default()).expect("train")
                    })
                },
            );
        }
    }
    g.finish();
}

criterion_group!(benches, training);
criterion_main!(benches);
