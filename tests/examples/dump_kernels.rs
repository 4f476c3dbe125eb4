//! Writes every test kernel's ELF to a directory and prints its native
//! output, for cross-checking against QEMU by hand.

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/kern".to_owned());
    std::fs::create_dir_all(&dir).expect("create the output directory");
    for (name, p) in hv_tests::kernels::all() {
        let elf = p.elf();
        std::fs::write(format!("{dir}/{name}.elf"), &elf).expect("write the ELF");
        let (out, code) = hv_tests::kernels::run_native(
            &elf,
            hv_tests::kernels::RAM_BYTES,
            hv_tests::kernels::MAX_TICKS,
        );
        println!("=== {name}: exit {code:?}");
        print!("{}", String::from_utf8_lossy(&out));
    }
}
