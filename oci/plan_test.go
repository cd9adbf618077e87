package oci

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/kernel/sandbox"
	_ "github.com/sbx-dev/sbx/platform/ptrace" // registers ptrace
	"golang.org/x/sys/unix"
)

func TestPlan(t *testing.T) {
	bundle := t.TempDir()
	os.MkdirAll(filepath.Join(bundle, "rootfs/secret"), 0o755)
	data := t.TempDir()
	s := Example(false)
	s.Process.Args = []string{"/bin/app", "x"}
	s.Process.User = User{UID: 1000, GID: 100}
	s.Process.Rlimits = []Rlimit{{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 20}}
	s.Mounts = append(s.Mounts, Mount{Destination: "/data", Type: "bind", Source: data, Options: []string{"rbind", "ro"}},
		Mount{Destination: "/scratch", Type: "tmpfs", Options: []string{"mode=700"}})
	s.Linux.MaskedPaths = []string{"/secret", "/data/key", "/proc/kcore"}
	p, err := Plan("c1", bundle, s)
	if err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(bundle, "rootfs")
	if got := p.Gofer.Mounts[0]; got.HostPath != rootfs || got.SandboxPath != "/" || !got.ReadOnly {
		t.Errorf("Plan: root mount = %+v, want %s at / read-only", got, rootfs)
	}
	if p.UID != 1000 || p.GID != 100 || p.Hostname != "sbx" || p.Cwd != "/" || !slices.Equal(p.Argv, s.Process.Args) {
		t.Errorf("Plan: process = uid %d gid %d host %q cwd %q argv %v", p.UID, p.GID, p.Hostname, p.Cwd, p.Argv)
	}
	if p.Limits[unix.RLIMIT_NOFILE] != [2]uint64{10, 20} {
		t.Errorf("Plan: limits = %v", p.Limits)
	}
	if p.Gofer.RootFileCaps {
		t.Error("Plan: a non-root process keeps root's file capabilities")
	}
	wantDeny := []string{filepath.Join(rootfs, "secret"), filepath.Join(data, "key")}
	if !slices.Equal(p.Gofer.Deny, wantDeny) {
		t.Errorf("Plan: deny = %v, want %v (masked paths on the mounts serving them; /proc is the kernel's)", p.Gofer.Deny, wantDeny)
	}
	kinds := map[string]string{}
	for _, m := range p.Layout {
		kinds[m.Path] = m.Kind
		if m.Path == "/scratch" && m.Mode != 0o700 {
			t.Errorf("Plan: /scratch mode %o, want 700", m.Mode)
		}
	}
	for path, kind := range map[string]string{"/": sandbox.MountGofer, "/proc": sandbox.MountProc, "/dev": sandbox.MountDev,
		"/dev/shm": sandbox.MountTmpfs, "/sys": sandbox.MountSys, "/data": sandbox.MountGofer, "/scratch": sandbox.MountTmpfs} {
		if kinds[path] != kind {
			t.Errorf("Plan: %s is %q, want %q", path, kinds[path], kind)
		}
	}
	if _, ok := kinds["/dev/pts"]; ok {
		t.Error("Plan: devpts mounted over the kernel's /dev/pts")
	}

	for _, tt := range []struct {
		name string
		edit func(*Spec)
		err  string
	}{
		{"no args", func(s *Spec) { s.Process.Args = nil }, "process.args"},
		{"no root", func(s *Spec) { s.Root = nil }, "root.path"},
		{"bad mount type", func(s *Spec) { s.Mounts = append(s.Mounts, Mount{Destination: "/x", Type: "nfs"}) }, `type "nfs"`},
		{"relative destination", func(s *Spec) { s.Mounts = append(s.Mounts, Mount{Destination: "x", Type: "tmpfs"}) }, "not absolute"},
		{"unknown platform", func(s *Spec) { s.Annotations = map[string]string{AnnotationPlatform: "nope"} }, "unknown platform"},
		{"bad rlimit", func(s *Spec) { s.Process.Rlimits = []Rlimit{{Type: "RLIMIT_BOGUS"}} }, "RLIMIT_BOGUS"},
		{"missing bind source", func(s *Spec) {
			s.Mounts = append(s.Mounts, Mount{Destination: "/y", Type: "bind", Source: "/nonexistent/sbx"})
		}, "bind mount /y"},
	} {
		s := Example(false)
		tt.edit(s)
		if _, err := Plan("c1", bundle, s); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Plan with %s: error %v, want one containing %q", tt.name, err, tt.err)
		}
	}
}
