//! Transparency: every kernel that runs natively prints the same console
//! output and exits with the same code under the monitor (`--mode full`).
//! The kernels of `hv_tests::kernels` exercise each privileged instruction,
//! each exception kind (delay slots, nested EXL), the TLB, Count/Compare,
//! Cause.DC, software interrupts and `wait`; the demo OS (both images) is
//! the realistic workload. Output that depends on timing is excluded: the
//! demo's `stat` lines and the interleaving of its concurrent programs.

use demo_os::BootArgs;
use hv_host::machine::elf::ElfImage;
use hv_host::monitor::{Monitor, MonitorConfig, MonitorExit, VmConfig, VmId, VmStop};
use hv_tests::kernels::{
    self, MAX_TICKS, RAM_BYTES, run_full, run_full_with, run_native, run_native_with,
};

#[test]
fn every_test_kernel_behaves_as_natively() {
    let mut checked = 0;
    for (name, program) in kernels::all() {
        let elf = program.elf();
        let (native_out, native_code) = run_native(&elf, RAM_BYTES, MAX_TICKS);
        let (full_out, full_code) = run_full(&elf, RAM_BYTES, 4 * MAX_TICKS);
        let native_text = String::from_utf8_lossy(&native_out);
        assert_eq!(
            native_code,
            Some(0),
            "{name} must pass natively first:\n{native_text}"
        );
        assert_eq!(
            String::from_utf8_lossy(&full_out),
            native_text,
            "{name}: console output under the monitor"
        );
        assert_eq!(
            full_code, native_code,
            "{name}: exit code under the monitor"
        );
        checked += 1;
    }
    assert!(checked >= 10);
}

use hv_tests::linux::timing_free_lines;

fn demo(image: &[u8]) {
    let (native_out, native_code) = run_native(image, 64 << 20, 200_000_000);
    let (full_out, full_code) = run_full(image, 64 << 20, 400_000_000);
    assert_eq!(native_code, Some(0));
    assert_eq!(full_code, native_code);
    let (n, f) = (timing_free_lines(&native_out), timing_free_lines(&full_out));
    assert!(n.iter().any(|l| l.starts_with("results: ")), "{n:?}");
    assert_eq!(f, n);
}

#[test]
fn unmodified_demo_image_behaves_as_natively() {
    demo(demo_os::UNMODIFIED_IMAGE);
}

#[test]
fn pv_demo_image_takes_its_unmodified_path_under_full() {
    // Under --mode full the monitor offers no hypercalls: HYPCALL raises
    // Reserved Instruction as on hardware, and the PV kernel falls back.
    demo(demo_os::PV_IMAGE);
    let (out, _) = run_full(demo_os::PV_IMAGE, 64 << 20, 400_000_000);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("stat boot: unmodified path (no monitor)"),
        "{text}"
    );
}

/// The `results:` line.
fn results_line(lines: &[String]) -> &str {
    lines
        .iter()
        .find(|l| l.starts_with("results: "))
        .unwrap_or_else(|| panic!("no results line: {lines:?}"))
}

#[test]
fn demo_boot_arguments_give_the_same_results_under_the_monitor() {
    let work2 = BootArgs {
        work: 2,
        programs: 0,
    };
    let sleeper_pages = BootArgs {
        work: 2,
        programs: demo_os::program_mask("sleeper,pages").unwrap(),
    };
    for image in [demo_os::UNMODIFIED_IMAGE, demo_os::PV_IMAGE] {
        for (args, want) in [
            (
                work2,
                "results: sieve=6057 memory=1002979328 sleeper=12 chatty=1272 pages=1354450968",
            ),
            (sleeper_pages, "results: sleeper=12 pages=1354450968"),
        ] {
            let regs = args.registers();
            let (native_out, native_code) = run_native_with(image, 64 << 20, &regs, 400_000_000);
            let (full_out, full_code) = run_full_with(image, 64 << 20, &regs, 800_000_000);
            assert_eq!(native_code, Some(0), "{args:?}");
            assert_eq!(full_code, native_code, "{args:?}");
            let (n, f) = (timing_free_lines(&native_out), timing_free_lines(&full_out));
            assert_eq!(results_line(&n), want, "{args:?}");
            assert_eq!(f, n, "{args:?}");
        }
    }
}

#[test]
fn the_demo_exercises_the_software_tlb() {
    let image = ElfImage::parse(demo_os::UNMODIFIED_IMAGE).unwrap();
    let mut mon = Monitor::new(MonitorConfig::default(), &[VmConfig::default()]).unwrap();
    mon.load(VmId(0), &image).unwrap();
    while mon.run(u64::MAX) != MonitorExit::AllStopped {
        mon.take_console(VmId(0));
    }
    assert_eq!(mon.stop_reason(VmId(0)), Some(&VmStop::Exited(0)));
    let s = mon.stats(VmId(0)).unwrap();
    // Misses the guest's own TLB also misses go to its refill handler
    // (and the monitor puts the entry its handler writes straight into
    // the real TLB); every miss on an address it maps is served by the
    // monitor.
    assert!(s.stlb_refills > 100, "{s:?}");
    assert!(s.refills_forwarded > 500, "{s:?}");
    assert!(s.prefills > 500, "{s:?}");
    assert!(s.frames_zeroed > 100, "{s:?}");
}
