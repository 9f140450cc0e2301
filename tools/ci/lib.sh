# shellcheck shell=bash
# Helpers for .ci/run: logging, waiting, and starting the daemons the integration tests use.
# Sourced, not executed. Expects CI_LOGDIR to be set to a writable directory.

ci_log() { printf '[ci %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

ci_die() { ci_log "FAILED: $*"; exit 1; }

# ci_wait SECONDS DESCRIPTION COMMAND...: retry COMMAND once a second until it succeeds.
ci_wait() {
    local seconds=$1 what=$2 i
    shift 2
    for ((i = 0; i < seconds; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 1
    done
    ci_die "$what did not come up within ${seconds}s"
}

# ci_http_ok URL: true when URL answers with any HTTP status below 500 (401 counts as "up").
ci_http_ok() {
    python3 - "$1" <<'PY'
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=3)
except urllib.error.HTTPError as err:
    sys.exit(0 if err.code < 500 else 1)
except Exception:
    sys.exit(1)
PY
}

# ci_apt_install PKG...: install the packages that are not installed yet (after apt-get update).
ci_apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        ci_log "apt-get install ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            "${missing[@]}" >"$CI_LOGDIR/apt-install.log" 2>&1 \
            || { tail -n 40 "$CI_LOGDIR/apt-install.log" >&2; ci_die "apt-get install"; }
    else
        ci_log "apt packages already installed: $*"
    fi
}

# ci_host_apt_mirror: print this machine's own Debian archive URL (the one serving the release
# codename, not -security/-updates), read from /etc/apt/sources.list{,.d/*.list,.d/*.sources}.
ci_host_apt_mirror() {
    local codename
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    python3 - "$codename" <<'PY'
import glob, re, sys
codename = sys.argv[1]
def one_line(path):
    for line in open(path, encoding="utf-8", errors="replace"):
        line = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
        if len(line) >= 3 and line[0] == "deb" and line[2] == codename:
            yield line[1]
def deb822(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    for stanza in re.split(r"\n\s*\n", text):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.split()
        if ("deb" in fields.get("types", []) and codename in fields.get("suites", [])
                and fields.get("enabled", ["yes"]) != ["no"]):
            yield from fields.get("uris", [])
paths = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
found = [u for p in paths if glob.os.path.exists(p) for u in one_line(p)]
found += [u for p in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")) for u in deb822(p)]
if not found:
    sys.exit(f"no 'deb' source for {codename} in /etc/apt/sources.list(.d)")
print(found[0].rstrip("/"))
PY
}

ci_start_dockerd() {
    if docker info >/dev/null 2>&1; then
        ci_log "dockerd already answers"
        return 0
    fi
    ci_log "starting dockerd (log: $CI_LOGDIR/dockerd.log)"
    setsid dockerd >"$CI_LOGDIR/dockerd.log" 2>&1 </dev/null &
    ci_wait 90 dockerd docker info
    ci_log "dockerd is up: $(docker info --format '{{.ServerVersion}}')"
}

# apt-cacher-ng's own config (/etc/apt-cacher-ng/acng.conf) plus overrides on the command line,
# run as its own user the way its init script and systemd unit do. Its Debian remap sends
# every known Debian mirror name to the backends in backends_debian(.default), a mirror this
# machine may not reach; point that backend at this machine's own archive instead.
ci_start_apt_cacher() {
    local mirror codename probe
    mirror=$(ci_host_apt_mirror) || ci_die "cannot read this machine's apt mirror"
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    probe="http://127.0.0.1:3142/${mirror#*://}/dists/$codename/InRelease"
    if ci_http_ok http://127.0.0.1:3142/acng-report.html; then
        ci_http_ok "$probe" || ci_die "an apt-cacher-ng already on 127.0.0.1:3142 cannot fetch" \
            "$probe; stop it so that CI can start one with the right backend"
        ci_log "apt-cacher-ng already answers on 127.0.0.1:3142"
        return 0
    fi
    ci_log "starting apt-cacher-ng on 127.0.0.1:3142, Debian backend $mirror" \
        "(log: $CI_LOGDIR/apt-cacher-ng.log)"
    install -d -o apt-cacher-ng -g apt-cacher-ng /run/apt-cacher-ng /var/cache/apt-cacher-ng \
        /var/log/apt-cacher-ng
    setsid runuser -u apt-cacher-ng -- /usr/sbin/apt-cacher-ng -c /etc/apt-cacher-ng \
        ForeGround=1 BindAddress=127.0.0.1 Port=3142 \
        "Remap-debrep=file:deb_mirror*.gz /debian ; $mirror/" \
        >"$CI_LOGDIR/apt-cacher-ng.log" 2>&1 </dev/null &
    ci_wait 30 apt-cacher-ng ci_http_ok http://127.0.0.1:3142/acng-report.html
    ci_wait 30 "apt-cacher-ng fetching $probe" ci_http_ok "$probe"
}

# Debian's /etc/docker/registry/config.yml, minus its htpasswd auth (a test registry on loopback
# needs none), listening on 127.0.0.1:5000 only. Same storage directory and user as the package.
ci_start_registry() {
    if ci_http_ok http://127.0.0.1:5000/v2/; then
        ci_log "docker-registry already answers on 127.0.0.1:5000"
        return 0
    fi
    # Not in $CI_LOGDIR: mktemp made that 0700, and the registry runs as its own user.
    install -d -m 0755 /run/envspec-ci
    local config=/run/envspec-ci/registry-config.yml
    cat >"$config" <<'YAML'
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/docker-registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
  headers:
    X-Content-Type-Options: [nosniff]
YAML
    chmod 644 "$config"
    install -d -o docker-registry /var/lib/docker-registry
    ci_log "starting docker-registry on 127.0.0.1:5000 (log: $CI_LOGDIR/registry.log)"
    setsid runuser -u docker-registry -- /usr/bin/docker-registry serve "$config" \
        >"$CI_LOGDIR/registry.log" 2>&1 </dev/null &
    ci_wait 30 docker-registry ci_http_ok http://127.0.0.1:5000/v2/
}

# Print the last lines of every daemon log; called on failure.
ci_dump_logs() {
    local f
    for f in "$CI_LOGDIR"/*.log; do
        [ -s "$f" ] || continue
        printf '\n===== last 40 lines of %s =====\n' "$f" >&2
        tail -n 40 "$f" >&2
    done
}
