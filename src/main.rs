//! `bgupload`: the command-line face of the upload engine.
//!
//! The queue lives in a data directory (`--data-dir`, default
//! `<user data dir>/bgupload`), so `bgupload add` in one process and
//! `bgupload run` in another share it, and a `run` that was killed picks up
//! where it stopped on the next `run`. See `bgupload --help`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
