//! The guest under the debugger: its breakpoints and watchpoints, what the
//! debugger asked it to do, and the run that does it until something the
//! debugger must hear of happens (see the module above for the rules).

use super::access::{DataAccess, data_access, delay_slot_cpu};
use super::host::{Debuggee, Host, Outcome};
use super::output::Output;
use super::{Reason, tid_of};
use crate::runner::target::Stop;
use gdbstub::common::Signal;
use gdbstub::stub::MultiThreadStopReason;
use gdbstub::target::ext::breakpoints::WatchKind;

/// Clock ticks a `continue` runs between looks at the connection (for
/// Ctrl-C), with no breakpoint or watchpoint set.
const CONTINUE_SLICE: u64 = 1_000_000;
/// Ticks run one by one between looks at the connection, with breakpoints
/// or watchpoints set, or while a step waits for its VM.
const STEP_SLICE: u64 = 20_000;

/// What the debugger asked the guest to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resume {
    /// Run until something stops it.
    Continue,
    /// Run until VM `vm` has executed one more instruction (counted from
    /// `from`); the other VMs run as the scheduler decides meanwhile.
    Step {
        /// The VM stepped.
        vm: usize,
        /// Its instruction count when the step began.
        from: u64,
    },
}

/// A watchpoint: the bytes last seen there in each VM (for writes).
#[derive(Clone, Debug)]
pub(super) struct Watch {
    /// The first byte watched (a guest-virtual address, in every VM).
    pub(super) addr: u32,
    /// How many bytes.
    pub(super) len: u32,
    /// Writes, reads or both.
    pub(super) kind: WatchKind,
    /// The bytes there in each VM when last read (`None`: unreadable).
    seen: Vec<Option<Vec<u8>>>,
}

impl Watch {
    /// Whether an access that stores (or loads) is one it watches.
    fn catches(&self, access: &DataAccess) -> bool {
        let kind_matches = match self.kind {
            WatchKind::Write => access.store,
            WatchKind::Read => !access.store,
            WatchKind::ReadWrite => true,
        };
        kind_matches && access.overlaps(self.addr, self.len)
    }

    /// Whether a change of its bytes is an event (not for reads).
    fn sees_changes(&self) -> bool {
        self.kind != WatchKind::Read
    }
}

/// Where a VM is: its instruction count and the next instruction's
/// address. A VM whose position changed has run (an instruction, an
/// exception or interrupt entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Position {
    instructions: u64,
    pc: u32,
}

/// The guest under the debugger.
pub struct Debugged {
    /// The machine or monitor.
    pub(super) host: Host,
    /// The guests' output.
    pub(super) output: Output,
    /// Breakpoint addresses (guest-virtual, in every VM).
    pub(super) breakpoints: Vec<u32>,
    /// The watchpoints.
    pub(super) watches: Vec<Watch>,
    /// What the debugger asked for at the last resume.
    resume: Resume,
    /// The step the resume actions being gathered ask for.
    pub(super) next_step: Option<usize>,
    /// Whether the first look of this resume is still to do.
    fresh: bool,
    /// Each VM's position when last looked at.
    positions: Vec<Position>,
    /// Which VMs' ends gdb has heard of.
    ends_told: Vec<bool>,
    /// The access last reported before it happened, by VM and position:
    /// let through when the run goes on.
    passed: Option<(usize, Position)>,
    /// How the guest ended, once it has.
    pub(super) ended: Option<Stop>,
    max_instructions: Option<u64>,
}

/// Why a stretch of running stopped.
pub(super) enum Ran {
    /// The connection has data (Ctrl-C, or a packet).
    Incoming,
    /// The guest stopped for the debugger or ended.
    Stopped(Reason),
}

/// Every VM's instructions together.
fn instructions(host: &dyn Debuggee) -> u64 {
    (0..host.vm_count()).map(|vm| host.instructions(vm)).sum()
}

/// A stop of VM `vm` with `signal`, naming its thread.
fn stopped_in(vm: usize, signal: Signal) -> Reason {
    MultiThreadStopReason::SignalWithThread {
        tid: tid_of(vm),
        signal,
    }
}

impl Debugged {
    /// `host` under the debugger, stopped; its run loop (without gdb)
    /// runs slices of `slice` ticks.
    pub(super) fn new(host: Host, slice: u64, max_instructions: Option<u64>) -> Self {
        let n = host.get().vm_count();
        let left = max_instructions.map(|max| max.saturating_sub(instructions(host.get())));
        let mut d = Self {
            output: Output::new(host.get(), slice, left),
            host,
            breakpoints: Vec::new(),
            watches: Vec::new(),
            resume: Resume::Continue,
            next_step: None,
            fresh: false,
            positions: Vec::new(),
            ends_told: vec![false; n],
            passed: None,
            ended: None,
            max_instructions,
        };
        d.positions = (0..n).map(|vm| d.position(vm)).collect();
        d
    }

    /// How many VMs (threads).
    pub(super) fn vm_count(&self) -> usize {
        self.host.get().vm_count()
    }

    /// VM `vm`'s position now.
    fn position(&self, vm: usize) -> Position {
        let host = self.host.get();
        Position {
            instructions: host.instructions(vm),
            pc: host.cpu(vm).map_or(0, |c| c.pc.raw()),
        }
    }

    /// Starts what the debugger asked for (the resume actions gathered).
    pub(super) fn start(&mut self) {
        self.resume = match self.next_step.take() {
            Some(vm) => Resume::Step {
                vm,
                from: self.host.get().instructions(vm),
            },
            None => Resume::Continue,
        };
        self.fresh = true;
        self.positions = (0..self.vm_count()).map(|vm| self.position(vm)).collect();
    }

    /// Whether VM `vm` has ended (under the monitor, with others running
    /// on).
    pub(super) fn vm_ended(&self, vm: usize) -> bool {
        self.host.get().vm_end(vm).is_some()
    }

    /// Adds a watchpoint, remembering the bytes there in every VM.
    pub(super) fn add_watch(&mut self, addr: u32, len: u32, kind: WatchKind) {
        let host = self.host.get();
        let seen = (0..host.vm_count())
            .map(|vm| host.read(vm, addr, len))
            .collect();
        self.watches.push(Watch {
            addr,
            len,
            kind,
            seen,
        });
    }

    /// The instructions `--max-instructions` leaves, if it is set.
    fn left(&self) -> Option<u64> {
        let done = instructions(self.host.get());
        self.max_instructions.map(|max| max.saturating_sub(done))
    }

    /// Runs at most `budget` more ticks; the reason to stop, if the guest
    /// ended or reached the instruction limit (every VM's instructions
    /// together, as without the debugger).
    fn run(&mut self, budget: u64) -> Option<Reason> {
        let budget = match self.left() {
            Some(0) => {
                self.ended = self.max_instructions.map(Stop::Limit);
                return Some(MultiThreadStopReason::Terminated(Signal::SIGXCPU));
            }
            Some(left) => budget.min(left),
            None => budget,
        };
        let budget = self.output.budget(self.host.get(), budget);
        let outcome = self.host.get_mut().run(budget);
        let left = self.left();
        self.output.after_run(self.host.get_mut(), &outcome, left);
        let Outcome::Ended(stop, reason) = outcome else {
            return None;
        };
        self.ended = Some(stop);
        Some(reason)
    }

    /// The VMs that moved since last looked at, their positions updated.
    fn moved(&mut self) -> Vec<usize> {
        let mut moved = Vec::new();
        for vm in 0..self.vm_count() {
            let now = self.position(vm);
            if self.positions.get(vm) != Some(&now) {
                moved.push(vm);
                if let Some(p) = self.positions.get_mut(vm) {
                    *p = now;
                }
            }
        }
        moved
    }

    /// A VM that ended while others run on and gdb has not heard of: its
    /// thread stops with SIGTRAP.
    fn new_end(&mut self) -> Option<Reason> {
        let vm = (0..self.vm_count())
            .find(|&vm| !self.ends_told.get(vm).copied().unwrap_or(true) && self.vm_ended(vm))?;
        self.ends_told[vm] = true;
        Some(stopped_in(vm, Signal::SIGTRAP))
    }

    /// Once the VM whose access was reported before it happened has run
    /// on (past the delay slot, if the access was a branch's slot's), the
    /// bytes it changed are the ones gdb was told of: they are taken as
    /// seen.
    fn let_through(&mut self) {
        let Some((vm, at)) = self.passed else {
            return;
        };
        let in_slot = self.host.get().cpu(vm).is_some_and(|c| c.delay_slot);
        if self.position(vm) == at || in_slot {
            return;
        }
        self.passed = None;
        let host = self.host.get();
        for w in self.watches.iter_mut().filter(|w| w.sees_changes()) {
            if let (Some(seen), Some(now)) = (w.seen.get_mut(vm), host.read(vm, w.addr, w.len)) {
                *seen = Some(now);
            }
        }
    }

    /// The first write or access watchpoint whose bytes changed in some VM
    /// (by anything: an instruction, the monitor, a device), recording
    /// what they are now. Bytes the VM cannot read now (a kernel address
    /// in user mode, a page not in its TLB) are compared once it can.
    fn changed_watch(&mut self) -> Option<Reason> {
        let host = self.host.get();
        let mut hit = None;
        for w in self.watches.iter_mut().filter(|w| w.sees_changes()) {
            for (vm, seen) in w.seen.iter_mut().enumerate() {
                let now = host.read(vm, w.addr, w.len);
                if now.is_some() && now != *seen {
                    *seen = now;
                    hit = hit.or(Some(MultiThreadStopReason::Watch {
                        tid: tid_of(vm),
                        kind: w.kind,
                        addr: w.addr,
                    }));
                }
            }
        }
        hit
    }

    /// The data access VM `vm` is about to make: its next instruction's,
    /// or for a branch its delay slot's; only if the address translates
    /// (else the instruction faults and touches nothing). In a delay slot
    /// the access was its branch's to look at, unless `in_slot`.
    fn upcoming_access(&self, vm: usize, in_slot: bool) -> Option<DataAccess> {
        let host = self.host.get();
        let cpu = host.cpu(vm)?;
        if cpu.delay_slot && !in_slot {
            return None;
        }
        let insn = host.insn(vm, cpu.pc.raw())?;
        let access = match delay_slot_cpu(insn, &cpu) {
            Some(slot) => data_access(host.insn(vm, slot.pc.raw())?, &slot)?,
            None => data_access(insn, &cpu)?,
        };
        access
            .done_by(|va, a| host.translates(vm, va, a))
            .then_some(access)
    }

    /// A watchpoint VM `vm` is about to access ([`Debugged::upcoming_access`]).
    /// gdb hears of it before the access, as from a MIPS CPU, and steps
    /// the instruction itself; the same access is then let through.
    fn pending_watch(&mut self, vm: usize, in_slot: bool) -> Option<Reason> {
        if self.watches.is_empty() {
            return None;
        }
        let at = self.position(vm);
        if self.passing(vm, at) {
            return None;
        }
        let access = self.upcoming_access(vm, in_slot)?;
        let w = self.watches.iter().find(|w| w.catches(&access))?;
        let reason = MultiThreadStopReason::Watch {
            tid: tid_of(vm),
            kind: w.kind,
            addr: w.addr,
        };
        self.passed = Some((vm, at));
        Some(reason)
    }

    /// Whether VM `vm`, at `at`, is still making the access last reported
    /// (at the same instruction, or in the delay slot of the branch it was
    /// reported at: [`Debugged::let_through`] has not let it go yet).
    fn passing(&self, vm: usize, at: Position) -> bool {
        let in_slot = self.host.get().cpu(vm).is_some_and(|c| c.delay_slot);
        matches!(self.passed, Some((v, p)) if v == vm && (p == at || in_slot))
    }

    /// What stops VM `vm` before its next instruction: a breakpoint there,
    /// or a watched access (`in_slot` as for [`Debugged::upcoming_access`]).
    fn look_at(&mut self, vm: usize, in_slot: bool) -> Option<Reason> {
        if self.vm_ended(vm) {
            return None;
        }
        let pc = self.positions.get(vm)?.pc;
        if self.breakpoints.contains(&pc) {
            return Some(MultiThreadStopReason::SwBreak(tid_of(vm)));
        }
        self.pending_watch(vm, in_slot)
    }

    /// The look before running: a continue stops at once for a VM at a
    /// breakpoint or watched access (as a CPU would trap there); a step
    /// stops before a watched access of its VM, or at once if the VM has
    /// ended (it cannot step).
    fn first_look(&mut self) -> Option<Reason> {
        match self.resume {
            Resume::Continue => (0..self.vm_count()).find_map(|vm| self.look_at(vm, true)),
            Resume::Step { vm, .. } if self.vm_ended(vm) => Some(stopped_in(vm, Signal::SIGTRAP)),
            Resume::Step { vm, .. } => self.pending_watch(vm, true),
        }
    }

    /// Whether the stepped VM has executed its instruction.
    fn step_done(&self) -> Option<Reason> {
        match self.resume {
            Resume::Step { vm, from } if self.host.get().instructions(vm) != from => {
                Some(stopped_in(vm, Signal::SIGTRAP))
            }
            _ => None,
        }
    }

    /// Runs one clock tick and looks: the run's end, a VM's end, a changed
    /// watched byte, the step's end, then what stops a VM that moved
    /// (other than the stepped one) before its next instruction.
    fn tick(&mut self) -> Option<Reason> {
        if let Some(r) = self.run(1) {
            return Some(r);
        }
        let moved = self.moved();
        self.let_through();
        if let Some(r) = self.new_end() {
            return Some(r);
        }
        if let Some(r) = self.changed_watch() {
            return Some(r);
        }
        if let Some(r) = self.step_done() {
            return Some(r);
        }
        let stepped = match self.resume {
            Resume::Step { vm, .. } => Some(vm),
            Resume::Continue => None,
        };
        moved
            .into_iter()
            .filter(|&vm| Some(vm) != stepped)
            .find_map(|vm| self.look_at(vm, false))
    }

    /// Runs a stretch between looks at the connection: whole slices when
    /// continuing with nothing to watch for, else tick by tick.
    fn stretch(&mut self) -> Option<Reason> {
        let free = self.resume == Resume::Continue
            && self.breakpoints.is_empty()
            && self.watches.is_empty();
        if free {
            // Nothing watched: a reported access is long past.
            self.passed = None;
            return self.run(CONTINUE_SLICE).or_else(|| self.new_end());
        }
        (0..STEP_SLICE).find_map(|_| self.tick())
    }

    /// Runs as the debugger asked until it must hear of it, or until
    /// `incoming` says the connection has data.
    pub(super) fn go(&mut self, mut incoming: impl FnMut() -> bool) -> Ran {
        if self.ended.is_some() {
            return Ran::Stopped(MultiThreadStopReason::Terminated(Signal::SIGKILL));
        }
        if std::mem::take(&mut self.fresh)
            && let Some(r) = self.first_look()
        {
            return Ran::Stopped(r);
        }
        loop {
            if incoming() {
                return Ran::Incoming;
            }
            if let Some(r) = self.stretch() {
                return Ran::Stopped(r);
            }
        }
    }

    /// The thread to name on Ctrl-C: the VM on the CPU.
    pub(super) fn interrupted(&self) -> Reason {
        stopped_in(self.host.get().on_cpu(), Signal::SIGINT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::cli::SLICE;
    use hv_host::machine::asm::{self, A0, A1, Asm, T0, T1, T2, T9, ZERO};
    use hv_host::machine::elf::ElfImage;
    use hv_host::machine::{Machine, MachineConfig};
    use hv_host::monitor::{Monitor, MonitorConfig, VmConfig, VmId};

    /// The data the program reads and writes.
    const VAR: u32 = 0x8000_2000;
    /// The plain load of `VAR`.
    const LOAD: u32 = 0x8000_1008;
    /// The `jal` whose delay slot loads `VAR + 4`.
    const JAL: u32 = 0x8000_100c;
    /// The store to `VAR + 8`, the `jal`'s target.
    const STORE: u32 = 0x8000_1018;

    /// Loads VAR, jumps and links with a load of VAR + 4 in the delay slot,
    /// stores t0 at VAR + 8, exits with the code in a1.
    fn program() -> ElfImage {
        let mut a = Asm::new(0x8000_1000);
        a.emit_all(&[
            asm::lui(T0, 0x8000),
            asm::ori(T0, T0, 0x2000),
            asm::lw(T1, 0, T0),
            asm::jal(STORE),
            asm::lw(T2, 4, T0),
            asm::nop(),
            asm::sw(T0, 8, T0),
            asm::addu(A0, A1, ZERO),
            asm::addiu(T9, ZERO, 1),
            asm::sdbbp(1),
        ]);
        let words = a.finish().expect("the program assembles");
        let bytes = hv_tests::ElfBuilder::new(0x8000_1000)
            .code(0x8000_1000, &words)
            .build();
        ElfImage::parse(&bytes).expect("the program is an ELF")
    }

    /// The program on the bare machine, under the debugger.
    fn native() -> Debugged {
        let mut m = Machine::new(MachineConfig { ram_bytes: 1 << 20 }).expect("a machine");
        m.load_elf(&program()).expect("the program loads");
        Debugged::new(Host::Machine(Box::new(m)), SLICE, None)
    }

    /// The program in two VMs under the monitor, exiting with 3 (VM 0)
    /// and 0 (VM 1), under the debugger.
    fn two_vms() -> Debugged {
        let vm = VmConfig {
            ram_bytes: 1 << 20,
            ..VmConfig::default()
        };
        let mut mon = Monitor::new(MonitorConfig::default(), &[vm, vm]).expect("a monitor");
        for i in 0..2 {
            mon.load(VmId(i), &program()).expect("the program loads");
        }
        mon.set_gpr(VmId(0), A1.num(), 3);
        Debugged::new(Host::Monitor(Box::new(mon)), SLICE, None)
    }

    /// Continues (or steps VM `step`) until the next stop.
    fn go(d: &mut Debugged, step: Option<usize>) -> Reason {
        d.next_step = step;
        d.start();
        match d.go(|| false) {
            Ran::Stopped(r) => r,
            Ran::Incoming => unreachable!("no connection"),
        }
    }

    fn pc(d: &Debugged, vm: usize) -> u32 {
        d.host.get().cpu(vm).map_or(0, |c| c.pc.raw())
    }

    fn watch(vm: usize, kind: WatchKind, addr: u32) -> Reason {
        MultiThreadStopReason::Watch {
            tid: tid_of(vm),
            kind,
            addr,
        }
    }

    #[test]
    fn a_read_watchpoint_stops_before_the_load_then_lets_it_through() {
        let mut d = native();
        d.add_watch(VAR, 4, WatchKind::Read);
        assert_eq!(go(&mut d, None), watch(0, WatchKind::Read, VAR));
        assert_eq!(pc(&d, 0), LOAD, "before the load");
        // Going on (gdb steps it with the watchpoint removed; left in, it
        // is let through all the same): nothing else reads VAR.
        assert_eq!(go(&mut d, None), MultiThreadStopReason::Exited(0));
    }

    #[test]
    fn a_watched_access_in_a_delay_slot_stops_at_its_branch() {
        let mut d = native();
        d.add_watch(VAR + 4, 4, WatchKind::ReadWrite);
        assert_eq!(go(&mut d, None), watch(0, WatchKind::ReadWrite, VAR + 4));
        assert_eq!(pc(&d, 0), JAL, "at the branch, not in its slot");
        let cpu = d.host.get().cpu(0).expect("a CPU");
        assert!(!cpu.delay_slot);
        // A step runs the jal (into the slot); the access is not
        // reported again there.
        assert_eq!(go(&mut d, Some(0)), stopped_in(0, Signal::SIGTRAP));
        assert_eq!(pc(&d, 0), JAL + 4);
        assert_eq!(go(&mut d, None), MultiThreadStopReason::Exited(0));
    }

    #[test]
    fn a_write_watchpoint_stops_before_the_store_and_once() {
        let mut d = native();
        d.add_watch(VAR + 8, 4, WatchKind::Write);
        // Reads of the watched range do not stop a write watchpoint.
        d.add_watch(VAR, 4, WatchKind::Write);
        assert_eq!(go(&mut d, None), watch(0, WatchKind::Write, VAR + 8));
        assert_eq!(pc(&d, 0), STORE);
        // The store changes the bytes: that is the access already told.
        assert_eq!(go(&mut d, None), MultiThreadStopReason::Exited(0));
    }

    #[test]
    fn a_step_executes_one_instruction() {
        let mut d = native();
        assert_eq!(go(&mut d, Some(0)), stopped_in(0, Signal::SIGTRAP));
        assert_eq!(pc(&d, 0), 0x8000_1004);
        assert_eq!(d.interrupted(), stopped_in(0, Signal::SIGINT));
    }

    #[test]
    fn breakpoints_stop_every_vm_and_name_it() {
        let mut d = two_vms();
        d.breakpoints.push(STORE);
        assert_eq!(go(&mut d, None), MultiThreadStopReason::SwBreak(tid_of(0)));
        assert_eq!(pc(&d, 0), STORE);
        // Still there: a continue stops again at once, as a CPU would.
        assert_eq!(go(&mut d, None), MultiThreadStopReason::SwBreak(tid_of(0)));
        // Stepped over it (gdb removes its breakpoints to), VM 0 exits
        // while VM 1 runs on: the machine stops, naming VM 0.
        d.breakpoints.clear();
        assert_eq!(go(&mut d, Some(0)), stopped_in(0, Signal::SIGTRAP));
        assert_eq!(pc(&d, 0), STORE + 4);
        d.breakpoints.push(STORE);
        assert_eq!(go(&mut d, None), stopped_in(0, Signal::SIGTRAP));
        assert!(d.vm_ended(0) && !d.vm_ended(1));
        // VM 1 reaches the breakpoint in its own time.
        assert_eq!(go(&mut d, None), MultiThreadStopReason::SwBreak(tid_of(1)));
        assert_eq!(pc(&d, 1), STORE);
        d.breakpoints.clear();
        // The run's status is VM 0's exit code, the first that is not 0.
        assert_eq!(go(&mut d, None), MultiThreadStopReason::Exited(3));
        assert_eq!(d.ended, Some(Stop::Exited(3)));
    }

    #[test]
    fn each_vm_has_its_own_registers_and_memory() {
        let mut d = two_vms();
        d.add_watch(VAR, 4, WatchKind::Read);
        assert_eq!(go(&mut d, None), watch(0, WatchKind::Read, VAR));
        let host = d.host.get_mut();
        assert!(host.write(1, VAR, &[1, 2, 3, 4]));
        assert_eq!(host.read(0, VAR, 4), Some(vec![0; 4]));
        assert_eq!(host.read(1, VAR, 4), Some(vec![1, 2, 3, 4]));
        assert_eq!(host.cpu(0).map(|c| c.gpr[5]), Some(3));
        assert_eq!(host.cpu(1).map(|c| c.gpr[5]), Some(0));
        // VM 0 goes on to its end; VM 1 reads VAR too, later.
        assert_eq!(go(&mut d, None), stopped_in(0, Signal::SIGTRAP));
        assert_eq!(go(&mut d, None), watch(1, WatchKind::Read, VAR));
        assert_eq!(pc(&d, 1), LOAD);
    }

    #[test]
    fn cp0_writes_from_a_g_packet_or_one_register_go_through_the_masks() {
        use super::super::arch::{CP0_EXTRA, RegId, Regs};
        use super::super::tid_of;
        use gdbstub::target::ext::base::multithread::MultiThreadBase;
        use gdbstub::target::ext::base::single_register_access::SingleRegisterAccess;
        use hv_host::machine::cp0::{reg, status};
        let at = |rd| {
            CP0_EXTRA
                .iter()
                .position(|r| r.rd == rd && r.sel == 0)
                .expect("described")
        };
        let (epc, prid) = (at(reg::EPC), at(reg::PRID));
        for (mut d, vm) in [(native(), 0), (two_vms(), 1)] {
            let tid = tid_of(vm);
            let mut regs = Regs::default();
            assert!(d.read_registers(&mut regs, tid).is_ok());
            let before = regs.clone();
            // All registers back (a `G` packet) with Status's IM2 and the
            // read-only FR set, EPC and the read-only PRId changed.
            regs.core.cp0.status |= (1 << 10) | (1 << 26);
            regs.cp0[epc] = 0x8000_0180;
            regs.cp0[prid] ^= 0xffff;
            assert!(d.write_registers(&regs, tid).is_ok());
            let mut after = Regs::default();
            assert!(d.read_registers(&mut after, tid).is_ok());
            assert_eq!(after.core.cp0.status, before.core.cp0.status | (1 << 10));
            assert_eq!(after.cp0[epc], 0x8000_0180);
            assert_eq!(after.cp0[prid], before.cp0[prid], "PRId is read-only");
            assert_eq!(after.core.pc, before.core.pc);
            // One register (`P`): EPC, then Status back; a bad size or
            // number is an error, not a panic.
            let epc_id = RegId(72 + epc);
            assert!(
                d.write_register(tid, epc_id, &0x8000_1234u32.to_le_bytes())
                    .is_ok()
            );
            assert!(
                d.write_register(tid, RegId(32), &before.core.cp0.status.to_le_bytes())
                    .is_ok()
            );
            let mut buf = [0u8; 4];
            assert_eq!(d.read_register(tid, epc_id, &mut buf).ok(), Some(4));
            assert_eq!(u32::from_le_bytes(buf), 0x8000_1234);
            assert_eq!(d.read_register(tid, RegId(32), &mut buf).ok(), Some(4));
            assert_eq!(
                u32::from_le_bytes(buf) & status::IM,
                before.core.cp0.status & status::IM
            );
            assert!(d.write_register(tid, epc_id, &[1, 2]).is_err());
            assert!(d.write_register(tid, RegId(1000), &[0; 4]).is_err());
            assert!(d.read_register(tid, RegId(1000), &mut buf).is_err());
        }
    }
}
