//! # bgupload
//!
//! The root package. It owns:
//! - the `bgupload` command-line program (`src/main.rs`, `src/cli/`): add,
//!   run, events, ack, remove, list, serve, demo;
//! - [`receiver`], the embedded upload receiver that `serve`, `demo` and
//!   the tests use;
//! - the cross-crate integration tests in `tests/`;
//! - re-exports of the layers, so an application depends on one crate.
//!
//! It must not hold upload behaviour: that lives in the layers (see
//! `../shared/DESIGN.md`), and the mobile library (`bgupload-ffi`) never
//! compiles this package's dependencies (clap, indicatif, axum, dirs,
//! tracing-subscriber).

pub use bgupload_fsm as fsm;
pub use bgupload_io as io;
pub use bgupload_persistence as persistence;

pub mod pattern;
pub mod receiver;
