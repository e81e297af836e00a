import t from 'tap';
import { parseFlags, helpText, redact, registerSecret, type CommandSpec } from '../../scripts/lib/core/cli.ts';

const spec: CommandSpec = {
  name: 'x.ts',
  summary: 'test',
  usage: 'x.ts',
  options: [
    { name: 'target', type: 'string', description: 't' },
    { name: 'dry-run', type: 'boolean', description: 'd' },
    { name: 'no-cache', type: 'boolean', description: 'n' },
  ],
};

t.test('flags', async (t) => {
  t.same(parseFlags(spec, ['--target', 'a', '--dry-run']), {
    target: 'a',
    'dry-run': true,
    'no-cache': false,
    json: false,
    help: false,
  });
  t.equal(parseFlags(spec, ['--no-cache'])['no-cache'], true);
  t.equal(parseFlags(spec, [])['no-cache'], false);
  t.throws(() => parseFlags(spec, ['--bogus']), /unknown argument --bogus/);
  t.throws(() => parseFlags(spec, ['extra']), /unknown argument extra/);
  t.throws(() => parseFlags(spec, ['--target', 'a', '--target', 'b']), /more than once/);
  t.throws(() => parseFlags(spec, ['--target']), /needs a value/);
  t.equal(parseFlags(spec, [])['target'], undefined, 'an option not given is undefined (its default applies)');
  // issue 10 item 9: an empty value is never the default (--registry= meant the public registry)
  for (const argv of [['--target='], ['--target', ''], ['--target=', '--dry-run']]) {
    t.throws(() => parseFlags(spec, argv), /--target needs a value/, `${JSON.stringify(argv)} is a usage error`);
  }
  t.match(helpText(spec), /--no-cache/);
  t.match(helpText(spec), /--json/);
});

t.test('secrets are redacted', async (t) => {
  registerSecret('s3cr3t-token-value');
  t.equal(redact('auth=s3cr3t-token-value;'), 'auth=***;');
});
