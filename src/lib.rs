//! # bgupload
//!
//! The facade: re-exports the layers so an application depends on one crate.
//! It owns the cross-crate integration tests in `tests/` and nothing else;
//! behaviour lives in the layers (see `../shared/DESIGN.md`).

pub use bgupload_fsm as fsm;
pub use bgupload_io as io;
pub use bgupload_persistence as persistence;
