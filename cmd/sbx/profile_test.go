package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/profiles"
)

var update = flag.Bool("update", false, "rewrite golden files")

func testLoader(t *testing.T) func() *profiles.Loader {
	dir, _ := filepath.Abs("testdata")
	env := profiles.Env{Home: "/home/u", ConfigHome: "/home/u/.config", DataHome: "/home/u/.local/share",
		CacheHome: "/home/u/.cache", RuntimeDir: "/run/user/1000", Downloads: "/home/u/Downloads", Cwd: "/home/u/src"}
	return func() *profiles.Loader { return &profiles.Loader{Path: []string{dir}, Env: env} }
}

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	io := &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errb}
	root := newRootCmd(io)
	// Swap in a hermetic loader.
	for _, c := range root.Commands() {
		if c.Name() == "profile" {
			root.RemoveCommand(c)
		}
	}
	root.AddCommand(newProfileCmd(io, testLoader(t)))
	root.SetArgs(args)
	code := exitCode(root.Execute(), io)
	return out.String(), errb.String(), code
}

func TestProfileCheckReportsEveryError(t *testing.T) {
	_, stderr, code := runCLI(t, "profile", "check", "testdata/three-errors.toml")
	if code == 0 {
		t.Fatal("check of an invalid profile exited 0")
	}
	for _, want := range []string{
		"three-errors.toml:3:1: colour: unknown key",
		`three-errors.toml:7:11: network.allow: "192.168.1.0/33:80": bad CIDR`,
		"include: include cycle three-errors → three-errors",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestProfileCheckValid(t *testing.T) {
	out, stderr, code := runCLI(t, "profile", "check", "testdata/mini.toml")
	if code != 0 || !strings.Contains(out, "mini.toml: ok") {
		t.Fatalf("check = %d, %q, %q", code, out, stderr)
	}
}

func TestProfileShowGolden(t *testing.T) {
	for _, name := range []string{"mini", "firefox", "default"} {
		out, stderr, code := runCLI(t, "profile", "show", name)
		if code != 0 {
			t.Fatalf("show %s: %d %s", name, code, stderr)
		}
		out = strings.ReplaceAll(out, mustAbs("testdata")+"/", "testdata/")
		golden := filepath.Join("testdata", "show-"+name+".golden")
		if *update {
			os.WriteFile(golden, []byte(out), 0o644)
		}
		want, _ := os.ReadFile(golden)
		if out != string(want) {
			t.Errorf("profile show %s differs from %s (go test -run Golden -update to accept):\n%s", name, golden, out)
		}
	}
}

func mustAbs(p string) string {
	a, _ := filepath.Abs(p)
	return a
}

func TestProfileListAndWhich(t *testing.T) {
	out, _, _ := runCLI(t, "profile", "list")
	if n := strings.Count(out, "\n"); n < 40 {
		t.Errorf("profile list has %d lines", n)
	}
	out, _, _ = runCLI(t, "profile", "which", "/usr/lib/firefox-esr/firefox-esr")
	if !strings.HasPrefix(out, "firefox-esr\t") {
		t.Errorf("which = %q", out)
	}
	_, stderr, code := runCLI(t, "profile", "show", "no-such-profile")
	if code == 0 || !strings.Contains(stderr, "profile not found: no-such-profile") {
		t.Errorf("show unknown = %d %q", code, stderr)
	}
}
