package gofer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/sbx-dev/sbx/role"
	"golang.org/x/sys/unix"
)

// Role is the hidden subcommand that runs the gofer role.
const Role = "__gofer"

// Process is a running gofer.
type Process struct {
	// Conn is the kernel's end of the gofer connection.
	Conn *os.File
	// Warnings name the security features the gofer could not apply; set by Ready.
	Warnings []string
	// Steps are when the gofer reached each step of its start-up; set by Ready.
	Steps  []Step
	cmd    *exec.Cmd
	status *os.File
	// cfgW is where Configure writes the configuration; rootFileCaps is what Spawn was
	// told its RootFileCaps is.
	cfgW         *os.File
	rootFileCaps bool
}

// Pid returns the gofer's host PID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Kill stops the gofer.
func (p *Process) Kill() { p.cmd.Process.Kill() }

// Wait reaps the gofer.
func (p *Process) Wait() error { return p.cmd.Wait() }

// Start runs the gofer role (sbx re-executed from /proc/self/exe) in its own user, mount,
// network, IPC and UTS namespaces, serving cfg. It returns as soon as the process runs, so
// that the caller can start other work while the gofer confines itself; Ready waits for
// that. Requests written to Conn before then wait in the socket.
func Start(cfg Config) (*Process, error) {
	kernelEnd, goferEnd, err := NewConn()
	if err != nil {
		return nil, err
	}
	p, err := StartServing(cfg, goferEnd)
	goferEnd.Close()
	if err != nil {
		kernelEnd.Close()
		return nil, err
	}
	p.Conn = kernelEnd
	return p, nil
}

// NewConn makes a gofer connection: the kernel's end and the gofer's (for StartServing).
func NewConn() (kernelEnd, goferEnd *os.File, err error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("gofer socketpair: %w", err)
	}
	return os.NewFile(uintptr(pair[0]), "gofer"), os.NewFile(uintptr(pair[1]), "gofer-server"), nil
}

// StartServing is Start serving the gofer's end of a connection made by NewConn (the
// caller keeps and closes its copy); the Process it returns has no Conn.
func StartServing(cfg Config, goferEnd *os.File) (*Process, error) {
	p, err := Spawn(goferEnd, cfg.RootFileCaps)
	if err != nil {
		return nil, err
	}
	if err := p.Configure(cfg); err != nil {
		return nil, err
	}
	return p, nil
}

// Spawn starts the gofer role for the gofer's end of a connection made by NewConn (the
// caller keeps and closes its copy) before its configuration is known: the process
// starts (namespaces, the Go runtime) and waits for Configure. keepFileCaps must be
// what the configuration's RootFileCaps will be (the capabilities it keeps are given at
// the start). The Process has no Conn.
func Spawn(goferEnd *os.File, keepFileCaps bool) (*Process, error) {
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer cfgR.Close()
	stR, stW, err := os.Pipe()
	if err != nil {
		cfgW.Close()
		return nil, err
	}
	uid, gid := os.Getuid(), os.Getgid()
	caps := []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SETPCAP}
	if keepFileCaps {
		caps = append(caps, rootFileCaps...)
	}
	cmd, err := role.Start(role.Spec{Command: Role, Name: "sbx-gofer",
		Files:  map[int]*os.File{ConfigFD: cfgR, ConnFD: goferEnd, StatusFD: stW},
		Stderr: stderrRelay{os.Stderr}, UID: int(innerID(uint32(uid))), GID: int(innerID(uint32(gid))), Caps: caps})
	stW.Close()
	if err != nil {
		cfgW.Close()
		stR.Close()
		return nil, err
	}
	return &Process{cmd: cmd, status: stR, cfgW: cfgW, rootFileCaps: keepFileCaps}, nil
}

// Configure sends a spawned gofer its configuration; on error the gofer has been stopped.
func (p *Process) Configure(cfg Config) error {
	if cfg.RootFileCaps != p.rootFileCaps {
		p.cfgW.Close()
		p.stop()
		return errors.New("gofer: started for other capabilities than its configuration keeps")
	}
	uid, gid := os.Getuid(), os.Getgid()
	cfg.HostUID, cfg.HostGID = uint32(uid), uint32(gid)
	err := json.NewEncoder(p.cfgW).Encode(cfg)
	p.cfgW.Close()
	if err != nil {
		p.stop()
		return fmt.Errorf("gofer: %w", err)
	}
	return nil
}

// Discard stops a gofer that was never configured.
func (p *Process) Discard() {
	p.cfgW.Close()
	p.stop()
}

func (p *Process) stop() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
	p.status.Close()
}

// stderrRelay hides the *os.File of the launcher's stderr, so that the gofer writes to a pipe
// the launcher copies from (exec.Cmd does) instead of holding the user's stderr itself:
// killed at the end of a run and reaped in the background, the gofer must not keep a
// pipe the user reads (`sbx run ... 2>&1 | less`) open after sbx has exited.
type stderrRelay struct{ io.Writer }

// Ready waits until the gofer has confined itself and serves, and returns the warnings it
// reported (security features it could not apply). On error the gofer has been stopped.
func (p *Process) Ready() error {
	defer p.status.Close()
	var st status
	err := json.NewDecoder(p.status).Decode(&st)
	if err != nil {
		err = errors.New("the gofer exited before it was ready")
	} else if st.Error != "" {
		err = errors.New(st.Error)
	}
	if err != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		if p.Conn != nil {
			p.Conn.Close()
		}
		return fmt.Errorf("gofer: %w", err)
	}
	p.Warnings, p.Steps = st.Warnings, st.Steps
	return nil
}
