//! `--vm SPEC`: one VM of a run under the monitor described on its own,
//! so that different operating systems share the CPU:
//!
//! ```text
//! --vm board=malta,mem=128,kernel=vmlinuz,initrd=initrd.gz,append="console=ttyS0 rdinit=/init"
//! --vm image=pv,programs=sieve,memory --vm image=unmodified,programs=sleeper
//! ```
//!
//! A spec is `key=value` pairs separated by commas. Keys: `board`
//! (`mipssim`, the default, or `malta`), `mem` (MiB, default `--mem`),
//! `kernel` (a file) or `image` (`unmodified` or `pv`; default: `pv` under
//! `--mode para`, else `unmodified`), `initrd` and `append` (Malta),
//! `programs` (the demo's program list). A comma followed by something
//! that does not start with a known key continues the value before it,
//! so `programs=sieve,memory` and `append=console=ttyS0,115200` read as
//! meant.

use super::cli::{BoardKind, Image};
use demo_os::BootArgs;
use std::path::PathBuf;

/// One VM as `--vm` (or the legacy flags) describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmSpec {
    /// Its board.
    pub board: BoardKind,
    /// RAM in MiB.
    pub mem: u32,
    /// A kernel file, else the built-in `image`.
    pub kernel: Option<PathBuf>,
    /// The built-in image when there is no kernel file.
    pub image: Image,
    /// Malta: the initrd.
    pub initrd: Option<PathBuf>,
    /// Malta: the kernel command line.
    pub append: String,
    /// The demo's boot arguments.
    pub args: BootArgs,
}

const KEYS: [&str; 7] = [
    "board", "mem", "kernel", "image", "initrd", "append", "programs",
];

/// Parses one `--vm` spec; `mem` and `image` are the defaults, `work` the
/// demo's work scale.
pub fn parse(spec: &str, mem: u32, image: Image, work: u32) -> Result<VmSpec, String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for piece in spec.split(',') {
        match piece.split_once('=') {
            Some((k, v)) if KEYS.contains(&k) => {
                if pairs.iter().any(|(seen, _)| seen == k) {
                    return Err(format!("--vm {spec}: `{k}` is given twice"));
                }
                pairs.push((k.to_owned(), v.to_owned()));
            }
            _ => match pairs.last_mut() {
                Some((_, v)) => {
                    v.push(',');
                    v.push_str(piece);
                }
                None => {
                    return Err(format!(
                        "--vm {spec}: `{piece}` is not key=value (keys: {})",
                        KEYS.join(", ")
                    ));
                }
            },
        }
    }
    let mut vm = VmSpec {
        board: BoardKind::Mipssim,
        mem,
        kernel: None,
        image,
        initrd: None,
        append: String::new(),
        args: BootArgs { work, programs: 0 },
    };
    for (k, v) in pairs {
        let bad = |why: &str| format!("--vm {spec}: {k}={v}: {why}");
        match k.as_str() {
            "board" => {
                vm.board = match v.as_str() {
                    "mipssim" => BoardKind::Mipssim,
                    "malta" => BoardKind::Malta,
                    _ => return Err(bad("the boards are mipssim and malta")),
                }
            }
            "mem" => {
                vm.mem = v
                    .parse()
                    .ok()
                    .filter(|m| (1..=super::cli::MAX_MEM_MIB).contains(m))
                    .ok_or_else(|| bad("RAM is 1 to 256 MiB"))?;
            }
            "kernel" => vm.kernel = Some(PathBuf::from(v)),
            "image" => {
                vm.image = match v.as_str() {
                    "unmodified" => Image::Unmodified,
                    "pv" => Image::Pv,
                    _ => return Err(bad("the built-in images are unmodified and pv")),
                }
            }
            "initrd" => vm.initrd = Some(PathBuf::from(v)),
            "append" => vm.append = v,
            "programs" => {
                vm.args.programs = demo_os::program_mask(&v).map_err(|e| bad(&e.to_string()))?;
            }
            _ => unreachable!("only known keys are kept"),
        }
    }
    if vm.kernel.is_some() && spec.split(',').any(|p| p.starts_with("image=")) {
        return Err(format!("--vm {spec}: give kernel or image, not both"));
    }
    if vm.board == BoardKind::Malta && vm.kernel.is_none() {
        return Err(format!(
            "--vm {spec}: a malta VM boots a Linux kernel: name it with kernel=FILE \
             (the built-in demo images are for the mipssim board)"
        ));
    }
    if vm.board == BoardKind::Mipssim && (vm.initrd.is_some() || !vm.append.is_empty()) {
        return Err(format!("--vm {spec}: initrd and append need board=malta"));
    }
    Ok(vm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_example_parses() {
        let linux = parse(
            "board=malta,mem=256,kernel=k,initrd=i.gz,append=console=ttyS0 rdinit=/init",
            64,
            Image::Unmodified,
            1,
        )
        .unwrap();
        assert_eq!(linux.board, BoardKind::Malta);
        assert_eq!(linux.mem, 256);
        assert_eq!(linux.kernel, Some(PathBuf::from("k")));
        assert_eq!(linux.append, "console=ttyS0 rdinit=/init");
        let pv = parse("image=pv,programs=sieve,memory", 64, Image::Unmodified, 3).unwrap();
        assert_eq!(pv.image, Image::Pv);
        assert_eq!(pv.args.work, 3);
        assert_eq!(
            pv.args.programs,
            demo_os::program_mask("sieve,memory").unwrap()
        );
        let commas = parse(
            "board=malta,kernel=k,append=console=ttyS0,115200",
            64,
            Image::Pv,
            1,
        )
        .unwrap();
        assert_eq!(commas.append, "console=ttyS0,115200");
    }

    #[test]
    fn mistakes_are_named() {
        for (spec, says) in [
            ("sieve", "not key=value"),
            ("mem=0", "RAM is 1 to 256 MiB"),
            ("board=pc", "the boards are"),
            ("image=x", "built-in images"),
            ("board=malta", "kernel=FILE"),
            ("append=x", "need board=malta"),
            ("mem=8,mem=9", "given twice"),
            ("kernel=k,image=pv", "not both"),
            ("programs=nope", "programs=nope"),
        ] {
            let e = parse(spec, 64, Image::Unmodified, 1).unwrap_err();
            assert!(e.contains(says), "{spec}: {e}");
        }
    }
}
