package main

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
	"github.com/sbx-dev/sbx/doctor"
)

// TestDoctorHere prints the table on this machine, where sbx runs (the rest of the suite
// proves it): every row is there and the exit status is 0, as root and as a user.
func TestDoctorHere(t *testing.T) {
	for _, u := range sbxtest.Users() {
		r := sbxtest.Sbx(t, u, "doctor")
		t.Logf("as %s:\n%s", u.Name, r.Stdout)
		if r.Code != 0 {
			t.Errorf("as %s: sbx doctor exit %d; want 0; stderr: %s", u.Name, r.Code, r.Stderr)
		}
		for _, row := range []string{"user namespaces", "ptrace (Yama)", "seccomp", "Landlock", "KVM", "display", "sound", "D-Bus session bus", "XDG_RUNTIME_DIR"} {
			if !strings.Contains(r.Stdout, "\n"+row+" ") {
				t.Errorf("as %s: no %q row in\n%s", u.Name, row, r.Stdout)
			}
		}
		j := sbxtest.Sbx(t, u, "doctor", "--json")
		var rep struct {
			CanRun bool            `json:"can_run"`
			Checks []doctor.Result `json:"checks"`
		}
		if err := json.Unmarshal([]byte(j.Stdout), &rep); err != nil || !rep.CanRun || len(rep.Checks) != 10 {
			t.Errorf("as %s: sbx doctor --json = %v, %+v; want can_run and 10 checks:\n%s", u.Name, err, rep, j.Stdout)
		}
	}
}

// TestDoctorNoUserNamespaces hides unprivileged user namespaces for real: inside a scratch
// user namespace whose user.max_user_namespaces is 0, sbx doctor must fail the row, give its
// fix, and exit 1.
func TestDoctorNoUserNamespaces(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is not installed")
	}
	for _, u := range sbxtest.Users() {
		r := sbxtest.Run(t, u, "", "", "unshare", "--user", "--map-root-user", "sh", "-c",
			`echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" doctor`, sbxtest.Binary(t))
		if r.Code != 1 {
			t.Errorf("as %s: exit %d; want 1; stdout:\n%s\nstderr: %s", u.Name, r.Code, r.Stdout, r.Stderr)
		}
		if !regexp.MustCompile(`(?m)^user namespaces +fail `).MatchString(r.Stdout) ||
			!strings.Contains(r.Stdout, "user namespaces: sudo sysctl -w user.max_user_namespaces=") {
			t.Errorf("as %s: no failing user namespaces row with its fix in\n%s", u.Name, r.Stdout)
		}
	}
}

func TestDoctorTable(t *testing.T) {
	rs := []doctor.Result{
		{Check: "user namespaces", Status: doctor.Fail, Detail: "user.max_user_namespaces is 0", Fix: "sudo sysctl -w user.max_user_namespaces=15000"},
		{Check: "KVM", Status: doctor.Info, Detail: "no /dev/kvm"},
		{Check: "sound", Status: doctor.Warn, Detail: "no socket", Fix: "start your sound server"},
	}
	want := `CHECK            STATUS  DETAIL
user namespaces  fail    user.max_user_namespaces is 0
KVM              info    no /dev/kvm
sound            warn    no socket

To fix:
  user namespaces: sudo sysctl -w user.max_user_namespaces=15000
  sound: start your sound server

sbx cannot run on this system until the failed checks are fixed.
`
	if got := doctorTable(rs); got != want {
		t.Errorf("doctorTable =\n%s\nwant\n%s", got, want)
	}
	if got := doctorTable(rs[1:2]); strings.Contains(got, "To fix") || strings.Contains(got, "cannot run") {
		t.Errorf("doctorTable with nothing to fix =\n%s\nwant only the table", got)
	}
}
