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

use super::cost;
use super::exit::{Action, ExitCtx, ExitError};
use super::gmmu::{guest_word, guest_zero};
use super::stats::ExitReason;
use super::vm::LastFault;
use crate::addr::GuestPhysAddr;
use crate::machine::Trap;
use crate::machine::exception::{Access, ExcCode, Exception, Fault};

/// Forwarded exceptions in a row, at one PC with no instruction completed
/// in between, after which a guest is declared stuck.
const STUCK_REPEATS: u32 = 64;

impl ExitCtx<'_> {
    /// Forwards a routed exception unchanged to the guest.
    pub(super) fn forward_trap(
        &mut self,
        t: Trap,
        reason: ExitReason,
    ) -> Result<Action, ExitError> {
        self.count_exit(reason);
        let reflected = self.reflect(t.exception());
        self.trace(t.pc, t.insn, reason, || {
            format!("forwarded {}", t.code.name())
        });
        reflected.map(|()| Action::Resume)
    }

    /// Delivers a pending virtual interrupt before the next instruction.
    pub(super) fn deliver_interrupt(&mut self) -> Result<Action, ExitError> {
        self.charge(cost::EXIT);
        self.count_exit(ExitReason::Int);
        let pc = self.machine.pc();
        let in_delay_slot = self.machine.in_delay_slot();
        let reflected = self.reflect(Exception {
            code: ExcCode::Int,
            refill: false,
            pc,
            in_delay_slot,
            bad_vaddr: None,
            ce: 0,
        });
        self.trace(pc, None, ExitReason::Int, || "interrupt delivered".into());
        reflected.map(|()| Action::Resume)
    }

    /// Reflects exception `r` to the VM's handler: exception entry on its
    /// virtual CP0, then its vector; an error if the guest is stuck.
    pub(super) fn reflect(&mut self, r: Exception) -> Result<(), ExitError> {
        self.charge(cost::FORWARD);
        // A forwarded exception counts as an executed instruction, as on
        // the machine (an interrupt is taken before one issues).
        let vm = &mut *self.vm;
        if r.code != ExcCode::Int {
            vm.stats.guest_instructions += 1;
        }
        vm.stats.forwarded += 1;
        let done = vm.stats.guest_instructions;
        let repeats = match vm.last_fault {
            Some(last)
                if last.done == done.wrapping_sub(1) && last.pc == r.pc && last.code == r.code =>
            {
                last.repeats + 1
            }
            _ => 0,
        };
        vm.last_fault = Some(LastFault {
            done,
            pc: r.pc,
            code: r.code,
            repeats,
        });
        if repeats >= STUCK_REPEATS {
            return Err(ExitError::Stuck {
                code: r.code,
                repeats: repeats + 1,
                pc: r.pc,
                insn: guest_word(self.vm, self.machine, r.pc),
            });
        }
        if let Some(missing) = self.vm.handlers.raised(&r, done, |va, words| {
            guest_zero(self.vm, self.machine, self.pool, va, words)
        }) {
            return Err(ExitError::NoHandler(missing));
        }
        let to = self.vm.cp0.regs.enter_exception(&r);
        self.vm.handlers.entered(&r, to, done);
        self.machine.jump_to(to);
        self.apply_mode();
        Ok(())
    }

    /// Forwards the bus error an access to guest-physical `gpa` raises.
    pub(super) fn bus_error(
        &mut self,
        t: Trap,
        code: ExcCode,
        gpa: GuestPhysAddr,
    ) -> Result<Action, ExitError> {
        self.count_exit(ExitReason::BusErr);
        let reflected = self.reflect(Exception {
            code,
            refill: false,
            pc: t.pc,
            in_delay_slot: t.in_delay_slot,
            bad_vaddr: None,
            ce: 0,
        });
        self.trace(t.pc, t.insn, ExitReason::BusErr, || {
            format!("bus error at guest-physical {gpa} forwarded")
        });
        reflected.map(|()| Action::Resume)
    }

    /// Forwards the exception the guest's own MMU raises for `va`.
    pub(super) fn forward_guest_fault(
        &mut self,
        t: Trap,
        f: Fault,
        access: Access,
        reason: ExitReason,
    ) -> Result<Action, ExitError> {
        let code = f.exc_code(access);
        let refill = f == Fault::TlbRefill;
        if code == ExcCode::Tlbl || code == ExcCode::Tlbs {
            let vm = &mut *self.vm;
            vm.stats.refills_forwarded += 1;
            vm.pending_refill = t.bad_vaddr;
        }
        let reason = if f == Fault::Address {
            ExitReason::AddrErr
        } else {
            reason
        };
        self.count_exit(reason);
        let reflected = self.reflect(Exception {
            code,
            refill,
            pc: t.pc,
            in_delay_slot: t.in_delay_slot,
            bad_vaddr: t.bad_vaddr,
            ce: 0,
        });
        self.trace(t.pc, t.insn, reason, || {
            format!(
                "forwarded {}{}",
                code.name(),
                if refill { " (refill)" } else { "" }
            )
        });
        reflected.map(|()| Action::Resume)
    }
}
