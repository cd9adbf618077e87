package vfs_test

import (
	"testing"

	"github.com/sbx-dev/sbx/kernel/fs/tmpfs"
	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// fixture builds:
//
//	/a/b/file        /a/link -> b          /a/abs -> /a/b/file
//	/a/dangling -> nowhere   /loop1 -> loop2, /loop2 -> loop1
//	/mnt (a second tmpfs) holding /mnt/inner
func fixture(t *testing.T) (*vfs.Namespace, vfs.ResolveOpts) {
	t.Helper()
	mf, err := mm.NewMemoryFile()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mf.Close() })
	_, root := tmpfs.New(mf, tmpfs.Options{Mode: 0o755})
	c := &vfs.Creds{}
	b, err := root.MkdirAll("a/b", 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.WriteFile("file", 0o644, []byte("x")); err != nil {
		t.Fatal(err)
	}
	a, _ := root.Lookup("a")
	ai := a.(*tmpfs.Inode)
	ai.Symlink("link", "b", c)
	ai.Symlink("abs", "/a/b/file", c)
	ai.Symlink("dangling", "nowhere", c)
	root.Symlink("loop1", "loop2", c)
	root.Symlink("loop2", "loop1", c)
	root.Mkdir("mnt", 0o755, c)
	ns := vfs.NewNamespace(root, "tmpfs", "root")
	r := ns.Root()
	_, other := tmpfs.New(mf, tmpfs.Options{Mode: 0o755})
	other.Mkdir("inner", 0o755, c)
	mnt, err := ns.Resolve("/mnt", vfs.ResolveOpts{Root: r, Start: r})
	if err != nil {
		t.Fatal(err)
	}
	ns.Mount(mnt, other, "tmpfs", "other", false)
	return ns, vfs.ResolveOpts{Root: r, Start: r, Creds: c}
}

func TestResolve(t *testing.T) {
	ns, o := fixture(t)
	tests := []struct {
		path    string
		follow  bool
		want    string
		wantErr error
	}{
		{"/a/b/file", true, "/a/b/file", nil},
		{"a/b/../b/./file", true, "/a/b/file", nil},
		{"/../../a", true, "/a", nil},
		{"/a/link/file", true, "/a/b/file", nil},
		{"/a/link", false, "/a/link", nil},
		{"/a/link", true, "/a/b", nil},
		{"/a/abs", true, "/a/b/file", nil},
		{"/a/dangling", true, "", unix.ENOENT},
		{"/a/dangling", false, "/a/dangling", nil},
		{"/loop1", true, "", unix.ELOOP},
		{"/a/b/file/", true, "", unix.ENOTDIR},
		{"/a/b/file/x", true, "", unix.ENOTDIR},
		{"/a/link/", false, "/a/b", nil},
		{"/missing/x", true, "", unix.ENOENT},
		{"", true, "", unix.ENOENT},
		{"/mnt/inner", true, "/mnt/inner", nil},
		{"/mnt/inner/../..", true, "/", nil},
		{"/mnt/..", true, "/", nil},
	}
	for _, tt := range tests {
		o.Follow = tt.follow
		vd, err := ns.Resolve(tt.path, o)
		if err != tt.wantErr {
			t.Errorf("Resolve(%q) error = %v, want %v", tt.path, err, tt.wantErr)
			continue
		}
		if err == nil && vd.Path() != tt.want {
			t.Errorf("Resolve(%q) = %q, want %q", tt.path, vd.Path(), tt.want)
		}
	}
}

func TestResolveBeneath(t *testing.T) {
	ns, o := fixture(t)
	start, err := ns.Resolve("/a", o)
	if err != nil {
		t.Fatal(err)
	}
	o.Start, o.Beneath, o.Follow = start, true, true
	for _, p := range []string{"../a", "/a/b", "abs"} {
		if _, err := ns.Resolve(p, o); err != unix.EXDEV {
			t.Errorf("RESOLVE_BENEATH %q = %v, want EXDEV", p, err)
		}
	}
	if vd, err := ns.Resolve("link/file", o); err != nil || vd.Path() != "/a/b/file" {
		t.Errorf("RESOLVE_BENEATH link/file = %v, %v", vd.Path(), err)
	}
}

func TestLongNames(t *testing.T) {
	ns, o := fixture(t)
	long := make([]byte, 256)
	for i := range long {
		long[i] = 'x'
	}
	if _, err := ns.Resolve("/"+string(long), o); err != unix.ENAMETOOLONG {
		t.Errorf("256-byte component = %v, want ENAMETOOLONG", err)
	}
}

// TestProtectedSymlinks: in a sticky world-writable directory, a symlink is followed by
// its owner, or when the directory's owner owns it, and by no one else (root included).
func TestProtectedSymlinks(t *testing.T) {
	mf, err := mm.NewMemoryFile()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mf.Close() })
	_, root := tmpfs.New(mf, tmpfs.Options{Mode: 0o755})
	rootc := &vfs.Creds{}
	root.WriteFile("target", 0o644, []byte("x"))
	root.Mkdir("tmp", 0o1777, rootc)
	root.Mkdir("open", 0o777, rootc)
	tmp, _ := root.Lookup("tmp")
	open, _ := root.Lookup("open")
	user := &vfs.Creds{FSUID: 1000, UID: 1000, EUID: 1000}
	tmp.(*tmpfs.Inode).Symlink("users", "/target", user)
	tmp.(*tmpfs.Inode).Symlink("roots", "/target", rootc)
	open.(*tmpfs.Inode).Symlink("users", "/target", user)
	ns := vfs.NewNamespace(root, "tmpfs", "root")
	r := ns.Root()
	for _, tc := range []struct {
		path string
		uid  uint32
		want error
	}{
		{"/tmp/users", 1000, nil},
		{"/tmp/users", 0, unix.EACCES},
		{"/tmp/users", 2000, unix.EACCES},
		{"/tmp/roots", 2000, nil},  // the directory's owner's link
		{"/open/users", 2000, nil}, // not sticky
	} {
		c := &vfs.Creds{FSUID: tc.uid, UID: tc.uid, EUID: tc.uid}
		_, err := ns.Resolve(tc.path, vfs.ResolveOpts{Root: r, Start: r, Creds: c, Follow: true})
		if err != tc.want {
			t.Errorf("%s as %d: %v, want %v", tc.path, tc.uid, err, tc.want)
		}
	}
}
