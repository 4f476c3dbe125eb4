//! The guest's view of an address, and the software TLB.
//!
//! [`guest_translate`] answers what the VM's own MMU would do with a
//! virtual address in its current virtual mode: an unmapped segment
//! (kseg0, kseg1, useg under ERL) gives a guest-physical address directly;
//! a mapped one goes through the VM's TLB and may miss, be invalid or be
//! clean.
//!
//! The real TLB holds translations to machine frames, derived from those
//! answers: the monitor's own mappings of the unmapped segments (global)
//! and copies of the VM's TLB entries (under the guest's ASID). It holds
//! fewer of the guest's entries than the guest believes it has, so when
//! the real TLB misses on an address the VM's TLB maps, the monitor
//! refills it without entering the guest (Disco's second-level TLB); only
//! misses that the VM's TLB also misses go to the guest's refill handler.
//! Every real entry remembers where it came from ([`RealTlb`]); when the
//! guest overwrites an entry of its TLB, the real entries copied from it
//! are removed at once, so the real TLB never serves a mapping the guest
//! no longer holds.
//!
//! Each real entry maps one 8 KiB pair of 4 KiB pages, whatever the
//! guest's page size: guest frames are allocated one by one and are not
//! contiguous in machine memory.

use super::memory::{FRAME, GpaKind, GuestMemory};
use super::stats::ExitReason;
use super::vm::Vm;
use super::vtlb::VtlbLookup;
use super::{Monitor, cost};
use crate::addr::{GuestPhysAddr, GuestVirtAddr};
use crate::machine::cp0::{self, status};
use crate::machine::exception::{Access, ExcCode, Exception, Fault};
use crate::machine::mmu::{Regime, Segment, SegmentAccess};
use crate::machine::tlb::{TLB_ENTRIES, TlbEntry, lo};
use crate::machine::{Machine, Trap};

/// Where a guest virtual address goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestMapping {
    /// The guest-physical address.
    pub gpa: u32,
    /// Where the translation comes from.
    pub origin: Origin,
    /// Whether stores are allowed (EntryLo.D; always for unmapped).
    pub dirty: bool,
    /// Whether the translation holds under every ASID.
    pub global: bool,
}

/// Where a real TLB entry came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Nothing: the slot is empty.
    Empty,
    /// The monitor's mapping of kseg0/kseg1.
    Unmapped,
    /// The monitor's identity mapping of useg while ERL is set.
    Erl,
    /// A copy of the VM's TLB entry with this index.
    Guest(u8),
}

/// What the guest's MMU does with `va` for `access`, in `vm`'s current
/// virtual mode: the machine's segment rules ([`Segment::access`]), then the
/// VM's TLB. A refusal is the fault the guest's MMU raises.
pub fn guest_translate(vm: &Vm, va: u32, access: Access) -> Result<GuestMapping, Fault> {
    match Segment::access(va, Regime::of(vm.cp0.regs.status)) {
        SegmentAccess::Unmapped(gpa) => Ok(GuestMapping {
            gpa,
            origin: if Segment::of(va) == Segment::Useg {
                Origin::Erl
            } else {
                Origin::Unmapped
            },
            dirty: true,
            global: true,
        }),
        SegmentAccess::Mapped => mapped(vm, va, access),
        SegmentAccess::Denied => Err(Fault::Address),
    }
}

fn mapped(vm: &Vm, va: u32, access: Access) -> Result<GuestMapping, Fault> {
    match vm.tlb.lookup(va, vm.cp0.asid()) {
        VtlbLookup::Miss => Err(Fault::TlbRefill),
        VtlbLookup::Hit {
            index,
            lo: l,
            gpa,
            global,
        } => {
            Fault::check_hit(l, access)?;
            Ok(GuestMapping {
                gpa,
                origin: Origin::Guest(index as u8),
                dirty: l & lo::D != 0,
                global,
            })
        }
    }
}

/// The real TLB's bookkeeping: where each entry came from, and the next
/// slot to replace (round robin, so runs are deterministic).
#[derive(Clone, Debug)]
pub struct RealTlb {
    origin: [Origin; TLB_ENTRIES],
    next: usize,
}

impl Default for RealTlb {
    fn default() -> Self {
        Self::new()
    }
}

impl RealTlb {
    /// Empty bookkeeping (the machine's TLB must be flushed to match).
    pub fn new() -> Self {
        Self {
            origin: [Origin::Empty; TLB_ENTRIES],
            next: 0,
        }
    }

    /// Empties the real TLB.
    pub fn flush(&mut self, machine: &mut Machine) {
        machine.tlb_flush_host();
        self.origin = [Origin::Empty; TLB_ENTRIES];
    }

    /// Removes every real entry of origin `o`; returns how many.
    pub fn remove(&mut self, machine: &mut Machine, o: Origin) -> usize {
        let mut n = 0;
        for i in 0..TLB_ENTRIES {
            if self.origin[i] == o {
                machine.tlb_remove_host(i);
                self.origin[i] = Origin::Empty;
                n += 1;
            }
        }
        n
    }

    /// Installs `entry` of origin `o` after removing every real entry
    /// whose pages overlap it (a large page over small ones).
    fn install_exclusive(&mut self, machine: &mut Machine, entry: TlbEntry, o: Origin) {
        let (start, len) = entry.virtual_range();
        let end = u64::from(start) + len;
        for i in 0..TLB_ENTRIES {
            if self.origin[i] == Origin::Empty {
                continue;
            }
            let (s, l) = machine.tlb().entry(i).virtual_range();
            if u64::from(s) < end && u64::from(start) < u64::from(s) + l {
                machine.tlb_remove_host(i);
                self.origin[i] = Origin::Empty;
            }
        }
        let i = self.next;
        self.next = (self.next + 1) % TLB_ENTRIES;
        machine.tlb_write_host(i, entry);
        self.origin[i] = o;
    }

    /// Installs `entry` of origin `o`: over an existing entry for the same
    /// pair of pages if there is one, else in the next slot.
    fn install(&mut self, machine: &mut Machine, entry: TlbEntry, o: Origin) {
        let i = match machine.tlb().probe(entry.entry_hi) {
            Some(i) => i,
            None => {
                let i = self.next;
                self.next = (self.next + 1) % TLB_ENTRIES;
                i
            }
        };
        machine.tlb_write_host(i, entry);
        self.origin[i] = o;
    }
}

impl Monitor {
    /// A real TLB fault: refill from the VM's view, emulate a device
    /// access, or forward the fault the guest's own MMU would raise.
    pub(super) fn tlb_fault(&mut self, t: Trap) {
        let Some(bad) = t.bad_vaddr else {
            return self.forward_trap(t, ExitReason::TlbMissLd);
        };
        let va = bad.raw();
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
        let g = match guest_translate(&self.vms[self.cur], va, access) {
            Ok(g) => g,
            Err(Fault::TlbRefill) if self.walk(t, va, access) => {
                walked = true;
                match guest_translate(&self.vms[self.cur], va, access) {
                    Ok(g) => g,
                    Err(f) => return self.forward_guest_fault(t, f, access, reason),
                }
            }
            Err(f) => return self.forward_guest_fault(t, f, access, reason),
        };
        let vm = &self.vms[self.cur];
        let kind = vm.mem.kind(GuestPhysAddr::new(g.gpa));
        if kind == GpaKind::Ram && access == Access::Store {
            // The guest writes this frame: from now on the monitor cannot
            // vouch for it being zero (write tracking maps frames it can
            // still vouch for without the dirty bit, so that the first
            // store, through any mapping, comes here).
            let vm = &mut self.vms[self.cur];
            if vm.tracks_writes() && !vm.mem.is_written(GuestPhysAddr::new(g.gpa)) {
                vm.stats.dirty_tracking_faults += 1;
            }
            vm.mem.mark_written(GuestPhysAddr::new(g.gpa));
        }
        match kind {
            GpaKind::Ram | GpaKind::Rom if kind == GpaKind::Ram || access != Access::Store => {
                self.count_exit(reason);
                if let Err(e) = self.fill(va, g) {
                    let pc = t.pc;
                    return self.crash(pc, t.insn, format!("the monitor cannot map {bad}: {e}"));
                }
                let vm = &mut self.vms[self.cur];
                match g.origin {
                    // A walked refill is counted as such, not twice.
                    Origin::Guest(_) if walked => {}
                    Origin::Guest(_) => vm.stats.stlb_refills += 1,
                    _ => vm.stats.unmapped_fills += 1,
                }
                self.trace(t.pc, t.insn, reason, || {
                    format!("refilled {bad} -> guest-physical {:#010x}", g.gpa)
                });
            }
            // A store to the boot ROM is ignored.
            GpaKind::Ram | GpaKind::Rom => {
                self.count_exit(ExitReason::Mmio);
                self.emulated(1);
                self.machine.skip_instruction();
                self.trace(t.pc, t.insn, ExitReason::Mmio, || {
                    "store to ROM ignored".into()
                });
            }
            GpaKind::UartPage if access != Access::Fetch => {
                if matches!(g.origin, Origin::Guest(_)) {
                    self.vms[self.cur].stats.stlb_unserved += 1;
                }
                self.mmio(t, va, g.gpa)
            }
            GpaKind::Board if access != Access::Fetch => {
                if matches!(g.origin, Origin::Guest(_)) {
                    self.vms[self.cur].stats.stlb_unserved += 1;
                }
                self.mmio_board(t, va, g.gpa)
            }
            GpaKind::UartPage | GpaKind::Board | GpaKind::None => {
                if matches!(g.origin, Origin::Guest(_)) {
                    self.vms[self.cur].stats.stlb_unserved += 1;
                }
                let code = if access == Access::Fetch {
                    ExcCode::Ibe
                } else {
                    ExcCode::Dbe
                };
                self.bus_error(t, code, g.gpa);
            }
        }
    }

    /// Forwards the bus error an access to guest-physical `gpa` raises.
    pub(super) fn bus_error(&mut self, t: Trap, code: ExcCode, gpa: u32) {
        self.count_exit(ExitReason::BusErr);
        self.reflect(Exception {
            code,
            refill: false,
            pc: t.pc,
            in_delay_slot: t.in_delay_slot,
            bad_vaddr: None,
            ce: 0,
        });
        self.trace(t.pc, t.insn, ExitReason::BusErr, || {
            format!("bus error at guest-physical {gpa:#010x} forwarded")
        });
    }

    /// Forwards the exception the guest's own MMU raises for `va`.
    fn forward_guest_fault(&mut self, t: Trap, f: Fault, access: Access, reason: ExitReason) {
        let code = f.exc_code(access);
        let refill = f == Fault::TlbRefill;
        if code == ExcCode::Tlbl || code == ExcCode::Tlbs {
            let vm = &mut self.vms[self.cur];
            vm.stats.refills_forwarded += 1;
            vm.pending_refill = t.bad_vaddr.map(|a| a.raw());
        }
        let reason = if f == Fault::Address {
            ExitReason::AddrErr
        } else {
            reason
        };
        self.count_exit(reason);
        self.reflect(Exception {
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
    }

    /// Puts the pair of pages around `va` in the real TLB, from the
    /// guest's mapping `g` of `va` (and of its neighbour, if the guest
    /// maps that too and its frame exists already).
    fn fill(&mut self, va: u32, g: GuestMapping) -> Result<(), super::memory::MemoryError> {
        if g.origin == Origin::Unmapped && self.fill_large(va, g.gpa)? {
            return Ok(());
        }
        let pair = va & !0x1fff;
        let mut los = [0u32; 2];
        for (half, l) in los.iter_mut().enumerate() {
            let sub = pair + half as u32 * FRAME;
            let this = sub == va & !0xfff;
            let vm = &self.vms[self.cur];
            let m = if this {
                Some(g)
            } else {
                guest_translate(vm, sub, Access::Load)
                    .ok()
                    .filter(|m| m.origin == g.origin)
            };
            let Some(m) = m else { continue };
            let gpa = GuestPhysAddr::new(m.gpa & !(FRAME - 1));
            let (frame, writable) = match vm.mem.kind(gpa) {
                GpaKind::Ram => {
                    let frame = if this {
                        let vm = &mut self.vms[self.cur];
                        let before = vm.mem.frames_zeroed;
                        let f = vm.mem.frame(gpa, &mut self.machine)?;
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
                    let vm = &self.vms[self.cur];
                    let clean = vm.tracks_writes() && !vm.mem.is_written(gpa);
                    (frame, m.dirty && !clean)
                }
                GpaKind::Rom => (self.pool.rom_frame(gpa, vm.mem.is_malta()), false),
                _ => continue,
            };
            *l = ((frame.raw() >> 12) << lo::PFN_SHIFT) | lo::V | if writable { lo::D } else { 0 };
        }
        let asid = if g.global {
            0
        } else {
            u32::from(self.vms[self.cur].cp0.asid())
        };
        let entry = TlbEntry {
            page_mask: 0,
            entry_hi: pair | asid,
            lo0: los[0],
            lo1: los[1],
            global: g.global,
        };
        self.charge(cost::TLB_INSTALL);
        self.rtlb.install(&mut self.machine, entry, g.origin);
        Ok(())
    }

    /// Maps kseg0/kseg1 around `va` (guest-physical `gpa`) with one real
    /// entry of large pages, if the guest frames under both pages are all
    /// in use (and, while writes are tracked, all written): the VM's
    /// region is contiguous, so they are contiguous in machine memory too.
    /// Returns whether it did.
    fn fill_large(&mut self, va: u32, gpa: u32) -> Result<bool, super::memory::MemoryError> {
        const SIZES: [(u32, u32); 2] = [(256, 0x001f_e000), (16, 0x0001_e000)];
        let vm = &mut self.vms[self.cur];
        if vm.mem.kind(GuestPhysAddr::new(gpa)) != GpaKind::Ram {
            return Ok(false);
        }
        let before = vm.mem.frames_zeroed;
        vm.mem
            .frame(GuestPhysAddr::new(gpa & !(FRAME - 1)), &mut self.machine)?;
        let zeroed = vm.mem.frames_zeroed != before;
        let track = vm.tracks_writes();
        let mut found = None;
        for (frames, mask) in SIZES {
            let span = frames * FRAME;
            let pair_gpa = gpa & !(2 * span - 1);
            let ready = |g: u32| vm.mem.group_ready(GuestPhysAddr::new(g), frames, track);
            if pair_gpa
                .checked_add(2 * span)
                .is_none_or(|e| e > vm.mem.ram_bytes())
                || !ready(pair_gpa)
                || !ready(pair_gpa + span)
            {
                continue;
            }
            let lo_of = |g: u32| {
                let ma = vm
                    .mem
                    .machine_addr(GuestPhysAddr::new(g))
                    .map_or(0, |a| a.raw());
                ((ma >> 12) << lo::PFN_SHIFT) | lo::V | lo::D
            };
            found = Some(TlbEntry {
                page_mask: mask,
                entry_hi: va & !(2 * span - 1),
                lo0: lo_of(pair_gpa),
                lo1: lo_of(pair_gpa + span),
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
            .install_exclusive(&mut self.machine, entry, Origin::Unmapped);
        self.charge(cost::TLB_INSTALL);
        Ok(true)
    }

    /// Refills the VM's TLB for `va` from its page tables, as its refill
    /// handler would (`RefillWalkSet`); false if the VM did not ask for it
    /// or the walk does not reach guest RAM (the guest's handler then runs).
    fn walk(&mut self, t: Trap, va: u32, access: Access) -> bool {
        let vm = &self.vms[self.cur];
        let Some(word) = vm.refill_walk else {
            return false;
        };
        if vm.cp0.regs.status & status::EXL != 0 {
            return false;
        }
        // The page directory and tables are read through kseg0.
        let read = |a: u32| -> Option<u32> {
            if !a.is_multiple_of(4) {
                return None;
            }
            let gpa = GuestPhysAddr::new(Segment::Kseg0.unmapped_phys(a)?);
            if vm.mem.kind(gpa) != GpaKind::Ram {
                return None;
            }
            match vm.mem.peek(gpa) {
                Some(ma) => self.machine.read_machine_u32(ma).ok(),
                None => Some(0),
            }
        };
        let Some(pgd) = read(word) else { return false };
        let Some(table) = read(pgd.wrapping_add((va >> 22) * 4)) else {
            return false;
        };
        let pair = table.wrapping_add(((va >> 13) & 0x1ff) * 8);
        let (Some(lo0), Some(lo1)) = (read(pair), read(pair.wrapping_add(4))) else {
            return false;
        };
        // What the refill exception sets, then what the handler does:
        // EntryLo0/1 (mtc0), a random entry (tlbwr), eret (EXL, which was
        // clear, cleared again; LLbit cleared; back at the retried access).
        let now = self.now();
        let vm = &mut self.vms[self.cur];
        let c = &mut vm.cp0.regs;
        c.enter_exception(&Exception {
            code: Fault::TlbRefill.exc_code(access),
            refill: true,
            pc: t.pc,
            in_delay_slot: t.in_delay_slot,
            bad_vaddr: Some(GuestVirtAddr::new(va)),
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

    /// After a trapped `tlbwi`/`tlbwr` to `index`: if it maps the address
    /// of the refill last forwarded to the guest (the guest's refill
    /// handler just served it), put that in the real TLB now instead of
    /// taking one more miss when the guest retries.
    pub(super) fn prefill(&mut self, index: usize) {
        let Some(va) = self.vms[self.cur].pending_refill.take() else {
            return;
        };
        let vm = &self.vms[self.cur];
        let Ok(g) = guest_translate(vm, va, Access::Load) else {
            return;
        };
        if g.origin == Origin::Guest(index as u8)
            && vm.mem.kind(GuestPhysAddr::new(g.gpa)) == GpaKind::Ram
            && self.fill(va, g).is_ok()
        {
            self.vms[self.cur].stats.prefills += 1;
        }
    }

    /// The guest wrote entry `index` of its TLB: drop the real copies.
    pub(super) fn guest_tlb_written(&mut self, index: usize) {
        self.rtlb
            .remove(&mut self.machine, Origin::Guest(index as u8));
    }

    /// ERL changed: the unmapped view of useg appears or goes.
    pub(super) fn erl_changed(&mut self) {
        self.rtlb.remove(&mut self.machine, Origin::Erl);
        // With ERL set, useg is unmapped: copies of the guest's useg
        // entries must not serve it either.
        let erl = self.vms[self.cur].cp0.regs.status & status::ERL != 0;
        if erl {
            for i in 0..super::vtlb::MAX_ENTRIES {
                self.rtlb.remove(&mut self.machine, Origin::Guest(i as u8));
            }
        }
    }

    /// Reads guest virtual memory as the VM's own loads would (for
    /// semihosting, whose buffers may be anywhere the machine's own
    /// semihosting reads: RAM, or the boot ROM window, which reads zero);
    /// `None` if any byte does not translate to RAM or ROM.
    pub(super) fn read_guest(&mut self, va: u32, len: u32) -> Option<Vec<u8>> {
        self.read_guest_in(va, len, Backing::RamOrRom)
    }

    /// Reads a hypercall's buffer: every byte must translate to the VM's
    /// RAM (ABI.md section 2: an address not backed by guest memory, the
    /// boot ROM window included, fails the call with `BadAddress`).
    pub(super) fn read_guest_ram(&mut self, va: u32, len: u32) -> Option<Vec<u8>> {
        self.read_guest_in(va, len, Backing::Ram)
    }

    fn read_guest_in(&mut self, va: u32, len: u32, backing: Backing) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut a = va;
        let mut left = len;
        while left > 0 {
            let chunk = left.min(FRAME - (a & (FRAME - 1)));
            let vm = &self.vms[self.cur];
            let g = guest_translate(vm, a, Access::Load).ok()?;
            let gpa = GuestPhysAddr::new(g.gpa);
            match vm.mem.kind(gpa) {
                GpaKind::Ram => match vm.mem.peek(gpa) {
                    Some(ma) => {
                        let start = out.len();
                        out.resize(start + chunk as usize, 0);
                        self.machine.read_machine(ma, &mut out[start..]).ok()?;
                    }
                    None => out.resize(out.len() + chunk as usize, 0),
                },
                GpaKind::Rom if backing == Backing::RamOrRom => {
                    out.resize(out.len() + chunk as usize, 0)
                }
                // The rest of the UART's page is boot ROM and reads zero,
                // as the machine's own semihosting reads it; only the
                // device registers cannot be read this way.
                GpaKind::UartPage
                    if backing == Backing::RamOrRom && !GuestMemory::touches_uart(gpa, chunk) =>
                {
                    out.resize(out.len() + chunk as usize, 0)
                }
                _ => return None,
            }
            a = a.checked_add(chunk)?;
            left -= chunk;
        }
        Some(out)
    }
}

/// What may back the bytes of a guest buffer the monitor reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backing {
    /// Only the VM's RAM (hypercall buffers).
    Ram,
    /// RAM, or the boot ROM window reading zero (semihosting, as the
    /// machine's own).
    RamOrRom,
}
