//! Snapshots end to end (`--save-at N FILE`, `--restore FILE`): the rest
//! of a run restored from a snapshot is the rest of the uninterrupted run.
//!
//! For the demo in every mode (natively, fully virtualized, paravirtual,
//! several VMs), and for Debian's Linux restored after its decompressor:
//! - saving does not change the run (same console, same figures);
//! - the console of a run stopped at N (`--max-instructions N`) followed
//!   by the restored run's console is the uninterrupted run's console
//!   (per VM: VMs interleave by slice);
//! - the restored run ends with the same statistics table, instruction
//!   count, virtual cycles and exit status, under either engine;
//! - a truncated, corrupt, wrong-version or foreign file, and flags that
//!   contradict the snapshot, give a clear error and a non-zero status.

use hv_tests::linux::{fetch, malta_args};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RUNNER: &str = env!("CARGO_BIN_EXE_demo-os");

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("snapshots");
    std::fs::create_dir_all(&dir).expect("the scratch directory can be made");
    dir.join(name)
}

fn run(args: &[&str]) -> Output {
    Command::new(RUNNER)
        .args(args)
        .env("HV_NO_PROGRESS", "1")
        .output()
        .expect("the runner starts")
}

/// stderr without the lines that hold host time or talk about the
/// snapshot itself: the statistics table, the clock and the summary's
/// count and reason stay.
fn figures(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.starts_with("demo-os: engine") && !l.contains("snapshot"))
        .filter(|l| !l.starts_with("demo-os: saved") && !l.starts_with("demo-os: restored"))
        .map(|l| match l.split_once(" instructions in ") {
            // `demo-os: N instructions in S s (M MIPS); stopped: ...`
            Some((count, rest)) => {
                let reason = rest.split_once("; ").map_or("", |(_, r)| r);
                format!("{count} instructions; {reason}")
            }
            None => l.to_owned(),
        })
        .collect()
}

/// The console lines of VM `vm` (all lines with one VM).
fn console(out: &[u8], vm: Option<usize>) -> Vec<String> {
    let text = String::from_utf8_lossy(out);
    match vm {
        None => text.lines().map(str::to_owned).collect(),
        Some(v) => {
            let tag = format!("[vm{v}]");
            text.lines()
                .filter(|l| l.starts_with(&tag))
                .map(str::to_owned)
                .collect()
        }
    }
}

/// Saves `args`' run at instruction `at`, restores it (under `engine`),
/// and checks the restored rest against the uninterrupted run.
fn round_trip(name: &str, args: &[&str], at: u64, vms: usize, engine: &str) {
    let file = scratch(&format!("{name}.snap"));
    let file = file.to_str().expect("UTF-8 path");
    let at_s = at.to_string();
    let whole = run(args);
    let mut save_args = args.to_vec();
    save_args.extend(["--save-at", &at_s, file]);
    let saved = run(&save_args);
    assert_eq!(
        saved.status.code(),
        whole.status.code(),
        "{name}: saving changed the status"
    );
    let said = String::from_utf8_lossy(&saved.stderr);
    assert!(
        said.contains(&format!(
            "demo-os: saved the machine at instruction {at} to"
        )),
        "{name}: {said}"
    );
    assert_eq!(
        figures(&saved),
        figures(&whole),
        "{name}: saving changed the figures"
    );

    let mut prefix_args = args.to_vec();
    prefix_args.extend(["--max-instructions", &at_s]);
    let prefix = run(&prefix_args);
    assert_eq!(
        prefix.status.code(),
        Some(124),
        "{name}: the run reaches {at}"
    );

    let restored = run(&["--restore", file, "--engine", engine]);
    let said = String::from_utf8_lossy(&restored.stderr);
    assert!(
        said.contains(&format!("at instruction {at} in")),
        "{name}: {said}"
    );
    assert_eq!(
        restored.status.code(),
        whole.status.code(),
        "{name}: the restored run's status; stderr: {said}"
    );
    assert_eq!(
        figures(&restored),
        figures(&whole),
        "{name}: the restored run's figures"
    );
    let views: Vec<Option<usize>> = if vms == 1 {
        vec![None]
    } else {
        (0..vms).map(Some).collect()
    };
    for vm in views {
        let mut joined = console(&prefix.stdout, vm);
        joined.extend(console(&restored.stdout, vm));
        let whole_lines = console(&whole.stdout, vm);
        assert!(!whole_lines.is_empty(), "{name}: the demo prints");
        assert_eq!(joined, whole_lines, "{name}: console of {vm:?}");
    }
}

#[test]
fn the_demo_restores_natively() {
    round_trip("native", &["--mode", "native"], 1_500_000, 1, "jit");
}

#[test]
fn the_demo_restores_under_full_virtualization() {
    round_trip("full", &["--mode", "full"], 2_000_000, 1, "interp");
}

#[test]
fn the_demo_restores_under_paravirtualization() {
    round_trip("para", &["--mode", "para"], 1_000_000, 1, "jit");
}

#[test]
fn several_vms_restore_each_one_as_it_was() {
    round_trip(
        "para3",
        &[
            "--mode",
            "para",
            "--vms",
            "3",
            "--programs",
            "sieve,pages",
            "--programs",
            "sleeper,chatty",
            "--programs",
            "memory",
        ],
        2_500_000,
        3,
        "jit",
    );
    round_trip(
        "full2",
        &["--mode", "full", "--vms", "2", "--work", "2"],
        5_000_000,
        2,
        "interp",
    );
}

#[test]
fn linux_restores_after_its_decompressor() {
    let Some(dir) = fetch() else {
        return;
    };
    let boot = malta_args(&dir, 128, "console=ttyS0 rdinit=/init");
    let mut args: Vec<&str> = boot.iter().map(String::as_str).collect();
    // The decompressor ends near 1.95 G instructions, the console starts
    // near 2.1 G: saved in between, compared to 2.6 G.
    args.extend(["--max-instructions", "2600000000"]);
    let file = scratch("linux.snap");
    let file = file.to_str().expect("UTF-8 path");
    let mut save_args = args.to_vec();
    save_args.extend(["--save-at", "2000000000", file]);
    let saved = run(&save_args);
    assert_eq!(saved.status.code(), Some(124));
    let mut prefix_args = args[..args.len() - 2].to_vec();
    prefix_args.extend(["--max-instructions", "2000000000"]);
    let prefix = run(&prefix_args);
    assert!(
        prefix.stdout.len() < saved.stdout.len() / 2,
        "saved before most of the console"
    );
    let restored = run(&["--restore", file, "--max-instructions", "2600000000"]);
    assert_eq!(
        restored.status.code(),
        Some(124),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let mut joined = prefix.stdout.clone();
    joined.extend_from_slice(&restored.stdout);
    assert_eq!(
        String::from_utf8_lossy(&joined),
        String::from_utf8_lossy(&saved.stdout)
    );
    assert!(String::from_utf8_lossy(&saved.stdout).contains("Linux version"));
    assert_eq!(figures(&restored), figures(&saved));
}

#[test]
fn damaged_files_and_contradicting_flags_are_clear_errors() {
    let file = scratch("damage.snap");
    let f = file.to_str().expect("UTF-8 path");
    let saved = run(&["--mode", "para", "--save-at", "800000", f]);
    assert_eq!(saved.status.code(), Some(0));
    let good = std::fs::read(&file).expect("the snapshot was written");
    let write = |name: &str, bytes: &[u8]| {
        let p = scratch(name);
        std::fs::write(&p, bytes).expect("scratch file");
        p
    };
    let mut corrupt = good.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0x40;
    let mut version = good.clone();
    version[8] = 0x7f;
    let cases: [(PathBuf, &str); 5] = [
        (
            write("truncated.snap", &good[..good.len() / 3]),
            "truncated",
        ),
        (write("header.snap", &good[..10]), "truncated"),
        (
            write("corrupt.snap", &corrupt),
            "corrupt (checksum mismatch)",
        ),
        (write("version.snap", &version), "format version 127"),
        (
            write("foreign.snap", b"#!/bin/sh\necho not a snapshot at all\n"),
            "not a snapshot",
        ),
    ];
    for (path, message) in cases {
        let out = run(&["--restore", path.to_str().expect("UTF-8 path")]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{message}: {err}");
        assert!(err.contains(message), "{message}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty());
    }
    let out = run(&["--restore", f, "--mode", "full", "--mem", "32"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--mode, --mem cannot be given with it"),
        "{err}"
    );
    let out = run(&["--mode", "compare", "--save-at", "5", f]);
    assert_eq!(out.status.code(), Some(2));
    // A run that ends first writes nothing, and says so.
    let never = scratch("never.snap");
    let out = run(&[
        "--mode",
        "native",
        "--save-at",
        "999999999999",
        never.to_str().expect("UTF-8"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no snapshot was written"));
    assert!(!never.exists());
}
