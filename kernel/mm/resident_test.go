package mm

import (
	"math/rand"
	"testing"

	"golang.org/x/sys/unix"
)

// appStore writes b at app address addr the way app code does: straight into the memory
// file's pages, without the kernel hearing of it.
func appStore(t *testing.T, m *MM, addr uint64, b byte) {
	t.Helper()
	m.mu.Lock()
	v := m.vmaAtLocked(addr)
	m.mu.Unlock()
	if v == nil {
		t.Fatalf("no VMA at %#x", addr)
	}
	bufs, err := m.mf.Slices(v.memOff+int64(addr-v.Start), 1)
	if err != nil {
		t.Fatal(err)
	}
	bufs[0][0] = b
}

func TestResidentFollowsStoresAndReleases(t *testing.T) {
	m, _ := newMM(t)
	const size = 16 << 20
	a, err := m.Map(MapOpts{Length: size, Prot: rw})
	if err != nil {
		t.Fatal(err)
	}
	rss := func() uint64 { return m.Stats().RSS.Anon }
	if got := rss(); got != 0 {
		t.Fatalf("RssAnon of an untouched mapping = %d, want 0", got)
	}
	for off := uint64(0); off < 8<<20; off += PageSize {
		appStore(t, m, a+off, 1)
	}
	for i := 0; i < 2; i++ { // the second time from what the first found full
		if got := rss(); got != 8<<20 {
			t.Fatalf("RssAnon after touching 8 MiB (read %d) = %d, want %d", i, got, 8<<20)
		}
	}
	appStore(t, m, a+12<<20, 1)
	if got := rss(); got != 8<<20+PageSize {
		t.Fatalf("RssAnon after one more page = %d, want %d", got, 8<<20+PageSize)
	}
	if err := m.Advise(a+2<<20, 2<<20, unix.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	if got := rss(); got != 6<<20+PageSize {
		t.Fatalf("RssAnon after MADV_DONTNEED of 2 MiB = %d, want %d", got, 6<<20+PageSize)
	}
	appStore(t, m, a+3<<20, 1)
	if got := rss(); got != 6<<20+2*PageSize {
		t.Fatalf("RssAnon after touching a discarded page again = %d, want %d", got, 6<<20+2*PageSize)
	}
	if err := m.Unmap(a, size); err != nil {
		t.Fatal(err)
	}
	s := m.Stats()
	if s.RSS.Total() != 0 || s.HWM != 8<<20+PageSize || s.Peak < size {
		t.Fatalf("after munmap: RSS %d, VmHWM %d, VmPeak %d; want 0, %d, at least %d", s.RSS.Total(), s.HWM, s.Peak, 8<<20+PageSize, size)
	}
}

// TestResidentMatchesSeek checks the counting against a plain SEEK_DATA walk over random
// stores and discards in several mappings.
func TestResidentMatchesSeek(t *testing.T) {
	m, mf := newMM(t)
	rng := rand.New(rand.NewSource(1))
	var maps []uint64
	for i := 0; i < 4; i++ {
		a, err := m.Map(MapOpts{Length: uint64(1+rng.Intn(12)) << 20, Prot: rw})
		if err != nil {
			t.Fatal(err)
		}
		maps = append(maps, a)
	}
	want := func() int64 {
		m.mu.Lock()
		defer m.mu.Unlock()
		var n int64
		for _, v := range m.vmas {
			for _, r := range mf.runs(v.memOff, int64(v.End-v.Start)) {
				if r.phys >= 0 {
					n += seekDataBytes(int(mf.file.Fd()), r.phys, r.len)
				}
			}
		}
		return n
	}
	for round := 0; round < 200; round++ {
		a := maps[rng.Intn(len(maps))]
		m.mu.Lock()
		v := m.vmaAtLocked(a)
		m.mu.Unlock()
		pages := int((v.End - v.Start) / PageSize)
		p := uint64(rng.Intn(pages))
		switch rng.Intn(3) {
		case 0, 1:
			for n := rng.Intn(300); n >= 0 && p < uint64(pages); n, p = n-1, p+1 {
				appStore(t, m, v.Start+p*PageSize, 1)
			}
		case 2:
			n := uint64(1 + rng.Intn(pages-int(p)))
			if err := m.Advise(v.Start+p*PageSize, n*PageSize, unix.MADV_DONTNEED); err != nil {
				t.Fatal(err)
			}
		}
		if got, w := m.Resident().Total(), want(); int64(got) != w {
			t.Fatalf("round %d: Resident = %d, SEEK_DATA says %d", round, got, w)
		}
	}
}
