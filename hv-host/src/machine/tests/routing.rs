//! Exceptions routed to the host ([`Machine::set_routing`]): `run` returns
//! [`Exit::Trap`] with the CPU at the raising instruction and no guest
//! state changed; [`Machine::skip_instruction`] resumes after it (at the
//! branch target for a delay slot), and plain `run` re-executes it once
//! the host has dealt with the cause.

use super::*;
use crate::machine::tlb::lo::{G, V};
use status::{EXL, IE, KSU_SUPERVISOR};

/// The guest-visible state a routed exception must not change.
fn guest_state(m: &Machine) -> (u32, u32, u32, u32, u32, u32, [u64; 32]) {
    (
        m.read_cp0(reg::STATUS, 0),
        m.read_cp0(reg::CAUSE, 0),
        m.read_cp0(reg::EPC, 0),
        m.read_cp0(reg::BADVADDR, 0),
        m.read_cp0(reg::ENTRYHI, 0),
        m.read_cp0(reg::CONTEXT, 0),
        m.stats().exceptions,
    )
}

#[test]
fn cop0_unusable_from_supervisor_mode_goes_to_the_host() {
    let mut u = Asm::new(USER_VA);
    let target = u.new_label();
    u.li(T0, 5);
    u.emit(addiu(S0, ZERO, 1));
    let first = u.pc();
    u.emit(mtc0(T0, reg::EPC, 0));
    u.emit(addiu(S0, S0, 1));
    u.b(target);
    let second = u.pc();
    u.emit(mfc0(S3, reg::STATUS, 0)); // in the delay slot
    u.emit(addiu(S1, ZERO, 7)); // skipped: the branch is taken
    u.bind(target);
    u.emit(addiu(S2, ZERO, 3));
    u.emit(syscall(0));
    let mut m = boot_user(KSU_SUPERVISOR, 0, u, []);
    m.set_routing(RouteMask::NONE.with(ExcCode::CpU));

    // Run the kernel prologue up to the supervisor entry, then snapshot.
    let exit = m.run(1000);
    let trap = Trap {
        code: ExcCode::CpU,
        refill: false,
        pc: GuestVirtAddr::new(first),
        in_delay_slot: false,
        bad_vaddr: None,
        coprocessor: 0,
        insn: m.fetch_word(GuestVirtAddr::new(first)),
    };
    assert_eq!(exit, Exit::Trap(trap));
    assert_eq!(m.pc().raw(), first);
    let state = guest_state(&m);
    assert_eq!(
        state.0 & (status::KSU | EXL),
        KSU_SUPERVISOR,
        "still in supervisor mode"
    );
    assert_eq!(state.1, 0, "Cause untouched");
    assert_eq!(state.2, USER_VA, "EPC untouched (the value eret used)");
    assert_eq!(state.6, [0; 32], "nothing delivered to the guest");
    assert_eq!((m.gpr(S0.num()), m.gpr(T0.num())), (1, 5));

    // Running again without handling it traps again, changing nothing.
    assert_eq!(m.run(1000), Exit::Trap(trap));
    assert_eq!(guest_state(&m), state);

    // Skip it (as if emulated): on to the one in the delay slot.
    m.skip_instruction();
    let exit = m.run(1000);
    assert_eq!(
        exit,
        Exit::Trap(Trap {
            pc: GuestVirtAddr::new(second),
            in_delay_slot: true,
            insn: m.fetch_word(GuestVirtAddr::new(second)),
            ..trap
        }),
        "the delay-slot trap"
    );
    assert_eq!(m.pc().raw(), second);
    assert_eq!(m.gpr(S0.num()), 2);
    assert_eq!(guest_state(&m), state);

    // Skipping a delay-slot instruction resumes at the branch target.
    m.skip_instruction();
    assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Sys));
    assert_eq!(m.gpr(S1.num()), 0, "fall-through not run");
    assert_eq!(m.gpr(S2.num()), 3);
    assert_eq!(m.gpr(S3.num()), 0, "the skipped mfc0 wrote nothing");
}

#[test]
fn routed_syscall_and_address_error_leave_cp0_alone() {
    let mut a = Asm::new(ORIGIN);
    normal_vectors(&mut a);
    a.li(T0, 0x1111);
    a.emit(mtc0(T0, reg::EPC, 0));
    let sys_at = a.pc();
    a.emit(syscall(0));
    a.li(T1, ORIGIN + 2);
    let lw_at = a.pc();
    a.emit(lw(S0, 0, T1));
    a.emit(addiu(S1, ZERO, 1));
    exit_ok(&mut a);
    let mut m = boot(a, []);
    m.set_routing(RouteMask::NONE.with(ExcCode::Sys).with(ExcCode::AdEL));
    let exit = m.run(1000);
    assert!(
        matches!(exit, Exit::Trap(Trap { code: ExcCode::Sys, pc, .. }) if pc.raw() == sys_at),
        "{exit:?}"
    );
    let state = guest_state(&m);
    assert_eq!(state.2, 0x1111);
    m.skip_instruction();
    let exit = m.run(1000);
    assert_eq!(
        exit,
        Exit::Trap(Trap {
            code: ExcCode::AdEL,
            refill: false,
            pc: GuestVirtAddr::new(lw_at),
            in_delay_slot: false,
            bad_vaddr: Some(GuestVirtAddr::new(ORIGIN + 2)),
            coprocessor: 0,
            insn: m.fetch_word(GuestVirtAddr::new(lw_at)),
        })
    );
    assert_eq!(guest_state(&m), state, "BadVAddr and the rest untouched");
    m.skip_instruction();
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    assert_eq!(m.gpr(S1.num()), 1);
}

#[test]
fn routed_tlb_fault_reports_refill_and_leaves_cp0_alone() {
    let mut a = Asm::new(ORIGIN);
    normal_vectors(&mut a);
    // An entry for ASID 2; the current ASID is 1.
    tlb_write(
        &mut a,
        3,
        0x0060_0000 | 2,
        entry_lo(0x2_0000, V),
        entry_lo(0x2_1000, V),
        0,
    );
    a.li(T0, 1);
    a.emit(mtc0(T0, reg::ENTRYHI, 0));
    a.li(T0, 0x0060_0010);
    let at = a.pc();
    a.emit(lw(S0, 0, T0));
    a.emit(addiu(S1, S1, 1));
    exit_ok(&mut a);
    let mut m = boot(a, []);
    set_phys_word(&mut m, 0x2_0010, 0xfeed);
    m.set_routing(RouteMask::NONE.with(ExcCode::Tlbl));
    let exit = m.run(1000);
    assert_eq!(
        exit,
        Exit::Trap(Trap {
            code: ExcCode::Tlbl,
            refill: true,
            pc: GuestVirtAddr::new(at),
            in_delay_slot: false,
            bad_vaddr: Some(GuestVirtAddr::new(0x0060_0010)),
            coprocessor: 0,
            insn: m.fetch_word(GuestVirtAddr::new(at)),
        })
    );
    let state = guest_state(&m);
    assert_eq!(state.3, 0, "BadVAddr untouched");
    assert_eq!(state.4, 1, "EntryHi untouched");
    assert_eq!(state.5, 0, "Context untouched");
    // The host fixes the cause (here: switches the ASID) and resumes: the
    // load runs once and succeeds.
    m.write_cp0(reg::ENTRYHI, 0, 2);
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    assert_eq!(m.gpr(S0.num()), 0xfeed);
    assert_eq!(m.gpr(S1.num()), 1);
}

/// Page A (global, odd page of its pair) ends with a branch whose delay
/// slot starts page B (ASID 2 only). Returns the kernel program that jumps
/// to `entry` with ASID 1, page A's code, and page B's code.
fn two_pages(entry: u32) -> (Asm, Asm, Asm) {
    let (a_end, b_start) = (0x0040_2000 - 8, 0x0040_2000);
    let mut k = Asm::new(ORIGIN);
    normal_vectors(&mut k);
    tlb_write(
        &mut k,
        1,
        0x0040_0000,
        entry_lo(0, G),
        entry_lo(0x2_1000, V | G),
        0,
    );
    tlb_write(&mut k, 2, b_start | 2, entry_lo(0x3_0000, V), 0, 0);
    k.li(T0, 1);
    k.emit(mtc0(T0, reg::ENTRYHI, 0));
    k.li(T0, entry);
    k.emit(jr(T0));
    k.nop();
    let mut pa = Asm::new(a_end);
    let target = b_start + 0x10;
    pa.emit(addiu(S0, S0, 1));
    pa.emit(b(((target - (a_end + 8)) / 4) as i16));
    let mut pb = Asm::new(b_start);
    pb.emit(addiu(S1, S1, 1)); // the delay slot
    pb.emit(addiu(S7, S7, 1)); // only on fall-through
    pb.emit(syscall(0));
    pb.nop();
    pb.emit(syscall(0)); // the branch target
    (k, pa, pb)
}

#[test]
fn routed_fetch_fault_in_a_delay_slot_resumes_at_the_branch_target() {
    let (k, pa, pb) = two_pages(0x0040_2000 - 8);
    let mut m = boot(k, []);
    place_at(&mut m, 0x2_1ff8, pa);
    place_at(&mut m, 0x3_0000, pb);
    m.set_routing(RouteMask::NONE.with(ExcCode::Tlbl));
    let exit = m.run(1000);
    assert_eq!(
        exit,
        Exit::Trap(Trap {
            code: ExcCode::Tlbl,
            refill: true,
            pc: GuestVirtAddr::new(0x0040_2000),
            in_delay_slot: true,
            bad_vaddr: Some(GuestVirtAddr::new(0x0040_2000)),
            coprocessor: 0,
            insn: None,
        })
    );
    assert_eq!(m.pc().raw(), 0x0040_2000);
    m.write_cp0(reg::ENTRYHI, 0, 2);
    m.set_routing(RouteMask::NONE);
    assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Sys));
    assert_eq!(m.gpr(S0.num()), 1);
    assert_eq!(m.gpr(S1.num()), 1, "the delay slot ran once");
    assert_eq!(m.gpr(S7.num()), 0, "the branch was taken");
    assert_eq!(m.read_cp0(reg::EPC, 0), 0x0040_2010);
}

#[test]
fn routed_fetch_fault_resumes_at_the_faulting_instruction() {
    let (k, pa, pb) = two_pages(0x0040_2000);
    let mut m = boot(k, []);
    place_at(&mut m, 0x2_1ff8, pa);
    place_at(&mut m, 0x3_0000, pb);
    m.set_routing(RouteMask::NONE.with(ExcCode::Tlbl));
    let exit = m.run(1000);
    assert!(
        matches!(
            exit,
            Exit::Trap(Trap {
                pc,
                in_delay_slot: false,
                refill: true,
                ..
            }) if pc.raw() == 0x0040_2000
        ),
        "{exit:?}"
    );
    m.write_cp0(reg::ENTRYHI, 0, 2);
    assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Sys));
    assert_eq!(m.gpr(S1.num()), 1, "ran once");
    assert_eq!(m.gpr(S7.num()), 1);
    assert_eq!(m.read_cp0(reg::EPC, 0), 0x0040_2008);
}

#[test]
fn routed_interrupt_resumes_at_the_next_instruction() {
    let mut a = Asm::new(ORIGIN);
    normal_vectors(&mut a);
    a.li(T0, IE | IM0);
    a.emit(mtc0(T0, reg::STATUS, 0));
    a.li(T0, IP0);
    a.emit(mtc0(T0, reg::CAUSE, 0));
    let next = a.pc();
    a.emit(addiu(S0, S0, 1));
    a.emit(addiu(S1, S1, 1));
    exit_ok(&mut a);
    let mut m = boot(a, []);
    m.set_routing(RouteMask::NONE.with(ExcCode::Int));
    let exit = m.run(1000);
    assert!(
        matches!(exit, Exit::Trap(Trap { code: ExcCode::Int, pc, .. }) if pc.raw() == next),
        "{exit:?}"
    );
    assert_eq!(m.gpr(S0.num()), 0);
    m.write_cp0(reg::CAUSE, 0, 0);
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    assert_eq!(m.gpr(S0.num()), 1, "ran once");
    assert_eq!(m.gpr(S1.num()), 1);
}
