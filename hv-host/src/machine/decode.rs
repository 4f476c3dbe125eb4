//! Decoding: a raw [`Instruction`] is classified once into an [`Op`], and
//! packed with its operands into a [`Decoded`] record that the execution
//! loop caches per physical page (see [`super::code`]) and dispatches on.
//!
//! Two decode-time rewrites keep the hot loop short, without changing what
//! the program observes:
//! - a pure ALU instruction whose destination is `$zero` becomes [`Op::Nop`];
//! - an instruction that must still run for its side effects (a load that can
//!   fault, `jalr`, `mfc0`, `add` that can overflow, ...) but writes `$zero`
//!   has its destination redirected to [`SINK`], a scratch slot past the 32
//!   architectural registers, so that `$zero` is never written.

use super::insn::Instruction;

/// Index of the scratch register that absorbs writes to `$zero`.
pub const SINK: u8 = 32;

/// Every operation the CPU knows, after decoding. The MIPS32 Release 2
/// integer ISA, plus the internal [`Op::Undecoded`] and [`Op::Nop`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
#[allow(missing_docs)] // The variants are the manual's mnemonics.
pub enum Op {
    /// Not decoded yet: the cache slot is filled on first execution.
    Undecoded,
    /// An instruction with no architectural effect (`nop`, `ehb`, `ssnop`,
    /// `pause`, `sync`, `pref`, `synci`, ALU ops writing `$zero`).
    Nop,
    /// A reserved or unimplemented encoding: raises Reserved Instruction.
    Reserved,
    /// A coprocessor 1/2/3 instruction: raises Coprocessor Unusable with the
    /// coprocessor number in `imm`.
    CopUnusable,
    // SPECIAL
    Sll,
    Srl,
    Sra,
    Rotr,
    Sllv,
    Srlv,
    Srav,
    Rotrv,
    Jr,
    Jalr,
    Movz,
    Movn,
    Syscall,
    Break,
    Sync,
    Mfhi,
    Mthi,
    Mflo,
    Mtlo,
    Mult,
    Multu,
    Div,
    Divu,
    Add,
    Addu,
    Sub,
    Subu,
    And,
    Or,
    Xor,
    Nor,
    Slt,
    Sltu,
    Tge,
    Tgeu,
    Tlt,
    Tltu,
    Teq,
    Tne,
    // REGIMM
    Bltz,
    Bgez,
    Bltzl,
    Bgezl,
    Bltzal,
    Bgezal,
    Bltzall,
    Bgezall,
    Tgei,
    Tgeiu,
    Tlti,
    Tltiu,
    Teqi,
    Tnei,
    Synci,
    // Jumps, branches, immediates
    J,
    Jal,
    Beq,
    Bne,
    Blez,
    Bgtz,
    Beql,
    Bnel,
    Blezl,
    Bgtzl,
    Addi,
    Addiu,
    Slti,
    Sltiu,
    Andi,
    Ori,
    Xori,
    Lui,
    // COP0
    Mfc0,
    Mtc0,
    Di,
    Ei,
    Rdpgpr,
    Wrpgpr,
    Tlbr,
    Tlbwi,
    Tlbwr,
    Tlbp,
    Eret,
    Wait,
    // SPECIAL2
    Madd,
    Maddu,
    Mul,
    Msub,
    Msubu,
    Clz,
    Clo,
    Sdbbp,
    // SPECIAL3
    Ext,
    Ins,
    Wsbh,
    Seb,
    Seh,
    Rdhwr,
    // Loads and stores
    Lb,
    Lh,
    Lwl,
    Lw,
    Lbu,
    Lhu,
    Lwr,
    Sb,
    Sh,
    Swl,
    Sw,
    Swr,
    Cache,
    Ll,
    Pref,
    Sc,
}

/// A decoded instruction: the operation and its operands, 8 bytes.
///
/// `rs`, `rt`, `rd` are register indices (a destination `$zero` may be
/// [`SINK`]); `imm` holds whatever the operation needs, already extended:
/// the sign- or zero-extended immediate, a branch offset in bytes, a jump
/// target's low 28 bits, a shift amount, a CP0 `sel`, an `ext`/`ins`
/// position and size (`pos | size << 8`), a trap code or a coprocessor
/// number.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(C)]
pub struct Decoded {
    /// The operation.
    pub op: Op,
    /// First source register.
    pub rs: u8,
    /// Second source register, or destination of I-type instructions.
    pub rt: u8,
    /// Destination of R-type instructions, or CP0/hardware register number.
    pub rd: u8,
    /// The immediate operand, see the type's documentation.
    pub imm: u32,
}

const _: () = assert!(core::mem::size_of::<Decoded>() == 8);

impl Decoded {
    /// The placeholder stored in code-cache slots not decoded yet.
    pub const UNDECODED: Decoded = Decoded {
        op: Op::Undecoded,
        rs: 0,
        rt: 0,
        rd: 0,
        imm: 0,
    };
}

/// Classifies an instruction word into its operation, with no rewriting:
/// the basis of both execution decoding and disassembly.
pub fn classify(i: Instruction) -> Op {
    use Op::*;
    match i.opcode() {
        0x00 => match i.funct() {
            0x00 => Sll,
            // MOVF/MOVT test an FPU condition code: no FPU, so CpU(1).
            0x01 => CopUnusable,
            0x02 => match i.rs() {
                0 => Srl,
                1 => Rotr,
                _ => Reserved,
            },
            0x03 => Sra,
            0x04 => Sllv,
            0x06 => match i.sa() {
                0 => Srlv,
                1 => Rotrv,
                _ => Reserved,
            },
            0x07 => Srav,
            0x08 => Jr,
            0x09 => Jalr,
            0x0a => Movz,
            0x0b => Movn,
            0x0c => Syscall,
            0x0d => Break,
            0x0f => Sync,
            0x10 => Mfhi,
            0x11 => Mthi,
            0x12 => Mflo,
            0x13 => Mtlo,
            0x18 => Mult,
            0x19 => Multu,
            0x1a => Div,
            0x1b => Divu,
            0x20 => Add,
            0x21 => Addu,
            0x22 => Sub,
            0x23 => Subu,
            0x24 => And,
            0x25 => Or,
            0x26 => Xor,
            0x27 => Nor,
            0x2a => Slt,
            0x2b => Sltu,
            0x30 => Tge,
            0x31 => Tgeu,
            0x32 => Tlt,
            0x33 => Tltu,
            0x34 => Teq,
            0x36 => Tne,
            _ => Reserved,
        },
        0x01 => match i.rt() {
            0x00 => Bltz,
            0x01 => Bgez,
            0x02 => Bltzl,
            0x03 => Bgezl,
            0x08 => Tgei,
            0x09 => Tgeiu,
            0x0a => Tlti,
            0x0b => Tltiu,
            0x0c => Teqi,
            0x0e => Tnei,
            0x10 => Bltzal,
            0x11 => Bgezal,
            0x12 => Bltzall,
            0x13 => Bgezall,
            0x1f => Synci,
            _ => Reserved,
        },
        0x02 => J,
        0x03 => Jal,
        0x04 => Beq,
        0x05 => Bne,
        0x06 => Blez,
        0x07 => Bgtz,
        0x08 => Addi,
        0x09 => Addiu,
        0x0a => Slti,
        0x0b => Sltiu,
        0x0c => Andi,
        0x0d => Ori,
        0x0e => Xori,
        0x0f => Lui,
        0x10 => match i.rs() {
            0x00 => Mfc0,
            0x04 => Mtc0,
            0x0a => Rdpgpr,
            // MFMC0: bit 5 (sc) selects EI (1) or DI (0).
            0x0b if i.rd() == 12 && i.sa() == 0 && i.funct() & 0x1f == 0 => {
                if i.funct() & 0x20 != 0 { Ei } else { Di }
            }
            0x0e => Wrpgpr,
            0x10..=0x1f => match i.funct() {
                0x01 => Tlbr,
                0x02 => Tlbwi,
                0x06 => Tlbwr,
                0x08 => Tlbp,
                0x18 => Eret,
                0x20 => Wait,
                _ => Reserved,
            },
            _ => Reserved,
        },
        0x11..=0x13 => CopUnusable,
        0x14 => Beql,
        0x15 => Bnel,
        0x16 => Blezl,
        0x17 => Bgtzl,
        0x1c => match i.funct() {
            0x00 => Madd,
            0x01 => Maddu,
            0x02 => Mul,
            0x04 => Msub,
            0x05 => Msubu,
            0x20 => Clz,
            0x21 => Clo,
            0x3f => Sdbbp,
            _ => Reserved,
        },
        0x1f => match i.funct() {
            0x00 => Ext,
            0x04 => Ins,
            0x20 => match i.sa() {
                0x02 => Wsbh,
                0x10 => Seb,
                0x18 => Seh,
                _ => Reserved,
            },
            0x3b => Rdhwr,
            _ => Reserved,
        },
        0x20 => Lb,
        0x21 => Lh,
        0x22 => Lwl,
        0x23 => Lw,
        0x24 => Lbu,
        0x25 => Lhu,
        0x26 => Lwr,
        0x28 => Sb,
        0x29 => Sh,
        0x2a => Swl,
        0x2b => Sw,
        0x2e => Swr,
        0x2f => Cache,
        0x30 => Ll,
        0x31 | 0x32 | 0x35 | 0x36 | 0x39 | 0x3a | 0x3d | 0x3e => CopUnusable,
        0x33 => Pref,
        0x38 => Sc,
        _ => Reserved,
    }
}

/// The coprocessor number a [`Op::CopUnusable`] instruction refers to.
fn cop_number(i: Instruction) -> u32 {
    match i.opcode() {
        0x00 | 0x11 | 0x13 | 0x31 | 0x35 | 0x39 | 0x3d => 1,
        _ => 2,
    }
}

/// Redirects a destination `$zero` to [`SINK`].
#[inline]
fn dest(r: u8) -> u8 {
    if r == 0 { SINK } else { r }
}

/// Decodes an instruction word for execution (see the module doc for the
/// two rewrites applied).
pub fn decode(i: Instruction) -> Decoded {
    use Op::*;
    let op = classify(i);
    let (rs, rt, rd) = (i.rs(), i.rt(), i.rd());
    let d = |op, rs, rt, rd, imm| Decoded {
        op,
        rs,
        rt,
        rd,
        imm,
    };
    let nop = d(Nop, 0, 0, 0, 0);
    match op {
        // R-type pure ALU: destination rd.
        Sll | Srl | Sra | Rotr if rd == 0 => nop,
        Sll | Srl | Sra | Rotr => d(op, 0, rt, rd, i.sa()),
        Sllv | Srlv | Srav | Rotrv | Movz | Movn | Addu | Subu | And | Or | Xor | Nor | Slt
        | Sltu | Mul | Clz | Clo | Mfhi | Mflo
            if rd == 0 =>
        {
            nop
        }
        Sllv | Srlv | Srav | Rotrv | Movz | Movn | Addu | Subu | And | Or | Xor | Nor | Slt
        | Sltu | Mul | Clz | Clo | Mfhi | Mflo => d(op, rs, rt, rd, 0),
        Add | Sub => d(op, rs, rt, dest(rd), 0),
        Jalr => d(op, rs, 0, dest(rd), 0),
        Jr | Mthi | Mtlo => d(op, rs, 0, 0, 0),
        Mult | Multu | Div | Divu | Madd | Maddu | Msub | Msubu => d(op, rs, rt, 0, 0),
        Syscall | Break | Sdbbp => d(op, 0, 0, 0, i.code20()),
        Tge | Tgeu | Tlt | Tltu | Teq | Tne => d(op, rs, rt, 0, i.code10()),
        Sync | Synci | Pref => nop,
        // REGIMM
        Bltz | Bgez | Bltzl | Bgezl | Bltzal | Bgezal | Bltzall | Bgezall => {
            d(op, rs, 0, 0, i.branch_offset())
        }
        Tgei | Tgeiu | Tlti | Tltiu | Teqi | Tnei => d(op, rs, 0, 0, i.imm_se()),
        J | Jal => d(op, 0, 0, 0, i.target()),
        Beq | Bne | Beql | Bnel => d(op, rs, rt, 0, i.branch_offset()),
        Blez | Bgtz | Blezl | Bgtzl => d(op, rs, 0, 0, i.branch_offset()),
        Addi => d(op, rs, dest(rt), 0, i.imm_se()),
        Addiu | Slti | Sltiu if rt == 0 => nop,
        Addiu | Slti | Sltiu => d(op, rs, rt, 0, i.imm_se()),
        Andi | Ori | Xori | Lui if rt == 0 => nop,
        Andi | Ori | Xori => d(op, rs, rt, 0, i.imm()),
        Lui => d(op, 0, rt, 0, i.imm() << 16),
        Mfc0 => d(op, 0, dest(rt), rd, u32::from(i.sel())),
        Mtc0 => d(op, 0, rt, rd, u32::from(i.sel())),
        Di | Ei => d(op, 0, dest(rt), 0, 0),
        Rdpgpr => d(op, 0, rt, dest(rd), 0),
        Wrpgpr => d(op, 0, rt, dest(rd), 0),
        Tlbr | Tlbwi | Tlbwr | Tlbp | Eret | Wait => d(op, 0, 0, 0, 0),
        Ext | Ins if rt == 0 => nop,
        Ext => d(op, rs, rt, 0, i.sa() | ((u32::from(rd) + 1) << 8)),
        // INS: msb in rd, lsb in sa; size = msb - lsb + 1 (may be <= 0 when
        // the encoding is UNPREDICTABLE; the executor treats that as a no-op).
        Ins => d(
            op,
            rs,
            rt,
            0,
            i.sa() | ((u32::from(rd) + 1).wrapping_sub(i.sa()) << 8),
        ),
        Wsbh | Seb | Seh if rd == 0 => nop,
        Wsbh | Seb | Seh => d(op, 0, rt, rd, 0),
        Rdhwr => d(op, 0, dest(rt), rd, 0),
        Lb | Lh | Lw | Lbu | Lhu | Lwl | Lwr | Ll => d(op, rs, dest(rt), 0, i.imm_se()),
        Sb | Sh | Sw | Swl | Swr | Sc => d(op, rs, rt, 0, i.imm_se()),
        Cache => d(op, rs, rt, 0, i.imm_se()),
        CopUnusable => d(op, 0, 0, 0, cop_number(i)),
        Reserved | Nop | Undecoded => d(Reserved, 0, 0, 0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nop_and_sink_rewrites() {
        // sll $zero, $zero, 0 (nop)
        assert_eq!(decode(Instruction(0)).op, Op::Nop);
        // addu $zero, $t0, $t1: pure, becomes a nop.
        assert_eq!(decode(Instruction(0x0109_0021)).op, Op::Nop);
        // lw $zero, 0($sp): must still fault, so it writes the sink.
        let d = decode(Instruction(0x8fa0_0000));
        assert_eq!((d.op, d.rt), (Op::Lw, SINK));
    }

    #[test]
    fn coprocessor_one_is_unusable() {
        // mfc1 $t0, $f0
        let d = decode(Instruction(0x4408_0000));
        assert_eq!((d.op, d.imm), (Op::CopUnusable, 1));
    }

    #[test]
    fn movf_movt_need_the_fpu() {
        // movf $t0, $t1, $fcc0 (SPECIAL funct 0x01)
        let d = decode(Instruction(0x0120_4001));
        assert_eq!((d.op, d.imm), (Op::CopUnusable, 1));
    }

    #[test]
    fn di_ei() {
        assert_eq!(classify(Instruction(0x4160_6000)), Op::Di);
        assert_eq!(classify(Instruction(0x4160_6020)), Op::Ei);
    }
}
