//! The hypercall boundary under `--mode para`: every bad argument gets its
//! documented code and leaves the VM running (the error table, pinned as a
//! snapshot), "page already zeroed" is exact whatever path wrote a frame,
//! a guest that lies (pointers into devices or past RAM, huge counts,
//! overlapping and self-remapping batches, calls from user mode) is
//! contained, the PV demo's boot makes a deterministic sequence of
//! calls, and it gives the frames of exited processes back (the balloon).

use hv_abi::{HvError, Hypercall};
use hv_host::machine::asm::*;
use hv_host::machine::cp0::reg;
use hv_host::machine::elf::ElfImage;
use hv_host::monitor::hypercall::HypercallRecord;
use hv_host::monitor::stats::{ExitReason, VmStats};
use hv_host::monitor::{Monitor, MonitorConfig, MonitorExit, VmConfig, VmId, VmStop};
use hv_tests::programs::GuestProgram;

const ORIGIN: u32 = 0x8000_1000;
/// Guest RAM of the test VMs.
const RAM: u32 = 16 << 20;
/// EntryLo bits.
const V: u32 = 2;
const D: u32 = 4;
const G: u32 = 1;

fn lo(gpa: u32, bits: u32) -> u32 {
    ((gpa >> 12) << 6) | bits
}

/// Emits one hypercall with `v0`, `a0`, `a1` set (and `a2`, `a3` zero).
fn hyp(a: &mut Asm, number: u32, a0: u32, a1: u32) {
    a.li32(V0, number);
    a.li32(A0, a0);
    a.li32(A1, a1);
    a.emit(hv_abi::HYPCALL);
}

/// Emits UHI exit(0).
fn exit0(a: &mut Asm) {
    a.li(A0, 0);
    a.li(T9, 1);
    a.emit(sdbbp(1));
}

/// Writes TLB entry `index` mapping the pair at `hi` to `lo0`/`lo1`.
fn tlb_write(a: &mut Asm, index: u32, hi: u32, lo0: u32, lo1: u32) {
    a.li32(T0, index);
    a.emit(mtc0(T0, reg::INDEX, 0));
    a.li32(T0, hi);
    a.emit(mtc0(T0, reg::ENTRYHI, 0));
    a.li32(T0, lo0);
    a.emit(mtc0(T0, reg::ENTRYLO0, 0));
    a.li32(T0, lo1);
    a.emit(mtc0(T0, reg::ENTRYLO1, 0));
    a.emit(mtc0(ZERO, reg::PAGEMASK, 0));
    a.emit(ehb());
    a.emit(tlbwi());
}

/// Stores `words` at kseg0 address `at`.
fn poke(a: &mut Asm, at: u32, words: &[u32]) {
    a.li32(T1, at);
    for (i, w) in words.iter().enumerate() {
        a.li32(T0, *w);
        a.emit(sw(T0, (4 * i) as i16, T1));
    }
}

/// One TLB batch record as five words.
fn record(hi: u32, lo0: u32, lo1: u32, mask: u32, slot: u32) -> [u32; 5] {
    [hi, lo0, lo1, mask, slot]
}

/// Boots `img` alone under `--mode para` semantics, recording hypercalls.
fn para(img: &ElfImage) -> (Monitor, Vec<HypercallRecord>, String) {
    let cfg = MonitorConfig {
        hypercalls: true,
        ..MonitorConfig::default()
    };
    let vm = VmConfig {
        ram_bytes: RAM,
        ..VmConfig::default()
    };
    let mut mon = Monitor::new(cfg, &[vm]).unwrap();
    mon.load(VmId(0), img).unwrap();
    mon.record_hypercalls(true);
    let mut calls = Vec::new();
    let mut console = Vec::new();
    for _ in 0..1000 {
        let exit = mon.run(10_000_000);
        calls.extend(mon.take_hypercalls().into_iter().map(|(_, r)| r));
        console.extend(mon.take_console(VmId(0)));
        if exit == MonitorExit::AllStopped {
            break;
        }
    }
    (mon, calls, String::from_utf8_lossy(&console).into_owned())
}

fn image(a: Asm) -> ElfImage {
    ElfImage::parse(&GuestProgram::assemble(a).unwrap().elf()).unwrap()
}

fn name(number: u32) -> String {
    Hypercall::try_from(number).map_or_else(|_| format!("#{number}"), |c| c.to_string())
}

fn status(v0: u32) -> String {
    match HvError::from_status(v0) {
        None => "ok".into(),
        Some(e) => format!("{e:?}"),
    }
}

fn table(calls: &[HypercallRecord]) -> String {
    calls
        .iter()
        .map(|r| {
            format!(
                "{}({:#x}, {:#x}) -> {} v1={:#x}\n",
                name(r.number),
                r.args[0],
                r.args[1],
                status(r.result.0),
                r.result.1
            )
        })
        .collect()
}

/// A kernel that makes every kind of bad call (and a few good ones), then
/// one from user mode, then exits through its syscall handler.
fn error_table_kernel() -> ElfImage {
    const EBASE: u32 = 0x8000_4000;
    const RECORDS: u32 = 0x8000_8000;
    const MAPPED: u32 = 0x0060_0000;
    let mut a = Asm::new(ORIGIN);
    a.named_label("_start");
    // Kernel mode, normal vectors at EBASE; the general handler exits.
    a.li32(T0, EBASE);
    a.emit(mtc0(T0, reg::PRID, 1));
    a.emit(mtc0(ZERO, reg::STATUS, 0));
    a.emit(ehb());
    let mut h = Asm::new(EBASE + 0x180);
    exit0(&mut h);
    poke(&mut a, EBASE + 0x180, &h.finish().unwrap());

    // Records: [0] good, [1] bad mask, [2] reserved EntryHi bits,
    // [3] a frame outside the VM, [4] slot past the TLB, [5] random slot.
    let good = record(
        0x0050_0000,
        lo(0x20_0000, V | D),
        lo(0x20_1000, V | D),
        0,
        5,
    );
    let mut words = Vec::new();
    for r in [
        good,
        record(0x0050_0000, 0, 0, 0x0000_2000, 0),
        record(0x0050_0100, 0, 0, 0, 0),
        record(0x0050_0000, lo(0x0800_0000, V), 0, 0, 0),
        record(0x0050_0000, 0, 0, 0, 40),
        record(0x0052_0000, lo(0x22_0000, V), lo(0x22_1000, V), 0, u32::MAX),
    ] {
        words.extend(r);
    }
    poke(&mut a, RECORDS, &words);
    // A self-remapping batch: the array is read through a mapping of
    // MAPPED to the records' frame; its record 0 remaps MAPPED to a frame
    // of zeros, so record 1 is read from there (an all-zero record).
    let remap = record(
        MAPPED,
        lo(0x30_0000, V | D | G),
        lo(0x30_1000, V | D | G),
        0,
        9,
    );
    poke(&mut a, RECORDS + 0x100, &[remap, good].concat());
    tlb_write(&mut a, 9, MAPPED, lo(0x8000 & !0xfff, V | D | G), G);
    // "hi" for the console.
    poke(&mut a, RECORDS + 0x200, &[u32::from_le_bytes(*b"hi\n\0")]);

    let hc = |n: Hypercall| n.number();
    // Unknown number, unknown code field, Discover leaves.
    hyp(&mut a, 0, 0, 0);
    hyp(&mut a, 99, 0, 0);
    a.li32(V0, hc(Hypercall::Discover));
    a.emit(hv_abi::HYPCALL | (1 << 11));
    hyp(&mut a, hc(Hypercall::Discover), 0, 0);
    hyp(&mut a, hc(Hypercall::Discover), 1, 0);
    hyp(&mut a, hc(Hypercall::Discover), 7, 0);
    // PageZeroed: misaligned, too many, past RAM, wrapping, good.
    hyp(&mut a, hc(Hypercall::PageZeroed), 0x10_0010, 1);
    hyp(&mut a, hc(Hypercall::PageZeroed), 0x10_0000, 33);
    hyp(&mut a, hc(Hypercall::PageZeroed), RAM - 0x1000, 2);
    hyp(&mut a, hc(Hypercall::PageZeroed), 0xffff_f000, 2);
    hyp(&mut a, hc(Hypercall::PageZeroed), 0x10_0000, 32);
    // TlbInstallBatch: misaligned, too many, unmapped, into the UART,
    // past RAM through kseg0, each bad record, a good batch.
    let rec = |i: u32| RECORDS + 20 * i;
    hyp(&mut a, hc(Hypercall::TlbInstallBatch), RECORDS + 2, 1);
    hyp(&mut a, hc(Hypercall::TlbInstallBatch), RECORDS, 65);
    hyp(&mut a, hc(Hypercall::TlbInstallBatch), 0x0070_0000, 1);
    hyp(&mut a, hc(Hypercall::TlbInstallBatch), 0xbfd0_03f8, 1);
    hyp(&mut a, hc(Hypercall::TlbInstallBatch), 0x8000_0000 + RAM, 1);
    hyp(&mut a, hc(Hypercall::TlbInstallBatch), rec(0), 2);
    hyp(&mut a, hc(Hypercall::TlbInstallBatch), rec(2), 1);
    hyp(&mut a, hc(Hypercall::TlbInstallBatch), rec(3), 1);
    hyp(&mut a, hc(Hypercall::TlbInstallBatch), rec(4), 1);
    hyp(&mut a, hc(Hypercall::TlbInstallBatch), rec(5), 1);
    hyp(&mut a, hc(Hypercall::TlbInstallBatch), rec(0), 1);
    hyp(&mut a, hc(Hypercall::TlbInstallBatch), rec(0), 0);
    hyp(&mut a, hc(Hypercall::TlbInstallBatch), MAPPED + 0x100, 2);
    // ConsoleWrite: too long, bad pointer, into the UART, good.
    hyp(&mut a, hc(Hypercall::ConsoleWrite), RECORDS + 0x200, 257);
    hyp(&mut a, hc(Hypercall::ConsoleWrite), 0x0070_0000, 3);
    hyp(&mut a, hc(Hypercall::ConsoleWrite), 0xbfd0_03f8, 1);
    // Buffers in the boot ROM window (through kseg0 and kseg1, and the
    // rest of the UART's page) are not guest memory: BadAddress, as
    // ABI.md says, though the VM's own loads read zeros there.
    hyp(&mut a, hc(Hypercall::ConsoleWrite), 0x9fff_fffc, 4);
    hyp(&mut a, hc(Hypercall::ConsoleWrite), 0xbfc0_0000, 3);
    hyp(&mut a, hc(Hypercall::ConsoleWrite), 0xbfd0_0000, 4);
    hyp(&mut a, hc(Hypercall::TlbInstallBatch), 0x9fc0_0000, 1);
    hyp(&mut a, hc(Hypercall::ConsoleWrite), RECORDS + 0x200, 3);
    // IdleYield with a deadline already passed returns at once.
    a.emit(mfc0(T2, reg::COUNT, 0));
    a.li32(V0, hc(Hypercall::IdleYield));
    a.emit(addiu(A0, T2, -100));
    a.emit(hv_abi::HYPCALL);
    // CommpageSet and RefillWalkSet: misaligned, past RAM, bad format.
    hyp(&mut a, hc(Hypercall::CommpageSet), 0x10_0004, 0);
    hyp(&mut a, hc(Hypercall::CommpageSet), RAM, 0);
    hyp(&mut a, hc(Hypercall::CommpageSet), u32::MAX, 0);
    hyp(&mut a, hc(Hypercall::RefillWalkSet), 0x8000_8002, 0);
    hyp(&mut a, hc(Hypercall::RefillWalkSet), 0x0070_0000, 0);
    hyp(&mut a, hc(Hypercall::RefillWalkSet), 0x8000_8000, 5);
    hyp(&mut a, hc(Hypercall::RefillWalkSet), 0, 0);
    // FramesRelease/FramesReclaim: misaligned, too many, past RAM, the
    // boot ROM window, a run holding the shared CP0 page, good runs (a
    // frame never touched, and one the kernel wrote).
    let balloon = |n: u32| 0x50_0000 + n * 0x1000;
    hyp(&mut a, hc(Hypercall::FramesRelease), balloon(0) + 0x10, 1);
    hyp(&mut a, hc(Hypercall::FramesReclaim), balloon(0), 1025);
    hyp(&mut a, hc(Hypercall::FramesRelease), RAM - 0x1000, 2);
    hyp(&mut a, hc(Hypercall::FramesReclaim), 0x1fc0_0000, 1);
    hyp(&mut a, hc(Hypercall::CommpageSet), balloon(1), 0);
    hyp(&mut a, hc(Hypercall::FramesRelease), balloon(0), 2);
    hyp(&mut a, hc(Hypercall::CommpageSet), u32::MAX, 0);
    poke(&mut a, 0x8000_0000 + balloon(1), &[0xdead_beef]);
    hyp(&mut a, hc(Hypercall::FramesRelease), balloon(0), 2);
    hyp(&mut a, hc(Hypercall::FramesRelease), balloon(0), 1);
    hyp(&mut a, hc(Hypercall::FramesReclaim), balloon(0), 4);
    // Turn the console off and try it.
    hyp(
        &mut a,
        hc(Hypercall::Discover),
        2,
        hv_abi::Features::CONSOLE.bits(),
    );
    hyp(&mut a, hc(Hypercall::ConsoleWrite), RECORDS + 0x200, 3);

    // User mode: map a code page at 0x0040_0000, drop to it; its
    // Discover gets NotPermitted, its syscall ends the run.
    const USER_CODE: u32 = 0x0030_0000;
    let mut u = Asm::new(0x0040_0000);
    u.li(V0, hc(Hypercall::Discover));
    u.li(A0, 0);
    u.emit(hv_abi::HYPCALL);
    u.emit(syscall(0));
    poke(&mut a, 0x8000_0000 + USER_CODE, &u.finish().unwrap());
    tlb_write(&mut a, 3, 0x0040_0000, lo(USER_CODE, V | D | G), G);
    a.li32(T0, 0x0040_0000);
    a.emit(mtc0(T0, reg::EPC, 0));
    a.li32(T0, 0x10 | 0x2);
    a.emit(mtc0(T0, reg::STATUS, 0));
    a.emit(ehb());
    a.emit(eret());
    image(a)
}

#[test]
fn every_bad_argument_gets_its_documented_code() {
    let (mon, calls, console) = para(&error_table_kernel());
    assert_eq!(mon.stop_reason(VmId(0)), Some(&VmStop::Exited(0)));
    assert_eq!(console, "hi\n", "only the good ConsoleWrite printed");
    insta::assert_snapshot!("error_table", table(&calls));
    // What the snapshot is there to protect: every code a monitor returns
    // (`NoMonitor` is the guest's own) is exercised, and the call from
    // user mode, the last, is refused.
    let got = |e: HvError| {
        calls
            .iter()
            .any(|c| HvError::from_status(c.result.0) == Some(e))
    };
    for e in HvError::ALL
        .into_iter()
        .filter(|&e| e != HvError::NoMonitor)
    {
        assert!(got(e), "no call got {e:?}:\n{}", table(&calls));
    }
    let last = calls.last().expect("calls were made");
    assert_eq!(
        HvError::from_status(last.result.0),
        Some(HvError::NotPermitted)
    );
    // The run is deterministic.
    let (_, again, _) = para(&error_table_kernel());
    assert_eq!(again, calls);
}

#[test]
fn the_pv_demo_gives_the_frames_of_exited_processes_back() {
    let image = ElfImage::parse(demo_os::PV_IMAGE).unwrap();
    let (mon, calls, console) = para(&image);
    assert_eq!(mon.stop_reason(VmId(0)), Some(&VmStop::Exited(0)));
    assert!(console.contains(demo_os::EXPECTED_RESULTS), "{console}");
    let balloon: Vec<HypercallRecord> = calls
        .iter()
        .filter(|c| {
            c.number == Hypercall::FramesRelease.number()
                || c.number == Hypercall::FramesReclaim.number()
        })
        .copied()
        .collect();
    insta::assert_snapshot!("pv_balloon_calls", table(&balloon));

    // What the snapshot is there to protect, as relations that
    // re-accepting it cannot hide. The kernel releases only frames it
    // holds and reclaims only frames it released: every call succeeds
    // with v1 = its count.
    let n = |call: Hypercall| balloon.iter().filter(|c| c.number == call.number()).count();
    assert!(n(Hypercall::FramesRelease) > 0, "{}", table(&balloon));
    assert!(n(Hypercall::FramesReclaim) > 0, "{}", table(&balloon));
    for c in &balloon {
        assert_eq!(c.result, (0, c.args[1]), "{}", table(&balloon));
        assert_eq!(c.args[0] % 4096, 0);
    }
    // It never touches a released frame without reclaiming it, and it
    // counts what the monitor counts.
    let s = mon.stats(VmId(0)).unwrap();
    assert_eq!(s.released_touched, 0, "{s:?}");
    let stat = |name| hv_tests::demo_stat(&console, "memory", name);
    assert_eq!(stat("frames released"), s.frames_released);
    assert_eq!(stat("frames reclaimed"), s.frames_reclaimed);
    assert!(s.frames_reclaimed <= s.frames_released, "{s:?}");
}

#[test]
fn under_full_a_hypercall_is_a_reserved_instruction() {
    let mut a = Asm::new(ORIGIN);
    a.named_label("_start");
    // BEV vectors are in the boot ROM (zeros); use EBase at 0x8000_4000
    // with a general handler that exits with Cause.ExcCode.
    a.li32(T0, 0x8000_4000);
    a.emit(mtc0(T0, reg::PRID, 1));
    a.emit(mtc0(ZERO, reg::STATUS, 0));
    let mut h = Asm::new(0x8000_4180);
    h.emit(mfc0(A0, reg::CAUSE, 0));
    h.emit(srl(A0, A0, 2));
    h.emit(andi(A0, A0, 0x1f));
    h.li(T9, 1);
    h.emit(sdbbp(1));
    poke(&mut a, 0x8000_4180, &h.finish().unwrap());
    hyp(&mut a, 1, 0, 0);
    exit0(&mut a);
    let img = image(a);
    let mut mon = Monitor::new(MonitorConfig::default(), &[VmConfig::default()]).unwrap();
    mon.load(VmId(0), &img).unwrap();
    while mon.run(1_000_000) != MonitorExit::AllStopped {}
    assert_eq!(mon.stop_reason(VmId(0)), Some(&VmStop::Exited(10)), "RI");
}

/// Frames the write-tracking test touches (guest-physical).
const FRAMES: u32 = 0x0040_0000;

#[test]
fn page_zeroed_is_exact_whatever_path_wrote_the_frame() {
    let mut a = Asm::new(ORIGIN);
    a.named_label("_start");
    a.emit(mtc0(ZERO, reg::STATUS, 0));
    let f = |i: u32| FRAMES + i * 0x1000;
    // Before anything: all 16 frames are vouched for.
    hyp(&mut a, 2, FRAMES, 16);
    // Frame 0: a word store through kseg0.
    a.li32(T1, 0x8000_0000 + f(0) + 0x10);
    a.emit(sw(T1, 0, T1));
    // Frame 1: a byte store through kseg1.
    a.li32(T1, 0xa000_0000 + f(1) + 0xfff);
    a.emit(sb(T1, 0, T1));
    // Frame 2: a store through a TLB mapping (kuseg, ASID 0).
    tlb_write(&mut a, 1, 0x0050_0000, lo(f(2), V | D), lo(f(3), V | D));
    a.li32(T1, 0x0050_0000 + 0x20);
    a.emit(sh(T1, 0, T1));
    // Frame 3: only read through that mapping, and through kseg0.
    a.li32(T1, 0x0050_1000);
    a.emit(lw(T2, 0, T1));
    a.li32(T1, 0x8000_0000 + f(3));
    a.emit(lw(T2, 4, T1));
    // Frame 4: becomes the shared CP0 page (the monitor writes it).
    hyp(&mut a, 7, f(4), 0);
    hyp(&mut a, 7, u32::MAX, 0);
    // Frame 5: a store of zero is still a write.
    a.li32(T1, 0x8000_0000 + f(5));
    a.emit(sw(ZERO, 0, T1));
    // Frame 6: written by an unaligned-store pair (swl/swr).
    a.li32(T1, 0x8000_0000 + f(6) + 1);
    a.emit(swl(T1, 0, T1));
    // Frame 7: an sc without ll writes nothing.
    a.li32(T1, 0x8000_0000 + f(7));
    a.emit(sc(T2, 0, T1));
    hyp(&mut a, 2, FRAMES, 16);
    exit0(&mut a);
    let (mon, calls, _) = para(&image(a));
    assert_eq!(mon.stop_reason(VmId(0)), Some(&VmStop::Exited(0)));
    let zeroed: Vec<u32> = calls
        .iter()
        .filter(|c| c.number == 2)
        .map(|c| c.result.1)
        .collect();
    assert_eq!(zeroed[0], 0xffff, "untouched frames are vouched for");
    // Written: 0, 1, 2, 4, 5, 6. Read only: 3. Failed sc: 7.
    let written = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 4) | (1 << 5) | (1 << 6);
    assert_eq!(zeroed[1], 0xffff & !written, "{:#06x}", zeroed[1]);
    let s = mon.stats(VmId(0)).unwrap();
    assert!(s.dirty_tracking_faults >= 4, "{s:?}");
}

#[test]
fn pv_demo_boot_hypercalls_and_exit_counts() {
    let image = ElfImage::parse(demo_os::PV_IMAGE).unwrap();
    let (mon, calls, console) = para(&image);
    assert_eq!(mon.stop_reason(VmId(0)), Some(&VmStop::Exited(0)));
    assert!(console.contains(demo_os::EXPECTED_RESULTS), "{console}");
    // The boot: every call up to the first user program's start, with its
    // arguments and result.
    let boot: Vec<HypercallRecord> = calls.iter().take(40).copied().collect();
    insta::assert_snapshot!("pv_boot_hypercalls", table(&boot));
    // How many of each kind over the whole run.
    let mut by_kind = String::new();
    for call in Hypercall::ALL {
        let n = calls.iter().filter(|c| c.number == call.number()).count();
        by_kind.push_str(&format!("{}: {n}\n", call));
    }
    insta::assert_snapshot!("pv_hypercalls_by_kind", by_kind);

    // What the snapshots are there to protect, as relations that
    // re-accepting a snapshot cannot hide. The kernel discovers the
    // monitor first, and every call of its boot succeeds.
    assert_eq!(boot[0].number, Hypercall::Discover.number(), "{boot:?}");
    assert!(boot.iter().all(|c| c.result.0 == 0), "{}", table(&boot));
    // It takes every paravirtualized path, and shuts down once.
    let count = |call: Hypercall| calls.iter().filter(|c| c.number == call.number()).count();
    for call in [
        Hypercall::Discover,
        Hypercall::PageZeroed,
        Hypercall::IdleYield,
        Hypercall::TlbInstallBatch,
        Hypercall::ConsoleWrite,
        Hypercall::CommpageSet,
        Hypercall::RefillWalkSet,
        Hypercall::FramesRelease,
        Hypercall::FramesReclaim,
    ] {
        assert!(count(call) > 0, "no {call} call; {by_kind}");
    }
    assert_eq!(count(Hypercall::Shutdown), 1, "{by_kind}");
    // "Page already zeroed" saves the guest work, and the guest skips
    // zeroing only frames the monitor vouched for.
    let stat = |name| hv_tests::demo_stat(&console, "memory", name);
    let skipped = stat("frames vouched zero");
    let s = mon.stats(VmId(0)).unwrap();
    assert!(
        skipped > 0,
        "the guest zeroed every frame itself\n{console}"
    );
    assert!(
        skipped <= s.frames_vouched,
        "the guest skipped {skipped} frames, the monitor vouched for {}",
        s.frames_vouched
    );
}

/// The demo `image` alone under the monitor (hypercalls offered or not):
/// its exits by reason, one a line, and all its counters.
fn exit_counts(image: &[u8], hypercalls: bool) -> (String, VmStats) {
    let image = ElfImage::parse(image).unwrap();
    let cfg = MonitorConfig {
        hypercalls,
        ..MonitorConfig::default()
    };
    let mut mon = Monitor::new(cfg, &[VmConfig::default()]).unwrap();
    mon.load(VmId(0), &image).unwrap();
    while mon.run(u64::MAX) != MonitorExit::AllStopped {
        mon.take_console(VmId(0));
    }
    assert_eq!(mon.stop_reason(VmId(0)), Some(&VmStop::Exited(0)));
    let s = mon.stats(VmId(0)).unwrap();
    let mut out = format!("total: {}\n", s.exits_total());
    for r in ExitReason::ALL {
        if s.exit_count(r) > 0 {
            out.push_str(&format!("{}: {}\n", r.name(), s.exit_count(r)));
        }
    }
    (out, s)
}

#[test]
fn demo_exit_counts_full_and_para() {
    let (full, f) = exit_counts(demo_os::UNMODIFIED_IMAGE, false);
    let (para, p) = exit_counts(demo_os::PV_IMAGE, true);
    insta::assert_snapshot!("demo_exits_full", full);
    insta::assert_snapshot!("demo_exits_para", para);
    // Deterministic: a second run gives the same counts.
    assert_eq!(exit_counts(demo_os::UNMODIFIED_IMAGE, false).0, full);

    // What the snapshots are there to protect, as relations that
    // re-accepting a snapshot cannot hide.
    let context = || format!("full:\n{full}para:\n{para}");
    let n = |s: &VmStats, r: ExitReason| s.exit_count(r);
    // The point of paravirtualization: at most a fifth of the exits.
    assert!(5 * p.exits_total() <= f.exits_total(), "{}", context());
    // The shared CP0 page: at most a tenth of the privileged-instruction
    // traps.
    assert!(
        10 * n(&p, ExitReason::CopUnusable) <= n(&f, ExitReason::CopUnusable),
        "{}",
        context()
    );
    // Console and shutdown by hypercall: no device or semihosting exits.
    assert_eq!(n(&p, ExitReason::Mmio), 0, "{}", context());
    assert_eq!(n(&p, ExitReason::Semihost), 0, "{}", context());
    // Every hypercall is one exit; the unmodified kernel makes none.
    assert_eq!(
        n(&p, ExitReason::Hypercall),
        p.hypercalls.iter().sum::<u64>(),
        "{}",
        context()
    );
    assert_eq!(n(&f, ExitReason::Hypercall), 0, "{}", context());
    // The same programs make the same system calls either way.
    assert_eq!(
        n(&p, ExitReason::Syscall),
        n(&f, ExitReason::Syscall),
        "{}",
        context()
    );
}
