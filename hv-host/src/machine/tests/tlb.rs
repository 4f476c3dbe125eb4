//! The TLB as software sees it: refill versus invalid versus modified
//! faults and the registers they set, ASIDs and global entries, page sizes,
//! Wired and Random, TLBP, TLBR, and rewrites taking effect at once.

use super::*;
use crate::machine::tlb::TlbEntry;
use crate::machine::tlb::lo::{D, G, V};

/// A kuseg address used for data mappings.
const VA: u32 = 0x0060_0000;

/// Kernel code at [`ORIGIN`] on the normal vectors (ERL clear, so kuseg is
/// mapped).
fn kernel() -> Asm {
    let mut a = Asm::new(ORIGIN);
    normal_vectors(&mut a);
    a
}

#[test]
fn refill_sets_badvaddr_context_and_entryhi() {
    // (access, expected code); the fetch jumps to the address.
    let va = 0x0123_4564;
    let accesses: [(&str, u32, ExcCode); 3] = [
        ("load", lw(T1, 0, T0), ExcCode::Tlbl),
        ("store", sw(T1, 0, T0), ExcCode::Tlbs),
        ("fetch", jr(T0), ExcCode::Tlbl),
    ];
    for (what, word, code) in accesses {
        let mut a = kernel();
        a.li(T0, 0xffff_ffff);
        a.emit(mtc0(T0, reg::CONTEXT, 0)); // PTEBase = 0xff80_0000
        a.li(T0, 0x5a);
        a.emit(mtc0(T0, reg::ENTRYHI, 0)); // ASID 0x5a
        a.li(T0, va);
        let at = a.pc();
        a.emit(word);
        a.nop();
        let mut m = boot(a, []);
        assert_eq!(m.run(1000), Vector::Refill.exit(code), "{what}");
        assert_eq!(m.read_cp0(reg::BADVADDR, 0), va, "{what}");
        assert_eq!(
            m.read_cp0(reg::CONTEXT, 0),
            0xff80_0000 | ((va >> 13) << 4),
            "{what}"
        );
        assert_eq!(
            m.read_cp0(reg::ENTRYHI, 0),
            0x0123_4000 | 0x5a,
            "{what}: VPN2, ASID kept"
        );
        let epc = if what == "fetch" { va } else { at };
        assert_eq!(m.read_cp0(reg::EPC, 0), epc, "{what}");
    }
}

#[test]
fn invalid_and_modified_go_to_the_general_vector() {
    // Even page: valid and clean. Odd page: invalid.
    let even = entry_lo(0x0002_0000, V);
    let odd = entry_lo(0x0002_1000, D);
    let cases: [(&str, u32, u32, Option<ExcCode>); 5] = [
        ("load even", lw(T1, 0x10, T0), VA + 0x10, None),
        (
            "store even (clean)",
            sw(T1, 0x10, T0),
            VA + 0x10,
            Some(ExcCode::Mod),
        ),
        (
            "load odd (invalid)",
            lw(T1, 0x1010, T0),
            VA + 0x1010,
            Some(ExcCode::Tlbl),
        ),
        (
            "store odd (invalid)",
            sw(T1, 0x1010, T0),
            VA + 0x1010,
            Some(ExcCode::Tlbs),
        ),
        (
            "fetch odd (invalid)",
            jr(T2),
            VA + 0x1000,
            Some(ExcCode::Tlbl),
        ),
    ];
    for (what, word, bad, code) in cases {
        let mut a = kernel();
        a.li(T0, 7);
        a.emit(mtc0(T0, reg::ENTRYHI, 0)); // ASID 7
        tlb_write(&mut a, 4, VA | 7, even, odd, 0);
        a.li(T0, VA).li(T2, VA + 0x1000).li(T1, 0x77);
        a.emit(word);
        a.nop();
        exit_ok(&mut a);
        let mut m = boot(a, []);
        set_phys_word(&mut m, 0x0002_0010, 0xabcd);
        match code {
            None => {
                assert_eq!(m.run(1000), Exit::Shutdown { code: 0 }, "{what}");
                assert_eq!(m.gpr(T1.num()), 0xabcd, "{what}");
            }
            Some(code) => {
                assert_eq!(m.run(1000), Vector::General.exit(code), "{what}");
                assert_eq!(m.read_cp0(reg::BADVADDR, 0), bad, "{what}");
                assert_eq!(m.read_cp0(reg::ENTRYHI, 0), VA | 7, "{what}: EntryHi");
                assert_eq!(
                    m.read_cp0(reg::CONTEXT, 0),
                    (bad >> 13) << 4,
                    "{what}: Context"
                );
                assert_eq!(
                    phys_word(&m, 0x0002_0010),
                    0xabcd,
                    "{what}: memory unchanged"
                );
            }
        }
    }
}

#[test]
fn asid_match_and_global_entries() {
    // (entry ASID, G in lo0, G in lo1, current ASID, hits)
    let cases = [
        (5, false, false, 5, true),
        (5, false, false, 6, false),
        (5, true, true, 6, true),
        (5, true, true, 0xff, true),
        // The entry is global only if both EntryLo G bits are set.
        (5, true, false, 6, false),
        (5, false, true, 6, false),
    ];
    for (asid, g0, g1, current, hits) in cases {
        let g = |on: bool| if on { G } else { 0 };
        let mut a = kernel();
        tlb_write(
            &mut a,
            9,
            VA | asid,
            entry_lo(0x0002_0000, V | g(g0)),
            entry_lo(0x0002_1000, V | g(g1)),
            0,
        );
        a.li(T0, current);
        a.emit(mtc0(T0, reg::ENTRYHI, 0));
        a.li(T0, VA);
        a.emit(lw(S0, 0x20, T0));
        exit_ok(&mut a);
        let mut m = boot(a, []);
        set_phys_word(&mut m, 0x0002_0020, 0x600d);
        let what = format!("entry ASID {asid} G {g0}/{g1}, ASID {current}");
        if hits {
            assert_eq!(m.run(1000), Exit::Shutdown { code: 0 }, "{what}");
            assert_eq!(m.gpr(S0.num()), 0x600d, "{what}");
        } else {
            assert_eq!(m.run(1000), Vector::Refill.exit(ExcCode::Tlbl), "{what}");
            assert_eq!(m.read_cp0(reg::ENTRYHI, 0), VA | current, "{what}");
        }
    }
}

#[test]
fn page_sizes() {
    // (PageMask, page size, virtual pair base, even and odd physical pages)
    let sizes: [(u32, u32, u32, u32, u32); 4] = [
        (0, 0x1000, 0x0100_0000, 0x0002_0000, 0x0003_5000),
        (0x6000, 0x4000, 0x0100_0000, 0x0004_0000, 0x0005_c000),
        (
            0x001f_e000,
            0x10_0000,
            0x0200_0000,
            0x0010_0000,
            0x0030_0000,
        ),
        (0x01ff_e000, 0x100_0000, 0x4000_0000, 0, 0x0100_0000),
    ];
    for (mask, size, va, even, odd) in sizes {
        let offsets = [size - 4, size / 2 + 0x40];
        let mut a = kernel();
        tlb_write(
            &mut a,
            3,
            va,
            entry_lo(even, V | D),
            entry_lo(odd, V | D),
            mask,
        );
        let dests = [S0, S1, S2, S3];
        let mut i = 0;
        for page in [0, size] {
            for off in offsets {
                a.li(T0, va + page + off);
                a.emit(lw(dests[i], 0, T0));
                i += 1;
            }
        }
        // Read back the mask; then fall just past the pair.
        a.emit(tlbr());
        a.emit(mfc0(S4, reg::PAGEMASK, 0));
        a.li(T0, va + 2 * size);
        a.emit(lw(S5, 0, T0));
        let mut m = boot_ram(32 << 20, a, []);
        let mut want = Vec::new();
        for (p, pa) in [even, odd].into_iter().enumerate() {
            for (o, off) in offsets.into_iter().enumerate() {
                let v = 0x1000 * (p as u32 + 1) + o as u32;
                set_phys_word(&mut m, pa + off, v);
                want.push(v);
            }
        }
        assert_eq!(
            m.run(1000),
            Vector::Refill.exit(ExcCode::Tlbl),
            "size {size:#x}"
        );
        let got: Vec<u32> = dests.iter().map(|r| m.gpr(r.num())).collect();
        assert_eq!(got, want, "size {size:#x}");
        assert_eq!(m.gpr(S4.num()), mask, "size {size:#x}");
        assert_eq!(
            m.read_cp0(reg::BADVADDR, 0),
            va + 2 * size,
            "size {size:#x}"
        );
    }
}

#[test]
fn random_stays_between_wired_and_the_top() {
    let mut a = kernel();
    a.li(T0, 10);
    a.emit(mtc0(T0, reg::WIRED, 0));
    a.li(T0, 0x8000_8000).li(T2, 64);
    let top = a.here();
    a.emit(mfc0(T1, reg::RANDOM, 0));
    a.emit(sw(T1, 0, T0));
    a.emit(addiu(T0, T0, 4));
    a.emit(addiu(T2, T2, -1));
    a.nop();
    a.bgtz(T2, top);
    a.nop();
    exit_ok(&mut a);
    let mut m = boot(a, []);
    assert_eq!(m.run(10_000), Exit::Shutdown { code: 0 });
    let seen: Vec<u32> = (0..64).map(|i| phys_word(&m, 0x8000 + 4 * i)).collect();
    assert!(seen.iter().all(|r| (10..=31).contains(r)), "{seen:?}");
    let mut distinct = seen.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() >= 10, "Random varies: {distinct:?}");
    assert_eq!(m.read_cp0(reg::WIRED, 0), 10);
}

#[test]
fn tlbwr_never_replaces_a_wired_entry() {
    let mut a = kernel();
    for i in 0..8 {
        let vpn = 0x0100_0000 + i * 0x2000;
        tlb_write(
            &mut a,
            i,
            vpn,
            entry_lo(0x2_0000, V | G),
            entry_lo(0x2_0000, V | G),
            0,
        );
    }
    a.li(T0, 8);
    a.emit(mtc0(T0, reg::WIRED, 0));
    a.emit(mtc0(ZERO, reg::PAGEMASK, 0));
    a.li(T0, 0x0200_0000).li(T2, 100).li(T3, 0x2000);
    a.li(T1, entry_lo(0x3_0000, V));
    a.emit(mtc0(T1, reg::ENTRYLO0, 0))
        .emit(mtc0(T1, reg::ENTRYLO1, 0));
    let top = a.here();
    a.emit(mtc0(T0, reg::ENTRYHI, 0));
    a.emit(tlbwr());
    a.emit(addu(T0, T0, T3));
    a.emit(addiu(T2, T2, -1));
    a.nop();
    a.bgtz(T2, top);
    a.nop();
    exit_ok(&mut a);
    let mut m = boot(a, []);
    assert_eq!(m.run(10_000), Exit::Shutdown { code: 0 });
    for i in 0..8u32 {
        let e = m.tlb().entry(i as usize);
        assert_eq!(e.entry_hi, 0x0100_0000 + i * 0x2000, "wired entry {i} kept");
        assert!(e.global);
    }
    let written = (8..32)
        .filter(|&i| {
            let e = m.tlb().entry(i);
            assert!(
                *e == TlbEntry::default()
                    || (0x0200_0000..0x0200_0000 + 100 * 0x2000).contains(&e.entry_hi),
                "entry {i}: {e:?}"
            );
            *e != TlbEntry::default()
        })
        .count();
    assert!(
        written >= 8,
        "tlbwr spreads over the non-wired entries: {written}"
    );
}

#[test]
fn tlbp_hit_and_miss() {
    let mut a = kernel();
    tlb_write(
        &mut a,
        7,
        VA | 3,
        entry_lo(0x2_0000, V),
        entry_lo(0x2_1000, V),
        0,
    );
    tlb_write(
        &mut a,
        20,
        0x0080_0000 | 9,
        entry_lo(0x2_0000, V | G),
        entry_lo(0x2_1000, V | G),
        0,
    );
    let probes = [
        (VA | 3, S0),             // hit
        ((VA + 0x1000) | 3, S1),  // odd page of the same pair: hit
        (VA | 4, S2),             // other ASID: miss
        ((VA + 0x2000) | 3, S3),  // next pair: miss
        (0x0080_0000 | 0x44, S4), // global entry: hit under any ASID
    ];
    for (hi, dest) in probes {
        a.li(T0, hi);
        a.emit(mtc0(T0, reg::ENTRYHI, 0));
        a.emit(tlbp());
        a.emit(mfc0(dest, reg::INDEX, 0));
    }
    exit_ok(&mut a);
    let mut m = boot(a, []);
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    let g = |r: Reg| m.gpr(r.num());
    assert_eq!(g(S0), 7);
    assert_eq!(g(S1), 7);
    assert_ne!(g(S2) & cp0::INDEX_P, 0, "miss sets Index.P");
    assert_ne!(g(S3) & cp0::INDEX_P, 0);
    assert_eq!(g(S4), 20, "hit clears Index.P");
}

#[test]
fn tlbr_round_trip() {
    let lo0 = entry_lo(0x0012_4000, V | D | G | (3 << 3));
    let lo1 = entry_lo(0x0012_8000, V | G | (2 << 3));
    let mut a = kernel();
    // A 16 KiB pair: VPN2 bit 13 (and 14) are not part of the entry.
    tlb_write(&mut a, 12, 0x1234_6000 | 0x42, lo0, lo1, 0x6000);
    // One with G in only one EntryLo: not global, G reads back clear.
    tlb_write(
        &mut a,
        13,
        0x0800_0000 | 0x17,
        entry_lo(0x1000, V | G),
        entry_lo(0x2000, V),
        0,
    );
    for (index, dests) in [(12, [S0, S1, S2, S3]), (13, [S4, S5, S6, S7])] {
        for rd in [reg::ENTRYHI, reg::ENTRYLO0, reg::ENTRYLO1, reg::PAGEMASK] {
            a.emit(mtc0(ZERO, rd, 0));
        }
        a.li(T0, index);
        a.emit(mtc0(T0, reg::INDEX, 0));
        a.emit(tlbr());
        for (rd, dest) in [reg::ENTRYHI, reg::ENTRYLO0, reg::ENTRYLO1, reg::PAGEMASK]
            .into_iter()
            .zip(dests)
        {
            a.emit(mfc0(dest, rd, 0));
        }
    }
    exit_ok(&mut a);
    let mut m = boot(a, []);
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    let g = |r: Reg| m.gpr(r.num());
    assert_eq!(
        [g(S0), g(S1), g(S2), g(S3)],
        [0x1234_0000 | 0x42, lo0, lo1, 0x6000]
    );
    assert_eq!(
        [g(S4), g(S5), g(S6), g(S7)],
        [
            0x0800_0000 | 0x17,
            entry_lo(0x1000, V),
            entry_lo(0x2000, V),
            0
        ]
    );
    assert!(m.tlb().entry(12).global);
    assert!(!m.tlb().entry(13).global);
}

#[test]
fn rewriting_an_entry_takes_effect_at_once() {
    let mut a = kernel();
    a.li(T0, VA);
    // Map VA -> page A, read and write it (filling the caches).
    tlb_write(
        &mut a,
        5,
        VA,
        entry_lo(0x2_0000, V | D),
        entry_lo(0x2_1000, V | D),
        0,
    );
    a.emit(lw(S0, 0, T0));
    a.li(T1, 0x1111);
    a.emit(sw(T1, 4, T0));
    // Same index, page B: reads and writes go to B.
    tlb_write(
        &mut a,
        5,
        VA,
        entry_lo(0x3_0000, V | D),
        entry_lo(0x3_1000, V | D),
        0,
    );
    a.emit(lw(S1, 0, T0));
    a.li(T1, 0x2222);
    a.emit(sw(T1, 4, T0));
    // Replace the entry with an unrelated one, map VA at another index.
    tlb_write(
        &mut a,
        5,
        0x0700_0000,
        entry_lo(0x2_0000, V),
        entry_lo(0x2_0000, V),
        0,
    );
    tlb_write(
        &mut a,
        6,
        VA,
        entry_lo(0x2_0000, V | D),
        entry_lo(0x2_1000, V | D),
        0,
    );
    a.emit(lw(S2, 0, T0));
    // Clean (D = 0): the store now raises Mod.
    tlb_write(
        &mut a,
        6,
        VA,
        entry_lo(0x2_0000, V),
        entry_lo(0x2_1000, V),
        0,
    );
    a.emit(lw(S3, 4, T0));
    a.emit(sw(T1, 8, T0));
    let mut m = boot(a, []);
    set_phys_word(&mut m, 0x2_0000, 0xaaaa);
    set_phys_word(&mut m, 0x3_0000, 0xbbbb);
    assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Mod));
    assert_eq!(m.gpr(S0.num()), 0xaaaa);
    assert_eq!(m.gpr(S1.num()), 0xbbbb);
    assert_eq!(phys_word(&m, 0x2_0004), 0x1111);
    assert_eq!(phys_word(&m, 0x3_0004), 0x2222);
    assert_eq!(m.gpr(S2.num()), 0xaaaa);
    assert_eq!(m.gpr(S3.num()), 0x1111);
    assert_eq!(phys_word(&m, 0x2_0008), 0, "the Mod store did not happen");
    assert_eq!(m.read_cp0(reg::BADVADDR, 0), VA + 8);
}

#[test]
fn remapping_a_code_page_runs_the_new_code() {
    // The same virtual page runs a routine from physical page A, then,
    // after a TLB rewrite, from page B.
    let routine = |value: i16| {
        let mut r = Asm::new(VA);
        r.emit(addiu(S0, S0, value));
        r.emit(jr(RA));
        r.nop();
        r
    };
    let mut a = kernel();
    a.li(T0, VA);
    tlb_write(
        &mut a,
        5,
        VA,
        entry_lo(0x2_0000, V),
        entry_lo(0x2_1000, V),
        0,
    );
    a.emit(jalr(RA, T0));
    a.nop();
    tlb_write(
        &mut a,
        5,
        VA,
        entry_lo(0x3_0000, V),
        entry_lo(0x3_1000, V),
        0,
    );
    a.emit(jalr(RA, T0));
    a.nop();
    exit_ok(&mut a);
    let mut m = boot(a, []);
    place_at(&mut m, 0x2_0000, routine(1));
    place_at(&mut m, 0x3_0000, routine(100));
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    assert_eq!(m.gpr(S0.num()), 101);
}

#[test]
fn changing_the_asid_changes_what_user_mode_sees() {
    // Two entries for the same page under ASIDs 1 and 2, on different
    // physical pages. The user program loads, makes a syscall (whose
    // handler switches to ASID 2), loads again, and breaks.
    let mut k = kernel();
    map_user(&mut k);
    tlb_write(
        &mut k,
        1,
        VA | 1,
        entry_lo(0x2_0000, V),
        entry_lo(0x2_1000, V),
        0,
    );
    tlb_write(
        &mut k,
        2,
        VA | 2,
        entry_lo(0x3_0000, V),
        entry_lo(0x3_1000, V),
        0,
    );
    k.li(T0, 1);
    k.emit(mtc0(T0, reg::ENTRYHI, 0));
    eret_to(&mut k, status::KSU_USER, USER_VA, 0);

    let mut h = Asm::new(Vector::General.addr());
    let stop = h.new_label();
    h.emit(mfc0(K0, reg::CAUSE, 0));
    h.emit(andi(K0, K0, 0x7c));
    h.emit(addiu(K1, ZERO, (ExcCode::Sys as i16) << 2));
    h.bne(K0, K1, stop);
    h.nop();
    h.emit(addiu(K0, ZERO, 2));
    h.emit(mtc0(K0, reg::ENTRYHI, 0));
    h.emit(mfc0(K0, reg::EPC, 0));
    h.emit(addiu(K0, K0, 4));
    h.emit(mtc0(K0, reg::EPC, 0));
    h.emit(eret());
    h.bind(stop);
    stop_code(&mut h, Vector::General.tag());

    let mut u = Asm::new(USER_VA);
    u.li(T0, VA);
    u.emit(lw(S0, 0, T0));
    u.emit(syscall(0));
    u.emit(lw(S1, 0, T0));
    u.emit(break_(0));

    let mut m = boot(k, [h]);
    place_at(&mut m, USER_PA, u);
    set_phys_word(&mut m, 0x2_0000, 0x1111);
    set_phys_word(&mut m, 0x3_0000, 0x2222);
    assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Bp));
    assert_eq!(m.gpr(S0.num()), 0x1111, "ASID 1");
    assert_eq!(m.gpr(S1.num()), 0x2222, "ASID 2");
}
