//! Finding out whether a monitor is there: [`MonitorInfo`], and the duty of
//! the kernel's Reserved Instruction handler, [`ri_fixup`].
//!
//! # The detection protocol
//!
//! [`detect()`](crate::detect()) executes `Discover`. Under the monitor the call
//! returns the version and feature bits. On bare hardware (or under a
//! monitor that hides itself) `HYPCALL` is not an instruction: in kernel
//! mode it raises a Reserved Instruction exception (ExcCode 10); in
//! supervisor mode without `Status.CU0` it raises Coprocessor Unusable
//! (ExcCode 11, `Cause.CE` = 0). The kernel's handler for that exception
//! must, before treating it as a fault:
//!
//! 1. Fetch the faulting instruction: the word at `EPC`, or at `EPC + 4`
//!    when `Cause.BD` is set.
//! 2. Call [`ri_fixup`] with that word, `Cause.BD`, the saved registers and
//!    the saved `EPC`.
//! 3. On [`RiFixup::Emulated`], return from the exception (`ERET`) with the
//!    updated registers and `EPC`: `v0` now holds
//!    [`HvError::NoMonitor`]'s code, `v1` holds 0, and `EPC` points past the
//!    `HYPCALL`, so the call returns `Err(NoMonitor)` and
//!    [`detect()`](crate::detect()) returns `None`.
//! 4. Otherwise handle the exception as a genuine fault.
//!
//! A `HYPCALL` in a branch delay slot is not fixed up (resuming would need
//! the branch emulated): [`ri_fixup`] reports [`RiFixup::InDelaySlot`].
//! This crate never puts one there: the instruction is the first of its
//! inline-assembly block, which the compiler does not move into a delay
//! slot.

use hv_abi::regs::{REG_V0, REG_V1};
use hv_abi::{AbiVersion, Features, HvError, Hypercall, is_hypcall};

/// `Cause.BD`: the exception was taken on an instruction in a branch delay
/// slot, and `EPC` points at the branch.
pub const CAUSE_BD: u32 = 1 << 31;

/// The ExcCode of a Reserved Instruction exception.
pub const EXC_RI: u32 = 10;

/// The ExcCode of a Coprocessor Unusable exception.
pub const EXC_CPU: u32 = 11;

/// What `Discover` reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MonitorInfo {
    /// The monitor's interface version (same major as this crate's).
    pub version: AbiVersion,
    /// The optional hypercalls it offers.
    pub features: Features,
}

impl MonitorInfo {
    /// Tells whether the monitor offers `call`.
    #[must_use]
    pub const fn offers(&self, call: Hypercall) -> bool {
        call.is_offered(self.features)
    }
}

/// What [`ri_fixup`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RiFixup {
    /// The instruction was `HYPCALL`: `v0` = [`HvError::NoMonitor`]'s code,
    /// `v1` = 0, `EPC` advanced by 4. Return from the exception.
    Emulated,
    /// Not a `HYPCALL`: a genuine Reserved Instruction fault. Nothing
    /// changed.
    NotHypcall,
    /// A `HYPCALL` in a branch delay slot, which is not fixed up. Nothing
    /// changed; treat it as a fault.
    InDelaySlot,
}

/// The Reserved Instruction handler's duty for `HYPCALL` (see the module
/// docs): makes a trapped hypercall return [`HvError::NoMonitor`].
///
/// `insn` is the faulting instruction word (at `EPC`, or at `EPC + 4` if
/// `branch_delay`), `branch_delay` is `Cause.BD`, `regs` are the saved
/// general-purpose registers indexed by number, and `epc` the saved `EPC`.
pub fn ri_fixup(insn: u32, branch_delay: bool, regs: &mut [u32; 32], epc: &mut u32) -> RiFixup {
    if !is_hypcall(insn) {
        return RiFixup::NotHypcall;
    }
    if branch_delay {
        return RiFixup::InDelaySlot;
    }
    regs[REG_V0] = HvError::NoMonitor.code();
    regs[REG_V1] = 0;
    *epc = epc.wrapping_add(4);
    RiFixup::Emulated
}

#[cfg(test)]
mod tests {
    use super::*;
    use hv_abi::HYPCALL;

    fn frame() -> [u32; 32] {
        core::array::from_fn(|i| 0x1000 + i as u32)
    }

    #[test]
    fn hypcall_becomes_no_monitor_and_skips_the_instruction() {
        let mut regs = frame();
        let mut epc = 0x8000_1230;
        assert_eq!(
            ri_fixup(HYPCALL, false, &mut regs, &mut epc),
            RiFixup::Emulated
        );
        assert_eq!(epc, 0x8000_1234);
        assert_eq!(HvError::from_status(regs[REG_V0]), Some(HvError::NoMonitor));
        assert_eq!(regs[REG_V1], 0);
        for (i, r) in regs
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != REG_V0 && *i != REG_V1)
        {
            assert_eq!(*r, 0x1000 + i as u32, "${i} preserved");
        }
    }

    #[test]
    fn other_instructions_and_delay_slots_are_left_alone() {
        for (insn, bd, want) in [
            (0x7000_003F, false, RiFixup::NotHypcall), // SDBBP
            (0x4200_0018, false, RiFixup::NotHypcall), // ERET
            (HYPCALL, true, RiFixup::InDelaySlot),
        ] {
            let mut regs = frame();
            let mut epc = 0x8000_1230;
            assert_eq!(ri_fixup(insn, bd, &mut regs, &mut epc), want);
            assert_eq!(regs, frame());
            assert_eq!(epc, 0x8000_1230);
        }
    }

    #[test]
    fn monitor_info_offers_per_feature() {
        let info = MonitorInfo {
            version: hv_abi::ABI_VERSION,
            features: Features::CONSOLE,
        };
        assert!(info.offers(Hypercall::Discover));
        assert!(info.offers(Hypercall::ConsoleWrite));
        assert!(!info.offers(Hypercall::Shutdown));
    }
}
