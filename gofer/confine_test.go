package gofer

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestConfinedGofer inspects a running gofer from the host: seccomp filter mode, no new
// privileges, no capabilities, and a root holding only the view.
func TestConfinedGofer(t *testing.T) {
	dir := mkTree(t)
	file := filepath.Join(t.TempDir(), "single")
	os.WriteFile(file, []byte("one file"), 0o644)
	p, err := Start(Config{Mounts: []Mount{{HostPath: dir, SandboxPath: "/data", ReadOnly: true},
		{HostPath: file, SandboxPath: "/etc/single"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { p.Kill(); p.Wait() }()
	if err := p.Ready(); err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(p.Conn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	proc := "/proc/" + itoa(p.Pid())
	status, err := os.ReadFile(proc + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Seccomp:\t2", "NoNewPrivs:\t1", "CapEff:\t0000000000000000", "CapPrm:\t0000000000000000", "CapBnd:\t0000000000000000",
		"CapInh:\t0000000000000000", "CapAmb:\t0000000000000000"} {
		if !strings.Contains(string(status), want) {
			t.Errorf("gofer status lacks %q", want)
		}
	}
	// Capabilities are per thread: every thread of the gofer must have none.
	threads, _ := os.ReadDir(proc + "/task")
	for _, th := range threads {
		st, _ := os.ReadFile(proc + "/task/" + th.Name() + "/status")
		if !strings.Contains(string(st), "CapEff:\t0000000000000000") || !strings.Contains(string(st), "CapBnd:\t0000000000000000") {
			t.Errorf("gofer thread %s still holds capabilities", th.Name())
		}
	}
	ents, err := os.ReadDir(proc + "/root")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "m0,m1" {
		t.Errorf("gofer root holds %v, want only the two view mounts", names)
	}
	mi, _ := os.ReadFile(proc + "/mountinfo")
	lines := strings.Split(strings.TrimSpace(string(mi)), "\n")
	if len(lines) != 3 {
		t.Errorf("gofer mountinfo has %d mounts, want root + 2:\n%s", len(lines), mi)
	}
	// The view still works through the confined process.
	root, err := c.Attach(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.Handle.Walk("a"); err != nil {
		t.Errorf("walk in the confined gofer: %v", err)
	}
	one, err := c.Attach(1)
	if err != nil || one.Attr.Kind != KindRegular {
		t.Fatalf("file mount: %+v, %v", one, err)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for i > 0 {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
	}
	return string(b)
}
