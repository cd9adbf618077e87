// Package desktop reads and writes freedesktop.org desktop entries (the .desktop files of
// application menus) and makes the per-user or system-wide overrides `sbx desktop` installs:
// copies of an application's entry whose Exec lines run it through `sbx run`.
//
// An entry is kept line by line (comments, groups, keys in their order, translations) so an
// override differs from its original only in the keys sbx changes.
package desktop

import (
	"fmt"
	"strings"
)

// Entry is a parsed desktop entry file.
type Entry struct {
	lines []line
}

type line struct {
	group      string // the group this line belongs to ("" before the first header)
	key, value string // for key=value lines; key is "" for headers, comments and blanks
	raw        string
}

// Parse reads a desktop entry. It keeps every line; it fails only on lines that are none of
// comment, blank, group header or key=value.
func Parse(data []byte) (*Entry, error) {
	e := &Entry{}
	group := ""
	for i, raw := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		t := strings.TrimSpace(raw)
		switch {
		case t == "" || strings.HasPrefix(t, "#"):
			e.lines = append(e.lines, line{group: group, raw: raw})
		case strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]"):
			group = t[1 : len(t)-1]
			e.lines = append(e.lines, line{group: group, raw: raw})
		default:
			k, v, ok := strings.Cut(raw, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return nil, fmt.Errorf("line %d: not a comment, group header or key=value: %q", i+1, raw)
			}
			e.lines = append(e.lines, line{group: group, key: strings.TrimSpace(k), value: strings.TrimSpace(v), raw: raw})
		}
	}
	return e, nil
}

// Bytes writes the entry back.
func (e *Entry) Bytes() []byte {
	var b strings.Builder
	for _, l := range e.lines {
		b.WriteString(l.raw)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// Get returns the raw (still escaped) value of key in group.
func (e *Entry) Get(group, key string) (string, bool) {
	for _, l := range e.lines {
		if l.group == group && l.key == key {
			return l.value, true
		}
	}
	return "", false
}

// Groups lists the group names in file order.
func (e *Entry) Groups() []string {
	var gs []string
	for _, l := range e.lines {
		if l.key == "" && strings.HasPrefix(strings.TrimSpace(l.raw), "[") {
			gs = append(gs, l.group)
		}
	}
	return gs
}

// Set sets key in group to the raw value, in place when the key exists, else after the
// group's last key line.
func (e *Entry) Set(group, key, value string) {
	raw := key + "=" + value
	last := -1
	for i, l := range e.lines {
		if l.group != group {
			continue
		}
		if l.key == key {
			e.lines[i].value, e.lines[i].raw = value, raw
			return
		}
		if l.key != "" || last == -1 {
			last = i
		}
	}
	nl := line{group: group, key: key, value: value, raw: raw}
	if last == -1 {
		e.lines = append(e.lines, line{group: group, raw: "[" + group + "]"}, nl)
		return
	}
	e.lines = append(e.lines[:last+1], append([]line{nl}, e.lines[last+1:]...)...)
}

// Delete removes key from group.
func (e *Entry) Delete(group, key string) {
	out := e.lines[:0]
	for _, l := range e.lines {
		if l.group == group && l.key == key {
			continue
		}
		out = append(out, l)
	}
	e.lines = out
}

// unescapeString undoes the string-level escapes of a desktop entry value (\s \n \t \r \\).
func unescapeString(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' || i+1 == len(v) {
			b.WriteByte(v[i])
			continue
		}
		i++
		switch v[i] {
		case 's':
			b.WriteByte(' ')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\\':
			b.WriteByte('\\')
		default:
			b.WriteByte('\\')
			b.WriteByte(v[i])
		}
	}
	return b.String()
}

// SplitExec splits an Exec value into its arguments, following the specification's
// quoting rules ("Exec key" in the Desktop Entry Specification). Field codes such as %u stay
// arguments of their own.
func SplitExec(v string) ([]string, error) {
	s := unescapeString(v)
	var args []string
	var cur strings.Builder
	inArg, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("the Exec value %q: backslash at the end", v)
			}
			i++
			cur.WriteByte(s[i])
		case quoted && c == '"':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '"':
			quoted, inArg = true, true
		case c == ' ' || c == '\t':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("the Exec value %q: unterminated quote", v)
	}
	if inArg {
		args = append(args, cur.String())
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("the Exec value is empty")
	}
	return args, nil
}

// JoinExec is SplitExec's inverse: it quotes arguments that need it and applies the
// string-level escaping of backslashes.
func JoinExec(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		q := a == "" || strings.ContainsAny(a, " \t\n\"'\\><~|&;$*?#()`")
		if isFieldCode(a) {
			q = false
		}
		if q {
			r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "`", "\\`", `$`, `\$`)
			a = `"` + r.Replace(a) + `"`
		}
		out[i] = strings.ReplaceAll(a, `\`, `\\`)
	}
	return strings.Join(out, " ")
}

func isFieldCode(a string) bool {
	return len(a) == 2 && a[0] == '%' && strings.ContainsRune("fFuUdDnNickvm%", rune(a[1]))
}
