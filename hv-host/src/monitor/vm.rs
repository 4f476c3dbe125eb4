//! A virtual machine: its saved CPU state, virtual CP0 and TLB, its
//! guest-physical memory (frames), its board (the map of its
//! guest-physical address space and its devices, built by the machine's
//! board code), its consoles and its counters. The monitor ([`super::Monitor`]) runs one VM at a time on
//! the real CPU; everything else about a VM lives here.

use super::memory::GuestMemory;
use super::stats::VmStats;
use super::vcpu::VirtCp0;
use super::vtlb::VirtTlb;
use crate::addr::GuestVirtAddr;
use crate::machine::board::{Board, BoardEvent, BoardKind};
use crate::machine::insn::Instruction;
use crate::machine::{CpuState, Deadline};

/// A VM's number (0-based, in the order the VMs were created).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct VmId(pub usize);

impl std::fmt::Display for VmId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "vm{}", self.0)
    }
}

/// How a VM is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VmConfig {
    /// Guest RAM in bytes: a multiple of 4 KiB from 1 MiB to 256 MiB.
    pub ram_bytes: u32,
    /// Entries of the virtual TLB (1 to 64; the machine's is 32).
    pub vtlb_entries: usize,
    /// The board the VM believes it runs on.
    pub board: BoardKind,
}

impl Default for VmConfig {
    fn default() -> Self {
        Self {
            ram_bytes: 64 << 20,
            vtlb_entries: crate::machine::tlb::TLB_ENTRIES,
            board: BoardKind::Mipssim,
        }
    }
}

/// Why a VM stopped.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum VmStop {
    /// The guest called UHI `exit` (or the `Shutdown` hypercall) with
    /// this code.
    Exited(i32),
    /// The guest powered its board off (Malta's PIIX4 soft-off).
    PowerOff,
    /// The guest reset its board (Malta's FPGA SOFTRES).
    Reset,
    /// The guest executes `wait` and nothing can ever wake it: the timer
    /// is masked (Status.IM7 clear) or frozen, and nothing is pending.
    Stalled,
    /// The guest cannot make progress, or the monitor could not serve it.
    Crashed(CrashReport),
}

/// Where and why a guest was stopped.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CrashReport {
    /// The instruction's address.
    pub pc: GuestVirtAddr,
    /// The instruction, if it could be read.
    pub insn: Option<Instruction>,
    /// What happened.
    pub cause: String,
}

/// Whether a VM can run.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum VmState {
    /// Runnable.
    Running,
    /// In `wait` until an unmasked interrupt is pending.
    Waiting,
    /// Stopped for good.
    Stopped(VmStop),
}

/// One virtual machine.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Vm {
    /// Its number.
    pub(super) id: VmId,
    /// The unprivileged CPU state while the VM is not on the CPU (stale
    /// while it is: the machine holds it then, see
    /// [`super::Monitor::cpu_state`]).
    pub(super) cpu: CpuState,
    /// The virtual CP0.
    pub(super) cp0: VirtCp0,
    /// The virtual TLB.
    pub(super) tlb: VirtTlb,
    /// Guest-physical memory: its RAM's machine frames.
    pub(super) mem: GuestMemory,
    /// Its board: what each guest-physical address is, and its devices.
    #[serde(skip, default = "Board::placeholder")]
    pub(super) board: Board,
    /// The clock tick of the board's next device event.
    pub(super) board_event_at: Deadline,
    /// Console output (UART and UHI fd 1) not yet taken.
    pub(super) console: Vec<u8>,
    /// UHI fd 2 output not yet taken.
    pub(super) stderr: Vec<u8>,
    /// Whether it can run.
    pub(super) state: VmState,
    /// Counters.
    pub(super) stats: VmStats,
    /// The hypercall features still offered to this VM (the monitor's,
    /// less those the guest turned off).
    pub(super) features: hv_abi::Features,
    /// While waiting after `IdleYield`: its deadline (never, when Count
    /// is frozen and the timer stopped: only an interrupt ends the wait).
    pub(super) yield_until: Option<Deadline>,
    /// Whether its wait is a skipped polling loop ([`super::spin`]): it
    /// wakes for an interrupt only if it would take it.
    pub(super) spinning: bool,
    /// While waiting: the tick its wake-up is next checked at (its key in
    /// the scheduler's queue; `u64::MAX`: none).
    pub(super) wake_at: u64,
    /// While waiting: the monitor's all-idle ticks when it began to wait
    /// (its idle ticks are added when it stops waiting).
    pub(super) idle_mark: u64,
    /// The watch for polling loops.
    pub(super) spin: super::spin::SpinWatch,
    /// While it runs: the other VMs' CPU ticks added up (they cannot
    /// change until it leaves the CPU), for its [`super::stats::PollWindow`].
    pub(super) others_cpu: u64,
    /// The guest-physical frame of the page of CP0 registers it shares
    /// (`CommpageSet`).
    pub(super) commpage: Option<crate::addr::GuestPhysAddr>,
    /// The kseg0 address of the word holding the guest's page directory,
    /// when the monitor refills its TLB from its page tables
    /// (`RefillWalkSet`).
    pub(super) refill_walk: Option<GuestVirtAddr>,
    /// The address of the last TLB refill forwarded to the guest: its
    /// next TLB write most likely maps it, and the monitor then puts the
    /// mapping in the real TLB at once.
    pub(super) pending_refill: Option<GuestVirtAddr>,
    /// The last exception forwarded to the guest.
    pub(super) last_fault: Option<LastFault>,
    /// Exceptions forwarded, watched for a vector with no handler.
    pub(super) handlers: crate::machine::exception::HandlerWatch,
}

/// The last exception forwarded to a guest, to tell one that faults at
/// the same place for ever without completing an instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct LastFault {
    /// Guest instructions completed when it was forwarded.
    pub done: u64,
    /// Where it was raised.
    pub pc: GuestVirtAddr,
    /// What it was.
    pub code: crate::machine::exception::ExcCode,
    /// How often it repeated before, with no progress in between.
    pub repeats: u32,
}

impl Vm {
    /// Whether its console output not taken yet passed
    /// [`super::OUTPUT_HIGH_WATER`].
    pub(super) fn output_high(&self) -> bool {
        self.console.len() + self.stderr.len() > super::OUTPUT_HIGH_WATER
    }

    /// Its number.
    pub fn id(&self) -> VmId {
        self.id
    }

    /// Its virtual TLB, as the guest wrote it.
    pub fn tlb(&self) -> &VirtTlb {
        &self.tlb
    }

    /// Its virtual CP0 (as the guest last left it; Count and Random
    /// derive from the clock).
    pub fn cp0(&self) -> &VirtCp0 {
        &self.cp0
    }

    /// Its guest-physical memory map.
    pub fn memory(&self) -> &GuestMemory {
        &self.mem
    }

    /// Its counters.
    pub fn stats(&self) -> &VmStats {
        &self.stats
    }

    /// Whether it can run.
    pub fn state(&self) -> &VmState {
        &self.state
    }

    /// A VM in the reset state at clock tick `now`, no frame of its RAM in
    /// use yet.
    pub fn new(id: VmId, config: &VmConfig, now: u64) -> Self {
        let tlb = VirtTlb::new(config.vtlb_entries);
        let board = config.board.build(config.ram_bytes);
        let mut vm = Self {
            id,
            cpu: CpuState::default(),
            cp0: VirtCp0::reset(now, tlb.len()),
            tlb,
            mem: GuestMemory::new(config.ram_bytes),
            board,
            board_event_at: Deadline::NEVER,
            console: Vec::new(),
            stderr: Vec::new(),
            state: VmState::Running,
            stats: VmStats::default(),
            features: hv_abi::Features::empty(),
            yield_until: None,
            spinning: false,
            wake_at: u64::MAX,
            idle_mark: 0,
            spin: Default::default(),
            others_cpu: 0,
            commpage: None,
            refill_walk: None,
            pending_refill: None,
            last_fault: None,
            handlers: Default::default(),
        };
        // The CPU the board has (Malta: a 24Kc with caches; Linux sizes its
        // cache lines from Config1).
        if let Some((config1, config3)) = vm.board.cpu_config() {
            vm.cp0.regs.config1 = config1;
            vm.cp0.regs.config3 = config3;
        }
        vm.board_accessed(now);
        vm
    }

    /// Its board.
    pub fn board(&self) -> &Board {
        &self.board
    }

    /// The VM's device interrupt lines as Cause bits IP6..IP2.
    pub fn irq_lines(&self) -> u32 {
        self.board.irq_lines()
    }

    /// After a device access or event at clock tick `now`: moves its
    /// console output, stops the VM on power-off or reset, and schedules
    /// its board's next event.
    pub(super) fn board_accessed(&mut self, now: u64) {
        self.board.drain_output(&mut self.console);
        let event = self.board.take_event();
        self.board_event_at = Deadline::from(self.board.next_event()).not_before(now + 1);
        match event {
            Some(BoardEvent::PowerOff) => self.stop(VmStop::PowerOff, now),
            Some(BoardEvent::Reset) => self.stop(VmStop::Reset, now),
            None => {}
        }
    }

    /// Advances the board's devices to clock tick `now` if an event is due.
    pub(super) fn board_tick(&mut self, now: u64) {
        if self.board_event_at.reached(now) {
            self.board.tick(now);
            self.board_accessed(now);
        }
    }

    /// The VM's next timer event: its Count = Compare or its board's next
    /// device event, whichever comes first.
    pub fn next_event(&self) -> Deadline {
        self.cp0.deadline().min(self.board_event_at)
    }

    /// Whether the monitor tracks writes to this VM's frames (it must,
    /// to answer "page already zeroed").
    pub fn tracks_writes(&self) -> bool {
        self.features.contains(hv_abi::Features::PAGE_ZEROED)
    }

    /// Whether the VM has stopped for good.
    pub fn stopped(&self) -> bool {
        matches!(self.state, VmState::Stopped(_))
    }

    /// Stops the VM for good at clock tick `now`.
    pub(super) fn stop(&mut self, reason: VmStop, now: u64) {
        self.state = VmState::Stopped(reason);
        self.stats.stopped_at = Some(now);
    }
}
