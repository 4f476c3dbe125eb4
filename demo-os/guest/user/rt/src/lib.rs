//! The user runtime every demo program links: the `_start` entry point,
//! one wrapper per system call of [`demo_sys`], line output
//! ([`println!`]) and the panic handler.
//!
//! A program is a `#![no_std] #![no_main]` binary that names its main
//! function with [`entry!`]; main receives the work scale and its exit
//! status is what it returns. The kernel starts a process at `_start` with
//! `sp` at the top of its stack, `a0` = the work scale and every other
//! register 0 (see `demo_sys`, "Process start").
#![no_std]
#![feature(asm_experimental_arch)]

use core::arch::{asm, global_asm};
use core::fmt::{self, Write as _};
use core::panic::PanicInfo;

pub use demo_sys::{Errno, LINE_MAX, Syscall, VERBOSE_WORK_MAX, WORK_MAX, work_scale};

// The entry point: call the program's main (named by `entry!`) with the
// kernel's `a0` (the work scale) untouched, then exit with its result. The
// o32 ABI wants 16 bytes of argument space above a callee's frame; the
// kernel's initial `sp` leaves room for it.
global_asm!(
    r#"
    .section .text._start, "ax"
    .globl _start
    .type _start, @function
    .set push
    .set noreorder
_start:
    addiu $sp, $sp, -16
    jal __demo_main
    nop
    jal __demo_exit
    move $4, $2
1:  b 1b
    nop
    .set pop
    .size _start, . - _start
"#
);

/// Names the program's main function: `demo_rt::entry!(main);` with
/// `fn main(work: u32) -> i32`. `work` is the work scale, in
/// `1..=`[`WORK_MAX`] (whatever the kernel passed, [`work_scale`] applied);
/// the returned value is the exit status.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        extern "C" fn __demo_main(a0: u32) -> i32 {
            let main: fn(u32) -> i32 = $main;
            main($crate::work_scale(a0))
        }
    };
}

/// `_start`'s exit path: ends the process with main's result.
#[unsafe(no_mangle)]
extern "C" fn __demo_exit(status: i32) -> ! {
    exit(status)
}

/// Makes a system call with up to three arguments and returns the raw `v0`.
fn syscall(call: Syscall, a0: u32, a1: u32, a2: u32) -> u32 {
    let result: u32;
    // SAFETY: `syscall` traps to the kernel, which follows the convention
    // of `demo_sys`: it reads v0 and a0..a2, writes v0 and preserves every
    // other register. A call may read the memory a0/a1 point at, which the
    // default (memory-clobbering) asm options allow for.
    unsafe {
        asm!(
            "syscall",
            inlateout("$2") call.number() => result,
            in("$4") a0,
            in("$5") a1,
            in("$6") a2,
            options(nostack),
        );
    }
    result
}

/// Writes bytes to the console; returns how many were taken (at most
/// [`demo_sys::WRITE_MAX`]).
pub fn write(bytes: &[u8]) -> Result<usize, Errno> {
    let raw = syscall(Syscall::Write, bytes.as_ptr() as u32, bytes.len() as u32, 0);
    Errno::check(raw).map(|n| n as usize)
}

/// Writes all of `bytes`, looping over short writes.
pub fn write_all(mut bytes: &[u8]) -> Result<(), Errno> {
    while !bytes.is_empty() {
        let n = write(bytes)?;
        bytes = &bytes[n..];
    }
    Ok(())
}

/// Ends the process with `status`.
pub fn exit(status: i32) -> ! {
    syscall(Syscall::Exit, status as u32, 0, 0);
    // The kernel never returns from Exit; stay here if it somehow does.
    loop {
        core::hint::spin_loop();
    }
}

/// Gives the CPU to the next ready process.
pub fn yield_now() {
    syscall(Syscall::Yield, 0, 0, 0);
}

/// Sleeps for `ticks` timer ticks (0 acts as [`yield_now`]).
pub fn sleep(ticks: u32) {
    syscall(Syscall::Sleep, ticks, 0, 0);
}

/// The caller's process id.
#[must_use]
pub fn getpid() -> u32 {
    syscall(Syscall::GetPid, 0, 0, 0)
}

/// Moves the program break by `increment` bytes and returns the old break:
/// the start of the new memory when growing. New heap pages read as zero.
pub fn sbrk(increment: i32) -> Result<*mut u8, Errno> {
    let raw = syscall(Syscall::Sbrk, increment as u32, 0, 0);
    Errno::check(raw).map(|addr| addr as *mut u8)
}

/// A line being formatted, written with one system call.
pub struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Line {
    /// An empty line.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            buf: [0; LINE_MAX],
            len: 0,
        }
    }

    /// Writes the line and a newline with one `write` (a line longer than
    /// the buffer is cut short).
    pub fn emit(mut self) {
        if self.len == LINE_MAX {
            self.len -= 1;
        }
        self.buf[self.len] = b'\n';
        // A console write can only fail on a bad buffer, and this one is ours.
        let _ = write_all(&self.buf[..=self.len]);
    }
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Keep one byte for the newline.
        let room = LINE_MAX - 1 - self.len;
        let take = s.len().min(room);
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

/// Formats one line and writes it with a single system call; used by
/// [`println!`].
pub fn print_line(args: fmt::Arguments<'_>) {
    let mut line = Line::new();
    // `Line` never fails; a too-long line is cut short.
    let _ = line.write_fmt(args);
    line.emit();
}

/// Prints one whole line (a newline is added), written atomically.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::print_line(format_args!($($arg)*))
    };
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    print_line(format_args!(
        "panic in pid {}: {}",
        getpid(),
        info.message()
    ));
    exit(-101)
}
