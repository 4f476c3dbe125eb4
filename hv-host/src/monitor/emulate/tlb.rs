//! The TLB instructions on the VM's virtual TLB: `tlbp`, `tlbr`,
//! `tlbwi`, `tlbwr`. A write drops the real TLB's copies of the entry it
//! overwrites and may prefill the real TLB ([`ExitCtx::prefill`]).

use super::super::exit::ExitCtx;
use super::super::stats::PrivInsn;
use super::super::vcpu::Effects;
use crate::machine::cp0;
use crate::machine::tlb::{TlbEntry, lo};

impl ExitCtx<'_> {
    /// TLB Probe: Index of the entry matching EntryHi, or P.
    pub(super) fn tlbp(&mut self) -> PrivInsn {
        let vm = &mut *self.vm;
        vm.cp0.regs.index = match vm.tlb.probe(vm.cp0.regs.entry_hi) {
            Some(i) => i as u32,
            None => cp0::INDEX_P,
        };
        PrivInsn::Tlbp
    }

    /// TLB Read: the entry at Index into PageMask, EntryHi, EntryLo0/1.
    pub(super) fn tlbr(&mut self) -> PrivInsn {
        let vm = &mut *self.vm;
        let e = *vm
            .tlb
            .entry(vm.tlb.wrap(vm.cp0.regs.index & vm.cp0.index_mask()));
        let g = if e.global { lo::G } else { 0 };
        let c = &mut vm.cp0.regs;
        let asid_changed = (c.entry_hi ^ e.entry_hi) & cp0::ASID_MASK != 0;
        c.page_mask = e.page_mask;
        c.entry_lo0 = e.lo0 | g;
        c.entry_lo1 = e.lo1 | g;
        c.entry_hi = e.entry_hi;
        self.apply_effects(Effects {
            asid: asid_changed,
            ..Effects::default()
        });
        PrivInsn::Tlbr
    }

    /// TLB Write Indexed (at Index) or Random (at the entry
    /// [`super::super::vcpu::VirtCp0::take_random`] picks).
    pub(super) fn tlbw(&mut self, random: bool) -> PrivInsn {
        let now = self.now();
        let vm = &mut *self.vm;
        let raw = if random {
            vm.cp0.take_random(now)
        } else {
            vm.cp0.regs.index & vm.cp0.index_mask()
        };
        let index = vm.tlb.wrap(raw);
        let c = &vm.cp0.regs;
        let entry = TlbEntry::from_registers(c.page_mask, c.entry_hi, c.entry_lo0, c.entry_lo1);
        vm.tlb.write(index, entry);
        self.guest_tlb_written(index);
        self.prefill(index);
        if random {
            PrivInsn::Tlbwr
        } else {
            PrivInsn::Tlbwi
        }
    }
}
