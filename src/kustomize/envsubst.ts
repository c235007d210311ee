/**
 * Bash-style `${var}` expansion with the grammar of Flux's envsubst (a fork of drone/envsubst), the engine
 * behind `postBuild` substitution. Supported: `${var}`, `${#var}`, `${var^}`, `${var^^}`, `${var,}`, `${var,,}`,
 * `${var:pos}`, `${var:pos:len}`, `${var#glob}`, `${var##glob}`, `${var%glob}`, `${var%%glob}`,
 * `${var/old/new}`, `${var//old/new}`, `${var/#old/new}`, `${var/%old/new}`, and the default forms
 * `${var=d}`, `${var:=d}`, `${var:-d}`, `${var:?d}`, `${var:+d}` (defaults may nest `${…}`; as in Flux, every
 * one of these forms yields the default when the value is empty or unset). `${var-d}` is a syntax error, as in Flux. `$$` outside an expansion is an escape for `$`, so `$${var}` yields the literal
 * `${var}`; a lone `$name` without braces is left untouched.
 */

/** A malformed `${…}` expression or, in strict mode, a variable without value or default. */
export class EnvsubstError extends Error {
  override name = 'EnvsubstError';
}

/** Looks a variable up; `undefined` means unset. */
export type VariableLookup = (name: string) => string | undefined;

type Node = { text: string } | { param: string; fn: string; args: Node[][] };

const DEFAULT_FUNCS = new Set(['=', ':=', ':-', ':?', ':+']);

/** Expands every `${…}` in `input`. In strict mode an unset variable without a default form throws. */
export function envsubst(input: string, lookup: VariableLookup, { strict = false } = {}): string {
  const nodes = new Parser(input).parseTop();
  return evaluate(nodes, lookup, strict);
}

function evaluate(nodes: Node[], lookup: VariableLookup, strict: boolean): string {
  let out = '';
  for (const node of nodes) {
    if ('text' in node) {
      out += node.text;
      continue;
    }
    const args = node.args.map((arg) => evaluate(arg, lookup, strict));
    const value = lookup(node.param);
    if (value === undefined && strict && !DEFAULT_FUNCS.has(node.fn)) {
      throw new EnvsubstError(`variable not set (strict mode): "${node.param}"`);
    }
    out += applyFunc(node.fn, value ?? '', args);
  }
  return out;
}

const isIdentChar = (c: string): boolean => /[\p{L}\p{N}_]/u.test(c);

/** A hand-written recursive-descent parser that follows envsubst's scanner rules, including its escapes. */
class Parser {
  private pos = 0;
  constructor(private readonly src: string) {}

  private peek(offset = 0): string {
    return this.src[this.pos + offset] ?? '';
  }

  private fail(message = 'bad substitution'): never {
    throw new EnvsubstError(`variable substitution failed: ${message}`);
  }

  /** Top level: text with `$$` → `$`, and `${` opening an expansion. */
  parseTop(): Node[] {
    const nodes: Node[] = [];
    let text = '';
    while (this.pos < this.src.length) {
      const c = this.peek();
      if (c === '$' && this.peek(1) === '{') {
        if (text) nodes.push({ text });
        text = '';
        this.pos += 2;
        nodes.push(this.parseFunc());
      } else if (c === '$' && this.peek(1) === '$') {
        text += '$';
        this.pos += 2;
      } else {
        text += c;
        this.pos += 1;
      }
    }
    if (text) nodes.push({ text });
    return nodes;
  }

  private parseFunc(): Node {
    if (this.peek() === '#') {
      this.pos += 1;
      const param = this.readIdent();
      if (!param) this.fail();
      return this.close({ param, fn: '#', args: [] });
    }
    const param = this.readIdent();
    if (!param) this.fail('unable to parse variable name');
    const c = this.peek();
    if (c === '}') {
      this.pos += 1;
      return { param, fn: '', args: [] };
    }
    if (c === ':' && '=-?+'.includes(this.peek(1)) && this.peek(1) !== '') return this.parseDefault(param, 2);
    if (c === '=') return this.parseDefault(param, 1);
    if (c === ':') return this.parseSubstr(param);
    if (c === ',' || c === '^') {
      const fn = c + (this.peek(1) === c ? c : '');
      this.pos += fn.length;
      return this.close({ param, fn, args: [] });
    }
    if (c === '/') return this.parseReplace(param);
    if (c === '#' || c === '%') {
      const fn = c + (this.peek(1) === c ? c : '');
      this.pos += fn.length;
      return this.close({ param, fn, args: [this.parseArg((ch) => ch !== '}', false)] });
    }
    return this.fail('missing closing brace');
  }

  private parseDefault(param: string, width: number): Node {
    const fn = this.src.slice(this.pos, this.pos + width);
    this.pos += width;
    const args: Node[][] = [];
    while (this.peek() !== '}') {
      if (this.pos >= this.src.length) this.fail();
      args.push(this.parseArg((ch) => ch !== '}', false));
    }
    return this.close({ param, fn, args });
  }

  private parseSubstr(param: string): Node {
    this.pos += 1;
    const args = [this.parseArg((ch) => ch !== ':' && ch !== '}', false)];
    if (this.peek() === ':') {
      this.pos += 1;
      args.push(this.parseArg((ch) => ch !== '}', false));
    }
    return this.close({ param, fn: ':', args });
  }

  private parseReplace(param: string): Node {
    this.pos += 1;
    let fn = '/';
    const next = this.peek();
    if (next === '/' || next === '#' || next === '%') {
      fn += next;
      this.pos += 1;
    }
    const args = [this.parseArg((ch) => ch !== '/', true)];
    if (this.peek() !== '/') this.fail();
    this.pos += 1;
    if (this.peek() !== '}') args.push(this.parseArg((ch) => ch !== '}', true));
    return this.close({ param, fn, args });
  }

  /** One argument: literal text (with `\/` and `\\` escapes, and `$$` → `$`) or a nested `${…}`. */
  private parseArg(accept: (c: string) => boolean, backslashEscapes: boolean): Node[] {
    if (this.peek() === '$' && this.peek(1) === '{') {
      this.pos += 2;
      return [this.parseFunc()];
    }
    let text = '';
    while (this.pos < this.src.length) {
      const c = this.peek();
      if (c === '$' && this.peek(1) === '{') break;
      if (c === '$' && this.peek(1) === '$') {
        text += '$';
        this.pos += 2;
        continue;
      }
      if (backslashEscapes && c === '\\' && (this.peek(1) === '/' || this.peek(1) === '\\')) {
        text += this.peek(1);
        this.pos += 2;
        continue;
      }
      if (!accept(c)) break;
      text += c;
      this.pos += 1;
    }
    if (this.pos >= this.src.length) this.fail();
    return [{ text }];
  }

  private readIdent(): string {
    const start = this.pos;
    while (this.pos < this.src.length && isIdentChar(this.peek())) this.pos += 1;
    return this.src.slice(start, this.pos);
  }

  private close(node: Node): Node {
    if (this.peek() !== '}') this.fail();
    this.pos += 1;
    return node;
  }
}

function applyFunc(fn: string, v: string, args: string[]): string {
  const [a = '', b] = args;
  switch (fn) {
    case '':
      return v;
    case '#':
      return args.length === 0 ? String(Buffer.byteLength(v)) : trimPrefix(v, a, false);
    case '##':
      return trimPrefix(v, a, true);
    case '%':
      return trimSuffix(v, a, false);
    case '%%':
      return trimSuffix(v, a, true);
    case ',':
      return v.charAt(0).toLowerCase() + v.slice(1);
    case ',,':
      return v.toLowerCase();
    case '^':
      return v.charAt(0).toUpperCase() + v.slice(1);
    case '^^':
      return v.toUpperCase();
    case ':':
      return substring(v, a, b);
    case '/':
      return v.replace(a, b ?? '');
    case '//':
      return a === '' ? v : v.split(a).join(b ?? '');
    case '/#':
      return b !== undefined && v.startsWith(a) ? b + v.slice(a.length) : v;
    case '/%':
      return b !== undefined && v.endsWith(a) ? v.slice(0, v.length - a.length) + b : v;
    default:
      return v === '' && args.length > 0 ? args.join('') : v;
  }
}

function substring(v: string, posText: string, lenText: string | undefined): string {
  let pos = Number.parseInt(posText, 10);
  if (Number.isNaN(pos)) return v;
  if (pos < 0) pos = Math.max(0, v.length + pos);
  if (lenText === undefined) return pos < v.length ? v.slice(pos) : '';
  const len = Number.parseInt(lenText, 10);
  if (Number.isNaN(len)) return v;
  if (pos + len >= v.length) return pos < v.length ? v.slice(pos) : '';
  return v.slice(pos, pos + len);
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) return /$^/;
      re += `[${glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < glob.length) re += `\\${glob[++i] ?? ''}`;
    else re += c.replace(/[.+^${}()|\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

function trimPrefix(v: string, glob: string, longest: boolean): string {
  const re = globToRegExp(glob);
  let match = -1;
  for (let end = 1; end <= v.length; end++) {
    if (re.test(v.slice(0, end))) {
      match = end;
      if (!longest) break;
    }
  }
  return match > 0 ? v.slice(match) : v;
}

function trimSuffix(v: string, glob: string, longest: boolean): string {
  const re = globToRegExp(glob);
  let match = -1;
  for (let start = v.length - 1; start >= 0; start--) {
    if (re.test(v.slice(start))) {
      match = start;
      if (!longest) break;
    }
  }
  return match >= 0 ? v.slice(0, match) : v;
}
