//! The hypercall interface shared by the monitor (`hv-host`) and guest
//! kernels (`hv-guest`): the one source of truth for the instruction, the
//! register convention, the hypercall numbers, error codes, feature bits and
//! the records a hypercall reads from guest memory.
//!
//! This crate holds raw definitions only; the safe guest-side calls live in
//! `hv-guest` and the monitor's handling in `hv-host`. It is `no_std` so that
//! it builds for the host and for `mipsel-unknown-none` alike.
//!
//! # The calling convention, once
//!
//! A guest makes a hypercall by executing [`HYPCALL`]
//! (`0x4200_0028`, the MIPS VZ `HYPCALL` instruction with code field 0) in
//! kernel or supervisor mode, never in a branch delay slot:
//!
//! | register | in | out |
//! |---|---|---|
//! | `v0` (`$2`) | hypercall number ([`Hypercall`]) | status: 0 or an [`HvError`] code |
//! | `v1` (`$3`) | — | the call's value (0 when it has none or on error, unless stated) |
//! | `a0`..`a3` (`$4`..`$7`) | arguments | preserved |
//!
//! Only `v0` and `v1` are clobbered; every other register, `HI`/`LO` and the
//! guest's CP0 state other than what the call is documented to change are
//! preserved. Execution resumes at the instruction after `HYPCALL`.
//! From user mode every call fails with [`HvError::NotPermitted`].
//!
//! `docs/ABI.md` in the repository is the guest author's reference with the
//! per-call tables.
#![no_std]

pub mod addr;
pub mod call;
pub mod commpage;
pub mod error;
pub mod features;
pub mod insn;
pub mod regs;
pub mod tlb;
pub mod version;

pub use addr::{GuestPhysAddr, GuestVirtAddr, PAGE_SIZE};
pub use call::{
    BALLOON_MAX, COMMPAGE_OFF, CONSOLE_WRITE_MAX, DiscoverLeaf, Hypercall, PAGE_ZEROED_MAX,
    TLB_BATCH_MAX, UnknownHypercall, UnknownLeaf, WALK_FORMAT_MIPS32_4K,
};
pub use commpage::Commpage;
pub use error::{HvError, STATUS_OK};
pub use features::Features;
pub use insn::{HYPCALL, is_hypcall};
pub use tlb::{
    PageMask, RecordError, RecordField, TLB_SLOT_RANDOM, TlbEntryRecord, TlbInstall, TlbSlot,
};
pub use version::{ABI_VERSION, AbiVersion};
