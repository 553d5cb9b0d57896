//! Network Behavior Intelligence: everything that is not UI.
//!
//! Source ─Tick→ Bus ─Tick→ Collector ─batch→ Store. See the README for the
//! picture and the data contracts.

pub mod app;
pub mod bus;
pub mod clock;
pub mod collector;
pub mod config;
pub mod counting;
pub mod destination;
pub mod evaluation;
pub mod export;
pub mod files;
pub mod history;
pub mod human;
pub mod intel;
pub mod lines;
pub mod network;
pub mod notify;
pub mod paths;
pub mod plan;
pub mod runtime;
pub mod schedule;
pub mod source;
pub mod spool;
pub mod store;
pub mod synth;
pub mod tick;
pub mod view;

pub use tick::{AppUsage, Tick};
