# syntax=docker/dockerfile:1
#
# Four stages:
#   builder       the fully static binary for TARGETARCH (amd64: x86_64-unknown-linux-musl, as
#                 scripts/build-static builds it; arm64: aarch64-unknown-linux-musl), compiled
#                 on the build machine's own platform: cross-compiling, never emulating;
#   shortcut-env  FROM scratch, only the binary at /usr/local/bin/shortcut-env: the image to
#                 `COPY --from=` into any other image (docker build --target shortcut-env);
#                 multi-platform: docker buildx build --platform linux/amd64,linux/arm64;
#   shortcut-env-prebuilt
#                 the same image from a binary already built, dist/shortcut-env-TARGETARCH in
#                 the build context: the release workflow puts the released (and summed)
#                 binaries in the image this way, and scripts/check-runtime, which has no
#                 registry to pull the builder's base from, builds and runs it;
#   example       (the default) a FastAPI app served by uvicorn behind shortcut-env, as a model
#                 for application images.
# No secret is baked in: the secret is fetched when the container starts (APP_ENV, AWS_REGION,
# SECRET_NAME come from the task definition or compose), and .dockerignore keeps .env out of the
# build context.

ARG RUST_VERSION=1.95
ARG PYTHON_VERSION=3.12
# The builder's base: a build argument so that a machine without a registry can substitute an
# image of its own (with Rust, Debian's apt and python3).
ARG BUILDER_IMAGE=rust:${RUST_VERSION}-slim-bookworm

FROM --platform=$BUILDPLATFORM ${BUILDER_IMAGE} AS builder
ARG TARGETARCH
# ring (the TLS crypto) has C and assembly parts, so each target needs a C compiler for musl:
# musl-gcc for x86_64; for aarch64, zig's (through cargo-zigbuild, both from PyPI), which
# cross-compiles C for any target without a Debian cross toolchain or qemu.
# lld: .cargo/config.toml links the x86_64 binary with it; `--no-default-features` leaves out
# SSO profiles (laptops only): both keep it under its 4.5 MiB budget (docs/performance.md).
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools=1.2.3-1 lld=1:14.0-55.7~deb12u1 python3-pip=23.0.1+dfsg-1 \
    && rm -rf /var/lib/apt/lists/* \
    && pip3 install --no-cache-dir --break-system-packages ziglang==0.15.2 cargo-zigbuild==0.24.1 \
    && rustup target add x86_64-unknown-linux-musl aarch64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN case "$TARGETARCH" in \
        amd64) target=x86_64-unknown-linux-musl; build="build" ;; \
        arm64) target=aarch64-unknown-linux-musl; build="zigbuild" ;; \
        *) echo "unsupported TARGETARCH=$TARGETARCH (amd64 or arm64)" >&2; exit 1 ;; \
    esac \
    && CC_x86_64_unknown_linux_musl=musl-gcc \
        cargo "$build" --locked --profile release-static --target "$target" --no-default-features --bin shortcut-env \
    && install -D -m 0755 "target/$target/release-static/shortcut-env" \
        /out/usr/local/bin/shortcut-env

FROM scratch AS shortcut-env
COPY --from=builder /out/usr/local/bin/shortcut-env /usr/local/bin/shortcut-env
# Runnable on its own for a quick check: docker run --rm -e APP_ENV=local IMAGE --help
ENTRYPOINT ["/usr/local/bin/shortcut-env"]

FROM scratch AS shortcut-env-prebuilt
ARG TARGETARCH
COPY --chmod=0755 dist/shortcut-env-${TARGETARCH} /usr/local/bin/shortcut-env
ENTRYPOINT ["/usr/local/bin/shortcut-env"]

FROM python:${PYTHON_VERSION}-slim AS example
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY example/requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY --from=shortcut-env /usr/local/bin/shortcut-env /usr/local/bin/shortcut-env
COPY example/main.py ./
# A user without a login shell or home, and its private directory for the GCP key file (0700).
# With readonlyRootFilesystem, mount a volume there: a volume mounted on a directory of the
# image gets its owner and mode (infra/ecs/task-definition.json mounts one at this path).
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin app \
    && install -d -o app -g app -m 0700 /run/shortcut-env
ENV SHORTCUT_ENV_CREDENTIALS_DIR=/run/shortcut-env
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
ENTRYPOINT ["/usr/local/bin/shortcut-env", "--"]
CMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8000"]
