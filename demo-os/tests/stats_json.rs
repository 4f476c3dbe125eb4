//! `--stats-json FILE`: the statistics of any single run as JSON, with the
//! key names `--mode compare --json` uses, `null` where a figure does not
//! apply; and the note a `--mode para` run of a kernel that makes no
//! hypercall ends with.

use hv_tests::process::{RunOutput, run_with_limit};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

const RUNNER: &str = env!("CARGO_BIN_EXE_demo-os");

fn runner(args: &[&str]) -> RunOutput {
    run_with_limit(Path::new(RUNNER), args, Duration::from_secs(120))
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stats_json");
    std::fs::create_dir_all(&dir).expect("the scratch directory can be made");
    dir.join(name)
}

fn stats(mode: &str, extra: &[&str]) -> (RunOutput, Value) {
    let path = scratch(&format!("{mode}.json"));
    let _ = std::fs::remove_file(&path);
    let p = path.to_str().expect("temp paths are UTF-8");
    let mut args = vec!["--mode", mode, "--stats-json", p];
    args.extend_from_slice(extra);
    let out = runner(&args);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{mode}: {e}"));
    let doc = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{mode}: {e}\n{text}"));
    (out, doc)
}

/// The summary line's instruction count.
fn summary_count(out: &RunOutput) -> u64 {
    out.stderr
        .lines()
        .find_map(|l| l.strip_prefix("demo-os: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary: {}", out.stderr))
}

#[test]
fn every_single_run_writes_its_statistics() {
    let (native, n) = stats("native", &[]);
    assert_eq!(native.code, Some(0), "{}", native.stderr);
    assert_eq!(n["schema"], "demo-os-stats/1");
    assert_eq!(n["mode"], "native");
    assert_eq!(n["board"], "mipssim");
    assert_eq!(n["exit_status"], 0);
    assert_eq!(
        n["guest_instructions"].as_u64(),
        Some(summary_count(&native))
    );
    assert_eq!(n["engine"]["name"], "jit");
    let vm = &n["vms"][0];
    assert_eq!(vm["guest_instructions"], n["guest_instructions"]);
    assert_eq!(vm["stopped"], "exit 0");
    for key in [
        "exits_total",
        "exits",
        "hypercalls_total",
        "stlb_refills",
        "monitor_cycles",
    ] {
        assert!(vm[key].is_null(), "natively {key} does not apply: {vm}");
    }

    let (full, f) = stats("full", &[]);
    assert_eq!(full.code, Some(0), "{}", full.stderr);
    let vm = &f["vms"][0];
    assert_eq!(f["mode"], "full");
    assert!(vm["exits_total"].as_u64().is_some_and(|n| n > 0), "{vm}");
    let sum: u64 = vm["exits"]
        .as_object()
        .expect("exits by reason")
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(vm["exits_total"].as_u64(), Some(sum));
    assert_eq!(vm["hypercalls_total"], 0);
    assert_eq!(f["guest_instructions"].as_u64(), Some(summary_count(&full)));

    let (para, p) = stats("para", &[]);
    assert_eq!(para.code, Some(0), "{}", para.stderr);
    assert!(
        p["vms"][0]["hypercalls_total"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
    assert!(
        !para.stderr.contains("made no hypercall"),
        "{}",
        para.stderr
    );

    // The per-VM keys are the ones --mode compare --json uses per mode.
    let cmp = runner(&["--mode", "compare", "--json"]);
    let c: Value = serde_json::from_str(&cmp.stdout_text()).expect("compare prints JSON");
    let keys = c["modes"]["full"].as_object().expect("a mode object");
    for key in [
        "guest_instructions",
        "exits_total",
        "exits",
        "privileged_total",
        "privileged",
        "hypercalls_total",
        "hypercalls",
        "stlb_refills",
        "prefills",
        "refills_forwarded",
        "walked_refills",
        "monitor_frames_zeroed",
        "monitor_frames_vouched",
        "idle_ticks",
        "machine_switches",
    ] {
        assert!(keys.contains_key(key), "compare lacks {key}");
        assert!(vm.get(key).is_some(), "--stats-json lacks {key}");
    }
    assert_eq!(
        c["two_vm"]["busy_alone_cycles_full"],
        c["two_vm"]["busy_alone_cycles"]
    );
}

#[test]
fn para_without_hypercalls_says_so_and_a_bad_path_is_an_error() {
    let out = runner(&["--mode", "para", "--image", "unmodified"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stderr
            .matches("vm0 made no hypercall under --mode para")
            .count(),
        1,
        "{}",
        out.stderr
    );
    let out = runner(&[
        "--mode",
        "native",
        "--stats-json",
        "/nonexistent-dir/stats.json",
    ]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("/nonexistent-dir/stats.json"),
        "{}",
        out.stderr
    );
    let out = runner(&["--mode", "compare", "--stats-json", "x.json"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
}

/// Whether the tags of `xml` nest properly (a small check: no parser
/// needed for the runner's own output).
fn balanced(xml: &str) -> bool {
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let Some(end) = rest.find('>') else {
            return false;
        };
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') || tag.ends_with('/') {
            continue;
        }
        let name = tag
            .trim_start_matches('/')
            .split_whitespace()
            .next()
            .unwrap_or_default();
        if tag.starts_with('/') {
            if stack.pop() != Some(name) {
                return false;
            }
        } else {
            stack.push(name);
        }
    }
    stack.is_empty()
}

#[test]
fn compare_draws_its_table_as_an_svg_picture() {
    let path = scratch("compare.svg");
    let _ = std::fs::remove_file(&path);
    let p = path.to_str().expect("temp paths are UTF-8");
    let out = runner(&["--mode", "compare", "--svg", p]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let svg = std::fs::read_to_string(&path).expect("the picture is written");
    assert!(svg.starts_with("<?xml"), "{svg}");
    assert!(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(balanced(&svg), "tags nest: {svg}");
    for panel in [
        "virtual cycles (the clock)",
        "guest instructions",
        "exits by reason",
        "hypercalls by kind (para)",
    ] {
        assert!(svg.contains(panel), "{panel}");
    }
    for series in ["native", "full", "para"] {
        assert!(
            svg.contains(&format!("data-series=\"{series}\"")),
            "{series}"
        );
    }
    // The figures are the table's: full's exits as the JSON says.
    let json = runner(&["--mode", "compare", "--json"]);
    let c: Value = serde_json::from_str(&json.stdout_text()).expect("JSON");
    let cop = c["modes"]["full"]["exits"]["cop_unusable"]
        .as_u64()
        .expect("a count");
    assert!(
        svg.contains(&format!(
            "data-label=\"cop_unusable (full)\" data-value=\"{cop}\""
        )),
        "{svg}"
    );
    let out = runner(&["--mode", "native", "--svg", p]);
    assert_eq!(out.code, Some(2), "--svg is for compare: {}", out.stderr);
}

#[test]
fn the_timeline_draws_every_exit_of_every_vm_the_same_on_both_engines() {
    let svg_path = scratch("timeline.svg");
    let json_path = scratch("timeline.json");
    let (svg, json) = (
        svg_path.to_str().expect("UTF-8"),
        json_path.to_str().expect("UTF-8"),
    );
    let args = |engine: &'static str| {
        vec![
            "--mode",
            "full",
            "--vms",
            "2",
            "--programs",
            "sieve,sleeper",
            "--programs",
            "sleeper",
            "--engine",
            engine,
            "--timeline",
            svg,
            "--stats-json",
            json,
        ]
    };
    let out = runner(&args("jit"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let picture = std::fs::read_to_string(&svg_path).expect("the timeline is written");
    assert!(balanced(&picture), "tags nest");
    let stats: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).expect("stats")).expect("JSON");
    for vm in 0..2 {
        let group = picture
            .split("<g class=\"vm\"")
            .nth(vm + 1)
            .unwrap_or_else(|| panic!("no lane for vm{vm}"));
        let group = &group[..group.find("</g>").expect("the lane ends")];
        assert!(group.contains(&format!(">vm{vm}</text>")));
        let drawn: u64 = group
            .split("data-count=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .filter_map(|n| n.parse::<u64>().ok())
            .sum();
        assert_eq!(
            Some(drawn),
            stats["vms"][vm]["exits_total"].as_u64(),
            "vm{vm}: every exit is drawn"
        );
        assert!(group.contains("fill=\"#0072b2\""), "vm{vm} held the CPU");
    }
    let out = runner(&args("interp"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let again = std::fs::read_to_string(&svg_path).expect("the timeline is written");
    assert_eq!(again, picture, "the same picture on the interpreter");
    let out = runner(&["--mode", "native", "--timeline", svg]);
    assert_eq!(
        out.code,
        Some(2),
        "--timeline is for the monitor: {}",
        out.stderr
    );
}
