//! Links the kernel at 0x8000_1000 with `kernel.ld` and tells the kernel
//! where the user programs' ELF images are (`DEMO_USER_DIR`, embedded with
//! `include_bytes!`).
//!
//! `DEMO_USER_DIR` defaults to this workspace's release output directory,
//! so after `cargo build --release -p sieve -p memory -p sleeper -p chatty
//! -p pages` a plain `cargo build --release -p demo-kernel` finds them.

use std::env;
use std::path::{Path, PathBuf};

/// The user programs the kernel embeds, in start order.
const PROGRAMS: [&str; 5] = ["sieve", "memory", "sleeper", "chatty", "pages"];

fn main() {
    let manifest =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let script = manifest.join("kernel.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rustc-link-arg-bins=-T{}", script.display());
    println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");

    println!("cargo:rerun-if-env-changed=DEMO_USER_DIR");
    let dir = match env::var_os("DEMO_USER_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => manifest.join("../target/mipsel-unknown-none/release"),
    };
    for program in PROGRAMS {
        let path = dir.join(program);
        if !Path::new(&path).is_file() {
            panic!(
                "user program `{}` not found: build the user programs first \
                 (cargo build --release -p sieve -p memory -p sleeper -p chatty -p pages) \
                 or set DEMO_USER_DIR",
                path.display()
            );
        }
        println!("cargo:rerun-if-changed={}", path.display());
    }
    println!("cargo:rustc-env=DEMO_USER_DIR={}", dir.display());
}
