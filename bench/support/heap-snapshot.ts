// Reads a V8 .heapsnapshot (the JSON Node writes on --heapsnapshot-signal) and sums it the way the rss
// benchmark reports it: self size by node type, the largest constructors by self size, and the retained
// size of chosen objects — what would be freed if that object went: everything reachable from the GC roots
// only through it (weak edges do not keep anything alive).
import { readFileSync } from "node:fs";

interface RawSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface HeapSummary {
  /** Self sizes of every node, in bytes. */
  totalBytes: number;
  nodeCount: number;
  /** Self size by V8's node type (code, string, object, closure, array, native, …). */
  byType: Record<string, number>;
  /** The largest constructors (objects by class name, closures, native kinds) by self size. */
  topConstructors: { name: string; count: number; bytes: number }[];
  /** Retained size and instance count of each requested constructor (the first instance's retained size). */
  retained: Record<string, { count: number; retainedBytes: number }>;
}

export function summarizeHeapSnapshot(path: string, retainedOf: string[], top = 15): HeapSummary {
  const snap = JSON.parse(readFileSync(path, "utf8")) as RawSnapshot;
  const meta = snap.snapshot.meta;
  const NF = meta.node_fields.length;
  const EF = meta.edge_fields.length;
  const types = meta.node_types[0];
  const TYPE = meta.node_fields.indexOf("type");
  const NAME = meta.node_fields.indexOf("name");
  const SIZE = meta.node_fields.indexOf("self_size");
  const EDGES = meta.node_fields.indexOf("edge_count");
  const EDGE_TYPE = meta.edge_fields.indexOf("type");
  const TO = meta.edge_fields.indexOf("to_node");
  const WEAK = meta.edge_types[0].indexOf("weak");
  const { nodes, edges, strings } = snap;
  const count = nodes.length / NF;
  const firstEdge = new Uint32Array(count + 1);
  for (let i = 0, e = 0; i < count; i++) {
    firstEdge[i] = e;
    e += nodes[i * NF + EDGES]! * EF;
    firstEdge[i + 1] = e;
  }

  let totalBytes = 0;
  const byType: Record<string, number> = {};
  const byName = new Map<string, { count: number; bytes: number }>();
  const instances = new Map<string, number[]>(retainedOf.map((n) => [n, []]));
  for (let i = 0; i < count; i++) {
    const type = types[nodes[i * NF + TYPE]!]!;
    const name = strings[nodes[i * NF + NAME]!]!;
    const size = nodes[i * NF + SIZE]!;
    totalBytes += size;
    byType[type] = (byType[type] ?? 0) + size;
    const key = type === "object" || type === "native" || type === "closure" ? `${type} ${name || "(anonymous)"}` : type;
    const b = byName.get(key) ?? { count: 0, bytes: 0 };
    b.count++;
    b.bytes += size;
    byName.set(key, b);
    if (type === "object") instances.get(name)?.push(i);
  }

  // Reachable bytes from the root (node 0), optionally pretending one node is not there.
  const seen = new Uint8Array(count);
  const reachable = (without: number): number => {
    seen.fill(0);
    if (without >= 0) seen[without] = 1;
    const stack = [0];
    seen[0] = 1;
    let bytes = 0;
    while (stack.length > 0) {
      const i = stack.pop()!;
      bytes += nodes[i * NF + SIZE]!;
      for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e += EF) {
        if (edges[e + EDGE_TYPE] === WEAK) continue;
        const to = edges[e + TO]! / NF;
        if (seen[to] === 0) {
          seen[to] = 1;
          stack.push(to);
        }
      }
    }
    return bytes;
  };
  const all = reachable(-1);
  const retained: HeapSummary["retained"] = {};
  for (const [name, ids] of instances) {
    retained[name] = { count: ids.length, retainedBytes: ids.length > 0 ? all - reachable(ids[0]!) : 0 };
  }

  const topConstructors = [...byName]
    .filter(([name]) => name.includes(" "))
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .slice(0, top)
    .map(([name, b]) => ({ name, ...b }));
  return { totalBytes, nodeCount: count, byType, topConstructors, retained };
}
