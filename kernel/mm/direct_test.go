package mm

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// directSource is a host file opened read-only, counting its holders.
type directSource struct {
	f          *os.File
	refs, decs int
}

func (s *directSource) ReadAt(p []byte, off int64) (int, error) { return s.f.ReadAt(p, off) }
func (s *directSource) DirectFD() (int, bool)                   { return int(s.f.Fd()), true }
func (s *directSource) IncRef()                                 { s.refs++ }
func (s *directSource) DecRef()                                 { s.decs++ }

// hostMapAS records the host-file mappings the MM asks for.
type hostMapAS struct {
	recordingAS
	hostMaps int
}

func (h *hostMapAS) MapHostFile(addr, length uint64, fd int, off int64, prot platform.Prot) error {
	if prot&platform.ProtWrite != 0 {
		panic("direct mapping mapped writable")
	}
	h.hostMaps++
	return nil
}

// TestDirectFileMapping: a direct mapping copies nothing until written, copies the pages
// a write reaches, reads past the end of a truncated file fail, and the file is held
// exactly as long as a piece of the mapping (or of a fork's) lives.
func TestDirectFileMapping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	content := bytes.Repeat([]byte("0123456789abcdef"), 32*PageSize/16)
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mf, err := NewMemoryFile()
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	mf.SetDirectMaps(true)
	as := &hostMapAS{}
	m := New(mf, as, 1<<46)
	src := &directSource{f: f}
	a, err := m.Map(MapOpts{Length: 32 * PageSize, Prot: rw, Source: src, Hold: src})
	if err != nil {
		t.Fatal(err)
	}
	if as.hostMaps != 1 || mf.FilePages() != 0 || src.refs != 1 {
		t.Fatalf("after mmap: %d host maps, %d pages copied, %d refs; want 1, 0, 1", as.hostMaps, mf.FilePages(), src.refs)
	}
	got := make([]byte, 16)
	if _, err := m.CopyIn(a+5*PageSize, got); err != nil || !bytes.Equal(got, content[5*PageSize:5*PageSize+16]) {
		t.Fatalf("CopyIn = %q, %v", got, err)
	}
	if mf.FilePages() != 0 {
		t.Fatalf("a kernel read copied %d pages", mf.FilePages())
	}
	// An app write fault copies the 16 file-aligned pages around it.
	if !m.HandleFault(a+17*PageSize, m.FaultGen()) {
		t.Fatal("write fault not resolved")
	}
	if mf.FilePages() != 16 {
		t.Fatalf("write fault copied %d pages; want 16", mf.FilePages())
	}
	// The kernel storing for the app copies the page it reaches.
	if _, err := m.CopyOut(a+2*PageSize, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if mf.FilePages() != 17 {
		t.Fatalf("CopyOut copied %d pages in all; want 17", mf.FilePages())
	}
	if _, err := m.CopyIn(a+2*PageSize, got[:2]); err != nil || string(got[:2]) != "x1" {
		t.Fatalf("CopyIn after CopyOut = %q, %v", got[:2], err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, content) {
		t.Fatal("a private write reached the file")
	}
	c, err := m.Fork(&hostMapAS{})
	if err != nil {
		t.Fatal(err)
	}
	// Truncated to 3 pages: uncopied pages past the end are gone for the kernel, and an
	// app write there is SIGBUS.
	if err := os.Truncate(path, 3*PageSize); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CopyIn(a+5*PageSize, got); err != unix.EFAULT {
		t.Fatalf("CopyIn past the end: %v; want EFAULT", err)
	}
	if m.HandleFault(a+4*PageSize, m.FaultGen()) || !m.PastEOF(a+4*PageSize) {
		t.Fatal("a write fault past the end was resolved, or not SIGBUS")
	}
	if m.PastEOF(a + PageSize) {
		t.Fatal("PastEOF inside the file")
	}
	m.Release()
	if src.decs != 0 {
		t.Fatalf("file let go while the child maps it (%d decs)", src.decs)
	}
	c.Release()
	if src.decs != src.refs {
		t.Fatalf("%d refs, %d decs after both address spaces went", src.refs, src.decs)
	}
}

// TestDirectReadsAtEOF: the kernel's reads of a direct mapping around the end of its file:
// the file's bytes, then zeros to the end of its last page, then EFAULT, and strings read
// whether they end in the file, in the zeros after it, or a page later.
func TestDirectReadsAtEOF(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	size := 2*PageSize + 100
	content := bytes.Repeat([]byte("z"), size)
	copy(content[10:], "/etc/hostname\x00")
	copy(content[size-6:], "tail!!") // no NUL: the zeros after the file end it
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mf, err := NewMemoryFile()
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	mf.SetDirectMaps(true)
	m := New(mf, &hostMapAS{}, 1<<46)
	src := &directSource{f: f}
	a, err := m.Map(MapOpts{Length: 4 * PageSize, Prot: rw, Source: src, Hold: src})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	if s, err := m.CopyInString(a+10, 4096); err != nil || s != "/etc/hostname" {
		t.Fatalf("CopyInString in the file = %q, %v", s, err)
	}
	if s, err := m.CopyInString(a+uint64(size-6), 4096); err != nil || s != "tail!!" {
		t.Fatalf("CopyInString ending after the file = %q, %v", s, err)
	}
	got := make([]byte, 20)
	want := append(append([]byte(nil), content[size-10:]...), make([]byte, 10)...)
	if n, err := m.CopyIn(a+uint64(size-10), got); err != nil || n != 20 || !bytes.Equal(got, want) {
		t.Fatalf("CopyIn across the end of the file = %d %q, %v; want 20 %q", n, got, err, want)
	}
	if n, err := m.CopyIn(a+3*PageSize-4, got[:8]); err != unix.EFAULT || n != 4 || !bytes.Equal(got[:4], make([]byte, 4)) {
		t.Fatalf("CopyIn across the last page = %d %q, %v; want 4 zeros, EFAULT", n, got[:4], err)
	}
	if _, err := m.CopyIn(a+3*PageSize, got[:1]); err != unix.EFAULT {
		t.Fatalf("CopyIn past the last page: %v; want EFAULT", err)
	}
	// A page of zeros, then no page: no NUL in the file part, the zeros end the string.
	copy(content[2*PageSize:], bytes.Repeat([]byte("y"), 100))
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := m.CopyInString(a+2*PageSize, 4096); err != nil || s != string(bytes.Repeat([]byte("y"), 100)) {
		t.Fatalf("CopyInString of the last page = %q, %v", s, err)
	}
}
