package profiles

import "testing"

// TestMayList: the pre-filter Which uses before parsing a profile never rules out one that
// lists the binary, however it is written.
func TestMayList(t *testing.T) {
	for _, c := range []struct {
		src       string
		base, alt string
		want      bool
	}{
		{`binaries = ["firefox", "firefox-esr"]`, "firefox-esr", "firefox-esr", true},
		{`binaries = ['/usr/bin/gimp']`, "gimp", "gimp-2.10", true},
		{`binaries = ["""vlc"""]`, "vlc", "vlc", true},
		{`binaries = ["/opt/x/ap\u0070"]`, "app", "app", true}, // escaped: parse to tell
		{`[filesystem]` + "\n" + `allow = [{ path = "~/.x", create = true }]`, "true", "true", false},
		{`binaries = ["firefox"]`, "fire", "firef", false},
	} {
		if got := mayList([]byte(c.src), c.base, c.alt); got != c.want {
			t.Errorf("mayList(%q, %q, %q) = %v; want %v", c.src, c.base, c.alt, got, c.want)
		}
	}
}
