//! The dense autoencoder of the design, in Candle:
//! n → 60 → 30 → 10 → 30 → 60 → n, ReLU between layers, linear output,
//! MSE loss, Adam (lr 1e-3), batch size 1, shuffled, seeded.
//!
//! Forward and backward passes are Candle tensors and Candle's autograd. The
//! Adam update runs over plain `Vec<f32>` copies of the parameters: at batch
//! size 1 the ~15 small tensor ops per parameter per step of an optimizer
//! built from tensor ops cost more than the whole forward pass.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, Var};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::denormals::FlushDenormals;
use super::IntelError;

/// Makes Candle multiply matrices on the calling thread. Candle sizes its
/// matrix-multiply parallelism per call from `RAYON_NUM_THREADS` (else the
/// CPU count); for matrices this small, handing work to a second thread
/// costs ~8× the work itself. Call at program start, before other threads
/// exist (it sets the variable when it is unset).
pub fn use_one_math_thread() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
}

/// Widths of the hidden layers, in order.
pub const HIDDEN: [usize; 5] = [60, 30, 10, 30, 60];

/// How to train.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainOptions {
    pub epochs: usize,
    pub learning_rate: f32,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 100,
            learning_rate: 1e-3,
            seed: 0,
        }
    }
}

struct Layer {
    w: Var,
    b: Var,
}

/// Adam's running moments of one parameter and its master copy.
struct AdamState {
    value: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
}

/// A trained (or freshly initialised) autoencoder.
pub struct Autoencoder {
    inputs: usize,
    layers: Vec<Layer>,
    device: Device,
}

fn candle(e: candle_core::Error) -> IntelError {
    IntelError::Model(e.to_string())
}

impl Autoencoder {
    /// A new network for `inputs` cells, initialised like PyTorch's `Linear`
    /// (uniform in ±1/√fan_in) from `seed`, so a run can be repeated exactly.
    pub fn new(inputs: usize, seed: u64) -> Result<Autoencoder, IntelError> {
        if inputs == 0 {
            return Err(IntelError::Model("an autoencoder needs inputs".into()));
        }
        let device = Device::Cpu;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut dims = vec![inputs];
        dims.extend(HIDDEN);
        dims.push(inputs);
        let mut layers = Vec::new();
        for pair in dims.windows(2) {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let bound = 1.0 / (fan_in as f32).sqrt();
            let mut draw = |n: usize| -> Vec<f32> {
                (0..n).map(|_| rng.random_range(-bound..bound)).collect()
            };
            let w = Var::from_vec(draw(fan_in * fan_out), (fan_in, fan_out), &device)
                .map_err(candle)?;
            let b = Var::from_vec(draw(fan_out), fan_out, &device).map_err(candle)?;
            layers.push(Layer { w, b });
        }
        Ok(Autoencoder {
            inputs,
            layers,
            device,
        })
    }

    pub fn inputs(&self) -> usize {
        self.inputs
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        let last = self.layers.len() - 1;
        for (i, l) in self.layers.iter().enumerate() {
            h = h.matmul(l.w.as_tensor())?.broadcast_add(l.b.as_tensor())?;
            if i < last {
                h = h.relu()?;
            }
        }
        Ok(h)
    }

    fn vars(&self) -> impl Iterator<Item = &Var> {
        self.layers.iter().flat_map(|l| [&l.w, &l.b])
    }

    /// Trains on `rows` (each `inputs` long) and returns the mean loss of
    /// the last epoch.
    pub fn train(&mut self, rows: &[Vec<f32>], opts: TrainOptions) -> Result<f32, IntelError> {
        if let Some(bad) = rows.iter().find(|r| r.len() != self.inputs) {
            return Err(IntelError::Model(format!(
                "a row of {} cells for a model of {}",
                bad.len(),
                self.inputs
            )));
        }
        // Late in training gradients and Adam's moments fall into denormal
        // range, where x86 floating point is many times slower.
        let _ftz = FlushDenormals::on();
        let inputs: Vec<Tensor> = rows
            .iter()
            .map(|r| Tensor::from_slice(r, (1, self.inputs), &self.device))
            .collect::<Result<_, _>>()
            .map_err(candle)?;
        let mut states: Vec<AdamState> = self
            .vars()
            .map(|v| {
                let value = v.as_tensor().flatten_all()?.to_vec1::<f32>()?;
                let n = value.len();
                Ok(AdamState {
                    value,
                    m: vec![0.0; n],
                    v: vec![0.0; n],
                })
            })
            .collect::<candle_core::Result<_>>()
            .map_err(candle)?;
        let (beta1, beta2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let lr = opts.learning_rate;
        let mut order = EpochOrder::new(rows.len(), opts.seed);
        let mut step = 0i32;
        let mut last_loss = 0.0f32;
        for _ in 0..opts.epochs {
            let mut total = 0.0f32;
            for &i in order.next_epoch() {
                step += 1;
                let x = &inputs[i];
                let y = self.forward(x).map_err(candle)?;
                let loss = (y - x)
                    .and_then(|d| d.sqr())
                    .and_then(|d| d.mean_all())
                    .map_err(candle)?;
                total += loss.to_scalar::<f32>().map_err(candle)?;
                let grads = loss.backward().map_err(candle)?;
                let c1 = 1.0 - beta1.powi(step);
                let c2 = 1.0 - beta2.powi(step);
                let step_size = lr / c1;
                let c2_sqrt = c2.sqrt();
                for (var, st) in self.vars().zip(states.iter_mut()) {
                    let Some(g) = grads.get(var.as_tensor()) else {
                        continue;
                    };
                    let g = g.flatten_all().and_then(|g| g.to_vec1::<f32>());
                    let g = g.map_err(candle)?;
                    for (((w, m), v), g) in st
                        .value
                        .iter_mut()
                        .zip(st.m.iter_mut())
                        .zip(st.v.iter_mut())
                        .zip(&g)
                    {
                        *m = beta1 * *m + (1.0 - beta1) * g;
                        *v = beta2 * *v + (1.0 - beta2) * g * g;
                        *w -= step_size * *m / (v.sqrt() / c2_sqrt + eps);
                    }
                    let t = Tensor::from_slice(&st.value, var.as_tensor().shape(), &self.device)
                        .map_err(candle)?;
                    var.set(&t).map_err(candle)?;
                }
            }
            last_loss = total / rows.len().max(1) as f32;
        }
        Ok(last_loss)
    }

    /// The reconstruction of one row.
    pub fn reconstruct(&self, row: &[f32]) -> Result<Vec<f32>, IntelError> {
        if row.len() != self.inputs {
            return Err(IntelError::Model(format!(
                "a row of {} cells for a model of {}",
                row.len(),
                self.inputs
            )));
        }
        let x = Tensor::from_slice(row, (1, self.inputs), &self.device).map_err(candle)?;
        self.forward(&x)
            .and_then(|y| y.flatten_all())
            .and_then(|y| y.to_vec1::<f32>())
            .map_err(candle)
    }

    /// Mean squared reconstruction error of one row.
    pub fn error(&self, row: &[f32]) -> Result<f64, IntelError> {
        let y = self.reconstruct(row)?;
        Ok(mse(row, &y))
    }

    /// The parameters as named tensors (`{prefix}l0.weight`, …; weights
    /// stored as [in, out]): (name, shape, values).
    pub fn tensors(&self, prefix: &str) -> Result<Vec<NamedTensor>, IntelError> {
        let mut out = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            for (part, var) in [("weight", &l.w), ("bias", &l.b)] {
                let t = var.as_tensor();
                let values = t.flatten_all().and_then(|t| t.to_vec1::<f32>());
                out.push((
                    format!("{prefix}l{i}.{part}"),
                    t.dims().to_vec(),
                    values.map_err(candle)?,
                ));
            }
        }
        Ok(out)
    }

    /// The parameters in the safetensors format.
    pub fn to_safetensors(&self) -> Result<Vec<u8>, IntelError> {
        Ok(safetensors_bytes(self.tensors("")?))
    }

    /// A model saved by [`Autoencoder::to_safetensors`].
    pub fn from_safetensors(bytes: &[u8]) -> Result<Autoencoder, IntelError> {
        let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu).map_err(candle)?;
        Autoencoder::from_tensors(tensors)
    }

    /// A model from tensors named as by [`Autoencoder::tensors`] with no prefix.
    pub fn from_tensors(mut tensors: HashMap<String, Tensor>) -> Result<Autoencoder, IntelError> {
        let device = Device::Cpu;
        let mut layers = Vec::new();
        for i in 0.. {
            let (Some(w), Some(b)) = (
                tensors.remove(&format!("l{i}.weight")),
                tensors.remove(&format!("l{i}.bias")),
            ) else {
                break;
            };
            let w = Var::from_tensor(&w.to_dtype(DType::F32).map_err(candle)?).map_err(candle)?;
            let b = Var::from_tensor(&b.to_dtype(DType::F32).map_err(candle)?).map_err(candle)?;
            layers.push(Layer { w, b });
        }
        let shapes_fit = layers.len() == HIDDEN.len() + 1
            && layers
                .windows(2)
                .all(|p| p[0].w.as_tensor().dims().get(1) == p[1].w.as_tensor().dims().first());
        let inputs = match (layers.first(), layers.last()) {
            (Some(first), Some(last)) if shapes_fit => {
                let n = first.w.as_tensor().dims()[0];
                if last.w.as_tensor().dims().get(1) != Some(&n) {
                    return Err(IntelError::Model("saved model: output ≠ input".into()));
                }
                n
            }
            _ => {
                return Err(IntelError::Model(format!(
                    "saved model has {} fitting layers, expected {}",
                    layers.len(),
                    HIDDEN.len() + 1
                )))
            }
        };
        Ok(Autoencoder {
            inputs,
            layers,
            device,
        })
    }
}

/// The shuffled order of the rows in each epoch, drawn from the training
/// seed. Shared by [`Autoencoder::train`] and [`epoch_orders`], so another
/// implementation can be fed exactly the same sequence of rows.
struct EpochOrder {
    rng: ChaCha8Rng,
    order: Vec<usize>,
}

impl EpochOrder {
    fn new(rows: usize, seed: u64) -> EpochOrder {
        EpochOrder {
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_5eed),
            order: (0..rows).collect(),
        }
    }

    fn next_epoch(&mut self) -> &[usize] {
        self.order.shuffle(&mut self.rng);
        &self.order
    }
}

/// The row indices [`Autoencoder::train`] visits in each epoch, for `rows`
/// rows and these options: `result[epoch][step]`.
pub fn epoch_orders(rows: usize, opts: TrainOptions) -> Vec<Vec<usize>> {
    let mut order = EpochOrder::new(rows, opts.seed);
    (0..opts.epochs)
        .map(|_| order.next_epoch().to_vec())
        .collect()
}

/// A tensor to save: name, shape, values.
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// Little-endian f32 tensors in the safetensors format: an 8-byte header
/// length, a JSON header of names, dtypes, shapes and offsets, then the data.
pub fn safetensors_bytes(mut tensors: Vec<NamedTensor>) -> Vec<u8> {
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let mut header = serde_json::Map::new();
    let mut data: Vec<u8> = Vec::new();
    for (name, shape, values) in tensors {
        let start = data.len();
        for v in values {
            data.extend_from_slice(&v.to_le_bytes());
        }
        header.insert(
            name,
            serde_json::json!({
                "dtype": "F32",
                "shape": shape,
                "data_offsets": [start, data.len()],
            }),
        );
    }
    let mut head = serde_json::Value::Object(header).to_string().into_bytes();
    // The format pads the header with spaces to 8-byte alignment.
    while head.len() % 8 != 0 {
        head.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + head.len() + data.len());
    out.extend_from_slice(&(head.len() as u64).to_le_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(&data);
    out
}

/// Mean squared difference of two equally long rows.
pub fn mse(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().max(1) as f64;
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = f64::from(*x) - f64::from(*y);
            d * d
        })
        .sum::<f64>()
        / n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Vec<f32>> {
        (0..8)
            .map(|i| {
                (0..24)
                    .map(|h| ((h as f32 / 4.0 + i as f32 * 0.1).sin() + 1.0) / 2.0)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn same_seed_same_model_and_training_lowers_the_error() {
        let data = rows();
        let opts = TrainOptions {
            epochs: 30,
            ..Default::default()
        };
        let mut a = Autoencoder::new(24, 3).unwrap();
        let before = a.error(&data[0]).unwrap();
        a.train(&data, opts).unwrap();
        let after = a.error(&data[0]).unwrap();
        assert!(after < before, "{after} < {before}");
        let mut b = Autoencoder::new(24, 3).unwrap();
        b.train(&data, opts).unwrap();
        assert_eq!(
            a.reconstruct(&data[1]).unwrap(),
            b.reconstruct(&data[1]).unwrap()
        );
        let c = Autoencoder::new(24, 4).unwrap();
        assert_ne!(
            a.reconstruct(&data[1]).unwrap(),
            c.reconstruct(&data[1]).unwrap()
        );
    }

    #[test]
    fn epoch_orders_are_seeded_permutations() {
        let opts = TrainOptions {
            epochs: 3,
            seed: 5,
            ..Default::default()
        };
        let orders = epoch_orders(10, opts);
        assert_eq!(orders.len(), 3);
        for o in &orders {
            let mut sorted = o.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        }
        assert_ne!(orders[0], orders[1], "reshuffled every epoch");
        assert_eq!(orders, epoch_orders(10, opts));
    }

    #[test]
    fn safetensors_round_trip_through_candle() {
        let data = rows();
        let mut a = Autoencoder::new(24, 9).unwrap();
        a.train(
            &data,
            TrainOptions {
                epochs: 2,
                ..Default::default()
            },
        )
        .unwrap();
        let bytes = a.to_safetensors().unwrap();
        let b = Autoencoder::from_safetensors(&bytes).unwrap();
        assert_eq!(b.inputs(), 24);
        assert_eq!(
            a.reconstruct(&data[2]).unwrap(),
            b.reconstruct(&data[2]).unwrap()
        );
        assert!(Autoencoder::from_safetensors(b"nonsense").is_err());
        assert!(a.train(&[vec![0.0; 5]], TrainOptions::default()).is_err());
    }
}
