//! The on-disk store: one fjall database, one write batch and one fsync per
//! group of concurrent `apply` calls.

use crate::codec::{self, FORMAT_KEY, Loader, Op, STORE_FORMAT, Space};
use crate::error::StoreError;
use crate::group::GroupCommit;
use crate::private_dir::{create_private_dir, lock_dir};
use crate::{Store, StoreStats};
use bgupload_fsm::{Batch, Recovered};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode, Readable};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Sub-directory of the store directory that holds the fjall database. It
/// is kept apart from `LOCK` because fjall has its own `lock` file, the
/// same name as ours on a case-insensitive file system.
pub const DATABASE_DIR: &str = "db";

/// Bound on fjall's journal files (fjall's default is 512 MiB; 64 MiB is
/// its minimum). Past it, memtables are flushed and old journals dropped,
/// which also bounds the journal replay at open.
pub const MAX_JOURNAL_BYTES: u64 = 64 * 1_024 * 1_024;

/// The crash-safe store on disk.
///
/// Layout of `dir`: `LOCK` (held exclusively while open) and `db/` (the
/// fjall database with the keyspaces `uploads`, `events` and `meta`; see
/// [`crate::codec`] for keys and values). `dir` and `db/` are owner-only.
///
/// Every [`Store::apply`] call is one atomic fjall write batch committed
/// with [`PersistMode::SyncAll`]; concurrent calls share one write batch and
/// one sync (group commit), and each returns once its own batches are
/// durable, or with the error of the commit they joined. After a failed
/// write or sync fjall refuses further writes ([`StoreError::Poisoned`]):
/// reopen (restart) and recover.
pub struct FjallStore {
    db: Database,
    uploads: Keyspace,
    events: Keyspace,
    meta: Keyspace,
    group: GroupCommit<Op>,
    applies: AtomicU64,
    batches: AtomicU64,
    dir: PathBuf,
    /// Dropped last: the database closes before another process may open it.
    _lock: File,
}

impl std::fmt::Debug for FjallStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallStore")
            .field("dir", &self.dir)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl FjallStore {
    /// Opens the store in `dir`, creating it (owner-only) when missing.
    ///
    /// Fails with [`StoreError::Locked`] when another process (or another
    /// open `FjallStore`) holds `dir`, and with
    /// [`StoreError::UnsupportedFormat`] when a newer build wrote it. A store
    /// of the previous format (no format key) is marked current; its legacy
    /// records stay until the machine deletes them.
    pub fn open(dir: &Path) -> Result<FjallStore, StoreError> {
        create_private_dir(dir)?;
        let lock = lock_dir(dir)?;
        let db_dir = dir.join(DATABASE_DIR);
        create_private_dir(&db_dir)?;
        let engine = |context: &str, error| StoreError::engine(context, dir, error);
        let db = Database::builder(&db_dir)
            .max_journaling_size(MAX_JOURNAL_BYTES)
            .open()
            .map_err(|error| engine("opening the database", error))?;
        let keyspace = |space: Space| {
            db.keyspace(space.name(), KeyspaceCreateOptions::default)
                .map_err(|error| engine(&format!("opening keyspace {}", space.name()), error))
        };
        let store = FjallStore {
            uploads: keyspace(Space::Uploads)?,
            events: keyspace(Space::Events)?,
            meta: keyspace(Space::Meta)?,
            db,
            group: GroupCommit::new(),
            applies: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            dir: dir.to_path_buf(),
            _lock: lock,
        };
        store.check_format()?;
        Ok(store)
    }

    /// Refuses a newer store; marks an older or new one as current.
    fn check_format(&self) -> Result<(), StoreError> {
        let stored = self
            .meta
            .get(FORMAT_KEY)
            .map_err(|error| self.engine("reading the store format", error))?;
        if let Some(value) = stored {
            match codec::decode_record(Space::Meta, FORMAT_KEY, &value)? {
                codec::Record::Format(found) if found == STORE_FORMAT => return Ok(()),
                codec::Record::Format(found) => codec::check_format(found)?,
                other => {
                    return Err(StoreError::Decode {
                        keyspace: Space::Meta.name(),
                        key: codec::show_key(Space::Meta, FORMAT_KEY),
                        reason: format!("expected the store format, found {other:?}"),
                    });
                }
            }
        }
        self.commit(vec![Op {
            space: Space::Meta,
            key: FORMAT_KEY.to_vec(),
            value: Some(codec::encode_format()?),
        }])
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Counts since open.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            applies: self.applies.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            syncs: self.group.commits(),
        }
    }

    fn engine(&self, context: &str, error: fjall::Error) -> StoreError {
        StoreError::engine(context, &self.dir, error)
    }

    fn keyspace(&self, space: Space) -> &Keyspace {
        match space {
            Space::Uploads => &self.uploads,
            Space::Events => &self.events,
            Space::Meta => &self.meta,
        }
    }

    /// Writes `ops` as one write batch and syncs it.
    fn commit(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        // One write per key, the last one: fjall gives every item of a write
        // batch the same sequence number, so two writes to one key in one
        // batch would not be ordered.
        let mut last: BTreeMap<(Space, Vec<u8>), Option<Vec<u8>>> = BTreeMap::new();
        for op in ops {
            last.insert((op.space, op.key), op.value);
        }
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        for ((space, key), value) in last {
            match value {
                Some(value) => batch.insert(self.keyspace(space), key, value),
                None => batch.remove(self.keyspace(space), key),
            }
        }
        batch
            .commit()
            .map_err(|error| self.engine("writing and syncing a batch", error))
    }
}

impl Store for FjallStore {
    fn load(&self) -> Result<Recovered, StoreError> {
        // One snapshot: the three keyspaces as of one instant.
        let snapshot = self.db.snapshot();
        let mut loader = Loader::new();
        for space in Space::ALL {
            for guard in snapshot.iter(self.keyspace(space)) {
                let (key, value) = guard
                    .into_inner()
                    .map_err(|error| self.engine(&format!("reading {}", space.name()), error))?;
                loader.push(space, &key, &value)?;
            }
        }
        loader.finish()
    }

    fn apply(&self, batches: &[Batch]) -> Result<(), StoreError> {
        // Encoded by the caller's thread, before joining a group: a change
        // that cannot be encoded fails this call alone, with nothing written.
        let ops = codec::encode_batches(batches)?;
        if ops.is_empty() {
            return Ok(());
        }
        self.applies.fetch_add(1, Ordering::Relaxed);
        self.batches
            .fetch_add(batches.len() as u64, Ordering::Relaxed);
        self.group.submit(ops, |ops| self.commit(ops))
    }
}
