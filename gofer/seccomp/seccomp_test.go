package seccomp

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

// The test binary re-executes itself to install a filter in a process of its own.
const childEnv = "SBX_SECCOMP_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// child installs a filter allowing sendto unless its flags hold MSG_FASTOPEN, and setsockopt
// unless the option is 30, then prints what each call returns.
func child() int {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		return 2
	}
	rules := []Rule{
		{Nr: unix.SYS_SENDTO, Unless: []Arg{{Index: 3, Mask: unix.MSG_FASTOPEN, Value: unix.MSG_FASTOPEN}}},
		{Nr: unix.SYS_SETSOCKOPT, Unless: []Arg{{Index: 2, Mask: ^uint32(0), Value: 30}}},
		{Nr: unix.SYS_WRITE}, {Nr: unix.SYS_EXIT_GROUP}, {Nr: unix.SYS_EXIT}, {Nr: unix.SYS_FUTEX},
		{Nr: unix.SYS_RT_SIGRETURN}, {Nr: unix.SYS_RT_SIGPROCMASK}, {Nr: unix.SYS_SIGALTSTACK},
		{Nr: unix.SYS_MMAP}, {Nr: unix.SYS_MUNMAP}, {Nr: unix.SYS_MADVISE}, {Nr: unix.SYS_NANOSLEEP},
		{Nr: unix.SYS_SCHED_YIELD}, {Nr: unix.SYS_GETTID}, {Nr: unix.SYS_TGKILL}, {Nr: unix.SYS_GETPID},
		{Nr: unix.SYS_CLOCK_GETTIME}, {Nr: unix.SYS_EPOLL_PWAIT}, {Nr: unix.SYS_CLONE}, {Nr: unix.SYS_RT_SIGACTION},
	}
	if err := Install(rules); err != nil {
		fmt.Println("install:", err)
		return 2
	}
	report := func(what string, err error) {
		if err == nil {
			err = unix.Errno(0)
		}
		fmt.Printf("%s: %v\n", what, err)
	}
	_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(pair[0]), 0, 0, 0, 0, 0)
	report("sendto", errOf(e))
	_, _, e = unix.Syscall6(unix.SYS_SENDTO, uintptr(pair[0]), 0, 0, unix.MSG_FASTOPEN|unix.MSG_DONTWAIT, 0, 0)
	report("sendto MSG_FASTOPEN", errOf(e))
	report("setsockopt SO_RCVBUF", unix.SetsockoptInt(pair[0], unix.SOL_SOCKET, unix.SO_RCVBUF, 4096))
	report("setsockopt 30", unix.SetsockoptInt(pair[0], unix.IPPROTO_TCP, 30, 1))
	_, _, e = unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
	report("getppid (not listed)", errOf(e))
	return 0
}

func errOf(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// TestArgumentConditions checks the filter's argument conditions in a real process: a
// listed call is allowed unless an argument matches a refused value, and an unlisted one
// is refused.
func TestArgumentConditions(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's runtime makes system calls the test filter refuses; run without -race")
	}
	cmd := exec.Command(os.Args[0], "-test.run=NONE")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	want := "sendto: errno 0\nsendto MSG_FASTOPEN: operation not permitted\nsetsockopt SO_RCVBUF: errno 0\n" +
		"setsockopt 30: operation not permitted\ngetppid (not listed): operation not permitted\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}
