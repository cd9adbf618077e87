package host

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReceivedAnonNames checks that the anonymous files a host peer passes show in
// /proc/PID/fd under Linux's names, and that telling them apart changes nothing: an
// eventfd keeps its count, a timerfd its setting.
func TestReceivedAnonNames(t *testing.T) {
	must := func(what string, fd int, err error) int {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return fd
	}
	efd, err := unix.Eventfd(5, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	must("eventfd", efd, err)
	tfd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC)
	must("timerfd", tfd, err)
	if err := unix.TimerfdSettime(tfd, 0, &unix.ItimerSpec{Value: unix.Timespec{Sec: 1000}}, nil); err != nil {
		t.Fatal(err)
	}
	var mask unix.Sigset_t
	sfd, err := unix.Signalfd(-1, &mask, unix.SFD_CLOEXEC)
	must("signalfd", sfd, err)
	pfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	must("epoll", pfd, err)
	ifd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	must("inotify", ifd, err)
	p := make([]int, 2)
	if err := unix.Pipe2(p, unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	for _, c := range []struct {
		fd   int
		want string
	}{
		{efd, "anon_inode:[eventfd]"}, {tfd, "anon_inode:[timerfd]"}, {sfd, "anon_inode:[signalfd]"},
		{pfd, "anon_inode:[eventpoll]"}, {ifd, "anon_inode:inotify"}, {p[0], "pipe:["},
	} {
		f := Received(c.fd, nil)
		if got := f.Name(); !strings.HasPrefix(got, c.want) {
			t.Errorf("Received(%s).Name() = %q; want %q", c.want, got, c.want)
		}
		switch c.fd {
		case efd:
			var b [8]byte
			if n, err := unix.Read(efd, b[:]); err != nil || n != 8 || b[0] != 5 {
				t.Errorf("eventfd after the probes: read %d, %v, %v; want its count 5", n, err, b)
			}
		case tfd:
			var cur unix.ItimerSpec
			if err := unix.TimerfdGettime(tfd, &cur); err != nil || cur.Value.Sec < 990 {
				t.Errorf("timerfd after the probes: %+v, %v; want about 1000 s left", cur, err)
			}
		}
		f.DecRef()
	}
}
