//! Row: a full disk does not stop the engine. The program itself (`add`,
//! `list`, `run`) on a data directory in a small tmpfs, mounted here (the
//! tests run as root in CI), filled up by a file of real bytes beside it.
//!
//! Expected, in order: a write that finds the disk full fails its command
//! and the store gives back its reserve; later `add`s are refused with
//! "No space left on device" (-4007); `run` finishes every upload accepted
//! before, in the reserve's room, and acknowledges them; once the filler is
//! deleted, `add` is accepted again and that upload runs too.

use bgupload::receiver::{Receiver, ReceiverConfig};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

const DISK: &str = "size=8m,mode=0700";
/// Free bytes left beside the filler: a few dozen uploads' records.
const LEFT_FREE: u64 = 96 * 1024;
/// `add`s tried at most before the disk must have been found full.
const MAX_ADDS: usize = 2_000;
/// Bound on one program run.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// A header that makes each record (and each echoed answer) about 1 KiB.
fn padding_header() -> String {
    format!("X-Pad: {}", "p".repeat(900))
}

/// A tmpfs mounted at `path`, unmounted on drop.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", DISK, "tmpfs"])
            .arg(path)
            .status()
            .expect("mount(8) runs");
        assert!(
            status.success(),
            "mounting a tmpfs at {} failed ({status}): the full-disk row needs root \
             (CAP_SYS_ADMIN); CI runs the tests as root",
            path.display()
        );
        Tmpfs {
            path: path.to_path_buf(),
        }
    }

    fn free_bytes(&self) -> u64 {
        let stats = rustix::fs::statvfs(&self.path).unwrap();
        stats.f_bavail * stats.f_frsize
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

/// Runs the program on `data_dir`, bounded by [`RUN_TIMEOUT`].
async fn bgupload(data_dir: &Path, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_bgupload"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("RUST_LOG")
        .kill_on_drop(true);
    tokio::time::timeout(RUN_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("bgupload {args:?} ended within {RUN_TIMEOUT:?}"))
        .expect("bgupload runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn add(data_dir: &Path, url: &str, file: &Path) -> Output {
    let header = padding_header();
    let file = file.to_str().unwrap();
    bgupload(data_dir, &["add", "--url", url, "--header", &header, file]).await
}

fn assert_refused_for_space(output: &Output, when: &str) {
    assert_eq!(
        output.status.code(),
        Some(1),
        "{when}: {}",
        text(&output.stderr)
    );
    assert!(
        text(&output.stderr).contains("upload refused: No space left on device (errorCode -4007)"),
        "{when}: {}",
        text(&output.stderr)
    );
}

/// Queued uploads, as `list` counts them.
async fn listed(data_dir: &Path) -> usize {
    let output = bgupload(data_dir, &["list"]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    if stdout.trim() == "no queued uploads" {
        return 0;
    }
    stdout.lines().count()
}

/// `run` to the end: every upload UPLOADED, none failed.
async fn run_all(data_dir: &Path, expected: usize, when: &str) {
    let output = bgupload(data_dir, &["run"]).await;
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{when}: run failed: {}\n{stdout}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("uploaded {expected}, failed 0")),
        "{when}: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_then_finishes_then_accepts_again() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(&tmp.path().join("disk"));
    let data_dir = disk.path.join("bgupload");
    let receiver = Receiver::start(ReceiverConfig::loopback(tmp.path().join("received")))
        .await
        .unwrap();
    let url = receiver.url();
    let photo = tmp.path().join("photo.jpg");
    std::fs::write(&photo, [7_u8; 1_000]).unwrap();

    // A store with its reserve, then a disk filled with real bytes.
    let first = add(&data_dir, &url, &photo).await;
    assert!(first.status.success(), "{}", text(&first.stderr));
    let filler = disk.path.join("filler");
    let fill = disk.free_bytes().saturating_sub(LEFT_FREE);
    std::fs::write(&filler, vec![1_u8; usize::try_from(fill).unwrap()]).unwrap();

    // Adds until one fails: that write found the disk full.
    let mut accepted = 1;
    let mut failure = None;
    for _ in 0..MAX_ADDS {
        let output = add(&data_dir, &url, &photo).await;
        if !output.status.success() {
            failure = Some(output);
            break;
        }
        accepted += 1;
    }
    let failure = failure.expect("the disk was found full");
    let stderr = text(&failure.stderr);
    assert!(
        stderr.contains("No space left on device"),
        "the first failure names the cause: {stderr}"
    );
    assert!(accepted > 10, "only {accepted} uploads fit");
    assert_refused_for_space(
        &add(&data_dir, &url, &photo).await,
        "while the disk is full",
    );

    // Everything accepted finishes in the reserve's room (the upload whose
    // write failed may have been stored after all: `list` tells).
    let queued = listed(&data_dir).await;
    assert!(
        queued == accepted || queued == accepted + 1,
        "{queued} queued, {accepted} accepted"
    );
    run_all(&data_dir, queued, "in the reserve's room").await;
    eprintln!(
        "full disk: {accepted} accepted before it was full, {queued} finished in the reserve"
    );
    assert_eq!(receiver.received().len(), queued);
    assert_eq!(listed(&data_dir).await, 0);
    assert_refused_for_space(&add(&data_dir, &url, &photo).await, "still full");

    // Space returns: accepted again, and it runs.
    std::fs::remove_file(&filler).unwrap();
    let again = add(&data_dir, &url, &photo).await;
    assert!(again.status.success(), "{}", text(&again.stderr));
    run_all(&data_dir, 1, "after space returned").await;
    assert_eq!(receiver.received().len(), queued + 1);
    let events = bgupload(&data_dir, &["events"]).await;
    assert!(events.status.success(), "{}", text(&events.stderr));
    receiver.shutdown().await;
    drop(disk);
}
