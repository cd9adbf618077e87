package mm

import (
	"testing"
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
