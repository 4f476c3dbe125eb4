//! Exception entry and return: vector selection (BEV, EBase, EXL, IV),
//! EPC and Cause.BD, BadVAddr, nesting with EXL set, ERET with EXL and
//! ERL; and the instructions whose job is to raise: SYSCALL, BREAK, the
//! conditional traps, SDBBP, reserved encodings, coprocessor instructions,
//! RDHWR, privileged instructions in user mode.

use super::*;
use status::{BEV, CU0, ERL, EXL, IE, KSU_USER};

/// An unmapped kuseg address (no TLB entry covers it).
const UNMAPPED: u32 = 0x0070_0000;

/// Emits the raising of software interrupt 0 with Status = `status` plus
/// IE and IM0, and Cause.IV = `iv`.
fn raise_sw0(a: &mut Asm, status: u32, iv: bool) {
    let iv = if iv { cp0::cause::IV } else { 0 };
    a.li(AT, iv);
    a.emit(mtc0(AT, reg::CAUSE, 0));
    a.li(AT, status | IE | IM0);
    a.emit(mtc0(AT, reg::STATUS, 0));
    a.li(AT, iv | IP0);
    a.emit(mtc0(AT, reg::CAUSE, 0));
    a.nop();
}

#[test]
fn boot_vectors_with_bev() {
    // TLB refill (ERL must be clear for kuseg to be mapped).
    let mut a = Asm::new(ORIGIN);
    a.li(AT, BEV);
    a.emit(mtc0(AT, reg::STATUS, 0));
    a.li(T0, UNMAPPED);
    a.emit(lw(T1, 0, T0));
    let mut m = boot(a, []);
    assert_eq!(m.run(1000), Vector::BevRefill.exit(ExcCode::Tlbl));

    // General.
    let mut a = Asm::new(ORIGIN);
    a.emit(syscall(0));
    let mut m = boot(a, []);
    assert_eq!(m.run(1000), Vector::BevGeneral.exit(ExcCode::Sys));

    // Interrupts: the special vector with IV, else the general one.
    for (iv, vector) in [(true, Vector::BevInterrupt), (false, Vector::BevGeneral)] {
        let mut a = Asm::new(ORIGIN);
        raise_sw0(&mut a, BEV, iv);
        let mut m = boot(a, []);
        assert_eq!(m.run(1000), vector.exit(ExcCode::Int), "IV={iv}");
    }
}

#[test]
fn normal_vectors_with_ebase() {
    for ebase in [EBASE, 0x8002_3000] {
        let stops = [Vector::Refill, Vector::General, Vector::Interrupt]
            .map(|v| handler(v.addr_with(ebase), v.tag(), 0));
        let prologue = |a: &mut Asm| {
            a.li(AT, ebase);
            a.emit(mtc0(AT, reg::PRID, 1));
            a.emit(mtc0(ZERO, reg::STATUS, 0));
        };

        let mut a = Asm::new(ORIGIN);
        prologue(&mut a);
        a.li(T0, UNMAPPED);
        a.emit(sw(T1, 0, T0));
        let mut m = boot(a, stops.clone());
        assert_eq!(
            m.run(1000),
            Vector::Refill.exit(ExcCode::Tlbs),
            "EBase {ebase:#x}"
        );
        assert_eq!(m.pc().raw() & !0xfff, ebase, "ran the handler at EBase");

        let mut a = Asm::new(ORIGIN);
        prologue(&mut a);
        a.emit(break_(0));
        let mut m = boot(a, stops.clone());
        assert_eq!(
            m.run(1000),
            Vector::General.exit(ExcCode::Bp),
            "EBase {ebase:#x}"
        );

        for (iv, vector) in [(true, Vector::Interrupt), (false, Vector::General)] {
            let mut a = Asm::new(ORIGIN);
            prologue(&mut a);
            raise_sw0(&mut a, 0, iv);
            let mut m = boot(a, stops.clone());
            assert_eq!(
                m.run(1000),
                vector.exit(ExcCode::Int),
                "EBase {ebase:#x} IV={iv}"
            );
        }
    }
}

#[test]
fn ebase_keeps_its_fixed_bits() {
    let m = run_kernel(|a| {
        a.li(T0, 0xffff_ffff);
        a.emit(mtc0(T0, reg::PRID, 1));
        a.emit(mfc0(S0, reg::PRID, 1));
    });
    // Bits 31..30 read 1,0; bits 11..0 (and the CPUNum) read 0.
    assert_eq!(m.gpr(S0.num()), 0xbfff_f000);
}

#[test]
fn tlb_refill_with_exl_set_uses_the_general_vector() {
    let mut a = Asm::new(ORIGIN);
    normal_vectors(&mut a);
    a.li(T0, 0x1234_5678);
    a.emit(mtc0(T0, reg::EPC, 0));
    a.li(AT, EXL);
    a.emit(mtc0(AT, reg::STATUS, 0));
    a.li(T0, UNMAPPED + 0x10);
    a.emit(lw(T1, 0, T0));
    let mut m = boot(a, []);
    assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Tlbl));
    assert_eq!(
        m.read_cp0(reg::EPC, 0),
        0x1234_5678,
        "EPC kept with EXL set"
    );
    assert_eq!(
        m.read_cp0(reg::BADVADDR, 0),
        UNMAPPED + 0x10,
        "BadVAddr still set"
    );
}

/// A general handler that, on its first entry only, executes `nested`
/// (which raises), then stops.
fn nesting_handler(nested: &[u32]) -> Asm {
    let mut h = Asm::new(Vector::General.addr());
    let stop = h.new_label();
    h.bne(K1, ZERO, stop);
    h.emit(addiu(K1, K1, 1));
    h.emit_all(nested);
    h.nop();
    h.bind(stop);
    stop_code(&mut h, Vector::General.tag());
    h
}

#[test]
fn nested_exceptions_keep_the_first_epc() {
    // A break inside the syscall handler, then a TLB refill inside it.
    let nested_refill = [lui(T0, (UNMAPPED >> 16) as u16), lw(T1, 0, T0)];
    for (nested, code) in [
        (&[break_(0)][..], ExcCode::Bp),
        (&nested_refill[..], ExcCode::Tlbl),
    ] {
        let mut a = Asm::new(ORIGIN);
        normal_vectors(&mut a);
        let at = a.pc();
        a.emit(syscall(0));
        let mut m = boot(a, [nesting_handler(nested)]);
        assert_eq!(m.run(1000), Vector::General.exit(code));
        assert_eq!(m.read_cp0(reg::EPC, 0), at, "EPC still that of the syscall");
        assert!(!cause_bd(&m));
        let stats = m.stats();
        assert_eq!(stats.exceptions[ExcCode::Sys as usize], 1);
        assert_eq!(stats.exceptions[code as usize], 1);
        if code == ExcCode::Tlbl {
            assert_eq!(m.read_cp0(reg::BADVADDR, 0), UNMAPPED);
        }
        assert_ne!(m.read_cp0(reg::STATUS, 0) & EXL, 0);
    }
}

#[test]
fn exception_in_a_delay_slot_reports_the_branch() {
    type Jump = fn(&mut Asm, Label);
    let jumps: [(&str, Jump); 5] = [
        ("b", |a, l| _ = a.b(l)),
        ("bne not taken", |a, l| _ = a.bne(ZERO, ZERO, l)),
        ("beql taken", |a, l| _ = a.beql(ZERO, ZERO, l)),
        ("jal", |a, l| _ = a.jal(l)),
        ("jr", |a, l| _ = a.la(T5, l).emit(jr(T5))),
    ];
    for (name, jump) in jumps {
        let mut a = Asm::new(ORIGIN);
        let target = a.new_label();
        normal_vectors(&mut a);
        a.li(T0, 0x7fff_ffff);
        let branch_at = if name == "jr" { a.pc() + 8 } else { a.pc() };
        jump(&mut a, target);
        a.emit(add(T1, T0, T0)); // overflows in the delay slot
        a.nop();
        a.bind(target);
        exit_ok(&mut a);
        let mut m = boot(a, []);
        assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Ov), "{name}");
        assert_eq!(
            m.read_cp0(reg::EPC, 0),
            branch_at,
            "{name}: EPC is the branch"
        );
        assert!(cause_bd(&m), "{name}: Cause.BD");
    }
}

#[test]
fn bd_clears_for_an_exception_outside_a_delay_slot() {
    // The first syscall is in a delay slot (EPC = branch, BD = 1); the
    // handler resumes at EPC + 4, the syscall itself, now outside a delay
    // slot: the second exception has EPC = the syscall and BD = 0.
    let mut a = Asm::new(ORIGIN);
    let target = a.new_label();
    normal_vectors(&mut a);
    a.b(target);
    let slot = a.pc();
    a.emit(syscall(0));
    a.bind(target);
    exit_ok(&mut a);
    let mut m = boot(
        a,
        [handler(Vector::General.addr(), Vector::General.tag(), 1)],
    );
    assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Sys));
    assert_eq!(m.gpr(K1.num()), 2);
    assert_eq!(m.read_cp0(reg::EPC, 0), slot);
    assert!(!cause_bd(&m));
}

#[test]
fn eret_returns_to_epc_or_error_epc() {
    let mut a = Asm::new(ORIGIN);
    let (l1, l2, l3) = (a.new_label(), a.new_label(), a.new_label());
    normal_vectors(&mut a);
    // EXL: to EPC, clearing EXL.
    a.li(AT, EXL);
    a.emit(mtc0(AT, reg::STATUS, 0));
    a.la(T0, l1);
    a.emit(mtc0(T0, reg::EPC, 0));
    a.emit(eret());
    a.emit(addiu(S7, S7, 1)); // never runs: ERET has no delay slot
    a.bind(l1);
    a.emit(mfc0(S0, reg::STATUS, 0));
    // ERL and EXL: to ErrorEPC, clearing ERL only; then to EPC.
    a.li(AT, ERL | EXL);
    a.emit(mtc0(AT, reg::STATUS, 0));
    a.la(T0, l2);
    a.emit(mtc0(T0, reg::ERROREPC, 0));
    a.la(T0, l3);
    a.emit(mtc0(T0, reg::EPC, 0));
    a.emit(eret());
    a.emit(addiu(S7, S7, 1));
    a.bind(l2);
    a.emit(mfc0(S1, reg::STATUS, 0));
    a.emit(eret());
    a.emit(addiu(S7, S7, 1));
    a.bind(l3);
    a.emit(mfc0(S2, reg::STATUS, 0));
    exit_ok(&mut a);
    let mut m = boot(a, []);
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    assert_eq!(m.gpr(S7.num()), 0, "nothing after an eret ran");
    assert_eq!(m.gpr(S0.num()) & (EXL | ERL), 0);
    assert_eq!(m.gpr(S1.num()) & (EXL | ERL), EXL);
    assert_eq!(m.gpr(S2.num()) & (EXL | ERL), 0);
}

#[test]
fn syscall_and_break() {
    for (word, code) in [
        (syscall(0), ExcCode::Sys),
        (syscall(0xfffff), ExcCode::Sys),
        (break_(0), ExcCode::Bp),
        (break_(7 << 10), ExcCode::Bp),
    ] {
        let mut a = Asm::new(ORIGIN);
        normal_vectors(&mut a);
        let at = a.pc();
        a.emit(word);
        let mut m = boot(a, []);
        assert_eq!(m.run(1000), Vector::General.exit(code));
        assert_eq!(m.read_cp0(reg::EPC, 0), at);
        assert_eq!(exc_code(&m), code as u32);
    }
}

#[test]
fn conditional_traps() {
    let (neg, one) = (u32::MAX, 1u32);
    // (word with rs = t0, rt = t1 or an immediate, t0, t1, taken)
    let cases: &[(u32, u32, u32, bool)] = &[
        (teq(T0, T1, 0), 5, 5, true),
        (teq(T0, T1, 0), 5, 6, false),
        (tne(T0, T1, 0), 5, 6, true),
        (tne(T0, T1, 0), 5, 5, false),
        (tge(T0, T1, 0), one, neg, true),
        (tge(T0, T1, 0), neg, one, false),
        (tge(T0, T1, 3), 4, 4, true),
        (tgeu(T0, T1, 0), neg, one, true),
        (tgeu(T0, T1, 0), one, neg, false),
        (tlt(T0, T1, 0), neg, one, true),
        (tlt(T0, T1, 0), one, neg, false),
        (tlt(T0, T1, 0), 4, 4, false),
        (tltu(T0, T1, 0), one, neg, true),
        (tltu(T0, T1, 0), neg, one, false),
        (teqi(T0, -1), neg, 0, true),
        (teqi(T0, -1), 1, 0, false),
        (tnei(T0, 42), 41, 0, true),
        (tnei(T0, 42), 42, 0, false),
        (tgei(T0, -5), neg, 0, true),
        (tgei(T0, -5), (-6i32) as u32, 0, false),
        (tgeiu(T0, -1), neg, 0, true), // the immediate is 0xffff_ffff
        (tgeiu(T0, -1), 0x7fff_ffff, 0, false),
        (tlti(T0, 0), neg, 0, true),
        (tlti(T0, 0), 0, 0, false),
        (tltiu(T0, -1), 0x8000_0000, 0, true),
        (tltiu(T0, 0), 0, 0, false),
    ];
    for &(word, t0, t1, taken) in cases {
        let text = insn::Instruction(word).to_string();
        let mut a = Asm::new(ORIGIN);
        normal_vectors(&mut a);
        a.li(T0, t0).li(T1, t1);
        let at = a.pc();
        a.emit(word);
        exit_ok(&mut a);
        let mut m = boot(a, []);
        if taken {
            assert_eq!(
                m.run(1000),
                Vector::General.exit(ExcCode::Tr),
                "{text} {t0:#x} {t1:#x}"
            );
            assert_eq!(m.read_cp0(reg::EPC, 0), at, "{text}");
        } else {
            assert_eq!(
                m.run(1000),
                Exit::Shutdown { code: 0 },
                "{text} {t0:#x} {t1:#x}"
            );
        }
    }
}

#[test]
fn coprocessor_one_is_unusable_with_ce_1() {
    for word in [mfc1(T0, 2), mtc1(T0, 31), lwc1(4, 0, S7), swc1(0, -4, S7)] {
        let mut a = Asm::new(ORIGIN);
        normal_vectors(&mut a);
        a.li(S7, ORIGIN).li(T0, 3);
        a.emit(word);
        let mut m = boot(a, []);
        let text = insn::Instruction(word).to_string();
        assert_eq!(m.run(1000), Vector::General.exit(ExcCode::CpU), "{text}");
        assert_eq!(cause_ce(&m), 1, "{text}");
        assert_eq!(m.gpr(T0.num()), 3, "{text}");
    }
}

#[test]
fn reserved_encodings_raise_ri() {
    for word in [
        deret(),
        jalx(USER_VA),
        rdhwr(T0, 5),
        rdhwr(T0, 30),
        sdbbp(0),
        sdbbp(2),
    ] {
        let mut a = Asm::new(ORIGIN);
        normal_vectors(&mut a);
        let at = a.pc();
        a.emit(word);
        exit_ok(&mut a);
        let mut m = boot(a, []);
        let text = insn::Instruction(word).to_string();
        assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Ri), "{text}");
        assert_eq!(m.read_cp0(reg::EPC, 0), at, "{text}");
        assert_eq!(m.gpr(RA.num()), 0, "{text}: jalx does not link");
    }
}

#[test]
fn barriers_prefetch_and_cache_are_no_ops_in_kernel_mode() {
    let m = run_kernel(|a| {
        a.li(S7, 0xb000_0000); // would be a bus error if accessed
        a.li(S0, 7);
        a.emit(sync(0));
        a.emit(sync(4));
        a.emit(pref(0, 64, S7));
        a.emit(cache(0x15, 0, S7));
        a.emit(synci(16, S7));
        a.emit(ssnop());
        a.emit(ehb());
        a.emit(addiu(S0, S0, 1));
    });
    assert_eq!(m.gpr(S0.num()), 8);
    assert_eq!(m.stats().exceptions, [0; 32]);
}

#[test]
fn privileged_instructions_in_user_mode_are_cop0_unusable() {
    let words = [
        cache(0x15, 0, ZERO),
        mfc0(T0, reg::STATUS, 0),
        mtc0(T0, reg::EPC, 0),
        di(T0),
        ei(ZERO),
        tlbwi(),
        tlbp(),
        eret(),
        wait(0),
    ];
    for word in words {
        let text = insn::Instruction(word).to_string();
        // A CP1 instruction first (CE = 1), skipped by the handler, then
        // the privileged one: CE must be back to 0.
        let mut u = Asm::new(USER_VA);
        u.li(T0, 0x42);
        u.emit(mfc1(T1, 0));
        let at = u.pc();
        u.emit(word);
        let mut m = boot_user(
            KSU_USER,
            0,
            u,
            [handler(Vector::General.addr(), Vector::General.tag(), 1)],
        );
        assert_eq!(m.run(1000), Vector::General.exit(ExcCode::CpU), "{text}");
        assert_eq!(cause_ce(&m), 0, "{text}");
        assert_eq!(m.read_cp0(reg::EPC, 0), at, "{text}");
        assert_eq!(m.gpr(T0.num()), 0x42, "{text}");
        assert_eq!(m.gpr(K1.num()), 2, "{text}");
    }
}

#[test]
fn cu0_makes_cop0_usable_in_user_mode() {
    let mut u = Asm::new(USER_VA);
    u.emit(mfc0(S0, reg::STATUS, 0));
    u.emit(syscall(0));
    let mut m = boot_user(KSU_USER, CU0, u, []);
    assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Sys));
    assert_eq!(m.gpr(S0.num()), CU0 | KSU_USER);
}

#[test]
fn rdhwr_in_kernel_mode() {
    let m = run_kernel(|a| {
        a.li(T0, 0xcafe_f00d);
        a.emit(mtc0(T0, reg::CONTEXT, 2)); // UserLocal
        a.emit(rdhwr(S0, 0));
        a.emit(rdhwr(S1, 1));
        a.emit(mfc0(T1, reg::COUNT, 0));
        a.emit(rdhwr(S2, 2));
        a.emit(rdhwr(S3, 3));
        a.emit(rdhwr(S4, 29));
    });
    assert_eq!(m.gpr(S0.num()), 0, "CPUNum");
    assert_eq!(m.gpr(S1.num()), 0, "SYNCI_Step: no caches");
    assert_eq!(m.gpr(S2.num()), m.gpr(T1.num()) + 1, "CC is Count");
    assert_eq!(m.gpr(S3.num()), 1, "CCRes");
    assert_eq!(m.gpr(S4.num()), 0xcafe_f00d, "UserLocal");
}

#[test]
fn rdhwr_in_user_mode_needs_hwrena() {
    // HWREna enables UserLocal (29) only: reading it works, reading CC (2)
    // is a Reserved Instruction.
    let mut k = Asm::new(ORIGIN);
    normal_vectors(&mut k);
    map_user(&mut k);
    k.li(T0, 1 << 29);
    k.emit(mtc0(T0, reg::HWRENA, 0));
    k.li(T0, 0x7357);
    k.emit(mtc0(T0, reg::CONTEXT, 2));
    eret_to(&mut k, KSU_USER, USER_VA, 0);
    let mut u = Asm::new(USER_VA);
    u.emit(rdhwr(S0, 29));
    let at = u.pc();
    u.emit(rdhwr(S1, 2));
    let mut m = boot(k, []);
    place_at(&mut m, USER_PA, u);
    assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Ri));
    assert_eq!(m.gpr(S0.num()), 0x7357);
    assert_eq!(m.read_cp0(reg::EPC, 0), at);

    // Without HWREna, UserLocal is a Reserved Instruction too.
    let mut u = Asm::new(USER_VA);
    u.emit(rdhwr(S0, 29));
    let mut m = boot_user(KSU_USER, 0, u, []);
    assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Ri));
    assert_eq!(m.read_cp0(reg::EPC, 0), USER_VA);
}

#[test]
fn sdbbp_semihosting_is_kernel_only() {
    let mut u = Asm::new(USER_VA);
    u.li(T9, 1).li(A0, 0);
    u.emit(sdbbp(1));
    let mut m = boot_user(KSU_USER, 0, u, []);
    assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Ri));
}

#[test]
fn cause_and_status_write_masks() {
    let m = run_kernel(|a| {
        a.li(T0, 0xffff_ffff);
        a.emit(mtc0(T0, reg::CAUSE, 0));
        a.emit(mfc0(S0, reg::CAUSE, 0));
        a.emit(mtc0(ZERO, reg::CAUSE, 0));
        // Status: all writable bits but EXL/ERL/KSU, so we stay in kernel
        // mode with the boot vectors.
        a.li(T1, CU0 | BEV | 0xff00 | IE);
        a.emit(mtc0(T1, reg::STATUS, 0));
        a.emit(mfc0(S1, reg::STATUS, 0));
        a.emit(mtc0(ZERO, reg::STATUS, 0));
    });
    assert_eq!(
        m.gpr(S0.num()),
        cp0::cause::DC | cp0::cause::IV | cp0::cause::IP_SW
    );
    assert_eq!(m.gpr(S1.num()), CU0 | BEV | 0xff00 | IE);
}

/// `Cp0::enter_exception` on its own, as the monitor uses it on a virtual
/// CP0: a TLB store refill in a delay slot, then a nested address error.
#[test]
fn enter_exception_on_a_register_file() {
    use crate::addr::GuestVirtAddr;
    use crate::machine::cp0::Cp0;
    use crate::machine::exception::{Access, Exception, Fault};
    let mut c = Cp0::reset(0);
    c.status = 0x10 | IE; // user mode, BEV clear
    c.ebase = 0x8010_0000;
    c.context = 0x1234_5678;
    c.entry_hi = 0x42;
    let refill = Exception {
        code: Fault::TlbRefill.exc_code(Access::Store),
        refill: true,
        pc: GuestVirtAddr::new(0x0040_0104),
        in_delay_slot: true,
        bad_vaddr: Some(GuestVirtAddr::new(0x7fff_3abc)),
        ce: 0,
    };
    assert_eq!(c.enter_exception(&refill).raw(), 0x8010_0000);
    assert_eq!(c.epc, 0x0040_0100);
    assert_eq!(c.cause & cause::BD, cause::BD);
    assert_eq!((c.cause & cause::EXC_CODE) >> 2, ExcCode::Tlbs as u32);
    assert_eq!(c.bad_vaddr, 0x7fff_3abc);
    assert_eq!(c.context, 0x1200_0000 | ((0x7fff_3abc >> 9) & 0x007f_fff0));
    assert_eq!(c.entry_hi, 0x7fff_2000 | 0x42);
    assert_eq!(c.status, 0x10 | IE | EXL);
    // Nested (EXL set): EPC and BD stay, the general vector, no Context.
    let ade = Exception {
        code: Fault::Address.exc_code(Access::Load),
        refill: false,
        pc: GuestVirtAddr::new(0x8010_0008),
        in_delay_slot: false,
        bad_vaddr: Some(GuestVirtAddr::new(0x8000_0001)),
        ce: 0,
    };
    let context = c.context;
    assert_eq!(c.enter_exception(&ade).raw(), 0x8010_0180);
    assert_eq!(c.epc, 0x0040_0100);
    assert_eq!(c.cause & cause::BD, cause::BD);
    assert_eq!((c.cause & cause::EXC_CODE) >> 2, ExcCode::AdEL as u32);
    assert_eq!(c.bad_vaddr, 0x8000_0001);
    assert_eq!(c.context, context);
}
