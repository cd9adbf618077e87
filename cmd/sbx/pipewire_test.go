package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
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

// lockedBuffer is a bytes.Buffer several processes' output goes to.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer // protected by mu
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startPipeWire starts a PipeWire daemon on a private runtime directory every test user
// reaches and returns the directory and the environment that finds it. With session set it
// also starts WirePlumber, the session manager that links streams to sinks (on a private
// session bus: it will not run without one), and a null sink named sbxnull, mono at
// 44.1 kHz, whose monitor records what is played to it.
func startPipeWire(t *testing.T, session bool) (string, []string) {
	t.Helper()
	tools := []string{"pipewire", "pw-cli", "pw-dump"}
	if session {
		tools = append(tools, "wireplumber", "dbus-daemon", "pw-cat")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make test installs it)", tool)
		}
	}
	rt, err := os.MkdirTemp("", "sbx-pw-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(rt) })
	env := []string{"XDG_RUNTIME_DIR=" + rt, "PIPEWIRE_RUNTIME_DIR=" + rt, "PIPEWIRE_REMOTE=pipewire-0"}
	daemonEnv := append(os.Environ(), env...)
	log := new(lockedBuffer) // the daemons write to it at once
	start := func(argv ...string) {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = daemonEnv
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	await := func(what, path string) {
		for deadline := time.Now().Add(sbxtest.Timeout); ; time.Sleep(50 * time.Millisecond) {
			if _, err := os.Stat(path); err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not start:\n%s", what, log.String())
			}
		}
	}
	if session {
		bus := filepath.Join(rt, "bus")
		start("dbus-daemon", "--session", "--nofork", "--address=unix:path="+bus)
		await("dbus-daemon", bus)
		daemonEnv = append(daemonEnv, "DBUS_SESSION_BUS_ADDRESS=unix:path="+bus)
	}
	start("pipewire")
	sock := filepath.Join(rt, "pipewire-0")
	await("pipewire", sock)
	os.Chmod(rt, 0o711)
	os.Chmod(sock, 0o777)
	if !session {
		return rt, env
	}
	start("wireplumber")
	cli := exec.Command("pw-cli", "create-node", "adapter", "{ factory.name=support.null-audio-sink node.name=sbxnull "+
		"media.class=Audio/Sink object.linger=true audio.position=[MONO] audio.rate=44100 }")
	cli.Env = daemonEnv
	if out, err := cli.CombinedOutput(); err != nil {
		t.Fatalf("creating the null sink: %v\n%s", err, out)
	}
	// WirePlumber is ready when it has announced the sink as a default target.
	for deadline := time.Now().Add(sbxtest.Timeout); ; time.Sleep(100 * time.Millisecond) {
		md := exec.Command("pw-metadata", "0", "default.audio.sink")
		md.Env = daemonEnv
		if out, _ := md.Output(); strings.Contains(string(out), "sbxnull") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("wireplumber did not pick the null sink as the default within %v:\n%s", sbxtest.Timeout, log.String())
		}
	}
	return rt, env
}

// TestPipeWire reaches a PipeWire daemon the test starts (on a private runtime directory)
// from under sbx with [audio] pipewire: pw-cli reads the core's info and pw-dump lists the
// same objects as natively.
func TestPipeWire(t *testing.T) {
	rt, env := startPipeWire(t, false)
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

// TestPipeWirePlayback plays a known WAV with pw-cat under sbx ([audio] pipewire) into a
// null sink of a PipeWire daemon the test starts with WirePlumber, and records the sink's
// monitor natively with pw-record: the recording must carry the tone's energy and pitch.
// The stream's buffers and the wake-ups of its node (eventfds the daemon passes) cross the
// brokered socket.
func TestPipeWirePlayback(t *testing.T) {
	rt, env := startPipeWire(t, true)
	dir := filepath.Join(rt, "play")
	os.Mkdir(dir, 0o755)
	wav := filepath.Join(dir, "tone.wav")
	os.WriteFile(wav, tone(), 0o644)
	prof := filepath.Join(dir, "pw.toml")
	os.WriteFile(prof, []byte("description = \"pipewire only\"\n[audio]\npipewire = true\n"), 0o644)
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			recorded := filepath.Join(t.TempDir(), "rec.wav")
			rec := exec.Command("pw-record", "--target", "sbxnull", "-P", "{ stream.capture.sink=true }",
				"--rate", "44100", "--channels", "1", "--format", "s16", recorded)
			rec.Env = append(os.Environ(), env...)
			var recLog bytes.Buffer
			rec.Stdout, rec.Stderr = &recLog, &recLog
			if err := rec.Start(); err != nil {
				t.Fatal(err)
			}
			fileSize := func() int {
				fi, err := os.Stat(recorded)
				if err != nil {
					return 0
				}
				return int(fi.Size())
			}
			awaitRecorded(t, "pw-record before playing", fileSize, 44, recordedBytes(0.1)) // (44: the WAV header)
			argv := u.Wrap(append(append([]string{"env"}, env...), append([]string{sbxtest.Binary(t)},
				sbxtest.WithPlatform([]string{"run", "--profile", prof, "--ro", dir, "--",
					"pw-cat", "--playback", "--target", "sbxnull", wav})...)...))
			play := exec.Command(argv[0], argv[1:]...)
			play.WaitDelay = time.Second
			done := make(chan error, 1)
			var out []byte
			go func() {
				var err error
				out, err = play.CombinedOutput()
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				play.Process.Kill()
				<-done
				err = fmt.Errorf("still playing a one-second WAV after 30 s")
			}
			if err == nil {
				awaitRecorded(t, "pw-record after playing", fileSize, fileSize(), recordedBytes(0.3))
			}
			rec.Process.Signal(os.Interrupt)
			rec.Wait()
			if err != nil {
				t.Fatalf("pw-cat under sbx: %v\n%s", err, out)
			}
			wavData, rerr := os.ReadFile(recorded)
			i := bytes.Index(wavData, []byte("data"))
			if rerr != nil || i < 0 || len(wavData) < i+8 {
				t.Fatalf("pw-record wrote no WAV (%v)\n%s", rerr, recLog.String())
			}
			checkTone(t, wavData[i+8:], "pw-cat: "+string(out))
		})
	}
}
