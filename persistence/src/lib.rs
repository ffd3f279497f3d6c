//! # bgupload-persistence — the crash-safe log
//!
//! Owns the crash-safe log of bgupload: the uploads that have not ended, the
//! terminal events the app has not acknowledged, and the engine metadata
//! (next event id, last configuration). It must not know HTTP, time or the
//! upload lifecycle rules — those belong to `bgupload-fsm`. It maps the
//! machine's [`Batch`] of [`Change`](bgupload_fsm::Change)s 1:1 onto storage
//! and hands the stored state back as a [`Recovered`].
//!
//! ## The contract ([`Store`])
//! - [`Store::apply`] writes the batches in order, each atomically (all its
//!   changes or none), and returns only once they are durable (fsynced).
//!   Several batches in one call share one sync; a driver gathers the
//!   machine's pending `PersistBatch` effects into one call.
//! - After a failed `apply`, [`Store::reopen`] makes the store usable
//!   again (fjall refuses writes after one); [`Store::restore_reserve`]
//!   says whether the space reserve is in place.
//! - [`Store::load`] reads everything back. A record that cannot be decoded
//!   fails the load with [`StoreError::Decode`] naming the keyspace and key;
//!   the store is never rewritten to get past it.
//!
//! ## Stores
//! - [`FjallStore`]: fjall on disk, one write batch + `SyncAll` per group
//!   of concurrent `apply` calls (group commit: leader/follower, no extra
//!   thread), one process at a time (`LOCK`), owner-only directory, a
//!   space reserve (`RESERVE`) released when the disk is full.
//! - [`SimStore`]: in memory for the deterministic simulator, with a
//!   volatile and a durable layer, crashes and failing syncs.
//!
//! ## Format ([`codec`])
//! Postcard values behind a version byte (current [`codec::RECORD_VERSION`]
//! = 2). Version 1 records (before queue control) are read as today's
//! ([`record_v1`]: the reference's status rule, no key, any network).
//! Format 0, the first one, stored uploads as
//! [`codec::LegacyUploadV0`]; they load as [`Recovered::legacy_uploads`],
//! which the machine fails with `errorCode` 500 and deletes. A newer store
//! format is refused ([`StoreError::UnsupportedFormat`]).
//!
//! ## Crashes
//! A crash in the middle of a write recovers to the last whole write batch
//! (fjall's journal recovery). `tests/store_crash.rs` at the workspace root
//! SIGKILLs a writer process hundreds of times and checks the store is
//! always exactly a whole prefix of the batches; `tests/torn_tail.rs` here
//! cuts the journal at every byte of its last batch.
//!
//! ## Files
//! The store directory is created `0o700` (an existing one is narrowed)
//! and `LOCK` `0o600`; fjall creates its own files under `db/` with the
//! process umask, shielded by the owner-only directories.

pub mod codec;
mod error;
mod fjall_store;
mod group;
mod private_dir;
pub mod record_v1;
mod reserve;
mod sim_store;

pub use codec::{LegacyUploadV0, Space};
pub use error::StoreError;
pub use fjall_store::{DATABASE_DIR, FjallStore, MAX_JOURNAL_BYTES};
pub use private_dir::{DIR_MODE, FILE_MODE, LOCK_FILE};
pub use reserve::{DEFAULT_RESERVE_BYTES, MAX_RESERVE_BYTES, RESERVE_FILE};
pub use sim_store::{SimCounters, SimStore};

use bgupload_fsm::{Batch, Recovered};

/// Where the machine's batches go and where its state comes back from.
pub trait Store: Send + Sync {
    /// Everything stored: uploads, unacknowledged events in event id order,
    /// metadata, and records of the previous format.
    fn load(&self) -> Result<Recovered, StoreError>;

    /// Applies `batches` in order, each atomically, and returns once all of
    /// them are durable. On error, none of them may be assumed durable (nor
    /// lost): the caller should stop and recover from [`Store::load`] after
    /// reopening.
    fn apply(&self, batches: &[Batch]) -> Result<(), StoreError>;

    /// After a failed [`Store::apply`]: opens the store again and makes
    /// durable what it holds, so that [`Store::load`] shows durable state
    /// and `apply` works again. What the failed call wrote may or may not
    /// be part of it. An error means the store stays unusable.
    fn reopen(&self) -> Result<(), StoreError>;

    /// Whether the store's space reserve is in place, putting it back first
    /// when it was released (by a write that found the disk full) and the
    /// disk has room again. A store without a reserve answers `true`.
    fn restore_reserve(&self) -> bool;
}

/// Counts of a store's work since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// `apply` calls that had something to write.
    pub applies: u64,
    /// Batches in those calls.
    pub batches: u64,
    /// Syncs (fsyncs) carried out, failed ones included. With group commit
    /// this is at most `applies`.
    pub syncs: u64,
    /// [`Store::reopen`] calls.
    pub reopens: u64,
}

impl<S: Store + ?Sized> Store for &S {
    fn load(&self) -> Result<Recovered, StoreError> {
        (**self).load()
    }

    fn apply(&self, batches: &[Batch]) -> Result<(), StoreError> {
        (**self).apply(batches)
    }

    fn reopen(&self) -> Result<(), StoreError> {
        (**self).reopen()
    }

    fn restore_reserve(&self) -> bool {
        (**self).restore_reserve()
    }
}

impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn load(&self) -> Result<Recovered, StoreError> {
        (**self).load()
    }

    fn apply(&self, batches: &[Batch]) -> Result<(), StoreError> {
        (**self).apply(batches)
    }

    fn reopen(&self) -> Result<(), StoreError> {
        (**self).reopen()
    }

    fn restore_reserve(&self) -> bool {
        (**self).restore_reserve()
    }
}

impl<S: Store + ?Sized> Store for Box<S> {
    fn load(&self) -> Result<Recovered, StoreError> {
        (**self).load()
    }

    fn apply(&self, batches: &[Batch]) -> Result<(), StoreError> {
        (**self).apply(batches)
    }

    fn reopen(&self) -> Result<(), StoreError> {
        (**self).reopen()
    }

    fn restore_reserve(&self) -> bool {
        (**self).restore_reserve()
    }
}
