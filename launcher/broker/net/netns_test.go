package net

import (
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/sbx-dev/sbx/kernel/net/netproto"
	"golang.org/x/sys/unix"
)

// TestEnterNamespace: a broker given a network namespace makes every host socket there
// (TCP sockets and datagram relays), whichever thread serves the request; one without
// makes them in its own.
func TestEnterNamespace(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("making a network namespace needs root")
	}
	// The namespace of this thread (every thread's but the one made to leave it below;
	// /proc/self is the main thread's, which that one may be).
	var own unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &own); err != nil {
		t.Fatal(err)
	}
	// A namespace of the test's own, held by a thread that stays in it until the end.
	path := make(chan string)
	release := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			path <- "unshare: " + err.Error()
			return
		}
		path <- fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		<-release
	}()
	ns := <-path
	defer close(release)
	var want unix.Stat_t
	if err := unix.Stat(ns, &want); err != nil {
		t.Fatalf("the test's namespace: %s (%v)", ns, err)
	}
	// netnsOf is the inode of the network namespace a socket belongs to (SIOCGSKNS).
	netnsOf := func(fd int) uint64 {
		t.Helper()
		nsfd, err := unix.IoctlRetInt(fd, unix.SIOCGSKNS)
		if err != nil {
			t.Fatalf("SIOCGSKNS: %v", err)
		}
		defer unix.Close(nsfd)
		var st unix.Stat_t
		unix.Fstat(nsfd, &st)
		return st.Ino
	}
	for _, tt := range []struct {
		name string
		ns   string
		want uint64
	}{{"its own", "", own.Ino}, {"entered", ns, want.Ino}} {
		b := New(Policy{Mode: ModeFull}, nil)
		if tt.ns != "" {
			if err := b.EnterNamespace(tt.ns); err != nil {
				t.Fatal(err)
			}
		}
		rep, fds := b.Handle(netproto.Request{Op: netproto.OpSocket, Proto: netproto.ProtoTCP, Family: unix.AF_INET, Arg: 2}, -1, -1)
		if rep.Errno != 0 || len(fds) != 2 {
			t.Fatalf("%s: OpSocket: errno %d, %d sockets", tt.name, rep.Errno, len(fds))
		}
		for _, fd := range fds {
			if got := netnsOf(fd); got != tt.want {
				t.Errorf("%s: TCP socket in namespace %d, want %d", tt.name, got, tt.want)
			}
			unix.Close(fd)
		}
		rep, fds = b.Handle(netproto.Request{Op: netproto.OpSocket, Proto: netproto.ProtoUDP, Family: unix.AF_INET}, -1, -1)
		if rep.Errno != 0 || len(fds) != 1 {
			t.Fatalf("%s: UDP OpSocket: errno %d, %d FDs", tt.name, rep.Errno, len(fds))
		}
		unix.Close(fds[0])
		b.mu.Lock()
		for _, r := range b.relays {
			if got := netnsOf(r.hostFD); got != tt.want {
				t.Errorf("%s: datagram relay's socket in namespace %d, want %d", tt.name, got, tt.want)
			}
		}
		b.mu.Unlock()
		if tt.ns != "" {
			b.ns.stop()
		}
	}
	if err := New(Policy{}, nil).EnterNamespace("/nonexistent/netns"); err == nil {
		t.Error("EnterNamespace of a missing path succeeded")
	}
}
