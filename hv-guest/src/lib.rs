//! What a guest kernel links to detect the monitor and make hypercalls:
//! [`detect()`], and [`Hv`] with one wrapper per hypercall of `hv-abi`
//! (ABI 1.2), safe wherever the call cannot break memory safety.
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
//!
//! # The calls, and the fallback without a monitor
//!
//! Every optional call has a feature bit; test it with
//! [`MonitorInfo::offers`] before calling, and keep the bare-hardware path
//! for when [`detect()`] returns `None` or the bit is clear. A call the
//! monitor does not offer returns [`HvError::UnknownCall`](hv_abi::HvError),
//! and without a monitor every call returns
//! [`HvError::NoMonitor`](hv_abi::HvError), so a failed call is also a
//! reason to take the bare-hardware path.
//!
//! | wrapper | call (since) | without it |
//! |---|---|---|
//! | [`Hv::page_zeroed`] | `PageZeroed` (1.0) | zero every frame |
//! | [`Hv::idle_yield`] | `IdleYield` (1.0) | `wait` |
//! | [`Hv::tlb_install_batch`] | `TlbInstallBatch` (1.0) | `mtc0` EntryHi/EntryLo, `tlbwi`/`tlbwr` per entry |
//! | [`Hv::console_write`] | `ConsoleWrite` (1.0) | the UART |
//! | [`Hv::shutdown`] | `Shutdown` (1.0) | the board's power-off (UHI `exit`) |
//! | [`Hv::commpage_set`], [`Hv::commpage_off`] | `CommpageSet` (1.1) | `mfc0`/`mtc0` |
//! | [`Hv::refill_walk_set`], [`Hv::refill_walk_off`] | `RefillWalkSet` (1.1) | the refill handler does every refill |
//! | [`Hv::disable_features`] | `Discover(DisableFeatures)` (1.1) | nothing to turn off |
//! | [`Hv::frames_release`], [`Hv::frames_reclaim`] | `FramesRelease`, `FramesReclaim` (1.2) | keep the frames (they stay the VM's) |
//!
//! ## The page of CP0 registers
//!
//! With `CommpageSet` the monitor keeps a [`Commpage`](hv_abi::Commpage)
//! at the start of a frame the guest gives it: the guest's exception
//! entry reads Cause, EPC, Status and BadVAddr from it with loads, and its
//! return path stores EPC and Status into it before `eret` (which still
//! traps, and applies them). Keep a flag (the page's kseg0 address, 0 when
//! off) that the exception paths test, so one kernel runs both ways:
//!
//! ```no_run
//! use core::sync::atomic::{AtomicU32, Ordering};
//! use hv_abi::{Commpage, GuestPhysAddr, Hypercall, commpage::offset};
//! use hv_guest::{Hv, MonitorInfo};
//!
//! /// The page's kseg0 address, 0 when the registers are read with `mfc0`.
//! static COMMPAGE: AtomicU32 = AtomicU32::new(0);
//!
//! /// At boot, with `frame` a free, page-aligned frame the kernel keeps.
//! fn share_cp0(info: &MonitorInfo, frame: u32) {
//!     if !info.offers(Hypercall::CommpageSet) {
//!         return; // bare hardware or an older monitor: mfc0/mtc0
//!     }
//!     // SAFETY: the frame is set aside for the page and only ever
//!     // accessed with volatile loads and stores (below).
//!     if unsafe { Hv::native().commpage_set(GuestPhysAddr::new(frame)) }.is_ok() {
//!         COMMPAGE.store(0x8000_0000 + frame, Ordering::Relaxed);
//!     }
//! }
//!
//! /// Cause at the last exception: from the page, or `mfc0 $13`.
//! fn cause(mfc0_cause: impl Fn() -> u32) -> u32 {
//!     match COMMPAGE.load(Ordering::Relaxed) {
//!         0 => mfc0_cause(),
//!         // SAFETY: the shared page, read as the safety contract asks.
//!         page => unsafe { core::ptr::read_volatile((page as usize + offset::CAUSE) as *const u32) },
//!     }
//! }
//! # let _ = Commpage::SIZE;
//! ```
//!
//! A store to a writable field takes effect at the guest's next exit, not
//! at once: store Status with EXL still set, then `eret`.
//!
//! ## The refill walk
//!
//! With `RefillWalkSet` the monitor serves TLB refills (taken with EXL
//! clear) from the guest's page tables without entering the guest. The
//! guest names the word that holds its current page directory (the one its
//! refill handler loads) and keeps its refill handler for when the walk is
//! off, for refills with EXL set, and for walks that do not reach RAM:
//!
//! ```no_run
//! use hv_abi::{GuestVirtAddr, Hypercall, WALK_FORMAT_MIPS32_4K};
//! use hv_guest::{Hv, MonitorInfo};
//!
//! /// The refill handler's page directory pointer (a kseg0 static).
//! static mut PGD_CURRENT: *const u32 = core::ptr::null();
//!
//! fn walk_refills(info: &MonitorInfo) -> bool {
//!     let word = GuestVirtAddr::new((&raw const PGD_CURRENT) as u32);
//!     // SAFETY: PGD_CURRENT always points at a directory of kseg0 page
//!     // tables of EntryLo-format PTE pairs that map user memory only.
//!     info.offers(Hypercall::RefillWalkSet)
//!         && unsafe { Hv::native().refill_walk_set(word, WALK_FORMAT_MIPS32_4K) }.is_ok()
//! }
//! ```
//!
//! ## The balloon
//!
//! With `FramesRelease` a guest gives frames it will not use for a while
//! (the frames of an exited process, say) back to the monitor, which
//! lends their memory to other VMs; `FramesReclaim` takes them back
//! before reuse, and they then read as zeros. Both calls share the
//! feature bit [`BALLOON`](hv_abi::Features::BALLOON). Keep the released
//! frames in a list that is not inside them (their contents are gone):
//!
//! ```no_run
//! use hv_abi::{GuestPhysAddr, Hypercall};
//! use hv_guest::{Hv, MonitorInfo};
//!
//! /// A run of free frames the kernel will not need soon.
//! fn give_back(info: &MonitorInfo, first: u32, count: u32) -> bool {
//!     // SAFETY: the frames are free: nothing refers to them.
//!     info.offers(Hypercall::FramesRelease)
//!         && unsafe { Hv::native().frames_release(GuestPhysAddr::new(first), count) }.is_ok()
//! }
//!
//! /// Before handing one of them out again: it is then all zeros.
//! fn take_back(first: u32, count: u32) -> bool {
//!     Hv::native().frames_reclaim(GuestPhysAddr::new(first), count).is_ok()
//! }
//! ```
//!
//! A guest that touches a released frame without reclaiming it gets a
//! frame of zeros all the same (the monitor counts it); it cannot see
//! another VM's data.
//!
//! ## Turning features off
//!
//! [`Hv::disable_features`] turns calls off for good (for a measurement
//! without them, say); it returns what is still offered:
//!
//! ```no_run
//! use hv_abi::Features;
//! let left = hv_guest::Hv::native().disable_features(Features::IDLE_YIELD);
//! // Err(UnknownCall) from a 1.0 monitor: the call stays on, do not use it.
//! # let _ = left;
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
