//! Software interrupts IP0/IP1, requested by writing Cause: pending but
//! not taken while IE=0, IM clear, EXL=1 or ERL=1; taken as soon as the
//! last of those is lifted (EPC within the write's hazard window), at
//! offset 0x180, or 0x200 with Cause.IV=1.

use super::rt::{Console, Kernel, c0, ca, data, st};
use crate::programs::GuestProgram;
use hv_host::machine::asm::{self, K0, K1, Label, T0, T1};

/// Emits a hook that clears IP1..IP0 in Cause and returns to EPC.
fn clear_sw_hook(k: &mut Kernel) -> Label {
    let hook = k.a.new_label();
    let over = k.a.new_label();
    k.a.b(over);
    k.a.nop();
    k.a.bind(hook);
    k.a.emit(asm::mfc0(K1, 13, 0));
    k.a.emit(asm::addiu(K0, asm::ZERO, !0x300u16 as i16));
    k.a.emit(asm::and(K1, K1, K0));
    k.a.emit(asm::mtc0(K1, 13, 0));
    k.a.emit(asm::ehb());
    k.a.emit(asm::eret());
    k.a.bind(over);
    hook
}

/// Checks that nothing was taken and that Cause shows `ip` pending.
fn check_pending(k: &mut Kernel, ip: u32) {
    k.load_data(T0, data::COUNT);
    k.check("taken", T0, 0);
    k.mfc0(T0, c0::CAUSE);
    k.check_masked("cause.ip", T0, 0x300, ip);
}

/// Writes Status = `status` at a label, then checks that the interrupt
/// was taken once at `vec` with `ip` in the recorded Cause and EPC within
/// the write's hazard window (the instruction after the MTC0, or after
/// the EHB that follows it).
fn enable_and_check(k: &mut Kernel, status: u32, vec: u32, ip: u32) {
    k.a.li(T1, status);
    let mtc0 = k.a.here();
    k.mtc0(T1, c0::STATUS);
    k.a.nop();
    k.set_c0(c0::STATUS, 0);
    k.load_data(T0, data::COUNT);
    k.check("taken", T0, 1);
    k.load_data(T0, data::VEC);
    k.check("vec", T0, vec);
    k.load_data(T0, data::CAUSE);
    k.a.emit(asm::ext(T1, T0, 2, 5));
    k.check("exc", T1, 0);
    k.check_masked("cause.ip", T0, 0x300, ip);
    k.load_data(T0, data::EPC);
    k.a.la(T1, mtc0);
    k.a.emit(asm::subu(T0, T0, T1));
    k.a.emit(asm::addiu(T0, T0, -4));
    k.a.emit(asm::sltiu(T0, T0, 5));
    k.yes("epc in hazard window", T0, true);
    k.mfc0(T0, c0::CAUSE);
    k.check_masked("cause.ip after", T0, 0x300, 0);
}

/// The software interrupt kernel.
pub fn kernel() -> GuestProgram {
    let mut k = Kernel::new("interrupts", Console::Uart);
    let hook = clear_sw_hook(&mut k);

    k.say("ip0, ie=0:");
    k.set_hook(Some(hook));
    k.set_c0(c0::STATUS, st::im(0));
    k.set_c0(c0::CAUSE, ca::ip(0));
    check_pending(&mut k, ca::ip(0));
    k.nl();
    k.say(" ie=1:");
    enable_and_check(&mut k, st::im(0) | st::IE, 0x180, ca::ip(0));
    k.nl();

    k.say("ip1, im1=0:");
    k.set_hook(Some(hook));
    k.set_c0(c0::STATUS, st::im(0) | st::IE);
    k.set_c0(c0::CAUSE, ca::ip(1));
    check_pending(&mut k, ca::ip(1));
    k.nl();
    k.say(" im1=1:");
    enable_and_check(&mut k, st::im(1) | st::IE, 0x180, ca::ip(1));
    k.nl();

    k.say("ip0+ip1, exl=1:");
    k.set_hook(Some(hook));
    k.set_c0(c0::STATUS, st::im(0) | st::im(1) | st::IE | st::EXL);
    k.set_c0(c0::CAUSE, ca::ip(0) | ca::ip(1));
    check_pending(&mut k, ca::ip(0) | ca::ip(1));
    k.nl();
    k.say(" exl=0:");
    enable_and_check(&mut k, st::im(0) | st::im(1) | st::IE, 0x180, 0x300);
    k.nl();

    k.say("ip1, erl=1:");
    k.set_hook(Some(hook));
    k.set_c0(c0::STATUS, st::im(1) | st::IE | st::ERL);
    k.set_c0(c0::CAUSE, ca::ip(1));
    check_pending(&mut k, ca::ip(1));
    k.nl();
    k.say(" erl=0:");
    enable_and_check(&mut k, st::im(1) | st::IE, 0x180, ca::ip(1));
    k.nl();

    k.say("ip1, iv=1, ie=0:");
    k.set_hook(Some(hook));
    k.set_c0(c0::STATUS, st::im(1));
    k.set_c0(c0::CAUSE, ca::IV | ca::ip(1));
    check_pending(&mut k, ca::ip(1));
    k.nl();
    k.say(" ie=1:");
    enable_and_check(&mut k, st::im(1) | st::IE, 0x200, ca::ip(1));
    k.set_c0(c0::CAUSE, 0);
    k.nl();

    k.clear_hook();
    k.finish()
}
