// The trap stub's machine code. None of it runs in the sbx process: buildTrapStub copies
// these functions (each ends at an end marker) into the stub image, at fixed addresses, and
// the stub runs them with no Go runtime. Every address they use is an absolute constant from
// trapstub_amd64.h, so the copies are position-independent.

#include "textflag.h"
#include "trapstub_amd64.h"

// SIGACT(sig): rt_sigaction(sig, &act, NULL, 8), failing the start-up on an error. (A
// macro, not a subroutine: only relative jumps within one copied function are allowed.)
#define SIGACT(sig) MOVL $13, AX; MOVL sig, DI; LEAQ P_SIGACT(R12), SI; XORL DX, DX; MOVL $8, R10; SYSCALL; TESTQ AX, AX; JNE fail

#define ENDMARK BYTE $0xcc; BYTE $0xcc; BYTE $0x53; BYTE $0x42; BYTE $0x58; BYTE $0x45; BYTE $0x4e; BYTE $0x44

// HANDOFF(st) hands the app thread to the kernel and takes it back: it records the FS and GS
// bases (where rdfsbase is allowed), publishes st in C_STATE (waking the kernel if it
// sleeps), waits for ST_RESUME (polling C_SPIN times, then sleeping on the futex) and sets
// the FS and GS bases the kernel asked for. R8 = CTRL, R9 = PARAMS; it clobbers AX, CX, DX,
// SI, DI, R10, R11 and the flags. The trap handler and the trampoline share it; its labels
// are local to the function it is expanded in. (A macro, as SIGACT: each function is copied
// on its own.)
#define HANDOFF(st) \
	CMPB P_HASFSGS(R9), $0; \
	JEQ handoff; \
	BYTE $0xf3; BYTE $0x48; BYTE $0x0f; BYTE $0xae; BYTE $0xc0; /* rdfsbase rax */ \
	MOVQ AX, C_FSBASE(R8); \
	BYTE $0xf3; BYTE $0x48; BYTE $0x0f; BYTE $0xae; BYTE $0xc8; /* rdgsbase rax */ \
	MOVQ AX, C_GSBASE(R8); \
handoff: \
	MOVL st, AX; \
	XCHGL AX, C_STATE(R8); \
	CMPL C_KSLEEP(R8), $0; \
	JEQ wait; \
	MOVQ R8, DI;     /* futex(&state, FUTEX_WAKE, 1) */ \
	MOVL $1, SI; \
	MOVL $1, DX; \
	MOVL $202, AX; \
	SYSCALL; \
wait: \
	MOVL C_SPIN(R8), CX; \
	INCL CX; \
spin: \
	CMPL C_STATE(R8), $ST_RESUME; \
	JEQ resume; \
	PAUSE; \
	DECL CX; \
	JNE spin; \
	MOVL $1, AX; \
	XCHGL AX, C_STUBSLEEP(R8); \
	CMPL C_STATE(R8), $ST_RESUME; \
	JEQ woke; \
	MOVQ R8, DI;     /* futex(&state, FUTEX_WAIT, st, NULL) */ \
	XORL SI, SI; \
	MOVL st, DX; \
	XORL R10, R10; \
	MOVL $202, AX; \
	SYSCALL; \
woke: \
	MOVL $0, C_STUBSLEEP(R8); \
	JMP wait; \
resume: \
	CMPL C_SETFS(R8), $0; \
	JEQ gs; \
	MOVL $0, C_SETFS(R8); \
	MOVL $158, AX;   /* arch_prctl(ARCH_SET_FS, newfs) */ \
	MOVL $0x1002, DI; \
	MOVQ C_NEWFS(R8), SI; \
	SYSCALL; \
gs: \
	CMPL C_SETGS(R8), $0; \
	JEQ resumed; \
	MOVL $0, C_SETGS(R8); \
	MOVL $158, AX;   /* arch_prctl(ARCH_SET_GS, newgs) */ \
	MOVL $0x1001, DI; \
	MOVQ C_NEWGS(R8), SI; \
	SYSCALL; \
resumed: \
	CMPL C_EXIT(R8), $0; \
	JEQ staying; \
	MOVL $60, AX;    /* exit(0): the kernel ends this thread (shared stubs) */ \
	XORL DI, DI; \
	SYSCALL; \
staying:

// trapInit is the stub's entry point (its main thread, traced by the context's thread).
// It names itself, maps its shared area (FD 2) and closes every FD but the memory file
// (FD 0) and the socket it receives host files on (FD 1), unblocks signals, installs the handlers, sets no_new_privs, starts the app thread
// and confines itself with the mapper filter; then it traps to the tracer with rax = the
// seccomp result and rbx = the app thread's TID (or -1 and rax = -errno on failure). After
// that the tracer injects address-space calls at `site` (syscall; int3).
TEXT ·trapInit(SB),NOSPLIT|NOFRAME,$0
	// R15 != 0 (set by the tracer at the exec stop): a shared stub (shared.go).
	MOVQ $PARAMS, R12
	// prctl(PR_SET_NAME, "sbx-stub")
	MOVL $157, AX
	MOVL $15, DI
	LEAQ P_NAME(R12), SI
	SYSCALL
	// mmap(CTRL, CTRL_SIZE, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_FIXED, 2, 0), or for a
	// shared stub mmap(AREAS, AREAS_SIZE, ...): every thread area.
	MOVL $9, AX
	MOVQ $CTRL, DI
	MOVL $CTRL_SIZE, SI
	TESTQ R15, R15
	JEQ mapctrl
	MOVQ $AREAS, DI
	MOVL $AREAS_SIZE, SI
mapctrl:
	MOVL $3, DX
	MOVL $0x11, R10
	MOVL $2, R8
	XORL R9, R9
	SYSCALL
	CMPQ AX, DI
	JNE fail
	// close_range(2, ~0U, 0)
	MOVL $436, AX
	MOVL $2, DI
	MOVL $0xffffffff, SI
	XORL DX, DX
	SYSCALL
	TESTQ AX, AX
	JNE fail
	// rt_sigprocmask(SIG_SETMASK, &empty, NULL, 8)
	MOVL $14, AX
	MOVL $2, DI
	LEAQ P_EMPTYSET(R12), SI
	XORL DX, DX
	MOVL $8, R10
	SYSCALL
	TESTQ AX, AX
	JNE fail
	// rt_sigaction(sig, &act, NULL, 8) for SIGSYS, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP
	// and SIGUSR2 (the kernel's interrupt).
	SIGACT($31)
	SIGACT($11)
	SIGACT($7)
	SIGACT($4)
	SIGACT($8)
	SIGACT($5)
	SIGACT($12)
	// prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	MOVL $157, AX
	MOVL $38, DI
	MOVL $1, SI
	XORL DX, DX
	XORL R10, R10
	XORL R8, R8
	SYSCALL
	TESTQ AX, AX
	JNE fail
	TESTQ R15, R15
	JNE shared
	// clone(CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM,
	//       CTRL+0x1000, NULL, NULL, 0)
	MOVL $56, AX
	MOVL $0x50f00, DI
	MOVQ $(CTRL+0x1000), SI
	XORL DX, DX
	XORL R10, R10
	XORL R8, R8
	SYSCALL
	TESTQ AX, AX
	JEQ child
	JLT fail
	MOVQ AX, BX
	// seccomp(SECCOMP_SET_MODE_FILTER, 0, &mapperProg)
	MOVL $317, AX
	MOVL $1, DI
	XORL SI, SI
	LEAQ P_MAPPROG(R12), DX
	SYSCALL
	BYTE $0xcc // int3
site:
	SYSCALL
	BYTE $0xcc // int3
	JMP site
fail:
	MOVQ $-1, BX
	BYTE $0xcc // int3
	JMP fail
shared:
	// A shared stub starts no thread now: it confines itself with the shared filter and
	// traps; the tracer injects the app threads' clones at clonesite.
	MOVL $317, AX
	MOVL $1, DI
	XORL SI, SI
	LEAQ P_SHPROG(R12), DX
	SYSCALL
	MOVQ $1, BX
	BYTE $0xcc // int3
	BYTE $0x0f; BYTE $0x1f; BYTE $0x80; LONG $0x5a5a5a04 // nopl marker (clone site)
clonesite:
	SYSCALL
	TESTQ AX, AX
	JEQ thread
	BYTE $0xcc // int3
	JMP clonesite
thread:
	// A new app thread of a shared stub: R12 = its area (set by the tracer for the clone).
	// Its signal stack is its area above the control page (the stack_t at C_SS), its
	// filter traps every syscall but the handler's own; then it parks in the handler.
	MOVL $131, AX
	LEAQ C_SS(R12), DI
	XORL SI, SI
	SYSCALL
	MOVQ R12, R8
	TESTQ AX, AX
	JNE childfail
	MOVQ $PARAMS, R9
	MOVL $317, AX
	MOVL $1, DI
	XORL SI, SI
	LEAQ P_APPPROG(R9), DX
	SYSCALL
	MOVQ R12, R8
	TESTQ AX, AX
	JNE childfail
	MOVL $39, AX
	SYSCALL
	BYTE $0x0f; BYTE $0x0b // ud2: reached only if getpid was not trapped
child:
	// The app thread: its signal stack is the shared area above the control page; its
	// filter traps every syscall but the handler's own; then it parks in the handler
	// (a trapped getpid) until the kernel first switches to it.
	MOVL $131, AX
	LEAQ P_SS(R12), DI
	XORL SI, SI
	SYSCALL
	MOVQ $CTRL, R8
	TESTQ AX, AX
	JNE childfail
	MOVL $317, AX
	MOVL $1, DI
	XORL SI, SI
	LEAQ P_APPPROG(R12), DX
	SYSCALL
	MOVQ $CTRL, R8
	TESTQ AX, AX
	JNE childfail
	MOVL $39, AX
	SYSCALL
	BYTE $0x0f; BYTE $0x0b // ud2: reached only if getpid was not trapped
childfail:
	MOVL AX, C_INITERR(R8)
	BYTE $0x0f; BYTE $0x0b
	ENDMARK

// trapHandler is the handler of every signal the stub takes (SA_SIGINFO|SA_ONSTACK, all
// signals blocked while it runs): rsi = siginfo, rdx = ucontext, both on the signal stack
// in the shared area. It publishes them, hands the thread to the kernel (C_STATE =
// ST_EVENT, waking the kernel if it sleeps), waits for ST_RESUME (polling C_SPIN times, then
// sleeping on the futex), sets the FS and GS bases if the kernel asked, and returns with
// rt_sigreturn, which loads the registers and FP state the kernel left in the frame.
TEXT ·trapHandler(SB),NOSPLIT|NOFRAME,$0
	// The kernel's interrupt (SIGUSR2) inside the syscall trampoline (trapFast and its
	// entries) is only noted: the trampoline hands the thread to the kernel before it runs
	// app code again. If it came while the trampoline was restoring the app's registers
	// (at or after its tail), the thread goes back to the tail, which checks the note.
	CMPL DI, $12
	JNE event
	MOVQ 168(DX), AX // uc_mcontext.rip
	MOVQ $FAST_BASE, CX
	CMPQ AX, CX
	JCS event
	MOVQ $ENTRY_END, CX
	CMPQ AX, CX
	JCC event
	MOVQ SP, R8
	ANDQ $~(CTRL_SIZE-1), R8
	MOVL $1, C_PENDINT(R8)
	MOVQ $PARAMS, R9
	MOVQ P_TAIL(R9), CX
	CMPQ AX, CX
	JCS sigret
	MOVQ $ENTRY_BASE, CX
	CMPQ AX, CX
	JCC sigret
	MOVQ P_TAIL(R9), CX
	MOVQ CX, 168(DX)
sigret:
	ADDQ $8, SP
	MOVL $15, AX
	SYSCALL
	BYTE $0x0f; BYTE $0x0b
event:
	// The thread's area: the handler runs on its signal stack, which lies in its area.
	MOVQ SP, R8
	ANDQ $~(CTRL_SIZE-1), R8
	MOVQ DX, C_UCTX(R8)
	MOVQ SI, C_SIGINFO(R8)
	MOVQ $PARAMS, R9
	HANDOFF($ST_EVENT)
	// rt_sigreturn: the frame starts at the return address the kernel pushed.
	ADDQ $8, SP
	MOVL $15, AX
	SYSCALL
	BYTE $0x0f; BYTE $0x0b
	ENDMARK

// trapFast is the syscall trampoline: a patched syscall site (`jmp *slot`, see patch.go)
// reaches it through its entry, which stores the slot number in C_SLOT. It saves the app's
// general registers and rflags in the control page (never touching the app's stack: rsp is
// saved first and the pushfq/popfq use T_STACK), hands the thread to the kernel with
// ST_FAST (waking it if it sleeps), waits for ST_RESUME as the handler does, sets the FS
// and GS bases if asked, then either raises SIGILL at a known address (C_CMD = 1: the
// kernel wants a full signal frame, for the FP state) or restores the registers the kernel
// wrote and jumps to the rip it wrote. Its tail first checks C_PENDINT: an interrupt that
// reached the trampoline is handed to the kernel (slot ~0) before any app code runs.
TEXT ·trapFast(SB),NOSPLIT|NOFRAME,$0
	// movabs %rax, CTRL+F_RAX
	BYTE $0x48; BYTE $0xa3; LONG $0x00100168; LONG $0x00007ff0
	MOVQ $CTRL, AX
	MOVQ SP, F_RSP(AX)
	MOVQ R8, F_R8(AX)
	MOVQ R9, F_R9(AX)
	MOVQ R10, F_R10(AX)
	MOVQ R11, F_R11(AX)
	MOVQ R12, F_R12(AX)
	MOVQ R13, F_R13(AX)
	MOVQ R14, F_R14(AX)
	MOVQ R15, F_R15(AX)
	MOVQ DI, F_RDI(AX)
	MOVQ SI, F_RSI(AX)
	MOVQ BP, F_RBP(AX)
	MOVQ BX, F_RBX(AX)
	MOVQ DX, F_RDX(AX)
	MOVQ CX, F_RCX(AX)
	LEAQ T_STACK(AX), SP
	PUSHFQ
	POPQ BX
	MOVQ BX, F_FLAGS(AX)
	MOVQ AX, R8
publish:
	MOVQ $PARAMS, R9
	HANDOFF($ST_FAST)
	CMPL C_CMD(R8), $0
	JEQ tail
	// The upgrade: SIGILL here gives the kernel a signal frame.
	BYTE $0x0f; BYTE $0x1f; BYTE $0x80; LONG $0x5a5a5a02 // nopl marker (upgrade)
	BYTE $0x0f; BYTE $0x0b
reint:
	MOVL $0, C_PENDINT(AX)
	MOVL $0xffffffff, C_SLOT(AX)
	MOVQ AX, R8
	JMP publish
tail:
	BYTE $0x0f; BYTE $0x1f; BYTE $0x80; LONG $0x5a5a5a01 // nopl marker (tail)
	MOVQ $CTRL, AX
	CMPL C_PENDINT(AX), $0
	JNE reint
	LEAQ T_STACK(AX), SP
	MOVQ F_FLAGS(AX), BX
	PUSHQ BX
	POPFQ
	MOVQ F_R8(AX), R8
	MOVQ F_R9(AX), R9
	MOVQ F_R10(AX), R10
	MOVQ F_R11(AX), R11
	MOVQ F_R12(AX), R12
	MOVQ F_R13(AX), R13
	MOVQ F_R14(AX), R14
	MOVQ F_R15(AX), R15
	MOVQ F_RDI(AX), DI
	MOVQ F_RSI(AX), SI
	MOVQ F_RBP(AX), BP
	MOVQ F_RBX(AX), BX
	MOVQ F_RDX(AX), DX
	MOVQ F_RCX(AX), CX
	MOVQ F_RSP(AX), SP
	MOVQ F_RAX(AX), AX
	// jmp *F_RIP(%rip): buildTrapStub writes the displacement.
	BYTE $0xff; BYTE $0x25; LONG $0x5a5a5a03
	ENDMARK

// trapRestorer is sa_restorer (x86-64 requires one); the handler never returns through it.
TEXT ·trapRestorer(SB),NOSPLIT|NOFRAME,$0
	MOVL $15, AX
	SYSCALL
	BYTE $0x0f; BYTE $0x0b
	ENDMARK

// The addresses of the ABI0 functions above (a Go func value would name a wrapper).
TEXT ·trapInitAddr(SB),NOSPLIT,$0-8
	MOVQ $·trapInit(SB), AX
	MOVQ AX, ret+0(FP)
	RET

TEXT ·trapHandlerAddr(SB),NOSPLIT,$0-8
	MOVQ $·trapHandler(SB), AX
	MOVQ AX, ret+0(FP)
	RET

TEXT ·trapFastAddr(SB),NOSPLIT,$0-8
	MOVQ $·trapFast(SB), AX
	MOVQ AX, ret+0(FP)
	RET

TEXT ·trapRestorerAddr(SB),NOSPLIT,$0-8
	MOVQ $·trapRestorer(SB), AX
	MOVQ AX, ret+0(FP)
	RET

// cpuRelax is one PAUSE, for the kernel's polling loop (handoff.go).
TEXT ·cpuRelax(SB),NOSPLIT,$0-0
	PAUSE
	RET
