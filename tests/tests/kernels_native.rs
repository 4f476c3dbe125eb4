//! The privileged-architecture test kernels ([`hv_tests::kernels`]) run
//! natively on the bare machine: each one's console output and exit code
//! are snapshotted, and each must give its own verdict `ok` (exit code 0),
//! meaning every value it printed is the one MIPS32 Release 2 Volume III
//! prescribes. The snapshots were reviewed by hand against the manual.

use hv_tests::kernels::{self, MAX_TICKS, RAM_BYTES};

/// Runs the kernel `name` natively; returns its output and exit code.
fn run(name: &str) -> (String, Option<i32>) {
    let (_, program) = kernels::all()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no kernel named {name}"));
    let (out, code) = kernels::run_native(&program.elf(), RAM_BYTES, MAX_TICKS);
    (
        String::from_utf8(out).expect("kernel output is UTF-8"),
        code,
    )
}

/// Snapshots a kernel's output and exit code, then requires its verdict
/// to be `ok`.
fn check(name: &str) {
    let (out, code) = run(name);
    insta::assert_snapshot!(name, format!("{out}exit code: {code:?}\n"));
    assert_eq!(code, Some(0), "kernel {name} reported failures:\n{out}");
    assert!(out.ends_with("verdict: ok\n"), "{out}");
}

#[test]
fn cp0_regs() {
    check("cp0_regs");
}

#[test]
fn exceptions() {
    check("exceptions");
}

#[test]
fn user_mode() {
    check("user_mode");
}

#[test]
fn tlb() {
    check("tlb");
}

#[test]
fn timer() {
    check("timer");
}

#[test]
fn timer_dc() {
    // The architectural output, written by hand (QEMU's agrees).
    let (out, code) = run("timer_dc");
    assert_eq!(
        out,
        "kernel timer_dc\n\
         cause.dc: read=08000000 count frozen: yes runs again: yes\n\
         summary: failures=00000000\n\
         verdict: ok\n"
    );
    assert_eq!(code, Some(0));
}

#[test]
fn interrupts() {
    check("interrupts");
}

#[test]
fn llsc() {
    check("llsc");
}

#[test]
fn console_uart() {
    check("console_uart");
}

#[test]
fn console_uhi() {
    check("console_uhi");
}

#[test]
fn every_kernel_is_tested_here() {
    let names: Vec<&str> = kernels::all().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "cp0_regs",
            "exceptions",
            "user_mode",
            "tlb",
            "timer",
            "timer_dc",
            "interrupts",
            "llsc",
            "console_uart",
            "console_uhi",
        ]
    );
}

#[test]
fn native_runs_are_deterministic() {
    for (name, program) in kernels::all() {
        let elf = program.elf();
        let first = kernels::run_native(&elf, RAM_BYTES, MAX_TICKS);
        let second = kernels::run_native(&elf, RAM_BYTES, MAX_TICKS);
        assert_eq!(first, second, "kernel {name}");
    }
}

#[test]
fn run_native_rejects_bad_input() {
    assert_eq!(
        kernels::run_native(b"not an elf", RAM_BYTES, MAX_TICKS),
        (Vec::new(), None)
    );
    let (_, program) = &kernels::all()[0];
    assert_eq!(
        kernels::run_native(&program.elf(), 12345, MAX_TICKS),
        (Vec::new(), None)
    );
}
