#!/usr/bin/env bash
# Builds the real-engine toolchain from Go modules only (the Go module proxy, every module
# verified by the Go checksum database) into a cache outside the work tree:
#
#   $MESHLINK_TOOLCHAIN_CACHE/<piece>-<version>/   (default ~/.cache/meshlink/toolchain)
#
# Each piece is keyed by its own pinned version (toolchain/versions.env), so a fresh clone
# reuses what is built and a version bump rebuilds only that piece. A piece is complete only
# once its directory holds a `.complete` stamp; a half-finished build is thrown away.
#
#   scripts/toolchain.sh            build what is missing, print nothing else when all is cached
#   scripts/toolchain.sh env        print the shell variables that point the tests at the cache
#
# Nothing is downloaded from anywhere but the module proxy: no release binary, no plugin.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../toolchain/versions.env
source "$here/toolchain/versions.env"

cache=${MESHLINK_TOOLCHAIN_CACHE:-$HOME/.cache/meshlink/toolchain}
# One module cache and one build cache shared by every piece: most of their dependencies
# (gRPC, protobuf, client-go, ...) overlap. -modcacherw keeps the module cache removable.
export GOMODCACHE=${MESHLINK_GOMODCACHE:-$HOME/.cache/meshlink/go/mod}
export GOCACHE=${MESHLINK_GOCACHE:-$HOME/.cache/meshlink/go/build}
export GOFLAGS="-modcacherw -buildvcs=false -trimpath"
export GOTOOLCHAIN=local
export CGO_ENABLED=0
unset GOSUMDB GONOSUMDB GONOSUMCHECK GOPRIVATE GOINSECURE

pulumi_dir=$cache/pulumi-$PULUMI_VERSION
kubernetes_provider_dir=$cache/pulumi-resource-kubernetes-$KUBERNETES_PROVIDER_VERSION
pulumi_yaml_dir=$cache/pulumi-language-yaml-$PULUMI_YAML_VERSION
kubernetes_dir=$cache/kubernetes-$KUBERNETES_VERSION
etcd_dir=$cache/etcd-$ETCD_VERSION
istio_crds_dir=$cache/istio-crds-$(echo "$ISTIO_API_VERSIONS" | tr ' ' '_')

if [ "${1:-}" = env ]; then
    cat <<EOF
MESHLINK_PULUMI_BIN=$pulumi_dir/bin
MESHLINK_KUBERNETES_PROVIDER_BIN=$kubernetes_provider_dir/bin
MESHLINK_PULUMI_YAML_BIN=$pulumi_yaml_dir/bin
MESHLINK_KUBERNETES_BIN=$kubernetes_dir/bin
MESHLINK_ETCD_BIN=$etcd_dir/bin
MESHLINK_ISTIO_CRDS=$istio_crds_dir
MESHLINK_ISTIO_CRD_SETS="$ISTIO_API_VERSIONS"
EOF
    exit 0
fi

log() { printf '[toolchain %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
    echo "scripts/toolchain.sh: Go is not installed; it fetches and builds everything from Go" \
        "modules (Go 1.26 or newer, https://go.dev/doc/install)" >&2
    exit 2
fi

# Runs "build_<piece> <dir>" into a scratch directory and moves it into place only when it
# succeeded, so an interrupted build never leaves a directory that looks complete.
build_piece() {
    local name=$1 dir=$2
    if [ -f "$dir/.complete" ]; then
        return 0
    fi
    local scratch=$dir.partial
    rm -rf "$scratch" "$dir"
    mkdir -p "$scratch/bin"
    local started=$SECONDS
    log "building $(basename "$dir")"
    "build_$name" "$scratch"
    echo "built in $((SECONDS - started)) s on $(nproc) cores, $(date -u +%FT%TZ)" >"$scratch/.complete"
    mv "$scratch" "$dir"
    log "$(basename "$dir"): $(cat "$dir/.complete")"
}

# A throwaway module that requires exactly the pinned versions. The upstream main modules
# carry `replace` directives (sdk => ../sdk and the like), which `go install pkg@version`
# refuses, so each binary is built from a wrapper instead.
wrapper() {
    local dir=$1/src
    mkdir -p "$dir"
    printf 'module meshlink.invalid/toolchain\n\ngo 1.26\n' >"$dir/go.mod"
    echo "$dir"
}

build_pulumi() {
    local out=$1 src
    src=$(wrapper "$out")
    # pkg/go.mod swaps atotto/clipboard for a fork; a wrapper must repeat that replace.
    cat >>"$src/go.mod" <<EOF

require (
	github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 $PULUMI_VERSION
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
EOF
    (cd "$src"
     go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$PULUMI_VERSION"
     go build -o "$out/bin/pulumi" \
         -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
         github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
    # Python dynamic providers (the CRD readiness gate) run through this script, which ships
    # in the sdk module; the module cache drops its exec bit.
    local sdk
    sdk=$(cd "$src" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
    install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$out/bin/"
    install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$out/bin/"
    rm -rf "$src"
}

build_pulumi_yaml() {
    local out=$1 src
    src=$(wrapper "$out")
    # The module's own go.mod (no replace directives) decides the pulumi pkg/sdk versions.
    (cd "$src"
     go get "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml@$PULUMI_YAML_VERSION"
     go build -o "$out/bin/pulumi-language-yaml" \
         -ldflags "-s -w -X github.com/pulumi/pulumi-yaml/pkg/version.Version=$PULUMI_YAML_VERSION" \
         github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml)
    rm -rf "$src"
}

build_kubernetes_provider() {
    local out=$1 mod src
    mod=github.com/pulumi/pulumi-kubernetes/provider/v4
    go mod download "$mod@$KUBERNETES_PROVIDER_MODULE_VERSION"
    # The provider go:embeds schema-embed.json and terraform-mapping-embed.json, which are
    # generated (and git-ignored upstream), so not in the module zip: generate them in a
    # writable copy. Its `replace sdk/v4 => ../sdk` points outside the zip; the sdk/v4
    # module of the same release is required instead.
    src=$out/src
    cp -r "$(go list -m -f '{{.Dir}}' "$mod@$KUBERNETES_PROVIDER_MODULE_VERSION")" "$src"
    chmod -R u+w "$src"
    (cd "$src"
     go mod edit -dropreplace github.com/pulumi/pulumi-kubernetes/sdk/v4
     go mod edit -require "github.com/pulumi/pulumi-kubernetes/sdk/v4@v$KUBERNETES_PROVIDER_VERSION"
     go mod tidy
     version_flag="-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$KUBERNETES_PROVIDER_VERSION"
     (cd cmd/pulumi-resource-kubernetes && VERSION=$KUBERNETES_PROVIDER_VERSION go run generate.go)
     go build -o "$out/bin/pulumi-resource-kubernetes" -ldflags "-s -w $version_flag" \
         ./cmd/pulumi-resource-kubernetes)
    rm -rf "$src"
}

build_kubernetes() {
    local out=$1 src minor patch semver
    src=$(wrapper "$out")
    semver=${KUBERNETES_VERSION#v}
    minor=$(echo "$semver" | cut -d. -f2)
    patch=$(echo "$semver" | cut -d. -f3)
    # k8s.io/kubernetes requires its staging modules at v0.0.0 with replaces into ./staging;
    # map each one to its published v0.<minor>.<patch> release instead.
    local gomod
    gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
    {
        echo
        grep -E '^godebug ' "$gomod" || true
        echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
        grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$gomod" | awk '{print $1}' | sort -u |
            while read -r staging; do
                echo "replace $staging => $staging v0.$minor.$patch"
            done
    } >>"$src/go.mod"
    local pkg=k8s.io/component-base/version
    local ldflags="-s -w -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags="$ldflags -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    (cd "$src"
     go get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES_VERSION" \
         "k8s.io/kubernetes/cmd/kube-controller-manager@$KUBERNETES_VERSION"
     go build -o "$out/bin/" -ldflags "$ldflags" \
         k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager)
    rm -rf "$src"
}

build_etcd() {
    local out=$1 src
    src=$(wrapper "$out")
    # server/go.mod replaces its sibling modules with ../ paths; require their releases.
    cat >>"$src/go.mod" <<EOF

require (
	go.etcd.io/etcd/server/v3 $ETCD_VERSION
	go.etcd.io/etcd/api/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/v3 $ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
)
EOF
    (cd "$src"
     go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
     go build -o "$out/bin/etcd" -ldflags "-s -w" go.etcd.io/etcd/server/v3)
    rm -rf "$src"
}

build_istio_crds() {
    local out=$1 version dir
    for version in $ISTIO_API_VERSIONS; do
        dir=$(go mod download -json "istio.io/api@v$version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
        install -m 0644 "$dir/kubernetes/customresourcedefinitions.gen.yaml" "$out/istio-$version.yaml"
    done
    rmdir "$out/bin"
}

pieces=${MESHLINK_TOOLCHAIN_PIECES:-"istio_crds pulumi pulumi_yaml kubernetes_provider etcd kubernetes"}
for piece in $pieces; do
    case $piece in
        istio_crds) build_piece istio_crds "$istio_crds_dir" ;;
        pulumi) build_piece pulumi "$pulumi_dir" ;;
        pulumi_yaml) build_piece pulumi_yaml "$pulumi_yaml_dir" ;;
        kubernetes_provider) build_piece kubernetes_provider "$kubernetes_provider_dir" ;;
        etcd) build_piece etcd "$etcd_dir" ;;
        kubernetes) build_piece kubernetes "$kubernetes_dir" ;;
        *) echo "unknown toolchain piece: $piece" >&2; exit 2 ;;
    esac
done
