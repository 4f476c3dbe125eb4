//! Debian's Linux for the Malta board, for the boot tests: runs
//! `tests/linux/fetch.sh` (once per test binary; it caches under
//! `target/linux`) and says where the kernel and initramfs are, or that
//! the download is impossible.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_owned()
}

/// The directory holding `vmlinuz` and `initrd.gz`, or `None` after
/// [`crate::skip`] when `fetch.sh` cannot download them (exit 77): a
/// `SKIPPED:` line, or under CI a panic. Panics if the script fails
/// otherwise.
pub fn fetch() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    let dir = DIR.get_or_init(fetch_once).clone();
    if dir.is_none() {
        crate::skip("tests/linux/fetch.sh cannot download Debian's kernel (exit 77)");
    }
    dir
}

fn fetch_once() -> Option<PathBuf> {
    let root = workspace();
    let out = root.join("target/linux");
    let status = Command::new("bash")
        .arg(root.join("tests/linux/fetch.sh"))
        .arg(&out)
        .status()
        .expect("bash runs");
    match status.code() {
        Some(0) => Some(out),
        Some(77) => None,
        other => panic!("tests/linux/fetch.sh failed: {other:?}"),
    }
}

/// The console lines that are not timing-dependent (the demo OS marks
/// those with `stat `), sorted: concurrent programs interleave
/// differently when time runs differently.
pub fn timing_free_lines(out: &[u8]) -> Vec<String> {
    let mut lines: Vec<String> = String::from_utf8_lossy(out)
        .lines()
        .filter(|l| !l.starts_with("stat "))
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// The runner's flags that boot Debian's Linux from `dir` (what [`fetch`]
/// returned) on the Malta board with `mem` MiB of RAM and the kernel
/// command line `append`.
pub fn malta_args(dir: &Path, mem: u32, append: &str) -> Vec<String> {
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    vec![
        "--board".into(),
        "malta".into(),
        "--mem".into(),
        mem.to_string(),
        "--kernel".into(),
        path("vmlinuz"),
        "--initrd".into(),
        path("initrd.gz"),
        "--append".into(),
        append.into(),
    ]
}
