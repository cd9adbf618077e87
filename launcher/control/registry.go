package control

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Dir returns the directory holding control sockets, creating it 0700: $XDG_RUNTIME_DIR/sbx,
// else /run/user/UID/sbx when that directory is ours, else /tmp/sbx-UID. A directory that
// exists with another owner or wider permissions is refused.
func Dir() (string, error) {
	uid := os.Getuid()
	base := os.Getenv("XDG_RUNTIME_DIR")
	if base == "" || !filepath.IsAbs(base) {
		base = ""
		runUser := "/run/user/" + strconv.Itoa(uid)
		if st, err := os.Stat(runUser); err == nil && ownedBy(st, uid) {
			base = runUser
		}
	}
	dir := filepath.Join(base, "sbx")
	if base == "" {
		dir = filepath.Join(os.TempDir(), "sbx-"+strconv.Itoa(uid))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("control directory %s: %w", dir, err)
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	if !st.IsDir() || !ownedBy(st, uid) || st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("control directory %s is not a private directory of yours (fix: chmod 700 it, or remove it)", dir)
	}
	return dir, nil
}

func ownedBy(st os.FileInfo, uid int) bool {
	s, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(s.Uid) == uid
}

// Entry is a live sandbox found in the directory.
type Entry struct {
	Socket string
	Info   Info
}

// List returns the live sandboxes, removing sockets of dead ones.
func List(dir string) ([]Entry, error) {
	socks, err := filepath.Glob(filepath.Join(dir, "*.sock"))
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, s := range socks {
		if info := ask(s); info != nil {
			out = append(out, Entry{Socket: s, Info: *info})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Info.Started.Before(out[j].Info.Started) })
	return out, nil
}

// staleAge is how old a refusing socket must be before List removes it.
const staleAge = 5 * time.Second

// ErrNoSandbox is returned for an ID or name that matches no running sandbox.
var ErrNoSandbox = errors.New("no running sandbox")

// Find resolves an ID or a name to a live sandbox.
func Find(dir, idOrName string) (Entry, error) {
	ents, err := List(dir)
	if err != nil {
		return Entry{}, err
	}
	for _, e := range ents {
		if e.Info.ID == idOrName || e.Info.Name == idOrName {
			return e, nil
		}
	}
	return Entry{}, fmt.Errorf("%w with ID or name %q", ErrNoSandbox, idOrName)
}

// Register picks a short unique ID and a name (app, app-2, ...) and listens on the socket.
//
// The socket is named ID.NAME.sock, so that the names in use come from the directory
// alone: asking every live sandbox for its name was a round trip to each (and a wake-up
// of each launcher) on every start. A socket named ID.sock (an older sbx, or a name that
// does not fit a socket path) is still asked; a file claiming a name that is wanted is
// checked to be live before the name counts as taken.
func Register(dir, app string) (id, name string, l *net.UnixListener, err error) {
	// Names are chosen under a lock so two sandboxes starting together do not both take "app".
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", "", nil, fmt.Errorf("control directory lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", "", nil, fmt.Errorf("control directory lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	claims, err := nameClaims(dir)
	if err != nil {
		return "", "", nil, fmt.Errorf("control directory: %w", err)
	}
	name = app
	for i := 2; claims.taken(name); i++ {
		name = fmt.Sprintf("%s-%d", app, i)
	}
	for range 10 {
		b := make([]byte, 3)
		rand.Read(b)
		id = hex.EncodeToString(b)
		path := socketPath(dir, id, name)
		l, err = net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err == nil {
			l.SetUnlinkOnClose(true)
			os.Chmod(path, 0o600)
			return id, name, l, nil
		}
	}
	return "", "", nil, fmt.Errorf("control socket: %w", err)
}

// maxSocketPath is the longest path a Unix socket address holds (sun_path, 108 bytes with
// its terminating NUL).
const maxSocketPath = 107

// socketPath is where the sandbox id named name listens: ID.NAME.sock, or ID.sock when the
// name cannot be part of a file name or makes the path too long.
func socketPath(dir, id, name string) string {
	if name != "" && !strings.ContainsAny(name, "/\x00") {
		if p := filepath.Join(dir, id+"."+name+".sock"); len(p) <= maxSocketPath {
			return p
		}
	}
	return filepath.Join(dir, id+".sock")
}

// socketName returns the name a socket's file name carries (ID.NAME.sock).
func socketName(path string) (string, bool) {
	base := strings.TrimSuffix(filepath.Base(path), ".sock")
	id, name, ok := strings.Cut(base, ".")
	if !ok || name == "" || len(id) != 6 {
		return "", false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", false
	}
	return name, true
}

// claims maps a name to the sockets that claim it; "" stands for a sandbox known to be live.
type claims map[string][]string

// nameClaims reads the names in use from the sockets in dir, asking the sandboxes whose
// socket names carry none.
func nameClaims(dir string) (claims, error) {
	socks, err := filepath.Glob(filepath.Join(dir, "*.sock"))
	if err != nil {
		return nil, err
	}
	c := claims{}
	for _, s := range socks {
		if n, ok := socketName(s); ok {
			c[n] = append(c[n], s)
			continue
		}
		if info := ask(s); info != nil {
			c[info.Name] = append(c[info.Name], "")
		}
	}
	return c, nil
}

// taken reports whether a live sandbox holds name; sockets of dead ones are removed on the
// way, as List does.
func (c claims) taken(name string) bool {
	for _, s := range c[name] {
		if s == "" || live(s) {
			return true
		}
	}
	return false
}

// live reports whether a sandbox listens on the socket, removing it if none does. Called
// under the directory's lock, which every Register holds from bind to listen: a socket
// that refuses connections is one whose sandbox has ended.
func live(path string) bool {
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		os.Remove(path)
		return false
	}
	// Gone meanwhile: free. Anything else (a full backlog: busy, not dead): taken.
	return !errors.Is(err, syscall.ENOENT)
}

// ask returns the Info of the sandbox listening on the socket, nil if none answers;
// a stale socket is removed.
func ask(path string) *Info {
	c, err := DialSocket(path)
	if err != nil {
		// A sandbox that died without cleaning up. A socket between bind and listen also
		// refuses connections, so only sockets older than that window are removed.
		if st, serr := os.Stat(path); errors.Is(err, syscall.ECONNREFUSED) && serr == nil && time.Since(st.ModTime()) > staleAge {
			os.Remove(path)
		}
		return nil
	}
	r, err := c.Do(Request{Op: OpInfo})
	c.Close()
	if err != nil || r.Info == nil {
		return nil
	}
	return r.Info
}

// Client is one connection to a sandbox.
type Client struct {
	conn *net.UnixConn
	r    *bufio.Reader
}

// DialSocket connects to a control socket.
func DialSocket(path string) (*Client, error) {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil, err
	}
	return &Client{conn: c.(*net.UnixConn), r: bufio.NewReader(c)}, nil
}

// Do sends one request and reads one response.
func (c *Client) Do(req Request) (*Response, error) {
	req.V = Version
	c.conn.SetDeadline(time.Now().Add(5 * time.Second))
	b, _ := json.Marshal(req)
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	return c.next()
}

func (c *Client) next() (*Response, error) {
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	var r Response
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, fmt.Errorf("bad reply: %w", err)
	}
	if r.Error != "" {
		return &r, errors.New(r.Error)
	}
	return &r, nil
}

// Events streams events until the connection closes or stop is closed.
func (c *Client) Events(stop <-chan struct{}) (<-chan Event, error) {
	b, _ := json.Marshal(Request{V: Version, Op: OpEvents})
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	ch := make(chan Event)
	go func() {
		defer close(ch)
		go func() { <-stop; c.conn.Close() }()
		for {
			c.conn.SetReadDeadline(time.Time{})
			r, err := c.next()
			if err != nil || r.Event == nil {
				return
			}
			select {
			case ch <- *r.Event:
			case <-stop:
				return
			}
		}
	}()
	return ch, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// ParseSignal accepts "TERM", "SIGTERM" or "15".
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	names := map[string]syscall.Signal{"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
		"KILL": syscall.SIGKILL, "TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
		"STOP": syscall.SIGSTOP, "CONT": syscall.SIGCONT}
	if sig, ok := names[strings.TrimPrefix(strings.ToUpper(s), "SIG")]; ok {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q (use a name like TERM or a number)", s)
}
