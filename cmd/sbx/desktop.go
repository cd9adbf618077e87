package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/sbx-dev/sbx/packaging/desktop"
	"github.com/sbx-dev/sbx/profiles"
	"github.com/spf13/cobra"
)

// systemApplications is where `sbx desktop --system` writes: it comes before /usr/share in
// the default XDG_DATA_DIRS, so its entries override the distribution's for every user.
const systemApplications = "/usr/local/share/applications"

type desktopOptions struct {
	io     *IOStreams
	loader func() *profiles.Loader
	system bool
	all    bool
	asJSON bool
}

func newDesktopCmd(io *IOStreams) *cobra.Command {
	o := &desktopOptions{io: io, loader: profiles.NewLoader}
	cmd := &cobra.Command{
		Use:   "desktop",
		Short: "Make the application menu start apps inside sbx",
		Long: `sbx desktop writes overrides of the menu entries (.desktop files) of applications that
have an sbx profile, so that starting them from the menu, a file manager or a browser runs
them inside sbx. The overrides go to ~/.local/share/applications (for you only) or, with
--system, to /usr/local/share/applications (for every user; needs root). The originals are
never changed: 'sbx desktop remove' deletes the overrides and the menu is as it was.`,
		Example: `  sbx desktop list
  sbx desktop install firefox gimp
  sbx desktop install --all
  sbx desktop remove --all`,
	}
	cmd.PersistentFlags().BoolVar(&o.system, "system", false, "work on "+systemApplications+" for every user instead of your own menu")
	install := &cobra.Command{
		Use:   "install [APP...|--all]",
		Short: "Write overrides that run the named apps (or every app with a profile) in sbx",
		Long: `Write an override of each named application's menu entry whose Exec lines run it through
'sbx run --profile PROFILE --'. APP is a desktop entry ID (firefox-esr), a program (firefox)
or a profile name. Only applications with a profile of their own are wrapped. Icon, MimeType,
Actions, TryExec and the Exec field codes are kept; the X-SBX-Profile key names the profile.`,
		RunE: func(cmd *cobra.Command, args []string) error { return o.install(args) },
	}
	install.Flags().BoolVar(&o.all, "all", false, "every application that has a profile")
	list := &cobra.Command{
		Use:   "list",
		Short: "List wrapped, wrappable and stale menu entries",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return o.list() },
	}
	list.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	remove := &cobra.Command{
		Use:   "remove [APP...|--all]",
		Short: "Remove sbx's overrides of the named apps (or all of them), restoring the menu",
		RunE:  func(cmd *cobra.Command, args []string) error { return o.remove(args) },
	}
	remove.Flags().BoolVar(&o.all, "all", false, "every override sbx wrote")
	cmd.AddCommand(install, list, remove)
	return cmd
}

func (o *desktopOptions) manager() (*desktop.Manager, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("desktop: finding the sbx binary: %w", err)
	}
	if p, err := filepath.EvalSymlinks(self); err == nil {
		self = p
	}
	dataDirs := os.Getenv("XDG_DATA_DIRS")
	if dataDirs == "" {
		dataDirs = "/usr/local/share:/usr/share"
	}
	var srcs []string
	for _, d := range strings.Split(dataDirs, ":") {
		if filepath.IsAbs(d) {
			srcs = append(srcs, filepath.Join(d, "applications"))
		}
	}
	target := systemApplications
	if !o.system {
		home := os.Getenv("XDG_DATA_HOME")
		if home == "" || !filepath.IsAbs(home) {
			home = filepath.Join(currentHome(), ".local", "share")
		}
		target = filepath.Join(home, "applications")
	}
	l := o.loader()
	return &desktop.Manager{SourceDirs: srcs, Target: target, Sbx: self, ProfileOf: func(prog string) (string, bool) {
		m, err := l.Which(prog)
		if err != nil || m.Name == "default" {
			return "", false
		}
		return m.Name, true
	}}, nil
}

func (o *desktopOptions) selection(args []string) error {
	if o.system && os.Geteuid() != 0 {
		return &usageError{fmt.Errorf("--system changes %s for every user: run it as root (or leave --system out for your own menu)", systemApplications)}
	}
	if o.all && len(args) > 0 {
		return &usageError{fmt.Errorf("name apps or give --all, not both")}
	}
	if !o.all && len(args) == 0 {
		return &usageError{fmt.Errorf("name the apps, or give --all (see 'sbx desktop list')")}
	}
	return nil
}

func (o *desktopOptions) install(args []string) error {
	if err := o.selection(args); err != nil {
		return err
	}
	m, err := o.manager()
	if err != nil {
		return err
	}
	done, already, err := m.Install(args, o.all)
	for _, a := range done {
		fmt.Fprintf(o.io.Out, "wrapped %s (profile %s): %s\n", a.ID, a.Profile, a.Override)
	}
	for _, a := range already {
		fmt.Fprintf(o.io.Out, "%s is wrapped already (profile %s): %s\n", a.ID, a.Profile, a.Override)
	}
	if err != nil {
		return fmt.Errorf("desktop install: %w", err)
	}
	refreshDesktopDatabase(o.io, m.Target)
	return nil
}

func (o *desktopOptions) remove(args []string) error {
	if err := o.selection(args); err != nil {
		return err
	}
	m, err := o.manager()
	if err != nil {
		return err
	}
	done, err := m.Remove(args, o.all)
	if err != nil {
		return fmt.Errorf("desktop remove: %w", err)
	}
	for _, a := range done {
		fmt.Fprintf(o.io.Out, "removed %s\n", a.Override)
	}
	refreshDesktopDatabase(o.io, m.Target)
	return nil
}

func (o *desktopOptions) list() error {
	m, err := o.manager()
	if err != nil {
		return err
	}
	apps, err := m.List()
	if err != nil {
		return fmt.Errorf("desktop list: %w", err)
	}
	if o.asJSON {
		enc := json.NewEncoder(o.io.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(apps)
	}
	w := tabwriter.NewWriter(o.io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSTATE\tPROFILE\tENTRY")
	for _, a := range apps {
		entry := a.Source
		if a.Override != "" {
			entry = a.Override
		}
		if a.Reason != "" {
			entry += " (" + a.Reason + ")"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", a.ID, a.State, a.Profile, entry)
	}
	return w.Flush()
}

// refreshDesktopDatabase updates the MIME cache of dir when update-desktop-database exists,
// so file associations follow the overrides. When no entry is left, a cache holding nothing
// is removed rather than rebuilt, so that removing every override leaves the directory as
// it was.
func refreshDesktopDatabase(io *IOStreams, dir string) {
	tool, err := exec.LookPath("update-desktop-database")
	if err != nil {
		return
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, "*.desktop")); len(entries) == 0 {
		cache := filepath.Join(dir, "mimeinfo.cache")
		if b, err := os.ReadFile(cache); err == nil && strings.TrimSpace(string(b)) == "[MIME Cache]" {
			os.Remove(cache)
		}
		return
	}
	if out, err := exec.Command(tool, dir).CombinedOutput(); err != nil {
		fmt.Fprintf(io.ErrOut, "sbx: warning: update-desktop-database %s: %v: %s\n", dir, err, strings.TrimSpace(string(out)))
	}
}
