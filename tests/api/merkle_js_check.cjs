// Runs greenshield/web/merkle.js (the auditor page's verifier) in node on cases made by Python; prints results.
//   node merkle_js_check.cjs MERKLE_JS CASES_JSON
"use strict";
const fs = require("fs");
const vm = require("vm");

vm.runInThisContext(fs.readFileSync(process.argv[2], "utf8"));
const M = vm.runInThisContext("Merkle");
const cases = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));

async function run(c) {
  try {
    if (c.kind === "inclusion") {
      const root = await M.rootFromInclusion(c.index, c.size, M.unhex(c.leaf), c.path.map(M.unhex));
      return M.hex(root) === c.root;
    }
    if (c.kind === "consistency") {
      await M.verifyConsistency(c.first, c.second, M.unhex(c.first_root), M.unhex(c.second_root), c.proof.map(M.unhex));
      return true;
    }
    if (c.kind === "leaf") return M.hex(await M.leafHash(M.b64(c.entry))) === c.leaf;
    if (c.kind === "checkpoint") return (await M.verifyCheckpoint(c.checkpoint, M.rawKey(c.key))) === "verified";
    return false;
  } catch (err) {
    return false;
  }
}

(async () => {
  const out = [];
  for (const c of cases) out.push(await run(c));
  process.stdout.write(JSON.stringify(out));
})();
