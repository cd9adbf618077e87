package kvm

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

const logPages = 4

// GDT selectors (Linux's, so the app sees the CS and SS values it expects).
const (
	selKernelCS = 0x10
	selKernelSS = 0x18
	selUserCS   = 0x33
	selUserSS   = 0x2b
	selTSS      = 0x38
)

// vcpu is one virtual CPU, used by one locked OS thread.
type vcpu struct {
	m       *machine
	id      int
	fd      int
	runMem  []byte
	run     *kvmRun
	descGPA uint64 // GDT+TSS page
	stkGPA  uint64 // ring-0 stack page
	logGPA  uint64 // page-table replay log (logPages pages)
	cr3     uint64
	fsBase  uint64
	gsBase  uint64
	inUser  bool // an interruption left the vCPU in user mode
}

// newVCPU creates a vCPU, in ring 0 with no address space.
func (m *machine) newVCPU() (*vcpu, error) {
	m.mu.Lock()
	id := m.nextVCPU
	m.nextVCPU++
	m.mu.Unlock()
	fd, err := ioctl(m.vmFD, kvmCreateVCPU, uintptr(id))
	if err != nil {
		return nil, fmt.Errorf("kvm: KVM_CREATE_VCPU: %w", err)
	}
	v := &vcpu{m: m, id: id, fd: int(fd)}
	v.runMem, err = unix.Mmap(v.fd, 0, m.runSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(v.fd)
		return nil, fmt.Errorf("kvm: mapping kvm_run: %w", err)
	}
	v.run = (*kvmRun)(unsafe.Pointer(&v.runMem[0]))
	v.descGPA = m.allocPage()
	v.stkGPA = m.allocPage()
	v.logGPA = m.allocPages(logPages)
	if v.descGPA == 0 || v.stkGPA == 0 || v.logGPA == 0 {
		unix.Munmap(v.runMem)
		unix.Close(v.fd)
		return nil, errNoPrivate
	}
	m.mapSup(vcpuVA(id), v.descGPA, ptePresent|pteWrite|pteNX)
	m.mapSup(vcpuVA(id)+pageSize, v.stkGPA, ptePresent|pteWrite|pteNX)
	if err := v.setup(); err != nil {
		v.release()
		return nil, err
	}
	return v, nil
}

// stackTop is the ring-0 stack's top (TSS.RSP0), where exception frames land.
func (v *vcpu) stackTop() uint64 { return vcpuVA(v.id) + 2*pageSize }

func (v *vcpu) setup() error {
	d := v.m.page(v.descGPA)
	le := binary.LittleEndian
	le.PutUint64(d[0x10:], 0x00af9a000000ffff) // kernel code64
	le.PutUint64(d[0x18:], 0x00cf92000000ffff) // kernel data
	le.PutUint64(d[0x20:], 0x00cffa000000ffff) // user code32
	le.PutUint64(d[0x28:], 0x00cff2000000ffff) // user data
	le.PutUint64(d[0x30:], 0x00affa000000ffff) // user code64
	tss := vcpuVA(v.id) + 0x800
	le.PutUint64(d[0x38:], 0x67|(tss&0xffffff)<<16|0x89<<40|(tss>>24&0xff)<<56)
	le.PutUint64(d[0x40:], tss>>32)
	le.PutUint64(d[0x800+4:], v.stackTop()) // RSP0
	le.PutUint16(d[0x800+0x66:], 0x68)      // no I/O bitmap: every port faults in user mode

	if _, err := ioctl(v.fd, kvmSetCPUID2, uintptr(unsafe.Pointer(&v.m.cpuid[0]))); err != nil {
		return fmt.Errorf("kvm: KVM_SET_CPUID2: %w", err)
	}
	var s kvmSregs
	if err := ioctlPtr(v.fd, kvmGetSregs, &s); err != nil {
		return fmt.Errorf("kvm: KVM_GET_SREGS: %w", err)
	}
	s.CS, s.SS = kernelSegments()
	null := kvmSegment{Type: 3, Present: 1, S: 1, DB: 1, G: 1, Limit: 0xffffffff}
	s.DS, s.ES, s.FS, s.GS = null, null, null, null
	s.TR = kvmSegment{Base: tss, Limit: 0x67, Selector: selTSS, Type: 11, Present: 1}
	s.LDT = kvmSegment{Type: 2, Present: 1, Unusable: 1}
	s.GDT = kvmDtable{Base: vcpuVA(v.id), Limit: 0x47}
	s.IDT = kvmDtable{Base: idtVA, Limit: 0xfff}
	s.CR0 = 1<<0 | 1<<1 | 1<<4 | 1<<5 | 1<<16 | 1<<31 // PE MP ET NE WP PG
	s.CR4 = 1<<5 | 1<<9 | 1<<10 | 1<<18               // PAE OSFXSR OSXMMEXCPT OSXSAVE
	s.EFER = 1<<0 | 1<<8 | 1<<10 | 1<<11              // SCE LME LMA NXE
	v.cr3 = v.m.newTopTable()                         // empty: nothing but the supervisor region
	s.CR3 = v.cr3
	if err := ioctlPtr(v.fd, kvmSetSregs, &s); err != nil {
		return fmt.Errorf("kvm: KVM_SET_SREGS: %w", err)
	}
	if err := setMSRs(v.fd,
		msrSTAR, 0x0023_0010_0000_0000, // kernel CS 0x10; user CS 0x33, SS 0x2b as Linux's
		msrLSTAR, trampSys,
		msrSyscallMask, 0x47700, // TF DF IF NT AC cleared on entry, as Linux
	); err != nil {
		return fmt.Errorf("kvm: programming the vCPU's MSRs: %w", err)
	}
	// The guest's XCR0 is the host's, so the app sees the same XSAVE features.
	if err := v.setXCR0(); err != nil {
		return err
	}
	v.run.ValidRegs = kvmSyncX86Regs | kvmSyncX86Sregs
	return nil
}

// kernelSegments returns the ring-0 code and stack segments.
func kernelSegments() (cs, ss kvmSegment) {
	return kvmSegment{Selector: selKernelCS, Type: 11, Present: 1, S: 1, L: 1, G: 1, Limit: 0xffffffff},
		kvmSegment{Selector: selKernelSS, Type: 3, Present: 1, S: 1, DB: 1, G: 1, Limit: 0xffffffff}
}

func xgetbv0() uint64

func (v *vcpu) setXCR0() error {
	// struct kvm_xcrs: nr_xcrs u32, flags u32, xcrs[16]{xcr u32, reserved u32, value u64}, padding[16]u64
	var buf [49]uint64
	*(*uint32)(unsafe.Pointer(&buf[0])) = 1
	buf[1] = 0
	buf[2] = xgetbv0() & 0x2e7 // x87 SSE AVX AVX-512 PKRU; AMX would need a permission request
	if err := ioctlPtr(v.fd, kvmSetXCRs, &buf); err != nil {
		return fmt.Errorf("kvm: KVM_SET_XCRS: %w", err)
	}
	return nil
}

// setCR3 makes the vCPU run on the page tables at cr3 from its next entry.
func (v *vcpu) setCR3(cr3 uint64) error {
	if v.cr3 == cr3 {
		return nil
	}
	var s kvmSregs
	if err := ioctlPtr(v.fd, kvmGetSregs, &s); err != nil {
		return fmt.Errorf("kvm: KVM_GET_SREGS: %w", err)
	}
	s.CR3 = cr3
	if err := ioctlPtr(v.fd, kvmSetSregs, &s); err != nil {
		return fmt.Errorf("kvm: KVM_SET_SREGS: %w", err)
	}
	v.cr3 = cr3
	return nil
}

func (v *vcpu) release() {
	if v.runMem != nil {
		unix.Munmap(v.runMem)
		v.runMem = nil
	}
	if v.fd >= 0 {
		unix.Close(v.fd)
		v.fd = -1
	}
}
