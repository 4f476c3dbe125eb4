//! Different operating systems side by side (`--vm`): Debian's Linux on a
//! Malta VM beside the PV demo and the unmodified demo on mipssim VMs,
//! under `--mode para` (only the PV kernel asks for hypercalls). Each
//! VM's console equals its console when it runs alone, except for lines
//! derived from timing (the demo's `stat` lines, Linux's timestamps and
//! its audit record's time).

use hv_tests::linux::fetch;
use std::process::Command;

const RUNNER: &str = env!("CARGO_BIN_EXE_demo-os");

fn run(vms: &[String]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(RUNNER);
    cmd.args(["--mode", "para"]).env("HV_NO_PROGRESS", "1");
    for v in vms {
        cmd.arg("--vm").arg(v);
    }
    let out = cmd.output().expect("the runner starts");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `text`'s lines (those prefixed `prefix`, without it), timing-derived
/// ones dropped, Linux's timestamps cut, sorted.
fn lines(text: &str, prefix: Option<&str>) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .filter_map(|l| match prefix {
            Some(p) => l.strip_prefix(p),
            None => Some(l),
        })
        .map(
            |l| match l.strip_prefix('[').and_then(|r| r.split_once("] ")) {
                Some((stamp, rest)) if stamp.trim().parse::<f64>().is_ok() => rest,
                _ => l,
            },
        )
        .filter(|l| !l.starts_with("stat ") && !l.contains("audit("))
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// The `--vm` spec of Debian's Linux (Malta, 128 MiB) from `dir`.
fn linux_spec(dir: &std::path::Path) -> String {
    format!(
        "board=malta,mem=128,kernel={},initrd={},append=console=ttyS0 rdinit=/init",
        dir.join("vmlinuz").display(),
        dir.join("initrd.gz").display()
    )
}

#[test]
fn linux_beside_both_demo_images_prints_what_each_prints_alone() {
    let Some(dir) = fetch() else {
        return;
    };
    let linux = linux_spec(&dir);
    let specs = [
        linux,
        "image=pv,programs=sieve,memory".to_owned(),
        "image=unmodified,programs=sleeper".to_owned(),
    ];
    let (code, together, err) = run(&specs);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("power off"), "{err}");
    for (i, spec) in specs.iter().enumerate() {
        let (code, alone, err) = run(std::slice::from_ref(spec));
        assert_eq!(code, Some(0), "vm{i} alone: {err}");
        let mine = lines(&together, Some(&format!("[vm{i}] ")));
        assert!(mine.len() > 10, "vm{i} printed: {mine:?}");
        assert_eq!(mine, lines(&alone, None), "vm{i}: {spec}");
    }
    // Only the PV kernel used the hypercall interface.
    assert!(err.contains("vm0, vm2 made no hypercall"), "{err}");
}

#[test]
fn bad_vm_specs_are_usage_errors() {
    for (args, says) in [
        (vec!["--vm", "board=pc"], "the boards are mipssim and malta"),
        (
            vec!["--vm", "image=pv", "--vms", "2"],
            "--vms cannot be given with it",
        ),
        (
            vec!["--vm", "image=pv", "--console", "vm3"],
            "the run has 1 VM",
        ),
    ] {
        let out = Command::new(RUNNER)
            .args(["--mode", "full"])
            .args(&args)
            .output()
            .expect("the runner starts");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let out = Command::new(RUNNER)
        .args(["--mode", "native", "--vm", "image=pv"])
        .output()
        .expect("the runner starts");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_thousand_idle_pv_vms_complete_overcommitted() {
    // 1000 VMs of the default 32 MiB: 31 GiB of guest RAM on a machine of
    // at most 3 GiB; frames are taken as the VMs touch pages.
    let out = Command::new(RUNNER)
        .args(["--mode", "para", "--vms", "1000", "--programs", "sleeper"])
        .env("HV_NO_PROGRESS", "1")
        .output()
        .expect("the runner starts");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        &err[err.len().saturating_sub(2000)..]
    );
    let console = String::from_utf8_lossy(&out.stdout);
    for vm in [0, 499, 999] {
        let line = format!("[vm{vm}] demo-os: pid 3 (sleeper) exited with status");
        assert!(console.contains(&line), "no {line:?}");
    }
    assert_eq!(
        console.matches("(sleeper) exited with status").count(),
        1000
    );
    // The table sums the VMs instead of 1000 columns; the summary groups.
    assert!(err.contains("1000 vms: sum"), "{err}");
    assert!(
        err.contains("stopped: vm0..vm999 guest exited with code 0"),
        "{err}"
    );
    // Too little host memory allowed for 1000 VMs' state: a clear error
    // before anything runs.
    let out = Command::new(RUNNER)
        .args(["--mode", "para", "--vms", "1000", "--programs", "sleeper"])
        .args(["--max-host-mem", "256M"])
        .output()
        .expect("the runner starts");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("more than the 256 MiB allowed (--max-host-mem)"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_vm_that_finds_the_pool_used_up_is_stopped_not_the_host() {
    // Eight VMs of 64 MiB (512 MiB of guest RAM) under a host memory
    // limit that leaves `frames` for their frames.
    let run = |limit: &str| {
        let out = Command::new(RUNNER)
            .args(["--mode", "full", "--vms", "8", "--mem", "64"])
            .args(["--programs", "memory", "--max-host-mem", limit])
            .env("HV_NO_PROGRESS", "1")
            .output()
            .expect("the runner starts");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // 2 MiB of frames: a VM stops when it needs a frame no VM gave back,
    // with that reason; the run ends normally.
    let (code, err) = run("22M");
    assert!(
        err.contains("out of machine memory: every frame of the pool is in use"),
        "{err}"
    );
    assert_eq!(code, Some(126), "{err}");
    // 4 MiB of frames: all eight fit (they touch about 0.4 MiB each).
    let (code, err) = run("24M");
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("machine memory: "), "{err}");
    // A size that is none.
    let out = Command::new(RUNNER)
        .args(["--max-host-mem", "12X"])
        .output()
        .expect("the runner starts");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn shared_pages_change_no_vms_output() {
    // Two PV and two unmodified demo VMs with page sharing: each VM prints
    // what it prints without sharing (timing lines aside), frames were
    // merged and copied on write, and the machine uses fewer frames than
    // the guests see.
    let specs = [
        "image=pv",
        "image=pv",
        "image=unmodified",
        "image=unmodified",
    ];
    let run_with = |share: bool| {
        let mut cmd = Command::new(RUNNER);
        cmd.args(["--mode", "para"]).env("HV_NO_PROGRESS", "1");
        for v in specs {
            cmd.arg("--vm").arg(v);
        }
        if share {
            cmd.arg("--share-pages");
        }
        let dir = std::env::temp_dir().join(format!("hv-share-{}-{share}", std::process::id()));
        let json = dir.with_extension("json");
        cmd.arg("--stats-json").arg(&json);
        let out = cmd.output().expect("the runner starts");
        let stats: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&json).expect("stats written")).expect("json");
        let _ = std::fs::remove_file(&json);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            stats,
        )
    };
    let (code, plain, _, _) = run_with(false);
    assert_eq!(code, Some(0));
    let (code, shared, err, stats) = run_with(true);
    assert_eq!(code, Some(0), "{err}");
    for vm in 0..specs.len() {
        let p = format!("[vm{vm}] ");
        assert_eq!(lines(&shared, Some(&p)), lines(&plain, Some(&p)), "vm{vm}");
    }
    let vms = stats["vms"].as_array().expect("vms");
    let sum = |k: &str| vms.iter().map(|v| v[k].as_u64().unwrap_or(0)).sum::<u64>();
    assert!(sum("frames_merged") > 100, "{stats}");
    assert!(sum("cow_breaks") > 0, "{stats}");
    assert!(err.contains("page sharing:"), "{err}");
    assert!(!err.contains("page sharing: 0.0 MiB saved"), "{err}");
}

#[test]
fn one_pv_vm_with_page_sharing_runs_as_without() {
    // A scan charges its hashing to the clock while the VM's stretch is
    // paused; an interrupt that became due then was delivered on the
    // stale virtual CP0 and the guest's shared page was not written
    // after it, so the guest's next exit read back a Status without EXL
    // and its handler faulted at the vector ("no exception handler at
    // 0x80000180"). A single VM has no switch to end the pause.
    for work in ["1", "5"] {
        let run_with = |share: bool| {
            let mut cmd = Command::new(RUNNER);
            cmd.args(["--mode", "para", "--work", work])
                .env("HV_NO_PROGRESS", "1");
            if share {
                cmd.arg("--share-pages");
            }
            let out = cmd.output().expect("the runner starts");
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        let (code, plain, err) = run_with(false);
        assert_eq!(code, Some(0), "work {work}: {err}");
        let (code, shared, err) = run_with(true);
        assert_eq!(code, Some(0), "work {work} with sharing: {err}");
        assert!(err.contains("page sharing:"), "{err}");
        assert_eq!(lines(&shared, None), lines(&plain, None), "work {work}");
    }
}

/// `--mode consolidate` with `args`: status, stdout, stderr.
fn consolidate(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(RUNNER)
        .args(["--mode", "consolidate"])
        .args(args)
        .env("HV_NO_PROGRESS", "1")
        .output()
        .expect("the runner starts");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn consolidate_reports_each_vm_alone_and_together() {
    let (code, out, err) = consolidate(&[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(err.contains("every VM ended and printed as alone"), "{err}");
    for row in [
        "pv (sieve,memory,pages)",
        "unmodified (sleeper)",
        "clock at its end, alone",
        "  slowdown",
        "console as alone",
        "machine memory at the end:",
    ] {
        assert!(out.contains(row), "no {row:?} in\n{out}");
    }
    let (code, out, err) = consolidate(&["--json"]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let vms = v["vms"].as_array().expect("vms");
    assert_eq!(vms.len(), 2);
    for vm in vms {
        // Sharing the CPU never makes a VM finish earlier in virtual time.
        let (alone, together) = (vm["alone_ticks"].as_u64(), vm["together_ticks"].as_u64());
        assert!(alone.is_some() && together >= alone, "{vm}");
        assert_eq!(vm["console_as_alone"], true, "{vm}");
        assert!(vm["cpu_ticks"].as_u64() > Some(0), "{vm}");
    }
    // Neither demo VM polls a clock register.
    assert_eq!(v["polling"].as_array().map(Vec::len), Some(0), "{v}");
    assert!(v["problems"].as_array().is_some_and(Vec::is_empty), "{v}");
    // It runs both ways itself: flags that pick one are usage errors.
    for flag in ["--share-pages", "--no-spin-inference"] {
        let (code, _, err) = consolidate(&[flag]);
        assert_eq!(code, Some(2), "{flag}: {err}");
        assert!(
            err.contains("runs the VMs together with and without"),
            "{err}"
        );
    }
}

#[test]
fn a_busy_vm_keeps_the_cpu_while_linux_calibrates_its_clock() {
    // Debian's Linux beside the busy demo: while Linux polls the RTC to
    // calibrate, spin inference leaves the CPU to the demo (issue target:
    // its slowdown in that window at most 1.10x); without it, Linux takes
    // about half.
    let Some(dir) = fetch() else {
        return;
    };
    let linux = linux_spec(&dir);
    let (code, out, err) = consolidate(&[
        "--json",
        "--work",
        "1000",
        "--vm",
        &linux,
        "--vm",
        "image=pv,programs=sieve,memory,pages",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let polls = v["polling"].as_array().expect("polling");
    assert_eq!(polls.len(), 1, "{v}");
    let p = &polls[0];
    assert_eq!(p["vm"], 0, "{p}");
    let slowdown = p["others_slowdown"].as_f64().expect("slowdown");
    assert!(slowdown <= 1.10, "{p}");
    let without = p["without_inference"]["others_slowdown"]
        .as_f64()
        .expect("without");
    assert!(without >= 1.6, "{p}");
    // Each VM's console is what it prints alone, timing lines aside.
    for vm in v["vms"].as_array().expect("vms") {
        assert_eq!(vm["console_as_alone"], true, "{vm}");
    }
}
