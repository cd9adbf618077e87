package dbusproxy

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godbus/dbus/v5"
)

// Denial describes one refused message, for the sandbox's event stream.
type Denial struct {
	Time                                         time.Time
	Kind                                         string // call, own, see, signal, eavesdrop, monitor, reply, malformed
	Sender, Destination, Interface, Member, Path string
}

// Options configure a proxy.
type Options struct {
	// Upstream is the real bus's socket path.
	Upstream string
	Policy   Policy
	// OnDenial is called for every refused message (may be nil).
	OnDenial func(Denial)
	// MaxMessage bounds one message from the app (0: DefaultMaxMessage).
	MaxMessage int
}

// Proxy filters one sandbox's bus connections.
type Proxy struct {
	opts    Options
	denials atomic.Uint64

	mu     sync.Mutex
	closed bool
	// listeners and clients are closed by Close. protected by mu
	listeners []net.Listener
	clients   map[*session]struct{}
	wg        sync.WaitGroup
}

// New returns a proxy.
func New(o Options) (*Proxy, error) {
	if o.Upstream == "" {
		return nil, errors.New("dbusproxy: no upstream bus")
	}
	if o.MaxMessage == 0 {
		o.MaxMessage = DefaultMaxMessage
	}
	return &Proxy{opts: o, clients: map[*session]struct{}{}}, nil
}

// Denials returns how many messages were refused.
func (p *Proxy) Denials() uint64 { return p.denials.Load() }

// UpstreamAddress parses a bus address ("unix:path=/run/user/1000/bus,guid=...") into the
// socket path the proxy dials.
func UpstreamAddress(addr string) (string, error) {
	for _, a := range strings.Split(addr, ";") {
		rest, ok := strings.CutPrefix(a, "unix:")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "path="); ok {
				return v, nil
			}
		}
	}
	return "", errors.New("dbusproxy: only unix:path= bus addresses are supported")
}

// Serve accepts app connections on l until Close.
func (p *Proxy) Serve(l net.Listener) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errors.New("dbusproxy: closed")
	}
	p.listeners = append(p.listeners, l)
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			return nil
		}
		uc, ok := c.(*net.UnixConn)
		if !ok {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			uc.Close()
			return nil
		}
		s := &session{p: p, app: uc, pending: map[uint32]pendingCall{}, incoming: map[uint32]string{}, peers: map[string]bool{}, local: map[string]bool{}}
		p.clients[s] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go func() {
			defer p.wg.Done()
			s.run()
			p.mu.Lock()
			delete(p.clients, s)
			p.mu.Unlock()
		}()
	}
}

// Close stops listening, disconnects every app and waits for all goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for _, l := range p.listeners {
		l.Close()
	}
	for s := range p.clients {
		s.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

func (p *Proxy) deny(d Denial) {
	p.denials.Add(1)
	d.Time = time.Now()
	if p.opts.OnDenial != nil {
		p.opts.OnDenial(d)
	}
}

// pendingCall is a call the app made, awaiting its reply.
type pendingCall struct {
	dest   string
	filter string // "ListNames" when the reply must be filtered; "Hello" to learn our name
}

// session is one app connection and its upstream connection.
type session struct {
	p        *Proxy
	app, bus *net.UnixConn
	appC     *conn
	busC     *conn

	mu sync.Mutex
	// pending are the app's calls awaiting replies, by serial. protected by mu
	pending map[uint32]pendingCall
	// incoming are calls to the app awaiting its reply: serial → caller. protected by mu
	incoming map[uint32]string
	// peers are unique names the app may exchange messages with. protected by mu
	peers map[string]bool
	// local are well-known names the app owns inside the sandbox only (see ownLocally).
	// protected by mu
	local  map[string]bool
	unique string
	serial uint32
	once   sync.Once
}

func (s *session) close() {
	s.once.Do(func() {
		s.app.Close()
		if s.bus != nil {
			s.bus.Close()
		}
	})
}

func (s *session) run() {
	defer s.close()
	r := bufio.NewReader(s.app)
	if _, err := serverAuth(s.app, r); err != nil {
		return
	}
	bus, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: s.p.opts.Upstream, Net: "unix"})
	if err != nil {
		return
	}
	s.mu.Lock()
	s.bus = bus
	s.mu.Unlock()
	if _, err := clientAuth(bus); err != nil {
		return
	}
	s.appC = newConn(s.app, s.p.opts.MaxMessage)
	if n := r.Buffered(); n > 0 {
		b, _ := r.Peek(n)
		s.appC.buf = append(s.appC.buf, b...)
	}
	s.busC = newConn(bus, 1<<27)
	done := make(chan struct{}, 2)
	go func() { s.fromBus(); done <- struct{}{} }()
	s.fromApp()
	s.close()
	<-done
}

// nextSerial numbers the messages the proxy makes up.
func (s *session) nextSerial() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serial++
	return 0x80000000 + s.serial
}

// replyError sends the app an error reply to call m.
func (s *session) replyError(m *dbus.Message, name, text string) error {
	reply := &dbus.Message{Type: dbus.TypeError, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldErrorName:   dbus.MakeVariant(name),
		dbus.FieldReplySerial: dbus.MakeVariant(m.Serial()),
		dbus.FieldSender:      dbus.MakeVariant("org.freedesktop.DBus"),
		dbus.FieldSignature:   dbus.MakeVariant(dbus.SignatureOf(text)),
	}, Body: []any{text}}
	if s.unique != "" {
		reply.Headers[dbus.FieldDestination] = dbus.MakeVariant(s.unique)
	}
	raw, err := encode(reply, s.nextSerial())
	if err != nil {
		return err
	}
	return s.appC.send(raw, nil)
}

// replyBody sends the app a method return for call m.
func (s *session) replyBody(m *dbus.Message, body ...any) error {
	reply := &dbus.Message{Type: dbus.TypeMethodReply, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldReplySerial: dbus.MakeVariant(m.Serial()),
		dbus.FieldSender:      dbus.MakeVariant("org.freedesktop.DBus"),
	}, Body: body}
	if len(body) > 0 {
		reply.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(body...))
	}
	if s.unique != "" {
		reply.Headers[dbus.FieldDestination] = dbus.MakeVariant(s.unique)
	}
	raw, err := encode(reply, s.nextSerial())
	if err != nil {
		return err
	}
	return s.appC.send(raw, nil)
}

const (
	errAccessDenied   = "org.freedesktop.DBus.Error.AccessDenied"
	errServiceUnknown = "org.freedesktop.DBus.Error.ServiceUnknown"
	errNameHasNoOwner = "org.freedesktop.DBus.Error.NameHasNoOwner"
	busName           = "org.freedesktop.DBus"
)

func (s *session) visible(name string) bool {
	if strings.HasPrefix(name, ":") {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.peers[name] || name == s.unique
	}
	return name == busName || s.p.opts.Policy.level(name) >= levelSee
}

// fromApp filters the app's messages to the bus.
func (s *session) fromApp() {
	pol := &s.p.opts.Policy
	for {
		raw, fds, err := s.appC.next()
		if err != nil {
			if errors.Is(err, errTooBig) {
				s.p.deny(Denial{Kind: "malformed", Member: "oversized message"})
			}
			return
		}
		m, err := decode(raw, len(fds))
		if err != nil {
			closeFDs(fds)
			s.p.deny(Denial{Kind: "malformed"})
			return
		}
		dest, iface, member, path := header(m, dbus.FieldDestination), header(m, dbus.FieldInterface),
			header(m, dbus.FieldMember), header(m, dbus.FieldPath)
		d := Denial{Sender: s.unique, Destination: dest, Interface: iface, Member: member, Path: path}
		forward := true
		var pc pendingCall
		switch m.Type {
		case dbus.TypeMethodCall:
			switch {
			case dest == busName:
				forward, pc = s.busCall(m, member, iface, d)
			case dest == "":
				forward = false
				d.Kind = "call"
				s.p.deny(d)
				s.replyError(m, errAccessDenied, "sbx: messages without a destination are not allowed")
			case strings.HasPrefix(dest, ":"):
				if !s.visible(dest) {
					forward = false
					d.Kind = "call"
					s.p.deny(d)
					s.replyError(m, errServiceUnknown, "sbx: "+dest+" is not visible to this app")
				}
			case s.ownsLocally(dest):
				// The app calls a name it owns inside the sandbox: the bus delivers the
				// call to the app itself, by its unique name.
				m.Headers[dbus.FieldDestination] = dbus.MakeVariant(s.unique)
				if raw, err = encode(m, m.Serial()); err != nil {
					closeFDs(fds)
					return
				}
				dest = s.unique
			default:
				l := pol.level(dest)
				if l < levelTalk && !pol.callAllowed(dest, iface, member, path) {
					forward = false
					d.Kind = "call"
					s.p.deny(d)
					if l >= levelSee {
						s.replyError(m, errAccessDenied, "sbx: the profile does not allow talking to "+dest)
					} else {
						s.replyError(m, errServiceUnknown, "sbx: the name "+dest+" was not provided by any .service files")
					}
				}
			}
			if forward && m.Flags&dbus.FlagNoReplyExpected == 0 {
				if pc.dest == "" {
					pc.dest = dest
				}
				s.mu.Lock()
				s.pending[m.Serial()] = pc
				s.mu.Unlock()
			}
		case dbus.TypeMethodReply, dbus.TypeError:
			rs := replySerial(m)
			s.mu.Lock()
			caller, ok := s.incoming[rs]
			delete(s.incoming, rs)
			s.mu.Unlock()
			if !ok || caller != dest {
				forward = false
				d.Kind = "reply"
				s.p.deny(d)
			}
		case dbus.TypeSignal:
			if dest != "" && !s.visible(dest) {
				forward = false
				d.Kind = "signal"
				s.p.deny(d)
			}
		}
		if !forward {
			closeFDs(fds)
			continue
		}
		if err := s.busC.send(raw, fds); err != nil {
			return
		}
	}
}

// busCall decides on a call to the bus driver itself.
func (s *session) busCall(m *dbus.Message, member, iface string, d Denial) (bool, pendingCall) {
	pol := &s.p.opts.Policy
	arg0 := ""
	if len(m.Body) > 0 {
		arg0, _ = m.Body[0].(string)
	}
	refuse := func(kind, errName, text string) (bool, pendingCall) {
		d.Kind = kind
		s.p.deny(d)
		s.replyError(m, errName, text)
		return false, pendingCall{}
	}
	if iface == "org.freedesktop.DBus.Monitoring" || member == "BecomeMonitor" {
		return refuse("monitor", errAccessDenied, "sbx: monitoring the bus is not allowed")
	}
	switch member {
	case "Hello":
		return true, pendingCall{dest: busName, filter: "Hello"}
	case "RequestName", "ReleaseName":
		if pol.level(arg0) < levelOwn {
			if arg0 == "" || arg0 == busName || strings.HasPrefix(arg0, ":") || !validWellKnownName(arg0) {
				return refuse("own", errAccessDenied, "sbx: the profile does not allow owning "+arg0)
			}
			d.Kind = "own"
			s.p.deny(d)
			s.ownLocally(m, member, arg0)
			return false, pendingCall{}
		}
	case "AddMatch", "RemoveMatch":
		if eavesdropRequested(arg0) {
			return refuse("eavesdrop", errAccessDenied, "sbx: eavesdropping is not allowed")
		}
	case "ListNames", "ListActivatableNames":
		return true, pendingCall{dest: busName, filter: "ListNames"}
	case "NameHasOwner":
		if s.ownsLocally(arg0) {
			s.replyBody(m, true)
			return false, pendingCall{}
		}
		if !s.visible(arg0) {
			d.Kind = "see"
			s.p.deny(d)
			s.replyBody(m, false)
			return false, pendingCall{}
		}
	case "GetNameOwner", "GetConnectionUnixUser", "GetConnectionUnixProcessID", "GetConnectionCredentials", "ListQueuedOwners":
		if member == "GetNameOwner" && s.ownsLocally(arg0) {
			s.replyBody(m, s.unique)
			return false, pendingCall{}
		}
		if !s.visible(arg0) {
			return refuse("see", errNameHasNoOwner, "sbx: could not get owner of name '"+arg0+"': no such name")
		}
		if member == "GetNameOwner" {
			return true, pendingCall{dest: busName, filter: "GetNameOwner"}
		}
	case "StartServiceByName":
		if pol.level(arg0) < levelTalk {
			return refuse("call", errServiceUnknown, "sbx: the profile does not allow starting "+arg0)
		}
	case "GetId", "Ping", "GetMachineId", "Introspect", "Get", "GetAll", "GetAdtAuditSessionData", "GetConnectionSELinuxSecurityContext":
	default:
		return refuse("call", errAccessDenied, "sbx: "+member+" on the bus driver is not allowed")
	}
	return true, pendingCall{dest: busName}
}

// Replies to RequestName and ReleaseName (the D-Bus specification).
const (
	requestNamePrimaryOwner = uint32(1)
	requestNameAlreadyOwner = uint32(4)
	releaseNameReleased     = uint32(1)
	releaseNameNonExistent  = uint32(2)
)

// ownLocally answers RequestName or ReleaseName (member) of a well-known name the profile
// does not let the app own on the user's bus: the app owns it inside the sandbox only.
// Nothing reaches the bus, so no other client can call the app by that name or see it
// owned, while the app's own calls to it come back to the app. Apps take a name of their
// own as a single-instance lock (GApplication, KDBusService) and refuse to start when
// RequestName fails; a second instance in another sandbox gets the name too, as Flatpak
// apps in separate sandboxes would not, and so does not hand its work to the first.
func (s *session) ownLocally(m *dbus.Message, member, name string) {
	s.mu.Lock()
	owned := s.local[name]
	if member == "RequestName" {
		s.local[name] = true
	} else {
		delete(s.local, name)
	}
	s.mu.Unlock()
	switch {
	case member == "ReleaseName" && owned:
		s.replyBody(m, releaseNameReleased)
	case member == "ReleaseName":
		s.replyBody(m, releaseNameNonExistent)
	case owned:
		s.replyBody(m, requestNameAlreadyOwner)
	default:
		// The bus tells a new owner with NameAcquired before its reply.
		sig := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
			dbus.FieldPath:      dbus.MakeVariant(dbus.ObjectPath("/org/freedesktop/DBus")),
			dbus.FieldInterface: dbus.MakeVariant(busName),
			dbus.FieldMember:    dbus.MakeVariant("NameAcquired"),
			dbus.FieldSender:    dbus.MakeVariant(busName),
			dbus.FieldSignature: dbus.MakeVariant(dbus.SignatureOf(name)),
		}, Body: []any{name}}
		if s.unique != "" {
			sig.Headers[dbus.FieldDestination] = dbus.MakeVariant(s.unique)
		}
		if raw, err := encode(sig, s.nextSerial()); err == nil {
			s.appC.send(raw, nil)
		}
		s.replyBody(m, requestNamePrimaryOwner)
	}
}

// ownsLocally reports whether the app owns name inside the sandbox (ownLocally).
func (s *session) ownsLocally(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.local[name]
}

// validWellKnownName reports whether name is a well-known bus name as the D-Bus
// specification defines it: two or more dot-separated elements of [A-Za-z0-9_-], none
// empty or starting with a digit, at most 255 bytes.
func validWellKnownName(name string) bool {
	if len(name) > 255 {
		return false
	}
	elems := strings.Split(name, ".")
	if len(elems) < 2 {
		return false
	}
	for _, e := range elems {
		if e == "" || (e[0] >= '0' && e[0] <= '9') {
			return false
		}
		for _, c := range e {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return false
			}
		}
	}
	return true
}

// fromBus filters the bus's messages to the app.
func (s *session) fromBus() {
	pol := &s.p.opts.Policy
	for {
		raw, fds, err := s.busC.next()
		if err != nil {
			s.close()
			return
		}
		m, err := decode(raw, len(fds))
		if err != nil {
			closeFDs(fds)
			s.close()
			return
		}
		sender, iface, member, path := header(m, dbus.FieldSender), header(m, dbus.FieldInterface), header(m, dbus.FieldMember), header(m, dbus.FieldPath)
		forward := true
		switch m.Type {
		case dbus.TypeMethodReply, dbus.TypeError:
			rs := replySerial(m)
			s.mu.Lock()
			pc, ok := s.pending[rs]
			delete(s.pending, rs)
			if ok && sender != busName && strings.HasPrefix(sender, ":") {
				s.peers[sender] = true // a peer that answered the app may keep talking to it
			}
			s.mu.Unlock()
			if !ok {
				forward = false
				break
			}
			switch pc.filter {
			case "Hello":
				if len(m.Body) > 0 {
					if name, ok := m.Body[0].(string); ok {
						s.mu.Lock()
						s.unique = name
						s.mu.Unlock()
					}
				}
			case "ListNames":
				if names, ok := m.Body[0].([]string); ok && m.Type == dbus.TypeMethodReply {
					var keep []string
					for _, n := range names {
						if s.visible(n) {
							keep = append(keep, n)
						}
					}
					if keep == nil {
						keep = []string{}
					}
					m.Body = []any{keep}
					if raw, err = encode(m, m.Serial()); err != nil {
						return
					}
				}
			case "GetNameOwner":
				if owner, ok := m.Body[0].(string); ok && m.Type == dbus.TypeMethodReply {
					s.mu.Lock()
					s.peers[owner] = true
					s.mu.Unlock()
				}
			}
		case dbus.TypeSignal:
			if sender == busName {
				switch member {
				case "NameOwnerChanged":
					if len(m.Body) == 3 {
						name, _ := m.Body[0].(string)
						newOwner, _ := m.Body[2].(string)
						if !s.visible(name) {
							forward = false
						} else if newOwner != "" && !strings.HasPrefix(name, ":") {
							s.mu.Lock()
							s.peers[newOwner] = true
							s.mu.Unlock()
						}
					}
				case "NameAcquired", "NameLost":
				default:
					forward = header(m, dbus.FieldDestination) == s.unique
				}
				break
			}
			s.mu.Lock()
			known := s.peers[sender]
			s.mu.Unlock()
			if !known && !pol.broadcastAllowed(iface, member, path) {
				forward = false
				s.p.deny(Denial{Kind: "signal", Sender: sender, Destination: s.unique, Interface: iface, Member: member, Path: path})
			}
		case dbus.TypeMethodCall:
			// The bus routes calls to names the app owns (or its unique name) here.
			s.mu.Lock()
			s.incoming[m.Serial()] = sender
			s.peers[sender] = true
			s.mu.Unlock()
		}
		if !forward {
			closeFDs(fds)
			continue
		}
		if err := s.appC.send(raw, fds); err != nil {
			s.close()
			return
		}
	}
}
