package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// BenchmarkNet runs testdata/netbench.c natively and under sbx against servers on the
// host's loopback (named in the profile's [network] host): TCP throughput with 1 MiB writes,
// connect+close latency and HTTP keep-alive requests/s, each with its ratio to native.
func BenchmarkNet(b *testing.B) {
	dir, exe := sbxtest.BuildC(b, "testdata/netbench.c", "-O2")
	sink, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	go func() {
		for {
			c, err := sink.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	web, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(web)
	defer srv.Close()
	sp, wp := sink.Addr().(*net.TCPAddr).Port, web.Addr().(*net.TCPAddr).Port
	prof := filepath.Join(dir, "bench.toml")
	os.WriteFile(prof, []byte(fmt.Sprintf("description = \"net bench\"\n[network]\nhost = [\"127.0.0.1:%d\", \"127.0.0.1:%d\"]\n", sp, wp)), 0o644)
	args := []string{strconv.Itoa(sp), strconv.Itoa(wp), "1024", "2000", "5000"}
	if b.N == 1 {
		args = []string{strconv.Itoa(sp), strconv.Itoa(wp), "16", "20", "50"}
	}
	parse := func(out string) map[string]float64 {
		m := map[string]float64{}
		s := bufio.NewScanner(strings.NewReader(out))
		for s.Scan() {
			if f := strings.Fields(s.Text()); len(f) == 2 {
				v, _ := strconv.ParseFloat(f[1], 64)
				m[f[0]] = v
			}
		}
		return m
	}
	u := sbxtest.Users()[0]
	nr := sbxtest.Run(b, u, "", "", append([]string{exe}, args...)...)
	if nr.Code != 0 {
		b.Fatalf("native: %d %s", nr.Code, nr.Stderr)
	}
	sr := sbxtest.Sbx(b, u, append([]string{"run", "--profile", prof, "--ro", dir, "--", exe}, args...)...)
	if sr.Code != 0 {
		b.Fatalf("sbx run: %d %s", sr.Code, sr.Stderr)
	}
	native, sandboxed := parse(nr.Stdout), parse(sr.Stdout)
	for _, k := range []string{"tcp-MiB/s", "connect-close-ns", "http-req/s"} {
		b.ReportMetric(sandboxed[k], k+"-sbx")
		b.ReportMetric(native[k], k+"-native")
		if native[k] > 0 {
			b.ReportMetric(sandboxed[k]/native[k], k+"-ratio")
		}
	}
}
