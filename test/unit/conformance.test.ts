import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  compareIds,
  extractTags,
  extractTests,
  formatEachTitle,
  generate,
  type Inputs,
  OUTPUT_FILE,
  projectRoot,
  readInputs,
  type Statement,
} from '../../scripts/conformance.js';

const REGENERATE = 'run npm run conformance';

describe('conformance matrix', () => {
  const inputs = readInputs(projectRoot);
  const result = generate(inputs);

  it('docs/conformance.md is up to date with the tests and spec/*.json', () => {
    let committed = '';
    try {
      committed = readFileSync(join(projectRoot, OUTPUT_FILE), 'utf8');
    } catch {
      committed = '';
    }
    const a = committed.split('\n');
    const b = result.markdown.split('\n');
    let first = 0;
    while (first < Math.max(a.length, b.length) && a[first] === b[first]) first++;
    const where =
      committed === result.markdown
        ? ''
        : ` (first difference at line ${first + 1}: committed ${JSON.stringify(a[first] ?? '<end of file>')}, generated ${JSON.stringify(b[first] ?? '<end of file>')})`;
    expect(committed === result.markdown, `${OUTPUT_FILE} is out of date: ${REGENERATE}${where}`).toBe(true);
  });

  it('every tag in a test title names a known statement of the version it cites', () => {
    const unknown = result.unknownTags.map((u) => `${u.file}:${u.line}: ${u.tag.raw} (${u.hint}) in '${u.title}'`);
    expect(unknown, `unknown tags: fix them, then ${REGENERATE}`).toEqual([]);
  });

  it('no title carries a malformed tag or cites MQTT 3.1.1 behaviour with plain (5.0) tags', () => {
    const malformed = result.malformedTags.map((m) => `${m.file}:${m.line}: ${m.text} in '${m.title}'`);
    const mismatched = result.versionMismatches.map(
      (v) => `${v.file}:${v.line}: ${v.tags.map((t) => t.raw).join(' ')} in '${v.title}'`,
    );
    expect(malformed, `malformed tags: write [MQTT-x.y.z-n] or [3.1.1 MQTT-x.y.z-n], then ${REGENERATE}`).toEqual([]);
    expect(
      mismatched,
      `titles about MQTT 3.1.1 citing plain (5.0) ids: write [3.1.1 MQTT-x.y.z-n], then ${REGENERATE}`,
    ).toEqual([]);
  });

  it('spec/not-covered.json only gives reasons for server-side statements that exist', () => {
    expect(result.reasonErrors).toEqual([]);
  });
});

describe('statement lists', () => {
  const { statements } = readInputs(projectRoot);
  const v5 = statements['5.0'];
  const v311 = statements['3.1.1'];

  it('have the sizes of the Appendix B lists', () => {
    expect(v5.length).toBe(251);
    expect(v311.length).toBe(141);
    expect(v5.filter((s) => s.party !== 'client').length).toBe(207);
    expect(v311.filter((s) => s.party !== 'client').length).toBe(108);
  });

  const check = (list: Statement[]): void => {
    const ids = list.map((s) => s.id);
    expect(new Set(ids).size, 'ids are unique').toBe(ids.length);
    for (const s of list) {
      expect(s.id).toMatch(/^MQTT-\d+\.\d+\.\d+-\d+$/);
      expect(['server', 'client', 'both']).toContain(s.party);
      expect(s.section.split(/[. ]/)[0], `${s.id} is in its chapter`).toBe(s.id.slice(5).split('.')[0]);
      expect(s.summary.split(/\s+/).length, `${s.id} summary has at most 20 words`).toBeLessThanOrEqual(20);
    }
    for (let i = 1; i < ids.length; i++) {
      expect(compareIds(ids[i - 1] ?? '', ids[i] ?? ''), `${ids[i - 1]} comes before ${ids[i]}`).toBeLessThan(0);
    }
  };

  it('MQTT 5.0: unique ids in specification order, well-formed entries', () => check(v5));
  it('MQTT 3.1.1: unique ids in specification order, well-formed entries', () => check(v311));

  it('contain the statements whose numbering differs between the versions', () => {
    const ids5 = new Set(v5.map((s) => s.id));
    const ids311 = new Set(v311.map((s) => s.id));
    expect(ids5.has('MQTT-3.1.2-30')).toBe(true);
    expect(ids5.has('MQTT-4.2.0-1')).toBe(true);
    expect(ids5.has('MQTT-7.0.0-1')).toBe(false);
    expect(ids311.has('MQTT-1.5.3-1')).toBe(true);
    expect(ids311.has('MQTT-3.1.2-30')).toBe(false);
    expect(ids311.has('MQTT-7.1.1-1')).toBe(true);
  });
});

describe('tag extraction', () => {
  it('reads plain (5.0) and 3.1.1 tags, several per title', () => {
    const { tags, malformed } = extractTags('x [MQTT-3.1.0-1] y [3.1.1 MQTT-3.1.2-24], [MQTT-4.2.0-1]');
    expect(tags.map((t) => `${t.version} ${t.id}`)).toEqual([
      '5.0 MQTT-3.1.0-1',
      '3.1.1 MQTT-3.1.2-24',
      '5.0 MQTT-4.2.0-1',
    ]);
    expect(malformed).toEqual([]);
  });

  it('reports bracketed texts that look like tags but are not in either form', () => {
    const { tags, malformed } = extractTags(
      '[MQTT-3.1.2-4, MQTT-3.1.2-5] [v3.1.1 MQTT-3.1.0-1] [mqtt-3.1.0-1] [see §4.7]',
    );
    expect(tags).toEqual([]);
    expect(malformed).toEqual(['[MQTT-3.1.2-4, MQTT-3.1.2-5]', '[v3.1.1 MQTT-3.1.0-1]', '[mqtt-3.1.0-1]']);
  });
});

describe('test title extraction', () => {
  const source = `
import { describe, expect, it, test } from 'vitest';
// it('in a comment [MQTT-9.9.9-1]', () => {});
/* test("in a block comment", () => {}); */
const re = /it\\('not a test'\\)["'\`]/;
const rows = [
  ['[MQTT-3.3.1-5]', 1],
  ['plain', 2],
] as const;

describe('outer [MQTT-3.1.0-2]', () => {
  it('double "quoted" title', () => { expect(re.test('x')).toBe(false); });
  it("single 'quoted' [MQTT-3.1.2-3]", () => {});
  test(\`template without substitution\`, () => {});
  it('joined ' + 'with plus', () => {});
  describe.skip('skipped', () => {
    it('inner', () => {});
  });
  it.each(rows)('%s has %d', (a, b) => {});
  it.each([{ id: '[MQTT-4.7.2-1]' }, { id: 'none' }])('object $id', ({ id }) => {});
  it.each(imported)('row %s [MQTT-3.3.1-6]', () => {});
  test.todo('later');
  it(\`interpolated \${1 + 1} [MQTT-3.3.1-7]\`, () => {});
});
it.concurrent.skipIf(process.env.CI)('conditional', async () => {});
`;
  const { tests, problems } = extractTests(source, 'test/example.test.ts');

  it('reads titles in every quoting style, under their describes', () => {
    expect(tests.map((t) => t.title)).toEqual([
      'outer [MQTT-3.1.0-2] > double "quoted" title',
      "outer [MQTT-3.1.0-2] > single 'quoted' [MQTT-3.1.2-3]",
      'outer [MQTT-3.1.0-2] > template without substitution',
      'outer [MQTT-3.1.0-2] > joined with plus',
      'outer [MQTT-3.1.0-2] > skipped > inner',
      'outer [MQTT-3.1.0-2] > [MQTT-3.3.1-5] has 1',
      'outer [MQTT-3.1.0-2] > plain has 2',
      "outer [MQTT-3.1.0-2] > object '[MQTT-4.7.2-1]'",
      "outer [MQTT-3.1.0-2] > object 'none'",
      'outer [MQTT-3.1.0-2] > row %s [MQTT-3.3.1-6]',
      'outer [MQTT-3.1.0-2] > later',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: an unreadable title is shown as its source text
      'outer [MQTT-3.1.0-2] > `interpolated ${1 + 1} [MQTT-3.3.1-7]`',
      'conditional',
    ]);
  });

  it('inherits describe tags and modes', () => {
    const byTitle = new Map(tests.map((t) => [t.title.split(' > ').at(-1), t]));
    expect(byTitle.get('[MQTT-3.3.1-5] has 1')?.tags.map((t) => t.id)).toEqual(['MQTT-3.1.0-2', 'MQTT-3.3.1-5']);
    expect(byTitle.get('plain has 2')?.tags.map((t) => t.id)).toEqual(['MQTT-3.1.0-2']);
    expect(byTitle.get('inner')?.mode).toBe('skip');
    expect(byTitle.get('later')?.mode).toBe('todo');
    expect(byTitle.get('conditional')?.mode).toBe('run');
  });

  it('reports what it cannot read exactly, keeping the tags it can see', () => {
    expect(problems.map((p) => p.line)).toEqual([21, 23]);
    expect(problems[0]?.message).toContain('not expanded');
    expect(problems[1]?.message).toContain('not a plain string literal');
    const interpolated = tests.find((t) => t.title.includes('interpolated'));
    expect(interpolated?.tags.map((t) => t.id)).toEqual(['MQTT-3.1.0-2', 'MQTT-3.3.1-7']);
  });

  it('formats parametrised titles like vitest', () => {
    expect(formatEachTitle('%s is %d (%#, %$) 100%%', ['a', 3], 4)).toBe('a is 3 (4, 5) 100%');
    expect(formatEachTitle('$a and $b.c', { a: 'x', b: { c: 1 } }, 0)).toBe("'x' and 1");
  });
});

describe('generator', () => {
  const statement = (id: string, party: Statement['party']): Statement => ({
    id,
    section: `${id.slice(5, 10)} Somewhere`,
    party,
    summary: 'A statement.',
  });
  const base = (files: Inputs['files']): Inputs => ({
    statements: {
      '5.0': [
        statement('MQTT-3.1.0-1', 'client'),
        statement('MQTT-3.1.0-2', 'server'),
        statement('MQTT-3.1.2-1', 'both'),
      ],
      '3.1.1': [statement('MQTT-3.1.0-2', 'server'), statement('MQTT-3.1.2-24', 'server')],
    },
    reasons: { '5.0': { 'MQTT-3.1.2-1': 'a reason' }, '3.1.1': {} },
    files,
  });

  it('counts covered, explained and uncovered server-side statements per version', () => {
    const r = generate(
      base([{ file: 'test/a.test.ts', source: "it('[MQTT-3.1.0-2] x [3.1.1 MQTT-3.1.0-2]', () => {});" }]),
    );
    expect(r.markdown).toContain('| MQTT 5.0 | 3 | 1 | 2 | 1 | 1 | 0 |');
    expect(r.markdown).toContain('| MQTT 3.1.1 | 2 | 0 | 2 | 1 | 0 | 1 |');
    expect(r.markdown).toContain('Not covered: a reason');
    expect(r.markdown).toContain('**not yet covered**');
    expect(r.errors).toEqual([]);
  });

  it('reports unknown tags with a hint, and plain tags in titles about 3.1.1', () => {
    const r = generate(
      base([
        { file: 'test/a.test.ts', source: "it('[MQTT-3.1.2-24] keep alive', () => {});" },
        { file: 'test/b.test.ts', source: "it('[MQTT-3.1.0-2] (3.1.1) second CONNECT', () => {});" },
      ]),
    );
    expect(r.unknownTags.map((u) => u.hint)).toEqual([
      'MQTT-3.1.2-24 exists only in MQTT 3.1.1: write [3.1.1 MQTT-3.1.2-24]',
    ]);
    expect(r.versionMismatches.map((v) => v.file)).toEqual(['test/b.test.ts']);
    expect(r.errors).toHaveLength(2);
  });

  it('makes the committed matrix stale when a tagged test is added', () => {
    const current = generate(readInputs(projectRoot)).markdown;
    expect(generate(inputsWithExtraFile()).markdown).not.toBe(current);
  });
});

function inputsWithExtraFile(): Inputs {
  const inputs = readInputs(projectRoot);
  return {
    ...inputs,
    files: [...inputs.files, { file: 'test/zz-new.test.ts', source: "it('[MQTT-3.12.4-1] a new test', () => {});" }],
  };
}
