//! Spin inference on Debian's Linux (`--mode full`): its clock
//! calibration polls the RTC's update-in-progress bit for seconds; the
//! monitor skips those loops. The console is byte for byte the console
//! without it (`--no-spin-inference`), timestamps and the calibrated
//! frequency included, the clock ends at the same tick, and at least 40%
//! of the exits are gone.

use hv_tests::linux::fetch;
use std::process::Command;

const RUNNER: &str = env!("CARGO_BIN_EXE_demo-os");

#[test]
fn linux_calibration_polling_is_skipped_invisibly() {
    let Some(dir) = fetch() else {
        return;
    };
    let scratch = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("spin");
    std::fs::create_dir_all(&scratch).expect("scratch directory");
    let run = |extra: &[&str], json: &str| {
        let json = scratch.join(json);
        let out = Command::new(RUNNER)
            .args([
                "--mode", "full", "--board", "malta", "--mem", "128", "--kernel",
            ])
            .arg(dir.join("vmlinuz"))
            .arg("--initrd")
            .arg(dir.join("initrd.gz"))
            .args(["--append", "console=ttyS0 rdinit=/init", "--stats-json"])
            .arg(&json)
            .args(extra)
            .env("HV_NO_PROGRESS", "1")
            .output()
            .expect("the runner starts");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&json).expect("stats written");
        let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        (out.stdout, doc)
    };
    let (spun, spun_stats) = run(&["--no-spin-inference"], "spun.json");
    let (skipped, skipped_stats) = run(&[], "skipped.json");
    let vm = |d: &serde_json::Value, key: &str| d["vms"][0][key].as_u64().expect(key);
    assert_eq!(vm(&spun_stats, "spins_inferred"), 0);
    assert!(vm(&skipped_stats, "spins_inferred") > 0);
    assert!(vm(&skipped_stats, "spin_ticks_skipped") > 100_000_000);
    let (before, after) = (
        vm(&spun_stats, "exits_total"),
        vm(&skipped_stats, "exits_total"),
    );
    assert!(
        after * 10 <= before * 6,
        "{after} exits with, {before} without"
    );
    assert_eq!(
        String::from_utf8_lossy(&skipped),
        String::from_utf8_lossy(&spun),
        "the guest cannot tell"
    );
    assert!(String::from_utf8_lossy(&skipped).contains("CPU frequency 200.00 MHz"));
    assert_eq!(
        skipped_stats["virtual_cycles"],
        spun_stats["virtual_cycles"]
    );
}
