package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
	"github.com/sbx-dev/sbx/oci/spec"
	"golang.org/x/sys/unix"
)

// ociBundle makes a bundle with a busybox-static root filesystem, readable by every user,
// from config (nil: sbx-runc spec's example), and returns its directory.
func ociBundle(t *testing.T, edit func(s *spec.Spec)) string {
	t.Helper()
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static is not installed (make test installs it)")
	}
	dir, err := os.MkdirTemp("", "sbxtest-bundle-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "proc", "dev", "sys", "tmp", "work", "secret", "mnt", "scratch", "rw", "hooks"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(root, "tmp"), 0o1777)
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "bin/busybox"), b, 0o755)
	for _, l := range []string{"sh", "cat", "echo", "id", "ls", "sleep", "hostname", "pwd", "env", "touch", "grep", "wc"} {
		os.Symlink("busybox", filepath.Join(root, "bin", l))
	}
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "secret/key"), []byte("hidden\n"), 0o644)
	s := spec.Example(false)
	s.Process.Terminal = false
	if edit != nil {
		edit(s)
	}
	js, _ := json.Marshal(s)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runcCLI runs sbx as sbx-runc (through a symlink of that name) as user u, with --root
// under a directory of the test; the container's output goes to out.
type runcCLI struct {
	t    *testing.T
	u    sbxtest.User
	bin  string
	root string
	out  *os.File
}

func newRuncCLI(t *testing.T, u sbxtest.User) *runcCLI {
	dir, err := os.MkdirTemp("", "sbxtest-runc-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	bin := filepath.Join(dir, "sbx-runc")
	if err := os.Symlink(sbxtest.Binary(t), bin); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(out.Name(), 0o666)
	t.Cleanup(func() { out.Close() })
	r := &runcCLI{t: t, u: u, bin: bin, root: filepath.Join(dir, "state"), out: out}
	// Containers outlive the commands that made them: every one the test leaves goes
	// with it, even if the test fails half-way or the test binary dies (a timeout).
	del := sbxtest.ShellQuote(u.Wrap([]string{bin, "--root", r.root, "delete", "--force"})...)
	sbxtest.Reap(t, `for d in `+sbxtest.ShellQuote(r.root)+`/*/; do [ -d "$d" ] && `+del+` "$(basename "$d")"; done >/dev/null 2>&1; rm -rf `+sbxtest.ShellQuote(dir))
	t.Cleanup(func() {
		ents, _ := os.ReadDir(r.root)
		for _, e := range ents {
			r.run("delete", "--force", e.Name())
		}
	})
	return r
}

// run runs sbx-runc; it returns the command's own stdout, stderr and exit status.
func (r *runcCLI) run(args ...string) (string, string, int) {
	r.t.Helper()
	argv := r.u.Wrap(append([]string{r.bin, "--root", r.root}, args...))
	cmd := exec.Command(argv[0], argv[1:]...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if args[0] == "create" || args[0] == "run" || args[0] == "exec" && slices.Contains(args, "--detach") {
		// The container inherits these: files, so that nothing waits for it to close them.
		cmd.Stdout, cmd.Stderr = r.out, r.out
	}
	cmd.Dir = "/"
	before := len(r.output())
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatal(err)
	}
	if args[0] == "create" || args[0] == "run" || args[0] == "exec" && slices.Contains(args, "--detach") {
		// sbx-runc's own errors went to the shared file too.
		return "", r.output()[before:], code
	}
	return stdout.String(), stderr.String(), code
}

func (r *runcCLI) state(id string) spec.State {
	r.t.Helper()
	out, errs, code := r.run("state", id)
	var st spec.State
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		r.t.Fatalf("state %s: exit %d, %q %s", id, code, out, errs)
	}
	return st
}

func (r *runcCLI) output() string {
	b, _ := os.ReadFile(r.out.Name())
	return string(b)
}

func waitStatus(t *testing.T, r *runcCLI, id, want string) {
	t.Helper()
	for deadline := time.Now().Add(sbxtest.Timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if r.state(id).Status == want {
			return
		}
	}
	t.Fatalf("container %s never became %s (is %s); output: %s", id, want, r.state(id).Status, r.output())
}

// TestOCILifecycle checks the lifecycle of the OCI runtime specification and runc's
// behaviour where it is silent: created → running → stopped, the state JSON, errors for
// operations in the wrong state, kill of a stopped container, delete --force, hooks.
func TestOCILifecycle(t *testing.T) {
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			hookDir, err := os.MkdirTemp("", "sbxtest-hooks-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(hookDir) })
			os.Chmod(hookDir, 0o777)
			hookOut := filepath.Join(hookDir, "hooks")
			// Every hook appends a line to one file (writable by the container's root,
			// whose startContainer hook runs in the sandbox, where the file is /hooks/hooks).
			os.WriteFile(hookOut, nil, 0o666)
			os.Chmod(hookOut, 0o666)
			bundle := ociBundle(t, func(s *spec.Spec) {
				s.Process.Args = []string{"/bin/sh", "-c", "trap 'echo got TERM; exit 7' TERM; echo app >> /hooks/hooks; echo started; while :; do sleep 0.05; done"}
				s.Mounts = append(s.Mounts, spec.Mount{Destination: "/hooks", Type: "bind", Source: hookDir, Options: []string{"rbind"}})
				failing := func(name string) spec.Hook {
					return spec.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo " + name + " fails; exit 1"}}
				}
				hook := func(name, out string) spec.Hook {
					// Whether the hook runs in the network namespace of the state's PID
					// (the container's process).
					netns := `pid=$(echo "$s" | sed 's/.*"pid":\([0-9]*\).*/\1/'); [ "$(readlink /proc/self/ns/net)" = "$(readlink /proc/$pid/ns/net)" ] && n=in || n=out;`
					return spec.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", `read -r s; ` + netns + ` echo "` + name + ` $(pwd) $n $s" >> ` + out}}
				}
				s.Hooks = &spec.Hooks{Prestart: []spec.Hook{hook("prestart", hookOut)}, CreateRuntime: []spec.Hook{hook("createRuntime", hookOut)},
					CreateContainer: []spec.Hook{hook("createContainer", hookOut)},
					StartContainer:  []spec.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", `read -r s; echo "startContainer $(hostname) $(ls /hooks) $s" >> /hooks/hooks`}}},
					// A failing poststart or poststop hook is a warning; the next ones run.
					Poststart: []spec.Hook{failing("poststart"), hook("poststart", hookOut)}, Poststop: []spec.Hook{failing("poststop"), hook("poststop", hookOut)}}
			})
			r := newRuncCLI(t, u)
			pidFile := filepath.Join(filepath.Dir(r.root), "pid")
			if _, errs, code := r.run("create", "--bundle", bundle, "--pid-file", pidFile, "c1"); code != 0 {
				t.Fatalf("create: exit %d: %s %s", code, errs, r.output())
			}
			st := r.state("c1")
			pid, _ := os.ReadFile(pidFile)
			if st.Status != spec.StatusCreated || st.ID != "c1" || st.Bundle != bundle || strconv.Itoa(st.Pid) != string(pid) || st.Pid <= 0 || st.OCIVersion == "" {
				t.Errorf("state after create = %+v (pid file %q)", st, pid)
			}
			// `sbx oci` is the same command set.
			ociArgv := u.Wrap([]string{sbxtest.Binary(t), "oci", "--root", r.root, "state", "c1"})
			if out, err := exec.Command(ociArgv[0], ociArgv[1:]...).Output(); err != nil || !strings.Contains(string(out), `"status": "created"`) {
				t.Errorf("sbx oci state c1: %s (%v)", out, err)
			}
			if strings.Contains(r.output(), "started") {
				t.Errorf("the process ran before start: %q", r.output())
			}
			if _, errs, code := r.run("create", "--bundle", bundle, "c1"); code == 0 || !strings.Contains(errs, "already exists") {
				t.Errorf("create of an existing ID: exit %d, %q", code, errs)
			}
			if _, errs, code := r.run("start", "c1"); code != 0 || !strings.Contains(errs, "warning: hook /bin/sh: exit status 1: poststart fails") {
				t.Fatalf("start: exit %d: %s (want success with a warning of the failing poststart hook)", code, errs)
			}
			waitStatus(t, r, "c1", spec.StatusRunning)
			// SIGTERM below must find the trap set: it is set before "started".
			for deadline := time.Now().Add(sbxtest.Timeout); !strings.Contains(r.output(), "started"); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the container's program never started; output: %s", r.output())
				}
			}
			if _, errs, code := r.run("start", "c1"); code == 0 || !strings.Contains(errs, "already running") {
				t.Errorf("start of a running container: exit %d, %q", code, errs)
			}
			if _, errs, code := r.run("delete", "c1"); code == 0 || !strings.Contains(errs, "not stopped") {
				t.Errorf("delete of a running container: exit %d, %q", code, errs)
			}
			if _, errs, code := r.run("kill", "c1", "TERM"); code != 0 {
				t.Errorf("kill TERM: exit %d %s", code, errs)
			}
			waitStatus(t, r, "c1", spec.StatusStopped)
			if !strings.Contains(r.output(), "got TERM") {
				t.Errorf("the app did not get SIGTERM: output %q", r.output())
			}
			if st := r.state("c1"); st.Pid != 0 {
				t.Errorf("a stopped container's pid = %d, want 0", st.Pid)
			}
			if _, errs, code := r.run("kill", "c1", "KILL"); code == 0 || !strings.Contains(errs, "not running") {
				t.Errorf("kill of a stopped container: exit %d, %q", code, errs)
			}
			if _, errs, code := r.run("start", "c1"); code == 0 || !strings.Contains(errs, "stopped") {
				t.Errorf("start of a stopped container: exit %d, %q", code, errs)
			}
			if _, errs, code := r.run("delete", "c1"); code != 0 || !strings.Contains(errs, "poststop fails") {
				t.Errorf("delete: exit %d %s (want success with a warning of the failing poststop hook)", code, errs)
			}
			if _, errs, code := r.run("state", "c1"); code == 0 || !strings.Contains(errs, "does not exist") {
				t.Errorf("state of a deleted container: exit %d, %q", code, errs)
			}
			// As root the container has a network namespace of its own, which
			// createContainer runs in; an ordinary user's runtime makes none.
			outside := map[bool]string{true: "out", false: "in"}[os.Getuid() == 0 && u.Name == "self"]
			checkHookLines(t, hookOut, bundle, outside)
			// delete --force of a created container, and of a missing one.
			if _, errs, code := r.run("create", "--bundle", bundle, "c2"); code != 0 {
				t.Fatalf("create c2: %s", errs)
			}
			if _, errs, code := r.run("delete", "--force", "c2"); code != 0 {
				t.Errorf("delete --force: exit %d %s", code, errs)
			}
			if _, errs, code := r.run("delete", "--force", "c2"); code != 0 {
				t.Errorf("delete --force of a missing container: exit %d %s", code, errs)
			}
			// A failing startContainer hook fails start, and the program never runs.
			failing := ociBundle(t, func(s *spec.Spec) {
				s.Process.Args = []string{"/bin/sh", "-c", "echo the program ran"}
				s.Hooks = &spec.Hooks{StartContainer: []spec.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo hook says no >&2; exit 3"}}}}
			})
			if _, errs, code := r.run("create", "--bundle", failing, "c3"); code != 0 {
				t.Fatalf("create c3: %s", errs)
			}
			if _, errs, code := r.run("start", "c3"); code == 0 || !strings.Contains(errs, "startContainer hook /bin/sh: exit status 3") {
				t.Errorf("start with a failing startContainer hook: exit %d, %q", code, errs)
			}
			waitStatus(t, r, "c3", spec.StatusStopped)
			if out := r.output(); strings.Contains(out, "the program ran") || !strings.Contains(out, "hook says no") {
				t.Errorf("after a failing startContainer hook the output is %q", out)
			}
			r.run("delete", "c3")
		})
	}
}

// checkHookLines checks the hooks' lines: each in its order, in its place (the runtime's
// working directory and network namespace, which is outside the container's as root; the
// container's root filesystem and network namespace; the sandbox), with the state of its
// time; the app's line comes after startContainer's.
func checkHookLines(t *testing.T, path, bundle, outside string) {
	t.Helper()
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	order := []string{"prestart / " + outside + " ", "createRuntime / " + outside + " ", "createContainer " + filepath.Join(bundle, "rootfs") + " in ",
		"startContainer sbx hooks {", "", "", "poststop / "}
	if len(lines) != len(order) {
		t.Fatalf("hooks ran as %q, want %d lines", b, len(order))
	}
	// The app and poststart may come in either order: poststart follows the program's
	// start, not its first write.
	if lines[4] != "app" {
		lines[4], lines[5] = lines[5], lines[4]
	}
	order[4], order[5] = "app", "poststart / "+outside+" "
	for i, want := range order {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("hook line %d = %q, want it to start with %q (all: %q)", i, lines[i], want, b)
		}
	}
	for i, status := range map[int]string{0: "creating", 1: "creating", 2: "creating", 3: "created", 5: "running", 6: "stopped"} {
		if !strings.Contains(lines[i], `"status":"`+status+`"`) || !strings.Contains(lines[i], `"id":"c1"`) {
			t.Errorf("hook line %d = %q, want the state of container c1 with status %s", i, lines[i], status)
		}
	}
}

// TestOCIProcess checks that the bundle's process, root filesystem and mounts are what the
// container sees: args, env, cwd, user, hostname, rlimits, exit status, read-only root,
// tmpfs and bind mounts, masked paths.
func TestOCIProcess(t *testing.T) {
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			host, err := os.MkdirTemp("", "sbxtest-bind-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(host) })
			os.Chmod(host, 0o755)
			os.WriteFile(filepath.Join(host, "data"), []byte("from the host\n"), 0o644)
			// A writable bind mount with a masked and a read-only directory in it.
			rw := filepath.Join(host, "rw")
			for _, d := range []string{"hidden", "sub"} {
				os.MkdirAll(filepath.Join(rw, d), 0o777)
				os.Chmod(filepath.Join(rw, d), 0o777)
			}
			os.Chmod(rw, 0o777)
			os.WriteFile(filepath.Join(rw, "hidden/secret"), []byte("x\n"), 0o644)
			os.WriteFile(filepath.Join(rw, "sub/f"), []byte("in sub\n"), 0o644)
			bundle := ociBundle(t, func(s *spec.Spec) {
				s.Process.Args = []string{"/bin/sh", "-c", `echo "$GREETING"; pwd; id -u; id -g; id -G; hostname; ulimit -n; cat /mnt/data;
touch /rootfile 2>/dev/null || echo root read-only; touch /scratch/f && echo tmpfs writable; ls /secret; [ -c /secret/key ] && [ -z "$(cat /secret/key)" ] && echo masked file;
ls -A /rw/hidden; touch /rw/hidden/x 2>/dev/null || echo masked dir read-only; touch /rw/sub/y 2>/dev/null || echo read-only path; cat /rw/sub/f; touch /rw/z && echo rw writable; exit 5`}
				s.Process.Env = append(s.Process.Env, "GREETING=hello from config")
				s.Process.Cwd = "/work"
				s.Process.User = spec.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{5, 27}}
				s.Process.Rlimits = []spec.Rlimit{{Type: "RLIMIT_NOFILE", Soft: 123, Hard: 456}}
				s.Hostname = "box"
				s.Mounts = append(s.Mounts, spec.Mount{Destination: "/mnt", Type: "bind", Source: host, Options: []string{"rbind", "ro"}},
					spec.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=1777"}})
				s.Mounts = append(s.Mounts, spec.Mount{Destination: "/rw", Type: "bind", Source: rw, Options: []string{"rbind"}})
				s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/secret/key", "/rw/hidden", "/no/such/path")
				s.Linux.ReadonlyPaths = append(s.Linux.ReadonlyPaths, "/rw/sub", "/no/such/path")
			})
			r := newRuncCLI(t, u)
			_, _, code := r.run("run", "--bundle", bundle, "p1")
			errs := ""
			want := "hello from config\n/work\n1000\n1000\n1000 5 27\nbox\n123\nfrom the host\nroot read-only\ntmpfs writable\nkey\nmasked file\nmasked dir read-only\nread-only path\nin sub\nrw writable\n"
			if code != 5 || r.output() != want {
				t.Errorf("sbx-runc run: exit %d (want 5), output %q, want %q; stderr %s", code, r.output(), want, errs)
			}
		})
	}
}

// TestOCITerminal: with process.terminal the runtime hands the terminal's master end to the
// console socket and the app's output arrives there.
func TestOCITerminal(t *testing.T) {
	u := sbxtest.Users()[0]
	bundle := ociBundle(t, func(s *spec.Spec) {
		s.Process.Terminal = true
		s.Process.Args = []string{"/bin/sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo on a terminal"}
	})
	r := newRuncCLI(t, u)
	sock := filepath.Join(filepath.Dir(r.root), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan string, 1)
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		buf, oob := make([]byte, 256), make([]byte, 64)
		_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			got <- err.Error()
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if len(msgs) != 1 {
			got <- "no file descriptor received"
			return
		}
		fds, _ := unix.ParseUnixRights(&msgs[0])
		master := os.NewFile(uintptr(fds[0]), "master")
		defer master.Close()
		var out []byte
		b := make([]byte, 256)
		for !strings.Contains(string(out), "terminal") {
			n, err := master.Read(b)
			if err != nil {
				break
			}
			out = append(out, b[:n]...)
		}
		got <- string(out)
	}()
	if _, errs, code := r.run("create", "--bundle", bundle, "--console-socket", sock, "tty1"); code != 0 {
		t.Fatalf("create with a console socket: exit %d %s", code, errs)
	}
	defer r.run("delete", "--force", "tty1")
	if _, errs, code := r.run("start", "tty1"); code != 0 {
		t.Fatalf("start: %d %s", code, errs)
	}
	select {
	case out := <-got:
		if !strings.Contains(out, "on a terminal") {
			t.Errorf("console output %q, want \"on a terminal\"", out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("nothing arrived on the console")
	}
	if _, errs, code := r.run("create", "--bundle", bundle, "tty2"); code == 0 || !strings.Contains(errs, "console socket") {
		t.Errorf("create of a terminal container without a console socket: exit %d %q", code, errs)
	}
}

// TestOCIExec runs further processes in a running container: attached (output, exit
// status, env, cwd, user), detached with a PID file whose process ends with the exec'd one,
// a missing command (127), and exec into a stopped container (refused).
func TestOCIExec(t *testing.T) {
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			bundle := ociBundle(t, func(s *spec.Spec) {
				s.Process.Args = []string{"/bin/sh", "-c", "trap 'echo init got USR1' USR1; echo init ready; while :; do sleep 0.05; done"}
				s.Process.Env = append(s.Process.Env, "FROM=config")
			})
			r := newRuncCLI(t, u)
			if _, errs, code := r.run("create", "--bundle", bundle, "e1"); code != 0 {
				t.Fatalf("create: %d %s", code, errs)
			}
			defer r.run("delete", "--force", "e1")
			if _, errs, code := r.run("start", "e1"); code != 0 {
				t.Fatalf("start: %d %s", code, errs)
			}
			out, errs, code := r.run("exec", "--env", "EXTRA=flag", "--cwd", "/tmp", "--user", "1000:1000", "e1",
				"/bin/sh", "-c", `echo "$FROM $EXTRA"; pwd; id -u; id -g; exit 3`)
			if code != 3 || out != "config flag\n/tmp\n1000\n1000\n" {
				t.Errorf("exec: exit %d (want 3) stdout %q stderr %s", code, out, errs)
			}
			if _, errs, code := r.run("exec", "e1", "/no/such/program"); code != 127 || !strings.Contains(errs, "cannot run /no/such/program") {
				t.Errorf("exec of a missing program: exit %d (want 127) %q", code, errs)
			}
			pidFile := filepath.Join(filepath.Dir(r.root), "exec.pid")
			// The process runs until told to end (a file another exec makes): a fixed
			// lifetime could end before a loaded machine got to look at it.
			if _, errs, code := r.run("exec", "--detach", "--pid-file", pidFile, "e1", "/bin/sh", "-c",
				"while [ ! -e /dev/shm/exec-end ]; do sleep 0.02; done; exit 5"); code != 0 {
				t.Fatalf("exec --detach: exit %d %s", code, errs)
			}
			b, err := os.ReadFile(pidFile)
			pid, _ := strconv.Atoi(string(b))
			if err != nil || pid <= 0 || unix.Kill(pid, 0) != nil {
				t.Fatalf("exec --detach: pid file %q (%v) names no running process", b, err)
			}
			if _, errs, code := r.run("exec", "e1", "/bin/touch", "/dev/shm/exec-end"); code != 0 {
				t.Fatalf("exec touch: exit %d %s", code, errs)
			}
			for deadline := time.Now().Add(sbxtest.Timeout); unix.Kill(pid, 0) == nil; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the detached exec's host process outlived its process")
				}
			}
			// kill --all reaches every process, the exec'd ones too.
			if _, errs, code := r.run("exec", "--detach", "e1", "/bin/sh", "-c", `trap "echo exec got USR1; exit 0" USR1; echo exec ready; while :; do sleep 0.05; done`); code != 0 {
				t.Fatalf("exec --detach: exit %d %s", code, errs)
			}
			waitOutput := func(want string) {
				t.Helper()
				for deadline := time.Now().Add(sbxtest.Timeout); !strings.Contains(r.output(), want); time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("%q never appeared; output %q", want, r.output())
					}
				}
			}
			// Both shells print "ready" once their traps are set.
			waitOutput("init ready")
			waitOutput("exec ready")
			if _, errs, code := r.run("kill", "--all", "e1", "USR1"); code != 0 {
				t.Errorf("kill --all: exit %d %s", code, errs)
			}
			waitOutput("init got USR1")
			waitOutput("exec got USR1")
			if _, errs, code := r.run("kill", "e1", "KILL"); code != 0 {
				t.Fatalf("kill: %d %s", code, errs)
			}
			waitStatus(t, r, "e1", spec.StatusStopped)
			if _, errs, code := r.run("exec", "e1", "/bin/true"); code == 0 || !strings.Contains(errs, "stopped") {
				t.Errorf("exec into a stopped container: exit %d %q", code, errs)
			}
		})
	}
}

// TestOCIResources checks the spec's cgroup limits: pids.limit bounds the container's
// processes and memory.limit is its kernel's limit, both as `events --stats` reports them
// in runc's format; as root the container's processes are in the cgroup the spec names,
// with its CPU quota, and the cgroup goes with the container.
func TestOCIResources(t *testing.T) {
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			mem := int64(96 << 20)
			quota, period := int64(50000), uint64(100000)
			cg := fmt.Sprintf("/sbxtest-%d", time.Now().UnixNano())
			bundle := ociBundle(t, func(s *spec.Spec) {
				// The inner shell forks until it cannot (and dies of it).
				s.Process.Args = []string{"/bin/sh", "-c", `echo "cpus $(busybox nproc)"; /bin/sh -c 'while :; do sleep 30 & done'; echo spawned; exec sleep 30`}
				s.Linux.Resources = &spec.Resources{Memory: &spec.Memory{Limit: &mem}, Pids: &spec.Pids{Limit: 6},
					CPU: &spec.CPU{Quota: &quota, Period: &period, Cpus: "0"}}
				s.Linux.CgroupsPath = cg
			})
			r := newRuncCLI(t, u)
			if _, errs, code := r.run("create", "--bundle", bundle, "r1"); code != 0 {
				t.Fatalf("create: %d %s", code, errs)
			}
			defer r.run("delete", "--force", "r1")
			if _, errs, code := r.run("start", "r1"); code != 0 {
				t.Fatalf("start: %d %s", code, errs)
			}
			for deadline := time.Now().Add(sbxtest.Timeout); !strings.Contains(r.output(), "spawned"); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the container never got past its forks: %q", r.output())
				}
			}
			out, errs, code := r.run("events", "--stats", "r1")
			var ev struct {
				Type, ID string
				Data     struct {
					CPU struct {
						Usage struct{ Total uint64 }
					}
					Memory struct {
						Usage struct{ Limit, Usage uint64 }
					}
					Pids struct{ Current, Limit uint64 }
				}
			}
			if code != 0 || json.Unmarshal([]byte(out), &ev) != nil {
				t.Fatalf("events --stats: exit %d %q %s", code, out, errs)
			}
			if ev.Type != "stats" || ev.ID != "r1" || ev.Data.Memory.Usage.Limit != uint64(mem) || ev.Data.Memory.Usage.Usage == 0 ||
				ev.Data.Pids.Limit != 6 || ev.Data.Pids.Current < 2 || ev.Data.Pids.Current > 6 || ev.Data.CPU.Usage.Total == 0 {
				t.Errorf("events --stats = %s, want memory limit %d in use, at most 6 processes of 6, CPU time", out, mem)
			}
			if !strings.Contains(r.output(), "cpus 1\n") {
				t.Errorf("cpu.cpus 0: the container sees other CPUs: %q", r.output())
			}
			if !strings.Contains(r.output(), "can't fork") {
				t.Errorf("forks beyond pids.limit did not fail: %q", r.output())
			}
			if os.Getuid() == 0 && u.Name == "self" {
				st := r.state("r1")
				procs, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", cg, "cgroup.procs"))
				if v2 := filepath.Join("/sys/fs/cgroup", cg, "cgroup.procs"); err != nil {
					procs, err = os.ReadFile(v2)
				}
				if err != nil || !slices.Contains(strings.Fields(string(procs)), strconv.Itoa(st.Pid)) {
					t.Errorf("the container's process %d is not in cgroup %s: %q (%v)", st.Pid, cg, procs, err)
				}
				if q, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/cpu", cg, "cpu.cfs_quota_us")); err == nil && strings.TrimSpace(string(q)) != "50000" {
					t.Errorf("cgroup %s: cpu.cfs_quota_us = %q, want 50000", cg, q)
				}
			}
			r.run("delete", "--force", "r1")
			for _, d := range []string{"/sys/fs/cgroup/memory", "/sys/fs/cgroup"} {
				if _, err := os.Stat(filepath.Join(d, cg)); err == nil {
					t.Errorf("cgroup %s outlived the container", filepath.Join(d, cg))
				}
			}
		})
	}
}
