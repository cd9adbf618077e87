package main

import (
	"bufio"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestRunRelaysSignalOnceStarted sends sbx run SIGTERM as soon as its app says it has set
// its trap: the app's trap must run, whenever sbx is in its start-up then. sbx caught the
// signals it relays only once it waited for the app, after the app ran: one that came
// between took its default action on sbx, whose death killed the kernel and the app with
// it (exit 143, no trap). Each round signals at the earliest moment it can; a few rounds
// put it at different points of sbx's start-up.
func TestRunRelaysSignalOnceStarted(t *testing.T) {
	bin := sbxtest.Binary(t)
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			for round := range 5 {
				argv := u.Wrap([]string{bin, "run", "--", "/bin/sh", "-c",
					"trap 'echo got TERM; exit 7' TERM; echo started; while :; do sleep 0.05; done"})
				c := exec.Command(argv[0], argv[1:]...)
				c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // should the test binary die
				c.Dir = "/"
				var stderr strings.Builder
				c.Stderr = &stderr
				out, err := c.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Start(); err != nil {
					t.Fatal(err)
				}
				exited := make(chan string, 1)
				go func() {
					r := bufio.NewReader(out)
					first, _ := r.ReadString('\n')
					if first == "started\n" {
						// Setpriv and env exec: the PID is sbx's by now.
						c.Process.Signal(syscall.SIGTERM)
					}
					rest, _ := io.ReadAll(r)
					c.Wait()
					exited <- first + string(rest)
				}()
				select {
				case output := <-exited:
					if code := c.ProcessState.ExitCode(); code != 7 || output != "started\ngot TERM\n" {
						t.Fatalf("round %d: sbx run exited %d (%v) with output %q, want 7 and the trap's line; stderr: %s",
							round, code, c.ProcessState, output, stderr.String())
					}
				case <-time.After(sbxtest.Timeout):
					c.Process.Kill()
					t.Fatalf("round %d: sbx run did not end after SIGTERM; stderr: %s", round, stderr.String())
				}
			}
		})
	}
}
