package kernel_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyWalls keeps UI and configuration libraries out of the kernel, the platforms
// and the gofer: they run confined and must stay small.
func TestDependencyWalls(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/sbx-dev/sbx/kernel/...",
		"github.com/sbx-dev/sbx/platform/...", "github.com/sbx-dev/sbx/gofer/...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, banned := range []string{"github.com/spf13/cobra", "github.com/charmbracelet/", "charm.land/", "github.com/godbus/",
		"github.com/BurntSushi/toml", "golang.org/x/term"} {
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("%s is linked into the kernel, platform or gofer (keep it in cmd/, launcher/, profiles/ or tui/)", dep)
			}
		}
	}
}
