//! End-to-end: both demo kernel images boot natively on the bare machine,
//! run all five programs to completion and shut down with exit code 0.
//!
//! The non-`stat` lines are the same in every mode up to the interleaving
//! of concurrent programs, so they are checked sorted against a snapshot;
//! the `stat` lines are checked for the counters the kernel must report.
//! On the bare machine a run is fully deterministic, which is checked too.

use demo_os::{EXPECTED_RESULTS, PV_IMAGE, STAT_PREFIX, UNMODIFIED_IMAGE};
use hv_host::machine::elf::ElfImage;
use hv_host::machine::{Exit, Machine, MachineConfig};

/// Far more than a run needs (about 4 million instructions).
const BUDGET: u64 = 100_000_000;

/// The fewest TLB refills a native run may take. The `pages` program
/// visits 128 heap pages (64 pairs for the 32 TLB entries) eight times in
/// scattered order, so most of its 1024 visits miss the TLB (a run takes
/// about 1000; without it, about 100).
const MIN_TLB_REFILLS: u64 = 500;

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

/// The `tlb refills` counter of the `stat memory:` line.
fn tlb_refills(console: &str) -> u64 {
    let line = console
        .lines()
        .find(|l| l.starts_with("stat memory:"))
        .unwrap_or_else(|| panic!("no `stat memory:` line:\n{console}"));
    line.split(", ")
        .find_map(|field| field.split("tlb refills ").nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no tlb refill count in `{line}`"))
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
    let refills = tlb_refills(&run.console);
    assert!(
        refills >= MIN_TLB_REFILLS,
        "only {refills} TLB refills: the pages program no longer stresses the TLB"
    );
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
