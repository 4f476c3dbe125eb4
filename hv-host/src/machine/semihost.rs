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

use super::Machine;
use super::console::Stream;
use super::insn::regs::{A0, A1, A2, T9, V0, V1};

/// UHI operation numbers.
pub mod op {
    /// Terminate with an exit code.
    pub const EXIT: u32 = 1;
    /// Write to a file descriptor.
    pub const WRITE: u32 = 5;
}

/// Most bytes one UHI `write` takes; a longer write is partial.
pub const WRITE_MAX: u32 = 4096;

const EBADF: u32 = 9;
const EFAULT: u32 = 14;
const ENOSYS: u32 = 88;

impl Machine {
    /// Performs the semihosting call described by the registers.
    pub(crate) fn semihost_call(&mut self) {
        match self.gpr(T9) {
            op::EXIT => {
                let code = self.gpr(A0) as i32;
                self.request_exit(super::Exit::Shutdown { code });
            }
            op::WRITE => {
                let (fd, buf, len) = (self.gpr(A0), self.gpr(A1), self.gpr(A2));
                let stream = match fd {
                    1 => Stream::Stdout,
                    2 => Stream::Stderr,
                    _ => return self.fail(EBADF),
                };
                // A longer write is partial (the guest writes the rest with
                // further calls): the host never copies more than this
                // much per call. The cut does not depend on how full the
                // output is, so the guest sees the same results however
                // often its owner drains it.
                let take = len.min(WRITE_MAX);
                let bytes = if take == 0 {
                    Some(Vec::new())
                } else {
                    self.read_virtual(buf, take)
                };
                match bytes {
                    Some(b) => {
                        self.push_output(stream, &b);
                        self.set_gpr(V0, take);
                        self.set_gpr(V1, 0);
                    }
                    None => self.fail(EFAULT),
                }
            }
            _ => self.fail(ENOSYS),
        }
    }

    fn fail(&mut self, errno: u32) {
        self.set_gpr(V0, u32::MAX);
        self.set_gpr(V1, errno);
    }
}
