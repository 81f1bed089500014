"""The web stack: a private bucket served by CloudFront (origin access control) holding the
single-page app: the committed build in ``shared/agentic_mlops/local/web_dist``, the same
files ``agentic-mlops serve`` serves (``cd web && npm ci && npm run build`` writes it)."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra import nag
from infra.buckets import expiring, private_bucket
from infra.config import DeploymentConfig
from infra.packaging import ROOT

WEB_DIST = ROOT / "shared" / "agentic_mlops" / "local" / "web_dist"
"""The built web app (committed; a reproducible build of ``web/``, checked by scripts/test)."""


class WebStack(Stack):
    """The SPA's bucket and distribution; ``config.json`` is written by the API stack."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig,
                 **kwargs: object) -> None:  # fmt: skip
        super().__init__(scope, construct_id, **kwargs)
        self.logs = private_bucket(
            self,
            "CdnLogs",
            # CloudFront's standard logs are delivered with ACLs.
            ownership=s3.ObjectOwnership.OBJECT_WRITER,
            lifecycle=[expiring("expire", days=90, old_versions_days=7)],
            retain=config.retain_data,
        )
        nag.acknowledge(self.logs, "AwsSolutions-S1",
                        "This bucket receives CloudFront's and the site bucket's access logs;"
                        " logging it would log into itself.")  # fmt: skip
        self.site = private_bucket(
            self,
            "Site",
            name=config.bucket_name("site"),
            logs_bucket=self.logs,
            logs_prefix="site/",
            lifecycle=[expiring("old-versions", old_versions_days=30)],
            retain=False,  # the build is deployed again from the repository
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Cdn",
            comment=config.name("web"),
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.site),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
            ),
            error_responses=[
                cloudfront.ErrorResponse(http_status=code, response_http_status=200,
                                         response_page_path="/index.html",
                                         ttl=Duration.seconds(0))
                for code in (403, 404)
            ],
            enable_logging=True,
            log_bucket=self.logs,
            log_file_prefix="cdn/",
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
        )  # fmt: skip
        for finding, reason in (
            ("AwsSolutions-CFR1", "The app is for a team anywhere; access is by Cognito"
                                  " sign-in, not by country."),
            ("AwsSolutions-CFR2", "No WAF by default (about $6/month more): the distribution"
                                  " serves static files; the APIs need Cognito tokens."),
            ("AwsSolutions-CFR4", "Served on the default *.cloudfront.net certificate, which"
                                  " CloudFront pins to TLSv1; a custom domain with an ACM"
                                  " certificate gets TLSv1.2_2021 (already configured)."),
        ):  # fmt: skip
            nag.acknowledge(self.distribution, finding, reason)
        site = s3deploy.BucketDeployment(
            self,
            "SiteContent",
            destination_bucket=self.site,
            sources=[s3deploy.Source.asset(str(WEB_DIST))],
            exclude=["config.json"],
            prune=True,
            distribution=self.distribution,
            distribution_paths=["/*"],
            memory_limit=256,
        )
        del site
        nag.acknowledge_children(self, "Custom::CDKBucketDeployment", {
            **nag.CDK_PROVIDER_FINDINGS, **nag.BUCKET_DEPLOYMENT_FINDINGS,
            f"AwsSolutions-IAM5[Resource::<{self.get_logical_id(self.site.node.default_child)}.Arn>/*]":
                "The deployment replaces the site's files: it writes and prunes this bucket.",
        })  # fmt: skip
        CfnOutput(self, "WebUrl", value=f"https://{self.distribution.domain_name}")
