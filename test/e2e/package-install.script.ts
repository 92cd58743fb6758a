// The script the package test runs inside a fresh Debian root booted as a container (its own systemd as PID 1,
// the host's network). It does what an operator does, in order, and writes each outcome as `key=value` to
// /e2e/facts (the trace of every command goes to /e2e/trace.log); the test on the host reads them. Every wait
// polls a condition with a deadline. The units and users are the package's; only the fleet config (an operator
// edit of the conffile) and two lines of /etc/default/lvsq come from the test.

/** A dpkg-query format field, `${Name}` (written out so that it is not mistaken for a template slot). */
const field = (name: string) => ["$", "{", name, "}"].join("");

export const UNITS = ["lvsq-probe@p1", "lvsq-director@d1", "lvsq-status", "lvsq-run"] as const;

export const CONTAINER_SCRIPT = String.raw`#!/bin/bash
exec >>/e2e/trace.log 2>&1
set -x
fact() { printf '%s=%s\n' "$1" "$2" >> /e2e/facts; }
# until SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds or SECONDS have passed
until_ok() { local n=$(( $1 * 10 )); shift; while ! "$@"; do n=$((n - 1)); [ $n -le 0 ] && return 1; sleep 0.1; done; }
journal_has() { journalctl -u "$1" -o cat --no-pager | grep -q -- "$2"; }
mainpid() { systemctl show -p MainPID --value "$1"; }
proc_field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# 1. What a fresh root has: no Node at all.
fact node "$(command -v node || echo none)"
fact nodejs_package "$(dpkg-query -W -f='${field("Status")}' nodejs 2>/dev/null || echo absent)"

# 2. Install, and what the package put in place.
dpkg -i /e2e/lvsq.deb > /e2e/dpkg-install.log 2>&1; fact install $?
fact which "$(command -v lvsq)"
fact version "$(lvsq --version)"
lvsq validate /etc/lvsq/fleet.yaml > /e2e/validate-example.log 2>&1; fact validate_example $?
fact user "$(getent passwd lvsq | cut -d: -f1,6,7)"
fact conffiles "$(dpkg-query -W -f='${field("Conffiles")}' lvsq | awk '{print $1}' | tr '\n' ' ')"

# 3. The units: systemd-analyze verify on each (as installed, so ExecStart paths are checked), and the
#    offline security score.
for unit in ${UNITS.map((u) => `${u}.service`).join(" ")}; do
  systemd-analyze verify "$unit" > "/e2e/verify-$unit.log" 2>&1; fact "verify_$unit" $?
  template=$(echo "$unit" | sed 's/@[^.]*\./@./')
  score=$(systemd-analyze security --offline=true "/usr/lib/systemd/system/$template" | tail -1 | sed 's/.*: //; s/ [^ ]*$//')
  fact "security_$unit" "$score"
done

# 4. The operator configures the fleet and starts a probe, a director (dry-run: this kernel has no IPVS) and
#    the status page.
cp /e2e/fleet.yaml /etc/lvsq/fleet.yaml
printf 'LVSQ_DIRECTOR_ARGS="--dry-run"\nLVSQ_STATUS_WEB=127.0.0.1:0\n' >> /etc/default/lvsq
lvsq validate /etc/lvsq/fleet.yaml; fact validate $?
systemctl start lvsq-probe@p1 lvsq-director@d1 lvsq-status; fact start $?
for unit in lvsq-probe@p1 lvsq-director@d1 lvsq-status; do
  until_ok 20 systemctl is-active -q "$unit"; fact "active_$unit" $?
done
until_ok 30 journal_has lvsq-director@d1 '"msg":"director started"'; fact director_started $?
until_ok 30 journal_has lvsq-status 'status page: '; fact status_started $?
fact status_url "$(journalctl -u lvsq-status -o cat --no-pager | sed -n 's/^status page: //p' | tail -1)"
for unit in lvsq-probe@p1 lvsq-director@d1 lvsq-status; do
  pid=$(mainpid "$unit")
  fact "uid_$unit" "$(proc_field "$pid" Uid)"
  fact "capeff_$unit" "$(proc_field "$pid" CapEff)"
  fact "nonewprivs_$unit" "$(proc_field "$pid" NoNewPrivs)"
  fact "seccomp_$unit" "$(proc_field "$pid" Seccomp)"
done
systemctl reload lvsq-probe@p1; until_ok 15 journal_has lvsq-probe@p1 '"msg":"config reloaded"'; fact reload $?

# 5. The host checks NATS and the page meanwhile; it says when it is done.
touch /e2e/running
until_ok 120 test -e /e2e/continue; fact host_continued $?
journalctl -u lvsq-director@d1 -o cat --no-pager > /e2e/director.journal

# 6. Upgrade (the same package again): the edited conffile stays, running units are restarted.
echo "# edited by the operator" >> /etc/lvsq/fleet.yaml
before=$(mainpid lvsq-director@d1)
dpkg -i /e2e/lvsq.deb > /e2e/dpkg-upgrade.log 2>&1; fact upgrade $?
until_ok 20 systemctl is-active -q lvsq-director@d1; fact active_after_upgrade $?
after=$(mainpid lvsq-director@d1)
fact director_restarted "$([ -n "$after" ] && [ "$after" != 0 ] && [ "$before" != "$after" ] && echo yes || echo no)"
grep -q "edited by the operator" /etc/lvsq/fleet.yaml; fact conffile_kept $?

# 7. Purge: the units stop, the files go, the system user stays.
dpkg --purge lvsq > /e2e/dpkg-purge.log 2>&1; fact purge $?
fact binary_after_purge "$(test -e /usr/bin/lvsq && echo present || echo gone)"
fact running_after_purge "$(systemctl list-units 'lvsq-*' --state=running --no-legend | wc -l)"
fact user_after_purge "$(getent passwd lvsq > /dev/null && echo kept || echo gone)"
fact done yes
`;
