package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestNetLinkLocalScopeEth0: an unconnected UDP sendto to a link-local IPv6 address scoped
// to the sandbox's eth0 leaves through the host interface eth0 stands for, here one end of
// a veth pair in the test's own network namespace, and reaches a receiver at the other end
// from that interface's link-local address; scopes lo and an unknown index are
// ENETUNREACH (ipv6(7)) and send nothing, and a profile that does not allow link-local
// addresses refuses with EACCES.
func TestNetLinkLocalScopeEth0(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root for network namespaces of its own")
	}
	for _, p := range []string{"ip", "unshare", "python3"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed (make test installs it)", p)
		}
	}
	if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil {
		t.Skip("the host has no IPv6")
	}
	dir := netProfiles(t, map[string]string{
		"linklocal":   "[network]\nmode = \"filtered\"\nallow = [\"fe80::/10\"]\n",
		"nolinklocal": "[network]\nmode = \"filtered\"\nallow = [\"2001:db8::/32\"]\n",
	})
	script, _ := filepath.Abs("testdata/netns_scope.sh")
	want := "eth0 is 2\nscope-lo ENETUNREACH\nscope-99 ENETUNREACH\nscope-eth0 sent\nrefused EACCES\n" +
		"received scope-eth0 from fe80::a\nreceived nothing more\n"
	for _, u := range []struct{ name, runas string }{{"root", ""}, {"nobody", "65534"}} {
		t.Run(u.name, func(t *testing.T) {
			r := sbxtest.Run(t, sbxtest.Users()[0], "", "", "unshare", "-n", "-m", "sh", script, sbxtest.Binary(t), dir, u.runas)
			if r.Stdout != want {
				t.Errorf("got\n%s\nwant\n%s\nstderr:\n%s", r.Stdout, want, r.Stderr)
			}
		})
	}
}
