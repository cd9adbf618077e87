#!/bin/sh
# Runs inside `unshare -n -m` (a network namespace of the test's own): a veth pair, veth0
# here (the "host's" interface: up, with a global address, so the sandbox's eth0 stands for
# it) and veth1 in a second namespace of its own where a receiver listens on its link-local
# address fe80::b. sbx runs as $RUNAS (empty: the current user) and sends UDP datagrams
# with sendto to fe80::b scoped to eth0, unconnected, and to other scopes. Prints one line
# per check.
set -u
SBX=$1 T=$2 RUNAS=$3
W=$(mktemp -d)
ip link set lo up
# The receiver's namespace: a child `unshare -n` that waits for veth1 to arrive.
unshare -n sh -c '
	echo $$ > "$1/peer.pid"
	for i in $(seq 1200); do ip link show veth1 >/dev/null 2>&1 && break; sleep 0.05; done
	ip link set lo up
	ip link set veth1 addrgenmode none
	ip addr add fe80::b/64 dev veth1 nodad
	ip link set veth1 up
	exec python3 -c "
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind((\"fe80::b\", 9999, 0, socket.if_nametoindex(\"veth1\")))
open(sys.argv[1] + \"/ready\", \"w\").close()
s.settimeout(300) # only against a hang: the script sends end when its checks are done
try:
    while True:
        data, src = s.recvfrom(100)
        if data == b\"end\":
            print(\"received nothing more\", flush=True)
            break
        print(\"received\", data.decode(), \"from\", src[0].split(\"%\")[0], flush=True)
except socket.timeout:
    print(\"the receiver never got the end of the checks\", flush=True)
" "$1"' sh "$W" > "$W/received" 2>&1 &
PEER=$!
for i in $(seq 1200); do [ -s "$W/peer.pid" ] && break; sleep 0.05; done
ip link add veth0 type veth peer name veth1
ip link set veth1 netns "$(cat "$W/peer.pid")"
ip link set veth0 addrgenmode none # fe80::a is its only link-local address
ip addr add 2001:db8::1/64 dev veth0 nodad
ip addr add fe80::a/64 dev veth0 nodad
ip link set veth0 up
# The waits below end when what they wait for happens; their bounds (a minute) are only
# against a hang.
for i in $(seq 1200); do [ -e "$W/ready" ] && break; sleep 0.05; done
# Wait until the link is up on both ends (a datagram sent before is lost).
for i in $(seq 1200); do ip link show veth0 | grep -q LOWER_UP && break; sleep 0.05; done
run() { # profile command...
	p=$1; shift
	if [ -n "$RUNAS" ]; then
		setpriv --reuid=$RUNAS --regid=$RUNAS --clear-groups env HOME=/tmp "$SBX" run --profile "$T/$p.toml" -- "$@"
	else
		"$SBX" run --profile "$T/$p.toml" -- "$@"
	fi
}
run linklocal python3 -c '
import errno, socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
def send(what, scope):
    try:
        s.sendto(what.encode(), ("fe80::b", 9999, 0, scope))
        print(what, "sent")
    except OSError as e:
        print(what, errno.errorcode[e.errno])
print("eth0 is", socket.if_nametoindex("eth0"))
send("scope-lo", socket.if_nametoindex("lo"))
send("scope-99", 99)
send("scope-eth0", socket.if_nametoindex("eth0"))
'
# A profile without link-local addresses refuses the same send.
run nolinklocal python3 -c '
import errno, socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
try:
    s.sendto(b"refused", ("fe80::b", 9999, 0, socket.if_nametoindex("eth0"))); print("refused sent")
except OSError as e:
    print("refused", errno.errorcode[e.errno])
'
# The checks are done: whatever they sent has arrived (each sbx run has ended), so the
# receiver's list ends here, with a datagram from this side.
python3 -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.sendto(b"end", ("fe80::b", 9999, 0, socket.if_nametoindex("veth0")))
'
wait $PEER
cat "$W/received"
rm -rf "$W"
