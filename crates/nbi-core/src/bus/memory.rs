//! The in-process bus: a bounded queue with back-pressure.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{BusError, Delivery, Publisher, Subscriber};
use crate::tick::Tick;

/// A bounded in-process bus of `capacity` ticks.
pub fn channel(capacity: usize) -> (MemoryPublisher, MemorySubscriber) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (
        MemoryPublisher { tx },
        MemorySubscriber {
            rx,
            batch: Vec::new(),
            deadline: None,
            dead_letters: None,
        },
    )
}

#[derive(Clone)]
pub struct MemoryPublisher {
    tx: mpsc::Sender<Tick>,
}

impl Publisher for MemoryPublisher {
    async fn publish(&self, tick: Tick) -> Result<(), BusError> {
        self.tx.send(tick).await.map_err(|_| BusError::Closed)
    }
}

pub struct MemorySubscriber {
    rx: mpsc::Receiver<Tick>,
    /// The batch being gathered: kept here, not in the future, so that a
    /// cancelled `next_batch` loses nothing (`mpsc::Receiver::recv` is
    /// cancel-safe itself).
    batch: Vec<Delivery<()>>,
    deadline: Option<tokio::time::Instant>,
    /// Where ticks the store refuses go (NDJSON, 0600); `None`: the log.
    dead_letters: Option<PathBuf>,
}

impl MemorySubscriber {
    /// Ticks the store refuses for what they hold are appended to `path`,
    /// one `{"reason":…,"tick":…}` line each, rather than only logged.
    pub fn with_dead_letters(mut self, path: PathBuf) -> MemorySubscriber {
        self.dead_letters = Some(path);
        self
    }
}

impl Subscriber for MemorySubscriber {
    type Ack = ();

    async fn next_batch(
        &mut self,
        max: usize,
        linger: Duration,
    ) -> Result<Vec<Delivery<()>>, BusError> {
        let max = max.max(1);
        while self.batch.len() < max {
            let received = match self.deadline {
                None => self.rx.recv().await,
                Some(d) => match tokio::time::timeout_at(d, self.rx.recv()).await {
                    Ok(r) => r,
                    Err(_) => break,
                },
            };
            let Some(tick) = received else { break };
            self.batch.push(Delivery { tick, ack: () });
            self.deadline
                .get_or_insert_with(|| tokio::time::Instant::now() + linger);
        }
        self.deadline = None;
        Ok(std::mem::take(&mut self.batch))
    }

    fn take_ready(&mut self) -> Vec<Delivery<()>> {
        self.deadline = None;
        std::mem::take(&mut self.batch)
    }

    async fn ack(&mut self, _acks: Vec<()>) -> Result<(), BusError> {
        Ok(())
    }

    async fn dead_letter(&mut self, _ack: &(), tick: &Tick, reason: &str) -> Result<(), BusError> {
        let line = serde_json::json!({"reason": reason, "tick": tick.to_json()}).to_string();
        let Some(path) = self.dead_letters.clone() else {
            tracing::error!(reason, tick = %crate::human::cut(&line, 2000), "the store refused this tick; it is only in this log");
            return Ok(());
        };
        tracing::warn!(reason, file = %path.display(), "the store refused this tick: set aside");
        let written = tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut f = crate::files::open_append(&path)?;
            writeln!(f, "{line}")?;
            f.sync_data()
        })
        .await
        .map_err(|e| BusError::Other(e.to_string()))?;
        written.map_err(|e| BusError::Other(format!("writing a dead letter: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn tick(n: i64) -> Tick {
        Tick::from_totals(
            "h",
            DateTime::from_timestamp(n * 60, 0).unwrap(),
            60,
            [("a".to_string(), (n as u64 + 1, 0))],
        )
    }

    #[tokio::test]
    async fn publish_waits_when_full() {
        let (tx, mut rx) = channel(2);
        tx.publish(tick(1)).await.unwrap();
        tx.publish(tick(2)).await.unwrap();
        let third = tokio::time::timeout(Duration::from_millis(50), tx.publish(tick(3))).await;
        assert!(third.is_err(), "a full bus must make the publisher wait");
        let batch = rx.next_batch(10, Duration::from_millis(10)).await.unwrap();
        assert_eq!(batch.len(), 2);
        tx.publish(tick(3)).await.unwrap();
    }

    #[tokio::test]
    async fn a_cancelled_batch_loses_nothing() {
        let (tx, mut rx) = channel(8);
        for n in 1..=3 {
            tx.publish(tick(n)).await.unwrap();
        }
        // Cancelled while lingering for more: the three stay in the subscriber.
        let cut = tokio::time::timeout(
            Duration::from_millis(30),
            rx.next_batch(10, Duration::from_secs(60)),
        )
        .await;
        assert!(cut.is_err(), "still lingering");
        let ready = rx.take_ready();
        assert_eq!(ready.len(), 3);
        assert!(rx.take_ready().is_empty());
        // And a cancelled batch is the start of the next one.
        tx.publish(tick(4)).await.unwrap();
        let _ = tokio::time::timeout(
            Duration::from_millis(30),
            rx.next_batch(10, Duration::from_secs(60)),
        )
        .await;
        tx.publish(tick(5)).await.unwrap();
        let batch = rx.next_batch(2, Duration::from_secs(60)).await.unwrap();
        let minutes: Vec<i64> = batch.iter().map(|d| d.tick.at.timestamp() / 60).collect();
        assert_eq!(minutes, vec![4, 5]);
    }

    #[tokio::test]
    async fn closed_bus_drains_then_ends() {
        let (tx, mut rx) = channel(8);
        tx.publish(tick(1)).await.unwrap();
        drop(tx);
        assert_eq!(rx.next_batch(10, Duration::ZERO).await.unwrap().len(), 1);
        assert!(rx.next_batch(10, Duration::ZERO).await.unwrap().is_empty());
    }
}
