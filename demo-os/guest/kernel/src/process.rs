//! Processes: the table, the user programs embedded in the kernel, and
//! starting (loading an ELF image into a new address space) and ending a
//! process.
//!
//! A process is a user-mode context (its [`TrapFrame`]) with its own
//! address space and ASID. The pid is the table slot plus one, and program
//! `i` of [`PROGRAMS`] always starts in slot `i`, so each program has the
//! same pid whichever others the boot arguments select.

use core::fmt;

use demo_sys::LINE_MAX;

use crate::console::LineBuffer;
use crate::cp0;
use crate::elf::{Elf, ElfError};
use crate::mm::{AddressSpace, LoadError, MemCtx, STACK_TOP};
use crate::trap::TrapFrame;

/// The most processes at once.
pub const MAX_PROCS: usize = 8;

/// A user program embedded in the kernel.
#[derive(Debug)]
pub struct Program {
    /// Its name, used in messages and the results line.
    pub name: &'static str,
    /// Its ELF image.
    pub image: &'static [u8],
}

/// The user programs, started in this order at boot.
pub static PROGRAMS: [Program; 5] = [
    Program {
        name: "sieve",
        image: include_bytes!(concat!(env!("DEMO_USER_DIR"), "/sieve")),
    },
    Program {
        name: "memory",
        image: include_bytes!(concat!(env!("DEMO_USER_DIR"), "/memory")),
    },
    Program {
        name: "sleeper",
        image: include_bytes!(concat!(env!("DEMO_USER_DIR"), "/sleeper")),
    },
    Program {
        name: "chatty",
        image: include_bytes!(concat!(env!("DEMO_USER_DIR"), "/chatty")),
    },
    Program {
        name: "pages",
        image: include_bytes!(concat!(env!("DEMO_USER_DIR"), "/pages")),
    },
];

/// The Status a process runs with: user mode, interrupts on, the timer
/// unmasked (EXL is set until `eret` enters user mode).
pub const USER_STATUS: u32 =
    cp0::STATUS_KSU_USER | cp0::STATUS_IM7 | cp0::STATUS_IE | cp0::STATUS_EXL;

/// Where a process is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The slot is unused.
    Free,
    /// Waiting for the CPU.
    Ready,
    /// On the CPU.
    Running,
    /// Waiting for the timer tick count to reach `until`.
    Sleeping {
        /// The tick to wake at.
        until: u32,
    },
    /// Ended; its exit status is kept for the results line.
    Exited,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It called `exit` with this status.
    Status(i32),
    /// The kernel ended it after a fault.
    Killed,
}

/// One process.
#[derive(Debug)]
pub struct Process {
    /// The process id (slot + 1).
    pub pid: u32,
    /// The program's name.
    pub name: &'static str,
    /// Where it is in its life.
    pub state: State,
    /// Its saved user context.
    pub frame: TrapFrame,
    /// Its address space (gone once it exited).
    pub space: Option<AddressSpace>,
    /// Its console output not yet emitted (an incomplete line).
    pub output: LineBuffer<LINE_MAX>,
    /// How it ended, once it has.
    pub exit: Option<Exit>,
}

impl Process {
    /// An unused slot.
    const EMPTY: Process = Process {
        pid: 0,
        name: "",
        state: State::Free,
        frame: TrapFrame {
            regs: [0; 32],
            hi: 0,
            lo: 0,
            epc: 0,
            status: 0,
            cause: 0,
            badvaddr: 0,
        },
        space: None,
        output: LineBuffer::new(),
        exit: None,
    };

    /// Tells whether it still has to run (not free, not exited).
    #[must_use]
    pub fn is_live(&self) -> bool {
        !matches!(self.state, State::Free | State::Exited)
    }
}

/// Why a program could not be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnError {
    /// The slot is taken, or there is no such slot.
    NoSlot,
    /// The image is not a valid program.
    Elf(ElfError),
    /// The image could not be loaded.
    Load(LoadError),
}

impl From<ElfError> for SpawnError {
    fn from(e: ElfError) -> Self {
        SpawnError::Elf(e)
    }
}

impl From<LoadError> for SpawnError {
    fn from(e: LoadError) -> Self {
        SpawnError::Load(e)
    }
}

impl From<crate::frame::OutOfMemory> for SpawnError {
    fn from(e: crate::frame::OutOfMemory) -> Self {
        SpawnError::Load(e.into())
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::NoSlot => f.write_str("its process slot is not free"),
            SpawnError::Elf(e) => write!(f, "bad ELF image: {e}"),
            SpawnError::Load(e) => write!(f, "cannot load: {e}"),
        }
    }
}

/// The process table.
#[derive(Debug)]
pub struct ProcessTable {
    procs: [Process; MAX_PROCS],
}

impl ProcessTable {
    /// An empty table.
    pub const EMPTY: ProcessTable = ProcessTable {
        procs: [Process::EMPTY; MAX_PROCS],
    };

    /// The process in `slot`.
    #[must_use]
    pub fn get(&self, slot: usize) -> &Process {
        &self.procs[slot]
    }

    /// The process in `slot`, mutably.
    pub fn get_mut(&mut self, slot: usize) -> &mut Process {
        &mut self.procs[slot]
    }

    /// Every slot, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Process> {
        self.procs.iter()
    }

    /// Every slot, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Process> {
        self.procs.iter_mut()
    }

    /// Tells whether any process still has to run.
    #[must_use]
    pub fn any_live(&self) -> bool {
        self.procs.iter().any(Process::is_live)
    }

    /// Starts `program` in the free `slot` (pid = slot + 1): a new address
    /// space (ASID = pid), its image loaded, ready to run at its entry
    /// point with `a0` = `work` (the process start convention of
    /// `demo_sys`). Returns the number of pages the image took.
    pub fn spawn(
        &mut self,
        slot: usize,
        program: &Program,
        work: u32,
        ctx: &mut MemCtx<'_>,
    ) -> Result<u32, SpawnError> {
        if self.procs.get(slot).is_none_or(|p| p.state != State::Free) {
            return Err(SpawnError::NoSlot);
        }
        let elf = Elf::parse(program.image)?;
        let pid = slot as u32 + 1;
        let mut space = AddressSpace::new(pid as u8, ctx)?;
        for segment in elf.segments() {
            let loaded = segment
                .map_err(SpawnError::from)
                .and_then(|segment| space.load_segment(&segment, ctx).map_err(SpawnError::from));
            if let Err(e) = loaded {
                space.destroy(ctx);
                return Err(e);
            }
        }
        let pages = space.image_pages();
        let mut frame = TrapFrame::new(elf.entry(), STACK_TOP, USER_STATUS);
        frame.set_gpr(hv_abi::regs::A0, work);
        self.procs[slot] = Process {
            pid,
            name: program.name,
            state: State::Ready,
            frame,
            space: Some(space),
            output: LineBuffer::new(),
            exit: None,
        };
        Ok(pages)
    }

    /// Ends the process in `slot`: emits its last partial line, frees its
    /// address space and keeps how it ended.
    pub fn end(&mut self, slot: usize, exit: Exit, ctx: &mut MemCtx<'_>) {
        let process = &mut self.procs[slot];
        process.output.flush();
        if let Some(space) = process.space.take() {
            space.destroy(ctx);
        }
        process.state = State::Exited;
        process.exit = Some(exit);
    }
}
