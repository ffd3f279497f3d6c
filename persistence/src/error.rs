//! What can go wrong in a store.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// A store failure. It is `Clone` (sources are shared) so that one failed
/// group commit can hand the same error to every caller that joined it.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process (or another open store in this process) holds the
    /// store's `LOCK` file.
    #[error("store {dir} is locked by another process or another open store")]
    Locked { dir: PathBuf },

    /// An operating-system I/O error (or a simulated sync failure).
    #[error("I/O error while {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: Arc<io::Error>,
    },

    /// The storage engine found damaged files (journal, tables, manifest).
    #[error("store files are corrupt ({context}): {source}")]
    Corrupt {
        context: String,
        #[source]
        source: Arc<fjall::Error>,
    },

    /// Any other storage engine failure.
    #[error("storage engine failed while {context}: {source}")]
    Engine {
        context: String,
        #[source]
        source: Arc<fjall::Error>,
    },

    /// An earlier write or sync failed; the engine accepts no more writes
    /// until the store is reopened (what is on disk is unknown, so the
    /// process should restart and recover).
    #[error("store refuses writes after an earlier failed write or sync; reopen it")]
    Poisoned,

    /// A stored record could not be read back. Load fails; the store is
    /// never rewritten to get past it.
    #[error("cannot decode {keyspace} record {key}: {reason}")]
    Decode {
        keyspace: &'static str,
        key: String,
        reason: String,
    },

    /// Every record decodes, but together they are not a state the engine
    /// can have written (see `bgupload_fsm::Recovered::check`). Load
    /// fails; the store is left as it is.
    #[error("stored records do not fit together: {reason}")]
    Inconsistent { reason: String },

    /// A change could not be turned into a record (key empty or too long,
    /// value too large, serializer failure). Nothing was written.
    #[error("cannot encode {what}: {reason}")]
    Encode { what: String, reason: String },

    /// The store was written by a newer build.
    #[error("store format {found} is newer than this build reads (up to {supported})")]
    UnsupportedFormat { found: u32, supported: u32 },
}

impl StoreError {
    /// Whether the disk (or the user's quota) is full: the store released
    /// its space reserve, and a reopened store has room to finish what it
    /// accepted.
    pub fn is_storage_full(&self) -> bool {
        match self {
            // std maps ENOSPC and EDQUOT (and their kin elsewhere) here.
            StoreError::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
            ),
            _ => false,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> StoreError {
        StoreError::Io {
            context: context.into(),
            source: Arc::new(source),
        }
    }

    /// Sorts a fjall error into the kind a caller can act on.
    pub(crate) fn engine(
        context: impl Into<String>,
        dir: &std::path::Path,
        error: fjall::Error,
    ) -> StoreError {
        let context = context.into();
        match error {
            fjall::Error::Locked => StoreError::Locked {
                dir: dir.to_path_buf(),
            },
            fjall::Error::Poisoned => StoreError::Poisoned,
            fjall::Error::Io(source) => StoreError::io(context, source),
            fjall::Error::Storage(fjall::LsmError::Io(source)) => StoreError::io(context, source),
            fjall::Error::JournalRecovery(_)
            | fjall::Error::InvalidVersion(_)
            | fjall::Error::Decompress(_)
            | fjall::Error::InvalidTrailer
            | fjall::Error::InvalidTag(_)
            | fjall::Error::Unrecoverable
            | fjall::Error::Storage(_) => StoreError::Corrupt {
                context,
                source: Arc::new(error),
            },
            other => StoreError::Engine {
                context,
                source: Arc::new(other),
            },
        }
    }
}
