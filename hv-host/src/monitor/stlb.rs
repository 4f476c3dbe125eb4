//! The software TLB: the real TLB holds fewer of the guest's entries than
//! the guest believes it has, so when the real TLB misses on an address
//! the VM's TLB maps, the monitor refills it without entering the guest
//! (Disco's second-level TLB); only misses that the VM's TLB also misses
//! go to the guest's refill handler (or, for a PV guest that asked for it,
//! the monitor walks its page tables: [`super::walk`]). A miss on a device
//! page is a device access ([`super::mmio`]); one on no memory a bus error.
//!
//! Each real entry maps one 8 KiB pair of 4 KiB pages, whatever the
//! guest's page size: guest frames are allocated one by one and are not
//! contiguous in machine memory (except the monitor's large pages over
//! kseg0, `ExitCtx::fill_large`).

use super::cost;
use super::exit::{Action, ExitCtx, ExitError};
use super::gmmu::{GuestMapping, guest_translate};
use super::memory::FRAME;
use super::rtlb::Origin;
use super::stats::ExitReason;
use crate::addr::{GuestPhysAddr, GuestVirtAddr};
use crate::machine::Trap;
use crate::machine::board::PageKind;
use crate::machine::cp0::status;
use crate::machine::exception::{Access, ExcCode, Fault};
use crate::machine::tlb::{TlbEntry, lo};

impl ExitCtx<'_> {
    /// A real TLB fault: refill from the VM's view, emulate a device
    /// access, or forward the fault the guest's own MMU would raise.
    pub(super) fn tlb_fault(&mut self, t: Trap) -> Result<Action, ExitError> {
        let Some(bad) = t.bad_vaddr else {
            return self.forward_trap(t, ExitReason::TlbMissLd);
        };
        let access = match t.code {
            ExcCode::Tlbl if t.insn.is_none() => Access::Fetch,
            ExcCode::Tlbl => Access::Load,
            _ => Access::Store,
        };
        let reason = match t.code {
            ExcCode::Tlbl => ExitReason::TlbMissLd,
            ExcCode::Tlbs => ExitReason::TlbMissSt,
            _ => ExitReason::TlbMod,
        };
        self.charge(cost::STLB_LOOKUP);
        let mut walked = false;
        let g = match guest_translate(self.vm, bad, access) {
            Ok(g) => g,
            Err(Fault::TlbRefill) if self.walk(t, bad, access) => {
                walked = true;
                match guest_translate(self.vm, bad, access) {
                    Ok(g) => g,
                    Err(f) => return self.forward_guest_fault(t, f, access, reason),
                }
            }
            Err(f) => return self.forward_guest_fault(t, f, access, reason),
        };
        let vm = &*self.vm;
        let kind = vm.board.page_kind(GuestPhysAddr::new(g.gpa.raw()));
        if kind == PageKind::Ram && access == Access::Store {
            // The guest writes this frame: from now on the monitor cannot
            // vouch for it being zero (write tracking maps frames it can
            // still vouch for without the dirty bit, so that the first
            // store, through any mapping, comes here). A shared frame is
            // mapped without the dirty bit too: the store gets a copy.
            let vm = &mut *self.vm;
            if vm.tracks_writes() && !vm.mem.is_written(g.gpa) {
                vm.stats.dirty_tracking_faults += 1;
            }
            vm.mem.mark_written(g.gpa);
            if vm.mem.is_shared(g.gpa, self.pool) {
                vm.mem
                    .private_frame(g.gpa.align_down(FRAME), self.pool, self.machine)
                    .map_err(|source| ExitError::CannotMap { va: bad, source })?;
                self.frame_copied();
            }
        }
        match kind {
            PageKind::Ram | PageKind::Rom if kind == PageKind::Ram || access != Access::Store => {
                self.count_exit(reason);
                self.fill(bad, g)
                    .map_err(|source| ExitError::CannotMap { va: bad, source })?;
                let vm = &mut *self.vm;
                match g.origin {
                    // A walked refill is counted as such, not twice.
                    Origin::Guest(_) if walked => {}
                    Origin::Guest(_) => vm.stats.stlb_refills += 1,
                    _ => vm.stats.unmapped_fills += 1,
                }
                self.trace(t.pc, t.insn, reason, || {
                    format!("refilled {bad} -> guest-physical {}", g.gpa)
                });
                Ok(Action::Resume)
            }
            // A store to the boot ROM is ignored.
            PageKind::Ram | PageKind::Rom => {
                self.count_exit(ExitReason::Mmio);
                self.emulated(1);
                self.machine.skip_instruction();
                self.trace(t.pc, t.insn, ExitReason::Mmio, || {
                    "store to ROM ignored".into()
                });
                Ok(Action::Resume)
            }
            PageKind::Io if access != Access::Fetch => {
                if matches!(g.origin, Origin::Guest(_)) {
                    self.vm.stats.stlb_unserved += 1;
                }
                self.mmio(t, g.gpa)
            }
            PageKind::Io | PageKind::None => {
                if matches!(g.origin, Origin::Guest(_)) {
                    self.vm.stats.stlb_unserved += 1;
                }
                let code = if access == Access::Fetch {
                    ExcCode::Ibe
                } else {
                    ExcCode::Dbe
                };
                self.bus_error(t, code, g.gpa)
            }
        }
    }

    /// Puts the pair of pages around `va` in the real TLB, from the
    /// guest's mapping `g` of `va` (and of its neighbour, if the guest
    /// maps that too and its frame exists already).
    pub(super) fn fill(
        &mut self,
        va: GuestVirtAddr,
        g: GuestMapping,
    ) -> Result<(), super::memory::MemoryError> {
        if g.origin == Origin::Unmapped && self.fill_large(va, g.gpa)? {
            return Ok(());
        }
        let pair = va.align_down(2 * FRAME);
        let mut los = [0u32; 2];
        for (half, l) in los.iter_mut().enumerate() {
            let sub = pair.wrapping_add(half as u32 * FRAME);
            let this = sub == va.align_down(FRAME);
            let vm = &*self.vm;
            let m = if this {
                Some(g)
            } else {
                guest_translate(vm, sub, Access::Load)
                    .ok()
                    .filter(|m| m.origin == g.origin)
            };
            let Some(m) = m else { continue };
            let gpa = m.gpa.align_down(FRAME);
            let (frame, writable) = match vm.board.page_kind(GuestPhysAddr::new(gpa.raw())) {
                PageKind::Ram => {
                    let frame = if this {
                        let vm = &mut *self.vm;
                        let before = vm.mem.frames_zeroed;
                        let f = vm.mem.frame(gpa, self.pool, self.machine)?;
                        if vm.mem.frames_zeroed != before {
                            self.charge(cost::FRAME_ZERO);
                        }
                        f
                    } else {
                        match vm.mem.peek(gpa) {
                            Some(f) => f,
                            None => continue,
                        }
                    };
                    let vm = &*self.vm;
                    let clean = vm.tracks_writes() && !vm.mem.is_written(gpa);
                    (frame, m.dirty && !clean && !self.pool.is_shared(frame))
                }
                PageKind::Rom => (self.pool.rom_frame(gpa, vm.board.kind()), false),
                _ => continue,
            };
            *l = ((frame.raw() >> 12) << lo::PFN_SHIFT) | lo::V | if writable { lo::D } else { 0 };
        }
        let asid = if g.global {
            0
        } else {
            u32::from(self.vm.cp0.asid())
        };
        let entry = TlbEntry {
            page_mask: 0,
            entry_hi: pair.raw() | asid,
            lo0: los[0],
            lo1: los[1],
            global: g.global,
        };
        self.charge(cost::TLB_INSTALL);
        self.rtlb.install(self.machine, entry, g.origin);
        Ok(())
    }

    /// Maps kseg0/kseg1 around `va` (guest-physical `gpa`) with one real
    /// entry of large pages, if the guest frames under both pages are all
    /// in use, contiguous in machine memory, private (and, while writes
    /// are tracked, all written).
    /// Returns whether it did.
    fn fill_large(
        &mut self,
        va: GuestVirtAddr,
        gpa: GuestPhysAddr,
    ) -> Result<bool, super::memory::MemoryError> {
        const SIZES: [(u32, u32); 2] = [(256, 0x001f_e000), (16, 0x0001_e000)];
        let vm = &mut *self.vm;
        if vm.board.page_kind(GuestPhysAddr::new(gpa.raw())) != PageKind::Ram {
            return Ok(false);
        }
        let before = vm.mem.frames_zeroed;
        vm.mem
            .frame(gpa.align_down(FRAME), self.pool, self.machine)?;
        let zeroed = vm.mem.frames_zeroed != before;
        let track = vm.tracks_writes();
        let pool = &*self.pool;
        let mut found = None;
        for (frames, mask) in SIZES {
            let span = frames * FRAME;
            let pair_gpa = gpa.raw() & !(2 * span - 1);
            let ready = |g: u32| {
                vm.mem
                    .group_ready(GuestPhysAddr::new(g), frames, track, pool)
            };
            if pair_gpa
                .checked_add(2 * span)
                .is_none_or(|e| e > vm.mem.ram_bytes())
            {
                continue;
            }
            let (Some(even), Some(odd)) = (ready(pair_gpa), ready(pair_gpa + span)) else {
                continue;
            };
            let lo_of =
                |ma: crate::addr::MachineAddr| ((ma.raw() >> 12) << lo::PFN_SHIFT) | lo::V | lo::D;
            found = Some(TlbEntry {
                page_mask: mask,
                entry_hi: va.raw() & !(2 * span - 1),
                lo0: lo_of(even),
                lo1: lo_of(odd),
                global: true,
            });
            break;
        }
        if zeroed {
            self.charge(cost::FRAME_ZERO);
        }
        let Some(entry) = found else {
            return Ok(false);
        };
        self.rtlb
            .install_exclusive(self.machine, entry, Origin::Unmapped);
        self.charge(cost::TLB_INSTALL);
        Ok(true)
    }

    /// After a trapped `tlbwi`/`tlbwr` to `index`: if it maps the address
    /// of the refill last forwarded to the guest (the guest's refill
    /// handler just served it), put that in the real TLB now instead of
    /// taking one more miss when the guest retries.
    pub(super) fn prefill(&mut self, index: usize) {
        let Some(va) = self.vm.pending_refill.take() else {
            return;
        };
        let vm = &*self.vm;
        let Ok(g) = guest_translate(vm, va, Access::Load) else {
            return;
        };
        if g.origin == Origin::Guest(index as u8)
            && vm.board.page_kind(GuestPhysAddr::new(g.gpa.raw())) == PageKind::Ram
            && self.fill(va, g).is_ok()
        {
            self.vm.stats.prefills += 1;
        }
    }

    /// The guest wrote entry `index` of its TLB: drop the real copies.
    pub(super) fn guest_tlb_written(&mut self, index: usize) {
        self.rtlb.remove(self.machine, Origin::Guest(index as u8));
    }

    /// ERL changed: the unmapped view of useg appears or goes.
    pub(super) fn erl_changed(&mut self) {
        self.rtlb.remove(self.machine, Origin::Erl);
        // With ERL set, useg is unmapped: copies of the guest's useg
        // entries must not serve it either.
        let erl = self.vm.cp0.regs.status & status::ERL != 0;
        if erl {
            for i in 0..super::vtlb::MAX_ENTRIES {
                self.rtlb.remove(self.machine, Origin::Guest(i as u8));
            }
        }
    }
}
