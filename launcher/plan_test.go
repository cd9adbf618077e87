package launcher

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestSecretDeny(t *testing.T) {
	hostKeys, _ := filepath.Glob("/etc/ssh/ssh_host_*_key")
	tests := []struct {
		name   string
		v      ViewSpec
		hidden []string
		shown  []string
	}{
		{name: "default", v: ViewSpec{HomeDir: "/home/u"}, hidden: []string{"/etc/shadow", "/etc/gshadow", "/etc/sudoers.d", "/root"}},
		{name: "root's own home stays", v: ViewSpec{HomeDir: "/root"}, hidden: []string{"/etc/shadow"}, shown: []string{"/root"}},
		{name: "allowed by name", v: ViewSpec{HomeDir: "/home/u", Allow: []HostPath{{Path: "/etc/shadow", ReadOnly: true}}},
			hidden: []string{"/etc/gshadow"}, shown: []string{"/etc/shadow"}},
		{name: "allowed below", v: ViewSpec{HomeDir: "/home/u", Allow: []HostPath{{Path: "/etc/ssl/private/site.pem/", ReadOnly: true}}},
			hidden: []string{"/etc/shadow"}, shown: []string{"/etc/ssl/private"}},
		{name: "an allowed parent does not reveal", v: ViewSpec{HomeDir: "/home/u", Allow: []HostPath{{Path: "/etc", ReadOnly: true}}},
			hidden: []string{"/etc/shadow", "/etc/ssl/private"}},
	}
	for _, tt := range tests {
		got := secretDeny(tt.v)
		for _, h := range append(tt.hidden, hostKeys...) {
			if !slices.Contains(got, h) {
				t.Errorf("%s: secretDeny = %v; want %s hidden", tt.name, got, h)
			}
		}
		for _, s := range tt.shown {
			if slices.Contains(got, s) {
				t.Errorf("%s: secretDeny = %v; want %s shown", tt.name, got, s)
			}
		}
		for _, p := range got {
			if p != filepath.Clean(p) || !filepath.IsAbs(p) {
				t.Errorf("%s: secretDeny gave %q, not a clean absolute path", tt.name, p)
			}
		}
	}
	for _, s := range Secrets {
		if _, err := filepath.Match(s, "/"); err != nil {
			t.Errorf("Secrets: %q is a malformed pattern: %v", s, err)
		}
	}
	if _, err := os.Stat("/etc/ssh"); err == nil && len(hostKeys) == 0 {
		t.Log("this host has no SSH host keys; the pattern is checked on hosts that do")
	}
}

// TestLiveMounts: read-only mounts of what a profile allows are live (the user's programs
// change those files while the sandbox runs), the system's directories are not, and
// read-write mounts need no mark (they are revalidated anyway).
func TestLiveMounts(t *testing.T) {
	ro, rw := t.TempDir(), t.TempDir()
	cfg, _, _, err := BuildView(ViewSpec{Home: "private", HomeDir: t.TempDir(),
		Allow: []HostPath{{Path: ro, ReadOnly: true}, {Path: rw}}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"/usr": false, "/etc": false, ro: true, rw: false}
	for _, m := range cfg.Mounts {
		if live, ok := want[m.HostPath]; ok {
			if m.Live != live {
				t.Errorf("%s (read-only %v): live %v, want %v", m.HostPath, m.ReadOnly, m.Live, live)
			}
			delete(want, m.HostPath)
		}
	}
	if len(want) != 0 {
		t.Errorf("mounts missing from the view: %v", want)
	}
}
