//! `bgupload-bridge DATA_DIR`: the Cordova plugin's native actions as
//! line-delimited JSON over standard input and output, so that
//! `cordova/www/FileTransferManager.js` can be tested without a device
//! (`cordova/test/`). It plays the role of the Android and iOS glue: one
//! engine, opened on `DATA_DIR` with transfers run by the engine, and the
//! same action names and arguments as `cordova.exec`.
//!
//! Input, one command per line:
//!
//! ```text
//! {"id":1,"action":"initManager","args":["{\"parallelUploadsLimit\":1}"]}
//! ```
//!
//! Actions (arguments are JSON texts or ids, as the plugin's JS sends them):
//! `initManager [configJson]`, `startUpload [payloadJson]`,
//! `removeUpload [id]`, `acknowledgeEvent [eventId]`, `destroy []`,
//! `pauseUpload [id]`, `resumeUpload [id]`, `updateHeaders [id,
//! headersJson]`, `getUploads []` (answered `{"id":1,"ok":{listing}}`),
//! and the host's `setNetworkReachable [boolean]` and `setNetwork
//! [reachable, metered]`.
//!
//! Output, one JSON object per line, in the order they happen:
//!
//! ```text
//! {"id":1,"ok":null}             the command succeeded (getUploads: its listing)
//! {"id":1,"error":"message"}     it failed (the engine's message)
//! {"callback":1,"event":{...}}   an event for the callback of initManager command 1
//! ```
//!
//! Commands run one at a time, in order. At the end of the input the engine
//! is closed and the program exits 0; a kill leaves the store as a killed
//! app would.

use bgupload_ffi::FfiError;
use bgupload_ffi::core;
use serde::Deserialize;
use serde_json::{Value, json};
use std::io::{BufRead, Write};
use std::process::ExitCode;

const USAGE: &str =
    "usage: bgupload-bridge DATA_DIR   (commands on stdin, one JSON object per line)";

/// One command line.
#[derive(Deserialize)]
struct Command {
    id: u64,
    action: String,
    #[serde(default)]
    args: Vec<Value>,
}

/// Writes one line to standard output, whole: the command loop and the
/// event thread both write.
fn write_line(text: &str) {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe means the test driver is gone: nothing to tell it.
    let _ = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let data_dir = match (args.next(), args.next()) {
        (Some(dir), None) if !dir.starts_with('-') => dir,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = core::open(Some(&data_dir), None) {
        eprintln!("bgupload-bridge: {error}");
        return ExitCode::FAILURE;
    }
    for line in std::io::stdin().lock().lines() {
        let line = match line {
            Ok(line) => line,
            Err(error) => {
                eprintln!("bgupload-bridge: reading standard input: {error}");
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Command>(&line) {
            Ok(command) => match run(&command) {
                Ok(answer) => json!({ "id": command.id, "ok": answer }),
                Err(error) => json!({ "id": command.id, "error": error.to_string() }),
            },
            Err(error) => json!({ "id": null, "error": format!("bad command line: {error}") }),
        };
        write_line(&reply.to_string());
    }
    match core::close() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bgupload-bridge: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: &Command) -> Result<Value, FfiError> {
    let text = || text_argument(&command.args, 0);
    match command.action.as_str() {
        "getUploads" => {
            let listing = core::get_uploads()?;
            serde_json::from_str(&listing)
                .map_err(|error| FfiError::Internal(format!("listing is not JSON: {error}")))
        }
        "updateHeaders" => {
            core::update_headers(text()?, text_argument(&command.args, 1)?).map(|()| Value::Null)
        }
        action => run_plain(command, action).map(|()| Value::Null),
    }
}

fn run_plain(command: &Command, action: &str) -> Result<(), FfiError> {
    let text = || text_argument(&command.args, 0);
    match action {
        "initManager" => {
            let callback = command.id;
            core::init(
                text()?,
                Box::new(move |event: &str| {
                    write_line(&format!("{{\"callback\":{callback},\"event\":{event}}}"));
                }),
            )
        }
        "startUpload" => core::start_upload(text()?),
        "removeUpload" => core::remove_upload(text()?),
        "acknowledgeEvent" => core::acknowledge_event(text()?),
        "destroy" => core::destroy(),
        "pauseUpload" => core::pause_upload(text()?),
        "resumeUpload" => core::resume_upload(text()?),
        "setNetwork" => match (command.args.first(), command.args.get(1)) {
            (Some(Value::Bool(reachable)), Some(Value::Bool(metered))) => {
                core::set_network(*reachable, *metered)
            }
            _ => Err(FfiError::InvalidArgument(
                "setNetwork: args must be two booleans (reachable, metered)".to_owned(),
            )),
        },
        "setNetworkReachable" => match command.args.first() {
            Some(Value::Bool(reachable)) => core::set_network_reachable(*reachable),
            _ => Err(FfiError::InvalidArgument(
                "setNetworkReachable: args[0] must be a boolean".to_owned(),
            )),
        },
        other => Err(FfiError::InvalidArgument(format!(
            "unknown action {other:?} (known: initManager, startUpload, removeUpload, \
             acknowledgeEvent, destroy, pauseUpload, resumeUpload, updateHeaders, getUploads, \
             setNetworkReachable, setNetwork)"
        ))),
    }
}

/// Argument `index` as text: a string, or `null`/absent for none.
fn text_argument(args: &[Value], index: usize) -> Result<Option<&str>, FfiError> {
    match args.get(index) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(FfiError::InvalidArgument(format!(
            "args[{index}] must be a string or null"
        ))),
    }
}
