//! The receiver's bounds against a hostile client: a bounded history, a
//! bound on each part header, a connection cap and an idle timeout, and
//! file numbers that go on after the files already in the directory.

use super::{MAX_HISTORY, MAX_HISTORY_PARAMETER_BYTES, MAX_PART_HEADER_BYTES, ReceivedFile};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// The newest answered uploads, bounded in count and in text-field bytes.
#[derive(Default)]
pub(super) struct History {
    pub(super) records: VecDeque<ReceivedFile>,
    parameter_bytes: usize,
    answered: u64,
}

impl History {
    /// Numbers `record` and keeps it, dropping the oldest beyond the bounds.
    pub(super) fn push(&mut self, mut record: ReceivedFile) {
        self.answered += 1;
        record.number = self.answered;
        self.parameter_bytes += parameter_bytes(&record);
        self.records.push_back(record);
        while self.records.len() > MAX_HISTORY
            || (self.parameter_bytes > MAX_HISTORY_PARAMETER_BYTES && self.records.len() > 1)
        {
            let Some(oldest) = self.records.pop_front() else {
                break;
            };
            self.parameter_bytes -= parameter_bytes(&oldest);
        }
    }
}

fn parameter_bytes(record: &ReceivedFile) -> usize {
    record
        .parameters
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum()
}

/// The number after the highest `N-…` file already in `dir`, so that a
/// restarted receiver never reuses a stored file's name.
pub(super) fn next_free_file_number(dir: &Path) -> io::Result<u64> {
    let mut highest = 0u64;
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let number = name
            .to_str()
            .and_then(|name| name.split_once('-'))
            .and_then(|(digits, _)| digits.parse::<u64>().ok());
        highest = highest.max(number.unwrap_or(0));
    }
    Ok(highest.saturating_add(1))
}

/// `body`, ended with an error (and `too_long` set) as soon as a part's
/// header runs past [`MAX_PART_HEADER_BYTES`]: the bytes after a delimiter
/// line and before its blank line are counted across chunks.
pub(super) fn bounded_part_headers<E>(
    body: impl Stream<Item = Result<Bytes, E>> + Send + 'static,
    boundary: &str,
    too_long: Arc<AtomicBool>,
) -> impl Stream<Item = Result<Bytes, io::Error>> + Send + 'static
where
    E: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    let mut scanner = HeaderScanner::new(boundary);
    body.map(move |chunk| {
        let chunk = chunk.map_err(io::Error::other)?;
        if scanner.feed(&chunk) {
            too_long.store(true, Ordering::Relaxed);
            return Err(io::Error::other("a part header is too long"));
        }
        Ok(chunk)
    })
}

/// Finds delimiter lines (`--boundary`) and measures the header after
/// each, in time linear in the body (memchr's substring search).
struct HeaderScanner {
    delimiter: memchr::memmem::Finder<'static>,
    delimiter_length: usize,
    /// The last bytes seen, to find a delimiter or a blank line split
    /// across chunks.
    tail: Vec<u8>,
    /// Header bytes since the last delimiter, while inside a header.
    in_header: Option<usize>,
}

impl HeaderScanner {
    fn new(boundary: &str) -> HeaderScanner {
        let delimiter = format!("--{boundary}").into_bytes();
        HeaderScanner {
            delimiter_length: delimiter.len(),
            delimiter: memchr::memmem::Finder::new(&delimiter).into_owned(),
            tail: Vec::new(),
            in_header: None,
        }
    }

    /// Whether a header went past the bound.
    fn feed(&mut self, chunk: &[u8]) -> bool {
        let mut window = std::mem::take(&mut self.tail);
        window.extend_from_slice(chunk);
        let mut position = 0;
        loop {
            match self.in_header {
                Some(length) => match memchr::memmem::find(&window[position..], b"\r\n\r\n") {
                    Some(end) => {
                        if length + end > MAX_PART_HEADER_BYTES {
                            return true;
                        }
                        self.in_header = None;
                        position += end + 4;
                    }
                    None => {
                        let length = length + (window.len() - position);
                        if length > MAX_PART_HEADER_BYTES {
                            return true;
                        }
                        // The last 3 bytes come again with the next chunk.
                        let kept = window.len().saturating_sub(3).max(position);
                        self.in_header = Some(length - (window.len() - kept));
                        self.tail = window.split_off(kept);
                        return false;
                    }
                },
                None => match self.delimiter.find(&window[position..]) {
                    Some(start) => {
                        self.in_header = Some(0);
                        position += start + self.delimiter_length;
                    }
                    None => {
                        let kept = window
                            .len()
                            .saturating_sub(self.delimiter_length - 1)
                            .max(position);
                        self.tail = window.split_off(kept);
                        return false;
                    }
                },
            }
        }
    }
}

/// The receiver's listener: at most `max` connections at once (the next
/// waits to be accepted), each closed after `idle` of silence.
pub(super) struct BoundedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    idle: Duration,
}

impl BoundedListener {
    pub(super) fn new(inner: TcpListener, max: usize, idle: Duration) -> BoundedListener {
        BoundedListener {
            inner,
            permits: Arc::new(Semaphore::new(max)),
            idle,
        }
    }
}

impl axum::serve::Listener for BoundedListener {
    type Io = IdleStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (IdleStream, SocketAddr) {
        loop {
            let Ok(permit) = Arc::clone(&self.permits).acquire_owned().await else {
                // The semaphore is never closed; wait as a full one would.
                std::future::pending::<()>().await;
                continue;
            };
            match self.inner.accept().await {
                Ok((stream, addr)) => return (IdleStream::new(stream, permit, self.idle), addr),
                // A failed accept (out of descriptors, a reset): go on.
                Err(error) => {
                    tracing::debug!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A connection that fails with `TimedOut` after `idle` without a byte in
/// either direction, and holds its connection permit while open.
pub(super) struct IdleStream {
    stream: TcpStream,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    _permit: OwnedSemaphorePermit,
}

impl IdleStream {
    fn new(stream: TcpStream, permit: OwnedSemaphorePermit, idle: Duration) -> IdleStream {
        IdleStream {
            stream,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
            _permit: permit,
        }
    }

    /// The idle rule over one poll of the stream: progress resets the
    /// deadline; waiting past it is a `TimedOut` error.
    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match poll {
            Poll::Ready(result) => {
                let next = Instant::now() + self.idle;
                self.deadline.as_mut().reset(next);
                Poll::Ready(result)
            }
            Poll::Pending if self.deadline.as_mut().poll(cx).is_ready() => {
                Poll::Ready(Err(idle_error()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

fn idle_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection idle for too long")
}

impl AsyncRead for IdleStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_read(cx, buf);
        this.watch(cx, poll)
    }
}

impl AsyncWrite for IdleStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_write(cx, data);
        this.watch(cx, poll)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::{HeaderScanner, History};
    use crate::receiver::{
        MAX_HISTORY, MAX_HISTORY_PARAMETER_BYTES, MAX_PART_HEADER_BYTES, ReceivedFile,
    };

    fn record(parameter_bytes: usize) -> ReceivedFile {
        ReceivedFile {
            number: 0,
            path_on_disk: std::path::PathBuf::from("/x"),
            original_filename: "x".to_owned(),
            file_key: None,
            size: 0,
            sha256: String::new(),
            parameters: vec![("p".to_owned(), "v".repeat(parameter_bytes))],
            headers: std::collections::BTreeMap::new(),
            method: "POST".to_owned(),
            request_path: "/".to_owned(),
            status: 201,
        }
    }

    #[test]
    fn history_keeps_the_newest_within_both_bounds() {
        let mut history = History::default();
        for _ in 0..MAX_HISTORY + 10 {
            history.push(record(0));
        }
        assert_eq!(history.records.len(), MAX_HISTORY);
        assert_eq!(history.records.front().map(|r| r.number), Some(11));
        let big = 1024 * 1024;
        for _ in 0..20 {
            history.push(record(big));
        }
        let kept: usize = history
            .records
            .iter()
            .map(|r| r.parameters[0].1.len() + 1)
            .sum();
        assert!(kept <= MAX_HISTORY_PARAMETER_BYTES, "{kept}");
        assert_eq!(
            history.records.back().map(|r| r.number),
            Some(MAX_HISTORY as u64 + 30)
        );
    }

    #[test]
    fn part_headers_are_measured_across_chunks() {
        let mut scanner = HeaderScanner::new("b");
        let normal = b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n--b--\r\n";
        for chunk in normal.chunks(3) {
            assert!(!scanner.feed(chunk));
        }
        let mut hostile = HeaderScanner::new("b");
        assert!(!hostile.feed(b"--b\r\nX-Long: "));
        let endless = vec![b'x'; 1024];
        let fed = (0..MAX_PART_HEADER_BYTES / 1024 + 2).any(|_| hostile.feed(&endless));
        assert!(fed, "a header that never ends is stopped");
        // A file's content after the header's blank line is not a header.
        let mut file = HeaderScanner::new("b");
        assert!(!file.feed(b"--b\r\nContent-Type: a/b\r\n\r\n"));
        assert!((0..64).all(|_| !file.feed(&endless)));
    }
}
