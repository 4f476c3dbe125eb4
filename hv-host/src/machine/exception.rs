//! Exception codes, the kinds of address translation fault, and exception
//! entry: where the CPU goes and which CP0 registers it sets, exactly as
//! MIPS32 Release 2 Volume III specifies (EPC and Cause.BD for delay slots,
//! EXL nesting, BEV/EBase vectors, the refill vector only when EXL=0,
//! Cause.IV for interrupts).
//!
//! Entry is [`Cp0::enter_exception`], the one definition of what an
//! exception does to CP0, used by the machine when it raises one and by a
//! monitor when it reflects one to a guest's virtual CP0. Which exception a
//! translation fault raises is [`Fault::exc_code`].
//!
//! Entry can instead be routed to the host (see [`super::RouteMask`]): the
//! exception then leaves the CPU untouched, pointing at the instruction that
//! raised it, and the run loop returns [`super::Exit::Trap`].

use super::Machine;
use super::cp0::{ASID_MASK, CONTEXT_PTEBASE, Cp0, cause, status};
use super::insn::Instruction;
use super::tlb::lo;
use crate::addr::GuestVirtAddr;

/// Cause.ExcCode values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ExcCode {
    /// Interrupt.
    Int = 0,
    /// TLB modification: store to a clean page.
    Mod = 1,
    /// TLB miss or invalid entry on a load or fetch.
    Tlbl = 2,
    /// TLB miss or invalid entry on a store.
    Tlbs = 3,
    /// Address error on a load or fetch.
    AdEL = 4,
    /// Address error on a store.
    AdES = 5,
    /// Bus error on a fetch.
    Ibe = 6,
    /// Bus error on a load or store.
    Dbe = 7,
    /// System call.
    Sys = 8,
    /// Breakpoint.
    Bp = 9,
    /// Reserved instruction.
    Ri = 10,
    /// Coprocessor unusable.
    CpU = 11,
    /// Arithmetic overflow.
    Ov = 12,
    /// Trap.
    Tr = 13,
}

impl ExcCode {
    /// The short name used in the manual and in traces.
    pub fn name(self) -> &'static str {
        match self {
            ExcCode::Int => "Int",
            ExcCode::Mod => "Mod",
            ExcCode::Tlbl => "TLBL",
            ExcCode::Tlbs => "TLBS",
            ExcCode::AdEL => "AdEL",
            ExcCode::AdES => "AdES",
            ExcCode::Ibe => "IBE",
            ExcCode::Dbe => "DBE",
            ExcCode::Sys => "Sys",
            ExcCode::Bp => "Bp",
            ExcCode::Ri => "RI",
            ExcCode::CpU => "CpU",
            ExcCode::Ov => "Ov",
            ExcCode::Tr => "Tr",
        }
    }

    /// Whether it is a TLB exception (TLBL, TLBS, Mod): entry then sets
    /// Context.BadVPN2 and EntryHi.VPN2 besides BadVAddr.
    #[inline]
    pub fn is_tlb(self) -> bool {
        matches!(self, ExcCode::Tlbl | ExcCode::Tlbs | ExcCode::Mod)
    }
}

/// What kind of access a translation is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Instruction fetch.
    Fetch,
    /// Data load.
    Load,
    /// Data store.
    Store,
}

/// Why a virtual address did not translate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The segment is not accessible in the current mode, or misaligned.
    Address,
    /// No TLB entry matches (refill vector when EXL=0).
    TlbRefill,
    /// The matching entry's page is not valid.
    TlbInvalid,
    /// A store to a page whose D bit is clear.
    TlbModified,
}

impl Fault {
    /// The exception this fault raises on `access`: AdEL/AdES, TLBL/TLBS
    /// (refill or invalid), Mod.
    #[inline]
    pub fn exc_code(self, access: Access) -> ExcCode {
        let store = access == Access::Store;
        match self {
            Fault::Address if store => ExcCode::AdES,
            Fault::Address => ExcCode::AdEL,
            Fault::TlbModified => ExcCode::Mod,
            Fault::TlbRefill | Fault::TlbInvalid if store => ExcCode::Tlbs,
            Fault::TlbRefill | Fault::TlbInvalid => ExcCode::Tlbl,
        }
    }

    /// Whether a TLB hit whose page has EntryLo value `entry_lo` allows
    /// `access`: not if the page is invalid (V clear), nor a store to a
    /// clean page (D clear).
    #[inline]
    pub fn check_hit(entry_lo: u32, access: Access) -> Result<(), Fault> {
        if entry_lo & lo::V == 0 {
            Err(Fault::TlbInvalid)
        } else if access == Access::Store && entry_lo & lo::D == 0 {
            Err(Fault::TlbModified)
        } else {
            Ok(())
        }
    }
}

/// An exception to take: what exception entry needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exception {
    /// The exception.
    pub code: ExcCode,
    /// Whether it is a TLB refill (no matching entry): the refill vector
    /// when EXL is clear.
    pub refill: bool,
    /// Address of the instruction that raised it (for an interrupt, of the
    /// next instruction to execute).
    pub pc: GuestVirtAddr,
    /// Whether that instruction is in a branch delay slot.
    pub in_delay_slot: bool,
    /// The faulting virtual address, for BadVAddr (address and TLB
    /// exceptions; TLB exceptions set Context and EntryHi from it too).
    pub bad_vaddr: Option<GuestVirtAddr>,
    /// Cause.CE: the coprocessor of a Coprocessor Unusable exception.
    pub ce: u8,
}

/// Details of an exception routed to the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trap {
    /// The exception.
    pub code: ExcCode,
    /// For TLB exceptions: whether it was a refill (no matching entry).
    pub refill: bool,
    /// Address of the instruction that raised it (or, for an interrupt, of
    /// the next instruction to execute).
    pub pc: GuestVirtAddr,
    /// Whether that instruction is in a branch delay slot.
    pub in_delay_slot: bool,
    /// The faulting virtual address of address and TLB exceptions.
    pub bad_vaddr: Option<GuestVirtAddr>,
    /// The coprocessor number of a Coprocessor Unusable exception.
    pub coprocessor: u8,
    /// The instruction word at `pc`, when it was fetched (`None` for a
    /// fault on the fetch itself, and for interrupts).
    pub insn: Option<Instruction>,
}

impl Trap {
    /// The exception as raised, to take it elsewhere (a monitor reflects
    /// it to the guest's virtual CP0 with [`Cp0::enter_exception`]).
    pub fn exception(&self) -> Exception {
        Exception {
            code: self.code,
            refill: self.refill,
            pc: self.pc,
            in_delay_slot: self.in_delay_slot,
            bad_vaddr: self.bad_vaddr,
            ce: self.coprocessor,
        }
    }
}

/// The address exception `code` vectors to, given Status (before the
/// exception set EXL), Cause (for IV), EBase, and whether it is a TLB
/// refill: the refill vector (+0x000) only with EXL clear, the special
/// interrupt vector (+0x200) with Cause.IV, +0x180 otherwise; from the
/// boot vectors at 0xbfc0_0200 while Status.BEV is set.
pub fn vector(status: u32, cause: u32, ebase: u32, code: ExcCode, refill: bool) -> GuestVirtAddr {
    let offset = if refill && status & status::EXL == 0 {
        0
    } else if code == ExcCode::Int && cause & cause::IV != 0 {
        0x200
    } else {
        0x180
    };
    let base = if status & status::BEV != 0 {
        0xbfc0_0200
    } else {
        ebase & 0xffff_f000
    };
    GuestVirtAddr::new(base.wrapping_add(offset))
}

impl Cp0 {
    /// Exception entry, as MIPS32 R2 Volume III specifies it: unless
    /// Status.EXL was set already, EPC takes the raising instruction's
    /// address (the branch's for a delay slot) and Cause.BD says which;
    /// Cause.ExcCode and Cause.CE take the exception's; BadVAddr takes the
    /// faulting address, and for TLB exceptions Context.BadVPN2 and
    /// EntryHi.VPN2 take it too; Status.EXL is set. Returns the vector to
    /// continue at ([`vector`], from Status as it was before entry).
    #[inline]
    pub fn enter_exception(&mut self, e: &Exception) -> GuestVirtAddr {
        let st = self.status;
        if st & status::EXL == 0 {
            if e.in_delay_slot {
                self.epc = e.pc.raw().wrapping_sub(4);
                self.cause |= cause::BD;
            } else {
                self.epc = e.pc.raw();
                self.cause &= !cause::BD;
            }
        }
        self.cause = (self.cause & !(cause::EXC_CODE | (3 << cause::CE_SHIFT)))
            | ((e.code as u32) << 2)
            | (u32::from(e.ce & 3) << cause::CE_SHIFT);
        if let Some(va) = e.bad_vaddr {
            let va = va.raw();
            self.bad_vaddr = va;
            if e.code.is_tlb() {
                self.context = (self.context & CONTEXT_PTEBASE) | ((va >> 9) & 0x007f_fff0);
                self.entry_hi = (va & 0xffff_e000) | (self.entry_hi & ASID_MASK);
            }
        }
        self.status = st | status::EXL;
        vector(st, self.cause, self.ebase, e.code, e.refill)
    }

    /// The CP0 side of ERET: clears Status.ERL and returns to ErrorEPC if
    /// ERL was set, else clears Status.EXL and returns to EPC. Returns
    /// where execution continues and whether ERL was the one cleared (the
    /// caller also clears LLbit and applies the mode change).
    #[inline]
    pub fn return_from_exception(&mut self) -> (GuestVirtAddr, bool) {
        let st = self.status;
        if st & status::ERL != 0 {
            self.status = st & !status::ERL;
            (GuestVirtAddr::new(self.error_epc), true)
        } else {
            self.status = st & !status::EXL;
            (GuestVirtAddr::new(self.epc), false)
        }
    }
}

impl Machine {
    /// Raises exception `code` for the instruction at `cur_pc` (see the
    /// module doc), `refill` selecting the TLB refill vector.
    #[cold]
    pub(crate) fn raise_with(
        &mut self,
        code: ExcCode,
        refill: bool,
        bad_vaddr: Option<GuestVirtAddr>,
        ce: u8,
    ) {
        let e = Exception {
            code,
            refill,
            pc: GuestVirtAddr::new(self.cur_pc),
            in_delay_slot: self.cur_delay,
            bad_vaddr,
            ce,
        };
        if self.route.0 & (1 << code as u32) != 0 {
            // Leave the CPU at the raising instruction; the host decides.
            // The instruction did not complete, so it is not counted: the
            // host either emulates it (and charges for that) or retries it.
            // Interrupts are taken before an instruction issues and were
            // never counted. CP0 is left untouched (the host gets the
            // address in the trap).
            if code != ExcCode::Int {
                self.icount -= 1;
            }
            self.next_pc = self.pc;
            self.pc = self.cur_pc;
            self.delay_slot = self.cur_delay;
            let insn = (code != ExcCode::Int)
                .then(|| self.current_word())
                .flatten();
            self.request_exit(super::Exit::Trap(Trap {
                code,
                refill,
                pc: e.pc,
                in_delay_slot: e.in_delay_slot,
                bad_vaddr: e.bad_vaddr,
                coprocessor: ce,
                insn,
            }));
            return;
        }
        self.stats.exceptions[code as usize] += 1;
        self.pc = self.cp0.enter_exception(&e).raw();
        self.next_pc = self.pc.wrapping_add(4);
        self.delay_slot = false;
        self.mode_changed();
    }

    /// Steps the PC pair past the instruction at `cur_pc` without running
    /// it, as the execution loop does when it issues one. Exceptions raised
    /// before issue (fetch faults, interrupts) call this first, so that a
    /// routed exception, which rewinds to `cur_pc` keeping the following
    /// address, resumes with the right `next_pc` (the branch target for a
    /// delay slot).
    #[cold]
    pub(crate) fn step_past_current(&mut self) {
        self.pc = self.next_pc;
        self.next_pc = self.next_pc.wrapping_add(4);
        self.delay_slot = false;
    }

    /// Raises an exception that carries no address.
    #[inline]
    pub(crate) fn raise(&mut self, code: ExcCode) {
        self.raise_with(code, false, None, 0);
    }

    /// Raises the exception for a translation fault on `vaddr`, setting
    /// BadVAddr, and for TLB faults Context.BadVPN2 and EntryHi.VPN2.
    #[cold]
    pub(crate) fn raise_fault(&mut self, fault: Fault, vaddr: GuestVirtAddr, access: Access) {
        self.raise_with(
            fault.exc_code(access),
            fault == Fault::TlbRefill,
            Some(vaddr),
            0,
        );
    }
}
