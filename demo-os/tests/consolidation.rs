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

#[test]
fn linux_beside_both_demo_images_prints_what_each_prints_alone() {
    let Some(dir) = fetch() else {
        return;
    };
    let linux = format!(
        "board=malta,mem=128,kernel={},initrd={},append=console=ttyS0 rdinit=/init",
        dir.join("vmlinuz").display(),
        dir.join("initrd.gz").display()
    );
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
