// Parses the HubSpot app projects (hubspot-app/*) with HubSpot's own parsing library, as
// `hs project upload` does before it validates against the account's schemas (which needs a
// logged-in account: not possible offline). Exits non-zero when a project does not parse or
// its component graph lacks the app or the webhooks.
//   node scripts/hubspot-project-parse.mjs DIR...
// The library is installed by scripts/hubspot-project.sh --check (npm, into .venv/hsparse).
import { translate } from '@hubspot/project-parsing-lib/translate';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

let failed = false;
for (const dir of process.argv.slice(2)) {
  const project = JSON.parse(readFileSync(join(dir, 'hsproject.json'), 'utf8'));
  try {
    const ir = await translate(
      { projectSourceDir: resolve(dir, project.srcDir), platformVersion: project.platformVersion, accountId: undefined },
      { skipValidation: true },
    );
    const nodes = Object.values(ir.intermediateRepresentation?.intermediateNodesIndexedByUid ?? {});
    if ((ir.skippedHsMetaFiles ?? []).length) {
      console.error(`${dir}: files the library skipped: ${ir.skippedHsMetaFiles.join(', ')}`);
      failed = true;
    }
    const types = nodes.map((n) => n.componentType).sort();
    const want = ['APPLICATION', 'WEBHOOKS'];
    const missing = want.filter((t) => !types.includes(t));
    if (missing.length) {
      console.error(`${dir}: parsed, but without ${missing.join(', ')} (found ${types.join(', ')})`);
      failed = true;
    } else {
      console.log(`${dir}: parsed by @hubspot/project-parsing-lib: ${types.join(', ')}`);
    }
  } catch (e) {
    console.error(`${dir}: ${e && e.message ? e.message : e}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
