"""The observability stack: alarms (failed executions, function errors and throttles, dead
letters, the quarantine bucket receiving objects) to one topic, and a dashboard."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import DeploymentConfig

PERIOD = Duration.minutes(5)


class ObservabilityStack(Stack):
    """Alarms and the dashboard of one deployment."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        state_machine: sfn.IStateMachine,
        functions: Mapping[str, lambda_.IFunction],
        dead_letters: sqs.IQueue,
        quarantine: s3.IBucket,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.topic = sns.Topic(
            self,
            "Alarms",
            display_name=config.name("alarms"),
            enforce_ssl=True,
            master_key=kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns"),
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []
        for metric, name in (
            (state_machine.metric_failed(period=PERIOD), "ExecutionsFailed"),
            (state_machine.metric_timed_out(period=PERIOD), "ExecutionsTimedOut"),
            (state_machine.metric_aborted(period=PERIOD), "ExecutionsAborted"),
        ):
            self._alarm(name, metric, f"Workflow executions: {name}")
        for function_name, function in sorted(functions.items()):
            title = "".join(part.title() for part in function_name.split("_"))
            self._alarm(f"{title}Errors", function.metric_errors(period=PERIOD),
                        f"{function_name}: invocations that failed")
            self._alarm(f"{title}Throttles", function.metric_throttles(period=PERIOD),
                        f"{function_name}: throttled invocations")  # fmt: skip
        self._alarm(
            "DeadLetters",
            dead_letters.metric_approximate_number_of_messages_visible(period=PERIOD,
                                                                        statistic="Maximum"),
            "Asynchronous invocations that failed every retry",
        )  # fmt: skip
        quarantined = events.Rule(
            self,
            "Quarantined",
            description="An object landed in the quarantine bucket",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={"bucket": {"name": [quarantine.bucket_name]}},
            ),
            targets=[targets.SnsTopic(self.topic)],
        )
        quarantine_metric = cloudwatch.Metric(
            namespace="AWS/Events",
            metric_name="TriggeredRules",
            dimensions_map={"RuleName": quarantined.rule_name},
            period=PERIOD,
            statistic="Sum",
        )
        self._alarm("QuarantineReceived", quarantine_metric,
                    "A payload was quarantined (invalid model output or a failed run)")  # fmt: skip
        self.dashboard = self._dashboard(config, state_machine, functions, quarantine_metric)

    def _alarm(self, name: str, metric: cloudwatch.IMetric, description: str) -> None:
        alarm = cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)

    def _dashboard(
        self,
        config: DeploymentConfig,
        state_machine: sfn.IStateMachine,
        functions: Mapping[str, lambda_.IFunction],
        quarantine: cloudwatch.IMetric,
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=config.name("platform"))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Workflow executions",
                left=[state_machine.metric_started(period=PERIOD),
                      state_machine.metric_succeeded(period=PERIOD),
                      state_machine.metric_failed(period=PERIOD)],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=12),
        )  # fmt: skip
        ordered = sorted(functions.items())
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Function errors",
                                   left=[f.metric_errors(period=PERIOD, label=n)
                                         for n, f in ordered],
                                   width=8),
            cloudwatch.GraphWidget(title="Function duration (p90)",
                                   left=[f.metric_duration(period=PERIOD, statistic="p90", label=n)
                                         for n, f in ordered], width=8),
            cloudwatch.GraphWidget(title="Quarantined payloads", left=[quarantine], width=8),
        )  # fmt: skip
        return dashboard
