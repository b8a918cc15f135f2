"""Seeds the Secrets Manager emulator of `docker compose --profile aws` with the example secret.

Runs in the moto image (which ships boto3). Creates the secret, or adds a new current version
when it already exists, so that `docker compose --profile aws up` can be re-run. Prints the
secret's name and version id, never its value.
"""

import os
import sys

import boto3

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "http://secretsmanager:5000")
NAME = os.environ.get("SECRET_NAME", "short-cut/staging/app")
SOURCE = os.environ.get("SECRET_FILE", "/seed/secret.json")


def main() -> int:
    with open(SOURCE, encoding="utf-8") as handle:
        value = handle.read()
    client = boto3.client(
        "secretsmanager",
        endpoint_url=ENDPOINT,
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
    )
    try:
        answer = client.create_secret(Name=NAME, SecretString=value)
    except client.exceptions.ResourceExistsException:
        answer = client.put_secret_value(SecretId=NAME, SecretString=value)
    print(f"seeded {answer['Name']} (version {answer['VersionId']})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
