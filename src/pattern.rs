//! Files of seeded pseudo-random bytes, for the demo and the tests: real
//! bytes (not sparse zeros) that a receiver's checksum can vouch for,
//! written in constant memory whatever the size.

use sha2::{Digest, Sha256};
use std::io::{self, Write};
use std::path::Path;

/// Bytes generated per write.
const BLOCK_BYTES: usize = 1024 * 1024;

/// Writes `size` bytes derived from `seed` only (xorshift64) to `path`;
/// returns their SHA-256 in hex.
pub fn write_pattern_file(path: &Path, size: u64, seed: u64) -> io::Result<String> {
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    let mut hasher = Sha256::new();
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut block = vec![0u8; BLOCK_BYTES];
    let mut left = size;
    while left > 0 {
        let length = usize::try_from(left)
            .unwrap_or(BLOCK_BYTES)
            .min(BLOCK_BYTES);
        for chunk in block[..length].chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        hasher.update(&block[..length]);
        out.write_all(&block[..length])?;
        left -= length as u64;
    }
    out.flush()?;
    Ok(hex::encode(hasher.finalize()))
}
