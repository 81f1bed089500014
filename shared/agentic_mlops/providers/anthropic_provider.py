"""The Anthropic provider: Claude through the official SDK, failing safely.

Every orchestration method is one forced tool call whose input schema is the method's
answer model (:mod:`.answers`); the request is built from the method's few-shot pack and
the inputs alone (canonical JSON), so it is reproducible byte for byte. Around each call:

- **retries** of transient failures with backoff honouring ``retry-after``, and a
  **circuit breaker** per model (:mod:`.resilience`); the SDK's own retries are off;
- a **fallback chain**: the primary model, the secondary model, then the offline provider
  (unless ``AGENTIC_MLOPS_OFFLINE_FALLBACK=false``; with no provider left the call raises
  :class:`~agentic_mlops.errors.ProviderUnavailable`, which the state machine retries);
- **schema-first validation**: the tool input is validated at once; the errors go back to
  the model in a follow-up turn; after :data:`DETERMINISM_BUDGET` invalid answers,
  :class:`~agentic_mlops.errors.DeterminismBudgetExceeded` carries the payloads for
  quarantine (no fallback: an unvalidated answer never gets through, and a model that
  cannot answer the schema is a defect to triage, not an outage).

Who answered, with which pack and prompt digest, after how many turns, and why a fallback
happened is returned with every result (:class:`~agentic_mlops.domain.ProviderCall`) and
logged. ``parse_answer`` stays offline: answers are user input read by deterministic field
parsers, checked synchronously before a run starts.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from pydantic import ValidationError

from agentic_mlops.canonical import canonical_json, canonical_json_hash
from agentic_mlops.domain import (
    ConstraintSchema,
    CostEstimate,
    Explanation,
    FeedbackResult,
    Finding,
    Plan,
    ProviderCall,
    ProviderResult,
    Question,
    TechnicalCritique,
)
from agentic_mlops.domain.constraints import ANSWERABLE_FIELDS
from agentic_mlops.domain.services import CAPABILITIES, SERVICES
from agentic_mlops.errors import DeterminismBudgetExceeded, ProviderUnavailable
from agentic_mlops.providers import resilience
from agentic_mlops.providers.answers import (
    ANSWERS,
    Answer,
    CostReviewAnswer,
    ExtractionAnswer,
    FeedbackAnswer,
    PlanAnswer,
    QuestionsAnswer,
    TechnicalCritiqueAnswer,
    tool_name,
)
from agentic_mlops.providers.base import Extraction, OrchestrationProvider
from agentic_mlops.providers.fewshot import FewShotPack, PackRegistry
from agentic_mlops.providers.settings import ProviderSettings, resolve_api_key

logger = logging.getLogger(__name__)

DETERMINISM_BUDGET = 3
"""Model answers (the first and the corrections) allowed before the payloads are quarantined."""
MAX_ERRORS_SHOWN = 20

V = TypeVar("V")
A = TypeVar("A", bound=Answer)


class ModelUnavailable(Exception):
    """A model (or the client) cannot answer now; the next provider of the chain is asked."""


@dataclass(frozen=True)
class Answered:
    """A validated answer and how it was obtained."""

    answer: Answer
    model: str
    attempts: int
    prompt_digest: str


class AnthropicProvider(OrchestrationProvider):
    """Claude models behind the orchestration interface, with breakers and fallbacks.

    Args:
        settings: the configuration (see :class:`ProviderSettings`).
        http_client: the HTTP client handed to the SDK (tests pass one on a fake transport).
        sleep: the sleep used between retries (tests pass a recorder).
        rng: the jitter source, a float in [0, 1).
        offline: the last fallback; the offline provider when None and the settings allow it.
        packs: the few-shot pack registry; from ``settings.pack_dir`` (or the packaged
            packs) when None.
    """

    name = "anthropic"

    def __init__(
        self,
        settings: ProviderSettings,
        *,
        http_client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        offline: OrchestrationProvider | None = None,
        packs: PackRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.model = settings.model
        self.models = settings.models()
        self._http_client = http_client
        self._client: Any = None
        self._retry = resilience.RetryPolicy(
            retries=settings.retries, max_wait_s=settings.retry_max_wait_s, sleep=sleep, rng=rng
        )
        if offline is None and settings.offline_fallback:
            from agentic_mlops.providers.offline import OfflineProvider

            offline = OfflineProvider()
        self._offline = offline if settings.offline_fallback else None
        self.packs = packs or PackRegistry(settings.pack_dir)

    def __repr__(self) -> str:
        return f"AnthropicProvider(models={self.models!r}, offline={self._offline is not None})"

    # the interface ----------------------------------------------------------------------

    def pack_hash(self) -> str:
        """Return the hash over every pack's id (each result names its own pack)."""
        return self.packs.manifest_hash()

    def extract_constraints(
        self, request: str, answers: dict[str, str]
    ) -> ProviderResult[Extraction]:
        """Read constraints from the request; the answers (parsed offline) override them."""

        def convert(answer: ExtractionAnswer) -> tuple[Extraction, Explanation]:
            constraints, evidence = _apply_answers(answer.constraints, answer.evidence, answers)
            return Extraction(constraints=constraints, evidence=evidence), answer.explanation

        return self._ask(
            "extract_constraints",
            {"request": request, "answers": answers},
            convert,
            lambda offline: offline.extract_constraints(request, answers),
        )

    def parse_answer(self, field: str, value: str) -> Any:
        """Read an answer with the offline field parsers (deterministic, no model call)."""
        from agentic_mlops.providers.offline import extraction

        return extraction.parse_answer(field, value)

    def ask_questions(
        self, constraints: ConstraintSchema, missing: list[str]
    ) -> ProviderResult[list[Question]]:
        """Return one question per missing mandatory field, in the order given."""

        def convert(answer: QuestionsAnswer) -> tuple[list[Question], Explanation]:
            order = {field: index for index, field in enumerate(missing)}
            questions = sorted(answer.questions, key=lambda q: order.get(q.field, len(order)))
            return questions, answer.explanation

        return self._ask(
            "ask_questions",
            {"constraints": _json(constraints), "missing": list(missing)},
            convert,
            lambda offline: offline.ask_questions(constraints, missing),
        )

    def plan(self, constraints: ConstraintSchema) -> ProviderResult[Plan]:
        """Propose an architecture built from the platform's service catalogue."""

        def convert(answer: PlanAnswer) -> tuple[Plan, Explanation]:
            return answer.plan, answer.explanation

        return self._ask(
            "plan",
            plan_inputs(constraints),
            convert,
            lambda offline: offline.plan(constraints),
        )

    def critique_technical(
        self, constraints: ConstraintSchema, plan: Plan
    ) -> ProviderResult[TechnicalCritique]:
        """Find the plan's technical weaknesses."""

        def convert(answer: TechnicalCritiqueAnswer) -> tuple[TechnicalCritique, Explanation]:
            return answer.critique, answer.explanation

        return self._ask(
            "critique_technical",
            {"constraints": _json(constraints), "plan": _json(plan)},
            convert,
            lambda offline: offline.critique_technical(constraints, plan),
        )

    def critique_cost(
        self, constraints: ConstraintSchema, plan: Plan, estimate: CostEstimate
    ) -> ProviderResult[list[Finding]]:
        """Review the priced estimate (prices come from the catalogue, not the model)."""

        def convert(answer: CostReviewAnswer) -> tuple[list[Finding], Explanation]:
            return answer.findings, answer.explanation

        return self._ask(
            "critique_cost",
            {"constraints": _json(constraints), "plan": _json(plan), "estimate": _json(estimate)},
            convert,
            lambda offline: offline.critique_cost(constraints, plan, estimate),
        )

    def interpret_feedback(
        self, comment: str, constraints: ConstraintSchema
    ) -> ProviderResult[tuple[ConstraintSchema, FeedbackResult]]:
        """Apply an approver's comment to the constraints."""

        def convert(
            answer: FeedbackAnswer,
        ) -> tuple[tuple[ConstraintSchema, FeedbackResult], Explanation]:
            return (answer.constraints, answer.feedback), answer.explanation

        return self._ask(
            "interpret_feedback",
            {"comment": comment, "constraints": _json(constraints)},
            convert,
            lambda offline: offline.interpret_feedback(comment, constraints),
        )

    # requests ---------------------------------------------------------------------------

    def build_request(self, method: str, model: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """Return the Messages API request body for one method call.

        It depends only on the method's pack, the model, the settings and the inputs, so
        the same pack and inputs give the same body, byte for byte.
        """
        pack = self.packs.get(method)
        tool = tool_name(method)
        request: dict[str, Any] = {
            "model": model,
            "max_tokens": self.settings.max_tokens,
            "system": pack.prompt,
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": _user_text(tool, inputs)}]}
            ],
            "tools": [
                {
                    "name": tool,
                    "description": pack.tool_description,
                    "input_schema": _schema(method),
                }
            ],
            "tool_choice": {"type": "tool", "name": tool},
        }
        if self.settings.temperature is not None and _sdk_accepts_temperature():
            request["temperature"] = self.settings.temperature
        return request

    # the chain --------------------------------------------------------------------------

    def _ask(
        self,
        method: str,
        inputs: dict[str, Any],
        convert: Callable[[Any], tuple[V, Explanation]],
        offline_call: Callable[[OrchestrationProvider], ProviderResult[V]],
    ) -> ProviderResult[V]:
        pack = self.packs.get(method)
        reasons: list[str] = []
        models = self.models
        try:
            self._get_client()
        except ModelUnavailable as exc:
            reasons.append(str(exc))
            models = []
        for model in models:
            try:
                answered = self._answer(method, model, pack, inputs)
            except ModelUnavailable as exc:
                reasons.append(str(exc))
                logger.info("provider fallback for %s: %s", method, exc)
                continue
            value, explanation = convert(answered.answer)
            call = ProviderCall(
                provider=self.name,
                model=model,
                few_shot_pack_hash=pack.id,
                few_shot_pack=pack.ref,
                prompt_digest=answered.prompt_digest,
                attempts=answered.attempts,
                fallback_reason="; ".join(reasons) or None,
            )
            _log_answer(method, call)
            return ProviderResult(value=value, explanation=explanation, metadata=call)
        return self._fall_back(method, reasons, offline_call)

    def _fall_back(
        self,
        method: str,
        reasons: list[str],
        offline_call: Callable[[OrchestrationProvider], ProviderResult[V]],
    ) -> ProviderResult[V]:
        summary = "; ".join(reasons)
        if self._offline is None:
            raise ProviderUnavailable(
                f"every provider is unavailable for {method} (offline fallback disabled): {summary}"
            )
        result = offline_call(self._offline)
        call = ProviderCall(
            provider=self._offline.name,
            model=self._offline.model,
            few_shot_pack_hash=self._offline.pack_hash(),
            attempts=1,
            fallback_reason=f"{', '.join(self.models)} unavailable: {summary}",
        )
        _log_answer(method, call)
        return ProviderResult(value=result.value, explanation=result.explanation, metadata=call)

    def _answer(
        self, method: str, model: str, pack: FewShotPack, inputs: dict[str, Any]
    ) -> Answered:
        """Ask one model, feeding validation errors back, within the determinism budget."""
        request = self.build_request(method, model, inputs)
        digest = canonical_json_hash(request)
        tool = tool_name(method)
        answer_model = ANSWERS[method]
        breaker = resilience.breaker_for(
            self.name,
            model,
            fail_max=self.settings.breaker_fail_max,
            reset_s=self.settings.breaker_reset_s,
        )
        messages = list(request["messages"])
        invalid: list[dict[str, Any]] = []
        for attempt in range(1, DETERMINISM_BUDGET + 1):
            message = self._send(breaker, model, {**request, "messages": messages})
            block = _tool_use(message, tool)
            if block is None:
                payload: Any = {"content": _content(message)}
                errors = [f"no call of the tool {tool} (stop_reason: {message.stop_reason})"]
            else:
                payload = block.input
                checked = _check(answer_model, payload, inputs)
                if isinstance(checked, Answer):
                    return Answered(checked, model, attempt, digest)
                errors = checked
            invalid.append({"attempt": attempt, "payload": payload, "errors": errors})
            logger.info(
                "invalid answer from %s for %s (attempt %d/%d): %s",
                model,
                method,
                attempt,
                DETERMINISM_BUDGET,
                "; ".join(errors[:3]),
            )
            messages = [
                *messages,
                {"role": "assistant", "content": _content(message)},
                _correction(tool, block, errors),
            ]
        last = " ".join(invalid[-1]["errors"][0].split())
        raise DeterminismBudgetExceeded(
            f"{model} gave {DETERMINISM_BUDGET} answers for {method} that do not validate"
            f" against {answer_model.__name__} (last: {last})",
            provider=self.name,
            model=model,
            method=method,
            prompt_digest=digest,
            invalid_payloads=invalid,
            few_shot_pack=pack.ref,
            few_shot_pack_hash=pack.id,
            request=request,
        )

    def _send(self, breaker: resilience.ModelBreaker, model: str, request: dict[str, Any]) -> Any:
        """One model turn: the breaker around each HTTP attempt, retries around both."""
        import anthropic

        client = self._get_client()

        def attempt() -> Any:
            return breaker.call(client.messages.create, **request)

        def on_retry(number: int, exc: BaseException, wait: float) -> None:
            logger.info(
                "%s attempt %d failed (%s); retrying in %.2f s",
                model,
                number,
                resilience.describe(exc),
                wait,
            )

        try:
            return self._retry.call(attempt, on_retry)
        except anthropic.APIError as exc:
            raise ModelUnavailable(f"{model}: {resilience.describe(exc)}") from exc
        except Exception as exc:
            if resilience.is_breaker_error(exc):
                raise ModelUnavailable(f"{model}: {resilience.describe(exc)}") from exc
            raise

    def _get_client(self) -> Any:
        """The SDK client, created on first use (the key may come from Secrets Manager)."""
        if self._client is None:
            import anthropic

            try:
                api_key = resolve_api_key(self.settings)
                client = anthropic.Anthropic(
                    api_key=api_key,
                    base_url=self.settings.base_url,
                    max_retries=0,
                    timeout=self.settings.timeout_s,
                    http_client=self._http_client,
                )
            except Exception as exc:
                raise ModelUnavailable(
                    f"anthropic client unavailable: {type(exc).__name__}: {exc}"
                ) from exc
            credentials = (client.api_key, client.auth_token, getattr(client, "credentials", None))
            if not any(credentials):
                raise ModelUnavailable(
                    "anthropic client unavailable: no credentials (set ANTHROPIC_API_KEY or"
                    " AGENTIC_MLOPS_ANTHROPIC_SECRET)"
                )
            self._client = client
        return self._client


# helpers --------------------------------------------------------------------------------


def _json(model: Any) -> Any:
    return model.model_dump(mode="json")


def plan_inputs(constraints: ConstraintSchema) -> dict[str, Any]:
    """The planner's inputs: the constraints and the platform's service catalogue."""
    return {"constraints": _json(constraints), "catalogue": _catalogue()}


@cache
def _catalogue() -> dict[str, Any]:
    return {
        "services": {
            key: {"name": name, "sizing_keys": list(keys)}
            for key, (name, keys) in sorted(SERVICES.items())
        },
        "capabilities": sorted(CAPABILITIES),
    }


@cache
def _schema(method: str) -> dict[str, Any]:
    return ANSWERS[method].model_json_schema()


@cache
def _sdk_accepts_temperature() -> bool:
    """Whether the installed SDK still has sampling parameters (it dropped them in 2.0,
    whose API version rejects ``temperature``)."""
    import inspect

    from anthropic.resources.messages import Messages

    return "temperature" in inspect.signature(Messages.create).parameters


def _user_text(tool: str, inputs: dict[str, Any]) -> str:
    return (
        f"<input>{canonical_json(inputs)}</input>\n\n"
        f"Answer by calling the tool {tool} once, with an input that validates against its"
        " schema."
    )


def _tool_use(message: Any, tool: str) -> Any:
    return next(
        (
            block
            for block in message.content
            if getattr(block, "type", None) == "tool_use" and block.name == tool
        ),
        None,
    )


def _block_param(block: Any) -> dict[str, Any]:
    kind = getattr(block, "type", None)
    if kind == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    if kind == "text":
        return {"type": "text", "text": block.text}
    return dict(block.model_dump(mode="json", exclude_none=True))


def _content(message: Any) -> list[dict[str, Any]]:
    return [_block_param(block) for block in message.content]


def _check(answer_model: type[A], payload: Any, inputs: dict[str, Any]) -> A | list[str]:
    """The validated answer, or the list of what is wrong with it."""
    try:
        answer = answer_model.model_validate(payload)
    except ValidationError as exc:
        return [
            f"{'.'.join(str(part) for part in error['loc']) or '(root)'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        ][:MAX_ERRORS_SHOWN]
    return answer.problems(inputs) or answer


def _correction(tool: str, block: Any, errors: list[str]) -> dict[str, Any]:
    text = (
        "The answer is not valid:\n"
        + "\n".join(f"- {error}" for error in errors)
        + f"\nCall the tool {tool} again with a complete, corrected input."
    )
    if block is None:
        return {"role": "user", "content": [{"type": "text", "text": text}]}
    return {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": block.id, "is_error": True, "content": text}
        ],
    }


def _apply_answers(
    constraints: ConstraintSchema, evidence: dict[str, str], answers: dict[str, str]
) -> tuple[ConstraintSchema, dict[str, str]]:
    """Answers override the model's reading, parsed like the offline provider parses them."""
    if not answers:
        return constraints, dict(evidence)
    from agentic_mlops.providers.offline import extraction

    values = constraints.model_dump()
    evidence = dict(evidence)
    order = {field: index for index, field in enumerate(ANSWERABLE_FIELDS)}
    for field in sorted(answers, key=lambda f: (order.get(f, len(order)), f)):
        values[field] = extraction.parse_answer(field, answers[field])
        evidence[field] = f"answer: {answers[field]}"
    return ConstraintSchema.model_validate(values), evidence


def _log_answer(method: str, call: ProviderCall) -> None:
    if call.fallback_reason:
        logger.warning(
            "%s answered by %s/%s after a fallback: %s",
            method,
            call.provider,
            call.model,
            call.fallback_reason,
        )
    else:
        logger.info(
            "%s answered by %s/%s (pack %s, %d turn(s))",
            method,
            call.provider,
            call.model,
            call.few_shot_pack,
            call.attempts,
        )
