#!/bin/sh
# envspec's fallback probe for images without Python 3: POSIX sh, JSON report on stdout.
#
# Input (file argument or stdin): one check per line, fields separated by the ASCII unit
# separator (0x1f), written by envspec.smoke.checks.to_sh_lines():
#   @policy  <gpu policy>  <gpu skip reason>
#   <kind>  <name>  <gpu 0|1>  <timeout>  <param>...
# Kinds handled here: os_release gcc gxx nvcc cuda_runtime nvidia_smi driver_for_cuda user workdir
# env command.
# The others need Python: python/imports fail (the image has none), the rest are skipped.
# Exit status: 0 when nothing failed, 1 when a check failed.

US=$(printf '\037')
NL='
'
policy=auto
skip_reason=
failed=0
first=1

json_str() {
    # JSON string literal of $1: escape \ and ", turn control characters into spaces.
    printf '%s' "$1" | tr '\n\r\t' '   ' | tr -d '\000-\037' \
        | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$/"/'
    [ -n "$1" ] || printf '""'
}

now() { date +%s 2>/dev/null || echo 0; }

emit() {  # name kind gpu status detail started
    [ "$first" = 1 ] || printf ',\n'
    first=0
    gpu_json=false
    [ "$3" = 1 ] && gpu_json=true
    printf '    {"name": %s, "kind": %s, "gpu": %s, "status": "%s", "detail": %s, "duration": %s}' \
        "$(json_str "$1")" "$(json_str "$2")" "$gpu_json" "$4" "$(json_str "$5")" \
        "$(( $(now) - $6 ))"
    [ "$4" = fail ] && failed=1
    return 0
}

tail_of() { printf '%s' "$1" | tail -c 400; }

# run_limited SECONDS CMD...: output in $out, status in $rc; uses timeout(1) when present.
run_limited() {
    secs=$1
    shift
    if command -v timeout >/dev/null 2>&1; then
        out=$(timeout "$secs" "$@" 2>&1)
    else
        out=$("$@" 2>&1)
    fi
    rc=$?
}

os_field() {
    for f in /etc/os-release /usr/lib/os-release; do
        if [ -r "$f" ]; then
            sed -n "s/^$1=//p" "$f" | head -n 1 | sed -e 's/^"//' -e 's/"$//' -e "s/^'//" -e "s/'\$//"
            return
        fi
    done
}

# version_ge A B: A >= B, comparing dotted numbers field by field.
version_ge() {
    a=$1
    b=$2
    while [ -n "$a$b" ]; do
        x=${a%%.*}
        y=${b%%.*}
        x=${x:-0}
        y=${y:-0}
        [ "$x" -gt "$y" ] 2>/dev/null && return 0
        [ "$x" -lt "$y" ] 2>/dev/null && return 1
        case $a in *.*) a=${a#*.} ;; *) a= ;; esac
        case $b in *.*) b=${b#*.} ;; *) b= ;; esac
    done
    return 0
}

no_gpu() {  # name kind gpu reason started
    if [ "$policy" = required ]; then
        emit "$1" "$2" "$3" fail "no GPU, and smoke.gpu is required: $4" "$5"
    else
        emit "$1" "$2" "$3" skip "no GPU: $4" "$5"
    fi
}

gpu_csv() {
    command -v nvidia-smi >/dev/null 2>&1 || {
        out="no NVIDIA GPU visible: nvidia-smi is not on PATH"
        return 1
    }
    run_limited "$1" nvidia-smi --query-gpu=index,name,uuid,driver_version,memory.total \
        --format=csv,noheader
    [ "$rc" = 0 ] && [ -n "$out" ] || {
        out="nvidia-smi exited $rc: $(tail_of "$out")"
        return 1
    }
}

check() {  # kind name gpu timeout params...
    kind=$1 name=$2 gpu=$3 limit=$4
    shift 4
    t0=$(now)
    if [ "$gpu" = 1 ] && [ "$policy" = off ]; then
        emit "$name" "$kind" 1 skip "GPU checks are off (smoke.gpu: off)" "$t0"
        return
    fi
    if [ "$gpu" = 1 ] && [ -n "$skip_reason" ]; then
        no_gpu "$name" "$kind" 1 "$skip_reason" "$t0"
        return
    fi
    case $kind in
    os_release)
        id=$(os_field ID)
        ver=$(os_field VERSION_ID)
        summary="$id $ver ($(os_field PRETTY_NAME))"
        if [ -n "$1" ] && [ "$id" != "$1" ]; then
            emit "$name" "$kind" 0 fail "expected $1 $2, found $summary" "$t0"
        elif [ -n "$2" ] && [ "$ver" != "$2" ] && [ "${ver#"$2".}" = "$ver" ]; then
            emit "$name" "$kind" 0 fail "expected $1 $2, found $summary" "$t0"
        else
            emit "$name" "$kind" 0 pass "$summary" "$t0"
        fi
        ;;
    gcc | gxx)
        prog=$1
        [ -n "$prog" ] || { [ "$kind" = gcc ] && prog=gcc || prog=g++; }
        if ! command -v "$prog" >/dev/null 2>&1; then
            emit "$name" "$kind" 0 fail "$prog is not installed (not on PATH)" "$t0"
            return
        fi
        run_limited "$limit" "$prog" -dumpfullversion -dumpversion
        full=$(printf '%s' "$out" | head -n 1)
        if [ -n "$2" ] && [ "${full%%.*}" != "$2" ]; then
            emit "$name" "$kind" 0 fail "$prog is version $full, expected major $2" "$t0"
        else
            emit "$name" "$kind" 0 pass "$prog $full" "$t0"
        fi
        ;;
    nvcc)
        prog=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
        if [ ! -x "$prog" ]; then
            emit "$name" "$kind" 0 fail "nvcc not found on PATH or in /usr/local/cuda/bin" "$t0"
            return
        fi
        run_limited "$limit" "$prog" --version
        v=$(printf '%s' "$out" | sed -n 's/.*release [0-9.]*, V\([0-9.]*\).*/\1/p')
        mm=$(printf '%s' "$1" | cut -d. -f1-2)
        if [ -n "$mm" ] && [ "$v" != "$mm" ] && [ "${v#"$mm".}" = "$v" ]; then
            emit "$name" "$kind" 0 fail "nvcc is ${v:-unknown}, expected CUDA $1" "$t0"
        else
            emit "$name" "$kind" 0 pass "nvcc $v at $prog" "$t0"
        fi
        ;;
    nvidia_smi)
        if gpu_csv "$limit"; then
            emit "$name" "$kind" 1 pass "$(printf '%s' "$out" | tr '\n' ';')" "$t0"
        else
            no_gpu "$name" "$kind" 1 "$out" "$t0"
        fi
        ;;
    driver_for_cuda)
        if gpu_csv "$limit"; then
            drv=$(printf '%s' "$out" | head -n 1 | awk -F', *' '{print $(NF-1)}')
        else
            drv=$(sed -n 's/.*Kernel Module[^0-9]*\([0-9][0-9.]*\).*/\1/p' \
                /proc/driver/nvidia/version 2>/dev/null | head -n 1)
        fi
        if [ -z "$drv" ]; then
            no_gpu "$name" "$kind" 1 "$out" "$t0"
        elif [ -z "$1" ]; then
            emit "$name" "$kind" 1 pass "driver $drv (no minimum given)" "$t0"
        elif version_ge "$drv" "$1"; then
            emit "$name" "$kind" 1 pass "driver $drv >= $1 (minimum for CUDA $2)" "$t0"
        else
            emit "$name" "$kind" 1 fail "driver $drv is older than $1, the minimum for CUDA $2" "$t0"
        fi
        ;;
    cuda_runtime)
        libs=$(ldconfig -p 2>/dev/null | sed -n 's/.*\(libcudart\.so\.[0-9.]*\) .*/\1/p' | sort -u | tr '\n' ' ')
        mm=$(printf '%s' "$1" | cut -d. -f1-2)
        detail="CUDA_VERSION=${CUDA_VERSION:-(unset)}; ${libs:-no libcudart in ldconfig -p}"
        if [ -z "${CUDA_VERSION:-}" ] && [ -z "$libs" ]; then
            emit "$name" "$kind" 0 fail "no libcudart in ldconfig -p, and CUDA_VERSION is unset" "$t0"
        elif [ -n "$mm" ] && [ -n "${CUDA_VERSION:-}" ] && [ "$CUDA_VERSION" != "$mm" ] \
            && [ "${CUDA_VERSION#"$mm".}" = "$CUDA_VERSION" ]; then
            emit "$name" "$kind" 0 fail "expected CUDA $1; $detail" "$t0"
        else
            emit "$name" "$kind" 0 pass "$detail" "$t0"
        fi
        ;;
    user)
        uid=$(id -u)
        if [ -n "$1" ] && [ "$uid" != "$1" ]; then
            emit "$name" "$kind" 0 fail "running as uid $uid, expected $1" "$t0"
        else
            emit "$name" "$kind" 0 pass "uid $uid gid $(id -g)" "$t0"
        fi
        ;;
    workdir)
        if [ -n "$1" ] && [ "$PWD" != "$1" ]; then
            emit "$name" "$kind" 0 fail "working directory is $PWD, expected $1" "$t0"
        else
            emit "$name" "$kind" 0 pass "$PWD" "$t0"
        fi
        ;;
    env)
        wrong=
        while [ $# -ge 2 ]; do
            eval "isset=\${$1+x} actual=\${$1-}"
            if [ -z "$isset" ] || [ "$actual" != "$2" ]; then
                wrong="$wrong$1=$actual (expected $2); "
            fi
            shift 2
        done
        if [ -n "$wrong" ]; then
            emit "$name" "$kind" 0 fail "$wrong" "$t0"
        else
            emit "$name" "$kind" 0 pass "all set" "$t0"
        fi
        ;;
    command)
        run_limited "$limit" /bin/sh -c "$1"
        want=${2:-0}
        if [ "$rc" = 124 ] && command -v timeout >/dev/null 2>&1 && [ "$want" != 124 ]; then
            emit "$name" "$kind" 0 fail "timed out after ${limit}s; output: $(tail_of "$out")" "$t0"
        elif [ "$rc" != "$want" ]; then
            emit "$name" "$kind" 0 fail "exit $rc, expected $want; output: $(tail_of "$out")" "$t0"
        elif [ -n "$3" ] && ! printf '%s\n' "$out" | grep -E -q -e "$3"; then
            emit "$name" "$kind" 0 fail "output does not match /$3/ (grep -E): $(tail_of "$out")" "$t0"
        else
            emit "$name" "$kind" 0 pass "exit $rc; output: $(tail_of "$out")" "$t0"
        fi
        ;;
    python | imports)
        emit "$name" "$kind" "$gpu" fail "no Python 3 interpreter found in the image" "$t0"
        ;;
    *_gpu)
        emit "$name" "$kind" "$gpu" skip "no Python 3 in the image, so no ${kind%_gpu}" "$t0"
        ;;
    *)
        emit "$name" "$kind" "$gpu" skip "$kind needs the Python probe (no Python 3 here)" "$t0"
        ;;
    esac
}

printf '{\n  "probe": "sh",\n  "probe_version": 1,\n  "results": [\n'
set -f
while IFS= read -r line || [ -n "$line" ]; do
    [ -n "$line" ] || continue
    old_ifs=$IFS
    IFS=$US
    # shellcheck disable=SC2086  # splitting on the unit separator is the point
    set -- $line
    IFS=$old_ifs
    if [ "$1" = @policy ]; then
        policy=${2:-auto}
        skip_reason=${3-}
        continue
    fi
    [ $# -ge 4 ] || continue
    check "$@" </dev/null
done <"${1:-/dev/stdin}"
printf '\n  ],\n  "gpu": %s\n}\n' "$(json_str "$policy")"
exit "$failed"
