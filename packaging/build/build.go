package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/arch" // registers "archlinux"
	_ "github.com/goreleaser/nfpm/v2/deb"  // registers "deb"
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers "rpm"
)

// Formats are the package formats built by default (nfpm's names).
var Formats = []string{"deb", "rpm", "archlinux"}

// Installed paths. The AppArmor profile names BinPath; change both together.
const (
	BinPath         = "/usr/bin/sbx"
	AppArmorProfile = "/etc/apparmor.d/sbx"
	ProfilesDir     = "/etc/sbx/profiles"
	DocDir          = "/usr/share/doc/sbx"
	ManDir          = "/usr/share/man/man1"
	maintainer      = "sbx developers <sbx-dev@lists.sbx.invalid>"
	homepage        = "https://github.com/sbx-dev/sbx"
)

// Options say what to build.
type Options struct {
	Root    string    // the source tree
	Out     string    // where packages go
	Formats []string  // nfpm packager names
	Version string    // e.g. v0.0.0-20261206122323-0873126abcde; empty: from git
	When    time.Time // the commit's time: every file's mtime, the man pages' date
	Commit  string
}

func (o *Options) resolveVersion() error {
	if v := os.Getenv("SBX_VERSION"); v != "" && o.Version == "" {
		o.Version = v
	}
	v, when, commit, err := gitVersion(o.Root)
	if o.Commit == "" {
		o.Commit = commit
	}
	if o.Version == "" {
		if err != nil {
			return err
		}
		o.Version = v
	}
	if o.When.IsZero() {
		o.When = when
		if err != nil || when.IsZero() {
			o.When = time.Unix(0, 0).UTC()
		}
	}
	return nil
}

// Build compiles sbx, generates what the packages ship besides it, and writes one package
// per format into o.Out. It returns the packages' paths.
func Build(o Options) ([]string, error) {
	if o.Version == "" {
		if err := o.resolveVersion(); err != nil {
			return nil, fmt.Errorf("version: %w", err)
		}
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return nil, err
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return nil, err
	}
	stage := filepath.Join(out, "stage")
	if err := os.RemoveAll(stage); err != nil {
		return nil, err
	}
	for _, d := range []string{"man", "completions"} {
		if err := os.MkdirAll(filepath.Join(stage, d), 0o755); err != nil {
			return nil, err
		}
	}
	bin := filepath.Join(stage, "sbx")
	if err := run(root, []string{"CGO_ENABLED=0"}, "go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid= -X main.version="+o.Version, "-o", bin, "./cmd/sbx"); err != nil {
		return nil, err
	}
	if v, err := output(root, bin, "version"); err != nil || !strings.HasPrefix(v, "sbx "+o.Version+" ") {
		return nil, fmt.Errorf("the built sbx reports %q (%v); want version %s", v, err, o.Version)
	}
	contents, err := stageFiles(root, stage, bin, o)
	if err != nil {
		return nil, err
	}
	changelog := filepath.Join(stage, "changelog.yml")
	if err := writeChangelog(changelog, o); err != nil {
		return nil, err
	}
	var pkgs []string
	for _, format := range o.Formats {
		p, err := pack(format, contents, changelog, out, o)
		if err != nil {
			return pkgs, fmt.Errorf("%s: %w", format, err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// stageFiles writes the generated files (man pages, completions, changelog) into stage and
// returns the package contents.
func stageFiles(root, stage, bin string, o Options) (files.Contents, error) {
	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst, FileInfo: &files.ContentFileInfo{Mode: mode, MTime: o.When}}
	}
	c := files.Contents{file(bin, BinPath, 0o755)}

	// Man pages, from this binary's own command tree, compressed as Debian policy asks.
	manSrc := filepath.Join(stage, "man", "src")
	if err := run(root, nil, bin, "__man", "--date", o.When.Format("2006-01-02"), manSrc); err != nil {
		return nil, err
	}
	pages, _ := filepath.Glob(filepath.Join(manSrc, "*.1"))
	sort.Strings(pages)
	if len(pages) == 0 {
		return nil, fmt.Errorf("sbx __man wrote no pages")
	}
	for _, p := range pages {
		gz := filepath.Join(stage, "man", filepath.Base(p)+".gz")
		if err := gzipFile(p, gz, o.When); err != nil {
			return nil, err
		}
		c = append(c, file(gz, ManDir+"/"+filepath.Base(gz), 0o644))
	}

	// Shell completions.
	for _, sh := range []struct{ shell, dst, packager string }{
		{"bash", "/usr/share/bash-completion/completions/sbx", ""},
		{"zsh", "/usr/share/zsh/vendor-completions/_sbx", "deb"},
		{"zsh", "/usr/share/zsh/site-functions/_sbx", "rpm"},
		{"zsh", "/usr/share/zsh/site-functions/_sbx", "archlinux"},
		{"fish", "/usr/share/fish/vendor_completions.d/sbx.fish", ""},
	} {
		script, err := output(root, bin, "completion", sh.shell)
		if err != nil {
			return nil, err
		}
		src := filepath.Join(stage, "completions", sh.shell)
		if err := os.WriteFile(src, []byte(script+"\n"), 0o644); err != nil {
			return nil, err
		}
		fc := file(src, sh.dst, 0o644)
		fc.Packager = sh.packager
		c = append(c, fc)
	}

	// Docs, and the files Debian and RPM want beside them.
	for _, d := range []string{"README.md", "docs/profiles.md", "docs/syscalls.md"} {
		fc := file(filepath.Join(root, d), DocDir+"/"+filepath.Base(d), 0o644)
		c = append(c, fc)
	}
	c = append(c,
		&files.Content{Source: filepath.Join(root, "packaging/files/copyright"), Destination: DocDir + "/copyright", Packager: "deb",
			FileInfo: &files.ContentFileInfo{Mode: 0o644, MTime: o.When}},
		&files.Content{Source: filepath.Join(root, "packaging/files/lintian-overrides"), Destination: "/usr/share/lintian/overrides/sbx",
			Packager: "deb", FileInfo: &files.ContentFileInfo{Mode: 0o644, MTime: o.When}},
		&files.Content{Source: filepath.Join(root, "packaging/files/copyright"), Destination: "/usr/share/licenses/sbx/copyright",
			Type: files.TypeRPMLicense, Packager: "rpm", FileInfo: &files.ContentFileInfo{Mode: 0o644, MTime: o.When}},
		&files.Content{Source: filepath.Join(root, "packaging/files/copyright"), Destination: "/usr/share/licenses/sbx/copyright",
			Packager: "archlinux", FileInfo: &files.ContentFileInfo{Mode: 0o644, MTime: o.When}},
	)

	// The administrator's profile directory (empty: profiles come built in) and the
	// AppArmor profile, both configuration.
	// The package's own directories, so that removing it removes them (rpm leaves
	// directories it does not own).
	c = append(c,
		&files.Content{Destination: DocDir, Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Mode: 0o755, MTime: o.When}},
		&files.Content{Destination: "/usr/share/licenses/sbx", Type: files.TypeDir, Packager: "rpm", FileInfo: &files.ContentFileInfo{Mode: 0o755, MTime: o.When}},
		&files.Content{Destination: "/usr/share/licenses/sbx", Type: files.TypeDir, Packager: "archlinux", FileInfo: &files.ContentFileInfo{Mode: 0o755, MTime: o.When}},
	)
	c = append(c,
		&files.Content{Destination: "/etc/sbx", Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Mode: 0o755, MTime: o.When}},
		&files.Content{Destination: ProfilesDir, Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Mode: 0o755, MTime: o.When}},
		&files.Content{Source: filepath.Join(root, "packaging/files/apparmor-sbx"), Destination: AppArmorProfile,
			Type: files.TypeConfigNoReplace, FileInfo: &files.ContentFileInfo{Mode: 0o644, MTime: o.When}},
	)
	return c, nil
}

// writeChangelog writes the one-entry changelog (chglog's YAML, which nfpm turns into
// changelog.Debian.gz and the RPM %changelog) naming the version and its commit.
func writeChangelog(path string, o Options) error {
	y := fmt.Sprintf(`- semver: %s
  date: %s
  packager: %s
  deb:
    urgency: medium
    distributions: [unstable]
  changes:
    - commit: %s
      note: Built from the sbx sources at %.12s.
`, strings.TrimPrefix(o.Version, "v"), o.When.Format(time.RFC3339), maintainer, o.Commit, o.Commit)
	return os.WriteFile(path, []byte(y), 0o644)
}

func description(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "packaging/files/description.txt"))
	return strings.TrimSpace(string(b)), err
}

// pack writes the package of one format.
func pack(format string, contents files.Contents, changelog, out string, o Options) (string, error) {
	root, _ := filepath.Abs(o.Root)
	desc, err := description(root)
	if err != nil {
		return "", err
	}
	scripts := filepath.Join(root, "packaging/files")
	info := &nfpm.Info{
		Name:        "sbx",
		Arch:        "amd64",
		Platform:    "linux",
		Version:     o.Version,
		Release:     "1",
		Section:     "utils",
		Priority:    "optional",
		Maintainer:  maintainer,
		Description: desc,
		Vendor:      "sbx",
		Homepage:    homepage,
		License:     "LicenseRef-sbx-unpublished",
		MTime:       o.When,
		Changelog:   changelog,
		Overridables: nfpm.Overridables{
			Contents: contents,
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(scripts, "postinst"),
				PreRemove:   filepath.Join(scripts, "prerm"),
			},
			Suggests: []string{"apparmor"},
			RPM: nfpm.RPM{
				Summary:  capitalize(strings.SplitN(desc, "\n", 2)[0]),
				Group:    "Applications/System",
				Packager: maintainer,
			},
			// pacman runs post_upgrade, not post_install, on upgrades: reload the profile then too.
			ArchLinux: nfpm.ArchLinux{Packager: maintainer, Scripts: nfpm.ArchLinuxScripts{PostUpgrade: filepath.Join(scripts, "postinst")}},
		},
	}
	if format == "rpm" {
		// RPM marks documentation (docs and man pages) so installs may leave it out.
		info.Contents = nil
		for _, c := range contents {
			cc := *c
			if cc.Type == "" && (strings.HasPrefix(cc.Destination, "/usr/share/doc/") || strings.HasPrefix(cc.Destination, "/usr/share/man/")) {
				cc.Type = files.TypeRPMDoc
			}
			info.Contents = append(info.Contents, &cc)
		}
	}
	info = nfpm.WithDefaults(info)
	if format == "archlinux" {
		// Arch's pkgver allows no '-', and nfpm leaves the pre-release out of .PKGINFO (but
		// not out of the file name): fold it into the version, 0.0.0-2026...-0873126abcde
		// becoming 0.0.0.2026..._0873126abcde. pkgdesc is one line.
		if info.Prerelease != "" {
			info.Version += "." + strings.ReplaceAll(info.Prerelease, "-", "_")
			info.Prerelease = ""
		}
		info.Description = strings.SplitN(desc, "\n", 2)[0]
	}
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return "", err
	}
	pk, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	target := filepath.Join(out, pk.ConventionalFileName(info))
	info.Target = target
	var buf bytes.Buffer
	if err := pk.Package(info, &buf); err != nil {
		return "", err
	}
	if err := os.WriteFile(target, buf.Bytes(), 0o644); err != nil {
		return "", err
	}
	return target, nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func gzipFile(src, dst string, when time.Time) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return writeGzip(dst, b, when)
}

// writeGzip compresses data at the best level with no name and a fixed time, so packages
// built twice from one commit are identical.
func writeGzip(dst string, data []byte, when time.Time) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	zw.ModTime = when
	if _, err := zw.Write(data); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}

func run(dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return nil
}

func output(dir, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// debVersion is the Debian version nfpm gives the package for version v.
func debVersion(v string) string {
	info := nfpm.WithDefaults(&nfpm.Info{Name: "sbx", Arch: "amd64", Version: v, Release: "1"})
	s := info.Version
	if info.Prerelease != "" {
		s += "~" + info.Prerelease
	}
	if info.VersionMetadata != "" {
		s += "+" + info.VersionMetadata
	}
	return s + "-" + info.Release
}
