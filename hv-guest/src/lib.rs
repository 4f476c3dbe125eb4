//! What a guest kernel links to detect the monitor and make hypercalls:
//! [`detect()`], and [`Hv`] with one safe wrapper per hypercall of `hv-abi`.
//!
//! On `target_arch = "mips"` the calls execute `HYPCALL`
//! (`hv_abi::HYPCALL`) through inline assembly, following the register
//! convention of `hv-abi` (number in `v0`, arguments in `a0`..`a3`, status
//! back in `v0`, value in `v1`; only `v0` and `v1` clobbered). On other
//! targets the same code builds, [`Native`] reports "no monitor", and tests
//! drive [`Hv`] through their own [`Transport`].
//!
//! A kernel that may also boot on bare hardware must install the
//! Reserved Instruction handler duty described in [`detect`](mod@detect)
//! (call [`ri_fixup`]), or `detect()` traps instead of returning `None`.
//!
//! # Example: a minimal kernel
//!
//! ```no_run
//! use core::fmt::Write;
//! use hv_guest::{Hv, RiFixup, ri_fixup};
//! use hv_abi::Hypercall;
//!
//! /// The registers and CP0 state the kernel's exception entry saved.
//! struct TrapFrame { regs: [u32; 32], epc: u32, cause: u32 }
//!
//! /// Entered from the boot code in kernel mode, interrupts off.
//! fn kernel_main() -> ! {
//!     let mut hv = Hv::native();
//!     match hv.detect() {
//!         Some(info) if info.offers(Hypercall::ConsoleWrite) => {
//!             let _ = writeln!(hv, "hello from a guest, ABI {}", info.version);
//!         }
//!         Some(_) => {} // a monitor without a console: use the UART
//!         None => {}    // bare hardware: use the UART, zero pages, TLBWI...
//!     }
//!     hv.shutdown(0)
//! }
//!
//! /// The kernel's Reserved Instruction exception handler.
//! fn on_reserved_instruction(frame: &mut TrapFrame, fetch: impl Fn(u32) -> u32) {
//!     let bd = frame.cause & hv_guest::CAUSE_BD != 0;
//!     let insn = fetch(if bd { frame.epc.wrapping_add(4) } else { frame.epc });
//!     match ri_fixup(insn, bd, &mut frame.regs, &mut frame.epc) {
//!         RiFixup::Emulated => {} // ERET: the hypercall returns Err(NoMonitor)
//!         RiFixup::NotHypcall | RiFixup::InDelaySlot => panic!("reserved instruction"),
//!     }
//! }
//! ```
#![no_std]
#![cfg_attr(target_arch = "mips", feature(asm_experimental_arch))]

#[cfg(test)]
extern crate std;

pub mod detect;
pub mod hv;
pub mod transport;

#[cfg(test)]
mod testing;

pub use detect::{CAUSE_BD, EXC_CPU, EXC_RI, MonitorInfo, RiFixup, ri_fixup};
pub use hv::{Hv, TlbBatchError};
pub use transport::{CallRegs, Native, ReturnRegs, Transport};

/// Detects the monitor through the hypercall instruction: `Hv::native()`'s
/// [`Hv::detect`].
///
/// Returns `None` on bare hardware (given the kernel's [`ri_fixup`] duty),
/// from user mode, or for a monitor of another major version.
#[must_use]
pub fn detect() -> Option<MonitorInfo> {
    Hv::native().detect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_off_mips_finds_no_monitor() {
        assert_eq!(detect(), None);
    }
}
