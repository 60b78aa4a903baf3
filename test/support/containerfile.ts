// What Containerfile's final stage says the image runs, read by the tests that check it (examples.test.ts)
// and by the e2e suite's hand-built equivalent of the image (test/e2e/support/shim-image.ts).

/** Where the image keeps the module for Fluent Bit (examples/: WASM_Path, the DaemonSet's init container). */
export const IMAGE_WASM_PATH = "/opt/cri-logrotate/cri-logrotate.wasm";

export interface FinalStage {
  entrypoint?: string[];
  cmd?: string[];
  user?: string;
  workdir?: string;
  env: string[];
}

/** The final stage of Containerfile: what the image runs. Exec-form ENTRYPOINT/CMD only (as ours are). */
export function containerfileFinalStage(text: string): FinalStage {
  const lines = text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  const last = lines.map((l, i) => (/^FROM\s/i.test(l) ? i : -1)).filter((i) => i >= 0).pop();
  if (last === undefined) throw new Error("Containerfile has no FROM");
  const stage: FinalStage = { env: [] };
  for (const line of lines.slice(last + 1)) {
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, instruction, rest] = m as unknown as [string, string, string];
    const execForm = (): string[] => {
      const v = JSON.parse(rest) as unknown;
      if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new Error(`Containerfile: ${instruction} is not in exec form: ${rest}`);
      return v as string[];
    };
    switch (instruction.toUpperCase()) {
      case "ENTRYPOINT": stage.entrypoint = execForm(); break;
      case "CMD": stage.cmd = execForm(); break;
      case "USER": stage.user = rest; break;
      case "WORKDIR": stage.workdir = rest; break;
      case "ENV": stage.env.push(...envPairs(rest)); break;
    }
  }
  return stage;
}

/** `ENV K=v K2="a b"`: each KEY=value pair, the value's double quotes removed (no other escapes are used here). */
function envPairs(rest: string): string[] {
  return [...rest.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g)].map((m) => `${m[1]}=${m[3] ?? m[2]}`);
}
