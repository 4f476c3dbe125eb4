//! The exit trace: one record per exit, in order, with the virtual time,
//! the VM, where it was, why it exited and what the monitor did. Records
//! are deterministic: the same image and flags give the same trace.

use super::stats::ExitReason;
use super::vm::VmId;
use crate::addr::GuestVirtAddr;
use crate::machine::insn::Instruction;

/// One exit.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExitRecord {
    /// The global clock when the monitor finished handling it.
    pub tick: u64,
    /// Which VM.
    pub vm: VmId,
    /// The guest PC of the exit.
    pub pc: GuestVirtAddr,
    /// The instruction there, if it was fetched.
    pub insn: Option<Instruction>,
    /// Why.
    pub reason: ExitReason,
    /// What the monitor did.
    pub action: String,
}
