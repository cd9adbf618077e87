package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
	"golang.org/x/sys/unix"
)

// TestHostSocketPassed: a socket a host peer passes to the app over a brokered socket is a
// socket inside (recv, and sendmsg with files, as on the brokered one). hostsock.c natively
// and under sbx, as each test user; the outputs must match.
func TestHostSocketPassed(t *testing.T) {
	dir, exe := sbxtest.BuildC(t, "testdata/hostsock.c")
	sock, ln := hostPeerSocket(t, "sbx-hostsock-")
	go func() {
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			pair, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			unix.Write(pair[0], []byte("hello"))
			c.WriteMsgUnix([]byte{'S'}, unix.UnixRights(pair[1]), nil)
			unix.Close(pair[1])
			b, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
			if _, oobn, _, _, err := unix.Recvmsg(pair[0], b, oob, 0); err == nil {
				if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(msgs) == 1 {
					if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil && len(fds) == 1 {
						unix.Write(fds[0], []byte("via-passed-socket"))
						unix.Close(fds[0])
					}
				}
			}
			unix.Close(pair[0])
			c.Close()
		}
	}()
	prof := filepath.Join(dir, "wl.toml")
	os.WriteFile(prof, []byte("description = \"wayland only\"\n[display]\nwayland = true\n"), 0o644)
	native := sbxtest.Run(t, sbxtest.Users()[0], "", "", "env", "WAYLAND_DISPLAY="+sock, exe)
	if native.Code != 0 || !strings.Contains(native.Stdout, "pipe: via-passed-socket") {
		t.Fatalf("natively: exit %d\n%s%s", native.Code, native.Stdout, native.Stderr)
	}
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			argv := append([]string{"env", "WAYLAND_DISPLAY=wayland-sbxtest", "XDG_RUNTIME_DIR=" + filepath.Dir(sock), sbxtest.Binary(t)},
				sbxtest.WithPlatform([]string{"run", "--profile", prof, "--ro", dir, "--", exe})...)
			r := sbxtest.Run(t, u, "", "", argv...)
			if r.Code != 0 || r.Stdout != native.Stdout {
				t.Fatalf("under sbx: exit %d\n%s%s\nnatively:\n%s", r.Code, r.Stdout, r.Stderr, native.Stdout)
			}
		})
	}
}

// TestHostRefusesKernelObjects: a file with no host form (an eventfd) cannot go to a host
// peer: sendmsg fails with EOPNOTSUPP, also when a passable pipe end rides along, and
// nothing reaches the peer; the next plain message arrives first. (Natively the host
// kernel would carry the eventfd: this is the sandbox's documented limit, so there is no
// native run to compare with.)
func TestHostRefusesKernelObjects(t *testing.T) {
	dir, exe := sbxtest.BuildC(t, "testdata/hostrefuse.c")
	sock, ln := hostPeerSocket(t, "sbx-hostrefuse-")
	go func() {
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			b, oob := make([]byte, 8), make([]byte, unix.CmsgSpace(8))
			n, oobn, _, _, err := c.ReadMsgUnix(b, oob)
			switch {
			case err != nil:
				c.Write([]byte("error"))
			case string(b[:n]) != "D" || oobn != 0:
				c.Write([]byte("got " + string(b[:n]) + " with files"))
			default:
				c.Write([]byte("only D"))
			}
			c.Close()
		}
	}()
	prof := filepath.Join(dir, "wl.toml")
	os.WriteFile(prof, []byte("description = \"wayland only\"\n[display]\nwayland = true\n"), 0o644)
	want := "eventfd: EOPNOTSUPP\npipe and eventfd: EOPNOTSUPP\nplain: 1\npeer says: only D\n"
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			argv := append([]string{"env", "WAYLAND_DISPLAY=wayland-sbxtest", "XDG_RUNTIME_DIR=" + filepath.Dir(sock), sbxtest.Binary(t)},
				sbxtest.WithPlatform([]string{"run", "--profile", prof, "--ro", dir, "--", exe})...)
			r := sbxtest.Run(t, u, "", "", argv...)
			if r.Code != 0 || r.Stdout != want {
				t.Fatalf("under sbx: exit %d\n%s%s\nwant:\n%s", r.Code, r.Stdout, r.Stderr, want)
			}
		})
	}
}
