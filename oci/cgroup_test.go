package oci

import (
	"os"
	"strings"
	"testing"
)

func TestCgroupPath(t *testing.T) {
	for _, tt := range []struct{ in, id, want string }{
		{"", "c1", "/sbx/c1"},
		{"/libpod_parent/libpod-abc", "abc", "/libpod_parent/libpod-abc"},
		{"libpod_parent/x/../y", "y", "/libpod_parent/y"},
		{"system.slice:libpod:abc", "abc", "/system.slice/libpod-abc.scope"},
		{"machine-libpod_pod_1.slice:libpod:abc", "abc", "/machine.slice/machine-libpod_pod_1.slice/libpod-abc.scope"},
		{":cri-containerd:abc", "abc", "/system.slice/cri-containerd-abc.scope"},
	} {
		if got := cgroupPath(tt.in, tt.id); got != tt.want {
			t.Errorf("cgroupPath(%q, %q) = %q, want %q", tt.in, tt.id, got, tt.want)
		}
	}
}

func TestSetCPUs(t *testing.T) {
	for _, bad := range []string{"x", "3-1", "-1", "0-99999", "1,a"} {
		if err := setCPUs(os.Getpid(), bad); err == nil || !strings.Contains(err.Error(), "not a CPU list") {
			t.Errorf("setCPUs(%q) = %v, want a CPU list error", bad, err)
		}
	}
}
