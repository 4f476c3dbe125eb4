//! `--mode consolidate`: what sharing one CPU costs each VM. The VMs of
//! the command line (`--vm` specs, or `--vms` with `--kernel` and
//! `--programs`; default: the busy demo beside the sleeper) run under
//! the monitor with hypercalls offered (each kernel uses them only if it
//! asks, as under `--mode para`): first each VM alone, then all together,
//! then together with page sharing, and, if a VM polled a clock register
//! (Linux calibrating against the RTC), together without spin inference.
//! The report, a table or `--json`, gives per VM its clock at its end
//! alone and together (the slowdown), its share of the CPU, its exits,
//! and whether its console is what it prints alone (timing-derived lines
//! aside); for a polling VM, what the others got of the CPU while it
//! polled, with and without spin inference; and the machine memory at
//! its peak, without and with page sharing. Every run reads no input, as
//! with `< /dev/null`.

use super::cli::{Cli, EXIT_ERROR, EXIT_INTERRUPTED, Image};
use super::compare::{BUSY_PROGRAMS, IDLE_PROGRAMS, Run, run_to_end};
use super::monitored::{self, Guest, Loaded};
use super::vmspec;
use super::{RunnerError, console};
use hv_host::monitor::stats::PollWindow;
use serde_json::json;
use std::fmt::Write as _;
use std::io::Write;

/// A run of the monitor with the report's extra figure: the most machine
/// memory its VMs held at once.
struct Measured {
    run: Run,
    peak_frames: u64,
    /// Machine frames in use at the end.
    end_frames: u64,
}

/// Runs `guests` under the monitor, with page sharing and spin inference
/// as given.
fn run_guests(
    cli: &Cli,
    label: &str,
    loaded: &Loaded,
    which: &[usize],
    share_pages: bool,
    spin_inference: bool,
) -> Result<Measured, RunnerError> {
    let all = loaded.guests();
    let configs = loaded.vm_configs(cli);
    let guests: Vec<Guest<'_>> = which.iter().map(|&i| all[i]).collect();
    let vms: Vec<_> = which.iter().map(|&i| configs[i]).collect();
    let mut config = monitored::monitor_config(cli, true);
    config.share_pages = share_pages;
    config.spin_inference = spin_inference;
    let mut m = monitored::build(config, &vms, &guests)?;
    let run = run_to_end(
        cli,
        label,
        &mut m,
        Some(console::ConsoleInput::ended_input()),
    )?;
    Ok(Measured {
        run,
        peak_frames: m.mon.peak_frames_in_use(),
        end_frames: m.mon.frames_in_use().0,
    })
}

/// The console lines that do not come from timing, sorted: the demo's
/// `stat` and work-scale lines dropped, Linux's `[seconds]` stamps cut,
/// its audit records (which carry the time), its delay-loop calibration
/// (`BogoMIPS`, `lpj=`), the RTC time it sets the clock to, and the
/// `sched_clock` resolution and clocksources' `max_idle_ns` computed from
/// the frequency it measured dropped.
fn timeless_lines(console: &str) -> Vec<&str> {
    let mut v: Vec<&str> = console
        .lines()
        .map(
            |l| match l.strip_prefix('[').and_then(|r| r.split_once("] ")) {
                Some((stamp, rest)) if stamp.trim().parse::<f64>().is_ok() => rest,
                _ => l,
            },
        )
        .filter(|l| !l.starts_with("stat ") && !l.contains("audit("))
        .filter(|l| !l.starts_with("demo-os: work scale"))
        // Linux's delay-loop calibration counts loops per jiffy of the
        // clock, which runs on while other VMs hold the CPU.
        .filter(|l| !l.contains("BogoMIPS") && !l.contains("lpj="))
        // The RTC's time at boot, and what derives from the CPU frequency
        // measured against it (a VM woken from a skipped poll may wait
        // for the CPU a little while another VM holds it).
        .filter(|l| {
            !l.contains("setting system clock")
                && !l.contains("max_idle_ns")
                && !l.starts_with("sched_clock:")
        })
        .collect();
    v.sort_unstable();
    v
}

/// The first timeless line that differs between `together` and `alone`.
fn difference(together: &str, alone: &str) -> Option<String> {
    let (a, b) = (timeless_lines(together), timeless_lines(alone));
    if a == b {
        return None;
    }
    Some(match a.iter().zip(&b).position(|(x, y)| x != y) {
        Some(i) => format!("`{}` where alone it prints `{}`", a[i], b[i]),
        None if a.len() > b.len() => format!("extra line `{}`", a[b.len()]),
        None => format!("missing line `{}`", b[a.len()]),
    })
}

/// A polling VM's figures: the window's length and the others' share of
/// the CPU in it, with and without spin inference.
struct Poll {
    vm: usize,
    with: PollWindow,
    without: Option<PollWindow>,
}

/// Share of the window the other VMs held the CPU, in percent.
fn share(p: &PollWindow) -> f64 {
    p.others_ticks() as f64 * 100.0 / p.ticks().max(1) as f64
}

/// The other VMs' slowdown in the window: its length over their CPU
/// ticks in it (none when they did not run: stopped, or idle).
fn slowdown(p: &PollWindow) -> Option<f64> {
    (p.others_ticks() > 0).then(|| p.ticks() as f64 / p.others_ticks() as f64)
}

/// A slowdown for the table.
fn slowdown_text(p: &PollWindow) -> String {
    match slowdown(p) {
        Some(s) => format!("slowdown {s:.2}x"),
        None => "they did not run: stopped or idle".into(),
    }
}

/// `frames` of 4 KiB for the table: MiB from 1 MiB on, else KiB.
fn size(frames: u64) -> String {
    if frames >= 256 {
        format!("{:.1} MiB", mib(frames))
    } else {
        format!("{} KiB", frames * 4)
    }
}

fn mib(frames: u64) -> f64 {
    frames as f64 * 4096.0 / f64::from(1 << 20)
}

/// Runs the report; stdout gets the table (or JSON), stderr a summary or
/// what went wrong.
pub fn run(cli: &Cli, stdout: &mut impl Write, stderr: &mut impl Write) -> Result<u8, RunnerError> {
    if cli.trace_arg.is_some() {
        return Err(RunnerError::Usage(
            "--trace does not apply to --mode consolidate".into(),
        ));
    }
    if cli.share_pages || cli.no_spin_inference {
        return Err(RunnerError::Usage(
            "--mode consolidate runs the VMs together with and without page sharing and, \
             for a polling VM, without spin inference: it takes no --share-pages or \
             --no-spin-inference"
                .into(),
        ));
    }
    let loaded = if cli.vm.is_empty() && cli.kernel.is_empty() && cli.vms == 1 {
        // The default scenario: the busy paravirtualized demo beside the
        // unmodified one sleeping.
        let specs = [
            format!("image=pv,programs={BUSY_PROGRAMS}"),
            format!("image=unmodified,programs={IDLE_PROGRAMS}"),
        ]
        .iter()
        .map(|s| vmspec::parse(s, cli.mem, Image::Pv, cli.work))
        .collect::<Result<Vec<_>, _>>()
        .map_err(RunnerError::Usage)?;
        Loaded::load_specs(cli, specs)?
    } else {
        Loaded::load(cli)?
    };
    let n = loaded.specs.len();
    console::catch_interrupt();
    let runs = n + 3;
    let mut alone = Vec::with_capacity(n);
    for i in 0..n {
        let label = format!("run {}/{runs} (vm{i} alone)", i + 1);
        alone.push(run_guests(cli, &label, &loaded, &[i], false, true)?);
    }
    let every: Vec<usize> = (0..n).collect();
    let label = format!("run {}/{runs} (together)", n + 1);
    let together = run_guests(cli, &label, &loaded, &every, false, true)?;
    let label = format!("run {}/{runs} (together, page sharing)", n + 2);
    let shared = run_guests(cli, &label, &loaded, &every, true, true)?;
    let pollers: Vec<usize> = (0..n)
        .filter(|&i| together.run.vms[i].stats.poll.is_some())
        .collect();
    let spinning = if pollers.is_empty() {
        None
    } else {
        let label = format!("run {runs}/{runs} (together, no spin inference)");
        Some(run_guests(cli, &label, &loaded, &every, false, false)?)
    };
    let polls: Vec<Poll> = pollers
        .iter()
        .filter_map(|&vm| {
            Some(Poll {
                vm,
                with: together.run.vms[vm].stats.poll?,
                without: spinning.as_ref().and_then(|s| s.run.vms[vm].stats.poll),
            })
        })
        .collect();

    let mut problems = Vec::new();
    for (i, a) in alone.iter().enumerate() {
        let (t, a) = (&together.run.vms[i], &a.run.vms[0]);
        if t.status != a.status {
            problems.push(format!(
                "vm{i} ended differently together ({}) than alone ({})",
                t.stop, a.stop
            ));
        }
        for (how, r) in [("together", &together), ("with page sharing", &shared)] {
            if let Some(d) = difference(&r.run.vms[i].console, &a.console) {
                // --max-instructions counts every VM's instructions: a run
                // of several is cut sooner for each.
                let cut = if r.run.vms[i].short == "limit" {
                    " (cut by --max-instructions, which the VMs together share)"
                } else {
                    ""
                };
                problems.push(format!("vm{i} {how}: its console differs{cut}: {d}"));
            }
        }
    }

    let name = |i: usize| {
        let spec = &loaded.specs[i];
        let mut s = match (&spec.kernel, spec.image) {
            (Some(_), _) => loaded.name(i).to_owned(),
            (None, Image::Pv) => "pv".to_owned(),
            (None, Image::Unmodified) => "unmodified".to_owned(),
        };
        if spec.kernel.is_none() && spec.args.programs != 0 {
            let list: Vec<&str> = demo_os::USER_PROGRAMS
                .iter()
                .enumerate()
                .filter(|&(i, _)| spec.args.programs & (1 << i) != 0)
                .map(|(_, (name, _))| *name)
                .collect();
            s.push_str(&format!(" ({})", list.join(",")));
        }
        s
    };
    if cli.json {
        let vms: Vec<_> = (0..n)
            .map(|i| {
                let (t, a) = (&together.run, &alone[i].run);
                json!({
                    "kernel": name(i),
                    "alone_ticks": a.stopped_at(0),
                    "together_ticks": t.stopped_at(i),
                    "slowdown": t.stopped_at(i) as f64 / a.stopped_at(0).max(1) as f64,
                    "cpu_ticks": t.vms[i].stats.cpu_ticks,
                    "exits_alone": a.vms[0].stats.exits_total(),
                    "exits_together": t.vms[i].stats.exits_total(),
                    "machine_switches": t.vms[i].stats.machine_switches,
                    "status": t.vms[i].status,
                    "stopped": t.vms[i].short,
                    "console_as_alone": difference(&t.vms[i].console, &a.vms[0].console).is_none(),
                })
            })
            .collect();
        let polls: Vec<_> = polls
            .iter()
            .map(|p| {
                json!({
                    "vm": p.vm,
                    "ticks": p.with.ticks(),
                    "others_share": share(&p.with),
                    "others_slowdown": slowdown(&p.with),
                    "without_inference": p.without.map(|w| json!({
                        "ticks": w.ticks(),
                        "others_share": share(&w),
                        "others_slowdown": slowdown(&w),
                    })),
                })
            })
            .collect();
        let alone_frames: u64 = alone.iter().map(|a| a.peak_frames).sum();
        let out = json!({
            "vms": vms,
            "polling": polls,
            "memory": {
                "end_mib_together": mib(together.end_frames),
                "end_mib_page_sharing": mib(shared.end_frames),
                "peak_mib_alone_added": mib(alone_frames),
                "peak_mib_together": mib(together.peak_frames),
                "peak_mib_page_sharing": mib(shared.peak_frames),
            },
            "clock_together": together.run.cycles,
            "wall_seconds_together": together.run.wall.as_secs_f64(),
            "problems": problems,
        });
        let text = serde_json::to_string_pretty(&out).expect("a JSON value always serializes");
        writeln!(stdout, "{text}")?;
    } else {
        write!(
            stdout,
            "{}",
            table(&loaded, &name, &alone, &together, &shared, &polls)
        )?;
    }
    stdout.flush()?;
    if console::interrupted() {
        writeln!(
            stderr,
            "demo-os: consolidate: interrupted (Ctrl-C): the report shows each run as far as it got"
        )?;
        return Ok(EXIT_INTERRUPTED);
    }
    if problems.is_empty() {
        writeln!(
            stderr,
            "demo-os: consolidate: {} runs; together, every VM ended and printed as alone",
            runs - usize::from(spinning.is_none())
        )?;
        Ok(0)
    } else {
        for p in &problems {
            writeln!(stderr, "demo-os: consolidate: {p}")?;
        }
        Ok(EXIT_ERROR)
    }
}

/// The report as text.
fn table(
    loaded: &Loaded,
    name: &dyn Fn(usize) -> String,
    alone: &[Measured],
    together: &Measured,
    shared: &Measured,
    polls: &[Poll],
) -> String {
    let n = loaded.specs.len();
    let t = &together.run;
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |label: &str, f: &dyn Fn(usize) -> String| {
        rows.push((label.to_owned(), (0..n).map(f).collect()));
    };
    row("kernel", &|i| name(i));
    row("clock at its end, alone", &|i| {
        alone[i].run.stopped_at(0).to_string()
    });
    row("clock at its end, together", &|i| {
        t.stopped_at(i).to_string()
    });
    row("  slowdown", &|i| {
        let r = t.stopped_at(i) as f64 / alone[i].run.stopped_at(0).max(1) as f64;
        format!("{r:.2}x")
    });
    row("cpu share together", &|i| {
        let c = t.vms[i].stats.cpu_ticks as f64 * 100.0 / t.cycles.max(1) as f64;
        format!("{c:.1}%")
    });
    row("exits alone", &|i| {
        alone[i].run.vms[0].stats.exits_total().to_string()
    });
    row("exits together", &|i| {
        t.vms[i].stats.exits_total().to_string()
    });
    row("machine switches together", &|i| {
        t.vms[i].stats.machine_switches.to_string()
    });
    row("ended together", &|i| t.vms[i].short.clone());
    row("console as alone", &|i| {
        let same = difference(&t.vms[i].console, &alone[i].run.vms[0].console).is_none();
        (if same { "yes" } else { "NO" }).to_owned()
    });
    let w = rows
        .iter()
        .flat_map(|(_, c)| c.iter().map(String::len))
        .max()
        .unwrap_or(0)
        .max(6);
    let lw = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "consolidation: {n} VMs on one CPU under the monitor (hypercalls offered), \
         each alone, then together"
    );
    let _ = write!(s, "{:lw$}", "");
    for i in 0..n {
        let _ = write!(s, "  {:>w$}", format!("vm{i}"));
    }
    let _ = writeln!(s);
    for (label, cols) in &rows {
        let _ = write!(s, "{label:lw$}");
        for c in cols {
            let _ = write!(s, "  {c:>w$}");
        }
        let _ = writeln!(s);
    }
    for p in polls {
        let _ = writeln!(
            s,
            "vm{} polled a clock register for {} ticks: the other VMs held the CPU {:.1}% \
             of that time ({})",
            p.vm,
            p.with.ticks(),
            share(&p.with),
            slowdown_text(&p.with)
        );
        if let Some(w) = &p.without {
            let _ = writeln!(
                s,
                "  without spin inference: {} ticks, the others held the CPU {:.1}% ({})",
                w.ticks(),
                share(w),
                slowdown_text(w)
            );
        }
    }
    let alone_frames: u64 = alone.iter().map(|a| a.peak_frames).sum();
    let _ = writeln!(
        s,
        "machine memory at the end: {} together, {} with page sharing ({:.0}%); at its peak: \
         {} together ({} for the VMs alone, added up), {} with page sharing",
        size(together.end_frames),
        size(shared.end_frames),
        shared.end_frames as f64 * 100.0 / together.end_frames.max(1) as f64,
        size(together.peak_frames),
        size(alone_frames),
        size(shared.peak_frames),
    );
    s
}
