package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/sbx-dev/sbx/profiles"
	"github.com/spf13/cobra"
)

// profileOptions are shared by the profile subcommands.
type profileOptions struct {
	io     *IOStreams
	loader func() *profiles.Loader
}

func newProfileCmd(io *IOStreams, loader func() *profiles.Loader) *cobra.Command {
	o := &profileOptions{io: io, loader: loader}
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "List, show, check and match application profiles",
		Long: `Profiles decide what a sandboxed application may touch. They are TOML files found in
$SBX_PROFILE_PATH, ~/.config/sbx/profiles, /etc/sbx/profiles, then the built-in set
(earlier wins). See docs/profiles.md for every field.`,
	}
	cmd.AddCommand(o.listCmd(), o.showCmd(), o.checkCmd(), o.whichCmd())
	return cmd
}

func (o *profileOptions) listCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the profiles on the search path and built in",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			w := tabwriter.NewWriter(o.io.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tDESCRIPTION\tFILE")
			for _, e := range o.loader().List() {
				fmt.Fprintf(w, "%s\t%s\t%s\n", e.Name, e.Description, e.File)
			}
			return w.Flush()
		},
	}
}

func (o *profileOptions) showCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME|FILE",
		Short: "Print a profile resolved: includes merged, variables expanded",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := o.loader().Load(args[0])
			if err != nil {
				return profileErr(err)
			}
			if asJSON {
				enc := json.NewEncoder(o.io.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(p)
			}
			fmt.Fprint(o.io.Out, p.TOML())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of TOML")
	return cmd
}

func (o *profileOptions) checkCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE...",
		Short: "Validate profile files, reporting every error with file:line:col",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, f := range args {
				errs := o.loader().Check(f)
				for _, e := range errs {
					fmt.Fprintln(o.io.ErrOut, e.Error())
				}
				if len(errs) > 0 {
					bad++
				} else {
					fmt.Fprintf(o.io.Out, "%s: ok\n", f)
				}
			}
			if bad > 0 {
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
}

func (o *profileOptions) whichCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "which APP",
		Short: "Say which profile `sbx run APP` would use, and why",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := o.loader().Which(args[0])
			if err != nil {
				return profileErr(err)
			}
			fmt.Fprintf(o.io.Out, "%s\t%s\t(%s)\n", m.Name, m.File, m.Reason)
			return nil
		},
	}
}

// profileErr turns loader errors into one-line CLI errors.
func profileErr(err error) error {
	var es profiles.Errors
	if errors.As(err, &es) && len(es) > 0 {
		if len(es) == 1 {
			return fmt.Errorf("profile: %s (run 'sbx profile check' on the file)", es[0])
		}
		return fmt.Errorf("profile: %s, and %d more errors (run 'sbx profile check' on the file)", es[0], len(es)-1)
	}
	if errors.Is(err, profiles.ErrNotFound) {
		return fmt.Errorf("%v (see 'sbx profile list')", err)
	}
	return err
}

func newCompletionCmd(io *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:       "completion bash|zsh|fish",
		Short:     "Print a shell completion script",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(io.Out, true)
			case "zsh":
				return root.GenZshCompletion(io.Out)
			case "fish":
				return root.GenFishCompletion(io.Out, true)
			}
			return &usageError{fmt.Errorf("unknown shell %q (valid: bash, zsh, fish)", args[0])}
		},
	}
}
