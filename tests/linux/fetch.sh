#!/usr/bin/env bash
# Fetches the pieces for booting Debian's stock Malta kernel on the emulated
# machine (and, for reference, on QEMU's `malta` board):
#
#   vmlinuz      the kernel of the newest linux-image-6.1.0-*-4kc-malta of
#                Debian bookworm. Debian ships /boot/vmlinuz-*: a MIPS32r2 LE
#                ELF (entry and load address in kseg0) that decompresses the
#                XZ-packed kernel proper to 0x80100000 and jumps to it; both
#                QEMU's -kernel and an ELF loader boot it as is.
#   initrd.gz    a newc cpio (gzip) holding busybox-static with a /bin link
#                for every applet (so `rdinit=/bin/sh` gives a usable shell),
#                /dev/console, and an /init that mounts /proc, prints
#                HV-LINUX-BOOT-OK, /proc/cpuinfo and `uname -a`, then powers
#                off
#
# Usage: tests/linux/fetch.sh [OUTDIR]        (default: target/linux)
#
# apt runs with a private sources list, lists, cache and state under
# OUTDIR/apt, so the host's apt configuration and state are not touched and
# no root is needed. Downloaded packages are kept in OUTDIR/debs; a second
# run with the files present downloads nothing.
#
# Exit codes: 0 success (prints the paths), 77 download impossible (no apt,
# no network, package missing), 1 any other failure.
set -euo pipefail

SKIP=77
OUT=${1:-target/linux}
MIRROR=${HV_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

skip() {
    echo "fetch.sh: cannot download: $*" >&2
    exit "$SKIP"
}

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
APTDIR=$OUT/apt
DEBS=$OUT/debs
ROOT=$OUT/initramfs
mkdir -p "$DEBS"

apt_private() {
    local cmd=$1
    shift
    "$cmd" \
        -o APT::Architecture=mipsel \
        -o APT::Architectures=mipsel \
        -o Dir::Etc::SourceList="$APTDIR/sources.list" \
        -o Dir::Etc::SourceParts="$APTDIR/sources.list.d" \
        -o Dir::Etc::Preferences="$APTDIR/preferences" \
        -o Dir::Etc::PreferencesParts="$APTDIR/preferences.d" \
        -o Dir::State="$APTDIR/state" \
        -o Dir::State::Lists="$APTDIR/state/lists" \
        -o Dir::State::status="$APTDIR/state/status" \
        -o Dir::Cache="$APTDIR/cache" \
        -o Debug::NoLocking=1 \
        -o Acquire::Languages=none \
        -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false \
        -o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false \
        -o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false \
        -o APT::Sandbox::User="$(id -un)" \
        "$@"
}

have_debs() {
    compgen -G "$DEBS/linux-image-6.1.0-*-4kc-malta_*_mipsel.deb" >/dev/null &&
        compgen -G "$DEBS/busybox-static_*_mipsel.deb" >/dev/null
}

if ! have_debs; then
    command -v apt-get >/dev/null || skip "apt-get not installed"
    command -v apt-cache >/dev/null || skip "apt-cache not installed"
    mkdir -p "$APTDIR"/{sources.list.d,preferences.d,state/lists/partial,cache/archives/partial}
    : >"$APTDIR/state/status"
    : >"$APTDIR/preferences"
    signed=""
    [[ -r $KEYRING ]] && signed=" signed-by=$KEYRING"
    echo "deb [arch=mipsel$signed] $MIRROR $SUITE main" >"$APTDIR/sources.list"

    echo "fetch.sh: updating private package lists for $SUITE/mipsel" >&2
    apt_private apt-get -q update >&2 || skip "apt-get update failed (network?)"

    kernel=$(apt_private apt-cache pkgnames linux-image-6.1.0- |
        grep -E '^linux-image-6\.1\.0-[0-9]+-4kc-malta$' | sort -V | tail -n1 || true)
    [[ -n $kernel ]] || skip "no linux-image-6.1.0-*-4kc-malta in $SUITE/mipsel"
    echo "fetch.sh: downloading $kernel and busybox-static" >&2
    (cd "$DEBS" && apt_private apt-get -q download "$kernel:mipsel" "busybox-static:mipsel" >&2) ||
        skip "apt-get download failed"
fi

kdeb=$(compgen -G "$DEBS/linux-image-6.1.0-*-4kc-malta_*_mipsel.deb" | sort -V | tail -n1)
bdeb=$(compgen -G "$DEBS/busybox-static_*_mipsel.deb" | sort -V | tail -n1)

# The kernel: /boot/vmlinu[xz]-<version> from the package.
if [[ ! -s $OUT/vmlinuz ]]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    dpkg-deb -x "$kdeb" "$tmp"
    src=$(compgen -G "$tmp/boot/vmlinu[xz]-*" | head -n1) || true
    [[ -n ${src:-} ]] || { echo "fetch.sh: no /boot/vmlinu[xz]-* in $kdeb" >&2; exit 1; }
    cp "$src" "$OUT/vmlinuz.tmp"
    mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
    rm -rf "$tmp"
    trap - EXIT
fi

# The initramfs. INITRD_LAYOUT changes whenever its contents do, so that a
# cached initrd.gz of an older layout is rebuilt.
INITRD_LAYOUT=2
if [[ ! -s $OUT/initrd.gz || $(cat "$OUT/initrd.layout" 2>/dev/null) != "$INITRD_LAYOUT" ]]; then
    rm -rf "$ROOT"
    mkdir -p "$ROOT"/{bin,sbin,proc,sys,dev,etc,tmp,root}
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    dpkg-deb -x "$bdeb" "$tmp"
    cp "$tmp/bin/busybox" "$ROOT/bin/busybox"
    rm -rf "$tmp"
    trap - EXIT
    # A link in /bin for every applet: with `rdinit=/bin/sh` no `busybox
    # --install` runs, and Debian's ash does not run applets by itself. The
    # names are busybox's applet name table (NUL-separated, sorted, from
    # "[" and "[[" to an empty string); busybox cannot run on this host.
    applets=$(python3 - "$ROOT/bin/busybox" 2>/dev/null <<'PY' || true
import sys
d = open(sys.argv[1], "rb").read()
i = d.find(b"[\0[[\0")
names = []
while i >= 0:
    j = d.index(b"\0", i)
    if j == i:
        break
    names.append(d[i:j].decode())
    i = j + 1
print("\n".join(n for n in names if n.isprintable() and "/" not in n))
PY
)
    [[ -n $applets ]] || applets="sh cat echo ls mount umount uname poweroff reboot dmesg ps"
    for a in $applets; do
        [[ $a == busybox || -e $ROOT/bin/$a ]] || ln -sfn busybox "$ROOT/bin/$a"
    done
    [[ -e $ROOT/bin/sh ]] || ln -sfn busybox "$ROOT/bin/sh"
    cat >"$ROOT/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo HV-LINUX-BOOT-OK
cat /proc/cpuinfo
uname -a
poweroff -f
INIT
    chmod 0755 "$ROOT/init"
    # newc needs no root when written by the Python writer below, which can
    # also record /dev/console as a character device node (mknod would need
    # root). Without python3, GNU cpio packs the tree and the kernel's own
    # built-in initramfs supplies /dev/console.
    if command -v python3 >/dev/null; then
        python3 "$(dirname "$0")/newc.py" "$ROOT" "dev/console:c:5:1:0600" |
            gzip -9n >"$OUT/initrd.gz.tmp"
    elif command -v cpio >/dev/null; then
        (cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort |
            cpio -o -H newc -R 0:0 --quiet) | gzip -9n >"$OUT/initrd.gz.tmp"
    else
        echo "fetch.sh: need python3 or cpio to build the initramfs" >&2
        exit 1
    fi
    mv "$OUT/initrd.gz.tmp" "$OUT/initrd.gz"
    echo "$INITRD_LAYOUT" >"$OUT/initrd.layout"
fi

echo "kernel package:  $(basename "$kdeb")"
echo "busybox package: $(basename "$bdeb")"
echo "$OUT/vmlinuz"
echo "$OUT/initrd.gz"
