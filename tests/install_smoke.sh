#!/bin/sh
# Install into a temporary prefix, build a program outside the tree with
# pkg-config (shared and --static), run both, and check the exported symbols.
set -eu
# A plain build: not the sanitizer flags of a calling make (check-asan).
unset MAKEFLAGS MFLAGS MAKELEVEL CFLAGS LDFLAGS CC B
top=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make -s -C "$top" install PREFIX="$tmp/prefix" >/dev/null
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
cat > "$tmp/prog.c" <<'C'
#include <rnnplast.h>
#include <stdio.h>
int main(void)
{
    rp_net_config cfg = rp_net_config_default();
    rp_net *net = NULL;
    rp_status st = rp_net_create(&net, &cfg, NULL, 0);
    if (st == RP_OK)
        st = rp_net_step(net, (double[]){0.5}, NULL);
    printf("librnnplast %s: %s\n", rp_version_string(), rp_status_string(st));
    rp_net_free(net);
    return st == RP_OK && rp_version_number() == RP_VERSION_NUMBER ? 0 : 1;
}
C
cc "$tmp/prog.c" $(pkg-config --cflags --libs rnnplast) -o "$tmp/prog_shared"
cc "$tmp/prog.c" $(pkg-config --static --cflags --libs rnnplast) -o "$tmp/prog_static"
"$tmp/prog_shared" >/dev/null
"$tmp/prog_static" >/dev/null
bad=$(nm -D --defined-only "$tmp/prefix/lib/librnnplast.so" | awk '{print $3}' | grep -v '^rp_' || true)
[ -z "$bad" ] || { echo "install_smoke: non-rp_ exported symbols: $bad" >&2; exit 1; }
make -s -C "$top" uninstall PREFIX="$tmp/prefix" >/dev/null
left=$(find "$tmp/prefix" -type f | wc -l)
[ "$left" -eq 0 ] || { echo "install_smoke: uninstall left $left files" >&2; exit 1; }
echo "install: ok (shared and static link via pkg-config, only rp_ symbols exported)"
