//! The bus between sources and the collector.
//!
//! [`memory`] is the embedded default: a bounded in-process queue whose
//! `publish` waits when the collector falls behind (back-pressure). A broker
//! implements the same two traits; its deliveries carry offsets that the
//! collector acknowledges only after the store has them durably.

#[cfg(feature = "kafka")]
pub mod kafka;
pub mod memory;

use std::future::Future;
use std::time::Duration;

use crate::tick::Tick;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("the bus is closed")]
    Closed,
    #[error("bus: {0}")]
    Other(String),
}

/// How a broker bus is doing on the watcher's side, for status displays.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BusStatus {
    /// Whether the last attempt to reach the broker worked.
    pub connected: bool,
    /// Ticks in the disk spool, not yet acknowledged by the broker.
    pub spooled: u64,
    /// Ticks the broker has acknowledged since start.
    pub sent: u64,
    /// Ticks dropped since start because the spool was full.
    pub dropped: u64,
    pub last_error: Option<String>,
}

/// Where sources send ticks.
pub trait Publisher: Clone + Send + Sync + 'static {
    /// Sends one tick, waiting while the bus is full.
    fn publish(&self, tick: Tick) -> impl Future<Output = Result<(), BusError>> + Send;
}

/// A received tick and what must be acknowledged once it is stored.
#[derive(Debug)]
pub struct Delivery<A> {
    pub tick: Tick,
    pub ack: A,
}

/// Where the collector reads ticks.
pub trait Subscriber: Send + 'static {
    /// Acknowledgement token of one delivery (a Kafka offset; `()` in memory).
    type Ack: Send + std::fmt::Debug;

    /// Waits for up to `max` deliveries: returns as soon as `max` are in hand
    /// or `linger` has passed since the first one. `Ok(empty)` means the bus
    /// is closed and drained.
    ///
    /// Cancel safety: this future may be dropped at any await (a collector
    /// races it against shutdown). Deliveries it had already taken from the
    /// bus are kept in the subscriber, for the next call or for
    /// [`Subscriber::take_ready`]; nothing the bus delivered is lost.
    fn next_batch(
        &mut self,
        max: usize,
        linger: Duration,
    ) -> impl Future<Output = Result<Vec<Delivery<Self::Ack>>, BusError>> + Send;

    /// The deliveries already taken from the bus and not yet returned (a
    /// batch that was lingering when [`Subscriber::next_batch`] was
    /// cancelled), without waiting: what a collector stores at shutdown.
    fn take_ready(&mut self) -> Vec<Delivery<Self::Ack>>;

    /// Marks deliveries as durably handled (commit offsets).
    fn ack(&mut self, acks: Vec<Self::Ack>) -> impl Future<Output = Result<(), BusError>> + Send;
}
