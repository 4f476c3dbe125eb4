//! The statistics of a run as JSON: one schema for `--stats-json FILE`
//! (any single run: native, full, para, Malta) and for each mode of
//! `--mode compare --json`, so that a program reads the same key for the
//! same figure wherever it comes from. A figure that does not apply to a
//! run (the monitor's counters natively) is `null`, never 0.
//!
//! Keys of a run (`--stats-json`):
//!
//! | key | meaning |
//! |-----|---------|
//! | `schema` | `"demo-os-stats/1"` |
//! | `mode` | `native`, `full` or `para` |
//! | `board` | `mipssim` or `malta` |
//! | `guest_instructions` | instructions every VM executed (the monitor's emulated ones included) |
//! | `virtual_cycles` | the clock at the end (the line `virtual cycles (the clock)` and compare's `virtual cycles` row): instructions plus idle time plus the monitor's modelled costs |
//! | `wall_seconds` | host time of the run (varies run to run) |
//! | `exit_status` | the runner's exit status |
//! | `engine` | the CPU engine and its translating tier's counters (see below) |
//! | `vms` | one object per VM, in VM order (one natively) |
//!
//! Keys of a VM (and of each mode of `--mode compare --json`):
//! `guest_instructions`; `vm_cycles` (the statistics table's `vm cycles`
//! row: the VM's guest instructions plus the monitor cycles charged for
//! it; null natively);
//! `exits_total` and `exits` (by reason); `privileged_total` and
//! `privileged` (emulated privileged instructions by kind);
//! `hypercalls_total` and `hypercalls` (by call); `stlb_refills`,
//! `prefills`, `refills_forwarded`, `walked_refills` (TLB handling);
//! `monitor_frames_zeroed`, `monitor_frames_vouched` (frames the monitor
//! zeroed, frames it vouched were zero); `frames_in_use`,
//! `frames_merged`, `cow_breaks` (guest frames backed now, merged by
//! page sharing, copied on a store to a shared frame); `frames_released`,
//! `frames_reclaimed`, `released_touched` (the balloon: frames the guest
//! gave back with `FramesRelease`, took back with `FramesReclaim`, and
//! touched while released; 0 without hypercalls); `monitor_cycles`; `idle_ticks`;
//! `machine_switches`; `spins_inferred` and `spin_ticks_skipped` (polling
//! loops the monitor skipped, and the clock ticks it saved; null
//! natively); `cpu_ticks` (clock ticks the VM held the CPU running);
//! `poll_window` (null unless the VM polled a device register only time
//! changes, as Linux calibrating its clock against the RTC: `first_tick`
//! and `last_tick` of those polls, `others_cpu_ticks` the other VMs held
//! the CPU between them); `stopped_at_cycle` (the clock when the VM stopped);
//! `exit_code` (the status its end means) and `stopped` (the summary
//! line's words for it). All monitor counters are null natively (in
//! `--mode compare --json`, whose keys predate this schema, they are 0
//! there).
//!
//! Keys of `engine`: `name` (`jit` or `interp`), `blocks_translated`,
//! `block_instructions`, `translate_wall_seconds`, `translate_wall_share`
//! (of the run's host time), `instructions_translated`, `block_entries`,
//! `chained_exits`, `unchained_exits`, `bailouts`, `invalidations`,
//! `code_flushes`. Keys holding host time contain `wall`.

use hv_abi::Hypercall;
use hv_host::machine::{Engine, JitStats};
use hv_host::monitor::stats::{ExitReason, PRIV_NAMES, VmStats};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// The schema name and version of `--stats-json` files.
pub const SCHEMA: &str = "demo-os-stats/1";

/// Calls of kind `call` in `s`.
pub fn hypercalls(s: &VmStats, call: Hypercall) -> u64 {
    s.hypercalls
        .get(call.number() as usize)
        .copied()
        .unwrap_or(0)
}

/// The breakdowns of `s` by name: exits by reason, emulated privileged
/// instructions by kind, hypercalls by call.
pub fn breakdowns(s: &VmStats) -> [Map<String, Value>; 3] {
    let exits = ExitReason::ALL
        .iter()
        .map(|&e| (e.name().to_owned(), json!(s.exit_count(e))))
        .collect();
    let privileged = PRIV_NAMES
        .iter()
        .zip(s.privileged)
        .map(|(n, c)| ((*n).to_owned(), json!(c)))
        .collect();
    let calls = Hypercall::ALL
        .iter()
        .map(|&h| (h.to_string(), json!(hypercalls(s, h))))
        .collect();
    [exits, privileged, calls]
}

/// One VM's counters; the monitor's are `null` unless `monitored`.
pub fn vm(s: &VmStats, monitored: bool) -> Map<String, Value> {
    let m = |v: Value| if monitored { v } else { Value::Null };
    let [exits, privileged, calls] = breakdowns(s);
    let mut o = Map::new();
    o.insert("guest_instructions".into(), json!(s.guest_instructions));
    o.insert("vm_cycles".into(), m(json!(s.virtual_cycles())));
    o.insert("exits_total".into(), m(json!(s.exits_total())));
    o.insert("exits".into(), m(Value::Object(exits)));
    o.insert(
        "privileged_total".into(),
        m(json!(s.privileged.iter().sum::<u64>())),
    );
    o.insert("privileged".into(), m(Value::Object(privileged)));
    o.insert(
        "hypercalls_total".into(),
        m(json!(s.hypercalls.iter().sum::<u64>())),
    );
    o.insert("hypercalls".into(), m(Value::Object(calls)));
    o.insert("stlb_refills".into(), m(json!(s.stlb_refills)));
    o.insert("prefills".into(), m(json!(s.prefills)));
    o.insert("refills_forwarded".into(), m(json!(s.refills_forwarded)));
    o.insert("walked_refills".into(), m(json!(s.walked_refills)));
    o.insert("monitor_frames_zeroed".into(), m(json!(s.frames_zeroed)));
    o.insert("monitor_frames_vouched".into(), m(json!(s.frames_vouched)));
    o.insert("frames_in_use".into(), m(json!(s.frames_in_use)));
    o.insert("frames_merged".into(), m(json!(s.frames_merged)));
    o.insert("cow_breaks".into(), m(json!(s.cow_breaks)));
    o.insert("frames_released".into(), m(json!(s.frames_released)));
    o.insert("frames_reclaimed".into(), m(json!(s.frames_reclaimed)));
    o.insert("released_touched".into(), m(json!(s.released_touched)));
    o.insert("monitor_cycles".into(), m(json!(s.monitor_cycles)));
    o.insert("idle_ticks".into(), json!(s.idle_ticks));
    o.insert("machine_switches".into(), m(json!(s.machine_switches)));
    o.insert("spins_inferred".into(), m(json!(s.spins_inferred)));
    o.insert("spin_ticks_skipped".into(), m(json!(s.spin_ticks_skipped)));
    o.insert("cpu_ticks".into(), m(json!(s.cpu_ticks)));
    let poll = s.poll.map(|p| {
        json!({
            "first_tick": p.first,
            "last_tick": p.last,
            "others_cpu_ticks": p.others_ticks(),
        })
    });
    o.insert("poll_window".into(), json!(poll));
    o.insert("stopped_at_cycle".into(), json!(s.stopped_at));
    o
}

/// The engine and its translating tier's counters; `wall` is the run's
/// host time.
pub fn engine(engine: Engine, j: &JitStats, wall: Duration) -> Value {
    let wall = wall.as_secs_f64();
    let t = j.translate_time.as_secs_f64();
    json!({
        "name": engine.name(),
        "blocks_translated": j.blocks,
        "block_instructions": j.block_insns,
        "translate_wall_seconds": t,
        "translate_wall_share": if wall > 0.0 { t / wall } else { 0.0 },
        "instructions_translated": j.insns,
        "block_entries": j.entries,
        "chained_exits": j.chained,
        "unchained_exits": j.unchained,
        "bailouts": j.bailouts,
        "invalidations": j.invalidations,
        "code_flushes": j.flushes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_figures_are_null_natively_and_numbers_under_the_monitor() {
        let s = VmStats {
            guest_instructions: 7,
            idle_ticks: 3,
            ..VmStats::default()
        };
        let native = vm(&s, false);
        assert_eq!(native["guest_instructions"], json!(7));
        assert_eq!(native["idle_ticks"], json!(3));
        for key in [
            "exits_total",
            "exits",
            "hypercalls",
            "stlb_refills",
            "monitor_cycles",
        ] {
            assert_eq!(native[key], Value::Null, "{key}");
        }
        let full = vm(&s, true);
        assert_eq!(full["exits_total"], json!(0));
        assert!(full["exits"].is_object());
        assert_eq!(full["vm_cycles"], json!(7));
    }
}
