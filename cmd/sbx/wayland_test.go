package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
	"golang.org/x/sys/unix"
)

// hostPeer is the host side of hostfds.c: it serves one connection at a time on ln and
// reports what went wrong (nothing: "") on done.
func hostPeer(ln *net.UnixListener, done chan<- string) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		done <- servePeer(c)
		c.Close()
	}
}

func servePeer(c *net.UnixConn) string {
	send := func(tag byte, fds ...int) error {
		_, _, err := c.WriteMsgUnix([]byte{tag}, unix.UnixRights(fds...), nil)
		return err
	}
	recv := func(want byte) (int, error) {
		b, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4*4))
		n, oobn, _, _, err := c.ReadMsgUnix(b, oob)
		if err != nil || n != 1 || b[0] != want {
			return -1, fmt.Errorf("want message %c, got %q (%v)", want, b[:n], err)
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if len(msgs) != 1 {
			return -1, fmt.Errorf("message %c came with %d control messages, want 1", want, len(msgs))
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			return -1, fmt.Errorf("message %c came with files %v (%v), want one", want, fds, err)
		}
		return fds[0], nil
	}
	// A file for a message with no room for it.
	var extra [2]int
	unix.Pipe2(extra[:], unix.O_CLOEXEC)
	defer unix.Close(extra[0])
	defer unix.Close(extra[1])
	if err := send('X', extra[0]); err != nil {
		return err.Error()
	}
	memfd, err := unix.MemfdCreate("keymap", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return err.Error()
	}
	defer unix.Close(memfd)
	unix.Write(memfd, []byte("keymap-data"))
	unix.FcntlInt(uintptr(memfd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE)
	var p [2]int
	unix.Pipe2(p[:], unix.O_CLOEXEC)
	unix.Write(p[1], []byte("pipe-data"))
	unix.Close(p[1])
	err = send('K', memfd, p[0])
	unix.Close(p[0])
	if err != nil {
		return err.Error()
	}
	w, err := recv('W')
	if err != nil {
		return err.Error()
	}
	unix.Write(w, []byte("clip"))
	unix.Close(w)
	r, err := recv('R')
	if err != nil {
		return err.Error()
	}
	got, _ := io.ReadAll(os.NewFile(uintptr(r), "r"))
	if string(got) != "from-app" {
		return fmt.Sprintf("read %q from the app's pipe, want from-app", got)
	}
	own, err := recv('S')
	if err != nil {
		return err.Error()
	}
	pix := make([]byte, 15)
	unix.Pread(own, pix, 0)
	seals, _ := unix.FcntlInt(uintptr(own), unix.F_GET_SEALS, 0)
	if string(pix) != "pixels-from-app" || seals&unix.F_SEAL_SHRINK == 0 {
		unix.Close(own)
		return fmt.Sprintf("the app's memfd holds %q with seals %#x, want pixels-from-app and F_SEAL_SHRINK", pix, seals)
	}
	unix.Pwrite(own, []byte("peer-was-here\x00"), 100)
	unix.Close(own)
	if _, err := c.Write([]byte("A")); err != nil {
		return err.Error()
	}
	shm, err := recv('H')
	if err != nil {
		return err.Error()
	}
	buf := make([]byte, 12)
	unix.Pread(shm, buf, 0)
	unix.Pwrite(shm, []byte("peer-in-shm\x00"), 100)
	unix.Close(shm)
	if string(buf) != "shm-from-app" {
		return fmt.Sprintf("the app's /dev/shm file holds %q, want shm-from-app", buf)
	}
	if _, err := c.Write([]byte("B")); err != nil {
		return err.Error()
	}
	if msg := poolPeer(c, send); msg != "" {
		return msg
	}
	if msg := eventfdPeer(c, send); msg != "" {
		return msg
	}
	if msg := twicePeer(c, send); msg != "" {
		return msg
	}
	m, err := recv('M')
	if err != nil {
		return err.Error()
	}
	defer unix.Close(m)
	var a, b unix.Stat_t
	unix.Fstat(memfd, &a)
	unix.Fstat(m, &b)
	if a.Ino != b.Ino || a.Dev != b.Dev {
		return "the memfd sent back is another file"
	}
	c.Write([]byte("all good"))
	return ""
}

// twicePeer sends one memfd twice in a message, waits for the app to use and unmap it,
// then seals it against writing and tells the app how that went: O for done, else the
// first letter of the error (B: EBUSY, a writable shared mapping still there).
func twicePeer(c *net.UnixConn, send func(byte, ...int) error) string {
	f, err := unix.MemfdCreate("twice", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return err.Error()
	}
	defer unix.Close(f)
	unix.Ftruncate(f, 4096)
	if err := send('F', f, f); err != nil {
		return err.Error()
	}
	b := make([]byte, 1)
	if n, err := c.Read(b); n != 1 || b[0] != 'F' {
		return fmt.Sprintf("want the app's F after it unmapped the file, got %q (%v)", b[:n], err)
	}
	answer := []byte("O")
	if _, err := unix.FcntlInt(uintptr(f), unix.F_ADD_SEALS, unix.F_SEAL_WRITE); err == unix.EBUSY {
		answer[0] = 'B'
	} else if err != nil {
		answer[0] = 'E'
	}
	c.Write(answer)
	return ""
}

// eventfdPeer sends a non-blocking eventfd holding 5 (a sound server's wake-ups), waits for
// the app to take the 5 and add 7, takes the 7, says so and adds 3, which the app waits for.
func eventfdPeer(c *net.UnixConn, send func(byte, ...int) error) string {
	efd, err := unix.Eventfd(5, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return err.Error()
	}
	defer unix.Close(efd)
	if err := send('E', efd); err != nil {
		return err.Error()
	}
	b := make([]byte, 8)
	if n, err := c.Read(b[:1]); n != 1 || b[0] != 'E' {
		return fmt.Sprintf("want the app's E after its write to the eventfd, got %q (%v)", b[:n], err)
	}
	if n, err := unix.Read(efd, b); n != 8 || binary.LittleEndian.Uint64(b) != 7 {
		return fmt.Sprintf("the eventfd read %d bytes (%v), counter %d, want the app's 7", n, err, binary.LittleEndian.Uint64(b))
	}
	if _, err := c.Write([]byte("T")); err != nil {
		return err.Error()
	}
	time.Sleep(50 * time.Millisecond) // (so that the app waits in poll; it gets the 3 either way)
	binary.LittleEndian.PutUint64(b, 3)
	if _, err := unix.Write(efd, b); err != nil {
		return err.Error()
	}
	return ""
}

// poolPeer sends a memfd pool as a sound server does (read-write, the same file read-only,
// and a memfd sealed with F_SEAL_FUTURE_WRITE), waits for the app to store into its shared
// mapping, checks the stores and answers with one of its own, which the app must see.
func poolPeer(c *net.UnixConn, send func(byte, ...int) error) string {
	pool, err := unix.MemfdCreate("pool", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return err.Error()
	}
	defer unix.Close(pool)
	unix.Ftruncate(pool, 4096)
	unix.Pwrite(pool, []byte("pool-from-peer\x00"), 0)
	ro, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", pool), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err.Error()
	}
	defer unix.Close(ro)
	sealed, err := unix.MemfdCreate("sealed", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return err.Error()
	}
	defer unix.Close(sealed)
	unix.Ftruncate(sealed, 4096)
	unix.Pwrite(sealed, []byte("sealed-pool\x00"), 0)
	if _, err := unix.FcntlInt(uintptr(sealed), unix.F_ADD_SEALS, unix.F_SEAL_FUTURE_WRITE); err != nil {
		return "F_SEAL_FUTURE_WRITE: " + err.Error()
	}
	if err := send('P', pool, ro, sealed); err != nil {
		return err.Error()
	}
	b := make([]byte, 1)
	if n, err := c.Read(b); n != 1 || b[0] != 'P' {
		return fmt.Sprintf("want the app's P after its stores, got %q (%v)", b[:n], err)
	}
	app, read := make([]byte, 11), make([]byte, 14)
	unix.Pread(pool, app, 100)
	unix.Pread(pool, read, 300)
	if string(app) != "app-in-pool" || string(read) != "pool-from-peer" {
		return fmt.Sprintf("the pool holds %q at 100 and %q at 300, want app-in-pool and pool-from-peer", app, read)
	}
	unix.Pwrite(pool, []byte("peer-in-pool\x00"), 200)
	if _, err := c.Write([]byte("C")); err != nil {
		return err.Error()
	}
	return ""
}

// TestHostFDPassing passes files both ways over a brokered socket (the Wayland display's,
// as a compositor would: memfds, clipboard pipes): hostfds.c natively and under sbx, as
// each test user, against the same host peer; the outputs must match and the peer must be
// satisfied both times.
func TestHostFDPassing(t *testing.T) {
	dir, exe := sbxtest.BuildC(t, "testdata/hostfds.c")
	sock, ln := hostPeerSocket(t, "sbx-wl-")
	done := make(chan string, 1)
	go hostPeer(ln, done)
	prof := filepath.Join(dir, "wl.toml")
	os.WriteFile(prof, []byte("description = \"wayland only\"\n[display]\nwayland = true\n"), 0o644)
	native := sbxtest.Run(t, sbxtest.Users()[0], "", "", "env", "WAYLAND_DISPLAY="+sock, exe)
	if native.Code != 0 {
		t.Fatalf("natively: exit %d\n%s%s", native.Code, native.Stdout, native.Stderr)
	}
	if msg := <-done; msg != "" {
		t.Fatalf("the host peer, natively: %s", msg)
	}
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			argv := append([]string{"env", "WAYLAND_DISPLAY=wayland-sbxtest", "XDG_RUNTIME_DIR=" + filepath.Dir(sock), sbxtest.Binary(t)},
				sbxtest.WithPlatform([]string{"run", "--profile", prof, "--ro", dir, "--", exe})...)
			r := sbxtest.Run(t, u, "", "", argv...)
			peer := ""
			if strings.Contains(r.Stdout, "tag K") { // the peer got this far: it has an answer
				peer = <-done
			}
			if r.Code != 0 || r.Stdout != native.Stdout {
				t.Fatalf("under sbx: exit %d\n%s%s\nnatively:\n%s", r.Code, r.Stdout, r.Stderr, native.Stdout)
			}
			if peer != "" {
				t.Fatalf("the host peer, under sbx: %s", peer)
			}
		})
	}
}

// hostPeerSocket listens on a socket named like a Wayland display, in a fresh directory every
// test user reaches, for a Go host peer the app reaches through the socket broker. Both go
// when the test ends.
func hostPeerSocket(t *testing.T, prefix string) (string, *net.UnixListener) {
	t.Helper()
	rt, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(rt) })
	os.Chmod(rt, 0o1777)
	sock := filepath.Join(rt, "wayland-sbxtest")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	os.Chmod(sock, 0o777)
	return sock, ln
}

// TestHostFileCountsTowardMemory passes an empty memfd from a host peer to a process under
// a 128 MiB memory limit that grows it to 512 MiB: memory a received file holds is the
// sandbox's while the sandbox holds the file, so the process is killed.
func TestHostFileCountsTowardMemory(t *testing.T) {
	dir, exe := sbxtest.BuildC(t, "testdata/hostgrow.c")
	sock, ln := hostPeerSocket(t, "sbx-grow-")
	go func() {
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				f, err := unix.MemfdCreate("pool", unix.MFD_CLOEXEC)
				if err != nil {
					return
				}
				defer unix.Close(f)
				c.WriteMsgUnix([]byte{'G'}, unix.UnixRights(f), nil)
				io.Copy(io.Discard, c) // hold the file until the app goes
			}()
		}
	}()
	prof := filepath.Join(dir, "grow.toml")
	os.WriteFile(prof, []byte("description = \"wayland, 128 MiB\"\n[display]\nwayland = true\n[resources]\nmemory = \"128MiB\"\n"), 0o644)
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			argv := append([]string{"env", "WAYLAND_DISPLAY=wayland-sbxtest", "XDG_RUNTIME_DIR=" + filepath.Dir(sock), sbxtest.Binary(t)},
				sbxtest.WithPlatform([]string{"run", "--profile", prof, "--ro", dir, "--", exe})...)
			r := sbxtest.Run(t, u, "", "", argv...)
			if r.Code != 0 || r.Stdout != "hog: signal 9\n" || !strings.Contains(r.Stderr, "sbx: out of memory: killed process") {
				t.Fatalf("under sbx: exit %d, want the hog killed for the memory of the file it grew\n%s%s", r.Code, r.Stdout, r.Stderr)
			}
		})
	}
}
