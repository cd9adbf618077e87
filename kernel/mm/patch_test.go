package mm

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/platform"
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
