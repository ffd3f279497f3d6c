//! `fsm_sequences`: arbitrary sequences of app commands, transfer reports
//! (current, stale, for attempts never started, and for attempts an OS ran
//! across a relaunch), network changes, time jumps (forward, and back across
//! a relaunch), durable and non-durable writes, partial syncs and kills,
//! optionally starting from a stored state (records, events, legacy records,
//! an arbitrary stored configuration), with small and odd limits.
//!
//! Checked after every step: DESIGN.md invariants 1–7 by the property
//! suite's own `World` (`fsm/tests/support/mod.rs`, included as is), plus
//! what only a fuzzer's inputs reach:
//! - a report for any attempt but the current one changes nothing;
//! - every UPLOADED event comes from a response reported for that upload,
//!   its `serverResponse` is a prefix of the body (lossy UTF-8) within
//!   `max_response_bytes`, and `response_truncated` says exactly whether
//!   it was cut;
//! - every FAILED event is explained: -999 by a `removeUpload`, 500 by a
//!   legacy record, -1 "no attempt number is left" by a stored attempt
//!   number near `Attempt::MAX`, anything else by a reported failure with
//!   that code;
//! - a refusal echoes at most `MAX_ECHOED_ID_BYTES` of the id.
//!
//! At the end: liveness (everything settles with a server that answers),
//! an empty store once everything is acknowledged, and determinism (the
//! same input played twice gives the same events and the same disk).

use crate::seed::{Blob, Text, fuzz_enum, fuzz_struct};
use crate::support::{self, Disk, IdState, World};
use bgupload_fsm::validate::{MAX_ECHOED_ID_BYTES, truncate_to_char_boundary};
use bgupload_fsm::{
    Attempt, AttemptReport, BodyFormat, Config, ErrorCode, Event, EventId, FileCheck, Input,
    LegacyUpload, Limits, MSG_ATTEMPTS_EXHAUSTED, MSG_CANCELLED, MSG_LEGACY, Machine, Meta, Method,
    NetworkRequirement, NetworkState, Options, Outcome, ProgressThrottle, Recovered, RetryPolicy,
    StatusPolicy, TerminalEvent, Time, TransferFailure, TransferOwnership, TransferReport,
    UploadId, UploadPayload, UploadRecord, UploadRequest,
};
use std::collections::{BTreeMap, BTreeSet};

/// Upload ids in play: few, so that duplicates and reuse happen often.
pub const ID_POOL: u8 = 6;
/// Steps taken from one input at most (the rest is ignored).
pub const MAX_STEPS: usize = 200;
/// A stored upload this close to [`Attempt::MAX`] may run out of attempt
/// numbers within [`MAX_STEPS`] (each step starts at most [`ID_POOL`]
/// attempts, a relaunch one per upload).
const EXHAUSTIBLE_MARGIN: u32 = 10_000;

fuzz_struct! {
    /// One fuzz case: how the engine is built, what the store holds at
    /// start-up, and what happens.
    pub struct Scenario {
        pub seed: u64,
        pub os_owned: bool,
        pub offline_at_start: bool,
        pub limits: LimitsInput,
        pub stored: Option<StoredState>,
        pub steps: Vec<Step>,
    }
}

fuzz_struct! {
    /// Small limits, so the fuzzer reaches them. 0 keeps the default.
    pub struct LimitsInput {
        /// 1–8 uploads (value % 9).
        pub max_uploads: u8,
        /// 1–8 unacknowledged events (value % 9).
        pub max_unacknowledged_events: u8,
        /// Bytes; 255 means 0 (every answer is cut to "").
        pub max_response_bytes: u8,
        /// Bytes; 255 means 0.
        pub max_error_message_bytes: u8,
        /// Seconds an OS-owned attempt is awaited after a relaunch.
        pub reconcile_timeout_seconds: u8,
    }
}

fuzz_struct! {
    /// What the store holds when the first machine is built (as a damaged
    /// or older store may: in-flight records, odd sequences and attempt
    /// numbers, events for uploads that still have a record, legacy
    /// records, any stored configuration).
    pub struct StoredState {
        pub uploads: Vec<StoredUpload>,
        pub events: Vec<StoredEvent>,
        pub legacy: Vec<IdText>,
        pub meta: Option<StoredMeta>,
    }
}

fuzz_struct! {
    pub struct StoredUpload {
        /// Index into the id pool.
        pub id: u8,
        pub sequence: u64,
        pub last_attempt: Option<u32>,
        pub in_flight: bool,
        pub counted_failures: u16,
        pub put: bool,
    }
}

fuzz_struct! {
    pub struct StoredEvent {
        pub event_id: u64,
        /// Index into the id pool.
        pub upload: u8,
        pub outcome: OutcomeInput,
    }
}

fuzz_enum! {
    pub enum OutcomeInput {
        Uploaded { status: u16, response: Text, truncated: bool },
        Failed { error: Text, code: i32 },
    }
}

fuzz_struct! {
    pub struct StoredMeta {
        pub next_event_id: u64,
        pub config: ConfigInput,
    }
}

fuzz_enum! {
    /// An upload id as the app writes it.
    pub enum IdText {
        /// One of the pool's ids: a UUID in one of its written forms, or
        /// the pool's number in a form apps use that is no UUID.
        Pool { n: u8, form: IdForm },
        /// Anything at all.
        Raw { text: Text },
    }
}

fuzz_enum! {
    pub enum IdForm { Lower, Upper, Braced, Simple, Urn, Plain, PathLike, Spaced }
}

fuzz_enum! {
    /// `init`'s configuration.
    pub enum ConfigInput {
        /// Valid, with short backoffs: limit % 5 (0 is the default 1),
        /// 1–4 attempts, progress every 0–750 ms.
        Sensible { limit: u8, max_attempts: u8, progress_interval: u8 },
        /// Anything, out-of-range values included (refused by `init`).
        Raw {
            limit: u32,
            max_attempts: u32,
            initial_backoff_millis: u64,
            max_backoff_millis: u64,
            min_interval_millis: u64,
            min_percent_step: u8,
        },
    }
}

fuzz_enum! {
    /// `startUpload`'s payload.
    pub enum PayloadInput {
        /// Well formed: absolute path, loopback URL.
        Valid { id: IdText, put: bool, raw: bool },
        /// Every field the app controls, each possibly missing or hostile.
        Hostile {
            id: Option<IdText>,
            file_path: Option<Text>,
            file_key: Option<Text>,
            server_url: Option<Text>,
            headers: Vec<(Text, Text)>,
            parameters: Vec<(Text, Text)>,
            notification_title: Option<Text>,
            request_method: Option<Text>,
            raw: bool,
        },
        /// Well formed, with queue control: bit 0 `statusPolicy:
        /// "standard"`, bit 1 `idempotencyKey`, bit 2 `network:
        /// "unmetered"`, bit 3 an `Idempotency-Key` header of the app's.
        Controlled { id: IdText, choices: u8 },
    }
}

fuzz_enum! {
    /// What the driver found at `filePath`.
    pub enum FileInput {
        Regular { size: u64 },
        Missing,
        NotARegularFile,
        Unreadable,
        NotChecked,
    }
}

fuzz_enum! {
    pub enum ReportInput {
        Progress { sent: u64, total: u64 },
        Response { status: u16, body: Blob, truncated: bool },
        Failed { retryable: bool, error_code: i32, message: Text },
        /// An answer with a parsed `Retry-After`.
        RetryAfter { status: u16, body: Blob, retry_after_millis: u64 },
    }
}

fuzz_enum! {
    /// Which event id an `acknowledgeEvent` names.
    pub enum AckInput {
        /// One delivered and not acknowledged.
        Delivered,
        /// One whose acknowledgement was already confirmed.
        Again,
        /// One that never existed (0).
        Unknown,
    }
}

fuzz_enum! {
    /// One thing that happens.
    pub enum Step {
        Init { config: ConfigInput },
        Start { payload: PayloadInput, file: FileInput },
        Remove { id: IdText },
        Acknowledge { pick: u8, which: AckInput },
        Destroy,
        Network { reachable: bool },
        /// A report on a running transfer's current attempt.
        Report { pick: u8, report: ReportInput },
        /// A report on a running transfer, for another attempt number.
        Stale { pick: u8, delta: i8, report: ReportInput },
        /// A report for an upload this case never started.
        Unstarted { id: IdText, attempt: u32, report: ReportInput },
        /// A report on an attempt handed to the OS before a relaunch.
        HandedOver { pick: u8, report: ReportInput },
        Advance { millis: u32 },
        AdvanceToDeadline,
        AutoSync { on: bool },
        Sync,
        SyncFirst { count: u8 },
        /// The process dies; the next one's clock may start lower.
        Kill { clock_back_millis: u32 },
        Pause { id: IdText },
        Resume { id: IdText },
        UpdateHeaders { id: IdText, headers: Vec<(Text, Text)> },
        /// The network as reachable-and-metered or not.
        Metered { reachable: bool, metered: bool },
        /// `init` with queue-control defaults (bits as `Controlled`).
        InitDefaults { config: ConfigInput, defaults: u8 },
    }
}

/// Plays `scenario` twice and compares: the machine must be deterministic.
pub fn run(scenario: &Scenario) {
    let first = play(scenario);
    let second = play(scenario);
    assert!(
        first == second,
        "the same input gave different events or a different disk"
    );
}

/// Plays one scenario to its end; returns what the app saw and the disk
/// (`None`: a stored state a store refuses to load, see
/// `Recovered::check`: nothing starts).
pub fn play(scenario: &Scenario) -> Option<(Vec<Event>, Disk)> {
    let options = options_of(scenario);
    let mut world = World::new(options);
    let mut checker = Checker::new(options.limits);
    if let Some(stored) = &scenario.stored {
        load_stored(&mut world, &mut checker, stored)?;
    }
    for step in scenario.steps.iter().take(MAX_STEPS) {
        apply(&mut world, &mut checker, step);
        checker.check_new_events(&world);
        world.check_durability();
        let limit = world.machine.config().parallel_uploads_limit as usize;
        assert!(world.machine.in_flight_count() <= limit, "invariant 4");
    }
    // Liveness: with the network up and a server that answers, everything
    // ends; once all is acknowledged, nothing is left on disk.
    world.auto_sync = true;
    checker.settling = true;
    world.settle();
    checker.check_new_events(&world);
    for event_id in world.unacknowledged() {
        world.acknowledge(event_id);
    }
    world.kill_and_relaunch();
    world.init_limit(1);
    checker.check_new_events(&world);
    assert!(
        world.disk.events.is_empty() && world.disk.uploads.is_empty(),
        "after settling and acknowledging everything the disk is empty: {:?}",
        world.disk
    );
    Some((world.delivered, world.disk))
}

fn options_of(scenario: &Scenario) -> Options {
    let mut options = Options::new(scenario.seed);
    options.ownership = if scenario.os_owned {
        TransferOwnership::Os
    } else {
        TransferOwnership::Engine
    };
    options.network = match scenario.offline_at_start {
        true => NetworkState::UNREACHABLE,
        false => NetworkState::UNMETERED,
    };
    let input = &scenario.limits;
    let defaults = Limits::default();
    let small = |value: u8, default: usize| match value % 9 {
        0 => default,
        n => usize::from(n),
    };
    let bytes = |value: u8, default: usize| match value {
        0 => default,
        255 => 0,
        n => usize::from(n),
    };
    options.limits = Limits {
        max_uploads: small(input.max_uploads, defaults.max_uploads),
        max_unacknowledged_events: small(
            input.max_unacknowledged_events,
            defaults.max_unacknowledged_events,
        ),
        max_response_bytes: bytes(input.max_response_bytes, defaults.max_response_bytes),
        max_error_message_bytes: bytes(
            input.max_error_message_bytes,
            defaults.max_error_message_bytes,
        ),
        reconcile_timeout_millis: u64::from(input.reconcile_timeout_seconds) * 1_000,
        ..defaults
    };
    options
}

/// The id text of `id`.
pub fn id_text(id: &IdText) -> String {
    match id {
        IdText::Pool { n, form } => {
            let lower = support::uuid(n % ID_POOL);
            match form {
                IdForm::Lower => lower,
                IdForm::Upper => lower.to_ascii_uppercase(),
                IdForm::Braced => format!("{{{lower}}}"),
                IdForm::Simple => lower.replace('-', ""),
                IdForm::Urn => format!("urn:uuid:{lower}"),
                IdForm::Plain => format!("file_{}", n % ID_POOL),
                IdForm::PathLike => format!("../../{}/x", n % ID_POOL),
                IdForm::Spaced => format!("é {} 文", n % ID_POOL),
            }
        }
        IdText::Raw { text } => text.0.clone(),
    }
}

fn config_of(input: &ConfigInput) -> Config {
    match *input {
        ConfigInput::Sensible {
            limit,
            max_attempts,
            progress_interval,
        } => Config {
            parallel_uploads_limit: u32::from(limit % 5),
            retry: RetryPolicy {
                max_attempts: 1 + u32::from(max_attempts % 4),
                initial_backoff_millis: 100,
                max_backoff_millis: 5_000,
            },
            progress: ProgressThrottle {
                min_interval_millis: u64::from(progress_interval % 4) * 250,
                min_percent_step: 1,
            },
            ..Config::default()
        },
        ConfigInput::Raw {
            limit,
            max_attempts,
            initial_backoff_millis,
            max_backoff_millis,
            min_interval_millis,
            min_percent_step,
        } => Config {
            parallel_uploads_limit: limit,
            retry: RetryPolicy {
                max_attempts,
                initial_backoff_millis,
                max_backoff_millis,
            },
            progress: ProgressThrottle {
                min_interval_millis,
                min_percent_step,
            },
            ..Config::default()
        },
    }
}

fn payload_of(input: &PayloadInput) -> UploadPayload {
    let format = |raw: bool| {
        if raw {
            BodyFormat::Raw
        } else {
            BodyFormat::Multipart
        }
    };
    let text = |value: &Option<Text>| value.as_ref().map(|text| text.0.clone());
    let pairs = |pairs: &[(Text, Text)]| {
        pairs
            .iter()
            .map(|(name, value)| (name.0.clone(), value.0.clone()))
            .collect()
    };
    match input {
        PayloadInput::Valid { id, put, raw } => UploadPayload {
            request_method: put.then(|| "PUT".to_owned()),
            body_format: format(*raw),
            ..support::payload(&id_text(id))
        },
        PayloadInput::Hostile {
            id,
            file_path,
            file_key,
            server_url,
            headers,
            parameters,
            notification_title,
            request_method,
            raw,
        } => UploadPayload {
            id: id.as_ref().map(id_text),
            file_path: text(file_path),
            file_key: text(file_key),
            server_url: text(server_url),
            headers: pairs(headers),
            parameters: pairs(parameters),
            notification_title: text(notification_title),
            request_method: text(request_method),
            body_format: format(*raw),
            ..UploadPayload::default()
        },
        PayloadInput::Controlled { id, choices } => {
            let own_key =
                (choices & 8 != 0).then(|| ("Idempotency-Key".to_owned(), "\"k\"".to_owned()));
            UploadPayload {
                status_policy: (choices & 1 != 0).then_some(StatusPolicy::Standard),
                idempotency_key: Some(choices & 2 != 0),
                network: (choices & 4 != 0).then_some(NetworkRequirement::Unmetered),
                headers: own_key.into_iter().collect(),
                ..support::payload(&id_text(id))
            }
        }
    }
}

fn file_of(input: &FileInput) -> FileCheck {
    match *input {
        FileInput::Regular { size } => FileCheck::RegularFile { size },
        FileInput::Missing => FileCheck::Missing,
        FileInput::NotARegularFile => FileCheck::NotARegularFile,
        FileInput::Unreadable => FileCheck::Unreadable,
        FileInput::NotChecked => FileCheck::NotChecked,
    }
}

fn report_of(input: &ReportInput) -> TransferReport {
    match input {
        ReportInput::Progress { sent, total } => TransferReport::Progress {
            sent: *sent,
            total: *total,
        },
        ReportInput::Response {
            status,
            body,
            truncated,
        } => TransferReport::Response {
            status: *status,
            body: body.0.clone(),
            truncated: *truncated,
            retry_after_millis: None,
        },
        ReportInput::RetryAfter {
            status,
            body,
            retry_after_millis,
        } => TransferReport::Response {
            status: *status,
            body: body.0.clone(),
            truncated: false,
            retry_after_millis: Some(*retry_after_millis),
        },
        ReportInput::Failed {
            retryable,
            error_code,
            message,
        } => TransferReport::Failed(TransferFailure {
            message: message.0.clone(),
            error_code: *error_code,
            retryable: *retryable,
        }),
    }
}

fn pick<T: Clone>(items: &[T], index: u8) -> Option<T> {
    (!items.is_empty()).then(|| items[usize::from(index) % items.len()].clone())
}

/// Builds the first machine from a stored state, makes its repairs durable,
/// and tells the world's registry what the machine holds (the app was told
/// nothing yet, but those ids are taken).
fn load_stored(world: &mut World, checker: &mut Checker, stored: &StoredState) -> Option<()> {
    let mut disk = Disk::default();
    for upload in &stored.uploads {
        let id = support::id(upload.id % ID_POOL);
        let request = UploadRequest {
            id: id.clone(),
            file_path: "/data/photo.jpg".to_owned(),
            file_key: "file".to_owned(),
            server_url: "http://127.0.0.1:8080/upload".to_owned(),
            headers: Vec::new(),
            parameters: Vec::new(),
            notification_title: "Uploading files".to_owned(),
            method: if upload.put {
                Method::Put
            } else {
                Method::Post
            },
            body_format: BodyFormat::Multipart,
            status_policy: bgupload_fsm::StatusPolicy::Any,
            idempotency_key: None,
            network: bgupload_fsm::NetworkRequirement::Any,
        };
        let record = UploadRecord {
            request,
            sequence: upload.sequence,
            last_attempt: upload.last_attempt.map(Attempt),
            in_flight: upload.in_flight,
            counted_failures: u32::from(upload.counted_failures),
            paused: false,
            file_size: 0,
        };
        disk.uploads.insert(id, record);
    }
    for event in &stored.events {
        let upload_id = support::id(event.upload % ID_POOL);
        // A store holds one event per upload (this machine writes no
        // more), and one record per event id.
        let taken = disk.events.values().any(|e| e.upload_id == upload_id);
        // Within what a store hands back (1..=EventId::MAX): the edges
        // come often, since arbitrary bytes give 0 and u64::MAX often.
        let event_id = EventId(event.event_id.clamp(EventId::FIRST.0, EventId::MAX.0));
        if taken || disk.events.contains_key(&event_id) {
            continue;
        }
        let outcome = match &event.outcome {
            OutcomeInput::Uploaded {
                status,
                response,
                truncated,
            } => Outcome::Uploaded {
                status_code: *status,
                server_response: response.0.clone(),
                response_truncated: *truncated,
            },
            OutcomeInput::Failed { error, code } => Outcome::Failed {
                error: error.0.clone(),
                error_code: *code,
            },
        };
        disk.events.insert(
            event_id,
            TerminalEvent {
                event_id,
                upload_id,
                outcome,
            },
        );
    }
    disk.meta = stored.meta.as_ref().map(|meta| Meta {
        next_event_id: meta
            .next_event_id
            .clamp(EventId::FIRST.0, EventId::MAX.0 + 1),
        config: config_of(&meta.config),
    });
    // Legacy and current records share the uploads keyspace: one per id.
    let mut legacy = Vec::new();
    for id in &stored.legacy {
        let text = id_text(id);
        let key = UploadId::from_stored(&text);
        if text.is_empty() || disk.uploads.contains_key(&key) || legacy.contains(&text) {
            continue;
        }
        legacy.push(text);
    }
    let recovered = Recovered {
        uploads: disk.uploads.values().cloned().collect(),
        events: disk.events.values().cloned().collect(),
        meta: disk.meta,
        legacy_uploads: legacy
            .iter()
            .map(|id| LegacyUpload { id: id.clone() })
            .collect(),
    };
    // Ids are generated within what a store hands back; a state whose
    // uploads outnumber the event ids left is one a store refuses.
    if recovered.check().is_err() {
        return None;
    }
    checker.exhaustible.extend(
        recovered
            .uploads
            .iter()
            .filter(|record| {
                record
                    .last_attempt
                    .is_some_and(|attempt| attempt.0 > Attempt::MAX.0 - EXHAUSTIBLE_MARGIN)
            })
            .map(|record| record.request.id.clone()),
    );
    world.machine = Machine::recover(world.options, recovered, world.now);
    world.attached = None;
    world.disk = disk;
    world.drain();
    world.sync();
    for id in world.disk.uploads.keys() {
        world.registry.insert(id.clone(), IdState::Live);
    }
    for event in world.machine.unacknowledged_events() {
        world.registry.insert(
            event.upload_id.clone(),
            IdState::AwaitingAck(event.event_id),
        );
        checker.stored_events.insert(event.event_id);
    }
    checker.legacy.extend(legacy);
    checker
        .started
        .extend(world.disk.uploads.keys().map(|id| id.as_str().to_owned()));
    Some(())
}

fn apply(world: &mut World, checker: &mut Checker, step: &Step) {
    match step {
        Step::Init { config } => {
            world.init(config_of(config));
        }
        Step::Start { payload, file } => {
            let payload = payload_of(payload);
            if let Some(id) = &payload.id {
                checker.started.insert(id.clone());
            }
            world.start(payload, file_of(file));
        }
        Step::Remove { id } => {
            let text = id_text(id);
            checker.removed.insert(text.clone());
            world.remove(&text);
        }
        Step::Acknowledge { pick: index, which } => {
            let event_id = match which {
                AckInput::Delivered => pick(&world.unacknowledged(), *index),
                AckInput::Again => {
                    let done: Vec<EventId> = world.acknowledged.iter().copied().collect();
                    pick(&done, *index)
                }
                // 0 is never handed out by the machine; a stored state may
                // hold it, and then it is not unknown.
                AckInput::Unknown => {
                    let known = world.disk.events.contains_key(&EventId(0))
                        || world.terminal_seen.contains_key(&EventId(0));
                    (!known).then_some(EventId(0))
                }
            };
            if let Some(event_id) = event_id {
                world.acknowledge(event_id);
            }
        }
        Step::Destroy => {
            world.destroy();
        }
        Step::Network { reachable } => world.network(*reachable),
        Step::Pause { id } => {
            world.pause(&id_text(id));
        }
        Step::Resume { id } => {
            world.resume(&id_text(id));
        }
        Step::UpdateHeaders { id, headers } => {
            let headers = headers
                .iter()
                .map(|(name, value)| (name.0.clone(), value.0.clone()))
                .collect();
            world.update_headers(&id_text(id), headers);
        }
        Step::Metered { reachable, metered } => world.network_state(NetworkState {
            reachable: *reachable,
            metered: *metered,
        }),
        Step::InitDefaults { config, defaults } => {
            world.init(support::with_defaults(config_of(config), *defaults));
        }
        Step::Report {
            pick: index,
            report,
        } => {
            let running: Vec<(UploadId, Attempt)> = world
                .transfers
                .iter()
                .map(|(id, attempt)| (id.clone(), *attempt))
                .collect();
            if let Some((id, attempt)) = pick(&running, *index) {
                let report = report_of(report);
                checker.record(&id, &report);
                world.report_attempt(&id, attempt, report);
            }
        }
        Step::Stale {
            pick: index,
            delta,
            report,
        } => {
            let running: Vec<(UploadId, Attempt)> = world
                .transfers
                .iter()
                .map(|(id, attempt)| (id.clone(), *attempt))
                .collect();
            if let Some((id, current)) = pick(&running, *index) {
                let delta = if *delta == 0 { 1 } else { i32::from(*delta) };
                let stale = Attempt(current.0.wrapping_add_signed(delta));
                assert_ignored(world, &id, stale, report_of(report));
            }
        }
        Step::Unstarted {
            id,
            attempt,
            report,
        } => {
            let text = id_text(id);
            let upload_id = UploadId::parse(&text).unwrap_or_else(|_| UploadId::from_stored(&text));
            let known = checker.started.contains(&text)
                || checker.legacy.contains(&text)
                || world.disk.uploads.contains_key(&upload_id)
                || world
                    .disk
                    .events
                    .values()
                    .any(|event| event.upload_id == upload_id);
            if !known {
                assert_ignored(world, &upload_id, Attempt(*attempt), report_of(report));
            }
        }
        Step::HandedOver {
            pick: index,
            report,
        } => {
            let handed_over: Vec<(UploadId, Attempt)> = world
                .disk
                .uploads
                .values()
                .filter(|record| {
                    record.in_flight && !world.transfers.contains_key(&record.request.id)
                })
                .filter_map(|record| Some((record.request.id.clone(), record.last_attempt?)))
                .collect();
            if let Some((id, attempt)) = pick(&handed_over, *index) {
                let report = report_of(report);
                checker.record(&id, &report);
                world.report_attempt(&id, attempt, report);
            }
        }
        Step::Advance { millis } => world.advance(u64::from(*millis)),
        Step::AdvanceToDeadline => {
            world.advance_to_deadline();
        }
        Step::AutoSync { on } => {
            world.auto_sync = *on;
            if *on {
                world.sync();
            }
        }
        Step::Sync => world.sync(),
        Step::SyncFirst { count } => world.sync_first(usize::from(*count)),
        Step::Kill { clock_back_millis } => {
            let millis = world
                .now
                .as_millis()
                .saturating_sub(u64::from(*clock_back_millis));
            world.now = Time::from_millis(millis);
            world.kill_and_relaunch();
        }
    }
}

/// Feeds a report the machine must ignore, and checks that it did.
fn assert_ignored(world: &mut World, id: &UploadId, attempt: Attempt, report: TransferReport) {
    let now = world.now;
    world.machine.handle_input(
        now,
        Input::Transfer(AttemptReport {
            upload_id: id.clone(),
            attempt,
            report,
        }),
    );
    if let Some(effect) = world.machine.poll_effect() {
        panic!(
            "a report for attempt {attempt:?} of {id}, not its current one, was acted on: {effect:?}"
        );
    }
}

/// What the app was shown, checked against what the transport said.
struct Checker {
    limits: Limits,
    /// Delivered events checked so far.
    checked: usize,
    responses: BTreeMap<UploadId, Vec<(u16, Vec<u8>, bool)>>,
    failures: BTreeMap<UploadId, Vec<(i32, String)>>,
    /// Ids named in `removeUpload`.
    removed: BTreeSet<String>,
    /// Ids of legacy records in the stored state.
    legacy: BTreeSet<String>,
    /// Ids named in `startUpload` or stored.
    started: BTreeSet<String>,
    /// Events that came with the stored state.
    stored_events: BTreeSet<EventId>,
    /// Stored uploads whose attempt numbers may run out during the run.
    exhaustible: BTreeSet<UploadId>,
    /// Whether `World::settle` runs, which answers every attempt with
    /// [`SETTLE_RESPONSE`].
    settling: bool,
}

/// What `World::settle`'s server answers.
const SETTLE_RESPONSE: (u16, &[u8]) = (201, b"ok");

impl Checker {
    fn new(limits: Limits) -> Checker {
        Checker {
            limits,
            checked: 0,
            responses: BTreeMap::new(),
            failures: BTreeMap::new(),
            removed: BTreeSet::new(),
            legacy: BTreeSet::new(),
            started: BTreeSet::new(),
            stored_events: BTreeSet::new(),
            exhaustible: BTreeSet::new(),
            settling: false,
        }
    }

    fn record(&mut self, id: &UploadId, report: &TransferReport) {
        match report {
            TransferReport::Progress { .. } => {}
            TransferReport::Response {
                status,
                body,
                truncated,
                ..
            } => self.responses.entry(id.clone()).or_default().push((
                *status,
                body.clone(),
                *truncated,
            )),
            TransferReport::Failed(failure) => self
                .failures
                .entry(id.clone())
                .or_default()
                .push((failure.error_code, failure.message.clone())),
        }
    }

    fn check_new_events(&mut self, world: &World) {
        for event in &world.delivered[self.checked..] {
            match event {
                Event::Progress { .. } => {}
                Event::Terminal(terminal) => self.check_terminal(terminal),
                Event::Rejected(rejection) => {
                    let id_len = rejection.id.as_ref().map_or(0, String::len);
                    assert!(
                        id_len <= MAX_ECHOED_ID_BYTES,
                        "a refusal echoes an id of {id_len} bytes"
                    );
                }
            }
        }
        self.checked = world.delivered.len();
    }

    fn check_terminal(&self, terminal: &TerminalEvent) {
        if self.stored_events.contains(&terminal.event_id) {
            return;
        }
        let id = &terminal.upload_id;
        match &terminal.outcome {
            Outcome::FailedByServer {
                status_code,
                server_response,
                ..
            } => {
                let answered = self.responses.get(id).is_some_and(|sent| {
                    sent.iter().any(|(status, body, _)| {
                        *status == *status_code
                            && String::from_utf8_lossy(body).starts_with(server_response.as_str())
                    })
                });
                assert!(
                    answered,
                    "FAILED {terminal:?} under \"standard\" matches no response reported for {id}"
                );
            }
            Outcome::Uploaded {
                status_code,
                server_response,
                response_truncated,
            } => {
                assert!(
                    server_response.len() <= self.limits.max_response_bytes,
                    "serverResponse of {} bytes over the limit of {}",
                    server_response.len(),
                    self.limits.max_response_bytes
                );
                let matches = |status: u16, body: &[u8], truncated: bool| {
                    let whole = String::from_utf8_lossy(body);
                    status == *status_code
                        && whole.starts_with(server_response.as_str())
                        && *response_truncated == (truncated || whole != server_response.as_str())
                };
                let explained = self.responses.get(id).is_some_and(|sent| {
                    sent.iter()
                        .any(|(status, body, truncated)| matches(*status, body, *truncated))
                }) || (self.settling
                    && matches(SETTLE_RESPONSE.0, SETTLE_RESPONSE.1, false));
                assert!(
                    explained,
                    "invariant 6: UPLOADED {terminal:?} matches no response reported for {id}"
                );
            }
            Outcome::Failed { error, error_code } => {
                let cancelled = *error_code == ErrorCode::Cancelled.code()
                    && error == MSG_CANCELLED
                    && self.removed.contains(id.as_str());
                let legacy = *error_code == ErrorCode::LegacyRecord.code()
                    && error == MSG_LEGACY
                    && self.legacy.contains(id.as_str());
                let limit = self.limits.max_error_message_bytes;
                let reported = self.failures.get(id).is_some_and(|sent| {
                    sent.iter().any(|(code, message)| {
                        *code == *error_code
                            && error.starts_with(truncate_to_char_boundary(message, limit))
                    })
                });
                let exhausted = *error_code == ErrorCode::AttemptsExhausted.code()
                    && error == MSG_ATTEMPTS_EXHAUSTED
                    && self.exhaustible.contains(id);
                assert!(
                    cancelled || legacy || reported || exhausted,
                    "FAILED {terminal:?} is explained by no removal, legacy record, reported \
                     failure or stored attempt number near the last"
                );
            }
        }
    }
}
