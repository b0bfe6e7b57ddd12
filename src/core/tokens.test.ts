import assert from "node:assert/strict";
import { test } from "node:test";
import { SignJWT, UnsecuredJWT } from "jose";
import {
  checkKeyConfig,
  mintCapabilityToken,
  mintUserToken,
  TokenError,
  verifyCapabilityToken,
  verifyUserToken,
} from "./tokens.ts";

const cfg = { issuer: "iss-x", audience: "trace.task", kid: "k1", secret: "s".repeat(40) };
const claims = {
  org_id: "00000000-0000-0000-0000-000000000001",
  task_id: "89564a5b-c837-5564-b9e8-f1fdf7852855",
  attempt: 2,
  datasets: [],
  s3: { read_prefixes: [], write_prefixes: [] },
};

test("capability tokens round-trip", async () => {
  const t = await mintCapabilityToken(cfg, claims);
  const c = await verifyCapabilityToken(cfg, t);
  assert.equal(c.task_id, claims.task_id);
  assert.equal(c.attempt, 2);
  assert.equal(c.sub, `task:${claims.task_id}`);
});

test("rotation: the next key verifies, unknown kids do not", async () => {
  const rotated = { ...cfg, kid: "k2", secret: "n".repeat(40) };
  const t = await mintCapabilityToken(rotated, claims);
  await assert.rejects(verifyCapabilityToken(cfg, t), TokenError);
  await verifyCapabilityToken({ ...cfg, nextKid: "k2", nextSecret: "n".repeat(40) }, t);
});

test("forged, alg none, wrong audience, expired, missing kid are rejected", async () => {
  const key = new TextEncoder().encode(cfg.secret);
  const base = { ...claims, iss: cfg.issuer, sub: `task:${claims.task_id}` };
  const now = Math.floor(Date.now() / 1000);
  const forged = await mintCapabilityToken({ ...cfg, secret: "x".repeat(40) }, claims);
  const none = new UnsecuredJWT({ ...base, aud: cfg.audience })
    .setIssuedAt()
    .setExpirationTime("5m")
    .encode();
  const wrongAud = await new SignJWT({ ...base })
    .setProtectedHeader({ alg: "HS256", kid: "k1" })
    .setAudience("trace.user")
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(key);
  const expired = await new SignJWT({ ...base })
    .setProtectedHeader({ alg: "HS256", kid: "k1" })
    .setAudience(cfg.audience)
    .setIssuedAt(now - 1000)
    .setExpirationTime(now - 120)
    .sign(key);
  const noKid = await new SignJWT({ ...base })
    .setProtectedHeader({ alg: "HS256" })
    .setAudience(cfg.audience)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(key);
  const wrongSub = await new SignJWT({ ...base, sub: "task:other" })
    .setProtectedHeader({ alg: "HS256", kid: "k1" })
    .setAudience(cfg.audience)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(key);
  for (const t of [forged, none, wrongAud, expired, noKid, wrongSub, "garbage", ""]) {
    await assert.rejects(verifyCapabilityToken(cfg, t), TokenError);
  }
});

test("user tokens and key config checks", async () => {
  const ucfg = { ...cfg, audience: "trace.user" };
  const t = await mintUserToken(ucfg, "alice", {
    org_id: claims.org_id,
    datasets: [],
    s3: claims.s3,
  });
  assert.equal((await verifyUserToken(ucfg, t)).sub, "alice");
  await assert.rejects(verifyCapabilityToken(cfg, t), TokenError);
  assert.throws(() => checkKeyConfig({ ...cfg, secret: "short" }), /at least 32 bytes/);
  assert.throws(() => checkKeyConfig({ ...cfg, nextKid: "x" }), /together/);
});

test("a verified token is remembered: the identical text only, per key config, and it still expires", async (t) => {
  const userCfg = {
    issuer: "trace-lite",
    audience: "trace.user",
    kid: "u1",
    secret: "u".repeat(40),
  };
  const userClaims = {
    org_id: claims.org_id,
    datasets: [],
    s3: { read_prefixes: [], write_prefixes: [] },
  };
  t.mock.timers.enable({ apis: ["Date"], now: Date.now() });
  const token = await mintUserToken({ ...userCfg, ttlSeconds: 120 }, "user:a", userClaims);
  assert.equal((await verifyUserToken(userCfg, token)).sub, "user:a");
  assert.equal((await verifyUserToken(userCfg, token)).sub, "user:a"); // from the cache

  // Another signature over the same header and payload is not the remembered token.
  const [h, p, sig] = token.split(".") as [string, string, string];
  const flipped = `${sig.slice(0, -2)}${sig.endsWith("AA") ? "BA" : "AA"}`;
  await assert.rejects(verifyUserToken(userCfg, `${h}.${p}.${flipped}`), TokenError);
  // Another configuration (another secret) does not see this one's cache.
  await assert.rejects(verifyUserToken({ ...userCfg, secret: "x".repeat(40) }, token), TokenError);

  // Past exp + the 60 s tolerance the remembered token is refused like any expired one.
  t.mock.timers.tick((120 + 61) * 1000);
  await assert.rejects(verifyUserToken(userCfg, token), /token expired/);
  await assert.rejects(verifyUserToken(userCfg, token), /token expired/); // and by jose again
});
