/* RFC 9162 proof verification and signed-checkpoint checks in the browser (SubtleCrypto), trusting no server.
 *
 *   leaf hash  = SHA-256(0x00 || entry)            node = SHA-256(0x01 || left || right)
 *   checkpoint = "<origin>\n<size>\n<base64 root>\ntimestamp <YYYY-MM-DDTHH:MM:SS.mmmZ>\n", Ed25519-signed
 */
"use strict";

const Merkle = (() => {
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const unhex = (text) => new Uint8Array(text.match(/../g).map((h) => parseInt(h, 16)));
  const b64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const tob64 = (bytes) => btoa(String.fromCharCode(...bytes));

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  async function sha256(bytes) {
    if (!globalThis.crypto || !crypto.subtle) throw new Error("SubtleCrypto 不可用 unavailable (needs HTTPS or localhost)");
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  const leafHash = (entry) => sha256(concat(Uint8Array.of(0), entry));
  const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));
  const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

  // BigInt arithmetic: sizes are uint64.
  function shiftWhileEven(fn, sn) {
    while (fn !== 0n && (fn & 1n) === 0n) { fn >>= 1n; sn >>= 1n; }
    return [fn, sn];
  }

  /** RFC 9162 §2.1.3.2: the root implied by an inclusion proof. */
  async function rootFromInclusion(index, size, leaf, path) {
    let fn = BigInt(index), sn = BigInt(size) - 1n, r = leaf;
    if (fn > sn) throw new Error("leaf index beyond tree size");
    for (const p of path) {
      if (sn === 0n) throw new Error("proof too long");
      if ((fn & 1n) === 1n || fn === sn) {
        r = await nodeHash(p, r);
        [fn, sn] = shiftWhileEven(fn, sn);
      } else {
        r = await nodeHash(r, p);
      }
      fn >>= 1n; sn >>= 1n;
    }
    if (sn !== 0n) throw new Error("proof too short");
    return r;
  }

  /** RFC 9162 §2.1.4.2: throws unless the tree (size2, root2) extends (size1, root1). */
  async function verifyConsistency(size1, size2, root1, root2, proof) {
    let s1 = BigInt(size1), s2 = BigInt(size2);
    if (s1 === 0n || s2 < s1) throw new Error("bad sizes");
    if (s1 === s2) {
      if (proof.length || !equal(root1, root2)) throw new Error("same size, different root");
      return;
    }
    if (!proof.length) throw new Error("empty proof");
    const path = (s1 & (s1 - 1n)) === 0n ? [root1, ...proof] : proof.slice();
    let fn = s1 - 1n, sn = s2 - 1n;
    while ((fn & 1n) === 1n) { fn >>= 1n; sn >>= 1n; }
    let fr = path[0], sr = path[0];
    for (const c of path.slice(1)) {
      if (sn === 0n) throw new Error("proof too long");
      if ((fn & 1n) === 1n || fn === sn) {
        fr = await nodeHash(c, fr); sr = await nodeHash(c, sr);
        [fn, sn] = shiftWhileEven(fn, sn);
      } else {
        sr = await nodeHash(sr, c);
      }
      fn >>= 1n; sn >>= 1n;
    }
    if (sn !== 0n) throw new Error("proof too short");
    if (!equal(fr, root1) || !equal(sr, root2)) throw new Error("roots do not match: the log was rewritten");
  }

  function checkpointBody(cp) {
    const root = tob64(unhex(cp.root_hash));
    return new TextEncoder().encode(`${cp.origin}\n${cp.tree_size}\n${root}\ntimestamp ${cp.timestamp}\n`);
  }

  /** The raw 32-byte Ed25519 key from a PEM (SubjectPublicKeyInfo) or base64 of the raw key. */
  function rawKey(text) {
    const body = text.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
    const der = b64(body);
    if (der.length === 32) return der;
    if (der.length === 44) return der.slice(12); // SPKI prefix of an Ed25519 key is 12 bytes
    throw new Error("not an Ed25519 public key");
  }

  /** Verify the checkpoint's Ed25519 signature; "unsupported" if the browser has no Ed25519. */
  async function verifyCheckpoint(cp, raw) {
    const keyId = hex(await sha256(raw));
    if (cp.key_id !== keyId) throw new Error(`checkpoint signed by another key (${cp.key_id.slice(0, 16)}…)`);
    let key;
    try {
      key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
    } catch (err) {
      return "unsupported";
    }
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, key, b64(cp.signature), checkpointBody(cp));
    if (!ok) throw new Error("checkpoint signature invalid");
    return "verified";
  }

  return { hex, unhex, b64, sha256, leafHash, rootFromInclusion, verifyConsistency, verifyCheckpoint, rawKey, equal };
})();
