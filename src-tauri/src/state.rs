//! The running app as the shell sees it: the runtime's run and judging,
//! pausing, the source's status, and the store for the window. Every
//! decision is nbi-core's; this maps the app's events onto the runtime.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use nbi_core::collector::CollectorStats;
use nbi_core::intel::verdict::Verdict;
use nbi_core::notify::Notice;
use nbi_core::plan::PlanUsage;
use nbi_core::runtime::upkeep::{plan_notice, Upkeep};
use nbi_core::runtime::{self, Controls, Judging, Run, Runtime, RuntimeError, FLUSH_WAIT};
use nbi_core::source::pause::PauseSwitch;
use nbi_core::source::{SourceState, SourceStatus, StatusTx};
use nbi_core::store::connections::Stores;
use nbi_core::store::{Store, VerdictRecord};
use nbi_core::view::NetworkInUse;
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

pub struct AppState {
    settings: Arc<Settings>,
    /// The store's one writer and its readers; `None` when it cannot be
    /// opened (then `problem` says why).
    stores: Option<Stores>,
    pause: PauseSwitch,
    status: StatusTx,
    stored: watch::Sender<CollectorStats>,
    events: broadcast::Sender<AppEvent>,
    shutdown: CancellationToken,
    run: Mutex<Option<JoinHandle<()>>>,
    judging: Mutex<Option<JoinHandle<()>>>,
    /// One judgement at a time: "Check now" twice trains once.
    checking: tokio::sync::Mutex<()>,
    /// Why nothing runs (a configuration or store that cannot be used).
    problem: Option<String>,
    /// The data plans' usage and the network in use, as last read (the
    /// status carries them).
    plans: Mutex<(Vec<PlanUsage>, Option<NetworkInUse>)>,
}

impl AppState {
    pub fn new(settings: Settings, problem: Option<String>) -> AppState {
        let (status, _) = runtime::status::channel(settings.source.kind());
        let (stores, problem) = match problem {
            Some(p) => (None, Some(p)),
            None => match settings.rt.open_stores() {
                Ok(s) => (Some(s), None),
                Err(e) => (None, Some(e.to_string())),
            },
        };
        if let Some(reason) = &problem {
            status.send_modify(|s| {
                s.state = SourceState::Failing {
                    reason: reason.clone(),
                }
            });
        }
        AppState {
            settings: Arc::new(settings),
            stores,
            pause: PauseSwitch::default(),
            status,
            stored: watch::Sender::new(CollectorStats::default()),
            events: broadcast::channel(64).0,
            shutdown: CancellationToken::new(),
            run: Mutex::new(None),
            judging: Mutex::new(None),
            checking: tokio::sync::Mutex::new(()),
            problem,
            plans: Mutex::new((Vec::new(), None)),
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

    /// Starts watching alone (no nightly judge).
    pub fn start_watching(&self) {
        let Some(stores) = self.stores.clone() else {
            return;
        };
        let mut slot = lock(&self.run);
        if slot.as_ref().is_some_and(|t| !t.inner().is_finished()) {
            return;
        }
        let s = self.settings.clone();
        let run = Run {
            source: s.source.clone(),
            bus: runtime::BusKind::Memory,
            judging: None,
            controls: Controls {
                pause: Some(self.pause.clone()),
                status: Some(self.status.clone()),
                stored: Some(self.stored.clone()),
            },
            // So that `nbi status` sees the app's pipeline too.
            status_file: true,
            // Started beside the runs, as judging is.
            upkeep: None,
        };
        let status = self.status.clone();
        let shutdown = self.shutdown.clone();
        *slot = Some(async_runtime::spawn(async move {
            if let Err(e) = s.rt.run(run, &stores, shutdown).await {
                failing(&status, e.to_string());
            }
        }));
    }

    /// Judges the days due now and then every night, and keeps the store
    /// and the data plan up, until the app quits.
    fn start_judging(&self) {
        let Some(stores) = &self.stores else {
            return;
        };
        let announcer = self.announcer();
        let judging = Judging {
            on_verdict: Arc::new(move |v| announcer.announce(v)),
            max_catch_up: 14,
        };
        let nightly = self
            .settings
            .rt
            .judge_nightly(stores, judging, self.shutdown.child_token());
        let notify = self.settings.notify;
        let upkeep = Upkeep {
            on_plan: Some(Arc::new(move |usage, level| {
                let notice = plan_notice(usage, level);
                tracing::info!(
                    used_bytes = usage.used_bytes,
                    limit_bytes = usage.limit_bytes,
                    "{}",
                    notice.title
                );
                if notify {
                    if let Err(e) = nbi_core::notify::send(&notice) {
                        tracing::warn!(error = %e, "the data plan notice could not be shown");
                    }
                }
            })),
        };
        let upkeep = self
            .settings
            .rt
            .upkeep(stores, upkeep, self.shutdown.child_token());
        *lock(&self.judging) = Some(async_runtime::spawn(async move {
            tokio::join!(nightly, upkeep);
        }));
    }

    /// Stops watching and judging, and waits (a little) for what was
    /// received to be stored.
    pub async fn stop(&self) {
        self.shutdown.cancel();
        let run = lock(&self.run).take();
        let judging = lock(&self.judging).take();
        if let Some(task) = run {
            if tokio::time::timeout(FLUSH_WAIT, task).await.is_err() {
                tracing::warn!("quitting before everything was stored");
            }
        }
        if let Some(task) = judging {
            let _ = tokio::time::timeout(FLUSH_WAIT, task).await;
        }
    }

    pub fn status_view(&self) -> StatusView {
        let (plans, network) = lock(&self.plans).clone();
        StatusView::new(
            &self.status.borrow(),
            self.settings.host(),
            self.settings.grafana_url(),
        )
        .with_plans(plans, network)
    }

    /// Reads the data plans' usage and the network in use again (as
    /// ticks are stored), for the status; a store that cannot be read
    /// keeps the last answer. True when they changed.
    pub async fn refresh_plan(&self) -> bool {
        match self
            .with_store(|store, s| plans_and_network(&s.rt, store))
            .await
        {
            Ok(now) => self.set_plans(now),
            Err(e) => {
                tracing::debug!(error = %e, "data plan: cannot read usage now");
                false
            }
        }
    }

    /// Keeps the plans' usage and the network in use; true when they
    /// changed.
    pub fn set_plans(&self, now: (Vec<PlanUsage>, Option<NetworkInUse>)) -> bool {
        let mut kept = lock(&self.plans);
        let changed = *kept != now;
        *kept = now;
        changed
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
        self.stores()?;
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

    /// Resumes watching (starting the run again if it had ended).
    pub async fn resume(&self) -> Result<StatusView, String> {
        self.stores()?;
        self.pause.resume();
        self.start_watching();
        self.wait_state(|s| !matches!(s, SourceState::Paused)).await;
        Ok(self.status_view())
    }

    fn stores(&self) -> Result<&Stores, String> {
        match (&self.stores, &self.problem) {
            (Some(s), _) => Ok(s),
            (None, Some(p)) => Err(p.clone()),
            (None, None) => Err("the store is not open".into()),
        }
    }

    async fn wait_state(&self, f: impl Fn(&SourceState) -> bool) {
        let mut rx = self.status.subscribe();
        let _ = tokio::time::timeout(SWITCH_WAIT, rx.wait_for(|s| f(&s.state))).await;
    }

    /// Runs `f` on a read-only connection, off the async threads: the
    /// window's reads never wait for (or hold up) the collector's writes.
    pub async fn with_store<T, F>(&self, f: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store, &Settings) -> Result<T, String> + Send + 'static,
    {
        let readers = self.stores()?.readers.clone();
        let settings = self.settings.clone();
        async_runtime::spawn_blocking(move || {
            readers
                .with(|store| f(store, &settings))
                .map_err(|e| e.to_string())?
        })
        .await
        .map_err(|e| format!("the store task failed: {e}"))?
    }

    /// Runs `f` on the runtime and the stores, off the async threads.
    async fn blocking<T, F>(&self, f: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(&Runtime, &Stores) -> Result<T, String> + Send + 'static,
    {
        let stores = self.stores()?.clone();
        let settings = self.settings.clone();
        async_runtime::spawn_blocking(move || f(&settings.rt, &stores))
            .await
            .map_err(|e| format!("the store task failed: {e}"))?
    }

    /// Judges the last complete day now, stores the verdict and announces
    /// it (a notification when it is unusual).
    pub async fn check_now(&self) -> Result<VerdictView, String> {
        let _one_at_a_time = self.checking.lock().await;
        let view = self
            .blocking(|rt, stores| {
                let record = rt.judge_day(stores, None).map_err(|e| e.to_string())?;
                VerdictView::from_record(&record).map_err(|e| e.to_string())
            })
            .await?;
        self.announcer().announce(&view.verdict);
        Ok(view)
    }

    /// The owner says the days from `day` on are the new normal: baselines
    /// start on it (see [`nbi_core::intel::new_normal`]).
    pub async fn new_normal(&self, day: NaiveDate) -> Result<VerdictView, String> {
        self.mark(day, move |rt, stores| {
            rt.new_normal(stores, day)?;
            rt.verdict_of(stores, day)
        })
        .await
    }

    /// The owner says `day` was normal: it may be used as baseline again.
    pub async fn mark_normal(&self, day: NaiveDate) -> Result<VerdictView, String> {
        self.mark(day, move |rt, stores| rt.mark_normal(stores, day))
            .await
    }

    /// Runs an owner's mark on `day` and answers with the day's verdict
    /// after it; the window hears of the change.
    async fn mark<F>(&self, day: NaiveDate, mark: F) -> Result<VerdictView, String>
    where
        F: FnOnce(&Runtime, &Stores) -> Result<Option<VerdictRecord>, RuntimeError>
            + Send
            + 'static,
    {
        let view = self
            .blocking(move |rt, stores| {
                let record = mark(rt, stores)
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

/// Every plan's usage and the network in use, as the status shows them.
pub fn plans_and_network(
    rt: &nbi_core::runtime::Runtime,
    store: &dyn nbi_core::store::UsageQuery,
) -> Result<(Vec<PlanUsage>, Option<NetworkInUse>), String> {
    let plans = rt.plan_usages(store).map_err(|e| e.to_string())?;
    let network = rt.network_in_use(store).map_err(|e| e.to_string())?;
    Ok((plans, network))
}
