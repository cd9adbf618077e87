package plan

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/kernel/sandbox"
	"github.com/sbx-dev/sbx/oci/spec"
	_ "github.com/sbx-dev/sbx/platform/ptrace" // registers ptrace
	"golang.org/x/sys/unix"
)

func TestForBundle(t *testing.T) {
	bundle := t.TempDir()
	os.MkdirAll(filepath.Join(bundle, "rootfs/secret"), 0o755)
	data := t.TempDir()
	s := spec.Example(false)
	s.Process.Args = []string{"/bin/app", "x"}
	s.Process.User = spec.User{UID: 1000, GID: 100, AdditionalGids: []uint32{5, 27}}
	s.Process.Capabilities = &spec.Capabilities{Effective: []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"}, Permitted: []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"}}
	s.Process.Rlimits = []spec.Rlimit{{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 20}}
	s.Mounts = append(s.Mounts, spec.Mount{Destination: "/data", Type: "bind", Source: data, Options: []string{"rbind", "ro"}},
		spec.Mount{Destination: "/scratch", Type: "tmpfs", Options: []string{"mode=700"}})
	s.Linux.MaskedPaths = []string{"/secret", "/data/key", "/proc/kcore"}
	p, err := ForBundle("c1", bundle, s)
	if err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(bundle, "rootfs")
	if got := p.Gofer.Mounts[0]; got.HostPath != rootfs || got.SandboxPath != "/" || !got.ReadOnly {
		t.Errorf("ForBundle: root mount = %+v, want %s at / read-only", got, rootfs)
	}
	if p.UID != 1000 || p.GID != 100 || p.Hostname != "sbx" || p.Cwd != "/" || !slices.Equal(p.Argv, s.Process.Args) {
		t.Errorf("ForBundle: process = uid %d gid %d host %q cwd %q argv %v", p.UID, p.GID, p.Hostname, p.Cwd, p.Argv)
	}
	if p.Limits[unix.RLIMIT_NOFILE] != [2]uint64{10, 20} {
		t.Errorf("ForBundle: limits = %v", p.Limits)
	}
	if !slices.Equal(p.Groups, []uint32{5, 27}) {
		t.Errorf("ForBundle: groups = %v, want [5 27]", p.Groups)
	}
	if want := [3]uint64{1<<unix.CAP_KILL | 1<<unix.CAP_NET_BIND_SERVICE, 1<<unix.CAP_KILL | 1<<unix.CAP_NET_BIND_SERVICE, 0}; p.Caps == nil || *p.Caps != want {
		t.Errorf("ForBundle: caps = %v, want %v", p.Caps, want)
	}
	for name, want := range map[string]int{"CAP_CHOWN": unix.CAP_CHOWN, "CAP_SYS_ADMIN": unix.CAP_SYS_ADMIN, "CAP_MKNOD": unix.CAP_MKNOD,
		"CAP_AUDIT_READ": unix.CAP_AUDIT_READ, "CAP_BPF": unix.CAP_BPF, "CAP_CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE} {
		if n, ok := capNumber(name); !ok || n != want {
			t.Errorf("capNumber(%s) = %d, want %d", name, n, want)
		}
	}
	for n, name := range capNames {
		if c, ok := capNumber("cap_" + name); !ok || c != n {
			t.Errorf("capNumber(cap_%s) = %d, %v; want %d", name, c, ok, n)
		}
	}
	if p.Gofer.RootFileCaps {
		t.Error("ForBundle: a non-root process keeps root's file capabilities")
	}
	wantDeny := []string{filepath.Join(rootfs, "secret"), filepath.Join(data, "key")}
	if !slices.Equal(p.Gofer.Deny, wantDeny) {
		t.Errorf("ForBundle: deny = %v, want %v (masked paths on the mounts serving them; /proc is the kernel's)", p.Gofer.Deny, wantDeny)
	}
	kinds := map[string]string{}
	for _, m := range p.Layout {
		kinds[m.Path] = m.Kind
		if m.Path == "/scratch" && m.Mode != 0o700 {
			t.Errorf("ForBundle: /scratch mode %o, want 700", m.Mode)
		}
	}
	for path, kind := range map[string]string{"/": sandbox.MountGofer, "/proc": sandbox.MountProc, "/dev": sandbox.MountDev,
		"/dev/shm": sandbox.MountTmpfs, "/sys": sandbox.MountSys, "/data": sandbox.MountGofer, "/scratch": sandbox.MountTmpfs} {
		if kinds[path] != kind {
			t.Errorf("ForBundle: %s is %q, want %q", path, kinds[path], kind)
		}
	}
	if _, ok := kinds["/dev/pts"]; ok {
		t.Error("ForBundle: devpts mounted over the kernel's /dev/pts")
	}

	for _, tt := range []struct {
		name string
		edit func(*spec.Spec)
		err  string
	}{
		{"no args", func(s *spec.Spec) { s.Process.Args = nil }, "process.args"},
		{"no root", func(s *spec.Spec) { s.Root = nil }, "root.path"},
		{"bad mount type", func(s *spec.Spec) { s.Mounts = append(s.Mounts, spec.Mount{Destination: "/x", Type: "nfs"}) }, `type "nfs"`},
		{"relative destination", func(s *spec.Spec) { s.Mounts = append(s.Mounts, spec.Mount{Destination: "x", Type: "tmpfs"}) }, "not absolute"},
		{"unknown platform", func(s *spec.Spec) { s.Annotations = map[string]string{AnnotationPlatform: "nope"} }, "unknown platform"},
		{"unknown capability", func(s *spec.Spec) { s.Process.Capabilities = &spec.Capabilities{Effective: []string{"CAP_FLY"}} }, "CAP_FLY"},
		{"bad rlimit", func(s *spec.Spec) { s.Process.Rlimits = []spec.Rlimit{{Type: "RLIMIT_BOGUS"}} }, "RLIMIT_BOGUS"},
		{"missing bind source", func(s *spec.Spec) {
			s.Mounts = append(s.Mounts, spec.Mount{Destination: "/y", Type: "bind", Source: "/nonexistent/sbx"})
		}, "bind mount /y"},
	} {
		s := spec.Example(false)
		tt.edit(s)
		if _, err := ForBundle("c1", bundle, s); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ForBundle with %s: error %v, want one containing %q", tt.name, err, tt.err)
		}
	}
}
