// Starts a real `satisfy serve` on a free port with a fresh data directory, and a
// headless Chromium from Debian, for end-to-end tests and screenshots.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const ADMIN_PASSWORD = "prova-e2e-123";

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/// Starts `satisfy serve` on a fresh data directory; `demoData` also generates the demo
/// ente's year of service events (off by default: most tests want a quiet server).
export async function startSatisfy({ demoData = false } = {}) {
  const binary = process.env.TEST_SATISFY_BIN || join(here, "../../target/debug/satisfy");
  const dataDir = mkdtempSync(join(tmpdir(), "satisfy-e2e-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(binary, ["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir], {
    env: {
      ...process.env, SATISFY_ADMIN_PASSWORD: ADMIN_PASSWORD, RUST_LOG: "warn",
      SATISFY_DEMO_DATA: demoData ? "true" : "false",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => { output += chunk; });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`satisfy exited early: ${output}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error("satisfy did not start within 30 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  // API calls authenticate with a token of the first tenant, made by the operator CLI.
  const token = execFileSync(binary, ["admin", "--data-dir", dataDir, "tokens", "create", "--tenant", "comune",
    "--name", "e2e", "--scopes", "read,write"], { env: { ...process.env, RUST_LOG: "error" } }).toString().trim();
  tokens.set(base, token);
  return {
    base,
    dataDir,
    binary,
    output: () => output,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run", "--disable-quic"],
  });
}

const tokens = new Map();

/// The Authorization header of API calls to the Satisfy at `base`.
export function authorization(base) {
  return `Bearer ${tokens.get(base)}`;
}

export async function api(base, path) {
  const response = await fetch(base + path, { headers: { Authorization: authorization(base) } });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/// Creates an entrypoint through the API (`fields`: name, kind, allowed_origins…) and
/// returns its id; anything but 201 fails the caller.
export async function createEntrypoint(base, fields) {
  const response = await fetch(`${base}/api/v1/entrypoints`, {
    method: "POST", headers: { Authorization: authorization(base), "content-type": "application/json" },
    body: JSON.stringify(fields),
  });
  if (response.status !== 201) throw new Error(`creating ${fields.name}: ${response.status} ${await response.text()}`);
  return (await response.json()).id;
}

export async function demoEntrypoint(base) {
  const { entrypoints } = await api(base, "/api/v1/entrypoints");
  const demo = entrypoints.find((e) => e.name.startsWith("Demo"));
  if (!demo) throw new Error("no demo entrypoint");
  return demo;
}
