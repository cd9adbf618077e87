package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/fs/host"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// Starting a process from outside while the sandbox runs (an OCI runtime's exec):
//
//	launcher                                    kernel (ExecFD, SOCK_SEQPACKET)
//	   | ExecRequest + FDs [stdin stdout stderr reply] -->|
//	   |                                                  | starts the process
//	   |<-- on reply: ExecReply{PID} (or Error, Code) ----|
//	   |<-- on reply: ExecReply{Exited, Status} ----------| when it exits; reply closed
//	   |-- reply closed by the launcher -->               | the process is killed
//
// The reply socket is the process's lifeline: the launcher holds its other end while it
// waits, and closing it (the exec's caller died) kills the process.

// ExecRequest describes the process to start.
type ExecRequest struct {
	// Path, when set, is the program to run (else Argv[0], looked up in PATH).
	Path string   `json:"path,omitempty"`
	Argv []string `json:"argv"`
	Env  []string `json:"env"`
	Cwd  string   `json:"cwd"`
	UID  uint32   `json:"uid"`
	GID  uint32   `json:"gid"`
}

// ExecReply is one message on an exec's reply socket.
type ExecReply struct {
	PID    int32  `json:"pid,omitempty"`
	Error  string `json:"error,omitempty"`
	Code   int    `json:"code,omitempty"` // 126, 127 with Error
	Exited bool   `json:"exited,omitempty"`
	Status int    `json:"status,omitempty"` // shell style: 128+N when killed by signal N
}

// maxExecRequest bounds one request (argv and environment).
const maxExecRequest = 1 << 20

// serveExec starts the processes the launcher asks for, until the channel closes.
func serveExec(k *kernel.Kernel, ns *vfs.Namespace) {
	var st unix.Stat_t
	if unix.Fstat(ExecFD, &st) != nil {
		return
	}
	buf := make([]byte, maxExecRequest)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(ExecFD, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
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
		if len(fds) != 4 {
			for _, fd := range fds {
				unix.Close(fd)
			}
			continue // malformed: no reply socket to answer on
		}
		var req ExecRequest
		reply := fds[3]
		if err := json.Unmarshal(buf[:n], &req); err != nil || len(req.Argv) == 0 {
			sendExecReply(reply, ExecReply{Error: "bad exec request", Code: ExitFailure})
			for _, fd := range fds {
				unix.Close(fd)
			}
			continue
		}
		go runExec(k, ns, req, fds[:3], reply)
	}
}

func sendExecReply(fd int, r ExecReply) {
	b, _ := json.Marshal(r)
	unix.Write(fd, b)
}

// runExec starts one process and reports its end.
func runExec(k *kernel.Kernel, ns *vfs.Namespace, req ExecRequest, stdio []int, reply int) {
	defer unix.Close(reply)
	root := ns.Root()
	cwd := root
	if req.Cwd != "" {
		vd, err := ns.Resolve(req.Cwd, vfs.ResolveOpts{Root: root, Start: root, Follow: true})
		if err != nil {
			for _, fd := range stdio {
				unix.Close(fd)
			}
			sendExecReply(reply, ExecReply{Error: fmt.Sprintf("working directory %s: %v", req.Cwd, errnoText(asErrno(err))), Code: ExitCannotExec})
			return
		}
		cwd = vd
	}
	t, err := k.NewTopGroup(root, cwd)
	if err != nil {
		for _, fd := range stdio {
			unix.Close(fd)
		}
		sendExecReply(reply, ExecReply{Error: err.Error(), Code: ExitFailure})
		return
	}
	t.SetCreds(vfs.Creds{UID: req.UID, EUID: req.UID, SUID: req.UID, FSUID: req.UID, GID: req.GID, EGID: req.GID, SGID: req.GID, FSGID: req.GID})
	for i, hfd := range stdio {
		flags, err := unix.FcntlInt(uintptr(hfd), unix.F_GETFL, 0)
		if err != nil {
			unix.Close(hfd)
			continue
		}
		var st unix.Stat_t
		unix.Fstat(hfd, &st)
		fd := vfs.NewAnonFileDescription(host.NewSharedOwned(hfd), hostName(i, st), flags&(unix.O_ACCMODE|unix.O_APPEND))
		t.FDs().InstallAt(int32(i), fd, false)
		fd.DecRef()
	}
	path, err := req.Path, error(nil)
	if path == "" {
		path, err = lookPath(t, req.Argv[0], req.Env)
	}
	if err == nil {
		err = t.Execve(kernel.AtFDCWD, path, req.Argv, req.Env, true)
	}
	if err != nil {
		code := ExitCannotExec
		if errors.Is(err, unix.ENOENT) {
			code = ExitNotFound
		}
		// Killed before it ran, it leaves at once and is gone with its descriptors.
		t.Kill()
		t.Run()
		sendExecReply(reply, ExecReply{Error: fmt.Sprintf("cannot run %s: %v", req.Argv[0], errnoText(asErrno(err))), Code: code})
		return
	}
	tg := t.Group()
	sendExecReply(reply, ExecReply{PID: tg.PID})
	t.Run()
	// The caller closing its end kills the process.
	gone := make(chan struct{})
	go func() {
		var b [1]byte
		for {
			_, err := unix.Read(reply, b[:])
			if err != unix.EINTR {
				break
			}
		}
		close(gone)
	}()
	select {
	case <-tg.Exited():
	case <-gone:
		k.SignalGroup(tg, unix.SIGKILL)
		<-tg.Exited()
	}
	status := tg.ExitStatus()
	code := status >> 8 & 0xff
	if status&0x7f != 0 {
		code = 128 + status&0x7f
	}
	sendExecReply(reply, ExecReply{Exited: true, Status: code})
}

func asErrno(err error) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	if strings.Contains(err.Error(), "no such file") {
		return unix.ENOENT
	}
	return unix.EIO
}
