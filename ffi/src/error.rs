//! What an FFI call answers when it did not succeed: one clear message for
//! the host, which receives it as a string.

/// Why an FFI call failed. Its `Display` text is what the host receives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FfiError {
    /// A call other than `open` came before `open` (or after `close`).
    #[error("the upload engine is not open; call open first")]
    NotOpen,
    /// `open` while open on another directory.
    #[error("the upload engine is already open on {0}; call close first")]
    AlreadyOpen(String),
    /// An app command came before `init`.
    #[error("the upload engine is not initialised; call init first")]
    NotInitialised,
    /// `report_transfer` on an engine that runs its own transfers.
    #[error(
        "the upload engine runs its own transfers; open it with OS-owned transfers to report on them"
    )]
    NotOsOwned,
    /// A malformed argument: bad JSON, a field of the wrong type, a missing
    /// id. The text names the argument or field.
    #[error("{0}")]
    InvalidArgument(String),
    /// The engine refused the command, with the reference plugin's message
    /// (for `startUpload`, also delivered as a FAILED event).
    #[error("{0}")]
    Rejected(String),
    /// The engine could not be opened (storage, runtime).
    #[error("cannot open the upload engine: {0}")]
    Open(String),
    /// The engine stopped or did not answer in time; reopen it.
    #[error("{0}")]
    Stopped(String),
    /// A write to the queue's storage failed (a full disk, say) while the
    /// command was being stored: it may or may not have taken effect. The
    /// engine goes on; the command may be given again.
    #[error("{0}")]
    StoreFailed(String),
    /// A bug: a panic was caught at the boundary.
    #[error("internal error in the upload engine: {0}")]
    Internal(String),
}

impl From<bgupload_io::CommandError> for FfiError {
    fn from(error: bgupload_io::CommandError) -> FfiError {
        match error {
            bgupload_io::CommandError::Rejected(rejection) => FfiError::Rejected(rejection.error),
            stopped @ bgupload_io::CommandError::Stopped(_) => {
                FfiError::Stopped(stopped.to_string())
            }
            failed @ bgupload_io::CommandError::StoreFailed(_) => {
                FfiError::StoreFailed(failed.to_string())
            }
        }
    }
}

/// Runs `call`, turning a panic into [`FfiError::Internal`]: no panic
/// crosses the boundary.
pub fn catch_panic<T>(call: impl FnOnce() -> Result<T, FfiError>) -> Result<T, FfiError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
        Ok(result) => result,
        Err(payload) => Err(FfiError::Internal(bgupload_io::panic_message(
            payload.as_ref(),
        ))),
    }
}
