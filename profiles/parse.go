package profiles

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
)

// kind is the type of a profile key.
type kind int

const (
	kString kind = iota
	kBool
	kEnum
	kStrings   // list of plain strings
	kPaths     // list of absolute paths (after expansion)
	kDevices   // list of /dev paths
	kAllow     // list of {path, mode, create}
	kNet       // list of CIDR[:ports]
	kBusNames  // list of bus names with optional .* wildcard
	kBusRules  // list of name=interface.member@/path rules
	kVarNames  // list of environment variable names
	kStringMap // table of string → string
	kSize      // "4GiB" or a number of bytes
	kInt       // positive integer
	kFeatures  // list of known feature names
	kBoolOr    // true, false or one of the enum's strings
)

type keySpec struct {
	kind  kind
	enum  []string
	about string // shown in "valid:" hints
}

// schema lists every key a profile may set.
var schema = map[string]keySpec{
	"description":        {kind: kString},
	"include":            {kind: kStrings, about: "a list of profile names"},
	"binaries":           {kind: kStrings, about: "a list of program names or absolute paths"},
	"filesystem.home":    {kind: kEnum, enum: []string{HomePrivate, HomeFiltered, HomeFull}},
	"filesystem.allow":   {kind: kAllow, about: `a list of { path = "~/dir", mode = "ro" | "rw", create = true|false }`},
	"filesystem.deny":    {kind: kPaths, about: "a list of absolute paths (~ and ${VARS} allowed)"},
	"filesystem.tmpfs":   {kind: kPaths, about: "a list of absolute paths"},
	"filesystem.devices": {kind: kDevices, about: `a list of paths under /dev, e.g. "/dev/dri"`},
	"network.mode":       {kind: kEnum, enum: []string{NetNone, NetFiltered, NetFull}},
	"network.allow":      {kind: kNet, about: `a list of "CIDR", "address" or "host name" with optional ":ports", e.g. "0.0.0.0/0:80,443", "::/0:1000-2000" or "*.example.com:443"`},
	"network.deny":       {kind: kNet, about: `a list of "CIDR", "address" or "host name" with optional ":ports"`},
	"network.dns":        {kind: kBool},
	"network.listen":     {kind: kNet, about: `a list of local "address:ports" the app may serve on, e.g. "0.0.0.0:8080" or "[::]:8080"`},
	"network.host":       {kind: kNet, about: `a list of the host's loopback services the app may reach, e.g. "127.0.0.1:631"`},
	"display.x11":        {kind: kBoolOr, enum: []string{X11Nested}},
	"display.wayland":    {kind: kBool},
	"audio.pulseaudio":   {kind: kBool},
	"audio.pipewire":     {kind: kBool},
	"env.pass":           {kind: kVarNames, about: "a list of environment variable names"},
	"env.set":            {kind: kStringMap, about: `a table of NAME = "value"`},
	"resources.memory":   {kind: kSize, about: `a size such as "512MiB" or "4GiB"`},
	"resources.disk":     {kind: kSize, about: `a size such as "512MiB" or "4GiB"`},
	"resources.tasks":    {kind: kInt, about: "a positive number of tasks"},
	"kernel.platform":    {kind: kEnum, enum: []string{"auto", "trap", "ptrace", "kvm"}},
	"kernel.require":     {kind: kFeatures, about: "a list of: " + strings.Join(knownFeatures, ", ")},
}

func init() {
	for _, bus := range []string{"dbus", "dbus.system"} {
		schema[bus+".see"] = keySpec{kind: kBusNames, about: `a list of bus names, with an optional trailing ".*"`}
		schema[bus+".talk"] = keySpec{kind: kBusNames, about: `a list of bus names, with an optional trailing ".*"`}
		schema[bus+".own"] = keySpec{kind: kBusNames, about: `a list of bus names, with an optional trailing ".*"`}
		schema[bus+".call"] = keySpec{kind: kBusRules, about: `a list of "name=interface.member@/path" rules`}
		schema[bus+".broadcast"] = keySpec{kind: kBusRules, about: `a list of "name=interface.member@/path" rules`}
	}
}

// tables are the sections (and nested sections) a profile may contain.
var tables = map[string]bool{"filesystem": true, "network": true, "dbus": true, "dbus.system": true, "display": true,
	"audio": true, "env": true, "resources": true, "kernel": true}

func validKeysIn(table string) string {
	var ks []string
	prefix := ""
	if table != "" {
		prefix = table + "."
	}
	for k := range schema {
		if rest, ok := strings.CutPrefix(k, prefix); ok && !strings.Contains(rest, ".") {
			ks = append(ks, rest)
		}
	}
	for t := range tables {
		if rest, ok := strings.CutPrefix(t, prefix); ok && !strings.Contains(rest, ".") {
			ks = append(ks, "["+t+"]")
		}
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// layer is one profile file, parsed and validated, before merging.
type layer struct {
	name, file string
	// values maps schema keys to typed values: string, bool, int64, uint64, []string,
	// []PathRule, []NetRule, map[string]string.
	values  map[string]any
	include []string
}

// positions finds where keys and values are written in a TOML file, for error messages.
type positions struct {
	lines []string
	keys  map[string][2]int // key path → line, col (1-based)
}

// headerRE and keyRE compile at first use: the gofer and kernel roles are this binary too,
// and never parse a profile.
var (
	headerRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s*\[\[?\s*([^\]]+?)\s*\]\]?`) })
	keyRE    = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(\s*)([A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*|"[^"]*")\s*=`)
	})
)

func indexPositions(src []byte) *positions {
	p := &positions{lines: strings.Split(string(src), "\n"), keys: map[string][2]int{}}
	table := ""
	for i, l := range p.lines {
		if m := headerRE().FindStringSubmatch(l); m != nil && !strings.Contains(strings.SplitN(l, "=", 2)[0], "=") && strings.HasPrefix(strings.TrimSpace(l), "[") {
			table = strings.ReplaceAll(m[1], " ", "")
			p.keys[table] = [2]int{i + 1, strings.Index(l, "[") + 1}
			continue
		}
		if m := keyRE().FindStringSubmatchIndex(l); m != nil {
			key := strings.Trim(l[m[4]:m[5]], `"`)
			full := key
			if table != "" {
				full = table + "." + key
			}
			if _, seen := p.keys[full]; !seen {
				p.keys[full] = [2]int{i + 1, m[4] + 1}
			}
		}
	}
	return p
}

// at returns the position of key, or of the first occurrence of literal at or after it.
func (p *positions) at(key, literal string) (int, int) {
	pos, ok := p.keys[key]
	if !ok {
		// A key set through an inline table of its parent.
		for k := key; strings.Contains(k, "."); {
			k = k[:strings.LastIndex(k, ".")]
			if pp, ok := p.keys[k]; ok {
				pos = pp
				break
			}
		}
	}
	if literal != "" {
		start := max(pos[0]-1, 0)
		for i := start; i < len(p.lines); i++ {
			if c := strings.Index(p.lines[i], literal); c >= 0 {
				return i + 1, c + 1
			}
		}
	}
	return pos[0], pos[1]
}

// parseLayer decodes and validates one file. Every problem is collected.
func parseLayer(name, file string, src []byte, env Env) (*layer, Errors) {
	var errs Errors
	var raw map[string]any
	if _, err := toml.Decode(string(src), &raw); err != nil {
		e := &Error{File: file, Msg: "invalid TOML: " + err.Error()}
		var perr toml.ParseError
		if pe, ok := err.(toml.ParseError); ok {
			perr = pe
			e.Line, e.Col = perr.Position.Line, perr.Position.Col
			e.Msg = "invalid TOML: " + perr.Message
		}
		return nil, Errors{e}
	}
	pos := indexPositions(src)
	l := &layer{name: name, file: file, values: map[string]any{}}
	fail := func(key, literal, format string, args ...any) {
		line, col := pos.at(key, literal)
		errs = append(errs, &Error{File: file, Line: line, Col: col, Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := m[k]
			full := k
			if prefix != "" {
				full = prefix + "." + k
			}
			if tables[full] {
				sub, ok := v.(map[string]any)
				if !ok {
					fail(full, "", "must be a table (valid keys: %s)", validKeysIn(full))
					continue
				}
				walk(full, sub)
				continue
			}
			spec, ok := schema[full]
			if !ok {
				fail(full, "", "unknown key (valid in %s: %s)", sectionName(prefix), validKeysIn(prefix))
				continue
			}
			val, msg, lit := convert(spec, v, env)
			if msg != "" {
				fail(full, lit, "%s", msg)
				continue
			}
			if full == "include" {
				l.include = val.([]string)
				continue
			}
			l.values[full] = val
		}
	}
	walk("", raw)
	if d, ok := l.values["description"].(string); !ok || strings.TrimSpace(d) == "" {
		if _, isDefault := raw["description"]; !isDefault {
			errs = append(errs, &Error{File: file, Line: 1, Col: 1, Key: "description", Msg: `missing (every profile starts with description = "...")`})
		}
	}
	if len(errs) > 0 {
		// The valid parts still matter: includes are followed so their errors (and cycles)
		// are reported too.
		return l, errs
	}
	return l, nil
}

func sectionName(prefix string) string {
	if prefix == "" {
		return "the top level"
	}
	return "[" + prefix + "]"
}

// convert checks a raw TOML value against spec, returning the typed value, or a message and
// the literal to point at.
func convert(spec keySpec, v any, env Env) (any, string, string) {
	strList := func() ([]string, string, string) {
		arr, ok := v.([]any)
		if !ok {
			return nil, fmt.Sprintf("must be %s", aboutOr(spec, "a list of strings")), ""
		}
		out := make([]string, 0, len(arr))
		for _, e := range arr {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Sprintf("every element must be a string (%s)", aboutOr(spec, "a list of strings")), ""
			}
			out = append(out, s)
		}
		return out, "", ""
	}
	switch spec.kind {
	case kString:
		s, ok := v.(string)
		if !ok {
			return nil, "must be a string", ""
		}
		return s, "", ""
	case kBool:
		b, ok := v.(bool)
		if !ok {
			return nil, "must be true or false", ""
		}
		return b, "", ""
	case kBoolOr:
		if b, ok := v.(bool); ok {
			return b, "", ""
		}
		s, ok := v.(string)
		if !ok || !contains(spec.enum, s) {
			return nil, fmt.Sprintf("%s (valid: true, false, %s)", badValue(v), strings.Join(spec.enum, ", ")), quote(v)
		}
		return s, "", ""
	case kEnum:
		s, ok := v.(string)
		if !ok || !contains(spec.enum, s) {
			return nil, fmt.Sprintf("%s (valid: %s)", badValue(v), strings.Join(spec.enum, ", ")), quote(v)
		}
		return s, "", ""
	case kInt:
		n, ok := v.(int64)
		if !ok || n <= 0 {
			return nil, fmt.Sprintf("%s (%s)", badValue(v), spec.about), ""
		}
		return n, "", ""
	case kSize:
		n, err := parseSize(v)
		if err != "" {
			return nil, err + " (" + spec.about + ")", quote(v)
		}
		return n, "", ""
	case kStringMap:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, "must be " + spec.about, ""
		}
		out := map[string]string{}
		for k, e := range m {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Sprintf("value of %s must be a string", k), ""
			}
			if !validVarName(k) {
				return nil, fmt.Sprintf("%q is not a valid variable name", k), k
			}
			out[k] = s
		}
		return out, "", ""
	case kAllow:
		arr, ok := v.([]any)
		if !ok {
			return nil, "must be " + spec.about, ""
		}
		var out []PathRule
		for _, e := range arr {
			var r PathRule
			switch x := e.(type) {
			case string:
				r.Path, r.Mode = x, "ro"
			case map[string]any:
				for k := range x {
					if k != "path" && k != "mode" && k != "create" {
						return nil, fmt.Sprintf("unknown key %q in an allow entry (valid: path, mode, create)", k), k
					}
				}
				p, _ := x["path"].(string)
				r.Path = p
				r.Mode = "ro"
				if m, ok := x["mode"]; ok {
					ms, _ := m.(string)
					if ms != "ro" && ms != "rw" {
						return nil, fmt.Sprintf("mode %s (valid: ro, rw)", badValue(m)), quote(m)
					}
					r.Mode = ms
				}
				if c, ok := x["create"]; ok {
					cb, isBool := c.(bool)
					if !isBool {
						return nil, "create must be true or false", ""
					}
					r.Create = cb
				}
			default:
				return nil, "every element must be " + spec.about, ""
			}
			exp, msg := expandPath(r.Path, env)
			if msg != "" {
				return nil, msg, r.Path
			}
			r.Path = exp
			out = append(out, r)
		}
		return out, "", ""
	case kPaths, kDevices:
		ss, msg, lit := strList()
		if msg != "" {
			return nil, msg, lit
		}
		for i, s := range ss {
			exp, msg := expandPath(s, env)
			if msg != "" {
				return nil, msg, s
			}
			if spec.kind == kDevices && !strings.HasPrefix(exp, "/dev/") {
				return nil, fmt.Sprintf("%q is not under /dev (%s)", s, spec.about), s
			}
			ss[i] = exp
		}
		return ss, "", ""
	case kNet:
		ss, msg, lit := strList()
		if msg != "" {
			return nil, msg, lit
		}
		var out []NetRule
		for _, s := range ss {
			r, msg := parseNetRule(s)
			if msg != "" {
				return nil, fmt.Sprintf("%q: %s (%s)", s, msg, spec.about), s
			}
			out = append(out, r)
		}
		return out, "", ""
	case kBusNames:
		ss, msg, lit := strList()
		if msg != "" {
			return nil, msg, lit
		}
		for _, s := range ss {
			if !validBusName(s) {
				return nil, fmt.Sprintf("%q is not a bus name (%s)", s, spec.about), s
			}
		}
		return ss, "", ""
	case kBusRules:
		ss, msg, lit := strList()
		if msg != "" {
			return nil, msg, lit
		}
		for _, s := range ss {
			name, _, _ := strings.Cut(s, "=")
			if !validBusName(name) {
				return nil, fmt.Sprintf("%q: %q is not a bus name (%s)", s, name, spec.about), s
			}
		}
		return ss, "", ""
	case kVarNames:
		ss, msg, lit := strList()
		if msg != "" {
			return nil, msg, lit
		}
		for _, s := range ss {
			if !validVarName(s) {
				return nil, fmt.Sprintf("%q is not a variable name (%s)", s, spec.about), s
			}
		}
		return ss, "", ""
	case kFeatures:
		ss, msg, lit := strList()
		if msg != "" {
			return nil, msg, lit
		}
		for _, s := range ss {
			if !contains(knownFeatures, s) {
				return nil, fmt.Sprintf("unknown feature %q (valid: %s)", s, strings.Join(knownFeatures, ", ")), s
			}
		}
		return ss, "", ""
	case kStrings:
		return strList()
	}
	return nil, "unsupported value", ""
}

func aboutOr(spec keySpec, def string) string {
	if spec.about != "" {
		return spec.about
	}
	return def
}

func badValue(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("invalid value %q", s)
	}
	return fmt.Sprintf("invalid value %v of type %T", v, v)
}

func quote(v any) string {
	if s, ok := v.(string); ok {
		return `"` + s + `"`
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Regular expressions are compiled at first use: every sbx process (the roles too) would
// otherwise pay for them at start.
var varRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{([^}]*)\}`) })

// expandPath expands ~ and ${VARS}; the result must be absolute.
func expandPath(p string, env Env) (string, string) {
	if p == "" {
		return "", "empty path"
	}
	if p == "~" || strings.HasPrefix(p, "~/") {
		p = "${HOME}" + p[1:]
	}
	var bad string
	p = varRE().ReplaceAllStringFunc(p, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := env.lookup(name)
		if !ok {
			bad = name
			return m
		}
		return v
	})
	if bad != "" {
		return "", fmt.Sprintf("unknown variable ${%s} (valid: ~, ${%s})", bad, strings.Join(Vars, "}, ${"))
	}
	if strings.Contains(p, "$") {
		return "", fmt.Sprintf("%q: write variables as ${NAME}", p)
	}
	if !filepath.IsAbs(p) {
		return "", fmt.Sprintf("%q is relative (use an absolute path, ~/... or ${HOME}/...)", p)
	}
	return filepath.Clean(p), ""
}

// parseNetRule parses "CIDR" or "CIDR:ports" (ports: comma-separated numbers or ranges).
func parseNetRule(s string) (NetRule, string) {
	slash := strings.IndexByte(s, '/')
	var cidr, ports string
	var pfx netip.Prefix
	if slash < 0 {
		// One address: "192.0.2.1", "192.0.2.1:80", "::1", "[::1]:631".
		host := s
		if strings.HasPrefix(s, "[") {
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return NetRule{}, "missing ] after an IPv6 address"
			}
			host, ports = s[1:end], s[end+1:]
			if ports != "" {
				if ports[0] != ':' {
					return NetRule{}, "expected :ports after ]"
				}
				ports = ports[1:]
				if ports == "" {
					return NetRule{}, "empty port list"
				}
			}
		} else if strings.Count(s, ":") == 1 {
			host, ports, _ = strings.Cut(s, ":")
			if ports == "" {
				return NetRule{}, "empty port list"
			}
		}
		a, err := netip.ParseAddr(host)
		if err != nil || a.Zone() != "" {
			if !strings.HasPrefix(s, "[") && validHostPattern(host) {
				r := NetRule{Name: strings.ToLower(host)}
				return parsePorts(r, ports, s)
			}
			return NetRule{}, "not an address, CIDR or host name (write 10.0.0.0/8, 192.0.2.1:80, [2001:db8::1]:443 or *.example.com:443)"
		}
		pfx = netip.PrefixFrom(a, a.BitLen())
	} else {
		cidr = s
		if c := strings.IndexByte(s[slash:], ':'); c >= 0 {
			cidr, ports = s[:slash+c], s[slash+c+1:]
		}
		var err error
		pfx, err = netip.ParsePrefix(cidr)
		if err != nil {
			return NetRule{}, "bad CIDR"
		}
	}
	if pfx.Masked() != pfx {
		return NetRule{}, fmt.Sprintf("host bits set (did you mean %s?)", pfx.Masked())
	}
	return parsePorts(NetRule{Prefix: pfx}, ports, s)
}

// validHostPattern reports whether s is a host name ("example.com") or a pattern for the
// names below one ("*.example.com").
func validHostPattern(s string) bool {
	s = strings.TrimPrefix(s, "*.")
	if s == "" || len(s) > 253 {
		return false
	}
	letter := false
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
				letter = true
			case c >= '0' && c <= '9', c == '-', c == '_':
			default:
				return false
			}
		}
	}
	return letter
}

// parsePorts adds the port list of rule text s to r.
func parsePorts(r NetRule, ports, s string) (NetRule, string) {
	if ports == "" {
		if strings.HasSuffix(s, ":") {
			return NetRule{}, "empty port list"
		}
		return r, ""
	}
	for _, p := range strings.Split(ports, ",") {
		lo, hi, isRange := strings.Cut(p, "-")
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.ParseUint(hi, 10, 16)
		}
		if err1 != nil || err2 != nil || a == 0 || b < a {
			return NetRule{}, fmt.Sprintf("bad port %q (ports are 1-65535, ranges lo-hi)", p)
		}
		r.Ports = append(r.Ports, PortRange{uint16(a), uint16(b)})
	}
	return r, ""
}

var sizeRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([0-9]+)\s*(B|KiB|MiB|GiB|TiB|K|M|G|T|KB|MB|GB|TB)?$`)
})

func parseSize(v any) (uint64, string) {
	switch x := v.(type) {
	case int64:
		if x <= 0 {
			return 0, "must be positive"
		}
		return uint64(x), ""
	case string:
		m := sizeRE().FindStringSubmatch(strings.TrimSpace(x))
		if m == nil {
			return 0, fmt.Sprintf("invalid size %q", x)
		}
		n, _ := strconv.ParseUint(m[1], 10, 64)
		mult := map[string]uint64{"": 1, "B": 1, "K": 1 << 10, "KiB": 1 << 10, "M": 1 << 20, "MiB": 1 << 20,
			"G": 1 << 30, "GiB": 1 << 30, "T": 1 << 40, "TiB": 1 << 40, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}[m[2]]
		if n == 0 {
			return 0, "must be positive"
		}
		return n * mult, ""
	}
	return 0, fmt.Sprintf("invalid size %v", v)
}

var busNameRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(:[A-Za-z0-9_\-.]+|[A-Za-z_\-][A-Za-z0-9_\-]*(\.[A-Za-z_\-][A-Za-z0-9_\-]*)+)(\.\*)?$|^[A-Za-z_\-][A-Za-z0-9_\-]*\.\*$`)
})

func validBusName(s string) bool { return len(s) <= 255 && busNameRE().MatchString(s) }

var varNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

func validVarName(s string) bool { return varNameRE().MatchString(s) }
