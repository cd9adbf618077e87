package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// awaitRecorded waits until a recorder of a null sink's monitor has written at least n
// bytes more than from (size says how much it has written): the sink runs whether or not
// anything plays, so its monitor's silence arrives in real time. Before playing, that shows
// the recorder is connected; after, that what was played has all come through. A sleep of
// a fixed length cannot know either on a loaded machine.
func awaitRecorded(t *testing.T, what string, size func() int, from, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); size() < from+n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the recorder wrote %d bytes, want %d within 30 s", what, size()-from, n)
		}
	}
}

// recordedBytes is the size of n seconds of the recordings: mono, 16-bit, 44.1 kHz.
func recordedBytes(n float64) int { return int(n * 44100 * 2) }

// tone returns a WAV of one second of a 440 Hz sine, mono, 16-bit, 44.1 kHz.
func tone() []byte {
	const rate, n = 44100, 44100
	var pcm bytes.Buffer
	for i := 0; i < n; i++ {
		binary.Write(&pcm, binary.LittleEndian, int16(12000*math.Sin(2*math.Pi*440*float64(i)/rate)))
	}
	var w bytes.Buffer
	le := binary.LittleEndian
	w.WriteString("RIFF")
	binary.Write(&w, le, uint32(36+pcm.Len()))
	w.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(rate), uint32(rate * 2), uint16(2), uint16(16)} {
		binary.Write(&w, le, v)
	}
	w.WriteString("data")
	binary.Write(&w, le, uint32(pcm.Len()))
	w.Write(pcm.Bytes())
	return w.Bytes()
}

// TestPulseAudioPlayback plays a known WAV with paplay under sbx (profile audio) into a
// PulseAudio daemon the test starts with a null sink, and records the sink's monitor
// natively: the recording must carry the tone's energy and pitch.
func TestPulseAudioPlayback(t *testing.T) {
	for _, tool := range []string{"pulseaudio", "paplay", "parec"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make test installs it)", tool)
		}
	}
	bin := sbxtest.Binary(t)
	dir, err := os.MkdirTemp("", "sbx-pulse-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	sock, cookie, wav := filepath.Join(dir, "native"), filepath.Join(dir, "cookie"), filepath.Join(dir, "tone.wav")
	script := "load-module module-null-sink sink_name=sbxnull\n" +
		"load-module module-native-protocol-unix socket=" + sock + " auth-cookie=" + cookie + "\n" +
		"set-default-sink sbxnull\n"
	os.WriteFile(filepath.Join(dir, "default.pa"), []byte(script), 0o644)
	c := make([]byte, 256)
	for i := range c {
		c[i] = byte(i * 7)
	}
	os.WriteFile(cookie, c, 0o644)
	os.WriteFile(wav, tone(), 0o644)
	env := append(os.Environ(), "HOME="+dir, "XDG_RUNTIME_DIR="+dir, "PULSE_SERVER=unix:"+sock, "PULSE_COOKIE="+cookie)
	daemon := exec.Command("pulseaudio", "-n", "-F", filepath.Join(dir, "default.pa"), "--daemonize=no",
		"--exit-idle-time=-1", "--use-pid-file=no")
	daemon.Env = env
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { daemon.Process.Kill(); daemon.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("pulseaudio did not start")
		}
	}
	os.Chmod(sock, 0o777)
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			rec := exec.Command("parec", "--device=sbxnull.monitor", "--format=s16le", "--channels=1", "--rate=44100",
				"--raw", "--latency-msec=50")
			rec.Env = env
			pcm := new(lockedBuffer)
			rec.Stdout = pcm
			if err := rec.Start(); err != nil {
				t.Fatal(err)
			}
			awaitRecorded(t, "parec before playing", pcm.Len, 0, recordedBytes(0.1))
			argv := u.Wrap([]string{"env", "PULSE_SERVER=unix:" + sock, "PULSE_COOKIE=" + cookie, bin, "run", "--profile", "audio", "--ro", dir, "--", "paplay", "-v", wav})
			play := exec.Command(argv[0], argv[1:]...)
			out, err := play.CombinedOutput()
			if err == nil {
				awaitRecorded(t, "parec after playing", pcm.Len, pcm.Len(), recordedBytes(0.3))
			}
			rec.Process.Signal(os.Interrupt)
			rec.Wait()
			if err != nil {
				t.Fatalf("paplay under sbx: %v\n%s", err, out)
			}
			checkTone(t, []byte(pcm.String()), "paplay: "+string(out))
		})
	}
}

// checkTone fails t unless pcm (mono, 16-bit little-endian, 44.1 kHz) holds the one-second
// 440 Hz tone of tone(): enough 50 ms windows near its energy, at its pitch. what says what
// played it, for the message.
func checkTone(t *testing.T, pcm []byte, what string) {
	t.Helper()
	samples := make([]int16, len(pcm)/2)
	binary.Read(bytes.NewReader(pcm[:2*len(samples)]), binary.LittleEndian, samples)
	// The loud part: 50 ms windows whose RMS is near the tone's (12000/√2 ≈ 8485).
	const win = 2205
	loud, crossings := 0, 0
	for i := 0; i+win <= len(samples); i += win {
		var sum float64
		for _, s := range samples[i : i+win] {
			sum += float64(s) * float64(s)
		}
		if rms := math.Sqrt(sum / win); rms > 6000 && rms < 11000 {
			loud++
			for j := i + 1; j < i+win; j++ {
				if (samples[j-1] < 0) != (samples[j] < 0) {
					crossings++
				}
			}
		}
	}
	if loud < 15 { // at least 0.75 s of the 1 s tone
		peak := 0
		for _, s := range samples {
			peak = max(peak, int(s))
		}
		t.Fatalf("the sink's monitor heard %d loud 50 ms windows in %d samples (peak %d), want the tone's ~20 (%s)", loud, len(samples), peak, what)
	}
	if hz := float64(crossings) / 2 / (float64(loud*win) / 44100); hz < 420 || hz > 460 {
		t.Errorf("the recorded tone is %.0f Hz, want 440", hz)
	}
}
