//! Debugging a guest with a real `gdb-multiarch` (`--gdb`), end to end:
//! gdb attaches over a Unix socket and over TCP, breaks at a symbol of the
//! demo kernel, steps, reads registers, memory and a variable, and
//! continues to the exit; the guest prints and counts exactly what it
//! does without the debugger. Needs `gdb-multiarch` (`.ci/run` installs
//! it); without it the test is skipped, and fails under `CI=true`.

use hv_tests::{in_ci, skip};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNNER: &str = env!("CARGO_BIN_EXE_demo-os");

fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gdb");
    std::fs::create_dir_all(&dir).expect("the scratch directory can be made");
    dir
}

fn gdb_available() -> bool {
    Command::new("gdb-multiarch")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The summary line's instruction count in `stderr`.
fn instructions(stderr: &str) -> u64 {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("demo-os: "))
        .find(|l| l.contains(" instructions in "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary in: {stderr}"))
}

/// Runs the demo natively under `--gdb listen` with gdb driving `script`
/// (connecting to `remote`); returns (gdb's output, the runner's status,
/// stdout, stderr).
fn debug(
    listen: &str,
    remote: &str,
    kernel: &Path,
    script: &str,
) -> (String, Option<i32>, String, String) {
    debug_mode("native", listen, remote, kernel, script)
}

/// [`debug`] under `mode`.
fn debug_mode(
    mode: &str,
    listen: &str,
    remote: &str,
    kernel: &Path,
    script: &str,
) -> (String, Option<i32>, String, String) {
    let runner = Command::new(RUNNER)
        .args(["--mode", mode, "--gdb", listen])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the runner starts");
    // The runner says when it listens; gdb retries its connection anyway.
    std::thread::sleep(Duration::from_millis(300));
    let dir = scratch();
    let script_path = dir.join(format!("script-{}.gdb", std::process::id()));
    let full = format!(
        "set pagination off\nset confirm off\nset tcp connect-timeout 20\ntarget remote {remote}\n{script}"
    );
    std::fs::write(&script_path, full).expect("the script can be written");
    let gdb = Command::new("gdb-multiarch")
        .args(["-q", "-nx", "-batch", "-x"])
        .arg(&script_path)
        .arg(kernel)
        .stdin(Stdio::null())
        .output()
        .expect("gdb-multiarch starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut runner = runner;
    let status = loop {
        if let Some(s) = runner.try_wait().expect("wait works") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = runner.kill();
            panic!("the runner did not end after gdb did");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = runner.wait_with_output().expect("the runner's output");
    let gdb_text = format!(
        "{}{}",
        String::from_utf8_lossy(&gdb.stdout),
        String::from_utf8_lossy(&gdb.stderr)
    );
    (
        gdb_text,
        status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn gdb_breaks_steps_reads_and_continues_to_the_exit() {
    if !gdb_available() {
        skip("gdb-multiarch is not installed (apt-get install gdb-multiarch)");
        return;
    }
    let _ = in_ci();
    let dir = scratch();
    let kernel = dir.join("kernel-unmodified.elf");
    let export = Command::new(RUNNER)
        .args(["--export-image", "unmodified"])
        .arg(&kernel)
        .output()
        .expect("the runner starts");
    assert!(export.status.success(), "{export:?}");

    // The run without the debugger, for comparison.
    let plain = Command::new(RUNNER)
        .args(["--mode", "native"])
        .output()
        .expect("the runner starts");
    let plain_err = String::from_utf8_lossy(&plain.stderr).into_owned();

    let script = "\
break kmain
continue
info registers pc
p/x $a0
stepi
info registers pc
x/1i $pc
p/x *(unsigned int *)&TLB_REFILLS
p $lo
delete
watch *(unsigned int *)&PGD_CURRENT
continue
delete
continue
";
    let socket = dir.join(format!("guest-{}.sock", std::process::id()));
    let socket = socket.to_str().expect("temp paths are UTF-8").to_owned();
    let (gdb, status, stdout, stderr) = debug(&socket, &socket, &kernel, script);
    assert!(gdb.contains("Breakpoint 1, 0x"), "{gdb}");
    assert!(gdb.contains("in kmain ()"), "{gdb}");
    // a0 holds the RAM size at boot (64 MiB by default).
    assert!(gdb.contains("= 0x4000000"), "{gdb}");
    // One instruction on from the breakpoint.
    let pcs: Vec<u32> = gdb
        .lines()
        .filter_map(|l| l.strip_prefix("pc:"))
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|h| u32::from_str_radix(h.trim_start_matches("0x"), 16).ok())
        .collect();
    assert_eq!(pcs.len(), 2, "{gdb}");
    assert_eq!(pcs[1], pcs[0] + 4, "{gdb}");
    assert!(gdb.contains("=> 0x"), "the instruction at pc: {gdb}");
    // The variable's first change (the first process's page directory),
    // caught by a write watchpoint.
    assert!(
        gdb.contains("atchpoint 2: *(unsigned int *)&PGD_CURRENT"),
        "{gdb}"
    );
    assert!(
        gdb.contains("Old value = 0") && gdb.contains("New value = 2"),
        "{gdb}"
    );
    assert!(gdb.contains("exited normally"), "{gdb}");
    assert_eq!(status, Some(0), "{stderr}");
    assert_eq!(
        stdout.as_bytes(),
        plain.stdout.as_slice(),
        "the same console"
    );
    assert_eq!(
        instructions(&stderr),
        instructions(&plain_err),
        "the same count"
    );

    // Over TCP, reading memory the guest has not mapped answers an error
    // (which ends gdb's batch script: it detaches, and the guest runs on
    // to its end).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        l.local_addr().expect("an address").port()
    };
    let listen = format!("127.0.0.1:{port}");
    let script = "\
p/x $pc
x/1wx 0xc0000000
";
    let (gdb, status, _, stderr) = debug(&listen, &listen, &kernel, script);
    assert!(
        gdb.contains("Cannot access memory at address 0xc0000000"),
        "{gdb}"
    );
    assert!(gdb.contains("= 0x80001000"), "{gdb}");
    assert!(gdb.contains("detached"), "{gdb}");
    assert_eq!(status, Some(0), "{stderr}");
    assert!(
        stderr.contains("the debugger detached; the guest runs on"),
        "{stderr}"
    );
    assert_eq!(
        instructions(&stderr),
        instructions(&plain_err),
        "the same count"
    );

    // Under the monitor (one VM): the same session, and the same count
    // as the run under the monitor without gdb.
    let plain = Command::new(RUNNER)
        .args(["--mode", "full"])
        .output()
        .expect("the runner starts");
    let plain_err = String::from_utf8_lossy(&plain.stderr).into_owned();
    let socket = dir.join(format!("guest-full-{}.sock", std::process::id()));
    let socket = socket.to_str().expect("temp paths are UTF-8").to_owned();
    let script = "\
break kmain
continue
p/x $a0
stepi
x/1wx $sp
delete
continue
";
    let (gdb, status, stdout, stderr) = debug_mode("full", &socket, &socket, &kernel, script);
    assert!(gdb.contains("Breakpoint 1, 0x"), "{gdb}");
    assert!(gdb.contains("= 0x4000000"), "{gdb}");
    assert!(gdb.contains("exited normally"), "{gdb}");
    assert_eq!(status, Some(0), "{stderr}");
    assert_eq!(
        stdout.as_bytes(),
        plain.stdout.as_slice(),
        "the same console"
    );
    assert_eq!(
        instructions(&stderr),
        instructions(&plain_err),
        "the same count"
    );
}
