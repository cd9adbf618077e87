package syscalls_test

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/fs/tmpfs"
	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/syscalls"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// Fuzzing the syscall entry: every value an app passes is untrusted input, so random
// syscall numbers and arguments go into a whole in-process kernel (real syscall table,
// tmpfs root, memory file) whose platform, instead of running app code, hands the task
// one decoded call after another. A kernel panic crashes the test; a call that ignores
// SIGKILL fails it as a hang.
//
// `go test` runs the seeds and the named regressions below. To search longer:
//
//	go test -run NONE -fuzz FuzzSyscalls -fuzztime 5m ./kernel/syscalls
//
// and keep any crasher it finds as a named case in fuzzRegressions.

// scratch is a writable region of the fuzzed process: pointer arguments point into it.
const (
	scratch     = 0x600000
	scratchSize = 0x10000
	textAddr    = 0x400000
)

// fuzzCall is one system call with its arguments.
type fuzzCall struct {
	nr   uint64
	args [6]uint64
}

// Argument kinds in the input encoding: each argument is a kind byte and 8 value bytes.
const (
	argSmall   = iota // a small signed number
	argPtr            // scratch + value%scratchSize
	argRaw            // the 64-bit value as it is
	argFD             // a descriptor number 0..15
	argMinus1         // -1
	argHuge           // near 2^63 or 2^64
	argFlags          // the low 32 bits
	argPtrWild        // an address around the end of the user address space
	argKinds
)

// decode turns fuzz input into the scratch area's initial bytes and a list of calls: two
// bytes of scratch length, the scratch bytes, then per call two bytes of number and six
// arguments.
func decode(data []byte) ([]byte, []fuzzCall) {
	if len(data) < 2 {
		return nil, nil
	}
	n := int(binary.LittleEndian.Uint16(data)) % 512
	data = data[2:]
	n = min(n, len(data))
	pre, data := data[:n], data[n:]
	var calls []fuzzCall
	for len(data) >= 2+6*9 && len(calls) < 64 {
		c := fuzzCall{nr: uint64(binary.LittleEndian.Uint16(data)) % 460}
		data = data[2:]
		for i := range c.args {
			kind, v := data[0]%argKinds, binary.LittleEndian.Uint64(data[1:9])
			data = data[9:]
			switch kind {
			case argSmall:
				c.args[i] = uint64(int64(int8(v)))
			case argPtr:
				c.args[i] = scratch + v%scratchSize
			case argRaw:
				c.args[i] = v
			case argFD:
				c.args[i] = v % 16
			case argMinus1:
				c.args[i] = ^uint64(0)
			case argHuge:
				c.args[i] = 1<<63 - v%8192 + uint64(v>>63)<<63
			case argFlags:
				c.args[i] = v & 0xffffffff
			case argPtrWild:
				c.args[i] = 0x7ffffffff000 - v%0x10000 + v%3*0x800000000000
			}
		}
		calls = append(calls, c)
	}
	return pre, calls
}

// encode is decode's inverse, for writing seeds and regressions as calls.
func encode(pre string, calls ...fuzzCall) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint16(b, uint16(len(pre)))
	b = append(b, pre...)
	for _, c := range calls {
		b = binary.LittleEndian.AppendUint16(b, uint16(c.nr))
		for _, a := range c.args {
			b = append(b, argRaw)
			b = binary.LittleEndian.AppendUint64(b, a)
		}
	}
	return b
}

func call(nr uint64, args ...uint64) fuzzCall {
	c := fuzzCall{nr: nr}
	copy(c.args[:], args)
	return c
}

// fuzzPlatform runs no code: the first context (the fuzzed process) makes the decoded
// calls, then exits; every other context (children, threads) exits at once.
type fuzzPlatform struct {
	mu    sync.Mutex
	calls []fuzzCall // protected by mu
	first bool       // protected by mu
}

func (p *fuzzPlatform) Name() string           { return "fuzz" }
func (p *fuzzPlatform) MaxUserAddress() uint64 { return 0x7ffffffff000 }
func (p *fuzzPlatform) Close() error           { return nil }
func (p *fuzzPlatform) VDSO() *platform.VDSO   { return nil }
func (p *fuzzPlatform) NewAddressSpace() (platform.AddressSpace, error) {
	return fuzzAS{}, nil
}
func (p *fuzzPlatform) NewContext() (platform.Context, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := &fuzzContext{p: p, main: !p.first}
	p.first = true
	return c, nil
}

type fuzzAS struct{}

func (fuzzAS) MapFile(addr, length uint64, offset int64, prot platform.Prot) error { return nil }
func (fuzzAS) MapHostFile(uint64, uint64, int, int64, platform.Prot) error         { return nil }
func (fuzzAS) Unmap(addr, length uint64) error                                     { return nil }
func (fuzzAS) Protect(addr, length uint64, prot platform.Prot) error               { return nil }
func (fuzzAS) Release()                                                            {}

type fuzzContext struct {
	p    *fuzzPlatform
	main bool
}

func (c *fuzzContext) Switch(as platform.AddressSpace, r *platform.Registers) (platform.Event, error) {
	next := call(unix.SYS_EXIT, 0)
	if c.main {
		next = call(unix.SYS_EXIT_GROUP, 0)
		c.p.mu.Lock()
		if len(c.p.calls) > 0 {
			next = c.p.calls[0]
			c.p.calls = c.p.calls[1:]
		}
		c.p.mu.Unlock()
	}
	r.OrigRax, r.Rax = next.nr, next.nr
	r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9 = next.args[0], next.args[1], next.args[2], next.args[3], next.args[4], next.args[5]
	return platform.Event{Kind: platform.EventSyscall}, nil
}
func (c *fuzzContext) Interrupt()                         {}
func (c *fuzzContext) FPState() ([]byte, error)           { return nil, nil }
func (c *fuzzContext) SetFPState([]byte) error            { return nil }
func (c *fuzzContext) CPUTime() (user, sys time.Duration) { return 0, 0 }
func (c *fuzzContext) Release()                           {}

// tinyELF is a static x86-64 executable of one read-execute page at textAddr and a
// read-write scratch area: enough for execve to build a process (its code never runs).
func tinyELF() []byte {
	le := binary.LittleEndian
	b := make([]byte, 4096)
	copy(b, "\x7fELF\x02\x01\x01")
	le.PutUint16(b[16:], 2)    // ET_EXEC
	le.PutUint16(b[18:], 0x3e) // EM_X86_64
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[24:], textAddr+0x100) // entry
	le.PutUint64(b[32:], 64)             // program headers
	le.PutUint16(b[52:], 64)
	le.PutUint16(b[54:], 56)
	le.PutUint16(b[56:], 2)
	ph := func(off int, flags uint32, vaddr, filesz, memsz uint64) {
		le.PutUint32(b[off:], 1) // PT_LOAD
		le.PutUint32(b[off+4:], flags)
		le.PutUint64(b[off+16:], vaddr)
		le.PutUint64(b[off+24:], vaddr)
		le.PutUint64(b[off+32:], filesz)
		le.PutUint64(b[off+40:], memsz)
		le.PutUint64(b[off+48:], 4096)
	}
	ph(64, 5, textAddr, 4096, 4096)
	ph(120, 6, scratch, 0, scratchSize)
	return b
}

// fuzzGrace is how long fuzzed calls run before the process is killed: blocking calls are
// expected, and what is checked is that the kill ends them.
const fuzzGrace = 300 * time.Millisecond

// runKernel boots a kernel, execs tinyELF as its first process and lets it make the
// calls data decodes to. Calls that block are ended by SIGKILL after grace; a kernel that
// does not end then has a task stuck where a kill cannot reach it.
func runKernel(t *testing.T, data []byte, grace time.Duration) *vfs.Namespace {
	pre, calls := decode(data)
	mf, err := mm.NewMemoryFile()
	if err != nil {
		t.Skipf("no memory file: %v", err)
	}
	defer mf.Close()
	_, rootIn := tmpfs.New(mf, tmpfs.Options{Dev: unix.Mkdev(0, 0x99), Mode: 0o777})
	ns := vfs.NewNamespace(rootIn, "tmpfs", "fuzz-root")
	p := &fuzzPlatform{calls: calls}
	k := kernel.New(kernel.Config{Platform: p, MemoryFile: mf, Syscalls: syscalls.Table(), UID: 1000, GID: 1000}, ns)
	root := ns.Root()
	creds := &vfs.Creds{UID: 1000, EUID: 1000, FSUID: 1000, GID: 1000, EGID: 1000, FSGID: 1000}
	for _, name := range []string{"d", "tmp"} {
		if err := root.Dentry.Inode().Mkdir(name, 0o777, creds); err != nil {
			t.Fatal(err)
		}
	}
	_, f, err := root.Dentry.Inode().Create("exe", unix.O_RDWR, 0o755, creds)
	if err != nil {
		t.Fatal(err)
	}
	exe := vfs.NewAnonFileDescription(f, "exe", unix.O_RDWR)
	_, err = exe.PWrite([][]byte{tinyELF()}, 0)
	exe.DecRef()
	if err != nil {
		t.Fatal(err)
	}
	task, err := k.NewInitGroup(root, root)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Execve(kernel.AtFDCWD, "/exe", []string{"exe"}, []string{"A=1"}, true); err != nil {
		t.Fatalf("exec of the test program: %v", err)
	}
	_, out, err := root.Dentry.Inode().Create("out", unix.O_RDWR, 0o644, creds)
	if err != nil {
		t.Fatal(err)
	}
	stdio := vfs.NewAnonFileDescription(out, "out", unix.O_RDWR)
	for n := int32(0); n < 3; n++ {
		task.FDs().InstallAt(n, stdio, false)
	}
	stdio.DecRef()
	if len(pre) > 0 {
		task.CopyOut(scratch, pre)
	}
	pid := task.Group().PID
	task.Run()
	select {
	case <-k.Done():
		return ns
	case <-time.After(grace):
	}
	k.Signal(pid, unix.SIGKILL)
	select {
	case <-k.Done():
	case <-time.After(time.Minute): // only against a hang
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var stuck []string
		for _, g := range bytes.Split(buf, []byte("\n\n")) {
			if bytes.Contains(g, []byte("sbx/kernel")) {
				stuck = append(stuck, string(g))
			}
		}
		t.Fatalf("the kernel did not end after SIGKILL: a task is stuck\n%s", strings.Join(stuck, "\n\n"))
	}
	return ns
}

// TestFuzzHarness checks that decoded calls really reach the kernel: they create a file.
func TestFuzzHarness(t *testing.T) {
	// (Calls that do not block: a long grace, so that a loaded machine cannot kill the
	// process before they ran.)
	ns := runKernel(t, encode("/tmp/made\x00", call(unix.SYS_OPEN, scratch, unix.O_CREAT|unix.O_WRONLY, 0o600),
		call(unix.SYS_WRITE, 3, scratch, 4)), 30*time.Second)
	root := ns.Root()
	vd, err := ns.Resolve("/tmp/made", vfs.ResolveOpts{Root: root, Start: root})
	if err != nil {
		t.Fatalf("the fuzzed process's open(/tmp/made, O_CREAT) left no file: %v", err)
	}
	if a, _ := vd.Dentry.Inode().Stat(); a.Size != 4 {
		t.Errorf("/tmp/made has size %d; want 4 (the write)", a.Size)
	}
}

// fuzzRegressions are inputs that crashed or hung the kernel once; they stay forever.
var fuzzRegressions = []struct {
	name string
	data []byte
}{
	// splice from a pipe into a tmpfs file at an offset near 2^63 panicked (slice bounds).
	{"SpliceToTmpfsNear2p63", encode("/tmp/f\x00\xfe\xff\xff\xff\xff\xff\xff\x7f",
		call(unix.SYS_OPEN, scratch, unix.O_RDWR|unix.O_CREAT, 0o644),
		call(unix.SYS_PIPE, scratch+0x100),
		call(unix.SYS_WRITE, 5, scratch, 5),
		call(unix.SYS_SPLICE, 4, 0, 3, scratch+7, 5, 0))},
	// pwrite at 2^63-2 computed off+len past the file size limit with an overflow.
	{"PwriteTmpfsNear2p63", encode("/tmp/g\x00",
		call(unix.SYS_OPEN, scratch, unix.O_RDWR|unix.O_CREAT, 0o644),
		call(unix.SYS_PWRITE64, 3, scratch, 1, 1<<63-2),
		call(unix.SYS_FALLOCATE, 3, 0, 1<<63-4096, 8192),
		call(unix.SYS_PREAD64, 3, scratch, 16, 1<<63-16))},
	// mmap of a memfd at an offset near 2^63 killed the process instead of EOVERFLOW.
	{"MmapOffsetNear2p63", encode("m\x00",
		call(unix.SYS_MEMFD_CREATE, scratch, 0),
		call(unix.SYS_FTRUNCATE, 3, 4096),
		call(unix.SYS_MMAP, 0, 4096, unix.PROT_READ, unix.MAP_SHARED, 3, 1<<63-1<<24),
		call(unix.SYS_MMAP, 0, 8192, unix.PROT_READ, unix.MAP_SHARED, 3, 1<<63-4096))},
	// brk(-1) rounded up to 0 and unmapped the whole address space.
	{"BrkMinus1", encode("", call(unix.SYS_BRK, ^uint64(0)), call(unix.SYS_BRK, 1), call(unix.SYS_BRK, 0))},
	// clone(CLONE_PARENT) unlocked an unlocked mutex (the first process gets EINVAL, as a
	// PID namespace's init does; edges.c checks a child's).
	{"CloneParent", encode("", call(unix.SYS_CLONE, unix.CLONE_PARENT|uint64(unix.SIGCHLD), 0, 0, 0, 0),
		call(unix.SYS_WAIT4, ^uint64(0), 0, 0, 0))},
	// clone's exit signal is the low byte of its flags: 128 indexed past the signal table
	// when the child exited (found by FuzzSyscalls).
	{"CloneExitSignal128", encode("", call(unix.SYS_CLONE, 0x80), call(unix.SYS_WAIT4, ^uint64(0), 0, 0x40000000, 0))},
	// A receive with SO_RCVTIMEO on a socketpair waited forever.
	{"RecvTimeout", encode("\x00\x00\x00\x00\x00\x00\x00\x00\x10\x27\x00\x00\x00\x00\x00\x00",
		call(unix.SYS_SOCKETPAIR, unix.AF_UNIX, unix.SOCK_STREAM, 0, scratch+0x100),
		call(unix.SYS_SETSOCKOPT, 3, unix.SOL_SOCKET, unix.SO_RCVTIMEO, scratch, 16),
		call(unix.SYS_RECVFROM, 3, scratch+0x200, 10, 0, 0, 0))},
	// Blocking calls with nothing to wake them must still end on SIGKILL.
	{"BlockedEverywhere", encode("",
		call(unix.SYS_PIPE, scratch+0x100),
		call(unix.SYS_CLONE, uint64(unix.SIGCHLD), 0, 0, 0, 0),
		call(unix.SYS_READ, 3, scratch, 10))},
	{"PauseForever", encode("", call(unix.SYS_PAUSE))},
	{"FutexForever", encode("", call(unix.SYS_FUTEX, scratch, 0, 0, 0, 0, 0))},
}

// TestFuzzRegressions runs the named crashers.
func TestFuzzRegressions(t *testing.T) {
	for _, r := range fuzzRegressions {
		t.Run(r.name, func(t *testing.T) { runKernel(t, r.data, fuzzGrace) })
	}
}

// FuzzSyscalls drives random calls into the kernel (see the comment at the top).
func FuzzSyscalls(f *testing.F) {
	for _, r := range fuzzRegressions {
		f.Add(r.data)
	}
	// A few calls of every family with arguments of every kind.
	for nr := uint64(0); nr < 460; nr += 7 {
		f.Add(encode("/d\x00/tmp/x\x00", call(nr, 3, scratch, 64, 0, ^uint64(0), 1<<63),
			call(nr+1, scratch, scratch+8, 0, 1, 2, 3), call(nr+3, 0, 0, 0, 0, 0, 0)))
	}
	f.Fuzz(func(t *testing.T, data []byte) { runKernel(t, data, fuzzGrace) })
}
