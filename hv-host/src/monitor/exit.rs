//! What an exit handler works on and what it answers.
//!
//! A routed exception is handled for the one VM on the CPU: a handler
//! takes an [`ExitCtx`] (that VM, the machine, the real TLB's bookkeeping,
//! the frame pool's shared ROM frames, the configuration and the logs),
//! never the whole monitor, and returns what happens next: an [`Action`]
//! (the VM goes on, waits, or stops), or an [`ExitError`] when the guest
//! cannot go on or the monitor cannot serve it. The monitor
//! (`Monitor::handle_trap`) applies the answer; the scheduler
//! never runs inside a handler. A handler can so be driven in a unit test
//! with a VM and a machine, without booting an ELF.

use super::cost;
use super::hypercall::HypercallRecord;
use super::memory::{FramePool, MemoryError};
use super::rtlb::RealTlb;
use super::stats::ExitReason;
use super::trace::ExitRecord;
use super::vm::{Vm, VmId, VmStop};
use super::{MonitorConfig, vm::CrashReport};
use crate::addr::GuestVirtAddr;
use crate::machine::Machine;
use crate::machine::exception::ExcCode;
use crate::machine::insn::Instruction;
use thiserror::Error;

/// What happens after an exit was handled.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Action {
    /// The VM goes on where the handler left its CPU.
    Resume,
    /// The VM waits for an interrupt (an emulated `wait`, `IdleYield`):
    /// the scheduler deschedules it.
    Wait,
    /// The VM stopped for good, at clock tick `at`.
    Stop {
        /// Why.
        reason: VmStop,
        /// When (the VM's `stopped_at`).
        at: u64,
    },
}

/// Why an exit could not be handled: the VM is stopped with a
/// [`CrashReport`] saying so.
#[derive(Debug, Error, serde::Serialize, serde::Deserialize)]
pub enum ExitError {
    /// A device access trapped on an instruction fetch.
    #[error("device access with no instruction")]
    NoInstruction,
    /// A device page was reached by an instruction that is no load or
    /// store.
    #[error("unexpected device access by {0}")]
    UnexpectedAccess(Instruction),
    /// The monitor could not back a guest page with a machine frame.
    #[error("the monitor cannot map {va}: {source}")]
    CannotMap {
        /// The guest address.
        va: GuestVirtAddr,
        /// What failed.
        source: MemoryError,
    },
    /// The guest keeps faulting at one place without completing an
    /// instruction.
    #[error(
        "{} exception raised {repeats} times in a row at the same place without progress (no handler?)",
        code.name()
    )]
    Stuck {
        /// The exception.
        code: ExcCode,
        /// How often in a row.
        repeats: u32,
        /// Where.
        pc: GuestVirtAddr,
        /// The instruction there, if it can be read.
        insn: Option<Instruction>,
    },
    /// The guest entered an exception vector that holds no handler.
    #[error("{0}")]
    NoHandler(crate::machine::exception::NoHandler),
}

impl ExitError {
    /// The report a VM is stopped with, for an exit at `pc` on `insn`.
    pub fn report(&self, pc: GuestVirtAddr, insn: Option<Instruction>) -> CrashReport {
        let (pc, insn) = match *self {
            ExitError::Stuck { pc, insn, .. } => (pc, insn),
            ExitError::NoHandler(n) => (n.pc, None),
            _ => (pc, insn),
        };
        CrashReport {
            pc,
            insn,
            cause: self.to_string(),
        }
    }
}

/// What handlers record beside the VM: the exit trace and the hypercall
/// log.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ExitLog {
    /// Exits recorded (with `MonitorConfig::trace_exits`).
    pub trace: Vec<ExitRecord>,
    /// Whether hypercalls are recorded.
    pub record_hypercalls: bool,
    /// Hypercalls recorded.
    pub hypercalls: Vec<(VmId, HypercallRecord)>,
    /// What each VM did over time, if recorded.
    pub timeline: Option<super::timeline::Timeline>,
}

/// The context of one exit: the VM on the CPU and what its handlers may
/// touch.
pub struct ExitCtx<'a> {
    /// The VM on the CPU.
    pub vm: &'a mut Vm,
    /// The machine (the VM's CPU state is live in it).
    pub machine: &'a mut Machine,
    /// The real TLB's bookkeeping.
    pub rtlb: &'a mut RealTlb,
    /// The frame pool.
    pub pool: &'a mut FramePool,
    /// The monitor's configuration.
    pub config: &'a MonitorConfig,
    /// The trace and the hypercall log.
    pub log: &'a mut ExitLog,
}

impl ExitCtx<'_> {
    /// The VM's number.
    pub fn id(&self) -> VmId {
        self.vm.id
    }

    /// The current clock tick.
    pub fn now(&self) -> u64 {
        self.machine.ticks()
    }

    /// Charges `cycles` of monitor work to the clock and the VM.
    pub fn charge(&mut self, cycles: u64) {
        self.machine.charge_ticks(cycles);
        self.vm.stats.monitor_cycles += cycles;
    }

    /// Counts an exit of `reason`.
    pub fn count_exit(&mut self, reason: ExitReason) {
        self.vm.stats.exits[reason as usize] += 1;
        if let Some(t) = &mut self.log.timeline {
            t.exit(self.vm.id.0, self.machine.ticks(), reason);
        }
    }

    /// Counts `n` instructions the monitor completed for the guest.
    pub fn emulated(&mut self, n: u64) {
        let s = &mut self.vm.stats;
        s.guest_instructions += n;
        s.emulated_instructions += n;
        self.charge(cost::EMULATE * n);
    }

    /// Records an exit in the trace, if tracing.
    pub fn trace(
        &mut self,
        pc: GuestVirtAddr,
        insn: Option<Instruction>,
        reason: ExitReason,
        action: impl FnOnce() -> String,
    ) {
        if self.config.trace_exits {
            self.log.trace.push(ExitRecord {
                tick: self.machine.ticks(),
                vm: self.vm.id,
                pc,
                insn,
                reason,
                action: action(),
            });
        }
    }

    /// Makes the real CPU run the VM as its virtual state says:
    /// privilege, assist, ASID.
    pub fn apply_mode(&mut self) {
        let cp0 = &self.vm.cp0;
        let (p, asid) = (cp0.real_privilege(), cp0.asid());
        // The assist only changes what supervisor mode may reach, so it
        // stays on for the guest's user mode too (no cache flush on every
        // kernel/user switch); it is off only while the guest itself is
        // in supervisor mode, where kseg0 must raise address errors.
        let virtual_supervisor = !cp0.kernel_mode() && p == crate::machine::Privilege::Supervisor;
        self.machine.set_privilege(p);
        self.machine.set_guest_regime(!virtual_supervisor);
        self.machine.set_asid(asid);
    }
}
