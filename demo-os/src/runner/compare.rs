//! `--mode compare`: the demo workload run natively, fully virtualized
//! (the unmodified image under the monitor) and paravirtualized (the PV
//! image under the monitor with hypercalls), then a busy VM alone and
//! beside an idle VM under both monitor modes; one table on stdout (or,
//! with `--json`, one JSON object) of what each run cost.
//!
//! The guests' consoles are not printed: each is checked against the
//! native run of the same boot arguments (its timing-free lines, sorted,
//! see [`stable_lines`]) and the exit status is 0 only when every run
//! exits 0 with the native output. Every figure but the host wall time is
//! deterministic.

use super::cli::{Cli, EXIT_ERROR, EXIT_INTERRUPTED, Image, KernelSource, Mode};
use super::console::{self, ConsoleInput};
use super::monitored::{self, Guest};
use super::session::Native;
use super::target::{self, Capture, Target};
use super::{RunnerError, boot_machine, load_image, stats_json};
use demo_os::{BootArgs, STAT_PREFIX};
use hv_abi::Hypercall;
use hv_host::machine::elf::ElfImage;
use hv_host::machine::{Engine, JitStats};
use hv_host::monitor::stats::{ExitReason, PRIV_NAMES, VmStats};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

/// The busy VM's programs in the two-VM case.
pub const BUSY_PROGRAMS: &str = "sieve,memory,pages";
/// The idle VM's program in the two-VM case.
pub const IDLE_PROGRAMS: &str = "sleeper";

/// The line the kernel prints when the boot arguments are not the
/// default; left out of the comparison with native.
const WORK_SCALE_PREFIX: &str = "demo-os: work scale";

/// One VM's part of a run (natively, the machine's).
#[derive(Debug)]
pub(super) struct VmRun {
    /// Its counters; natively only `guest_instructions`, `idle_ticks` and
    /// `stopped_at` are set.
    pub(super) stats: VmStats,
    /// Its console output (UART and UHI fd 1).
    pub(super) console: String,
    /// The exit status its end means (see `--help`).
    pub(super) status: u8,
    /// How it ended, as the summary line says.
    pub(super) stop: String,
    /// The same in a word or two, as the statistics table says.
    pub(super) short: String,
}

/// One run of the machine or the monitor to its end.
#[derive(Debug)]
pub(super) struct Run {
    /// Virtual cycles: the machine's or the monitor's clock at the end.
    pub(super) cycles: u64,
    /// Host time the run took.
    pub(super) wall: Duration,
    /// The engine that ran it, and its translating tier's counters.
    engine: (Engine, JitStats),
    /// Its VMs, in order (one natively).
    pub(super) vms: Vec<VmRun>,
}

impl Run {
    /// The first (natively the only) VM.
    fn vm0(&self) -> &VmRun {
        &self.vms[0]
    }

    /// Guest instructions of every VM together.
    fn guest_instructions(&self) -> u64 {
        self.vms.iter().map(|v| v.stats.guest_instructions).sum()
    }

    /// The clock tick at which VM `i` stopped (the end of the run if it
    /// did not).
    pub(super) fn stopped_at(&self, i: usize) -> u64 {
        self.vms[i].stats.stopped_at.unwrap_or(self.cycles)
    }

    /// `f` summed over every VM.
    fn sum(&self, f: impl Fn(&VmStats) -> u64) -> u64 {
        self.vms.iter().map(|v| f(&v.stats)).sum()
    }
}

/// Runs `target` to its end, keeping each VM's console; `input` feeds the
/// console VM (none: the guest waits for input for ever).
pub(super) fn run_to_end(
    cli: &Cli,
    label: &str,
    target: &mut dyn Target,
    mut input: Option<ConsoleInput>,
) -> Result<Run, RunnerError> {
    let report = if cli.mode == Mode::Consolidate {
        "consolidate"
    } else {
        "compare"
    };
    let mut capture = Capture::new(target.vm_count(), &format!("{report}: {label}: "));
    let started = Instant::now();
    let cut = target::drive(
        target,
        cli.max_instructions,
        input.as_mut(),
        &mut capture,
        None,
    )?;
    capture.finish()?;
    let wall = started.elapsed();
    let vms = target::ends(target, cut.as_ref())
        .iter()
        .zip(capture.consoles)
        .enumerate()
        .map(|(i, (end, console))| VmRun {
            stats: target.stats(i),
            console: String::from_utf8_lossy(&console).into_owned(),
            status: end.exit_status(),
            stop: end.describe(target, i),
            short: end.short(),
        })
        .collect();
    Ok(Run {
        cycles: target.ticks(),
        wall,
        engine: target.engine(),
        vms,
    })
}

/// Boots `image` with `args` on the bare machine and runs it to its end.
fn run_native(
    cli: &Cli,
    label: &str,
    image: &(String, ElfImage),
    args: BootArgs,
) -> Result<Run, RunnerError> {
    let machine = boot_machine(cli.ram_bytes(), &image.0, &image.1, args)?;
    run_to_end(cli, label, &mut Native::new(machine, &image.1, false), None)
}

/// Boots one VM per guest under the monitor (`hypercalls` offered or
/// not) and runs them all to their end.
fn run_monitor(
    cli: &Cli,
    label: &str,
    hypercalls: bool,
    guests: &[Guest<'_>],
) -> Result<Run, RunnerError> {
    let config = monitored::monitor_config(cli, hypercalls);
    let mut monitored = monitored::build(
        config,
        &vec![monitored::vm_config(cli); guests.len()],
        guests,
    )?;
    run_to_end(cli, label, &mut monitored, None)
}

/// The console lines that do not depend on timing or on the path taken
/// (not `stat ` lines, not the work-scale line), sorted: concurrent
/// programs interleave differently in every mode.
pub fn stable_lines(console: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = console
        .lines()
        .filter(|l| !l.starts_with(&format!("{STAT_PREFIX} ")) && !l.starts_with(WORK_SCALE_PREFIX))
        .collect();
    lines.sort_unstable();
    lines
}

/// `None` if `console` has the same stable lines as `native`, else the
/// first line that differs.
fn difference(console: &str, native: &str) -> Option<String> {
    let (a, b) = (stable_lines(console), stable_lines(native));
    if a == b {
        return None;
    }
    let at = a.iter().zip(&b).position(|(x, y)| x != y);
    Some(match at {
        Some(i) => format!("`{}` where native has `{}`", a[i], b[i]),
        None if a.len() > b.len() => format!("extra line `{}`", a[b.len()]),
        None => format!("missing line `{}`", b[a.len()]),
    })
}

/// The counters of the guest kernel's `stat memory:` line (`tlb refills`,
/// `frames zeroed`, `frames vouched zero`, `zeroing stores`, ...), by
/// name; empty if the console has none.
pub fn guest_memory_stats(console: &str) -> BTreeMap<String, u64> {
    let Some(line) = console
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("stat memory:"))
    else {
        return BTreeMap::new();
    };
    // Each item is `<name> <number>`, possibly followed by a remark
    // (`tlb refills 0 by the handler (...)`).
    line.split(',')
        .filter_map(|item| {
            let words: Vec<&str> = item.split_whitespace().collect();
            let i = words.iter().position(|w| w.parse::<u64>().is_ok())?;
            Some((words[..i].join(" "), words[i].parse().ok()?))
        })
        .collect()
}

/// A run checked against the native run of the same boot arguments.
struct Checked<'a> {
    run: &'a Run,
    /// Per VM: whether its output matches native.
    identical: Vec<bool>,
}

impl Checked<'_> {
    fn all_identical(&self) -> bool {
        self.identical.iter().all(|&b| b)
    }
}

/// The guest that boots `image` (name, ELF) with `args`.
fn guest(image: &(String, ElfImage), args: BootArgs) -> Guest<'_> {
    Guest {
        name: &image.0,
        image: &image.1,
        args,
        linux: None,
    }
}

/// Checks each VM of `run` (called `label`) against the native run of the
/// same boot arguments (`natives[i]` for VM `i`): its exit status and its
/// output; adds what is wrong to `problems`.
fn check<'a>(
    label: &str,
    run: &'a Run,
    natives: &[&Run],
    problems: &mut Vec<String>,
) -> Checked<'a> {
    let identical = run
        .vms
        .iter()
        .zip(natives)
        .enumerate()
        .map(|(i, (vm, native))| {
            let who = if run.vms.len() > 1 {
                format!("{label} vm{i}")
            } else {
                label.to_owned()
            };
            if vm.status != 0 {
                problems.push(format!("{who}: exit status {}: {}", vm.status, vm.stop));
            }
            let diff = difference(&vm.console, &native.vm0().console);
            if let Some(d) = &diff {
                problems.push(format!("{who}: output differs from native: {d}"));
            }
            diff.is_none()
        })
        .collect();
    Checked { run, identical }
}

/// Every run of a comparison.
struct Comparison {
    work: u32,
    native: Run,
    full: Run,
    para: Run,
    busy_native: Run,
    idle_native: Run,
    busy_full: Run,
    busy_para: Run,
    pair_full: Run,
    pair_para: Run,
}

/// Runs the comparison; stdout gets the table (or JSON), stderr a
/// summary or what went wrong.
pub fn run(cli: &Cli, stdout: &mut impl Write, stderr: &mut impl Write) -> Result<u8, RunnerError> {
    if !cli.kernel.is_empty() || cli.image.is_some() {
        return Err(RunnerError::Usage(
            "--mode compare runs the built-in images: it takes no --kernel or --image".into(),
        ));
    }
    if cli.vms > 1 {
        return Err(RunnerError::Usage(
            "--mode compare chooses its own VMs: it takes no --vms".into(),
        ));
    }
    if cli.programs.len() > 1 {
        return Err(RunnerError::Usage(
            "--mode compare takes one --programs list (the busy and idle VMs run their own)".into(),
        ));
    }
    if cli.trace_arg.is_some() {
        return Err(RunnerError::Usage(
            "--trace does not apply to --mode compare".into(),
        ));
    }
    let unmodified = load_image(KernelSource::Builtin(Image::Unmodified))?;
    let pv = load_image(KernelSource::Builtin(Image::Pv))?;
    // Ctrl-C stops the run going on after its slice; the runs after it
    // then stop at once, and the table shows how far each got.
    console::catch_interrupt();
    let main = cli.boot_args();
    let mask = |list| demo_os::program_mask(list).expect("the built-in program lists are valid");
    let busy = BootArgs {
        work: cli.work,
        programs: mask(BUSY_PROGRAMS),
    };
    let idle = BootArgs {
        work: cli.work,
        programs: mask(IDLE_PROGRAMS),
    };
    let c = Comparison {
        work: cli.work,
        native: run_native(cli, "run 1/9 (native)", &unmodified, main)?,
        full: run_monitor(cli, "run 2/9 (full)", false, &[guest(&unmodified, main)])?,
        para: run_monitor(cli, "run 3/9 (para)", true, &[guest(&pv, main)])?,
        busy_native: run_native(cli, "run 4/9 (busy VM, native)", &unmodified, busy)?,
        idle_native: run_native(cli, "run 5/9 (idle VM, native)", &unmodified, idle)?,
        busy_full: run_monitor(
            cli,
            "run 6/9 (busy VM, full)",
            false,
            &[guest(&unmodified, busy)],
        )?,
        busy_para: run_monitor(cli, "run 7/9 (busy VM, para)", true, &[guest(&pv, busy)])?,
        pair_full: run_monitor(
            cli,
            "run 8/9 (two VMs, full)",
            false,
            &[guest(&unmodified, busy), guest(&unmodified, idle)],
        )?,
        pair_para: run_monitor(
            cli,
            "run 9/9 (two VMs, para)",
            true,
            &[guest(&pv, busy), guest(&pv, idle)],
        )?,
    };

    let mut problems = Vec::new();
    let checked = c.check(&mut problems);
    if cli.json {
        let text = serde_json::to_string_pretty(&c.json(&checked, &problems))
            .expect("a JSON value always serializes");
        writeln!(stdout, "{text}")?;
    } else {
        write!(stdout, "{}", c.table(&checked))?;
    }
    stdout.flush()?;
    if let Some(path) = &cli.svg {
        std::fs::write(path, c.svg()).map_err(|source| RunnerError::WriteFile {
            path: path.clone(),
            source,
        })?;
    }
    if console::interrupted() {
        writeln!(
            stderr,
            "demo-os: compare: interrupted (Ctrl-C): the table shows each run as far as it got"
        )?;
        return Ok(EXIT_INTERRUPTED);
    }
    if problems.is_empty() {
        writeln!(
            stderr,
            "demo-os: compare: 9 runs, every one exited 0 with the native output"
        )?;
        Ok(0)
    } else {
        for p in &problems {
            writeln!(stderr, "demo-os: compare: {p}")?;
        }
        Ok(EXIT_ERROR)
    }
}

/// The checked runs, by name.
struct CheckedRuns<'a> {
    native: Checked<'a>,
    full: Checked<'a>,
    para: Checked<'a>,
    busy_full: Checked<'a>,
    busy_para: Checked<'a>,
    pair_full: Checked<'a>,
    pair_para: Checked<'a>,
}

impl Comparison {
    /// Checks every run's exit status and output against native, adding
    /// what is wrong to `problems`.
    fn check(&self, problems: &mut Vec<String>) -> CheckedRuns<'_> {
        let native = check("native", &self.native, &[&self.native], problems);
        check(
            "busy VM native",
            &self.busy_native,
            &[&self.busy_native],
            problems,
        );
        check(
            "idle VM native",
            &self.idle_native,
            &[&self.idle_native],
            problems,
        );
        let pair = [&self.busy_native, &self.idle_native];
        CheckedRuns {
            native,
            full: check("full", &self.full, &[&self.native], problems),
            para: check("para", &self.para, &[&self.native], problems),
            busy_full: check("busy VM alone, full", &self.busy_full, &pair[..1], problems),
            busy_para: check("busy VM alone, para", &self.busy_para, &pair[..1], problems),
            pair_full: check("two VMs, full", &self.pair_full, &pair, problems),
            pair_para: check("two VMs, para", &self.pair_para, &pair, problems),
        }
    }

    /// The comparison as one table.
    fn table(&self, checked: &CheckedRuns<'_>) -> String {
        let modes = [&self.native, &self.full, &self.para];
        let mut t = Table::default();
        let stats = |f: &dyn Fn(&VmStats) -> u64| modes.map(|r| f(&r.vm0().stats));
        let guest = modes.map(|r| guest_memory_stats(&r.vm0().console));
        let guest_stat = |name: &str| guest.clone().map(|g| g.get(name).copied());

        t.counts(
            "guest instructions",
            modes.map(Run::guest_instructions),
            true,
        );
        t.counts("virtual cycles", modes.map(|r| r.cycles), true);
        t.monitor("exits", stats(&VmStats::exits_total));
        for r in ExitReason::ALL {
            let v = stats(&|s| s.exit_count(r));
            if v.iter().any(|&n| n > 0) {
                t.monitor(&format!("  {}", r.name()), v);
            }
        }
        t.monitor(
            "privileged instructions emulated",
            stats(&|s| s.privileged.iter().sum()),
        );
        for (i, name) in PRIV_NAMES.iter().enumerate() {
            let v = stats(&|s| s.privileged[i]);
            if v.iter().any(|&n| n > 0) {
                t.monitor(&format!("  {name}"), v);
            }
        }
        t.monitor("hypercalls", stats(&|s| s.hypercalls.iter().sum()));
        for call in Hypercall::ALL {
            let v = stats(&|s| hypercalls(s, call));
            if v.iter().any(|&n| n > 0) {
                t.monitor(&format!("  {call}"), v);
            }
        }
        t.optional(
            "tlb refills by the guest's handler",
            guest_stat("tlb refills"),
        );
        t.monitor(
            "tlb refills served by the software tlb",
            stats(&|s| s.stlb_refills),
        );
        t.monitor(
            "tlb entries put in at the guest's tlbwr",
            stats(&|s| s.prefills),
        );
        t.monitor(
            "tlb refills forwarded to the guest",
            stats(&|s| s.refills_forwarded),
        );
        t.monitor(
            "tlb refills walked from guest page tables",
            stats(&|s| s.walked_refills),
        );
        t.optional("frames zeroed by the guest", guest_stat("frames zeroed"));
        t.optional(
            "frames the guest skipped as vouched zero",
            guest_stat("frames vouched zero"),
        );
        t.monitor("frames zeroed by the monitor", stats(&|s| s.frames_zeroed));
        t.monitor(
            "frames vouched zero by the monitor",
            stats(&|s| s.frames_vouched),
        );
        t.optional(
            "store instructions spent zeroing",
            guest_stat("zeroing stores"),
        );
        t.counts("idle ticks", stats(&|s| s.idle_ticks), false);
        t.monitor("machine switches", stats(&|s| s.machine_switches));
        t.seconds("host wall time (s)", modes.map(|r| r.wall));
        t.row("engine", modes.map(|r| Some(r.engine.0.name().to_string())));
        if modes.iter().any(|r| r.engine.0 == Engine::Jit) {
            let jit =
                |f: &dyn Fn(&JitStats) -> u64| modes.map(|r| Some(f(&r.engine.1).to_string()));
            t.row("  blocks translated", jit(&|j| j.blocks));
            t.row(
                "  translation time (ms)",
                modes.map(|r| {
                    Some(format!(
                        "{:.1}",
                        r.engine.1.translate_time.as_secs_f64() * 1e3
                    ))
                }),
            );
            t.row(
                "  translation share of host time",
                modes.map(|r| Some(format!("{:.1}%", 100.0 * translate_share(r)))),
            );
            t.row("  instructions run translated", jit(&|j| j.insns));
            t.row("  chained block exits", jit(&|j| j.chained));
            t.row("  block exits to the run loop", jit(&|j| j.unchained));
            t.row("  blocks invalidated", jit(&|j| j.invalidations));
        }
        t.row(
            "exit status",
            modes.map(|r| Some(r.vm0().status.to_string())),
        );
        t.row(
            "output identical to native",
            [&checked.native, &checked.full, &checked.para]
                .map(|c| Some(yes_no(c.all_identical()))),
        );

        t.section("two VMs: busy (sieve,memory,pages) and idle (sleeper)");
        let alone = [
            self.busy_native.cycles,
            self.busy_full.stopped_at(0),
            self.busy_para.stopped_at(0),
        ];
        t.counts("busy VM alone, virtual cycles", alone, true);
        let beside = [
            None,
            Some(self.pair_full.stopped_at(0)),
            Some(self.pair_para.stopped_at(0)),
        ];
        t.ratio_row("busy VM beside the idle VM", beside, alone[0]);
        t.row(
            "  slowdown from the idle VM",
            [
                None,
                Some(ratio(beside[1].unwrap_or(0), alone[1])),
                Some(ratio(beside[2].unwrap_or(0), alone[2])),
            ],
        );
        let pairs = [&self.pair_full, &self.pair_para];
        let pair_row = |f: &dyn Fn(&Run) -> String| {
            let [a, b] = pairs.map(f);
            [None, Some(a), Some(b)]
        };
        t.row(
            "  idle VM exits",
            pair_row(&|r| r.vms[1].stats.exits_total().to_string()),
        );
        t.row(
            "  idle VM hypercalls",
            pair_row(&|r| r.vms[1].stats.hypercalls.iter().sum::<u64>().to_string()),
        );
        t.row(
            "  machine switches",
            pair_row(&|r| r.sum(|s| s.machine_switches).to_string()),
        );
        t.row(
            "  idle ticks",
            pair_row(&|r| r.sum(|s| s.idle_ticks).to_string()),
        );
        t.row(
            "  host wall time (s)",
            pair_row(&|r| format!("{:.3}", r.wall.as_secs_f64())),
        );
        let two_vm_ok =
            |a: &Checked<'_>, b: &Checked<'_>| Some(yes_no(a.all_identical() && b.all_identical()));
        t.row(
            "  outputs identical to native",
            [
                None,
                two_vm_ok(&checked.busy_full, &checked.pair_full),
                two_vm_ok(&checked.busy_para, &checked.pair_para),
            ],
        );
        t.render(self.work)
    }

    /// The comparison as bar charts (see [`svg`]).
    fn svg(&self) -> String {
        use super::svg::{Bar, Panel, render};
        let modes = [
            ("native", &self.native),
            ("full", &self.full),
            ("para", &self.para),
        ];
        let per_mode = |title: &str, f: &dyn Fn(&Run) -> u64| Panel {
            title: title.into(),
            bars: modes
                .iter()
                .map(|&(name, r)| Bar {
                    label: name.into(),
                    series: name,
                    value: f(r),
                })
                .collect(),
        };
        let monitored = [("full", &self.full), ("para", &self.para)];
        let mut exits = Vec::new();
        for reason in ExitReason::ALL {
            if monitored
                .iter()
                .all(|(_, r)| r.vm0().stats.exit_count(reason) == 0)
            {
                continue;
            }
            for &(name, r) in &monitored {
                exits.push(Bar {
                    label: format!("{} ({name})", reason.name()),
                    series: name,
                    value: r.vm0().stats.exit_count(reason),
                });
            }
        }
        let calls = Hypercall::ALL
            .iter()
            .filter(|&&h| hypercalls(&self.para.vm0().stats, h) > 0)
            .map(|&h| Bar {
                label: h.to_string(),
                series: "para",
                value: hypercalls(&self.para.vm0().stats, h),
            })
            .collect();
        render(
            &format!("demo-os compare, --work {}", self.work),
            &[
                per_mode("virtual cycles (the clock)", &|r| r.cycles),
                per_mode("guest instructions", &Run::guest_instructions),
                per_mode("exits to the monitor", &|r| r.vm0().stats.exits_total()),
                Panel {
                    title: "exits by reason".into(),
                    bars: exits,
                },
                Panel {
                    title: "hypercalls by kind (para)".into(),
                    bars: calls,
                },
            ],
        )
    }

    /// The comparison as one JSON object.
    fn json(&self, checked: &CheckedRuns<'_>, problems: &[String]) -> Value {
        let native_wall = self.native.wall.as_secs_f64();
        let mode = |c: &Checked<'_>, native: bool| {
            let r = c.run;
            let s = &r.vm0().stats;
            let guest = guest_memory_stats(&r.vm0().console);
            let [exits, privileged, calls] = stats_json::breakdowns(s);
            let mut m = json!({
                "guest_instructions": r.guest_instructions(),
                "virtual_cycles": r.cycles,
                "exits_total": s.exits_total(),
                "exits": exits,
                "privileged_total": s.privileged.iter().sum::<u64>(),
                "privileged": privileged,
                "hypercalls_total": s.hypercalls.iter().sum::<u64>(),
                "hypercalls": calls,
                "guest_tlb_refills": guest.get("tlb refills"),
                "stlb_refills": s.stlb_refills,
                "prefills": s.prefills,
                "refills_forwarded": s.refills_forwarded,
                "walked_refills": s.walked_refills,
                "guest_frames_zeroed": guest.get("frames zeroed"),
                "guest_frames_vouched_zero": guest.get("frames vouched zero"),
                "guest_zeroing_stores": guest.get("zeroing stores"),
                "monitor_frames_zeroed": s.frames_zeroed,
                "monitor_frames_vouched": s.frames_vouched,
                "idle_ticks": s.idle_ticks,
                "machine_switches": s.machine_switches,
                "wall_seconds": r.wall.as_secs_f64(),
                "engine": engine_json(r),
                "exit_code": r.vm0().status,
                "output_identical_to_native": c.all_identical(),
            });
            if !native {
                m["ratio_to_native"] = json!({
                    "guest_instructions": fratio(r.guest_instructions(), self.native.guest_instructions()),
                    "virtual_cycles": fratio(r.cycles, self.native.cycles),
                    "wall_seconds": if native_wall > 0.0 { r.wall.as_secs_f64() / native_wall } else { 0.0 },
                });
            }
            m
        };
        let two_vm_identical = [
            &checked.busy_full,
            &checked.busy_para,
            &checked.pair_full,
            &checked.pair_para,
        ]
        .iter()
        .all(|c| c.all_identical());
        let beside_full = self.pair_full.stopped_at(0);
        let beside_para = self.pair_para.stopped_at(0);
        let (alone_full, alone_para) = (self.busy_full.stopped_at(0), self.busy_para.stopped_at(0));
        json!({
            "work": self.work,
            "ok": problems.is_empty(),
            "problems": problems,
            "modes": {
                "native": mode(&checked.native, true),
                "full": mode(&checked.full, false),
                "para": mode(&checked.para, false),
            },
            "two_vm": {
                "busy_programs": BUSY_PROGRAMS,
                "idle_programs": IDLE_PROGRAMS,
                "busy_alone_cycles": alone_full,
                "busy_alone_cycles_full": alone_full,
                "busy_alone_cycles_native": self.busy_native.cycles,
                "busy_alone_cycles_para": alone_para,
                "busy_beside_idle_cycles_full": beside_full,
                "busy_beside_idle_cycles_para": beside_para,
                "slowdown_full": fratio(beside_full, alone_full),
                "slowdown_para": fratio(beside_para, alone_para),
                "idle_vm_exits_full": self.pair_full.vms[1].stats.exits_total(),
                "idle_vm_exits_para": self.pair_para.vms[1].stats.exits_total(),
                "idle_vm_hypercalls_para": self.pair_para.vms[1].stats.hypercalls.iter().sum::<u64>(),
                "machine_switches_full": self.pair_full.sum(|s| s.machine_switches),
                "machine_switches_para": self.pair_para.sum(|s| s.machine_switches),
                "idle_ticks_full": self.pair_full.sum(|s| s.idle_ticks),
                "idle_ticks_para": self.pair_para.sum(|s| s.idle_ticks),
                "wall_seconds_full": self.pair_full.wall.as_secs_f64(),
                "wall_seconds_para": self.pair_para.wall.as_secs_f64(),
                "outputs_identical_to_native": two_vm_identical,
            },
        })
    }
}

/// The share of a run's host time spent translating.
fn translate_share(r: &Run) -> f64 {
    let wall = r.wall.as_secs_f64();
    if wall > 0.0 {
        r.engine.1.translate_time.as_secs_f64() / wall
    } else {
        0.0
    }
}

/// A run's engine and its translating tier's counters, for `--json`.
fn engine_json(r: &Run) -> serde_json::Value {
    stats_json::engine(r.engine.0, &r.engine.1, r.wall)
}

/// Calls of kind `call` in `s`.
fn hypercalls(s: &VmStats, call: Hypercall) -> u64 {
    stats_json::hypercalls(s, call)
}

/// `a / b` (0 when `b` is 0).
fn fratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// `a / b` as `1.23x` (`-` when `b` is 0).
fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        "-".into()
    } else {
        format!("{:.2}x", a as f64 / b as f64)
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "NO" }.into()
}

/// The table: a label, then native, full, full/native, para, para/native.
#[derive(Default)]
struct Table {
    /// A section heading (`None` cells) or a row of five cells.
    rows: Vec<(String, Option<[String; 5]>)>,
}

impl Table {
    /// A row of per-mode cells (native, full, para), without ratios;
    /// `None` prints `-`.
    fn row(&mut self, label: &str, cells: [Option<String>; 3]) {
        let [n, f, p] = cells.map(|c| c.unwrap_or_else(|| "-".into()));
        self.rows
            .push((label.into(), Some([n, f, String::new(), p, String::new()])));
    }

    /// A row of counts, with each mode's ratio to native if `ratios`.
    fn counts(&mut self, label: &str, v: [u64; 3], ratios: bool) {
        let r = |x| {
            if ratios {
                ratio(x, v[0])
            } else {
                String::new()
            }
        };
        self.rows.push((
            label.into(),
            Some([
                v[0].to_string(),
                v[1].to_string(),
                r(v[1]),
                v[2].to_string(),
                r(v[2]),
            ]),
        ));
    }

    /// A row of counts that only the monitor keeps (native prints `-`).
    fn monitor(&mut self, label: &str, v: [u64; 3]) {
        self.row(
            label,
            [None, Some(v[1].to_string()), Some(v[2].to_string())],
        );
    }

    /// A row of counts the guest may or may not report.
    fn optional(&mut self, label: &str, v: [Option<u64>; 3]) {
        self.row(label, v.map(|x| x.map(|n| n.to_string())));
    }

    /// A row of counts with each one's ratio to `base`.
    fn ratio_row(&mut self, label: &str, v: [Option<u64>; 3], base: u64) {
        let s = |x: Option<u64>| x.map_or("-".into(), |n| n.to_string());
        let r = |x: Option<u64>| x.map_or(String::new(), |n| ratio(n, base));
        self.rows.push((
            label.into(),
            Some([s(v[0]), s(v[1]), r(v[1]), s(v[2]), r(v[2])]),
        ));
    }

    /// A row of host durations in seconds, with ratios to native.
    fn seconds(&mut self, label: &str, v: [Duration; 3]) {
        let s = |d: Duration| format!("{:.3}", d.as_secs_f64());
        let base = v[0].as_secs_f64();
        let r = |d: Duration| {
            if base > 0.0 {
                format!("{:.2}x", d.as_secs_f64() / base)
            } else {
                "-".into()
            }
        };
        self.rows.push((
            label.into(),
            Some([s(v[0]), s(v[1]), r(v[1]), s(v[2]), r(v[2])]),
        ));
    }

    /// A heading line between rows.
    fn section(&mut self, title: &str) {
        self.rows.push((title.into(), None));
    }

    fn render(&self, work: u32) -> String {
        let w = self.rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        let mut out = format!(
            "{:<w$} {:>12} {:>12} {:>8} {:>12} {:>8}\n",
            format!("demo-os compare, --work {work}"),
            "native",
            "full",
            "/native",
            "para",
            "/native"
        );
        for (label, cells) in &self.rows {
            match cells {
                None => out.push_str(&format!("{label}\n")),
                Some([n, f, fr, p, pr]) => {
                    let line = format!("{label:<w$} {n:>12} {f:>12} {fr:>8} {p:>12} {pr:>8}");
                    out.push_str(line.trim_end());
                    out.push('\n');
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_lines_drop_stat_and_work_scale_lines_and_sort() {
        let console = "b\nstat cpu: 5\ndemo-os: work scale 2, programs sieve\na\nstatus ok\n";
        assert_eq!(stable_lines(console), ["a", "b", "status ok"]);
        assert_eq!(difference("a\nb\n", "b\na\nstat x\n"), None);
        assert_eq!(
            difference("a\nc\n", "a\nb\n").as_deref(),
            Some("`c` where native has `b`")
        );
        assert_eq!(
            difference("a\n", "a\nb\n").as_deref(),
            Some("missing line `b`")
        );
        assert_eq!(
            difference("a\nb\n", "a\n").as_deref(),
            Some("extra line `b`")
        );
    }

    #[test]
    fn the_guest_memory_line_is_parsed_with_or_without_zeroing_stores() {
        let old = "x\nstat memory: tlb refills 982, page faults 245, frames zeroed 288, \
                   frames vouched zero 0, tlb batches 0\n";
        let m = guest_memory_stats(old);
        assert_eq!(m.get("tlb refills"), Some(&982));
        assert_eq!(m.get("frames zeroed"), Some(&288));
        assert_eq!(m.get("frames vouched zero"), Some(&0));
        assert_eq!(m.get("zeroing stores"), None);
        let new = "stat memory: frames zeroed 88, frames vouched zero 235, zeroing stores 90112\n";
        assert_eq!(guest_memory_stats(new).get("zeroing stores"), Some(&90112));
        assert!(guest_memory_stats("no stat line\n").is_empty());
    }

    #[test]
    fn ratios_and_rows() {
        assert_eq!(ratio(3, 2), "1.50x");
        assert_eq!(ratio(3, 0), "-");
        assert_eq!(fratio(1, 4), 0.25);
        let mut t = Table::default();
        t.counts("cycles", [10, 20, 5], true);
        t.monitor("exits", [0, 7, 3]);
        t.section("two");
        let text = t.render(1);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("native") && lines[0].contains("/native"));
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            ["cycles", "10", "20", "2.00x", "5", "0.50x"]
        );
        assert_eq!(
            lines[2].split_whitespace().collect::<Vec<_>>(),
            ["exits", "-", "7", "3"]
        );
        assert_eq!(lines[3], "two");
    }
}
