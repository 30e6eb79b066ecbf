#!/usr/bin/env bash
# Installs the pinned tools the Helm chart tests use, cached outside the repo, and prints where they are.
#
#   bash scripts/helm-tools.sh          install what is missing, then print KEY=value lines on stdout:
#                                       HELM, KUBECONFORM, KUBE_VALIDATE, PYTHON, KUBE_SCHEMAS
#   bash scripts/helm-tools.sh env      same (alias)
#
# helm and kubeconform are built from source with `go install` (the Go module proxy is reachable, GitHub release
# downloads are not); kubernetes-validate (strict Kubernetes JSON schemas, bundled in its wheel) and PyYAML come
# from PyPI into a venv. Everything lives in versioned directories under
# ${ZP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zoom-pipeline}/helm-tools, so a second run does nothing and a
# changed pin installs next to the old one. Progress goes to stderr; stdout carries only the KEY=value lines.
# The Go module and build caches are deleted after a successful build (ZP_KEEP_GO_CACHE=1 keeps them).
set -euo pipefail

HELM_VERSION=v3.22.0              # go.mod: go 1.26.0, k8s.io/client-go v0.37.0
HELM_K8S_MINOR=37                 # what helm's Makefile derives from client-go: default capabilities v1.37
KUBECONFORM_VERSION=v0.8.0        # go.mod: go 1.26
KUBERNETES_VALIDATE_VERSION=1.37.0
KUBE_SCHEMA_VERSION=v1.33.0       # the --kube-version the chart is rendered and validated against
# Python packages, every one pinned (kubernetes-validate's dependency tree included) so CI gets what we tested.
PY_REQUIREMENTS=(
  "kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}"
  "PyYAML==6.0.3"
  "jsonschema==4.26.0"
  "jsonschema-specifications==2025.9.1"
  "referencing==0.37.0"
  "rpds-py==2026.9.1"
  "attrs==26.1.0"
  "importlib_resources==7.1.0"
  "packaging==26.3"
  "typing_extensions==4.16.0"
)

CACHE="${ZP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zoom-pipeline}"
TOOLS="$CACHE/helm-tools"
GO_ENV=(GOMODCACHE="$TOOLS/gomod" GOCACHE="$TOOLS/gobuild" GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0)

log() { printf 'helm-tools: %s\n' "$*" >&2; }
die() { printf 'helm-tools: ERROR: %s\n' "$*" >&2; exit 1; }

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; }

case "${1:-env}" in
  env | install) ;;
  -h | --help | help) usage; exit 0 ;;
  *) usage; die "unknown command: $1" ;;
esac

mkdir -p "$TOOLS"
# One installer at a time (parallel test workers, two shells): the second waits and then finds everything done.
exec 9>"$TOOLS/.lock"
if command -v flock >/dev/null 2>&1; then
  flock -w 1800 9 || die "timed out waiting for another helm-tools.sh run (lock $TOOLS/.lock)"
fi

# go_tool NAME MODULE VERSION [LDFLAGS] → installs into $TOOLS/NAME-VERSION/bin/NAME unless already there.
go_tool() {
  local name="$1" module="$2" version="$3" ldflags="-s -w ${4:-}"
  local dir="$TOOLS/$name-$version" bin="$TOOLS/$name-$version/bin/$name"
  if [[ -x "$bin" ]]; then
    printf '%s' "$bin"
    return
  fi
  command -v go >/dev/null 2>&1 || die "go is not on PATH: $name $version is built with 'go install' (Go >= 1.26 needed)"
  local staging="$dir.partial.$$"
  rm -rf "$dir".partial.* # left by an interrupted run (we hold the lock)
  mkdir -p "$staging"
  log "building $name $version with $(go env GOVERSION) (go install $module@$version; a cold build takes minutes)"
  local started=$SECONDS
  if ! env "${GO_ENV[@]}" GOBIN="$staging" go install -trimpath -ldflags "$ldflags" "$module@$version" >"$staging.log" 2>&1; then
    tail -n 25 "$staging.log" >&2 || true
    rm -rf "$staging"
    die "could not install $name $version from the Go module proxy ($(go env GOPROXY)). Above: the last lines of 'go install $module@$version'. Check that the proxy is reachable and that $(go env GOVERSION) satisfies the module's go directive (GOTOOLCHAIN=local: no toolchain download)."
  fi
  rm -f "$staging.log"
  mkdir -p "$dir"
  rm -rf "${dir:?}/bin"
  mv "$staging" "$dir/bin"
  log "built $name $version in $((SECONDS - started))s"
  printf '%s' "$bin"
}

# The same -X flags as helm's Makefile, so `helm version` and the default capabilities match a release binary
# (the tests pass --kube-version anyway).
HELM_LDFLAGS="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in pkg/lint/rules pkg/chartutil; do
  HELM_LDFLAGS+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$HELM_K8S_MINOR"
done
HELM_BIN="$(go_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" "$HELM_LDFLAGS")"
[[ "$("$HELM_BIN" version --template '{{.Version}}' 2>/dev/null)" == "$HELM_VERSION" ]] ||
  die "$HELM_BIN does not run or is not $HELM_VERSION; delete $TOOLS/helm-$HELM_VERSION and retry"

KUBECONFORM_BIN="$(go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION")"
"$KUBECONFORM_BIN" -v >/dev/null 2>&1 || die "$KUBECONFORM_BIN does not run; delete $TOOLS/kubeconform-$KUBECONFORM_VERSION and retry"

# The Go module and build caches (~1.2 GB) are only needed to build again: drop them once both binaries exist,
# unless ZP_KEEP_GO_CACHE=1.
if [[ "${ZP_KEEP_GO_CACHE:-0}" != 1 ]] && [[ -d "$TOOLS/gomod" || -d "$TOOLS/gobuild" ]]; then
  chmod -R u+w "$TOOLS/gomod" 2>/dev/null || true # the module cache is read-only
  rm -rf "$TOOLS/gomod" "$TOOLS/gobuild" || log "could not remove the Go caches under $TOOLS (harmless)"
fi

# Python venv with kubernetes-validate (its wheel carries the strict schemas kubeconform reads too) and PyYAML.
VENV="$TOOLS/py-kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"
if [[ ! -f "$VENV/.complete" ]]; then
  PY="${PYTHON:-$(command -v python3 || true)}"
  [[ -n "$PY" ]] || die "python3 is not on PATH (needed for kubernetes-validate and PyYAML)"
  log "creating venv $VENV with kubernetes-validate $KUBERNETES_VALIDATE_VERSION (PyPI)"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV" || die "'$PY -m venv' failed (on Debian: apt-get install -y python3-venv)"
  if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${PY_REQUIREMENTS[@]}" >&2; then
    rm -rf "$VENV"
    die "pip could not install ${PY_REQUIREMENTS[*]} from PyPI; check that PyPI (or PIP_INDEX_URL) is reachable"
  fi
  touch "$VENV/.complete"
fi

SCHEMAS="$("$VENV/bin/python" - "$KUBE_SCHEMA_VERSION" <<'EOF'
import os, sys, kubernetes_validate
root = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema", sys.argv[1] + "-local-strict")
print(root if os.path.isdir(root) else "")
EOF
)"
[[ -n "$SCHEMAS" ]] || die "kubernetes-validate $KUBERNETES_VALIDATE_VERSION has no strict schemas for Kubernetes $KUBE_SCHEMA_VERSION"

printf 'HELM=%s\n' "$HELM_BIN"
printf 'KUBECONFORM=%s\n' "$KUBECONFORM_BIN"
printf 'KUBE_VALIDATE=%s\n' "$VENV/bin/kubernetes-validate"
printf 'PYTHON=%s\n' "$VENV/bin/python"
printf 'KUBE_SCHEMAS=%s\n' "$SCHEMAS"
