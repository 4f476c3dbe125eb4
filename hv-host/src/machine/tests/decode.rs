//! Decoding and disassembly: every encoder of [`super::asm`] classifies
//! back to its operation, the execution decoder's `$zero` rewrites, and
//! the text of a representative set of instructions.

use super::*;
use crate::machine::decode::{Decoded, Op, SINK, classify, decode};
use crate::machine::insn::Instruction;

/// Every encoder, with the operation it must classify as.
#[rustfmt::skip]
fn table() -> Vec<(u32, Op)> {
    use Op::*;
    vec![
        (nop(), Sll), (ssnop(), Sll), (ehb(), Sll),
        (sll(T0, T1, 7), Sll), (srl(V0, A3, 31), Srl), (rotr(S0, S1, 9), Rotr),
        (sra(K0, K1, 1), Sra), (sllv(T0, T1, T2), Sllv), (srlv(T3, T4, T5), Srlv),
        (rotrv(A0, A1, A2), Rotrv), (srav(S2, S3, S4), Srav),
        (jr(RA), Jr), (jr_hb(T9), Jr), (jalr(RA, T9), Jalr), (jalr_hb(RA, T0), Jalr),
        (movz(T0, T1, T2), Movz), (movn(GP, SP, FP), Movn),
        (syscall(0x12345), Syscall), (break_(7 << 10), Break), (sync(0), Sync), (sync(4), Sync),
        (mfhi(V0), Mfhi), (mthi(V1), Mthi), (mflo(A0), Mflo), (mtlo(A1), Mtlo),
        (mult(T0, T1), Mult), (multu(T2, T3), Multu), (div(T4, T5), Div), (divu(T6, T7), Divu),
        (add(V0, A0, A1), Add), (addu(SP, SP, T0), Addu), (sub(T0, T1, T2), Sub),
        (subu(S0, S1, S2), Subu), (and(A0, A1, A2), And), (or(A3, T0, T1), Or),
        (xor(T2, T3, T4), Xor), (nor(T5, T6, T7), Nor), (slt(V0, S6, S7), Slt),
        (sltu(V1, T8, T9), Sltu),
        (tge(A0, A1, 0), Tge), (tgeu(A0, A1, 3), Tgeu), (tlt(T0, T1, 0x3ff), Tlt),
        (tltu(T0, T1, 1), Tltu), (teq(ZERO, ZERO, 7), Teq), (tne(S0, S1, 0), Tne),
        (mov(T0, A0), Addu), (negu(T0, A0), Subu), (not(T0, A0), Nor),
        (b(-1), Beq), (bal(3), Bgezal),
        (bltz(A0, 1), Bltz), (bgez(A1, -2), Bgez), (bltzl(T0, 100), Bltzl),
        (bgezl(T1, -32768), Bgezl), (tgei(A0, -5), Tgei), (tgeiu(A0, 5), Tgeiu),
        (tlti(A1, 0x7fff), Tlti), (tltiu(A1, -1), Tltiu), (teqi(T0, 0), Teqi),
        (tnei(T0, 42), Tnei), (bltzal(S0, 2), Bltzal), (bgezal(S1, 32767), Bgezal),
        (bltzall(S2, 0), Bltzall), (bgezall(S3, -4), Bgezall), (synci(16, A0), Synci),
        (j(0x0040_0000), J), (jal(0x0fff_fffc), Jal), (jalx(0x0040_0000), Reserved),
        (beq(T0, T1, 5), Beq), (bne(A0, ZERO, -3), Bne), (blez(V0, 1), Blez),
        (bgtz(V1, 1), Bgtz), (beql(T0, T1, 1), Beql), (bnel(T2, T3, 1), Bnel),
        (blezl(T4, 1), Blezl), (bgtzl(T5, 1), Bgtzl),
        (addi(T0, T1, -1), Addi), (addiu(SP, SP, -16), Addiu), (slti(V0, A0, 100), Slti),
        (sltiu(V0, A0, -100), Sltiu), (andi(T0, T0, 0xffff), Andi), (ori(T0, ZERO, 0x8000), Ori),
        (xori(A0, A1, 0x1234), Xori), (lui(T0, 0xbfd0), Lui),
        (mfc0(T0, 12, 0), Mfc0), (mfc0(K0, 16, 1), Mfc0), (mtc0(T1, 14, 0), Mtc0),
        (mtc0(ZERO, 9, 7), Mtc0), (rdpgpr(SP, SP), Rdpgpr), (wrpgpr(A0, T0), Wrpgpr),
        (di(ZERO), Di), (di(T0), Di), (ei(ZERO), Ei), (ei(V0), Ei),
        (tlbr(), Tlbr), (tlbwi(), Tlbwi), (tlbwr(), Tlbwr), (tlbp(), Tlbp),
        (eret(), Eret), (deret(), Reserved), (wait(0), Wait), (wait(0x1234), Wait),
        (madd(T0, T1), Madd), (maddu(T2, T3), Maddu), (mul(V0, A0, A1), Mul),
        (msub(T4, T5), Msub), (msubu(T6, T7), Msubu), (clz(V0, A0), Clz), (clo(V1, A1), Clo),
        (sdbbp(0), Sdbbp), (sdbbp(1), Sdbbp), (sdbbp(0xfffff), Sdbbp),
        (ext(T0, T1, 4, 8), Ext), (ext(T0, T1, 0, 32), Ext), (ins(A0, A1, 8, 16), Ins),
        (ins(A0, A1, 31, 1), Ins), (wsbh(V0, A0), Wsbh), (seb(V0, A0), Seb), (seh(V1, A1), Seh),
        (rdhwr(V1, 29), Rdhwr), (rdhwr(T0, 2), Rdhwr),
        (lb(T0, -1, A0), Lb), (lh(T1, 2, A1), Lh), (lwl(T2, 3, A2), Lwl), (lw(RA, 28, SP), Lw),
        (lbu(T0, 5, T1), Lbu), (lhu(T0, -32768, T1), Lhu), (lwr(T2, 0, A2), Lwr),
        (sb(T0, 0, T1), Sb), (sh(T0, 32767, T1), Sh), (swl(T2, 3, A2), Swl),
        (sw(RA, 28, SP), Sw), (swr(T2, 0, A2), Swr), (ll(T0, 0, A0), Ll), (sc(T0, 4, A0), Sc),
        (cache(0x15, 0, A0), Cache), (pref(30, 0, A1), Pref),
        (mfc1(T0, 2), CopUnusable), (mtc1(T1, 31), CopUnusable),
        (lwc1(4, 8, SP), CopUnusable), (swc1(0, -4, A0), CopUnusable),
    ]
}

#[test]
fn every_encoder_classifies_as_its_operation() {
    let mut covered = [false; 256];
    for (word, op) in table() {
        let i = Instruction(word);
        assert_eq!(classify(i), op, "{word:#010x} ({i})");
        covered[op as usize] = true;
    }
    // Every operation but the two internal ones has an encoder in the table.
    for (n, &seen) in covered.iter().enumerate().take(Op::Sc as usize + 1) {
        let internal = n == Op::Undecoded as usize || n == Op::Nop as usize;
        assert_eq!(seen, !internal, "operation #{n} coverage");
    }
}

#[test]
fn decode_keeps_operands() {
    let d = decode(Instruction(addiu(SP, SP, -16)));
    assert_eq!(
        (d.op, d.rs, d.rt, d.imm),
        (Op::Addiu, 29, 29, (-16i32) as u32)
    );
    let d = decode(Instruction(andi(T0, T1, 0x8000)));
    assert_eq!(
        (d.op, d.rs, d.rt, d.imm),
        (Op::Andi, 9, 8, 0x8000),
        "zero-extended"
    );
    let d = decode(Instruction(lui(T0, 0xbfd0)));
    assert_eq!((d.op, d.rt, d.imm), (Op::Lui, 8, 0xbfd0_0000));
    let d = decode(Instruction(beq(T0, T1, -3)));
    assert_eq!(
        (d.op, d.rs, d.rt, d.imm),
        (Op::Beq, 8, 9, (-12i32) as u32),
        "offset in bytes"
    );
    let d = decode(Instruction(jal(0x0fff_fffc)));
    assert_eq!((d.op, d.imm), (Op::Jal, 0x0fff_fffc));
    let d = decode(Instruction(ext(T0, T1, 4, 8)));
    assert_eq!((d.op, d.rs, d.rt, d.imm), (Op::Ext, 9, 8, 4 | 8 << 8));
    let d = decode(Instruction(ins(T0, T1, 8, 16)));
    assert_eq!((d.op, d.imm), (Op::Ins, 8 | 16 << 8));
    let d = decode(Instruction(mfc0(K0, 16, 1)));
    assert_eq!((d.op, d.rt, d.rd, d.imm), (Op::Mfc0, 26, 16, 1));
    let d = decode(Instruction(swc1(0, -4, A0)));
    assert_eq!((d.op, d.imm), (Op::CopUnusable, 1));
    let d = decode(Instruction(syscall(0x12345)));
    assert_eq!((d.op, d.imm), (Op::Syscall, 0x12345));
}

#[test]
fn writes_to_zero_become_nops_or_go_to_the_sink() {
    let pure = [
        addu(ZERO, T0, T1),
        subu(ZERO, T0, T1),
        and(ZERO, T0, T1),
        or(ZERO, T0, T1),
        xor(ZERO, T0, T1),
        nor(ZERO, T0, T1),
        slt(ZERO, T0, T1),
        sltu(ZERO, T0, T1),
        sll(ZERO, T0, 3),
        srl(ZERO, T0, 3),
        sra(ZERO, T0, 3),
        rotr(ZERO, T0, 3),
        sllv(ZERO, T0, T1),
        srlv(ZERO, T0, T1),
        srav(ZERO, T0, T1),
        rotrv(ZERO, T0, T1),
        movz(ZERO, T0, T1),
        movn(ZERO, T0, T1),
        mul(ZERO, T0, T1),
        clz(ZERO, T0),
        clo(ZERO, T0),
        mfhi(ZERO),
        mflo(ZERO),
        addiu(ZERO, T0, 1),
        slti(ZERO, T0, 1),
        sltiu(ZERO, T0, 1),
        andi(ZERO, T0, 1),
        ori(ZERO, T0, 1),
        xori(ZERO, T0, 1),
        lui(ZERO, 1),
        ext(ZERO, T0, 0, 8),
        ins(ZERO, T0, 0, 8),
        wsbh(ZERO, T0),
        seb(ZERO, T0),
        seh(ZERO, T0),
        sync(0),
        pref(0, 0, T0),
        synci(0, T0),
    ];
    for word in pure {
        assert_eq!(
            decode(Instruction(word)).op,
            Op::Nop,
            "{}",
            Instruction(word)
        );
    }
    // Instructions with other effects (faults, jumps) keep running but
    // write the scratch register instead of $zero.
    type DestOf = fn(&Decoded) -> u8;
    let sinks: [(u32, DestOf); 12] = [
        (add(ZERO, T0, T1), |d| d.rd),
        (sub(ZERO, T0, T1), |d| d.rd),
        (jalr(ZERO, T0), |d| d.rd),
        (addi(ZERO, T0, 1), |d| d.rt),
        (lw(ZERO, 0, T0), |d| d.rt),
        (lb(ZERO, 0, T0), |d| d.rt),
        (lhu(ZERO, 0, T0), |d| d.rt),
        (lwl(ZERO, 0, T0), |d| d.rt),
        (ll(ZERO, 0, T0), |d| d.rt),
        (mfc0(ZERO, 12, 0), |d| d.rt),
        (rdhwr(ZERO, 29), |d| d.rt),
        (di(ZERO), |d| d.rt),
    ];
    for (word, dest) in sinks {
        let d = decode(Instruction(word));
        assert_eq!(d.op, classify(Instruction(word)), "{}", Instruction(word));
        assert_eq!(dest(&d), SINK, "{}", Instruction(word));
    }
    // Stores read rt: $zero stays $zero there.
    assert_eq!(decode(Instruction(sw(ZERO, 0, T0))).rt, 0);
}

#[test]
fn disassembly() {
    let cases: &[(u32, &str)] = &[
        (nop(), "nop"),
        (ehb(), "ehb"),
        (addiu(SP, SP, -16), "addiu sp, sp, -16"),
        (sll(T0, T1, 7), "sll t0, t1, 7"),
        (rotr(S0, S1, 9), "rotr s0, s1, 9"),
        (srav(S2, S3, S4), "srav s2, s3, s4"),
        (jr(RA), "jr ra"),
        (jalr(RA, T9), "jalr t9"),
        (jalr(S5, T8), "jalr s5, t8"),
        (movz(T0, T1, T2), "movz t0, t1, t2"),
        (syscall(0), "syscall"),
        (syscall(0x12345), "syscall 0x12345"),
        (break_(0), "break"),
        (sync(0), "sync"),
        (mfhi(V0), "mfhi v0"),
        (mtlo(A1), "mtlo a1"),
        (multu(T2, T3), "multu t2, t3"),
        (div(T4, T5), "div t4, t5"),
        (add(V0, A0, A1), "add v0, a0, a1"),
        (sltu(V1, T8, T9), "sltu v1, t8, t9"),
        (teq(ZERO, ZERO, 7), "teq zero, zero"),
        (b(-1), "b +0"),
        (beq(T0, T1, 5), "beq t0, t1, +24"),
        (bne(A0, ZERO, -3), "bne a0, zero, -8"),
        (bltzal(S0, 2), "bltzal s0, +12"),
        (bgezl(T1, -2), "bgezl t1, -4"),
        (tgei(A0, -5), "tgei a0, -5"),
        (j(0x0040_0000), "j 0x400000"),
        (jal(0x0fff_fffc), "jal 0xffffffc"),
        (andi(T0, T0, 0xffff), "andi t0, t0, 0xffff"),
        (lui(T0, 0xbfd0), "lui t0, 0xbfd0"),
        (slti(V0, A0, -100), "slti v0, a0, -100"),
        (mfc0(T0, 12, 0), "mfc0 t0, $12, 0"),
        (mtc0(K0, 15, 1), "mtc0 k0, $15, 1"),
        (di(T0), "di t0"),
        (tlbwr(), "tlbwr"),
        (eret(), "eret"),
        (wait(0), "wait"),
        (madd(T0, T1), "madd t0, t1"),
        (mul(V0, A0, A1), "mul v0, a0, a1"),
        (clo(V1, A1), "clo v1, a1"),
        (sdbbp(1), "sdbbp 0x1"),
        (ext(T0, T1, 4, 8), "ext t0, t1, 4, 8"),
        (ins(A0, A1, 31, 1), "ins a0, a1, 31, 1"),
        (seh(V1, A1), "seh v1, a1"),
        (rdhwr(V1, 29), "rdhwr v1, $29"),
        (lw(RA, 28, SP), "lw ra, 28(sp)"),
        (lb(T0, -1, A0), "lb t0, -1(a0)"),
        (swr(T2, 0, A2), "swr t2, 0(a2)"),
        (sc(T0, 4, A0), "sc t0, 4(a0)"),
        (cache(0x15, 0, A0), "cache 0x15, 0(a0)"),
        (pref(30, -8, A1), "pref 0x1e, -8(a1)"),
        (synci(16, A0), "synci 16(a0)"),
    ];
    for &(word, text) in cases {
        assert_eq!(Instruction(word).to_string(), text, "{word:#010x}");
    }
    // Encodings that are not instructions here show their word.
    for (word, cop) in [(mfc1(T0, 2), 1), (swc1(0, -4, A0), 1)] {
        assert_eq!(
            Instruction(word).to_string(),
            format!("(cop{cop} {word:#010x})")
        );
    }
    for word in [deret(), jalx(0x0040_0000)] {
        assert_eq!(
            Instruction(word).to_string(),
            format!("(reserved {word:#010x})")
        );
    }
}
