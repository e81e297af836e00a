// "What to do next": one wording for the line that ends a message, and one
// way to name a script a user runs.
import t from 'tap';
import { nextStep, scriptHint } from '../../scripts/lib/core/errors.ts';
import { approveCommand } from '../../scripts/lib/publish/staged-publish.ts';

t.test('nextStep and scriptHint', async (t) => {
  t.equal(nextStep('re-run'), '\n    next: re-run');
  t.equal(nextStep('run it', ''), '\nnext: run it');
  t.equal(scriptHint('publish-all.ts'), 'npx tsx scripts/publish-all.ts');
  t.equal(
    scriptHint('publish-all.ts', '--dry-run', '--dist', 'd'),
    'npx tsx scripts/publish-all.ts --dry-run --dist d',
  );
  t.equal(
    approveCommand('http://127.0.0.1:1/', 'local', '1.2.3'),
    'npx tsx scripts/publish-all.ts approve --registry local --otp <code>   # 1.2.3',
  );
});
