package launcher

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// NestedX11Plan is an X server of the sandbox's own (x11 = "nested"): Xephyr, a window on
// the user's display, whose socket is the only X server the app can reach. The app thus
// sees only its own windows and cannot read the user's other windows or keystrokes.
type NestedX11Plan struct {
	Host     string // the user's DISPLAY, where Xephyr shows its window
	HostAuth string // the user's Xauthority file, for Xephyr's own connection ("" if none)
	Number   int    // the nested display's number
	Auth     []byte // the nested server's Xauthority file (one cookie)
	Title    string // the window's title
	Screen   string // the nested screen's size, WIDTHxHEIGHT
}

// startNestedX11 starts Xephyr for n and waits for its socket; the returned function stops
// it and removes its files.
func startNestedX11(n *NestedX11Plan) (func(), error) {
	dir, err := os.MkdirTemp("", "sbx-xephyr-")
	if err != nil {
		return nil, fmt.Errorf("nested X server: %w", err)
	}
	auth := filepath.Join(dir, "Xauthority")
	if err := os.WriteFile(auth, n.Auth, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("nested X server: %w", err)
	}
	disp := fmt.Sprintf(":%d", n.Number)
	// Why: -noreset keeps the server between the app's clients; -nolisten tcp keeps it
	// local; the app's connections come through the broker's X11 proxy like the user's
	// display's would.
	cmd := exec.Command("Xephyr", disp, "-auth", auth, "-nolisten", "tcp", "-noreset", "-resizeable",
		"-title", n.Title, "-screen", n.Screen)
	cmd.Env = append(os.Environ(), "DISPLAY="+n.Host)
	if n.HostAuth != "" {
		cmd.Env = append(cmd.Env, "XAUTHORITY="+n.HostAuth)
	}
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting Xephyr: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		// Why: SIGTERM lets Xephyr remove its socket and lock file.
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		os.RemoveAll(dir)
	}
	sock := fmt.Sprintf("/tmp/.X11-unix/X%d", n.Number)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			return stop, nil
		}
		select {
		case <-exited:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("the nested X server (Xephyr %s on %s) exited: %s", disp, n.Host, lastLine(log.String()))
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("the nested X server (Xephyr %s on %s) did not start within 10 s", disp, n.Host)
		}
	}
}

func lastLine(s string) string {
	lines := bytes.Split(bytes.TrimSpace([]byte(s)), []byte("\n"))
	return string(lines[len(lines)-1])
}
