//! The Kafka bus: watchers publish ticks through a disk spool, collectors
//! read them in a consumer group.
//!
//! Publishing never waits for the broker: [`KafkaPublisher::publish`] appends
//! the tick to the [spool](crate::spool) and a sender task moves the spool's
//! cursor only once the broker has acknowledged (`acks=all`, idempotent
//! producer). An outage, a crash or a restart therefore loses nothing and
//! sends ticks in order; what is sent twice is counted once by the stores.
//!
//! [`KafkaSubscriber`] commits a partition's offset only up to the first
//! delivery the collector has not yet stored. A message that is not a tick
//! goes to the dead-letter topic (`<topic>.dlq`) with the reason in the
//! `nbi-error` header, and the consumer moves on.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono_tz::Tz;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use super::{BusError, BusStatus, Delivery, Publisher, Subscriber};
use crate::config::KafkaConfig;
use crate::spool::{Spool, SpoolError, SpoolOptions, SpoolStats};
use crate::tick::Tick;

/// The header naming why a message went to the dead-letter topic.
pub const DLQ_REASON_HEADER: &str = "nbi-error";
/// Most ticks the sender hands to the producer at once.
const SEND_BATCH: usize = 5000;
/// How long a stopping watcher keeps sending what its spool holds.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// How the Kafka clients are made from `[kafka]` (after
/// [`KafkaConfig::for_host`]).
impl KafkaConfig {
    /// A client configured by `defaults` (our settings for its role), then by
    /// the user's `[kafka.options]`, which win.
    fn client_with(
        &self,
        client_id: &str,
        defaults: impl FnOnce(&mut ClientConfig),
    ) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers)
            .set("client.id", client_id)
            .set("log_level", "3");
        defaults(&mut c);
        for (k, v) in self.options.exposed() {
            c.set(k, v);
        }
        c
    }

    fn client(&self, client_id: &str) -> ClientConfig {
        self.client_with(client_id, |_| {})
    }

    fn producer_config(&self, client_id: &str) -> ClientConfig {
        self.client_with(client_id, |c| {
            c.set("acks", "all")
                .set("enable.idempotence", "true")
                .set("compression.type", &self.compression)
                .set("linger.ms", "20")
                .set(
                    "message.timeout.ms",
                    self.message_timeout().as_millis().to_string(),
                );
        })
    }

    fn consumer_config(&self) -> ClientConfig {
        self.client_with("nbi-collect", |c| {
            c.set("group.id", &self.group)
                .set("enable.auto.commit", "false")
                .set("enable.auto.offset.store", "false")
                .set("auto.offset.reset", "earliest");
            if !self.instance.is_empty() {
                c.set("group.instance.id", &self.instance);
            }
        })
    }
}

fn bus_error(context: &str) -> impl FnOnce(KafkaError) -> BusError + '_ {
    move |e| BusError::Other(format!("{context}: {e}"))
}

/// Creates the topic and its dead-letter topic when they do not exist.
pub async fn ensure_topics(settings: &KafkaConfig) -> Result<(), BusError> {
    let admin: AdminClient<DefaultClientContext> = settings
        .client("nbi-admin")
        .create()
        .map_err(bus_error("Kafka admin client"))?;
    let dlq = settings.dlq_topic();
    let topics = [
        NewTopic::new(
            &settings.topic,
            settings.partitions,
            TopicReplication::Fixed(settings.replication),
        ),
        NewTopic::new(&dlq, 1, TopicReplication::Fixed(settings.replication)),
    ];
    let opts = AdminOptions::new()
        .request_timeout(Some(Duration::from_secs(10)))
        .operation_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics(topics.iter(), &opts)
        .await
        .map_err(bus_error("creating topics"))?;
    for r in results {
        match r {
            Ok(name) => tracing::info!(topic = %name, "created the topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(BusError::Other(format!("creating topic {name}: {code}")))
            }
        }
    }
    Ok(())
}

struct Shared {
    spool: Mutex<Spool>,
    /// The spool's unacknowledged ticks, readable without its lock (which
    /// a write or an fsync may hold for a while).
    pending: std::sync::atomic::AtomicU64,
    wake: Notify,
}

impl Shared {
    fn spool(&self) -> std::sync::MutexGuard<'_, Spool> {
        // A panic while holding the lock leaves the spool consistent on
        // disk; carry on with it.
        self.spool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the spool on the blocking pool: its writes, reads and
    /// fsyncs must not hold up the async workers.
    async fn blocking<T, F>(self: &Arc<Self>, f: F) -> Result<T, BusError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Spool) -> T + Send + 'static,
    {
        let shared = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut spool = shared.spool();
            let out = f(&mut spool);
            shared
                .pending
                .store(spool.stats().pending, std::sync::atomic::Ordering::Relaxed);
            out
        })
        .await
        .map_err(|e| BusError::Other(format!("the spool task stopped: {e}")))
    }
}

/// Where watchers publish: the spool, then the broker.
#[derive(Clone)]
pub struct KafkaPublisher {
    shared: Arc<Shared>,
}

impl KafkaPublisher {
    /// Ticks in the spool that the broker has not acknowledged yet.
    pub fn pending(&self) -> u64 {
        self.shared
            .pending
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits until the broker has every tick published so far, or `cancel`.
    pub async fn drained(&self, cancel: &CancellationToken) {
        while self.pending() > 0 {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }
}

impl Publisher for KafkaPublisher {
    async fn publish(&self, tick: Tick) -> Result<(), BusError> {
        let record = encode_record(&tick.host, tick.to_json().as_bytes());
        // Finishes even if this future is dropped: the tick is then spooled
        // (and sent) all the same.
        self.shared
            .blocking(move |spool| spool.push(&record))
            .await?
            .map_err(|e| BusError::Other(e.to_string()))?;
        self.shared.wake.notify_one();
        Ok(())
    }
}

/// The sender task of a [`KafkaPublisher`].
pub struct KafkaSender {
    task: tokio::task::JoinHandle<Result<(), BusError>>,
    status: watch::Receiver<BusStatus>,
}

impl KafkaSender {
    pub fn status(&self) -> watch::Receiver<BusStatus> {
        self.status.clone()
    }

    /// Waits until the sender has stopped (after `shutdown` was cancelled:
    /// it keeps sending for a few seconds, and what is left stays spooled).
    pub async fn join(self) -> Result<(), BusError> {
        self.task
            .await
            .map_err(|e| BusError::Other(format!("the Kafka sender stopped: {e}")))?
    }
}

/// Opens the spool and starts the sender. The spool directory belongs to
/// one watcher at a time.
pub fn publisher(
    settings: KafkaConfig,
    spool_dir: PathBuf,
    spool_max_bytes: u64,
    shutdown: CancellationToken,
) -> Result<(KafkaPublisher, KafkaSender), BusError> {
    let spool = Spool::open(SpoolOptions::new(spool_dir, spool_max_bytes))
        .map_err(|e| BusError::Other(e.to_string()))?;
    let producer: FutureProducer = settings
        .producer_config("nbi-watch")
        .create()
        .map_err(bus_error("Kafka producer"))?;
    let stats = spool.stats();
    let shared = Arc::new(Shared {
        spool: Mutex::new(spool),
        pending: std::sync::atomic::AtomicU64::new(stats.pending),
        wake: Notify::new(),
    });
    let (status_tx, status) = watch::channel(BusStatus {
        spooled: stats.pending,
        ..BusStatus::default()
    });
    if stats.pending > 0 {
        tracing::info!(
            ticks = stats.pending,
            "the spool holds ticks from before: sending them first"
        );
    }
    let sender = Sender {
        settings,
        producer,
        shared: shared.clone(),
        status: status_tx,
        sent: 0,
    };
    let task = tokio::spawn(sender.run(shutdown));
    Ok((KafkaPublisher { shared }, KafkaSender { task, status }))
}

struct Sender {
    settings: KafkaConfig,
    producer: FutureProducer,
    shared: Arc<Shared>,
    status: watch::Sender<BusStatus>,
    sent: u64,
}

impl Sender {
    async fn run(mut self, shutdown: CancellationToken) -> Result<(), BusError> {
        let mut topics_ready = false;
        let mut backoff = Backoff::new();
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            if deadline.is_none() && shutdown.is_cancelled() {
                deadline = Some(tokio::time::Instant::now() + SHUTDOWN_GRACE);
            }
            let expired = deadline.is_some_and(|d| tokio::time::Instant::now() >= d);
            if expired {
                break;
            }
            if !topics_ready {
                match within(deadline, ensure_topics(&self.settings)).await {
                    Some(Ok(())) => topics_ready = true,
                    Some(Err(e)) => {
                        self.failed(&e.to_string()).await;
                        backoff.wait(&shutdown, deadline).await;
                        continue;
                    }
                    None => break,
                }
            }
            let batch = self.peek().await?;
            if batch.is_empty() {
                if deadline.is_some() {
                    break;
                }
                tokio::select! {
                    _ = self.shared.wake.notified() => {}
                    _ = shutdown.cancelled() => {}
                }
                continue;
            }
            match within(deadline, self.send(&batch)).await {
                Some(Ok(())) => backoff.reset(),
                Some(Err(e)) => {
                    self.failed(&e).await;
                    backoff.wait(&shutdown, deadline).await;
                }
                None => break,
            }
        }
        let left = self
            .shared
            .blocking(|spool| {
                let _ = spool.sync();
                spool.stats().pending
            })
            .await?;
        if left > 0 {
            tracing::info!(
                ticks = left,
                "stopped with ticks in the spool: they are sent at the next start"
            );
        }
        Ok(())
    }

    async fn peek(&self) -> Result<Vec<(crate::spool::Position, Vec<u8>)>, BusError> {
        self.shared
            .blocking(|spool| spool.peek(SEND_BATCH))
            .await?
            .map_err(|e: SpoolError| BusError::Other(e.to_string()))
    }

    /// Sends a batch in order and confirms in the spool what the broker
    /// acknowledged, up to the first failure.
    async fn send(&mut self, batch: &[(crate::spool::Position, Vec<u8>)]) -> Result<(), String> {
        let mut pending = Vec::with_capacity(batch.len());
        for (pos, record) in batch {
            let Some((key, value)) = decode_record(record) else {
                // Damaged on disk yet with a good checksum: nothing to send.
                tracing::warn!("spool: skipping a record that is not a tick");
                pending.push((*pos, None));
                continue;
            };
            let mut record = FutureRecord::to(&self.settings.topic)
                .key(key)
                .payload(value);
            let delivery = loop {
                match self.producer.send_result(record) {
                    Ok(d) => break d,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err((e, _)) => {
                        return Err(format!("producing to {}: {e}", self.settings.topic))
                    }
                }
            };
            pending.push((*pos, Some(delivery)));
        }
        let mut confirmed = None;
        let mut failure = None;
        let mut sent = 0u64;
        for (pos, delivery) in pending {
            let result = match delivery {
                None => Ok(()),
                Some(d) => match d.await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err((e, _))) => Err(e.to_string()),
                    Err(_) => Err("the producer was closed".to_string()),
                },
            };
            match result {
                Ok(()) if failure.is_none() => {
                    confirmed = Some(pos);
                    sent += 1;
                }
                Ok(()) => {}
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        let stats = self
            .shared
            .blocking(move |spool| {
                if let Some(pos) = confirmed {
                    spool.confirm(pos).map_err(|e| e.to_string())?;
                }
                Ok::<_, String>(spool.stats())
            })
            .await
            .map_err(|e| e.to_string())??;
        self.sent += sent;
        self.publish_status(stats, failure.is_none(), failure.clone());
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn failed(&self, error: &str) {
        let was_connected =
            self.status.borrow().connected || self.status.borrow().last_error.is_none();
        if was_connected {
            tracing::warn!(
                error,
                "cannot reach the Kafka broker: ticks wait in the spool"
            );
        } else {
            tracing::debug!(error, "the Kafka broker is still unreachable");
        }
        if let Ok(stats) = self.shared.blocking(|spool| spool.stats()).await {
            self.publish_status(stats, false, Some(error.to_string()));
        }
    }

    fn publish_status(&self, stats: SpoolStats, connected: bool, error: Option<String>) {
        let was_connected = self.status.borrow().connected;
        if connected && !was_connected && self.status.borrow().last_error.is_some() {
            tracing::info!(
                spooled = stats.pending,
                "the Kafka broker is back: sending the spool"
            );
        }
        self.status.send_replace(BusStatus {
            connected,
            spooled: stats.pending,
            sent: self.sent,
            dropped: stats.dropped_full,
            last_error: error,
        });
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let _ = self.producer.flush(Duration::from_millis(100));
    }
}

/// Runs `f` until `deadline` (if any); `None` when the deadline came first.
async fn within<F: std::future::Future>(
    deadline: Option<tokio::time::Instant>,
    f: F,
) -> Option<F::Output> {
    match deadline {
        None => Some(f.await),
        Some(d) => tokio::time::timeout_at(d, f).await.ok(),
    }
}

struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Self {
        Backoff {
            next: Duration::from_millis(500),
        }
    }

    fn reset(&mut self) {
        *self = Backoff::new();
    }

    async fn wait(&mut self, shutdown: &CancellationToken, deadline: Option<tokio::time::Instant>) {
        let wait = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        let until = tokio::time::Instant::now() + wait;
        let until = deadline.map_or(until, |d| d.min(until));
        tokio::select! {
            _ = tokio::time::sleep_until(until) => {}
            _ = shutdown.cancelled(), if deadline.is_none() => {}
        }
    }
}

/// A spooled message: `[key length: u16 LE][key][value]`.
fn encode_record(key: &str, value: &[u8]) -> Vec<u8> {
    let key = &key.as_bytes()[..key.len().min(u16::MAX as usize)];
    let mut out = Vec::with_capacity(2 + key.len() + value.len());
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    out
}

fn decode_record(record: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = record.split_first_chunk::<2>()?;
    let len = u16::from_le_bytes(*len) as usize;
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// The acknowledgement of one delivery: its partition and offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KafkaAck {
    pub partition: i32,
    pub offset: i64,
}

/// What the consumer has done, for status displays and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerStats {
    pub received: u64,
    pub dead_lettered: u64,
    pub commits: u64,
    pub last_error: Option<String>,
}

/// Per-partition offsets: what was handed out and what is stored.
#[derive(Debug, Default)]
struct PartitionOffsets {
    /// The offset after the last message read.
    next: i64,
    /// Delivered to the collector, not yet stored.
    outstanding: BTreeSet<i64>,
    /// The last offset committed (the next message to read after a restart).
    committed: Option<i64>,
}

impl PartitionOffsets {
    /// Everything before the first outstanding delivery is handled.
    fn committable(&self) -> i64 {
        self.outstanding.first().copied().unwrap_or(self.next)
    }
}

type Offsets = Arc<Mutex<HashMap<i32, PartitionOffsets>>>;

fn lock(o: &Offsets) -> std::sync::MutexGuard<'_, HashMap<i32, PartitionOffsets>> {
    o.lock().unwrap_or_else(|p| p.into_inner())
}

/// On a rebalance, commits what is stored of the partitions taken away and
/// forgets them: their unstored messages go to the new owner.
pub struct GroupContext {
    topic: String,
    offsets: Offsets,
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(revoked) = rebalance else {
            return;
        };
        let mut offsets = lock(&self.offsets);
        let mut tpl = TopicPartitionList::new();
        for el in revoked.elements() {
            if let Some(p) = offsets.remove(&el.partition()) {
                let at = p.committable();
                if p.committed.is_none_or(|c| at > c) {
                    let _ =
                        tpl.add_partition_offset(&self.topic, el.partition(), Offset::Offset(at));
                }
            }
        }
        if tpl.count() > 0 {
            if let Err(e) = consumer.commit(&tpl, CommitMode::Sync) {
                tracing::warn!(error = %e, "could not commit before a rebalance: some ticks will be read again");
            }
        }
    }
}

/// Where collectors read ticks: a consumer in the `[kafka] group`.
///
/// It connects on the first [`Subscriber::next_batch`] and retries while
/// the broker is away, so a collector may start before its broker.
pub struct KafkaSubscriber {
    settings: KafkaConfig,
    zone: Tz,
    client: Option<Client>,
    offsets: Offsets,
    stats: watch::Sender<ConsumerStats>,
    last_warning: Option<Instant>,
    /// The batch being gathered, kept here so that a cancelled `next_batch`
    /// loses nothing it read.
    batch: Vec<Delivery<KafkaAck>>,
    deadline: Option<tokio::time::Instant>,
    /// Dead letters sent since the last commit (their offsets may move).
    skipped: bool,
}

struct Client {
    consumer: Arc<StreamConsumer<GroupContext>>,
    dlq: FutureProducer,
}

/// A message set aside, and why.
struct Letter<'a> {
    key: Option<&'a [u8]>,
    /// `None`: the message had no value at all.
    payload: Option<&'a [u8]>,
    reason: &'a str,
    partition: i32,
    offset: i64,
}

impl KafkaSubscriber {
    /// Naive timestamps of original-format messages are read in `zone`.
    pub fn new(settings: KafkaConfig, zone: Tz) -> KafkaSubscriber {
        KafkaSubscriber {
            settings,
            zone,
            client: None,
            offsets: Arc::default(),
            stats: watch::Sender::new(ConsumerStats::default()),
            last_warning: None,
            batch: Vec::new(),
            deadline: None,
            skipped: false,
        }
    }

    /// A subscriber that has joined the group (creating the topics when
    /// missing); fails when the broker cannot be reached now.
    pub async fn connect(settings: KafkaConfig, zone: Tz) -> Result<KafkaSubscriber, BusError> {
        let mut s = KafkaSubscriber::new(settings, zone);
        s.client = Some(s.open().await?);
        Ok(s)
    }

    async fn open(&self) -> Result<Client, BusError> {
        ensure_topics(&self.settings).await?;
        let consumer: StreamConsumer<GroupContext> = self
            .settings
            .consumer_config()
            .create_with_context(GroupContext {
                topic: self.settings.topic.clone(),
                offsets: self.offsets.clone(),
            })
            .map_err(bus_error("Kafka consumer"))?;
        consumer
            .subscribe(&[&self.settings.topic])
            .map_err(bus_error("subscribing"))?;
        let dlq: FutureProducer = self
            .settings
            .producer_config("nbi-collect-dlq")
            .create()
            .map_err(bus_error("Kafka producer (dead letters)"))?;
        tracing::info!(topic = %self.settings.topic, group = %self.settings.group, "reading ticks from Kafka");
        Ok(Client {
            consumer: Arc::new(consumer),
            dlq,
        })
    }

    /// The connected client, connecting (with backoff) first if needed.
    async fn client(
        &mut self,
    ) -> Result<(Arc<StreamConsumer<GroupContext>>, FutureProducer), BusError> {
        let mut backoff = Backoff::new();
        while self.client.is_none() {
            match self.open().await {
                Ok(c) => self.client = Some(c),
                Err(e) => {
                    self.warn(&e.to_string());
                    backoff.wait(&CancellationToken::new(), None).await;
                }
            }
        }
        let c = self.client.as_ref().ok_or(BusError::Closed)?;
        Ok((c.consumer.clone(), c.dlq.clone()))
    }

    pub fn stats(&self) -> watch::Receiver<ConsumerStats> {
        self.stats.subscribe()
    }

    /// Sends a message that is not a tick to the dead-letter topic, retrying
    /// until the broker has it: it is never dropped and never blocks others
    /// for longer than the broker is away.
    async fn dead_letter(
        &mut self,
        dlq_producer: &FutureProducer,
        msg: &OwnedMessage,
        reason: &str,
    ) {
        tracing::warn!(
            partition = msg.partition(),
            offset = msg.offset(),
            reason,
            "not a tick: moved to {}",
            self.settings.dlq_topic()
        );
        let letter = Letter {
            key: msg.key(),
            payload: msg.payload(),
            reason,
            partition: msg.partition(),
            offset: msg.offset(),
        };
        self.send_letter(dlq_producer, &letter).await;
    }

    /// Writes `letter` to the dead-letter topic, with its reason and where
    /// it came from in headers, retrying until the broker has it.
    async fn send_letter(&mut self, dlq_producer: &FutureProducer, letter: &Letter<'_>) {
        let dlq = self.settings.dlq_topic();
        let partition = letter.partition.to_string();
        let offset = letter.offset.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: DLQ_REASON_HEADER,
                value: Some(letter.reason),
            })
            .insert(Header {
                key: "nbi-topic",
                value: Some(&self.settings.topic),
            })
            .insert(Header {
                key: "nbi-partition",
                value: Some(&partition),
            })
            .insert(Header {
                key: "nbi-offset",
                value: Some(&offset),
            });
        let mut backoff = Backoff::new();
        loop {
            let mut record: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(&dlq).headers(headers.clone());
            if let Some(k) = letter.key {
                record = record.key(k);
            }
            if let Some(p) = letter.payload {
                record = record.payload(p);
            }
            match dlq_producer.send(record, Duration::from_secs(10)).await {
                Ok(_) => break,
                Err((e, _)) => {
                    tracing::warn!(error = %e, "cannot write to the dead-letter topic; retrying");
                    backoff.wait(&CancellationToken::new(), None).await;
                }
            }
        }
        self.stats.send_modify(|s| s.dead_lettered += 1);
    }

    /// Commits every partition's offset up to its first unstored delivery.
    async fn commit(&mut self) {
        let mut tpl = TopicPartitionList::new();
        let mut planned = Vec::new();
        {
            let offsets = lock(&self.offsets);
            for (partition, p) in offsets.iter() {
                let at = p.committable();
                if p.committed.is_none_or(|c| at > c) {
                    let _ = tpl.add_partition_offset(
                        &self.settings.topic,
                        *partition,
                        Offset::Offset(at),
                    );
                    planned.push((*partition, at));
                }
            }
        }
        if planned.is_empty() {
            return;
        }
        let Some(consumer) = self.client.as_ref().map(|c| c.consumer.clone()) else {
            return;
        };
        let result =
            tokio::task::spawn_blocking(move || consumer.commit(&tpl, CommitMode::Sync)).await;
        match result {
            Ok(Ok(())) => {
                let mut offsets = lock(&self.offsets);
                for (partition, at) in planned {
                    if let Some(p) = offsets.get_mut(&partition) {
                        p.committed = Some(at);
                    }
                }
                drop(offsets);
                self.stats.send_modify(|s| s.commits += 1);
            }
            // Stored but not committed: read again after a restart and
            // counted once by the store. Retried with the next commit.
            Ok(Err(e)) => self.warn(&format!("committing offsets: {e}")),
            Err(e) => self.warn(&format!("committing offsets: {e}")),
        }
    }

    /// Logs transient trouble at most every 30 s.
    fn warn(&mut self, error: &str) {
        if self
            .last_warning
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(30))
        {
            tracing::warn!(error, "Kafka consumer");
            self.last_warning = Some(Instant::now());
        }
        self.stats
            .send_modify(|s| s.last_error = Some(error.to_string()));
    }
}

impl Subscriber for KafkaSubscriber {
    type Ack = KafkaAck;

    async fn next_batch(
        &mut self,
        max: usize,
        linger: Duration,
    ) -> Result<Vec<Delivery<KafkaAck>>, BusError> {
        let (consumer, dlq) = self.client().await?;
        let max = max.max(1);
        // Every await below is either cancel-safe (`recv`, a timer) or
        // leaves what was read accounted for: a message is in `self.batch`,
        // or outstanding until its dead letter is written.
        while self.batch.len() < max {
            let received = match self.deadline {
                None => Some(consumer.recv().await.map(|m| m.detach())),
                Some(d) => tokio::time::timeout_at(d, consumer.recv())
                    .await
                    .ok()
                    .map(|r| r.map(|m| m.detach())),
            };
            let Some(received) = received else {
                // Linger passed. Only dead letters so far: commit past them
                // and keep waiting (an empty batch would mean "closed").
                if !self.batch.is_empty() {
                    break;
                }
                if self.skipped {
                    self.commit().await;
                    self.skipped = false;
                }
                self.deadline = None;
                continue;
            };
            let msg = match received {
                Ok(m) => m,
                Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::FencedInstanceId) => {
                    return Err(BusError::Other(format!(
                        "another collector joined group {} as {:?}: give each collector its own `kafka.instance`",
                        self.settings.group,
                        self.settings.instance
                    )));
                }
                Err(e) => {
                    self.warn(&e.to_string());
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            self.deadline
                .get_or_insert_with(|| tokio::time::Instant::now() + linger);
            self.stats.send_modify(|s| s.received += 1);
            let (partition, offset) = (msg.partition(), msg.offset());
            let parsed = match msg.payload() {
                None => Err("the message has no value".to_string()),
                Some(bytes) => std::str::from_utf8(bytes)
                    .map_err(|_| "the message is not UTF-8 text".to_string())
                    .and_then(|text| {
                        // The broker's own time tells which occurrence of a
                        // repeated (fall-back) local hour a naive time means.
                        let sent = msg
                            .timestamp()
                            .to_millis()
                            .and_then(chrono::DateTime::from_timestamp_millis);
                        Tick::from_json_near(text, &self.zone, sent).map_err(|e| e.to_string())
                    }),
            };
            {
                // Outstanding until stored, or until its dead letter is
                // written: a cancelled send leaves it uncommitted, so it is
                // read (and set aside) again.
                let mut offsets = lock(&self.offsets);
                let p = offsets.entry(partition).or_default();
                p.next = p.next.max(offset + 1);
                p.outstanding.insert(offset);
            }
            match parsed {
                Ok(tick) => self.batch.push(Delivery {
                    tick,
                    ack: KafkaAck { partition, offset },
                }),
                Err(reason) => {
                    self.dead_letter(&dlq, &msg, &reason).await;
                    if let Some(p) = lock(&self.offsets).get_mut(&partition) {
                        p.outstanding.remove(&offset);
                    }
                    self.skipped = true;
                }
            }
        }
        self.deadline = None;
        Ok(std::mem::take(&mut self.batch))
    }

    fn take_ready(&mut self) -> Vec<Delivery<KafkaAck>> {
        self.deadline = None;
        std::mem::take(&mut self.batch)
    }

    async fn dead_letter(
        &mut self,
        ack: &KafkaAck,
        tick: &Tick,
        reason: &str,
    ) -> Result<(), BusError> {
        let (_, dlq) = self.client().await?;
        tracing::warn!(
            partition = ack.partition,
            offset = ack.offset,
            reason,
            "the store refused this tick: moved to {}",
            self.settings.dlq_topic()
        );
        let payload = tick.to_json();
        let letter = Letter {
            key: Some(tick.host.as_bytes()),
            payload: Some(payload.as_bytes()),
            reason,
            partition: ack.partition,
            offset: ack.offset,
        };
        self.send_letter(&dlq, &letter).await;
        Ok(())
    }

    async fn ack(&mut self, acks: Vec<KafkaAck>) -> Result<(), BusError> {
        {
            let mut offsets = lock(&self.offsets);
            for a in acks {
                // A partition revoked meanwhile belongs to another consumer now.
                if let Some(p) = offsets.get_mut(&a.partition) {
                    p.outstanding.remove(&a.offset);
                }
            }
        }
        self.commit().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spooled_records_keep_key_and_value() {
        let r = encode_record("mbp", b"{\"x\":1}");
        assert_eq!(decode_record(&r), Some((&b"mbp"[..], &b"{\"x\":1}"[..])));
        assert_eq!(decode_record(&[5, 0, b'a']), None);
        assert_eq!(decode_record(&[]), None);
    }

    #[test]
    fn offsets_commit_up_to_the_first_unstored_delivery() {
        let mut p = PartitionOffsets {
            next: 10,
            ..Default::default()
        };
        assert_eq!(p.committable(), 10);
        p.outstanding.extend([7, 8, 9]);
        assert_eq!(p.committable(), 7);
        p.outstanding.remove(&8);
        assert_eq!(p.committable(), 7, "9 stored before 7 does not move it");
        p.outstanding.remove(&7);
        assert_eq!(p.committable(), 9);
        p.outstanding.remove(&9);
        assert_eq!(p.committable(), 10);
    }

    #[test]
    fn secrets_are_not_in_debug_output() {
        let mut c = KafkaConfig::default();
        c.options.insert("sasl.password", "hunter2");
        c.options.insert("sasl.username", "nbi");
        let s = c.for_host("h");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(s.instance, "nbi-collect-h");
        // librdkafka still gets it.
        let exposed: Vec<_> = s.options.exposed().collect();
        assert!(exposed.contains(&("sasl.password", "hunter2")));
        assert!(exposed.contains(&("sasl.username", "nbi")));
    }
}
