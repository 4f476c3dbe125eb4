//! The guest template (`hv-guest/examples/template-asm`) runs as its
//! README says: the paravirtualized path under `--mode para`, the
//! fallback path (its Reserved Instruction handler answering `NoMonitor`)
//! natively and under `--mode full`; and the built-in images can be
//! exported and run from the file.

use hv_tests::process::{RunOutput, run_with_limit};
use std::path::{Path, PathBuf};
use std::time::Duration;

const RUNNER: &str = env!("CARGO_BIN_EXE_demo-os");

fn runner(args: &[&str]) -> RunOutput {
    run_with_limit(Path::new(RUNNER), args, Duration::from_secs(60))
}

fn template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../hv-guest/examples/template-asm/template.elf")
}

#[test]
fn the_assembly_template_takes_the_path_its_mode_offers() {
    let elf = template();
    let elf = elf.to_str().expect("the path is UTF-8");
    for (mode, line) in [
        ("para", "hello from the template guest (paravirtualized)\n"),
        (
            "full",
            "hello from the template guest (no monitor: fallback path)\n",
        ),
        (
            "native",
            "hello from the template guest (no monitor: fallback path)\n",
        ),
    ] {
        let out = runner(&["--mode", mode, "--kernel", elf]);
        assert_eq!(out.code, Some(0), "{mode}: {}", out.stderr);
        assert_eq!(out.stdout_text(), line, "{mode}");
    }
}

#[test]
fn built_in_images_export_and_run_from_the_file() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("template");
    std::fs::create_dir_all(&dir).expect("the scratch directory can be made");
    for image in ["unmodified", "pv"] {
        let file = dir.join(format!("{image}.elf"));
        let f = file.to_str().expect("temp paths are UTF-8");
        let out = runner(&["--export-image", image, f]);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        let from_file = runner(&["--mode", "native", "--kernel", f]);
        let built_in = runner(&["--mode", "native", "--image", image]);
        assert_eq!(from_file.code, Some(0), "{}", from_file.stderr);
        assert_eq!(from_file.stdout, built_in.stdout, "{image}");
    }
    let out = runner(&["--export-image", "unmodified", "/nonexistent-dir/k.elf"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
}
