//! CP0 registers through MFC0/MTC0: each writable register's write mask,
//! the read-only registers, the configuration registers, DI/EI, and RDHWR
//! in kernel mode (user-mode RDHWR is in [`super::user_mode`]).
//!
//! Expected values are those of MIPS32 Release 2 Volume III for this
//! machine's configuration: 32 TLB entries, 32-bit physical addresses, no
//! FPU, no caches, no watch registers, no vectored interrupts, UserLocal.

use super::rt::{Console, Expect, Kernel, c0, exc};
use crate::programs::GuestProgram;
use hv_host::machine::asm::{self, T0, T1, T2, T3};

/// Writes `value` to `reg` and checks the read-back against `want`, on a
/// line `name <- value:`.
fn write_read(k: &mut Kernel, name: &str, reg: (u8, u8), value: u32, want: u32) {
    k.say(&format!("{name} <- {value:08x}:"));
    k.set_c0(reg, value);
    k.mfc0(T0, reg);
    k.check("read", T0, want);
    k.nl();
}

/// The same, checking only the bits in `mask`.
fn write_read_masked(k: &mut Kernel, name: &str, reg: (u8, u8), value: u32, mask: u32, want: u32) {
    k.say(&format!("{name} <- {value:08x}:"));
    k.set_c0(reg, value);
    k.mfc0(T0, reg);
    k.check_masked(&format!("read&{mask:08x}"), T0, mask, want);
    k.nl();
}

/// Checks that writing `reg` leaves it unchanged.
fn read_only(k: &mut Kernel, name: &str, reg: (u8, u8)) {
    k.say(&format!("{name}:"));
    k.mfc0(T0, reg);
    k.set_c0(reg, 0x5a5a_5a5a);
    k.mfc0(T1, reg);
    k.a.emit(asm::xor(T2, T0, T1));
    k.a.emit(asm::sltiu(T2, T2, 1));
    k.yes("unchanged by mtc0", T2, true);
    k.nl();
}

/// The CP0 register kernel.
pub fn kernel() -> GuestProgram {
    let mut k = Kernel::new("cp0_regs", Console::Uart);
    // Index values at or above the entry count are UNDEFINED to write;
    // P (bit 31) is read-only.
    write_read_masked(&mut k, "index", c0::INDEX, 0x0000_001f, 0x7fff_ffff, 0x1f);
    write_read_masked(&mut k, "index", c0::INDEX, 0x8000_000a, 0x7fff_ffff, 0xa);
    write_read_masked(&mut k, "index", c0::INDEX, 0, 0x7fff_ffff, 0);
    write_read(&mut k, "entrylo0", c0::ENTRYLO0, 0xffff_ffff, 0x03ff_ffff);
    write_read(&mut k, "entrylo0", c0::ENTRYLO0, 0, 0);
    write_read(&mut k, "entrylo1", c0::ENTRYLO1, 0xffff_ffff, 0x03ff_ffff);
    write_read(&mut k, "entrylo1", c0::ENTRYLO1, 0, 0);
    // BadVPN2 (bits 22..4) is written only by TLB exceptions.
    write_read_masked(
        &mut k,
        "context",
        c0::CONTEXT,
        0xffff_ffff,
        0xff80_000f,
        0xff80_0000,
    );
    write_read_masked(&mut k, "context", c0::CONTEXT, 0, 0xff80_000f, 0);
    write_read(&mut k, "userlocal", c0::USERLOCAL, 0x1234_5678, 0x1234_5678);
    write_read(&mut k, "pagemask", c0::PAGEMASK, 0xffff_ffff, 0x1fff_e000);
    write_read(&mut k, "pagemask", c0::PAGEMASK, 0x0000_6000, 0x0000_6000);
    write_read(&mut k, "pagemask", c0::PAGEMASK, 0, 0);
    write_read(&mut k, "hwrena", c0::HWRENA, 0xffff_ffff, 0x2000_000f);
    write_read(&mut k, "hwrena", c0::HWRENA, 0, 0);
    write_read(&mut k, "entryhi", c0::ENTRYHI, 0xffff_ffff, 0xffff_e0ff);
    write_read(&mut k, "entryhi", c0::ENTRYHI, 0, 0);
    write_read(&mut k, "compare", c0::COMPARE, 0x7fff_0000, 0x7fff_0000);
    // RP, FR, RE, MX, TS and KX/SX/UX are not implemented (no FPU, no
    // reverse endian, no DSP, MIPS32): ignored on write, read as zero.
    write_read(&mut k, "status", c0::STATUS, 0x1f60_ffe0, 0x1040_ff00);
    write_read(&mut k, "status", c0::STATUS, 0, 0);
    // IPTI = 7 and IPPCI are read-only; VS (bits 9..5) is not checked:
    // without vectored interrupts its behaviour is implementation-specific.
    write_read_masked(&mut k, "intctl", c0::INTCTL, 0, 0xffff_ffff, 0xe000_0000);
    write_read_masked(
        &mut k,
        "intctl",
        c0::INTCTL,
        0xffff_ffff,
        0xffff_fc1f,
        0xe000_0000,
    );
    write_read_masked(&mut k, "intctl", c0::INTCTL, 0, 0xffff_ffff, 0xe000_0000);
    // Of Cause only IV and IP1..IP0 take this write (DC is left out here,
    // see the timer_dc kernel; WP needs watch registers).
    write_read(&mut k, "cause", c0::CAUSE, 0xf7ff_ffff, 0x0080_0300);
    write_read(&mut k, "cause", c0::CAUSE, 0, 0);
    write_read(&mut k, "epc", c0::EPC, 0xdead_beef, 0xdead_beef);
    write_read(&mut k, "errorepc", c0::ERROREPC, 0xcafe_f00d, 0xcafe_f00d);
    write_read(&mut k, "ebase", c0::EBASE, 0xffff_ffff, 0xbfff_f000);
    write_read(
        &mut k,
        "ebase",
        c0::EBASE,
        super::rt::EBASE,
        super::rt::EBASE,
    );
    // K0 is writable; M, BE=0 (little-endian), AT=0 (MIPS32), AR=1
    // (Release 2), MT=1 (standard TLB) are fixed.
    write_read(&mut k, "config0", c0::CONFIG0, 0xffff_ffff, 0x8000_0487);
    write_read(&mut k, "config0", c0::CONFIG0, 0x0000_0003, 0x8000_0483);

    k.say("wired <- 00000005:");
    k.set_c0(c0::WIRED, 5);
    k.mfc0(T0, c0::WIRED);
    k.check("read", T0, 5);
    k.mfc0(T0, c0::RANDOM);
    k.a.emit(asm::sltiu(T1, T0, 5));
    k.a.emit(asm::sltiu(T2, T0, 32));
    k.a.emit(asm::xori(T1, T1, 1));
    k.a.emit(asm::and(T1, T1, T2));
    k.yes("random in [5,31]", T1, true);
    k.nl();
    write_read(&mut k, "wired", c0::WIRED, 0, 0);

    k.say("read-only:");
    k.nl();
    read_only(&mut k, "badvaddr", c0::BADVADDR);
    read_only(&mut k, "prid", c0::PRID);
    read_only(&mut k, "config1", c0::CONFIG1);
    read_only(&mut k, "config2", c0::CONFIG2);
    read_only(&mut k, "config3", c0::CONFIG3);

    k.say("ids:");
    k.mfc0(T0, c0::PRID);
    k.check("prid", T0, 0x0001_9300);
    // Config1: M, MMUSize-1 = 31, no caches, no FPU, no watch/perf.
    k.mfc0(T0, c0::CONFIG1);
    k.check("config1", T0, 0xbe00_0000);
    k.mfc0(T0, c0::CONFIG2);
    k.check("config2", T0, 0x8000_0000);
    // Config3: ULRI (UserLocal) only.
    k.mfc0(T0, c0::CONFIG3);
    k.check("config3", T0, 0x0000_2000);
    k.nl();

    k.say("count:");
    k.set_c0(c0::COUNT, 0x1000_0000);
    k.mfc0(T0, c0::COUNT);
    k.a.li(T1, 0x1000_0000);
    k.a.emit(asm::subu(T2, T0, T1));
    k.a.emit(asm::sltiu(T2, T2, 0x7fff));
    k.yes("written", T2, true);
    k.mfc0(T0, c0::COUNT);
    for _ in 0..20 {
        k.a.nop();
    }
    k.mfc0(T1, c0::COUNT);
    k.a.emit(asm::subu(T2, T1, T0));
    k.yes("advances", T2, true);
    k.nl();

    k.say("lladdr:");
    k.a.li(T3, 0x8000_0860);
    k.a.emit(asm::ll(T0, 0, T3));
    k.mfc0(T0, c0::LLADDR);
    k.check("after ll 80000860", T0, 0x86);
    k.nl();

    k.say("di/ei:");
    k.set_c0(c0::STATUS, 1); // IE with every IM bit clear: nothing taken
    k.a.emit(asm::di(T0));
    k.a.emit(asm::ehb());
    k.mfc0(T1, c0::STATUS);
    k.check("di rt", T0, 1);
    k.check("status", T1, 0);
    k.a.emit(asm::ei(T0));
    k.a.emit(asm::ehb());
    k.mfc0(T1, c0::STATUS);
    k.check("ei rt", T0, 0);
    k.check("status", T1, 1);
    k.a.emit(asm::di(asm::ZERO));
    k.a.emit(asm::ehb());
    k.mfc0(T1, c0::STATUS);
    k.check("di", T1, 0);
    k.nl();

    k.say("rdhwr (kernel, hwrena=0):");
    k.a.emit(asm::rdhwr(T0, 0));
    k.check("cpunum", T0, 0);
    k.a.emit(asm::rdhwr(T0, 1));
    k.check("synci_step", T0, 0);
    k.a.emit(asm::rdhwr(T0, 3));
    k.check("ccres", T0, 1);
    k.a.emit(asm::rdhwr(T0, 29));
    k.check("ulr", T0, 0x1234_5678);
    k.mfc0(T0, c0::COUNT);
    k.a.emit(asm::rdhwr(T1, 2));
    k.a.emit(asm::subu(T2, T1, T0));
    k.a.emit(asm::sltiu(T2, T2, 0x7fff));
    k.yes("cc follows count", T2, true);
    k.nl();

    for n in [4u8, 30] {
        k.expect_exception(&format!("rdhwr {n}"), |k, at| {
            k.a.emit(asm::rdhwr(T0, n));
            Expect::general(exc::RI, at)
        });
    }
    k.finish()
}
