//! Per-VM statistics, named like KVM's `kvm_vcpu_stat` where one exists.

use std::fmt;

/// Why the guest left direct execution.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum ExitReason {
    /// A privileged instruction (Coprocessor Unusable), emulated.
    CopUnusable,
    /// A TLB miss or invalid entry on a load or fetch.
    TlbMissLd,
    /// A TLB miss or invalid entry on a store.
    TlbMissSt,
    /// A store to a clean page.
    TlbMod,
    /// An address error.
    AddrErr,
    /// A system call.
    Syscall,
    /// A breakpoint.
    Break,
    /// A reserved instruction (not a semihosting call or hypercall).
    ResvdInst,
    /// A trap instruction or an overflow.
    Trap,
    /// An interrupt delivered to the guest.
    Int,
    /// `wait`.
    Wait,
    /// `cache`.
    Cache,
    /// A load or store to a device, emulated.
    Mmio,
    /// A UHI semihosting call, emulated.
    Semihost,
    /// A hypercall.
    Hypercall,
    /// A bus error, forwarded.
    BusErr,
}

impl ExitReason {
    /// Every reason, in table order.
    pub const ALL: [ExitReason; 16] = [
        ExitReason::CopUnusable,
        ExitReason::TlbMissLd,
        ExitReason::TlbMissSt,
        ExitReason::TlbMod,
        ExitReason::AddrErr,
        ExitReason::Syscall,
        ExitReason::Break,
        ExitReason::ResvdInst,
        ExitReason::Trap,
        ExitReason::Int,
        ExitReason::Wait,
        ExitReason::Cache,
        ExitReason::Mmio,
        ExitReason::Semihost,
        ExitReason::Hypercall,
        ExitReason::BusErr,
    ];

    /// The name in tables and traces (KVM's where it has one).
    pub fn name(self) -> &'static str {
        match self {
            ExitReason::CopUnusable => "cop_unusable",
            ExitReason::TlbMissLd => "tlbmiss_ld",
            ExitReason::TlbMissSt => "tlbmiss_st",
            ExitReason::TlbMod => "tlbmod",
            ExitReason::AddrErr => "addrerr",
            ExitReason::Syscall => "syscall",
            ExitReason::Break => "break",
            ExitReason::ResvdInst => "resvd_inst",
            ExitReason::Trap => "trap",
            ExitReason::Int => "int",
            ExitReason::Wait => "wait",
            ExitReason::Cache => "cache",
            ExitReason::Mmio => "mmio",
            ExitReason::Semihost => "semihost",
            ExitReason::Hypercall => "hypercall",
            ExitReason::BusErr => "buserr",
        }
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A privileged instruction the monitor emulates, for the
/// `cop_unusable` breakdown ([`VmStats::privileged`] is indexed by it).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum PrivInsn {
    /// Move from CP0.
    Mfc0,
    /// Move to CP0.
    Mtc0,
    /// Exception return.
    Eret,
    /// TLB probe.
    Tlbp,
    /// TLB read.
    Tlbr,
    /// TLB write, indexed.
    Tlbwi,
    /// TLB write, random.
    Tlbwr,
    /// Disable interrupts.
    Di,
    /// Enable interrupts.
    Ei,
    /// Read hardware register.
    Rdhwr,
    /// Read from the previous shadow register set.
    Rdpgpr,
    /// Write to the previous shadow register set.
    Wrpgpr,
}

impl PrivInsn {
    /// Every one, in table order.
    pub const ALL: [PrivInsn; 12] = [
        PrivInsn::Mfc0,
        PrivInsn::Mtc0,
        PrivInsn::Eret,
        PrivInsn::Tlbp,
        PrivInsn::Tlbr,
        PrivInsn::Tlbwi,
        PrivInsn::Tlbwr,
        PrivInsn::Di,
        PrivInsn::Ei,
        PrivInsn::Rdhwr,
        PrivInsn::Rdpgpr,
        PrivInsn::Wrpgpr,
    ];

    /// The mnemonic.
    pub const fn name(self) -> &'static str {
        match self {
            PrivInsn::Mfc0 => "mfc0",
            PrivInsn::Mtc0 => "mtc0",
            PrivInsn::Eret => "eret",
            PrivInsn::Tlbp => "tlbp",
            PrivInsn::Tlbr => "tlbr",
            PrivInsn::Tlbwi => "tlbwi",
            PrivInsn::Tlbwr => "tlbwr",
            PrivInsn::Di => "di",
            PrivInsn::Ei => "ei",
            PrivInsn::Rdhwr => "rdhwr",
            PrivInsn::Rdpgpr => "rdpgpr",
            PrivInsn::Wrpgpr => "wrpgpr",
        }
    }
}

/// The names of [`PrivInsn::ALL`], in table order.
pub const PRIV_NAMES: [&str; 12] = {
    let mut names = [""; 12];
    let mut i = 0;
    while i < names.len() {
        names[i] = PrivInsn::ALL[i].name();
        i += 1;
    }
    names
};

/// A VM's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VmStats {
    /// Guest instructions: executed directly plus emulated.
    pub guest_instructions: u64,
    /// Instructions the monitor emulated (a subset of the above).
    pub emulated_instructions: u64,
    /// Exits by reason, indexed like [`ExitReason::ALL`].
    pub exits: [u64; 16],
    /// Privileged instructions emulated, indexed by [`PrivInsn`] (names in
    /// [`PRIV_NAMES`]).
    pub privileged: [u64; 12],
    /// Exceptions reflected to the guest's own handlers.
    pub forwarded: u64,
    /// Real-TLB misses on addresses the VM's TLB maps, refilled by the
    /// software TLB without entering the guest.
    pub stlb_refills: u64,
    /// TLB misses the VM's own TLB also misses (or finds invalid),
    /// forwarded to its handlers.
    pub refills_forwarded: u64,
    /// Real-TLB misses on addresses the VM's TLB maps validly that the
    /// software TLB could not serve (the page is a device or no memory:
    /// the access is emulated or a bus error).
    pub stlb_unserved: u64,
    /// Refills the monitor did from the guest's page tables
    /// (`RefillWalkSet`), without entering the guest.
    pub walked_refills: u64,
    /// Real-TLB entries put in right after the guest's refill handler
    /// wrote its TLB, saving the miss its retry would take.
    pub prefills: u64,
    /// Real-TLB misses on the VM's unmapped segments (kseg0/kseg1), which
    /// the monitor maps from its memory map.
    pub unmapped_fills: u64,
    /// Frames the monitor zeroed before the VM first saw them.
    pub frames_zeroed: u64,
    /// Guest frames backed by a machine frame now (private or shared).
    pub frames_in_use: u64,
    /// Guest frames page sharing backed with a frame of the same
    /// contents ([`super::share`]).
    pub frames_merged: u64,
    /// Stores that found their frame shared and got a private copy.
    pub cow_breaks: u64,
    /// Guest frames the guest gave back with `FramesRelease` (the
    /// balloon; a frame released twice without use in between counts
    /// once).
    pub frames_released: u64,
    /// Released frames the guest took back with `FramesReclaim`.
    pub frames_reclaimed: u64,
    /// Released frames touched without `FramesReclaim` (by the guest, or
    /// by a monitor write such as the loader's): taken back implicitly,
    /// as zeros.
    pub released_touched: u64,
    /// Machine switches to this VM.
    pub machine_switches: u64,
    /// Clock ticks the VM spent idle (in `wait`).
    pub idle_ticks: u64,
    /// Cycles the monitor charged for its work on this VM's behalf.
    pub monitor_cycles: u64,
    /// Hypercalls by number.
    pub hypercalls: [u64; 16],
    /// First stores to frames the monitor could still vouch were zero
    /// (write tracking; only while "page already zeroed" is offered).
    pub dirty_tracking_faults: u64,
    /// Frames the monitor vouched were zero in `PageZeroed` answers.
    pub frames_vouched: u64,
    /// The global clock tick at which the VM stopped, if it did: how long
    /// it took in virtual time, idle time and other VMs' time included.
    pub stopped_at: Option<u64>,
    /// Polling loops on a device the monitor skipped ([`super::spin`]).
    pub spins_inferred: u64,
    /// Clock ticks those skips saved the VM from spinning.
    pub spin_ticks_skipped: u64,
    /// Clock ticks the VM held the CPU running (its instructions and the
    /// monitor's work for it; not its idle ticks).
    pub cpu_ticks: u64,
    /// When the VM polled a device register that only time changes, and
    /// what the other VMs got of the CPU meanwhile ([`PollWindow`]).
    pub poll: Option<PollWindow>,
}

/// The stretch of virtual time in which a VM polled a device register
/// that only time changes (Linux calibrating its clock against the RTC):
/// from the first to the last load of such a register that repeated the
/// value the same load read at its previous exit, a few instructions
/// before. Recorded with or without spin inference; it shows what a
/// polling VM costs the VMs beside it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PollWindow {
    /// The clock at the first such load.
    pub first: u64,
    /// The clock at the last one.
    pub last: u64,
    /// The other VMs' [`VmStats::cpu_ticks`], added up, at the first.
    pub others_first: u64,
    /// The same at the last.
    pub others_last: u64,
}

impl PollWindow {
    /// Clock ticks from the first poll to the last.
    pub fn ticks(&self) -> u64 {
        self.last - self.first
    }

    /// Clock ticks the other VMs held the CPU within the window.
    pub fn others_ticks(&self) -> u64 {
        self.others_last - self.others_first
    }
}

impl VmStats {
    /// Exits for `reason`.
    pub fn exit_count(&self, reason: ExitReason) -> u64 {
        self.exits[reason as usize]
    }

    /// All exits.
    pub fn exits_total(&self) -> u64 {
        self.exits.iter().sum()
    }

    /// Virtual cycles the VM consumed: its instructions plus the monitor's
    /// work for it.
    pub fn virtual_cycles(&self) -> u64 {
        self.guest_instructions + self.monitor_cycles
    }

    /// The share of real-TLB misses on addresses the VM's TLB maps that
    /// the software TLB served without entering the guest, in percent
    /// (`None` without any).
    pub fn stlb_hit_percent(&self) -> Option<f64> {
        let all = self.stlb_refills + self.stlb_unserved;
        (all > 0).then(|| self.stlb_refills as f64 * 100.0 / all as f64)
    }
}
