//! The virtual machine monitor: runs one or more unmodified MIPS32 guest
//! kernels on the one emulated CPU, each believing it owns the machine, in
//! the manner of Disco on MIPS.
//!
//! A guest kernel runs directly on the CPU, deprivileged to supervisor
//! mode (its user code in user mode), with the machine's virtualization
//! assist on (kseg0/kseg1/kseg3 go through the TLB, see
//! [`crate::machine::mmu`]) and every exception routed to the monitor.
//! The monitor emulates privileged instructions on the VM's virtual CP0
//! ([`emulate`]), reflects the exceptions the guest must see to the
//! guest's own handlers ([`forward`]), refills the real TLB from the VM's
//! TLB and memory map without entering the guest where it can
//! ([`stlb`]), emulates device accesses and semihosting ([`mmio`]), and
//! shares the CPU between VMs by time slices, descheduling a VM that
//! executes `wait` ([`sched`]).
//!
//! | module | owns |
//! |---|---|
//! | [`vm`] | a VM: saved CPU state, virtual CP0 and TLB, memory map, devices, counters |
//! | [`vcpu`] | the virtual CP0: registers, masks, virtual Count/Compare |
//! | [`vtlb`] | the virtual TLB |
//! | [`memory`] | machine frames and each VM's guest-physical map |
//! | [`stlb`] | the guest's view of an address, and the software TLB that fills the real one |
//! | [`emulate`] | trap-and-emulate of privileged instructions |
//! | [`forward`] | reflecting exceptions and interrupts to the guest |
//! | [`mmio`] | device accesses and UHI semihosting |
//! | [`sched`] | time slices, idle inference, machine switches |
//! | [`cost`] | the modelled cost of the monitor's work |
//! | [`stats`] | per-VM counters |
//! | [`trace`] | the exit trace |
//!
//! Time: one global clock, the machine's tick count, advances with guest
//! instructions, with the monitor's modelled costs ([`cost`]) and with
//! idle time; each VM's Count is that clock plus the VM's own offset.

pub mod commpage;
pub mod cost;
pub mod emulate;
pub mod exit;
pub mod forward;
pub mod gmmu;
pub mod guest_mem;
pub mod hypercall;
pub mod memory;
pub mod mmio;
pub mod rtlb;
pub mod sched;
pub mod share;
pub mod snapshot;
pub mod spin;
pub mod stats;
pub mod stlb;
pub mod timeline;
pub mod trace;
pub mod vcpu;
pub mod vm;
pub mod vtlb;
pub mod walk;

use crate::addr::{GuestPhysAddr, GuestVirtAddr};
use crate::machine::elf::ElfImage;
use crate::machine::exception::ExcCode;
use crate::machine::insn::{Instruction, regs};
use crate::machine::{CpuState, Exit, Machine, MachineError, RouteMask, Trap};
use exit::{Action, ExitCtx, ExitError, ExitLog};
use memory::{FramePool, MemoryError};
use rtlb::RealTlb;
pub use snapshot::MonitorImage;
use stats::{ExitReason, VmStats};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use thiserror::Error;
pub use trace::ExitRecord;
pub use vm::{CrashReport, Vm, VmConfig, VmId, VmState, VmStop};

/// Pending console output (per VM) past which [`Monitor::run`] returns so
/// that its owner drains it.
pub const OUTPUT_HIGH_WATER: usize = 64 << 10;

/// How the monitor runs its VMs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MonitorConfig {
    /// Clock ticks a VM may run before another runnable VM gets the CPU.
    pub slice_ticks: u64,
    /// Deschedule a VM that executes `wait` until its next interrupt
    /// (off: it keeps its slice, idling).
    pub idle_inference: bool,
    /// Deschedule a VM that polls a device register only time changes
    /// until just before it changes ([`spin`]; off: it spins).
    pub spin_inference: bool,
    /// Record every exit ([`Monitor::take_trace`]).
    pub trace_exits: bool,
    /// Offer the hypercall interface (`--mode para`); without it `HYPCALL`
    /// raises Reserved Instruction, as on hardware.
    pub hypercalls: bool,
    /// Back frames of the same contents with one machine frame,
    /// copy-on-write ([`share`]).
    pub share_pages: bool,
    /// The most host memory the VMs may take together, in bytes: their
    /// frames and the monitor's state for each ([`Monitor::fixed_bytes`]);
    /// `None`: as many frames as the machine can have (3 GiB).
    pub host_memory_limit: Option<u64>,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            slice_ticks: 100_000,
            idle_inference: true,
            spin_inference: true,
            trace_exits: false,
            hypercalls: false,
            share_pages: false,
            host_memory_limit: None,
        }
    }
}

/// Errors building the monitor or loading a guest.
#[derive(Debug, Error)]
pub enum MonitorError {
    /// No VM was asked for.
    #[error("at least one VM is needed")]
    NoVms,
    /// A VM's RAM size is invalid.
    #[error(
        "{vm}: RAM size {bytes:#x} is invalid: it must be a multiple of 4 KiB from 1 MiB to 256 MiB"
    )]
    BadRamSize {
        /// Which VM.
        vm: VmId,
        /// The size asked for.
        bytes: u32,
    },
    /// A VM's TLB size is invalid.
    #[error(
        "{vm}: a virtual TLB of {entries} entries is invalid: it must have {min} to {max} (an instruction in a branch delay slot can need three pairs of pages in the TLB at once: the branch's, its own and its data's; with fewer, its refills evict each other for ever)",
        min = vtlb::MIN_ENTRIES,
        max = vtlb::MAX_ENTRIES
    )]
    BadTlbSize {
        /// Which VM.
        vm: VmId,
        /// The size asked for.
        entries: usize,
    },
    /// The VMs' own state does not leave room for their frames in the
    /// host memory allowed.
    #[error(
        "{vms} VMs need {fixed_mib} MiB of host memory for the monitor's state of them, and at least 2 MiB more for their frames: more than the {limit_mib} MiB allowed (--max-host-mem)"
    )]
    TooMuchMemory {
        /// How many VMs.
        vms: usize,
        /// Their fixed state, MiB (rounded up).
        fixed_mib: u64,
        /// The limit, MiB.
        limit_mib: u64,
    },
    /// The machine could not be built.
    #[error(transparent)]
    Machine(#[from] MachineError),
    /// A segment does not fit in the VM's RAM.
    #[error(
        "{vm}: segment at guest-physical {gpa} ({len:#x} bytes) does not fit in its RAM ({ram:#x} bytes)"
    )]
    DoesNotFit {
        /// Which VM.
        vm: VmId,
        /// The segment's guest-physical address.
        gpa: GuestPhysAddr,
        /// Its size in memory.
        len: u32,
        /// The VM's RAM size.
        ram: u32,
    },
    /// A Linux boot could not be laid out in the VM.
    #[error("{vm}: {message}")]
    Boot {
        /// Which VM.
        vm: VmId,
        /// What is wrong.
        message: String,
    },
    /// Guest memory could not be written.
    #[error("{vm}: {source}")]
    Memory {
        /// Which VM.
        vm: VmId,
        /// What failed.
        source: MemoryError,
    },
}

/// Why [`Monitor::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorExit {
    /// The tick budget ran out; call `run` again to continue.
    BudgetExhausted,
    /// A VM's console output passed [`OUTPUT_HIGH_WATER`]: drain it.
    OutputPending,
    /// Every VM has stopped.
    AllStopped,
}

/// The monitor and the machine it runs on.
pub struct Monitor {
    machine: Machine,
    config: MonitorConfig,
    pool: FramePool,
    vms: Vec<Vm>,
    /// The VM on the CPU.
    cur: usize,
    /// Clock tick at which the current VM's slice ends.
    slice_end: u64,
    /// The VM whose last stretch on the CPU ended only because the
    /// caller's budget ran out (see [`Monitor::run_current`]): its shared
    /// CP0 page is neither read back nor rewritten across that pause.
    paused: Option<usize>,
    rtlb: RealTlb,
    /// The exit trace and the hypercall log.
    log: ExitLog,
    /// Every waiting VM (and perhaps some that stopped meanwhile).
    waiting: BTreeSet<usize>,
    /// Waiting VMs by the tick their wake-up is next checked at (entries
    /// whose tick is not the VM's `wake_at` are stale): a step looks
    /// only at those due, whatever the number of VMs.
    wake: BinaryHeap<Reverse<(u64, usize)>>,
    /// The VMs that may run (and perhaps some that no longer may, dropped
    /// when met): the round robin picks from these.
    runnable: BTreeSet<usize>,
    /// Ticks the clock skipped with every VM idle, since boot.
    idle_total: u64,
    /// Every VM's [`stats::VmStats::cpu_ticks`] added up.
    cpu_total: u64,
    /// A VM woken in this step passed [`OUTPUT_HIGH_WATER`].
    woke_output: bool,
    /// Page sharing's scans ([`share`]).
    sharing: share::Sharing,
}

impl Monitor {
    /// Selects the engine that runs the guests (see
    /// [`crate::machine::jit`]); both give the same results.
    pub fn set_engine(
        &mut self,
        engine: crate::machine::Engine,
    ) -> Result<(), crate::machine::jit::Unavailable> {
        self.machine.set_engine(engine)
    }

    /// See [`Machine::set_jit_threshold`].
    pub fn set_jit_threshold(&mut self, executions: u32) {
        self.machine.set_jit_threshold(executions);
    }

    /// The engine running the guests.
    pub fn engine(&self) -> crate::machine::Engine {
        self.machine.engine()
    }

    /// Counters of the translating tier.
    pub fn jit_stats(&self) -> crate::machine::JitStats {
        self.machine.jit_stats()
    }

    /// A monitor with one VM per entry of `vms`, each in the reset state,
    /// on a machine with enough memory for all of them.
    pub fn new(config: MonitorConfig, vms: &[VmConfig]) -> Result<Self, MonitorError> {
        if vms.is_empty() {
            return Err(MonitorError::NoVms);
        }
        for (i, c) in vms.iter().enumerate() {
            let vm = VmId(i);
            if !(1 << 20..=256 << 20).contains(&c.ram_bytes) || c.ram_bytes % 4096 != 0 {
                return Err(MonitorError::BadRamSize {
                    vm,
                    bytes: c.ram_bytes,
                });
            }
            if !(vtlb::MIN_ENTRIES..=vtlb::MAX_ENTRIES).contains(&c.vtlb_entries) {
                return Err(MonitorError::BadTlbSize {
                    vm,
                    entries: c.vtlb_entries,
                });
            }
        }
        let sizes: Vec<u32> = vms.iter().map(|c| c.ram_bytes).collect();
        // Enough machine memory for every VM to touch all of its RAM, as
        // far as the machine and the limit allow (then the VMs share the
        // pool: overcommit).
        let mut total = FramePool::machine_bytes_for(&sizes)
            .min(u64::from(crate::machine::bus::MAX_MONITOR_RAM));
        if let Some(limit) = config.host_memory_limit {
            let fixed = Self::fixed_bytes(vms);
            let frames = limit
                .checked_sub(fixed)
                .map(|b| b / u64::from(memory::REGION_ALIGN) * u64::from(memory::REGION_ALIGN))
                .filter(|&b| b >= 2 << 20)
                .ok_or(MonitorError::TooMuchMemory {
                    vms: vms.len(),
                    fixed_mib: fixed.div_ceil(1 << 20),
                    limit_mib: limit >> 20,
                })?;
            // The monitor's own MiB (the zero and ROM frames) beside them.
            total = total.min(frames + u64::from(memory::REGION_ALIGN));
        }
        let bytes = u32::try_from(total).unwrap_or(crate::machine::bus::MAX_MONITOR_RAM);
        let mut machine = Machine::for_monitor(bytes)?;
        let pool = FramePool::new(&mut machine).map_err(|source| MonitorError::Memory {
            vm: VmId(0),
            source,
        })?;
        machine.set_routing(RouteMask(u32::MAX));
        let now = machine.ticks();
        let mut built = Vec::with_capacity(vms.len());
        for (i, c) in vms.iter().enumerate() {
            built.push(Vm::new(VmId(i), c, now));
        }
        let vms = built;
        let n_vms = vms.len();
        let mut m = Self {
            machine,
            config,
            pool,
            vms,
            cur: 0,
            slice_end: 0,
            paused: None,
            rtlb: RealTlb::new(),
            log: ExitLog::default(),
            waiting: BTreeSet::new(),
            wake: BinaryHeap::new(),
            runnable: (0..n_vms).collect(),
            idle_total: 0,
            cpu_total: 0,
            woke_output: false,
            sharing: share::Sharing::new(now),
        };
        if config.hypercalls {
            for vm in &mut m.vms {
                vm.features = hypercall::OFFERED;
            }
        }
        m.enter_current();
        Ok(m)
    }

    /// Host memory the monitor takes for VMs of these configurations
    /// beside their frames: each VM's state (CPU, virtual CP0 and TLB,
    /// board and devices, statistics) and its frame map (6 bytes per
    /// frame of its RAM), with the real machine's fixed part (its caches).
    /// An estimate from the sizes of the structures, which
    /// `--max-host-mem` is checked against before a run.
    pub fn fixed_bytes(vms: &[VmConfig]) -> u64 {
        /// The machine's own: translation and decode caches, the JIT's
        /// table.
        const MACHINE: u64 = 16 << 20;
        /// A VM's state beside its frame map: its board, devices,
        /// statistics and scheduler state, and what a runner keeps per VM
        /// (measured: 336 KiB per idle PV demo VM of the runner's process
        /// beyond its frames, 500 VMs against 1000).
        const PER_VM: u64 = 384 << 10;
        MACHINE
            + vms
                .iter()
                .map(|c| PER_VM + u64::from(c.ram_bytes / memory::FRAME) * 5 + 64)
                .sum::<u64>()
    }

    /// Loads `image` into VM `vm`'s guest-physical memory and points its
    /// CPU at the entry, in the machine's boot state (kernel mode,
    /// BEV=1, ERL=1, `a0` = RAM size).
    pub fn load(&mut self, vm: VmId, image: &ElfImage) -> Result<(), MonitorError> {
        let i = vm.0;
        let Some(v) = self.vms.get_mut(i) else {
            return Err(MonitorError::NoVms);
        };
        let ram = v.mem.ram_bytes();
        for seg in &image.segments {
            let len = seg.len_in_memory();
            if !seg.fits_below(ram) {
                return Err(MonitorError::DoesNotFit {
                    vm,
                    gpa: GuestPhysAddr::new(seg.paddr.raw()),
                    len,
                    ram,
                });
            }
        }
        for seg in &image.segments {
            let gpa = GuestPhysAddr::new(seg.paddr.raw());
            v.mem
                .write(gpa, &seg.data, &mut self.pool, &mut self.machine)
                .map_err(|source| MonitorError::Memory { vm, source })?;
            // The rest of the segment reads zero: frames not allocated yet
            // will be zeroed when first touched; those that are (shared
            // with data) are cleared here.
            let file = seg.data.len() as u32;
            let mut a = seg.paddr.raw() + file;
            let end = seg.paddr.raw() + seg.mem_size.max(file);
            while a < end {
                let next = ((a & !0xfff) + 0x1000).min(end);
                if let Some(ma) = v.mem.peek(GuestPhysAddr::new(a)) {
                    self.machine
                        .zero_machine(ma, next - a)
                        .map_err(|e| MonitorError::Memory {
                            vm,
                            source: e.into(),
                        })?;
                }
                a = next;
            }
        }
        let mut cpu = CpuState {
            pc: image.entry,
            next_pc: image.entry.wrapping_add(4),
            ..CpuState::default()
        };
        cpu.gpr[usize::from(regs::A0)] = ram;
        v.cpu = cpu;
        v.state = VmState::Running;
        self.runnable.insert(i);
        if i == self.cur {
            self.machine.set_cpu_state(&cpu);
            self.enter_current();
        }
        Ok(())
    }

    /// Loads `image` into Malta VM `vm` and boots it as Linux, as QEMU's
    /// boot loader does (`machine::board::malta::plan_linux_boot`): the
    /// initrd and the argument table in guest memory, `a0..a3` and `sp`.
    pub fn boot_linux(
        &mut self,
        vm: VmId,
        image: &ElfImage,
        boot: &crate::machine::board::malta::LinuxBoot<'_>,
    ) -> Result<(), MonitorError> {
        use crate::machine::board::malta::{ENVP_PADDR, plan_linux_boot};
        self.load(vm, image)?;
        let v = self.vms.get_mut(vm.0).ok_or(MonitorError::NoVms)?;
        let plan =
            plan_linux_boot(image, boot, v.mem.ram_bytes()).map_err(|e| MonitorError::Boot {
                vm,
                message: e.to_string(),
            })?;
        let write = |v: &mut Vm, at: u32, bytes: &[u8], p: &mut FramePool, m: &mut Machine| {
            v.mem
                .write(GuestPhysAddr::new(at), bytes, p, m)
                .map_err(|source| MonitorError::Memory { vm, source })
        };
        if let (Some(at), Some(initrd)) = (plan.initrd_at, boot.initrd) {
            write(v, at, initrd, &mut self.pool, &mut self.machine)?;
        }
        write(
            v,
            ENVP_PADDR,
            &plan.table,
            &mut self.pool,
            &mut self.machine,
        )?;
        for (reg, value) in plan.regs {
            self.set_gpr(vm, reg, value);
        }
        Ok(())
    }

    /// Queues bytes on VM `vm`'s console UART receive side; returns how
    /// many it took (the queue is bounded).
    pub fn push_console_input(&mut self, vm: VmId, bytes: &[u8]) -> usize {
        let now = self.now();
        let Some(v) = self.vms.get_mut(vm.0) else {
            return 0;
        };
        let n = v.board.push_input(bytes);
        v.board_accessed(now);
        self.poke(vm.0);
        n
    }

    /// Whether VM `vm` reads its console (its receive interrupt is on).
    pub fn console_wants_input(&self, vm: VmId) -> bool {
        self.vms.get(vm.0).is_some_and(|v| v.board.wants_input())
    }

    /// Received console bytes VM `vm` has not read yet.
    pub fn console_input_len(&self, vm: VmId) -> usize {
        self.vms.get(vm.0).map_or(0, |v| v.board.input_len())
    }

    /// Whether VM `vm` idles, waiting for an interrupt.
    pub fn vm_waiting(&self, vm: VmId) -> bool {
        self.vms
            .get(vm.0)
            .is_some_and(|v| v.state == VmState::Waiting)
    }

    /// Sets general-purpose register `reg` of VM `vm` (a boot argument in
    /// `a1..a3` after [`Monitor::load`], say). Writes to `$zero` and to
    /// numbers above 31 are ignored.
    pub fn set_gpr(&mut self, vm: VmId, reg: u8, value: u32) {
        if !(1..32).contains(&reg) {
            return;
        }
        if vm.0 == self.cur {
            self.machine.set_gpr(reg, value);
        } else if let Some(v) = self.vms.get_mut(vm.0) {
            v.cpu.gpr[usize::from(reg)] = value;
        }
    }

    /// Records what each VM does over virtual time from now on (see
    /// [`timeline`]).
    pub fn record_timeline(&mut self) {
        self.log.timeline = Some(timeline::Timeline::new(self.vms.len()));
    }

    /// The recording of [`Monitor::record_timeline`], if on.
    pub fn timeline(&self) -> Option<&timeline::Timeline> {
        self.log.timeline.as_ref()
    }

    /// Runs the VMs for at most `budget` clock ticks.
    ///
    /// Between steps only what a step can change is looked at (the VM that
    /// ran, the VMs it woke), so that a step costs the same however many
    /// VMs there are.
    pub fn run(&mut self, budget: u64) -> MonitorExit {
        let end = self.machine.ticks().saturating_add(budget);
        if self.vms.iter().all(Vm::stopped) {
            return MonitorExit::AllStopped;
        }
        if self.vms.iter().any(Vm::output_high) {
            return MonitorExit::OutputPending;
        }
        loop {
            if self.machine.ticks() >= end {
                return MonitorExit::BudgetExhausted;
            }
            self.woke_output = false;
            self.step(end);
            // All stopped means the current VM too (a step stops only the
            // VM it runs, or idle ones when every VM idles).
            if self.current().stopped() && self.vms.iter().all(Vm::stopped) {
                return MonitorExit::AllStopped;
            }
            if self.current().output_high() || self.woke_output {
                return MonitorExit::OutputPending;
            }
        }
    }

    /// Runs the current VM until its next exit (or the slice, the timer or
    /// `end`), and handles the exit.
    ///
    /// `end` is the caller's budget, which says nothing about the guest:
    /// a stretch it cuts is resumed as if it had not been cut (the shared
    /// CP0 page stays as it is until the stretch really ends).
    fn run_current(&mut self, end: u64) {
        let now = self.machine.ticks();
        let vm = self.current_mut();
        vm.cp0.tick(now);
        vm.board_tick(now);
        if vm.stopped() {
            return;
        }
        // A paused stretch (a budget end or a page-sharing scan) goes on
        // unless time (a scan's cost) or a poke (input, a debugger) has
        // made an interrupt due by the Status the guest keeps in its
        // shared page: then the stretch ends here, the page is read in,
        // and the interrupt is delivered on what the guest set (not on
        // the stale virtual CP0), its page written before it runs again.
        let deliverable = if self.paused == Some(self.cur) {
            let due = self.ctx().page_interrupt_deliverable();
            if due {
                self.paused = None;
                self.ctx().commpage_in();
            }
            due
        } else {
            let vm = self.current();
            vm.cp0.interrupt_deliverable(vm.irq_lines())
        };
        if deliverable {
            let pc = self.machine.pc();
            let done = self.ctx().deliver_interrupt();
            self.apply(done, pc, None);
            return;
        }
        let vm = self.current();
        let natural = vm.next_event().bound(self.slice_end);
        let stop = natural.min(end.max(now));
        if stop <= now {
            return;
        }
        let pc = self.machine.pc();
        // A stretch cut only by the caller's budget is one pause in one
        // stretch: the shared CP0 page is synced (and its cost charged)
        // at exits and the machine's own stops, never at budget ends, so
        // that the run is the same however the caller slices it.
        if self.paused.take() != Some(self.cur) {
            self.ctx().commpage_out();
        }
        let before = self.machine.instructions();
        let exit = self.machine.run(stop - now);
        let ran = self.machine.instructions() - before;
        self.current_mut().stats.guest_instructions += ran;
        if matches!(exit, Exit::BudgetExhausted) && stop < natural && self.machine.ticks() >= stop {
            self.paused = Some(self.cur);
        } else {
            self.ctx().commpage_in();
        }
        match exit {
            // The guest's console output is the monitor's (per VM), so the
            // machine's own buffer stays empty; nothing to drain.
            Exit::BudgetExhausted | Exit::OutputPending => {}
            Exit::Trap(t) => self.handle_trap(t),
            // The guest never runs in kernel mode and its interrupts are
            // virtual, so neither can happen (and the monitor's machine is
            // a mipssim board: no power-off or reset); stop the VM if they do.
            Exit::Shutdown { .. }
            | Exit::Stalled
            | Exit::PowerOff
            | Exit::Reset
            | Exit::NoHandler(_) => {
                let report = CrashReport {
                    pc: self.machine.pc(),
                    insn: None,
                    cause: "the real CPU stopped unexpectedly".into(),
                };
                let at = self.now();
                let reason = VmStop::Crashed(report);
                self.apply(Ok(Action::Stop { reason, at }), pc, None);
            }
        }
    }

    /// Dispatches a routed exception to its handler and applies the answer.
    fn handle_trap(&mut self, t: Trap) {
        let mut cx = self.ctx();
        cx.charge(cost::EXIT);
        let done = match t.code {
            ExcCode::CpU if t.coprocessor == 0 => cx.privileged(t),
            ExcCode::Tlbl | ExcCode::Tlbs | ExcCode::Mod => cx.tlb_fault(t),
            ExcCode::Ri => cx.reserved(t),
            ExcCode::Sys => cx.forward_trap(t, ExitReason::Syscall),
            ExcCode::Bp => cx.forward_trap(t, ExitReason::Break),
            ExcCode::Ov | ExcCode::Tr => cx.forward_trap(t, ExitReason::Trap),
            ExcCode::AdEL | ExcCode::AdES => cx.forward_trap(t, ExitReason::AddrErr),
            ExcCode::CpU => cx.forward_trap(t, ExitReason::CopUnusable),
            ExcCode::Ibe | ExcCode::Dbe => cx.forward_trap(t, ExitReason::BusErr),
            ExcCode::Int => Ok(Action::Resume),
        };
        self.apply(done, t.pc, t.insn);
    }

    /// Applies a handler's answer to the current VM (an exit at `pc` on
    /// `insn`, for a crash report).
    fn apply(
        &mut self,
        done: Result<Action, ExitError>,
        pc: GuestVirtAddr,
        insn: Option<Instruction>,
    ) {
        let now = self.now();
        let cur = self.cur;
        let vm = &mut self.vms[cur];
        match done {
            Ok(Action::Resume) => {}
            Ok(Action::Wait) => {
                if vm.state != VmState::Waiting {
                    vm.state = VmState::Waiting;
                    vm.idle_mark = self.idle_total;
                    self.waiting.insert(cur);
                    // Checked at the next step (an interrupt may be
                    // pending already).
                    vm.wake_at = 0;
                    self.wake.push(Reverse((0, cur)));
                }
            }
            Ok(Action::Stop { reason, at }) => vm.stop(reason, at),
            Err(e) => vm.stop(VmStop::Crashed(e.report(pc, insn)), now),
        }
    }

    /// The context the current VM's exit handlers work in.
    fn ctx(&mut self) -> ExitCtx<'_> {
        let cur = self.cur;
        ExitCtx {
            vm: &mut self.vms[cur],
            machine: &mut self.machine,
            rtlb: &mut self.rtlb,
            pool: &mut self.pool,
            config: &self.config,
            log: &mut self.log,
        }
    }

    /// The VM on the CPU (its CPU state is live in the machine).
    fn current(&self) -> &Vm {
        let cur = self.cur;
        &self.vms[cur]
    }

    /// The VM on the CPU, to change.
    fn current_mut(&mut self) -> &mut Vm {
        let cur = self.cur;
        &mut self.vms[cur]
    }

    /// The current clock tick.
    fn now(&self) -> u64 {
        self.machine.ticks()
    }

    /// Puts the current VM's mode on the real CPU after a switch or load.
    fn enter_current(&mut self) {
        self.ctx().apply_mode();
        self.slice_end = self.machine.ticks() + self.config.slice_ticks;
    }

    // ----- the public view -----

    /// Number of VMs.
    pub fn vm_count(&self) -> usize {
        self.vms.len()
    }

    /// The configuration.
    pub fn config(&self) -> &MonitorConfig {
        &self.config
    }

    /// The global clock: guest instructions, monitor costs and idle ticks.
    pub fn ticks(&self) -> u64 {
        self.machine.ticks()
    }

    /// The VM on the CPU: the one that runs next unless the scheduler
    /// switches (for a debugger, which names it on Ctrl-C).
    pub fn running_vm(&self) -> VmId {
        VmId(self.cur)
    }

    /// VM `vm`, if it exists (its CPU state through
    /// [`Monitor::cpu_state`]).
    pub fn vm(&self, vm: VmId) -> Option<&Vm> {
        self.vms.get(vm.0)
    }

    /// VM `vm`'s CPU state now: the machine's for the VM on the CPU, the
    /// saved one for the others.
    pub fn cpu_state(&self, vm: VmId) -> Option<CpuState> {
        if vm.0 == self.cur {
            Some(self.machine.cpu_state())
        } else {
            self.vms.get(vm.0).map(|v| v.cpu)
        }
    }

    /// Sets VM `vm`'s CPU state (for a debugger): the machine's if it is
    /// on the CPU, else the saved one.
    pub fn set_cpu_state(&mut self, vm: VmId, s: &CpuState) {
        if vm.0 == self.cur {
            self.machine.set_cpu_state(s);
        } else if let Some(v) = self.vms.get_mut(vm.0) {
            v.cpu = *s;
            v.cpu.gpr[0] = 0;
        }
    }

    /// CP0 register `rd`/`sel` of VM `vm` as its guest reads it now.
    pub fn guest_cp0(&self, vm: VmId, rd: u8, sel: u8) -> Option<u32> {
        let v = self.vms.get(vm.0)?;
        Some(v.cp0.read(rd, sel, self.machine.ticks(), v.irq_lines()))
    }

    /// Writes CP0 register `rd`/`sel` of VM `vm` exactly as an emulated
    /// `mtc0` of the guest would (for a debugger): through the register's
    /// write mask, so read-only bits and registers keep their value, and
    /// with the same side effects (a change of mode, ERL or ASID puts the
    /// real CPU in the VM's new mode if it is on the CPU, else when it
    /// gets it; a software interrupt it raises or unmasks is delivered,
    /// and a waiting VM woken, before the VM's next instruction; a moved
    /// timer deadline bounds its next stretch). A VM stopped in the middle
    /// of a stretch has its shared CP0 page (`--mode para`) synced first,
    /// as at an exit, so that neither the guest's nor the debugger's
    /// writes are lost. Returns the register as the guest reads it
    /// afterwards (the masked result); `None` if there is no VM `vm`.
    pub fn set_guest_cp0(&mut self, vm: VmId, rd: u8, sel: u8, value: u32) -> Option<u32> {
        self.vms.get(vm.0)?;
        let now = self.now();
        if vm.0 == self.cur {
            if self.paused.take() == Some(self.cur) {
                // The stretch ends here, as at an exit: the next one
                // writes the page afresh.
                self.ctx().commpage_in();
            }
            let fx = self.current_mut().cp0.write(rd, sel, value, now);
            self.ctx().apply_effects(fx);
        } else {
            // A VM off the CPU gets its mode, and a flushed real TLB,
            // when it is switched in; its page is written then.
            self.vms[vm.0].cp0.write(rd, sel, value, now);
            // A software interrupt may wake it.
            self.poke(vm.0);
        }
        self.guest_cp0(vm, rd, sel)
    }

    /// Reads `len` bytes at guest-virtual `va` as VM `vm` would load them
    /// now (through its own TLB and mode; for a debugger): RAM it never
    /// touched reads as zeros, its boot ROM as the board's image. `None`
    /// if a page does not translate or is a device.
    pub fn read_guest(&self, vm: VmId, va: GuestVirtAddr, len: u32) -> Option<Vec<u8>> {
        use crate::machine::board::PageKind;
        use crate::machine::exception::Access;
        let v = self.vms.get(vm.0)?;
        let mut out = Vec::new();
        let mut a = va;
        let mut left = len;
        while left > 0 {
            let chunk = left.min(0x1000 - (a.raw() & 0xfff));
            let g = gmmu::guest_translate(v, a, Access::Load).ok()?;
            match v.board.page_kind(g.gpa) {
                // `peek` gives the byte's own machine address.
                PageKind::Ram => match v.mem.peek(g.gpa) {
                    Some(at) => out.extend(self.machine.read_phys(at, chunk)?),
                    None => out.extend(std::iter::repeat_n(0, chunk as usize)),
                },
                PageKind::Rom => {
                    let frame = self.pool.rom_frame(g.gpa, v.board.kind());
                    out.extend(
                        self.machine
                            .read_phys(frame.wrapping_add(g.gpa.raw() & 0xfff), chunk)?,
                    );
                }
                _ => return None,
            }
            left -= chunk;
            if left > 0 {
                a = a.checked_add(chunk)?;
            }
        }
        Some(out)
    }

    /// Writes `bytes` at guest-virtual `va` as VM `vm` would store them
    /// now (for a debugger): RAM only; whether every byte was written.
    pub fn write_guest(&mut self, vm: VmId, va: GuestVirtAddr, bytes: &[u8]) -> bool {
        use crate::machine::board::PageKind;
        use crate::machine::exception::Access;
        let Some(v) = self.vms.get_mut(vm.0) else {
            return false;
        };
        let mut a = va;
        let mut rest = bytes;
        while !rest.is_empty() {
            let chunk = rest.len().min((0x1000 - (a.raw() & 0xfff)) as usize);
            let Ok(g) = gmmu::guest_translate(v, a, Access::Store) else {
                return false;
            };
            if v.board.page_kind(g.gpa) != PageKind::Ram {
                return false;
            }
            let Ok((frame, copied)) =
                v.mem
                    .private_frame(g.gpa.align_down(0x1000), &mut self.pool, &mut self.machine)
            else {
                return false;
            };
            if copied && vm.0 == self.cur {
                // The old frame may still be mapped.
                self.rtlb.flush(&mut self.machine);
            }
            v.mem.mark_written(g.gpa);
            let at = frame.wrapping_add(g.gpa.raw() & 0xfff);
            if self.machine.write_phys(at, &rest[..chunk]).is_err() {
                return false;
            }
            rest = &rest[chunk..];
            if !rest.is_empty() {
                match a.checked_add(chunk as u32) {
                    Some(next) => a = next,
                    None => return false,
                }
            }
        }
        true
    }

    /// VM `vm`'s counters.
    pub fn stats(&self, vm: VmId) -> Option<VmStats> {
        let v = self.vms.get(vm.0)?;
        Some(VmStats {
            frames_zeroed: v.mem.frames_zeroed,
            idle_ticks: v.stats.idle_ticks + self.idle_pending(v),
            frames_in_use: v.mem.frames_in_use(),
            frames_merged: v.mem.frames_merged,
            cow_breaks: v.mem.cow_breaks,
            frames_released: v.mem.frames_released,
            frames_reclaimed: v.mem.frames_reclaimed,
            released_touched: v.mem.released_touched,
            ..v.stats.clone()
        })
    }

    /// Why VM `vm` stopped, if it did.
    pub fn stop_reason(&self, vm: VmId) -> Option<&VmStop> {
        match &self.vms.get(vm.0)?.state {
            VmState::Stopped(s) => Some(s),
            _ => None,
        }
    }

    /// Takes VM `vm`'s console output (UART and UHI fd 1).
    pub fn take_console(&mut self, vm: VmId) -> Vec<u8> {
        self.vms
            .get_mut(vm.0)
            .map(|v| core::mem::take(&mut v.console))
            .unwrap_or_default()
    }

    /// Takes VM `vm`'s UHI fd 2 output.
    pub fn take_stderr(&mut self, vm: VmId) -> Vec<u8> {
        self.vms
            .get_mut(vm.0)
            .map(|v| core::mem::take(&mut v.stderr))
            .unwrap_or_default()
    }

    /// Records every hypercall (number, arguments, result) from now on,
    /// for [`Monitor::take_hypercalls`]; the owner must drain them.
    pub fn record_hypercalls(&mut self, on: bool) {
        self.log.record_hypercalls = on;
    }

    /// Takes the hypercalls recorded since the last call.
    pub fn take_hypercalls(&mut self) -> Vec<(VmId, hypercall::HypercallRecord)> {
        core::mem::take(&mut self.log.hypercalls)
    }

    /// Takes the exits recorded since the last call.
    pub fn take_trace(&mut self) -> Vec<ExitRecord> {
        core::mem::take(&mut self.log.trace)
    }

    /// The next instruction VM `vm` will execute.
    pub fn vm_pc(&self, vm: VmId) -> Option<GuestVirtAddr> {
        if vm.0 == self.cur {
            Some(self.machine.pc())
        } else {
            self.vms.get(vm.0).map(|v| v.cpu.pc)
        }
    }

    /// The instruction word at `va` as VM `vm` sees it now (for
    /// diagnostics; allocates nothing).
    pub fn guest_word(&self, vm: VmId, va: GuestVirtAddr) -> Option<Instruction> {
        gmmu::guest_word(self.vms.get(vm.0)?, &self.machine, va)
    }
}

#[cfg(test)]
mod tests;
