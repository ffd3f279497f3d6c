//! bgupload-io: everything that touches the outside world for the upload
//! engine — HTTP multipart encoding ([`multipart`]), transports, the tokio
//! driver that runs the state machine with the store and a transport, the
//! `bgupload` command-line program, and an embedded upload receiver
//! ([`receiver`]) for tests, `bgupload serve` and the demo.
//!
//! This crate must not contain upload lifecycle decisions (retries, limits,
//! events, acknowledgement): those live in `bgupload-fsm`. Code here carries
//! out the effects the state machine hands out and reports back what happened.

pub mod driver;
pub mod event_json;
pub mod multipart;
pub mod receiver;
pub mod transport;

pub use driver::{CommandError, Engine, EngineError, EngineOptions, EventSink, StoreCalls};
pub use event_json::event_to_json;
pub use transport::{HttpConfig, HttpTransport, Transport};
