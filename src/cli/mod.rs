//! Argument parsing, logging, the runtime and the dispatch to one command
//! module each: [`queue`] (add, list, events, ack, remove), [`run`],
//! [`serve`] and [`demo`]. Shared pieces: [`engine`] (opening the queue and
//! starting an engine on it) and [`display`] (bars and event lines).

/// `println!` that ends the process quietly when stdout is gone (a closed
/// pipe, as with `bgupload events | head`) instead of panicking. Ending
/// anywhere is safe: the engine is built to survive a kill.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::write_stdout_line(::std::format_args!($($arg)*))
    };
}

mod demo;
mod display;
mod engine;
mod queue;
mod run;
mod serve;

use clap::{Args, Parser, Subcommand, ValueEnum};
use queue::UploadChange;
use std::fmt::Display;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Reliable background file uploads: queue files, send them, survive kills.
#[derive(Debug, Parser)]
#[command(name = "bgupload", version, about, long_about = None)]
struct Cli {
    /// Directory of the upload queue [default: <user data dir>/bgupload]
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Queue files for upload (nothing is sent until `bgupload run`); prints one id per file
    Add(AddArgs),
    /// Send every queued upload, show progress and results, acknowledge them
    Run(RunArgs),
    /// List the queued uploads that have not ended yet, with their state
    List {
        /// As one JSON object: {"uploads": [...], "unacknowledgedEvents": N} (as getUploads)
        #[arg(long)]
        json: bool,
    },
    /// List the results (events) not acknowledged yet, without acknowledging them
    Events {
        /// One JSON object per line, with the reference plugin's field names
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge an event: it is deleted and never delivered again
    Ack {
        /// The event's eventId (as events show it: "7")
        event_id: String,
    },
    /// Cancel an upload: it ends as FAILED with errorCode -999 (kept as an event)
    Remove {
        /// The upload's id
        id: String,
    },
    /// Pause an upload: no attempt until `bgupload resume` (it survives restarts; no event)
    Pause {
        /// The upload's id
        id: String,
    },
    /// Queue a paused upload again (a multipart upload starts from its first byte)
    Resume {
        /// The upload's id
        id: String,
    },
    /// Replace an upload's headers for every later attempt (a fresh token, say)
    UpdateHeaders {
        /// The upload's id
        id: String,
        /// An HTTP request header (all of them: the old ones are replaced)
        #[arg(long = "header", value_name = "'NAME: VALUE'", value_parser = parse_header)]
        headers: Vec<(String, String)>,
    },
    /// Run the embedded upload receiver until Ctrl-C
    Serve(ServeArgs),
    /// Show the engine at work on 127.0.0.1: uploads, a kill, a relaunch, verification
    Demo,
}

#[derive(Debug, Args)]
struct AddArgs {
    /// The files to upload (queued in one batch, one fsync per group of them)
    #[arg(required_unless_present = "recursive")]
    files: Vec<PathBuf>,
    /// Also every regular file under this directory (symbolic links are not followed)
    #[arg(long, value_name = "DIR")]
    recursive: Option<PathBuf>,
    /// The server URL the file is sent to
    #[arg(long, value_name = "URL")]
    url: String,
    /// A multipart text field, sent before the file, in the order given
    #[arg(long = "field", value_name = "NAME=VALUE", value_parser = parse_field)]
    fields: Vec<(String, String)>,
    /// An HTTP request header
    #[arg(long = "header", value_name = "'NAME: VALUE'", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// The HTTP method
    #[arg(long, value_enum, ignore_case = true, default_value_t = HttpMethod::Post)]
    method: HttpMethod,
    /// Send the file bytes as the whole body instead of multipart/form-data
    #[arg(long)]
    raw: bool,
    /// The upload's id, with one file: any text up to 1024 bytes, no control characters [default: a new random UUID]
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// Name of the multipart file part [default: file]
    #[arg(long, value_name = "KEY")]
    file_key: Option<String>,
    /// Which answers count as uploaded: any (the reference's rule) or standard (2xx; 408, 425, 429, 5xx retried) [default: the queue's]
    #[arg(long, value_enum)]
    status_policy: Option<StatusPolicyArg>,
    /// Send an Idempotency-Key header, the same on every attempt, so the server can drop duplicates
    #[arg(long)]
    idempotency_key: bool,
    /// Which networks the upload may use: any, or unmetered only [default: any]
    #[arg(long, value_enum)]
    network: Option<NetworkArg>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StatusPolicyArg {
    Any,
    Standard,
}

impl StatusPolicyArg {
    pub fn policy(self) -> bgupload_fsm::StatusPolicy {
        match self {
            StatusPolicyArg::Any => bgupload_fsm::StatusPolicy::Any,
            StatusPolicyArg::Standard => bgupload_fsm::StatusPolicy::Standard,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum NetworkArg {
    Any,
    Unmetered,
}

impl NetworkArg {
    pub fn requirement(self) -> bgupload_fsm::NetworkRequirement {
        match self {
            NetworkArg::Any => bgupload_fsm::NetworkRequirement::Any,
            NetworkArg::Unmetered => bgupload_fsm::NetworkRequirement::Unmetered,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum HttpMethod {
    Post,
    Put,
}

impl HttpMethod {
    fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
        }
    }
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Uploads in flight at most (parallelUploadsLimit)
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(bgupload_fsm::MAX_PARALLEL_UPLOADS_LIMIT)))]
    parallel: u32,
    /// Print every event as one JSON object per line instead of progress bars
    #[arg(long)]
    json: bool,
    /// Attempts per upload that may fail with a network error before it is FAILED
    #[arg(long, value_name = "N", default_value_t = bgupload_fsm::RetryPolicy::default().max_attempts,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(bgupload_fsm::MAX_RETRY_ATTEMPTS)))]
    max_attempts: u32,
    /// Wait before the second attempt, in milliseconds; doubles after each failure
    #[arg(long, value_name = "MS", default_value_t = bgupload_fsm::RetryPolicy::default().initial_backoff_millis)]
    retry_backoff_ms: u64,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Directory the received files are stored in (created if missing)
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Port to listen on (0: any free port)
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Read each request body no faster than this many bytes per second
    #[arg(long, value_name = "BYTES_PER_SEC")]
    throttle: Option<u64>,
    /// Refuse request bodies larger than this (413)
    #[arg(long, value_name = "BYTES", default_value_t = bgupload::receiver::DEFAULT_SERVE_MAX_BODY_BYTES)]
    max_body_bytes: u64,
}

/// `--field NAME=VALUE`.
fn parse_field(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err("expected NAME=VALUE with a non-empty NAME, e.g. --field title=holidays".into()),
    }
}

/// `--header 'NAME: VALUE'`.
fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() && !name.contains(char::is_whitespace) => {
            Ok((name.to_owned(), value.trim().to_owned()))
        }
        _ => Err(
            "expected 'NAME: VALUE' with a NAME without spaces, e.g. --header 'Authorization: Bearer x'"
                .into(),
        ),
    }
}

/// A failure to report on stderr (`bgupload: <message>`, exit status 1).
#[derive(Debug)]
pub struct CliError {
    message: String,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
        }
    }
}

/// `anyhow`-style context for any displayable error.
pub trait Context<T> {
    fn context(self, what: impl Display) -> Result<T, CliError>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn context(self, what: impl Display) -> Result<T, CliError> {
        self.map_err(|error| CliError::new(format!("{what}: {error}")))
    }
}

pub type CliResult<T> = Result<T, CliError>;

/// Exit status of a command that ran but whose outcome was a failure (an
/// upload FAILED, a refusal, a demo check that did not hold).
pub const EXIT_FAILED: u8 = 1;
/// Exit status after Ctrl-C.
pub const EXIT_INTERRUPTED: u8 = 130;
/// Exit status when stdout was closed under us (as after SIGPIPE).
pub const EXIT_STDOUT_CLOSED: i32 = 141;

/// Temporary directories to remove if the process ends early (see
/// [`write_stdout_line`]); the demo registers its own.
pub static REMOVE_ON_EARLY_EXIT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Writes one line to stdout, its control characters escaped (file names,
/// ids and server text come from outside: a CR/LF must not split a line,
/// an ESC must not reach the terminal); exits when stdout is closed. See
/// [`out!`].
pub fn write_stdout_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let line = display::escaped(&line.to_string());
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        let leftovers = REMOVE_ON_EARLY_EXIT
            .lock()
            .map(|paths| paths.clone())
            .unwrap_or_default();
        for path in leftovers {
            let _ = std::fs::remove_dir_all(path);
        }
        std::process::exit(EXIT_STDOUT_CLOSED);
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("bgupload: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let outcome = runtime.block_on(dispatch(cli));
    // Leftover blocking calls (a store sync) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("bgupload: {}", display::escaped(&error.message));
            ExitCode::from(EXIT_FAILED)
        }
    }
}

async fn dispatch(cli: Cli) -> CliResult<ExitCode> {
    let data_dir = || match &cli.data_dir {
        Some(dir) => Ok(dir.clone()),
        None => default_data_dir(),
    };
    match cli.command {
        Command::Add(args) => queue::add(&data_dir()?, args).await,
        Command::Run(args) => run::run(&data_dir()?, args).await,
        Command::List { json } => queue::list(&data_dir()?, json),
        Command::Events { json } => queue::events(&data_dir()?, json).await,
        Command::Ack { event_id } => queue::ack(&data_dir()?, &event_id).await,
        Command::Remove { ref id } => queue::remove(&data_dir()?, id).await,
        Command::Pause { ref id } => queue::change(&data_dir()?, id, UploadChange::Pause).await,
        Command::Resume { ref id } => queue::change(&data_dir()?, id, UploadChange::Resume).await,
        Command::UpdateHeaders { ref id, headers } => {
            queue::change(&data_dir()?, id, UploadChange::Headers(headers)).await
        }
        Command::Serve(args) => serve::serve(args).await,
        Command::Demo => demo::demo().await,
    }
}

/// Ctrl-C as a future, with its handler installed now: tokio installs it
/// only at the first poll, and a Ctrl-C before that would kill the process
/// instead of stopping it cleanly.
pub async fn listen_for_ctrl_c() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
{
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    match futures_util::poll!(ctrl_c.as_mut()) {
        std::task::Poll::Pending => Box::pin(async move {
            let _ = ctrl_c.await;
        }),
        std::task::Poll::Ready(Ok(())) => Box::pin(std::future::ready(())),
        std::task::Poll::Ready(Err(error)) => {
            tracing::warn!(%error, "Ctrl-C cannot be caught");
            Box::pin(std::future::pending())
        }
    }
}

fn default_data_dir() -> CliResult<PathBuf> {
    dirs::data_dir()
        .map(|dir| dir.join("bgupload"))
        .ok_or_else(|| CliError::new("cannot find the user data directory; pass --data-dir DIR"))
}

/// Logs to stderr, filtered by `RUST_LOG`. Without it: errors, and the
/// driver's warnings (a full disk, a reopened store); not the storage
/// engine's own lines, whose failures reach the user as the driver's.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("error,bgupload_io=warn,fjall=off,lsm_tree=off")
    });
    let _already_set = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn arguments_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn fields_and_headers_parse() {
        assert_eq!(parse_field("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(parse_field("a=").unwrap(), ("a".into(), String::new()));
        assert!(parse_field("=b").is_err());
        assert!(parse_field("ab").is_err());
        assert_eq!(
            parse_header("X-Key:  v:1 ").unwrap(),
            ("X-Key".into(), "v:1".into())
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: v").is_err());
        assert!(parse_header(": v").is_err());
    }
}
