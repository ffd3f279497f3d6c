//! FjallStore on a real disk: round trips, atomic batches, group commit,
//! locking, permissions, loud decode failures, format checks and migration
//! of previous-format records.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test or bench: failing loudly is the point

use bgupload_fsm::{
    Batch, BatchId, BodyFormat, Change, Config, Effect, ErrorCode, EventId, Input, Machine, Meta,
    Method, Options, Outcome, TerminalEvent, Time, UploadId, UploadRecord, UploadRequest,
};
use bgupload_persistence::codec::{self, FORMAT_KEY, STORE_FORMAT};
use bgupload_persistence::{
    DATABASE_DIR, FjallStore, LOCK_FILE, LegacyUploadV0, Space, Store, StoreError,
};
use std::path::Path;
use std::sync::Arc;

const THREADS: u64 = 16;
const APPLIES_PER_THREAD: u64 = 20;

fn uuid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

fn upload(n: u64) -> UploadRecord {
    UploadRecord {
        request: UploadRequest {
            id: UploadId::parse(&uuid(n)).unwrap(),
            file_path: format!("/files/{n}.bin"),
            file_key: "file".into(),
            server_url: "https://example.invalid/up".into(),
            headers: vec![("X-N".into(), n.to_string())],
            parameters: Vec::new(),
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
    }
}

fn event(n: u64) -> TerminalEvent {
    TerminalEvent {
        event_id: EventId(n),
        upload_id: UploadId::parse(&uuid(n)).unwrap(),
        outcome: Outcome::Uploaded {
            status_code: 201,
            server_response: format!("ok {n}"),
            response_truncated: false,
        },
    }
}

fn batch(id: u64, changes: Vec<Change>) -> Batch {
    Batch {
        id: BatchId(id),
        changes,
    }
}

fn store_dir(tmp: &tempfile::TempDir) -> std::path::PathBuf {
    tmp.path().join("store")
}

#[test]
fn batches_round_trip_across_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = store_dir(&tmp);
    let meta = Meta {
        next_event_id: 4,
        config: Config::default(),
    };
    {
        let store = FjallStore::open(&dir).unwrap();
        assert_eq!(store.load().unwrap(), Default::default());
        store
            .apply(&[
                batch(
                    1,
                    vec![Change::PutUpload(upload(1)), Change::PutUpload(upload(2))],
                ),
                batch(
                    2,
                    vec![
                        Change::DeleteUpload(upload(1).request.id),
                        Change::PutEvent(event(3)),
                        Change::PutEvent(event(1)),
                        Change::PutMeta(meta),
                    ],
                ),
            ])
            .unwrap();
        // One call, one sync.
        assert_eq!(store.stats().syncs, 1);
    }
    let store = FjallStore::open(&dir).unwrap();
    let recovered = store.load().unwrap();
    assert_eq!(recovered.uploads, vec![upload(2)]);
    assert_eq!(recovered.events, vec![event(1), event(3)], "event id order");
    assert_eq!(recovered.meta, Some(meta));
    assert!(recovered.legacy_uploads.is_empty());
}

#[test]
fn later_writes_to_one_key_in_one_call_win() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FjallStore::open(&store_dir(&tmp)).unwrap();
    let mut changed = upload(1);
    changed.counted_failures = 3;
    store
        .apply(&[
            batch(
                1,
                vec![Change::PutUpload(upload(1)), Change::PutEvent(event(1))],
            ),
            batch(
                2,
                vec![
                    Change::PutUpload(changed.clone()),
                    Change::DeleteEvent(EventId(1)),
                ],
            ),
            batch(
                3,
                vec![
                    Change::PutUpload(upload(2)),
                    Change::DeleteUpload(upload(2).request.id),
                ],
            ),
        ])
        .unwrap();
    let recovered = store.load().unwrap();
    assert_eq!(recovered.uploads, vec![changed]);
    assert!(recovered.events.is_empty());
}

#[test]
fn concurrent_applies_are_all_durable_with_fewer_syncs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = store_dir(&tmp);
    let store = Arc::new(FjallStore::open(&dir).unwrap());
    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for n in 0..APPLIES_PER_THREAD {
                    let id = thread * APPLIES_PER_THREAD + n + 1;
                    store
                        .apply(&[batch(id, vec![Change::PutUpload(upload(id))])])
                        .unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let stats = store.stats();
    assert_eq!(stats.applies, THREADS * APPLIES_PER_THREAD);
    assert!(stats.syncs <= stats.applies);
    eprintln!("{stats:?}");
    drop(store);
    let recovered = FjallStore::open(&dir).unwrap().load().unwrap();
    let mut ids: Vec<u64> = recovered
        .uploads
        .iter()
        .map(|record| record.sequence)
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=THREADS * APPLIES_PER_THREAD).collect::<Vec<_>>());
}

#[test]
fn a_second_open_is_locked_until_the_first_closes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = store_dir(&tmp);
    let first = FjallStore::open(&dir).unwrap();
    let second = FjallStore::open(&dir);
    assert!(
        matches!(&second, Err(StoreError::Locked { dir: locked }) if locked == &dir),
        "{second:?}"
    );
    let message = second.unwrap_err().to_string();
    assert!(message.contains("locked"), "{message}");
    drop(first);
    FjallStore::open(&dir).unwrap();
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn store_directory_and_lock_are_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("parent").join("store");
    let store = FjallStore::open(&dir).unwrap();
    store
        .apply(&[batch(1, vec![Change::PutEvent(event(1))])])
        .unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(DATABASE_DIR)), 0o700);
    assert_eq!(mode(&dir.join(LOCK_FILE)), 0o600);
    // Nothing under the store is reachable by others: every path below
    // `dir` goes through it.
    drop(store);

    // An existing, too open directory is narrowed.
    use std::os::unix::fs::PermissionsExt;
    let open_dir = tmp.path().join("open");
    std::fs::create_dir(&open_dir).unwrap();
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let _store = FjallStore::open(&open_dir).unwrap();
    assert_eq!(mode(&open_dir), 0o700);
}

/// Writes `value` under `key` with fjall directly, bypassing the store.
fn write_raw(dir: &Path, space: Space, key: &[u8], value: &[u8]) {
    std::fs::create_dir_all(dir.join(DATABASE_DIR)).unwrap();
    let db = fjall::Database::builder(dir.join(DATABASE_DIR))
        .open()
        .unwrap();
    let keyspace = db
        .keyspace(space.name(), fjall::KeyspaceCreateOptions::default)
        .unwrap();
    keyspace.insert(key, value).unwrap();
    db.persist(fjall::PersistMode::SyncAll).unwrap();
}

fn read_raw(dir: &Path, space: Space, key: &[u8]) -> Option<Vec<u8>> {
    let db = fjall::Database::builder(dir.join(DATABASE_DIR))
        .open()
        .unwrap();
    let keyspace = db
        .keyspace(space.name(), fjall::KeyspaceCreateOptions::default)
        .unwrap();
    keyspace.get(key).unwrap().map(|value| value.to_vec())
}

#[test]
fn a_damaged_record_fails_the_load_by_name_and_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = store_dir(&tmp);
    {
        let store = FjallStore::open(&dir).unwrap();
        store
            .apply(&[batch(
                1,
                vec![Change::PutEvent(event(1)), Change::PutUpload(upload(2))],
            )])
            .unwrap();
    }
    let key = uuid(2);
    let damaged = [1u8, 0xff, 0xff, 0xff];
    write_raw(&dir, Space::Uploads, key.as_bytes(), &damaged);
    {
        let store = FjallStore::open(&dir).unwrap();
        let error = store.load().unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(&error, StoreError::Decode { keyspace: "uploads", key: shown, .. } if shown.contains(&key)),
            "{message}"
        );
        assert!(
            message.contains(&key) && message.contains("uploads"),
            "{message}"
        );
    }
    assert_eq!(
        read_raw(&dir, Space::Uploads, key.as_bytes()),
        Some(damaged.to_vec())
    );
}

#[test]
fn a_newer_store_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = store_dir(&tmp);
    drop(FjallStore::open(&dir).unwrap());
    let newer = codec::encode_value("format", &(STORE_FORMAT + 1)).unwrap();
    write_raw(&dir, Space::Meta, FORMAT_KEY, &newer);
    let opened = FjallStore::open(&dir);
    assert!(
        matches!(opened, Err(StoreError::UnsupportedFormat { found, supported: STORE_FORMAT }) if found == STORE_FORMAT + 1),
        "{opened:?}"
    );
    // Left as it was.
    assert_eq!(read_raw(&dir, Space::Meta, FORMAT_KEY), Some(newer));
}

/// Runs `machine` to quiescence, persisting its batches in `store`.
fn drive(machine: &mut Machine, store: &FjallStore) -> Vec<Effect> {
    let mut others = Vec::new();
    while let Some(effect) = machine.poll_effect() {
        match effect {
            Effect::PersistBatch(batch) => {
                store.apply(std::slice::from_ref(&batch)).unwrap();
                machine.handle_input(Time::ZERO, Input::Durable { through: batch.id });
            }
            other => others.push(other),
        }
    }
    others
}

#[test]
fn previous_format_uploads_become_failed_500_and_are_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = store_dir(&tmp);
    // An old-format store, written with fjall directly: v0 upload records,
    // no format key, no LOCK file.
    let legacy = [
        LegacyUploadV0 {
            id: "legacy-upload-1".into(),
            file_path: "/old/a.jpg".into(),
            server_url: "https://example.invalid/a".into(),
        },
        LegacyUploadV0 {
            id: uuid(77),
            file_path: "/old/b.jpg".into(),
            server_url: "https://example.invalid/b".into(),
        },
    ];
    for record in &legacy {
        let value = codec::encode_legacy_upload_v0(record).unwrap();
        write_raw(&dir, Space::Uploads, record.id.as_bytes(), &value);
    }

    let store = FjallStore::open(&dir).unwrap();
    let recovered = store.load().unwrap();
    let mut legacy_ids: Vec<&str> = recovered
        .legacy_uploads
        .iter()
        .map(|upload| upload.id.as_str())
        .collect();
    legacy_ids.sort_unstable();
    assert_eq!(legacy_ids, [uuid(77).as_str(), "legacy-upload-1"]);
    assert!(recovered.uploads.is_empty() && recovered.events.is_empty());

    let mut machine = Machine::recover(Options::new(1), recovered, Time::ZERO);
    drive(&mut machine, &store);
    drop(store);

    let store = FjallStore::open(&dir).unwrap();
    let recovered = store.load().unwrap();
    assert!(
        recovered.legacy_uploads.is_empty(),
        "legacy records deleted"
    );
    assert!(recovered.uploads.is_empty());
    let mut failed: Vec<(String, i32)> = recovered
        .events
        .iter()
        .map(|event| match &event.outcome {
            Outcome::Failed { error_code, .. } => (event.upload_id.to_string(), *error_code),
            other => panic!("unexpected outcome {other:?}"),
        })
        .collect();
    failed.sort();
    assert_eq!(
        failed,
        [
            (uuid(77), ErrorCode::LegacyRecord.code()),
            ("legacy-upload-1".to_owned(), ErrorCode::LegacyRecord.code())
        ]
    );
    let meta = recovered.meta.expect("meta persisted with the events");
    assert!(
        recovered
            .events
            .iter()
            .all(|event| event.event_id.0 < meta.next_event_id)
    );
    // The store is now marked current.
    drop(store);
    assert_eq!(
        read_raw(&dir, Space::Meta, FORMAT_KEY),
        Some(codec::encode_format().unwrap())
    );

    // A relaunch with the same store delivers the same events on init.
    let store = FjallStore::open(&dir).unwrap();
    let mut machine = Machine::recover(Options::new(2), store.load().unwrap(), Time::ZERO);
    drive(&mut machine, &store);
    machine.handle_input(
        Time::ZERO,
        Input::Init {
            command: bgupload_fsm::CommandId(1),
            config: Config::default(),
        },
    );
    let delivered: Vec<TerminalEvent> = drive(&mut machine, &store)
        .into_iter()
        .filter_map(|effect| match effect {
            Effect::Deliver(bgupload_fsm::Event::Terminal(event)) => Some(event),
            _ => None,
        })
        .collect();
    assert_eq!(delivered, recovered.events);
}

/// #16: a link planted at the store's place is refused, and what it points
/// at is left as it was (before: chmod 0700 and the store written there).
/// As root, a directory of another user is refused too.
#[cfg(unix)]
#[test]
fn the_store_directory_is_no_door() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tmp.path().join("someone-elses");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o755)).unwrap();
    let planted = tmp.path().join("store");
    std::os::unix::fs::symlink(&elsewhere, &planted).unwrap();
    let error = refusal(FjallStore::open(&planted));
    assert!(error.contains("it is a symbolic link"), "{error}");
    let left = std::fs::metadata(&elsewhere).unwrap();
    assert_eq!(
        left.permissions().mode() & 0o777,
        0o755,
        "the target's mode is unchanged"
    );
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing written there"
    );

    let not_mine = tmp.path().join("not-mine");
    std::fs::create_dir(&not_mine).unwrap();
    if std::os::unix::fs::chown(&not_mine, Some(65_534), Some(65_534)).is_err() {
        eprintln!("the_store_directory_is_no_door: owner row SKIPPED (not root)");
        return;
    }
    let error = refusal(FjallStore::open(&not_mine));
    assert!(error.contains("belongs to uid 65534"), "{error}");
    assert_eq!(std::fs::metadata(&not_mine).unwrap().uid(), 65_534);
    assert_eq!(
        std::fs::read_dir(&not_mine).unwrap().count(),
        0,
        "nothing written there"
    );
}

/// The text of a refused open.
fn refusal<T>(opened: Result<T, bgupload_persistence::StoreError>) -> String {
    match opened {
        Ok(_) => panic!("the store opened"),
        Err(error) => error.to_string(),
    }
}
