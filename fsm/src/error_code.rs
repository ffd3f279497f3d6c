//! The one table of `errorCode` values the engine gives, on the model of
//! Apple's `NSURLError` codes (which the iOS reference plugin passes on),
//! so that an app sees the same code for the same cause on every platform
//! and from every layer: validation, the machine, the transports and the
//! hosts. Codes of conditions `NSURLError` has no code for live in a block
//! of their own (-4000…), which no `NSURLError` uses.
//!
//! Events and records keep the code as a plain `i32`: an iOS host may pass
//! on any `NSURLError` code of its own, and a stored event keeps the code
//! it was written with.

/// A cause, with its code. [`ErrorCode::ALL`] lists every one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `removeUpload` cancelled it (`NSURLErrorCancelled`; the reference's).
    Cancelled,
    /// The server URL is malformed: no host, spaces or control characters,
    /// a bad port, too long (`NSURLErrorBadURL`).
    BadUrl,
    /// No answer within a timeout (`NSURLErrorTimedOut`).
    TimedOut,
    /// Not an http or https URL (`NSURLErrorUnsupportedURL`).
    UnsupportedUrl,
    /// The connection was refused or could not be made
    /// (`NSURLErrorCannotConnectToHost`).
    CannotConnectToHost,
    /// The connection broke during the exchange
    /// (`NSURLErrorNetworkConnectionLost`).
    NetworkConnectionLost,
    /// The server sent something that is not an HTTP answer
    /// (`NSURLErrorBadServerResponse`).
    BadServerResponse,
    /// The server's TLS certificate was refused
    /// (`NSURLErrorServerCertificateUntrusted`).
    ServerCertificateUntrusted,
    /// `filePath` names nothing, or the file went away
    /// (`NSURLErrorFileDoesNotExist`).
    FileDoesNotExist,
    /// `filePath` names a directory or another non-regular file
    /// (`NSURLErrorFileIsDirectory`).
    FileIsDirectory,
    /// The file cannot be read, or changed while it was sent
    /// (`NSURLErrorNoPermissionsToReadFile`).
    NoPermissionsToReadFile,
    /// A request body file could not be written (`NSURLErrorCannotCreateFile`).
    CannotCreateFile,
    /// A payload or configuration field the engine refuses: a bad id,
    /// header, parameter, method, path form or size.
    InvalidArgument,
    /// An upload with this id is in progress, or its event is not
    /// acknowledged yet.
    DuplicateUpload,
    /// The engine holds as many uploads or unacknowledged events as its
    /// limits allow, or no event id is left.
    QueueFull,
    /// The upload used its last attempt number (a damaged store, in
    /// practice).
    AttemptsExhausted,
    /// The OS said it no longer has a transfer it was given.
    HostLostTransfer,
    /// The transport failed inside (a bug); the attempt ended, the upload
    /// goes on.
    TransportFailedInside,
    /// The device has no space left for the queue: new uploads are refused
    /// until space returns; accepted ones go on.
    StorageFull,
    /// `updateHeaders` named no upload in progress: it ended (or was
    /// never started).
    UploadNotInProgress,
    /// The upload was in flight under an older storage format (the
    /// reference's migration code).
    LegacyRecord,
}

impl ErrorCode {
    /// Every code, in the order of the documented table.
    pub const ALL: [ErrorCode; 21] = [
        ErrorCode::Cancelled,
        ErrorCode::BadUrl,
        ErrorCode::TimedOut,
        ErrorCode::UnsupportedUrl,
        ErrorCode::CannotConnectToHost,
        ErrorCode::NetworkConnectionLost,
        ErrorCode::BadServerResponse,
        ErrorCode::ServerCertificateUntrusted,
        ErrorCode::FileDoesNotExist,
        ErrorCode::FileIsDirectory,
        ErrorCode::NoPermissionsToReadFile,
        ErrorCode::CannotCreateFile,
        ErrorCode::InvalidArgument,
        ErrorCode::DuplicateUpload,
        ErrorCode::QueueFull,
        ErrorCode::AttemptsExhausted,
        ErrorCode::HostLostTransfer,
        ErrorCode::TransportFailedInside,
        ErrorCode::StorageFull,
        ErrorCode::UploadNotInProgress,
        ErrorCode::LegacyRecord,
    ];

    /// The `errorCode` the app sees.
    pub const fn code(self) -> i32 {
        match self {
            ErrorCode::Cancelled => -999,
            ErrorCode::BadUrl => -1000,
            ErrorCode::TimedOut => -1001,
            ErrorCode::UnsupportedUrl => -1002,
            ErrorCode::CannotConnectToHost => -1004,
            ErrorCode::NetworkConnectionLost => -1005,
            ErrorCode::BadServerResponse => -1011,
            ErrorCode::ServerCertificateUntrusted => -1202,
            ErrorCode::FileDoesNotExist => -1100,
            ErrorCode::FileIsDirectory => -1101,
            ErrorCode::NoPermissionsToReadFile => -1102,
            ErrorCode::CannotCreateFile => -3000,
            ErrorCode::InvalidArgument => -4001,
            ErrorCode::DuplicateUpload => -4002,
            ErrorCode::QueueFull => -4003,
            ErrorCode::AttemptsExhausted => -4004,
            ErrorCode::HostLostTransfer => -4005,
            ErrorCode::TransportFailedInside => -4006,
            ErrorCode::StorageFull => -4007,
            ErrorCode::UploadNotInProgress => -4008,
            ErrorCode::LegacyRecord => 500,
        }
    }

    /// The code's cause, as the plugin README's table gives it.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::Cancelled => "cancelled by removeUpload",
            ErrorCode::BadUrl => "malformed server URL",
            ErrorCode::TimedOut => "timed out",
            ErrorCode::UnsupportedUrl => "not an http or https URL",
            ErrorCode::CannotConnectToHost => "cannot connect to the server",
            ErrorCode::NetworkConnectionLost => "connection lost",
            ErrorCode::BadServerResponse => "not an HTTP answer",
            ErrorCode::ServerCertificateUntrusted => "server certificate refused",
            ErrorCode::FileDoesNotExist => "file not found",
            ErrorCode::FileIsDirectory => "not a regular file",
            ErrorCode::NoPermissionsToReadFile => "file not readable, or changed while sent",
            ErrorCode::CannotCreateFile => "cannot write a request body file",
            ErrorCode::InvalidArgument => "invalid payload or configuration field",
            ErrorCode::DuplicateUpload => "id in progress or its event unacknowledged",
            ErrorCode::QueueFull => "too many uploads or unacknowledged events",
            ErrorCode::AttemptsExhausted => "no attempt number left",
            ErrorCode::HostLostTransfer => "the OS lost the transfer",
            ErrorCode::TransportFailedInside => "internal transport failure",
            ErrorCode::StorageFull => "no space left on the device for the queue",
            ErrorCode::UploadNotInProgress => "no upload in progress with that id",
            ErrorCode::LegacyRecord => "interrupted by a storage-format upgrade",
        }
    }
}

impl From<ErrorCode> for i32 {
    fn from(code: ErrorCode) -> i32 {
        code.code()
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_is_listed_once_and_means_one_thing() {
        let mut codes: Vec<i32> = ErrorCode::ALL.iter().map(|code| code.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
    }
}
