//! Loads and stores: sign and zero extension, the unaligned pairs
//! LWL/LWR/SWL/SWR at every alignment (little-endian), alignment faults,
//! LL/SC, bus errors, ROM, and stores over code.

use super::*;

/// Data used by these tests: kseg0 0x8000_8000, physical 0x8000.
const DATA: u32 = 0x8000_8000;
const DATA_PA: u32 = 0x8000;

/// Runs `body` in the boot state with 16 bytes 0x10, 0x11, ... 0x1f at
/// [`DATA`] and `s7` = [`DATA`].
fn with_data(body: impl FnOnce(&mut Asm)) -> Machine {
    let mut a = Asm::new(ORIGIN);
    a.li(S7, DATA);
    body(&mut a);
    exit_ok(&mut a);
    let mut m = boot(a, []);
    let bytes: Vec<u8> = (0x10..0x20).collect();
    m.write_phys(MachineAddr::new(DATA_PA), &bytes)
        .expect("inside RAM");
    assert_eq!(m.run(10_000), Exit::Shutdown { code: 0 });
    m
}

fn data_bytes(m: &Machine, len: u32) -> Vec<u8> {
    m.read_phys(MachineAddr::new(DATA_PA), len)
        .expect("inside RAM")
}

#[test]
fn byte_and_halfword_loads_extend() {
    let mut a = Asm::new(ORIGIN);
    a.li(S7, DATA);
    let loads = [
        lb(S0, 0, S7),
        lbu(S1, 0, S7),
        lb(S2, 1, S7),
        lb(S3, 2, S7),
        lh(S4, 0, S7),
        lh(S5, 2, S7),
        lhu(S6, 2, S7),
        lh(T0, 4, S7),
        lhu(T1, 4, S7),
        lw(T2, 4, S7),
        lbu(T3, 7, S7),
    ];
    a.emit_all(&loads);
    exit_ok(&mut a);
    let mut m = boot(a, []);
    m.write_phys(
        MachineAddr::new(DATA_PA),
        &[0x80, 0x7f, 0xff, 0x01, 0x00, 0x80, 0x34, 0x92],
    )
    .expect("inside RAM");
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    let g = |r: Reg| m.gpr(r.num());
    assert_eq!(g(S0), 0xffff_ff80, "lb 0x80");
    assert_eq!(g(S1), 0x80, "lbu 0x80");
    assert_eq!(g(S2), 0x7f, "lb 0x7f");
    assert_eq!(g(S3), 0xffff_ffff, "lb 0xff");
    assert_eq!(g(S4), 0x7f80, "lh 0x7f80");
    assert_eq!(g(S5), 0x01ff, "lh 0x01ff");
    assert_eq!(g(S6), 0x01ff, "lhu 0x01ff");
    assert_eq!(g(T0), 0xffff_8000, "lh 0x8000");
    assert_eq!(g(T1), 0x8000, "lhu 0x8000");
    assert_eq!(g(T2), 0x9234_8000, "lw is little-endian");
    assert_eq!(g(T3), 0x92, "lbu 0x92");
}

#[test]
fn stores_write_little_endian_and_alias_through_kseg1() {
    let m = with_data(|a| {
        a.li(T0, 0x1122_3344).li(T1, 0xa000_0000 | DATA_PA);
        a.emit(sw(T0, 0, S7));
        a.emit(sh(T0, 4, S7));
        a.emit(sb(T0, 7, S7));
        a.emit(sb(T0, 6, T1)); // kseg1, same physical byte 6
        a.emit(lw(S0, 4, T1)); // read back through kseg1
        a.emit(lhu(S1, 0, T1));
    });
    assert_eq!(
        data_bytes(&m, 8),
        [0x44, 0x33, 0x22, 0x11, 0x44, 0x33, 0x44, 0x44]
    );
    assert_eq!(m.gpr(S0.num()), 0x4444_3344);
    assert_eq!(m.gpr(S1.num()), 0x3344);
}

/// The register after LWL at byte `b` of a word holding `mem`, with the
/// register holding `reg` before: the bytes from the word's start up to
/// the addressed byte fill the register's most significant bytes.
fn lwl_model(mem: [u8; 4], b: usize, reg: u32) -> u32 {
    let mut r = reg.to_le_bytes();
    let n = b + 1;
    r[4 - n..].copy_from_slice(&mem[..n]);
    u32::from_le_bytes(r)
}

/// LWR at byte `b`: the bytes from the addressed one to the word's end
/// fill the register's least significant bytes.
fn lwr_model(mem: [u8; 4], b: usize, reg: u32) -> u32 {
    let mut r = reg.to_le_bytes();
    r[..4 - b].copy_from_slice(&mem[b..]);
    u32::from_le_bytes(r)
}

#[test]
fn lwl_and_lwr_at_every_alignment() {
    let word: [u8; 4] = [0x14, 0x15, 0x16, 0x17]; // DATA + 4
    let preset = 0xaabb_ccdd;
    for b in 0..4i16 {
        let m = with_data(|a| {
            a.li(S0, preset).li(S1, preset);
            a.emit(lwl(S0, 4 + b, S7));
            a.emit(lwr(S1, 4 + b, S7));
            // The usual pair loads the unaligned word at DATA + 1 + b.
            a.emit(lwr(S2, 1 + b, S7));
            a.emit(lwl(S2, 4 + b, S7));
        });
        let bu = b as usize;
        assert_eq!(
            m.gpr(S0.num()),
            lwl_model(word, bu, preset),
            "lwl at byte {b}"
        );
        assert_eq!(
            m.gpr(S1.num()),
            lwr_model(word, bu, preset),
            "lwr at byte {b}"
        );
        let want = u32::from_le_bytes([
            0x11 + b as u8,
            0x12 + b as u8,
            0x13 + b as u8,
            0x14 + b as u8,
        ]);
        assert_eq!(m.gpr(S2.num()), want, "unaligned load at +{}", 1 + b);
    }
    // Spot values, so that the models themselves are pinned.
    assert_eq!(lwl_model(word, 0, preset), 0x14bb_ccdd);
    assert_eq!(lwr_model(word, 3, preset), 0xaabb_cc17);
}

#[test]
fn swl_and_swr_at_every_alignment() {
    let v: u32 = 0xa1b2_c3d4;
    let vb = v.to_le_bytes();
    for b in 0..4usize {
        let m = with_data(|a| {
            a.li(T0, v);
            a.emit(swl(T0, b as i16, S7)); // word 0
            a.emit(swr(T0, 4 + b as i16, S7)); // word 1
            // The usual pair stores the unaligned word at DATA + 9 + b.
            a.emit(swr(T0, 9 + b as i16, S7));
            a.emit(swl(T0, 12 + b as i16, S7));
        });
        let got = data_bytes(&m, 16);
        let mut want: Vec<u8> = (0x10..0x20).collect();
        // SWL: the register's b + 1 most significant bytes go to bytes 0..=b.
        want[..=b].copy_from_slice(&vb[3 - b..]);
        // SWR: the register's 4 - b least significant bytes go to bytes b..4.
        want[4 + b..8].copy_from_slice(&vb[..4 - b]);
        want[9 + b..13 + b].copy_from_slice(&vb);
        assert_eq!(got, want, "alignment {b}");
    }
}

#[test]
fn misaligned_accesses_raise_address_errors() {
    let cases = [
        (lw(T0, 1, S7), ExcCode::AdEL, 1),
        (lw(T0, 2, S7), ExcCode::AdEL, 2),
        (lh(T0, 1, S7), ExcCode::AdEL, 1),
        (lhu(T0, 3, S7), ExcCode::AdEL, 3),
        (ll(T0, 2, S7), ExcCode::AdEL, 2),
        (sw(T0, 3, S7), ExcCode::AdES, 3),
        (sh(T0, 1, S7), ExcCode::AdES, 1),
        (sc(T0, 1, S7), ExcCode::AdES, 1),
    ];
    for (word, code, off) in cases {
        let mut a = Asm::new(ORIGIN);
        normal_vectors(&mut a);
        a.li(S7, DATA).li(T0, 0x7777);
        let at = a.pc();
        a.emit(word);
        exit_ok(&mut a);
        let mut m = boot(a, []);
        set_phys_word(&mut m, DATA_PA, 0x0102_0304);
        assert_eq!(
            m.run(1000),
            Vector::General.exit(code),
            "{}",
            insn::Instruction(word)
        );
        assert_eq!(m.read_cp0(reg::BADVADDR, 0), DATA + off);
        assert_eq!(m.read_cp0(reg::EPC, 0), at);
        assert_eq!(m.gpr(T0.num()), 0x7777, "destination unchanged");
        assert_eq!(phys_word(&m, DATA_PA), 0x0102_0304, "memory unchanged");
    }
}

#[test]
fn ll_sc_succeeds_then_fails_after_eret() {
    let mut a = Asm::new(ORIGIN);
    let after_eret = a.new_label();
    a.li(S7, DATA);
    // LL, SC: succeeds, rt = 1.
    a.emit(ll(T0, 0, S7));
    a.emit(addiu(T0, T0, 1));
    a.emit(sc(T0, 0, S7));
    a.emit(mov(S0, T0));
    // SC with no LL since the last SC: fails, rt = 0, memory unchanged.
    a.li(T1, 0x99);
    a.emit(sc(T1, 4, S7));
    a.emit(mov(S1, T1));
    // LL, ERET (boot state: to ErrorEPC, clearing ERL), SC: fails.
    a.la(T2, after_eret);
    a.emit(mtc0(T2, reg::ERROREPC, 0));
    a.emit(ll(T0, 8, S7));
    a.emit(eret());
    a.bind(after_eret);
    a.li(T3, 0x55);
    a.emit(sc(T3, 8, S7));
    a.emit(mov(S2, T3));
    // And a fresh LL/SC pair succeeds again.
    a.emit(ll(T0, 12, S7));
    a.li(T4, 0x66);
    a.emit(sc(T4, 12, S7));
    a.emit(mov(S3, T4));
    exit_ok(&mut a);
    let mut m = boot(a, []);
    m.write_phys(MachineAddr::new(DATA_PA), &[0; 16])
        .expect("RAM");
    set_phys_word(&mut m, DATA_PA, 41);
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    assert_eq!(m.gpr(S0.num()), 1, "sc after ll succeeds");
    assert_eq!(phys_word(&m, DATA_PA), 42);
    assert_eq!(m.gpr(S1.num()), 0, "sc without ll fails");
    assert_eq!(phys_word(&m, DATA_PA + 4), 0);
    assert_eq!(m.gpr(S2.num()), 0, "sc after eret fails");
    assert_eq!(phys_word(&m, DATA_PA + 8), 0);
    assert_eq!(m.gpr(S3.num()), 1);
    assert_eq!(phys_word(&m, DATA_PA + 12), 0x66);
    assert_eq!(
        m.read_cp0(reg::LLADDR, 0),
        (DATA_PA + 12) >> 4,
        "LLAddr is physical >> 4"
    );
}

#[test]
fn accesses_to_nothing_raise_data_bus_errors() {
    // kseg1 0xb000_0000 is physical 0x1000_0000: no RAM, ROM or device.
    for (word, what) in [
        (lw(T0, 0, S6), "load"),
        (sw(T0, 0, S6), "store"),
        (lbu(T0, 3, S6), "byte"),
    ] {
        let mut a = Asm::new(ORIGIN);
        normal_vectors(&mut a);
        a.li(S6, 0xb000_0000).li(T0, 0x1234);
        let at = a.pc();
        a.emit(word);
        exit_ok(&mut a);
        let mut m = boot(a, []);
        assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Dbe), "{what}");
        assert_eq!(m.read_cp0(reg::EPC, 0), at, "{what}");
        assert_eq!(m.gpr(T0.num()), 0x1234, "{what}");
    }
    // Just past the end of RAM is nothing too.
    let mut a = Asm::new(ORIGIN);
    a.li(S6, 0x8000_0000 + (1 << 20));
    a.emit(lw(T0, 0, S6));
    let mut m = boot(a, []);
    assert_eq!(m.run(1000), Vector::BevGeneral.exit(ExcCode::Dbe));
}

#[test]
fn rom_reads_and_ignores_stores() {
    let m = run_kernel(|a| {
        a.li(S6, 0xbfc0_1000).li(T0, 0x1234);
        a.emit(sw(T0, 0, S6));
        a.emit(lw(S0, 0, S6));
    });
    assert_eq!(m.gpr(S0.num()), 0, "the store was ignored");
    // Code in ROM is readable as data: the refill handler's first word.
    let m = run_kernel(|a| {
        a.li(S6, Vector::BevRefill.addr());
        a.emit(lw(S0, 0, S6));
    });
    assert_eq!(m.gpr(S0.num()), addiu(K1, K1, 1));
}

#[test]
fn stores_over_code_take_effect() {
    // A word executed once is patched (through kseg0, then through the
    // kseg1 alias) and executed again: the new instruction runs.
    for alias in [0x8000_0000u32, 0xa000_0000] {
        let mut a = Asm::new(ORIGIN);
        let patch = a.new_label();
        a.li(T3, 2).li(T0, addiu(S0, ZERO, 7));
        a.la(T1, patch);
        a.li(T2, 0x1fff_ffff);
        a.emit(and(T1, T1, T2));
        a.li(T2, alias);
        a.emit(or(T1, T1, T2));
        let top = a.here();
        a.bind(patch);
        a.emit(addiu(S0, ZERO, 1));
        a.emit(addu(S1, S1, S0));
        a.emit(sw(T0, 0, T1));
        a.emit(addiu(T3, T3, -1));
        a.bgtz(T3, top);
        a.nop();
        exit_ok(&mut a);
        let mut m = boot(a, []);
        assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
        assert_eq!(m.gpr(S1.num()), 1 + 7, "alias {alias:#x}");
    }
}
