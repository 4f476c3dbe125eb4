//! End-to-end: Debian's stock Malta Linux boots on the runner's `malta`
//! board with `rdinit=/bin/sh`, and busybox's shell runs the commands piped
//! into the runner's stdin, which reaches the guest through the UART.
//!
//! The input is a pipe, so the runner hands it over deterministically: one
//! line whenever the guest has read everything before and has the UART's
//! receive interrupt enabled (`demo-os/src/runner/console.rs`). The last
//! command powers the board off, which ends the run with status 0.
//!
//! The kernel and the initramfs come from `tests/linux/fetch.sh`, cached
//! under `target/linux`; when the download is impossible (exit 77) the
//! test prints `SKIPPED: ...` and passes, except under CI (`CI=true`),
//! where it fails ([`hv_tests::skip`]).

use hv_tests::process::run_with_input;
use std::path::Path;
use std::time::Duration;

const RUNNER: &str = env!("CARGO_BIN_EXE_demo-os");

/// The commands, one a line, as typed at the shell.
const INPUT: &str = "mount -t proc proc /proc\n\
                     uname -a\n\
                     cat /proc/interrupts\n\
                     echo HV-SHELL-$((6*7))\n\
                     poweroff -f\n";

use hv_tests::linux::{fetch, malta_args};

#[test]
fn busybox_shell_runs_piped_commands_and_powers_off() {
    shell(&[]);
}

#[test]
fn busybox_shell_works_the_same_under_the_monitor() {
    shell(&["--mode", "full"]);
}

/// stdin ends while the shell still reads: the run ends by itself, once
/// the idle guest has printed nothing for 60 virtual seconds, with its own
/// message and status 125 (not a hang, not a silent stop).
#[test]
fn end_of_piped_input_ends_the_run_not_hangs_it() {
    input_ends(
        &[],
        "HV-EOF-42",
        "stdin ended, and the guest has since waited 60 virtual seconds",
    );
}

#[test]
fn end_of_piped_input_ends_a_run_of_several_vms() {
    // Two Linux VMs at their shells under the monitor: the console VM
    // gets the input, the other none; once it ended, both wait (each busy
    // a few percent of the time between timer ticks) and the run ends.
    // It used to count only the console VM's all-idle time, which other
    // VMs' timer ticks cut short: it never ended.
    input_ends(
        &["--mode", "full", "--vms", "2"],
        "[vm0] HV-EOF-42",
        "vm1 stdin ended, and the guest has since waited",
    );
}

/// Boots into the shell with `extra` flags, pipes one command in and lets
/// stdin end: the console shows `answer`, and the run ends with status
/// 125 and `why` on stderr.
fn input_ends(extra: &[&str], answer: &str, why: &str) {
    let Some(dir) = fetch() else {
        return;
    };
    let mut args = malta_args(&dir, 128, "console=ttyS0 rdinit=/bin/sh");
    args.extend(extra.iter().map(|&a| a.to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_with_input(
        Path::new(RUNNER),
        &args,
        Some(b"echo HV-EOF-$((6*7))\n"),
        Duration::from_secs(600),
    );
    let console = out.stdout_text();
    assert!(console.contains(answer), "{console}");
    assert_eq!(out.code, Some(125), "{}", out.stderr);
    assert!(out.stderr.contains(why), "{}", out.stderr);
}

/// Boots into the shell with `extra` flags, pipes the commands in, checks
/// their answers and the clean power-off.
fn shell(extra: &[&str]) {
    let Some(dir) = fetch() else {
        return;
    };
    let args = malta_args(&dir, 256, "console=ttyS0 rdinit=/bin/sh");
    let args: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
        .collect();
    // About a minute on a loaded core; generous for two busy ones.
    let out = run_with_input(
        Path::new(RUNNER),
        &args,
        Some(INPUT.as_bytes()),
        Duration::from_secs(600),
    );
    let console = out.stdout_text();
    let context = || format!("stderr: {}\nconsole:\n{console}", out.stderr);
    assert_eq!(out.code, Some(0), "{}", context());
    for needle in [
        "Run /bin/sh as init process",
        // The kernel's console has no controlling tty: fine, no job control.
        "can't access tty; job control turned off",
        // `uname -a`
        "6.1.0-50-4kc-malta",
        "mips GNU/Linux",
        // `echo HV-SHELL-$((6*7))`: the shell itself evaluates.
        "HV-SHELL-42",
        // `poweroff -f`
        "reboot: Power down",
    ] {
        assert!(console.contains(needle), "no {needle:?}; {}", context());
    }
    // `cat /proc/interrupts`: the i8259s' cascade and serial port, whose
    // receive interrupt brought the commands in, and the CPU timer.
    for row in [
        ["2:", "XT-PIC", "2", "cascade"],
        ["4:", "XT-PIC", "4", "ttyS0"],
        ["23:", "MIPS", "7", "timer"],
    ] {
        assert!(
            console.lines().any(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                words.len() == 5 && words[0] == row[0] && words[2..] == row[1..]
            }),
            "no /proc/interrupts row {row:?}; {}",
            context()
        );
    }
    // Not found would mean the initramfs lacks the applet links.
    assert!(!console.contains("not found"), "{}", context());
    assert!(
        out.stderr.contains("powered off"),
        "the run did not end by power-off; {}",
        context()
    );
}
