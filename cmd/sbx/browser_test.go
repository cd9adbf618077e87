package main

import (
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// browserPage is the local page the browsers render: text, a gradient and colours.
const browserPage = `<html><body style="background:#fff"><h1 style="color:#c00">Hello sbx</h1>` +
	`<div style="width:200px;height:100px;background:linear-gradient(90deg,#00f,#0f0)"></div>` +
	`<p>The quick brown fox</p></body></html>`

// maxDiffPixels is the share of pixels a sandboxed screenshot may differ from the native one
// by (font hinting or timing could move a glyph edge); it has been 0 on this machine.
const maxDiffPixels = 0.001

// TestBrowserHeadlessScreenshot renders a local page with Chromium and Firefox ESR in
// headless mode, natively and under sbx with the browsers' own sandboxes on (no
// --no-sandbox, no MOZ_DISABLE_CONTENT_SANDBOX): the screenshots must match within
// maxDiffPixels. The browser's profile data must land in the home paths its sbx profile
// allows, and nothing else may appear in the host home. Chromium refuses to run as root
// with its sandbox, so the browsers run as the unprivileged test user (nobody when the
// tests run as root).
func TestBrowserHeadlessScreenshot(t *testing.T) {
	users := sbxtest.Users()
	u := users[len(users)-1]
	for _, b := range []struct {
		name    string
		argv    func(out, url string) []string
		profile string
		allowed []string // home entries the profile may create (top two levels); [3] keeps the profile data
	}{
		{"chromium", func(out, url string) []string {
			return []string{"chromium", "--headless", "--screenshot=" + out, "--window-size=400,300", url}
		}, "chromium", []string{".cache", ".cache/chromium", ".config", ".config/chromium", "Downloads"}},
		{"firefox-esr", func(out, url string) []string {
			return []string{"firefox-esr", "--headless", "--screenshot", out, "--window-size=400,300", url}
		}, "firefox-esr", []string{".cache", ".cache/mozilla", ".config", ".config/mozilla", "Downloads"}},
	} {
		t.Run(b.name, func(t *testing.T) {
			if _, err := exec.LookPath(b.name); err != nil {
				t.Skipf("%s is not installed (make test installs it)", b.name)
			}
			bin := sbxtest.Binary(t)
			// Not t.TempDir: its parents are closed to the unprivileged test user.
			dir, err := os.MkdirTemp("", "sbx-browser-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			os.Chmod(dir, 0o755)
			// The page and the screenshots live in work, the only directory shown besides
			// what the profile allows (not the homes next to it).
			work := filepath.Join(dir, "work")
			os.Mkdir(work, 0o777)
			os.Chmod(work, 0o777)
			page := filepath.Join(work, "page.html")
			os.WriteFile(page, []byte(browserPage), 0o644)
			homes := map[string]string{}
			for _, side := range []string{"native", "sbx"} {
				home := filepath.Join(dir, "home-"+side)
				os.Mkdir(home, 0o777)
				os.Chmod(home, 0o777)
				homes[side] = home
				out := filepath.Join(work, side+".png")
				argv := append([]string{"env", "HOME=" + home}, b.argv(out, "file://"+page)...)
				if side == "sbx" {
					argv = append([]string{"env", "HOME=" + home, bin, "run", "--profile", b.profile, "--rw", work, "--"}, b.argv(out, "file://"+page)...)
				}
				argv = u.Wrap(argv)
				// (Only a hang should end at this bound: on one loaded CPU native Chromium
				// took 94 s and the sandboxed one went past 2 minutes.)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				start := time.Now()
				outb, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
				cancel()
				if err != nil {
					t.Fatalf("%s %s: %v\n%s", side, b.name, err, tail(outb))
				}
				t.Logf("%s: %v", side, time.Since(start).Round(time.Millisecond))
			}
			differ, total := pngDiff(t, filepath.Join(work, "native.png"), filepath.Join(work, "sbx.png"))
			if float64(differ) > maxDiffPixels*float64(total) {
				t.Errorf("%d of %d pixels differ from the native screenshot (at most %.1f%% may)", differ, total, 100*maxDiffPixels)
			}
			// The profile data is kept where the profile allows, and nothing else was written.
			got := homeListing(homes["sbx"])
			var extra []string
			kept := false
			for _, p := range got {
				ok := false
				for _, a := range b.allowed {
					if p == a {
						ok = true
					}
				}
				if !ok {
					extra = append(extra, p)
				}
				if p == b.allowed[3] {
					kept = true
				}
			}
			if len(extra) > 0 {
				t.Errorf("sbx run %s wrote outside its profile's paths in the home: %v", b.name, extra)
			}
			if !kept {
				t.Fatalf("sbx run %s kept no profile data in ~/%s (home: %v)", b.name, b.allowed[3], got)
			}
			// The next run sees what this one wrote (the browser's preferences and state).
			keep := filepath.Join(homes["sbx"], b.allowed[3])
			argv := u.Wrap([]string{"env", "HOME=" + homes["sbx"], bin, "run", "--profile", b.profile, "--", "find", keep, "-type", "f"})
			next, err := exec.Command(argv[0], argv[1:]...).Output()
			if err != nil {
				t.Fatalf("listing ~/%s in a second run: %v", b.allowed[3], err)
			}
			host, _ := exec.Command("find", keep, "-type", "f").Output()
			if lines(next) != lines(host) || lines(host) == "" {
				t.Errorf("a second run sees other files in ~/%s than the host:\n%s\nhost:\n%s", b.allowed[3], next, host)
			}
		})
	}
}

// homeListing lists a home's entries two levels deep ("a", "a/b").
func homeListing(home string) []string {
	var out []string
	top, _ := os.ReadDir(home)
	for _, e := range top {
		out = append(out, e.Name())
		if e.IsDir() {
			sub, _ := os.ReadDir(filepath.Join(home, e.Name()))
			for _, s := range sub {
				out = append(out, e.Name()+"/"+s.Name())
			}
		}
	}
	sort.Strings(out)
	return out
}

// pngDiff counts the pixels two PNG files differ in (all of them when the sizes differ).
func pngDiff(t *testing.T, a, b string) (differ, total int) {
	t.Helper()
	load := func(p string) image.Image {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return img
	}
	ia, ib := load(a), load(b)
	r := ia.Bounds()
	total = r.Dx() * r.Dy()
	if ib.Bounds() != r {
		return total, total
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, a1 := ia.At(x, y).RGBA()
			r2, g2, b2, a2 := ib.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				differ++
			}
		}
	}
	return differ, total
}

// lines is a command's output lines, sorted.
func lines(b []byte) string {
	l := strings.Split(strings.TrimSpace(string(b)), "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
}

// tail is the end of a command's output, enough to see why it failed, without the lines
// GLib repeats about dconf (no writable ~/.cache/dconf natively).
func tail(b []byte) string {
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.Contains(l, "dconf") && strings.TrimSpace(l) != "" {
			keep = append(keep, l)
		}
	}
	s := strings.Join(keep, "\n")
	if len(s) > 3000 {
		s = s[len(s)-3000:]
	}
	return strings.TrimSpace(s)
}
