package role

import (
	"encoding/binary"
	"errors"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// The bounding-set program is a tiny static x86-64 program generated here (no assembler,
// no cgo, no Go runtime: one thread). Started in the role's new namespaces with the role's
// FDs, itself at progFD and the sbx binary (O_PATH) at exeFD, it:
//
//  1. drops every capability from its bounding set (prctl(PR_CAPBSET_DROP) for 0..63;
//     numbers past CAP_LAST_CAP fail with EINVAL, which it ignores),
//  2. closes progFD and marks exeFD close-on-exec,
//  3. closes every FD above exeFD (close_range(2); ENOSYS before Linux 5.9 is ignored): the
//     launcher's Go runtime writes a role's uid_map, gid_map and setgroups through FDs it
//     opens without O_CLOEXEC, and Go lets two forks run at once, so a role started while
//     the other's maps were being written inherited one of them (CI saw the kernel holding
//     the gofer's /proc/PID/setgroups),
//  4. executes the sbx binary (execveat(exeFD, "", argv, envp, AT_EMPTY_PATH)) with its own
//     argv and environment; if that fails it says so on stderr and exits with 125.
//
// The role then starts with an empty bounding set and only its ambient capabilities
// (Spec.Caps), which execve keeps: permitted' = (inheritable & file) | (bounding & file)
// | ambient, and for root inside its namespace the bounding part is empty too.

const (
	progBase = 0x400000
	progCode = 0x78 // ELF header (64) + one program header (56)

	sysClose      = 3
	sysCloseRange = 436
	sysWrite      = 1
	sysFcntl      = 72
	sysPrctl      = 157
	sysExitGroup  = 231
	sysExecveat   = 322

	prCapbsetDrop = 24
	fSetfd        = 2
	fdCloexec     = 1
	atEmptyPath   = 0x1000
)

// bsetImage returns the program for the given FD numbers.
func bsetImage(progFD, exeFD int) []byte {
	var code []byte
	emit := func(b ...byte) { code = append(code, b...) }
	imm := func(v uint32) { code = binary.LittleEndian.AppendUint32(code, v) }
	movEAX := func(v uint32) { emit(0xb8); imm(v) }
	movEDI := func(v uint32) { emit(0xbf); imm(v) }
	movESI := func(v uint32) { emit(0xbe); imm(v) }
	movEDX := func(v uint32) { emit(0xba); imm(v) }
	syscall := func() { emit(0x0f, 0x05) }
	// leaRSI patches a rip-relative address of data placed after the code.
	var patches []struct{ at, data int }
	leaRSI := func(data int) {
		emit(0x48, 0x8d, 0x35)
		patches = append(patches, struct{ at, data int }{len(code), data})
		imm(0)
	}
	const (
		dataEmpty = iota
		dataMsg
	)
	msg := "sbx: starting a helper role: cannot execute the sbx binary (execveat failed)\n"

	emit(0x45, 0x31, 0xe4) // xor r12d, r12d
	loop := len(code)
	movEAX(sysPrctl)
	movEDI(prCapbsetDrop)
	emit(0x4c, 0x89, 0xe6) // mov rsi, r12
	syscall()
	emit(0x49, 0xff, 0xc4)       // inc r12
	emit(0x49, 0x83, 0xfc, 0x40) // cmp r12, 64
	emit(0x72, byte(int8(loop-(len(code)+2))))
	movEAX(sysClose)
	movEDI(uint32(progFD))
	syscall()
	movEAX(sysFcntl)
	movEDI(uint32(exeFD))
	movESI(fSetfd)
	movEDX(fdCloexec)
	syscall()
	movEAX(sysCloseRange)
	movEDI(uint32(exeFD + 1))
	movESI(^uint32(0))
	movEDX(0)
	syscall()
	// argv is at rsp+8, envp after argv's NULL: rsp + 8*(argc+2).
	emit(0x48, 0x8b, 0x0c, 0x24)       // mov rcx, [rsp]
	emit(0x48, 0x8d, 0x54, 0x24, 0x08) // lea rdx, [rsp+8]
	emit(0x4c, 0x8d, 0x54, 0xcc, 0x10) // lea r10, [rsp+rcx*8+16]
	emit(0x41, 0xb8)                   // mov r8d, AT_EMPTY_PATH
	imm(atEmptyPath)
	leaRSI(dataEmpty)
	movEDI(uint32(exeFD))
	movEAX(sysExecveat)
	syscall()
	movEAX(sysWrite)
	movEDI(2)
	leaRSI(dataMsg)
	movEDX(uint32(len(msg)))
	syscall()
	movEAX(sysExitGroup)
	movEDI(125)
	syscall()
	data := map[int]int{dataEmpty: len(code)}
	emit(0)
	data[dataMsg] = len(code)
	emit([]byte(msg)...)
	for _, p := range patches {
		binary.LittleEndian.PutUint32(code[p.at:], uint32(data[p.data]-(p.at+4)))
	}

	le := binary.LittleEndian
	size := progCode + len(code)
	elf := make([]byte, progCode, size)
	copy(elf, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0})
	le.PutUint16(elf[16:], 2)    // ET_EXEC
	le.PutUint16(elf[18:], 0x3e) // EM_X86_64
	le.PutUint32(elf[20:], 1)
	le.PutUint64(elf[24:], progBase+progCode) // e_entry
	le.PutUint64(elf[32:], 64)                // e_phoff
	le.PutUint16(elf[52:], 64)                // e_ehsize
	le.PutUint16(elf[54:], 56)                // e_phentsize
	le.PutUint16(elf[56:], 1)                 // e_phnum
	ph := elf[64:]
	le.PutUint32(ph[0:], 1)             // PT_LOAD
	le.PutUint32(ph[4:], 5)             // PF_R|PF_X
	le.PutUint64(ph[16:], progBase)     // p_vaddr
	le.PutUint64(ph[24:], progBase)     // p_paddr
	le.PutUint64(ph[32:], uint64(size)) // p_filesz
	le.PutUint64(ph[40:], uint64(size)) // p_memsz
	le.PutUint64(ph[48:], 0x1000)       // p_align
	return append(elf, code...)
}

// makeBsetProgram writes the program into a sealed memfd.
func makeBsetProgram(progFD, exeFD int) (*os.File, error) {
	if runtime.GOARCH != "amd64" {
		return nil, errors.New("the bounding-set program is x86-64 code")
	}
	const mfdExec = 0x10 // MFD_EXEC (Linux 6.3): say so where memfds are noexec by default
	fd, err := unix.MemfdCreate("sbx-role-start", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|mfdExec)
	if err == unix.EINVAL {
		fd, err = unix.MemfdCreate("sbx-role-start", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "sbx-role-start")
	img := bsetImage(progFD, exeFD)
	if _, err := f.Write(img); err != nil {
		f.Close()
		return nil, err
	}
	if err := unix.Fchmod(fd, 0o500); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
