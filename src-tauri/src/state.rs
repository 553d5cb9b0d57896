//! The running pipeline and what the app knows about it: the source's
//! status, pausing, the store, the nightly judge and "check now". Every
//! decision is nbi-core's; this only wires it to the app.

use nbi_core::store::VerdictStore;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use nbi_core::collector::{CollectorOptions, CollectorStats};
use nbi_core::intel::verdict::Verdict;
use nbi_core::intel::{judge_and_store, last_complete_day};
use nbi_core::notify::Notice;
use nbi_core::pipeline::{self, EmbeddedRun};
use nbi_core::schedule::Nightly;
use nbi_core::source::pause::PauseSwitch;
use nbi_core::source::{SourceState, SourceStatus, StatusTx};
use nbi_core::store::sqlite::SqliteStore;
use nbi_core::view::{StatusView, VerdictView};
use tauri::async_runtime::{self, JoinHandle};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::settings::Settings;

/// What the shell reacts to besides the source's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppEvent {
    /// A verdict was stored or changed: the window and the tray refresh.
    Verdicts,
    /// Open the window on this day (its notification was clicked).
    ShowDay(NaiveDate),
}

/// How long pause and resume wait for the source to follow.
const SWITCH_WAIT: Duration = Duration::from_secs(5);
/// How long quitting waits for the last ticks to be stored.
const FLUSH_WAIT: Duration = Duration::from_secs(10);

pub struct AppState {
    settings: Arc<Settings>,
    pause: PauseSwitch,
    status: StatusTx,
    stored: watch::Sender<CollectorStats>,
    events: broadcast::Sender<AppEvent>,
    shutdown: CancellationToken,
    pipeline: Mutex<Option<JoinHandle<()>>>,
    nightly: Mutex<Option<JoinHandle<()>>>,
    /// One judgement at a time: "Check now" twice trains once.
    checking: tokio::sync::Mutex<()>,
    /// Why nothing runs (a configuration that cannot be used).
    problem: Option<String>,
}

impl AppState {
    pub fn new(settings: Settings, problem: Option<String>) -> AppState {
        let (status, _) = pipeline::status_channel(settings.source.kind());
        if let Some(reason) = &problem {
            status.send_modify(|s| {
                s.state = SourceState::Failing {
                    reason: reason.clone(),
                }
            });
        }
        AppState {
            settings: Arc::new(settings),
            pause: PauseSwitch::default(),
            status,
            stored: watch::Sender::new(CollectorStats::default()),
            events: broadcast::channel(64).0,
            shutdown: CancellationToken::new(),
            pipeline: Mutex::new(None),
            nightly: Mutex::new(None),
            checking: tokio::sync::Mutex::new(()),
            problem,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Starts watching and the nightly judge (nothing when the
    /// configuration could not be used: the status says why).
    pub fn start(&self) {
        self.start_watching();
        self.start_judging();
    }

    /// Starts the pipeline alone (no nightly judge).
    pub fn start_watching(&self) {
        if self.problem.is_none() {
            self.start_pipeline();
        }
    }

    /// Judges the days due now and then every night.
    fn start_judging(&self) {
        if self.problem.is_some() {
            return;
        }
        let nightly = Nightly {
            host: self.settings.config.host.clone(),
            tz: self.settings.tz,
            config: self.settings.config.intel.clone(),
            max_catch_up: 14,
        };
        let db = self.settings.db.clone();
        let announcer = self.announcer();
        let stop = self.shutdown.child_token();
        let task = async_runtime::spawn(nightly.run(
            move || SqliteStore::open(&db),
            move |v| announcer.announce(v),
            stop,
        ));
        *lock(&self.nightly) = Some(task);
    }

    fn start_pipeline(&self) {
        let mut slot = lock(&self.pipeline);
        if slot.as_ref().is_some_and(|t| !t.inner().is_finished()) {
            return;
        }
        let s = self.settings.clone();
        let run = EmbeddedRun {
            host: s.config.host.clone(),
            interval: s.config.interval(),
            counting: std::sync::Arc::new(s.config.counting()),
            source: s.source.clone(),
            collector: CollectorOptions {
                batch_max: s.config.collector.batch_max,
                linger: Duration::from_millis(s.config.collector.linger_ms),
                counting: std::sync::Arc::new(s.config.counting()),
                ..CollectorOptions::default()
            },
            bus_capacity: s.config.collector.bus_capacity,
            // So that `nbi status` sees the app's pipeline too.
            status_file: Some(pipeline::status_path(&s.db)),
            pause: Some(self.pause.clone()),
            status: Some(self.status.clone()),
            stored: Some(self.stored.clone()),
        };
        let status = self.status.clone();
        let shutdown = self.shutdown.clone();
        *slot = Some(async_runtime::spawn(async move {
            let db = s.db.clone();
            let opened = async_runtime::spawn_blocking(move || SqliteStore::open(&db)).await;
            let store = match opened {
                Ok(Ok(store)) => store,
                Ok(Err(e)) => return failing(&status, e.to_string()),
                Err(e) => return failing(&status, e.to_string()),
            };
            tracing::info!(source = %s.source.kind(), db = %s.db.display(), host = %s.config.host, "watching");
            match run.run(store, shutdown).await {
                Ok(report) => tracing::info!(
                    ticks_written = report.collector.ticks_written,
                    "watching stopped; everything received is stored"
                ),
                Err(e) => failing(&status, e.to_string()),
            }
        }));
    }

    /// Stops watching and waits (a little) for what was received to be stored.
    pub async fn stop(&self) {
        self.shutdown.cancel();
        let tasks: Vec<JoinHandle<()>> = [&self.pipeline, &self.nightly]
            .into_iter()
            .filter_map(|slot| lock(slot).take())
            .collect();
        for task in tasks {
            if tokio::time::timeout(FLUSH_WAIT, task).await.is_err() {
                tracing::warn!("quitting before everything was stored");
            }
        }
    }

    pub fn status_view(&self) -> StatusView {
        StatusView::new(
            &self.status.borrow(),
            self.settings.host(),
            self.settings.grafana_url(),
        )
    }

    pub fn subscribe_status(&self) -> watch::Receiver<SourceStatus> {
        self.status.subscribe()
    }

    pub fn subscribe_stored(&self) -> watch::Receiver<CollectorStats> {
        self.stored.subscribe()
    }

    pub fn subscribe_events(&self) -> broadcast::Receiver<AppEvent> {
        self.events.subscribe()
    }

    pub fn is_paused(&self) -> bool {
        self.pause.is_paused()
    }

    /// Pauses watching; answers once the source has stopped.
    pub async fn pause(&self) -> Result<StatusView, String> {
        self.usable()?;
        self.pause.pause();
        self.wait_state(|s| {
            matches!(
                s,
                SourceState::Paused | SourceState::Stopped | SourceState::Finished
            )
        })
        .await;
        Ok(self.status_view())
    }

    /// Resumes watching (starting the pipeline again if it had ended).
    pub async fn resume(&self) -> Result<StatusView, String> {
        self.usable()?;
        self.pause.resume();
        self.start_pipeline();
        self.wait_state(|s| !matches!(s, SourceState::Paused)).await;
        Ok(self.status_view())
    }

    fn usable(&self) -> Result<(), String> {
        match &self.problem {
            Some(p) => Err(p.clone()),
            None => Ok(()),
        }
    }

    async fn wait_state(&self, f: impl Fn(&SourceState) -> bool) {
        let mut rx = self.status.subscribe();
        let _ = tokio::time::timeout(SWITCH_WAIT, rx.wait_for(|s| f(&s.state))).await;
    }

    /// Runs `f` on a store connection of its own, off the async threads.
    pub async fn with_store<T, F>(&self, f: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteStore, &Settings) -> Result<T, String> + Send + 'static,
    {
        let settings = self.settings.clone();
        async_runtime::spawn_blocking(move || {
            let mut store = SqliteStore::open(&settings.db).map_err(|e| e.to_string())?;
            f(&mut store, &settings)
        })
        .await
        .map_err(|e| format!("the store task failed: {e}"))?
    }

    /// Judges the last complete day now, stores the verdict and announces
    /// it (a notification when it is unusual).
    pub async fn check_now(&self) -> Result<VerdictView, String> {
        let _one_at_a_time = self.checking.lock().await;
        let view = self
            .with_store(|store, s| {
                let now = Utc::now();
                let day = last_complete_day(now, s.tz);
                let host = s.host();
                judge_and_store(store, host, day, s.tz, &s.config.intel, now)
                    .map_err(|e| format!("judging {day}: {e}"))?;
                let record = store
                    .verdict(host, day)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("the verdict of {day} was not stored"))?;
                VerdictView::from_record(&record).map_err(|e| e.to_string())
            })
            .await?;
        self.announcer().announce(&view.verdict);
        Ok(view)
    }

    /// The owner says `day` was normal: it may be used as baseline again.
    pub async fn mark_normal(&self, day: NaiveDate) -> Result<VerdictView, String> {
        let view = self
            .with_store(move |store, s| {
                if !store
                    .mark_normal(s.host(), day)
                    .map_err(|e| e.to_string())?
                {
                    return Err(format!("{day} has not been judged"));
                }
                let record = store
                    .verdict(s.host(), day)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("{day} has not been judged"))?;
                VerdictView::from_record(&record).map_err(|e| e.to_string())
            })
            .await?;
        let _ = self.events.send(AppEvent::Verdicts);
        Ok(view)
    }

    fn announcer(&self) -> Announcer {
        Announcer {
            events: self.events.clone(),
            notify: self.settings.notify,
        }
    }
}

/// Tells the app about new verdicts, and the person about unusual days.
#[derive(Clone)]
struct Announcer {
    events: broadcast::Sender<AppEvent>,
    notify: bool,
}

impl Announcer {
    fn announce(&self, verdict: &Verdict) {
        tracing::info!(day = %verdict.day, status = %verdict.status, "{}", verdict.summary);
        let _ = self.events.send(AppEvent::Verdicts);
        let Some(notice) = verdict.notice().filter(|_| self.notify) else {
            return;
        };
        let events = self.events.clone();
        let day = verdict.day;
        let shown = nbi_core::notify::send_clickable(&notice, move || {
            let _ = events.send(AppEvent::ShowDay(day));
        });
        if let Err(e) = shown {
            warn_unshown(&notice, &e.to_string());
        }
    }
}

fn warn_unshown(notice: &Notice, error: &str) {
    tracing::warn!(error, body = %notice.body, "the unusual day could not be shown");
}

fn failing(status: &StatusTx, reason: String) {
    tracing::error!(%reason, "not watching");
    status.send_modify(|s| s.state = SourceState::Failing { reason });
}

/// A poisoned lock only means another thread panicked while holding it;
/// the handle inside is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
