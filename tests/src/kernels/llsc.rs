//! LL/SC: a plain LL/SC pair succeeds; SC fails after an ERET between
//! them (an exception taken and returned from, or an ERET executed
//! directly), and without a preceding LL; LLAddr holds the LL's physical
//! address. A store between LL and SC leaves the SC's outcome
//! UNPREDICTABLE in the architecture: that outcome is printed without
//! being judged, and only its consistency with memory is checked.

use super::rt::{Console, Kernel, c0, data};
use crate::programs::GuestProgram;
use hv_host::machine::asm::{self, T0, T1, T2, T3, T4};

/// The LL/SC word, in the data area through kseg0.
const WORD: u32 = 0x8000_0000 + data::SCRATCH as u32;
/// Another word, in a different 16-byte block.
const OTHER: u32 = WORD + 0x40;

fn set_word(k: &mut Kernel, v: u32) {
    k.a.li(T0, v);
    k.a.emit(asm::sw(T0, 0, T3));
}

fn check_word(k: &mut Kernel, want: u32) {
    k.a.emit(asm::lw(T0, 0, T3));
    k.check("mem", T0, want);
}

/// The LL/SC kernel.
pub fn kernel() -> GuestProgram {
    let mut k = Kernel::new("llsc", Console::Uart);
    k.a.li(T3, WORD);

    k.say("ll/sc:");
    set_word(&mut k, 5);
    k.a.emit(asm::ll(T1, 0, T3));
    k.a.emit(asm::addiu(T2, T1, 1));
    k.a.emit(asm::sc(T2, 0, T3));
    k.check("ll", T1, 5);
    k.check("sc", T2, 1);
    check_word(&mut k, 6);
    k.mfc0(T0, c0::LLADDR);
    k.check("lladdr", T0, (WORD - 0x8000_0000) >> 4);
    k.nl();

    k.say("sc without ll:");
    k.a.li(T2, 7);
    k.a.emit(asm::sc(T2, 0, T3));
    k.check("sc", T2, 0);
    check_word(&mut k, 6);
    k.nl();

    k.say("ll, syscall, sc:");
    let resume = k.a.new_label();
    k.a.emit(asm::ll(T1, 0, T3));
    k.arm(resume);
    k.a.emit(asm::syscall(0));
    k.a.bind(resume);
    k.a.li(T2, 8);
    k.a.emit(asm::sc(T2, 0, T3));
    k.load_data(T0, data::COUNT);
    k.check("taken", T0, 1);
    k.check("sc", T2, 0);
    check_word(&mut k, 6);
    k.nl();

    k.say("ll, eret, sc:");
    let next = k.a.new_label();
    k.a.la(T0, next);
    k.mtc0(T0, c0::EPC);
    k.a.emit(asm::ll(T1, 0, T3));
    k.a.emit(asm::eret());
    k.a.bind(next);
    k.a.li(T2, 9);
    k.a.emit(asm::sc(T2, 0, T3));
    k.check("sc", T2, 0);
    check_word(&mut k, 6);
    k.mfc0(T0, c0::STATUS);
    k.check("status", T0, 0);
    k.nl();

    k.say("ll, other kernel code, sc:");
    k.a.emit(asm::ll(T1, 0, T3));
    for _ in 0..8 {
        k.a.emit(asm::addiu(T4, T4, 1));
    }
    k.a.emit(asm::addiu(T2, T1, 1));
    k.a.emit(asm::sc(T2, 0, T3));
    k.check("sc", T2, 1);
    check_word(&mut k, 7);
    k.nl();

    for (title, addr, stored) in [
        ("ll, store same word, sc", WORD, 0x55u32),
        ("ll, store other block, sc", OTHER, 0x66),
    ] {
        k.say(&format!("{title} (unpredictable):"));
        set_word(&mut k, 10);
        k.a.emit(asm::ll(T1, 0, T3));
        k.a.li(T4, addr);
        k.a.li(T0, stored);
        k.a.emit(asm::sw(T0, 0, T4));
        k.a.li(T2, 11);
        k.a.emit(asm::sc(T2, 0, T3));
        k.show("sc", T2);
        // Memory holds 11 if the SC stored, else what was there.
        let before = if addr == WORD { stored } else { 10 };
        k.a.emit(asm::lw(T0, 0, T3));
        k.a.li(T1, before);
        k.a.li(T4, 11);
        k.a.emit(asm::movn(T1, T4, T2));
        k.a.emit(asm::xor(T0, T0, T1));
        k.a.emit(asm::sltiu(T0, T0, 1));
        k.yes("memory agrees", T0, true);
        k.nl();
    }
    k.finish()
}
