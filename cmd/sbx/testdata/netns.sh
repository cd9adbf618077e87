#!/bin/sh
# Runs inside `unshare -n -m` (a network and mount namespace of the test's own): a dummy
# interface with test addresses, dnsmasq as the "host's" resolver, a web server on the
# "host", and sbx runs as $RUNAS (empty: the current user) checking name rules, DNS
# pinning, denied names and listen rules. Prints one line per check.
set -u
SBX=$1 T=$2 RUNAS=$3
ip link set lo up
# Test addresses on the namespace's own loopback device (the sandbox's loopback is only
# 127.0.0.0/8 and ::1: these are "remote" to it).
for a in 10 11 53; do ip addr add 192.0.2.$a/32 dev lo; done
# ICMP echo sockets for every group, in this namespace only.
sysctl -qw net.ipv4.ping_group_range="0 2147483647"
echo "nameserver 192.0.2.53" > "$T/resolv.conf"
mount --bind "$T/resolv.conf" /etc/resolv.conf
dnsmasq --keep-in-foreground --no-resolv --no-hosts --listen-address=192.0.2.53 --bind-interfaces --port=53 \
	--user=root --pid-file= --address=/good.test/192.0.2.10 --address=/other.test/192.0.2.11 \
	--address=/evil.test/192.0.2.11 --address=/printer.test/127.0.0.1 --address=/here.test/192.0.2.10 2>/dev/null &
DNSMASQ=$!
mkdir -p "$T/www" && echo "host page" > "$T/www/page"
(cd "$T/www" && exec python3 -m http.server 80 --bind 0.0.0.0 >/dev/null 2>&1) &
WEB=$!
# A service on the "host's" loopback, which only a host rule reaches.
(cd "$T/www" && exec python3 -m http.server 8631 --bind 127.0.0.1 >/dev/null 2>&1) &
LOWEB=$!
# Waits end when what they wait for is there; their bounds (about two minutes) are only
# against a hang.
for i in $(seq 1200); do
	curl -s -o /dev/null http://192.0.2.10/page && curl -s -o /dev/null http://127.0.0.1:8631/page &&
		getent hosts good.test >/dev/null && break
	sleep 0.1
done
run() { # profile command...
	p=$1; shift
	if [ -n "$RUNAS" ]; then
		setpriv --reuid=$RUNAS --regid=$RUNAS --clear-groups env HOME=/tmp "$SBX" run --profile "$T/$p.toml" -- "$@"
	else
		"$SBX" run --profile "$T/$p.toml" -- "$@"
	fi
}
echo "good: $(run names curl -sS --max-time 60 http://good.test/page 2>&1)"
run names curl -sS --max-time 60 http://other.test/page >/dev/null 2>&1; echo "other: exit $?"
echo "pinned: $(run names sh -c 'getent hosts good.test >/dev/null; curl -sS --max-time 60 --resolve good.test:80:192.0.2.11 http://good.test/page >/dev/null 2>&1; echo exit $?')"
echo "getent good: $(run names getent hosts good.test)"
run names getent hosts evil.test; echo "getent evil: exit $?"
run nodns getent hosts good.test; echo "no dns: exit $?"
echo "ping: $(run ping ping -c 1 -W 60 192.0.2.10 | grep -o 'ttl=[0-9]*')"
run ping ping -c 1 -W 1 192.0.2.11 >/dev/null 2>&1; echo "ping refused: exit $?"
# serve PROFILE ADDR PORT CONTENT: a web server in a sandbox, serving /tmp/p (CONTENT)
# on ADDR:PORT from when it says "ready" until its stdin (fd 3 here) closes (stop).
serve() {
	rm -f "$T/srv.in" "$T/srv.out"
	mkfifo "$T/srv.in"
	run "$1" python3 -c '
import http.server as h, os, sys, threading
os.chdir("/tmp")
open("p", "w").write(sys.argv[3] + "\n")
class Quiet(h.SimpleHTTPRequestHandler):
	def log_message(self, *a):
		pass
s = h.HTTPServer((sys.argv[1], int(sys.argv[2])), Quiet)
print("ready", flush=True)
threading.Thread(target=s.serve_forever, daemon=True).start()
sys.stdin.read()' "$2" "$3" "$4" < "$T/srv.in" > "$T/srv.out" 2>&1 &
	SRV=$!
	exec 3> "$T/srv.in"
	for i in $(seq 1200); do grep -q ready "$T/srv.out" && break; kill -0 $SRV 2>/dev/null || break; sleep 0.1; done
}
stop() {
	exec 3>&-
	wait $SRV
}
# A server inside: reachable from the "host" only with a listen rule.
serve serve 0.0.0.0 8080 inside
echo "listen: $(curl -s --max-time 60 http://192.0.2.10:8080/p)"
stop
# Name rules of host and listen: the names resolve (for the broker, through dnsmasq) to
# 127.0.0.1 and 192.0.2.10; the app uses the addresses without asking.
echo "host by name: $(run hostname curl -sS --max-time 60 http://127.0.0.1:8631/page 2>&1)"
run hostother curl -sS --max-time 60 http://127.0.0.1:8631/page >/dev/null 2>&1; echo "host by other name: exit $?"
echo "listen by name, other address: $(run listenname python3 -c 'import socket, errno
try:
	socket.socket().bind(("192.0.2.11", 8082)); print("bound")
except OSError as e:
	print(errno.errorcode[e.errno])')"
serve listenname 192.0.2.10 8082 named
echo "listen by name: $(curl -s --max-time 60 http://192.0.2.10:8082/p)"
stop
# Without network, a server inside listens in the sandbox's own loopback only.
serve private 0.0.0.0 8081 inside
grep -q ready "$T/srv.out" || echo "private: the server never listened: $(cat "$T/srv.out")"
curl -s --max-time 60 http://192.0.2.10:8081/p >/dev/null; echo "private: exit $?"
stop
kill $DNSMASQ $WEB $LOWEB
wait 2>/dev/null
