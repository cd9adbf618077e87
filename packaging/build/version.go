package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// semverTag is a release tag: vMAJOR.MINOR.PATCH with an optional pre-release.
var semverTag = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

// gitVersion computes the version of the tree in dir the way the Go toolchain names module
// versions: the tag when HEAD is a release tag, else a pseudo-version
// (v0.0.0-20261206122323-0873126abcde with no tag, v1.2.4-0.20261206122323-0873126abcde
// after tag v1.2.3, v1.3.0-rc.1.0.20261206122323-0873126abcde after v1.3.0-rc.1), with
// "+dirty" when the tree has uncommitted changes. It also returns HEAD's commit time and hash.
func gitVersion(dir string) (version string, when time.Time, commit string, err error) {
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(ee.Stderr)))
			}
			return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	ct, err := git("log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		return "", time.Time{}, "", err
	}
	secs, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return "", time.Time{}, "", fmt.Errorf("commit time %q: %w", ct, err)
	}
	when = time.Unix(secs, 0).UTC()
	commit, err = git("rev-parse", "HEAD")
	if err != nil {
		return "", time.Time{}, "", err
	}
	rev, err := git("rev-parse", "--short=12", "HEAD")
	if err != nil {
		return "", time.Time{}, "", err
	}
	status, err := git("status", "--porcelain", "--untracked-files=no")
	if err != nil {
		return "", time.Time{}, "", err
	}
	dirty := ""
	if status != "" {
		dirty = "+dirty"
	}
	exact, _ := git("tag", "--points-at", "HEAD", "--list", "v*", "--sort=-v:refname")
	for _, t := range strings.Fields(exact) {
		if semverTag.MatchString(t) {
			return t + dirty, when, commit, nil
		}
	}
	base, _ := git("describe", "--tags", "--abbrev=0", "--match", "v[0-9]*", "HEAD")
	return pseudoVersion(base, when, rev) + dirty, when, commit, nil
}

// pseudoVersion is Go's pseudo-version of commit rev made at when, after release tag base
// ("" when there is none).
func pseudoVersion(base string, when time.Time, rev string) string {
	stamp := when.UTC().Format("20060102150405") + "-" + rev
	m := semverTag.FindStringSubmatch(base)
	if m == nil {
		return "v0.0.0-" + stamp
	}
	if m[4] != "" { // a pre-release: v1.3.0-rc.1 → v1.3.0-rc.1.0.STAMP
		return base + ".0." + stamp
	}
	patch, _ := strconv.Atoi(m[3])
	return fmt.Sprintf("v%s.%s.%d-0.%s", m[1], m[2], patch+1, stamp)
}
