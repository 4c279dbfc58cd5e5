#!/usr/bin/env node
// An independent ActivityPub peer for linkblog's federation tests, built on Fedify
// (https://fedify.dev).  One actor, in-memory state, Fedify's own HTTP-signature
// verification on every inbox POST, and a small JSON control API under /control/.
//
//   node peer.mjs --port 0 --name alice
//
// prints "READY <port>" on stdout once it listens on 127.0.0.1; everything else goes to
// stderr.  See README.md beside this file for the control API and Fedify's quirks.

// ---------------------------------------------------------------------------------------
// Node 20 polyfills.  They must exist before Fedify's modules are evaluated, so Fedify is
// imported dynamically below (static imports would be hoisted above these lines).
// ---------------------------------------------------------------------------------------
if (typeof globalThis.navigator === "undefined") {
  // Fedify reads navigator.userAgent (a Cloudflare Workers check); Node < 21 has no navigator.
  Object.defineProperty(globalThis, "navigator", {
    value: { userAgent: `Node.js/${process.versions.node}` },
    configurable: true,
    writable: true,
  });
}
if (typeof ArrayBuffer.prototype.transfer !== "function") {
  // byte-encodings (Fedify's base64/base58 codec) calls buffer.transfer(newLength), which
  // Node < 21 lacks.  A copy is enough: the callers never reuse the old buffer.
  Object.defineProperty(ArrayBuffer.prototype, "transfer", {
    value: function transfer(newLength = this.byteLength) {
      const out = new ArrayBuffer(newLength);
      new Uint8Array(out).set(new Uint8Array(this, 0, Math.min(newLength, this.byteLength)));
      return out;
    },
    configurable: true,
    writable: true,
  });
}

import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import { inspect } from "node:util";

// ---------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------
const USAGE = `usage: node peer.mjs --port PORT --name NAME [options]

  --port PORT                  port to listen on (0: any free port; the real one is printed)
  --name NAME                  the actor's identifier / preferredUsername (default: alice)
  --host HOST                  address to listen on (default: 127.0.0.1)
  --first-knock SPEC           first HTTP-signature spec for unknown servers: rfc9421
                               (Fedify's default) or draft-cavage-http-signatures-12
  --signature-time-window S    seconds a signature's Date/created may be off (default 3600,
                               Fedify's); 0 turns the time check off
  --no-auto-accept             do not answer Follows with an Accept (still records them)
  --accept-delay-ms MS         wait this long before sending the Accept (default 50)
  --no-require-http-signature  let Fedify accept a delivery on a Linked Data signature or an
                               Object Integrity Proof alone (Fedify's own behaviour); by
                               default a delivery must carry a valid HTTP signature too
  --ed25519                    also give the actor an Ed25519 key, so Fedify adds Object
                               Integrity Proofs (FEP-8b32) to what it sends
  --exit-on-stdin-eof          stop when stdin closes (so a test runner that dies leaves
                               no peer behind)
  --verbose                    print Fedify's debug log on stderr too
`;

function parseArgs(argv) {
  const opts = {
    port: null,
    name: "alice",
    host: "127.0.0.1",
    firstKnock: "rfc9421",
    timeWindow: 3600,
    autoAccept: true,
    acceptDelayMs: 50,
    ed25519: false,
    requireHttpSignature: true,
    exitOnStdinEof: false,
    verbose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case "--port": opts.port = Number(value()); break;
      case "--name": opts.name = value(); break;
      case "--host": opts.host = value(); break;
      case "--first-knock": opts.firstKnock = value(); break;
      case "--signature-time-window": opts.timeWindow = Number(value()); break;
      case "--no-auto-accept": opts.autoAccept = false; break;
      case "--accept-delay-ms": opts.acceptDelayMs = Number(value()); break;
      case "--ed25519": opts.ed25519 = true; break;
      case "--no-require-http-signature": opts.requireHttpSignature = false; break;
      case "--exit-on-stdin-eof": opts.exitOnStdinEof = true; break;
      case "--verbose": opts.verbose = true; break;
      case "-h": case "--help": process.stdout.write(USAGE); process.exit(0); break;
      default: fail(`unknown argument: ${arg}`);
    }
  }
  if (opts.port == null || !Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    fail("--port must be an integer from 0 to 65535");
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(opts.name)) fail("--name may hold only letters, digits, _ . -");
  if (!["rfc9421", "draft-cavage-http-signatures-12"].includes(opts.firstKnock)) {
    fail("--first-knock must be rfc9421 or draft-cavage-http-signatures-12");
  }
  if (!Number.isFinite(opts.timeWindow) || opts.timeWindow < 0) fail("bad --signature-time-window");
  if (!Number.isFinite(opts.acceptDelayMs) || opts.acceptDelayMs < 0) fail("bad --accept-delay-ms");
  return opts;
}

function fail(message) {
  process.stderr.write(`peer.mjs: ${message}\n\n${USAGE}`);
  process.exit(2);
}

const OPTS = parseArgs(process.argv.slice(2));
const NAME = OPTS.name;
const TAG = `[fedify-peer ${NAME}]`;

// ---------------------------------------------------------------------------------------
// Fedify and LogTape (imported now that the polyfills are in place)
// ---------------------------------------------------------------------------------------
const fedify = await import("@fedify/fedify");
const logtape = await import("@logtape/logtape");
const { Temporal } = await import("@js-temporal/polyfill");
const {
  Accept, Activity, Announce, Create, Endpoints, Follow, Like, Mention, MemoryKvStore, Note,
  Person, PUBLIC_COLLECTION, Reject, Undo, createFederation, generateCryptoKeyPair, getUserAgent,
  isActor, verifyRequest,
} = fedify;
const FEDIFY_VERSION = (() => {
  try {
    const file = new URL("./node_modules/@fedify/fedify/package.json", import.meta.url);
    return JSON.parse(readFileSync(file, "utf8")).version;
  } catch {
    return "unknown";
  }
})();

// ---------------------------------------------------------------------------------------
// Logging: our own lines and Fedify's (through LogTape) go to stderr; Fedify's records,
// debug level included, are also kept in memory and tied to the inbox delivery during
// which they were written (LogTape's implicit context), so a rejected delivery carries
// Fedify's reason ("Failed to verify; ...").
// ---------------------------------------------------------------------------------------
const LEVELS = { trace: 0, debug: 1, info: 2, warning: 3, error: 4, fatal: 5 };
const STDERR_LEVEL = OPTS.verbose ? LEVELS.debug : LEVELS.info;
const MAX_LOG_RECORDS = 2000;
const logRecords = [];
const logStore = new AsyncLocalStorage();   // { kind: "delivery" | "sent", seq, log: [] }
let logSeq = 0;

function clip(text, max = 2000) {
  return text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text;
}

function say(message) {
  process.stderr.write(`${new Date().toISOString()} ${TAG} ${message}\n`);
}

// Expected with an RSA-only actor, and said on every send: kept in /control/logs only.
const QUIET = /^No supported key found to create a proof/;

// Said for every JSON-LD context Fedify resolves: noise, dropped unless --verbose.
const NOISE = /^Using preloaded context: /;

function fedifySink(record) {
  if (!OPTS.verbose && typeof record.rawMessage === "string" && NOISE.test(record.rawMessage)) return;
  const text = clip(record.message
    .map((part, i) => (i % 2 === 0 ? String(part) : typeof part === "string" ? part
      : inspect(part, { depth: 4, breakLength: Infinity })))
    .join(""));
  const entry = {
    seq: ++logSeq,
    time: new Date(record.timestamp).toISOString(),
    level: record.level,
    category: record.category.join("."),
    message: text,
  };
  const owner = logStore.getStore();   // the delivery or the sending this record belongs to
  if (owner != null) {
    entry[owner.kind] = owner.seq;
    if (owner.log.length < 100) owner.log.push(`${entry.level} ${entry.category}: ${text}`);
  }
  logRecords.push(entry);
  if (logRecords.length > MAX_LOG_RECORDS) logRecords.splice(0, logRecords.length - MAX_LOG_RECORDS);
  if ((LEVELS[record.level] ?? LEVELS.info) >= STDERR_LEVEL && !(QUIET.test(text) && !OPTS.verbose)) {
    process.stderr.write(`${entry.time} ${TAG} ${entry.level} ${entry.category}: ${text}\n`);
  }
}

await logtape.configure({
  sinks: { peer: fedifySink },
  loggers: [
    { category: "fedify", sinks: ["peer"], lowestLevel: "debug" },
    { category: ["logtape", "meta"], sinks: ["peer"], lowestLevel: "warning" },
  ],
  contextLocalStorage: new AsyncLocalStorage(),
});

// ---------------------------------------------------------------------------------------
// State (all in memory, gone when the process ends)
// ---------------------------------------------------------------------------------------
const state = {
  deliveries: [],          // every POST to an inbox, verified or not
  sent: [],                // every activity this peer sent, with the outcome
  followers: new Map(),    // actor id -> { actor, inbox, sharedInbox, follow, since }
  following: new Map(),    // actor id -> { actor, state, follow, since }
  activities: new Map(),   // activity id -> JSON-LD (served at /activities/{uuid})
  notes: new Map(),        // note id ("1", uuid...) -> Note
  outbox: [],              // Activity objects shown in the outbox collection
};
let deliverySeq = 0;
let sentSeq = 0;

// ---------------------------------------------------------------------------------------
// HTTP server first, so that a --port 0 choice is known before the origin is fixed
// ---------------------------------------------------------------------------------------
const server = http.createServer((req, res) => {
  handleNodeRequest(req, res).catch((error) => {
    say(`internal error on ${req.method} ${req.url}: ${error?.stack ?? error}`);
    if (!res.headersSent) {
      res.writeHead(500, { "Content-Type": "application/json" });
    }
    res.end(JSON.stringify({ ok: false, error: String(error?.message ?? error) }));
  });
});
server.keepAliveTimeout = 2000;
let ready = false;
await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(OPTS.port, OPTS.host, resolve);
});
const PORT = server.address().port;
const HOSTPORT = `${OPTS.host.includes(":") ? `[${OPTS.host}]` : OPTS.host}:${PORT}`;
const ORIGIN = `http://${HOSTPORT}`;

// ---------------------------------------------------------------------------------------
// The federation
// ---------------------------------------------------------------------------------------
const TIME_WINDOW = OPTS.timeWindow === 0 ? false : { seconds: OPTS.timeWindow };
const kv = new MemoryKvStore();
const federation = createFederation({
  kv,
  // No queue: sendActivity() delivers before it returns (errors reach the control API
  // caller) and inbox listeners run inside the inbox request.
  origin: ORIGIN,
  allowPrivateAddress: true,   // 127.0.0.1 is a private address; Fedify refuses it otherwise
  skipSignatureVerification: false,
  signatureTimeWindow: TIME_WINDOW,
  firstKnock: OPTS.firstKnock,
  trailingSlashInsensitive: true,
  userAgent: getUserAgent({ software: "linkblog-fedify-peer/0.1.0" }),
});

// RSA 2048 like Mastodon's keys: Fedify's generateCryptoKeyPair() makes 4096-bit ones,
// which take a second or more to generate and would slow every peer's start.
const keyPairs = [await crypto.subtle.generateKey(
  { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
  true,
  ["sign", "verify"],
)];
if (OPTS.ed25519) keyPairs.push(await generateCryptoKeyPair("Ed25519"));

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== NAME) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: `${identifier} (Fedify peer)`,
      summary: `<p>An ActivityPub test peer built on Fedify ${FEDIFY_VERSION}.</p>`,
      url: ctx.getActorUri(identifier),
      inbox: ctx.getInboxUri(identifier),
      outbox: ctx.getOutboxUri(identifier),
      followers: ctx.getFollowersUri(identifier),
      following: ctx.getFollowingUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      manuallyApprovesFollowers: !OPTS.autoAccept,
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .mapHandle((_ctx, username) => (username === NAME ? NAME : null))
  .setKeyPairsDispatcher(async (_ctx, identifier) => (identifier === NAME ? keyPairs : []));

federation
  .setFollowersDispatcher("/users/{identifier}/followers", async (_ctx, identifier) => {
    if (identifier !== NAME) return null;
    return {
      items: [...state.followers.values()].map((f) => ({
        id: new URL(f.actor),
        inboxId: f.inbox == null ? null : new URL(f.inbox),
        endpoints: { sharedInbox: f.sharedInbox == null ? null : new URL(f.sharedInbox) },
      })),
    };
  })
  .setCounter(async (_ctx, identifier) => (identifier === NAME ? state.followers.size : null));

federation
  .setFollowingDispatcher("/users/{identifier}/following", async (_ctx, identifier) => {
    if (identifier !== NAME) return null;
    return {
      items: [...state.following.values()]
        .filter((f) => f.state === "accepted")
        .map((f) => new URL(f.actor)),
    };
  });

federation
  .setOutboxDispatcher("/users/{identifier}/outbox", async (_ctx, identifier) => {
    if (identifier !== NAME) return null;
    return { items: [...state.outbox].reverse() };
  })
  .setCounter(async (_ctx, identifier) => (identifier === NAME ? state.outbox.length : null));

federation.setObjectDispatcher(Note, "/notes/{id}", async (_ctx, { id }) => state.notes.get(id) ?? null);

// The inbox.  Fedify calls a listener only once the delivery's HTTP signature (or a Linked
// Data signature / Object Integrity Proof) verified and the signing key belongs to the
// activity's actor; everything else was answered 401/400 before this point.
function markVerified(activity) {
  const delivery = logStore.getStore();
  if (delivery != null) {
    delivery.verified = true;
    delivery.listener = activity.constructor.name;
  }
}

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  // An activity id is processed once per inbox (Fedify 2's default; 1.x's is per origin).
  // A repeated delivery is still recorded, with "duplicate": true.
  .withIdempotency("per-inbox")
  .on(Follow, async (ctx, follow) => {
    markVerified(follow);
    const me = ctx.getActorUri(NAME).href;
    if (follow.objectId?.href !== me || follow.actorId == null) {
      say(`ignoring a Follow of ${follow.objectId?.href} (not ${me})`);
      return;
    }
    const follower = await follow.getActor({ documentLoader: ctx.documentLoader });
    if (follower == null || follower.id == null) {
      say(`could not fetch the follower ${follow.actorId.href}; no Accept sent`);
      return;
    }
    const followJson = await follow.toJsonLd();
    const entry = {
      actor: follower.id.href,
      inbox: follower.inboxId?.href ?? null,
      sharedInbox: follower.endpoints?.sharedInbox?.href ?? null,
      follow: followJson,
      since: new Date().toISOString(),
      accepted: false,
    };
    state.followers.set(entry.actor, entry);
    say(`Follow from ${entry.actor} recorded${OPTS.autoAccept ? "; sending Accept" : ""}`);
    if (!OPTS.autoAccept) return;
    // Answer after this inbox request is over: a sender that handles one request at a
    // time would otherwise deadlock waiting for its own Follow delivery to finish.
    setTimeout(() => logStore.exit(() => {
      const accept = new Accept({
        id: newActivityId(),
        actor: ctx.getActorUri(NAME),
        object: follow,
        to: follower.id,
      });
      sendTo(follower, accept, { record: false })
        .then((result) => { entry.accepted = result.ok; })
        .catch((error) => say(`Accept to ${entry.actor} failed: ${error}`));
    }), OPTS.acceptDelayMs);
  })
  .on(Undo, async (ctx, undo) => {
    markVerified(undo);
    const actor = undo.actorId?.href;
    const entry = actor == null ? null : state.followers.get(actor);
    if (entry == null) return;
    // Undo of the Follow we recorded: by its id (no fetch needed), or an embedded Follow.
    let undone = undo.objectId != null && undo.objectId.href === entry.follow.id;
    if (!undone) {
      const object = await undo.getObject({ documentLoader: ctx.documentLoader }).catch(() => null);
      undone = object instanceof Follow && object.objectId?.href === ctx.getActorUri(NAME).href;
    }
    if (undone) {
      state.followers.delete(actor);
      say(`${actor} unfollowed`);
    }
  })
  .on(Accept, async (ctx, accept) => {
    markVerified(accept);
    await settleFollow(ctx, accept, "accepted");
  })
  .on(Reject, async (ctx, reject) => {
    markVerified(reject);
    await settleFollow(ctx, reject, "rejected");
  })
  .on(Activity, async (_ctx, activity) => {
    markVerified(activity);
  })
  .onError((_ctx, error) => {
    say(`inbox listener error: ${error?.stack ?? error}`);
  });

async function settleFollow(ctx, response, outcome) {
  const actor = response.actorId?.href;
  const entry = actor == null ? null : state.following.get(actor);
  if (entry == null) {
    say(`${response.constructor.name} from ${actor} matches no Follow we sent`);
    return;
  }
  // The object is normally our Follow (embedded or by id); only check it when it is given.
  let followId = response.objectId?.href ?? null;
  if (followId == null) {
    const object = await response.getObject({ documentLoader: ctx.documentLoader }).catch(() => null);
    followId = object?.id?.href ?? null;
  }
  if (followId != null && followId !== entry.follow.id) {
    say(`${response.constructor.name} from ${actor} names ${followId}, not our Follow ${entry.follow.id}`);
    return;
  }
  entry.state = outcome;
  say(`Follow of ${actor} ${outcome}`);
}

// ---------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------
function newActivityId() {
  return new URL(`/activities/${randomUUID()}`, ORIGIN);
}

function context() {
  return federation.createContext(new URL(ORIGIN), undefined);
}

// Sends `activity` (whose id is one of ours) to `recipient` (an Actor), records the
// outcome and the activity's JSON (so that its id dereferences), and returns the record.
async function sendTo(recipient, activity, { sharedInbox = false, record = true } = {}) {
  const ctx = context();
  const json = await activity.toJsonLd({ contextLoader: ctx.contextLoader });
  state.activities.set(activity.id.href, json);
  if (record) state.outbox.push(activity);
  const inbox = (sharedInbox ? recipient.endpoints?.sharedInbox : null) ?? recipient.inboxId;
  const entry = sentEntry(json, activity, recipient.id?.href ?? null, inbox?.href ?? null);
  try {
    if (inbox == null) throw new Error(`${entry.to} has no inbox`);
    await logStore.run(entry, () => ctx.sendActivity({ identifier: NAME }, recipient, activity, {
      preferSharedInbox: sharedInbox,
      immediate: true,
    }));
    entry.ok = true;
    // The spec the delivery was finally signed with (Fedify remembers it per origin).
    entry.signedWith = await kv.get(["_fedify", "httpMessageSignaturesSpec", new URL(inbox).origin]) ?? null;
    say(`sent ${entry.type} ${entry.id} to ${entry.inbox}`);
  } catch (error) {
    entry.error = String(error?.message ?? error);
    say(`sending ${entry.type} ${entry.id} to ${entry.inbox} failed: ${entry.error}`);
  }
  return entry;
}

function sentEntry(json, activity, to, inbox) {
  const entry = {
    kind: "sent",
    seq: ++sentSeq,
    time: new Date().toISOString(),
    type: json.type,
    id: activity.id.href,
    to,
    inbox,
    activity: json,
    ok: false,
    error: null,
    signedWith: null,
    log: [],
  };
  state.sent.push(entry);
  return entry;
}

async function sendToFollowers(activity) {
  const ctx = context();
  const json = await activity.toJsonLd({ contextLoader: ctx.contextLoader });
  state.activities.set(activity.id.href, json);
  state.outbox.push(activity);
  const entry = sentEntry(json, activity, "followers", null);
  try {
    await logStore.run(entry, () =>
      ctx.sendActivity({ identifier: NAME }, "followers", activity, { immediate: true }));
    entry.ok = true;
    say(`sent ${entry.type} ${entry.id} to ${state.followers.size} follower(s)`);
  } catch (error) {
    entry.error = String(error?.message ?? error);
    say(`sending ${entry.type} ${entry.id} to followers failed: ${entry.error}`);
  }
  return entry;
}

// A document loader that signs its GETs as this peer's actor (Fedify double-knocks them).
async function signedLoader() {
  return await context().getDocumentLoader({ identifier: NAME });
}

// WebFinger over plain http (Fedify's own lookup always uses https).
async function webfinger(handle) {
  const m = /^(?:acct:)?@?([^@\s]+)@([^@\s/]+)$/.exec(handle);
  if (m == null) throw new ControlError(400, `not a handle: ${handle}`);
  const [, user, host] = m;
  const url = `http://${host}/.well-known/webfinger?resource=${encodeURIComponent(`acct:${user}@${host}`)}`;
  const response = await fetch(url, { headers: { Accept: "application/jrd+json, application/json" } });
  if (!response.ok) throw new ControlError(502, `WebFinger ${url} answered ${response.status}`);
  const jrd = await response.json();
  const self = (jrd.links ?? []).find((l) => l.rel === "self" && typeof l.href === "string"
    && /^application\/(activity\+json|ld\+json)/.test(l.type ?? ""));
  if (self == null) throw new ControlError(502, `WebFinger ${url} has no rel=self ActivityPub link`);
  return self.href;
}

async function lookup(url, { signed = true } = {}) {
  const ctx = context();
  const documentLoader = signed ? await signedLoader() : ctx.documentLoader;
  return await ctx.lookupObject(url, { documentLoader });
}

async function resolveActor(input) {
  if (typeof input !== "string" || input === "") throw new ControlError(400, "actor is required");
  const url = /^https?:\/\//.test(input) ? input : await webfinger(input);
  let actor;
  try {
    actor = await lookup(url);
  } catch (error) {
    throw new ControlError(502, `could not fetch the actor ${url}: ${error?.message ?? error}`);
  }
  if (actor == null) throw new ControlError(502, `could not fetch the actor ${url}`);
  if (!isActor(actor)) throw new ControlError(400, `${url} is a ${actor.constructor.name}, not an actor`);
  return actor;
}

// ---------------------------------------------------------------------------------------
// Control API
// ---------------------------------------------------------------------------------------
class ControlError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function needString(body, key) {
  const value = body?.[key];
  if (typeof value !== "string" || value === "") throw new ControlError(400, `"${key}" is required`);
  return value;
}

function needUrl(body, key) {
  const value = needString(body, key);
  try {
    return new URL(value);
  } catch {
    throw new ControlError(400, `"${key}" is not a URL: ${value}`);
  }
}

function deliveryView(d) {
  return {
    seq: d.seq,
    time: d.time,
    path: d.path,
    inbox: d.inbox,
    verified: d.verified,
    duplicate: d.duplicate,
    status: d.status,
    response: d.response,
    type: d.type,
    id: d.id,
    actor: d.actorId,
    verifiedBy: d.verifiedBy,
    signature: d.signature,
    keyId: d.keyId,
    httpSignature: d.httpSignature,
    headers: d.headers,
    activity: d.activity,
    body: d.activity == null ? d.body : undefined,
    log: d.log,
  };
}

function filterDeliveries(params) {
  let list = state.deliveries;
  const verified = params.get("verified");
  if (verified != null) {
    const want = ["1", "true", "yes"].includes(verified.toLowerCase());
    list = list.filter((d) => d.verified === want);
  }
  const type = params.get("type");
  if (type != null) list = list.filter((d) => d.type === type);
  const since = params.get("since");
  if (since != null) list = list.filter((d) => d.seq > Number(since));
  return list.map(deliveryView);
}

async function control(method, url, body) {
  const route = `${method} ${url.pathname.replace(/\/+$/, "")}`;
  const ctx = context();
  const me = ctx.getActorUri(NAME);
  switch (route) {
    case "GET /control/health":
      return {
        ok: true, name: NAME, port: PORT, origin: ORIGIN, actor: me.href, fedify: FEDIFY_VERSION,
        node: process.versions.node, firstKnock: OPTS.firstKnock, autoAccept: OPTS.autoAccept,
        requireHttpSignature: OPTS.requireHttpSignature,
      };
    case "GET /control/inbox":
      return { ok: true, deliveries: filterDeliveries(url.searchParams) };
    case "GET /control/rejected":
      return {
        ok: true,
        deliveries: state.deliveries.filter((d) => !d.verified && !d.duplicate).map(deliveryView),
      };
    case "GET /control/sent":
      return { ok: true, sent: state.sent };
    case "GET /control/followers":
      return { ok: true, followers: [...state.followers.values()] };
    case "GET /control/following":
      return { ok: true, following: [...state.following.values()] };
    case "GET /control/logs": {
      const since = Number(url.searchParams.get("since") ?? 0);
      return { ok: true, logs: logRecords.filter((r) => r.seq > since) };
    }
    case "POST /control/reset":
      state.deliveries.length = 0;
      state.sent.length = 0;
      logRecords.length = 0;
      return { ok: true };
    case "GET /control/lookup": {
      const target = url.searchParams.get("url");
      if (!target) throw new ControlError(400, "url is required");
      const signed = !["0", "false", "no"].includes((url.searchParams.get("signed") ?? "1").toLowerCase());
      let object;
      try {
        object = await lookup(target, { signed });
      } catch (error) {
        throw new ControlError(502, `lookup of ${target} failed: ${error?.message ?? error}`);
      }
      if (object == null) throw new ControlError(404, `lookup of ${target} found nothing (see /control/logs)`);
      return {
        ok: true,
        type: object.constructor.name,
        id: object.id?.href ?? null,
        object: await object.toJsonLd({ contextLoader: ctx.contextLoader }),
      };
    }
    case "POST /control/follow": {
      const target = await resolveActor(needString(body, "actor"));
      const follow = new Follow({ id: newActivityId(), actor: me, object: target.id, to: target.id });
      const entry = {
        actor: target.id.href,
        state: "pending",
        follow: { id: follow.id.href },
        since: new Date().toISOString(),
      };
      state.following.set(entry.actor, entry);
      const sent = await sendTo(target, follow, { sharedInbox: body.sharedInbox === true, record: false });
      entry.follow = sent.activity;
      if (!sent.ok) entry.state = "failed";
      return { ok: sent.ok, sent };
    }
    case "POST /control/unfollow": {
      const target = await resolveActor(needString(body, "actor"));
      const entry = state.following.get(target.id.href);
      const follow = entry?.follow?.id != null
        ? new Follow({ id: new URL(entry.follow.id), actor: me, object: target.id })
        : new Follow({ actor: me, object: target.id });
      const undo = new Undo({ id: newActivityId(), actor: me, object: follow, to: target.id });
      const sent = await sendTo(target, undo, { sharedInbox: body.sharedInbox === true, record: false });
      if (sent.ok && entry != null) entry.state = "undone";
      return { ok: sent.ok, sent };
    }
    case "POST /control/like": {
      const object = needUrl(body, "object");
      const target = await recipientFor(body, object);
      const like = new Like({ id: newActivityId(), actor: me, object, to: target.id });
      const sent = await sendTo(target, like, { sharedInbox: body.sharedInbox === true });
      return { ok: sent.ok, sent };
    }
    case "POST /control/announce": {
      const object = needUrl(body, "object");
      const target = await recipientFor(body, object);
      const announce = new Announce({
        id: newActivityId(),
        actor: me,
        object,
        published: Temporal.Now.instant(),
        to: PUBLIC_COLLECTION,
        ccs: [target.id, ctx.getFollowersUri(NAME)],
      });
      const sent = await sendTo(target, announce, { sharedInbox: body.sharedInbox === true });
      return { ok: sent.ok, sent };
    }
    case "POST /control/reply": {
      const inReplyTo = needUrl(body, "inReplyTo");
      const target = await recipientFor(body, inReplyTo);
      const content = typeof body.content === "string" ? body.content : "<p>A reply.</p>";
      const { note, create } = makeNote(ctx, content, { inReplyTo, mention: target });
      const sent = await sendTo(target, create, { sharedInbox: body.sharedInbox === true });
      return { ok: sent.ok, note: note.id.href, sent };
    }
    case "POST /control/post": {
      // A public Note to all followers (or to one actor when "actor" is given).
      const content = typeof body.content === "string" ? body.content : "<p>A post.</p>";
      if (typeof body.actor === "string") {
        const target = await resolveActor(body.actor);
        const { note, create } = makeNote(ctx, content, { mention: target });
        const sent = await sendTo(target, create, { sharedInbox: body.sharedInbox === true });
        return { ok: sent.ok, note: note.id.href, sent };
      }
      const { note, create } = makeNote(ctx, content, {});
      const sent = await sendToFollowers(create);
      return { ok: sent.ok, note: note.id.href, sent };
    }
    case "POST /control/send": {
      // Any activity, given as JSON-LD, to one actor: {"actor": url, "activity": {...}}.
      // A missing id or actor is filled in with ours.
      const target = await resolveActor(needString(body, "actor"));
      if (body.activity == null || typeof body.activity !== "object") {
        throw new ControlError(400, '"activity" must be a JSON object');
      }
      const json = { "@context": "https://www.w3.org/ns/activitystreams", ...body.activity };
      json.id ??= newActivityId().href;
      json.actor ??= me.href;
      let activity;
      try {
        activity = await Activity.fromJsonLd(json, { contextLoader: ctx.contextLoader, documentLoader: ctx.documentLoader });
      } catch (error) {
        throw new ControlError(400, `not an activity: ${error?.message ?? error}`);
      }
      const sent = await sendTo(target, activity, { sharedInbox: body.sharedInbox === true });
      return { ok: sent.ok, sent };
    }
    default:
      throw new ControlError(404, `no such control route: ${route}`);
  }
}

// The actor to deliver to: body.actor when given, else the object's attributedTo.
async function recipientFor(body, objectUrl) {
  if (typeof body.actor === "string" && body.actor !== "") return await resolveActor(body.actor);
  let object;
  try {
    object = await lookup(objectUrl.href);
  } catch (error) {
    throw new ControlError(502, `could not fetch ${objectUrl.href}: ${error?.message ?? error}`);
  }
  const author = object?.attributionId ?? object?.actorId;
  if (author == null) throw new ControlError(400, `no "actor" given and ${objectUrl.href} names no author`);
  return await resolveActor(author.href);
}

function makeNote(ctx, content, { inReplyTo = null, mention = null }) {
  const id = randomUUID();
  const me = ctx.getActorUri(NAME);
  const ccs = [ctx.getFollowersUri(NAME)];
  if (mention != null) ccs.unshift(mention.id);
  const note = new Note({
    id: ctx.getObjectUri(Note, { id }),
    attribution: me,
    content,
    mediaType: "text/html",
    published: Temporal.Now.instant(),
    replyTarget: inReplyTo,
    url: ctx.getObjectUri(Note, { id }),
    to: PUBLIC_COLLECTION,
    ccs,
    tags: mention == null ? [] : [new Mention({ href: mention.id, name: mentionName(mention) })],
  });
  state.notes.set(id, note);
  const create = new Create({
    id: newActivityId(),
    actor: me,
    object: note,
    published: note.published,
    to: PUBLIC_COLLECTION,
    ccs,
  });
  return { note, create };
}

function mentionName(actor) {
  const user = actor.preferredUsername?.toString() ?? "someone";
  return `@${user}@${actor.id.host}`;
}

// ---------------------------------------------------------------------------------------
// Node http <-> Fetch API
// ---------------------------------------------------------------------------------------
const MAX_BODY = 5 * 1024 * 1024;

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) throw new ControlError(413, "request body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function toHeaders(rawHeaders) {
  const headers = new Headers();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) headers.append(rawHeaders[i], rawHeaders[i + 1]);
  return headers;
}

async function writeResponse(res, response) {
  const headers = {};
  response.headers.forEach((value, key) => { headers[key] = value; });
  const body = Buffer.from(await response.arrayBuffer());
  res.writeHead(response.status, response.statusText || undefined, headers);
  res.end(body);
}

function json(res, status, data) {
  const body = JSON.stringify(data, null, 1);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8" });
  res.end(body);
}

function signatureScheme(headers) {
  if (headers.has("signature-input")) return "rfc9421";
  if (headers.has("signature")) return "draft-cavage-http-signatures-12";
  return "none";
}

function signatureKeyId(headers) {
  const input = headers.get("signature-input");
  const sig = headers.get("signature");
  const m = /keyid="([^"]*)"/i.exec(input ?? sig ?? "");
  return m == null ? null : m[1];
}

// Fedify's inbox accepts a delivery on whichever of a Linked Data signature, an Object
// Integrity Proof or an HTTP signature verifies first, and skips the HTTP signature when
// one of the others did.  So every delivery's HTTP signature is also checked here, with
// Fedify's own verifyRequest(), and (by default) a delivery without a valid one, or signed
// with a key that is not the activity's actor's, is refused with 401.
async function checkHttpSignature(request, delivery) {
  const result = { status: "absent", scheme: delivery.signature, keyId: delivery.keyId, owner: null };
  if (delivery.signature === "none") return result;
  const ctx = context();
  let key = null;
  try {
    key = await verifyRequest(request, {
      documentLoader: ctx.documentLoader,
      contextLoader: ctx.contextLoader,
      timeWindow: TIME_WINDOW,
    });
  } catch (error) {
    result.status = "error";
    result.error = String(error?.message ?? error);
    return result;
  }
  if (key == null) {
    result.status = "invalid";
    return result;
  }
  result.keyId = key.id?.href ?? result.keyId;
  result.owner = key.ownerId?.href ?? null;
  if (result.owner != null && delivery.actorId != null && result.owner !== delivery.actorId) {
    result.status = "key-not-the-actor's";
    return result;
  }
  result.status = "verified";
  return result;
}

async function handleNodeRequest(req, res) {
  if (!ready) return json(res, 503, { ok: false, error: "starting" });
  const body = await readBody(req).catch((error) => {
    json(res, error.status ?? 400, { ok: false, error: String(error.message ?? error) });
    return null;
  });
  if (body == null) return;
  const url = new URL(req.url, ORIGIN);

  if (url.pathname.startsWith("/control/")) {
    let payload = {};
    if (body.length > 0) {
      try {
        payload = JSON.parse(body.toString("utf8"));
      } catch {
        return json(res, 400, { ok: false, error: "the body is not JSON" });
      }
    }
    try {
      const result = await control(req.method, url, payload);
      if (req.method !== "GET" || OPTS.verbose || !result.ok) {
        say(`control ${req.method} ${url.pathname}${url.search} -> ${result.ok ? "ok" : "FAILED"}`);
      }
      return json(res, result.ok ? 200 : 502, result);
    } catch (error) {
      const status = error instanceof ControlError ? error.status : 500;
      say(`control ${req.method} ${url.pathname}${url.search} -> ${status}: ${error?.message ?? error}`);
      return json(res, status, { ok: false, error: String(error?.message ?? error) });
    }
  }

  if (req.method === "GET" && url.pathname.startsWith("/activities/")) {
    const stored = state.activities.get(new URL(url.pathname, ORIGIN).href);
    if (stored == null) return json(res, 404, { error: "not found" });
    res.writeHead(200, { "Content-Type": "application/activity+json" });
    return res.end(JSON.stringify(stored));
  }

  const headers = toHeaders(req.rawHeaders);
  const base = req.headers.host ? `http://${req.headers.host}` : ORIGIN;
  const request = new Request(new URL(req.url, base), {
    method: req.method,
    headers,
    body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
  });

  const isDelivery = req.method === "POST" && /\/inbox\/?$/.test(url.pathname);
  if (!isDelivery) {
    const response = await federation.fetch(request, { contextData: undefined });
    if (OPTS.verbose || response.status >= 400) {
      say(`${req.method} ${url.pathname}${url.search} (Accept: ${req.headers.accept ?? "-"}) -> ${response.status}`);
    }
    return writeResponse(res, response);
  }

  // An inbox delivery: record it whatever Fedify decides.
  const delivery = {
    kind: "delivery",
    seq: ++deliverySeq,
    time: new Date().toISOString(),
    path: url.pathname,
    inbox: url.pathname === "/inbox" ? "shared" : "personal",
    headers: Object.fromEntries(headers.entries()),
    signature: signatureScheme(headers),
    keyId: signatureKeyId(headers),
    body: clip(body.toString("utf8"), 100000),
    activity: null,
    type: null,
    id: null,
    actorId: null,
    verified: false,
    verifiedBy: null,
    httpSignature: null,
    duplicate: false,
    listener: null,
    status: null,
    response: null,
    log: [],
  };
  try {
    const parsed = JSON.parse(delivery.body);
    if (parsed != null && typeof parsed === "object" && !Array.isArray(parsed)) {
      delivery.activity = parsed;
      delivery.type = typeof parsed.type === "string" ? parsed.type : null;
      delivery.id = typeof parsed.id === "string" ? parsed.id : null;
      delivery.actorId = typeof parsed.actor === "string" ? parsed.actor
        : typeof parsed.actor?.id === "string" ? parsed.actor.id : null;
    }
  } catch {
    // not JSON: Fedify answers 400 and the raw body stays in delivery.body
  }
  state.deliveries.push(delivery);

  let response;
  try {
    response = await logStore.run(delivery, () =>
      logtape.withContext({ delivery: delivery.seq }, async () => {
        delivery.httpSignature = await checkHttpSignature(request, delivery);
        if (OPTS.requireHttpSignature && delivery.httpSignature.status !== "verified") {
          return new Response(`Failed to verify the request signature (${delivery.httpSignature.status}).`, {
            status: 401,
            headers: { "Content-Type": "text/plain; charset=utf-8" },
          });
        }
        return await federation.fetch(request, { contextData: undefined });
      }));
  } catch (error) {
    delivery.status = 500;
    delivery.response = String(error?.message ?? error);
    say(`inbox ${url.pathname}: ${delivery.type} from ${delivery.actorId} -> 500 ${delivery.response}`);
    return json(res, 500, { error: delivery.response });
  }
  delivery.status = response.status;
  delivery.response = clip(await response.clone().text(), 2000);
  delivery.duplicate = !delivery.verified && /has already been processed/.test(delivery.response);
  if (delivery.verified) {
    const said = (text) => delivery.log.some((line) => line.endsWith(text));
    delivery.verifiedBy = said("Linked Data Signatures are verified.") ? "ld-signature"
      : said("Object Integrity Proofs are verified.") ? "object-integrity-proof"
        : said("HTTP Signatures are verified.") ? "http-signature" : "unknown";
  }
  const verdict = delivery.verified ? `verified (${delivery.verifiedBy})`
    : delivery.duplicate ? "duplicate (already processed)"
      : `REJECTED: ${delivery.response.trim()}`
        + (delivery.log.length ? ` [${delivery.log.filter((l) => /Failed|not|mismatch|Invalid/i.test(l)).slice(-2).join(" | ")}]` : "");
  say(`inbox ${url.pathname}: ${delivery.type ?? "?"} ${delivery.id ?? ""} from ${delivery.actorId ?? "?"} `
    + `(HTTP signature ${delivery.signature}: ${delivery.httpSignature?.status ?? "-"}) -> ${response.status} ${verdict}`);
  return writeResponse(res, response);
}

// ---------------------------------------------------------------------------------------
// The seed Note, readiness and shutdown
// ---------------------------------------------------------------------------------------
{
  const ctx = context();
  state.notes.set("1", new Note({
    id: ctx.getObjectUri(Note, { id: "1" }),
    attribution: ctx.getActorUri(NAME),
    content: `<p>Hello from ${NAME}, a Fedify test peer.</p>`,
    mediaType: "text/html",
    published: Temporal.Instant.from("2024-01-01T00:00:00Z"),
    url: ctx.getObjectUri(Note, { id: "1" }),
    to: PUBLIC_COLLECTION,
    cc: ctx.getFollowersUri(NAME),
  }));
}

let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  say(`${signal}: shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
if (OPTS.exitOnStdinEof) {
  process.stdin.on("end", () => shutdown("stdin closed"));
  process.stdin.on("error", () => shutdown("stdin closed"));
  process.stdin.resume();
}
process.on("unhandledRejection", (error) => say(`unhandled rejection: ${error?.stack ?? error}`));

ready = true;
say(`listening on ${ORIGIN}; actor ${ORIGIN}/users/${NAME}, shared inbox ${ORIGIN}/inbox `
  + `(Fedify ${FEDIFY_VERSION}, Node ${process.versions.node}, first knock ${OPTS.firstKnock})`);
process.stdout.write(`READY ${PORT}\n`);
