//! The `bgupload` program as a user runs it: the built binary against the
//! embedded receiver on 127.0.0.1, with a queue in a temporary data
//! directory. The main case: a `run` killed with SIGKILL mid-upload, then
//! a second `run` that finishes the queue, and the receiver ends up with
//! byte-exact copies of every file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test or bench: failing loudly is the point

use bgupload::receiver::{Receiver, ReceiverConfig};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_bgupload");
/// Longest any one command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
const MIB: u64 = 1024 * 1024;

/// Writes `size` seeded pseudo-random bytes; returns the sha256.
fn write_file(path: &Path, size: u64, seed: u64) -> String {
    bgupload::pattern::write_pattern_file(path, size, seed).unwrap()
}

/// Runs `bgupload --data-dir DIR ARGS…` to its end (bounded).
fn bgupload(data_dir: &Path, args: &[&str]) -> Output {
    let child = Command::new(BIN)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_bounded(child)
}

fn wait_bounded(mut child: Child) -> Output {
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "bgupload did not finish in {COMMAND_TIMEOUT:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The uploads of `bgupload list --json` (one JSON object, as getUploads).
fn listed(output: &std::process::Output) -> Vec<Value> {
    let listing: Value = serde_json::from_str(&stdout(output)).expect("one JSON object");
    listing["uploads"].as_array().cloned().unwrap_or_default()
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// A child process killed when dropped (a failed test leaves none behind).
struct ChildGuard(Option<Child>);

impl ChildGuard {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }

    fn into_inner(mut self) -> Child {
        self.0.take().unwrap()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `bgupload run --json --parallel N`; its stdout lines arrive on the channel.
fn spawn_run(data_dir: &Path, parallel: &str) -> (ChildGuard, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["run", "--json", "--parallel", parallel])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines, output) = mpsc::channel::<String>();
    let pipe = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    (ChildGuard(Some(child)), output)
}

async fn receiver(dir: &Path, throttle: Option<u64>) -> Receiver {
    let mut config = ReceiverConfig::loopback(dir);
    config.throttle_bytes_per_sec = throttle;
    Receiver::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_run_resumes_on_the_next_run() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let receiver = receiver(&temp.path().join("received"), Some(4 * MIB)).await;
    let mut files = HashMap::new();
    for (index, size) in [6 * MIB, 6 * MIB, 300 * 1024].iter().enumerate() {
        let path = temp.path().join(format!("file-{index}.bin"));
        let sha = write_file(&path, *size, index as u64 + 1);
        let added = bgupload(
            &data_dir,
            &["add", path.to_str().unwrap(), "--url", &receiver.url()],
        );
        assert!(added.status.success(), "{}", stderr(&added));
        files.insert(stdout(&added).trim().to_owned(), sha);
    }

    // First run: killed with SIGKILL once an upload is under way.
    let (mut first, first_output) = spawn_run(&data_dir, "2");
    let mut first_events = Vec::new();
    let started = Instant::now();
    loop {
        let line = first_output
            .recv_timeout(COMMAND_TIMEOUT.saturating_sub(started.elapsed()))
            .expect("the first run shows progress");
        let event: Value = serde_json::from_str(&line).unwrap();
        let under_way = event["state"] == "UPLOADING" && event["progress"].as_u64() > Some(10);
        first_events.push(event);
        if under_way {
            break;
        }
    }
    first.child().kill().unwrap(); // SIGKILL
    let status = first.child().wait().unwrap();
    assert!(!status.success(), "the first run was killed");
    while let Ok(line) = first_output.recv_timeout(Duration::from_millis(200)) {
        first_events.push(serde_json::from_str(&line).unwrap());
    }

    // Second run: finishes the queue.
    let second = bgupload(&data_dir, &["run", "--json", "--parallel", "2"]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("uploaded "),
        "summary: {}",
        stderr(&second)
    );
    let second_events = json_lines(&stdout(&second));

    // Every upload ended UPLOADED 201 with the right bytes, in one run or the other.
    let mut ended = HashSet::new();
    for event in first_events.iter().chain(&second_events) {
        if event["state"] == "UPLOADED" {
            let id = event["id"].as_str().unwrap().to_owned();
            assert_eq!(event["statusCode"], 201);
            let echo: Value =
                serde_json::from_str(event["serverResponse"].as_str().unwrap()).unwrap();
            assert_eq!(echo["receivedInfo"]["sha256"], files[&id].as_str());
            assert!(event["eventId"].is_string(), "{event}");
            ended.insert(id);
        }
        assert_ne!(event["state"], "FAILED", "{event}");
    }
    assert_eq!(ended, files.keys().cloned().collect::<HashSet<_>>());
    assert!(
        second_events
            .iter()
            .any(|event| event["state"] == "UPLOADED"),
        "the second run finished something"
    );

    // The receiver holds a byte-exact copy of every file.
    let received: HashSet<String> = receiver
        .received()
        .iter()
        .map(|file| {
            let bytes = std::fs::read(&file.path_on_disk).unwrap();
            let on_disk = hex::encode(Sha256::digest(&bytes));
            assert_eq!(on_disk, file.sha256);
            on_disk
        })
        .collect();
    for sha in files.values() {
        assert!(received.contains(sha), "file {sha} never arrived whole");
    }

    // Nothing left: no upload, no event.
    let list = bgupload(&data_dir, &["list", "--json"]);
    let list: Value = serde_json::from_str(&stdout(&list)).unwrap();
    assert_eq!(list, json!({"uploads": [], "unacknowledgedEvents": 0}));
    let events = bgupload(&data_dir, &["events", "--json"]);
    assert_eq!(stdout(&events).trim(), "");
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_refuses_with_the_reference_message() {
    let temp = tempfile::tempdir().unwrap();
    let missing = temp.path().join("missing.jpg");
    let output = bgupload(
        temp.path(),
        &[
            "add",
            missing.to_str().unwrap(),
            "--url",
            "http://127.0.0.1:9/upload",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(&format!("File not found: {}", missing.display())),
        "{}",
        stderr(&output)
    );
    assert_eq!(stdout(&output), "");

    let file = temp.path().join("a.txt");
    write_file(&file, 10, 1);
    let add_with_id = |id: &str| {
        let url = "http://127.0.0.1:9/up";
        bgupload(
            temp.path(),
            &["add", file.to_str().unwrap(), "--url", url, "--id", id],
        )
    };
    // Any text is an id, kept as written.
    for id in ["abc", "123_456", "../../x"] {
        let added = add_with_id(id);
        assert!(added.status.success(), "{id}: {}", stderr(&added));
        assert_eq!(stdout(&added).trim(), id);
    }
    let control = add_with_id("a\u{1b}[2Jb");
    assert_eq!(control.status.code(), Some(1));
    let refused = stderr(&control);
    assert!(
        refused.contains("Upload ID must not contain control characters (errorCode -4001)"),
        "{refused}"
    );
    let list = listed(&bgupload(temp.path(), &["list", "--json"]));
    let ids: Vec<&str> = list
        .iter()
        .filter_map(|upload| upload["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        ["abc", "123_456", "../../x"],
        "nothing refused is stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_field_and_header_syntax_are_usage_errors() {
    let temp = tempfile::tempdir().unwrap();
    for args in [
        ["add", "f", "--url", "http://x/", "--field", "novalue"],
        ["add", "f", "--url", "http://x/", "--header", "NoColon"],
        ["add", "f", "--url", "http://x/", "--method", "DELETE"],
    ] {
        let output = bgupload(temp.path(), &args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).contains("invalid value"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

/// `remove` stores FAILED -999; `events` shows it without acknowledging;
/// `ack` deletes it; a relative path is made absolute; nothing is sent by
/// `add`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_events_and_ack() {
    let temp = tempfile::tempdir().unwrap();
    let receiver = receiver(&temp.path().join("received"), None).await;
    let file = temp.path().join("photo.jpg");
    write_file(&file, 1000, 2);
    // Any text is an id (the reference's own tests use such ids).
    let id = "../photo 1/é";
    let added = Command::new(BIN)
        .current_dir(temp.path())
        .args(["--data-dir", "data", "add", "photo.jpg", "--url"])
        .arg(receiver.url())
        .args(["--id", id, "--field", "a=1", "--header", "X-K: v"])
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", stderr(&added));
    assert_eq!(stdout(&added).trim(), id);
    let data_dir = temp.path().join("data");

    let list = listed(&bgupload(&data_dir, &["list", "--json"]));
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["filePath"], file.to_str().unwrap());

    let removed = bgupload(&data_dir, &["remove", id]);
    assert!(removed.status.success(), "{}", stderr(&removed));
    for _ in 0..2 {
        let events = json_lines(&stdout(&bgupload(&data_dir, &["events", "--json"])));
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["id"], id);
        assert_eq!(events[0]["state"], "FAILED");
        assert_eq!(events[0]["errorCode"], -999);
    }
    let event_id = {
        let events = json_lines(&stdout(&bgupload(&data_dir, &["events", "--json"])));
        events[0]["eventId"].as_str().unwrap().to_owned()
    };
    let never_issued = bgupload(&data_dir, &["ack", "x-coredata://123/UploadEvent/p1"]);
    assert!(never_issued.status.success(), "{}", stderr(&never_issued));
    assert!(stdout(&never_issued).contains("nothing to acknowledge"));
    let acked = bgupload(&data_dir, &["ack", &event_id]);
    assert!(acked.status.success(), "{}", stderr(&acked));
    let events = bgupload(&data_dir, &["events"]);
    assert_eq!(stdout(&events).trim(), "no unacknowledged events");
    assert!(
        receiver.received().is_empty(),
        "add or remove sent something"
    );
    receiver.shutdown().await;
}

/// The queue is one process's at a time: a second one says so clearly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_queue_is_reported() {
    let temp = tempfile::tempdir().unwrap();
    let receiver = receiver(&temp.path().join("received"), Some(MIB)).await;
    let file = temp.path().join("big.bin");
    write_file(&file, 8 * MIB, 3);
    let added = bgupload(
        temp.path(),
        &["add", file.to_str().unwrap(), "--url", &receiver.url()],
    );
    assert!(added.status.success());
    let (mut running, output) = spawn_run(temp.path(), "1");
    output
        .recv_timeout(COMMAND_TIMEOUT)
        .expect("the run shows progress");
    let busy = bgupload(temp.path(), &["list"]);
    running.child().kill().unwrap();
    running.child().wait().unwrap();
    assert_eq!(busy.status.code(), Some(1));
    assert!(
        stderr(&busy).contains("in use by another bgupload process"),
        "{}",
        stderr(&busy)
    );
}

/// Ctrl-C stops `run` cleanly (exit 130); the upload stays queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_run_keeps_the_queue() {
    let temp = tempfile::tempdir().unwrap();
    let receiver = receiver(&temp.path().join("received"), Some(MIB)).await;
    let file = temp.path().join("big.bin");
    write_file(&file, 16 * MIB, 4);
    let added = bgupload(
        temp.path(),
        &["add", file.to_str().unwrap(), "--url", &receiver.url()],
    );
    assert!(added.status.success());
    let id = stdout(&added).trim().to_owned();
    let (mut running, output) = spawn_run(temp.path(), "1");
    output
        .recv_timeout(COMMAND_TIMEOUT)
        .expect("the run shows progress");
    let interrupt = Command::new("kill")
        .args(["-INT", &running.child().id().to_string()])
        .status()
        .unwrap();
    assert!(interrupt.success());
    let status = wait_bounded(running.into_inner()).status;
    assert_eq!(status.code(), Some(130));
    let list = listed(&bgupload(temp.path(), &["list", "--json"]));
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], id.as_str());
    receiver.shutdown().await;
}

/// `bgupload demo` runs its whole story and verifies every file.
#[test]
fn demo_verifies_every_file() {
    let child = Command::new(BIN)
        .arg("demo")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = wait_bounded(child);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}\n{}", stderr(&output));
    assert!(text.contains("6/6 files verified byte-exact"), "{text}");
    assert!(text.contains("killed engine A"), "{text}");
    assert!(
        text.contains("delivered again after the relaunch, same eventId"),
        "{text}"
    );
}

/// #16: names from outside are printed with their control characters
/// escaped: a CR/LF in a file name no longer splits a line, an ESC never
/// reaches the terminal (before: both were printed raw).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printed_names_have_control_characters_escaped() {
    let temp = tempfile::tempdir().unwrap();
    let hostile = temp.path().join("a\r\nFAKE LINE\u{1b}[2J.jpg");
    write_file(&hostile, 10, 3);
    let added = bgupload(
        temp.path(),
        &[
            "add",
            hostile.to_str().unwrap(),
            "--url",
            "http://user:pw@127.0.0.1:9/up?sig=SECRET",
        ],
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let listed = stdout(&bgupload(temp.path(), &["list"]));
    assert_eq!(listed.lines().count(), 1, "one line per upload: {listed:?}");
    assert!(
        !listed.contains('\u{1b}') && !listed.contains('\r'),
        "{listed:?}"
    );
    assert!(
        listed.contains(r"a\r\nFAKE LINE\u{1b}[2J.jpg"),
        "{listed:?}"
    );
    assert!(listed.contains("http://127.0.0.1:9/up"), "{listed:?}");
    assert!(
        !listed.contains("SECRET") && !listed.contains("pw@"),
        "the URL's secrets: {listed:?}"
    );
    let json = stdout(&bgupload(temp.path(), &["list", "--json"]));
    assert!(!json.contains("SECRET") && !json.contains("pw@"), "{json}");
}

/// `bgupload add` of many files in one process: explicit files and a
/// directory tree (links not followed), one id per queued file in order,
/// a missing file refused by name while the others are queued, and
/// `--id` refused with more than one file.
#[test]
fn add_queues_many_files_in_one_process() {
    let temp = tempfile::tempdir().unwrap();
    let tree = temp.path().join("photos");
    std::fs::create_dir_all(tree.join("2026/12")).unwrap();
    let mut expected = Vec::new();
    for (n, relative) in ["a.jpg", "2026/b.jpg", "2026/12/c.jpg"].iter().enumerate() {
        let path = tree.join(relative);
        std::fs::write(&path, vec![n as u8; 100 + n]).unwrap();
        expected.push(path.to_string_lossy().into_owned());
    }
    std::os::unix::fs::symlink(tree.join("a.jpg"), tree.join("link.jpg")).unwrap();
    let single = temp.path().join("single.txt");
    std::fs::write(&single, b"one").unwrap();
    let missing = temp.path().join("missing.txt");
    let data_dir = temp.path().join("data");
    let added = bgupload(
        &data_dir,
        &[
            "add",
            single.to_str().unwrap(),
            missing.to_str().unwrap(),
            "--recursive",
            tree.to_str().unwrap(),
            "--url",
            "http://127.0.0.1:9/up",
        ],
    );
    assert_eq!(added.status.code(), Some(1), "one file was refused");
    assert!(
        stderr(&added).contains("missing.txt refused: File not found"),
        "{}",
        stderr(&added)
    );
    let ids: Vec<String> = stdout(&added).lines().map(str::to_owned).collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    let list = listed(&bgupload(&data_dir, &["list", "--json"]));
    let listed_ids: Vec<&str> = list.iter().filter_map(|u| u["id"].as_str()).collect();
    assert_eq!(listed_ids, ids, "queued in the order given");
    let paths: BTreeSet<&str> = list.iter().filter_map(|u| u["filePath"].as_str()).collect();
    let mut wanted: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
    wanted.insert(single.to_str().unwrap());
    assert_eq!(paths, wanted, "every regular file, no link");
    assert!(list.iter().all(|u| u["state"] == "queued"));

    let two = bgupload(
        &data_dir,
        &[
            "add",
            single.to_str().unwrap(),
            single.to_str().unwrap(),
            "--id",
            "x",
            "--url",
            "http://127.0.0.1:9/up",
        ],
    );
    assert!(!two.status.success());
    assert!(
        stderr(&two).contains("--id names one upload"),
        "{}",
        stderr(&two)
    );
}
