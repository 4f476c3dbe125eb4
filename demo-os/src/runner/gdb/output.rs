//! The guests' output under the debugger: to the process's stdout (the
//! consoles, through [`ConsoleMux`]) and stderr (UHI fd 2), and when.
//!
//! With one VM (or natively) it goes out after every stretch of running,
//! so gdb's user sees it at once. With several VMs their lines interleave
//! by when they are written, so they are written only where the run
//! without gdb writes them: where its run loop drains the monitor (every
//! slice of clock ticks, when a VM's waiting output passes the monitor's
//! high-water mark, at the end). The output stays in the monitor until
//! then, which makes the monitor's own high-water check the same as in
//! that run; a VM's output written since the last such point shows up
//! later.

use super::host::{Debuggee, Outcome};
use crate::runner::monitored::ConsoleMux;
use std::io::{self, Write};

/// Where the guests' output goes, and when.
pub(super) struct Output {
    /// The consoles, one prefix per VM when there are several.
    pub(super) mux: ConsoleMux,
    /// Whether output waits for the points where the run without gdb
    /// drains it (several VMs).
    paced: bool,
    /// The run loop's slice, in clock ticks.
    slice: u64,
    /// The clock tick at which that run loop's current slice ends.
    drain_at: u64,
}

impl Output {
    /// The output of `host`, whose run loop would run slices of `slice`
    /// ticks (the first from now, at most `left` long).
    pub(super) fn new(host: &dyn Debuggee, slice: u64, left: Option<u64>) -> Self {
        let vms = host.vm_count();
        let mut o = Self {
            mux: ConsoleMux::new(vms),
            paced: vms > 1,
            slice,
            drain_at: 0,
        };
        o.next_slice(host.ticks(), left);
        o
    }

    /// Starts the run loop's next slice at clock tick `now`, at most
    /// `left` long (the instructions `--max-instructions` leaves).
    fn next_slice(&mut self, now: u64, left: Option<u64>) {
        let len = left.map_or(self.slice, |l| l.min(self.slice));
        self.drain_at = now.saturating_add(len);
    }

    /// The most ticks a run may go before the output must be looked at.
    pub(super) fn budget(&self, host: &dyn Debuggee, budget: u64) -> u64 {
        if self.paced {
            budget.min(self.drain_at.saturating_sub(host.ticks()).max(1))
        } else {
            budget
        }
    }

    /// After a run of `host` that ended with `outcome`: writes the output
    /// out if this is where it goes (`left` as for [`Output::new`]).
    pub(super) fn after_run(
        &mut self,
        host: &mut dyn Debuggee,
        outcome: &Outcome,
        left: Option<u64>,
    ) {
        let now = host.ticks();
        let due = !self.paced || !matches!(outcome, Outcome::Budget) || now >= self.drain_at;
        if due {
            self.drain(host);
            self.next_slice(now, left);
        }
    }

    /// Writes every VM's waiting output out; an error shows on stderr
    /// (the debugger still controls the run).
    pub(super) fn drain(&mut self, host: &mut dyn Debuggee) {
        let mut r = Ok(());
        for vm in 0..host.vm_count() {
            let (out, err) = host.take_output(vm);
            r = r.and(self.write(vm, &out, &err));
        }
        if let Err(e) = r {
            let _ = writeln!(
                io::stderr(),
                "demo-os: gdb: writing the guest's output: {e}"
            );
        }
    }

    /// Writes VM `vm`'s console output (through the prefixes) and its
    /// UHI fd-2 output.
    fn write(&mut self, vm: usize, out: &[u8], err: &[u8]) -> io::Result<()> {
        if !out.is_empty() {
            let mut o = io::stdout().lock();
            self.mux.write(vm, out, &mut o)?;
            o.flush()?;
        }
        if !err.is_empty() {
            io::stderr().lock().write_all(err)?;
        }
        Ok(())
    }
}
