//! A small MIPS32 Release 2 assembler for tests and benchmarks, so that no
//! test carries hand-written instruction hex.
//!
//! Two layers:
//!
//! - one `const fn` per instruction that returns the encoded word, with the
//!   operands in the order the assembly syntax writes them
//!   (`addu(rd, rs, rt)`, `lw(rt, offset, base)`, `sll(rd, rt, sa)`,
//!   `mfc0(rt, rd, sel)`, `ext(rt, rs, pos, size)`); branches take the raw
//!   16-bit offset field, counted in instructions from the delay slot, and
//!   jumps take the absolute target address;
//! - the [`Asm`] builder, which places words at an origin address and
//!   resolves [`Label`]s for branches, jumps and [`Asm::la`].
//!
//! Branch delay slots are not filled automatically: the caller emits the
//! instruction that follows each branch or jump, as in `.set noreorder`.
//!
//! Operand values that cannot be encoded (a shift amount above 31, a code
//! wider than its field, a misaligned jump target) are programming errors in
//! the test that builds the program, and panic with a message; label errors,
//! which depend on the final layout, are reported by [`Asm::finish`].

use super::insn::Reg;
/// The registers by ABI name (`A0`, `SP`, ...) and by number (`GPRS`).
pub use super::insn::gpr::*;
use thiserror::Error;

// Major opcodes (bits 31..26).
const SPECIAL: u32 = 0x00;
const REGIMM: u32 = 0x01;
const OP_J: u32 = 0x02;
const OP_JAL: u32 = 0x03;
const OP_BEQ: u32 = 0x04;
const OP_BNE: u32 = 0x05;
const OP_BLEZ: u32 = 0x06;
const OP_BGTZ: u32 = 0x07;
const OP_ADDI: u32 = 0x08;
const OP_ADDIU: u32 = 0x09;
const OP_SLTI: u32 = 0x0a;
const OP_SLTIU: u32 = 0x0b;
const OP_ANDI: u32 = 0x0c;
const OP_ORI: u32 = 0x0d;
const OP_XORI: u32 = 0x0e;
const OP_LUI: u32 = 0x0f;
const OP_JALX: u32 = 0x1d;
const COP0: u32 = 0x10;
const COP1: u32 = 0x11;
const OP_BEQL: u32 = 0x14;
const OP_BNEL: u32 = 0x15;
const OP_BLEZL: u32 = 0x16;
const OP_BGTZL: u32 = 0x17;
const SPECIAL2: u32 = 0x1c;
const SPECIAL3: u32 = 0x1f;
const OP_LB: u32 = 0x20;
const OP_LH: u32 = 0x21;
const OP_LWL: u32 = 0x22;
const OP_LW: u32 = 0x23;
const OP_LBU: u32 = 0x24;
const OP_LHU: u32 = 0x25;
const OP_LWR: u32 = 0x26;
const OP_SB: u32 = 0x28;
const OP_SH: u32 = 0x29;
const OP_SWL: u32 = 0x2a;
const OP_SW: u32 = 0x2b;
const OP_SWR: u32 = 0x2e;
const OP_CACHE: u32 = 0x2f;
const OP_LL: u32 = 0x30;
const OP_LWC1: u32 = 0x31;
const OP_PREF: u32 = 0x33;
const OP_SC: u32 = 0x38;
const OP_SWC1: u32 = 0x39;

#[inline]
const fn r(x: Reg) -> u32 {
    x.num() as u32
}

/// An R-type word: `op | rs | rt | rd | sa | funct`.
const fn rtype(op: u32, rs: u32, rt: u32, rd: u32, sa: u32, funct: u32) -> u32 {
    assert!(rs < 32 && rt < 32 && rd < 32 && sa < 32 && funct < 64);
    (op << 26) | (rs << 21) | (rt << 16) | (rd << 11) | (sa << 6) | funct
}

/// An I-type word: `op | rs | rt | imm`.
const fn itype(op: u32, rs: u32, rt: u32, imm: u16) -> u32 {
    (op << 26) | (rs << 21) | (rt << 16) | imm as u32
}

const fn special(rs: Reg, rt: Reg, rd: Reg, sa: u32, funct: u32) -> u32 {
    rtype(SPECIAL, r(rs), r(rt), r(rd), sa, funct)
}

const fn shift(rd: Reg, rt: Reg, sa: u32, rs_field: u32, funct: u32) -> u32 {
    assert!(sa < 32, "shift amount above 31");
    rtype(SPECIAL, rs_field, r(rt), r(rd), sa, funct)
}

const fn regimm(rs: Reg, sub: u32, imm: u16) -> u32 {
    itype(REGIMM, r(rs), sub, imm)
}

const fn trap_code(code: u32) -> u32 {
    assert!(code < 1 << 10, "trap code wider than 10 bits");
    code
}

const fn code20(code: u32) -> u32 {
    assert!(code < 1 << 20, "code wider than 20 bits");
    code << 6
}

// ---------------------------------------------------------------- SPECIAL

/// No Operation (`sll $zero, $zero, 0`).
pub const fn nop() -> u32 {
    0
}
/// Superscalar No Operation (`sll $zero, $zero, 1`).
pub const fn ssnop() -> u32 {
    sll(ZERO, ZERO, 1)
}
/// Execution Hazard Barrier (`sll $zero, $zero, 3`).
pub const fn ehb() -> u32 {
    sll(ZERO, ZERO, 3)
}
/// Shift Word Left Logical.
pub const fn sll(rd: Reg, rt: Reg, sa: u32) -> u32 {
    shift(rd, rt, sa, 0, 0x00)
}
/// Shift Word Right Logical.
pub const fn srl(rd: Reg, rt: Reg, sa: u32) -> u32 {
    shift(rd, rt, sa, 0, 0x02)
}
/// Rotate Word Right (SRL with the R bit, bit 21, set).
pub const fn rotr(rd: Reg, rt: Reg, sa: u32) -> u32 {
    shift(rd, rt, sa, 1, 0x02)
}
/// Shift Word Right Arithmetic.
pub const fn sra(rd: Reg, rt: Reg, sa: u32) -> u32 {
    shift(rd, rt, sa, 0, 0x03)
}
/// Shift Word Left Logical Variable.
pub const fn sllv(rd: Reg, rt: Reg, rs: Reg) -> u32 {
    special(rs, rt, rd, 0, 0x04)
}
/// Shift Word Right Logical Variable.
pub const fn srlv(rd: Reg, rt: Reg, rs: Reg) -> u32 {
    special(rs, rt, rd, 0, 0x06)
}
/// Rotate Word Right Variable (SRLV with the R bit, bit 6, set).
pub const fn rotrv(rd: Reg, rt: Reg, rs: Reg) -> u32 {
    special(rs, rt, rd, 1, 0x06)
}
/// Shift Word Right Arithmetic Variable.
pub const fn srav(rd: Reg, rt: Reg, rs: Reg) -> u32 {
    special(rs, rt, rd, 0, 0x07)
}
/// Jump Register.
pub const fn jr(rs: Reg) -> u32 {
    special(rs, ZERO, ZERO, 0, 0x08)
}
/// Jump Register with Hazard Barrier (hint bit 10 set).
pub const fn jr_hb(rs: Reg) -> u32 {
    jr(rs) | 1 << 10
}
/// Jump And Link Register: `rd` receives the return address.
pub const fn jalr(rd: Reg, rs: Reg) -> u32 {
    special(rs, ZERO, rd, 0, 0x09)
}
/// Jump And Link Register with Hazard Barrier (hint bit 10 set).
pub const fn jalr_hb(rd: Reg, rs: Reg) -> u32 {
    jalr(rd, rs) | 1 << 10
}
/// Move Conditional on Zero.
pub const fn movz(rd: Reg, rs: Reg, rt: Reg) -> u32 {
    special(rs, rt, rd, 0, 0x0a)
}
/// Move Conditional on Not Zero.
pub const fn movn(rd: Reg, rs: Reg, rt: Reg) -> u32 {
    special(rs, rt, rd, 0, 0x0b)
}
/// System Call with the 20-bit `code` field (bits 25..6).
pub const fn syscall(code: u32) -> u32 {
    code20(code) | 0x0c
}
/// Breakpoint with the 20-bit `code` field (bits 25..6).
///
/// GNU `as` writes `break n` with `n` in the upper ten bits of the field,
/// that is `break_(n << 10)`.
pub const fn break_(code: u32) -> u32 {
    code20(code) | 0x0d
}
/// Synchronize Shared Memory; `stype` 0 is the full barrier.
pub const fn sync(stype: u32) -> u32 {
    assert!(stype < 32, "sync type above 31");
    (stype << 6) | 0x0f
}
/// Move From HI.
pub const fn mfhi(rd: Reg) -> u32 {
    special(ZERO, ZERO, rd, 0, 0x10)
}
/// Move To HI.
pub const fn mthi(rs: Reg) -> u32 {
    special(rs, ZERO, ZERO, 0, 0x11)
}
/// Move From LO.
pub const fn mflo(rd: Reg) -> u32 {
    special(ZERO, ZERO, rd, 0, 0x12)
}
/// Move To LO.
pub const fn mtlo(rs: Reg) -> u32 {
    special(rs, ZERO, ZERO, 0, 0x13)
}
/// Multiply Word (signed) into HI:LO.
pub const fn mult(rs: Reg, rt: Reg) -> u32 {
    special(rs, rt, ZERO, 0, 0x18)
}
/// Multiply Unsigned Word into HI:LO.
pub const fn multu(rs: Reg, rt: Reg) -> u32 {
    special(rs, rt, ZERO, 0, 0x19)
}
/// Divide Word (signed): LO = quotient, HI = remainder.
pub const fn div(rs: Reg, rt: Reg) -> u32 {
    special(rs, rt, ZERO, 0, 0x1a)
}
/// Divide Unsigned Word: LO = quotient, HI = remainder.
pub const fn divu(rs: Reg, rt: Reg) -> u32 {
    special(rs, rt, ZERO, 0, 0x1b)
}
/// Add Word (traps on signed overflow).
pub const fn add(rd: Reg, rs: Reg, rt: Reg) -> u32 {
    special(rs, rt, rd, 0, 0x20)
}
/// Add Unsigned Word (no overflow trap).
pub const fn addu(rd: Reg, rs: Reg, rt: Reg) -> u32 {
    special(rs, rt, rd, 0, 0x21)
}
/// Subtract Word (traps on signed overflow).
pub const fn sub(rd: Reg, rs: Reg, rt: Reg) -> u32 {
    special(rs, rt, rd, 0, 0x22)
}
/// Subtract Unsigned Word (no overflow trap).
pub const fn subu(rd: Reg, rs: Reg, rt: Reg) -> u32 {
    special(rs, rt, rd, 0, 0x23)
}
/// Bitwise AND.
pub const fn and(rd: Reg, rs: Reg, rt: Reg) -> u32 {
    special(rs, rt, rd, 0, 0x24)
}
/// Bitwise OR.
pub const fn or(rd: Reg, rs: Reg, rt: Reg) -> u32 {
    special(rs, rt, rd, 0, 0x25)
}
/// Bitwise Exclusive OR.
pub const fn xor(rd: Reg, rs: Reg, rt: Reg) -> u32 {
    special(rs, rt, rd, 0, 0x26)
}
/// Bitwise NOR.
pub const fn nor(rd: Reg, rs: Reg, rt: Reg) -> u32 {
    special(rs, rt, rd, 0, 0x27)
}
/// Set on Less Than (signed).
pub const fn slt(rd: Reg, rs: Reg, rt: Reg) -> u32 {
    special(rs, rt, rd, 0, 0x2a)
}
/// Set on Less Than Unsigned.
pub const fn sltu(rd: Reg, rs: Reg, rt: Reg) -> u32 {
    special(rs, rt, rd, 0, 0x2b)
}
/// Trap if Greater or Equal (signed), with a 10-bit code.
pub const fn tge(rs: Reg, rt: Reg, code: u32) -> u32 {
    special(rs, rt, ZERO, 0, 0x30) | trap_code(code) << 6
}
/// Trap if Greater or Equal Unsigned, with a 10-bit code.
pub const fn tgeu(rs: Reg, rt: Reg, code: u32) -> u32 {
    special(rs, rt, ZERO, 0, 0x31) | trap_code(code) << 6
}
/// Trap if Less Than (signed), with a 10-bit code.
pub const fn tlt(rs: Reg, rt: Reg, code: u32) -> u32 {
    special(rs, rt, ZERO, 0, 0x32) | trap_code(code) << 6
}
/// Trap if Less Than Unsigned, with a 10-bit code.
pub const fn tltu(rs: Reg, rt: Reg, code: u32) -> u32 {
    special(rs, rt, ZERO, 0, 0x33) | trap_code(code) << 6
}
/// Trap if Equal, with a 10-bit code.
pub const fn teq(rs: Reg, rt: Reg, code: u32) -> u32 {
    special(rs, rt, ZERO, 0, 0x34) | trap_code(code) << 6
}
/// Trap if Not Equal, with a 10-bit code.
pub const fn tne(rs: Reg, rt: Reg, code: u32) -> u32 {
    special(rs, rt, ZERO, 0, 0x36) | trap_code(code) << 6
}

// ------------------------------------------------------- pseudo-instructions

/// Move (`addu rd, rs, $zero`).
pub const fn mov(rd: Reg, rs: Reg) -> u32 {
    addu(rd, rs, ZERO)
}
/// Negate (`subu rd, $zero, rs`).
pub const fn negu(rd: Reg, rs: Reg) -> u32 {
    subu(rd, ZERO, rs)
}
/// Bitwise NOT (`nor rd, rs, $zero`).
pub const fn not(rd: Reg, rs: Reg) -> u32 {
    nor(rd, rs, ZERO)
}
/// Unconditional branch (`beq $zero, $zero, offset`).
pub const fn b(offset: i16) -> u32 {
    beq(ZERO, ZERO, offset)
}
/// Unconditional branch and link (`bgezal $zero, offset`).
pub const fn bal(offset: i16) -> u32 {
    bgezal(ZERO, offset)
}

// ----------------------------------------------------------------- REGIMM

/// Branch on Less Than Zero.
pub const fn bltz(rs: Reg, offset: i16) -> u32 {
    regimm(rs, 0x00, offset as u16)
}
/// Branch on Greater Than or Equal to Zero.
pub const fn bgez(rs: Reg, offset: i16) -> u32 {
    regimm(rs, 0x01, offset as u16)
}
/// Branch on Less Than Zero Likely.
pub const fn bltzl(rs: Reg, offset: i16) -> u32 {
    regimm(rs, 0x02, offset as u16)
}
/// Branch on Greater Than or Equal to Zero Likely.
pub const fn bgezl(rs: Reg, offset: i16) -> u32 {
    regimm(rs, 0x03, offset as u16)
}
/// Trap if Greater or Equal Immediate (signed).
pub const fn tgei(rs: Reg, imm: i16) -> u32 {
    regimm(rs, 0x08, imm as u16)
}
/// Trap if Greater or Equal Immediate Unsigned (the immediate is
/// sign-extended, then compared unsigned).
pub const fn tgeiu(rs: Reg, imm: i16) -> u32 {
    regimm(rs, 0x09, imm as u16)
}
/// Trap if Less Than Immediate (signed).
pub const fn tlti(rs: Reg, imm: i16) -> u32 {
    regimm(rs, 0x0a, imm as u16)
}
/// Trap if Less Than Immediate Unsigned (the immediate is sign-extended,
/// then compared unsigned).
pub const fn tltiu(rs: Reg, imm: i16) -> u32 {
    regimm(rs, 0x0b, imm as u16)
}
/// Trap if Equal Immediate.
pub const fn teqi(rs: Reg, imm: i16) -> u32 {
    regimm(rs, 0x0c, imm as u16)
}
/// Trap if Not Equal Immediate.
pub const fn tnei(rs: Reg, imm: i16) -> u32 {
    regimm(rs, 0x0e, imm as u16)
}
/// Branch on Less Than Zero And Link.
pub const fn bltzal(rs: Reg, offset: i16) -> u32 {
    regimm(rs, 0x10, offset as u16)
}
/// Branch on Greater Than or Equal to Zero And Link.
pub const fn bgezal(rs: Reg, offset: i16) -> u32 {
    regimm(rs, 0x11, offset as u16)
}
/// Branch on Less Than Zero And Link Likely.
pub const fn bltzall(rs: Reg, offset: i16) -> u32 {
    regimm(rs, 0x12, offset as u16)
}
/// Branch on Greater Than or Equal to Zero And Link Likely.
pub const fn bgezall(rs: Reg, offset: i16) -> u32 {
    regimm(rs, 0x13, offset as u16)
}
/// Synchronize Caches to Make Instruction Writes Effective.
pub const fn synci(offset: i16, base: Reg) -> u32 {
    regimm(base, 0x1f, offset as u16)
}

// ------------------------------------------------- jumps, branches, ALU imm

const fn jump(op: u32, target: u32) -> u32 {
    assert!(target & 3 == 0, "jump target not word-aligned");
    (op << 26) | ((target >> 2) & 0x03ff_ffff)
}

/// Jump to `target`, which must lie in the same 256 MiB region as the delay
/// slot (only its bits 27..2 are encoded).
pub const fn j(target: u32) -> u32 {
    jump(OP_J, target)
}
/// Jump And Link to `target` (same region rule as [`j`]).
pub const fn jal(target: u32) -> u32 {
    jump(OP_JAL, target)
}
/// Jump And Link Exchange to `target` (same region rule as [`j`]): switches
/// to the MIPS16e/microMIPS ISA, which this machine does not implement, so
/// it raises Reserved Instruction here.
pub const fn jalx(target: u32) -> u32 {
    jump(OP_JALX, target)
}
/// Branch on Equal.
pub const fn beq(rs: Reg, rt: Reg, offset: i16) -> u32 {
    itype(OP_BEQ, r(rs), r(rt), offset as u16)
}
/// Branch on Not Equal.
pub const fn bne(rs: Reg, rt: Reg, offset: i16) -> u32 {
    itype(OP_BNE, r(rs), r(rt), offset as u16)
}
/// Branch on Less Than or Equal to Zero.
pub const fn blez(rs: Reg, offset: i16) -> u32 {
    itype(OP_BLEZ, r(rs), 0, offset as u16)
}
/// Branch on Greater Than Zero.
pub const fn bgtz(rs: Reg, offset: i16) -> u32 {
    itype(OP_BGTZ, r(rs), 0, offset as u16)
}
/// Branch on Equal Likely (the delay slot is annulled if not taken).
pub const fn beql(rs: Reg, rt: Reg, offset: i16) -> u32 {
    itype(OP_BEQL, r(rs), r(rt), offset as u16)
}
/// Branch on Not Equal Likely.
pub const fn bnel(rs: Reg, rt: Reg, offset: i16) -> u32 {
    itype(OP_BNEL, r(rs), r(rt), offset as u16)
}
/// Branch on Less Than or Equal to Zero Likely.
pub const fn blezl(rs: Reg, offset: i16) -> u32 {
    itype(OP_BLEZL, r(rs), 0, offset as u16)
}
/// Branch on Greater Than Zero Likely.
pub const fn bgtzl(rs: Reg, offset: i16) -> u32 {
    itype(OP_BGTZL, r(rs), 0, offset as u16)
}
/// Add Immediate Word (traps on signed overflow).
pub const fn addi(rt: Reg, rs: Reg, imm: i16) -> u32 {
    itype(OP_ADDI, r(rs), r(rt), imm as u16)
}
/// Add Immediate Unsigned Word (no overflow trap).
pub const fn addiu(rt: Reg, rs: Reg, imm: i16) -> u32 {
    itype(OP_ADDIU, r(rs), r(rt), imm as u16)
}
/// Set on Less Than Immediate (signed).
pub const fn slti(rt: Reg, rs: Reg, imm: i16) -> u32 {
    itype(OP_SLTI, r(rs), r(rt), imm as u16)
}
/// Set on Less Than Immediate Unsigned (the immediate is sign-extended).
pub const fn sltiu(rt: Reg, rs: Reg, imm: i16) -> u32 {
    itype(OP_SLTIU, r(rs), r(rt), imm as u16)
}
/// AND Immediate (zero-extended).
pub const fn andi(rt: Reg, rs: Reg, imm: u16) -> u32 {
    itype(OP_ANDI, r(rs), r(rt), imm)
}
/// OR Immediate (zero-extended).
pub const fn ori(rt: Reg, rs: Reg, imm: u16) -> u32 {
    itype(OP_ORI, r(rs), r(rt), imm)
}
/// Exclusive OR Immediate (zero-extended).
pub const fn xori(rt: Reg, rs: Reg, imm: u16) -> u32 {
    itype(OP_XORI, r(rs), r(rt), imm)
}
/// Load Upper Immediate.
pub const fn lui(rt: Reg, imm: u16) -> u32 {
    itype(OP_LUI, 0, r(rt), imm)
}

// ------------------------------------------------------------------- COP0

const fn cop0_move(sub: u32, rt: Reg, rd: u8, sel: u8) -> u32 {
    assert!(rd < 32, "CP0 register above 31");
    assert!(sel < 8, "CP0 select above 7");
    rtype(COP0, sub, r(rt), rd as u32, 0, 0) | sel as u32
}

const fn cop0_co(funct: u32) -> u32 {
    (COP0 << 26) | (1 << 25) | funct
}

/// Move from Coprocessor 0 register `rd`, select `sel`.
pub const fn mfc0(rt: Reg, rd: u8, sel: u8) -> u32 {
    cop0_move(0x00, rt, rd, sel)
}
/// Move to Coprocessor 0 register `rd`, select `sel`.
pub const fn mtc0(rt: Reg, rd: u8, sel: u8) -> u32 {
    cop0_move(0x04, rt, rd, sel)
}
/// Read GPR from Previous Shadow Set: `rd` = `SGPR[SRSCtl.PSS][rt]`.
pub const fn rdpgpr(rd: Reg, rt: Reg) -> u32 {
    rtype(COP0, 0x0a, r(rt), r(rd), 0, 0)
}
/// Write GPR to Previous Shadow Set: `SGPR[SRSCtl.PSS][rd]` = `rt`.
pub const fn wrpgpr(rd: Reg, rt: Reg) -> u32 {
    rtype(COP0, 0x0e, r(rt), r(rd), 0, 0)
}
/// Disable Interrupts; `rt` receives the old Status (use [`ZERO`] to
/// discard it).
pub const fn di(rt: Reg) -> u32 {
    rtype(COP0, 0x0b, r(rt), 12, 0, 0)
}
/// Enable Interrupts; `rt` receives the old Status.
pub const fn ei(rt: Reg) -> u32 {
    rtype(COP0, 0x0b, r(rt), 12, 0, 0) | 1 << 5
}
/// Read Indexed TLB Entry.
pub const fn tlbr() -> u32 {
    cop0_co(0x01)
}
/// Write Indexed TLB Entry.
pub const fn tlbwi() -> u32 {
    cop0_co(0x02)
}
/// Write Random TLB Entry.
pub const fn tlbwr() -> u32 {
    cop0_co(0x06)
}
/// Probe TLB for Matching Entry.
pub const fn tlbp() -> u32 {
    cop0_co(0x08)
}
/// Exception Return.
pub const fn eret() -> u32 {
    cop0_co(0x18)
}
/// Debug Exception Return.
pub const fn deret() -> u32 {
    cop0_co(0x1f)
}
/// Enter Standby Mode, with the implementation-defined 19-bit code
/// (bits 24..6; GNU `as` writes plain `wait` with code 0).
pub const fn wait(code: u32) -> u32 {
    assert!(code < 1 << 19, "wait code wider than 19 bits");
    cop0_co(0x20) | code << 6
}

// --------------------------------------------------------------- SPECIAL2

/// Multiply and Add Word to HI:LO (signed).
pub const fn madd(rs: Reg, rt: Reg) -> u32 {
    rtype(SPECIAL2, r(rs), r(rt), 0, 0, 0x00)
}
/// Multiply and Add Unsigned Word to HI:LO.
pub const fn maddu(rs: Reg, rt: Reg) -> u32 {
    rtype(SPECIAL2, r(rs), r(rt), 0, 0, 0x01)
}
/// Multiply Word to GPR (low 32 bits; HI and LO are unpredictable).
pub const fn mul(rd: Reg, rs: Reg, rt: Reg) -> u32 {
    rtype(SPECIAL2, r(rs), r(rt), r(rd), 0, 0x02)
}
/// Multiply and Subtract Word from HI:LO (signed).
pub const fn msub(rs: Reg, rt: Reg) -> u32 {
    rtype(SPECIAL2, r(rs), r(rt), 0, 0, 0x04)
}
/// Multiply and Subtract Unsigned Word from HI:LO.
pub const fn msubu(rs: Reg, rt: Reg) -> u32 {
    rtype(SPECIAL2, r(rs), r(rt), 0, 0, 0x05)
}
/// Count Leading Zeros in Word (the manual requires `rt` = `rd`).
pub const fn clz(rd: Reg, rs: Reg) -> u32 {
    rtype(SPECIAL2, r(rs), r(rd), r(rd), 0, 0x20)
}
/// Count Leading Ones in Word (the manual requires `rt` = `rd`).
pub const fn clo(rd: Reg, rs: Reg) -> u32 {
    rtype(SPECIAL2, r(rs), r(rd), r(rd), 0, 0x21)
}
/// Software Debug Breakpoint with the 20-bit `code` field (bits 25..6);
/// `sdbbp(1)` is the UHI semihosting call.
pub const fn sdbbp(code: u32) -> u32 {
    (SPECIAL2 << 26) | code20(code) | 0x3f
}

// --------------------------------------------------------------- SPECIAL3

/// Extract Bit Field: `rt` = `rs[pos + size - 1 .. pos]`, zero-extended.
pub const fn ext(rt: Reg, rs: Reg, pos: u32, size: u32) -> u32 {
    assert!(
        pos < 32 && size >= 1 && pos + size <= 32,
        "ext field out of range"
    );
    rtype(SPECIAL3, r(rs), r(rt), size - 1, pos, 0x00)
}
/// Insert Bit Field: `rt[pos + size - 1 .. pos]` = `rs[size - 1 .. 0]`.
pub const fn ins(rt: Reg, rs: Reg, pos: u32, size: u32) -> u32 {
    assert!(
        pos < 32 && size >= 1 && pos + size <= 32,
        "ins field out of range"
    );
    rtype(SPECIAL3, r(rs), r(rt), pos + size - 1, pos, 0x04)
}
/// Word Swap Bytes Within Halfwords.
pub const fn wsbh(rd: Reg, rt: Reg) -> u32 {
    rtype(SPECIAL3, 0, r(rt), r(rd), 0x02, 0x20)
}
/// Sign-Extend Byte.
pub const fn seb(rd: Reg, rt: Reg) -> u32 {
    rtype(SPECIAL3, 0, r(rt), r(rd), 0x10, 0x20)
}
/// Sign-Extend Halfword.
pub const fn seh(rd: Reg, rt: Reg) -> u32 {
    rtype(SPECIAL3, 0, r(rt), r(rd), 0x18, 0x20)
}
/// Read Hardware Register `rd` (0 CPUNum, 1 SYNCI_Step, 2 CC, 3 CCRes,
/// 29 UserLocal) into `rt`.
pub const fn rdhwr(rt: Reg, rd: u8) -> u32 {
    assert!(rd < 32, "hardware register above 31");
    rtype(SPECIAL3, 0, r(rt), rd as u32, 0, 0x3b)
}

// ------------------------------------------------------------ loads, stores

const fn mem(op: u32, rt: u32, offset: i16, base: Reg) -> u32 {
    itype(op, r(base), rt, offset as u16)
}

/// Load Byte (sign-extended).
pub const fn lb(rt: Reg, offset: i16, base: Reg) -> u32 {
    mem(OP_LB, r(rt), offset, base)
}
/// Load Halfword (sign-extended).
pub const fn lh(rt: Reg, offset: i16, base: Reg) -> u32 {
    mem(OP_LH, r(rt), offset, base)
}
/// Load Word Left (unaligned, most-significant part).
pub const fn lwl(rt: Reg, offset: i16, base: Reg) -> u32 {
    mem(OP_LWL, r(rt), offset, base)
}
/// Load Word.
pub const fn lw(rt: Reg, offset: i16, base: Reg) -> u32 {
    mem(OP_LW, r(rt), offset, base)
}
/// Load Byte Unsigned.
pub const fn lbu(rt: Reg, offset: i16, base: Reg) -> u32 {
    mem(OP_LBU, r(rt), offset, base)
}
/// Load Halfword Unsigned.
pub const fn lhu(rt: Reg, offset: i16, base: Reg) -> u32 {
    mem(OP_LHU, r(rt), offset, base)
}
/// Load Word Right (unaligned, least-significant part).
pub const fn lwr(rt: Reg, offset: i16, base: Reg) -> u32 {
    mem(OP_LWR, r(rt), offset, base)
}
/// Store Byte.
pub const fn sb(rt: Reg, offset: i16, base: Reg) -> u32 {
    mem(OP_SB, r(rt), offset, base)
}
/// Store Halfword.
pub const fn sh(rt: Reg, offset: i16, base: Reg) -> u32 {
    mem(OP_SH, r(rt), offset, base)
}
/// Store Word Left (unaligned, most-significant part).
pub const fn swl(rt: Reg, offset: i16, base: Reg) -> u32 {
    mem(OP_SWL, r(rt), offset, base)
}
/// Store Word.
pub const fn sw(rt: Reg, offset: i16, base: Reg) -> u32 {
    mem(OP_SW, r(rt), offset, base)
}
/// Store Word Right (unaligned, least-significant part).
pub const fn swr(rt: Reg, offset: i16, base: Reg) -> u32 {
    mem(OP_SWR, r(rt), offset, base)
}
/// Load Linked Word.
pub const fn ll(rt: Reg, offset: i16, base: Reg) -> u32 {
    mem(OP_LL, r(rt), offset, base)
}
/// Store Conditional Word (`rt` receives 1 on success, 0 on failure).
pub const fn sc(rt: Reg, offset: i16, base: Reg) -> u32 {
    mem(OP_SC, r(rt), offset, base)
}
/// Perform Cache Operation `op` (5 bits: cache in bits 1..0, operation in
/// bits 4..2).
pub const fn cache(op: u32, offset: i16, base: Reg) -> u32 {
    assert!(op < 32, "cache op above 31");
    mem(OP_CACHE, op, offset, base)
}
/// Prefetch with `hint` (5 bits).
pub const fn pref(hint: u32, offset: i16, base: Reg) -> u32 {
    assert!(hint < 32, "prefetch hint above 31");
    mem(OP_PREF, hint, offset, base)
}

// ------------------------------------------------------------------- COP1
// Only so tests can check that they raise Coprocessor Unusable: the machine
// has no FPU. `ft`/`fs` are FPU register numbers.

/// Move Word From Floating Point (`mfc1 rt, fs`).
pub const fn mfc1(rt: Reg, fs: u8) -> u32 {
    assert!(fs < 32, "FPU register above 31");
    rtype(COP1, 0x00, r(rt), fs as u32, 0, 0)
}
/// Move Word To Floating Point (`mtc1 rt, fs`).
pub const fn mtc1(rt: Reg, fs: u8) -> u32 {
    assert!(fs < 32, "FPU register above 31");
    rtype(COP1, 0x04, r(rt), fs as u32, 0, 0)
}
/// Load Word to Floating Point (`lwc1 ft, offset(base)`).
pub const fn lwc1(ft: u8, offset: i16, base: Reg) -> u32 {
    assert!(ft < 32, "FPU register above 31");
    mem(OP_LWC1, ft as u32, offset, base)
}
/// Store Word from Floating Point (`swc1 ft, offset(base)`).
pub const fn swc1(ft: u8, offset: i16, base: Reg) -> u32 {
    assert!(ft < 32, "FPU register above 31");
    mem(OP_SWC1, ft as u32, offset, base)
}

// ------------------------------------------------------------------ builder

/// A position in an [`Asm`] program, created by [`Asm::new_label`] and
/// placed by [`Asm::bind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Label(u32);

/// What [`Asm::finish`] (or [`Asm::label_addr`]) reports.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AsmError {
    /// A label was used but never bound.
    #[error("label {0:?} used but never bound")]
    UnboundLabel(Label),
    /// A label was bound twice.
    #[error("label {label:?} bound twice (at {first:#010x} and {second:#010x})")]
    LabelBoundTwice {
        /// The label.
        label: Label,
        /// Where it was first bound.
        first: u32,
        /// Where the second bind happened.
        second: u32,
    },
    /// A label did not come from this assembler.
    #[error("label {0:?} does not belong to this assembler")]
    ForeignLabel(Label),
    /// A branch target is beyond the signed 16-bit instruction offset.
    #[error("branch at {at:#010x} cannot reach {target:#010x}")]
    BranchOutOfRange {
        /// Address of the branch.
        at: u32,
        /// Address of the target.
        target: u32,
    },
    /// A J/JAL target is outside the 256 MiB region of the delay slot.
    #[error("jump at {at:#010x} cannot reach {target:#010x} (other 256 MiB region)")]
    JumpOutOfRegion {
        /// Address of the jump.
        at: u32,
        /// Address of the target.
        target: u32,
    },
    /// The program would run past the top of the 4 GiB address space.
    #[error("program at origin {origin:#010x} of {words} words wraps past 4 GiB")]
    AddressOverflow {
        /// The origin.
        origin: u32,
        /// The program length in words.
        words: usize,
    },
}

#[derive(Clone, Copy, Debug)]
enum FixupKind {
    /// 16-bit branch offset from the delay slot.
    Branch,
    /// 26-bit J/JAL index.
    Jump,
    /// High half of the address for `lui`.
    Hi,
    /// Low half of the address for `ori`.
    Lo,
}

#[derive(Clone, Copy, Debug)]
struct Fixup {
    index: usize,
    label: Label,
    kind: FixupKind,
}

/// A MIPS32 program under construction at a fixed origin address.
///
/// ```
/// use hv_host::machine::asm::*;
/// let mut a = Asm::new(0x8000_0000);
/// let top = a.new_label();
/// a.li(T0, 10);
/// a.bind(top);
/// a.emit(addiu(T0, T0, -1));
/// a.bne(T0, ZERO, top);
/// a.nop();
/// let words = a.finish().unwrap();
/// assert_eq!(words.len(), 4);
/// ```
#[derive(Debug, Clone)]
pub struct Asm {
    origin: u32,
    words: Vec<u32>,
    labels: Vec<Option<u32>>,
    names: Vec<(String, Label)>,
    fixups: Vec<Fixup>,
    errors: Vec<AsmError>,
}

impl Asm {
    /// An empty program whose first word will sit at `origin`.
    ///
    /// Panics if `origin` is not word-aligned.
    pub fn new(origin: u32) -> Self {
        assert!(origin & 3 == 0, "origin {origin:#x} not word-aligned");
        Self {
            origin,
            words: Vec::new(),
            labels: Vec::new(),
            names: Vec::new(),
            fixups: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// The origin address.
    pub fn origin(&self) -> u32 {
        self.origin
    }

    /// The address of the next word to be emitted.
    pub fn pc(&self) -> u32 {
        self.origin
            .wrapping_add((self.words.len() as u32).wrapping_mul(4))
    }

    /// Words emitted so far.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether nothing has been emitted.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Appends one instruction or data word.
    pub fn emit(&mut self, word: u32) -> &mut Self {
        self.words.push(word);
        self
    }

    /// Appends several words.
    pub fn emit_all(&mut self, words: &[u32]) -> &mut Self {
        self.words.extend_from_slice(words);
        self
    }

    /// Appends `bytes` as data, zero-padded to a whole number of words
    /// (little-endian: byte 0 is the lowest-addressed byte).
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        for chunk in bytes.chunks(4) {
            let mut w = [0u8; 4];
            w[..chunk.len()].copy_from_slice(chunk);
            self.words.push(u32::from_le_bytes(w));
        }
        self
    }

    /// A new, unbound label.
    pub fn new_label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() as u32 - 1)
    }

    /// A new label with a symbol name, reported by [`Asm::symbols`] (for an
    /// ELF symbol table).
    pub fn named_label(&mut self, name: &str) -> Label {
        let l = self.new_label();
        self.names.push((name.to_owned(), l));
        l
    }

    /// Binds `label` to the current position.
    pub fn bind(&mut self, label: Label) -> &mut Self {
        let here = self.pc();
        match self.labels.get_mut(label.0 as usize) {
            None => self.errors.push(AsmError::ForeignLabel(label)),
            Some(Some(first)) => {
                let first = *first;
                self.errors.push(AsmError::LabelBoundTwice {
                    label,
                    first,
                    second: here,
                });
            }
            Some(slot @ None) => *slot = Some(here),
        }
        self
    }

    /// A new label bound to the current position.
    pub fn here(&mut self) -> Label {
        let l = self.new_label();
        self.bind(l);
        l
    }

    /// The address a label is bound to.
    pub fn label_addr(&self, label: Label) -> Result<u32, AsmError> {
        match self.labels.get(label.0 as usize) {
            None => Err(AsmError::ForeignLabel(label)),
            Some(None) => Err(AsmError::UnboundLabel(label)),
            Some(Some(a)) => Ok(*a),
        }
    }

    /// The named labels that are bound, as `(name, address)`, in creation
    /// order.
    pub fn symbols(&self) -> Vec<(String, u32)> {
        self.names
            .iter()
            .filter_map(|(n, l)| self.label_addr(*l).ok().map(|a| (n.clone(), a)))
            .collect()
    }

    fn emit_fixup(&mut self, word: u32, label: Label, kind: FixupKind) -> &mut Self {
        self.fixups.push(Fixup {
            index: self.words.len(),
            label,
            kind,
        });
        self.emit(word)
    }

    /// No Operation.
    pub fn nop(&mut self) -> &mut Self {
        self.emit(nop())
    }

    /// Loads a 32-bit constant with the shortest GNU-style sequence: one
    /// `addiu` (signed 16-bit values), one `ori` (unsigned 16-bit values),
    /// one `lui` (low half zero), else `lui` + `ori`.
    pub fn li(&mut self, rt: Reg, value: u32) -> &mut Self {
        let hi = (value >> 16) as u16;
        let lo = value as u16;
        if value as i32 >= i16::MIN as i32 && value as i32 <= i16::MAX as i32 {
            self.emit(addiu(rt, ZERO, value as i16))
        } else if hi == 0 {
            self.emit(ori(rt, ZERO, lo))
        } else if lo == 0 {
            self.emit(lui(rt, hi))
        } else {
            self.emit(lui(rt, hi)).emit(ori(rt, rt, lo))
        }
    }

    /// Loads a 32-bit constant with exactly `lui` + `ori` (two words
    /// whatever the value, for code whose length must not depend on it).
    pub fn li32(&mut self, rt: Reg, value: u32) -> &mut Self {
        self.emit(lui(rt, (value >> 16) as u16))
            .emit(ori(rt, rt, value as u16))
    }

    /// Loads the address of `label` (`lui` + `ori`, resolved at finish).
    pub fn la(&mut self, rt: Reg, label: Label) -> &mut Self {
        self.emit_fixup(lui(rt, 0), label, FixupKind::Hi)
            .emit_fixup(ori(rt, rt, 0), label, FixupKind::Lo)
    }

    /// Jump to `label` (J, same 256 MiB region).
    pub fn j(&mut self, label: Label) -> &mut Self {
        self.emit_fixup(j(0), label, FixupKind::Jump)
    }

    /// Jump And Link to `label` (JAL, same 256 MiB region).
    pub fn jal(&mut self, label: Label) -> &mut Self {
        self.emit_fixup(jal(0), label, FixupKind::Jump)
    }

    fn branch(&mut self, word: u32, label: Label) -> &mut Self {
        self.emit_fixup(word, label, FixupKind::Branch)
    }

    /// Unconditional branch to `label`.
    pub fn b(&mut self, label: Label) -> &mut Self {
        self.branch(b(0), label)
    }
    /// Unconditional branch and link to `label`.
    pub fn bal(&mut self, label: Label) -> &mut Self {
        self.branch(bal(0), label)
    }
    /// Branch on Equal to `label`.
    pub fn beq(&mut self, rs: Reg, rt: Reg, label: Label) -> &mut Self {
        self.branch(beq(rs, rt, 0), label)
    }
    /// Branch on Not Equal to `label`.
    pub fn bne(&mut self, rs: Reg, rt: Reg, label: Label) -> &mut Self {
        self.branch(bne(rs, rt, 0), label)
    }
    /// Branch on Less Than or Equal to Zero to `label`.
    pub fn blez(&mut self, rs: Reg, label: Label) -> &mut Self {
        self.branch(blez(rs, 0), label)
    }
    /// Branch on Greater Than Zero to `label`.
    pub fn bgtz(&mut self, rs: Reg, label: Label) -> &mut Self {
        self.branch(bgtz(rs, 0), label)
    }
    /// Branch on Less Than Zero to `label`.
    pub fn bltz(&mut self, rs: Reg, label: Label) -> &mut Self {
        self.branch(bltz(rs, 0), label)
    }
    /// Branch on Greater Than or Equal to Zero to `label`.
    pub fn bgez(&mut self, rs: Reg, label: Label) -> &mut Self {
        self.branch(bgez(rs, 0), label)
    }
    /// Branch on Less Than Zero And Link to `label`.
    pub fn bltzal(&mut self, rs: Reg, label: Label) -> &mut Self {
        self.branch(bltzal(rs, 0), label)
    }
    /// Branch on Greater Than or Equal to Zero And Link to `label`.
    pub fn bgezal(&mut self, rs: Reg, label: Label) -> &mut Self {
        self.branch(bgezal(rs, 0), label)
    }
    /// Branch on Equal Likely to `label`.
    pub fn beql(&mut self, rs: Reg, rt: Reg, label: Label) -> &mut Self {
        self.branch(beql(rs, rt, 0), label)
    }
    /// Branch on Not Equal Likely to `label`.
    pub fn bnel(&mut self, rs: Reg, rt: Reg, label: Label) -> &mut Self {
        self.branch(bnel(rs, rt, 0), label)
    }
    /// Branch on Less Than or Equal to Zero Likely to `label`.
    pub fn blezl(&mut self, rs: Reg, label: Label) -> &mut Self {
        self.branch(blezl(rs, 0), label)
    }
    /// Branch on Greater Than Zero Likely to `label`.
    pub fn bgtzl(&mut self, rs: Reg, label: Label) -> &mut Self {
        self.branch(bgtzl(rs, 0), label)
    }
    /// Branch on Less Than Zero Likely to `label`.
    pub fn bltzl(&mut self, rs: Reg, label: Label) -> &mut Self {
        self.branch(bltzl(rs, 0), label)
    }
    /// Branch on Greater Than or Equal to Zero Likely to `label`.
    pub fn bgezl(&mut self, rs: Reg, label: Label) -> &mut Self {
        self.branch(bgezl(rs, 0), label)
    }
    /// Branch on Less Than Zero And Link Likely to `label`.
    pub fn bltzall(&mut self, rs: Reg, label: Label) -> &mut Self {
        self.branch(bltzall(rs, 0), label)
    }
    /// Branch on Greater Than or Equal to Zero And Link Likely to `label`.
    pub fn bgezall(&mut self, rs: Reg, label: Label) -> &mut Self {
        self.branch(bgezall(rs, 0), label)
    }

    /// Resolves every label use and returns the program's words.
    ///
    /// Fails on the first recorded problem: a label bound twice or not
    /// belonging to this assembler, a use of an unbound label, a branch
    /// beyond ±128 KiB of its delay slot, a jump into another 256 MiB
    /// region, or a program that wraps past the top of the address space.
    pub fn finish(self) -> Result<Vec<u32>, AsmError> {
        if let Some(e) = self.errors.into_iter().next() {
            return Err(e);
        }
        let bytes = (self.words.len() as u64) * 4;
        if u64::from(self.origin) + bytes > 1 << 32 {
            return Err(AsmError::AddressOverflow {
                origin: self.origin,
                words: self.words.len(),
            });
        }
        let mut words = self.words;
        for f in &self.fixups {
            let target = match self.labels.get(f.label.0 as usize) {
                None => return Err(AsmError::ForeignLabel(f.label)),
                Some(None) => return Err(AsmError::UnboundLabel(f.label)),
                Some(Some(t)) => *t,
            };
            let at = self.origin.wrapping_add(f.index as u32 * 4);
            let slot = at.wrapping_add(4);
            let w = &mut words[f.index];
            match f.kind {
                FixupKind::Branch => {
                    let delta = (i64::from(target) - i64::from(slot)) / 4;
                    let Ok(off) = i16::try_from(delta) else {
                        return Err(AsmError::BranchOutOfRange { at, target });
                    };
                    *w = (*w & 0xffff_0000) | u32::from(off as u16);
                }
                FixupKind::Jump => {
                    if slot & 0xf000_0000 != target & 0xf000_0000 {
                        return Err(AsmError::JumpOutOfRegion { at, target });
                    }
                    *w = (*w & 0xfc00_0000) | ((target >> 2) & 0x03ff_ffff);
                }
                FixupKind::Hi => *w = (*w & 0xffff_0000) | (target >> 16),
                FixupKind::Lo => *w = (*w & 0xffff_0000) | (target & 0xffff),
            }
        }
        Ok(words)
    }

    /// [`Asm::finish`], as little-endian bytes.
    pub fn finish_bytes(self) -> Result<Vec<u8>, AsmError> {
        Ok(self
            .finish()?
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodings checked once against GNU binutils 2.40
    /// (`mipsel-linux-gnu-as -march=mips32r2 -mno-pdr` then
    /// `mipsel-linux-gnu-objdump -d`); binutils is not needed to run this
    /// test. Branch offsets are raw fields (the assembler text used the
    /// equivalent `.+4+4*off` target).
    #[rustfmt::skip]
    const TABLE: &[(u32, &str, u32)] = &[
        (nop(), "nop", 0x0000_0000),
        (ssnop(), "ssnop", 0x0000_0040),
        (ehb(), "ehb", 0x0000_00c0),
        (sll(T0, T1, 7), "sll $t0,$t1,7", 0x0009_41c0),
        (srl(V0, A3, 31), "srl $v0,$a3,31", 0x0007_17c2),
        (rotr(S0, S1, 9), "rotr $s0,$s1,9", 0x0031_8242),
        (sra(K0, K1, 1), "sra $k0,$k1,1", 0x001b_d043),
        (sllv(T0, T1, T2), "sllv $t0,$t1,$t2", 0x0149_4004),
        (srlv(T3, T4, T5), "srlv $t3,$t4,$t5", 0x01ac_5806),
        (rotrv(A0, A1, A2), "rotrv $a0,$a1,$a2", 0x00c5_2046),
        (srav(S2, S3, S4), "srav $s2,$s3,$s4", 0x0293_9007),
        (jr(RA), "jr $ra", 0x03e0_0008),
        (jr_hb(T9), "jr.hb $t9", 0x0320_0408),
        (jalr(RA, T9), "jalr $ra,$t9", 0x0320_f809),
        (jalr(S5, T8), "jalr $s5,$t8", 0x0300_a809),
        (jalr_hb(RA, T0), "jalr.hb $ra,$t0", 0x0100_fc09),
        (movz(T0, T1, T2), "movz $t0,$t1,$t2", 0x012a_400a),
        (movn(GP, SP, FP), "movn $gp,$sp,$fp", 0x03be_e00b),
        (syscall(0), "syscall", 0x0000_000c),
        (syscall(0x12345), "syscall 0x12345", 0x0048_d14c),
        (break_(0), "break", 0x0000_000d),
        (break_(7 << 10), "break 7", 0x0007_000d),
        (break_((3 << 10) | 5), "break 3,5", 0x0003_014d),
        (sync(0), "sync", 0x0000_000f),
        (sync(4), "sync 4", 0x0000_010f),
        (mfhi(V0), "mfhi $v0", 0x0000_1010),
        (mthi(V1), "mthi $v1", 0x0060_0011),
        (mflo(A0), "mflo $a0", 0x0000_2012),
        (mtlo(A1), "mtlo $a1", 0x00a0_0013),
        (mult(T0, T1), "mult $t0,$t1", 0x0109_0018),
        (multu(T2, T3), "multu $t2,$t3", 0x014b_0019),
        (div(T4, T5), "div $zero,$t4,$t5", 0x018d_001a),
        (divu(T6, T7), "divu $zero,$t6,$t7", 0x01cf_001b),
        (add(V0, A0, A1), "add $v0,$a0,$a1", 0x0085_1020),
        (addu(SP, SP, T0), "addu $sp,$sp,$t0", 0x03a8_e821),
        (sub(T0, T1, T2), "sub $t0,$t1,$t2", 0x012a_4022),
        (subu(S0, S1, S2), "subu $s0,$s1,$s2", 0x0232_8023),
        (and(A0, A1, A2), "and $a0,$a1,$a2", 0x00a6_2024),
        (or(A3, T0, T1), "or $a3,$t0,$t1", 0x0109_3825),
        (xor(T2, T3, T4), "xor $t2,$t3,$t4", 0x016c_5026),
        (nor(T5, T6, T7), "nor $t5,$t6,$t7", 0x01cf_6827),
        (slt(V0, S6, S7), "slt $v0,$s6,$s7", 0x02d7_102a),
        (sltu(V1, T8, T9), "sltu $v1,$t8,$t9", 0x0319_182b),
        (tge(A0, A1, 0), "tge $a0,$a1", 0x0085_0030),
        (tgeu(A0, A1, 3), "tgeu $a0,$a1,3", 0x0085_00f1),
        (tlt(T0, T1, 0x3ff), "tlt $t0,$t1,0x3ff", 0x0109_fff2),
        (tltu(T0, T1, 1), "tltu $t0,$t1,1", 0x0109_0073),
        (teq(ZERO, ZERO, 7), "teq $zero,$zero,7", 0x0000_01f4),
        (tne(S0, S1, 0), "tne $s0,$s1", 0x0211_0036),
        (mov(T0, A0), "addu $t0,$a0,$zero", 0x0080_4021),
        (negu(T0, A0), "negu $t0,$a0", 0x0004_4023),
        (not(T0, A0), "not $t0,$a0", 0x0080_4027),
        (b(-1), "b .", 0x1000_ffff),
        (bal(3), "bal .+16", 0x0411_0003),
        (bltz(A0, 1), "bltz $a0,.+8", 0x0480_0001),
        (bgez(A1, -2), "bgez $a1,.-4", 0x04a1_fffe),
        (bltzl(T0, 100), "bltzl $t0,.+404", 0x0502_0064),
        (bgezl(T1, -32768), "bgezl $t1,.+4-131072", 0x0523_8000),
        (tgei(A0, -5), "tgei $a0,-5", 0x0488_fffb),
        (tgeiu(A0, 5), "tgeiu $a0,5", 0x0489_0005),
        (tlti(A1, 0x7fff), "tlti $a1,0x7fff", 0x04aa_7fff),
        (tltiu(A1, -1), "tltiu $a1,-1", 0x04ab_ffff),
        (teqi(T0, 0), "teqi $t0,0", 0x050c_0000),
        (tnei(T0, 42), "tnei $t0,42", 0x050e_002a),
        (bltzal(S0, 2), "bltzal $s0,.+12", 0x0610_0002),
        (bgezal(S1, 32767), "bgezal $s1,.+4+131068", 0x0631_7fff),
        (bltzall(S2, 0), "bltzall $s2,.+4", 0x0652_0000),
        (bgezall(S3, -4), "bgezall $s3,.-12", 0x0673_fffc),
        (synci(16, A0), "synci 16($a0)", 0x049f_0010),
        (j(0x0040_0000), "j 0x400000", 0x0810_0000),
        (jal(0x0ffffffc), "jal 0xffffffc", 0x0fff_ffff),
        (jalx(0x0040_0000), "jalx 0x400000", 0x7410_0000),
        (jalx(0x0ffffffc), "jalx 0xffffffc", 0x77ff_ffff),
        (beq(T0, T1, 5), "beq $t0,$t1,.+24", 0x1109_0005),
        (bne(A0, ZERO, -3), "bne $a0,$zero,.-8", 0x1480_fffd),
        (blez(V0, 1), "blez $v0,.+8", 0x1840_0001),
        (bgtz(V1, 1), "bgtz $v1,.+8", 0x1c60_0001),
        (beql(T0, T1, 1), "beql $t0,$t1,.+8", 0x5109_0001),
        (bnel(T2, T3, 1), "bnel $t2,$t3,.+8", 0x554b_0001),
        (blezl(T4, 1), "blezl $t4,.+8", 0x5980_0001),
        (bgtzl(T5, 1), "bgtzl $t5,.+8", 0x5da0_0001),
        (addi(T0, T1, -1), "addi $t0,$t1,-1", 0x2128_ffff),
        (addiu(SP, SP, -16), "addiu $sp,$sp,-16", 0x27bd_fff0),
        (slti(V0, A0, 100), "slti $v0,$a0,100", 0x2882_0064),
        (sltiu(V0, A0, -100), "sltiu $v0,$a0,-100", 0x2c82_ff9c),
        (andi(T0, T0, 0xffff), "andi $t0,$t0,0xffff", 0x3108_ffff),
        (ori(T0, ZERO, 0x8000), "ori $t0,$zero,0x8000", 0x3408_8000),
        (xori(A0, A1, 0x1234), "xori $a0,$a1,0x1234", 0x38a4_1234),
        (lui(T0, 0xbfd0), "lui $t0,0xbfd0", 0x3c08_bfd0),
        (mfc0(T0, 12, 0), "mfc0 $t0,$12,0", 0x4008_6000),
        (mfc0(K0, 16, 1), "mfc0 $k0,$16,1", 0x401a_8001),
        (mtc0(T1, 14, 0), "mtc0 $t1,$14", 0x4089_7000),
        (mtc0(ZERO, 9, 7), "mtc0 $zero,$9,7", 0x4080_4807),
        (rdpgpr(SP, SP), "rdpgpr $sp,$sp", 0x415d_e800),
        (wrpgpr(A0, T0), "wrpgpr $a0,$t0", 0x41c8_2000),
        (di(ZERO), "di", 0x4160_6000),
        (di(T0), "di $t0", 0x4168_6000),
        (ei(ZERO), "ei", 0x4160_6020),
        (ei(V0), "ei $v0", 0x4162_6020),
        (tlbr(), "tlbr", 0x4200_0001),
        (tlbwi(), "tlbwi", 0x4200_0002),
        (tlbwr(), "tlbwr", 0x4200_0006),
        (tlbp(), "tlbp", 0x4200_0008),
        (eret(), "eret", 0x4200_0018),
        (deret(), "deret", 0x4200_001f),
        (wait(0), "wait", 0x4200_0020),
        (wait(0x1234), "wait 0x1234", 0x4204_8d20),
        (madd(T0, T1), "madd $t0,$t1", 0x7109_0000),
        (maddu(T2, T3), "maddu $t2,$t3", 0x714b_0001),
        (mul(V0, A0, A1), "mul $v0,$a0,$a1", 0x7085_1002),
        (msub(T4, T5), "msub $t4,$t5", 0x718d_0004),
        (msubu(T6, T7), "msubu $t6,$t7", 0x71cf_0005),
        (clz(V0, A0), "clz $v0,$a0", 0x7082_1020),
        (clo(V1, A1), "clo $v1,$a1", 0x70a3_1821),
        (sdbbp(0), "sdbbp", 0x7000_003f),
        (sdbbp(1), "sdbbp 1", 0x7000_007f),
        (sdbbp(0xfffff), "sdbbp 0xfffff", 0x73ff_ffff),
        (ext(T0, T1, 4, 8), "ext $t0,$t1,4,8", 0x7d28_3900),
        (ext(T0, T1, 0, 32), "ext $t0,$t1,0,32", 0x7d28_f800),
        (ins(A0, A1, 8, 16), "ins $a0,$a1,8,16", 0x7ca4_ba04),
        (ins(A0, A1, 31, 1), "ins $a0,$a1,31,1", 0x7ca4_ffc4),
        (wsbh(V0, A0), "wsbh $v0,$a0", 0x7c04_10a0),
        (seb(V0, A0), "seb $v0,$a0", 0x7c04_1420),
        (seh(V1, A1), "seh $v1,$a1", 0x7c05_1e20),
        (rdhwr(V1, 29), "rdhwr $v1,$29", 0x7c03_e83b),
        (rdhwr(T0, 2), "rdhwr $t0,$2", 0x7c08_103b),
        (lb(T0, -1, A0), "lb $t0,-1($a0)", 0x8088_ffff),
        (lh(T1, 2, A1), "lh $t1,2($a1)", 0x84a9_0002),
        (lwl(T2, 3, A2), "lwl $t2,3($a2)", 0x88ca_0003),
        (lw(RA, 28, SP), "lw $ra,28($sp)", 0x8fbf_001c),
        (lbu(T0, 5, T1), "lbu $t0,5($t1)", 0x9128_0005),
        (lhu(T0, -32768, T1), "lhu $t0,-32768($t1)", 0x9528_8000),
        (lwr(T2, 0, A2), "lwr $t2,0($a2)", 0x98ca_0000),
        (sb(T0, 0, T1), "sb $t0,0($t1)", 0xa128_0000),
        (sh(T0, 32767, T1), "sh $t0,32767($t1)", 0xa528_7fff),
        (swl(T2, 3, A2), "swl $t2,3($a2)", 0xa8ca_0003),
        (sw(RA, 28, SP), "sw $ra,28($sp)", 0xafbf_001c),
        (swr(T2, 0, A2), "swr $t2,0($a2)", 0xb8ca_0000),
        (ll(T0, 0, A0), "ll $t0,0($a0)", 0xc088_0000),
        (sc(T0, 4, A0), "sc $t0,4($a0)", 0xe088_0004),
        (cache(0x15, 0, A0), "cache 0x15,0($a0)", 0xbc95_0000),
        (cache(0x10, -32, T0), "cache 0x10,-32($t0)", 0xbd10_ffe0),
        (pref(0, 64, A1), "pref 0,64($a1)", 0xcca0_0040),
        (pref(30, 0, A1), "pref 30,0($a1)", 0xccbe_0000),
        (mfc1(T0, 2), "mfc1 $t0,$f2", 0x4408_1000),
        (mtc1(T1, 31), "mtc1 $t1,$f31", 0x4489_f800),
        (lwc1(4, 8, SP), "lwc1 $f4,8($sp)", 0xc7a4_0008),
        (swc1(0, -4, A0), "swc1 $f0,-4($a0)", 0xe480_fffc),
    ];

    #[test]
    fn encodings_match_binutils() {
        for &(ours, text, gas) in TABLE {
            assert_eq!(ours, gas, "{text}: ours {ours:#010x}, binutils {gas:#010x}");
        }
    }

    #[test]
    fn register_names_follow_abi_numbering() {
        assert_eq!(T0.num(), 8);
        assert_eq!(T7.num(), 15);
        assert_eq!(S0.num(), 16);
        assert_eq!(T8.num(), 24);
        assert_eq!(T9.num(), 25);
        assert_eq!(FP.num(), 30);
        for (n, r) in GPRS.iter().enumerate() {
            assert_eq!(usize::from(r.num()), n);
        }
    }

    #[test]
    fn labels_resolve_backward_and_forward() {
        let mut a = Asm::new(0x8000_0100);
        let top = a.here();
        let out = a.new_label();
        a.emit(addiu(T0, T0, -1)); // 0x100
        a.bne(T0, ZERO, top); // 0x104: back to 0x100 from slot 0x108: -2
        a.nop();
        a.beq(T0, ZERO, out); // 0x10c: to 0x118 from slot 0x110: +2
        a.nop();
        a.emit(nop());
        a.bind(out); // 0x118
        a.j(top);
        a.nop();
        a.jal(out);
        a.nop();
        let w = a.finish().unwrap();
        assert_eq!(w[1], bne(T0, ZERO, -2));
        assert_eq!(w[3], beq(T0, ZERO, 2));
        assert_eq!(w[6], j(0x8000_0100));
        assert_eq!(w[8], jal(0x8000_0118));
    }

    #[test]
    fn la_li_and_data() {
        let mut a = Asm::new(0xbfc0_0000);
        let msg = a.new_label();
        a.la(A0, msg);
        a.li(T0, 5)
            .li(T1, 0xffff_fff0)
            .li(T2, 0x8000)
            .li(T3, 0xbfd0_0000);
        a.li(T4, 0x1234_5678).li32(T5, 1);
        a.bind(msg);
        a.bytes(b"hello");
        assert_eq!(a.label_addr(msg), Ok(0xbfc0_0028));
        let w = a.finish().unwrap();
        assert_eq!(
            w,
            vec![
                lui(A0, 0xbfc0),
                ori(A0, A0, 0x0028),
                addiu(T0, ZERO, 5),
                addiu(T1, ZERO, -16),
                ori(T2, ZERO, 0x8000),
                lui(T3, 0xbfd0),
                lui(T4, 0x1234),
                ori(T4, T4, 0x5678),
                lui(T5, 0),
                ori(T5, T5, 1),
                u32::from_le_bytes(*b"hell"),
                u32::from(b'o'),
            ]
        );
    }

    #[test]
    fn named_labels_become_symbols() {
        let mut a = Asm::new(0x1000);
        let start = a.named_label("_start");
        let unbound = a.named_label("nowhere");
        a.nop();
        a.bind(start);
        a.nop();
        assert_eq!(a.symbols(), vec![("_start".to_owned(), 0x1004)]);
        assert_eq!(a.label_addr(unbound), Err(AsmError::UnboundLabel(unbound)));
    }

    #[test]
    fn branch_range_is_checked_from_the_delay_slot() {
        // Furthest forward: offset +32767 from the slot.
        let mut a = Asm::new(0);
        let far = a.new_label();
        a.b(far);
        a.emit_all(&vec![nop(); 32767]);
        a.bind(far);
        assert_eq!(a.finish().unwrap()[0], b(32767));

        let mut a = Asm::new(0);
        let far = a.new_label();
        a.b(far);
        a.emit_all(&vec![nop(); 32768]);
        a.bind(far);
        assert_eq!(
            a.finish(),
            Err(AsmError::BranchOutOfRange {
                at: 0,
                target: 0x2_0004
            })
        );

        // Furthest backward: offset -32768 from the slot.
        let mut a = Asm::new(0);
        let back = a.here();
        a.emit_all(&vec![nop(); 32767]);
        a.b(back);
        assert_eq!(a.finish().unwrap()[32767], b(-32768));

        let mut a = Asm::new(0);
        let back = a.here();
        a.emit_all(&vec![nop(); 32768]);
        a.bgez(T0, back);
        assert_eq!(
            a.finish(),
            Err(AsmError::BranchOutOfRange {
                at: 0x2_0000,
                target: 0
            })
        );
    }

    #[test]
    fn jump_region_is_that_of_the_delay_slot() {
        // A jump in the last word of a 256 MiB region reaches the next one.
        let mut a = Asm::new(0x0fff_fffc);
        let next = a.new_label();
        a.j(next);
        a.nop();
        a.emit_all(&[nop(); 2]);
        a.bind(next);
        assert_eq!(a.finish().unwrap()[0], j(0x1000_000c));

        let mut a = Asm::new(0x0fff_fff8);
        let back = a.here();
        a.nop();
        a.j(back);
        assert_eq!(
            a.finish(),
            Err(AsmError::JumpOutOfRegion {
                at: 0x0fff_fffc,
                target: 0x0fff_fff8
            })
        );
    }

    #[test]
    fn label_misuse_is_reported() {
        let mut a = Asm::new(0);
        let l = a.new_label();
        a.b(l);
        assert_eq!(a.finish(), Err(AsmError::UnboundLabel(l)));

        let mut a = Asm::new(0);
        let l = a.here();
        a.nop();
        a.bind(l);
        assert_eq!(
            a.finish(),
            Err(AsmError::LabelBoundTwice {
                label: l,
                first: 0,
                second: 4
            })
        );

        let mut other = Asm::new(0);
        other.new_label();
        let foreign = other.new_label();
        let mut a = Asm::new(0);
        a.b(foreign);
        assert_eq!(a.finish(), Err(AsmError::ForeignLabel(foreign)));

        let mut a = Asm::new(0xffff_fffc);
        a.nop().nop();
        assert!(matches!(a.finish(), Err(AsmError::AddressOverflow { .. })));
    }

    #[test]
    #[should_panic(expected = "shift amount above 31")]
    fn unencodable_operands_panic() {
        let sa = std::hint::black_box(32);
        sll(T0, T0, sa);
    }

    #[test]
    fn finish_bytes_is_little_endian() {
        let mut a = Asm::new(0);
        a.emit(lui(T0, 0xbfd0));
        assert_eq!(a.finish_bytes().unwrap(), vec![0xd0, 0xbf, 0x08, 0x3c]);
    }
}
