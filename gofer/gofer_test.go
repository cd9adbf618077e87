package gofer

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	// The test binary doubles as the gofer role, as sbx does.
	if len(os.Args) > 1 && os.Args[1] == Role {
		if err := RoleMain(); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serve starts an in-process server over a socketpair for cfg (no confinement: the view
// logic is what these tests check).
func serve(t *testing.T, mounts []Mount, deny []string) *Client {
	t.Helper()
	v := &view{}
	for i, m := range mounts {
		st, err := os.Stat(m.HostPath)
		if err != nil {
			t.Fatal(err)
		}
		k := KindDir
		if !st.IsDir() {
			k = KindRegular
		}
		m.HostPath = filepath.Clean(m.HostPath)
		v.mounts = append(v.mounts, servedMount{Mount: m, path: m.HostPath, kind: k})
		_ = i
	}
	v.deny = deny
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(v)
	done := make(chan struct{})
	go func() { s.Serve(pair[1]); unix.Close(pair[1]); close(done) }()
	c, err := NewClient(os.NewFile(uintptr(pair[0]), "client"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); <-done })
	return c
}

func mkTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "a/b"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "a/file"), []byte("content"), 0o644))
	must(os.MkdirAll(filepath.Join(dir, "secret"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "secret/key"), []byte("k"), 0o600))
	must(os.Symlink("/etc/passwd", filepath.Join(dir, "abs")))
	must(os.Symlink("../../..", filepath.Join(dir, "a/up")))
	must(os.Symlink("/proc/self/root", filepath.Join(dir, "magic")))
	must(unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	return dir
}

func TestOperations(t *testing.T) {
	dir := mkTree(t)
	c := serve(t, []Mount{{HostPath: dir, SandboxPath: "/data"}}, nil)
	root, err := c.Attach(0)
	if err != nil || root.Attr.Kind != KindDir {
		t.Fatalf("Attach = %+v, %v", root, err)
	}
	a, err := root.Handle.Walk("a")
	if err != nil {
		t.Fatal(err)
	}
	f, err := a.Handle.Walk("file")
	if err != nil || f.Attr.Size != 7 {
		t.Fatalf("Walk file = %+v, %v", f, err)
	}
	rf, err := f.Handle.Open(unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rf)
	rf.Close()
	if string(b) != "content" {
		t.Fatalf("read %q", b)
	}
	// create, write through the donated FD, stat, rename, link, unlink
	e, wf, err := a.Handle.Create("new", unix.O_RDWR, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	wf.Write([]byte("xyz"))
	wf.Close()
	if st, err := e.Handle.Stat(); err != nil || st.Size != 3 || st.Mode&0o777 != 0o640 {
		t.Fatalf("Stat new = %+v, %v", st, err)
	}
	if _, _, err := a.Handle.Create("new", unix.O_RDWR, 0o640); err != unix.EEXIST {
		t.Fatalf("Create existing = %v, want EEXIST", err)
	}
	if err := a.Handle.Rename("new", root.Handle, "renamed", 0); err != nil {
		t.Fatal(err)
	}
	ren, err := root.Handle.Walk("renamed")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Handle.Link(ren.Handle, "hard"); err != nil {
		t.Fatal(err)
	}
	if err := root.Handle.Unlink("renamed", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Handle.Mkdir("d", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := a.Handle.Unlink("d", unix.AT_REMOVEDIR); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Handle.Symlink("sl", "file"); err != nil {
		t.Fatal(err)
	}
	sl, err := a.Handle.Walk("sl")
	if err != nil || sl.Attr.Kind != KindSymlink || sl.Target != "file" {
		t.Fatalf("Walk symlink = %+v, %v", sl, err)
	}
	if tgt, err := sl.Handle.Readlink(); err != nil || tgt != "file" {
		t.Fatalf("Readlink = %q, %v", tgt, err)
	}
	if _, err := a.Handle.Mknod("p", unix.S_IFIFO|0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Handle.Mknod("dev", unix.S_IFCHR|0o600); err != unix.EPERM {
		t.Fatalf("Mknod char device = %v, want EPERM", err)
	}
	mode := uint32(0o600)
	size := int64(2)
	hard, _ := a.Handle.Walk("hard")
	if err := hard.Handle.SetAttr(SetAttr{Mode: &mode, Size: &size}); err != nil {
		t.Fatal(err)
	}
	if st, _ := hard.Handle.Stat(); st.Size != 2 || st.Mode&0o777 != 0o600 {
		t.Fatalf("after SetAttr: %+v", st)
	}
	ents, err := a.Handle.Getdents()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range ents {
		names = append(names, d.Name)
	}
	if got := strings.Join(sortStrings(names), ","); got != "b,file,hard,p,sl,up" {
		t.Fatalf("Getdents = %s", got)
	}
	if err := hard.Handle.Setxattr("user.test", []byte("v"), 0); err != nil && err != unix.EOPNOTSUPP {
		t.Fatal(err)
	} else if err == nil {
		if v, err := hard.Handle.Getxattr("user.test"); err != nil || string(v) != "v" {
			t.Fatalf("Getxattr = %q, %v", v, err)
		}
	}
	if err := hard.Handle.Setxattr("trusted.x", []byte("v"), 0); err != unix.EPERM {
		t.Fatalf("Setxattr trusted.* = %v, want EPERM", err)
	}
	if _, err := root.Handle.StatFS(); err != nil {
		t.Fatal(err)
	}
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func TestReadOnlyEnforcedByGofer(t *testing.T) {
	dir := mkTree(t)
	c := serve(t, []Mount{{HostPath: dir, SandboxPath: "/data", ReadOnly: true}}, nil)
	root, _ := c.Attach(0)
	a, _ := root.Handle.Walk("a")
	f, _ := a.Handle.Walk("file")
	for _, flags := range []int{unix.O_WRONLY, unix.O_RDWR, unix.O_RDONLY | unix.O_TRUNC, unix.O_RDONLY | unix.O_APPEND} {
		if _, err := f.Handle.Open(flags); err != unix.EROFS {
			t.Errorf("Open(%#x) on a read-only mount = %v, want EROFS", flags, err)
		}
	}
	if _, _, err := a.Handle.Create("x", unix.O_RDWR, 0o644); err != unix.EROFS {
		t.Errorf("Create = %v", err)
	}
	if err := a.Handle.Unlink("file", 0); err != unix.EROFS {
		t.Errorf("Unlink = %v", err)
	}
	if err := a.Handle.Rename("file", a.Handle, "g", 0); err != unix.EROFS {
		t.Errorf("Rename = %v", err)
	}
	size := int64(0)
	if err := f.Handle.SetAttr(SetAttr{Size: &size}); err != unix.EROFS {
		t.Errorf("SetAttr = %v", err)
	}
	rf, err := f.Handle.Open(unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	if _, err := rf.Write([]byte("x")); err == nil {
		t.Error("the donated read-only FD accepted a write")
	}
}

func TestEscapeDenyBelowAllow(t *testing.T) {
	dir := mkTree(t)
	c := serve(t, []Mount{{HostPath: dir, SandboxPath: "/data"}}, []string{filepath.Join(dir, "secret")})
	root, _ := c.Attach(0)
	if _, err := root.Handle.Walk("secret"); err != unix.ENOENT {
		t.Fatalf("Walk into a denied path = %v, want ENOENT", err)
	}
	ents, _ := root.Handle.Getdents()
	for _, d := range ents {
		if d.Name == "secret" {
			t.Fatal("a denied path is listed")
		}
	}
	if _, err := root.Handle.Mkdir("secret", 0o700); err == nil {
		t.Fatal("created over a denied path")
	}
}

func TestEscapeNamesAndSymlinks(t *testing.T) {
	dir := mkTree(t)
	c := serve(t, []Mount{{HostPath: dir, SandboxPath: "/data"}}, nil)
	root, _ := c.Attach(0)
	for _, name := range []string{"", ".", "..", "a/b", "a\x00b", "/etc", strings.Repeat("x", 256)} {
		if _, err := root.Handle.Walk(name); err != unix.EINVAL {
			t.Errorf("Walk(%q) = %v, want EINVAL", name, err)
		}
	}
	long := strings.Repeat("y", 255)
	if _, _, err := root.Handle.Create(long, unix.O_RDWR, 0o600); err != nil {
		t.Errorf("Create of a 255-byte name: %v", err)
	}
	if _, err := root.Handle.Walk("\xff\xfe-invalid-utf8"); err != unix.ENOENT {
		t.Errorf("Walk of invalid UTF-8 = %v, want ENOENT", err)
	}
	// Symlinks are reported with their targets, never followed.
	for name, target := range map[string]string{"abs": "/etc/passwd", "magic": "/proc/self/root"} {
		e, err := root.Handle.Walk(name)
		if err != nil || e.Attr.Kind != KindSymlink || e.Target != target {
			t.Errorf("Walk(%s) = %+v, %v", name, e, err)
		}
		if _, err := e.Handle.Walk("x"); err != unix.ENOTDIR {
			t.Errorf("walking through symlink %s = %v, want ENOTDIR", name, err)
		}
		if _, err := e.Handle.Open(unix.O_RDONLY); err != unix.ELOOP {
			t.Errorf("opening symlink %s = %v, want ELOOP", name, err)
		}
	}
	// FIFOs are never opened (that could block the gofer) and devices are refused.
	fifo, _ := root.Handle.Walk("fifo")
	if _, err := fifo.Handle.Open(unix.O_RDONLY); err != unix.ENXIO {
		t.Errorf("Open fifo = %v, want ENXIO", err)
	}
}

func TestEscapeDevicesAndProc(t *testing.T) {
	c := serve(t, []Mount{{HostPath: "/dev", SandboxPath: "/hostdev"}, {HostPath: "/proc/self", SandboxPath: "/p"}}, nil)
	dev, _ := c.Attach(0)
	null, err := dev.Handle.Walk("null")
	if err != nil || null.Attr.Kind != KindChar {
		t.Fatalf("Walk /dev/null = %+v, %v", null, err)
	}
	if _, err := null.Handle.Open(unix.O_RDWR); err != unix.EACCES {
		t.Errorf("opening a device node = %v, want EACCES", err)
	}
	p, _ := c.Attach(1)
	for _, name := range []string{"root", "cwd", "exe"} {
		e, err := p.Handle.Walk(name)
		if err != nil {
			continue
		}
		if e.Attr.Kind != KindSymlink {
			t.Errorf("/proc/self/%s came back as %v, not a symlink", name, e.Attr.Kind)
		}
		if _, err := e.Handle.Walk("etc"); err == nil {
			t.Errorf("walked through the magic link /proc/self/%s", name)
		}
	}
}

// TestEscapeSymlinkSwapRace swaps a directory and a symlink to / under a running walker:
// every walk must give the directory (by inode) or a symlink report, never a handle to
// anything else.
func TestEscapeSymlinkSwapRace(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	os.WriteFile(filepath.Join(dir, "d/inside"), nil, 0o644)
	os.Symlink("/", filepath.Join(dir, "l"))
	var st syscall.Stat_t
	syscall.Stat(filepath.Join(dir, "d"), &st)
	c := serve(t, []Mount{{HostPath: dir, SandboxPath: "/x"}}, nil)
	root, _ := c.Attach(0)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			unix.Renameat2(unix.AT_FDCWD, filepath.Join(dir, "d"), unix.AT_FDCWD, filepath.Join(dir, "l"), unix.RENAME_EXCHANGE)
		}
	}()
	defer close(stop)
	for i := 0; i < 3000; i++ {
		e, err := root.Handle.Walk("d")
		if err != nil {
			continue
		}
		switch e.Attr.Kind {
		case KindSymlink:
			if _, err := e.Handle.Walk("etc"); err == nil {
				t.Fatal("walked through a swapped-in symlink")
			}
		case KindDir:
			if e.Attr.Ino != st.Ino {
				t.Fatalf("got a directory that is not the one in the view (ino %d)", e.Attr.Ino)
			}
			if _, err := e.Handle.Walk("etc"); err == nil {
				t.Fatal("reached / through a race")
			}
		}
		e.Handle.Close()
	}
}

func TestLargeDirectory(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 20000; i++ {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("entry-%05d", i)))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	c := serve(t, []Mount{{HostPath: dir, SandboxPath: "/big"}}, nil)
	root, _ := c.Attach(0)
	ents, err := root.Handle.Getdents()
	if err != nil || len(ents) != 20000 {
		t.Fatalf("Getdents = %d entries, %v", len(ents), err)
	}
}

func TestMalformedRequests(t *testing.T) {
	dir := mkTree(t)
	v := &view{mounts: []servedMount{{Mount: Mount{HostPath: dir}, path: dir, kind: KindDir}}}
	s := newServer(v)
	for _, msg := range [][]byte{nil, {1}, {2, 1, 2, 3}, bytes.Repeat([]byte{0xff}, 40)} {
		for op := Op(1); op < opMax; op++ {
			r := s.handle(op, &decoder{b: msg})
			if r.errno == 0 && op != OpAttach {
				t.Errorf("op %d with %x succeeded", op, msg)
			}
			if r.fd >= 0 {
				unix.Close(r.fd)
			}
		}
	}
}

func FuzzServer(f *testing.F) {
	dir := f.TempDir()
	os.MkdirAll(filepath.Join(dir, "a"), 0o755)
	os.WriteFile(filepath.Join(dir, "a/f"), []byte("x"), 0o644)
	f.Add(uint8(OpAttach), []byte{0, 0, 0, 0})
	f.Add(uint8(OpWalk), []byte{1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 'a'})
	f.Add(uint8(OpGetdents), []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, op uint8, msg []byte) {
		v := &view{mounts: []servedMount{{Mount: Mount{HostPath: dir, ReadOnly: true}, path: dir, kind: KindDir}}}
		s := newServer(v)
		s.handle(OpAttach, &decoder{b: []byte{0, 0, 0, 0}})
		if Op(op) == 0 || Op(op) >= opMax {
			return
		}
		r := s.handle(Op(op), &decoder{b: msg})
		if r.fd >= 0 {
			unix.Close(r.fd)
		}
		s.closeAll()
	})
}

// TestHandlesFollowRenames: a handle names its file wherever a rename through the gofer
// moved it (also when the move went through another handle of the same directory, or
// moved a directory above it); a handle whose name was unlinked or replaced is retired
// (reopening it is ENOENT, its metadata still reachable); two links of one file stay.
func TestHandlesFollowRenames(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "d/sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "d/sub/f"), []byte("f"), 0o644)
	os.WriteFile(filepath.Join(dir, "tmp"), []byte("new"), 0o644)
	os.WriteFile(filepath.Join(dir, "file"), []byte("old"), 0o644)
	c := serve(t, []Mount{{HostPath: dir, SandboxPath: "/data"}}, nil)
	root, err := c.Attach(0)
	if err != nil {
		t.Fatal(err)
	}
	root2, err := c.Attach(0) // a second handle of the same directory
	if err != nil {
		t.Fatal(err)
	}
	walk := func(h *Handle, names ...string) *Handle {
		t.Helper()
		for _, n := range names {
			e, err := h.Walk(n)
			if err != nil {
				t.Fatalf("Walk %s: %v", n, err)
			}
			h = e.Handle
		}
		return h
	}
	read := func(h *Handle) (string, error) {
		f, err := h.Open(unix.O_RDONLY)
		if err != nil {
			return "", err
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		return string(b), err
	}
	tmp, old, sub, f := walk(root.Handle, "tmp"), walk(root.Handle, "file"), walk(root.Handle, "d", "sub"), walk(root.Handle, "d", "sub", "f")
	if err := root2.Handle.Rename("tmp", root2.Handle, "file", 0); err != nil {
		t.Fatal(err)
	}
	if got, err := read(tmp); got != "new" || err != nil {
		t.Errorf("renamed handle reads %q, %v; want new", got, err)
	}
	mode := uint32(0o600)
	if err := tmp.SetAttr(SetAttr{Mode: &mode}); err != nil {
		t.Errorf("chmod through the renamed handle: %v", err)
	}
	if _, err := read(old); err != unix.ENOENT {
		t.Errorf("replaced handle opens: %v; want ENOENT", err)
	}
	if st, err := old.Stat(); err != nil || st.Nlink != 0 {
		t.Errorf("replaced handle's Stat = %+v, %v; want nlink 0", st, err)
	}
	if err := root.Handle.Rename("d", root.Handle, "e", 0); err != nil {
		t.Fatal(err)
	}
	if got, err := read(f); got != "f" || err != nil {
		t.Errorf("handle below a moved directory reads %q, %v", got, err)
	}
	if ds, err := sub.Getdents(); err != nil || len(ds) != 1 || ds[0].Name != "f" {
		t.Errorf("moved directory lists %+v, %v", ds, err)
	}
	if err := sub.Unlink("f", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := read(f); err != unix.ENOENT {
		t.Errorf("unlinked handle opens: %v; want ENOENT", err)
	}
	// rename between two links of one file changes nothing
	if _, err := root.Handle.Link(tmp, "link"); err != nil {
		t.Fatal(err)
	}
	if err := root.Handle.Rename("file", root.Handle, "link", 0); err != nil {
		t.Fatal(err)
	}
	if got, err := read(tmp); got != "new" || err != nil {
		t.Errorf("after a rename onto its other link, the handle reads %q, %v", got, err)
	}
}
