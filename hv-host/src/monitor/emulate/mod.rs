//! Trap-and-emulate: the privileged instructions a deprivileged guest
//! kernel executes trap to the monitor (Coprocessor Unusable in supervisor
//! mode; `rdhwr` raises Reserved Instruction) and are emulated here on the
//! VM's virtual CP0 and TLB with the architecture's exact semantics, one
//! short function per instruction, by family: `cp0` (`mfc0`/`mtc0`,
//! `di`/`ei`, `rdpgpr`/`wrpgpr`, `eret`, `wait`, `cache`, `rdhwr`) and
//! `tlb` (`tlbp`/`tlbr`/`tlbwi`/`tlbwr`). When the guest writes EBase
//! (installs its handlers) the monitor records it in the exit trace.
//!
//! A privileged instruction from the guest's (virtual) user mode gets the
//! Coprocessor Unusable exception it would get on hardware.

mod cp0;
mod tlb;

use super::exit::{Action, ExitCtx, ExitError};
use super::stats::{ExitReason, PrivInsn};
use super::vcpu::Effects;
use crate::machine::Trap;
use crate::machine::decode::{Op, classify};

impl ExitCtx<'_> {
    /// A Coprocessor Unusable exception for CP0: the instruction is
    /// emulated, or the exception forwarded (user mode, not CP0).
    pub(super) fn privileged(&mut self, t: Trap) -> Result<Action, ExitError> {
        let Some(insn) = t.insn else {
            return self.forward_trap(t, ExitReason::CopUnusable);
        };
        if !self.vm.cp0.cp0_usable() {
            return self.forward_trap(t, ExitReason::CopUnusable);
        }
        let op = classify(insn);
        let done = match op {
            Op::Mfc0 => self.mfc0(insn),
            Op::Mtc0 => self.mtc0(t, insn),
            Op::Di | Op::Ei => self.di_ei(insn, op == Op::Ei),
            Op::Rdpgpr | Op::Wrpgpr => self.rdpgpr_wrpgpr(insn, op == Op::Rdpgpr),
            Op::Tlbp => self.tlbp(),
            Op::Tlbr => self.tlbr(),
            Op::Tlbwi | Op::Tlbwr => self.tlbw(op == Op::Tlbwr),
            Op::Eret => return self.emulate_eret(t),
            Op::Wait => return self.emulate_wait(t),
            Op::Cache => return self.emulate_cache(t),
            _ => return self.forward_trap(t, ExitReason::CopUnusable),
        };
        self.count_priv(done);
        self.count_exit(ExitReason::CopUnusable);
        self.emulated(1);
        self.machine.skip_instruction();
        self.trace(t.pc, t.insn, ExitReason::CopUnusable, || {
            format!("emulated {insn}")
        });
        Ok(Action::Resume)
    }

    /// Counts an emulated privileged instruction.
    fn count_priv(&mut self, i: PrivInsn) {
        self.vm.stats.privileged[i as usize] += 1;
    }

    /// Acts on what a virtual CP0 write changed.
    pub(in crate::monitor) fn apply_effects(&mut self, fx: Effects) {
        if fx.erl {
            self.erl_changed();
        }
        if fx.mode || fx.asid {
            self.apply_mode();
        }
    }

    /// A Reserved Instruction exception: a semihosting call, `rdhwr` and
    /// (under `--mode para`) a hypercall are handled; anything else is
    /// forwarded.
    pub(super) fn reserved(&mut self, t: Trap) -> Result<Action, ExitError> {
        let Some(insn) = t.insn else {
            return self.forward_trap(t, ExitReason::ResvdInst);
        };
        match classify(insn) {
            Op::Sdbbp if insn.code20() == 1 && self.vm.cp0.kernel_mode() => self.semihost(t),
            Op::Rdhwr => self.rdhwr(t, insn),
            _ if self.config.hypercalls && hv_abi::is_hypcall(insn.word()) => {
                self.hypercall(t, insn.word())
            }
            _ => self.forward_trap(t, ExitReason::ResvdInst),
        }
    }
}
