//! # bgupload-ffi — the mobile boundary
//!
//! Owns the boundary between the upload engine and a mobile host: one
//! engine per process ([`core`]), commands in as JSON text, events out as
//! the reference plugin's JSON objects through one host callback.
//!
//! - [`core`]: the host-independent API (`open`, `init`, `start_upload`,
//!   `remove_upload`, `acknowledge_event`, `destroy`,
//!   `set_network_reachable`, `report_transfer`, `close`); every call
//!   catches panics and returns `Ok` or a clear [`FfiError`].
//! - [`json`]: decoding of every JSON argument, in one place.
//! - [`delivery`]: the thread that calls the host's event callback.
//! - [`host_transfer`]: OS-owned transfers (iOS background sessions) as a
//!   `Transport` whose attempts the host runs from prepared body files.
//! - `android` (not on iOS): `jni` exports for `com.bgupload.Native`.
//! - `ios` (on iOS): the `swift-bridge` bridge; `build.rs` generates its
//!   Swift and C header files.
//!
//! This crate must not contain upload lifecycle rules (validation,
//! retries, limits, events, acknowledgement): those are `bgupload-fsm`'s.
//! It decodes, forwards, and reports.

pub mod core;
pub mod delivery;
pub mod error;
pub mod host_transfer;
pub mod json;

#[cfg(not(target_os = "ios"))]
pub mod android;

#[cfg(any(target_os = "ios", feature = "swift-host", test))]
pub mod ios;

pub use error::FfiError;
