package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	distOnce sync.Once
	distDir  string
	distErr  error
	distOut  string
)

func moduleRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// dist runs `make packages` once per test process, into a scratch directory, and returns
// it: the tests check what users would install.
func dist(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed: the packages' version comes from it")
	}
	distOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sbx-dist-")
		if err != nil {
			distErr = err
			return
		}
		os.Chmod(dir, 0o755)
		distDir = dir
		cmd := exec.Command("make", "-s", "packages", "DIST="+dir)
		cmd.Dir = moduleRoot(t)
		out, err := cmd.CombinedOutput()
		distOut = string(out)
		if err != nil {
			distErr = err
		}
	})
	if distErr != nil {
		t.Fatalf("make packages: %v\n%s", distErr, distOut)
	}
	return distDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if distDir != "" {
		os.RemoveAll(distDir)
	}
	os.Exit(code)
}

func one(t *testing.T, dir, glob string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, glob))
	if len(m) != 1 {
		t.Fatalf("%s in %s: %v; want exactly one", glob, dir, m)
	}
	return m[0]
}

func wantVersion(t *testing.T) string {
	t.Helper()
	o := Options{Root: moduleRoot(t)}
	if err := o.resolveVersion(); err != nil {
		t.Fatal(err)
	}
	return o.Version
}

func TestPseudoVersion(t *testing.T) {
	when := time.Date(2026, 12, 6, 12, 23, 23, 0, time.UTC)
	for _, tt := range []struct{ base, want string }{
		{"", "v0.0.0-20261206122323-0873126abcde"},
		{"v1.2.3", "v1.2.4-0.20261206122323-0873126abcde"},
		{"v1.3.0-rc.1", "v1.3.0-rc.1.0.20261206122323-0873126abcde"},
		{"not-a-version", "v0.0.0-20261206122323-0873126abcde"},
	} {
		if got := pseudoVersion(tt.base, when, "0873126abcde"); got != tt.want {
			t.Errorf("pseudoVersion(%q) = %s; want %s", tt.base, got, tt.want)
		}
	}
}

// TestVersionMatches: the packaged binary's `sbx version` prints the packages' version, and
// the .deb and the Arch package carry it.
func TestVersionMatches(t *testing.T) {
	dir := dist(t)
	v := wantVersion(t)
	out, err := exec.Command(filepath.Join(dir, "stage", "sbx"), "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "sbx "+v+" ") {
		t.Errorf("sbx version = %q, %v; want it to print %s", out, err, v)
	}
	deb := one(t, dir, "*.deb")
	got, err := exec.Command("dpkg-deb", "-f", deb, "Version").Output()
	if err != nil || strings.TrimSpace(string(got)) != debVersion(v) {
		t.Errorf("deb Version = %q, %v; want %s", got, err, debVersion(v))
	}
}

// TestLintian: lintian reports no error on the .deb.
func TestLintian(t *testing.T) {
	if _, err := exec.LookPath("lintian"); err != nil {
		t.Skip("lintian is not installed (make test installs it)")
	}
	deb := one(t, dist(t), "*.deb")
	out, err := exec.Command("lintian", "--fail-on", "error", deb).CombinedOutput()
	t.Logf("lintian:\n%s", out)
	if err != nil || bytes.Contains(out, []byte("\nE: ")) || bytes.HasPrefix(out, []byte("E: ")) {
		t.Errorf("lintian found errors (%v):\n%s", err, out)
	}
}

// TestRpmlint: rpmlint reports no error on the .rpm (with packaging/files/rpmlint.toml, which
// explains the two findings it filters).
func TestRpmlint(t *testing.T) {
	if _, err := exec.LookPath("rpmlint"); err != nil {
		t.Skip("rpmlint is not installed (make test installs it)")
	}
	rpm := one(t, dist(t), "*.rpm")
	out, err := exec.Command("rpmlint", "-c", filepath.Join(moduleRoot(t), "packaging/files/rpmlint.toml"), rpm).CombinedOutput()
	t.Logf("rpmlint:\n%s", out)
	if err != nil || !bytes.Contains(out, []byte(" 0 errors")) {
		t.Errorf("rpmlint found errors (%v):\n%s", err, out)
	}
	if _, err := exec.LookPath("rpm"); err != nil {
		return
	}
	list, err := exec.Command("rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILENAMES}\\n]", rpm).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-rwxr-xr-x /usr/bin/sbx\n", " /usr/share/man/man1/sbx-run.1.gz\n", "drwxr-xr-x /etc/sbx/profiles\n", " /etc/apparmor.d/sbx\n"} {
		if !bytes.Contains(list, []byte(want)) {
			t.Errorf("rpm lacks %q:\n%s", want, list)
		}
	}
}

// TestArchPackage: the Arch package's .PKGINFO names the package, version and architecture,
// marks the AppArmor profile as configuration (backup), and the archive holds the files.
func TestArchPackage(t *testing.T) {
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Skip("zstd is not installed (make test installs it)")
	}
	pkg := one(t, dist(t), "*.pkg.tar.zst")
	list, err := exec.Command("tar", "--zstd", "-tvf", pkg).Output()
	if err != nil {
		t.Fatal(err)
	}
	info, err := exec.Command("tar", "--zstd", "-xOf", pkg, ".PKGINFO").Output()
	if err != nil {
		t.Fatal(err)
	}
	v := wantVersion(t)
	pkgver := strings.TrimPrefix(v, "v")
	if i := strings.IndexAny(pkgver, "+"); i >= 0 {
		pkgver = pkgver[:i]
	}
	if base, pre, ok := strings.Cut(pkgver, "-"); ok {
		pkgver = base + "." + strings.ReplaceAll(pre, "-", "_")
	}
	for _, want := range []string{"pkgname = sbx\n", "pkgver = " + pkgver + "-1\n", "arch = x86_64\n",
		"backup = etc/apparmor.d/sbx\n", "pkgdesc = desktop application sandbox with a user-space kernel\n", "packager = "} {
		if !bytes.Contains(info, []byte(want)) {
			t.Errorf(".PKGINFO lacks %q:\n%s", want, info)
		}
	}
	for _, want := range []string{".PKGINFO", ".MTREE", ".INSTALL", "usr/bin/sbx", "usr/share/man/man1/sbx.1.gz",
		"usr/share/man/man1/sbx-run.1.gz", "usr/share/bash-completion/completions/sbx", "usr/share/zsh/site-functions/_sbx",
		"usr/share/fish/vendor_completions.d/sbx.fish", "usr/share/doc/sbx/README.md", "usr/share/licenses/sbx/copyright",
		"etc/sbx/profiles/", "etc/apparmor.d/sbx"} {
		if !bytes.Contains(list, []byte(" "+want+"\n")) {
			t.Errorf("the Arch package lacks %s:\n%s", want, list)
		}
	}
	if !bytes.Contains(list, []byte("-rwxr-xr-x 0/0")) || bytes.Contains(list, []byte("rws")) {
		t.Errorf("usr/bin/sbx must be an ordinary executable (0755, no setuid):\n%s", list)
	}
	install, _ := exec.Command("tar", "--zstd", "-xOf", pkg, ".INSTALL").Output()
	if !bytes.Contains(install, []byte("post_install()")) || !bytes.Contains(install, []byte("post_upgrade()")) ||
		!bytes.Contains(install, []byte("pre_remove()")) || !bytes.Contains(install, []byte("apparmor_parser -r")) {
		t.Errorf(".INSTALL does not load the AppArmor profile:\n%s", install)
	}
}

// TestSbxWithoutNfpm keeps the packaging library (and its git, crypto and YAML
// dependencies) out of the sbx binary: only this build program links it.
func TestSbxWithoutNfpm(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "github.com/sbx-dev/sbx/cmd/sbx")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps gave %d packages; want the whole dependency list", len(deps))
	}
	for _, dep := range deps {
		for _, banned := range []string{"github.com/goreleaser/", "github.com/go-git/", "github.com/ProtonMail/", "gopkg.in/yaml", "go.yaml.in/", "runtime/cgo"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("%s is linked into sbx (keep packaging in packaging/build)", dep)
			}
		}
	}
}

// TestGitVersion names versions from a scratch repository's history: no tag, a release tag
// on HEAD, commits after it, a pre-release tag, uncommitted changes.
func TestGitVersion(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@example.com", "GIT_COMMITTER_DATE=2026-12-06T12:23:23Z", "GIT_AUTHOR_DATE=2026-12-06T12:23:23Z")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	commit := func() string {
		os.WriteFile(filepath.Join(dir, "f"), []byte(time.Now().String()), 0o644)
		git("add", "f")
		git("commit", "-q", "-m", "c")
		return git("rev-parse", "--short=12", "HEAD")
	}
	git("init", "-q")
	version := func() string {
		t.Helper()
		v, when, _, err := gitVersion(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !when.Equal(time.Date(2026, 12, 6, 12, 23, 23, 0, time.UTC)) {
			t.Errorf("commit time = %v; want 2026-12-06 12:23:23 UTC", when)
		}
		return v
	}
	rev := commit()
	if got, want := version(), "v0.0.0-20261206122323-"+rev; got != want {
		t.Errorf("untagged: %s; want %s", got, want)
	}
	git("tag", "v1.2.3")
	if got := version(); got != "v1.2.3" {
		t.Errorf("tagged: %s; want v1.2.3", got)
	}
	rev = commit()
	if got, want := version(), "v1.2.4-0.20261206122323-"+rev; got != want {
		t.Errorf("after the tag: %s; want %s", got, want)
	}
	git("tag", "v1.3.0-rc.1")
	rev = commit()
	if got, want := version(), "v1.3.0-rc.1.0.20261206122323-"+rev; got != want {
		t.Errorf("after a pre-release tag: %s; want %s", got, want)
	}
	os.WriteFile(filepath.Join(dir, "f"), []byte("changed"), 0o644)
	if got, want := version(), "v1.3.0-rc.1.0.20261206122323-"+rev+"+dirty"; got != want {
		t.Errorf("with uncommitted changes: %s; want %s", got, want)
	}
}

// TestRpmInstallRoot installs the .rpm into a scratch root with rpm --root (scripts off:
// they would act on this host), checks the files and the configuration list, erases it and
// finds nothing left but rpm's database.
func TestRpmInstallRoot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("rpm --root installs files owned by root")
	}
	if _, err := exec.LookPath("rpm"); err != nil {
		t.Skip("rpm is not installed (rpmlint brings it)")
	}
	pkg := one(t, dist(t), "*.rpm")
	root := t.TempDir()
	rpm := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("rpm", append([]string{"--root", root}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("rpm %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	rpm("--initdb")
	rpm("-i", "--nodeps", "--noscripts", pkg)
	for _, p := range []string{BinPath, ManDir + "/sbx-run.1.gz", ProfilesDir, AppArmorProfile, "/usr/share/licenses/sbx/copyright"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("installed rpm lacks %s: %v", p, err)
		}
	}
	if conf := rpm("-qc", "sbx"); strings.TrimSpace(conf) != AppArmorProfile {
		t.Errorf("rpm -qc sbx = %q; want %s", conf, AppArmorProfile)
	}
	if scripts := rpm("-q", "--scripts", "sbx"); !strings.Contains(scripts, "postinstall scriptlet") || !strings.Contains(scripts, "preuninstall scriptlet") {
		t.Errorf("rpm scripts lack %%post or %%preun:\n%s", scripts)
	}
	rpm("-e", "--noscripts", "sbx")
	for _, p := range []string{"/etc/sbx", DocDir, "/usr/share/licenses/sbx"} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			t.Errorf("after rpm -e, %s is left", p)
		}
	}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		rel, _ := filepath.Rel(root, p)
		if err == nil && !fi.IsDir() && !strings.Contains(rel, "rpm") {
			t.Errorf("after rpm -e, %s is left", rel)
		}
		return nil
	})
}
