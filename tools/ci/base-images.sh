# shellcheck shell=bash
# Builds the registry-free base images the integration tests build FROM:
#   envspec-test/debian:bookworm         debootstrap --variant=minbase, one-line sources.list
#   envspec-test/debian:bookworm-deb822  the same rootfs with /etc/apt/sources.list.d/debian.sources
# The rootfs tarballs are cached in $CI_CACHE so a second run only has to `docker import`.
# Sourced by .ci/run after tools/ci/lib.sh.

CI_CACHE=${CI_CACHE:-/var/cache/envspec-ci}
CI_SUITE=${CI_SUITE:-bookworm}

# Rewrite a rootfs's one-line /etc/apt/sources.list into deb822 form, like the official images.
_ci_to_deb822() {
    local root=$1 line uri suites="" comps=""
    while read -r line; do
        # shellcheck disable=SC2086
        set -- $line
        [ "${1:-}" = deb ] || continue
        uri=$2
        suites="$suites $3"
        shift 3
        comps="$*"
    done <"$root/etc/apt/sources.list"
    [ -n "${uri:-}" ] || ci_die "no deb line in $root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $uri
Suites:${suites}
Components: ${comps}
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    rm -f "$root/etc/apt/sources.list"
}

_ci_make_rootfs_tarballs() {
    local mirror work rootfs
    mirror=$(ci_host_apt_mirror) || ci_die "cannot read this machine's apt mirror"
    work=$(mktemp -d /var/tmp/envspec-rootfs.XXXXXX)
    rootfs=$work/rootfs
    ci_log "debootstrap --variant=minbase $CI_SUITE from $mirror (log: $CI_LOGDIR/debootstrap.log)"
    timeout 600 debootstrap --variant=minbase "$CI_SUITE" "$rootfs" "$mirror" \
        >"$CI_LOGDIR/debootstrap.log" 2>&1 \
        || { tail -n 40 "$CI_LOGDIR/debootstrap.log" >&2; rm -rf "$work"; ci_die debootstrap; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*_* \
        "$rootfs"/var/log/bootstrap.log
    : >"$rootfs/etc/hostname"
    tar --numeric-owner -C "$rootfs" -cf "$work/classic.tar" .
    _ci_to_deb822 "$rootfs"
    tar --numeric-owner -C "$rootfs" -cf "$work/deb822.tar" .
    install -d "$CI_CACHE"
    mv "$work/classic.tar" "$CI_CACHE/$CI_SUITE-minbase.tar"
    mv "$work/deb822.tar" "$CI_CACHE/$CI_SUITE-minbase-deb822.tar"
    rm -rf "$work"
}

# ci_base_image TAG TARBALL_NAME
_ci_import() {
    local tag=$1 tarball=$CI_CACHE/$2
    if docker image inspect "$tag" >/dev/null 2>&1; then
        ci_log "image $tag already exists"
        return 0
    fi
    ci_log "docker import $tarball -> $tag"
    docker import --change 'CMD ["/bin/bash"]' "$tarball" "$tag" >/dev/null
}

ci_base_images() {
    local base=envspec-test/debian:$CI_SUITE
    if docker image inspect "$base" >/dev/null 2>&1 \
        && docker image inspect "$base-deb822" >/dev/null 2>&1; then
        ci_log "base images $base{,-deb822} already exist"
        return 0
    fi
    if [ ! -s "$CI_CACHE/$CI_SUITE-minbase.tar" ] || [ ! -s "$CI_CACHE/$CI_SUITE-minbase-deb822.tar" ]; then
        _ci_make_rootfs_tarballs
    else
        ci_log "using cached rootfs tarballs in $CI_CACHE"
    fi
    _ci_import "$base" "$CI_SUITE-minbase.tar"
    _ci_import "$base-deb822" "$CI_SUITE-minbase-deb822.tar"
}
