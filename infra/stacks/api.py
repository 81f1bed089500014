"""The API stack: Cognito, the REST API (Cognito authorizer: the ``claims`` auth mode), the
WebSocket API (a Lambda authorizer on ``$connect``), the Slack interactivity route, and the
web app's ``config.json``."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra import nag
from infra.config import DeploymentConfig
from infra.functions import make_function, retention
from infra.stacks.data import DataStack
from infra.stacks.web import WebStack
from infra.stacks.workflow import state_machine_arn

ROLE_GROUPS = ("requester", "approver")
"""Cognito groups the service maps to roles (``ROLE``, or ``PROJECT:ROLE`` for one project)."""
STAGE = "v1"
TOKEN_QUERY = "route.request.querystring.token"


class Identity(Construct):
    """The user pool (administrators create users; MFA with an authenticator app), the web
    app's client and its Hosted UI domain (authorization code + PKCE), and the role groups."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, origin: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.pool = cognito.UserPool(
            self,
            "Users",
            user_pool_name=config.name("users"),
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(
                min_length=12, require_digits=True, require_lowercase=True,
                require_uppercase=True, require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.ESSENTIALS,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )  # fmt: skip
        for finding in ("AwsSolutions-COG3", "AwsSolutions-COG8"):
            nag.acknowledge(self.pool, finding,
                            "Threat protection (advanced security ENFORCED) needs the Plus"
                            " feature plan, billed per active user; sign-in is admin-created"
                            " users with required TOTP MFA.")  # fmt: skip
        self.client = self.pool.add_client(
            "Web",
            auth_flows=cognito.AuthFlow(user_srp=True),
            generate_secret=False,
            prevent_user_existence_errors=True,
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
            # The web app signs in through the Hosted UI: authorization code with PKCE (a
            # public client, no secret), back to the app's own origin.
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL,
                        cognito.OAuthScope.PROFILE],
                callback_urls=[f"{origin}/"],
                logout_urls=[f"{origin}/"],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
        )  # fmt: skip
        self.domain = self.pool.add_domain(
            "HostedUi",
            cognito_domain=cognito.CognitoDomainOptions(
                domain_prefix=f"{config.name('signin')}-{Stack.of(self).account}"
            ),
        )
        for group in ROLE_GROUPS:
            cognito.CfnUserPoolGroup(
                self, f"Group{group.title()}", user_pool_id=self.pool.user_pool_id,
                group_name=group, description=f"Platform role {group} on every project",
            )  # fmt: skip


class ApiStack(Stack):
    """REST and WebSocket APIs and their functions."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        data: DataStack,
        web: WebStack,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.origin = config.web_origin or f"https://{web.distribution.domain_name}"
        self.identity = Identity(self, "Identity", config=config, origin=self.origin)
        self.ws_api = apigwv2.WebSocketApi(self, "WebSocket", api_name=config.name("ws"))
        self.ws_export = config.name("websocket-api-id")
        CfnOutput(self, "WebSocketApiId", value=self.ws_api.api_id, export_name=self.ws_export)
        host = f"{self.ws_api.api_id}.execute-api.{self.region}.{self.url_suffix}"
        self.ws_endpoint = f"https://{host}/{STAGE}"
        self.ws_url = f"wss://{host}/{STAGE}"
        self.state_machine_arn = state_machine_arn(self, config)
        values = {
            **data.values(),
            **self.values(),
            "AGENTIC_MLOPS_CORS_ORIGIN": self.origin,
        }
        context = data.function_context()
        self.functions = {
            name: make_function(self, name, context, values)
            for name in ("api", "websocket", "slack", "ws_authorizer")
        }
        for name in ("api", "websocket", "slack"):
            data.grant_database(self.functions[name])
            self.grant_streaming(self.functions[name])
        for name in ("api", "slack"):
            data.secrets.slack.grant_read(self.functions[name])
            self._grant_workflow(self.functions[name], start=name == "api")
        data.grant_artifacts(self.functions["api"])
        self.rest = self._rest_api(config)
        self.ws_stage = self._websocket(config)
        self._site_config(web)
        CfnOutput(self, "RestUrl", value=self.rest.url)
        CfnOutput(self, "WebSocketUrl", value=self.ws_url)
        CfnOutput(self, "UserPoolId", value=self.identity.pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=self.identity.client.user_pool_client_id)

    def values(self) -> dict[str, str]:
        """The environment values this stack knows (see infra.environment)."""
        return {
            "AGENTIC_MLOPS_WS_ENDPOINT": self.ws_endpoint,
            "AGENTIC_MLOPS_STATE_MACHINE_ARN": self.state_machine_arn,
            "AGENTIC_MLOPS_USER_POOL_ID": self.identity.pool.user_pool_id,
            "AGENTIC_MLOPS_USER_POOL_CLIENT_ID": self.identity.client.user_pool_client_id,
        }

    def grant_streaming(self, function: lambda_.IFunction) -> None:
        """Let ``function`` (of any stack) post to and drop this API's WebSocket connections."""
        stack = Stack.of(function)
        if stack is self:
            api_id = self.ws_api.api_id
            shown = f"<{self.get_logical_id(self.ws_api.node.default_child)}>"  # type: ignore[arg-type]
        else:
            api_id, shown = Fn.import_value(self.ws_export), self.ws_export
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["execute-api:ManageConnections"],
                resources=[stack.format_arn(service="execute-api", resource=api_id,
                                            resource_name=f"{STAGE}/*/@connections/*")],
            )
        )  # fmt: skip
        nag.acknowledge(function.role,  # type: ignore[arg-type]
                        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:"
                        f"<AWS::Region>:<AWS::AccountId>:{shown}/{STAGE}/*/@connections/*]",
                        "Connection ids are made by API Gateway at run time; the grant is"
                        " limited to this API's stage and its @connections resource.")  # fmt: skip

    def _grant_workflow(self, function: lambda_.IFunction, *, start: bool) -> None:
        """Resume waits (task tokens) and, for the API, start and read executions."""
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:SendTaskSuccess", "states:SendTaskFailure"], resources=["*"]
            )
        )
        nag.explain_wildcard(function.role,  # type: ignore[arg-type]
                             "Step Functions' task-token APIs (SendTaskSuccess/Failure) support"
                             " no resource-level permissions; the token itself names the wait.")
        if start:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["states:StartExecution"], resources=[self.state_machine_arn]
                )
            )

    def _rest_api(self, config: DeploymentConfig) -> apigw.RestApi:
        access_logs = logs.LogGroup(self, "RestAccessLogs",
                                    retention=retention(config.log_retention_days),
                                    removal_policy=RemovalPolicy.DESTROY)  # fmt: skip
        api = apigw.RestApi(
            self,
            "Rest",
            rest_api_name=config.name("api"),
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.DESTROY,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                throttling_rate_limit=config.api_rate_limit,
                throttling_burst_limit=config.api_burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False, http_method=True, ip=True, protocol=True,
                    request_time=True, resource_path=True, response_length=True,
                    status=True, user=True,
                ),
            ),
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=[self.origin],
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type"],
                max_age=Duration.hours(1),
            ),
        )  # fmt: skip
        api.add_request_validator(
            "Validate", validate_request_parameters=True, validate_request_body=True
        )
        authorizer = apigw.CognitoUserPoolsAuthorizer(
            self, "RestAuthorizer", cognito_user_pools=[self.identity.pool]
        )
        platform = apigw.LambdaIntegration(self.functions["api"])
        secured = {"authorizer": authorizer, "authorization_type": apigw.AuthorizationType.COGNITO}
        api.root.add_method("ANY", platform, **secured)
        api.root.add_resource("{proxy+}").add_method("ANY", platform, **secured)
        interactions = api.root.add_resource("slack").add_resource("interactions")
        interactions.add_method("POST", apigw.LambdaIntegration(self.functions["slack"]))
        slack_post = interactions.node.find_child("POST")
        for finding in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
            nag.acknowledge(slack_post, finding,
                            "Slack calls this route; it carries no Cognito token. The function"
                            " verifies Slack's signature (v0 HMAC, 5-minute window) before"
                            " anything else.")  # fmt: skip
        for resource in (api.root, *api.root.node.children):
            preflight = resource.node.try_find_child("OPTIONS")
            for child in [preflight] if preflight else []:
                for finding in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
                    nag.acknowledge(child, finding,
                                    "CORS preflight (OPTIONS, a mock integration) cannot carry"
                                    " credentials: browsers send it without them.")  # fmt: skip
        for path in ("slack", "slack/interactions"):
            node = api.root.resource_for_path(path).node.try_find_child("OPTIONS")
            if node is not None:
                for finding in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
                    nag.acknowledge(node, finding, "CORS preflight (OPTIONS) carries no"
                                    " credentials: browsers send it without them.")  # fmt: skip
        nag.acknowledge(api, "AwsSolutions-APIG3",
                        "No WAF by default (about $6/month more): every route but Slack's needs"
                        " a Cognito token, the stage is throttled, and Slack's route checks a"
                        " signature. Attach a web ACL to the stage where policy requires it.")
        nag.acknowledge(api, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                        "service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
                        "API Gateway's account-level CloudWatch role uses AWS's"
                        " AmazonAPIGatewayPushToCloudWatchLogs, the policy made for it.")
        return api

    def _websocket(self, config: DeploymentConfig) -> apigwv2.WebSocketStage:
        authorizer = authorizers.WebSocketLambdaAuthorizer(
            "Authorizer", self.functions["ws_authorizer"], identity_source=[TOKEN_QUERY]
        )
        streams = self.functions["websocket"]
        self.ws_api.add_route(
            "$connect",
            integration=integrations.WebSocketLambdaIntegration("Connect", streams),
            authorizer=authorizer,
        )
        for route in ("$disconnect", "$default"):
            added = self.ws_api.add_route(
                route,
                integration=integrations.WebSocketLambdaIntegration(
                    route.strip("$").title() + "Integration", streams),
            )
            nag.acknowledge(added, "AwsSolutions-APIG4",
                            "API Gateway authorizes a WebSocket once, on $connect (Lambda"
                            " authorizer); later messages of that connection carry its"
                            " identity, which the function checks per subscription.")  # fmt: skip
        access_logs = logs.LogGroup(self, "WsAccessLogs",
                                    retention=retention(config.log_retention_days),
                                    removal_policy=RemovalPolicy.DESTROY)  # fmt: skip
        stage = apigwv2.WebSocketStage(
            self,
            "WsStage",
            web_socket_api=self.ws_api,
            stage_name=STAGE,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=config.api_rate_limit, burst_limit=config.api_burst_limit
            ),
        )
        cfn = stage.node.default_child
        cfn.access_log_settings = apigwv2.CfnStage.AccessLogSettingsProperty(  # type: ignore[union-attr]
            destination_arn=access_logs.log_group_arn,
            format=(
                '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
                '"requestTime":"$context.requestTime","routeKey":"$context.routeKey",'
                '"status":"$context.status","connectionId":"$context.connectionId",'
                '"error":"$context.error.message","authorizerError":"$context.authorizer.error"}'
            ),
        )
        stage.node.add_dependency(self.rest.node.find_child("Account"))
        return stage

    def _site_config(self, web: WebStack) -> None:
        """Write ``config.json`` (the APIs' URLs and the Cognito client) beside the web app."""
        deployment = s3deploy.BucketDeployment(
            self,
            "SiteConfig",
            destination_bucket=s3.Bucket.from_bucket_name(
                self, "SiteBucket", self.config.bucket_name("site")),
            sources=[
                s3deploy.Source.json_data(
                    "config.json",
                    {
                        "apiUrl": self.rest.url,
                        "webSocketUrl": self.ws_url,
                        "region": self.region,
                        "userPoolId": self.identity.pool.user_pool_id,
                        "userPoolClientId": self.identity.client.user_pool_client_id,
                        "auth": "cognito",
                        "cognitoDomain": self.identity.domain.base_url(),
                        "redirectUri": f"{self.origin}/",
                        "scopes": "openid email profile",
                    },
                )
            ],
            prune=False,
            distribution=web.distribution,
            distribution_paths=["/config.json"],
            memory_limit=256,
        )
        site_objects = nag.bucket_objects(self.config.name("site"))
        del deployment
        nag.acknowledge_children(self, "Custom::CDKBucketDeployment", {
            **nag.CDK_PROVIDER_FINDINGS, **nag.BUCKET_DEPLOYMENT_FINDINGS,
            site_objects: "The deployment writes config.json into the site bucket only.",
        })  # fmt: skip

