package ptrace

import (
	"encoding/binary"
)

// The stub is a tiny static x86-64 program that the platform generates at start (no
// assembler, no cgo). It runs no Go runtime and holds no host FD but the memory file and
// the socket it receives host files to map on (MapHostFile; each is closed once mapped). It:
//
//  1. names itself "sbx-stub" (PR_SET_NAME) and closes every other FD,
//  2. sets no_new_privs and installs a seccomp filter that kills the process on any
//     syscall except mmap, munmap, mprotect, exit_group, recvmsg and close made from its
//     own injection site — app syscalls are stopped by PTRACE_SYSEMU before seccomp sees them, so the
//     filter only matters if the tracer is gone or the app finds the site,
//  3. traps (int3) so the tracer can take over.
//
// After that the tracer injects syscalls by pointing rip at the site (syscall; int3) and
// runs app code with PTRACE_SYSEMU.

// StubBase is where the stub's single page lives: above every address the app may map.
const (
	StubBase = 0x7ff000000000
	stubSize = 0x1000
	// maxUserAddress is the exclusive upper bound of app mappings.
	maxUserAddress = StubBase
	codeOff        = 0x80
)

// stubImage is the generated program and the address of its injection site.
type stubImage struct {
	elf  []byte
	site uint64 // address of the `syscall` instruction used for injection
	// cloneSite is where a shared trap stub's main thread clones app threads (shared.go).
	cloneSite uint64
	// fastUpgrade and fastTail are the trap stub's trampoline addresses: its ud2 (a
	// signal frame asked for) and its tail (trapstub_amd64.s).
	fastUpgrade, fastTail uint64
}

const (
	sysClose      = 3
	sysMmap       = 9
	sysMprotect   = 10
	sysMunmap     = 11
	sysMremap     = 25
	sysRecvmsg    = 47
	sysPrctl      = 157
	sysExitGroup  = 231
	sysSeccomp    = 317
	sysCloseRange = 436

	auditArchX8664 = 0xc000003e
	retKillProcess = 0x80000000
	retAllow       = 0x7fff0000
)

func buildStub() stubImage {
	code := []byte{}
	emit := func(b ...byte) { code = append(code, b...) }
	u32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	var namePatch, fprogPatch int
	// prctl(PR_SET_NAME, name)
	emit(0xb8)
	emit(u32(sysPrctl)...)
	emit(0xbf)
	emit(u32(15)...)
	emit(0x48, 0x8d, 0x35)
	namePatch = len(code)
	emit(0, 0, 0, 0)
	emit(0x0f, 0x05)
	// close_range(2, ~0U, 0): the memory file (FD 0) and the socket it receives host files
	// on (FD 1) are the only host FDs a stub holds.
	emit(0xb8)
	emit(u32(sysCloseRange)...)
	emit(0xbf)
	emit(u32(2)...)
	emit(0xbe)
	emit(u32(0xffffffff)...)
	emit(0x31, 0xd2) // xor edx, edx
	emit(0x0f, 0x05)
	// prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	emit(0xb8)
	emit(u32(sysPrctl)...)
	emit(0xbf)
	emit(u32(38)...)
	emit(0xbe)
	emit(u32(1)...)
	emit(0x31, 0xd2)       // xor edx, edx
	emit(0x4d, 0x31, 0xd2) // xor r10, r10
	emit(0x4d, 0x31, 0xc0) // xor r8, r8
	emit(0x0f, 0x05)
	// seccomp(SECCOMP_SET_MODE_FILTER, 0, &fprog)
	emit(0xb8)
	emit(u32(sysSeccomp)...)
	emit(0xbf)
	emit(u32(1)...)
	emit(0x31, 0xf6) // xor esi, esi
	emit(0x48, 0x8d, 0x15)
	fprogPatch = len(code)
	emit(0, 0, 0, 0)
	emit(0x0f, 0x05)
	emit(0xcc) // int3: hand over to the tracer (rax holds seccomp's result)
	siteOff := len(code)
	emit(0x0f, 0x05) // site: syscall
	emit(0xcc)       // int3
	emit(0xeb, 0xfb) // jmp site
	for len(code)%8 != 0 {
		emit(0xcc)
	}
	nameOff := len(code)
	emit([]byte("sbx-stub\x00")...)
	for len(code)%8 != 0 {
		emit(0)
	}
	site := uint64(StubBase + codeOff + siteOff)
	filter := stubFilter(site + 2)
	fprogOff := len(code)
	filterOff := fprogOff + 16
	code = binary.LittleEndian.AppendUint16(code, uint16(len(filter)))
	emit(0, 0, 0, 0, 0, 0)
	code = binary.LittleEndian.AppendUint64(code, StubBase+codeOff+uint64(filterOff))
	for _, ins := range filter {
		code = binary.LittleEndian.AppendUint16(code, ins.code)
		code = append(code, ins.jt, ins.jf)
		code = binary.LittleEndian.AppendUint32(code, ins.k)
	}
	// rip-relative displacements are from the end of the 4-byte field.
	binary.LittleEndian.PutUint32(code[namePatch:], uint32(nameOff-(namePatch+4)))
	binary.LittleEndian.PutUint32(code[fprogPatch:], uint32(fprogOff-(fprogPatch+4)))

	// ELF header and one PT_LOAD covering the file, read+exec, at StubBase.
	elf := elfHeader(codeOff + len(code))
	elf = append(elf, code...)
	return stubImage{elf: elf, site: site}
}

type bpf struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

// stubFilter allows only the injected address-space calls, from the injection site.
func stubFilter(ip uint64) []bpf {
	const (
		ldAbs = 0x20 // BPF_LD|BPF_W|BPF_ABS
		jeq   = 0x15 // BPF_JMP|BPF_JEQ|BPF_K
		ret   = 0x06 // BPF_RET|BPF_K
	)
	allowed := []uint32{sysMmap, sysMunmap, sysMprotect, sysExitGroup, sysRecvmsg, sysClose}
	// Layout: checks..., kill, allow.
	var f []bpf
	n := 6 + 1 + len(allowed) + 2 // total instructions
	killAt := n - 2
	allowAt := n - 1
	jumpTo := func(from, to int) uint8 { return uint8(to - from - 1) }
	f = append(f, bpf{ldAbs, 0, 0, 4})
	f = append(f, bpf{jeq, 0, jumpTo(1, killAt), auditArchX8664})
	f = append(f, bpf{ldAbs, 0, 0, 8})
	f = append(f, bpf{jeq, 0, jumpTo(3, killAt), uint32(ip)})
	f = append(f, bpf{ldAbs, 0, 0, 12})
	f = append(f, bpf{jeq, 0, jumpTo(5, killAt), uint32(ip >> 32)})
	f = append(f, bpf{ldAbs, 0, 0, 0})
	for i, nr := range allowed {
		at := 7 + i
		f = append(f, bpf{jeq, jumpTo(at, allowAt), 0, nr})
	}
	f = append(f, bpf{ret, 0, 0, retKillProcess})
	f = append(f, bpf{ret, 0, 0, retAllow})
	return f
}
