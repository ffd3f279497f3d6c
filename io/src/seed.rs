//! The one source of fresh seeds (retry jitter, multipart boundaries): a
//! number nobody can predict, without a random-number crate. The standard
//! library's randomly keyed hasher over a process-wide counter, the time
//! and the process id. Code that must replay (the simulator, tests) passes
//! its own seed instead.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A seed that differs between calls and between runs.
pub fn fresh_seed() -> u64 {
    static SEEDS_DRAWN: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(SEEDS_DRAWN.fetch_add(1, Ordering::Relaxed));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    #[test]
    fn seeds_differ_between_calls() {
        let seeds: std::collections::BTreeSet<u64> = (0..64).map(|_| super::fresh_seed()).collect();
        assert_eq!(seeds.len(), 64);
    }
}
