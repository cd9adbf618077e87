package tmpfs

import (
	"bytes"
	"testing"

	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// TestUnlinkedFileFreedAtLastReference checks that an unlinked file's memory stays while
// an open file, a shared mapping or an O_PATH hold (Retain) refers to it, is freed (its
// memory-file range given back, its pages punched) when the last of them goes, and that a
// walk that found the file before then cannot open it (ENOENT: the open resolves again).
func TestUnlinkedFileFreedAtLastReference(t *testing.T) {
	mf, err := mm.NewMemoryFile()
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	_, root := New(mf, Options{Dev: 1})
	data := bytes.Repeat([]byte{'x'}, 4<<20)
	for _, hold := range []string{"open", "mapping", "pin"} {
		t.Run(hold, func(t *testing.T) {
			base, resident := mf.Used(), mf.Resident()
			vin, f, err := root.Create("f", unix.O_RDWR, 0o600, &vfs.Creds{})
			if err != nil {
				t.Fatal(err)
			}
			in := vin.(*Inode)
			desc := vfs.NewAnonFileDescription(f, "/f", unix.O_RDWR)
			if n, err := f.Write(desc, [][]byte{data}, 0); err != nil || n != int64(len(data)) {
				t.Fatalf("Write = %d, %v", n, err)
			}
			if got := mf.Resident() - resident; got < int64(len(data)) {
				t.Fatalf("Resident grew by %d after writing %d bytes", got, len(data))
			}
			var drop func()
			switch hold {
			case "open":
				g, err := in.Open(unix.O_RDONLY)
				if err != nil {
					t.Fatal(err)
				}
				drop = g.Release
			case "mapping":
				_, release, err := in.MapShared(0, int64(len(data)))
				if err != nil {
					t.Fatal(err)
				}
				drop = release
			case "pin":
				release, err := in.Retain()
				if err != nil {
					t.Fatal(err)
				}
				drop = release
			}
			if err := root.Unlink("f"); err != nil {
				t.Fatal(err)
			}
			f.Release()
			buf := make([]byte, 4)
			if n, err := in.ReadAt(buf, 1<<20); n != 4 || string(buf) != "xxxx" {
				t.Fatalf("held after unlink: ReadAt = %d %q, %v; want the contents", n, buf, err)
			}
			if mf.Used() == base {
				t.Fatalf("held after unlink: memory already freed")
			}
			drop()
			if got := mf.Used(); got != base {
				t.Errorf("after the last reference: Used = %d; want %d (the file's range freed)", got, base)
			}
			if got := mf.Resident() - resident; got >= int64(len(data)) {
				t.Errorf("after the last reference: Resident is %d above the start; want the pages punched", got)
			}
			if _, err := in.Open(unix.O_RDONLY); err != unix.ENOENT {
				t.Errorf("Open of the freed file = %v; want ENOENT", err)
			}
			if _, err := in.Retain(); err != unix.ENOENT {
				t.Errorf("Retain of the freed file = %v; want ENOENT", err)
			}
		})
	}
}
