package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/sbx-dev/sbx/doctor"
	"github.com/spf13/cobra"
)

// exitDoctorFailed is sbx doctor's status when a check failed: sbx cannot run here.
const exitDoctorFailed = 1

func newDoctorCmd(io *IOStreams, host doctor.Host) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check that this system can run sbx, and say how to fix what is missing",
		Long: `Check what sbx needs from the system: unprivileged user namespaces (and Ubuntu's
AppArmor restriction of them), Yama's ptrace_scope, seccomp, Landlock, KVM, the display
and sound sockets, the D-Bus session bus and XDG_RUNTIME_DIR. Each problem comes with a fix.
sbx doctor exits with status 1 when a check failed (sbx cannot run at all), 0 otherwise,
warnings included.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rs := doctor.Run(host)
			if asJSON {
				enc := json.NewEncoder(io.Out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(struct {
					CanRun bool            `json:"can_run"`
					Checks []doctor.Result `json:"checks"`
				}{doctor.CanRun(rs), rs}); err != nil {
					return err
				}
			} else {
				fmt.Fprint(io.Out, doctorTable(rs))
			}
			if !doctor.CanRun(rs) {
				return &ExitError{Code: exitDoctorFailed}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (for scripts)")
	return cmd
}

// doctorTable renders the results as a table, then the fix of every problem.
func doctorTable(rs []doctor.Result) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CHECK\tSTATUS\tDETAIL")
	for _, r := range rs {
		fmt.Fprintf(w, "%s\t%s\t%s\n", r.Check, r.Status, r.Detail)
	}
	w.Flush()
	first := true
	for _, r := range rs {
		if r.Fix == "" {
			continue
		}
		if first {
			b.WriteString("\nTo fix:\n")
			first = false
		}
		fmt.Fprintf(&b, "  %s: %s\n", r.Check, r.Fix)
	}
	if !doctor.CanRun(rs) {
		b.WriteString("\nsbx cannot run on this system until the failed checks are fixed.\n")
	}
	return b.String()
}
