package gofer

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// NeutralizeRuntimeFDs points the cgroup files the Go runtime keeps open (to follow CPU
// quota changes) at /dev/null, so a confined helper holds no host file it did not choose.
// The helpers run with GODEBUG=updatemaxprocs=0, so the runtime never reads them again.
// Call it before the process gives up /dev and /proc.
func NeutralizeRuntimeFDs() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	null, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(null)
	for _, e := range ents {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || !strings.HasPrefix(target, "/sys/fs/cgroup/") {
			continue
		}
		if fd, err := strconv.Atoi(e.Name()); err == nil {
			unix.Dup3(null, fd, unix.O_CLOEXEC)
		}
	}
}
