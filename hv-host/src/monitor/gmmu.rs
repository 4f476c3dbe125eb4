//! The guest's MMU, as the VM itself would see it: [`guest_translate`]
//! answers what the VM's own MMU would do with a virtual address in its
//! current virtual mode: an unmapped segment (kseg0, kseg1, useg under
//! ERL) gives a guest-physical address directly; a mapped one goes through
//! the VM's TLB and may miss, be invalid or be clean. The segment rules and
//! the TLB-hit permission rule are the machine's own
//! ([`crate::machine::mmu::Segment`], [`Fault::check_hit`]).

use super::rtlb::Origin;
use super::vm::Vm;
use super::vtlb::VtlbLookup;
use crate::addr::{GuestPhysAddr, GuestVirtAddr};
use crate::machine::Machine;
use crate::machine::exception::{Access, Fault};
use crate::machine::insn::Instruction;
use crate::machine::mmu::{Regime, Segment, SegmentAccess};
use crate::machine::tlb::lo;

/// Where a guest virtual address goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GuestMapping {
    /// The guest-physical address.
    pub gpa: GuestPhysAddr,
    /// Where the translation comes from.
    pub origin: Origin,
    /// Whether stores are allowed (EntryLo.D; always for unmapped).
    pub dirty: bool,
    /// Whether the translation holds under every ASID.
    pub global: bool,
}

/// What the guest's MMU does with `va` for `access`, in `vm`'s current
/// virtual mode: the machine's segment rules ([`Segment::access`]), then the
/// VM's TLB. A refusal is the fault the guest's MMU raises.
pub fn guest_translate(vm: &Vm, va: GuestVirtAddr, access: Access) -> Result<GuestMapping, Fault> {
    match Segment::access(va.raw(), Regime::of(vm.cp0.regs.status)) {
        SegmentAccess::Unmapped(gpa) => Ok(GuestMapping {
            gpa: GuestPhysAddr::new(gpa),
            origin: if Segment::of(va.raw()) == Segment::Useg {
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

fn mapped(vm: &Vm, va: GuestVirtAddr, access: Access) -> Result<GuestMapping, Fault> {
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

/// Whether the `words` words from `va`, as `vm` would fetch them now, are
/// readable and all zero (for diagnostics): RAM the guest never touched
/// reads as zero, the boot ROM as the board's image.
pub fn guest_zero(
    vm: &Vm,
    machine: &Machine,
    pool: &super::memory::FramePool,
    va: GuestVirtAddr,
    words: u32,
) -> bool {
    use crate::machine::board::PageKind;
    crate::machine::mmu::page_chunks(va, u64::from(words) * 4).all(|chunk| {
        let Some((a, n)) = chunk else {
            return false;
        };
        let Ok(g) = guest_translate(vm, a, Access::Fetch) else {
            return false;
        };
        let ma = match vm.board.page_kind(g.gpa) {
            PageKind::Ram => vm.mem.peek(g.gpa),
            PageKind::Rom => Some(
                pool.rom_frame(g.gpa, vm.board.kind())
                    .wrapping_add(g.gpa.raw() & 0xfff),
            ),
            _ => return false,
        };
        // RAM the guest never touched reads as zeros.
        ma.is_none_or(|ma| {
            machine
                .read_phys(ma, n)
                .is_some_and(|b| b.iter().all(|&x| x == 0))
        })
    })
}

/// The instruction word at `va` as `vm` sees it now (for diagnostics;
/// allocates nothing).
pub fn guest_word(vm: &Vm, machine: &Machine, va: GuestVirtAddr) -> Option<Instruction> {
    let g = guest_translate(vm, va, Access::Fetch).ok()?;
    let ma = vm.mem.peek(g.gpa)?;
    machine.read_machine_u32(ma).ok().map(Instruction)
}
