//! The one engine of the process, host-independent: Android's JNI exports
//! and iOS's bridge are thin wrappers over these functions.
//!
//! - [`open`] / [`open_os_owned`] start the engine: a tokio multi-thread
//!   runtime on its own threads, the driver with a [`FjallStore`] under the
//!   host's data directory, and the event delivery thread. Uploads left
//!   from an earlier run resume at once (or, OS-owned, wait for the host's
//!   report).
//! - [`init`] registers the event callback (replacing any earlier one) and
//!   the configuration; [`destroy`] unregisters it.
//! - [`start_upload`], [`remove_upload`], [`acknowledge_event`] are the app
//!   commands; they need `init` first. Each returns once the engine has
//!   answered (durably, where it changed anything).
//! - [`set_network_reachable`], [`report_transfer`] come from the host.
//! - [`close`] stops the engine; it may be opened again.
//!
//! Every function catches panics, answers within [`COMMAND_TIMEOUT`], and
//! returns a clear [`FfiError`] rather than failing silently.

use crate::delivery::{Delivery, Droppable, EventCallback};
use crate::error::{FfiError, catch_panic};
use crate::host_transfer::{HostTransport, Routed, TransferHost};
use crate::json;
use bgupload_fsm::{
    Event, Limits, NetworkState, Options, TransferOwnership, TransferReport, UploadId,
};
use bgupload_io::driver::DriverTask;
use bgupload_io::{
    CommandError, Engine, EngineOptions, EventSink, HttpConfig, HttpTransport, StoreCalls,
    event_to_json,
};
use bgupload_persistence::FjallStore;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::runtime::Runtime;

/// Worker threads of the engine's runtime.
pub const RUNTIME_WORKER_THREADS: usize = 2;
/// Threads for blocking work (store syncs, writing OS-owned request bodies).
pub const MAX_BLOCKING_THREADS: usize = 4;
/// Longest wait for the engine to answer one command.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest wait for the engine to stop in [`close`].
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// Subdirectory of the data directory holding the store.
pub const STORE_DIR: &str = "store";
const RUNTIME_THREAD_NAME: &str = "bgupload-runtime";

static ENGINE: Mutex<Option<Running>> = Mutex::new(None);

/// The open engine.
struct Running {
    data_dir: PathBuf,
    runtime: Runtime,
    engine: Engine,
    driver: DriverTask,
    delivery: Arc<Delivery>,
    host: Option<HostTransport>,
    initialised: bool,
}

/// What a command needs, taken out of the global so that no lock is held
/// while it waits (a callback may call in meanwhile).
struct Handles {
    runtime: tokio::runtime::Handle,
    engine: Engine,
    delivery: Arc<Delivery>,
    host: Option<HostTransport>,
}

fn lock_engine() -> MutexGuard<'static, Option<Running>> {
    // Every update of the global is a single assignment: a panic elsewhere
    // cannot leave it half-changed.
    ENGINE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Refuses calls from the engine's own runtime threads, where blocking on
/// the engine would deadlock (a `TransferHost` must not call back
/// synchronously).
fn refuse_inside_runtime() -> Result<(), FfiError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(FfiError::InvalidArgument(
            "the upload engine cannot be called from its own threads (or any tokio runtime); \
             call it from a host thread"
                .to_owned(),
        ));
    }
    Ok(())
}

fn handles(require_init: bool) -> Result<Handles, FfiError> {
    refuse_inside_runtime()?;
    let global = lock_engine();
    let running = global.as_ref().ok_or(FfiError::NotOpen)?;
    if require_init && !running.initialised {
        return Err(FfiError::NotInitialised);
    }
    Ok(Handles {
        runtime: running.runtime.handle().clone(),
        engine: running.engine.clone(),
        delivery: running.delivery.clone(),
        host: running.host.clone(),
    })
}

/// Runs one engine command to its answer, within [`COMMAND_TIMEOUT`].
fn run<T>(
    handles: &Handles,
    command: impl Future<Output = Result<T, CommandError>>,
) -> Result<T, FfiError> {
    let answer = handles
        .runtime
        .block_on(async { tokio::time::timeout(COMMAND_TIMEOUT, command).await });
    match answer {
        Ok(result) => result.map_err(FfiError::from),
        Err(_) => Err(FfiError::Stopped(format!(
            "the upload engine did not answer within {} s; it is not known whether the command took effect",
            COMMAND_TIMEOUT.as_secs()
        ))),
    }
}

/// Opens the engine on `data_dir` (created if missing; the store lives in
/// `data_dir/store`), with transfers run by the engine over HTTP (Android,
/// desktop). `options_json`: see [`json::open_options`]. Opening again on
/// the same directory is a no-op; on another one, an error.
pub fn open(data_dir: Option<&str>, options_json: Option<&str>) -> Result<(), FfiError> {
    catch_panic(|| open_with(data_dir, options_json, None))
}

/// Opens the engine with transfers owned by the OS (iOS): `host` runs each
/// attempt from a body file under `data_dir/transfers` and reports back
/// through [`report_transfer`], also after a relaunch.
pub fn open_os_owned(
    data_dir: Option<&str>,
    options_json: Option<&str>,
    host: Arc<dyn TransferHost>,
) -> Result<(), FfiError> {
    catch_panic(|| open_with(data_dir, options_json, Some(host)))
}

fn open_with(
    data_dir: Option<&str>,
    options_json: Option<&str>,
    host: Option<Arc<dyn TransferHost>>,
) -> Result<(), FfiError> {
    refuse_inside_runtime()?;
    let data_dir = match data_dir {
        None | Some("") => {
            return Err(FfiError::InvalidArgument("dataDir is required".to_owned()));
        }
        Some(dir) => PathBuf::from(dir),
    };
    let options = json::open_options(options_json)?;
    let mut global = lock_engine();
    if let Some(running) = global.as_ref() {
        if running.data_dir == data_dir && running.host.is_some() == host.is_some() {
            return Ok(());
        }
        return Err(FfiError::AlreadyOpen(
            running.data_dir.display().to_string(),
        ));
    }
    let open_error =
        |what: &str, error: &dyn std::fmt::Display| FfiError::Open(format!("{what}: {error}"));
    std::fs::create_dir_all(&data_dir)
        .map_err(|error| open_error(&format!("creating {}", data_dir.display()), &error))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(RUNTIME_WORKER_THREADS)
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .thread_name(RUNTIME_THREAD_NAME)
        .enable_all()
        .build()
        .map_err(|error| open_error("starting the runtime", &error))?;
    let store = Arc::new(
        FjallStore::open(&data_dir.join(STORE_DIR))
            .map_err(|error| open_error("opening the store", &error))?,
    );
    let limits = Limits::default();
    let machine = Options {
        seed: options.seed.unwrap_or_else(bgupload_io::fresh_seed),
        ownership: if host.is_some() {
            TransferOwnership::Os
        } else {
            TransferOwnership::Engine
        },
        limits,
        network: NetworkState {
            reachable: options.network_reachable,
            metered: options.network_metered,
        },
    };
    let engine_options = EngineOptions {
        machine,
        store_calls: StoreCalls::Blocking,
    };
    let (engine, driver, host_transport) = match host {
        None => {
            let _context = runtime.enter();
            let transport = HttpTransport::new(HttpConfig {
                connect_timeout: options.connect_timeout,
                read_timeout: options.read_timeout,
                response_timeout: options.response_timeout,
                attempt_timeout: options.attempt_timeout,
                max_response_bytes: limits.max_response_bytes,
                ..HttpConfig::default()
            })
            .map_err(|error| open_error("starting the HTTP client", &error))?;
            let (engine, driver) = runtime
                .block_on(Engine::start(store, Arc::new(transport), engine_options))
                .map_err(|error| open_error("starting the engine", &error))?;
            (engine, driver, None)
        }
        Some(host) => {
            let transport = HostTransport::new(host, &data_dir, limits.max_response_bytes)
                .map_err(|error| open_error("preparing the transfers directory", &error))?;
            let (engine, driver) = runtime
                .block_on(Engine::start(
                    store,
                    Arc::new(transport.clone()),
                    engine_options,
                ))
                .map_err(|error| open_error("starting the engine", &error))?;
            (engine, driver, Some(transport))
        }
    };
    let delivery =
        Delivery::start().map_err(|error| open_error("starting the event thread", &error))?;
    *global = Some(Running {
        data_dir,
        runtime,
        engine,
        driver,
        delivery: Arc::new(delivery),
        host: host_transport,
        initialised: false,
    });
    Ok(())
}

/// `init(config, callback)`: `callback` receives every later event as the
/// reference plugin's JSON object text, on the delivery thread, starting
/// with every unacknowledged terminal event. It replaces (and releases) any
/// earlier callback.
pub fn init(config_json: Option<&str>, callback: EventCallback) -> Result<(), FfiError> {
    catch_panic(|| {
        let config = json::config(config_json)?;
        let handles = handles(false)?;
        // The machine decides when this callback takes over (and whether:
        // a refused init keeps the one there was).
        let generation = handles.delivery.offer(callback);
        let queue = handles.delivery.queue();
        let sink: EventSink = Box::new(move |event: Event| {
            let droppable = match event {
                Event::Progress { .. } => Droppable::Progress,
                Event::Terminal(_) | Event::Rejected(_) => Droppable::Never,
            };
            queue.push(generation, event_to_json(&event).to_string(), droppable);
        });
        if let Err(error) = run(&handles, handles.engine.init(config, sink)) {
            handles.delivery.withdraw(generation);
            return Err(error);
        }
        handles.delivery.confirm(generation);
        if let Some(running) = lock_engine().as_mut() {
            running.initialised = true;
        }
        Ok(())
    })
}

/// `startUpload(payload)`: returns once the upload is durable. A refusal is
/// returned and also reaches the callback as a FAILED event without
/// `eventId` (once: the engine sends the ones it decides, this layer the
/// ones it finds decoding the JSON).
pub fn start_upload(payload_json: Option<&str>) -> Result<(), FfiError> {
    catch_panic(|| {
        let handles = handles(true)?;
        let payload = match json::upload_payload(payload_json) {
            Ok(payload) => payload,
            Err(refused) => {
                let message = refused.error.clone();
                let event = Event::Rejected(refused);
                handles
                    .delivery
                    .push_to_current(event_to_json(&event).to_string());
                return Err(FfiError::Rejected(message));
            }
        };
        run(&handles, handles.engine.start_upload(payload))
    })
}

/// `removeUpload(id)`: cancels the upload (FAILED -999); an unknown id
/// succeeds.
pub fn remove_upload(upload_id: Option<&str>) -> Result<(), FfiError> {
    catch_panic(|| {
        let handles = handles(true)?;
        let upload_id = json::upload_id(upload_id)?;
        run(&handles, handles.engine.remove_upload(&upload_id))
    })
}

/// `acknowledgeEvent(eventId)`: the event is never delivered again once
/// this returns. Any non-empty id is taken; one this engine never issued
/// succeeds and changes nothing.
pub fn acknowledge_event(event_id: Option<&str>) -> Result<(), FfiError> {
    catch_panic(|| {
        let handles = handles(true)?;
        match json::event_id(event_id)? {
            Some(event_id) => run(&handles, handles.engine.acknowledge_event(event_id)),
            None => Ok(()),
        }
    })
}

/// `pauseUpload(id)`: the attempt stops and the upload waits, across
/// relaunches, until `resumeUpload`; no event. An unknown id succeeds.
pub fn pause_upload(upload_id: Option<&str>) -> Result<(), FfiError> {
    catch_panic(|| {
        let handles = handles(true)?;
        let upload_id = json::upload_id(upload_id)?;
        run(&handles, handles.engine.pause_upload(&upload_id))
    })
}

/// `resumeUpload(id)`: a paused upload is queued again. An unknown id
/// succeeds.
pub fn resume_upload(upload_id: Option<&str>) -> Result<(), FfiError> {
    catch_panic(|| {
        let handles = handles(true)?;
        let upload_id = json::upload_id(upload_id)?;
        run(&handles, handles.engine.resume_upload(&upload_id))
    })
}

/// `updateHeaders(id, headers)`: every later attempt sends `headers_json`
/// (an object) instead; durable before it returns. Refused for an upload
/// that is not in progress.
pub fn update_headers(upload_id: Option<&str>, headers_json: Option<&str>) -> Result<(), FfiError> {
    catch_panic(|| {
        let handles = handles(true)?;
        let upload_id = json::upload_id(upload_id)?;
        let headers = json::headers(headers_json)?;
        run(&handles, handles.engine.update_headers(&upload_id, headers))
    })
}

/// `getUploads()`: `{"uploads": [...], "unacknowledgedEvents": n}` as
/// JSON text (see [`bgupload_io::listing`]).
pub fn get_uploads() -> Result<String, FfiError> {
    catch_panic(|| {
        let handles = handles(true)?;
        let listing = run(&handles, handles.engine.uploads())?;
        Ok(listing.to_json().to_string())
    })
}

/// [`get_uploads`] as the mobile hosts take it, one text either way: the
/// listing, or `{"error": message}` (a listing has no `error` field).
pub fn get_uploads_answer() -> String {
    get_uploads()
        .unwrap_or_else(|error| serde_json::json!({ "error": error.to_string() }).to_string())
}

/// `destroy()`: the callback is released and called no more; uploads go on.
pub fn destroy() -> Result<(), FfiError> {
    catch_panic(|| {
        let handles = handles(false)?;
        handles.delivery.detach();
        run(&handles, handles.engine.destroy())
    })
}

/// The host's network reachability changed (an unmetered network).
pub fn set_network_reachable(reachable: bool) -> Result<(), FfiError> {
    set_network(reachable, false)
}

/// The host's view of the network changed: reachable, and metered
/// (cellular, a hotspot: Android's missing `NET_CAPABILITY_NOT_METERED`,
/// iOS's `isExpensive`).
pub fn set_network(reachable: bool, metered: bool) -> Result<(), FfiError> {
    catch_panic(|| {
        let handles = handles(false)?;
        let network = NetworkState { reachable, metered };
        run(&handles, handles.engine.set_network(network))
    })
}

/// A report from the host on an OS-owned transfer it was asked to run,
/// possibly before a relaunch (call [`open_os_owned`] first).
pub fn report_transfer(
    upload_id: &str,
    attempt: u32,
    report: TransferReport,
) -> Result<(), FfiError> {
    catch_panic(|| {
        let handles = handles(false)?;
        let host = handles.host.as_ref().ok_or(FfiError::NotOsOwned)?;
        let upload_id = UploadId::parse(upload_id)
            .map_err(|error| FfiError::InvalidArgument(format!("uploadId: {error}")))?;
        match host.report(upload_id, bgupload_fsm::Attempt(attempt), report) {
            Routed::Delivered => Ok(()),
            Routed::ToEngine(report) => run(&handles, handles.engine.report_transfer(report)),
        }
    })
}

/// Stops the engine: the callback is released, engine-owned transfers stop
/// (they restart on the next open), OS-owned ones go on with the OS.
/// Everything accepted stays stored. Closing a closed engine succeeds.
pub fn close() -> Result<(), FfiError> {
    catch_panic(|| {
        refuse_inside_runtime()?;
        let Some(running) = lock_engine().take() else {
            return Ok(());
        };
        shut_down(running)
    })
}

fn shut_down(running: Running) -> Result<(), FfiError> {
    let Running {
        runtime,
        engine,
        driver,
        delivery,
        host,
        ..
    } = running;
    delivery.detach();
    if let Some(host) = &host {
        host.keep_transfers_on_close();
    }
    let stopped = runtime.block_on(async {
        tokio::time::timeout(SHUTDOWN_TIMEOUT, async {
            engine.shutdown().await;
            // Why the driver ended no longer matters: it is closed.
            let _ = driver.await;
        })
        .await
    });
    drop(engine);
    runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
    stopped.map_err(|_| {
        FfiError::Stopped(format!(
            "the upload engine did not stop within {} s; it was abandoned",
            SHUTDOWN_TIMEOUT.as_secs()
        ))
    })
}
