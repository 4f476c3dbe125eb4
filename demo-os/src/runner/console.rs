//! The host side of the guest's serial console input: stdin feeds the
//! UART's receive queue, and Ctrl-C stops the run.
//!
//! Two sources, chosen by what stdin is:
//!
//! - **A terminal**: put in raw mode (no line editing, no echo: the guest
//!   echoes; signals stay on, so Ctrl-C still raises SIGINT) for the run
//!   and restored afterwards. A reader thread collects keystrokes; they go
//!   to the guest at the end of each run slice, as many as its queue takes.
//!   Interactive input is as nondeterministic as the person typing.
//! - **A pipe or a file**: deterministic. Input is handed over one line at
//!   a time (up to and including `\n`, or the rest at end of file), and
//!   only at the end of a run slice where the guest's receive queue is
//!   empty and its receive interrupt is enabled (a tty is open on the
//!   port). The runner then waits for the whole line (or end of file), so
//!   the instruction at which the guest sees each line does not depend on
//!   how fast the host delivers it. A guest that never enables the receive
//!   interrupt (the mipssim demo OS) never makes the runner read stdin.
//!
//! End of input: once a pipe or a file has ended and the guest has been
//! given all of it, a guest that then stays quiet (no console output,
//! idle in `wait` for at least 90% of its cycles; under the monitor, no
//! VM busy more than 10% of them) for 60 virtual seconds waits
//! for input that will never come: the run ends there, with status 125
//! (`target::Stop::InputEnded`). A guest still working or printing runs
//! on to its own end.
//!
//! Ctrl-C: a SIGINT handler sets a flag the run loop checks after each
//! slice; the run then ends with the summary line and status 130.

use hv_host::machine::Machine;
use hv_host::monitor::{Monitor, VmId};
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Installs the SIGINT handler (Ctrl-C stops the run after the current
/// slice instead of killing the process).
pub fn catch_interrupt() {
    let handler: extern "C" fn(libc::c_int) = on_sigint;
    // SAFETY: the handler only stores to an atomic, which is
    // async-signal-safe; `signal` has no other preconditions.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
    }
}

/// Acts as if Ctrl-C was pressed (a debugger killed the guest).
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Whether Ctrl-C was pressed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The terminal settings to restore.
struct RawMode {
    saved: libc::termios,
}

impl RawMode {
    /// Puts stdin's terminal in raw mode, keeping signals.
    fn enter() -> Option<Self> {
        // SAFETY: termios is a plain C struct; all-zero is a valid value
        // for tcgetattr to overwrite.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd 0 and a valid pointer to a termios.
        if unsafe { libc::tcgetattr(0, &mut t) } != 0 {
            return None;
        }
        let saved = t;
        t.c_lflag &= !(libc::ICANON | libc::ECHO | libc::IEXTEN);
        t.c_iflag &= !(libc::ICRNL | libc::IXON | libc::INLCR);
        t.c_cc[libc::VMIN] = 1;
        t.c_cc[libc::VTIME] = 0;
        // SAFETY: fd 0 and a valid termios.
        if unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) } != 0 {
            return None;
        }
        Some(Self { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: fd 0 and the termios saved by `enter`.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.saved);
        }
    }
}

/// Where console input comes from.
pub struct ConsoleInput {
    rx: Receiver<Vec<u8>>,
    /// Bytes read from stdin, not yet given to the guest.
    pending: Vec<u8>,
    eof: bool,
    _raw: Option<RawMode>,
}

impl ConsoleInput {
    /// Starts reading stdin (a terminal goes into raw mode until drop).
    pub fn from_stdin() -> Self {
        // SAFETY: isatty has no preconditions.
        let tty = unsafe { libc::isatty(0) } == 1;
        let raw = if tty { RawMode::enter() } else { None };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut stdin = io::stdin().lock();
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Self {
            rx,
            pending: Vec::new(),
            eof: false,
            _raw: raw,
        }
    }

    /// An input that has already ended, as `< /dev/null` gives.
    pub fn ended_input() -> Self {
        let (_, rx) = mpsc::channel();
        Self {
            rx,
            pending: Vec::new(),
            eof: true,
            _raw: None,
        }
    }

    /// Whether the input was a pipe or a file that has ended, everything
    /// in it handed to the guest.
    pub fn ended(&self) -> bool {
        !self.interactive() && self.eof && self.pending.is_empty()
    }

    fn interactive(&self) -> bool {
        self._raw.is_some()
    }

    /// Collects what the reader thread has, waiting up to `wait`.
    fn collect(&mut self, wait: Option<Duration>) {
        let first = match wait {
            None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(d) => self.rx.recv_timeout(d),
        };
        match first {
            Ok(b) => self.pending.extend(b),
            Err(RecvTimeoutError::Disconnected) => self.eof = true,
            Err(RecvTimeoutError::Timeout) => return,
        }
        while let Ok(b) = self.rx.try_recv() {
            self.pending.extend(b);
        }
    }

    /// Called between run slices: gives the guest what the rules in the
    /// module doc allow.
    pub fn feed(&mut self, machine: &mut Machine) {
        self.feed_port(machine);
    }

    /// [`ConsoleInput::feed`] for VM `vm` under the monitor.
    pub fn feed_vm(&mut self, mon: &mut Monitor, vm: VmId) {
        self.feed_port(&mut VmPort(mon, vm));
    }

    fn feed_port(&mut self, machine: &mut impl Port) {
        if self.interactive() {
            // Idle guest and nothing typed: wait a little for a key
            // instead of spinning through idle slices.
            let wait = if machine.is_waiting() && self.pending.is_empty() {
                Duration::from_millis(20)
            } else {
                Duration::ZERO
            };
            if !self.eof {
                self.collect(Some(wait));
            }
            let n = machine.push_console_input(&self.pending);
            self.pending.drain(..n);
            return;
        }
        if machine.console_input_len() != 0 || !machine.console_wants_input() {
            return;
        }
        // Wait for a whole line (or the end of the input).
        while !self.eof && !self.pending.contains(&b'\n') {
            self.collect(None);
        }
        let line = match self.pending.iter().position(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => self.pending.len(),
        };
        if line == 0 {
            return;
        }
        let n = machine.push_console_input(&self.pending[..line]);
        self.pending.drain(..n);
    }
}

/// A guest console that takes input: the machine's, or a VM's.
trait Port {
    fn is_waiting(&self) -> bool;
    fn console_input_len(&self) -> usize;
    fn console_wants_input(&self) -> bool;
    fn push_console_input(&mut self, bytes: &[u8]) -> usize;
}

impl Port for Machine {
    fn is_waiting(&self) -> bool {
        Machine::is_waiting(self)
    }
    fn console_input_len(&self) -> usize {
        Machine::console_input_len(self)
    }
    fn console_wants_input(&self) -> bool {
        Machine::console_wants_input(self)
    }
    fn push_console_input(&mut self, bytes: &[u8]) -> usize {
        Machine::push_console_input(self, bytes)
    }
}

/// A VM's console under the monitor.
struct VmPort<'a>(&'a mut Monitor, VmId);

impl Port for VmPort<'_> {
    fn is_waiting(&self) -> bool {
        self.0.vm_waiting(self.1)
    }
    fn console_input_len(&self) -> usize {
        self.0.console_input_len(self.1)
    }
    fn console_wants_input(&self) -> bool {
        self.0.console_wants_input(self.1)
    }
    fn push_console_input(&mut self, bytes: &[u8]) -> usize {
        self.0.push_console_input(self.1, bytes)
    }
}
