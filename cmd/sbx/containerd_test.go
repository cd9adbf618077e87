package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestContainerd runs a locally built image with containerd (started by the test, with
// state of its own) and `ctr run --runc-binary sbx-runc`: containerd's runc shim drives sbx
// through runc's command line. As root: containerd's rootless mode needs RootlessKit, which
// Debian does not ship.
func TestContainerd(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("containerd runs as root here (its rootless mode needs RootlessKit, not in Debian)")
	}
	for _, tool := range []string{"containerd", "ctr", "podman"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make test installs it)", tool)
		}
	}
	runtime := sbxRuncLink(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "containerd.sock")
	cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = ""
[metrics]
  address = ""
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, filepath.Join(dir, "ttrpc.sock"))
	os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), 0o600)
	var log strings.Builder
	d := exec.Command("containerd", "--config", filepath.Join(dir, "config.toml"))
	d.Stdout, d.Stderr = &log, &log
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { d.Process.Kill(); d.Wait() }()
	// Should the test binary die (a timeout), its task goes (the shim would keep it
	// running), then this containerd.
	ctrArgv := sbxtest.ShellQuote("ctr", "--address", sock, "--namespace", "sbxtest")
	sbxtest.Reap(t, fmt.Sprintf("%[1]s task kill --signal SIGKILL c2; sleep 1; %[1]s task rm --force c2; %[1]s container rm c2; kill -9 %[2]d; rm -rf %[3]s",
		ctrArgv, d.Process.Pid, sbxtest.ShellQuote(dir)))
	ctr := func(args ...string) sbxtest.Result {
		return sbxtest.Run(t, sbxtest.Users()[0], "", "", append([]string{"ctr", "--address", sock, "--namespace", "sbxtest"}, args...)...)
	}
	for deadline := time.Now().Add(sbxtest.Timeout); ctr("version").Code != 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("containerd did not start: %s", log.String())
		}
	}
	// The image: a busybox-static root filesystem imported by podman and saved as an OCI
	// archive (built here, never pulled).
	p := newPodman(t, sbxtest.Users()[0], "")
	tar := busyboxTar(t, dir)
	if r := p.run("import", tar, "localhost/sbxtest:busybox"); r.Code != 0 {
		t.Fatalf("podman import: %s", r.Stderr)
	}
	archive := filepath.Join(dir, "image.tar")
	if r := p.run("save", "--format", "oci-archive", "-o", archive, "localhost/sbxtest:busybox"); r.Code != 0 {
		t.Fatalf("podman save: %s", r.Stderr)
	}
	if r := ctr("images", "import", "--base-name", "localhost/sbxtest", archive); r.Code != 0 {
		t.Fatalf("ctr images import: exit %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	img := "localhost/sbxtest:busybox"
	r := ctr("run", "--rm", "--runc-binary", runtime, "--env", "GREETING=hi", "--cwd", "/tmp", img, "c1",
		"/bin/sh", "-c", `echo "$GREETING from $(pwd)"; echo err >&2; exit 6`)
	if r.Code != 6 || r.Stdout != "hi from /tmp\n" || !strings.Contains(r.Stderr, "err") {
		t.Errorf("ctr run: exit %d (want 6), stdout %q, stderr %q; containerd log:\n%s", r.Code, r.Stdout, r.Stderr, log.String())
	}
	// A detached task stopped by a signal through containerd.
	if r := ctr("run", "-d", "--runc-binary", runtime, img, "c2", "/bin/sh", "-c", `trap "exit 9" TERM; while :; do sleep 0.05; done`); r.Code != 0 {
		t.Fatalf("ctr run -d: exit %d %s", r.Code, r.Stderr)
	}
	defer ctr("container", "rm", "c2")
	for deadline := time.Now().Add(sbxtest.Timeout); !strings.Contains(ctr("task", "ls").Stdout, "RUNNING"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("task c2 never ran: %s", ctr("task", "ls").Stdout)
		}
	}
	time.Sleep(200 * time.Millisecond) // the trap is set once the shell runs its loop
	if r := ctr("task", "kill", "--signal", "SIGTERM", "c2"); r.Code != 0 {
		t.Errorf("ctr task kill: exit %d %s", r.Code, r.Stderr)
	}
	for deadline := time.Now().Add(sbxtest.Timeout); !strings.Contains(ctr("task", "ls").Stdout, "STOPPED"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("task c2 never stopped: %s", ctr("task", "ls").Stdout)
		}
	}
	ctr("task", "rm", "c2")
}
