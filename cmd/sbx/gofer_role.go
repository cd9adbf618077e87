package main

import (
	"github.com/sbx-dev/sbx/gofer"
	"github.com/spf13/cobra"
)

func newGoferRoleCmd() *cobra.Command {
	return &cobra.Command{
		Use:    gofer.Role,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := gofer.RoleMain(); err != nil {
				return &ExitError{Code: exitSbxFailure}
			}
			return nil
		},
	}
}
