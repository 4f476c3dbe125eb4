//! The Count/Compare timer and interrupts: Count per instruction, the
//! Compare match (TI, IP7), the conditions for taking an interrupt,
//! software interrupts, an interrupt between a branch and its delay slot,
//! and WAIT.

use super::*;
use status::{ERL, EXL, IE};

/// Cause.TI.
const TI: u32 = cp0::cause::TI;

#[test]
fn count_advances_once_per_instruction() {
    let m = run_kernel(|a| {
        // The boot state starts Count at 0; the first instruction reads 1.
        a.emit(mfc0(S0, reg::COUNT, 0));
        a.emit(mfc0(S1, reg::COUNT, 0));
        a.nop().nop().nop();
        a.emit(mfc0(S2, reg::COUNT, 0));
        a.li(T0, 1000);
        a.emit(mtc0(T0, reg::COUNT, 0));
        a.emit(mfc0(S3, reg::COUNT, 0));
        a.li(T0, 0xffff_ffff);
        a.emit(mtc0(T0, reg::COUNT, 0));
        a.emit(mfc0(S4, reg::COUNT, 0)); // wraps
    });
    let g = |r: Reg| m.gpr(r.num());
    assert_eq!(g(S0), 1);
    assert_eq!(g(S1), 2);
    assert_eq!(g(S2), 6);
    assert_eq!(g(S3), 1001);
    assert_eq!(g(S4), 0);
    // After the exit: three more instructions (li, li, sdbbp) since S4's
    // read.
    assert_eq!(m.read_cp0(reg::COUNT, 0), 3);
}

#[test]
fn compare_match_sets_ti_and_ip7_and_compare_write_clears_them() {
    for start in [0u32, 0xffff_fff8] {
        let m = run_kernel(|a| {
            a.li32(T0, start);
            a.li32(T1, start.wrapping_add(10));
            a.emit(mtc0(T0, reg::COUNT, 0)); // Count = start from here
            a.emit(mtc0(T1, reg::COMPARE, 0)); // start + 1
            a.emit(mfc0(S0, reg::CAUSE, 0)); // + 2
            a.nop().nop().nop().nop().nop().nop(); // + 3 ..= + 8
            a.emit(mfc0(S1, reg::CAUSE, 0)); // + 9: not yet
            a.nop(); // + 10: Count == Compare
            a.emit(mfc0(S2, reg::CAUSE, 0)); // + 11
            a.emit(mfc0(S3, reg::CAUSE, 0));
            a.emit(mtc0(T1, reg::COMPARE, 0));
            a.emit(mfc0(S4, reg::CAUSE, 0));
        });
        let g = |r: Reg| m.gpr(r.num());
        for (r, pending) in [
            (S0, false),
            (S1, false),
            (S2, true),
            (S3, true),
            (S4, false),
        ] {
            let c = g(r);
            assert_eq!(c & TI != 0, pending, "start {start:#x}: {r:?} Cause {c:#x}");
            assert_eq!(
                c & IP7 != 0,
                pending,
                "start {start:#x}: {r:?} Cause {c:#x}"
            );
        }
    }
}

/// Runs a timer match with Status = `st` (BEV clear) and returns the exit
/// and the machine.
fn timer_with_status(st: u32) -> (Exit, Machine) {
    let mut a = Asm::new(ORIGIN);
    normal_vectors(&mut a);
    a.emit(mtc0(ZERO, reg::COUNT, 0));
    a.li(T0, 10);
    a.emit(mtc0(T0, reg::COMPARE, 0));
    a.li(T0, st);
    a.emit(mtc0(T0, reg::STATUS, 0));
    for _ in 0..30 {
        a.nop();
    }
    exit_ok(&mut a);
    let mut m = boot(a, []);
    (m.run(1000), m)
}

#[test]
fn the_timer_interrupt_needs_ie_im7_and_no_exl_or_erl() {
    let (exit, m) = timer_with_status(IE | IM7);
    assert_eq!(exit, Vector::General.exit(ExcCode::Int));
    let c = m.read_cp0(reg::CAUSE, 0);
    assert_ne!(c & TI, 0);
    assert_ne!(c & IP7, 0);
    assert_eq!(m.stats().exceptions[ExcCode::Int as usize], 1);

    for (st, why) in [
        (IM7, "IE clear"),
        (IE, "IM7 clear"),
        (IE | IM7 | EXL, "EXL set"),
        (IE | IM7 | ERL, "ERL set"),
        (IE | 0x7f00, "only other lines enabled"),
    ] {
        let (exit, m) = timer_with_status(st);
        assert_eq!(exit, Exit::Shutdown { code: 0 }, "{why}");
        assert_ne!(
            m.read_cp0(reg::CAUSE, 0) & (TI | IP7),
            0,
            "{why}: still pending"
        );
        assert_eq!(m.stats().exceptions[ExcCode::Int as usize], 0, "{why}");
    }
}

#[test]
fn a_pending_interrupt_is_taken_right_after_ei() {
    let mut a = Asm::new(ORIGIN);
    normal_vectors(&mut a);
    a.li(T0, IM7);
    a.emit(mtc0(T0, reg::STATUS, 0));
    a.emit(mtc0(ZERO, reg::COUNT, 0));
    a.li(T0, 3);
    a.emit(mtc0(T0, reg::COMPARE, 0));
    for _ in 0..10 {
        a.nop();
    }
    let ei_at = a.pc();
    a.emit(ei(S0));
    a.emit(addiu(S1, ZERO, 1));
    exit_ok(&mut a);
    let mut m = boot(a, []);
    assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Int));
    assert_eq!(m.read_cp0(reg::EPC, 0), ei_at + 4);
    assert_eq!(m.gpr(S0.num()), IM7, "ei returns the old Status");
    assert_eq!(m.gpr(S1.num()), 0, "the interrupt came first");
}

#[test]
fn timer_interrupt_epc_is_exact() {
    let mut a = Asm::new(ORIGIN);
    normal_vectors(&mut a);
    a.li(T0, IE | IM7);
    a.emit(mtc0(T0, reg::STATUS, 0));
    let at = a.pc();
    a.emit(mtc0(ZERO, reg::COUNT, 0)); // Count 0 after this
    a.li(T0, 10); // Count 1
    a.emit(mtc0(T0, reg::COMPARE, 0)); // Count 2
    for _ in 0..20 {
        a.emit(addiu(S0, S0, 1)); // Count 3, 4, ...
    }
    exit_ok(&mut a);
    let mut m = boot(a, []);
    assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Int));
    // The instruction at `at + 40` runs with Count == Compare; the
    // interrupt comes before the next one.
    assert_eq!(m.read_cp0(reg::EPC, 0), at + 44);
    assert_eq!(m.gpr(S0.num()), 8);
    assert!(!cause_bd(&m));
}

#[test]
fn timer_interrupt_between_a_branch_and_its_delay_slot() {
    let mut a = Asm::new(ORIGIN);
    let (target, skipped) = (a.new_label(), a.new_label());
    normal_vectors(&mut a);
    a.li(T0, IE | IM7);
    a.emit(mtc0(T0, reg::STATUS, 0));
    let at = a.pc();
    a.emit(mtc0(ZERO, reg::COUNT, 0));
    a.li(T0, 10);
    a.emit(mtc0(T0, reg::COMPARE, 0));
    for _ in 0..7 {
        a.nop();
    }
    let branch_at = a.pc();
    assert_eq!(branch_at, at + 40, "the branch runs with Count == Compare");
    a.b(target);
    a.emit(addiu(S0, S0, 1)); // delay slot
    a.bind(skipped);
    a.emit(addiu(S1, S1, 1));
    a.bind(target);
    exit_ok(&mut a);
    // The handler records EPC and Cause, silences the timer, and returns
    // to EPC: the branch runs again, then its slot, once.
    let mut h = Asm::new(Vector::General.addr());
    h.emit(mfc0(S6, reg::EPC, 0));
    h.emit(mfc0(S7, reg::CAUSE, 0));
    h.emit(mtc0(ZERO, reg::COMPARE, 0));
    h.emit(eret());
    let mut m = boot(a, [h]);
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    assert_eq!(m.gpr(S6.num()), branch_at, "EPC is the branch");
    assert_ne!(m.gpr(S7.num()) & cp0::cause::BD, 0, "Cause.BD");
    assert_eq!((m.gpr(S7.num()) >> 2) & 0x1f, ExcCode::Int as u32);
    assert_eq!(m.gpr(S0.num()), 1, "delay slot ran once");
    assert_eq!(m.gpr(S1.num()), 0, "branch taken after the return");
    assert_eq!(m.stats().exceptions[ExcCode::Int as usize], 1);
}

#[test]
fn software_interrupts() {
    let mut a = Asm::new(ORIGIN);
    normal_vectors(&mut a);
    a.li(T0, IE | IM1);
    a.emit(mtc0(T0, reg::STATUS, 0));
    // IP0 is masked: it stays pending, nothing is taken.
    a.li(T0, IP0);
    a.emit(mtc0(T0, reg::CAUSE, 0));
    a.emit(mfc0(S0, reg::CAUSE, 0));
    // IP1 is enabled: taken right after the write.
    a.li(T0, IP0 | IP1);
    let at = a.pc();
    a.emit(mtc0(T0, reg::CAUSE, 0));
    a.emit(addiu(S1, ZERO, 1));
    exit_ok(&mut a);
    let mut m = boot(a, []);
    assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Int));
    assert_eq!(m.gpr(S0.num()) & (IP0 | IP1), IP0);
    assert_eq!(m.read_cp0(reg::EPC, 0), at + 4);
    assert_eq!(m.read_cp0(reg::CAUSE, 0) & (IP0 | IP1), IP0 | IP1);
    assert_eq!(m.gpr(S1.num()), 0);

    // A handler that clears the request returns to normal execution.
    let mut h = Asm::new(Vector::General.addr());
    h.emit(mtc0(ZERO, reg::CAUSE, 0));
    h.emit(addiu(S2, S2, 1));
    h.emit(eret());
    let mut a = Asm::new(ORIGIN);
    normal_vectors(&mut a);
    a.li(T0, IE | IM0);
    a.emit(mtc0(T0, reg::STATUS, 0));
    a.li(T0, IP0);
    a.emit(mtc0(T0, reg::CAUSE, 0));
    a.emit(addiu(S1, ZERO, 1));
    exit_ok(&mut a);
    let mut m = boot(a, [h]);
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    assert_eq!(m.gpr(S2.num()), 1, "handled once");
    assert_eq!(m.gpr(S1.num()), 1);
}

#[test]
fn wait_idles_until_the_timer() {
    // IE clear: WAIT wakes on the pending line and continues after it.
    let mut a = Asm::new(ORIGIN);
    normal_vectors(&mut a);
    a.li(T0, IM7);
    a.emit(mtc0(T0, reg::STATUS, 0));
    a.emit(mtc0(ZERO, reg::COUNT, 0));
    a.li(T0, 1000);
    a.emit(mtc0(T0, reg::COMPARE, 0));
    a.emit(wait(0));
    a.emit(mfc0(S0, reg::COUNT, 0));
    a.emit(mfc0(S1, reg::CAUSE, 0));
    exit_ok(&mut a);
    let mut m = boot(a, []);
    assert_eq!(m.run(100_000), Exit::Shutdown { code: 0 });
    assert_eq!(m.gpr(S0.num()), 1001, "woke at the match, one tick later");
    assert_ne!(m.gpr(S1.num()) & TI, 0);
    let idle = m.stats().idle_ticks;
    assert!(idle > 990 && idle < 1000, "{idle}");
    assert_eq!(m.ticks(), m.instructions() + idle);

    // IE set: the interrupt is taken with EPC after the WAIT.
    let mut a = Asm::new(ORIGIN);
    normal_vectors(&mut a);
    a.li(T0, IE | IM7);
    a.emit(mtc0(T0, reg::STATUS, 0));
    a.emit(mtc0(ZERO, reg::COUNT, 0));
    a.li(T0, 500);
    a.emit(mtc0(T0, reg::COMPARE, 0));
    let at = a.pc();
    a.emit(wait(0));
    a.emit(addiu(S0, ZERO, 1));
    let mut m = boot(a, []);
    assert_eq!(m.run(100_000), Vector::General.exit(ExcCode::Int));
    assert_eq!(m.read_cp0(reg::EPC, 0), at + 4);
    assert_eq!(m.gpr(S0.num()), 0);
}

#[test]
fn wait_spends_the_budget_when_the_timer_is_far() {
    let mut a = Asm::new(ORIGIN);
    normal_vectors(&mut a);
    a.li(T0, IM7);
    a.emit(mtc0(T0, reg::STATUS, 0));
    let at = a.pc();
    a.emit(mtc0(ZERO, reg::COUNT, 0));
    a.li(T0, 0x1000_0000);
    a.emit(mtc0(T0, reg::COMPARE, 0));
    a.emit(wait(0));
    let mut m = boot(a, []);
    assert_eq!(m.run(5000), Exit::BudgetExhausted);
    assert_eq!(m.ticks(), 5000);
    assert!(m.instructions() < 20);
    // Count kept advancing while idle: it was 0 after the instruction at
    // tick `(at - ORIGIN) / 4 + 1`.
    let zeroed_at = (at - ORIGIN) / 4 + 1;
    assert_eq!(m.read_cp0(reg::COUNT, 0), 5000 - zeroed_at);
}

#[test]
fn wait_with_the_timer_masked_stalls() {
    let mut a = Asm::new(ORIGIN);
    normal_vectors(&mut a);
    a.emit(wait(0));
    a.emit(addiu(S0, ZERO, 1));
    let mut m = boot(a, []);
    assert_eq!(m.run(100_000), Exit::Stalled);
    assert_eq!(m.gpr(S0.num()), 0);
    assert!(m.ticks() < 100, "no time was skipped: {}", m.ticks());
    assert_eq!(m.run(100_000), Exit::Stalled, "still stalled");

    // A pending, enabled software interrupt wakes it instead.
    let mut a = Asm::new(ORIGIN);
    normal_vectors(&mut a);
    a.li(T0, IM0);
    a.emit(mtc0(T0, reg::STATUS, 0));
    a.li(T0, IP0);
    a.emit(mtc0(T0, reg::CAUSE, 0));
    a.emit(wait(0));
    a.emit(addiu(S0, ZERO, 1));
    exit_ok(&mut a);
    let mut m = boot(a, []);
    assert_eq!(m.run(100_000), Exit::Shutdown { code: 0 });
    assert_eq!(m.gpr(S0.num()), 1);
}

#[test]
fn wait_with_count_stopped_stalls() {
    // The timer is unmasked, but Cause.DC stops Count: it can never reach
    // Compare, so nothing can wake the CPU.
    let mut a = Asm::new(ORIGIN);
    normal_vectors(&mut a);
    a.li(T0, IM7);
    a.emit(mtc0(T0, reg::STATUS, 0));
    a.li(T0, 1000);
    a.emit(mtc0(T0, reg::COMPARE, 0));
    a.li(T0, 1 << 27);
    a.emit(mtc0(T0, reg::CAUSE, 0));
    a.emit(wait(0));
    a.emit(addiu(S0, ZERO, 1));
    let mut m = boot(a, []);
    assert_eq!(m.run(1_000_000), Exit::Stalled);
    assert_eq!(m.gpr(S0.num()), 0);
    assert!(m.ticks() < 100, "no time was skipped: {}", m.ticks());
}
