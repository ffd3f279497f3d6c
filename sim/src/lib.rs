//! # bgupload-sim — deterministic fault simulation
//!
//! Owns the turmoil world in which the real driver (`bgupload-io`'s
//! `Engine`, with the real state machine) runs against a simulated upload
//! server over a simulated network, with `SimStore` as its disk: network
//! partitions (also one-way, so the server has the file and the app never
//! hears), held and slow links, server errors, slow answers and dropped
//! connections, app kills and relaunches at arbitrary moments (unsynced
//! writes lost), failing syncs, network reachability flips, and app
//! commands racing transfers. Two ownership modes: engine-owned transfers
//! die with the app; OS-owned ones run on an `os` host that outlives it.
//!
//! Every run is a function of its seed: turmoil's epoch and `rng_seed` are
//! fixed, all maps are ordered, selects are `biased`. A failing seed is
//! printed as `BGUPLOAD_SEED=<n>`; setting that variable replays it.
//!
//! It must not change what it tests: no special paths in the engine for
//! the simulator beyond the `Store`/`Transport` seams every host uses.

pub mod checker;
pub mod run;
pub mod scenario;
pub mod wire;
pub mod world;

pub use run::{SeedReport, run_seed};
pub use scenario::Mode;
