//! The machine's pending console output: UART transmissions and UHI writes
//! wait in two host-side buffers (stdout for the UART and fd 1, stderr for
//! fd 2) until the owner drains them with [`Machine::take_stdout`] and
//! [`Machine::take_stderr`].
//!
//! The buffers are bounded. Once the bytes pending in both together reach
//! [`OUTPUT_LIMIT`], [`Machine::run`] returns [`Exit::OutputPending`] after
//! the instruction that filled them, so the owner can drain them and run
//! on. One instruction adds at most [`super::semihost::WRITE_MAX`] bytes (a
//! UHI `write`; a UART store adds one), so an owner that drains after
//! every `OutputPending` never holds more than [`MAX_PENDING_OUTPUT`]
//! bytes, whatever the guest does. Nothing is dropped: the guest never
//! learns how full the buffers are, so its results do not depend on how
//! often the owner drains them.

use super::{Exit, Machine};

/// Most bytes of console output the machine holds before it makes
/// [`Machine::run`] return [`Exit::OutputPending`].
pub const OUTPUT_LIMIT: usize = 64 * 1024;

/// Most bytes of console output pending when `run` returns, provided the
/// owner drains after every [`Exit::OutputPending`]: just under the limit,
/// plus the most one instruction can add.
pub const MAX_PENDING_OUTPUT: usize = OUTPUT_LIMIT - 1 + super::semihost::WRITE_MAX as usize;

/// Where guest output goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stream {
    /// The console: UART transmissions and UHI writes to fd 1.
    Stdout,
    /// UHI writes to fd 2.
    Stderr,
}

impl Machine {
    /// Bytes of console output waiting to be drained, both streams.
    pub fn pending_output(&self) -> usize {
        self.stdout.len() + self.stderr.len()
    }

    /// Appends guest output to `stream`; once the limit is reached, asks
    /// the run loop to return [`Exit::OutputPending`] after this
    /// instruction (unless another exit is already on its way).
    pub(crate) fn push_output(&mut self, stream: Stream, bytes: &[u8]) {
        match stream {
            Stream::Stdout => self.stdout.extend_from_slice(bytes),
            Stream::Stderr => self.stderr.extend_from_slice(bytes),
        }
        self.output_added();
    }

    /// Guest output was appended to a stream: once the limit is reached,
    /// asks the run loop to return [`Exit::OutputPending`].
    pub(crate) fn output_added(&mut self) {
        if self.pending_output() >= OUTPUT_LIMIT && self.exit.is_none() {
            self.request_exit(Exit::OutputPending);
        }
    }
}
