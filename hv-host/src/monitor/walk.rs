//! The refill walk (`RefillWalkSet`): for a paravirtualized guest that
//! asked for it, the monitor refills the VM's TLB from its page tables as
//! its refill handler would, without entering the guest: exception entry
//! on the virtual CP0 (the machine's own), EntryLo0/1 from the page
//! table, a random TLB write, and the return, all modelled in one step.

use super::cost;
use super::exit::ExitCtx;
use crate::addr::{GuestPhysAddr, GuestVirtAddr};
use crate::machine::Trap;
use crate::machine::board::PageKind;
use crate::machine::cp0::{self, status};
use crate::machine::exception::{Access, Exception, Fault};
use crate::machine::mmu::Segment;
use crate::machine::tlb::TlbEntry;

impl ExitCtx<'_> {
    /// Refills the VM's TLB for `va` from its page tables, as its refill
    /// handler would (`RefillWalkSet`); false if the VM did not ask for it
    /// or the walk does not reach guest RAM (the guest's handler then runs).
    pub(super) fn walk(&mut self, t: Trap, va: GuestVirtAddr, access: Access) -> bool {
        let vm = &*self.vm;
        let Some(word) = vm.refill_walk else {
            return false;
        };
        if vm.cp0.regs.status & status::EXL != 0 {
            return false;
        }
        // The page directory and tables are read through kseg0.
        let read = |a: GuestVirtAddr| -> Option<u32> {
            if !a.is_aligned(4) {
                return None;
            }
            let gpa = GuestPhysAddr::new(Segment::Kseg0.unmapped_phys(a.raw())?);
            if vm.board.page_kind(GuestPhysAddr::new(gpa.raw())) != PageKind::Ram {
                return None;
            }
            match vm.mem.peek(gpa) {
                Some(ma) => self.machine.read_machine_u32(ma).ok(),
                None => Some(0),
            }
        };
        let Some(pgd) = read(word) else { return false };
        let va_raw = va.raw();
        let Some(table) = read(GuestVirtAddr::new(pgd).wrapping_add((va_raw >> 22) * 4)) else {
            return false;
        };
        let pair = GuestVirtAddr::new(table).wrapping_add(((va_raw >> 13) & 0x1ff) * 8);
        let (Some(lo0), Some(lo1)) = (read(pair), read(pair.wrapping_add(4))) else {
            return false;
        };
        // What the refill exception sets, then what the handler does:
        // EntryLo0/1 (mtc0), a random entry (tlbwr), eret (EXL, which was
        // clear, cleared again; LLbit cleared; back at the retried access).
        let now = self.now();
        let vm = &mut *self.vm;
        let c = &mut vm.cp0.regs;
        c.enter_exception(&Exception {
            code: Fault::TlbRefill.exc_code(access),
            refill: true,
            pc: t.pc,
            in_delay_slot: t.in_delay_slot,
            bad_vaddr: Some(va),
            ce: 0,
        });
        c.status &= !status::EXL;
        c.entry_lo0 = lo0 & cp0::ENTRYLO_WRITABLE;
        c.entry_lo1 = lo1 & cp0::ENTRYLO_WRITABLE;
        let entry = TlbEntry::from_registers(c.page_mask, c.entry_hi, c.entry_lo0, c.entry_lo1);
        let index = vm.tlb.wrap(vm.cp0.take_random(now));
        vm.tlb.write(index, entry);
        vm.stats.walked_refills += 1;
        self.machine.set_ll_bit(false);
        self.guest_tlb_written(index);
        self.charge(cost::WALK);
        true
    }
}
