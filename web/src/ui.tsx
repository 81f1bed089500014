// Small shared pieces: errors, badges, the router and the signed-in user's roles.
import { Component, type ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "./api";

export interface Me {
  user: string;
  roles: Record<string, string[]>;
}

export function rolesOn(me: Me, projectId: string | null | undefined): string[] {
  const all = new Set([...(me.roles["*"] ?? []), ...((projectId && me.roles[projectId]) || [])]);
  return [...all].sort();
}

export function hasRoleAnywhere(me: Me, role: string): boolean {
  return Object.values(me.roles).some((roles) => roles.includes(role));
}

export function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

export function go(path: string): void {
  location.hash = `#/${path.replace(/^\//, "")}`;
}

export function describe(error: unknown): string {
  if (error instanceof ApiError) {
    const prefix =
      error.status === 403
        ? "Not allowed: "
        : error.status === 404
          ? "Not found: "
          : error.status === 409
            ? "Conflict: "
            : "";
    return prefix + error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {describe(error)}
    </p>
  );
}

export function Badge({ value, kind }: { value: string | null | undefined; kind?: string }) {
  if (!value) return <span class="badge">—</span>;
  const tone =
    kind ??
    (/(pass|sound|approved|done|complete|passed)/.test(value)
      ? "good"
      : /(fail|reject|unsound|error|critical|high)/.test(value)
        ? "bad"
        : /(await|wait|skip|warn|medium|running|pending)/.test(value)
          ? "warn"
          : "neutral");
  return <span class={`badge ${tone}`}>{value.replace(/_/g, " ")}</span>;
}

export class ErrorBoundary extends Component<{ children: ComponentChildren }, { error: unknown }> {
  state = { error: null as unknown };
  componentDidCatch(error: unknown) {
    this.setState({ error });
  }
  render() {
    if (this.state.error) {
      return (
        <div class="panel" role="alert">
          <h2>Something went wrong on this page</h2>
          <p>{describe(this.state.error)}</p>
          <button type="button" onClick={() => location.reload()}>
            Reload
          </button>
        </div>
      );
    }
    return this.props.children;
  }
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status">
      Loading {what}…
    </p>
  );
}

export function Bar({ value, max, label }: { value: number | null | undefined; max: number | null | undefined; label: string }) {
  if (value == null || !max) return null;
  const share = Math.max(0, value / max);
  return (
    <div
      class={`bar${share > 1 ? " over" : ""}`}
      role="meter"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(share * 100)}
      aria-label={`${Math.round(share * 100)}% ${label}`}
    >
      <span style={{ width: `${Math.min(100, share * 100)}%` }} />
    </div>
  );
}

