"""What can be checked of the container files without a Docker engine.

- Dockerfile: the four stages (the builder cross-compiling for TARGETARCH), the exec-form ENTRYPOINT/CMD of the example image, a non-root
  user, no secret baked in (.dockerignore keeps .env out, no ENV/ARG carries a secret's key),
  the builder building what scripts/build-static builds.
- docker-compose.yml: the local default and the `aws` profile (the schema itself is checked by
  check-jsonschema in scripts/check-container).
- .env.example mirrors the guide's secret; .env is git-ignored.
- The example app, run for real behind the static shortcut-env (SHORTCUT_ENV_STATIC_BIN), in
  local mode with .env.example: /health names the keys, never a value.

Run by scripts/check-container: python -m unittest discover -s tests/container
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

from dockerfile_parse import DockerfileParser
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
SECRET_EXAMPLE = ROOT / "infra/iam/secret-structure-example.json"


def dotenv_keys(path: Path) -> list[str]:
    keys = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key = line.removeprefix("export ").split("=", 1)[0].strip()
        keys.append(key)
    return keys


def dotenv_values(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


class Dockerfile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
        cls.instructions = parser.structure
        cls.stages = []  # (name, base, [instructions])
        for item in cls.instructions:
            if item["instruction"] == "FROM":
                words = [w for w in item["value"].split() if not w.startswith("--platform=")]
                name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
                cls.stages.append((name, words[0], []))
            elif cls.stages:
                cls.stages[-1][2].append(item)

    def stage(self, name):
        for stage_name, base, body in self.stages:
            if stage_name == name:
                return base, body
        self.fail(f"no stage {name}")

    def values(self, body, instruction):
        return [i["value"] for i in body if i["instruction"] == instruction]

    def test_four_stages_with_the_example_app_last(self):
        self.assertEqual(
            [s[0] for s in self.stages],
            ["builder", "shortcut-env", "shortcut-env-prebuilt", "example"],
        )

    def test_the_prebuilt_stage_is_the_binary_stage_from_a_binary_in_the_context(self):
        base, body = self.stage("shortcut-env-prebuilt")
        self.assertEqual(base, "scratch")
        self.assertEqual(
            self.values(body, "COPY"),
            ["--chmod=0755 dist/shortcut-env-${TARGETARCH} /usr/local/bin/shortcut-env"],
        )
        self.assertEqual(self.values(body, "RUN"), [])
        _, binary = self.stage("shortcut-env")
        self.assertEqual(self.values(body, "ENTRYPOINT"), self.values(binary, "ENTRYPOINT"))

    def test_the_builder_cross_compiles_on_the_build_platform(self):
        from_line = next(i["value"] for i in self.instructions if i["instruction"] == "FROM")
        self.assertIn("--platform=$BUILDPLATFORM", from_line)
        _, body = self.stage("builder")
        self.assertIn("TARGETARCH", self.values(body, "ARG"))
        run = " ".join(self.values(body, "RUN"))
        self.assertIn("amd64) target=x86_64-unknown-linux-musl", run)
        self.assertIn("arm64) target=aarch64-unknown-linux-musl", run)

    def test_the_binary_stage_holds_only_the_binary(self):
        base, body = self.stage("shortcut-env")
        self.assertEqual(base, "scratch")
        copies = self.values(body, "COPY")
        self.assertEqual(
            copies,
            ["--from=builder /out/usr/local/bin/shortcut-env /usr/local/bin/shortcut-env"],
        )
        self.assertEqual(self.values(body, "RUN"), [])

    def test_the_builder_builds_what_scripts_build_static_builds(self):
        _, body = self.stage("builder")
        run = " ".join(self.values(body, "RUN"))
        script = (ROOT / "scripts/build-static").read_text(encoding="utf-8")
        profile = re.search(r"^PROFILE=(\S+)", script, re.M).group(1)
        # TARGET=$ARCH-unknown-linux-musl, for --arch x86_64 (amd64) and aarch64 (arm64, built
        # with cargo zigbuild in both).
        target = re.search(r"^TARGET=(\S+)", script, re.M).group(1)
        self.assertIn("$ARCH", target)
        self.assertIn(f"--profile {profile}", run)
        for arch in ("x86_64", "aarch64"):
            self.assertIn(f"target={target.replace('$ARCH', arch)}", run)
        self.assertIn("build=(cargo zigbuild)", script)
        self.assertIn('build="zigbuild"', run)
        # The same zig and cargo-zigbuild as scripts/build-static --arch aarch64 installs.
        pins = (ROOT / "tests/requirements-cross.txt").read_text(encoding="utf-8").split("\n")
        for pin in [p for p in pins if p and not p.startswith("#")]:
            self.assertIn(pin, run)
        self.assertIn('--target "$target"', run)
        self.assertIn("--locked", run)
        self.assertIn("CC_x86_64_unknown_linux_musl=musl-gcc", run)
        self.assertIn(f'"target/$target/{profile}/shortcut-env"', run)

    def test_the_example_image_runs_uvicorn_behind_the_wrapper_in_exec_form(self):
        _, body = self.stage("example")
        self.assertEqual(
            json.loads(self.values(body, "ENTRYPOINT")[-1]),
            ["/usr/local/bin/shortcut-env", "--"],
        )
        self.assertEqual(
            json.loads(self.values(body, "CMD")[-1]),
            ["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8000"],
        )
        self.assertIn(
            "--from=shortcut-env /usr/local/bin/shortcut-env /usr/local/bin/shortcut-env",
            self.values(body, "COPY"),
        )

    def test_the_example_image_runs_as_a_non_root_user(self):
        _, body = self.stage("example")
        users = self.values(body, "USER")
        self.assertTrue(users, "no USER instruction")
        user = users[-1].split(":")[0]
        self.assertNotIn(user, ("root", "0"))

    def test_the_credentials_dir_is_private_to_the_user_and_matches_the_task_definition(self):
        _, body = self.stage("example")
        self.assertIn("SHORTCUT_ENV_CREDENTIALS_DIR=/run/shortcut-env", self.values(body, "ENV"))
        self.assertIn("install -d -o app -g app -m 0700 /run/shortcut-env", " ".join(self.values(body, "RUN")))
        task = json.loads((ROOT / "infra/ecs/task-definition.json").read_text(encoding="utf-8"))
        container = task["containerDefinitions"][0]
        env = {e["name"]: e["value"] for e in container["environment"]}
        self.assertEqual(env.get("SHORTCUT_ENV_CREDENTIALS_DIR"), "/run/shortcut-env")
        self.assertIn("/run/shortcut-env", [m["containerPath"] for m in container["mountPoints"]])

    def test_no_secret_is_baked_in(self):
        secret_keys = set(json.loads(SECRET_EXAMPLE.read_text(encoding="utf-8")))
        secret_like = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL)", re.I)
        for item in self.instructions:
            if item["instruction"] not in ("ENV", "ARG", "LABEL"):
                continue
            for name in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", item["value"]):
                self.assertNotIn(name, secret_keys, item["content"])
                if name.startswith("SHORTCUT_ENV_"):  # the wrapper's own settings: no secrets
                    continue
                self.assertIsNone(secret_like.search(name), item["content"])
        ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
        self.assertIn(".env", ignored, ".env must be kept out of the build context")
        self.assertIn(".venv", ignored)
        self.assertIn("target", ignored)

    def test_copied_files_exist(self):
        for item in self.instructions:
            if item["instruction"] != "COPY" or "--from=" in item["value"]:
                continue
            for source in item["value"].split()[:-1]:
                if source.startswith("--"):
                    continue
                if source.startswith("dist/"):  # put there by whoever builds that stage
                    continue
                self.assertTrue((ROOT / source).exists(), item["content"])


class Compose(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.compose = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())
        cls.services = cls.compose["services"]

    def test_the_default_is_the_example_app_in_local_mode(self):
        app = self.services["app"]
        self.assertNotIn("profiles", app)
        self.assertEqual(app["environment"]["APP_ENV"], "local")
        self.assertEqual(app["env_file"], [{"path": ".env", "required": False}])
        self.assertEqual(app["ports"], ["8000:8000"])
        self.assertIs(app["init"], True)
        self.assertEqual(app["build"]["target"], "example")
        # Only the app runs by default.
        defaults = [name for name, s in self.services.items() if "profiles" not in s]
        self.assertEqual(defaults, ["app"])

    def test_the_aws_profile_runs_the_production_path_against_the_emulator(self):
        emulator = self.services["secretsmanager"]
        self.assertEqual(emulator["profiles"], ["aws"])
        self.assertTrue(emulator["image"].startswith("motoserver/moto:"))
        seed = self.services["seed"]
        self.assertEqual(seed["profiles"], ["aws"])
        self.assertEqual(seed["depends_on"]["secretsmanager"]["condition"], "service_healthy")
        for volume in seed["volumes"]:
            self.assertTrue((ROOT / volume.split(":")[0]).exists(), volume)
        app = self.services["app-staging"]
        self.assertEqual(app["profiles"], ["aws"])
        env = app["environment"]
        self.assertEqual(env["APP_ENV"], "staging")
        self.assertEqual(env["AWS_ENDPOINT_URL"], "http://secretsmanager:5000")
        self.assertEqual(env["SECRET_NAME"], seed["environment"]["SECRET_NAME"])
        self.assertEqual(env["AWS_REGION"], seed["environment"]["AWS_REGION"])
        self.assertIs(app["init"], True)
        self.assertEqual(
            app["depends_on"]["seed"]["condition"], "service_completed_successfully"
        )

    def test_no_real_credentials(self):
        for name, service in self.services.items():
            for key, value in (service.get("environment") or {}).items():
                if key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
                    self.assertEqual(value, "testing", f"{name}: {key}")


class EnvExample(unittest.TestCase):
    def test_it_has_every_key_of_the_guides_secret(self):
        secret = json.loads(SECRET_EXAMPLE.read_text(encoding="utf-8"))
        self.assertEqual(sorted(dotenv_keys(ROOT / ".env.example")), sorted(secret))

    def test_env_is_git_ignored_and_the_example_is_not(self):
        def ignored(path):
            result = subprocess.run(
                ["git", "check-ignore", "--quiet", "--no-index", path], cwd=ROOT, check=False
            )
            return result.returncode == 0

        self.assertTrue(ignored(".env"))
        self.assertFalse(ignored(".env.example"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ExampleApp(unittest.TestCase):
    """uvicorn behind the static binary, in local mode, as `docker compose up` runs it."""

    def start(self, env_file: Path, extra_env=None):
        binary = os.environ.get("SHORTCUT_ENV_STATIC_BIN")
        self.assertTrue(
            binary and Path(binary).is_file(),
            "SHORTCUT_ENV_STATIC_BIN is not set: run ./scripts/check-container, which builds "
            "the static binary with ./scripts/build-static",
        )
        port = free_port()
        tmp = self.enterContext(tempfile.TemporaryDirectory())
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "APP_ENV": "local",
            "TMPDIR": tmp,
            **(extra_env or {}),
        }
        process = subprocess.Popen(
            [binary, "--env-file", str(env_file), "--", "uvicorn", "main:app",
             "--app-dir", str(ROOT / "example"), "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )

        def stop():
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

        self.addCleanup(stop)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                    return process, port
            except (urllib.error.URLError, ConnectionError, OSError):
                if process.poll() is not None:
                    self.fail(f"the app exited with {process.returncode}: {process.stdout.read()}")
                time.sleep(0.2)
        self.fail("the app did not answer within 20 s")

    def health(self, port):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def test_health_names_every_key_and_the_readable_gcp_file_but_no_value(self):
        process, port = self.start(ROOT / ".env.example")
        status, text = self.health(port)
        self.assertEqual(status, 200, text)
        body = json.loads(text)
        self.assertEqual(body["app_env"], "local")
        self.assertEqual(sorted(body["keys"]["present"]), sorted(dotenv_keys(ROOT / ".env.example")))
        self.assertEqual(body["keys"]["missing"], [])
        self.assertTrue(body["google_application_credentials"]["readable"])
        for key, value in dotenv_values(ROOT / ".env.example").items():
            if key not in ("GCP_PROJECT_ID", "MILVUS_PORT"):  # short, may match by chance
                self.assertNotIn(value, text, f"the value of {key} leaked")
        # exec, not spawn: the app is the process we started.
        argv = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        names = [os.path.basename(arg) for arg in argv]
        self.assertIn(b"uvicorn", names)
        self.assertNotIn(b"shortcut-env", names)

    def test_health_reports_missing_keys_by_name(self):
        partial = ROOT / "target" / "example-partial.env"
        partial.parent.mkdir(exist_ok=True)
        partial.write_text("MILVUS_HOST=milvus.local\n", encoding="utf-8")
        self.addCleanup(partial.unlink)
        _, port = self.start(partial)
        status, text = self.health(port)
        self.assertEqual(status, 503, text)
        body = json.loads(text)
        self.assertEqual(body["keys"]["present"], ["MILVUS_HOST"])
        self.assertIn("OPENAI_API_KEY", body["keys"]["missing"])
        self.assertEqual(
            body["google_application_credentials"], {"path": None, "readable": False}
        )


if __name__ == "__main__":
    unittest.main()
