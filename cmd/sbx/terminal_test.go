package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// tmuxSession drives one private tmux server for a test.
type tmuxSession struct {
	t    *testing.T
	name string
}

func newTmux(t *testing.T, width, height string, argv ...string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (make test installs it)")
	}
	s := &tmuxSession{t: t, name: "sbxterm" + itoa(os.Getpid()) + strings.NewReplacer("/", "-").Replace(t.Name())}
	args := append([]string{"new-session", "-d", "-x", width, "-y", height, "-s", "main", "env", "TERM=xterm-256color"}, argv...)
	if out, err := exec.Command("tmux", append([]string{"-L", s.name, "-f", "/dev/null"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v: %s", err, out)
	}
	t.Cleanup(func() { s.run("kill-server") })
	return s
}

func (s *tmuxSession) run(args ...string) string {
	out, _ := exec.Command("tmux", append([]string{"-L", s.name}, args...)...).CombinedOutput()
	return string(out)
}

func (s *tmuxSession) keys(keys ...string) {
	s.run(append([]string{"send-keys", "-t", "main"}, keys...)...)
}

func (s *tmuxSession) screen() string { return s.run("capture-pane", "-p", "-t", "main") }

// waitFor polls the screen until cond holds.
func (s *tmuxSession) waitFor(what string, cond func(string) bool) string {
	s.t.Helper()
	var screen string
	for deadline := time.Now().Add(sbxtest.Timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		screen = s.screen()
		if cond(screen) {
			return screen
		}
	}
	s.t.Fatalf("timed out waiting for %s; screen:\n%s", what, screen)
	return ""
}

func (s *tmuxSession) waitLine(line string) {
	s.t.Helper()
	s.waitFor(quote(line), func(sc string) bool {
		for _, l := range strings.Split(sc, "\n") {
			if strings.TrimRight(l, " ") == line {
				return true
			}
		}
		return false
	})
}

func quote(s string) string { return "\"" + s + "\"" }

// TestInteractiveShellJobControl runs `sbx run -- bash -i` in tmux: the user's terminal is
// the sandbox session's, so Ctrl-C ends a foreground sleep, Ctrl-Z stops it (the shell
// inside sees it stopped and fg resumes it while the launcher keeps running), and a window
// resize fires the shell's WINCH trap.
func TestInteractiveShellJobControl(t *testing.T) {
	bin := sbxtest.Binary(t)
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			argv := u.Wrap([]string{bin, "run", "--", "/bin/bash", "--norc", "--noprofile", "-i"})
			s := newTmux(t, "100", "30", argv...)
			s.waitFor("a prompt", func(sc string) bool {
				sc = strings.TrimSpace(sc)
				return strings.HasSuffix(sc, "$") || strings.HasSuffix(sc, "#")
			})
			s.keys("PS1='P> '; tty; [ -t 0 ] && echo is-a-tty", "Enter")
			s.waitLine("/dev/console")
			s.waitLine("is-a-tty")
			// /proc/PID/stat names the terminal (tty_nr 5:1) and its foreground group.
			s.keys(`read -r -a f < /proc/self/stat; echo "tty_nr=${f[6]} fg=$(( f[7] == f[4] ))"`, "Enter")
			s.waitLine("tty_nr=1281 fg=1")

			// Each job says when it runs, so the signal keys reach it and not the shell
			// still starting it (which ignores ^Z: the job would then never stop).
			s.keys("(echo running-100; exec sleep 100)", "Enter")
			s.waitLine("running-100")
			s.keys("C-c")
			s.keys("echo rc=$?", "Enter")
			s.waitLine("rc=130")

			// This job also says when it is continued: bash gives it the terminal before
			// it sends SIGCONT, so ^C then reaches it.
			s.keys("(trap 'echo cont-101' CONT; echo running-101; while :; do sleep 0.1; done)", "Enter")
			s.waitLine("running-101")
			s.keys("C-z")
			s.waitFor("the job stopped", func(sc string) bool { return strings.Contains(sc, "Stopped") && strings.Contains(sc, "running-101") })
			s.keys("clear; jobs -l | grep -c Stopped", "Enter")
			s.waitLine("1")
			s.keys("clear; fg", "Enter")
			s.waitLine("cont-101")
			s.keys("C-c")
			s.keys("echo fg-rc=$?", "Enter")
			s.waitLine("fg-rc=130")

			s.keys("trap 'echo winch-$(tput lines)' WINCH; echo trap-set", "Enter")
			s.waitLine("trap-set")
			s.run("resize-window", "-t", "main", "-x", "90", "-y", "20")
			s.waitFor("the WINCH trap", func(sc string) bool { return strings.Contains(sc, "winch-20") })

			s.keys("exit 7", "Enter")
			for deadline := time.Now().Add(sbxtest.Timeout); ; time.Sleep(100 * time.Millisecond) {
				if exec.Command("tmux", "-L", s.name, "has-session", "-t", "main").Run() != nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the sandbox did not end after exit; screen:\n%s", s.screen())
				}
			}
		})
	}
}

// TestTerminalProgramsInside runs programs that make their own terminals inside the
// sandbox: script(1) and a tmux server.
func TestTerminalProgramsInside(t *testing.T) {
	for _, tool := range []string{"script", "tmux"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make test installs it)", tool)
		}
	}
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			res := sbxtest.Sbx(t, u, "run", "--", "script", "-qc", "tty; stty size; echo done", "/dev/null")
			if res.Code != 0 || !strings.Contains(res.Stdout, "/dev/pts/0") || !strings.Contains(res.Stdout, "done") {
				t.Errorf("script inside: exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
			}
			res = sbxtest.Sbx(t, u, "run", "--", "/bin/sh", "-c",
				// The pane is read once it shows what it printed (bounded only against a hang).
				`export SHELL=/bin/sh; tmux -L in -f /dev/null new-session -d -x 60 -y 8 "stty size; tty; sleep 600" || exit 1
for i in $(seq 1200); do out=$(tmux -L in capture-pane -p); case "$out" in *"/dev/pts/"*) break;; esac; sleep 0.1; done
echo "$out"; tmux -L in kill-server`)
			if res.Code != 0 || !strings.Contains(res.Stdout, "8 60") || !strings.Contains(res.Stdout, "/dev/pts/") {
				t.Errorf("tmux inside: exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
			}
		})
	}
}

// TestNoTerminalQueries: only the TUI may query the terminal (OSC 11 for the background
// colour, CSI 6n for the cursor), and only while it runs; any other command writing them
// makes the terminal's answers land in the user's input.
func TestNoTerminalQueries(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script is not installed (make test installs it)")
	}
	bin := sbxtest.Binary(t)
	for _, args := range []string{"version", "run -- /bin/true", "profile show default"} {
		out, err := exec.Command("script", "-qec", bin+" "+args, "/dev/null").CombinedOutput()
		if err != nil {
			t.Fatalf("sbx %s on a terminal: %v: %q", args, err, out)
		}
		for _, q := range []string{"\x1b]11;", "\x1b[6n", "\x1b]10;"} {
			if strings.Contains(string(out), q) {
				t.Errorf("sbx %s wrote the terminal query %q: %q", args, q, out)
			}
		}
	}
}
