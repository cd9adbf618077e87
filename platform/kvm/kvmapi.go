package kvm

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The KVM ioctl numbers and structures this platform uses (include/uapi/linux/kvm.h,
// arch/x86/include/uapi/asm/kvm.h), written out because x/sys does not carry them.
const (
	kvmGetAPIVersion       = 0xAE00
	kvmCreateVM            = 0xAE01
	kvmCheckExtension      = 0xAE03
	kvmGetVCPUMmapSize     = 0xAE04
	kvmCreateVCPU          = 0xAE41
	kvmSetUserMemoryRegion = 0x4020AE46
	kvmRunIoctl            = 0xAE80
	kvmGetRegs             = 0x8090AE81
	kvmSetRegs             = 0x4090AE82
	kvmGetSregs            = 0x8138AE83
	kvmSetSregs            = 0x4138AE84
	kvmGetMSRs             = 0xC008AE88
	kvmSetMSRs             = 0x4008AE89
	kvmGetXsave            = 0x9000AEA4
	kvmSetXsave            = 0x5000AEA5
	kvmSetXCRs             = 0x4188AEA7
	kvmGetXCRs             = 0x8188AEA6

	kvmCapSyncRegs      = 74
	kvmCapImmediateExit = 136

	kvmExitIO           = 2
	kvmExitHLT          = 5
	kvmExitShutdown     = 8
	kvmExitFailEntry    = 9
	kvmExitIntr         = 10
	kvmExitInternalErr  = 17
	kvmSyncX86Regs      = 1 << 0
	kvmSyncX86Sregs     = 1 << 1
	kvmAPIVersionWanted = 12
)

// MSRs the platform programs.
const (
	msrEFER        = 0xC0000080
	msrSTAR        = 0xC0000081
	msrLSTAR       = 0xC0000082
	msrSyscallMask = 0xC0000084
	msrFSBase      = 0xC0000100
	msrGSBase      = 0xC0000101
)

// kvmRegs is struct kvm_regs.
type kvmRegs struct {
	Rax, Rbx, Rcx, Rdx, Rsi, Rdi, Rsp, Rbp uint64
	R8, R9, R10, R11, R12, R13, R14, R15   uint64
	Rip, Rflags                            uint64
}

// kvmSegment is struct kvm_segment.
type kvmSegment struct {
	Base                                              uint64
	Limit                                             uint32
	Selector                                          uint16
	Type, Present, DPL, DB, S, L, G, AVL, Unusable, _ uint8
}

type kvmDtable struct {
	Base  uint64
	Limit uint16
	_     [3]uint16
}

// kvmSregs is struct kvm_sregs.
type kvmSregs struct {
	CS, DS, ES, FS, GS, SS, TR, LDT kvmSegment
	GDT, IDT                        kvmDtable
	CR0, CR2, CR3, CR4, CR8, EFER   uint64
	APICBase                        uint64
	InterruptBitmap                 [4]uint64
}

// kvmRun is the start of struct kvm_run, up to and including the x86 sync registers.
type kvmRun struct {
	RequestInterruptWindow uint8
	ImmediateExit          uint8
	_                      [6]uint8
	ExitReason             uint32
	ReadyForInjection      uint8
	IFFlag                 uint8
	Flags                  uint16
	CR8                    uint64
	APICBase               uint64
	Exit                   [256]byte // union; io: dir u8, size u8, port u16, count u32, off u64
	ValidRegs              uint64
	DirtyRegs              uint64
	Regs                   kvmRegs
	Sregs                  kvmSregs
}

type kvmMemoryRegion struct {
	Slot, Flags               uint32
	GuestPhys, Size, UserAddr uint64
}

type kvmMSREntry struct {
	Index, _ uint32
	Data     uint64
}

func ioctl(fd int, req uintptr, arg uintptr) (uintptr, error) {
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
	if e != 0 {
		return r, e
	}
	return r, nil
}

func ioctlPtr[T any](fd int, req uintptr, p *T) error {
	_, err := ioctl(fd, req, uintptr(unsafe.Pointer(p)))
	return err
}

// setMSRs writes MSRs with KVM_SET_MSRS.
func setMSRs(vcpu int, kv ...uint64) error {
	n := len(kv) / 2
	buf := make([]uint64, 1+2*n)
	*(*uint32)(unsafe.Pointer(&buf[0])) = uint32(n)
	for i := 0; i < n; i++ {
		e := (*kvmMSREntry)(unsafe.Pointer(&buf[1+2*i]))
		e.Index = uint32(kv[2*i])
		e.Data = kv[2*i+1]
	}
	r, err := ioctl(vcpu, kvmSetMSRs, uintptr(unsafe.Pointer(&buf[0])))
	if err != nil {
		return err
	}
	if int(r) != n {
		return unix.EINVAL
	}
	return nil
}

const (
	kvmGetSupportedCPUID = 0xC008AE05
	kvmSetCPUID2         = 0x4008AE90
)

// supportedCPUID returns KVM_GET_SUPPORTED_CPUID's table as a struct kvm_cpuid2 buffer.
func supportedCPUID(kvmFD int) ([]uint32, error) {
	const max = 256
	buf := make([]uint32, 2+max*10)
	buf[0] = max
	if _, err := ioctl(kvmFD, kvmGetSupportedCPUID, uintptr(unsafe.Pointer(&buf[0]))); err != nil {
		return nil, err
	}
	return buf[:2+int(buf[0])*10], nil
}
