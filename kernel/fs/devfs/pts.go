package devfs

import (
	"strconv"
	"sync"

	"github.com/sbx-dev/sbx/kernel/fs/tmpfs"
	"github.com/sbx-dev/sbx/kernel/tty"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// Pseudo-terminal device numbers: /dev/ptmx and the slaves' major (devices.txt).
var DevPtmx = unix.Mkdev(5, 2)

const ptsMajor = 136

// maxPtys is /proc/sys/kernel/pty/max's default.
const maxPtys = 4096

// pts is the sandbox's /dev/pts: opening ptmx makes a pair and its slave node N; the node
// goes when the master closes.
type pts struct {
	dir      *tmpfs.Inode
	jc       tty.JobControl
	uid, gid uint32

	mu sync.Mutex
	// ptys by index. protected by mu
	ptys map[int]*tty.Pty
}

// ttyGID is the group slaves belong to (devpts mounted gid=5, as Debian does).
const ttyGID = 5

func (d *pts) openPtmx() (vfs.File, error) {
	d.mu.Lock()
	idx := -1
	for i := range maxPtys {
		if _, used := d.ptys[i]; !used {
			idx = i
			break
		}
	}
	if idx < 0 {
		d.mu.Unlock()
		return nil, unix.ENOSPC
	}
	name := strconv.Itoa(idx)
	var p *tty.Pty
	p = tty.NewPty(idx, d.jc, "/dev/pts/"+name, func(int) (vfs.File, error) { return p.OpenSlave() })
	d.ptys[idx] = p
	d.mu.Unlock()
	if err := d.dir.MknodDevice(name, unix.S_IFCHR|0o620, unix.Mkdev(ptsMajor, uint32(idx))); err != nil {
		d.mu.Lock()
		delete(d.ptys, idx)
		d.mu.Unlock()
		return nil, err
	}
	if in, err := d.dir.Lookup(name); err == nil {
		uid, gid := d.uid, uint32(ttyGID)
		in.SetAttr(vfs.SetAttr{UID: &uid, GID: &gid})
	}
	m := &tty.Master{P: p}
	m.OpenPeer = func() (vfs.File, vfs.Inode, error) {
		in, err := d.dir.Lookup(name)
		if err != nil {
			return nil, nil, unix.EIO
		}
		f, err := p.OpenSlave()
		if err != nil {
			return nil, nil, err
		}
		return f, in, nil
	}
	m.OnClose = func() {
		d.dir.Unlink(name)
		d.mu.Lock()
		delete(d.ptys, idx)
		d.mu.Unlock()
	}
	return m, nil
}

func (d *pts) openSlave(rdev uint64) (vfs.File, error) {
	d.mu.Lock()
	p := d.ptys[int(unix.Minor(rdev))]
	d.mu.Unlock()
	if p == nil {
		return nil, unix.EIO
	}
	return p.OpenSlave()
}
