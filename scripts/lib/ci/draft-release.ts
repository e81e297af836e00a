// The GitHub Release of a release run, as a draft: created once, and on a
// re-run of the publish job updated in place (notes, title, every asset
// replaced), never made twice. publish-release.yml publishes it after the gate.
// The by-tag endpoint does not return drafts, so an existing draft is found in
// the releases list (tagReleases, paginated), which shows drafts to a token
// with push access: the publish job's (contents: write).
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CheckFailed, OperationError, UsageError, type Failure } from '../core/errors.ts';
import { sha256Hex } from '../core/hash.ts';
import { refCommit, tagReleases, type ReleaseJson } from './release-tag.ts';
import { checkRepo, githubRequest, type GitHubRepoApi } from './github.ts';

export interface DraftAsset {
  name: string;
  path: string;
  size: number;
  sha256: string;
}

export interface DraftPlan {
  repo: string;
  tag: string;
  commit: string;
  /** create a new draft, or update the one draft the tag already has */
  action: 'create' | 'update';
  releaseId?: number;
  /** assets of the existing draft, all deleted before the upload */
  replaced: Array<{ id: number; name: string }>;
  assets: DraftAsset[];
  title: string;
  notesFile: string;
}

/** The files of `dir` (regular files, sorted), each uploaded once under its base name. */
export function draftAssets(dir: string): DraftAsset[] {
  if (!existsSync(dir)) throw new UsageError(`${dir} does not exist: run generate-manifest.ts (and --handoff) first`);
  const files = readdirSync(dir)
    .filter((f) => !f.startsWith('.'))
    .sort()
    .map((f) => join(dir, f));
  const out: DraftAsset[] = [];
  for (const path of files) {
    const st = statSync(path);
    if (!st.isFile()) throw new UsageError(`${path} is not a regular file: a release asset must be one`);
    const bytes = readFileSync(path);
    out.push({ name: basename(path), path, size: st.size, sha256: sha256Hex(bytes) });
  }
  if (!out.length) throw new UsageError(`${dir} is empty: no release assets`);
  return out;
}

/**
 * What the draft step will do, asked of GitHub without writing: the tag still points at `expectCommit` (the commit
 * the run built and verified); no published release has the tag; at most one draft has it (updated), else none
 * (created).
 */
export async function planDraft(opts: {
  api: GitHubRepoApi;
  tag: string;
  expectCommit: string;
  assetsDir: string;
  notesFile: string;
  title: string;
}): Promise<DraftPlan> {
  const { api, tag } = opts;
  checkRepo(api.repo);
  if (!/^[0-9a-f]{40}$/.test(opts.expectCommit))
    throw new UsageError(`--expect-commit "${opts.expectCommit}" is not a 40-hex commit`);
  if (!existsSync(opts.notesFile))
    throw new UsageError(`${opts.notesFile} does not exist: run generate-manifest.ts --handoff first`);
  const assets = draftAssets(opts.assetsDir);
  const failures: Failure[] = [];
  const c = await refCommit(api, `refs/tags/${tag}`, 'release-tag-commit');
  failures.push(...c.failures);
  if (c.sha && c.sha !== opts.expectCommit)
    failures.push({
      check: 'release-tag-commit',
      subject: tag,
      expected: `${opts.expectCommit} (the commit this run built, verified and published)`,
      actual: `${c.sha}: the tag was moved`,
      hint: 'a released tag is never moved: put it back on the commit the run built, or release a new version',
    });
  const releases = await tagReleases(api, tag);
  const published = releases.filter((r) => !r.draft);
  const drafts = releases.filter((r) => r.draft);
  for (const r of published)
    failures.push({
      check: 'release-published',
      subject: `${api.repo} release ${tag} (id ${r.id})`,
      expected: 'no published release (a draft, or none)',
      actual: `published${r.html_url ? `: ${r.html_url}` : ''}`,
      hint: 'a published release is never changed; nothing to draft (see RELEASING.md, "When something fails")',
    });
  if (drafts.length > 1)
    failures.push({
      check: 'one-draft',
      subject: `${api.repo} release ${tag}`,
      expected: 'at most one draft release for the tag',
      actual: `${drafts.length} drafts: ids ${drafts.map((d) => d.id).join(', ')}`,
      hint: 'delete every draft but one on GitHub (Releases), then re-run the publish job',
    });
  if (failures.length) throw new CheckFailed(failures);
  const draft: ReleaseJson | undefined = drafts[0];
  return {
    repo: api.repo,
    tag,
    commit: opts.expectCommit,
    action: draft ? 'update' : 'create',
    ...(draft ? { releaseId: draft.id } : {}),
    replaced: (draft?.assets ?? []).map((a) => ({ id: a.id, name: a.name })),
    assets,
    title: opts.title,
    notesFile: opts.notesFile,
  };
}

const fail = (r: { url: string; status: number; statusText: string }, what: string) =>
  new OperationError(`${r.url} answered ${r.status} ${r.statusText}: could not ${what}`);

/** The upload URL of a release, from its `upload_url` template (`…/assets{?name,label}`). */
export function uploadUrl(release: ReleaseJson, name: string): string {
  if (!release.upload_url) throw new OperationError(`release ${release.id} came without an upload_url`);
  return `${release.upload_url.replace(/\{[^}]*\}$/, '')}?name=${encodeURIComponent(name)}`;
}

/**
 * Carry out a plan: create the draft (or update the existing one's title and notes), delete the existing draft's
 * assets, upload every asset, then read the releases back: exactly one draft for the tag, with exactly these assets.
 */
export async function executeDraft(api: GitHubRepoApi, plan: DraftPlan): Promise<{ id: number; url?: string }> {
  const notes = readFileSync(plan.notesFile, 'utf8');
  const fields = { name: plan.title, body: notes, draft: true };
  let release: ReleaseJson;
  if (plan.action === 'create') {
    const r = await githubRequest(
      api,
      { method: 'POST', path: '/releases', json: { tag_name: plan.tag, ...fields } },
      `create the draft ${plan.tag}`,
    );
    if (r.status !== 201) throw fail(r, `create the draft release ${plan.tag}`);
    release = r.body as ReleaseJson;
  } else {
    const r = await githubRequest(
      api,
      { method: 'PATCH', path: `/releases/${plan.releaseId}`, json: fields },
      `update the draft ${plan.tag}`,
    );
    if (r.status !== 200) throw fail(r, `update the draft release ${plan.tag} (id ${plan.releaseId})`);
    release = r.body as ReleaseJson;
    for (const a of plan.replaced) {
      const d = await githubRequest(
        api,
        { method: 'DELETE', path: `/releases/assets/${a.id}` },
        `delete ${a.name} of the draft`,
      );
      if (d.status !== 204 && d.status !== 404) throw fail(d, `delete asset ${a.name} (id ${a.id}) of the draft`);
    }
  }
  for (const a of plan.assets) {
    const u = await githubRequest(
      api,
      { method: 'POST', url: uploadUrl(release, a.name), data: readFileSync(a.path) },
      `upload ${a.name}`,
    );
    if (u.status !== 201) throw fail(u, `upload ${a.name} to the draft release ${plan.tag}`);
    const got = u.body as { name?: string; size?: number; digest?: string | null };
    const digest = got.digest ?? undefined;
    if (got.name !== a.name || got.size !== a.size || (digest !== undefined && digest !== `sha256:${a.sha256}`))
      throw new CheckFailed([
        {
          check: 'draft-asset',
          subject: `${plan.tag}: ${a.name}`,
          expected: `${a.name}, ${a.size} bytes, sha256:${a.sha256}`,
          actual: `${got.name}, ${got.size} bytes${digest !== undefined ? `, ${digest}` : ''}`,
          hint: 're-run the publish job: the draft is updated in place',
        },
      ]);
  }
  // read back: one draft, with exactly our assets
  const after = await tagReleases(api, plan.tag);
  const drafts = after.filter((r) => r.draft);
  const names = (drafts[0]?.assets ?? []).map((a) => a.name).sort();
  const want = plan.assets.map((a) => a.name).sort();
  if (drafts.length !== 1 || after.length !== 1 || names.join('\n') !== want.join('\n'))
    throw new CheckFailed([
      {
        check: 'draft-readback',
        subject: `${plan.repo} release ${plan.tag}`,
        expected: `one draft with ${want.join(', ')}`,
        actual:
          `${after.length} release(s), ${drafts.length} draft(s)` +
          (drafts.length ? `; assets of ${drafts[0].id}: ${names.join(', ') || 'none'}` : ''),
        hint: 'look at the Releases page; delete extra drafts, then re-run the publish job',
      },
    ]);
  return { id: drafts[0].id, url: drafts[0].html_url };
}
