//! Traces people can read: a bare `--trace` follows the mode (`insns`
//! natively, `exits` under the monitor), and Rust symbols are printed
//! demangled.

use hv_tests::process::{RunOutput, run_with_limit};
use std::path::Path;
use std::time::Duration;

const RUNNER: &str = env!("CARGO_BIN_EXE_demo-os");

fn runner(args: &[&str]) -> RunOutput {
    run_with_limit(Path::new(RUNNER), args, Duration::from_secs(60))
}

#[test]
fn a_bare_trace_follows_the_mode() {
    let native = runner(&["--mode", "native", "--trace", "--max-instructions", "3"]);
    assert_eq!(native.code, Some(124), "{}", native.stderr);
    let first = native.stderr.lines().next().unwrap_or_default();
    assert!(
        first.trim_start().starts_with("0 0x80001000 <"),
        "an instruction record: {first}"
    );
    let full = runner(&["--mode", "full", "--trace", "--max-instructions", "300"]);
    assert_eq!(full.code, Some(124), "{}", full.stderr);
    assert!(
        full.stderr
            .lines()
            .any(|l| l.contains(" vm0 0x") && l.contains("[tlbmiss_ld]")),
        "exit records: {}",
        full.stderr
    );
    let explicit = runner(&[
        "--mode",
        "full",
        "--trace",
        "insns",
        "--max-instructions",
        "3",
    ]);
    assert_eq!(explicit.code, Some(2), "{}", explicit.stderr);
}

#[test]
fn rust_symbols_in_traces_are_demangled() {
    let out = runner(&[
        "--mode",
        "full",
        "--trace",
        "exits",
        "--max-instructions",
        "300000",
    ]);
    assert!(
        out.stderr.contains("<demo_kernel::console::"),
        "demangled names: {}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("<_RNv"),
        "no mangled names: {}",
        out.stderr
    );
}

#[test]
fn explicit_trace_values_still_work() {
    let insns = runner(&[
        "--mode",
        "native",
        "--trace",
        "insns",
        "--max-instructions",
        "3",
    ]);
    assert_eq!(insns.code, Some(124), "{}", insns.stderr);
    assert!(
        insns
            .stderr
            .lines()
            .any(|l| l.trim_start().starts_with("2 0x80001008 <")),
        "instruction records: {}",
        insns.stderr
    );
    let exits = runner(&[
        "--mode",
        "para",
        "--trace",
        "exits",
        "--max-instructions",
        "300",
    ]);
    assert_eq!(exits.code, Some(124), "{}", exits.stderr);
    assert!(
        exits.stderr.lines().any(|l| l.contains(" vm0 0x")),
        "exit records: {}",
        exits.stderr
    );
    // Exits natively: still a usage error, the flag is not silently bent.
    let native = runner(&[
        "--mode",
        "native",
        "--trace",
        "exits",
        "--max-instructions",
        "3",
    ]);
    assert_eq!(native.code, Some(2), "{}", native.stderr);
}
