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
for i in $(seq 50); do
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
echo "good: $(run names curl -sS --max-time 5 http://good.test/page 2>&1)"
run names curl -sS --max-time 5 http://other.test/page >/dev/null 2>&1; echo "other: exit $?"
echo "pinned: $(run names sh -c 'getent hosts good.test >/dev/null; curl -sS --max-time 5 --resolve good.test:80:192.0.2.11 http://good.test/page >/dev/null 2>&1; echo exit $?')"
echo "getent good: $(run names getent hosts good.test)"
run names getent hosts evil.test; echo "getent evil: exit $?"
run nodns getent hosts good.test; echo "no dns: exit $?"
echo "ping: $(run ping ping -c 1 -W 2 192.0.2.10 | grep -o 'ttl=[0-9]*')"
run ping ping -c 1 -W 1 192.0.2.11 >/dev/null 2>&1; echo "ping refused: exit $?"
# A server inside: reachable from the "host" only with a listen rule.
run serve sh -c 'cd /tmp && echo inside > p && exec timeout 8 python3 -m http.server 8080 --bind 0.0.0.0 >/dev/null 2>&1' &
SRV=$!
got=""
for i in $(seq 60); do got=$(curl -s --max-time 1 http://192.0.2.10:8080/p) && [ -n "$got" ] && break; sleep 0.1; done
echo "listen: $got"
wait $SRV
# Name rules of host and listen: the names resolve (for the broker, through dnsmasq) to
# 127.0.0.1 and 192.0.2.10; the app uses the addresses without asking.
echo "host by name: $(run hostname curl -sS --max-time 5 http://127.0.0.1:8631/page 2>&1)"
run hostother curl -sS --max-time 5 http://127.0.0.1:8631/page >/dev/null 2>&1; echo "host by other name: exit $?"
echo "listen by name, other address: $(run listenname python3 -c 'import socket, errno
try:
	socket.socket().bind(("192.0.2.11", 8082)); print("bound")
except OSError as e:
	print(errno.errorcode[e.errno])')"
run listenname sh -c 'cd /tmp && echo named > p && exec timeout 8 python3 -m http.server 8082 --bind 192.0.2.10 >/dev/null 2>&1' &
SRV=$!
got=""
for i in $(seq 60); do got=$(curl -s --max-time 1 http://192.0.2.10:8082/p) && [ -n "$got" ] && break; sleep 0.1; done
echo "listen by name: $got"
wait $SRV
run private sh -c 'cd /tmp && echo inside > p && exec timeout 4 python3 -m http.server 8081 --bind 0.0.0.0 >/dev/null 2>&1' &
SRV=$!
sleep 2
curl -s --max-time 1 http://192.0.2.10:8081/p >/dev/null; echo "private: exit $?"
wait $SRV
kill $DNSMASQ $WEB $LOWEB
wait 2>/dev/null
