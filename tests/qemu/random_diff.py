#!/usr/bin/env python3
"""Differential test of the machine against QEMU (optional, local only).

Generates random MIPS32r2 integer programs (ALU, shifts, multiply/divide,
bit fields, all load/store widths including LWL/LWR/SWL/SWR), assembles
them with GNU binutils, runs each under `qemu-system-mipsel -M mipssim
-semihosting` and under `demo-os --mode native`, and compares the register
and memory dumps the programs print on the UART.

Needs the Debian packages qemu-system-mips and binutils-mipsel-linux-gnu;
the README's commands do not. Usage:

    cargo build -p demo-os
    python3 tests/qemu/random_diff.py --seeds 1 100

Exit status 0 when every program prints the same under both.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile

REGS = ['t0', 't1', 't2', 't3', 't4', 't5', 't6', 't7', 's0', 's1', 's2', 's3',
        's4', 's5', 's6', 'a0', 'a1', 'a2', 'a3', 'v0', 'v1', 't8']


def program(seed, length):
    rnd = random.Random(seed)

    def r():
        return '$' + rnd.choice(REGS)

    def d():
        return '$zero' if rnd.random() < 0.03 else r()

    out = [f"    li ${x}, {rnd.getrandbits(32):#x}" for x in REGS]
    for _ in range(length):
        k = rnd.randrange(40)
        if k < 12:
            op = rnd.choice(['addu', 'subu', 'and', 'or', 'xor', 'nor', 'slt', 'sltu', 'sllv',
                             'srlv', 'srav', 'rotrv', 'mul', 'movn', 'movz'])
            out.append(f"    {op} {d()}, {r()}, {r()}")
        elif k < 17:
            op = rnd.choice(['sll', 'srl', 'sra', 'rotr'])
            out.append(f"    {op} {d()}, {r()}, {rnd.randrange(32)}")
        elif k < 22:
            op = rnd.choice(['addiu', 'slti', 'sltiu'])
            out.append(f"    {op} {d()}, {r()}, {rnd.randrange(-32768, 32768)}")
        elif k < 25:
            op = rnd.choice(['andi', 'ori', 'xori'])
            out.append(f"    {op} {d()}, {r()}, {rnd.randrange(65536)}")
        elif k < 26:
            out.append(f"    lui {d()}, {rnd.randrange(65536)}")
        elif k < 29:
            op = rnd.choice(['mult', 'multu', 'madd', 'maddu', 'msub', 'msubu'])
            out.append(f"    {op} {r()}, {r()}")
            out.append(f"    mf{rnd.choice(['hi', 'lo'])} {d()}")
        elif k < 30:
            # Divisors are made odd: division by zero is UNPREDICTABLE.
            a, b = r(), r()
            out.append(f"    ori $k1, {b}, 1")
            out.append(f"    {rnd.choice(['div', 'divu'])} $zero, {a}, $k1")
            out.append(f"    mfhi {d()}")
            out.append(f"    mflo {d()}")
        elif k < 32:
            op = rnd.choice(['clz', 'clo', 'wsbh', 'seb', 'seh'])
            out.append(f"    {op} {d()}, {r()}")
        elif k < 34:
            pos = rnd.randrange(32)
            size = rnd.randrange(1, 33 - pos)
            out.append(f"    {rnd.choice(['ext', 'ins'])} {d()}, {r()}, {pos}, {size}")
        elif k < 38:
            op = rnd.choice(['lb', 'lbu', 'lh', 'lhu', 'lw', 'lwl', 'lwr', 'sb', 'sh', 'sw',
                             'swl', 'swr'])
            align = {'lh': 2, 'lhu': 2, 'sh': 2, 'lw': 4, 'sw': 4}.get(op, 1)
            off = rnd.randrange(0, 256 // align) * align
            reg = r() if op[0] == 's' else d()
            out.append(f"    {op} {reg}, {off}($s7)")
        else:
            out.append(f"    {rnd.choice(['mthi', 'mtlo'])} {r()}")
    saves = "\n".join(f"    sw ${x}, {i * 4}($k0)" for i, x in enumerate(REGS))
    words = ", ".join(hex(rnd.getrandbits(32)) for _ in range(64))
    n = len(REGS)
    return f"""    .set noreorder
    .set noat
    .text
    .globl _start
_start:
    la $sp, 0x80100000
    la $s7, buf
{chr(10).join(out)}
    la $k0, save
{saves}
    mfhi $t0
    sw $t0, {n * 4}($k0)
    mflo $t0
    sw $t0, {n * 4 + 4}($k0)
    li $s0, {n + 2 + 64}
    la $s1, save
1:  lw $a0, 0($s1)
    jal puthex
    nop
    addiu $s1, $s1, 4
    addiu $s0, $s0, -1
    bnez $s0, 1b
    nop
    li $a0, 0
    li $t9, 1
    sdbbp 1
    nop
puthex:
    li $t1, 0xbfd003f8
    li $t2, 8
2:  srl $t3, $a0, 28
    sltiu $t4, $t3, 10
    addiu $t5, $t3, 48
    addiu $t6, $t3, 87
    movz $t5, $t6, $t4
    sb $t5, 0($t1)
    sll $a0, $a0, 4
    addiu $t2, $t2, -1
    bnez $t2, 2b
    nop
    li $t5, 10
    jr $ra
    sb $t5, 0($t1)
    .data
    .align 4
save: .space {(n + 2) * 4}
buf: .word {words}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--seeds', nargs=2, type=int, default=[1, 50], metavar=('FIRST', 'LAST'))
    ap.add_argument('--length', type=int, default=400, help='instructions per program')
    ap.add_argument('--runner', default='target/debug/demo-os')
    args = ap.parse_args()
    fails = 0
    with tempfile.TemporaryDirectory() as tmp:
        src, obj, elf = (os.path.join(tmp, n) for n in ('t.S', 't.o', 't.elf'))
        for seed in range(args.seeds[0], args.seeds[1] + 1):
            with open(src, 'w') as f:
                f.write(program(seed, args.length))
            subprocess.run(['mipsel-linux-gnu-as', '-march=mips32r2', '-o', obj, src], check=True)
            subprocess.run(['mipsel-linux-gnu-ld', '-Ttext=0x80001000', '-e', '_start', '-o', elf,
                            obj], check=True)
            qemu = subprocess.run(['qemu-system-mipsel', '-M', 'mipssim', '-semihosting',
                                   '-nographic', '-monitor', 'none', '-serial', 'stdio',
                                   '-kernel', elf], capture_output=True, timeout=30)
            ours = subprocess.run([args.runner, '--mode', 'native', '--kernel', elf],
                                  capture_output=True, timeout=30)
            if qemu.stdout != ours.stdout or qemu.returncode != ours.returncode:
                fails += 1
                print(f"seed {seed}: outputs differ (exit {qemu.returncode} vs {ours.returncode})")
    total = args.seeds[1] - args.seeds[0] + 1
    print(f"{total - fails} passed, {fails} failed")
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
