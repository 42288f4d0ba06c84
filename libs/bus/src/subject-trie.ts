/**
 * Subscriptions indexed by subject pattern, matched the way a NATS server does: `*` matches
 * one token, `>` one or more trailing tokens. Lookup costs the number of tokens (times the
 * wildcard branches), not the number of subscriptions, which matters when a gateway holds one
 * subscription per room with local members. Empty branches are pruned on removal so rooms
 * that come and go leave nothing behind.
 */
class TrieNode<T> {
  readonly children = new Map<string, TrieNode<T>>();
  readonly values = new Set<T>();
}

export class SubjectTrie<T> {
  private readonly root = new TrieNode<T>();

  add(pattern: string, value: T): void {
    let node = this.root;
    for (const token of pattern.split('.')) {
      let child = node.children.get(token);
      if (!child) {
        child = new TrieNode<T>();
        node.children.set(token, child);
      }
      node = child;
    }
    node.values.add(value);
  }

  remove(pattern: string, value: T): void {
    const tokens = pattern.split('.');
    const path: TrieNode<T>[] = [this.root];
    let node = this.root;
    for (const token of tokens) {
      const child = node.children.get(token);
      if (!child) return;
      path.push(child);
      node = child;
    }
    node.values.delete(value);
    for (let depth = tokens.length; depth > 0; depth--) {
      const current = path[depth]!;
      if (current.values.size > 0 || current.children.size > 0) break;
      path[depth - 1]!.children.delete(tokens[depth - 1]!);
    }
  }

  /** Values whose pattern matches the literal `subject`, each once. */
  match(subject: string): T[] {
    const out: T[] = [];
    collect(this.root, subject.split('.'), 0, out);
    return out;
  }
}

function collect<T>(node: TrieNode<T>, tokens: readonly string[], index: number, out: T[]): void {
  if (index === tokens.length) {
    for (const value of node.values) out.push(value);
    return;
  }
  // Literal tokens never equal '*' or '>' (subjects are validated), so one map holds all three.
  const literal = node.children.get(tokens[index]!);
  if (literal) collect(literal, tokens, index + 1, out);
  const star = node.children.get('*');
  if (star) collect(star, tokens, index + 1, out);
  const rest = node.children.get('>');
  if (rest) for (const value of rest.values) out.push(value);
}
