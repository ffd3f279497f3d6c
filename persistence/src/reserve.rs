//! The space reserve: a file of real bytes in the store directory, given
//! back to the file system when a write finds the disk full, so that what
//! the engine already accepted (finishing uploads, storing and
//! acknowledging their events) still has room, and put back once space
//! returns. While it is released, the engine refuses new uploads.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Name of the reserve file in the store directory.
pub const RESERVE_FILE: &str = "RESERVE";
/// Size of the reserve unless the store is opened with another.
pub const DEFAULT_RESERVE_BYTES: u64 = 1_024 * 1_024;
/// The reserve is at most this large.
pub const MAX_RESERVE_BYTES: u64 = 256 * 1_024 * 1_024;
/// Zeros written per `write` call while the reserve is made.
const WRITE_CHUNK: usize = 64 * 1_024;
/// Name of the reserve while it is being written.
const RESERVE_PART: &str = "RESERVE.part";

/// The reserve of one store directory.
#[derive(Debug)]
pub(crate) struct Reserve {
    dir: PathBuf,
    bytes: u64,
    in_place: AtomicBool,
}

impl Reserve {
    /// The reserve of `dir`, made now if it is missing and there is room.
    /// Never fails: a reserve that cannot be made counts as released.
    pub(crate) fn open(dir: &Path, bytes: u64) -> Reserve {
        let reserve = Reserve {
            dir: dir.to_path_buf(),
            bytes: bytes.min(MAX_RESERVE_BYTES),
            in_place: AtomicBool::new(false),
        };
        reserve.restore();
        reserve
    }

    /// Whether the reserve file is there, whole.
    pub(crate) fn in_place(&self) -> bool {
        self.in_place.load(Ordering::SeqCst)
    }

    /// Gives the reserve's space back to the file system. Returns whether
    /// there was a reserve to release.
    pub(crate) fn release(&self) -> bool {
        let was_in_place = self.in_place.swap(false, Ordering::SeqCst);
        let _ = std::fs::remove_file(self.dir.join(RESERVE_PART));
        let removed = std::fs::remove_file(self.dir.join(RESERVE_FILE)).is_ok();
        was_in_place || removed
    }

    /// Puts the reserve back when it is missing and the disk has room for
    /// it twice over (the reserve, and as much again for new uploads: a
    /// reserve that took the last free bytes would fill the disk at once).
    /// It is written and synced, then renamed into place. Returns whether
    /// it is in place.
    pub(crate) fn restore(&self) -> bool {
        if self.in_place() {
            return true;
        }
        let path = self.dir.join(RESERVE_FILE);
        let whole = std::fs::symlink_metadata(&path)
            .is_ok_and(|metadata| metadata.is_file() && metadata.len() == self.bytes);
        let room = || free_bytes(&self.dir).is_none_or(|free| free / 2 >= self.bytes);
        if whole || (room() && self.write().is_ok()) {
            self.in_place.store(true, Ordering::SeqCst);
            return true;
        }
        let _ = std::fs::remove_file(self.dir.join(RESERVE_PART));
        false
    }

    /// Writes `bytes` real zeros (not a sparse file: those take no space)
    /// to the part file, syncs it and renames it into place.
    fn write(&self) -> io::Result<()> {
        let part = self.dir.join(RESERVE_PART);
        let mut file = create_private_file(&part)?;
        let zeros = [0_u8; WRITE_CHUNK];
        let mut left = self.bytes;
        while left > 0 {
            let now = usize::try_from(left).map_or(WRITE_CHUNK, |left| left.min(WRITE_CHUNK));
            file.write_all(&zeros[..now])?;
            left -= now as u64;
        }
        file.sync_all()?;
        std::fs::rename(&part, self.dir.join(RESERVE_FILE))?;
        // The rename is durable with the directory's entry.
        File::open(&self.dir).and_then(|dir| dir.sync_all())
    }
}

/// Bytes an unprivileged writer may still use on the file system of
/// `dir`, where the platform tells.
fn free_bytes(dir: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        let stats = rustix::fs::statvfs(dir).ok()?;
        Some(stats.f_bavail.saturating_mul(stats.f_frsize))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

fn create_private_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(crate::FILE_MODE);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_made_released_and_put_back() {
        let dir = tempfile::tempdir().unwrap();
        let reserve = Reserve::open(dir.path(), 100_000);
        assert!(reserve.in_place());
        let path = dir.path().join(RESERVE_FILE);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 100_000);
        assert!(reserve.release());
        assert!(!path.exists());
        assert!(!reserve.release(), "released once");
        assert!(reserve.restore());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 100_000);
        // A second handle finds the whole reserve and keeps it.
        assert!(Reserve::open(dir.path(), 100_000).in_place());
    }

    #[test]
    fn a_reserve_of_the_wrong_size_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(RESERVE_FILE), b"short").unwrap();
        let reserve = Reserve::open(dir.path(), 4_096);
        assert!(reserve.in_place());
        assert_eq!(
            std::fs::metadata(dir.path().join(RESERVE_FILE))
                .unwrap()
                .len(),
            4_096
        );
    }
}
