package main

import (
	"fmt"
	"os"

	"github.com/sbx-dev/sbx/doctor"
	"github.com/sbx-dev/sbx/packaging/man"
	"github.com/spf13/cobra"
)

// addPackagingCommands registers the commands that come with sbx as a distribution package:
// doctor, desktop, and the hidden generator of the man pages the packages ship.
func addPackagingCommands(root *cobra.Command, io *IOStreams) {
	root.AddCommand(newDoctorCmd(io, doctor.System{}), newDesktopCmd(io), newGenManCmd(io))
}

// genManCmd is what `make packages` runs to get the man pages of exactly this binary's
// commands (packaging/build).
func newGenManCmd(io *IOStreams) *cobra.Command {
	var date string
	cmd := &cobra.Command{
		Use:    "__man DIR",
		Short:  "Write the man pages of every sbx command into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			files, err := man.WriteTree(cmd.Root(), args[0], man.Header{Date: date, Source: "sbx " + currentVersion(), Manual: "sbx manual"})
			if err != nil {
				return fmt.Errorf("writing man pages: %w", err)
			}
			for _, f := range files {
				fmt.Fprintln(io.Out, f)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&date, "date", "", "date printed in the pages' footer (YYYY-MM-DD)")
	return cmd
}
