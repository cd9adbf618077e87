package plan

import (
	"net/netip"
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
	kinds := map[string]string{}
	var tail []string // the masks and read-only paths, in order, after every mount
	for _, m := range p.Layout {
		kinds[m.Path] = m.Kind
		if m.Kind == sandbox.MountMask || m.Kind == sandbox.MountReadOnly {
			tail = append(tail, m.Kind+" "+m.Path)
		} else if len(tail) > 0 {
			t.Errorf("ForBundle: layout step %s %s after the masks", m.Kind, m.Path)
		}
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
	wantTail := []string{"mask /secret", "mask /data/key", "mask /proc/kcore"}
	for _, rp := range s.Linux.ReadonlyPaths {
		wantTail = append(wantTail, "readonly "+rp)
	}
	if !slices.Equal(tail, wantTail) {
		t.Errorf("ForBundle: masks and read-only paths %q, want %q", tail, wantTail)
	}
	// A new network namespace (no path) is the runtime's to make; the default memory
	// limit holds.
	if p.NetNS != NewNetNS || p.Net.Mode != "full" || len(p.NetAddrs) != 0 {
		t.Errorf("ForBundle: a container asking for a new network namespace has network %q %+v %v", p.NetNS, p.Net, p.NetAddrs)
	}
	if p.MemoryLimit != memoryLimit(0) || p.MaxTasks != 0 {
		t.Errorf("ForBundle: memory limit %d, tasks %d; want %d, 0", p.MemoryLimit, p.MaxTasks, memoryLimit(0))
	}
	if _, ok := kinds["/dev/pts"]; ok {
		t.Error("ForBundle: devpts mounted over the kernel's /dev/pts")
	}

	// The engine's network namespace, cgroup limits, a profile's network policy.
	s2 := spec.Example(false)
	mem := int64(64 << 20)
	s2.Linux.Resources = &spec.Resources{Memory: &spec.Memory{Limit: &mem}, Pids: &spec.Pids{Limit: 40}}
	s2.Linux.Namespaces = []spec.Namespace{{Type: "network", Path: "/proc/self/ns/net"}}
	p2, err := ForBundle("c2", bundle, s2)
	if err != nil {
		t.Fatal(err)
	}
	if p2.NetNS != "/proc/self/ns/net" || p2.Net.Mode != "full" || p2.MemoryLimit != mem || p2.MaxTasks != 40 {
		t.Errorf("ForBundle with a network namespace and resources: netns %q mode %q memory %d tasks %d", p2.NetNS, p2.Net.Mode, p2.MemoryLimit, p2.MaxTasks)
	}
	if v := p2.Net.CheckListen(netip.MustParseAddrPort("0.0.0.0:80"), true); !v.Allowed {
		t.Errorf("ForBundle: the container may not serve on its namespace's port 80: %s", v.Why)
	}
	s2.Annotations = map[string]string{AnnotationProfile: "default"}
	if p2, err = ForBundle("c2", bundle, s2); err != nil {
		t.Fatal(err)
	}
	if v := p2.Net.CheckConnect(netip.MustParseAddrPort("192.0.2.1:80")); v.Allowed || p2.NetNS == "" {
		t.Errorf("ForBundle with profile default (network none): connect allowed (%s), netns %q", v.Why, p2.NetNS)
	}
	s2.Linux.Namespaces = nil
	if p2, err = ForBundle("c2", bundle, s2); err != nil || p2.NetNS != "" {
		t.Errorf("ForBundle without a network namespace: netns %q, %v (want the runtime's own)", p2.NetNS, err)
	}

	for _, tt := range []struct {
		name string
		edit func(*spec.Spec)
		err  string
	}{
		{"unknown profile", func(s *spec.Spec) { s.Annotations = map[string]string{AnnotationProfile: "no-such-profile"} }, "run.sbx.profile"},
		{"missing network namespace", func(s *spec.Spec) {
			s.Linux.Namespaces = []spec.Namespace{{Type: "network", Path: "/nonexistent/netns"}}
		}, "network namespace"},
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
