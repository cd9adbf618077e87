package tmpfs

import (
	"os"
	"testing"

	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// TestHostFile checks a host-backed file: its data is in its host memfd (what a peer
// would see), seals reach the host, its memory counts in the memory file's Resident, and
// the memfd is closed when the last open file and mapping go.
func TestHostFile(t *testing.T) {
	mf, err := mm.NewMemoryFile()
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	fs, _ := New(mf, Options{Dev: 1})
	in, err := fs.NewHostFile("test", 0o600, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd, ok := in.HostFD()
	if !ok {
		t.Fatal("HostFD() not ok for a host-backed file")
	}
	f, err := in.Open(unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	desc := vfs.NewAnonFileDescription(f, "/memfd:test", unix.O_RDWR)
	before := mf.Resident()
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i)
	}
	if n, err := f.Write(desc, [][]byte{data}, 0); err != nil || n != int64(len(data)) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	got := make([]byte, 16)
	if _, err := unix.Pread(fd, got, 4096); err != nil || got[1] != 1 {
		t.Fatalf("host memfd holds %v (%v), want the written bytes", got, err)
	}
	if grew := mf.Resident() - before; grew < int64(len(data)) {
		t.Fatalf("Resident grew by %d, want at least %d", grew, len(data))
	}
	in.SetSeals(0) // MFD_ALLOW_SEALING
	if err := in.AddSeals(SealShrink); err != nil {
		t.Fatal(err)
	}
	if s, _ := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0); s&unix.F_SEAL_SHRINK == 0 {
		t.Fatalf("host seals %#x lack F_SEAL_SHRINK", s)
	}
	b, err := in.Bytes(4096, 16)
	if err != nil || b[1] != 1 {
		t.Fatalf("Bytes = %v, %v", b, err)
	}
	if _, err := in.Bytes(1<<20-8, 16); err != unix.EFAULT {
		t.Fatalf("Bytes past the end = %v, want EFAULT", err)
	}
	_, _, release, err := in.MapHost(0, 4096)
	if err != nil {
		t.Fatal(err)
	}
	desc.DecRef()
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		t.Fatal("the memfd was closed while a mapping still uses it")
	}
	release()
	if _, err := os.Stat("/proc/self/fd/" + itoa(fd)); err == nil {
		if l, _ := os.Readlink("/proc/self/fd/" + itoa(fd)); l == "/memfd:test (deleted)" {
			t.Fatal("the memfd is still open after its last file and mapping went")
		}
	}
	if after := mf.Resident(); after > before {
		t.Fatalf("Resident = %d after the file went, want at most %d", after, before)
	}
}

func itoa(n int) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}
