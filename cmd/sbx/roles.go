package main

import "github.com/spf13/cobra"

// addRoleCommands registers the hidden helper roles (gofer, kernel) that sbx re-executes
// itself into. They read their configuration from an inherited FD, never from argv.
func addRoleCommands(root *cobra.Command, io *IOStreams) {
}
