package gofer

import (
	"encoding/json"
	"errors"
	"fmt"
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
	cmd      *exec.Cmd
	status   *os.File
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
	cfg.HostUID, cfg.HostGID = uint32(uid), uint32(gid)
	caps := []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SETPCAP}
	if cfg.RootFileCaps {
		caps = append(caps, rootFileCaps...)
	}
	cmd, err := role.Start(role.Spec{Command: Role, Name: "sbx-gofer",
		Files:  map[int]*os.File{ConfigFD: cfgR, ConnFD: goferEnd, StatusFD: stW},
		Stderr: os.Stderr, UID: int(innerID(uint32(uid))), GID: int(innerID(uint32(gid))), Caps: caps})
	stW.Close()
	if err != nil {
		cfgW.Close()
		stR.Close()
		return nil, err
	}
	err = json.NewEncoder(cfgW).Encode(cfg)
	cfgW.Close()
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		stR.Close()
		return nil, fmt.Errorf("gofer: %w", err)
	}
	return &Process{cmd: cmd, status: stR}, nil
}

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
	p.Warnings = st.Warnings
	return nil
}
