//! What the debugger drives: the bare machine (one CPU, thread 1), or the
//! monitor and its VMs (VM `i` is thread `i + 1`), behind one interface,
//! [`Debuggee`], that names every VM by its index.

use super::Reason;
use crate::runner::target::Stop;
use gdbstub::common::Signal;
use gdbstub::stub::MultiThreadStopReason;
use hv_host::addr::GuestVirtAddr;
use hv_host::machine::exception::Access;
use hv_host::machine::insn::Instruction;
use hv_host::machine::{CpuState, Exit, Machine};
use hv_host::monitor::gmmu::guest_translate;
use hv_host::monitor::{Monitor, MonitorExit, VmId};

/// The machine or monitor under the debugger; `vm` is a VM's index (0
/// natively, the only CPU). A `vm` out of range reads as nothing and
/// ignores writes.
pub trait Debuggee {
    /// How many VMs (1 natively).
    fn vm_count(&self) -> usize;
    /// VM `vm`'s CPU state now.
    fn cpu(&self, vm: usize) -> Option<CpuState>;
    /// Sets it.
    fn set_cpu(&mut self, vm: usize, s: &CpuState);
    /// CP0 register `rd`/`sel` as VM `vm`'s guest reads it now.
    fn cp0(&self, vm: usize, rd: u8, sel: u8) -> Option<u32>;
    /// Writes it as the guest's `mtc0` would (its write mask, its side
    /// effects); what the guest reads afterwards.
    fn set_cp0(&mut self, vm: usize, rd: u8, sel: u8, value: u32) -> Option<u32>;
    /// Guest-virtual memory as VM `vm` sees it now.
    fn read(&self, vm: usize, va: u32, len: u32) -> Option<Vec<u8>>;
    /// Writes it; whether every byte was written.
    fn write(&mut self, vm: usize, va: u32, bytes: &[u8]) -> bool;
    /// The instruction word at `pc` as VM `vm` would fetch it now.
    fn insn(&self, vm: usize, pc: u32) -> Option<Instruction>;
    /// Whether an `access` at `va` by VM `vm` would translate now (its
    /// TLB, its mode).
    fn translates(&self, vm: usize, va: u32, access: Access) -> bool;
    /// Guest instructions VM `vm` has executed (exception entries
    /// included, as the machine counts them).
    fn instructions(&self, vm: usize) -> u64;
    /// The VM on the CPU.
    fn on_cpu(&self) -> usize;
    /// How VM `vm` ended, if it did while others run on (natively the
    /// machine's end is [`Debuggee::run`]'s answer, never this).
    fn vm_end(&self, vm: usize) -> Option<Stop>;
    /// Takes what VM `vm` wrote to its console and to UHI fd 2.
    fn take_output(&mut self, vm: usize) -> (Vec<u8>, Vec<u8>);
    /// The clock: virtual cycles since boot.
    fn ticks(&self) -> u64;
    /// Runs at most `budget` more clock ticks.
    fn run(&mut self, budget: u64) -> Outcome;
}

/// Why [`Debuggee::run`] returned.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The budget ran out.
    Budget,
    /// Output waits to be taken (the run goes on once it is).
    OutputPending,
    /// The whole run ended: how, and what gdb is told.
    Ended(Stop, Reason),
}

/// How a machine exit ends a natively debugged guest.
fn machine_end(exit: Exit) -> Outcome {
    let terminated = |stop, sig| Outcome::Ended(stop, MultiThreadStopReason::Terminated(sig));
    match exit {
        Exit::BudgetExhausted => Outcome::Budget,
        Exit::OutputPending => Outcome::OutputPending,
        Exit::Shutdown { code } => Outcome::Ended(
            Stop::Exited(code),
            MultiThreadStopReason::Exited((code & 0xff) as u8),
        ),
        Exit::PowerOff => Outcome::Ended(Stop::PowerOff, MultiThreadStopReason::Exited(0)),
        Exit::Reset => terminated(Stop::Reset, Signal::SIGHUP),
        Exit::Stalled => terminated(Stop::Stalled, Signal::SIGSTOP),
        Exit::Trap(t) => terminated(Stop::Trap(t), Signal::SIGTRAP),
        Exit::NoHandler(n) => terminated(Stop::NoHandler(n), Signal::SIGILL),
    }
}

impl Debuggee for Machine {
    fn vm_count(&self) -> usize {
        1
    }
    fn cpu(&self, vm: usize) -> Option<CpuState> {
        (vm == 0).then(|| self.cpu_state())
    }
    fn set_cpu(&mut self, vm: usize, s: &CpuState) {
        if vm == 0 {
            self.set_cpu_state(s);
        }
    }
    fn cp0(&self, vm: usize, rd: u8, sel: u8) -> Option<u32> {
        (vm == 0).then(|| self.real_cp0(rd, sel))
    }
    fn set_cp0(&mut self, vm: usize, rd: u8, sel: u8, value: u32) -> Option<u32> {
        (vm == 0).then(|| self.set_real_cp0(rd, sel, value))
    }
    fn read(&self, vm: usize, va: u32, len: u32) -> Option<Vec<u8>> {
        (vm == 0)
            .then(|| self.read_virtual(GuestVirtAddr::new(va), len))
            .flatten()
    }
    fn write(&mut self, vm: usize, va: u32, bytes: &[u8]) -> bool {
        vm == 0 && self.write_virtual(GuestVirtAddr::new(va), bytes).is_ok()
    }
    fn insn(&self, vm: usize, pc: u32) -> Option<Instruction> {
        let bytes = self.read(vm, pc, 4)?;
        let word: [u8; 4] = bytes.try_into().ok()?;
        Some(Instruction(u32::from_le_bytes(word)))
    }
    fn translates(&self, vm: usize, va: u32, access: Access) -> bool {
        vm == 0 && Machine::translates(self, GuestVirtAddr::new(va), access)
    }
    fn instructions(&self, _vm: usize) -> u64 {
        Machine::instructions(self)
    }
    fn on_cpu(&self) -> usize {
        0
    }
    fn vm_end(&self, _vm: usize) -> Option<Stop> {
        None
    }
    fn take_output(&mut self, _vm: usize) -> (Vec<u8>, Vec<u8>) {
        (self.take_stdout(), self.take_stderr())
    }
    fn ticks(&self) -> u64 {
        Machine::ticks(self)
    }
    fn run(&mut self, budget: u64) -> Outcome {
        machine_end(Machine::run(self, budget))
    }
}

/// How the monitor's run ended once every VM has: the first VM's end
/// whose exit status is not 0 (the runner's exit status), else VM 0's;
/// gdb hears of an exit (with that status) if every VM exited or powered
/// off, else of a SIGSEGV.
fn monitor_end(mon: &Monitor) -> (Stop, Reason) {
    let ends: Vec<Stop> = (0..mon.vm_count())
        .map(|i| mon.stop_reason(VmId(i)).map_or(Stop::Stalled, Stop::from))
        .collect();
    let stop = ends
        .iter()
        .find(|s| s.exit_status() != 0)
        .or(ends.first())
        .cloned()
        .unwrap_or(Stop::Stalled);
    let clean = ends
        .iter()
        .all(|s| matches!(s, Stop::Exited(_) | Stop::PowerOff));
    let reason = if clean {
        MultiThreadStopReason::Exited(stop.exit_status())
    } else {
        MultiThreadStopReason::Terminated(Signal::SIGSEGV)
    };
    (stop, reason)
}

impl Debuggee for Monitor {
    fn vm_count(&self) -> usize {
        Monitor::vm_count(self)
    }
    fn cpu(&self, vm: usize) -> Option<CpuState> {
        self.cpu_state(VmId(vm))
    }
    fn set_cpu(&mut self, vm: usize, s: &CpuState) {
        self.set_cpu_state(VmId(vm), s);
    }
    fn cp0(&self, vm: usize, rd: u8, sel: u8) -> Option<u32> {
        self.guest_cp0(VmId(vm), rd, sel)
    }
    fn set_cp0(&mut self, vm: usize, rd: u8, sel: u8, value: u32) -> Option<u32> {
        self.set_guest_cp0(VmId(vm), rd, sel, value)
    }
    fn read(&self, vm: usize, va: u32, len: u32) -> Option<Vec<u8>> {
        self.read_guest(VmId(vm), GuestVirtAddr::new(va), len)
    }
    fn write(&mut self, vm: usize, va: u32, bytes: &[u8]) -> bool {
        self.write_guest(VmId(vm), GuestVirtAddr::new(va), bytes)
    }
    fn insn(&self, vm: usize, pc: u32) -> Option<Instruction> {
        self.guest_word(VmId(vm), GuestVirtAddr::new(pc))
    }
    fn translates(&self, vm: usize, va: u32, access: Access) -> bool {
        self.vm(VmId(vm))
            .is_some_and(|v| guest_translate(v, GuestVirtAddr::new(va), access).is_ok())
    }
    fn instructions(&self, vm: usize) -> u64 {
        self.vm(VmId(vm))
            .map_or(0, |v| v.stats().guest_instructions)
    }
    fn on_cpu(&self) -> usize {
        self.running_vm().0
    }
    fn vm_end(&self, vm: usize) -> Option<Stop> {
        self.stop_reason(VmId(vm)).map(Stop::from)
    }
    fn take_output(&mut self, vm: usize) -> (Vec<u8>, Vec<u8>) {
        (self.take_console(VmId(vm)), self.take_stderr(VmId(vm)))
    }
    fn ticks(&self) -> u64 {
        Monitor::ticks(self)
    }
    fn run(&mut self, budget: u64) -> Outcome {
        match Monitor::run(self, budget) {
            MonitorExit::AllStopped => {
                let (stop, reason) = monitor_end(self);
                Outcome::Ended(stop, reason)
            }
            MonitorExit::BudgetExhausted => Outcome::Budget,
            MonitorExit::OutputPending => Outcome::OutputPending,
        }
    }
}

/// What runs the guest: the bare machine or the monitor.
pub enum Host {
    /// Natively.
    Machine(Box<Machine>),
    /// Under the monitor, one thread per VM.
    Monitor(Box<Monitor>),
}

impl Host {
    /// The machine or monitor, to look at.
    pub(super) fn get(&self) -> &dyn Debuggee {
        match self {
            Host::Machine(m) => &**m,
            Host::Monitor(m) => &**m,
        }
    }

    /// The machine or monitor, to change or run.
    pub(super) fn get_mut(&mut self) -> &mut dyn Debuggee {
        match self {
            Host::Machine(m) => &mut **m,
            Host::Monitor(m) => &mut **m,
        }
    }
}
