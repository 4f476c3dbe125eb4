//! Privileged instructions: MFC0/MTC0 with the side effects of each
//! register write, DI/EI, RDPGPR/WRPGPR, the TLB instructions, ERET, WAIT,
//! CACHE; and RDHWR. Each checks that CP0 is usable (kernel mode or
//! Status.CU0) and raises Coprocessor Unusable otherwise, which is how a
//! monitor running a guest kernel in supervisor mode gets to see them.

use crate::machine::Machine;
use crate::machine::cp0::{self, cause, config, reg, status};
use crate::machine::decode::Decoded;
use crate::machine::exception::ExcCode;
use crate::machine::tlb::{TlbEntry, lo};

impl Machine {
    /// Raises Coprocessor Unusable for CP0 and returns true if CP0 is not
    /// usable in the current mode.
    #[inline(always)]
    fn cp0_denied(&mut self) -> bool {
        if self.cp0.cp0_usable() {
            false
        } else {
            self.raise_with(ExcCode::CpU, false, None, 0);
            true
        }
    }

    /// Reads CP0 register `rd`, select `sel`, as MFC0 would. Unimplemented
    /// registers read zero.
    pub fn read_cp0(&self, rd: u8, sel: u8) -> u32 {
        let c = &self.cp0;
        match (rd, sel) {
            (reg::INDEX, 0) => c.index,
            (reg::RANDOM, 0) => self.random(),
            (reg::ENTRYLO0, 0) => c.entry_lo0,
            (reg::ENTRYLO1, 0) => c.entry_lo1,
            (reg::CONTEXT, 0) => c.context,
            (reg::CONTEXT, 2) => c.user_local,
            (reg::PAGEMASK, 0) => c.page_mask,
            (reg::WIRED, 0) => c.wired,
            (reg::HWRENA, 0) => c.hwrena,
            (reg::BADVADDR, 0) => c.bad_vaddr,
            (reg::COUNT, 0) => self.count(),
            (reg::ENTRYHI, 0) => c.entry_hi,
            (reg::COMPARE, 0) => c.compare,
            (reg::STATUS, 0) => c.status,
            (reg::STATUS, 1) => c.intctl,
            (reg::CAUSE, 0) => self.cause_value(),
            (reg::EPC, 0) => c.epc,
            (reg::PRID, 0) => cp0::PRID,
            (reg::PRID, 1) => c.ebase,
            (reg::CONFIG, 0) => c.config0,
            (reg::CONFIG, 1) => c.config1,
            (reg::CONFIG, 2) => config::CONFIG2,
            (reg::CONFIG, 3) => c.config3,
            (reg::LLADDR, 0) => c.lladdr,
            (reg::ERROREPC, 0) => c.error_epc,
            (31, 0) => c.desave,
            _ => 0,
        }
    }

    /// Writes CP0 register `rd`, select `sel`, as MTC0 would: through the
    /// register's write mask, with its side effects. Read-only and
    /// unimplemented registers ignore the write.
    pub fn write_cp0(&mut self, rd: u8, sel: u8, v: u32) {
        let c = &mut self.cp0;
        match (rd, sel) {
            (reg::INDEX, 0) => c.index = (c.index & cp0::INDEX_P) | (v & cp0::INDEX_MASK),
            (reg::ENTRYLO0, 0) => c.entry_lo0 = v & cp0::ENTRYLO_WRITABLE,
            (reg::ENTRYLO1, 0) => c.entry_lo1 = v & cp0::ENTRYLO_WRITABLE,
            (reg::CONTEXT, 0) => {
                c.context = (c.context & !cp0::CONTEXT_PTEBASE) | (v & cp0::CONTEXT_PTEBASE)
            }
            (reg::CONTEXT, 2) => c.user_local = v,
            (reg::PAGEMASK, 0) => c.page_mask = v & cp0::PAGEMASK_WRITABLE,
            (reg::WIRED, 0) => {
                c.wired = v & cp0::INDEX_MASK;
                self.wired_changed();
            }
            (reg::HWRENA, 0) => c.hwrena = v & cp0::HWRENA_WRITABLE,
            (reg::COUNT, 0) => self.set_count(v),
            (reg::ENTRYHI, 0) => self.set_entry_hi(v & cp0::ENTRYHI_WRITABLE),
            (reg::COMPARE, 0) => {
                c.compare = v;
                c.cause &= !cause::TI;
                self.timer_changed();
            }
            (reg::STATUS, 0) => {
                let old = c.status;
                c.status = (old & !status::WRITABLE) | (v & status::WRITABLE);
                if (old ^ c.status) & (status::KSU | status::EXL | status::ERL) != 0 {
                    self.mode_changed();
                }
                self.stop_at = 0;
            }
            (reg::STATUS, 1) => {
                c.intctl = (cp0::INTCTL & !cp0::INTCTL_WRITABLE) | (v & cp0::INTCTL_WRITABLE)
            }
            (reg::CAUSE, 0) => {
                let old = c.cause;
                let new = (old & !cause::WRITABLE) | (v & cause::WRITABLE);
                c.cause = new;
                if (old ^ new) & cause::DC != 0 {
                    self.set_count_stopped(new & cause::DC != 0);
                }
                self.stop_at = 0;
            }
            (reg::EPC, 0) => c.epc = v,
            (reg::PRID, 1) => c.ebase = 0x8000_0000 | (v & cp0::EBASE_WRITABLE),
            (reg::CONFIG, 0) => {
                c.config0 =
                    (config::CONFIG0 & !config::CONFIG0_WRITABLE) | (v & config::CONFIG0_WRITABLE)
            }
            (reg::ERROREPC, 0) => c.error_epc = v,
            (31, 0) => c.desave = v,
            _ => {}
        }
    }

    /// Sets EntryHi; a change of ASID selects other cached translations
    /// (they are tagged with their ASID, so nothing is flushed).
    pub(crate) fn set_entry_hi(&mut self, v: u32) {
        let old_asid = self.cp0.asid();
        self.cp0.entry_hi = v;
        if self.cp0.asid() != old_asid {
            self.mode_changed();
        }
    }

    /// Move from Coprocessor 0.
    pub(super) fn mfc0(&mut self, d: Decoded) {
        if !self.cp0_denied() {
            let v = self.read_cp0(d.rd, d.imm as u8);
            self.w(d.rt, v);
        }
    }

    /// Move to Coprocessor 0.
    pub(super) fn mtc0(&mut self, d: Decoded) {
        if !self.cp0_denied() {
            self.write_cp0(d.rd, d.imm as u8, self.r(d.rt));
        }
    }

    /// Disable / Enable Interrupts: `rt` gets the old Status.
    pub(super) fn di_ei(&mut self, d: Decoded, enable: bool) {
        if self.cp0_denied() {
            return;
        }
        let old = self.cp0.status;
        self.w(d.rt, old);
        self.cp0.status = if enable {
            old | status::IE
        } else {
            old & !status::IE
        };
        self.stop_at = 0;
    }

    /// Read/Write GPR from/to the previous shadow set: with a single
    /// register set these are plain moves.
    pub(super) fn rdwrpgpr(&mut self, d: Decoded) {
        if !self.cp0_denied() {
            self.w(d.rd, self.r(d.rt));
        }
    }

    /// TLB Read Indexed Entry.
    pub(super) fn tlbr(&mut self) {
        if self.cp0_denied() {
            return;
        }
        let e = *self.tlb.entry((self.cp0.index & cp0::INDEX_MASK) as usize);
        let g = if e.global { lo::G } else { 0 };
        self.cp0.page_mask = e.page_mask;
        self.cp0.entry_lo0 = e.lo0 | g;
        self.cp0.entry_lo1 = e.lo1 | g;
        self.set_entry_hi(e.entry_hi);
    }

    fn tlb_write(&mut self, index: u32) {
        let c = &self.cp0;
        let entry = TlbEntry::from_registers(c.page_mask, c.entry_hi, c.entry_lo0, c.entry_lo1);
        let old = self.tlb.write(index as usize, entry);
        if old.any_valid() {
            let (start, len) = old.virtual_range();
            self.xlat.drop_range(start, len);
        }
        self.mode_changed();
    }

    /// TLB Write Indexed Entry.
    pub(super) fn tlbwi(&mut self) {
        if !self.cp0_denied() {
            self.tlb_write(self.cp0.index & cp0::INDEX_MASK);
        }
    }

    /// TLB Write Random Entry (at CP0 Random, between Wired and the top).
    pub(super) fn tlbwr(&mut self) {
        if !self.cp0_denied() {
            self.tlb_write(self.random());
        }
    }

    /// TLB Probe for Matching Entry.
    pub(super) fn tlbp(&mut self) {
        if self.cp0_denied() {
            return;
        }
        self.cp0.index = match self.tlb.probe(self.cp0.entry_hi) {
            Some(i) => i as u32,
            None => cp0::INDEX_P,
        };
    }

    /// Exception Return: to ErrorEPC clearing ERL, or to EPC clearing EXL;
    /// clears LLbit; no delay slot.
    pub(super) fn eret(&mut self) {
        if self.cp0_denied() {
            return;
        }
        let st = self.cp0.status;
        if st & status::ERL != 0 {
            self.pc = self.cp0.error_epc;
            self.cp0.status = st & !status::ERL;
        } else {
            self.pc = self.cp0.epc;
            self.cp0.status = st & !status::EXL;
        }
        self.next_pc = self.pc.wrapping_add(4);
        self.delay_slot = false;
        self.ll_bit = false;
        self.mode_changed();
        self.stop_at = 0;
    }

    /// Enter Standby Mode: the CPU idles until an interrupt is pending.
    pub(super) fn wait(&mut self) {
        if !self.cp0_denied() {
            self.enter_wait();
        }
    }

    /// Cache operation: privileged, no effect (no caches are modelled).
    pub(super) fn cache(&mut self) {
        self.cp0_denied();
    }

    /// Read Hardware Register: 0 CPUNum, 1 SYNCI_Step (0: no caches to
    /// synchronise), 2 CC (Count), 3 CCRes (1), 29 UserLocal. Allowed in
    /// kernel mode, with Status.CU0, or when the HWREna bit is set;
    /// otherwise, and for other numbers, Reserved Instruction.
    pub(super) fn rdhwr(&mut self, d: Decoded) {
        let n = u32::from(d.rd);
        let implemented = matches!(n, 0..=3 | 29);
        if !implemented || !(self.cp0.cp0_usable() || self.cp0.hwrena & (1 << n) != 0) {
            self.raise(ExcCode::Ri);
            return;
        }
        let v = match n {
            2 => self.count(),
            3 => 1,
            29 => self.cp0.user_local,
            _ => 0,
        };
        self.w(d.rt, v);
    }
}
