package mm

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// recordingAS is an address space that only records what the MM asks of it: the mm tests
// check the kernel's own bookkeeping, independent of any platform.
type recordingAS struct{ maps, unmaps, protects int }

func (r *recordingAS) MapFile(addr, length uint64, off int64, prot platform.Prot) error {
	r.maps++
	return nil
}
func (r *recordingAS) MapHostFile(addr, length uint64, fd int, off int64, prot platform.Prot) error {
	r.maps++
	return nil
}
func (r *recordingAS) Unmap(addr, length uint64) error { r.unmaps++; return nil }
func (r *recordingAS) Protect(addr, length uint64, prot platform.Prot) error {
	r.protects++
	return nil
}
func (r *recordingAS) Release() {}

func newMM(t *testing.T) (*MM, *MemoryFile) {
	t.Helper()
	mf, err := NewMemoryFile()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mf.Close() })
	return New(mf, &recordingAS{}, 1<<46), mf
}

const rw = platform.ProtRead | platform.ProtWrite

func TestMapUnmapReuse(t *testing.T) {
	m, mf := newMM(t)
	a, err := m.Map(MapOpts{Length: 3 * PageSize, Prot: rw})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CopyOut(a+PageSize, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := m.CopyIn(a+PageSize, got); err != nil || string(got) != "hello" {
		t.Fatalf("CopyIn = %q, %v; want hello", got, err)
	}
	// Unmapping the middle page splits the mapping; the hole faults.
	if err := m.Unmap(a+PageSize, PageSize); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CopyIn(a+PageSize, got); err != unix.EFAULT {
		t.Fatalf("CopyIn of unmapped page = %v, want EFAULT", err)
	}
	if n := strings.Count(m.Maps(), "\n"); n != 2 {
		t.Fatalf("maps has %d lines, want 2:\n%s", n, m.Maps())
	}
	if used := mf.Used(); used != 2*PageSize {
		t.Fatalf("memory file in use = %d, want %d", used, 2*PageSize)
	}
	// Remapped memory reads back as zero (freed pages are punched).
	b, err := m.Map(MapOpts{Addr: a + PageSize, Length: PageSize, Prot: rw, Fixed: true})
	if err != nil || b != a+PageSize {
		t.Fatalf("Map fixed = %#x, %v", b, err)
	}
	if _, err := m.CopyIn(b, got); err != nil || !bytes.Equal(got, make([]byte, 5)) {
		t.Fatalf("reused page = %q, %v; want zeros", got, err)
	}
}

func TestProtectAndFaultCodes(t *testing.T) {
	m, _ := newMM(t)
	a, err := m.Map(MapOpts{Length: 2 * PageSize, Prot: rw})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Protect(a, PageSize, platform.ProtRead, false); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CopyOut(a, []byte{1}); err != unix.EFAULT {
		t.Fatalf("write to read-only page = %v, want EFAULT", err)
	}
	if _, err := m.CopyOut(a+PageSize, []byte{1}); err != nil {
		t.Fatalf("write to rw page = %v", err)
	}
	if c := m.FaultCode(a); c != 2 {
		t.Fatalf("FaultCode(mapped) = %d, want SEGV_ACCERR", c)
	}
	if c := m.FaultCode(a - PageSize); c != 1 {
		t.Fatalf("FaultCode(unmapped) = %d, want SEGV_MAPERR", c)
	}
	if err := m.Protect(a+2*PageSize, PageSize, rw, false); err != unix.ENOMEM {
		t.Fatalf("mprotect of unmapped = %v, want ENOMEM", err)
	}
	// Protecting back merges the two halves into one mapping.
	if err := m.Protect(a, PageSize, rw, false); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(m.Maps(), "\n"); n != 1 {
		t.Fatalf("maps after re-protect:\n%s", m.Maps())
	}
}

func TestMapErrors(t *testing.T) {
	m, _ := newMM(t)
	tests := []struct {
		name string
		o    MapOpts
		want error
	}{
		{"zero length", MapOpts{Length: 0, Prot: rw}, unix.EINVAL},
		{"unaligned fixed", MapOpts{Addr: 0x10001000 + 1, Length: PageSize, Fixed: true}, unix.EINVAL},
		{"below mmap_min_addr", MapOpts{Addr: 0x1000, Length: PageSize, Fixed: true}, unix.EPERM},
		{"beyond the top", MapOpts{Addr: 1<<46 - PageSize, Length: 2 * PageSize, Fixed: true}, unix.ENOMEM},
	}
	for _, tt := range tests {
		if _, err := m.Map(tt.o); err != tt.want {
			t.Errorf("%s: Map = %v, want %v", tt.name, err, tt.want)
		}
	}
	a, _ := m.Map(MapOpts{Length: PageSize, Prot: rw})
	if _, err := m.Map(MapOpts{Addr: a, Length: PageSize, NoReplace: true}); err != unix.EEXIST {
		t.Errorf("MAP_FIXED_NOREPLACE over a mapping = %v, want EEXIST", err)
	}
}

func TestBrk(t *testing.T) {
	m, _ := newMM(t)
	m.SetBrk(0x20000000)
	if got := m.Brk(0); got != 0x20000000 {
		t.Fatalf("Brk(0) = %#x", got)
	}
	if got := m.Brk(0x20000000 + 10000); got != 0x20000000+10000 {
		t.Fatalf("Brk(grow) = %#x", got)
	}
	if _, err := m.CopyOut(0x20000000+9999, []byte{7}); err != nil {
		t.Fatalf("write into heap: %v", err)
	}
	if got := m.Brk(0x20000000); got != 0x20000000 {
		t.Fatalf("Brk(shrink) = %#x", got)
	}
	if _, err := m.CopyOut(0x20000000, []byte{7}); err != unix.EFAULT {
		t.Fatalf("write after shrink = %v, want EFAULT", err)
	}
	if got := m.Brk(0x1000); got != 0x20000000 {
		t.Fatalf("Brk below start = %#x, want unchanged", got)
	}
}

func TestRemap(t *testing.T) {
	m, _ := newMM(t)
	a, _ := m.Map(MapOpts{Length: 2 * PageSize, Prot: rw})
	m.CopyOut(a, []byte("data"))
	// Block growth in place so the mapping must move.
	m.Map(MapOpts{Addr: a + 2*PageSize, Length: PageSize, Prot: rw, Fixed: true})
	if _, err := m.Remap(a, 2*PageSize, 4*PageSize, false, false, false, 0); err != unix.ENOMEM {
		t.Fatalf("grow without MAYMOVE = %v, want ENOMEM", err)
	}
	b, err := m.Remap(a, 2*PageSize, 4*PageSize, true, false, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := m.CopyIn(b, got); err != nil || string(got) != "data" {
		t.Fatalf("moved data = %q, %v", got, err)
	}
	if _, err := m.CopyIn(a, got); err != unix.EFAULT {
		t.Fatalf("old range after move = %v, want EFAULT", err)
	}
	if _, err := m.CopyOut(b+3*PageSize, []byte{1}); err != nil {
		t.Fatalf("grown part not writable: %v", err)
	}
}

func TestAdviseDontneedZeroes(t *testing.T) {
	m, _ := newMM(t)
	a, _ := m.Map(MapOpts{Length: PageSize, Prot: rw})
	m.CopyOut(a, []byte("x"))
	if err := m.Advise(a, PageSize, unix.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 1)
	m.CopyIn(a, got)
	if got[0] != 0 {
		t.Fatalf("after MADV_DONTNEED = %q, want zero", got)
	}
}

func TestCopyInString(t *testing.T) {
	m, _ := newMM(t)
	a, _ := m.Map(MapOpts{Length: PageSize, Prot: rw})
	m.CopyOut(a+PageSize-3, []byte("ab\x00"))
	if s, err := m.CopyInString(a+PageSize-3, 100); err != nil || s != "ab" {
		t.Fatalf("CopyInString = %q, %v", s, err)
	}
	m.CopyOut(a+PageSize-3, []byte("abc"))
	if _, err := m.CopyInString(a+PageSize-3, 100); err != unix.EFAULT {
		t.Fatalf("unterminated string at end of mapping = %v, want EFAULT", err)
	}
	if _, err := m.CopyInString(a+PageSize-3, 2); err != unix.ENAMETOOLONG {
		t.Fatalf("long string = %v, want ENAMETOOLONG", err)
	}
}

// countingSource is a file of known bytes that counts reads and references.
type countingSource struct {
	data       []byte
	reads      int
	refs, decs int
}

func (s *countingSource) ReadAt(p []byte, off int64) (int, error) {
	s.reads++
	if off >= int64(len(s.data)) {
		return 0, errEOF
	}
	n := copy(p, s.data[off:])
	if n < len(p) {
		return n, errEOF
	}
	return n, nil
}
func (s *countingSource) IncRef() { s.refs++ }
func (s *countingSource) DecRef() { s.decs++ }

func TestLazyFileMapping(t *testing.T) {
	m, _ := newMM(t)
	as := m.as.(*recordingAS)
	src := &countingSource{data: make([]byte, 64*PageSize)}
	for i := range src.data {
		src.data[i] = byte(i / PageSize)
	}
	a, err := m.Map(MapOpts{Length: 64 * PageSize, Prot: platform.ProtRead, Source: src, Hold: src})
	if err != nil {
		t.Fatal(err)
	}
	if src.reads != 0 || src.refs != 1 {
		t.Fatalf("mmap read the file %d times, took %d references; want 0 and 1", src.reads, src.refs)
	}
	// A first touch fills and maps the pages around it.
	gen := m.FaultGen()
	protects := as.protects
	if !m.HandleFault(a+40*PageSize+8, gen) {
		t.Fatal("first touch of a lazy page was not resolved")
	}
	if as.protects == protects || src.reads == 0 {
		t.Fatal("the fault neither mapped nor filled anything")
	}
	// The same page faulting again, with nothing changed since, is a real violation.
	if m.HandleFault(a+40*PageSize, m.FaultGen()) {
		t.Fatal("a fault on a mapped page was retried")
	}
	// ... unless another fault changed the address space in between.
	if !m.HandleFault(a+40*PageSize, gen) {
		t.Fatal("a fault racing another thread's fill was not retried")
	}
	// The kernel's own accesses fill pages too.
	got := make([]byte, 2)
	if _, err := m.CopyIn(a+3*PageSize-1, got); err != nil || got[0] != 2 || got[1] != 3 {
		t.Fatalf("CopyIn across untouched pages = %v, %v", got, err)
	}
	// Faults outside lazy mappings stay faults.
	if m.HandleFault(a-PageSize, m.FaultGen()) {
		t.Fatal("a fault outside any mapping was retried")
	}
	// Split pieces share the reference; the last unmap drops it.
	if err := m.Unmap(a+10*PageSize, PageSize); err != nil {
		t.Fatal(err)
	}
	if src.decs != 0 {
		t.Fatal("the file was released while still mapped")
	}
	if err := m.Unmap(a, 64*PageSize); err != nil {
		t.Fatal(err)
	}
	if src.decs != 1 {
		t.Fatalf("file released %d times after the last unmap, want 1", src.decs)
	}
}

// attachSource is a shared source that counts its mappings (MappingCounter), as a System V
// segment does.
type attachSource struct {
	mf          *MemoryFile
	off         int64
	n           int
	last        int32
	maps, frees int
}

func (s *attachSource) ReadAt(p []byte, off int64) (int, error) { return len(p), nil }
func (s *attachSource) MapShared(off, length int64) (int64, func(), error) {
	s.maps++
	return s.off + off, func() { s.frees++ }, nil
}
func (s *attachSource) OpenMapping(pid int32)  { s.n++; s.last = pid }
func (s *attachSource) CloseMapping(pid int32) { s.n--; s.last = pid }

func TestMappingCounter(t *testing.T) {
	m, mf := newMM(t)
	m.SetOwner(10)
	off, err := mf.Allocate(3 * PageSize)
	if err != nil {
		t.Fatal(err)
	}
	src := &attachSource{mf: mf, off: off}
	a, err := m.Map(MapOpts{Length: 3 * PageSize, Prot: rw, Shared: true, Source: src})
	if err != nil || src.n != 1 || src.last != 10 {
		t.Fatalf("map: %v, %d mappings (owner %d); want 1 (10)", err, src.n, src.last)
	}
	// Every piece counts, and pieces put back alike stay apart (as Linux's).
	if err := m.Protect(a+PageSize, PageSize, platform.ProtRead, false); err != nil {
		t.Fatal(err)
	}
	if err := m.Protect(a+PageSize, PageSize, rw, false); err != nil || src.n != 3 {
		t.Fatalf("after a split and a protect back: %v, %d mappings; want 3", err, src.n)
	}
	// A fork copies every piece, counted as the parent's doing.
	c, err := m.Fork(&recordingAS{})
	if err != nil || src.n != 6 || src.last != 10 {
		t.Fatalf("fork: %v, %d mappings (owner %d); want 6 (10)", err, src.n, src.last)
	}
	c.SetOwner(11)
	// shmdt's search: not inside; a fragment left by munmap still detaches at the start.
	if err := c.Detach(a+PageSize, func(s Source) (int64, bool) { return 3 * PageSize, s == src }); err != unix.EINVAL {
		t.Fatalf("Detach inside = %v, want EINVAL", err)
	}
	if err := c.Unmap(a, PageSize); err != nil || src.n != 5 || src.last != 11 {
		t.Fatalf("child unmap: %v, %d mappings (owner %d); want 5 (11)", err, src.n, src.last)
	}
	if err := c.Detach(a, func(s Source) (int64, bool) { return 3 * PageSize, s == src }); err != nil || src.n != 3 {
		t.Fatalf("child Detach = %v, %d mappings; want 3", err, src.n)
	}
	c.Release()
	if src.frees != 0 {
		t.Fatal("the pages were released while the parent maps them")
	}
	m.Release()
	if src.n != 0 || src.frees != 1 {
		t.Fatalf("after both released: %d mappings, %d releases; want 0 and 1", src.n, src.frees)
	}
}
