package netproto

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRequestRoundTrip(t *testing.T) {
	for _, r := range []Request{
		{Op: OpConnect, Proto: ProtoTCP, Family: unix.AF_INET, Addr: netip.MustParseAddrPort("192.0.2.1:80"), CPU: 0},
		{Op: OpBind, Proto: ProtoUDP, Family: unix.AF_INET6, Arg: 7, Addr: netip.MustParseAddrPort("[fe80::1%eth0]:53"), CPU: 3},
		{Op: OpSocket, Proto: ProtoTCP, Family: unix.AF_INET6, Arg: MaxBatch, CPU: -1},
	} {
		got, ok := DecodeRequest(r.Encode())
		if !ok || got != r {
			t.Errorf("DecodeRequest(Encode(%+v)) = %+v, %v", r, got, ok)
		}
	}
}

// TestRights passes FDs through a real socketpair with PutRights and reads them back with
// GetRights, which closes those beyond its room.
func TestRights(t *testing.T) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	var fds []int
	for range 3 {
		p := make([]int, 2)
		if err := unix.Pipe2(p, unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		defer unix.Close(p[0])
		defer unix.Close(p[1])
		fds = append(fds, p[1])
	}
	var oob [64]byte
	n := PutRights(oob[:], fds)
	if want := unix.CmsgSpace(4 * len(fds)); n != want {
		t.Fatalf("PutRights = %d bytes; want CMSG_SPACE %d", n, want)
	}
	if err := unix.Sendmsg(pair[0], []byte{1}, oob[:n], nil, 0); err != nil {
		t.Fatal(err)
	}
	var buf [1]byte
	var in [64]byte
	_, oobn, _, _, err := unix.Recvmsg(pair[1], buf[:], in[:], unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]int, 2)
	if k := GetRights(in[:oobn], got); k != 2 {
		t.Fatalf("GetRights = %d FDs; want 2 (room for two)", k)
	}
	for i, f := range got {
		var a, b unix.Stat_t
		unix.Fstat(f, &a)
		unix.Fstat(fds[i], &b)
		if a.Ino != b.Ino {
			t.Errorf("FD %d is inode %d; want %d", i, a.Ino, b.Ino)
		}
		unix.Close(f)
	}
}
