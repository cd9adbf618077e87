#include "textflag.h"

// func cloneDetach(stackTop uintptr, path *byte, mask *uint64) (pid uintptr, errno uintptr)
//
// clone(CLONE_VM|SIGCHLD) with its own stack; the child blocks every signal, runs
// umount2(path, MNT_DETACH) and exits with the errno (0: detached). It touches no memory
// but path and mask, and no stack. See detach.go.
TEXT ·cloneDetach(SB),NOSPLIT,$0-40
	MOVQ	path+8(FP), R12
	MOVQ	mask+16(FP), R13
	MOVQ	$0x111, DI	// CLONE_VM | SIGCHLD
	MOVQ	stackTop+0(FP), SI
	XORQ	DX, DX
	XORQ	R10, R10
	XORQ	R8, R8
	MOVQ	$56, AX	// SYS_clone
	SYSCALL
	CMPQ	AX, $0
	JEQ	child
	CMPQ	AX, $0xfffffffffffff001
	JLS	ok
	NEGQ	AX
	MOVQ	$0, pid+24(FP)
	MOVQ	AX, errno+32(FP)
	RET
ok:
	MOVQ	AX, pid+24(FP)
	MOVQ	$0, errno+32(FP)
	RET
child:
	// rt_sigprocmask(SIG_SETMASK, mask, NULL, 8): no signal handler of the Go runtime may
	// run here, on a stack and a thread the runtime does not know.
	MOVQ	$2, DI
	MOVQ	R13, SI
	XORQ	DX, DX
	MOVQ	$8, R10
	MOVQ	$14, AX	// SYS_rt_sigprocmask
	SYSCALL
	MOVQ	R12, DI
	MOVQ	$2, SI	// MNT_DETACH
	MOVQ	$166, AX	// SYS_umount2
	SYSCALL
	MOVQ	AX, DI
	NEGQ	DI
	MOVQ	$60, AX	// SYS_exit
	SYSCALL
hang:
	JMP	hang
