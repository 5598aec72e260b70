import { describe, expect, it } from 'vitest';
import { classifyArgv, classifyHttp, classifyShell, classifySql, shellOf } from './index.js';

describe('shell classifier', () => {
  it('lists each program with its argv, through wrappers', () => {
    const f = classifyShell(`sudo -u deploy env A=1 bash -c 'kubectl -n prod delete pod x | tee log'`);
    expect(f.parsed).toBe(true);
    expect(f.programs).toEqual(['sudo', 'env', 'bash', 'kubectl', 'tee']);
    expect(f.invocations.find((i) => i.program === 'kubectl')).toEqual({
      program: 'kubectl',
      args: ['-n', 'prod', 'delete', 'pod', 'x'],
      via: ['sudo', 'env', 'bash -c'],
      dynamic: false,
    });
  });
  it('resolves quoting and escapes the way the shell does', () => {
    expect(classifyShell(`"a b" 'c d' e\\ f $'\\x67'`).invocations[0]).toMatchObject({
      program: 'a b',
      args: ['c d', 'e f', 'g'],
    });
  });
  it('marks expansions as dynamic', () => {
    expect(classifyShell('$CMD run').invocations[0]).toMatchObject({ program: '', dynamic: true });
    expect(classifyShell('rm -rf "$DIR"').invocations[0]).toMatchObject({ program: 'rm', dynamic: true });
  });
  it('reports a parse failure instead of guessing', () => {
    const f = classifyShell('echo "open');
    expect(f.parsed).toBe(false);
    expect(f.error).toMatch(/quote/);
  });
  it('does not parse a command too long to parse quickly', () => {
    expect(classifyShell(`echo ${'a'.repeat(17 * 1024)}`)).toMatchObject({
      parsed: false,
      error: expect.stringMatching(/longer than/),
    });
    expect(classifyArgv(['bash', '-c', `echo ${'a'.repeat(17 * 1024)}`]).parsed).toBe(false);
    expect(classifySql(`select '${'a'.repeat(65 * 1024)}'`)).toMatchObject({
      parsed: false,
      error: expect.stringMatching(/longer than/),
    });
  });

  it('refuses nesting beyond the limit', () => {
    let cmd = 'rm -rf /';
    for (let i = 0; i < 12; i++) cmd = `bash -c ${JSON.stringify(cmd)}`;
    expect(classifyShell(cmd).parsed).toBe(false);
  });
  it('classifies an argv list without a shell', () => {
    expect(classifyArgv(['sudo', 'kubectl', 'delete', 'ns', 'x']).programs).toEqual(['sudo', 'kubectl']);
  });
  it('finds the command in params or MCP tool arguments', () => {
    const base = { type: 'mcp.tools.call', resource: 'r', justification: '' };
    expect(
      shellOf({ ...base, params: { name: 'shell', arguments: { command: 'ls -la' } } })?.programs,
    ).toEqual(['ls']);
    expect(
      shellOf({ ...base, params: { command: 'kubectl', args: ['delete', 'ns', 'x'] } })?.invocations[0]?.args,
    ).toEqual(['delete', 'ns', 'x']);
    expect(shellOf({ ...base, params: {} })).toBeUndefined();
  });
});

describe('SQL classifier', () => {
  it('reports kinds, families and tables of every statement', () => {
    const f = classifySql('select * from a.orders; delete from users where id = 1');
    expect(f).toMatchObject({ parsed: true, statements: 2, unboundedWrite: false, opaque: false });
    expect(f.kinds).toEqual(['select', 'delete']);
    expect(f.families).toEqual(['read', 'write']);
    expect(f.tables).toEqual(['orders', 'a.orders', 'users', 'public.users']);
  });
  it('flags writes without a real WHERE', () => {
    expect(classifySql('update t set x = 1').unboundedWrite).toBe(true);
    expect(classifySql('update t set x = 1 where 2 = 2').unboundedWrite).toBe(true);
    expect(classifySql('update t set x = 1 where id = 2').unboundedWrite).toBe(false);
  });
  it('tells copy directions apart and lists functions', () => {
    expect(classifySql("copy t from '/x'").kinds).toEqual(['copy_from']);
    expect(classifySql('copy t to stdout').kinds).toEqual(['copy_to']);
    expect(classifySql("select pg_catalog.pg_read_file('x')").functions).toEqual([
      'pg_catalog.pg_read_file',
      'pg_read_file',
    ]);
  });
  it('marks code it cannot see into as opaque', () => {
    expect(classifySql('do $$ begin null; end $$').opaque).toBe(true);
  });
  it('reports a parse failure instead of guessing', () => {
    expect(classifySql('delete frm t')).toMatchObject({
      parsed: false,
      error: expect.stringMatching(/syntax error/),
    });
  });
});

describe('HTTP classifier', () => {
  it('normalises host, path and query', () => {
    expect(classifyHttp('post', 'https://API.Example.com./v1/%2e%2e/admin//users/?a=1&a=2')).toEqual({
      parsed: true,
      method: 'POST',
      scheme: 'https',
      host: 'api.example.com',
      port: 443,
      path: '/admin/users',
      query: { a: ['1', '2'] },
    });
  });
  it('decodes double encoding', () => {
    expect(classifyHttp('GET', 'http://h:8080/a/%252e%252e/b').path).toBe('/b');
  });
  it('reports an unparseable URL', () => {
    expect(classifyHttp('GET', 'not a url').parsed).toBe(false);
  });
});
