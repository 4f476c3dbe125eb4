//! The joint TLB: TLBWI/TLBR round trip (the G bit is the AND of both
//! EntryLo G bits), TLBP hit and miss (Index.P), TLBWR under Wired, ASIDs
//! and global entries, 4 KiB/16 KiB/1 MiB/16 MiB pages, the TLB Modified,
//! Invalid and Refill exceptions (vector, BadVAddr, Context.BadVPN2,
//! EntryHi.VPN2 with the ASID kept), refill of an instruction fetch, refill
//! with EXL=1 at offset 0x180, and kseg3/sseg mappings used from kernel
//! mode (kseg0 ignores the TLB).

use super::rt::{Console, Epc, Expect, Kernel, c0, data, exc, st};
use crate::programs::GuestProgram;
use hv_host::machine::asm::{self, S7, T0, T1, T2, ZERO};

/// EntryLo for physical address `pa` with cacheability 3 and `flags`.
const fn lo(pa: u32, flags: u32) -> u32 {
    ((pa >> 12) << 6) | (3 << 3) | flags
}
const G: u32 = 1;
const V: u32 = 2;
const D: u32 = 4;

/// Test frames and the marker word each holds at offset 0.
const F_A: (u32, u32) = (0x0010_0000, 0xaaaa_0001);
const F_B: (u32, u32) = (0x0010_1000, 0xbbbb_0002);
const F_G: (u32, u32) = (0x0010_2000, 0x6666_0003);
const F_D: (u32, u32) = (0x0010_3000, 0xdddd_0004);

/// The ASID the fault tests run under.
const ASID: u32 = 0x33;
/// Context.PTEBase during the fault tests.
const PTEBASE: u32 = 0xc000_0000;

fn tlb_write(k: &mut Kernel, index: u32, hi: u32, lo0: u32, lo1: u32, mask: u32) {
    k.set_c0(c0::INDEX, index);
    k.set_c0(c0::ENTRYHI, hi);
    k.set_c0(c0::ENTRYLO0, lo0);
    k.set_c0(c0::ENTRYLO1, lo1);
    k.set_c0(c0::PAGEMASK, mask);
    k.a.emit(asm::tlbwi());
    k.a.emit(asm::ehb());
}

fn poke(k: &mut Kernel, pa: u32, v: u32) {
    k.a.li(T0, 0x8000_0000 | pa);
    k.a.li(T1, v);
    k.a.emit(asm::sw(T1, 0, T0));
}

fn load_check(k: &mut Kernel, name: &str, va: u32, want: u32) {
    k.a.li(T0, va);
    k.a.emit(asm::lw(T1, 0, T0));
    k.check(name, T1, want);
}

/// The expected Context after a TLB fault on `va`.
const fn context(va: u32) -> u32 {
    PTEBASE | ((va >> 9) & 0x007f_fff0)
}

fn check_fault_regs(k: &mut Kernel, va: u32) {
    k.load_data(T0, data::CONTEXT);
    k.check("context", T0, context(va));
    k.load_data(T0, data::ENTRYHI);
    k.check("entryhi", T0, (va & 0xffff_e000) | ASID);
}

/// Gives every TLB entry a distinct VPN2 in kseg0 (never looked up) and no
/// valid page, prints `init: entries=N` (checked against 32), and leaves
/// the entry count in `s7` and EntryHi zero.
pub fn init_tlb(k: &mut Kernel) {
    k.say("init:");
    k.mfc0(T0, c0::CONFIG1);
    k.a.emit(asm::ext(S7, T0, 25, 6));
    k.a.emit(asm::addiu(S7, S7, 1));
    k.check("entries", S7, 32);
    k.set_c0(c0::ENTRYLO0, 0);
    k.set_c0(c0::ENTRYLO1, 0);
    k.set_c0(c0::PAGEMASK, 0);
    k.a.li(T0, 0);
    k.a.li(T1, 0x8000_0000);
    let top = k.a.here();
    k.mtc0(T0, c0::INDEX);
    k.mtc0(T1, c0::ENTRYHI);
    k.a.emit(asm::tlbwi());
    k.a.emit(asm::addiu(T0, T0, 1));
    k.a.bne(T0, S7, top);
    k.a.emit(asm::addiu(T1, T1, 0x2000));
    k.set_c0(c0::ENTRYHI, 0);
    k.nl();
}

/// The TLB kernel.
pub fn kernel() -> GuestProgram {
    let mut k = Kernel::new("tlb", Console::Uart);

    init_tlb(&mut k);

    for (pa, v) in [F_A, F_B, F_G, F_D] {
        poke(&mut k, pa, v);
    }

    // TLBWI then TLBR: G reads back as the AND of both G bits.
    k.say("tlbwi/tlbr:");
    let lo0 = lo(0x0040_0000, D | V | G);
    let lo1 = lo(0x0040_4000, V);
    tlb_write(&mut k, 3, 0x1234_8000 | 0x42, lo0, lo1, 0x6000);
    for r in [c0::ENTRYHI, c0::ENTRYLO0, c0::ENTRYLO1, c0::PAGEMASK] {
        k.set_c0(r, 0);
    }
    k.set_c0(c0::INDEX, 3);
    k.a.emit(asm::tlbr());
    k.a.emit(asm::ehb());
    k.mfc0(T0, c0::PAGEMASK);
    k.check("pagemask", T0, 0x6000);
    k.mfc0(T0, c0::ENTRYHI);
    k.check("entryhi", T0, 0x1234_8042);
    k.mfc0(T0, c0::ENTRYLO0);
    k.check("entrylo0", T0, lo0 & !G);
    k.mfc0(T0, c0::ENTRYLO1);
    k.check("entrylo1", T0, lo1);
    k.nl();

    k.say("tlbp:");
    for (name, hi, want) in [("hit", 0x1234_8042, 3), ("hit odd half", 0x1234_c042, 3)] {
        k.set_c0(c0::ENTRYHI, hi);
        k.a.emit(asm::tlbp());
        k.a.emit(asm::ehb());
        k.mfc0(T0, c0::INDEX);
        k.check(name, T0, want);
    }
    k.set_c0(c0::ENTRYHI, 0x1234_8043);
    k.a.emit(asm::tlbp());
    k.a.emit(asm::ehb());
    k.mfc0(T0, c0::INDEX);
    k.check_masked("miss other asid: p", T0, 0x8000_0000, 0x8000_0000);
    k.nl();

    // ASIDs and a global entry.
    tlb_write(&mut k, 4, 0x0020_0000 | 0x05, lo(F_G.0, V | D | G), G, 0);
    tlb_write(&mut k, 5, 0x0010_0000 | 0x01, lo(F_A.0, V | D), 0, 0);
    tlb_write(&mut k, 6, 0x0010_0000 | 0x02, lo(F_B.0, V | D), 0, 0);
    k.say("global tlbp:");
    k.set_c0(c0::ENTRYHI, 0x0020_0000 | 0x77);
    k.a.emit(asm::tlbp());
    k.a.emit(asm::ehb());
    k.mfc0(T0, c0::INDEX);
    k.check("index", T0, 4);
    k.nl();
    for asid in [1u32, 2] {
        k.say(&format!("asid {asid}:"));
        k.set_c0(c0::ENTRYHI, asid);
        load_check(
            &mut k,
            "00100000",
            0x0010_0000,
            if asid == 1 { F_A.1 } else { F_B.1 },
        );
        load_check(&mut k, "global 00200000", 0x0020_0000, F_G.1);
        k.nl();
    }

    // Page sizes: markers near the ends of even and odd pages.
    k.say("pages:");
    let sizes = [
        (
            "16k",
            7,
            0x0300_0000,
            0x6000,
            0x0040_0000,
            0x0040_8000,
            0x3ff0,
            0x2004,
        ),
        (
            "1m",
            8,
            0x0400_0000,
            0x001f_e000,
            0x0060_0000,
            0x0080_0000,
            0xf_fff8,
            0x10,
        ),
        (
            "16m",
            9,
            0x0600_0000,
            0x01ff_e000,
            0x0100_0000,
            0x0200_0000,
            0xab_cde0,
            0x12_3450,
        ),
    ];
    k.set_c0(c0::ENTRYHI, 0);
    for (name, index, va, mask, pa0, pa1, off0, off1) in sizes {
        let size = (mask | 0x1fff) / 2 + 1;
        poke(&mut k, pa0 + off0, 0x5000_0000 | index);
        poke(&mut k, pa1 + off1, 0x5100_0000 | index);
        tlb_write(&mut k, index, va, lo(pa0, V | D), lo(pa1, V | D), mask);
        k.set_c0(c0::ENTRYHI, 0);
        load_check(
            &mut k,
            &format!("{name} even"),
            va + off0,
            0x5000_0000 | index,
        );
        load_check(
            &mut k,
            &format!("{name} odd"),
            va + size + off1,
            0x5100_0000 | index,
        );
    }
    k.set_c0(c0::PAGEMASK, 0);
    k.set_c0(c0::INDEX, 9);
    k.a.emit(asm::tlbr());
    k.a.emit(asm::ehb());
    k.mfc0(T0, c0::PAGEMASK);
    k.check("16m tlbr pagemask", T0, 0x01ff_e000);
    k.set_c0(c0::PAGEMASK, 0);
    k.set_c0(c0::ENTRYHI, 0);
    k.nl();

    // TLBWR picks an index in [Wired, top].
    k.say("tlbwr wired=10:");
    k.set_c0(c0::WIRED, 10);
    k.set_c0(c0::ENTRYHI, 0x0050_0000);
    k.set_c0(c0::ENTRYLO0, lo(F_A.0, V | D));
    k.set_c0(c0::ENTRYLO1, 0);
    k.a.emit(asm::tlbwr());
    k.a.emit(asm::ehb());
    k.a.emit(asm::tlbp());
    k.a.emit(asm::ehb());
    k.mfc0(T0, c0::INDEX);
    k.a.emit(asm::sltiu(T1, T0, 10));
    k.a.emit(asm::sltu(T2, T0, S7));
    k.a.emit(asm::xori(T1, T1, 1));
    k.a.emit(asm::and(T1, T1, T2));
    k.yes("index in [10,top]", T1, true);
    load_check(&mut k, "00500000", 0x0050_0000, F_A.1);
    k.set_c0(c0::WIRED, 0);
    k.nl();

    // kseg3 and sseg are mapped in kernel mode; kseg0 ignores the TLB
    // (the init entries carry kseg0 VPN2s).
    tlb_write(&mut k, 12, 0xe000_0000, lo(F_A.0, V | D | G), G, 0);
    tlb_write(&mut k, 13, 0xc000_0000, lo(F_B.0, V | D | G), G, 0);
    k.set_c0(c0::ENTRYHI, 0);
    k.say("segments:");
    load_check(&mut k, "kseg3 e0000000", 0xe000_0000, F_A.1);
    load_check(&mut k, "sseg c0000000", 0xc000_0000, F_B.1);
    load_check(&mut k, "kseg0 80100000", 0x8010_0000, F_A.1);
    load_check(&mut k, "kseg1 a0101000", 0xa010_1000, F_B.1);
    k.nl();

    // Faults, under ASID 0x33 with Context.PTEBase set.
    tlb_write(
        &mut k,
        11,
        0x0060_0000 | ASID,
        lo(F_D.0, V),
        lo(F_D.0, 0),
        0,
    );
    k.set_c0(c0::ENTRYHI, ASID);
    k.set_c0(c0::CONTEXT, PTEBASE);
    k.say("clean page:");
    load_check(&mut k, "load", 0x0060_0000, F_D.1);
    k.nl();
    k.a.li(T2, 0x0060_0004);
    k.expect_exception("store to clean page", |k, at| {
        k.a.emit(asm::sw(ZERO, 0, T2));
        Expect::general(exc::MOD, at).badv(0x0060_0004)
    });
    fault_regs_line(&mut k, 0x0060_0004);
    k.a.li(T2, 0x0060_1008);
    k.expect_exception("load from invalid page", |k, at| {
        k.a.emit(asm::lw(T0, 0, T2));
        Expect::general(exc::TLBL, at).badv(0x0060_1008)
    });
    fault_regs_line(&mut k, 0x0060_1008);
    k.expect_exception("store to invalid page", |k, at| {
        k.a.emit(asm::sw(T0, 0, T2));
        Expect::general(exc::TLBS, at).badv(0x0060_1008)
    });
    k.a.li(T2, 0x0070_2000);
    k.expect_exception("load refill", |k, at| {
        k.a.emit(asm::lw(T0, 0, T2));
        Expect::general(exc::TLBL, at).badv(0x0070_2000).vec(0)
    });
    fault_regs_line(&mut k, 0x0070_2000);
    k.a.li(T2, 0x0070_4004);
    k.expect_exception("store refill", |k, at| {
        k.a.emit(asm::sw(T0, 0, T2));
        Expect::general(exc::TLBS, at).badv(0x0070_4004).vec(0)
    });
    fault_regs_line(&mut k, 0x0070_4004);

    k.say("fetch refill:");
    let resume = k.a.new_label();
    k.arm(resume);
    k.a.li(T2, 0x0070_8000);
    k.a.emit(asm::jr(T2));
    k.a.nop();
    k.a.bind(resume);
    k.check_exception(Expect {
        vec: 0,
        code: exc::TLBL,
        bd: false,
        ce: None,
        epc: Epc::Value(0x0070_8000),
        badv: Some(0x0070_8000),
    });
    k.nl();
    fault_regs_line(&mut k, 0x0070_8000);

    k.say("refill with exl=1:");
    let resume = k.a.new_label();
    k.arm(resume);
    k.set_c0(c0::EPC, 0x0bad_c0de);
    k.set_c0(c0::STATUS, st::EXL);
    k.a.li(T2, 0x0071_0000);
    k.a.emit(asm::lw(T0, 0, T2));
    k.a.bind(resume);
    k.check_exception(Expect {
        vec: 0x180,
        code: exc::TLBL,
        bd: false,
        ce: None,
        epc: Epc::Value(0x0bad_c0de),
        badv: Some(0x0071_0000),
    });
    k.nl();
    fault_regs_line(&mut k, 0x0071_0000);

    k.set_c0(c0::ENTRYHI, 0);
    k.finish()
}

fn fault_regs_line(k: &mut Kernel, va: u32) {
    k.say(" ");
    check_fault_regs(k, va);
    k.nl();
}
