//! Pausing a running source: the owner's "Pause watching".
//!
//! While paused the source is not running at all (no nettop child, no socket
//! polls), so nothing is counted; resuming starts it afresh. Stopping and
//! starting the source, rather than teaching every source to idle, keeps the
//! sources simple and makes "paused" mean exactly "not watching".

use std::sync::Arc;

use tokio::sync::watch;

/// A switch shared by whoever pauses (the tray) and the running pipeline.
#[derive(Debug, Clone)]
pub struct PauseSwitch {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for PauseSwitch {
    fn default() -> Self {
        PauseSwitch::new(false)
    }
}

impl PauseSwitch {
    pub fn new(paused: bool) -> PauseSwitch {
        PauseSwitch {
            tx: Arc::new(watch::Sender::new(paused)),
        }
    }

    pub fn pause(&self) {
        self.set(true);
    }

    pub fn resume(&self) {
        self.set(false);
    }

    pub fn set(&self, paused: bool) {
        self.tx
            .send_if_modified(|p| std::mem::replace(p, paused) != paused);
    }

    pub fn is_paused(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once the switch is in position `paused` (at once if it is).
    pub async fn wait_for(&self, paused: bool) {
        let mut rx = self.tx.subscribe();
        // The sender lives in `self`, so the channel cannot close here.
        let _ = rx.wait_for(|p| *p == paused).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn waiters_wake_when_the_switch_moves() {
        let s = PauseSwitch::default();
        assert!(!s.is_paused());
        // Already in position: no wait.
        tokio::time::timeout(Duration::from_secs(1), s.wait_for(false))
            .await
            .unwrap();
        let waiter = {
            let s = s.clone();
            tokio::spawn(async move { s.wait_for(true).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        s.pause();
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(s.is_paused());
        s.resume();
        assert!(!s.is_paused());
    }
}
