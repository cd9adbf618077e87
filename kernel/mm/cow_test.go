package mm

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRefs checks the owner counts of shared ranges: overlapping IncRefs split and join
// segments, DecRef frees exactly the pages whose last owner goes.
func TestRefs(t *testing.T) {
	_, mf := newMM(t)
	off, err := mf.Allocate(16 * PageSize)
	if err != nil {
		t.Fatal(err)
	}
	p := func(n int64) int64 { return off + n*PageSize }
	mf.IncRef(p(0), 8*PageSize)
	mf.IncRef(p(4), 8*PageSize)
	if got, want := len(mf.shared), 3; got != want {
		t.Fatalf("segments = %v; want %d", mf.shared, want)
	}
	if mf.Exclusive(p(0), PageSize) || !mf.Exclusive(p(12), 4*PageSize) {
		t.Fatalf("Exclusive wrong with %v", mf.shared)
	}
	used := mf.Used()
	mf.DecRef(p(0), 16*PageSize) // pages 12..15 had one owner: freed
	if got := mf.Used(); got != used-4*PageSize {
		t.Errorf("Used = %d; want %d", got, used-4*PageSize)
	}
	mf.DecRef(p(4), 8*PageSize) // pages 8..11 freed, 4..7 back to one owner
	mf.DecRef(p(0), 8*PageSize) // the rest freed
	if mf.Used() != used-16*PageSize || len(mf.shared) != 0 {
		t.Errorf("after all DecRefs: used %d, segments %v", mf.Used(), mf.shared)
	}
}

// TestForkCOW checks that fork shares private memory, that a write breaks the sharing
// for one chunk only, and that memory is freed when both sides are gone.
func TestForkCOW(t *testing.T) {
	m, mf := newMM(t)
	addr, err := m.Map(MapOpts{Length: 3 * cowChunk, Prot: rw})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CopyOut(addr, []byte("parent")); err != nil {
		t.Fatal(err)
	}
	used := mf.Used()
	c, err := m.Fork(&recordingAS{})
	if err != nil {
		t.Fatal(err)
	}
	if mf.Used() != used {
		t.Fatalf("fork allocated %d bytes; want none", mf.Used()-used)
	}
	if _, err := c.CopyOut(addr+cowChunk, []byte("child")); err != nil {
		t.Fatal(err)
	}
	if got := mf.Used() - used; got != cowChunk {
		t.Errorf("a write copied %d bytes; want one chunk (%d)", got, cowChunk)
	}
	buf := make([]byte, 6)
	c.CopyIn(addr, buf)
	if string(buf) != "parent" {
		t.Errorf("child reads %q; want parent", buf)
	}
	c.CopyOut(addr, []byte("CHILD!"))
	m.CopyIn(addr, buf)
	if string(buf) != "parent" {
		t.Errorf("parent reads %q after the child's write", buf)
	}
	c.Release()
	m.Release()
	if mf.Used() != 0 {
		t.Errorf("Used = %d after both released", mf.Used())
	}
}

// fileSource is a Cacheable in-memory file.
type fileSource struct {
	data []byte
	key  CacheKey
}

func (f *fileSource) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(f.data)) {
		return 0, errEOF
	}
	n := copy(p, f.data[off:])
	if n < len(p) {
		return n, errEOF
	}
	return n, nil
}

func (f *fileSource) CacheIdentity() (CacheKey, Source, func(), error) {
	return f.key, f, func() {}, nil
}

type nopHolder struct{}

func (nopHolder) IncRef() {}
func (nopHolder) DecRef() {}

// TestPageCache maps one file privately in two address spaces: they share its pages, the
// second mapping needs no fault for pages the first filled, a write stays private, and the
// cache's pages go when nothing maps them and the cache is trimmed.
func TestPageCache(t *testing.T) {
	a, mf := newMM(t)
	b := New(mf, &recordingAS{}, 1<<46)
	src := &fileSource{data: bytes.Repeat([]byte("0123456789abcdef"), 4*PageSize/16), key: CacheKey{Dev: 1, Ino: 2, Size: 4 * PageSize}}
	opts := MapOpts{Length: 4 * PageSize, Prot: rw, Source: src, Hold: nopHolder{}}
	pa, err := a.Map(opts)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	a.CopyIn(pa+PageSize, buf) // fills the page in the cache
	used := mf.Used()
	pb, err := b.Map(opts)
	if err != nil {
		t.Fatal(err)
	}
	if mf.Used() != used {
		t.Errorf("the second mapping allocated %d bytes; want none", mf.Used()-used)
	}
	if v := b.vmaAtLocked(pb); v.lazy == nil || !v.lazy.mappedAt(v, pb+PageSize) {
		t.Errorf("a page another process filled is not mapped at once")
	}
	b.CopyOut(pb+PageSize, []byte("XXXX"))
	a.CopyIn(pa+PageSize, buf)
	if string(buf) != "0123" {
		t.Errorf("a reads %q after b's private write; want 0123", buf)
	}
	b.CopyIn(pb+PageSize, buf)
	if string(buf) != "XXXX" {
		t.Errorf("b reads %q after its own write", buf)
	}
	a.Release()
	b.Release()
	if n := mf.PageCache().DropUnused(); n != 4*PageSize {
		t.Errorf("DropUnused freed %d bytes; want the file's %d", n, 4*PageSize)
	}
	if mf.Used() != 0 {
		t.Errorf("Used = %d after everything went", mf.Used())
	}
}

// TestRemapAcrossCOWChunks moves a private file mapping that straddles a copy-on-write
// chunk boundary after a write to one side: the write splits it into pieces, which mremap
// must still take as the one mapping the app made (it once answered EFAULT, for the few
// mappings placed across a 2 MiB boundary).
func TestRemapAcrossCOWChunks(t *testing.T) {
	m, _ := newMM(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 8*PageSize/16)
	src := &fileSource{data: data, key: CacheKey{Dev: 1, Ino: 3, Size: int64(len(data))}}
	addr := uint64(cowChunk*8 - 3*PageSize)
	a, err := m.Map(MapOpts{Addr: addr, Length: 4 * PageSize, Prot: rw, Fixed: true, Source: src, Hold: nopHolder{}})
	if err != nil || a != addr {
		t.Fatalf("Map = %#x, %v", a, err)
	}
	if _, err := m.CopyOut(a+PageSize+100, []byte("sandbox!")); err != nil {
		t.Fatal(err)
	}
	if n := len(m.vmas); n < 2 {
		t.Fatalf("the write left %d VMAs; the test needs the mapping split", n)
	}
	// Growing in place extends the last piece.
	if c, err := m.Remap(a, 4*PageSize, 5*PageSize, false, false, false, 0); err != nil || c != a {
		t.Fatalf("grow in place = %#x, %v; want %#x", c, err, a)
	}
	// A mapping ends where the app's ends: the range may not run past it.
	m.Map(MapOpts{Addr: a + 5*PageSize, Length: PageSize, Prot: rw, Fixed: true})
	if _, err := m.Remap(a, 6*PageSize, 7*PageSize, true, false, false, 0); err != unix.EFAULT {
		t.Fatalf("mremap across two mappings = %v, want EFAULT", err)
	}
	b, err := m.Remap(a, 5*PageSize, 8*PageSize, true, false, false, 0)
	if err != nil || b == a {
		t.Fatalf("mremap of a split mapping = %#x, %v; want a move", b, err)
	}
	got := make([]byte, 8*PageSize)
	if _, err := m.CopyIn(b, got); err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), data...)
	copy(want[PageSize+100:], "sandbox!")
	if !bytes.Equal(got, want) {
		t.Errorf("moved mapping's contents differ from the file with the write")
	}
}

// TestCOWBreakKeepsReplacedChunk: a write that breaks copy-on-write gives the writer's
// address space a fresh chunk, but its other threads keep reading the old one until their
// platform stubs catch up. If the other owner (a forked child) exits in that window, the old
// chunk must still hold its data, not be freed (read back as zeros, then reused) under them:
// the writer's reference is released through the platform's Retirer.
func TestCOWBreakKeepsReplacedChunk(t *testing.T) {
	mf, err := NewMemoryFile()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mf.Close() })
	as := &retiringAS{phys: map[uint64]int64{}}
	m := New(mf, as, 1<<46)
	addr, err := m.Map(MapOpts{Length: cowChunk, Prot: rw})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CopyOut(addr, []byte("before")); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	old := m.vmaAtLocked(addr).memOff
	m.mu.Unlock()
	c, err := m.Fork(&recordingAS{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CopyOut(addr, []byte("AFTER!")); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	moved := m.vmaAtLocked(addr).memOff != old
	m.mu.Unlock()
	if !moved {
		t.Fatal("the write did not move the parent to a copy")
	}
	c.Release() // the child exits while another parent thread still maps the old chunk
	got := make([]byte, 6)
	if _, err := unix.Pread(int(mf.File().Fd()), got, old); err != nil {
		t.Fatal(err)
	}
	if string(got) != "before" {
		t.Fatalf("the replaced chunk reads %q under the threads not caught up; want \"before\": "+
			"it was released before the platform said they moved on", got)
	}
	if len(as.releases) != 1 {
		t.Fatalf("the copy-on-write break retired %d ranges; want 1", len(as.releases))
	}
	as.releases[0]()
	m.Release()
	if mf.Used() != 0 {
		t.Errorf("Used = %d after everything was released", mf.Used())
	}
}
