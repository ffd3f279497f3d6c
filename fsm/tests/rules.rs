//! One test per rule of the state machine (DESIGN.md "Semantics").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test or bench: failing loudly is the point

mod support;

use bgupload_fsm::{
    Attempt, AttemptReport, BodyFormat, Change, Config, Effect, ErrorCode, Event, EventId,
    FileCheck, Input, LegacyUpload, Limits, MSG_ATTEMPTS_EXHAUSTED, Machine, Options, Outcome,
    ProgressThrottle, Recovered, RetryPolicy, StorageSpace, Time, TransferOwnership,
    TransferReport, UploadPayload, validate,
};
use support::{FILE_OK, World, id, payload, uuid};

fn world() -> World {
    let mut world = World::new(Options::new(1));
    world.init_limit(1);
    world
}

fn rejection_of(world: &World) -> (Option<String>, String, Option<i32>) {
    world
        .delivered
        .iter()
        .rev()
        .find_map(|event| match event {
            Event::Rejected(rejection) => Some((
                rejection.id.clone(),
                rejection.error.clone(),
                rejection.error_code,
            )),
            _ => None,
        })
        .expect("a FAILED event without eventId")
}

/// A payload, what was found at its path, and the refusal expected: `id`,
/// `error`, `errorCode`.
type RefusalCase = (
    UploadPayload,
    FileCheck,
    Option<String>,
    String,
    Option<i32>,
);

#[test]
fn validation_follows_the_reference_order_and_messages() {
    let mut world = world();
    let reference = None;
    let code = |code: ErrorCode| Some(code.code());
    let cases: Vec<RefusalCase> = vec![
        (
            UploadPayload::default(),
            FileCheck::NotChecked,
            None,
            validate::MSG_ID_REQUIRED.to_owned(),
            reference,
        ),
        (
            UploadPayload {
                server_url: None,
                ..payload("abc")
            },
            FILE_OK,
            Some("abc".to_owned()),
            validate::MSG_URL_REQUIRED.to_owned(),
            reference,
        ),
        (
            UploadPayload {
                server_url: Some("   ".to_owned()),
                file_path: None,
                ..payload("123_456")
            },
            FILE_OK,
            Some("123_456".to_owned()),
            validate::MSG_URL_INVALID.to_owned(),
            reference,
        ),
        (
            UploadPayload {
                file_path: None,
                ..payload(&uuid(1))
            },
            FileCheck::NotChecked,
            Some(uuid(1)),
            validate::MSG_FILE_PATH_REQUIRED.to_owned(),
            reference,
        ),
        (
            payload("nox"),
            FileCheck::Missing,
            Some("nox".to_owned()),
            "File not found: /data/photo.jpg".to_owned(),
            code(ErrorCode::FileDoesNotExist),
        ),
        (
            payload(&uuid(1)),
            FileCheck::NotARegularFile,
            Some(uuid(1)),
            "Not a regular file: /data/photo.jpg".to_owned(),
            code(ErrorCode::FileIsDirectory),
        ),
        (
            payload(&uuid(1)),
            FileCheck::Unreadable,
            Some(uuid(1)),
            "File is not readable: /data/photo.jpg".to_owned(),
            code(ErrorCode::NoPermissionsToReadFile),
        ),
        (
            payload("line\nbreak"),
            FILE_OK,
            Some("line\nbreak".to_owned()),
            validate::MSG_ID_CONTROL_CHARACTER.to_owned(),
            code(ErrorCode::InvalidArgument),
        ),
        (
            payload(&"x".repeat(1_025)),
            FILE_OK,
            Some("x".repeat(1_024)),
            validate::MSG_ID_TOO_LONG.to_owned(),
            code(ErrorCode::InvalidArgument),
        ),
        (
            UploadPayload {
                server_url: Some("dummy_url".to_owned()),
                ..payload("err_id")
            },
            FILE_OK,
            Some("err_id".to_owned()),
            "Invalid server URL: only http and https URLs are supported".to_owned(),
            code(ErrorCode::UnsupportedUrl),
        ),
        (
            UploadPayload {
                server_url: Some("http://has space/x".to_owned()),
                ..payload("err_id")
            },
            FILE_OK,
            Some("err_id".to_owned()),
            "Invalid server URL: contains spaces or control characters".to_owned(),
            code(ErrorCode::BadUrl),
        ),
    ];
    for (payload, file, expected_id, expected_error, expected_code) in cases {
        let command = world.start(payload, file);
        let (id, error, code) = rejection_of(&world);
        assert_eq!(error, expected_error);
        assert_eq!(id, expected_id);
        assert_eq!(code, expected_code, "{error}");
        let result = world.results[&command].clone();
        assert_eq!(result.err().map(|r| r.error), Some(expected_error));
    }
    assert_eq!(world.machine.upload_count(), 0);
    assert!(world.disk.uploads.is_empty(), "nothing rejected is stored");
}

#[test]
fn stricter_checks_reject_with_clear_messages() {
    let mut world = world();
    let bad: Vec<(UploadPayload, &str)> = vec![
        (
            UploadPayload {
                server_url: Some("ftp://example.com/x".to_owned()),
                ..payload(&uuid(2))
            },
            "only http and https",
        ),
        (
            UploadPayload {
                file_path: Some("relative/photo.jpg".to_owned()),
                ..payload(&uuid(2))
            },
            "absolute path",
        ),
        (
            UploadPayload {
                headers: vec![("X-Bad".to_owned(), "a\r\nInjected: 1".to_owned())],
                ..payload(&uuid(2))
            },
            "CR, LF, NUL or other control character",
        ),
        (
            UploadPayload {
                headers: vec![("Content-Type".to_owned(), "text/plain".to_owned())],
                ..payload(&uuid(2))
            },
            "cannot be overridden",
        ),
        (
            UploadPayload {
                headers: vec![("Bad Name".to_owned(), "x".to_owned())],
                ..payload(&uuid(2))
            },
            "not a valid HTTP header name",
        ),
        (
            UploadPayload {
                request_method: Some("DELETE".to_owned()),
                ..payload(&uuid(2))
            },
            "requestMethod must be POST or PUT",
        ),
        (
            UploadPayload {
                parameters: vec![("big".to_owned(), "x".repeat(2 * 1024 * 1024))],
                ..payload(&uuid(2))
            },
            "parameters are larger than",
        ),
        (
            UploadPayload {
                headers: (0..100)
                    .map(|n| (format!("X-{n}"), "v".to_owned()))
                    .collect(),
                ..payload(&uuid(2))
            },
            "more than 64 headers",
        ),
    ];
    for (payload, needle) in bad {
        let command = world.start(payload, FILE_OK);
        let refused = world.results[&command].clone().unwrap_err();
        let error = refused.error;
        assert!(
            error.contains(needle),
            "{error:?} should contain {needle:?}"
        );
        let expected = if needle == "only http and https" {
            ErrorCode::UnsupportedUrl
        } else {
            ErrorCode::InvalidArgument
        };
        assert_eq!(refused.error_code, Some(expected.code()), "{error}");
    }
    assert_eq!(world.machine.upload_count(), 0);
}

#[test]
fn defaults_are_filled_in_like_the_reference() {
    let mut world = world();
    world.start_id(&uuid(3));
    let request = &world.disk.uploads[&id(3)].request;
    assert_eq!(request.file_key, "file");
    assert_eq!(request.notification_title, "Uploading files");
    assert_eq!(request.method, bgupload_fsm::Method::Post);
    let command = world.start(
        UploadPayload {
            request_method: Some("put".to_owned()),
            body_format: BodyFormat::Raw,
            headers: vec![("Content-Type".to_owned(), "image/jpeg".to_owned())],
            ..payload(&uuid(4))
        },
        FILE_OK,
    );
    assert!(
        world.results[&command].is_ok(),
        "raw bodies may set Content-Type"
    );
    assert_eq!(
        world.disk.uploads[&id(4)].request.method,
        bgupload_fsm::Method::Put
    );
}

#[test]
fn accepted_upload_is_durable_before_the_call_returns_and_starts_in_order() {
    let mut world = world();
    world.auto_sync = false;
    let command = world.start_id(&uuid(1));
    assert!(!world.results.contains_key(&command), "held until durable");
    assert!(
        world.transfers.is_empty(),
        "no attempt before it is durable"
    );
    world.sync();
    assert!(world.results[&command].is_ok());
    world.sync();
    assert_eq!(world.transfers.get(&id(1)), Some(&Attempt(1)));
}

#[test]
fn any_http_response_is_uploaded_with_status_and_body() {
    let mut world = world();
    for (n, status) in [(1u8, 201u16), (2, 500), (3, 413), (4, 200)] {
        world.start_id(&uuid(n));
        world.respond(&id(n), status, &format!("body {status}"));
    }
    let events = world.terminal_events();
    assert_eq!(events.len(), 4);
    for (event, status) in events.iter().zip([201u16, 500, 413, 200]) {
        assert_eq!(
            event.outcome,
            Outcome::Uploaded {
                status_code: status,
                server_response: format!("body {status}"),
                response_truncated: false,
            }
        );
    }
}

#[test]
fn response_body_is_kept_up_to_the_limit_and_says_so() {
    let mut options = Options::new(1);
    options.limits = Limits {
        max_response_bytes: 8,
        ..Limits::default()
    };
    let mut world = World::new(options);
    world.init_limit(1);
    world.start_id(&uuid(1));
    world.report(
        &id(1),
        TransferReport::Response {
            status: 201,
            body: "ééééé-and-more".as_bytes().to_vec(),
            truncated: false,
            retry_after_millis: None,
        },
    );
    let Outcome::Uploaded {
        server_response,
        response_truncated,
        ..
    } = &world.terminal_events()[0].outcome
    else {
        panic!("uploaded")
    };
    assert_eq!(server_response, "éééé");
    assert!(*response_truncated);
    world.start_id(&uuid(2));
    world.report(
        &id(2),
        TransferReport::Response {
            status: 200,
            body: vec![0xff, 0xfe, b'o', b'k'],
            truncated: false,
            retry_after_millis: None,
        },
    );
    let Outcome::Uploaded {
        server_response, ..
    } = &world.terminal_events()[1].outcome
    else {
        panic!("uploaded")
    };
    assert_eq!(
        server_response, "\u{fffd}\u{fffd}ok",
        "invalid UTF-8 is replaced"
    );
}

#[test]
fn transport_errors_retry_with_growing_jittered_backoff_then_fail() {
    let mut world = World::new(Options::new(9));
    world.init(Config {
        retry: RetryPolicy {
            max_attempts: 4,
            initial_backoff_millis: 1_000,
            max_backoff_millis: 60_000,
        },
        ..Config::default()
    });
    world.start_id(&uuid(1));
    let mut delays = Vec::new();
    for attempt in 1..=3u32 {
        assert_eq!(world.transfers.get(&id(1)), Some(&Attempt(attempt)));
        let failed_at = world.now;
        world.fail(&id(1), true);
        assert!(world.transfers.is_empty(), "waits out the backoff");
        let deadline = world.machine.poll_timeout().expect("a retry deadline");
        delays.push(deadline.saturating_millis_since(failed_at));
        world.advance(deadline.saturating_millis_since(world.now) - 1);
        assert!(world.transfers.is_empty(), "not before the deadline");
        world.advance(1);
    }
    for (n, delay) in delays.iter().enumerate() {
        let full = 1_000u64 << n;
        assert!(
            (full / 2..=full).contains(delay),
            "delay {delay} for failure {}",
            n + 1
        );
    }
    world.fail(&id(1), true);
    let (error, code) = world.failed_event(&id(1)).expect("FAILED after 4 attempts");
    assert!(error.contains("gave up after 4 attempts"), "{error}");
    assert_eq!(code, -1005);
}

#[test]
fn jitter_depends_only_on_the_seed() {
    let run = |seed| {
        let mut world = World::new(Options::new(seed));
        world.init_limit(1);
        world.start_id(&uuid(1));
        world.fail(&id(1), true);
        world.machine.poll_timeout()
    };
    assert_eq!(run(5), run(5));
    let distinct: std::collections::BTreeSet<_> = (0..20).map(run).collect();
    assert!(distinct.len() > 5, "jitter varies with the seed");
}

#[test]
fn a_non_retryable_failure_ends_at_once() {
    let mut world = world();
    world.start_id(&uuid(1));
    world.report(
        &id(1),
        TransferReport::Failed(bgupload_fsm::TransferFailure {
            message: "file changed size during upload".to_owned(),
            error_code: -3,
            retryable: false,
        }),
    );
    assert_eq!(
        world.failed_event(&id(1)),
        Some(("file changed size during upload".to_owned(), -3))
    );
}

#[test]
fn offline_uploads_wait_without_spending_attempts() {
    let mut world = World::new(Options::new(2));
    world.init(Config {
        retry: RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        },
        ..Config::default()
    });
    world.network(false);
    world.start_id(&uuid(1));
    world.advance(3_600_000);
    assert!(world.transfers.is_empty(), "nothing starts while offline");
    world.network(true);
    assert_eq!(world.transfers.get(&id(1)), Some(&Attempt(1)));
    // The network drops mid-transfer: the failure is not counted.
    world.network(false);
    for _ in 0..5 {
        world.fail(&id(1), true);
        world.network(true);
        world.network(false);
    }
    assert!(
        world.failed_event(&id(1)).is_none(),
        "offline failures never count"
    );
    world.network(true);
    world.respond(&id(1), 201, "");
    assert!(matches!(
        world.terminal_events()[0].outcome,
        Outcome::Uploaded {
            status_code: 201,
            ..
        }
    ));
}

#[test]
fn remove_cancels_queued_and_running_uploads_with_minus_999() {
    let mut world = world();
    world.start_id(&uuid(1));
    world.start_id(&uuid(2));
    assert_eq!(world.transfers.len(), 1, "parallel limit 1");
    world.remove(&uuid(2)); // queued (the reference never reported this: #274)
    world.remove(&uuid(1)); // running
    for n in [1, 2] {
        let (error, code) = world.failed_event(&id(n)).expect("FAILED");
        assert_eq!(code, ErrorCode::Cancelled.code());
        assert!(error.to_lowercase().contains("cancel"));
    }
    assert!(
        world.transfers.is_empty(),
        "the running attempt was cancelled"
    );
    assert_eq!(world.disk.events.len(), 2, "cancellations are persisted");
    let unknown = world.remove(&uuid(9));
    assert!(world.results[&unknown].is_ok(), "unknown id succeeds");
    let empty = world.remove("");
    assert_eq!(
        world.results[&empty].clone().unwrap_err().error,
        validate::MSG_ID_REQUIRED
    );
}

#[test]
fn a_report_for_a_cancelled_or_old_attempt_is_ignored() {
    let mut world = world();
    world.start_id(&uuid(1));
    world.fail(&id(1), true);
    world.advance(10 * 60 * 1_000);
    assert_eq!(world.transfers.get(&id(1)), Some(&Attempt(2)));
    world.input(Input::Transfer(AttemptReport {
        upload_id: id(1),
        attempt: Attempt(1),
        report: TransferReport::Response {
            status: 201,
            body: Vec::new(),
            truncated: false,
            retry_after_millis: None,
        },
    }));
    assert!(world.terminal_events().is_empty(), "stale response ignored");
    world.remove(&uuid(1));
    world.input(Input::Transfer(AttemptReport {
        upload_id: id(1),
        attempt: Attempt(2),
        report: TransferReport::Progress { sent: 5, total: 10 },
    }));
    assert!(world.progress_events(&id(1)).is_empty());
    assert_eq!(world.terminal_events().len(), 1);
}

#[test]
fn acknowledged_events_are_never_delivered_again() {
    let mut world = world();
    world.start_id(&uuid(1));
    world.start_id(&uuid(2));
    world.respond(&id(1), 201, "one");
    world.respond(&id(2), 201, "two");
    let first = world.terminal_events()[0].event_id;
    world.acknowledge(first);
    assert!(!world.disk.events.contains_key(&first));
    let before = world.delivered.len();
    world.init_limit(1);
    let again: Vec<EventId> = world.delivered[before..]
        .iter()
        .filter_map(|event| match event {
            Event::Terminal(terminal) => Some(terminal.event_id),
            _ => None,
        })
        .collect();
    assert_eq!(again, vec![world.terminal_events()[1].event_id]);
    let unknown = world.acknowledge(EventId(999));
    assert!(world.results[&unknown].is_ok(), "unknown event id succeeds");
}

#[test]
fn repeated_init_redelivers_every_unacknowledged_event_in_order_identically() {
    let mut world = World::new(Options::new(3));
    world.init_limit(3);
    for n in 1..=5 {
        world.start_id(&uuid(n));
    }
    for n in [3u8, 1, 2] {
        world.respond(&id(n), 201, &format!("r{n}"));
    }
    world.remove(&uuid(4));
    let original: Vec<_> = world.terminal_events().into_iter().cloned().collect();
    for _ in 0..3 {
        let before = world.delivered.len();
        world.init_limit(3);
        let again: Vec<_> = world.delivered[before..]
            .iter()
            .filter_map(|event| match event {
                Event::Terminal(terminal) => Some(terminal.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(again, original, "same events, same ids, same order");
    }
}

#[test]
fn duplicate_id_is_refused_and_the_existing_upload_untouched() {
    let mut world = world();
    world.start_id(&uuid(1));
    let stored = world.disk.uploads[&id(1)].clone();
    let command = world.start(
        UploadPayload {
            server_url: Some("http://127.0.0.1:1/other".to_owned()),
            ..payload(&uuid(1))
        },
        FILE_OK,
    );
    let error = world.results[&command].clone().unwrap_err().error;
    assert!(error.contains("already in progress"), "{error}");
    assert_eq!(world.disk.uploads[&id(1)], stored);
    world.respond(&id(1), 201, "");
    let command = world.start_id(&uuid(1));
    let error = world.results[&command].clone().unwrap_err().error;
    assert!(error.contains("unacknowledged event"), "{error}");
    let event_id = world.terminal_events()[0].event_id;
    world.acknowledge(event_id);
    let command = world.start_id(&uuid(1));
    assert!(world.results[&command].is_ok(), "free again after the ack");
}

#[test]
fn parallel_limit_is_exact_and_lowering_it_requeues_the_newest() {
    let mut world = World::new(Options::new(4));
    world.init_limit(3);
    for n in 1..=6 {
        world.start_id(&uuid(n));
    }
    assert_eq!(world.transfers.len(), 3);
    assert!(world.transfers.contains_key(&id(1)) && world.transfers.contains_key(&id(3)));
    world.respond(&id(2), 201, "");
    assert_eq!(world.transfers.len(), 3);
    assert!(
        world.transfers.contains_key(&id(4)),
        "the next in order starts"
    );
    world.init_limit(1);
    assert_eq!(world.transfers.len(), 1);
    assert!(
        world.transfers.contains_key(&id(1)),
        "the oldest keeps going"
    );
    world.respond(&id(1), 201, "");
    assert!(
        world.transfers.contains_key(&id(3)),
        "a shed upload goes first"
    );
    let over = world.init(Config {
        parallel_uploads_limit: 1_000,
        ..Config::default()
    });
    assert!(world.results[&over].is_err());
    assert_eq!(world.machine.config().parallel_uploads_limit, 1);
    let falsy = world.init_limit(0);
    assert!(world.results[&falsy].is_ok());
    assert_eq!(
        world.machine.config().parallel_uploads_limit,
        1,
        "0 means default"
    );
}

#[test]
fn progress_is_throttled_by_time_and_percent_and_flushed_later() {
    let mut world = World::new(Options::new(5));
    world.init(Config {
        progress: ProgressThrottle {
            min_interval_millis: 500,
            min_percent_step: 1,
        },
        ..Config::default()
    });
    world.start_id(&uuid(1));
    let progress = |world: &mut World, sent| {
        world.report(&id(1), TransferReport::Progress { sent, total: 1_000 });
    };
    progress(&mut world, 10);
    progress(&mut world, 15); // same percent: dropped
    progress(&mut world, 200); // too soon: pending
    assert_eq!(world.progress_events(&id(1)), vec![1]);
    assert_eq!(
        world.machine.poll_timeout(),
        Some(Time::from_millis(500)),
        "pending progress is flushed at the end of the interval"
    );
    world.advance(500);
    assert_eq!(world.progress_events(&id(1)), vec![1, 20]);
    world.advance(600);
    progress(&mut world, 204); // same whole percent
    progress(&mut world, 990);
    world.respond(&id(1), 201, "");
    world.advance(10_000);
    assert_eq!(world.progress_events(&id(1)), vec![1, 20, 99]);
    assert!(world.machine.poll_timeout().is_none());
}

#[test]
fn events_wait_for_durability_and_acks_are_confirmed_after_persisting() {
    let mut world = world();
    world.start_id(&uuid(1));
    world.auto_sync = false;
    world.respond(&id(1), 201, "ok");
    assert!(world.terminal_events().is_empty(), "not before the fsync");
    world.sync();
    let event_id = world.terminal_events()[0].event_id;
    let command = world.acknowledge(event_id);
    assert!(!world.results.contains_key(&command));
    world.sync();
    assert!(world.results[&command].is_ok());
}

#[test]
fn destroy_stops_delivery_but_uploads_go_on() {
    let mut world = world();
    world.start_id(&uuid(1));
    world.destroy();
    world.report(&id(1), TransferReport::Progress { sent: 1, total: 2 });
    world.respond(&id(1), 201, "");
    assert!(world.terminal_events().is_empty());
    assert_eq!(world.disk.events.len(), 1, "the outcome is stored");
    world.init_limit(1);
    assert_eq!(world.terminal_events().len(), 1, "and delivered on init");
}

#[test]
fn kill_between_persist_and_delivery_loses_nothing() {
    let mut world = world();
    world.start_id(&uuid(1));
    world.auto_sync = false;
    world.respond(&id(1), 201, "ok");
    // The batch was handed out but never synced: the kill loses it, and the
    // upload must run again.
    world.kill_and_relaunch();
    world.auto_sync = true;
    world.init_limit(1);
    assert_eq!(world.transfers.get(&id(1)), Some(&Attempt(2)));
    world.respond(&id(1), 201, "ok");
    world.kill_and_relaunch();
    world.init_limit(1);
    assert_eq!(
        world.terminal_events().len(),
        2,
        "delivered, then again after relaunch"
    );
    assert_eq!(world.terminal_events()[0], world.terminal_events()[1]);
}

#[test]
fn relaunch_requeues_engine_owned_transfers() {
    let mut world = World::new(Options::new(6));
    world.init_limit(2);
    world.start_id(&uuid(1));
    world.start_id(&uuid(2));
    world.start_id(&uuid(3));
    world.kill_and_relaunch();
    assert_eq!(world.machine.upload_count(), 3);
    // Background relaunch: transfers resume before the app calls init, with
    // the persisted limit.
    assert_eq!(world.transfers.len(), 2);
    assert!(world.transfers.contains_key(&id(1)) && world.transfers.contains_key(&id(2)));
    world.settle();
}

#[test]
fn relaunch_reconciles_os_owned_transfers_with_a_bounded_wait() {
    let mut options = Options::new(7);
    options.ownership = TransferOwnership::Os;
    options.limits.reconcile_timeout_millis = 60_000;
    let mut world = World::new(options);
    world.init_limit(2);
    world.start_id(&uuid(1));
    world.start_id(&uuid(2));
    world.kill_and_relaunch();
    world.init_limit(2);
    assert!(
        world.transfers.is_empty(),
        "the OS owns them: nothing restarts"
    );
    // The OS finished upload 1 while the app was dead and reports it now.
    world.input(Input::Transfer(AttemptReport {
        upload_id: id(1),
        attempt: Attempt(1),
        report: TransferReport::Response {
            status: 201,
            body: b"done".to_vec(),
            truncated: false,
            retry_after_millis: None,
        },
    }));
    assert_eq!(world.terminal_events().len(), 1);
    // Upload 2 never reports: after the timeout it is cancelled and retried.
    world.advance(60_000);
    assert_eq!(world.transfers.get(&id(2)), Some(&Attempt(2)));
    world.settle();
}

#[test]
fn legacy_in_flight_records_become_failed_500() {
    let recovered = Recovered {
        legacy_uploads: vec![
            LegacyUpload {
                id: "old-upload-1".to_owned(),
            },
            LegacyUpload { id: uuid(7) },
        ],
        ..Recovered::default()
    };
    let mut machine = Machine::recover(Options::new(8), recovered, Time::ZERO);
    let Some(Effect::PersistBatch(batch)) = machine.poll_effect() else {
        panic!("the migration is persisted first");
    };
    let events: Vec<_> = batch
        .changes
        .iter()
        .filter_map(|change| match change {
            Change::PutEvent(event) => Some(event.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(events.len(), 2);
    for event in &events {
        assert!(matches!(
            &event.outcome,
            Outcome::Failed { error_code, .. } if *error_code == ErrorCode::LegacyRecord.code()
        ));
    }
    assert_eq!(events[0].upload_id.as_str(), "old-upload-1", "old ids kept");
    let deletes = batch
        .changes
        .iter()
        .filter(|change| matches!(change, Change::DeleteUpload(_)))
        .count();
    assert_eq!(deletes, 2);
    assert!(
        batch
            .changes
            .iter()
            .any(|change| matches!(change, Change::PutMeta(meta) if meta.next_event_id == 3))
    );
}

#[test]
fn limits_refuse_new_uploads_but_keep_accepted_ones() {
    let mut options = Options::new(9);
    options.limits.max_uploads = 3;
    let mut world = World::new(options);
    world.init_limit(1);
    for n in 1..=3 {
        world.start_id(&uuid(n));
    }
    let command = world.start_id(&uuid(4));
    let error = world.results[&command].clone().unwrap_err().error;
    assert!(error.contains("Too many uploads"), "{error}");
    assert_eq!(world.machine.upload_count(), 3);
    world.settle();
}

#[test]
fn event_ids_are_never_reused_across_acks_and_relaunches() {
    let mut world = world();
    let mut seen = std::collections::BTreeSet::new();
    for round in 0..4u8 {
        world.start_id(&uuid(round));
        world.respond(&id(round), 201, "");
        let event_id = world.terminal_events().last().expect("event").event_id;
        assert!(seen.insert(event_id), "event id {event_id} reused");
        world.acknowledge(event_id);
        world.kill_and_relaunch();
        world.init_limit(1);
    }
}

#[test]
fn time_is_an_input_and_never_goes_back() {
    let mut machine = Machine::new(Options::new(1));
    machine.handle_input(
        Time::from_millis(1_000),
        Input::Init {
            command: bgupload_fsm::CommandId(1),
            config: Config::default(),
        },
    );
    // An earlier `now` must not panic or move deadlines back.
    machine.handle_input(Time::from_millis(10), Input::Timeout);
    while machine.poll_effect().is_some() {}
}

#[test]
fn a_machine_built_offline_starts_nothing_until_the_network_is_up() {
    let mut options = Options::new(1);
    options.network = bgupload_fsm::NetworkState::UNREACHABLE;
    let mut world = World::new(options);
    world.init_limit(2);
    world.start_id(&uuid(1));
    world.kill_and_relaunch();
    assert!(
        world.transfers.is_empty(),
        "recovered offline: nothing starts"
    );
    world.network(true);
    assert_eq!(world.transfers.get(&id(1)), Some(&Attempt(1)));
}

#[test]
fn an_attempt_that_reported_its_end_is_not_cancelled() {
    let mut machine = Machine::new(Options::new(1));
    let now = Time::ZERO;
    let drain = |machine: &mut Machine| {
        let mut effects = Vec::new();
        while let Some(effect) = machine.poll_effect() {
            if let Effect::PersistBatch(batch) = &effect {
                machine.handle_input(now, Input::Durable { through: batch.id });
            }
            effects.push(effect);
        }
        effects
    };
    machine.handle_input(
        now,
        Input::Init {
            command: bgupload_fsm::CommandId(1),
            config: Config::default(),
        },
    );
    machine.handle_input(
        now,
        Input::StartUpload {
            command: bgupload_fsm::CommandId(2),
            payload: payload(&uuid(1)),
            file: FILE_OK,
        },
    );
    drain(&mut machine);
    machine.handle_input(
        now,
        Input::Transfer(AttemptReport {
            upload_id: id(1),
            attempt: Attempt(1),
            report: TransferReport::Response {
                status: 201,
                body: Vec::new(),
                truncated: false,
                retry_after_millis: None,
            },
        }),
    );
    let effects = drain(&mut machine);
    assert!(
        !effects
            .iter()
            .any(|effect| matches!(effect, Effect::CancelAttempt { .. })),
        "{effects:?}"
    );
    assert!(
        effects
            .iter()
            .any(|effect| matches!(effect, Effect::Deliver(Event::Terminal(_))))
    );
}

#[test]
fn lowering_the_limit_is_one_batch_with_the_transfers_it_sends_back() {
    let mut options = Options::new(11);
    options.ownership = TransferOwnership::Os;
    let mut world = World::new(options);
    world.init_limit(3);
    for n in 1..=3 {
        world.start_id(&uuid(n));
    }
    assert_eq!(world.transfers.len(), 3);
    // The init's batch is handed out, then the app dies before any sync.
    world.auto_sync = false;
    world.init_limit(1);
    assert_eq!(
        world.unsynced.len(),
        1,
        "limit and shed transfers: one batch"
    );
    world.sync();
    world.kill_and_relaunch();
    assert_eq!(world.machine.in_flight_count(), 1);
    world.auto_sync = true;
    world.settle();
}

#[test]
fn relaunch_with_more_os_owned_transfers_than_the_limit_sheds_the_newest() {
    let mut options = Options::new(12);
    options.ownership = TransferOwnership::Os;
    let mut world = World::new(options);
    world.init_limit(3);
    for n in 1..=3 {
        world.start_id(&uuid(n));
    }
    // A store written by an older build: limit 1 with 3 transfers in flight.
    if let Some(meta) = world.disk.meta.as_mut() {
        meta.config.parallel_uploads_limit = 1;
    }
    world.kill_and_relaunch();
    assert_eq!(world.machine.in_flight_count(), 1, "no panic, excess shed");
    world.settle();
}

#[test]
fn a_stored_event_counter_behind_its_events_is_repaired_durably() {
    let mut world = world();
    world.start_id(&uuid(1));
    world.respond(&id(1), 201, "");
    let event_id = world.terminal_events()[0].event_id;
    // Damage: the counter goes back to the event's own id.
    if let Some(meta) = world.disk.meta.as_mut() {
        meta.next_event_id = event_id.0;
    }
    world.kill_and_relaunch();
    assert_eq!(
        world.disk.meta.map(|meta| meta.next_event_id),
        Some(event_id.0 + 1),
        "the corrected counter is on disk"
    );
    world.init_limit(1);
    world.acknowledge(event_id);
    world.kill_and_relaunch();
    world.init_limit(1);
    world.start_id(&uuid(2));
    world.respond(&id(2), 201, "");
    let last = world.terminal_events().last().expect("event").event_id;
    assert!(last > event_id, "an acknowledged id is never reused");
}

#[test]
fn an_upload_out_of_attempt_numbers_ends_failed_instead_of_reusing_one() {
    let mut world = World::new(Options::new(21));
    world.network(false);
    world.init_limit(1);
    world.start_id(&uuid(1));
    // A record at the last attempt number (four billion attempts, or a
    // damaged store) that was in flight when the process died.
    let record = world.disk.uploads.get_mut(&id(1)).expect("accepted");
    record.last_attempt = Some(Attempt::MAX);
    record.in_flight = true;
    world.kill_and_relaunch();
    world.network(true);
    world.init_limit(1);
    assert!(world.transfers.is_empty(), "no attempt number is reused");
    assert_eq!(
        world.failed_event(&id(1)),
        Some((
            MSG_ATTEMPTS_EXHAUSTED.to_owned(),
            ErrorCode::AttemptsExhausted.code()
        ))
    );
    // A late report of the old process's attempt changes nothing.
    world.report_attempt(
        &id(1),
        Attempt::MAX,
        TransferReport::Response {
            status: 201,
            body: b"late".to_vec(),
            truncated: false,
            retry_after_millis: None,
        },
    );
    assert_eq!(world.terminal_events().len(), 1);
    world.settle();
}

#[test]
fn stored_state_the_machine_cannot_have_written_is_named() {
    let mut world = World::new(Options::new(22));
    world.init_limit(1);
    world.start_id(&uuid(1));
    world.respond(&id(1), 201, "ok");
    let mut recovered = world.disk.recovered();
    assert_eq!(recovered.check(), Ok(()));

    let mut event = recovered.events[0].clone();
    event.event_id = EventId(EventId::MAX.0 + 1);
    recovered.events.push(event);
    let reason = recovered.check().unwrap_err();
    assert!(
        reason.contains("event id 9007199254740992 outside 1..=9007199254740991"),
        "{reason}"
    );
    recovered.events.pop();

    let mut meta = recovered.meta.expect("meta stored");
    meta.next_event_id = EventId::MAX.0 + 2;
    assert!(meta.check().is_err());
    meta.next_event_id = EventId::MAX.0 + 1;
    assert_eq!(meta.check(), Ok(()), "the counter after the last id");
    meta.next_event_id = 0;
    assert!(meta.check().is_err());

    world.start_id(&uuid(2));
    let mut record = world.disk.uploads.get(&id(2)).expect("accepted").clone();
    assert_eq!(record.check(), Ok(()));
    record.request.id = bgupload_fsm::UploadId::from_stored(&"7".repeat(2_000));
    assert!(
        record
            .check()
            .unwrap_err()
            .contains("not one this engine accepts")
    );
}

#[test]
#[should_panic(expected = "Machine::recover needs a checked store state")]
fn recovering_an_unchecked_state_is_refused() {
    let mut world = World::new(Options::new(23));
    world.init_limit(1);
    world.start_id(&uuid(1));
    world.respond(&id(1), 201, "ok");
    let mut recovered = world.disk.recovered();
    recovered.events[0].event_id = EventId(u64::MAX);
    Machine::recover(Options::new(23), recovered, Time::ZERO);
}

#[test]
fn well_formed_urls_are_accepted_in_every_authority_form() {
    let mut world = world();
    let urls = [
        "http://[::1]:8080/upload",
        "https://[2001:db8::7]/u",
        "http://user:pass@example.com:1/u?sig=x#f",
        "HTTPS://Example.COM:65535",
        "http://host:/empty-port-means-default",
        "http://127.0.0.1/",
    ];
    for (n, url) in urls.iter().enumerate() {
        let command = world.start(
            UploadPayload {
                server_url: Some((*url).to_owned()),
                ..payload(&format!("url-{n}"))
            },
            FILE_OK,
        );
        assert!(
            world.results[&command].is_ok(),
            "{url}: {:?}",
            world.results[&command]
        );
    }
}

#[test]
fn a_full_disk_refuses_new_uploads_and_lets_accepted_ones_finish() {
    let mut world = world();
    world.init_limit(1);
    world.start_id(&uuid(1));
    world.start_id(&uuid(2));
    assert_eq!(world.transfers.get(&id(1)), Some(&Attempt(1)));
    world.storage(StorageSpace::ReserveOnly);
    world.start_id(&uuid(3));
    let (refused, error, code) = rejection_of(&world);
    assert_eq!(refused.as_deref(), Some(uuid(3).as_str()));
    assert_eq!(error, validate::MSG_NO_SPACE);
    assert_eq!(code, Some(ErrorCode::StorageFull.code()));
    // Accepted uploads run, end and are acknowledged in the reserve's room.
    world.respond(&id(1), 201, "ok");
    assert_eq!(world.transfers.get(&id(2)), Some(&Attempt(1)));
    let event = world.terminal_events()[0].event_id;
    world.acknowledge(event);
    assert!(world.unacknowledged().is_empty());
    // The reserve spent: no attempt starts (each one writes).
    world.storage(StorageSpace::Exhausted);
    world.fail(&id(2), true);
    world.advance(3_600_000);
    assert!(world.transfers.is_empty(), "{:?}", world.transfers);
    world.start_id(&uuid(4));
    assert_eq!(rejection_of(&world).2, Some(ErrorCode::StorageFull.code()));
    // Room again: the waiting upload goes on and new ones are accepted.
    world.storage(StorageSpace::Available);
    assert_eq!(world.transfers.get(&id(2)), Some(&Attempt(2)));
    world.start_id(&uuid(4));
    assert!(world.machine.upload_count() == 2);
    world.settle();
}

#[test]
fn an_init_with_the_configuration_in_force_writes_nothing() {
    let mut machine = Machine::new(Options::new(1));
    let config = Config::default();
    machine.handle_input(
        Time::ZERO,
        Input::Init {
            command: bgupload_fsm::CommandId(1),
            config,
        },
    );
    let writes = std::iter::from_fn(|| machine.poll_effect())
        .filter(|effect| matches!(effect, Effect::PersistBatch(_)))
        .count();
    assert_eq!(writes, 0, "the default configuration is in force");
    let changed = Config {
        parallel_uploads_limit: 3,
        ..config
    };
    machine.handle_input(
        Time::ZERO,
        Input::Init {
            command: bgupload_fsm::CommandId(2),
            config: changed,
        },
    );
    let writes = std::iter::from_fn(|| machine.poll_effect())
        .filter(|effect| matches!(effect, Effect::PersistBatch(_)))
        .count();
    assert_eq!(writes, 1);
}
