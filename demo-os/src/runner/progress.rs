//! Progress of a long run on stderr: after two seconds of host time, a
//! line that says how far the run is (instructions, MIPS, the virtual
//! clock; for `--mode compare` which run is going), redrawn at most twice
//! a second and cleared before anything else is written and at the end.
//! Only when stderr is a terminal (and `HV_NO_PROGRESS` is not set):
//! nothing of it reaches a file or a pipe. Host time decides only when to
//! draw, never anything the guest sees.

use std::io::{self, Write};
use std::time::{Duration, Instant};

/// How long a run goes before its progress shows.
const DELAY: Duration = Duration::from_secs(2);
/// How often the line is redrawn.
const PERIOD: Duration = Duration::from_millis(500);

/// The progress line of one run.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
    started: Instant,
    /// Instructions at the first update: the run's start (a restored run
    /// starts where its snapshot was taken).
    first: Option<u64>,
    last: Option<Instant>,
    shown: bool,
    label: String,
}

impl Progress {
    /// Progress for a run called `label` (empty for a single run), shown
    /// only if stderr is a terminal.
    pub fn new(label: impl Into<String>) -> Self {
        // SAFETY: isatty only queries descriptor 2; no memory is touched.
        let tty = unsafe { libc::isatty(2) } == 1;
        Self::with(tty && std::env::var_os("HV_NO_PROGRESS").is_none(), label)
    }

    /// Progress that shows (or not) regardless of the terminal.
    pub fn with(enabled: bool, label: impl Into<String>) -> Self {
        Self {
            enabled,
            started: Instant::now(),
            first: None,
            last: None,
            shown: false,
            label: label.into(),
        }
    }

    /// Draws the line if it is time: `instructions` so far, the clock at
    /// `cycles`.
    pub fn update(
        &mut self,
        err: &mut dyn Write,
        instructions: u64,
        cycles: u64,
    ) -> io::Result<()> {
        if !self.enabled {
            return Ok(());
        }
        // A run restored from a snapshot starts counting past zero: the
        // rate counts what this process executed (from the first slice).
        let first = *self.first.get_or_insert(instructions);
        let now = Instant::now();
        let elapsed = now - self.started;
        if elapsed < DELAY || self.last.is_some_and(|t| now - t < PERIOD) {
            return Ok(());
        }
        self.last = Some(now);
        let mips = instructions.saturating_sub(first) as f64 / elapsed.as_secs_f64() / 1e6;
        write!(
            err,
            "\r\x1b[Kdemo-os: {}{:.1} M instructions ({mips:.0} MIPS), clock at {:.1} M cycles, {:.0} s",
            self.label,
            instructions as f64 / 1e6,
            cycles as f64 / 1e6,
            elapsed.as_secs_f64()
        )?;
        err.flush()?;
        self.shown = true;
        Ok(())
    }

    /// Clears the line if it is shown.
    pub fn clear(&mut self, err: &mut dyn Write) -> io::Result<()> {
        if std::mem::take(&mut self.shown) {
            write!(err, "\r\x1b[K")?;
            err.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_shows_when_disabled_or_early_and_a_shown_line_is_cleared() {
        let mut out = Vec::new();
        let mut off = Progress::with(false, "");
        off.update(&mut out, 1, 1).unwrap();
        assert!(out.is_empty());
        let mut on = Progress::with(true, "run 1/9 (native): ");
        on.update(&mut out, 1, 1).unwrap();
        assert!(out.is_empty(), "not within the first two seconds");
        on.started -= DELAY;
        on.update(&mut out, 5_000_000, 6_000_000).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.starts_with("\r\x1b[Kdemo-os: run 1/9 (native): 5.0 M instructions"),
            "{text:?}"
        );
        assert!(text.contains("clock at 6.0 M cycles"), "{text:?}");
        out.clear();
        on.clear(&mut out).unwrap();
        assert_eq!(out, b"\r\x1b[K");
        out.clear();
        on.clear(&mut out).unwrap();
        assert!(out.is_empty(), "cleared once");
    }
}
