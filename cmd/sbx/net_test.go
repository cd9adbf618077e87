package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
	"github.com/sbx-dev/sbx/plan"
	"github.com/sbx-dev/sbx/tui"
)

// netProfiles writes profiles for the network tests into a directory every user can read.
func netProfiles(t *testing.T, profiles map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755) // the test's own temporary directory, for uid 65534
	for name, body := range profiles {
		if err := os.WriteFile(filepath.Join(dir, name+".toml"), []byte("description = \""+name+"\"\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// hostHTTP starts an HTTP server on the host's loopback for the test.
func hostHTTP(t *testing.T, body string) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func runNet(t *testing.T, u sbxtest.User, profDir, profile string, argv ...string) sbxtest.Result {
	t.Helper()
	if profile != "default" {
		profile = filepath.Join(profDir, profile+".toml")
	}
	cmd := append([]string{sbxtest.Binary(t), "run", "--profile", profile, "--"}, argv...)
	return sbxtest.Run(t, u, "", "", cmd...)
}

// TestNetTCPThroughBroker fetches from a host server with curl and python: a profile naming
// the host service reaches it, one that does not is refused, and addresses outside the
// policy fail with EACCES before any packet leaves.
func TestNetTCPThroughBroker(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed (make test installs it)")
	}
	port := hostHTTP(t, "hello from the host")
	dir := netProfiles(t, map[string]string{
		"hostweb": fmt.Sprintf("[network]\nmode = \"filtered\"\nallow = [\"192.0.2.0/24:80\"]\nhost = [\"127.0.0.1:%d\"]\n", port),
		"nohost":  "[network]\nmode = \"full\"\ndeny = [\"192.0.2.0/24\"]\n",
	})
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	pyConnect := `import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_STREAM)
s.settimeout(5)
try:
    s.connect((sys.argv[1],int(sys.argv[2]))); print("connected")
except OSError as e:
    print("errno", e.errno)
`
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			r := runNet(t, u, dir, "hostweb", "curl", "-sS", url)
			if r.Code != 0 || r.Stdout != "hello from the host" {
				t.Errorf("curl to a named host service: exit %d %q %s", r.Code, r.Stdout, r.Stderr)
			}
			r = runNet(t, u, dir, "hostweb", "python3", "-c", "import urllib.request;print(urllib.request.urlopen('"+url+"').read().decode())")
			if r.Code != 0 || r.Stdout != "hello from the host\n" {
				t.Errorf("python urllib to a named host service: exit %d %q %s", r.Code, r.Stdout, r.Stderr)
			}
			r = runNet(t, u, dir, "nohost", "curl", "-sS", url)
			if r.Code != 7 {
				t.Errorf("curl to the host's loopback, not named: exit %d %q %s (want 7: cannot connect)", r.Code, r.Stdout, r.Stderr)
			}
			for _, tc := range []struct{ profile, addr, port, want string }{
				{"hostweb", "192.0.2.1", "81", "errno 13"}, // port not allowed
				{"hostweb", "198.51.100.7", "80", "errno 13"},
				{"nohost", "192.0.2.1", "80", "errno 13"}, // denied in mode full
				{"default", "198.51.100.7", "80", "errno 13"},
				{"nohost", "169.254.169.254", "80", "errno 13"}, // cloud metadata
			} {
				r := runNet(t, u, dir, tc.profile, "python3", "-c", pyConnect, tc.addr, tc.port)
				if strings.TrimSpace(r.Stdout) != tc.want {
					t.Errorf("%s: connect %s:%s = %q %s, want %q", tc.profile, tc.addr, tc.port, r.Stdout, r.Stderr, tc.want)
				}
			}
		})
	}
}

// TestNetPrivateLoopback runs a server and its client inside one sandbox on 127.0.0.1: it
// works though the profile grants no network, and /proc/net/tcp shows the listener.
func TestNetPrivateLoopback(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed (make test installs it)")
	}
	dir := netProfiles(t, map[string]string{"none": "[network]\nmode = \"none\"\n"})
	script := `cd /tmp && echo inside > page.html && python3 -m http.server 18431 --bind 127.0.0.1 >/dev/null 2>&1 &
for i in $(seq 400); do curl -sS http://127.0.0.1:18431/page.html 2>/dev/null && break; sleep 0.3; done
awk '$4 == "0A" {print "listening", $2}' /proc/net/tcp
kill %1`
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			r := runNet(t, u, dir, "none", "/bin/sh", "-c", script)
			if r.Stdout != "inside\nlistening 0100007F:47FF\n" {
				t.Errorf("a server on the sandbox's loopback, reached from inside and in /proc/net/tcp: exit %d %q %s", r.Code, r.Stdout, r.Stderr)
			}
		})
	}
}

// TestNetUDP sends datagrams through the broker's relay to a host echo server the profile
// names, over IPv4 and an IPv4-mapped IPv6 socket; destinations outside the policy are
// EACCES.
func TestNetUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(append([]byte("echo:"), buf[:n]...), from)
		}
	}()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	dir := netProfiles(t, map[string]string{"udp": fmt.Sprintf("[network]\nhost = [\"127.0.0.1:%d\"]\n", port)})
	script := fmt.Sprintf(`import socket
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(60)
s.sendto(b"hi",("127.0.0.1",%[1]d)); print(s.recvfrom(100))
c=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM); c.settimeout(60); c.connect(("::ffff:127.0.0.1",%[1]d)); c.send(b"v6"); print(c.recv(100), c.getpeername()[:2])
for dst in [("127.0.0.1",%[2]d),("192.0.2.1",53)]:
    try:
        s.sendto(b"x",dst); print("sent")
    except OSError as e: print("errno", e.errno)
`, port, port+1)
	// A loopback port the profile does not name is the sandbox's own, where nothing listens:
	// the datagram is sent and lost, as on Linux.
	want := fmt.Sprintf("(b'echo:hi', ('127.0.0.1', %d))\nb'echo:v6' ('::ffff:127.0.0.1', %d)\nsent\nerrno 13\n", port, port)
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			r := runNet(t, u, dir, "udp", "python3", "-c", script)
			if r.Stdout != want {
				t.Errorf("UDP through the relay: exit %d\n%s%s\nwant\n%s", r.Code, r.Stdout, r.Stderr, want)
			}
		})
	}
}

// TestNetNamesAndListen runs in a network namespace of its own (root: test addresses on
// its loopback device, dnsmasq as the host's resolver): name rules allow what a name
// resolved to and nothing else (DNS pinning), a denied name is NXDOMAIN, dns = false gives
// no resolver, ping reaches an allowed address only, and a server inside is reachable from
// outside only with a listen rule.
func TestNetNamesAndListen(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root for a network namespace of its own")
	}
	for _, p := range []string{"dnsmasq", "curl", "ip", "unshare", "getent"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed (make test installs it)", p)
		}
	}
	dir := netProfiles(t, map[string]string{
		"names":   "[network]\nmode = \"filtered\"\ndns = true\nallow = [\"good.test:80\"]\ndeny = [\"evil.test\"]\n",
		"nodns":   "[network]\nmode = \"filtered\"\ndns = false\nallow = [\"0.0.0.0/0\"]\n",
		"serve":   "[network]\nlisten = [\"0.0.0.0:8080\"]\n",
		"private": "[network]\nmode = \"none\"\n",
		"ping":    "[network]\nmode = \"filtered\"\nallow = [\"192.0.2.10\"]\n",
		// Name rules of host and listen (resolved by the broker, not pinned).
		"hostname":   "[network]\nhost = [\"printer.test:8631\"]\n",
		"hostother":  "[network]\nhost = [\"other.test:8631\"]\n",
		"listenname": "[network]\nlisten = [\"here.test:8082\"]\n",
	})
	script, _ := filepath.Abs("testdata/netns.sh")
	want := "good: host page\nother: exit 7\npinned: exit 7\ngetent good: 192.0.2.10      good.test\ngetent evil: exit 2\nno dns: exit 2\nping: ttl=64\nping refused: exit 2\nlisten: inside\n" +
		"host by name: host page\nhost by other name: exit 7\nlisten by name, other address: EACCES\nlisten by name: named\nprivate: exit 7\n"
	for _, u := range []struct{ name, runas string }{{"root", ""}, {"nobody", "65534"}} {
		t.Run(u.name, func(t *testing.T) {
			r := sbxtest.Run(t, sbxtest.Users()[0], "", "", "unshare", "-n", "-m", "sh", script, sbxtest.Binary(t), dir, u.runas)
			if r.Stdout != want {
				t.Errorf("got\n%s\nwant\n%s\nstderr:\n%s", r.Stdout, want, r.Stderr)
			}
		})
	}
}

// TestNetTopShowsConnectionsAndDenials: a refused connect is a "net" denial, and the detail
// data sbx top fetches lists the sandbox's connections, the private loopback server too.
func TestNetTopShowsConnectionsAndDenials(t *testing.T) {
	rt := t.TempDir()
	os.Chmod(rt, 0o700)
	script := `python3 -m http.server 18433 --bind 127.0.0.1 >/dev/null 2>&1 &
python3 -c 'import socket
try: socket.create_connection(("198.51.100.7",80),timeout=2)
except OSError as e: print(e.errno)'
sleep 600`
	c := exec.Command(sbxtest.Binary(t), "run", "--", "/bin/sh", "-c", script)
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // should the test binary die
	c.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	var out strings.Builder
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { c.Process.Kill(); c.Wait() }()
	f := tui.SocketFetcher{Dir: filepath.Join(rt, "sbx")}
	var last []tui.Sandbox
	// The sandbox lives until the test kills it; the wait for its data ends when it is there.
	for deadline := time.Now().Add(sbxtest.Timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		all, err := f.Fetch("")
		if err != nil || len(all) != 1 {
			continue
		}
		if last, err = f.Fetch(all[0].Info.ID); err != nil || len(last) != 1 {
			continue
		}
		listening := false
		for _, cn := range last[0].Connections {
			listening = listening || cn.State == "listen" && cn.Local == "127.0.0.1:18433" && cn.Private
		}
		if listening && last[0].Stats.Denials["net"] >= 1 {
			return
		}
	}
	t.Fatalf("no listening connection and net denial in sbx top's data: %+v\noutput: %s", last, out.String())
}

// TestNetInterfaces runs `ip` and if_nameindex inside: network mode none shows only lo; a
// profile with network shows lo and eth0 carrying the host's addresses, with routes.
func TestNetInterfaces(t *testing.T) {
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2 is not installed (make test installs it)")
	}
	dir := netProfiles(t, map[string]string{"none": "[network]\nmode = \"none\"\n", "full": "[network]\nmode = \"full\"\n"})
	host := plan.HostAddrs()
	script := `ip -o addr | awk '{print $2, $3, $4}'; ip route | head -1; python3 -c 'import socket;print(socket.if_nameindex())'`
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			r := runNet(t, u, dir, "none", "/bin/sh", "-c", script)
			if want := "lo inet 127.0.0.1/8\nlo inet6 ::1/128\n[(1, 'lo')]\n"; r.Stdout != want {
				t.Errorf("mode none: %q %s, want %q", r.Stdout, r.Stderr, want)
			}
			r = runNet(t, u, dir, "full", "/bin/sh", "-c", script)
			if !strings.Contains(r.Stdout, "[(1, 'lo'), (2, 'eth0')]") || !strings.Contains(r.Stdout, "default dev eth0") {
				t.Errorf("mode full: %q %s", r.Stdout, r.Stderr)
			}
			for _, a := range host {
				fam := "inet"
				if strings.Contains(a, ":") {
					fam = "inet6"
				}
				if !strings.Contains(r.Stdout, "eth0 "+fam+" "+a+"\n") {
					t.Errorf("mode full: eth0 lacks the host's %s:\n%s", a, r.Stdout)
				}
			}
		})
	}
}

// TestNetNonBlockingConnectAndBigTransfer: a non-blocking connect through the broker is
// EINPROGRESS (or done at once), then writable with SO_ERROR 0; one to a closed port
// reports ECONNREFUSED through SO_ERROR; and 1 GiB fetched with curl arrives intact.
func TestNetNonBlockingConnectAndBigTransfer(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed (make test installs it)")
	}
	const size = 1 << 30
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(i*7 + i>>8)
	}
	h := sha256.New()
	for range size / len(block) {
		h.Write(block)
	}
	want := hex.EncodeToString(h.Sum(nil))
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for range size / len(block) {
			if _, err := w.Write(block); err != nil {
				return
			}
		}
	})}
	go srv.Serve(l)
	defer srv.Close()
	port := l.Addr().(*net.TCPAddr).Port
	closed, _ := net.Listen("tcp4", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	dir := netProfiles(t, map[string]string{"big": fmt.Sprintf("[network]\nhost = [\"127.0.0.1:%d\", \"127.0.0.1:%d\"]\n", port, closedPort)})
	nb := `import socket, select, errno, sys
for port in sys.argv[1:]:
    s = socket.socket(); s.setblocking(False)
    r = s.connect_ex(("127.0.0.1", int(port)))
    print("connect", "in progress" if r in (0, errno.EINPROGRESS) else errno.errorcode[r])
    select.select([], [s], [], 5)
    e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    print("SO_ERROR", errno.errorcode.get(e, e))
`
	u := sbxtest.Users()[0]
	r := runNet(t, u, dir, "big", "python3", "-c", nb, strconv.Itoa(port), strconv.Itoa(closedPort))
	if r.Stdout != "connect in progress\nSO_ERROR 0\nconnect in progress\nSO_ERROR ECONNREFUSED\n" {
		t.Errorf("non-blocking connects: %q %s", r.Stdout, r.Stderr)
	}
	r = runNet(t, u, dir, "big", "/bin/sh", "-c", fmt.Sprintf("curl -sS http://127.0.0.1:%d/big | sha256sum", port))
	if got, _, _ := strings.Cut(r.Stdout, " "); got != want {
		t.Errorf("1 GiB through the broker: sha256 %q, want %q (exit %d: %s)", got, want, r.Code, r.Stderr)
	}
}

// TestNetRealClients: wget, node's http module, openssl s_client against an openssl
// s_server the test starts, and curl over IPv6, each to a host service the profile names.
func TestNetRealClients(t *testing.T) {
	for _, p := range []string{"wget", "node", "openssl", "curl"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed (make test installs it)", p)
		}
	}
	port4 := hostHTTP(t, "over IPv4")
	l6, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	srv6 := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "over IPv6") })}
	go srv6.Serve(l6)
	defer srv6.Close()
	port6 := l6.Addr().(*net.TCPAddr).Port
	tmp := t.TempDir()
	key, cert := filepath.Join(tmp, "k.pem"), filepath.Join(tmp, "c.pem")
	if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
		"-days", "1", "-subj", "/CN=localhost").CombinedOutput(); err != nil {
		t.Fatalf("making a certificate: %v\n%s", err, out)
	}
	// Port 0: s_server binds a free port itself and says which ("ACCEPT 127.0.0.1:PORT"),
	// where a port picked by listening and closing could be taken before it binds.
	srv := exec.Command("openssl", "s_server", "-accept", "127.0.0.1:0", "-key", key, "-cert", cert, "-www")
	srvOut, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	accepted := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(srvOut)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "ACCEPT "); ok {
				_, port, _ := strings.Cut(addr, ":")
				n, _ := strconv.Atoi(port)
				accepted <- n
				break
			}
		}
		io.Copy(io.Discard, srvOut)
	}()
	var tlsPort int
	select {
	case tlsPort = <-accepted:
	case <-time.After(sbxtest.Timeout):
		t.Fatalf("openssl s_server did not say where it listens within %v", sbxtest.Timeout)
	}
	if tlsPort <= 0 {
		t.Fatalf("openssl s_server said it listens on port %d", tlsPort)
	}
	dir := netProfiles(t, map[string]string{"clients": fmt.Sprintf("[network]\nhost = [\"127.0.0.1:%d\", \"[::1]:%d\", \"127.0.0.1:%d\"]\n", port4, port6, tlsPort)})
	url4 := fmt.Sprintf("http://127.0.0.1:%d/", port4)
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			for _, tc := range []struct {
				name string
				argv []string
				want string
			}{
				{"wget", []string{"wget", "-qO-", url4}, "over IPv4"},
				{"node", []string{"node", "-e", `require("http").get("` + url4 + `", r => { let d = ""; r.on("data", c => d += c); r.on("end", () => console.log(d)) })`}, "over IPv4\n"},
				{"curl -6", []string{"curl", "-sS", "-g", fmt.Sprintf("http://[::1]:%d/", port6)}, "over IPv6"},
				{"openssl", []string{"/bin/sh", "-c", fmt.Sprintf("echo | openssl s_client -connect 127.0.0.1:%d -servername localhost 2>/dev/null | grep -o 'CN = localhost' | head -1", tlsPort)}, "CN = localhost\n"},
			} {
				if r := runNet(t, u, dir, "clients", tc.argv...); r.Stdout != tc.want {
					t.Errorf("%s: exit %d %q %s, want %q", tc.name, r.Code, r.Stdout, r.Stderr, tc.want)
				}
			}
		})
	}
}

// TestNetSocketTables: ss (which reads /proc/net/{tcp,unix} when it has no sock_diag) lists
// the sandbox's own sockets with their processes (the inode in /proc/net matches
// /proc/PID/fd), and none of the host's.
func TestNetSocketTables(t *testing.T) {
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skip("iproute2 is not installed (make test installs it)")
	}
	hostName := fmt.Sprintf("sbx-host-%d", time.Now().UnixNano())
	hl, err := net.Listen("unix", "@"+hostName)
	if err != nil {
		t.Fatal(err)
	}
	defer hl.Close()
	dir := netProfiles(t, map[string]string{"none": "[network]\nmode = \"none\"\n"})
	script := `
import socket, subprocess
l = socket.socket(); l.bind(("127.0.0.1", 5555)); l.listen()
c = socket.create_connection(("127.0.0.1", 5555))
a, _ = l.accept()
u = socket.socket(socket.AF_UNIX); u.bind("\0sbx-inside"); u.listen()
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d.bind("/tmp/sbx-dgram")
ss = lambda *a: subprocess.run(["ss", "-H", *a], capture_output=True, text=True).stdout
print("tcp listen", "127.0.0.1:5555" in ss("-tlnp") and "python3" in ss("-tlnp"))
print("tcp established", ss("-tn", "state", "established").count("127.0.0.1:5555"))
x = ss("-xap")
print("unix listen", "@sbx-inside" in x and "python3" in x)
print("unix dgram", "/tmp/sbx-dgram" in x)
print("host's", "` + hostName + `" in open("/proc/net/unix").read())
`
	want := "tcp listen True\ntcp established 2\nunix listen True\nunix dgram True\nhost's False\n"
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			r := runNet(t, u, dir, "none", "python3", "-c", script)
			if r.Stdout != want {
				t.Errorf("got\n%s\nwant\n%s\nstderr: %s", r.Stdout, want, r.Stderr)
			}
		})
	}
}

// TestNetPingLoopback: ping works inside on the sandbox's own loopback whatever the host's
// net.ipv4.ping_group_range allows (the kernel answers), and echo sockets behave as Linux's:
// the reply carries the socket's identifier and the request's sequence and data, with a
// valid checksum; anything but an echo request is EINVAL. Outside the loopback, a host
// that gives no echo socket makes a send EACCES.
func TestNetPingLoopback(t *testing.T) {
	if _, err := exec.LookPath("ping"); err != nil {
		t.Skip("iputils-ping is not installed (make test installs it)")
	}
	dir := netProfiles(t, map[string]string{"none": "[network]\nmode = \"none\"\n"})
	check := `
import socket, struct, errno
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return s
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
s.sendto(struct.pack("!BBHHH", 8, 0, 0, 0x1234, 7) + b"payload", ("127.0.0.1", 0))
data, src = s.recvfrom(100)
t, code, _, ident, seq = struct.unpack("!BBHHH", data[:8])
print(t, code, seq, data[8:], src, ident == s.getsockname()[1], csum(data) == 0xffff)
for bad in (struct.pack("!BBHHH", 13, 0, 0, 0, 0), struct.pack("!BBHHH", 8, 1, 0, 0, 0), b"\x08\0\0"):
    try:
        s.sendto(bad, ("127.0.0.1", 0)); print("sent")
    except OSError as e:
        print(errno.errorcode[e.errno])
`
	want := "1 received\n1 received\n0 0 7 b'payload' ('127.0.0.1', 0) True True\nEINVAL\nEINVAL\nEINVAL\n"
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			r := runNet(t, u, dir, "none", "sh", "-c", "ping -c1 -W2 127.0.0.1 | grep -o '1 received'; ping -c1 -W2 ::1 | grep -o '1 received'; python3 -c '"+check+"'")
			if r.Stdout != want {
				t.Errorf("got\n%s\nwant\n%s\nstderr: %s", r.Stdout, want, r.Stderr)
			}
		})
	}
}

// TestNetLoopbackListenRule runs a server inside on 127.0.0.1: with a listen rule naming
// that address and port it serves on the host's loopback (the host reaches it, and so does
// the sandbox itself); without one it is the sandbox's own, and the host's port stays
// closed.
func TestNetLoopbackListenRule(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed (make test installs it)")
	}
	port := freePort(t)
	dir := netProfiles(t, map[string]string{
		"serve":   fmt.Sprintf("[network]\nlisten = [\"127.0.0.1:%d\"]\n", port),
		"private": "[network]\nmode = \"none\"\n",
	})
	script := fmt.Sprintf(`cd /tmp && echo inside > page.html && python3 -m http.server %d --bind 127.0.0.1 >/dev/null 2>&1 &
for i in $(seq 400); do curl -sS http://127.0.0.1:%d/page.html 2>/dev/null && break; sleep 0.3; done
sleep 600`, port, port) // (the sandbox runs until the test has fetched and kills it)
	for _, u := range sbxtest.Users() {
		for _, c := range []struct{ profile, want string }{{"serve", "inside\n"}, {"private", "refused"}} {
			t.Run(u.Name+"/"+c.profile, func(t *testing.T) {
				argv := u.Wrap([]string{sbxtest.Binary(t), "run", "--profile", filepath.Join(dir, c.profile+".toml"), "--", "/bin/sh", "-c", script})
				cmd := exec.Command(argv[0], argv[1:]...)
				cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // should the test binary die
				out, _ := cmd.StdoutPipe()
				var stderr strings.Builder
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				defer func() { cmd.Process.Kill(); cmd.Wait() }()
				line, err := bufio.NewReader(out).ReadString('\n')
				if line != "inside\n" {
					t.Fatalf("the server inside did not answer the sandbox: %q %v %s", line, err, stderr.String())
				}
				got := "refused"
				if r, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/page.html", port)); err == nil {
					b, _ := io.ReadAll(r.Body)
					r.Body.Close()
					got = string(b)
				}
				if got != c.want {
					t.Errorf("the host fetching from the server inside on 127.0.0.1:%d (profile %s): %q, want %q", port, c.profile, got, c.want)
				}
			})
		}
	}
}
