"""Least-privilege and consistency checks for the files under infra/.

Run from the repository root with the project virtualenv (scripts/check-infra does this):

    .venv/bin/python -m unittest discover -s infra/tests -v

The IAM and ECS JSON checks need only the standard library. The CloudFormation checks read the
template with cfn-lint's own YAML loader (it understands !Ref, !Sub, !GetAtt, !If ...), so they
need cfn-lint importable; without it they fail with a message saying how to install it.
"""

import json
import pathlib
import re
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
IAM = INFRA / "iam"
TRUST_POLICY = IAM / "ecs-task-trust-policy.json"
READ_POLICY = IAM / "secrets-read-policy.json"
SSM_POLICY = IAM / "ssm-read-policy.json"
WATCH_POLICY = IAM / "secrets-watch-policy.json"
SECRET_EXAMPLE = IAM / "secret-structure-example.json"
TASK_DEFINITION = INFRA / "ecs" / "task-definition.json"
TEMPLATE = INFRA / "cloudformation" / "shortcut-env.yaml"
ENV_EXAMPLE = ROOT / ".env.example"

ACCOUNT = "111122223333"
REGION = "us-east-1"
SECRET_NAME = "short-cut/prod/app"
SECRET_ARN_PATTERN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{SECRET_NAME}-*"
VIA_SECRETS_MANAGER = f"secretsmanager.{REGION}.amazonaws.com"
# The SSM path the example task definition reads (`ssm:/short-cut/prod/`), and its ARNs: a path
# read is authorised on the path's own ARN, single parameters on theirs.
PARAMETER_PATH = "/short-cut/prod"
PARAMETER_PATH_ARN = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{PARAMETER_PATH}"
PARAMETERS_ARN_PATTERN = f"{PARAMETER_PATH_ARN}/*"
VIA_SSM = f"ssm.{REGION}.amazonaws.com"
CREDENTIALS_DIR = "/run/shortcut-env"
LOG_GROUP = "/ecs/short-cut-api"

# KMS actions that use key material (as opposed to administering the key).
KMS_CRYPTO_ACTIONS = re.compile(
    r"^kms:(Decrypt|Encrypt|ReEncrypt.*|GenerateDataKey.*|Sign|Verify|GenerateMac|VerifyMac|"
    r"DeriveSharedSecret|CreateGrant)$"
)
STATEMENT_KEYS = {"Sid", "Effect", "Principal", "Action", "Resource", "Condition"}
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Names shortcut-env never sets from a secret (design contract).
PROTECTED = re.compile(
    r"^(PATH|HOME|USER|SHELL|PWD|LD_.*|APP_ENV|AWS_.*|SECRET_.*|SHORTCUT_ENV_.*|"
    r"GOOGLE_APPLICATION_CREDENTIALS)$"
)


# ---- loading --------------------------------------------------------------------------------


def _no_duplicate_keys(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def load_json(path):
    """Parses a JSON file, rejecting duplicate keys (IAM would silently keep the last one)."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle, object_pairs_hook=_no_duplicate_keys)


def require_cfnlint():
    try:
        import cfnlint.api  # noqa: F401
        import cfnlint.decode.cfn_yaml  # noqa: F401
    except ImportError as error:  # pragma: no cover - exercised only without the venv
        raise AssertionError(
            "cfn-lint is not importable by this Python "
            f"({error}); run scripts/check-infra, which installs it into .venv, or "
            "`.venv/bin/python -m pip install -r infra/requirements.txt` and run the tests "
            "with .venv/bin/python"
        ) from error
    return cfnlint


_TEMPLATE_CACHE = {}


def load_template():
    """The template as plain dicts/lists, short tags in long form ({"Ref": ...}, {"Fn::Sub": ...})."""
    if "template" not in _TEMPLATE_CACHE:
        require_cfnlint()
        from cfnlint.decode import cfn_yaml

        _TEMPLATE_CACHE["template"] = json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE))))
    return _TEMPLATE_CACHE["template"]


# ---- policy helpers -------------------------------------------------------------------------


def as_list(value):
    return value if isinstance(value, list) else [value]


def statements(document):
    """Every statement a policy document can contain, taking both branches of each Fn::If."""
    found = []
    for item in as_list(document["Statement"]):
        if isinstance(item, dict) and set(item) == {"Fn::If"}:
            _condition, when_true, when_false = item["Fn::If"]
            for branch in (when_true, when_false):
                if branch != {"Ref": "AWS::NoValue"}:
                    found.append(branch)
        else:
            found.append(item)
    return found


def actions(statement):
    return [action for action in as_list(statement.get("Action", [])) if isinstance(action, str)]


def resources(statement):
    return as_list(statement.get("Resource", []))


def is_secretsmanager(statement):
    return any(action.lower().startswith("secretsmanager:") for action in actions(statement))


def template_policy_documents(template):
    """(where, document) for every IAM/KMS/Secrets Manager policy document in the template."""
    found = []
    for name, resource in template["Resources"].items():
        kind = resource["Type"]
        props = resource.get("Properties", {})
        if kind == "AWS::IAM::Role":
            found.append((f"{name}.AssumeRolePolicyDocument", props["AssumeRolePolicyDocument"]))
            for policy in props.get("Policies", []):
                found.append((f"{name}.Policies.{policy['PolicyName']}", policy["PolicyDocument"]))
        elif kind in ("AWS::IAM::RolePolicy", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            found.append((f"{name}.PolicyDocument", props["PolicyDocument"]))
        elif kind == "AWS::KMS::Key":
            found.append((f"{name}.KeyPolicy", props["KeyPolicy"]))
        elif kind == "AWS::SecretsManager::ResourcePolicy":
            found.append((f"{name}.ResourcePolicy", props["ResourcePolicy"]))
    return found


def json_policy_documents():
    return [
        (path.name, load_json(path))
        for path in (TRUST_POLICY, READ_POLICY, SSM_POLICY, WATCH_POLICY)
    ]


class PolicyAssertions:
    """Checks shared by the JSON policy files and the template's policy documents."""

    def assert_grammar(self, where, document):
        self.assertEqual(document.get("Version"), "2012-10-17", f"{where}: Version")
        sids = []
        for statement in statements(document):
            extra = set(statement) - STATEMENT_KEYS
            self.assertFalse(
                extra, f"{where}: statement {statement.get('Sid')} uses {sorted(extra)} "
                "(NotAction/NotResource/NotPrincipal widen a grant; keep statements explicit)"
            )
            self.assertEqual(statement.get("Effect"), "Allow", f"{where}: Effect")
            self.assertIn("Sid", statement, f"{where}: every statement has a Sid")
            self.assertTrue(actions(statement), f"{where}: {statement.get('Sid')} has no Action")
            sids.append(statement["Sid"])
        self.assertEqual(len(sids), len(set(sids)), f"{where}: duplicate Sids {sids}")

    def assert_no_wildcard_action(self, where, document):
        for statement in statements(document):
            for action in actions(statement):
                self.assertNotIn(
                    "*", action, f"{where}: {statement['Sid']} grants the wildcard action {action!r}"
                )

    def assert_kms_use_goes_through_secrets_manager(self, where, document, expected_service):
        for statement in statements(document):
            crypto = [a for a in actions(statement) if KMS_CRYPTO_ACTIONS.match(a)]
            if not crypto:
                continue
            via = statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
            self.assertEqual(
                via, expected_service,
                f"{where}: {statement['Sid']} grants {crypto} without "
                f"kms:ViaService = {expected_service}",
            )
            self.assertNotIn("kms:CreateGrant", crypto, f"{where}: {statement['Sid']}")


# ---- the JSON files under infra/iam ---------------------------------------------------------


class IamJsonPolicies(PolicyAssertions, unittest.TestCase):
    def test_policy_grammar(self):
        for where, document in json_policy_documents():
            self.assert_grammar(where, document)

    def test_no_wildcard_action_anywhere(self):
        for where, document in json_policy_documents():
            self.assert_no_wildcard_action(where, document)

    def test_secretsmanager_only_get_secret_value(self):
        granted = {
            action
            for statement in statements(load_json(READ_POLICY))
            for action in actions(statement)
            if action.startswith("secretsmanager:")
        }
        # shortcut-env calls GetSecretValue and nothing else: no DescribeSecret, and no
        # BatchGetSecretValue (several secrets are read with one GetSecretValue each, so that
        # no action ever needs Resource "*").
        self.assertEqual(granted, {"secretsmanager:GetSecretValue"})

    def test_secretsmanager_resource_is_the_secret_arn_pattern(self):
        for statement in statements(load_json(READ_POLICY)):
            if not is_secretsmanager(statement):
                continue
            for resource in resources(statement):
                self.assertNotEqual(resource, "*", f"{statement['Sid']}: Resource *")
                self.assertEqual(resource, SECRET_ARN_PATTERN, statement["Sid"])
                self.assertTrue(resource.endswith("-*"), "the -* matches the 6-character suffix")
                self.assertNotIn(":*:", resource, "the account id is pinned, not a wildcard")

    def test_kms_statements_carry_via_service(self):
        kms = [
            statement
            for statement in statements(load_json(READ_POLICY))
            if any(a.startswith("kms:") for a in actions(statement))
        ]
        self.assertTrue(kms, "the read policy keeps the customer-managed key statement")
        for statement in kms:
            condition = statement.get("Condition", {})
            self.assertEqual(
                condition.get("StringEquals", {}).get("kms:ViaService"), VIA_SECRETS_MANAGER,
                f"{statement['Sid']} lacks kms:ViaService",
            )
            self.assertEqual(actions(statement), ["kms:Decrypt"], "reading needs Decrypt only")
            self.assertEqual(
                condition.get("StringLike", {}).get("kms:EncryptionContext:SecretARN"),
                SECRET_ARN_PATTERN,
                "decrypt is limited to this secret's data keys",
            )

    def test_read_policy_grants_nothing_else(self):
        granted = sorted(
            a for statement in statements(load_json(READ_POLICY)) for a in actions(statement)
        )
        self.assertEqual(granted, ["kms:Decrypt", "secretsmanager:GetSecretValue"])

    def test_watch_policy_is_describe_secret_on_the_same_secret_only(self):
        # shortcut-env --watch polls with DescribeSecret (no value); attached only to tasks that
        # watch, next to the read policy.
        (statement,) = statements(load_json(WATCH_POLICY))
        self.assertEqual(actions(statement), ["secretsmanager:DescribeSecret"])
        self.assertEqual(resources(statement), [SECRET_ARN_PATTERN])

    def test_trust_policy_only_ecs_tasks_with_source_account(self):
        document = load_json(TRUST_POLICY)
        (statement,) = statements(document)
        self.assertEqual(statement["Sid"], "ECSTasksAssumeRole")
        self.assertEqual(statement["Principal"], {"Service": "ecs-tasks.amazonaws.com"})
        self.assertEqual(actions(statement), ["sts:AssumeRole"])
        condition = statement["Condition"]
        self.assertEqual(condition["StringEquals"], {"aws:SourceAccount": ACCOUNT})
        self.assertEqual(condition["ArnLike"], {"aws:SourceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:*"})


class SsmReadPolicy(unittest.TestCase):
    """infra/iam/ssm-read-policy.json: what shortcut-env calls for ssm: references, no more."""

    def setUp(self):
        self.by_sid = {s["Sid"]: s for s in statements(load_json(SSM_POLICY))}

    def test_only_get_parameters_and_get_parameters_by_path(self):
        granted = sorted(a for s in self.by_sid.values() for a in actions(s))
        # Never ssm:GetParameter (one call per name) or ssm:DescribeParameters.
        self.assertEqual(
            granted, ["kms:Decrypt", "ssm:GetParameters", "ssm:GetParametersByPath"]
        )

    def test_names_are_granted_under_the_path_only(self):
        statement = self.by_sid["ReadShortCutParameters"]
        self.assertEqual(actions(statement), ["ssm:GetParameters"])
        self.assertEqual(resources(statement), [PARAMETERS_ARN_PATTERN])

    def test_a_path_read_is_granted_on_the_path_itself(self):
        statement = self.by_sid["ReadShortCutParameterPath"]
        self.assertEqual(actions(statement), ["ssm:GetParametersByPath"])
        self.assertEqual(resources(statement), [PARAMETER_PATH_ARN])
        self.assertNotIn("*", PARAMETER_PATH_ARN)

    def test_kms_decrypt_goes_through_ssm_for_these_parameters(self):
        statement = self.by_sid["DecryptSecureStringsWithCMKViaSsm"]
        self.assertEqual(actions(statement), ["kms:Decrypt"])
        condition = statement["Condition"]
        self.assertEqual(condition["StringEquals"], {"kms:ViaService": VIA_SSM})
        self.assertEqual(
            condition["StringLike"], {"kms:EncryptionContext:PARAMETER_ARN": PARAMETERS_ARN_PATTERN}
        )

    def test_the_task_definition_reads_the_granted_path(self):
        secret_name = env_of(container(load_json(TASK_DEFINITION))["environment"])["SECRET_NAME"]
        self.assertIn(f"ssm:{PARAMETER_PATH}/", secret_name.split(","))


class SecretStructureExample(unittest.TestCase):
    def setUp(self):
        self.secret = load_json(SECRET_EXAMPLE)

    def test_is_an_object_of_strings_with_usable_names(self):
        self.assertIsInstance(self.secret, dict)
        for key, value in self.secret.items():
            self.assertRegex(key, ENV_NAME)
            self.assertNotRegex(key, PROTECTED, f"{key} is a name shortcut-env will not set")
            self.assertIsInstance(value, str, f"{key}: store every value as a string")

    def test_gcp_credentials_are_a_json_string_holding_a_service_account(self):
        raw = self.secret["GOOGLE_APPLICATION_CREDENTIALS_JSON"]
        self.assertIsInstance(raw, str, "the service-account key is stored as a JSON *string*")
        account = json.loads(raw)
        self.assertEqual(account["type"], "service_account")
        for field in ("project_id", "private_key_id", "private_key", "client_email", "client_id",
                      "token_uri"):
            self.assertIn(field, account)
        self.assertIn("REPLACE", account["private_key"], "the example holds no real key")

    def test_values_are_placeholders(self):
        self.assertIn("REPLACE", self.secret["OPENAI_API_KEY"])
        self.assertIn("REPLACE", self.secret["PINECONE_API_KEY"])
        self.assertIn("REPLACE", self.secret["APP_SECRET_KEY"])

    def test_same_keys_as_env_example(self):
        names = set()
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                names.add(line.split("=", 1)[0].removeprefix("export ").strip())
        self.assertEqual(set(self.secret), names, "infra/iam example and .env.example drifted")


# ---- the ECS task definition ----------------------------------------------------------------

TASK_KEYS = {
    "family", "taskRoleArn", "executionRoleArn", "networkMode", "requiresCompatibilities", "cpu",
    "memory", "runtimePlatform", "volumes", "containerDefinitions", "ephemeralStorage", "tags",
    "pidMode", "ipcMode", "proxyConfiguration", "inferenceAccelerators", "placementConstraints",
}


def container(task):
    (only,) = task["containerDefinitions"]
    return only


def env_of(definition, name_key="name", value_key="value"):
    return {item[name_key]: item[value_key] for item in definition}


class TaskDefinition(unittest.TestCase):
    def setUp(self):
        self.task = load_json(TASK_DEFINITION)
        self.app = container(self.task)

    def test_top_level_keys_are_register_task_definition_fields(self):
        self.assertLessEqual(set(self.task), TASK_KEYS)

    def test_fargate_shape(self):
        self.assertEqual(self.task["family"], "short-cut-api")
        self.assertEqual(self.task["networkMode"], "awsvpc")
        self.assertEqual(self.task["requiresCompatibilities"], ["FARGATE"])
        self.assertEqual((self.task["cpu"], self.task["memory"]), ("512", "1024"))
        self.assertRegex(self.task["taskRoleArn"], rf"^arn:aws:iam::{ACCOUNT}:role/")
        self.assertRegex(self.task["executionRoleArn"], rf"^arn:aws:iam::{ACCOUNT}:role/")
        self.assertNotEqual(self.task["taskRoleArn"], self.task["executionRoleArn"])

    def test_container_environment(self):
        self.assertEqual(self.app["name"], "short-cut-api")
        self.assertEqual([p["containerPort"] for p in self.app["portMappings"]], [8000])
        self.assertEqual(
            env_of(self.app["environment"]),
            {
                "APP_ENV": "production",
                "AWS_REGION": REGION,
                "SECRET_NAME": f"{SECRET_NAME},ssm:{PARAMETER_PATH}/",
                "SHORTCUT_ENV_CREDENTIALS_DIR": CREDENTIALS_DIR,
                # --watch off: a rotation is picked up by the next deployment (docs/rotation.md).
                "SHORTCUT_ENV_WATCH": "off",
            },
        )
        self.assertNotIn("secrets", self.app, "shortcut-env fetches the secret, not ECS")

    def test_entrypoint_is_the_images(self):
        entry = self.app.get("entryPoint")
        if entry is not None:
            self.assertEqual(entry[:2], ["/usr/local/bin/shortcut-env", "--"])
        self.assertEqual(self.app["command"][0], "uvicorn", "the command is exec'd after --")

    def test_init_process_and_read_only_root(self):
        self.assertIs(self.app["linuxParameters"]["initProcessEnabled"], True)
        self.assertIs(self.app["readonlyRootFilesystem"], True)

    def test_writable_credentials_volume(self):
        volumes = {volume["name"] for volume in self.task["volumes"]}
        mounts = {m["containerPath"]: m for m in self.app["mountPoints"]}
        for path in (CREDENTIALS_DIR, "/tmp"):
            self.assertIn(path, mounts, f"{path} needs a writable volume")
            self.assertIn(mounts[path]["sourceVolume"], volumes)
            self.assertFalse(mounts[path].get("readOnly", False))
        credentials_dir = env_of(self.app["environment"])["SHORTCUT_ENV_CREDENTIALS_DIR"]
        self.assertIn(credentials_dir, mounts)

    def test_awslogs(self):
        logging = self.app["logConfiguration"]
        self.assertEqual(logging["logDriver"], "awslogs")
        self.assertEqual(logging["options"]["awslogs-group"], LOG_GROUP)
        self.assertEqual(logging["options"]["awslogs-stream-prefix"], "ecs")
        self.assertEqual(logging["options"]["awslogs-region"], REGION)

    def test_valid_against_the_cloudformation_schema(self):
        """The same object, PascalCased, must pass cfn-lint's AWS::ECS::TaskDefinition schema."""
        require_cfnlint()
        from cfnlint.api import ManualArgs, lint

        template = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Resources": {
                "TaskDefinition": {
                    "Type": "AWS::ECS::TaskDefinition",
                    "Properties": pascal_case(self.task),
                }
            },
        }
        matches = lint(json.dumps(template), config=ManualArgs(regions=[REGION]))
        self.assertEqual([str(m) for m in matches], [])


def pascal_case(node, parent=None):
    """ECS API JSON (camelCase) to CloudFormation properties (PascalCase); option maps verbatim."""
    if isinstance(node, dict):
        return {
            (key if parent in ("options", "dockerLabels") else key[0].upper() + key[1:]):
                pascal_case(value, key)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [pascal_case(value, parent) for value in node]
    return node


# ---- the CloudFormation template ------------------------------------------------------------


class CloudFormationTemplate(PolicyAssertions, unittest.TestCase):
    def setUp(self):
        self.template = load_template()
        self.resources = self.template["Resources"]

    def of_type(self, kind):
        return {n: r for n, r in self.resources.items() if r["Type"] == kind}

    def test_policy_grammar(self):
        documents = template_policy_documents(self.template)
        self.assertGreaterEqual(len(documents), 5)
        for where, document in documents:
            self.assert_grammar(where, document)

    def test_no_wildcard_action_anywhere(self):
        for where, document in template_policy_documents(self.template):
            self.assert_no_wildcard_action(where, document)

    def test_secretsmanager_grants_are_get_secret_value_on_the_secret(self):
        seen = 0
        for where, document in template_policy_documents(self.template):
            for statement in statements(document):
                if not is_secretsmanager(statement):
                    continue
                seen += 1
                # GetSecretValue, and DescribeSecret for --watch (WatchAppSecretVersion only).
                expected = (
                    ["secretsmanager:DescribeSecret"]
                    if statement.get("Sid") == "WatchAppSecretVersion"
                    else ["secretsmanager:GetSecretValue"]
                )
                self.assertEqual(actions(statement), expected, where)
                for resource in resources(statement):
                    self.assertNotEqual(resource, "*", f"{where}: Resource * on secretsmanager")
                    self.assertEqual(resource, {"Ref": "AppSecret"}, f"{where}: {resource}")
        self.assertEqual(
            seen, 3, "the task role's read and watch statements, the cross-account resource policy"
        )

    def test_describe_secret_only_when_watching(self):
        policy = self.resources["TaskRoleSecretsReadPolicy"]["Properties"]["PolicyDocument"]
        (conditional,) = [
            item["Fn::If"] for item in policy["Statement"]
            if isinstance(item, dict) and "Fn::If" in item and item["Fn::If"][0] == "WatchSecret"
        ]
        self.assertEqual(conditional[2], {"Ref": "AWS::NoValue"})
        (app,) = self.resources["TaskDefinition"]["Properties"]["ContainerDefinitions"]
        environment = env_of(app["Environment"], "Name", "Value")
        self.assertEqual(environment["SHORTCUT_ENV_WATCH"], {"Fn::If": ["WatchSecret", "300", "off"]})
        self.assertEqual(self.template["Parameters"]["WatchForRotation"]["Default"], "false")

    def test_redeploy_rule_matches_awscurrent_of_the_secret_and_updates_one_service(self):
        rule = self.resources["RedeployOnNewVersion"]["Properties"]
        pattern = rule["EventPattern"]
        self.assertEqual(pattern["source"], ["aws.secretsmanager"])
        self.assertEqual(pattern["detail-type"], ["Secret Label Updated"])
        self.assertEqual(pattern["resources"], [{"Ref": "AppSecret"}])
        self.assertEqual(pattern["detail"], {"labelUpdated": ["AWSCURRENT"]})
        (target,) = rule["Targets"]
        self.assertEqual(target["Arn"], {"Ref": "RedeployWorkflow"})
        state = self.resources["RedeployWorkflow"]["Properties"]["Definition"]["States"]
        self.assertEqual(state["ForceNewDeployment"]["Parameters"]["ForceNewDeployment"], True)
        workflow_role = self.resources["RedeployWorkflowRole"]["Properties"]
        (policy,) = workflow_role["Policies"]
        (statement,) = statements(policy["PolicyDocument"])
        self.assertEqual(actions(statement), ["ecs:UpdateService"])
        self.assertNotEqual(resources(statement), ["*"])
        rule_role = self.resources["RedeployRuleRole"]["Properties"]
        (policy,) = rule_role["Policies"]
        (statement,) = statements(policy["PolicyDocument"])
        self.assertEqual(actions(statement), ["states:StartExecution"])
        self.assertEqual(resources(statement), [{"Ref": "RedeployWorkflow"}])

    def test_kms_use_goes_through_secrets_manager(self):
        expected = {"Fn::Sub": "secretsmanager.${Region}.amazonaws.com"}
        kms_documents = 0
        for where, document in template_policy_documents(self.template):
            if any(a.startswith("kms:") for s in statements(document) for a in actions(s)):
                kms_documents += 1
                self.assert_kms_use_goes_through_secrets_manager(where, document, expected)
        self.assertEqual(kms_documents, 2, "the key policy and the task role's policy")

    def test_key_policy(self):
        key = self.resources["SecretKey"]
        self.assertEqual(key["Condition"], "CreateKmsKey")
        self.assertIs(key["Properties"]["EnableKeyRotation"], True)
        by_sid = {s["Sid"]: s for s in statements(key["Properties"]["KeyPolicy"])}
        admin = by_sid["KeyAdministrationByAccount"]
        self.assertEqual(
            admin["Principal"], {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
        )
        self.assertFalse(
            [a for a in actions(admin) if KMS_CRYPTO_ACTIONS.match(a)],
            "account administration does not include using the key",
        )
        task = by_sid["TaskRoleDecryptThroughSecretsManager"]
        self.assertEqual(task["Principal"], {"AWS": {"Fn::GetAtt": ["TaskRole", "Arn"]}})
        self.assertEqual(actions(task), ["kms:Decrypt"])
        consumer = by_sid["ConsumerAccountDecryptThroughSecretsManager"]
        self.assertEqual(consumer["Principal"], {"AWS": {"Ref": "ConsumerPrincipalArn"}})
        self.assertEqual(actions(consumer), ["kms:Decrypt"])

    def test_trust_policies_only_ecs_tasks_with_source_account(self):
        roles = self.of_type("AWS::IAM::Role")
        redeploy = {"RedeployWorkflowRole": "states.amazonaws.com", "RedeployRuleRole": "events.amazonaws.com"}
        self.assertEqual(set(roles), {"TaskRole", "ExecutionRole", *redeploy})
        for name, service in redeploy.items():
            (statement,) = statements(roles[name]["Properties"]["AssumeRolePolicyDocument"])
            self.assertEqual(statement["Principal"], {"Service": service}, name)
            self.assertEqual(
                statement["Condition"]["StringEquals"], {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
            )
        for name, role in roles.items():
            if name in redeploy:
                continue
            (statement,) = statements(role["Properties"]["AssumeRolePolicyDocument"])
            self.assertEqual(statement["Sid"], "ECSTasksAssumeRole", name)
            self.assertEqual(statement["Principal"], {"Service": "ecs-tasks.amazonaws.com"}, name)
            self.assertEqual(actions(statement), ["sts:AssumeRole"], name)
            self.assertEqual(
                statement["Condition"]["StringEquals"], {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
            )
            self.assertIn("aws:SourceArn", statement["Condition"]["ArnLike"])

    def test_task_role_has_only_the_inline_read_policy(self):
        role = self.resources["TaskRole"]["Properties"]
        self.assertNotIn("ManagedPolicyArns", role)
        self.assertNotIn("Policies", role)
        policies = self.of_type("AWS::IAM::RolePolicy")
        self.assertEqual(list(policies), ["TaskRoleSecretsReadPolicy"])
        policy = policies["TaskRoleSecretsReadPolicy"]["Properties"]
        self.assertEqual(policy["RoleName"], {"Ref": "TaskRole"})
        self.assertEqual(policy["PolicyName"], "ShortCutSecretsReadPolicy")

    def test_execution_role_is_the_managed_execution_policy_only(self):
        role = self.resources["ExecutionRole"]["Properties"]
        self.assertEqual(
            role["ManagedPolicyArns"],
            [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"}],
        )
        self.assertNotIn("Policies", role)

    def test_secret(self):
        secret = self.resources["AppSecret"]
        props = secret["Properties"]
        self.assertEqual(props["Name"], {"Fn::Sub": "${ProjectName}/${Environment}/app"})
        self.assertEqual(
            {t["Key"] for t in props["Tags"]}, {"Project", "Environment", "ManagedBy"}
        )
        self.assertEqual(secret["DeletionPolicy"], "Retain")
        self.assertEqual(
            json.loads(props["SecretString"]), load_json(SECRET_EXAMPLE),
            "the template's placeholder and infra/iam/secret-structure-example.json drifted",
        )

    def test_optional_parts_are_conditional(self):
        params = self.template["Parameters"]
        for name in ("ProjectName", "Environment", "Region", "ContainerImage"):
            self.assertIn(name, params)
        self.assertEqual(params["ConsumerPrincipalArn"]["Default"], "")
        self.assertEqual(params["RotationLambdaArn"]["Default"], "")
        self.assertEqual(params["UseCustomerManagedKey"]["Default"], "false")
        expected = {
            "SecretKey": "CreateKmsKey",
            "SecretKeyAlias": "CreateKmsKey",
            "AppSecretResourcePolicy": "HasConsumer",
            "RotationSchedule": "HasRotation",
            "RotationLambdaPermission": "HasRotation",
            "RedeployWorkflowRole": "HasRedeploy",
            "RedeployWorkflow": "HasRedeploy",
            "RedeployRuleRole": "HasRedeploy",
            "RedeployOnNewVersion": "HasRedeploy",
        }
        for name, condition in expected.items():
            self.assertEqual(self.resources[name].get("Condition"), condition, name)
        rotation = self.resources["RotationSchedule"]["Properties"]
        self.assertEqual(rotation["RotationLambdaARN"], {"Ref": "RotationLambdaArn"})
        self.assertEqual(rotation["SecretId"], {"Ref": "AppSecret"})

    def test_cross_account_policy(self):
        props = self.resources["AppSecretResourcePolicy"]["Properties"]
        self.assertIs(props["BlockPublicPolicy"], True)
        (statement,) = statements(props["ResourcePolicy"])
        self.assertEqual(statement["Principal"], {"AWS": {"Ref": "ConsumerPrincipalArn"}})
        rules = self.template["Rules"]["CrossAccountNeedsCustomerManagedKey"]
        self.assertEqual(
            rules["Assertions"][0]["Assert"], {"Fn::Equals": [{"Ref": "UseCustomerManagedKey"}, "true"]}
        )

    def test_parameter_store_is_opt_in_and_scoped_to_the_path(self):
        self.assertEqual(self.template["Parameters"]["ReadParameterStorePath"]["Default"], "false")
        policy = self.resources["TaskRoleSecretsReadPolicy"]["Properties"]["PolicyDocument"]
        guarded = {}
        for item in as_list(policy["Statement"]):
            if isinstance(item, dict) and set(item) == {"Fn::If"}:
                condition, statement, _ = item["Fn::If"]
                guarded[statement["Sid"]] = (condition, statement)
        base = "arn:${AWS::Partition}:ssm:${Region}:${AWS::AccountId}:parameter/${ProjectName}/${Environment}"
        condition, path = guarded["ReadAppParameterPath"]
        self.assertEqual(condition, "HasParameterStorePath")
        self.assertEqual(actions(path), ["ssm:GetParametersByPath"])
        self.assertEqual(resources(path), [{"Fn::Sub": base}])
        condition, names = guarded["ReadAppParameters"]
        self.assertEqual(condition, "HasParameterStorePath")
        self.assertEqual(actions(names), ["ssm:GetParameters"])
        self.assertEqual(resources(names), [{"Fn::Sub": base + "/*"}])
        (app,) = self.resources["TaskDefinition"]["Properties"]["ContainerDefinitions"]
        secret_name = env_of(app["Environment"], "Name", "Value")["SECRET_NAME"]
        self.assertEqual(secret_name["Fn::If"][0], "HasParameterStorePath")
        self.assertEqual(
            secret_name["Fn::If"][1],
            {"Fn::Sub": "${ProjectName}/${Environment}/app,ssm:/${ProjectName}/${Environment}/"},
        )

    def test_log_group(self):
        (group,) = self.of_type("AWS::Logs::LogGroup").values()
        self.assertEqual(group["Properties"]["LogGroupName"], {"Fn::Sub": "/ecs/${ServiceName}"})
        self.assertEqual(self.template["Parameters"]["ServiceName"]["Default"], "short-cut-api")

    def test_task_definition_matches_the_json_one(self):
        props = self.resources["TaskDefinition"]["Properties"]
        (app,) = props["ContainerDefinitions"]
        json_task = load_json(TASK_DEFINITION)
        json_app = container(json_task)
        self.assertEqual(props["TaskRoleArn"], {"Fn::GetAtt": ["TaskRole", "Arn"]})
        self.assertEqual(props["ExecutionRoleArn"], {"Fn::GetAtt": ["ExecutionRole", "Arn"]})
        for key in ("NetworkMode", "RequiresCompatibilities", "Cpu", "Memory", "RuntimePlatform",
                    "Volumes"):
            self.assertEqual(props[key], pascal_case(json_task)[key], key)
        for key in ("Command", "PortMappings", "ReadonlyRootFilesystem", "MountPoints",
                    "LinuxParameters", "HealthCheck", "StopTimeout"):
            self.assertEqual(app[key], pascal_case(json_app)[key], key)
        self.assertNotIn("EntryPoint", app)
        self.assertNotIn("Secrets", app)
        self.assertIs(app["LinuxParameters"]["InitProcessEnabled"], True)
        self.assertIs(app["ReadonlyRootFilesystem"], True)
        environment = env_of(app["Environment"], "Name", "Value")
        self.assertEqual(set(environment), set(env_of(json_app["environment"])))
        self.assertEqual(environment["SHORTCUT_ENV_CREDENTIALS_DIR"], CREDENTIALS_DIR)
        self.assertEqual(environment["AWS_REGION"], {"Ref": "Region"})
        options = app["LogConfiguration"]["Options"]
        self.assertEqual(app["LogConfiguration"]["LogDriver"], "awslogs")
        self.assertEqual(options["awslogs-group"], {"Ref": "LogGroup"})
        self.assertEqual(options["awslogs-stream-prefix"], "ecs")

    def test_outputs(self):
        outputs = self.template["Outputs"]
        for name in ("SecretArn", "TaskRoleArn", "ExecutionRoleArn", "TaskDefinitionArn",
                     "KmsKeyArn", "LogGroupName"):
            self.assertIn(name, outputs)


if __name__ == "__main__":
    unittest.main()
