"""Readable terminal rendering of events, outcomes and timelines (rich)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from agentic_mlops.workflow.registry import NODE_ORDER

if TYPE_CHECKING:
    from agentic_mlops.service.reads import DecisionSetRead

_STATUS_STYLE = {
    "approved": "bold green",
    "rejected": "bold red",
    "failed": "bold red",
    "awaiting_input": "bold yellow",
    "awaiting_approval": "bold yellow",
}


def _money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.2f}"


def render_event(console: Console, message: dict[str, Any]) -> None:
    """Print one streamed event."""
    kind = message["type"]
    payload = message["payload"]
    renderer = _RENDERERS.get(kind)
    if renderer is not None:
        renderer(console, payload)


def _reason_card(console: Console, card: dict[str, Any]) -> None:
    position = NODE_ORDER.index(card["node"]) + 1 if card["node"] in NODE_ORDER else 0
    body = Text()
    body.append(card["decision"] + "\n", style="bold")
    body.append(card["rationale"])
    if card.get("alternatives"):
        body.append("\nAlternatives: ", style="dim")
        body.append(
            "; ".join(f"{a['option']} ({a['reason']})" for a in card["alternatives"]), style="dim"
        )
    footer = (
        f"confidence {card['confidence']:.2f} · {card['provider']}/{card['model']} ·"
        f" inputs {card['inputs_digest'][:10]} · {card['duration_ms']:.0f} ms"
    )
    console.print(
        Panel(
            body,
            title=f"[{position}/{len(NODE_ORDER)}] {card['node']}",
            title_align="left",
            subtitle=footer,
            subtitle_align="right",
            border_style="cyan",
        )
    )


def cost_table(cost: dict[str, Any]) -> Table:
    """Return the cost estimate as a table."""
    table = Table(
        title=f"Monthly cost estimate ({cost['region']}) — catalogue {cost['catalogue_date']}",
        title_justify="left",
    )
    for column in ("env", "component", "item", "quantity", "unit price", "monthly"):
        table.add_column(column, justify="right" if column in {"quantity", "monthly"} else "left")
    for item in cost["line_items"]:
        table.add_row(
            item.get("environment", ""),
            item["component_id"],
            item["description"],
            f"{item['quantity']:,.2f} {item['unit']}",
            f"${item['unit_price_usd']:,.4f}",
            _money(item["monthly_usd"]),
        )
    budget = cost.get("budget_monthly_usd")
    verdict = (
        ""
        if cost.get("within_budget") is None
        else (" within budget" if cost["within_budget"] else " OVER BUDGET")
    )
    for env in cost.get("environments", []):
        table.add_row("", "", f"{env['name']} subtotal", "", "", _money(env["monthly_usd"]))
    table.add_row(
        "",
        "",
        "[bold]total[/bold]",
        "",
        f"budget {_money(budget)}",
        f"[bold]{_money(cost['monthly_total_usd'])}[/bold]{verdict}",
    )
    return table


def _cost_update(console: Console, cost: dict[str, Any]) -> None:
    console.print(cost_table(cost))
    for finding in cost.get("findings", []):
        saving = finding.get("estimated_monthly_saving_usd")
        extra = f" (saves ~{_money(saving)}/month)" if saving else ""
        console.print(f"  • [{finding['severity']}] {finding['title']}{extra}")


def policy_table(report: dict[str, Any]) -> Table:
    """Return the policy report as a table."""
    table = Table(
        title=f"Policy ({report['ruleset']}): {report['overall'].upper()}", title_justify="left"
    )
    for column in ("rule", "severity", "status", "evidence"):
        table.add_column(column)
    styles = {"pass": "green", "fail": "bold red", "not_applicable": "dim"}
    for result in report["results"]:
        table.add_row(
            result["rule_id"],
            result["severity"],
            f"[{styles[result['status']]}]{result['status']}[/]",
            result["evidence"],
        )
    return table


def _policy_update(console: Console, report: dict[str, Any]) -> None:
    console.print(policy_table(report))


def _question(console: Console, payload: dict[str, Any]) -> None:
    lines = []
    for q in payload["questions"]:
        lines.append(f"• [bold]{q['field']}[/bold]: {q['question']}")
        lines.append(f"  [dim]{q['why']}[/dim]")
        if q.get("examples"):
            lines.append(f"  [dim]e.g. {' · '.join(q['examples'][:3])}[/dim]")
    console.print(Panel("\n".join(lines), title="Questions", border_style="yellow"))


def _approval_requested(console: Console, payload: dict[str, Any]) -> None:
    lines = [
        f"Plan: [bold]{payload['plan']}[/bold] in {payload['region']}",
        payload["summary"],
        f"Services: {', '.join(payload['services'])}",
        f"Monthly estimate: {_money(payload['monthly_total_usd'])}"
        f" (budget {_money(payload['budget_monthly_usd'])})",
        f"Policy: {payload['policy']}"
        + (f" — failed: {', '.join(payload['failed_rules'])}" if payload["failed_rules"] else ""),
        f"Technical verdict: {payload['technical_verdict']}",
    ]
    console.print(Panel("\n".join(lines), title="Approval requested", border_style="magenta"))


def _constraints_update(console: Console, payload: dict[str, Any]) -> None:
    for change in payload.get("changes", []):
        console.print(
            f"  constraint [bold]{change['field']}[/bold]: {change['old']!r} → {change['new']!r}"
            f" (from “{change['source']}”)"
        )


_VERDICTS = {"passed": "PASSED", "passed_with_skips": "PASSED WITH SKIPS", "failed": "FAILED"}


def _verdict(report: dict[str, Any]) -> str:
    outcome = report.get("outcome") or ("passed" if report["passed"] else "failed")
    return _VERDICTS.get(outcome, outcome.upper())


def _validation_report(console: Console, report: dict[str, Any]) -> None:
    table = Table(
        title=f"Validation: {_verdict(report)} ({report['isolation']})",
        title_justify="left",
    )
    for column in ("validator", "status", "findings", "detail"):
        table.add_column(column)
    styles = {"passed": "green", "failed": "bold red", "skipped": "yellow", "error": "bold red"}
    for validator in report["validators"]:
        table.add_row(
            validator["name"],
            f"[{styles[validator['status']]}]{validator['status']}[/]",
            str(len(validator["findings"])),
            validator.get("detail", ""),
        )
    console.print(table)
    for skip in report.get("skips", []):
        console.print(f"[yellow]skipped[/] {skip['validator']}: {skip['reason']}")


def _run_complete(console: Console, payload: dict[str, Any]) -> None:
    outcome = payload["outcome"]
    console.print(f"[{_STATUS_STYLE.get(outcome, 'bold')}]Run complete: {outcome}[/]")


_RENDERERS = {
    "reason-card": _reason_card,
    "cost-update": _cost_update,
    "policy-update": _policy_update,
    "question": _question,
    "approval-requested": _approval_requested,
    "constraints-update": _constraints_update,
    "validation-report": _validation_report,
    "run-complete": _run_complete,
}


def render_outcome(console: Console, outcome: DecisionSetRead) -> None:
    """Print where a decision set stands and what to do next."""
    ds = outcome.decision_set
    style = _STATUS_STYLE.get(ds.status, "bold")
    parts: list[Any] = [
        Text.from_markup(f"Decision set [bold]{ds.id}[/bold]: [{style}]{ds.status}[/]")
    ]
    state = outcome.state
    if state is not None and state.cost is not None:
        parts.append(
            Text(
                f"Monthly estimate {_money(state.cost.monthly_total_usd)}"
                f" for budget {_money(state.cost.budget_monthly_usd)};"
                f" policy {state.policy.overall if state.policy else '—'}"
            )
        )
    if state is not None and state.bundle is not None:
        parts.append(Text(f"Bundle {state.bundle.key}\n  sha256 {state.bundle.sha256}"))
    if state is not None and state.validation is not None:
        report = state.validation
        statuses = ", ".join(f"{v.name} {v.status}" for v in report.validators)
        parts.append(Text(f"Validation {report.verdict()}: {statuses}"))
        parts.extend(Text(f"  skipped {s.validator}: {s.reason}") for s in report.skips)
    if state is not None and state.commit is not None:
        parts.append(Text(f"Commit {state.commit.sha}"))
    hint = next_step_hint(outcome)
    if hint:
        parts.append(Text(hint, style="dim"))
    console.print(Panel(Group(*parts), border_style=style.split()[-1]))


def next_step_hint(outcome: DecisionSetRead) -> str | None:
    """Return the command that continues a paused decision set."""
    ds_id = outcome.decision_set.id
    if outcome.status == "awaiting_input" and outcome.pending is not None:
        fields = [q["field"] for q in outcome.pending.request.get("questions", [])]
        answers = " ".join(f"--answer {f}=..." for f in fields)
        return f"Continue with: agentic-mlops answer {ds_id} {answers}"
    if outcome.status == "running":
        return (
            f"The workflow runs on Step Functions; follow it with: agentic-mlops status {ds_id}"
            f" or agentic-mlops events {ds_id}"
        )
    if outcome.status == "awaiting_approval":
        return (
            f"Continue with: agentic-mlops approve {ds_id} [--comment TEXT]"
            f"  or  agentic-mlops reject {ds_id} [--comment TEXT]"
        )
    return None


def render_timeline(console: Console, events: list[dict[str, Any]]) -> None:
    """Print a decision set's timeline, one event a line."""
    console.print(f"[bold]Timeline[/bold] ({len(events)} events)")
    for event in events:
        checkpoint = event.get("checkpoint_id")
        line = Text()
        line.append(f"{event['seq']:>4} {event['created_at'][11:19]} ", style="dim")
        line.append(f"{event['type']:<19}", style="cyan")
        line.append(f"{event.get('node') or '':<26}")
        line.append(summarize(event))
        if checkpoint:
            line.append(f"  [checkpoint …{checkpoint[-8:]}]", style="dim")
        console.print(line)


def summarize(event: dict[str, Any]) -> str:
    """Return a one-line summary of an event."""
    payload = event["payload"]
    kind = event["type"]
    if kind == "reason-card":
        return str(payload["decision"])
    if kind == "cost-update":
        return f"{_money(payload['monthly_total_usd'])}/month, {len(payload['line_items'])} lines"
    if kind == "policy-update":
        failed = [r["rule_id"] for r in payload["results"] if r["status"] == "fail"]
        return f"{payload['overall']}" + (f" (failed {', '.join(failed)})" if failed else "")
    if kind == "question":
        return "asked: " + ", ".join(q["field"] for q in payload["questions"])
    if kind == "answer-received":
        return "answered: " + ", ".join(payload["answers"])
    if kind == "approval-requested":
        return f"{payload['plan']} at {_money(payload['monthly_total_usd'])}/month"
    if kind == "approval-decided":
        return f"{payload['decision']} by {payload['approver']}" + (
            f": {payload['comment']}" if payload.get("comment") else ""
        )
    if kind == "constraints-update":
        changes = payload.get("changes")
        if changes:
            return "changed " + ", ".join(c["field"] for c in changes)
        return "constraints extracted"
    if kind == "validation-report":
        return f"{_verdict(payload)} {payload['counts']}"
    if kind == "run-complete":
        return str(payload["outcome"])
    return ""


def render_change_summary(console: Console, summary: Any) -> None:
    """Print a Change Summary: changed constraints, field changes, files and the git diff."""
    from rich.syntax import Syntax

    title = f"Change Summary of {summary.decision_set_id}"
    if summary.parent_id:
        title += f" against {summary.parent_id}"
    console.print(f"[bold]{title}[/bold]")
    if summary.change_request:
        console.print(f"Requested change: “{summary.change_request}”")
    if not summary.parent_id:
        console.print("No parent: this is the first decision set of its line.")
    else:
        console.print("Changed constraints: " + (", ".join(summary.changed_constraints) or "none"))
        table = Table(title=f"State diff ({len(summary.fields)} fields)", title_justify="left")
        for column in ("field", "change", "from", "to"):
            table.add_column(column, overflow="fold")
        for change in summary.fields[:60]:
            table.add_row(change.path, change.change, _short(change.old), _short(change.new))
        console.print(table)
        if len(summary.fields) > 60:
            console.print(f"… and {len(summary.fields) - 60} more (use --json for all)")
    if summary.files:
        console.print("Files: " + ", ".join(f"{f.status} {f.path}" for f in summary.files))
    if summary.git_diff:
        console.print(Syntax(summary.git_diff, "diff", word_wrap=True))


def _short(value: Any, limit: int = 60) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
