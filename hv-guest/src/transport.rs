//! How a hypercall reaches the monitor: the register images of a call, the
//! [`Transport`] trait, and [`Native`], the transport a guest kernel uses.
//!
//! On `target_arch = "mips"`, [`Native`] executes `HYPCALL` with inline
//! assembly. On any other target there is no monitor to reach, so
//! [`Native`] answers every call as a kernel's Reserved Instruction handler
//! would on bare hardware: status [`HvError::NoMonitor`]. Tests drive the
//! wrappers with their own transport instead.

use hv_abi::{HvError, Hypercall};

/// The registers a hypercall reads: the number in `v0` and the arguments
/// in `a0`..`a3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallRegs {
    /// `$2`: the hypercall number.
    pub v0: u32,
    /// `$4`: first argument.
    pub a0: u32,
    /// `$5`: second argument.
    pub a1: u32,
    /// `$6`: third argument.
    pub a2: u32,
    /// `$7`: fourth argument.
    pub a3: u32,
}

/// The registers a hypercall writes: the status in `v0` and the value in
/// `v1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReturnRegs {
    /// `$2`: 0 or an [`HvError`] code.
    pub v0: u32,
    /// `$3`: the call's value.
    pub v1: u32,
}

impl CallRegs {
    /// The registers for `call` with arguments `a0`..`a3`.
    #[must_use]
    pub const fn new(call: Hypercall, [a0, a1, a2, a3]: [u32; 4]) -> Self {
        Self {
            v0: call.number(),
            a0,
            a1,
            a2,
            a3,
        }
    }
}

impl ReturnRegs {
    /// `v1` if the status is success, else the decoded error.
    pub const fn result(self) -> Result<u32, HvError> {
        match HvError::from_status(self.v0) {
            None => Ok(self.v1),
            Some(e) => Err(e),
        }
    }
}

/// A way to make a hypercall.
///
/// The wrappers of [`Hv`](crate::Hv) are generic over it so that a guest
/// uses [`Native`] at no cost and host tests substitute a recorder.
pub trait Transport {
    /// Makes one hypercall and returns `v0` and `v1`.
    ///
    /// # Safety
    ///
    /// Every guest address in `regs` must be valid for the accesses the
    /// call's definition in `hv-abi` makes (reads of the stated length),
    /// until the call returns; and the call's effect must not break the
    /// guarantees Rust code relies on (for `TlbInstallBatch`: no new
    /// mapping may alias or move memory that live references point to).
    unsafe fn hypercall(&mut self, regs: CallRegs) -> ReturnRegs;

    /// Stops this CPU for good; called when `Shutdown` returned.
    ///
    /// The default spins; [`Native`] on MIPS executes `WAIT` in a loop.
    fn halt(&mut self) -> ! {
        loop {
            core::hint::spin_loop();
        }
    }
}

/// The hypercall instruction itself (on MIPS), or "no monitor" (elsewhere).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Native;

#[cfg(target_arch = "mips")]
impl Transport for Native {
    #[inline(always)]
    unsafe fn hypercall(&mut self, regs: CallRegs) -> ReturnRegs {
        let v0: u32;
        let v1: u32;
        // SAFETY: HYPCALL reads v0 and a0..a3 and writes only v0 and v1
        // (hv-abi's convention), exactly the operands declared here; it
        // does not touch the stack. The monitor may read guest memory the
        // caller vouched for and may change the TLB, which the default
        // (memory-clobbering) options account for. The `.word` is the first
        // thing in the block, so it is never in a branch delay slot.
        unsafe {
            core::arch::asm!(
                ".word {insn}",
                insn = const hv_abi::HYPCALL,
                inlateout("$2") regs.v0 => v0,
                in("$4") regs.a0,
                in("$5") regs.a1,
                in("$6") regs.a2,
                in("$7") regs.a3,
                lateout("$3") v1,
                options(nostack),
            );
        }
        ReturnRegs { v0, v1 }
    }

    fn halt(&mut self) -> ! {
        loop {
            // SAFETY: WAIT only stalls the CPU until an interrupt; it
            // touches no register or memory.
            unsafe { core::arch::asm!("wait", options(nomem, nostack)) };
        }
    }
}

#[cfg(not(target_arch = "mips"))]
impl Transport for Native {
    /// No monitor is reachable from a non-MIPS build: answers
    /// [`HvError::NoMonitor`], as the detection protocol does on bare
    /// hardware.
    unsafe fn hypercall(&mut self, _regs: CallRegs) -> ReturnRegs {
        ReturnRegs {
            v0: HvError::NoMonitor.code(),
            v1: 0,
        }
    }
}

/// A guest address as a register value.
///
/// MIPS32 pointers are 32 bits, so this is exact on the guest. On a 64-bit
/// host build only a test transport sees the value, which it must not
/// dereference; the truncation keeps the wrappers' code identical.
pub(crate) fn reg_addr<T>(ptr: *const T) -> u32 {
    ptr.addr() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_regs_put_the_number_in_v0() {
        let regs = CallRegs::new(Hypercall::TlbInstallBatch, [1, 2, 3, 4]);
        assert_eq!(
            regs,
            CallRegs {
                v0: 4,
                a0: 1,
                a1: 2,
                a2: 3,
                a3: 4
            }
        );
    }

    #[test]
    fn return_regs_decode_status_then_value() {
        assert_eq!(ReturnRegs { v0: 0, v1: 7 }.result(), Ok(7));
        for e in HvError::ALL {
            assert_eq!(
                ReturnRegs {
                    v0: e.code(),
                    v1: 7
                }
                .result(),
                Err(e)
            );
        }
    }

    #[test]
    fn native_off_mips_reports_no_monitor() {
        let regs = CallRegs::new(Hypercall::Discover, [0; 4]);
        // SAFETY: Discover takes no address, and the host transport makes no call.
        let ret = unsafe { Native.hypercall(regs) };
        assert_eq!(ret.result(), Err(HvError::NoMonitor));
    }
}
