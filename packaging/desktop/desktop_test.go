package desktop

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSplitJoinExec(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`firefox %u`, []string{"firefox", "%u"}},
		{`gimp-2.10 %U`, []string{"gimp-2.10", "%U"}},
		{`"/opt/My App/app" --flag %F`, []string{"/opt/My App/app", "--flag", "%F"}},
		{`sh -c "echo \\"hi\\" \\$HOME"`, []string{"sh", "-c", `echo "hi" $HOME`}},
		{`a\sb c`, []string{"a", "b", "c"}}, // \s unescapes to a space, which then separates
		{`"a\sb" c`, []string{"a b", "c"}},
		{`prog  --x   %i`, []string{"prog", "--x", "%i"}},
	}
	for _, tt := range tests {
		got, err := SplitExec(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitExec(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		back, err := SplitExec(JoinExec(got))
		if err != nil || !reflect.DeepEqual(back, tt.want) {
			t.Errorf("SplitExec(JoinExec(%q)) = %q, %v (joined %q); want it back", got, back, err, JoinExec(got))
		}
	}
	for _, bad := range []string{``, `"unterminated`, `"ends in \`} {
		if _, err := SplitExec(bad); err == nil {
			t.Errorf("SplitExec(%q) succeeded; want an error", bad)
		}
	}
}

const firefox = `# a comment kept
[Desktop Entry]
Name=Firefox
Name[de]=Firefox Webbrowser
Exec=/usr/lib/firefox/firefox %u
TryExec=firefox
Icon=firefox
Type=Application
MimeType=text/html;x-scheme-handler/http;
DBusActivatable=true
Actions=new-window;private;

[Desktop Action new-window]
Name=New Window
Exec=/usr/lib/firefox/firefox --new-window %u

[Desktop Action private]
Name=Private Window
Exec=/usr/lib/firefox/firefox --private-window %u
`

func TestWrap(t *testing.T) {
	out, err := Wrap([]byte(firefox), "/usr/share/applications/firefox.desktop", "/usr/bin/sbx", "firefox")
	if err != nil {
		t.Fatal(err)
	}
	e, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[[2]string]string{
		{"Desktop Entry", "Exec"}:             "/usr/bin/sbx run --profile firefox -- /usr/lib/firefox/firefox %u",
		{"Desktop Action new-window", "Exec"}: "/usr/bin/sbx run --profile firefox -- /usr/lib/firefox/firefox --new-window %u",
		{"Desktop Action private", "Exec"}:    "/usr/bin/sbx run --profile firefox -- /usr/lib/firefox/firefox --private-window %u",
		{"Desktop Entry", "TryExec"}:          "firefox",
		{"Desktop Entry", "Icon"}:             "firefox",
		{"Desktop Entry", "MimeType"}:         "text/html;x-scheme-handler/http;",
		{"Desktop Entry", "Actions"}:          "new-window;private;",
		{"Desktop Entry", "Name[de]"}:         "Firefox Webbrowser",
		{"Desktop Entry", KeyProfile}:         "firefox",
		{"Desktop Entry", KeySource}:          "/usr/share/applications/firefox.desktop",
		{"Desktop Entry", KeySourceSHA256}:    hashOf([]byte(firefox)),
	}
	for k, v := range want {
		if got, _ := e.Get(k[0], k[1]); got != v {
			t.Errorf("[%s] %s = %q; want %q", k[0], k[1], got, v)
		}
	}
	if _, ok := e.Get("Desktop Entry", "DBusActivatable"); ok {
		t.Error("DBusActivatable kept: the menu could start the app over D-Bus, outside sbx")
	}
	if !strings.HasPrefix(string(out), "# a comment kept\n[Desktop Entry]\n") {
		t.Errorf("comments or order not kept:\n%s", out)
	}
	if _, err := Wrap(out, "x", "/usr/bin/sbx", "firefox"); err == nil {
		t.Error("wrapping an override again succeeded; want an error")
	}
}

// TestManager installs, lists and removes overrides in a scratch XDG tree, and checks that
// removing restores exactly what was there before (the user's own overrides untouched).
func TestManager(t *testing.T) {
	root := t.TempDir()
	sys := filepath.Join(root, "usr/share/applications")
	local := filepath.Join(root, "usr/local/share/applications")
	target := filepath.Join(root, "home/.local/share/applications")
	for _, d := range []string{sys, local, target} {
		os.MkdirAll(d, 0o755)
	}
	write := func(path, s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(sys, "firefox.desktop"), firefox)
	write(filepath.Join(sys, "envapp.desktop"), "[Desktop Entry]\nName=Env\nExec=env GDK_BACKEND=x11 firefox %u\nType=Application\n")
	write(filepath.Join(sys, "vim.desktop"), "[Desktop Entry]\nName=Vim\nExec=vim %F\nType=Application\n")
	write(filepath.Join(sys, "gimp.desktop"), "[Desktop Entry]\nName=GIMP\nExec=gimp-2.10 %U\nType=Application\n")
	// /usr/local wins over /usr for the same ID.
	write(filepath.Join(local, "gimp.desktop"), "[Desktop Entry]\nName=GIMP local\nExec=/usr/local/bin/gimp %U\nType=Application\n")
	// The user's own override of an app: never touched.
	write(filepath.Join(target, "mine.desktop"), "[Desktop Entry]\nName=Mine\nExec=firefox\nType=Application\n")
	profiles := map[string]string{"/usr/lib/firefox/firefox": "firefox", "firefox": "firefox", "/usr/local/bin/gimp": "gimp"}
	sbx := filepath.Join(root, "bin/sbx")
	os.MkdirAll(filepath.Dir(sbx), 0o755)
	write(sbx, "")
	m := &Manager{SourceDirs: []string{local, sys}, Target: target, Sbx: sbx,
		ProfileOf: func(p string) (string, bool) { v, ok := profiles[p]; return v, ok }}
	before := snapshot(t, target)

	states := func() map[string]State {
		apps, err := m.List()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]State{}
		for _, a := range apps {
			out[a.ID] = a.State
		}
		return out
	}
	if got, want := states(), map[string]State{"firefox": Wrappable, "gimp": Wrappable, "envapp": Wrappable}; !reflect.DeepEqual(got, want) {
		t.Fatalf("List = %v; want %v (vim has no profile; envapp runs firefox through env)", got, want)
	}
	if _, _, err := m.Install([]string{"vim"}, false); err == nil {
		t.Error("installing vim (no profile) succeeded; want an error")
	}
	done, _, err := m.Install([]string{"firefox"}, false) // the profile's name: both entries that run firefox
	if err != nil || len(done) != 2 {
		t.Fatalf("Install firefox = %v, %v", done, err)
	}
	if done, already, err := m.Install([]string{"firefox"}, false); err != nil || len(done) != 0 || len(already) != 2 {
		t.Errorf("Install firefox again = written %v, already %v, %v; want both already wrapped", done, already, err)
	}
	if got, want := states(), map[string]State{"firefox": Wrapped, "gimp": Wrappable, "envapp": Wrapped}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after install: List = %v; want %v", got, want)
	}
	if _, _, err := m.Install(nil, true); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(target, "gimp.desktop"))
	if !strings.Contains(string(b), "Exec="+sbx+" run --profile gimp -- /usr/local/bin/gimp %U") {
		t.Errorf("gimp override wraps the wrong original:\n%s", b)
	}
	// The original changes (a package upgrade): the override is stale until reinstalled.
	write(filepath.Join(sys, "firefox.desktop"), strings.Replace(firefox, "Name=Firefox\n", "Name=Firefox 2\n", 1))
	if got := states()["firefox"]; got != Stale {
		t.Errorf("after the original changed: firefox is %s; want stale", got)
	}
	if _, _, err := m.Install([]string{"firefox"}, false); err != nil {
		t.Fatal(err)
	}
	if got := states()["firefox"]; got != Wrapped {
		t.Errorf("after reinstalling: firefox is %s; want wrapped", got)
	}
	// The sbx binary the overrides run goes away: stale until reinstalled (by a new sbx).
	os.Rename(sbx, sbx+".moved")
	if got := states()["gimp"]; got != Stale {
		t.Errorf("after sbx moved: gimp is %s; want stale", got)
	}
	os.Rename(sbx+".moved", sbx)
	// The original goes away (the app was uninstalled): stale, and remove cleans it up.
	os.Remove(filepath.Join(sys, "firefox.desktop"))
	if got := states()["firefox"]; got != Stale {
		t.Errorf("after the original went away: firefox is %s; want stale", got)
	}
	write(filepath.Join(sys, "firefox.desktop"), firefox)
	if _, err := m.Remove(nil, true); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, target); !reflect.DeepEqual(after, before) {
		t.Errorf("after remove --all the directory is %v; want it as before: %v", after, before)
	}
}

func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}
