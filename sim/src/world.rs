//! The simulated hosts: `app` (the real driver with `SimStore` and a
//! transport over turmoil), `os` (in OS-owned mode, the transfers that
//! outlive the app, as an iOS background URLSession does) and `server`.
//! They share one [`Shared`] state with the harness, which outlives kills.

use crate::checker::Checker;
use crate::scenario::{Command, Mode, Rng, Scenario, StartChoices};
use crate::wire::{self, ServerLog, UPLOAD_ID_HEADER};
use bgupload_fsm::{
    Attempt, AttemptReport, Config, Event, FileCheck, NetworkRequirement, NetworkState, Options,
    ProgressThrottle, RetryPolicy, StatusPolicy, TransferOwnership, TransferReport, UploadPayload,
    UploadRequest,
};
use bgupload_io::driver::{CommandError, Engine, EngineOptions, StoreCalls};
use bgupload_io::transport::{ProgressSink, Transport};
use bgupload_persistence::SimStore;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Reports from OS-owned transfers waiting for the app, at most.
const MAX_OS_REPORTS: usize = 10_000;
/// How often the app looks at its plan.
const APP_POLL: Duration = Duration::from_millis(50);

/// A transfer the app handed to the OS.
#[derive(Debug)]
pub enum OsJob {
    Start {
        request: UploadRequest,
        attempt: Attempt,
    },
    Cancel {
        upload_id: String,
        attempt: Attempt,
    },
}

/// Everything that survives an app kill: the disk, the server, the OS's
/// transfers and the checker.
#[derive(Debug)]
pub struct State {
    pub checker: Checker,
    /// What the host OS says about the network (the app forwards changes).
    pub network_reachable: bool,
    /// Whether that network is metered.
    pub network_metered: bool,
    /// Uploads the app paused at some point: resumed again at the end.
    pub paused_ever: BTreeSet<String>,
    /// Index of the next planned command to issue.
    pub next_command: usize,
    pub incarnation: u64,
    /// The driver stopped (e.g. a failed sync): the harness restarts the app.
    pub needs_restart: Option<String>,
    /// The harness is killing the app: dropped tasks must not act.
    pub app_dying: bool,
    /// Faults are over: the app acknowledges everything it sees.
    pub final_phase: bool,
    /// Attempts running in the app's process (engine-owned mode).
    pub app_transfers: BTreeSet<(String, Attempt)>,
    pub os_jobs: VecDeque<OsJob>,
    pub os_reports: VecDeque<AttemptReport>,
    /// Attempts running in the OS (OS-owned mode).
    pub os_transfers: BTreeSet<(String, Attempt)>,
    pub app_rng: Rng,
    /// Terminal events handed to the app's callback and not looked at yet:
    /// a kill now falls between persist-and-deliver and the app's reaction.
    pub terminal_in_inbox: usize,
    /// Acknowledgements sent whose confirmation has not reached the app: a
    /// kill now falls between the persisted ack and its confirmation.
    pub acks_in_flight: usize,
}

#[derive(Clone, Debug)]
pub struct Shared {
    pub scenario: Arc<Scenario>,
    pub store: SimStore,
    pub state: Arc<Mutex<State>>,
    /// What the server received (locked after `state` when both are held).
    pub server: Arc<Mutex<ServerLog>>,
}

impl Shared {
    pub fn new(scenario: Scenario) -> Shared {
        let app_rng = Rng::new(scenario.seed ^ 0xA44);
        Shared {
            scenario: Arc::new(scenario),
            store: SimStore::new(),
            server: Arc::default(),
            state: Arc::new(Mutex::new(State {
                checker: Checker::new(),
                network_reachable: true,
                network_metered: false,
                paused_ever: BTreeSet::new(),
                next_command: 0,
                incarnation: 0,
                needs_restart: None,
                app_dying: false,
                final_phase: false,
                app_transfers: BTreeSet::new(),
                os_jobs: VecDeque::new(),
                os_reports: VecDeque::new(),
                os_transfers: BTreeSet::new(),
                app_rng,
                terminal_in_inbox: 0,
                acks_in_flight: 0,
            })),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a host panicked: keep going so the harness
        // can report it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn server_log(&self) -> MutexGuard<'_, ServerLog> {
        self.server
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn durable(&self) -> bgupload_fsm::Recovered {
        self.store.load_durable().unwrap_or_default()
    }

    fn file_bytes(&self, path: &str) -> Bytes {
        Bytes::copy_from_slice(self.scenario.file(path).unwrap_or_default())
    }

    fn check_file(&self, path: &str) -> FileCheck {
        match self.scenario.file(path) {
            Some(bytes) => FileCheck::RegularFile {
                size: bytes.len() as u64,
            },
            None => FileCheck::Missing,
        }
    }

    pub fn expected_file(&self, upload_id: &str) -> Option<Vec<u8>> {
        self.scenario
            .plan
            .iter()
            .find_map(|(_, command)| match command {
                Command::Start { id, path, .. } if id == upload_id => {
                    self.scenario.file(path).map(<[u8]>::to_vec)
                }
                _ => None,
            })
    }
}

fn boundary_seed(request: &UploadRequest, attempt: Attempt) -> u64 {
    crate::checker::fnv1a(u64::from(attempt.0), request.id.as_str().as_bytes())
}

/// Engine-owned transfers: run in the app's process, die with it.
pub struct AppTransport {
    shared: Shared,
}

/// Marks an attempt as running until dropped (aborted or finished).
struct Running {
    shared: Shared,
    key: (String, Attempt),
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shared.lock().app_transfers.remove(&self.key);
    }
}

impl Transport for AppTransport {
    fn check_file(&self, path: &str) -> FileCheck {
        self.shared.check_file(path)
    }

    fn run(
        &self,
        request: UploadRequest,
        attempt: Attempt,
        progress: ProgressSink,
    ) -> impl Future<Output = TransferReport> + Send + 'static {
        let shared = self.shared.clone();
        async move {
            let key = (request.id.as_str().to_owned(), attempt);
            shared.lock().app_transfers.insert(key.clone());
            let _running = Running {
                shared: shared.clone(),
                key,
            };
            let file = shared.file_bytes(&request.file_path);
            wire::send(
                &request,
                file,
                boundary_seed(&request, attempt),
                move |sent, total| progress.progress(sent, total),
            )
            .await
        }
    }
}

/// OS-owned transfers: handed to the `os` host; outcomes come back through
/// `Engine::report_transfer`, also after a relaunch.
pub struct OsTransport {
    shared: Shared,
}

struct HandedOver {
    shared: Shared,
    upload_id: String,
    attempt: Attempt,
}

impl Drop for HandedOver {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        // A kill of the app does not cancel the OS's transfers.
        if !state.app_dying {
            state.os_jobs.push_back(OsJob::Cancel {
                upload_id: self.upload_id.clone(),
                attempt: self.attempt,
            });
        }
    }
}

impl Transport for OsTransport {
    fn check_file(&self, path: &str) -> FileCheck {
        self.shared.check_file(path)
    }

    fn run(
        &self,
        request: UploadRequest,
        attempt: Attempt,
        _progress: ProgressSink,
    ) -> impl Future<Output = TransferReport> + Send + 'static {
        let shared = self.shared.clone();
        async move {
            let upload_id = request.id.as_str().to_owned();
            shared
                .lock()
                .os_jobs
                .push_back(OsJob::Start { request, attempt });
            let _handed_over = HandedOver {
                shared: shared.clone(),
                upload_id,
                attempt,
            };
            // The outcome arrives through `report_transfer`.
            std::future::pending().await
        }
    }

    fn cancel_elsewhere(&self, upload_id: &bgupload_fsm::UploadId, attempt: Attempt) {
        self.shared.lock().os_jobs.push_back(OsJob::Cancel {
            upload_id: upload_id.as_str().to_owned(),
            attempt,
        });
    }
}

/// The `os` host: runs handed-over transfers to their end.
pub async fn os_host(shared: Shared) -> turmoil::Result {
    let mut running: BTreeMap<(String, Attempt), tokio::task::JoinHandle<()>> = BTreeMap::new();
    loop {
        let jobs: Vec<OsJob> = shared.lock().os_jobs.drain(..).collect();
        for job in jobs {
            match job {
                OsJob::Start { request, attempt } => {
                    let key = (request.id.as_str().to_owned(), attempt);
                    let task_shared = shared.clone();
                    shared.lock().os_transfers.insert(key.clone());
                    let task_key = key.clone();
                    let handle = tokio::spawn(async move {
                        let file = task_shared.file_bytes(&request.file_path);
                        let progress_shared = task_shared.clone();
                        let upload_id = request.id.clone();
                        let report = wire::send(
                            &request,
                            file,
                            boundary_seed(&request, attempt),
                            move |sent, total| {
                                let mut state = progress_shared.lock();
                                if state.os_reports.len() < MAX_OS_REPORTS {
                                    state.os_reports.push_back(AttemptReport {
                                        upload_id: upload_id.clone(),
                                        attempt,
                                        report: TransferReport::Progress { sent, total },
                                    });
                                }
                            },
                        )
                        .await;
                        let mut state = task_shared.lock();
                        state.os_transfers.remove(&task_key);
                        state.os_reports.push_back(AttemptReport {
                            upload_id: request.id.clone(),
                            attempt,
                            report,
                        });
                    });
                    if let Some(old) = running.insert(key, handle) {
                        old.abort();
                    }
                }
                OsJob::Cancel { upload_id, attempt } => {
                    let key = (upload_id, attempt);
                    if let Some(handle) = running.remove(&key) {
                        handle.abort();
                    }
                    shared.lock().os_transfers.remove(&key);
                }
            }
        }
        running.retain(|_, handle| !handle.is_finished());
        tokio::time::sleep(Duration::from_millis(crate::scenario::TICK_MILLIS)).await;
    }
}

fn app_config(scenario: &Scenario) -> Config {
    Config {
        parallel_uploads_limit: scenario.parallel_limit,
        retry: RetryPolicy {
            max_attempts: 1_000,
            initial_backoff_millis: 200,
            max_backoff_millis: 10_000,
        },
        progress: ProgressThrottle::default(),
        ..Config::default()
    }
}

fn payload(id: &str, path: &str, choices: StartChoices) -> UploadPayload {
    UploadPayload {
        status_policy: choices.standard.then_some(StatusPolicy::Standard),
        idempotency_key: Some(choices.keyed),
        network: choices.unmetered.then_some(NetworkRequirement::Unmetered),
        id: Some(id.to_owned()),
        file_path: Some(path.to_owned()),
        server_url: Some(format!("http://{}/upload", wire::SERVER_HOST)),
        headers: vec![
            (UPLOAD_ID_HEADER.to_owned(), id.to_owned()),
            (wire::START_HEADER.to_owned(), choices.nonce.to_string()),
        ],
        parameters: vec![("album".to_owned(), "sim".to_owned())],
        ..UploadPayload::default()
    }
}

/// The `app` host: one incarnation of the app process.
pub async fn app_host(shared: Shared) -> turmoil::Result {
    let incarnation = {
        let mut state = shared.lock();
        state.incarnation += 1;
        state.app_dying = false;
        state.needs_restart = None;
        state.incarnation
    };
    let scenario = shared.scenario.clone();
    let mut machine = Options::new(scenario.seed ^ incarnation.rotate_left(32));
    machine.ownership = match scenario.mode {
        Mode::Engine => TransferOwnership::Engine,
        Mode::Os => TransferOwnership::Os,
    };
    machine.limits.reconcile_timeout_millis = 60_000;
    let options = EngineOptions {
        machine,
        store_calls: StoreCalls::Inline,
    };
    let store = Arc::new(shared.store.clone());
    let started = match scenario.mode {
        Mode::Engine => {
            let transport = Arc::new(AppTransport {
                shared: shared.clone(),
            });
            Engine::start(store, transport, options).await
        }
        Mode::Os => {
            let transport = Arc::new(OsTransport {
                shared: shared.clone(),
            });
            Engine::start(store, transport, options).await
        }
    };
    let (engine, driver) = match started {
        Ok(pair) => pair,
        Err(error) => {
            shared.lock().needs_restart = Some(format!("engine did not start: {error}"));
            return idle().await;
        }
    };
    let inbox: Arc<Mutex<VecDeque<Event>>> = Arc::default();
    init(&shared, &engine, &inbox).await;

    // The app looks at what it was handed after a reaction delay.
    tokio::spawn(consume(shared.clone(), engine.clone(), inbox.clone()));
    if scenario.mode == Mode::Os {
        tokio::spawn(forward_os_reports(shared.clone(), engine.clone()));
    }
    let mut final_init_done = false;
    let mut network_told = NetworkState::UNMETERED;
    loop {
        let network = {
            let state = shared.lock();
            NetworkState {
                reachable: state.network_reachable,
                metered: state.network_metered,
            }
        };
        if network != network_told {
            network_told = network;
            let _ = engine.set_network(network).await;
        }
        if !final_init_done && shared.lock().final_phase {
            // Re-delivery of everything stored, to acknowledge it all, and
            // every pause resumed (a kill may have lost a resume).
            final_init_done = true;
            init(&shared, &engine, &inbox).await;
            let paused: Vec<String> = shared.lock().paused_ever.iter().cloned().collect();
            for id in paused {
                let _ = engine.resume_upload(&id).await;
            }
        }
        if driver.is_finished() {
            shared.lock().needs_restart = Some("the driver stopped".to_owned());
            return idle().await;
        }
        let now = elapsed_millis();
        let due: Vec<Command> = {
            let mut state = shared.lock();
            let mut due = Vec::new();
            while let Some((at, command)) = scenario.plan.get(state.next_command) {
                if *at > now {
                    break;
                }
                due.push(command.clone());
                state.next_command += 1;
            }
            due
        };
        for command in due {
            tokio::spawn(issue(
                shared.clone(),
                engine.clone(),
                inbox.clone(),
                command,
            ));
        }
        tokio::time::sleep(APP_POLL).await;
    }
}

async fn idle() -> turmoil::Result {
    loop {
        tokio::time::sleep(Duration::from_secs(3_600)).await;
    }
}

/// Milliseconds since the simulation started (turmoil's clock).
pub fn elapsed_millis() -> u64 {
    bgupload_fsm::Time::from_duration(turmoil::elapsed()).as_millis()
}

async fn init(shared: &Shared, engine: &Engine, inbox: &Arc<Mutex<VecDeque<Event>>>) {
    let sink_shared = shared.clone();
    let sink_inbox = inbox.clone();
    let sink = Box::new(move |event: Event| {
        // The callback: the engine hands the event to the app here.
        let durable = sink_shared.durable();
        let mut state = sink_shared.lock();
        state.checker.delivered(&event, &durable);
        if matches!(event, Event::Terminal(_)) {
            state.terminal_in_inbox += 1;
        }
        drop(state);
        if let Ok(mut inbox) = sink_inbox.lock() {
            inbox.push_back(event);
        }
    });
    let _ = engine.init(app_config(&shared.scenario), sink).await;
}

async fn issue(
    shared: Shared,
    engine: Engine,
    inbox: Arc<Mutex<VecDeque<Event>>>,
    command: Command,
) {
    match command {
        Command::Start { id, path, choices } => {
            let result = engine.start_upload(payload(&id, &path, choices)).await;
            let durable = shared.durable();
            let mut state = shared.lock();
            match result {
                Ok(()) => state.checker.accepted(&id, &durable),
                Err(CommandError::Rejected(rejection)) => {
                    let missing = shared.scenario.file(&path).is_none();
                    if missing && !rejection.error.starts_with("File not found: ") {
                        let text = format!(
                            "a missing file was refused with {:?}, not \"File not found\"",
                            rejection.error
                        );
                        state.checker.violations.push(text);
                    }
                }
                // Not known to be stored: the checker expects nothing of it,
                // but if the store kept it after all, it runs and ends.
                Err(CommandError::StoreFailed(_)) => state.checker.start_unknown(&id),
                Err(CommandError::Stopped(_)) => {}
            }
        }
        Command::Remove { id } => {
            shared.lock().checker.removed.insert(id.clone());
            let _ = engine.remove_upload(&id).await;
        }
        Command::Pause { id } => {
            shared.lock().paused_ever.insert(id.clone());
            let _ = engine.pause_upload(&id).await;
        }
        Command::Resume { id } => {
            let _ = engine.resume_upload(&id).await;
        }
        Command::ReInit => init(&shared, &engine, &inbox).await,
        Command::Network { reachable } => {
            let network = NetworkState {
                reachable,
                metered: false,
            };
            let _ = engine.set_network(network).await;
        }
    }
}

async fn consume(shared: Shared, engine: Engine, inbox: Arc<Mutex<VecDeque<Event>>>) {
    let reaction = Duration::from_millis(shared.scenario.app_reaction_millis);
    loop {
        tokio::time::sleep(reaction).await;
        let events: Vec<Event> = match inbox.lock() {
            Ok(mut inbox) => inbox.drain(..).collect(),
            Err(_) => return,
        };
        for event in events {
            let acknowledge = {
                let mut state = shared.lock();
                let file = match &event {
                    Event::Terminal(terminal) => shared.expected_file(terminal.upload_id.as_str()),
                    _ => None,
                };
                let server = shared.server_log();
                state.checker.consumed(&event, &server, file.as_deref());
                if matches!(event, Event::Terminal(_)) {
                    state.terminal_in_inbox = state.terminal_in_inbox.saturating_sub(1);
                }
                drop(server);
                let ack_rate = shared.scenario.ack_rate;
                let final_phase = state.final_phase;
                match &event {
                    Event::Terminal(terminal) if final_phase || state.app_rng.chance(ack_rate) => {
                        Some(terminal.event_id)
                    }
                    _ => None,
                }
            };
            if let Some(event_id) = acknowledge {
                let shared = shared.clone();
                let engine = engine.clone();
                shared.lock().acks_in_flight += 1;
                tokio::spawn(async move {
                    let result = engine.acknowledge_event(event_id).await;
                    let durable = shared.durable();
                    let mut state = shared.lock();
                    state.acks_in_flight = state.acks_in_flight.saturating_sub(1);
                    match result {
                        Ok(()) => state.checker.acknowledged(event_id, &durable),
                        // The deletion may have become durable all the same
                        // (the reopened store kept it); the app asked.
                        Err(CommandError::StoreFailed(_)) => {
                            state.checker.acknowledgement_unknown(event_id);
                        }
                        Err(_) => {}
                    }
                });
            }
        }
    }
}

async fn forward_os_reports(shared: Shared, engine: Engine) {
    loop {
        let reports: Vec<AttemptReport> = shared.lock().os_reports.drain(..).collect();
        for report in reports {
            if engine.report_transfer(report).await.is_err() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(crate::scenario::TICK_MILLIS)).await;
    }
}
