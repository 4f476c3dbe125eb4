//! Debugging a guest with a real `gdb-multiarch` (`--gdb`), end to end:
//! gdb attaches over a Unix socket and over TCP, breaks at a symbol of the
//! demo kernel, steps, reads registers, memory and a variable, sets write,
//! read and access watchpoints, sees each VM of `--vms 2` as a thread,
//! reads and writes CP0 (`$sr`, `$epc`, through the write masks), and
//! continues to the exit; the guest prints and counts exactly what it
//! does without the debugger. Needs `gdb-multiarch` (`.ci/run` installs
//! it); without it the tests are skipped, and fail under `CI=true`.

use hv_tests::{in_ci, skip};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// The debugged run (`gdb`'s transcript, the runner's status, stdout and
/// stderr) ran to a normal exit and printed and counted exactly what the
/// run without gdb did (`plain_out`, `plain_err`); `what` names the case.
fn assert_as_without_gdb(
    what: &str,
    (gdb, status, stdout, stderr): (&str, Option<i32>, &str, &str),
    plain_out: &[u8],
    plain_err: &str,
) {
    assert!(gdb.contains("exited normally"), "{what}: {gdb}");
    assert_eq!(status, Some(0), "{what}: {stderr}");
    assert_eq!(stdout.as_bytes(), plain_out, "{what}: the same console");
    assert_eq!(
        instructions(stderr),
        instructions(plain_err),
        "{what}: the same count"
    );
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
    debug_args(&["--mode", mode], listen, remote, kernel, script)
}

/// [`debug`] with the runner's arguments `args` (before `--gdb`).
fn debug_args(
    args: &[&str],
    listen: &str,
    remote: &str,
    kernel: &Path,
    script: &str,
) -> (String, Option<i32>, String, String) {
    let runner = Command::new(RUNNER)
        .args(args)
        .args(["--gdb", listen])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the runner starts");
    // The runner says when it listens; gdb retries its connection anyway.
    std::thread::sleep(Duration::from_millis(300));
    // One script file per session: the tests run at once.
    static SESSIONS: AtomicUsize = AtomicUsize::new(0);
    let n = SESSIONS.fetch_add(1, Ordering::Relaxed);
    let dir = scratch();
    let script_path = dir.join(format!("script-{}-{n}.gdb", std::process::id()));
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

/// Whether gdb is there to test with (else the test is skipped).
fn gdb_ready() -> bool {
    if !gdb_available() {
        skip("gdb-multiarch is not installed (apt-get install gdb-multiarch)");
        return false;
    }
    let _ = in_ci();
    true
}

/// A built-in demo kernel (`unmodified`, or `pv`: what `--mode para`
/// boots) as an ELF, for gdb's symbols (a file of its own for the test
/// `name`: the tests run at once).
fn exported_kernel(image: &str, name: &str) -> PathBuf {
    let kernel = scratch().join(format!("kernel-{image}-{name}.elf"));
    let export = Command::new(RUNNER)
        .args(["--export-image", image])
        .arg(&kernel)
        .output()
        .expect("the runner starts");
    assert!(export.status.success(), "{export:?}");
    kernel
}

/// A socket path of its own for the test `name`.
fn socket_path(name: &str) -> String {
    let path = scratch().join(format!("{name}-{}.sock", std::process::id()));
    path.to_str().expect("temp paths are UTF-8").to_owned()
}

/// The run of the demo with `args` and no debugger: (stdout, stderr).
fn plain_run(args: &[&str]) -> (Vec<u8>, String) {
    let plain = Command::new(RUNNER)
        .args(args)
        .output()
        .expect("the runner starts");
    let err = String::from_utf8_lossy(&plain.stderr).into_owned();
    (plain.stdout, err)
}

/// The values gdb printed for `$N = ...` lines, in order.
fn printed(gdb: &str) -> Vec<String> {
    gdb.lines()
        .filter(|l| l.starts_with('$'))
        .filter_map(|l| l.split_once(" = "))
        .map(|(_, v)| v.trim().to_owned())
        .collect()
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
    assert_as_without_gdb(
        "native",
        (&gdb, status, &stdout, &stderr),
        &plain.stdout,
        &plain_err,
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
    assert_as_without_gdb(
        "--mode full",
        (&gdb, status, &stdout, &stderr),
        &plain.stdout,
        &plain_err,
    );
}

#[test]
fn gdb_sees_each_vm_as_a_thread() {
    if !gdb_ready() {
        return;
    }
    let kernel = exported_kernel("unmodified", "vms");
    let args = ["--mode", "full", "--vms", "2"];
    let (plain_out, plain_err) = plain_run(&args);
    // Both VMs boot the same kernel: VM 0 reaches kmain first (it has
    // the CPU), VM 1 is still at its first instruction then; each thread
    // has its own registers; the breakpoint stops each VM in turn.
    let script = "\
info threads
break kmain
continue
info threads
thread 2
p/x $pc
p/x $a0
info registers pc
thread 1
p/x $pc
continue
p/x $pc
delete
continue
continue
continue
";
    let sock = socket_path("vms");
    let (gdb, status, stdout, stderr) = debug_args(&args, &sock, &sock, &kernel, script);
    assert!(gdb.contains("(vm0)") && gdb.contains("(vm1)"), "{gdb}");
    assert!(gdb.contains("[Switching to thread 2"), "{gdb}");
    assert!(gdb.contains("Thread 1 hit Breakpoint 1, 0x"), "{gdb}");
    assert!(gdb.contains("Thread 2 hit Breakpoint 1, 0x"), "{gdb}");
    let kmain = gdb
        .lines()
        .find_map(|l| l.strip_prefix("Breakpoint 1 at "))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no breakpoint address in: {gdb}"));
    // Thread 2's pc and a0 (the RAM size at boot), thread 1's pc at the
    // breakpoint, then thread 2's at it.
    assert_eq!(
        printed(&gdb),
        ["0x80001000", "0x4000000", kmain, kmain],
        "{gdb}"
    );
    assert_as_without_gdb(
        "two VMs",
        (&gdb, status, &stdout, &stderr),
        &plain_out,
        &plain_err,
    );
}

#[test]
fn gdb_read_and_access_watchpoints_stop_after_the_access() {
    if !gdb_ready() {
        return;
    }
    let kernel = exported_kernel("unmodified", "rwatch");
    // The refill handler (at EBase, 0x80000000) reads the page directory
    // pointer with its third instruction, and counts refills with a load
    // and a store: gdb stops right after each.
    let script = "\
rwatch *(unsigned int *)&PGD_CURRENT
continue
p/x $pc
x/1i $pc - 4
delete
awatch *(unsigned int *)&TLB_REFILLS
continue
x/1i $pc - 4
continue
x/1i $pc - 4
delete
continue
continue
continue
";
    for args in [&["--mode", "native"][..], &["--mode", "full", "--vms", "2"]] {
        let (plain_out, plain_err) = plain_run(args);
        let sock = socket_path("rwatch");
        let (gdb, status, stdout, stderr) = debug_args(args, &sock, &sock, &kernel, script);
        assert!(
            gdb.contains("ardware read watchpoint 1: *(unsigned int *)&PGD_CURRENT\n\nValue = "),
            "{args:?}: {gdb}"
        );
        assert_eq!(printed(&gdb), ["0x8000000c"], "{args:?}: {gdb}");
        let before: Vec<&str> = gdb
            .lines()
            .filter(|l| l.starts_with("   0x"))
            .map(|l| l.split(':').nth(1).unwrap_or("").trim())
            .collect();
        assert_eq!(
            before,
            [
                "lw\tk1,-27228(k1)",
                "lw\tk1,-27224(k0)",
                "sw\tk1,-27224(k0)"
            ],
            "{args:?}: the load, then the counter's load and store: {gdb}"
        );
        assert!(
            gdb.contains("ardware access (read/write) watchpoint 2: *(unsigned int *)&TLB_REFILLS\n\nValue = "),
            "{args:?}: {gdb}"
        );
        assert!(
            gdb.contains("Old value = ") && gdb.contains("New value = "),
            "{args:?}: {gdb}"
        );
        assert_as_without_gdb(
            &format!("{args:?}"),
            (&gdb, status, &stdout, &stderr),
            &plain_out,
            &plain_err,
        );
    }
}

#[test]
fn gdb_reads_and_writes_cp0_through_the_write_masks() {
    if !gdb_ready() {
        return;
    }
    let kernel = exported_kernel("unmodified", "cp0");
    // At kmain: Status, EPC and BadVAddr as the kernel left them; then
    // IM2 (writable) set, FR (bit 26, read-only) tried, EPC written,
    // BadVAddr (read-only) tried, IM2 cleared again; `info registers`
    // lists the CP0 registers of the target description.
    let script = "\
break kmain
continue
p/x $sr
p/x $epc
p/x $badvaddr
set $sr = $sr | 0x400
p/x $sr
set $sr = $sr | 0x04000000
p/x $sr
set $epc = 0x80001234
p/x $epc
p $epc
set $badvaddr = 0x1234
p/x $badvaddr
set $sr = $sr & ~0x400
p/x $sr
info registers
delete
continue
";
    let pv = exported_kernel("pv", "cp0");
    for args in [
        &["--mode", "native"][..],
        &["--mode", "full"],
        &["--mode", "para"],
    ] {
        let kernel = if args[1] == "para" { &pv } else { &kernel };
        let (plain_out, plain_err) = plain_run(args);
        let sock = socket_path("cp0");
        let (gdb, status, stdout, stderr) = debug_args(args, &sock, &sock, kernel, script);
        let p = printed(&gdb);
        assert_eq!(p.len(), 9, "{args:?}: {gdb}");
        let hex = |s: &str| {
            u32::from_str_radix(s.trim_start_matches("0x"), 16)
                .unwrap_or_else(|_| panic!("{args:?}: {s} is no number: {gdb}"))
        };
        let sr = hex(&p[0]);
        assert_eq!(sr & 0x400, 0, "{args:?}: IM2 starts clear: {gdb}");
        assert_eq!(hex(&p[3]), sr | 0x400, "{args:?}: IM2 sticks: {gdb}");
        assert_eq!(hex(&p[4]), sr | 0x400, "{args:?}: FR does not: {gdb}");
        assert_eq!(p[5], "0x80001234", "{args:?}: {gdb}");
        assert!(
            p[6].starts_with("(void (*)()) 0x80001234"),
            "{args:?}: EPC is a code address: {gdb}"
        );
        assert_eq!(p[7], p[2], "{args:?}: BadVAddr is read-only: {gdb}");
        assert_eq!(hex(&p[8]), sr, "{args:?}: {gdb}");
        for name in [
            "status", "cause", "epc", "count", "compare", "entryhi", "errorepc",
        ] {
            assert!(
                gdb.lines().any(|l| l.split_whitespace().any(|w| w == name)),
                "{args:?}: info registers shows {name}: {gdb}"
            );
        }
        // Status is back as it was and EPC is written by the next
        // exception before anything reads it: the run is the one without
        // gdb.
        assert_as_without_gdb(
            &format!("{args:?}"),
            (&gdb, status, &stdout, &stderr),
            &plain_out,
            &plain_err,
        );
    }
}
