package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestAppArmorProfile: apparmor_parser accepts the profile the packages ship, which attaches
// to the installed binary and allows it user namespaces (what Ubuntu >= 23.10 restricts).
func TestAppArmorProfile(t *testing.T) {
	parser, err := exec.LookPath("apparmor_parser")
	if err != nil {
		if _, err := os.Stat("/sbin/apparmor_parser"); err != nil {
			t.Skip("apparmor_parser is not installed (make test installs apparmor)")
		}
		parser = "/sbin/apparmor_parser"
	}
	profile := filepath.Join(moduleRoot(t), "packaging/files/apparmor-sbx")
	src, err := os.ReadFile(profile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nabi <abi/4.0>,\n", "\nprofile sbx " + BinPath + " flags=(unconfined) {\n", "\n  userns,\n"} {
		if !bytes.Contains(src, []byte(want)) {
			t.Fatalf("the profile lacks %q", want)
		}
	}
	if _, err := os.Stat("/etc/apparmor.d/abi/4.0"); err == nil {
		if out, err := exec.Command(parser, "-Q", "-K", profile).CombinedOutput(); err != nil {
			t.Fatalf("apparmor_parser -Q %s: %v\n%s", profile, err, out)
		}
		return
	}
	// An AppArmor 3 parser (Debian 12 has 3.0.8) knows neither ABI 4.0 nor user namespace
	// rules, which came with the restriction they lift. Check everything else it can read,
	// then say that the full check needs a newer parser.
	var rest []string
	for _, l := range strings.Split(string(src), "\n") {
		if l != "abi <abi/4.0>," && l != "  userns," {
			rest = append(rest, l)
		}
	}
	tmp := filepath.Join(t.TempDir(), "sbx")
	os.WriteFile(tmp, []byte(strings.Join(rest, "\n")), 0o644)
	if out, err := exec.Command(parser, "-Q", "-K", tmp).CombinedOutput(); err != nil {
		t.Fatalf("apparmor_parser -Q on the profile without its AppArmor 4 rules: %v\n%s", err, out)
	}
	out, _ := exec.Command(parser, "--version").Output()
	t.Skipf("%s predates AppArmor 4 (no abi/4.0): checked the profile without its 'abi <abi/4.0>' and 'userns' lines only", firstLine(out))
}

func firstLine(b []byte) string {
	l, _, _ := strings.Cut(string(b), "\n")
	return l
}

// TestDebInstall installs the .deb into this system with dpkg, runs the installed sbx as an
// ordinary user, reads its man page, then removes (and purges) the package and checks that
// every file it installed is gone. It needs root, and it restores the system: it refuses to
// run when an sbx package is already installed, and purges the package whatever happens.
// Concurrent runs (other checkouts testing on this machine) take turns on a lock, since
// dpkg's database and /usr/bin/sbx are the machine's; the other tests run the sbx they build
// themselves and never the installed one.
func TestDebInstall(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("installing a package needs root")
	}
	for _, tool := range []string{"dpkg", "dpkg-query", "man"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	deb := one(t, dist(t), "*.deb")
	unlock := lockMachine(t)
	defer unlock()
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", "sbx").Output(); err == nil && strings.Contains(string(out), "installed") {
		t.Skipf("an sbx package is already installed here (%s); not replacing it", out)
	}

	// What exists before, so that afterwards "gone" means gone, not "was never there".
	paths := debPaths(t, deb)
	existed := map[string]bool{}
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			existed[p] = true
		}
	}

	t.Cleanup(func() { dpkg(t, "--purge", "sbx") })
	if out, err := dpkgOut("-i", deb); err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}
	for _, p := range paths {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("installed package lacks %s: %v", p, err)
		}
	}
	fi, err := os.Stat(BinPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 || fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
		t.Errorf("%s mode %v; want an ordinary 0755 file", BinPath, fi.Mode())
	}
	if _, err := syscall.Getxattr(BinPath, "security.capability", make([]byte, 64)); !errors.Is(err, syscall.ENODATA) {
		t.Errorf("%s has file capabilities (getxattr: %v); want none", BinPath, err)
	}

	for _, u := range sbxtest.Users() {
		r := sbxtest.Run(t, u, "", "", BinPath, "run", "--", "/bin/echo", "hi")
		if r.Stdout != "hi\n" || r.Code != 0 {
			t.Errorf("as %s: %s run -- /bin/echo hi = %q, exit %d; want hi; stderr: %s", u.Name, BinPath, r.Stdout, r.Code, r.Stderr)
		}
	}
	man := exec.Command("man", "sbx-run")
	man.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat", "MANWIDTH=80", "LANG=C.UTF-8")
	out, err := man.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("sbx-run - Run a program in a sandbox")) || !bytes.Contains(out, []byte("--profile")) {
		t.Errorf("man sbx-run: %v\n%s", err, out)
	}
	conffiles := map[string]bool{}
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Conffiles}", "sbx").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if f := strings.Fields(l); len(f) > 0 {
				conffiles[f[0]] = true
			}
		}
	}
	if !conffiles[AppArmorProfile] {
		t.Errorf("%s is not a conffile (dpkg-query Conffiles: %v)", AppArmorProfile, conffiles)
	}

	// dpkg -r removes every file but the configuration files, which dpkg --purge removes.
	if out, err := dpkgOut("-r", "sbx"); err != nil {
		t.Fatalf("dpkg -r: %v\n%s", err, out)
	}
	left := func() []string {
		var l []string
		for _, p := range paths {
			if _, err := os.Lstat(p); err == nil && !existed[p] {
				l = append(l, p)
			}
		}
		return l
	}
	for _, p := range left() {
		if !conffiles[p] && !isParentOf(p, conffiles) {
			t.Errorf("after dpkg -r, %s is still there", p)
		}
	}
	if out, err := dpkgOut("--purge", "sbx"); err != nil {
		t.Fatalf("dpkg --purge: %v\n%s", err, out)
	}
	if l := left(); len(l) > 0 {
		t.Errorf("after dpkg --purge these are still there: %v", l)
	}
}

// debPaths lists the absolute paths a .deb installs.
func debPaths(t *testing.T, deb string) []string {
	t.Helper()
	out, err := exec.Command("dpkg-deb", "-c", deb).Output()
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		p := strings.TrimSuffix(strings.TrimPrefix(f[len(f)-1], "."), "/")
		if p != "" {
			paths = append(paths, p)
		}
	}
	return paths
}

func isParentOf(dir string, files map[string]bool) bool {
	for f := range files {
		if strings.HasPrefix(f, dir+"/") {
			return true
		}
	}
	return false
}

// dpkgOut runs dpkg, waiting while another dpkg or apt holds its lock.
func dpkgOut(args ...string) ([]byte, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := exec.Command("dpkg", args...).CombinedOutput()
		if err == nil || !bytes.Contains(out, []byte("lock")) || time.Now().After(deadline) {
			return out, err
		}
		time.Sleep(time.Second)
	}
}

func dpkg(t *testing.T, args ...string) {
	if out, err := dpkgOut(args...); err != nil {
		t.Errorf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// lockMachine serializes tests that install into this machine's dpkg database.
func lockMachine(t *testing.T) func() {
	t.Helper()
	f, err := os.OpenFile("/run/lock/sbx-package-install-test.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	return func() { f.Close() }
}

// TestMaintainerScripts runs the post-install and pre-remove scripts on a host where AppArmor
// looks active: in a mount namespace of its own, tmpfs mounts fake /sys/module/apparmor,
// /sys/kernel/security/apparmor and /etc/apparmor.d, and a stand-in apparmor_parser records
// how it is called. postinst loads (-r) the profile, prerm unloads (-R) it on removal and not
// on upgrade; with AppArmor inactive neither calls the parser.
func TestMaintainerScripts(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("faking /sys in a mount namespace needs root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is not installed")
	}
	if _, err := os.Stat("/etc/apparmor.d"); err != nil {
		t.Skip("/etc/apparmor.d does not exist to mount over (make test installs apparmor)")
	}
	dir := t.TempDir()
	files := filepath.Join(moduleRoot(t), "packaging/files")
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	log := filepath.Join(dir, "parser.log")
	os.WriteFile(filepath.Join(bin, "apparmor_parser"), []byte("#!/bin/sh\necho \"$*\" >> "+log+"\n"), 0o755)
	run := func(active bool, script string, args ...string) string {
		t.Helper()
		os.Remove(log)
		setup := `set -e
mount -t tmpfs tmpfs /etc/apparmor.d && cp "$1" /etc/apparmor.d/sbx
mount -t tmpfs tmpfs /sys/module
mount -t tmpfs tmpfs /sys/kernel/security
if [ "$2" = active ]; then
	mkdir -p /sys/module/apparmor/parameters /sys/kernel/security/apparmor
	echo Y > /sys/module/apparmor/parameters/enabled
fi
shift 2
exec sh "$@"`
		state := "inactive"
		if active {
			state = "active"
		}
		cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", setup, "sh",
			filepath.Join(files, "apparmor-sbx"), state, filepath.Join(files, script)}, args...)...)
		cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/sbin:/usr/bin:/sbin:/bin")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v (AppArmor %s): %v\n%s", script, args, state, err, out)
		}
		b, _ := os.ReadFile(log)
		return strings.TrimSpace(string(b))
	}
	for _, tt := range []struct {
		active bool
		script string
		args   []string
		want   string
	}{
		{true, "postinst", []string{"configure"}, "-r -T -W /etc/apparmor.d/sbx"},
		{true, "postinst", []string{"1"}, "-r -T -W /etc/apparmor.d/sbx"}, // rpm %post, install
		{true, "prerm", []string{"remove"}, "-R /etc/apparmor.d/sbx"},
		{true, "prerm", []string{"0"}, "-R /etc/apparmor.d/sbx"}, // rpm %preun, erase
		{true, "prerm", []string{"upgrade", "1.0"}, ""},
		{true, "prerm", []string{"1"}, ""}, // rpm %preun, upgrade
		{false, "postinst", []string{"configure"}, ""},
		{false, "prerm", []string{"remove"}, ""},
	} {
		if got := run(tt.active, tt.script, tt.args...); got != tt.want {
			t.Errorf("%s %v with AppArmor active=%v called apparmor_parser %q; want %q", tt.script, tt.args, tt.active, got, tt.want)
		}
	}
}
