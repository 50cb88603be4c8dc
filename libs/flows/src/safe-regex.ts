// Rejects regular expressions that can backtrack catastrophically (used for `regex` triggers and CEL `matches`).

/** Longest regular expression source accepted. */
export const MAX_REGEX_LENGTH = 256;
/** Most unbounded quantifiers (`*`, `+`, `{n,}`) accepted in one pattern. */
export const MAX_UNBOUNDED_QUANTIFIERS = 6;

interface Frame {
  quantified: boolean;
  alternation: boolean;
}

/** Returns why `source` is not a safe regular expression, or null if it compiles and has no nested quantifiers/backreferences. */
export function unsafeRegexReason(source: string): string | null {
  if (source.length > MAX_REGEX_LENGTH) return `regular expression is longer than ${MAX_REGEX_LENGTH} characters`;
  try {
    new RegExp(source, 'iu');
  } catch (e) {
    return `invalid regular expression: ${(e as Error).message}`;
  }
  const stack: Frame[] = [{ quantified: false, alternation: false }];
  let unbounded = 0;
  // Reads a quantifier at i; returns [length, kind] where kind 'bounded' is ? or {n}/{0,1}.
  const quantifierAt = (i: number): [number, 'none' | 'optional' | 'repeat', boolean] => {
    const c = source[i];
    let n = 0;
    let kind: 'none' | 'optional' | 'repeat' = 'none';
    let open = false;
    if (c === '*' || c === '+') {
      n = 1;
      kind = 'repeat';
      open = true;
    } else if (c === '?') {
      n = 1;
      kind = 'optional';
    } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
      if (m) {
        n = m[0].length;
        const max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
        open = max === Infinity;
        kind = max <= 1 ? 'optional' : 'repeat';
      }
    }
    if (n > 0 && source[i + n] === '?') n += 1; // lazy
    return [n, kind, open];
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    const top = stack[stack.length - 1];
    if (c === '\\') {
      const d = source[i + 1] ?? '';
      if (/[1-9]/.test(d) || (d === 'k' && source[i + 2] === '<')) return 'backreferences are not allowed';
      i += 1;
      const [n, kind, open] = quantifierAt(i + 1);
      if (kind !== 'none') top.quantified = true;
      if (open) unbounded++;
      i += n;
      continue;
    }
    if (c === '[') {
      let j = i + 1;
      if (source[j] === '^') j++;
      if (source[j] === ']') j++;
      while (j < source.length && source[j] !== ']') j += source[j] === '\\' ? 2 : 1;
      i = j;
      const [n, kind, open] = quantifierAt(i + 1);
      if (kind !== 'none') top.quantified = true;
      if (open) unbounded++;
      i += n;
      continue;
    }
    if (c === '(') {
      stack.push({ quantified: false, alternation: false });
      continue;
    }
    if (c === '|') {
      top.alternation = true;
      continue;
    }
    if (c === ')') {
      const frame = stack.pop() as Frame;
      const parent = stack[stack.length - 1];
      const [n, kind, open] = quantifierAt(i + 1);
      if (kind === 'repeat' && (frame.quantified || frame.alternation)) {
        return 'nested quantifiers (a repeated group that itself repeats or alternates) can backtrack catastrophically';
      }
      if (open) unbounded++;
      parent.quantified = parent.quantified || frame.quantified || kind !== 'none';
      i += n;
      continue;
    }
    const [n, kind, open] = quantifierAt(i + 1);
    if (kind !== 'none') top.quantified = true;
    if (open) unbounded++;
    i += n;
  }
  if (unbounded > MAX_UNBOUNDED_QUANTIFIERS) return `more than ${MAX_UNBOUNDED_QUANTIFIERS} unbounded quantifiers`;
  return null;
}
