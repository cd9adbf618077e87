package mm

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// TestPatchCode patches a site in a page-cache text mapping: the patching address space
// reads the patch, another mapping of the file and the cache keep the file's bytes, a
// fork child inherits the patch, bytes that differ from what was expected are left alone,
// writable or shared mappings are refused, and /proc/PID/maps still shows one line.
func TestPatchCode(t *testing.T) {
	a, mf := newMM(t)
	b := New(mf, &recordingAS{}, 1<<46)
	data := bytes.Repeat([]byte{0x90}, 4*PageSize)
	site := uint64(PageSize + 0x10)
	old := []byte{0xb8, 0x27, 0, 0, 0, 0x0f, 0x05}
	copy(data[site:], old)
	src := &fileSource{data: data, key: CacheKey{Dev: 1, Ino: 3, Size: 4 * PageSize}}
	rx := platform.ProtRead | platform.ProtExec
	opts := MapOpts{Length: 4 * PageSize, Prot: rx, Source: src, Hold: nopHolder{}, Name: "/lib/x"}
	pa, err := a.Map(opts)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := b.Map(opts)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	a.CopyIn(pa+site, buf) // the page as the app's execution would have it: filled
	a.HandleFault(pa+site, a.FaultGen())
	patch := []byte{0xff, 0x24, 0x25, 0x08, 0x00, 0x01, 0x00}
	calls := 0
	code := func() ([]byte, bool) { calls++; return patch, true }
	if ok, _ := a.PatchCode(pa+site, old, code); !ok {
		t.Fatal("PatchCode refused a private text site")
	}
	if a.CopyIn(pa+site, buf); !bytes.Equal(buf, patch) {
		t.Errorf("patched address space reads %x; want the patch", buf)
	}
	if b.CopyIn(pb+site, buf); !bytes.Equal(buf, old) {
		t.Errorf("another mapping of the file reads %x; want the file's bytes", buf)
	}
	if ok, later := a.PatchCode(pa+site, old, code); ok || later || calls != 1 {
		t.Errorf("a second patch over changed bytes was made (code asked %d times)", calls)
	}
	if n := strings.Count(a.Maps(), "/lib/x"); n != 1 {
		t.Errorf("maps shows the patched mapping in %d lines; want 1:\n%s", n, a.Maps())
	}
	if n := strings.Count(a.Smaps(), "/lib/x"); n != 1 {
		t.Errorf("smaps shows the patched mapping in %d blocks; want 1", n)
	}
	child, err := a.Fork(&recordingAS{})
	if err != nil {
		t.Fatal(err)
	}
	if child.CopyIn(pa+site, buf); !bytes.Equal(buf, patch) {
		t.Errorf("fork child reads %x; want the parent's patch", buf)
	}
	// Writable and shared mappings are not program text.
	w, err := a.Map(MapOpts{Length: PageSize, Prot: rx | platform.ProtWrite})
	if err != nil {
		t.Fatal(err)
	}
	a.CopyOut(w, old)
	if ok, later := a.PatchCode(w, old, code); ok || later {
		t.Errorf("PatchCode patched a writable mapping")
	}
	child.Release()
	a.Release()
	b.Release()
}

// retiringAS is a platform address space whose other threads catch up with its changes
// only when told (as the trap platform's stubs do): it records where each page was mapped
// and holds the releases handed to Retire.
type retiringAS struct {
	recordingAS
	// phys maps an app page to the physical memory-file offset last mapped there.
	phys     map[uint64]int64
	releases []func()
}

func (r *retiringAS) MapFile(addr, length uint64, off int64, prot platform.Prot) error {
	for a := uint64(0); a < length; a += PageSize {
		r.phys[addr+a] = off + int64(a)
	}
	return nil
}

func (r *retiringAS) Retire(release func()) { r.releases = append(r.releases, release) }

// TestPatchCodeKeepsReplacedPage patches two sites of one page in turn. Another thread
// that has not yet caught up with the second patch still runs the page the first one
// made: that page must keep its bytes until the platform says every thread moved on
// (Retire), not be freed (read back as zeros, then reused) at once. Freed at once, the
// stale thread ran zeros (`add %al,(%rax)`): headless Chromium crashed with SIGSEGV or
// SIGILL and Firefox reported stack smashing with patching on.
func TestPatchCodeKeepsReplacedPage(t *testing.T) {
	mf, err := NewMemoryFile()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mf.Close() })
	as := &retiringAS{phys: map[uint64]int64{}}
	m := New(mf, as, 1<<46)
	data := bytes.Repeat([]byte{0x90}, 4*PageSize)
	page := uint64(PageSize)
	old1 := []byte{0xb8, 0x27, 0, 0, 0, 0x0f, 0x05}
	old2 := []byte{0xb8, 0x6e, 0, 0, 0, 0x0f, 0x05}
	copy(data[page+0x10:], old1)
	copy(data[page+0x40:], old2)
	src := &fileSource{data: data, key: CacheKey{Dev: 1, Ino: 4, Size: 4 * PageSize}}
	rx := platform.ProtRead | platform.ProtExec
	pa, err := m.Map(MapOpts{Length: 4 * PageSize, Prot: rx, Source: src, Hold: nopHolder{}, Name: "/lib/y"})
	if err != nil {
		t.Fatal(err)
	}
	m.HandleFault(pa+page, m.FaultGen())
	patch1 := []byte{0xff, 0x24, 0x25, 0x00, 0x00, 0x01, 0x00}
	patch2 := []byte{0xff, 0x24, 0x25, 0x08, 0x00, 0x01, 0x00}
	if ok, _ := m.PatchCode(pa+page+0x10, old1, func() ([]byte, bool) { return patch1, true }); !ok {
		t.Fatal("PatchCode refused the first site")
	}
	stale, ok := as.phys[pa+page]
	if !ok {
		t.Fatal("the first patch mapped no page")
	}
	if ok, _ := m.PatchCode(pa+page+0x40, old2, func() ([]byte, bool) { return patch2, true }); !ok {
		t.Fatal("PatchCode refused the second site")
	}
	if as.phys[pa+page] == stale {
		t.Fatal("the second patch did not map a new page")
	}
	// What a thread still on the first patched page runs.
	got := make([]byte, PageSize)
	if _, err := unix.Pread(int(mf.File().Fd()), got, stale); err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), data[page:page+PageSize]...)
	copy(want[0x10:], patch1)
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && got[i] == want[i] {
			i++
		}
		t.Fatalf("the page replaced by the second patch changed under the threads still running it "+
			"(byte %#x is %#x, want %#x): it was released before the platform said they moved on", i, got[i], want[i])
	}
	if len(as.releases) != 2 {
		t.Fatalf("PatchCode retired %d pages; want 2 (one per patch)", len(as.releases))
	}
	for _, r := range as.releases {
		r()
	}
	m.Release()
}
