"""A tiny FastAPI app that shows what shortcut-env handed it, without showing any value.

Run it behind shortcut-env (the image's ENTRYPOINT does that):

    shortcut-env -- uvicorn main:app --host 0.0.0.0 --port 8000

GET /health answers 200 when every expected key is set and GOOGLE_APPLICATION_CREDENTIALS
points at a readable file, 503 otherwise; the body names keys, never their values.
"""

import os

from fastapi import FastAPI
from fastapi.responses import JSONResponse

# The keys of the application's secret (short-cut/prod/app, .env.example). EXPECTED_KEYS, a
# comma-separated list, replaces them.
DEFAULT_EXPECTED_KEYS = (
    "OPENAI_API_KEY",
    "PINECONE_API_KEY",
    "GCP_PROJECT_ID",
    "GOOGLE_APPLICATION_CREDENTIALS_JSON",
    "APP_SECRET_KEY",
    "MILVUS_HOST",
    "MILVUS_PORT",
)

app = FastAPI(title="shortcut-env example")


def expected_keys() -> list[str]:
    configured = os.environ.get("EXPECTED_KEYS", "")
    names = [name.strip() for name in configured.split(",") if name.strip()]
    return names or list(DEFAULT_EXPECTED_KEYS)


def gcp_credentials() -> dict:
    path = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    readable = False
    if path:
        try:
            with open(path, "rb") as handle:
                handle.read(1)
            readable = True
        except OSError:
            readable = False
    return {"path": path, "readable": readable}


@app.get("/health")
def health() -> JSONResponse:
    keys = expected_keys()
    present = [name for name in keys if os.environ.get(name)]
    missing = [name for name in keys if not os.environ.get(name)]
    gcp = gcp_credentials()
    ok = not missing and gcp["readable"]
    body = {
        "status": "ok" if ok else "degraded",
        "app_env": os.environ.get("APP_ENV"),
        "keys": {"present": present, "missing": missing},
        "google_application_credentials": gcp,
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@app.get("/")
def root() -> dict:
    return {"service": "shortcut-env example", "health": "/health"}
