//! Test support: [`Mock`], a transport that records each call's registers
//! and answers from a script.

use std::collections::VecDeque;
use std::vec::Vec;

use crate::transport::{CallRegs, ReturnRegs, Transport};

/// The panic message of [`Mock`]'s `halt`.
pub(crate) const HALTED: &str = "mock transport halted";

/// Records calls; answers each with the next scripted reply.
#[derive(Debug, Default)]
pub(crate) struct Mock {
    /// The registers of every call made, in order.
    pub(crate) calls: Vec<CallRegs>,
    replies: VecDeque<ReturnRegs>,
}

impl Mock {
    /// A mock that answers with `replies` (`(v0, v1)` pairs), in order.
    pub(crate) fn answering(replies: &[(u32, u32)]) -> Self {
        Self {
            calls: Vec::new(),
            replies: replies
                .iter()
                .map(|&(v0, v1)| ReturnRegs { v0, v1 })
                .collect(),
        }
    }
}

impl Transport for Mock {
    unsafe fn hypercall(&mut self, regs: CallRegs) -> ReturnRegs {
        self.calls.push(regs);
        match self.replies.pop_front() {
            Some(reply) => reply,
            None => panic!("unscripted hypercall {regs:?}"),
        }
    }

    fn halt(&mut self) -> ! {
        panic!("{HALTED}")
    }
}
