# Acceptance cross-check of issue 2: prints through the mipssim UART and
# exits through UHI semihosting; compare with QEMU (see tests/qemu/README.md).
    .set noreorder
    .set noat
    .text
    .globl _start
_start:
    la    $sp, 0x80100000
    la    $s0, msg
    li    $s1, 0xbfd003f8
1:  lbu   $t0, 0($s0)
    beqz  $t0, 2f
    nop
3:  lbu   $t1, 5($s1)          # LSR
    andi  $t1, $t1, 0x20       # THRE
    beqz  $t1, 3b
    nop
    sb    $t0, 0($s1)
    b     1b
    addiu $s0, $s0, 1
2:  # some arithmetic to make the exit code computed
    li    $t0, 6
    li    $t1, 7
    mult  $t0, $t1
    mflo  $a0                  # 42
    li    $v0, 0
    # UHI write to fd 1
    li    $a0, 1
    la    $a1, msg2
    li    $a2, 12
    li    $t9, 5
    sdbbp 1
    mflo  $a0
    li    $t9, 1
    sdbbp 1
    nop
    .data
msg: .asciz "Hello from mipssim UART!\nLine two.\n"
msg2: .ascii "via UHI ok.\n"
