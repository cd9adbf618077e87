// Package devfs builds the sandbox's /dev: a tmpfs holding the device nodes the kernel
// implements itself (null, zero, full, random, urandom) and the terminal ones (tty, console)
// that reach the user's terminal FD the launcher handed over. No host device is ever opened.
package devfs

import (
	"crypto/rand"

	"github.com/sbx-dev/sbx/kernel/fs/tmpfs"
	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/tty"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// Device numbers (Documentation/admin-guide/devices.txt).
var (
	DevNull    = unix.Mkdev(1, 3)
	DevZero    = unix.Mkdev(1, 5)
	DevFull    = unix.Mkdev(1, 7)
	DevRandom  = unix.Mkdev(1, 8)
	DevURandom = unix.Mkdev(1, 9)
	DevTTY     = unix.Mkdev(5, 0)
	DevConsole = unix.Mkdev(5, 1)
)

// Terminal opens the user's terminal for /dev/tty and /dev/console; nil means there is none.
type Terminal func(flags int) (vfs.File, error)

// New builds /dev. The returned inode is the root of a tmpfs to mount at /dev. jc is the
// kernel's job control, for the pseudo-terminals; uid and gid own the slaves and the console.
func New(mf *mm.MemoryFile, dev uint64, term Terminal, jc tty.JobControl, uid, gid uint32) (*tmpfs.Inode, error) {
	ptys := &pts{jc: jc, uid: uid, gid: gid, ptys: map[int]*tty.Pty{}}
	open := func(rdev uint64, flags int) (vfs.File, error) {
		if unix.Major(rdev) == ptsMajor {
			return ptys.openSlave(rdev)
		}
		switch rdev {
		case DevNull:
			return nullFile{}, nil
		case DevZero:
			return zeroFile{}, nil
		case DevFull:
			return fullFile{}, nil
		case DevRandom, DevURandom:
			return randomFile{}, nil
		case DevTTY:
			// The caller's controlling terminal: the open path swaps this for it.
			return CurrentTTY{}, nil
		case DevConsole:
			if term == nil {
				return nil, unix.ENXIO
			}
			return term(flags)
		case DevPtmx:
			return ptys.openPtmx()
		}
		return nil, unix.ENXIO
	}
	_, root := tmpfs.New(mf, tmpfs.Options{Dev: dev, Devices: open, Mode: 0o755, SingleGrain: true})
	nodes := []struct {
		name string
		mode uint32
		rdev uint64
	}{
		{"null", 0o666, DevNull}, {"zero", 0o666, DevZero}, {"full", 0o666, DevFull},
		{"random", 0o666, DevRandom}, {"urandom", 0o666, DevURandom},
		{"tty", 0o666, DevTTY}, {"console", 0o600, DevConsole},
	}
	for _, n := range nodes {
		if err := root.MknodDevice(n.name, unix.S_IFCHR|n.mode, n.rdev); err != nil {
			return nil, err
		}
	}
	rootCreds := &vfs.Creds{}
	for _, d := range []string{"pts", "shm", "mqueue"} {
		mode := uint32(0o755)
		if d != "pts" {
			mode = 0o1777
		}
		if err := root.Mkdir(d, mode, rootCreds); err != nil {
			return nil, err
		}
	}
	if in, err := root.Lookup("console"); err == nil && term != nil {
		// The user's terminal is the user's, as their /dev/pts/N is outside.
		in.SetAttr(vfs.SetAttr{UID: &uid, GID: &gid})
	}
	ptsDir, err := root.Lookup("pts")
	if err != nil {
		return nil, err
	}
	ptys.dir = ptsDir.(*tmpfs.Inode)
	if err := ptys.dir.MknodDevice("ptmx", unix.S_IFCHR|0o666, DevPtmx); err != nil {
		return nil, err
	}
	links := [][2]string{{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
		{"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"}}
	for _, l := range links {
		if err := root.Symlink(l[0], l[1], rootCreds); err != nil {
			return nil, err
		}
	}
	return root, nil
}

// CurrentTTY is what opening /dev/tty gives before the open path replaces it with the
// caller's controlling terminal (ENXIO when it has none).
type CurrentTTY struct{ alwaysReady }

// CurrentTerminal implements tty.CurrentTerminal.
func (CurrentTTY) CurrentTerminal() {}

func (CurrentTTY) Read(*vfs.FileDescription, [][]byte, int64) (int64, error)  { return 0, unix.ENXIO }
func (CurrentTTY) Write(*vfs.FileDescription, [][]byte, int64) (int64, error) { return 0, unix.ENXIO }

// alwaysReady is the poll behaviour of the simple devices.
type alwaysReady struct{}

func (alwaysReady) Readiness(mask uint32) uint32 {
	return mask & (waiter.EventIn | waiter.EventOut | waiter.EventRdNorm)
}
func (alwaysReady) EventRegister(*waiter.Entry)   {}
func (alwaysReady) EventUnregister(*waiter.Entry) {}
func (alwaysReady) Release()                      {}

// Seek on these devices always succeeds and leaves the position at 0.
func (alwaysReady) Seek(*vfs.FileDescription, int64, int64, int) (int64, error) { return 0, nil }

func total(bs [][]byte) int64 {
	var n int64
	for _, b := range bs {
		n += int64(len(b))
	}
	return n
}

type nullFile struct{ alwaysReady }

func (nullFile) Read(*vfs.FileDescription, [][]byte, int64) (int64, error) { return 0, nil }
func (nullFile) Write(_ *vfs.FileDescription, src [][]byte, _ int64) (int64, error) {
	return total(src), nil
}

type zeroFile struct{ alwaysReady }

func (zeroFile) Read(_ *vfs.FileDescription, dst [][]byte, _ int64) (int64, error) {
	for _, b := range dst {
		clear(b)
	}
	return total(dst), nil
}
func (zeroFile) Write(_ *vfs.FileDescription, src [][]byte, _ int64) (int64, error) {
	return total(src), nil
}

type fullFile struct{ alwaysReady }

func (fullFile) Read(_ *vfs.FileDescription, dst [][]byte, _ int64) (int64, error) {
	for _, b := range dst {
		clear(b)
	}
	return total(dst), nil
}
func (fullFile) Write(*vfs.FileDescription, [][]byte, int64) (int64, error) { return 0, unix.ENOSPC }

type randomFile struct{ alwaysReady }

func (randomFile) Read(_ *vfs.FileDescription, dst [][]byte, _ int64) (int64, error) {
	for _, b := range dst {
		rand.Read(b)
	}
	return total(dst), nil
}
func (randomFile) Write(_ *vfs.FileDescription, src [][]byte, _ int64) (int64, error) {
	return total(src), nil
}
