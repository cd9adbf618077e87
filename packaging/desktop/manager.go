package desktop

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// State says where an application stands.
type State string

const (
	Wrapped   State = "wrapped"   // an override runs it through sbx
	Wrappable State = "wrappable" // it has a profile and no override yet
	Stale     State = "stale"     // an override exists but its original changed or went away
)

// App is one application entry as sbx desktop sees it.
type App struct {
	ID       string `json:"id"`
	State    State  `json:"state"`
	Profile  string `json:"profile"`
	Program  string `json:"program,omitempty"`
	Source   string `json:"source,omitempty"`   // the original entry
	Override string `json:"override,omitempty"` // the override sbx wrote
	Reason   string `json:"reason,omitempty"`   // why an override is stale
}

// Manager finds application entries and writes or removes overrides in Target.
type Manager struct {
	// SourceDirs are the applications directories in precedence order (from XDG_DATA_DIRS).
	SourceDirs []string
	// Target is where overrides go: ~/.local/share/applications, or
	// /usr/local/share/applications for the whole system.
	Target string
	// Sbx is the absolute path of the sbx binary the overrides run.
	Sbx string
	// ProfileOf names the profile of a program; ok is false when only the default applies.
	ProfileOf func(program string) (profile string, ok bool)
}

type source struct {
	id, path, program string // program is "" when the entry is not a launchable application
}

// sources reads the application entries of SourceDirs, the first of each ID winning, as a
// desktop environment resolves them. Target and sbx's own overrides are never sources.
func (m *Manager) sources() map[string]source {
	out := map[string]source{}
	for _, dir := range m.SourceDirs {
		if filepath.Clean(dir) == filepath.Clean(m.Target) {
			continue
		}
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".desktop") {
				return nil
			}
			rel, _ := filepath.Rel(dir, path)
			id := ID(rel)
			if _, seen := out[id]; seen {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			e, err := Parse(data)
			if err != nil {
				return nil
			}
			if v, _ := e.Get(mainGroup, KeyProfile); v != "" {
				return nil
			}
			s := source{id: id, path: path}
			t, _ := e.Get(mainGroup, "Type")
			hidden, _ := e.Get(mainGroup, "Hidden")
			if prog, err := Program(e); err == nil && t == "Application" && hidden != "true" {
				s.program = prog
				if te, _ := e.Get(mainGroup, "TryExec"); te != "" {
					s.program = unescapeString(te)
				}
			}
			out[id] = s
			return nil
		})
	}
	return out
}

// List returns every wrapped, stale and wrappable application, sorted by ID.
func (m *Manager) List() ([]App, error) {
	srcs := m.sources()
	apps := map[string]App{}
	ents, err := os.ReadDir(m.Target)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	taken := map[string]bool{}
	for _, d := range ents {
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".desktop") {
			continue
		}
		id := ID(d.Name())
		taken[id] = true
		path := filepath.Join(m.Target, d.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		e, err := Parse(data)
		if err != nil {
			continue
		}
		prof, _ := e.Get(mainGroup, KeyProfile)
		if prof == "" {
			continue // the user's own override: not ours to list or touch
		}
		a := App{ID: id, State: Wrapped, Profile: prof, Override: path}
		a.Source, _ = e.Get(mainGroup, KeySource)
		sum, _ := e.Get(mainGroup, KeySourceSHA256)
		if s, ok := srcs[id]; ok {
			a.Program = s.program
		}
		orig, err := os.ReadFile(a.Source)
		runs := ""
		if v, ok := e.Get(mainGroup, "Exec"); ok {
			if args, err := SplitExec(v); err == nil {
				runs = args[0]
			}
		}
		_, runsErr := os.Stat(runs)
		switch {
		case err != nil:
			a.State, a.Reason = Stale, "the original entry is gone"
		case runsErr != nil:
			a.State, a.Reason = Stale, "the sbx it runs ("+runs+") is gone"
		case hashOf(orig) != sum:
			a.State, a.Reason = Stale, "the original entry changed"
		default:
			if s, ok := srcs[id]; ok && s.path != a.Source {
				a.State, a.Reason = Stale, "another entry now provides "+id+" ("+s.path+")"
			} else if p, ok := m.ProfileOf(a.Program); a.Program != "" && (!ok || p != prof) {
				a.State, a.Reason = Stale, "the app's profile is now "+p
			}
		}
		apps[id] = a
	}
	for id, s := range srcs {
		if taken[id] || s.program == "" {
			continue
		}
		if p, ok := m.ProfileOf(s.program); ok {
			apps[id] = App{ID: id, State: Wrappable, Profile: p, Program: s.program, Source: s.path}
		}
	}
	out := make([]App, 0, len(apps))
	for _, a := range apps {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func hashOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// matches reports whether name designates a: its desktop ID (with or without .desktop),
// its program's name or its profile.
func matches(a App, name string) bool {
	return a.ID == strings.TrimSuffix(name, ".desktop") || (a.Program != "" && filepath.Base(a.Program) == name) || a.Profile == name
}

// selectApps picks the apps named (all of them with all) among those in one of states.
func selectApps(apps []App, names []string, all bool, states ...State) ([]App, error) {
	var out []App
	found := map[string]bool{}
	for _, a := range apps {
		if !slices.Contains(states, a.State) {
			continue
		}
		hit := all
		for _, n := range names {
			if matches(a, n) {
				found[n], hit = true, true
			}
		}
		if hit {
			out = append(out, a)
		}
	}
	for _, n := range names {
		if !found[n] {
			return nil, fmt.Errorf("%s: no application entry matches", n)
		}
	}
	return out, nil
}

// Install writes overrides for the named apps (every wrappable or stale one with all) and
// returns them, and the named apps that were wrapped already (left as they are).
func (m *Manager) Install(names []string, all bool) (written, already []App, err error) {
	apps, err := m.List()
	if err != nil {
		return nil, nil, err
	}
	states := []State{Wrappable, Stale}
	if !all {
		states = append(states, Wrapped)
	}
	sel, err := selectApps(apps, names, all, states...)
	if err != nil {
		return nil, nil, fmt.Errorf("%w with a profile (see 'sbx desktop list')", err)
	}
	if err := os.MkdirAll(m.Target, 0o755); err != nil {
		return nil, nil, err
	}
	for _, a := range sel {
		if a.State == Wrapped {
			already = append(already, a)
			continue
		}
		if a.State == Stale {
			// Re-wrap from what provides the ID now; a stale override whose original is gone
			// can only be removed.
			src, ok := m.sources()[a.ID]
			if !ok || src.program == "" {
				continue
			}
			p, ok := m.ProfileOf(src.program)
			if !ok {
				continue
			}
			a.Source, a.Profile, a.Program = src.path, p, src.program
		}
		data, err := os.ReadFile(a.Source)
		if err != nil {
			return written, already, err
		}
		out, err := Wrap(data, a.Source, m.Sbx, a.Profile)
		if err != nil {
			return written, already, fmt.Errorf("%s: %w", a.ID, err)
		}
		a.Override = filepath.Join(m.Target, a.ID+".desktop")
		if err := writeAtomic(a.Override, out); err != nil {
			return written, already, err
		}
		a.State, a.Reason = Wrapped, ""
		written = append(written, a)
	}
	return written, already, nil
}

// Remove deletes the overrides of the named apps (all of sbx's with all), restoring the
// original entries in the menu. Files sbx did not write are never touched.
func (m *Manager) Remove(names []string, all bool) ([]App, error) {
	apps, err := m.List()
	if err != nil {
		return nil, err
	}
	sel, err := selectApps(apps, names, all, Wrapped, Stale)
	if err != nil {
		return nil, fmt.Errorf("%w with an sbx override (see 'sbx desktop list')", err)
	}
	for _, a := range sel {
		if err := os.Remove(a.Override); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return sel, nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".sbx-desktop-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
