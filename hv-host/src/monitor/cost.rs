//! The modelled cost of the monitor's own work, in CPU cycles (ticks of
//! the global clock, the unit guest instructions are counted in). Nothing
//! the monitor does is free: every exit and every unit of work it does
//! advances the clock by these amounts, so a guest's own Count shows the
//! overhead of virtualization as it would on real hardware, and overhead
//! can be read in deterministic virtual cycles beside host wall time.
//!
//! All constants live here. They are estimates for a MIPS32 core of the
//! 24K class running a monitor written as tight handlers, each derived
//! from a stated instruction count (one cycle per instruction, plus the
//! pipeline effects named):
//!
//! | constant | cycles | derivation |
//! |---|---|---|
//! | [`EXIT`] | 60 | exception entry (pipeline flush, ~6 cycles on the 24K), save of the registers the handler uses and decode of Cause (~20 instructions), the return path (~20 instructions and `eret`), as in KVM/MIPS's `__kvm_mips_vcpu_run` exit and re-entry paths |
//! | [`EMULATE`] | 25 | fetch of the faulting instruction from the guest, decode, and the virtual CP0 update (KVM/MIPS `kvm_mips_emulate_CP0`) |
//! | [`FORWARD`] | 30 | setting virtual EPC/Cause/BadVAddr/Status and computing the vector (KVM/MIPS `kvm_mips_emulate_exc`) |
//! | [`STLB_LOOKUP`] | 40 | a hashed lookup in the VM's TLB and the guest-physical map (Disco's second-level TLB refill, reported at tens of cycles) |
//! | [`TLB_INSTALL`] | 12 | writing EntryHi, EntryLo0/1, PageMask and `tlbwi` with its hazard barrier |
//! | [`FRAME_ZERO`] | 1024 | zeroing a 4 KiB frame with 1024 word stores |
//! | [`MMIO`] | 80 | decoding the load/store, computing the address and calling the device model |
//! | [`SEMIHOST`] | 100 | a UHI call's dispatch, plus [`PER_BYTE`] per byte copied |
//! | [`MACHINE_SWITCH`] | 400 | saving and restoring 32 registers and the CP0 state of two VMs (~150 instructions) and flushing the 32-entry real TLB (32 `tlbwi`) |
//! | [`HYPERCALL`] | 40 | dispatch of a hypercall after the exit |
//! | [`COMMPAGE_SYNC`] | 24 | reading back the 8 writable words of a VM's shared CP0 page and writing its 12 words, at each exit |
//! | [`BALLOON_FRAME`] | 20 | per frame a balloon call names: the range check, clearing the frame's map entry and dropping its count in the pool (Xen's `decrease_reservation` loop does the same per page) |
//! | [`TLB_FLUSH`] | 64 | invalidating the 32-entry real TLB (32 `tlbwi` of an invalid entry, two cycles each with the hazard), after frames were unmapped |
//! | [`WALK`] | 30 | a refill from the guest's page tables: three dependent loads from guest memory and the address arithmetic of the guest's own refill handler |

/// Exception entry into the monitor and return to the guest.
pub const EXIT: u64 = 60;
/// Emulating one privileged instruction on the virtual CP0.
pub const EMULATE: u64 = 25;
/// Reflecting an exception to the guest's handler.
pub const FORWARD: u64 = 30;
/// Looking an address up in the VM's TLB and memory map.
pub const STLB_LOOKUP: u64 = 40;
/// Installing one entry in the real TLB.
pub const TLB_INSTALL: u64 = 12;
/// Zeroing one 4 KiB frame.
pub const FRAME_ZERO: u64 = 1024;
/// Copying one 4 KiB frame (a store to a shared frame).
pub const FRAME_COPY: u64 = 2048;
/// Hashing one 4 KiB frame when page sharing scans.
pub const SHARE_HASH: u64 = 512;
/// Emulating one load or store to a device.
pub const MMIO: u64 = 80;
/// A semihosting call's dispatch.
pub const SEMIHOST: u64 = 100;
/// Copying one byte between guest memory and the monitor.
pub const PER_BYTE: u64 = 1;
/// Switching the CPU from one VM to another.
pub const MACHINE_SWITCH: u64 = 400;
/// Dispatching one hypercall.
pub const HYPERCALL: u64 = 40;
/// Syncing a VM's shared CP0 page at an exit.
pub const COMMPAGE_SYNC: u64 = 24;
/// Walking the guest's page tables for one refill.
pub const WALK: u64 = 30;
/// A balloon call's work for one frame of its run.
pub const BALLOON_FRAME: u64 = 20;
/// Emptying the real TLB after frames were unmapped.
pub const TLB_FLUSH: u64 = 64;
