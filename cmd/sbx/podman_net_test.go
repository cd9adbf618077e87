package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestPodmanNetwork runs a web server in a container on Podman's default network with a
// published port, sbx as the runtime: the container's sockets are made in the network
// namespace Podman made for it (sbx's net broker enters it), so the host reaches the
// server through Podman's port forwarding, and the container reaches the host's side of
// its network. As root the default network is Podman's bridge (CNI), made inside a
// network namespace of the test's own so the host's interfaces and firewall stay as they
// are; rootless it is slirp4netns with Podman's port forwarder on the host's loopback.
func TestPodmanNetwork(t *testing.T) {
	runtime := sbxRuncLink(t)
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			root := os.Getuid() == 0 && u.Name == "self"
			if !root {
				if _, err := exec.LookPath("slirp4netns"); err != nil {
					t.Skip("slirp4netns is not installed (make test installs it): rootless Podman's network")
				}
				// slirp4netns opens /dev/net/tun as the user (Debian's udev makes it 0666).
				if r := sbxtest.Run(t, u, "", "", "sh", "-c", "exec 3<>/dev/net/tun"); r.Code != 0 {
					t.Skipf("rootless Podman's network needs /dev/net/tun, which this user cannot open: %s", strings.TrimSpace(r.Stderr))
				}
			}
			p := newPodman(t, u, runtime)
			imgDir, err := os.MkdirTemp("", "sbxtest-image-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(imgDir) })
			os.Chmod(imgDir, 0o755)
			tar := busyboxTar(t, imgDir)
			if r := p.run("import", tar, "localhost/sbxtest:busybox"); r.Code != 0 {
				t.Fatalf("podman import: exit %d %s", r.Code, r.Stderr)
			}
			port := freePort(t)
			if root {
				// In a namespace of the test's own any port is free.
				port = 20000 + rand.IntN(20000)
			}
			name := fmt.Sprintf("sbxtest-web-%d", rand.Int64())
			podman := "env " + shellJoin(p.env) + " podman " + shellJoin(p.flags)
			// The server answers with a page the container writes; from inside, the
			// container fetches it on its own loopback, and the host side's page (root:
			// on the bridge's gateway). Debian's busybox-static wget crashes (also
			// natively), so requests inside are made with nc.
			script := fmt.Sprintf(`set -u
podman() { %s "$@"; }
podman run -d --name %s -p 127.0.0.1:%d:80 localhost/sbxtest:busybox /bin/sh -c \
  'mkdir -p /tmp/www && echo "served by the container" > /tmp/www/index.html && exec busybox httpd -f -p 80 -h /tmp/www' >/dev/null || exit 1
trap 'podman rm -f -t 0 %s >/dev/null 2>&1' EXIT
got=""
for i in $(seq 1200); do # until the server answers; the bound is only against a hang
  got=$(curl -sf --max-time 60 http://127.0.0.1:%d/) && break
  sleep 0.1
done
echo "host got: $got"
fetch() { podman exec %s /bin/sh -c "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc $1 $2 | tail -n 1"; }
echo "loopback got: $(fetch 127.0.0.1 80)"
`, podman, name, port, name, port, name)
			if root {
				script += fmt.Sprintf(`mkdir -p %[1]s/www && echo "served by the host" > %[1]s/www/index.html
busybox httpd -f -p %[2]d -h %[1]s/www & srv=$!
trap 'kill $srv; podman rm -f -t 0 %[3]s >/dev/null 2>&1' EXIT
for i in $(seq 1200); do curl -sf --max-time 60 http://127.0.0.1:%[2]d/ >/dev/null && break; sleep 0.1; done
gw=$(podman inspect --format '{{.NetworkSettings.Gateway}}' %[3]s)
echo "container got: $(fetch $gw %[2]d)"
curl -s --max-time 2 http://127.0.0.1:80/ >/dev/null && echo "the server listens outside its namespace"
# An sbx profile named by annotation sets the policy: "default" has no network.
for a in run.sbx.debug=false run.sbx.profile=default; do
  podman run --rm --annotation $a localhost/sbxtest:busybox /bin/sh -c \
    "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc $gw %[2]d >/dev/null 2>&1 && echo $a allowed || echo $a refused"
done
`, imgDir, port+1, name)
			}
			path := filepath.Join(imgDir, "net.sh")
			if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			argv := []string{"sh", path}
			if root {
				argv = []string{"unshare", "--net", "sh", "-c", `ip link set lo up && exec sh "$0"`, path}
			}
			r := sbxtest.Run(t, u, "", "", argv...)
			if !strings.Contains(r.Stdout, "host got: served by the container\n") {
				t.Errorf("the published port did not reach the container's server: exit %d stdout %q stderr %s", r.Code, r.Stdout, r.Stderr)
			}
			if !strings.Contains(r.Stdout, "loopback got: served by the container\n") {
				t.Errorf("the container did not reach its own server on its loopback: exit %d stdout %q stderr %s", r.Code, r.Stdout, r.Stderr)
			}
			if strings.Contains(r.Stdout, "outside its namespace") {
				t.Error("the container's server listens in the engine's network namespace, not its own")
			}
			if root && (!strings.Contains(r.Stdout, "run.sbx.profile=default refused\n") || !strings.Contains(r.Stdout, "run.sbx.debug=false allowed\n")) {
				t.Errorf("annotation run.sbx.profile=default did not refuse the network: exit %d stdout %q stderr %s", r.Code, r.Stdout, r.Stderr)
			}
			if root && !strings.Contains(r.Stdout, "container got: served by the host\n") {
				t.Errorf("the container did not reach its network's gateway: exit %d stdout %q stderr %s", r.Code, r.Stdout, r.Stderr)
			}
		})
	}
}

// freePort returns a TCP port free on the host's loopback now.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// shellJoin quotes words for sh.
func shellJoin(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
