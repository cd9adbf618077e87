package tmpfs

import (
	"testing"

	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// TestUnlinkedFileMemoryFreed: an unlinked file's pages go back to the host (its range of
// the memory file is punched) when its last open file and its last shared mapping go, not
// before (shmem_evict_inode).
func TestUnlinkedFileMemoryFreed(t *testing.T) {
	mf, err := mm.NewMemoryFile()
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	_, root := New(mf, Options{Dev: 1})
	const size = 4 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = 1
	}
	for _, mapped := range []bool{false, true} {
		base := mf.Resident()
		vi, f, err := root.Create("f", unix.O_RDWR, 0o600, &vfs.Creds{})
		if err != nil {
			t.Fatal(err)
		}
		in := vi.(*Inode)
		desc := vfs.NewAnonFileDescription(f, "/f", unix.O_RDWR)
		if n, err := f.Write(desc, [][]byte{data}, 0); err != nil || n != size {
			t.Fatalf("Write = %d, %v", n, err)
		}
		var release func()
		if mapped {
			if _, release, err = in.MapShared(0, size); err != nil {
				t.Fatal(err)
			}
		}
		if err := root.Unlink("f"); err != nil {
			t.Fatal(err)
		}
		if held := mf.Resident() - base; held < size {
			t.Fatalf("mapped %v: unlinked but open, the file holds %d bytes; want its %d", mapped, held, size)
		}
		desc.DecRef()
		if mapped {
			if held := mf.Resident() - base; held < size {
				t.Fatalf("closed but mapped, the file holds %d bytes; want its %d", held, size)
			}
			release()
		}
		if held := mf.Resident() - base; held > 0 {
			t.Fatalf("mapped %v: unlinked, closed and unmapped, the file still holds %d bytes", mapped, held)
		}
	}
}
