//! End-to-end: Debian's stock Linux for the Malta board boots on the
//! `malta` board, natively and unmodified under the monitor
//! (`--mode full`), to its `/init`, which prints `HV-LINUX-BOOT-OK`,
//! `/proc/cpuinfo` and `uname -a` and powers the board off.
//!
//! The kernel and the initramfs come from `tests/linux/fetch.sh`, cached
//! under `target/linux` (a second run downloads nothing). When the
//! download is impossible (no apt, no network: the script exits 77) the
//! test prints `SKIPPED: ...` and passes, except under CI (`CI=true`),
//! where it fails ([`hv_tests::skip`]).

use hv_host::machine::board::BoardKind;
use hv_host::machine::board::malta::LinuxBoot;
use hv_host::machine::elf::ElfImage;
use hv_host::machine::{Exit, Machine, MachineConfig};
use std::time::Instant;

/// Far more than a boot to power-off takes (about 5 billion instructions).
const BUDGET: u64 = 20_000_000_000;
/// Run slice: output is drained after each, so the instruction count at
/// which `/init`'s marker line shows is known to within one slice.
const SLICE: u64 = 10_000_000;
/// The line `/init` prints first.
const MARKER: &[u8] = b"HV-LINUX-BOOT-OK";

use hv_tests::linux::fetch;

#[test]
fn debian_malta_kernel_boots_to_init_and_powers_off() {
    let Some(dir) = fetch() else {
        return;
    };
    let kernel = std::fs::read(dir.join("vmlinuz")).expect("vmlinuz");
    let initrd = std::fs::read(dir.join("initrd.gz")).expect("initrd.gz");
    let image = ElfImage::parse(&kernel).expect("vmlinuz is an ELF");
    let mut m = Machine::with_board(
        MachineConfig {
            ram_bytes: 256 << 20,
        },
        BoardKind::Malta,
    )
    .expect("a 256 MiB Malta");
    m.boot_linux(
        &image,
        &LinuxBoot {
            kernel_name: "vmlinuz",
            initrd: Some(&initrd),
            cmdline: "console=ttyS0 rdinit=/init",
        },
    )
    .expect("the kernel and initrd fit");

    let mut console = Vec::new();
    // Instructions and host seconds when the marker first shows.
    let mut at_init = None;
    let started = Instant::now();
    let exit = loop {
        let exit = m.run(SLICE);
        console.extend(m.take_stdout());
        if at_init.is_none() && console.windows(MARKER.len()).any(|w| w == MARKER) {
            at_init = Some((m.instructions(), started.elapsed().as_secs_f64()));
        }
        match exit {
            Exit::BudgetExhausted | Exit::OutputPending if m.instructions() < BUDGET => {}
            other => break other,
        }
    };
    let console = String::from_utf8_lossy(&console);
    assert_eq!(
        exit,
        Exit::PowerOff,
        "the guest did not power off after {} instructions:\n{console}",
        m.instructions()
    );
    for needle in [
        "Linux version 6.1.",
        "CPU0 revision is: 00019300 (MIPS 24Kc)",
        "Run /init as init process",
        "HV-LINUX-BOOT-OK",
        "system type\t\t: MIPS Malta",
        "cpu model\t\t: MIPS 24Kc",
        "mips GNU/Linux",
        "reboot: Power down",
    ] {
        assert!(console.contains(needle), "no {needle:?} in:\n{console}");
    }
    let total = started.elapsed().as_secs_f64();
    let (init_insns, init_secs) = at_init.expect("the marker was checked above");
    println!(
        "/init's {} after {init_insns} instructions ({init_secs:.1} s); \
         power-off after {} instructions ({total:.1} s)",
        String::from_utf8_lossy(MARKER),
        m.instructions()
    );
}

/// The console lines both runs must print.
const NEEDLES: [&str; 8] = [
    "Linux version 6.1.",
    "CPU0 revision is: 00019300 (MIPS 24Kc)",
    "Run /init as init process",
    "HV-LINUX-BOOT-OK",
    "system type\t\t: MIPS Malta",
    "cpu model\t\t: MIPS 24Kc",
    "mips GNU/Linux",
    "reboot: Power down",
];

#[test]
fn debian_malta_kernel_boots_unmodified_under_the_monitor() {
    use hv_host::monitor::{Monitor, MonitorConfig, MonitorExit, VmConfig, VmId, VmStop};
    let Some(dir) = fetch() else {
        return;
    };
    let kernel = std::fs::read(dir.join("vmlinuz")).expect("vmlinuz");
    let initrd = std::fs::read(dir.join("initrd.gz")).expect("initrd.gz");
    let image = ElfImage::parse(&kernel).expect("vmlinuz is an ELF");
    let vm = VmConfig {
        ram_bytes: 256 << 20,
        board: BoardKind::Malta,
        ..VmConfig::default()
    };
    let mut mon = Monitor::new(MonitorConfig::default(), &[vm]).expect("one Malta VM");
    mon.boot_linux(
        VmId(0),
        &image,
        &LinuxBoot {
            kernel_name: "vmlinuz",
            initrd: Some(&initrd),
            cmdline: "console=ttyS0 rdinit=/init",
        },
    )
    .expect("the kernel and initrd fit");
    let started = Instant::now();
    let mut console = Vec::new();
    loop {
        let exit = mon.run(SLICE);
        console.extend(mon.take_console(VmId(0)));
        let done = mon.stats(VmId(0)).map_or(0, |s| s.guest_instructions);
        if exit == MonitorExit::AllStopped || done >= BUDGET {
            break;
        }
    }
    let console = String::from_utf8_lossy(&console);
    assert_eq!(
        mon.stop_reason(VmId(0)),
        Some(&VmStop::PowerOff),
        "the guest did not power off:\n{console}"
    );
    for needle in NEEDLES {
        assert!(console.contains(needle), "no {needle:?} in:\n{console}");
    }
    let s = mon.stats(VmId(0)).expect("vm0");
    assert!(s.stlb_refills > 0 && s.exits_total() > 0, "{s:?}");
    println!(
        "under the monitor: power-off after {} guest instructions, {} exits, {} virtual cycles ({:.1} s)",
        s.guest_instructions,
        s.exits_total(),
        s.virtual_cycles(),
        started.elapsed().as_secs_f64()
    );
}
