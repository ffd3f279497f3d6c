//! OS-owned transfers (iOS background `URLSession`): a [`Transport`] whose
//! attempts the host runs.
//!
//! For each attempt the engine starts, [`HostTransport`] writes the whole
//! request body (`Body::write_to`) into `<data dir>/transfers/<id>-<attempt>.body`
//! and asks the host to upload that file ([`TransferHost::start_transfer`]);
//! the attempt's future then waits for the host's report
//! ([`HostTransport::report`]). A report for an attempt this process did not
//! start (the app was relaunched while the OS went on uploading) goes to the
//! engine directly, which is waiting for it. Cancelling an attempt (dropping
//! its future, or `cancel_elsewhere`) asks the host to cancel its task.
//! Body files are deleted once their attempt has ended or been cancelled.
//!
//! This module moves bytes and reports; whether and when to start, retry or
//! give up is the state machine's.

use bgupload_fsm::{
    Attempt, AttemptReport, ErrorCode, FileCheck, NetworkRequirement, TransferReport, UploadId,
    UploadRequest,
};
use bgupload_io::multipart::Body;
use bgupload_io::transport::{ProgressSink, Transport, body_failure, body_spec, check_local_file};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::oneshot;

/// Subdirectory of the data directory holding prepared request bodies.
pub const TRANSFERS_DIR: &str = "transfers";
/// Attempts remembered as ended, so that the engine's cancel of an attempt
/// that has already ended (it cancels on every end) does not reach the host.
pub const MAX_ENDED_REMEMBERED: usize = 1_024;

/// One transfer the host is asked to run: upload the file at
/// `body_file_path` as the whole body of a `method` request to `url` with
/// `headers_json` (a JSON object of header name → value, `Content-Type`
/// included), and report back with the same `upload_id` and `attempt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostTransfer {
    pub upload_id: String,
    pub attempt: u32,
    pub url: String,
    pub method: String,
    pub headers_json: String,
    pub body_file_path: String,
    /// Whether the upload may use a metered network (iOS:
    /// `allowsExpensiveNetworkAccess`); false for `network: "unmetered"`.
    pub allows_metered: bool,
}

/// The host's side of OS-owned transfers. Called from the engine's runtime
/// threads; implementations must return quickly (start a task, cancel a
/// task) and report later through [`crate::core::report_transfer`].
pub trait TransferHost: Send + Sync + 'static {
    fn start_transfer(&self, transfer: HostTransfer);
    fn cancel_transfer(&self, upload_id: &str, attempt: u32);
}

/// A host's report, kept to the response limit as soon as it arrives (a
/// host may hand over any amount): the machine's [`TransferReport`], with
/// `truncated` set when the body was cut.
fn bounded(report: TransferReport, max_response_bytes: usize) -> TransferReport {
    match report {
        TransferReport::Response {
            status,
            mut body,
            truncated,
            retry_after_millis,
        } => {
            let cut = body.len() > max_response_bytes;
            body.truncate(max_response_bytes);
            TransferReport::Response {
                status,
                body,
                truncated: truncated || cut,
                retry_after_millis,
            }
        }
        other => other,
    }
}

/// Where a report goes.
#[derive(Debug)]
pub enum Routed {
    /// To an attempt this process started: delivered already.
    Delivered,
    /// To the engine, which may be waiting for an attempt started before a
    /// relaunch.
    ToEngine(AttemptReport),
}

struct Pending {
    done: oneshot::Sender<TransferReport>,
    progress: ProgressSink,
}

struct Inner {
    host: Arc<dyn TransferHost>,
    dir: PathBuf,
    max_response_bytes: usize,
    pending: Mutex<HashMap<(UploadId, Attempt), Pending>>,
    /// Attempts that ended (reported, or never handed to the host), oldest
    /// first, at most [`MAX_ENDED_REMEMBERED`].
    ended: Mutex<VecDeque<(UploadId, Attempt)>>,
    /// Set when the engine closes: attempts dropped then are left running
    /// with the OS (their outcome is reported after the next open).
    closing: AtomicBool,
}

impl Inner {
    fn pending(&self) -> MutexGuard<'_, HashMap<(UploadId, Attempt), Pending>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn body_path(&self, upload_id: &UploadId, attempt: Attempt) -> PathBuf {
        body_path(&self.dir, upload_id, attempt)
    }

    fn ended(&self) -> MutexGuard<'_, VecDeque<(UploadId, Attempt)>> {
        self.ended.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The host has nothing running for this attempt any more.
    fn mark_ended(&self, key: (UploadId, Attempt)) {
        let mut ended = self.ended();
        if ended.len() >= MAX_ENDED_REMEMBERED {
            ended.pop_front();
        }
        ended.push_back(key);
    }

    /// Whether the attempt had ended; forgets it (one cancel per end).
    fn take_ended(&self, key: &(UploadId, Attempt)) -> bool {
        let mut ended = self.ended();
        match ended.iter().position(|entry| entry == key) {
            Some(index) => {
                ended.remove(index);
                true
            }
            None => false,
        }
    }
}

/// The body file of one attempt. An upload id is any text (`../../x`, 1 KiB
/// of it, a `/`), so it is never the file name as it is: the name is the
/// id's first few safe characters, for a reader, then the SHA-256 of its
/// bytes, which tells ids apart, then the attempt.
pub fn body_path(dir: &Path, upload_id: &UploadId, attempt: Attempt) -> PathBuf {
    use sha2::{Digest, Sha256};
    const READABLE_BYTES: usize = 32;
    let readable: String = upload_id
        .as_str()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(READABLE_BYTES)
        .collect();
    let digest = hex::encode(Sha256::digest(upload_id.as_str().as_bytes()));
    dir.join(format!("{readable}.{digest}.{}.body", attempt.0))
}

/// The OS-owned transport. Cheap to clone.
#[derive(Clone)]
pub struct HostTransport {
    inner: Arc<Inner>,
}

impl HostTransport {
    /// A transport writing bodies under `data_dir/transfers` (created
    /// owner-only).
    pub fn new(
        host: Arc<dyn TransferHost>,
        data_dir: &Path,
        max_response_bytes: usize,
    ) -> std::io::Result<HostTransport> {
        let dir = data_dir.join(TRANSFERS_DIR);
        create_private_dir(&dir)?;
        Ok(HostTransport {
            inner: Arc::new(Inner {
                host,
                dir,
                max_response_bytes,
                pending: Mutex::new(HashMap::new()),
                ended: Mutex::new(VecDeque::new()),
                closing: AtomicBool::new(false),
            }),
        })
    }

    /// The engine is closing: attempts it drops from now on stay with the
    /// OS, body files included.
    pub fn keep_transfers_on_close(&self) {
        self.inner.closing.store(true, Ordering::SeqCst);
    }

    /// Routes a host report: to the attempt's waiting future when this
    /// process started it, otherwise back to the caller for the engine. A
    /// final report for an attempt not started here deletes its body file.
    pub fn report(&self, upload_id: UploadId, attempt: Attempt, report: TransferReport) -> Routed {
        let is_final = report.is_final();
        let report = bounded(report, self.inner.max_response_bytes);
        let key = (upload_id, attempt);
        {
            let mut pending = self.inner.pending();
            if let (Some(entry), TransferReport::Progress { sent, total }) =
                (pending.get(&key), &report)
            {
                entry.progress.progress(*sent, *total);
                return Routed::Delivered;
            }
            // The future deletes the body file once it wakes.
            if is_final
                && let Some(entry) = pending.remove(&key)
                && entry.done.send(report.clone()).is_ok()
            {
                return Routed::Delivered;
            }
        }
        if is_final {
            remove_file_quietly(&self.inner.body_path(&key.0, key.1));
            self.inner.mark_ended(key.clone());
        }
        let (upload_id, attempt) = key;
        Routed::ToEngine(AttemptReport {
            upload_id,
            attempt,
            report,
        })
    }
}

/// Ends an attempt's future: deletes the body file, and cancels the host's
/// transfer when the future is dropped before its report came (unless the
/// engine is closing); an attempt that ended is remembered as such.
struct AttemptGuard {
    inner: Arc<Inner>,
    upload_id: UploadId,
    attempt: Attempt,
    started: bool,
    finished: bool,
}

impl Drop for AttemptGuard {
    fn drop(&mut self) {
        let key = (self.upload_id.clone(), self.attempt);
        self.inner.pending().remove(&key);
        let running_on_host = self.started && !self.finished;
        if !running_on_host {
            self.inner.mark_ended(key);
        } else if self.inner.closing.load(Ordering::SeqCst) {
            return;
        } else {
            self.inner
                .host
                .cancel_transfer(self.upload_id.as_str(), self.attempt.0);
        }
        remove_file_quietly(&self.inner.body_path(&self.upload_id, self.attempt));
    }
}

impl Transport for HostTransport {
    fn check_file(&self, path: &str) -> FileCheck {
        check_local_file(path)
    }

    fn run(
        &self,
        request: UploadRequest,
        attempt: Attempt,
        progress: ProgressSink,
    ) -> impl Future<Output = TransferReport> + Send + 'static {
        let inner = self.inner.clone();
        async move {
            let mut guard = AttemptGuard {
                inner: inner.clone(),
                upload_id: request.id.clone(),
                attempt,
                started: false,
                finished: false,
            };
            let path = inner.body_path(&request.id, attempt);
            let spec = body_spec(&request);
            let write_path = path.clone();
            let written = tokio::task::spawn_blocking(move || write_body(&spec, &write_path)).await;
            let content_type = match written {
                Ok(Ok(content_type)) => content_type,
                Ok(Err(failure)) => return failure,
                Err(join_error) => {
                    return TransferReport::failed(
                        format!("cannot prepare the request body: {join_error}"),
                        ErrorCode::CannotCreateFile.code(),
                        true,
                    );
                }
            };
            let (done, report) = oneshot::channel();
            inner
                .pending()
                .insert((request.id.clone(), attempt), Pending { done, progress });
            guard.started = true;
            inner.host.start_transfer(HostTransfer {
                upload_id: request.id.as_str().to_owned(),
                attempt: attempt.0,
                url: request.server_url.clone(),
                method: request.method.as_str().to_owned(),
                headers_json: headers_json(&request, &content_type),
                body_file_path: path.to_string_lossy().into_owned(),
                allows_metered: request.network == NetworkRequirement::Any,
            });
            let outcome = report.await.unwrap_or_else(|_| {
                TransferReport::failed(
                    "the host dropped the transfer without a report".to_owned(),
                    ErrorCode::HostLostTransfer.code(),
                    true,
                )
            });
            guard.finished = true;
            outcome
        }
    }

    fn cancel_elsewhere(&self, upload_id: &UploadId, attempt: Attempt) {
        let key = (upload_id.clone(), attempt);
        if self.inner.take_ended(&key) {
            return;
        }
        self.inner.pending().remove(&key);
        self.inner
            .host
            .cancel_transfer(upload_id.as_str(), attempt.0);
        remove_file_quietly(&self.inner.body_path(upload_id, attempt));
    }
}

/// The user's headers, plus the body's `Content-Type` unless the user set
/// one (a raw upload may). `Content-Length` is the host's to set from the
/// file.
fn headers_json(request: &UploadRequest, content_type: &str) -> String {
    let mut headers = serde_json::Map::new();
    for (name, value) in request.headers_to_send() {
        headers.insert(name.to_owned(), serde_json::Value::from(value));
    }
    let user_sets_content_type = request
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
    if !user_sets_content_type {
        headers.insert(
            "Content-Type".to_owned(),
            serde_json::Value::from(content_type),
        );
    }
    serde_json::Value::Object(headers).to_string()
}

/// Writes the whole body to `path`, synced; returns its content type.
fn write_body(
    spec: &bgupload_io::multipart::BodySpec,
    path: &Path,
) -> Result<String, TransferReport> {
    let body = Body::open(spec).map_err(|error| body_failure(&error))?;
    let cannot_create = |error: std::io::Error| {
        TransferReport::failed(
            format!(
                "cannot write the request body to {}: {error}",
                path.display()
            ),
            ErrorCode::CannotCreateFile.code(),
            true,
        )
    };
    let file = std::fs::File::create(path).map_err(cannot_create)?;
    let mut out = std::io::BufWriter::new(file);
    if let Err(error) = body.write_to(&mut out) {
        remove_file_quietly(path);
        return Err(body_failure(&error));
    }
    let file = out
        .into_inner()
        .map_err(|error| cannot_create(error.into_error()))?;
    file.sync_all().map_err(cannot_create)?;
    Ok(body.content_type().to_owned())
}

fn remove_file_quietly(path: &Path) {
    // Already gone is fine; anything else leaves a stale file, no more.
    let _ = std::fs::remove_file(path);
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::body_path;
    use bgupload_fsm::{Attempt, UploadId};
    use std::path::{Component, Path};

    #[test]
    fn body_files_stay_in_their_directory_whatever_the_id() {
        let dir = Path::new("/data/transfers");
        let ids = [
            "../../x",
            "/etc/passwd",
            "a/b",
            "..",
            ".",
            "é 文",
            &"z".repeat(1_024),
        ];
        let mut names = Vec::new();
        for text in ids {
            let path = body_path(dir, &UploadId::parse(text).unwrap(), Attempt(3));
            assert_eq!(path.parent(), Some(dir), "{text}");
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            assert!(name.len() <= 120, "{text}: {name}");
            assert!(
                path.components()
                    .all(|part| !matches!(part, Component::ParentDir)),
                "{text}"
            );
            names.push(name);
        }
        let case = |text: &str| body_path(dir, &UploadId::parse(text).unwrap(), Attempt(1));
        assert_ne!(case("ab"), case("AB"), "ids that differ in bytes differ");
        assert_ne!(case("a/b"), case("ab"));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ids.len());
    }
}
