package goferfs

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// watchFixture is a nameWatch reading a real host inotify instance, as the one the gofer
// donates, with directory dir and file dir/f watched with the gofer's mask.
func watchFixture(t *testing.T) (w *nameWatch, dir string, dirWD, fileWD int32) {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Skipf("no inotify: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	const mask = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE | unix.IN_DELETE_SELF |
		unix.IN_MOVE_SELF | unix.IN_ATTRIB | unix.IN_MODIFY | unix.IN_ACCESS | unix.IN_DONT_FOLLOW
	d, err := unix.InotifyAddWatch(fd, dir, mask)
	if err != nil {
		t.Fatal(err)
	}
	f, err := unix.InotifyAddWatch(fd, filepath.Join(dir, "f"), mask)
	if err != nil {
		t.Fatal(err)
	}
	w = &nameWatch{fd: fd, haveFD: true, buf: make([]byte, 16<<10)}
	return w, dir, int32(d), int32(f)
}

// TestWatchLog: a walk that made watches learns whether a drain during its request read
// events about what it watched (the file's own changes, a name removed from the listed
// directory, an overflow), and only those; overlapping walks each see their own window.
func TestWatchLog(t *testing.T) {
	w, dir, dirWD, fileWD := watchFixture(t)
	f := filepath.Join(dir, "f")

	mark := w.startLogLocked()
	os.Chmod(f, 0o600)
	w.drainLocked() // another thread's drain, before the walk registers the file
	if !w.endLogLocked(mark, []int32{fileWD}, 0) {
		t.Error("a chmod of the watched file during the walk went unnoticed")
	}

	mark = w.startLogLocked()
	os.WriteFile(filepath.Join(dir, "new"), nil, 0o644) // a name appearing: no removal
	if w.endLogLocked(mark, []int32{fileWD}, dirWD) {
		t.Error("a name created in the directory was taken for a change of the file or a removal")
	}

	outer := w.startLogLocked()
	os.Remove(filepath.Join(dir, "new"))
	inner := w.startLogLocked()
	if w.endLogLocked(inner, nil, dirWD) {
		t.Error("a removal before the inner walk began was reported to it")
	}
	if !w.endLogLocked(outer, nil, dirWD) {
		t.Error("a name removed from the listed directory during the walk went unnoticed")
	}
	if w.loggers != 0 || len(w.log) != 0 {
		t.Errorf("after every walk ended: %d loggers, %d events kept", w.loggers, len(w.log))
	}
}

// TestChildEpochPerName: a name deleted, moved out or moved over in a watched directory
// moves that name's epoch only; the directory's own attribute epoch moves with names
// changing in it, not with its children's own changes.
func TestChildEpochPerName(t *testing.T) {
	w, dir, dirWD, fileWD := watchFixture(t)
	in := &Inode{}
	x := w.registerLocked(in, dirWD)
	fx := w.registerLocked(&Inode{}, fileWD)
	os.WriteFile(filepath.Join(dir, "a"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "b"), nil, 0o644)
	w.drainLocked()
	a0, _ := w.childEpochLocked(x, "a")
	b0, _ := w.childEpochLocked(x, "b")
	f0, _ := w.childEpochLocked(x, "f")
	gen, fgen := x.gen, fx.gen

	os.Chmod(filepath.Join(dir, "f"), 0o600) // the child's own change
	w.drainLocked()
	if x.gen != gen || fx.gen == fgen {
		t.Errorf("chmod of a child: directory epoch %d -> %d, child %d -> %d; want the child's alone to move", gen, x.gen, fgen, fx.gen)
	}
	os.Remove(filepath.Join(dir, "a"))
	os.Rename(filepath.Join(dir, "f"), filepath.Join(dir, "b")) // f moved over b
	w.drainLocked()
	a1, ok := w.childEpochLocked(x, "a")
	b1, _ := w.childEpochLocked(x, "b")
	f1, _ := w.childEpochLocked(x, "f")
	if !ok || a1 == a0 || b1 == b0 || f1 == f0 {
		t.Errorf("after removing a and moving f over b: epochs a %d->%d, b %d->%d, f %d->%d; want all three moved", a0, a1, b0, b1, f0, f1)
	}
	if x.gen == gen {
		t.Error("names removed from the directory left its attribute epoch alone")
	}
	c0, _ := w.childEpochLocked(x, "c")
	os.WriteFile(filepath.Join(dir, "c2"), nil, 0o644)
	w.drainLocked()
	if c1, _ := w.childEpochLocked(x, "c"); c1 != c0 {
		t.Error("a name created in the directory moved the epoch of another")
	}
	os.RemoveAll(dir)
	w.drainLocked()
	if _, ok := w.childEpochLocked(x, "c"); ok {
		t.Error("the directory's watch ended, yet its children are still trusted")
	}
}
