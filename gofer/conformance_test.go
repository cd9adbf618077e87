package gofer

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMessagesRoundTrip: every op has a request type whose op is that op, and every
// request and reply body decodes to what was encoded, with nothing left over; a message
// cut short fails decoding.
func TestMessagesRoundTrip(t *testing.T) {
	for op := Op(1); op < opMax; op++ {
		req := newRequest(op)
		if req == nil {
			t.Errorf("op %d has no request type", op)
			continue
		}
		if req.op() != op {
			t.Errorf("newRequest(%d).op() = %d", op, req.op())
		}
	}
	hf := handleField{Handle: 0x1122334455667788}
	ts := Timespec{Sec: 1700000000, Nsec: 123456789}
	attr := Attr{Kind: KindRegular, Mode: unix.S_IFREG | 0o640, UID: 1000, GID: 100, Nlink: 2, Size: 12345, Blocks: 24,
		BlkSize: 4096, Atime: ts, Mtime: ts, Ctime: ts, Ino: 77, Dev: 66, Rdev: 5, ReadOnly: true}
	msgs := []replyBody{
		&attachReq{Mount: 3},
		&handleReq{kind: OpStat, handleField: hf},
		&walkReq{handleField: hf, Name: "name"},
		&walkReq{handleField: hf, Name: "opened", Open: true},
		&openReq{handleField: hf, Flags: unix.O_RDWR | unix.O_TRUNC},
		&createReq{handleField: hf, Name: "new", Flags: unix.O_WRONLY, Mode: 0o600},
		&mkReq{kind: OpMkdir, handleField: hf, Name: "dir", Mode: 0o755},
		&symlinkReq{handleField: hf, Name: "link", Target: "../target"},
		&linkReq{handleField: hf, Target: 99, Name: "hard"},
		&unlinkReq{handleField: hf, Name: "gone", Flags: unix.AT_REMOVEDIR},
		&renameReq{handleField: hf, OldName: "a", NewDir: 42, NewName: "b", Flags: unix.RENAME_NOREPLACE},
		&setAttrReq{handleField: hf, Mask: setMode | setSize | setMtime, Mode: 0o700, UID: 1, GID: 2, Size: 4096, Atime: ts, Mtime: ts},
		&getdentsReq{handleField: hf, Offset: 1 << 40},
		&getdentsReq{handleField: hf, Offset: 7, Plus: true, Open: true, Watch: true},
		&xattrNameReq{kind: OpGetxattr, handleField: hf, Name: "user.x"},
		&setxattrReq{handleField: hf, Name: "user.x", Value: "v\x00w", Flags: 1},
		&growReq{handleField: hf, End: 1 << 33},
		&watchReq{handleField: hf, WantFD: true},
		&watchReq{handleField: hf, Names: true},
		&watchReq{handleField: hf, Attrs: true},
		&walkReq{handleField: hf, Name: "watched", Watch: true},
		&entryReply{Handle: 6, Attr: attr, WD: 9},
		&unwatchReq{handleField: hf, WD: 7},
		&entryReply{Handle: 5, Attr: attr, Target: "t"},
		&attrReply{Attr: attr},
		&statFSReply{StatFS: StatFS{Type: 0xef53, Bsize: 4096, Blocks: 1, Bfree: 2, Bavail: 3, Files: 4, Ffree: 5, NameLen: 255, Frsize: 4096, Flags: 1}},
		&stringReply{S: "a\x00b\x00", max: 100},
		&getdentsReply{Next: 9, Dirents: []Dirent{{Name: "x", Ino: 1, Kind: KindDir}, {Name: "y", Ino: 2, Kind: KindSymlink}}},
		&getdentsReply{Dirents: []Dirent{{Name: "x", Ino: 1, Kind: KindRegular}}, Plus: true,
			Entries: []plusEntry{{entryReply: entryReply{Handle: 3, Attr: attr, WD: 2}, HasFD: true}}},
		&u64Reply{V: 1 << 50},
		&u32Reply{V: 1 << 20},
		&helloReq{Version: Version},
		&helloReply{Version: Version, Mounts: []MountInfo{{Index: 0, SandboxPath: "/a", ReadOnly: true, Kind: KindDir}, {Index: 1, SandboxPath: "/b", Kind: KindRegular}}},
	}
	for _, m := range msgs {
		var e encoder
		m.encode(&e)
		got := reflect.New(reflect.TypeOf(m).Elem()).Interface().(replyBody)
		// Carry the fields that are not on the wire (the op of shared types, a bound).
		switch g := got.(type) {
		case *handleReq:
			g.kind = m.(*handleReq).kind
		case *mkReq:
			g.kind = m.(*mkReq).kind
		case *xattrNameReq:
			g.kind = m.(*xattrNameReq).kind
		case *stringReply:
			g.max = m.(*stringReply).max
		}
		d := &decoder{b: e.b}
		got.decode(d)
		if d.err != nil || len(d.b) != 0 || !reflect.DeepEqual(got, m) {
			t.Errorf("%T: decode(encode(%+v)) = %+v, err %v, %d bytes left", m, m, got, d.err, len(d.b))
		}
		if len(e.b) > 0 {
			short := &decoder{b: e.b[:len(e.b)-1]}
			reflect.New(reflect.TypeOf(m).Elem()).Interface().(replyBody).decode(short)
			if short.err == nil {
				t.Errorf("%T: decoding a message one byte short succeeded", m)
			}
		}
	}
}

// TestConformance drives every op through the client against a server, with the
// successes and the error paths each op has: missing names (ENOENT), denied paths
// (ENOENT or EACCES, never the file), names that try to leave a directory (".."; EINVAL),
// symlinks that are reported and never followed, read-only mounts (EROFS), wrong file
// types, stale handles (EBADF). It fails if an op goes untested.
func TestConformance(t *testing.T) {
	dir := mkTree(t)
	other := t.TempDir()
	ro := mkTree(t)
	c := serve(t, []Mount{{HostPath: dir, SandboxPath: "/data"}, {HostPath: other, SandboxPath: "/other"},
		{HostPath: ro, SandboxPath: "/ro", ReadOnly: true}}, []string{filepath.Join(dir, "secret")})
	tested := map[Op]bool{}
	check := func(op Op, what string, err, want error) {
		t.Helper()
		tested[op] = true
		if err != want {
			t.Errorf("%s = %v; want %v", what, err, want)
		}
	}
	ok := func(op Op, what string, err error) {
		t.Helper()
		check(op, what, err, nil)
		if err != nil {
			t.FailNow()
		}
	}

	// Attach.
	root, err := c.Attach(0)
	ok(OpAttach, "Attach(0)", err)
	if root.Attr.Kind != KindDir {
		t.Fatalf("Attach(0) is a %v, not a directory", root.Attr.Kind)
	}
	_, err = c.Attach(7)
	check(OpAttach, "Attach(7) of 3 mounts", err, unix.ENOENT)
	otherRoot, err := c.Attach(1)
	ok(OpAttach, "Attach(1)", err)
	roRoot, err := c.Attach(2)
	ok(OpAttach, "Attach(2)", err)

	// Walk, including the escapes.
	a, err := root.Handle.Walk("a")
	ok(OpWalk, "Walk(a)", err)
	file, err := a.Handle.Walk("file")
	ok(OpWalk, "Walk(a/file)", err)
	if file.Attr.Size != 7 || file.Attr.Kind != KindRegular {
		t.Errorf("a/file: %+v; want a regular file of 7 bytes", file.Attr)
	}
	_, err = a.Handle.Walk("missing")
	check(OpWalk, "Walk(missing)", err, unix.ENOENT)
	_, err = root.Handle.Walk("secret")
	check(OpWalk, "Walk(secret), a denied path", err, unix.ENOENT)
	for _, name := range []string{"..", ".", "", "a/file", "../etc", strings.Repeat("n", MaxName+1)} {
		_, err = a.Handle.Walk(name)
		check(OpWalk, "Walk("+name+")", err, unix.EINVAL)
	}
	_, err = file.Handle.Walk("x")
	check(OpWalk, "Walk below a regular file", err, unix.ENOTDIR)
	up, err := a.Handle.Walk("up") // a/up -> ../../..
	ok(OpWalk, "Walk(a/up)", err)
	if up.Attr.Kind != KindSymlink || up.Target != "../../.." {
		t.Errorf("Walk(a/up) = %v %q; want the symlink and its target, not what it points to", up.Attr.Kind, up.Target)
	}
	_, err = up.Handle.Walk("etc")
	check(OpWalk, "Walk through symlink a/up", err, unix.ENOTDIR)
	abs, err := root.Handle.Walk("abs") // -> /etc/passwd
	ok(OpWalk, "Walk(abs)", err)
	if abs.Attr.Kind != KindSymlink || abs.Attr.Ino == 0 {
		t.Errorf("Walk(abs) = %+v; want the symlink itself", abs.Attr)
	}

	// Stat and StatFS.
	st, err := file.Handle.Stat()
	ok(OpStat, "Stat(a/file)", err)
	if st.Size != 7 {
		t.Errorf("Stat(a/file).Size = %d; want 7", st.Size)
	}
	fs, err := roRoot.Handle.StatFS()
	ok(OpStatFS, "StatFS(/ro)", err)
	if fs.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("StatFS of a read-only mount: flags %#x lack ST_RDONLY", fs.Flags)
	}
	_, err = root.Handle.StatFS()
	ok(OpStatFS, "StatFS(/data)", err)

	// Open.
	f, err := file.Handle.Open(unix.O_RDONLY)
	ok(OpOpen, "Open(a/file, O_RDONLY)", err)
	if b, _ := io.ReadAll(f); string(b) != "content" {
		t.Errorf("read a/file = %q", b)
	}
	f.Close()
	_, err = up.Handle.Open(unix.O_RDONLY)
	check(OpOpen, "Open(symlink)", err, unix.ELOOP)
	_, err = a.Handle.Open(unix.O_WRONLY)
	check(OpOpen, "Open(directory, O_WRONLY)", err, unix.EISDIR)
	fifo, err := root.Handle.Walk("fifo")
	ok(OpWalk, "Walk(fifo)", err)
	_, err = fifo.Handle.Open(unix.O_RDONLY)
	check(OpOpen, "Open(fifo)", err, unix.ENXIO)
	_, err = file.Handle.Open(unix.O_RDONLY | unix.O_CREAT)
	check(OpOpen, "Open(O_CREAT)", err, unix.EINVAL)
	roFile, err := roRoot.Handle.Walk("a")
	ok(OpWalk, "Walk(/ro/a)", err)
	roFile, err = roFile.Handle.Walk("file")
	ok(OpWalk, "Walk(/ro/a/file)", err)
	_, err = roFile.Handle.Open(unix.O_RDWR)
	check(OpOpen, "Open(read-only mount, O_RDWR)", err, unix.EROFS)

	// Walk with Watch before the kernel has the caches' instance: no watch.
	if e, _, err := a.Handle.WalkWatch("file", false, true); err != nil || e.WD != 0 {
		t.Errorf("WalkWatch(a/file) before any names watch: WD %d, %v; want none", e.WD, err)
	}

	// Walk with Open: a regular file comes with a read-only FD; anything else without.
	oe, of, err := a.Handle.WalkOpen("file")
	ok(OpWalk, "WalkOpen(a/file)", err)
	if of == nil || oe.Attr.Kind != KindRegular {
		t.Fatalf("WalkOpen(a/file) = %+v, FD %v; want the file and an FD", oe.Attr, of)
	}
	if b, _ := io.ReadAll(of); string(b) != "content" {
		t.Errorf("read WalkOpen(a/file) = %q", b)
	}
	if fl, _ := unix.FcntlInt(of.Fd(), unix.F_GETFL, 0); fl&unix.O_ACCMODE != unix.O_RDONLY {
		t.Errorf("WalkOpen(a/file) FD flags %#x; want O_RDONLY", fl)
	}
	of.Close()
	for _, name := range []string{"fifo", "a", "abs"} {
		e, f, err := root.Handle.WalkOpen(name)
		ok(OpWalk, "WalkOpen("+name+")", err)
		if f != nil || e.Handle == nil {
			t.Errorf("WalkOpen(%s), a %v: FD %v; want the entry without one", name, e.Attr.Kind, f)
		}
	}
	_, of, err = root.Handle.WalkOpen("secret")
	check(OpWalk, "WalkOpen(secret), a denied path", err, unix.ENOENT)
	if of != nil {
		t.Errorf("WalkOpen(secret) donated an FD")
	}
	_, of, err = roRoot.Handle.WalkOpen("a")
	ok(OpWalk, "WalkOpen(/ro/a)", err)
	if of != nil {
		t.Errorf("WalkOpen of a directory donated an FD")
	}
	if os.Getuid() != 0 {
		// Host permissions hold: an unreadable file stays unreadable.
		os.Chmod(filepath.Join(dir, "a/file"), 0)
		_, err = file.Handle.Open(unix.O_RDONLY)
		check(OpOpen, "Open(mode 000 file) as a user", err, unix.EACCES)
		os.Chmod(filepath.Join(dir, "a/file"), 0o644)
	}

	// Create, Mkdir, Mknod, Symlink.
	created, wf, err := a.Handle.Create("new", unix.O_RDWR, 0o600)
	ok(OpCreate, "Create(a/new)", err)
	wf.Write([]byte("12345"))
	wf.Close()
	_, _, err = a.Handle.Create("new", unix.O_RDWR, 0o600)
	check(OpCreate, "Create(existing)", err, unix.EEXIST)
	_, _, err = a.Handle.Create("up", unix.O_RDWR, 0o600)
	check(OpCreate, "Create over a symlink", err, unix.EEXIST)
	_, _, err = root.Handle.Create("secret", unix.O_RDWR, 0o600)
	check(OpCreate, "Create(secret), a denied path", err, unix.EACCES)
	_, _, err = a.Handle.Create("..", unix.O_RDWR, 0o600)
	check(OpCreate, "Create(..)", err, unix.EINVAL)
	_, _, err = file.Handle.Create("x", unix.O_RDWR, 0o600)
	check(OpCreate, "Create below a regular file", err, unix.ENOTDIR)
	_, _, err = roRoot.Handle.Create("x", unix.O_RDWR, 0o600)
	check(OpCreate, "Create on a read-only mount", err, unix.EROFS)
	sub, err := a.Handle.Mkdir("sub", 0o755)
	ok(OpMkdir, "Mkdir(a/sub)", err)
	_, err = a.Handle.Mkdir("sub", 0o755)
	check(OpMkdir, "Mkdir(existing)", err, unix.EEXIST)
	_, err = root.Handle.Mkdir("secret", 0o755)
	check(OpMkdir, "Mkdir(secret), a denied path", err, unix.EACCES)
	_, err = a.Handle.Mknod("pipe", unix.S_IFIFO|0o600)
	ok(OpMknod, "Mknod(a/pipe, S_IFIFO)", err)
	_, err = a.Handle.Mknod("dev", unix.S_IFCHR|0o600)
	check(OpMknod, "Mknod(a/dev, S_IFCHR)", err, unix.EPERM)
	sl, err := a.Handle.Symlink("sl", "/etc")
	ok(OpSymlink, "Symlink(a/sl -> /etc)", err)
	if sl.Attr.Kind != KindSymlink || sl.Target != "/etc" {
		t.Errorf("Symlink entry = %v %q", sl.Attr.Kind, sl.Target)
	}
	_, err = sl.Handle.Walk("passwd")
	check(OpWalk, "Walk through a made symlink", err, unix.ENOTDIR)
	_, err = a.Handle.Symlink("empty", "")
	check(OpSymlink, "Symlink with an empty target", err, unix.ENOENT)

	// Readlink.
	tgt, err := up.Handle.Readlink()
	ok(OpReadlink, "Readlink(a/up)", err)
	if tgt != "../../.." {
		t.Errorf("Readlink(a/up) = %q", tgt)
	}
	_, err = file.Handle.Readlink()
	check(OpReadlink, "Readlink(regular file)", err, unix.EINVAL)

	// Link.
	_, err = a.Handle.Link(created.Handle, "hard")
	ok(OpLink, "Link(a/new, a/hard)", err)
	_, err = a.Handle.Link(sub.Handle, "dirlink")
	check(OpLink, "Link of a directory", err, unix.EPERM)
	_, err = otherRoot.Handle.Link(created.Handle, "x")
	check(OpLink, "Link across mounts", err, unix.EXDEV)
	_, err = root.Handle.Link(created.Handle, "secret")
	check(OpLink, "Link onto a denied path", err, unix.EACCES)

	// SetAttr.
	mode, size := uint32(0o640), int64(2)
	ok(OpSetAttr, "SetAttr(mode, size)", created.Handle.SetAttr(SetAttr{Mode: &mode, Size: &size}))
	if st, _ := created.Handle.Stat(); st.Size != 2 || st.Mode&0o7777 != 0o640 {
		t.Errorf("after SetAttr: size %d mode %o", st.Size, st.Mode&0o7777)
	}
	check(OpSetAttr, "SetAttr(size) of a directory", a.Handle.SetAttr(SetAttr{Size: &size}), unix.EISDIR)
	check(OpSetAttr, "SetAttr on a read-only mount", roFile.Handle.SetAttr(SetAttr{Mode: &mode}), unix.EROFS)

	// Grow (no disk limit here: any end is granted).
	end, err := created.Handle.Grow(1 << 20)
	ok(OpGrow, "Grow(1 MiB)", err)
	if end != 1<<20 {
		t.Errorf("Grow(1 MiB) granted %d", end)
	}
	_, err = created.Handle.Grow(-1)
	check(OpGrow, "Grow(-1)", err, unix.EINVAL)
	_, err = a.Handle.Grow(10)
	check(OpGrow, "Grow of a directory", err, unix.EINVAL)
	_, err = roFile.Handle.Grow(10)
	check(OpGrow, "Grow on a read-only mount", err, unix.EROFS)

	// Getdents.
	ents, err := root.Handle.Getdents()
	ok(OpGetdents, "Getdents(/data)", err)
	for _, e := range ents {
		if e.Name == "secret" {
			t.Error("Getdents lists the denied secret")
		}
	}
	_, err = file.Handle.Getdents()
	check(OpGetdents, "Getdents of a regular file", err, unix.ENOTDIR)
	// With Plus, every entry comes walked: a regular file opened read-only, a symlink
	// with its target, the denied name not at all.
	plus, err := roRoot.Handle.GetdentsPlus(true, false)
	ok(OpGetdents, "GetdentsPlus(/ro)", err)
	kinds := map[string]string{}
	for _, pd := range plus {
		if pd.Entry == nil {
			t.Errorf("GetdentsPlus(/ro): %s not walked", pd.Name)
			continue
		}
		k := fmt.Sprint(pd.Entry.Attr.Kind)
		if pd.File != nil {
			k += "+fd"
			pd.File.Close()
		}
		kinds[pd.Name] = k + pd.Entry.Target
	}
	if want := fmt.Sprintf("map[a:%d abs:%d/etc/passwd fifo:%d magic:%d/proc/self/root secret:%d]", KindDir, KindSymlink, KindFIFO, KindSymlink, KindDir); fmt.Sprint(kinds) != want {
		t.Errorf("GetdentsPlus(/ro) = %v; want %s", kinds, want)
	}
	ra, _ := roRoot.Handle.Walk("a")
	plus, err = ra.Handle.GetdentsPlus(true, false)
	ok(OpGetdents, "GetdentsPlus(/ro/a)", err)
	for _, pd := range plus {
		if pd.Name == "file" {
			if pd.File == nil {
				t.Fatal("GetdentsPlus(/ro/a): a/file comes without its FD")
			}
			if b, _ := io.ReadAll(pd.File); string(b) != "content" {
				t.Errorf("read GetdentsPlus(/ro/a) file = %q", b)
			}
			pd.File.Close()
		} else if pd.File != nil {
			t.Errorf("GetdentsPlus(/ro/a): %s, not a regular file, comes with an FD", pd.Name)
		}
	}
	plus, err = root.Handle.GetdentsPlus(false, false)
	ok(OpGetdents, "GetdentsPlus(/data)", err)
	for _, pd := range plus {
		if pd.Name == "secret" {
			t.Error("GetdentsPlus lists the denied secret")
		}
		if pd.File != nil {
			t.Errorf("GetdentsPlus without open: %s comes with an FD", pd.Name)
		}
	}

	// Extended attributes.
	err = created.Handle.Setxattr("user.k", []byte("v"), 0)
	if err == unix.EOPNOTSUPP || err == unix.ENOTSUP {
		t.Logf("the test directory's filesystem has no user xattrs: only their error paths are checked")
		tested[OpSetxattr], tested[OpGetxattr], tested[OpListxattr], tested[OpRemovexattr] = true, true, true, true
	} else {
		ok(OpSetxattr, "Setxattr(user.k)", err)
		v, err := created.Handle.Getxattr("user.k")
		ok(OpGetxattr, "Getxattr(user.k)", err)
		if string(v) != "v" {
			t.Errorf("Getxattr(user.k) = %q", v)
		}
		names, err := created.Handle.Listxattr()
		ok(OpListxattr, "Listxattr", err)
		if strings.Join(names, ",") != "user.k" {
			t.Errorf("Listxattr = %q", names)
		}
		ok(OpRemovexattr, "Removexattr(user.k)", created.Handle.Removexattr("user.k"))
		_, err = created.Handle.Getxattr("user.k")
		check(OpGetxattr, "Getxattr after Removexattr", err, unix.ENODATA)
		check(OpRemovexattr, "Removexattr of a missing one", created.Handle.Removexattr("user.k"), unix.ENODATA)
	}
	check(OpSetxattr, "Setxattr(trusted.k)", created.Handle.Setxattr("trusted.k", []byte("v"), 0), unix.EPERM)
	check(OpSetxattr, "Setxattr on a read-only mount", roFile.Handle.Setxattr("user.k", []byte("v"), 0), unix.EROFS)
	check(OpRemovexattr, "Removexattr(security.k)", created.Handle.Removexattr("security.k"), unix.EPERM)
	_, err = fifo.Handle.Getxattr("user.k")
	check(OpGetxattr, "Getxattr of a FIFO", err, unix.ENODATA)
	_, err = fifo.Handle.Listxattr()
	check(OpListxattr, "Listxattr of a FIFO", err, unix.ENODATA)

	// Watch and Unwatch.
	wd, wfd, err := file.Handle.Watch(true)
	ok(OpWatch, "Watch(a/file, want the FD)", err)
	if wfd < 0 {
		t.Error("Watch(want the FD) donated no FD")
	} else {
		unix.Close(wfd)
	}
	ok(OpUnwatch, "Unwatch", file.Handle.Unwatch(wd))
	nwd, nfd, err := a.Handle.WatchNames(true)
	ok(OpWatch, "WatchNames(a, want the FD)", err)
	if nfd < 0 {
		t.Error("WatchNames(want the FD) donated no FD")
	} else {
		// A name made in the directory shows on the names instance.
		if c, err := a.Handle.Mkdir("appeared", 0o755); err != nil {
			t.Errorf("Mkdir(a/appeared): %v", err)
		} else {
			a.Handle.Unlink("appeared", unix.AT_REMOVEDIR)
			c.Handle.Close()
		}
		buf := make([]byte, 4096)
		if n, err := unix.Read(nfd, buf); err != nil || n < 16 || int32(binary.LittleEndian.Uint32(buf)) != nwd ||
			binary.LittleEndian.Uint32(buf[4:])&unix.IN_CREATE == 0 {
			t.Errorf("after Mkdir in a watched directory the names instance reads %d bytes (%v): % x; want IN_CREATE for wd %d", n, err, buf[:max(n, 0)], nwd)
		}
		// The same instance watches files for the kernel's attribute cache: a walk with
		// Watch watches what it finds, and a change of it on the host shows there.
		we, _, err := a.Handle.WalkWatch("file", false, true)
		ok(OpWalk, "WalkWatch(a/file)", err)
		if we.WD <= 0 {
			t.Errorf("WalkWatch(a/file) with the instance made: WD %d; want a watch", we.WD)
		}
		os.Chmod(filepath.Join(dir, "a/file"), 0o640)
		os.Chmod(filepath.Join(dir, "a/file"), 0o644)
		n, err := unix.Read(nfd, buf)
		seen := false
		for off := 0; err == nil && off+16 <= n; off += 16 + int(binary.LittleEndian.Uint32(buf[off+12:])) {
			if int32(binary.LittleEndian.Uint32(buf[off:])) == we.WD && binary.LittleEndian.Uint32(buf[off+4:])&unix.IN_ATTRIB != 0 {
				seen = true
			}
		}
		if !seen {
			t.Errorf("after chmod of a file a walk watched, the instance reads %d bytes (%v): % x; want IN_ATTRIB for wd %d", n, err, buf[:max(n, 0)], we.WD)
		}
		if sl, _, err := a.Handle.WalkWatch("up", false, true); err != nil || sl.WD != 0 {
			t.Errorf("WalkWatch(a/up), a symlink: WD %d, %v; want no watch", sl.WD, err)
		}
		awd, afd, err := we.Handle.WatchAttrs(false)
		ok(OpWatch, "WatchAttrs(a/file)", err)
		if awd != we.WD || afd >= 0 {
			t.Errorf("WatchAttrs(a/file) = wd %d, FD %d; want the walk's watch %d and no FD", awd, afd, we.WD)
		}
		unix.Close(nfd)
	}
	_, _, err = file.Handle.WatchNames(false)
	check(OpWatch, "WatchNames of a file", err, unix.ENOTDIR)
	check(OpUnwatch, "Unwatch again", file.Handle.Unwatch(wd), unix.EINVAL)

	// Rename.
	ok(OpRename, "Rename(a/new, /data/moved)", a.Handle.Rename("new", root.Handle, "moved", 0))
	if st, err := created.Handle.Stat(); err != nil || st.Size != 2 {
		t.Errorf("the handle of a renamed file: Stat = %+v, %v", st, err)
	}
	check(OpRename, "Rename(missing)", a.Handle.Rename("missing", a.Handle, "x", 0), unix.ENOENT)
	check(OpRename, "Rename across mounts", root.Handle.Rename("moved", otherRoot.Handle, "x", 0), unix.EXDEV)
	check(OpRename, "Rename onto a denied path", root.Handle.Rename("moved", root.Handle, "secret", 0), unix.ENOENT)
	check(OpRename, "Rename(..)", root.Handle.Rename("..", root.Handle, "x", 0), unix.EINVAL)
	check(OpRename, "Rename on a read-only mount", roRoot.Handle.Rename("a", roRoot.Handle, "b", 0), unix.EROFS)

	// Unlink.
	ok(OpUnlink, "Unlink(moved)", root.Handle.Unlink("moved", 0))
	check(OpUnlink, "Unlink(missing)", root.Handle.Unlink("moved", 0), unix.ENOENT)
	check(OpUnlink, "Unlink(secret), a denied path", root.Handle.Unlink("secret", unix.AT_REMOVEDIR), unix.ENOENT)
	check(OpUnlink, "Unlink with unknown flags", a.Handle.Unlink("hard", 0x8000), unix.EINVAL)
	check(OpUnlink, "Unlink(a, AT_REMOVEDIR) of a full directory", root.Handle.Unlink("a", unix.AT_REMOVEDIR), unix.ENOTEMPTY)
	if _, err := os.Stat(filepath.Join(dir, "secret/key")); err != nil {
		t.Errorf("the denied secret/key was touched: %v", err)
	}

	// Close, and a closed handle.
	ok(OpClose, "Close", file.Handle.Close())
	check(OpClose, "Close again", file.Handle.Close(), unix.EBADF)
	_, err = file.Handle.Stat()
	check(OpStat, "Stat of a closed handle", err, unix.EBADF)

	for op := Op(1); op < opMax; op++ {
		if !tested[op] {
			t.Errorf("op %d is not exercised by the conformance suite", op)
		}
	}
}
