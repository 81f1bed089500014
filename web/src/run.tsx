// A decision set: the live run, the plan (and its approval), the delivery, the history.
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import dockerfile from "highlight.js/lib/languages/dockerfile";
import ini from "highlight.js/lib/languages/ini";
import json from "highlight.js/lib/languages/json";
import markdown from "highlight.js/lib/languages/markdown";
import python from "highlight.js/lib/languages/python";
import yaml from "highlight.js/lib/languages/yaml";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, ApiError, money, siteConfig, token, when } from "./api";
import { ArchitectureDiagram } from "./diagram";
import { LiveStream, type StreamEvent, type StreamState } from "./stream";
import { Badge, Bar, describe, ErrorMessage, go, Loading, type Me, rolesOn } from "./ui";

hljs.registerLanguage("bash", bash);
hljs.registerLanguage("dockerfile", dockerfile);
hljs.registerLanguage("ini", ini);
hljs.registerLanguage("json", json);
hljs.registerLanguage("markdown", markdown);
hljs.registerLanguage("python", python);
hljs.registerLanguage("yaml", yaml);

export const NODES = [
  "extract_constraints",
  "coverage_check",
  "adaptive_questioner",
  "gate_user_input",
  "planner",
  "critic_tech",
  "critic_cost",
  "policy_eval",
  "gate_hitl",
  "process_approval_feedback",
  "codegen",
  "validators",
  "diff_and_persist",
];
const REFRESH_ON = new Set([
  "constraints-update",
  "cost-update",
  "policy-update",
  "question",
  "answer-received",
  "approval-requested",
  "approval-decided",
  "validation-report",
  "run-complete",
]);
const TABS: [string, string][] = [
  ["run", "Live run"],
  ["plan", "Plan & approval"],
  ["delivery", "Delivery"],
  ["history", "History"],
];

declare global {
  interface Window {
    __agentic?: { stream: LiveStream | null; frames: Record<number, number>; rendered: Record<number, number> };
  }
}

function debug() {
  if (!window.__agentic) window.__agentic = { stream: null, frames: {}, rendered: {} };
  return window.__agentic;
}

export function DecisionSetPage({ me, id, tab }: { me: Me; id: string; tab: string }) {
  const [view, setView] = useState<any>(null);
  const [error, setError] = useState<unknown>(null);
  const [events, setEvents] = useState<StreamEvent[]>([]);
  const [state, setState] = useState<StreamState>("connecting");
  const [detail, setDetail] = useState<string | undefined>();
  const refresh = useRef<any>(null);
  const load = () => api(`/decision-sets/${id}`).then(setView, setError);
  useEffect(() => {
    load();
    const c = siteConfig();
    const stream = new LiveStream({
      url: c.webSocketUrl,
      token,
      decisionSetId: id,
      onEvent: (event) => {
        setEvents((list) => [...list, event]);
        if (REFRESH_ON.has(event.type)) {
          clearTimeout(refresh.current);
          refresh.current = setTimeout(load, 150);
        }
      },
      onState: (s, d) => {
        setState(s);
        setDetail(d);
      },
      onFrame: (event) => {
        debug().frames[event.seq] = performance.now();
      },
      fetchEvent: async (ref) => {
        const page = await api(ref);
        return page.events?.[0] ?? null;
      },
    });
    debug().stream = stream;
    stream.start();
    return () => {
      stream.close();
      clearTimeout(refresh.current);
      if (debug().stream === stream) debug().stream = null;
    };
  }, [id]);
  if (!view) return error ? <ErrorMessage error={error} /> : <Loading what="the decision set" />;
  const roles = rolesOn(me, view.project_id);
  return (
    <main id="main" tabIndex={-1}>
      <p class="crumbs">
        <a href="#/">Projects</a> / <a href={`#/projects/${view.project_id}`}>{view.project_id}</a> /
      </p>
      <h1>
        {view.plan?.name ?? "Decision set"} <span class="muted">{view.id}</span>
      </h1>
      <p class="request">{view.request}</p>
      <p>
        Status <Badge value={view.status} /> · <StreamBadge state={state} detail={detail} /> · your roles:{" "}
        {roles.join(", ") || "none"}
        {view.parent_id ? (
          <>
            {" "}
            · revision of <a href={`#/ds/${view.parent_id}/history`}>{view.parent_id}</a>
          </>
        ) : null}
        {view.forked_from?.seq ? <span data-testid="forked-from"> · forked from event #{view.forked_from.seq}</span> : null}
      </p>
      <ErrorMessage error={error} />
      <nav class="tabs" aria-label="Decision set">
        {TABS.map(([key, label]) => (
          <a key={key} href={`#/ds/${id}/${key}`} aria-current={tab === key ? "page" : undefined}>
            {label}
            {key === "plan" && view.pending?.kind === "approval" ? " •" : ""}
          </a>
        ))}
      </nav>
      {tab === "plan" ? (
        <PlanTab view={view} roles={roles} reload={load} />
      ) : tab === "delivery" ? (
        <DeliveryTab view={view} />
      ) : tab === "history" ? (
        <HistoryTab view={view} events={events} roles={roles} />
      ) : (
        <RunTab view={view} events={events} roles={roles} reload={load} />
      )}
    </main>
  );
}

function StreamBadge({ state, detail }: { state: StreamState; detail?: string }) {
  const text =
    state === "live" ? "live" : state === "reconnecting" ? "reconnecting…" : state === "connecting" ? "connecting…" : "closed";
  return (
    <span class={`badge ${state === "live" ? "good" : "warn"}`} role="status" data-testid="stream-state" title={detail}>
      stream {text}
    </span>
  );
}

// the live run ----------------------------------------------------------------------------

function RunTab({ view, events, roles, reload }: { view: any; events: StreamEvent[]; roles: string[]; reload: () => void }) {
  const cards = events.filter((e) => e.type === "reason-card");
  return (
    <>
      <ProgressRail view={view} events={events} />
      {view.pending?.kind === "question" ? (
        roles.includes("requester") ? (
          <QuestionsForm view={view} reload={reload} />
        ) : (
          <p class="panel">The run waits for the requester's answers.</p>
        )
      ) : null}
      {view.pending?.kind === "approval" ? (
        <p class="panel notice">
          The plan waits for an approver.{" "}
          <a href={`#/ds/${view.id}/plan`}>{roles.includes("approver") ? "Review and decide" : "See the plan"}</a>
        </p>
      ) : null}
      {view.status === "done" || view.validation ? (
        <p class="panel notice">
          Delivered. <a href={`#/ds/${view.id}/delivery`}>See the validation report and the files</a>
        </p>
      ) : null}
      <h2>
        Reason Cards <span class="muted">({cards.length})</span>
      </h2>
      <ol class="cards" aria-label="Reason Cards" aria-live="polite" data-testid="cards">
        {cards.map((e) => (
          <ReasonCard key={e.seq} event={e} />
        ))}
      </ol>
    </>
  );
}

function ProgressRail({ view, events }: { view: any; events: StreamEvent[] }) {
  const done = new Set(events.filter((e) => e.type === "reason-card").map((e) => e.node));
  const last = [...events].reverse().find((e) => e.type === "reason-card")?.node;
  const waiting = view.pending?.kind === "question" ? "gate_user_input" : view.pending?.kind === "approval" ? "gate_hitl" : null;
  const running =
    !waiting && ["running", "queued", "pending"].includes(view.status) && last
      ? NODES[Math.min(NODES.length - 1, NODES.indexOf(last) + 1)]
      : null;
  return (
    <ol class="rail" aria-label="Progress" data-testid="rail">
      {NODES.map((node) => {
        const status = node === waiting ? "waiting" : node === running ? "running" : done.has(node) ? "done" : "todo";
        return (
          <li key={node} class={status} aria-current={status === "running" || status === "waiting" ? "step" : undefined}>
            <span class="dot" aria-hidden="true" />
            <span>{node.replace(/_/g, " ")}</span>
            <span class="sr-only">: {status}</span>
          </li>
        );
      })}
    </ol>
  );
}

function ReasonCard({ event }: { event: StreamEvent }) {
  const card = event.payload ?? {};
  const ref = useRef<HTMLLIElement>(null);
  useEffect(() => {
    debug().rendered[event.seq] = performance.now();
  }, []);
  return (
    <li class="panel card" data-testid="reason-card" data-seq={event.seq} data-node={event.node ?? ""} ref={ref}>
      <div class="card-head">
        <strong class="node">{(card.node ?? event.node ?? "").replace(/_/g, " ")}</strong>
        <span class="muted">
          #{event.seq} · {when(card.started_at ?? event.created_at)} · {Math.round(card.duration_ms ?? 0)} ms
        </span>
      </div>
      <p class="decision">{card.decision ?? "(payload unavailable)"}</p>
      {card.rationale ? <p>{card.rationale}</p> : null}
      {card.alternatives?.length ? (
        <details>
          <summary>Alternatives ({card.alternatives.length})</summary>
          <ul>
            {card.alternatives.map((a: any, i: number) => (
              <li key={i}>
                <strong>{a.option}</strong>: {a.reason}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
      <dl class="meta">
        <dt>confidence</dt>
        <dd>{card.confidence != null ? `${Math.round(card.confidence * 100)}%` : "—"}</dd>
        <dt>provider / model</dt>
        <dd>
          {card.provider ?? "—"} / {card.model ?? "—"}
        </dd>
        <dt>pack</dt>
        <dd title={card.few_shot_pack_hash}>
          {card.few_shot_pack ?? "—"} {card.few_shot_pack_hash ? String(card.few_shot_pack_hash).slice(0, 12) : ""}
        </dd>
      </dl>
    </li>
  );
}

const NUMERIC = new Set(["budget", "latency_p99_ms", "data_volume_gb", "throughput_rps"]);

export function checkAnswer(field: string, value: string): string | null {
  const text = value.trim();
  if (!text) return "Answer this question.";
  if (text.length > 2000) return "At most 2,000 characters.";
  if (NUMERIC.has(field) && !/\d/.test(text)) return "Give a number, for example one of the examples.";
  return null;
}

function QuestionsForm({ view, reload }: { view: any; reload: () => void }) {
  const questions: any[] = view.pending.request.questions ?? [];
  const [values, setValues] = useState<Record<string, string>>({});
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const found: Record<string, string> = {};
    for (const q of questions) {
      const problem = checkAnswer(q.field, values[q.field] ?? "");
      if (problem) found[q.field] = problem;
    }
    setProblems(found);
    if (Object.keys(found).length) {
      document.getElementById(`answer-${Object.keys(found)[0]}`)?.focus();
      return;
    }
    const answers = Object.fromEntries(questions.map((q) => [q.field, values[q.field].trim()]));
    setBusy(true);
    try {
      await api(`/decision-sets/${view.id}/answers`, { method: "POST", body: { answers } });
      reload();
    } catch (err) {
      // "budget: cannot read ..." goes beside its field.
      const match = err instanceof ApiError ? /^([a-z_0-9]+): (.*)$/.exec(err.message) : null;
      if (match && questions.some((q) => q.field === match[1])) {
        setProblems({ [match[1]]: match[2] });
        document.getElementById(`answer-${match[1]}`)?.focus();
      } else setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel questions" onSubmit={submit} noValidate aria-labelledby="questions-heading">
      <h2 id="questions-heading">Questions (round {view.pending.request.round})</h2>
      {questions.map((q) => {
        const fieldId = `answer-${q.field}`;
        return (
          <div class="field" key={q.field}>
            <label for={fieldId}>{q.question}</label>
            <p class="why" id={`${fieldId}-why`}>
              Why: {q.why}
            </p>
            <input
              id={fieldId}
              name={q.field}
              value={values[q.field] ?? ""}
              maxLength={2000}
              aria-describedby={`${fieldId}-why ${fieldId}-examples${problems[q.field] ? ` ${fieldId}-problem` : ""}`}
              aria-invalid={problems[q.field] ? "true" : undefined}
              list={`${fieldId}-list`}
              onInput={(e) => setValues({ ...values, [q.field]: e.currentTarget.value })}
            />
            <datalist id={`${fieldId}-list`}>
              {(q.examples ?? []).map((x: string) => (
                <option key={x} value={x} />
              ))}
            </datalist>
            <p class="muted" id={`${fieldId}-examples`}>
              Examples: {(q.examples ?? []).join(" · ")}
            </p>
            {problems[q.field] ? (
              <p class="error" id={`${fieldId}-problem`} data-testid={`problem-${q.field}`}>
                {problems[q.field]}
              </p>
            ) : null}
          </div>
        );
      })}
      <button type="submit" disabled={busy}>
        {busy ? "Sending…" : "Send answers"}
      </button>
      <ErrorMessage error={error} />
    </form>
  );
}

// the plan, its review and the approval -----------------------------------------------------

function PlanTab({ view, roles, reload }: { view: any; roles: string[]; reload: () => void }) {
  if (!view.plan) return <p class="panel">No plan yet: it appears once every mandatory question is answered.</p>;
  return (
    <>
      {view.pending?.kind === "approval" ? <ApprovalPanel view={view} roles={roles} reload={reload} /> : null}
      {view.approval ? (
        <p class="panel">
          Decision: <Badge value={view.approval.decision} /> by {view.approval.approver}
          {view.approval.comment ? <> — “{view.approval.comment}”</> : null}
        </p>
      ) : null}
      <section aria-labelledby="diagram-heading">
        <h2 id="diagram-heading">Architecture</h2>
        <p>{view.plan.summary}</p>
        <ArchitectureDiagram plan={view.plan} />
      </section>
      <CostTable cost={view.cost} />
      <PolicyTable policy={view.policy} />
      <Critique critique={view.technical_critique} />
      <section aria-labelledby="rationale-heading">
        <h2 id="rationale-heading">Rationale</h2>
        <ul>
          {(view.plan.rationale ?? []).map((r: string, i: number) => (
            <li key={i}>{r}</li>
          ))}
        </ul>
      </section>
    </>
  );
}

function ApprovalPanel({ view, roles, reload }: { view: any; roles: string[]; reload: () => void }) {
  const request = view.pending.request;
  const [comment, setComment] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const policyFailed = request.policy === "fail";
  const decide = async (decision: "approve" | "reject") => {
    setError(null);
    setNotice(null);
    if (policyFailed && decision === "approve" && !comment.trim()) {
      setProblem("The policy check failed: give a justification to approve.");
      document.getElementById("approval-comment")?.focus();
      return;
    }
    setProblem(null);
    setBusy(true);
    try {
      const body: any = { decision, plan_hash: request.plan_hash };
      if (comment.trim()) body.comment = comment.trim();
      await api(`/decision-sets/${view.id}/approval`, { method: "POST", body });
      setNotice(decision === "approve" ? "Approved: delivery starts." : "Rejected.");
      reload();
      if (decision === "approve") go(`ds/${view.id}/run`);
    } catch (err) {
      if (err instanceof ApiError && err.code === "stale_plan") {
        setNotice("The plan changed while you reviewed it; the new plan is shown below. Review it and decide again.");
        reload();
      } else setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="panel approval" aria-labelledby="approval-heading" data-testid="approval-panel">
      <h2 id="approval-heading">Approval</h2>
      <p>
        Plan <code title={request.plan_hash}>{String(request.plan_hash ?? "").slice(0, 12)}</code> · {money(request.monthly_total_usd)} of{" "}
        {money(request.budget_monthly_usd)} a month · policy <Badge value={request.policy} /> · technical{" "}
        <Badge value={request.technical_verdict} />
      </p>
      {request.failed_rules?.length ? <p class="error">Failed rules: {request.failed_rules.join(", ")}</p> : null}
      {roles.includes("approver") ? (
        <>
          <label for="approval-comment">
            Comment{policyFailed ? " (required: the policy check failed)" : " (optional; may change the constraints)"}
          </label>
          <textarea
            id="approval-comment"
            rows={3}
            maxLength={4000}
            value={comment}
            aria-required={policyFailed ? "true" : undefined}
            aria-invalid={problem ? "true" : undefined}
            aria-describedby={problem ? "approval-problem" : undefined}
            onInput={(e) => setComment(e.currentTarget.value)}
          />
          {problem ? (
            <p class="error" id="approval-problem">
              {problem}
            </p>
          ) : null}
          <div class="row">
            <button type="button" disabled={busy} onClick={() => decide("approve")}>
              Approve
            </button>
            <button type="button" class="danger" disabled={busy} onClick={() => decide("reject")}>
              Reject
            </button>
          </div>
        </>
      ) : (
        <p class="muted">You are not an approver on this project: an approver decides here.</p>
      )}
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      <ErrorMessage error={error} />
    </section>
  );
}

function CostTable({ cost }: { cost: any }) {
  if (!cost) return null;
  const items: any[] = cost.line_items ?? [];
  const max = Math.max(...items.map((i) => i.monthly_usd), 0.01);
  const currency = cost.currency ?? "USD";
  return (
    <section aria-labelledby="cost-heading">
      <h2 id="cost-heading">Cost</h2>
      <div class="scroll">
        <table class="cost" data-testid="cost-table">
          <thead>
            <tr>
              <th scope="col">Component</th>
              <th scope="col">Line</th>
              <th scope="col">Quantity</th>
              <th scope="col" class="num">
                Monthly
              </th>
              <th scope="col">Share</th>
            </tr>
          </thead>
          <tbody>
            {items.map((i, n) => (
              <tr key={n}>
                <td>{i.component_id}</td>
                <td>
                  {i.description}
                  <div class="muted">{(i.assumptions ?? []).join("; ")}</div>
                </td>
                <td>
                  {i.quantity} {i.unit} × {money(i.unit_price_usd, currency)}
                </td>
                <td class="num">{money(i.monthly_usd, currency)}</td>
                <td>
                  <Bar value={i.monthly_usd} max={max} label="of the largest line" />
                </td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row" colSpan={3}>
                Total against the budget of {money(cost.budget_monthly_usd, currency)}
              </th>
              <td class="num" data-testid="cost-total">
                {money(cost.monthly_total_usd, currency)}
              </td>
              <td>
                <Bar value={cost.monthly_total_usd} max={cost.budget_monthly_usd} label="of the budget" />
                <Badge value={cost.within_budget === false ? "over budget" : "within budget"} kind={cost.within_budget === false ? "bad" : "good"} />
              </td>
            </tr>
          </tfoot>
        </table>
      </div>
      <Findings findings={cost.findings} title="Cost findings" />
    </section>
  );
}

function Findings({ findings, title }: { findings: any[] | undefined; title: string }) {
  if (!findings?.length) return null;
  return (
    <>
      <h3>{title}</h3>
      <ul class="findings">
        {findings.map((f) => (
          <li key={f.id}>
            <Badge value={f.severity} /> <strong>{f.title}</strong> — {f.detail}
            {f.recommendation ? <div class="muted">Recommendation: {f.recommendation}</div> : null}
          </li>
        ))}
      </ul>
    </>
  );
}

function PolicyTable({ policy }: { policy: any }) {
  if (!policy) return null;
  return (
    <section aria-labelledby="policy-heading">
      <h2 id="policy-heading">
        Policy <Badge value={policy.overall} />
      </h2>
      <div class="scroll">
        <table data-testid="policy-table">
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">Result</th>
              <th scope="col">Severity</th>
              <th scope="col">Evidence</th>
            </tr>
          </thead>
          <tbody>
            {(policy.results ?? []).map((r: any) => (
              <tr key={r.rule_id}>
                <td>
                  <strong>{r.rule_id}</strong> {r.title}
                </td>
                <td>
                  <Badge value={r.status} />
                </td>
                <td>{r.severity}</td>
                <td>{r.evidence}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Critique({ critique }: { critique: any }) {
  if (!critique) return null;
  return (
    <section aria-labelledby="critique-heading">
      <h2 id="critique-heading">
        Technical review <Badge value={critique.verdict} />
      </h2>
      <p>{critique.summary}</p>
      <Findings findings={critique.findings} title="Technical findings" />
    </section>
  );
}

// delivery ---------------------------------------------------------------------------------

function DeliveryTab({ view }: { view: any }) {
  const [open, setOpen] = useState<string | null>(null);
  if (!view.validation && !view.repository) {
    return <p class="panel">Nothing delivered yet: the repository is generated after approval.</p>;
  }
  return (
    <>
      <Validation validation={view.validation} onOpen={setOpen} />
      <Bundle view={view} />
      {view.commit ? (
        <p class="panel">
          Plan documents committed as <code>{view.commit.sha}</code> ({(view.commit.files ?? []).join(", ")})
        </p>
      ) : null}
      <FileBrowser id={view.id} open={open} setOpen={setOpen} />
    </>
  );
}

function Validation({ validation, onOpen }: { validation: any; onOpen: (path: string) => void }) {
  if (!validation) return null;
  return (
    <section aria-labelledby="validation-heading" data-testid="validation">
      <h2 id="validation-heading">
        Validation <Badge value={validation.outcome} />
      </h2>
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Validator</th>
              <th scope="col">Result</th>
              <th scope="col">Detail and findings</th>
              <th scope="col" class="num">
                Time
              </th>
            </tr>
          </thead>
          <tbody>
            {(validation.validators ?? []).map((v: any) => (
              <tr key={v.name}>
                <th scope="row">{v.name}</th>
                <td>
                  <Badge value={v.status} />
                </td>
                <td>
                  {v.detail}
                  {v.findings?.length ? (
                    <ul class="findings">
                      {v.findings.map((f: any, i: number) => (
                        <li key={i}>
                          <Badge value={f.severity} /> {f.rule}{" "}
                          {f.file ? (
                            <button type="button" class="link" onClick={() => onOpen(f.file)}>
                              {f.file}
                              {f.line ? `:${f.line}` : ""}
                            </button>
                          ) : null}{" "}
                          {f.message}
                        </li>
                      ))}
                    </ul>
                  ) : null}
                </td>
                <td class="num">{v.duration_ms != null ? `${(v.duration_ms / 1000).toFixed(1)} s` : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Bundle({ view }: { view: any }) {
  const [link, setLink] = useState<any>(null);
  const [error, setError] = useState<unknown>(null);
  if (!view.bundle) return null;
  return (
    <section class="panel" aria-labelledby="bundle-heading">
      <h2 id="bundle-heading">Bundle</h2>
      <p>
        sha256 <code>{view.bundle.sha256}</code> · {Math.round(view.bundle.size / 1024)} KB
      </p>
      {link ? (
        <a href={link.url} download data-testid="bundle-link">
          Download the bundle (zip)
        </a>
      ) : (
        <button type="button" onClick={() => api(`/decision-sets/${view.id}/bundle`).then(setLink, setError)}>
          Get the download link
        </button>
      )}
      <ErrorMessage error={error} />
    </section>
  );
}

interface TreeNode {
  name: string;
  path: string;
  children: Map<string, TreeNode>;
  size?: number;
}

function tree(files: { path: string; size: number }[]): TreeNode {
  const root: TreeNode = { name: "", path: "", children: new Map() };
  for (const f of files) {
    let node = root;
    const parts = f.path.split("/");
    parts.forEach((part, i) => {
      const path = parts.slice(0, i + 1).join("/");
      if (!node.children.has(part)) node.children.set(part, { name: part, path, children: new Map() });
      node = node.children.get(part)!;
      if (i === parts.length - 1) node.size = f.size;
    });
  }
  return root;
}

function language(path: string): string | null {
  const ext = path.split(".").pop()?.toLowerCase() ?? "";
  const map: Record<string, string> = {
    py: "python",
    yml: "yaml",
    yaml: "yaml",
    json: "json",
    md: "markdown",
    sh: "bash",
    tf: "ini",
    hcl: "ini",
    tfvars: "ini",
    toml: "ini",
    cfg: "ini",
    ini: "ini",
  };
  if (path.endsWith("Dockerfile")) return "dockerfile";
  return map[ext] ?? null;
}

function FileBrowser({ id, open, setOpen }: { id: string; open: string | null; setOpen: (p: string) => void }) {
  const [files, setFiles] = useState<any[] | null>(null);
  const [file, setFile] = useState<any>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api(`/decision-sets/${id}/files`).then((d) => setFiles(d.files), setError);
  }, [id]);
  useEffect(() => {
    if (!open) return;
    setFile(null);
    setError(null);
    api(`/decision-sets/${id}/file?path=${encodeURIComponent(open)}`).then(setFile, setError);
  }, [open]);
  const root = useMemo(() => (files ? tree(files) : null), [files]);
  const highlighted = useMemo(() => {
    if (!file) return "";
    const lang = language(file.path);
    return lang ? hljs.highlight(file.content, { language: lang }).value : escape(file.content);
  }, [file]);
  const renderNode = (node: TreeNode): any =>
    node.children.size ? (
      <li key={node.path}>
        <details open={Boolean(open?.startsWith(node.path + "/")) || node.path.split("/").length < 2}>
          <summary>{node.name}/</summary>
          <ul>{[...node.children.values()].map(renderNode)}</ul>
        </details>
      </li>
    ) : (
      <li key={node.path}>
        <button type="button" class="link" aria-current={open === node.path ? "true" : undefined} onClick={() => setOpen(node.path)}>
          {node.name}
        </button>
      </li>
    );
  return (
    <section aria-labelledby="files-heading">
      <h2 id="files-heading">Generated repository</h2>
      <ErrorMessage error={error} />
      <div class="files">
        <nav aria-label="Files" class="tree" data-testid="file-tree">
          {root ? <ul>{[...root.children.values()].map(renderNode)}</ul> : <Loading what="files" />}
        </nav>
        <div class="viewer">
          {file ? (
            <>
              <h3>
                <code>{file.path}</code> <span class="muted">{file.size} bytes</span>
              </h3>
              <pre tabIndex={0} aria-label={`Contents of ${file.path}`}>
                <code class="hljs" data-testid="file-content" dangerouslySetInnerHTML={{ __html: highlighted }} />
              </pre>
            </>
          ) : (
            <p class="muted">Choose a file.</p>
          )}
        </div>
      </div>
    </section>
  );
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

// history: timeline, revisions, Change Summary, revise ---------------------------------------

function HistoryTab({ view, events, roles }: { view: any; events: StreamEvent[]; roles: string[] }) {
  return (
    <>
      {view.parent_id ? <ChangeSummary view={view} /> : null}
      {roles.includes("requester") ? <ReviseForm view={view} /> : null}
      <Revisions view={view} />
      <Timeline view={view} events={events} roles={roles} />
    </>
  );
}

function ReviseForm({ view, fromSeq }: { view: any; fromSeq?: number }) {
  const [change, setChange] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const fieldId = `revise-${fromSeq ?? "latest"}`;
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    if (!change.trim()) return setError(new Error("Say what changes, in plain words."));
    setBusy(true);
    try {
      const body: any = { change: change.trim() };
      if (fromSeq) body.from_seq = fromSeq;
      const child = await api(`/decision-sets/${view.id}/revisions`, { method: "POST", body });
      go(`ds/${child.id}/run`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" onSubmit={submit}>
      <label for={fieldId}>{fromSeq ? `Fork from event #${fromSeq} with a change` : "Revise: what changes?"}</label>
      <input
        id={fieldId}
        value={change}
        maxLength={4000}
        placeholder="budget is now $800/month"
        onInput={(e) => setChange(e.currentTarget.value)}
      />
      <button type="submit" disabled={busy}>
        {fromSeq ? "Fork" : "Revise"}
      </button>
      <ErrorMessage error={error} />
    </form>
  );
}

function Revisions({ view }: { view: any }) {
  const [root, setRoot] = useState<any>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    (async () => {
      let top = view;
      for (let i = 0; top.parent_id && i < 20; i++) top = await api(`/decision-sets/${top.parent_id}`);
      const grow = async (node: any, depth: number): Promise<any> => {
        const children = depth > 6 ? [] : (await api(`/decision-sets/${node.id}/revisions`)).decision_sets;
        return { ...node, children: await Promise.all(children.map((c: any) => grow(c, depth + 1))) };
      };
      setRoot(await grow(top, 0));
    })().catch(setError);
  }, [view.id]);
  const show = (node: any): any => (
    <li key={node.id}>
      {node.id === view.id ? (
        <strong aria-current="page">{node.id}</strong>
      ) : (
        <a href={`#/ds/${node.id}/history`}>{node.id}</a>
      )}{" "}
      <Badge value={node.status} /> <span class="muted">{(node.request ?? "").slice(0, 80)}</span>
      {node.children?.length ? <ul>{node.children.map(show)}</ul> : null}
    </li>
  );
  return (
    <section aria-labelledby="revisions-heading">
      <h2 id="revisions-heading">Revisions</h2>
      <ErrorMessage error={error} />
      {root ? (
        <ul class="tree" data-testid="revisions">
          {show(root)}
        </ul>
      ) : (
        <Loading what="revisions" />
      )}
    </section>
  );
}

function Timeline({ view, events, roles }: { view: any; events: StreamEvent[]; roles: string[] }) {
  const [fork, setFork] = useState<number | null>(null);
  return (
    <section aria-labelledby="timeline-heading">
      <h2 id="timeline-heading">Timeline ({events.length} events)</h2>
      {fork ? <ReviseForm view={view} fromSeq={fork} key={fork} /> : null}
      <ol class="timeline" data-testid="timeline">
        {events.map((e) => (
          <li key={e.seq}>
            <span class="muted">
              #{e.seq} {when(e.created_at)}
            </span>{" "}
            <Badge value={e.type} kind="neutral" /> {e.node ?? ""}{" "}
            <span class="muted">{summary(e)}</span>
            {e.checkpoint_id ? (
              <span class="muted" title={e.checkpoint_id}>
                {" "}
                checkpoint {e.checkpoint_id.slice(-8)}
              </span>
            ) : null}
            {roles.includes("requester") && e.seq > 0 ? (
              <button type="button" class="link" onClick={() => setFork(e.seq)} aria-label={`Fork from event ${e.seq}`}>
                fork
              </button>
            ) : null}
          </li>
        ))}
      </ol>
    </section>
  );
}

function summary(e: StreamEvent): string {
  const p = e.payload ?? {};
  if (e.type === "reason-card") return p.decision ?? "";
  if (e.type === "cost-update") return money(p.monthly_total_usd);
  if (e.type === "policy-update") return p.overall ?? "";
  if (e.type === "approval-decided") return `${p.decision} by ${p.approver}`;
  if (e.type === "validation-report") return p.outcome ?? "";
  return "";
}

function ChangeSummary({ view }: { view: any }) {
  const [changes, setChanges] = useState<any>(null);
  const [parent, setParent] = useState<any>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api(`/decision-sets/${view.id}/changes`).then(setChanges, setError);
    api(`/decision-sets/${view.parent_id}`).then(setParent, setError);
  }, [view.id, view.status]);
  if (!changes) return error ? <ErrorMessage error={error} /> : <Loading what="the Change Summary" />;
  const fields: any[] = changes.fields ?? [];
  const part = (prefix: string) => fields.filter((f) => f.path.startsWith(prefix));
  return (
    <section aria-labelledby="changes-heading" data-testid="change-summary">
      <h2 id="changes-heading">Change Summary</h2>
      <p>
        “{changes.change_request}” — changed constraints: {(changes.changed_constraints ?? []).join(", ") || "none"}
      </p>
      <div class="grid2">
        <FieldDiff title="Constraints" fields={part("constraints.")} />
        <FieldDiff title="Plan" fields={part("plan.")} />
        <CostDiff old={parent?.cost} next={view.cost} />
        <PolicyDiff old={parent?.policy} next={view.policy} fields={part("policy.")} />
      </div>
      <h3>Plan documents (git diff)</h3>
      {changes.git_diff ? (
        <pre class="diff" tabIndex={0} aria-label="git diff of the plan documents">
          {changes.git_diff.split("\n").map((line: string, i: number) => (
            <span
              key={i}
              class={line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : line.startsWith("@@") ? "hunk" : ""}
            >
              {line}
              {"\n"}
            </span>
          ))}
        </pre>
      ) : (
        <p class="muted">No commit yet for this revision: the diff appears once it is delivered.</p>
      )}
    </section>
  );
}

function show(value: any): string {
  if (value == null) return "—";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function FieldDiff({ title, fields }: { title: string; fields: any[] }) {
  return (
    <div class="panel">
      <h3>{title}</h3>
      {fields.length ? (
        <table>
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Old</th>
              <th scope="col">New</th>
            </tr>
          </thead>
          <tbody>
            {fields.map((f) => (
              <tr key={f.path}>
                <td>
                  <code>{f.path}</code>
                </td>
                <td class="del">{show(f.old)}</td>
                <td class="add">{show(f.new)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted">No change.</p>
      )}
    </div>
  );
}

function CostDiff({ old, next }: { old: any; next: any }) {
  if (!old && !next) return null;
  const key = (i: any) => `${i.component_id} · ${i.description}`;
  const lines = new Map<string, { old?: number; next?: number }>();
  for (const i of old?.line_items ?? []) lines.set(key(i), { old: i.monthly_usd });
  for (const i of next?.line_items ?? []) lines.set(key(i), { ...(lines.get(key(i)) ?? {}), next: i.monthly_usd });
  const changed = [...lines.entries()].filter(([, v]) => v.old !== v.next);
  return (
    <div class="panel">
      <h3>Cost</h3>
      <table data-testid="cost-diff">
        <thead>
          <tr>
            <th scope="col">Line</th>
            <th scope="col" class="num">
              Old
            </th>
            <th scope="col" class="num">
              New
            </th>
          </tr>
        </thead>
        <tbody>
          {changed.map(([name, v]) => (
            <tr key={name}>
              <td>{name}</td>
              <td class="num del">{money(v.old)}</td>
              <td class="num add">{money(v.next)}</td>
            </tr>
          ))}
          <tr>
            <th scope="row">Total</th>
            <td class="num">{money(old?.monthly_total_usd)}</td>
            <td class="num">{money(next?.monthly_total_usd)}</td>
          </tr>
          <tr>
            <th scope="row">Budget</th>
            <td class="num del" data-testid="budget-old">
              {money(old?.budget_monthly_usd)}
            </td>
            <td class="num add" data-testid="budget-new">
              {money(next?.budget_monthly_usd)}
            </td>
          </tr>
        </tbody>
      </table>
    </div>
  );
}

function PolicyDiff({ old, next, fields }: { old: any; next: any; fields: any[] }) {
  return (
    <div class="panel">
      <h3>Policy</h3>
      <p>
        <Badge value={old?.overall} /> → <Badge value={next?.overall} />
      </p>
      <FieldDiff title="Policy fields" fields={fields} />
    </div>
  );
}

export { describe };
