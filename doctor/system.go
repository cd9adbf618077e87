package doctor

import (
	"io/fs"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// System is the real host.
type System struct{}

func (System) ReadFile(path string) ([]byte, error)  { return os.ReadFile(path) }
func (System) Stat(path string) (fs.FileInfo, error) { return os.Stat(path) }
func (System) Getenv(key string) string              { return os.Getenv(key) }
func (System) Getuid() int                           { return os.Getuid() }

func (System) Owner(fi fs.FileInfo) (int, int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}

// Userns starts a short-lived child (true(1)) in a new user namespace with the other
// namespaces sbx run gives its kernel (mount, PID, network, IPC, UTS), mapping the caller's
// uid and gid. Creating them is part of clone(2), so Start fails with the kernel's reason when
// it is not allowed; the namespaces besides the user one need capabilities inside it, which
// AppArmor's userns restriction takes away, so the probe catches that too.
func (System) Userns() error {
	prog := "/bin/true"
	if _, err := os.Stat(prog); err != nil {
		prog = "/usr/bin/true"
	}
	cmd := exec.Command(prog)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWNET |
			syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	return cmd.Run()
}

func (System) LandlockABI() (int, error) {
	v, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 {
		return 0, e
	}
	return int(v), nil
}

func (System) OpenKVM() error {
	fd, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	const kvmGetAPIVersion = 0xAE00 // _IO(KVMIO, 0x00)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), kvmGetAPIVersion, 0); e != 0 {
		return e
	}
	return nil
}
