#!/bin/sh
# Build the stack's images with Debian's podman, from Debian's own packages (no registry image):
#   localhost/forewarn:<version> and :latest   the service (deploy/Containerfile)
#   localhost/forewarn-mosquitto:latest        the MQTT broker (deploy/Containerfile.mosquitto)
#   localhost/forewarn-prometheus:latest       Prometheus (deploy/Containerfile.prometheus)
#   localhost/forewarn-postgres:latest         PostgreSQL 15, the server store (deploy/Containerfile.postgres)
# Each rests on a root file system that mmdebstrap makes once (minbase variant of bookworm, with python3, with
# python3-venv and binutils for the build stage, with mosquitto, prometheus or postgresql-15), imported as
# localhost/forewarn-base-<name>:bookworm and kept (`podman rmi` one to have it made again).
# The Python packages come from a wheelhouse that pip fills here (build/deploy/wheelhouse, from pip's cache or
# the configured index), so the image build itself needs no network.
# Usage: deploy/build-image.sh [python]   (python: a Python 3.11 with pip, default .venv/bin/python)
set -eu
started="$(date +%s)"

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
python="${1:-$root/.venv/bin/python}"
out="$root/build/deploy"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$root/deploy/containers.conf}"
suite="${DEBIAN_SUITE:-bookworm}"
mkdir -p "$out"

"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' 2>/dev/null || {
    echo "build-image.sh: $python is not Python 3.11; the wheelhouse must match Debian $suite's python3 (3.11)" >&2
    exit 2
}

base() {  # base <name> <Debian packages> [customize hook] [paths dpkg leaves out]: a root file system image made
    # by mmdebstrap, once
    image="localhost/forewarn-base-$1:$suite"
    if ! podman image exists "$image"; then
        echo "mmdebstrap: $suite minbase with $2"
        excludes=""
        set -f  # the patterns are dpkg's, for the new root: no globbing against this host's files
        for path in ${4:-}; do excludes="$excludes --dpkgopt=path-exclude=$path"; done
        # merged-usr hook: /usr merged by mmdebstrap itself, so the usrmerge package (and perl, ~47 MB) stays out
        # shellcheck disable=SC2086
        mmdebstrap --quiet --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr --include="$2" \
            --customize-hook="${3:-true}" \
            --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
            --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' $excludes \
            "$suite" "$out/base-$1.tar"
        set +f
        podman import --quiet "$out/base-$1.tar" "$image" >/dev/null
        rm -f "$out/base-$1.tar"
    fi
}
# the runtime; libgomp1: LightGBM's OpenMP runtime. Debian's byte-compiled standard library (14 MB) is left out,
# like the virtual environment's: the image holds no .pyc (Python compiles in memory at start; it starts in ~15 s)
base python python3,libgomp1 'find "$1"/usr/lib/python3* -depth -name __pycache__ -exec rm -rf {} +'
base builder python3,python3-venv,libgomp1,binutils  # where the virtual environment is made (binutils: strip)
base mosquitto mosquitto
base prometheus prometheus
# PostgreSQL without the cluster its package makes (the entrypoint makes one on the volume) and without LLVM's JIT
# (libLLVM, libz3 and the bitcode, ~155 MB; the server runs with jit=off and never loads llvmjit.so)
base postgres postgresql-15 'rm -rf "$1"/etc/postgresql/15/main "$1"/var/lib/postgresql/15/main' \
    "/usr/lib/x86_64-linux-gnu/libLLVM-* /usr/lib/x86_64-linux-gnu/libz3.so.* /usr/lib/postgresql/15/lib/bitcode/* \
/usr/lib/postgresql/15/lib/llvmjit*"

version="$("$python" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
context="$out/context"
rm -rf "$context" "$out/wheelhouse" && mkdir -p "$context/wheelhouse" "$context/forewarn" "$out/wheelhouse"
echo "wheelhouse: forewarn $version with serve, stream, postgres"
"$python" -m pip wheel --quiet --disable-pip-version-check -w "$out/wheelhouse" -c constraints.txt \
    ".[serve,stream,postgres]"
# the dependencies and Forewarn's own wheel apart: the image's layer of dependencies is reused while they stay
mv "$out"/wheelhouse/forewarn-*.whl "$context/forewarn/"
cp -al "$out"/wheelhouse/*.whl "$context/wheelhouse/"
cp deploy/entrypoint.sh deploy/healthcheck.py deploy/launch.py deploy/stream.toml deploy/mosquitto.conf \
    deploy/mosquitto-entrypoint.sh deploy/prometheus.yml deploy/prometheus-entrypoint.sh \
    deploy/postgres-entrypoint.sh "$context/"

build() {  # build <Containerfile> <tags...>
    file="$1"; shift
    tags=""
    for t in "$@"; do tags="$tags -t $t"; done
    # --format docker keeps HEALTHCHECK (the OCI image format has no field for it)
    # shellcheck disable=SC2086
    podman build --quiet --format docker --network none $tags -f "deploy/$file" \
        --build-arg "SUITE=$suite" "$context" >/dev/null
}
build Containerfile "localhost/forewarn:$version" localhost/forewarn:latest
build Containerfile.mosquitto localhost/forewarn-mosquitto:latest
build Containerfile.prometheus localhost/forewarn-prometheus:latest
build Containerfile.postgres localhost/forewarn-postgres:latest
rm -rf "$context"
podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^localhost/forewarn(-mosquitto|-prometheus|-postgres)?:' || true
echo "deploy/build-image.sh: done in $(($(date +%s) - started)) s"
