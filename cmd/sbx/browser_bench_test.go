package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// jsPage keeps the JavaScript engine busy before the page shows its result (few syscalls:
// the aim is sbx within 10% of native on the extra time it takes over browserPage).
const jsPage = `<html><body><h1 id="r">...</h1><script>
let x = 0;
for (let i = 0; i < 150000000; i++) { x = (x * 31 + i) % 1000003; }
let a = [];
for (let i = 0; i < 300000; i++) { a.push({k: i % 977, v: String(i)}); }
a.sort((p, q) => p.k - q.k || (p.v < q.v ? -1 : 1));
document.getElementById("r").textContent = "done " + x + " " + a[12345].v;
</script></body></html>`

// BenchmarkBrowser reports, per browser, the wall time of a headless screenshot of a local
// page under sbx against native (browser sandboxes on), and of the extra time a
// JavaScript-heavy page takes over it (JS runs with few syscalls).
func BenchmarkBrowser(b *testing.B) {
	users := sbxtest.Users()
	u := users[len(users)-1] // Chromium refuses root with its sandbox on
	bin := sbxtest.Binary(b)
	for _, name := range []string{"chromium", "firefox-esr"} {
		b.Run(name, func(b *testing.B) {
			if _, err := exec.LookPath(name); err != nil {
				b.Skipf("%s is not installed", name)
			}
			dir, err := os.MkdirTemp("", "sbx-browser-bench-")
			if err != nil {
				b.Fatal(err)
			}
			defer os.RemoveAll(dir)
			os.Chmod(dir, 0o777)
			os.WriteFile(filepath.Join(dir, "plain.html"), []byte(browserPage), 0o644)
			os.WriteFile(filepath.Join(dir, "js.html"), []byte(jsPage), 0o644)
			home := filepath.Join(dir, "home")
			os.Mkdir(home, 0o777)
			os.Chmod(home, 0o777)
			run := func(sandboxed bool, page string) time.Duration {
				out := filepath.Join(dir, "shot.png")
				argv := []string{"chromium", "--headless", "--screenshot=" + out, "--window-size=400,300", "file://" + filepath.Join(dir, page)}
				if name == "firefox-esr" {
					argv = []string{"firefox-esr", "--headless", "--screenshot", out, "--window-size=400,300", "file://" + filepath.Join(dir, page)}
				}
				if sandboxed {
					argv = append([]string{bin, "run", "--profile", name, "--rw", dir, "--"}, argv...)
				}
				argv = u.Wrap(append([]string{"env", "HOME=" + home}, argv...))
				start := time.Now()
				if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
					b.Fatalf("%v: %v\n%s", argv, err, tail(out))
				}
				return time.Since(start)
			}
			run(false, "plain.html") // first runs make the profiles
			run(true, "plain.html")
			var t [2][2]time.Duration // [sandboxed][page]
			for range b.N {
				for s := range 2 {
					for p, page := range []string{"plain.html", "js.html"} {
						t[s][p] += run(s == 1, page)
					}
				}
			}
			n := time.Duration(b.N)
			b.ReportMetric((t[1][0] / n).Seconds(), "sbx-screenshot-s")
			b.ReportMetric((t[0][0] / n).Seconds(), "native-screenshot-s")
			b.ReportMetric(float64(t[1][0])/float64(t[0][0]), "screenshot-ratio")
			jsN, jsS := t[0][1]-t[0][0], t[1][1]-t[1][0]
			if jsN > 0 {
				b.ReportMetric(float64(jsS)/float64(jsN), "js-extra-ratio")
			}
			b.Logf("native %v/%v, sbx %v/%v (plain/js)", t[0][0]/n, t[0][1]/n, t[1][0]/n, t[1][1]/n)
		})
	}
}
