//! The paravirtualized demo kernel under `--mode para`: the same
//! timing-free output as natively, through the ABI 1.1 calls (the shared
//! page of CP0 registers and the monitor's refill walk) and the 1.2
//! balloon, at a fraction of the exits the unmodified kernel takes fully
//! virtualized.

use demo_os::BootArgs;
use hv_abi::{COMMPAGE_OFF, Hypercall, WALK_FORMAT_MIPS32_4K};
use hv_host::machine::elf::ElfImage;
use hv_host::monitor::hypercall::HypercallRecord;
use hv_host::monitor::stats::{ExitReason, VmStats};
use hv_host::monitor::{MonitorConfig, VmConfig, VmStop};
use hv_tests::kernels::{run_monitored, run_native_with};

const RAM: u32 = 64 << 20;

use hv_tests::linux::timing_free_lines;

/// What one monitored run gave.
struct Run {
    out: Vec<u8>,
    stop: Option<VmStop>,
    stats: VmStats,
    calls: Vec<HypercallRecord>,
}

/// Runs `image` under the monitor, with hypercalls offered or not.
fn monitored(image: &[u8], hypercalls: bool, args: BootArgs) -> Run {
    let image = ElfImage::parse(image).unwrap();
    let config = MonitorConfig {
        hypercalls,
        ..MonitorConfig::default()
    };
    let vm = VmConfig {
        ram_bytes: RAM,
        ..VmConfig::default()
    };
    let r = run_monitored(&image, config, vm, &args.registers(), 2_000_000_000);
    assert!(r.stop.is_some(), "the demo did not finish");
    Run {
        out: r.out,
        stop: r.stop,
        stats: r.stats,
        calls: r.calls,
    }
}

fn calls_of(run: &Run, call: Hypercall) -> Vec<HypercallRecord> {
    run.calls
        .iter()
        .filter(|c| c.number == call.number())
        .copied()
        .collect()
}

fn check(work: u32) {
    let args = BootArgs { work, programs: 0 };
    let (native_out, native_code) =
        run_native_with(demo_os::PV_IMAGE, RAM, &args.registers(), 2_000_000_000);
    assert_eq!(native_code, Some(0));
    let para = monitored(demo_os::PV_IMAGE, true, args);
    assert_eq!(para.stop, Some(VmStop::Exited(0)));
    let (n, p) = (timing_free_lines(&native_out), timing_free_lines(&para.out));
    assert!(n.iter().any(|l| l.starts_with("results: ")), "{n:?}");
    assert_eq!(p, n, "work {work}: timing-free output under --mode para");
    let text = String::from_utf8_lossy(&para.out);
    assert!(text.contains("stat boot: paravirtualized path"), "{text}");

    // The refill walk: registered once, on a kseg0 word, and it served
    // the refills (the guest's handler saw almost none).
    let s = &para.stats;
    let walk = calls_of(&para, Hypercall::RefillWalkSet);
    assert_eq!(walk.len(), 1, "{walk:?}");
    assert_eq!(walk[0].args[1], WALK_FORMAT_MIPS32_4K);
    assert_eq!(walk[0].args[0] >> 29, 4, "a kseg0 word");
    assert_eq!(walk[0].result.0, 0);
    assert!(s.walked_refills > 500 * u64::from(work), "{s:?}");
    assert!(s.refills_forwarded < s.walked_refills / 10, "{s:?}");

    // The shared page: set at boot (a page-aligned frame), off at shutdown.
    let page = calls_of(&para, Hypercall::CommpageSet);
    assert_eq!(page.len(), 2, "{page:?}");
    assert_eq!(page[0].args[0] % 4096, 0);
    assert_eq!(page[1].args[0], COMMPAGE_OFF);
    assert!(page.iter().all(|c| c.result.0 == 0), "{page:?}");
    // "Page already zeroed": natively the kernel zeroes every frame it
    // takes; under the monitor it skips frames the monitor vouched for,
    // and only those, and zeroes fewer.
    let native_text = String::from_utf8_lossy(&native_out);
    let stat = |console: &str, name| hv_tests::demo_stat(console, "memory", name);
    assert_eq!(stat(&native_text, "frames vouched zero"), 0);
    let skipped = stat(&text, "frames vouched zero");
    assert!(
        skipped > 0 && skipped <= s.frames_vouched,
        "{skipped}, {s:?}"
    );
    for counter in ["frames zeroed", "zeroing stores"] {
        let (p, n) = (stat(&text, counter), stat(&native_text, counter));
        assert!(p < n, "work {work}: {counter} {p} under para, {n} natively");
    }
    // The balloon: the frames of exited processes go back to the monitor
    // and are reclaimed before reuse; natively nothing is released.
    assert_eq!(stat(&native_text, "frames released"), 0);
    assert!(s.frames_released > 0, "{s:?}");
    assert_eq!(stat(&text, "frames released"), s.frames_released);
    assert_eq!(stat(&text, "frames reclaimed"), s.frames_reclaimed);
    assert_eq!(s.released_touched, 0, "{s:?}");
    let released: u32 = calls_of(&para, Hypercall::FramesRelease)
        .iter()
        .map(|c| c.result.1)
        .sum();
    assert_eq!(u64::from(released), s.frames_released);
    let by_number = |call: Hypercall| s.hypercalls[call.number() as usize];
    assert_eq!(by_number(Hypercall::CommpageSet), 2);
    assert_eq!(by_number(Hypercall::RefillWalkSet), 1);
    // Exception entry and return load and store the page: the emulated
    // mfc0s are far fewer than the traps (4 each without the page).
    let (mfc0, mtc0, eret) = (s.privileged[0], s.privileged[1], s.privileged[2]);
    let traps = s.exit_count(ExitReason::Syscall) + s.exit_count(ExitReason::Int);
    assert!(mfc0 < traps, "mfc0 {mfc0}, traps {traps}");
    assert!(mtc0 < eret, "mtc0 {mtc0}, eret {eret}");

    // The point of it all: at most a fifth of the exits of the
    // unmodified kernel fully virtualized.
    let full = monitored(demo_os::UNMODIFIED_IMAGE, false, args);
    assert_eq!(full.stop, Some(VmStop::Exited(0)));
    assert_eq!(timing_free_lines(&full.out), n);
    let (p, f) = (s.exits_total(), full.stats.exits_total());
    assert!(5 * p <= f, "work {work}: para {p} exits, full {f}");
}

#[test]
fn pv_image_under_para_matches_native_with_the_commpage_and_the_walk() {
    check(1);
}

#[test]
fn pv_image_under_para_at_work_5() {
    check(5);
}
