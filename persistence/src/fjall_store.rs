//! The on-disk store: one fjall database, one write batch and one fsync per
//! group of concurrent `apply` calls.

use crate::codec::{self, FORMAT_KEY, Loader, Op, STORE_FORMAT, Space};
use crate::error::StoreError;
use crate::group::GroupCommit;
use crate::private_dir::{create_private_dir, lock_dir};
use crate::reserve::{DEFAULT_RESERVE_BYTES, Reserve};
use crate::{Store, StoreStats};
use bgupload_fsm::{Batch, Recovered};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode, Readable};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

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
/// Layout of `dir`: `LOCK` (held exclusively while open), `RESERVE` (the
/// space reserve, real bytes released when the disk is full) and `db/`
/// (the fjall database with the keyspaces `uploads`, `events` and `meta`;
/// see [`crate::codec`] for keys and values). `dir` and `db/` are
/// owner-only.
///
/// Every [`Store::apply`] call is one atomic fjall write batch committed
/// with [`PersistMode::SyncAll`]; concurrent calls share one write batch and
/// one sync (group commit), and each returns once its own batches are
/// durable, or with the error of the commit they joined. After a failed
/// write or sync fjall refuses further writes ([`StoreError::Poisoned`]):
/// [`Store::reopen`], then load and recover. A write that finds the disk
/// full first releases the reserve, so the reopened store has room to
/// finish what it accepted.
pub struct FjallStore {
    /// The open database; `None` only after a reopen that failed.
    open: RwLock<Option<OpenDatabase>>,
    reserve: Reserve,
    group: GroupCommit<Op>,
    applies: AtomicU64,
    batches: AtomicU64,
    reopens: AtomicU64,
    dir: PathBuf,
    /// Dropped last: the database closes before another process may open it.
    _lock: File,
}

/// One opening of the fjall database.
struct OpenDatabase {
    db: Database,
    uploads: Keyspace,
    events: Keyspace,
    meta: Keyspace,
}

impl OpenDatabase {
    fn keyspace(&self, space: Space) -> &Keyspace {
        match space {
            Space::Uploads => &self.uploads,
            Space::Events => &self.events,
            Space::Meta => &self.meta,
        }
    }
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
    /// Opens the store in `dir`, creating it (owner-only) when missing,
    /// with a space reserve of [`DEFAULT_RESERVE_BYTES`].
    ///
    /// Fails with [`StoreError::Locked`] when another process (or another
    /// open `FjallStore`) holds `dir`, and with
    /// [`StoreError::UnsupportedFormat`] when a newer build wrote it. A store
    /// of the previous format (no format key) is marked current; its legacy
    /// records stay until the machine deletes them.
    pub fn open(dir: &Path) -> Result<FjallStore, StoreError> {
        FjallStore::open_with_reserve(dir, DEFAULT_RESERVE_BYTES)
    }

    /// [`FjallStore::open`] with a space reserve of `reserve_bytes` (at
    /// most [`crate::MAX_RESERVE_BYTES`]; 0 keeps none). On a full disk the open
    /// releases the reserve and tries once more.
    pub fn open_with_reserve(dir: &Path, reserve_bytes: u64) -> Result<FjallStore, StoreError> {
        create_private_dir(dir)?;
        let lock = lock_dir(dir)?;
        let reserve = Reserve::open(dir, reserve_bytes);
        let open = match open_database(dir) {
            Err(error) if error.is_storage_full() && reserve.release() => open_database(dir)?,
            other => other?,
        };
        let store = FjallStore {
            open: RwLock::new(Some(open)),
            reserve,
            group: GroupCommit::new(),
            applies: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            reopens: AtomicU64::new(0),
            dir: dir.to_path_buf(),
            _lock: lock,
        };
        store.check_format()?;
        Ok(store)
    }

    /// Refuses a newer store; marks an older or new one as current.
    fn check_format(&self) -> Result<(), StoreError> {
        let stored = self.with_open(|open| {
            open.meta
                .get(FORMAT_KEY)
                .map_err(|error| self.engine("reading the store format", error))
        })?;
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
            reopens: self.reopens.load(Ordering::Relaxed),
        }
    }

    fn engine(&self, context: &str, error: fjall::Error) -> StoreError {
        StoreError::engine(context, &self.dir, error)
    }

    /// Runs `call` on the open database.
    fn with_open<R>(
        &self,
        call: impl FnOnce(&OpenDatabase) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let open = self.open.read().unwrap_or_else(PoisonError::into_inner);
        match open.as_ref() {
            Some(open) => call(open),
            None => Err(StoreError::Poisoned),
        }
    }

    /// Writes `ops` as one write batch and syncs it. A full disk releases
    /// the reserve, so that the reopened store has room.
    fn commit(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        // One write per key, the last one: fjall gives every item of a write
        // batch the same sequence number, so two writes to one key in one
        // batch would not be ordered.
        let mut last: BTreeMap<(Space, Vec<u8>), Option<Vec<u8>>> = BTreeMap::new();
        for op in ops {
            last.insert((op.space, op.key), op.value);
        }
        let result = self.with_open(|open| {
            let mut batch = open.db.batch().durability(Some(PersistMode::SyncAll));
            for ((space, key), value) in last {
                match value {
                    Some(value) => batch.insert(open.keyspace(space), key, value),
                    None => batch.remove(open.keyspace(space), key),
                }
            }
            batch
                .commit()
                .map_err(|error| self.engine("writing and syncing a batch", error))
        });
        if result.as_ref().is_err_and(StoreError::is_storage_full) {
            self.reserve.release();
        }
        result
    }

    /// Closes the database and opens it again (the `LOCK` stays held), then
    /// syncs what it holds. (Flushing memtables would not give a full disk
    /// any room back: fjall drops journals only once one passes 64 MB.)
    fn reopen_database(&self) -> Result<(), StoreError> {
        let mut open = self.open.write().unwrap_or_else(PoisonError::into_inner);
        // fjall's own lock is released only once the old database is gone.
        drop(open.take());
        self.reopens.fetch_add(1, Ordering::Relaxed);
        let reopened = open_database(&self.dir)?;
        reopened
            .db
            .persist(PersistMode::SyncAll)
            .map_err(|error| self.engine("syncing the reopened database", error))?;
        *open = Some(reopened);
        Ok(())
    }
}

/// Opens the fjall database under `dir` with its three keyspaces.
fn open_database(dir: &Path) -> Result<OpenDatabase, StoreError> {
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
    Ok(OpenDatabase {
        uploads: keyspace(Space::Uploads)?,
        events: keyspace(Space::Events)?,
        meta: keyspace(Space::Meta)?,
        db,
    })
}

impl Store for FjallStore {
    fn load(&self) -> Result<Recovered, StoreError> {
        self.with_open(|open| {
            // One snapshot: the three keyspaces as of one instant.
            let snapshot = open.db.snapshot();
            let mut loader = Loader::new();
            for space in Space::ALL {
                for guard in snapshot.iter(open.keyspace(space)) {
                    let (key, value) = guard.into_inner().map_err(|error| {
                        self.engine(&format!("reading {}", space.name()), error)
                    })?;
                    loader.push(space, &key, &value)?;
                }
            }
            loader.finish()
        })
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

    fn reopen(&self) -> Result<(), StoreError> {
        self.reopen_database()
    }

    fn restore_reserve(&self) -> bool {
        self.reserve.restore()
    }
}
