//! System calls: decoding the registers of a `syscall` (the convention of
//! `demo_sys`) and carrying out write, exit, yield, sleep, getpid and
//! sbrk for the running process.

use demo_sys::{Errno, Syscall, WRITE_MAX};
use hv_abi::regs;

use crate::Kernel;
use crate::process::Exit;

/// What the process does after the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Resume it with this result in `v0`.
    Return(u32),
    /// It does not resume now (it exited, sleeps or yielded; a yield's
    /// result is set already).
    Reschedule,
}

/// Carries out the system call the process in `slot` made.
pub fn dispatch(kernel: &mut Kernel, slot: usize) {
    kernel.stats.syscalls += 1;
    let frame = &mut kernel.procs.get_mut(slot).frame;
    // Resume after the `syscall` instruction.
    frame.epc = frame.epc.wrapping_add(4);
    let (number, a0, a1) = (
        frame.gpr(regs::V0),
        frame.gpr(regs::A0),
        frame.gpr(regs::A1),
    );

    let outcome = match Syscall::try_from(number) {
        Ok(Syscall::Write) => Outcome::Return(result(write(kernel, slot, a0, a1))),
        Ok(Syscall::Exit) => {
            kernel.end_process(slot, Exit::Status(a0 as i32));
            Outcome::Reschedule
        }
        Ok(Syscall::Yield) => {
            kernel.procs.get_mut(slot).frame.set_gpr(regs::V0, 0);
            kernel.sched.preempt(&mut kernel.procs);
            Outcome::Reschedule
        }
        Ok(Syscall::Sleep) => {
            kernel.procs.get_mut(slot).frame.set_gpr(regs::V0, 0);
            if a0 == 0 {
                kernel.sched.preempt(&mut kernel.procs);
            } else {
                kernel.sched.sleep(&mut kernel.procs, slot, a0);
            }
            Outcome::Reschedule
        }
        Ok(Syscall::GetPid) => Outcome::Return(kernel.procs.get(slot).pid),
        Ok(Syscall::Sbrk) => {
            let (process, mut ctx) = kernel.process_and_mem(slot);
            let space = process
                .space
                .as_mut()
                .expect("a running process has an address space");
            Outcome::Return(result(space.sbrk(a0 as i32, &mut ctx)))
        }
        Err(errno) => Outcome::Return(errno.to_raw()),
    };
    if let Outcome::Return(value) = outcome {
        kernel.procs.get_mut(slot).frame.set_gpr(regs::V0, value);
    }
}

/// Encodes a result for `v0`.
fn result(result: Result<u32, Errno>) -> u32 {
    result.unwrap_or_else(Errno::to_raw)
}

/// `write(buf, len)`: appends up to [`WRITE_MAX`] bytes to the process's
/// output, which the console emits line by line.
fn write(kernel: &mut Kernel, slot: usize, addr: u32, len: u32) -> Result<u32, Errno> {
    let len = len.min(WRITE_MAX as u32);
    let (process, mut ctx) = kernel.process_and_mem(slot);
    let space = process
        .space
        .as_mut()
        .expect("a running process has an address space");
    let output = &mut process.output;
    space.read_user(addr, len, &mut ctx, |bytes| output.push(bytes))?;
    Ok(len)
}
