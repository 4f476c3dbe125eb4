//! Address translation and data access: the 32-bit segment rules per mode
//! (kuseg/suseg/useg, kseg0, kseg1, ksseg/sseg, kseg3), the TLB, and the
//! sized loads and stores the executor uses, with their fast path through
//! the translation caches ([`super::xlat`]).
//!
//! | segment | range                     | kernel          | supervisor | user |
//! |---------|---------------------------|-----------------|------------|------|
//! | useg    | `0x0000_0000..0x8000_0000`| mapped (unmapped when ERL=1) | mapped | mapped |
//! | kseg0   | `0x8000_0000..0xa000_0000`| unmapped, `pa = va - 0x8000_0000` | AdE | AdE |
//! | kseg1   | `0xa000_0000..0xc000_0000`| unmapped, `pa = va - 0xa000_0000` | AdE | AdE |
//! | sseg    | `0xc000_0000..0xe000_0000`| mapped          | mapped     | AdE  |
//! | kseg3   | `0xe000_0000..`           | mapped          | AdE        | AdE  |
//!
//! [`Segment`] is the one definition of this table; a monitor's model of a
//! guest's MMU applies it to the guest's virtual mode.
//!
//! **The virtualization assist.** With [`Machine::set_guest_regime`] on,
//! supervisor-mode references to kseg0, kseg1 and kseg3 are translated
//! through the TLB like a mapped segment instead of raising an address
//! error (what MIPS VZ does with its root TLB for a guest). A monitor runs
//! a deprivileged guest kernel, linked in kseg0 like every MIPS kernel, in
//! supervisor mode this way, and fills those TLB entries from the VM's
//! memory map. User mode is unchanged: it still gets address errors above
//! `0x8000_0000`.

use super::Machine;
use super::board::Width;
use super::bus::Target;
use super::code::NO_SLOT;
use super::cp0::status;
use super::exception::{Access, ExcCode, Fault};
use crate::addr::GuestVirtAddr;
use crate::addr::MachineAddr;

/// The translation regime: what the segment rules are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regime {
    /// Kernel mode with ERL clear.
    Kernel = 0,
    /// Kernel mode with ERL set: kuseg is unmapped.
    KernelErl = 1,
    /// Supervisor mode.
    Supervisor = 2,
    /// User mode.
    User = 3,
}

impl Regime {
    /// The regime a Status value selects.
    pub fn of(st: u32) -> Regime {
        if st & status::ERL != 0 {
            Regime::KernelErl
        } else if st & status::EXL != 0 {
            Regime::Kernel
        } else {
            match st & status::KSU {
                0 => Regime::Kernel,
                status::KSU_SUPERVISOR => Regime::Supervisor,
                _ => Regime::User,
            }
        }
    }
}

/// A segment of the 32-bit virtual address space (the table above).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment {
    /// `0x0000_0000..0x8000_0000`: kuseg, suseg, useg.
    Useg,
    /// `0x8000_0000..0xa000_0000`: unmapped, cached.
    Kseg0,
    /// `0xa000_0000..0xc000_0000`: unmapped, uncached.
    Kseg1,
    /// `0xc000_0000..0xe000_0000`: ksseg, sseg.
    Ksseg,
    /// `0xe000_0000..`: kseg3.
    Kseg3,
}

/// What the segment rules make of an address in a regime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentAccess {
    /// The segment is not accessible in this mode: an address error.
    Denied,
    /// Translated through the TLB.
    Mapped,
    /// Unmapped: this physical address.
    Unmapped(u32),
}

impl Segment {
    /// The segment `va` lies in.
    #[inline]
    pub const fn of(va: u32) -> Segment {
        match va >> 29 {
            0..=3 => Segment::Useg,
            4 => Segment::Kseg0,
            5 => Segment::Kseg1,
            6 => Segment::Ksseg,
            _ => Segment::Kseg3,
        }
    }

    /// The segment's first address.
    #[inline]
    pub const fn base(self) -> u32 {
        match self {
            Segment::Useg => 0,
            Segment::Kseg0 => 0x8000_0000,
            Segment::Kseg1 => 0xa000_0000,
            Segment::Ksseg => 0xc000_0000,
            Segment::Kseg3 => 0xe000_0000,
        }
    }

    /// Whether code running in `regime` may reference the segment: kernel
    /// mode all of them, supervisor mode useg and sseg, user mode useg.
    #[inline]
    pub const fn accessible(self, regime: Regime) -> bool {
        match regime {
            Regime::Kernel | Regime::KernelErl => true,
            Regime::Supervisor => matches!(self, Segment::Useg | Segment::Ksseg),
            Regime::User => matches!(self, Segment::Useg),
        }
    }

    /// Whether references to the segment in `regime` (where it is
    /// accessible) go through the TLB: all but kseg0 and kseg1, and useg
    /// only while ERL is clear.
    #[inline]
    pub const fn mapped(self, regime: Regime) -> bool {
        match self {
            Segment::Useg => !matches!(regime, Regime::KernelErl),
            Segment::Kseg0 | Segment::Kseg1 => false,
            Segment::Ksseg | Segment::Kseg3 => true,
        }
    }

    /// The physical address of `va` if it lies in this segment and the
    /// segment is kseg0 or kseg1 (unmapped: `va` less the segment's base).
    #[inline]
    pub const fn unmapped_phys(self, va: u32) -> Option<u32> {
        match (self, Segment::of(va)) {
            (Segment::Kseg0, Segment::Kseg0) | (Segment::Kseg1, Segment::Kseg1) => {
                Some(va - self.base())
            }
            _ => None,
        }
    }

    /// The segment rules: what a reference to `va` in `regime` is.
    #[inline]
    pub const fn access(va: u32, regime: Regime) -> SegmentAccess {
        let segment = Segment::of(va);
        if !segment.accessible(regime) {
            SegmentAccess::Denied
        } else if segment.mapped(regime) {
            SegmentAccess::Mapped
        } else {
            // kseg0, kseg1, or useg under ERL (identity).
            SegmentAccess::Unmapped(va - segment.base())
        }
    }
}

/// A granted translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Translation {
    /// The physical address.
    pub pa: u32,
    /// Whether it holds under every ASID (unmapped segment, global entry).
    pub any_asid: bool,
}

impl Machine {
    /// Translates `va` for `access` under the current mode and ASID.
    #[inline]
    pub(crate) fn translate(&self, va: GuestVirtAddr, access: Access) -> Result<u32, Fault> {
        self.translate_full(va, access).map(|t| t.pa)
    }

    /// Translates `va` for `access`, saying whether the result is
    /// ASID-independent.
    pub(crate) fn translate_full(
        &self,
        va: GuestVirtAddr,
        access: Access,
    ) -> Result<Translation, Fault> {
        match Segment::access(va.raw(), self.regime) {
            SegmentAccess::Unmapped(pa) => Ok(Translation { pa, any_asid: true }),
            SegmentAccess::Mapped => self.tlb_translate(va, access),
            // The virtualization assist: supervisor-mode references to
            // kseg0, kseg1 and kseg3 go through the TLB.
            SegmentAccess::Denied if self.guest_regime && self.regime == Regime::Supervisor => {
                self.tlb_translate(va, access)
            }
            SegmentAccess::Denied => Err(Fault::Address),
        }
    }

    /// Translates `va`, or raises the fault's exception and returns `None`.
    fn translate_or_raise(&mut self, va: GuestVirtAddr, access: Access) -> Option<u32> {
        self.translate_full_or_raise(va, access).map(|t| t.pa)
    }

    /// [`Machine::translate_full`], or raises the fault's exception.
    fn translate_full_or_raise(
        &mut self,
        va: GuestVirtAddr,
        access: Access,
    ) -> Option<Translation> {
        match self.translate_full(va, access) {
            Ok(t) => Some(t),
            Err(f) => {
                self.raise_fault(f, va, access);
                None
            }
        }
    }

    fn tlb_translate(&self, va: GuestVirtAddr, access: Access) -> Result<Translation, Fault> {
        let hit = self
            .tlb
            .lookup(va, self.cp0.asid())
            .ok_or(Fault::TlbRefill)?;
        Fault::check_hit(hit.lo, access)?;
        Ok(Translation {
            pa: hit.paddr,
            any_asid: hit.global,
        })
    }

    /// Loads `size` (1, 2 or 4) bytes at `va`, aligned; raises the right
    /// exception and returns `None` on failure.
    #[inline(always)]
    pub(crate) fn load(&mut self, va: GuestVirtAddr, size: u32) -> Option<u32> {
        if !va.is_aligned(size) {
            self.raise_fault(Fault::Address, va, Access::Load);
            return None;
        }
        match self.xlat.read(va) {
            Some(off) => Some(match size {
                4 => self.bus.mem_u32(off),
                2 => u32::from(self.bus.mem_u16(off)),
                _ => u32::from(self.bus.mem_u8(off)),
            }),
            None => self.load_slow(va, Width::Bytes(size)),
        }
    }

    /// Loads the aligned word at `va` for LWL/LWR, which use its byte
    /// lanes `lanes`: memory gives the word (the same fast path as a word
    /// load), a device the board's answer for a partial-word access.
    #[inline(always)]
    pub(crate) fn load_lanes(&mut self, va: GuestVirtAddr, lanes: u32) -> Option<u32> {
        match self.xlat.read(va) {
            Some(off) => Some(self.bus.mem_u32(off)),
            None => self.load_slow(va, Width::Lanes(lanes)),
        }
    }

    #[inline(never)]
    fn load_slow(&mut self, va: GuestVirtAddr, width: Width) -> Option<u32> {
        let t = self.translate_full_or_raise(va, Access::Load)?;
        let pa = t.pa;
        match self.bus.target(MachineAddr::new(pa)) {
            Target::Mem { offset, .. } => {
                if self.bus.page_is_plain_memory(MachineAddr::new(pa)) {
                    self.xlat.fill_read(va, offset & !0xfff, t.any_asid);
                }
                Some(match width {
                    Width::Bytes(4) | Width::Lanes(_) | Width::LanesDown(_) => {
                        self.bus.mem_u32(offset)
                    }
                    Width::Bytes(2) => u32::from(self.bus.mem_u16(offset)),
                    Width::Bytes(_) => u32::from(self.bus.mem_u8(offset)),
                })
            }
            Target::Device => self.device_read(MachineAddr::new(pa), width),
            Target::None => {
                self.raise(ExcCode::Dbe);
                None
            }
        }
    }

    /// Stores the low `size` (1, 2 or 4) bytes of `v` at `va`, aligned;
    /// raises the right exception and returns `false` on failure.
    #[inline(always)]
    pub(crate) fn store(&mut self, va: GuestVirtAddr, v: u32, size: u32) -> bool {
        if !va.is_aligned(size) {
            self.raise_fault(Fault::Address, va, Access::Store);
            return false;
        }
        match self.xlat.write(va) {
            Some((off, slot)) => {
                self.write_mem(off, v, size);
                if slot != NO_SLOT {
                    self.code.invalidate(slot, off);
                }
                true
            }
            None => self.store_slow(va, v, size),
        }
    }

    #[inline(always)]
    fn write_mem(&mut self, off: u32, v: u32, size: u32) {
        match size {
            4 => self.bus.set_mem_u32(off, v),
            2 => self.bus.set_mem_u16(off, v as u16),
            _ => self.bus.set_mem_u8(off, v as u8),
        }
    }

    #[inline(never)]
    fn store_slow(&mut self, va: GuestVirtAddr, v: u32, size: u32) -> bool {
        let Some(t) = self.translate_full_or_raise(va, Access::Store) else {
            return false;
        };
        let pa = t.pa;
        match self.bus.target(MachineAddr::new(pa)) {
            Target::Mem {
                offset,
                writable: true,
            } => {
                self.write_mem(offset, v, size);
                let slot = self.code.slot(offset);
                if slot != NO_SLOT {
                    self.code.invalidate(slot, offset);
                }
                if self.bus.page_is_plain_memory(MachineAddr::new(pa)) {
                    self.xlat.fill_write(va, offset & !0xfff, slot, t.any_asid);
                }
                true
            }
            // Stores to the boot ROM are ignored.
            Target::Mem {
                writable: false, ..
            } => true,
            Target::Device => self.device_write(MachineAddr::new(pa), Width::Bytes(size), v),
            Target::None => {
                self.raise(ExcCode::Dbe);
                false
            }
        }
    }

    /// Stores the bits of `v` selected by `mask` (whole bytes) into the
    /// aligned word at `va` (the SWL/SWR read-modify-write), with store
    /// permissions; a device gets the board's partial-word access.
    pub(crate) fn store_masked(&mut self, va: GuestVirtAddr, v: u32, width: Width) -> bool {
        let mask = width.lanes();
        let (off, slot) = match self.xlat.write(va) {
            Some(hit) => hit,
            None => {
                let Some(pa) = self.translate_or_raise(va, Access::Store) else {
                    return false;
                };
                match self.bus.target(MachineAddr::new(pa)) {
                    Target::Mem {
                        offset,
                        writable: true,
                    } => (offset, self.code.slot(offset)),
                    Target::Mem {
                        writable: false, ..
                    } => return true,
                    Target::Device => return self.device_write(MachineAddr::new(pa), width, v),
                    Target::None => {
                        self.raise(ExcCode::Dbe);
                        return false;
                    }
                }
            }
        };
        let old = self.bus.mem_u32(off);
        self.bus.set_mem_u32(off, (old & !mask) | (v & mask));
        if slot != NO_SLOT {
            self.code.invalidate(slot, off);
        }
        true
    }

    /// Whether an access of kind `access` at `va` would translate now,
    /// under the current mode and ASID, without raising anything (what a
    /// debugger asks before it says an instruction will load or store
    /// there). Alignment is the caller's to check.
    pub fn translates(&self, va: GuestVirtAddr, access: Access) -> bool {
        self.translate(va, access).is_ok()
    }

    /// Translates `va` for the host (semihosting, monitor) without raising
    /// anything: the physical address, if the current mode may read it.
    pub(crate) fn peek_translate(&self, va: GuestVirtAddr) -> Option<u32> {
        self.translate(va, Access::Load).ok()
    }

    /// Whether the `words` words from virtual `va` (as the CPU would
    /// fetch them now) are readable and all zero.
    pub(crate) fn zero_words(&self, va: GuestVirtAddr, words: u32) -> bool {
        page_chunks(va, u64::from(words) * 4).all(|chunk| {
            chunk.is_some_and(|(a, n)| {
                self.peek_translate(a).is_some_and(|pa| {
                    self.bus
                        .read_phys(crate::addr::MachineAddr::new(pa), n)
                        .is_some_and(|b| b.iter().all(|&x| x == 0))
                })
            })
        })
    }

    /// Reads `len` bytes of virtual memory for the host without raising
    /// exceptions; `None` if any page does not translate to memory.
    pub fn read_virtual(&self, va: GuestVirtAddr, len: u32) -> Option<Vec<u8>> {
        // Grows as pages translate: `len` comes from the guest and is not
        // trusted to size an allocation up front.
        let mut out = Vec::new();
        let mut a = va;
        let mut left = len;
        while left > 0 {
            let chunk = left.min(0x1000 - (a.raw() & 0xfff));
            let pa = self.peek_translate(a)?;
            out.extend(
                self.bus
                    .read_phys(crate::addr::MachineAddr::new(pa), chunk)?,
            );
            a = a.checked_add(chunk)?;
            left -= chunk;
        }
        Some(out)
    }

    /// Writes `bytes` to virtual memory for the host (a debugger) without
    /// raising exceptions, as the current mode would store them; the first
    /// address that does not translate to memory, if one does not (the
    /// bytes before it are written).
    pub fn write_virtual(&mut self, va: GuestVirtAddr, bytes: &[u8]) -> Result<(), GuestVirtAddr> {
        let mut a = va;
        let mut rest = bytes;
        while !rest.is_empty() {
            let chunk = rest.len().min((0x1000 - (a.raw() & 0xfff)) as usize);
            let pa = self.peek_translate(a).ok_or(a)?;
            self.write_phys(crate::addr::MachineAddr::new(pa), &rest[..chunk])
                .map_err(|_| a)?;
            rest = &rest[chunk..];
            if !rest.is_empty() {
                a = a.checked_add(chunk as u32).ok_or(a)?;
            }
        }
        Ok(())
    }
}

/// The pieces of the `len` bytes from `va` that lie in one page each, as
/// `(address, bytes)`; a `None` where the range runs past the end of the
/// address space (and nothing after it).
pub fn page_chunks(
    va: GuestVirtAddr,
    len: u64,
) -> impl Iterator<Item = Option<(GuestVirtAddr, u32)>> {
    let mut at = Some(va);
    let mut left = len;
    core::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let Some(a) = at else {
            left = 0;
            return Some(None);
        };
        let n = left.min(u64::from(0x1000 - (a.raw() & 0xfff))) as u32;
        left -= u64::from(n);
        at = a.checked_add(n);
        Some(Some((a, n)))
    })
}
