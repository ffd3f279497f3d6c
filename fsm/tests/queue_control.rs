//! One test per queue-control rule (#15): status policy with
//! `Retry-After`, idempotency keys, the listing, network constraints,
//! pause and resume, fresh headers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test or bench: failing loudly is the point

mod support;

use bgupload_fsm::{
    Config, ErrorCode, Event, NetworkRequirement, NetworkState, Options, Outcome, RetryPolicy,
    StatusPolicy, Time, UploadId, UploadPayload, UploadState, validate,
};
use support::{FILE_OK, World, id, payload, uuid};

const METERED: NetworkState = NetworkState {
    reachable: true,
    metered: true,
};

fn world_with(config: Config) -> World {
    let mut world = World::new(Options::new(1));
    world.init(config);
    world
}

fn standard(max_attempts: u32) -> Config {
    Config {
        status_policy: StatusPolicy::Standard,
        retry: RetryPolicy {
            max_attempts,
            initial_backoff_millis: 1_000,
            max_backoff_millis: 60_000,
        },
        ..Config::default()
    }
}

fn last_outcome(world: &World, upload: &UploadId) -> Outcome {
    world
        .terminal_events()
        .into_iter()
        .rev()
        .find(|event| &event.upload_id == upload)
        .map(|event| event.outcome.clone())
        .expect("a terminal event")
}

fn state_of(world: &World, upload: &UploadId) -> UploadState {
    world
        .machine
        .uploads()
        .iter()
        .find(|status| &status.request.id == upload)
        .map(|status| status.state)
        .expect("a listed upload")
}

fn result_of(world: &World, command: bgupload_fsm::CommandId) -> Result<(), (String, Option<i32>)> {
    world.results[&command]
        .clone()
        .map_err(|rejection| (rejection.error, rejection.error_code))
}

// ----- status policy -----

#[test]
fn under_any_every_status_is_uploaded_as_in_the_reference() {
    let mut world = world_with(Config::default());
    world.start_id(&uuid(1));
    world.respond(&id(1), 503, "busy");
    assert!(matches!(
        last_outcome(&world, &id(1)),
        Outcome::Uploaded {
            status_code: 503,
            ..
        }
    ));
}

#[test]
fn under_standard_2xx_is_uploaded_and_other_statuses_fail_with_the_answer_kept() {
    let mut world = world_with(standard(5));
    world.start_id(&uuid(1));
    world.respond(&id(1), 204, "");
    assert!(matches!(
        last_outcome(&world, &id(1)),
        Outcome::Uploaded {
            status_code: 204,
            ..
        }
    ));
    world.start_id(&uuid(2));
    world.respond(&id(2), 404, "no such bucket");
    let outcome = last_outcome(&world, &id(2));
    assert_eq!(outcome.error_code(), Some(404));
    assert_eq!(
        outcome,
        Outcome::FailedByServer {
            error: "Server answered HTTP 404".to_owned(),
            status_code: 404,
            server_response: "no such bucket".to_owned(),
            response_truncated: false,
        }
    );
}

#[test]
fn a_retried_status_waits_at_least_retry_after_and_counts_against_max_attempts() {
    let mut world = world_with(standard(3));
    world.start_id(&uuid(1));
    world.respond_retry_after(&id(1), 503, "busy", Some(20_000));
    let UploadState::Retrying { next_attempt_at } = state_of(&world, &id(1)) else {
        panic!("503 is retried");
    };
    assert!(next_attempt_at >= Time::from_millis(20_000));
    world.advance(19_999);
    assert!(world.transfers.is_empty(), "not before Retry-After");
    world.advance(1);
    assert!(world.transfers.contains_key(&id(1)));
    // 429 without Retry-After: the ordinary backoff.
    world.respond(&id(1), 429, "slow down");
    assert!(world.advance_to_deadline());
    world.respond(&id(1), 503, "still busy");
    let outcome = last_outcome(&world, &id(1));
    assert_eq!(outcome.error_code(), Some(503));
    let Outcome::FailedByServer { error, .. } = outcome else {
        panic!("FAILED with the answer");
    };
    assert_eq!(error, "Server answered HTTP 503 (gave up after 3 attempts)");
}

#[test]
fn a_hostile_retry_after_cannot_stall_an_upload_past_max_backoff() {
    let mut world = world_with(standard(5));
    world.start_id(&uuid(1));
    world.respond_retry_after(&id(1), 503, "", Some(u64::MAX));
    let UploadState::Retrying { next_attempt_at } = state_of(&world, &id(1)) else {
        panic!("503 is retried");
    };
    assert!(next_attempt_at <= Time::from_millis(60_000));
    world.advance(60_000);
    assert!(world.transfers.contains_key(&id(1)));
}

#[test]
fn the_payload_overrides_the_config_policy() {
    let mut world = world_with(standard(5));
    world.start(
        UploadPayload {
            status_policy: Some(StatusPolicy::Any),
            ..payload(&uuid(1))
        },
        FILE_OK,
    );
    world.respond(&id(1), 500, "oops");
    assert!(matches!(
        last_outcome(&world, &id(1)),
        Outcome::Uploaded {
            status_code: 500,
            ..
        }
    ));
}

// ----- idempotency keys -----

#[test]
fn an_idempotency_key_is_drawn_once_and_kept_across_attempts_and_relaunches() {
    let mut world = world_with(Config {
        idempotency_key: true,
        ..Config::default()
    });
    world.start_id(&uuid(1));
    let key = world.disk.uploads[&id(1)]
        .request
        .idempotency_key
        .clone()
        .expect("a key, persisted with the upload");
    assert!(
        key.starts_with('"') && key.ends_with('"') && key.len() == 38,
        "{key}"
    );
    world.fail(&id(1), true);
    world.kill_and_relaunch();
    world.init(Config::default());
    // The world checks that every attempt carries the first one's key.
    assert!(world.advance_to_deadline() || !world.transfers.is_empty());
    assert_eq!(world.keys[&id(1)].as_ref(), Some(&key));
    world.start(
        UploadPayload {
            idempotency_key: Some(false),
            ..payload(&uuid(2))
        },
        FILE_OK,
    );
    assert_eq!(world.disk.uploads[&id(2)].request.idempotency_key, None);
}

#[test]
fn an_app_key_header_beside_the_engines_is_refused() {
    let mut world = world_with(Config::default());
    let command = world.start(
        UploadPayload {
            idempotency_key: Some(true),
            headers: vec![("Idempotency-Key".to_owned(), "\"mine\"".to_owned())],
            ..payload(&uuid(1))
        },
        FILE_OK,
    );
    let (error, code) = result_of(&world, command).unwrap_err();
    assert!(error.contains("Idempotency-Key"), "{error}");
    assert_eq!(code, Some(ErrorCode::InvalidArgument.code()));
}

// ----- pause and resume -----

#[test]
fn pause_stops_the_attempt_frees_the_slot_and_sends_no_event() {
    let mut world = world_with(Config::default());
    world.start_id(&uuid(1));
    world.start_id(&uuid(2));
    assert!(world.transfers.contains_key(&id(1)));
    let before = world.delivered.len();
    let command = world.pause(&uuid(1));
    assert_eq!(result_of(&world, command), Ok(()));
    assert!(
        world.disk.uploads[&id(1)].paused,
        "durable before it answers"
    );
    assert!(
        world.transfers.contains_key(&id(2)),
        "the slot went to the next"
    );
    assert_eq!(state_of(&world, &id(1)), UploadState::Paused);
    assert!(
        world.delivered[before..]
            .iter()
            .all(|event| !matches!(event, Event::Terminal(_))),
        "no terminal event from a pause"
    );
    // Idempotent, and unknown ids succeed unchanged.
    let again = world.pause(&uuid(1));
    let unknown = world.pause("nobody");
    assert_eq!(result_of(&world, again), Ok(()));
    assert_eq!(result_of(&world, unknown), Ok(()));
    let missing = world.pause("");
    assert_eq!(
        result_of(&world, missing),
        Err((validate::MSG_ID_REQUIRED.to_owned(), None))
    );
}

#[test]
fn a_pause_survives_relaunch_and_resume_queues_it_again() {
    let mut world = world_with(Config::default());
    world.start_id(&uuid(1));
    world.pause(&uuid(1));
    world.kill_and_relaunch();
    world.init(Config::default());
    assert!(world.transfers.is_empty(), "still paused after relaunch");
    assert_eq!(state_of(&world, &id(1)), UploadState::Paused);
    let running = world.resume(&uuid(2));
    assert_eq!(result_of(&world, running), Ok(()), "unknown id: no change");
    let command = world.resume(&uuid(1));
    assert_eq!(result_of(&world, command), Ok(()));
    assert!(!world.disk.uploads[&id(1)].paused);
    assert!(world.transfers.contains_key(&id(1)));
    let again = world.resume(&uuid(1));
    assert_eq!(result_of(&world, again), Ok(()), "idempotent");
    world.respond(&id(1), 201, "ok");
    assert!(matches!(
        last_outcome(&world, &id(1)),
        Outcome::Uploaded { .. }
    ));
}

#[test]
fn a_paused_upload_can_still_be_removed() {
    let mut world = world_with(Config::default());
    world.start_id(&uuid(1));
    world.pause(&uuid(1));
    world.remove(&uuid(1));
    assert_eq!(
        last_outcome(&world, &id(1)).error_code(),
        Some(ErrorCode::Cancelled.code())
    );
}

// ----- fresh headers -----

#[test]
fn update_headers_applies_to_later_attempts_durably_and_is_validated() {
    let mut world = world_with(Config::default());
    world.start_id(&uuid(1));
    let fresh = vec![("Authorization".to_owned(), "Bearer fresh".to_owned())];
    let command = world.update_headers(&uuid(1), fresh.clone());
    assert_eq!(result_of(&world, command), Ok(()));
    assert_eq!(world.disk.uploads[&id(1)].request.headers, fresh);
    world.fail(&id(1), true);
    world.advance_to_deadline();
    // The next attempt's request carries them (the machine hands out the
    // stored request).
    assert_eq!(world.disk.uploads[&id(1)].request.headers, fresh);
    let bad = world.update_headers(
        &uuid(1),
        vec![("Authorization".to_owned(), "a\r\nInjected: 1".to_owned())],
    );
    let (error, code) = result_of(&world, bad).unwrap_err();
    assert!(error.contains("control character"), "{error}");
    assert_eq!(code, Some(ErrorCode::InvalidArgument.code()));
    assert_eq!(world.disk.uploads[&id(1)].request.headers, fresh);
    world.respond(&id(1), 201, "ok");
    let ended = world.update_headers(&uuid(1), fresh);
    let (error, code) = result_of(&world, ended).unwrap_err();
    assert!(error.contains("not in progress"), "{error}");
    assert_eq!(code, Some(ErrorCode::UploadNotInProgress.code()));
}

// ----- network constraints -----

#[test]
fn an_unmetered_upload_waits_on_a_metered_network_without_a_slot_or_attempts() {
    let mut world = world_with(Config {
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        ..Config::default()
    });
    world.network_state(METERED);
    world.start(
        UploadPayload {
            network: Some(NetworkRequirement::Unmetered),
            ..payload(&uuid(1))
        },
        FILE_OK,
    );
    world.start_id(&uuid(2));
    assert!(
        world.transfers.contains_key(&id(2)),
        "the other takes the slot"
    );
    assert_eq!(state_of(&world, &id(1)), UploadState::WaitingForNetwork);
    world.respond(&id(2), 201, "ok");
    assert!(world.transfers.is_empty());
    world.network(true);
    assert!(world.transfers.contains_key(&id(1)));
    // Going metered stops it, uncounted (maxAttempts is 1).
    world.network_state(METERED);
    assert!(world.transfers.is_empty());
    assert_eq!(world.disk.uploads[&id(1)].counted_failures, 0);
    world.network(true);
    world.respond(&id(1), 201, "ok");
    assert!(matches!(
        last_outcome(&world, &id(1)),
        Outcome::Uploaded { .. }
    ));
}

#[test]
fn the_config_network_is_the_default_of_later_uploads() {
    let mut world = world_with(Config {
        network: NetworkRequirement::Unmetered,
        ..Config::default()
    });
    world.network_state(METERED);
    world.start_id(&uuid(1));
    assert!(world.transfers.is_empty());
    assert_eq!(
        world.disk.uploads[&id(1)].request.network,
        NetworkRequirement::Unmetered
    );
}

// ----- the listing -----

#[test]
fn the_listing_tells_each_state_in_acceptance_order() {
    let mut world = world_with(Config {
        parallel_uploads_limit: 1,
        ..standard(5)
    });
    world.start_id(&uuid(1));
    world.start_id(&uuid(2));
    world.start_id(&uuid(3));
    world.pause(&uuid(3));
    world.report(
        &id(1),
        bgupload_fsm::TransferReport::Progress {
            sent: 400,
            total: 1_200,
        },
    );
    let listing = world.machine.uploads();
    let states: Vec<(&str, UploadState, u32, u64, u64)> = listing
        .iter()
        .map(|status| {
            (
                status.request.id.as_str(),
                status.state,
                status.attempt,
                status.bytes_sent,
                status.bytes_total,
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            (uuid(1).as_str(), UploadState::Running, 1, 400, 1_200),
            (uuid(2).as_str(), UploadState::Queued, 0, 0, 1_000),
            (uuid(3).as_str(), UploadState::Paused, 0, 0, 1_000),
        ]
    );
    world.respond_retry_after(&id(1), 503, "", Some(5_000));
    assert!(matches!(
        state_of(&world, &id(1)),
        UploadState::Retrying { .. }
    ));
    world.network(false);
    assert_eq!(state_of(&world, &id(1)).as_str(), "retrying");
    world.respond(&id(2), 201, "ok");
    assert_eq!(world.machine.uploads().len(), 2);
}
