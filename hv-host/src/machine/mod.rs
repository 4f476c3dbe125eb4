//! The emulated MIPS32 Release 2 little-endian machine: CPU, CP0, JTLB,
//! exceptions, the Count/Compare timer and UHI semihosting, on a board
//! ([`board`]: QEMU's `mipssim` by default, with its 16550 UART, RAM and
//! boot ROM window, or QEMU's `malta`).
//!
//! [`Machine::run`] executes until an instruction budget runs out, the guest
//! halts, or an event the host must see, and returns an [`Exit`] saying why.
//!
//! # Time
//! Time is counted in *ticks*: one tick per executed instruction, plus the
//! ticks spent in `wait` (the machine skips straight to the next timer
//! event). CP0 Count increments once per tick. Nothing depends on the host
//! clock, so the same image and flags give the same instruction count,
//! output and exit code on every run.
//!
//! # Boot convention
//! [`Machine::load_elf`] leaves the CPU as after a cold reset (kernel mode,
//! Status.BEV=1, Status.ERL=1, as on QEMU) at the ELF entry point, with
//! `a0` = RAM size in bytes and `a1..a3` = 0. Other registers are zero.
//!
//! # Host routing
//! [`Machine::set_routing`] selects exception codes that go to the host
//! instead of the guest's vectors: the CPU then stays at the raising
//! instruction and `run` returns [`Exit::Trap`]. A monitor runs a guest
//! kernel in supervisor mode and routes Coprocessor Unusable (privileged
//! instructions), TLB faults and system calls this way. The check sits on
//! the exception path only, so plain execution pays nothing for it.

// The test assembler: only with feature `test-support` (and in this
// crate's own tests), so the production build does not carry it.
#[cfg(any(test, feature = "test-support"))]
pub mod asm;
pub mod board;
pub mod bus;
pub mod code;
pub mod console;
pub mod cp0;
pub mod decode;
pub mod devices;
pub mod disasm;
pub mod elf;
pub mod exception;
mod exec;
pub mod host;
pub mod insn;
pub mod jit;
pub mod mmu;
pub mod ram;
pub mod semihost;
pub mod snapshot;
pub mod timer;
pub mod tlb;
pub mod unaligned;
pub mod xlat;

use thiserror::Error;

use crate::addr::{GuestVirtAddr, MachineAddr};
use board::BoardKind;
use bus::{Bus, MAX_RAM, PAGE_SIZE};
use code::CodeCache;
use cp0::Cp0;
pub use exception::{ExcCode, Trap};
pub use jit::{Engine, JitStats};
use mmu::Regime;
pub use snapshot::MachineImage;
pub use timer::Deadline;
use tlb::{TLB_ENTRIES, Tlb};
use xlat::{INVALID_TAG, SETS_ENTRIES, Xlat};

/// How the machine is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MachineConfig {
    /// RAM size in bytes: a multiple of 4 KiB, from 1 MiB to 256 MiB.
    pub ram_bytes: u32,
}

impl Default for MachineConfig {
    fn default() -> Self {
        Self {
            ram_bytes: 64 << 20,
        }
    }
}

/// Errors building a machine.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MachineError {
    /// The RAM size is out of range or not a multiple of 4 KiB.
    #[error(
        "RAM size {0:#x} bytes is invalid: it must be a multiple of 4 KiB from 1 MiB to 256 MiB"
    )]
    BadRamSize(u32),
    /// The monitor's machine memory is out of range.
    #[error(
        "machine memory of {0:#x} bytes is invalid: it must be a multiple of 4 KiB from 1 MiB to 3 GiB"
    )]
    BadMonitorRamSize(u32),
    /// The host would not map the machine's memory.
    #[error("the host cannot map {bytes} bytes of machine memory: {reason}")]
    NoHostMemory {
        /// Bytes asked for.
        bytes: u64,
        /// The host's answer.
        reason: String,
    },
}

/// Errors of the host's direct accesses to machine memory.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MemError {
    /// Part of the range is not RAM or ROM (or the range wraps).
    #[error("machine address {0} is not memory")]
    NotMemory(MachineAddr),
    /// The range reaches the read-only boot ROM.
    #[error("machine address {0} is read-only")]
    ReadOnly(MachineAddr),
}

/// The complete unprivileged CPU state: what a monitor saves and restores
/// around a machine switch (CP0 is the monitor's own, per VM).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CpuState {
    /// General-purpose registers (`gpr[0]` is always 0).
    pub gpr: [u32; 32],
    /// HI.
    pub hi: u32,
    /// LO.
    pub lo: u32,
    /// The next instruction to execute.
    pub pc: GuestVirtAddr,
    /// The instruction after it (a branch target when `pc` is a delay slot).
    pub next_pc: GuestVirtAddr,
    /// Whether `pc` is in a branch delay slot.
    pub delay_slot: bool,
    /// The LL bit.
    pub ll_bit: bool,
}

/// The privilege level the host runs code at (see
/// [`Machine::set_privilege`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Privilege {
    /// Kernel mode.
    Kernel,
    /// Supervisor mode.
    Supervisor,
    /// User mode.
    User,
}

/// Errors loading an image.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum LoadError {
    /// A segment does not fit in the machine's memory.
    #[error(
        "segment at physical {paddr} ({len:#x} bytes) does not fit in memory (RAM ends at {ram_end})"
    )]
    DoesNotFit {
        /// Physical address of the segment.
        paddr: MachineAddr,
        /// Bytes in memory.
        len: u32,
        /// First address past RAM.
        ram_end: MachineAddr,
    },
}

/// Why [`Machine::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Exit {
    /// The tick budget ran out; call `run` again to continue.
    BudgetExhausted,
    /// The guest asked to stop through UHI semihosting `exit`, with its code.
    Shutdown {
        /// The exit code the guest passed.
        code: i32,
    },
    /// The CPU executes `wait` and nothing can ever wake it: the timer
    /// interrupt is masked (Status.IM7 clear) or Count is stopped
    /// (Cause.DC set), and no other line is pending.
    Stalled,
    /// An exception routed to the host (see [`Machine::set_routing`]).
    Trap(Trap),
    /// The guest powered the board off (Malta: PIIX4 soft-off).
    PowerOff,
    /// The guest reset the board (Malta: FPGA SOFTRES).
    Reset,
    /// The guest entered an exception vector that holds no handler (see
    /// [`exception::HandlerWatch`]): it would loop through its vectors
    /// forever.
    NoHandler(exception::NoHandler),
    /// The pending console output reached [`console::OUTPUT_LIMIT`] bytes:
    /// drain it ([`Machine::take_stdout`], [`Machine::take_stderr`]) and
    /// call `run` again to continue. The guest sees nothing: the run just
    /// ended early, after a whole instruction.
    OutputPending,
}

/// A set of exception codes routed to the host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RouteMask(pub u32);

impl RouteMask {
    /// Routes nothing: every exception goes to the guest (native mode).
    pub const NONE: RouteMask = RouteMask(0);

    /// This set plus `code`.
    pub const fn with(self, code: ExcCode) -> RouteMask {
        RouteMask(self.0 | 1 << code as u32)
    }

    /// Whether `code` is routed.
    pub const fn contains(self, code: ExcCode) -> bool {
        self.0 & (1 << code as u32) != 0
    }
}

/// Counters the machine keeps about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MachineStats {
    /// Exceptions delivered to the guest, by Cause.ExcCode.
    pub exceptions: [u64; 32],
    /// Ticks spent in `wait`.
    pub idle_ticks: u64,
}

/// One executed instruction, as [`Machine::run_traced`] records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    /// Instructions executed before this one.
    pub icount: u64,
    /// Its address.
    pub pc: GuestVirtAddr,
    /// The instruction word (`Display` disassembles it).
    pub insn: insn::Instruction,
}

/// The machine.
pub struct Machine {
    // CPU state. `gpr` has a scratch slot past the 32 registers
    // (`decode::SINK`) and is padded to 64 so that masked indices need no
    // bounds check.
    pub(crate) gpr: [u32; 64],
    pub(crate) hi: u32,
    pub(crate) lo: u32,
    /// The next instruction to execute.
    pub(crate) pc: u32,
    /// The instruction after it (a branch target when `pc` is a delay slot).
    pub(crate) next_pc: u32,
    /// Whether `pc` is in a branch delay slot.
    pub(crate) delay_slot: bool,
    /// The instruction being executed, and whether it is in a delay slot.
    pub(crate) cur_pc: u32,
    pub(crate) cur_delay: bool,
    pub(crate) ll_bit: bool,
    pub(crate) cp0: Cp0,
    pub(crate) tlb: Tlb,
    pub(crate) bus: Bus,
    pub(crate) code: CodeCache,
    pub(crate) xlat: Xlat,
    /// Exceptions entered, watched for a vector with no handler.
    pub(crate) handlers: exception::HandlerWatch,
    pub(crate) regime: Regime,
    // One-entry fetch cache: virtual page, buffer page, code slot.
    fetch_tag: u32,
    fetch_base: u32,
    fetch_slot: u32,
    // Time.
    pub(crate) icount: u64,
    idle_ticks: u64,
    /// Ticks charged by the host (a monitor's modelled cost of its work).
    charged_ticks: u64,
    /// The virtualization assist (see [`mmu`]).
    pub(crate) guest_regime: bool,
    /// The inner loop runs while `icount < stop_at`; set to 0 to break out.
    pub(crate) stop_at: u64,
    /// Tick of the board's next device event.
    pub(crate) board_event_at: Deadline,
    waiting: bool,
    exit: Option<Exit>,
    pub(crate) route: RouteMask,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    pub(crate) stats: MachineStats,
    /// The translating tier, when the engine is [`Engine::Jit`].
    jit: Option<Box<jit::Jit>>,
    /// A monitor's machine: its translating tier folds the high address
    /// bits into the dispatch index ([`jit::INDEX_FOLD`]).
    jit_fold: bool,
}

impl Machine {
    /// Builds a machine with zeroed RAM, in the reset state at the reset
    /// vector (0xbfc0_0000): the `mipssim` board.
    pub fn new(config: MachineConfig) -> Result<Self, MachineError> {
        Self::with_board(config, BoardKind::Mipssim)
    }

    /// Builds a machine of the given board (see [`board`]): the same CPU
    /// and RAM, the board's map and devices behind the bus, and the CPU
    /// the board has.
    pub fn with_board(config: MachineConfig, board: BoardKind) -> Result<Self, MachineError> {
        let ram = config.ram_bytes;
        if !(1 << 20..=MAX_RAM).contains(&ram) || !ram.is_multiple_of(PAGE_SIZE) {
            return Err(MachineError::BadRamSize(ram));
        }
        let mut m = Self::build(board.build(ram))?;
        if let Some((config1, config3)) = m.bus.board.cpu_config() {
            m.cp0.config1 = config1;
            m.cp0.config3 = config3;
        }
        m.board_accessed();
        Ok(m)
    }

    /// Builds a machine for the monitor with `ram_bytes` of machine memory
    /// (a multiple of 4 KiB from 1 MiB to [`bus::MAX_MONITOR_RAM`]); the
    /// part past 256 MiB appears at [`bus::HIGH_RAM_BASE`].
    pub fn for_monitor(ram_bytes: u32) -> Result<Self, MachineError> {
        let ram = ram_bytes;
        if !(1 << 20..=bus::MAX_MONITOR_RAM).contains(&ram) || !ram.is_multiple_of(PAGE_SIZE) {
            return Err(MachineError::BadMonitorRamSize(ram));
        }
        let mut m = Self::build(BoardKind::Mipssim.build(ram))?;
        m.jit_fold = true;
        if m.jit.is_some() {
            // Built before the fold was known, and nothing translated yet.
            m.jit = None;
            let _ = m.set_engine(Engine::Jit);
        }
        Ok(m)
    }

    fn build(board: board::Board) -> Result<Self, MachineError> {
        let bytes = board.image_bytes();
        let bus = Bus::new(board).map_err(|e| MachineError::NoHostMemory {
            bytes: u64::from(bytes),
            reason: e.to_string(),
        })?;
        let code = CodeCache::new(bus.mem.len());
        let xlat = Xlat::new(bus.mem.len());
        let mut m = Self {
            gpr: [0; 64],
            hi: 0,
            lo: 0,
            pc: 0xbfc0_0000,
            next_pc: 0xbfc0_0004,
            delay_slot: false,
            cur_pc: 0,
            cur_delay: false,
            ll_bit: false,
            cp0: Cp0::reset(0),
            tlb: Tlb::new(),
            bus,
            code,
            xlat,
            handlers: exception::HandlerWatch::default(),
            regime: Regime::KernelErl,
            fetch_tag: INVALID_TAG,
            fetch_base: 0,
            fetch_slot: 0,
            icount: 0,
            idle_ticks: 0,
            charged_ticks: 0,
            guest_regime: false,
            stop_at: 0,
            board_event_at: Deadline::NEVER,
            waiting: false,
            exit: None,
            route: RouteMask::NONE,
            stdout: Vec::new(),
            stderr: Vec::new(),
            stats: MachineStats::default(),
            jit: None,
            jit_fold: false,
        };
        // The default engine (see `Engine::default_for_new_machines`);
        // where the host has no code generator, the interpreter.
        let _ = m.set_engine(Engine::default_for_new_machines());
        m.mode_changed();
        Ok(m)
    }

    /// Selects the engine that runs guest code (see [`jit`]). Both give
    /// the same results; [`Engine::Jit`] fails where the host has no code
    /// generator, and the machine then keeps the interpreter.
    pub fn set_engine(&mut self, engine: Engine) -> Result<(), jit::Unavailable> {
        match engine {
            Engine::Interp => self.jit = None,
            Engine::Jit => {
                if self.jit.is_none() {
                    let mut j = jit::Jit::new(self.jit_fold)?;
                    j.sync(self.code.epoch());
                    self.jit = Some(Box::new(j));
                }
            }
        }
        Ok(())
    }

    /// Sets how many times a block's first instruction must run before
    /// the block is translated ([`jit::HOT_THRESHOLD`] by default): a
    /// knob for tests and experiments; results do not depend on it.
    pub fn set_jit_threshold(&mut self, executions: u32) {
        if let Some(j) = self.jit.as_mut() {
            j.set_threshold(executions);
        }
    }

    /// The engine running guest code.
    pub fn engine(&self) -> Engine {
        if self.jit.is_some() {
            Engine::Jit
        } else {
            Engine::Interp
        }
    }

    /// Counters of the translating tier (all zero under the interpreter).
    pub fn jit_stats(&self) -> JitStats {
        self.jit
            .as_ref()
            .map(|j| j.stats.clone())
            .unwrap_or_default()
    }

    /// Copies an ELF image's segments into memory (zero-filling past the
    /// file bytes) and points the CPU at its entry with the boot register
    /// convention of the module doc.
    pub fn load_elf(&mut self, image: &elf::ElfImage) -> Result<(), LoadError> {
        for seg in &image.segments {
            let len = seg.len_in_memory();
            if !seg.fits_below(self.bus.ram_bytes()) {
                return Err(LoadError::DoesNotFit {
                    paddr: seg.paddr,
                    len,
                    ram_end: MachineAddr::new(self.bus.ram_bytes()),
                });
            }
        }
        for seg in &image.segments {
            // The file bytes, then zeros to the memory size, both written in
            // place: no segment-sized temporary.
            let file_len = seg.data.len() as u32;
            let zeros = seg.mem_size.saturating_sub(file_len);
            let ram_end = MachineAddr::new(self.bus.ram_bytes());
            let does_not_fit = |paddr| LoadError::DoesNotFit {
                paddr,
                len: file_len + zeros,
                ram_end,
            };
            // Checked above: every segment lies inside RAM.
            self.bus
                .write_phys(seg.paddr, &seg.data)
                .map_err(does_not_fit)?;
            self.bus
                .zero_phys(MachineAddr::new(seg.paddr.raw() + file_len), zeros)
                .map_err(does_not_fit)?;
        }
        self.memory_written_by_host();
        self.boot(image.entry);
        Ok(())
    }

    /// Points the CPU at `entry` in the boot state of the module doc.
    pub fn boot(&mut self, entry: GuestVirtAddr) {
        self.gpr = [0; 64];
        self.gpr[usize::from(insn::regs::A0)] = self.bus.ram_bytes();
        self.pc = entry.raw();
        self.next_pc = entry.raw().wrapping_add(4);
        self.delay_slot = false;
        self.waiting = false;
        self.mode_changed();
    }

    /// Copies `bytes` to physical memory (RAM or ROM) for the host.
    pub fn write_phys(&mut self, pa: MachineAddr, bytes: &[u8]) -> Result<(), MachineAddr> {
        let r = self.bus.write_phys(pa, bytes);
        self.memory_written_by_host();
        r
    }

    /// Reads physical memory for the host; `None` outside memory.
    pub fn read_phys(&self, pa: MachineAddr, len: u32) -> Option<Vec<u8>> {
        self.bus.read_phys(pa, len)
    }

    /// The buffer offset of the machine range `pa..pa+len` if all of it is
    /// RAM or ROM in one piece, and whether it is writable.
    fn mem_range(&self, pa: MachineAddr, len: u32) -> Result<(usize, bool), MemError> {
        let last = pa
            .raw()
            .checked_add(len.saturating_sub(1))
            .ok_or(MemError::NotMemory(pa))?;
        match (
            self.bus.target(MachineAddr::new(pa.raw())),
            self.bus.target(MachineAddr::new(last)),
        ) {
            (
                bus::Target::Mem {
                    offset,
                    writable: w1,
                },
                bus::Target::Mem {
                    offset: o2,
                    writable: w2,
                },
            ) if o2.wrapping_sub(offset) == last - pa.raw() => Ok((offset as usize, w1 && w2)),
            _ => Err(MemError::NotMemory(pa)),
        }
    }

    /// Reads machine memory for the host into `buf`.
    pub fn read_machine(&self, pa: MachineAddr, buf: &mut [u8]) -> Result<(), MemError> {
        if buf.is_empty() {
            return Ok(());
        }
        let (off, _) = self.mem_range(pa, buf.len() as u32)?;
        buf.copy_from_slice(&self.bus.mem[off..off + buf.len()]);
        Ok(())
    }

    /// Reads an aligned little-endian word of machine memory.
    pub fn read_machine_u32(&self, pa: MachineAddr) -> Result<u32, MemError> {
        let mut b = [0; 4];
        self.read_machine(pa, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Writes `bytes` to machine RAM for the host. Only the decoded
    /// instructions of the words written are forgotten: translations stay.
    pub fn write_machine(&mut self, pa: MachineAddr, bytes: &[u8]) -> Result<(), MemError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let (off, writable) = self.mem_range(pa, bytes.len() as u32)?;
        if !writable {
            return Err(MemError::ReadOnly(pa));
        }
        self.bus.mem[off..off + bytes.len()].copy_from_slice(bytes);
        self.code.invalidate_range(off as u32, bytes.len() as u32);
        Ok(())
    }

    /// Fills `len` bytes of machine RAM at `pa` with zeros (a monitor
    /// zeroing a frame), as [`Machine::write_machine`].
    pub fn zero_machine(&mut self, pa: MachineAddr, len: u32) -> Result<(), MemError> {
        self.clear_machine(pa, len, false)
    }

    /// Zeroes `len` bytes of machine RAM at `pa` as
    /// [`Machine::zero_machine`] does, and gives the host pages they cover
    /// back to the host (a monitor's frame going back to its pool).
    pub fn release_machine(&mut self, pa: MachineAddr, len: u32) -> Result<(), MemError> {
        self.clear_machine(pa, len, true)
    }

    /// Zeroes `len` bytes of writable machine RAM at `pa` (`release`:
    /// by giving the host pages back) and drops code decoded from them.
    fn clear_machine(&mut self, pa: MachineAddr, len: u32, release: bool) -> Result<(), MemError> {
        if len == 0 {
            return Ok(());
        }
        let (off, writable) = self.mem_range(pa, len)?;
        if !writable {
            return Err(MemError::ReadOnly(pa));
        }
        if release {
            self.bus.mem.release(off, len as usize);
        } else {
            self.bus.mem[off..off + len as usize].fill(0);
        }
        self.code.invalidate_range(off as u32, len);
        Ok(())
    }

    /// The machine's RAM regions as `(base, bytes)`.
    pub fn ram_regions(&self) -> impl Iterator<Item = (MachineAddr, u32)> + use<> {
        self.bus.ram_regions().collect::<Vec<_>>().into_iter()
    }

    fn memory_written_by_host(&mut self) {
        self.code.clear();
        self.xlat.flush();
        self.fetch_tag = INVALID_TAG;
    }

    /// Selects the exception codes routed to the host.
    pub fn set_routing(&mut self, mask: RouteMask) {
        self.route = mask;
    }

    /// Instructions executed so far.
    pub fn instructions(&self) -> u64 {
        self.icount
    }

    /// Ticks elapsed: instructions, plus ticks spent in `wait`, plus ticks
    /// the host charged ([`Machine::charge_ticks`], [`Machine::idle_ticks_add`]).
    #[inline]
    pub fn ticks(&self) -> u64 {
        self.icount + self.idle_ticks + self.charged_ticks
    }

    /// Advances time by `ticks` that no instruction executed: a monitor's
    /// modelled cost of its own work. Count and the timer see them.
    pub fn charge_ticks(&mut self, ticks: u64) {
        self.charged_ticks += ticks;
    }

    /// Advances time by `ticks` of idleness (counted as idle ticks).
    pub fn idle_ticks_add(&mut self, ticks: u64) {
        self.idle_ticks += ticks;
    }

    /// Counters about the run so far.
    pub fn stats(&self) -> MachineStats {
        MachineStats {
            idle_ticks: self.idle_ticks,
            ..self.stats.clone()
        }
    }

    /// Drains the console output: UART transmissions and UHI writes to
    /// file descriptor 1, in the order the guest produced them.
    pub fn take_stdout(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.stdout)
    }

    /// Drains UHI writes to file descriptor 2.
    pub fn take_stderr(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.stderr)
    }

    /// The address of the next instruction to execute.
    pub fn pc(&self) -> GuestVirtAddr {
        GuestVirtAddr::new(self.pc)
    }

    /// General-purpose register `n` (0..=31; others read 0).
    pub fn gpr(&self, n: u8) -> u32 {
        if n < 32 { self.gpr[usize::from(n)] } else { 0 }
    }

    /// Sets general-purpose register `n` (writes to `$zero` and to numbers
    /// above 31 are ignored).
    pub fn set_gpr(&mut self, n: u8, v: u32) {
        if (1..32).contains(&n) {
            self.gpr[usize::from(n)] = v;
        }
    }

    /// HI and LO.
    pub fn hi_lo(&self) -> (u32, u32) {
        (self.hi, self.lo)
    }

    /// The CP0 register file (Count, Random and the live Cause lines are
    /// read through [`Machine::read_cp0`]).
    pub fn cp0(&self) -> &Cp0 {
        &self.cp0
    }

    /// The TLB.
    pub fn tlb(&self) -> &Tlb {
        &self.tlb
    }

    /// The raw instruction word at virtual address `va` in the current
    /// mode, for traces and disassembly.
    pub fn fetch_word(&self, va: GuestVirtAddr) -> Option<insn::Instruction> {
        let pa = self.peek_translate(va)?;
        let b = self.bus.read_phys(MachineAddr::new(pa), 4)?;
        Some(insn::Instruction(u32::from_le_bytes([
            b[0], b[1], b[2], b[3],
        ])))
    }

    /// Resumes after a routed exception the host handled by emulating the
    /// instruction: continues with the instruction after it (the branch
    /// target if it was in a delay slot).
    pub fn skip_instruction(&mut self) {
        self.pc = self.next_pc;
        self.next_pc = self.pc.wrapping_add(4);
        self.delay_slot = false;
    }

    // ----- time -----

    /// Current CP0 Count (frozen while Cause.DC is set).
    pub(crate) fn count(&self) -> u32 {
        self.cp0.count(self.ticks())
    }

    /// Current CP0 Random (see [`timer`]).
    pub(crate) fn random(&self) -> u32 {
        self.cp0.random(self.ticks(), TLB_ENTRIES as u32)
    }

    /// Cause as software reads it: the stored bits plus the live hardware
    /// lines IP6..IP2 and the timer on IP7.
    pub(crate) fn cause_value(&self) -> u32 {
        self.cp0.cause_value(self.bus.irq_lines())
    }

    /// Pending interrupts that Status.IM lets through (ignoring IE/EXL).
    #[inline(never)]
    fn unmasked_pending(&self) -> u32 {
        self.cp0.unmasked_pending(self.bus.irq_lines())
    }

    // ----- modes and caches -----

    /// Called whenever Status, the ASID or the TLB may have changed what
    /// translations mean: selects the regime's cache set and ASID tag,
    /// drops the fetch entry.
    pub(crate) fn mode_changed(&mut self) {
        self.regime = Regime::of(self.cp0.status);
        self.xlat.regime_base = self.regime as usize * SETS_ENTRIES;
        self.xlat.set_asid(self.cp0.asid());
        self.fetch_tag = INVALID_TAG;
    }

    /// Asks the run loop to return `exit` after the current instruction.
    pub(crate) fn request_exit(&mut self, exit: Exit) {
        self.exit = Some(exit);
        self.stop_at = 0;
    }

    /// Puts the CPU into the `wait` state.
    pub(crate) fn enter_wait(&mut self) {
        self.waiting = true;
        self.stop_at = 0;
    }

    // ----- the run loop -----

    /// Runs for at most `budget` ticks; returns why it stopped.
    pub fn run(&mut self, budget: u64) -> Exit {
        self.run_loop::<false>(budget, &mut Vec::new())
    }

    /// Like [`Machine::run`], and appends every executed instruction to
    /// `trace`. A separate instantiation of the loop, so that plain runs
    /// pay nothing for tracing.
    pub fn run_traced(&mut self, budget: u64, trace: &mut Vec<TraceEntry>) -> Exit {
        self.run_loop::<true>(budget, trace)
    }

    fn run_loop<const TRACE: bool>(&mut self, budget: u64, trace: &mut Vec<TraceEntry>) -> Exit {
        let end = self.ticks().saturating_add(budget);
        loop {
            if let Some(exit) = self.exit.take() {
                return exit;
            }
            let now = self.ticks();
            self.cp0.timer_tick(now);
            if self.board_event_at.reached(now) {
                self.board_tick();
                continue;
            }
            if self.waiting {
                if self.unmasked_pending() != 0 {
                    self.waiting = false;
                } else if !self.cp0.timer_can_wake() && self.board_event_at.is_never() {
                    // The timer is masked, or Count is stopped (Cause.DC),
                    // and no board timer can fire: nothing will ever wake
                    // the CPU.
                    return Exit::Stalled;
                }
            }
            if now >= end {
                return Exit::BudgetExhausted;
            }
            let next_event = self.cp0.timer.deadline().min(self.board_event_at);
            if self.waiting {
                self.idle_ticks += next_event.bound(end) - now;
                continue;
            }
            if self.cp0.interrupts_enabled() && self.unmasked_pending() != 0 {
                self.cur_pc = self.pc;
                self.cur_delay = self.delay_slot;
                self.step_past_current();
                self.raise(ExcCode::Int);
                continue;
            }
            self.stop_at = next_event.bound(end) - (now - self.icount);
            if !TRACE && self.jit.is_some() {
                self.run_inner_jit();
            } else {
                self.run_inner::<TRACE>(trace);
            }
        }
    }

    /// The hot loop: fetch from the decoded-page cache, advance the PC
    /// pair, execute. Anything that needs the outer loop's attention sets
    /// `stop_at` to 0.
    #[inline(always)]
    fn run_inner<const TRACE: bool>(&mut self, trace: &mut Vec<TraceEntry>) {
        while self.icount < self.stop_at {
            let pc = self.pc;
            if pc & !0xffc != self.fetch_tag && !self.refill_fetch(pc) {
                continue;
            }
            let d = self.code.get(self.fetch_slot, (pc >> 2) & 0x3ff);
            if TRACE {
                trace.push(TraceEntry {
                    icount: self.icount,
                    pc: GuestVirtAddr::new(pc),
                    insn: insn::Instruction(self.bus.mem_u32(self.fetch_base + (pc & 0xfff))),
                });
            }
            self.step(pc, d);
        }
    }

    /// Interprets the instruction `d` at `pc` (the current PC): advances
    /// the PC pair, counts it, executes it.
    #[inline(always)]
    fn step(&mut self, pc: u32, d: decode::Decoded) {
        self.cur_pc = pc;
        self.cur_delay = self.delay_slot;
        self.pc = self.next_pc;
        self.next_pc = self.next_pc.wrapping_add(4);
        self.delay_slot = false;
        self.icount += 1;
        self.execute(d);
    }

    /// The hot loop with the translating tier: at each dispatch point (a PC
    /// outside a delay slot) enter the block translated from it if it fits
    /// before `stop_at`, else interpret one instruction as
    /// [`Machine::run_inner`] does. Out of line, so that the interpreter's
    /// loop in [`Machine::run_loop`] does not depend on this one's code.
    #[inline(never)]
    fn run_inner_jit(&mut self) {
        let Some(mut jit) = self.jit.take() else {
            return;
        };
        jit.sync(self.code.epoch());
        // Set when a block left before an instruction it could not run:
        // the interpreter runs that one next.
        let mut bailed = false;
        // Whether the PC is a place blocks may start, worth a probe of the
        // dispatch table: after a jump (taken or not: after a delay slot),
        // an exception or `eret`, and the first two instructions after a
        // block left (the one it stopped
        // before, and the one after). Straight-line interpreted code is
        // not probed at every instruction (each probe is a likely cache
        // miss in the table).
        let mut probe = true;
        // Set when a block has just left: the PC is its exit's target
        // (which the probe counts as `jit::EXIT_WEIGHT` executions) until
        // an instruction has run.
        let mut fresh = false;
        // The last exit taken, if its chain cell is to be filled in with
        // the block at its target (see `translate::ChainCell`).
        let mut cell: Option<(u32, u32)> = None;
        while self.icount < self.stop_at {
            let pc = self.pc;
            if pc & !0xffc != self.fetch_tag && !self.refill_fetch(pc) {
                bailed = false;
                probe = true;
                continue;
            }
            let skip = core::mem::take(&mut bailed);
            if probe && !self.delay_slot && !skip {
                let phys = self.fetch_base + (pc & 0xfff);
                let slot = self.fetch_slot;
                let generation = self.code.generation(slot);
                let exit = cell.take();
                match jit.probe(phys, pc, slot, generation, fresh) {
                    jit::Probe::Run(f, len) => {
                        if let Some((k, target)) = exit
                            && target == pc
                        {
                            jit.set_cell(k, f, len);
                        }
                        if self.icount + u64::from(len) <= self.stop_at {
                            let (b, c) = self.enter_block(&mut jit, f);
                            bailed = b;
                            cell = c;
                            fresh = true;
                            continue;
                        }
                    }
                    jit::Probe::Translate => {
                        self.translate_region(&mut jit, pc, phys, slot);
                        continue;
                    }
                    jit::Probe::Interpret => {}
                }
            }
            let d = self.code.get(self.fetch_slot, (pc >> 2) & 0x3ff);
            self.step(pc, d);
            probe = self.pc != pc.wrapping_add(4) || self.cur_delay || core::mem::take(&mut fresh);
        }
        self.jit = Some(jit);
    }

    /// Plans, translates and installs the region starting at `pc` (buffer
    /// offset `phys`, in code slot `slot`, the current fetch page).
    #[cold]
    fn translate_region(&mut self, jit: &mut jit::Jit, pc: u32, phys: u32, slot: u32) {
        let base = self.fetch_base;
        let vpage = pc & !0xfff;
        // The page after this one, if the read translation cache holds it
        // (a fetch is granted exactly when a load is): blocks may run on
        // into it, and check on entry that it still has this translation
        // (see `jit::translate::Placement::page2`).
        let vpage2 = vpage.wrapping_add(0x1000);
        let page2 = if vpage2 == 0 {
            None
        } else {
            self.xlat
                .read(GuestVirtAddr::new(vpage2))
                .map(|off| (vpage2, off & !0xfff))
        };
        // Where the code at `a` is: its buffer offset and code slot.
        let place = |a: u32| {
            if a & !0xfff == vpage {
                Some((base + (a & 0xfff), slot))
            } else {
                match page2 {
                    Some((v2, b2)) if a & !0xfff == v2 => {
                        Some((b2 + (a & 0xfff), self.code.slot(b2)))
                    }
                    _ => None,
                }
            }
        };
        let region = jit::translate::region(
            pc,
            |a| place(a).map(|(off, _)| self.bus.mem_u32(off)),
            |a| {
                place(a).is_some_and(|(off, s)| {
                    s != code::NO_SLOT && jit.is_warm(off, a, s, self.code.generation(s))
                })
            },
        );
        // The words the region is made of (at least the first, so that a
        // store to it is noticed even when nothing could be translated).
        let first = (pc & 0xfff) / 4;
        let mut generation = self.code.mark_translated(slot, first, first + 1);
        let mut slot2 = None;
        for p in &region {
            for &(a, _) in &p.insns {
                let w = (a & 0xfff) / 4;
                if a & !0xfff == vpage {
                    generation = self.code.mark_translated(slot, w, w + 1);
                } else if let Some((_, b2)) = page2 {
                    let s2 = *slot2.get_or_insert_with(|| {
                        let had = self.code.slot(b2) != code::NO_SLOT;
                        let s2 = self.code.slot_or_alloc(b2);
                        if !had {
                            // Write entries cached before the page held
                            // code must learn its slot.
                            self.xlat.drop_writes_to(b2);
                        }
                        s2
                    });
                    self.code.mark_translated(s2, w, w + 1);
                    self.code.link(s2, slot);
                }
            }
        }
        // Code translated in kernel mode tries kseg0 straight first.
        let kseg0 = Some(self.kseg0_limit()).filter(|&l| l != 0);
        let how = jit::translate::Planned { page2, kseg0 };
        jit.install(phys, pc, slot, generation, &region, how);
    }

    /// Bytes of kseg0 that translated code may reach straight in the
    /// current mode ([`jit::JitCtx::kseg0_limit`]): in kernel mode, kseg0
    /// is unmapped, `pa = va - 0x8000_0000`, and low RAM (`Bus::target`)
    /// is plain memory at buffer offset `pa`; elsewhere none. A multiple
    /// of the page size (translated code relies on that).
    fn kseg0_limit(&self) -> u32 {
        match self.regime {
            Regime::Kernel | Regime::KernelErl => self.bus.ram_bytes().min(0x2000_0000) & !0xfff,
            Regime::Supervisor | Regime::User => 0,
        }
    }

    /// Runs the translated block `f` from the current PC, and the blocks
    /// it chains to; returns whether the last one left before an
    /// instruction it could not run, and the number and target of its
    /// exit if that exit has a chain cell.
    #[inline(always)]
    fn enter_block(&mut self, jit: &mut jit::Jit, f: jit::BlockFn) -> (bool, Option<(u32, u32)>) {
        let (read, write) = self.xlat.current_sets();
        let gens = self.code.generations();
        let table = jit.table_ptr();
        let stub = jit.stub_ptr();
        jit.refresh_epoch((
            self.xlat.changes(),
            self.code.changes(),
            self.xlat.regime_base,
            self.xlat.asid,
        ));
        let ctx = &mut *jit.ctx;
        ctx.stub = stub;
        ctx.gpr = self.gpr.as_mut_ptr();
        ctx.hi = &mut self.hi;
        ctx.lo = &mut self.lo;
        ctx.mem = self.bus.mem.as_mut_ptr();
        ctx.xlat_read = read.as_ptr().cast();
        ctx.xlat_write = write.as_ptr().cast();
        ctx.asid = self.xlat.asid;
        ctx.kseg0_limit = self.kseg0_limit();
        let slot_of = self.code.slot_table();
        debug_assert!(slot_of.len() as u64 * u64::from(PAGE_SIZE) >= u64::from(ctx.kseg0_limit));
        ctx.slot_of = slot_of.as_ptr();
        ctx.table = table;
        ctx.gens = gens.as_ptr();
        ctx.gens_len = gens.len() as u64;
        ctx.budget = self.stop_at - self.icount;
        // SAFETY: every pointer in the context points into this machine
        // or the translator, which are borrowed mutably for the call and
        // touched by nothing else meanwhile: `gpr` to its 64 registers
        // (translated code writes indices 1..=32 only), `hi`/`lo` to HI
        // and LO, `xlat_*` to the current regime's 256-entry translation
        // sets and `table`/`gens` to the dispatch table and the code
        // cache's generations (`gens_len` of them), which the code only
        // reads, `stub` to the chaining stub compiled with the blocks,
        // `slot_of` to the code cache's slot table (one entry per page of
        // the buffer), which the code only reads, and `mem` to the memory
        // buffer. The code reaches guest memory only at a page offset
        // taken from one of those translation entries plus 0..4096, and
        // `Xlat` caches only pages wholly inside the buffer (its `limit`
        // is the buffer's length, which never changes), or at an offset
        // below `kseg0_limit`, at most the low RAM's size, which lies
        // inside the buffer at offset 0 (`Bus::target`); it reads
        // `slot_of` only at the page of such an offset. So no guest value
        // can make it touch anything else.
        let k = unsafe { jit.call(f) };
        let ctx = &*jit.ctx;
        let (done, next_pc, pc) = (ctx.budget - ctx.left, ctx.next_pc, ctx.pc);
        let chained = ctx.chained;
        // Every number translated code returns is one of its exits.
        let Some(exit) = jit.exit(k) else {
            unreachable!("translated code returned exit {k}, which no block has");
        };
        self.pc = exit.pc.unwrap_or(pc);
        self.next_pc = exit.next_pc.unwrap_or(next_pc);
        self.delay_slot = exit.delay;
        let executed = done + u64::from(exit.executed);
        self.icount += executed;
        jit.stats.entries += 1;
        jit.stats.insns += executed;
        jit.stats.unchained += 1;
        jit.stats.chained += chained;
        jit.stats.bailouts += u64::from(exit.bailed);
        let cell = match (exit.cell, exit.pc) {
            (true, Some(target)) => Some((k, target)),
            _ => None,
        };
        (exit.bailed, cell)
    }

    /// Translates a new fetch page; on failure raises the exception (which
    /// counts as an executed instruction, so a faulting vector cannot spin
    /// forever outside the budget) and returns false.
    #[cold]
    fn refill_fetch(&mut self, pc: u32) -> bool {
        self.cur_pc = pc;
        self.cur_delay = self.delay_slot;
        let fault = if pc & 3 != 0 {
            Err(exception::Fault::Address)
        } else {
            self.translate_full(GuestVirtAddr::new(pc), exception::Access::Fetch)
        };
        let any_asid = fault.is_ok_and(|t| t.any_asid);
        // Code runs from plain memory pages only (a device page is a bus
        // error): the buffer offset of the page.
        let page = fault.map(|t| {
            let pa = t.pa;
            if !self.bus.page_is_plain_memory(MachineAddr::new(pa)) {
                return None;
            }
            match self.bus.target(MachineAddr::new(pa)) {
                bus::Target::Mem { offset, .. } => Some(offset),
                _ => None,
            }
        });
        match page {
            Ok(Some(offset)) => {
                let base = offset & !0xfff;
                let had_slot = self.code.slot(base) != code::NO_SLOT;
                self.fetch_slot = self.code.slot_or_alloc(base);
                if !had_slot {
                    // Write entries cached before the page held code must
                    // learn its slot.
                    self.xlat.drop_writes_to(base);
                }
                self.fetch_base = base;
                self.fetch_tag = pc & !0xfff;
                // A fetch is granted exactly when a load is: the read
                // cache may hold the page too (translated code looks
                // there for the pages of the blocks it chains to).
                self.xlat.fill_read(GuestVirtAddr::new(pc), base, any_asid);
                true
            }
            Ok(None) => {
                self.icount += 1;
                self.fetch_tag = INVALID_TAG;
                self.step_past_current();
                self.raise(ExcCode::Ibe);
                false
            }
            Err(f) => {
                self.icount += 1;
                self.fetch_tag = INVALID_TAG;
                self.step_past_current();
                self.raise_fault(f, GuestVirtAddr::new(pc), exception::Access::Fetch);
                false
            }
        }
    }

    /// Decodes the word at `cur_pc` (in the current fetch page) into the
    /// code cache and returns it.
    #[cold]
    pub(crate) fn decode_current(&mut self) -> decode::Decoded {
        let off = self.fetch_base + (self.cur_pc & 0xfff);
        let d = decode::decode(insn::Instruction(self.bus.mem_u32(off)));
        self.code
            .set(self.fetch_slot, (self.cur_pc >> 2) & 0x3ff, d);
        d
    }
}

#[cfg(test)]
mod tests;
