package profiles

import (
	"bufio"
	"os"
	"os/user"
	"path/filepath"
	"strings"
)

// Env is what profile variables expand to.
type Env struct {
	Home, ConfigHome, DataHome, CacheHome, RuntimeDir, Downloads string
	// Cwd is the directory sbx was started in.
	Cwd string
}

// Vars lists the variables profiles may use, besides a leading ~.
var Vars = []string{"HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "DOWNLOADS", "CWD"}

func (e Env) lookup(name string) (string, bool) {
	switch name {
	case "HOME":
		return e.Home, true
	case "XDG_CONFIG_HOME":
		return e.ConfigHome, true
	case "XDG_DATA_HOME":
		return e.DataHome, true
	case "XDG_CACHE_HOME":
		return e.CacheHome, true
	case "XDG_RUNTIME_DIR":
		return e.RuntimeDir, true
	case "DOWNLOADS":
		return e.Downloads, true
	case "CWD":
		return e.Cwd, true
	}
	return "", false
}

// HostEnv reads the variables from the real environment, with the XDG defaults and the
// user's Downloads directory from user-dirs.dirs when present.
func HostEnv() Env {
	home := os.Getenv("HOME")
	if home == "" {
		if u, err := user.Current(); err == nil {
			home = u.HomeDir
		}
	}
	get := func(k, def string) string {
		if v := os.Getenv(k); filepath.IsAbs(v) {
			return v
		}
		return def
	}
	e := Env{Home: home, ConfigHome: get("XDG_CONFIG_HOME", filepath.Join(home, ".config")),
		DataHome: get("XDG_DATA_HOME", filepath.Join(home, ".local/share")), CacheHome: get("XDG_CACHE_HOME", filepath.Join(home, ".cache")),
		RuntimeDir: get("XDG_RUNTIME_DIR", filepath.Join("/run/user", itoa(os.Getuid())))}
	e.Downloads = filepath.Join(home, "Downloads")
	e.Cwd = "/"
	if wd, err := os.Getwd(); err == nil {
		e.Cwd = wd
	}
	if d := userDir(filepath.Join(e.ConfigHome, "user-dirs.dirs"), "XDG_DOWNLOAD_DIR", home); d != "" {
		e.Downloads = d
	}
	return e
}

// userDir reads one entry of user-dirs.dirs ($HOME-relative, shell-quoted).
func userDir(file, key, home string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		v, ok := strings.CutPrefix(line, key+"=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		v = strings.Replace(v, "$HOME", home, 1)
		if filepath.IsAbs(v) {
			return filepath.Clean(v)
		}
	}
	return ""
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	neg := i < 0
	if neg {
		i = -i
	}
	for i > 0 {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
	}
	if neg {
		b = append([]byte{'-'}, b...)
	}
	return string(b)
}
