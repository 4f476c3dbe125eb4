//! The demo OS at the edges of what a VM is given: every virtual TLB size
//! the monitor accepts (`--vtlb`), and RAM down to 1 MiB (`--mem`). Under
//! the monitor, fully virtualized or paravirtualized, it must finish with
//! the output it prints natively (the `stat` lines and the interleaving of
//! the programs aside), never spin for ever or run out of memory where the
//! native run does not.

use demo_os::BootArgs;
use hv_abi::{COMMPAGE_OFF, Hypercall};
use hv_host::machine::elf::ElfImage;
use hv_host::monitor::hypercall::HypercallRecord;
use hv_host::monitor::vtlb::{MAX_ENTRIES, MIN_ENTRIES};
use hv_host::monitor::{Monitor, MonitorConfig, MonitorError, VmConfig, VmStop};
use hv_tests::kernels::{run_monitored, run_native_with};
use hv_tests::linux::timing_free_lines;

/// Clock ticks a monitored run may take: the demo at `--work 1` needs
/// well under a tenth of it in every configuration here, so a run that
/// reaches it is stuck (it spins in its refill handler, say).
const MAX_TICKS: u64 = 400_000_000;

/// A monitored run: the console, why the VM stopped (`None`: it was
/// still running after [`MAX_TICKS`]) and its hypercalls.
struct Run {
    out: Vec<u8>,
    stop: Option<VmStop>,
    calls: Vec<HypercallRecord>,
}

impl Run {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out).into_owned()
    }

    /// A counter of the guest's `stat memory:` line.
    fn guest_stat(&self, name: &str) -> u32 {
        let text = self.text();
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("stat memory: "))
            .unwrap_or_else(|| panic!("no stat memory line:\n{text}"));
        line.split(", ")
            .find_map(|field| field.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name:?} in {line:?}"))
    }
}

/// Runs `image` alone under the monitor (with hypercalls offered for
/// `--mode para`) with `ram` bytes of RAM and a TLB of `entries`.
fn monitored(image: &[u8], hypercalls: bool, ram: u32, entries: usize) -> Run {
    monitored_with(image, hypercalls, ram, entries, BootArgs::DEFAULT)
}

/// [`monitored`] with the boot arguments `args`.
fn monitored_with(image: &[u8], hypercalls: bool, ram: u32, entries: usize, args: BootArgs) -> Run {
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
    let r = run_monitored(&image, config, vm, &args.registers(), MAX_TICKS);
    Run {
        out: r.out,
        stop: r.stop,
        calls: r.calls,
    }
}

/// The timing-free lines of `image` run natively with `ram` bytes.
fn native(image: &[u8], ram: u32) -> Vec<String> {
    native_with(image, ram, BootArgs::DEFAULT)
}

/// [`native`] with the boot arguments `args`.
fn native_with(image: &[u8], ram: u32, args: BootArgs) -> Vec<String> {
    let (out, code) = run_native_with(image, ram, &args.registers(), MAX_TICKS);
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

#[test]
fn the_pv_image_under_para_needs_no_more_memory_than_natively() {
    // What the PV paths hold beyond the unmodified path (pages mapped
    // ahead of use by the clustered fault, the frame recording them, the
    // shared page of CP0 registers) is given back before memory runs out:
    // at 1 MiB the demo ran out under para (`pages` was killed) while the
    // same image finished natively and under full.
    for mib in [1, 2, 3, 4, 8, 64] {
        let ram = mib << 20;
        let native = native(demo_os::PV_IMAGE, ram);
        let para = monitored(demo_os::PV_IMAGE, true, ram, 32);
        check(&para, &native, &format!("--mode para --mem {mib}"));
        assert!(para.text().contains("stat boot: paravirtualized path"));
        let full = monitored(demo_os::PV_IMAGE, false, ram, 32);
        check(
            &full,
            &native,
            &format!("--mode full --image pv --mem {mib}"),
        );
        // 1 MiB is where it takes back (the pages it mapped ahead); with
        // more, nothing.
        let taken = para.guest_stat("frames taken back");
        assert_eq!(
            taken > 0,
            mib == 1,
            "--mem {mib}: {taken} frames taken back"
        );
    }
}

#[test]
fn short_of_memory_the_pv_kernel_gives_back_the_shared_page_too() {
    // At work 5 in 1 MiB the demo's `memory` and `pages` peak together
    // under the monitor (natively they do not: the interleaving differs,
    // a matter of timing): `memory` runs out under full, and under para
    // too once the PV kernel has given back everything it holds beyond
    // the unmodified path, the shared page last. It then carries on
    // without the page, as the unmodified path does, and ends cleanly.
    let args = BootArgs {
        work: 5,
        programs: 0,
    };
    let ram = 1 << 20;
    let full = monitored_with(demo_os::PV_IMAGE, false, ram, 32, args);
    let para = monitored_with(demo_os::PV_IMAGE, true, ram, 32, args);
    let native = native_with(demo_os::PV_IMAGE, ram, args);
    let text = para.text();
    // The shared page: set at boot, off when memory ran out, long before
    // the end (many console writes follow).
    let commpage: Vec<usize> = (para.calls.iter().enumerate())
        .filter(|(_, c)| c.number == Hypercall::CommpageSet.number())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(commpage.len(), 2, "{text}");
    assert_eq!(para.calls[commpage[1]].args[0], COMMPAGE_OFF);
    let after = para.calls[commpage[1]..]
        .iter()
        .filter(|c| c.number == Hypercall::ConsoleWrite.number())
        .count();
    assert!(after > 10, "the page went at shutdown only:\n{text}");
    assert!(para.guest_stat("frames taken back") > 100, "{text}");
    // It ends as a kernel short of memory does: that one program killed,
    // the others with their native results, no panic.
    for run in [&full, &para] {
        let text = run.text();
        assert_eq!(run.stop, Some(VmStop::Exited(1)), "{text}");
        assert!(
            text.contains("demo-os: pid 2 (memory) killed: out of memory"),
            "{text}"
        );
    }
    let results = |lines: &[String]| -> Vec<String> {
        let line = lines.iter().find(|l| l.starts_with("results: ")).unwrap();
        line["results: ".len()..]
            .split(' ')
            .map(str::to_owned)
            .collect()
    };
    let (n, p) = (results(&native), results(&timing_free_lines(&para.out)));
    assert_eq!(n.len(), p.len());
    for (n, p) in n.iter().zip(&p) {
        assert!(p == n || p == "memory=killed", "native {n}, para {p}");
    }
    assert_eq!(p, results(&timing_free_lines(&full.out)));
}
