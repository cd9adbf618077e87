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
	// more are FDs donated after fd (a getdents reply with Plus).
	more []int
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

func entryOf(id uint64, a Attr, target string) *reply {
	return bodyReply(&entryReply{Handle: id, Attr: a, Target: target})
}

// bodyReply is a successful reply with body b.
func bodyReply(b replyBody) *reply {
	r := okReply()
	b.encode(&r.e)
	return r
}

// writeFlags are open flags that modify the file.
const writeFlags = unix.O_WRONLY | unix.O_RDWR | unix.O_TRUNC | unix.O_APPEND | unix.O_CREAT

// handle decodes and performs one request.
func (s *Server) handle(op Op, d *decoder) *reply {
	req := newRequest(op)
	if req == nil {
		return errReply(unix.ENOSYS)
	}
	req.decode(d)
	if d.err != nil {
		return errReply(unix.EINVAL)
	}
	if r, ok := req.(*attachReq); ok {
		return s.attach(int(r.Mount))
	}
	hreq := req.(handleRequest)
	if op == OpClose {
		if err := s.closeHandle(hreq.handle()); err != nil {
			return errReply(err)
		}
		return okReply()
	}
	n, err := s.get(hreq.handle())
	if err != nil {
		return errReply(err)
	}
	ro := s.readOnly(n)
	switch r := req.(type) {
	case *walkReq:
		if err := validName(r.Name); err != nil {
			return errReply(err)
		}
		if n.kind != KindDir {
			return errReply(unix.ENOTDIR)
		}
		pe, fd, err := s.walkOne(n, r.Name, r.Open, r.Watch)
		if err != nil {
			return errReply(err)
		}
		rep := bodyReply(&pe.entryReply)
		rep.fd = fd
		return rep
	case *handleReq:
		switch op {
		case OpStat:
			a, err := s.statFD(n.fd, n)
			if err != nil {
				return errReply(err)
			}
			return bodyReply(&attrReply{Attr: a})
		case OpStatFS:
			var st unix.Statfs_t
			if err := unix.Fstatfs(n.fd, &st); err != nil {
				return errReply(err)
			}
			flags := st.Flags
			if ro {
				flags |= unix.ST_RDONLY
			}
			return bodyReply(&statFSReply{StatFS: StatFS{Type: st.Type, Bsize: st.Bsize, Blocks: st.Blocks, Bfree: st.Bfree,
				Bavail: st.Bavail, Files: st.Files, Ffree: st.Ffree, NameLen: st.Namelen, Frsize: st.Frsize, Flags: flags}})
		case OpReadlink:
			if n.kind != KindSymlink {
				return errReply(unix.EINVAL)
			}
			buf := make([]byte, MaxPath+1)
			k, err := unix.Readlinkat(n.fd, "", buf)
			if err != nil {
				return errReply(err)
			}
			return bodyReply(&stringReply{S: string(buf[:k])})
		case OpListxattr:
			return s.xattr(op, n, "", "", 0, ro)
		}
	case *openReq:
		return s.open(n, int(r.Flags), ro)
	case *createReq:
		return s.checkCreate(n, r.Name, ro, func() *reply { return s.create(op, n, r.Name, int(r.Flags), r.Mode, "") })
	case *mkReq:
		return s.checkCreate(n, r.Name, ro, func() *reply { return s.create(op, n, r.Name, 0, r.Mode, "") })
	case *symlinkReq:
		return s.checkCreate(n, r.Name, ro, func() *reply { return s.create(op, n, r.Name, 0, 0, r.Target) })
	case *linkReq:
		if err := validName(r.Name); err != nil {
			return errReply(err)
		}
		t, err := s.get(r.Target)
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
		if s.view.denied(path.Join(s.hostOf(n), r.Name)) || s.view.denied(s.hostOf(t)) {
			return errReply(unix.EACCES)
		}
		if err := unix.Linkat(t.parent.fd, t.name, n.fd, r.Name, 0); err != nil {
			return errReply(err)
		}
		id, a, target, err := s.entryFor(n, r.Name)
		if err != nil {
			return errReply(err)
		}
		return entryOf(id, a, target)
	case *unlinkReq:
		flags := int(r.Flags)
		if flags&^unix.AT_REMOVEDIR != 0 {
			return errReply(unix.EINVAL)
		}
		if err := validName(r.Name); err != nil {
			return errReply(err)
		}
		if ro {
			return errReply(unix.EROFS)
		}
		s.tree.Lock()
		defer s.tree.Unlock()
		if s.view.denied(path.Join(s.hostOf(n), r.Name)) {
			return errReply(unix.ENOENT)
		}
		if err := unix.Unlinkat(n.fd, r.Name, flags); err != nil {
			return errReply(err)
		}
		s.unlinked(n, r.Name)
		return okReply()
	case *renameReq:
		if err := validName(r.OldName); err != nil {
			return errReply(err)
		}
		if err := validName(r.NewName); err != nil {
			return errReply(err)
		}
		nd, err := s.get(r.NewDir)
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
		if s.view.denied(path.Join(s.hostOf(n), r.OldName)) || s.view.denied(path.Join(s.hostOf(nd), r.NewName)) {
			return errReply(unix.ENOENT)
		}
		if err := unix.Renameat2(n.fd, r.OldName, nd.fd, r.NewName, uint(r.Flags)); err != nil {
			return errReply(err)
		}
		exchange := r.Flags&unix.RENAME_EXCHANGE != 0
		var st unix.Stat_t
		// A rename between two links of one file changes nothing: the old name stays.
		if exchange || unix.Fstatat(n.fd, r.OldName, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
			s.renamed(n, r.OldName, nd, r.NewName, exchange)
		}
		return okReply()
	case *watchReq:
		w, mask := &s.watcher, uint32(hostWatchMask)
		if r.Names || r.Attrs {
			if r.Names && n.kind != KindDir {
				return errReply(unix.ENOTDIR)
			}
			w, mask = &s.nameWatcher, cacheWatchMask
		}
		rep, err := s.watch(w, mask, n, r.WantFD)
		if err != nil {
			return errReply(err)
		}
		return rep
	case *unwatchReq:
		if err := s.unwatch(&s.watcher, int(r.WD)); err != nil {
			return errReply(err)
		}
		return okReply()
	case *setAttrReq:
		return s.setattr(n, r, ro)
	case *growReq:
		if r.End < 0 {
			return errReply(unix.EINVAL)
		}
		if ro {
			return errReply(unix.EROFS)
		}
		if n.kind != KindRegular {
			return errReply(unix.EINVAL)
		}
		end, err := s.disk.grow(n.fd, r.End)
		if err != nil {
			return errReply(err)
		}
		return bodyReply(&u64Reply{V: uint64(end)})
	case *getdentsReq:
		return s.getdents(n, r)
	case *xattrNameReq:
		return s.xattr(op, n, r.Name, "", 0, ro)
	case *setxattrReq:
		return s.xattr(op, n, r.Name, r.Value, int(r.Flags), ro)
	}
	return errReply(unix.ENOSYS)
}

// checkCreate makes the checks every request that creates a name shares, then calls do
// with the rename lock held shared.
func (s *Server) checkCreate(n *node, name string, ro bool, do func() *reply) *reply {
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
	return do()
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
	return entryOf(id, a, "")
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
	r := entryOf(id, a, tgt)
	r.fd = fd
	return r
}

func (s *Server) setattr(n *node, r *setAttrReq, ro bool) *reply {
	mask, mode, uid, gid, size, at, mt := r.Mask, r.Mode, r.UID, r.GID, r.Size, r.Atime, r.Mtime
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

func (s *Server) getdents(n *node, req *getdentsReq) *reply {
	off := req.Offset
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
	body := getdentsReply{Plus: req.Plus}
	var fds []int
	size := 0
	buf := make([]byte, 32<<10)
	for {
		k, err := unix.Getdents(fd, buf)
		if err != nil {
			return errReply(err)
		}
		if k == 0 {
			body.Next = 0
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
				body.Next = doff
				continue
			}
			if size > direntBudget || len(fds) >= maxPlusFDs {
				full = true
				break
			}
			body.Dirents = append(body.Dirents, Dirent{Name: name, Ino: ino, Kind: dtKind(typ)})
			size += 4 + len(name) + 8 + 1 // as encoded
			body.Next = doff
			if req.Plus {
				pe, fd := s.walkEntry(n, name, req.Open, req.Watch)
				if fd >= 0 {
					pe.HasFD = true
					fds = append(fds, fd)
				}
				body.Entries = append(body.Entries, pe)
				size += 128 + len(pe.Target)
			}
		}
		if full {
			break
		}
	}
	r := bodyReply(&body)
	if len(fds) > 0 {
		r.fd, r.more = fds[0], fds[1:]
	}
	return r
}

// walkEntry walks name below n as a walk request with open and watch would: the entry
// (Handle 0 if it could not be walked) and the FD opened, or -1.
func (s *Server) walkEntry(n *node, name string, open, watch bool) (plusEntry, int) {
	pe, fd, _ := s.walkOne(n, name, open, watch)
	return pe, fd
}

// walkOne makes a handle for name below directory n; with open, a regular file found is
// opened read-only as open(O_RDONLY) would (the handle's node reopened by parent and
// name; -1 when it cannot be); with watch, it is watched for the kernel's caches
// (watchEntry).
func (s *Server) walkOne(n *node, name string, open, watch bool) (plusEntry, int, error) {
	s.tree.RLock()
	id, a, target, err := s.entryFor(n, name)
	fd := -1
	if err == nil && open && a.Kind == KindRegular {
		if c, gerr := s.get(id); gerr == nil {
			fd, _ = s.reopenLocked(c, unix.O_RDONLY)
		}
	}
	s.tree.RUnlock()
	if err != nil {
		return plusEntry{}, -1, err
	}
	var wd int
	if watch {
		wd, a = s.watchEntry(id, a)
	}
	return plusEntry{entryReply: entryReply{Handle: id, Attr: a, Target: target, WD: uint32(wd)}}, fd, nil
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

func (s *Server) xattr(op Op, n *node, name, value string, flags int, ro bool) *reply {
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
	switch op {
	case OpGetxattr:
		buf := make([]byte, maxXattrValue)
		k, err := unix.Fgetxattr(fd, name, buf)
		if err != nil {
			return errReply(err)
		}
		return bodyReply(&stringReply{S: string(buf[:k])})
	case OpListxattr:
		buf := make([]byte, maxXattrValue)
		k, err := unix.Flistxattr(fd, buf)
		if err != nil {
			return errReply(err)
		}
		return bodyReply(&stringReply{S: string(buf[:k])})
	case OpSetxattr:
		if err := unix.Fsetxattr(fd, name, []byte(value), flags); err != nil {
			return errReply(err)
		}
	case OpRemovexattr:
		if err := unix.Fremovexattr(fd, name); err != nil {
			return errReply(err)
		}
	}
	return okReply()
}
