#!/usr/bin/env -S npx tsx
// The GitHub Release of vX.Y.Z as a draft, made once: created, or (a re-run of
// the publish job) the existing draft updated in place, never a second draft.
// publish-release.yml publishes it after the maintainer's approval and the gate.
import { log, registerSecret, runCommand, stringFlag } from './lib/core/cli.ts';
import { UsageError } from './lib/core/errors.ts';
import { executeDraft, planDraft } from './lib/ci/draft-release.ts';
import { tagVersion } from './lib/ci/release-tag.ts';

await runCommand(
  {
    name: 'draft-release.ts',
    summary: 'create the draft GitHub Release of a tag, or update the one draft it has (never a second)',
    usage:
      'npx tsx scripts/draft-release.ts --tag vX.Y.Z --expect-commit <sha> [--assets dist/release] [--notes-file <file>] [--title <text>] [--repo owner/name] [--dry-run]',
    options: [
      { name: 'tag', type: 'string', valueName: 'vX.Y.Z', description: 'the release tag' },
      {
        name: 'expect-commit',
        type: 'string',
        valueName: 'sha',
        description: 'the commit the run built, verified and published: the tag must still point at it',
      },
      {
        name: 'assets',
        type: 'string',
        valueName: 'dir',
        description: 'every file of this folder becomes an asset, once, under its base name',
        default: 'dist/release',
      },
      {
        name: 'notes-file',
        type: 'string',
        valueName: 'file',
        description: 'the release notes (the agoric-sdk hand-off)',
        default: '<assets>/agoric-sdk-handoff.md',
      },
      {
        name: 'title',
        type: 'string',
        valueName: 'text',
        description: 'the release title',
        default: 'xsnap-worker <tag>',
      },
      {
        name: 'repo',
        type: 'string',
        valueName: 'owner/name',
        description: 'the repository',
        default: '$GITHUB_REPOSITORY',
      },
      { name: 'dry-run', type: 'boolean', description: 'ask GitHub and print the plan; write nothing' },
    ],
    details: `
Before any write (exit 1, nothing changed): the tag must point at --expect-commit;
no published release may have the tag; at most one draft may have it. The draft
is found in the releases list (GET /repos/{repo}/releases, every page): the
by-tag endpoint does not return drafts. With one draft, its title and notes are
updated and every asset replaced; with none, one is created. Then the releases
are read back: exactly one draft for the tag, with exactly the assets given.
The draft is never marked "Latest" here (a draft cannot be); publish-release.yml
decides that when it publishes.

Environment: GITHUB_TOKEN (contents: write; the releases list shows drafts only
to a token with push access), GITHUB_API_URL (default https://api.github.com).`,
  },
  async (flags) => {
    registerSecret(process.env.GITHUB_TOKEN);
    const tag = stringFlag(flags, 'tag');
    if (!tag) throw new UsageError('--tag vX.Y.Z is required');
    tagVersion(tag);
    const expectCommit = stringFlag(flags, 'expect-commit');
    if (!expectCommit) throw new UsageError("--expect-commit <sha> is required (the tag job's sha output)");
    const repo = stringFlag(flags, 'repo') ?? process.env.GITHUB_REPOSITORY;
    if (!repo) throw new UsageError('--repo owner/name (or $GITHUB_REPOSITORY) is required');
    const assetsDir = stringFlag(flags, 'assets') ?? 'dist/release';
    const api = { repo, apiUrl: process.env.GITHUB_API_URL, token: process.env.GITHUB_TOKEN };
    const plan = await planDraft({
      api,
      tag,
      expectCommit,
      assetsDir,
      notesFile: stringFlag(flags, 'notes-file') ?? `${assetsDir}/agoric-sdk-handoff.md`,
      title: stringFlag(flags, 'title') ?? `xsnap-worker ${tag}`,
    });
    const what =
      plan.action === 'create'
        ? `create a draft release ${tag}`
        : `update the draft release ${tag} (id ${plan.releaseId}; ${plan.replaced.length} asset(s) replaced)`;
    const list = plan.assets.map((a) => `- \`${a.name}\` ${a.size} bytes, sha256 \`${a.sha256}\``).join('\n');
    if (flags['dry-run']) {
      return {
        json: { dryRun: true, plan },
        text: `would ${what} at ${plan.commit} with ${plan.assets.length} assets`,
        summary: `### draft release ${tag} (dry run)\n\nwould ${what} at \`${plan.commit}\`:\n\n${list}`,
      };
    }
    log.step(`${what} at ${plan.commit}`);
    const done = await executeDraft(api, plan);
    return {
      json: { dryRun: false, plan, release: done },
      text: `${plan.action === 'create' ? 'created' : 'updated'} the draft release ${tag} (id ${done.id}) with ${
        plan.assets.length
      } assets${done.url ? `: ${done.url}` : ''}`,
      summary: `### draft release ${tag}\n\n${plan.action === 'create' ? 'created' : 'updated'} [the draft](${done.url ?? ''}) at \`${plan.commit}\`, published by publish-release.yml after the approval and the gate:\n\n${list}`,
    };
  },
);
