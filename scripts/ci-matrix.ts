#!/usr/bin/env -S npx tsx
// CI's plan step: the matrices of the workflows, from the target table
// (scripts/lib/core/targets.ts). build.yml, verify.yml and delivery.yml run this in
// a `plan` job and read `fromJSON(needs.plan.outputs.build|check)`, so adding
// a target touches the table (and its package template), no workflow.
import { appendFileSync } from 'node:fs';
import { runCommand } from './lib/core/cli.ts';
import { UsageError } from './lib/core/errors.ts';
import { ciMatrix } from './lib/core/targets.ts';

await runCommand(
  {
    name: 'ci-matrix.ts',
    summary: "the CI matrices of the target table: build legs (on ci.build) and check legs (on each target's ci.check)",
    usage: 'npx tsx scripts/ci-matrix.ts [--github-output] [--json]',
    options: [
      {
        name: 'github-output',
        type: 'boolean',
        description: 'append build=<matrix JSON> and check=<matrix JSON> to $GITHUB_OUTPUT (the plan job)',
      },
    ],
    details: `
Each matrix is {"include": [{"target": "<name>", "runner": "<label>"}, ...]}
with one leg per target of scripts/lib/core/targets.ts: build runs every target on
its ci.build runner, check on its ci.check runner (where it runs natively).`,
  },
  async (flags) => {
    const matrices = { build: ciMatrix('build'), check: ciMatrix('check') };
    if (flags['github-output']) {
      const out = process.env.GITHUB_OUTPUT;
      if (!out) throw new UsageError('--github-output needs $GITHUB_OUTPUT (set by GitHub Actions)');
      appendFileSync(out, `build=${JSON.stringify(matrices.build)}\ncheck=${JSON.stringify(matrices.check)}\n`);
    }
    const text = (['build', 'check'] as const).flatMap((role) =>
      matrices[role].include.map((l) => `${role.padEnd(6)} ${l.target.padEnd(14)} ${l.runner}`),
    );
    return { json: matrices, text: text.join('\n') };
  },
);
