package main

import (
	"github.com/sbx-dev/sbx/gofer"
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

// runRole runs a helper role when args name one, without building the command tree: it is
// on every sandbox's start-up path. ok is false when args name no role.
func runRole(args []string, io *IOStreams) (code int, ok bool) {
	if len(args) != 1 {
		return 0, false
	}
	switch args[0] {
	case gofer.Role:
		if err := gofer.RoleMain(); err != nil {
			return exitSbxFailure, true
		}
		return exitOK, true
	case launcher.KernelRole:
		return sandbox.RoleMain(io.ErrOut), true
	}
	return 0, false
}
