//! The guest templates of `hv-guest/examples/` run as their READMEs say,
//! with nothing but the Rust toolchain:
//!
//! - the Rust template (`template-rust`) is built here, as `demo-os/build.rs`
//!   builds the demo guest (its own workspace, `mipsel-unknown-none`,
//!   `core` from rust-src under `RUSTC_BOOTSTRAP=1`, a clean environment),
//!   and run under `--mode para` (hypercalls), `--mode full` and
//!   `--mode native` (its fallback path); if it cannot be built here (no
//!   cargo, no rust-src, dependencies out of reach) the test skips, and
//!   fails under `CI=true`;
//! - the assembly template (`template-asm/template.S`) is rebuilt with the
//!   in-tree assembler (hv-host's `asm`, feature `test-support`), so no
//!   cross toolchain is needed, and must behave exactly like the checked-in
//!   `template.elf` in every mode; its Reserved Instruction handler also
//!   stops a genuine fault cleanly.
//!
//! (`demo-os/tests/template.rs` runs the checked-in `template.elf` and
//! `--export-image`.)

use hv_abi::{HYPCALL, HvError, Hypercall};
use hv_host::machine::asm::{self, A0, A1, AT, Asm, K0, K1, RA, SP, T0, T1, T9, V0, V1, ZERO};
use hv_tests::elf_writer::ElfBuilder;
use hv_tests::process::{RunOutput, run_with_limit, write_file};
use hv_tests::skip;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const RUNNER: &str = env!("CARGO_BIN_EXE_demo-os");

/// The modes every template runs in, and whether the monitor answers
/// `Discover` there.
const MODES: [(&str, bool); 3] = [("para", true), ("full", false), ("native", false)];

/// What the Rust template prints through `ConsoleWrite` under the monitor.
const RUST_HELLO: &str = "hello from the template guest\n";
/// What the templates print through the UART without a monitor.
const FALLBACK: &str = "hello from the template guest (no monitor: fallback path)\n";
/// What the assembly template prints through `ConsoleWrite`.
const ASM_HELLO: &str = "hello from the template guest (paravirtualized)\n";
/// What the assembly template's handler prints for a genuine fault.
const ASM_UNEXPECTED: &str = "template guest: unexpected exception\n";

fn runner(args: &[&str]) -> RunOutput {
    run_with_limit(Path::new(RUNNER), args, Duration::from_secs(60))
}

fn run_kernel(mode: &str, kernel: &Path) -> RunOutput {
    let kernel = kernel.to_str().expect("temp paths are UTF-8");
    runner(&["--mode", mode, "--kernel", kernel])
}

fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    write_file(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("template_guests"),
        name,
        bytes,
    )
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../hv-guest/examples")
}

// ---------------------------------------------------------------------
// The Rust template.

/// Whether `key` is set by the outer cargo (for this test, or configuring
/// the outer build) and must not reach the template's build: the same rule
/// as `demo-os/build.rs`.
fn inherited_build_var(key: &str) -> bool {
    let keep = ["CARGO_HOME", "CARGO_NET_OFFLINE"];
    if keep.contains(&key) || key.starts_with("CARGO_HTTP_") || key.starts_with("CARGO_REGISTRIES_")
    {
        return false;
    }
    key.starts_with("CARGO")
        || key.starts_with("RUSTC_")
        || key.starts_with("DEP_")
        || matches!(
            key,
            "RUSTFLAGS"
                | "RUSTDOCFLAGS"
                | "TARGET"
                | "HOST"
                | "OUT_DIR"
                | "OPT_LEVEL"
                | "PROFILE"
                | "DEBUG"
                | "NUM_JOBS"
        )
}

/// A cargo command in `dir` with the clean environment of the guest build.
fn guest_cargo(cargo: &OsString, dir: &Path) -> Command {
    let mut command = Command::new(cargo);
    command.current_dir(dir);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if inherited_build_var(&key) {
            command.env_remove(key.as_ref());
        }
    }
    command.env("RUSTC_BOOTSTRAP", "1");
    command
}

/// Builds the Rust template as its README says, into this test's scratch
/// target directory; `None` (after [`skip`]) if this environment cannot
/// build it. A build that starts and fails is a test failure.
fn build_rust_template() -> Option<PathBuf> {
    let dir = examples().join("template-rust");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let Some(sysroot) = sysroot else {
        skip("cannot run `rustc --print sysroot` to build the Rust template");
        return None;
    };
    if !sysroot.join("lib/rustlib/src/rust/library/core").is_dir() {
        skip("the rust-src component is missing (`rustup component add rust-src`)");
        return None;
    }
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("template-rust");
    // Dependencies first: failing to fetch them is the environment's
    // fault (offline, no registry), not the template's.
    let fetched = guest_cargo(&cargo, &dir)
        .args(["fetch", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .output();
    match fetched {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            skip(&format!(
                "cannot fetch the Rust template's dependencies: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
            return None;
        }
        Err(e) => {
            skip(&format!(
                "cannot run cargo ({}): {e}",
                cargo.to_string_lossy()
            ));
            return None;
        }
    }
    let built = guest_cargo(&cargo, &dir)
        .args(["build", "--release", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .output()
        .unwrap_or_else(|e| panic!("cargo ran for `fetch` but not for `build`: {e}"));
    assert!(
        built.status.success(),
        "building the Rust template failed ({}):\n{}",
        built.status,
        String::from_utf8_lossy(&built.stderr)
    );
    let elf = target_dir.join("mipsel-unknown-none/release/template-guest");
    assert!(elf.is_file(), "the build left no {}", elf.display());
    Some(elf)
}

#[test]
fn the_rust_template_builds_and_takes_the_path_its_mode_offers() {
    let Some(elf) = build_rust_template() else {
        return;
    };
    for (mode, monitor) in MODES {
        let out = run_kernel(mode, &elf);
        assert_eq!(out.code, Some(0), "{mode}: {}", out.stderr);
        let expected = if monitor { RUST_HELLO } else { FALLBACK };
        assert_eq!(out.stdout_text(), expected, "{mode}: {}", out.stderr);
    }
    // The paravirtualized run made the three hypercalls it is about.
    let para = run_kernel("para", &elf);
    for call in ["Discover", "ConsoleWrite", "Shutdown"] {
        assert!(
            para.stderr
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("hypercall {call} "))),
            "no `hypercall {call}` row in:\n{}",
            para.stderr
        );
    }
}

// ---------------------------------------------------------------------
// The assembly template, rebuilt with the in-tree assembler.

/// Where `template.ld` links the general exception vector (Status.BEV = 0).
const VECTOR: u32 = 0x8000_0180;
/// Where it links the code: kseg0, physical 1 MiB.
const ORIGIN: u32 = 0x8010_0000;
/// The mipssim UART's transmit register.
const UART_THR: u32 = 0xbfd0_03f8;
/// UHI `exit` (in `t9`).
const UHI_EXIT: u32 = 1;
/// HYPCALL with its code field (bits 20..11) masked out.
const HYPCALL_MASK: u32 = 0xffe0_07ff;
/// Cause.ExcCode of Reserved Instruction, in place (bits 6..2).
const EXC_RI_FIELD: u32 = 10 << 2;
/// A word that is no MIPS32r2 instruction (major opcode 0x18, MIPS64's
/// DADDI): what `fault` puts before `Discover`.
const RESERVED_WORD: u32 = 0x6000_0000;

/// Appends a NUL-terminated string.
fn asciz(a: &mut Asm, text: &str) {
    let mut bytes = text.as_bytes().to_vec();
    bytes.push(0);
    a.bytes(&bytes);
}

/// Emits UHI `exit(code)` and a spin after it, as `template.S` does.
fn uhi_exit(a: &mut Asm, code: u32) {
    a.li(A0, code);
    a.li(T9, UHI_EXIT);
    a.emit(asm::sdbbp(1));
    let spin = a.here();
    a.b(spin);
    a.nop();
}

/// `template.S`, instruction for instruction where it matters, as an ELF:
/// the vector segment at 0x8000_0180 and the code and data at
/// 0x8010_0000. With `fault`, a reserved instruction word comes first, to
/// reach the handler's fatal path.
fn asm_template(fault: bool) -> Vec<u8> {
    // The code, data and stack (template.S's .text and .data).
    let mut m = Asm::new(ORIGIN);
    let start = m.named_label("_start");
    let no_monitor = m.named_label("no_monitor");
    let uart_puts = m.named_label("uart_puts");
    let hello = m.named_label("hello");
    let fallback = m.named_label("fallback");
    let unexpected = m.named_label("unexpected");
    let stack_top = m.named_label("stack_top");

    m.bind(start);
    m.la(SP, stack_top);
    m.emit(asm::mfc0(T0, 12, 0)); // Status: clear BEV (bit 22) and ERL (bit 2)
    m.li32(T1, !((1 << 22) | (1 << 2)));
    m.emit(asm::and(T0, T0, T1));
    m.emit(asm::mtc0(T0, 12, 0));
    m.emit(asm::ehb());
    if fault {
        m.emit(RESERVED_WORD);
    }

    m.li(V0, Hypercall::Discover.number()); // Discover(Version)
    m.li(A0, 0);
    m.emit(HYPCALL);
    m.bne(V0, ZERO, no_monitor);
    m.nop();

    m.li(V0, Hypercall::ConsoleWrite.number()); // ConsoleWrite(text, length)
    m.la(A0, hello);
    m.li(A1, ASM_HELLO.len() as u32);
    m.emit(HYPCALL);
    m.li(V0, Hypercall::Shutdown.number()); // Shutdown(0)
    m.li(A0, 0);
    m.emit(HYPCALL);
    let spin = m.here();
    m.b(spin);
    m.nop();

    m.bind(no_monitor);
    m.la(A0, fallback);
    m.jal(uart_puts);
    m.nop();
    uhi_exit(&mut m, 0);

    // Prints the NUL-terminated string at a0 on the UART.
    m.bind(uart_puts);
    m.li32(T1, UART_THR);
    let next = m.here();
    let done = m.new_label();
    m.emit(asm::lbu(T0, 0, A0));
    m.beq(T0, ZERO, done);
    m.nop();
    m.emit(asm::sb(T0, 0, T1));
    m.b(next);
    m.emit(asm::addiu(A0, A0, 1)); // delay slot
    m.bind(done);
    m.emit(asm::jr(RA));
    m.nop();

    m.bind(hello);
    m.bytes(ASM_HELLO.as_bytes());
    m.bind(fallback);
    asciz(&mut m, FALLBACK);
    m.bind(unexpected);
    asciz(&mut m, ASM_UNEXPECTED);
    m.bytes(&[0; 4096]);
    m.bind(stack_top);

    let puts_at = m.label_addr(uart_puts).expect("uart_puts is bound");
    let unexpected_at = m.label_addr(unexpected).expect("unexpected is bound");
    let symbols = m.symbols();
    let code = m.finish().expect("the template's code assembles");

    // The general exception vector (template.S's .vectors).
    let mut v = Asm::new(VECTOR);
    let vector = v.named_label("general_exception");
    let fatal = v.named_label("fatal");
    v.bind(vector);
    v.emit(asm::mfc0(K0, 13, 0)); // Cause.ExcCode
    v.emit(asm::andi(K0, K0, 0x7c));
    v.li(K1, EXC_RI_FIELD);
    v.bne(K0, K1, fatal);
    v.nop();
    v.emit(asm::mfc0(K0, 13, 0));
    v.bltz(K0, fatal); // Cause.BD: a HYPCALL in a delay slot is not resumed
    v.nop();
    v.emit(asm::mfc0(K0, 14, 0)); // EPC
    v.emit(asm::lw(K1, 0, K0));
    v.li32(AT, HYPCALL_MASK);
    v.emit(asm::and(K1, K1, AT));
    v.li32(AT, HYPCALL);
    v.bne(K1, AT, fatal);
    v.nop();
    v.li(V0, HvError::NoMonitor.code()); // v0: no monitor here
    v.li(V1, 0);
    v.emit(asm::addiu(K0, K0, 4));
    v.emit(asm::mtc0(K0, 14, 0));
    v.emit(asm::ehb());
    v.emit(asm::eret());
    v.bind(fatal);
    v.li32(A0, unexpected_at);
    v.li32(T0, puts_at);
    v.emit(asm::jalr(RA, T0));
    v.nop();
    uhi_exit(&mut v, 3);
    let vector_symbols = v.symbols();
    let vectors = v.finish().expect("the template's vector assembles");

    let mut elf = ElfBuilder::new(ORIGIN)
        .code(VECTOR, &vectors)
        .code(ORIGIN, &code);
    for (name, addr) in symbols.iter().chain(&vector_symbols) {
        elf = elf.symbol(name, *addr, 0, true);
    }
    elf.build()
}

#[test]
fn the_assembled_template_behaves_like_template_elf_in_every_mode() {
    let built = scratch("template-asm.elf", &asm_template(false));
    let checked_in = examples().join("template-asm/template.elf");
    for (mode, monitor) in MODES {
        let ours = run_kernel(mode, &built);
        assert_eq!(ours.code, Some(0), "{mode}: {}", ours.stderr);
        let expected = if monitor { ASM_HELLO } else { FALLBACK };
        assert_eq!(ours.stdout_text(), expected, "{mode}");
        let theirs = run_kernel(mode, &checked_in);
        assert_eq!(
            (ours.code, ours.stdout_text()),
            (theirs.code, theirs.stdout_text()),
            "{mode}: the assembled program and template.elf differ"
        );
    }
}

#[test]
fn the_template_handler_stops_a_genuine_fault() {
    let built = scratch("template-asm-fault.elf", &asm_template(true));
    for (mode, _) in MODES {
        let out = run_kernel(mode, &built);
        assert_eq!(out.code, Some(3), "{mode}: {}", out.stderr);
        assert_eq!(out.stdout_text(), ASM_UNEXPECTED, "{mode}");
    }
}
