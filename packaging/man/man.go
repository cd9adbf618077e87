// Package man writes troff manual pages (section 1) from a cobra command tree: one page per
// visible command, named like git's (sbx.1, sbx-run.1, sbx-profile-show.1), each with its
// synopsis, description, options, inherited options, examples and a SEE ALSO list.
package man

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Header is what every page's .TH line carries.
type Header struct {
	Date    string // e.g. "2026-12-06"
	Source  string // e.g. "sbx 0.1.0"
	Manual  string // e.g. "sbx manual"
	Section string // default "1"
}

// PageName is the file base name of cmd's page without the section: "sbx-profile-show".
func PageName(cmd *cobra.Command) string {
	return strings.ReplaceAll(cmd.CommandPath(), " ", "-")
}

// Commands lists cmd and every visible descendant, the order pages are written in.
func Commands(cmd *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{cmd}
	for _, c := range cmd.Commands() {
		if !c.IsAvailableCommand() || c.IsAdditionalHelpTopicCommand() {
			continue
		}
		out = append(out, Commands(c)...)
	}
	return out
}

// WriteTree writes one page per command of root's tree into dir and returns the files.
func WriteTree(root *cobra.Command, dir string, h Header) ([]string, error) {
	if h.Section == "" {
		h.Section = "1"
	}
	var files []string
	for _, c := range Commands(root) {
		var b bytes.Buffer
		if err := Write(&b, c, h); err != nil {
			return nil, err
		}
		f := filepath.Join(dir, PageName(c)+"."+h.Section)
		if err := os.WriteFile(f, b.Bytes(), 0o644); err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// Write writes cmd's page.
func Write(w io.Writer, cmd *cobra.Command, h Header) error {
	if h.Section == "" {
		h.Section = "1"
	}
	name := PageName(cmd)
	var b strings.Builder
	fmt.Fprintf(&b, ".TH %s %s %s %s %s\n", quote(strings.ToUpper(name)), h.Section, quote(h.Date), quote(h.Source), quote(h.Manual))
	b.WriteString(".SH NAME\n")
	fmt.Fprintf(&b, "%s \\- %s\n", escape(name), escape(strings.TrimSuffix(cmd.Short, ".")))
	b.WriteString(".SH SYNOPSIS\n")
	fmt.Fprintf(&b, ".B %s\n", escape(cmd.CommandPath()))
	if use := strings.TrimSpace(strings.TrimPrefix(cmd.Use, cmd.Name())); use != "" {
		fmt.Fprintf(&b, "%s\n", escape(use))
	} else if cmd.HasAvailableSubCommands() {
		b.WriteString("\\fICOMMAND\\fR\n")
	}
	b.WriteString(".SH DESCRIPTION\n")
	desc := cmd.Long
	if desc == "" {
		desc = cmd.Short
	}
	paragraphs(&b, desc)
	if subs := visibleSubcommands(cmd); len(subs) > 0 {
		b.WriteString(".SH COMMANDS\n")
		for _, c := range subs {
			fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", escape(c.Name()), escape(c.Short))
		}
	}
	if fs := cmd.NonInheritedFlags(); fs.HasAvailableFlags() {
		b.WriteString(".SH OPTIONS\n")
		flags(&b, fs)
	}
	if fs := cmd.InheritedFlags(); fs.HasAvailableFlags() {
		b.WriteString(".SH OPTIONS INHERITED FROM PARENT COMMANDS\n")
		flags(&b, fs)
	}
	if cmd.Example != "" {
		b.WriteString(".SH EXAMPLES\n.nf\n.RS\n")
		for _, l := range strings.Split(strings.Trim(cmd.Example, "\n"), "\n") {
			fmt.Fprintf(&b, "%s\n", escapeLine(strings.TrimPrefix(l, "  ")))
		}
		b.WriteString(".RE\n.fi\n")
	}
	if see := seeAlso(cmd); len(see) > 0 {
		b.WriteString(".SH SEE ALSO\n")
		for i, s := range see {
			sep := ","
			if i == len(see)-1 {
				sep = ""
			}
			fmt.Fprintf(&b, ".BR %s (%s)%s\n", escape(s), h.Section, sep)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func visibleSubcommands(cmd *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() && !c.IsAdditionalHelpTopicCommand() {
			out = append(out, c)
		}
	}
	return out
}

// seeAlso names the parent's page and the subcommands' pages.
func seeAlso(cmd *cobra.Command) []string {
	var out []string
	if cmd.HasParent() {
		out = append(out, PageName(cmd.Parent()))
	}
	for _, c := range visibleSubcommands(cmd) {
		out = append(out, PageName(c))
	}
	return out
}

func flags(b *strings.Builder, fs *pflag.FlagSet) {
	var list []*pflag.Flag
	fs.VisitAll(func(f *pflag.Flag) {
		if !f.Hidden && f.Deprecated == "" {
			list = append(list, f)
		}
	})
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	for _, f := range list {
		varname, usage := pflag.UnquoteUsage(f)
		head := ""
		if f.Shorthand != "" && f.ShorthandDeprecated == "" {
			head = fmt.Sprintf("\\fB\\-%s\\fR, ", escape(f.Shorthand))
		}
		head += fmt.Sprintf("\\fB\\-\\-%s\\fR", escape(f.Name))
		if varname != "" {
			head += " \\fI" + escape(varname) + "\\fR"
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.Value.Type() != "bool" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(b, ".TP\n%s\n%s\n", head, escape(usage))
	}
}

// paragraphs writes text, keeping its blank-line paragraph breaks and joining wrapped lines.
func paragraphs(b *strings.Builder, text string) {
	for i, p := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if i > 0 {
			b.WriteString(".PP\n")
		}
		fmt.Fprintf(b, "%s\n", escapeLine(strings.Join(strings.Fields(p), " ")))
	}
}

// escape makes text safe inside a troff line: backslashes and hyphens (so "-" stays an
// ASCII hyphen-minus in UTF-8 output, which is what commands and flags need).
func escape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	return strings.ReplaceAll(s, "-", `\-`)
}

// escapeLine escapes a whole output line, protecting a leading '.' or '\” from being read as
// a request.
func escapeLine(s string) string {
	s = escape(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

func quote(s string) string {
	return `"` + strings.ReplaceAll(escape(s), `"`, `\(dq`) + `"`
}
