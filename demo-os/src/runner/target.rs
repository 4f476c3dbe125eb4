//! The one run loop, for native and monitored runs alike.
//!
//! A [`Target`] is something that runs for a budget of instructions, has
//! guest consoles to drain and symbols to name its addresses with: the
//! bare machine ([`super::session::Native`]) or the monitor with its VMs
//! ([`super::monitored::Monitored`]). [`drive`] runs one in slices of
//! [`SLICE`] instructions until it stops, the instruction limit is reached
//! or Ctrl-C is pressed, feeding stdin to its console before each slice
//! and draining its output into a [`Sink`] after each (and whenever its
//! bounded output buffer fills, see [`hv_host::machine::console`]).
//! [`run_with_summary`] is a whole command-line run around it: stdin, the
//! Ctrl-C handler, the end of the output, the summary line and the exit
//! status. `--mode compare` drives the same targets into a [`Capture`].
//!
//! Every guest address the runner prints (in the summary, a crash report,
//! `--trace` output) goes through [`location`]: `0x80001004 <_start+0x4>:
//! addiu sp, sp, -16`. Rust names are demangled ([`demangle`]); an
//! address past the end of the sized symbol below it, or outside the
//! kernel's loaded segments, is printed bare ([`ElfImage::symbolize`]).
//! Symbol names come from the kernel file and are untrusted: they are
//! printed through [`printable`], so control characters appear escaped
//! (`\x1b`).

use super::RunnerError;
use super::cli::{EXIT_INTERRUPTED, EXIT_LIMIT, EXIT_RESET, EXIT_STALLED, EXIT_TRAP, SLICE};
use super::console::{self, ConsoleInput};
use super::monitored::ConsoleMux;
use super::progress::Progress;
use super::snapshot::Checkpoint;
use hv_host::addr::GuestVirtAddr;
use hv_host::machine::elf::{ElfImage, printable};
use hv_host::machine::insn::Instruction;
use hv_host::machine::{Engine, JitStats, Trap};
use hv_host::monitor::CrashReport;
use hv_host::monitor::stats::VmStats;
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// What a run slice left the target doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// It can run on (its budget ran out, or its output wants draining).
    Running,
    /// It stopped for good: every VM has its [`Target::stopped`] reason.
    Stopped,
}

/// What the run loop drives: the bare machine, or the monitor and its VMs
/// (VM `vm` is `0..vm_count()`; natively there is one).
pub trait Target {
    /// How many VMs (1 natively).
    fn vm_count(&self) -> usize;

    /// Guest instructions executed so far, every VM's together.
    fn instructions(&self) -> u64;

    /// Instructions per run slice.
    fn slice(&self) -> u64 {
        SLICE
    }

    /// Gives the guest console that takes stdin what `input` allows (see
    /// [`console`]); called before every slice.
    fn feed(&mut self, input: &mut ConsoleInput);

    /// Runs for at most `budget` more instructions.
    fn run(&mut self, budget: u64) -> Step;

    /// Copies out what the guests wrote since the last drain, and the
    /// trace records of the slice: consoles to [`Sink::console`], UHI
    /// fd-2 output and trace lines to [`Sink::stderr`].
    fn drain(&mut self, sink: &mut dyn Sink) -> io::Result<()>;

    /// How VM `vm` stopped by itself, if it did.
    fn stopped(&self, vm: usize) -> Option<Stop>;

    /// VM `vm`'s program counter now.
    fn pc(&self, vm: usize) -> GuestVirtAddr;

    /// The instruction at `pc` as VM `vm` sees it now, if it is mapped.
    fn fetch(&self, vm: usize, pc: GuestVirtAddr) -> Option<Instruction>;

    /// The kernel VM `vm` booted: its symbols name addresses.
    fn image(&self, vm: usize) -> &ElfImage;

    /// VM `vm`'s counters (natively only `guest_instructions`,
    /// `idle_ticks` and `stopped_at` are set).
    fn stats(&self, vm: usize) -> VmStats;

    /// The clock: virtual cycles since boot.
    fn ticks(&self) -> u64;

    /// The engine running the guest code, and its translating tier's
    /// counters.
    fn engine(&self) -> (Engine, JitStats);

    /// Its whole state, for a snapshot (`--save-at`).
    fn save_state(&self) -> super::snapshot::State;

    /// Writes what the target reports once the run is over, before the
    /// summary line (the monitor's statistics table); `ends` is how each
    /// VM ended.
    fn report(&self, _ends: &[Stop], _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    /// `pc` in VM `vm` as [`location`] prints it, with the instruction
    /// there if it is mapped.
    fn at(&self, vm: usize, pc: GuestVirtAddr) -> String {
        location(self.image(vm), pc, self.fetch(vm, pc))
    }
}

/// A Rust symbol name demangled (legacy `_ZN..E` or v0 `_R..`), without
/// its hash; any other name as it is.
pub fn demangle(name: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(name))
}

/// `0x80001004 <_start+0x4>: addiu sp, sp, -16`: `pc`, the symbol of
/// `image` it falls in and the offset (if any; the name demangled and
/// escaped with [`printable`]), and `insn` (if known). The one way the runner prints a
/// guest address.
pub fn location(image: &ElfImage, pc: GuestVirtAddr, insn: Option<Instruction>) -> String {
    let mut s = match image.symbolize(pc) {
        Some((name, off)) => format!("{pc} <{}+{off:#x}>", printable(&demangle(name))),
        None => pc.to_string(),
    };
    if let Some(insn) = insn {
        s.push_str(&format!(": {insn}"));
    }
    s
}

/// How a run (natively) or one VM (under the monitor) ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The guest called UHI `exit` (or the `Shutdown` hypercall) with
    /// this code.
    Exited(i32),
    /// The guest powered the board off.
    PowerOff,
    /// The guest reset the board (the run ends, as QEMU's `-no-reboot`).
    Reset,
    /// The guest waits for an interrupt that nothing can raise.
    Stalled,
    /// Natively: an exception routed to the host stopped the guest.
    Trap(Trap),
    /// Under the monitor: the guest cannot make progress, or the monitor
    /// could not serve it.
    Crashed(CrashReport),
    /// Natively: the guest entered an exception vector that holds no
    /// handler.
    NoHandler(hv_host::machine::exception::NoHandler),
    /// `--max-instructions` stopped the run.
    Limit(u64),
    /// Ctrl-C stopped the run.
    Interrupted,
    /// stdin (a pipe or a file) ended, and the guests then ran for
    /// [`INPUT_ENDED_WINDOW`] cycles without console output, each busy at
    /// most 10% of them: they wait for input that will never come.
    InputEnded,
}

/// Virtual cycles (60 s of the Malta board's clock) a guest may idle
/// without console output after stdin ended before the run ends
/// ([`Stop::InputEnded`]).
pub const INPUT_ENDED_WINDOW: u64 = 60 * 100_000_000;

/// The summary line's reasons, one per VM (`vmN ...` with several); past
/// [`GROUP_PAST`] VMs, a run of VMs that ended the same way is one entry
/// (`vm3..vm999 guest exited with code 0`).
fn reasons_of(described: &[String]) -> Vec<String> {
    if described.len() == 1 {
        return described.to_vec();
    }
    if described.len() <= GROUP_PAST {
        return described
            .iter()
            .enumerate()
            .map(|(vm, d)| format!("vm{vm} {d}"))
            .collect();
    }
    let mut out = Vec::new();
    let mut first = 0;
    for vm in 1..=described.len() {
        if vm == described.len() || described[vm] != described[first] {
            let who = if vm - first == 1 {
                format!("vm{first}")
            } else {
                format!("vm{first}..vm{}", vm - 1)
            };
            out.push(format!("{who} {}", described[first]));
            first = vm;
        }
    }
    out
}

/// VMs past which the summary and the statistics table group VMs.
pub const GROUP_PAST: usize = 16;

impl Stop {
    /// The process exit status this end means: the guest's code modulo
    /// 256, or one of the runner's codes (see `--help`).
    pub fn exit_status(&self) -> u8 {
        match *self {
            // Truncation is the point: a POSIX exit status keeps the low
            // 8 bits, so exit(-1) gives 255.
            Stop::Exited(code) => (code & 0xff) as u8,
            Stop::PowerOff => 0,
            Stop::Reset => EXIT_RESET,
            Stop::Stalled | Stop::InputEnded => EXIT_STALLED,
            Stop::Trap(_) | Stop::Crashed(_) | Stop::NoHandler(_) => EXIT_TRAP,
            Stop::Limit(_) => EXIT_LIMIT,
            Stop::Interrupted => EXIT_INTERRUPTED,
        }
    }

    /// The `stopped: ...` text of VM `vm` of `target`. Where the guest was
    /// stopped rather than ending by itself, it says where.
    pub fn describe(&self, target: &dyn Target, vm: usize) -> String {
        match self {
            Stop::Exited(code) => format!("guest exited with code {code}"),
            Stop::PowerOff => "guest powered off".into(),
            Stop::Reset => "guest reset the board".into(),
            Stop::Stalled => format!(
                "guest stalled: it waits for an interrupt and no interrupt source is enabled \
                 (next instruction at {})",
                target.at(vm, target.pc(vm))
            ),
            Stop::Trap(t) => format!(
                "unhandled {} exception at {}",
                t.code.name(),
                target.at(vm, t.pc)
            ),
            Stop::Crashed(c) => format!(
                "guest crashed at {}: {}",
                location(target.image(vm), c.pc, c.insn),
                c.cause
            ),
            Stop::NoHandler(n) => format!("guest crashed at {}: {n}", target.at(vm, n.pc)),
            Stop::Limit(n) => format!(
                "instruction limit reached (--max-instructions {n}) at {}",
                target.at(vm, target.pc(vm))
            ),
            Stop::Interrupted => {
                format!("interrupted (Ctrl-C) at {}", target.at(vm, target.pc(vm)))
            }
            Stop::InputEnded => format!(
                "stdin ended, and the guest has since waited {} virtual seconds without \
                 output, idle: it waits for input that will never come (at {})",
                INPUT_ENDED_WINDOW / 100_000_000,
                target.at(vm, target.pc(vm))
            ),
        }
    }

    /// The one-word form of the statistics table's `stopped` row.
    pub fn short(&self) -> String {
        match self {
            Stop::Exited(c) => format!("exit {c}"),
            Stop::PowerOff => "power off".into(),
            Stop::Reset => "reset".into(),
            Stop::Stalled => "stalled".into(),
            Stop::Trap(_) => "trap".into(),
            Stop::Crashed(_) | Stop::NoHandler(_) => "crashed".into(),
            Stop::Limit(_) => "limit".into(),
            Stop::Interrupted => "interrupted".into(),
            Stop::InputEnded => "input ended".into(),
        }
    }
}

/// Where a run's output goes.
pub trait Sink {
    /// Console output (UART and UHI fd 1) of VM `vm`.
    fn console(&mut self, vm: usize, bytes: &[u8]) -> io::Result<()>;
    /// Where UHI fd-2 output and trace lines go.
    fn stderr(&mut self) -> &mut dyn Write;
    /// Makes what was written so far visible.
    fn flush(&mut self) -> io::Result<()>;
    /// After a slice: the run is at `instructions`, the clock at `cycles`
    /// (see [`Progress`]).
    fn progress(&mut self, _instructions: u64, _cycles: u64) -> io::Result<()> {
        Ok(())
    }
}

/// A command-line run's output: the consoles to stdout (each line
/// prefixed with its VM when there are several, see [`ConsoleMux`]), the
/// rest to stderr.
pub struct Terminal<'a, O: Write, E: Write> {
    mux: ConsoleMux,
    stdout: &'a mut O,
    stderr: &'a mut E,
    progress: Progress,
}

impl<'a, O: Write, E: Write> Terminal<'a, O, E> {
    /// Output of `vms` VMs to `stdout` and `stderr`.
    #[cfg(test)]
    pub fn new(vms: usize, stdout: &'a mut O, stderr: &'a mut E) -> Self {
        Self::with_console(ConsoleMux::new(vms), stdout, stderr)
    }

    /// Output to `stdout` and `stderr`, the consoles going on through
    /// `mux` (which may hold VMs' unfinished lines).
    pub fn with_console(mux: ConsoleMux, stdout: &'a mut O, stderr: &'a mut E) -> Self {
        Self {
            mux,
            stdout,
            stderr,
            progress: Progress::new(""),
        }
    }

    /// Ends the consoles' unfinished lines (see [`ConsoleMux::finish`]) and
    /// flushes stdout.
    pub fn finish(&mut self) -> io::Result<()> {
        self.progress.clear(self.stderr)?;
        self.mux.finish(self.stdout)?;
        self.stdout.flush()
    }
}

impl<O: Write, E: Write> Sink for Terminal<'_, O, E> {
    fn console(&mut self, vm: usize, bytes: &[u8]) -> io::Result<()> {
        self.progress.clear(self.stderr)?;
        self.mux.write(vm, bytes, self.stdout)
    }
    fn stderr(&mut self) -> &mut dyn Write {
        // Nothing to clear the line with if that fails: the write that
        // follows reports the error.
        let _ = self.progress.clear(self.stderr);
        self.stderr
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stdout.flush()?;
        self.stderr.flush()
    }
    fn progress(&mut self, instructions: u64, cycles: u64) -> io::Result<()> {
        self.progress.update(self.stderr, instructions, cycles)
    }
}

/// Keeps each VM's console, drops the rest (`--mode compare`); shows the
/// run's progress on the real stderr.
pub struct Capture {
    /// Each VM's console output.
    pub consoles: Vec<Vec<u8>>,
    discard: io::Sink,
    progress: Progress,
}

impl Capture {
    /// Room for `vms` consoles; `label` names the run in its progress.
    pub fn new(vms: usize, label: &str) -> Self {
        Self {
            consoles: vec![Vec::new(); vms],
            discard: io::sink(),
            progress: Progress::new(label),
        }
    }

    /// Clears the progress line (the run is over).
    pub fn finish(&mut self) -> io::Result<()> {
        self.progress.clear(&mut io::stderr())
    }
}

impl Sink for Capture {
    fn console(&mut self, vm: usize, bytes: &[u8]) -> io::Result<()> {
        if let Some(c) = self.consoles.get_mut(vm) {
            c.extend_from_slice(bytes);
        }
        Ok(())
    }
    fn stderr(&mut self) -> &mut dyn Write {
        &mut self.discard
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn progress(&mut self, instructions: u64, cycles: u64) -> io::Result<()> {
        self.progress
            .update(&mut io::stderr(), instructions, cycles)
    }
}

/// Runs `target` in slices until it stops by itself (`None`), the VMs
/// together have executed `max_instructions` (`Some(Stop::Limit)`) or
/// Ctrl-C was pressed (`Some(Stop::Interrupted)`, once the handler of
/// [`console::catch_interrupt`] is installed). Before every slice `input`
/// (if any) feeds the target's console; after every slice its output goes
/// to `sink`. With a `checkpoint` (`--save-at`), the slice that reaches
/// its instruction count ends there, and the target's state is saved.
pub fn drive(
    target: &mut dyn Target,
    max_instructions: Option<u64>,
    mut input: Option<&mut ConsoleInput>,
    sink: &mut dyn Sink,
    mut checkpoint: Option<&mut Checkpoint>,
) -> Result<Option<Stop>, RunnerError> {
    let slice = target.slice();
    let mut watch = InputWatch::default();
    loop {
        if let Some(c) = checkpoint.as_deref_mut().filter(|c| !c.done)
            && target.instructions() >= c.at
        {
            let started = Instant::now();
            let state = target.save_state();
            c.save(
                target.instructions(),
                state,
                started.elapsed(),
                sink.stderr(),
            )?;
        }
        if console::interrupted() {
            return Ok(Some(Stop::Interrupted));
        }
        if let Some(input) = input.as_deref_mut() {
            target.feed(input);
        }
        let budget = match max_instructions {
            Some(max) => {
                let left = max.saturating_sub(target.instructions());
                if left == 0 {
                    return Ok(Some(Stop::Limit(max)));
                }
                left.min(slice)
            }
            None => slice,
        };
        let budget = match checkpoint.as_deref().filter(|c| !c.done) {
            Some(c) => budget.min(c.at.saturating_sub(target.instructions()).max(1)),
            None => budget,
        };
        let step = target.run(budget);
        let mut counted = Counted {
            inner: &mut *sink,
            console_bytes: 0,
        };
        target.drain(&mut counted)?;
        let printed = counted.console_bytes != 0;
        sink.progress(target.instructions(), target.ticks())?;
        if step == Step::Stopped {
            return Ok(None);
        }
        if input.as_deref().is_some_and(ConsoleInput::ended)
            && watch.idle_since_input_ended(&*target, printed)
        {
            return Ok(Some(Stop::InputEnded));
        }
    }
}

/// Watches a guest after its stdin ended (see [`Stop::InputEnded`]):
/// since when (clock, console VM's instructions) it has been quiet.
#[derive(Default)]
struct InputWatch {
    since: Option<(u64, Vec<u64>)>,
}

impl InputWatch {
    /// After a slice: whether the guests have printed nothing and each VM
    /// worked (ran instructions or the monitor's work for it) at most 10%
    /// of the cycles for [`INPUT_ENDED_WINDOW`] cycles: the one reading
    /// the console, and every other, waits. Output, or more work than
    /// that, starts the window again. (Natively: the guest idled in
    /// `wait` at least 90% of the time.)
    fn idle_since_input_ended(&mut self, target: &dyn Target, printed: bool) -> bool {
        let now = target.ticks();
        let busy: Vec<u64> = (0..target.vm_count())
            .map(|vm| target.stats(vm).virtual_cycles())
            .collect();
        match &self.since {
            Some((t0, b0))
                if !printed && busy.iter().zip(b0).all(|(b, b0)| (b - b0) * 10 <= now - t0) =>
            {
                now - t0 >= INPUT_ENDED_WINDOW
            }
            _ => {
                self.since = Some((now, busy));
                false
            }
        }
    }
}

/// A sink that counts the console bytes going through it.
struct Counted<'a> {
    inner: &'a mut dyn Sink,
    console_bytes: usize,
}

impl Sink for Counted<'_> {
    fn console(&mut self, vm: usize, bytes: &[u8]) -> io::Result<()> {
        self.console_bytes += bytes.len();
        self.inner.console(vm, bytes)
    }
    fn stderr(&mut self) -> &mut dyn Write {
        self.inner.stderr()
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// How each VM of `target` ended, `cut` being what [`drive`] returned:
/// its own stop, else the limit or Ctrl-C that cut the run.
pub fn ends(target: &dyn Target, cut: Option<&Stop>) -> Vec<Stop> {
    (0..target.vm_count())
        .map(|vm| {
            target
                .stopped(vm)
                .or_else(|| cut.cloned())
                // Not reached: a target stops only once every VM has.
                .unwrap_or(Stop::Limit(0))
        })
        .collect()
}

/// A command-line run of `target` to its end: installs the Ctrl-C
/// handler, feeds stdin to its console with `stdin`, copies its output to
/// `stdout` and `stderr` (see [`Terminal`]), then writes its report and
/// the summary line to `stderr`. Returns the exit status: 130 after
/// Ctrl-C, else the first VM's (in VM order) that is not 0.
pub fn run_with_summary(
    target: &mut dyn Target,
    cli: &super::cli::Cli,
    stdout: &mut impl Write,
    stderr: &mut impl Write,
) -> Result<u8, RunnerError> {
    let console = ConsoleMux::new(target.vm_count());
    run_with_summary_from(target, cli, console, stdout, stderr)
}

/// [`run_with_summary`] of a run that has begun (under gdb): the consoles
/// go on through `console`, which holds the VMs' unfinished lines.
pub fn run_with_summary_from(
    target: &mut dyn Target,
    cli: &super::cli::Cli,
    console: ConsoleMux,
    stdout: &mut impl Write,
    stderr: &mut impl Write,
) -> Result<u8, RunnerError> {
    let max_instructions = cli.max_instructions;
    // A Malta console (VM 0's under the monitor, or --console's) takes
    // stdin.
    let stdin = cli.takes_stdin();
    console::catch_interrupt();
    let mut input = stdin.then(ConsoleInput::from_stdin);
    let started = Instant::now();
    let first = target.instructions();
    let mut out = Terminal::with_console(console, stdout, stderr);
    let mut checkpoint = Checkpoint::of(cli)?;
    let cut = drive(
        target,
        max_instructions,
        input.as_mut(),
        &mut out,
        checkpoint.as_mut(),
    );
    // Restores the terminal before anything else is printed.
    drop(input);
    let cut = cut?;
    if let Some(c) = checkpoint.as_ref().filter(|c| !c.done) {
        c.missed(target.instructions(), out.stderr())?;
    }
    out.finish()?;
    let elapsed = started.elapsed();

    let ends = ends(target, cut.as_ref());
    target.report(&ends, stderr)?;
    let described: Vec<String> = ends
        .iter()
        .enumerate()
        .map(|(vm, end)| end.describe(target, vm))
        .collect();
    let reasons = reasons_of(&described);
    let line = summary_of(
        target.instructions(),
        target.instructions() - first,
        elapsed,
        &reasons.join("; "),
    );
    writeln!(stderr, "{line}")?;
    let (engine, jit) = target.engine();
    writeln!(stderr, "{}", engine_line(engine, &jit, elapsed))?;
    stderr.flush()?;
    let status = if cut == Some(Stop::Interrupted) {
        EXIT_INTERRUPTED
    } else {
        ends.iter()
            .map(Stop::exit_status)
            .find(|&s| s != 0)
            .unwrap_or(0)
    };
    if let Some(path) = &cli.stats_json {
        let doc = stats_document(target, cli, &ends, &reasons, elapsed, status);
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
        std::fs::write(path, text).map_err(|source| RunnerError::WriteFile {
            path: path.clone(),
            source,
        })?;
    }
    Ok(status)
}

/// The `--stats-json` document of a finished run (see
/// [`super::stats_json`]).
fn stats_document(
    target: &dyn Target,
    cli: &super::cli::Cli,
    ends: &[Stop],
    reasons: &[String],
    elapsed: Duration,
    status: u8,
) -> serde_json::Value {
    use super::cli::Mode;
    use super::stats_json;
    let monitored = cli.mode != Mode::Native;
    let vms: Vec<serde_json::Value> = (0..target.vm_count())
        .map(|vm| {
            let mut o = stats_json::vm(&target.stats(vm), monitored);
            if !monitored {
                // Natively the one VM is the machine: its count is the
                // run's.
                o.insert("guest_instructions".into(), target.instructions().into());
            }
            if let Some(end) = ends.get(vm) {
                o.insert("exit_code".into(), end.exit_status().into());
                o.insert("stopped".into(), end.short().into());
            }
            if let Some(r) = reasons.get(vm) {
                o.insert("stopped_reason".into(), r.clone().into());
            }
            serde_json::Value::Object(o)
        })
        .collect();
    let (engine, jit) = target.engine();
    serde_json::json!({
        "schema": stats_json::SCHEMA,
        "mode": match cli.mode {
            Mode::Native => "native",
            Mode::Full => "full",
            Mode::Para => "para",
            Mode::Compare => "compare",
            Mode::Consolidate => "consolidate",
        },
        "board": match cli.board {
            super::cli::BoardKind::Malta => "malta",
            _ => "mipssim",
        },
        "guest_instructions": target.instructions(),
        "virtual_cycles": target.ticks(),
        "wall_seconds": elapsed.as_secs_f64(),
        "exit_status": status,
        "engine": stats_json::engine(engine, &jit, elapsed),
        "vms": vms,
    })
}

/// The summary line: `demo-os: <N> instructions in <S> s (<M> MIPS);
/// stopped: <reason>`.
pub fn summary(instructions: u64, elapsed: Duration, reason: &str) -> String {
    summary_of(instructions, instructions, elapsed, reason)
}

/// [`summary`] of a run that executed `ran` of its `instructions` in
/// this process (the rest before the snapshot it was restored from): the
/// MIPS figure counts those only.
pub fn summary_of(instructions: u64, ran: u64, elapsed: Duration, reason: &str) -> String {
    let secs = elapsed.as_secs_f64();
    let mips = if secs > 0.0 {
        ran as f64 / secs / 1e6
    } else {
        0.0
    };
    format!(
        "demo-os: {instructions} instructions in {secs:.3} s ({mips:.1} MIPS); stopped: {reason}"
    )
}

/// The engine line printed under the summary: `demo-os: engine jit: 812
/// blocks (5210 instructions) translated in 41.2 ms (12.3% of host time);
/// 96.1% of instructions ran translated; block exits: 120034 chained,
/// 80211 to the run loop (1022 bailouts); 3 blocks invalidated`.
pub fn engine_line(engine: Engine, jit: &JitStats, elapsed: Duration) -> String {
    match engine {
        Engine::Interp => "demo-os: engine interp (the reference interpreter)".into(),
        Engine::Jit => {
            let t = jit.translate_time.as_secs_f64();
            let share = if elapsed.as_secs_f64() > 0.0 {
                100.0 * t / elapsed.as_secs_f64()
            } else {
                0.0
            };
            format!(
                "demo-os: engine jit: {} blocks ({} instructions) translated in {:.1} ms ({share:.1}% of host time); \
                 {} instructions ran translated; block exits: {} chained, {} to the run loop ({} bailouts); \
                 {} blocks invalidated, {} code flushes",
                jit.blocks,
                jit.block_insns,
                t * 1e3,
                jit.insns,
                jit.chained,
                jit.unchained,
                jit.bailouts,
                jit.invalidations,
                jit.flushes,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rust_names_are_demangled_without_their_hash_and_others_kept() {
        assert_eq!(
            super::demangle("_ZN4core3fmt5write17h0123456789abcdefE"),
            "core::fmt::write"
        );
        assert_eq!(
            super::demangle("_RNvNtCs5CS0TK3POag_11demo_kernel2mm3map"),
            "demo_kernel::mm::map"
        );
        assert_eq!(super::demangle("_start"), "_start");
        assert_eq!(super::demangle("evil\x1b"), "evil\x1b");
    }

    use super::*;

    /// A kernel with a mangled function at 0x80001000 (8 bytes) and a
    /// 16-byte text segment: its second half lies past the last symbol.
    fn image() -> ElfImage {
        let bytes = hv_tests::ElfBuilder::new(0x8000_1000)
            .code(0x8000_1000, &[0x2408_0001, 0, 0, 0])
            .symbol(
                "_ZN11demo_kernel4trap6handle17h0123456789abcdefE",
                0x8000_1000,
                8,
                true,
            )
            .build();
        ElfImage::parse(&bytes).expect("a MIPS ELF executable")
    }

    #[test]
    fn locations_demangle_the_symbol() {
        let at = |a| location(&image(), GuestVirtAddr::new(a), None);
        assert_eq!(
            at(0x8000_1004),
            "0x80001004 <demo_kernel::trap::handle+0x4>"
        );
    }

    #[test]
    fn an_address_past_the_last_symbols_end_is_printed_bare() {
        let at = |a| location(&image(), GuestVirtAddr::new(a), None);
        // 0x80001008 is the symbol's address plus its size.
        assert_eq!(at(0x8000_1008), "0x80001008");
        assert_eq!(at(0x8000_100c), "0x8000100c");
        assert_eq!(at(0x8000_2000), "0x80002000");
    }

    #[test]
    fn exit_statuses() {
        assert_eq!(Stop::Exited(0).exit_status(), 0);
        assert_eq!(Stop::Exited(3).exit_status(), 3);
        assert_eq!(Stop::Exited(-1).exit_status(), 255);
        assert_eq!(Stop::Exited(256).exit_status(), 0);
        assert_eq!(Stop::Limit(5).exit_status(), 124);
        assert_eq!(Stop::Stalled.exit_status(), 125);
        assert_eq!(Stop::Interrupted.exit_status(), 130);
        assert_eq!(Stop::PowerOff.exit_status(), 0);
    }

    #[test]
    fn summary_format() {
        assert_eq!(
            summary(
                2_000_000,
                Duration::from_millis(500),
                "guest exited with code 0"
            ),
            "demo-os: 2000000 instructions in 0.500 s (4.0 MIPS); stopped: guest exited with code 0"
        );
        assert!(summary(1, Duration::ZERO, "x").contains("(0.0 MIPS)"));
        // Restored from a snapshot: the rate counts this process's work.
        assert!(
            summary_of(9_000_000, 1_000_000, Duration::from_secs(1), "x")
                .starts_with("demo-os: 9000000 instructions in 1.000 s (1.0 MIPS)")
        );
    }
}
