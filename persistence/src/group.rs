//! Group commit: callers that arrive while a commit is running are combined
//! into the next commit, which one of them (the leader) carries out for all.
//! No extra thread: the leader is whichever waiting caller finds no commit
//! running. Every caller returns only once the commit holding its items has
//! finished, with that commit's result.

use crate::error::StoreError;
use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Combines concurrent submissions of `T` into few commits.
#[derive(Debug)]
pub(crate) struct GroupCommit<T> {
    state: Mutex<State<T>>,
    finished: Condvar,
}

#[derive(Debug)]
struct State<T> {
    /// Items of the group that will be committed next, in arrival order.
    open: Vec<T>,
    /// Number of the group `open` belongs to.
    open_group: u64,
    /// Callers waiting on the open group.
    open_members: usize,
    /// A leader is committing group `open_group - 1`.
    leading: bool,
    /// Every group up to this number has finished.
    finished_through: u64,
    /// Failed groups whose callers have not all taken the error yet.
    failures: BTreeMap<u64, Failure>,
    /// Commits carried out.
    commits: u64,
}

#[derive(Debug)]
struct Failure {
    error: StoreError,
    unread: usize,
}

impl<T> GroupCommit<T> {
    pub(crate) fn new() -> GroupCommit<T> {
        GroupCommit {
            state: Mutex::new(State {
                open: Vec::new(),
                open_group: 1,
                open_members: 0,
                leading: false,
                finished_through: 0,
                failures: BTreeMap::new(),
                commits: 0,
            }),
            finished: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // The state is consistent between statements: nothing panics while
        // the lock is held, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Commits carried out so far.
    pub(crate) fn commits(&self) -> u64 {
        self.lock().commits
    }

    /// Adds `items` to the next group and returns once that group has been
    /// committed by `commit` (run by this caller or another one).
    pub(crate) fn submit(
        &self,
        items: Vec<T>,
        commit: impl FnOnce(Vec<T>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.open.extend(items);
        state.open_members += 1;
        let group = state.open_group;
        let mut commit = Some(commit);
        loop {
            if state.finished_through >= group {
                return take_result(&mut state, group);
            }
            if state.leading {
                state = self
                    .finished
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            // No commit is running, so the open group is ours: lead it.
            let Some(commit) = commit.take() else {
                // Unreachable: a caller leads at most once (its group is
                // finished when it comes back here).
                return take_result(&mut state, group);
            };
            let items = std::mem::take(&mut state.open);
            let members = std::mem::take(&mut state.open_members);
            state.open_group += 1;
            state.leading = true;
            drop(state);
            let mut lead = Lead {
                owner: self,
                group,
                members,
                result: None,
            };
            lead.result = Some(commit(items));
            drop(lead);
            state = self.lock();
        }
    }
}

fn take_result<T>(state: &mut State<T>, group: u64) -> Result<(), StoreError> {
    let Some(failure) = state.failures.get_mut(&group) else {
        return Ok(());
    };
    let error = failure.error.clone();
    failure.unread = failure.unread.saturating_sub(1);
    if failure.unread == 0 {
        state.failures.remove(&group);
    }
    Err(error)
}

/// The running commit. Dropping it publishes the result and wakes the
/// waiters, also when the commit panicked (the group then fails).
struct Lead<'a, T> {
    owner: &'a GroupCommit<T>,
    group: u64,
    members: usize,
    result: Option<Result<(), StoreError>>,
}

impl<T> Drop for Lead<'_, T> {
    fn drop(&mut self) {
        // No result: the commit panicked, and the leader unwinds without
        // taking the error.
        let (result, readers) = match self.result.take() {
            Some(result) => (result, self.members),
            None => (
                Err(StoreError::io(
                    "committing a group of writes",
                    std::io::Error::other("the committing thread panicked"),
                )),
                self.members.saturating_sub(1),
            ),
        };
        let mut state = self.owner.lock();
        if let Err(error) = result
            && readers > 0
        {
            state.failures.insert(
                self.group,
                Failure {
                    error,
                    unread: readers,
                },
            );
        }
        state.commits += 1;
        state.finished_through = self.group;
        state.leading = false;
        drop(state);
        self.owner.finished.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    const THREADS: u64 = 16;
    const SUBMITS_PER_THREAD: u64 = 50;
    const COMMIT_PAUSE: Duration = Duration::from_millis(1);

    #[test]
    fn concurrent_submits_share_commits_and_lose_nothing() {
        let group = Arc::new(GroupCommit::<u64>::new());
        let committed = Arc::new(Mutex::new(Vec::new()));
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let group = Arc::clone(&group);
                let committed = Arc::clone(&committed);
                std::thread::spawn(move || {
                    for n in 0..SUBMITS_PER_THREAD {
                        let item = thread * SUBMITS_PER_THREAD + n;
                        group
                            .submit(vec![item], |items| {
                                std::thread::sleep(COMMIT_PAUSE);
                                committed.lock().unwrap().extend(items);
                                Ok(())
                            })
                            .unwrap();
                        // Durable when submit returns.
                        assert!(committed.lock().unwrap().contains(&item));
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        let mut all = committed.lock().unwrap().clone();
        all.sort_unstable();
        assert_eq!(all, (0..THREADS * SUBMITS_PER_THREAD).collect::<Vec<_>>());
        let commits = group.commits();
        assert!(commits < THREADS * SUBMITS_PER_THREAD, "{commits} commits");
    }

    #[test]
    fn a_failed_commit_fails_every_member_and_only_them() {
        let group = Arc::new(GroupCommit::<u64>::new());
        let failed_commits = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let group = Arc::clone(&group);
                let failed_commits = Arc::clone(&failed_commits);
                let errors = Arc::clone(&errors);
                std::thread::spawn(move || {
                    for n in 0..SUBMITS_PER_THREAD {
                        let result = group.submit(vec![thread * 1_000 + n], |items| {
                            std::thread::sleep(COMMIT_PAUSE);
                            // Fail every group holding an item ending in 7.
                            if items.iter().any(|item| item % 10 == 7) {
                                failed_commits.fetch_add(1, Ordering::SeqCst);
                                Err(StoreError::io("test", std::io::Error::other("boom")))
                            } else {
                                Ok(())
                            }
                        });
                        if result.is_err() {
                            errors.fetch_add(1, Ordering::SeqCst);
                        }
                        // Our own item ending in 7 always sees the failure.
                        if n % 10 == 7 {
                            assert!(result.is_err());
                        }
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        let failed = failed_commits.load(Ordering::SeqCst);
        let errors = errors.load(Ordering::SeqCst);
        assert!(
            errors >= failed && failed > 0,
            "{errors} errors, {failed} failed commits"
        );
        assert!(group.lock().failures.is_empty(), "every error was taken");
    }

    #[test]
    fn a_panicking_commit_fails_its_group_and_the_next_one_runs() {
        let group = GroupCommit::<u64>::new();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = group.submit(vec![1], |_| panic!("disk on fire"));
        }));
        assert!(panicked.is_err());
        assert!(group.submit(vec![2], |_| Ok(())).is_ok());
        assert_eq!(group.commits(), 2);
        assert!(group.lock().failures.is_empty());
    }
}
