//! Throughput of the state machine on a realistic mix: 10,000 uploads with
//! parallel limit 4, each confirmed durable, started, reported on 20 times
//! (progress), answered, its event delivered and acknowledged.
//!
//! Run: `cargo bench -p bgupload-fsm`. divan prints inputs per second in the
//! `items/s` column (goal: ≥ 2 million inputs/s on one core).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test or bench: failing loudly is the point

use bgupload_fsm::{
    AttemptReport, CommandId, Config, Effect, Event, FileCheck, Input, Machine, Options, Time,
    TransferReport, UploadPayload,
};
use divan::counter::ItemsCount;

const UPLOADS: usize = 10_000;
const PROGRESS_REPORTS_PER_UPLOAD: u64 = 20;

fn main() {
    divan::main();
}

fn payloads() -> Vec<UploadPayload> {
    (0..UPLOADS)
        .map(|n| UploadPayload {
            id: Some(format!("c3a4b4c7-4f1e-4c69-a951-{n:012x}")),
            file_path: Some(format!("/data/photos/{n}.jpg")),
            server_url: Some("https://uploads.example.com/v1/files".to_owned()),
            headers: vec![("Authorization".to_owned(), "Bearer abc".to_owned())],
            parameters: vec![("album".to_owned(), "holiday".to_owned())],
            ..UploadPayload::default()
        })
        .collect()
}

/// Drives every upload to its acknowledged end; returns inputs handled.
fn run(payloads: Vec<UploadPayload>) -> u64 {
    let mut machine = Machine::new(Options::new(1));
    let mut now = 0u64;
    let mut inputs = 0u64;
    let mut command = 0u64;
    let mut next_command = || {
        command += 1;
        CommandId(command)
    };
    let feed = |machine: &mut Machine, now: u64, input: Input, inputs: &mut u64| {
        *inputs += 1;
        machine.handle_input(Time::from_millis(now), input);
    };
    feed(
        &mut machine,
        now,
        Input::Init {
            command: next_command(),
            config: Config {
                parallel_uploads_limit: 4,
                ..Config::default()
            },
        },
        &mut inputs,
    );
    for payload in payloads {
        feed(
            &mut machine,
            now,
            Input::StartUpload {
                command: next_command(),
                payload,
                file: FileCheck::RegularFile { size: 1 << 20 },
            },
            &mut inputs,
        );
    }
    let mut started = Vec::new();
    let mut acknowledgements = Vec::new();
    for _round in 0..UPLOADS * 8 {
        let mut durable = None;
        while let Some(effect) = machine.poll_effect() {
            match effect {
                Effect::PersistBatch(batch) => durable = Some(batch.id),
                Effect::StartAttempt { request, attempt } => started.push((request.id, attempt)),
                Effect::Deliver(Event::Terminal(event)) => acknowledgements.push(event.event_id),
                _ => {}
            }
        }
        if let Some(through) = durable {
            feed(&mut machine, now, Input::Durable { through }, &mut inputs);
            continue;
        }
        if let Some(event_id) = acknowledgements.pop() {
            let command = next_command();
            feed(
                &mut machine,
                now,
                Input::AcknowledgeEvent { command, event_id },
                &mut inputs,
            );
            continue;
        }
        let Some((upload_id, attempt)) = started.pop() else {
            break;
        };
        for step in 1..=PROGRESS_REPORTS_PER_UPLOAD {
            now += 100;
            let report = TransferReport::Progress {
                sent: step * 50_000,
                total: 1 << 20,
            };
            let upload_id = upload_id.clone();
            feed(
                &mut machine,
                now,
                Input::Transfer(AttemptReport {
                    upload_id,
                    attempt,
                    report,
                }),
                &mut inputs,
            );
        }
        let report = TransferReport::Response {
            status: 201,
            body: b"{\"ok\":true}".to_vec(),
            truncated: false,
            retry_after_millis: None,
        };
        feed(
            &mut machine,
            now,
            Input::Transfer(AttemptReport {
                upload_id,
                attempt,
                report,
            }),
            &mut inputs,
        );
    }
    assert_eq!(machine.upload_count(), 0, "every upload ended");
    inputs
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn realistic_mix(bencher: divan::Bencher) {
    let inputs = run(payloads());
    bencher
        .counter(ItemsCount::new(inputs))
        .with_inputs(payloads)
        .bench_local_values(run);
}
