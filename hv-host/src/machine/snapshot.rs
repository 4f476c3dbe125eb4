//! The machine's state in a snapshot ([`crate::snapshot`]): everything a
//! run depends on, so that a machine restored from it runs on exactly as
//! the saved one would have.
//!
//! Saved: the CPU (registers, PC pair, delay-slot and LL state, the
//! instruction being executed), CP0 with its timer, the TLB, the memory
//! image (sparsely, [`Pages`]), the board's devices and wires, the clock
//! (instructions, idle and charged ticks), the `wait` state, the host's
//! routing and the assist's regime, console output not taken yet, the
//! exception counters and the watch for vectors without handlers.
//!
//! Not saved, because they are caches rebuilt from the above: decoded
//! code, the translation cache, the fetch cache and the translated blocks
//! (a restored machine translates its hot code again; the engine's own
//! counters start from zero). [`Machine::snapshot`] destructures the
//! machine without `..`, so a field added to [`Machine`] does not compile
//! until it is either saved here or named as a cache.

use super::board::BoardKind;
use super::board::map::BoardImage;
use super::cp0::Cp0;
use super::exception::HandlerWatch;
use super::ram::Ram;
use super::timer::Deadline;
use super::tlb::Tlb;
use super::xlat::INVALID_TAG;
use super::{Exit, Machine, MachineStats, RouteMask};
use crate::snapshot::{Pages, SnapshotError};
use serde::{Deserialize, Serialize};

/// A machine's state, as [`Machine::snapshot`] takes it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MachineImage {
    board: BoardKind,
    gpr: Vec<u32>,
    hi: u32,
    lo: u32,
    pc: u32,
    next_pc: u32,
    delay_slot: bool,
    cur_pc: u32,
    cur_delay: bool,
    ll_bit: bool,
    cp0: Cp0,
    tlb: Tlb,
    mem: Pages,
    ram_bytes: u32,
    devices: BoardImage,
    handlers: HandlerWatch,
    icount: u64,
    idle_ticks: u64,
    charged_ticks: u64,
    guest_regime: bool,
    board_event_at: Deadline,
    waiting: bool,
    exit: Option<Exit>,
    route: RouteMask,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    stats: MachineStats,
}

impl MachineImage {
    /// Memory pages stored (those not all zeros).
    pub fn pages_stored(&self) -> usize {
        self.mem.stored()
    }

    /// Instructions the machine had executed.
    pub fn instructions(&self) -> u64 {
        self.icount
    }
}

impl Machine {
    /// The machine's whole state (see the module doc), between two runs.
    pub fn snapshot(&self) -> MachineImage {
        let Machine {
            gpr,
            hi,
            lo,
            pc,
            next_pc,
            delay_slot,
            cur_pc,
            cur_delay,
            ll_bit,
            cp0,
            tlb,
            bus,
            code: _,
            xlat: _,
            handlers,
            regime: _,
            fetch_tag: _,
            fetch_base: _,
            fetch_slot: _,
            icount,
            idle_ticks,
            charged_ticks,
            guest_regime,
            stop_at: _,
            board_event_at,
            waiting,
            exit,
            route,
            stdout,
            stderr,
            stats,
            jit: _,
            jit_fold: _,
        } = self;
        MachineImage {
            board: bus.board.kind(),
            gpr: gpr.to_vec(),
            hi: *hi,
            lo: *lo,
            pc: *pc,
            next_pc: *next_pc,
            delay_slot: *delay_slot,
            cur_pc: *cur_pc,
            cur_delay: *cur_delay,
            ll_bit: *ll_bit,
            cp0: cp0.clone(),
            tlb: tlb.clone(),
            mem: Pages::of(&bus.mem),
            ram_bytes: bus.ram_bytes(),
            devices: bus.board.save_state(),
            handlers: *handlers,
            icount: *icount,
            idle_ticks: *idle_ticks,
            charged_ticks: *charged_ticks,
            guest_regime: *guest_regime,
            board_event_at: *board_event_at,
            waiting: *waiting,
            exit: *exit,
            route: *route,
            stdout: stdout.clone(),
            stderr: stderr.clone(),
            stats: stats.clone(),
        }
    }

    /// Puts the machine in the state `image` holds. The machine must be
    /// built as the saved one was (the same board and memory size);
    /// otherwise it is left unchanged and the mismatch is the error. The
    /// engine stays the one this machine has: both give the same results.
    pub fn restore(&mut self, image: &MachineImage) -> Result<(), SnapshotError> {
        if image.ram_bytes != self.bus.ram_bytes() || image.mem.len() != self.bus.mem.len() as u64 {
            return Err(SnapshotError::Mismatch(format!(
                "the snapshot's machine has {} bytes of RAM, this one {}",
                image.ram_bytes,
                self.bus.ram_bytes()
            )));
        }
        if image.gpr.len() != self.gpr.len() {
            return Err(SnapshotError::Decode(format!(
                "{} general-purpose register slots, {} expected",
                image.gpr.len(),
                self.gpr.len()
            )));
        }
        // Checked before anything changes: the board, then memory.
        let mut board = self.bus.board.clone();
        board.load_state(&image.devices)?;
        if image.board != board.kind() {
            return Err(SnapshotError::Mismatch(format!(
                "the snapshot's board is {:?}, this one {:?}",
                image.board,
                board.kind()
            )));
        }
        let mut mem = Ram::zeroed(self.bus.mem.len())
            .map_err(|e| SnapshotError::Decode(format!("cannot map machine memory: {e}")))?;
        image.mem.restore_into(&mut mem, "memory")?;
        self.bus.mem = mem;
        self.bus.board = board;
        self.gpr.copy_from_slice(&image.gpr);
        self.gpr[0] = 0;
        self.hi = image.hi;
        self.lo = image.lo;
        self.pc = image.pc;
        self.next_pc = image.next_pc;
        self.delay_slot = image.delay_slot;
        self.cur_pc = image.cur_pc;
        self.cur_delay = image.cur_delay;
        self.ll_bit = image.ll_bit;
        self.cp0 = image.cp0.clone();
        self.tlb = image.tlb.clone();
        self.handlers = image.handlers;
        self.icount = image.icount;
        self.idle_ticks = image.idle_ticks;
        self.charged_ticks = image.charged_ticks;
        self.guest_regime = image.guest_regime;
        self.stop_at = 0;
        self.board_event_at = image.board_event_at;
        self.waiting = image.waiting;
        self.exit = image.exit;
        self.route = image.route;
        self.stdout = image.stdout.clone();
        self.stderr = image.stderr.clone();
        self.stats = image.stats.clone();
        // The caches: everything decoded, translated or looked up before
        // describes the old memory and mappings.
        self.memory_written_by_host();
        self.fetch_tag = INVALID_TAG;
        self.mode_changed();
        Ok(())
    }
}
