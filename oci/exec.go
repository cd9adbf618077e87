package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sbx-dev/sbx/oci/spec"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/sbx-dev/sbx/kernel/sandbox"
	"github.com/sbx-dev/sbx/launcher"
	"golang.org/x/sys/unix"
)

// exec runs a second process in a running container. The container's monitor serves a
// socket in the state directory; an exec's host process (the caller, or with --detach a
// child of its own in the ExecRole, whose PID the engine waits for) connects to it:
//
//	exec process                               monitor                    kernel
//	   |-- ExecRequest + FDs [0 1 2] -------------->|-- launcher.Sandbox.Exec -->|
//	   |<-- execMsg{PID} or {Error, Code} ----------|                            |
//	   |-- execMsg{Signal} (relayed signals) ------>|-- control "signal" ------->|
//	   |<-- execMsg{Exited, Status} ----------------|<---------------------------|
//
// Closing the connection kills the process.

// ExecRole is the hidden subcommand of a detached exec's host process.
const ExecRole = "__oci-exec"

// execMsg is one message on an exec connection, either way.
type execMsg struct {
	PID    int32  `json:"pid,omitempty"`
	Error  string `json:"error,omitempty"`
	Code   int    `json:"code,omitempty"`
	Exited bool   `json:"exited,omitempty"`
	Status int    `json:"status,omitempty"`
	Signal int    `json:"signal,omitempty"`
	// All, with Signal as the first message of a connection: signal every process of the
	// container (kill --all) and answer with an empty message.
	All bool `json:"all,omitempty"`
	// WantStats as the first message asks for the container's use; the answer holds it.
	WantStats bool   `json:"want_stats,omitempty"`
	Stats     *Usage `json:"stats,omitempty"`
}

// Usage is what the kernel counts of a container's use.
type Usage struct {
	MemoryBytes int64 `json:"memory_bytes"`
	MemoryLimit int64 `json:"memory_limit"`
	OOMKills    int   `json:"oom_kills"`
	Tasks       int   `json:"tasks"`
	TaskLimit   int   `json:"task_limit"`
	CPUNanos    int64 `json:"cpu_ns"`
}

const execSocket = "exec.sock"

// listenExecs makes the container's exec socket; serveExecs answers on it once the
// sandbox runs (connections made before wait).
func listenExecs(dir string) (*net.UnixListener, error) {
	addr, done, err := sockAddr(dir)
	if err != nil {
		return nil, err
	}
	defer done()
	os.Remove(filepath.Join(dir, execSocket))
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: addr, Net: "unixpacket"})
	if err != nil {
		return nil, err
	}
	l.SetUnlinkOnClose(false)
	os.Chmod(filepath.Join(dir, execSocket), 0o600)
	return l, nil
}

// sockAddr names dir's exec socket by a path short enough for a socket address (engines'
// state directories can be longer than the 107 bytes sockaddr_un holds): through an O_PATH
// descriptor of the directory.
func sockAddr(dir string) (string, func(), error) {
	path := filepath.Join(dir, execSocket)
	if len(path) < 100 {
		return path, func() {}, nil
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s", fd, execSocket), func() { unix.Close(fd) }, nil
}

func serveExecs(l *net.UnixListener, sb *launcher.Sandbox) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return
		}
		go serveExec(c, sb)
	}
}

func serveExec(c *net.UnixConn, sb *launcher.Sandbox) {
	defer c.Close()
	buf := make([]byte, 1<<20)
	oob := make([]byte, unix.CmsgSpace(3*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return
	}
	var fds []int
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			if f, err := unix.ParseUnixRights(&m); err == nil {
				fds = append(fds, f...)
			}
		}
	}
	files := make([]*os.File, len(fds))
	for i, fd := range fds {
		files[i] = os.NewFile(uintptr(fd), "stdio")
		defer files[i].Close()
	}
	send := func(m execMsg) {
		b, _ := json.Marshal(m)
		c.Write(b)
	}
	var all execMsg
	if len(files) == 0 && json.Unmarshal(buf[:n], &all) == nil && all.WantStats {
		rep, err := sb.Query(sandbox.ControlRequest{Op: "stats"})
		if err != nil {
			send(execMsg{Error: err.Error(), Code: 125})
			return
		}
		send(execMsg{Stats: &Usage{MemoryBytes: rep.MemoryBytes, MemoryLimit: rep.MemoryLimit, OOMKills: len(rep.OOMKills),
			Tasks: rep.Tasks, TaskLimit: sb.Plan.MaxTasks, CPUNanos: rep.CPUNanos}})
		return
	}
	if len(files) == 0 && json.Unmarshal(buf[:n], &all) == nil && all.All && all.Signal > 0 {
		if err := sb.SignalPID(-1, syscall.Signal(all.Signal)); err != nil {
			send(execMsg{Error: err.Error(), Code: 125})
			return
		}
		send(execMsg{})
		return
	}
	var req sandbox.ExecRequest
	if len(files) != 3 || json.Unmarshal(buf[:n], &req) != nil || len(req.Argv) == 0 {
		send(execMsg{Error: "bad exec request", Code: 125})
		return
	}
	pid, wait, stop, err := sb.Exec(req, files[0], files[1], files[2])
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		code := 125
		var ee *launcher.ExecError
		if errors.As(err, &ee) {
			code = ee.Code
		}
		send(execMsg{Error: err.Error(), Code: code})
		return
	}
	send(execMsg{PID: pid})
	go func() {
		// Signals from the exec's host process; its end closing kills the process.
		b := make([]byte, 4096)
		for {
			n, err := c.Read(b)
			if err != nil || n == 0 {
				stop()
				return
			}
			var m execMsg
			if json.Unmarshal(b[:n], &m) == nil && m.Signal > 0 {
				sb.SignalPID(pid, syscall.Signal(m.Signal))
			}
		}
	}()
	status, err := wait()
	if err != nil {
		send(execMsg{Error: err.Error(), Code: 125})
		return
	}
	send(execMsg{Exited: true, Status: status})
}

// ExecOptions are exec's flags.
type ExecOptions struct {
	// spec.Process replaces the container's process fields it sets (from --process, or args,
	// env, cwd and user flags).
	Process       *spec.Process
	Detach        bool
	PidFile       string
	ConsoleSocket string
}

// Exec runs a process in a running container. Attached, it returns the process's exit
// status; detached, 0 once the process runs (its host process is the PID in PidFile).
func (r *Runtime) Exec(id string, o ExecOptions) (int, error) {
	dir, rec, err := r.load(id)
	if err != nil {
		return 125, err
	}
	if rec.Status != spec.StatusRunning {
		return 125, fmt.Errorf("cannot exec in a %s container", rec.Status)
	}
	req := sandbox.ExecRequest{Argv: o.Process.Args, Env: o.Process.Env, Cwd: o.Process.Cwd, UID: o.Process.User.UID, GID: o.Process.User.GID}
	if len(req.Argv) == 0 {
		return 125, errors.New("exec: no command given")
	}
	if req.Cwd == "" {
		req.Cwd = "/"
	}
	stdin, stdout, stderr := os.Stdin, os.Stdout, os.Stderr
	if o.Process.Terminal {
		if o.ConsoleSocket == "" {
			return 125, errors.New("cannot allocate tty if runc will detach without setting console socket")
		}
		master, slave, err := openPty(o.Process.ConsoleSize)
		if err != nil {
			return 125, err
		}
		defer master.Close()
		defer slave.Close()
		if err := sendConsole(o.ConsoleSocket, master); err != nil {
			return 125, err
		}
		stdin, stdout, stderr = slave, slave, slave
	}
	cfg := execConfig{Socket: filepath.Join(dir, execSocket), Request: req}
	if !o.Detach {
		if o.PidFile != "" {
			writeAtomic(o.PidFile, []byte(strconv.Itoa(os.Getpid())))
		}
		return runExecClient(cfg, stdin, stdout, stderr, nil)
	}
	// Detached: a host process of its own holds the exec and exits with its status.
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return 125, err
	}
	ready, readyW, err := os.Pipe()
	if err != nil {
		return 125, err
	}
	cmd := exec.Command("/proc/self/exe", ExecRole)
	cmd.Args[0] = "sbx-oci-exec"
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.ExtraFiles = []*os.File{cfgR, readyW}
	cmd.Env = []string{"GODEBUG=updatemaxprocs=0"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: o.Process.Terminal, Ctty: 0}
	if err := cmd.Start(); err != nil {
		return 125, err
	}
	cfgR.Close()
	readyW.Close()
	json.NewEncoder(cfgW).Encode(cfg)
	cfgW.Close()
	// The exec role reports whether the process started.
	var started execMsg
	if err := json.NewDecoder(ready).Decode(&started); err != nil {
		cmd.Wait()
		return 125, errors.New("exec: the process did not start")
	}
	ready.Close()
	if started.Error != "" {
		cmd.Wait()
		return started.Code, errors.New(started.Error)
	}
	if o.PidFile != "" {
		if err := writeAtomic(o.PidFile, []byte(strconv.Itoa(cmd.Process.Pid))); err != nil {
			cmd.Process.Kill()
			return 125, err
		}
	}
	cmd.Process.Release()
	return 0, nil
}

type execConfig struct {
	Socket  string              `json:"socket"`
	Request sandbox.ExecRequest `json:"request"`
}

// runExecClient connects to the monitor, starts the process and waits for it, relaying
// signals; ready, when set, gets the start result.
func runExecClient(cfg execConfig, stdin, stdout, stderr *os.File, ready *os.File) (int, error) {
	report := func(m execMsg) {
		if ready != nil {
			json.NewEncoder(ready).Encode(m)
			ready.Close()
			ready = nil
		}
	}
	addr, done, err := sockAddr(filepath.Dir(cfg.Socket))
	if err != nil {
		report(execMsg{Error: err.Error(), Code: 125})
		return 125, err
	}
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: addr, Net: "unixpacket"})
	done()
	if err != nil {
		err = fmt.Errorf("exec: the container does not answer: %w", err)
		report(execMsg{Error: err.Error(), Code: 125})
		return 125, err
	}
	defer c.Close()
	b, _ := json.Marshal(cfg.Request)
	if _, _, err := c.WriteMsgUnix(b, unix.UnixRights(int(stdin.Fd()), int(stdout.Fd()), int(stderr.Fd())), nil); err != nil {
		report(execMsg{Error: err.Error(), Code: 125})
		return 125, err
	}
	buf := make([]byte, 4096)
	readMsg := func() (execMsg, error) {
		n, err := c.Read(buf)
		if err != nil || n == 0 {
			return execMsg{}, errors.New("exec: the container ended")
		}
		var m execMsg
		return m, json.Unmarshal(buf[:n], &m)
	}
	first, err := readMsg()
	if err != nil {
		report(execMsg{Error: err.Error(), Code: 125})
		return 125, err
	}
	if first.Error != "" {
		report(first)
		return first.Code, errors.New(first.Error)
	}
	report(first)
	sigs := make(chan os.Signal, 8)
	var relay []os.Signal
	for s := syscall.Signal(1); s < 32; s++ {
		switch s {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGCHLD, syscall.SIGPIPE, syscall.SIGURG, syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGTSTP:
			continue
		}
		relay = append(relay, s)
	}
	signal.Notify(sigs, relay...)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			b, _ := json.Marshal(execMsg{Signal: int(s.(syscall.Signal))})
			c.Write(b)
		}
	}()
	last, err := readMsg()
	if err != nil {
		return 125, err
	}
	if last.Error != "" {
		return last.Code, errors.New(last.Error)
	}
	return last.Status, nil
}

// ExecMain is the body of a detached exec's host process.
func ExecMain() int {
	f := os.NewFile(initConfigFD, "config")
	var cfg execConfig
	err := json.NewDecoder(f).Decode(&cfg)
	f.Close()
	ready := os.NewFile(initConfigFD+1, "ready")
	if err != nil {
		json.NewEncoder(ready).Encode(execMsg{Error: "exec: reading configuration: " + err.Error(), Code: 125})
		return 125
	}
	code, err := runExecClient(cfg, os.Stdin, os.Stdout, os.Stderr, ready)
	if err != nil && !strings.HasPrefix(err.Error(), "exec:") {
		fmt.Fprintf(os.Stderr, "sbx: %v\n", err)
	}
	return code
}

// signalAll asks the container's monitor to signal every process of the container.
func signalAll(dir string, sig syscall.Signal) error {
	_, err := askMonitor(dir, execMsg{Signal: int(sig), All: true})
	return err
}

// askMonitor sends the container's monitor one request and returns its answer.
func askMonitor(dir string, req execMsg) (execMsg, error) {
	addr, done, err := sockAddr(dir)
	if err != nil {
		return execMsg{}, err
	}
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: addr, Net: "unixpacket"})
	done()
	if err != nil {
		return execMsg{}, err
	}
	defer c.Close()
	b, _ := json.Marshal(req)
	if _, err := c.Write(b); err != nil {
		return execMsg{}, err
	}
	buf := make([]byte, 1<<16)
	n, err := c.Read(buf)
	if err != nil {
		return execMsg{}, err
	}
	var m execMsg
	if err := json.Unmarshal(buf[:n], &m); err != nil {
		return execMsg{}, err
	}
	if m.Error != "" {
		return m, errors.New(m.Error)
	}
	return m, nil
}

// Stats returns a running container's use as its kernel counts it.
func (r *Runtime) Stats(id string) (*Usage, error) {
	dir, rec, err := r.load(id)
	if err != nil {
		return nil, err
	}
	if rec.Status != spec.StatusRunning {
		return nil, fmt.Errorf("container %s is not running (%s)", id, rec.Status)
	}
	m, err := askMonitor(dir, execMsg{WantStats: true})
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	if m.Stats == nil {
		return nil, fmt.Errorf("container %s: no statistics", id)
	}
	return m.Stats, nil
}
