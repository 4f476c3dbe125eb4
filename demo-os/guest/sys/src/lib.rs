//! The system-call interface between the demo kernel and its user
//! programs: the numbers, the error codes, the register convention, and
//! what a process finds in its registers at start (its work scale).
//!
//! # Process start
//!
//! The kernel starts a process at its ELF entry in user mode with `sp` at
//! the top of its stack, `a0` (`$4`) = the work scale (`1..=`[`WORK_MAX`],
//! the kernel's boot argument `a1`, see [`work_scale`]) and every other
//! register 0. Each program multiplies its work by the scale (more rounds,
//! a larger bound, more naps or lines), so its exit status depends on the
//! scale alone. Up to [`VERBOSE_WORK_MAX`] a program prints a line per
//! step (round, nap, line); above it only its summaries, so that the
//! console stays short however large the scale.
//!
//! # Calling convention
//!
//! A user program executes `syscall` with:
//!
//! | register | in | out |
//! |---|---|---|
//! | `v0` (`$2`) | the call number ([`Syscall`]) | the result: a value `>= 0`, or a negative [`Errno`] |
//! | `a0`..`a2` (`$4`..`$6`) | arguments | preserved |
//!
//! Every register but `v0` is preserved (the kernel saves and restores the
//! whole register file), except `k0`/`k1`, which user code must never use.
//! Execution resumes after the `syscall` instruction.
//!
//! | call | `a0` | `a1` | result |
//! |---|---|---|---|
//! | [`Write`](Syscall::Write) | buffer address | length | bytes written |
//! | [`Exit`](Syscall::Exit) | status (`i32`) | — | does not return |
//! | [`Yield`](Syscall::Yield) | — | — | 0 |
//! | [`Sleep`](Syscall::Sleep) | timer ticks | — | 0 |
//! | [`GetPid`](Syscall::GetPid) | — | — | the process id |
//! | [`Sbrk`](Syscall::Sbrk) | increment in bytes (`i32`) | — | the old break |
//!
//! Output written with [`Write`](Syscall::Write) reaches the console line
//! by line: the kernel buffers a process's bytes until a newline (or until
//! [`LINE_MAX`] bytes), so lines of concurrent processes never mix.
#![no_std]

use core::fmt;

/// The longest line the kernel buffers for a process before it emits the
/// line anyway.
pub const LINE_MAX: usize = 160;

/// The most bytes one [`Syscall::Write`] takes; a longer write returns a
/// short count.
pub const WRITE_MAX: usize = 4096;

/// The largest work scale: a larger boot argument is clamped to it.
pub const WORK_MAX: u32 = 1000;

/// The largest work scale at which the programs print a line per step
/// (a round, a nap); above it they print only their summaries.
pub const VERBOSE_WORK_MAX: u32 = 4;

/// The work scale a raw value (the kernel's boot argument `a1`, a
/// process's `a0` at start) means: 0 means 1, and anything above
/// [`WORK_MAX`] is clamped to it.
#[must_use]
pub const fn work_scale(raw: u32) -> u32 {
    match raw {
        0 => 1,
        n if n > WORK_MAX => WORK_MAX,
        n => n,
    }
}

/// A system-call number (`v0` on entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Syscall {
    /// Write bytes to the console.
    Write = 1,
    /// End the process with a status.
    Exit = 2,
    /// Give up the rest of the time slice.
    Yield = 3,
    /// Sleep for a number of timer ticks.
    Sleep = 4,
    /// The caller's process id.
    GetPid = 5,
    /// Move the program break (the end of the heap) by a signed increment.
    Sbrk = 6,
}

impl Syscall {
    /// The number, as loaded into `v0`.
    #[must_use]
    pub const fn number(self) -> u32 {
        self as u32
    }
}

impl TryFrom<u32> for Syscall {
    type Error = Errno;

    fn try_from(number: u32) -> Result<Self, Errno> {
        Ok(match number {
            1 => Syscall::Write,
            2 => Syscall::Exit,
            3 => Syscall::Yield,
            4 => Syscall::Sleep,
            5 => Syscall::GetPid,
            6 => Syscall::Sbrk,
            _ => return Err(Errno::NoSys),
        })
    }
}

/// An error a system call returns, as a negative `v0` (Linux's numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Errno {
    /// No such system call.
    NoSys = -38,
    /// A buffer is not in the caller's address space.
    Fault = -14,
    /// The break cannot move there (out of range or out of memory).
    NoMem = -12,
    /// An argument is out of range.
    Inval = -22,
}

impl Errno {
    /// The `v0` value that carries this error.
    #[must_use]
    pub const fn to_raw(self) -> u32 {
        self as i32 as u32
    }

    /// Decodes a result: `Ok` for a value `>= 0`, the error otherwise
    /// (an unknown negative value reads as [`Errno::Inval`]).
    pub const fn check(raw: u32) -> Result<u32, Errno> {
        match raw as i32 {
            0.. => Ok(raw),
            -38 => Err(Errno::NoSys),
            -14 => Err(Errno::Fault),
            -12 => Err(Errno::NoMem),
            _ => Err(Errno::Inval),
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Errno::NoSys => "no such system call",
            Errno::Fault => "bad address",
            Errno::NoMem => "out of memory",
            Errno::Inval => "invalid argument",
        })
    }
}
