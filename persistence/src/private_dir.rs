//! The store directory: owner-only, locked by one process at a time.

use crate::error::StoreError;
use std::fs::{File, OpenOptions};
use std::path::Path;

/// Mode of the store directory and the directories in it (unix).
pub const DIR_MODE: u32 = 0o700;
/// Mode of the files the store creates itself (unix).
pub const FILE_MODE: u32 = 0o600;
/// Name of the lock file in the store directory.
pub const LOCK_FILE: &str = "LOCK";

/// Creates `path` (and missing parents) owner-only, and narrows an
/// existing directory to owner-only.
pub(crate) fn create_private_dir(path: &Path) -> Result<(), StoreError> {
    let context = || format!("creating directory {}", path.display());
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder
        .create(path)
        .map_err(|error| StoreError::io(context(), error))?;
    check_own_directory(path)?;
    restrict(path, DIR_MODE)
}

/// `path` itself (not what a link points at) is a directory of this
/// process's effective user: a link planted at the store's place, or a
/// directory of another user, is refused before anything in it is changed.
fn check_own_directory(path: &Path) -> Result<(), StoreError> {
    let refused = |why: String| {
        StoreError::io(
            format!("refusing the store directory {}", path.display()),
            std::io::Error::new(std::io::ErrorKind::PermissionDenied, why),
        )
    };
    let metadata = std::fs::symlink_metadata(path)
        .map_err(|error| StoreError::io(format!("reading {}", path.display()), error))?;
    if metadata.file_type().is_symlink() {
        return Err(refused("it is a symbolic link".to_owned()));
    }
    if !metadata.is_dir() {
        return Err(refused("it is not a directory".to_owned()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = rustix::process::geteuid().as_raw();
        if metadata.uid() != me {
            return Err(refused(format!(
                "it belongs to uid {}, not to this process's uid {me}",
                metadata.uid()
            )));
        }
    }
    Ok(())
}

/// Sets `mode` on `path` (unix; elsewhere nothing).
#[cfg_attr(not(unix), allow(unused_variables))]
fn restrict(path: &Path, mode: u32) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|error| {
            StoreError::io(
                format!("restricting permissions of {}", path.display()),
                error,
            )
        })?;
    }
    Ok(())
}

/// Takes the exclusive lock on `dir/LOCK`, held as long as the file stays
/// open. Fails with [`StoreError::Locked`] when someone else holds it.
pub(crate) fn lock_dir(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(LOCK_FILE);
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    let file = options
        .open(&path)
        .map_err(|error| StoreError::io(format!("opening {}", path.display()), error))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(StoreError::Locked {
                dir: dir.to_path_buf(),
            });
        }
        Err(std::fs::TryLockError::Error(error)) => {
            return Err(StoreError::io(format!("locking {}", path.display()), error));
        }
    }
    restrict(&path, FILE_MODE)?;
    Ok(file)
}
