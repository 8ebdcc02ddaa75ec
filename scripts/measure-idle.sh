#!/bin/sh
# CPU used by an idle `weir run` (root): two veth links attached, one NAT
# service, no traffic; 20 s of utime+stime from /proc. Usage:
#   W=2 sh scripts/measure-idle.sh        (W: --workers, default 1)
# Everything lives in a namespace of its own, removed at the end.
set -e
W=${W:-1}
NS=widle$$
SOCK=/tmp/widle$$.sock
ip netns add "$NS"
trap 'kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; ip netns del "$NS"; rm -f "$SOCK"' EXIT
ip -n "$NS" link add a0 type veth peer name a1
ip -n "$NS" link add b0 type veth peer name b1
ip -n "$NS" link set a1 up
ip -n "$NS" link set b1 up
ip netns exec "$NS" node bin/weir.js run --workers "$W" --ctl "$SOCK" 2>/dev/null &
PID=$!
i=0
while [ ! -S "$SOCK" ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
for l in "ip link set a0 up" "ip link set b0 up" "ip addr add 198.18.0.1/24 dev a0" "ip addr add 198.19.0.1/24 dev b0" \
  "ipvsadm -A -t 198.18.100.1:80 -s rr" "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.11:80 -m"; do
  # shellcheck disable=SC2086
  node bin/weir.js ctl --ctl "$SOCK" -- $l
done
sleep 3
t0=$(awk '{print $14 + $15}' "/proc/$PID/stat")
sleep 20
t1=$(awk '{print $14 + $15}' "/proc/$PID/stat")
hz=$(getconf CLK_TCK)
echo "idle weir run, $W worker(s), 2 links: $(awk -v d=$((t1 - t0)) -v hz="$hz" 'BEGIN { printf "%.2f", d * 100 / hz / 20 }') % of a core over 20 s"
