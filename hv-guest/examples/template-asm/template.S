# A minimal paravirtual guest in assembly: the template to start from.
#
# Boot: the runner (and QEMU) starts it at _start in kernel mode with
# Status.BEV=1 and ERL=1 (exception vectors in the boot ROM). It moves the
# vectors to RAM (BEV=0) so that its own handler at 0x80000180 runs, then
#   Discover(Version)       -> under the monitor (--mode para): 0 in v0
#   ConsoleWrite(text, len)    prints through the monitor
#   Shutdown(0)                ends the run with exit code 0.
# Natively and under --mode full, HYPCALL raises Reserved Instruction: the
# handler sees it is a HYPCALL, answers NoMonitor (v0 = -7) and resumes
# after it, and the guest prints through the mipssim UART and exits with
# UHI semihosting instead. Without that handler the guest would enter a
# vector with nothing behind it (the runner stops it: "no exception
# handler at ...", status 126).
#
# Build (Debian: binutils-mipsel-linux-gnu):
#   mipsel-linux-gnu-as -march=mips32r2 -EL template.S -o template.o
#   mipsel-linux-gnu-ld -EL -n -T template.ld template.o -o template.elf
# Run:
#   cargo run -p demo-os -- --mode para   --kernel template.elf
#   cargo run -p demo-os -- --mode native --kernel template.elf
#   qemu-system-mipsel -M mipssim -nographic -semihosting -kernel template.elf

    .set noreorder
    .set noat
    .set mips32r2

    .equ HYPCALL, 0x42000028        # hv_abi::HYPCALL
    .equ HC_DISCOVER, 1             # hv_abi::Hypercall::Discover
    .equ HC_CONSOLE_WRITE, 5        # hv_abi::Hypercall::ConsoleWrite
    .equ HC_SHUTDOWN, 6             # hv_abi::Hypercall::Shutdown
    .equ NO_MONITOR, -7             # hv_abi::HvError::NoMonitor
    .equ UART_THR, 0xbfd003f8       # mipssim 16550 transmit register
    .equ UHI_EXIT, 1                # UHI semihosting operation (in t9)

    .section .vectors, "ax"
# The general exception vector (Status.BEV=0): 0x80000180.
general_exception:
    mfc0    $k0, $13                # Cause
    andi    $k0, $k0, 0x7c
    li      $k1, 10 << 2            # ExcCode 10: Reserved Instruction
    bne     $k0, $k1, fatal
    nop
    mfc0    $k0, $13
    bltz    $k0, fatal              # Cause.BD: a HYPCALL in a delay slot
    nop                             # is not resumed (docs/ABI.md, 6)
    mfc0    $k0, $14                # EPC
    lw      $k1, 0($k0)
    li      $at, 0xffe007ff
    and     $k1, $k1, $at
    li      $at, HYPCALL
    bne     $k1, $at, fatal
    nop
    li      $2, NO_MONITOR          # v0: no monitor here
    li      $3, 0                   # v1
    addiu   $k0, $k0, 4
    mtc0    $k0, $14
    ehb
    eret
fatal:
    la      $a0, unexpected
    jal     uart_puts
    nop
    li      $a0, 3
    li      $t9, UHI_EXIT
    sdbbp   1
1:  b       1b
    nop

    .text
    .globl _start
_start:
    la      $sp, stack_top
    mfc0    $t0, $12                # Status: clear BEV (bit 22) and ERL (bit 2)
    li      $t1, ~((1 << 22) | (1 << 2))
    and     $t0, $t0, $t1
    mtc0    $t0, $12
    ehb

    li      $2, HC_DISCOVER         # v0 = Discover, a0 = leaf 0 (Version)
    li      $a0, 0
    .word   HYPCALL
    bnez    $2, no_monitor
    nop

    li      $2, HC_CONSOLE_WRITE    # ConsoleWrite(a0 = text, a1 = length)
    la      $a0, hello
    li      $a1, hello_end - hello
    .word   HYPCALL
    li      $2, HC_SHUTDOWN         # Shutdown(a0 = exit code)
    li      $a0, 0
    .word   HYPCALL
2:  b       2b                      # not reached
    nop

no_monitor:
    la      $a0, fallback
    jal     uart_puts
    nop
    li      $a0, 0                  # UHI exit(0)
    li      $t9, UHI_EXIT
    sdbbp   1
3:  b       3b
    nop

# Prints the NUL-terminated string at a0 on the UART.
uart_puts:
    li      $t1, UART_THR
4:  lbu     $t0, 0($a0)
    beqz    $t0, 5f
    nop
    sb      $t0, 0($t1)
    b       4b
    addiu   $a0, $a0, 1
5:  jr      $ra
    nop

    .data
hello:
    .ascii  "hello from the template guest (paravirtualized)\n"
hello_end:
fallback:
    .asciz  "hello from the template guest (no monitor: fallback path)\n"
unexpected:
    .asciz  "template guest: unexpected exception\n"
    .align  4
stack:
    .space  4096
stack_top:
