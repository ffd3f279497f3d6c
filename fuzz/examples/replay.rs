//! Replays inputs through a target's checks without libFuzzer:
//! `cargo run --example replay TARGET FILE...` (prints `ok FILE` per input).
fn main() {
    let mut args = std::env::args().skip(1);
    let target = args.next().expect("target");
    for path in args {
        let bytes = std::fs::read(&path).unwrap();
        if std::env::var_os("BGUPLOAD_FUZZ_SHOW").is_some() {
            println!("{path}:\n{}", bgupload_fuzz::show_input(&target, &bytes));
        }
        bgupload_fuzz::run_target(&target, &bytes);
        println!("ok {path}");
    }
}
