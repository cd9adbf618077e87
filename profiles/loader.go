package profiles

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed builtin/*.toml
var builtinFS embed.FS

// Loader finds, loads and resolves profiles.
type Loader struct {
	// Path is searched in order before the built-in profiles (earlier wins).
	Path []string
	Env  Env
	// NoBuiltin hides the embedded profiles (tests).
	NoBuiltin bool
}

// DefaultPath is $SBX_PROFILE_PATH (colon-separated), ~/.config/sbx/profiles,
// /etc/sbx/profiles.
func DefaultPath(env Env) []string {
	var out []string
	if p := os.Getenv("SBX_PROFILE_PATH"); p != "" {
		for _, d := range strings.Split(p, ":") {
			if d != "" {
				out = append(out, d)
			}
		}
	}
	return append(out, filepath.Join(env.ConfigHome, "sbx/profiles"), "/etc/sbx/profiles")
}

// NewLoader returns a loader over the default search path and the host environment.
func NewLoader() *Loader {
	env := HostEnv()
	return &Loader{Path: DefaultPath(env), Env: env}
}

// BuiltinPrefix marks files of the embedded profiles.
const BuiltinPrefix = "builtin:"

// ErrNotFound is returned for a profile name found nowhere.
var ErrNotFound = errors.New("profile not found")

// find returns the source of the profile called name.
func (l *Loader) find(name string) (file string, src []byte, err error) {
	if strings.ContainsAny(name, "/\\") || name == "" || strings.HasPrefix(name, ".") {
		return "", nil, fmt.Errorf("%q is not a profile name", name)
	}
	for _, dir := range l.Path {
		p := filepath.Join(dir, name+".toml")
		if b, err := os.ReadFile(p); err == nil {
			return p, b, nil
		}
	}
	if !l.NoBuiltin {
		if b, err := builtinFS.ReadFile("builtin/" + name + ".toml"); err == nil {
			return BuiltinPrefix + name + ".toml", b, nil
		}
	}
	return "", nil, fmt.Errorf("%w: %s (searched %s%s)", ErrNotFound, name, strings.Join(l.Path, ", "), builtinNote(l))
}

func builtinNote(l *Loader) string {
	if l.NoBuiltin {
		return ""
	}
	return " and the built-in profiles"
}

// Load resolves a profile given by name or by path to a .toml file.
func (l *Loader) Load(nameOrFile string) (*Profile, error) {
	if strings.HasSuffix(nameOrFile, ".toml") || strings.ContainsRune(nameOrFile, '/') {
		src, err := os.ReadFile(nameOrFile)
		if err != nil {
			return nil, fmt.Errorf("reading profile: %w", err)
		}
		name := strings.TrimSuffix(filepath.Base(nameOrFile), ".toml")
		return l.resolve(name, nameOrFile, src)
	}
	file, src, err := l.find(nameOrFile)
	if err != nil {
		return nil, err
	}
	return l.resolve(nameOrFile, file, src)
}

// Check validates one file and returns every problem in it and its includes.
func (l *Loader) Check(file string) Errors {
	src, err := os.ReadFile(file)
	if err != nil {
		return Errors{{File: file, Msg: err.Error()}}
	}
	_, err = l.resolve(strings.TrimSuffix(filepath.Base(file), ".toml"), file, src)
	var es Errors
	if errors.As(err, &es) {
		return es
	}
	if err != nil {
		return Errors{{File: file, Msg: err.Error()}}
	}
	return nil
}

// resolve parses a profile and its includes and merges them.
func (l *Loader) resolve(name, file string, src []byte) (*Profile, error) {
	r := &resolver{l: l, parsed: map[string]*layer{}}
	top, errs := parseLayer(name, file, src, l.Env)
	if errs != nil {
		r.errs = append(r.errs, errs...)
	}
	var merged *merger
	if top != nil {
		merged = r.merge(top, []string{name})
		r.errs = append(r.errs, merged.unsettled()...)
	}
	if len(r.errs) > 0 {
		return nil, r.errs
	}
	return merged.profile(name, file), nil
}

type resolver struct {
	l      *Loader
	parsed map[string]*layer
	errs   Errors
}

// merge resolves l's includes depth-first, then overlays l itself.
func (r *resolver) merge(ly *layer, stack []string) *merger {
	var base *merger
	for _, inc := range ly.include {
		for i, s := range stack {
			if s == inc {
				cycle := append(append([]string(nil), stack[i:]...), inc)
				line, col := indexPositions(nil).at("include", "")
				if src, err := r.sourceOf(ly); err == nil {
					line, col = indexPositions(src).at("include", `"`+inc+`"`)
				}
				r.errs = append(r.errs, &Error{File: ly.file, Line: line, Col: col, Key: "include",
					Msg: fmt.Sprintf("include cycle %s (remove one of these includes)", strings.Join(cycle, " → "))})
				return newMerger()
			}
		}
		child, ok := r.parsed[inc]
		if !ok {
			file, src, err := r.l.find(inc)
			if err != nil {
				line, col := 0, 0
				if s, err2 := r.sourceOf(ly); err2 == nil {
					line, col = indexPositions(s).at("include", `"`+inc+`"`)
				}
				r.errs = append(r.errs, &Error{File: ly.file, Line: line, Col: col, Key: "include",
					Msg: fmt.Sprintf("included profile %q not found (see `sbx profile list`)", inc)})
				continue
			}
			var errs Errors
			child, errs = parseLayer(inc, file, src, r.l.Env)
			r.errs = append(r.errs, errs...)
			if child == nil {
				continue
			}
			r.parsed[inc] = child
		}
		m := r.merge(child, append(stack, inc))
		if base == nil {
			base = m
		} else {
			base.combine(m)
		}
	}
	if base == nil {
		base = newMerger()
	}
	base.overlay(ly)
	return base
}

func (r *resolver) sourceOf(ly *layer) ([]byte, error) {
	if name, ok := strings.CutPrefix(ly.file, BuiltinPrefix); ok {
		return builtinFS.ReadFile("builtin/" + name)
	}
	return os.ReadFile(ly.file)
}

// Entry is one profile on the search path.
type Entry struct {
	Name, Description, File string
	// Shadowed lists files of the same name that this one hides.
	Shadowed []string
}

// List returns every profile visible on the search path and built in, by name.
func (l *Loader) List() []Entry {
	byName := map[string]*Entry{}
	var order []string
	add := func(name, file string, src []byte) {
		if e, ok := byName[name]; ok {
			e.Shadowed = append(e.Shadowed, file)
			return
		}
		byName[name] = &Entry{Name: name, File: file, Description: descriptionOf(src)}
		order = append(order, name)
	}
	for _, dir := range l.Path {
		files, _ := filepath.Glob(filepath.Join(dir, "*.toml"))
		sort.Strings(files)
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil {
				add(strings.TrimSuffix(filepath.Base(f), ".toml"), f, b)
			}
		}
	}
	if !l.NoBuiltin {
		ents, _ := fs.ReadDir(builtinFS, "builtin")
		for _, e := range ents {
			b, _ := builtinFS.ReadFile("builtin/" + e.Name())
			add(strings.TrimSuffix(e.Name(), ".toml"), BuiltinPrefix+e.Name(), b)
		}
	}
	sort.Strings(order)
	out := make([]Entry, 0, len(order))
	for _, n := range order {
		out = append(out, *byName[n])
	}
	return out
}

func descriptionOf(src []byte) string {
	for _, line := range strings.Split(string(src), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "description"); ok {
			v = strings.TrimSpace(v)
			if v, ok = strings.CutPrefix(v, "="); ok {
				return strings.Trim(strings.TrimSpace(v), `"`)
			}
		}
	}
	return ""
}

// Match is the result of Which.
type Match struct {
	Name, File, Reason string
}

// Which says which profile `sbx run APP` uses and why: a profile named like the app, else
// one listing the app (or its path) in binaries, else "default".
func (l *Loader) Which(app string) (Match, error) {
	base := filepath.Base(app)
	if file, _, err := l.find(base); err == nil && !isFragment(base) {
		return Match{base, file, fmt.Sprintf("a profile is named %q", base)}, nil
	}
	resolved := app
	if filepath.IsAbs(app) {
		if p, err := filepath.EvalSymlinks(app); err == nil {
			resolved = p
		}
	}
	for _, e := range l.List() {
		src, err := l.sourceByFile(e.File)
		if err != nil {
			continue
		}
		if !mayList(src, base, filepath.Base(resolved)) {
			continue // parsing all profiles is most of `sbx run`'s own start-up
		}
		ly, _ := parseLayer(e.Name, e.File, src, l.Env)
		if ly == nil {
			continue
		}
		bins, _ := ly.values["binaries"].([]string)
		for _, b := range bins {
			switch {
			case b == app || b == resolved:
				return Match{e.Name, e.File, fmt.Sprintf("its binaries list %s", b)}, nil
			case !strings.Contains(b, "/") && (b == base || b == filepath.Base(resolved)):
				return Match{e.Name, e.File, fmt.Sprintf("its binaries list %q", b)}, nil
			}
		}
	}
	file, _, err := l.find("default")
	if err != nil {
		return Match{}, err
	}
	return Match{"default", file, fmt.Sprintf("no profile matches %q", app)}, nil
}

// mayList reports whether a profile's source could list a binary named base or alt: an
// entry that matches ends with one of them as written, then its closing quote (binaries
// are plain strings, never expanded), unless the source has escapes ("\u0066"), which
// then has to be parsed to tell.
func mayList(src []byte, base, alt string) bool {
	for _, name := range []string{base, alt} {
		if bytes.Contains(src, []byte(name+`"`)) || bytes.Contains(src, []byte(name+"'")) {
			return true
		}
	}
	return bytes.ContainsRune(src, '\\')
}

// isFragment reports names of include-only fragments, which never match an app by name.
func isFragment(name string) bool {
	switch name {
	case "gui", "audio", "network", "gpu", "x11", "wayland", "dbus-portal", "webbrowser", "electron", "devel":
		return true
	}
	return false
}

func (l *Loader) sourceByFile(file string) ([]byte, error) {
	if name, ok := strings.CutPrefix(file, BuiltinPrefix); ok {
		return builtinFS.ReadFile("builtin/" + name)
	}
	return os.ReadFile(file)
}
