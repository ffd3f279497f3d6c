//! Queue control (#15) against both receivers: the status policy with a
//! real 4xx and a real 503 with `Retry-After`, idempotency keys on the
//! wire, fresh headers between attempts, pause and resume.

use super::*;
use bgupload::fsm::StatusPolicy;

/// A config whose retries wait little unless the server says otherwise.
fn standard_config() -> Config {
    Config {
        status_policy: StatusPolicy::Standard,
        ..test_config(1)
    }
}

async fn standard_policy_fails_a_4xx_with_the_answer_kept(kind: Kind) {
    bounded(async {
        let data = tempfile::tempdir().unwrap();
        let file = data.path().join("doc.txt");
        write_file(&file, 32 * 1024, 11);
        let receiver = TestReceiver::start(kind, Setup::default()).await;
        let url = match kind {
            Kind::Embedded => format!("{}?status=404", receiver.url()),
            Kind::Python => format!("{}/status/404/upload", receiver.base()),
        };
        let mut harness = Harness::start(data.path(), standard_config()).await;
        let id = new_id();
        harness
            .engine
            .start_upload(payload(&id, &file, &url))
            .await
            .unwrap();
        let results = harness.terminals(std::slice::from_ref(&id)).await;
        let event = &results[&id];
        let (code, error) = failed(event);
        assert_eq!(code, 404);
        assert_eq!(error, "Server answered HTTP 404");
        let json = event_to_json(&Event::Terminal(event.clone()));
        assert_eq!(json["state"], "FAILED");
        assert_eq!(json["statusCode"], 404);
        let answer: Value = serde_json::from_str(json["serverResponse"].as_str().unwrap()).unwrap();
        assert!(answer["receivedInfo"].is_object(), "{answer}");
        assert_eq!(receiver.completed().await, 1, "one attempt: 404 is final");
        harness.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_policy_fails_a_4xx_with_the_answer_kept_embedded() {
    standard_policy_fails_a_4xx_with_the_answer_kept(Kind::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_policy_fails_a_4xx_with_the_answer_kept_python() {
    standard_policy_fails_a_4xx_with_the_answer_kept(Kind::Python).await;
}

/// A 503 with `Retry-After: 1`: retried after at least a second (the
/// backoff alone is 100 ms), with the same `Idempotency-Key` both times,
/// then UPLOADED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_is_retried_after_retry_after_with_the_same_idempotency_key() {
    bounded(async {
        let mut rig = rig("status=503&retryAfter=1&times=1", 12).await;
        let id = new_id();
        let started = Instant::now();
        rig.harness
            .engine
            .start_upload(UploadPayload {
                idempotency_key: Some(true),
                ..payload(&id, &rig.file, &rig.url)
            })
            .await
            .unwrap();
        let results = rig.harness.terminals(std::slice::from_ref(&id)).await;
        let (status, answer) = uploaded(&results[&id]);
        assert_eq!(status, 201);
        assert_eq!(answer["receivedInfo"]["sha256"], rig.sha);
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "the retry waited for Retry-After"
        );
        let received = rig.receiver.embedded.as_ref().unwrap().received();
        let statuses: Vec<u16> = received.iter().map(|record| record.status).collect();
        assert_eq!(statuses, [503, 201]);
        let keys = received_header(&rig.receiver, "idempotency-key");
        assert_eq!(keys[0], keys[1], "one key across attempts");
        assert!(
            keys[0].starts_with('"') && keys[0].ends_with('"') && keys[0].len() == 38,
            "a quoted UUID: {}",
            keys[0]
        );
        rig.harness.stop().await;
    })
    .await;
}

/// `updateHeaders` between two attempts: the second carries the new value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_headers_reach_the_next_attempt() {
    bounded(async {
        // The first attempt is answered 503; the retry waits 3 s.
        let mut rig = rig("status=503&retryAfter=3&times=1", 13).await;
        let id = new_id();
        rig.harness
            .engine
            .start_upload(UploadPayload {
                headers: vec![("X-Token".to_owned(), "old".to_owned())],
                ..payload(&id, &rig.file, &rig.url)
            })
            .await
            .unwrap();
        wait_for_receptions(&rig.receiver, 1).await;
        let fresh = vec![("X-Token".to_owned(), "fresh".to_owned())];
        rig.harness.engine.update_headers(&id, fresh).await.unwrap();
        let results = rig.harness.terminals(std::slice::from_ref(&id)).await;
        assert_eq!(uploaded(&results[&id]).0, 201);
        assert_eq!(received_header(&rig.receiver, "x-token"), ["old", "fresh"]);
        let ended = rig
            .harness
            .engine
            .update_headers(&id, Vec::new())
            .await
            .unwrap_err();
        assert!(ended.to_string().contains("is not in progress"), "{ended}");
        rig.harness.stop().await;
    })
    .await;
}

/// A paused upload sends nothing, not even when its retry comes due; it
/// survives a restart paused; resumed, it is UPLOADED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_upload_sends_nothing_until_resumed_across_a_restart() {
    bounded(async {
        let rig = rig("status=503&retryAfter=1&times=1", 14).await;
        let id = new_id();
        rig.harness
            .engine
            .start_upload(payload(&id, &rig.file, &rig.url))
            .await
            .unwrap();
        wait_for_receptions(&rig.receiver, 1).await;
        rig.harness.engine.pause_upload(&id).await.unwrap();
        let listing = rig.harness.engine.uploads().await.unwrap();
        assert_eq!(listing.uploads[0].state, "paused");
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert_eq!(
            rig.receiver.completed().await,
            1,
            "nothing sent while paused"
        );
        rig.harness.stop().await;

        let mut harness = Harness::start(rig.data.path(), standard_config()).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            rig.receiver.completed().await,
            1,
            "still paused after a restart"
        );
        harness.engine.resume_upload(&id).await.unwrap();
        let results = harness.terminals(std::slice::from_ref(&id)).await;
        let (status, answer) = uploaded(&results[&id]);
        assert_eq!(status, 201);
        assert_eq!(answer["receivedInfo"]["sha256"], rig.sha);
        harness.stop().await;
    })
    .await;
}

/// A file, the embedded receiver answering as `query` asks, and an
/// engine under `"standard"`: what the tests on one upload share.
struct Rig {
    data: tempfile::TempDir,
    file: PathBuf,
    sha: String,
    receiver: TestReceiver,
    url: String,
    harness: Harness,
}

async fn rig(query: &str, seed: u64) -> Rig {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("photo.jpg");
    let sha = write_file(&file, 32 * 1024, seed);
    let receiver = TestReceiver::start(Kind::Embedded, Setup::default()).await;
    let url = format!("{}?{query}", receiver.url());
    let harness = Harness::start(data.path(), standard_config()).await;
    Rig {
        data,
        file,
        sha,
        receiver,
        url,
        harness,
    }
}

/// The value of header `name` in each request the embedded receiver read.
fn received_header(receiver: &TestReceiver, name: &str) -> Vec<String> {
    let received = receiver.embedded.as_ref().unwrap().received();
    received
        .iter()
        .map(|record| record.headers.get(name).cloned().unwrap_or_default())
        .collect()
}

/// Waits (bounded) until the embedded receiver answered `count` requests.
async fn wait_for_receptions(receiver: &TestReceiver, count: u64) {
    let deadline = Instant::now() + EVENT_TIMEOUT;
    while receiver.completed().await < count {
        assert!(
            Instant::now() < deadline,
            "{count} receptions within the timeout"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
