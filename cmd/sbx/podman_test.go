package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// busyboxTar writes a root filesystem tarball made from busybox-static (the image the
// engine tests import; nothing is ever pulled) and returns its path.
func busyboxTar(t testing.TB, dir string) string {
	t.Helper()
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static is not installed (make test installs it)")
	}
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "proc", "dev", "sys", "tmp", "run"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.Chmod(filepath.Join(root, "tmp"), 0o1777)
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "bin/busybox"), b, 0o755)
	for _, l := range []string{"sh", "cat", "echo", "id", "ls", "sleep", "pwd", "touch", "true", "head"} {
		os.Symlink("busybox", filepath.Join(root, "bin", l))
	}
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/:/bin/sh\n"), 0o644)
	tar := filepath.Join(dir, "rootfs.tar")
	if out, err := exec.Command("tar", "-C", root, "--owner=0", "--group=0", "-cf", tar, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	os.Chmod(tar, 0o644)
	return tar
}

// podmanEnv is one user's podman with storage of its own under a test directory and sbx
// (through a symlink named sbx-runc) as the runtime.
type podmanEnv struct {
	t     *testing.T
	u     sbxtest.User
	flags []string
	env   []string
}

func newPodman(t *testing.T, u sbxtest.User, runtime string) *podmanEnv {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman is not installed (make test installs it)")
	}
	dir, err := os.MkdirTemp("", "sbxtest-podman-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	if u.Name != "self" {
		os.Chown(dir, 65534, 65534)
	}
	os.MkdirAll(filepath.Join(dir, "rt"), 0o700)
	if u.Name != "self" {
		os.Chown(filepath.Join(dir, "rt"), 65534, 65534)
	}
	p := &podmanEnv{t: t, u: u,
		flags: []string{"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs",
			"--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", filepath.Join(dir, "tmp")},
		env: []string{"XDG_RUNTIME_DIR=" + filepath.Join(dir, "rt"), "HOME=" + dir, "XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
			"XDG_DATA_HOME=" + filepath.Join(dir, "data")}}
	if runtime != "" {
		p.flags = append(p.flags, "--runtime", runtime)
	}
	// Containers run detached (conmon), and rootless Podman leaves the process holding
	// its user namespace (pause.pid in --tmpdir) running after every command: all go
	// with the test, even if it fails half-way or the test binary dies (a timeout).
	rmAll := append(append(append([]string{"env"}, p.env...), "podman"), p.flags...)
	rmAll = append(rmAll, "rm", "--all", "--force", "--time", "0")
	cleanup := sbxtest.ShellQuote(u.Wrap(rmAll)...) + " >/dev/null 2>&1\n" +
		"p=$(cat " + sbxtest.ShellQuote(filepath.Join(dir, "tmp", "pause.pid")) + " 2>/dev/null) && " +
		`[ "$(tr -d '\0' < /proc/$p/cmdline 2>/dev/null)" = podman ] && kill -9 "$p"` + "\n" +
		"rm -rf " + sbxtest.ShellQuote(dir)
	sbxtest.Reap(t, cleanup)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), sbxtest.Timeout)
		defer cancel()
		exec.CommandContext(ctx, "sh", "-c", cleanup).Run()
	})
	return p
}

func (p *podmanEnv) run(args ...string) sbxtest.Result {
	p.t.Helper()
	argv := append(append(append([]string{"env"}, p.env...), "podman"), p.flags...)
	return sbxtest.Run(p.t, p.u, "", "", append(argv, args...)...)
}

// sbxRuncLink makes a symlink named sbx-runc to the sbx under test, reachable by everyone.
func sbxRuncLink(t testing.TB) string {
	dir, err := os.MkdirTemp("", "sbxtest-runcbin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	link := filepath.Join(dir, "sbx-runc")
	if err := os.Symlink(sbxtest.Binary(t), link); err != nil {
		t.Fatal(err)
	}
	return link
}

// TestPodman runs containers of a locally imported image with Podman using sbx as its OCI
// runtime, as root and rootless: exit status, stdout and stderr, environment, user and
// working directory, read-only root, tmpfs and bind mounts, --network none, a terminal,
// signals from podman kill and podman stop.
func TestPodman(t *testing.T) {
	runtime := sbxRuncLink(t)
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			p := newPodman(t, u, runtime)
			imgDir, err := os.MkdirTemp("", "sbxtest-image-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(imgDir) })
			os.Chmod(imgDir, 0o755)
			tar := busyboxTar(t, imgDir)
			if r := p.run("import", tar, "localhost/sbxtest:busybox"); r.Code != 0 {
				t.Fatalf("podman import: exit %d %s", r.Code, r.Stderr)
			}
			img := "localhost/sbxtest:busybox"
			run := func(args ...string) sbxtest.Result {
				return p.run(append([]string{"run", "--rm", "--network", "none"}, args...)...)
			}
			if r := run(img, "/bin/sh", "-c", "echo out; echo err >&2; exit 3"); r.Code != 3 || r.Stdout != "out\n" || !strings.Contains(r.Stderr, "err") {
				t.Errorf("exit status and streams: exit %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
			}
			if r := run("-e", "FOO=bar", "-w", "/tmp", "--user", "1000:1000", img, "/bin/sh", "-c", `echo "$FOO"; pwd; id -u; id -g`); r.Stdout != "bar\n/tmp\n1000\n1000\n" {
				t.Errorf("env, workdir, user: exit %d stdout %q stderr %s", r.Code, r.Stdout, r.Stderr)
			}
			bind, err := os.MkdirTemp("", "sbxtest-podbind-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(bind) })
			os.Chmod(bind, 0o755)
			os.WriteFile(filepath.Join(bind, "f"), []byte("bound\n"), 0o644)
			if r := run("--read-only", "--tmpfs", "/scratch", "-v", bind+":/data:ro", img, "/bin/sh", "-c",
				`touch /x 2>/dev/null || echo root read-only; touch /scratch/y && echo tmpfs; cat /data/f`); r.Stdout != "root read-only\ntmpfs\nbound\n" {
				t.Errorf("read-only root, tmpfs, bind: exit %d stdout %q stderr %s", r.Code, r.Stdout, r.Stderr)
			}
			if r := run("-t", img, "/bin/sh", "-c", `[ -t 0 ] && [ -t 1 ] && echo terminal`); r.Code != 0 || !strings.Contains(r.Stdout, "terminal") {
				t.Errorf("-t: exit %d stdout %q stderr %s", r.Code, r.Stdout, r.Stderr)
			}
			if _, err := exec.LookPath("script"); err == nil {
				// -it: podman wants a terminal on its own stdin; script(1) gives it one.
				argv := append(append(append([]string{"env"}, p.env...), "podman"), p.flags...)
				argv = append(argv, "run", "--rm", "-it", "--network", "none", img, "/bin/sh", "-c", "tty; read -r line; echo got $line")
				quoted := make([]string, len(argv))
				for i, a := range argv {
					quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
				}
				r := sbxtest.Run(t, u, "", "typed\n", "script", "-qec", strings.Join(quoted, " "), "/dev/null")
				if out := strings.ReplaceAll(r.Stdout, "\r", ""); r.Code != 0 || !strings.Contains(out, "/dev/console\n") || !strings.Contains(out, "got typed") {
					t.Errorf("-it: exit %d output %q stderr %s", r.Code, out, r.Stderr)
				}
			}
			name := fmt.Sprintf("sbxtest-%d", time.Now().UnixNano())
			if r := p.run("run", "-d", "--network", "none", "--name", name, img, "/bin/sh", "-c",
				`trap "echo got USR1" USR1; trap "echo got TERM; exit 9" TERM; echo up; while :; do sleep 0.05; done`); r.Code != 0 {
				t.Fatalf("run -d: exit %d %s", r.Code, r.Stderr)
			}
			defer p.run("rm", "-f", name)
			waitLog := func(want string) {
				t.Helper()
				for deadline := time.Now().Add(sbxtest.Timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
					if strings.Contains(p.run("logs", name).Stdout, want) {
						return
					}
				}
				t.Fatalf("%q never appeared in the container's log: %q", want, p.run("logs", name).Stdout)
			}
			waitLog("up")
			if r := p.run("exec", "-e", "X=1", "-w", "/tmp", name, "/bin/sh", "-c", `echo "exec $X $(pwd)"; exit 4`); r.Code != 4 || r.Stdout != "exec 1 /tmp\n" {
				t.Errorf("podman exec: exit %d (want 4) stdout %q stderr %s", r.Code, r.Stdout, r.Stderr)
			}
			if r := p.run("exec", "-i", name, "/bin/cat"); r.Code != 0 {
				t.Errorf("podman exec -i: exit %d stderr %s", r.Code, r.Stderr)
			}
			if r := p.run("kill", "-s", "USR1", name); r.Code != 0 {
				t.Errorf("podman kill -s USR1: exit %d %s", r.Code, r.Stderr)
			}
			waitLog("got USR1")
			if r := p.run("stop", "-t", "20", name); r.Code != 0 {
				t.Errorf("podman stop: exit %d %s", r.Code, r.Stderr)
			}
			waitLog("got TERM")
			if r := p.run("inspect", "--format", "{{.State.ExitCode}} {{.State.Status}}", name); r.Stdout != "9 exited\n" {
				t.Errorf("after podman stop: %q, want the trap's exit status 9 (stderr %s)", r.Stdout, r.Stderr)
			}
		})
	}
}

// BenchmarkPodmanRunTrue is `podman run --rm IMAGE /bin/true` wall time with sbx as the
// runtime against runc (Podman's own, the baseline) and gVisor's runsc where Debian's is
// installed, interleaved in one run. Reported: milliseconds per run for each, and each
// runtime's time as a multiple of runc's.
func BenchmarkPodmanRunTrue(b *testing.B) {
	runtimes := []struct{ name, path string }{{"runc", "/usr/sbin/runc"}, {"sbx", ""}, {"runsc", "/usr/bin/runsc"}}
	var avail []struct{ name, path string }
	for _, r := range runtimes {
		if r.name == "sbx" {
			r.path = sbxRuncLink(b)
		} else if _, err := os.Stat(r.path); err != nil {
			b.Logf("%s is not installed; not measured", r.name)
			continue
		}
		avail = append(avail, r)
	}
	if _, err := exec.LookPath("podman"); err != nil {
		b.Skip("podman is not installed")
	}
	dir, err := os.MkdirTemp("", "sbxbench-podman-")
	if err != nil {
		b.Fatal(err)
	}
	defer exec.Command("rm", "-rf", dir).Run()
	os.Chmod(dir, 0o755)
	tar := busyboxTar(b, dir)
	flags := []string{"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs",
		"--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", filepath.Join(dir, "tmp")}
	podman := func(args ...string) error {
		cmd := exec.Command("podman", append(append([]string{}, flags...), args...)...)
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+filepath.Join(dir, "rt"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("podman %v: %v: %s", args, err, out)
		}
		return nil
	}
	os.MkdirAll(filepath.Join(dir, "rt"), 0o700)
	if err := podman("import", tar, "localhost/sbxbench:busybox"); err != nil {
		b.Fatal(err)
	}
	run := func(path string) (time.Duration, error) {
		args := []string{"--runtime", path}
		if strings.HasSuffix(path, "runsc") {
			// Debian's runsc needs its own network off and no cgroups here.
			args = append(args, "--runtime-flag", "network=none", "--runtime-flag", "ignore-cgroups")
		}
		// Limits every runtime can set without CAP_SYS_RESOURCE.
		args = append(args, "run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
			"localhost/sbxbench:busybox", "/bin/true")
		start := time.Now()
		err := podman(args...)
		return time.Since(start), err
	}
	for _, r := range avail { // warm up (image layers, page cache)
		if _, err := run(r.path); err != nil {
			b.Fatal(err)
		}
	}
	total := make([]time.Duration, len(avail))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, r := range avail {
			d, err := run(r.path)
			if err != nil {
				b.Fatal(err)
			}
			total[j] += d
		}
	}
	for j, r := range avail {
		b.ReportMetric(float64(total[j].Milliseconds())/float64(b.N), r.name+"-ms/run")
		if j > 0 {
			b.ReportMetric(float64(total[j])/float64(total[0]), r.name+"/runc")
		}
	}
}

// TestPodmanStats: as root, Podman accounts an sbx container by the cgroup its spec names
// (the container's processes, sbx's own included, join it), so `podman stats` shows its
// memory against the limit given with --memory, its processes and CPU time. Rootless
// Podman with the cgroupfs manager has no cgroups to read (as with runc).
func TestPodmanStats(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("rootless Podman with cgroupfs keeps no statistics")
	}
	u := sbxtest.Users()[0]
	p := newPodman(t, u, sbxRuncLink(t))
	imgDir := t.TempDir()
	os.Chmod(imgDir, 0o755)
	tar := busyboxTar(t, imgDir)
	if r := p.run("import", tar, "localhost/sbxtest:busybox"); r.Code != 0 {
		t.Fatalf("podman import: exit %d %s", r.Code, r.Stderr)
	}
	name := fmt.Sprintf("sbxtest-stats-%d", time.Now().UnixNano())
	if r := p.run("run", "-d", "--network", "none", "--memory", "64m", "--name", name, "localhost/sbxtest:busybox", "/bin/sleep", "60"); r.Code != 0 {
		t.Fatalf("run -d: exit %d %s", r.Code, r.Stderr)
	}
	defer p.run("rm", "-f", "-t", "0", name)
	r := p.run("stats", "--no-stream", "--format", "{{.MemUsage}}|{{.PIDs}}|{{.CPU}}", name)
	f := strings.Split(strings.TrimSpace(r.Stdout), "|")
	if r.Code != 0 || len(f) != 3 || !strings.HasSuffix(f[0], "/ 67.11MB") || strings.HasPrefix(f[0], "0B") || f[1] == "0" || f[1] == "--" {
		t.Errorf("podman stats: exit %d %q %s; want memory in use of 67.11MB and processes", r.Code, r.Stdout, r.Stderr)
	}
}
