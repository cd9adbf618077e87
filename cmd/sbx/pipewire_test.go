package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// pwTypes returns the sorted "type" lines of pw-dump's output: every object the daemon
// shows and its kind.
func pwTypes(out string) []string {
	var types []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, `"type": "PipeWire:`) {
			types = append(types, l)
		}
	}
	sort.Strings(types)
	return types
}

// TestPipeWire reaches a PipeWire daemon the test starts (on a private runtime directory)
// from under sbx with [audio] pipewire: pw-cli reads the core's info and pw-dump lists the
// same objects as natively. (Playing a stream needs a session manager to link it to a
// sink; none is started here.)
func TestPipeWire(t *testing.T) {
	for _, tool := range []string{"pipewire", "pw-cli", "pw-dump"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make test installs it)", tool)
		}
	}
	rt, err := os.MkdirTemp("", "sbx-pw-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(rt)
	env := []string{"XDG_RUNTIME_DIR=" + rt, "PIPEWIRE_RUNTIME_DIR=" + rt, "PIPEWIRE_REMOTE=pipewire-0"}
	daemon := exec.Command("pipewire")
	daemon.Env = append(os.Environ(), env...)
	var log bytes.Buffer
	daemon.Stdout, daemon.Stderr = &log, &log
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { daemon.Process.Kill(); daemon.Wait() }()
	sock := filepath.Join(rt, "pipewire-0")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pipewire did not start:\n%s", log.String())
		}
	}
	os.Chmod(rt, 0o711)
	os.Chmod(sock, 0o777)
	prof := filepath.Join(rt, "pw.toml")
	os.WriteFile(prof, []byte("description = \"pipewire only\"\n[audio]\npipewire = true\n"), 0o644)
	native := sbxtest.Run(t, sbxtest.Users()[0], "", "", append(append([]string{"env"}, env...), "pw-dump")...)
	want := pwTypes(native.Stdout)
	if native.Code != 0 || len(want) < 5 {
		t.Fatalf("pw-dump natively: exit %d, %d objects\n%s", native.Code, len(want), native.Stderr)
	}
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			sbx := func(argv ...string) sbxtest.Result {
				return sbxtest.Run(t, u, "", "", append(append(append([]string{"env"}, env...), sbxtest.Binary(t)),
					sbxtest.WithPlatform(append([]string{"run", "--profile", prof, "--"}, argv...))...)...)
			}
			r := sbx("pw-cli", "info", "0")
			if r.Code != 0 || !strings.Contains(r.Stdout, "type: PipeWire:Interface:Core") || !strings.Contains(r.Stdout, `name: "pipewire-0"`) {
				t.Fatalf("pw-cli info 0 under sbx: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
			}
			r = sbx("pw-dump")
			if got := pwTypes(r.Stdout); r.Code != 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("pw-dump under sbx: exit %d, objects\n%s\nwant\n%s\n%s", r.Code, strings.Join(got, "\n"), strings.Join(want, "\n"), r.Stderr)
			}
		})
	}
}
