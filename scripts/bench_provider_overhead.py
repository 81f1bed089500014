"""Benchmark: the latency the provider layer adds to a model call.

Both sides call the same fake Messages API (``tests/anthropic_fake.py``: an in-process HTTP
transport under the real ``anthropic`` SDK, answering the plan tool with a valid plan):

- **direct**: ``client.messages.create(**request)`` with a prebuilt request body, the SDK's
  own retries off, the answer left unparsed beyond the SDK's own parsing;
- **provider**: ``AnthropicProvider.plan(constraints)``, i.e. building the request from the
  few-shot pack and the inputs, the circuit breaker, the retry wrapper, the schema-first
  validation of the tool input against ``PlanAnswer`` and the fallback bookkeeping (the
  ``ProviderCall`` record and the log line).

Calls are timed one by one with ``time.perf_counter``, in ``--rounds`` interleaved rounds of
``--calls`` calls per side (the side that goes first alternates), after a discarded warm-up
round. Reported: median and p95 per call for each side, the added latency (difference of
the medians) and the ratio. No target: the figures inform.

Usage: .venv/bin/python scripts/bench_provider_overhead.py [--calls 200] [--rounds 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentic_mlops.settings import provider_settings

ROOT = Path(__file__).resolve().parent.parent
WORKLOAD = "batch_tabular"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _timed(fn: Callable[[], Any], calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per side and round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "tests"))
    import anthropic_fake as af

    from agentic_mlops.providers import resilience
    from agentic_mlops.providers.anthropic_provider import AnthropicProvider, plan_inputs
    from agentic_mlops.providers.offline import OfflineProvider

    logging.disable(logging.INFO)  # the provider logs each answer; httpx2 logs each request
    request_text = json.loads((ROOT / "tests" / "golden" / "workloads.json").read_text())[WORKLOAD][
        "request"
    ]
    offline = OfflineProvider()
    constraints = offline.extract_constraints(request_text, {}).value.constraints
    planned = offline.plan(constraints)
    reply = af.tool_use(
        "record_plan",
        {
            "plan": planned.value.model_dump(mode="json"),
            "explanation": planned.explanation.model_dump(mode="json"),
        },
    )
    fake = af.FakeAnthropic(responder=lambda recorded: reply)

    resilience.reset_breakers()
    settings = provider_settings({"ANTHROPIC_API_KEY": "sk-bench"})
    provider = AnthropicProvider(settings, http_client=fake.http_client())
    client = fake.client()
    request = provider.build_request("plan", settings.model, plan_inputs(constraints))

    def direct() -> Any:
        return client.messages.create(**request)

    def layered() -> Any:
        result = provider.plan(constraints)
        assert result.metadata is not None and result.metadata.provider == "anthropic"
        return result

    sides = {"direct": direct, "provider": layered}
    samples: dict[str, list[float]] = {name: [] for name in sides}
    _timed(direct, min(args.calls, 20))
    _timed(layered, min(args.calls, 20))
    for round_number in range(args.rounds):
        order = list(sides) if round_number % 2 == 0 else list(reversed(sides))
        for name in order:
            samples[name].extend(_timed(sides[name], args.calls))
    fake.requests.clear()

    report: dict[str, Any] = {"calls_per_side": args.calls * args.rounds, "rounds": args.rounds}
    for name, values in samples.items():
        report[name] = {
            "median_ms": round(statistics.median(values) * 1000, 3),
            "p95_ms": round(_percentile(values, 0.95) * 1000, 3),
        }
    added = report["provider"]["median_ms"] - report["direct"]["median_ms"]
    report["added_median_ms"] = round(added, 3)
    report["added_p95_ms"] = round(report["provider"]["p95_ms"] - report["direct"]["p95_ms"], 3)
    ratio = report["provider"]["median_ms"] / report["direct"]["median_ms"]
    report["ratio_median"] = round(ratio, 2)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"provider layer overhead, {report['calls_per_side']} calls per side (plan tool):")
    print(f"{'':>10} {'median ms':>10} {'p95 ms':>10}")
    for name in sides:
        print(f"{name:>10} {report[name]['median_ms']:>10.3f} {report[name]['p95_ms']:>10.3f}")
    print(
        f"added latency per call: {report['added_median_ms']:.3f} ms median,"
        f" {report['added_p95_ms']:.3f} ms p95 (ratio {report['ratio_median']}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
