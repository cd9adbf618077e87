package gofer

import (
	"path"

	"golang.org/x/sys/unix"
)

// reply is one answer: fields, an errno, and optionally an FD to donate.
type reply struct {
	e     encoder
	errno unix.Errno
	fd    int // -1: none
}

func errReply(err error) *reply {
	r := &reply{fd: -1}
	if e, ok := err.(unix.Errno); ok {
		r.errno = e
	} else {
		r.errno = unix.EIO
	}
	return r
}

func okReply() *reply { return &reply{fd: -1} }

func entryReply(id uint64, a Attr, target string) *reply {
	r := okReply()
	r.e.u64(id)
	r.e.attr(a)
	r.e.str(target)
	return r
}

// writeFlags are open flags that modify the file.
const writeFlags = unix.O_WRONLY | unix.O_RDWR | unix.O_TRUNC | unix.O_APPEND | unix.O_CREAT

// handle decodes and performs one request.
func (s *Server) handle(op Op, d *decoder) *reply {
	if op == OpAttach {
		idx := int(d.u32())
		if d.err != nil {
			return errReply(unix.EINVAL)
		}
		return s.attach(idx)
	}
	h := d.u64()
	if d.err != nil {
		return errReply(unix.EINVAL)
	}
	if op == OpClose {
		if err := s.closeHandle(h); err != nil {
			return errReply(err)
		}
		return okReply()
	}
	n, err := s.get(h)
	if err != nil {
		return errReply(err)
	}
	ro := s.readOnly(n)
	switch op {
	case OpWalk:
		name := d.str(MaxName + 1)
		if d.err != nil {
			return errReply(unix.EINVAL)
		}
		if err := validName(name); err != nil {
			return errReply(err)
		}
		if n.kind != KindDir {
			return errReply(unix.ENOTDIR)
		}
		s.tree.RLock()
		id, a, target, err := s.entryFor(n, name)
		s.tree.RUnlock()
		if err != nil {
			return errReply(err)
		}
		return entryReply(id, a, target)
	case OpStat:
		a, err := s.statFD(n.fd, n)
		if err != nil {
			return errReply(err)
		}
		r := okReply()
		r.e.attr(a)
		return r
	case OpStatFS:
		var st unix.Statfs_t
		if err := unix.Fstatfs(n.fd, &st); err != nil {
			return errReply(err)
		}
		r := okReply()
		flags := st.Flags
		if ro {
			flags |= unix.ST_RDONLY
		}
		for _, v := range []uint64{uint64(st.Type), uint64(st.Bsize), st.Blocks, st.Bfree, st.Bavail, st.Files, st.Ffree,
			uint64(st.Namelen), uint64(st.Frsize), uint64(flags)} {
			r.e.u64(v)
		}
		return r
	case OpOpen:
		flags := int(d.u32())
		if d.err != nil {
			return errReply(unix.EINVAL)
		}
		return s.open(n, flags, ro)
	case OpCreate, OpMkdir, OpMknod, OpSymlink:
		name := d.str(MaxName + 1)
		var flags int
		var mode uint32
		var target string
		switch op {
		case OpCreate:
			flags = int(d.u32())
			mode = d.u32()
		case OpMkdir, OpMknod:
			mode = d.u32()
		case OpSymlink:
			target = d.str(MaxPath)
		}
		if d.err != nil {
			return errReply(unix.EINVAL)
		}
		if err := validName(name); err != nil {
			return errReply(err)
		}
		if ro {
			return errReply(unix.EROFS)
		}
		if n.kind != KindDir {
			return errReply(unix.ENOTDIR)
		}
		s.tree.RLock()
		defer s.tree.RUnlock()
		if s.view.denied(path.Join(s.hostOf(n), name)) {
			return errReply(unix.EACCES)
		}
		return s.create(op, n, name, flags, mode, target)
	case OpLink:
		th := d.u64()
		name := d.str(MaxName + 1)
		if d.err != nil {
			return errReply(unix.EINVAL)
		}
		if err := validName(name); err != nil {
			return errReply(err)
		}
		t, err := s.get(th)
		if err != nil {
			return errReply(err)
		}
		if ro {
			return errReply(unix.EROFS)
		}
		if t.mount != n.mount {
			return errReply(unix.EXDEV)
		}
		s.tree.RLock()
		defer s.tree.RUnlock()
		if t.gone {
			return errReply(unix.ENOENT)
		}
		if t.parent == nil || t.kind == KindDir {
			return errReply(unix.EPERM)
		}
		if s.view.denied(path.Join(s.hostOf(n), name)) || s.view.denied(s.hostOf(t)) {
			return errReply(unix.EACCES)
		}
		if err := unix.Linkat(t.parent.fd, t.name, n.fd, name, 0); err != nil {
			return errReply(err)
		}
		id, a, target, err := s.entryFor(n, name)
		if err != nil {
			return errReply(err)
		}
		return entryReply(id, a, target)
	case OpUnlink:
		name := d.str(MaxName + 1)
		flags := int(d.u32())
		if d.err != nil || flags&^unix.AT_REMOVEDIR != 0 {
			return errReply(unix.EINVAL)
		}
		if err := validName(name); err != nil {
			return errReply(err)
		}
		if ro {
			return errReply(unix.EROFS)
		}
		s.tree.Lock()
		defer s.tree.Unlock()
		if s.view.denied(path.Join(s.hostOf(n), name)) {
			return errReply(unix.ENOENT)
		}
		if err := unix.Unlinkat(n.fd, name, flags); err != nil {
			return errReply(err)
		}
		s.unlinked(n, name)
		return okReply()
	case OpRename:
		oldName := d.str(MaxName + 1)
		nh := d.u64()
		newName := d.str(MaxName + 1)
		flags := uint(d.u32())
		if d.err != nil {
			return errReply(unix.EINVAL)
		}
		if err := validName(oldName); err != nil {
			return errReply(err)
		}
		if err := validName(newName); err != nil {
			return errReply(err)
		}
		nd, err := s.get(nh)
		if err != nil {
			return errReply(err)
		}
		if nd.mount != n.mount {
			return errReply(unix.EXDEV)
		}
		if ro {
			return errReply(unix.EROFS)
		}
		s.tree.Lock()
		defer s.tree.Unlock()
		if s.view.denied(path.Join(s.hostOf(n), oldName)) || s.view.denied(path.Join(s.hostOf(nd), newName)) {
			return errReply(unix.ENOENT)
		}
		if err := unix.Renameat2(n.fd, oldName, nd.fd, newName, flags); err != nil {
			return errReply(err)
		}
		exchange := flags&unix.RENAME_EXCHANGE != 0
		var st unix.Stat_t
		// A rename between two links of one file changes nothing: the old name stays.
		if exchange || unix.Fstatat(n.fd, oldName, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
			s.renamed(n, oldName, nd, newName, exchange)
		}
		return okReply()
	case OpWatch:
		donate := d.u8() != 0
		if d.err != nil {
			return errReply(unix.EINVAL)
		}
		r, err := s.watch(n, donate)
		if err != nil {
			return errReply(err)
		}
		return r
	case OpUnwatch:
		wd := d.u32()
		if d.err != nil {
			return errReply(unix.EINVAL)
		}
		if err := s.unwatch(int(wd)); err != nil {
			return errReply(err)
		}
		return okReply()
	case OpReadlink:
		if n.kind != KindSymlink {
			return errReply(unix.EINVAL)
		}
		buf := make([]byte, MaxPath+1)
		k, err := unix.Readlinkat(n.fd, "", buf)
		if err != nil {
			return errReply(err)
		}
		r := okReply()
		r.e.str(string(buf[:k]))
		return r
	case OpSetAttr:
		return s.setattr(n, d, ro)
	case OpGrow:
		want := int64(d.u64())
		if d.err != nil || want < 0 {
			return errReply(unix.EINVAL)
		}
		if ro {
			return errReply(unix.EROFS)
		}
		if n.kind != KindRegular {
			return errReply(unix.EINVAL)
		}
		end, err := s.disk.grow(n.fd, want)
		if err != nil {
			return errReply(err)
		}
		r := okReply()
		r.e.u64(uint64(end))
		return r
	case OpGetdents:
		off := d.u64()
		if d.err != nil {
			return errReply(unix.EINVAL)
		}
		return s.getdents(n, off)
	case OpGetxattr, OpListxattr, OpSetxattr, OpRemovexattr:
		return s.xattr(op, n, d, ro)
	}
	return errReply(unix.ENOSYS)
}

func (s *Server) attach(idx int) *reply {
	if idx < 0 || idx >= len(s.view.mounts) {
		return errReply(unix.ENOENT)
	}
	m := s.view.mounts[idx]
	fd, err := unix.Open(m.path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return errReply(err)
	}
	n := &node{fd: fd, mount: idx, root: m.path, host: m.HostPath}
	a, err := s.statFD(fd, n)
	if err != nil {
		unix.Close(fd)
		return errReply(err)
	}
	n.kind, n.ino, n.dev = a.Kind, a.Ino, a.Dev
	id, err := s.add(n)
	if err != nil {
		return errReply(err)
	}
	return entryReply(id, a, "")
}

func (s *Server) open(n *node, flags int, ro bool) *reply {
	if flags&^(unix.O_ACCMODE|unix.O_TRUNC|unix.O_APPEND|unix.O_NONBLOCK|unix.O_DIRECTORY|unix.O_LARGEFILE|
		unix.O_NOATIME|unix.O_DSYNC|unix.O_SYNC|unix.O_DIRECT) != 0 || flags&unix.O_ACCMODE == unix.O_ACCMODE {
		return errReply(unix.EINVAL)
	}
	if ro && flags&writeFlags != 0 {
		return errReply(unix.EROFS)
	}
	switch n.kind {
	case KindSymlink:
		return errReply(unix.ELOOP)
	case KindFIFO, KindSocket:
		return errReply(unix.ENXIO)
	case KindChar, KindBlock:
		if !s.view.mounts[n.mount].AllowDevices {
			return errReply(unix.EACCES)
		}
	case KindDir:
		if flags&unix.O_ACCMODE != unix.O_RDONLY {
			return errReply(unix.EISDIR)
		}
	}
	fd, err := s.reopen(n, flags&^unix.O_NOATIME)
	if err != nil {
		return errReply(err)
	}
	r := okReply()
	r.fd = fd
	return r
}

func (s *Server) create(op Op, n *node, name string, flags int, mode uint32, target string) *reply {
	fd := -1
	var err error
	switch op {
	case OpCreate:
		if flags&^(unix.O_ACCMODE|unix.O_TRUNC|unix.O_APPEND|unix.O_EXCL|unix.O_NONBLOCK|unix.O_LARGEFILE|unix.O_DSYNC|unix.O_SYNC) != 0 {
			return errReply(unix.EINVAL)
		}
		fd, err = unix.Openat(n.fd, name, flags|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY, mode&0o7777)
	case OpMkdir:
		err = unix.Mkdirat(n.fd, name, mode&0o7777)
	case OpMknod:
		switch mode & unix.S_IFMT {
		case unix.S_IFIFO, unix.S_IFSOCK:
			err = unix.Mknodat(n.fd, name, mode, 0)
		default:
			err = unix.EPERM
		}
	case OpSymlink:
		if target == "" {
			err = unix.ENOENT
		} else {
			err = unix.Symlinkat(target, n.fd, name)
		}
	}
	if err != nil {
		return errReply(err)
	}
	id, a, tgt, err := s.entryFor(n, name)
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return errReply(err)
	}
	if op == OpCreate && s.disk.limit > 0 {
		if p, err := unix.Openat(n.fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err == nil {
			s.disk.created(p)
		}
	}
	r := entryReply(id, a, tgt)
	r.fd = fd
	return r
}

// SetAttr mask bits on the wire.
const (
	setMode = 1 << iota
	setUID
	setGID
	setSize
	setAtime
	setMtime
)

func (s *Server) setattr(n *node, d *decoder, ro bool) *reply {
	mask := d.u32()
	mode, uid, gid := d.u32(), d.u32(), d.u32()
	size := int64(d.u64())
	at := Timespec{int64(d.u64()), int64(d.u64())}
	mt := Timespec{int64(d.u64()), int64(d.u64())}
	if d.err != nil {
		return errReply(unix.EINVAL)
	}
	if ro {
		return errReply(unix.EROFS)
	}
	s.tree.RLock()
	defer s.tree.RUnlock()
	if n.gone {
		return s.setattrGone(n, mask, mode, uid, gid, at, mt)
	}
	dirfd, name, flags := -1, "", 0
	if n.parent != nil {
		dirfd, name = n.parent.fd, n.name
	} else {
		dirfd, name = unix.AT_FDCWD, n.root
	}
	if mask&setSize != 0 {
		if n.kind != KindRegular {
			if n.kind == KindDir {
				return errReply(unix.EISDIR)
			}
			return errReply(unix.EINVAL)
		}
		fd, err := s.reopenLocked(n, unix.O_WRONLY)
		if err != nil {
			return errReply(err)
		}
		if end, err := s.disk.grow(fd, size); err != nil || end < size {
			unix.Close(fd)
			return errReply(unix.ENOSPC)
		}
		err = unix.Ftruncate(fd, size)
		unix.Close(fd)
		if err != nil {
			return errReply(err)
		}
	}
	if mask&(setUID|setGID) != 0 {
		u, g := -1, -1
		if mask&setUID != 0 {
			u = int(innerOwner(uid, s.hostUID))
		}
		if mask&setGID != 0 {
			g = int(innerOwner(gid, s.hostGID))
		}
		if err := unix.Fchownat(dirfd, name, u, g, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return errReply(err)
		}
	}
	if mask&setMode != 0 {
		if n.kind == KindSymlink {
			return errReply(unix.EOPNOTSUPP)
		}
		if err := unix.Fchmodat(dirfd, name, mode&0o7777, flags); err != nil {
			return errReply(err)
		}
	}
	if mask&(setAtime|setMtime) != 0 {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		if mask&setAtime != 0 {
			ts[0] = unix.Timespec{Sec: at.Sec, Nsec: at.Nsec}
		}
		if mask&setMtime != 0 {
			ts[1] = unix.Timespec{Sec: mt.Sec, Nsec: mt.Nsec}
		}
		if err := unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return errReply(err)
		}
	}
	return okReply()
}

// setattrGone changes a file whose name is gone (an open file unlinked or replaced since
// its walk) through its handle's own FD. Its size is changed through an open FD instead
// (the kernel truncates its donated FD).
func (s *Server) setattrGone(n *node, mask, mode, uid, gid uint32, at, mt Timespec) *reply {
	if mask&setSize != 0 {
		return errReply(unix.ENOENT)
	}
	if mask&(setUID|setGID) != 0 {
		u, g := -1, -1
		if mask&setUID != 0 {
			u = int(innerOwner(uid, s.hostUID))
		}
		if mask&setGID != 0 {
			g = int(innerOwner(gid, s.hostGID))
		}
		if err := unix.Fchownat(n.fd, "", u, g, unix.AT_EMPTY_PATH); err != nil {
			return errReply(err)
		}
	}
	if mask&setMode != 0 {
		if n.kind == KindSymlink {
			return errReply(unix.EOPNOTSUPP)
		}
		if err := fchmodEmptyPath(n.fd, mode&0o7777); err != nil {
			return errReply(err)
		}
	}
	if mask&(setAtime|setMtime) != 0 {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		if mask&setAtime != 0 {
			ts[0] = unix.Timespec{Sec: at.Sec, Nsec: at.Nsec}
		}
		if mask&setMtime != 0 {
			ts[1] = unix.Timespec{Sec: mt.Sec, Nsec: mt.Nsec}
		}
		if err := unix.UtimesNanoAt(n.fd, "", ts, unix.AT_EMPTY_PATH); err != nil {
			return errReply(err)
		}
	}
	return okReply()
}

// direntBudget bounds the entries of one getdents reply.
const direntBudget = 48 << 10

func (s *Server) getdents(n *node, off uint64) *reply {
	if n.kind != KindDir {
		return errReply(unix.ENOTDIR)
	}
	s.tree.RLock()
	host := s.hostOf(n)
	fd, err := s.reopenLocked(n, unix.O_RDONLY|unix.O_DIRECTORY)
	s.tree.RUnlock()
	if err != nil {
		return errReply(err)
	}
	defer unix.Close(fd)
	if off != 0 {
		if _, err := unix.Seek(fd, int64(off), 0); err != nil {
			return errReply(err)
		}
	}
	r := okReply()
	var body encoder
	count := 0
	buf := make([]byte, 32<<10)
	next := uint64(0)
	for {
		k, err := unix.Getdents(fd, buf)
		if err != nil {
			return errReply(err)
		}
		if k == 0 {
			next = 0
			break
		}
		full := false
		for b := buf[:k]; len(b) >= 19; {
			reclen := int(b[16]) | int(b[17])<<8
			if reclen < 19 || reclen > len(b) {
				break
			}
			ino := le64(b[0:])
			doff := le64(b[8:])
			typ := b[18]
			nameBytes := b[19:reclen]
			for i, c := range nameBytes {
				if c == 0 {
					nameBytes = nameBytes[:i]
					break
				}
			}
			name := string(nameBytes)
			b = b[reclen:]
			if name == "." || name == ".." || s.view.denied(path.Join(host, name)) {
				next = doff
				continue
			}
			if len(body.b) > direntBudget {
				full = true
				break
			}
			body.str(name)
			body.u64(ino)
			body.u8(uint8(dtKind(typ)))
			count++
			next = doff
		}
		if full {
			break
		}
	}
	r.e.u64(next)
	r.e.u32(uint32(count))
	r.e.b = append(r.e.b, body.b...)
	return r
}

func le64(b []byte) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

func dtKind(t uint8) Kind {
	switch t {
	case unix.DT_REG:
		return KindRegular
	case unix.DT_DIR:
		return KindDir
	case unix.DT_LNK:
		return KindSymlink
	case unix.DT_FIFO:
		return KindFIFO
	case unix.DT_SOCK:
		return KindSocket
	case unix.DT_CHR:
		return KindChar
	case unix.DT_BLK:
		return KindBlock
	}
	return 0
}

func (s *Server) xattr(op Op, n *node, d *decoder, ro bool) *reply {
	var name string
	var value []byte
	var flags int
	if op != OpListxattr {
		name = d.str(255)
	}
	if op == OpSetxattr {
		value = []byte(d.str(64 << 10))
		flags = int(d.u32())
	}
	if d.err != nil {
		return errReply(unix.EINVAL)
	}
	if n.kind != KindRegular && n.kind != KindDir {
		return errReply(unix.ENODATA)
	}
	if op == OpSetxattr || op == OpRemovexattr {
		if ro {
			return errReply(unix.EROFS)
		}
		if len(name) < 5 || name[:5] != "user." {
			return errReply(unix.EPERM)
		}
	}
	fd, err := s.reopen(n, unix.O_RDONLY)
	if err != nil {
		return errReply(err)
	}
	defer unix.Close(fd)
	r := okReply()
	switch op {
	case OpGetxattr:
		buf := make([]byte, 64<<10)
		k, err := unix.Fgetxattr(fd, name, buf)
		if err != nil {
			return errReply(err)
		}
		r.e.str(string(buf[:k]))
	case OpListxattr:
		buf := make([]byte, 64<<10)
		k, err := unix.Flistxattr(fd, buf)
		if err != nil {
			return errReply(err)
		}
		r.e.str(string(buf[:k]))
	case OpSetxattr:
		if err := unix.Fsetxattr(fd, name, value, flags); err != nil {
			return errReply(err)
		}
	case OpRemovexattr:
		if err := unix.Fremovexattr(fd, name); err != nil {
			return errReply(err)
		}
	}
	return r
}
