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
#define P_SPIN 116

// The per-stub shared area (a memfd of its own, also mapped by the kernel): a control block
// at CTRL, the clone stack of the app thread below CTRL+0x1000, and the signal stack above.
#define CTRL 0x7ff000100000
#define CTRL_SIZE 0x10000
#define C_STATE 0
#define C_STUBSLEEP 4
#define C_KSLEEP 8
#define C_INITERR 12
#define C_UCTX 16
#define C_SIGINFO 24
#define C_FSBASE 32
#define C_NEWFS 40
#define C_SETFS 48
#define C_GSBASE 56
#define C_NEWGS 64
#define C_SETGS 72

// Hand-off states in C_STATE.
#define ST_EVENT 1
#define ST_RESUME 2
