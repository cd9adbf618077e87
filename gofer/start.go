package gofer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

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
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("gofer socketpair: %w", err)
	}
	kernelEnd := os.NewFile(uintptr(pair[0]), "gofer")
	goferEnd := os.NewFile(uintptr(pair[1]), "gofer-server")
	defer goferEnd.Close()
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		kernelEnd.Close()
		return nil, err
	}
	defer cfgR.Close()
	stR, stW, err := os.Pipe()
	if err != nil {
		kernelEnd.Close()
		cfgW.Close()
		return nil, err
	}
	cmd := exec.Command("/proc/self/exe", Role)
	cmd.Args[0] = "sbx-gofer"
	cmd.ExtraFiles = []*os.File{cfgR, goferEnd, stW} // FDs 3, 4, 5
	// The Go runtime would otherwise keep cgroup files open to track CPU quota changes.
	cmd.Env = []string{"GODEBUG=updatemaxprocs=0"}
	cmd.Stderr = os.Stderr
	uid, gid := os.Getuid(), os.Getgid()
	cfg.HostUID, cfg.HostGID = uint32(uid), uint32(gid)
	ambient := []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SETPCAP}
	if cfg.RootFileCaps {
		ambient = append(ambient, rootFileCaps...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC |
			syscall.CLONE_NEWUTS | syscall.CLONE_NEWPID,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: int(innerID(uint32(uid))), HostID: uid, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: int(innerID(uint32(gid))), HostID: gid, Size: 1}},
		AmbientCaps: ambient,
		Setsid:      true,
		Pdeathsig:   syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		kernelEnd.Close()
		cfgW.Close()
		stR.Close()
		stW.Close()
		return nil, fmt.Errorf("starting the gofer: %w (are unprivileged user namespaces enabled?)", err)
	}
	stW.Close()
	err = json.NewEncoder(cfgW).Encode(cfg)
	cfgW.Close()
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		kernelEnd.Close()
		stR.Close()
		return nil, fmt.Errorf("gofer: %w", err)
	}
	return &Process{Conn: kernelEnd, cmd: cmd, status: stR}, nil
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
		p.Conn.Close()
		return fmt.Errorf("gofer: %w", err)
	}
	p.Warnings = st.Warnings
	return nil
}
