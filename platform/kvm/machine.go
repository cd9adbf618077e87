package kvm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Guest-physical layout: the memory file at 0 (slot 0), the platform's private memory
// (page tables, the trampoline, descriptor tables, ring-0 stacks) at privGPA (slot 1). App
// code can reach only what its page tables map with the user bit: memory-file ranges.
//
// Guest-virtual layout: the app's half below MaxUserAddress; the supervisor region at supVA
// in the upper half, mapped supervisor-only by one PML4 entry that every address space's
// top table shares: the trampoline code, the IDT and, per vCPU, a GDT+TSS page and a
// ring-0 stack page.
const (
	// The memory file is mapped in chunks (one memory slot each, created when a mapping
	// first reaches it): KVM sizes per-page metadata by the slot, so one slot for the whole
	// sparse file would cost seconds at start-up.
	memFileChunk = 1 << 34
	memFileMax   = 1 << 44 // the memory file's size (kernel/mm)
	privGPA      = 1 << 45
	privSize     = 1 << 28 // page tables and the supervisor region, faulted in as used
	pageSize     = 4096

	supVA       = 0x7f80_0000_0000 // PML4 entry 255; PVM runs supervisor code only at positive addresses
	trampVA     = supVA
	idtVA       = supVA + 0x2000
	trampSys    = trampVA + 0x000 // MSR_LSTAR: out %al,$0x80
	trampIret   = trampVA + 0x010 // iretq to the frame the host wrote on the ring-0 stack
	trampFlush  = trampVA + 0x020 // reload CR3 (TLB flush), then iretq
	trampReplay = trampVA + 0x040 // replay the PTE log, reload CR3, then iretq
	trampStop   = trampVA + 0x0c0 // ring 0: out %al,$0x82 (end of a replay-only run)
	trampVecs   = trampVA + 0x100 // vector n: out %al,$0x81 at trampVecs+4n
	portSyscall = 0x80
	// vecInt80 is the 32-bit syscall entry (int $0x80), an exit like a syscall: its stub is
	// at trampVecs+4*0x80, past the exception stubs.
	vecInt80   = 0x80
	portVector = 0x81
	portStop   = 0x82

	// privVA maps all private memory (supervisor-only, 2 MiB pages), so the trampoline can
	// rewrite page-table entries: see addressSpace.log.
	privVA = supVA + 1<<30
)

// vcpuVA is where vCPU id's GDT+TSS page lives; its ring-0 stack page follows.
func vcpuVA(id int) uint64 { return supVA + 0x10000*uint64(id+1) }

// Page-table entry bits.
const (
	ptePresent = 1 << 0
	pteWrite   = 1 << 1
	pteUser    = 1 << 2
	pteNX      = 1 << 63
	pteAddr    = 0x000ffffffffff000
)

// machine is one VM: the memory file as guest memory, private pages, and vCPUs.
type machine struct {
	kvmFD, vmFD int
	runSize     int
	priv        []byte

	mu       sync.Mutex
	nextPage uint64 // next never-used private page (offset)
	// Page-table pages of released address spaces (protected by mu). Their entries are
	// zero in memory; zapping ones wait until a vCPU has rewritten those entries from
	// ring 0 (zapLog), which empties any shadow copy the hypervisor holds of them too;
	// then they are free for new tables.
	zapPages, zapLog []uint64
	free             []uint64
	supPDPT          uint64 // the shared supervisor subtree
	nextVCPU         int
	memFD            int
	chunks           map[uint64][]byte // memory-file chunk index -> host mapping
	// hosts are the host files mapped with MapHostFile, each a memory slot of its own in
	// the guest-physical range [memFileMax, privGPA); nextHostGPA and nextHostSlot are the
	// next free ones (never reused: a vCPU may still hold a stale translation). protected by mu
	hosts        map[uint32]*hostRegion
	nextHostGPA  uint64
	nextHostSlot uint32
	cpuid        []uint32 // struct kvm_cpuid2 for every vCPU: what KVM supports here
}

func openKVM() (int, error) {
	fd, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return -1, errors.New("/dev/kvm does not exist (no KVM on this host: load the kvm module or use another platform)")
		}
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			return -1, fmt.Errorf("/dev/kvm: permission denied for uid %d (add the user to the kvm group, or use another platform)", os.Getuid())
		}
		return -1, fmt.Errorf("/dev/kvm: %v", err)
	}
	v, err := ioctl(fd, kvmGetAPIVersion, 0)
	if err != nil || v != kvmAPIVersionWanted {
		unix.Close(fd)
		return -1, fmt.Errorf("/dev/kvm: API version %d, want %d", v, kvmAPIVersionWanted)
	}
	return fd, nil
}

// newMachine creates a VM. memFile may be nil (probes).
func newMachine(memFile *os.File) (*machine, error) {
	kfd, err := openKVM()
	if err != nil {
		return nil, err
	}
	m := &machine{kvmFD: kfd, vmFD: -1}
	fail := func(what string, err error) (*machine, error) {
		m.close()
		return nil, fmt.Errorf("kvm: %s: %w", what, err)
	}
	for _, c := range []struct {
		cap  uintptr
		name string
	}{{kvmCapSyncRegs, "KVM_CAP_SYNC_REGS"}, {kvmCapImmediateExit, "KVM_CAP_IMMEDIATE_EXIT"}} {
		if r, _ := ioctl(kfd, kvmCheckExtension, c.cap); r == 0 {
			return fail("capability", fmt.Errorf("%s missing", c.name))
		}
	}
	rs, err := ioctl(kfd, kvmGetVCPUMmapSize, 0)
	if err != nil {
		return fail("KVM_GET_VCPU_MMAP_SIZE", err)
	}
	m.runSize = int(rs)
	if m.cpuid, err = supportedCPUID(kfd); err != nil {
		return fail("KVM_GET_SUPPORTED_CPUID", err)
	}
	vfd, err := ioctl(kfd, kvmCreateVM, 0)
	if err != nil {
		return fail("KVM_CREATE_VM", err)
	}
	m.vmFD = int(vfd)
	m.priv, err = unix.Mmap(-1, 0, privSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return fail("private memory", err)
	}
	if err := m.setRegion(1, privGPA, m.priv); err != nil {
		return fail("private memory slot", err)
	}
	m.memFD = -1
	m.chunks = map[uint64][]byte{}
	m.hosts = map[uint32]*hostRegion{}
	m.nextHostGPA = memFileMax
	m.nextHostSlot = 2 + memFileMax/memFileChunk
	if memFile != nil {
		m.memFD = int(memFile.Fd())
	}
	// The supervisor region: trampoline code and IDT.
	m.supPDPT = m.allocPage()
	tramp := m.allocPage()
	code := m.page(tramp)
	for i := range code {
		code[i] = 0xf4 // hlt
	}
	put := func(va uint64, b ...byte) { copy(code[va-trampVA:], b) }
	put(trampSys, 0xe6, portSyscall)                                            // out %al, $0x80
	put(trampIret, 0x48, 0xcf)                                                  // iretq
	put(trampFlush, 0x50, 0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, 0x58, 0x48, 0xcf) // push rax; cr3 reload; pop rax; iretq
	// [rsp] holds the log's address, above it the iret frame. The log is a count, then the
	// addresses of PTEs to rewrite with their own value: under shadow paging only the
	// guest's own writes to its page tables reach the hypervisor's shadow copies.
	put(trampReplay,
		0x48, 0x87, 0x14, 0x24, // xchg (%rsp), %rdx
		0x50, 0x51, 0x56, // push rax, rcx, rsi
		0x48, 0x8b, 0x0a, // mov (%rdx), %rcx
		0x48, 0x85, 0xc9, // 1: test %rcx, %rcx
		0x74, 0x0f, // jz 2f
		0x48, 0x8b, 0x04, 0xca, // mov (%rdx,%rcx,8), %rax
		0x48, 0x8b, 0x30, // mov (%rax), %rsi
		0x48, 0x89, 0x30, // mov %rsi, (%rax)
		0x48, 0xff, 0xc9, // dec %rcx
		0xeb, 0xec, // jmp 1b
		0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, // 2: mov %cr3, %rax; mov %rax, %cr3
		0x5e, 0x59, 0x58, 0x5a, // pop rsi, rcx, rax, rdx
		0x48, 0xcf) // iretq
	put(trampStop, 0xe6, portStop)
	idt := m.allocPage()
	it := m.page(idt)
	vecs := []uint64{vecInt80} // the exceptions (0-31), and int 0x80
	for n := uint64(0); n < 32; n++ {
		vecs = append(vecs, n)
	}
	for _, n := range vecs {
		put(trampVecs+4*n, 0xe6, portVector)
		h := trampVecs + 4*n
		g := it[16*n:]
		attr := byte(0x8e) // present, DPL 0, interrupt gate
		if n == 3 || n == 4 || n == vecInt80 {
			attr = 0xee // int3, into and int 0x80 are allowed from user mode
		}
		g[0], g[1] = byte(h), byte(h>>8)
		g[2], g[3] = 0x10, 0
		g[4], g[5] = 0, attr
		g[6], g[7] = byte(h>>16), byte(h>>24)
		binary.LittleEndian.PutUint32(g[8:], uint32(h>>32))
	}
	m.mapSup(trampVA, tramp, ptePresent)
	m.mapPrivate()
	m.mapSup(idtVA, idt, ptePresent|pteNX)
	return m, nil
}

// ensureMemory makes memory-file range [off, off+length) guest memory, at the same
// guest-physical addresses.
func (m *machine) ensureMemory(off, length uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := off / memFileChunk; i <= (off+length-1)/memFileChunk; i++ {
		if m.chunks[i] != nil {
			continue
		}
		if m.memFD < 0 {
			return errors.New("kvm: no memory file")
		}
		c, err := unix.Mmap(m.memFD, int64(i*memFileChunk), memFileChunk, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE)
		if err != nil {
			return fmt.Errorf("kvm: mapping the memory file: %w", err)
		}
		if err := m.setRegion(uint32(2+i), i*memFileChunk, c); err != nil {
			unix.Munmap(c)
			return fmt.Errorf("kvm: memory slot for the memory file: %w", err)
		}
		m.chunks[i] = c
	}
	return nil
}

// hostRegion is a host file range mapped as guest memory.
type hostRegion struct {
	slot     uint32
	gpa, len uint64
	mem      []byte
}

// addHost maps [off, off+length) of host file fd as guest memory and returns its region.
func (m *machine) addHost(fd int, off int64, length uint64) (*hostRegion, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.nextHostGPA+length > privGPA || m.nextHostGPA+length < m.nextHostGPA {
		return nil, unix.ENOMEM
	}
	mem, err := unix.Mmap(fd, off, int(length), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		// A file opened read-only maps read-only (the guest entries say what the app may do).
		if mem, err = unix.Mmap(fd, off, int(length), unix.PROT_READ, unix.MAP_SHARED); err != nil {
			return nil, err
		}
	}
	r := &hostRegion{slot: m.nextHostSlot, gpa: m.nextHostGPA, len: length, mem: mem}
	if err := m.setRegion(r.slot, r.gpa, mem); err != nil {
		unix.Munmap(mem)
		return nil, fmt.Errorf("kvm: memory slot for a host file: %w", err)
	}
	m.nextHostSlot++
	m.nextHostGPA += length
	m.hosts[r.slot] = r
	return r, nil
}

// dropHost deletes a host region's memory slot and mapping.
func (m *machine) dropHost(r *hostRegion) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hosts[r.slot] != r {
		return
	}
	delete(m.hosts, r.slot)
	kr := kvmMemoryRegion{Slot: r.slot, GuestPhys: r.gpa}
	ioctlPtr(m.vmFD, kvmSetUserMemoryRegion, &kr)
	unix.Munmap(r.mem)
}

func (m *machine) setRegion(slot uint32, gpa uint64, mem []byte) error {
	r := kvmMemoryRegion{Slot: slot, GuestPhys: gpa, Size: uint64(len(mem)), UserAddr: uint64(uintptr(unsafe.Pointer(&mem[0])))}
	return ioctlPtr(m.vmFD, kvmSetUserMemoryRegion, &r)
}

// allocPage returns the guest-physical address of a zeroed private page.
func (m *machine) allocPage() uint64 { return m.allocPages(1) }

// allocTable returns a zeroed private page for a page table: a freed one when there is one.
func (m *machine) allocTable() uint64 {
	m.mu.Lock()
	if n := len(m.free); n > 0 {
		pg := m.free[n-1]
		m.free = m.free[:n-1]
		m.mu.Unlock()
		return pg
	}
	m.mu.Unlock()
	return m.allocPage()
}

// allocPages returns n contiguous zeroed private pages, never used before. Only page
// tables are reused (allocTable, retire): a page that once held one may still have a
// shadow copy in the hypervisor (PVM and other shadow-paging hosts), which host writes to
// it would not update, so it comes back only as a table, once emptied from the guest.
func (m *machine) allocPages(n int) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	off := m.nextPage
	if off+uint64(n)*pageSize > privSize {
		return 0 // out of page-table memory: callers fail with ENOMEM
	}
	m.nextPage += uint64(n) * pageSize
	return privGPA + off
}

// page returns the host view of a private page.
func (m *machine) page(gpa uint64) []byte {
	off := gpa - privGPA
	return m.priv[off : off+pageSize]
}

func (m *machine) table(gpa uint64) *[512]uint64 {
	return (*[512]uint64)(unsafe.Pointer(&m.priv[gpa-privGPA]))
}

// walk returns the last-level table entry for va under root, creating tables if create.
// The guest-physical address of the entry is returned too; tables it creates are
// appended to log (when not nil) as the entries pointing to them are written.
func (m *machine) walk(root, va uint64, create bool, log *[]uint64) (*uint64, uint64) {
	t := m.table(root)
	tgpa := root
	for shift := uint(39); shift > 12; shift -= 9 {
		i := (va >> shift) & 511
		e := &t[i]
		if *e&ptePresent == 0 {
			if !create {
				return nil, 0
			}
			pg := m.allocTable()
			if pg == 0 {
				return nil, 0
			}
			*e = pg | ptePresent | pteWrite | pteUser
			if log != nil {
				*log = append(*log, tgpa+8*i)
			}
		}
		tgpa = *e & pteAddr
		t = m.table(tgpa)
	}
	i := (va >> 12) & 511
	return &t[i], tgpa + 8*i
}

// mapSup maps a private page into the supervisor region.
func (m *machine) mapSup(va, gpa, flags uint64) {
	// Walk from a scratch top table whose supervisor entry is the shared PDPT.
	var top [512]uint64
	top[(va>>39)&511] = m.supPDPT | ptePresent | pteWrite
	t := &top
	for shift := uint(39); shift > 12; shift -= 9 {
		e := &t[(va>>shift)&511]
		if *e&ptePresent == 0 {
			*e = m.allocPage() | ptePresent | pteWrite
		}
		t = m.table(*e & pteAddr)
	}
	t[(va>>12)&511] = gpa | flags
}

// mapPrivate maps all private memory at privVA, supervisor-only, with 2 MiB pages.
func (m *machine) mapPrivate() {
	var top [512]uint64
	top[(privVA>>39)&511] = m.supPDPT | ptePresent | pteWrite
	pdpt := m.table(m.supPDPT)
	e := &pdpt[(privVA>>30)&511]
	if *e&ptePresent == 0 {
		*e = m.allocPage() | ptePresent | pteWrite
	}
	pd := m.table(*e & pteAddr)
	for i := uint64(0); i < privSize>>21; i++ {
		pd[((privVA>>21)+i)&511] = (privGPA + i<<21) | ptePresent | pteWrite | 1<<7 | pteNX
	}
}

// newTopTable returns a new address space's top table, sharing the supervisor region.
func (m *machine) newTopTable() uint64 {
	root := m.allocTable()
	if root == 0 {
		return 0
	}
	m.table(root)[(supVA>>39)&511] = m.supPDPT | ptePresent | pteWrite
	return root
}

func (m *machine) mapPage(root, va, gpa, flags uint64) error {
	e, _ := m.walk(root, va, true, nil)
	if e == nil {
		return errNoPrivate
	}
	*e = gpa | flags
	return nil
}

// retire takes the page-table tree at root apart: every entry is zeroed in memory and its
// pages are freed, at once when no vCPU ever ran on the tree (no shadow copy can hold its
// entries), else once a vCPU has rewritten the zeroed entries from ring 0 (takeZaps).
// The supervisor subtree, shared by every tree, stays.
func (m *machine) retire(root uint64, ran bool) {
	var pages, entries []uint64
	var walk func(tgpa uint64, shift uint)
	walk = func(tgpa uint64, shift uint) {
		pages = append(pages, tgpa)
		t := m.table(tgpa)
		for i := range t {
			if t[i] == 0 || (shift == 39 && uint64(i) == (supVA>>39)&511) {
				continue
			}
			if shift > 12 && t[i]&ptePresent != 0 {
				walk(t[i]&pteAddr, shift-9)
			}
			t[i] = 0
			entries = append(entries, tgpa+8*uint64(i))
		}
	}
	walk(root, 39)
	m.table(root)[(supVA>>39)&511] = 0
	m.mu.Lock()
	defer m.mu.Unlock()
	if !ran {
		m.free = append(m.free, pages...)
		return
	}
	m.zapPages = append(m.zapPages, pages...)
	m.zapLog = append(m.zapLog, entries...)
	// The supervisor entry of the root is rewritten (to zero) too.
	m.zapLog = append(m.zapLog, root+8*((supVA>>39)&511))
}

// takeZaps returns the entries of retired tables a vCPU entering now must rewrite, and
// the pages that are free once it has (freeZapped).
func (m *machine) takeZaps() (log, pages []uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	log, pages = m.zapLog, m.zapPages
	m.zapLog, m.zapPages = nil, nil
	return log, pages
}

// freeLater puts back zaps a vCPU took but did not run.
func (m *machine) freeLater(log, pages []uint64) {
	if pages == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.zapLog = append(m.zapLog, log...)
	m.zapPages = append(m.zapPages, pages...)
}

// freeZapped makes pages whose entries a vCPU has rewritten free for new tables.
func (m *machine) freeZapped(pages []uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.free = append(m.free, pages...)
}

func (m *machine) close() {
	if m.vmFD >= 0 {
		unix.Close(m.vmFD)
		m.vmFD = -1
	}
	if m.kvmFD >= 0 {
		unix.Close(m.kvmFD)
		m.kvmFD = -1
	}
	if m.priv != nil {
		unix.Munmap(m.priv)
		m.priv = nil
	}
	for i, c := range m.chunks {
		unix.Munmap(c)
		delete(m.chunks, i)
	}
	for s, r := range m.hosts {
		unix.Munmap(r.mem)
		delete(m.hosts, s)
	}
}

var errNoPrivate = errors.New("kvm: private memory for page tables exhausted (too many page tables at once; use --platform trap)")

// forEachPTE calls fn for each non-zero last-level entry in [start, end) under root,
// skipping absent subtrees, with the entry's virtual and guest-physical address.
func (m *machine) forEachPTE(root, start, end uint64, fn func(va uint64, e *uint64, gpa uint64)) {
	m.forEach(root, 39, 0, start, end, fn)
}

func (m *machine) forEach(tgpa uint64, shift uint, base, start, end uint64, fn func(va uint64, e *uint64, gpa uint64)) {
	t := m.table(tgpa)
	span := uint64(1) << shift
	for i := uint64(0); i < 512; i++ {
		lo := base + i*span
		if lo+span <= start || lo >= end {
			continue
		}
		if shift == 39 && i == (supVA>>39)&511 {
			continue
		}
		e := &t[i]
		if shift == 12 {
			if *e != 0 {
				fn(lo, e, tgpa+8*i)
			}
			continue
		}
		if *e&ptePresent != 0 {
			m.forEach(*e&pteAddr, shift-9, lo, start, end, fn)
		}
	}
}
