//! Opening the queue in the data directory and starting an engine on it.

use super::{CliError, CliResult, Context};
use bgupload_fsm::{Config, NetworkState, Options, Recovered};
use bgupload_io::driver::DriverTask;
use bgupload_io::{CommandError, Engine, EngineOptions, HttpConfig, HttpTransport, StoreCalls};
use bgupload_persistence::{FjallStore, Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Sub-directory of the data directory that holds the store.
pub const STORE_DIR: &str = "store";

/// How long a stopping engine may take before the command gives up on it.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

pub fn store_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(STORE_DIR)
}

/// Opens (creating if needed) the queue of `data_dir`.
pub fn open_store(data_dir: &Path) -> CliResult<Arc<FjallStore>> {
    let dir = store_dir(data_dir);
    match FjallStore::open(&dir) {
        Ok(store) => Ok(Arc::new(store)),
        Err(StoreError::Locked { .. }) => Err(CliError::new(format!(
            "the upload queue in {} is in use by another bgupload process; \
             wait for it to end or pass another --data-dir",
            dir.display()
        ))),
        Err(error) => Err(CliError::new(format!(
            "cannot open the upload queue in {}: {error}",
            dir.display()
        ))),
    }
}

/// What the queue holds right now (read before an engine starts on it).
pub fn peek(store: &FjallStore) -> CliResult<Recovered> {
    store.load().context("cannot read the upload queue")
}

/// The configuration last given with `init`, or the default.
pub fn stored_config(recovered: &Recovered) -> Config {
    recovered.meta.map(|meta| meta.config).unwrap_or_default()
}

/// A running engine and its driver task.
pub struct Running {
    pub engine: Engine,
    pub task: DriverTask,
}

pub fn http_transport() -> CliResult<Arc<HttpTransport>> {
    HttpTransport::new(HttpConfig::default())
        .map(Arc::new)
        .context("cannot set up the HTTP client")
}

/// Starts an engine on `store`. With `network_reachable` false nothing is
/// sent (for commands that only change the queue).
pub async fn start(store: Arc<FjallStore>, network_reachable: bool) -> CliResult<Running> {
    let options = EngineOptions {
        machine: Options {
            network: match network_reachable {
                true => NetworkState::UNMETERED,
                false => NetworkState::UNREACHABLE,
            },
            ..Options::new(bgupload_io::fresh_seed())
        },
        store_calls: StoreCalls::Blocking,
    };
    let (engine, task) = Engine::start(store, http_transport()?, options)
        .await
        .context("cannot start the upload engine")?;
    Ok(Running { engine, task })
}

impl Running {
    /// Stops the engine and reports a storage failure that stopped it earlier.
    pub async fn stop(self) -> CliResult<()> {
        self.engine.shutdown().await;
        drop(self.engine);
        match tokio::time::timeout(SHUTDOWN_WAIT, self.task).await {
            Err(_) => Err(CliError::new("the upload engine did not stop in time")),
            Ok(Err(join_error)) => Err(CliError::new(format!(
                "the upload engine failed: {join_error}"
            ))),
            Ok(Ok(Err(engine_error))) => Err(CliError::new(format!(
                "the upload engine stopped: {engine_error}"
            ))),
            Ok(Ok(Ok(()))) => Ok(()),
        }
    }

    /// Turns a command's failure into a message; a stopped engine is asked
    /// why it stopped.
    pub async fn explain(self, what: &str, error: CommandError) -> CliError {
        match error {
            CommandError::Rejected(rejection) => CliError::new(rejection.error),
            CommandError::StoreFailed(_) => CliError::new(format!("{what}: {error}")),
            CommandError::Stopped(_) => match self.stop().await {
                Err(reason) => CliError::new(format!("{what}: {}", reason.message)),
                Ok(()) => CliError::new(format!("{what}: {error}")),
            },
        }
    }
}
