"""Template assertions on each stack of the app, synthesized once (tests/infra/conftest.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.stacks.workflow import DEFINITION, placeholders

pytestmark = pytest.mark.infra


def resources(template: Any, kind: str) -> dict[str, dict[str, Any]]:
    return template.find_resources(kind)


def only(template: Any, kind: str, **where: Any) -> dict[str, Any]:
    """The one resource of ``kind`` whose properties include ``where``."""
    found = [
        r for r in resources(template, kind).values()
        if all(r["Properties"].get(k) == v for k, v in where.items())
    ]  # fmt: skip
    assert len(found) == 1, (kind, where, len(found))
    return found[0]


def statements(template: Any, role_prefix: str) -> list[dict[str, Any]]:
    """Every statement of the policies attached to roles whose logical id starts so."""
    found = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        roles = [r.get("Ref", "") for r in policy["Properties"].get("Roles", [])]
        if any(r.startswith(role_prefix) for r in roles):
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def actions(statement: dict[str, Any]) -> set[str]:
    value = statement["Action"]
    return {value} if isinstance(value, str) else set(value)


def function_named(template: Any, prefix: str) -> tuple[str, dict[str, Any]]:
    matches = [
        (logical_id, r) for logical_id, r in resources(template, "AWS::Lambda::Function").items()
        if logical_id.startswith(prefix) and "Role" in r["Properties"]
    ]  # fmt: skip
    assert len(matches) == 1, (prefix, [m[0] for m in matches])
    return matches[0]


# workflow -------------------------------------------------------------------------------


def test_the_state_machine_is_standard_and_loads_the_asl_file(templates: dict) -> None:
    # Given the workflow stack
    template = templates["workflow"]

    # When its state machine is read
    machine = only(template, "AWS::StepFunctions::StateMachine")["Properties"]

    # Then it is STANDARD, logs everything, traces, and its definition is the ASL file
    # (an S3 asset) with every placeholder substituted
    assert machine["StateMachineType"] == "STANDARD"
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert "DefinitionS3Location" in machine
    assert set(machine["DefinitionSubstitutions"]) == placeholders(DEFINITION)


def test_the_definition_references_the_real_function_arns(templates: dict) -> None:
    # Given the workflow stack's state machine and functions
    template = templates["workflow"]
    substitutions = only(template, "AWS::StepFunctions::StateMachine")["Properties"][
        "DefinitionSubstitutions"
    ]

    # When the ARN substitutions are resolved
    for placeholder, prefix in (
        ("NodeRunnerFunctionArn", "NodeRunner"),
        ("WaitRegistrarFunctionArn", "WaitRegistrar"),
        ("FailureHandlerFunctionArn", "FailureHandler"),
    ):
        logical_id, _ = function_named(template, prefix)
        # Then each is the ARN attribute of the deployed function
        assert substitutions[placeholder] == {"Fn::GetAtt": [logical_id, "Arn"]}
    assert substitutions["ApprovalTimeoutSeconds"].isdigit()
    assert substitutions["QuestionTimeoutSeconds"].isdigit()


def test_only_the_state_machine_may_invoke_the_workflow_functions(templates: dict) -> None:
    # Given the workflow stack
    template = templates["workflow"]
    workflow = {function_named(template, p)[0] for p in
                ("NodeRunner", "WaitRegistrar", "FailureHandler")}  # fmt: skip

    # When every policy granting lambda:InvokeFunction is read
    granted: dict[str, set[str]] = {}
    for policy in resources(template, "AWS::IAM::Policy").values():
        roles = [r["Ref"] for r in policy["Properties"]["Roles"]]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "lambda:InvokeFunction" in actions(statement):
                targets = statement["Resource"]
                targets = targets if isinstance(targets, list) else [targets]
                for role in roles:
                    granted.setdefault(role, set()).update(
                        t["Fn::GetAtt"][0] for t in targets if "Fn::GetAtt" in t
                    )

    # Then the state machine's role names exactly the three functions (no qualifier
    # wildcard), and no other role may invoke them
    machine_roles = [r for r in granted if r.startswith("WorkflowRole")]
    assert len(machine_roles) == 1
    assert granted[machine_roles[0]] == workflow
    others = set().union(*(v for k, v in granted.items() if k not in machine_roles))
    assert not others & workflow
    assert not resources(template, "AWS::Lambda::Permission")


def test_the_validator_has_no_route_no_secrets_and_reads_only_the_sources(
    templates: dict,
) -> None:
    # Given the validator function and its role
    template = templates["workflow"]
    logical_id, validator = function_named(template, "Validator")
    properties = validator["Properties"]
    role = properties["Role"]["Fn::GetAtt"][0]

    # When its package, network, environment and permissions are read
    found = statements(template, role)

    # Then it is a container image in the sandbox subnets with the sandbox security group,
    # its environment holds no secret and no database, and it may only read sources/ and
    # write reports/ of the artifact bucket (plus logs, traces and its network interfaces)
    assert properties["PackageType"] == "Image"
    subnets = json.dumps(properties["VpcConfig"]["SubnetIds"])
    assert "sandbox" in subnets.lower() and "functions" not in subnets.lower()
    assert "SandboxSg" in json.dumps(properties["VpcConfig"]["SecurityGroupIds"])
    environment = properties["Environment"]["Variables"]
    assert not [k for k in environment if "SECRET" in k or "DB" in k]
    s3 = {frozenset(actions(s)): json.dumps(s["Resource"]) for s in found
          if any(a.startswith("s3:") for a in actions(s))}  # fmt: skip
    assert set(s3) == {frozenset({"s3:GetObject"}), frozenset({"s3:PutObject"})}
    assert s3[frozenset({"s3:GetObject"})].endswith('/sources/*"]]}')
    assert s3[frozenset({"s3:PutObject"})].endswith('/reports/*"]]}')
    every = set().union(*(actions(s) for s in found))
    assert not {a for a in every if a.split(":")[0] in {"secretsmanager", "rds", "rds-db",
                                                          "kms", "states", "lambda"}}  # fmt: skip
    assert logical_id.startswith("Validator")


def test_the_sandbox_subnets_route_nowhere_but_s3(templates: dict) -> None:
    # Given the data stack's routes and the sandbox security group
    template = templates["data"]
    routes = resources(template, "AWS::EC2::Route")
    sandbox_tables = {
        logical_id for logical_id in resources(template, "AWS::EC2::RouteTable")
        if "sandbox" in logical_id.lower()
    }  # fmt: skip

    # When the routes of the sandbox route tables are listed
    sandbox_routes = [
        r for r in routes.values()
        if r["Properties"]["RouteTableId"].get("Ref") in sandbox_tables
    ]  # fmt: skip
    group = only(
        template,
        "AWS::EC2::SecurityGroup",
        GroupDescription="Validator: HTTPS out only (S3 through the gateway endpoint)",
    )

    # Then there are none (no NAT, no internet gateway: only the S3 gateway endpoint's
    # prefix-list route, added by the endpoint itself), and the group allows HTTPS out only
    assert sandbox_tables and not sandbox_routes
    endpoint = only(template, "AWS::EC2::VPCEndpoint", VpcEndpointType="Gateway")
    assert {t["Ref"] for t in endpoint["Properties"]["RouteTableIds"]} >= sandbox_tables
    egress = group["Properties"]["SecurityGroupEgress"]
    assert [(e["IpProtocol"], e["FromPort"], e["ToPort"]) for e in egress] == [("tcp", 443, 443)]


def test_every_function_gets_the_dead_letter_queue_and_tracing(templates: dict) -> None:
    for kind in ("data", "api", "workflow"):
        for logical_id, function in resources(templates[kind], "AWS::Lambda::Function").items():
            properties = function["Properties"]
            if "Environment" not in properties or "POWERTOOLS_SERVICE_NAME" not in json.dumps(
                properties["Environment"]
            ):
                continue  # CDK's own providers
            assert properties["TracingConfig"] == {"Mode": "Active"}, logical_id
            assert "DeadLetterConfig" in properties, logical_id


# data -----------------------------------------------------------------------------------


def test_the_database_is_encrypted_private_and_behind_a_tls_proxy(templates: dict) -> None:
    template = templates["data"]
    database = only(template, "AWS::RDS::DBInstance")["Properties"]
    proxy = only(template, "AWS::RDS::DBProxy")["Properties"]
    assert database["StorageEncrypted"] is True
    assert database["PubliclyAccessible"] is False if "PubliclyAccessible" in database else True
    assert database["Engine"] == "postgres"
    assert proxy["RequireTLS"] is True
    assert proxy["EngineFamily"] == "POSTGRESQL"
    assert proxy["Auth"][0]["SecretArn"]
    parameters = only(template, "AWS::RDS::DBParameterGroup")["Properties"]["Parameters"]
    assert parameters["rds.force_ssl"] == "1"


def test_buckets_are_encrypted_private_tls_only_and_quarantine_expires(templates: dict) -> None:
    template = templates["data"]
    buckets = resources(template, "AWS::S3::Bucket")
    policies = resources(template, "AWS::S3::BucketPolicy")
    assert len(buckets) == 3
    for logical_id, bucket in buckets.items():
        properties = bucket["Properties"]
        encryption = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True,
            "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
        }  # fmt: skip
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
        denies_http = [
            p for p in policies.values()
            if p["Properties"]["Bucket"] == {"Ref": logical_id}
            and any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport":
                                                                           "false"}}
                    for s in p["Properties"]["PolicyDocument"]["Statement"])
        ]  # fmt: skip
        assert denies_http, logical_id
    quarantine = next(b for k, b in buckets.items() if k.startswith("BucketsQuarantine"))
    rules = quarantine["Properties"]["LifecycleConfiguration"]["Rules"]
    assert any(r.get("ExpirationInDays") == 90 for r in rules)
    quarantine_id = next(k for k in buckets if k.startswith("BucketsQuarantine"))
    notifications = only(template, "Custom::S3BucketNotifications")["Properties"]
    assert notifications["BucketName"] == {"Ref": quarantine_id}
    assert "EventBridgeConfiguration" in notifications["NotificationConfiguration"]


def test_migrations_run_at_deploy_time_through_a_trigger(templates: dict) -> None:
    template = templates["data"]
    migrator, _ = function_named(template, "Migrator")
    triggers = resources(template, "Custom::Trigger")
    assert len(triggers) == 1
    trigger = next(iter(triggers.values()))
    # The migrator's current version: a new version (code, library layer, settings) runs
    # the migrations again on the next deploy.
    version = trigger["Properties"]["HandlerArn"]["Ref"]
    assert version.startswith(migrator.removesuffix(migrator[-8:]) + "CurrentVersion")
    depends = set(trigger.get("DependsOn", []))
    assert any(d.startswith("DatabasePostgresProxy") for d in depends)
    assert any(d.startswith("DatabasePostgres") and d[16:17].isdigit() for d in depends)


def test_the_history_file_system_is_encrypted_and_mounted_where_settings_expect(
    templates: dict,
) -> None:
    assert only(templates["data"], "AWS::EFS::FileSystem")["Properties"]["Encrypted"] is True
    for kind, prefix in (("workflow", "NodeRunner"), ("api", "Api")):
        _, function = function_named(templates[kind], prefix)
        mounts = function["Properties"]["FileSystemConfigs"]
        assert [m["LocalMountPath"] for m in mounts] == ["/mnt/history"]
        assert function["Properties"]["Environment"]["Variables"][
            "AGENTIC_MLOPS_REPOS_DIR"
        ].startswith("/mnt/history/")


# api ------------------------------------------------------------------------------------


def test_the_rest_api_uses_the_cognito_authorizer_except_for_slack(templates: dict) -> None:
    template = templates["api"]
    authorizer = only(template, "AWS::ApiGateway::Authorizer")["Properties"]
    assert authorizer["Type"] == "COGNITO_USER_POOLS"
    methods = resources(template, "AWS::ApiGateway::Method")
    by_type: dict[str, list[str]] = {}
    for logical_id, method in methods.items():
        if method["Properties"]["HttpMethod"] == "OPTIONS":
            continue
        by_type.setdefault(method["Properties"]["AuthorizationType"], []).append(logical_id)
    assert len(by_type["COGNITO_USER_POOLS"]) == 2  # / and /{proxy+}
    assert [m for m in by_type["NONE"]] == [m for m in by_type["NONE"] if "slack" in m.lower()]
    assert len(by_type["NONE"]) == 1
    stage = only(template, "AWS::ApiGateway::Stage")["Properties"]
    assert stage["TracingEnabled"] is True and "AccessLogSetting" in stage
    settings = stage["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0


def test_cognito_groups_are_the_service_roles(templates: dict) -> None:
    groups = resources(templates["api"], "AWS::Cognito::UserPoolGroup")
    assert sorted(g["Properties"]["GroupName"] for g in groups.values()) == [
        "approver", "requester"
    ]  # fmt: skip
    pool = only(templates["api"], "AWS::Cognito::UserPool")["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["MfaConfiguration"] == "ON"


def test_the_websocket_api_authorizes_connect_from_the_query_string(templates: dict) -> None:
    template = templates["api"]
    routes = {r["Properties"]["RouteKey"]: r["Properties"]
              for r in resources(template, "AWS::ApiGatewayV2::Route").values()}  # fmt: skip
    assert set(routes) == {"$connect", "$disconnect", "$default"}
    assert routes["$connect"]["AuthorizationType"] == "CUSTOM"
    authorizer = only(template, "AWS::ApiGatewayV2::Authorizer")["Properties"]
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["IdentitySource"] == ["route.request.querystring.token"]
    _, ws_authorizer = function_named(template, "WsAuthorizer")
    assert ws_authorizer["Properties"]["Environment"]["Variables"]["AGENTIC_MLOPS_USER_POOL_ID"]
    stage = only(template, "AWS::ApiGatewayV2::Stage")["Properties"]
    assert "AccessLogSettings" in stage and stage["DefaultRouteSettings"]["ThrottlingRateLimit"]


def test_functions_that_post_to_browsers_may_manage_connections(templates: dict) -> None:
    for kind, prefixes in (("api", ("ApiRole", "WebsocketRole", "SlackRole")),
                           ("workflow", ("NodeRunnerRole", "WaitRegistrarRole",
                                         "FailureHandlerRole"))):  # fmt: skip
        for prefix in prefixes:
            granted = [s for s in statements(templates[kind], prefix)
                       if "execute-api:ManageConnections" in actions(s)]  # fmt: skip
            assert granted, prefix
            assert "@connections/*" in json.dumps(granted)


def test_cors_allows_the_web_origin(templates: dict) -> None:
    template = templates["api"]
    preflight = [m for m in resources(template, "AWS::ApiGateway::Method").values()
                 if m["Properties"]["HttpMethod"] == "OPTIONS"]  # fmt: skip
    assert preflight
    headers = json.dumps(preflight[0]["Properties"]["Integration"]["IntegrationResponses"])
    assert (
        ("Access-Control-Allow-Origin" in headers and "cloudfront" in headers.lower())
        or "Fn::ImportValue" in headers
        or "Fn::Join" in headers
    )


def test_the_web_client_signs_in_through_the_hosted_ui_with_pkce(templates: dict) -> None:
    client = only(templates["api"], "AWS::Cognito::UserPoolClient")["Properties"]
    assert client["AllowedOAuthFlows"] == ["code"]
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert sorted(client["AllowedOAuthScopes"]) == ["email", "openid", "profile"]
    assert client.get("GenerateSecret") in (None, False)  # a public client: PKCE, no secret
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    assert len(client["CallbackURLs"]) == 1
    assert resources(templates["api"], "AWS::Cognito::UserPoolDomain")


def test_the_web_stack_deploys_the_committed_build() -> None:
    from infra.stacks.web import WEB_DIST

    assert WEB_DIST.parts[-3:] == ("agentic_mlops", "local", "web_dist")
    assert (WEB_DIST / "index.html").is_file()


# web, observability, github --------------------------------------------------------------


def test_the_site_bucket_is_private_behind_origin_access_control(templates: dict) -> None:
    template = templates["web"]
    assert resources(template, "AWS::CloudFront::OriginAccessControl")
    distribution = only(template, "AWS::CloudFront::Distribution")["Properties"]
    config = distribution["DistributionConfig"]
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    origin = config["Origins"][0]
    assert "OriginAccessControlId" in origin
    assert origin["S3OriginConfig"].get("OriginAccessIdentity", "") == ""


def test_alarms_cover_executions_functions_dead_letters_and_quarantine(
    templates: dict, synthesized: Any
) -> None:
    template = templates["observability"]
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    metrics = [(a["Properties"].get("Namespace"), a["Properties"].get("MetricName"))
               for a in alarms.values()]  # fmt: skip
    functions = 9
    assert metrics.count(("AWS/Lambda", "Errors")) == functions
    assert metrics.count(("AWS/Lambda", "Throttles")) == functions
    assert ("AWS/States", "ExecutionsFailed") in metrics
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in metrics
    assert ("AWS/Events", "TriggeredRules") in metrics
    assert all(a["Properties"]["AlarmActions"] for a in alarms.values())
    assert resources(template, "AWS::CloudWatch::Dashboard")


def test_the_deploy_role_trusts_only_the_repository_environments(templates: dict) -> None:
    template = templates["github-oidc"]
    role = only(template, "AWS::IAM::Role")["Properties"]
    statement = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    condition = statement["Condition"]["StringEquals"]
    assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    subjects = json.dumps(condition["token.actions.githubusercontent.com:sub"])
    assert "environment:staging" in subjects and "environment:production" in subjects
    granted = [s for p in resources(template, "AWS::IAM::Policy").values()
               for s in p["Properties"]["PolicyDocument"]["Statement"]]  # fmt: skip
    assert {a for s in granted for a in actions(s)} == {"sts:AssumeRole", "sts:TagSession"}
    assert "*" not in json.dumps([s["Resource"] for s in granted]).replace("${AWS::", "")
