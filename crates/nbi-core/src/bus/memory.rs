//! The in-process bus: a bounded queue with back-pressure.

use std::time::Duration;

use tokio::sync::mpsc;

use super::{BusError, Delivery, Publisher, Subscriber};
use crate::tick::Tick;

/// A bounded in-process bus of `capacity` ticks.
pub fn channel(capacity: usize) -> (MemoryPublisher, MemorySubscriber) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (MemoryPublisher { tx }, MemorySubscriber { rx })
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
}

impl Subscriber for MemorySubscriber {
    type Ack = ();

    async fn next_batch(
        &mut self,
        max: usize,
        linger: Duration,
    ) -> Result<Vec<Delivery<()>>, BusError> {
        let mut out = Vec::new();
        let Some(first) = self.rx.recv().await else {
            return Ok(out);
        };
        out.push(Delivery {
            tick: first,
            ack: (),
        });
        let deadline = tokio::time::Instant::now() + linger;
        while out.len() < max {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(tick)) => out.push(Delivery { tick, ack: () }),
                Ok(None) | Err(_) => break,
            }
        }
        Ok(out)
    }

    async fn ack(&mut self, _acks: Vec<()>) -> Result<(), BusError> {
        Ok(())
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
    async fn closed_bus_drains_then_ends() {
        let (tx, mut rx) = channel(8);
        tx.publish(tick(1)).await.unwrap();
        drop(tx);
        assert_eq!(rx.next_batch(10, Duration::ZERO).await.unwrap().len(), 1);
        assert!(rx.next_batch(10, Duration::ZERO).await.unwrap().is_empty());
    }
}
