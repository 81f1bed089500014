// The plan as an architecture diagram: components grouped by network boundary, and the
// data flow between them derived from their capabilities. Everything comes from the plan.

interface Component {
  id: string;
  service: string;
  purpose?: string;
  capabilities?: string[];
  private_networking?: boolean | null;
  stores_data?: boolean;
}

const STAGES = [
  "streaming_ingestion",
  "storage",
  "data_catalog",
  "data_processing",
  "feature_store",
  "scheduling",
  "orchestration",
  "container_registry",
  "training",
  "model_registry",
  "ci_cd",
  "serving",
  "batch_inference",
  "monitoring",
  "encryption",
  "private_networking",
  "audit",
  "pii_discovery",
];

/** [from capability, to capability, what flows]. */
export const FLOWS: [string, string, string][] = [
  ["streaming_ingestion", "storage", "events"],
  ["storage", "data_processing", "raw data"],
  ["data_catalog", "data_processing", "schemas"],
  ["data_processing", "feature_store", "features"],
  ["data_processing", "training", "features"],
  ["feature_store", "training", "features"],
  ["scheduling", "orchestration", "trigger"],
  ["orchestration", "training", "runs"],
  ["container_registry", "training", "images"],
  ["training", "model_registry", "model package"],
  ["model_registry", "serving", "approved model"],
  ["model_registry", "batch_inference", "approved model"],
  ["ci_cd", "serving", "deploys"],
  ["storage", "batch_inference", "inputs"],
  ["batch_inference", "storage", "predictions"],
  ["serving", "monitoring", "captured traffic"],
];

export interface Edge {
  from: string;
  to: string;
  label: string;
}

function stage(c: Component): number {
  const found = (c.capabilities ?? []).map((cap) => STAGES.indexOf(cap)).filter((i) => i >= 0);
  return found.length ? Math.min(...found) : STAGES.length;
}

export function flows(components: Component[]): Edge[] {
  const edges: Edge[] = [];
  const seen = new Set<string>();
  for (const [fromCap, toCap, label] of FLOWS) {
    for (const a of components.filter((c) => c.capabilities?.includes(fromCap))) {
      for (const b of components.filter((c) => c.capabilities?.includes(toCap))) {
        const key = `${a.id}>${b.id}`;
        if (a.id !== b.id && !seen.has(key)) {
          seen.add(key);
          edges.push({ from: a.id, to: b.id, label });
        }
      }
    }
  }
  return edges;
}

export function boundaries(plan: any): { name: string; components: Component[] }[] {
  const components: Component[] = [...(plan?.components ?? [])].sort((a, b) => stage(a) - stage(b));
  const vpc = plan?.networking?.vpc;
  const inside = components.filter((c) => vpc && c.private_networking);
  const outside = components.filter((c) => !(vpc && c.private_networking));
  const groups = [];
  if (inside.length) {
    const subnets = plan?.networking?.private_subnets ? "private subnets" : "subnets";
    const egress = plan?.networking?.internet_egress ? "internet egress" : "no internet egress";
    groups.push({ name: `VPC (${subnets}, ${egress})`, components: inside });
  }
  if (outside.length) groups.push({ name: `AWS regional services (${plan?.region ?? "region"})`, components: outside });
  return groups;
}

const W = 176;
const H = 52;
const GAP_X = 28;
const GAP_Y = 34;
const PAD = 16;
const HEAD = 26;
const COLS = 4;

export function ArchitectureDiagram({ plan }: { plan: any }) {
  const groups = boundaries(plan);
  const edges = flows(plan?.components ?? []);
  const positions = new Map<string, { x: number; y: number }>();
  let y = 0;
  const width = COLS * W + (COLS - 1) * GAP_X + 2 * PAD;
  const boxes = groups.map((group) => {
    const rows = Math.ceil(group.components.length / COLS);
    const height = HEAD + PAD + rows * H + (rows - 1) * GAP_Y + PAD;
    group.components.forEach((c, i) => {
      positions.set(c.id, {
        x: PAD + (i % COLS) * (W + GAP_X),
        y: y + HEAD + PAD + Math.floor(i / COLS) * (H + GAP_Y),
      });
    });
    const box = { name: group.name, y, height };
    y += height + 24;
    return box;
  });
  const total = Math.max(y - 24, 60);
  const label = `Architecture of ${plan?.name ?? "the plan"}: ${groups
    .map((g) => `${g.name}: ${g.components.map((c) => c.id).join(", ")}`)
    .join("; ")}`;
  return (
    <figure class="diagram">
      <svg
        viewBox={`0 0 ${width} ${total}`}
        role="img"
        aria-label={label}
        data-testid="architecture-diagram"
      >
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
          </marker>
        </defs>
        {boxes.map((b) => (
          <g class="boundary" key={b.name}>
            <rect x={2} y={b.y + 2} width={width - 4} height={b.height - 4} rx={10} />
            <text x={PAD} y={b.y + 20} class="boundary-name">
              {b.name}
            </text>
          </g>
        ))}
        {edges.map((e) => {
          const a = positions.get(e.from)!;
          const b = positions.get(e.to)!;
          const [x1, y1, x2, y2] = clip(a, b);
          return (
            <g class="flow" key={`${e.from}-${e.to}`}>
              <line x1={x1} y1={y1} x2={x2} y2={y2} marker-end="url(#arrow)" />
              <title>{`${e.from} → ${e.to}: ${e.label}`}</title>
            </g>
          );
        })}
        {(plan?.components ?? []).map((c: Component) => {
          const p = positions.get(c.id)!;
          return (
            <g class={`component${c.stores_data ? " stores" : ""}`} key={c.id} data-component={c.id}>
              <rect x={p.x} y={p.y} width={W} height={H} rx={6} />
              <text x={p.x + 8} y={p.y + 21} class="component-id">
                {c.id}
              </text>
              <text x={p.x + 8} y={p.y + 39} class="component-service">
                {c.service}
              </text>
              <title>{c.purpose ?? c.service}</title>
            </g>
          );
        })}
      </svg>
      <figcaption>
        <details>
          <summary>Data flow ({edges.length})</summary>
          <ul>
            {edges.map((e) => (
              <li key={`${e.from}-${e.to}`}>
                {e.from} → {e.to}: {e.label}
              </li>
            ))}
          </ul>
        </details>
      </figcaption>
    </figure>
  );
}

function clip(a: { x: number; y: number }, b: { x: number; y: number }): number[] {
  const ax = a.x + W / 2;
  const ay = a.y + H / 2;
  const bx = b.x + W / 2;
  const by = b.y + H / 2;
  const dx = bx - ax;
  const dy = by - ay;
  const scale = (px: number, py: number) => {
    const tx = dx === 0 ? Infinity : W / 2 / Math.abs(px);
    const ty = dy === 0 ? Infinity : H / 2 / Math.abs(py);
    return Math.min(tx, ty);
  };
  const s = scale(dx, dy);
  return [ax + dx * s, ay + dy * s, bx - dx * s, by - dy * s];
}
