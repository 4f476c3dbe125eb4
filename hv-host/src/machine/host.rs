//! The host API: what a monitor uses to run guests on the machine, and
//! nothing more. It saves and restores the CPU state as one struct,
//! writes the TLB keeping every translation and decode cache coherent,
//! sets the privilege level and ASID the guest runs under, and switches
//! the virtualization assist (see [`super::mmu`]). Typed machine-memory
//! access ([`Machine::read_machine`], [`Machine::write_machine`]) and
//! time ([`Machine::charge_ticks`]) live with the rest of the machine.

use super::cp0::{ASID_MASK, reg, status};
use super::insn::{Instruction, regs};
use super::tlb::{TLB_ENTRIES, TlbEntry};
use super::xlat::INVALID_TAG;
use super::{CpuState, Machine, Privilege};
use crate::addr::GuestVirtAddr;

impl Machine {
    /// The complete unprivileged CPU state.
    pub fn cpu_state(&self) -> CpuState {
        let mut gpr = [0; 32];
        gpr.copy_from_slice(&self.gpr[..32]);
        CpuState {
            gpr,
            hi: self.hi,
            lo: self.lo,
            pc: GuestVirtAddr::new(self.pc),
            next_pc: GuestVirtAddr::new(self.next_pc),
            delay_slot: self.delay_slot,
            ll_bit: self.ll_bit,
        }
    }

    /// Restores a state saved with [`Machine::cpu_state`].
    pub fn set_cpu_state(&mut self, s: &CpuState) {
        self.gpr[..32].copy_from_slice(&s.gpr);
        self.gpr[usize::from(regs::ZERO)] = 0;
        self.hi = s.hi;
        self.lo = s.lo;
        self.pc = s.pc.raw();
        self.next_pc = s.next_pc.raw();
        self.delay_slot = s.delay_slot;
        self.ll_bit = s.ll_bit;
        self.stop_at = 0;
    }

    /// The address after the next instruction (its branch target when the
    /// next instruction is in a delay slot).
    pub fn next_pc(&self) -> GuestVirtAddr {
        GuestVirtAddr::new(self.next_pc)
    }

    /// Whether the next instruction is in a branch delay slot.
    pub fn in_delay_slot(&self) -> bool {
        self.delay_slot
    }

    /// Continues execution at `pc` (not in a delay slot), as an exception
    /// vector or an exception return does.
    pub fn jump_to(&mut self, pc: GuestVirtAddr) {
        self.pc = pc.raw();
        self.next_pc = pc.raw().wrapping_add(4);
        self.delay_slot = false;
        self.stop_at = 0;
    }

    /// The LL bit.
    pub fn ll_bit(&self) -> bool {
        self.ll_bit
    }

    /// Sets the LL bit (an emulated `eret` clears it).
    pub fn set_ll_bit(&mut self, on: bool) {
        self.ll_bit = on;
    }

    /// The word of the instruction being executed (`cur_pc`) if it lies in
    /// the current fetch page.
    pub(crate) fn current_word(&self) -> Option<Instruction> {
        (self.cur_pc & 3 == 0 && self.fetch_tag == self.cur_pc & !0xfff)
            .then(|| Instruction(self.bus.mem_u32(self.fetch_base + (self.cur_pc & 0xfff))))
    }

    /// Runs code at `p` with no exception level, interrupts disabled and
    /// masked, and the normal exception vectors: how a monitor runs a
    /// guest, with every exception routed to itself.
    pub fn set_privilege(&mut self, p: Privilege) {
        let ksu = match p {
            Privilege::Kernel => 0,
            Privilege::Supervisor => status::KSU_SUPERVISOR,
            Privilege::User => status::KSU_USER,
        };
        let old = self.cp0.status;
        self.cp0.status = ksu;
        if old != ksu {
            self.mode_changed();
            self.stop_at = 0;
        }
    }

    /// Sets the current ASID (EntryHi.ASID). Cached translations are tagged
    /// with their ASID, so this is cheap.
    pub fn set_asid(&mut self, asid: u8) {
        let hi = (self.cp0.entry_hi & !ASID_MASK) | u32::from(asid);
        self.set_entry_hi(hi);
    }

    /// Turns the virtualization assist on or off (see [`super::mmu`]).
    pub fn set_guest_regime(&mut self, on: bool) {
        if self.guest_regime != on {
            self.guest_regime = on;
            self.xlat.flush();
            self.fetch_tag = INVALID_TAG;
            self.stop_at = 0;
        }
    }

    /// Whether the virtualization assist is on.
    pub fn guest_regime(&self) -> bool {
        self.guest_regime
    }

    /// Writes TLB entry `index` (masked into range) for the host and drops
    /// every cached translation of the pages the old and new entries
    /// cover. Returns the entry replaced.
    pub fn tlb_write_host(&mut self, index: usize, entry: TlbEntry) -> TlbEntry {
        let was = self.tlb.is_present(index);
        let old = self.tlb.write(index, entry);
        if was {
            let (start, len) = old.virtual_range();
            self.xlat.drop_range(start, len);
        }
        self.fetch_tag = INVALID_TAG;
        self.stop_at = 0;
        old
    }

    /// Takes TLB entry `index` out of lookups (no architectural entry can
    /// be made to match nothing) and drops its cached translations.
    pub fn tlb_remove_host(&mut self, index: usize) {
        let (old, was) = self.tlb.remove(index);
        if was {
            let (start, len) = old.virtual_range();
            self.xlat.drop_range(start, len);
        }
        self.fetch_tag = INVALID_TAG;
        self.stop_at = 0;
    }

    /// Takes every TLB entry out of lookups and drops every cached
    /// translation.
    pub fn tlb_flush_host(&mut self) {
        for i in 0..TLB_ENTRIES {
            self.tlb.remove(i);
        }
        self.xlat.flush();
        self.fetch_tag = INVALID_TAG;
        self.stop_at = 0;
    }

    /// Reads CP0 register `rd`/`sel` of the real CPU (as MFC0 would).
    pub fn real_cp0(&self, rd: u8, sel: u8) -> u32 {
        self.read_cp0(rd, sel)
    }

    /// Status of the real CPU.
    pub fn real_status(&self) -> u32 {
        self.read_cp0(reg::STATUS, 0)
    }
}
