package oci

import (
	"fmt"
	"github.com/sbx-dev/sbx/oci/spec"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// openPty opens a pseudo-terminal pair (the container's terminal).
func openPty(size *spec.Box) (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening a terminal: %w", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlocking the terminal: %w", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	if size != nil && size.Width > 0 {
		unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)})
	}
	return m, s, nil
}

// sendConsole hands the terminal's master end to the engine over its console socket, as
// runc does (SCM_RIGHTS, with the terminal's name as the message).
func sendConsole(path string, master *os.File) error {
	c, err := net.Dial("unix", path)
	if err != nil {
		return fmt.Errorf("console socket %s: %w", path, err)
	}
	defer c.Close()
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("console socket %s is not a unix socket", path)
	}
	_, _, err = uc.WriteMsgUnix([]byte(master.Name()), unix.UnixRights(int(master.Fd())), nil)
	if err != nil {
		return fmt.Errorf("console socket %s: %w", path, err)
	}
	return nil
}
