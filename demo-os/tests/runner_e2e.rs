//! End-to-end tests of the runner binary: guest programs built with the
//! assembler and the test ELF writer, run as a separate process, checked by
//! stdout, stderr and exit status.

use hv_host::machine::asm::{self, A0, A1, A2, Asm, T0, T9};
use hv_tests::elf_writer::{EM_X86_64, ElfBuilder};
use hv_tests::process::{RunOutput, run_with_limit, write_file};
use hv_tests::programs::{self, GuestProgram};
use std::path::{Path, PathBuf};
use std::time::Duration;

const RUNNER: &str = env!("CARGO_BIN_EXE_demo-os");

fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    write_file(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("runner_e2e"),
        name,
        bytes,
    )
}

fn runner(args: &[&str]) -> RunOutput {
    run_with_limit(Path::new(RUNNER), args, Duration::from_secs(120))
}

fn runner_on(kernel: &Path, extra: &[&str]) -> RunOutput {
    let kernel = kernel.to_str().expect("temp paths are UTF-8");
    let mut args = vec!["--mode", "native", "--kernel", kernel];
    args.extend_from_slice(extra);
    runner(&args)
}

/// The one stderr line that starts like the summary.
fn summary(out: &RunOutput) -> &str {
    out.stderr
        .lines()
        .find(|l| l.contains(" instructions in "))
        .unwrap_or_else(|| panic!("no summary in stderr: {}", out.stderr))
}

#[test]
fn hello_prints_on_the_uart_and_exits_with_its_code() {
    let elf = scratch(
        "hello.elf",
        &programs::hello("Hello from the guest!\n", 42).elf(),
    );
    let out = runner_on(&elf, &[]);
    assert_eq!(out.stdout_text(), "Hello from the guest!\n");
    assert_eq!(out.code, Some(42), "stderr: {}", out.stderr);
    let s = summary(&out);
    assert!(s.starts_with("demo-os: "), "{s}");
    assert!(
        s.contains("MIPS); stopped: guest exited with code 42"),
        "{s}"
    );
}

#[test]
fn exit_status_keeps_the_low_eight_bits() {
    let elf = scratch("minus_one.elf", &programs::hello("", -1).elf());
    let out = runner_on(&elf, &["--mem", "1"]);
    assert_eq!(out.code, Some(255), "stderr: {}", out.stderr);
    assert!(out.stdout.is_empty());
    assert!(summary(&out).ends_with("stopped: guest exited with code -1"));
}

#[test]
fn runs_are_deterministic() {
    let elf = scratch("det.elf", &programs::hello("same every time\n", 0).elf());
    let a = runner_on(&elf, &[]);
    let b = runner_on(&elf, &[]);
    let count = |o: &RunOutput| summary(o).split(" instructions").next().unwrap().to_owned();
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(count(&a), count(&b));
    assert_eq!(a.code, Some(0));
}

#[test]
fn instruction_limit_stops_an_endless_guest() {
    let elf = scratch("spin.elf", &programs::spin_forever().elf());
    let out = runner_on(&elf, &["--max-instructions", "25000000"]);
    assert_eq!(out.code, Some(124), "stderr: {}", out.stderr);
    let s = summary(&out);
    assert!(s.starts_with("demo-os: 25000000 instructions in "), "{s}");
    assert!(
        s.contains("instruction limit reached (--max-instructions 25000000)"),
        "{s}"
    );
}

#[test]
fn output_before_the_limit_is_kept() {
    let elf = scratch(
        "print_spin.elf",
        &programs::print_then_spin("before the limit\n").elf(),
    );
    let out = runner_on(&elf, &["--max-instructions", "12000000"]);
    assert_eq!(out.code, Some(124), "stderr: {}", out.stderr);
    assert_eq!(out.stdout_text(), "before the limit\n");
}

#[test]
fn uhi_fd2_goes_to_stderr_before_the_summary() {
    let elf = scratch(
        "uhi.elf",
        &programs::uhi_writes("to stdout\n", "to stderr\n").elf(),
    );
    let out = runner_on(&elf, &[]);
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.stdout_text(), "to stdout\n");
    let mut lines = out.stderr.lines();
    assert_eq!(lines.next(), Some("to stderr"));
    assert!(lines.next().unwrap().starts_with("demo-os: "));
}

#[test]
fn a_stalled_guest_is_reported() {
    let elf = scratch("wait.elf", &programs::wait_forever().elf());
    let out = runner_on(&elf, &[]);
    assert_eq!(out.code, Some(125), "stderr: {}", out.stderr);
    assert!(summary(&out).contains("stopped: guest stalled"));
}

#[test]
fn broken_files_are_one_line_errors() {
    let garbage = scratch("garbage.elf", b"this is not an ELF file at all\n");
    let out = runner_on(&garbage, &[]);
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.stderr,
        format!("demo-os: error: {}: not an ELF file\n", garbage.display())
    );
    assert!(out.stdout.is_empty());

    let good = programs::hello("x", 0).elf();
    let cut = scratch("truncated.elf", &good[..40]);
    let out = runner_on(&cut, &[]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.starts_with(&format!(
            "demo-os: error: {}: truncated or malformed ELF",
            cut.display()
        )),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1);

    let missing = Path::new(env!("CARGO_TARGET_TMPDIR")).join("runner_e2e/does-not-exist.elf");
    let out = runner_on(&missing, &[]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .starts_with(&format!("demo-os: error: {}: ", missing.display())),
        "{}",
        out.stderr
    );
}

#[test]
fn an_x86_elf_is_refused_by_machine_number() {
    let x86 = ElfBuilder::new(0x40_1000)
        .machine(EM_X86_64)
        .code(0x40_1000, &[0x90c3_9090])
        .build();
    let path = scratch("x86.elf", &x86);
    let out = runner_on(&path, &[]);
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.stderr,
        format!(
            "demo-os: error: {}: not a MIPS ELF (e_machine 62)\n",
            path.display()
        )
    );
}

#[test]
fn a_kernel_larger_than_ram_is_refused() {
    // 2 MiB of zero-filled memory at physical 0x1000 does not fit in 1 MiB.
    let big = ElfBuilder::new(0x8000_1000)
        .code(0x8000_1000, &[0; 4])
        .segment(hv_tests::elf_writer::SegmentSpec {
            vaddr: 0x8001_0000,
            paddr: 0x8001_0000,
            data: Vec::new(),
            mem_size: 2 << 20,
            flags: hv_tests::elf_writer::PF_R | hv_tests::elf_writer::PF_W,
        })
        .build();
    let path = scratch("big.elf", &big);
    let out = runner_on(&path, &["--mem", "1"]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("does not fit in memory"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--mem"), "{}", out.stderr);
}

#[test]
fn bad_mem_values_are_usage_errors() {
    let elf = scratch("mem.elf", &programs::hello("", 0).elf());
    for bad in ["0", "257", "many"] {
        let out = runner_on(&elf, &["--mem", bad]);
        assert_eq!(out.code, Some(2), "--mem {bad}: {}", out.stderr);
        assert!(out.stderr.contains("--mem"), "{}", out.stderr);
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn full_mode_runs_a_kernel_as_natively() {
    let elf = scratch("full.elf", &programs::hello("hello from the VM\n", 7).elf());
    let native = runner_on(&elf, &[]);
    let kernel = elf.to_str().unwrap();
    let full = runner(&["--mode", "full", "--kernel", kernel]);
    assert_eq!(full.code, Some(7), "{}", full.stderr);
    assert_eq!(full.stdout, native.stdout);
    assert_eq!(full.stdout_text(), "hello from the VM\n");
    assert!(
        full.stderr.contains("monitor: statistics"),
        "{}",
        full.stderr
    );
    assert!(
        summary(&full).ends_with("stopped: guest exited with code 7"),
        "{}",
        full.stderr
    );
}

#[test]
fn para_mode_boots_the_pv_image_which_makes_hypercalls() {
    let out = runner(&["--mode", "para"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout_text().contains(demo_os::EXPECTED_RESULTS));
    for row in [
        "hypercall ConsoleWrite",
        "hypercall PageZeroed",
        "hypercall RefillWalkSet",
    ] {
        assert!(out.stderr.contains(row), "no {row} in:\n{}", out.stderr);
    }
}

#[test]
fn para_mode_runs_an_unmodified_kernel_as_natively() {
    // A kernel that makes no hypercall runs under --mode para as under
    // full: the hypercalls are only offered.
    let elf = scratch("para.elf", &programs::hello("para\n", 3).elf());
    let kernel = elf.to_str().unwrap();
    let out = runner(&["--mode", "para", "--kernel", kernel]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "para\n");
}

#[test]
fn monitor_flags_need_the_monitor() {
    let elf = scratch("flags.elf", &programs::hello("", 0).elf());
    for extra in [
        &["--vms", "2"][..],
        &["--trace", "exits"],
        &["--vtlb", "8"],
        &["--slice", "5000"],
        &["--no-idle-inference"],
    ] {
        let out = runner_on(&elf, extra);
        assert_eq!(out.code, Some(2), "{extra:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{extra:?}");
        assert!(
            out.stderr.contains("needs the monitor") || out.stderr.contains("need the monitor"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains(extra[0]), "{extra:?}: {}", out.stderr);
    }
    // The same flags under the monitor are taken.
    let kernel = elf.to_str().unwrap();
    let out = runner(&[
        "--mode",
        "full",
        "--kernel",
        kernel,
        "--vtlb",
        "8",
        "--slice",
        "5000",
        "--no-idle-inference",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn malta_needs_a_kernel() {
    // The built-in demo images are mipssim kernels: on Malta they would
    // run forever printing nothing.
    for extra in [
        &["--mode", "native"][..],
        &["--mode", "full"],
        &["--mode", "para", "--vms", "2"],
        &["--image", "pv"],
    ] {
        let mut args = vec!["--board", "malta", "--max-instructions", "100000"];
        args.extend_from_slice(extra);
        let out = runner(&args);
        assert_eq!(out.code, Some(2), "{extra:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{extra:?}");
        assert!(
            out.stderr
                .contains("--board malta boots a Linux kernel: name it with --kernel FILE"),
            "{extra:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn more_kernels_or_program_lists_than_vms_are_usage_errors() {
    let a = scratch("vm_a.elf", &programs::hello("a\n", 0).elf());
    let b = scratch("vm_b.elf", &programs::hello("b\n", 0).elf());
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let limit = ["--max-instructions", "100000"];
    for (args, message) in [
        (
            &["--mode", "full", "--kernel", a, "--kernel", b][..],
            "2 --kernel files for 1 VM: give at most one per VM (--vms 2 runs 2 VMs)",
        ),
        (
            &[
                "--mode", "para", "--vms", "2", "--kernel", a, "--kernel", b, "--kernel", a,
            ],
            "3 --kernel files for 2 VMs",
        ),
        (
            &[
                "--mode",
                "full",
                "--programs",
                "sieve",
                "--programs",
                "pages",
            ],
            "2 --programs lists for 1 VM: give at most one per VM",
        ),
        (
            &[
                "--mode",
                "full",
                "--vms",
                "2",
                "--programs",
                "sieve",
                "--programs",
                "pages",
                "--programs",
                "sleeper",
            ],
            "3 --programs lists for 2 VMs",
        ),
        (
            &[
                "--mode",
                "compare",
                "--programs",
                "sieve",
                "--programs",
                "pages",
            ],
            "--mode compare takes one --programs list",
        ),
    ] {
        let out = runner(&[args, &limit[..]].concat());
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
    // As many as the VMs, or fewer (round robin), are taken.
    let out = runner(&["--mode", "full", "--vms", "2", "--kernel", a, "--kernel", b]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "[vm0] a\n[vm1] b\n");
    let out = runner(&["--mode", "full", "--vms", "3", "--kernel", a, "--kernel", b]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "[vm0] a\n[vm1] b\n[vm2] a\n");
}

#[test]
fn help_explains_flags_memory_map_and_exit_codes() {
    let out = runner(&["--help"]);
    assert_eq!(out.code, Some(0));
    let help = out.stdout_text();
    for needle in [
        "--kernel",
        "--mem",
        "--max-instructions",
        "--mode",
        "--work",
        "--programs",
        "Work scale",
        "Memory map",
        "Exit status",
        "124",
        "125",
    ] {
        assert!(help.contains(needle), "help lacks {needle}");
    }
}

#[test]
fn devices_directories_and_huge_files_are_refused_as_kernels() {
    for path in ["/dev/zero", env!("CARGO_TARGET_TMPDIR")] {
        let out = runner_on(Path::new(path), &[]);
        assert_eq!(out.code, Some(1), "{path}: {}", out.stderr);
        assert_eq!(
            out.stderr,
            format!("demo-os: error: {path}: not a regular file\n")
        );
    }
    // A sparse file just over the limit: refused by its size, unread.
    let huge = Path::new(env!("CARGO_TARGET_TMPDIR")).join("runner_e2e/huge.elf");
    std::fs::create_dir_all(huge.parent().unwrap()).unwrap();
    let f = std::fs::File::create(&huge).unwrap();
    f.set_len((512 << 20) + 1).unwrap();
    drop(f);
    let out = runner_on(&huge, &[]);
    std::fs::remove_file(&huge).unwrap();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .ends_with("is too large for a kernel (at most 512 MiB)\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_closed_stdout_is_an_error() {
    let elf = scratch("closed.elf", &programs::hello("lost?\n", 0).elf());
    let out = run_with_limit(
        Path::new("/bin/sh"),
        &[
            "-c",
            r#"exec "$0" --mode native --kernel "$1" >&-"#,
            RUNNER,
            elf.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.starts_with("demo-os: error: stdout is closed"),
        "{}",
        out.stderr
    );
    // Discarding on purpose still works.
    let out = run_with_limit(
        Path::new("/bin/sh"),
        &[
            "-c",
            r#"exec "$0" --mode native --kernel "$1" >/dev/null"#,
            RUNNER,
            elf.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn a_broken_pipe_on_stdout_is_an_error() {
    let elf = scratch(
        "epipe.elf",
        &programs::hello("nobody reads this\n", 0).elf(),
    );
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(RUNNER)
        .args(["--mode", "native", "--kernel", elf.to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("demo-os: error: writing the guest's output: "),
        "{stderr}"
    );
    assert!(!stderr.contains(" instructions in "), "{stderr}");
}

/// A guest that writes a 256 KiB buffer to fd 1 `rounds` times, each with
/// the POSIX loop over partial writes and a busy loop after every call,
/// then sends `uart` bytes `u` to the UART and exits with 0.
fn bulk_writer(pattern: &[u8], rounds: u32, uart: u32) -> Vec<u8> {
    use hv_host::machine::asm::{self, A0, A1, A2, Asm, S0, S1, S2, T0, T1, T2, T9, V0, ZERO};
    const BUF: u32 = 0x8010_0000;
    let mut a = Asm::new(programs::ORIGIN);
    a.li(S0, rounds);
    let round = a.here();
    a.li(S1, BUF).li(S2, pattern.len() as u32);
    let again = a.here();
    a.li(T9, programs::UHI_WRITE).li(A0, 1);
    a.emit(asm::mov(A1, S1)).emit(asm::mov(A2, S2));
    a.emit(asm::sdbbp(1));
    a.emit(asm::addu(S1, S1, V0)).emit(asm::subu(S2, S2, V0));
    a.li(T0, 1000);
    let delay = a.here();
    a.emit(asm::addiu(T0, T0, -1));
    a.bne(T0, ZERO, delay).nop();
    a.bne(S2, ZERO, again).nop();
    a.emit(asm::addiu(S0, S0, -1));
    a.bne(S0, ZERO, round).nop();
    a.li32(T0, programs::UART_THR)
        .li(T1, u32::from(b'u'))
        .li(T2, uart);
    let spin = a.here();
    a.emit(asm::sb(T1, 0, T0)).emit(asm::addiu(T2, T2, -1));
    a.bne(T2, ZERO, spin).nop();
    programs::emit_uhi_exit(&mut a, 0);
    ElfBuilder::new(programs::ORIGIN)
        .code(programs::ORIGIN, &a.finish().unwrap())
        .data(BUF, pattern.to_vec())
        .build()
}

#[test]
fn bulk_output_arrives_complete() {
    let pattern: Vec<u8> = (0..256 << 10).map(|i: u32| (i * 7 % 251) as u8).collect();
    let (rounds, uart) = (40, 200_000);
    let elf = scratch("bulk.elf", &bulk_writer(&pattern, rounds, uart));
    let out = runner_on(&elf, &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let instructions: u64 = summary(&out)
        .strip_prefix("demo-os: ")
        .and_then(|s| s.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(instructions > 5_000_000, "{instructions}");
    let mut expected = pattern.repeat(rounds as usize);
    expected.extend(std::iter::repeat_n(b'u', uart as usize));
    assert_eq!(out.stdout.len(), expected.len());
    assert!(out.stdout == expected, "output differs");
}

#[test]
fn control_characters_in_symbol_names_are_escaped() {
    let spin = programs::spin_forever();
    let elf = ElfBuilder::new(spin.origin)
        .code(spin.origin, &spin.words)
        .symbol("evil\x1b[2J\nforged line", spin.origin, 12, true)
        .build();
    let path = scratch("evil_symbol.elf", &elf);
    let out = runner_on(&path, &["--max-instructions", "4", "--trace"]);
    assert_eq!(out.code, Some(124), "{}", out.stderr);
    assert!(!out.stderr.contains('\x1b'), "{:?}", out.stderr);
    assert!(
        !out.stderr.lines().any(|l| l.starts_with("forged")),
        "{:?}",
        out.stderr
    );
    let escaped = r"<evil\x1b[2J\x0aforged line+0x";
    let traced = out.stderr.lines().filter(|l| l.contains(escaped)).count();
    assert_eq!(
        traced,
        4 + 1,
        "four trace lines and the summary: {}",
        out.stderr
    );
    assert!(summary(&out).contains(escaped), "{}", out.stderr);

    // Under the monitor the same escapes, in the exit trace and the
    // summary alike.
    let kernel = path.to_str().unwrap();
    let out = runner(&[
        "--mode",
        "full",
        "--kernel",
        kernel,
        "--max-instructions",
        "4",
        "--trace",
        "exits",
    ]);
    assert_eq!(out.code, Some(124), "{}", out.stderr);
    assert!(!out.stderr.contains('\x1b'), "{:?}", out.stderr);
    assert!(
        !out.stderr.lines().any(|l| l.starts_with("forged")),
        "{:?}",
        out.stderr
    );
    assert!(
        out.stderr
            .lines()
            .any(|l| l.contains(" vm0 0x80001000 ") && l.contains(escaped)),
        "an exit trace line: {}",
        out.stderr
    );
    assert!(summary(&out).contains(escaped), "{}", out.stderr);
}

/// The `results:` line of a demo run.
fn results_line(out: &RunOutput) -> String {
    out.stdout_text()
        .lines()
        .rfind(|l| l.starts_with("results:"))
        .unwrap_or_else(|| panic!("no results line:\n{}", out.stdout_text()))
        .to_owned()
}

#[test]
fn work_scales_the_demo_deterministically() {
    let default = runner(&["--mode", "native"]);
    assert_eq!(default.code, Some(0), "{}", default.stderr);
    assert_eq!(results_line(&default), demo_os::EXPECTED_RESULTS);
    assert!(!default.stdout_text().contains("work scale"));
    let a = runner(&["--mode", "native", "--work", "3"]);
    let b = runner(&["--mode", "native", "--work", "3"]);
    assert_eq!(a.code, Some(0), "{}", a.stderr);
    assert_eq!(a.stdout, b.stdout, "a native run is deterministic");
    assert_eq!(
        results_line(&a),
        "results: sieve=8713 memory=1504468992 sleeper=18 chatty=1908 pages=456507736"
    );
    assert_ne!(results_line(&a), results_line(&default));
    assert!(
        a.stdout_text()
            .contains("demo-os: work scale 3, programs sieve memory sleeper chatty pages\n")
    );
    assert!(
        a.stdout_text()
            .contains("sleeper: pid 3 napping 18 times\n")
    );
}

#[test]
fn programs_selects_the_demo_programs() {
    let out = runner(&["--mode", "native", "--programs", "sleeper"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let text = out.stdout_text();
    assert_eq!(results_line(&out), "results: sleeper=6");
    let started: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" started pid "))
        .collect();
    assert_eq!(started, ["demo-os: started pid 3 (sleeper), image 4 pages"]);
    for other in ["sieve", "memory", "chatty", "pages"] {
        let prefix = format!("{other}:");
        assert!(
            !text.lines().any(|l| l.starts_with(&prefix)),
            "{other} ran:\n{text}"
        );
    }
}

#[test]
fn work_and_programs_reach_every_vm_under_the_monitor() {
    let out = runner(&[
        "--mode",
        "full",
        "--vms",
        "2",
        "--image",
        "pv",
        "--work",
        "2",
        "--programs",
        "sleeper,chatty",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let text = out.stdout_text();
    for vm in ["[vm0]", "[vm1]"] {
        let results = format!("{vm} results: sleeper=12 chatty=1272\n");
        assert!(text.contains(&results), "{results}:\n{text}");
    }
}

#[test]
fn bad_program_names_and_work_scales_are_usage_errors() {
    for (flag, bad) in [
        ("--programs", "sleeper,shell"),
        ("--programs", ""),
        ("--work", "0"),
        ("--work", "1001"),
    ] {
        let out = runner(&["--mode", "native", flag, bad]);
        assert_eq!(out.code, Some(2), "{flag} {bad:?}: {}", out.stderr);
        assert!(out.stdout.is_empty());
        assert!(out.stderr.contains(flag), "{}", out.stderr);
    }
    let out = runner(&["--programs", "sleeper,shell"]);
    assert!(
        out.stderr.contains(
            "unknown program `shell` (the programs are sieve, memory, sleeper, chatty, pages)"
        ),
        "{}",
        out.stderr
    );
}

/// A kernel that exits with code `a1 + 16 * a2`.
fn boot_args_echo() -> GuestProgram {
    let mut a = Asm::new(programs::ORIGIN);
    let start = a.named_label("_start");
    a.bind(start);
    a.emit(asm::sll(T0, A2, 4));
    a.emit(asm::addu(A0, A1, T0));
    a.li(T9, programs::UHI_EXIT);
    a.emit(asm::sdbbp(1));
    let spin = a.here();
    a.b(spin);
    a.nop();
    GuestProgram::assemble(a).expect("the echo kernel assembles")
}

#[test]
fn a_kernel_file_gets_the_boot_arguments_too() {
    let elf = scratch("boot_args.elf", &boot_args_echo().elf());
    let kernel = elf.to_str().unwrap();
    let default = runner_on(&elf, &[]);
    assert_eq!(default.code, Some(1), "a1 = 1, a2 = 0: {}", default.stderr);
    for mode in ["native", "full"] {
        let out = runner(&[
            "--mode",
            mode,
            "--kernel",
            kernel,
            "--work",
            "5",
            "--programs",
            "memory,sleeper",
        ]);
        // a1 = 5, a2 = 0b110.
        assert_eq!(out.code, Some(5 + 16 * 6), "{mode}: {}", out.stderr);
    }
}

/// The cells of the table row labelled `label` (its label may contain
/// spaces; the cells do not).
fn table_row(table: &str, label: &str) -> Vec<String> {
    let line = table
        .lines()
        .find(|l| {
            l.strip_prefix(label)
                .is_some_and(|rest| rest.starts_with("  "))
        })
        .unwrap_or_else(|| panic!("no row `{label}`:\n{table}"));
    line[label.len()..]
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn compare_prints_one_table_of_every_mode() {
    let out = runner(&["--mode", "compare", "--work", "1"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let table = out.stdout_text();
    // The table only: no guest console line.
    assert!(!table.contains("results:"), "{table}");
    assert!(!table.contains("stat "), "{table}");
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert!(
        header.ends_with(&["native", "full", "/native", "para", "/native"]),
        "{header:?}"
    );
    let counts = |label: &str| -> Vec<u64> {
        table_row(&table, label)
            .iter()
            .filter(|c| !c.ends_with('x'))
            .map(|c| c.parse().unwrap_or_else(|_| panic!("{label}: {c}")))
            .collect()
    };
    let insns = counts("guest instructions");
    assert_eq!(insns.len(), 3);
    // The PV kernel skips zeroing the monitor vouches for and batches its
    // TLB writes: fewer instructions than the unmodified one.
    assert!(insns[2] < insns[1], "{insns:?}");
    let cycles = counts("virtual cycles");
    assert!(cycles[1] > cycles[0] && cycles[2] < cycles[1], "{cycles:?}");
    let ratio = &table_row(&table, "virtual cycles")[2];
    assert!(ratio.ends_with('x'), "{ratio}");
    for label in [
        "exits",
        "  cop_unusable",
        "privileged instructions emulated",
        "tlb refills served by the software tlb",
        "frames zeroed by the monitor",
        "machine switches",
    ] {
        assert_eq!(table_row(&table, label)[0], "-", "{label}: native has none");
    }
    let hypercalls = table_row(&table, "hypercalls");
    assert_eq!(hypercalls[..2], ["-", "0"], "only para makes hypercalls");
    assert!(hypercalls[2].parse::<u64>().unwrap() > 0, "{hypercalls:?}");
    assert_eq!(table_row(&table, "  TlbInstallBatch")[1], "0", "full");
    assert_eq!(table_row(&table, "exit status"), ["0", "0", "0"]);
    assert_eq!(
        table_row(&table, "output identical to native"),
        ["yes", "yes", "yes"]
    );
    assert_eq!(
        table_row(&table, "  outputs identical to native"),
        ["-", "yes", "yes"]
    );
    assert!(table_row(&table, "busy VM beside the idle VM").len() == 5);
    assert!(out.stderr.contains("every one exited 0"), "{}", out.stderr);
}

/// `value` without the keys that hold host time.
fn without_wall_time(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(m) => m
            .iter()
            .filter(|(k, _)| !k.contains("wall"))
            .map(|(k, v)| (k.clone(), without_wall_time(v)))
            .collect(),
        other => other.clone(),
    }
}

#[test]
fn compare_json_is_one_deterministic_object() {
    let run = || {
        let out = runner(&["--mode", "compare", "--json", "--work", "1"]);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("stdout is one JSON value");
        v
    };
    let a = run();
    assert_eq!(a["ok"], true);
    assert_eq!(a["problems"], serde_json::json!([]));
    for mode in ["native", "full", "para"] {
        let m = &a["modes"][mode];
        for key in [
            "guest_instructions",
            "virtual_cycles",
            "exits_total",
            "stlb_refills",
            "prefills",
            "refills_forwarded",
            "walked_refills",
            "monitor_frames_zeroed",
            "monitor_frames_vouched",
            "idle_ticks",
            "machine_switches",
            "guest_frames_zeroed",
            "guest_tlb_refills",
        ] {
            assert!(m[key].is_u64(), "{mode}.{key}: {}", m[key]);
        }
        assert!(m["wall_seconds"].is_f64(), "{mode}");
        assert_eq!(m["output_identical_to_native"], true, "{mode}");
        assert_eq!(m["exit_code"], 0, "{mode}");
        let exits = m["exits"].as_object().expect("exits is an object");
        assert_eq!(exits.len(), 16, "every ExitReason");
        let sum: u64 = exits.values().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!(Some(sum), m["exits_total"].as_u64(), "{mode}");
        let calls = m["hypercalls"]
            .as_object()
            .expect("hypercalls is an object");
        assert!(calls.contains_key("IdleYield") && calls.contains_key("PageZeroed"));
        // Absent until the kernel reports it; a count once it does.
        let stores = &m["guest_zeroing_stores"];
        assert!(stores.is_null() || stores.is_u64(), "{stores}");
    }
    let modes = &a["modes"];
    assert_eq!(modes["native"]["exits_total"], 0);
    assert_eq!(modes["full"]["hypercalls_total"], 0);
    assert!(modes["para"]["hypercalls"]["TlbInstallBatch"].as_u64() > Some(0));
    assert!(modes["full"]["ratio_to_native"]["virtual_cycles"].as_f64() > Some(1.0));
    let two = &a["two_vm"];
    for key in [
        "busy_alone_cycles",
        "busy_alone_cycles_native",
        "busy_alone_cycles_para",
        "busy_beside_idle_cycles_full",
        "busy_beside_idle_cycles_para",
    ] {
        assert!(two[key].is_u64(), "two_vm.{key}: {}", two[key]);
    }
    // The idle VM costs its neighbour something, and the PV image yields.
    assert!(two["busy_beside_idle_cycles_full"].as_u64() > two["busy_alone_cycles"].as_u64());
    assert!(two["idle_vm_hypercalls_para"].as_u64() > Some(0));
    assert_eq!(two["outputs_identical_to_native"], true);

    let b = run();
    assert_eq!(without_wall_time(&a), without_wall_time(&b));
}

#[test]
fn compare_flags_are_checked() {
    let out = runner(&["--mode", "native", "--json"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("--json is for --mode compare"),
        "{}",
        out.stderr
    );
    for extra in [
        &["--image", "pv"][..],
        &["--vms", "2"],
        &["--trace", "exits"],
    ] {
        let mut args = vec!["--mode", "compare"];
        args.extend_from_slice(extra);
        let out = runner(&args);
        assert_eq!(out.code, Some(2), "{extra:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{extra:?}");
    }
}

#[test]
fn compare_fails_when_a_run_does_not_finish() {
    // Every run stops at the limit: none exits 0, so the comparison fails
    // after printing its table.
    let out = runner(&["--mode", "compare", "--max-instructions", "100000"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stdout_text().contains("exit status"),
        "the table is printed"
    );
    assert!(
        out.stderr
            .contains("demo-os: compare: native: exit status 124"),
        "{}",
        out.stderr
    );
}

/// The issue's reproducer: UHI writes of 4 KiB of `x`, forever, never a
/// newline (tests/repro/nonl_flood/).
const NONL_UHI: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/repro/nonl_flood/nonl_uhi.elf"
);

/// The runner's bound on the piece of a line it holds per VM.
const LINE_MAX: usize = 4096;

#[test]
fn a_vm_that_never_ends_its_line_is_written_in_bounded_pieces() {
    let out = runner(&[
        "--mode",
        "full",
        "--vms",
        "2",
        "--kernel",
        NONL_UHI,
        "--max-instructions",
        "3000",
    ]);
    assert_eq!(out.code, Some(124), "{}", out.stderr);
    for vm in ["vm0", "vm1"] {
        let end = format!("{vm} instruction limit reached (--max-instructions 3000)");
        assert!(summary(&out).contains(&end), "{}", out.stderr);
    }
    // Every line is a prefixed piece of at most LINE_MAX bytes: the
    // runner never held more than that of a VM's line. Before the
    // bound, each VM's output came out whole at the end, as one line.
    let mut per_vm = [0usize; 2];
    let mut last = [String::new(), String::new()];
    let mut lines = 0;
    for line in out.stdout.split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        lines += 1;
        let line = String::from_utf8_lossy(line);
        let (vm, rest) = if let Some(rest) = line.strip_prefix("[vm0]") {
            (0, rest)
        } else if let Some(rest) = line.strip_prefix("[vm1]") {
            (1, rest)
        } else {
            panic!("unprefixed line: {:.40}", line);
        };
        if rest == "\\ no newline at end" {
            last[vm] = rest.to_string();
            continue;
        }
        let piece = rest
            .strip_prefix("+ ")
            .or_else(|| rest.strip_prefix(' ').filter(|_| per_vm[vm] == 0))
            .unwrap_or_else(|| panic!("vm{vm}: bad prefix: {:.40}", line));
        assert!(
            piece.len() <= LINE_MAX,
            "vm{vm}: a piece of {} bytes",
            piece.len()
        );
        assert!(piece.bytes().all(|b| b == b'x'), "vm{vm}: {:.40}", piece);
        per_vm[vm] += piece.len();
        last[vm] = String::new();
    }
    assert!(lines > 100, "{lines} lines");
    for vm in 0..2 {
        // Each VM wrote whole 4 KiB writes, one line that never ended.
        assert!(per_vm[vm] > 0, "vm{vm} printed nothing");
        assert_eq!(per_vm[vm] % 4096, 0, "vm{vm}: {} bytes", per_vm[vm]);
        assert_eq!(last[vm], "\\ no newline at end", "vm{vm}");
    }
    assert!(out.stdout.ends_with(b"[vm1]\\ no newline at end\n"));
}

#[test]
fn ctrl_c_ends_the_run_with_the_summary_and_status_130() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    use std::time::Instant;
    for (mode, vms) in [("native", "1"), ("full", "2")] {
        // Long enough (about a billion instructions) to be running still
        // when the signal comes.
        let mut args = vec!["--mode", mode, "--work", "1000", "--programs", "sieve"];
        if vms != "1" {
            args.extend(["--vms", vms]);
        }
        let mut child = Command::new(RUNNER)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The guest's first output: the run loop (and its handler) runs.
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 1];
        assert_eq!(stdout.read(&mut first).unwrap(), 1, "{mode}: no output");
        let rest = std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let mut stderr = child.stderr.take().unwrap();
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            stderr.read_to_string(&mut s).map(|_| s)
        });
        let pid = libc::pid_t::try_from(child.id()).unwrap();
        // SAFETY: `kill` has no memory-safety preconditions; `pid` is our
        // child, not yet waited for.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                child.kill().unwrap();
                panic!("{mode}: still running a minute after Ctrl-C");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        rest.join().unwrap().unwrap();
        let stderr = err.join().unwrap().unwrap();
        assert_eq!(status.code(), Some(130), "{mode}: {stderr}");
        let out = RunOutput {
            code: status.code(),
            stdout: Vec::new(),
            stderr,
        };
        let s = summary(&out);
        let stopped = if vms == "1" {
            "stopped: interrupted (Ctrl-C) at 0x"
        } else {
            "stopped: vm0 interrupted (Ctrl-C) at 0x"
        };
        assert!(s.contains(stopped), "{mode}: {s}");
        if mode == "full" {
            assert!(s.contains("; vm1 interrupted (Ctrl-C) at 0x"), "{s}");
            let row = table_row(&out.stderr, "stopped");
            assert_eq!(row, ["interrupted", "interrupted"], "{}", out.stderr);
        }
    }
}

#[test]
fn version_names_the_abi_and_the_commit() {
    let out = runner(&["--version"]);
    assert_eq!(out.code, Some(0));
    let line = out.stdout_text();
    let want = format!(
        "demo-os {} (ABI {}, commit ",
        env!("CARGO_PKG_VERSION"),
        hv_abi::ABI_VERSION
    );
    assert!(line.starts_with(&want), "{line}");
    let commit = line[want.len()..].trim_end().trim_end_matches(')');
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{line}"
    );
    // Built from a git checkout (a linked worktree too): HEAD's hash, kept
    // current by build.rs's rerun-if-changed on HEAD and its ref.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if let Some(head) = head {
        assert_eq!(commit, head, "{line}");
    }
}
