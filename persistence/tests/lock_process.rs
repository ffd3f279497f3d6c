//! A second process cannot open a store that is open: it gets
//! `StoreError::Locked`; once the first closes it, it can.
//!
//! The child is this test binary run again with `CHILD_DIR_ENV` set to the
//! store directory: `child_tries_to_open` then opens the store, prints one
//! of `CHILD_LOCKED` / `CHILD_OPENED` / `CHILD_FAILED` and returns. Without
//! the variable that test does nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test or bench: failing loudly is the point

use bgupload_persistence::{FjallStore, StoreError};
use std::path::Path;
use std::process::Command;

const CHILD_DIR_ENV: &str = "BGUPLOAD_LOCK_TEST_CHILD_DIR";
const CHILD_TEST: &str = "child_tries_to_open";
const CHILD_LOCKED: &str = "child: locked";
const CHILD_OPENED: &str = "child: opened";
const CHILD_FAILED: &str = "child: failed";

#[test]
fn child_tries_to_open() {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else {
        return;
    };
    match FjallStore::open(Path::new(&dir)) {
        Ok(_) => println!("{CHILD_OPENED}"),
        Err(StoreError::Locked { .. }) => println!("{CHILD_LOCKED}"),
        Err(error) => println!("{CHILD_FAILED}: {error}"),
    }
}

fn run_child(dir: &Path) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_ENV, dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn a_second_process_is_locked_out() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let store = FjallStore::open(&dir).unwrap();
    let answer = run_child(&dir);
    assert!(answer.contains(CHILD_LOCKED), "{answer}");
    drop(store);
    let answer = run_child(&dir);
    assert!(answer.contains(CHILD_OPENED), "{answer}");
}
