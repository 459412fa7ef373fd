//! The AFL++ harness: one binary for every target, chosen by `LIMNER_FUZZ_TARGET`
//! (the names are in `targets.rs`). Built and run by `fuzz/run.sh`.

#[path = "../targets.rs"]
mod targets;

fn main() {
    let target = std::env::var("LIMNER_FUZZ_TARGET").unwrap_or_default();
    if !targets::TARGETS.contains(&target.as_str()) {
        eprintln!(
            "set LIMNER_FUZZ_TARGET to one of: {}",
            targets::TARGETS.join(", ")
        );
        std::process::exit(2);
    }
    afl::fuzz!(|data: &[u8]| {
        let _ = targets::run(&target, data);
    });
}
