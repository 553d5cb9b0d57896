//! Intelligence: learns the owner's daily rhythm from the store's hourly
//! sums and judges each local day against it.
//!
//! `matrix` turns stored hours into day matrices, `baseline` picks the days
//! a day is judged against, `autoencoder` is the Candle model, `detector`
//! trains and applies it, `judge` judges a day in steps (with `uploads`,
//! `envelope` and `routine` among its signals and second looks), `verdict`
//! says what was found and why, `record` keeps verdicts in the store and
//! `typical` draws the typical day for the window.

pub mod autoencoder;
pub mod baseline;
pub mod config;
pub mod denormals;
pub mod detector;
pub mod envelope;
pub mod error;
pub mod judge;
pub mod matrix;
pub mod record;
pub mod routine;
pub mod stats;
pub mod status;
pub mod typical;
pub mod uploads;
pub mod verdict;

pub use autoencoder::use_one_math_thread;
pub use config::{IntelConfig, DEFAULT_MIN_CHANGE_BYTES};
pub use error::IntelError;
pub use judge::{judge, judge_so_far, Judged};
pub use record::{
    judge_and_store, last_complete_day, new_normal, parse_verdict, recheck, store_failure,
};
