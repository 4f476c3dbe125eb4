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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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

    /// The name spelled out, for messages.
    pub fn long_name(self) -> &'static str {
        match self {
            ExcCode::Int => "Interrupt",
            ExcCode::Mod => "TLB Modified",
            ExcCode::Tlbl => "TLB load/fetch",
            ExcCode::Tlbs => "TLB store",
            ExcCode::AdEL => "Address Error (load/fetch)",
            ExcCode::AdES => "Address Error (store)",
            ExcCode::Ibe => "Bus Error (fetch)",
            ExcCode::Dbe => "Bus Error (data)",
            ExcCode::Sys => "System Call",
            ExcCode::Bp => "Breakpoint",
            ExcCode::Ri => "Reserved Instruction",
            ExcCode::CpU => "Coprocessor Unusable",
            ExcCode::Ov => "Overflow",
            ExcCode::Tr => "Trap",
        }
    }

    /// Whether it is a TLB exception (TLBL, TLBS, Mod): entry then sets
    /// Context.BadVPN2 and EntryHi.VPN2 besides BadVAddr.
    #[inline]
    pub fn is_tlb(self) -> bool {
        matches!(self, ExcCode::Tlbl | ExcCode::Tlbs | ExcCode::Mod)
    }
}

/// A guest whose exception vector holds no handler: `code` raised at `pc`
/// entered `vector`, which holds only zero words (executed as `nop`s) up
/// to a fault, or faults at once. Such a guest loops through its vectors
/// forever without running anything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NoHandler {
    /// The vector entered.
    pub vector: GuestVirtAddr,
    /// The exception that entered it.
    pub code: ExcCode,
    /// Where that exception was raised.
    pub pc: GuestVirtAddr,
}

impl core::fmt::Display for NoHandler {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "no exception handler at {}: the guest raised {} ({}) at PC {}",
            self.vector,
            self.code.long_name(),
            self.code.name(),
            self.pc
        )
    }
}

/// Watches the exceptions a guest takes for a vector with no handler
/// behind it ([`NoHandler`]), natively (the machine) and under the
/// monitor (a VM's virtual CP0): the same rule for both.
///
/// The rule: an exception entered vector `V` after `n` instructions, and
/// the next exception is raised at `V + 4k` as the `k + 1`th instruction
/// after it, the `k` words from `V` are zero, and that exception is one
/// a missing handler ends in (a fetch fault at the PC, Reserved
/// Instruction, Coprocessor Unusable). So the handler was a straight slide
/// through zeroed memory into a fault, or faulted on its first word. A
/// handler that does anything (a branch, a non-zero word) is never
/// taken for missing.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct HandlerWatch {
    last: Option<Entered>,
}

#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
struct Entered {
    vector: u32,
    count: u64,
    code: ExcCode,
    pc: GuestVirtAddr,
}

impl HandlerWatch {
    /// The longest slide of zero words looked at (256 MiB of them).
    pub const MAX_SLIDE: u32 = 1 << 26;

    /// Exception `e` is about to be entered, with `count` instructions
    /// executed so far (the raising one included, unless `e` is an
    /// interrupt). `zero(va, words)` says whether the `words` words from
    /// `va` are readable and all zero. Returns the diagnosis if the
    /// previous vector holds no handler.
    pub fn raised(
        &self,
        e: &Exception,
        count: u64,
        zero: impl FnOnce(GuestVirtAddr, u32) -> bool,
    ) -> Option<NoHandler> {
        let last = self.last?;
        let fetch_fault = e.code == ExcCode::Ibe
            || (e.bad_vaddr == Some(e.pc) && matches!(e.code, ExcCode::AdEL | ExcCode::Tlbl));
        if !(fetch_fault || matches!(e.code, ExcCode::Ri | ExcCode::CpU)) {
            return None;
        }
        let k = count.checked_sub(last.count)?.checked_sub(1)?;
        let k = u32::try_from(k).ok().filter(|&k| k <= Self::MAX_SLIDE)?;
        if e.pc.raw() != last.vector.wrapping_add(k.wrapping_mul(4)) {
            return None;
        }
        (k == 0 || zero(GuestVirtAddr::new(last.vector), k)).then_some(NoHandler {
            vector: GuestVirtAddr::new(last.vector),
            code: last.code,
            pc: last.pc,
        })
    }

    /// Exception `e` entered `vector` after `count` instructions.
    pub fn entered(&mut self, e: &Exception, vector: GuestVirtAddr, count: u64) {
        self.last = Some(Entered {
            vector: vector.raw(),
            count,
            code: e.code,
            pc: e.pc,
        });
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
        if let Some(missing) = self
            .handlers
            .raised(&e, self.icount, |va, words| self.zero_words(va, words))
        {
            self.request_exit(super::Exit::NoHandler(missing));
        }
        let vector = self.cp0.enter_exception(&e);
        self.handlers.entered(&e, vector, self.icount);
        self.pc = vector.raw();
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
