//! Runs that would hang or end silently end with a message and a
//! documented status instead: a guest whose exception vector holds no
//! handler (natively and under the monitor, within a bounded number of
//! instructions), a Linux kernel on the default board, a Malta reset
//! (told apart from a power-off), and `/dev/null` opened read-write as
//! stdout (accepted).

use hv_tests::elf_writer::ElfBuilder;
use hv_tests::process::{RunOutput, run_with_limit, write_file};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const RUNNER: &str = env!("CARGO_BIN_EXE_demo-os");
/// A reserved instruction.
const RI: u32 = 0xffff_ffff;
/// `mtc0 zero, Status`: BEV and ERL clear, kernel mode.
const MTC0_ZERO_STATUS: u32 = 0x4080_6000;
/// `ehb`.
const EHB: u32 = 0x0000_00c0;

fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    write_file(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("silent_hangs"),
        name,
        bytes,
    )
}

fn runner(args: &[&str]) -> RunOutput {
    run_with_limit(Path::new(RUNNER), args, Duration::from_secs(60))
}

/// The instruction count of the summary line.
fn instructions(out: &RunOutput) -> u64 {
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains(" instructions in "))
        .unwrap_or_else(|| panic!("no summary: {}", out.stderr));
    line.trim_start_matches("demo-os: ")
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line}"))
}

#[test]
fn a_vector_with_no_handler_stops_the_run_natively_and_under_the_monitor() {
    // Reset state (BEV=1): the vector is in the boot ROM, which holds only
    // zeros: the CPU slides through them into the I/O hole, faults, and
    // would go round for ever.
    let empty_rom = scratch(
        "empty_rom.elf",
        &ElfBuilder::new(0x8000_1000)
            .code(0x8000_1000, &[RI, 0])
            .build(),
    );
    // BEV=0 and garbage at the general vector: it faults on its first word.
    let garbage = scratch(
        "garbage_vector.elf",
        &ElfBuilder::new(0x8000_1000)
            .code(0x8000_1000, &[MTC0_ZERO_STATUS, EHB, RI, 0])
            .data(0x8000_0180, RI.to_le_bytes().repeat(4))
            .build(),
    );
    for (kernel, vector, pc) in [
        (&empty_rom, "0xbfc00380", "0x80001000"),
        (&garbage, "0x80000180", "0x80001008"),
    ] {
        let mut counts = Vec::new();
        for mode in ["native", "full", "para"] {
            let k = kernel.to_str().expect("temp paths are UTF-8");
            let out = runner(&["--mode", mode, "--kernel", k]);
            let want = format!(
                "no exception handler at {vector}: the guest raised Reserved Instruction (RI) at PC {pc}"
            );
            assert!(out.stderr.contains(&want), "{mode}: {}", out.stderr);
            assert_eq!(out.code, Some(126), "{mode}: {}", out.stderr);
            let n = instructions(&out);
            assert!(n < 1_000_000, "{mode}: stopped only after {n} instructions");
            counts.push(n);
        }
        // Transparency: the monitor stops the guest at the same point.
        assert!(counts.windows(2).all(|w| w[0] == w[1]), "{counts:?}");
    }
}

#[test]
fn a_linux_kernel_needs_the_malta_board() {
    let linux = scratch(
        "linux_like.elf",
        &ElfBuilder::new(0x8000_1000)
            .code(0x8000_1000, &[0x1000_ffff, 0])
            .symbol("start_kernel", 0x8000_1000, 8, true)
            .build(),
    );
    let k = linux.to_str().expect("temp paths are UTF-8");
    let out = runner(&["--kernel", k]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "looks like a Linux kernel (symbol start_kernel): boot it with --board malta"
        ),
        "{}",
        out.stderr
    );
    // Asked for explicitly, mipssim runs it.
    let out = runner(&[
        "--kernel",
        k,
        "--board",
        "mipssim",
        "--max-instructions",
        "1000",
    ]);
    assert_eq!(out.code, Some(124), "{}", out.stderr);
}

#[test]
fn a_malta_reset_has_its_own_status() {
    // SOFTRES (0x1f000500) := GORESET (0x42), then spin.
    let reset = scratch(
        "malta_reset.elf",
        &ElfBuilder::new(0x8010_0000)
            .code(
                0x8010_0000,
                &[
                    0x3c08_bf00, // lui t0, 0xbf00
                    0x3508_0500, // ori t0, t0, 0x500
                    0x3409_0042, // ori t1, zero, 0x42
                    0xad09_0000, // sw t1, 0(t0)
                    0x1000_ffff, // b .
                    0,
                ],
            )
            .build(),
    );
    let k = reset.to_str().expect("temp paths are UTF-8");
    for mode in ["native", "full"] {
        let out = runner(&["--board", "malta", "--mode", mode, "--kernel", k]);
        assert_eq!(out.code, Some(123), "{mode}: {}", out.stderr);
        assert!(
            out.stderr.contains("guest reset the board"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn dev_null_opened_read_write_is_a_fine_stdout() {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .expect("/dev/null opens");
    let status = Command::new(RUNNER)
        .args(["--mode", "native", "--max-instructions", "100000"])
        .stdout(Stdio::from(null))
        .stderr(Stdio::null())
        .status()
        .expect("the runner starts");
    assert_eq!(status.code(), Some(124));
    // A closed stdout is still refused.
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{RUNNER}' --mode native --max-instructions 1000 >&-"
        ))
        .stderr(Stdio::null())
        .status()
        .expect("sh starts");
    assert_eq!(status.code(), Some(1));
}

#[test]
fn ctrl_c_ends_compare_with_its_table_and_status_130() {
    use std::io::Read;
    use std::time::Instant;
    let mut child = Command::new(RUNNER)
        .args(["--mode", "compare", "--work", "1000"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the runner starts");
    let mut stdout = child.stdout.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    let mut stderr = child.stderr.take().expect("piped");
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).map(|_| s)
    });
    // Well into the first runs (the whole comparison takes many seconds).
    std::thread::sleep(Duration::from_millis(1500));
    let pid = libc::pid_t::try_from(child.id()).expect("pids fit");
    // SAFETY: `kill` has no memory-safety preconditions; `pid` is our
    // child, not yet waited for.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait works") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running a minute after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().expect("reader").expect("stdout reads");
    let stderr = err.join().expect("reader").expect("stderr reads");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("compare: interrupted (Ctrl-C)"), "{stderr}");
    assert!(stdout.contains("exit status"), "the table: {stdout}");
    assert!(stdout.contains("130"), "a run cut by Ctrl-C: {stdout}");
}
