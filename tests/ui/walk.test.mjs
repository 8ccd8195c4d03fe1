// Walks through Gantry's web UI in headless Chromium against `gantry demo`, saving a
// screenshot of every page to target/ui-screenshots/ (kept by CI as artifacts).
// Run by scripts/test: node --test tests/ui/
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createHash } from "node:crypto";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const gantry = process.env.GANTRY_BIN || join(root, "target/debug/gantry");
const shots = join(root, "target/ui-screenshots");
mkdirSync(shots, { recursive: true });

let demo, urls, browser;

/** Starts `gantry demo` on free ports and reads the URLs from its banner. */
function startDemo() {
  const data = mkdtempSync(join(tmpdir(), "gantry-ui-"));
  const child = spawn(gantry, ["demo", "--listen", "127.0.0.1:0", "--globus-listen", "127.0.0.1:0", "--data", data], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((ok, fail) => {
    let out = "";
    const timer = setTimeout(() => fail(new Error("gantry demo did not start:\n" + out)), 60000);
    child.stdout.on("data", (b) => {
      out += b.toString();
      if (out.includes("Press Ctrl-C")) {
        clearTimeout(timer);
        const gantryUrl = out.match(/Gantry\s+(http:\/\/\S+)/)[1];
        const globusUrl = out.match(/Globus \(built-in\)\s+(http:\/\/\S+)/)[1];
        const cluster = out.match(/([0-9a-f-]{36})\s+University Cluster/)[1];
        ok({ child, data, gantry: gantryUrl, globus: globusUrl, cluster, banner: out });
      }
    });
    child.on("exit", (code) => fail(new Error(`gantry demo exited with ${code}:\n${out}`)));
  });
}

// Every page must satisfy Gantry's Content-Security-Policy, and the browser must log no
// error (an invalid pattern, a missing favicon or script…): either fails the walk. A page
// the walk opens expecting an error status is checked by the walk itself, so the
// browser's note that the document itself answered 4xx is not counted.
const consoleErrors = [];
function watched(page) {
  page.on("console", (m) => {
    const own = m.location()?.url === page.url() && /Failed to load resource/.test(m.text());
    if (/Content.Security.Policy/i.test(m.text()) || (m.type() === "error" && !own)) {
      consoleErrors.push(`${m.location()?.url || page.url()}: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => consoleErrors.push(`${page.url()}: ${e.message}`));
  return page;
}
afterEach(() => assert.deepEqual(consoleErrors.splice(0), [], "the browser logged errors"));

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** Nothing on the page is wider than the screen (no sideways scrolling on a phone). */
async function fitsTheScreen(page) {
  const over = await page.evaluate(() => {
    const scrolls = (e) => {
      for (let p = e.parentElement; p; p = p.parentElement) {
        if (["auto", "scroll"].includes(getComputedStyle(p).overflowX)) return true;
      }
      return false;
    };
    return [...document.body.querySelectorAll("*")]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !scrolls(e))
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}`);
  });
  assert.deepEqual(over, [], `${page.url()}: wider than the screen`);
}

/** Signs in to Gantry through the built-in Globus service's login form. */
async function signInWithGlobus(page, user, password) {
  await page.goto(urls.gantry + "/login");
  await shot(page, "01-sign-in");
  await page.getByRole("link", { name: /Sign in with Globus/ }).click();
  await page.getByLabel("Username").fill(user);
  await page.getByLabel("Password").fill(password);
  await shot(page, "02-globus-login-form");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Allow" }).waitFor();
  await fitsTheScreen(page);
  await page.getByRole("button", { name: "Allow" }).click();
  await page.waitForURL(urls.gantry + "/**");
  await assert.doesNotReject(page.getByRole("link", { name: user }).waitFor());
}

function cli(home, args, input) {
  return execFileSync(gantry, args, {
    env: { PATH: process.env.PATH, HOME: home },
    input,
    encoding: "utf8",
  });
}

before(async () => {
  urls = await startDemo();
  demo = urls.child;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
});

after(async () => {
  await browser?.close();
  demo?.kill("SIGTERM");
});

/** Connect Globus as alice from a page that offers it (signing in at Globus if asked). */
async function connectGlobus(page) {
  await page.getByRole("link", { name: "Connect Globus" }).click();
  if (await page.getByLabel("Username").count()) {
    await page.getByLabel("Username").fill("alice@uni.edu");
    await page.getByLabel("Password").fill("alice-pass");
    await page.getByRole("button", { name: "Sign in" }).click();
  }
  await page.getByRole("button", { name: "Allow" }).click();
}

test("alice signs in with Globus, makes a token, pushes with the CLI, finds the image, signs out", async () => {
  const page = watched(await browser.newPage({ viewport: { width: 1100, height: 800 } }));
  await page.goto(urls.gantry + "/");
  await shot(page, "00-home-anonymous");
  await signInWithGlobus(page, "alice@uni.edu", "alice-pass");

  // Settings: an API token, shown once.
  await page.getByRole("link", { name: "alice@uni.edu" }).click();
  await page.getByLabel("Name").fill("laptop");
  await page.getByLabel("Scope").selectOption("write");
  await page.getByRole("button", { name: "Create token" }).click();
  const token = (await page.locator("#new-token").textContent()).trim();
  assert.match(token, /^gnt_/);
  await shot(page, "03-settings-token");
  // Reloading neither shows the secret again nor makes a second token.
  await page.reload();
  assert.equal(await page.locator("#new-token").count(), 0);
  assert.equal(await page.locator("table.tokens tr", { hasText: "laptop" }).count(), 1);
  assert.match(await page.locator("table.tokens thead").textContent(), /Expires/, "each token says when it expires");
  // Revoking asks first: declined, nothing happens.
  await page.getByLabel("Name").fill("spare");
  await page.getByRole("button", { name: "Create token" }).click();
  await page.locator("#new-token").waitFor();
  page.once("dialog", (d) => d.dismiss());
  await page.getByRole("button", { name: "Revoke token spare" }).click();
  assert.equal(await page.locator("table.tokens tr", { hasText: "spare" }).count(), 1, "declined: kept");
  page.once("dialog", (d) => { assert.match(d.message(), /Revoke the token spare/); d.accept(); });
  await page.getByRole("button", { name: "Revoke token spare" }).click();
  await page.getByText("The token was revoked.").waitFor();
  assert.equal(await page.locator("table.tokens tr", { hasText: "spare" }).count(), 0);

  // Push with the CLI, using that token.
  const home = mkdtempSync(join(tmpdir(), "gantry-cli-"));
  cli(home, ["login", urls.gantry, "--token-stdin"], token + "\n");
  const sif = join(home, "tool.sif");
  copyFileSync(join(root, "crates/gantry/assets/demo.sif"), sif);
  const out = cli(home, ["push", sif, "alice/tool:1.0"]);
  assert.match(out, /pushed alice\/tool:1.0/);

  // A dataset's page offers its files, each downloadable; never the manifest as "the download".
  mkdirSync(join(home, "run1/raw"), { recursive: true });
  writeFileSync(join(home, "run1/raw/a.txt"), "counts");
  cli(home, ["push", join(home, "run1"), "alice/run:1"]);
  await page.goto(urls.gantry + "/i/alice/run:1");
  assert.equal(await page.locator("#download").count(), 0);
  const fileLink = page.getByRole("link", { name: "raw/a.txt" });
  assert.equal(await (await page.request.get(await fileLink.getAttribute("href"))).text(), "counts");
  await shot(page, "05c-dataset");
  await page.goto(urls.gantry + "/");

  // Find it by search and open it.
  await page.getByRole("searchbox", { name: "Search images" }).fill("tool");
  await page.getByRole("button", { name: "Search" }).click();
  assert.equal(await page.getByRole("searchbox", { name: "Search images" }).inputValue(), "tool", "the query stays in the box");
  await shot(page, "04-search");
  await page.getByRole("link", { name: "alice/tool:1.0" }).click();
  await assert.doesNotReject(page.getByRole("heading", { name: "alice/tool:1.0" }).waitFor());
  const definition = await page.locator("#definition").textContent();
  assert.match(definition, /Hello from Gantry/);
  assert.match(await page.locator("#pull-gantry").textContent(), /gantry pull alice\/tool:1.0/);
  // The demo speaks plain HTTP: the commands shown say so, and the gantry one runs as shown.
  assert.match(await page.locator("#pull-oras").textContent(), /^oras pull --plain-http /);
  assert.match(await page.locator("#pull-apptainer").textContent(), /^apptainer pull --nohttps oras:\/\//);
  const shown = (await page.locator("#pull-gantry").textContent()).trim();
  const [, shownUrl] = shown.match(/^GANTRY_URL=(\S+) gantry pull alice\/tool:1.0$/);
  const pulled = execFileSync(gantry, ["pull", "alice/tool:1.0", "-o", join(home, "shown.sif")], {
    env: { PATH: process.env.PATH, HOME: home, GANTRY_URL: shownUrl },
    encoding: "utf8",
  });
  assert.deepEqual(readFileSync(join(home, "shown.sif")), readFileSync(sif), pulled);
  await shot(page, "05-image");

  // The download link serves the same bytes.
  const href = await page.locator("#download").getAttribute("href");
  const body = Buffer.from(await (await page.request.get(href)).body());
  assert.deepEqual(body, readFileSync(sif));
  // The page names the file's own SHA-256, which `sha256sum tool.sif` prints.
  const sha = createHash("sha256").update(readFileSync(sif)).digest("hex");
  assert.equal((await page.locator("#file-sha256").textContent()).trim(), sha);
  // Its copy button puts exactly that on the clipboard.
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: urls.gantry });
  await page.getByRole("button", { name: "Copy the file's SHA-256" }).click();
  await page.getByRole("button", { name: "Copy the file's SHA-256" }).filter({ hasText: "Copied" }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), sha);

  // Its repository: a tag table, where the owner deletes a tag (after saying yes).
  cli(home, ["push", sif, "alice/tool:old"]);
  await page.locator("#repository").click();
  await page.locator("#tags").waitFor();
  assert.equal(await page.locator("#tags tbody tr").count(), 2);
  assert.match(await page.locator("#tags tbody tr", { hasText: "1.0" }).textContent(), /alice@uni\.edu/, "who pushed it");
  await shot(page, "05b-repository");
  page.once("dialog", (d) => { assert.match(d.message(), /Delete the tag old\?/); d.accept(); });
  await page.getByRole("button", { name: "Delete tag old" }).click();
  await page.locator("#deleted").waitFor();
  assert.equal(await page.locator("#tags tbody tr").count(), 1, "the tag is gone, 1.0 stays");
  await page.goto(urls.gantry + "/i/alice/tool:1.0");

  // Transfer it with Globus: connect first, then choose the demo cluster and a new folder.
  await page.getByRole("link", { name: "Transfer with Globus" }).click();
  await shot(page, "06-transfer-connect");
  await connectGlobus(page);
  await page.waitForURL(/\/transfer\?ref=/);
  await page.getByRole("link", { name: "University Cluster" }).click();
  await page.waitForSelector("#current-path");
  await page.getByLabel("New folder here").fill("images");
  await page.getByRole("button", { name: "Create folder" }).click();
  await page.waitForFunction(() => document.querySelector("#current-path")?.textContent.endsWith("/images/"));
  // The browser itself refuses a name with "/" (the pattern is valid and checked)…
  await page.getByLabel("New folder here").fill("a/b");
  assert.equal(await page.getByLabel("New folder here").evaluate((i) => i.validity.patternMismatch), true);
  // …and a folder that is already there is said on the same page, which stays put.
  await page.getByRole("link", { name: "up" }).click();
  await page.waitForFunction(() => document.querySelector("#current-path")?.textContent.endsWith("/~/"));
  await page.getByLabel("New folder here").fill("images");
  await page.getByRole("button", { name: "Create folder" }).click();
  await page.locator("#mkdir-error").waitFor();
  assert.match(await page.locator("#mkdir-error").textContent(), /already here/);
  assert.match(await page.locator("#current-path").textContent(), /\/~\/$/);
  await assert.doesNotReject(page.getByRole("link", { name: "alice@uni.edu" }).waitFor());
  // The folder as a file manager shows it: the new folder in a table, a path bar.
  assert.match(await page.locator("#listing").textContent(), /images\//);
  await page.getByRole("link", { name: "images/" }).click();
  await page.waitForFunction(() => document.querySelector("#current-path")?.textContent.endsWith("/images/"));
  assert.equal(await page.locator("#empty").textContent(), "(empty)");
  assert.match(await page.locator("#path-bar").textContent(), /~\/images\//);
  assert.match(await page.locator("#arriving").textContent(), /\/images\/tool_1\.0\.sif$/, "the name it arrives under");
  assert.equal(await page.locator("#overwrite").count(), 0, "nothing to replace yet");
  // Bookmark the folder at Globus; the bookmark is offered next time.
  await page.getByText("Bookmark this folder").click();
  await page.getByLabel("Name", { exact: true }).fill("cluster images");
  await page.getByRole("button", { name: "Bookmark" }).click();
  await page.locator("#bookmarked").waitFor();
  assert.ok(await page.locator("#bookmarks").getByRole("link", { name: "cluster images" }).count(), "listed among the bookmarks");
  // The transfer options are folded away until asked for.
  assert.equal(await page.locator("#options").evaluate((d) => d.open), false);
  await page.getByText("Transfer options").click();
  assert.equal(await page.getByLabel("Verify checksums after the transfer").isChecked(), true, "verified by default");
  await page.getByLabel("Keep the files' modification times").check();
  await shot(page, "07-transfer-choose");
  await page.locator("#submit-transfer").click();
  await page.waitForURL(/\/tasks\?submitted=[0-9a-f]+$/);
  assert.match(await page.locator("#submitted").textContent(), /Your transfer of alice\/tool:1.0 was submitted/);
  // The table refreshes itself (htmx) until the task has succeeded.
  await page.locator('.status[data-status="SUCCEEDED"]').waitFor({ timeout: 30000 });
  assert.match(await page.locator("#tasks").textContent(), /University Cluster/);
  assert.match(await page.locator("#tasks time").first().textContent(), /just now|minute/, "submitted, said relatively");
  await shot(page, "08-tasks-succeeded");
  // The transfer in detail: times, full progress, events, and "transfer again".
  await page.getByRole("link", { name: "alice/tool:1.0" }).first().click();
  await page.locator("#task-status").waitFor();
  assert.equal(await page.locator("#task-status").textContent(), "SUCCEEDED");
  assert.equal(await page.locator("#task-progress").getAttribute("value"), "100");
  assert.ok((await page.locator("#events tbody tr").count()) >= 1, "Globus's events are listed");
  assert.match(await page.locator("#task-id").textContent(), /^[0-9a-f-]{36}$/);
  const color = await page.locator("#task-status").evaluate((e) => getComputedStyle(e).backgroundColor);
  assert.notEqual(color, "rgba(0, 0, 0, 0)", "the badge is coloured by state");
  await shot(page, "08c-task-detail");
  await page.getByRole("link", { name: "Transfer again" }).click();
  await page.waitForFunction(() => document.querySelector("#current-path")?.textContent.endsWith("/images/"));
  // The image is there now, with its size: sending again warns before replacing it.
  assert.match(await page.locator("#listing").textContent(), /tool_1\.0\.sif/);
  assert.match(await page.locator("#overwrite").textContent(), /tool_1\.0\.sif is already in this folder/);
  await shot(page, "07b-transfer-overwrite");

  // Her collection: she owns it and makes it public.
  await page.goto(urls.gantry + "/c/alice");
  await page.getByLabel("Visibility").selectOption("public");
  await page.getByLabel("Description").fill("Alice's tools");
  await page.getByRole("button", { name: "Save" }).click();
  await assert.doesNotReject(page.getByText("Alice's tools").first().waitFor());
  await shot(page, "08b-collection-owner");

  // Sign out.
  await page.getByRole("button", { name: "Sign out" }).click();
  await assert.doesNotReject(page.getByRole("link", { name: "Sign in" }).first().waitFor());
  await shot(page, "09-signed-out");
  // The Globus session is still alive, but the next "Sign in with Globus" asks for a
  // password again (no straight-to-consent as alice), and Globus's logout is offered.
  const logout = await page.locator("#provider-logout").getAttribute("href");
  assert.ok(logout.startsWith(urls.globus + "/v2/web/logout?client_id="), logout);
  await page.getByRole("link", { name: /Sign in with Globus/ }).click();
  await assert.doesNotReject(page.getByLabel("Password").waitFor());
  await page.goto(logout);
  await assert.doesNotReject(page.getByText(/Logged out of/).first().waitFor());
  await page.close();
});

test("bob cannot see the private collection", async () => {
  const page = watched(await browser.newPage({ viewport: { width: 390, height: 844 } })); // a phone
  await signInWithGlobus(page, "bob@uni.edu", "bob-pass");
  await page.goto(urls.gantry + "/");
  const text = await page.locator("main").textContent();
  assert.ok(text.includes("demo/hello:latest"), text);
  assert.ok(text.includes("alice/tool:1.0"), "alice made her collection public");
  assert.ok(!text.includes("beamline"), "bob sees nothing of the private collection");
  await shot(page, "10-bob-home-phone");
  await fitsTheScreen(page);
  // An image page, with its long digests, fits a phone too.
  await page.goto(urls.gantry + "/i/alice/tool:1.0");
  await fitsTheScreen(page);
  await shot(page, "10b-image-phone");
  // The header stays compact on a phone: brand and account on one line, search below.
  const header = await page.locator("header.top").boundingBox();
  assert.ok(header.height < 110, `the phone header is ${header.height}px high`);
  // Its page links fold behind "Menu".
  assert.equal(await page.getByRole("link", { name: "Transfers" }).isVisible(), false);
  await page.getByRole("button", { name: "Menu" }).click();
  assert.equal(await page.getByRole("button", { name: "Menu" }).getAttribute("aria-expanded"), "true");
  await page.getByRole("link", { name: "Transfers" }).click();
  await page.waitForURL(/\/tasks$/);
  // Tables of rows become cards on a phone: every value of a tag, down to who pushed it
  // and when, is on the screen, under its column's name.
  await page.goto(urls.gantry + "/r/alice/tool");
  const cut = await page.evaluate(() =>
    [...document.querySelectorAll("#tags td")].filter((td) => td.getBoundingClientRect().right > window.innerWidth + 1).length);
  assert.equal(cut, 0, "no column of the tag table is cut off");
  assert.equal(await page.locator('#tags td[data-label="Pushed by"]').first().isVisible(), true);
  for (const [path, name] of [["/r/alice/tool", "10c-repository-phone"], ["/c/alice", "10d-collection-phone"], ["/tasks", "10e-tasks-phone"], ["/settings", "10f-settings-phone"]]) {
    await page.goto(urls.gantry + path);
    await fitsTheScreen(page);
    await shot(page, name);
  }
  const r = await page.goto(urls.gantry + "/c/beamline");
  assert.equal(r.status(), 404);
  await shot(page, "11-bob-private-404");
  await page.close();
});

test("a high-assurance collection asks for a fresh lab.gov sign-in, and says so", async () => {
  const page = watched(await browser.newPage({ viewport: { width: 1100, height: 800 } }));
  await signInWithGlobus(page, "alice@uni.edu", "alice-pass");
  await page.goto(urls.gantry + "/transfer?ref=" + encodeURIComponent("demo/hello:latest"));
  if (await page.getByRole("link", { name: "Connect Globus" }).count()) {
    await page.getByRole("link", { name: "Connect Globus" }).click();
    await page.getByRole("button", { name: "Allow" }).click();
    await page.waitForURL(/\/transfer\?ref=/);
  }
  // "All endpoints" with nothing typed says what to do, in plain words.
  await page.getByLabel("Among").selectOption("all");
  await page.getByRole("button", { name: "Search" }).last().click();
  assert.match(await page.getByRole("alert").textContent(), /type part of an endpoint's name/);
  await page.getByLabel("Search endpoints").fill("archive");
  await page.getByLabel("Among").selectOption("all");
  await page.getByRole("button", { name: "Search" }).last().click();
  await page.getByRole("link", { name: "Lab Archive" }).click();
  const error = page.getByRole("alert");
  await error.waitFor();
  assert.match(await error.textContent(), /requires a recent sign-in/);
  assert.match(await error.textContent(), /with an identity from lab\.gov/, "which identity will do");
  await shot(page, "12-policy-asks-reauth");
  await page.getByRole("link", { name: "Sign in again with Globus" }).click();
  // Globus says why, and takes a lab.gov identity.
  assert.match(await page.locator("body").textContent(), /Lab Archive requires a recent sign-in/);
  await shot(page, "13-globus-reauth-form");
  await page.getByLabel("Username").fill("alice@lab.gov");
  await page.getByLabel("Password").fill("alice-lab-pass");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Allow" }).click();
  await page.waitForURL(/\/transfer\?ref=.*endpoint=/);
  assert.equal(await page.getByRole("link", { name: "Sign in again with Globus" }).count(), 0, "the policy is met now");
  const after = await page.locator("main").textContent();
  assert.ok(!/Globus answered|ClientError\.|^\s*EndpointPermissionDenied/m.test(after), `no raw Globus error: ${after}`);
  if (/permission/i.test(after)) assert.match(after, /Choose another folder or endpoint, or ask its owner for access/);
  await shot(page, "14-after-reauth");
  await page.close();
});

test("alice, an administrator, disables bob's account and enables it again", async () => {
  const page = watched(await browser.newPage({ viewport: { width: 1100, height: 800 } }));
  await signInWithGlobus(page, "alice@uni.edu", "alice-pass");
  const bob = watched(await browser.newPage({ viewport: { width: 390, height: 844 } }));
  await signInWithGlobus(bob, "bob@uni.edu", "bob-pass");
  await page.getByRole("link", { name: "Admin" }).click();
  assert.match(await page.locator("#storage").textContent(), /alice/, "storage per collection");
  await shot(page, "15-admin");
  page.once("dialog", (d) => { assert.match(d.message(), /Disable bob@uni\.edu\?/); d.accept(); });
  await page.getByRole("button", { name: "Disable bob@uni.edu" }).click();
  await page.locator("#changed").waitFor();
  assert.match(await page.locator("#user-table tr", { hasText: "bob@uni.edu" }).textContent(), /disabled/);
  // bob's session ended; signing in again is refused, and says why.
  await bob.goto(urls.gantry + "/settings");
  await bob.waitForURL(/\/login\?next=/);
  await bob.getByRole("link", { name: /Sign in with Globus/ }).click();
  if (await bob.getByLabel("Password").count()) {
    await bob.getByLabel("Username").fill("bob@uni.edu");
    await bob.getByLabel("Password").fill("bob-pass");
    await bob.getByRole("button", { name: "Sign in" }).click();
  }
  if (await bob.getByRole("button", { name: "Allow" }).count()) await bob.getByRole("button", { name: "Allow" }).click();
  await bob.getByText(/is disabled/).first().waitFor();
  await shot(bob, "16-disabled-phone");
  await page.getByRole("button", { name: "Enable bob@uni.edu" }).click();
  await page.locator("#changed").waitFor();
  assert.doesNotMatch(await page.locator("#user-table tr", { hasText: "bob@uni.edu" }).textContent(), /disabled/);
  await bob.close();
  await page.close();
});

test("an error page keeps the way on: sign in comes back, and the header stays", async () => {
  const page = watched(await browser.newPage({ viewport: { width: 390, height: 844 } }));
  // Not signed in, at a private page: "Sign in" comes back to it.
  const r = await page.goto(urls.gantry + "/c/beamline");
  assert.equal(r.status(), 401);
  await shot(page, "17-sign-in-needed-phone");
  await page.getByRole("link", { name: "Sign in" }).first().click();
  await page.getByRole("link", { name: /Sign in with Globus/ }).click();
  if (await page.getByLabel("Password").count()) {
    await page.getByLabel("Username").fill("alice@uni.edu");
    await page.getByLabel("Password").fill("alice-pass");
    await page.getByRole("button", { name: "Sign in" }).click();
  }
  if (await page.getByRole("button", { name: "Allow" }).count()) await page.getByRole("button", { name: "Allow" }).click();
  await page.waitForURL(urls.gantry + "/c/beamline");
  // The demo's administrator is told what her role lets her do.
  assert.match(await page.locator("main").textContent(), /as a server administrator, you manage this collection|server administrator \(you manage every collection\)/);
  // A page that is not there, opened in the browser: a page with her header and a way back.
  await page.goto(urls.gantry + "/no/such/page", { referer: urls.gantry + "/c/beamline" });
  assert.equal(await page.getByRole("heading", { name: "Not found" }).count(), 1);
  await page.getByRole("link", { name: "alice@uni.edu" }).waitFor();
  assert.equal(await page.getByRole("link", { name: "Back" }).getAttribute("href"), "/c/beamline");
  await fitsTheScreen(page);
  await shot(page, "18-not-found-phone");
  await page.close();
});

test("alice signs in with the user office and finds her experiments and their data", async () => {
  const page = watched(await browser.newPage({ viewport: { width: 1100, height: 800 } }));
  await page.goto(urls.gantry + "/login");
  const office = page.locator("fieldset", { hasText: "Example Light Source user office" });
  await office.getByLabel("Username").fill("alice");
  await office.getByLabel("Password").fill("alice-office-pass");
  await office.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Experiments" }).click();
  // The sync after sign-in runs in the background: the list fills in.
  for (let i = 0; i < 50 && !(await page.locator("#experiments").count()); i++) {
    await new Promise((r) => setTimeout(r, 100));
    await page.reload();
  }
  assert.match(await page.locator("#experiments").textContent(), /Lysozyme crystals/);
  assert.match(await page.locator("#experiments").textContent(), /Operando battery cathodes/);
  await page.getByRole("button", { name: "Add 20260002 to favourites" }).click();
  await page.getByRole("button", { name: "Remove 20260002 from favourites" }).waitFor();
  await shot(page, "19-experiments");
  await page.getByRole("link", { name: "20260001" }).click();
  assert.equal(await page.locator("#authorized").textContent(), "allowed");
  await shot(page, "20-experiment");
  await page.getByRole("link", { name: "raw/" }).click();
  const file = page.getByRole("link", { name: "notes.txt" });
  assert.equal(await (await page.request.get(await file.getAttribute("href"))).text(), "beam stable; 12.4 keV\n");
  await shot(page, "21-session-data");
  // On a phone, every column of the data is on the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await fitsTheScreen(page);
  await shot(page, "21b-session-data-phone");
  await page.setViewportSize({ width: 1100, height: 800 });
  // The folder goes to the cluster with Globus, as images do: connect, choose, send.
  await page.getByRole("link", { name: "Send raw with Globus" }).click();
  await connectGlobus(page);
  await page.waitForURL(/\/transfer\?experiment=20260001&session=1&source_path=raw/);
  assert.match(await page.locator("h1").textContent(), /Transfer 20260001 session 1: raw/);
  await page.getByRole("link", { name: "University Cluster" }).click();
  await page.waitForSelector("#current-path");
  assert.match(await page.locator("#arriving").textContent(), /\/raw\/$/, "the folder arrives as itself");
  await shot(page, "21c-session-send");
  await page.locator("#submit-transfer").click();
  await page.waitForURL(/\/tasks\?submitted=[0-9a-f]+$/);
  await page.locator('.status[data-status="SUCCEEDED"]').waitFor({ timeout: 30000 });
  assert.match(await page.locator("#tasks").textContent(), /20260001 session 1: raw/);
  await page.close();
});
