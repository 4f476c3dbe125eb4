//! Unit tests of the monitor on small hand-assembled kernels; the
//! end-to-end transparency and isolation tests are in `tests/`.

use super::*;
use crate::machine::asm::*;
use crate::machine::board::BoardKind;
use crate::machine::cp0::reg;
use crate::machine::elf::ElfImage;

const ORIGIN: u32 = 0x8000_1000;

pub(super) fn image(build: impl FnOnce(&mut Asm)) -> ElfImage {
    let mut a = Asm::new(ORIGIN);
    build(&mut a);
    let words = a.finish().unwrap();
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    ElfImage {
        entry: crate::addr::GuestVirtAddr::new(ORIGIN),
        segments: vec![crate::machine::elf::Segment {
            vaddr: crate::addr::GuestVirtAddr::new(ORIGIN),
            paddr: crate::addr::MachineAddr::new(ORIGIN & 0x1fff_ffff),
            mem_size: bytes.len() as u32,
            data: bytes,
            executable: true,
        }],
        symbols: Vec::new(),
        linux: None,
    }
}

fn monitor(img: &ElfImage, n: usize) -> Monitor {
    let cfg = VmConfig {
        ram_bytes: 1 << 20,
        ..VmConfig::default()
    };
    let mut m = Monitor::new(MonitorConfig::default(), &vec![cfg; n]).unwrap();
    for i in 0..n {
        m.load(VmId(i), img).unwrap();
    }
    m
}

pub(super) fn exit(a: &mut Asm, code: u32) {
    a.li(A0, code);
    a.li(T9, 1);
    a.emit(sdbbp(1));
}

#[test]
fn privileged_reads_and_semihosting_exit() {
    let img = image(|a| {
        a.emit(mfc0(T0, reg::PRID, 0));
        a.emit(mfc0(T1, reg::STATUS, 0));
        a.emit(srl(T1, T1, 2));
        a.emit(andi(T1, T1, 1));
        a.emit(addu(A0, T0, T1));
        a.li(T9, 1);
        a.emit(sdbbp(1));
    });
    let mut m = monitor(&img, 1);
    assert_eq!(m.run(1_000_000), MonitorExit::AllStopped);
    assert_eq!(
        m.stop_reason(VmId(0)),
        Some(&VmStop::Exited(crate::machine::cp0::PRID as i32 + 1))
    );
    let s = m.stats(VmId(0)).unwrap();
    assert_eq!(s.exit_count(ExitReason::CopUnusable), 2);
    assert_eq!(s.exit_count(ExitReason::Semihost), 1);
    assert!(
        s.unmapped_fills >= 1,
        "kseg0 code was mapped by the monitor"
    );
}

#[test]
fn a_debugger_reads_and_writes_guest_memory_at_any_offset() {
    let img = image(|a| {
        a.li(T0, 0x8000_2344);
        a.li(T1, 0x1234_5678);
        a.emit(sw(T1, 0, T0));
        exit(a, 0);
    });
    let mut m = monitor(&img, 2);
    assert_eq!(m.run(1_000_000), MonitorExit::AllStopped);
    let at = |va: u32| crate::addr::GuestVirtAddr::new(va);
    // The word the guest stored, and the code the loader put at ORIGIN,
    // read at offsets within their pages, in each VM.
    for vm in [VmId(0), VmId(1)] {
        assert_eq!(
            m.read_guest(vm, at(0x8000_2344), 4),
            Some(0x1234_5678u32.to_le_bytes().to_vec())
        );
        assert_eq!(m.read_guest(vm, at(0x8000_2346), 2), Some(vec![0x34, 0x12]));
        let code = m.read_guest(vm, at(ORIGIN), 8).unwrap();
        assert_eq!(
            m.read_guest(vm, at(ORIGIN + 4), 4),
            Some(code[4..].to_vec())
        );
    }
    assert!(m.write_guest(VmId(1), at(0x8000_2345), &[0xaa]));
    assert_eq!(
        m.read_guest(VmId(1), at(0x8000_2344), 4),
        Some(vec![0x78, 0xaa, 0x34, 0x12])
    );
    assert_eq!(
        m.read_guest(VmId(0), at(0x8000_2344), 4),
        Some(0x1234_5678u32.to_le_bytes().to_vec()),
        "VM 0's memory is its own"
    );
}

#[test]
fn a_debugger_writes_guest_cp0_as_mtc0_with_its_side_effects() {
    use crate::machine::cp0::{cause, status};
    // Exception handlers at 0x8000_2000 (the general vector's handler
    // exits with EPC), then a loop the debugger stops each VM in.
    const EBASE: u32 = 0x8000_2000;
    let mut lo = 0;
    let img = image(|a| {
        a.li(T0, EBASE);
        a.emit(mtc0(T0, reg::PRID, 1));
        a.emit(mtc0(ZERO, reg::STATUS, 0));
        let top = a.here();
        lo = a.pc();
        a.nop().nop();
        a.b(top);
        a.nop();
        while a.pc() < EBASE + 0x180 {
            a.nop();
        }
        a.emit(mfc0(A0, reg::EPC, 0));
        a.li(T9, 1);
        a.emit(sdbbp(1));
    });
    let mut m = monitor(&img, 2);
    let in_loop = |m: &Monitor, vm| {
        let pc = m.cpu_state(VmId(vm)).unwrap().pc.raw();
        (lo..lo + 16).contains(&pc)
    };
    for _ in 0..1000 {
        if in_loop(&m, 0) && in_loop(&m, 1) {
            break;
        }
        assert_eq!(m.run(10_000), MonitorExit::BudgetExhausted);
    }
    assert!(in_loop(&m, 0) && in_loop(&m, 1));
    let on_cpu = m.running_vm().0;
    let mut stopped_at = [0; 2];
    // The VM on the CPU and the other: IM0 and IE stick, the read-only FR
    // does not; of Cause only IP0 (not ExcCode or BD); EPC all of it;
    // BadVAddr none. Unmasked, the software interrupt is then taken
    // before each VM's next instruction.
    for vm in [on_cpu, 1 - on_cpu] {
        let id = VmId(vm);
        let pc = m.cpu_state(id).unwrap().pc.raw();
        stopped_at[vm] = pc;
        let sr = m.set_guest_cp0(id, reg::STATUS, 0, status::IE | (1 << 8) | (1 << 26));
        assert_eq!(sr, Some(status::IE | (1 << 8)));
        let c = m.set_guest_cp0(id, reg::CAUSE, 0, (1 << 8) | cause::BD | cause::EXC_CODE);
        assert_eq!(c.map(|c| c & !(cause::IP & !cause::IP_SW)), Some(1 << 8));
        assert_eq!(
            m.set_guest_cp0(id, reg::EPC, 0, 0x8000_4321),
            Some(0x8000_4321)
        );
        let bad = m.guest_cp0(id, reg::BADVADDR, 0);
        assert_eq!(m.set_guest_cp0(id, reg::BADVADDR, 0, 0x1234_5678), bad);
        assert_eq!(m.guest_cp0(id, reg::STATUS, 0), sr);
    }
    assert_eq!(m.set_guest_cp0(VmId(2), reg::EPC, 0, 0), None, "no such VM");
    assert_eq!(m.run(1_000_000), MonitorExit::AllStopped);
    for (vm, &pc) in stopped_at.iter().enumerate() {
        assert_eq!(
            m.stop_reason(VmId(vm)),
            Some(&VmStop::Exited(pc as i32)),
            "vm {vm} took the interrupt where it stood"
        );
        let s = m.stats(VmId(vm)).unwrap();
        assert_eq!(s.exit_count(ExitReason::Int), 1, "vm {vm}");
    }
}

/// A UHI `write` of `len` bytes at `buf`; the result lands in `v0`.
fn uhi_write(a: &mut Asm, buf: u32, len: u32) {
    a.li(T9, 5);
    a.li(A0, 1);
    a.li(A1, buf);
    a.li(A2, len);
    a.emit(sdbbp(1));
}

#[test]
fn uhi_write_reads_the_rom_around_the_uart_but_not_its_registers() {
    // As natively: the boot ROM part of the UART's page reads zero; a
    // buffer reaching the UART's registers is EFAULT (v0 = -1).
    let img = image(|a| {
        uhi_write(a, 0xbfd0_0000, 16);
        a.emit(mov(S0, V0));
        uhi_write(a, 0xbfd0_03f0, 16);
        a.emit(addu(A0, S0, V0));
        a.li(T9, 1);
        a.emit(sdbbp(1));
    });
    let mut m = monitor(&img, 1);
    assert_eq!(m.run(1_000_000), MonitorExit::AllStopped);
    assert_eq!(m.stop_reason(VmId(0)), Some(&VmStop::Exited(15)));
    assert_eq!(m.take_console(VmId(0)), vec![0; 16]);
}

#[test]
fn two_vms_have_private_memory() {
    // Each VM stores its own value, spins a while, then checks it.
    let img = image(|a| {
        let spin = a.new_label();
        a.li(T0, 0x8008_0000);
        a.emit(mfc0(T1, reg::COUNT, 0));
        a.emit(sw(T1, 0, T0));
        a.li(T2, 300_000);
        a.bind(spin);
        a.emit(addiu(T2, T2, -1));
        a.bne(T2, ZERO, spin);
        a.emit(nop());
        a.emit(lw(T3, 0, T0));
        a.emit(subu(A0, T3, T1));
        a.li(T9, 1);
        a.emit(sdbbp(1));
    });
    let mut m = monitor(&img, 2);
    assert_eq!(m.run(10_000_000), MonitorExit::AllStopped);
    for i in 0..2 {
        assert_eq!(m.stop_reason(VmId(i)), Some(&VmStop::Exited(0)));
        assert!(m.stats(VmId(i)).unwrap().machine_switches > 0);
    }
    let _ = exit;
}

/// User code for [`tlb_pressure_kernel`]: a branch in the last word of
/// one pair of pages, its delay slot (a load from a third pair) in the
/// first word of the next.
const PRESSURE_BRANCH: u32 = 0x0000_3ffc;
/// The data the delay slot loads.
const PRESSURE_DATA: u32 = 0x0000_8000;

/// A kernel whose one user instruction needs three pairs of pages in the
/// TLB at once: `beq` at [`PRESSURE_BRANCH`] (pair 0x2000), its delay
/// slot `lw` at 0x4000 (pair 0x4000) loading from [`PRESSURE_DATA`] (pair
/// 0x8000); the branch goes to a `syscall` after the slot. Its refill
/// handler maps user pages one to one onto guest-physical memory (the
/// user code is part of the image) and writes a random entry; it sets
/// Wired from `a1` at boot. It exits with the code of the first general
/// exception: 8 (Sys) once the instruction has completed.
fn tlb_pressure_kernel() -> ElfImage {
    const EBASE: u32 = 0x8000_2000;
    image(|a| {
        let pad = |a: &mut Asm, to: u32| {
            while a.pc() < to {
                a.nop();
            }
        };
        a.li(T0, EBASE);
        a.emit(mtc0(T0, reg::PRID, 1)); // EBase
        a.emit(mtc0(ZERO, reg::STATUS, 0));
        a.emit(mtc0(A1, reg::WIRED, 0));
        a.emit(mtc0(ZERO, reg::ENTRYHI, 0));
        a.emit(mtc0(ZERO, reg::PAGEMASK, 0));
        a.li(S0, PRESSURE_DATA);
        a.li(T0, PRESSURE_BRANCH);
        a.emit(mtc0(T0, reg::EPC, 0));
        a.li(T0, 0x12); // KSU = user, EXL
        a.emit(mtc0(T0, reg::STATUS, 0));
        a.emit(ehb());
        a.emit(eret());
        pad(a, EBASE);
        // Refill: EntryHi holds the pair's VPN2; map it one to one.
        a.emit(mfc0(K0, reg::ENTRYHI, 0));
        a.emit(srl(K0, K0, 13));
        a.emit(sll(K0, K0, 7));
        a.emit(ori(K0, K0, 0x1e)); // cached, dirty, valid
        a.emit(mtc0(K0, reg::ENTRYLO0, 0));
        a.emit(addiu(K0, K0, 0x40));
        a.emit(mtc0(K0, reg::ENTRYLO1, 0));
        a.emit(ehb());
        a.emit(tlbwr());
        a.emit(eret());
        pad(a, EBASE + 0x180);
        a.emit(mfc0(K0, reg::CAUSE, 0));
        a.emit(srl(K0, K0, 2));
        a.emit(andi(A0, K0, 0x1f));
        a.li(T9, 1);
        a.emit(sdbbp(1));
        pad(a, 0x8000_0000 | PRESSURE_BRANCH);
        a.emit(beq(ZERO, ZERO, 1));
        a.emit(lw(T0, 0, S0));
        a.emit(syscall(0));
    })
}

/// Runs [`tlb_pressure_kernel`] under the monitor with a virtual TLB of
/// `entries` and Wired = `wired` for `ticks`; its exit code, if it exited.
fn pressure_under_monitor(entries: usize, wired: u32, ticks: u64) -> Option<i32> {
    let cfg = VmConfig {
        ram_bytes: 1 << 20,
        vtlb_entries: entries,
        ..VmConfig::default()
    };
    let mut m = Monitor::new(MonitorConfig::default(), &[cfg]).unwrap();
    m.load(VmId(0), &tlb_pressure_kernel()).unwrap();
    m.set_gpr(VmId(0), A1.num(), wired);
    m.run(ticks);
    match m.stop_reason(VmId(0)) {
        Some(VmStop::Exited(code)) => Some(*code),
        None => None,
        other => panic!("{entries}/{wired}: {other:?}"),
    }
}

/// The same natively (32 entries).
fn pressure_natively(wired: u32, ticks: u64) -> Option<i32> {
    use crate::machine::{Exit, Machine, MachineConfig};
    let mut m = Machine::new(MachineConfig { ram_bytes: 1 << 20 }).unwrap();
    m.load_elf(&tlb_pressure_kernel()).unwrap();
    m.set_gpr(A1.num(), wired);
    match m.run(ticks) {
        Exit::Shutdown { code } => Some(code),
        _ => None,
    }
}

#[test]
fn three_tlb_entries_are_enough_and_needed() {
    // Natively: three pairs fit in 32 entries; with Wired = 30, tlbwr has
    // two entries, and every refill evicts a pair the instruction needs.
    assert_eq!(pressure_natively(0, 1_000_000), Some(8));
    assert_eq!(pressure_natively(30, 1_000_000), None);
    // Under the monitor the same holds at every accepted size, with any
    // three entries left to tlbwr: the random writes never take one of
    // the last two entries written, whatever the monitor's costs do to
    // the clock between refills.
    for entries in vtlb::MIN_ENTRIES..=vtlb::MAX_ENTRIES {
        for wired in [0, entries as u32 - 3] {
            assert_eq!(
                pressure_under_monitor(entries, wired, 1_000_000),
                Some(8),
                "{entries} entries, wired {wired}"
            );
        }
    }
    for entries in [3, 4, 8, 32, 64] {
        assert_eq!(
            pressure_under_monitor(entries, entries as u32 - 2, 1_000_000),
            None
        );
    }
    // Hence no VM has fewer than three.
    for entries in [0, 1, 2, 65] {
        let cfg = VmConfig {
            vtlb_entries: entries,
            ..VmConfig::default()
        };
        let e = Monitor::new(MonitorConfig::default(), &[cfg])
            .err()
            .unwrap();
        assert!(matches!(e, MonitorError::BadTlbSize { .. }), "{e}");
        if entries == 2 {
            assert!(e.to_string().contains("3 to 64"), "{e}");
        }
    }
}

/// A kernel that accesses a UART at kseg1 `uart` (registers `stride`
/// bytes apart) with every width, the unaligned-word pairs included, and
/// exits with a digest of what it read.
fn device_widths_kernel(uart: u32, stride: u32) -> ElfImage {
    image(|a| {
        a.li(T0, uart);
        a.li(T1, 0x5a);
        a.emit(sb(T1, (7 * stride) as i16, T0)); // SCR
        a.li(T1, 0x03);
        a.emit(sb(T1, (4 * stride) as i16, T0)); // MCR
        a.li(S0, 0x1234_5678);
        a.li(S1, 0x9abc_def0);
        a.emit(lwl(S0, (4 * stride + 1) as i16, T0));
        a.emit(lwr(S1, (4 * stride + 2) as i16, T0));
        a.emit(lh(S2, (6 * stride) as i16, T0)); // MSR
        a.emit(lw(S3, (4 * stride) as i16, T0));
        a.li(T1, 0x4142_4344);
        a.emit(swl(T1, 1, T0)); // THR
        a.emit(swr(T1, 3, T0));
        a.emit(sh(T1, 0, T0));
        a.emit(xor(A0, S0, S1));
        a.emit(xor(A0, A0, S2));
        a.emit(xor(A0, A0, S3));
        a.emit(srl(T1, A0, 16));
        a.emit(xor(A0, A0, T1));
        a.emit(andi(A0, A0, 0x7fff));
        a.li(T9, 1);
        a.emit(sdbbp(1));
    })
}

/// The kernel natively and under the monitor, on `board`: console output
/// and exit code.
fn native_and_monitored(board: BoardKind, img: &ElfImage) -> [(Vec<u8>, Option<VmStop>); 2] {
    use crate::machine::MachineConfig;
    let mut native = Machine::with_board(MachineConfig { ram_bytes: 1 << 20 }, board).unwrap();
    native.load_elf(img).unwrap();
    let code = match native.run(100_000) {
        Exit::Shutdown { code } => Some(VmStop::Exited(code)),
        _ => None,
    };
    let native = (native.take_stdout(), code);
    let cfg = VmConfig {
        ram_bytes: 1 << 20,
        board,
        ..VmConfig::default()
    };
    let mut m = Monitor::new(MonitorConfig::default(), &[cfg]).unwrap();
    m.load(VmId(0), img).unwrap();
    let ran = m.run(1_000_000);
    assert_eq!(
        ran,
        MonitorExit::AllStopped,
        "{native:?} {:?} {:?}",
        m.vm_pc(VmId(0)),
        m.vm(VmId(0)).map(|v| v.state().clone())
    );
    let monitored = (m.take_console(VmId(0)), m.stop_reason(VmId(0)).cloned());
    [native, monitored]
}

#[test]
fn device_accesses_of_every_width_are_as_native_on_both_boards() {
    let mipssim = device_widths_kernel(0xbfd0_03f8, 1);
    let [native, monitored] = native_and_monitored(BoardKind::Mipssim, &mipssim);
    assert!(!native.0.is_empty() && native.1.is_some(), "{native:?}");
    assert_eq!(monitored, native, "mipssim");
    // Malta's COM1 (ISA port 0x3f8) and its CBUS UART (registers 8 apart).
    let com1 = device_widths_kernel(0xb800_03f8, 1);
    let [native, monitored] = native_and_monitored(BoardKind::Malta, &com1);
    assert!(!native.0.is_empty() && native.1.is_some(), "{native:?}");
    assert_eq!(monitored, native, "malta com1");
    let cbus = device_widths_kernel(0xbf00_0900, 8);
    let [native, monitored] = native_and_monitored(BoardKind::Malta, &cbus);
    assert!(native.0.is_empty() && native.1.is_some(), "{native:?}");
    assert_eq!(monitored, native, "malta cbus uart");
}

/// Linux's Malta clock calibration in miniature: wait for the RTC's UIP
/// to fall, to rise, to fall (read Count), to rise and to fall again
/// (read Count); exits with a mix of both Counts.
fn rtc_calibration_kernel() -> ElfImage {
    image(|a| {
        a.li(T0, 0xb800_0000); // ISA I/O: RTC index 0x70, data 0x71
        a.li(T1, 0x0a); // register A
        let wait = |a: &mut Asm, while_set: bool| {
            let top = a.here();
            a.emit(sb(T1, 0x70, T0));
            a.emit(lbu(T2, 0x71, T0));
            a.emit(andi(T2, T2, 0x80));
            if while_set {
                a.bne(T2, ZERO, top);
            } else {
                a.beq(T2, ZERO, top);
            }
            a.nop();
        };
        wait(a, true);
        wait(a, false);
        wait(a, true);
        a.emit(mfc0(S0, reg::COUNT, 0));
        wait(a, false);
        wait(a, true);
        a.emit(mfc0(S1, reg::COUNT, 0));
        a.emit(sll(A0, S1, 3));
        a.emit(addu(A0, A0, S0));
        a.li(T9, 1);
        a.emit(sdbbp(1));
    })
}

/// A monitor of `vms` Malta VMs of 1 MiB, spin inference as given.
fn malta_monitor(vms: usize, spin_inference: bool) -> Monitor {
    let cfg = VmConfig {
        ram_bytes: 1 << 20,
        board: BoardKind::Malta,
        ..VmConfig::default()
    };
    let config = MonitorConfig {
        spin_inference,
        ..MonitorConfig::default()
    };
    Monitor::new(config, &vec![cfg; vms]).unwrap()
}

#[test]
fn a_polling_loop_on_the_rtc_is_skipped_and_reads_count_the_same() {
    let img = rtc_calibration_kernel();
    let run = |spin_inference: bool| {
        let mut m = malta_monitor(1, spin_inference);
        m.load(VmId(0), &img).unwrap();
        assert_eq!(m.run(1_000_000_000), MonitorExit::AllStopped);
        let stats = m.stats(VmId(0)).unwrap();
        (m.stop_reason(VmId(0)).cloned(), stats)
    };
    let (spun, spun_stats) = run(false);
    let (skipped, skipped_stats) = run(true);
    assert!(matches!(spun, Some(VmStop::Exited(_))), "{spun:?}");
    assert_eq!(skipped, spun, "the guest reads Count as if it had spun");
    assert_eq!(spun_stats.spins_inferred, 0);
    assert!(skipped_stats.spins_inferred >= 4, "{skipped_stats:?}");
    assert!(skipped_stats.spin_ticks_skipped > 100_000_000);
    assert!(
        skipped_stats.exits_total() * 20 < spun_stats.exits_total(),
        "{} exits with inference, {} without",
        skipped_stats.exits_total(),
        spun_stats.exits_total()
    );
    // Exactly: the loop resumes in the phase it would have reached.
    assert_eq!(skipped_stats.stopped_at, spun_stats.stopped_at);
}

#[test]
fn a_busy_vm_keeps_the_cpu_while_its_neighbour_polls_the_rtc() {
    // VM 0 calibrates against the RTC; VM 1 only computes, for ever.
    let calibrate = rtc_calibration_kernel();
    let busy = image(|a| {
        let top = a.here();
        a.emit(addiu(T0, T0, 1));
        a.b(top);
        a.nop();
    });
    let run = |spin_inference: bool| {
        let mut m = malta_monitor(2, spin_inference);
        m.load(VmId(0), &calibrate).unwrap();
        m.load(VmId(1), &busy).unwrap();
        while m.stop_reason(VmId(0)).is_none() {
            m.run(10_000_000);
        }
        let (a, b) = (m.stats(VmId(0)).unwrap(), m.stats(VmId(1)).unwrap());
        // Every tick went to one of them: they are never both idle.
        assert_eq!(a.cpu_ticks + b.cpu_ticks, m.ticks(), "{a:?} {b:?}");
        a.poll.expect("the calibration polls register A")
    };
    let (with, without) = (run(true), run(false));
    // The window spans two UIP periods (a second each at 200 MHz).
    for w in [with, without] {
        assert!(w.ticks() > 300_000_000, "{w:?}");
    }
    // Skipped polls leave the CPU to the busy VM; spun ones take half.
    assert!(
        with.others_ticks() * 100 >= with.ticks() * 95,
        "with inference: {with:?}"
    );
    assert!(
        without.others_ticks() * 100 <= without.ticks() * 60,
        "without: {without:?}"
    );
}

#[test]
fn shared_frames_never_show_another_vms_stores() {
    // Both VMs store the same word in a data page and spin past a few
    // sharing scans (their code and data pages merge); then VM 0 (a1 = 0)
    // stores another value and spins again, and each VM checks the word
    // holds what it stored itself: exit 0.
    let img = image(|a| {
        let (spin1, spin2, mine) = (a.new_label(), a.new_label(), a.new_label());
        a.li(T0, 0x8008_0000);
        a.li(T1, 0x1234);
        a.emit(sw(T1, 0, T0));
        a.li(T2, 3_000_000);
        a.bind(spin1);
        a.emit(addiu(T2, T2, -1));
        a.bne(T2, ZERO, spin1);
        a.emit(nop());
        a.bne(A1, ZERO, mine);
        a.emit(nop());
        // A load first: the page is mapped (read-only) before the store.
        a.emit(lw(T4, 0, T0));
        a.li(T1, 0xdead);
        a.emit(sw(T1, 0, T0));
        a.bind(mine);
        a.li(T2, 1_000_000);
        a.bind(spin2);
        a.emit(addiu(T2, T2, -1));
        a.bne(T2, ZERO, spin2);
        a.emit(nop());
        a.emit(lw(T3, 0, T0));
        a.emit(subu(A0, T3, T1));
        a.li(T9, 1);
        a.emit(sdbbp(1));
    });
    let cfg = VmConfig {
        ram_bytes: 1 << 20,
        ..VmConfig::default()
    };
    let config = MonitorConfig {
        share_pages: true,
        ..MonitorConfig::default()
    };
    let mut m = Monitor::new(config, &[cfg, cfg]).unwrap();
    for i in 0..2 {
        m.load(VmId(i), &img).unwrap();
        m.set_gpr(VmId(i), crate::machine::insn::regs::A1, i as u32);
    }
    assert_eq!(m.run(100_000_000), MonitorExit::AllStopped);
    for i in 0..2 {
        assert_eq!(m.stop_reason(VmId(i)), Some(&VmStop::Exited(0)), "vm{i}");
    }
    let s: Vec<VmStats> = (0..2).map(|i| m.stats(VmId(i)).unwrap()).collect();
    assert!(s[0].frames_merged + s[1].frames_merged >= 2, "{s:?}");
    assert!(s[0].cow_breaks >= 1, "vm0's store copied the shared page");
    assert!(m.share_scans() >= 2);
    let (machine, guest) = m.frames_in_use();
    assert!(
        machine < guest,
        "the code page stays shared: {machine} < {guest}"
    );
}
