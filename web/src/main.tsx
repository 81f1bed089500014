import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import {
  api,
  cognitoSignIn,
  completeCognitoSignIn,
  devSignIn,
  loadConfig,
  money,
  setToken,
  siteConfig,
  token,
  when,
} from "./api";
import { DecisionSetPage } from "./run";
import { Badge, Bar, ErrorBoundary, ErrorMessage, go, hasRoleAnywhere, Loading, type Me, rolesOn, useRoute } from "./ui";
import "./style.css";

function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const c = siteConfig();
  const [user, setUser] = useState("");
  const [roles, setRoles] = useState<string[]>(["requester"]);
  const [pasted, setPasted] = useState("");
  const [error, setError] = useState<unknown>(null);
  const toggle = (role: string) =>
    setRoles(roles.includes(role) ? roles.filter((r) => r !== role) : [...roles, role]);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    if (!user.trim()) return setError(new Error("Give a user name."));
    if (!roles.length) return setError(new Error("Choose at least one role."));
    try {
      await devSignIn(user.trim(), roles);
      onSignedIn();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <main class="signin" id="main" tabIndex={-1}>
      <h1>Sign in to Agentic MLOps</h1>
      {c.auth === "cognito" && c.cognitoDomain ? (
        <section class="panel">
          <button type="button" onClick={() => cognitoSignIn().catch(setError)}>
            Sign in with your organisation
          </button>
        </section>
      ) : null}
      {c.devTokenUrl ? (
        <form class="panel" onSubmit={submit} aria-labelledby="dev-heading">
          <h2 id="dev-heading">Development sign-in (this machine only)</h2>
          <label>
            User name
            <input name="user" value={user} onInput={(e) => setUser(e.currentTarget.value)} autoComplete="username" required />
          </label>
          <fieldset>
            <legend>Roles on every project</legend>
            {["requester", "approver"].map((role) => (
              <label class="inline" key={role}>
                <input type="checkbox" checked={roles.includes(role)} onChange={() => toggle(role)} /> {role}
              </label>
            ))}
          </fieldset>
          <button type="submit">Sign in</button>
        </form>
      ) : null}
      <form
        class="panel"
        onSubmit={(e) => {
          e.preventDefault();
          if (!pasted.trim()) return setError(new Error("Paste a token first."));
          setToken(pasted.trim());
          onSignedIn();
        }}
      >
        <h2>Or paste a token</h2>
        <label>
          Token (from <code>agentic-mlops dev-token</code>)
          <input name="token" value={pasted} onInput={(e) => setPasted(e.currentTarget.value)} autoComplete="off" />
        </label>
        <button type="submit">Use this token</button>
      </form>
      <ErrorMessage error={error} />
    </main>
  );
}

function ProjectsPage({ me }: { me: Me }) {
  const [projects, setProjects] = useState<any[] | null>(null);
  const [name, setName] = useState("");
  const [error, setError] = useState<unknown>(null);
  const load = () => api("/projects").then((d) => setProjects(d.projects), setError);
  useEffect(() => {
    load();
  }, []);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    if (!name.trim()) return setError(new Error("Give the project a name."));
    try {
      const project = await api("/projects", { method: "POST", body: { name: name.trim() } });
      setName("");
      go(`projects/${project.id}`);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <main id="main" tabIndex={-1}>
      <h1>Projects</h1>
      <ErrorMessage error={error} />
      {projects === null ? (
        <Loading what="projects" />
      ) : projects.length === 0 ? (
        <p>No projects yet.</p>
      ) : (
        <ul class="cards" aria-label="Projects">
          {projects.map((p) => (
            <li key={p.id} class="panel">
              <a href={`#/projects/${p.id}`}>{p.name}</a>
              <div class="muted">
                your roles: {p.roles.join(", ") || "none"} · created {when(p.created_at)}
              </div>
            </li>
          ))}
        </ul>
      )}
      {hasRoleAnywhere(me, "requester") ? (
        <form class="panel row" onSubmit={create}>
          <label>
            New project name
            <input name="project" value={name} maxLength={200} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <button type="submit">Create project</button>
        </form>
      ) : null}
    </main>
  );
}

function ProjectPage({ me, projectId }: { me: Me; projectId: string }) {
  const [project, setProject] = useState<any>(null);
  const [sets, setSets] = useState<any[] | null>(null);
  const [request, setRequest] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    setError(null);
    api(`/projects/${projectId}`).then(setProject, setError);
    api(`/projects/${projectId}/decision-sets`).then((d) => setSets(d.decision_sets), setError);
  }, [projectId]);
  const roles = project?.roles ?? rolesOn(me, projectId);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    if (request.trim().length < 10) return setError(new Error("Describe the workload in a sentence or more."));
    setBusy(true);
    try {
      const ds = await api(`/projects/${projectId}/decision-sets`, { method: "POST", body: { request: request.trim() } });
      go(`ds/${ds.id}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" tabIndex={-1}>
      <p class="crumbs">
        <a href="#/">Projects</a> /
      </p>
      <h1>{project?.name ?? projectId}</h1>
      <p class="muted">your roles here: {roles.join(", ") || "none"}</p>
      <ErrorMessage error={error} />
      {roles.includes("requester") ? (
        <form class="panel" onSubmit={submit}>
          <label for="request">New request, in plain words</label>
          <textarea
            id="request"
            name="request"
            rows={4}
            maxLength={20000}
            value={request}
            placeholder="Real-time fraud scoring API for card transactions, p99 under 50 ms, us-east-1, budget $6k per month, PCI DSS applies."
            onInput={(e) => setRequest(e.currentTarget.value)}
          />
          <button type="submit" disabled={busy}>
            {busy ? "Starting…" : "Start"}
          </button>
        </form>
      ) : null}
      <h2>Decision sets</h2>
      {sets === null ? (
        <Loading what="decision sets" />
      ) : sets.length === 0 ? (
        <p>None yet.</p>
      ) : (
        <div class="scroll">
          <table>
            <caption class="sr-only">Decision sets, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Request</th>
                <th scope="col">Status</th>
                <th scope="col">Cost / month</th>
                <th scope="col">Policy</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {sets.map((s) => (
                <tr key={s.id}>
                  <td>
                    <a href={`#/ds/${s.id}`}>{s.request.slice(0, 90)}</a>
                    {s.parent_id ? <span class="muted"> (revision)</span> : null}
                  </td>
                  <td>
                    <Badge value={s.status} />
                  </td>
                  <td>{money(s.monthly_total_usd)}</td>
                  <td>
                    <Badge value={s.policy} />
                  </td>
                  <td>{when(s.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}

function InboxPage() {
  const [items, setItems] = useState<any[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api("/approvals").then((d) => setItems(d.approvals), setError);
  }, []);
  return (
    <main id="main" tabIndex={-1}>
      <h1>Approval inbox</h1>
      <ErrorMessage error={error} />
      {items === null ? (
        <Loading what="approvals" />
      ) : items.length === 0 ? (
        <p>Nothing waits for your approval.</p>
      ) : (
        <div class="scroll">
          <table data-testid="inbox">
            <caption class="sr-only">Waiting for your approval, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">Waiting since</th>
                <th scope="col">Project</th>
                <th scope="col">Plan</th>
                <th scope="col">Cost vs budget</th>
                <th scope="col">Policy</th>
                <th scope="col">Technical</th>
              </tr>
            </thead>
            <tbody>
              {items.map((a) => (
                <tr key={a.approval_id}>
                  <td>{when(a.created_at)}</td>
                  <td>{a.project_name}</td>
                  <td>
                    <a href={`#/ds/${a.decision_set_id}/plan`}>{a.plan ?? a.request.slice(0, 60)}</a>
                    <div class="muted">{a.request.slice(0, 100)}</div>
                  </td>
                  <td>
                    {money(a.monthly_total_usd)} / {money(a.budget_monthly_usd)}
                    <Bar value={a.monthly_total_usd} max={a.budget_monthly_usd} label="of the budget" />
                  </td>
                  <td>
                    <Badge value={a.policy} />
                    {a.failed_rules?.length ? <div class="muted">failed: {a.failed_rules.join(", ")}</div> : null}
                  </td>
                  <td>
                    <Badge value={a.technical_verdict} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}

function App() {
  const [ready, setReady] = useState<"loading" | "ready" | Error>("loading");
  const [me, setMe] = useState<Me | null>(null);
  const [signedIn, setSignedIn] = useState(false);
  const route = useRoute();
  useEffect(() => {
    loadConfig()
      .then(() => completeCognitoSignIn())
      .then(() => {
        setSignedIn(Boolean(token()));
        setReady("ready");
      })
      .catch((err) => setReady(err instanceof Error ? err : new Error(String(err))));
  }, []);
  useEffect(() => {
    if (!signedIn) return;
    api<Me>("/me").then(setMe, (err) => {
      setSignedIn(Boolean(token()));
      setReady(err);
    });
  }, [signedIn]);
  if (ready === "loading") return <Loading what="the app" />;
  if (ready instanceof Error && !signedIn) {
    return (
      <main class="panel" role="alert">
        <h1>The app could not start</h1>
        <p>{ready.message}</p>
      </main>
    );
  }
  if (!signedIn) return <SignIn onSignedIn={() => setSignedIn(true)} />;
  if (!me) return ready instanceof Error ? <ErrorMessage error={ready} /> : <Loading what="your profile" />;
  const [section, id, tab] = route;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/">
          Agentic MLOps
        </a>
        <nav aria-label="Main">
          <a href="#/" aria-current={!section || section === "projects" ? "page" : undefined}>
            Projects
          </a>
          {hasRoleAnywhere(me, "approver") ? (
            <a href="#/inbox" aria-current={section === "inbox" ? "page" : undefined}>
              Approval inbox
            </a>
          ) : null}
        </nav>
        <div class="who" data-testid="who">
          <span>
            Signed in as <strong>{me.user}</strong>
          </span>
          <span class="muted">
            {Object.entries(me.roles)
              .map(([p, r]) => `${p === "*" ? "all projects" : p}: ${r.join(", ")}`)
              .join("; ")}
          </span>
          <button
            type="button"
            class="link"
            onClick={() => {
              setToken(null);
              setMe(null);
              setSignedIn(false);
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <ErrorBoundary>
        {section === "projects" && id ? (
          <ProjectPage me={me} projectId={id} key={id} />
        ) : section === "ds" && id ? (
          <DecisionSetPage me={me} id={id} tab={tab ?? "run"} key={id} />
        ) : section === "inbox" ? (
          <InboxPage />
        ) : (
          <ProjectsPage me={me} />
        )}
      </ErrorBoundary>
    </>
  );
}

render(<App />, document.getElementById("app")!);
