//! The segment rules per mode (user, supervisor, kernel with and without
//! ERL), and fetches from misaligned or non-existent addresses.

use super::*;
use crate::machine::tlb::lo::{D, G, V};
use status::{KSU_SUPERVISOR, KSU_USER};

/// Physical page pair behind the sseg mapping.
const SSEG_PA: u32 = 0x0005_0000;
/// Physical page pair behind the kseg3 mapping.
const KSEG3_PA: u32 = 0x0005_2000;
/// The mapped sseg pair.
const SSEG: u32 = 0xc000_0000;
/// The mapped kseg3 pair.
const KSEG3: u32 = 0xe000_0000;

/// The expected result of one access.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// The load completes and reads this value.
    Reads(u32),
    /// The store (or jump) completes.
    Completes,
    /// The access raises `code` at the general vector, BadVAddr = address.
    Fault(ExcCode),
    /// The access raises a TLB refill.
    Refill(ExcCode),
}

/// The kernel prologue: normal vectors; the user pair, sseg and kseg3
/// mapped (global, valid, dirty).
fn mapped_kernel() -> Asm {
    let mut k = Asm::new(ORIGIN);
    normal_vectors(&mut k);
    map_user(&mut k);
    for (i, va, pa) in [(30, SSEG, SSEG_PA), (29, KSEG3, KSEG3_PA)] {
        tlb_write(
            &mut k,
            i,
            va,
            entry_lo(pa, V | D | G),
            entry_lo(pa + 0x1000, V | D | G),
            0,
        );
    }
    k
}

/// Writes a marker word in each page the checks read.
fn markers(m: &mut Machine) {
    set_phys_word(m, SSEG_PA, 0x5e5e);
    set_phys_word(m, KSEG3_PA, 0x3333);
    set_phys_word(m, USER_PA + 0x1800, 0x0505);
    set_phys_word(m, 0x9000, 0x9999);
}

/// Runs one access in `mode` (a KSU value, or `None` for kernel mode) and
/// checks the outcome. `word` reads `t0` (the address) and loads into `s0`.
fn check(mode: Option<u32>, word: u32, addr: u32, expect: Expect) {
    let what = format!("{mode:?} {} @ {addr:#x}", insn::Instruction(word));
    let mut m = match mode {
        Some(ksu) => {
            let mut k = mapped_kernel();
            eret_to(&mut k, ksu, USER_VA, 0);
            let mut u = Asm::new(USER_VA);
            u.li(T0, addr).li(S0, 0xdead).li(S1, 0x51);
            u.emit(word);
            u.nop();
            u.emit(syscall(0));
            let mut m = boot(k, []);
            place_at(&mut m, USER_PA, u);
            m
        }
        None => {
            let mut k = mapped_kernel();
            k.li(T0, addr).li(S0, 0xdead).li(S1, 0x51);
            k.emit(word);
            k.nop();
            k.emit(syscall(0));
            boot(k, [])
        }
    };
    markers(&mut m);
    match expect {
        Expect::Reads(value) => {
            assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Sys), "{what}");
            assert_eq!(m.gpr(S0.num()), value, "{what}");
        }
        Expect::Completes => {
            assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Sys), "{what}");
        }
        Expect::Fault(code) => {
            assert_eq!(m.run(1000), Vector::General.exit(code), "{what}");
            assert_eq!(m.read_cp0(reg::BADVADDR, 0), addr, "{what}");
            assert_eq!(m.gpr(S0.num()), 0xdead, "{what}");
        }
        Expect::Refill(code) => {
            assert_eq!(m.run(1000), Vector::Refill.exit(code), "{what}");
            assert_eq!(m.read_cp0(reg::BADVADDR, 0), addr, "{what}");
        }
    }
}

#[test]
fn user_mode_reaches_useg_only() {
    use Expect::*;
    let u = Some(KSU_USER);
    check(u, lw(S0, 0, T0), USER_VA + 0x1800, Reads(0x0505));
    check(u, sw(S1, 0, T0), USER_VA + 0x1804, Completes);
    check(u, lw(S0, 0, T0), 0x7fff_f000, Refill(ExcCode::Tlbl));
    check(u, lw(S0, 0, T0), 0x8000_9000, Fault(ExcCode::AdEL));
    check(u, sw(S1, 0, T0), 0x8000_9000, Fault(ExcCode::AdES));
    check(u, lw(S0, 0, T0), 0xa000_9000, Fault(ExcCode::AdEL));
    check(u, sb(S1, 0, T0), 0xbfd0_03f8, Fault(ExcCode::AdES));
    check(u, lw(S0, 0, T0), SSEG, Fault(ExcCode::AdEL));
    check(u, sw(S1, 0, T0), SSEG, Fault(ExcCode::AdES));
    check(u, lw(S0, 0, T0), KSEG3, Fault(ExcCode::AdEL));
    check(u, lbu(S0, 0, T0), 0xffff_ffff, Fault(ExcCode::AdEL));
    check(u, jr(T0), ORIGIN, Fault(ExcCode::AdEL));
}

#[test]
fn supervisor_mode_reaches_useg_and_sseg() {
    use Expect::*;
    let s = Some(KSU_SUPERVISOR);
    check(s, lw(S0, 0, T0), USER_VA + 0x1800, Reads(0x0505));
    check(s, lw(S0, 0, T0), SSEG, Reads(0x5e5e));
    check(s, sw(S1, 4, T0), SSEG, Completes);
    check(s, lw(S0, 0, T0), SSEG + 0x0100_0000, Refill(ExcCode::Tlbl));
    check(s, lw(S0, 0, T0), 0x8000_9000, Fault(ExcCode::AdEL));
    check(s, sw(S1, 0, T0), 0xa000_9000, Fault(ExcCode::AdES));
    check(s, lw(S0, 0, T0), KSEG3, Fault(ExcCode::AdEL));
    check(s, lw(S0, 0, T0), 0xa000_9000, Fault(ExcCode::AdEL));
    check(s, jr(T0), ORIGIN, Fault(ExcCode::AdEL));
}

#[test]
fn kernel_mode_reaches_everything() {
    use Expect::*;
    check(None, lw(S0, 0, T0), USER_VA + 0x1800, Reads(0x0505));
    check(None, lw(S0, 0, T0), 0x8000_9000, Reads(0x9999));
    check(None, lw(S0, 0, T0), 0xa000_9000, Reads(0x9999));
    check(None, lw(S0, 0, T0), SSEG, Reads(0x5e5e));
    check(None, lw(S0, 0, T0), KSEG3, Reads(0x3333));
    check(None, sw(S1, 8, T0), KSEG3, Completes);
    check(None, lw(S0, 0, T0), 0x0009_0000, Refill(ExcCode::Tlbl));
    check(None, lw(S0, 0, T0), 0xd000_0000, Refill(ExcCode::Tlbl));
    check(None, lw(S0, 0, T0), 0xf000_0000, Refill(ExcCode::Tlbl));
}

#[test]
fn stores_reach_the_mapped_pages() {
    // A supervisor store to sseg lands in its physical page.
    let mut k = mapped_kernel();
    eret_to(&mut k, KSU_SUPERVISOR, USER_VA, 0);
    let mut u = Asm::new(USER_VA);
    u.li(T0, SSEG + 0x1010).li(S1, 0x4242);
    u.emit(sw(S1, 0, T0));
    u.emit(syscall(0));
    let mut m = boot(k, []);
    place_at(&mut m, USER_PA, u);
    assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Sys));
    assert_eq!(phys_word(&m, SSEG_PA + 0x1010), 0x4242);
}

#[test]
fn kuseg_is_unmapped_while_erl_is_set() {
    // Boot state: kuseg addresses are physical.
    let m = run_kernel(|a| {
        a.li(T0, 0x0000_9000);
        a.emit(lw(S0, 0, T0));
        a.li(T1, 0x5151);
        a.emit(sw(T1, 4, T0));
    });
    assert_eq!(m.gpr(S0.num()), 0, "zeroed RAM");
    assert_eq!(phys_word(&m, 0x9004), 0x5151);
}

#[test]
fn misaligned_fetch_is_an_address_error_at_the_target() {
    for target in [ORIGIN + 0x102, ORIGIN + 0x101, USER_VA + 3] {
        let mut a = Asm::new(ORIGIN);
        normal_vectors(&mut a);
        map_user(&mut a);
        a.li(T0, target);
        a.emit(jr(T0));
        a.nop();
        let mut m = boot(a, []);
        assert_eq!(
            m.run(1000),
            Vector::General.exit(ExcCode::AdEL),
            "{target:#x}"
        );
        assert_eq!(m.read_cp0(reg::BADVADDR, 0), target);
        assert_eq!(m.read_cp0(reg::EPC, 0), target, "EPC is the bad PC");
        assert!(!cause_bd(&m));
    }
    // ERET to a misaligned EPC faults the same way.
    let mut a = Asm::new(ORIGIN);
    normal_vectors(&mut a);
    eret_to(&mut a, 0, ORIGIN + 0x202, 0);
    let mut m = boot(a, []);
    assert_eq!(m.run(1000), Vector::General.exit(ExcCode::AdEL));
    assert_eq!(m.read_cp0(reg::BADVADDR, 0), ORIGIN + 0x202);
}

#[test]
fn fetch_from_nothing_is_an_instruction_bus_error() {
    for target in [0xb000_0000u32, 0x8000_0000 + (1 << 20)] {
        let mut a = Asm::new(ORIGIN);
        normal_vectors(&mut a);
        a.li(T0, target);
        a.emit(jr(T0));
        a.nop();
        let mut m = boot(a, []);
        assert_eq!(
            m.run(1000),
            Vector::General.exit(ExcCode::Ibe),
            "{target:#x}"
        );
        assert_eq!(m.read_cp0(reg::EPC, 0), target, "{target:#x}");
        assert_eq!(m.stats().exceptions[ExcCode::Ibe as usize], 1);
    }
}

/// `Segment::access`, the one definition of the segment table that the
/// machine and the monitor's guest MMU both use, cell by cell.
#[test]
fn segment_table() {
    use crate::machine::mmu::Regime::{Kernel, KernelErl, Supervisor, User};
    use crate::machine::mmu::Segment;
    use crate::machine::mmu::SegmentAccess::{Denied as Ade, Mapped as Tlb, Unmapped as Pa};
    // Kernel, kernel with ERL, supervisor, user.
    let table = [
        (0x0040_1234, [Tlb, Pa(0x0040_1234), Tlb, Tlb]),
        (0x8001_0004, [Pa(0x0001_0004), Pa(0x0001_0004), Ade, Ade]),
        (0xbfc0_0000, [Pa(0x1fc0_0000), Pa(0x1fc0_0000), Ade, Ade]),
        (0xc000_0000, [Tlb, Tlb, Tlb, Ade]),
        (0xffff_fffc, [Tlb, Tlb, Ade, Ade]),
    ];
    for (va, row) in table {
        for (regime, e) in [Kernel, KernelErl, Supervisor, User].into_iter().zip(row) {
            assert_eq!(Segment::access(va, regime), e, "{va:#010x} in {regime:?}");
        }
    }
    assert_eq!(Segment::Kseg0.unmapped_phys(0x8000_1000), Some(0x1000));
    assert_eq!(Segment::Kseg0.unmapped_phys(0xa000_1000), None);
    assert_eq!(Segment::Kseg1.unmapped_phys(0xa000_1000), Some(0x1000));
    assert_eq!(Segment::Kseg0.unmapped_phys(0x0000_1000), None);
}
