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

    /// Writes CP0 register `rd`/`sel` of the real CPU exactly as MTC0
    /// would (for a debugger): through the register's write mask, so
    /// read-only bits and registers keep their value, and with MTC0's
    /// side effects (a change of mode or ASID drops cached translations;
    /// a Status or Cause write that may unmask or raise an interrupt, and
    /// a Count, Compare or Cause.DC write that moves the timer, make the
    /// run loop look again before the next instruction). Returns the
    /// register as MFC0 reads it afterwards: the masked result.
    pub fn set_real_cp0(&mut self, rd: u8, sel: u8, v: u32) -> u32 {
        self.write_cp0(rd, sel, v);
        self.read_cp0(rd, sel)
    }

    /// Status of the real CPU.
    pub fn real_status(&self) -> u32 {
        self.read_cp0(reg::STATUS, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::asm::*;
    use super::super::cp0::{cause, reg, status};
    use super::super::exception::ExcCode;
    use super::super::tests::{IP0, ORIGIN, Vector, boot, exit_ok, normal_vectors};
    use super::super::{Exit, Machine};

    /// Normal vectors, then a loop of `nop`s a debugger stops in; the
    /// machine stopped in it, and where.
    fn stopped_in_a_loop() -> (Machine, u32) {
        let mut a = Asm::new(ORIGIN);
        normal_vectors(&mut a);
        let top = a.here();
        a.nop().nop();
        a.b(top);
        a.nop();
        exit_ok(&mut a);
        let mut m = boot(a, []);
        assert_eq!(m.run(40), Exit::BudgetExhausted);
        let pc = m.cpu_state().pc.raw();
        (m, pc)
    }

    #[test]
    fn a_debugger_writes_cp0_as_mtc0_through_the_masks() {
        let (mut m, _) = stopped_in_a_loop();
        // Status: IM and IE stick, a read-only bit (FR, 26) does not.
        let sr = m.set_real_cp0(reg::STATUS, 0, status::IE | (1 << 8) | (1 << 26));
        assert_eq!(sr, status::IE | (1 << 8));
        assert_eq!(m.real_status(), sr);
        // Cause: only DC, IV and the software interrupt bits are writable
        // (here IP1; ExcCode and BD are not), and it is not taken: IM1 is
        // clear.
        let c = m.set_real_cp0(reg::CAUSE, 0, (1 << 9) | cause::BD | cause::EXC_CODE);
        assert_eq!(c & !cause::IP, 0, "{c:#x}");
        assert_eq!(c & cause::IP_SW, 1 << 9);
        // EPC and BadVAddr: all bits and none.
        assert_eq!(m.set_real_cp0(reg::EPC, 0, 0x8000_4321), 0x8000_4321);
        let bad = m.real_cp0(reg::BADVADDR, 0);
        assert_eq!(m.set_real_cp0(reg::BADVADDR, 0, bad ^ 0xffff_ffff), bad);
        assert_eq!(m.run(20), Exit::BudgetExhausted);
    }

    #[test]
    fn a_software_interrupt_a_debugger_raises_is_taken_at_once() {
        let (mut m, pc) = stopped_in_a_loop();
        m.set_real_cp0(reg::STATUS, 0, status::IE | (1 << 8));
        assert_eq!(m.set_real_cp0(reg::CAUSE, 0, IP0) & IP0, IP0);
        assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Int));
        assert_eq!(m.real_cp0(reg::EPC, 0), pc, "before the next instruction");
    }
}
