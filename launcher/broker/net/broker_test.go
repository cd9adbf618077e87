package net

import (
	gonet "net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/kernel/net/netproto"
	"golang.org/x/sys/unix"
)

// start serves a broker for pol on a fresh channel and returns the kernel's client end and
// the denials it reported.
func start(t *testing.T, pol Policy) (*netproto.Client, func() []Denial) {
	t.Helper()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var denials []Denial
	b := New(pol, func(d Denial) { mu.Lock(); denials = append(denials, d); mu.Unlock() })
	go b.Serve(pair[0])
	t.Cleanup(func() { unix.Close(pair[1]) })
	return netproto.NewClient(pair[1]), func() []Denial { mu.Lock(); defer mu.Unlock(); return append([]Denial(nil), denials...) }
}

func rule(s string, ports ...PortRange) Rule {
	return Rule{Prefix: netip.MustParsePrefix(s), Ports: ports, Text: s}
}

func tcpSocket(t *testing.T, c *netproto.Client, family uint16) int {
	t.Helper()
	rep, fd, err := c.Do(netproto.Request{Op: netproto.OpSocket, Proto: netproto.ProtoTCP, Family: family})
	if err != nil || rep.Errno != 0 || fd < 0 {
		t.Fatalf("OpSocket: %v errno %d fd %d", err, rep.Errno, fd)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func listenLoopback(t *testing.T) (gonet.Listener, netip.AddrPort) {
	t.Helper()
	l, err := gonet.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, netip.MustParseAddrPort(l.Addr().String())
}

// TestEscapeNetBrokerRefusesForbiddenRequests drives the broker's kernel-side interface as a
// compromised kernel would: every request outside the policy is refused, and nothing reaches
// the forbidden address.
func TestEscapeNetBrokerRefusesForbiddenRequests(t *testing.T) {
	l, allowed := listenLoopback(t)
	_, forbidden := listenLoopback(t)
	pol := Policy{Mode: ModeFiltered, Allow: []Rule{rule("192.0.2.0/24", PortRange{80, 80})}, Deny: []Rule{rule("192.0.2.66/32")},
		Host: []Rule{rule(allowed.Addr().String()+"/32", PortRange{allowed.Port(), allowed.Port()})}}
	c, denials := start(t, pol)
	accepted := make(chan struct{}, 4)
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conn.Close()
			accepted <- struct{}{}
		}
	}()
	connect := func(dst netip.AddrPort, fds ...int) uint32 {
		rep, _, err := c.Do(netproto.Request{Op: netproto.OpConnect, Proto: netproto.ProtoTCP, Family: unix.AF_INET, Addr: dst}, fds...)
		if err != nil {
			t.Fatal(err)
		}
		return rep.Errno
	}
	// The allowed host service connects.
	if e := connect(allowed, tcpSocket(t, c, unix.AF_INET)); e != 0 && e != uint32(unix.EINPROGRESS) {
		t.Fatalf("connect to the allowed %v: errno %d", allowed, e)
	}
	select {
	case <-accepted:
	case <-time.After(30 * time.Second):
		t.Fatal("the allowed connection never arrived")
	}
	cases := []struct {
		name string
		dst  netip.AddrPort
		want unix.Errno
	}{
		{"host loopback not named", forbidden, unix.ECONNREFUSED},
		{"port not allowed", netip.MustParseAddrPort("192.0.2.1:81"), unix.EACCES},
		{"denied address", netip.MustParseAddrPort("192.0.2.66:80"), unix.EACCES},
		{"outside every rule", netip.MustParseAddrPort("198.51.100.1:80"), unix.EACCES},
		{"IPv4-mapped loopback", netip.MustParseAddrPort("[::ffff:127.0.0.1]:" + itoa(forbidden.Port())), unix.ECONNREFUSED},
		{"unspecified", netip.MustParseAddrPort("0.0.0.0:80"), unix.EACCES},
	}
	for _, tc := range cases {
		fam := uint16(unix.AF_INET)
		if tc.dst.Addr().Is6() {
			fam = unix.AF_INET6
		}
		fd := tcpSocket(t, c, fam)
		rep, _, err := c.Do(netproto.Request{Op: netproto.OpConnect, Proto: netproto.ProtoTCP, Family: fam, Addr: tc.dst}, fd)
		if err != nil || unix.Errno(rep.Errno) != tc.want {
			t.Errorf("%s: connect %v = errno %v, %v; want %v", tc.name, tc.dst, unix.Errno(rep.Errno), err, tc.want)
		}
	}
	// A socket the broker did not make (an AF_UNIX one) is not touched.
	sp, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	defer unix.Close(sp[0])
	defer unix.Close(sp[1])
	if e := connect(allowed, sp[0]); unix.Errno(e) != unix.ENOTSOCK {
		t.Errorf("connect on an AF_UNIX socket: errno %v, want ENOTSOCK", unix.Errno(e))
	}
	// Loopback "proof" that is not a listener of the sandbox's does not open the host's loopback.
	if e := connect(forbidden, tcpSocket(t, c, unix.AF_INET), sp[1]); unix.Errno(e) != unix.ECONNREFUSED {
		t.Errorf("connect with a fake proof: errno %v, want ECONNREFUSED", unix.Errno(e))
	}
	// Binding a fixed port and listening need a listen rule.
	rep, _, _ := c.Do(netproto.Request{Op: netproto.OpBind, Proto: netproto.ProtoTCP, Family: unix.AF_INET, Addr: netip.MustParseAddrPort("0.0.0.0:8080")}, tcpSocket(t, c, unix.AF_INET))
	if unix.Errno(rep.Errno) != unix.EACCES {
		t.Errorf("bind 0.0.0.0:8080 without a listen rule: errno %v", unix.Errno(rep.Errno))
	}
	fd := tcpSocket(t, c, unix.AF_INET)
	rep, _, _ = c.Do(netproto.Request{Op: netproto.OpBind, Proto: netproto.ProtoTCP, Family: unix.AF_INET, Addr: netip.MustParseAddrPort("127.0.0.1:0")}, fd)
	if rep.Errno != 0 {
		t.Fatalf("bind to an ephemeral port: errno %v", unix.Errno(rep.Errno))
	}
	rep, _, _ = c.Do(netproto.Request{Op: netproto.OpListen, Proto: netproto.ProtoTCP, Family: unix.AF_INET, Arg: 5}, fd)
	if unix.Errno(rep.Errno) != unix.EACCES {
		t.Errorf("listen without a listen rule: errno %v", unix.Errno(rep.Errno))
	}
	// Unknown families and ops are refused.
	if rep, _, _ := c.Do(netproto.Request{Op: netproto.OpSocket, Proto: netproto.ProtoTCP, Family: unix.AF_UNIX}); unix.Errno(rep.Errno) != unix.EAFNOSUPPORT {
		t.Errorf("OpSocket AF_UNIX: errno %v", unix.Errno(rep.Errno))
	}
	if rep, _, _ := c.Do(netproto.Request{Op: 99, Family: unix.AF_INET}); unix.Errno(rep.Errno) != unix.EINVAL {
		t.Errorf("op 99: errno %v", unix.Errno(rep.Errno))
	}
	if len(denials()) < len(cases) {
		t.Errorf("denials = %v, want one per refused connect", denials())
	}
}

func itoa(p uint16) string {
	return netip.AddrPortFrom(netip.IPv4Unspecified(), p).String()[len("0.0.0.0:"):]
}

// TestEscapeNetRelayDropsForbiddenDatagrams writes relay frames directly, as a compromised
// kernel could: a datagram to an address the policy forbids never leaves.
func TestEscapeNetRelayDropsForbiddenDatagrams(t *testing.T) {
	recv := func() (*gonet.UDPConn, netip.AddrPort) {
		c, err := gonet.ListenUDP("udp4", &gonet.UDPAddr{IP: gonet.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, netip.MustParseAddrPort(c.LocalAddr().String())
	}
	okConn, okAddr := recv()
	badConn, badAddr := recv()
	c, denials := start(t, Policy{Mode: ModeNone, Host: []Rule{rule("127.0.0.1/32", PortRange{okAddr.Port(), okAddr.Port()})}})
	rep, relay, err := c.Do(netproto.Request{Op: netproto.OpSocket, Proto: netproto.ProtoUDP, Family: unix.AF_INET})
	if err != nil || rep.Errno != 0 {
		t.Fatalf("OpSocket UDP: %v %d", err, rep.Errno)
	}
	defer unix.Close(relay)
	send := func(dst netip.AddrPort, msg string) {
		b := make([]byte, netproto.FrameSize+len(msg))
		netproto.PutFrame(b, netproto.Frame{Addr: dst})
		copy(b[netproto.FrameSize:], msg)
		if _, err := unix.Write(relay, b); err != nil {
			t.Fatal(err)
		}
	}
	send(badAddr, "forbidden")
	send(okAddr, "allowed")
	buf := make([]byte, 64)
	okConn.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, from, err := okConn.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "allowed" {
		t.Fatalf("allowed datagram: %q %v", buf[:n], err)
	}
	badConn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _, err := badConn.ReadFromUDPAddrPort(buf); err == nil {
		t.Errorf("the forbidden address received %q", buf[:n])
	}
	// A reply comes back through the relay with its source.
	okConn.WriteToUDPAddrPort([]byte("reply"), from)
	got := make([]byte, 256)
	unix.SetsockoptTimeval(relay, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5})
	n, err = unix.Read(relay, got)
	if err != nil || n < netproto.FrameSize {
		t.Fatalf("reading the relay: %d %v", n, err)
	}
	f, _ := netproto.GetFrame(got)
	if string(got[netproto.FrameSize:n]) != "reply" || f.Addr != okAddr {
		t.Errorf("relayed reply %q from %v, want \"reply\" from %v", got[netproto.FrameSize:n], f.Addr, okAddr)
	}
	// Connecting the relay to a forbidden address is refused too.
	rep, _, _ = c.Do(netproto.Request{Op: netproto.OpConnect, Proto: netproto.ProtoUDP, Family: unix.AF_INET, Addr: badAddr}, relay)
	if unix.Errno(rep.Errno) != unix.EACCES {
		t.Errorf("connecting the relay to a forbidden address: errno %v", unix.Errno(rep.Errno))
	}
	if len(denials()) == 0 {
		t.Error("no denial reported")
	}
}

func TestPolicy(t *testing.T) {
	pol := Policy{Mode: ModeFiltered, Allow: []Rule{rule("0.0.0.0/0", PortRange{80, 80}, PortRange{443, 443}), rule("::/0", PortRange{443, 443})},
		Deny:   []Rule{rule("10.0.0.0/8")},
		Listen: []Rule{rule("0.0.0.0/32", PortRange{8080, 8080})}}
	full := Policy{Mode: ModeFull, Deny: []Rule{rule("192.0.2.0/24")}}
	for _, tc := range []struct {
		pol  *Policy
		dst  string
		want bool
	}{
		{&pol, "198.51.100.1:443", true},
		{&pol, "198.51.100.1:22", false},
		{&pol, "10.1.2.3:443", false},
		{&pol, "[2001:db8::1]:443", true},
		{&pol, "[::ffff:10.0.0.1]:443", false},
		{&pol, "127.0.0.1:80", false},
		{&full, "198.51.100.1:22", true},
		{&full, "192.0.2.1:22", false},
		{&full, "169.254.169.254:80", false},
		{&full, "[::1]:80", false},
		{&Policy{Mode: ModeNone}, "198.51.100.1:443", false},
	} {
		if got := tc.pol.CheckConnect(netip.MustParseAddrPort(tc.dst)); got.Allowed != tc.want {
			t.Errorf("%s CheckConnect(%s) = %v (%s), want %v", tc.pol.Mode, tc.dst, got.Allowed, got.Why, tc.want)
		}
	}
	for _, tc := range []struct {
		local     string
		listening bool
		want      bool
	}{
		{"0.0.0.0:8080", true, true},
		{"192.0.2.5:8080", true, true},
		{"0.0.0.0:8081", true, false},
		{"0.0.0.0:0", false, true},
		{"0.0.0.0:40000", true, false},
	} {
		if got := pol.CheckListen(netip.MustParseAddrPort(tc.local), tc.listening); got.Allowed != tc.want {
			t.Errorf("CheckListen(%s, %v) = %v (%s), want %v", tc.local, tc.listening, got.Allowed, got.Why, tc.want)
		}
	}
}

// TestDNSMessages checks the resolver's message handling on hand-made packets: the
// question, NXDOMAIN replies, and addresses (through a compression pointer) in answers.
func TestDNSMessages(t *testing.T) {
	q := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
		4, 'G', 'o', 'o', 'd', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1}
	name, end, ok := dnsQuestion(q)
	if !ok || name != "good.test" || end != len(q) {
		t.Fatalf("dnsQuestion = %q %d %v", name, end, ok)
	}
	nx := dnsError(q, 3)
	if nx[2]&0x80 == 0 || nx[3]&0x0f != 3 || nx[0] != 0x12 || len(nx) != len(q) {
		t.Errorf("NXDOMAIN reply % x", nx)
	}
	resp := append(append([]byte(nil), q...), 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 10,
		0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)
	resp[2], resp[7] = 0x81, 2
	got := dnsAddrs(resp)
	if len(got) != 2 || got[0] != netip.MustParseAddr("192.0.2.10") || got[1] != netip.MustParseAddr("2001:db8::1") {
		t.Errorf("dnsAddrs = %v", got)
	}
	if _, _, ok := dnsName([]byte{0xc0, 0}, 0); ok {
		t.Error("a compression loop was accepted")
	}
	for _, tc := range []struct {
		p, n string
		want bool
	}{{"*.mozilla.org", "www.mozilla.org", true}, {"*.mozilla.org", "mozilla.org", false}, {"*.mozilla.org", "evilmozilla.org", false},
		{"example.com", "example.com", true}, {"example.com", "www.example.com", false}} {
		if NameMatches(tc.p, tc.n) != tc.want {
			t.Errorf("NameMatches(%q, %q) = %v", tc.p, tc.n, !tc.want)
		}
	}
	// A name rule allows only the addresses the name resolved to.
	pol := Policy{Mode: ModeFiltered, Allow: []Rule{{Name: "good.test", Ports: []PortRange{{80, 80}}}}, Deny: []Rule{{Name: "evil.test"}}}
	if v := pol.CheckConnect(netip.MustParseAddrPort("192.0.2.10:80"), "good.test"); !v.Allowed {
		t.Errorf("pinned address refused: %s", v.Why)
	}
	if v := pol.CheckConnect(netip.MustParseAddrPort("192.0.2.10:80")); v.Allowed {
		t.Error("an address no name resolved to was allowed by a name rule")
	}
	if v := pol.CheckConnect(netip.MustParseAddrPort("192.0.2.10:80"), "good.test", "evil.test"); v.Allowed {
		t.Error("an address also resolved for a denied name was allowed")
	}
	if pol.CheckName("evil.test").Allowed || !pol.CheckName("good.test").Allowed {
		t.Error("CheckName")
	}
}

// TestEscapeNetRelayKernelEnd: a relay made on the kernel's socketpair works like the
// broker's own, and the broker refuses an end that is not an AF_UNIX seqpacket socket.
func TestEscapeNetRelayKernelEnd(t *testing.T) {
	echo, err := gonet.ListenUDP("udp4", &gonet.UDPAddr{IP: gonet.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	addr := netip.MustParseAddrPort(echo.LocalAddr().String())
	c, _ := start(t, Policy{Mode: ModeNone, Host: []Rule{rule("127.0.0.1/32", PortRange{addr.Port(), addr.Port()})}})
	stream, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	defer unix.Close(stream[0])
	defer unix.Close(stream[1])
	if rep, _, _ := c.Do(netproto.Request{Op: netproto.OpSocket, Proto: netproto.ProtoUDP, Family: unix.AF_INET}, stream[1]); unix.Errno(rep.Errno) != unix.ENOTSOCK {
		t.Errorf("a stream socket as the relay's end: errno %v, want ENOTSOCK", unix.Errno(rep.Errno))
	}
	pair, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET, 0)
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	if rep, fd, err := c.Do(netproto.Request{Op: netproto.OpSocket, Proto: netproto.ProtoUDP, Family: unix.AF_INET}, pair[1]); err != nil || rep.Errno != 0 || fd >= 0 {
		t.Fatalf("relay on the kernel's pair: %v errno %v fd %d", err, unix.Errno(rep.Errno), fd)
	}
	// Connect names the relay by the end the broker holds.
	if rep, _, _ := c.Do(netproto.Request{Op: netproto.OpConnect, Proto: netproto.ProtoUDP, Family: unix.AF_INET, Addr: addr}, pair[1]); rep.Errno != 0 {
		t.Fatalf("connect: errno %v", unix.Errno(rep.Errno))
	}
	b := make([]byte, netproto.FrameSize+2)
	copy(b[netproto.FrameSize:], "hi")
	unix.Write(pair[0], b)
	buf := make([]byte, 16)
	echo.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, _, err := echo.ReadFromUDPAddrPort(buf); err != nil || string(buf[:n]) != "hi" {
		t.Errorf("datagram through the kernel-made relay: %q %v", buf[:n], err)
	}
}

// TestBrokerDisconnect: OpConnect without an address (connect with AF_UNSPEC) resets a TCP
// connection the broker made; the same socket connects again afterwards, still checked.
func TestBrokerDisconnect(t *testing.T) {
	l, allowed := listenLoopback(t)
	_, forbidden := listenLoopback(t)
	pol := Policy{Mode: ModeFiltered, Host: []Rule{rule(allowed.Addr().String()+"/32", PortRange{allowed.Port(), allowed.Port()})}}
	c, _ := start(t, pol)
	fd := tcpSocket(t, c, unix.AF_INET)
	do := func(dst netip.AddrPort) uint32 {
		rep, _, err := c.Do(netproto.Request{Op: netproto.OpConnect, Proto: netproto.ProtoTCP, Family: unix.AF_INET, Addr: dst}, fd)
		if err != nil {
			t.Fatal(err)
		}
		return rep.Errno
	}
	wait := func() {
		p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		unix.Poll(p, 5000)
	}
	if e := do(allowed); e != 0 && e != uint32(unix.EINPROGRESS) {
		t.Fatalf("connect: errno %d", e)
	}
	wait()
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if e := do(netip.AddrPort{}); e != 0 {
		t.Fatalf("disconnect: errno %d", e)
	}
	if _, err := unix.Getpeername(fd); err != unix.ENOTCONN {
		t.Fatalf("getpeername after disconnect = %v, want ENOTCONN", err)
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("the peer read data after the reset")
	}
	if e := do(forbidden); e != uint32(unix.ECONNREFUSED) {
		t.Fatalf("reconnect to a forbidden address: errno %d, want ECONNREFUSED", e)
	}
	if e := do(allowed); e != 0 && e != uint32(unix.EINPROGRESS) {
		t.Fatalf("reconnect: errno %d", e)
	}
	wait()
	if _, err := unix.Getpeername(fd); err != nil {
		t.Fatalf("getpeername after reconnecting: %v", err)
	}
}

// TestScopedAddressOnWire: a link-local address scoped to the sandbox's eth0 keeps its zone
// across the wire; other zones do not travel, and the broker never takes one for a scope
// the app chose.
func TestScopedAddressOnWire(t *testing.T) {
	a := netip.AddrPortFrom(netip.MustParseAddr("fe80::1").WithZone(netproto.ZoneEth0), 80)
	got, ok := netproto.DecodeRequest(netproto.Request{Op: netproto.OpConnect, Family: unix.AF_INET6, Addr: a}.Encode())
	if !ok || got.Addr != a {
		t.Fatalf("round trip of %v = %v", a, got.Addr)
	}
	b := netip.AddrPortFrom(netip.MustParseAddr("fe80::1").WithZone("7"), 80)
	got, _ = netproto.DecodeRequest(netproto.Request{Op: netproto.OpConnect, Family: unix.AF_INET6, Addr: b}.Encode())
	if got.Addr.Addr().Zone() != "" {
		t.Fatalf("zone %q crossed the wire", got.Addr.Addr().Zone())
	}
	if _, err := sockaddr(b, unix.AF_INET6); err != unix.EINVAL {
		t.Fatalf("sockaddr(%v) = %v, want EINVAL", b, err)
	}
	pol := Policy{Mode: ModeFiltered, Allow: []Rule{rule("fe80::/10")}}
	if v := New(pol, nil).checkConnect(a, -1); !v.Allowed {
		t.Fatalf("a scoped link-local address under allow fe80::/10 refused: %s", v.Why)
	}
}

// TestICMPWithoutHostSockets: when the host gives the user no echo sockets, the kernel's
// check of an echo destination the policy allows is refused with a denial saying why.
func TestICMPWithoutHostSockets(t *testing.T) {
	if icmpAvailable(unix.AF_INET) {
		t.Skip("this host's net.ipv4.ping_group_range gives the user ICMP echo sockets")
	}
	c, denials := start(t, Policy{Mode: ModeFull})
	rep, _, err := c.Do(netproto.Request{Op: netproto.OpCheck, Proto: netproto.ProtoICMP, Family: unix.AF_INET, Addr: netip.MustParseAddrPort("192.0.2.1:0")})
	if err != nil || rep.Errno != uint32(unix.EACCES) {
		t.Fatalf("OpCheck icmp: %v errno %d, want EACCES", err, rep.Errno)
	}
	if d := denials(); len(d) != 1 || !strings.Contains(d[0].Why, "ping_group_range") {
		t.Fatalf("denials %+v, want one naming ping_group_range", d)
	}
}
