//! End-to-end: both demo kernel images boot natively on the bare machine,
//! run all four programs to completion and shut down with exit code 0.
//!
//! The non-`stat` lines are the same in every mode up to the interleaving
//! of concurrent programs, so they are checked sorted against a snapshot;
//! the `stat` lines are checked for the counters the kernel must report.
//! On the bare machine a run is fully deterministic, which is checked too.

use demo_os::{EXPECTED_RESULTS, PV_IMAGE, STAT_PREFIX, UNMODIFIED_IMAGE};
use hv_host::machine::elf::ElfImage;
use hv_host::machine::{Exit, Machine, MachineConfig};

/// Far more than a run needs (about 3 million instructions).
const BUDGET: u64 = 100_000_000;

struct Run {
    console: String,
    code: i32,
    instructions: u64,
}

fn boot(image: &[u8]) -> Run {
    let image = ElfImage::parse(image).expect("the demo image is a valid ELF");
    let mut m = Machine::new(MachineConfig::default()).expect("default machine");
    m.load_elf(&image).expect("the demo image fits");
    let exit = m.run(BUDGET);
    let console = String::from_utf8(m.take_stdout()).expect("console output is UTF-8");
    let Exit::Shutdown { code } = exit else {
        panic!("the kernel did not shut down: {exit:?}\n{console}");
    };
    Run {
        console,
        code,
        instructions: m.instructions(),
    }
}

fn sorted_program_lines(console: &str) -> String {
    let mut lines: Vec<&str> = console
        .lines()
        .filter(|l| !l.starts_with(STAT_PREFIX))
        .collect();
    lines.sort_unstable();
    lines.join("\n")
}

fn check(run: &Run) {
    assert_eq!(run.code, 0, "exit code\n{}", run.console);
    assert!(run.console.ends_with('\n'), "output ends with a whole line");
    assert_eq!(run.console.lines().last(), Some(EXPECTED_RESULTS));
    let stats: Vec<&str> = run
        .console
        .lines()
        .filter(|l| l.starts_with(STAT_PREFIX))
        .collect();
    let stats = stats.join("\n");
    for counter in [
        "timer interrupts",
        "context switches",
        "syscalls",
        "idle",
        "tlb refills",
        "page faults",
        "frames zeroed",
    ] {
        assert!(
            stats.contains(counter),
            "stat lines lack `{counter}`:\n{stats}"
        );
    }
}

#[test]
fn unmodified_image_boots_natively() {
    let run = boot(UNMODIFIED_IMAGE);
    check(&run);
    insta::assert_snapshot!("demo_program_lines", sorted_program_lines(&run.console));
}

#[test]
fn pv_image_takes_its_unmodified_path_natively() {
    let run = boot(PV_IMAGE);
    check(&run);
    assert!(
        run.console
            .contains("stat boot: unmodified path (no monitor)"),
        "{}",
        run.console
    );
    insta::assert_snapshot!("demo_program_lines", sorted_program_lines(&run.console));
}

#[test]
fn native_runs_are_deterministic() {
    let (a, b) = (boot(UNMODIFIED_IMAGE), boot(UNMODIFIED_IMAGE));
    assert_eq!(a.console, b.console);
    assert_eq!(a.instructions, b.instructions);
}

#[test]
fn the_unmodified_image_has_no_hypercall_instruction() {
    let hypcall = hv_abi::HYPCALL.to_le_bytes();
    assert!(!UNMODIFIED_IMAGE.chunks(4).any(|w| w == hypcall));
    assert!(
        PV_IMAGE.chunks(4).any(|w| w == hypcall),
        "the PV image does make hypercalls"
    );
}
