//! Reflecting exceptions and interrupts to the guest: the monitor performs
//! exception entry on the virtual CP0 with the machine's own definition
//! ([`Cp0::enter_exception`]: EPC, Cause BD/ExcCode/CE, BadVAddr, Context
//! and EntryHi, Status.EXL, exactly as the hardware would) and resumes the
//! guest at the vector it gives (the refill vector only for a TLB refill
//! with EXL clear; the BEV vectors while Status.BEV is set; the special
//! interrupt vector with Cause.IV).
//!
//! [`Cp0::enter_exception`]: crate::machine::cp0::Cp0::enter_exception
//!
//! A guest that keeps faulting at the same place without completing a
//! single instruction (a vector that itself faults) can never make
//! progress; it is stopped with a diagnostic instead of spinning.

use super::Monitor;
use super::cost;
use super::stats::ExitReason;
use crate::machine::Trap;
use crate::machine::exception::{ExcCode, Exception};

/// Forwarded exceptions in a row, at one PC with no instruction completed
/// in between, after which a guest is declared stuck.
const STUCK_REPEATS: u32 = 64;

impl Monitor {
    /// Forwards a routed exception unchanged to the guest.
    pub(super) fn forward_trap(&mut self, t: Trap, reason: ExitReason) {
        self.count_exit(reason);
        self.reflect(t.exception());
        self.trace(t.pc, t.insn, reason, || {
            format!("forwarded {}", t.code.name())
        });
    }

    /// Delivers a pending virtual interrupt before the next instruction.
    pub(super) fn deliver_interrupt(&mut self) {
        self.charge(cost::EXIT);
        self.count_exit(ExitReason::Int);
        let pc = self.machine.pc();
        let in_delay_slot = self.machine.in_delay_slot();
        self.reflect(Exception {
            code: ExcCode::Int,
            refill: false,
            pc,
            in_delay_slot,
            bad_vaddr: None,
            ce: 0,
        });
        self.trace(pc, None, ExitReason::Int, || "interrupt delivered".into());
    }

    /// Reflects exception `r` to the current VM's handler: exception entry
    /// on its virtual CP0, then its vector.
    pub(super) fn reflect(&mut self, r: Exception) {
        self.charge(cost::FORWARD);
        // A forwarded exception counts as an executed instruction, as on
        // the machine (an interrupt is taken before one issues).
        let vm = &mut self.vms[self.cur];
        if r.code != ExcCode::Int {
            vm.stats.guest_instructions += 1;
        }
        vm.stats.forwarded += 1;
        let done = vm.stats.guest_instructions;
        let (last_done, last_pc, last_code, repeats) = vm.last_fault;
        let same =
            last_done == done.wrapping_sub(1) && last_pc == r.pc.raw() && last_code == r.code as u8;
        let repeats = if same { repeats + 1 } else { 0 };
        vm.last_fault = (done, r.pc.raw(), r.code as u8, repeats);
        if repeats >= STUCK_REPEATS {
            let insn = self.guest_word(super::VmId(self.cur), r.pc);
            self.crash(
                r.pc,
                insn,
                format!(
                    "{} exception raised {} times in a row at the same place without progress (no handler?)",
                    r.code.name(),
                    repeats + 1
                ),
            );
            return;
        }
        let to = self.vms[self.cur].cp0.regs.enter_exception(&r);
        self.machine.jump_to(to);
        self.apply_mode();
    }
}
