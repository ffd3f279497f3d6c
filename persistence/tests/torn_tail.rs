//! A power cut tears the tail of fjall's journal: the bytes after some
//! offset never reach the disk. fjall preallocates the journal file, so the
//! lost bytes read back as zeros (`ZeroFilled`), or the file simply ends
//! there (`Truncated`). Recovery must give exactly batches 1..=k, with k
//! growing with the cut, and the store must take new batches afterwards.
//!
//! Every offset inside the last `TORN_TAIL_BATCHES` batches is cut (every
//! `DEBUG_CUT_STRIDE`th in debug builds). The
//! zero-filled tails run only without debug assertions (`cargo test
//! --release`): fjall 3.1.13 `debug_assert`s, in `journal/entry.rs`, that a
//! journal item's two length fields agree, which a zero-filled cut between
//! them breaks; release builds recover (checked by the release run).
//!
//! The expected content comes from a `SimStore` fed the same batches.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test or bench: failing loudly is the point

use bgupload_fsm::{
    Batch, BatchId, BodyFormat, Change, Config, EventId, Meta, Method, Outcome, Recovered,
    TerminalEvent, UploadId, UploadRecord, UploadRequest,
};
use bgupload_persistence::{DATABASE_DIR, FjallStore, SimStore, Store};
use std::collections::BTreeMap;
use std::path::Path;

/// Batches written before the journal is torn.
const TORN_BATCHES: u64 = 12;
/// The cuts cover the journal bytes of this many last batches.
const TORN_TAIL_BATCHES: u64 = 1;
/// Every this many cuts, the recovered store also takes a new batch.
const REWRITE_EVERY: usize = 16;
/// Debug builds (slow opens) cut at every third byte; release builds at
/// every byte.
const DEBUG_CUT_STRIDE: usize = 3;

fn upload_id(n: u64) -> UploadId {
    UploadId::parse(&format!("00000000-0000-4000-8000-{n:012x}")).unwrap()
}

fn batch(n: u64) -> Batch {
    let mut changes = vec![
        Change::PutUpload(UploadRecord {
            request: UploadRequest {
                id: upload_id(n),
                file_path: format!("/data/{n}.bin"),
                file_key: "file".into(),
                server_url: "https://example.invalid/up".into(),
                headers: Vec::new(),
                parameters: vec![("n".into(), n.to_string())],
                notification_title: "Uploading files".into(),
                method: Method::Post,
                body_format: BodyFormat::Multipart,
                status_policy: bgupload_fsm::StatusPolicy::Any,
                idempotency_key: None,
                network: bgupload_fsm::NetworkRequirement::Any,
            },
            sequence: n,
            last_attempt: None,
            in_flight: false,
            counted_failures: 0,
            paused: false,
            file_size: 0,
        }),
        Change::PutEvent(TerminalEvent {
            event_id: EventId(n),
            upload_id: upload_id(n),
            outcome: Outcome::Uploaded {
                status_code: 201,
                server_response: format!("stored {n}"),
                response_truncated: false,
            },
        }),
    ];
    if n > 2 {
        changes.push(Change::DeleteUpload(upload_id(n - 2)));
    }
    changes.push(Change::PutMeta(Meta {
        next_event_id: n + 1,
        config: Config::default(),
    }));
    Batch {
        id: BatchId(n),
        changes,
    }
}

fn last_batch_of(recovered: &Recovered) -> u64 {
    recovered.meta.map_or(0, |meta| meta.next_event_id - 1)
}

/// What a store holding exactly batches 1..=k loads.
fn expected(k: u64, cache: &mut BTreeMap<u64, Recovered>) -> Recovered {
    cache
        .entry(k)
        .or_insert_with(|| {
            let sim = SimStore::new();
            let batches: Vec<Batch> = (1..=k).map(batch).collect();
            sim.apply(&batches).unwrap();
            sim.load().unwrap()
        })
        .clone()
}

fn journal_of(dir: &Path) -> std::path::PathBuf {
    let journals: Vec<_> = std::fs::read_dir(dir.join(DATABASE_DIR))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jnl"))
        .collect();
    assert_eq!(journals.len(), 1, "{journals:?}");
    journals[0].clone()
}

fn copy_tree_without_journals(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree_without_journals(&path, &target);
        } else if path.extension().is_none_or(|ext| ext != "jnl") {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Tear {
    ZeroFilled,
    Truncated,
}

#[test]
fn torn_journal_tail_recovers_whole_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    // Journal length after each batch, to place the cuts.
    let mut data_ends = Vec::new();
    {
        let store = FjallStore::open(&dir).unwrap();
        for n in 1..=TORN_BATCHES {
            store.apply(&[batch(n)]).unwrap();
            let bytes = std::fs::read(journal_of(&dir)).unwrap();
            data_ends.push(
                bytes
                    .iter()
                    .rposition(|byte| *byte != 0)
                    .map_or(0, |at| at + 1),
            );
        }
    }
    let journal = journal_of(&dir);
    let pristine = std::fs::read(&journal).unwrap();
    let file_len = pristine.len() as u64;
    let pristine_dir = tmp.path().join("pristine");
    copy_tree_without_journals(&dir, &pristine_dir);
    let tail_from = data_ends[data_ends.len() - 1 - usize::try_from(TORN_TAIL_BATCHES).unwrap()];
    let tail_to = data_ends[data_ends.len() - 1];

    let tears: &[Tear] = if cfg!(debug_assertions) {
        &[Tear::Truncated]
    } else {
        &[Tear::Truncated, Tear::ZeroFilled]
    };
    let mut cache = BTreeMap::new();
    let mut cuts = 0;
    for &tear in tears {
        let mut previous_k = 0;
        let stride = if cfg!(debug_assertions) {
            DEBUG_CUT_STRIDE
        } else {
            1
        };
        let cut_points = (tail_from..tail_to).step_by(stride).chain([tail_to]);
        for (index, cut) in cut_points.enumerate() {
            std::fs::remove_dir_all(&dir).unwrap();
            copy_tree_without_journals(&pristine_dir, &dir);
            let file = std::fs::File::create(&journal).unwrap();
            std::io::Write::write_all(&mut &file, &pristine[..cut]).unwrap();
            if matches!(tear, Tear::ZeroFilled) {
                file.set_len(file_len).unwrap();
            }
            drop(file);

            let store = FjallStore::open(&dir)
                .unwrap_or_else(|error| panic!("{tear:?} at {cut}: open failed: {error}"));
            let loaded = store.load().unwrap();
            let k = last_batch_of(&loaded);
            assert!(
                k >= previous_k,
                "{tear:?} at {cut}: batch {k} after {previous_k}"
            );
            assert!(
                k >= TORN_BATCHES - TORN_TAIL_BATCHES,
                "{tear:?} at {cut}: lost whole batches before the tail"
            );
            assert!(
                loaded == expected(k, &mut cache),
                "{tear:?} at {cut}: not exactly batches 1..={k}"
            );
            previous_k = k;
            if index % REWRITE_EVERY == 0 || cut == tail_to {
                store.apply(&[batch(k + 1)]).unwrap();
                drop(store);
                let reloaded = FjallStore::open(&dir).unwrap().load().unwrap();
                assert!(
                    reloaded == expected(k + 1, &mut cache),
                    "{tear:?} at {cut}: batch {} after recovery",
                    k + 1
                );
            }
            cuts += 1;
        }
        assert_eq!(
            previous_k, TORN_BATCHES,
            "{tear:?}: the whole journal recovers all"
        );
    }
    eprintln!(
        "torn tails: {cuts} cuts ({tears:?}) over journal bytes {tail_from}..={tail_to}, \
         each recovered a whole prefix of batches"
    );
}
