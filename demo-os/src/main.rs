//! The runner: boots a MIPS32 little-endian ELF on the emulated machine.

fn main() {
    eprintln!("demo-os: runner not built yet");
    std::process::exit(2);
}
