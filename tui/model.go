package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

type state int

const (
	stateList state = iota
	stateDetail
	stateFilter
	stateConfirmKill
	stateHelp
)

type keyMap struct {
	Up, Down, Enter, Back, Filter, Kill, Yes, No, Help, Quit key.Binding
	SortCPU, SortMem, SortSys, SortDeny                      key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Up:       key.NewBinding(key.WithKeys("up", "ctrl+p"), key.WithHelp("↑", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j", "ctrl+n"), key.WithHelp("↓/j", "down")),
		Enter:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "details")),
		Back:     key.NewBinding(key.WithKeys("esc", "backspace"), key.WithHelp("esc", "back")),
		Filter:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Kill:     key.NewBinding(key.WithKeys("k"), key.WithHelp("k", "kill")),
		Yes:      key.NewBinding(key.WithKeys("y", "Y")),
		No:       key.NewBinding(key.WithKeys("n", "N", "esc")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		SortCPU:  key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "sort by CPU")),
		SortMem:  key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "sort by memory")),
		SortSys:  key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort by syscalls/s")),
		SortDeny: key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "sort by denials")),
	}
}

// Model is the sbx top program.
type Model struct {
	fetch   Fetcher
	keys    keyMap
	plain   bool
	now     func() time.Time
	refresh time.Duration

	state         state
	width, height int
	all           []Sandbox
	rows          []Sandbox
	cursor        int
	selected      string // ID of the selected sandbox (kept across refreshes)
	sortKey       string
	filter        string
	filterInput   string
	status        string
	err           error
}

// New returns the top model. plain disables colours (NO_COLOR, dumb terminals, tests).
func New(f Fetcher, plain bool) Model {
	return Model{fetch: f, keys: newKeyMap(), plain: plain, now: time.Now, refresh: time.Second, width: 80, height: 24}
}

type dataMsg struct {
	sandboxes []Sandbox
	err       error
}

type tickMsg time.Time

type killedMsg struct {
	id  string
	err error
}

func (m Model) fetchCmd() tea.Cmd {
	f, detail := m.fetch, ""
	if m.state == stateDetail {
		detail = m.selected
	}
	return func() tea.Msg {
		ss, err := f.Fetch(detail)
		return dataMsg{ss, err}
	}
}

func (m Model) tick() tea.Cmd {
	return tea.Tick(m.refresh, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// Init implements tea.Model.
func (m Model) Init() tea.Cmd { return tea.Batch(m.fetchCmd(), m.tick()) }

// SetSize sets the terminal size.
func (m *Model) SetSize(w, h int) { m.width, m.height = w, h }

func (m *Model) apply() {
	rows := Filter(append([]Sandbox(nil), m.all...), m.filter)
	Sort(rows, m.sortKey)
	m.rows = rows
	m.cursor = 0
	for i, s := range rows {
		if s.Info.ID == m.selected {
			m.cursor = i
		}
	}
	if len(rows) > 0 {
		m.selected = rows[m.cursor].Info.ID
	} else if m.state == stateDetail || m.state == stateConfirmKill {
		m.state = stateList
	}
}

func (m Model) current() (Sandbox, bool) {
	if m.cursor < len(m.rows) {
		return m.rows[m.cursor], true
	}
	return Sandbox{}, false
}

// Update implements tea.Model.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.SetSize(msg.Width, msg.Height)
		return m, nil
	case tickMsg:
		return m, tea.Batch(m.fetchCmd(), m.tick())
	case dataMsg:
		m.err = msg.err
		if msg.err == nil {
			m.all = msg.sandboxes
			m.apply()
		}
		return m, nil
	case killedMsg:
		if msg.err != nil {
			m.status = fmt.Sprintf("kill %s: %v", msg.id, msg.err)
		} else {
			m.status = fmt.Sprintf("sent SIGTERM to %s", msg.id)
		}
		return m, m.fetchCmd()
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	return m, nil
}

func (m Model) key(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	k := m.keys
	switch m.state {
	case stateFilter:
		switch msg.Code {
		case tea.KeyEnter:
			m.filter, m.state = m.filterInput, stateList
			m.apply()
		case tea.KeyEscape:
			m.state = stateList
		case tea.KeyBackspace:
			if n := len(m.filterInput); n > 0 {
				m.filterInput = m.filterInput[:n-1]
			}
		default:
			m.filterInput += msg.Text
		}
		return m, nil
	case stateConfirmKill:
		switch {
		case key.Matches(msg, k.Yes):
			s, ok := m.current()
			m.state = stateList
			if !ok {
				return m, nil
			}
			f, id := m.fetch, s.Info.ID
			return m, func() tea.Msg { return killedMsg{id, f.Kill(id)} }
		case key.Matches(msg, k.No):
			m.state = stateList
		}
		return m, nil
	case stateHelp:
		m.state = stateList
		return m, nil
	}
	switch {
	case key.Matches(msg, k.Quit):
		return m, tea.Quit
	case key.Matches(msg, k.Help):
		m.state = stateHelp
	case key.Matches(msg, k.Back):
		m.state = stateList
	case key.Matches(msg, k.Up):
		if m.cursor > 0 {
			m.cursor--
			m.selected = m.rows[m.cursor].Info.ID
		}
	case key.Matches(msg, k.Down):
		if m.cursor < len(m.rows)-1 {
			m.cursor++
			m.selected = m.rows[m.cursor].Info.ID
		}
	case key.Matches(msg, k.Enter):
		if _, ok := m.current(); ok {
			m.state = stateDetail
			return m, m.fetchCmd()
		}
	case key.Matches(msg, k.Filter):
		m.state, m.filterInput = stateFilter, m.filter
	case key.Matches(msg, k.Kill):
		if _, ok := m.current(); ok {
			m.state = stateConfirmKill
		}
	case key.Matches(msg, k.SortCPU):
		m.sortKey = "cpu"
		m.apply()
	case key.Matches(msg, k.SortMem):
		m.sortKey = "mem"
		m.apply()
	case key.Matches(msg, k.SortSys):
		m.sortKey = "sys"
		m.apply()
	case key.Matches(msg, k.SortDeny):
		m.sortKey = "deny"
		m.apply()
	}
	return m, nil
}

func (m Model) style(s lipgloss.Style, text string) string {
	if m.plain {
		return text
	}
	return s.Render(text)
}

var (
	titleStyle    = lipgloss.NewStyle().Bold(true)
	headerStyle   = lipgloss.NewStyle().Bold(true).Underline(true)
	selectedStyle = lipgloss.NewStyle().Reverse(true)
	warnStyle     = lipgloss.NewStyle().Foreground(lipgloss.Color("3"))
	dimStyle      = lipgloss.NewStyle().Faint(true)
)

func truncate(s string, w int) string {
	r := []rune(s)
	if w <= 0 || len(r) <= w {
		return s
	}
	if w <= 1 {
		return string(r[:w])
	}
	return string(r[:w-1]) + "…"
}

// View implements tea.Model: the screen, in the alternate screen buffer.
func (m Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	return v
}

// Render returns the screen's text.
func (m Model) Render() string {
	var lines []string
	sortName := m.sortKey
	if sortName == "" {
		sortName = "start"
	}
	title := fmt.Sprintf("sbx top — %d sandbox(es) — sort: %s", len(m.rows), sortName)
	if m.filter != "" {
		title += fmt.Sprintf(" — filter: %q", m.filter)
	}
	lines = append(lines, m.style(titleStyle, truncate(title, m.width)))
	if m.err != nil {
		lines = append(lines, m.style(warnStyle, truncate("error: "+m.err.Error(), m.width)))
	}
	switch m.state {
	case stateHelp:
		lines = append(lines, m.help()...)
	case stateDetail:
		lines = append(lines, m.detail()...)
	default:
		lines = append(lines, m.table()...)
	}
	footer := "enter details  / filter  c/m/s/d sort  k kill  ? help  q quit"
	switch m.state {
	case stateFilter:
		footer = "filter: " + m.filterInput + "▏ (enter apply, esc cancel)"
	case stateConfirmKill:
		if s, ok := m.current(); ok {
			footer = fmt.Sprintf("Kill %s (%s)? y/n", s.Info.Name, s.Info.ID)
		}
	case stateDetail:
		footer = "esc back  k kill  q quit"
	}
	if m.status != "" && m.state == stateList {
		footer = m.status + " — " + footer
	}
	// Fill to the terminal height so the footer sits on the last line.
	for len(lines) < m.height-1 {
		lines = append(lines, "")
	}
	if len(lines) > m.height-1 && m.height > 1 {
		lines = lines[:m.height-1]
	}
	lines = append(lines, m.style(dimStyle, truncate(footer, m.width)))
	return strings.Join(lines, "\n")
}

func (m Model) table() []string {
	if len(m.rows) == 0 {
		return []string{"", "No sandboxes are running. Start one with: sbx run -- CMD"}
	}
	now := m.now()
	rows := [][]string{Columns}
	for _, s := range m.rows {
		rows = append(rows, Row(s, now))
	}
	// One space between columns so the table fits 80 columns.
	text := strings.Split(strings.TrimRight(align(rows, " "), "\n"), "\n")
	header := text[0]
	if m.plain {
		header = "  " + header
	}
	out := []string{m.style(headerStyle, truncate(header, m.width))}
	for i, l := range text[1:] {
		l = truncate(l, m.width)
		if i == m.cursor {
			if m.plain {
				l = "> " + truncate(l, m.width-2)
			} else {
				l = selectedStyle.Render(l)
			}
		} else if m.plain {
			l = "  " + truncate(l, m.width-2)
		}
		out = append(out, l)
		if len(m.rows[i].Info.Warnings) > 0 && i == m.cursor {
			out = append(out, m.style(warnStyle, truncate("  ! "+m.rows[i].Info.Warnings[0], m.width)))
		}
	}
	return out
}

func (m Model) detail() []string {
	s, ok := m.current()
	if !ok {
		return nil
	}
	w := m.width
	out := []string{
		truncate(fmt.Sprintf("%s (%s)  profile %s (%s)  platform %s", s.Info.Name, s.Info.ID, s.Info.Profile, s.Info.ProfileFile, s.Info.Platform), w),
		truncate("command: "+strings.Join(s.Info.Argv, " "), w),
		truncate(fmt.Sprintf("pids: launcher %d  kernel %d  gofer %d   up %s", s.Info.LauncherPID, s.Info.KernelPID, s.Info.GoferPID,
			FormatDuration(m.now().Sub(s.Info.Started))), w),
		truncate(fmt.Sprintf("tasks %d  memory %s  cpu %s  syscalls %d (%.0f/s)  denials %d", s.Stats.Tasks,
			FormatMemory(s.Stats), FormatDuration(time.Duration(s.Stats.CPUNanos)), s.Stats.Syscalls, s.Stats.SyscallsPerSec, Denials(s.Stats)), w),
	}
	for _, wn := range s.Info.Warnings {
		out = append(out, m.style(warnStyle, truncate("! "+wn, w)))
	}
	out = append(out, "", m.style(headerStyle, "processes"))
	procs := append(s.Tree[:0:0], s.Tree...)
	sort.Slice(procs, func(i, j int) bool { return procs[i].PID < procs[j].PID })
	for _, p := range procs {
		out = append(out, truncate(fmt.Sprintf("  %6d %6d  %-8s %3d  %s", p.PID, p.PPID, p.State, p.Threads, p.Command), w))
	}
	var files []string
	for _, p := range procs {
		for _, f := range p.HostFiles {
			files = append(files, fmt.Sprintf("  %6d  %s", p.PID, f))
		}
	}
	if len(files) > 0 {
		out = append(out, "", m.style(headerStyle, "open host files (via the gofer)"))
		for _, f := range files {
			out = append(out, truncate(f, w))
		}
	}
	out = append(out, "", m.style(headerStyle, "network connections"))
	if len(s.Connections) == 0 {
		out = append(out, "  none")
	}
	for _, c := range s.Connections {
		out = append(out, truncate(ConnRow(c), w))
	}
	out = append(out, "", m.style(headerStyle, "top syscalls"))
	var maxN uint64 = 1
	for _, c := range s.Stats.TopSyscalls {
		maxN = max(maxN, c.Count)
	}
	for i, c := range s.Stats.TopSyscalls {
		if i >= 8 {
			break
		}
		bar := strings.Repeat("█", int(20*c.Count/maxN))
		out = append(out, truncate(fmt.Sprintf("  %-18s %9d %s", c.Name, c.Count, bar), w))
	}
	if len(s.Stats.Unimplemented) > 0 {
		var names []string
		for _, c := range s.Stats.Unimplemented {
			names = append(names, fmt.Sprintf("%s×%d", c.Name, c.Count))
		}
		out = append(out, "", m.style(warnStyle, truncate("unimplemented: "+strings.Join(names, ", "), w)))
	}
	return out
}

func (m Model) help() []string {
	k := m.keys
	var out []string
	for _, b := range []key.Binding{k.Up, k.Down, k.Enter, k.Back, k.Filter, k.SortCPU, k.SortMem, k.SortSys, k.SortDeny, k.Kill, k.Help, k.Quit} {
		h := b.Help()
		out = append(out, fmt.Sprintf("  %-8s %s", h.Key, h.Desc))
	}
	return append(out, "", "  (any key to go back)")
}
