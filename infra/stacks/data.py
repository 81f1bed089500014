"""The data stack: network, PostgreSQL behind RDS Proxy, artifact buckets, secrets, the
history file system, the dead-letter queue, and the migrations run at deploy time."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack, triggers
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_efs as efs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import nag
from infra.buckets import expiring, private_bucket
from infra.config import DeploymentConfig
from infra.functions import FunctionContext, FunctionNetwork, make_function, retention

POSTGRES_PORT = 5432
HTTPS = 443


class Network(Construct):
    """A VPC with three subnet groups.

    ``functions`` (private, egress through NAT: Anthropic, Slack, the @connections
    endpoint), ``database`` (isolated: RDS and its proxy) and ``sandbox`` (isolated, no route
    anywhere but the S3 gateway endpoint, a network ACL allowing only HTTPS out: the
    validator). Secrets Manager and Step Functions are reached through interface endpoints
    open to the functions' security group only.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=config.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC,
                                        cidr_mask=24),
                ec2.SubnetConfiguration(name="functions",
                                        subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                                        cidr_mask=22),
                ec2.SubnetConfiguration(name="database",
                                        subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
                ec2.SubnetConfiguration(name="sandbox",
                                        subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(
                service=ec2.GatewayVpcEndpointAwsService.S3)},
        )  # fmt: skip
        self.vpc.add_flow_log(
            "RejectedTraffic",
            traffic_type=ec2.FlowLogTrafficType.REJECT,
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                logs.LogGroup(self, "FlowLogs", retention=retention(config.log_retention_days),
                              removal_policy=RemovalPolicy.DESTROY)
            ),
        )  # fmt: skip
        self.functions = ec2.SubnetSelection(subnet_group_name="functions")
        self.database = ec2.SubnetSelection(subnet_group_name="database")
        self.sandbox = ec2.SubnetSelection(subnet_group_name="sandbox")

        self.function_sg = ec2.SecurityGroup(
            self, "FunctionSg", vpc=self.vpc, description="Platform functions (egress: NAT)"
        )
        self.sandbox_sg = ec2.SecurityGroup(
            self,
            "SandboxSg",
            vpc=self.vpc,
            allow_all_outbound=False,
            description="Validator: HTTPS out only (S3 through the gateway endpoint)",
        )
        self.sandbox_sg.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTPS), "S3 (gateway)")
        self._sandbox_acl()

        endpoint_sg = ec2.SecurityGroup(
            self, "EndpointSg", vpc=self.vpc, allow_all_outbound=False,
            description="Interface endpoints: HTTPS from the platform functions only",
        )  # fmt: skip
        endpoint_sg.add_ingress_rule(self.function_sg, ec2.Port.tcp(HTTPS), "functions")
        for name, service in (
            ("SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
            ("StepFunctions", ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS),
        ):
            self.vpc.add_interface_endpoint(
                name, service=service, subnets=self.functions, security_groups=[endpoint_sg],
                open=False, private_dns_enabled=True,
            )  # fmt: skip

    def _sandbox_acl(self) -> None:
        """Sandbox subnets: HTTPS out and its answers in; nothing else, either way."""
        acl = ec2.NetworkAcl(self, "SandboxAcl", vpc=self.vpc, subnet_selection=self.sandbox)
        nag.acknowledge(acl, "AwsSolutions-VPC3",
                        "Deliberate: a second barrier under the validator's security group, so"
                        " that generated code has no way out but HTTPS even if a group is"
                        " widened by mistake.")  # fmt: skip
        acl.add_entry(
            "HttpsOut",
            cidr=ec2.AclCidr.any_ipv4(),
            rule_number=100,
            traffic=ec2.AclTraffic.tcp_port(HTTPS),
            direction=ec2.TrafficDirection.EGRESS,
        )
        acl.add_entry("AnswersIn", cidr=ec2.AclCidr.any_ipv4(), rule_number=100,
                      traffic=ec2.AclTraffic.tcp_port_range(1024, 65535),
                      direction=ec2.TrafficDirection.INGRESS)  # fmt: skip

    def function_network(self) -> FunctionNetwork:
        """Where the functions run."""
        return FunctionNetwork(
            vpc=self.vpc,
            private_subnets=self.functions,
            sandbox_subnets=self.sandbox,
            function_security_group=self.function_sg,
            sandbox_security_group=self.sandbox_sg,
        )


class Database(Construct):
    """RDS PostgreSQL (encrypted, TLS only, isolated subnets) behind an RDS Proxy.

    The generated secret (JSON: username, password, host, port, dbname) is what the
    functions read; they connect to the proxy endpoint (``AGENTIC_MLOPS_DB_HOST``), which
    accepts only the functions' security group and requires TLS.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, network: Network
    ) -> None:
        super().__init__(scope, construct_id)
        vpc = network.vpc
        self.proxy_sg = ec2.SecurityGroup(
            self,
            "ProxySg",
            vpc=vpc,
            allow_all_outbound=False,
            description="RDS Proxy: PostgreSQL from functions",
        )
        db_sg = ec2.SecurityGroup(self, "DbSg", vpc=vpc, allow_all_outbound=False,
                                  description="PostgreSQL: from the proxy only")  # fmt: skip
        db_sg.add_ingress_rule(self.proxy_sg, ec2.Port.tcp(POSTGRES_PORT), "proxy")
        self.proxy_sg.add_egress_rule(db_sg, ec2.Port.tcp(POSTGRES_PORT), "database")
        self.proxy_sg.add_ingress_rule(
            network.function_sg, ec2.Port.tcp(POSTGRES_PORT), "functions"
        )
        parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=_ENGINE,
            parameters={"rds.force_ssl": "1", "log_min_duration_statement": "1000"},
        )
        removal = RemovalPolicy.SNAPSHOT if config.retain_data else RemovalPolicy.DESTROY
        self.instance = rds.DatabaseInstance(
            self,
            "Postgres",
            engine=_ENGINE,
            instance_type=ec2.InstanceType(config.db_instance_class),
            vpc=vpc,
            vpc_subnets=network.database,
            security_groups=[db_sg],
            credentials=rds.Credentials.from_generated_secret("platform"),
            database_name="agentic_mlops",
            allocated_storage=config.db_storage_gb,
            storage_type=rds.StorageType.GP3,
            storage_encrypted=True,
            multi_az=config.db_multi_az,
            parameter_group=parameters,
            backup_retention=Duration.days(7),
            deletion_protection=config.retain_data,
            removal_policy=removal,
            auto_minor_version_upgrade=True,
            cloudwatch_logs_exports=["postgresql", "upgrade"],
            cloudwatch_logs_retention=retention(config.log_retention_days),
            enable_performance_insights=True,
            iam_authentication=True,
        )
        self.secret = self.instance.secret
        assert self.secret is not None
        self.proxy = self.instance.add_proxy(
            "Proxy",
            secrets=[self.secret],
            vpc=vpc,
            vpc_subnets=network.database,
            security_groups=[self.proxy_sg],
            require_tls=True,
            idle_client_timeout=Duration.minutes(30),
        )
        nag.acknowledge(self.instance, "AwsSolutions-RDS11",
                        "The default port is reachable only from the proxy's security group;"
                        " a non-default port would add no protection behind it.")  # fmt: skip
        if not config.db_multi_az:
            nag.acknowledge(self.instance, "AwsSolutions-RDS3",
                            "Single-AZ is the default for cost (a team's control plane, with"
                            " 7-day backups); production sets -c db_multi_az=true.")  # fmt: skip
        if not config.retain_data:
            nag.acknowledge(self.instance, "AwsSolutions-RDS10",
                            "Deletion protection is off only where retain_data=false was asked"
                            " for (a throwaway deployment).")  # fmt: skip
        nag.acknowledge(self.instance.node.find_child("Secret"), "AwsSolutions-SMG4",
                        "RDS Proxy and every function read this secret at connection time;"
                        " rotate it with the RDS console or add_rotation_single_user once the"
                        " rotation Lambda's network path is approved (it needs the database"
                        " subnets).")  # fmt: skip


_ENGINE = rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_16_13)


class ArtifactBuckets(Construct):
    """The artifact bucket (content-addressed sources, reports, bundles), the quarantine
    bucket (expiring; its new objects raise an alarm) and their access-log bucket."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        retain = config.retain_data
        cleanup = s3.LifecycleRule(
            id="cleanup",
            abort_incomplete_multipart_upload_after=Duration.days(7),
            noncurrent_version_expiration=Duration.days(30),
        )
        self.access_logs = private_bucket(
            self,
            "AccessLogs",
            ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle=[expiring("expire", days=365, old_versions_days=30)],
            retain=retain,
        )
        nag.acknowledge(self.access_logs, "AwsSolutions-S1",
                        "This is the server access log bucket of the others; logging its own"
                        " access would log into itself.")  # fmt: skip
        self.artifacts = private_bucket(
            self,
            "Artifacts",
            name=config.bucket_name("artifacts"),
            logs_bucket=self.access_logs,
            retain=retain,
            lifecycle=[cleanup],
        )
        self.quarantine = private_bucket(
            self, "Quarantine", name=config.bucket_name("quarantine"),
            logs_bucket=self.access_logs, retain=retain, event_bridge=True,
            lifecycle=[cleanup, expiring("expire", days=90)],
        )  # fmt: skip


class PlatformSecrets(Construct):
    """Secrets set by the operator after the first deploy (Anthropic, Slack) and the
    checkpoint encryption key (generated)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        self.anthropic = secretsmanager.Secret(
            self, "Anthropic", secret_name=config.name("anthropic"),
            description="Anthropic API key: the key itself or {\"ANTHROPIC_API_KEY\": ...}."
                        " Empty until set; the offline provider runs meanwhile.",
        )  # fmt: skip
        self.slack = secretsmanager.Secret(
            self, "Slack", secret_name=config.name("slack"),
            description="Slack app: {\"bot_token\": \"xoxb-...\", \"signing_secret\": \"...\"}",
        )  # fmt: skip
        self.checkpoint_key = secretsmanager.Secret(
            self,
            "CheckpointKey",
            secret_name=config.name("checkpoint-key"),
            description="AES key encrypting LangGraph checkpoints (EncryptedSerializer)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=32, exclude_punctuation=True, include_space=False
            ),
        )
        for secret, reason in (
            (self.anthropic, "A third-party API key: it is rotated at Anthropic by the operator"
                             " and stored here with put-secret-value (README, Deploy to AWS)."),
            (self.slack, "Slack's bot token and signing secret are issued by Slack; the"
                         " operator rotates them in the Slack app and stores them here."),
            (self.checkpoint_key, "Rotating the AES key would make every stored checkpoint"
                                  " unreadable; it changes only with a re-encryption job."),
        ):  # fmt: skip
            nag.acknowledge(secret, "AwsSolutions-SMG4", reason)


class DataStack(Stack):
    """Everything stateful, and the migrations applied when the stack deploys."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig,
                 **kwargs: object) -> None:  # fmt: skip
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.network = Network(self, "Network", config=config)
        self.database = Database(self, "Database", config=config, network=self.network)
        self.buckets = ArtifactBuckets(self, "Buckets", config=config)
        self.secrets = PlatformSecrets(self, "Secrets", config=config)
        self.history = self._history(config)
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        nag.acknowledge(self.dead_letters, "AwsSolutions-SQS3",
                        "This queue is the dead-letter queue of the functions' asynchronous"
                        " invocations; it has none of its own.")  # fmt: skip
        self.migrator = make_function(self, "migrator", self.function_context(), self.values())
        self.grant_database(self.migrator)
        trigger = triggers.Trigger(
            self,
            "Migrate",
            handler=self.migrator,
            execute_after=[self.database.proxy, self.database.instance],
            execute_on_handler_change=True,
            timeout=Duration.minutes(5),
        )
        nag.acknowledge(trigger, "AwsSolutions-IAM4",
                        "CDK's trigger provider uses AWSLambdaBasicExecutionRole for its own"
                        " logs; it only invokes the migrator.")  # fmt: skip
        nag.acknowledge_children(self, "LogRetention", nag.CDK_PROVIDER_FINDINGS)
        nag.acknowledge_children(self, "BucketNotificationsHandler", nag.CDK_PROVIDER_FINDINGS)
        CfnOutput(self, "DatabaseSecretArn", value=self.database.secret.secret_arn)

    def _history(self, config: DeploymentConfig) -> efs.AccessPoint:
        """The per-project git history on EFS (encrypted, the functions' subnets)."""
        filesystem = efs.FileSystem(
            self,
            "History",
            vpc=self.network.vpc,
            vpc_subnets=self.network.functions,
            encrypted=True,
            performance_mode=efs.PerformanceMode.GENERAL_PURPOSE,
            throughput_mode=efs.ThroughputMode.ELASTIC,
            lifecycle_policy=efs.LifecyclePolicy.AFTER_30_DAYS,
            enable_automatic_backups=True,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        filesystem.connections.allow_default_port_from(self.network.function_sg)
        return filesystem.add_access_point(
            "HistoryAccess",
            path="/history",
            create_acl=efs.Acl(owner_uid="1000", owner_gid="1000", permissions="750"),
            posix_user=efs.PosixUser(uid="1000", gid="1000"),
        )

    def function_context(self) -> FunctionContext:
        """What this deployment's functions share (one per stack that makes functions)."""
        return FunctionContext(
            config=self.config,
            network=self.network.function_network(),
            dead_letter_queue=self.dead_letters,
            history=self.history,
        )

    def values(self) -> dict[str, str]:
        """The environment values this stack knows (see infra.environment)."""
        config = self.config
        return {
            "AGENTIC_MLOPS_DB_SECRET_ARN": self.database.secret.secret_arn,
            "AGENTIC_MLOPS_DB_HOST": self.database.proxy.endpoint,
            "AGENTIC_MLOPS_ARTIFACT_BUCKET": config.bucket_name("artifacts"),
            "AGENTIC_MLOPS_QUARANTINE_BUCKET": config.bucket_name("quarantine"),
            "AGENTIC_MLOPS_ANTHROPIC_SECRET": self.secrets.anthropic.secret_arn,
            "AGENTIC_MLOPS_SLACK_SECRET_ARN": self.secrets.slack.secret_arn,
            "AGENTIC_MLOPS_CHECKPOINT_KEY_SECRET": self.secrets.checkpoint_key.secret_arn,
            "AGENTIC_MLOPS_PROVIDER": config.provider,
            "AGENTIC_MLOPS_SLACK_CHANNEL": config.slack_channel,
            "AGENTIC_MLOPS_SLACK_USERS": config.slack_users,
            "AGENTIC_MLOPS_LOG_LEVEL": config.log_level,
            "AGENTIC_MLOPS_DELIVERY_REMOTE": config.delivery_remote,
            "AGENTIC_MLOPS_DELIVERY_TOKEN_SECRET": config.delivery_token_secret,
        }

    def grant_database(self, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` read the database secret (it connects through the proxy)."""
        self.database.secret.grant_read(grantee)

    def grant_artifacts(self, grantee: iam.IGrantable) -> None:
        """Read and write artifacts, and write quarantined payloads (no deletes: keys are
        content hashes; ListBucket so that a missing key is a 404, not a 403)."""
        config = self.config
        for statement in (
            iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"],
                                resources=[config.bucket_arn("artifacts", "*"),
                                           config.bucket_arn("quarantine", "*")]),
            iam.PolicyStatement(actions=["s3:ListBucket"],
                                resources=[config.bucket_arn("artifacts"),
                                           config.bucket_arn("quarantine")]),
        ):  # fmt: skip
            grantee.grant_principal.add_to_principal_policy(statement)
        for kind in ("artifacts", "quarantine"):
            nag.acknowledge(
                grantee.grant_principal,  # type: ignore[arg-type]
                nag.bucket_objects(config.name(kind)),
                "Artifacts are content-addressed ({kind}/sha256/…): keys are not known at"
                " deploy time; the grant is one bucket's objects, read and write, no delete.",
            )
