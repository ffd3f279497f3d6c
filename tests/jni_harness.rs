//! The Android boundary on a desktop JVM: the JNI class
//! `com.bgupload.Native` and `EventListener` (shipped with the Cordova
//! plugin, `cordova/src/android/com/bgupload/`) and a line-driven `Harness`
//! (`tests/jvm/`) are compiled with `javac` and run with
//! `java -Xcheck:jni`, loading the ffi crate's shared library
//! (`libbgupload_ffi.so`, built by cargo because `bgupload-ffi` is a
//! dev-dependency of this crate). This test sends the
//! harness one JNI call per line and checks the answers and the events the
//! Java listeners print, against the embedded receiver on 127.0.0.1.
//!
//! Needs a JDK (`javac` and `java` on `PATH`, or under `JAVA_HOME`): JDK 17
//! or newer. Without one the test fails with the install command
//! (`apt-get install -y openjdk-17-jdk-headless`). Every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test or bench: failing loudly is the point

use bgupload::fsm::validate::{
    MSG_EVENT_ID_REQUIRED, MSG_ID_REQUIRED, MSG_PAYLOAD_MISSING, REFERENCE_MESSAGES,
};
use bgupload::receiver::{Receiver, ReceiverConfig};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Longest wait for one JNI call's answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for one event.
const EVENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long "no (more) such event" is watched for.
const QUIET: Duration = Duration::from_millis(500);
/// Longest time `javac` may take.
const JAVAC_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest time the nested `cargo build` may take, when the library is
/// missing (it is normally built with this test).
const CARGO_BUILD_TIMEOUT: Duration = Duration::from_secs(1200);
const JDK_INSTALL: &str = "apt-get install -y openjdk-17-jdk-headless";
const LIBRARY: &str = "libbgupload_ffi.so";
const NOT_OPEN: &str = "the upload engine is not open; call open first";
const NOT_INITIALISED: &str = "the upload engine is not initialised; call init first";

// ------------------------------------------------------------ processes

/// Runs `command` to its end within `timeout`; kills it after.
fn run_bounded(mut command: Command, timeout: Duration, what: &str) -> std::process::Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {what}: {error}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let read_out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let read_err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for a child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {} s", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    std::process::Output {
        status,
        stdout: read_out.join().unwrap_or_default().into_bytes(),
        stderr: read_err.join().unwrap_or_default().into_bytes(),
    }
}

/// `javac` / `java` from `JAVA_HOME` or `PATH`.
fn jdk_tool(name: &str) -> PathBuf {
    if let Some(home) = std::env::var_os("JAVA_HOME") {
        let tool = PathBuf::from(home).join("bin").join(name);
        if tool.is_file() {
            return tool;
        }
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|tool| tool.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("`{name}` not found (JAVA_HOME or PATH): this test needs a JDK 17+: {JDK_INSTALL}")
    })
}

/// The ffi crate's shared library, built alongside this test (it is a
/// dev-dependency); built with cargo if missing.
fn ffi_library() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let deps = exe
        .parent()
        .expect("the test lives in target/<profile>/deps");
    let candidates = [deps.join(LIBRARY), deps.join("..").join(LIBRARY)];
    let newest = |candidates: &[PathBuf]| {
        candidates
            .iter()
            .filter_map(|path| Some((path.metadata().ok()?.modified().ok()?, path.clone())))
            .max()
            .map(|(_, path)| path)
    };
    if let Some(library) = newest(&candidates) {
        return library;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "-p", "bgupload-ffi", "--lib"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    let output = run_bounded(build, CARGO_BUILD_TIMEOUT, "cargo build -p bgupload-ffi");
    assert!(
        output.status.success(),
        "cargo build -p bgupload-ffi failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    newest(&candidates).unwrap_or_else(|| panic!("{LIBRARY} not found next to {}", deps.display()))
}

/// Compiles the plugin's JNI class and `tests/jvm` into `classes`.
fn compile_java(classes: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plugin = root.join("cordova/src/android/com/bgupload");
    let mut javac = Command::new(jdk_tool("javac"));
    javac.arg("-d").arg(classes).args(["--release", "17"]);
    for name in ["EventListener.java", "Native.java"] {
        javac.arg(plugin.join(name));
    }
    javac.arg(root.join("tests/jvm/com/bgupload/Harness.java"));
    let output = run_bounded(javac, JAVAC_TIMEOUT, "javac");
    assert!(
        output.status.success(),
        "javac failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

// ------------------------------------------------------------- the JVM

/// One event a Java listener printed.
#[derive(Clone, Debug)]
struct Delivered {
    listener: String,
    json: Value,
}

impl Delivered {
    fn id(&self) -> &str {
        self.json["id"].as_str().unwrap_or("")
    }

    fn state(&self) -> &str {
        self.json["state"].as_str().unwrap_or("")
    }

    /// The `eventId`, which events carry as a string of digits.
    fn event_id(&self) -> Option<u64> {
        let text = self.json["eventId"].as_str()?;
        Some(text.parse().expect("an eventId of digits"))
    }

    fn is_final(&self) -> bool {
        self.state() != "UPLOADING"
    }
}

/// The harness JVM: commands in on stdin, lines out on stdout.
struct Jvm {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    events: Vec<Delivered>,
    acked: Vec<(u64, String)>,
    /// What each `getUploads` answered, in order.
    listings: Vec<Value>,
    other_output: Vec<String>,
}

impl Jvm {
    fn start(classes: &Path, library: &Path) -> Jvm {
        let mut child = Command::new(jdk_tool("java"))
            .arg("-Xcheck:jni")
            .arg("-cp")
            .arg(classes)
            .arg(format!(
                "-Djava.library.path={}",
                library.parent().expect("a directory").display()
            ))
            .arg("com.bgupload.Harness")
            .arg(library)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start java: {error}; {JDK_INSTALL}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let (sender, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().expect("piped stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("piped stderr")),
        ] {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Jvm {
            child,
            stdin,
            lines,
            events: Vec::new(),
            acked: Vec::new(),
            listings: Vec::new(),
            other_output: Vec::new(),
        }
    }

    /// Takes the next line within `timeout`, filing events; returns the
    /// line when it is a call's result.
    fn pump(&mut self, timeout: Duration) -> Option<String> {
        let line = match self.lines.recv_timeout(timeout) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => return None,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!(
                    "the JVM ended; its other output:\n{}",
                    self.other_output.join("\n")
                )
            }
        };
        let parts: Vec<&str> = line.splitn(3, '\t').collect();
        match parts.as_slice() {
            ["EVENT", listener, json] => {
                let json: Value = serde_json::from_str(json)
                    .unwrap_or_else(|error| panic!("event is not JSON ({error}): {json}"));
                self.events.push(Delivered {
                    listener: (*listener).to_owned(),
                    json,
                });
                None
            }
            ["ACKED", event_id, result] => {
                let event_id = event_id.parse().expect("a numeric eventId");
                self.acked.push((event_id, (*result).to_owned()));
                None
            }
            ["LISTING", json] => {
                let listing = serde_json::from_str(json)
                    .unwrap_or_else(|error| panic!("listing is not JSON ({error}): {json}"));
                self.listings.push(listing);
                None
            }
            ["RESULT", ..] => Some(line),
            _ => {
                self.other_output.push(line);
                None
            }
        }
    }

    /// One JNI call: `None` for success, the error message otherwise.
    fn call(&mut self, command: &[&str]) -> Option<String> {
        writeln!(self.stdin, "{}", command.join("\t")).expect("the JVM reads commands");
        self.stdin.flush().expect("the JVM reads commands");
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no answer to {command:?} within {CALL_TIMEOUT:?}"
            );
            if let Some(result) = self.pump(left) {
                return match result.splitn(3, '\t').collect::<Vec<_>>().as_slice() {
                    ["RESULT", "null"] => None,
                    ["RESULT", "error", message] => Some((*message).to_owned()),
                    other => panic!("unexpected result line {other:?}"),
                };
            }
        }
    }

    fn ok(&mut self, command: &[&str]) {
        if let Some(error) = self.call(command) {
            panic!("{command:?} failed: {error}");
        }
    }

    fn error(&mut self, command: &[&str]) -> String {
        self.call(command)
            .unwrap_or_else(|| panic!("{command:?} succeeded; an error was expected"))
    }

    /// `getUploads` through JNI: its listing.
    fn uploads(&mut self) -> Value {
        self.ok(&["getUploads"]);
        self.listings.last().cloned().expect("a listing line")
    }

    /// Index after the last event seen, to look only at later ones.
    fn mark(&self) -> usize {
        self.events.len()
    }

    /// The first event from index `since` on that matches, waiting for it.
    fn wait_for(
        &mut self,
        since: usize,
        what: &str,
        matches: impl Fn(&Delivered) -> bool,
    ) -> Delivered {
        let deadline = Instant::now() + EVENT_TIMEOUT;
        loop {
            if let Some(found) = self.events[since..].iter().find(|event| matches(event)) {
                return found.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no {what} within {EVENT_TIMEOUT:?}; events: {:#?}",
                &self.events[since..]
            );
            self.pump(left);
        }
    }

    /// Lets events arrive for [`QUIET`]; returns those from `since` on.
    fn settle(&mut self, since: usize) -> Vec<Delivered> {
        let deadline = Instant::now() + QUIET;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if self.pump(left).is_some() {
                panic!("a result line without a call");
            }
        }
        self.events[since..].to_vec()
    }

    fn finish(mut self) -> Vec<String> {
        let _ = writeln!(self.stdin, "exit");
        let _ = self.stdin.flush();
        let deadline = Instant::now() + CALL_TIMEOUT;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line == "BYE" => break,
                Ok(line) => self.other_output.push(line),
                Err(_) => break,
            }
        }
        let exited = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        if !exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
            panic!("the JVM did not exit");
        }
        self.other_output
    }
}

// -------------------------------------------------------------- checks

fn keys(event: &Delivered) -> BTreeSet<String> {
    event
        .json
        .as_object()
        .map(|object| object.keys().cloned().collect())
        .unwrap_or_default()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

/// Events carry exactly the reference plugin's fields for their state, and
/// a refusal an `errorCode` unless it is one of the reference's own.
fn check_shape(event: &Delivered) {
    let mut expected = match (event.state(), event.event_id().is_some()) {
        ("UPLOADING", _) => set(&["id", "state", "progress"]),
        ("UPLOADED", true) => set(&["id", "eventId", "state", "statusCode", "serverResponse"]),
        ("FAILED", true) => set(&["id", "eventId", "state", "error", "errorCode"]),
        ("FAILED", false) if event.json.get("id").is_some() => set(&["id", "state", "error"]),
        ("FAILED", false) => set(&["state", "error"]),
        _ => panic!("unexpected event {:?}", event.json),
    };
    let error = event.json["error"].as_str().unwrap_or("");
    if event.state() == "FAILED" && !REFERENCE_MESSAGES.contains(&error) {
        expected.insert("errorCode".to_owned());
        assert!(event.json["errorCode"].is_i64(), "{}", event.json);
    }
    assert_eq!(keys(event), expected, "fields of {}", event.json);
    if event.state() == "UPLOADING" {
        let progress = event.json["progress"].as_u64().expect("numeric progress");
        assert!(progress <= 100, "{}", event.json);
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A file of `size` bytes that differ from position to position.
fn write_file(path: &Path, size: usize, seed: u8) -> String {
    let bytes: Vec<u8> = (0..size)
        .map(|index| (index as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    std::fs::write(path, &bytes).expect("writing a test file");
    sha256_hex(&bytes)
}

fn json_text(value: Value) -> String {
    value.to_string()
}

// ---------------------------------------------------------------- test

/// The harness classes (compiled into `work/classes`) and the library.
fn java_and_library(work: &Path) -> (PathBuf, PathBuf) {
    let classes = work.join("classes");
    compile_java(&classes);
    (classes, ffi_library())
}

/// The embedded receiver on 127.0.0.1, storing into `work/received`, and
/// the runtime it runs on.
fn receiver_in(work: &Path) -> (tokio::runtime::Runtime, Receiver) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the receiver");
    let receiver = runtime
        .block_on(Receiver::start(ReceiverConfig::loopback(
            work.join("received"),
        )))
        .expect("the receiver starts on 127.0.0.1");
    (runtime, receiver)
}

#[test]
fn uploads_through_jni_with_events_acknowledgement_and_errors() {
    let work = tempfile::tempdir().expect("a temporary directory");
    let (classes, library) = java_and_library(work.path());
    let (runtime, receiver) = receiver_in(work.path());
    let url = receiver.url();
    let data_dir = work.path().join("engine");
    let data = data_dir.to_str().expect("a UTF-8 path");
    let files = work.path().join("files");
    std::fs::create_dir_all(&files).expect("a files directory");

    let mut jvm = Jvm::start(&classes, &library);

    // Before open: clear errors, no crash.
    // Any text is an id (the reference's own tests use such ids).
    let ids = [
        "abc",
        "file_1",
        "../../x",
        "11111111-2222-4333-8444-555555555504",
        "123_456",
        "é 文/6",
    ];
    assert_eq!(jvm.error(&["startUpload", "{}"]), NOT_OPEN);
    assert_eq!(jvm.error(&["init", "a", "{}"]), NOT_OPEN);
    assert_eq!(jvm.error(&["removeUpload", ids[0]]), NOT_OPEN);
    assert_eq!(jvm.error(&["acknowledgeEvent", "1"]), NOT_OPEN);
    assert_eq!(jvm.error(&["destroy"]), NOT_OPEN);
    assert_eq!(jvm.error(&["setNetworkReachable", "true"]), NOT_OPEN);
    jvm.ok(&["close"]);

    // initAndroid: a no-op off Android, but its argument is checked.
    assert!(
        jvm.error(&["initAndroid", "<null>"])
            .starts_with("context is required")
    );
    jvm.ok(&["initAndroid", "context"]);

    // open.
    assert_eq!(
        jvm.error(&["open", "<null>", "<null>"]),
        "dataDir is required"
    );
    assert!(
        jvm.error(&["open", data, "{bad"])
            .starts_with("options is not valid JSON")
    );
    jvm.ok(&["open", data, "<null>"]);
    jvm.ok(&["open", data, "{}"]);
    let other = work.path().join("other");
    assert!(
        jvm.error(&["open", other.to_str().unwrap(), "<null>"])
            .contains("already open")
    );

    // init.
    assert_eq!(jvm.error(&["startUpload", "{}"]), NOT_INITIALISED);
    assert_eq!(jvm.error(&["acknowledgeEvent", "1"]), NOT_INITIALISED);
    assert!(
        jvm.error(&["init", "a", "{bad"])
            .starts_with("config is not valid JSON")
    );
    assert_eq!(
        jvm.error(&["init", "a", r#"{"parallelUploadsLimit":"two"}"#]),
        "parallelUploadsLimit must be a non-negative integer, not a string"
    );
    assert_eq!(
        jvm.error(&["init", "<null>", "{}"]),
        "event handler must be a function"
    );
    jvm.ok(&[
        "init",
        "a",
        r#"{"parallelUploadsLimit":2,"progressIntervalMillis":50}"#,
    ]);

    // Three uploads: multipart POST, file:// URL with PUT, raw body.
    let big = files.join("photo.jpg");
    let big_sha = write_file(&big, 3 * 1024 * 1024 + 17, 1);
    let spaced = files.join("my notes é.txt");
    let spaced_sha = write_file(&spaced, 1000, 2);
    let raw = files.join("raw.bin");
    let raw_sha = write_file(&raw, 5000, 3);
    let spaced_url = format!(
        "file://{}",
        spaced
            .display()
            .to_string()
            .replace(' ', "%20")
            .replace('é', "%C3%A9")
    );
    let mark = jvm.mark();
    jvm.ok(&["startUpload", &format!(
        r#"{{"id":"{}","filePath":{},"serverUrl":"{url}","fileKey":"photo","headers":{{"X-Token":"t1","X-Number":7}},"parameters":{{"z":"1","a":true}},"notificationTitle":"Up"}}"#,
        ids[0],
        Value::from(big.to_str().unwrap())
    )]);
    jvm.ok(&[
        "startUpload",
        &json_text(serde_json::json!({
            "id": ids[1], "filePath": spaced_url, "serverUrl": url, "requestMethod": "PUT",
        })),
    ]);
    jvm.ok(&[
        "startUpload",
        &json_text(serde_json::json!({
            "id": ids[2], "filePath": raw.to_str().unwrap(), "serverUrl": url,
            "uploadType": "raw", "headers": {"Content-Type": "application/x-test"},
        })),
    ]);
    let first = jvm.wait_for(mark, "UPLOADED of upload 1", |e| {
        e.id() == ids[0] && e.is_final()
    });
    let second = jvm.wait_for(mark, "UPLOADED of upload 2", |e| {
        e.id() == ids[1] && e.is_final()
    });
    let third = jvm.wait_for(mark, "UPLOADED of upload 3", |e| {
        e.id() == ids[2] && e.is_final()
    });
    for (event, status) in [(&first, 201), (&second, 200), (&third, 201)] {
        assert_eq!(event.state(), "UPLOADED", "{}", event.json);
        assert_eq!(event.listener, "a");
        assert_eq!(event.json["statusCode"], status, "{}", event.json);
        assert!(event.event_id().is_some());
    }
    let answer: Value = serde_json::from_str(first.json["serverResponse"].as_str().unwrap())
        .expect("the receiver answers JSON");
    assert_eq!(answer["receivedInfo"]["originalFilename"], "photo.jpg");
    assert_eq!(answer["receivedInfo"]["sha256"], big_sha.as_str());
    let received = receiver.received();
    let by_sha = |sha: &str| received.iter().find(|file| file.sha256 == sha).cloned();
    let photo = by_sha(&big_sha).expect("the photo arrived whole");
    assert_eq!(photo.file_key.as_deref(), Some("photo"));
    assert_eq!(
        photo.parameters,
        vec![
            ("z".to_owned(), "1".to_owned()),
            ("a".to_owned(), "true".to_owned())
        ]
    );
    assert_eq!(photo.headers.get("x-token").map(String::as_str), Some("t1"));
    assert_eq!(photo.headers.get("x-number").map(String::as_str), Some("7"));
    let notes = by_sha(&spaced_sha).expect("the file:// upload arrived whole");
    assert_eq!(notes.original_filename, "my notes é.txt");
    assert_eq!(notes.method, "PUT");
    let raw_file = by_sha(&raw_sha).expect("the raw upload arrived whole");
    assert_eq!(raw_file.file_key, None);
    let all = jvm.settle(mark);
    for event in &all {
        check_shape(event);
    }
    for id in &ids[..3] {
        let position = all
            .iter()
            .position(|e| e.id() == *id && e.is_final())
            .unwrap();
        assert!(
            all[position + 1..].iter().all(|e| e.id() != *id),
            "an event of {id} after its terminal event"
        );
        assert_eq!(
            all.iter().filter(|e| e.id() == *id && e.is_final()).count(),
            1
        );
    }
    assert!(
        all.iter()
            .any(|e| e.id() == ids[0] && e.state() == "UPLOADING"),
        "a 3 MiB upload reports progress"
    );

    // Refusals: the error comes back, and one FAILED event without eventId.
    let mark = jvm.mark();
    let missing_file = files.join("missing.bin");
    let refusals: Vec<(String, String, Option<&str>)> = vec![
        ("null".to_owned(), MSG_PAYLOAD_MISSING.to_owned(), None),
        ("<null>".to_owned(), MSG_PAYLOAD_MISSING.to_owned(), None),
        ("{}".to_owned(), MSG_ID_REQUIRED.to_owned(), None),
        (
            r#"{"id":true}"#.to_owned(),
            "id must be a string, not a boolean".to_owned(),
            None,
        ),
        (
            json_text(
                serde_json::json!({"id": ids[5], "serverUrl": url, "filePath": "/x", "headers": "h"}),
            ),
            "headers must be an object, not a string".to_owned(),
            Some(ids[5]),
        ),
        (
            json_text(
                serde_json::json!({"id": ids[5], "serverUrl": url, "filePath": missing_file.to_str().unwrap()}),
            ),
            format!("File not found: {}", missing_file.display()),
            Some(ids[5]),
        ),
    ];
    for (payload, message, _) in &refusals {
        assert_eq!(
            &jvm.error(&["startUpload", payload]),
            message,
            "payload {payload}"
        );
    }
    let bad_json = jvm.error(&["startUpload", "{not json"]);
    assert!(bad_json.starts_with(MSG_PAYLOAD_MISSING) && bad_json.contains("not valid JSON"));
    let refused = jvm.settle(mark);
    for event in &refused {
        check_shape(event);
    }
    for (payload, message, id) in &refusals {
        let matching: Vec<&Delivered> = refused
            .iter()
            .filter(|e| e.json["error"] == message.as_str())
            .collect();
        let expected = refusals.iter().filter(|(_, m, _)| m == message).count();
        assert_eq!(
            matching.len(),
            expected,
            "FAILED events for {payload}: {refused:#?}"
        );
        for event in matching {
            assert_eq!(event.state(), "FAILED");
            assert_eq!(event.event_id(), None);
            assert_eq!(event.json.get("id").and_then(Value::as_str), *id);
        }
    }

    // Acknowledgement, and its argument checks.
    assert_eq!(
        jvm.error(&["acknowledgeEvent", "<null>"]),
        MSG_EVENT_ID_REQUIRED
    );
    assert_eq!(jvm.error(&["acknowledgeEvent", ""]), MSG_EVENT_ID_REQUIRED);
    // Ids never issued succeed and change nothing (the reference's answer).
    for never_issued in [
        "abc",
        "x-coredata://123/UploadEvent/p1",
        ids[0],
        "-1",
        "1e3",
    ] {
        jvm.ok(&["acknowledgeEvent", never_issued]);
    }
    assert_eq!(
        jvm.error(&["acknowledgeEvent", &"7".repeat(1_025)]),
        "Event ID must be at most 1024 bytes"
    );
    assert_eq!(jvm.error(&["removeUpload", "<null>"]), MSG_ID_REQUIRED);
    assert_eq!(jvm.error(&["removeUpload", ""]), MSG_ID_REQUIRED);
    let first_id = first.event_id().unwrap().to_string();
    let third_id = third.event_id().unwrap();
    jvm.ok(&["acknowledgeEvent", &first_id]);
    jvm.ok(&["acknowledgeEvent", &format!("\"{third_id}\"")]);
    jvm.ok(&["acknowledgeEvent", "987654321"]);

    // removeUpload of a queued upload (offline, so it waits): FAILED -999.
    jvm.ok(&["setNetworkReachable", "false"]);
    let mark = jvm.mark();
    jvm.ok(&[
        "startUpload",
        &json_text(serde_json::json!({
            "id": ids[3], "filePath": raw.to_str().unwrap(), "serverUrl": url,
        })),
    ]);
    jvm.ok(&["removeUpload", ids[3]]);
    let cancelled = jvm.wait_for(mark, "FAILED -999", |e| e.id() == ids[3] && e.is_final());
    check_shape(&cancelled);
    assert_eq!(cancelled.state(), "FAILED");
    assert_eq!(cancelled.json["errorCode"], -999);
    assert!(
        cancelled.json["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("cancel")
    );
    jvm.ok(&["removeUpload", "99999999-2222-4333-8444-555555555599"]);
    jvm.ok(&["setNetworkReachable", "true"]);

    // Re-init: the unacknowledged events come again, identical, to the new
    // listener only; acknowledged ones never.
    let mark = jvm.mark();
    jvm.ok(&["init", "b", "{}"]);
    let again = jvm.settle(mark);
    let redelivered: Vec<&Delivered> = again.iter().filter(|e| e.is_final()).collect();
    assert!(again.iter().all(|e| e.listener == "b"), "{again:#?}");
    assert_eq!(redelivered.len(), 2, "{again:#?}");
    assert_eq!(
        redelivered[0].json, second.json,
        "re-delivered identical, in order"
    );
    assert_eq!(redelivered[1].json, cancelled.json);

    // close + reopen in the same JVM: still only the unacknowledged ones.
    jvm.ok(&[
        "acknowledgeEvent",
        &cancelled.event_id().unwrap().to_string(),
    ]);
    jvm.ok(&["close"]);
    jvm.ok(&["close"]);
    assert_eq!(jvm.error(&["startUpload", "{}"]), NOT_OPEN);
    jvm.ok(&["open", data, r#"{"networkReachable":true}"#]);
    let mark = jvm.mark();
    jvm.ok(&["init", "c", "{}"]);
    let after_reopen = jvm.settle(mark);
    assert_eq!(after_reopen.len(), 1, "{after_reopen:#?}");
    assert_eq!(after_reopen[0].listener, "c");
    assert_eq!(after_reopen[0].json, second.json);

    // A listener that throws does not break the engine or the JVM.
    let mark = jvm.mark();
    jvm.ok(&["init", "throw1", "{}"]);
    jvm.ok(&[
        "startUpload",
        &json_text(serde_json::json!({
            "id": ids[4], "filePath": raw.to_str().unwrap(), "serverUrl": url,
        })),
    ]);
    let fifth = jvm.wait_for(mark, "UPLOADED of upload 5", |e| {
        e.id() == ids[4] && e.is_final()
    });
    assert_eq!(fifth.listener, "throw1");

    // A listener that acknowledges from inside its callback (re-entrant).
    let mark = jvm.mark();
    jvm.ok(&["init", "ack1", "{}"]);
    jvm.wait_for(mark, "re-delivery to ack1", |e| {
        e.id() == ids[1] && e.listener == "ack1"
    });
    jvm.wait_for(mark, "re-delivery to ack1", |e| {
        e.id() == ids[4] && e.listener == "ack1"
    });
    jvm.settle(mark);
    let acked: BTreeSet<u64> = jvm
        .acked
        .iter()
        .map(|(event_id, result)| {
            assert_eq!(result, "null", "acknowledgeEvent inside the callback");
            *event_id
        })
        .collect();
    assert_eq!(
        acked,
        BTreeSet::from([second.event_id().unwrap(), fifth.event_id().unwrap()])
    );
    let mark = jvm.mark();
    jvm.ok(&["init", "d", "{}"]);
    assert!(
        jvm.settle(mark).is_empty(),
        "nothing is left unacknowledged"
    );

    // destroy: no more events, uploads go on; the next init delivers.
    jvm.ok(&["destroy"]);
    let mark = jvm.mark();
    let before = receiver.received().len();
    jvm.ok(&[
        "startUpload",
        &json_text(serde_json::json!({
            "id": ids[5], "filePath": raw.to_str().unwrap(), "serverUrl": url,
        })),
    ]);
    let deadline = Instant::now() + EVENT_TIMEOUT;
    while receiver.received().len() == before {
        assert!(
            Instant::now() < deadline,
            "upload 6 did not arrive after destroy"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(jvm.settle(mark).is_empty(), "no event after destroy");
    jvm.ok(&["init", "e", "{}"]);
    let sixth = jvm.wait_for(mark, "UPLOADED of upload 6 after init", |e| {
        e.id() == ids[5]
    });
    assert_eq!((sixth.listener.as_str(), sixth.state()), ("e", "UPLOADED"));

    jvm.ok(&["close"]);
    eprintln!(
        "jni harness: {} events, {} acknowledged in callbacks",
        jvm.events.len(),
        jvm.acked.len()
    );
    let output = jvm.finish();
    for line in &output {
        eprintln!("jvm: {line}");
    }
    let jni_complaints: Vec<&String> = output
        .iter()
        .filter(|line| {
            line.contains("WARNING in native method")
                || line.contains("FATAL ERROR in native method")
                || line.contains("JNI")
        })
        .collect();
    assert!(
        jni_complaints.is_empty(),
        "-Xcheck:jni: {jni_complaints:#?}"
    );
    runtime.block_on(receiver.shutdown());
}

/// Queue control (#15) through JNI: `statusPolicy` and `idempotencyKey`
/// from `init`, a 503 with `Retry-After`, `pauseUpload`, `getUploads`,
/// `updateHeaders`, `resumeUpload` and `setNetwork`, with their errors.
#[test]
fn queue_control_through_jni() {
    let work = tempfile::tempdir().expect("a temporary directory");
    let (classes, library) = java_and_library(work.path());
    let (runtime, receiver) = receiver_in(work.path());
    let url = format!("{}?status=503&retryAfter=1&times=1", receiver.url());
    let data_dir = work.path().join("engine");
    let file = work.path().join("photo.jpg");
    let sha = write_file(&file, 20_000, 9);
    let mut jvm = Jvm::start(&classes, &library);
    jvm.ok(&["open", data_dir.to_str().unwrap(), "<null>"]);
    let config = json_text(serde_json::json!({
        "statusPolicy": "standard",
        "idempotencyKey": true,
        "initialBackoffMillis": 100,
    }));
    jvm.ok(&["init", "listener", &config]);
    let id = "queue-control-1";
    let payload = json_text(serde_json::json!({
        "id": id,
        "filePath": file.to_str().unwrap(),
        "serverUrl": url,
        "headers": {"X-Token": "old"},
    }));
    jvm.ok(&["startUpload", &payload]);
    let deadline = Instant::now() + EVENT_TIMEOUT;
    while receiver.received().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the first attempt within the timeout"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    jvm.ok(&["pauseUpload", id]);
    let listing = jvm.uploads();
    assert_eq!(listing["uploads"][0]["id"], id);
    assert_eq!(listing["uploads"][0]["state"], "paused");
    assert!(
        !listing.to_string().contains("status=503"),
        "no query in a listing: {listing}"
    );
    jvm.ok(&["updateHeaders", id, r#"{"X-Token":"fresh"}"#]);
    std::thread::sleep(Duration::from_millis(1_200));
    assert_eq!(receiver.received().len(), 1, "nothing sent while paused");
    jvm.ok(&["setNetwork", "true", "false"]);
    let since = jvm.mark();
    jvm.ok(&["resumeUpload", id]);
    let uploaded = jvm.wait_for(since, "UPLOADED", |event| {
        event.is_final() && event.id() == id
    });
    assert_eq!(uploaded.state(), "UPLOADED", "{}", uploaded.json);
    let answer: Value =
        serde_json::from_str(uploaded.json["serverResponse"].as_str().unwrap()).unwrap();
    assert_eq!(answer["receivedInfo"]["sha256"], sha);
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].headers["x-token"], "old");
    assert_eq!(received[1].headers["x-token"], "fresh");
    assert_eq!(
        received[0].headers["idempotency-key"], received[1].headers["idempotency-key"],
        "one key across attempts"
    );
    assert_eq!(jvm.uploads()["uploads"], serde_json::json!([]));

    assert_eq!(jvm.error(&["pauseUpload", "<null>"]), MSG_ID_REQUIRED);
    assert_eq!(jvm.error(&["resumeUpload", ""]), MSG_ID_REQUIRED);
    assert!(
        jvm.error(&["updateHeaders", id, "{}"])
            .contains("is not in progress"),
        "an ended upload"
    );
    assert!(
        jvm.error(&["updateHeaders", "nobody", "[1]"])
            .starts_with("headers must be an object"),
    );
    jvm.ok(&["pauseUpload", "nobody"]);
    jvm.ok(&["close"]);
    let listing = jvm.uploads();
    assert!(
        listing["error"].as_str().unwrap().contains("not open"),
        "{listing}"
    );
    jvm.finish();
    runtime.block_on(receiver.shutdown());
}
