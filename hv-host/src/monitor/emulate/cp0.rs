//! The CP0 instructions on the VM's virtual CP0: `mfc0`/`mtc0`,
//! `di`/`ei`, `rdpgpr`/`wrpgpr` (one register set: they copy), `eret`
//! (the monitor performs the real return, into the VM's user or kernel
//! context as its virtual Status says, clearing LLbit), `wait` (idle
//! inference), `cache` (no caches modelled) and `rdhwr`.

use super::super::exit::{Action, ExitCtx, ExitError};
use super::super::stats::{ExitReason, PrivInsn};
use super::super::vcpu::Effects;
use crate::addr::MachineAddr;
use crate::machine::Trap;
use crate::machine::cp0::{reg, status};
use crate::machine::insn::Instruction;

impl ExitCtx<'_> {
    /// Move from CP0 (LLAddr reflects the guest's last `ll`).
    pub(super) fn mfc0(&mut self, insn: Instruction) -> PrivInsn {
        let (rd, sel) = (insn.rd(), insn.sel());
        let vm = &*self.vm;
        let lladdr = || {
            let real = MachineAddr::new(self.machine.real_cp0(reg::LLADDR, 0) << 4);
            vm.mem.reverse(real).map(|gpa| gpa.raw() >> 4)
        };
        let v = match (rd, sel) {
            (reg::LLADDR, 0) => lladdr(),
            _ => None,
        }
        .unwrap_or_else(|| vm.cp0.read(rd, sel, self.now(), vm.irq_lines()));
        self.machine.set_gpr(insn.rt(), v);
        PrivInsn::Mfc0
    }

    /// Move to CP0, with the write's side effects on the real CPU.
    pub(super) fn mtc0(&mut self, t: Trap, insn: Instruction) -> PrivInsn {
        let v = self.machine.gpr(insn.rt());
        let now = self.now();
        let fx = self.vm.cp0.write(insn.rd(), insn.sel(), v, now);
        self.apply_effects(fx);
        if fx.ebase {
            let ebase = self.vm.cp0.regs.ebase;
            self.trace(t.pc, t.insn, ExitReason::CopUnusable, || {
                format!("guest installed its exception handlers at EBase {ebase:#010x}")
            });
        }
        PrivInsn::Mtc0
    }

    /// Disable or Enable Interrupts: Status.IE, the old Status to `rt`.
    pub(super) fn di_ei(&mut self, insn: Instruction, enable: bool) -> PrivInsn {
        let c = &mut self.vm.cp0.regs;
        let old = c.status;
        c.status = if enable {
            old | status::IE
        } else {
            old & !status::IE
        };
        self.machine.set_gpr(insn.rt(), old);
        if enable { PrivInsn::Ei } else { PrivInsn::Di }
    }

    /// Read or Write a GPR of the previous shadow set: there is one set,
    /// so both copy `rt` to `rd`.
    pub(super) fn rdpgpr_wrpgpr(&mut self, insn: Instruction, read: bool) -> PrivInsn {
        let v = self.machine.gpr(insn.rt());
        self.machine.set_gpr(insn.rd(), v);
        if read {
            PrivInsn::Rdpgpr
        } else {
            PrivInsn::Wrpgpr
        }
    }

    /// Exception Return on the virtual CPU.
    pub(super) fn emulate_eret(&mut self, t: Trap) -> Result<Action, ExitError> {
        self.count_priv(PrivInsn::Eret);
        self.count_exit(ExitReason::CopUnusable);
        self.emulated(1);
        let (target, erl) = self.vm.cp0.regs.return_from_exception();
        self.machine.set_ll_bit(false);
        self.machine.jump_to(target);
        self.apply_effects(Effects {
            mode: true,
            erl,
            ..Effects::default()
        });
        self.trace(t.pc, t.insn, ExitReason::CopUnusable, || {
            format!("eret to {target}")
        });
        Ok(Action::Resume)
    }

    /// Wait: the VM goes on at once if an unmasked interrupt is pending,
    /// stalls if nothing can ever wake it, and otherwise waits (idle
    /// inference: the scheduler deschedules it).
    pub(super) fn emulate_wait(&mut self, t: Trap) -> Result<Action, ExitError> {
        self.emulated(1);
        self.machine.skip_instruction();
        self.count_exit(ExitReason::Wait);
        let vm = &*self.vm;
        let action = if vm.cp0.unmasked_pending(vm.irq_lines()) != 0 {
            Action::Resume
        } else if !vm.cp0.regs.timer_can_wake() && vm.board_event_at.is_never() {
            Action::Stop {
                reason: super::super::vm::VmStop::Stalled,
                at: self.now(),
            }
        } else {
            Action::Wait
        };
        self.trace(t.pc, t.insn, ExitReason::Wait, || {
            "vm waits for an interrupt".into()
        });
        Ok(action)
    }

    /// Cache: no caches are modelled, so it does nothing.
    pub(super) fn emulate_cache(&mut self, t: Trap) -> Result<Action, ExitError> {
        self.emulated(1);
        self.count_exit(ExitReason::Cache);
        self.machine.skip_instruction();
        self.trace(t.pc, t.insn, ExitReason::Cache, || {
            "no caches modelled".into()
        });
        Ok(Action::Resume)
    }

    /// Read Hardware Register: 0 CPUNum, 1 SYNCI_Step, 2 CC (the VM's
    /// Count), 3 CCRes, 29 UserLocal; allowed in kernel mode, with CU0, or
    /// with the HWREna bit.
    pub(super) fn rdhwr(&mut self, t: Trap, insn: Instruction) -> Result<Action, ExitError> {
        let n = u32::from(insn.rd());
        let vm = &*self.vm;
        let allowed =
            matches!(n, 0..=3 | 29) && (vm.cp0.cp0_usable() || vm.cp0.regs.hwrena & (1 << n) != 0);
        if !allowed {
            return self.forward_trap(t, ExitReason::ResvdInst);
        }
        let v = match n {
            2 => vm.cp0.count(self.now()),
            3 => 1,
            29 => vm.cp0.regs.user_local,
            _ => 0,
        };
        self.machine.set_gpr(insn.rt(), v);
        self.count_priv(PrivInsn::Rdhwr);
        self.count_exit(ExitReason::ResvdInst);
        self.emulated(1);
        self.machine.skip_instruction();
        self.trace(t.pc, t.insn, ExitReason::ResvdInst, || {
            format!("emulated {insn}")
        });
        Ok(Action::Resume)
    }
}
