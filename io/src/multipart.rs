//! The request body of one upload attempt: `multipart/form-data` (the
//! parameters as text fields in order, then the file part named by the file
//! key) or the raw file bytes.
//!
//! This module owns the framing of the body and nothing else. It computes the
//! exact `Content-Length` before a byte is sent, produces the body in chunks of
//! at most [`CHUNK_SIZE`] without ever holding the file in memory, and refuses
//! to produce a wrong body when the file changes under it
//! ([`BodyError::FileChanged`]). User headers were checked when the upload
//! was accepted (`bgupload_fsm::validate`); whether and when to send is
//! decided in `fsm`.
//!
//! The framing is defined once, as a sequence of segments (preamble bytes, the
//! file, epilogue bytes); the async stream ([`Body::into_stream`]) and the
//! synchronous writer ([`Body::write_to`]) both walk that sequence and share
//! the file-length checks.
//!
//! Names and file names inside `Content-Disposition` are escaped the way
//! browsers do (WHATWG): `"` becomes `%22`, CR `%0D`, LF `%0A`; so does every
//! other ASCII control character (`%XX`, upper-case hex), which browsers
//! never send and which would make the part header invalid. Nothing else is
//! changed, and the receiver sees the escaped form. Parameter values are part
//! bodies and are sent byte for byte (line breaks are not normalised).

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::Stream;
use tokio::io::AsyncReadExt;

/// Largest chunk the body stream yields, and the size of the read buffer.
pub const CHUNK_SIZE: usize = 256 * 1024;

/// Fixed start of every generated boundary; the rest is 32 hex digits.
const BOUNDARY_PREFIX: &str = "----bgupload-";

/// How many boundary candidates are tried before one that occurs inside a
/// parameter value is accepted anyway (each candidate has 128 random-looking
/// bits, so a second attempt is already astronomically rare).
const MAX_BOUNDARY_ATTEMPTS: usize = 16;

/// Bytes read past the expected end of the file to prove it has not grown.
const GROWTH_PROBE_LEN: usize = 1;

/// Content type of a file whose extension says nothing.
pub const OCTET_STREAM: &str = "application/octet-stream";

const CRLF: &[u8] = b"\r\n";

pub use bgupload_fsm::BodyFormat;
use bgupload_fsm::SplitMix64;

/// What one request body is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodySpec {
    pub file_path: PathBuf,
    /// Name of the file part (the reference plugin's `fileKey`).
    pub file_key: String,
    /// Text fields, sent in this order before the file part.
    pub parameters: Vec<(String, String)>,
    pub format: BodyFormat,
}

/// Why a body could not be opened, produced or accepted.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("File not found: {}", .path.display())]
    FileNotFound { path: PathBuf },

    #[error("Not a regular file: {}", .path.display())]
    NotRegularFile { path: PathBuf },

    #[error("cannot read {}: {source}", .path.display())]
    FileRead {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The file is not the length it had when the body was opened (it shrank,
    /// grew or disappeared; `seen` is 0 for a file that disappeared). Nothing
    /// after the point of detection is produced, so no wrong body is completed.
    #[error(
        "file {} changed while it was being sent: expected {expected} bytes, found {seen}",
        .path.display()
    )]
    FileChanged {
        path: PathBuf,
        expected: u64,
        seen: u64,
    },

    #[error("cannot write the request body: {source}")]
    Write {
        #[source]
        source: io::Error,
    },
}

/// A request body ready to be produced: framing computed, file checked, exact
/// length known. Cheap to clone; the file is opened again each time the body is
/// produced, and checked against the length recorded here.
#[derive(Debug, Clone)]
pub struct Body {
    file_path: PathBuf,
    file_length: u64,
    preamble: Bytes,
    epilogue: Bytes,
    content_type: String,
    boundary: Option<String>,
}

/// One piece of the body, in order. The only place the body's layout is
/// turned into a sequence.
#[derive(Debug, Clone)]
enum Segment {
    Bytes(Bytes),
    File { path: PathBuf, length: u64 },
}

impl Body {
    /// Opens a body with a fresh, unpredictable boundary.
    pub fn open(spec: &BodySpec) -> Result<Body, BodyError> {
        Self::open_with_boundary_seed(spec, crate::fresh_seed())
    }

    /// Opens a body whose boundary is derived from `seed` only, so the same
    /// spec and seed give the same bytes (for the simulator and tests).
    pub fn open_with_boundary_seed(spec: &BodySpec, seed: u64) -> Result<Body, BodyError> {
        let file_length = stat_regular_file(&spec.file_path)?;
        Ok(Self::framed(spec, file_length, seed))
    }

    /// The body of a file of `file_length` bytes, framed without touching
    /// the disk: for a caller that supplies the file bytes itself (the
    /// simulator's in-memory files), between [`Body::preamble`] and
    /// [`Body::epilogue`].
    pub fn framed(spec: &BodySpec, file_length: u64, seed: u64) -> Body {
        let file_content_type = guess_content_type(&spec.file_path);
        match spec.format {
            BodyFormat::Raw => Body {
                file_path: spec.file_path.clone(),
                file_length,
                preamble: Bytes::new(),
                epilogue: Bytes::new(),
                content_type: file_content_type,
                boundary: None,
            },
            BodyFormat::Multipart => {
                let boundary = choose_boundary(seed, &spec.parameters);
                let file_name = spec
                    .file_path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let preamble = multipart_preamble(
                    &boundary,
                    &spec.parameters,
                    &spec.file_key,
                    &file_name,
                    &file_content_type,
                );
                let epilogue = format!("\r\n--{boundary}--\r\n");
                Body {
                    file_path: spec.file_path.clone(),
                    file_length,
                    preamble: Bytes::from(preamble),
                    epilogue: Bytes::from(epilogue),
                    content_type: format!("multipart/form-data; boundary={boundary}"),
                    boundary: Some(boundary),
                }
            }
        }
    }

    /// The bytes before the file's.
    pub fn preamble(&self) -> &Bytes {
        &self.preamble
    }

    /// The bytes after the file's.
    pub fn epilogue(&self) -> &Bytes {
        &self.epilogue
    }

    /// Exact number of bytes the body will produce.
    pub fn content_length(&self) -> u64 {
        self.preamble.len() as u64 + self.file_length + self.epilogue.len() as u64
    }

    /// Value for the `Content-Type` request header.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The multipart boundary, `None` for a raw body.
    pub fn boundary(&self) -> Option<&str> {
        self.boundary.as_deref()
    }

    /// Length of the file when the body was opened.
    pub fn file_length(&self) -> u64 {
        self.file_length
    }

    pub fn file_path(&self) -> &Path {
        &self.file_path
    }

    fn segments(&self) -> [Segment; 3] {
        [
            Segment::Bytes(self.preamble.clone()),
            Segment::File {
                path: self.file_path.clone(),
                length: self.file_length,
            },
            Segment::Bytes(self.epilogue.clone()),
        ]
    }

    /// The body as a stream of chunks of at most [`CHUNK_SIZE`] bytes, read
    /// with `tokio::fs`. Ends after the first error.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes, BodyError>> + Send + 'static {
        let state = BodyStream {
            segments: self.segments().into_iter(),
            current: StreamPosition::BetweenSegments,
        };
        futures_util::stream::unfold(state, |mut state| async move {
            let item = state.next_chunk().await?;
            Some((item, state))
        })
    }

    /// Writes the whole body to `out` (for a transfer owned by the operating
    /// system, which uploads from a file). Memory stays at one chunk. Returns
    /// the number of bytes written, always [`Body::content_length`].
    pub fn write_to(&self, out: &mut impl Write) -> Result<u64, BodyError> {
        let mut buffer = vec![0_u8; CHUNK_SIZE];
        let mut written: u64 = 0;
        for segment in self.segments() {
            match segment {
                Segment::Bytes(bytes) => {
                    out.write_all(&bytes)
                        .map_err(|source| BodyError::Write { source })?;
                    written += bytes.len() as u64;
                }
                Segment::File { path, length } => {
                    let mut check = LengthGuard::new(path, length);
                    let mut file =
                        fs::File::open(&check.path).map_err(|error| check.open_failed(error))?;
                    let length_now = file
                        .metadata()
                        .map_err(|error| check.read_failed(error))?
                        .len();
                    check.check_length_at_start(length_now)?;
                    while let Some(want) = check.next_read_len() {
                        let chunk = &mut buffer[..want];
                        let got = fill_sync(&mut file, chunk).map_err(|e| check.read_failed(e))?;
                        check.record_read(want, got)?;
                        out.write_all(&chunk[..got])
                            .map_err(|source| BodyError::Write { source })?;
                        written += got as u64;
                    }
                    let mut probe = [0_u8; GROWTH_PROBE_LEN];
                    let extra =
                        fill_sync(&mut file, &mut probe).map_err(|e| check.read_failed(e))?;
                    let length_now = if extra > 0 {
                        file.metadata().ok().map(|metadata| metadata.len())
                    } else {
                        None
                    };
                    check.record_probe(extra, length_now)?;
                }
            }
        }
        Ok(written)
    }
}

/// Length of the regular file at `path`, after checking that it can be opened.
fn stat_regular_file(path: &Path) -> Result<u64, BodyError> {
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error)
            if matches!(
                error.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Err(BodyError::FileNotFound {
                path: path.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(BodyError::FileRead {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if !metadata.is_file() {
        return Err(BodyError::NotRegularFile {
            path: path.to_path_buf(),
        });
    }
    fs::File::open(path).map_err(|source| BodyError::FileRead {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(metadata.len())
}

/// MIME type from the file's extension, [`OCTET_STREAM`] when unknown.
fn guess_content_type(path: &Path) -> String {
    mime_guess::from_path(path)
        .first_raw()
        .unwrap_or(OCTET_STREAM)
        .to_owned()
}

/// Escapes a `Content-Disposition` name or file name as browsers do, and
/// every other control character the same way (`%XX`): a raw one would make
/// the part header invalid and parsers refuse the whole body.
fn escape_disposition_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for character in value.chars() {
        match character {
            '"' => escaped.push_str("%22"),
            control if control.is_ascii_control() => {
                escaped.push_str(&format!("%{:02X}", u32::from(control)));
            }
            other => escaped.push(other),
        }
    }
    escaped
}

/// Everything before the file bytes: the parameter parts, then the headers of
/// the file part.
fn multipart_preamble(
    boundary: &str,
    parameters: &[(String, String)],
    file_key: &str,
    file_name: &str,
    file_content_type: &str,
) -> Vec<u8> {
    let mut preamble = Vec::new();
    for (name, value) in parameters {
        preamble.extend_from_slice(b"--");
        preamble.extend_from_slice(boundary.as_bytes());
        preamble.extend_from_slice(CRLF);
        preamble.extend_from_slice(b"Content-Disposition: form-data; name=\"");
        preamble.extend_from_slice(escape_disposition_value(name).as_bytes());
        preamble.extend_from_slice(b"\"");
        preamble.extend_from_slice(CRLF);
        preamble.extend_from_slice(CRLF);
        preamble.extend_from_slice(value.as_bytes());
        preamble.extend_from_slice(CRLF);
    }
    preamble.extend_from_slice(b"--");
    preamble.extend_from_slice(boundary.as_bytes());
    preamble.extend_from_slice(CRLF);
    preamble.extend_from_slice(b"Content-Disposition: form-data; name=\"");
    preamble.extend_from_slice(escape_disposition_value(file_key).as_bytes());
    preamble.extend_from_slice(b"\"; filename=\"");
    preamble.extend_from_slice(escape_disposition_value(file_name).as_bytes());
    preamble.extend_from_slice(b"\"");
    preamble.extend_from_slice(CRLF);
    preamble.extend_from_slice(b"Content-Type: ");
    preamble.extend_from_slice(file_content_type.as_bytes());
    preamble.extend_from_slice(CRLF);
    preamble.extend_from_slice(CRLF);
    preamble
}

/// A boundary derived from `seed` that occurs in no parameter value. Names
/// cannot hold a delimiter: they are escaped and stay on one line.
fn choose_boundary(seed: u64, parameters: &[(String, String)]) -> String {
    let mut rng = SplitMix64::new(seed);
    let mut candidate = String::new();
    for _ in 0..MAX_BOUNDARY_ATTEMPTS {
        let high = rng.next_u64();
        let low = rng.next_u64();
        candidate = format!("{BOUNDARY_PREFIX}{high:016x}{low:016x}");
        if !parameters
            .iter()
            .any(|(_, value)| value.contains(candidate.as_str()))
        {
            break;
        }
    }
    candidate
}

/// Length bookkeeping for the file segment, shared by the stream and the
/// writer so both detect a changed file in the same way.
#[derive(Debug)]
struct LengthGuard {
    path: PathBuf,
    expected: u64,
    delivered: u64,
}

impl LengthGuard {
    fn new(path: PathBuf, expected: u64) -> LengthGuard {
        LengthGuard {
            path,
            expected,
            delivered: 0,
        }
    }

    fn changed(&self, seen: u64) -> BodyError {
        BodyError::FileChanged {
            path: self.path.clone(),
            expected: self.expected,
            seen,
        }
    }

    fn open_failed(&self, error: io::Error) -> BodyError {
        if error.kind() == io::ErrorKind::NotFound {
            self.changed(0)
        } else {
            self.read_failed(error)
        }
    }

    fn read_failed(&self, source: io::Error) -> BodyError {
        BodyError::FileRead {
            path: self.path.clone(),
            source,
        }
    }

    fn check_length_at_start(&self, length_now: u64) -> Result<(), BodyError> {
        if length_now == self.expected {
            Ok(())
        } else {
            Err(self.changed(length_now))
        }
    }

    /// Bytes to read next, or `None` once the expected length has been
    /// delivered and only the growth probe remains.
    fn next_read_len(&self) -> Option<usize> {
        let remaining = self.expected - self.delivered;
        if remaining == 0 {
            None
        } else {
            Some(usize::try_from(remaining).map_or(CHUNK_SIZE, |left| left.min(CHUNK_SIZE)))
        }
    }

    /// Records a read that filled `got` of `requested` bytes; a short read is
    /// an early end of file.
    fn record_read(&mut self, requested: usize, got: usize) -> Result<(), BodyError> {
        self.delivered += got as u64;
        if got < requested {
            Err(self.changed(self.delivered))
        } else {
            Ok(())
        }
    }

    /// Records the read past the expected end: any byte there means growth.
    fn record_probe(&self, extra: usize, length_now: Option<u64>) -> Result<(), BodyError> {
        if extra == 0 {
            return Ok(());
        }
        let at_least = self.expected + extra as u64;
        Err(self.changed(length_now.map_or(at_least, |length| length.max(at_least))))
    }
}

/// Reads until `buffer` is full or the file ends; returns the bytes read.
fn fill_sync(file: &mut fs::File, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// Async twin of [`fill_sync`].
async fn fill_async(file: &mut tokio::fs::File, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]).await {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// Where the async stream is in the segment sequence.
enum StreamPosition {
    BetweenSegments,
    Bytes(Bytes),
    File {
        file: tokio::fs::File,
        check: LengthGuard,
    },
    Finished,
}

struct BodyStream {
    segments: std::array::IntoIter<Segment, 3>,
    current: StreamPosition,
}

impl BodyStream {
    /// The next chunk, `None` at the end. After an error the stream is finished.
    async fn next_chunk(&mut self) -> Option<Result<Bytes, BodyError>> {
        // Each turn either returns or moves to the next of three segments.
        loop {
            match &mut self.current {
                StreamPosition::Finished => return None,
                StreamPosition::Bytes(rest) => {
                    if rest.is_empty() {
                        self.current = StreamPosition::BetweenSegments;
                    } else {
                        let take = rest.len().min(CHUNK_SIZE);
                        return Some(Ok(rest.split_to(take)));
                    }
                }
                StreamPosition::File { file, check } => match read_file_chunk(file, check).await {
                    Ok(Some(chunk)) => return Some(Ok(chunk)),
                    Ok(None) => self.current = StreamPosition::BetweenSegments,
                    Err(error) => {
                        self.current = StreamPosition::Finished;
                        return Some(Err(error));
                    }
                },
                StreamPosition::BetweenSegments => match self.segments.next() {
                    None => {
                        self.current = StreamPosition::Finished;
                        return None;
                    }
                    Some(Segment::Bytes(bytes)) => self.current = StreamPosition::Bytes(bytes),
                    Some(Segment::File { path, length }) => {
                        match open_file_async(LengthGuard::new(path, length)).await {
                            Ok((file, check)) => {
                                self.current = StreamPosition::File { file, check };
                            }
                            Err(error) => {
                                self.current = StreamPosition::Finished;
                                return Some(Err(error));
                            }
                        }
                    }
                },
            }
        }
    }
}

async fn open_file_async(check: LengthGuard) -> Result<(tokio::fs::File, LengthGuard), BodyError> {
    let file = tokio::fs::File::open(&check.path)
        .await
        .map_err(|error| check.open_failed(error))?;
    let length_now = file
        .metadata()
        .await
        .map_err(|error| check.read_failed(error))?
        .len();
    check.check_length_at_start(length_now)?;
    Ok((file, check))
}

/// The next chunk of the file, or `None` when it has been sent whole and is
/// proven not to have grown.
async fn read_file_chunk(
    file: &mut tokio::fs::File,
    check: &mut LengthGuard,
) -> Result<Option<Bytes>, BodyError> {
    match check.next_read_len() {
        Some(want) => {
            let mut chunk = vec![0_u8; want];
            let got = fill_async(file, &mut chunk)
                .await
                .map_err(|error| check.read_failed(error))?;
            check.record_read(want, got)?;
            chunk.truncate(got);
            Ok(Some(Bytes::from(chunk)))
        }
        None => {
            let mut probe = [0_u8; GROWTH_PROBE_LEN];
            let extra = fill_async(file, &mut probe)
                .await
                .map_err(|error| check.read_failed(error))?;
            let length_now = if extra > 0 {
                file.metadata().await.ok().map(|metadata| metadata.len())
            } else {
                None
            };
            check.record_probe(extra, length_now)?;
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use std::io::Seek;

    const TEST_SEED: u64 = 42;

    fn pattern(length: usize) -> Vec<u8> {
        (0..length).map(|index| (index % 251) as u8).collect()
    }

    fn write_file(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, contents).unwrap();
        path
    }

    fn spec(path: &Path, parameters: &[(&str, &str)], format: BodyFormat) -> BodySpec {
        BodySpec {
            file_path: path.to_path_buf(),
            file_key: "file".to_owned(),
            parameters: parameters
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            format,
        }
    }

    /// Collects the stream, checking every chunk's size.
    async fn collect_stream(body: Body) -> Result<Vec<u8>, BodyError> {
        let mut produced = Vec::new();
        let mut stream = std::pin::pin!(body.into_stream());
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            assert!(chunk.len() <= CHUNK_SIZE, "chunk of {} bytes", chunk.len());
            assert!(!chunk.is_empty(), "empty chunk");
            produced.extend_from_slice(&chunk);
        }
        Ok(produced)
    }

    struct ParsedPart {
        name: Option<String>,
        file_name: Option<String>,
        content_type: Option<String>,
        data: Vec<u8>,
    }

    /// Parses a body with `multer`, independent of the encoder.
    async fn parse_multipart(body: Vec<u8>, content_type: &str) -> Vec<ParsedPart> {
        let boundary = multer::parse_boundary(content_type).unwrap();
        let source = futures_util::stream::iter(
            body.chunks(1000)
                .map(|piece| Ok::<Bytes, io::Error>(Bytes::copy_from_slice(piece)))
                .collect::<Vec<_>>(),
        );
        let mut multipart = multer::Multipart::new(source, boundary);
        let mut parts = Vec::new();
        while let Some(field) = multipart.next_field().await.unwrap() {
            let name = field.name().map(str::to_owned);
            let file_name = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(ToString::to_string);
            let data = field.bytes().await.unwrap().to_vec();
            parts.push(ParsedPart {
                name,
                file_name,
                content_type,
                data,
            });
        }
        parts
    }

    #[tokio::test]
    async fn content_length_is_exact_for_many_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let sizes = [
            0,
            1,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            3 * CHUNK_SIZE + 17,
        ];
        for size in sizes {
            let contents = pattern(size);
            let path = write_file(dir.path(), "data.bin", &contents);
            for format in [BodyFormat::Multipart, BodyFormat::Raw] {
                let body =
                    Body::open_with_boundary_seed(&spec(&path, &[("a", "1")], format), TEST_SEED)
                        .unwrap();
                let streamed = collect_stream(body.clone()).await.unwrap();
                assert_eq!(streamed.len() as u64, body.content_length(), "size {size}");
                let mut written = Vec::new();
                let count = body.write_to(&mut written).unwrap();
                assert_eq!(count, body.content_length());
                assert_eq!(written, streamed, "stream and writer differ at size {size}");
            }
        }
    }

    #[tokio::test]
    async fn multipart_parses_back_with_fields_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let contents = pattern(2 * CHUNK_SIZE + 5);
        let path = write_file(dir.path(), "photo.jpg", &contents);
        let parameters = [("first", "1"), ("second", "two"), ("third", "")];
        let body =
            Body::open_with_boundary_seed(&spec(&path, &parameters, BodyFormat::Multipart), 7)
                .unwrap();
        assert!(
            body.content_type()
                .starts_with("multipart/form-data; boundary=")
        );
        let produced = collect_stream(body.clone()).await.unwrap();
        let parts = parse_multipart(produced, body.content_type()).await;
        assert_eq!(parts.len(), 4);
        for (part, (name, value)) in parts.iter().zip(parameters) {
            assert_eq!(part.name.as_deref(), Some(name));
            assert_eq!(part.file_name, None);
            assert_eq!(part.data, value.as_bytes());
        }
        let file_part = &parts[3];
        assert_eq!(file_part.name.as_deref(), Some("file"));
        assert_eq!(file_part.file_name.as_deref(), Some("photo.jpg"));
        assert_eq!(file_part.content_type.as_deref(), Some("image/jpeg"));
        assert_eq!(file_part.data, contents);
    }

    #[tokio::test]
    async fn hostile_names_are_escaped_and_values_sent_verbatim() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path(), "we\"ird\r\nname.txt", b"hello");
        let hostile_value = "quote \" crlf \r\n--not-a-boundary\r\n\r\nContent-Type: x\r\n";
        let spec = BodySpec {
            file_path: path,
            file_key: "key\"with\r\nbreaks".to_owned(),
            parameters: vec![
                ("na\"me\r\n".to_owned(), hostile_value.to_owned()),
                ("tab\tbell\u{7}del\u{7f}".to_owned(), "v".to_owned()),
            ],
            format: BodyFormat::Multipart,
        };
        let body = Body::open_with_boundary_seed(&spec, TEST_SEED).unwrap();
        let produced = collect_stream(body.clone()).await.unwrap();
        let parts = parse_multipart(produced, body.content_type()).await;
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].name.as_deref(), Some("na%22me%0D%0A"));
        assert_eq!(parts[0].data, hostile_value.as_bytes());
        assert_eq!(parts[1].name.as_deref(), Some("tab%09bell%07del%7F"));
        assert_eq!(parts[2].name.as_deref(), Some("key%22with%0D%0Abreaks"));
        assert_eq!(
            parts[2].file_name.as_deref(),
            Some("we%22ird%0D%0Aname.txt")
        );
        assert_eq!(parts[2].data, b"hello");
    }

    #[test]
    fn boundary_is_deterministic_per_seed_and_avoids_parameter_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path(), "a.txt", b"x");
        let plain = spec(&path, &[], BodyFormat::Multipart);
        let first = Body::open_with_boundary_seed(&plain, 1).unwrap();
        let again = Body::open_with_boundary_seed(&plain, 1).unwrap();
        let other = Body::open_with_boundary_seed(&plain, 2).unwrap();
        assert_eq!(first.boundary(), again.boundary());
        assert_ne!(first.boundary(), other.boundary());
        let boundary = first.boundary().unwrap().to_owned();
        assert!(
            boundary.len() <= 70,
            "RFC 2046 limits boundaries to 70 characters"
        );

        let colliding_value = format!("before {boundary} after");
        let colliding = spec(&path, &[("p", &colliding_value)], BodyFormat::Multipart);
        let avoided = Body::open_with_boundary_seed(&colliding, 1).unwrap();
        assert_ne!(avoided.boundary(), Some(boundary.as_str()));

        let random_a = Body::open(&plain).unwrap();
        let random_b = Body::open(&plain).unwrap();
        assert_ne!(random_a.boundary(), random_b.boundary());
    }

    #[tokio::test]
    async fn large_parameters_are_split_into_bounded_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path(), "a.txt", b"abc");
        let big_value = "v".repeat(3 * CHUNK_SIZE);
        let body = Body::open_with_boundary_seed(
            &spec(&path, &[("big", &big_value)], BodyFormat::Multipart),
            TEST_SEED,
        )
        .unwrap();
        let produced = collect_stream(body.clone()).await.unwrap();
        assert_eq!(produced.len() as u64, body.content_length());
        let parts = parse_multipart(produced, body.content_type()).await;
        assert_eq!(parts[0].data, big_value.as_bytes());
    }

    #[tokio::test]
    async fn raw_body_is_the_file_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let contents = pattern(CHUNK_SIZE + 3);
        let path = write_file(dir.path(), "image.png", &contents);
        let body =
            Body::open_with_boundary_seed(&spec(&path, &[("ignored", "x")], BodyFormat::Raw), 1)
                .unwrap();
        assert_eq!(body.content_type(), "image/png");
        assert_eq!(body.boundary(), None);
        assert_eq!(body.content_length(), contents.len() as u64);
        assert_eq!(collect_stream(body).await.unwrap(), contents);

        let unknown = write_file(dir.path(), "blob.unknownext", b"zz");
        let body = Body::open(&spec(&unknown, &[], BodyFormat::Raw)).unwrap();
        assert_eq!(body.content_type(), OCTET_STREAM);
    }

    #[test]
    fn missing_file_and_directory_are_refused_with_reference_messages() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.txt");
        let error = Body::open(&spec(&missing, &[], BodyFormat::Multipart)).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("File not found: {}", missing.display())
        );
        let error = Body::open(&spec(dir.path(), &[], BodyFormat::Multipart)).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("Not a regular file: {}", dir.path().display())
        );
    }

    fn assert_file_changed(result: Result<Vec<u8>, BodyError>, expected_len: u64) -> u64 {
        match result {
            Err(BodyError::FileChanged { expected, seen, .. }) => {
                assert_eq!(expected, expected_len);
                seen
            }
            other => panic!("expected FileChanged, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn file_shrinking_mid_stream_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let length = 3 * CHUNK_SIZE;
        let path = write_file(dir.path(), "data.bin", &pattern(length));
        let body = Body::open_with_boundary_seed(&spec(&path, &[], BodyFormat::Raw), 1).unwrap();
        let mut stream = std::pin::pin!(body.into_stream());
        let first = stream.next().await.unwrap().unwrap();
        assert_eq!(first.len(), CHUNK_SIZE);
        fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len((CHUNK_SIZE + 10) as u64)
            .unwrap();
        let mut outcome = Ok(Vec::new());
        while let Some(chunk) = stream.next().await {
            if let Err(error) = chunk {
                outcome = Err(error);
                break;
            }
        }
        let seen = assert_file_changed(outcome, length as u64);
        assert_eq!(seen, (CHUNK_SIZE + 10) as u64);
        assert!(
            stream.next().await.is_none(),
            "stream must end after an error"
        );
    }

    #[tokio::test]
    async fn file_growing_mid_stream_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let length = 2 * CHUNK_SIZE;
        let path = write_file(dir.path(), "data.bin", &pattern(length));
        let body =
            Body::open_with_boundary_seed(&spec(&path, &[], BodyFormat::Multipart), 1).unwrap();
        let mut stream = std::pin::pin!(body.into_stream());
        // The preamble, then the first file chunk.
        stream.next().await.unwrap().unwrap();
        stream.next().await.unwrap().unwrap();
        let mut appender = fs::OpenOptions::new().append(true).open(&path).unwrap();
        appender.write_all(b"extra bytes").unwrap();
        let mut outcome = Ok(Vec::new());
        while let Some(chunk) = stream.next().await {
            if let Err(error) = chunk {
                outcome = Err(error);
                break;
            }
        }
        let seen = assert_file_changed(outcome, length as u64);
        assert_eq!(seen, (length + b"extra bytes".len()) as u64);
    }

    #[tokio::test]
    async fn file_changed_or_removed_before_sending_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path(), "data.bin", &pattern(100));
        let body = Body::open(&spec(&path, &[], BodyFormat::Multipart)).unwrap();

        fs::write(&path, pattern(50)).unwrap();
        let seen = assert_file_changed(collect_stream(body.clone()).await, 100);
        assert_eq!(seen, 50);
        let seen = assert_file_changed(body.write_to(&mut Vec::new()).map(|_| Vec::new()), 100);
        assert_eq!(seen, 50);

        fs::remove_file(&path).unwrap();
        let seen = assert_file_changed(collect_stream(body.clone()).await, 100);
        assert_eq!(seen, 0);
        let error = body.write_to(&mut Vec::new()).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("changed while it was being sent"),
            "{error}"
        );
    }

    /// A writer that changes the file after the first chunk of file bytes.
    struct TruncatingWriter {
        path: PathBuf,
        received: usize,
        truncate_after: usize,
    }

    impl Write for TruncatingWriter {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.received += data.len();
            if self.received >= self.truncate_after {
                let mut file = fs::OpenOptions::new().write(true).open(&self.path)?;
                file.set_len(1)?;
                file.rewind()?;
            }
            Ok(data.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn write_to_detects_shrinking_file() {
        let dir = tempfile::tempdir().unwrap();
        let length = 4 * CHUNK_SIZE;
        let path = write_file(dir.path(), "data.bin", &pattern(length));
        let body = Body::open(&spec(&path, &[], BodyFormat::Raw)).unwrap();
        let mut writer = TruncatingWriter {
            path: path.clone(),
            received: 0,
            truncate_after: CHUNK_SIZE,
        };
        match body.write_to(&mut writer) {
            Err(BodyError::FileChanged { expected, seen, .. }) => {
                assert_eq!(expected, length as u64);
                assert!(seen < expected);
            }
            other => panic!("expected FileChanged, got {other:?}"),
        }
        assert_eq!(
            writer.received, CHUNK_SIZE,
            "nothing written after the change"
        );
    }
}
