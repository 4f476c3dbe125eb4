//! Reflecting exceptions and interrupts to the guest: the monitor sets the
//! virtual EPC, Cause (BD, ExcCode, CE), BadVAddr, Context and EntryHi and
//! Status.EXL exactly as the hardware would, and resumes the guest at its
//! own vector (the refill vector only for a TLB refill with EXL clear; the
//! BEV vectors while Status.BEV is set; the special interrupt vector with
//! Cause.IV).
//!
//! A guest that keeps faulting at the same place without completing a
//! single instruction (a vector that itself faults) can never make
//! progress; it is stopped with a diagnostic instead of spinning.

use super::Monitor;
use super::cost;
use super::stats::ExitReason;
use crate::addr::GuestVirtAddr;
use crate::machine::Trap;
use crate::machine::cp0::{cause, status};
use crate::machine::exception::ExcCode;

/// Forwarded exceptions in a row, at one PC with no instruction completed
/// in between, after which a guest is declared stuck.
const STUCK_REPEATS: u32 = 64;

/// An exception to reflect.
#[derive(Clone, Copy, Debug)]
pub struct Reflect {
    /// The exception.
    pub code: ExcCode,
    /// Address of the instruction (for an interrupt, the next one).
    pub pc: GuestVirtAddr,
    /// Whether it is in a branch delay slot.
    pub in_delay_slot: bool,
    /// The address for BadVAddr (address and TLB exceptions).
    pub bad_vaddr: Option<u32>,
    /// Use the refill vector (TLB refill).
    pub refill: bool,
    /// Whether Context and EntryHi take the address (TLB exceptions).
    pub tlb: bool,
    /// Cause.CE.
    pub ce: u8,
}

impl Monitor {
    /// Forwards a routed exception unchanged to the guest.
    pub(super) fn forward_trap(&mut self, t: Trap, reason: ExitReason) {
        self.count_exit(reason);
        let tlb = matches!(t.code, ExcCode::Tlbl | ExcCode::Tlbs | ExcCode::Mod);
        self.reflect(Reflect {
            code: t.code,
            pc: t.pc,
            in_delay_slot: t.in_delay_slot,
            bad_vaddr: t.bad_vaddr.map(|a| a.raw()),
            refill: t.refill,
            tlb,
            ce: t.coprocessor,
        });
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
        self.reflect(Reflect {
            code: ExcCode::Int,
            pc,
            in_delay_slot,
            bad_vaddr: None,
            refill: false,
            tlb: false,
            ce: 0,
        });
        self.trace(pc, None, ExitReason::Int, || "interrupt delivered".into());
    }

    /// Reflects exception `r` to the current VM's handler.
    pub(super) fn reflect(&mut self, r: Reflect) {
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
        let c = &mut self.vms[self.cur].cp0.regs;
        let st = c.status;
        let exl = st & status::EXL != 0;
        if !exl {
            if r.in_delay_slot {
                c.epc = r.pc.raw().wrapping_sub(4);
                c.cause |= cause::BD;
            } else {
                c.epc = r.pc.raw();
                c.cause &= !cause::BD;
            }
        }
        c.cause = (c.cause & !(cause::EXC_CODE | (3 << cause::CE_SHIFT)))
            | ((r.code as u32) << 2)
            | (u32::from(r.ce & 3) << cause::CE_SHIFT);
        if let Some(va) = r.bad_vaddr {
            c.bad_vaddr = va;
            if r.tlb {
                c.context = (c.context & 0xff80_0000) | ((va >> 9) & 0x007f_fff0);
                c.entry_hi = (va & 0xffff_e000) | (c.entry_hi & 0xff);
            }
        }
        let to = crate::machine::exception::vector(st, c.cause, c.ebase, r.code, r.refill);
        c.status = st | status::EXL;
        self.machine.jump_to(GuestVirtAddr::new(to));
        self.apply_mode();
    }
}
