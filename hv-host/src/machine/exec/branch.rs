//! Branches and jumps. `pc` already holds the delay slot's address when
//! these run, so a taken branch sets `next_pc` to its target and marks the
//! delay slot; a branch-likely that is not taken skips (nullifies) the slot.

use crate::machine::Machine;
use crate::machine::decode::Decoded;
use crate::machine::insn::regs::RA;

impl Machine {
    /// Conditional branch: target is the delay slot's address plus the
    /// offset.
    #[inline(always)]
    pub(super) fn branch(&mut self, d: Decoded, taken: bool) {
        if taken {
            self.next_pc = self.pc.wrapping_add(d.imm);
        }
        self.delay_slot = true;
    }

    /// Branch-likely: the delay slot runs only if the branch is taken.
    #[inline(always)]
    pub(super) fn branch_likely(&mut self, d: Decoded, taken: bool) {
        if taken {
            self.next_pc = self.pc.wrapping_add(d.imm);
            self.delay_slot = true;
        } else {
            self.pc = self.next_pc;
            self.next_pc = self.pc.wrapping_add(4);
        }
    }

    /// BLTZAL/BGEZAL and their likely forms: `ra` gets the return address
    /// whether or not the branch is taken.
    #[inline(always)]
    pub(super) fn branch_link(&mut self, d: Decoded, taken: bool, likely: bool) {
        self.w(RA, self.cur_pc.wrapping_add(8));
        if likely {
            self.branch_likely(d, taken);
        } else {
            self.branch(d, taken);
        }
    }

    /// Jump: within the 256 MiB region of the delay slot.
    #[inline(always)]
    pub(super) fn j(&mut self, d: Decoded) {
        self.next_pc = (self.pc & 0xf000_0000) | d.imm;
        self.delay_slot = true;
    }

    /// Jump and Link.
    #[inline(always)]
    pub(super) fn jal(&mut self, d: Decoded) {
        self.w(RA, self.cur_pc.wrapping_add(8));
        self.j(d);
    }

    /// Jump Register. A misaligned target faults on the fetch (AdEL with
    /// EPC = the target), as the architecture specifies.
    #[inline(always)]
    pub(super) fn jr(&mut self, d: Decoded) {
        self.next_pc = self.r(d.rs);
        self.delay_slot = true;
    }

    /// Jump and Link Register (the target is read before the link is
    /// written).
    #[inline(always)]
    pub(super) fn jalr(&mut self, d: Decoded) {
        self.next_pc = self.r(d.rs);
        self.w(d.rd, self.cur_pc.wrapping_add(8));
        self.delay_slot = true;
    }
}
