#!/usr/bin/env bash
# scripts/fresh_root_check.sh: checks that the README's commands work on a fresh Debian 12 machine
# that has only the toolchain, so that a package missing from scripts/setup.sh cannot hide behind
# packages a build host got by hand. Needs root (debootstrap, chroot, mount). Phases:
#   1. debootstrap a bookworm root (minbase) from the host's Debian mirror (the first `deb` URI of
#      the main archive in the host's apt sources, read at run time), copy the host's apt sources
#      for the Debian archive and debian-security (no third-party repos) and its Acquire settings
#      (proxy, Valid-Until...) and name resolution into it, then install build-essential only;
#   2. `git clone` the checkout's HEAD commit (committed files only) to /src/<name> in the root and
#      bind-mount ../shared read-only beside it (/src/shared);
#   3. in the root (chroot, /proc, /sys and /dev mounted): `bash scripts/demo.sh` (the README's
#      main job: setup.sh, release build, bench), then the test command's setup and configure
#      steps: `bash scripts/setup.sh` and `cmake --preset P` for each preset scripts/test.sh and
#      scripts/fuzz.sh configure (their builds and tests run on the host in CI).
# Exits non-zero with a message naming the failed phase; prints each phase's time. Nothing is
# cached between runs: every run starts from a new debootstrap.
#
# Environment:
#   FRESH_ROOT_DIR    work folder (the root is FRESH_ROOT_DIR/root); must not exist or be empty.
#                     Default: a new mktemp folder under /tmp.
#   KEEP_ROOT=1       keep the folder afterwards (for debugging; mounts are undone anyway)
#   FRESH_ROOT_NICE   niceness of the commands run in the root (default 10)
#   FRESH_ROOT_SHARED the test data to mount as ../shared (default: ../shared beside the checkout)
#   SARATHI_CCACHE_DIR a ccache folder (set by .ci/run in CI): ccache is installed in the root
#                     beside build-essential, the folder is mounted at /ccache, and the commands in
#                     the root compile through it with the host's CCACHE_* settings, so demo.sh's
#                     release build reuses the host's objects. Configure and link still run for
#                     real, and a cached object is used only where all its headers are present.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
suite=bookworm
nice_level="${FRESH_ROOT_NICE:-10}"

say() { echo "fresh-root: $*"; }
failed_phase="" failed_hint="" current_phase=""
die() { echo "fresh-root: ERROR: $*" >&2; failed_phase="$current_phase"; exit 1; }

if [[ $(id -u) -ne 0 ]]; then
  die "must run as root (debootstrap, chroot and mount need it): sudo bash $0"
fi
command -v git >/dev/null || die "git is needed on the host"
repo="$(git -c safe.directory='*' -C "$script_dir/.." rev-parse --show-toplevel)" \
  || die "$script_dir/.. is not in a git checkout"
repo_name="$(basename "$repo")"
[[ "$repo_name" != shared ]] || repo_name=sarathi

# ---- timings and cleanup (every exit path: unmount everything under the work folder first) ----
phase_names=() phase_secs=() phase_start=0 work="" root=""
start_phase() {
  current_phase="$1"
  phase_start=$SECONDS
  echo
  echo "==== fresh-root: $1"
}
end_phase() {
  phase_names+=("$current_phase")
  phase_secs+=("$((SECONDS - phase_start))")
  current_phase=""
}
fmt_secs() { printf '%d:%02d' "$(($1 / 60))" "$(($1 % 60))"; }
print_timings() {
  local i
  echo "fresh-root: timings (m:ss)"
  for i in "${!phase_names[@]}"; do
    printf '  %-62s %6s\n' "${phase_names[$i]}" "$(fmt_secs "${phase_secs[$i]}")"
  done
  if [[ -n "$current_phase" ]]; then
    printf '  %-62s %6s  FAILED\n' "$current_phase" "$(fmt_secs "$((SECONDS - phase_start))")"
  fi
  printf '  %-62s %6s\n' "total" "$(fmt_secs "$SECONDS")"
}
# Mount points at or below $1, deepest first (from /proc/self/mountinfo; octal escapes decoded).
mounts_under() {
  awk -v p="$1" '{ m = $5; gsub(/\\040/, " ", m); if (m == p || index(m, p "/") == 1) print m }' \
    /proc/self/mountinfo | sort -r
}
unmount_all() {
  [[ -n "$root" && -d "$root" ]] || return 0
  local pid m killed=0
  # Processes still running inside the root (started by this script, e.g. when it is
  # interrupted) would keep the mounts busy.
  for pid in /proc/[0-9]*; do
    pid="${pid#/proc/}"
    if [[ "$(readlink "/proc/$pid/root" 2>/dev/null)" == "$root" ]]; then
      kill -9 "$pid" 2>/dev/null && killed=1
    fi
  done
  ((killed == 0)) || sleep 1
  while read -r m; do
    [[ -n "$m" ]] || continue
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "fresh-root: cannot unmount $m" >&2
  done < <(mounts_under "$root")
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  exec 1>&3 2>&4  # a signal can land while a command's output goes to a log
  unmount_all
  if [[ -n "$work" && -d "$work" ]]; then
    if [[ -n "$(mounts_under "$work")" ]]; then
      echo "fresh-root: still mounted under $work, NOT removing it:" >&2
      mounts_under "$work" >&2
    elif [[ "${KEEP_ROOT:-0}" == 1 ]]; then
      say "KEEP_ROOT=1: kept $work (root: $root; logs: $work/logs)."
      say "  enter: mount -t proc proc $root/proc && chroot $root /bin/bash"
      say "  remove: check that nothing is mounted under it, then rm -rf --one-file-system $work"
    else
      rm -rf --one-file-system "$work"
    fi
  fi
  echo
  print_timings
  if [[ $status -ne 0 ]]; then
    echo "fresh-root: FAILED${failed_phase:+ in phase \"$failed_phase\"} (exit $status)." >&2
    [[ -z "${failed_hint:-}" ]] || echo "fresh-root: $failed_hint" >&2
  else
    say "OK: the README's commands work on a fresh Debian 12 root (commit ${commit_short:-?})."
  fi
  exit "$status"
}
exec 3>&1 4>&2
trap cleanup EXIT
trap 'failed_phase="$current_phase (interrupted)"; exit 130' INT
trap 'failed_phase="$current_phase (interrupted)"; exit 143' TERM

# Runs "$@" for the current phase; on failure records the phase and hint and exits.
run_phase_cmd() {
  local hint="$1"; shift
  local rc=0
  "$@" || rc=$?
  if [[ $rc -ne 0 ]]; then
    failed_phase="$current_phase" failed_hint="$hint"
    exit "$rc"
  fi
}
# Runs "$@" with output to a log; prints the log's tail on failure.
logged() {
  local log="$1"; shift
  local rc=0
  "$@" >"$log" 2>&1 || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "fresh-root: command failed (exit $rc): $*" >&2
    echo "---- last 40 lines of $log" >&2
    tail -n 40 "$log" >&2
    echo "----" >&2
  fi
  return "$rc"
}
in_root() {  # runs a bash command line in the root, as root, with a clean environment
  local env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root USER=root
             LOGNAME=root LANG=C.UTF-8 TERM="${TERM:-dumb}")
  local v
  for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
    [[ -z "${!v:-}" ]] || env+=("$v=${!v}")
  done
  env+=("${ccache_env[@]}")
  # In the background and waited for, so that a signal to this script is handled at once (the
  # cleanup then kills what still runs in the root).
  nice -n "$nice_level" chroot "$root" /usr/bin/env -i "${env[@]}" /bin/bash -euo pipefail -c "$1" &
  wait "$!"
}

# ---- host: prerequisites --------------------------------------------------------------------
start_phase "host: debootstrap present"
if ! command -v debootstrap >/dev/null 2>&1; then
  say "installing debootstrap on the host"
  export DEBIAN_FRONTEND=noninteractive
  host_pkgs=(debootstrap)
  [[ -e /usr/share/keyrings/debian-archive-keyring.gpg ]] || host_pkgs+=(debian-archive-keyring)
  if ! apt-cache policy debootstrap 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    apt-get update -qq || die "apt-get update failed on the host"
  fi
  if ! apt-get install -y -qq --no-install-recommends "${host_pkgs[@]}" >/dev/null; then
    apt-get update -qq || die "apt-get update failed on the host"
    apt-get install -y -qq --no-install-recommends "${host_pkgs[@]}" >/dev/null \
      || die "cannot install debootstrap on the host"
  fi
fi
say "$(debootstrap --version 2>/dev/null || echo debootstrap)"
end_phase

# ---- host apt sources: the Debian archive and debian-security only ----------------------------
# Lists every entry of one sources file, one per line, tab-separated:
#   first_line last_line types uris suites components signed_by enabled
# for the one-line format (fmt=list) and deb822 (fmt=sources). signed_by is "inline" for an
# embedded key.
parse_sources() {
  awk -v fmt="$2" '
    function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
    function flush() {
      if (first > 0 && types != "")
        printf "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", first, last, types, uris, suites, comps, sb, en
      first = 0; types = uris = suites = comps = sb = ""; en = "yes"; field = ""
    }
    BEGIN { first = 0; en = "yes" }
    fmt == "list" {
      line = $0; sub(/#.*/, "", line); line = trim(line)
      if (line == "") next
      n = split(line, t, /[ \t]+/)
      types = t[1]; i = 2; sb = ""
      if (substr(t[i], 1, 1) == "[") {  # [ options ]
        opts = ""
        while (i <= n) { opts = opts " " t[i]; if (t[i] ~ /\]$/) { i++; break } ; i++ }
        gsub(/[\[\]]/, " ", opts)
        m = split(opts, o, /[ \t]+/)
        for (k = 1; k <= m; k++) if (tolower(o[k]) ~ /^signed-by=/) sb = substr(o[k], 11)
      }
      uris = t[i]; suites = t[i + 1]; comps = ""
      for (k = i + 2; k <= n; k++) comps = comps (comps == "" ? "" : " ") t[k]
      first = last = NR; en = "yes"; flush(); next
    }
    fmt == "sources" && /^#/ { next }
    fmt == "sources" && /^[ \t]*$/ { flush(); next }
    fmt == "sources" && /^[ \t]/ {  # continuation line
      v = trim($0); last = NR
      if (field == "uris") uris = trim(uris " " v)
      else if (field == "suites") suites = trim(suites " " v)
      else if (field == "components") comps = trim(comps " " v)
      else if (field == "signed-by" && sb == "") sb = (v ~ /BEGIN PGP/ ? "inline" : v)
      next
    }
    fmt == "sources" {
      if (first == 0) first = NR
      last = NR
      c = index($0, ":"); field = tolower(trim(substr($0, 1, c - 1))); v = trim(substr($0, c + 1))
      if (field == "types") types = v
      else if (field == "uris") uris = v
      else if (field == "suites") suites = v
      else if (field == "components") comps = v
      else if (field == "signed-by") sb = (v ~ /BEGIN PGP/ ? "inline" : v)
      else if (field == "enabled") en = tolower(v)
    }
    END { flush() }
  ' "$1"
}
# The Origin of the Release file apt fetched for URI+suite, if the host has it ("" otherwise).
release_origin() {
  local base="${1#*://}" f
  base="${base#*@}"; base="${base%/}"; base="${base//\//_}"
  for f in "$apt_lists/${base}_dists_${2//\//_}_InRelease" "$apt_lists/${base}_dists_${2//\//_}_Release"; do
    if [[ -r "$f" ]]; then
      sed -n 's/^Origin: *//p' "$f" | head -n 1
      return 0
    fi
  done
}

start_phase "host: read apt sources"
sources_list="" sources_parts="" apt_lists="" host_http_proxy="" host_https_proxy=""
eval "$(apt-config shell sources_list Dir::Etc::sourcelist/f sources_parts Dir::Etc::sourceparts/d \
          apt_lists Dir::State::lists/d host_http_proxy Acquire::http::Proxy \
          host_https_proxy Acquire::https::Proxy)"
source_files=()
[[ ! -f "$sources_list" ]] || source_files+=("$sources_list")
while IFS= read -r f; do source_files+=("$f"); done < <(
  find "$sources_parts" -maxdepth 1 -type f \( -name '*.list' -o -name '*.sources' \) 2>/dev/null \
    | LC_ALL=C sort)
sources_out_list="" sources_out_deb822="" mirror="" mirror_keyring="" keyrings=() any_https=0
for f in "${source_files[@]}"; do
  fmt=list; [[ "$f" == *.sources ]] && fmt=sources
  while IFS=$'\t' read -r first last types uris suites comps sb en; do
    what="$f:$first: $types $uris $suites $comps"
    reason=""
    [[ " $types " == *" deb "* ]] || reason="not a deb entry"
    [[ -n "$reason" || "$en" != no ]] || reason="disabled"
    if [[ -z "$reason" ]]; then
      for s in $suites; do
        [[ "$s" =~ ^$suite(-updates|-security|-backports|-backports-sloppy|-proposed-updates)?$ \
           || "$s" == "$suite/updates" ]] || reason="suite $s is not Debian $suite's"
      done
    fi
    [[ -n "$reason" || " $comps " == *" main "* ]] || reason="no main component"
    if [[ -z "$reason" && -n "$sb" && "$sb" != inline && "$sb" != *debian-archive* ]]; then
      reason="signed by $sb, not by the Debian archive keyring"
    fi
    if [[ -z "$reason" ]]; then
      for u in $uris; do
        for s in $suites; do
          o="$(release_origin "$u" "$s")"
          [[ -z "$o" || "$o" == Debian ]] || reason="Release origin is '$o', not Debian"
        done
      done
    fi
    if [[ -n "$reason" ]]; then
      say "  skip  $what ($reason)"
      continue
    fi
    say "  copy  $what"
    if [[ "$fmt" == list ]]; then
      sources_out_list+="$(sed -n "${first}p" "$f")"$'\n'
    else  # the stanza verbatim, binary packages only (deb-src would only slow apt-get update)
      sources_out_deb822+="$(sed -n "${first},${last}p" "$f" | sed -E 's/^([Tt]ypes:).*/\1 deb/')"$'\n\n'
    fi
    for u in $uris; do [[ "$u" != https://* ]] || any_https=1; done
    if [[ -n "$sb" && "$sb" != inline ]]; then
      for k in $sb; do keyrings+=("$k"); done
    fi
    if [[ -z "$mirror" && " $suites " == *" $suite "* ]]; then
      mirror="${uris%% *}"
      [[ -z "$sb" || "$sb" == inline ]] || mirror_keyring="${sb%% *}"
    fi
  done < <(parse_sources "$f" "$fmt")
done
[[ -n "$mirror" ]] || die "no 'deb' entry for the Debian $suite archive (suite $suite, component main) in the host's apt sources (${source_files[*]:-none})"
case "$mirror" in
  http://* | https://* | file:/*) ;;
  *) die "the host's Debian mirror '$mirror' uses a method debootstrap cannot read (http, https, file)" ;;
esac
say "mirror (from the host's apt sources): $mirror"
end_phase

# ---- the work folder --------------------------------------------------------------------------
if [[ -n "${FRESH_ROOT_DIR:-}" ]]; then
  work="$FRESH_ROOT_DIR"
  if [[ -e "$work" && -n "$(ls -A "$work" 2>/dev/null)" ]]; then
    w="$work"; work=""  # not ours: never remove it
    die "FRESH_ROOT_DIR=$w exists and is not empty (a kept root?); remove it first (rm -rf --one-file-system $w) or pick another"
  fi
  mkdir -p "$work"
else
  work="$(mktemp -d /tmp/sarathi-fresh-root.XXXXXX)"
fi
work="$(cd "$work" && pwd -P)"
[[ "$work" != *[[:space:]]* ]] || { w="$work"; work=""; die "FRESH_ROOT_DIR must not contain spaces: $w"; }
root="$work/root"
mkdir -p "$root" "$work/logs"
# The root is its own private mount, so nothing mounted below it propagates to the host.
mount --bind "$root" "$root"
mount --make-private "$root"
say "work folder: $work"

# ---- phase 1: the fresh root --------------------------------------------------------------------
start_phase "root: debootstrap $suite (minbase)"
db_args=(--variant=minbase)
[[ -z "$mirror_keyring" || ! -r "$mirror_keyring" ]] || db_args+=(--keyring="$mirror_keyring")
[[ $any_https -eq 0 ]] || db_args+=(--include=ca-certificates)  # apt needs it to reach an https mirror
db_env=()
[[ -n "${http_proxy:-}" || -z "${host_http_proxy:-}" ]] || db_env+=(http_proxy="$host_http_proxy")
[[ -n "${https_proxy:-}" || -z "${host_https_proxy:-}" ]] || db_env+=(https_proxy="$host_https_proxy")
say "debootstrap ${db_args[*]} $suite $root $mirror"
run_phase_cmd "debootstrap failed (see the log tail above)" \
  logged "$work/logs/debootstrap.log" env "${db_env[@]}" debootstrap "${db_args[@]}" "$suite" "$root" "$mirror"
end_phase

ccache_env=()
use_ccache=0
if [[ -n "${SARATHI_CCACHE_DIR:-}" ]]; then
  if [[ -d "$SARATHI_CCACHE_DIR" ]]; then use_ccache=1
  else say "note: SARATHI_CCACHE_DIR=$SARATHI_CCACHE_DIR is not a folder; building without ccache"; fi
fi
start_phase "root: host apt sources + build-essential$( ((use_ccache)) && echo ' + ccache')"
rm -f "$root/etc/apt/sources.list"
mkdir -p "$root/etc/apt/sources.list.d" "$root/etc/apt/apt.conf.d"
[[ -z "$sources_out_list" ]] || printf '%s' "$sources_out_list" >"$root/etc/apt/sources.list.d/host-debian.list"
[[ -z "$sources_out_deb822" ]] || printf '%s' "$sources_out_deb822" >"$root/etc/apt/sources.list.d/host-debian.sources"
for k in "${keyrings[@]}"; do
  if [[ ! -e "$root$k" && -r "$k" ]]; then mkdir -p "$root$(dirname "$k")"; cp "$k" "$root$k"; fi
done
# What the host's apt does to reach its mirror: Acquire settings (proxies, Valid-Until and date
# checks for snapshot-like mirrors, retries) and name resolution. No credentials (auth.conf.d).
apt-config dump | grep -E '^Acquire::(Check-Valid-Until|Check-Date|Max-ValidTime|Min-ValidTime|Retries|ForceIPv4|ForceIPv6|(http|https|ftp)::(Proxy|Proxy-Auto-Detect|Timeout)(::[^ ]*)?) ' \
  >"$root/etc/apt/apt.conf.d/99host-acquire" || true
cp /etc/hosts "$root/etc/hosts"
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
say "apt sources in the root:"
sed 's/^/    /' "$root"/etc/apt/sources.list.d/host-debian.* 2>/dev/null
if [[ -s "$root/etc/apt/apt.conf.d/99host-acquire" ]]; then
  say "host Acquire settings copied:"; sed 's/^/    /' "$root/etc/apt/apt.conf.d/99host-acquire"
fi
mkdir -p "$root/proc" "$root/sys" "$root/dev"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount -t devtmpfs -o mode=0755,nosuid devtmpfs "$root/dev"
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,mode=0620,ptmxmode=0666,gid=5,nosuid,noexec devpts "$root/dev/pts"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
run_phase_cmd "installing build-essential in the root failed (see the log tail above)" \
  logged "$work/logs/build-essential.log" in_root '
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends build-essential '"$( ((use_ccache)) && echo ccache)"'
    apt-get clean
    rm -rf /var/lib/apt/lists/*   # as on a fresh machine: setup.sh must run apt-get update itself'
# shellcheck disable=SC2016  # expanded in the root
say "$(in_root 'g++ --version | head -n 1; make --version | head -n 1; echo "$(dpkg-query -W | wc -l) packages installed"' | paste -sd ';' | sed 's/;/; /g')"
end_phase

# ---- phase 2: the clone and the test data -----------------------------------------------------
start_phase "root: clone HEAD and mount ../shared"
commit="$(git -c safe.directory='*' -C "$repo" rev-parse HEAD)"
commit_short="$(git -c safe.directory='*' -C "$repo" rev-parse --short HEAD)"
say "checking commit $commit ($(git -c safe.directory='*' -C "$repo" log -1 --format=%s HEAD | cut -c1-80))"
dirty="$(git -c safe.directory='*' -C "$repo" status --porcelain --untracked-files=no | wc -l)"
if [[ "$dirty" -ne 0 ]]; then
  say "note: $dirty tracked file(s) in $repo have uncommitted changes; they are NOT part of this check (only commit $commit_short is)"
fi
mkdir -p "$root/src"
run_phase_cmd "git clone of $repo failed" \
  git -c safe.directory='*' clone --quiet --no-hardlinks --no-checkout "$repo" "$root/src/$repo_name"
run_phase_cmd "checking out $commit in the clone failed" \
  git -c safe.directory='*' -C "$root/src/$repo_name" checkout --quiet --detach "$commit"
shared="${FRESH_ROOT_SHARED:-$repo/../shared}"
if [[ -d "$shared" ]]; then
  shared="$(cd "$shared" && pwd -P)"
  mkdir -p "$root/src/shared"
  mount --bind "$shared" "$root/src/shared"
  mount -o remount,bind,ro "$root/src/shared"
  say "mounted $shared read-only at /src/shared"
else
  say "note: no test data at $shared; the golden tests would skip (not needed for this check)"
fi
if ((use_ccache)); then
  mkdir -p "$root/ccache"
  mount --bind "$SARATHI_CCACHE_DIR" "$root/ccache"
  ccache_env=(CCACHE_DIR=/ccache CCACHE_BASEDIR="/src/$repo_name" CCACHE_NOHASHDIR=true
              CCACHE_IGNOREOPTIONS="${CCACHE_IGNOREOPTIONS:--Werror}"
              CCACHE_COMPILERCHECK="${CCACHE_COMPILERCHECK:-content}"
              CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache)
  say "mounted the compiler cache $SARATHI_CCACHE_DIR at /ccache"
fi
end_phase

# ---- phase 3: the README's commands in the root ---------------------------------------------------
cd_src="cd /src/$repo_name"
start_phase "root: bash scripts/demo.sh (setup, release build, main job)"
run_phase_cmd "the README's 'bash scripts/demo.sh' fails on a fresh Debian 12 root with only build-essential; is a package missing from scripts/setup.sh?" \
  in_root "$( ((use_ccache)) && echo 'ccache -z >/dev/null && ')$cd_src && bash scripts/demo.sh"
if ((use_ccache)); then
  say "compiler cache in the root: $(in_root 'ccache --print-stats' | awk -F'\t' '
    $1 == "direct_cache_hit" || $1 == "preprocessed_cache_hit" { hit += $2 }
    $1 == "cache_miss" { miss += $2 } END { printf "%d hits, %d misses", hit, miss }')"
fi
end_phase

start_phase "root: bash scripts/setup.sh (test command's setup)"
run_phase_cmd "'bash scripts/setup.sh' fails in the root after demo.sh" \
  in_root "$cd_src && bash scripts/setup.sh"
end_phase

presets=()
while IFS= read -r p; do presets+=("$p"); done < <(
  grep -ohE 'cmake --preset [A-Za-z0-9_-]+' "$root/src/$repo_name/scripts/test.sh" \
    "$root/src/$repo_name/scripts/fuzz.sh" | awk '!seen[$3]++ { print $3 }')
((${#presets[@]} > 0)) || { failed_phase="configure presets"; die "found no 'cmake --preset' in scripts/test.sh or scripts/fuzz.sh"; }
for p in "${presets[@]}"; do
  start_phase "root: cmake --preset $p"
  run_phase_cmd "'cmake --preset $p' (configured by the README's test command) fails on a fresh Debian 12 root; is a package missing from scripts/setup.sh?" \
    logged "$work/logs/configure-$p.log" in_root "$cd_src && cmake --preset $p"
  tail -n 3 "$work/logs/configure-$p.log"
  end_phase
done
