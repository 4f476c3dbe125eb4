//! Privileged instructions: MFC0/MTC0 with the side effects of each
//! register write, DI/EI, RDPGPR/WRPGPR, the TLB instructions, ERET, WAIT,
//! CACHE; and RDHWR. Each checks that CP0 is usable (kernel mode or
//! Status.CU0) and raises Coprocessor Unusable otherwise, which is how a
//! monitor running a guest kernel in supervisor mode gets to see them.

use crate::machine::Machine;
use crate::machine::cp0::{self, Cp0Write, reg, status};
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
    // Not inlined: the run loop calls it (on `mfc0`) rather than carrying
    // it, which keeps the loop's code as small as it was.
    #[inline(never)]
    pub fn read_cp0(&self, rd: u8, sel: u8) -> u32 {
        match (rd, sel) {
            (reg::RANDOM, 0) => self.random(),
            (reg::COUNT, 0) => self.count(),
            (reg::CAUSE, 0) => self.cause_value(),
            _ => self.cp0.read(rd, sel),
        }
    }

    /// Writes CP0 register `rd`, select `sel`, as MTC0 would: through the
    /// register's write mask, with its side effects. Read-only and
    /// unimplemented registers ignore the write (a debugger's write is
    /// [`Machine::set_real_cp0`]).
    pub(crate) fn write_cp0(&mut self, rd: u8, sel: u8, v: u32) {
        let now = self.ticks();
        match self.cp0.write(rd, sel, v, cp0::INDEX_MASK, now) {
            Cp0Write::Stored | Cp0Write::EBase => {}
            // The timer deadline moved (and Cause.TI may have cleared).
            Cp0Write::Count | Cp0Write::Compare => self.stop_at = 0,
            Cp0Write::EntryHi(old) => {
                if (old ^ self.cp0.entry_hi) & cp0::ASID_MASK != 0 {
                    self.mode_changed();
                }
            }
            Cp0Write::Status(old) => {
                if (old ^ self.cp0.status) & (status::KSU | status::EXL | status::ERL) != 0 {
                    self.mode_changed();
                }
                self.stop_at = 0;
            }
            // Software interrupts, and DC, which moves the timer deadline.
            Cp0Write::Cause(_) => self.stop_at = 0,
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
        self.pc = self.cp0.return_from_exception().0.raw();
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
