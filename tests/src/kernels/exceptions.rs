//! Synchronous exceptions in kernel mode: Sys, Bp, RI, CpU (coprocessor
//! 1), Ov (and that the destination is left unchanged), Tr, AdEL/AdES on
//! misaligned data and instruction addresses; the same in branch delay
//! slots (BD=1, EPC names the branch, and returning to EPC re-executes the
//! branch); a nullified branch-likely slot; and exceptions taken with EXL
//! already set (EPC and BD unchanged, a TLB refill uses offset 0x180).

use super::rt::{Console, Epc, Expect, Kernel, c0, data, exc, st};
use crate::programs::GuestProgram;
use hv_host::machine::asm::{self, K0, T0, T1, T2, T5, ZERO};

/// A word in the data area's scratch part, through kseg0.
const SCRATCH: u32 = 0x8000_0000 + data::SCRATCH as u32;

/// The exceptions kernel.
pub fn kernel() -> GuestProgram {
    let mut k = Kernel::new("exceptions", Console::Uart);

    k.expect_exception("syscall", |k, at| {
        k.a.emit(asm::syscall(0x12345));
        Expect::general(exc::SYS, at)
    });
    k.expect_exception("break", |k, at| {
        k.a.emit(asm::break_(7 << 10));
        Expect::general(exc::BP, at)
    });
    // SPECIAL funct 0x05 is reserved in MIPS32 Release 2 (QEMU runs it
    // as a PMON call); funct 0x3f is DSRA32, a MIPS64 instruction.
    for funct in [0x05u32, 0x3f] {
        k.expect_exception(&format!("reserved (special funct {funct:02x})"), |k, at| {
            k.a.emit(funct);
            Expect::general(exc::RI, at)
        });
    }
    k.expect_exception("cop1 mfc1", |k, at| {
        k.a.emit(asm::mfc1(T0, 0));
        Expect::general(exc::CPU, at).ce(1)
    });
    k.expect_exception("cop1 lwc1", |k, at| {
        k.a.emit(asm::lwc1(2, 0, K0));
        Expect::general(exc::CPU, at).ce(1)
    });

    // Overflow: the destination keeps its old value.
    k.a.li(T0, 0x7fff_ffff);
    k.a.li(T1, 1);
    k.a.li(T2, 0x5555);
    k.expect_exception("add overflow", |k, at| {
        k.a.emit(asm::add(T2, T0, T1));
        Expect::general(exc::OV, at)
    });
    k.say(" ");
    k.check("rd kept", T2, 0x5555);
    k.nl();
    k.expect_exception("addi overflow", |k, at| {
        k.a.emit(asm::addi(T2, T0, 1));
        Expect::general(exc::OV, at)
    });
    k.a.li(T0, 0x8000_0000);
    k.expect_exception("sub overflow", |k, at| {
        k.a.emit(asm::sub(T2, T0, T1));
        Expect::general(exc::OV, at)
    });
    k.say(" ");
    k.check("rd kept", T2, 0x5555);
    k.nl();
    k.say("addu no trap:");
    k.a.emit(asm::addu(T2, T0, T0));
    k.check("sum", T2, 0);
    k.nl();

    k.expect_exception("teq", |k, at| {
        k.a.emit(asm::teq(ZERO, ZERO, 3));
        Expect::general(exc::TR, at)
    });
    k.a.li(T0, (-5i32) as u32);
    k.expect_exception("tlti", |k, at| {
        k.a.emit(asm::tlti(T0, -4));
        Expect::general(exc::TR, at)
    });
    k.say("tne equal, no trap:");
    k.a.emit(asm::lui(K0, 0x8000));
    k.a.emit(asm::sw(ZERO, data::COUNT, K0));
    k.a.emit(asm::tne(ZERO, ZERO, 0));
    k.load_data(T0, data::COUNT);
    k.check("taken", T0, 0);
    k.nl();

    k.a.li(T1, SCRATCH);
    k.expect_exception("lw misaligned", |k, at| {
        k.a.emit(asm::lw(T0, 2, T1));
        Expect::general(exc::ADEL, at).badv(SCRATCH + 2)
    });
    k.expect_exception("lh misaligned", |k, at| {
        k.a.emit(asm::lh(T0, 5, T1));
        Expect::general(exc::ADEL, at).badv(SCRATCH + 5)
    });
    k.expect_exception("sw misaligned", |k, at| {
        k.a.emit(asm::sw(T0, 7, T1));
        Expect::general(exc::ADES, at).badv(SCRATCH + 7)
    });
    k.expect_exception("sh misaligned", |k, at| {
        k.a.emit(asm::sh(T0, 1, T1));
        Expect::general(exc::ADES, at).badv(SCRATCH + 1)
    });
    // A jump to a misaligned address: the fetch faults, EPC = BadVAddr =
    // the target, not in a delay slot.
    let target = k.a.new_label();
    k.say("fetch misaligned:");
    let resume = k.a.new_label();
    k.arm(resume);
    k.a.la(T0, target);
    k.a.emit(asm::addiu(T0, T0, 2));
    k.a.emit(asm::jr(T0));
    k.a.nop();
    k.a.bind(target);
    k.a.nop();
    k.a.nop();
    k.a.bind(resume);
    k.load_data(T1, data::EPC);
    k.a.emit(asm::subu(T1, T1, T0));
    k.check("epc-target", T1, 0);
    k.load_data(T1, data::BADV);
    k.a.emit(asm::subu(T1, T1, T0));
    k.check("badvaddr-target", T1, 0);
    k.load_data(T1, data::CAUSE);
    k.a.emit(asm::ext(T2, T1, 2, 5));
    k.check("exc", T2, exc::ADEL);
    k.a.emit(asm::srl(T2, T1, 31));
    k.check("bd", T2, 0);
    k.nl();

    // Delay slots.
    k.expect_exception("syscall in taken beq slot", |k, at| {
        let away = k.a.new_label();
        k.a.beq(ZERO, ZERO, away);
        k.a.emit(asm::syscall(0));
        k.a.bind(away);
        Expect::general(exc::SYS, at).in_slot()
    });
    k.a.li(T0, 0);
    k.expect_exception("break in not-taken bne slot", |k, at| {
        let away = k.a.new_label();
        k.a.bne(T0, ZERO, away);
        k.a.emit(asm::break_(0));
        k.a.bind(away);
        Expect::general(exc::BP, at).in_slot()
    });
    k.a.li(T1, SCRATCH);
    k.expect_exception("lw misaligned in jr slot", |k, at| {
        let away = k.a.new_label();
        k.a.la(T0, away);
        let jr = k.a.here();
        let _ = at;
        k.a.emit(asm::jr(T0));
        k.a.emit(asm::lw(T2, 1, T1));
        k.a.bind(away);
        Expect::general(exc::ADEL, jr).in_slot().badv(SCRATCH + 1)
    });

    // EXL=1: EPC and BD are not updated, even TLB refills go to 0x180.
    k.say("exl=1 syscall:");
    let resume = k.a.new_label();
    k.arm(resume);
    k.set_c0(c0::EPC, 0x1234_5678);
    k.set_c0(c0::STATUS, st::EXL);
    k.a.emit(asm::syscall(0));
    k.a.bind(resume);
    k.check_exception(Expect {
        vec: 0x180,
        code: exc::SYS,
        bd: true, // left over from the delay-slot exception above
        ce: None,
        epc: Epc::Value(0x1234_5678),
        badv: None,
    });
    k.mfc0(T0, c0::STATUS);
    k.check("status after eret", T0, 0);
    k.nl();

    k.say("exl=1 tlb refill:");
    let resume = k.a.new_label();
    k.arm(resume);
    k.set_c0(c0::EPC, 0x0bad_c0de);
    k.set_c0(c0::STATUS, st::EXL);
    k.a.li(T1, 0x0040_0000);
    k.a.emit(asm::lw(T0, 0, T1));
    k.a.bind(resume);
    k.check_exception(Expect {
        vec: 0x180,
        code: exc::TLBL,
        bd: true,
        ce: None,
        epc: Epc::Value(0x0bad_c0de),
        badv: Some(0x0040_0000),
    });
    k.nl();

    // A nullified branch-likely slot raises nothing.
    k.say("syscall in not-taken bnel slot:");
    let resume = k.a.new_label();
    k.arm(resume);
    let away = k.a.new_label();
    k.a.bnel(ZERO, ZERO, away);
    k.a.emit(asm::syscall(0));
    k.a.bind(away);
    k.a.bind(resume);
    k.load_data(T0, data::COUNT);
    k.check("taken", T0, 0);
    k.nl();
    k.a.emit(asm::lui(K0, 0x8000));
    k.a.emit(asm::sw(ZERO, data::RESUME, K0));

    // Returning to EPC of a delay-slot exception re-executes the branch:
    // the hook makes the trap condition false and erets unchanged.
    k.say("eret to branch re-executes it:");
    let hook = k.a.new_label();
    let over = k.a.new_label();
    let landed = k.a.new_label();
    k.a.b(over);
    k.a.nop();
    k.a.bind(hook);
    k.a.li(T5, 1);
    k.a.emit(asm::eret());
    k.a.bind(over);
    k.set_hook(Some(hook));
    k.a.li(T5, 0);
    k.a.li(T0, 0);
    let branch = k.a.here();
    k.a.beq(ZERO, ZERO, landed);
    k.a.emit(asm::teq(T5, ZERO, 0));
    k.a.li(T0, 0xbad);
    k.a.bind(landed);
    k.clear_hook();
    k.load_data(T1, data::COUNT);
    k.check("traps", T1, 1);
    k.check("fell through", T0, 0);
    k.load_data(T1, data::EPC);
    k.check_label("epc", T1, branch);
    k.load_data(T1, data::CAUSE);
    k.a.emit(asm::srl(T1, T1, 31));
    k.check("bd", T1, 1);
    k.nl();

    k.finish()
}
