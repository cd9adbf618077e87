package desktop

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
)

// Keys sbx adds to the overrides it writes. X-SBX-Profile names the profile; the source keys
// let `sbx desktop list` tell an override whose original changed or went away (stale).
const (
	KeyProfile      = "X-SBX-Profile"
	KeySource       = "X-SBX-Source"
	KeySourceSHA256 = "X-SBX-Source-SHA256"
)

const mainGroup = "Desktop Entry"

// Program returns the program an entry runs: the first argument of its Exec, or for
// `env VAR=value... PROGRAM`, the program env starts.
func Program(e *Entry) (string, error) {
	v, ok := e.Get(mainGroup, "Exec")
	if !ok {
		return "", fmt.Errorf("no Exec key")
	}
	args, err := SplitExec(v)
	if err != nil {
		return "", err
	}
	if filepath.Base(args[0]) == "env" {
		for _, a := range args[1:] {
			if !strings.Contains(a, "=") || strings.HasPrefix(a, "-") {
				return a, nil
			}
		}
	}
	return args[0], nil
}

// Wrap returns the override of the entry at source (whose bytes are data): every Exec (of
// the entry and of its actions) runs `sbx run --profile PROFILE -- ORIGINAL ARGS...`, field
// codes kept; D-Bus activation is turned off so the menu cannot start the app outside
// sbx; everything else (Icon, MimeType, Actions, TryExec, translations) is kept as it is.
func Wrap(data []byte, source, sbx, profile string) ([]byte, error) {
	e, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if v, _ := e.Get(mainGroup, KeyProfile); v != "" {
		return nil, fmt.Errorf("%s is already an sbx override", source)
	}
	groups := e.Groups()
	wrapped := 0
	for _, g := range groups {
		if g != mainGroup && !strings.HasPrefix(g, "Desktop Action ") {
			continue
		}
		v, ok := e.Get(g, "Exec")
		if !ok {
			continue
		}
		args, err := SplitExec(v)
		if err != nil {
			return nil, fmt.Errorf("[%s] %w", g, err)
		}
		e.Set(g, "Exec", JoinExec(append([]string{sbx, "run", "--profile", profile, "--"}, args...)))
		wrapped++
	}
	if _, ok := e.Get(mainGroup, "Exec"); !ok {
		return nil, fmt.Errorf("%s has no Exec to wrap", source)
	}
	e.Delete(mainGroup, "DBusActivatable")
	sum := sha256.Sum256(data)
	e.Set(mainGroup, KeyProfile, profile)
	e.Set(mainGroup, KeySource, source)
	e.Set(mainGroup, KeySourceSHA256, hex.EncodeToString(sum[:]))
	return e.Bytes(), nil
}

// ID is the desktop file ID of the file at rel (relative to an applications directory):
// subdirectories joined with '-'.
func ID(rel string) string {
	return strings.ReplaceAll(strings.TrimSuffix(filepath.ToSlash(rel), ".desktop"), "/", "-")
}
