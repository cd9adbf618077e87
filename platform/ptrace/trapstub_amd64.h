// Layout of the trap stub, shared by trapstub_amd64.s and trapstub.go (which must agree).

// The stub's code page (the same place as the ptrace stub's) and its parameter block,
// written by buildTrapStub into the stub image.
#define STUB_BASE 0x7ff000000000
#define PARAMS 0x7ff000000c00
#define P_NAME 0
#define P_EMPTYSET 16
#define P_SIGACT 24
#define P_SS 56
#define P_MAPPROG 80
#define P_APPPROG 96
#define P_HASFSGS 112
#define P_TAIL 120
#define P_SHPROG 128

// The per-stub shared area (a memfd of its own, also mapped by the kernel): a control block
// at CTRL, the clone stack of the app thread below CTRL+0x1000, and the signal stack above.
#define CTRL 0x7ff000100000
#define CTRL_SIZE 0x10000
// A shared stub's thread areas: area i at AREAS+i*CTRL_SIZE, each laid out as CTRL's (the
// handler finds its own from its stack pointer: areas are aligned to their size).
#define AREAS 0x7ff200000000
#define AREAS_SIZE 0x4000000
#define C_STATE 0
#define C_STUBSLEEP 4
#define C_KSLEEP 8
#define C_INITERR 12
#define C_UCTX 16
#define C_SIGINFO 24
#define C_FSBASE 32
#define C_NEWFS 40
#define C_SETFS 48
// How many times the stub polls for the kernel's reply before it sleeps on the futex, set by
// the kernel before each resume (handoff.go); in the hand-off word's cache line.
#define C_SPIN 52
#define C_GSBASE 56
#define C_NEWGS 64
#define C_SETGS 72
// Shared stubs (one host process per address space, shared.go): the thread's stack_t for
// sigaltstack (written by the kernel before the clone), the kernel's request that the thread
// exit at its next resume, and the word CLONE_CHILD_SETTID/CLEARTID keep.
#define C_SS 80
#define C_EXIT 104
#define C_TID 108

// The syscall trampoline's part of the control page (trapFast): the slot an entry was
// taken from, the kernel's interrupt noticed inside the trampoline, what the kernel asks
// for on resume (0: return to the app, 1: upgrade to a signal frame), the app's general
// registers in struct sigcontext order (r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp),
// its rip and rflags, and a small stack for pushfq/popfq below T_STACK.
#define C_SLOT 128
#define C_PENDINT 132
#define C_CMD 136
#define F_REGS 256
#define F_R8 256
#define F_R9 264
#define F_R10 272
#define F_R11 280
#define F_R12 288
#define F_R13 296
#define F_R14 304
#define F_R15 312
#define F_RDI 320
#define F_RSI 328
#define F_RBP 336
#define F_RBX 344
#define F_RDX 352
#define F_RAX 360
#define F_RCX 368
#define F_RSP 376
#define F_RIP 384
#define F_FLAGS 392
#define T_STACK 2048

// The trampoline's code page and its entries (one per slot: movl $slot, C_SLOT(%rip);
// jmp trapFast), which the filter lets make no syscall.
#define FAST_BASE 0x7ff000001000
#define ENTRY_BASE 0x7ff000002000
#define ENTRY_END 0x7ff000012000

// Hand-off states in C_STATE.
#define ST_EVENT 1
#define ST_RESUME 2
#define ST_FAST 3
