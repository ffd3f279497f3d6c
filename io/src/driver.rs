//! The driver: one tokio task that owns the state machine and carries out
//! its effects in order — batches to the [`Store`], attempts to the
//! [`Transport`], events to the app's sink, answers to callers — and feeds
//! back commands, transfer reports, durability and timeouts.
//!
//! Group commit: before it drains the machine, the driver takes every
//! command already waiting, so a burst of `startUpload` calls becomes one
//! `Store::apply` (one fsync).

use crate::clock::Clock;
use crate::listing::{UploadListing, listing};
use crate::transport::{ProgressSink, Transport};
use bgupload_fsm::validate;
use bgupload_fsm::{
    Attempt, AttemptReport, CommandId, Config, Effect, ErrorCode, Event, EventId, FileCheck, Input,
    Machine, NetworkState, Options, Rejection, StorageSpace, TransferReport, UploadId,
    UploadPayload,
};
use bgupload_persistence::{Store, StoreError};
use futures_util::FutureExt;
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Commands waiting in the driver's queue at most; callers wait beyond.
pub const COMMAND_QUEUE: usize = 1_024;
/// Transfer reports waiting at most; progress beyond is dropped.
pub const REPORT_QUEUE: usize = 4_096;
/// Commands taken into one group commit at most.
pub const MAX_COMMANDS_PER_ROUND: usize = 4_096;
/// Store failures in a row (with no successful write between them) the
/// driver recovers from by reopening the store; one more stops it.
pub const MAX_STORE_REOPENS_IN_A_ROW: u32 = 3;
/// While the disk is full, the driver tries to put the store's space
/// reserve back this often (and at a `startUpload`, at most this often: a
/// burst of refused calls costs one try).
pub const RESERVE_RETRY_MILLIS: u64 = 1_000;
/// Longest pause before reopening a store whose disk stays full.
pub const MAX_FULL_STORE_PAUSE_MILLIS: u64 = 30_000;

/// Where the app's events go: its single callback.
pub type EventSink = Box<dyn FnMut(Event) + Send>;

/// How the driver calls the store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StoreCalls {
    /// On tokio's blocking pool (a real disk).
    #[default]
    Blocking,
    /// Inline on the driver task (an in-memory store, e.g. under the
    /// simulator, where a thread pool would break determinism).
    Inline,
}

/// Settings of one engine.
#[derive(Clone, Copy, Debug)]
pub struct EngineOptions {
    pub machine: Options,
    pub store_calls: StoreCalls,
}

/// Why a command got no answer from the state machine.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// The command was refused, with the reference plugin's message.
    #[error("{}", .0.error)]
    Rejected(Rejection),
    /// The engine stopped (storage failure or shutdown): nothing was done,
    /// or it is not known whether it became durable; reopen the engine.
    #[error("the upload engine is not running: {0}")]
    Stopped(String),
    /// A write to the store failed while the command was being made
    /// durable: it may or may not have taken effect. The engine reopened
    /// the store and goes on; the command may be given again.
    #[error("the upload queue could not store this ({0}); the engine goes on, try again")]
    StoreFailed(String),
}

/// Why an engine could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("storage call failed: {0}")]
    StoreTask(String),
}

type Reply = oneshot::Sender<Result<(), CommandError>>;

enum Request {
    Init {
        config: Config,
        sink: EventSink,
        reply: Reply,
    },
    StartUpload {
        payload: UploadPayload,
        reply: Reply,
    },
    RemoveUpload {
        upload_id: String,
        reply: Reply,
    },
    AcknowledgeEvent {
        event_id: EventId,
        reply: Reply,
    },
    Destroy {
        reply: Reply,
    },
    PauseUpload {
        upload_id: String,
        reply: Reply,
    },
    ResumeUpload {
        upload_id: String,
        reply: Reply,
    },
    UpdateHeaders {
        upload_id: String,
        headers: Vec<(String, String)>,
        reply: Reply,
    },
    ListUploads {
        reply: oneshot::Sender<UploadListing>,
    },
    NetworkChanged(NetworkState),
    /// A report from a transfer the host owns (iOS background session).
    HostReport(AttemptReport),
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// Hands out each attempt's start to the host when transfers are owned by
/// the OS; the engine-owned transports run them on tokio instead.
///
/// The app-facing API. Cheap to clone; every clone talks to the same driver.
#[derive(Clone, Debug)]
pub struct Engine {
    requests: mpsc::Sender<Request>,
}

/// The driver task; await it to learn why it stopped.
pub type DriverTask = JoinHandle<Result<(), EngineError>>;

impl Engine {
    /// Loads the store, rebuilds the state machine and starts the driver.
    /// Uploads left in flight resume before the app calls `init`.
    pub async fn start<S, T>(
        store: Arc<S>,
        transport: Arc<T>,
        options: EngineOptions,
    ) -> Result<(Engine, DriverTask), EngineError>
    where
        S: Store + 'static,
        T: Transport,
    {
        let recovered = call_store(&store, options.store_calls, |store| store.load()).await?;
        let reserve_in_place = call_store(&store, options.store_calls, |store| {
            Ok(store.restore_reserve())
        })
        .await?;
        let clock = Clock::start();
        let mut machine = Machine::recover(options.machine, recovered, clock.now());
        if !reserve_in_place {
            let space = StorageSpace::ReserveOnly;
            machine.handle_input(clock.now(), Input::StorageChanged(space));
        }
        let (requests, request_queue) = mpsc::channel(COMMAND_QUEUE);
        let (reports, report_queue) = mpsc::channel(REPORT_QUEUE);
        let driver = Driver {
            machine,
            store,
            transport,
            options,
            clock,
            request_queue,
            reports,
            report_queue,
            sink: None,
            offered_sinks: BTreeMap::new(),
            replies: BTreeMap::new(),
            next_command: 1,
            transfers: BTreeMap::new(),
            store_failures_in_a_row: 0,
            last_reserve_try: None,
        };
        let task = tokio::spawn(driver.run());
        Ok((Engine { requests }, task))
    }

    async fn ask(&self, request: impl FnOnce(Reply) -> Request) -> Result<(), CommandError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(request(reply))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// `init(config, callback)`: every later event goes to `sink`; every
    /// unacknowledged event is delivered again first.
    pub async fn init(&self, config: Config, sink: EventSink) -> Result<(), CommandError> {
        self.ask(|reply| Request::Init {
            config,
            sink,
            reply,
        })
        .await
    }

    /// `startUpload(payload)`: returns once the upload is durable, or the
    /// refusal (also delivered as a FAILED event without `eventId`).
    pub async fn start_upload(&self, payload: UploadPayload) -> Result<(), CommandError> {
        self.ask(|reply| Request::StartUpload { payload, reply })
            .await
    }

    /// `removeUpload(id)`: returns once the cancellation is durable.
    pub async fn remove_upload(&self, upload_id: &str) -> Result<(), CommandError> {
        let upload_id = upload_id.to_owned();
        self.ask(|reply| Request::RemoveUpload { upload_id, reply })
            .await
    }

    /// `acknowledgeEvent(eventId)`: returns once the deletion is durable.
    pub async fn acknowledge_event(&self, event_id: EventId) -> Result<(), CommandError> {
        self.ask(|reply| Request::AcknowledgeEvent { event_id, reply })
            .await
    }

    /// `destroy()`: stops delivery; uploads go on.
    pub async fn destroy(&self) -> Result<(), CommandError> {
        self.ask(|reply| Request::Destroy { reply }).await
    }

    /// `pauseUpload(id)`: returns once the pause is durable.
    pub async fn pause_upload(&self, upload_id: &str) -> Result<(), CommandError> {
        let upload_id = upload_id.to_owned();
        self.ask(|reply| Request::PauseUpload { upload_id, reply })
            .await
    }

    /// `resumeUpload(id)`: returns once the upload is queued again, durably.
    pub async fn resume_upload(&self, upload_id: &str) -> Result<(), CommandError> {
        let upload_id = upload_id.to_owned();
        self.ask(|reply| Request::ResumeUpload { upload_id, reply })
            .await
    }

    /// `updateHeaders(id, headers)`: returns once the new headers are
    /// durable; every later attempt sends them.
    pub async fn update_headers(
        &self,
        upload_id: &str,
        headers: Vec<(String, String)>,
    ) -> Result<(), CommandError> {
        let upload_id = upload_id.to_owned();
        self.ask(|reply| Request::UpdateHeaders {
            upload_id,
            headers,
            reply,
        })
        .await
    }

    /// `getUploads()`: every unfinished upload, as the machine sees it now.
    pub async fn uploads(&self) -> Result<UploadListing, CommandError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::ListUploads { reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())
    }

    /// The host's view of the network changed: reachable, and metered.
    pub async fn set_network(&self, network: NetworkState) -> Result<(), CommandError> {
        self.requests
            .send(Request::NetworkChanged(network))
            .await
            .map_err(|_| stopped())
    }

    /// A report on a transfer the host runs (OS-owned mode).
    pub async fn report_transfer(&self, report: AttemptReport) -> Result<(), CommandError> {
        self.requests
            .send(Request::HostReport(report))
            .await
            .map_err(|_| stopped())
    }

    /// Stops the driver: running attempts are cancelled, nothing else
    /// changes (what was accepted stays stored).
    pub async fn shutdown(&self) {
        let (reply, done) = oneshot::channel();
        if self
            .requests
            .send(Request::Shutdown { reply })
            .await
            .is_ok()
        {
            let _ = done.await;
        }
    }
}

fn stopped() -> CommandError {
    CommandError::Stopped("the driver task ended".to_owned())
}

struct Driver<S, T> {
    machine: Machine,
    store: Arc<S>,
    transport: Arc<T>,
    options: EngineOptions,
    clock: Clock,
    request_queue: mpsc::Receiver<Request>,
    reports: mpsc::Sender<AttemptReport>,
    report_queue: mpsc::Receiver<AttemptReport>,
    /// The app's callback, as the machine attached it.
    sink: Option<EventSink>,
    /// Callbacks (and configurations) of inits the machine has not
    /// answered yet: one becomes `sink` on its `Effect::Attach`; a refused
    /// init's is dropped.
    offered_sinks: BTreeMap<CommandId, (EventSink, Config)>,
    replies: BTreeMap<CommandId, Reply>,
    next_command: u64,
    transfers: BTreeMap<UploadId, (Attempt, JoinHandle<()>)>,
    /// Failed store writes since the last one that succeeded.
    store_failures_in_a_row: u32,
    /// When the space reserve was last tried, while the disk is full.
    last_reserve_try: Option<bgupload_fsm::Time>,
}

enum Flow {
    Continue,
    Stop(Option<oneshot::Sender<()>>),
}

impl<S: Store + 'static, T: Transport> Driver<S, T> {
    async fn run(mut self) -> Result<(), EngineError> {
        let outcome = self.run_until_stopped().await;
        for (_, (_, handle)) in std::mem::take(&mut self.transfers) {
            handle.abort();
        }
        let reason = match &outcome {
            Ok(()) => "the engine was shut down".to_owned(),
            Err(error) => error.to_string(),
        };
        for (_, reply) in std::mem::take(&mut self.replies) {
            let _ = reply.send(Err(CommandError::Stopped(reason.clone())));
        }
        outcome
    }

    async fn run_until_stopped(&mut self) -> Result<(), EngineError> {
        loop {
            // Take what is already waiting, so that it shares the next fsync.
            for _ in 0..MAX_COMMANDS_PER_ROUND {
                match self.request_queue.try_recv() {
                    Ok(request) => {
                        if let Flow::Stop(reply) = self.take_request(request).await {
                            return self.stop(reply);
                        }
                    }
                    Err(_) => break,
                }
            }
            while let Ok(report) = self.report_queue.try_recv() {
                self.handle_report(report);
            }
            self.carry_out_effects().await?;

            let deadline = self.machine.poll_timeout();
            if let Some(time) = deadline {
                let wait = time.saturating_millis_since(self.clock.now());
                tracing::debug!(
                    wait_millis = wait,
                    "next deadline (retry, throttle or reconcile)"
                );
            }
            let sleep = async {
                match deadline {
                    Some(time) => tokio::time::sleep_until(self.clock.instant(time)).await,
                    None => std::future::pending().await,
                }
            };
            // While the disk is full: the next try to put the reserve back.
            let reserve_retry =
                (self.machine.storage_space() != StorageSpace::Available).then(|| {
                    self.last_reserve_try
                        .unwrap_or_default()
                        .saturating_add_millis(RESERVE_RETRY_MILLIS)
                });
            let reserve_retry = async {
                match reserve_retry {
                    Some(time) => tokio::time::sleep_until(self.clock.instant(time)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                request = self.request_queue.recv() => match request {
                    Some(request) => {
                        if let Flow::Stop(reply) = self.take_request(request).await {
                            return self.stop(reply);
                        }
                    }
                    // Every Engine handle is gone: nobody can ask anything.
                    None => return Ok(()),
                },
                report = self.report_queue.recv() => {
                    if let Some(report) = report {
                        self.handle_report(report);
                    }
                }
                () = sleep => self.input(Input::Timeout),
                () = reserve_retry => self.try_restore_reserve().await,
            }
        }
    }

    fn stop(&mut self, reply: Option<oneshot::Sender<()>>) -> Result<(), EngineError> {
        if let Some(reply) = reply {
            let _ = reply.send(());
        }
        Ok(())
    }

    fn input(&mut self, input: Input) {
        self.machine.handle_input(self.clock.now(), input);
    }

    fn command(&mut self, reply: Reply) -> CommandId {
        let command = CommandId(self.next_command);
        self.next_command += 1;
        self.replies.insert(command, reply);
        command
    }

    /// Hands `request` to the machine; a `startUpload` while the disk is
    /// full first tries to put the space reserve back (space returned).
    async fn take_request(&mut self, request: Request) -> Flow {
        let full = self.machine.storage_space() != StorageSpace::Available;
        if full && matches!(request, Request::StartUpload { .. }) {
            self.try_restore_reserve().await;
        }
        self.handle_request(request)
    }

    async fn try_restore_reserve(&mut self) {
        let now = self.clock.now();
        let due = self
            .last_reserve_try
            .is_none_or(|at| now.saturating_millis_since(at) >= RESERVE_RETRY_MILLIS);
        if !due {
            return;
        }
        self.last_reserve_try = Some(now);
        let restored = call_store(&self.store, self.options.store_calls, |store| {
            Ok(store.restore_reserve())
        })
        .await;
        if matches!(restored, Ok(true)) {
            tracing::info!("the disk has room again: new uploads are accepted");
            self.input(Input::StorageChanged(StorageSpace::Available));
        }
    }

    fn handle_request(&mut self, request: Request) -> Flow {
        match request {
            Request::Init {
                config,
                sink,
                reply,
            } => {
                // The machine says when this callback takes over
                // (`Effect::Attach`), or that it never does.
                let command = self.command(reply);
                self.offered_sinks.insert(command, (sink, config));
                self.input(Input::Init { command, config });
            }
            Request::StartUpload { payload, reply } => {
                let limits = &self.options.machine.limits;
                let file = match payload.file_path.as_deref() {
                    Some(path) if validate::file_path_may_be_checked(path, limits) => {
                        self.transport.check_file(path)
                    }
                    _ => FileCheck::NotChecked,
                };
                let command = self.command(reply);
                self.input(Input::StartUpload {
                    command,
                    payload,
                    file,
                });
            }
            Request::RemoveUpload { upload_id, reply } => {
                let command = self.command(reply);
                self.input(Input::RemoveUpload { command, upload_id });
            }
            Request::AcknowledgeEvent { event_id, reply } => {
                let command = self.command(reply);
                self.input(Input::AcknowledgeEvent { command, event_id });
            }
            Request::Destroy { reply } => {
                let command = self.command(reply);
                self.input(Input::Destroy { command });
            }
            Request::PauseUpload { upload_id, reply } => {
                let command = self.command(reply);
                self.input(Input::PauseUpload { command, upload_id });
            }
            Request::ResumeUpload { upload_id, reply } => {
                let command = self.command(reply);
                self.input(Input::ResumeUpload { command, upload_id });
            }
            Request::UpdateHeaders {
                upload_id,
                headers,
                reply,
            } => {
                let command = self.command(reply);
                self.input(Input::UpdateHeaders {
                    command,
                    upload_id,
                    headers,
                });
            }
            Request::ListUploads { reply } => {
                let now = self.clock.now();
                let _ = reply.send(listing(&self.machine, now, std::time::SystemTime::now()));
            }
            Request::NetworkChanged(network) => {
                self.input(Input::NetworkChanged(network));
            }
            Request::HostReport(report) => self.handle_report(report),
            Request::Shutdown { reply } => return Flow::Stop(Some(reply)),
        }
        Flow::Continue
    }

    fn handle_report(&mut self, report: AttemptReport) {
        if report.report.is_final() {
            log_attempt_end(&report);
            let this_attempt = self
                .transfers
                .get(&report.upload_id)
                .is_some_and(|(attempt, _)| *attempt == report.attempt);
            if this_attempt {
                self.transfers.remove(&report.upload_id);
            }
        }
        self.input(Input::Transfer(report));
    }

    /// Drains the machine; persists the batches it hands out in one store
    /// call, confirms them, and drains again, until nothing is left.
    async fn carry_out_effects(&mut self) -> Result<(), EngineError> {
        let mut deferred = Vec::new();
        loop {
            let mut batches = Vec::new();
            while let Some(effect) = self.machine.poll_effect() {
                match effect {
                    Effect::PersistBatch(batch) => batches.push(batch),
                    Effect::StartAttempt { request, attempt } => {
                        self.start_attempt(request, attempt)
                    }
                    Effect::CancelAttempt { upload_id, attempt } => {
                        let runs_here = self
                            .transfers
                            .get(&upload_id)
                            .is_some_and(|(running, _)| *running == attempt);
                        match self.transfers.remove(&upload_id) {
                            Some((_, handle)) if runs_here => handle.abort(),
                            Some(other) => {
                                self.transfers.insert(upload_id.clone(), other);
                                self.transport.cancel_elsewhere(&upload_id, attempt);
                            }
                            None => self.transport.cancel_elsewhere(&upload_id, attempt),
                        }
                    }
                    Effect::Deliver(event) => {
                        if let Some(sink) = self.sink.as_mut() {
                            sink(event);
                        }
                    }
                    Effect::Attach { command } => {
                        self.sink = self.offered_sinks.remove(&command).map(|(sink, _)| sink);
                    }
                    Effect::Detach => self.sink = None,
                    Effect::CommandDone { command, result } => {
                        self.offered_sinks.remove(&command);
                        if let Some(reply) = self.replies.remove(&command) {
                            let _ = reply.send(result.map_err(CommandError::Rejected));
                        }
                    }
                }
            }
            let Some(through) = batches.last().map(|batch| batch.id) else {
                break;
            };
            if cfg!(feature = "canary-deliver-before-durable") {
                // Deliberately wrong, for the simulator's canary test: the
                // machine hears "durable" at once and the batches are
                // written only after what they released was carried out.
                self.input(Input::Durable { through });
                deferred.extend(batches);
                continue;
            }
            match self.persist(batches).await {
                Ok(()) => {
                    self.store_failures_in_a_row = 0;
                    self.input(Input::Durable { through });
                }
                // The machine is rebuilt from the store; drain it again.
                Err(error) => self.recover_from_store_failure(error).await?,
            }
        }
        if !deferred.is_empty() {
            self.persist(deferred).await?;
        }
        Ok(())
    }

    /// After a failed write: the machine's state is no longer known to be
    /// durable, so the commands waiting on it get errors, its attempts are
    /// stopped, and it is rebuilt from the reopened store, with the app's
    /// callback kept (re-`init` with the configuration in force, which
    /// writes nothing and delivers the unacknowledged events again).
    ///
    /// A full disk (the store released its reserve) refuses new uploads;
    /// a second one starts no attempt either, until the reserve is back.
    /// It never stops the driver: it waits longer each time in a row.
    /// Other failures stop it after [`MAX_STORE_REOPENS_IN_A_ROW`].
    async fn recover_from_store_failure(&mut self, error: EngineError) -> Result<(), EngineError> {
        self.store_failures_in_a_row = self.store_failures_in_a_row.saturating_add(1);
        let full = matches!(&error, EngineError::Store(cause) if cause.is_storage_full());
        if !full && self.store_failures_in_a_row > MAX_STORE_REOPENS_IN_A_ROW {
            return Err(error);
        }
        if !full {
            tracing::warn!(%error, "a write to the store failed; reopening it");
        }
        for (_, (_, handle)) in std::mem::take(&mut self.transfers) {
            handle.abort();
        }
        let cause = error.to_string();
        for (_, reply) in std::mem::take(&mut self.replies) {
            let _ = reply.send(Err(CommandError::StoreFailed(cause.clone())));
        }
        if full && self.store_failures_in_a_row > 1 {
            let pause = (RESERVE_RETRY_MILLIS << self.store_failures_in_a_row.min(16))
                .min(MAX_FULL_STORE_PAUSE_MILLIS);
            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        }
        let calls = self.options.store_calls;
        call_store(&self.store, calls, |store| store.reopen()).await?;
        let recovered = call_store(&self.store, calls, |store| store.load()).await?;
        // The reserve is not put back here: the room it just gave is what
        // lets the accepted uploads finish.
        let space = match (full, self.machine.storage_space()) {
            (false, space) => space,
            (true, StorageSpace::Available) => StorageSpace::ReserveOnly,
            (true, _) => StorageSpace::Exhausted,
        };
        match space {
            StorageSpace::ReserveOnly => tracing::warn!(
                "the disk is full: new uploads are refused until it has room; \
                 accepted ones go on in the queue's reserve"
            ),
            StorageSpace::Exhausted => tracing::warn!(
                "the disk is full and the queue's reserve is spent: \
                 uploads wait until the disk has room"
            ),
            StorageSpace::Available => {}
        }
        self.rebuild_machine(recovered, space);
        Ok(())
    }

    /// Replaces the machine by one recovered from `recovered`, with the
    /// network, storage and callback of the one it replaces.
    fn rebuild_machine(&mut self, recovered: bgupload_fsm::Recovered, space: StorageSpace) {
        let mut options = self.options.machine;
        options.network = self.machine.network();
        options.seed = self.machine.successor_seed();
        // The app's newest init (its answer was an error, but the app
        // meant it), else the callback attached.
        let offered = std::mem::take(&mut self.offered_sinks)
            .into_values()
            .rev()
            .find(|(_, config)| validate::config(*config).is_ok());
        let attached = self.machine.is_attached();
        let current = self.sink.take().filter(|_| attached);
        let sink = offered.or_else(|| current.map(|sink| (sink, *self.machine.config())));
        self.machine = Machine::recover(options, recovered, self.clock.now());
        self.last_reserve_try = Some(self.clock.now());
        if space != StorageSpace::Available {
            self.input(Input::StorageChanged(space));
        }
        if let Some((sink, config)) = sink {
            let command = CommandId(self.next_command);
            self.next_command += 1;
            self.offered_sinks.insert(command, (sink, config));
            self.input(Input::Init { command, config });
        }
    }

    async fn persist(&mut self, batches: Vec<bgupload_fsm::Batch>) -> Result<(), EngineError> {
        let group = batches.len();
        let changes: usize = batches.iter().map(|batch| batch.changes.len()).sum();
        let started = std::time::Instant::now();
        let batches = Arc::new(batches);
        let result = call_store(&self.store, self.options.store_calls, move |store| {
            store.apply(&batches)
        })
        .await;
        tracing::debug!(
            batches = group,
            changes,
            micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            ok = result.is_ok(),
            "persisted one group"
        );
        result
    }

    fn start_attempt(&mut self, request: bgupload_fsm::UploadRequest, attempt: Attempt) {
        let upload_id = request.id.clone();
        tracing::debug!(
            upload = %upload_id,
            attempt = attempt.0,
            url = %crate::transport::loggable_url(&request.server_url),
            "attempt starts"
        );
        let progress = ProgressSink::new(upload_id.clone(), attempt, self.reports.clone());
        // A transport that panics must still end its attempt with a report,
        // or the upload would wait for it until the next relaunch.
        let run = AssertUnwindSafe(self.transport.run(request, attempt, progress)).catch_unwind();
        let reports = self.reports.clone();
        let report_id = upload_id.clone();
        let handle = tokio::spawn(async move {
            let report = run.await.unwrap_or_else(|panic| {
                let detail = crate::panic_message(panic.as_ref());
                TransferReport::failed(
                    format!("the transfer failed unexpectedly: {detail}"),
                    ErrorCode::TransportFailedInside.code(),
                    false,
                )
            });
            let _ = reports
                .send(AttemptReport {
                    upload_id: report_id,
                    attempt,
                    report,
                })
                .await;
        });
        if let Some((_, previous)) = self.transfers.insert(upload_id, (attempt, handle)) {
            // The machine never runs two attempts of one upload; if it did,
            // the older one must not go on sending.
            previous.abort();
        }
    }
}

/// The end of an attempt, for the debug log (no URL, header or body).
fn log_attempt_end(report: &AttemptReport) {
    let (upload, attempt) = (&report.upload_id, report.attempt.0);
    match &report.report {
        TransferReport::Response { status, .. } => {
            tracing::debug!(%upload, attempt, status, "attempt ends with an answer");
        }
        TransferReport::Failed(failure) => tracing::debug!(
            %upload,
            attempt,
            error_code = failure.error_code,
            retryable = failure.retryable,
            "attempt ends without an answer"
        ),
        TransferReport::Progress { .. } => {}
    }
}

async fn call_store<S, R>(
    store: &Arc<S>,
    calls: StoreCalls,
    call: impl FnOnce(&S) -> Result<R, StoreError> + Send + 'static,
) -> Result<R, EngineError>
where
    S: Store + 'static,
    R: Send + 'static,
{
    match calls {
        StoreCalls::Inline => Ok(call(store)?),
        StoreCalls::Blocking => {
            let store = store.clone();
            tokio::task::spawn_blocking(move || call(&store))
                .await
                .map_err(|error| EngineError::StoreTask(error.to_string()))?
                .map_err(EngineError::from)
        }
    }
}
