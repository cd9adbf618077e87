package main

import (
	"os/exec"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestNetSockDiagMatchesProc runs ss inside the sandbox, which asks NETLINK_SOCK_DIAG first
// and falls back to /proc/net only when it cannot (saying "Cannot open netlink socket"):
// `ss -tane`, `ss -uane` and `ss -xane` list exactly the sockets /proc/net/{tcp,tcp6,udp,
// udp6,unix} list (inode, state, ports or name), with nothing on stderr, and the AF_UNIX
// peers that only unix_diag reports name each other's inodes.
func TestNetSockDiagMatchesProc(t *testing.T) {
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skip("iproute2 is not installed (make test installs it)")
	}
	dir := netProfiles(t, map[string]string{"none": "[network]\nmode = \"none\"\n"})
	script := `
import os, socket, subprocess
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(7)
c = socket.create_connection(l.getsockname()); a, _ = l.accept()
l6 = socket.socket(socket.AF_INET6); l6.bind(("::1", 0)); l6.listen()
ud = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); ud.bind(("127.0.0.1", 0))
ud6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); ud6.bind(("::1", 0))
u = socket.socket(socket.AF_UNIX); u.bind("\0sbx-diag"); u.listen()
uc = socket.socket(socket.AF_UNIX); uc.connect("\0sbx-diag"); ua, _ = u.accept()
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d.bind("/tmp/sbx-diag-dgram")
errs = []
def ss(*a):
    r = subprocess.run(["ss", "-Hane", *a], capture_output=True, text=True)
    errs.append(r.stderr)
    return r.stdout.splitlines()
port = lambda s: 0 if s.endswith("*") else int(s.rsplit(":", 1)[1])
ino = lambda f: [x[4:] for x in f if x.startswith("ino:")][0]
def inet(*a):
    return {(ino(f), f[0], port(f[3]), port(f[4])) for f in map(str.split, ss(*a))}
st = {"01": "ESTAB", "0A": "LISTEN", "07": "UNCONN"}
def proc(*names):
    rows = set()
    for n in names:
        for f in map(str.split, open("/proc/net/" + n).read().splitlines()[1:]):
            rows.add((f[9], st.get(f[3], f[3]), int(f[1].split(":")[1], 16), int(f[2].split(":")[1], 16)))
    return rows
tcp, udp = inet("-t"), inet("-u")
print("tcp", len(tcp), tcp == proc("tcp", "tcp6"))
print("udp", len(udp), udp == proc("udp", "udp6"))
x = {f[5]: f for f in map(str.split, ss("-x"))}
ux = {(i, f[1], f[4]) for i, f in x.items()}
px = set()
for f in map(str.split, open("/proc/net/unix").read().splitlines()[1:]):
    state = "LISTEN" if int(f[3], 16) & 0x10000 else "ESTAB" if f[5] == "03" else "UNCONN"
    px.add((f[6], state, f[7] if len(f) > 7 else "*"))
print("unix", len(ux), ux == px)
i = lambda s: str(os.fstat(s.fileno()).st_ino)
print("peers", x[i(uc)][7] == i(ua) and x[i(ua)][7] == i(uc))
print("stderr", repr("".join(errs)))
`
	want := "tcp 4 True\nudp 2 True\nunix 4 True\npeers True\nstderr ''\n"
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			r := runNet(t, u, dir, "none", "python3", "-c", script)
			if r.Stdout != want {
				t.Errorf("got\n%s\nwant\n%s\nstderr: %s", r.Stdout, want, r.Stderr)
			}
		})
	}
}
