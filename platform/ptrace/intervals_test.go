package ptrace

import (
	"math/rand"
	"testing"

	"github.com/sbx-dev/sbx/platform"
)

// TestMappingsAgainstPages applies random maps, unmaps and protection changes to mappings
// and to a page-by-page model: after each, the mappings must say for every page what the
// model says, stay sorted and non-overlapping, and hold no two neighbours that continue
// each other (those are merged).
func TestMappingsAgainstPages(t *testing.T) {
	const pages = 64
	type page struct {
		mapped bool
		off    int64
		prot   platform.Prot
		host   *hostFile
	}
	hosts := []*hostFile{nil, {fd: 7}}
	rng := rand.New(rand.NewSource(1))
	for round := 0; round < 200; round++ {
		var ms mappings
		var model [pages]page
		for step := 0; step < 100; step++ {
			a := uint64(rng.Intn(pages))
			b := a + 1 + uint64(rng.Intn(pages-int(a)))
			prot := platform.Prot(rng.Intn(4))
			switch rng.Intn(3) {
			case 0:
				// Offsets often continue a neighbour's, so merging is exercised.
				off := int64(rng.Intn(4)) * pages
				h := hosts[rng.Intn(2)]
				ms = ms.insert(mapping{a << 12, b << 12, (off + int64(a)) << 12, prot, h})
				for p := a; p < b; p++ {
					model[p] = page{true, (off + int64(p)) << 12, prot, h}
				}
			case 1:
				ms = ms.remove(a<<12, b<<12)
				for p := a; p < b; p++ {
					model[p] = page{}
				}
			case 2:
				ms = ms.protect(a<<12, b<<12, prot)
				for p := a; p < b; p++ {
					if model[p].mapped {
						model[p].prot = prot
					}
				}
			}
			var got [pages]page
			for i, m := range ms {
				if m.start >= m.end || m.start&4095 != 0 || m.end&4095 != 0 {
					t.Fatalf("round %d step %d: bad mapping %+v", round, step, m)
				}
				if i > 0 && ms[i-1].end > m.start {
					t.Fatalf("round %d step %d: %+v overlaps or precedes %+v", round, step, m, ms[i-1])
				}
				if i > 0 && ms[i-1].continues(m) {
					t.Fatalf("round %d step %d: %+v and %+v not merged", round, step, ms[i-1], m)
				}
				for p := m.start >> 12; p < m.end>>12; p++ {
					got[p] = page{true, m.off + int64(p<<12-m.start), m.prot, m.host}
				}
			}
			if got != model {
				t.Fatalf("round %d step %d: mappings %+v\nsay %+v\nwant %+v", round, step, ms, got, model)
			}
		}
	}
}
