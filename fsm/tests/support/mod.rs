//! A test world around one [`Machine`]: an in-memory disk with crash
//! semantics, fake transfers, the app's view of events, and a checker of the
//! DESIGN.md invariants that runs after every step.
//!
//! The world keeps its own reference registry of upload ids (free, live,
//! awaiting acknowledgement) built only from what the app was told, and
//! predicts from it whether each `startUpload` must be accepted; the
//! machine's answer must match the prediction.

#![allow(dead_code)]

use bgupload_fsm::{
    Attempt, AttemptReport, Batch, BatchId, Change, CommandId, Config, Effect, Event, EventId,
    FileCheck, Input, Machine, Meta, NetworkRequirement, NetworkState, Options, RETRIED_STATUSES,
    Recovered, StatusPolicy, StorageSpace, TerminalEvent, Time, TransferFailure, TransferReport,
    UploadId, UploadPayload, UploadRecord, UploadState,
};
use std::collections::{BTreeMap, BTreeSet};

/// The durable contents of the fake disk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Disk {
    pub uploads: BTreeMap<UploadId, UploadRecord>,
    pub events: BTreeMap<EventId, TerminalEvent>,
    pub meta: Option<Meta>,
}

impl Disk {
    pub fn apply(&mut self, batch: &Batch) {
        for change in &batch.changes {
            match change {
                Change::PutUpload(record) => {
                    self.uploads
                        .insert(record.request.id.clone(), record.clone());
                }
                Change::DeleteUpload(id) => {
                    self.uploads.remove(id);
                }
                Change::PutEvent(event) => {
                    self.events.insert(event.event_id, event.clone());
                }
                Change::DeleteEvent(id) => {
                    self.events.remove(id);
                }
                Change::PutMeta(meta) => self.meta = Some(*meta),
            }
        }
    }

    pub fn recovered(&self) -> Recovered {
        Recovered {
            uploads: self.uploads.values().cloned().collect(),
            events: self.events.values().cloned().collect(),
            meta: self.meta,
            legacy_uploads: Vec::new(),
        }
    }
}

/// What happened to a command, as the app saw it.
pub type CommandResult = Result<(), bgupload_fsm::Rejection>;

/// The reference registry's view of one upload id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdState {
    Live,
    AwaitingAck(EventId),
}

pub struct World {
    pub options: Options,
    pub machine: Machine,
    pub now: Time,
    pub disk: Disk,
    /// Batches handed out and not yet durable (lost on kill).
    pub unsynced: Vec<Batch>,
    /// When true, every batch is made durable as soon as it is handed out.
    pub auto_sync: bool,
    pub next_command: u64,
    pub results: BTreeMap<CommandId, CommandResult>,
    /// Attempts started and not ended, as the transport sees them.
    pub transfers: BTreeMap<UploadId, Attempt>,
    pub delivered: Vec<Event>,
    /// Every terminal event ever delivered, by id: re-deliveries must match.
    pub terminal_seen: BTreeMap<EventId, TerminalEvent>,
    /// Event ids whose acknowledgement was confirmed to the app.
    pub acknowledged: BTreeSet<EventId>,
    /// Commands in flight that acknowledge an event.
    pub pending_acks: BTreeMap<CommandId, EventId>,
    /// Commands in flight that start an upload, with the registry's
    /// prediction (accept or not) and the id.
    pub pending_starts: BTreeMap<CommandId, (Option<bool>, Option<UploadId>)>,
    /// The reference registry (only what the app was told).
    pub registry: BTreeMap<UploadId, IdState>,
    /// Uploads whose terminal event was delivered since they were accepted.
    pub ended: BTreeSet<UploadId>,
    /// The init whose callback the machine attached (`Effect::Attach`),
    /// until `Effect::Detach` or a kill.
    pub attached: Option<CommandId>,
    pub kills: u32,
    /// What room the disk has, as last reported to the machine.
    pub storage: StorageSpace,
    /// The network, as last reported to the machine.
    pub network: NetworkState,
    /// Uploads paused by a `pauseUpload` the machine took (and not resumed
    /// since): no attempt of theirs may start.
    pub paused: BTreeSet<UploadId>,
    /// What each running transfer's request said, from its `StartAttempt`.
    pub running: BTreeMap<UploadId, (NetworkRequirement, StatusPolicy)>,
    /// Each live upload's idempotency key, from its first attempt: every
    /// later attempt (across relaunches too) must carry the same.
    pub keys: BTreeMap<UploadId, Option<String>>,
    /// Every key ever seen: a new upload's must be new.
    pub keys_seen: BTreeSet<String>,
    /// After a retried status with `Retry-After`: no attempt before this.
    pub not_before: BTreeMap<UploadId, Time>,
}

pub fn uuid(n: u8) -> String {
    format!("c3a4b4c7-4f1e-4c69-a951-7736020000{n:02x}")
}

/// The pool's id number `n` as apps write ids: a UUID, or text that is
/// none (the reference's own tests use `abc`, `file_1`, `123_456`),
/// path-like and non-ASCII included. Distinct for distinct `n`.
pub fn app_id(n: u8) -> String {
    match n % 4 {
        0 => uuid(n),
        1 => format!("file_{n}"),
        2 => format!("../../{n}/x"),
        _ => format!("É {n} 文"),
    }
}

pub fn payload(id: &str) -> UploadPayload {
    UploadPayload {
        id: Some(id.to_owned()),
        file_path: Some("/data/photo.jpg".to_owned()),
        server_url: Some("http://127.0.0.1:8080/upload".to_owned()),
        ..UploadPayload::default()
    }
}

pub const FILE_OK: FileCheck = FileCheck::RegularFile { size: 1_000 };

/// `config` with queue-control defaults from `bits`: 1 `statusPolicy:
/// "standard"`, 2 `idempotencyKey`, 4 `network: "unmetered"`.
pub fn with_defaults(config: Config, bits: u8) -> Config {
    Config {
        status_policy: match bits & 1 {
            0 => StatusPolicy::Any,
            _ => StatusPolicy::Standard,
        },
        idempotency_key: bits & 2 != 0,
        network: match bits & 4 {
            0 => NetworkRequirement::Any,
            _ => NetworkRequirement::Unmetered,
        },
        ..config
    }
}

impl World {
    pub fn new(options: Options) -> World {
        World {
            options,
            machine: Machine::new(options),
            now: Time::ZERO,
            disk: Disk::default(),
            unsynced: Vec::new(),
            auto_sync: true,
            next_command: 1,
            results: BTreeMap::new(),
            transfers: BTreeMap::new(),
            delivered: Vec::new(),
            terminal_seen: BTreeMap::new(),
            acknowledged: BTreeSet::new(),
            pending_acks: BTreeMap::new(),
            pending_starts: BTreeMap::new(),
            registry: BTreeMap::new(),
            ended: BTreeSet::new(),
            attached: None,
            kills: 0,
            storage: StorageSpace::Available,
            network: options.network,
            paused: BTreeSet::new(),
            running: BTreeMap::new(),
            keys: BTreeMap::new(),
            keys_seen: BTreeSet::new(),
            not_before: BTreeMap::new(),
        }
    }

    pub fn command(&mut self) -> CommandId {
        let id = CommandId(self.next_command);
        self.next_command += 1;
        id
    }

    pub fn input(&mut self, input: Input) {
        self.machine.handle_input(self.now, input);
        self.drain();
    }

    pub fn init(&mut self, config: Config) -> CommandId {
        let command = self.command();
        self.input(Input::Init { command, config });
        command
    }

    pub fn init_limit(&mut self, limit: u32) -> CommandId {
        self.init(Config {
            parallel_uploads_limit: limit,
            ..Config::default()
        })
    }

    pub fn start(&mut self, payload: UploadPayload, file: FileCheck) -> CommandId {
        let command = self.command();
        let id = payload
            .id
            .as_deref()
            .and_then(|text| UploadId::parse(text).ok());
        let config = *self.machine.config();
        let valid =
            bgupload_fsm::validate::upload_request(&payload, file, &self.options.limits, &config)
                .is_ok()
                && self.storage == StorageSpace::Available;
        let free = id
            .as_ref()
            .is_some_and(|id| !self.registry.contains_key(id) && self.machine_knows_nothing(id));
        // The registry cannot tell an upload that ended unseen from a live
        // one, so near the limits it makes no prediction.
        let in_use = self.registry.len() + self.pending_starts.len();
        let limits = &self.options.limits;
        let predictable = in_use < limits.max_uploads.min(limits.max_unacknowledged_events)
            && (in_use as u64) < self.machine.event_ids_left();
        // An earlier start of this id whose answer it could not predict
        // leaves this one's unknown too (found by fuzzing: the earlier one
        // was refused, so this one was accepted).
        let after_unknown = id.as_ref().is_some_and(|id| {
            self.pending_starts
                .values()
                .any(|(accepted, pending)| accepted.is_none() && pending.as_ref() == Some(id))
        });
        self.pending_starts.insert(
            command,
            ((predictable && !after_unknown).then_some(valid && free), id),
        );
        self.input(Input::StartUpload {
            command,
            payload,
            file,
        });
        command
    }

    /// The registry is built from what the app was told; an id the app was
    /// told nothing about yet (its start not confirmed) is free only if no
    /// earlier start of it is still pending.
    fn machine_knows_nothing(&self, id: &UploadId) -> bool {
        !self
            .pending_starts
            .values()
            .any(|(accepted, pending)| *accepted != Some(false) && pending.as_ref() == Some(id))
    }

    pub fn start_id(&mut self, id: &str) -> CommandId {
        self.start(payload(id), FILE_OK)
    }

    pub fn remove(&mut self, id: &str) -> CommandId {
        let command = self.command();
        self.input(Input::RemoveUpload {
            command,
            upload_id: id.to_owned(),
        });
        command
    }

    pub fn acknowledge(&mut self, event_id: EventId) -> CommandId {
        let command = self.command();
        self.pending_acks.insert(command, event_id);
        // Later commands see the id as free: the machine applies commands in
        // order, and the acknowledgement's batch precedes theirs.
        self.registry
            .retain(|_, state| *state != IdState::AwaitingAck(event_id));
        self.input(Input::AcknowledgeEvent { command, event_id });
        command
    }

    pub fn destroy(&mut self) -> CommandId {
        let command = self.command();
        self.input(Input::Destroy { command });
        command
    }

    pub fn storage(&mut self, space: StorageSpace) {
        self.storage = space;
        self.input(Input::StorageChanged(space));
    }

    /// A reachable (unmetered) or unreachable network.
    pub fn network(&mut self, reachable: bool) {
        self.network_state(NetworkState {
            reachable,
            metered: false,
        });
    }

    pub fn network_state(&mut self, network: NetworkState) {
        self.network = network;
        self.input(Input::NetworkChanged(network));
        if network.metered {
            for (id, (requirement, _)) in &self.running {
                assert!(
                    *requirement == NetworkRequirement::Any || !self.transfers.contains_key(id),
                    "an upload that needs an unmetered network goes on over a metered one: {id}"
                );
            }
        }
    }

    pub fn pause(&mut self, id: &str) -> CommandId {
        let command = self.command();
        let known = UploadId::parse(id).ok().filter(|upload_id| {
            self.machine
                .uploads()
                .iter()
                .any(|status| &status.request.id == upload_id)
        });
        if let Some(upload_id) = known {
            // A pause drops the backoff: a resume starts at once.
            self.not_before.remove(&upload_id);
            self.paused.insert(upload_id);
        }
        self.input(Input::PauseUpload {
            command,
            upload_id: id.to_owned(),
        });
        command
    }

    pub fn resume(&mut self, id: &str) -> CommandId {
        let command = self.command();
        if let Ok(upload_id) = UploadId::parse(id) {
            self.paused.remove(&upload_id);
        }
        self.input(Input::ResumeUpload {
            command,
            upload_id: id.to_owned(),
        });
        command
    }

    pub fn update_headers(&mut self, id: &str, headers: Vec<(String, String)>) -> CommandId {
        let command = self.command();
        self.input(Input::UpdateHeaders {
            command,
            upload_id: id.to_owned(),
            headers,
        });
        command
    }

    pub fn advance(&mut self, millis: u64) {
        self.now = self.now.saturating_add_millis(millis);
        self.input(Input::Timeout);
    }

    /// Advances to the machine's next deadline, if any.
    pub fn advance_to_deadline(&mut self) -> bool {
        match self.machine.poll_timeout() {
            Some(deadline) => {
                self.now = self.now.max(deadline);
                self.input(Input::Timeout);
                true
            }
            None => false,
        }
    }

    pub fn report(&mut self, id: &UploadId, report: TransferReport) {
        let Some(&attempt) = self.transfers.get(id) else {
            panic!("no transfer for {id}");
        };
        if !matches!(report, TransferReport::Progress { .. }) {
            self.transfers.remove(id);
            self.running.remove(id);
        }
        self.input(Input::Transfer(AttemptReport {
            upload_id: id.clone(),
            attempt,
            report,
        }));
    }

    pub fn respond(&mut self, id: &UploadId, status: u16, body: &str) {
        self.respond_retry_after(id, status, body, None);
    }

    /// An answer with `Retry-After` (as the transport parsed it). Under
    /// `"standard"`, a retried status must wait at least that (within
    /// `maxBackoffMillis`) and never longer than that bound.
    pub fn respond_retry_after(
        &mut self,
        id: &UploadId,
        status: u16,
        body: &str,
        retry_after_millis: Option<u64>,
    ) {
        let policy = self.running.get(id).map(|(_, policy)| *policy);
        self.report(
            id,
            TransferReport::Response {
                status,
                body: body.as_bytes().to_vec(),
                truncated: false,
                retry_after_millis,
            },
        );
        if policy != Some(StatusPolicy::Standard) || !RETRIED_STATUSES.contains(&status) {
            return;
        }
        let bound = self.machine.config().retry.max_backoff_millis;
        let at_least = retry_after_millis.unwrap_or(0).min(bound);
        let retrying = self
            .machine
            .uploads()
            .iter()
            .find(|status| &status.request.id == id)
            .map(|status| status.state);
        if let Some(UploadState::Retrying { next_attempt_at }) = retrying {
            assert!(
                next_attempt_at >= self.now.saturating_add_millis(at_least),
                "Retry-After {retry_after_millis:?} not honoured: next attempt at {next_attempt_at:?}, now {:?}",
                self.now
            );
            assert!(
                next_attempt_at <= self.now.saturating_add_millis(bound),
                "Retry-After {retry_after_millis:?} stalls past maxBackoffMillis {bound}"
            );
            self.not_before
                .insert(id.clone(), self.now.saturating_add_millis(at_least));
        }
    }

    pub fn fail(&mut self, id: &UploadId, retryable: bool) {
        self.report(
            id,
            TransferReport::Failed(TransferFailure {
                message: "connection reset".to_owned(),
                error_code: -1005,
                retryable,
            }),
        );
    }

    /// A report on attempt `attempt` of `id`, whichever attempt that is: a
    /// stale one, or one the OS ran for a process that was killed. The
    /// world forgets its transfer only when the report ends the attempt it
    /// tracks.
    pub fn report_attempt(&mut self, id: &UploadId, attempt: Attempt, report: TransferReport) {
        let ends = !matches!(report, TransferReport::Progress { .. });
        if ends && self.transfers.get(id) == Some(&attempt) {
            self.transfers.remove(id);
            self.running.remove(id);
        }
        self.input(Input::Transfer(AttemptReport {
            upload_id: id.clone(),
            attempt,
            report,
        }));
    }

    /// Makes the first `count` handed-out batches durable and no more (a
    /// store that synced part of what it was given before a kill).
    pub fn sync_first(&mut self, count: usize) {
        let count = count.min(self.unsynced.len());
        if count == 0 {
            return;
        }
        let last = self.unsynced[count - 1].id;
        for batch in self.unsynced.drain(..count) {
            self.disk.apply(&batch);
        }
        self.machine
            .handle_input(self.now, Input::Durable { through: last });
        self.drain();
    }

    /// Makes every handed-out batch durable.
    pub fn sync(&mut self) {
        let Some(last) = self.unsynced.last().map(|batch| batch.id) else {
            return;
        };
        for batch in std::mem::take(&mut self.unsynced) {
            self.disk.apply(&batch);
        }
        self.machine
            .handle_input(self.now, Input::Durable { through: last });
        self.drain();
    }

    /// The app process dies: unsynced batches and transfers are lost; the
    /// machine is rebuilt from the disk. The app must `init` again.
    pub fn kill_and_relaunch(&mut self) {
        self.kills += 1;
        self.unsynced.clear();
        self.transfers.clear();
        self.running.clear();
        // A backoff is not persisted: a relaunch tries at once.
        self.not_before.clear();
        // Pauses and resumes stand as far as they reached the disk.
        self.paused = self
            .disk
            .uploads
            .values()
            .filter(|record| record.paused)
            .map(|record| record.request.id.clone())
            .collect();
        // Commands in flight die with the process: no answer will come, but
        // what of them reached the disk stands.
        for (_, event_id) in std::mem::take(&mut self.pending_acks) {
            match self.disk.events.get(&event_id) {
                None => {
                    self.acknowledged.insert(event_id);
                }
                // Not durable: the event stands and will come again.
                Some(event) => {
                    self.registry
                        .entry(event.upload_id.clone())
                        .or_insert(IdState::AwaitingAck(event_id));
                }
            }
        }
        for (_, (accepted, id)) in std::mem::take(&mut self.pending_starts) {
            if let (Some(true) | None, Some(id)) = (accepted, id) {
                let has_event = self.disk.events.values().any(|event| event.upload_id == id);
                if self.disk.uploads.contains_key(&id) || has_event {
                    self.registry.insert(id.clone(), IdState::Live);
                    self.ended.remove(&id);
                }
            }
        }
        self.check_durability();
        self.attached = None;
        let mut options = self.options;
        options.network = self.network;
        // Each process draws a fresh seed, as the hosts do: keys drawn
        // from a repeated seed would repeat.
        options.seed =
            bgupload_fsm::SplitMix64::new(options.seed ^ u64::from(self.kills)).next_u64();
        self.machine = Machine::recover(options, self.disk.recovered(), self.now);
        // A relaunched machine has room until its driver says otherwise.
        self.storage = StorageSpace::Available;
        self.drain();
    }

    /// Invariant 7: everything the app was told is on the disk.
    pub fn check_durability(&self) {
        for (id, state) in &self.registry {
            match state {
                IdState::Live => assert!(
                    self.disk.uploads.contains_key(id)
                        || self
                            .disk
                            .events
                            .values()
                            .any(|event| &event.upload_id == id),
                    "accepted upload {id} lost by a kill"
                ),
                IdState::AwaitingAck(event_id) => assert!(
                    self.disk.events.contains_key(event_id),
                    "delivered event {event_id} lost by a kill"
                ),
            }
        }
        for event_id in &self.acknowledged {
            assert!(
                !self.disk.events.contains_key(event_id),
                "acknowledged event {event_id} still on disk"
            );
        }
    }

    /// Takes every effect the machine hands out, checking invariants.
    pub fn drain(&mut self) {
        let mut rounds = 0;
        loop {
            rounds += 1;
            assert!(rounds < 10_000, "the machine keeps producing effects");
            let Some(effect) = self.machine.poll_effect() else {
                if self.auto_sync && !self.unsynced.is_empty() {
                    self.sync();
                    continue;
                }
                break;
            };
            self.take(effect);
        }
        let limit = self.machine.config().parallel_uploads_limit as usize;
        assert!(
            self.transfers.len() <= limit,
            "invariant 4: {} transfers in flight > limit {limit}",
            self.transfers.len()
        );
    }

    fn take(&mut self, effect: Effect) {
        match effect {
            Effect::PersistBatch(batch) => {
                if let Some(last) = self.unsynced.last() {
                    assert!(batch.id.0 == last.id.0 + 1, "batches come in order");
                }
                self.unsynced.push(batch);
            }
            Effect::StartAttempt { request, attempt } => {
                assert!(
                    self.disk.uploads.get(&request.id).is_some_and(|record| {
                        record.last_attempt == Some(attempt) && record.in_flight
                    }),
                    "an attempt starts only once it is durable"
                );
                self.check_start(&request);
                let previous = self.transfers.insert(request.id.clone(), attempt);
                assert!(previous.is_none(), "one transfer per upload");
                self.running
                    .insert(request.id.clone(), (request.network, request.status_policy));
            }
            Effect::CancelAttempt { upload_id, attempt } => {
                if self.transfers.get(&upload_id) == Some(&attempt) {
                    self.transfers.remove(&upload_id);
                    self.running.remove(&upload_id);
                }
            }
            Effect::Attach { command } => {
                assert!(
                    !self.results.contains_key(&command),
                    "a callback is attached before its init is answered"
                );
                self.attached = Some(command);
            }
            Effect::Detach => self.attached = None,
            Effect::Deliver(event) => {
                assert!(
                    self.attached.is_some(),
                    "an event with no callback attached: {event:?}"
                );
                self.observe(&event);
                self.delivered.push(event);
            }
            Effect::CommandDone { command, result } => {
                if let Some(event_id) = self.pending_acks.remove(&command) {
                    assert!(result.is_ok(), "acknowledge always succeeds");
                    assert!(
                        !self.disk.events.contains_key(&event_id),
                        "an acknowledgement is confirmed only once it is durable"
                    );
                    self.acknowledged.insert(event_id);
                    self.registry
                        .retain(|_, state| *state != IdState::AwaitingAck(event_id));
                }
                if let Some((predicted, id)) = self.pending_starts.remove(&command) {
                    if let Some(predicted) = predicted {
                        assert_eq!(
                            result.is_ok(),
                            predicted,
                            "reference registry predicted acceptance={predicted} for {id:?}: {result:?}"
                        );
                    }
                    if let (Ok(()), Some(id)) = (&result, id) {
                        let ended_already =
                            self.disk.events.values().any(|event| event.upload_id == id);
                        assert!(
                            self.disk.uploads.contains_key(&id) || ended_already,
                            "startUpload returns only once the upload is durable"
                        );
                        self.registry.insert(id.clone(), IdState::Live);
                        self.ended.remove(&id);
                    }
                }
                self.results.insert(command, result);
            }
        }
    }

    /// The rules an attempt's start must keep: not paused, on a network it
    /// may use, not before `Retry-After`, with the upload's one key.
    fn check_start(&mut self, request: &bgupload_fsm::UploadRequest) {
        let id = &request.id;
        assert!(
            !self.paused.contains(id),
            "a paused upload started an attempt: {id}"
        );
        // (A start decided while the network was up may come out after it
        // went down: the attempt then fails, uncounted. A metered network
        // stops the unmetered-only ones, held starts included.)
        assert!(
            !(self.network.metered && request.network == NetworkRequirement::Unmetered),
            "{id} started on a metered network, which it may not use"
        );
        if let Some(not_before) = self.not_before.remove(id) {
            assert!(
                self.now >= not_before,
                "{id} retried at {:?}, before Retry-After allowed ({not_before:?})",
                self.now
            );
        }
        match self.keys.get(id) {
            Some(key) => assert_eq!(
                key, &request.idempotency_key,
                "the idempotency key of {id} changed between attempts"
            ),
            None => {
                if let Some(key) = &request.idempotency_key {
                    assert!(
                        self.keys_seen.insert(key.clone()),
                        "two uploads drew the same idempotency key {key}"
                    );
                }
                self.keys
                    .insert(id.clone(), request.idempotency_key.clone());
            }
        }
    }

    fn observe(&mut self, event: &Event) {
        match event {
            Event::Progress {
                upload_id,
                progress,
            } => {
                assert!(*progress <= 100);
                assert!(
                    !self.ended.contains(upload_id),
                    "invariant 5: UPLOADING after the terminal event of {upload_id}"
                );
            }
            Event::Terminal(terminal) => {
                assert!(
                    self.disk.events.get(&terminal.event_id) == Some(terminal),
                    "invariant 7: event {} delivered before it is durable",
                    terminal.event_id
                );
                assert!(
                    !self.acknowledged.contains(&terminal.event_id),
                    "invariant 2: event {} delivered after its acknowledgement",
                    terminal.event_id
                );
                if let Some(seen) = self.terminal_seen.get(&terminal.event_id) {
                    assert_eq!(seen, terminal, "invariant 3: re-delivery differs");
                } else {
                    assert!(
                        !self.ended.contains(&terminal.upload_id),
                        "invariant 1: a second terminal event for {}",
                        terminal.upload_id
                    );
                }
                self.terminal_seen
                    .insert(terminal.event_id, terminal.clone());
                self.keys.remove(&terminal.upload_id);
                self.paused.remove(&terminal.upload_id);
                self.not_before.remove(&terminal.upload_id);
                self.ended.insert(terminal.upload_id.clone());
                self.registry.insert(
                    terminal.upload_id.clone(),
                    IdState::AwaitingAck(terminal.event_id),
                );
            }
            Event::Rejected(rejection) => {
                assert!(!rejection.error.is_empty());
            }
        }
    }

    /// Terminal events delivered and not acknowledged, oldest first.
    pub fn unacknowledged(&self) -> Vec<EventId> {
        self.registry
            .values()
            .filter_map(|state| match state {
                IdState::AwaitingAck(event_id) => Some(*event_id),
                IdState::Live => None,
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    pub fn terminal_events(&self) -> Vec<&TerminalEvent> {
        self.delivered
            .iter()
            .filter_map(|event| match event {
                Event::Terminal(terminal) => Some(terminal),
                _ => None,
            })
            .collect()
    }

    pub fn progress_events(&self, id: &UploadId) -> Vec<u8> {
        self.delivered
            .iter()
            .filter_map(|event| match event {
                Event::Progress {
                    upload_id,
                    progress,
                } if upload_id == id => Some(*progress),
                _ => None,
            })
            .collect()
    }

    /// Liveness and invariant 1: with the network up and a server that
    /// answers everything, every live upload ends within a bounded number of
    /// steps, each with exactly one terminal event.
    pub fn settle(&mut self) {
        self.network(true);
        for id in self.paused.clone() {
            self.resume(id.as_str());
        }
        self.storage(StorageSpace::Available);
        self.sync();
        if !self.machine.is_attached() {
            self.init_limit(self.machine.config().parallel_uploads_limit);
        }
        for _ in 0..100_000 {
            if let Some((id, _)) = self.transfers.iter().next() {
                let id = id.clone();
                self.respond(&id, 201, "ok");
                continue;
            }
            if self.machine.upload_count() == 0 {
                break;
            }
            if !self.advance_to_deadline() {
                panic!(
                    "liveness: {} uploads left and nothing to wait for",
                    self.machine.upload_count()
                );
            }
        }
        assert_eq!(
            self.machine.upload_count(),
            0,
            "liveness: uploads never ended"
        );
        for (id, state) in &self.registry {
            assert!(
                !matches!(state, IdState::Live),
                "invariant 1: accepted upload {id} has no terminal event"
            );
        }
    }

    pub fn failed_event(&self, id: &UploadId) -> Option<(String, i32)> {
        self.terminal_events()
            .into_iter()
            .rev()
            .find(|event| &event.upload_id == id)
            .and_then(|event| {
                let outcome = &event.outcome;
                Some((outcome.error()?.to_owned(), outcome.error_code()?))
            })
    }
}

pub fn id(n: u8) -> UploadId {
    UploadId::parse(&uuid(n)).expect("test ids are UUIDs")
}

pub fn batch_id(n: u64) -> BatchId {
    BatchId(n)
}
