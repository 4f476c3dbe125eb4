#!/usr/bin/env python3
"""Writes a directory tree as a cpio archive in the "newc" format to stdout.

Usage: newc.py ROOT [PATH:c|b:MAJOR:MINOR:MODE ...]

Every entry is owned by root (uid/gid 0) and dated 0, so the archive depends
only on the tree's contents. Extra arguments add device nodes that need no
mknod (and so no root) on the building host, e.g. dev/console:c:5:1:0600.
"""

import os
import stat
import sys


def header(ino, mode, nlink, size, rdevmajor, rdevminor, name):
    fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdevmajor, rdevminor,
              len(name) + 1, 0]
    return ("070701" + "".join("%08x" % f for f in fields)).encode()


def pad(n):
    return b"\0" * ((4 - n % 4) % 4)


def entry(out, ino, mode, nlink, data, name, rdev=(0, 0)):
    hdr = header(ino, mode, nlink, len(data), rdev[0], rdev[1], name)
    nm = name.encode() + b"\0"
    out.write(hdr + nm + pad(len(hdr) + len(nm)))
    out.write(data + pad(len(data)))


def main():
    root = sys.argv[1]
    out = sys.stdout.buffer
    ino = 1
    names = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for n in sorted(dirnames + filenames):
            full = os.path.join(dirpath, n)
            names.append(os.path.relpath(full, root))
    for rel in sorted(names):
        full = os.path.join(root, rel)
        st = os.lstat(full)
        perm = stat.S_IMODE(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            entry(out, ino, stat.S_IFDIR | perm, 2, b"", rel)
        elif stat.S_ISLNK(st.st_mode):
            entry(out, ino, stat.S_IFLNK | 0o777, 1, os.readlink(full).encode(), rel)
        elif stat.S_ISREG(st.st_mode):
            with open(full, "rb") as f:
                entry(out, ino, stat.S_IFREG | perm, 1, f.read(), rel)
        else:
            sys.exit("newc.py: unsupported file type: " + full)
        ino += 1
    for spec in sys.argv[2:]:
        path, kind, major, minor, mode = spec.split(":")
        fmt = stat.S_IFCHR if kind == "c" else stat.S_IFBLK
        entry(out, ino, fmt | int(mode, 8), 1, b"", path, (int(major), int(minor)))
        ino += 1
    entry(out, 0, 0, 1, b"", "TRAILER!!!")


if __name__ == "__main__":
    main()
