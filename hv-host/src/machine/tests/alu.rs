//! Arithmetic, logic, shifts, multiply/divide and bit-field instructions,
//! with their edge cases; overflow traps; writes to `$zero`.

use super::*;

/// An R-type encoder in assembly operand order (`op rd, rs, rt`).
type Rrr = fn(Reg, Reg, Reg) -> u32;

/// Runs `op t2, t0, t1` with t0 = `a`, t1 = `b` (t2 preset to a marker) and
/// returns t2.
fn rrr(op: Rrr, a: u32, b: u32) -> u32 {
    let m = run_kernel(|k| {
        k.li(T0, a).li(T1, b).li(T2, 0xdead_beef);
        k.emit(op(T2, T0, T1));
    });
    m.gpr(T2.num())
}

/// Runs `word` (which reads t0 and writes t2) with t0 = `a`, t2 preset to
/// `t2_in`; returns t2.
fn unary(word: u32, a: u32, t2_in: u32) -> u32 {
    let m = run_kernel(|k| {
        k.li(T0, a).li(T2, t2_in);
        k.emit(word);
    });
    m.gpr(T2.num())
}

#[test]
fn three_register_logic_and_arithmetic() {
    let cases: &[(Rrr, &str, u32, u32, u32)] = &[
        (addu, "addu", 0x7fff_ffff, 1, 0x8000_0000),
        (addu, "addu wraps", 0xffff_ffff, 2, 1),
        (subu, "subu", 5, 7, (-2i32) as u32),
        (subu, "subu wraps", 0x8000_0000, 1, 0x7fff_ffff),
        (add, "add", (-5i32) as u32, 3, (-2i32) as u32),
        (sub, "sub", 3, 5, (-2i32) as u32),
        (and, "and", 0xf0f0_ff00, 0x0ff0_f0f0, 0x00f0_f000),
        (or, "or", 0xf000_000f, 0x0f00_00f0, 0xff00_00ff),
        (xor, "xor", 0xffff_0000, 0xf0f0_f0f0, 0x0f0f_f0f0),
        (nor, "nor", 0xffff_0000, 0x0000_00ff, 0x0000_ff00),
        (slt, "slt -1 < 1", u32::MAX, 1, 1),
        (slt, "slt 1 < -1", 1, u32::MAX, 0),
        (slt, "slt equal", 7, 7, 0),
        (sltu, "sltu 1 < 0xffffffff", 1, u32::MAX, 1),
        (sltu, "sltu 0xffffffff < 1", u32::MAX, 1, 0),
        (mul, "mul", (-3i32) as u32, 7, (-21i32) as u32),
        (
            mul,
            "mul keeps the low word",
            0x1_0001,
            0x1_0001,
            0x0002_0001,
        ),
        (movz, "movz taken (t1 == 0)", 0x1234, 0, 0x1234),
        (movz, "movz not taken", 0x1234, 1, 0xdead_beef),
        (movn, "movn taken (t1 != 0)", 0x1234, 9, 0x1234),
        (movn, "movn not taken", 0x1234, 0, 0xdead_beef),
    ];
    for &(op, name, a, b, want) in cases {
        assert_eq!(rrr(op, a, b), want, "{name} {a:#x}, {b:#x}");
    }
}

#[test]
fn immediates_zero_or_sign_extend() {
    let m = run_kernel(|k| {
        k.li(T0, 0xffff_ffff).li(T1, 0xffff_0000).li(T5, 5);
        k.emit(ori(S0, ZERO, 0x8000)); // zero-extended
        k.emit(andi(S1, T0, 0x8000));
        k.emit(xori(S2, T1, 0xffff));
        k.emit(lui(S3, 0x8000));
        k.emit(addiu(S4, ZERO, -1)); // sign-extended
        k.emit(addiu(S5, T0, 2)); // wraps, no trap
        k.emit(slti(S6, T5, -1));
        k.emit(sltiu(S7, T5, -1)); // 5 < 0xffff_ffff unsigned
        k.emit(sltiu(T6, T0, -1)); // equal: not less
        k.emit(slti(T7, T0, 0)); // -1 < 0
        k.emit(sltiu(T8, ZERO, 1));
        k.emit(addi(V1, T5, -6));
    });
    let g = |r: Reg| m.gpr(r.num());
    assert_eq!(g(S0), 0x8000);
    assert_eq!(g(S1), 0x8000);
    assert_eq!(g(S2), 0xffff_ffff);
    assert_eq!(g(S3), 0x8000_0000);
    assert_eq!(g(S4), 0xffff_ffff);
    assert_eq!(g(S5), 1);
    assert_eq!(g(S6), 0);
    assert_eq!(g(S7), 1);
    assert_eq!(g(T6), 0);
    assert_eq!(g(T7), 1);
    assert_eq!(g(T8), 1);
    assert_eq!(g(V1), u32::MAX);
}

/// ADD, ADDI and SUB trap on signed overflow with rd unchanged, ExcCode Ov
/// and EPC at the instruction.
#[test]
fn signed_overflow_traps() {
    type Rr = fn(Reg, Reg) -> u32;
    let cases: [(&str, Rr, u32, u32); 5] = [
        ("add max+1", |rd, rs| add(rd, rs, T1), 0x7fff_ffff, 1),
        (
            "add min+min",
            |rd, rs| add(rd, rs, T1),
            0x8000_0000,
            0x8000_0000,
        ),
        ("sub min-1", |rd, rs| sub(rd, rs, T1), 0x8000_0000, 1),
        (
            "sub max-(-1)",
            |rd, rs| sub(rd, rs, T1),
            0x7fff_ffff,
            u32::MAX,
        ),
        ("addi max+1", |rd, rs| addi(rd, rs, 1), 0x7fff_ffff, 0),
    ];
    for (name, op, a, b) in cases {
        let mut k = Asm::new(ORIGIN);
        normal_vectors(&mut k);
        k.li(T0, a).li(T1, b).li(T2, 0x5a5a_5a5a);
        let at = k.pc();
        k.emit(op(T2, T0));
        exit_ok(&mut k);
        let mut m = boot(k, []);
        assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Ov), "{name}");
        assert_eq!(m.gpr(T2.num()), 0x5a5a_5a5a, "{name}: rd unchanged");
        assert_eq!(m.read_cp0(reg::EPC, 0), at, "{name}: EPC");
        assert!(!cause_bd(&m), "{name}");
        assert_eq!(m.stats().exceptions[ExcCode::Ov as usize], 1, "{name}");
    }
}

#[test]
fn addiu_and_addu_wrap_without_trapping() {
    let m = run_kernel(|k| {
        k.li(T0, 0x7fff_ffff).li(T1, 0x8000_0000);
        k.emit(addiu(S0, T0, 1));
        k.emit(addu(S1, T1, T1));
        k.emit(subu(S2, T1, T0));
    });
    assert_eq!(m.gpr(S0.num()), 0x8000_0000);
    assert_eq!(m.gpr(S1.num()), 0);
    assert_eq!(m.gpr(S2.num()), 1);
}

#[test]
fn multiply_into_hi_lo() {
    // (op, rs, rt, initial HI:LO, expected HI:LO)
    type MulOp = fn(Reg, Reg) -> u32;
    let cases: &[(MulOp, &str, u32, u32, u64, u64)] = &[
        (mult, "mult -2*3", (-2i32) as u32, 3, 0, (-6i64) as u64),
        (mult, "mult min*min", 0x8000_0000, 0x8000_0000, 0, 1 << 62),
        (
            multu,
            "multu max*max",
            u32::MAX,
            u32::MAX,
            0,
            0xffff_fffe_0000_0001,
        ),
        (multu, "multu 2*3", 2, 3, u64::MAX, 6),
        (madd, "madd", (-2i32) as u32, 3, 10, 4),
        (
            madd,
            "madd carries into HI",
            1,
            1,
            0xffff_ffff,
            0x1_0000_0000,
        ),
        (maddu, "maddu", u32::MAX, 2, 1, 0x1_ffff_ffff),
        (msub, "msub", (-2i32) as u32, 3, 10, 16),
        (msub, "msub below zero", 2, 3, 0, (-6i64) as u64),
        (msubu, "msubu", u32::MAX, 1, 0x1_0000_0000, 1),
        (msubu, "msubu wraps", 1, 1, 0, u64::MAX),
    ];
    for &(op, name, a, b, init, want) in cases {
        let m = run_kernel(|k| {
            k.li(T0, a).li(T1, b);
            k.li(T2, (init >> 32) as u32).li(T3, init as u32);
            k.emit(mthi(T2)).emit(mtlo(T3));
            k.emit(op(T0, T1));
            k.emit(mfhi(S0)).emit(mflo(S1));
        });
        let (hi, lo) = m.hi_lo();
        assert_eq!((u64::from(hi) << 32) | u64::from(lo), want, "{name}");
        assert_eq!(
            (m.gpr(S0.num()), m.gpr(S1.num())),
            (hi, lo),
            "{name}: mfhi/mflo"
        );
    }
}

#[test]
fn divide() {
    // (op, rs, rt, expected (HI, LO)); HI:LO start as 0x11:0x22.
    type DivOp = fn(Reg, Reg) -> u32;
    type DivCase = (DivOp, &'static str, u32, u32, (u32, u32));
    let cases: &[DivCase] = &[
        (div, "div 7/2", 7, 2, (1, 3)),
        (
            div,
            "div -7/2 truncates",
            (-7i32) as u32,
            2,
            ((-1i32) as u32, (-3i32) as u32),
        ),
        (div, "div 7/-2", 7, (-2i32) as u32, (1, (-3i32) as u32)),
        (
            div,
            "div INT_MIN/-1",
            0x8000_0000,
            u32::MAX,
            (0, 0x8000_0000),
        ),
        (divu, "divu", u32::MAX, 16, (15, 0x0fff_ffff)),
        (divu, "divu big divisor", 5, u32::MAX, (5, 0)),
        // Division by zero is UNPREDICTABLE and raises nothing; this
        // machine leaves HI and LO unchanged.
        (div, "div by zero", 7, 0, (0x11, 0x22)),
        (divu, "divu by zero", 7, 0, (0x11, 0x22)),
    ];
    for &(op, name, a, b, want) in cases {
        let m = run_kernel(|k| {
            k.li(T0, a).li(T1, b).li(T2, 0x11).li(T3, 0x22);
            k.emit(mthi(T2)).emit(mtlo(T3));
            k.emit(op(T0, T1));
        });
        assert_eq!(m.hi_lo(), want, "{name}");
        assert_eq!(m.stats().exceptions, [0; 32], "{name}: nothing raised");
    }
}

#[test]
fn mul_leaves_hi_lo_alone_and_wraps() {
    let m = run_kernel(|k| {
        k.li(T0, 0x8000_0000).li(T1, 2).li(T2, 7);
        k.emit(mthi(T2)).emit(mtlo(T2));
        k.emit(mul(S0, T0, T1));
        k.emit(mul(S1, T0, T0));
    });
    assert_eq!(m.gpr(S0.num()), 0);
    assert_eq!(m.gpr(S1.num()), 0);
    assert_eq!(m.hi_lo(), (7, 7));
}

#[test]
fn count_leading_zeros_and_ones() {
    for (x, zeros, ones) in [
        (0, 32, 0),
        (u32::MAX, 0, 32),
        (1, 31, 0),
        (0x8000_0000, 0, 1),
        (0x0001_ffff, 15, 0),
        (0xfff0_0000, 0, 12),
    ] {
        assert_eq!(unary(clz(T2, T0), x, 99), zeros, "clz {x:#x}");
        assert_eq!(unary(clo(T2, T0), x, 99), ones, "clo {x:#x}");
    }
}

#[test]
fn extract_bit_field() {
    let x = 0x8765_4321;
    for (pos, size, want) in [
        (0, 32, x),
        (0, 1, 1),
        (31, 1, 1),
        (4, 8, 0x32),
        (16, 16, 0x8765),
        (1, 31, x >> 1),
        (28, 4, 8),
    ] {
        assert_eq!(
            unary(ext(T2, T0, pos, size), x, 0xffff_ffff),
            want,
            "ext {pos},{size}"
        );
    }
}

#[test]
fn insert_bit_field() {
    let src = 0x1234_5678;
    let dst = 0xffff_ffff;
    for (pos, size, want) in [
        (0, 32, src),
        (0, 1, 0xffff_fffe),
        (31, 1, 0x7fff_ffff),
        (8, 16, 0xff56_78ff),
        (4, 4, 0xffff_ff8f),
        (1, 31, (src << 1) | 1),
    ] {
        assert_eq!(
            unary(ins(T2, T0, pos, size), src, dst),
            want,
            "ins {pos},{size}"
        );
    }
}

#[test]
fn byte_and_halfword_rearrangement() {
    assert_eq!(unary(seb(T2, T0), 0x1234_5680, 0), 0xffff_ff80);
    assert_eq!(unary(seb(T2, T0), 0xffff_ff7f, 0), 0x7f);
    assert_eq!(unary(seh(T2, T0), 0x1234_8001, 0), 0xffff_8001);
    assert_eq!(unary(seh(T2, T0), 0xffff_7fff, 0), 0x7fff);
    assert_eq!(unary(wsbh(T2, T0), 0x1122_3344, 0), 0x2211_4433);
}

#[test]
fn shifts_and_rotates_by_constant() {
    let x = 0x8000_0001;
    for (word, name, want) in [
        (sll(T2, T0, 0), "sll 0", x),
        (sll(T2, T0, 31), "sll 31", 0x8000_0000),
        (sll(T2, T0, 4), "sll 4", 0x0000_0010),
        (srl(T2, T0, 0), "srl 0", x),
        (srl(T2, T0, 31), "srl 31", 1),
        (sra(T2, T0, 0), "sra 0", x),
        (sra(T2, T0, 31), "sra 31", u32::MAX),
        (sra(T2, T0, 4), "sra 4", 0xf800_0000),
        (rotr(T2, T0, 0), "rotr 0", x),
        (rotr(T2, T0, 1), "rotr 1", 0xc000_0000),
        (rotr(T2, T0, 31), "rotr 31", 0x0000_0003),
    ] {
        assert_eq!(unary(word, x, 0), want, "{name}");
    }
    assert_eq!(
        unary(sra(T2, T0, 31), 0x7fff_ffff, 1),
        0,
        "sra 31 of a positive"
    );
}

#[test]
fn shifts_and_rotates_by_register_use_five_bits() {
    let x = 0x8000_0001;
    // (encoder in `op rd, rt, rs` order, amount, expected)
    type Var = fn(Reg, Reg, Reg) -> u32;
    let cases: &[(Var, &str, u32, u32)] = &[
        (sllv, "sllv 0", 0, x),
        (sllv, "sllv 31", 31, 0x8000_0000),
        (sllv, "sllv 32 is 0", 32, x),
        (sllv, "sllv 33 is 1", 33, 2),
        (srlv, "srlv 31", 31, 1),
        (srlv, "srlv 63 is 31", 63, 1),
        (srav, "srav 31", 31, u32::MAX),
        (srav, "srav 36 is 4", 36, 0xf800_0000),
        (rotrv, "rotrv 0", 0, x),
        (rotrv, "rotrv 33 is 1", 33, 0xc000_0000),
        (rotrv, "rotrv 31", 31, 3),
    ];
    for &(op, name, amount, want) in cases {
        let m = run_kernel(|k| {
            k.li(T0, x).li(T1, amount);
            k.emit(op(T2, T0, T1));
        });
        assert_eq!(m.gpr(T2.num()), want, "{name}");
    }
}

#[test]
fn writes_to_zero_are_discarded() {
    let m = run_kernel(|k| {
        k.li(T0, 0x1234).li(T1, ORIGIN);
        k.emit(addu(ZERO, T0, T0));
        k.emit(addiu(ZERO, T0, 1));
        k.emit(lui(ZERO, 1));
        k.emit(lw(ZERO, 0, T1));
        k.emit(mfc0(ZERO, reg::STATUS, 0));
        k.emit(add(ZERO, T0, T0));
        k.emit(mflo(ZERO));
        k.emit(sll(ZERO, T0, 3));
        k.emit(ext(ZERO, T0, 0, 8));
        k.emit(seb(ZERO, T0));
        k.emit(rdhwr(ZERO, 2));
        // Reads of $zero after the writes see 0.
        k.emit(addu(S0, ZERO, ZERO));
        k.emit(or(S1, ZERO, T0));
    });
    assert_eq!(m.gpr(ZERO.num()), 0);
    assert_eq!(m.gpr(S0.num()), 0);
    assert_eq!(m.gpr(S1.num()), 0x1234);
}

#[test]
fn write_to_zero_still_traps() {
    // `add $zero` must still raise its overflow; `lw $zero` its AdEL.
    for (word, code) in [
        (add(ZERO, T0, T0), ExcCode::Ov),
        (lw(ZERO, 1, T1), ExcCode::AdEL),
    ] {
        let mut k = Asm::new(ORIGIN);
        k.li(T0, 0x7fff_ffff).li(T1, ORIGIN);
        k.emit(word);
        exit_ok(&mut k);
        let mut m = boot(k, []);
        assert_eq!(m.run(1000), Vector::BevGeneral.exit(code));
        assert_eq!(m.gpr(ZERO.num()), 0);
    }
}
