//! The upload state machine: one [`Machine::handle_input`], then drain
//! [`Machine::poll_effect`] until it returns `None`, then arm a timer for
//! [`Machine::poll_timeout`].

use crate::error_code::ErrorCode;
use crate::event::{
    Event, MSG_ATTEMPTS_EXHAUSTED, MSG_CANCELLED, MSG_LEGACY, Outcome, Rejection, TerminalEvent,
    server_refused_message,
};
use crate::record::{Batch, Change, LegacyUpload, Meta, Recovered, UploadRecord};
use crate::rng::SplitMix64;
use crate::types::{
    Attempt, BatchId, CommandId, Config, EventId, FileCheck, NetworkRequirement, NetworkState,
    Options, StatusVerdict, Time, TransferOwnership, UploadId, UploadPayload, UploadRequest,
};
use crate::validate::{self, MSG_ID_REQUIRED, MSG_NO_SPACE, truncate_to_char_boundary};
use std::collections::{BTreeMap, VecDeque};

/// Everything that can happen to the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// The app's `init(config, callback)`: attaches the callback, applies and
    /// persists the configuration, re-delivers every unacknowledged event in
    /// order. Allowed again at any time.
    Init { command: CommandId, config: Config },
    /// The app's `startUpload(payload)`. `file` is what the caller found at
    /// the payload's `filePath`.
    StartUpload {
        command: CommandId,
        payload: UploadPayload,
        file: FileCheck,
    },
    /// The app's `removeUpload(id)`: cancels a queued or running upload with a
    /// persisted FAILED -999. An unknown id succeeds.
    RemoveUpload {
        command: CommandId,
        upload_id: String,
    },
    /// The app's `acknowledgeEvent(eventId)`: the event is deleted durably and
    /// never delivered again. An unknown id succeeds.
    AcknowledgeEvent {
        command: CommandId,
        event_id: EventId,
    },
    /// The app's `destroy()`: detaches the callback; uploads go on.
    Destroy { command: CommandId },
    /// The app's `pauseUpload(id)`: the attempt stops, the upload holds no
    /// slot and starts no attempt until `ResumeUpload`, across relaunches
    /// too. No event. An unknown (or paused) id succeeds unchanged.
    PauseUpload {
        command: CommandId,
        upload_id: String,
    },
    /// The app's `resumeUpload(id)`: a paused upload is queued again (in
    /// its acceptance order). An unknown (or running) id succeeds unchanged.
    ResumeUpload {
        command: CommandId,
        upload_id: String,
    },
    /// The app's `updateHeaders(id, headers)`: every later attempt sends
    /// `headers` instead (a running one keeps what it sent). Refused for
    /// an upload that is not in progress.
    UpdateHeaders {
        command: CommandId,
        upload_id: String,
        headers: Vec<(String, String)>,
    },
    /// The host's view of the network changed: see [`NetworkState`].
    NetworkChanged(NetworkState),
    /// What room the store's disk has: see [`StorageSpace`].
    StorageChanged(StorageSpace),
    /// A transport reports on an attempt. Reports for any attempt other than
    /// the upload's current one are ignored.
    Transfer(AttemptReport),
    /// Every batch up to and including `through` is durable.
    Durable { through: BatchId },
    /// The deadline from [`Machine::poll_timeout`] (or any later time) came.
    Timeout,
}

/// What room the store's disk has, as the driver learns it from the store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StorageSpace {
    /// Room for everything.
    #[default]
    Available,
    /// The disk is full and the store gave back its space reserve: new
    /// uploads are refused ("No space left on device", -4007); accepted
    /// ones run, finish and are acknowledged in the reserve's room.
    ReserveOnly,
    /// The reserve's room is spent too: new uploads are refused and no
    /// attempt starts (each one writes); commands are still tried.
    Exhausted,
}

/// A report on one attempt of one upload, as transports send it to the
/// driver and the driver hands it to the machine: the one shape of a
/// transfer report in every layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptReport {
    pub upload_id: UploadId,
    pub attempt: Attempt,
    pub report: TransferReport,
}

/// What a transport says about one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferReport {
    /// Bytes of the request body handed to the network so far.
    Progress { sent: u64, total: u64 },
    /// The server answered. The upload's [`crate::StatusPolicy`] decides
    /// what the status means.
    Response {
        status: u16,
        /// The body as received, already cut by the transport to at most
        /// `Limits::max_response_bytes` (the machine cuts again if not).
        body: Vec<u8>,
        /// Whether the transport dropped part of the body.
        truncated: bool,
        /// The answer's `Retry-After`, as a delay from when it came
        /// (seconds, or an HTTP date less the answer's own `Date`), if it
        /// had a valid one. Bounded by the machine, not trusted.
        retry_after_millis: Option<u64>,
    },
    /// No answer: the attempt failed before a response arrived.
    Failed(TransferFailure),
}

impl TransferReport {
    /// A failure without an answer.
    pub fn failed(message: String, error_code: i32, retryable: bool) -> TransferReport {
        TransferReport::Failed(TransferFailure {
            message,
            error_code,
            retryable,
        })
    }

    /// Whether this report ends its attempt (anything but progress).
    pub fn is_final(&self) -> bool {
        !matches!(self, TransferReport::Progress { .. })
    }
}

/// Why an attempt got no response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferFailure {
    pub message: String,
    /// Becomes `errorCode` if this failure ends the upload.
    pub error_code: i32,
    /// Network trouble is retryable; a file that vanished or changed size
    /// during the upload is not.
    pub retryable: bool,
}

/// What the caller must do, in the order the machine hands them out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Write the batch atomically after all earlier ones, then report
    /// [`Input::Durable`]. Events and command results that depend on it are
    /// held back until then (write-ahead).
    PersistBatch(Batch),
    /// Start attempt `attempt` of an upload. The attempt is already durable.
    StartAttempt {
        request: UploadRequest,
        attempt: Attempt,
    },
    /// Stop an attempt at once; its later reports are ignored anyway.
    CancelAttempt {
        upload_id: UploadId,
        attempt: Attempt,
    },
    /// The callback `init` (`command`) gave is now the app's: every later
    /// `Deliver` goes to it, until the next `Attach` or a `Detach`. Comes
    /// before the re-deliveries that init causes; a refused init has none.
    Attach { command: CommandId },
    /// `destroy`: no callback from here on; release the current one.
    Detach,
    /// Hand this event to the app's callback.
    Deliver(Event),
    /// The command is done (durably, when it changed anything).
    CommandDone {
        command: CommandId,
        result: Result<(), Rejection>,
    },
}

/// Where an accepted upload is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for a free slot (and for the network).
    Ready,
    /// Waiting out a retry backoff.
    Backoff { until: Time },
    /// `pauseUpload`: waits for `resumeUpload`.
    Paused,
    /// A transfer is in flight.
    Transferring {
        attempt: Attempt,
        progress: Progress,
    },
    /// After relaunch, an OS-owned transfer may still be running: wait for
    /// its report until `deadline`.
    Reconciling { attempt: Attempt, deadline: Time },
}

/// A server's answer, as an event keeps it.
struct Answer {
    status_code: u16,
    server_response: String,
    response_truncated: bool,
}

impl Answer {
    fn uploaded(self) -> Outcome {
        Outcome::Uploaded {
            status_code: self.status_code,
            server_response: self.server_response,
            response_truncated: self.response_truncated,
        }
    }

    /// FAILED with the answer kept; `gave_up_after` retries, if it was a
    /// retried status.
    fn refused(self, gave_up_after: Option<u32>) -> Outcome {
        let mut error = server_refused_message(self.status_code);
        if let Some(attempts) = gave_up_after {
            error = format!("{error} (gave up after {attempts} attempts)");
        }
        Outcome::FailedByServer {
            error,
            status_code: self.status_code,
            server_response: self.server_response,
            response_truncated: self.response_truncated,
        }
    }
}

/// Whether the current attempt of an upload that ends may still be running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AttemptState {
    /// Its own report (answer or failure) ended it: nothing to cancel.
    Ended,
    /// The app ended the upload: the attempt must be stopped.
    MayBeRunning,
}

/// Throttling state of UPLOADING events for one attempt, and the bytes it
/// last reported (for listings).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Progress {
    last_emitted: Option<(Time, u8)>,
    pending: Option<u8>,
    sent: u64,
    total: Option<u64>,
}

/// Where an unfinished upload is, as `getUploads` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadState {
    /// Waiting for a parallel slot.
    Queued,
    /// Waiting for a network it may use (none, or only a metered one).
    WaitingForNetwork,
    /// An attempt is in flight.
    Running,
    /// Waiting out a backoff before its next attempt.
    Retrying { next_attempt_at: Time },
    /// `pauseUpload`.
    Paused,
    /// After a relaunch: waiting for the OS's report on its transfer.
    Reconciling,
}

impl UploadState {
    /// The name `getUploads` gives.
    pub fn as_str(self) -> &'static str {
        match self {
            UploadState::Queued => "queued",
            UploadState::WaitingForNetwork => "waiting-for-network",
            UploadState::Running => "running",
            UploadState::Retrying { .. } => "retrying",
            UploadState::Paused => "paused",
            UploadState::Reconciling => "reconciling",
        }
    }
}

/// One entry of [`Machine::uploads`]: a view of the machine's own state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadStatus<'a> {
    pub request: &'a UploadRequest,
    pub state: UploadState,
    /// The last attempt's number (0 before the first).
    pub attempt: u32,
    /// Bytes of the current attempt's body sent so far (0 between attempts).
    pub bytes_sent: u64,
    /// The current attempt's body size once it reported one, else the
    /// file's size.
    pub bytes_total: u64,
}

#[derive(Clone, Debug)]
struct Upload {
    record: UploadRecord,
    phase: Phase,
}

/// The state machine. See the crate documentation for the contract.
#[derive(Debug)]
pub struct Machine {
    options: Options,
    config: Config,
    rng: SplitMix64,
    now: Time,
    attached: bool,
    network: NetworkState,
    /// New uploads are refused unless the store's disk has room.
    storage: StorageSpace,

    uploads: BTreeMap<UploadId, Upload>,
    /// Sequence → id of uploads in `Phase::Ready` that may use any
    /// network: the start order.
    ready: BTreeMap<u64, UploadId>,
    /// The same, of uploads that need an unmetered network.
    ready_unmetered: BTreeMap<u64, UploadId>,
    /// Sequence → id of uploads in `Phase::Paused`.
    paused: BTreeMap<u64, UploadId>,
    /// (deadline, sequence) → id of uploads in `Phase::Backoff`.
    backoff: BTreeMap<(Time, u64), UploadId>,
    /// Sequence → id of uploads transferring or reconciling.
    in_flight: BTreeMap<u64, UploadId>,
    next_sequence: u64,

    /// Persisted terminal events not yet acknowledged, in delivery order.
    events: BTreeMap<EventId, TerminalEvent>,
    event_of_upload: BTreeMap<UploadId, EventId>,
    next_event_id: u64,

    next_batch: u64,
    durable_through: BatchId,
    /// Effects the caller may take now.
    ready_effects: VecDeque<Effect>,
    /// Effects waiting for a batch to be durable, in order.
    gated_effects: VecDeque<(BatchId, Effect)>,
}

impl Machine {
    /// A machine with nothing stored yet.
    pub fn new(options: Options) -> Machine {
        Machine::recover(options, Recovered::default(), Time::ZERO)
    }

    /// A machine rebuilt from what a store loaded at start-up. In-flight
    /// uploads are re-queued (engine-owned transfers) or reconciled
    /// (OS-owned). Legacy in-flight uploads become FAILED 500. Inconsistent
    /// stored data is repaired durably rather than trusted or panicked on.
    ///
    /// Requires [`Recovered::check`]: records the machine cannot have
    /// written (ids out of range) are the store's to refuse as damaged.
    pub fn recover(options: Options, recovered: Recovered, now: Time) -> Machine {
        if let Err(reason) = recovered.check() {
            panic!("Machine::recover needs a checked store state: {reason}");
        }
        let config = recovered
            .meta
            .and_then(|meta| validate::config(meta.config).ok())
            .unwrap_or_default();
        let mut machine = Machine::empty(options, config, now, recovered.next_event_id());
        machine.restore_events(recovered.events);
        let mut repairs = machine.restore_uploads(recovered.uploads);
        repairs.extend(machine.migrate_legacy_uploads(recovered.legacy_uploads));
        // A store written by an older build may hold more OS-owned transfers
        // than its limit allows.
        repairs.extend(machine.shed_excess_transfers());
        // A stored event counter behind a stored event id (or missing beside
        // events) is corrected durably, or an acknowledged id could come back.
        let stored_counter = recovered.meta.map(|meta| meta.next_event_id);
        if !repairs.is_empty()
            || stored_counter != Some(machine.next_event_id) && !machine.events.is_empty()
        {
            repairs.push(Change::PutMeta(machine.meta()));
            machine.persist(repairs);
        }
        machine.schedule();
        machine.check_invariants();
        machine
    }

    /// A machine holding nothing yet.
    fn empty(options: Options, config: Config, now: Time, next_event_id: u64) -> Machine {
        Machine {
            options,
            config,
            rng: SplitMix64::new(options.seed),
            now,
            attached: false,
            network: options.network,
            storage: StorageSpace::Available,
            uploads: BTreeMap::new(),
            ready: BTreeMap::new(),
            ready_unmetered: BTreeMap::new(),
            paused: BTreeMap::new(),
            backoff: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            next_sequence: 0,
            events: BTreeMap::new(),
            event_of_upload: BTreeMap::new(),
            next_event_id,
            next_batch: 1,
            durable_through: BatchId(0),
            ready_effects: VecDeque::new(),
            gated_effects: VecDeque::new(),
        }
    }

    /// Recovery, step 1: the stored events, deliverable again.
    fn restore_events(&mut self, events: Vec<TerminalEvent>) {
        for event in events {
            // This machine never writes two events for one upload; if a store
            // holds two, both stay deliverable and the first is indexed.
            self.event_of_upload
                .entry(event.upload_id.clone())
                .or_insert(event.event_id);
            self.events.insert(event.event_id, event);
        }
    }

    /// Recovery, step 2: the stored uploads, in acceptance order; in-flight
    /// ones re-queued (engine-owned) or reconciled (OS-owned). Returns the
    /// deletions of records that must not stay.
    fn restore_uploads(&mut self, mut records: Vec<UploadRecord>) -> Vec<Change> {
        let mut repairs = Vec::new();
        records.sort_by_key(|record| record.sequence);
        for mut record in records {
            let id = record.request.id.clone();
            if self.event_of_upload.contains_key(&id) || self.uploads.contains_key(&id) {
                // Already ended, or stored twice: the event (or the first
                // record) wins.
                repairs.push(Change::DeleteUpload(id));
                continue;
            }
            record.sequence = self.next_sequence;
            self.next_sequence += 1;
            let phase = match (
                record.in_flight,
                record.last_attempt,
                self.options.ownership,
            ) {
                // A pause persists with no attempt in flight.
                _ if record.paused => {
                    record.in_flight = false;
                    Phase::Paused
                }
                (true, Some(attempt), TransferOwnership::Os) => Phase::Reconciling {
                    attempt,
                    deadline: self
                        .now
                        .saturating_add_millis(self.options.limits.reconcile_timeout_millis),
                },
                _ => {
                    record.in_flight = false;
                    Phase::Ready
                }
            };
            self.insert_upload(Upload { record, phase });
        }
        repairs
    }

    /// Recovery, step 3: uploads an older storage format left in flight
    /// end FAILED 500; their old records are deleted by their stored key.
    fn migrate_legacy_uploads(&mut self, legacy_uploads: Vec<LegacyUpload>) -> Vec<Change> {
        let mut repairs = Vec::new();
        for legacy in legacy_uploads {
            // Old ids are kept as stored, whatever rule they break: the app
            // knows them.
            let upload_id = UploadId::from_stored(&legacy.id);
            repairs.push(Change::DeleteUpload(upload_id.clone()));
            if self.event_of_upload.contains_key(&upload_id)
                || self.uploads.contains_key(&upload_id)
            {
                continue;
            }
            let event = self.new_terminal_event(
                upload_id,
                Outcome::Failed {
                    error: MSG_LEGACY.to_owned(),
                    error_code: ErrorCode::LegacyRecord.code(),
                },
            );
            repairs.push(Change::PutEvent(event));
        }
        repairs
    }

    /// Applies one input at time `now` (a `now` earlier than one seen before
    /// is taken as the latest seen: time never goes back).
    pub fn handle_input(&mut self, now: Time, input: Input) {
        self.now = self.now.max(now);
        match input {
            Input::Init { command, config } => self.on_init(command, config),
            Input::StartUpload {
                command,
                payload,
                file,
            } => self.on_start_upload(command, payload, file),
            Input::RemoveUpload { command, upload_id } => self.on_remove(command, &upload_id),
            Input::AcknowledgeEvent { command, event_id } => self.on_acknowledge(command, event_id),
            Input::Destroy { command } => {
                self.attached = false;
                self.ready_effects
                    .retain(|effect| !matches!(effect, Effect::Deliver(_)));
                self.gated_effects
                    .retain(|(_, effect)| !matches!(effect, Effect::Deliver(_)));
                // In order after any Attach still held back.
                self.push_gated(Effect::Detach);
                self.push_gated(Effect::CommandDone {
                    command,
                    result: Ok(()),
                });
            }
            Input::PauseUpload { command, upload_id } => self.on_pause(command, &upload_id),
            Input::ResumeUpload { command, upload_id } => self.on_resume(command, &upload_id),
            Input::UpdateHeaders {
                command,
                upload_id,
                headers,
            } => self.on_update_headers(command, &upload_id, headers),
            Input::NetworkChanged(network) => self.on_network_changed(network),
            Input::StorageChanged(space) => self.storage = space,
            Input::Transfer(AttemptReport {
                upload_id,
                attempt,
                report,
            }) => self.on_transfer(&upload_id, attempt, report),
            Input::Durable { through } => self.on_durable(through),
            Input::Timeout => self.on_timeout(),
        }
        self.schedule();
        self.check_invariants();
    }

    /// The next effect to carry out, in order, or `None` when there is
    /// nothing to do until the next input.
    #[must_use = "an effect not carried out is a lost write, transfer or event"]
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.ready_effects.pop_front()
    }

    /// When to feed [`Input::Timeout`] next, if anything waits on time.
    #[must_use = "a deadline not armed is a retry that never comes"]
    pub fn poll_timeout(&self) -> Option<Time> {
        let mut next = self.backoff.first_key_value().map(|((until, _), _)| *until);
        for id in self.in_flight.values() {
            let deadline = match self.uploads.get(id).map(|upload| upload.phase) {
                Some(Phase::Reconciling { deadline, .. }) => Some(deadline),
                Some(Phase::Transferring {
                    progress:
                        Progress {
                            last_emitted: Some((at, _)),
                            pending: Some(_),
                            ..
                        },
                    ..
                }) => Some(at.saturating_add_millis(self.config.progress.min_interval_millis)),
                _ => None,
            };
            next = match (next, deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        next
    }

    /// A seed for a machine that replaces this one in the same process
    /// (the driver rebuilds its machine after a failed write): drawn from
    /// this one's generator, so that keys do not repeat and a replay
    /// stays exact.
    pub fn successor_seed(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Uploads accepted and not yet ended.
    pub fn upload_count(&self) -> usize {
        self.uploads.len()
    }

    /// Transfers in flight (transferring or reconciling).
    pub fn in_flight_count(&self) -> usize {
        self.in_flight.len()
    }

    /// Terminal events not yet acknowledged.
    pub fn unacknowledged_events(&self) -> impl Iterator<Item = &TerminalEvent> {
        self.events.values()
    }

    /// Event ids not handed out yet; every live upload holds a claim on one.
    pub fn event_ids_left(&self) -> u64 {
        EventId::MAX.0 + 1 - self.next_event_id
    }

    /// The network, as last reported.
    pub fn network(&self) -> NetworkState {
        self.network
    }

    /// Every unfinished upload, in acceptance order, with where it is.
    pub fn uploads(&self) -> Vec<UploadStatus<'_>> {
        let mut statuses: Vec<(u64, UploadStatus<'_>)> = self
            .uploads
            .values()
            .map(|upload| (upload.record.sequence, self.status_of(upload)))
            .collect();
        statuses.sort_by_key(|(sequence, _)| *sequence);
        statuses.into_iter().map(|(_, status)| status).collect()
    }

    fn status_of<'a>(&self, upload: &'a Upload) -> UploadStatus<'a> {
        let record = &upload.record;
        let (state, sent, total) = match upload.phase {
            Phase::Ready if !record.request.network.is_met_by(self.network) => {
                (UploadState::WaitingForNetwork, 0, None)
            }
            Phase::Ready => (UploadState::Queued, 0, None),
            Phase::Backoff { until } => (
                UploadState::Retrying {
                    next_attempt_at: until,
                },
                0,
                None,
            ),
            Phase::Paused => (UploadState::Paused, 0, None),
            Phase::Transferring { progress, .. } => {
                (UploadState::Running, progress.sent, progress.total)
            }
            Phase::Reconciling { .. } => (UploadState::Reconciling, 0, None),
        };
        UploadStatus {
            request: &record.request,
            state,
            attempt: record.last_attempt.map_or(0, |attempt| attempt.0),
            bytes_sent: sent,
            bytes_total: total.unwrap_or(record.file_size),
        }
    }

    /// What room the store's disk has, as last reported.
    pub fn storage_space(&self) -> StorageSpace {
        self.storage
    }

    /// Whether an app callback is attached (after `init`, before `destroy`).
    pub fn is_attached(&self) -> bool {
        self.attached
    }

    // ----- commands -----

    fn on_init(&mut self, command: CommandId, config: Config) {
        let config = match validate::config(config) {
            Ok(config) => config,
            Err(error) => {
                self.push_gated(Effect::CommandDone {
                    command,
                    result: Err(Rejection::coded(None, ErrorCode::InvalidArgument, error)),
                });
                return;
            }
        };
        let unchanged = config == self.config;
        self.config = config;
        self.attached = true;
        // The new limit and the transfers it sends back are one batch: a
        // kill between them would leave more in flight than the limit. An
        // init with the configuration in force writes nothing (the driver
        // re-attaches that way after reopening a full store).
        let shed = self.shed_excess_transfers();
        if !unchanged || !shed.is_empty() {
            let mut changes = vec![Change::PutMeta(self.meta())];
            changes.extend(shed);
            self.persist(changes);
        }
        // Re-deliver every unacknowledged event, in order. Terminal events
        // already queued would come twice in a row: drop those first.
        self.gated_effects
            .retain(|(_, effect)| !matches!(effect, Effect::Deliver(Event::Terminal(_))));
        self.ready_effects
            .retain(|effect| !matches!(effect, Effect::Deliver(Event::Terminal(_))));
        self.push_gated(Effect::Attach { command });
        let events: Vec<TerminalEvent> = self.events.values().cloned().collect();
        for event in events {
            self.push_gated(Effect::Deliver(Event::Terminal(event)));
        }
        self.push_gated(Effect::CommandDone {
            command,
            result: Ok(()),
        });
    }

    fn on_start_upload(&mut self, command: CommandId, payload: UploadPayload, file: FileCheck) {
        let limits = self.options.limits;
        let accepted = validate::upload_request(&payload, file, &limits, &self.config).and_then(|request| {
            let reject = |code: ErrorCode, error: String| {
                Rejection::coded(Some(request.id.as_str().to_owned()), code, error)
            };
            if self.storage != StorageSpace::Available {
                return Err(reject(ErrorCode::StorageFull, MSG_NO_SPACE.to_owned()));
            }
            if self.uploads.contains_key(&request.id) {
                return Err(reject(
                    ErrorCode::DuplicateUpload,
                    format!("Upload {} is already in progress", request.id),
                ));
            }
            if self.event_of_upload.contains_key(&request.id) {
                return Err(reject(
                    ErrorCode::DuplicateUpload,
                    format!(
                        "Upload {} has an unacknowledged event; acknowledge it before reusing the id",
                        request.id
                    ),
                ));
            }
            if self.uploads.len() >= limits.max_uploads {
                return Err(reject(ErrorCode::QueueFull, format!(
                    "Too many uploads in progress (limit {})",
                    limits.max_uploads
                )));
            }
            // Every accepted upload must be able to end in a stored event.
            if self.uploads.len() + self.events.len() >= limits.max_unacknowledged_events {
                return Err(reject(ErrorCode::QueueFull, format!(
                    "Too many unacknowledged events (limit {}); acknowledge events first",
                    limits.max_unacknowledged_events
                )));
            }
            // ... and an event id of its own (2^53 of them: never, in practice).
            if self.uploads.len() as u64 >= self.event_ids_left() {
                return Err(reject(ErrorCode::QueueFull, format!(
                    "No event id is left for a new upload (the last is {})",
                    EventId::MAX
                )));
            }
            Ok(request)
        });
        match accepted {
            Ok(mut request) => {
                if validate::wants_idempotency_key(&payload, &self.config) {
                    request.idempotency_key = Some(self.draw_idempotency_key());
                }
                let file_size = match file {
                    FileCheck::RegularFile { size } => size,
                    _ => 0,
                };
                let record = UploadRecord {
                    request,
                    sequence: self.next_sequence,
                    last_attempt: None,
                    in_flight: false,
                    counted_failures: 0,
                    paused: false,
                    file_size,
                };
                self.next_sequence += 1;
                self.persist(vec![Change::PutUpload(record.clone())]);
                self.insert_upload(Upload {
                    record,
                    phase: Phase::Ready,
                });
                self.push_gated(Effect::CommandDone {
                    command,
                    result: Ok(()),
                });
            }
            Err(rejection) => {
                if self.attached {
                    self.push_gated(Effect::Deliver(Event::Rejected(rejection.clone())));
                }
                self.push_gated(Effect::CommandDone {
                    command,
                    result: Err(rejection),
                });
            }
        }
    }

    fn on_remove(&mut self, command: CommandId, upload_id: &str) {
        if upload_id.is_empty() {
            self.push_gated(Effect::CommandDone {
                command,
                result: Err(Rejection::reference(None, MSG_ID_REQUIRED)),
            });
            return;
        }
        // Ids are kept as written; an unknown (or unacceptable) id succeeds.
        let found = UploadId::parse(upload_id)
            .ok()
            .filter(|id| self.uploads.contains_key(id));
        if let Some(id) = found {
            self.finish(
                &id,
                Outcome::Failed {
                    error: MSG_CANCELLED.to_owned(),
                    error_code: ErrorCode::Cancelled.code(),
                },
                AttemptState::MayBeRunning,
            );
        }
        self.push_gated(Effect::CommandDone {
            command,
            result: Ok(()),
        });
    }

    /// An upload's key, drawn once at acceptance and persisted with it: a
    /// random (version 4) UUID from the machine's seeded generator, as a
    /// structured-field string (in quotes).
    fn draw_idempotency_key(&mut self) -> String {
        let high = self.rng.next_u64().to_be_bytes();
        let low = self.rng.next_u64().to_be_bytes();
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&high);
        bytes[8..].copy_from_slice(&low);
        let key = uuid::Builder::from_random_bytes(bytes).into_uuid();
        format!("\"{}\"", key.hyphenated())
    }

    /// The id a pause, resume or header update names: `Err` with the
    /// reference's message when missing, `Ok(None)` when no upload in
    /// progress has it.
    fn known_upload(&self, upload_id: &str) -> Result<Option<UploadId>, Rejection> {
        if upload_id.is_empty() {
            return Err(Rejection::reference(None, MSG_ID_REQUIRED));
        }
        Ok(UploadId::parse(upload_id)
            .ok()
            .filter(|id| self.uploads.contains_key(id)))
    }

    fn on_pause(&mut self, command: CommandId, upload_id: &str) {
        let result = self.known_upload(upload_id).map(|found| {
            let Some(id) = found.filter(|id| !self.paused_upload(id)) else {
                return;
            };
            let change = self.stop_and_requeue(&id, Phase::Paused);
            self.persist(vec![change]);
        });
        self.push_gated(Effect::CommandDone { command, result });
    }

    fn on_resume(&mut self, command: CommandId, upload_id: &str) {
        let result = self.known_upload(upload_id).map(|found| {
            let Some(id) = found.filter(|id| self.paused_upload(id)) else {
                return;
            };
            let mut upload = self.remove_upload(&id);
            upload.record.paused = false;
            upload.phase = Phase::Ready;
            self.persist(vec![Change::PutUpload(upload.record.clone())]);
            self.insert_upload(upload);
        });
        self.push_gated(Effect::CommandDone { command, result });
    }

    fn paused_upload(&self, id: &UploadId) -> bool {
        self.uploads
            .get(id)
            .is_some_and(|upload| upload.phase == Phase::Paused)
    }

    fn on_update_headers(
        &mut self,
        command: CommandId,
        upload_id: &str,
        headers: Vec<(String, String)>,
    ) {
        let limits = self.options.limits;
        let result = self.known_upload(upload_id).and_then(|found| {
            let shown = truncate_to_char_boundary(upload_id, validate::MAX_ECHOED_ID_BYTES);
            let echoed = || Some(shown.to_owned());
            let Some(upload) = found.and_then(|id| self.uploads.get_mut(&id)) else {
                return Err(Rejection::coded(
                    echoed(),
                    ErrorCode::UploadNotInProgress,
                    format!("Upload {shown} is not in progress"),
                ));
            };
            validate::replacement_headers(&headers, &upload.record.request, &limits)
                .map_err(|error| Rejection::coded(echoed(), ErrorCode::InvalidArgument, error))?;
            upload.record.request.headers = headers;
            let record = upload.record.clone();
            self.persist(vec![Change::PutUpload(record)]);
            Ok(())
        });
        self.push_gated(Effect::CommandDone { command, result });
    }

    fn on_network_changed(&mut self, network: NetworkState) {
        self.network = network;
        if !network.metered {
            return;
        }
        // Attempts of uploads that may not use a metered network stop, and
        // wait for another (not counted: nothing failed).
        let stopped: Vec<UploadId> = self
            .in_flight
            .values()
            .filter(|id| {
                self.uploads.get(*id).is_some_and(|upload| {
                    upload.record.request.network == NetworkRequirement::Unmetered
                })
            })
            .cloned()
            .collect();
        for id in stopped {
            let change = self.stop_and_requeue(&id, Phase::Ready);
            self.persist(vec![change]);
        }
    }

    /// Stops the upload's attempt, if one may run, and puts the upload in
    /// `phase` (`Ready`, or `Paused`): not a failure, nothing counted.
    /// Returns the change that records it, for the caller's batch.
    fn stop_and_requeue(&mut self, id: &UploadId, phase: Phase) -> Change {
        debug_assert!(matches!(phase, Phase::Ready | Phase::Paused));
        let mut upload = self.remove_upload(id);
        if let Phase::Transferring { attempt, .. } | Phase::Reconciling { attempt, .. } =
            upload.phase
        {
            self.cancel_attempt(id, attempt);
        }
        upload.record.in_flight = false;
        upload.record.paused = phase == Phase::Paused;
        upload.phase = phase;
        let change = Change::PutUpload(upload.record.clone());
        self.insert_upload(upload);
        change
    }

    fn on_acknowledge(&mut self, command: CommandId, event_id: EventId) {
        if let Some(event) = self.events.remove(&event_id) {
            if self.event_of_upload.get(&event.upload_id) == Some(&event_id) {
                self.event_of_upload.remove(&event.upload_id);
            }
            self.persist(vec![Change::DeleteEvent(event_id)]);
            // A re-delivery still held back would reach the app after it
            // acknowledged the event: drop it.
            let is_this_event = |effect: &Effect| matches!(effect, Effect::Deliver(Event::Terminal(held)) if held.event_id == event_id);
            self.gated_effects
                .retain(|(_, effect)| !is_this_event(effect));
            self.ready_effects.retain(|effect| !is_this_event(effect));
        }
        self.push_gated(Effect::CommandDone {
            command,
            result: Ok(()),
        });
    }

    // ----- transfers -----

    fn on_transfer(&mut self, upload_id: &UploadId, attempt: Attempt, report: TransferReport) {
        let Some(upload) = self.uploads.get_mut(upload_id) else {
            return; // Ended already: a stale report.
        };
        let current = match upload.phase {
            Phase::Transferring { attempt: a, .. } | Phase::Reconciling { attempt: a, .. } => a,
            Phase::Ready | Phase::Backoff { .. } | Phase::Paused => return,
        };
        if current != attempt {
            return;
        }
        match report {
            TransferReport::Progress { sent, total } => {
                let percent = if total == 0 {
                    100
                } else {
                    (u128::from(sent.min(total)) * 100 / u128::from(total)) as u8
                };
                if let Phase::Transferring { progress, .. } = &mut upload.phase {
                    progress.sent = sent.min(total);
                    progress.total = Some(total);
                }
                self.on_progress(upload_id, percent);
            }
            TransferReport::Response {
                status,
                body,
                truncated,
                retry_after_millis,
            } => {
                let policy = upload.record.request.status_policy;
                let answer = self.kept_answer(status, &body, truncated);
                match policy.verdict(status) {
                    StatusVerdict::Uploaded => {
                        self.finish(upload_id, answer.uploaded(), AttemptState::Ended);
                    }
                    StatusVerdict::Failed => {
                        self.finish(upload_id, answer.refused(None), AttemptState::Ended);
                    }
                    StatusVerdict::Retry => {
                        self.on_retried_status(upload_id, answer, retry_after_millis);
                    }
                }
            }
            TransferReport::Failed(failure) => self.on_failure(upload_id, failure),
        }
    }

    /// The server's answer as an event keeps it: lossy UTF-8, cut to the
    /// limit on a character boundary.
    fn kept_answer(&self, status: u16, body: &[u8], truncated: bool) -> Answer {
        let limit = self.options.limits.max_response_bytes;
        let kept = &body[..body.len().min(limit.saturating_add(4))];
        let text = String::from_utf8_lossy(kept);
        let server_response = truncate_to_char_boundary(&text, limit).to_owned();
        let response_truncated =
            truncated || server_response.len() < text.len() || kept.len() < body.len();
        Answer {
            status_code: status,
            server_response,
            response_truncated,
        }
    }

    /// A status `"standard"` retries: counted like a transport failure (the
    /// server answered, so the network was up), and the next attempt waits
    /// at least what `Retry-After` said, within `maxBackoffMillis`.
    fn on_retried_status(
        &mut self,
        upload_id: &UploadId,
        answer: Answer,
        retry_after_millis: Option<u64>,
    ) {
        let Some(upload) = self.uploads.get(upload_id) else {
            return;
        };
        let counted = upload.record.counted_failures.saturating_add(1);
        if counted >= self.config.retry.max_attempts {
            let outcome = answer.refused(Some(counted));
            self.finish(upload_id, outcome, AttemptState::Ended);
            return;
        }
        let at_least = retry_after_millis
            .unwrap_or(0)
            .min(self.config.retry.max_backoff_millis);
        self.retry_later(upload_id, counted, at_least);
    }

    fn on_progress(&mut self, upload_id: &UploadId, percent: u8) {
        let throttle = self.config.progress;
        let now = self.now;
        let attached = self.attached;
        let Some(Upload {
            phase: Phase::Transferring { progress, .. },
            ..
        }) = self.uploads.get_mut(upload_id)
        else {
            return;
        };
        let emit = match progress.last_emitted {
            None => true,
            Some((at, last)) => {
                if percent < last.saturating_add(throttle.min_percent_step) {
                    return;
                }
                now >= at.saturating_add_millis(throttle.min_interval_millis)
            }
        };
        if !emit {
            progress.pending = Some(percent);
            return;
        }
        progress.last_emitted = Some((now, percent));
        progress.pending = None;
        if attached {
            self.push_gated(Effect::Deliver(Event::Progress {
                upload_id: upload_id.clone(),
                progress: percent,
            }));
        }
    }

    fn on_failure(&mut self, upload_id: &UploadId, failure: TransferFailure) {
        let limits = self.options.limits;
        let retry = self.config.retry;
        let error =
            truncate_to_char_boundary(&failure.message, limits.max_error_message_bytes).to_owned();
        let Some(upload) = self.uploads.get(upload_id) else {
            return;
        };
        // Failures while the host says the network is down (or one the
        // upload may not use) do not count.
        let usable = upload.record.request.network.is_met_by(self.network);
        let counted = upload
            .record
            .counted_failures
            .saturating_add(u32::from(usable));
        if !failure.retryable || counted >= retry.max_attempts {
            let error = if failure.retryable {
                format!("{error} (gave up after {counted} attempts)")
            } else {
                error
            };
            self.finish(
                upload_id,
                Outcome::Failed {
                    error,
                    error_code: failure.error_code,
                },
                AttemptState::Ended,
            );
            return;
        }
        self.retry_later(upload_id, counted, 0);
    }

    /// After a failed attempt: `counted` failures now. A counted one waits
    /// out a backoff of at least `at_least_millis`; an uncounted one is
    /// ready again at once.
    fn retry_later(&mut self, upload_id: &UploadId, counted: u32, at_least_millis: u64) {
        let Some(upload) = self.uploads.get(upload_id) else {
            return;
        };
        let phase = if counted > upload.record.counted_failures {
            let delay = self.backoff_millis(counted).max(at_least_millis);
            Phase::Backoff {
                until: self.now.saturating_add_millis(delay),
            }
        } else {
            Phase::Ready
        };
        let mut upload = self.remove_upload(upload_id);
        upload.record.counted_failures = counted;
        upload.record.in_flight = false;
        upload.phase = phase;
        self.persist(vec![Change::PutUpload(upload.record.clone())]);
        self.insert_upload(upload);
    }

    /// Exponential backoff with "equal jitter": half fixed, half drawn.
    fn backoff_millis(&mut self, counted_failures: u32) -> u64 {
        let retry = self.config.retry;
        let doublings = counted_failures.saturating_sub(1).min(63);
        let full = retry
            .initial_backoff_millis
            .saturating_mul(1u64 << doublings)
            .min(retry.max_backoff_millis);
        let half = full / 2;
        half + self.rng.next_below(full - half + 1)
    }

    // ----- time and durability -----

    fn on_timeout(&mut self) {
        let now = self.now;
        while let Some((&(until, sequence), _)) = self.backoff.first_key_value() {
            if until > now {
                break;
            }
            let Some((_, id)) = self.backoff.pop_first() else {
                break;
            };
            if let Some(upload) = self.uploads.get_mut(&id) {
                upload.phase = Phase::Ready;
                let network = upload.record.request.network;
                self.ready_index(network).insert(sequence, id);
            }
        }
        let in_flight: Vec<UploadId> = self.in_flight.values().cloned().collect();
        for id in in_flight {
            let Some(upload) = self.uploads.get_mut(&id) else {
                continue;
            };
            match upload.phase {
                Phase::Reconciling { deadline, .. } if deadline <= now => {
                    // The OS never reported: stop its transfer, try anew
                    // (not counted: nothing said the network failed).
                    let change = self.stop_and_requeue(&id, Phase::Ready);
                    self.persist(vec![change]);
                }
                Phase::Transferring {
                    progress:
                        Progress {
                            last_emitted: Some((at, _)),
                            pending: Some(percent),
                            ..
                        },
                    ..
                } if at.saturating_add_millis(self.config.progress.min_interval_millis) <= now => {
                    self.on_progress(&id, percent);
                }
                _ => {}
            }
        }
    }

    fn on_durable(&mut self, through: BatchId) {
        // A confirmation of a batch not handed out yet is a caller bug
        // (the property suite drives the machine as a correct caller must);
        // a release build takes what exists.
        debug_assert!(
            through.0 < self.next_batch,
            "Durable through {through:?} but the last batch handed out is {}",
            self.next_batch - 1
        );
        let through = BatchId(through.0.min(self.next_batch - 1));
        if through <= self.durable_through {
            return;
        }
        self.durable_through = through;
        while let Some((needs, _)) = self.gated_effects.front() {
            if *needs > through {
                break;
            }
            if let Some((_, effect)) = self.gated_effects.pop_front() {
                self.ready_effects.push_back(effect);
            }
        }
    }

    // ----- scheduling -----

    /// Starts attempts while there is a free slot, the network is up and an
    /// upload is ready.
    fn schedule(&mut self) {
        let limit = self.config.parallel_uploads_limit as usize;
        let room = self.storage != StorageSpace::Exhausted;
        while room && self.network.reachable && self.in_flight.len() < limit {
            let Some((sequence, id)) = self.pop_next_ready() else {
                break;
            };
            let Some(upload) = self.uploads.get_mut(&id) else {
                continue;
            };
            // A second attempt of one upload while the first may run is a
            // bug of this machine (the property suite drives every path).
            debug_assert!(
                !upload.record.in_flight,
                "upload {id} scheduled while its attempt {:?} may still run",
                upload.record.last_attempt
            );
            let Some(attempt) = upload
                .record
                .last_attempt
                .map_or(Some(Attempt(1)), Attempt::next)
            else {
                // Reusing a number would let a late report of the old
                // attempt pass for the new one's.
                let network = upload.record.request.network;
                self.ready_index(network).insert(sequence, id.clone());
                self.finish(
                    &id,
                    Outcome::Failed {
                        error: MSG_ATTEMPTS_EXHAUSTED.to_owned(),
                        error_code: ErrorCode::AttemptsExhausted.code(),
                    },
                    AttemptState::Ended,
                );
                continue;
            };
            upload.record.last_attempt = Some(attempt);
            upload.record.in_flight = true;
            upload.phase = Phase::Transferring {
                attempt,
                progress: Progress::default(),
            };
            let record = upload.record.clone();
            self.in_flight.insert(sequence, id);
            self.persist(vec![Change::PutUpload(record.clone())]);
            self.push_gated(Effect::StartAttempt {
                request: record.request,
                attempt,
            });
        }
    }

    /// The ready upload accepted first among those the network allows.
    fn pop_next_ready(&mut self) -> Option<(u64, UploadId)> {
        let any = self.ready.first_key_value().map(|(sequence, _)| *sequence);
        let unmetered = match self.network.metered {
            true => None,
            false => self
                .ready_unmetered
                .first_key_value()
                .map(|(sequence, _)| *sequence),
        };
        match (any, unmetered) {
            (Some(a), Some(u)) if u < a => self.ready_unmetered.pop_first(),
            (Some(_), _) => self.ready.pop_first(),
            (None, Some(_)) => self.ready_unmetered.pop_first(),
            (None, None) => None,
        }
    }

    fn ready_index(&mut self, network: NetworkRequirement) -> &mut BTreeMap<u64, UploadId> {
        match network {
            NetworkRequirement::Any => &mut self.ready,
            NetworkRequirement::Unmetered => &mut self.ready_unmetered,
        }
    }

    /// After `init` lowered the limit (or a relaunch found more OS-owned
    /// transfers than it allows): the newest go back to the front of the
    /// queue (not counted as failures). Returns the changes to persist, in
    /// the same batch as whatever made them necessary.
    fn shed_excess_transfers(&mut self) -> Vec<Change> {
        let limit = self.config.parallel_uploads_limit as usize;
        let mut changes = Vec::new();
        while self.in_flight.len() > limit {
            let Some((_, id)) = self.in_flight.last_key_value() else {
                break;
            };
            let id = id.clone();
            changes.push(self.stop_and_requeue(&id, Phase::Ready));
        }
        changes
    }

    // ----- helpers -----

    /// Ends an upload with a terminal event: persisted, then delivered. A
    /// running attempt is cancelled unless its own report ended it.
    fn finish(&mut self, upload_id: &UploadId, outcome: Outcome, attempt: AttemptState) {
        let upload = self.remove_upload(upload_id);
        if let (
            Phase::Transferring {
                attempt: running, ..
            }
            | Phase::Reconciling {
                attempt: running, ..
            },
            AttemptState::MayBeRunning,
        ) = (upload.phase, attempt)
        {
            self.cancel_attempt(upload_id, running);
        }
        let event = self.new_terminal_event(upload_id.clone(), outcome);
        self.persist(vec![
            Change::DeleteUpload(upload_id.clone()),
            Change::PutEvent(event.clone()),
            Change::PutMeta(self.meta()),
        ]);
        if self.attached {
            self.push_gated(Effect::Deliver(Event::Terminal(event)));
        }
    }

    /// Records a new terminal event in memory. The caller persists it with
    /// the meta (next event id) in one batch.
    fn new_terminal_event(&mut self, upload_id: UploadId, outcome: Outcome) -> TerminalEvent {
        // Uploads are accepted only while an id is left for each.
        assert!(
            self.next_event_id <= EventId::MAX.0,
            "event ids exhausted ({} handed out)",
            EventId::MAX
        );
        let event_id = EventId(self.next_event_id);
        self.next_event_id += 1;
        let event = TerminalEvent {
            event_id,
            upload_id: upload_id.clone(),
            outcome,
        };
        assert!(
            !self.event_of_upload.contains_key(&upload_id),
            "an upload with an unacknowledged event cannot end again"
        );
        self.event_of_upload.insert(upload_id, event_id);
        self.events.insert(event_id, event.clone());
        event
    }

    /// Stops an attempt. If its start is still held back, it is dropped
    /// there and never reaches the caller.
    fn cancel_attempt(&mut self, upload_id: &UploadId, attempt: Attempt) {
        let held = self.gated_effects.iter().position(|(_, effect)| {
            matches!(effect, Effect::StartAttempt { request, attempt: a }
                if &request.id == upload_id && *a == attempt)
        });
        match held {
            Some(index) => {
                self.gated_effects.remove(index);
            }
            None => self.ready_effects.push_back(Effect::CancelAttempt {
                upload_id: upload_id.clone(),
                attempt,
            }),
        }
    }

    fn insert_upload(&mut self, upload: Upload) {
        let sequence = upload.record.sequence;
        let id = upload.record.request.id.clone();
        match upload.phase {
            Phase::Ready => {
                let network = upload.record.request.network;
                self.ready_index(network).insert(sequence, id.clone());
            }
            Phase::Paused => {
                self.paused.insert(sequence, id.clone());
            }
            Phase::Backoff { until } => {
                self.backoff.insert((until, sequence), id.clone());
            }
            Phase::Transferring { .. } | Phase::Reconciling { .. } => {
                self.in_flight.insert(sequence, id.clone());
            }
        }
        let previous = self.uploads.insert(id, upload);
        assert!(previous.is_none(), "an upload id is inserted once");
    }

    /// Takes an upload out of every index. The id must be known.
    fn remove_upload(&mut self, upload_id: &UploadId) -> Upload {
        let Some(upload) = self.uploads.remove(upload_id) else {
            panic!("remove_upload is called with a known id, not {upload_id}");
        };
        let sequence = upload.record.sequence;
        match upload.phase {
            Phase::Ready => {
                let network = upload.record.request.network;
                self.ready_index(network).remove(&sequence);
            }
            Phase::Paused => {
                self.paused.remove(&sequence);
            }
            Phase::Backoff { until } => {
                self.backoff.remove(&(until, sequence));
            }
            Phase::Transferring { .. } | Phase::Reconciling { .. } => {
                self.in_flight.remove(&sequence);
            }
        }
        upload
    }

    fn meta(&self) -> Meta {
        Meta {
            next_event_id: self.next_event_id,
            config: self.config,
        }
    }

    /// Hands out a batch now; returns its id.
    fn persist(&mut self, changes: Vec<Change>) -> BatchId {
        let id = BatchId(self.next_batch);
        self.next_batch += 1;
        self.ready_effects
            .push_back(Effect::PersistBatch(Batch { id, changes }));
        id
    }

    /// Queues an effect that must wait until every batch handed out so far
    /// is durable.
    fn push_gated(&mut self, effect: Effect) {
        let needs = BatchId(self.next_batch - 1);
        if needs <= self.durable_through && self.gated_effects.is_empty() {
            self.ready_effects.push_back(effect);
        } else {
            self.gated_effects.push_back((needs, effect));
        }
    }

    fn check_invariants(&self) {
        let limit = self.config.parallel_uploads_limit as usize;
        assert!(
            self.in_flight.len() <= limit,
            "in flight {} > parallelUploadsLimit {limit}",
            self.in_flight.len()
        );
        assert_eq!(
            self.ready.len()
                + self.ready_unmetered.len()
                + self.paused.len()
                + self.backoff.len()
                + self.in_flight.len(),
            self.uploads.len(),
            "every upload is in exactly one index"
        );
        assert!(self.durable_through.0 < self.next_batch);
        if cfg!(debug_assertions) {
            for (event_id, event) in &self.events {
                assert_eq!(*event_id, event.event_id);
                assert!(event_id.0 < self.next_event_id);
                assert!(!self.uploads.contains_key(&event.upload_id));
            }
        }
    }
}
