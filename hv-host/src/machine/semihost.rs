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
//! Anything else returns `v0 = -1`, `v1 = ENOSYS` (88); a buffer that does
//! not translate returns `v0 = -1`, `v1 = EFAULT` (14); an fd other than 1
//! or 2 returns `v1 = EBADF` (9).

use super::Machine;
use super::insn::regs::{A0, A1, A2, T9, V0, V1};

/// UHI operation numbers.
pub mod op {
    /// Terminate with an exit code.
    pub const EXIT: u32 = 1;
    /// Write to a file descriptor.
    pub const WRITE: u32 = 5;
}

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
                let bytes = if len == 0 {
                    Some(Vec::new())
                } else {
                    self.read_virtual(buf, len)
                };
                match (fd, bytes) {
                    (1 | 2, Some(b)) => {
                        if fd == 1 {
                            &mut self.stdout
                        } else {
                            &mut self.stderr
                        }
                        .extend_from_slice(&b);
                        self.set_gpr(V0, len);
                        self.set_gpr(V1, 0);
                    }
                    (1 | 2, None) => self.fail(EFAULT),
                    _ => self.fail(EBADF),
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
