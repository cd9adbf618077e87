package control

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type fakeSource struct {
	info   Info
	mu     sync.Mutex
	killed syscall.Signal
	events chan Event
}

func (f *fakeSource) Info() Info { return f.info }
func (f *fakeSource) Stats() (Stats, error) {
	return Stats{Tasks: 3, MemoryBytes: 1 << 20, Syscalls: 42, TopSyscalls: []NameCount{{"read", 40}}}, nil
}
func (f *fakeSource) Tree() ([]Process, error) {
	return []Process{{PID: 1, Command: "sleep", Threads: 1, State: "running"}}, nil
}
func (f *fakeSource) Subscribe() (<-chan Event, func()) {
	return f.events, func() {}
}
func (f *fakeSource) Kill(sig syscall.Signal, grace time.Duration) error {
	f.mu.Lock()
	f.killed = sig
	f.mu.Unlock()
	return nil
}

func TestRegisterListFindKill(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	start := func(app string) (*fakeSource, *net.UnixListener) {
		id, name, l, err := Register(dir, app)
		if err != nil {
			t.Fatal(err)
		}
		src := &fakeSource{info: Info{ID: id, Name: name, App: app, Started: time.Now()}, events: make(chan Event, 4)}
		go Serve(l, src, t.Logf)
		return src, l
	}
	a, la := start("firefox")
	b, lb := start("firefox")
	defer la.Close()
	defer lb.Close()
	if a.info.Name != "firefox" || b.info.Name != "firefox-2" || a.info.ID == b.info.ID || len(a.info.ID) != 6 {
		t.Fatalf("names %q %q ids %q %q", a.info.Name, b.info.Name, a.info.ID, b.info.ID)
	}
	ents, err := List(dir)
	if err != nil || len(ents) != 2 {
		t.Fatalf("List = %v, %v", ents, err)
	}
	e, err := Find(dir, "firefox-2")
	if err != nil || e.Info.ID != b.info.ID {
		t.Fatalf("Find by name = %+v, %v", e, err)
	}
	if _, err := Find(dir, "nope"); err == nil {
		t.Fatal("Find of an unknown name succeeded")
	}
	c, err := DialSocket(e.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Do(Request{Op: OpStats})
	if err != nil || r.Stats.Tasks != 3 || r.Stats.TopSyscalls[0].Name != "read" {
		t.Fatalf("stats = %+v, %v", r, err)
	}
	if _, err := c.Do(Request{Op: "bogus"}); err == nil {
		t.Fatal("unknown op accepted")
	}
	if _, err := c.Do(Request{Op: OpKill, Signal: int(syscall.SIGINT)}); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	if b.killed != syscall.SIGINT {
		t.Errorf("kill delivered %v", b.killed)
	}
	b.mu.Unlock()
	// Events stream.
	b.events <- Event{Kind: "exec", Detail: "x"}
	close(b.events)
	ec, _ := DialSocket(e.Socket)
	defer ec.Close()
	stop := make(chan struct{})
	defer close(stop)
	evs, err := ec.Events(stop)
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-evs; ev.Kind != "exec" {
		t.Fatalf("event = %+v", ev)
	}
}

func TestStaleSocketsAreRemoved(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dead01.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket missing before List: %v", err)
	}
	// Only sockets past the bind-to-listen window count as stale.
	old := time.Now().Add(-time.Minute)
	os.Chtimes(path, old, old)
	ents, _ := List(dir)
	if len(ents) != 0 {
		t.Fatalf("List = %v", ents)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("a stale socket was not removed")
	}
}

func TestWrongVersionRefused(t *testing.T) {
	dir := t.TempDir()
	_, _, l, err := Register(dir, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go Serve(l, &fakeSource{events: make(chan Event)}, nil)
	c, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(`{"v":99,"op":"info"}` + "\n"))
	buf := make([]byte, 512)
	n, _ := c.Read(buf)
	if want := "protocol version 99 not supported"; !contains(string(buf[:n]), want) {
		t.Fatalf("reply %q lacks %q", buf[:n], want)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"TERM": syscall.SIGTERM, "sigkill": syscall.SIGKILL, "2": syscall.SIGINT} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseSignal("BOGUS"); err == nil {
		t.Error("ParseSignal(BOGUS) succeeded")
	}
}

// TestOtherUsersRefused connects as uid 65534 (through python3 under setpriv) to a socket
// made reachable on purpose: the server must close without answering, and log it.
func TestOtherUsersRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to connect as another user")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv is not installed")
	}
	py := "/usr/bin/python3" // Debian's: a user-local interpreter may not be reachable by uid 65534
	if _, err := os.Stat(py); err != nil {
		t.Skip("python3 is not installed (make test installs it)")
	}
	dir, err := os.MkdirTemp("", "sbx-control-peer-") // t.TempDir's parent is private to root
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	_, _, l, err := Register(dir, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	os.Chmod(l.Addr().String(), 0o666)
	logged := make(chan string, 1)
	go Serve(l, &fakeSource{info: Info{ID: "secret"}, events: make(chan Event)}, func(f string, a ...any) {
		select {
		case logged <- fmt.Sprintf(f, a...):
		default:
		}
	})
	// The server closes at once: sending may already fail, and the read sees EOF or a reset.
	script := `import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
try:
    s.sendall(b'{"v":1,"op":"info"}\n')
    print(repr(s.recv(4096)))
except (BrokenPipeError, ConnectionResetError):
    print("b''")`
	out, err := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", py, "-c", script, l.Addr().String()).CombinedOutput()
	if err != nil {
		t.Fatalf("client as uid 65534: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "secret") || strings.TrimSpace(string(out)) != "b''" {
		t.Errorf("another user got an answer: %s", out)
	}
	select {
	case msg := <-logged:
		if !strings.Contains(msg, "uid 65534") {
			t.Errorf("logged %q", msg)
		}
	case <-time.After(30 * time.Second):
		t.Error("the refusal was not logged")
	}
}

// countingListener accepts connections on a socket and closes them; count returns how
// many were made before it was called (it connects itself, saying so, and waits until
// that connection, queued after all earlier ones, is seen).
func countingListener(t *testing.T, path string) (count func() int) {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	seen := make(chan int)
	go func() {
		n := 0
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b := make([]byte, 1)
			if k, _ := c.Read(b); k == 1 {
				seen <- n
			} else {
				n++
			}
			c.Close()
		}
	}()
	return func() int {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte{1})
		return <-seen
	}
}

func TestRegisterReadsNamesFromSocketNames(t *testing.T) {
	dir := t.TempDir()
	// A live sandbox of another app: its name is in its socket's name, so Register need
	// not connect to it.
	other := countingListener(t, filepath.Join(dir, "0a0b0c.editor.sock"))
	id, name, l, err := Register(dir, "firefox")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if name != "firefox" {
		t.Fatalf("name = %q", name)
	}
	if got := l.Addr().String(); got != filepath.Join(dir, id+".firefox.sock") {
		t.Fatalf("socket %s, want ID.NAME.sock", got)
	}
	go Serve(l, &fakeSource{info: Info{ID: id, Name: name, App: "firefox"}, events: make(chan Event)}, t.Logf)
	// The same app again: the name is claimed by a live socket.
	_, name2, l2, err := Register(dir, "firefox")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if name2 != "firefox-2" {
		t.Fatalf("second name = %q, want firefox-2", name2)
	}
	// A live socket claiming "editor" is not taken over.
	_, name3, l3, err := Register(dir, "editor")
	if err != nil {
		t.Fatal(err)
	}
	defer l3.Close()
	if name3 != "editor-2" {
		t.Fatalf("name = %q, want editor-2 (editor is live)", name3)
	}
	if n := other(); n != 1 {
		t.Fatalf("the editor's socket was connected to %d times, want 1 (only to check the name it claims)", n)
	}
}

func TestRegisterAsksUnnamedSockets(t *testing.T) {
	dir := t.TempDir()
	// An older sbx's socket (ID.sock): Register asks it for its name.
	path := filepath.Join(dir, "0a0b0c.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go Serve(l, &fakeSource{info: Info{ID: "0a0b0c", Name: "firefox"}, events: make(chan Event)}, t.Logf)
	_, name, l2, err := Register(dir, "firefox")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if name != "firefox-2" {
		t.Fatalf("name = %q, want firefox-2", name)
	}
}

func TestRegisterReusesNamesOfDeadSandboxes(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "0a0b0c.firefox.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	// Its sandbox has ended (under Register's lock no socket is between bind and listen):
	// the name is free again.
	_, name, l2, err := Register(dir, "firefox")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if name != "firefox" {
		t.Fatalf("name = %q, want firefox (its holder is dead)", name)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatal("the dead sandbox's socket was not removed")
	}
}

func TestSocketPathFallsBackToID(t *testing.T) {
	dir := "/run/user/1000/sbx"
	if got := socketPath(dir, "0a0b0c", "firefox"); got != dir+"/0a0b0c.firefox.sock" {
		t.Errorf("socketPath = %s", got)
	}
	if got := socketPath(dir, "0a0b0c", strings.Repeat("x", 100)); got != dir+"/0a0b0c.sock" {
		t.Errorf("long name: socketPath = %s", got)
	}
	if got := socketPath(dir, "0a0b0c", "a/b"); got != dir+"/0a0b0c.sock" {
		t.Errorf("name with a slash: socketPath = %s", got)
	}
	for path, want := range map[string]string{"/d/0a0b0c.firefox.sock": "firefox", "/d/0a0b0c.my.app.sock": "my.app"} {
		if n, ok := socketName(path); !ok || n != want {
			t.Errorf("socketName(%s) = %q, %v", path, n, ok)
		}
	}
	for _, path := range []string{"/d/0a0b0c.sock", "/d/dead01x.firefox.sock", "/d/zzzzzz.firefox.sock", "/d/exec.sock"} {
		if n, ok := socketName(path); ok {
			t.Errorf("socketName(%s) = %q, want none", path, n)
		}
	}
}
