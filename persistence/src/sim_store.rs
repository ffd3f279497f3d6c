//! An in-memory store for the deterministic simulator that models a disk:
//! writes land in a volatile layer and only a sync makes them durable.

use crate::codec::{self, FORMAT_KEY, Loader, Space};
use crate::error::StoreError;
use crate::{Store, StoreStats};
use bgupload_fsm::{Batch, Recovered};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

type Key = (Space, Vec<u8>);

/// A simulated disk holding one store. Cloning gives another handle on the
/// same disk, so a simulated host can "restart" and load what survived.
///
/// Each [`Store::apply`] writes its changes (encoded with the same codec as
/// [`crate::FjallStore`]) into the volatile layer, then syncs: the volatile
/// layer moves into the durable layer and the call returns `Ok`. Reads see
/// both layers, as a live process sees its own unsynced writes.
/// [`SimStore::crash`] throws the volatile layer away. With
/// [`SimStore::fail_next_syncs`] a sync fails instead: the writes stay in
/// the volatile layer (lost at a crash, made durable by the next successful
/// sync or [`Store::reopen`]) and the caller gets an error. With
/// [`SimStore::set_full`] the disk fills up.
///
/// Deterministic: ordered maps only, no clock, no randomness.
#[derive(Clone, Debug)]
pub struct SimStore {
    disk: Arc<Mutex<SimDisk>>,
}

#[derive(Debug)]
struct SimDisk {
    durable: BTreeMap<Key, Vec<u8>>,
    /// Unsynced writes over `durable`; `None` deletes.
    volatile: BTreeMap<Key, Option<Vec<u8>>>,
    failing_syncs: u64,
    /// The disk has no free space beyond the store's reserve.
    full: bool,
    /// The store's space reserve is there (released by the first write
    /// that finds the disk full; its room then takes every later write).
    reserve_in_place: bool,
    counters: SimCounters,
}

/// What happened to a [`SimStore`]'s disk, for the simulator's summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimCounters {
    /// `apply` calls that had something to write.
    pub applies: u64,
    /// Batches in those calls.
    pub batches: u64,
    /// Successful syncs.
    pub syncs: u64,
    /// Syncs failed on purpose ([`SimStore::fail_next_syncs`]).
    pub failed_syncs: u64,
    /// Calls to [`SimStore::crash`].
    pub crashes: u64,
    /// Calls to [`Store::reopen`].
    pub reopens: u64,
    /// Unsynced key writes thrown away by crashes.
    pub lost_writes: u64,
}

impl Default for SimStore {
    fn default() -> Self {
        SimStore::new()
    }
}

impl SimStore {
    /// An empty store of the current format.
    pub fn new() -> SimStore {
        let mut durable = BTreeMap::new();
        // Cannot fail: a u32 always encodes; an empty map is fine otherwise.
        if let Ok(format) = codec::encode_format() {
            durable.insert((Space::Meta, FORMAT_KEY.to_vec()), format);
        }
        SimStore {
            disk: Arc::new(Mutex::new(SimDisk {
                durable,
                volatile: BTreeMap::new(),
                failing_syncs: 0,
                full: false,
                reserve_in_place: true,
                counters: SimCounters::default(),
            })),
        }
    }

    fn disk(&self) -> MutexGuard<'_, SimDisk> {
        // Nothing panics while the lock is held.
        self.disk.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The power goes out: every unsynced write is lost.
    pub fn crash(&self) {
        let mut disk = self.disk();
        let lost = disk.volatile.len() as u64;
        disk.volatile.clear();
        disk.counters.crashes += 1;
        disk.counters.lost_writes += lost;
    }

    /// The next `count` syncs fail (on top of any still pending).
    pub fn fail_next_syncs(&self, count: u64) {
        let mut disk = self.disk();
        disk.failing_syncs = disk.failing_syncs.saturating_add(count);
    }

    /// The disk fills up (`true`) or gets room again (`false`). While it is
    /// full, the first write fails as `ENOSPC` does and releases the
    /// store's reserve, whose room takes the writes after it; the reserve
    /// comes back with [`Store::restore_reserve`] once there is room.
    pub fn set_full(&self, full: bool) {
        self.disk().full = full;
    }

    pub fn counters(&self) -> SimCounters {
        self.disk().counters
    }

    /// The counters in the shape every store reports.
    pub fn stats(&self) -> StoreStats {
        let counters = self.counters();
        StoreStats {
            applies: counters.applies,
            batches: counters.batches,
            syncs: counters.syncs + counters.failed_syncs,
            reopens: counters.reopens,
        }
    }

    /// Whether some writes are not durable yet.
    pub fn has_unsynced(&self) -> bool {
        !self.disk().volatile.is_empty()
    }

    /// What a crash right now would leave: the durable layer alone.
    pub fn load_durable(&self) -> Result<Recovered, StoreError> {
        let disk = self.disk();
        let mut loader = Loader::new();
        for ((space, key), value) in &disk.durable {
            loader.push(*space, key, value)?;
        }
        loader.finish()
    }

    /// Writes raw bytes straight into the durable layer (to set up older or
    /// damaged stores in tests).
    pub fn put_raw_durable(&self, space: Space, key: &[u8], value: &[u8]) {
        self.disk()
            .durable
            .insert((space, key.to_vec()), value.to_vec());
    }
}

impl Store for SimStore {
    fn load(&self) -> Result<Recovered, StoreError> {
        let disk = self.disk();
        let mut view = disk.durable.clone();
        for (key, value) in &disk.volatile {
            match value {
                Some(value) => view.insert(key.clone(), value.clone()),
                None => view.remove(key),
            };
        }
        drop(disk);
        let mut loader = Loader::new();
        for ((space, key), value) in &view {
            loader.push(*space, key, value)?;
        }
        loader.finish()
    }

    fn apply(&self, batches: &[Batch]) -> Result<(), StoreError> {
        let ops = codec::encode_batches(batches)?;
        if ops.is_empty() {
            return Ok(());
        }
        let mut disk = self.disk();
        disk.counters.applies += 1;
        disk.counters.batches += batches.len() as u64;
        for op in ops {
            disk.volatile.insert((op.space, op.key), op.value);
        }
        if disk.full && disk.reserve_in_place {
            // The write finds the disk full; the reserve gives its room.
            disk.reserve_in_place = false;
            disk.counters.failed_syncs += 1;
            return Err(StoreError::io(
                "writing to the simulated disk",
                std::io::Error::from(std::io::ErrorKind::StorageFull),
            ));
        }
        disk.sync()
    }

    fn reopen(&self) -> Result<(), StoreError> {
        let mut disk = self.disk();
        disk.counters.reopens += 1;
        disk.sync()
    }

    fn restore_reserve(&self) -> bool {
        let mut disk = self.disk();
        if !disk.full {
            disk.reserve_in_place = true;
        }
        disk.reserve_in_place
    }
}

impl SimDisk {
    /// Makes the volatile layer durable, or fails when a failure is due.
    fn sync(&mut self) -> Result<(), StoreError> {
        if self.failing_syncs > 0 {
            self.failing_syncs -= 1;
            self.counters.failed_syncs += 1;
            return Err(StoreError::io(
                "syncing the simulated disk",
                std::io::Error::other("simulated sync failure"),
            ));
        }
        let volatile = std::mem::take(&mut self.volatile);
        for (key, value) in volatile {
            match value {
                Some(value) => self.durable.insert(key, value),
                None => self.durable.remove(&key),
            };
        }
        self.counters.syncs += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgupload_fsm::{BatchId, Change, Config, EventId, Meta, Outcome, TerminalEvent, UploadId};

    fn event(id: u64) -> TerminalEvent {
        TerminalEvent {
            event_id: EventId(id),
            upload_id: UploadId::parse("6f1c2a8e-3b4d-4c5e-9f60-718293a4b5c6").unwrap(),
            outcome: Outcome::Failed {
                error: "x".into(),
                error_code: 1,
            },
        }
    }

    fn batch(id: u64, changes: Vec<Change>) -> Batch {
        Batch {
            id: BatchId(id),
            changes,
        }
    }

    fn event_ids(recovered: &Recovered) -> Vec<u64> {
        recovered
            .events
            .iter()
            .map(|event| event.event_id.0)
            .collect()
    }

    #[test]
    fn synced_writes_survive_a_crash() {
        let store = SimStore::new();
        store
            .apply(&[batch(
                1,
                vec![Change::PutEvent(event(1)), Change::PutEvent(event(2))],
            )])
            .unwrap();
        store
            .apply(&[batch(2, vec![Change::DeleteEvent(EventId(1))])])
            .unwrap();
        let restarted = store.clone();
        store.crash();
        assert_eq!(event_ids(&restarted.load().unwrap()), [2]);
        assert_eq!(store.counters().syncs, 2);
        assert_eq!(store.counters().lost_writes, 0);
    }

    #[test]
    fn unsynced_writes_are_lost_at_a_crash_and_the_caller_is_told() {
        let store = SimStore::new();
        store
            .apply(&[batch(1, vec![Change::PutEvent(event(1))])])
            .unwrap();
        store.fail_next_syncs(1);
        let failed = store.apply(&[batch(
            2,
            vec![Change::PutEvent(event(2)), Change::DeleteEvent(EventId(1))],
        )]);
        assert!(matches!(failed, Err(StoreError::Io { .. })), "{failed:?}");
        // The live process still reads its unsynced writes...
        assert!(store.has_unsynced());
        assert_eq!(event_ids(&store.load().unwrap()), [2]);
        // ...a crash now would keep only the synced ones.
        assert_eq!(event_ids(&store.load_durable().unwrap()), [1]);
        store.crash();
        assert_eq!(event_ids(&store.load().unwrap()), [1]);
        let counters = store.counters();
        assert_eq!(
            (
                counters.failed_syncs,
                counters.lost_writes,
                counters.crashes
            ),
            (1, 2, 1)
        );
    }

    #[test]
    fn a_later_sync_makes_earlier_failed_writes_durable() {
        let store = SimStore::new();
        store.fail_next_syncs(2);
        assert!(
            store
                .apply(&[batch(1, vec![Change::PutEvent(event(1))])])
                .is_err()
        );
        assert!(
            store
                .apply(&[batch(2, vec![Change::PutEvent(event(2))])])
                .is_err()
        );
        store
            .apply(&[batch(3, vec![Change::PutEvent(event(3))])])
            .unwrap();
        store.crash();
        assert_eq!(event_ids(&store.load().unwrap()), [1, 2, 3]);
    }

    #[test]
    fn the_same_codec_runs_and_damaged_records_fail_the_load() {
        let store = SimStore::new();
        let meta = Meta {
            next_event_id: 5,
            config: Config::default(),
        };
        store
            .apply(&[batch(1, vec![Change::PutMeta(meta)])])
            .unwrap();
        assert_eq!(store.load().unwrap().meta, Some(meta));
        store.put_raw_durable(Space::Events, &7u64.to_be_bytes(), &[1, 0xff]);
        let error = store.load().unwrap_err();
        assert!(
            matches!(&error, StoreError::Decode { keyspace: "events", key, .. } if key == "7"),
            "{error}"
        );
    }

    #[test]
    fn empty_applies_touch_nothing() {
        let store = SimStore::new();
        store.apply(&[]).unwrap();
        store.apply(&[batch(1, Vec::new())]).unwrap();
        assert_eq!(store.counters(), SimCounters::default());
    }
}
