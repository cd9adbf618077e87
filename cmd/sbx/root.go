package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sbx-dev/sbx/profiles"
	"github.com/spf13/cobra"
)

// IOStreams carries the standard streams so tests can capture what a command prints.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

func systemStreams() *IOStreams {
	return &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
}

// Exit codes of sbx itself (DESIGN.md §10). sbx run exits with the app's own status otherwise.
const (
	exitOK         = 0
	exitUsage      = 2
	exitSbxFailure = 125
	exitCannotExec = 126
	exitNotFound   = 127
)

// ExitError carries a specific exit status out of a command without printing anything more;
// sbx run uses it to exit with the sandboxed app's status.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// CodedError is an error that maps to a specific exit code (126, 127, ...).
type CodedError struct {
	Code int
	Err  error
}

func (e *CodedError) Error() string { return e.Err.Error() }
func (e *CodedError) Unwrap() error { return e.Err }

// usageError marks errors in how sbx was called (bad flags, wrong argument count).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func newRootCmd(io *IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:   "sbx",
		Short: "Run desktop applications in a user-space kernel sandbox",
		Long: `sbx runs an application inside a user-space kernel: the application's system
calls are implemented by sbx, never executed by the host kernel on its behalf. What of
the host the application may see (files, network, D-Bus, display, audio) is decided by
a per-application TOML profile. sbx needs no setuid and no capabilities: it runs as
an ordinary user, using unprivileged user namespaces.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.AddCommand(
		newVersionCmd(io),
		newRunCmd(io),
		newProfileCmd(io, profiles.NewLoader),
		newCompletionCmd(io),
		newListCmd(io),
		newKillCmd(io),
		newTopCmd(io),
	)
	addRoleCommands(root, io)
	addOCICommands(root, io)
	addPackagingCommands(root, io)
	return root
}

// run executes the command line and maps errors to exit codes in one place.
func run(args []string, io *IOStreams) int {
	root := newRootCmd(io)
	root.SetArgs(args)
	return exitCode(root.Execute(), io)
}

// exitCode prints err (one line) and maps it to the process exit status.
func exitCode(err error, io *IOStreams) int {
	if err == nil {
		return exitOK
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		return exit.Code
	}
	fmt.Fprintf(io.ErrOut, "sbx: %v\n", err)
	var coded *CodedError
	var usage *usageError
	switch {
	case errors.As(err, &coded):
		return coded.Code
	case errors.As(err, &usage):
		return exitUsage
	}
	return exitSbxFailure
}
