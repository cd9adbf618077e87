package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// windowPage is the page the window test serves. Its title changes to windowTitle two
// frames after the load event, so a window named windowTitle shows the page drawn.
const windowPage = `<html><head><title>loading</title></head><body style="margin:0;background:#fff">` +
	`<div style="background:rgb(12,34,200);height:120px"></div><h1 style="color:#c00">Hello sbx</h1>` +
	`<div style="width:200px;height:100px;background:linear-gradient(90deg,#00f,#0f0)"></div>` +
	`<p>The quick brown fox</p><script>addEventListener("load", () => requestAnimationFrame(() => ` +
	`requestAnimationFrame(() => { document.title = "` + windowTitle + `"; })));</script></body></html>`

const windowTitle = "sbx-window-test"

// TestBrowserWindow runs `sbx run firefox URL` and `sbx run chromium URL` through Debian's
// /usr/bin wrapper scripts, with the browsers' own sandboxes on, showing a page a local web
// server serves (the test's profile lets the sandbox reach that one host loopback port) in
// a kiosk window on an Xvfb of the test's own: the screen must match the native run's
// within maxWindowDiff pixels. While the window shows, the browser's own sandbox report is
// read through its remote protocol (the test's profile lets it listen on one loopback port)
// and must equal the native one:
//   - Firefox: about:support's "sandbox" section, the Troubleshoot module's snapshot read
//     through Marionette in the chrome context (seccomp-bpf, TSYNC, user namespaces, content
//     sandbox level and effective level, rejected syscalls);
//   - Chromium: chrome://sandbox's status table read through the DevTools protocol (layer 1
//     sandbox SUID or namespace, PID and network namespaces, seccomp-BPF and its TSYNC,
//     Yama), and its verdict ("You are adequately sandboxed.").
//
// The browsers run as the unprivileged test user: Chromium refuses root with its sandbox.
func TestBrowserWindow(t *testing.T) {
	users := sbxtest.Users()
	u := users[len(users)-1]
	for _, b := range []struct {
		name    string // the command run, natively and under sbx
		profile string // the profile `sbx run NAME` picks
		window  string // the window's name once the page is drawn
		argv    func(dir string, port int, url string) []string
		status  func(t *testing.T, port int) map[string]string
	}{
		{"firefox", "firefox", windowTitle + " — Mozilla Firefox", func(dir string, port int, url string) []string {
			// Marionette listens on the port the profile directory's user.js names.
			prof := filepath.Join(dir, "ff-profile")
			os.MkdirAll(prof, 0o777)
			os.Chmod(prof, 0o777)
			os.WriteFile(filepath.Join(prof, "user.js"), []byte(fmt.Sprintf("user_pref(\"marionette.port\", %d);\n", port)), 0o666)
			return []string{"firefox", "--kiosk", "--marionette", "--remote-allow-system-access", "-profile", prof, url}
		}, firefoxSandboxStatus},
		{"chromium", "chromium", windowTitle + " - Chromium", func(dir string, port int, url string) []string {
			return []string{"chromium", "--kiosk", "--no-first-run", "--password-store=basic",
				"--remote-debugging-port=" + strconv.Itoa(port), url}
		}, chromiumSandboxStatus},
	} {
		t.Run(b.name, func(t *testing.T) {
			if _, err := exec.LookPath(b.name); err != nil {
				t.Skipf("%s is not installed (make test installs it)", b.name)
			}
			if _, err := exec.LookPath("xwininfo"); err != nil {
				t.Skip("xwininfo is not installed (make test installs it)")
			}
			bin := sbxtest.Binary(t)
			// Not t.TempDir: its parents are closed to the unprivileged test user.
			dir, err := os.MkdirTemp("", "sbx-browser-window-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			os.Chmod(dir, 0o755)
			x := startAuthXvfb(t, dir, "-screen", "0", "800x600x24")
			// (On one loaded CPU native Chromium took 76 s to show the page; only a hang
			// should reach this bound.)
			x.windowWait = 5 * time.Minute
			blank := filepath.Join(dir, "blank.png")
			imp := exec.Command("import", "-window", "root", blank)
			imp.Env = x.env()
			if out, err := imp.CombinedOutput(); err != nil {
				t.Fatalf("import: %v: %s", err, out)
			}

			srv, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			go http.Serve(srv, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				io.WriteString(w, windowPage)
			}))
			url := "http://" + srv.Addr().String() + "/"
			port := freePort(t)
			// The browser's profile plus the test's two loopback ports: the page's server on
			// the host, and the browser's remote protocol listening there.
			profile := filepath.Join(dir, "window-test.toml")
			os.WriteFile(profile, []byte(fmt.Sprintf("description = \"%s, the window test's server and remote protocol port\"\n"+
				"include = [%q]\n[network]\nhost = [%q]\nlisten = [\"127.0.0.1:%d\"]\n", b.name, b.profile, srv.Addr().String(), port)), 0o644)

			status := map[string]map[string]string{}
			for _, side := range []string{"native", "sbx"} {
				work := filepath.Join(dir, side)
				home := filepath.Join(work, "home")
				os.MkdirAll(home, 0o777)
				os.Chmod(work, 0o777)
				os.Chmod(home, 0o777)
				argv := b.argv(work, port, url)
				if side == "sbx" {
					argv = append([]string{bin, "run", "--profile", profile, "--rw", work, "--"}, argv...)
				}
				argv = u.Wrap(append([]string{"env", "HOME=" + home}, argv...))
				start := time.Now()
				x.screenshotThen(t, filepath.Join(dir, side+".png"), blank, b.window, func() {
					t.Logf("%s: page shown after %v", side, time.Since(start).Round(time.Millisecond))
					status[side] = b.status(t, port)
				}, argv...)
			}
			// SBX_TEST_KEEP_SCREENSHOTS=DIR keeps the two screenshots there, to look at.
			if keep := os.Getenv("SBX_TEST_KEEP_SCREENSHOTS"); keep != "" {
				for _, side := range []string{"native", "sbx"} {
					png, _ := os.ReadFile(filepath.Join(dir, side+".png"))
					os.WriteFile(filepath.Join(keep, b.name+"-"+side+".png"), png, 0o644)
				}
			}
			const maxWindowDiff = 800 * 600 / 1000 // 0.1% of the screen; it has been 0 here
			drawn := differingPixels(t, blank, filepath.Join(dir, "sbx.png"))
			d := differingPixels(t, filepath.Join(dir, "native.png"), filepath.Join(dir, "sbx.png"))
			if drawn < 10000 {
				t.Errorf("%s under sbx drew %d pixels only", b.name, drawn)
			}
			if d > maxWindowDiff {
				t.Errorf("%s's window under sbx differs from native in %d pixels (at most %d may)", b.name, d, maxWindowDiff)
			}
			t.Logf("%d pixels drawn, %d differ from native; sandbox status natively: %v", drawn, d, status["native"])
			if len(status["native"]) == 0 {
				t.Fatalf("no sandbox status natively")
			}
			for k, v := range status["native"] {
				if status["sbx"][k] != v {
					t.Errorf("sandbox status %q: %q under sbx, %q natively", k, status["sbx"][k], v)
				}
			}
			for k := range status["sbx"] {
				if _, ok := status["native"][k]; !ok {
					t.Errorf("sandbox status %q: %q under sbx, absent natively", k, status["sbx"][k])
				}
			}
		})
	}
}

// dialRetry connects to a loopback port, retrying while the browser starts listening.
func dialRetry(t *testing.T, port int) net.Conn {
	t.Helper()
	for deadline := time.Now().Add(sbxtest.Timeout); ; time.Sleep(200 * time.Millisecond) {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("connecting to the browser's remote protocol on port %d: %v", port, err)
		}
	}
}

// firefoxSandboxStatus reads about:support's sandbox section (Troubleshoot.snapshot()'s
// "sandbox") through Marionette in the chrome context.
func firefoxSandboxStatus(t *testing.T, port int) map[string]string {
	t.Helper()
	c := dialRetry(t, port)
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Minute)) // (a loaded CI run's Firefox took over 30 s)
	r := bufio.NewReader(c)
	// Marionette frames are "LENGTH:JSON"; the server speaks first.
	recv := func() json.RawMessage {
		n, err := r.ReadString(':')
		if err != nil {
			t.Fatalf("marionette: %v", err)
		}
		size, err := strconv.Atoi(strings.TrimSuffix(n, ":"))
		if err != nil || size > 1<<20 {
			t.Fatalf("marionette: bad frame length %q", n)
		}
		b := make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			t.Fatalf("marionette: %v", err)
		}
		return b
	}
	id := 0
	call := func(cmd string, params any) json.RawMessage {
		id++
		msg, _ := json.Marshal([]any{0, id, cmd, params})
		if _, err := fmt.Fprintf(c, "%d:%s", len(msg), msg); err != nil {
			t.Fatalf("marionette: %v", err)
		}
		var resp []json.RawMessage
		if err := json.Unmarshal(recv(), &resp); err != nil || len(resp) != 4 {
			t.Fatalf("marionette %s: bad response", cmd)
		}
		if string(resp[2]) != "null" {
			t.Fatalf("marionette %s: %s", cmd, resp[2])
		}
		return resp[3]
	}
	recv() // the greeting
	call("WebDriver:NewSession", map[string]any{})
	call("Marionette:SetContext", map[string]string{"value": "chrome"})
	out := call("WebDriver:ExecuteScript", map[string]any{"args": []any{}, "script": `
		const {Troubleshoot} = ChromeUtils.importESModule("resource://gre/modules/Troubleshoot.sys.mjs");
		return Troubleshoot.snapshot().then(s => s.sandbox);`})
	var v struct{ Value map[string]any }
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("marionette: %s: %v", out, err)
	}
	status := map[string]string{}
	for k, x := range v.Value {
		b, _ := json.Marshal(x)
		status[k] = string(b)
	}
	for _, k := range []string{"hasSeccompBPF", "canSandboxContent"} {
		if status[k] != "true" {
			t.Errorf("about:support says %s = %s", k, status[k])
		}
	}
	return status
}

// chromiumSandboxStatus opens chrome://sandbox in a new tab through the DevTools protocol
// and returns its status table ("Seccomp-BPF sandbox" → "Yes", ...).
func chromiumSandboxStatus(t *testing.T, port int) map[string]string {
	t.Helper()
	dialRetry(t, port).Close()
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("http://127.0.0.1:%d/json/new?chrome://sandbox", port), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("devtools: opening chrome://sandbox: %v", err)
	}
	var target struct{ WebSocketDebuggerURL string }
	err = json.NewDecoder(resp.Body).Decode(&target)
	resp.Body.Close()
	if err != nil || target.WebSocketDebuggerURL == "" {
		t.Fatalf("devtools: opening chrome://sandbox: %v (%+v)", err, target)
	}
	ws, err := dialWebSocket(target.WebSocketDebuggerURL)
	if err != nil {
		t.Fatalf("devtools: %v", err)
	}
	defer ws.Close()
	var text string
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		ws.SetDeadline(time.Now().Add(time.Minute))
		if err := ws.send(`{"id":1,"method":"Runtime.evaluate","params":{"expression":"document.body ? document.body.innerText : ''","returnByValue":true}}`); err != nil {
			t.Fatalf("devtools: %v", err)
		}
		var r struct {
			ID     int
			Result struct{ Result struct{ Value string } }
		}
		for r.ID != 1 {
			msg, err := ws.recv()
			if err != nil {
				t.Fatalf("devtools: %v", err)
			}
			json.Unmarshal(msg, &r)
		}
		text = r.Result.Result.Value
		if strings.Contains(text, "sandboxed.") || time.Now().After(deadline) {
			break
		}
	}
	// The table: a name line, then its value line (Yes, No, or a short text).
	status := map[string]string{}
	lines := strings.Split(text, "\n")
	for i := 0; i+1 < len(lines); i++ {
		name, value := strings.TrimSpace(lines[i]), strings.TrimSpace(lines[i+1])
		if strings.Contains(name, "\t") {
			f := strings.SplitN(name, "\t", 2)
			status[strings.TrimSpace(f[0])] = strings.TrimSpace(f[1])
			continue
		}
		if value == "Yes" || value == "No" {
			status[name] = value
			i++
		}
	}
	for _, l := range lines {
		if strings.Contains(l, "sandboxed.") {
			status["verdict"] = strings.TrimSpace(l)
		}
	}
	for k, want := range map[string]string{"Layer 1 Sandbox": "Namespace", "PID namespaces": "Yes", "Network namespaces": "Yes",
		"Seccomp-BPF sandbox": "Yes", "Seccomp-BPF sandbox supports TSYNC": "Yes"} {
		if status[k] != want {
			t.Errorf("chrome://sandbox says %s: %q, want %q (page: %q)", k, status[k], want, text)
		}
	}
	return status
}

// webSocket is the client side of a WebSocket connection (RFC 6455), enough for the
// DevTools protocol: masked text frames out, unfragmented or fragmented frames in.
type webSocket struct {
	net.Conn
	r *bufio.Reader
}

func dialWebSocket(url string) (*webSocket, error) {
	rest, ok := strings.CutPrefix(url, "ws://")
	if !ok {
		return nil, fmt.Errorf("not a ws:// URL: %q", url)
	}
	host, path, _ := strings.Cut(rest, "/")
	c, err := net.Dial("tcp", host)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(time.Minute))
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(c, "GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", path, host, base64.StdEncoding.EncodeToString(key))
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, fmt.Errorf("websocket handshake: %s", resp.Status)
	}
	return &webSocket{Conn: c, r: r}, nil
}

func (w *webSocket) send(text string) error {
	hdr := []byte{0x81} // FIN, text
	n := len(text)
	switch {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 1<<16:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	mask := make([]byte, 4)
	rand.Read(mask)
	hdr = append(hdr, mask...)
	body := []byte(text)
	for i := range body {
		body[i] ^= mask[i%4]
	}
	_, err := w.Write(append(hdr, body...))
	return err
}

// recv returns the next data message, joining fragments and skipping control frames.
func (w *webSocket) recv() ([]byte, error) {
	var msg []byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(w.r, h[:]); err != nil {
			return nil, err
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(w.r, b[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(w.r, b[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		if n > 64<<20 {
			return nil, errors.New("websocket frame too large")
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(w.r, body); err != nil {
			return nil, err
		}
		op := h[0] & 0x0f
		if op == 8 {
			return nil, errors.New("websocket closed by the browser")
		}
		if op >= 8 { // ping, pong
			continue
		}
		msg = append(msg, body...)
		if h[0]&0x80 != 0 {
			return msg, nil
		}
	}
}
