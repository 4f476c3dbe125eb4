//! Execution: the dispatch on a [`Decoded`] operation, with one file per
//! instruction family holding the operations' bodies:
//! [`alu`] (arithmetic, logic, shifts, multiply/divide, bit fields),
//! [`branch`] (branches and jumps, delay slots, branch-likely),
//! [`loadstore`] (loads, stores, unaligned and linked accesses),
//! [`cop0`] (privileged CP0 and TLB instructions, `eret`, `wait`, `rdhwr`),
//! [`trap`] (system calls, breakpoints, traps, reserved encodings).

mod alu;
mod branch;
mod cop0;
mod loadstore;
mod trap;

use super::Machine;
use super::decode::{Decoded, Op};

impl Machine {
    /// Reads register `i` (including the scratch slot).
    #[inline(always)]
    pub(crate) fn r(&self, i: u8) -> u32 {
        self.gpr[usize::from(i & 63)]
    }

    /// Writes register `i`; the decoder never passes 0 here (see
    /// [`super::decode`]).
    #[inline(always)]
    pub(crate) fn w(&mut self, i: u8, v: u32) {
        self.gpr[usize::from(i & 63)] = v;
    }

    /// Executes one decoded instruction. `cur_pc` is its address; `pc` and
    /// `next_pc` already point past it.
    #[inline(always)]
    pub(crate) fn execute(&mut self, d: Decoded) {
        // A cache slot not filled yet is decoded now; `decode` never
        // returns `Undecoded`, so the dispatch below sees it at most as
        // a reserved encoding.
        let d = if d.op == Op::Undecoded {
            self.decode_current()
        } else {
            d
        };
        self.execute_decoded(d);
    }

    #[inline(always)]
    fn execute_decoded(&mut self, d: Decoded) {
        use Op::*;
        match d.op {
            Undecoded | Reserved => self.reserved(),
            Nop | Sync | Synci | Pref => {}
            CopUnusable => self.cop_unusable(d),
            Sll => self.sll(d),
            Srl => self.srl(d),
            Sra => self.sra(d),
            Rotr => self.rotr(d),
            Sllv => self.sllv(d),
            Srlv => self.srlv(d),
            Srav => self.srav(d),
            Rotrv => self.rotrv(d),
            Jr => self.jr(d),
            Jalr => self.jalr(d),
            Movz => self.movz(d),
            Movn => self.movn(d),
            Syscall => self.syscall(),
            Break => self.breakpoint(),
            Mfhi => self.mfhi(d),
            Mthi => self.mthi(d),
            Mflo => self.mflo(d),
            Mtlo => self.mtlo(d),
            Mult => self.mult(d),
            Multu => self.multu(d),
            Div => self.div(d),
            Divu => self.divu(d),
            Add => self.add(d),
            Addu => self.addu(d),
            Sub => self.sub(d),
            Subu => self.subu(d),
            And => self.and(d),
            Or => self.or(d),
            Xor => self.xor(d),
            Nor => self.nor(d),
            Slt => self.slt(d),
            Sltu => self.sltu(d),
            Tge => self.trap_if(d, |a, b| a as i32 >= b as i32),
            Tgeu => self.trap_if(d, |a, b| a >= b),
            Tlt => self.trap_if(d, |a, b| (a as i32) < b as i32),
            Tltu => self.trap_if(d, |a, b| a < b),
            Teq => self.trap_if(d, |a, b| a == b),
            Tne => self.trap_if(d, |a, b| a != b),
            Bltz => self.branch(d, (self.r(d.rs) as i32) < 0),
            Bgez => self.branch(d, self.r(d.rs) as i32 >= 0),
            Bltzl => self.branch_likely(d, (self.r(d.rs) as i32) < 0),
            Bgezl => self.branch_likely(d, self.r(d.rs) as i32 >= 0),
            Bltzal => self.branch_link(d, (self.r(d.rs) as i32) < 0, false),
            Bgezal => self.branch_link(d, self.r(d.rs) as i32 >= 0, false),
            Bltzall => self.branch_link(d, (self.r(d.rs) as i32) < 0, true),
            Bgezall => self.branch_link(d, self.r(d.rs) as i32 >= 0, true),
            Tgei => self.trap_imm_if(d, |a, b| a as i32 >= b as i32),
            Tgeiu => self.trap_imm_if(d, |a, b| a >= b),
            Tlti => self.trap_imm_if(d, |a, b| (a as i32) < b as i32),
            Tltiu => self.trap_imm_if(d, |a, b| a < b),
            Teqi => self.trap_imm_if(d, |a, b| a == b),
            Tnei => self.trap_imm_if(d, |a, b| a != b),
            J => self.j(d),
            Jal => self.jal(d),
            Beq => self.branch(d, self.r(d.rs) == self.r(d.rt)),
            Bne => self.branch(d, self.r(d.rs) != self.r(d.rt)),
            Blez => self.branch(d, self.r(d.rs) as i32 <= 0),
            Bgtz => self.branch(d, self.r(d.rs) as i32 > 0),
            Beql => self.branch_likely(d, self.r(d.rs) == self.r(d.rt)),
            Bnel => self.branch_likely(d, self.r(d.rs) != self.r(d.rt)),
            Blezl => self.branch_likely(d, self.r(d.rs) as i32 <= 0),
            Bgtzl => self.branch_likely(d, self.r(d.rs) as i32 > 0),
            Addi => self.addi(d),
            Addiu => self.addiu(d),
            Slti => self.slti(d),
            Sltiu => self.sltiu(d),
            Andi => self.andi(d),
            Ori => self.ori(d),
            Xori => self.xori(d),
            Lui => self.lui(d),
            Mfc0 => self.mfc0(d),
            Mtc0 => self.mtc0(d),
            Di => self.di_ei(d, false),
            Ei => self.di_ei(d, true),
            Rdpgpr | Wrpgpr => self.rdwrpgpr(d),
            Tlbr => self.tlbr(),
            Tlbwi => self.tlbwi(),
            Tlbwr => self.tlbwr(),
            Tlbp => self.tlbp(),
            Eret => self.eret(),
            Wait => self.wait(),
            Madd => self.madd(d),
            Maddu => self.maddu(d),
            Mul => self.mul(d),
            Msub => self.msub(d),
            Msubu => self.msubu(d),
            Clz => self.clz(d),
            Clo => self.clo(d),
            Sdbbp => self.sdbbp(d),
            Ext => self.ext(d),
            Ins => self.ins(d),
            Wsbh => self.wsbh(d),
            Seb => self.seb(d),
            Seh => self.seh(d),
            Rdhwr => self.rdhwr(d),
            Lb => self.lb(d),
            Lh => self.lh(d),
            Lwl => self.lwl(d),
            Lw => self.lw(d),
            Lbu => self.lbu(d),
            Lhu => self.lhu(d),
            Lwr => self.lwr(d),
            Sb => self.sb(d),
            Sh => self.sh(d),
            Swl => self.swl(d),
            Sw => self.sw(d),
            Swr => self.swr(d),
            Cache => self.cache(),
            Ll => self.ll(d),
            Sc => self.sc(d),
        }
    }
}
