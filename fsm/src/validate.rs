//! Validation of `startUpload` payloads and `init` configuration.
//!
//! The reference plugin checks, in this order: payload present, `id`,
//! `serverUrl` present, `serverUrl` not blank, `filePath`, the file exists.
//! The first failure wins, with the reference's message. The checks after
//! those are this engine's own (stricter) rules, each with a clear message.

use crate::error_code::ErrorCode;
use crate::event::Rejection;
use crate::types::{
    BodyFormat, Config, EventId, FileCheck, Limits, MAX_BACKOFF_MILLIS, MAX_PARALLEL_UPLOADS_LIMIT,
    MAX_RETRY_ATTEMPTS, Method, UploadId, UploadPayload, UploadRequest,
};

pub const MSG_PAYLOAD_MISSING: &str = "Upload Settings object is missing or has invalid arguments";
pub const MSG_ID_REQUIRED: &str = "Upload ID is required";
pub const MSG_ID_TOO_LONG: &str = "Upload ID must be at most 1024 bytes of UTF-8";
pub const MSG_ID_CONTROL_CHARACTER: &str = "Upload ID must not contain control characters";
pub const MSG_URL_REQUIRED: &str = "Server URL is required";
pub const MSG_URL_INVALID: &str = "Invalid server URL";
pub const MSG_FILE_PATH_REQUIRED: &str = "filePath is required";
/// `startUpload` while the store's disk is full (the OS's own words).
pub const MSG_NO_SPACE: &str = "No space left on device";
pub const MSG_EVENT_ID_REQUIRED: &str = "Event ID is required";
pub const MSG_EVENT_ID_TOO_LONG: &str = "Event ID must be at most 1024 bytes";
/// Longest `eventId` text `acknowledgeEvent` takes.
pub const MAX_EVENT_ID_TEXT_BYTES: usize = 1_024;
/// The reference plugin's five JS-side refusals: the only ones without an
/// `errorCode`, here as in the reference.
pub const REFERENCE_MESSAGES: [&str; 5] = [
    MSG_PAYLOAD_MISSING,
    MSG_ID_REQUIRED,
    MSG_URL_REQUIRED,
    MSG_URL_INVALID,
    MSG_FILE_PATH_REQUIRED,
];
pub const DEFAULT_FILE_KEY: &str = "file";
pub const DEFAULT_NOTIFICATION_TITLE: &str = "Uploading files";

/// Checks a payload against the reference plugin's rules and this engine's
/// limits. `file` is what the caller found at `file_path`.
/// `defaults` is the config in force: its `statusPolicy`, `network` and
/// `idempotencyKey` apply where the payload gives none. The request comes
/// back without its idempotency key: the machine draws one when
/// [`wants_idempotency_key`].
pub fn upload_request(
    payload: &UploadPayload,
    file: FileCheck,
    limits: &Limits,
    defaults: &Config,
) -> Result<UploadRequest, Rejection> {
    let id_text = match payload.id.as_deref() {
        None | Some("") => return Err(Rejection::reference(None, MSG_ID_REQUIRED)),
        Some(text) => text,
    };
    let echoed_id = || Some(truncate_to_char_boundary(id_text, MAX_ECHOED_ID_BYTES).to_owned());
    let reference = |error: &str| Rejection::reference(echoed_id(), error);
    let reject = |code: ErrorCode| move |error: String| Rejection::coded(echoed_id(), code, error);
    let invalid = reject(ErrorCode::InvalidArgument);
    let server_url = match payload.server_url.as_deref() {
        None | Some("") => return Err(reference(MSG_URL_REQUIRED)),
        Some(url) if url.trim().is_empty() => return Err(reference(MSG_URL_INVALID)),
        Some(url) => url,
    };
    let file_path = match payload.file_path.as_deref() {
        None | Some("") => return Err(reference(MSG_FILE_PATH_REQUIRED)),
        Some(path) => path,
    };
    // Before anything looked at the file system for it: a hostile path is
    // neither looked up nor echoed whole.
    if !file_path_may_be_checked(file_path, limits) {
        return Err(invalid(format!(
            "filePath is longer than {} bytes or contains NUL",
            limits.max_file_path_bytes
        )));
    }
    let file_error = match file {
        FileCheck::RegularFile { .. } => None,
        FileCheck::Missing | FileCheck::NotChecked => {
            Some((ErrorCode::FileDoesNotExist, "File not found"))
        }
        FileCheck::NotARegularFile => Some((ErrorCode::FileIsDirectory, "Not a regular file")),
        FileCheck::Unreadable => Some((ErrorCode::NoPermissionsToReadFile, "File is not readable")),
    };
    if let Some((code, message)) = file_error {
        return Err(reject(code)(format!("{message}: {file_path}")));
    }

    let id = UploadId::parse(id_text).map_err(|message| invalid(message.to_owned()))?;
    check_server_url(server_url, limits).map_err(|(code, error)| reject(code)(error))?;
    if !is_absolute_path(file_path) {
        return Err(invalid(format!(
            "filePath must be an absolute path: {file_path}"
        )));
    }
    let file_key = match payload.file_key.as_deref() {
        None | Some("") => DEFAULT_FILE_KEY.to_owned(),
        Some(key) if key.len() > limits.max_file_key_bytes => {
            return Err(invalid(format!(
                "fileKey is longer than {} bytes",
                limits.max_file_key_bytes
            )));
        }
        Some(key) => key.to_owned(),
    };
    let notification_title = match payload.notification_title.as_deref() {
        None | Some("") => DEFAULT_NOTIFICATION_TITLE.to_owned(),
        Some(title) if title.len() > limits.max_notification_title_bytes => {
            return Err(invalid(format!(
                "notificationTitle is longer than {} bytes",
                limits.max_notification_title_bytes
            )));
        }
        Some(title) => title.to_owned(),
    };
    let method = match payload.request_method.as_deref() {
        None | Some("") => Method::Post,
        Some(m) if m.eq_ignore_ascii_case("POST") => Method::Post,
        Some(m) if m.eq_ignore_ascii_case("PUT") => Method::Put,
        Some(m) => {
            return Err(invalid(format!(
                "requestMethod must be POST or PUT, not {:?}",
                truncate_to_char_boundary(m, 16)
            )));
        }
    };
    check_headers(&payload.headers, payload.body_format, limits).map_err(&invalid)?;
    check_idempotency_header(&payload.headers, wants_idempotency_key(payload, defaults))
        .map_err(&invalid)?;
    check_parameters(&payload.parameters, limits).map_err(invalid)?;

    Ok(UploadRequest {
        id,
        file_path: file_path.to_owned(),
        file_key,
        server_url: server_url.to_owned(),
        headers: payload.headers.clone(),
        parameters: payload.parameters.clone(),
        notification_title,
        method,
        body_format: payload.body_format,
        status_policy: payload.status_policy.unwrap_or(defaults.status_policy),
        idempotency_key: None,
        network: payload.network.unwrap_or(defaults.network),
    })
}

/// Whether an upload carries an `Idempotency-Key`: its own
/// `idempotencyKey`, else the config's.
pub fn wants_idempotency_key(payload: &UploadPayload, defaults: &Config) -> bool {
    payload.idempotency_key.unwrap_or(defaults.idempotency_key)
}

/// Checks the headers of an `updateHeaders(id, headers)` for `request`,
/// by the rules of `startUpload`'s (and, when the upload sends its own
/// `Idempotency-Key`, without one of the app's).
pub fn replacement_headers(
    headers: &[(String, String)],
    request: &UploadRequest,
    limits: &Limits,
) -> Result<(), String> {
    check_headers(headers, request.body_format, limits)?;
    check_idempotency_header(headers, request.idempotency_key.is_some())
}

/// The header an upload's idempotency key travels in.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// With a key of the engine's, the app's own `Idempotency-Key` would
/// send two.
pub fn check_idempotency_header(
    headers: &[(String, String)],
    engine_sends_one: bool,
) -> Result<(), String> {
    let given = headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case(IDEMPOTENCY_KEY_HEADER));
    if engine_sends_one && given {
        return Err(format!(
            "header {IDEMPOTENCY_KEY_HEADER:?} is set by the uploader when idempotencyKey is true"
        ));
    }
    Ok(())
}

/// Whether a host may look `path` up on its file system for a
/// `startUpload` (and report it as a [`FileCheck`]): within the length
/// limit and without NUL. Any other path is refused without a look.
pub fn file_path_may_be_checked(path: &str, limits: &Limits) -> bool {
    !path.is_empty() && path.len() <= limits.max_file_path_bytes && !path.contains('\0')
}

/// Longest id echoed back in a rejection: every acceptable id whole, a
/// longer (hostile) one cut.
pub const MAX_ECHOED_ID_BYTES: usize = crate::types::MAX_UPLOAD_ID_BYTES;

fn check_server_url(url: &str, limits: &Limits) -> Result<(), (ErrorCode, String)> {
    let bad = |detail: &str| (ErrorCode::BadUrl, format!("{MSG_URL_INVALID}: {detail}"));
    if url.len() > limits.max_server_url_bytes {
        return Err(bad(&format!(
            "longer than {} bytes",
            limits.max_server_url_bytes
        )));
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return Err((
            ErrorCode::UnsupportedUrl,
            format!("{MSG_URL_INVALID}: only http and https URLs are supported"),
        ));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_and_port = authority.rsplit('@').next().unwrap_or("");
    if host_and_port.is_empty() || host_and_port.starts_with(':') {
        return Err(bad("no host"));
    }
    if url.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad("contains spaces or control characters"));
    }
    check_host_and_port(host_and_port).map_err(bad)
}

/// RFC 3986's `host [":" port]`: an IPv6 address in brackets, or a name or
/// IPv4 address without `:`; a port of digits in 1..=65535 (or empty, the
/// scheme's default). Checked here so that `http://h:99999/` is refused at
/// `startUpload`, not at every attempt.
fn check_host_and_port(host_and_port: &str) -> Result<(), &'static str> {
    let (host, port) = if let Some(bracketed) = host_and_port.strip_prefix('[') {
        let Some((address, after)) = bracketed.split_once(']') else {
            return Err("an IPv6 address without its closing bracket");
        };
        let is_address_char = |c: char| c.is_ascii_hexdigit() || c == ':' || c == '.';
        if address.is_empty() || !address.chars().all(is_address_char) || !address.contains(':') {
            return Err("not an IPv6 address in brackets");
        }
        match after {
            "" => (address, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (address, Some(port)),
                None => return Err("text after the IPv6 address"),
            },
        }
    } else {
        match host_and_port.split_once(':') {
            Some((_, port)) if port.contains(':') => {
                return Err("an IPv6 address must be in brackets");
            }
            Some((host, port)) => (host, Some(port)),
            None => (host_and_port, None),
        }
    };
    if host.is_empty() || host.contains(['[', ']', '\\', '<', '>', '"', '^', '`', '{', '|', '}']) {
        return Err("not a valid host");
    }
    match port {
        None | Some("") => Ok(()),
        Some(port) if !port.bytes().all(|byte| byte.is_ascii_digit()) => {
            Err("the port is not a number")
        }
        Some(port) => match port.parse::<u32>() {
            Ok(1..=65_535) => Ok(()),
            _ => Err("the port is not in 1..=65535"),
        },
    }
}

/// Headers the encoder sets itself; a user value would break the framing.
const RESERVED_HEADERS: [&str; 3] = ["content-type", "content-length", "transfer-encoding"];

fn check_headers(
    headers: &[(String, String)],
    body_format: BodyFormat,
    limits: &Limits,
) -> Result<(), String> {
    if headers.len() > limits.max_header_count {
        return Err(format!("more than {} headers", limits.max_header_count));
    }
    let mut total = 0usize;
    for (index, (name, value)) in headers.iter().enumerate() {
        total = total.saturating_add(name.len()).saturating_add(value.len());
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(format!(
                "header name {:?} is not a valid HTTP header name",
                truncate_to_char_boundary(name, 64)
            ));
        }
        // CR, LF and NUL would split or cut the request; no other control
        // character but tab is valid in a field value either (RFC 9110).
        if value.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(format!(
                "header {name:?} has a CR, LF, NUL or other control character in its value"
            ));
        }
        let lower = name.to_ascii_lowercase();
        // A raw body may carry the user's own Content-Type (presigned URLs
        // often require one); multipart's is the encoder's.
        let reserved = RESERVED_HEADERS.contains(&lower.as_str())
            && !(body_format == BodyFormat::Raw && lower == "content-type");
        if reserved {
            return Err(format!(
                "header {name:?} is set by the uploader and cannot be overridden"
            ));
        }
        if headers[..index]
            .iter()
            .any(|(earlier, _)| earlier.eq_ignore_ascii_case(name))
        {
            return Err(format!("header {name:?} is given twice"));
        }
    }
    if total > limits.max_header_bytes {
        return Err(format!(
            "headers are larger than {} bytes",
            limits.max_header_bytes
        ));
    }
    Ok(())
}

fn check_parameters(parameters: &[(String, String)], limits: &Limits) -> Result<(), String> {
    if parameters.len() > limits.max_parameter_count {
        return Err(format!(
            "more than {} parameters",
            limits.max_parameter_count
        ));
    }
    let total = parameters.iter().fold(0usize, |sum, (name, value)| {
        sum.saturating_add(name.len()).saturating_add(value.len())
    });
    if total > limits.max_parameter_bytes {
        return Err(format!(
            "parameters are larger than {} bytes",
            limits.max_parameter_bytes
        ));
    }
    if parameters.iter().any(|(name, _)| name.is_empty()) {
        return Err("a parameter has an empty name".to_owned());
    }
    Ok(())
}

/// The event an `acknowledgeEvent(eventId)` names: `Some` for the form this
/// engine issues ([`EventId::from_app_text`]), `None` for any other
/// non-empty id, which names no event (acknowledging it succeeds and
/// changes nothing, as in the reference). A missing id is the reference's
/// message; a longer one than [`MAX_EVENT_ID_TEXT_BYTES`] is refused.
pub fn acknowledged_event(text: &str) -> Result<Option<EventId>, &'static str> {
    if text.is_empty() {
        return Err(MSG_EVENT_ID_REQUIRED);
    }
    if text.len() > MAX_EVENT_ID_TEXT_BYTES {
        return Err(MSG_EVENT_ID_TOO_LONG);
    }
    Ok(EventId::from_app_text(text))
}

/// Checks an `init` configuration. A falsy (0) `parallelUploadsLimit`
/// means the default, as in the reference plugin.
pub fn config(mut config: Config) -> Result<Config, String> {
    if config.parallel_uploads_limit == 0 {
        config.parallel_uploads_limit = crate::types::DEFAULT_PARALLEL_UPLOADS_LIMIT;
    }
    if config.parallel_uploads_limit > MAX_PARALLEL_UPLOADS_LIMIT {
        return Err(format!(
            "parallelUploadsLimit must be between 1 and {MAX_PARALLEL_UPLOADS_LIMIT}"
        ));
    }
    let retry = &config.retry;
    if retry.max_attempts == 0 || retry.max_attempts > MAX_RETRY_ATTEMPTS {
        return Err(format!(
            "maxAttempts must be between 1 and {MAX_RETRY_ATTEMPTS}"
        ));
    }
    if retry.initial_backoff_millis > retry.max_backoff_millis
        || retry.max_backoff_millis > MAX_BACKOFF_MILLIS
    {
        return Err(format!(
            "backoff must satisfy initial <= max <= {MAX_BACKOFF_MILLIS} ms"
        ));
    }
    if config.progress.min_percent_step == 0 || config.progress.min_percent_step > 100 {
        return Err("progress step must be between 1 and 100 percent".to_owned());
    }
    Ok(config)
}

/// RFC 9110 `tchar`.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// Absolute on Unix (`/…`) or, for hosts that pass them, Windows (`C:\…`).
fn is_absolute_path(path: &str) -> bool {
    let bytes = path.as_bytes();
    path.starts_with('/')
        || (bytes.len() >= 3
            && bytes[0].is_ascii_alphabetic()
            && bytes[1] == b':'
            && (bytes[2] == b'\\' || bytes[2] == b'/'))
}

/// The longest prefix of `text` of at most `max_bytes` that ends on a char
/// boundary.
pub fn truncate_to_char_boundary(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
