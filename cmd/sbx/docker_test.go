package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDocker runs a locally imported image with Docker using sbx as a runtime registered
// with --add-runtime: a dockerd of the test's own (its socket, data root and exec root
// under a test directory, its managed containerd with them) inside a network namespace of
// the test's own, where Docker's default bridge and firewall rules live. Checked: exit
// status and streams, environment, user and working directory, a published port reaching
// a server in the container (Docker's libnetwork-setkey prestart hook configures the
// network namespace sbx makes for the container), docker exec, and docker stop's signal.
func TestDocker(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("dockerd needs root (rootless Docker is not in Debian's docker.io)")
	}
	for _, bin := range []string{"/usr/sbin/dockerd", "/usr/bin/docker"} {
		if _, err := os.Stat(bin); err != nil {
			t.Skipf("%s is not installed (make test installs docker.io)", bin)
		}
	}
	runtime := sbxRuncLink(t)
	dir, err := os.MkdirTemp("", "sbxtest-docker-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("rm", "-rf", dir).Run() })
	tar := busyboxTar(t, dir)
	port := 20000 + rand.IntN(20000)
	script := fmt.Sprintf(`set -u
D=%[1]s
echo '{}' > $D/daemon.json
ip link set lo up
/usr/sbin/dockerd --config-file $D/daemon.json --data-root $D/data --exec-root $D/exec --pidfile $D/dockerd.pid \
  --host unix://$D/docker.sock --storage-driver vfs --exec-opt native.cgroupdriver=cgroupfs \
  --add-runtime sbx=%[2]s --log-level warn > $D/dockerd.log 2>&1 &
trap 'kill $(cat $D/dockerd.pid); wait' EXIT
docker() { /usr/bin/docker -H unix://$D/docker.sock "$@"; }
# (Waits end when what they wait for is there; their bounds are only against a hang.)
for i in $(seq 1200); do docker info >/dev/null 2>&1 && break; sleep 0.1; done
docker import %[3]s localhost/sbxtest:busybox >/dev/null || { cat $D/dockerd.log; exit 1; }
run() { docker run --rm --runtime sbx "$@"; }
run --network none localhost/sbxtest:busybox /bin/sh -c 'echo out; echo err >&2; exit 3' 2>$D/err; echo "status $? stderr $(cat $D/err)"
run --network none -e FOO=bar -u 1000:1000 -w /tmp localhost/sbxtest:busybox /bin/sh -c 'echo "env $FOO $(id -u):$(id -g) $(pwd)"'
docker run -d --runtime sbx --name sbxweb -p 127.0.0.1:%[4]d:80 localhost/sbxtest:busybox /bin/sh -c \
  'trap "echo got TERM; exit 9" TERM; mkdir -p /tmp/www && echo "served by the container" > /tmp/www/index.html && busybox httpd -p 80 -h /tmp/www && while :; do sleep 0.05; done' >/dev/null
got=""
for i in $(seq 1200); do got=$(curl -sf --max-time 60 http://127.0.0.1:%[4]d/) && break; sleep 0.1; done
echo "host got: $got"
docker exec sbxweb /bin/sh -c 'echo "exec $(hostname | wc -c)"; exit 4'; echo "exec status $?"
docker stop -t 20 sbxweb >/dev/null
echo "stopped $(docker inspect --format '{{.State.ExitCode}}' sbxweb) $(docker logs sbxweb)"
docker rm -f sbxweb >/dev/null
`, dir, runtime, tar, port)
	path := filepath.Join(dir, "docker.sh")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	// Only against a hang: a dockerd, an import and five containers on a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--net", "sh", path)
	cmd.WaitDelay = 5 * time.Second
	outb, err := cmd.Output()
	out := string(outb)
	if ctx.Err() != nil {
		t.Fatalf("docker test did not finish in 15 minutes; output %q", out)
	}
	for _, want := range []string{"out\nstatus 3 stderr err\n", "env bar 1000:1000 /tmp\n", "host got: served by the container\n",
		"exec 13\nexec status 4\n", "stopped 9 got TERM\n"} {
		if !strings.Contains(out, want) {
			log, _ := os.ReadFile(filepath.Join(dir, "dockerd.log"))
			t.Errorf("docker: output %q lacks %q (%v); dockerd's log:\n%s", out, want, err, log)
		}
	}
}
