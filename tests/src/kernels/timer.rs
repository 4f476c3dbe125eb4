//! The Count/Compare timer: Count advances; Count reaching Compare sets
//! Cause.TI and IP7 even with interrupts disabled; writing Compare clears
//! them; the timer interrupt is taken when IE=1 and IM7 is set (at 0x180,
//! or 0x200 with Cause.IV), not while IM7 is clear, and wakes `wait` with
//! EPC at the instruction after it. A second kernel checks that Cause.DC
//! freezes Count.
//!
//! Nothing printed depends on how many ticks pass: loops wait for an
//! event with a generous bound and report whether it happened.

use super::rt::{Console, Kernel, c0, ca, data, st};
use crate::programs::GuestProgram;
use hv_host::machine::asm::{self, K0, K1, T0, T1, T2, T3, ZERO};

/// Bound on the polling loops (iterations).
const SPIN: u32 = 1_000_000;

/// Sets Compare to Count + `delta` (clobbers `t0`, `t1`).
fn compare_in(k: &mut Kernel, delta: u32) {
    k.mfc0(T0, c0::COUNT);
    k.a.li(T1, delta);
    k.a.emit(asm::addu(T0, T0, T1));
    k.mtc0(T0, c0::COMPARE);
}

/// Spins until the data-area exception count is non-zero or the bound
/// runs out (clobbers `t0`, `t1`, `k0`).
fn spin_until_exception(k: &mut Kernel) {
    k.a.li(T1, SPIN);
    let top = k.a.here();
    let done = k.a.new_label();
    k.load_data(T0, data::COUNT);
    k.a.bne(T0, ZERO, done);
    k.a.emit(asm::addiu(T1, T1, -1));
    k.a.bne(T1, ZERO, top);
    k.a.nop();
    k.a.bind(done);
}

/// Spins until Cause.TI is set or the bound runs out (clobbers `t0`, `t1`).
fn spin_until_ti(k: &mut Kernel) {
    k.a.li(T1, SPIN);
    let top = k.a.here();
    let done = k.a.new_label();
    k.mfc0(T0, c0::CAUSE);
    k.a.emit(asm::srl(T0, T0, 30));
    k.a.emit(asm::andi(T0, T0, 1));
    k.a.bne(T0, ZERO, done);
    k.a.emit(asm::addiu(T1, T1, -1));
    k.a.bne(T1, ZERO, top);
    k.a.nop();
    k.a.bind(done);
}

/// Prints Cause.TI and Cause.IP7 as read now (clobbers `t0`, `t1`).
fn show_ti(k: &mut Kernel, ti: bool) {
    k.mfc0(T0, c0::CAUSE);
    k.a.emit(asm::srl(T1, T0, 30));
    k.a.emit(asm::andi(T1, T1, 1));
    k.check("ti", T1, u32::from(ti));
    k.a.emit(asm::ext(T1, T0, 15, 1));
    k.check("ip7", T1, u32::from(ti));
}

/// Emits a hook that silences the timer (Compare = Count + 2^30) and
/// returns to EPC; returns its label.
fn timer_hook(k: &mut Kernel) -> hv_host::machine::asm::Label {
    let hook = k.a.new_label();
    let over = k.a.new_label();
    k.a.b(over);
    k.a.nop();
    k.a.bind(hook);
    k.a.emit(asm::mfc0(K1, 9, 0));
    k.a.emit(asm::lui(K0, 0x4000));
    k.a.emit(asm::addu(K1, K1, K0));
    k.a.emit(asm::mtc0(K1, 11, 0));
    k.a.emit(asm::ehb());
    k.a.emit(asm::eret());
    k.a.bind(over);
    hook
}

/// Checks the recorded interrupt: taken once at `vec`, ExcCode 0, TI and
/// IP7 set in the recorded Cause.
fn check_timer_interrupt(k: &mut Kernel, vec: u32) {
    k.load_data(T0, data::COUNT);
    k.check("taken", T0, 1);
    k.load_data(T0, data::VEC);
    k.check("vec", T0, vec);
    k.load_data(T0, data::CAUSE);
    k.a.emit(asm::ext(T1, T0, 2, 5));
    k.check("exc", T1, 0);
    k.a.emit(asm::srl(T1, T0, 30));
    k.a.emit(asm::andi(T1, T1, 1));
    k.check("cause.ti", T1, 1);
    k.a.emit(asm::ext(T1, T0, 15, 1));
    k.check("cause.ip7", T1, 1);
}

/// The timer kernel.
pub fn kernel() -> GuestProgram {
    let mut k = Kernel::new("timer", Console::Uart);
    let hook = timer_hook(&mut k);

    k.say("count:");
    k.mfc0(T2, c0::COUNT);
    for _ in 0..16 {
        k.a.nop();
    }
    k.mfc0(T3, c0::COUNT);
    k.a.emit(asm::subu(T3, T3, T2));
    k.yes("advances", T3, true);
    k.nl();

    // Interrupts disabled: TI and IP7 still show the match.
    k.say("compare match, ie=0:");
    k.set_c0(c0::STATUS, st::im(7));
    k.set_hook(Some(hook));
    compare_in(&mut k, 100);
    spin_until_ti(&mut k);
    show_ti(&mut k, true);
    k.load_data(T0, data::COUNT);
    k.check("taken", T0, 0);
    k.nl();
    k.say("compare written:");
    compare_in(&mut k, 0x4000_0000);
    show_ti(&mut k, false);
    k.nl();

    // IE=1, IM7 clear: pending but not taken; setting IM7 takes it.
    k.say("masked by im7:");
    k.set_c0(c0::STATUS, st::IE);
    compare_in(&mut k, 100);
    spin_until_ti(&mut k);
    show_ti(&mut k, true);
    k.load_data(T0, data::COUNT);
    k.check("taken", T0, 0);
    k.set_c0(c0::STATUS, st::im(7) | st::IE);
    k.a.nop();
    k.set_c0(c0::STATUS, 0);
    check_timer_interrupt(&mut k, 0x180);
    show_ti(&mut k, false);
    k.nl();

    // Delivered while spinning.
    k.say("interrupt:");
    k.set_hook(Some(hook));
    compare_in(&mut k, 200);
    k.set_c0(c0::STATUS, st::im(7) | st::IE);
    spin_until_exception(&mut k);
    k.set_c0(c0::STATUS, 0);
    check_timer_interrupt(&mut k, 0x180);
    show_ti(&mut k, false);
    k.nl();

    // Cause.IV: the special interrupt vector.
    k.say("interrupt with iv:");
    k.set_hook(Some(hook));
    k.set_c0(c0::CAUSE, ca::IV);
    compare_in(&mut k, 200);
    k.set_c0(c0::STATUS, st::im(7) | st::IE);
    spin_until_exception(&mut k);
    k.set_c0(c0::STATUS, 0);
    k.set_c0(c0::CAUSE, 0);
    check_timer_interrupt(&mut k, 0x200);
    k.nl();

    // WAIT: woken by the timer, EPC is the instruction after it.
    k.say("wait:");
    k.set_hook(Some(hook));
    compare_in(&mut k, 300);
    k.set_c0(c0::STATUS, st::im(7) | st::IE);
    k.a.emit(asm::wait(0));
    let after = k.a.here();
    k.a.nop();
    k.set_c0(c0::STATUS, 0);
    check_timer_interrupt(&mut k, 0x180);
    k.load_data(T0, data::EPC);
    k.check_label("epc", T0, after);
    k.nl();

    k.clear_hook();
    k.finish()
}

/// The Cause.DC kernel: DC is writable and, while set, Count stops.
pub fn count_freeze_kernel() -> GuestProgram {
    let mut k = Kernel::new("timer_dc", Console::Uart);
    k.say("cause.dc:");
    k.set_c0(c0::CAUSE, ca::DC);
    k.mfc0(T0, c0::CAUSE);
    k.check_masked("read", T0, ca::DC, ca::DC);
    k.mfc0(T2, c0::COUNT);
    for _ in 0..16 {
        k.a.nop();
    }
    k.mfc0(T3, c0::COUNT);
    k.a.emit(asm::xor(T3, T3, T2));
    k.a.emit(asm::sltiu(T3, T3, 1));
    k.yes("count frozen", T3, true);
    k.set_c0(c0::CAUSE, 0);
    k.mfc0(T2, c0::COUNT);
    for _ in 0..16 {
        k.a.nop();
    }
    k.mfc0(T3, c0::COUNT);
    k.a.emit(asm::subu(T3, T3, T2));
    k.yes("runs again", T3, true);
    k.nl();
    k.finish()
}
