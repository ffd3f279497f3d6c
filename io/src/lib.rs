//! bgupload-io: the engine's contact with the outside world — HTTP
//! multipart encoding ([`multipart`]), transports ([`transport`]), the tokio
//! driver that runs the state machine with the store and a transport
//! ([`driver`]), and the app-facing event JSON ([`event_json`]).
//!
//! This crate must not contain upload lifecycle decisions (retries, limits,
//! events, acknowledgement): those live in `bgupload-fsm`. Code here carries
//! out the effects the state machine hands out and reports back what
//! happened. It is what the mobile library links, so it must not depend on
//! the program's crates (clap, indicatif, axum, dirs, tracing-subscriber):
//! the program and its receiver live in the root package `bgupload`.

pub mod clock;
pub mod driver;
pub mod event_json;
pub mod listing;
pub mod multipart;
pub mod panic;
pub mod retry_after;
pub mod seed;
pub mod transport;

pub use driver::{CommandError, Engine, EngineError, EngineOptions, EventSink, StoreCalls};
pub use event_json::event_to_json;
pub use listing::{ListedUpload, UploadListing};
pub use panic::panic_message;
pub use seed::fresh_seed;
pub use transport::{HttpConfig, HttpTransport, Transport};
