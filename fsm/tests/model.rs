//! Model-based property suite: random sequences of app commands, transfer
//! reports, network changes, time jumps, unsynced writes, kills and
//! relaunches, checked against DESIGN.md invariants 1–7 after every step
//! (by the world in `support`), and for liveness at the end.
//!
//! The reference model (`Model`) generates only sensible steps and keeps the
//! ids in play; the world's reference registry predicts every `startUpload`
//! answer from what the app was told, and the machine must agree.
//! Failing cases are saved under `proptest-regressions/` and replayed first.
//! `PROPTEST_CASES` raises the number of cases (default 1,000).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test or bench: failing loudly is the point

mod support;

use bgupload_fsm::{
    Config, EventId, FileCheck, NetworkRequirement, NetworkState, Options, ProgressThrottle,
    RetryPolicy, StatusPolicy, StorageSpace, TransferOwnership, TransferReport, UploadId,
    UploadPayload,
};
use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use support::{FILE_OK, World, app_id, payload};

/// Ids in play: few, so that duplicates, removals of live uploads and reuse
/// after acknowledgement happen often.
const ID_POOL: u8 = 6;

#[derive(Clone, Debug)]
struct Model {
    seed: u64,
    ownership: TransferOwnership,
}

#[derive(Clone, Debug)]
enum Step {
    Init {
        limit: u32,
        max_attempts: u32,
        defaults: u8,
    },
    Start {
        id: u8,
        variant: u8,
    },
    Remove {
        id: u8,
    },
    Pause {
        id: u8,
    },
    Resume {
        id: u8,
    },
    UpdateHeaders {
        id: u8,
        valid: bool,
    },
    Acknowledge {
        pick: usize,
    },
    Destroy,
    Network {
        reachable: bool,
        metered: bool,
    },
    Storage {
        space: u8,
    },
    Respond {
        pick: usize,
        status: u16,
        retry_after_millis: Option<u64>,
    },
    Fail {
        pick: usize,
        retryable: bool,
    },
    Progress {
        pick: usize,
        permille: u16,
    },
    Advance {
        millis: u64,
    },
    AutoSync {
        on: bool,
    },
    Sync,
    Kill,
}

impl ReferenceStateMachine for Model {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        (any::<u64>(), any::<bool>())
            .prop_map(|(seed, os)| Model {
                seed,
                ownership: if os {
                    TransferOwnership::Os
                } else {
                    TransferOwnership::Engine
                },
            })
            .boxed()
    }

    fn transitions(_state: &Model) -> BoxedStrategy<Step> {
        prop_oneof![
            1 => (0u32..5, 1u32..4, 0u8..8).prop_map(|(limit, max_attempts, defaults)| Step::Init { limit, max_attempts, defaults }),
            6 => (0..ID_POOL, 0u8..12).prop_map(|(id, variant)| Step::Start { id, variant }),
            2 => (0..ID_POOL).prop_map(|id| Step::Remove { id }),
            2 => (0..ID_POOL).prop_map(|id| Step::Pause { id }),
            2 => (0..ID_POOL).prop_map(|id| Step::Resume { id }),
            1 => (0..ID_POOL, any::<bool>()).prop_map(|(id, valid)| Step::UpdateHeaders { id, valid }),
            3 => any::<usize>().prop_map(|pick| Step::Acknowledge { pick }),
            1 => Just(Step::Destroy),
            2 => (any::<bool>(), any::<bool>()).prop_map(|(reachable, metered)| Step::Network { reachable, metered }),
            1 => (0u8..3).prop_map(|space| Step::Storage { space }),
            5 => (
                any::<usize>(),
                prop_oneof![Just(200u16), Just(201), Just(404), Just(413), Just(429), Just(500), Just(503)],
                prop_oneof![Just(None), (0u64..10_000).prop_map(Some), Just(Some(u64::MAX))],
            )
                .prop_map(|(pick, status, retry_after_millis)| Step::Respond { pick, status, retry_after_millis }),
            3 => (any::<usize>(), any::<bool>()).prop_map(|(pick, retryable)| Step::Fail { pick, retryable }),
            4 => (any::<usize>(), 0u16..=1000).prop_map(|(pick, permille)| Step::Progress { pick, permille }),
            3 => prop_oneof![Just(1u64), 0u64..2_000, 0u64..20 * 60 * 1_000]
                .prop_map(|millis| Step::Advance { millis }),
            2 => any::<bool>().prop_map(|on| Step::AutoSync { on }),
            2 => Just(Step::Sync),
            2 => Just(Step::Kill),
        ]
        .boxed()
    }

    fn apply(state: Model, _step: &Step) -> Model {
        state
    }
}

struct MachineUnderTest;

fn pick<T: Clone>(items: &[T], pick: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[pick % items.len()].clone())
}

fn transfer_ids(world: &World) -> Vec<UploadId> {
    world.transfers.keys().cloned().collect()
}

impl StateMachineTest for MachineUnderTest {
    type SystemUnderTest = World;
    type Reference = Model;

    fn init_test(model: &Model) -> World {
        let mut options = Options::new(model.seed);
        options.ownership = model.ownership;
        options.limits.reconcile_timeout_millis = 30_000;
        let mut world = World::new(options);
        world.init_limit(1);
        world
    }

    fn apply(mut world: World, _model: &Model, step: Step) -> World {
        match step {
            Step::Init {
                limit,
                max_attempts,
                defaults,
            } => {
                let config = Config {
                    parallel_uploads_limit: limit,
                    retry: RetryPolicy {
                        max_attempts,
                        initial_backoff_millis: 100,
                        max_backoff_millis: 5_000,
                    },
                    progress: ProgressThrottle::default(),
                    ..Config::default()
                };
                world.init(support::with_defaults(config, defaults));
            }
            Step::Start { id, variant } => {
                let text = app_id(id);
                let (payload, file) = match variant {
                    3 => (payload(&format!("{text}\n")), FILE_OK),
                    0 => (
                        UploadPayload {
                            server_url: None,
                            ..payload(&text)
                        },
                        FILE_OK,
                    ),
                    1 => (payload(&text), FileCheck::Missing),
                    2 => (
                        UploadPayload {
                            request_method: Some("PUT".to_owned()),
                            ..payload(&text)
                        },
                        FILE_OK,
                    ),
                    8 => (
                        UploadPayload {
                            network: Some(NetworkRequirement::Unmetered),
                            ..payload(&text)
                        },
                        FILE_OK,
                    ),
                    9 => (
                        UploadPayload {
                            status_policy: Some(StatusPolicy::Standard),
                            ..payload(&text)
                        },
                        FILE_OK,
                    ),
                    10 => (
                        UploadPayload {
                            idempotency_key: Some(true),
                            ..payload(&text)
                        },
                        FILE_OK,
                    ),
                    11 => (
                        // Refused: the app's own key beside the engine's.
                        UploadPayload {
                            idempotency_key: Some(true),
                            headers: vec![("idempotency-key".to_owned(), "\"k\"".to_owned())],
                            ..payload(&text)
                        },
                        FILE_OK,
                    ),
                    _ => (payload(&text), FILE_OK),
                };
                world.start(payload, file);
            }
            Step::Remove { id } => {
                world.remove(&app_id(id));
            }
            Step::Pause { id } => {
                world.pause(&app_id(id));
            }
            Step::Resume { id } => {
                world.resume(&app_id(id));
            }
            Step::UpdateHeaders { id, valid } => {
                let value = if valid {
                    "Bearer fresh"
                } else {
                    "bad\r\nvalue"
                };
                world.update_headers(
                    &app_id(id),
                    vec![("Authorization".to_owned(), value.to_owned())],
                );
            }
            Step::Acknowledge { pick: index } => {
                let event_id = pick(&world.unacknowledged(), index).unwrap_or(EventId(u64::MAX));
                world.acknowledge(event_id);
            }
            Step::Destroy => {
                world.destroy();
            }
            Step::Network { reachable, metered } => {
                world.network_state(NetworkState { reachable, metered });
            }
            Step::Storage { space } => world.storage(match space {
                0 => StorageSpace::Available,
                1 => StorageSpace::ReserveOnly,
                _ => StorageSpace::Exhausted,
            }),
            Step::Respond {
                pick: index,
                status,
                retry_after_millis,
            } => {
                if let Some(id) = pick(&transfer_ids(&world), index) {
                    world.respond_retry_after(&id, status, "{\"ok\":true}", retry_after_millis);
                }
            }
            Step::Fail {
                pick: index,
                retryable,
            } => {
                if let Some(id) = pick(&transfer_ids(&world), index) {
                    world.fail(&id, retryable);
                }
            }
            Step::Progress {
                pick: index,
                permille,
            } => {
                if let Some(id) = pick(&transfer_ids(&world), index) {
                    world.report(
                        &id,
                        TransferReport::Progress {
                            sent: u64::from(permille),
                            total: 1_000,
                        },
                    );
                }
            }
            Step::Advance { millis } => world.advance(millis),
            Step::AutoSync { on } => {
                world.auto_sync = on;
                if on {
                    world.sync();
                }
            }
            Step::Sync => world.sync(),
            Step::Kill => world.kill_and_relaunch(),
        }
        world
    }

    fn check_invariants(world: &World, _model: &Model) {
        // Invariant 7 holds at every instant, not only at kills.
        world.check_durability();
        let limit = world.machine.config().parallel_uploads_limit as usize;
        assert!(world.machine.in_flight_count() <= limit, "invariant 4");
    }

    fn teardown(mut world: World, _model: Model) {
        world.auto_sync = true;
        world.settle();
        // Everything delivered can be acknowledged, and then nothing is left.
        for event_id in world.unacknowledged() {
            world.acknowledge(event_id);
        }
        world.kill_and_relaunch();
        world.init_limit(1);
        assert!(
            world.disk.events.is_empty() && world.disk.uploads.is_empty(),
            "after settling and acknowledging everything the disk is empty: {:?}",
            world.disk
        );
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1_000)
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 4_096,
        .. ProptestConfig::default()
    })]

    #[test]
    fn machine_keeps_invariants_under_random_steps(sequential 1..80 => MachineUnderTest);
}
