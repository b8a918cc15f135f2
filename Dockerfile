# syntax=docker/dockerfile:1
#
# Three stages:
#   builder       the fully static binary (x86_64-unknown-linux-musl), as scripts/build-static
#                 builds it;
#   shortcut-env  FROM scratch, only the binary at /usr/local/bin/shortcut-env: the image to
#                 `COPY --from=` into any other image (docker build --target shortcut-env);
#   example       (the default) a FastAPI app served by uvicorn behind shortcut-env, as a model
#                 for application images.
# No secret is baked in: the secret is fetched when the container starts (APP_ENV, AWS_REGION,
# SECRET_NAME come from the task definition or compose), and .dockerignore keeps .env out of the
# build context.

ARG RUST_VERSION=1.95
ARG PYTHON_VERSION=3.12

FROM rust:${RUST_VERSION}-slim-bookworm AS builder
# ring (the TLS crypto) has C and assembly parts and needs musl-gcc to target musl.
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools=1.2.3-1 \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN CC_x86_64_unknown_linux_musl=musl-gcc \
    cargo build --locked --profile release-static --target x86_64-unknown-linux-musl \
        --bin shortcut-env \
    && install -D -m 0755 target/x86_64-unknown-linux-musl/release-static/shortcut-env \
        /out/usr/local/bin/shortcut-env

FROM scratch AS shortcut-env
COPY --from=builder /out/usr/local/bin/shortcut-env /usr/local/bin/shortcut-env
# Runnable on its own for a quick check: docker run --rm -e APP_ENV=local IMAGE --help
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
