//! The demo OS at the edges of what a VM is given: every virtual TLB size
//! the monitor accepts (`--vtlb`), and RAM down to 1 MiB (`--mem`). Under
//! the monitor, fully virtualized or paravirtualized, it must finish with
//! the output it prints natively (the `stat` lines and the interleaving of
//! the programs aside), never spin for ever or run out of memory where the
//! native run does not.

use demo_os::BootArgs;
use hv_host::machine::elf::ElfImage;
use hv_host::monitor::vtlb::{MAX_ENTRIES, MIN_ENTRIES};
use hv_host::monitor::{Monitor, MonitorConfig, MonitorError, MonitorExit, VmConfig, VmId, VmStop};
use hv_tests::kernels::run_native_with;
use hv_tests::linux::timing_free_lines;

/// Clock ticks a monitored run may take: the demo at `--work 1` needs
/// well under a tenth of it in every configuration here, so a run that
/// reaches it is stuck (it spins in its refill handler, say).
const MAX_TICKS: u64 = 400_000_000;

/// A monitored run: the console and why the VM stopped (`None`: it was
/// still running after [`MAX_TICKS`]).
struct Run {
    out: Vec<u8>,
    stop: Option<VmStop>,
}

impl Run {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out).into_owned()
    }
}

/// Runs `image` alone under the monitor (with hypercalls offered for
/// `--mode para`) with `ram` bytes of RAM and a TLB of `entries`.
fn monitored(image: &[u8], hypercalls: bool, ram: u32, entries: usize) -> Run {
    let image = ElfImage::parse(image).unwrap();
    let config = MonitorConfig {
        hypercalls,
        ..MonitorConfig::default()
    };
    let vm = VmConfig {
        ram_bytes: ram,
        vtlb_entries: entries,
        ..VmConfig::default()
    };
    let mut mon = Monitor::new(config, &[vm]).unwrap();
    mon.load(VmId(0), &image).unwrap();
    for (reg, value) in BootArgs::DEFAULT.registers() {
        mon.set_gpr(VmId(0), reg, value);
    }
    let mut out = Vec::new();
    while mon.ticks() < MAX_TICKS {
        let exit = mon.run(MAX_TICKS - mon.ticks());
        out.extend(mon.take_console(VmId(0)));
        if exit == MonitorExit::AllStopped {
            break;
        }
    }
    Run {
        out,
        stop: mon.stop_reason(VmId(0)).cloned(),
    }
}

/// The timing-free lines of `image` run natively with `ram` bytes.
fn native(image: &[u8], ram: u32) -> Vec<String> {
    let (out, code) = run_native_with(image, ram, &BootArgs::DEFAULT.registers(), MAX_TICKS);
    let text = String::from_utf8_lossy(&out);
    assert_eq!(code, Some(0), "natively with {ram:#x} bytes:\n{text}");
    timing_free_lines(&out)
}

/// Checks a monitored run against the native lines.
fn check(run: &Run, native: &[String], what: &str) {
    let text = run.text();
    assert_eq!(run.stop, Some(VmStop::Exited(0)), "{what}:\n{text}");
    assert_eq!(timing_free_lines(&run.out), native, "{what}:\n{text}");
}

#[test]
fn the_demo_finishes_at_every_virtual_tlb_size() {
    const RAM: u32 = 64 << 20;
    let unmodified = native(demo_os::UNMODIFIED_IMAGE, RAM);
    let pv = native(demo_os::PV_IMAGE, RAM);
    for entries in 1..=MAX_ENTRIES {
        if entries < MIN_ENTRIES {
            // Too few for an instruction in a delay slot (see
            // `three_tlb_entries_are_enough_and_needed` in the monitor's
            // tests): refused, with the reason.
            let vm = VmConfig {
                vtlb_entries: entries,
                ..VmConfig::default()
            };
            let e = Monitor::new(MonitorConfig::default(), &[vm]).err().unwrap();
            assert!(matches!(e, MonitorError::BadTlbSize { .. }), "{e}");
            assert!(e.to_string().contains("branch delay slot"), "{e}");
            continue;
        }
        let full = monitored(demo_os::UNMODIFIED_IMAGE, false, RAM, entries);
        check(&full, &unmodified, &format!("--mode full --vtlb {entries}"));
        let para = monitored(demo_os::PV_IMAGE, true, RAM, entries);
        check(&para, &pv, &format!("--mode para --vtlb {entries}"));
        // The guest saw the size (Config1.MMUSize).
        for run in [&full, &para] {
            let text = run.text();
            assert!(
                text.contains(&format!(", tlb {entries} entries,")),
                "{text}"
            );
        }
    }
}
