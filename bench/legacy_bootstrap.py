"""What each service's boot-time ``bootstrap_secrets()`` did before shortcut-env, as a command.

    python3 bench/legacy_bootstrap.py COMMAND [ARGS...]

boto3 client → GetSecretValue → json → ``os.environ`` → GOOGLE_APPLICATION_CREDENTIALS_JSON
written to a temporary file → exec COMMAND. This is the legacy approach reproduced for the
benchmark (the operations guide, step 4), not code the project ships.
"""

import json
import os
import sys
import tempfile

import boto3


def bootstrap_secrets() -> int:
    app_env = os.environ.get("APP_ENV", "local")
    if app_env == "local":
        return 0
    region = os.environ["AWS_REGION"]
    secret_name = os.environ.get("SECRET_NAME", "short-cut/prod/app")
    client = boto3.client("secretsmanager", region_name=region)
    response = client.get_secret_value(SecretId=secret_name)
    secrets = json.loads(response["SecretString"])
    for key, value in secrets.items():
        os.environ[key] = value if isinstance(value, str) else json.dumps(value)
    gcp_json = secrets.get("GOOGLE_APPLICATION_CREDENTIALS_JSON")
    if gcp_json:
        handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        with handle:
            handle.write(gcp_json)
        os.chmod(handle.name, 0o600)
        os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = handle.name
    return len(secrets)


def main() -> None:
    bootstrap_secrets()
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
