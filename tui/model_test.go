package tui

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/sbx-dev/sbx/launcher/control"
)

var update = flag.Bool("update", false, "rewrite golden files")

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

type fakeFetcher struct{ killed []string }

func (f *fakeFetcher) Fetch(string) ([]Sandbox, error) { return sample(), nil }
func (f *fakeFetcher) Kill(id string) error            { f.killed = append(f.killed, id); return nil }

func sample() []Sandbox {
	return []Sandbox{
		{Info: control.Info{ID: "a1b2c3", Name: "firefox", Profile: "firefox", Platform: "ptrace", KernelPID: 100,
			Argv: []string{"firefox"}, Started: t0.Add(-90 * time.Minute), Warnings: []string{"network withheld"}},
			Stats: control.Stats{Tasks: 42, MemoryBytes: 800 << 20, CPUNanos: int64(3 * time.Minute), SyscallsPerSec: 1200,
				TopSyscalls: []control.NameCount{{Name: "read", Count: 900}, {Name: "futex", Count: 450}}, Denials: map[string]uint64{"file": 2}},
			Tree: []control.Process{{PID: 1, Command: "firefox", Threads: 40, State: "running", HostFiles: []string{"3: /usr/lib/firefox/omni.ja"}}},
			Connections: []control.Connection{
				{Proto: "tcp", State: "established", Local: "192.0.2.2:41000", Remote: "198.51.100.7:443", Names: []string{"www.mozilla.org"}, BytesIn: 1 << 20, BytesOut: 2048},
				{Proto: "tcp", State: "listen", Local: "127.0.0.1:8080", Private: true}}},
		{Info: control.Info{ID: "d4e5f6", Name: "sleep", Profile: "default", Platform: "ptrace", KernelPID: 200,
			Argv: []string{"/bin/sleep", "30"}, Started: t0.Add(-5 * time.Second)},
			Stats: control.Stats{Tasks: 1, MemoryBytes: 2 << 20, SyscallsPerSec: 3}},
	}
}

func feed(m Model, msgs ...tea.Msg) Model {
	for _, msg := range msgs {
		next, _ := m.Update(msg)
		m = next.(Model)
	}
	return m
}

func keys(s string) tea.KeyPressMsg { return tea.KeyPressMsg{Code: []rune(s)[0], Text: s} }

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		os.WriteFile(p, []byte(got), 0o644)
	}
	want, _ := os.ReadFile(p)
	if got != string(want) {
		t.Errorf("%s differs from %s (go test ./tui -update to accept):\n%s", name, p, got)
	}
}

func newTest() Model {
	m := New(&fakeFetcher{}, true)
	m.now = func() time.Time { return t0 }
	return feed(m, tea.WindowSizeMsg{Width: 80, Height: 24}, dataMsg{sandboxes: sample()})
}

func TestViews(t *testing.T) {
	m := newTest()
	golden(t, "list", m.Render())
	golden(t, "sorted-mem", feed(m, keys("m")).Render())
	golden(t, "detail", feed(m, tea.KeyPressMsg{Code: tea.KeyEnter}).Render())
	golden(t, "help", feed(m, keys("?")).Render())
	golden(t, "filtered", feed(m, keys("/"), keys("sle"), tea.KeyPressMsg{Code: tea.KeyEnter}).Render())
	golden(t, "confirm", feed(m, tea.KeyPressMsg{Code: tea.KeyDown}, keys("k")).Render())
	small := feed(m, tea.WindowSizeMsg{Width: 40, Height: 10})
	for i, l := range strings.Split(small.Render(), "\n") {
		if len([]rune(l)) > 40 {
			t.Errorf("line %d is wider than the terminal: %q", i, l)
		}
	}
	if n := strings.Count(small.Render(), "\n") + 1; n != 10 {
		t.Errorf("view has %d lines on a 10-line terminal", n)
	}
}

func TestKillNeedsConfirmation(t *testing.T) {
	f := &fakeFetcher{}
	m := New(f, true)
	m = feed(m, dataMsg{sandboxes: sample()}, keys("k"), keys("n"))
	if len(f.killed) != 0 || m.state != stateList {
		t.Fatalf("killed without confirmation: %v", f.killed)
	}
	m = feed(m, keys("k"))
	_, cmd := m.Update(keys("y"))
	if cmd == nil {
		t.Fatal("no kill command after y")
	}
	cmd()
	if len(f.killed) != 1 || f.killed[0] != "a1b2c3" {
		t.Fatalf("killed %v", f.killed)
	}
}

func TestRowFormatting(t *testing.T) {
	tests := []struct {
		b    int64
		want string
	}{{512, "512B"}, {2048, "2K"}, {5 << 20, "5.0M"}, {3 << 30, "3.0G"}}
	for _, tt := range tests {
		if got := FormatBytes(tt.b); got != tt.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tt.b, got, tt.want)
		}
	}
	for d, want := range map[time.Duration]string{1500 * time.Millisecond: "1.5s", 90 * time.Second: "1m30s",
		2*time.Hour + 5*time.Minute: "2h05m", 50 * time.Hour: "2d02h"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
