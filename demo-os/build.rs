//! Builds the guest images: runs `cargo build --release` in the separate
//! guest workspace (`guest/`, target `mipsel-unknown-none`, `core` built
//! from rust-src under `RUSTC_BOOTSTRAP=1`) and copies the results into
//! `OUT_DIR`, where `src/lib.rs` embeds them.
//!
//! Order: the five user programs first, then the kernel (which embeds
//! them) twice, without and with feature `pv`. The guest build has its own
//! target directory (`guest/target`) and a clean environment: the
//! variables the outer cargo sets for build scripts (`CARGO_*`, `RUSTFLAGS`,
//! wrappers such as clippy's) would otherwise leak into it.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, exit};

/// The guest target triple.
const TARGET: &str = "mipsel-unknown-none";

/// The user programs (package and binary names).
const USER_PROGRAMS: [&str; 5] = ["sieve", "memory", "sleeper", "chatty", "pages"];

/// Guest sources whose change must rebuild the images (relative to the
/// package). The guest target directory is deliberately not among them,
/// nor `hv-guest/examples` (the templates, with their own build output).
const WATCHED: [&str; 10] = [
    "guest/Cargo.toml",
    "guest/Cargo.lock",
    "guest/.cargo/config.toml",
    "guest/kernel",
    "guest/sys",
    "guest/user",
    "../hv-abi",
    "../hv-guest/src",
    "../hv-guest/Cargo.toml",
    "../Cargo.toml",
];

/// Stops the build with a one-line message.
fn fail(message: &str) -> ! {
    eprintln!("error: demo-os guest build: {message}");
    exit(1);
}

/// Sets `HV_GIT_COMMIT` (for `--version`) to the short hash of the
/// checkout's HEAD, or `unknown` without git or a repository: the build
/// never fails for it.
///
/// The build script reruns when HEAD moves: it watches the files git
/// changes then (HEAD, its reflog, the branch's ref, `packed-refs`),
/// those that exist, wherever git keeps them (in `.git/`, or for a linked
/// worktree, where `.git` is a file, in the main repository's `.git/`).
fn git_commit(manifest: &Path) {
    let root = manifest.parent().unwrap_or(manifest);
    for watched in git_files(root) {
        println!("cargo:rerun-if-changed={}", watched.display());
    }
    let commit = git(root, &["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=HV_GIT_COMMIT={commit}");
}

/// The output of `git ARGS` in `dir`, trimmed; `None` if git is missing,
/// fails or prints nothing.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// The existing files whose change moves HEAD in the checkout at `root`.
fn git_files(root: &Path) -> Vec<PathBuf> {
    let mut names = vec!["HEAD".to_owned(), "logs/HEAD".to_owned()];
    if let Some(branch) = git(root, &["symbolic-ref", "-q", "HEAD"]) {
        names.push(branch);
    }
    names.push("packed-refs".into());
    let mut files: Vec<PathBuf> = names
        .iter()
        .filter_map(|name| git(root, &["rev-parse", "--git-path", name]))
        .map(|path| root.join(path))
        .collect();
    if files.is_empty() {
        // No git to ask: a plain repository's HEAD, if there is one.
        files.push(root.join(".git").join("HEAD"));
    }
    files.retain(|f| f.is_file());
    files
}

fn main() {
    let manifest =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let guest = manifest.join("guest");
    for path in WATCHED {
        println!("cargo:rerun-if-changed={}", manifest.join(path).display());
    }
    git_commit(&manifest);

    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    ensure_rust_src(&rustc);

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = guest.join("target");
    let release = target_dir.join(TARGET).join("release");

    let mut users = vec!["build", "--release"];
    for program in USER_PROGRAMS {
        users.extend(["-p", program]);
    }
    run(&cargo, &rustc, &guest, &target_dir, &release, &users);
    for program in USER_PROGRAMS {
        copy(
            &release.join(program),
            &out.join(format!("user-{program}.elf")),
        );
    }

    let kernel = release.join("demo-kernel");
    run(
        &cargo,
        &rustc,
        &guest,
        &target_dir,
        &release,
        &["build", "--release", "-p", "demo-kernel"],
    );
    copy(&kernel, &out.join("kernel-unmodified.elf"));
    run(
        &cargo,
        &rustc,
        &guest,
        &target_dir,
        &release,
        &[
            "build",
            "--release",
            "-p",
            "demo-kernel",
            "--features",
            "pv",
        ],
    );
    copy(&kernel, &out.join("kernel-pv.elf"));
}

/// Makes sure rust-src is installed (build-std needs it): adds it with
/// rustup if it is missing, or stops with how to fix it.
fn ensure_rust_src(rustc: &OsString) {
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .unwrap_or_else(|| fail("cannot run `rustc --print sysroot`"));
    let core = sysroot.join("lib/rustlib/src/rust/library/core");
    if core.is_dir() {
        return;
    }
    println!("cargo:warning=rust-src is missing; running `rustup component add rust-src`");
    let added = Command::new("rustup")
        .args(["component", "add", "rust-src"])
        .status()
        .is_ok_and(|s| s.success());
    if !added || !core.is_dir() {
        fail("the rust-src component is missing; install it with `rustup component add rust-src`");
    }
}

/// Runs the guest cargo with `args` in a clean environment.
fn run(
    cargo: &OsString,
    rustc: &OsString,
    guest: &Path,
    target_dir: &Path,
    release: &Path,
    args: &[&str],
) {
    let mut command = Command::new(cargo);
    command
        .args(args)
        .arg("--manifest-path")
        .arg(guest.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        // The guest's .cargo/config.toml is found from the working directory.
        .current_dir(guest);
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        if inherited_build_var(&key) {
            command.env_remove(key.as_ref());
        }
    }
    command
        .env("RUSTC", rustc)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("DEMO_USER_DIR", release);
    let status = command
        .status()
        .unwrap_or_else(|e| fail(&format!("cannot run cargo: {e}")));
    if !status.success() {
        fail(&format!(
            "`cargo {}` in {} failed ({status})",
            args.join(" "),
            guest.display()
        ));
    }
}

/// Tells whether `key` is set by the outer build for build scripts (or
/// configures the outer build) and must not reach the guest build.
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

/// Copies a built image into `OUT_DIR`.
fn copy(from: &Path, to: &Path) {
    if let Err(e) = fs::copy(from, to) {
        fail(&format!(
            "cannot copy {} to {}: {e}",
            from.display(),
            to.display()
        ));
    }
}
