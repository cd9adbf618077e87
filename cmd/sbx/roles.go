package main

import (
	"github.com/sbx-dev/sbx/kernel/sandbox"
	"github.com/sbx-dev/sbx/launcher"
	"github.com/spf13/cobra"
)

// addRoleCommands registers the hidden helper roles (gofer, kernel) that sbx re-executes
// itself into. They read their configuration from an inherited FD, never from argv.
func addRoleCommands(root *cobra.Command, io *IOStreams) {
	root.AddCommand(newGoferRoleCmd())
	root.AddCommand(&cobra.Command{
		Use:    launcher.KernelRole,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := sandbox.RoleMain(io.ErrOut); code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	})
}
