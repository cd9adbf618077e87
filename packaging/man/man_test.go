package man

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func tree() *cobra.Command {
	root := &cobra.Command{Use: "sbx", Short: "Run apps in a sandbox", Long: "First paragraph\nwrapped.\n\n.Second paragraph starts with a dot."}
	run := &cobra.Command{Use: "run [flags] [--] APP [ARGS...]", Short: "Run a program", Example: "  sbx run -- /bin/echo hi",
		Run: func(*cobra.Command, []string) {}}
	run.Flags().String("profile", "", "profile `NAME` to use")
	run.Flags().BoolP("debug", "d", false, "log diagnostics")
	run.Flags().StringArray("ro", nil, "read-only path")
	hidden := &cobra.Command{Use: "__secret", Hidden: true, Run: func(*cobra.Command, []string) {}}
	root.PersistentFlags().Bool("verbose", false, "say more")
	root.AddCommand(run, hidden)
	return root
}

func TestWriteTree(t *testing.T) {
	dir := t.TempDir()
	files, err := WriteTree(tree(), dir, Header{Date: "2026-12-06", Source: "sbx 1.0", Manual: "sbx manual"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	if got, want := strings.Join(names, " "), "sbx.1 sbx-run.1"; got != want {
		t.Fatalf("pages = %s; want %s (hidden commands get none)", got, want)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "sbx-run.1"))
	page := string(b)
	for _, want := range []string{
		`.TH "SBX\-RUN" 1 "2026\-12\-06" "sbx 1.0" "sbx manual"`,
		"sbx\\-run \\- Run a program\n",
		".B sbx run\n[flags] [\\-\\-] APP [ARGS...]\n",
		"\\fB\\-\\-profile\\fR \\fINAME\\fR\nprofile NAME to use\n",
		"\\fB\\-d\\fR, \\fB\\-\\-debug\\fR\nlog diagnostics\n",
		".SH OPTIONS INHERITED FROM PARENT COMMANDS\n",
		"sbx run \\-\\- /bin/echo hi\n",
		".BR sbx (1)\n",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("sbx-run.1 lacks %q:\n%s", want, page)
		}
	}
	b, _ = os.ReadFile(filepath.Join(dir, "sbx.1"))
	if !strings.Contains(string(b), "\n\\&.Second paragraph") || !strings.Contains(string(b), ".BR sbx\\-run (1)") {
		t.Errorf("sbx.1: a leading dot must be protected and subcommands listed:\n%s", b)
	}
	// groff must read every page without a warning.
	if _, err := exec.LookPath("groff"); err != nil {
		t.Skip("groff is not installed")
	}
	for _, f := range files {
		out, err := exec.Command("groff", "-man", "-ww", "-z", f).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("groff -man -ww %s: %v\n%s", filepath.Base(f), err, out)
		}
	}
}
