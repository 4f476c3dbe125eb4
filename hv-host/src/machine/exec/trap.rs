//! System calls, breakpoints, conditional traps, SDBBP (UHI semihosting),
//! reserved encodings and coprocessor instructions without a coprocessor.

use crate::machine::Machine;
use crate::machine::decode::Decoded;
use crate::machine::exception::ExcCode;

impl Machine {
    /// System Call.
    pub(super) fn syscall(&mut self) {
        self.raise(ExcCode::Sys);
    }

    /// Breakpoint.
    pub(super) fn breakpoint(&mut self) {
        self.raise(ExcCode::Bp);
    }

    /// Trap if `cond(rs, rt)`.
    #[inline(always)]
    pub(super) fn trap_if(&mut self, d: Decoded, cond: impl Fn(u32, u32) -> bool) {
        if cond(self.r(d.rs), self.r(d.rt)) {
            self.raise(ExcCode::Tr);
        }
    }

    /// Trap if `cond(rs, sign-extended immediate)`.
    #[inline(always)]
    pub(super) fn trap_imm_if(&mut self, d: Decoded, cond: impl Fn(u32, u32) -> bool) {
        if cond(self.r(d.rs), d.imm) {
            self.raise(ExcCode::Tr);
        }
    }

    /// Software Debug Breakpoint: code 1 in kernel mode is a UHI
    /// semihosting call (as QEMU's `-semihosting`). EJTAG debug mode is not
    /// modelled, so any other SDBBP raises Reserved Instruction.
    pub(super) fn sdbbp(&mut self, d: Decoded) {
        if d.imm == 1 && self.cp0.kernel_mode() {
            self.semihost_call();
        } else {
            self.raise(ExcCode::Ri);
        }
    }

    /// A reserved encoding.
    pub(super) fn reserved(&mut self) {
        self.raise(ExcCode::Ri);
    }

    /// A coprocessor 1/2 instruction: there is no FPU or COP2.
    pub(super) fn cop_unusable(&mut self, d: Decoded) {
        self.raise_with(ExcCode::CpU, false, None, d.imm as u8);
    }
}
