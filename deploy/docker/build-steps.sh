#!/usr/bin/env bash
# Every install step of deploy/docker/Dockerfile and Dockerfile.cuda, as one script: the
# Dockerfiles COPY it and RUN one stage of it, so the image build and a manual build on a
# host run the same commands.
#
#   build-steps.sh builder-cpu  SRC VENV EXTRAS            # venv + voxserve[EXTRAS] into VENV
#   build-steps.sh builder-cuda SRC VENV EXTRAS TORCH_INDEX_URL TORCH_VERSION NVML_VERSION
#   build-steps.sh os-python-cuda                           # apt: python3.11 on the CUDA base
#   build-steps.sh runtime-user DATA_DIR                    # the non-root user (uid 10001)
#
# On a host (no Docker), e.g.:  deploy/docker/build-steps.sh builder-cpu . /opt/voxserve s3
set -euo pipefail

PIP_VERSION="${PIP_VERSION:-25.2}"
export PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

make_venv() {  # make_venv VENV PYTHON
    "$2" -m venv "$1"
    "$1/bin/pip" install --no-cache-dir "pip==${PIP_VERSION}"
}

install_voxserve() {  # SRC VENV EXTRAS: build a wheel (not editable), install it + extras
    local src="$1" venv="$2" extras="$3" wheel
    "$venv/bin/pip" wheel --no-cache-dir --no-deps --wheel-dir /tmp/voxserve-wheel "$src"
    wheel="$(ls /tmp/voxserve-wheel/voxserve-*.whl)"
    if [[ -n "$extras" ]]; then
        "$venv/bin/pip" install --no-cache-dir "voxserve[${extras}] @ file://${wheel}"
    else
        "$venv/bin/pip" install --no-cache-dir "$wheel"
    fi
    rm -rf /tmp/voxserve-wheel
    "$venv/bin/voxserve" --help >/dev/null  # the entry point imports
}

builder_cpu() {  # SRC VENV EXTRAS
    make_venv "$2" "${PYTHON:-python3}"
    install_voxserve "$1" "$2" "$3"
}

builder_cuda() {  # SRC VENV EXTRAS TORCH_INDEX_URL TORCH_VERSION NVML_VERSION
    local src="$1" venv="$2" extras="$3" index="$4" torch_version="$5" nvml_version="$6"
    make_venv "$venv" "${PYTHON:-python3.11}"
    # The CUDA build of torch first, from PyTorch's index; the maya1 extra's torch pin is
    # then already satisfied, so pip keeps this build.
    "$venv/bin/pip" install --no-cache-dir --index-url "$index" "torch==${torch_version}"
    # GPU metrics (voxserve.gpu_metrics) need pynvml, which no extra installs.
    "$venv/bin/pip" install --no-cache-dir "nvidia-ml-py==${nvml_version}"
    install_voxserve "$src" "$venv" "$extras"
}

os_python_cuda() {  # Ubuntu 22.04 (the nvidia/cuda base): Python 3.11 from the distribution
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3.11 python3.11-venv ca-certificates
    rm -rf /var/lib/apt/lists/*
}

runtime_user() {  # DATA_DIR
    local data_dir="$1"
    groupadd --system --gid 10001 voxserve
    useradd --system --uid 10001 --gid voxserve --home-dir "$data_dir" \
        --shell /usr/sbin/nologin voxserve
    mkdir -p "$data_dir"
    chown voxserve:voxserve "$data_dir"
}

main() {
    local step="${1:?usage: build-steps.sh STEP ARGS…}"
    shift
    case "$step" in
        builder-cpu) builder_cpu "$@" ;;
        builder-cuda) builder_cuda "$@" ;;
        os-python-cuda) os_python_cuda ;;
        runtime-user) runtime_user "$@" ;;
        *) echo "build-steps.sh: unknown step: $step" >&2; exit 2 ;;
    esac
}

main "$@"
