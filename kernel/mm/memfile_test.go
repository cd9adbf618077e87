package mm

import (
	"testing"
)

// TestUntouchedCostsNothing checks that reservations take no physical space until touched,
// that a fault maps just the touched chunk, and that freeing gives physical chunks back.
func TestUntouchedCostsNothing(t *testing.T) {
	m, mf := newMM(t)
	as := m.as.(*recordingAS)
	const huge = 1 << 40
	var addrs []uint64
	for i := 0; i < 32; i++ { // 32 TiB in all: twice what the old 16 TiB file could hold
		a, err := m.Map(MapOpts{Length: huge, Prot: rw, NoReserve: true})
		if err != nil {
			t.Fatalf("Map #%d of 1 TiB: %v", i, err)
		}
		addrs = append(addrs, a)
	}
	if got := mf.Touched(); got != 0 {
		t.Fatalf("Touched() after reserving = %d, want 0", got)
	}
	if as.maps != 0 {
		t.Fatalf("platform MapFile calls after reserving = %d, want 0", as.maps)
	}
	a := addrs[3] + huge/2 + 100
	if !m.HandleFault(a, m.FaultGen()) {
		t.Fatal("HandleFault of a first touch = false, want true")
	}
	if as.maps != 1 || mf.Touched() != chunkSize {
		t.Fatalf("after one fault: %d MapFile calls, %d bytes touched; want 1, %d", as.maps, mf.Touched(), chunkSize)
	}
	// The same address again is mapped already: a real fault now (nothing was wrong with the
	// access, but the platform would not report it), so the kernel says SIGSEGV.
	if m.HandleFault(a, m.FaultGen()) {
		t.Fatal("HandleFault of a mapped address = true, want false")
	}
	// The kernel's writes touch chunks on both sides of a boundary.
	edge := addrs[5] + 3*chunkSize - 10
	if _, err := m.CopyOut(edge, []byte("across the edge")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 15)
	if _, err := m.CopyIn(edge, got); err != nil || string(got) != "across the edge" {
		t.Fatalf("CopyIn = %q, %v", got, err)
	}
	if n := mf.Touched(); n > 4*chunkSize {
		t.Fatalf("Touched() = %d, want at most %d", n, 4*chunkSize)
	}
	for _, a := range addrs {
		if err := m.Unmap(a, huge); err != nil {
			t.Fatal(err)
		}
	}
	if n := mf.Touched(); n != 0 {
		t.Fatalf("Touched() after unmapping everything = %d, want 0", n)
	}
	// Physical chunks are reused: touching again does not grow the file.
	b, err := m.Map(MapOpts{Length: 2 * chunkSize, Prot: rw})
	if err != nil {
		t.Fatal(err)
	}
	before := mf.pnext
	if _, err := m.CopyOut(b, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if mf.pnext != before {
		t.Fatalf("file grew from %d to %d with free chunks available", before, mf.pnext)
	}
}

func TestSpans(t *testing.T) {
	var s spans
	s.add(10, 20)
	s.add(30, 40)
	s.add(20, 30) // joins all three
	if len(s) != 1 || s[0] != (span{10, 40}) {
		t.Fatalf("add: %v, want [{10 40}]", s)
	}
	s.remove(15, 25)
	if len(s) != 2 || s[0] != (span{10, 15}) || s[1] != (span{25, 40}) {
		t.Fatalf("remove: %v", s)
	}
	if !s.contains(12) || s.contains(15) || s.contains(20) || !s.contains(39) || s.contains(40) {
		t.Fatalf("contains wrong on %v", s)
	}
	if got := s.within(0, 50, false); len(got) != 3 || got[0] != (span{0, 10}) || got[1] != (span{15, 25}) || got[2] != (span{40, 50}) {
		t.Fatalf("gaps = %v", got)
	}
	if got := s.within(12, 30, true); len(got) != 2 || got[0] != (span{12, 15}) || got[1] != (span{25, 30}) {
		t.Fatalf("within = %v", got)
	}
}
