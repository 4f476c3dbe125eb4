//! UHI semihosting, the two operations QEMU's `-semihosting` implements for
//! bare-metal programs that this machine supports: `exit` and `write`.
//!
//! A call is `sdbbp 1` in kernel mode with the operation in `t9` ($25) and
//! arguments in `a0..a2`; results come back in `v0` (and an errno in `v1`).
//!
//! | op | name    | arguments                   | result                         |
//! |----|---------|-----------------------------|--------------------------------|
//! | 1  | `exit`  | `a0` = exit code            | does not return                |
//! | 5  | `write` | `a0` = fd (1 or 2), `a1` = buffer (virtual), `a2` = length | `v0` = bytes written |
//!
//! A `write` of more than [`WRITE_MAX`] (4 KiB) bytes is partial, as
//! POSIX allows: it writes the first 4 KiB and returns 4096 in `v0`; the
//! guest writes the rest with further calls. The cut depends only on the
//! length, so results are the same on every run. The output then waits in
//! the machine's bounded buffers (see [`super::console`]).
//!
//! Anything else returns `v0 = -1`, `v1 = ENOSYS` (88); a buffer that does
//! not translate returns `v0 = -1`, `v1 = EFAULT` (14); an fd other than 1
//! or 2 returns `v1 = EBADF` (9).
//!
//! `call` is the one implementation, over an `Env`: the machine's own
//! `sdbbp 1` runs it on the machine, the monitor's emulated semihosting on
//! a VM (with the VM's memory and console).

use super::Machine;
use super::console::Stream;
use super::insn::regs::{A0, A1, A2, T9, V0, V1};
use crate::addr::GuestVirtAddr;

/// UHI operation numbers.
pub mod op {
    /// Terminate with an exit code.
    pub const EXIT: u32 = 1;
    /// Write to a file descriptor.
    pub const WRITE: u32 = 5;
}

/// Most bytes one UHI `write` takes; a longer write is partial.
pub const WRITE_MAX: u32 = 4096;

/// The error numbers a failed call returns in `v1` (with `v0 = -1`).
pub mod errno {
    /// The file descriptor is not 1 or 2.
    pub const EBADF: u32 = 9;
    /// The buffer cannot be read.
    pub const EFAULT: u32 = 14;
    /// No such operation.
    pub const ENOSYS: u32 = 88;
}

/// What a semihosting call runs against: the calling CPU's registers, the
/// memory its loads see, and the console its output goes to.
pub(crate) trait Env {
    /// General-purpose register `r`.
    fn gpr(&self, r: u8) -> u32;
    /// Sets general-purpose register `r`.
    fn set_gpr(&mut self, r: u8, value: u32);
    /// `len` bytes of virtual memory at `va`, as the caller's loads would
    /// read them; `None` if any of them cannot be read.
    fn read(&mut self, va: GuestVirtAddr, len: u32) -> Option<Vec<u8>>;
    /// Appends written bytes to `stream`.
    fn output(&mut self, stream: Stream, bytes: &[u8]);
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `exit` with this code: the owner stops the program.
    Exit(i32),
    /// The call returned, its results in `v0`/`v1`.
    Returned,
}

/// Performs the semihosting call described by `env`'s registers.
pub(crate) fn call(env: &mut impl Env) -> Outcome {
    match env.gpr(T9) {
        op::EXIT => return Outcome::Exit(env.gpr(A0) as i32),
        op::WRITE => {
            let (fd, buf, len) = (env.gpr(A0), env.gpr(A1), env.gpr(A2));
            let stream = match fd {
                1 => Stream::Stdout,
                2 => Stream::Stderr,
                _ => return fail(env, errno::EBADF),
            };
            // A longer write is partial (the guest writes the rest with
            // further calls): the host never copies more than this much
            // per call. The cut does not depend on how full the output
            // is, so the guest sees the same results however often its
            // owner drains it.
            let take = len.min(WRITE_MAX);
            let bytes = if take == 0 {
                Some(Vec::new())
            } else {
                env.read(GuestVirtAddr::new(buf), take)
            };
            let Some(bytes) = bytes else {
                return fail(env, errno::EFAULT);
            };
            env.output(stream, &bytes);
            env.set_gpr(V0, take);
            env.set_gpr(V1, 0);
        }
        _ => return fail(env, errno::ENOSYS),
    }
    Outcome::Returned
}

/// Returns `v0 = -1` and `errno` in `v1`.
fn fail(env: &mut impl Env, errno: u32) -> Outcome {
    env.set_gpr(V0, u32::MAX);
    env.set_gpr(V1, errno);
    Outcome::Returned
}

/// The machine's own semihosting: its CPU, the memory its loads see, its
/// console buffers.
impl Env for Machine {
    fn gpr(&self, r: u8) -> u32 {
        Machine::gpr(self, r)
    }
    fn set_gpr(&mut self, r: u8, value: u32) {
        Machine::set_gpr(self, r, value);
    }
    fn read(&mut self, va: GuestVirtAddr, len: u32) -> Option<Vec<u8>> {
        self.read_virtual(va, len)
    }
    fn output(&mut self, stream: Stream, bytes: &[u8]) {
        self.push_output(stream, bytes);
    }
}

impl Machine {
    /// Performs the semihosting call described by the registers (`sdbbp 1`).
    pub(crate) fn semihost_call(&mut self) {
        if let Outcome::Exit(code) = call(self) {
            self.request_exit(super::Exit::Shutdown { code });
        }
    }
}
